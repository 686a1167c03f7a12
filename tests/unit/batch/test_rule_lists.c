/*
 * The batch's four folder rule lists (include, exclude, rename, preset:
 * mf__batch_rule_lists[] in core/src/batch/helpers.c) round-tripped
 * against a private redis-server child: read from a definition's options
 * (mf_batchdef_read(), as `batch create` reads them), stored
 * (mf_batch_create(): one Redis LIST each, "mf:{b:N}:list:<word>", the
 * layout batches already in Redis have), read back (mf_batch_get()),
 * parsed as a worker parses them (mf_batch_config_rules()) and shown
 * (mf_batch_config_print(), text and JSON). Each list holds other words,
 * so a list dropped from the table, or two lists swapped, fails here.
 * A LIST written the old way by hand reads back the same, and `batch
 * set` replaces the settable lists only.
 */
#include "testredis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batch.h"
#include "mailferry/batch_settings.h"
#include "mailferry/batchdef.h"
#include "mailferry/config.h"
#include "mailferry/folderplan.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each list, its option as `batch create` takes it, its Redis LIST's
 * last word and the JSON key of `batch create --json`. */
static const struct {
    const char *option, *value, *key, *json;
    const char *items[3]; /* NULL-terminated */
} lists[] = {
    {"include",
     "INBOX,Archive/*",
     "list:include",
     "include",
     {"INBOX", "Archive/*", NULL}},
    {"exclude", "Spam", "list:exclude", "exclude", {"Spam", NULL}},
    {"rename",
     "Old=New,Drafts=Entwürfe",
     "list:rename",
     "rename",
     {"Old=New", "Drafts=Entwürfe", NULL}},
    {"preset",
     "gmail-virtual",
     "list:preset",
     "presets",
     {"gmail-virtual", NULL}},
};
#define N_LISTS (sizeof(lists) / sizeof(lists[0]))

static size_t
count(const char *const *items) {
    size_t n = 0;

    while (items[n])
        n++;
    return n;
}

/* The items of list l of cfg, by the public member names. */
static char **
items_of(const struct mf_batch_config *cfg, size_t l, size_t *n_r) {
    switch (l) {
    case 0:
        return *n_r = cfg->n_include, cfg->include;
    case 1:
        return *n_r = cfg->n_exclude, cfg->exclude;
    case 2:
        return *n_r = cfg->n_rename, cfg->rename;
    default:
        return *n_r = cfg->n_presets, cfg->presets;
    }
}

static void
assert_lists(const struct mf_batch_config *cfg) {
    for (size_t l = 0; l < N_LISTS; l++) {
        size_t n;
        char **v = items_of(cfg, l, &n);
        assert_int_equal(n, count(lists[l].items));
        for (size_t i = 0; i < n; i++)
            assert_string_equal(v[i], lists[l].items[i]);
    }
}

/* The definition of batch name read from options that give all four
 * lists, and a one-row CSV in the test's directory. The definition
 * borrows its strings from the options returned: free them after it. */
static struct mf_config *
read_definition(struct mf_testredis *tr, const char *name,
                struct mf_batchdef *d) {
    char csv[400];
    struct mf_config *conf = mf_config_new();
    struct mf_error err = {0};
    FILE *f;

    snprintf(csv, sizeof(csv), "%s/rules.csv", tr->dir);
    assert_non_null(f = fopen(csv, "w"));
    fputs("EmailAddress,UserName,Password\r\n"
          "a@example.test,a,secret\r\n",
          f);
    assert_int_equal(fclose(f), 0);
    mf_config_set_flag(conf, "source", "imap://src.example:143");
    mf_config_set_flag(conf, "target", "imap://tgt.example:143");
    for (size_t l = 0; l < N_LISTS; l++)
        mf_config_set_flag(conf, lists[l].option, lists[l].value);
    if (mf_batchdef_read(conf, name, csv, tr->kr, NULL, NULL, d, &err))
        fail_msg("definition: %s", err.detail);
    assert_int_equal(remove(csv), 0);
    return conf;
}

/* What mf_batch_config_print() prints for cfg; the caller frees it. */
static char *
shown(const struct mf_batch_config *cfg, bool json) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    mf_batch_config_print(f, json, cfg, NULL, 0, false);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Batch name as mf_batch_get() reads it back. */
static struct mf_batch_config *
stored(struct mf_testredis *tr, const char *name) {
    struct mf_batch_config *cfg = NULL;
    struct mf_error err = {0};

    if (mf_batch_get(tr->r, name, &cfg, &err))
        fail_msg("get %s: %s", name, err.detail);
    return cfg;
}

/* Stores batch name with one mailbox and no folder rules. */
static void
create_bare(struct mf_testredis *tr, const char *name) {
    struct mf_batch_config c = {
        .name = (char *)name,
        .source = "imap://src.example:143",
        .target = "imap://tgt.example:143",
    };
    struct mf_batch_mailbox_cfg mb = {.email = "b@example.test", .user = "b"};
    struct mf_error err = {0};

    if (mf_batch_create(tr->r, &c, &mb, 1, &err))
        fail_msg("create %s: %s", name, err.detail);
}

