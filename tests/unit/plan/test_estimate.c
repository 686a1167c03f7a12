/*
 * Estimates from test batches (core/src/plan/estimate.c), table-driven,
 * every expected figure worked out by hand in the comments: throughput
 * from mailbox records, the time of one mailbox, the time at N
 * connections with the longest mailbox as a floor, the suggested count
 * with and without a connection limit, batch sizes for a window, the
 * peak concurrency of mailbox intervals, --connections parsing, and the
 * size and duration formats the reports print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

static void
assert_close(double got, double want) {
    if (fabs(got - want) > EPS * (1 + fabs(want)))
        fail_msg("got %.12g, want %.12g", got, want);
}

/* ------------------------------------------------------------------ */
/* Throughput                                                          */
/* ------------------------------------------------------------------ */

struct rec {
    bool synced;
    uint64_t bytes, messages;
    double seconds;
};

static void
test_rate(void **state) {
    static const struct {
        struct rec r[6];
        size_t n;
        uint64_t mailboxes, ignored;
        double bps, mps;
    } cases[] = {
        /* (1000 + 3000) B / (2 + 2) s = 1000 B/s; 40 msgs / 4 s = 10/s */
        {{{true, 1000, 10, 2}, {true, 3000, 30, 2}}, 2, 2, 0, 1000, 10},
        /* the same plus a Failed one and one without a duration */
        {{{true, 1000, 10, 2},
          {false, 5000, 50, 1},
          {true, 3000, 30, 2},
          {true, 100, 1, 0}},
         4,
         2,
         2,
         1000,
         10},
        /* nothing usable: rates stay 0 */
        {{{false, 1, 1, 1}, {true, 5, 5, -1}}, 2, 0, 2, 0, 0},
        /* 3 mailboxes: 6e6 B over 12 s = 500000 B/s, 600 msgs / 12 s */
        {{{true, 1000000, 100, 2},
          {true, 2000000, 200, 4},
          {true, 3000000, 300, 6}},
         3,
         3,
         0,
         500000,
         50},
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++) {
        struct mf_estimate_rate r = {0};
        for (size_t i = 0; i < cases[c].n; i++)
            mf_estimate_rate_add(&r, cases[c].r[i].synced, cases[c].r[i].bytes,
                                 cases[c].r[i].messages, cases[c].r[i].seconds);
        assert_int_equal(r.mailboxes, cases[c].mailboxes);
        assert_int_equal(r.ignored, cases[c].ignored);
        assert_close(r.bytes_per_second, cases[c].bps);
        assert_close(r.messages_per_second, cases[c].mps);
    }
}

static void
test_rate_merge(void **state) {
    struct mf_estimate_rate a = {0}, b = {0};

    (void)state;
    mf_estimate_rate_add(&a, true, 4000, 40, 4);
    a.peak_concurrency = 2;
    mf_estimate_rate_add(&b, true, 2000, 10, 1);
    mf_estimate_rate_add(&b, false, 9, 9, 9);
    b.peak_concurrency = 3;
    mf_estimate_rate_merge(&a, &b);
    /* 6000 B / 5 s, 50 msgs / 5 s */
    assert_int_equal(a.mailboxes, 2);
    assert_int_equal(a.ignored, 1);
    assert_close(a.bytes_per_second, 1200);
    assert_close(a.messages_per_second, 10);
    assert_int_equal(a.peak_concurrency, 3);
}

static void
test_mailbox_seconds(void **state) {
    static const struct {
        double bps, mps;
        uint64_t bytes, messages;
        double want;
    } cases[] = {
        {1000, 10, 2000, 5, 2}, /* bytes: 2 s; messages: 0.5 s */
        {1000, 10, 100, 50, 5}, /* messages decide: 5 s */
        {1000, 10, 0, 0, 0},    /* empty mailbox */
        {1000, 0, 3000, 99, 3}, /* no message rate: bytes alone */
        {0, 4, 3000, 8, 2},     /* no byte rate: messages alone */
        {0, 0, 3000, 8, 0},     /* no rate at all */
        {500000, 50, 35000000, 1, 70},
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++) {
        struct mf_estimate_rate r = {.bytes_per_second = cases[c].bps,
                                     .messages_per_second = cases[c].mps};
        assert_close(
            mf_estimate_mailbox_seconds(&r, cases[c].bytes, cases[c].messages),
            cases[c].want);
    }
}

