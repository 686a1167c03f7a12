/*
 * Batch edits (mailferry/batch_edit.h) against a real redis-server
 * (fixture "redis", database 12): add in each batch state (jobs at once
 * while it runs or is synced, none while Created, refused once
 * completed), duplicates refused with their indexes and nothing added,
 * update of unknown mailboxes refused, per-mailbox stop (Queued at once,
 * running through the claim's renewal), retry of AUTH failures only,
 * reissue making the old attempt stale, drop (refusals, keys gone,
 * counts, the batch settling). The fleet end to end is
 * tests/integration/migrate/batchedit_test.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"
#include "mailferry/batch_edit.h"
#include "mailferry/util.h"
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint8_t blob[32] = "SEALED:old";
static uint8_t blob2[32] = "SEALED:new";

static void
row(struct mf_batch_mailbox_cfg *m, const char *email, uint8_t *pw) {
    memset(m, 0, sizeof(*m));
    m->email = (char *)email;
    m->user = (char *)email;
    m->password = (struct mf_batch_blob){pw, 16};
    m->target_password = (struct mf_batch_blob){pw, 16};
}

/* A batch "<prefix>-what" with mailboxes a@x, b@x. */
static void
create(struct mf_redis *r, char *name, size_t n, const char *what) {
    struct mf_batch_config c = {.source = "imap://s:143",
                                .target = "imap://t:143"};
    struct mf_batch_mailbox_cfg mbs[2];
    struct mf_error err = {0};

    mf_itest_name(name, n, what);
    c.name = name;
    row(&mbs[0], "a@x", blob);
    row(&mbs[1], "b@x", blob);
    if (mf_batch_create(r, &c, mbs, 2, &err))
        fail_msg("create: %s", err.detail);
}

static mf_err
count_job(void *ud, const struct mf_batch_job *j) {
    struct mf_batch_job *v = ud;
    v[0].pass++;
    v[1] = *j;
    return MF_E_OK;
}

/* Adds mailbox email to batch name, failing the test unless that works;
 * returns how many jobs the add queued, the last into *last (NULL: not
 * wanted), the batch's state into *st. */
static uint64_t
add_one(struct mf_redis *r, const char *name, const char *email,
        struct mf_batch_job *last, enum mf_batch_state *st) {
    struct mf_batch_mailbox_cfg m;
    struct mf_batch_job j[2] = {0};
    struct mf_error err = {0};

    row(&m, email, blob);
    assert_int_equal(mf_batch_add_mailboxes(r, name, &m, 1, count_job, j, NULL,
                                            NULL, st, &err),
                     MF_E_OK);
    if (last)
        *last = j[1];
    return j[0].pass;
}

static enum mf_batch_state
bstate(struct mf_redis *r, const char *name, uint64_t *n_r) {
    struct mf_batch_config *c = NULL;
    struct mf_error err = {0};
    enum mf_batch_state s;

    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_OK);
    s = c->state;
    if (n_r)
        *n_r = c->n_mailboxes;
    mf_batch_config_free(&c);
    return s;
}

static struct mf_batch_mailbox *
mb(struct mf_redis *r, const char *name, const char *email) {
    struct mf_batch_mailbox *m = NULL;
    struct mf_error err = {0};

    if (mf_batch_mailbox_get(r, name, email, &m, &err))
        fail_msg("mailbox %s: %s", email, err.detail);
    return m;
}

static enum mf_mailbox_state
mstate(struct mf_redis *r, const char *name, const char *email) {
    struct mf_batch_mailbox *m = mb(r, name, email);
    enum mf_mailbox_state s = m->state;

    mf_batch_mailbox_free(&m);
    return s;
}

static void
claim(struct mf_redis *r, const char *name, const char *email,
      struct mf_batch_lease *l) {
    struct mf_batch_mailbox *m = mb(r, name, email);
    struct mf_error err = {0};

    if (mf_batch_claim(r, name, email, m->job_id, m->attempt, "w1", NULL, 30000,
                       l, &err))
        fail_msg("claim %s: %s", email, err.detail);
    mf_batch_mailbox_free(&m);
}

static void
finish(struct mf_redis *r, const char *name, const struct mf_batch_lease *l,
       enum mf_outcome o, int code) {
    struct mf_batch_result res = {.job_id = l->job_id,
                                  .attempt = l->attempt,
                                  .worker = l->worker,
                                  .outcome = o,
                                  .error_code = code,
                                  .error_name =
                                      code ? mf_err_name(code) : NULL};
    struct mf_batch_applied out;
    struct mf_error err = {0};

    if (mf_batch_apply_result(r, name, l->email, &res, &out, &err))
        fail_msg("result %s: %s", l->email, err.detail);
}

struct seen {
    char outcome[4][16];
    size_t n;
    int jobs;
};

