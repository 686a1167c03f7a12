/*
 * RFC 4180 tokenizer: bytes in, records of fields out (see csv_int.h).
 *
 * RFC 4180 section 2:
 *   file        = [header CRLF] record *(CRLF record) [CRLF]
 *   field       = (escaped / non-escaped)
 *   escaped     = DQUOTE *(TEXTDATA / COMMA / CR / LF / 2DQUOTE) DQUOTE
 *   non-escaped = *TEXTDATA
 *
 * Deviations, all on the side of what spreadsheets write: LF and a lone
 * CR end a record as CRLF does; a UTF-8 byte-order mark at the start is
 * skipped; the text is UTF-8 rather than 7-bit.
 *
 * It is a byte-at-a-time state machine, so chunk boundaries never matter:
 * the only state carried between calls is in struct mf__csv_tokenizer.
 */
#include "csv_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state {
    S_BOM, /* checking for a byte-order mark */
    S_FIELD_START,
    S_UNQUOTED,
    S_QUOTED,
    S_QUOTE_SEEN, /* a quote inside a quoted field: end, or "" */
    S_AFTER_CR,   /* a CR ended a record; swallow one LF */
};

static const uint8_t bom[3] = {0xef, 0xbb, 0xbf};

struct mf__csv_tokenizer {
    enum state state;
    size_t max_field;
    mf__csv_record_cb on_record;
    mf__csv_issue_cb on_issue;
    void *ud;

    struct mf__csv_record rec;
    size_t field_start; /* offset of the current field in rec.bytes */
    size_t field_len;
    bool field_bad;
    bool field_quoted;
    uint64_t field_line;
    bool record_open; /* a record has started (a byte was seen) */

    uint64_t line; /* physical line of the byte being read */
    uint64_t chr;  /* character position in that line, 1-based */
    bool prev_cr;
    uint64_t quote_line; /* where the open quote is */
    uint64_t quote_chr;

    unsigned bom_seen;

    /* UTF-8 validation of the current field. */
    unsigned u8_need;     /* continuation bytes still expected */
    uint8_t u8_lo, u8_hi; /* range allowed for the next continuation */
};

