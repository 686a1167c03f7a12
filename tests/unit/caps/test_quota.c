/* The daily bandwidth quota's rule (mf_caps_quota_take() and
 * mf_caps_quota_fill() in core/src/caps/quota.c) on a fake clock: what
 * a window takes, when it ends, what the server's word does, and that a
 * new window starts from 0. The fleet's form (lua/quota.lua) follows the
 * same rule; integration.provider.quota runs it against Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/caps.h"

#define W 1000 /* window, ms */

static void
test_within_limit(void **state) {
    struct mf_caps_quota q = {0};
    int64_t until = -1;

    (void)state;
    /* The first bytes open the window at the time they are taken. */
    assert_true(mf_caps_quota_take(&q, 100, W, 40, 5000, &until));
    assert_int_equal(q.start_ms, 5000);
    assert_true(mf_caps_quota_take(&q, 100, W, 60, 5100, &until));
    assert_int_equal(q.used, 100);
    assert_int_equal(until, -1); /* untouched while taken */
    /* One byte more than the limit waits for the window's end. */
    assert_false(mf_caps_quota_take(&q, 100, W, 1, 5200, &until));
    assert_int_equal(until, 6000);
    assert_int_equal(q.used, 100);
    /* Still the same window a moment before its end... */
    assert_false(mf_caps_quota_take(&q, 100, W, 1, 5999, &until));
    /* ...and a new one, counted from 0, at its end. */
    assert_true(mf_caps_quota_take(&q, 100, W, 70, 6000, &until));
    assert_int_equal(q.used, 70);
    assert_int_equal(q.start_ms, 6000);
    assert_false(mf_caps_quota_take(&q, 100, W, 31, 6500, &until));
    assert_int_equal(until, 7000);
    assert_true(mf_caps_quota_take(&q, 100, W, 30, 6500, &until));
}

static void
test_bigger_than_quota(void **state) {
    struct mf_caps_quota q = {0};
    int64_t until = 0;

    (void)state;
    /* Alone in a fresh window, a message bigger than the quota goes (or
     * it would never go); after it nothing more does. */
    assert_true(mf_caps_quota_take(&q, 100, W, 500, 0, &until));
    assert_false(mf_caps_quota_take(&q, 100, W, 1, 10, &until));
    assert_int_equal(until, 1 + W); /* a window opened at clock 0 */
    /* In an open window it waits like any other. */
    q = (struct mf_caps_quota){0};
    assert_true(mf_caps_quota_take(&q, 100, W, 1, 100, &until));
    assert_false(mf_caps_quota_take(&q, 100, W, 500, 150, &until));
    assert_int_equal(until, 1100);
}

static void
test_no_limit(void **state) {
    struct mf_caps_quota q = {0};
    int64_t until = 0;

    (void)state;
    for (int i = 0; i < 10; i++)
        assert_true(
            mf_caps_quota_take(&q, 0, W, UINT64_C(1) << 40, 100 + i, &until));
    assert_true(q.used == UINT64_C(10) << 40);
}

static void
test_fill(void **state) {
    struct mf_caps_quota q = {0};
    int64_t until = 0;

    (void)state;
    /* The server's word with no window open: one opens now, full. */
    assert_int_equal(mf_caps_quota_fill(&q, W, 2000), 3000);
    assert_false(mf_caps_quota_take(&q, 100, W, 1, 2001, &until));
    assert_int_equal(until, 3000);
    /* Also without a limit of our own. */
    assert_false(mf_caps_quota_take(&q, 0, W, 1, 2500, &until));
    assert_true(mf_caps_quota_take(&q, 100, W, 1, 3000, &until));
    assert_false(q.full);
    /* In an open window: the window keeps its end. */
    assert_int_equal(mf_caps_quota_fill(&q, W, 3500), 4000);
    assert_false(mf_caps_quota_take(&q, 100, W, 1, 3600, &until));
    assert_int_equal(until, 4000);
    /* In a window that has ended: a new one. */
    assert_int_equal(mf_caps_quota_fill(&q, W, 9000), 10000);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_within_limit),
        cmocka_unit_test(test_bigger_than_quota),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
