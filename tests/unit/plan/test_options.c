/*
 * `plan`'s options (core/src/plan/options.c): the plan's defaults, the
 * target optional, the folder rules, and the rules that tie the estimate
 * options together (--from-batch needs --redis; --connections,
 * --max-connections and --window need --from-batch), with test batches
 * from repeated values or from the options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/plan.h"
#include "mailferry/util.h"
#include "testconf.h"

#include <stdlib.h>
#include <string.h>

static void
test_defaults(void **state) {
    struct mf_config *c = mf_testconf_flags("source", "imaps://src.test", NULL);
    struct mf_plan_settings s = {0};
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_plan_settings_read(c, &s, &err), MF_E_OK);
    assert_ptr_equal(s.po.source, &s.c.server[0]);
    assert_null(s.po.target); /* no --target: "/" and no special-use */
    assert_ptr_equal(s.po.rules, s.rules);
    assert_int_equal(s.po.concurrency, MF_MIGRATE_DEFAULT_CONCURRENCY);
    assert_int_equal(s.po.max_message_size,
                     MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE);
    assert_int_equal(s.po.size_method, MF_PLAN_SIZE_AUTO);
    assert_int_equal(s.n_batches, 0);
    assert_null(s.conns);
    mf_plan_settings_free(&s);
    mf_config_free(&c);
}

static void
test_plan_options(void **state) {
    struct mf_config *c = mf_testconf_flags(
        "source", "imaps://src.test", "target", "imaps://dst.test",
        "concurrency", "9", "max-message-size", "10M", "size-method", "fetch",
        "include", "INBOX,Work/*", "exclude", "Trash", "separator-replacement",
        "-", NULL);
    struct mf_plan_settings s = {0};
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_plan_settings_read(c, &s, &err), MF_E_OK);
    assert_ptr_equal(s.po.target, &s.c.server[1]);
    assert_int_equal(s.po.concurrency, 9);
    assert_int_equal(s.po.max_message_size, 10 * 1024 * 1024);
    assert_int_equal(s.po.size_method, MF_PLAN_SIZE_FETCH);
    assert_int_equal(s.rules->n_include, 2);
    assert_int_equal(s.rules->n_exclude, 1);
    assert_string_equal(s.rules->separator_replacement, "-");
    mf_plan_settings_free(&s);
    mf_config_free(&c);
}

/* Each wrong command line and the problem named. */
static void
test_refused(void **state) {
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"size-method", "guess",
         "--size-method is auto, status or fetch, not \"guess\""},
        {"connections", "1,2",
         "--connections, --max-connections and --window estimate from a "
         "test batch: give --from-batch NAME"},
        {"window", "8h",
         "--connections, --max-connections and --window estimate from a "
         "test batch: give --from-batch NAME"},
        {"from-batch", "t1", "--from-batch needs --redis URL"},
        {"concurrency", "0", NULL},
        {"rename", "NoEquals", NULL},
    };
    struct mf_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mf_config *c = mf_testconf_flags(
            "source", "imaps://src.test", cases[i].key, cases[i].value, NULL);
        struct mf_plan_settings s = {0};

        mf_err rc;

        memset(&err, 0, sizeof(err));
        rc = mf_plan_settings_read(c, &s, &err);
        assert_int_not_equal(rc, MF_E_OK);
        assert_int_equal(rc, err.code);
        if (cases[i].want) {
            assert_int_equal(rc, MF_E_USAGE);
            assert_string_equal(err.detail, cases[i].want);
        } else {
            assert_true(err.detail[0] != '\0');
        }
        mf_plan_settings_free(&s);
        mf_config_free(&c);
    }
}

/* --from-batch repeated (the program adds each value) or, without any,
 * from the options; --connections parsed. */
static void
test_batches(void **state) {
    struct mf_config *c = mf_testconf_flags(
        "source", "imaps://src.test", "redis", "redis://127.0.0.1:1",
        "from-batch", "ignored", "connections", "2,8", "max-connections", "6",
        "window", "2h", NULL);
    struct mf_plan_settings s = {0};
    struct mf_error err = {0};

    (void)state;
    mf_plan_settings_add_batches(&s, "t1,t2");
    mf_plan_settings_add_batches(&s, "t3");
    assert_int_equal(mf_plan_settings_read(c, &s, &err), MF_E_OK);
    assert_int_equal(s.n_batches, 3);
    assert_string_equal(s.batches[0], "t1");
    assert_string_equal(s.batches[2], "t3");
    assert_string_equal(s.redis, "redis://127.0.0.1:1");
    assert_int_equal(s.n_conns, 2);
    assert_int_equal(s.conns[1], 8);
    assert_int_equal(s.max_connections, 6);
    assert_int_equal(s.window_s, 7200);
    mf_plan_settings_free(&s);
    assert_null(s.batches);

    assert_int_equal(mf_plan_settings_read(c, &s, &err), MF_E_OK);
    assert_int_equal(s.n_batches, 1);
    assert_string_equal(s.batches[0], "ignored");
    mf_plan_settings_free(&s);
    mf_config_free(&c);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_plan_options),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
