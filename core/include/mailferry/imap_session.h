/*
 * IMAP commands and session (layers 2 and 3 of the engine, STYLE.md).
 *
 * A struct mf_imap_session owns one logged-in connection
 * (mailferry/imap_conn.h) and one response parser (mailferry/imap_parser.h).
 * It tags commands ("mf1", "mf2", ...: never curl's "A001"), pipelines them
 * and matches the tagged answers.
 *
 * Two tiers (STYLE.md): this header is the session's public API, for the
 * store (core/src/migrate), the plan, preflight and the programs; the
 * session's internals (its struct, mf__imap_session_*) are in
 * core/src/imap/session_int.h, the connection's byte I/O
 * (mf__imap_conn_*) in core/src/imap/conn.h, both for core/src/imap and
 * its tests only.
 *
 * Commands. A command is built in a struct mf_imap_cmd_spec: a list of
 * segments, each protocol text, literal bytes (copied) or a body source (a
 * callback that produces the literal's bytes while it is sent, in bounded
 * memory, for APPEND of big messages). The session writes the tag, the
 * literal headers and the final CRLF itself, choosing {n+} (LITERAL+, or
 * LITERAL- for n <= 4096, RFC 7888) or a synchronizing {n} after which it
 * sends nothing more, of this command or any later one, until the server's
 * "+" arrives (RFC 3501 section 7.5; the pipelining rule of isync's
 * drv_imap.c).
 *
 * Pipelining. Submitted commands queue up; up to `window` of them are in
 * flight (their first byte staged, their tagged answer not yet read).
 * mf_imap_session_run()/mf_imap_session_wait() drive the I/O: they send
 * what the rules allow while reading whatever arrives (never blocking on a
 * send, so big literals and big FETCH answers can cross), feed the parser,
 * dispatch untagged responses to handlers registered by keyword and
 * complete commands. Memory stays bounded: body sources are read a piece
 * at a time as the socket takes the bytes.
 *
 * Async contract (STYLE.md): a done callback runs exactly once, with the
 * tagged status, or with an error when the session breaks (BYE,
 * disconnect, timeout, a malformed response), is aborted or is freed
 * (MF_E_CANCELLED).
 * If submit fails, the callback never runs. Callbacks run from inside
 * run()/wait()/free(); they may submit commands but must not call run(),
 * wait() or free() on the same session.
 *
 * Errors. A tagged NO or BAD fails that command only, with a code chosen
 * from the resp-code and text (see mf_imap_status_to_error() in
 * core/src/imap/cmd.c for the table) and detail keeping the server's words.
 * Errors of class RECONNECT (BYE, disconnect, timeout, parse errors) break the
 * session: state BROKEN, every pending command fails with that error, and
 * later submits fail. A server-suggested backoff ("try again in 30
 * seconds") is parsed into retry_after_ms.
 *
 * Deadlines. A server must not hold a connection forever, neither by
 * trickling bytes (each one resets a no-progress timeout) nor by flooding
 * untagged responses (each one is progress too). So the oldest command in
 * flight has a deadline: command_timeout_ms from when it became the
 * oldest, plus one second per min_rate bytes of its own literals and of
 * everything read or written meanwhile (a big APPEND or FETCH going at
 * least at min_rate never runs out). Past it the session breaks with
 * MF_E_SERVER_TOO_SLOW. Untagged responses between two tagged answers
 * have a budget: untagged_budget plus twice the selected mailbox's
 * EXISTS (a UID FETCH 1:* legitimately answers once per message); past
 * it the session breaks with MF_E_SERVER_FLOOD. Both are of class
 * RECONNECT: the normal attempt rules apply.
 *
 * Ownership: the session owns the connection and the parser. Everything a
 * callback receives (responses, arguments, results) is borrowed for the
 * duration of the call.
 */
#ifndef MAILFERRY_IMAP_SESSION_H
#define MAILFERRY_IMAP_SESSION_H

#include "mailferry/err.h"
#include "mailferry/imap_conn.h"
#include "mailferry/imap_parser.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Command specs                                                       */
/* ------------------------------------------------------------------ */

