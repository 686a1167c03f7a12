/*
 * The progress figures (core/src/progress/figures.c): the meter's rate
 * over its sliding window, the totals from a snapshot (done + left, the
 * average standing in for unmeasured mailboxes, "~" where estimated,
 * unknown where nothing can be estimated) and the ETA (none without data
 * or with a zero rate, 0 when nothing is left, the slower of messages
 * and bytes). Every expected figure is worked out in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/progress.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static void
assert_close(double got, double want) {
    if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
        fail_msg("got %.12g, want %.12g", got, want);
}

/* A snapshot with only the counters these tests set. */
static struct mf_progress_snapshot
snap(double at, uint64_t done, uint64_t bytes) {
    struct mf_progress_snapshot s;

    memset(&s, 0, sizeof(s));
    s.at = at;
    s.mailboxes = 4;
    s.messages_done = done;
    s.bytes_done = bytes;
    return s;
}

/* A meter, the snapshot figures are computed from, and the figures. */
struct fig {
    struct mf_progress_meter m;
    struct mf_progress_snapshot s;
    struct mf_progress_figures f;
};

/* A meter of a window of seconds with its first sample: 0 s, nothing
 * done. */
static void
fig_start(struct fig *x, double window) {
    memset(x, 0, sizeof(*x));
    mf_progress_meter_init(&x->m, window);
    mf_progress_meter_add(&x->m, 0, 0, 0);
}

/* Adds the sample (at, done, bytes) to the meter, then computes the
 * figures of snap(at, done, bytes) with it. */
static void
fig_sample(struct fig *x, double at, uint64_t done, uint64_t bytes) {
    mf_progress_meter_add(&x->m, at, done, bytes);
    x->s = snap(at, done, bytes);
    mf_progress_figures_compute(&x->s, &x->m, &x->f);
}

/* Computes f from s without a meter: the planned messages must be
 * planned, and estimated or not. */
static void
expect_planned(const struct mf_progress_snapshot *s,
               struct mf_progress_figures *f, uint64_t planned,
               bool estimated) {
    mf_progress_figures_compute(s, NULL, f);
    assert_int_equal(f->messages.planned, planned);
    if (f->messages.estimated != estimated)
        fail_msg("%" PRIu64 " messages planned %s", planned,
                 estimated ? "not estimated" : "estimated");
}

static void
test_no_data(void **state) {
    struct mf_progress_snapshot s = snap(5, 0, 0);
    struct mf_progress_meter m;
    struct mf_progress_figures f;

    (void)state;
    /* No meter at all: totals, no rate, no ETA. */
    s.run_messages_left = 10;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_true(f.messages.known);
    assert_int_equal(f.messages.planned, 10);
    assert_false(f.rate_known);
    assert_false(f.eta_known);
    /* An empty meter, then one sample: still no rate. */
    mf_progress_meter_init(&m, 10);
    mf_progress_figures_compute(&s, &m, &f);
    assert_false(f.rate_known);
    assert_close(f.elapsed_s, 0);
    mf_progress_meter_add(&m, 5, 0, 0);
    mf_progress_figures_compute(&s, &m, &f);
    assert_false(f.rate_known);
    assert_false(f.eta_known);
    /* A second sample 0.2 s later is too close to make a rate of. */
    mf_progress_meter_add(&m, 5.2, 3, 300);
    mf_progress_figures_compute(&s, &m, &f);
    assert_false(f.rate_known);
}

static void
test_rate_window(void **state) {
    struct fig x;

    (void)state;
    fig_start(&x, 10);
    /* A burst first: 1000 messages in the first second, then 5 a
     * second for 30 s. The window of 10 s sees only the steady part:
     * samples t = 21..31, 50 messages and 5000 bytes over 10 s. */
    for (int t = 1; t <= 30; t++)
        mf_progress_meter_add(&x.m, t, 1000 + 5 * (uint64_t)(t - 1),
                              100000 + 500 * (uint64_t)(t - 1));
    fig_sample(&x, 31, 1000 + 5 * 30, 100000 + 500 * 30);
    assert_true(x.f.rate_known);
    assert_close(x.f.messages_per_s, 5);
    assert_close(x.f.bytes_per_s, 500);
    assert_close(x.f.elapsed_s, 31);
    /* Nothing left: the ETA is 0, and known. */
    assert_true(x.f.eta_known);
    assert_close(x.f.eta_s, 0);
}

