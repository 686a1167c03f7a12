/*
 * Unit tests of the date window (core/src/migrate/window.c) and of the
 * engine's pre-staging passes over two in-memory servers (folder.c).
 *
 * What they prove: days parse only as real YYYY-MM-DD days or "none";
 * membership follows RFC 3501 6.4.4 (the day written in the INTERNALDATE,
 * disregarding time and timezone, space-padded or not); the "widens"
 * rule; a pass with --since copies only the
 * recent messages and counts the rest as outside_window (not failed, not
 * pending) with their bytes, an incremental pass with the same window
 * keeps counting them without listing them again, and a pass without a
 * window then copies exactly the rest (the target ends equal to the
 * source: nothing twice); --before first and the rest later does the
 * same from the other end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

#include "mailferry/window.h"

static uint32_t
day(const char *s) {
    struct mf_error err = {0};
    uint32_t d = 1;
    assert_int_equal(mf_window_date_parse(s, &d, &err), MF_E_OK);
    return d;
}

static void
test_dates(void **state) {
    struct mf_error err = {0};
    char out[MF_WINDOW_TEXT_MAX];
    uint32_t d;
    static const char *const bad[] = {"2026-02-30", "2026-13-01", "2026-1-01",
                                      "26-01-01",   "2026/01/01", "",
                                      "1969-12-31", "2026-01-01x"};

    (void)state;
    assert_int_equal(day("2026-03-01"), 20260301);
    assert_int_equal(day("2024-02-29"), 20240229);
    assert_int_equal(day("none"), 0);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        assert_int_equal(mf_window_date_parse(bad[i], &d, &err), MF_E_USAGE);
        assert_non_null(strstr(err.detail, "YYYY-MM-DD"));
    }
    assert_int_equal(mf_window_date_parse("2023-02-29", &d, &err), MF_E_USAGE);
    mf_window_date_format(20260301, out, sizeof(out));
    assert_string_equal(out, "2026-03-01");
    mf_window_date_format(0, out, sizeof(out));
    assert_string_equal(out, "none");
}

static void
test_place(void **state) {
    struct mf_window w = {.since = 20260301, .before = 20260601};
    struct mf_window none = {0};
    struct mf_error err = {0};
    char out[MF_WINDOW_TEXT_MAX];

    (void)state;
    assert_int_equal(mf_window_day_of("01-Mar-2026 00:00:00 +0000"), 20260301);
    assert_int_equal(mf_window_day_of(" 1-Mar-2026 00:00:00 +0000"), 20260301);
    assert_int_equal(mf_window_day_of("1-mar-2026 00:00:00 +0000"), 20260301);
    assert_int_equal(mf_window_day_of("31-Feb-2026 00:00:00 +0000"), 0);
    assert_int_equal(mf_window_day_of("x"), 0);
    assert_int_equal(mf_window_day_of(NULL), 0);
    /* The day as written, whatever the zone or the hour (6.4.4). */
    assert_int_equal(mf_window_place(&w, "01-Mar-2026 00:00:00 +1400"),
                     MF_WINDOW_INSIDE);
    assert_int_equal(mf_window_place(&w, "28-Feb-2026 23:59:59 -1200"),
                     MF_WINDOW_OUTSIDE);
    assert_int_equal(mf_window_place(&w, "31-May-2026 23:59:59 -1200"),
                     MF_WINDOW_INSIDE);
    assert_int_equal(mf_window_place(&w, " 1-Jun-2026 00:00:00 +0000"),
                     MF_WINDOW_OUTSIDE);
    assert_int_equal(mf_window_place(&w, ""), MF_WINDOW_UNKNOWN);
    assert_int_equal(mf_window_place(&none, NULL), MF_WINDOW_INSIDE);

    mf_window_format(&w, out, sizeof(out));
    assert_string_equal(out, "since 2026-03-01, before 2026-06-01");

    assert_int_equal(mf_window_check(&w, &err), MF_E_OK);
    assert_int_equal(
        mf_window_check(&(struct mf_window){20260301, 20260301}, &err),
        MF_E_USAGE);

    /* widens: can the new window hold what the old one left out? */
    assert_false(mf_window_widens(&none, &w));
    assert_true(mf_window_widens(&w, &none));
    assert_false(mf_window_widens(&w, &w));
    assert_false(mf_window_widens(&w, &(struct mf_window){20260401, 20260501}));
    assert_true(mf_window_widens(&w, &(struct mf_window){20260201, 20260501}));
    assert_true(mf_window_widens(&w, &(struct mf_window){.since = 20260401}));
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */
/* ------------------------------------------------------------------ */

