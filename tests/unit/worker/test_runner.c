/*
 * The slot's runners (core/src/worker/runner.c): a function handed over
 * runs on the runner's thread, join waits for it to return, the next one
 * runs on the same thread, and end stops the thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/worker_int.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

struct call {
    pthread_t ran_on;
    int n;
    atomic_bool done;
};

static void *
work(void *arg) {
    struct call *c = arg;

    usleep(20 * 1000); /* join must wait for it */
    c->ran_on = pthread_self();
    c->n++;
    atomic_store(&c->done, true);
    return NULL;
}

static void
test_runs_in_turn_on_one_thread(void **state) {
    struct mf__runner t;
    struct call a = {0}, b = {0};

    (void)state;
    memset(&t, 0, sizeof(t));
    mf__runner_end(&t); /* never started: nothing to end */
    assert_true(mf__runner_start(&t, work, &a));
    mf__runner_join(&t);
    assert_true(atomic_load(&a.done));
    assert_int_equal(a.n, 1);
    assert_false(pthread_equal(a.ran_on, pthread_self()));
    assert_true(mf__runner_start(&t, work, &b));
    mf__runner_join(&t);
    assert_true(atomic_load(&b.done));
    assert_int_equal(b.n, 1);
    assert_int_equal(a.n, 1);
    assert_true(pthread_equal(a.ran_on, b.ran_on));
    mf__runner_join(&t); /* nothing running: returns at once */
    mf__runner_end(&t);
    assert_false(t.started);
    /* Started again after an end: a new thread. */
    memset(&a, 0, sizeof(a));
    assert_true(mf__runner_start(&t, work, &a));
    mf__runner_join(&t);
    assert_int_equal(a.n, 1);
    mf__runner_end(&t);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_in_turn_on_one_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
