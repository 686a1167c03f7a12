/*
 * The CSV loader and problem reporting (core/src/csv/load.c): valid rows
 * are kept as owned copies with their line (empty optional fields NULL),
 * an invalid row is reported and left out, an unreadable file is MF_E_IO
 * with nothing kept, and a problem reads the same as a line and as JSON;
 * a command's rows (mf_csv_rows_load()) read --allow-unknown-columns,
 * count the problems shown and say how many in the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/csv.h"
#include "mailferry/json.h"
#include "mailferry/util.h"
#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
count_issue(void *ud, const struct mf_csv_issue *is) {
    (void)is;
    (*(int *)ud)++;
}

static void
test_load(void **state) {
    const char *csv =
        "EmailAddress,UserName,Password,TargetUserName,TargetPassword\r\n"
        "a@example.test,alice,pw1,,\r\n"
        "not-an-address,bob,pw2,,\r\n"
        "c@example.test,carol,pw3,carol-t,tpw\r\n";
    char *path = mf_testconf_file("mf_test_load", csv);
    struct mf_csv_mailbox *rows = NULL;
    struct mf_csv_stats stats;
    struct mf_error err = {0};
    size_t n = 0;
    int issues = 0;

    (void)state;
    assert_int_not_equal(
        mf_csv_load(path, NULL, count_issue, &issues, &rows, &n, &stats, &err),
        MF_E_OK);
    unlink(path);
    free(path);
    assert_int_equal(issues, 1);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].line, 2);
    assert_string_equal(rows[0].email, "a@example.test");
    assert_string_equal(rows[0].password, "pw1");
    assert_null(rows[0].target_username);
    assert_null(rows[0].user_root);
    assert_int_equal(rows[1].line, 4);
    assert_string_equal(rows[1].target_username, "carol-t");
    assert_string_equal(rows[1].target_password, "tpw");
    mf_csv_mailboxes_free(&rows, n);
    assert_null(rows);

    assert_int_equal(mf_csv_load("/nonexistent/x.csv", NULL, NULL, NULL, &rows,
                                 &n, &stats, &err),
                     MF_E_IO);
    assert_null(rows);
}

static void
test_issue_forms(void **state) {
    struct mf_csv_issue is = {.line = 3,
                              .column = 1,
                              .column_name = "EmailAddress",
                              .code = MF_E_CSV_EMPTY_FIELD,
                              .detail = "empty"};
    struct mf_buf b = {0};
    struct mf_json j;
    char line[512] = {0};
    FILE *f = fmemopen(line, sizeof(line) - 1, "w");

    (void)state;
    mf_csv_issue_print(f, "x.csv", &is);
    fclose(f);
    assert_non_null(strstr(line, "x.csv:3:1: error: "));
    assert_non_null(strstr(line, " in EmailAddress: empty [CSV_EMPTY_FIELD]"));
    mf_json_init(&j, &b);
    mf_csv_issue_json(&j, &is);
    assert_non_null(strstr((char *)b.data, "\"line\":3,\"column\":1,"
                                           "\"column_name\":\"EmailAddress\","
                                           "\"code\":\"CSV_EMPTY_FIELD\""));
    mf_buf_free(&b);
}

static void
test_rows_load(void **state) {
    char *path = mf_testconf_file("mf_test_rows",
                                  "EmailAddress,UserName,Password,Extra\r\n"
                                  "a@example.test,alice,pw1,x\r\n"
                                  ",bob,pw2,y\r\n");
    struct mf_config *c =
        mf_testconf_flags("allow-unknown-columns", "maybe", NULL);
    struct mf_csv_rows l;
    struct mf_error err = {0};
    char want[600];

    (void)state;
    assert_int_equal(mf_csv_rows_load(c, path, false, &l, &err), MF_E_USAGE);
    assert_non_null(strstr(err.detail, "allow-unknown-columns"));
    mf_csv_rows_free(&l);
    mf_config_free(&c);

    /* Without the option the Extra column is a problem too: 2 of them. */
    c = mf_testconf_flags(NULL);
    assert_int_equal(mf_csv_rows_load(c, path, false, &l, &err),
                     MF_E_CSV_UNKNOWN_COLUMN);
    assert_int_equal(l.shown.n, 2);
    assert_int_equal(l.n, 1);
    snprintf(want, sizeof(want),
             "%s has 2 errors; nothing done (see `mailferry csv validate`)",
             path);
    assert_string_equal(err.detail, want);
    mf_csv_rows_free(&l);
    assert_null(l.rows);
    mf_config_free(&c);

    c = mf_testconf_flags("allow-unknown-columns", "true", NULL);
    assert_int_equal(mf_csv_rows_load(c, "/nonexistent/x.csv", false, &l, &err),
                     MF_E_IO);
    assert_int_equal(mf_csv_rows_load(c, path, false, &l, &err),
                     MF_E_CSV_EMPTY_FIELD);
    assert_int_equal(l.shown.n, 1);
    mf_csv_rows_free(&l);
    mf_config_free(&c);
    unlink(path);
    free(path);
}

/* mf_csv_issue_show() counts and writes each problem in the form asked. */
static void
test_issue_show(void **state) {
    struct mf_csv_issue is = {.line = 2,
                              .column = 3,
                              .column_name = "Password",
                              .code = MF_E_CSV_EMPTY_FIELD,
                              .detail = "empty"};
    char *text = NULL;
    size_t ntext = 0;
    struct mf_buf b = {0};
    struct mf_json j;
    struct mf_csv_shown s = {.path = "y.csv"};

    (void)state;
    s.f = open_memstream(&text, &ntext);
    mf_csv_issue_show(&s, &is);
    mf_csv_issue_show(&s, &is);
    fclose(s.f);
    assert_int_equal(s.n, 2);
    assert_string_equal(text, "y.csv:2:3: error: required field is empty in "
                              "Password: empty [CSV_EMPTY_FIELD]\n"
                              "y.csv:2:3: error: required field is empty in "
                              "Password: empty [CSV_EMPTY_FIELD]\n");
    free(text);
    mf_json_init(&j, &b);
    s = (struct mf_csv_shown){.path = "y.csv", .j = &j};
    mf_json_array_begin(&j);
    mf_csv_issue_show(&s, &is);
    mf_json_array_end(&j);
    assert_int_equal(s.n, 1);
    assert_string_equal(
        (char *)b.data,
        "[{\"line\":2,\"column\":3,\"column_name\":\"Password\","
        "\"code\":\"CSV_EMPTY_FIELD\",\"number\":104,"
        "\"message\":\"required field is empty\","
        "\"detail\":\"empty\"}]");
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_issue_forms),
        cmocka_unit_test(test_rows_load),
        cmocka_unit_test(test_issue_show),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
