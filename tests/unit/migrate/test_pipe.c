/*
 * Unit tests of the reader-to-writer pipe (core/src/migrate/pipe.c): the
 * bound on queued bytes (never exceeded except by one item bigger than
 * the bound on its own), non-blocking pops, cancel waking a blocked
 * pusher and a blocked popper for good, and two threads moving 100,000
 * items of varying size in order with their bytes intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailferry/util.h"
#include "migrate/pipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct mf_pipe_item *
item(uint32_t uid, size_t len) {
    struct mf_pipe_item *it = mf__pipe_item_new(MF_PIPE_WHOLE);

    it->uid = uid;
    it->len = len;
    it->data = mf_xmalloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        it->data[i] = (uint8_t)(uid * 31 + i);
    return it;
}

static bool
item_ok(const struct mf_pipe_item *it, uint32_t uid, size_t len) {
    if (!it || it->uid != uid || it->len != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (it->data[i] != (uint8_t)(uid * 31 + i))
            return false;
    return true;
}

static void
test_empty_and_nowait(void **state) {
    struct mf_pipe *p = mf__pipe_new(100);
    struct mf_pipe_item *it;
    (void)state;

    assert_null(mf__pipe_pop(p, false));
    assert_int_equal(mf__pipe_push(p, item(1, 10)), MF_E_OK);
    assert_int_equal(mf__pipe_push(p, item(2, 20)), MF_E_OK);
    assert_int_equal(mf__pipe_bytes(p), 30);
    it = mf__pipe_pop(p, false);
    assert_true(item_ok(it, 1, 10));
    mf__pipe_item_free(&it);
    assert_null(it);
    assert_int_equal(mf__pipe_bytes(p), 20);
    /* Items left in the pipe are freed with it. */
    mf__pipe_free(&p);
    assert_null(p);
}

static void
test_oversized_item_alone(void **state) {
    struct mf_pipe *p = mf__pipe_new(1000);
    struct mf_pipe_item *it;
    (void)state;

    /* An empty pipe always lets one item in, however big. */
    assert_int_equal(mf__pipe_push(p, item(1, 5000)), MF_E_OK);
    assert_int_equal(mf__pipe_peak(p), 5000);
    it = mf__pipe_pop(p, true);
    assert_true(item_ok(it, 1, 5000));
    mf__pipe_item_free(&it);
    /* Zero-byte items (BEGIN, END, DONE) never wait. */
    assert_int_equal(mf__pipe_push(p, item(2, 1000)), MF_E_OK);
    assert_int_equal(mf__pipe_push(p, mf__pipe_item_new(MF_PIPE_END)), MF_E_OK);
    assert_int_equal(mf__pipe_bytes(p), 1000);
    mf__pipe_free(&p);
}

struct pusher {
    struct mf_pipe *p;
    struct mf_pipe_item *it;
    atomic_bool done;
    mf_err rc;
};

static void *
push_main(void *arg) {
    struct pusher *ps = arg;
    ps->rc = mf__pipe_push(ps->p, ps->it);
    atomic_store(&ps->done, true);
    return NULL;
}

static void
test_push_blocks_at_bound(void **state) {
    struct mf_pipe *p = mf__pipe_new(100);
    struct pusher ps = {.p = p};
    struct mf_pipe_item *it;
    pthread_t th;
    (void)state;

    assert_int_equal(mf__pipe_push(p, item(1, 80)), MF_E_OK);
    ps.it = item(2, 30); /* 110 > 100: waits */
    assert_int_equal(pthread_create(&th, NULL, push_main, &ps), 0);
    sleep_ms(50);
    assert_false(atomic_load(&ps.done));
    it = mf__pipe_pop(p, true); /* makes room */
    assert_true(item_ok(it, 1, 80));
    mf__pipe_item_free(&it);
    pthread_join(th, NULL);
    assert_true(atomic_load(&ps.done));
    assert_int_equal(ps.rc, MF_E_OK);
    assert_true(mf__pipe_peak(p) <= 100);
    mf__pipe_free(&p);
}