/* ------------------------------------------------------------------ */
/* Time at N connections, floor, suggestion                            */
/* ------------------------------------------------------------------ */

/* 1000 B/s and 1000 msgs/s per connection; mailboxes of 10, 20, 30 and
 * 40 kB with one message each take 10, 20, 30 and 40 s: work 100 s,
 * longest 40 s. */
static const struct mf_estimate_rate rate1k = {.mailboxes = 4,
                                               .bytes_per_second = 1000,
                                               .messages_per_second = 1000,
                                               .peak_concurrency = 2};
static const struct mf_estimate_job jobs4[] = {
    {10000, 1}, {20000, 1}, {30000, 1}, {40000, 1}};

static void
test_points(void **state) {
    static const unsigned conns[] = {8, 1, 4, 2, 4}; /* unsorted, dup */
    static const struct {
        unsigned connections;
        double seconds;
        bool floor, extrapolated;
    } want[] = {
        {1, 100, false, false}, /* 100 / 1 */
        {2, 50, false, false},  /* 100 / 2 */
        {4, 40, true, true},    /* 25 < 40: the longest mailbox */
        {8, 40, true, true},    /* 12.5 < 40 */
    };
    struct mf_estimate est;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(
        mf_estimate_compute(&rate1k, jobs4, 4, conns, 5, 0, 0, &est, &err),
        MF_E_OK);
    assert_int_equal(est.n_mailboxes, 4);
    assert_int_equal(est.bytes, 100000);
    assert_int_equal(est.messages, 4);
    assert_close(est.work_seconds, 100);
    assert_close(est.longest_seconds, 40);
    assert_int_equal(est.longest_index, 3);
    assert_int_equal(est.n_points, MF_ARRAY_LEN(want));
    for (size_t i = 0; i < MF_ARRAY_LEN(want); i++) {
        assert_int_equal(est.points[i].connections, want[i].connections);
        assert_close(est.points[i].seconds, want[i].seconds);
        assert_int_equal(est.points[i].floor, want[i].floor);
        assert_int_equal(est.points[i].extrapolated, want[i].extrapolated);
    }
    /* Best is 40 s; 4 connections reach it, 2 take 50 > 44. */
    assert_int_equal(est.suggested_connections, 4);
    assert_true(est.window.seconds == 0);
    mf_estimate_clear(&est);
}

static void
test_suggestion(void **state) {
    static const unsigned conns[] = {1, 2, 4, 8};
    static const struct {
        unsigned max;
        unsigned suggested;
        size_t n_points;
    } cases[] = {
        {0, 4, 4},  /* see test_points */
        {2, 2, 4},  /* best allowed 50 s at 2; 1 takes 100 */
        {3, 3, 5},  /* 3 joins the table: max(33.3, 40) = 40 */
        {1, 1, 4},  /* only 1 allowed */
        {64, 4, 5}, /* 64 joins; still 40 s, reached at 4 */
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++) {
        struct mf_estimate est;
        struct mf_error err = {0};
        assert_int_equal(mf_estimate_compute(&rate1k, jobs4, 4, conns, 4,
                                             cases[c].max, 0, &est, &err),
                         MF_E_OK);
        assert_int_equal(est.suggested_connections, cases[c].suggested);
        assert_int_equal(est.n_points, cases[c].n_points);
        for (size_t i = 0; i < est.n_points; i++)
            assert_int_equal(est.points[i].over_limit,
                             cases[c].max &&
                                 est.points[i].connections > cases[c].max);
        mf_estimate_clear(&est);
    }
}

