/*
 * Message fingerprints: how a retry recognises messages that are already
 * on the target (docs/design.md section 8, "Exactly once").
 *
 * After a crash between an APPEND and the checkpoint update, the engine
 * cannot tell from the checkpoint alone whether the messages above it were
 * copied. Where the target has UIDPLUS, the APPENDUIDs recorded so far
 * answer that; otherwise (and as a cross-check) the engine compares
 * fingerprints: SHA-256 over a canonical string of the Message-ID, the
 * RFC822.SIZE and the INTERNALDATE.
 *
 * The module has three parts, none of which does I/O:
 *
 *  1. A header scanner (struct mf_header_scan) that is fed the first bytes
 *     of a message in chunks of any size and picks Message-ID, Subject,
 *     Date and From out of the RFC 5322 header section. The same scanner
 *     reads the BODY[HEADER.FIELDS (MESSAGE-ID)] literal that a target
 *     returns, so that both sides see a Message-ID the same way.
 *  2. The fingerprint (struct mf_fingerprint) and its canonical form.
 *  3. A multiset of fingerprints (struct mf_fingerprint_set).
 *
 * Matching is a multiset, not a set. A Message-ID may be missing or may be
 * shared by different messages, and a message that is really in the source
 * twice must arrive twice. The engine loads the target folder's
 * fingerprints (UID FETCH of RFC822.SIZE, INTERNALDATE and
 * BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]) with one add() per target message,
 * then, for each source message above the checkpoint, calls take(): true
 * means "one copy of this is already there: skip", false means "copy it".
 * Each target message answers for at most one source message. So a message
 * that is twice in the source and once on the target (the crash came after
 * the first APPEND) makes one take() succeed and the other fail, and the
 * second copy is made; twice in the source and twice on the target, both
 * takes succeed and nothing is copied again. A set (present or not) would
 * have skipped the second copy and lost it.
 *
 * Comparing dates: some targets do not keep the INTERNALDATE's zone (Dovecot
 * maildir stores the instant in the file's mtime and reports it in the
 * server's zone), so the fingerprint uses the instant, as Unix seconds UTC,
 * never the wall-clock text.
 *
 * Comparing sizes: some targets change a message on APPEND (Gmail and
 * Exchange/Microsoft 365 may rewrite line ends or add headers), so its
 * RFC822.SIZE differs from the source's. For those targets there is the
 * lenient variant (MF_FINGERPRINT_LENIENT), which leaves the size out when
 * the message has a Message-ID. Use it only when the target is known to
 * alter messages (or when a strict pass found no match in a folder that
 * should have some): two different messages with the same Message-ID and
 * the same INTERNALDATE are then taken for one. A message without a
 * Message-ID keeps its size even in lenient mode, because (no Message-ID,
 * date) alone collides far too often (bulk imports give many messages one
 * INTERNALDATE), and skipping a message that was never copied is worse
 * than copying one twice.
 *
 * Which way errors fall: a fingerprint that fails to match (a target that
 * refolded or rewrote the Message-ID, a Message-ID past the scanner's
 * 256 KiB limit on one side only, a changed size in strict mode) makes the
 * engine copy the message again: a duplicate, never a loss. Only a false
 * match loses a message, and that needs the same Message-ID (or none),
 * the same instant and, in strict mode, the same size. Fetching the
 * source's Message-ID the same way as the target's (HEADER.FIELDS) is the
 * most symmetric; scanning the start of the full message gives the same
 * value for any header under the limit.
 *
 * Both sides of a comparison must use the same flags. The canonical form is
 * stored nowhere, but workers of different versions must agree on it while
 * they share a batch, so it never changes; a new form gets a new version
 * tag (see fingerprint.c).
 */
#ifndef MAILFERRY_FINGERPRINT_H
#define MAILFERRY_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailferry/err.h"
#include "mailferry/util.h"

/* ------------------------------------------------------------------ */
/* Header scanner                                                      */
/* ------------------------------------------------------------------ */

/* At most this much of a header section is looked at; a longer header is
 * treated as if it ended there. Real headers are a few KiB; spam and
 * mailing lists reach tens of KiB. */
