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

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n) {
    uint32_t cp;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

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
        } else if ((len = utf8_seq_len(s + i, n - i)) > 0) {
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
