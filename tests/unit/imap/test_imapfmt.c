/*
 * Tests for the command-side helpers in core/src/imap/imapfmt.c: how an
 * astring is sent (atom, quoted, literal, LITERAL+), INTERNALDATE parsing
 * and formatting, and Unix time conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mailferry/imap_parser.h"

static enum mf_imap_quote_kind
quote(const char *s, size_t n, bool plus, struct mf_buf *out, size_t *split) {
    mf_buf_reset(out);
    *split = 0;
    return mf_imap_quote_astring(out, (const uint8_t *)s, n, plus, split);
}

static void
test_quote_astring(void **state) {
    struct mf_buf b = {0};
    size_t split;
    (void)state;

    assert_int_equal(quote("INBOX", 5, false, &b, &split), MF_IMAP_QUOTE_ATOM);
    assert_string_equal((char *)b.data, "INBOX");
    /* "]" is an ASTRING-CHAR. */
    assert_int_equal(quote("[Gmail]/Sent", 12, false, &b, &split),
                     MF_IMAP_QUOTE_ATOM);
    assert_int_equal(quote("", 0, false, &b, &split), MF_IMAP_QUOTE_QUOTED);
    assert_string_equal((char *)b.data, "\"\"");
    assert_int_equal(quote("Sent Items", 10, false, &b, &split),
                     MF_IMAP_QUOTE_QUOTED);
    assert_string_equal((char *)b.data, "\"Sent Items\"");
    assert_int_equal(quote("a\"b\\c", 5, false, &b, &split),
                     MF_IMAP_QUOTE_QUOTED);
    assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\"");
    assert_int_equal(quote("NIL", 3, false, &b, &split), MF_IMAP_QUOTE_QUOTED);
    assert_string_equal((char *)b.data, "\"NIL\"");
    assert_int_equal(quote("*", 1, false, &b, &split), MF_IMAP_QUOTE_QUOTED);
    assert_int_equal(quote("a{b", 3, false, &b, &split), MF_IMAP_QUOTE_QUOTED);
    assert_int_equal(quote("(x)", 3, false, &b, &split), MF_IMAP_QUOTE_QUOTED);

    /* 8-bit and CR/LF need a literal. */
    assert_int_equal(quote("p\xc3\xa4ss", 5, false, &b, &split),
                     MF_IMAP_QUOTE_LITERAL_SYNC);
    assert_string_equal((char *)b.data, "{5}\r\np\xc3\xa4ss");
    assert_int_equal(split, 5);
    assert_int_equal(quote("a\r\nb", 4, true, &b, &split),
                     MF_IMAP_QUOTE_LITERAL_PLUS);
    assert_string_equal((char *)b.data, "{4+}\r\na\r\nb");
    assert_int_equal(split, 0);

    /* Long strings too. */
    char big[2000];
    memset(big, 'x', sizeof(big));
    big[0] = ' ';
    assert_int_equal(quote(big, 1024, false, &b, &split), MF_IMAP_QUOTE_QUOTED);
    assert_int_equal(quote(big, 1025, false, &b, &split),
                     MF_IMAP_QUOTE_LITERAL_SYNC);
    assert_int_equal(split, strlen("{1025}\r\n"));

    /* Appends to what is there. */
    mf_buf_reset(&b);
    mf_buf_append_str(&b, "a1 SELECT ");
    assert_int_equal(mf_imap_quote_astring(&b, (const uint8_t *)"\xc3\xa4", 2,
                                           false, &split),
                     MF_IMAP_QUOTE_LITERAL_SYNC);
    assert_int_equal(split, strlen("a1 SELECT {2}\r\n"));
    mf_buf_free(&b);
}

/* Fails unless every field of got is want's. */
static void
expect_dt(const struct mf_imap_datetime *got, struct mf_imap_datetime want) {
    const struct mf_imap_datetime *w = &want;

    if (got->year != w->year || got->month != w->month || got->day != w->day ||
        got->hour != w->hour || got->min != w->min || got->sec != w->sec ||
        got->tz_minutes != w->tz_minutes)
        fail_msg("got %d-%d-%d %d:%d:%d %+d, want %d-%d-%d %d:%d:%d %+d",
                 got->year, got->month, got->day, got->hour, got->min, got->sec,
                 got->tz_minutes, w->year, w->month, w->day, w->hour, w->min,
                 w->sec, w->tz_minutes);
}

