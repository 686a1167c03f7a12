/*
 * IMAP response parser (layer 1 of the IMAP engine, STYLE.md).
 *
 * The parser does no I/O. The connection feeds it whatever bytes arrived,
 * in chunks of any size (one byte at a time gives the same result), and the
 * parser calls on_response() once for every complete server response:
 * tagged ("a1 OK ..."), untagged ("* ...") or a continuation request
 * ("+ ..."). When the bytes end in the middle of a response the parser
 * simply keeps its state and waits for more ("need more data" is the normal
 * case, not an error).
 *
 * Framing versus structure: the parser splits the input into lines (CRLF,
 * strictly: a bare CR or LF is a framing error, because a wrong literal
 * length on the server side shows up exactly like that and we must not
 * copy a corrupted message) and literals ({n} or {n+} or ~{n} at the end of
 * a line, followed by exactly n bytes). Each complete line is tokenized
 * into a typed argument tree: atom, NIL, quoted string, literal, streamed
 * literal, list. The first tokens of a response decide its kind; status
 * responses (OK/NO/BAD/PREAUTH/BYE) and continuations carry resp-text
 * ("[" resp-text-code "]" text) and never contain literals.
 *
 * Memory: every string and argument of a response lives in a per-response
 * arena owned by the parser. A struct mf_imap_response and everything it
 * points to is valid only during the on_response() call that receives it;
 * copy what you keep. All sizes that come from the server are checked
 * against the limits below before anything is allocated, so no server can
 * make the parser grow without bound:
 *   - max_line: bytes of one response outside literal data, CRLFs
 *     included, summed over all lines of the response;
 *   - max_literal: the size of one literal, and also the total of the
 *     literals a response buffers (streamed ones do not count);
 *   - max_depth: list nesting;
 *   - max_args: arguments (at any depth) in one response.
 * Note that "* SEARCH" on a big mailbox sends one long line (about 7 bytes
 * per message): raise max_line and max_args for it, or prefer
 * "UID FETCH 1:* (UID)", which sends one short response per message.
 *
 * Big literals stream: when a literal is larger than stream_threshold and
 * the caller set on_literal_begin, the parser does not buffer it but calls
 * on_literal_begin(info), then on_literal_data() with the bytes in chunks
 * (their sizes depend on how the input was chunked), then on_literal_end().
 * info tells which response and item the literal belongs to (for
 * "* 12 FETCH (UID 7 BODY[] {5000000}" the number 12, the keyword "FETCH"
 * and the item "BODY[]"). The argument in the final response is then of
 * type MF_IMAP_ARG_STREAMED: its size is known, its bytes are not.
 *
 * Errors: a malformed response, an exceeded limit or a failing literal
 * callback leaves the parser failed for good: every later feed returns the
 * same code. The detail text is in mf_imap_parser_error(). The caller
 * drops the connection (the codes are of class RECONNECT).
 *
 * Liberal where real servers deviate, strict on framing:
 *   - runs of spaces between tokens, a space before ")" or at the end of a
 *     line, a missing space after ")" ("(\Seen)UID") are accepted;
 *   - atoms may contain "]", "%", "*", "\", 8-bit bytes, and a bracketed
 *     part with spaces and parentheses: BODY[HEADER.FIELDS (FROM TO)]<0>
 *     is one atom;
 *   - 8-bit bytes in quoted strings and text are passed through; in a
 *     quoted string "\" followed by anything but '"' or '\' is kept as is;
 *   - a status response without text ("a1 OK") or without the space after
 *     "]" is accepted; an unparsable resp-text-code is kept as raw text;
 *   - empty lines between responses are ignored;
 *   - NUL bytes outside literals, bare CR and bare LF are errors.
 */
#ifndef MAILFERRY_IMAP_PARSER_H
#define MAILFERRY_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailferry/err.h"
#include "mailferry/util.h"

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

