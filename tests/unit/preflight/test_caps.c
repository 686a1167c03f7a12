/* Capability matching and the table of what mailferry uses (caps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <string.h>

static void
test_matches(void **state) {
    (void)state;
    assert_true(mf_preflight_cap_matches("LITERAL+", "LITERAL+"));
    assert_true(mf_preflight_cap_matches("literal+", "LITERAL+"));
    assert_true(
        mf_preflight_cap_matches("APPENDLIMIT=35651584", "APPENDLIMIT"));
    assert_true(mf_preflight_cap_matches("APPENDLIMIT", "APPENDLIMIT"));
    assert_true(mf_preflight_cap_matches("STATUS=SIZE", "STATUS=SIZE"));
    assert_true(mf_preflight_cap_matches("AUTH=PLAIN", "AUTH=PLAIN"));
    assert_false(mf_preflight_cap_matches("AUTH=PLAIN", "AUTH"));
    assert_false(mf_preflight_cap_matches("STATUS=SIZE", "STATUS"));
    assert_false(mf_preflight_cap_matches("LITERAL-", "LITERAL+"));
    assert_false(mf_preflight_cap_matches("IDLE", "ID"));
    assert_false(mf_preflight_cap_matches("ID", "IDLE"));
    assert_false(mf_preflight_cap_matches("UIDPLUSX", "UIDPLUS"));
}

static void
test_have(void **state) {
    const char *dovecot =
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
        "STARTTLS AUTH=PLAIN AUTH=LOGIN";
    (void)state;
    assert_true(mf_preflight_caps_have(dovecot, "IMAP4REV1"));
    assert_true(mf_preflight_caps_have(dovecot, "STARTTLS"));
    assert_true(mf_preflight_caps_have(dovecot, "AUTH=PLAIN"));
    assert_true(mf_preflight_caps_have(dovecot, "AUTH=LOGIN"));
    assert_true(mf_preflight_caps_have(dovecot, "ID"));
    assert_false(mf_preflight_caps_have(dovecot, "LOGINDISABLED"));
    assert_false(mf_preflight_caps_have(dovecot, "AUTH=XOAUTH2"));
    assert_false(mf_preflight_caps_have(dovecot, "SASL"));
    assert_false(mf_preflight_caps_have("", "ID"));
    assert_true(mf_preflight_caps_have("  ID  ", "ID"));
    assert_true(mf_preflight_caps_have("X APPENDLIMIT=10", "APPENDLIMIT"));
}

static void
test_table(void **state) {
    static const char *const wanted[] = {
        "LITERAL+",  "MULTIAPPEND", "UIDPLUS",   "SPECIAL-USE", "APPENDLIMIT",
        "NAMESPACE", "STATUS=SIZE", "CONDSTORE", "ID"};
    size_t n;
    const struct mf_preflight_cap *t = mf_preflight_caps_table(&n);
    (void)state;
    /* The brief's list is all there, each with a reason. */
    for (size_t i = 0; i < MF_ARRAY_LEN(wanted); i++) {
        bool found = false;
        for (size_t k = 0; k < n; k++)
            if (strcmp(t[k].name, wanted[i]) == 0) {
                found = true;
                assert_true(strlen(t[k].why) > 10);
                assert_string_not_equal(mf_preflight_need_name(t[k].need), "?");
            }
        if (!found)
            fail_msg("%s missing from the table", wanted[i]);
        assert_true(mf_preflight_cap_used(wanted[i]));
    }
    assert_true(mf_preflight_cap_used("APPENDLIMIT=1000"));
    assert_true(mf_preflight_cap_used("LITERAL-"));
    assert_true(mf_preflight_cap_used("imap4rev1"));
    assert_false(mf_preflight_cap_used("IDLE"));
    assert_false(mf_preflight_cap_used("QRESYNC"));
    assert_string_equal(mf_preflight_verdict_name(MF_PREFLIGHT_FAIL), "fail");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_have),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
