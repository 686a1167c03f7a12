/*
 * Unit tests of the Prometheus registry: exact text for counters, gauges
 * and histograms with and without labels, escaping, number formatting,
 * and the programmer errors that must assert (checked in a forked child).
 */
#include "mailferry/metrics.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
render(struct mf_metrics *m) {
    struct mf_buf b = {0};
    mf_metrics_render(m, &b);
    char *s = mf_xstrdup(b.len ? (const char *)b.data : "");
    mf_buf_free(&b);
    return s;
}

static void
expect_text(struct mf_metrics *m, const char *want) {
    char *got = render(m);
    assert_string_equal(got, want);
    free(got);
}

static void
test_counter_and_gauge(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    mf_metrics_declare(m, "mailferry_jobs_total", "counter", "Jobs finished.");
    mf_metrics_declare(m, "mailferry_mailboxes", "gauge",
                       "Mailboxes by state.");
    mf_metrics_declare(m, "mailferry_idle", "gauge", "Nothing set yet.");
    /* Families with no series show HELP and TYPE only. */
    expect_text(m, "# HELP mailferry_jobs_total Jobs finished.\n"
                   "# TYPE mailferry_jobs_total counter\n"
                   "# HELP mailferry_mailboxes Mailboxes by state.\n"
                   "# TYPE mailferry_mailboxes gauge\n"
                   "# HELP mailferry_idle Nothing set yet.\n"
                   "# TYPE mailferry_idle gauge\n");

    mf_metrics_add(m, "mailferry_jobs_total", 1, "outcome", "synced", NULL);
    mf_metrics_add(m, "mailferry_jobs_total", 2, "outcome", "failed", NULL);
    mf_metrics_add(m, "mailferry_jobs_total", 1, "outcome", "synced", NULL);
    mf_metrics_set(m, "mailferry_mailboxes", 12, "state", "done", NULL);
    mf_metrics_set(m, "mailferry_mailboxes", 3.5, "state", "done", NULL);
    mf_metrics_add(m, "mailferry_mailboxes", -1, "state", "done", NULL);
    mf_metrics_set(m, "mailferry_idle", 0, NULL);
    expect_text(m, "# HELP mailferry_jobs_total Jobs finished.\n"
                   "# TYPE mailferry_jobs_total counter\n"
                   "mailferry_jobs_total{outcome=\"synced\"} 2\n"
                   "mailferry_jobs_total{outcome=\"failed\"} 2\n"
                   "# HELP mailferry_mailboxes Mailboxes by state.\n"
                   "# TYPE mailferry_mailboxes gauge\n"
                   "mailferry_mailboxes{state=\"done\"} 2.5\n"
                   "# HELP mailferry_idle Nothing set yet.\n"
                   "# TYPE mailferry_idle gauge\n"
                   "mailferry_idle 0\n");
    /* Declaring again with the same type changes nothing. */
    mf_metrics_declare(m, "mailferry_idle", "gauge", "Other help.");
    char *t = render(m);
    assert_non_null(strstr(t, "# HELP mailferry_idle Nothing set yet.\n"));
    free(t);
    mf_metrics_free(&m);
    assert_null(m);
    mf_metrics_free(&m); /* NULL is fine */
    mf_metrics_free(NULL);
}

static void
test_several_labels_and_array_form(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    mf_metrics_declare(m, "errs", "counter", "Errors.");
    mf_metrics_add(m, "errs", 1, "code", "IMAP_NO", "class", "mailbox", NULL);
    const char *labels[] = {"code", "TIMEOUT", "class", "reconnect", NULL};
    mf_metrics_add_l(m, "errs", 4, labels);
    mf_metrics_set_l(m, "errs", 7, labels);
    expect_text(m, "# HELP errs Errors.\n"
                   "# TYPE errs counter\n"
                   "errs{code=\"IMAP_NO\",class=\"mailbox\"} 1\n"
                   "errs{code=\"TIMEOUT\",class=\"reconnect\"} 7\n");
    mf_metrics_declare(m, "up", "gauge", "Up.");
    mf_metrics_set_l(m, "up", 1, NULL);
    char *t = render(m);
    assert_non_null(strstr(t, "\nup 1\n"));
    free(t);
    mf_metrics_free(&m);
}

