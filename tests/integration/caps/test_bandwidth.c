/*
 * The fleet-wide bandwidth bucket against a real redis-server (fixture
 * "redis"): several streams that each take 64 KB chunks and wait as told
 * together move data at the configured rate, within ±10 % over a few
 * seconds; an unlimited rate never waits or touches Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "caps_test.h"

#include <pthread.h>
#include <stdatomic.h>

#define CHUNK (64 * 1024)
#define STREAMS 4
#define RATE (2u * 1024 * 1024) /* bytes per second, for the fleet */
#define RUN_MS 4000

struct bw {
    const char *ep;
    uint64_t start_ms;
    atomic_uint_fast64_t bytes; /* sent inside the measuring window */
    atomic_uint_fast64_t chunks;
};

static void *
stream(void *p) {
    struct bw *b = p;
    struct mf_redis *r = ct_connect();
    struct mf_error err = {0};

    for (;;) {
        long wait_ms = 0;
        if (mf_caps_bw_take(r, b->ep, CHUNK, RATE, &wait_ms, &err) != MF_E_OK) {
            fprintf(stderr, "bw: %s\n", err.detail);
            abort();
        }
        ct_sleep_ms(wait_ms);
        /* "Send" now; count what is sent inside the window. */
        if (mf_caps_now_ms() - b->start_ms >= RUN_MS)
            break;
        atomic_fetch_add(&b->bytes, CHUNK);
        atomic_fetch_add(&b->chunks, 1);
    }
    mf_redis_free(&r);
    return NULL;
}

static void
test_rate(void **state) {
    char *ep = ct_endpoint("bw");
    struct bw b = {.ep = ep};
    pthread_t th[STREAMS];
    struct mf_caps_metrics m;
    double rate;

    (void)state;
    b.start_ms = mf_caps_now_ms();
    for (int i = 0; i < STREAMS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stream, &b), 0);
    for (int i = 0; i < STREAMS; i++)
        pthread_join(th[i], NULL);
    rate = (double)atomic_load(&b.bytes) * 1000.0 / RUN_MS;
    mf_caps_metrics_get(&m);
    fprintf(stderr,
            "bandwidth: %d streams, cap %u B/s, measured %.0f B/s (%+.1f %%) "
            "over %d ms, %llu chunks, %llu waits\n",
            STREAMS, RATE, rate, (rate / RATE - 1) * 100, RUN_MS,
            (unsigned long long)atomic_load(&b.chunks),
            (unsigned long long)m.bw_waits);
    assert_true(rate >= RATE * 0.9);
    assert_true(rate <= RATE * 1.1);
    assert_true(m.bw_waits > 0);
    free(ep);
}

static void
test_unlimited(void **state) {
    struct mf_redis *r = ct_connect();
    struct mf_error err = {0};
    long wait_ms = 99;
    char *ep = ct_endpoint("burst");

    (void)state;
    /* Rate 0 never talks to Redis: a NULL client proves it. */
    assert_int_equal(
        mf_caps_bw_take(NULL, "src:unlimited", CHUNK, 0, &wait_ms, &err),
        MF_E_OK);
    assert_int_equal(wait_ms, 0);
    /* Within the burst a single take does not wait. */
    assert_int_equal(mf_caps_bw_take(r, ep, 1000, 1000000, &wait_ms, &err),
                     MF_E_OK);
    assert_int_equal(wait_ms, 0);
    /* A take far beyond it waits for the debt: 1 MB at 1 MB/s ~ 1 s. */
    assert_int_equal(mf_caps_bw_take(r, ep, 1000000, 1000000, &wait_ms, &err),
                     MF_E_OK);
    assert_true(wait_ms >= 850 && wait_ms <= 1000);
    mf_redis_free(&r);
    free(ep);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