#define MF_HEADER_SCAN_MAX (256u * 1024u)

/* Why a scan stopped looking at input. */
enum mf_header_scan_state {
    MF_HEADER_SCAN_MORE = 0, /* wants more bytes */
    MF_HEADER_SCAN_END,      /* saw the empty line that ends the header */
    MF_HEADER_SCAN_LIMIT,    /* looked at max_header bytes without one */
    MF_HEADER_SCAN_EOF,      /* mf_header_scan_finish() before either */
};

struct mf_header_scan;

/* A new scanner that looks at no more than max_header bytes (0 means
 * MF_HEADER_SCAN_MAX). It never holds more than max_header bytes of field
 * values, whatever it is fed. Aborts on allocation failure. */
struct mf_header_scan *mf_header_scan_new(size_t max_header);
/* Frees *p (NULL is fine) and sets *p to NULL. */
void mf_header_scan_free(struct mf_header_scan **p);
/* Forgets everything seen, to scan another message; keeps the storage. */
void mf_header_scan_reset(struct mf_header_scan *s);

/* Feeds the next len bytes of the message. Lines may end in CRLF or in a
 * bare LF; 8-bit bytes are taken as they are. Returns how many bytes were
 * looked at: all of them while the header goes on, fewer once the scan has
 * stopped (the count then includes the empty line), 0 after it stopped.
 * Results do not depend on how the input is cut into chunks. */
size_t mf_header_scan_feed(struct mf_header_scan *s, const uint8_t *data,
                           size_t len);
/* Tells the scanner that the input ended (a message that is all header,
 * or a HEADER.FIELDS literal without its final empty line): a last line
 * without its line end counts. No effect once the scan has stopped. */
void mf_header_scan_finish(struct mf_header_scan *s);
/* Where the scan is. */
enum mf_header_scan_state mf_header_scan_state(const struct mf_header_scan *s);
/* Bytes consumed so far; after MF_HEADER_SCAN_END, the length of the
 * header section including its empty line, i.e. the offset of the body. */
size_t mf_header_scan_length(const struct mf_header_scan *s);

/* The fields found so far, or NULL when the header has none (or only an
 * empty one). Values are unfolded (RFC 5322 2.2.3: each CRLF/LF before a
 * space or tab is removed), leading and trailing spaces and tabs are
 * trimmed, NUL and bare CR bytes are dropped; case and everything else,
 * angle brackets of a Message-ID and encoded-words of a Subject included,
 * are kept. Field names match in any case ("Message-Id", "MESSAGE-ID"),
 * also with the obsolete blanks before the colon; when a field appears
 * more than once, the first non-empty one counts. Borrowed: valid until the
 * next feed, finish, reset or free. Fields are final only once the scan
 * stopped. */
const char *mf_header_scan_message_id(const struct mf_header_scan *s);
const char *mf_header_scan_subject(const struct mf_header_scan *s);
const char *mf_header_scan_date(const struct mf_header_scan *s);
const char *mf_header_scan_from(const struct mf_header_scan *s);

/* Appends raw (NUL-terminated header text, e.g. a Subject) to out with its
 * RFC 2047 encoded-words in charsets UTF-8, US-ASCII and ISO-8859-1 (also
 * spelt latin1) decoded into UTF-8, for reports. Whitespace between two
 * adjacent encoded-words is dropped (RFC 2047 6.2), and the bytes of
 * adjacent words in one charset are joined before checking, so a UTF-8
 * character split across two words comes out whole. An encoded-word with
 * an unknown charset, a bad encoding, or UTF-8 that is not valid is copied
 * raw; other bytes are copied as they are (the JSON writer replaces
 * invalid UTF-8). Never fails; out grows by at most 3 * strlen(raw)
 * bytes. */
void mf_header_decode_2047(const char *raw, struct mf_buf *out);

/* ------------------------------------------------------------------ */
/* Fingerprints                                                        */
/* ------------------------------------------------------------------ */

struct mf_fingerprint {
    uint8_t digest[32]; /* SHA-256 of the canonical string */
};

