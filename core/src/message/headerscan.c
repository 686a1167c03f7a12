/*
 * The header scanner and the RFC 2047 decoder (mailferry/fingerprint.h):
 * the Message-ID that fingerprint.c hashes, and the Subject, Date and From
 * for whoever shows a message (reports decode the Subject with
 * mf_header_decode_2047()).
 *
 * The header scanner is a byte-at-a-time state machine, so a chunk
 * boundary can fall anywhere without changing the result. It keeps no copy
 * of the header: the values of the four fields it wants go into one arena,
 * each followed by a NUL, and everything else is only counted. Every byte
 * in the arena stands for a distinct input byte (the field name, the colon
 * and the line end stand for the NUL), so the arena never outgrows the
 * bytes looked at, which are capped at max_header.
 *
 * The RFC 2047 decoder works on a NUL-terminated string and only appends to
 * the caller's buffer.
 */
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailferry/fingerprint.h"

/* ================================================================== */
/* Header scanner                                                      */
/* ================================================================== */

enum field { F_MSGID, F_SUBJECT, F_DATE, F_FROM, F_COUNT, F_NONE = F_COUNT };

static const char *const field_names[F_COUNT] = {"message-id", "subject",
                                                 "date", "from"};

/* Where in a line the scanner is. */
enum line_state {
    L_START,    /* at the first byte of a line */
    L_START_CR, /* a line began with CR: the empty line, if LF follows */
    L_NAME,     /* in the field name, before the colon */
    L_VALUE,    /* after the colon, or in a continuation line */
};

#define NAME_MAX_LEN 15 /* longer than any name we want */

struct mf_header_scan {
    size_t max; /* bytes looked at, at most */
    size_t consumed;
    enum mf_header_scan_state state;
    enum line_state ls;
    bool cr; /* a CR was seen inside a line; LF would end it */

    char name[NAME_MAX_LEN + 1];
    size_t name_len;
    bool name_bad;   /* not a field we want, whatever follows */
    bool name_blank; /* blanks after the name (obs-optional) */

    enum field cur;   /* the field whose value is being collected */
    size_t cur_start; /* its offset in arena */

    uint8_t *arena; /* owned: the values, each NUL-terminated */
    size_t len, cap;
    bool have[F_COUNT];
    size_t off[F_COUNT];
};

struct mf_header_scan *
mf_header_scan_new(size_t max_header) {
    struct mf_header_scan *s = mf_xcalloc(1, sizeof(*s));

    s->max = max_header ? max_header : MF_HEADER_SCAN_MAX;
    mf_header_scan_reset(s);
    return s;
}

void
mf_header_scan_free(struct mf_header_scan **p) {
    if (!p || !*p)
        return;
    free((*p)->arena);
    free(*p);
    *p = NULL;
}

void
mf_header_scan_reset(struct mf_header_scan *s) {
    MF_ASSERT(s);
    s->consumed = 0;
    s->state = MF_HEADER_SCAN_MORE;
    s->ls = L_START;
    s->cr = false;
    s->name_len = 0;
    s->name_bad = false;
    s->name_blank = false;
    s->cur = F_NONE;
    s->cur_start = 0;
    s->len = 0;
    memset(s->have, 0, sizeof(s->have));
    memset(s->off, 0, sizeof(s->off));
}

static void
arena_put(struct mf_header_scan *s, uint8_t c) {
    /* Each arena byte stands for an input byte (see the top), so this
     * cannot pass max; the assertion guards that argument. */
    MF_ASSERT(s->len < s->max);
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;

        if (cap > s->max)
            cap = s->max;
        s->arena = mf_xrealloc(s->arena, cap);
        s->cap = cap;
    }
    s->arena[s->len++] = c;
}

static bool
is_blank(uint8_t c) {
    return c == ' ' || c == '\t';
}

