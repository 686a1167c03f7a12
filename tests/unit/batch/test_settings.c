/*
 * Options applied to a stored batch (core/src/batch/settings_apply.c,
 * mf_batch_settings_apply()) against a private redis-server child: each
 * option given is read as the command line writes it and set, in the
 * order of the settable list, each change heard; a window with no day
 * inside is refused before anything changes; a value that does not read
 * names its option; only the options given are touched.
 */
#include "testenv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/embedded.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct t {
    char dir[256];
    struct mf_redis_child *child;
    struct mf_redis *r;
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

    signal(SIGPIPE, SIG_IGN);
    assert_true(mf_testenv_mkdtemp(t->dir, sizeof(t->dir), "mf_test_bset"));
    assert_int_equal(mf_redis_child_start(NULL, t->dir, &t->child, &err),
                     MF_E_OK);
    assert_int_equal(
        mf_redis_connect(mf_redis_child_url(t->child), 0, &t->r, &err),
        MF_E_OK);
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
    mf_redis_free(&t->r);
    mf_redis_child_stop(&t->child);
    rmdir(t->dir);
    free(t);
    return 0;
}

static void
hear(void *ud, const char *option, const char *value) {
    struct t *t = ud;
    size_t len = strlen(t->heard);

    snprintf(t->heard + len, sizeof(t->heard) - len, "%s=%s;", option, value);
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
    assert_int_equal(
        mf_batch_settings_apply(t->r, "set1", t->conf, hear, t, &changed, &err),
        MF_E_OK);
    assert_int_equal(changed, 4);
    assert_string_equal(t->heard, "max-attempts=7;flag-conflict=source;"
                                  "since=2024-01-01;sync-deletes=1;");
    assert_int_equal(mf_batch_get(t->r, "set1", &cfg, &err), MF_E_OK);
    assert_int_equal(cfg->max_attempts, 7);
    assert_int_equal(cfg->flag_conflict, MF_FLAG_CONFLICT_SOURCE);
    assert_true(cfg->sync_deletes);
    assert_int_equal(cfg->window.since, 20240101);
    mf_batch_config_free(&cfg);
}

static void
test_refusals(void **state) {
    struct t *t = *state;
    struct mf_error err = {0};
    int changed = -1;

    /* No day would be inside: nothing is set, not even max-attempts. */
    mf_config_set_flag(t->conf, "max-attempts", "9");
    mf_config_set_flag(t->conf, "since", "2024-02-01");
    mf_config_set_flag(t->conf, "before", "2024-01-01");
    assert_int_equal(mf_batch_settings_apply(t->r, "set1", t->conf, NULL, NULL,
                                             &changed, &err),
                     MF_E_USAGE);
    assert_int_equal(changed, 0);

    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-message-size", "lots");
    assert_int_not_equal(mf_batch_settings_apply(t->r, "set1", t->conf, NULL,
                                                 NULL, &changed, &err),
                         MF_E_OK);
    assert_non_null(strstr(err.detail, "max-message-size"));

    mf_config_free(&t->conf);
    t->conf = mf_config_new();
    mf_config_set_flag(t->conf, "max-attempts", "4");
    assert_int_equal(mf_batch_settings_apply(t->r, "nope", t->conf, NULL, NULL,
                                             &changed, &err),
                     MF_E_NOT_FOUND);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