static mf_err
on_outcome(void *ud, const struct mf_batch_mb_outcome *o) {
    struct seen *s = ud;

    if (s->n < 4)
        snprintf(s->outcome[s->n++], sizeof(s->outcome[0]), "%s", o->outcome);
    s->jobs += o->job != NULL;
    return MF_E_OK;
}

static struct seen
op(struct mf_redis *r, const char *name, enum mf_batch_mb_op o,
   const char *const *emails, size_t n, mf_err want) {
    struct seen s = {0};
    struct mf_error err = {0};

    assert_int_equal(mf_batch_mailboxes_op(r, name, o, emails, n, on_outcome,
                                           &s, NULL, &err),
                     want);
    return s;
}

static void
test_add(void **state) {
    struct mf_redis *r = mf_itest_redis();
    char name[64];
    struct mf_batch_mailbox_cfg rows[2];
    struct mf_batch_job jobs[2] = {0}, job;
    struct mf_batch_lease l;
    struct mf_error err = {0};
    enum mf_batch_state st;
    size_t *dups = NULL, ndups = 0;
    uint64_t n;

    (void)state;
    create(r, name, sizeof(name), "add");
    /* Created: the new mailbox waits for start, no job. */
    assert_int_equal(add_one(r, name, "c@x", NULL, &st), 0);
    assert_int_equal(bstate(r, name, &n), MF_BATCH_CREATED);
    assert_int_equal(n, 3);
    /* One already there refuses the call; the other row is not added. */
    row(&rows[0], "d@x", blob);
    row(&rows[1], "a@x", blob);
    assert_int_equal(mf_batch_add_mailboxes(r, name, rows, 2, count_job, jobs,
                                            &dups, &ndups, NULL, &err),
                     MF_E_CSV_MAILBOX_IN_BATCH);
    assert_int_equal(ndups, 1);
    assert_int_equal(dups[0], 1);
    free(dups);
    assert_int_equal(mf_batch_mailbox_get(r, name, "d@x",
                                          &(struct mf_batch_mailbox *){NULL},
                                          &err),
                     MF_E_NOT_FOUND);
    row(&rows[1], "d@x", blob);
    assert_int_equal(mf_batch_add_mailboxes(r, name, rows, 2, NULL, NULL, NULL,
                                            NULL, NULL, &err),
                     MF_E_INVALID_ARGUMENT);
    /* Running: a full job at once, claimable. */
    assert_int_equal(mf_batch_begin_pass(r, name, MF_BATCH_OP_START, count_job,
                                         jobs, &st, &err),
                     MF_E_OK);
    assert_int_equal(jobs[0].pass, 3);
    assert_int_equal(add_one(r, name, "d@x", &job, &st), 1);
    assert_string_equal(job.email, "d@x");
    assert_int_equal(job.kind, MF_JOB_KIND_INITIAL);
    assert_int_equal(st, MF_BATCH_SYNCING);
    /* Every mailbox done: Synced; an added one runs it again. */
    const char *all[] = {"a@x", "b@x", "c@x", "d@x"};
    for (size_t i = 0; i < 4; i++) {
        claim(r, name, all[i], &l);
        finish(r, name, &l, MF_OUTCOME_SYNCED, 0);
    }
    assert_int_equal(bstate(r, name, NULL), MF_BATCH_SYNCED);
    assert_int_equal(add_one(r, name, "e@x", NULL, &st), 1);
    assert_int_equal(st, MF_BATCH_INCREMENTAL_SYNCING);
    claim(r, name, "e@x", &l);
    finish(r, name, &l, MF_OUTCOME_SYNCED, 0);
    assert_int_equal(bstate(r, name, &n), MF_BATCH_SYNCED);
    assert_int_equal(n, 5);
    /* Completing: refused. */
    assert_int_equal(mf_batch_begin_pass(r, name, MF_BATCH_OP_COMPLETE, NULL,
                                         NULL, NULL, &err),
                     MF_E_OK);
    row(&rows[0], "f@x", blob);
    assert_int_equal(mf_batch_add_mailboxes(r, name, rows, 1, NULL, NULL, NULL,
                                            NULL, NULL, &err),
                     MF_E_STATE);
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPED);
    mf_itest_batch_end(&r, name);
}