static void
test_escaping(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    mf_metrics_declare(m, "x", "gauge",
                       "Back\\slash, \"quotes\"\nand newline.");
    mf_metrics_set(m, "x", 1, "v", "a\"b\\c\nd", NULL);
    mf_metrics_set(m, "x", 2, "v", "", NULL);
    mf_metrics_set(m, "x", 3, "v", "\xc3\xa9t\xc3\xa9", NULL); /* UTF-8 */
    expect_text(m,
                /* HELP escapes only \ and newline */
                "# HELP x Back\\\\slash, \"quotes\"\\nand newline.\n"
                "# TYPE x gauge\n"
                "x{v=\"a\\\"b\\\\c\\nd\"} 1\n"
                "x{v=\"\"} 2\n"
                "x{v=\"\xc3\xa9t\xc3\xa9\"} 3\n");
    mf_metrics_free(&m);
}

static void
test_numbers(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    mf_metrics_declare(m, "n", "gauge", "Numbers.");
    const struct {
        const char *label;
        double v;
    } cases[] = {
        {"a", 0.1},      {"b", 1e21},      {"c", -3},  {"d", 1.0 / 3.0},
        {"e", INFINITY}, {"f", -INFINITY}, {"g", NAN}, {"h", 12345678901234.0},
        {"i", 1e-7},
    };
    for (size_t i = 0; i < MF_ARRAY_LEN(cases); i++)
        mf_metrics_set(m, "n", cases[i].v, "k", cases[i].label, NULL);
    expect_text(m, "# HELP n Numbers.\n"
                   "# TYPE n gauge\n"
                   "n{k=\"a\"} 0.1\n"
                   "n{k=\"b\"} 1e+21\n"
                   "n{k=\"c\"} -3\n"
                   "n{k=\"d\"} 0.3333333333333333\n"
                   "n{k=\"e\"} +Inf\n"
                   "n{k=\"f\"} -Inf\n"
                   "n{k=\"g\"} NaN\n"
                   "n{k=\"h\"} 12345678901234\n"
                   "n{k=\"i\"} 1e-07\n");
    mf_metrics_free(&m);
}

static void
test_histogram(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    const double bounds[] = {0.5, 1, 2.5};
    mf_metrics_declare_histogram(m, "lat_seconds", "Latency.", bounds, 3);
    mf_metrics_observe(m, "lat_seconds", 0.2, "op", "fetch", NULL);
    mf_metrics_observe(m, "lat_seconds", 1, "op", "fetch", NULL);
    mf_metrics_observe(m, "lat_seconds", 7, "op", "fetch", NULL);
    mf_metrics_observe(m, "lat_seconds", 0.5, "op", "fetch", NULL);
    expect_text(m, "# HELP lat_seconds Latency.\n"
                   "# TYPE lat_seconds histogram\n"
                   "lat_seconds_bucket{op=\"fetch\",le=\"0.5\"} 2\n"
                   "lat_seconds_bucket{op=\"fetch\",le=\"1\"} 3\n"
                   "lat_seconds_bucket{op=\"fetch\",le=\"2.5\"} 3\n"
                   "lat_seconds_bucket{op=\"fetch\",le=\"+Inf\"} 4\n"
                   "lat_seconds_sum{op=\"fetch\"} 8.7\n"
                   "lat_seconds_count{op=\"fetch\"} 4\n");
    mf_metrics_declare_histogram(m, "h2", "No labels.", bounds, 1);
    mf_metrics_observe(m, "h2", 3, NULL);
    char *t = render(m);
    assert_non_null(strstr(t, "h2_bucket{le=\"0.5\"} 0\n"
                              "h2_bucket{le=\"+Inf\"} 1\n"
                              "h2_sum 3\n"
                              "h2_count 1\n"));
    free(t);
    mf_metrics_free(&m);
}