static void
test_cancel_wakes_pusher(void **state) {
    struct mf_pipe *p = mf__pipe_new(10);
    struct pusher ps = {.p = p};
    struct mf_pipe_item *it;
    pthread_t th;
    (void)state;

    assert_int_equal(mf__pipe_push(p, item(1, 10)), MF_E_OK);
    ps.it = item(2, 10);
    assert_int_equal(pthread_create(&th, NULL, push_main, &ps), 0);
    sleep_ms(50);
    assert_false(atomic_load(&ps.done));
    mf__pipe_cancel(p);
    pthread_join(th, NULL);
    assert_int_equal(ps.rc, MF_E_CANCELLED); /* the item was freed */
    /* What is left comes out, then NULL, also when waiting. */
    it = mf__pipe_pop(p, true);
    assert_true(item_ok(it, 1, 10));
    mf__pipe_item_free(&it);
    assert_null(mf__pipe_pop(p, true));
    /* Later pushes fail at once and take the item. */
    assert_int_equal(mf__pipe_push(p, item(3, 1)), MF_E_CANCELLED);
    mf__pipe_free(&p);
}

struct popper {
    struct mf_pipe *p;
    struct mf_pipe_item *it;
    atomic_bool done;
};

static void *
pop_main(void *arg) {
    struct popper *pp = arg;
    pp->it = mf__pipe_pop(pp->p, true);
    atomic_store(&pp->done, true);
    return NULL;
}

static void
test_cancel_wakes_popper(void **state) {
    struct mf_pipe *p = mf__pipe_new(10);
    struct popper pp = {.p = p};
    pthread_t th;
    (void)state;

    assert_int_equal(pthread_create(&th, NULL, pop_main, &pp), 0);
    sleep_ms(50);
    assert_false(atomic_load(&pp.done));
    mf__pipe_cancel(p);
    pthread_join(th, NULL);
    assert_null(pp.it);
    mf__pipe_free(&p);
}

#define N_ITEMS 100000
#define BOUND 4096

struct producer {
    struct mf_pipe *p;
    mf_err rc;
};

static void *
produce(void *arg) {
    struct producer *pr = arg;

    for (uint32_t i = 0; i < N_ITEMS && pr->rc == MF_E_OK; i++)
        pr->rc = mf__pipe_push(pr->p, item(i, i % 97 ? i % 701 : 0));
    if (pr->rc == MF_E_OK)
        pr->rc = mf__pipe_push(pr->p, mf__pipe_item_new(MF_PIPE_DONE));
    return NULL;
}

static void
test_two_threads_in_order(void **state) {
    struct mf_pipe *p = mf__pipe_new(BOUND);
    struct producer pr = {.p = p};
    pthread_t th;
    uint32_t next = 0;
    (void)state;

    assert_int_equal(pthread_create(&th, NULL, produce, &pr), 0);
    for (;;) {
        /* Mix waiting and polling pops, as the writer does. */
        struct mf_pipe_item *it = mf__pipe_pop(p, next % 3 != 0);
        if (!it)
            continue;
        assert_true(mf__pipe_bytes(p) <= BOUND);
        if (it->kind == MF_PIPE_DONE) {
            mf__pipe_item_free(&it);
            break;
        }
        if (!item_ok(it, next, next % 97 ? next % 701 : 0))
            fail_msg("item %u out of order or damaged (uid %u, len %zu)", next,
                     it->uid, it->len);
        mf__pipe_item_free(&it);
        next++;
    }
    pthread_join(th, NULL);
    assert_int_equal(pr.rc, MF_E_OK);
    assert_int_equal(next, N_ITEMS);
    assert_true(mf__pipe_peak(p) <= BOUND);
    assert_true(mf__pipe_peak(p) > BOUND / 2); /* the bound was reached */
    assert_null(mf__pipe_pop(p, false));
    mf__pipe_free(&p);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_nowait),
        cmocka_unit_test(test_oversized_item_alone),
        cmocka_unit_test(test_push_blocks_at_bound),
        cmocka_unit_test(test_cancel_wakes_pusher),
        cmocka_unit_test(test_cancel_wakes_popper),
        cmocka_unit_test(test_two_threads_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
