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
#include <stdio.h>

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

/* One JSON document printed whole, the way every --json answer is:
 * mf_json_doc_begin() gives a writer into d's own buffer, and
 * mf_json_doc_print() prints the document and a newline on out ("{}" when
 * nothing was written) and frees the buffer. */
struct mf_json_doc {
    struct mf_buf buf; /* owned until mf_json_doc_print() */
    struct mf_json j;
};
struct mf_json *mf_json_doc_begin(struct mf_json_doc *d);
void mf_json_doc_print(struct mf_json_doc *d, FILE *out);

/* Writes one member "key": v with the writer that fits v's type:
 * bool, double, text (char * or a char array; NULL writes null), long
 * and long long (int64_t) as mf_json_i64(), unsigned integers as
 * mf_json_u64(). Any other type does not compile, int included: in C a
 * comparison and `true` are ints, so cast a truth to bool and a signed
 * number to int64_t. Beware of enums, which are unsigned integers here:
 * write their names with mf_json_string(). */
#define mf_json_value(j, v)                                                    \
    _Generic((v),                                                              \
        bool: mf_json_bool,                                                    \
        double: mf_json_double,                                                \
        char *: mf_json_string,                                                \
        const char *: mf_json_string,                                          \
        long: mf_json_i64,                                                     \
        long long: mf_json_i64,                                                \
        unsigned char: mf_json_u64,                                            \
        unsigned short: mf_json_u64,                                           \
        unsigned int: mf_json_u64,                                             \
        unsigned long: mf_json_u64,                                            \
        unsigned long long: mf_json_u64)((j), (v))
#define mf_json_member(j, key, v)                                              \
    (mf_json_key((j), (key)), mf_json_value((j), (v)))
/* A member that is v when known, else null ("eta_seconds": null). */
#define mf_json_member_or_null(j, key, known, v)                               \
    (mf_json_key((j), (key)),                                                  \
     (known) ? mf_json_value((j), (v)) : mf_json_null(j))

/* Writes the fields named (1 to 16 of them) of the struct p points at as
 * members named like the fields, in that order, each with
 * mf_json_value(): MF_JSON_FIELDS(j, st, messages_copied, bytes_copied)
 * writes "messages_copied":..,"bytes_copied":... The one way the JSON
 * outputs write a struct's fields under their own names. */
#define MF_JSON_FIELDS(j, p, ...)                                              \
    MF__JM_PICK(__VA_ARGS__, MF__JM16, MF__JM15, MF__JM14, MF__JM13, MF__JM12, \
                MF__JM11, MF__JM10, MF__JM9, MF__JM8, MF__JM7, MF__JM6,        \
                MF__JM5, MF__JM4, MF__JM3, MF__JM2, MF__JM1)                   \
    (j, p, __VA_ARGS__)
#define MF__JM_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13,    \
                    _14, _15, _16, m, ...)                                     \
    m
#define MF__JM1(j, p, f) mf_json_member((j), #f, (p)->f);
#define MF__JM2(j, p, f, ...) MF__JM1(j, p, f) MF__JM1(j, p, __VA_ARGS__)
#define MF__JM3(j, p, f, ...) MF__JM1(j, p, f) MF__JM2(j, p, __VA_ARGS__)
#define MF__JM4(j, p, f, ...) MF__JM1(j, p, f) MF__JM3(j, p, __VA_ARGS__)
#define MF__JM5(j, p, f, ...) MF__JM1(j, p, f) MF__JM4(j, p, __VA_ARGS__)
#define MF__JM6(j, p, f, ...) MF__JM1(j, p, f) MF__JM5(j, p, __VA_ARGS__)
#define MF__JM7(j, p, f, ...) MF__JM1(j, p, f) MF__JM6(j, p, __VA_ARGS__)
#define MF__JM8(j, p, f, ...) MF__JM1(j, p, f) MF__JM7(j, p, __VA_ARGS__)
#define MF__JM9(j, p, f, ...) MF__JM1(j, p, f) MF__JM8(j, p, __VA_ARGS__)
#define MF__JM10(j, p, f, ...) MF__JM1(j, p, f) MF__JM9(j, p, __VA_ARGS__)
#define MF__JM11(j, p, f, ...) MF__JM1(j, p, f) MF__JM10(j, p, __VA_ARGS__)
#define MF__JM12(j, p, f, ...) MF__JM1(j, p, f) MF__JM11(j, p, __VA_ARGS__)
#define MF__JM13(j, p, f, ...) MF__JM1(j, p, f) MF__JM12(j, p, __VA_ARGS__)
#define MF__JM14(j, p, f, ...) MF__JM1(j, p, f) MF__JM13(j, p, __VA_ARGS__)
#define MF__JM15(j, p, f, ...) MF__JM1(j, p, f) MF__JM14(j, p, __VA_ARGS__)
#define MF__JM16(j, p, f, ...) MF__JM1(j, p, f) MF__JM15(j, p, __VA_ARGS__)

#endif