static void
test_update_stop_retry(void **state) {
    struct mf_redis *r = mf_itest_redis();
    char name[64];
    struct mf_batch_mailbox_cfg rows[2];
    struct mf_batch_lease la, lb, stale;
    struct mf_batch_mailbox *m;
    struct mf_error err = {0};
    size_t *unknown = NULL, nunknown = 0;
    struct seen s;
    bool stop;
    const char *a[] = {"a@x"}, *b[] = {"b@x"}, *ab[] = {"a@x", "b@x"};

    (void)state;
    create(r, name, sizeof(name), "upd");
    /* Per-mailbox jobs need a batch that can run. */
    op(r, name, MF_BATCH_MB_SYNC, a, 1, MF_E_STATE);
    /* Unknown mailboxes refuse the update, nothing changes. */
    row(&rows[0], "a@x", blob2);
    row(&rows[1], "zz@x", blob2);
    assert_int_equal(
        mf_batch_update_mailboxes(r, name, rows, 2, &unknown, &nunknown, &err),
        MF_E_CSV_MAILBOX_NOT_IN_BATCH);
    assert_int_equal(nunknown, 1);
    assert_int_equal(unknown[0], 1);
    free(unknown);
    m = mb(r, name, "a@x");
    assert_memory_equal(m->cfg.password.data, blob, 16);
    mf_batch_mailbox_free(&m);
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_START, NULL, NULL, NULL, &err),
        MF_E_OK);
    /* Reissue: the job built now replaces the queued one's attempt. */
    claim(r, name, "a@x", &la);
    m = mb(r, name, "b@x");
    s = op(r, name, MF_BATCH_MB_REISSUE, ab, 2, MF_E_OK);
    assert_string_equal(s.outcome[0], "skipped"); /* a@x runs */
    assert_string_equal(s.outcome[1], "reissued");
    assert_int_equal(s.jobs, 1);
    assert_int_equal(mf_batch_claim(r, name, "b@x", m->job_id, m->attempt, "w2",
                                    NULL, 30000, &stale, &err),
                     MF_E_STATE);
    mf_batch_mailbox_free(&m);
    /* Stop: a@x (running) through its renewal, b@x (Queued) at once. */
    s = op(r, name, MF_BATCH_MB_STOP, ab, 2, MF_E_OK);
    assert_string_equal(s.outcome[0], "stopping");
    assert_string_equal(s.outcome[1], "stopped");
    assert_int_equal(mstate(r, name, "b@x"), MF_MAILBOX_STOPPED);
    assert_int_equal(
        mf_batch_mailbox_stop_requested(r, name, "a@x", la.job_id, &stop, &err),
        MF_E_OK);
    assert_true(stop);
    assert_int_equal(mf_batch_renew(r, &la, 30000, &err), MF_E_OK);
    assert_true(la.stop_requested);
    finish(r, name, &la, MF_OUTCOME_STOPPED, 0);
    assert_int_equal(bstate(r, name, NULL), MF_BATCH_SYNCED_WITH_ERRORS);
    /* Start both again; a@x fails with AUTH, b@x with something else. */
    s = op(r, name, MF_BATCH_MB_START, ab, 2, MF_E_OK);
    assert_int_equal(s.jobs, 2);
    assert_int_equal(bstate(r, name, NULL), MF_BATCH_INCREMENTAL_SYNCING);
    claim(r, name, "a@x", &la);
    assert_int_equal(
        mf_batch_mailbox_stop_requested(r, name, "a@x", la.job_id, &stop, &err),
        MF_E_OK);
    assert_false(stop); /* the stop was for the old job */
    claim(r, name, "b@x", &lb);
    finish(r, name, &la, MF_OUTCOME_FAILED, MF_E_AUTH);
    finish(r, name, &lb, MF_OUTCOME_FAILED, MF_E_CONNECT);
    assert_int_equal(bstate(r, name, NULL), MF_BATCH_SYNCED_WITH_ERRORS);
    /* New password: stored; only the AUTH failure is retried. */
    row(&rows[0], "a@x", blob2);
    assert_int_equal(
        mf_batch_update_mailboxes(r, name, rows, 1, NULL, NULL, &err), MF_E_OK);
    m = mb(r, name, "a@x");
    assert_memory_equal(m->cfg.password.data, blob2, 16);
    mf_batch_mailbox_free(&m);
    s = op(r, name, MF_BATCH_MB_RETRY_AUTH, ab, 2, MF_E_OK);
    assert_string_equal(s.outcome[0], "queued");
    assert_string_equal(s.outcome[1], "skipped");
    claim(r, name, "a@x", &la);
    finish(r, name, &la, MF_OUTCOME_SYNCED, 0);
    assert_int_equal(mstate(r, name, "b@x"), MF_MAILBOX_FAILED);
    /* retry over the whole batch: only b@x, the failed one. */
    s = op(r, name, MF_BATCH_MB_RETRY, NULL, 0, MF_E_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.outcome[0], "skipped");
    assert_string_equal(s.outcome[1], "queued");
    claim(r, name, "b@x", &lb);
    finish(r, name, &lb, MF_OUTCOME_SYNCED, 0);
    assert_int_equal(bstate(r, name, NULL), MF_BATCH_SYNCED);
    /* sync of one mailbox: an incremental job for it alone. */
    s = op(r, name, MF_BATCH_MB_SYNC, b, 1, MF_E_OK);
    assert_int_equal(s.jobs, 1);
    m = mb(r, name, "b@x");
    assert_int_equal(m->kind, MF_JOB_KIND_INCREMENTAL);
    mf_batch_mailbox_free(&m);
    assert_int_equal(mstate(r, name, "a@x"), MF_MAILBOX_SYNCED);
    claim(r, name, "b@x", &lb);
    finish(r, name, &lb, MF_OUTCOME_SYNCED, 0);
    mf_itest_batch_end(&r, name);
}