static void
test_datetime_parse(void **state) {
    struct mf_imap_datetime dt;
    (void)state;

    const char *s = " 5-Mar-2024 14:07:09 +0100";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    expect_dt(&dt, (struct mf_imap_datetime){2024, 3, 5, 14, 7, 9, 60});

    s = "29-feb-2024 23:59:60 -0530";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    assert_int_equal(dt.day, 29);
    assert_int_equal(dt.month, 2);
    assert_int_equal(dt.sec, 60);
    assert_int_equal(dt.tz_minutes, -330);

    s = "5-Dec-1999 00:00:00 +0000";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    assert_int_equal(dt.month, 12);

    static const char *const bad[] = {
        "",
        "29-Feb-2023 00:00:00 +0000", /* not a leap year */
        "31-Apr-2024 00:00:00 +0000",
        "00-Jan-2024 00:00:00 +0000",
        "01-Foo-2024 00:00:00 +0000",
        "01-Jan-24 00:00:00 +0000",
        "01-Jan-2024 24:00:00 +0000",
        "01-Jan-2024 00:60:00 +0000",
        "01-Jan-2024 00:00:61 +0000",
        "01-Jan-2024 00:00:00 +0060",
        "01-Jan-2024 00:00:00 0100",
        "01-Jan-2024 00:00:00 +0100 ",
        "01-Jan-2024 00:00:00 +01",
        "01-Jan-2024 0:00:00 +0000",
        "123-Jan-2024 00:00:00 +0000",
        "\"01-Jan-2024 00:00:00 +0000\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dt.year = 42;
        assert_int_equal(mf_imap_datetime_parse(bad[i], strlen(bad[i]), &dt),
                         MF_E_IMAP_PARSE);
        assert_int_equal(dt.year, 42);
    }
    /* The length bounds the parse, not a NUL. */
    s = "01-Jan-2024 00:00:00 +00001";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s) - 1, &dt), MF_E_OK);
}

static void
test_datetime_format(void **state) {
    struct mf_imap_datetime dt = {2024, 3, 5, 14, 7, 9, -330};
    char out[MF_IMAP_DATETIME_LEN + 1];
    (void)state;

    mf_imap_datetime_format(&dt, out);
    assert_string_equal(out, "\"05-Mar-2024 14:07:09 -0530\"");
    assert_int_equal(strlen(out), MF_IMAP_DATETIME_LEN);
    dt.tz_minutes = 0;
    mf_imap_datetime_format(&dt, out);
    assert_string_equal(out, "\"05-Mar-2024 14:07:09 +0000\"");

    /* Round trip through the parser. */
    struct mf_imap_datetime back;
    assert_int_equal(mf_imap_datetime_parse(out + 1, strlen(out) - 2, &back),
                     MF_E_OK);
    assert_memory_equal(&back, &dt, sizeof(dt));

    char d[12];
    mf_imap_date_format(2024, 1, 7, d);
    assert_string_equal(d, "7-Jan-2024");
    mf_imap_date_format(1999, 12, 31, d);
    assert_string_equal(d, "31-Dec-1999");
}

static void
test_unix(void **state) {
    struct mf_imap_datetime dt;
    const char *s = " 1-Jan-1970 01:00:00 +0100";
    (void)state;

    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    assert_int_equal(mf_imap_datetime_to_unix(&dt), 0);
    s = "09-Sep-2001 01:46:40 +0000";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    assert_int_equal(mf_imap_datetime_to_unix(&dt), 1000000000);
    s = "08-Sep-2001 20:16:40 -0530";
    assert_int_equal(mf_imap_datetime_parse(s, strlen(s), &dt), MF_E_OK);
    assert_int_equal(mf_imap_datetime_to_unix(&dt), 1000000000);

    mf_imap_datetime_from_unix(1000000000, -330, &dt);
    expect_dt(&dt, (struct mf_imap_datetime){2001, 9, 8, 20, 16, 40, -330});

    /* Before the epoch, and a sweep that must round-trip. */
    mf_imap_datetime_from_unix(-1, 0, &dt);
    assert_int_equal(dt.year, 1969);
    assert_int_equal(dt.month, 12);
    assert_int_equal(dt.day, 31);
    assert_int_equal(dt.sec, 59);
    for (int64_t t = -5000000000LL; t < 5000000000LL; t += 7777777) {
        mf_imap_datetime_from_unix(t, 120, &dt);
        assert_int_equal(mf_imap_datetime_to_unix(&dt), t);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_astring),
        cmocka_unit_test(test_datetime_parse),
        cmocka_unit_test(test_datetime_format),
        cmocka_unit_test(test_unix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