/* Produces the bytes of a literal while the command is being sent. read
 * fills at most cap bytes into buf and sets *n_r (> 0 unless the literal is
 * complete); the session calls it until size bytes came. A non-OK return,
 * or too few bytes, breaks the session: a literal cannot be abandoned
 * halfway (the command's callback and all others get that code).
 * release (optional) runs exactly once when the session no longer needs
 * the source, if submit succeeded, and never after the command's done
 * callback. read is never called after the done callback either: a
 * server that answers before it has the whole literal (a NO [OVERQUOTA]
 * to the literal's header, as Dovecot sends) still reads the rest, so the
 * rest is sent and the callback runs once the command is out; the owner
 * of ud may free it in the callback. */
struct mf_imap_body_source {
    uint64_t size;
    mf_err (*read)(void *ud, uint8_t *buf, size_t cap, size_t *n_r);
    void (*release)(void *ud);
    void *ud;
};

enum mf_imap_seg_kind {
    MF_IMAP_SEG_TEXT = 1, /* protocol text: no CR, LF or NUL */
    MF_IMAP_SEG_LITERAL,  /* literal bytes held in the spec */
    MF_IMAP_SEG_SOURCE,   /* literal bytes from a body source */
};

struct mf_imap_seg {
    enum mf_imap_seg_kind kind;
    size_t off, len;                   /* TEXT, LITERAL: range in bytes */
    struct mf_imap_body_source source; /* SOURCE (borrowed) */
};

/* A command without tag and final CRLF: "SELECT INBOX", or "APPEND INBOX
 * (\Seen) " + literal. Owned by the caller, who may reuse or clear it
 * right after submit (the session copies what it needs). Zero
 * initialisation ({0}) is a valid empty spec. */
struct mf_imap_cmd_spec {
    struct mf_buf bytes;      /* owned: text and literal bytes */
    struct mf_imap_seg *segs; /* owned */
    size_t nsegs, cap;
};

/* Appends protocol text (no CR, LF or NUL: asserted). */
void mf_imap_cmd_text(struct mf_imap_cmd_spec *c, const char *text);
void mf_imap_cmd_textf(struct mf_imap_cmd_spec *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes, no NUL) as an astring: atom or quoted string when
 * possible (mf_imap_quote_astring()), else a literal. For mailbox names,
 * UTF-8 or already encoded in modified UTF-7: the bytes are sent as they
 * are. */
void mf_imap_cmd_astring(struct mf_imap_cmd_spec *c, const uint8_t *s,
                         size_t n);
/* Appends a literal of n bytes (copied). */
void mf_imap_cmd_literal(struct mf_imap_cmd_spec *c, const uint8_t *data,
                         size_t n);
/* Appends a literal whose bytes come from src (copied; src->ud borrowed). */
void mf_imap_cmd_source(struct mf_imap_cmd_spec *c,
                        const struct mf_imap_body_source *src);
/* Frees the spec's storage; it is empty and reusable afterwards. */
void mf_imap_cmd_clear(struct mf_imap_cmd_spec *c);

/* ------------------------------------------------------------------ */
/* Results and errors                                                  */
/* ------------------------------------------------------------------ */

/* How a command ended. Borrowed during the done callback. */
struct mf_imap_result {
    /* MF_E_OK for a tagged OK; the mapped code for NO/BAD; the session's
     * error when it broke. detail: "NO [UNAVAILABLE] Try again in 30
     * seconds" (status, code, server text) or the local reason. */
    struct mf_error error;
    enum mf_imap_status status; /* NONE when no tagged answer came */
    char resp_code[32];         /* "TRYCREATE", "" when none */
    uint32_t retry_after_ms;    /* server-suggested backoff, 0 if none */
    /* The tagged response (its resp-code args: APPENDUID, COPYUID), or
     * NULL when the session broke; valid during the callback only. */
    const struct mf_imap_response *tagged;
};

/* Maps a tagged or untagged status response to an error (MF_E_OK for OK
 * and PREAUTH), filling res (error, status, resp_code, retry_after_ms;
 * tagged is set to r). Exposed for tests and for the store layer. */
