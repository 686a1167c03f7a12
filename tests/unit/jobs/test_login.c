/*
 * The login rule (core/src/jobs/login.c): which login, authorization
 * identity and secret each side of a mailbox uses, for every combination
 * of admin, login format, TargetUserName and OAuth2 that the CSV and the
 * options can make; the format check; and the target password fallback.
 * Every path (jobs, the embedded migrate, --direct, plan, batch create
 * --dry-run) calls this one function, so these vectors are its contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/jobs.h"

#include <string.h>

struct vec {
    const char *admin, *format;
    bool oauth, target;
    const char *target_user;
    const char *login, *authzid;
    enum mf_jobs_secret secret;
};

static void
test_vectors(void **state) {
    static const struct vec v[] = {
        /* source */
        {NULL, NULL, false, false, NULL, "alice", "", MF_JOBS_SECRET_OWN},
        {"", NULL, false, false, NULL, "alice", "", MF_JOBS_SECRET_OWN},
        {NULL, NULL, false, false, "al-t", "alice", "", MF_JOBS_SECRET_OWN},
        {"root", NULL, false, false, NULL, "root", "alice",
         MF_JOBS_SECRET_ADMIN},
        {"root", "sasl", false, false, NULL, "root", "alice",
         MF_JOBS_SECRET_ADMIN},
        {"root", "{user}*{admin}", false, false, NULL, "alice*root", "",
         MF_JOBS_SECRET_ADMIN},
        {"root", "{domain}/{admin}/{user}", false, false, NULL,
         "example.test/root/alice", "", MF_JOBS_SECRET_ADMIN},
        {"root", NULL, true, false, NULL, "alice@example.test", "",
         MF_JOBS_SECRET_OAUTH},
        /* target: TargetUserName, else the source login without an admin */
        {NULL, NULL, false, true, NULL, "alice", "", MF_JOBS_SECRET_OWN},
        {NULL, NULL, false, true, "", "alice", "", MF_JOBS_SECRET_OWN},
        {NULL, NULL, false, true, "al-t", "al-t", "", MF_JOBS_SECRET_OWN},
        /* ... and the EmailAddress with a target admin */
        {"root", NULL, false, true, NULL, "root", "alice@example.test",
         MF_JOBS_SECRET_ADMIN},
        {"root", NULL, false, true, "al-t", "root", "al-t",
         MF_JOBS_SECRET_ADMIN},
        {"root", "{user}*{admin}", false, true, NULL, "alice@example.test*root",
         "", MF_JOBS_SECRET_ADMIN},
        {NULL, NULL, true, true, "al-t", "alice@example.test", "",
         MF_JOBS_SECRET_OAUTH},
    };
    const struct mf_jobs_names names = {"alice@example.test", "alice", NULL};

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct mf_jobs_side side = {v[i].admin, v[i].format, v[i].oauth};
        struct mf_jobs_names n = names;
        struct mf_jobs_login lg;

        n.target_user = v[i].target_user;
        mf_jobs_side_login(&side, v[i].target, &n, &lg);
        if (strcmp(lg.login, v[i].login) != 0 ||
            strcmp(lg.authzid, v[i].authzid) != 0 || lg.secret != v[i].secret)
            fail_msg("vector %zu: got \"%s\" \"%s\" %d, want \"%s\" \"%s\" %d",
                     i, lg.login, lg.authzid, (int)lg.secret, v[i].login,
                     v[i].authzid, (int)v[i].secret);
        mf_jobs_login_clear(&lg);
        assert_null(lg.login);
    }
}

static void
test_format_valid(void **state) {
    struct mf_error err = {0};

    (void)state;
    assert_true(mf_jobs_login_format_valid(NULL, &err));
    assert_true(mf_jobs_login_format_valid("sasl", &err));
    assert_true(mf_jobs_login_format_valid("{user}*{admin}", &err));
    assert_false(mf_jobs_login_format_valid("{admin}", &err));
    assert_int_equal(err.code, MF_E_USAGE);
    assert_false(mf_jobs_login_format_valid("{user}{host}", &err));
    assert_false(mf_jobs_login_format_valid("{user}}", &err));
}

static void
test_target_password(void **state) {
    (void)state;
    assert_string_equal(mf_jobs_target_password("t", "p"), "t");
    assert_string_equal(mf_jobs_target_password("", "p"), "p");
    assert_string_equal(mf_jobs_target_password(NULL, "p"), "p");
    assert_null(mf_jobs_target_password(NULL, ""));
    assert_null(mf_jobs_target_password(NULL, NULL));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_format_valid),
        cmocka_unit_test(test_target_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