enum mf_imap_arg_type {
    MF_IMAP_ARG_NIL = 1,  /* the atom NIL (any case) */
    MF_IMAP_ARG_ATOM,     /* also numbers, flags (\Seen), BODY[]<0> */
    MF_IMAP_ARG_QUOTED,   /* "..." with \" and \\ unescaped */
    MF_IMAP_ARG_LITERAL,  /* {n}CRLF + n bytes, buffered; may hold NULs */
    MF_IMAP_ARG_STREAMED, /* a literal handed to on_literal_data() */
    MF_IMAP_ARG_LIST,     /* ( ... ) */
};

/* One argument. Borrowed from the response arena: valid only during the
 * on_response() call. Prefer the accessors below to the fields. */
struct mf_imap_arg {
    enum mf_imap_arg_type type;
    union {
        /* NIL, ATOM, QUOTED, LITERAL: the bytes, NUL-terminated for
         * convenience (a literal may also contain NULs: use len). NIL keeps
         * the spelling the server used. */
        struct {
            const uint8_t *data;
            size_t len;
        } str;
        /* LIST */
        struct {
            const struct mf_imap_arg *args;
            size_t count;
        } list;
        /* STREAMED: the literal's size */
        uint64_t size;
    } u;
};

bool mf_imap_arg_is_nil(const struct mf_imap_arg *a);
bool mf_imap_arg_is_atom(const struct mf_imap_arg *a);
bool mf_imap_arg_is_list(const struct mf_imap_arg *a);
/* Quoted string or buffered literal (RFC 3501 "string"). */
bool mf_imap_arg_is_string(const struct mf_imap_arg *a);

/* True if a is an atom equal to kw, ignoring ASCII case. */
bool mf_imap_arg_atom_eq(const struct mf_imap_arg *a, const char *kw);

/* Atom, quoted string or buffered literal: sets the bytes and length and
 * returns true; false (outputs untouched) for NIL, lists and streamed
 * literals. This is RFC 3501 "astring"/"nstring" minus NIL. */
bool mf_imap_arg_as_string(const struct mf_imap_arg *a, const uint8_t **data_r,
                           size_t *len_r);
/* Like mf_imap_arg_as_string(), but as C text: also accepts NIL (as its
 * spelling, since a mailbox may be called "NIL") and refuses bytes with an
 * embedded NUL. For mailbox names, flags, capability names. */
bool mf_imap_arg_as_astring(const struct mf_imap_arg *a, const char **s_r);
/* A strict number: an atom of 1-10 digits that fits uint32_t. */
bool mf_imap_arg_as_u32(const struct mf_imap_arg *a, uint32_t *v_r);
/* A strict number: an atom of 1-20 digits that fits uint64_t (MODSEQ,
 * RFC822.SIZE). */
bool mf_imap_arg_as_u64(const struct mf_imap_arg *a, uint64_t *v_r);
/* A list: sets its children and their count (0 for "()"). */
bool mf_imap_arg_as_list(const struct mf_imap_arg *a,
                         const struct mf_imap_arg **args_r, size_t *count_r);
/* In a list of name/value pairs (a FETCH msg-att list, a STATUS list),
 * returns the value after the atom name (ignoring case), or NULL. Pairs are
 * walked two by two, so a value equal to name is never mistaken for it. */
const struct mf_imap_arg *mf_imap_args_find(const struct mf_imap_arg *args,
                                            size_t count, const char *name);

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

enum mf_imap_resp_kind {
    MF_IMAP_RESP_TAGGED = 1,
    MF_IMAP_RESP_UNTAGGED,
    MF_IMAP_RESP_CONTINUATION,
};

enum mf_imap_status {
    MF_IMAP_STATUS_NONE = 0, /* data responses and continuations */
    MF_IMAP_STATUS_OK,
    MF_IMAP_STATUS_NO,
    MF_IMAP_STATUS_BAD,
    MF_IMAP_STATUS_PREAUTH,
    MF_IMAP_STATUS_BYE,
};