/* Without a dominant mailbox the time keeps halving: the suggestion is
 * the largest count (or the limit). */
static void
test_no_floor(void **state) {
    struct mf_estimate_job jobs[64];
    struct mf_estimate est;
    struct mf_error err = {0};

    (void)state;
    for (size_t i = 0; i < 64; i++)
        jobs[i] = (struct mf_estimate_job){1000, 1}; /* 1 s each */
    assert_int_equal(
        mf_estimate_compute(&rate1k, jobs, 64, NULL, 0, 0, 0, &est, &err),
        MF_E_OK);
    /* defaults 1..32: 64, 32, 16, 8, 4, 2 s */
    assert_int_equal(est.n_points, 6);
    assert_close(est.points[0].seconds, 64);
    assert_close(est.points[5].seconds, 2);
    assert_false(est.points[4].floor); /* 16: 4 s > 1 s */
    assert_false(est.points[5].floor); /* 32: 2 s > 1 s */
    assert_int_equal(est.suggested_connections, 32);
    mf_estimate_clear(&est);
}

static void
test_window(void **state) {
    static const unsigned conns[] = {1, 2, 4, 8};
    static const struct {
        double window;
        uint64_t per_window, batches, largest, too_long;
        double bytes;
    } cases[] = {
        /* At 4 connections (suggested); average mailbox 25 s:
         * floor(60 * 4 / 25) = 9 per window. In order: 10, +20 -> 20 s,
         * +30 -> 30 s, +40 -> max(25, 40) = 40 s <= 60: one batch of 4.
         * 60 s * 4 * 1000 B/s = 240000 B. */
        {60, 9, 1, 4, 0, 240000},
        /* 35 s: floor(140 / 25) = 5; 10, 20, 30 fit (30 s), adding 40
         * makes 40 s > 35: a second batch with the 40 s mailbox alone,
         * which is longer than the window itself. */
        {35, 5, 2, 3, 1, 140000},
        /* 20 s: floor(80 / 25) = 3; 10+20 -> 20 s fits; 30 alone; 40
         * alone: 3 batches, the largest of 2; 30 and 40 too long. */
        {20, 3, 3, 2, 2, 80000},
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++) {
        struct mf_estimate est;
        struct mf_error err = {0};
        assert_int_equal(mf_estimate_compute(&rate1k, jobs4, 4, conns, 4, 0,
                                             cases[c].window, &est, &err),
                         MF_E_OK);
        assert_int_equal(est.window.connections, 4);
        assert_close(est.window.seconds, cases[c].window);
        assert_int_equal(est.window.per_window, cases[c].per_window);
        assert_int_equal(est.window.batches, cases[c].batches);
        assert_int_equal(est.window.largest_batch, cases[c].largest);
        assert_int_equal(est.window.too_long, cases[c].too_long);
        assert_close(est.window.bytes_per_window, cases[c].bytes);
        mf_estimate_clear(&est);
    }
}

static void
test_edge_cases(void **state) {
    static const unsigned zero[] = {1, 0};
    struct mf_estimate_rate none = {0};
    struct mf_estimate est;
    struct mf_error err = {0};

    (void)state;
    /* No measured rate: nothing to estimate from. */
    assert_int_equal(
        mf_estimate_compute(&none, jobs4, 4, NULL, 0, 0, 0, &est, &err),
        MF_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.detail, "Synced"));
    /* A count of 0 is refused. */
    assert_int_equal(
        mf_estimate_compute(&rate1k, jobs4, 4, zero, 2, 0, 0, &est, &err),
        MF_E_INVALID_ARGUMENT);
    /* No mailboxes: every time 0, the fewest connections suffice. */
    assert_int_equal(
        mf_estimate_compute(&rate1k, NULL, 0, NULL, 0, 0, 3600, &est, &err),
        MF_E_OK);
    assert_int_equal(est.n_points, 6);
    assert_close(est.points[5].seconds, 0);
    assert_false(est.points[0].floor);
    assert_int_equal(est.suggested_connections, 1);
    assert_int_equal(est.window.batches, 0);
    assert_int_equal(est.window.per_window, 0);
    mf_estimate_clear(&est);
}