static void
test_name_valid(void **state) {
    (void)state;
    assert_true(mf_metrics_name_valid("a"));
    assert_true(mf_metrics_name_valid("_a:b_9"));
    assert_true(mf_metrics_name_valid(":x"));
    assert_false(mf_metrics_name_valid(""));
    assert_false(mf_metrics_name_valid(NULL));
    assert_false(mf_metrics_name_valid("9a"));
    assert_false(mf_metrics_name_valid("a-b"));
    assert_false(mf_metrics_name_valid("a b"));
    assert_false(mf_metrics_name_valid("a\xc3\xa9"));
}

/* ---- assertions, each in a forked child -------------------------------- */

typedef void (*misuse_fn)(struct mf_metrics *m);

static void
bad_name(struct mf_metrics *m) {
    mf_metrics_declare(m, "1abc", "counter", "x");
}
static void
bad_type(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "summary", "x");
}
static void
redeclare_other_type(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    mf_metrics_declare(m, "a", "gauge", "x");
}
static void
undeclared(struct mf_metrics *m) {
    mf_metrics_add(m, "nope", 1, NULL);
}
static void
bad_label_name(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    mf_metrics_add(m, "a", 1, "bad-label", "v", NULL);
}
static void
reserved_label(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    mf_metrics_add(m, "a", 1, "__name", "v", NULL);
}
static void
odd_labels(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    const char *l[] = {"k", NULL};
    mf_metrics_add_l(m, "a", 1, l);
}
static void
other_label_names(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    mf_metrics_add(m, "a", 1, "k", "v", NULL);
    mf_metrics_add(m, "a", 1, "j", "v", NULL);
}
static void
negative_counter(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "counter", "x");
    mf_metrics_add(m, "a", -1, NULL);
}
static void
observe_gauge(struct mf_metrics *m) {
    mf_metrics_declare(m, "a", "gauge", "x");
    mf_metrics_observe(m, "a", 1, NULL);
}
static void
unsorted_bounds(struct mf_metrics *m) {
    const double b[] = {1, 1};
    mf_metrics_declare_histogram(m, "h", "x", b, 2);
}
static void
le_label(struct mf_metrics *m) {
    const double b[] = {1};
    mf_metrics_declare_histogram(m, "h", "x", b, 1);
    mf_metrics_observe(m, "h", 1, "le", "x", NULL);
}

static void
test_misuse_asserts(void **state) {
    (void)state;
    const misuse_fn cases[] = {
        bad_name,      bad_type,          redeclare_other_type,
        undeclared,    bad_label_name,    reserved_label,
        odd_labels,    other_label_names, negative_counter,
        observe_gauge, unsorted_bounds,   le_label};
    for (size_t i = 0; i < MF_ARRAY_LEN(cases); i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 2); /* the assertion message is expected */
            struct mf_metrics *m = mf_metrics_new();
            cases[i](m);
            _exit(0); /* no assertion: the parent fails */
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
            fail_msg("misuse case %zu did not assert", i);
    }
}

/* ---- threads ----------------------------------------------------------- */

static void *
hammer(void *arg) {
    struct mf_metrics *m = arg;
    for (int i = 0; i < 10000; i++) {
        mf_metrics_add(m, "c", 1, "t", (i & 1) ? "odd" : "even", NULL);
        if (i % 1000 == 0) {
            struct mf_buf b = {0};
            mf_metrics_render(m, &b);
            mf_buf_free(&b);
        }
    }
    return NULL;
}

static void
test_threads(void **state) {
    (void)state;
    struct mf_metrics *m = mf_metrics_new();
    mf_metrics_declare(m, "c", "counter", "Concurrent.");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    expect_text(m, "# HELP c Concurrent.\n"
                   "# TYPE c counter\n"
                   "c{t=\"even\"} 20000\n"
                   "c{t=\"odd\"} 20000\n");
    mf_metrics_free(&m);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_several_labels_and_array_form),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_misuse_asserts),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
