/*
 * The forecast of `plan --from-batch` (core/src/plan/forecast.c): only
 * the mailboxes that could be planned are estimated, named in plan
 * order; the progress line is redrawn in place; the text form appends the test
 * batches and the estimate to the plan only when there is one; an unreachable
 * Redis is named in the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_estimate_planned_only(void **state) {
    struct mf_plan_mailbox mbs[3] = {0};
    struct mf_plan_batch b = {0};
    struct mf_plan_forecast f = {0};
    struct mf_error err = {0};

    (void)state;
    mbs[0].email = "a@example.test";
    mbs[0].totals.copy = (struct mf_plan_counts){10, 1000};
    mbs[1].email = "b@example.test";
    mbs[1].error.code = MF_E_AUTH;
    mbs[1].totals.copy = (struct mf_plan_counts){99, 99000};
    mbs[2].email = "c@example.test";
    mbs[2].totals.copy = (struct mf_plan_counts){20, 3000};
    b.mailboxes = mbs;
    b.n = 3;
    f.rate.bytes_per_second = 100;
    f.rate.messages_per_second = 10;
    assert_int_equal(mf_plan_forecast_estimate(&f, &b, NULL, 0, 0, 0, &err),
                     MF_E_OK);
    assert_true(f.has_estimate);
    assert_int_equal(f.est.n_mailboxes, 2);
    assert_int_equal(f.est.bytes, 4000);
    assert_int_equal(f.est.messages, 30);
    assert_string_equal(f.names[0], "a@example.test");
    assert_string_equal(f.names[1], "c@example.test");
    mf_plan_forecast_clear(&f);
    assert_null(f.names);
    assert_false(f.has_estimate);
}

static void
test_unreachable_redis(void **state) {
    struct mf_plan_forecast f;
    struct mf_error err = {0};
    const char *const batches[] = {"pilot"};

    (void)state;
    assert_int_not_equal(
        mf_plan_forecast_read(&f, "redis://127.0.0.1:1", batches, 1, &err),
        MF_E_OK);
    assert_int_equal(strncmp(err.detail, "Redis: ", 7), 0);
    assert_int_equal(f.n_digests, 0);
    mf_plan_forecast_clear(&f);
}

/* The progress line: redrawn per mailbox, erased after the last; nothing
 * without draw. */
static void
test_progress(void **state) {
    struct mf_plan_mailbox mb = {0};
    struct mf_plan_progress p = {0};
    char *text = NULL;
    size_t len = 0;

    (void)state;
    p.out = open_memstream(&text, &len);
    p.n = 2;
    p.draw = true;
    mb.email = "a@example.test";
    mf_plan_progress_cb(&p, 0, &mb);
    assert_int_equal(p.done, 1);
    mf_plan_progress_cb(&p, 1, &mb);
    p.draw = false;
    mf_plan_progress_cb(&p, 1, &mb);
    fclose(p.out);
    assert_int_equal(strncmp(text, "\rplanned 1/2: a@example.test", 28), 0);
    assert_non_null(strstr(text, "\rplanned 2/2: "));
    assert_int_equal(text[len - 1], '\r');
    assert_int_equal(p.done, 3);
    free(text);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_planned_only),
        cmocka_unit_test(test_unreachable_redis),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
