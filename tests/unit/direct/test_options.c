/*
 * The options of the commands that connect themselves (core/src/direct/
 * options.c): what `migrate --direct`, `verify` and `plan` read from
 * their flags. Defaults (--max-attempts per mailbox, the batch name, the
 * command timeout), required servers, admins and their password files,
 * the source profile's login template, folder rules, caps that need
 * --redis, and the logins of a row made by the jobs' rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/direct.h"
#include "mailferry/folderplan.h"
#include "mailferry/util.h"
#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVERS                                                                \
    "source", "imaps://src.test:993", "target", "imap://dst.test:143"

static void
test_defaults(void **state) {
    struct mf_config *c = mf_testconf_flags(SERVERS, NULL);
    struct mf_direct_settings s;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
    assert_int_equal(s.opts.max_attempts, MF_MIGRATE_DEFAULT_ATTEMPTS);
    assert_string_equal(s.opts.batch, "default");
    assert_null(s.opts.caps);
    assert_null(s.redis_url);
    assert_ptr_equal(s.opts.source, &s.c.server[0]);
    assert_ptr_equal(s.opts.target, &s.c.server[1]);
    assert_ptr_equal(s.opts.rules, s.rules);
    assert_string_equal(s.c.server[0].endpoint.host, "src.test");
    assert_string_equal(s.c.server[1].endpoint.host, "dst.test");
    assert_int_equal(s.c.server[0].command_timeout_ms,
                     MF_MIGRATE_DEFAULT_COMMAND_TIMEOUT_S * 1000L);
    assert_true(s.c.has_target);
    assert_null(s.c.login[0].admin);
    assert_false(mf_direct_connect_password_optional(&s.c));
    mf_direct_settings_free(&s);
    mf_config_free(&c);
}

static void
test_servers_required(void **state) {
    struct mf_config *c = mf_testconf_flags("source", "imaps://src.test", NULL);
    struct mf_direct_settings s;
    struct mf_direct_connect dc;
    struct mf_error err = {0};

    (void)state;
    /* migrate --direct and verify need both; plan the source only. */
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_USAGE);
    assert_string_equal(err.detail, "--target URL is required");
    mf_direct_settings_free(&s);
    assert_int_equal(mf_direct_connect_read(c, false, NULL, &dc, &err),
                     MF_E_OK);
    assert_false(dc.has_target);
    mf_direct_connect_clear(&dc);
    mf_config_free(&c);

    c = mf_testconf_flags("target", "imaps://dst.test", NULL);
    assert_int_equal(mf_direct_connect_read(c, false, NULL, &dc, &err),
                     MF_E_USAGE);
    assert_string_equal(err.detail, "--source URL is required");
    mf_direct_connect_clear(&dc);
    mf_config_free(&c);
}

static void
test_admins(void **state) {
    char *pw = mf_testconf_file("mf-direct-options", "s3cret\n");
    struct mf_config *c =
        mf_testconf_flags(SERVERS, "target-admin", "tadm", NULL);
    struct mf_direct_connect dc;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_direct_connect_read(c, true, NULL, &dc, &err),
                     MF_E_USAGE);
    assert_string_equal(err.detail,
                        "--target-admin needs --target-admin-password-file");
    mf_direct_connect_clear(&dc);
    mf_config_free(&c);

    /* The source profile gives the admin's login template unless
     * --admin-login-format does. */
    c = mf_testconf_flags(SERVERS, "admin", "adm", "admin-password-file", pw,
                          "source-profile", "exchange-onprem", NULL);
    assert_int_equal(mf_direct_connect_read(c, true, NULL, &dc, &err), MF_E_OK);
    assert_string_equal(dc.login[0].admin, "adm");
    assert_string_equal(dc.login[0].admin_password, "s3cret");
    assert_string_equal(dc.login[0].admin_format, "{domain}/{admin}/{user}");
    assert_null(dc.login[1].admin);
    assert_true(mf_direct_connect_password_optional(&dc));
    mf_direct_connect_clear(&dc);
    assert_null(dc.login[0].admin_password);
    mf_config_free(&c);

    c = mf_testconf_flags(SERVERS, "admin", "adm", "admin-password-file", pw,
                          "source-profile", "exchange-onprem",
                          "admin-login-format", "sasl", NULL);
    assert_int_equal(mf_direct_connect_read(c, true, NULL, &dc, &err), MF_E_OK);
    assert_string_equal(dc.login[0].admin_format, "sasl");
    mf_direct_connect_clear(&dc);
    mf_config_free(&c);
    unlink(pw);
    free(pw);
}

