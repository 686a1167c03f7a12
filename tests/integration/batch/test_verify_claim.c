/*
 * Verify jobs' claims and verdicts (core/src/batch/verify.c) against a
 * real redis-server (fixture "redis"): a verify claim is exclusive, the
 * holder's retry (same token) finds its own claim, renew and release
 * touch only the holder's claim, a live migration claim of the mailbox
 * refuses it (VERIFY_BUSY 410), and neither the claim nor the stored
 * verdict changes the mailbox record (state, job, attempt); the verdict
 * reads back with its job id (what `batch verify --wait` polls).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batch.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *url;
static char name[64], job[MF_BATCH_JOB_ID_MAX];

/* A verify claim of the test's job on email. */
static mf_err
vclaim(struct mf_redis *r, const char *email, uint32_t attempt,
       const char *worker, const char *token, int64_t ttl,
       struct mf_batch_lease *l) {
    struct mf_error err = {0};

    return mf_batch_verify_claim(r, name, email, job, attempt, worker, token,
                                 ttl, l, &err);
}

static void
test_verify_claim(void **state) {
    static uint8_t blob[24] = "SEALED:xyz";
    struct mf_batch_config c = {
        .source = "imap://src.example:143",
        .target = "imap://tgt.example:143",
        .max_attempts = 3,
    };
    struct mf_batch_mailbox_cfg mb = {
        .email = "v@x.org",
        .user = "v@x.org",
        .password = {blob, sizeof(blob)},
    };
    struct mf_redis *r = NULL;
    struct mf_batch_lease l, l2, mig;
    struct mf_batch_mailbox *m = NULL;
    struct mf_batch_verdict v;
    struct mf_verify_result res = {0};
    struct mf_verify_diff d = {.kind = MF_VERIFY_MISSING, .folder = "INBOX"};
    struct mf_error err = {0};
    enum mf_batch_state st;
    enum mf_mailbox_state before;

    (void)state;
    snprintf(name, sizeof(name), "tv%ld-%d", (long)time(NULL), (int)getpid());
    c.name = name;
    assert_int_equal(mf_redis_connect(url, 0, &r, &err), MF_E_OK);
    assert_int_equal(mf_batch_create(r, &c, &mb, 1, &err), MF_E_OK);
    snprintf(job, sizeof(job), "%s/v@x.org/verify/1", name);

    /* Unknown mailbox; then a claim, exclusive, the holder's retry. */
    assert_int_equal(vclaim(r, "no@x.org", 1, "w1", "t1", 1000, &l),
                     MF_E_NOT_FOUND);
    assert_int_equal(vclaim(r, "v@x.org", 1, "w1", "t1", 1000, &l), MF_E_OK);
    assert_true(l.verify);
    assert_int_equal(vclaim(r, "v@x.org", 1, "w2", "t2", 1000, &l2),
                     MF_E_CLAIMED);
    assert_int_equal(vclaim(r, "v@x.org", 1, "w1", "t1", 1000, &l2), MF_E_OK);
    assert_int_equal(mf_batch_renew(r, &l, 1000, &err), MF_E_OK);
    /* Someone else's lease neither renews nor releases it. */
    l2 = l;
    snprintf(l2.worker, sizeof(l2.worker), "w2");
    assert_int_equal(mf_batch_renew(r, &l2, 1000, &err), MF_E_LEASE_LOST);
    assert_int_equal(mf_batch_release(r, &l2, true, &err), MF_E_OK);
    assert_int_equal(mf_batch_renew(r, &l, 1000, &err), MF_E_OK);
    assert_int_equal(mf_batch_release(r, &l, true, &err), MF_E_OK);
    assert_int_equal(mf_batch_renew(r, &l, 1000, &err), MF_E_LEASE_LOST);
    /* Expires by itself. */
    assert_int_equal(vclaim(r, "v@x.org", 1, "w1", "t3", 100, &l), MF_E_OK);
    usleep(250 * 1000);
    assert_int_equal(vclaim(r, "v@x.org", 1, "w2", "t4", 1000, &l2), MF_E_OK);
    assert_int_equal(mf_batch_release(r, &l2, true, &err), MF_E_OK);

    /* The verdict reads back with its job id; the record is untouched. */
    assert_int_equal(mf_batch_mailbox_get(r, name, "v@x.org", &m, &err),
                     MF_E_OK);
    before = m->state;
    mf_batch_mailbox_free(&m);
    res.diffs = &d;
    res.n_diffs = 1;
    assert_int_equal(
        mf_batch_verify_put_job(r, name, "v@x.org", job, &res, 1234, &err),
        MF_E_OK);
    assert_int_equal(mf_batch_verify_get(r, name, "v@x.org", &v, &err),
                     MF_E_OK);
    assert_int_equal(v.status, MF_REPORT_VERIFY_DIFFERENCES);
    assert_string_equal(v.job_id, job);
    assert_int_equal(v.differences, 1);
    assert_int_equal(v.at, 1234);
    assert_int_equal(mf_batch_mailbox_get(r, name, "v@x.org", &m, &err),
                     MF_E_OK);
    assert_int_equal(m->state, before);
    mf_batch_mailbox_free(&m);

    /* A live migration claim refuses a verify (VERIFY_BUSY, 410). */
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_START, NULL, NULL, &st, &err),
        MF_E_OK);
    assert_int_equal(mf_batch_mailbox_get(r, name, "v@x.org", &m, &err),
                     MF_E_OK);
    assert_int_equal(mf_batch_claim(r, name, "v@x.org", m->job_id, m->attempt,
                                    "w1", NULL, 1000, &mig, &err),
                     MF_E_OK);
    mf_batch_mailbox_free(&m);
    assert_int_equal(vclaim(r, "v@x.org", 2, "w2", "t5", 1000, &l),
                     MF_E_VERIFY_BUSY);
    assert_int_equal((int)MF_E_VERIFY_BUSY, 410);
    assert_int_equal(mf_batch_mailbox_get(r, name, "v@x.org", &m, &err),
                     MF_E_OK);
    assert_int_equal(m->state, MF_MAILBOX_SYNCING);
    assert_string_equal(m->claim_worker, "w1");
    mf_batch_mailbox_free(&m);

    /* A Syncing batch cannot be removed; the fixture's redis-server and
     * its data go away after the run. */
    mf_redis_free(&r);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_claim),
    };
    int rc;

    url = mf_testenv_get("redis", "REDIS_URL");
    if (!url) {
        fprintf(stderr, "no redis fixture (REDIS_URL)\n");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(url);
    return rc;
}