static void
expect_pass_ok(struct memrun *r) {
    memrun_expect_complete(r);
    assert_int_equal(r->res.stats.failed, 0);
}

/* A message of 200 + i bytes dated on the given day of month/year. */
static void
add_dated(struct mf_mem_folder *f, const char *tag, unsigned i,
          const char *date) {
    char t[48];
    char body[600];
    int n;

    snprintf(t, sizeof(t), "%s-%u", tag, i);
    n = snprintf(body, sizeof(body),
                 "Message-ID: <%s@w.example>\r\nSubject: %s\r\n\r\n", t, t);
    while (n < (int)(200 + i))
        body[n++] = 'x';
    (void)mf_mem_msg_add(f, i % 2 ? "\\Seen" : "", date, body, (size_t)n);
}

static size_t
tgt_count(struct memrun *r, const char *folder) {
    struct mf_mem_folder *f = mf_mem_folder_find(r->env.dst, folder);
    return f ? f->n : 0;
}

static void
test_since_then_rest(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    struct mf_checkpoint ck;
    uint64_t old_bytes = 0;

    /* Old and recent mail interleaved in UID order, as after an earlier
     * import: the window is by date, not by UID. */
    for (unsigned i = 0; i < 12; i++) {
        add_dated(in, "old", i, "15-Jun-2025 10:00:00 +0000");
        old_bytes += 200 + i;
        if (i % 3 == 0)
            add_dated(in, "new", i, " 2-Mar-2026 09:00:00 -0800");
    }
    r->o.window.since = 20260301;
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 4);
    assert_int_equal(r->res.stats.outside_window, 12);
    assert_int_equal(r->res.stats.bytes_outside_window, old_bytes);
    assert_int_equal(r->res.n_skipped, 0);
    assert_int_equal(tgt_count(r, "INBOX"), 4);
    assert_true(memrun_checkpoint(r, "INBOX", &ck));
    assert_int_equal(ck.n_pending, 0);
    assert_int_equal(ck.window.since, 20260301);
    assert_int_equal(ck.out_messages, 12);
    mf_checkpoint_pending_free(&ck);

    /* Incremental, same window: one new message of each kind. */
    add_dated(in, "old", 12, "28-Feb-2026 23:59:59 +0000");
    add_dated(in, "new", 12, "01-Mar-2026 00:00:00 +0000");
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 1);
    assert_int_equal(r->res.stats.outside_window, 13);
    assert_int_equal(tgt_count(r, "INBOX"), 5);

    /* MX switched: the rest, once. */
    memset(&r->o.window, 0, sizeof(r->o.window));
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 13);
    assert_int_equal(r->res.stats.messages_present, 5);
    assert_int_equal(r->res.stats.outside_window, 0);
    {
        const char *why =
            folders_differ(in, mf_mem_folder_find(r->env.dst, "INBOX"), true);
        if (why)
            fail_msg("%s", why);
    }
    assert_true(memrun_checkpoint(r, "INBOX", &ck));
    assert_int_equal(ck.out_messages, 0);
    mf_checkpoint_pending_free(&ck);

    /* Nothing left: the next pass copies and recognises nothing. */
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 0);
    assert_int_equal(r->res.stats.messages_present, 0);
}

static void
test_before_then_rest(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    struct mf_mem_folder *sent = mf_mem_folder_add(r->env.src, "Sent", 0, 0);

    for (unsigned i = 0; i < 6; i++) {
        add_dated(in, "a", i,
                  i < 4 ? "10-Jan-2024 08:00:00 +0100"
                        : "10-Jan-2026 08:00:00 +0100");
        add_dated(sent, "s", i, "31-Dec-2025 23:00:00 +0000");
    }
    r->o.window.before = 20260101;
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 10);
    assert_int_equal(r->res.stats.outside_window, 2);
    /* A narrower window: nothing new to look at, nothing copied. */
    r->o.window.since = 20250101;
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 0);
    assert_int_equal(r->res.stats.messages_present, 0);
    memset(&r->o.window, 0, sizeof(r->o.window));
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 2);
    assert_null(
        folders_differ(in, mf_mem_folder_find(r->env.dst, "INBOX"), true));
    assert_null(
        folders_differ(sent, mf_mem_folder_find(r->env.dst, "Sent"), true));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_place),
        cmocka_unit_test_setup_teardown(test_since_then_rest, memrun_setup,
                                        memrun_teardown),
        cmocka_unit_test_setup_teardown(test_before_then_rest, memrun_setup,
                                        memrun_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
