/*
 * The one UTF-8 decoder (core/src/util/utf8.c): table-driven sequences,
 * valid ones with their code point and length, and every kind of invalid
 * one RFC 3629 rules out (overlong, surrogate, past U+10FFFF, truncated,
 * a bad continuation byte, a lone continuation byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/util.h"

#include <string.h>

static void
test_vectors(void **state) {
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
    } v[] = {
        {"A", 1, 0x41},
        {"\xc3\xa9", 2, 0xe9},
        {"\xe2\x82\xac", 3, 0x20ac},
        {"\xf0\x9f\x98\x80", 4, 0x1f600},
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
        {"\xc0\xaf", 0, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 0, 0},     /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 0, 0}, /* overlong, 4 bytes */
        {"\xed\xa0\x80", 0, 0},     /* U+D800, a surrogate */
        {"\xf4\x90\x80\x80", 0, 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 0, 0},
        {"\xe2\x82", 0, 0}, /* truncated */
        {"\xc3\x28", 0, 0}, /* bad continuation */
        {"\x80", 0, 0},     /* lone continuation */
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        const uint8_t *s = (const uint8_t *)v[i].s;
        uint32_t cp = 0xffffffffu;
        size_t len = mf_utf8_next(s, strlen(v[i].s), &cp);

        if (len != v[i].len || (len && cp != v[i].cp))
            fail_msg("vector %zu: length %zu code point %x", i, len,
                     (unsigned)cp);
        assert_int_equal(mf_utf8_valid(s, strlen(v[i].s)), v[i].len != 0);
    }
    assert_int_equal(mf_utf8_next((const uint8_t *)"x", 0, NULL), 0);
    assert_true(mf_utf8_valid((const uint8_t *)"", 0));
    assert_true(mf_utf8_valid((const uint8_t *)"Gr\xc3\xb6\xc3\x9f"
                                               "e",
                              7));
}

/* mf_utf8_fit(): text cut to terminal columns at a character boundary,
 * wide characters two columns, "\u2026" one. */
static void
test_fit(void **state) {
    static const struct {
        const char *s;
        size_t width, n;
        const char *want;
        size_t cols;
    } v[] = {
        {"hello", 5, 64, "hello", 5},
        {"hello", 10, 64, "hello", 5},
        {"hello world", 8, 64, "hello w\u2026", 8},
        {"", 3, 64, "", 0},
        {"abc", 0, 64, "", 0},
        /* G r o sharp-s e: 5 columns, 7 bytes. */
        {"Gr\xc3\xb6\xc3\x9f"
         "e!",
         5, 64, "Gr\xc3\xb6\xc3\x9f\u2026", 5},
        /* Wide: each of the four takes two columns; 5 columns hold two
         * and the ellipsis. */
        {"\u65e5\u672c\u8a9e\u65e5", 5, 64, "\u65e5\u672c\u2026", 5},
        {"\u65e5\u672c\u8a9e\u65e5", 8, 64, "\u65e5\u672c\u8a9e\u65e5", 8},
        {"\u65e5\u672c\u8a9e\u65e5", 7, 64, "\u65e5\u672c\u8a9e\u2026", 7},
        /* An invalid byte counts one column and is kept as it is. */
        {"a\xff"
         "b",
         3, 64,
         "a\xff"
         "b",
         3},
        /* out too small for the text: cut to fit it, with the ellipsis. */
        {"abcdefghij", 40, 8, "abcd\u2026", 5},
        {"abcdefghij", 40, 3, "", 0},
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        char out[64];
        size_t cols = mf_utf8_fit(out, v[i].n, v[i].s, v[i].width);
        if (strcmp(out, v[i].want) != 0 || cols != v[i].cols)
            fail_msg("vector %zu: \"%s\" (%zu columns)", i, out, cols);
    }
}

static void
test_cut(void **state) {
    (void)state;
    /* "a" + U+00E9 (2 bytes) + U+20AC (3 bytes) + "z": 7 bytes. */
    const char *s = "a\xc3\xa9\xe2\x82\xacz";
    const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 7, 7, 7};

    for (size_t max = 0; max < sizeof(want) / sizeof(want[0]); max++)
        assert_int_equal(mf_utf8_cut(s, max), want[max]);
    assert_int_equal(mf_utf8_cut("", 0), 0);
    assert_int_equal(mf_utf8_cut("abc", 3), 3);
}

int
main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors),
                                       cmocka_unit_test(test_fit),
                                       cmocka_unit_test(test_cut)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