static void
test_rate_irregular_and_reset(void **state) {
    struct fig x;

    (void)state;
    fig_start(&x, 10);
    /* Samples at 0, 4, 12 and 15: the oldest inside the window (15 - 10
     * = 5) is t = 12; 30 messages over 3 s = 10/s. */
    mf_progress_meter_add(&x.m, 4, 100, 0);
    mf_progress_meter_add(&x.m, 12, 170, 0);
    fig_sample(&x, 15, 200, 0);
    assert_close(x.f.messages_per_s, 10);
    /* A counter that went back (an attempt started over) restarts the
     * window: one sample, no rate, never a negative one. */
    fig_sample(&x, 16, 150, 0);
    assert_false(x.f.rate_known);
    fig_sample(&x, 18, 170, 0);
    assert_close(x.f.messages_per_s, 10); /* 20 over 2 s */
    /* The elapsed time counts from the very first sample. */
    assert_close(x.f.elapsed_s, 18);
}

static void
test_ring_wraps(void **state) {
    struct fig x;
    const int n = 3 * MF_PROGRESS_SAMPLES;

    (void)state;
    /* More samples than the ring holds, every 0.1 s, 1 message each:
     * 10 a second whatever was dropped. */
    fig_start(&x, 5);
    for (int i = 1; i < n; i++) /* i = 0 is fig_start()'s */
        mf_progress_meter_add(&x.m, i * 0.1, (uint64_t)i, 2 * (uint64_t)i);
    assert_int_equal(x.m.n, MF_PROGRESS_SAMPLES);
    x.s = snap((n - 1) * 0.1, (uint64_t)(n - 1), 0);
    mf_progress_figures_compute(&x.s, &x.m, &x.f);
    assert_true(fabs(x.f.messages_per_s - 10) < 1e-6);
    assert_true(fabs(x.f.bytes_per_s - 20) < 1e-6);
}

static void
test_totals(void **state) {
    /* snap(0, 300, 30000) with one mailbox of each state. */
    struct mf_progress_snapshot s = {.mailboxes = 4,
                                     .messages_done = 300,
                                     .bytes_done = 30000,
                                     .finished = 1,
                                     .running_n = 1,
                                     .queued = 2,
                                     .failed = 1,
                                     .run_messages_left = 100,
                                     .run_bytes_left = 10000};
    struct mf_progress_figures f;

    (void)state;
    /* Two queued mailboxes, neither measured, and nothing measured
     * anywhere: the planned total cannot be told. */
    mf_progress_figures_compute(&s, NULL, &f);
    assert_int_equal(f.mailboxes, 4);
    assert_int_equal(f.finished, 1);
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.running, 1);
    assert_int_equal(f.queued, 2);
    assert_false(f.messages.known);
    assert_false(f.bytes.known);
    assert_int_equal(f.messages.done, 300);
    assert_close(f.messages.percent, 0);
    /* One finished mailbox measured 200 messages, 20000 bytes: the two
     * queued ones count as 200 each. 300 + 100 + 400 = 800, ~, 37.5 %. */
    s.sized = 1;
    s.sized_messages = 200;
    s.sized_bytes = 20000;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_true(f.messages.known);
    assert_true(f.messages.estimated);
    assert_int_equal(f.messages.planned, 800);
    assert_close(f.messages.percent, 37.5);
    assert_int_equal(f.bytes.planned, 30000 + 10000 + 40000);
    /* One queued mailbox measured (a stopped first pass left 50): the
     * other one is still the average. 300 + 100 + 50 + 200 = 650. */
    s.queued_sized = 1;
    s.queued_messages = 50;
    s.queued_bytes = 5000;
    expect_planned(&s, &f, 650, true);
    /* Both measured, and no job still listing: exact. 300+100+50 = 450. */
    s.queued_sized = 2;
    expect_planned(&s, &f, 450, false);
    assert_false(f.bytes.estimated);
    assert_int_equal(f.bytes.planned, 45000);
    /* A running job still listing folders: a lower bound, "~". */
    s.listing = true;
    expect_planned(&s, &f, 450, true);
    /* A job that has not published its plan yet is as unknown as an
     * unmeasured queued mailbox: the average stands in (200). */
    s.run_unplanned = 1;
    s.listing = false;
    expect_planned(&s, &f, 650, true);
    s.sized = 0;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_false(f.messages.known);
    /* Listing with nothing listed yet: not "0 of ~0, 100 %". */
    s = snap(0, 0, 0);
    s.running_n = 1;
    s.listing = true;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_false(f.messages.known);
    assert_close(f.messages.percent, 0);
    /* An estimate never reads as all done: 99 % at most. */
    s.messages_done = 10;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_true(f.messages.known);
    assert_int_equal(f.messages.planned, 10);
    assert_close(f.messages.percent, 99);
    /* A batch with nothing: 0 of 0 is all done. */
    s = snap(0, 0, 0);
    mf_progress_figures_compute(&s, NULL, &f);
    assert_true(f.messages.known);
    assert_close(f.messages.percent, 100);
}

