/* Message repair (core/src/message/repair.c): what strict targets refuse
 * is found, only that is changed, and a repaired message has no defect
 * left (also for random bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/repair.h"

#include <stdlib.h>
#include <string.h>

static unsigned
check(const char *m, struct mf_repair *r) {
    return mf_repair_check((const uint8_t *)m, strlen(m), r);
}

static char *
fix(const char *m, size_t n) {
    struct mf_repair r;
    struct mf_buf out = {0};
    char *s;

    mf_repair_check((const uint8_t *)m, n, &r);
    mf_repair_fix((const uint8_t *)m, n, &r, &out);
    s = mf_xstrndup(out.data ? (const char *)out.data : "", out.len);
    mf_buf_free(&out);
    return s;
}

static void
test_clean(void **state) {
    struct mf_repair r;
    const char *ok = "From: a@example.test\r\nSubject: hi\r\n"
                     " folded\r\n\r\nbody line\r\nlast line without end";

    (void)state;
    assert_int_equal(check(ok, &r), 0);
    assert_int_equal(check("", &r), 0);
    /* Without a body, and a body line looking like a bad header. */
    assert_int_equal(check("Subject: x\r\n", &r), 0);
    assert_int_equal(check("Subject: x\r\n\r\nnot a header\r\n", &r), 0);
}

static void
test_bare_line_ends(void **state) {
    struct mf_repair r;
    char *s, d[256];

    (void)state;
    assert_int_equal(check("Subject: x\n\nbody\nmore\r\n", &r),
                     MF_REPAIR_BARE_LF);
    assert_int_equal(r.bare_lf, 3);
    s = fix("Subject: x\n\nbody\nmore\r\n", 23);
    assert_string_equal(s, "Subject: x\r\n\r\nbody\r\nmore\r\n");
    free(s);
    assert_int_equal(check("Subject: x\r\rbody\r", &r), MF_REPAIR_BARE_CR);
    s = fix("Subject: x\r\rbody\r", 17);
    assert_string_equal(s, "Subject: x\r\n\r\nbody\r\n");
    free(s);
    check("Subject: x\n\nbody\nmore\r\n", &r);
    mf_repair_describe(&r, false, d, sizeof(d));
    assert_string_equal(d, "3 bare LF line ends");
    mf_repair_describe(&r, true, d, sizeof(d));
    assert_string_equal(d, "3 bare LF line ends made CRLF");
}

static void
test_long_lines(void **state) {
    struct mf_repair r, r2;
    struct mf_buf m = {0}, out = {0};
    char d[256];

    (void)state;
    /* A 2500-byte Subject of words, and a 3000-byte body line without
     * any blank. */
    mf_buf_append_str(&m, "Subject:");
    for (int i = 0; i < 500; i++)
        mf_buf_append_str(&m, " word");
    mf_buf_append_str(&m, "\r\n\r\n");
    for (int i = 0; i < 3000; i++)
        mf_buf_append(&m, "x", 1);
    mf_buf_append_str(&m, "\r\n");
    assert_int_equal(mf_repair_check(m.data, m.len, &r), MF_REPAIR_LONG_LINE);
    assert_int_equal(r.long_lines, 2);
    assert_int_equal(r.first_long_line, 1);
    mf_repair_fix(m.data, m.len, &r, &out);
    assert_int_equal(mf_repair_check(out.data, out.len, &r2), 0);
    /* The header was folded: unfolding gives the same field back. */
    {
        const char *end = strstr((const char *)out.data, "\r\n\r\n");
        size_t hlen = (size_t)(end - (const char *)out.data), k = 0;
        char *unfolded = mf_xmalloc(hlen + 1);
        for (size_t i = 0; i < hlen; i++) {
            if (out.data[i] == '\r' && out.data[i + 1] == '\n') {
                i++;
                continue;
            }
            unfolded[k++] = (char)out.data[i];
        }
        unfolded[k] = '\0';
        assert_int_equal(k, 8 + 500 * 5);
        assert_memory_equal(unfolded, m.data, k);
        free(unfolded);
    }
    /* The body only gained line breaks. */
    assert_int_equal(out.len, m.len + 2 /* 2 header folds */ * 2 +
                                  3 /* 3 body breaks */ * 2);
    mf_repair_describe(&r, true, d, sizeof(d));
    assert_string_equal(d, "2 lines over 998 bytes (first: line 1) folded");
    mf_buf_free(&m);
    mf_buf_free(&out);
}

static void
test_bad_headers(void **state) {
    struct mf_repair r;
    char *s;

    (void)state;
    assert_int_equal(check("From someone Mon Jan 1\r\nSubject: x\r\n"
                           "broken line\r\n\r\nbody\r\n",
                           &r),
                     MF_REPAIR_BAD_HEADER);
    assert_int_equal(r.bad_headers, 2);
    assert_int_equal(r.first_bad_header, 1);
    s = fix("From someone\r\nSubject: x\r\nbroken line\r\n\r\nbody\r\n", 46);
    assert_string_equal(s, "X-Mailferry-Repaired: From someone\r\n"
                           "Subject: x\r\n broken line\r\n\r\nbody\r\n");
    free(s);
    assert_int_equal(check("Subject: x\r\n: no name\r\n\r\n", &r),
                     MF_REPAIR_BAD_HEADER);
    s = fix("Subject: \0x\r\n\r\nb\0dy\r\n",
            sizeof("Subject: \0x\r\n\r\nb\0dy\r\n") - 1);
    assert_string_equal(s, "Subject:  x\r\n\r\nb dy\r\n");
    free(s);
}

static void
test_random(void **state) {
    static const uint8_t alphabet[] = {'a',  ' ',  '\t', ':', '\r',
                                       '\n', '\0', 'X',  '-'};
    uint8_t buf[4096];
    unsigned seed = 1;

    (void)state;
    for (int round = 0; round < 400; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
        struct mf_repair r, r2;
        struct mf_buf out = {0};
        /* Long runs without line ends now and then. */
        unsigned mod = round % 3 ? MF_ARRAY_LEN(alphabet) : 4;
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[(unsigned)rand_r(&seed) % mod];
        mf_repair_check(buf, n, &r);
        mf_repair_fix(buf, n, &r, &out);
        if (mf_repair_check(out.data, out.len, &r2) != 0)
            fail_msg("round %d: still %#x after the fix", round, r2.found);
        mf_buf_free(&out);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_bare_line_ends),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
