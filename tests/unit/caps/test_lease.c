/*
 * One lease's life (core/src/caps/), case by case, against a private
 * redis-server child (tests/support/testredis.h) so that nothing else shares
 * its keys: acquire up to the cap and "full" past it, release, expiry of
 * a lease whose holder died, renewal that keeps a lease past its TTL and
 * fails once it is gone, the client-side schedule (due, expired), and
 * waiters: first in line first served, a cancelled waiter out of the way
 * at once, a blocked mf_caps_wait() woken by a release. The fleet view
 * of the same rules (many processes, fairness under churn, Redis
 * restarts) is integration.caps.leases.
 */
#include "testredis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/caps.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TTL_MS 300 /* short leases: expiry within the test */

/* The state of every test: a private redis-server and its client (r). */
static int
setup(void **state) {
    return mf_testredis_setup(state, "mf_test_lease", false);
}

static struct mf_caps_spec
spec(const char *endpoint, unsigned max_connections) {
    return (struct mf_caps_spec){.endpoint = endpoint,
                                 .kind = MF_CAPS_CONNECTION,
                                 .limits = {.max_connections = max_connections},
                                 .ttl_ms = TTL_MS,
                                 .wake_ms = 200,
                                 .holder = "unit"};
}

/* One acquire attempt: the lease, or NULL with the full cap in *full_r. */
static struct mf_caps_lease *
try_acquire(struct mf_testredis *t, struct mf_caps_waiter *w,
            enum mf_caps_cap *full_r) {
    struct mf_caps_lease *l = NULL;
    enum mf_caps_cap full = MF_CAPS_CAP_NONE;
    struct mf_error err = {0};

    assert_int_equal(mf_caps_acquire(t->r, w, &l, &full, &err), MF_E_OK);
    assert_true((l == NULL) == (full != MF_CAPS_CAP_NONE));
    if (full_r)
        *full_r = full;
    return l;
}

static struct mf_caps_usage
usage(struct mf_testredis *t, const char *endpoint) {
    struct mf_caps_usage u;
    struct mf_error err = {0};
    assert_int_equal(mf_caps_usage_get(t->r, endpoint, &u, &err), MF_E_OK);
    return u;
}

static void
release(struct mf_testredis *t, struct mf_caps_lease **l) {
    struct mf_error err = {0};
    assert_int_equal(mf_caps_release(t->r, l, &err), MF_E_OK);
    assert_null(*l);
}

/* ------------------------------------------------------------------ */