/* The admin logs in on the user's behalf (SASL PLAIN, authzid) on the
 * source; the target uses the row's own login. */
static void
test_logins(void **state) {
    char *pw = mf_testconf_file("mf-direct-options", "s3cret");
    struct mf_config *c = mf_testconf_flags(SERVERS, "admin", "adm",
                                            "admin-password-file", pw, NULL);
    struct mf_csv_mailbox row = {
        .email = "ann@x.test", .username = "ann", .password = "annpw"};
    struct mf_direct_settings s;
    struct mf_migrate_login src, dst;
    struct mf_error err = {0};
    char *owned[4] = {0};

    (void)state;
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
    mf_direct_settings_logins(&s, &row, &src, &dst, owned);
    assert_string_equal(src.user, "adm");
    assert_string_equal(src.authzid, "ann");
    assert_string_equal(src.password, "s3cret");
    assert_string_equal(dst.user, "ann");
    assert_null(dst.authzid);
    assert_string_equal(dst.password, "annpw");
    for (int i = 0; i < 4; i++)
        free(owned[i]);
    mf_direct_settings_free(&s);
    mf_config_free(&c);
    unlink(pw);
    free(pw);
}

static void
test_rules(void **state) {
    struct mf_config *c = mf_testconf_flags(
        SERVERS, "include", "INBOX,Archive/*", "exclude", "Junk", "rename",
        "Sent Items=Sent", "target-root", "Old", NULL);
    struct mf_direct_settings s;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
    assert_int_equal(s.rules->n_include, 2);
    assert_int_equal(s.rules->n_exclude, 1);
    assert_int_equal(s.rules->n_rename, 1);
    assert_string_equal(s.rules->target_root, "Old");
    mf_direct_settings_free(&s);
    mf_config_free(&c);

    c = mf_testconf_flags(SERVERS, "rename", "NoEquals", NULL);
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_USAGE);
    assert_non_null(strstr(err.detail, "--rename"));
    mf_direct_settings_free(&s);
    mf_config_free(&c);
}

/* Caps are leases in Redis: without --redis they are refused. */
static void
test_caps(void **state) {
    struct mf_config *c =
        mf_testconf_flags(SERVERS, "max-connections", "4", NULL);
    struct mf_direct_settings s;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_USAGE);
    assert_string_equal(err.detail, "connection and bandwidth caps live in "
                                    "Redis: give --redis URL");
    mf_direct_settings_free(&s);
    mf_config_free(&c);

    c = mf_testconf_flags(SERVERS, "max-connections", "4", "redis",
                          "redis://127.0.0.1:1", "lease-ttl", "20s",
                          "max-attempts", "2", "batch", "b1", NULL);
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
    assert_ptr_equal(s.opts.caps, &s.caps);
    assert_string_equal(s.caps.redis_url, "redis://127.0.0.1:1");
    assert_non_null(strchr(s.caps.holder, '/'));
    assert_int_equal(s.caps.ttl_ms, 20000);
    assert_int_equal(s.opts.max_attempts, 2);
    assert_string_equal(s.opts.batch, "b1");
    mf_direct_settings_free(&s);
    mf_config_free(&c);

    /* --redis alone (checkpoints there) holds no caps. */
    c = mf_testconf_flags(SERVERS, "redis", "redis://127.0.0.1:1", NULL);
    assert_int_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
    assert_null(s.opts.caps);
    mf_direct_settings_free(&s);
    mf_config_free(&c);
}

static void
test_bad_values(void **state) {
    static const char *const cases[][2] = {
        {"max-attempts", "0"},     {"flag-conflict", "both"},
        {"since", "2024-13-01"},   {"fingerprint", "fuzzy"},
        {"command-timeout", "0"},  {"source-profile", "nosuch"},
        {"max-message-size", "x"},
    };
    struct mf_direct_settings s;
    struct mf_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mf_config *c =
            mf_testconf_flags(SERVERS, cases[i][0], cases[i][1], NULL);
        memset(&err, 0, sizeof(err));
        assert_int_not_equal(mf_direct_settings_read(c, &s, &err), MF_E_OK);
        assert_true(err.detail[0] != '\0');
        mf_direct_settings_free(&s);
        mf_config_free(&c);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_servers_required),
        cmocka_unit_test(test_admins),
        cmocka_unit_test(test_logins),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
