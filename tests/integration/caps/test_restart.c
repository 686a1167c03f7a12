/*
 * Leases across a redis-server restart (fixture "redis", AOF on, restarted
 * with `tests/support/redis/fixture restart`): held leases survive and
 * renew, a waiter that was blocked when Redis went away gets its slot once
 * the holder releases after the restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "caps_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

static void
restart_redis(void) {
    char *script =
        mf_xasprintf("%s/tests/support/redis/fixture", getenv("MF_SOURCE_DIR"));
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        execl(script, script, "restart", (char *)NULL);
        _exit(127);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(script);
}

static struct mf_caps_spec
spec1(const char *ep) {
    struct mf_caps_spec s = {
        .endpoint = ep,
        .kind = MF_CAPS_CONNECTION,
        .user = "u",
        .ip = "10.0.0.1",
        .limits = {.max_connections = 1, .max_connections_per_ip = 1},
        .ttl_ms = 15000,
        .wake_ms = 500};
    return s;
}

static void
test_held_across_restart(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("restart-held");
    struct mf_caps_spec s = spec1(ep);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_waiter *w2 = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = NULL, *x = NULL;
    struct mf_error err = {0};
    enum mf_caps_cap full;
    mf_err rc;

    (void)state;
    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err), MF_E_OK);
    assert_non_null(l);
    restart_redis();
    /* The script cache is empty now and the connection dead: renew
     * reconnects, reloads the script and finds the lease in the AOF. */
    rc = mf_caps_renew(r, l, &err);
    assert_int_equal(rc, MF_E_OK);
    assert_false(mf_caps_lease_expired(l, mf_caps_now_ms()));
    /* The slot is still taken. */
    assert_int_equal(mf_caps_acquire(r, w2, &x, &full, &err), MF_E_OK);
    assert_null(x);
    assert_int_equal(full, MF_CAPS_CAP_TOTAL);
    assert_int_equal(mf_caps_cancel(r, w2, &err), MF_E_OK);
    assert_int_equal(mf_caps_release(r, &l, &err), MF_E_OK);
    assert_int_equal(ct_zcard(r, ep, "total"), 0);
    mf_caps_waiter_free(&w);
    mf_caps_waiter_free(&w2);
    mf_redis_free(&r);
    free(ep);
}

struct waiting {
    const char *ep;
    atomic_int queued;
    atomic_int unavailable; /* Redis errors the waiter saw */
    atomic_uint_fast64_t got_ms;
};

static void *
waiter_thread(void *p) {
    struct waiting *wt = p;
    struct mf_redis *r = ct_connect();
    struct mf_caps_spec s = spec1(wt->ep);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = NULL;
    struct mf_error err = {0};
    enum mf_caps_cap full;
    uint64_t start = mf_caps_now_ms();

    if (mf_caps_acquire(r, w, &l, &full, &err) != MF_E_OK || l)
        abort();
    atomic_store(&wt->queued, 1);
    /* What a worker does: wait; on a Redis error pause and wait again. */
    while (!l && mf_caps_now_ms() - start < 30000) {
        mf_err rc = mf_caps_wait(r, w, 30000, &l, &err);
        if (rc == MF_E_REDIS_UNAVAILABLE) {
            atomic_fetch_add(&wt->unavailable, 1);
            ct_sleep_ms(100);
        } else if (rc != MF_E_OK) {
            fprintf(stderr, "waiter: %s\n", err.detail);
            abort();
        }
    }
    if (!l)
        abort();
    atomic_store(&wt->got_ms, mf_caps_now_ms());
    if (mf_caps_release(r, &l, &err) != MF_E_OK)
        abort();
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    return NULL;
}

static void
test_waiting_across_restart(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("restart-wait");
    struct mf_caps_spec s = spec1(ep);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l = NULL;
    struct mf_error err = {0};
    struct waiting wt = {.ep = ep};
    enum mf_caps_cap full;
    pthread_t th;
    uint64_t released;
    mf_err rc;

    (void)state;
    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err), MF_E_OK);
    assert_non_null(l);
    assert_int_equal(pthread_create(&th, NULL, waiter_thread, &wt), 0);
    while (!atomic_load(&wt.queued))
        ct_sleep_ms(10);
    ct_sleep_ms(200); /* blocked in BLPOP */
    restart_redis();
    ct_sleep_ms(300);
    /* The waiter must not have got the slot: the lease is still held. */
    assert_int_equal(atomic_load(&wt.got_ms), 0);
    /* The clock is read before the release: the waiter may be served
     * while mf_caps_release is still returning. */
    released = mf_caps_now_ms();
    rc = mf_caps_release(r, &l, &err);
    assert_int_equal(rc, MF_E_OK);
    pthread_join(th, NULL);
    fprintf(stderr,
            "waiter served %llu ms after the release; saw Redis "
            "unavailable %d times\n",
            (unsigned long long)(atomic_load(&wt.got_ms) - released),
            atomic_load(&wt.unavailable));
    assert_true(atomic_load(&wt.got_ms) >= released);
    /* Woken by the release (or at worst one wake period later). */
    assert_true(atomic_load(&wt.got_ms) - released <= 500 + 300);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    free(ep);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_across_restart),
        cmocka_unit_test(test_waiting_across_restart),
    };
    /* Like every program of ours (see mf_redis_connect): a write to the
     * connection of a Redis that is being restarted must fail, not kill. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