static void
test_unsized_running_bytes(void **state) {
    struct mf_progress_snapshot s = snap(0, 10, 1000);
    struct mf_progress_figures f;

    (void)state;
    /* A worker that does not say its bytes: 5 messages left at the
     * average copied so far, 100 bytes: 1000 + 500, estimated. */
    s.running_n = 1;
    s.run_messages_left = 5;
    s.run_unsized_left = 5;
    expect_planned(&s, &f, 15, false);
    assert_int_equal(f.bytes.planned, 1500);
    assert_true(f.bytes.estimated);
    /* With a measured average (250 bytes a message) that one counts. */
    s.sized = 1;
    s.sized_messages = 4;
    s.sized_bytes = 1000;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_int_equal(f.bytes.planned, 1000 + 1250);
    /* Nothing to average from: unknown. */
    s = snap(0, 0, 0);
    s.run_unsized_left = 5;
    s.run_messages_left = 5;
    mf_progress_figures_compute(&s, NULL, &f);
    assert_false(f.bytes.known);
    assert_true(f.messages.known);
}

/* A 10 s meter whose counters went from msgs and bytes at 0 s to 100
 * messages and 1000 bytes at 10 s. */
static void
meter_to_100(struct mf_progress_meter *m, uint64_t msgs, uint64_t bytes) {
    mf_progress_meter_init(m, 10);
    mf_progress_meter_add(m, 0, msgs, bytes);
    mf_progress_meter_add(m, 10, 100, 1000);
}

/* At 10 s, 100 messages and 1000 bytes done, one mailbox running with
 * 50 messages and 2000 bytes left. */
static struct mf_progress_snapshot
running_at_10(void) {
    struct mf_progress_snapshot s = snap(10, 100, 1000);

    s.running_n = 1;
    s.run_messages_left = 50;
    s.run_bytes_left = 2000;
    return s;
}

static void
test_eta(void **state) {
    struct mf_progress_meter m;
    struct mf_progress_snapshot s;
    struct mf_progress_figures f;

    (void)state;
    meter_to_100(&m, 0, 0);
    /* 10 msgs/s, 100 B/s. Left: 50 messages (5 s), 2000 bytes (20 s):
     * the slower decides, 20 s. */
    s = running_at_10();
    mf_progress_figures_compute(&s, &m, &f);
    assert_true(f.eta_known);
    assert_close(f.eta_s, 20);
    /* Bytes unknown: the messages alone, 5 s. */
    s.run_unsized_left = 1;
    s.run_bytes_left = 0;
    s.messages_done = 0; /* nothing to average the bytes from */
    s.bytes_done = 0;
    mf_progress_figures_compute(&s, &m, &f);
    assert_false(f.bytes.known);
    assert_true(f.eta_known);
    assert_close(f.eta_s, 5);
    /* Nothing moved over the window (a zero rate) with work left: no
     * ETA rather than an infinite one. */
    meter_to_100(&m, 100, 1000);
    s = running_at_10();
    mf_progress_figures_compute(&s, &m, &f);
    assert_true(f.rate_known);
    assert_close(f.messages_per_s, 0);
    assert_false(f.eta_known);
    /* Total unknown (queued, nothing measured): no ETA either. */
    meter_to_100(&m, 0, 0);
    s = snap(10, 100, 1000);
    s.queued = 3;
    mf_progress_figures_compute(&s, &m, &f);
    assert_true(f.rate_known);
    assert_false(f.messages.known);
    assert_false(f.eta_known);
}

static void
test_inflight_list(void **state) {
    struct mf_progress_snapshot s;

    (void)state;
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < MF_PROGRESS_INFLIGHT_MAX + 5; i++) {
        struct mf_progress_mailbox m = {.email = "a@example.test",
                                        .messages_done = (uint64_t)i};
        mf_progress_snapshot_add_inflight(&s, &m);
    }
    assert_int_equal(s.n_inflight, MF_PROGRESS_INFLIGHT_MAX);
    assert_string_equal(s.inflight[3].email, "a@example.test");
    assert_int_equal(s.inflight[3].messages_done, 3);
    mf_progress_snapshot_clear(&s);
    assert_int_equal(s.n_inflight, 0);
    assert_null(s.inflight);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_data),
        cmocka_unit_test(test_rate_window),
        cmocka_unit_test(test_rate_irregular_and_reset),
        cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_unsized_running_bytes),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_inflight_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
