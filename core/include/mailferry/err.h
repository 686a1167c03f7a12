/*
 * mailferry error codes.
 *
 * One stable enum, mf_err, generated from the table below. The numbers go
 * into reports and result messages, so a shipped number never changes and
 * is never reused; add new codes at the end of their range.
 *
 * Each code has a class that says what failed and what the caller should
 * do about it (retry, reconnect, fail the message, the mailbox or the job,
 * fix the input, or report a bug). Detail text (the upstream's own words)
 * lives in a struct mf_error on the object that failed.
 */
#ifndef MAILFERRY_ERR_H
#define MAILFERRY_ERR_H

#include <stddef.h>

#define MF_WARN_UNUSED __attribute__((warn_unused_result))

/* What to do about an error. */
#define MF_ERR_CLASS_TABLE(XX)                                                 \
    XX(NONE, "none")            /* success */                                  \
    XX(RETRY, "retry")          /* transient: back off and try again */        \
    XX(RECONNECT, "reconnect")  /* the connection is gone: reconnect */        \
    XX(FAIL_MESSAGE, "message") /* this message fails, the rest go on */       \
    XX(FAIL_MAILBOX, "mailbox") /* this mailbox fails (until fixed) */         \
    XX(FAIL_JOB, "job")         /* the job cannot run as configured */         \
    XX(INPUT, "input")          /* the admin's input is wrong: fix it */       \
    XX(BUG, "bug")              /* a programming error */

