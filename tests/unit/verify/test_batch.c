/*
 * `batch verify` in this process (core/src/verify/batch.c): a stored
 * batch read back against a private redis-server child. Every mailbox
 * gets its job, its secrets open into the logins only when the mailbox's
 * turn comes and are released after; the batch's caps become leases held
 * as this process (none without caps); a missing batch is NOT_FOUND.
 */
#include "testredis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/crypto.h"
#include "mailferry/jobs.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The state of every test: a private redis-server and its client (r), and a key
 * ring (kr). */
static int
setup(void **state) {
    return mf_testredis_setup(state, "mf_test_vbatch", true);
}

/* Creates batch with two mailboxes, their passwords "pw-<user>", and
 * a source connection cap of caps (0: none). */
static void
create(struct mf_testredis *t, const char *batch, uint32_t caps) {
    struct mf_batch_config c = {
        .name = (char *)batch,
        .source = "imap://src.example:143",
        .target = "imap://tgt.example:143",
        .max_attempts = 3,
        .max_message_size = 1000,
    };
    struct mf_batch_mailbox_cfg mb[2] = {
        {.email = "a@example.test", .user = "a"},
        {.email = "b@example.test", .user = "b"},
    };
    struct mf_error err = {0};

    c.source_caps.max_connections = caps;
    for (int i = 0; i < 2; i++) {
        char pw[16];
        snprintf(pw, sizeof(pw), "pw-%s", mb[i].user);
        assert_int_equal(mf_jobs_seal_blob(t->kr, batch, mb[i].email,
                                           MF_JOBS_PURPOSE_SOURCE, pw,
                                           strlen(pw), &mb[i].password, &err),
                         MF_E_OK);
        assert_int_equal(
            mf_jobs_seal_blob(t->kr, batch, mb[i].email, MF_JOBS_PURPOSE_TARGET,
                              pw, strlen(pw), &mb[i].target_password, &err),
            MF_E_OK);
    }
    if (mf_batch_create(t->r, &c, mb, 2, &err))
        fail_msg("create %s: %s", batch, err.detail);
    for (int i = 0; i < 2; i++) {
        mf_batch_blob_free(&mb[i].password);
        mf_batch_blob_free(&mb[i].target_password);
    }
}

static void
load(struct mf_testredis *t, const char *batch, struct mf_verify_batch *b) {
    struct mf_error err = {0};

    memset(b, 0, sizeof(*b));
    b->redis = t->r;
    b->kr = t->kr;
    b->batch = batch;
    b->redis_url = "redis://caps.example";
    b->lease_ttl_ms = 30000;
    if (mf_verify_batch_load(b, &err))
        fail_msg("load %s: %s", batch, err.detail);
}

static void
test_logins_opened_per_mailbox(void **state) {
    struct mf_testredis *t = *state;
    struct mf_verify_batch b;
    struct mf_verify_run r = {0};
    struct mf_migrate_login src, dst;
    struct mf_error err = {0};
    void *hold = NULL;
    bool seen[2] = {false, false};

    create(t, "vb1", 0);
    load(t, "vb1", &b);
    mf_verify_batch_run(&b, &r);
    assert_int_equal(r.n, 2);
    assert_ptr_equal(r.vo.migrate, &b.mo);
    assert_int_equal(b.mo.max_message_size, 1000);
    assert_string_equal(b.mo.batch, "vb1");
    assert_null(b.mo.caps);
    for (size_t i = 0; i < r.n; i++) {
        const char *user =
            strcmp(r.email[i], "a@example.test") == 0 ? "a" : "b";
        char pw[16];
        seen[*user - 'a'] = true;
        snprintf(pw, sizeof(pw), "pw-%s", user);
        assert_int_equal(r.login(r.ud, i, &src, &dst, &hold, &err), MF_E_OK);
        assert_string_equal(src.user, user);
        assert_string_equal(src.password, pw);
        assert_string_equal(dst.password, pw);
        r.release(r.ud, hold);
    }
    assert_true(seen[0] && seen[1]);
    mf_verify_batch_free(&b);
    assert_int_equal(b.n, 0);
}

static void
test_caps_as_this_process(void **state) {
    struct mf_testredis *t = *state;
    struct mf_verify_batch b;
    char prefix[80];

    create(t, "vb2", 3);
    load(t, "vb2", &b);
    assert_ptr_equal(b.mo.caps, &b.caps);
    assert_int_equal(b.caps.source.max_connections, 3);
    assert_string_equal(b.caps.redis_url, "redis://caps.example");
    assert_int_equal(b.caps.ttl_ms, 30000);
    snprintf(prefix, sizeof(prefix), "/%ld", (long)getpid());
    assert_non_null(strstr(b.caps.holder, prefix));
    mf_verify_batch_free(&b);
}

static void
test_missing_batch(void **state) {
    struct mf_testredis *t = *state;
    struct mf_verify_batch b = {.redis = t->r, .kr = t->kr, .batch = "nope"};
    struct mf_error err = {0};

    assert_int_equal(mf_verify_batch_load(&b, &err), MF_E_NOT_FOUND);
    mf_verify_batch_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logins_opened_per_mailbox),
        cmocka_unit_test(test_caps_as_this_process),
        cmocka_unit_test(test_missing_batch),
    };
    return cmocka_run_group_tests(tests, setup, mf_testredis_teardown);
}
