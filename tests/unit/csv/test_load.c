/*
 * The CSV loader and problem reporting (core/src/csv/load.c): valid rows
 * are kept as owned copies with their line (empty optional fields NULL),
 * an invalid row is reported and left out, an unreadable file is MF_E_IO
 * with nothing kept, and a problem reads the same as a line and as JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_issue_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
