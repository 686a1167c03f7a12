/*
 * The logins of a process that connects itself (core/src/jobs/
 * connect_login.c, mf_jobs_direct_logins()) and the plan requests made
 * with them from CSV rows (core/src/plan/requests.c): which password,
 * authorization identity, UserRoot and token source each side gets.
 * The login names themselves are the rule of unit.jobs.login.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/csv.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"
#include "mailferry/plan.h"

#include <stdlib.h>

static void
free_owned(char *owned[4]) {
    for (int i = 0; i < 4; i++)
        free(owned[i]);
}

/* No admin: each side logs in as the user with its own password; the
 * target's falls back to Password. */
static void
test_own_passwords(void **state) {
    const struct mf_jobs_direct_side sides[2] = {{0}, {0}};
    const struct mf_jobs_direct_mailbox mb = {
        {"alice@example.test", "alice", NULL}, "user/alice", "pw", NULL};
    struct mf_migrate_login src, dst;
    char *owned[4];

    (void)state;
    mf_jobs_direct_logins(sides, &mb, &src, &dst, owned);
    assert_string_equal(src.user, "alice");
    assert_null(src.authzid);
    assert_string_equal(src.password, "pw");
    assert_string_equal(src.user_root, "user/alice");
    assert_string_equal(dst.user, "alice");
    assert_string_equal(dst.password, "pw");
    assert_null(dst.user_root);
    assert_null(src.oauth);
    free_owned(owned);
}

/* A source admin (SASL) and a target with its own TargetPassword; an
 * OAuth2 side gets the token source and the mailbox, no password. */
static void
test_admin_and_oauth(void **state) {
    struct mf_oauth *tokens = (struct mf_oauth *)&tokens; /* never used */
    const struct mf_jobs_direct_side sides[2] = {{"root", "rootpw", NULL, NULL},
                                                 {NULL, NULL, NULL, tokens}};
    const struct mf_jobs_direct_mailbox mb = {
        {"alice@example.test", "alice", "al-t"}, NULL, "pw", "tpw"};
    struct mf_migrate_login src, dst;
    char *owned[4];

    (void)state;
    mf_jobs_direct_logins(sides, &mb, &src, &dst, owned);
    assert_string_equal(src.user, "root");
    assert_string_equal(src.authzid, "alice");
    assert_string_equal(src.password, "rootpw");
    assert_ptr_equal(dst.oauth, tokens);
    assert_string_equal(dst.oauth_mailbox, "alice@example.test");
    assert_null(dst.password);
    free_owned(owned);

    /* Without OAuth2 the target's TargetPassword is used. */
    {
        const struct mf_jobs_direct_side own[2] = {{0}, {0}};
        mf_jobs_direct_logins(own, &mb, &src, &dst, owned);
        assert_string_equal(dst.user, "al-t");
        assert_string_equal(dst.password, "tpw");
        free_owned(owned);
    }
}

/* One request per row, in order, each with the row's email. */
static void
test_requests_csv(void **state) {
    struct mf_csv_mailbox rows[2] = {
        {2, "a@example.test", "a", "apw", NULL, NULL, NULL},
        {3, "b@example.test", "b", "bpw", "b-t", "btpw", "root/b"},
    };
    const struct mf_jobs_direct_side sides[2] = {{0}, {0}};
    struct mf_plan_requests r;

    (void)state;
    mf_plan_requests_csv(sides, rows, 2, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].email, "a@example.test");
    assert_string_equal(r.v[0].source.password, "apw");
    assert_string_equal(r.v[0].target.password, "apw");
    assert_string_equal(r.v[1].email, "b@example.test");
    assert_string_equal(r.v[1].source.user_root, "root/b");
    assert_string_equal(r.v[1].target.user, "b-t");
    assert_string_equal(r.v[1].target.password, "btpw");
    mf_plan_requests_free(&r);
    assert_null(r.v);
    mf_plan_requests_csv(sides, NULL, 0, &r);
    assert_int_equal(r.n, 0);
    mf_plan_requests_free(&r);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_passwords),
        cmocka_unit_test(test_admin_and_oauth),
        cmocka_unit_test(test_requests_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
