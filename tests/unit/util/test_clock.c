/*
 * The one clock (core/src/util/util.c): mf_monotonic_ms() and
 * mf_monotonic_s() read the same clock and never go back, and
 * mf_deadline_after_ms() is "now + ms" on the clock it is given, with
 * nanoseconds carried into seconds, as pthread_cond_timedwait() takes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/util.h"

#include <time.h>

static int64_t
ts_ms(const struct timespec *t) {
    return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

static int64_t
now_ms(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return ts_ms(&t);
}

static void
test_monotonic(void **state) {
    (void)state;
    uint64_t a = mf_monotonic_ms();
    double s = mf_monotonic_s();
    uint64_t b = mf_monotonic_ms();

    assert_true(b >= a);
    /* The same clock: seconds between the two millisecond readings. */
    assert_true(s * 1000.0 >= (double)a - 1.0);
    assert_true(s * 1000.0 <= (double)b + 1.0);
    assert_true(now_ms(CLOCK_MONOTONIC) >= (int64_t)b);
}

static void
test_deadline(void **state) {
    (void)state;
    const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    const uint64_t after[] = {0, 1, 999, 1000, 1001, 2500, 86400000};

    for (size_t c = 0; c < 2; c++)
        for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
            int64_t before = now_ms(clocks[c]);
            struct timespec d = mf_deadline_after_ms(clocks[c], after[i]);
            int64_t later = now_ms(clocks[c]);

            assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
            /* Within the two readings, each plus ms (1 ms of rounding). */
            assert_true(ts_ms(&d) >= before + (int64_t)after[i] - 1);
            assert_true(ts_ms(&d) <= later + (int64_t)after[i] + 1);
        }
}

int
main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_monotonic),
                                       cmocka_unit_test(test_deadline)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