static void
test_acquire_full_release(void **state) {
    struct mf_testredis *t = *state;
    struct mf_caps_spec s = spec("acq.example:993", 2);
    struct mf_caps_waiter *w1 = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *w2 = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *w3 = mf_caps_waiter_new(&s);
    struct mf_caps_lease *a, *b, *c;
    enum mf_caps_cap full;
    struct mf_error err = {0};

    a = try_acquire(t, w1, NULL);
    b = try_acquire(t, w2, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(mf_caps_lease_id(a), mf_caps_lease_id(b));
    assert_int_equal(usage(t, s.endpoint).connections, 2);
    c = try_acquire(t, w3, &full);
    assert_null(c);
    assert_int_equal(full, MF_CAPS_CAP_TOTAL);
    assert_string_equal(mf_caps_cap_name(full), "total");
    assert_int_equal(usage(t, s.endpoint).waiters, 1);

    release(t, &a);
    assert_int_equal(usage(t, s.endpoint).connections, 1);
    c = try_acquire(t, w3, &full);
    assert_non_null(c);
    assert_int_equal(usage(t, s.endpoint).connections, 2);
    assert_int_equal(usage(t, s.endpoint).waiters, 0);
    assert_int_equal(mf_caps_waiter_stats(w3)->leases, 1);
    assert_int_equal(mf_caps_waiter_stats(w3)->last_full, MF_CAPS_CAP_TOTAL);
    assert_int_equal(mf_caps_cancel(t->r, w3, &err), MF_E_OK);
    release(t, &b);
    release(t, &c);
    assert_int_equal(usage(t, s.endpoint).connections, 0);
    mf_caps_waiter_free(&w1);
    mf_caps_waiter_free(&w2);
    mf_caps_waiter_free(&w3);
}

/* A holder that died (its handle freed, nothing released): its slot is
 * taken until the TTL runs out, then free again; its renewal fails. */
static void
test_expiry(void **state) {
    struct mf_testredis *t = *state;
    struct mf_caps_spec s = spec("exp.example:993", 1);
    struct mf_caps_waiter *dead = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *next = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = try_acquire(t, dead, NULL), *l2;
    struct mf_error err = {0};
    uint64_t t0 = mf_caps_now_ms();
    enum mf_caps_cap full;

    assert_non_null(l);
    assert_null(try_acquire(t, next, &full));
    assert_int_equal(full, MF_CAPS_CAP_TOTAL);
    usleep((TTL_MS + 100) * 1000);
    assert_true(mf_caps_lease_expired(l, mf_caps_now_ms()));
    l2 = try_acquire(t, next, NULL);
    assert_non_null(l2);
    assert_true(mf_caps_now_ms() - t0 >= TTL_MS);
    /* The dead holder wakes up: its lease is gone. */
    assert_int_equal(mf_caps_renew(t->r, l, &err), MF_E_LEASE_LOST);
    mf_caps_lease_free(&l);
    assert_int_equal(usage(t, s.endpoint).connections, 1);
    release(t, &l2);
    mf_caps_waiter_free(&dead);
    mf_caps_waiter_free(&next);
}

/* Renewing in time keeps a lease well past its TTL; the client-side
 * schedule says when to renew (a third of the TTL) and when the lease may
 * be gone (the TTL). */
static void
test_renew_and_schedule(void **state) {
    struct mf_testredis *t = *state;
    struct mf_caps_spec s = spec("renew.example:993", 1);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *other = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = try_acquire(t, w, NULL);
    struct mf_error err = {0};
    uint64_t now = mf_caps_now_ms();

    assert_non_null(l);
    assert_false(mf_caps_lease_due(l, now));
    assert_false(mf_caps_lease_expired(l, now));
    assert_in_range(mf_caps_lease_next_ms(l, now), 1, TTL_MS / 3);
    assert_true(mf_caps_lease_due(l, now + TTL_MS / 3 + 1));
    assert_int_equal(mf_caps_lease_next_ms(l, now + TTL_MS), 0);
    assert_true(mf_caps_lease_expired(l, now + TTL_MS + 1));
    for (int i = 0; i < 6; i++) { /* 6 x TTL/3 = twice the TTL */
        usleep(TTL_MS / 3 * 1000);
        assert_int_equal(mf_caps_renew(t->r, l, &err), MF_E_OK);
        assert_false(mf_caps_lease_due(l, mf_caps_now_ms()));
    }
    assert_null(try_acquire(t, other, NULL));
    release(t, &l);
    assert_int_equal(mf_caps_cancel(t->r, other, &err), MF_E_OK);
    mf_caps_waiter_free(&w);
    mf_caps_waiter_free(&other);
}

/* First in line first served: a freed slot goes to the waiter that
 * queued first, even when a later one asks first; a waiter that cancels
 * is out of the way at once. */
static void
test_waiters_in_order(void **state) {
    struct mf_testredis *t = *state;
    struct mf_caps_spec s = spec("line.example:993", 1);
    struct mf_caps_waiter *holder = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *first = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *second = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *third = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = try_acquire(t, holder, NULL), *l2;
    struct mf_error err = {0};

    assert_non_null(l);
    assert_null(try_acquire(t, first, NULL));
    assert_null(try_acquire(t, second, NULL));
    assert_null(try_acquire(t, third, NULL));
    assert_int_equal(usage(t, s.endpoint).waiters, 3);
    release(t, &l);
    assert_null(try_acquire(t, second, NULL)); /* first is ahead */
    l = try_acquire(t, first, NULL);
    assert_non_null(l);
    release(t, &l);
    assert_int_equal(mf_caps_cancel(t->r, second, &err), MF_E_OK);
    assert_int_equal(usage(t, s.endpoint).waiters, 1);
    l2 = try_acquire(t, third, NULL);
    assert_non_null(l2);
    release(t, &l2);
    mf_caps_waiter_free(&holder);
    mf_caps_waiter_free(&first);
    mf_caps_waiter_free(&second);
    mf_caps_waiter_free(&third);
}

struct blocked {
    const char *url;
    struct mf_caps_waiter *w;
    struct mf_caps_lease *l;
    mf_err rc;
};

static void *
wait_thread(void *ud) {
    struct blocked *b = ud;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    b->rc = mf_redis_connect(b->url, 0, &r, &err);
    if (b->rc == MF_E_OK)
        b->rc = mf_caps_wait(r, b->w, 10000, &b->l, &err);
    mf_redis_free(&r);
    return NULL;
}

/* A waiter blocked in mf_caps_wait() gets the slot when it is released,
 * woken by the release rather than by its wake period. */
static void
test_wait_woken_by_release(void **state) {
    struct mf_testredis *t = *state;
    struct mf_caps_spec s = spec("wake.example:993", 1);
    struct mf_caps_waiter *holder = mf_caps_waiter_new(&s);
    struct blocked b = {.url = mf_testredis_url(t)};
    struct mf_caps_lease *l = try_acquire(t, holder, NULL);
    pthread_t th;

    s.wake_ms = 3000; /* a wake-up by time would take this long */
    b.w = mf_caps_waiter_new(&s);
    assert_non_null(l);
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &b), 0);
    for (int i = 0; i < 500 && usage(t, s.endpoint).waiters == 0; i++)
        usleep(10000);
    assert_int_equal(usage(t, s.endpoint).waiters, 1);
    uint64_t released = mf_caps_now_ms();
    release(t, &l);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, MF_E_OK);
    assert_non_null(b.l);
    assert_true(mf_caps_now_ms() - released < 2500);
    assert_true(mf_caps_waiter_stats(b.w)->wakeups >= 1);
    release(t, &b.l);
    mf_caps_waiter_free(&b.w);
    mf_caps_waiter_free(&holder);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_full_release),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_renew_and_schedule),
        cmocka_unit_test(test_waiters_in_order),
        cmocka_unit_test(test_wait_woken_by_release),
    };
    return cmocka_run_group_tests(tests, setup, mf_testredis_teardown);
}