static void issue(struct mf__csv_tokenizer *t, mf_err code, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

static void
issue(struct mf__csv_tokenizer *t, mf_err code, const char *fmt, ...) {
    char detail[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    t->field_bad = true;
    t->rec.bad = true;
    t->on_issue(t->ud, t->field_line, t->rec.ntotal + 1, code, detail);
}

struct mf__csv_tokenizer *
mf__csv_tokenizer_new(size_t max_field, mf__csv_record_cb on_record,
                      mf__csv_issue_cb on_issue, void *ud) {
    struct mf__csv_tokenizer *t = mf_xcalloc(1, sizeof(*t));

    t->state = S_BOM;
    t->max_field = max_field;
    t->on_record = on_record;
    t->on_issue = on_issue;
    t->ud = ud;
    t->line = 1;
    t->chr = 1;
    return t;
}

void
mf__csv_tokenizer_free(struct mf__csv_tokenizer **t) {
    if (!*t)
        return;
    mf_buf_free(&(*t)->rec.bytes);
    free(*t);
    *t = NULL;
}

static void
field_begin(struct mf__csv_tokenizer *t) {
    t->field_start = t->rec.bytes.len;
    t->field_len = 0;
    t->field_bad = false;
    t->field_quoted = false;
    t->field_line = t->line;
    t->u8_need = 0;
    if (!t->record_open) {
        t->record_open = true;
        t->rec.line = t->line;
    }
}

/* Checks one byte of field text for UTF-8 validity (RFC 3629 section 4). */
static void
utf8_check(struct mf__csv_tokenizer *t, uint8_t c) {
    if (t->u8_need) {
        if (c >= t->u8_lo && c <= t->u8_hi) {
            t->u8_need--;
            t->u8_lo = 0x80, t->u8_hi = 0xbf;
            return;
        }
        t->u8_need = 0;
        if (!t->field_bad)
            issue(t, MF_E_CSV_BAD_UTF8,
                  "truncated UTF-8 sequence at character %llu",
                  (unsigned long long)t->chr);
        /* fall through to judge c on its own */
    }
    if (c < 0x80)
        return;
    t->u8_lo = 0x80, t->u8_hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        t->u8_need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        t->u8_need = 2;
        if (c == 0xe0)
            t->u8_lo = 0xa0; /* no overlong forms */
        if (c == 0xed)
            t->u8_hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        t->u8_need = 3;
        if (c == 0xf0)
            t->u8_lo = 0x90;
        if (c == 0xf4)
            t->u8_hi = 0x8f; /* nothing past U+10FFFF */
    } else if (!t->field_bad) {
        issue(t, MF_E_CSV_BAD_UTF8, "byte 0x%02x at character %llu", c,
              (unsigned long long)t->chr);
    }
}

static void
field_add(struct mf__csv_tokenizer *t, uint8_t c) {
    utf8_check(t, c);
    if (t->field_len >= t->max_field) {
        if (!t->field_bad)
            issue(t, MF_E_CSV_FIELD_TOO_LONG, "longer than %zu bytes",
                  t->max_field);
        return;
    }
    if (t->rec.nfields < MF_CSV_MAX_FIELDS)
        mf_buf_append(&t->rec.bytes, &c, 1);
    t->field_len++;
}

static void
field_end(struct mf__csv_tokenizer *t) {
    if (t->u8_need && !t->field_bad)
        issue(t, MF_E_CSV_BAD_UTF8, "UTF-8 sequence cut off at field end");
    if (t->rec.nfields < MF_CSV_MAX_FIELDS) {
        struct mf__csv_field *f = &t->rec.fields[t->rec.nfields++];
        uint8_t nul = 0;
        f->off = t->field_start;
        f->len = t->field_len;
        f->line = t->field_line;
        f->bad = t->field_bad;
        mf_buf_append(&t->rec.bytes, &nul, 1);
    }
    t->rec.ntotal++;
}

static void
record_end(struct mf__csv_tokenizer *t) {
    field_end(t);
    /* A line with nothing on it is not a record (RFC 4180 allows a final
     * line break; spreadsheets leave blank lines). */
    bool blank = t->rec.ntotal == 1 && t->rec.fields[0].len == 0 &&
                 !t->field_quoted && !t->rec.bad;
    if (!blank)
        t->on_record(t->ud, &t->rec);
    mf_buf_reset(&t->rec.bytes);
    t->rec.nfields = t->rec.ntotal = 0;
    t->rec.bad = false;
    t->record_open = false;
}

/* After a field's text: a comma ends the field, a line end the record.
 * Returns false when c is neither. */
static bool
separator(struct mf__csv_tokenizer *t, uint8_t c) {
    if (c == ',') {
        field_end(t);
        t->state = S_FIELD_START;
    } else if (c == '\r') {
        record_end(t);
        t->state = S_AFTER_CR;
    } else if (c == '\n') {
        record_end(t);
        t->state = S_FIELD_START;
    } else {
        return false;
    }
    return true;
}

static void
step(struct mf__csv_tokenizer *t, uint8_t c) {
    switch (t->state) {
    case S_BOM: /* handled in feed() */
        MF_ASSERT(0);
        break;
    case S_AFTER_CR:
        t->state = S_FIELD_START;
        if (c == '\n')
            return;
        /* a lone CR: c starts the next record */
        step(t, c);
        return;
    case S_FIELD_START:
        field_begin(t);
        if (c == '"') {
            t->field_quoted = true;
            t->quote_line = t->line;
            t->quote_chr = t->chr;
            t->state = S_QUOTED;
        } else if (c == ',') {
            field_end(t);
        } else if (c == '\r') {
            record_end(t);
            t->state = S_AFTER_CR;
        } else if (c == '\n') {
            record_end(t);
        } else {
            field_add(t, c);
            t->state = S_UNQUOTED;
        }
        return;
    case S_UNQUOTED:
        if (!separator(t, c)) {
            if (c == '"' && !t->field_bad)
                issue(t, MF_E_CSV_BAD_QUOTE,
                      "quote inside an unquoted field at character %llu "
                      "(quote the whole field and double the quote)",
                      (unsigned long long)t->chr);
            field_add(t, c);
        }
        return;
    case S_QUOTED:
        if (c == '"')
            t->state = S_QUOTE_SEEN;
        else
            field_add(t, c);
        return;
    case S_QUOTE_SEEN:
        if (c == '"') {
            field_add(t, c);
            t->state = S_QUOTED;
        } else if (!separator(t, c)) {
            if (!t->field_bad)
                issue(t, MF_E_CSV_BAD_QUOTE,
                      "text after the closing quote at character %llu",
                      (unsigned long long)t->chr);
            field_add(t, c);
            t->state = S_UNQUOTED;
        }
        return;
    }
}

/* Reads one byte, keeping the line and character counters right. */
static void
read_byte(struct mf__csv_tokenizer *t, uint8_t c) {
    step(t, c);
    if (c == '\r' || (c == '\n' && !t->prev_cr)) {
        t->line++;
        t->chr = 1;
    } else if (c != '\n' && (c & 0xc0) != 0x80) {
        t->chr++;
    }
    t->prev_cr = c == '\r';
}

void
mf__csv_tokenizer_feed(struct mf__csv_tokenizer *t, const uint8_t *data,
                       size_t len) {
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (t->state == S_BOM) {
            if (c == bom[t->bom_seen]) {
                if (++t->bom_seen == sizeof(bom))
                    t->state = S_FIELD_START;
                continue;
            }
            /* Not a BOM after all: replay what was held back. */
            unsigned held = t->bom_seen;
            t->state = S_FIELD_START;
            for (unsigned k = 0; k < held; k++)
                read_byte(t, bom[k]);
        }
        read_byte(t, c);
    }
}

void
mf__csv_tokenizer_finish(struct mf__csv_tokenizer *t) {
    if (t->state == S_BOM) {
        unsigned held = t->bom_seen;
        t->state = S_FIELD_START;
        for (unsigned k = 0; k < held; k++)
            read_byte(t, bom[k]);
    }
    if (t->state == S_QUOTED) {
        t->field_line = t->quote_line;
        issue(t, MF_E_CSV_UNTERMINATED_QUOTE,
              "the quote opened at line %llu, character %llu is never closed",
              (unsigned long long)t->quote_line,
              (unsigned long long)t->quote_chr);
        record_end(t);
    } else if (t->state == S_UNQUOTED || t->state == S_QUOTE_SEEN ||
               (t->state == S_FIELD_START && t->record_open)) {
        record_end(t);
    }
    t->state = S_FIELD_START;
}