/* "OK", "NO", ...; "" for NONE. */
const char *mf_imap_status_name(enum mf_imap_status s);

/* resp-text-code (RFC 3501 section 7.1, RFC 4315, RFC 5530):
 *   resp-text = ["[" resp-text-code "]" SP] text
 * name is the code's atom in upper case ("UIDVALIDITY", "APPENDUID",
 * "PERMANENTFLAGS", "TRYCREATE", "X-FOO") or NULL when there is no code.
 * raw is everything between the name's trailing space and "]" ("" when
 * there is nothing). args is raw tokenized like response data ("38505 3955"
 * gives two atoms, "(\Seen \*)" a list); when raw does not tokenize
 * (args_ok false) args is NULL and nargs 0: use raw. Codes never contain
 * literals. */
struct mf_imap_resp_code {
    const char *name;
    const char *raw;
    const struct mf_imap_arg *args;
    size_t nargs;
    bool args_ok;
};

/* One complete server response; borrowed from the parser's arena and valid
 * only during the on_response() call.
 *
 *   a1 OK [READ-WRITE] Select completed.    TAGGED, tag "a1", status OK
 *   * OK [UIDVALIDITY 3857529045] UIDs valid   UNTAGGED, status OK
 *   * 12 FETCH (UID 7 FLAGS (\Seen))        UNTAGGED, has_number, number 12,
 *                                           keyword "FETCH", args: 1 list
 *   * 3 EXISTS                              number 3, keyword "EXISTS"
 *   * CAPABILITY IMAP4rev1 IDLE             keyword "CAPABILITY", 2 atoms
 *   + Ready for literal data                CONTINUATION, text
 */
struct mf_imap_response {
    enum mf_imap_resp_kind kind;
    const char *tag;            /* TAGGED: the tag; otherwise NULL */
    enum mf_imap_status status; /* status responses; otherwise NONE */
    bool has_number;            /* "* <number> <keyword>" */
    uint32_t number;
    /* Upper case. UNTAGGED: "OK", "BYE", "FETCH", "EXISTS", "LIST", ...;
     * TAGGED: "OK", "NO" or "BAD"; CONTINUATION: NULL. */
    const char *keyword;
    struct mf_imap_resp_code code; /* status and continuation responses */
    /* resp-text after the code: status and continuation responses; "" for
     * data responses. NUL-free, but may hold 8-bit bytes. */
    const char *text;
    size_t text_len;
    /* Data responses: the arguments after the keyword (for FETCH one
     * list); empty for status responses and continuations. */
    const struct mf_imap_arg *args;
    size_t nargs;
};

/* Appends a one-line readable rendering of r to out, for protocol traces
 * and tests: atoms as they are, strings quoted with \", \\ and \xHH
 * escapes, literals as {n}"..." (at most max_literal_bytes shown, then
 * "..."), streamed literals as {n}<streamed>. */
void mf_imap_response_dump(struct mf_buf *out, const struct mf_imap_response *r,
                           size_t max_literal_bytes);

/* ------------------------------------------------------------------ */
/* Parser                                                              */
/* ------------------------------------------------------------------ */

#define MF_IMAP_PARSER_DEFAULT_MAX_LINE ((size_t)64 * 1024)
#define MF_IMAP_PARSER_DEFAULT_MAX_LITERAL ((uint64_t)64 * 1024 * 1024)
#define MF_IMAP_PARSER_DEFAULT_MAX_DEPTH 32u
#define MF_IMAP_PARSER_DEFAULT_MAX_ARGS ((size_t)100000)
#define MF_IMAP_PARSER_DEFAULT_STREAM_THRESHOLD ((uint64_t)256 * 1024)

struct mf_imap_parser_limits {
    size_t max_line;      /* >= 16; see the top of this file */
    uint64_t max_literal; /* one literal; also buffered total per response */
    unsigned max_depth;   /* >= 1: list nesting */
    size_t max_args;      /* >= 1: arguments per response, at any depth */
    /* Literals larger than this stream when on_literal_begin is set;
     * UINT64_MAX never streams. */
    uint64_t stream_threshold;
};

