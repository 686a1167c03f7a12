/*
 * `csv validate` (core/src/csv/validate.c): a valid file gives one
 * summary line; an invalid one its problems as FILE:LINE:COL lines, then
 * the summary saying INVALID; --json one object with the problems and
 * the figures; a missing file MF_E_IO and nothing written; its options
 * read with their defaults, a bad one named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/csv.h"
#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* owned: the file write_csv() wrote last, kept after remove_csv() as the
 * name of a missing file */
static char *path;

static void
write_csv(const char *text) {
    free(path);
    path = mf_testconf_file("mf_test_validate", text);
}

static void
remove_csv(void) {
    unlink(path);
}

/* Runs mf_csv_validate() into a new string *out_r (free it). */
static mf_err
validate(bool json, char **out_r) {
    struct mf_csv_options o = {0};
    struct mf_error err = {0};
    size_t len = 0;
    FILE *f = open_memstream(out_r, &len);
    mf_err rc = mf_csv_validate(path, &o, json, f, &err);

    fclose(f);
    return rc;
}

static void
test_text(void **state) {
    char *out = NULL;

    (void)state;
    write_csv("EmailAddress,UserName,Password\r\n"
              "a@example.test,alice,pw1\r\n");
    assert_int_equal(validate(false, &out), MF_E_OK);
    assert_non_null(strstr(out, ": 1 rows, 1 mailboxes, 0 errors: valid\n"));
    free(out);
    remove_csv();

    write_csv("EmailAddress,UserName,Password\r\n"
              "not-an-address,bob,pw2\r\n");
    assert_int_not_equal(validate(false, &out), MF_E_OK);
    assert_non_null(strstr(out, ":2:"));
    assert_non_null(strstr(out, "1 errors: INVALID\n"));
    free(out);
    remove_csv();
}

static void
test_json_and_missing(void **state) {
    char *out = NULL;

    (void)state;
    write_csv("EmailAddress,UserName,Password\r\n"
              "not-an-address,bob,pw2\r\n");
    assert_int_not_equal(validate(true, &out), MF_E_OK);
    assert_int_equal(strncmp(out, "{\"file\":", 8), 0);
    assert_non_null(strstr(out, "\"errors\":[{"));
    assert_non_null(strstr(out, "\"valid\":false"));
    assert_non_null(strstr(out, "\"error_count\":1"));
    free(out);
    remove_csv();

    assert_int_equal(validate(true, &out), MF_E_IO);
    assert_string_equal(out, "");
    free(out);
}

static void
test_options(void **state) {
    struct mf_config *c = mf_testconf_flags(NULL);
    struct mf_csv_options o;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_csv_validate_options_read(c, &o, &err), MF_E_OK);
    assert_int_equal(o.max_rows, MF_CSV_DEFAULT_MAX_ROWS);
    assert_int_equal(o.max_bytes, MF_CSV_DEFAULT_MAX_BYTES);
    assert_false(o.allow_unknown_columns);
    assert_false(o.password_optional);
    mf_config_free(&c);

    c = mf_testconf_flags("allow-unknown-columns", "true", "password-optional",
                          "true", "max-rows", "7", "max-bytes", "2k", NULL);
    assert_int_equal(mf_csv_validate_options_read(c, &o, &err), MF_E_OK);
    assert_int_equal(o.max_rows, 7);
    assert_int_equal(o.max_bytes, 2048);
    assert_true(o.allow_unknown_columns);
    assert_true(o.password_optional);
    mf_config_free(&c);

    c = mf_testconf_flags("max-rows", "0", NULL);
    assert_int_not_equal(mf_csv_validate_options_read(c, &o, &err), MF_E_OK);
    assert_non_null(strstr(err.detail, "max-rows"));
    mf_config_free(&c);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json_and_missing),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