static size_t
keys_of(struct mf_redis *r, const char *name, const char *email) {
    redisReply *reply = NULL;
    struct mf_error err = {0};
    size_t n;

    assert_int_equal(
        mf_redis_command(r, &reply, &err, "KEYS mf:{b:%s}:*%s*", name, email),
        MF_E_OK);
    n = reply->elements;
    freeReplyObject(reply);
    return n;
}

static void
test_drop(void **state) {
    struct mf_redis *r = mf_itest_redis();
    char name[64];
    struct mf_batch_lease la, lb;
    struct mf_error err = {0};
    enum mf_batch_state st;
    uint64_t n;
    const char *a[] = {"a@x"}, *b[] = {"b@x"}, *ab[] = {"a@x", "b@x"},
               *zz[] = {"zz@x"};

    (void)state;
    create(r, name, sizeof(name), "drop");
    assert_int_equal(mf_batch_drop_mailboxes(r, name, zz, 1, NULL, &err),
                     MF_E_CSV_MAILBOX_NOT_IN_BATCH);
    assert_int_equal(mf_batch_drop_mailboxes(r, name, ab, 2, NULL, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_START, NULL, NULL, NULL, &err),
        MF_E_OK);
    claim(r, name, "a@x", &la);
    assert_int_equal(mf_batch_drop_mailboxes(r, name, a, 1, NULL, &err),
                     MF_E_STATE);
    finish(r, name, &la, MF_OUTCOME_SYNCED, 0);
    assert_true(keys_of(r, name, "b@x") > 0);
    /* b@x was all the batch waited for: dropping it settles it. */
    assert_int_equal(mf_batch_drop_mailboxes(r, name, b, 1, &st, &err),
                     MF_E_OK);
    assert_int_equal(st, MF_BATCH_SYNCED);
    assert_int_equal(bstate(r, name, &n), MF_BATCH_SYNCED);
    assert_int_equal(n, 1);
    assert_int_equal(keys_of(r, name, "b@x"), 0);
    assert_int_equal(mf_batch_mailbox_get(r, name, "b@x",
                                          &(struct mf_batch_mailbox *){NULL},
                                          &err),
                     MF_E_NOT_FOUND);
    /* A worker that still gets b@x's job finds nothing to claim. */
    assert_int_not_equal(
        mf_batch_claim(r, name, "b@x", "x", 1, "w", NULL, 1000, &lb, &err),
        MF_E_OK);
    mf_itest_batch_end(&r, name);
}

/* A worker lost while its mailbox was being stopped: the mailbox ends
 * Stopped, not requeued. */
static void
test_stop_lost_worker(void **state) {
    struct mf_redis *r = mf_itest_redis();
    char name[64];
    struct mf_batch_mailbox *m;
    struct mf_batch_lease l;
    struct mf_batch_requeued q;
    struct mf_error err = {0};
    const char *a[] = {"a@x"};

    (void)state;
    create(r, name, sizeof(name), "lost");
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_START, NULL, NULL, NULL, &err),
        MF_E_OK);
    m = mb(r, name, "a@x");
    assert_int_equal(mf_batch_claim(r, name, "a@x", m->job_id, m->attempt, "w1",
                                    NULL, 50, &l, &err),
                     MF_E_OK);
    mf_batch_mailbox_free(&m);
    op(r, name, MF_BATCH_MB_STOP, a, 1, MF_E_OK);
    usleep(150 * 1000);
    assert_int_equal(mf_batch_requeue(r, name, "a@x", false, &q, &err),
                     MF_E_OK);
    assert_int_equal(q.job.attempt, 0); /* nothing to produce */
    assert_false(q.dead);
    assert_int_equal(mstate(r, name, "a@x"), MF_MAILBOX_STOPPED);
    assert_int_equal(mstate(r, name, "b@x"), MF_MAILBOX_QUEUED);
    assert_int_equal(mf_batch_stop(r, name, NULL, &err), MF_E_OK);
    mf_itest_batch_end(&r, name);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_update_stop_retry),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_stop_lost_worker),
    };

    return MF_ITEST_REDIS_RUN(tests, 12, "te"); /* issue 16's database */
}
