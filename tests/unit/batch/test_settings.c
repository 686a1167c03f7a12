/*
 * Options applied to a stored batch (core/src/batch/settings_apply.c,
 * mf_batch_settings_check_window() and mf_batch_setting_apply()) against
 * a private redis-server child: each option given is read as the command
 * line writes it (a number, a size or rate with k/M/G as `batch create`
 * reads it, a word, a day, on/off, a rule list) and set;
 * an option not given or not settable is left alone; a window with no
 * day inside is refused; a value that does not read names its option.
 */
#include "testredis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct t {
    struct mf_testredis redis;
    struct mf_redis *r; /* borrowed: redis.r */
    struct mf_config *conf;
    char heard[512];
};

static int
setup(void **state) {
    struct t *t = mf_xcalloc(1, sizeof(*t));
    struct mf_error err = {0};
    struct mf_batch_config c = {
        .name = "set1",
        .source = "imap://src.example:143",
        .target = "imap://tgt.example:143",
        .max_attempts = 3,
    };
    struct mf_batch_mailbox_cfg mb = {.email = "a@example.test", .user = "a"};

    assert_true(mf_testredis_start(&t->redis, "mf_test_bset"));
    t->r = t->redis.r;
    if (mf_batch_create(t->r, &c, &mb, 1, &err))
        fail_msg("create: %s", err.detail);
    t->conf = mf_config_new();
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    mf_config_free(&t->conf);
    mf_testredis_stop(&t->redis);
    free(t);
    return 0;
}

/* The options a command would try, in its order. */
static const char *const options[] = {
    "max-message-size",
    "max-attempts",
    "flag-conflict",
    "since",
    "before",
    "sync-deletes",
    "max-connections",
    "max-bytes-per-second",
    "target-max-bytes-per-second",
    "include",
    "csv",
};

/* Checks the window, then applies every option; what was set goes into
 * t->heard as "option=value;". */
static mf_err
apply(struct t *t, const char *batch, int *changed_r, struct mf_error *err) {
    mf_err rc;

    *changed_r = 0;
    t->heard[0] = '\0';
    if ((rc = mf_batch_settings_check_window(t->r, batch, t->conf, err)))
        return rc;
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        char buf[64];
        const char *text = NULL;
        bool set = false;
        size_t len = strlen(t->heard);
        if ((rc = mf_batch_setting_apply(t->r, batch, t->conf, options[i], &set,
                                         &text, buf, sizeof(buf), err)))
            return rc;
        if (!set)
            continue;
        snprintf(t->heard + len, sizeof(t->heard) - len, "%s=%s;", options[i],
                 text);
        (*changed_r)++;
    }
    return MF_E_OK;
}

static void
test_apply(void **state) {
    struct t *t = *state;
    struct mf_batch_config *cfg = NULL;
    struct mf_error err = {0};
    int changed = -1;

    mf_config_set_flag(t->conf, "flag-conflict", "source");
    mf_config_set_flag(t->conf, "max-attempts", "7");
    mf_config_set_flag(t->conf, "since", "2024-01-01");
    mf_config_set_flag(t->conf, "sync-deletes", "on");
    mf_config_set_flag(t->conf, "include", "INBOX,Archive/*");
    mf_config_set_flag(t->conf, "csv", "not-a-setting.csv");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_OK);
    assert_int_equal(changed, 5);
    assert_string_equal(t->heard, "max-attempts=7;flag-conflict=source;"
                                  "since=2024-01-01;sync-deletes=1;"
                                  "include=INBOX,Archive/*;");
    assert_int_equal(mf_batch_get(t->r, "set1", &cfg, &err), MF_E_OK);
    assert_int_equal(cfg->max_attempts, 7);
    assert_int_equal(cfg->flag_conflict, MF_FLAG_CONFLICT_SOURCE);
    assert_true(cfg->sync_deletes);
    assert_int_equal(cfg->window.since, 20240101);
    assert_int_equal(cfg->n_include, 2);
    mf_batch_config_free(&cfg);
}

/* The caps read with the unit `batch create` reads them with (def.c):
 * a byte rate takes k/M/G, a count does not. */
static void
test_caps_units(void **state) {
    struct t *t = *state;
    struct mf_batch_config *cfg = NULL;
    struct mf_error err = {0};
    int changed = -1;

    mf_config_set_flag(t->conf, "max-connections", "12");
    mf_config_set_flag(t->conf, "max-bytes-per-second", "10M");
    mf_config_set_flag(t->conf, "target-max-bytes-per-second", "512k");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_OK);
    assert_int_equal(changed, 3);
    assert_string_equal(t->heard, "max-connections=12;"
                                  "max-bytes-per-second=10485760;"
                                  "target-max-bytes-per-second=524288;");
    assert_int_equal(mf_batch_get(t->r, "set1", &cfg, &err), MF_E_OK);
    assert_int_equal(cfg->source_caps.max_connections, 12);
    assert_int_equal(cfg->source_caps.max_bytes_per_second, 10 << 20);
    assert_int_equal(cfg->target_caps.max_bytes_per_second, 512 << 10);
    mf_batch_config_free(&cfg);

    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-bytes-per-second", "1g");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_OK);
    assert_string_equal(t->heard, "max-bytes-per-second=1073741824;");

    /* A count has no unit; nor has a rate another one's. */
    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-connections", "2k");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "max-connections"));
    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "target-max-bytes-per-second", "10h");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "target-max-bytes-per-second"));
}

static void
test_refusals(void **state) {
    struct t *t = *state;
    struct mf_error err = {0};
    int changed = -1;

    /* No day would be inside. */
    mf_config_set_flag(t->conf, "since", "2024-02-01");
    mf_config_set_flag(t->conf, "before", "2024-01-01");
    assert_int_equal(apply(t, "set1", &changed, &err), MF_E_USAGE);
    assert_int_equal(changed, 0);

    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-message-size", "lots");
    assert_int_not_equal(apply(t, "set1", &changed, &err), MF_E_OK);
    assert_non_null(strstr(err.detail, "max-message-size"));

    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-attempts", "4");
    assert_int_equal(apply(t, "nope", &changed, &err), MF_E_NOT_FOUND);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
