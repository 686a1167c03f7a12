/*
 * Tests for modified UTF-7 (core/src/imap/mutf7.c): RFC 3501 5.1.3
 * vectors both ways, astral characters through surrogate pairs, every
 * class of invalid input, and that a failed call leaves the output buffer
 * as it was. Vectors were cross-checked against an independent encoder
 * (Python's UTF-16 + base64).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mailferry/mutf7.h"

struct vec {
    const char *mutf7;
    const char *utf8;
};

static const struct vec vectors[] = {
    {"", ""},
    {"INBOX", "INBOX"},
    {"&-", "&"},
    {"a&-b&-&-", "a&b&&"},
    {"Entw&APw-rfe", "Entw\xc3\xbc"
                     "rfe"},
    {"&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
    /* The example of RFC 3501 section 5.1.3. */
    {"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
                                        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
    {"&2D3eAA-", "\xf0\x9f\x98\x80"}, /* U+1F600, a pair */
    {"a&2D3eAA-b", "a\xf0\x9f\x98\x80"
                   "b"},
    {"&2DTdHtg03R4-", "\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e"}, /* 2 x U+1D11E */
    {"T&AOI-che &- &ANw-n&AO8-code", "T\xc3\xa2"
                                     "che & \xc3\x9cn\xc3\xaf"
                                     "code"},
    {"&BB8EQAQ4BDIENQRC-", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"},
    {"&AAk-", "\t"}, /* controls go through BASE64 */
    {"&AOQ-", "\xc3\xa4"},
    {"Gesendete Objekte", "Gesendete Objekte"},
};

static void
test_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        struct mf_buf b = {0};
        struct mf_error err;
        assert_int_equal(mf_mutf7_decode(vectors[i].mutf7, &b, &err), MF_E_OK);
        assert_string_equal(b.len ? (char *)b.data : "", vectors[i].utf8);
        mf_buf_reset(&b);
        assert_int_equal(mf_mutf7_encode(vectors[i].utf8, &b, &err), MF_E_OK);
        assert_string_equal(b.len ? (char *)b.data : "", vectors[i].mutf7);
        mf_buf_free(&b);
    }
}

static void
test_appends(void **state) {
    struct mf_buf b = {0};
    (void)state;
    mf_buf_append_str(&b, "prefix/");
    assert_int_equal(mf_mutf7_decode("&AOQ-", &b, NULL), MF_E_OK);
    assert_string_equal((char *)b.data, "prefix/\xc3\xa4");
    mf_buf_free(&b);
}

static const char *const bad_decode[] = {
    "&",               /* unterminated */
    "abc&AOQ",         /* unterminated run */
    "&AOQ!-",          /* bad BASE64 character */
    "&AO/-",           /* "/" is not modified BASE64 */
    "&AOR-",           /* leftover bits not zero */
    "&AOQA-",          /* a whole spare character */
    "&A-",             /* too short for one unit */
    "&AGE-",           /* encodes "a", which must stand for itself */
    "&ACY-",           /* encodes "&" */
    "&AAA-",           /* U+0000 */
    "&2D0-",           /* lone high surrogate */
    "&2D0-&3gA-",      /* a pair split across two runs */
    "&3gA-",           /* lone low surrogate */
    "&2D3YPQ-",        /* high followed by high */
    "Entw\xc3\xbcrfe", /* raw 8-bit */
    "tab\there",       /* control character */
    "\x7f",
};

static void
test_bad_decode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(bad_decode) / sizeof(bad_decode[0]); i++) {
        struct mf_buf b = {0};
        struct mf_error err = {0};
        mf_buf_append_str(&b, "keep");
        assert_int_equal(mf_mutf7_decode(bad_decode[i], &b, &err),
                         MF_E_IMAP_BAD_MUTF7);
        assert_int_equal(err.code, MF_E_IMAP_BAD_MUTF7);
        assert_true(err.detail[0] != '\0');
        /* Untouched on error. */
        assert_int_equal(b.len, 4);
        assert_string_equal((char *)b.data, "keep");
        mf_buf_free(&b);
    }
}