mf_err mf_imap_status_to_error(const struct mf_imap_response *r,
                               struct mf_imap_result *res);
/* Parses a server-suggested backoff from free text ("try again in 30
 * seconds", "retry after 2 minutes", "please wait 10s"), in
 * milliseconds, capped at one day; 0 when there is none. */
uint32_t mf_imap_parse_retry_after(const char *text, size_t len);

/* ------------------------------------------------------------------ */
/* Session                                                             */
/* ------------------------------------------------------------------ */

enum mf_imap_state {
    MF_IMAP_STATE_NOT_AUTHENTICATED = 1,
    MF_IMAP_STATE_AUTHENTICATED,
    MF_IMAP_STATE_SELECTED,
    MF_IMAP_STATE_LOGOUT,
    MF_IMAP_STATE_BROKEN,
};
const char *mf_imap_state_name(enum mf_imap_state st);

/* Capabilities (post-login, from our own CAPABILITY). */
#define MF_IMAP_CAP_TABLE(XX)                                                  \
    XX(IMAP4REV1, "IMAP4REV1")                                                 \
    XX(LITERAL_PLUS, "LITERAL+")                                               \
    XX(LITERAL_MINUS, "LITERAL-")                                              \
    XX(UIDPLUS, "UIDPLUS")                                                     \
    XX(MULTIAPPEND, "MULTIAPPEND")                                             \
    XX(SPECIAL_USE, "SPECIAL-USE")                                             \
    XX(APPENDLIMIT, "APPENDLIMIT")                                             \
    XX(NAMESPACE, "NAMESPACE")                                                 \
    XX(STATUS_SIZE, "STATUS=SIZE")                                             \
    XX(ID, "ID")                                                               \
    XX(CONDSTORE, "CONDSTORE")                                                 \
    XX(ENABLE, "ENABLE")                                                       \
    XX(LIST_EXTENDED, "LIST-EXTENDED")                                         \
    XX(LIST_STATUS, "LIST-STATUS")                                             \
    XX(MOVE, "MOVE")                                                           \
    XX(IDLE, "IDLE")                                                           \
    XX(UTF8_ACCEPT, "UTF8=ACCEPT")                                             \
    XX(COMPRESS, "COMPRESS=DEFLATE")                                           \
    XX(QUOTA, "QUOTA")                                                         \
    XX(QRESYNC, "QRESYNC")                                                     \
    XX(GMAIL_EXT, "X-GM-EXT-1")

enum mf_imap_cap_bit {
#define XX(name, str) MF_IMAP_CAPBIT_##name,
    MF_IMAP_CAP_TABLE(XX)
#undef XX
};
#define XX(name, str) MF_IMAP_CAP_##name = 1u << MF_IMAP_CAPBIT_##name,
enum mf_imap_cap { MF_IMAP_CAP_TABLE(XX) };
#undef XX

/* Parses capability atoms into a bitmask; *appendlimit_r gets the value
 * of APPENDLIMIT=n (0 when absent or without a value). */
uint32_t mf_imap_caps_parse(const struct mf_imap_arg *args, size_t n,
                            uint64_t *appendlimit_r);

/* The defaults of the deadline options below. */
#define MF_IMAP_COMMAND_TIMEOUT_MS 300000L
#define MF_IMAP_MIN_RATE ((uint64_t)64 * 1024)
#define MF_IMAP_UNTAGGED_BUDGET ((uint64_t)250000)

struct mf_imap_session_options {
    unsigned window; /* commands in flight; 0: 32 */
    long timeout_ms; /* no answer this long breaks the session; 0: 120 s */
    const struct mf_imap_parser_limits *limits; /* NULL: defaults */
    /* The oldest command's deadline (see "Deadlines" above); 0: 300 s. */
    long command_timeout_ms;
    uint64_t min_rate;        /* bytes per second; 0: 64 KiB/s */
    uint64_t untagged_budget; /* 0: MF_IMAP_UNTAGGED_BUDGET */
};

struct mf_imap_session;

typedef void (*mf_imap_done_cb)(void *ud, const struct mf_imap_result *res);
/* Untagged handler. A non-OK return breaks the session with that code
 * (the response is lost, so nothing can go on consistently). */
