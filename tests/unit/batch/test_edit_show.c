/*
 * What the batch edit commands print (core/src/batch/edit_show.c): a
 * line per mailbox ("was" only when there was a state), a mailbox not in
 * the batch on the error stream and counted, the summary line; with
 * --json one object with every outcome, the jobs, topic and state; the
 * CSV lines of refused rows; the JSON answer to a CSV with problems.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batch_edit.h"
#include "mailferry/batchdef.h"
#include "mailferry/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct streams {
    char *out, *err;
    size_t nout, nerr;
    FILE *fout, *ferr;
};

static void
open_streams(struct streams *st, struct mf_batch_edit_show *s, bool json) {
    memset(st, 0, sizeof(*st));
    st->fout = open_memstream(&st->out, &st->nout);
    st->ferr = open_memstream(&st->err, &st->nerr);
    *s = (struct mf_batch_edit_show){.command = "batch retry",
                                     .batch = "b1",
                                     .json = json,
                                     .out = st->fout,
                                     .err = st->ferr};
}

static void
close_streams(struct streams *st) {
    fclose(st->fout);
    fclose(st->ferr);
}

static void
outcomes(struct mf_batch_edit_show *s) {
    struct mf_batch_job job = {0};
    const struct mf_batch_mb_outcome o[3] = {
        {"a@example.test", "queued", "Failed", &job},
        {"b@example.test", "skipped", "", NULL},
        {"c@example.test", "unknown", "", NULL},
    };

    snprintf(job.job_id, sizeof(job.job_id), "b1/a/2");
    mf_batch_edit_show_begin(s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mf_batch_edit_show_outcome(s, &o[i]), MF_E_OK);
    mf_batch_edit_show_end(s, 1, "mf.jobs", MF_BATCH_SYNCING);
}

static void
test_text(void **state) {
    struct mf_batch_edit_show s;
    struct streams st;

    (void)state;
    open_streams(&st, &s, false);
    outcomes(&s);
    close_streams(&st);
    assert_int_equal(s.unknown, 1);
    assert_string_equal(st.out, "  a@example.test: queued (was Failed)\n"
                                "  b@example.test: skipped\n"
                                "batch b1: 1 job queued; state Syncing\n");
    assert_non_null(strstr(st.err, "batch retry: c@example.test: not in "
                                   "batch b1 [CSV_MAILBOX_NOT_IN_BATCH]"));
    mf_batch_edit_show_free(&s);
    free(st.out);
    free(st.err);
}

static void
test_json(void **state) {
    struct mf_batch_edit_show s;
    struct streams st;

    (void)state;
    open_streams(&st, &s, true);
    outcomes(&s);
    close_streams(&st);
    assert_int_equal(strncmp(st.out, "{\"batch\":\"b1\",\"mailboxes\":[{", 28),
                     0);
    assert_non_null(strstr(st.out, "\"job\":\"b1/a/2\""));
    assert_non_null(strstr(st.out, "\"outcome\":\"unknown\""));
    assert_non_null(strstr(st.out, "\"jobs\":1,\"topic\":\"mf.jobs\""));
    assert_string_equal(st.err, "");
    mf_batch_edit_show_free(&s);
    free(st.out);
    free(st.err);
}

static void
test_refused(void **state) {
    struct mf_batch_mailbox_cfg mbs[2] = {{.email = "a@example.test"},
                                          {.email = "b@example.test"}};
    uint64_t lines[2] = {2, 7};
    struct mf_batchdef d = {.mbs = mbs, .n = 2, .lines = lines};
    const size_t idx[1] = {1};
    char *err = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&err, &n);

    (void)state;
    mf_batch_edit_show_refused(f, "u.csv", &d, idx, 1,
                               MF_E_CSV_MAILBOX_IN_BATCH, "nothing added",
                               NULL);
    fclose(f);
    assert_non_null(strstr(err, "u.csv:7: error: "));
    assert_non_null(strstr(err, "b@example.test [CSV_MAILBOX_IN_BATCH]\n"));
    assert_non_null(strstr(err, "(nothing added)\n"));
    free(err);
}

/* `batch add`'s summary and wait hint, `update`'s summary, `drop` as a
 * line and as JSON outcomes. */
static void
test_rows_and_dropped(void **state) {
    const char *const emails[2] = {"a@example.test", "b@example.test"};
    struct mf_batch_edit_show s;
    struct streams st;

    (void)state;
    open_streams(&st, &s, false);
    mf_batch_edit_show_rows_end(&s, true, 2, 0, "mf.jobs", MF_BATCH_CREATED);
    mf_batch_edit_show_rows_end(&s, false, 1, 1, "mf.jobs", MF_BATCH_SYNCING);
    mf_batch_edit_show_dropped(&s, emails, 1, MF_BATCH_SYNCED);
    close_streams(&st);
    assert_string_equal(st.out,
                        "batch b1: added 2 mailboxes\n"
                        "batch b1: 0 jobs queued; state Created\n"
                        "(they wait for `mailferry batch start b1`)\n"
                        "batch b1: new logins and passwords for 1 mailbox\n"
                        "batch b1: 1 job queued; state Syncing\n"
                        "batch b1: dropped 1 mailbox (their copied mail stays "
                        "on the target); state Synced\n");
    mf_batch_edit_show_free(&s);
    free(st.out);
    free(st.err);

    open_streams(&st, &s, true);
    mf_batch_edit_show_dropped(&s, emails, 2, MF_BATCH_SYNCED);
    close_streams(&st);
    assert_string_equal(st.out,
                        "{\"batch\":\"b1\",\"mailboxes\":["
                        "{\"email\":\"a@example.test\",\"outcome\":\"dropped\","
                        "\"was\":\"\",\"job\":null},"
                        "{\"email\":\"b@example.test\",\"outcome\":\"dropped\","
                        "\"was\":\"\",\"job\":null}],"
                        "\"jobs\":0,\"topic\":null,\"state\":\"Synced\"}\n");
    mf_batch_edit_show_free(&s);
    free(st.out);
    free(st.err);
}

/* `batch create --json` (and add, update) with a CSV with problems. */
static void
test_issues_json(void **state) {
    struct mf_csv_issue is = {.line = 2,
                              .column = 1,
                              .column_name = "EmailAddress",
                              .code = MF_E_CSV_EMPTY_FIELD,
                              .detail = "empty"};
    struct mf_json_doc doc = {0};
    struct mf_csv_shown s = {.path = "m.csv"};
    char *out = NULL;
    size_t nout = 0;
    FILE *f = open_memstream(&out, &nout);

    (void)state;
    s.j = mf_batchdef_issues_begin(&doc, "b1", "m.csv");
    mf_csv_issue_show(&s, &is);
    mf_batchdef_issues_end(&doc, "created", s.n, f);
    fclose(f);
    assert_string_equal(
        out, "{\"batch\":\"b1\",\"file\":\"m.csv\",\"errors\":[{\"line\":2,"
             "\"column\":1,\"column_name\":\"EmailAddress\",\"code\":"
             "\"CSV_EMPTY_FIELD\",\"number\":104,\"message\":\"required field "
             "is empty\",\"detail\":\"empty\"}],\"created\":false,"
             "\"error_count\":1}\n");
    free(out);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_rows_and_dropped),
        cmocka_unit_test(test_issues_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