static void
test_round_trip(void **state) {
    struct mf_testredis *tr = *state;
    struct mf_batchdef d = {0};
    struct mf_batch_config *got = NULL;
    struct mf_folder_rules *rules = NULL;
    struct mf_error err = {0};
    struct mf_config *conf;
    char *text, *json;

    conf = read_definition(tr, "rules1", &d);
    assert_lists(&d.cfg);
    if (mf_batch_create(tr->r, &d.cfg, d.mbs, d.n, &err))
        fail_msg("create: %s", err.detail);
    mf_batchdef_free(&d);
    mf_config_free(&conf);

    /* Stored as before: one LIST per rule list, the items in order. */
    for (size_t l = 0; l < N_LISTS; l++) {
        char key[200];
        redisReply *reply = NULL;
        mf_redis_key(key, sizeof(key), "b:rules1", lists[l].key);
        assert_int_equal(
            mf_redis_command(tr->r, &reply, &err, "LRANGE %s 0 -1", key),
            MF_E_OK);
        assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
        assert_int_equal(reply->elements, count(lists[l].items));
        for (size_t i = 0; i < reply->elements; i++)
            assert_string_equal(reply->element[i]->str, lists[l].items[i]);
        freeReplyObject(reply);
    }

    /* Read back, and parsed as a worker parses them. */
    got = stored(tr, "rules1");
    assert_lists(got);
    if (mf_batch_config_rules(got, &rules, &err))
        fail_msg("rules: %s", err.detail);
    assert_int_equal(rules->n_include, 2);
    assert_string_equal(rules->include[1], "Archive/*");
    assert_int_equal(rules->n_exclude, 1);
    assert_string_equal(rules->exclude[0], "Spam");
    assert_int_equal(rules->n_rename, 2);
    assert_string_equal(rules->rename[0].from, "Old");
    assert_string_equal(rules->rename[1].to, "Entwürfe");
    assert_true(rules->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL);
    mf_folder_rules_free(&rules);

    /* Shown: the text lists include, exclude and rename (never the
     * presets, as before); the JSON all four. */
    text = shown(got, false);
    assert_non_null(strstr(text, "\n  include INBOX\n  include Archive/*\n"
                                 "  exclude Spam\n  rename Old=New\n"
                                 "  rename Drafts=Entwürfe\n  max attempts"));
    assert_null(strstr(text, "gmail-virtual"));
    free(text);
    json = shown(got, true);
    assert_non_null(strstr(json, "\"include\":[\"INBOX\",\"Archive/*\"],"
                                 "\"exclude\":[\"Spam\"],"
                                 "\"rename\":[\"Old=New\",\"Drafts=Entwürfe\"],"
                                 "\"presets\":[\"gmail-virtual\"]"));
    free(json);
    mf_batch_config_free(&got);
}

/* A batch whose lists were written by hand in the stored layout (as an
 * older mailferry wrote them) reads back the same. */
static void
test_stored_layout(void **state) {
    struct mf_testredis *tr = *state;
    struct mf_batch_config *got = NULL;
    struct mf_error err = {0};

    create_bare(tr, "rules2");
    for (size_t l = 0; l < N_LISTS; l++)
        for (size_t i = 0; lists[l].items[i]; i++) {
            char key[200];
            redisReply *reply = NULL;
            mf_redis_key(key, sizeof(key), "b:rules2", lists[l].key);
            assert_int_equal(mf_redis_command(tr->r, &reply, &err,
                                              "RPUSH %s %s", key,
                                              lists[l].items[i]),
                             MF_E_OK);
            freeReplyObject(reply);
        }
    got = stored(tr, "rules2");
    assert_lists(got);
    mf_batch_config_free(&got);
}

/* `batch set` replaces include, exclude and rename, not the presets. */
static void
test_settable(void **state) {
    struct mf_testredis *tr = *state;
    struct mf_batch_config *got = NULL;
    struct mf_error err = {0};

    create_bare(tr, "rules3");
    for (size_t l = 0; l < N_LISTS; l++) {
        bool settable = l < 3;
        assert_int_equal(mf_batch_rules_setting_known(lists[l].option),
                         settable);
        if (!settable) {
            assert_int_equal(mf_batch_set_rules(tr->r, "rules3",
                                                lists[l].option, lists[l].value,
                                                &err),
                             MF_E_USAGE);
            continue;
        }
        if (mf_batch_set_rules(tr->r, "rules3", lists[l].option, lists[l].value,
                               &err))
            fail_msg("set --%s: %s", lists[l].option, err.detail);
    }
    got = stored(tr, "rules3");
    assert_int_equal(got->n_presets, 0);
    for (size_t l = 0; l < 3; l++) {
        size_t n;
        char **v = items_of(got, l, &n);
        assert_int_equal(n, count(lists[l].items));
        for (size_t i = 0; i < n; i++)
            assert_string_equal(v[i], lists[l].items[i]);
    }
    mf_batch_config_free(&got);
}

static int
setup(void **state) {
    return mf_testredis_setup(state, "mf_test_rules", true);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_stored_layout),
        cmocka_unit_test(test_settable),
    };
    return cmocka_run_group_tests(tests, setup, mf_testredis_teardown);
}
