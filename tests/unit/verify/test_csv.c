/*
 * `verify FILE`'s mailboxes (core/src/verify/csv.c): one per CSV row, in
 * order, each logged in by the rule of a process that connects itself
 * (an admin on the source, the own password on the target), the login
 * strings held until the mailbox is released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/csv.h"
#include "mailferry/verify.h"

static void
test_rows_and_logins(void **state) {
    struct mf_csv_mailbox rows[2] = {
        {2, "a@example.test", "a", "apw", NULL, NULL, NULL},
        {3, "b@example.test", "b", "bpw", NULL, "btpw", NULL},
    };
    struct mf_verify_csv c = {
        .sides = {{"root", "rootpw", NULL, NULL}, {0}},
        .rows = rows,
        .n = 2,
    };
    struct mf_verify_run r = {0};
    struct mf_migrate_login src, dst;
    struct mf_error err = {0};
    void *hold = NULL;

    (void)state;
    mf_verify_csv_run(&c, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.email[0], "a@example.test");
    assert_string_equal(r.email[1], "b@example.test");
    assert_int_equal(r.login(r.ud, 1, &src, &dst, &hold, &err), MF_E_OK);
    assert_string_equal(src.user, "root");
    assert_string_equal(src.authzid, "b");
    assert_string_equal(src.password, "rootpw");
    assert_string_equal(dst.user, "b");
    assert_string_equal(dst.password, "btpw");
    r.release(r.ud, hold);
    mf_verify_csv_free(&c);
    assert_null(c.emails);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_logins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