/* ------------------------------------------------------------------ */
/* Peak concurrency                                                    */
/* ------------------------------------------------------------------ */

static void
test_peak(void **state) {
    static const struct {
        struct mf_estimate_interval v[5];
        size_t n;
        uint32_t want;
    } cases[] = {
        {{{0, 0}}, 0, 0},
        {{{10, 20}, {15, 25}, {20, 30}}, 3, 2},
        {{{10, 20}, {20, 30}}, 2, 1}, /* [start, end): back to back */
        {{{10, 10}, {10, 10}}, 2, 1}, /* under a second each: at least 1 */
        {{{0, 0}}, 1, 0},             /* never started */
        {{{1, 5}, {2, 6}, {3, 7}, {4, 8}}, 4, 4},
        {{{1, 3}, {5, 9}, {6, 7}, {2, 6}, {8, 9}}, 5, 2},
        {{{1, 9}, {2, 8}, {3, 7}, {7, 9}, {8, 9}}, 5, 3},
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++)
        assert_int_equal(mf_estimate_peak_overlap(cases[c].v, cases[c].n),
                         cases[c].want);
}

/* ------------------------------------------------------------------ */
/* Parsing and formats                                                 */
/* ------------------------------------------------------------------ */

static void
test_parse_connections(void **state) {
    static const struct {
        const char *s;
        bool ok;
        size_t n;
        unsigned first, last;
    } cases[] = {
        {"1,2,4", true, 3, 1, 4},
        {"8", true, 1, 8, 8},
        {"100000", true, 1, 100000, 100000},
        {"", false, 0, 0, 0},
        {"1,,2", false, 0, 0, 0},
        {"0", false, 0, 0, 0},
        {"a", false, 0, 0, 0},
        {"100001", false, 0, 0, 0},
        {"1,2,", false, 0, 0, 0},
        {"-1", false, 0, 0, 0},
        {" 2", false, 0, 0, 0},
    };
    (void)state;
    for (size_t c = 0; c < MF_ARRAY_LEN(cases); c++) {
        unsigned *v = NULL;
        size_t n = 0;
        struct mf_error err = {0};
        mf_err rc = mf_estimate_parse_connections(cases[c].s, &v, &n, &err);
        if (!cases[c].ok) {
            assert_int_equal(rc, MF_E_USAGE);
            assert_null(v);
            continue;
        }
        assert_int_equal(rc, MF_E_OK);
        assert_int_equal(n, cases[c].n);
        assert_int_equal(v[0], cases[c].first);
        assert_int_equal(v[n - 1], cases[c].last);
        free(v);
    }
}

static void
test_formats(void **state) {
    static const struct {
        uint64_t b;
        const char *want;
    } bytes[] = {{0, "0 B"},
                 {999, "999 B"},
                 {1000, "1.0 KB"},
                 {1234567, "1.2 MB"},
                 {35000000, "35.0 MB"},
                 {2500000000000ULL, "2.5 TB"}};
    static const struct {
        double s;
        const char *want;
    } durs[] = {{5, "5.0s"},     {0.25, "0.2s"},   {42, "42s"},
                {187, "3m 07s"}, {7500, "2h 05m"}, {93600, "1d 02h"},
                {-3, "0.0s"}};
    char out[32];

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(bytes); i++) {
        mf_plan_format_bytes(out, sizeof(out), bytes[i].b);
        assert_string_equal(out, bytes[i].want);
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(durs); i++) {
        mf_plan_format_duration(out, sizeof(out), durs[i].s);
        assert_string_equal(out, durs[i].want);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_rate_merge),
        cmocka_unit_test(test_mailbox_seconds),
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_suggestion),
        cmocka_unit_test(test_no_floor),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_peak),
        cmocka_unit_test(test_parse_connections),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
