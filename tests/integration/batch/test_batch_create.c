/*
 * The streamed batch create (core/src/batch/create.c) against a real
 * redis-server (fixture "redis", database 8): rows added in several calls
 * across the script's chunk boundary, nothing visible before commit, a
 * duplicate address in a later chunk refused with nothing left behind, a
 * second create of a name refused while the first runs, and what an
 * interrupted create left cleared by the next one. And what `batch
 * start` reads back of each record, mf_batch_mailbox_cfg_get_many(): the
 * login fields as stored, a missing mailbox MF_E_NOT_FOUND.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"
#include "mailferry/util.h"
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint8_t blob[24] = "SEALED:x";

/* n rows e<first + i>@x.org (emails owned by the caller's *emails). */
static struct mf_batch_mailbox_cfg *
rows(size_t first, size_t n, char ***emails) {
    struct mf_batch_mailbox_cfg *v = mf_xcalloc(n, sizeof(*v));

    *emails = mf_xcalloc(n, sizeof(**emails));
    for (size_t i = 0; i < n; i++) {
        (*emails)[i] = mf_xasprintf("e%zu@x.org", first + i);
        v[i].email = v[i].user = (*emails)[i];
        v[i].password = (struct mf_batch_blob){blob, sizeof(blob)};
    }
    return v;
}

static void
rows_free(struct mf_batch_mailbox_cfg *v, char **emails, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(emails[i]);
    free(emails);
    free(v);
}

static bool
key_exists(struct mf_redis *r, const char *key) {
    struct mf_error err = {0};
    bool yes = true;

    assert_int_equal(mf__batch_exists(r, key, &yes, &err), MF_E_OK);
    return yes;
}

static mf_err
count_cb(void *ud, const struct mf_batch_mailbox *mb) {
    (void)mb;
    ++*(size_t *)ud;
    return MF_E_OK;
}

static void
test_streamed(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config cfg = {.source = "imap://a", .target = "imap://b"};
    struct mf_batch_creator *c = NULL;
    struct mf_batch_config *got = NULL;
    struct mf_error err = {0};
    char name[64], **emails;
    struct mf_batch_mailbox_cfg *v = rows(0, 450, &emails);
    size_t n = 0;

    (void)state;
    mf_itest_name(name, sizeof(name), "stream");
    cfg.name = name;
    assert_int_equal(mf_batch_create_begin(r, &cfg, &c, &err), MF_E_OK);
    /* 150 + 150 + 150: the second call crosses the 200-row chunk. */
    for (size_t i = 0; i < 450; i += 150)
        assert_int_equal(mf_batch_create_add(c, v + i, 150, &err), MF_E_OK);
    assert_int_equal(mf_batch_get(r, name, &got, &err), MF_E_NOT_FOUND);
    assert_int_equal(mf_batch_create_commit(&c, &err), MF_E_OK);
    assert_null(c);
    assert_int_equal(mf_batch_get(r, name, &got, &err), MF_E_OK);
    assert_int_equal(got->n_mailboxes, 450);
    mf_batch_config_free(&got);
    assert_int_equal(mf_batch_foreach_mailbox(r, name, count_cb, &n, &err),
                     MF_E_OK);
    assert_int_equal(n, 450);
    rows_free(v, emails, 450);
    mf_itest_batch_end(&r, name);
}

static void
test_duplicate_later_chunk(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config cfg = {.source = "imap://a", .target = "imap://b"};
    struct mf_batch_creator *c = NULL, *c2 = NULL;
    struct mf_batch_config *got = NULL;
    struct mf__batch_keys k;
    struct mf_error err = {0};
    char name[64], key[MF__BATCH_KEY_MAX], **emails;
    struct mf_batch_mailbox_cfg *v = rows(0, 300, &emails);

    (void)state;
    mf_itest_name(name, sizeof(name), "dup");
    cfg.name = name;
    v[250].email = emails[10]; /* row 251 repeats row 11 */
    assert_int_equal(mf_batch_create_begin(r, &cfg, &c, &err), MF_E_OK);
    /* A second create of the name is refused while this one runs. */
    assert_int_equal(mf_batch_create_begin(r, &cfg, &c2, &err), MF_E_EXISTS);
    assert_non_null(strstr(err.detail, "being created"));
    assert_int_equal(mf_batch_create_add(c, v, 300, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.detail, "e10@x.org"));
    mf_batch_create_abort(&c);
    assert_null(c);
    mf__batch_keys(&k, name);
    mf__batch_mb_key(key, sizeof(key), name, "e0@x.org", "");
    assert_false(key_exists(r, k.mailboxes));
    assert_false(key_exists(r, k.batch));
    assert_false(key_exists(r, key));
    assert_int_equal(mf_batch_get(r, name, &got, &err), MF_E_NOT_FOUND);
    /* The name is free again. */
    assert_int_equal(mf_batch_create(r, &cfg, v, 200, &err), MF_E_OK);
    rows_free(v, emails, 300);
    mf_itest_batch_end(&r, name);
}

