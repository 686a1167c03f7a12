/*
 * `endpoint test`'s options (core/src/preflight/args.c): each kind of
 * problem the program turns into its message and exit code (a wrong
 * command line with the usage, a wrong value, an unreadable password
 * file), and the options read into both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/preflight.h"
#include "mailferry/util.h"
#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_problems(void **state) {
    static const struct {
        const char *k1, *v1, *k2, *v2;
        enum mf_preflight_args_problem want;
        const char *detail; /* NULL: any */
    } cases[] = {
        {"target", "imaps://t.test", NULL, NULL, MF_PREFLIGHT_ARGS_USAGE_LINE,
         "--source is needed"},
        {"source", "ftp://s.test", NULL, NULL, MF_PREFLIGHT_ARGS_USAGE_LINE,
         NULL},
        {"source", "imaps://s.test", "target", "nope://t",
         MF_PREFLIGHT_ARGS_USAGE_LINE, NULL},
        {"source", "imaps://s.test", "timeout", "0", MF_PREFLIGHT_ARGS_USAGE,
         NULL},
        {"source", "imaps://s.test", "target-profile", "nosuch",
         MF_PREFLIGHT_ARGS_USAGE, NULL},
        {"source", "imaps://s.test", "as", "ann", MF_PREFLIGHT_ARGS_USAGE,
         "--as needs --admin"},
        {"source", "imaps://s.test", "password-file", "/nonexistent/pw",
         MF_PREFLIGHT_ARGS_UNREADABLE, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mf_config *c = mf_testconf_flags(cases[i].k1, cases[i].v1,
                                                cases[i].k2, cases[i].v2, NULL);
        struct mf_preflight_args a;
        struct mf_error err = {0};

        assert_int_equal(mf_preflight_args_read(c, &a, &err), cases[i].want);
        if (cases[i].detail)
            assert_string_equal(err.detail, cases[i].detail);
        else
            assert_true(err.detail[0] != '\0');
        mf_preflight_args_free(&a);
        mf_config_free(&c);
    }
}

static void
test_read(void **state) {
    char *path = mf_testconf_file("mf-preflight-args", "pw\n");
    struct mf_config *c;
    struct mf_preflight_args a;
    struct mf_error err = {0};

    (void)state;
    c = mf_testconf_flags("source", "imaps://s.test:993", "target",
                          "imap://t.test:143", "user", "ann", "password-file",
                          path, "timeout", "20", "probe-connections", "5",
                          "ca-file", "ca.pem", "insecure", "true", NULL);
    assert_int_equal(mf_preflight_args_read(c, &a, &err), MF_PREFLIGHT_ARGS_OK);
    assert_string_equal(a.so.endpoint.host, "s.test");
    assert_int_equal(a.so.endpoint.port, 993);
    assert_string_equal(a.to.endpoint.host, "t.test");
    assert_string_equal(a.so.user, "ann");
    assert_string_equal(a.so.password, "pw");
    assert_int_equal(a.so.timeout_ms, 20000);
    assert_int_equal(a.so.probe_connections, 5);
    assert_true(a.so.insecure);
    /* The target shares the source's CA file, --insecure and timeout. */
    assert_string_equal(a.to.ca_file, "ca.pem");
    assert_true(a.to.insecure);
    assert_int_equal(a.to.timeout_ms, 20000);
    assert_null(a.tgt_profile);
    mf_preflight_args_free(&a);
    assert_null(a.user_pw);
    mf_config_free(&c);
    unlink(path);
    free(path);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problems),
        cmocka_unit_test(test_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
