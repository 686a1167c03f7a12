/*
 * A scripted fake IMAP server for transcript tests (STYLE.md "Tests").
 *
 * mf_fakeimap_start() makes a socketpair, returns one end for the client
 * (wrap it with mf__imap_conn_from_fd()) and plays a script on the other
 * end in its own thread. The script is text, one step per line:
 *
 *   S: text        send text + CRLF
 *   S+: text       send text without CRLF (a partial response)
 *   C: text        the client must send exactly this line (CRLF not
 *                  written); "C:" alone expects an empty line (the CRLF
 *                  that ends a command after a literal)
 *   C+: text       the client must send exactly these bytes, no CRLF added
 *                  (literal data)
 *   C*: n text     the client must send n bytes made of text repeated
 *   QUIET ms       the client must send nothing for ms milliseconds
 *   SLEEP ms       pause
 *   TIMEOUT ms     how long later C:/C+: steps wait (default 3000)
 *   S*: n text     send n bytes made of text repeated (no CRLF), without
 *                  reading anything meanwhile: a server busy writing a big
 *                  response while the client may be writing too
 *   FILL n text    like S*:, but the client may hang up meanwhile
 *                  (hostile-server tests)
 *   CLOSE          close the connection and end the script
 *   # ...          comment; blank lines are ignored
 *
 * In S:, S+:, C: and C+: text, "\r", "\n" and "\xHH" are escapes (so
 * "{5}\r\nhello" sends a literal), and "$1".."$99" are tag variables: in a
 * C: line an unbound variable matches the client's token there (letters
 * and digits) and binds it; everywhere else it is replaced by its value.
 * Thus "C: $1 SELECT INBOX" ... "S: $1 OK done".
 *
 * When the script ends (without CLOSE) the fake waits for the client to
 * close its end; bytes arriving meanwhile are a mismatch. The first
 * mismatch is recorded with the step's line number, the fake then closes
 * the connection (so the client sees a disconnect, never a hang), and
 * mf_fakeimap_finish() returns the message.
 */
#ifndef MF_FAKEIMAP_H
#define MF_FAKEIMAP_H

#include "mailferry/imap_session.h"

struct mf_fakeimap;

/* Starts playing script (copied) on a new socketpair; *client_fd_r is the
 * client's end, owned by the caller. Aborts the test program if the
 * socketpair or thread cannot be made. */
struct mf_fakeimap *mf_fakeimap_start(const char *script, int *client_fd_r);

/* Waits for the script to end and returns NULL when the client followed
 * it, else a description of the first mismatch (owned by f). Close (or
 * free the session that owns) the client end first, unless the script
 * ends with CLOSE. Idempotent. */
const char *mf_fakeimap_finish(struct mf_fakeimap *f);

/* Everything the client sent, NUL-terminated (owned by f); after finish. */
const char *mf_fakeimap_received(struct mf_fakeimap *f);

/* Finishes if needed and frees; accepts NULL; sets *f to NULL. */
void mf_fakeimap_free(struct mf_fakeimap **f);

/* Submits the command text (mf_imap_cmd_text()) on the session under
 * test: mf_imap_session_submit()'s result, cb and *id_r as there. */
mf_err mf_fakeimap_submit_text(struct mf_imap_session *s, const char *text,
                               mf_imap_done_cb cb, void *ud, uint32_t *id_r);

#endif