/* Flags for mf_fingerprint_compute(). */
#define MF_FINGERPRINT_STRICT 0u
/* Leave RFC822.SIZE out when there is a Message-ID: for targets that
 * change messages on APPEND (Gmail, Exchange). See the top of the file. */
#define MF_FINGERPRINT_LENIENT 1u

/* Computes the fingerprint of a message with the given Message-ID (as the
 * scanner returns it; NULL or "" when it has none), RFC822.SIZE and
 * INTERNALDATE as Unix seconds UTC (mf_imap_datetime_to_unix()), under
 * flags, into *fp_r. */
void mf_fingerprint_compute(const char *message_id, uint64_t size,
                            int64_t internal_date, unsigned flags,
                            struct mf_fingerprint *fp_r);

/* The lenient fingerprint of version 2 (issue 13), which the engine uses
 * for targets whose profile says they re-encode what they store
 * (Exchange, Gmail: mailferry/profile.h): the Message-ID (or none), the
 * INTERNALDATE instant, and a hash of a few normalised header fields,
 * never RFC822.SIZE. subject is the Subject with its encoded-words
 * decoded (mf_header_decode_2047(); a target may encode them anew),
 * compared with runs of blanks made one space, trimmed, ASCII case
 * folded; from is the From field as sent, compared by its address alone
 * (the addr-spec inside the last <...>, else the whole value), trimmed
 * and ASCII lower-cased, since a target may rewrite the display name.
 * Any of them may be NULL. A message without a Message-ID is then known
 * by (date, subject, sender): two different messages alike in all three
 * are taken for one, which is why only re-encoding targets use it. */
void mf_fingerprint_lenient(const char *message_id, const char *subject,
                            const char *from, int64_t internal_date,
                            struct mf_fingerprint *fp_r);

/* Fingerprint of a target message from its FETCH items: hdr/len is the
 * content of the BODY[HEADER.FIELDS (MESSAGE-ID)] literal (header lines
 * and the empty line; "\r\n" alone when there is no Message-ID), scanned
 * with the same scanner as the source messages. scan is reset and used
 * for the work, so that one scanner serves a whole FETCH; NULL makes a
 * temporary one. */
void mf_fingerprint_from_header(struct mf_header_scan *scan, const uint8_t *hdr,
                                size_t len, uint64_t size,
                                int64_t internal_date, unsigned flags,
                                struct mf_fingerprint *fp_r);

/* Writes fp as 64 lower-case hex digits and a NUL into out (for traces and
 * tests). */
void mf_fingerprint_hex(const struct mf_fingerprint *fp, char out[65]);

/* ------------------------------------------------------------------ */
/* Multiset of fingerprints                                            */
/* ------------------------------------------------------------------ */

struct mf_fingerprint_set;

/* A new, empty multiset that holds at most max_distinct different
 * fingerprints (0 means no limit other than memory; the number of messages
 * in a target folder comes from outside, so pass a limit). Takes 55 to
 * 110 bytes per distinct fingerprint. Aborts on allocation failure. */
struct mf_fingerprint_set *mf_fingerprint_set_new(size_t max_distinct);
/* Frees *p (NULL is fine) and sets *p to NULL. */
void mf_fingerprint_set_free(struct mf_fingerprint_set **p);

/* Adds one occurrence of fp. Returns MF_E_OK, or MF_E_LIMIT (set
 * unchanged) when fp is new and the set already holds max_distinct
 * different fingerprints. */
MF_WARN_UNUSED mf_err mf_fingerprint_set_add(struct mf_fingerprint_set *set,
                                             const struct mf_fingerprint *fp);
/* Removes one occurrence of fp. Returns true when there was one (the
 * message is already on the target), false when there was none. */
bool mf_fingerprint_set_take(struct mf_fingerprint_set *set,
                             const struct mf_fingerprint *fp);
/* How many occurrences of fp the set holds. */
uint64_t mf_fingerprint_set_count(const struct mf_fingerprint_set *set,
                                  const struct mf_fingerprint *fp);
/* How many occurrences the set holds in all (what take() can still find). */
uint64_t mf_fingerprint_set_total(const struct mf_fingerprint_set *set);

#endif