typedef mf_err (*mf_imap_untagged_cb)(void *ud,
                                      const struct mf_imap_response *r);
/* Protocol trace: sent true for our lines, false for the server's; line
 * without CRLF, not NUL-terminated. Credentials are masked and literals
 * shown by size only. */
typedef void (*mf_imap_trace_cb)(void *ud, bool sent, const char *line,
                                 size_t len);

/* Connects and logs in (core/src/imap/conn.c), then as
 * mf_imap_session_new_on_conn(). opts may be NULL. On failure err has the
 * code and detail and *retry_after_ms_r (may be NULL) any server-suggested
 * backoff. */
MF_WARN_UNUSED mf_err mf_imap_session_open(
    const struct mf_imap_conn_options *conn_opts,
    const struct mf_imap_login *login,
    const struct mf_imap_session_options *opts, struct mf_imap_session **s_r,
    struct mf_error *err, uint32_t *retry_after_ms_r);

/* Wraps a logged-in connection (taken over: freed on failure too) and
 * asks for the post-login CAPABILITY. On success the session is in state
 * AUTHENTICATED. */
MF_WARN_UNUSED mf_err mf_imap_session_new_on_conn(
    struct mf_imap_conn *conn, const struct mf_imap_session_options *opts,
    struct mf_imap_session **s_r, struct mf_error *err,
    uint32_t *retry_after_ms_r);

/* Fails every pending command with MF_E_CANCELLED (callbacks run), closes
 * the connection without LOGOUT and frees s; accepts NULL; sets *s to
 * NULL. */
void mf_imap_session_free(struct mf_imap_session **s);

/* Cancels every command not answered yet, for a caller about to free
 * what their callbacks or body sources use: their callbacks run now, with
 * MF_E_CANCELLED (why in the detail), their body sources are released and
 * never read again. Commands not started are dropped. Commands sent
 * whole stay on the wire, their answers ignored when they come. A
 * command half sent (a literal half written, or waiting for "+") cannot
 * be finished without its source, so the session then breaks
 * (MF_E_CANCELLED) and the connection is unusable. Must not be called
 * from a callback. */
void mf_imap_session_abort(struct mf_imap_session *s, const char *why);

/* The one call that may come from another thread than the session's
 * owner: shuts the socket down (shutdown(2) is thread safe), so the
 * owner's poll and recv return at once with a hang-up, which the session
 * reports as a dropped connection. For a job that must stop now. */
void mf_imap_session_interrupt(struct mf_imap_session *s);

/* Gates every send on gate(ud) (NULL: none): when it returns false the
 * connection is shut down and the send fails with MF_E_FENCED, so not one
 * more byte reaches the server (a job that lost its claim). */
void mf_imap_session_set_send_gate(struct mf_imap_session *s,
                                   bool (*gate)(void *ud), void *ud);

enum mf_imap_state mf_imap_session_state(const struct mf_imap_session *s);
uint32_t mf_imap_session_caps(const struct mf_imap_session *s);
bool mf_imap_session_has(const struct mf_imap_session *s, uint32_t cap);
/* APPENDLIMIT=n, or 0 when the server gave no value. */
uint64_t mf_imap_session_appendlimit(const struct mf_imap_session *s);
/* The error that broke the session (code MF_E_OK while healthy), and the
 * backoff the server suggested with it. */
const struct mf_error *mf_imap_session_error(const struct mf_imap_session *s);
uint32_t mf_imap_session_retry_after_ms(const struct mf_imap_session *s);
/* How the last command run by a synchronous helper below ended (tagged
 * is NULL). */
const struct mf_imap_result *
mf_imap_session_last(const struct mf_imap_session *s);

/* Registers cb for untagged responses with this keyword ("FETCH",
 * "EXISTS", "EXPUNGE", "LIST", "STATUS", "SEARCH", "FLAGS", "CAPABILITY",
 * "OK", "NO", "BAD", "BYE", ...), replacing any earlier one; cb NULL
 * removes it. The session's own bookkeeping (capabilities, EXISTS,
 * UIDVALIDITY...) happens first in any case. */
