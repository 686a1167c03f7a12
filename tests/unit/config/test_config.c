/* Configuration: precedence, file syntax, units, secrets, prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/util.h"
#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
test_precedence(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_error err = {0};
    enum mf_config_source src;
    char *path = mf_testconf_file(
        "mf-config-test", "# comment\nmax-connections = 3\n"
                          "redis = redis://file:1\nname = \" spaced \"\n"
                          "[kafka]\nsecurity.protocol = SSL\n");

    (void)state;
    unsetenv("MAILFERRY_MAX_CONNECTIONS");
    assert_int_equal(mf_config_load_file(c, path, &err), MF_E_OK);
    assert_string_equal(mf_config_get(c, "max-connections", &src), "3");
    assert_int_equal(src, MF_CONFIG_FILE);
    setenv("MAILFERRY_MAX_CONNECTIONS", "4", 1);
    assert_string_equal(mf_config_get(c, "max-connections", &src), "4");
    assert_int_equal(src, MF_CONFIG_ENV);
    mf_config_set_flag(c, "max-connections", "5");
    assert_string_equal(mf_config_get(c, "max-connections", &src), "5");
    assert_int_equal(src, MF_CONFIG_FLAG);
    assert_string_equal(mf_config_get(c, "name", NULL), " spaced ");
    assert_string_equal(mf_config_get(c, "kafka.security.protocol", NULL),
                        "SSL");
    assert_null(mf_config_get(c, "absent", &src));
    assert_int_equal(src, MF_CONFIG_UNSET);
    unsetenv("MAILFERRY_MAX_CONNECTIONS");
    unlink(path);
    free(path);
    mf_config_free(&c);
    assert_null(c);
}

static void
test_file_errors(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_error err = {0};
    char *path = mf_testconf_file("mf-config-test",
                                  "good = 1\nthis line has no equals sign\n");

    (void)state;
    assert_int_equal(mf_config_load_file(c, path, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, ":2:"));
    unlink(path);
    assert_int_equal(mf_config_load_file(c, path, &err), MF_E_CONFIG);
    free(path);
    mf_config_free(&c);
}

static void
test_numbers_and_units(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_error err = {0};
    uint64_t v = 0;
    bool b = false;

    (void)state;
    mf_config_set_flag(c, "size", "35M");
    mf_config_set_flag(c, "every", "24h");
    mf_config_set_flag(c, "bad", "12x");
    mf_config_set_flag(c, "flag", "yes");
    assert_int_equal(
        mf_config_get_u64(c, "size", 0, 0, UINT64_MAX, MF_UNIT_BYTES, &v, &err),
        MF_E_OK);
    assert_int_equal(v, 35 * 1024 * 1024);
    assert_int_equal(mf_config_get_u64(c, "every", 0, 0, UINT64_MAX,
                                       MF_UNIT_SECONDS, &v, &err),
                     MF_E_OK);
    assert_int_equal(v, 86400);
    v = 7;
    assert_int_equal(
        mf_config_get_u64(c, "bad", 0, 0, 100, MF_UNIT_NONE, &v, &err),
        MF_E_CONFIG);
    assert_int_equal(v, 7); /* untouched on error */
    assert_int_equal(
        mf_config_get_u64(c, "size", 0, 0, 100, MF_UNIT_BYTES, &v, &err),
        MF_E_CONFIG); /* out of range */
    assert_int_equal(
        mf_config_get_u64(c, "unset", 9, 0, 100, MF_UNIT_NONE, &v, &err),
        MF_E_OK);
    assert_int_equal(v, 9);
    assert_int_equal(mf_config_get_bool(c, "flag", false, &b, &err), MF_E_OK);
    assert_true(b);
    assert_int_equal(mf_config_get_bool(c, "size", false, &b, &err),
                     MF_E_CONFIG);
    mf_config_free(&c);
}

static void
test_secrets(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_error err = {0};
    char *secret = NULL;
    char *path = mf_testconf_file("mf-config-test", "s3cret pass\n");

    (void)state;
    mf_config_set_flag(c, "admin-password-file", path);
    assert_int_equal(mf_config_get_secret(c, "admin-password", &secret, &err),
                     MF_E_OK);
    assert_string_equal(secret, "s3cret pass");
    mf_secret_free(&secret);
    assert_null(secret);
    /* Unset: no error, no secret. */
    assert_int_equal(mf_config_get_secret(c, "other", &secret, &err), MF_E_OK);
    assert_null(secret);
    /* Inline secrets are refused. */
    mf_config_set_flag(c, "admin-password", "hunter2");
    assert_int_equal(mf_config_get_secret(c, "admin-password", &secret, &err),
                     MF_E_CONFIG);
    assert_null(strstr(err.detail, "hunter2"));
    unlink(path);
    assert_int_equal(mf_secret_read_file(path, &secret, &err),
                     MF_E_SECRET_FILE);
    free(path);
    mf_config_free(&c);
}

static void
collect(void *ud, const char *key, const char *value) {
    mf_buf_appendf(ud, "%s=%s;", key, value);
}

static void
test_prefixed(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_error err = {0};
    struct mf_buf out = {0};
    char *path =
        mf_testconf_file("mf-config-test", "[kafka]\nsasl.mechanism = PLAIN\n"
                                           "security.protocol = PLAINTEXT\n");

    (void)state;
    assert_int_equal(mf_config_load_file(c, path, &err), MF_E_OK);
    setenv("MAILFERRY_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", 1);
    mf_config_set_flag(c, "kafka.client.id", "w1");
    mf_config_each_prefixed(c, "kafka.", collect, &out);
    assert_non_null(strstr((char *)out.data, "kafka.client.id=w1;"));
    assert_non_null(
        strstr((char *)out.data, "kafka.security.protocol=SASL_SSL;"));
    assert_non_null(strstr((char *)out.data, "kafka.sasl.mechanism=PLAIN;"));
    assert_null(strstr((char *)out.data, "PLAINTEXT"));
    unsetenv("MAILFERRY_KAFKA_SECURITY_PROTOCOL");
    mf_buf_free(&out);
    unlink(path);
    free(path);
    mf_config_free(&c);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_numbers_and_units),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_prefixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