/* Fills lim with the defaults above. */
void mf_imap_parser_limits_init(struct mf_imap_parser_limits *lim);

/* What the streaming callbacks learn about a literal. Borrowed: valid
 * during on_literal_begin() only. */
struct mf_imap_literal_info {
    bool has_number; /* "* 12 FETCH ...": true, number 12 */
    uint32_t number;
    const char *keyword; /* upper case: "FETCH", "LIST", ... */
    /* The atom right before the literal in the same list, as sent
     * ("BODY[]", "BODY[TEXT]<0>", "RFC822", "BINARY[]"), or NULL. */
    const char *item;
    unsigned depth; /* list depth: 1 directly inside the FETCH list */
    uint64_t size;
};

/* Callbacks return MF_E_OK to go on. The parser's user data is passed as
 * ud.
 *
 * on_response: required. A non-OK return stops mf_imap_parser_feed()
 * right after this response; feed returns that code and *consumed_r counts
 * the bytes up to and including the response's CRLF. The parser is not
 * failed: feed the remaining bytes later (or hand them to something else,
 * after STARTTLS say).
 *
 * Callbacks must not call mf_imap_parser_feed(), _reset() or _free() on
 * the parser that calls them.
 *
 * on_literal_begin/on_literal_data/on_literal_end: optional, all three or
 * none. A non-OK return from any of them fails the parser with that code
 * (the literal's bytes are lost, so the response cannot be delivered). */
typedef mf_err (*mf_imap_response_cb)(void *ud,
                                      const struct mf_imap_response *r);
typedef mf_err (*mf_imap_literal_begin_cb)(
    void *ud, const struct mf_imap_literal_info *info);
typedef mf_err (*mf_imap_literal_data_cb)(void *ud, const uint8_t *data,
                                          size_t n);
typedef mf_err (*mf_imap_literal_end_cb)(void *ud);

struct mf_imap_parser_cb {
    mf_imap_response_cb on_response;
    mf_imap_literal_begin_cb on_literal_begin;
    mf_imap_literal_data_cb on_literal_data;
    mf_imap_literal_end_cb on_literal_end;
};

struct mf_imap_parser;

/* Creates a parser. lim NULL means the defaults; lim and cb are copied. ud
 * is borrowed and passed to every callback. Never fails (allocation
 * failure aborts). */
struct mf_imap_parser *
mf_imap_parser_new(const struct mf_imap_parser_limits *lim,
                   const struct mf_imap_parser_cb *cb, void *ud);
/* Frees p and everything it owns; accepts NULL; sets *p to NULL. */
void mf_imap_parser_free(struct mf_imap_parser **p);

/* Pushes len bytes. Every complete response is delivered to on_response()
 * before this returns. Returns MF_E_OK when all bytes were taken in
 * (*consumed_r == len), the code of a callback that stopped it, or a parse
 * error (MF_E_IMAP_PARSE, MF_E_IMAP_LINE_TOO_LONG, MF_E_IMAP_LITERAL_TOO_BIG,
 * MF_E_IMAP_NESTING; detail in mf_imap_parser_error()) after which the
 * parser stays failed. consumed_r may be NULL. */
MF_WARN_UNUSED mf_err mf_imap_parser_feed(struct mf_imap_parser *p,
                                          const uint8_t *buf, size_t len,
                                          size_t *consumed_r);

/* The error that failed the parser (code MF_E_OK while it is healthy). */
const struct mf_error *mf_imap_parser_error(const struct mf_imap_parser *p);

/* True while a response has started but is not complete (the connection
 * closing now would cut a response short). */
bool mf_imap_parser_in_response(const struct mf_imap_parser *p);

/* Drops any partial response and the failed state: the parser is as new.
 * For a new connection on the same parser. */