void mf_imap_session_on_untagged(struct mf_imap_session *s, const char *keyword,
                                 mf_imap_untagged_cb cb, void *ud);
/* A handler in place for one operation: push installs cb for keyword and
 * keeps what was there in *prev_r (caller's storage); pop puts that back
 * (or removes the handler when there was none). Pushes and pops nest, as
 * a stack: pop in the reverse order. keyword is borrowed until the pop. */
struct mf_imap_untagged_prev {
    const char *keyword;
    mf_imap_untagged_cb cb; /* NULL: there was none */
    void *ud;
};
void mf_imap_session_push_untagged(struct mf_imap_session *s,
                                   const char *keyword, mf_imap_untagged_cb cb,
                                   void *ud,
                                   struct mf_imap_untagged_prev *prev_r);
void mf_imap_session_pop_untagged(struct mf_imap_session *s,
                                  const struct mf_imap_untagged_prev *prev);
/* Streams literals larger than the limits' stream_threshold to these
 * callbacks (see mailferry/imap_parser.h): all three or none; NULL removes. */
void mf_imap_session_set_literal_sink(struct mf_imap_session *s,
                                      mf_imap_literal_begin_cb begin,
                                      mf_imap_literal_data_cb data,
                                      mf_imap_literal_end_cb end, void *ud);
void mf_imap_session_set_trace(struct mf_imap_session *s, mf_imap_trace_cb cb,
                               void *ud);

/* Queues a command. On success *id_r (may be NULL) identifies it for
 * mf_imap_session_wait() and cb will run exactly once. Fails, without
 * calling cb, with the session's error when it is broken, MF_E_STATE after
 * LOGOUT, MF_E_INVALID_ARGUMENT for an empty spec. */
MF_WARN_UNUSED mf_err mf_imap_session_submit(
    struct mf_imap_session *s, const struct mf_imap_cmd_spec *spec,
    mf_imap_done_cb cb, void *ud, uint32_t *id_r);

/* Drives I/O until every submitted command has completed: reads and
 * writes at the same time, never blocking in one direction
 * (core/src/imap/conn.h). timeout_ms bounds how long the connection may make no
 * progress at all, nothing read and nothing written (-1: the session's
 * timeout); when it passes the session breaks with MF_E_TIMEOUT. Returns
 * MF_E_OK, or the error that broke the session. When it returns, bytes of later
 * commands may still be staged; the next run() or wait() sends them. */
MF_WARN_UNUSED mf_err mf_imap_session_run(struct mf_imap_session *s,
                                          long timeout_ms);
/* Like mf_imap_session_run(), until command id has completed. */
MF_WARN_UNUSED mf_err mf_imap_session_wait(struct mf_imap_session *s,
                                           uint32_t id, long timeout_ms);
/* Sends what the pipelining rules let go now, as far as the socket takes
 * it without blocking, and returns without reading or waiting: for a
 * command submitted ahead of a later run() or wait() (a SELECT whose round
 * trip should overlap work elsewhere). Returns MF_E_OK, or the error that
 * broke the session (a send that failed; callbacks may then run, as in
 * run()). */
MF_WARN_UNUSED mf_err mf_imap_session_send(struct mf_imap_session *s);
/* Commands submitted and not yet completed. */
size_t mf_imap_session_pending(const struct mf_imap_session *s);

/* ------------------------------------------------------------------ */
/* Synchronous helpers (session_ops.c)                                 */
/* ------------------------------------------------------------------ */
/* Each submits one command and waits for it, returning its code; the full
 * result is in mf_imap_session_last(). Mailbox names are bytes sent as
 * given (see mf_imap_cmd_astring()). */

/* What SELECT/EXAMINE reported (RFC 3501 section 6.3.1, RFC 7162). */
struct mf_imap_mailbox_info {
    uint32_t exists;
    uint32_t uidvalidity; /* 0 when the server sent none */
    uint32_t uidnext;     /* 0 when the server sent none */
    uint64_t highestmodseq;
    bool read_only;
    char flags[512];           /* "(\Answered \Seen $Forwarded)", as sent */
    char permanent_flags[512]; /* "(\Seen \*)", "" when not sent */
};