/* XX(NAME, number, CLASS, "message") */
#define MF_ERR_TABLE(XX)                                                       \
    XX(OK, 0, NONE, "success")                                                 \
    /* 1-99: general */                                                        \
    XX(INVALID_ARGUMENT, 1, BUG, "invalid argument")                           \
    XX(USAGE, 2, INPUT, "invalid command line")                                \
    XX(CONFIG, 3, INPUT, "invalid configuration")                              \
    XX(IO, 4, RETRY, "I/O error")                                              \
    XX(NOT_FOUND, 5, INPUT, "not found")                                       \
    XX(LIMIT, 6, INPUT, "size limit exceeded")                                 \
    XX(CANCELLED, 7, NONE, "cancelled")                                        \
    XX(SECRET_FILE, 8, INPUT, "cannot read secret file")                       \
    XX(EXISTS, 9, INPUT, "already exists")                                     \
    XX(STATE, 10, INPUT, "not allowed in the current state")                   \
    XX(INTERNAL, 11, BUG, "internal error")                                    \
    /* 100-199: batch CSV files */                                             \
    XX(CSV_NO_HEADER, 100, INPUT, "CSV file has no header row")                \
    XX(CSV_MISSING_COLUMN, 101, INPUT, "required column missing")              \
    XX(CSV_UNKNOWN_COLUMN, 102, INPUT, "unknown column")                       \
    XX(CSV_DUPLICATE_COLUMN, 103, INPUT, "column appears twice")               \
    XX(CSV_EMPTY_FIELD, 104, INPUT, "required field is empty")                 \
    XX(CSV_BAD_ADDRESS, 105, INPUT, "invalid email address")                   \
    XX(CSV_DUPLICATE_ADDRESS, 106, INPUT, "duplicate EmailAddress")            \
    XX(CSV_UNTERMINATED_QUOTE, 107, INPUT, "unterminated quoted field")        \
    XX(CSV_COLUMN_COUNT, 108, INPUT, "wrong number of columns")                \
    XX(CSV_BAD_UTF8, 109, INPUT, "invalid UTF-8")                              \
    XX(CSV_ROW_LIMIT, 110, INPUT, "too many rows")                             \
    XX(CSV_SIZE_LIMIT, 111, INPUT, "file too large")                           \
    XX(CSV_FIELD_TOO_LONG, 112, INPUT, "field too long")                       \
    XX(CSV_BAD_QUOTE, 113, INPUT, "misplaced quote")                           \
    XX(CSV_NO_ROWS, 114, INPUT, "no mailbox rows")                             \
    XX(CSV_BAD_CHARACTER, 115, INPUT, "control character in field")            \
    XX(CSV_MAILBOX_IN_BATCH, 116, INPUT, "mailbox already in the batch")       \
    XX(CSV_MAILBOX_NOT_IN_BATCH, 117, INPUT, "mailbox not in the batch")       \
    /* 200-299: IMAP protocol */                                               \
    XX(IMAP_PARSE, 200, RECONNECT, "malformed IMAP response")                  \
    XX(IMAP_LINE_TOO_LONG, 201, RECONNECT, "IMAP response line too long")      \
    XX(IMAP_LITERAL_TOO_BIG, 202, RECONNECT, "IMAP literal too large")         \
    XX(IMAP_NESTING, 203, RECONNECT, "IMAP response nested too deeply")        \
    XX(IMAP_NO, 204, FAIL_MAILBOX, "IMAP command refused (NO)")                \
    XX(IMAP_BAD, 205, BUG, "IMAP command rejected (BAD)")                      \
    XX(IMAP_BYE, 206, RECONNECT, "IMAP server closed the session (BYE)")       \
    XX(IMAP_UNEXPECTED, 207, RECONNECT, "unexpected IMAP response")            \
    XX(IMAP_CAPABILITY, 208, FAIL_JOB,                                         \
       "IMAP server lacks a needed capability")                                \
    XX(IMAP_BAD_MUTF7, 209, FAIL_MESSAGE, "invalid modified UTF-7 name")       \
    /* 300-399: connection and login */                                        \
    XX(CONNECT, 300, RECONNECT, "cannot connect to server")                    \
    XX(TLS, 301, FAIL_JOB, "TLS handshake failed")                             \
    XX(TLS_VERIFY, 302, FAIL_JOB, "server certificate not trusted")            \
    XX(TIMEOUT, 303, RECONNECT, "timed out")                                   \
    XX(DISCONNECTED, 304, RECONNECT, "connection dropped")                     \
    XX(AUTH, 305, FAIL_MAILBOX, "authentication failed")                       \
    XX(THROTTLED, 306, RETRY, "server is throttling")                          \
    XX(TOO_MANY_CONNECTIONS, 307, RETRY,                                       \
       "server refused: too many connections")                                 \
    XX(MAILBOX_MISSING, 308, FAIL_MAILBOX, "mailbox does not exist")           \
    XX(DNS, 309, RECONNECT, "cannot resolve host name")                        \
    XX(OVERQUOTA, 310, FAIL_MAILBOX, "target mailbox over quota")              \
    XX(TARGET_MAILBOX_MISSING, 311, FAIL_MAILBOX,                              \
       "target user has no mailbox")                                           \
    XX(SERVER_TOO_SLOW, 312, RECONNECT,                                        \
       "server did not answer a command in time")                              \
    XX(SERVER_FLOOD, 313, RECONNECT,                                           \
       "server sent more responses than the command can produce")              \
    /* 314-319: provider profiles (issue 13) */                                \
    XX(MESSAGE_MALFORMED, 314, FAIL_MESSAGE,                                   \
       "target refused a malformed message (--repair fixes it)")               \
    XX(MESSAGE_REPAIRED, 315, NONE,                                            \
       "message repaired before the target took it")                           \
    XX(BANDWIDTH_QUOTA, 316, RETRY,                                            \
       "the user's daily IMAP bandwidth quota is used up until the next "      \
       "window")                                                               \
    /* 400-499: messages */                                                    \
    XX(MESSAGE_TOO_LARGE, 400, FAIL_MESSAGE, "message larger than the limit")  \
    XX(MESSAGE_REJECTED, 401, FAIL_MESSAGE, "target refused the message")      \
    XX(MESSAGE_GONE, 402, FAIL_MESSAGE, "message vanished from the source")    \
    XX(NOT_ALL_COPIED, 403, FAIL_MAILBOX,                                      \
       "messages not copied (listed in the report)")                           \
    XX(MESSAGE_UNLISTABLE, 404, FAIL_MESSAGE,                                  \
       "the source did not list the message's size, date or flags")            \
    XX(MESSAGE_SIZE_MISMATCH, 405, FAIL_MESSAGE,                               \
       "message body differs from its listed size")                            \
    XX(FOLDER_INCOMPLETE, 406, FAIL_MAILBOX,                                   \
       "the source listed fewer messages than the folder holds")               \
    XX(DELETE_NEEDS_UIDPLUS, 407, FAIL_MAILBOX,                                \
       "--sync-deletes needs UIDPLUS (UID EXPUNGE) on the target")             \
    XX(MESSAGE_DELETED, 408, NONE,                                             \
       "removed from the target: expunged on the source")                      \
    XX(MESSAGE_MOVED, 409, NONE,                                               \
       "moved on the target: moved between folders on the source")             \
    XX(VERIFY_BUSY, 410, FAIL_MAILBOX,                                         \
       "not verified: the mailbox is being migrated")                          \
    XX(FOLDER_RENAMED, 411, NONE,                                              \
       "folder created under another name: the target refused its own")        \
    XX(FOLDER_NAME_REFUSED, 412, FAIL_MAILBOX,                                 \
       "the target refused the folder's name and its conservative name")       \
    XX(RENAME_UNMATCHED, 413, NONE,                                            \
       "a --rename rule matched no folder of the mailbox")                     \
    /* 500-599: Redis */                                                       \
    XX(REDIS, 500, RETRY, "Redis error")                                       \
    XX(REDIS_UNAVAILABLE, 501, RETRY, "Redis unreachable")                     \
    XX(LEASE_LOST, 502, RECONNECT, "connection lease lost")                    \
    XX(CLAIMED, 503, NONE, "job already claimed")                              \
    XX(FENCED, 504, FAIL_JOB,                                                  \
       "the job's claim is gone: another worker owns the mailbox")             \
    XX(REDIS_NOSCRIPT, 515, RETRY, "script not loaded in Redis")               \
    /* 600-699: Kafka */                                                       \
    XX(KAFKA, 600, RETRY, "Kafka error")                                       \
    XX(KAFKA_UNAVAILABLE, 601, RETRY, "Kafka unreachable")                     \
    XX(ENVELOPE, 602, FAIL_JOB, "invalid message envelope")                    \
    XX(SCHEMA_VERSION, 603, FAIL_JOB, "unsupported schema version")            \
    /* 700-799: credentials */                                                 \
    XX(CRYPTO, 700, FAIL_JOB, "cryptographic failure")                         \
    XX(KEY_UNKNOWN, 701, FAIL_JOB, "unknown master key id")                    \
    XX(DECRYPT, 702, FAIL_JOB, "credential decryption failed")                 \
    XX(JOB_STALE, 703, FAIL_JOB, "job of an earlier generation of the batch")  \
    XX(REDIS_AUTH, 704, RETRY, "Redis refused the credentials")                \
    /* 800-819: OAuth2 */                                                      \
    XX(OAUTH_TOKEN_ENDPOINT, 800, RETRY,                                       \
       "OAuth2 token endpoint unreachable or failing")                         \
    XX(OAUTH_INVALID_CLIENT, 801, FAIL_JOB,                                    \
       "OAuth2 client refused (client id, secret or certificate)")             \
    XX(OAUTH_BAD_KEY, 802, INPUT, "OAuth2 key or certificate unusable")        \
    XX(OAUTH_DENIED, 803, FAIL_MAILBOX,                                        \
       "OAuth2 token endpoint refused a token for the mailbox")                \
    XX(OAUTH_EXPIRED, 804, FAIL_MAILBOX,                                       \
       "OAuth2 token refused again after renewal (expired or revoked)")        \
    XX(OAUTH_SASL_REFUSED, 805, FAIL_MAILBOX,                                  \
       "server refused the OAuth2 token")                                      \
    XX(OAUTH_TOKEN_FILE, 806, INPUT, "no OAuth2 token in the token file")      \
    XX(OAUTH_BAD_ANSWER, 807, RETRY,                                           \
       "malformed answer from the OAuth2 token endpoint")

