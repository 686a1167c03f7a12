/*
 * Streaming JSON writer (see mailferry/json.h). Output is always valid
 * JSON text: strings are escaped and invalid UTF-8 is replaced, so a
 * hostile folder name or server message cannot break a report or log line.
 */
#include "mailferry/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void
mf_json_append_stringn(struct mf_buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    mf_buf_append(b, "\"", 1);
    while (i < n) {
        unsigned char c = s[i];
        size_t len;

        if (c == '"' || c == '\\') {
            mf_buf_append(b, "\\", 1);
            mf_buf_append(b, &c, 1);
            i++;
        } else if (c == '\n') {
            mf_buf_append(b, "\\n", 2), i++;
        } else if (c == '\r') {
            mf_buf_append(b, "\\r", 2), i++;
        } else if (c == '\t') {
            mf_buf_append(b, "\\t", 2), i++;
        } else if (c < 0x20 || c == 0x7f) {
            mf_buf_appendf(b, "\\u%04x", c);
            i++;
        } else if ((len = mf_utf8_next(s + i, n - i, NULL)) > 0) {
            mf_buf_append(b, s + i, len);
            i += len;
        } else {
            mf_buf_append(b, "\\ufffd", 6);
            i++;
        }
    }
    mf_buf_append(b, "\"", 1);
}

void
mf_json_append_string(struct mf_buf *b, const char *s) {
    mf_json_append_stringn(b, s, strlen(s));
}

void
mf_json_init(struct mf_json *j, struct mf_buf *out) {
    memset(j, 0, sizeof(*j));
    j->out = out;
}

struct mf_json *
mf_json_doc_begin(struct mf_json_doc *d) {
    memset(&d->buf, 0, sizeof(d->buf));
    mf_json_init(&d->j, &d->buf);
    return &d->j;
}

void
mf_json_doc_print(struct mf_json_doc *d, FILE *out) {
    fprintf(out, "%s\n", d->buf.data ? (char *)d->buf.data : "{}");
    mf_buf_free(&d->buf);
}

/* Emits the separator before a value (not after a key). */
static void
before_value(struct mf_json *j) {
    if (j->need_comma[j->depth])
        mf_buf_append(j->out, ",", 1);
    j->need_comma[j->depth] = true;
}

static void
open(struct mf_json *j, char c) {
    before_value(j);
    mf_buf_append(j->out, &c, 1);
    MF_ASSERT(j->depth + 1 < MF_JSON_MAX_DEPTH);
    j->depth++;
    j->need_comma[j->depth] = false;
}

static void
close_(struct mf_json *j, char c) {
    MF_ASSERT(j->depth > 0);
    j->depth--;
    mf_buf_append(j->out, &c, 1);
}

void
mf_json_object_begin(struct mf_json *j) {
    open(j, '{');
}

void
mf_json_object_end(struct mf_json *j) {
    close_(j, '}');
}

void
mf_json_array_begin(struct mf_json *j) {
    open(j, '[');
}

void
mf_json_array_end(struct mf_json *j) {
    close_(j, ']');
}

void
mf_json_key(struct mf_json *j, const char *key) {
    before_value(j);
    mf_json_append_string(j->out, key);
    mf_buf_append(j->out, ":", 1);
    /* The value that follows must not emit a comma. */
    j->need_comma[j->depth] = false;
}

void
mf_json_string(struct mf_json *j, const char *s) {
    before_value(j);
    if (s)
        mf_json_append_string(j->out, s);
    else
        mf_buf_append_str(j->out, "null");
}

void
mf_json_u64(struct mf_json *j, uint64_t v) {
    before_value(j);
    mf_buf_appendf(j->out, "%" PRIu64, v);
}

void
mf_json_i64(struct mf_json *j, int64_t v) {
    before_value(j);
    mf_buf_appendf(j->out, "%" PRId64, v);
}

void
mf_json_double(struct mf_json *j, double v) {
    before_value(j);
    if (isfinite(v))
        mf_buf_appendf(j->out, "%.6g", v);
    else
        mf_buf_append_str(j->out, "null");
}

void
mf_json_bool(struct mf_json *j, bool v) {
    before_value(j);
    mf_buf_append_str(j->out, v ? "true" : "false");
}

void
mf_json_null(struct mf_json *j) {
    before_value(j);
    mf_buf_append_str(j->out, "null");
}
