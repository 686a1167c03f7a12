/*
 * A minimal streaming JSON writer into an mf_buf: enough for log lines,
 * --json output and reports. The caller writes structure (braces, commas)
 * with the helpers below; the writer tracks whether a comma is due.
 */
#ifndef MAILFERRY_JSON_H
#define MAILFERRY_JSON_H

#include "mailferry/util.h"

#include <stdbool.h>
#include <stdint.h>

/* Appends s as a JSON string literal (with quotes), escaping control
 * characters, quotes and backslashes; invalid UTF-8 bytes become U+FFFD. */
void mf_json_append_string(struct mf_buf *b, const char *s);
void mf_json_append_stringn(struct mf_buf *b, const char *s, size_t n);

#define MF_JSON_MAX_DEPTH 32
struct mf_json {
    struct mf_buf *out; /* borrowed */
    int depth;
    bool need_comma[MF_JSON_MAX_DEPTH];
};

void mf_json_init(struct mf_json *j, struct mf_buf *out);
void mf_json_object_begin(struct mf_json *j);
void mf_json_object_end(struct mf_json *j);
void mf_json_array_begin(struct mf_json *j);
void mf_json_array_end(struct mf_json *j);
/* Starts a member in the current object; follow with one value. */
void mf_json_key(struct mf_json *j, const char *key);
void mf_json_string(struct mf_json *j, const char *s); /* NULL writes null */
void mf_json_u64(struct mf_json *j, uint64_t v);
void mf_json_i64(struct mf_json *j, int64_t v);
void mf_json_double(struct mf_json *j, double v);
void mf_json_bool(struct mf_json *j, bool v);
void mf_json_null(struct mf_json *j);

#endif