typedef enum {
#define XX(name, num, cls, msg) MF_E_##name = num,
    MF_ERR_TABLE(XX)
#undef XX
} mf_err;

typedef enum {
#define XX(name, text) MF_ERRCLASS_##name,
    MF_ERR_CLASS_TABLE(XX)
#undef XX
} mf_err_class;

/* Error detail attached to the object that failed. */
#define MF_ERROR_DETAIL_MAX 256
struct mf_error {
    mf_err code;
    char detail[MF_ERROR_DETAIL_MAX];
};

/* A fixed English sentence for code; never NULL. */
const char *mf_strerror(mf_err code);
/* The code's stable name without prefix ("CSV_BAD_ADDRESS"); never NULL. */
const char *mf_err_name(mf_err code);
/* What to do about code. */
mf_err_class mf_err_class_of(mf_err code);
/* The class's short name ("retry", "mailbox", ...); never NULL. */
const char *mf_err_class_name(mf_err_class cls);

/* Sets e->code and formats e->detail (truncated to fit). Returns code, so
 * that "return mf_error_set(&x->err, MF_E_IO, ...)" reads naturally. */
mf_err mf_error_set(struct mf_error *e, mf_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Resets e to MF_E_OK with empty detail. */
void mf_error_clear(struct mf_error *e);

#endif
