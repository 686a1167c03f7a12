/*
 * `endpoint test`'s logins (core/src/preflight/run.c,
 * mf_preflight_logins_set()): OAuth2 needs --user, an admin or a user
 * without its password is refused, --as needs --admin, a user without a
 * password logs in with its token only, and the target shares the
 * source's TLS settings, timeout and --as (with a target admin).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/preflight.h"

#include <string.h>

static void
test_refusals(void **state) {
    struct mf_preflight_options so = {0}, to = {0};
    struct mf_preflight_logins lg = {0};
    struct mf_oauth *tokens = (struct mf_oauth *)&tokens; /* never used */
    struct mf_error err = {0};

    (void)state;
    lg.source_oauth = tokens;
    assert_int_equal(mf_preflight_logins_set(&so, &to, &lg, &err), MF_E_USAGE);
    assert_non_null(strstr(err.detail, "OAuth2 needs --user"));

    memset(&lg, 0, sizeof(lg));
    so.admin_user = "root";
    assert_int_equal(mf_preflight_logins_set(&so, &to, &lg, &err), MF_E_USAGE);
    assert_non_null(strstr(err.detail, "--admin goes with"));

    so.admin_user = NULL;
    so.as_user = "alice";
    assert_int_equal(mf_preflight_logins_set(&so, &to, &lg, &err), MF_E_USAGE);
    assert_string_equal(err.detail, "--as needs --admin");
}

static void
test_target_shares(void **state) {
    struct mf_preflight_options so = {.ca_file = "ca.pem",
                                      .insecure = true,
                                      .timeout_ms = 5000,
                                      .admin_user = "root",
                                      .as_user = "alice"},
                                to = {0};
    struct mf_preflight_logins lg = {.admin_password = "rpw",
                                     .target_admin_password = "tpw",
                                     .target_admin = "troot"};
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_preflight_logins_set(&so, &to, &lg, &err), MF_E_OK);
    assert_string_equal(so.admin_password, "rpw");
    assert_string_equal(to.ca_file, "ca.pem");
    assert_true(to.insecure);
    assert_int_equal(to.timeout_ms, 5000);
    assert_string_equal(to.admin_user, "troot");
    assert_string_equal(to.admin_password, "tpw");
    assert_string_equal(to.as_user, "alice");
}

static void
test_token_only_user(void **state) {
    struct mf_preflight_options so = {.user = "alice@example.test"}, to = {0};
    struct mf_oauth *tokens = (struct mf_oauth *)&tokens; /* never used */
    struct mf_preflight_logins lg = {.target_oauth = tokens};
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_preflight_logins_set(&so, &to, &lg, &err), MF_E_OK);
    assert_null(so.user);
    assert_null(so.oauth);
    assert_ptr_equal(to.oauth, tokens);
    assert_string_equal(to.oauth_user, "alice@example.test");
    assert_null(to.as_user);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_target_shares),
        cmocka_unit_test(test_token_only_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