void mf_imap_parser_reset(struct mf_imap_parser *p);

/* ------------------------------------------------------------------ */
/* Command-side formatting (imapfmt.c)                                 */
/* ------------------------------------------------------------------ */

enum mf_imap_quote_kind {
    MF_IMAP_QUOTE_ATOM = 1,     /* sent as is */
    MF_IMAP_QUOTE_QUOTED,       /* "..." */
    MF_IMAP_QUOTE_LITERAL_PLUS, /* {n+}CRLF bytes: no wait (RFC 7888) */
    MF_IMAP_QUOTE_LITERAL_SYNC, /* {n}CRLF, wait for "+", then bytes */
};

/* Appends s (n bytes) to out as an RFC 3501 astring: an atom when every
 * byte is an ASTRING-CHAR (and s is not empty nor "NIL"), else a quoted
 * string when every byte is 7-bit TEXT-CHAR and n <= 1024, else a literal:
 * {n+} when literal_plus (the server announced LITERAL+, or LITERAL- and
 * n <= 4096), otherwise {n}. For LITERAL_SYNC, *split_r (if not NULL) is
 * set to the offset in out just after "{n}\r\n": send out up to there,
 * wait for the continuation request, then send the rest. Returns the form
 * chosen. (A NUL byte cannot travel in an IMAP literal; the caller must not
 * pass one.) */
enum mf_imap_quote_kind mf_imap_quote_astring(struct mf_buf *out,
                                              const uint8_t *s, size_t n,
                                              bool literal_plus,
                                              size_t *split_r);

/* An INTERNALDATE (RFC 3501 date-time): wall-clock fields and the zone's
 * offset east of UTC in minutes (+0200 is 120, -0530 is -330). */
struct mf_imap_datetime {
    int year;           /* 1..9999 */
    int month;          /* 1..12 */
    int day;            /* 1..days in month */
    int hour, min, sec; /* sec 0..60 (leap second) */
    int tz_minutes;     /* -1439..1439 */
};

/* Length of "dd-Mon-yyyy hh:mm:ss +zzzz" with its double quotes. */
#define MF_IMAP_DATETIME_LEN 28

/* Writes dt as a quoted date-time, e.g. "\"05-Mar-2024 14:07:09 +0100\""
 * (2-digit day, which date-day-fixed allows), NUL-terminated, into out.
 * dt must be valid (mf_imap_datetime_parse() output is). */
void mf_imap_datetime_format(const struct mf_imap_datetime *dt,
                             char out[MF_IMAP_DATETIME_LEN + 1]);
/* Parses a date-time as a server sends it in INTERNALDATE, without the
 * quotes (the parser removed them): " 5-Mar-2024 14:07:09 +0100",
 * "05-Mar-2024 ..." and "5-Mar-2024 ..." are accepted, month names in any
 * case. Checks every range (day against the month, leap years). Returns
 * MF_E_IMAP_PARSE and leaves *dt_r untouched on error. */
MF_WARN_UNUSED mf_err mf_imap_datetime_parse(const char *s, size_t len,
                                             struct mf_imap_datetime *dt_r);
/* Seconds since the epoch (UTC) of a valid dt. */
int64_t mf_imap_datetime_to_unix(const struct mf_imap_datetime *dt);
/* The wall-clock time of t (UTC seconds) in the zone tz_minutes east. */
void mf_imap_datetime_from_unix(int64_t t, int tz_minutes,
                                struct mf_imap_datetime *dt_r);
/* Writes an RFC 3501 "date" for SEARCH SINCE/BEFORE: "5-Mar-2024" (no
 * quotes needed), NUL-terminated; out holds at least 12 bytes. */
void mf_imap_date_format(int year, int month, int day, char out[12]);

/* ASCII case-insensitive comparison of the n bytes at w with the whole of
 * kw (shared by parser.c and imaparg.c). */
bool mf__imap_word_eq(const uint8_t *w, size_t n, const char *kw);

#endif