/* A create that died after writing rows (its creating key expired):
 * the next create of the name clears them and stores only its own. */
static void
test_interrupted_leftovers(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config cfg = {.source = "imap://a", .target = "imap://b"};
    struct mf_batch_config *got = NULL;
    struct mf_batch_mailbox *mb = NULL;
    struct mf__batch_keys k;
    struct mf_error err = {0};
    redisReply *reply = NULL;
    char name[64], key[MF__BATCH_KEY_MAX], **emails;
    struct mf_batch_mailbox_cfg *v = rows(100, 3, &emails);
    size_t n = 0;

    (void)state;
    mf_itest_name(name, sizeof(name), "left");
    cfg.name = name;
    mf__batch_keys(&k, name);
    mf__batch_mb_key(key, sizeof(key), name, "old@x.org", "");
    assert_int_equal(mf_redis_command(r, &reply, &err,
                                      "HSET %s email old@x.org state Queued",
                                      key),
                     MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(
        mf_redis_command(r, &reply, &err, "RPUSH %s old@x.org", k.mailboxes),
        MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(mf_batch_create(r, &cfg, v, 3, &err), MF_E_OK);
    assert_false(key_exists(r, key));
    assert_int_equal(mf_batch_get(r, name, &got, &err), MF_E_OK);
    assert_int_equal(got->n_mailboxes, 3);
    mf_batch_config_free(&got);
    assert_int_equal(mf_batch_foreach_mailbox(r, name, count_cb, &n, &err),
                     MF_E_OK);
    assert_int_equal(n, 3);
    assert_int_equal(mf_batch_mailbox_get(r, name, "old@x.org", &mb, &err),
                     MF_E_NOT_FOUND);
    rows_free(v, emails, 3);
    mf_itest_batch_end(&r, name);
}

static void
test_cfg_get_many(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config cfg = {.source = "imap://a", .target = "imap://b"};
    struct mf_batch_mailbox *mbs[3] = {0};
    struct mf_error err = {0};
    char name[64], **emails;
    struct mf_batch_mailbox_cfg *v = rows(200, 3, &emails);
    const char *ask[3] = {"e202@x.org", "e200@x.org", "e201@x.org"};

    (void)state;
    mf_itest_name(name, sizeof(name), "cfg");
    cfg.name = name;
    v[1].user = "login-201";
    v[1].user_root = "shared/201";
    v[1].target_user = "t201@y.org";
    v[1].target_password = (struct mf_batch_blob){blob + 1, 5};
    assert_int_equal(mf_batch_create(r, &cfg, v, 3, &err), MF_E_OK);
    assert_int_equal(mf_batch_mailbox_cfg_get_many(r, name, ask, 3, mbs, &err),
                     MF_E_OK);
    assert_string_equal(mbs[0]->cfg.email, "e202@x.org");
    assert_string_equal(mbs[1]->cfg.user, "e200@x.org");
    assert_null(mbs[1]->cfg.user_root);
    assert_null(mbs[1]->cfg.target_user);
    assert_int_equal(mbs[1]->cfg.target_password.len, 0);
    assert_int_equal(mbs[1]->cfg.password.len, sizeof(blob));
    assert_memory_equal(mbs[1]->cfg.password.data, blob, sizeof(blob));
    assert_string_equal(mbs[2]->cfg.user, "login-201");
    assert_string_equal(mbs[2]->cfg.user_root, "shared/201");
    assert_string_equal(mbs[2]->cfg.target_user, "t201@y.org");
    assert_int_equal(mbs[2]->cfg.target_password.len, 5);
    assert_memory_equal(mbs[2]->cfg.target_password.data, blob + 1, 5);
    for (size_t i = 0; i < 3; i++)
        mf_batch_mailbox_free(&mbs[i]);
    ask[1] = "nobody@x.org";
    assert_int_equal(mf_batch_mailbox_cfg_get_many(r, name, ask, 3, mbs, &err),
                     MF_E_NOT_FOUND);
    for (size_t i = 0; i < 3; i++)
        assert_null(mbs[i]);
    rows_free(v, emails, 3);
    mf_itest_batch_end(&r, name);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streamed),
        cmocka_unit_test(test_duplicate_later_chunk),
        cmocka_unit_test(test_interrupted_leftovers),
        cmocka_unit_test(test_cfg_get_many),
    };

    return MF_ITEST_REDIS_RUN(tests, 8, "c"); /* issue 14's database */
}
