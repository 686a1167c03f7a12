/*
 * Message repair (mailferry/repair.h): one pass over the lines of a
 * message to find what strict targets refuse, one pass to fix exactly
 * that.
 *
 * Lines: a line ends at CRLF, at a bare LF, or at a bare CR (RFC 5322
 * 2.3: "CR and LF MUST only occur together as CRLF"); its length is
 * counted without its end. The header section is every line before the
 * first empty one (RFC 5322 2.1); in it, a line is a field (RFC 5322
 * 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126, then ":"), or
 * a continuation (it starts with a space or a tab, 2.2.3), or a defect.
 */
#include "mailferry/repair.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* One line: [start, start + len), its end ("\r\n", "\n", "\r" or none). */
struct line {
    size_t start, len;
    size_t end_len; /* 0 (last line, no end), 1 or 2 */
    bool bare_lf, bare_cr;
};

/* The line at *pos; advances *pos past its end. False at the end. */
static bool
next_line(const uint8_t *m, size_t n, size_t *pos, struct line *l) {
    size_t i = *pos;

    if (i >= n)
        return false;
    memset(l, 0, sizeof(*l));
    l->start = i;
    while (i < n && m[i] != '\n' && m[i] != '\r')
        i++;
    l->len = i - l->start;
    if (i < n && m[i] == '\r' && i + 1 < n && m[i + 1] == '\n')
        l->end_len = 2;
    else if (i < n && m[i] == '\n')
        l->end_len = 1, l->bare_lf = true;
    else if (i < n && m[i] == '\r')
        l->end_len = 1, l->bare_cr = true;
    *pos = i + l->end_len;
    return true;
}

static bool
is_field(const uint8_t *p, size_t len) {
    size_t i = 0;

    while (i < len && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
        i++;
    return i > 0 && i < len && p[i] == ':';
}

static bool
is_wsp(uint8_t c) {
    return c == ' ' || c == '\t';
}

unsigned
mf_repair_check(const uint8_t *msg, size_t len, struct mf_repair *r) {
    struct line l;
    size_t pos = 0;
    uint64_t no = 0;
    bool header = true;

    memset(r, 0, sizeof(*r));
    while (next_line(msg, len, &pos, &l)) {
        const uint8_t *p = msg + l.start;
        no++;
        r->bare_lf += l.bare_lf;
        r->bare_cr += l.bare_cr;
        for (size_t i = 0; i < l.len; i++)
            r->nuls += p[i] == '\0';
        if (l.len > MF_REPAIR_LINE_MAX) {
            if (!r->long_lines++)
                r->first_long_line = no;
        }
        if (header && l.len == 0) {
            header = false;
        } else if (header && !is_field(p, l.len) && !(no > 1 && is_wsp(p[0]))) {
            if (!r->bad_headers++)
                r->first_bad_header = no;
        }
    }
    r->found = (r->bare_lf ? MF_REPAIR_BARE_LF : 0) |
               (r->bare_cr ? MF_REPAIR_BARE_CR : 0) |
               (r->long_lines ? MF_REPAIR_LONG_LINE : 0) |
               (r->nuls ? MF_REPAIR_NUL : 0) |
               (r->bad_headers ? MF_REPAIR_BAD_HEADER : 0);
    return r->found;
}

/* Appends p[0..n) with NULs made spaces. */
static void
put(struct mf_buf *out, const uint8_t *p, size_t n) {
    size_t i = 0;

    while (i < n) {
        const uint8_t *z = memchr(p + i, '\0', n - i);
        size_t k = z ? (size_t)(z - (p + i)) : n - i;
        mf_buf_append(out, p + i, k);
        i += k;
        if (z) {
            mf_buf_append(out, " ", 1);
            i++;
        }
    }
}

/* Appends one line's content, broken into pieces of at most the limit
 * (extra: bytes already written on the first piece's line): in the header
 * each break is a fold (CRLF before a space or tab, which starts the next
 * piece; a space is inserted when there is none), in the body a plain
 * CRLF after the last space or tab, or at the limit. */
static void
put_long(struct mf_buf *out, const uint8_t *p, size_t n, bool header,
         size_t extra) {
    while (n + extra > MF_REPAIR_LINE_MAX) {
        size_t room = MF_REPAIR_LINE_MAX - extra, cut = 0, k;
        for (size_t i = room; i > 1; i--)
            if (is_wsp(p[i - 1])) {
                cut = i;
                break;
            }
        if (header) {
            /* Fold before the blank: it begins the continuation. */
            k = cut ? cut - 1 : room;
            put(out, p, k);
            mf_buf_append(out, cut ? "\r\n" : "\r\n ", cut ? 2 : 3);
            extra = cut ? 0 : 1;
        } else {
            k = cut ? cut : room;
            put(out, p, k);
            mf_buf_append(out, "\r\n", 2);
            extra = 0;
        }
        p += k, n -= k;
    }
    put(out, p, n);
}

void
mf_repair_fix(const uint8_t *msg, size_t len, const struct mf_repair *r,
              struct mf_buf *out) {
    struct line l;
    size_t pos = 0;
    uint64_t no = 0;
    bool header = true;

    (void)r; /* every defect found is fixed; nothing else changes */
    while (next_line(msg, len, &pos, &l)) {
        const uint8_t *p = msg + l.start;
        const char *prefix = "";
        no++;
        if (header && l.len == 0) {
            header = false;
        } else if (header && !is_field(p, l.len) && !(no > 1 && is_wsp(p[0]))) {
            prefix = no > 1 ? " " : "X-Mailferry-Repaired: ";
            mf_buf_append_str(out, prefix);
        }
        put_long(out, p, l.len, header, strlen(prefix));
        if (l.end_len)
            mf_buf_append(out, "\r\n", 2);
    }
}

void
mf_repair_describe(const struct mf_repair *r, bool fixed, char *out, size_t n) {
    size_t pos = 0;

#define ADD(...)                                                               \
    do {                                                                       \
        if (pos < n)                                                           \
            pos += (size_t)snprintf(out + pos, n - pos, __VA_ARGS__);          \
    } while (0)
    out[0] = '\0';
    if (r->bare_lf)
        ADD("%s%" PRIu64 " bare LF line ends%s", pos ? ", " : "", r->bare_lf,
            fixed ? " made CRLF" : "");
    if (r->bare_cr)
        ADD("%s%" PRIu64 " bare CR%s", pos ? ", " : "", r->bare_cr,
            fixed ? " made CRLF" : "");
    if (r->long_lines)
        ADD("%s%" PRIu64 " lines over %d bytes (first: line %" PRIu64 ")%s",
            pos ? ", " : "", r->long_lines, MF_REPAIR_LINE_MAX,
            r->first_long_line, fixed ? " folded" : "");
    if (r->nuls)
        ADD("%s%" PRIu64 " NUL bytes%s", pos ? ", " : "", r->nuls,
            fixed ? " made spaces" : "");
    if (r->bad_headers)
        ADD("%s%" PRIu64 " header lines without a field name (first: line "
            "%" PRIu64 ")%s",
            pos ? ", " : "", r->bad_headers, r->first_bad_header,
            fixed ? " made continuations" : "");
#undef ADD
}