MF_WARN_UNUSED mf_err
mf_imap_session_select(struct mf_imap_session *s, const char *mailbox,
                       bool readonly, struct mf_imap_mailbox_info *info_r);
/* What the last SELECT or EXAMINE sent and the untagged responses since
 * reported (reset when a SELECT or EXAMINE goes out): for one submitted
 * without waiting, read in its done callback. Borrowed from s. */
const struct mf_imap_mailbox_info *
mf_imap_session_mailbox(const struct mf_imap_session *s);

/* What STATUS reported (session_status.c): each item 0 when the server
 * did not send it. */
struct mf_imap_status_info {
    uint32_t messages;
    uint32_t uidnext;
    uint32_t uidvalidity;
    uint64_t highestmodseq;
};
/* STATUS mailbox (MESSAGES UIDNEXT UIDVALIDITY [HIGHESTMODSEQ]), the last
 * item only when the server has CONDSTORE (RFC 7162 section 3.1.3). Only
 * the answer about this mailbox counts. */
MF_WARN_UNUSED mf_err
mf_imap_session_status(struct mf_imap_session *s, const char *mailbox,
                       struct mf_imap_status_info *info_r);
/* STATUS of the n mailboxes names, pipelined (one round trip for all):
 * infos[i] and errs[i] are names[i]'s answer (errs[i].code MF_E_OK: the
 * server answered OK and said STATUS about it; otherwise its NO or BAD,
 * and infos[i] is zero). Returns MF_E_OK once every answer came, whatever
 * it said, else the error that broke the session. */
MF_WARN_UNUSED mf_err mf_imap_session_status_many(
    struct mf_imap_session *s, const char *const *names, size_t n,
    struct mf_imap_status_info *infos, struct mf_error *errs);
/* Parses the data of an untagged STATUS response (r->args: mailbox and the
 * list of items) into *info_r (items it does not have are left as they
 * are) when the mailbox is name. Returns false when the response is about
 * another mailbox or malformed. No I/O: for tests as for the session. */
bool mf_imap_status_parse(const struct mf_imap_response *r, const char *name,
                          struct mf_imap_status_info *info_r);

/* One LIST reply; borrowed during the callback. */
struct mf_imap_list_entry {
    /* The attribute atoms as sent (RFC 3501, RFC 5258, RFC 6154). Their
     * meaning is folder policy: the one table of names and bits is
     * folders/'s (mf_folder_attr_parse()). */
    const struct mf_imap_arg *raw;
    size_t nraw;
    char delimiter;      /* 0 for NIL (flat namespace) */
    const uint8_t *name; /* as sent (modified UTF-7) */
    size_t name_len;
};
/* cb returns MF_E_OK to go on; any other code breaks the session. */
typedef mf_err (*mf_imap_list_cb)(void *ud, const struct mf_imap_list_entry *e);

/* LIST ref pattern [RETURN (return_opts)]; return_opts ("SPECIAL-USE
 * SUBSCRIBED") is sent only when the server has LIST-EXTENDED and it is
 * not NULL. */
MF_WARN_UNUSED mf_err mf_imap_session_list(struct mf_imap_session *s,
                                           const char *ref, const char *pattern,
                                           const char *return_opts,
                                           mf_imap_list_cb cb, void *ud);
MF_WARN_UNUSED mf_err mf_imap_session_create(struct mf_imap_session *s,
                                             const char *mailbox);
MF_WARN_UNUSED mf_err mf_imap_session_subscribe(struct mf_imap_session *s,
                                                const char *mailbox);
MF_WARN_UNUSED mf_err mf_imap_session_noop(struct mf_imap_session *s);
/* Refreshes the capabilities (after ENABLE, say). */
MF_WARN_UNUSED mf_err mf_imap_session_capability(struct mf_imap_session *s);
/* LOGOUT; the session is in state LOGOUT afterwards whatever the answer
 * (a server that just closes the connection is fine). */
MF_WARN_UNUSED mf_err mf_imap_session_logout(struct mf_imap_session *s);

#endif