static const char *const bad_encode[] = {
    "\xc3",             /* truncated */
    "\xc3\x28",         /* bad continuation */
    "\xc0\xaf",         /* overlong "/" */
    "\xe0\x80\xaf",     /* overlong */
    "\xed\xa0\x80",     /* surrogate U+D800 */
    "\xf4\x90\x80\x80", /* past U+10FFFF */
    "\xff",             /* never valid */
    "ok\x80",           /* stray continuation */
    "\xf0\x9f\x98",     /* truncated 4-byte */
};

static void
test_bad_encode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(bad_encode) / sizeof(bad_encode[0]); i++) {
        struct mf_buf b = {0};
        struct mf_error err = {0};
        mf_buf_append_str(&b, "keep");
        assert_int_equal(mf_mutf7_encode(bad_encode[i], &b, &err),
                         MF_E_IMAP_BAD_MUTF7);
        assert_int_equal(b.len, 4);
        assert_string_equal((char *)b.data, "keep");
        mf_buf_free(&b);
    }
}

static void
test_adjacent_runs_decode(void **state) {
    struct mf_buf b = {0};
    (void)state;
    /* Not what an encoder emits, but valid to decode. */
    assert_int_equal(mf_mutf7_decode("&AOQ-&APY-", &b, NULL), MF_E_OK);
    assert_string_equal((char *)b.data, "\xc3\xa4\xc3\xb6");
    mf_buf_reset(&b);
    assert_int_equal(mf_mutf7_encode("\xc3\xa4\xc3\xb6", &b, NULL), MF_E_OK);
    assert_string_equal((char *)b.data, "&AOQA9g-");
    mf_buf_free(&b);
}

/* A long name mixing every kind of character round-trips. */
static void
test_long_roundtrip(void **state) {
    static const char *const parts[] = {
        "Folder ",      "\xc3\xa4", "&", "\xf0\x9f\x98\x80", "/",
        "\xe6\x97\xa5", "\x01",     "-", "\xef\xbf\xbd",     "x",
    };
    struct mf_buf in = {0}, enc = {0}, dec = {0};
    (void)state;
    for (int i = 0; i < 500; i++)
        mf_buf_append_str(&in, parts[(i * 7) % 10]);
    assert_int_equal(mf_mutf7_encode((char *)in.data, &enc, NULL), MF_E_OK);
    for (size_t i = 0; i < enc.len; i++)
        assert_true(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
    assert_int_equal(mf_mutf7_decode((char *)enc.data, &dec, NULL), MF_E_OK);
    assert_int_equal(dec.len, in.len);
    assert_memory_equal(dec.data, in.data, in.len);
    mf_buf_free(&in);
    mf_buf_free(&enc);
    mf_buf_free(&dec);
}

/* Every BMP code point (bar surrogates) and a sample of astral ones. */
static void
test_all_code_points(void **state) {
    (void)state;
    for (uint32_t cp = 1; cp <= 0x10ffff; cp += (cp < 0x10000 ? 1 : 97)) {
        char in[8];
        struct mf_buf enc = {0}, dec = {0};
        size_t n;
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        if (cp < 0x80) {
            in[0] = (char)cp;
            n = 1;
        } else if (cp < 0x800) {
            in[0] = (char)(0xc0 | (cp >> 6));
            in[1] = (char)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            in[0] = (char)(0xe0 | (cp >> 12));
            in[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in[2] = (char)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            in[0] = (char)(0xf0 | (cp >> 18));
            in[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
            in[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in[3] = (char)(0x80 | (cp & 0x3f));
            n = 4;
        }
        in[n] = '\0';
        assert_int_equal(mf_mutf7_encode(in, &enc, NULL), MF_E_OK);
        assert_int_equal(mf_mutf7_decode((char *)enc.data, &dec, NULL),
                         MF_E_OK);
        assert_int_equal(dec.len, n);
        assert_memory_equal(dec.data, in, n);
        mf_buf_free(&enc);
        mf_buf_free(&dec);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_bad_decode),
        cmocka_unit_test(test_bad_encode),
        cmocka_unit_test(test_adjacent_runs_decode),
        cmocka_unit_test(test_long_roundtrip),
        cmocka_unit_test(test_all_code_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
