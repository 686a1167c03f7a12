/* Capability matching and the table of what mailferry uses (caps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <string.h>

/* One call's two arguments and the answer it must give. */
struct pair {
    const char *a, *b;
    bool want;
};

static void
check_pairs(bool (*fn)(const char *, const char *), const char *what,
            const struct pair *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fn(p[i].a, p[i].b) != p[i].want)
            fail_msg("%s(\"%s\", \"%s\") is %s", what, p[i].a, p[i].b,
                     p[i].want ? "false" : "true");
}

static void
test_matches(void **state) {
    static const struct pair pairs[] = {
        {"LITERAL+", "LITERAL+", true},
        {"literal+", "LITERAL+", true},
        {"APPENDLIMIT=35651584", "APPENDLIMIT", true},
        {"APPENDLIMIT", "APPENDLIMIT", true},
        {"STATUS=SIZE", "STATUS=SIZE", true},
        {"AUTH=PLAIN", "AUTH=PLAIN", true},
        {"AUTH=PLAIN", "AUTH", false},
        {"STATUS=SIZE", "STATUS", false},
        {"LITERAL-", "LITERAL+", false},
        {"IDLE", "ID", false},
        {"ID", "IDLE", false},
        {"UIDPLUSX", "UIDPLUS", false},
    };

    (void)state;
    check_pairs(mf_preflight_cap_matches, "cap_matches", pairs,
                MF_ARRAY_LEN(pairs));
}

static void
test_have(void **state) {
#define DOVECOT                                                                \
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "               \
    "STARTTLS AUTH=PLAIN AUTH=LOGIN"
    static const struct pair pairs[] = {
        {DOVECOT, "IMAP4REV1", true},
        {DOVECOT, "STARTTLS", true},
        {DOVECOT, "AUTH=PLAIN", true},
        {DOVECOT, "AUTH=LOGIN", true},
        {DOVECOT, "ID", true},
        {DOVECOT, "LOGINDISABLED", false},
        {DOVECOT, "AUTH=XOAUTH2", false},
        {DOVECOT, "SASL", false},
        {"", "ID", false},
        {"  ID  ", "ID", true},
        {"X APPENDLIMIT=10", "APPENDLIMIT", true},
    };
#undef DOVECOT

    (void)state;
    check_pairs(mf_preflight_caps_have, "caps_have", pairs,
                MF_ARRAY_LEN(pairs));
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
