/*
 * The fleet's form of the daily bandwidth quota (lua/quota.lua behind
 * mf_caps_quota_shared(), core/src/caps/quota.c) against a real
 * redis-server (fixture "redis", database 11): the same rule as the pure
 * mf_caps_quota_take() (unit.caps.quota) on Redis' clock, with windows
 * of a few hundred ms: what a window takes, the wait until its end, a
 * message bigger than the quota alone in a fresh window, the server's
 * word (fill), a new window from 0, and one count shared by two
 * connections (two workers) for the same user, apart per direction and
 * per user.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "caps_test.h"

#define WINDOW 400 /* ms */
#define DEADLINE_MS 5000

static struct mf_redis *
connect11(void) {
    char *base = mf_testenv_redis("REDIS_URL");
    char *url = mf_xasprintf("%s/11", base ? base : "");
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    if (!base || mf_redis_connect(url, 0, &r, &err) != MF_E_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, err.detail);
        abort();
    }
    free(base);
    free(url);
    return r;
}

/* Takes (fill false) or fills; returns the wait, *used_r the count. */
static uint64_t
take(struct mf_redis *r, const char *ep, const char *user, bool upload,
     bool fill, uint64_t limit, uint64_t bytes, uint64_t *used_r) {
    uint64_t wait = 0, used = 0;
    struct mf_error err = {0};

    if (mf_caps_quota_shared(r, ep, user, upload, fill, limit, WINDOW, bytes,
                             &wait, &used, &err) != MF_E_OK)
        fail_msg("quota: %s", err.detail);
    if (used_r)
        *used_r = used;
    return wait;
}

/* Polls until the window of user has passed (its first take is let
 * through again), within DEADLINE_MS. */
static void
until_next_window(struct mf_redis *r, const char *ep, const char *user) {
    uint64_t t0 = mf_monotonic_ms(), wait;

    while ((wait = take(r, ep, user, true, false, 100, 101, NULL)) > 0) {
        assert_true(mf_monotonic_ms() < t0 + DEADLINE_MS);
        ct_sleep_ms((long)(wait < 50 ? wait : 50));
    }
}

static void
test_window(void **state) {
    struct mf_redis *r = connect11();
    char *ep = ct_endpoint("quota");
    uint64_t used, wait;

    (void)state;
    assert_true(take(r, ep, "ann", true, false, 100, 40, &used) == 0);
    assert_true(used == 40);
    assert_true(take(r, ep, "ann", true, false, 100, 60, &used) == 0);
    assert_true(used == 100);
    /* One byte more waits for the window's end, and is not counted. */
    wait = take(r, ep, "ann", true, false, 100, 1, &used);
    assert_true(wait > 0 && wait <= WINDOW);
    assert_true(used == 100);
    /* The next window: from 0 (until_next_window() took 101 there). */
    until_next_window(r, ep, "ann");
    assert_true(take(r, ep, "ann", true, false, 100, 1, &used) > 0);
    assert_true(used == 101);
    mf_redis_free(&r);
    free(ep);
}

static void
test_bigger_and_fill(void **state) {
    struct mf_redis *r = connect11();
    char *ep = ct_endpoint("quota");
    uint64_t used, wait;

    (void)state;
    /* Alone in a fresh window a message bigger than the quota goes. */
    assert_true(take(r, ep, "bob", false, false, 100, 500, &used) == 0);
    assert_true(used == 500);
    assert_true(take(r, ep, "bob", false, false, 100, 1, NULL) > 0);
    /* The server's word with no window open: one opens, full, also
     * without a limit of our own. */
    wait = take(r, ep, "cay", true, true, 0, 0, NULL);
    assert_true(wait > WINDOW / 2 && wait <= WINDOW);
    assert_true(take(r, ep, "cay", true, false, 0, 1, NULL) > 0);
    /* In an open window it keeps the window's end. */
    assert_true(take(r, ep, "dee", true, false, 100, 10, NULL) == 0);
    assert_true(take(r, ep, "dee", true, true, 100, 0, &used) > 0);
    assert_true(used == 10);
    assert_true(take(r, ep, "dee", true, false, 100, 1, NULL) > 0);
    mf_redis_free(&r);
    free(ep);
}

static void
test_shared(void **state) {
    struct mf_redis *r1 = connect11(), *r2 = connect11();
    char *ep = ct_endpoint("quota");
    uint64_t used;

    (void)state;
    /* Two workers, one user: one count. */
    assert_true(take(r1, ep, "eve@example.test", true, false, 100, 60, NULL) ==
                0);
    assert_true(take(r2, ep, "eve@example.test", true, false, 100, 60, &used) >
                0);
    assert_true(used == 60);
    /* Another direction and another user count apart. */
    assert_true(take(r2, ep, "eve@example.test", false, false, 100, 60, NULL) ==
                0);
    assert_true(take(r2, ep, "fay@example.test", true, false, 100, 60, NULL) ==
                0);
    mf_redis_free(&r1);
    mf_redis_free(&r2);
    free(ep);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_bigger_and_fill),
        cmocka_unit_test(test_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