/* The field being collected is complete: trim it, keep it when not empty. */
static void
end_field(struct mf_header_scan *s) {
    enum field f = s->cur;

    if (f == F_NONE)
        return;
    s->cur = F_NONE;
    while (s->len > s->cur_start && is_blank(s->arena[s->len - 1]))
        s->len--;
    if (s->len == s->cur_start)
        return;
    arena_put(s, '\0');
    s->have[f] = true;
    s->off[f] = s->cur_start;
}

static void
stop(struct mf_header_scan *s, enum mf_header_scan_state why) {
    end_field(s);
    s->state = why;
}

/* RFC 5322 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126. */
static bool
is_ftext(uint8_t c) {
    return c >= 33 && c <= 126 && c != ':';
}

static void
name_byte(struct mf_header_scan *s, uint8_t c) {
    if (is_blank(c)) {
        /* RFC 5322 4.5.3 obs-optional: blanks before the colon. */
        if (s->name_len == 0)
            s->name_bad = true;
        s->name_blank = true;
        return;
    }
    if (!is_ftext(c) || s->name_blank || s->name_len == NAME_MAX_LEN) {
        s->name_bad = true;
        return;
    }
    s->name[s->name_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

static void
name_done(struct mf_header_scan *s) {
    s->cur = F_NONE;
    if (s->name_bad || s->name_len == 0)
        return;
    s->name[s->name_len] = '\0';
    for (int f = 0; f < F_COUNT; f++) {
        if (strcmp(s->name, field_names[f]) == 0) {
            if (!s->have[f]) {
                s->cur = (enum field)f;
                s->cur_start = s->len;
            }
            return;
        }
    }
}

static void
value_byte(struct mf_header_scan *s, uint8_t c) {
    if (s->cur == F_NONE || c == '\0')
        return;
    if (s->len == s->cur_start && is_blank(c))
        return;
    arena_put(s, c);
}

/* One input byte; s->consumed already counts it. */
static void
step(struct mf_header_scan *s, uint8_t c) {
    if (s->ls == L_START_CR) {
        if (c == '\n') {
            stop(s, MF_HEADER_SCAN_END);
            return;
        }
        s->ls = L_START; /* a bare CR is dropped wherever it is */
    }
    if (s->ls == L_START) {
        if (is_blank(c)) {
            /* RFC 5322 2.2.3: a line that starts with WSP continues the
             * field above; unfolding removes only the line end. */
            s->ls = L_VALUE;
            value_byte(s, c);
            return;
        }
        if (c == '\r') {
            s->ls = L_START_CR;
            return;
        }
        end_field(s);
        if (c == '\n') {
            stop(s, MF_HEADER_SCAN_END);
            return;
        }
        s->ls = L_NAME;
        s->name_len = 0;
        s->name_bad = false;
        s->name_blank = false;
        /* c is the name's first byte: on below */
    }

    if (c == '\r') {
        s->cr = true;
        return;
    }
    if (c == '\n') {
        /* A line without a colon is not a field: it is skipped, and its
         * continuation lines (if any) go nowhere since cur is F_NONE. */
        s->cr = false;
        s->ls = L_START;
        return;
    }
    s->cr = false; /* that CR was bare: dropped */
    if (s->ls == L_NAME) {
        if (c == ':') {
            name_done(s);
            s->ls = L_VALUE;
        } else {
            name_byte(s, c);
        }
        return;
    }
    value_byte(s, c);
}

size_t
mf_header_scan_feed(struct mf_header_scan *s, const uint8_t *data, size_t len) {
    size_t i = 0;

    MF_ASSERT(s && (data || len == 0));
    while (i < len && s->state == MF_HEADER_SCAN_MORE) {
        s->consumed++;
        step(s, data[i++]);
        if (s->state == MF_HEADER_SCAN_MORE && s->consumed == s->max)
            stop(s, MF_HEADER_SCAN_LIMIT);
    }
    return i;
}

void
mf_header_scan_finish(struct mf_header_scan *s) {
    MF_ASSERT(s);
    if (s->state == MF_HEADER_SCAN_MORE)
        stop(s, MF_HEADER_SCAN_EOF);
}

enum mf_header_scan_state
mf_header_scan_state(const struct mf_header_scan *s) {
    MF_ASSERT(s);
    return s->state;
}

size_t
mf_header_scan_length(const struct mf_header_scan *s) {
    MF_ASSERT(s);
    return s->consumed;
}

static const char *
get(const struct mf_header_scan *s, enum field f) {
    MF_ASSERT(s);
    return s->have[f] ? (const char *)s->arena + s->off[f] : NULL;
}

const char *
mf_header_scan_message_id(const struct mf_header_scan *s) {
    return get(s, F_MSGID);
}

const char *
mf_header_scan_subject(const struct mf_header_scan *s) {
    return get(s, F_SUBJECT);
}

const char *
mf_header_scan_date(const struct mf_header_scan *s) {
    return get(s, F_DATE);
}

const char *
mf_header_scan_from(const struct mf_header_scan *s) {
    return get(s, F_FROM);
}

/* ================================================================== */
/* RFC 2047 encoded-words                                              */
/* ================================================================== */

enum charset { CS_UTF8, CS_ASCII, CS_LATIN1 };

/* An encoded-word that decoded: its charset, where it ends in the input. */
struct word {
    enum charset cs;
    const char *end;
};

static bool
charset_lookup(const char *name, size_t n, enum charset *cs_r) {
    static const struct {
        const char *name;
        enum charset cs;
    } names[] = {
        {"utf-8", CS_UTF8},        {"utf8", CS_UTF8},
        {"us-ascii", CS_ASCII},    {"ascii", CS_ASCII},
        {"iso-8859-1", CS_LATIN1}, {"iso8859-1", CS_LATIN1},
        {"latin1", CS_LATIN1},     {"iso_8859-1", CS_LATIN1},
    };
    /* RFC 2231 section 5: "charset*language". */
    const char *star = memchr(name, '*', n);

    if (star)
        n = (size_t)(star - name);
    for (size_t i = 0; i < MF_ARRAY_LEN(names); i++) {
        if (strlen(names[i].name) == n &&
            strncasecmp(names[i].name, name, n) == 0) {
            *cs_r = names[i].cs;
            return true;
        }
    }
    return false;
}

static int
hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int
b64val(unsigned char c) {
    return mf_base64_digit(c, '/');
}

/* RFC 2047 4.1. Padding may be missing (common); a lone 6-bit leftover
 * cannot be a byte and fails. */
static bool
decode_b(const char *p, size_t n, struct mf_buf *out) {
    uint32_t acc = 0;
    int bits = 0;
    size_t i = 0, chars = 0;

    for (; i < n && p[i] != '='; i++) {
        int v = b64val(p[i]);

        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        chars++;
        if (bits >= 8) {
            uint8_t byte = (uint8_t)(acc >> (bits - 8));

            bits -= 8;
            acc &= (1u << bits) - 1;
            mf_buf_append(out, &byte, 1);
        }
    }
    for (; i < n; i++)
        if (p[i] != '=')
            return false;
    return chars % 4 != 1;
}

/* RFC 2047 4.2: "_" is a space, "=XX" a byte, the rest stands for itself. */
static bool
decode_q(const char *p, size_t n, struct mf_buf *out) {
    for (size_t i = 0; i < n; i++) {
        uint8_t byte = (uint8_t)p[i];

        if (p[i] == '_') {
            byte = ' ';
        } else if (p[i] == '=') {
            int hi, lo;

            if (i + 2 >= n)
                return false;
            hi = hexval(p[i + 1]);
            lo = hexval(p[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            byte = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        mf_buf_append(out, &byte, 1);
    }
    return true;
}

/*
 * RFC 2047 2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
 * with encoded-text = 1*<any printable ASCII except "?" and SPACE>.
 * Parses and decodes the word at p, appending its bytes to bytes. Returns
 * false (bytes as it was) unless it is a well-formed word in a charset we
 * know whose text decodes.
 */
static bool
parse_word(const char *p, struct mf_buf *bytes, struct word *w_r) {
    const char *cs, *enc, *text, *q;
    size_t before = bytes->len;
    bool ok;

    if (p[0] != '=' || p[1] != '?')
        return false;
    cs = p + 2;
    for (q = cs; *q && *q != '?'; q++)
        if (*q <= ' ' || *q >= 0x7f)
            return false;
    if (*q != '?' || q == cs || !charset_lookup(cs, (size_t)(q - cs), &w_r->cs))
        return false;
    enc = q + 1;
    if (!*enc || enc[1] != '?')
        return false;
    text = enc + 2;
    for (q = text; *q && *q != '?'; q++)
        if (*q <= ' ' || *q >= 0x7f)
            return false;
    if (q[0] != '?' || q[1] != '=' || q == text)
        return false;
    if (*enc == 'B' || *enc == 'b')
        ok = decode_b(text, (size_t)(q - text), bytes);
    else if (*enc == 'Q' || *enc == 'q')
        ok = decode_q(text, (size_t)(q - text), bytes);
    else
        ok = false;
    if (!ok) {
        bytes->len = before;
        return false;
    }
    w_r->end = q + 2;
    return true;
}

/* Appends the decoded bytes of a run of words in charset cs as UTF-8, or,
 * if they are not valid in it, the run's raw text. Empties bytes. */
static void
flush_run(enum charset cs, struct mf_buf *bytes, const char *raw_start,
          const char *raw_end, struct mf_buf *out) {
    bool valid = true;

    for (size_t i = 0; i < bytes->len && valid;) {
        size_t n = cs == CS_UTF8
                       ? mf_utf8_next(bytes->data + i, bytes->len - i, NULL)
                   : cs == CS_ASCII ? (bytes->data[i] < 0x80)
                                    : 1;

        if (n == 0 || (bytes->data[i] == 0))
            valid = false;
        i += n ? n : 1;
    }
    if (!valid) {
        mf_buf_append(out, raw_start, (size_t)(raw_end - raw_start));
    } else if (cs == CS_LATIN1) {
        for (size_t i = 0; i < bytes->len; i++) {
            uint8_t c = bytes->data[i];

            if (c < 0x80) {
                mf_buf_append(out, &c, 1);
            } else {
                uint8_t u[2] = {(uint8_t)(0xc0 | c >> 6),
                                (uint8_t)(0x80 | (c & 0x3f))};

                mf_buf_append(out, u, 2);
            }
        }
    } else {
        mf_buf_append(out, bytes->data, bytes->len);
    }
    bytes->len = 0;
}

void
mf_header_decode_2047(const char *raw, struct mf_buf *out) {
    struct mf_buf run = {0};  /* decoded bytes of the current run */
    struct mf_buf word = {0}; /* decoded bytes of one word */
    const char *p = raw, *run_start = NULL, *run_end = NULL;
    enum charset run_cs = CS_UTF8;
    struct word w;

    MF_ASSERT(raw && out);
    while (*p) {
        const char *q = p;

        /* RFC 2047 6.2: blanks between two encoded-words are dropped. */
        if (run_start)
            while (is_blank((uint8_t)*q))
                q++;
        word.len = 0;
        if (parse_word(q, &word, &w)) {
            if (run_start && w.cs != run_cs) {
                flush_run(run_cs, &run, run_start, run_end, out);
                run_start = NULL;
            }
            if (!run_start) {
                run_start = q;
                run_cs = w.cs;
            }
            mf_buf_append(&run, word.data, word.len);
            run_end = w.end;
            p = w.end;
            continue;
        }
        if (run_start) {
            flush_run(run_cs, &run, run_start, run_end, out);
            run_start = run_end = NULL;
            continue; /* p is just after the run: copy from there */
        }
        mf_buf_append(out, p, 1);
        p++;
    }
    if (run_start)
        flush_run(run_cs, &run, run_start, run_end, out);
    mf_buf_free(&run);
    mf_buf_free(&word);
}
