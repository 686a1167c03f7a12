/*
 * Producing jobs: one job envelope per (batch, mailbox, pass, attempt) on
 * <prefix>.jobs, or on <prefix>.jobs.dlq when its attempts are exhausted.
 *
 * A pass walks the batch with mf_batch_begin_pass(), which marks every
 * chosen mailbox Queued with a new job and hands us the job ids; for
 * every 200 of them we read the mailbox records (HGETALLs pipelined in one
 * round trip), build each job with its sealed credentials (build.c) and
 * queue it on the producer. Nothing waits for
 * Kafka per message: a pass waits only while more than JOBS_IN_FLIGHT
 * jobs are undelivered (its memory stays the same at any number of
 * mailboxes), the producer is flushed once at the end, and a
 * failed flush is reported, the mailboxes staying Queued for
 * mf_jobs_reissue(). The batch configuration is read once per call.
 */
#include "jobs/jobs_int.h"

#include "mailferry/log.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mf_err
produce(const struct mf_jobs_ctx *c, const char *topic,
        const struct mf_job *job, void *msg_opaque, struct mf_error *err) {
    struct mf_envelope env;
    uint8_t *buf = NULL;
    size_t len = 0;
    char *key;
    mf_err rc;

    mf_envelope_init(&env, MF_ENVELOPE_JOB,
                     c->sender ? c->sender : "mailferry");
    /* The envelope borrows the job for packing only. */
    env.job = *job;
    rc = mf_envelope_pack(&env, &buf, &len, err);
    memset(&env.job, 0, sizeof(env.job));
    mf_envelope_clear(&env);
    if (rc)
        return rc;
    key = mf_envelope_key(job->batch, job->mailbox);
    rc = mf_kafka_produce(c->producer, topic, key, strlen(key), buf, len,
                          msg_opaque, err);
    free(key);
    free(buf);
    return rc;
}

mf_err
mf_jobs_produce(const struct mf_jobs_ctx *c, const char *topic,
                const struct mf_job *job, struct mf_error *err) {
    return produce(c, topic, job, NULL, err);
}

/* Builds and queues mailbox mb's job bj (cfg: the batch's). */
static mf_err
produce_built(const struct mf_jobs_ctx *c, const struct mf_batch_config *cfg,
              const char *topic, const struct mf_batch_mailbox *mb,
              const struct mf_batch_job *bj, void *msg_opaque,
              struct mf_error *err) {
    struct mf_job job;
    mf_err rc;

    if ((rc = mf_jobs_build(c->keyring, cfg, &mb->cfg, bj, &job, err)))
        return rc;
    rc = produce(c, topic, &job, msg_opaque, err);
    mf_jobs_job_clear(&job);
    return rc;
}

mf_err
mf_jobs_produce_job(const struct mf_jobs_ctx *c,
                    const struct mf_batch_config *cfg, const char *batch,
                    const char *topic, const struct mf_batch_job *bj,
                    void *msg_opaque, struct mf_error *err) {
    struct mf_batch_config *owned = NULL;
    struct mf_batch_mailbox *mb = NULL;
    mf_err rc;

    if (!cfg) {
        if ((rc = mf_batch_get(c->redis, batch, &owned, err)))
            return rc;
        cfg = owned;
    }
    if ((rc = mf_batch_mailbox_get(c->redis, batch, bj->email, &mb, err)))
        goto out;
    rc = produce_built(c, cfg, topic, mb, bj, msg_opaque, err);
out:
    mf_batch_mailbox_free(&mb);
    mf_batch_config_free(&owned);
    return rc;
}

/* Jobs are produced JOBS_AT_ONCE at a time: the login fields of their
 * mailbox records read in one round trip (mf_batch_mailbox_cfg_get_many())
 * instead of each whole record apart, which is what a pass over 50,000
 * mailboxes spent its time on. */
#define JOBS_AT_ONCE 200

/* At most this many jobs wait in the producer, so that a pass over any
 * number of mailboxes holds the same memory: without a bound, a pass
 * that produces faster than Kafka takes the messages (while the producer
 * learns its topic, say) held every envelope not yet delivered: 9,000 of
 * them at one point of a 50,000-job start on the dev broker. */
#define JOBS_IN_FLIGHT 2000

struct walk {
    const struct mf_jobs_ctx *c;
    const struct mf_batch_config *cfg;
    const char *batch;
    int flush_ms;
    uint64_t n;
    struct mf_batch_job jobs[JOBS_AT_ONCE];
    size_t njobs;
    struct mf_error err; /* the first failure's */
};

/* Produces the jobs gathered so far. */
static mf_err
produce_gathered(struct walk *w) {
    struct mf_batch_mailbox *mbs[JOBS_AT_ONCE] = {0};
    const char *emails[JOBS_AT_ONCE] = {0};
    struct mf_error err = {0};
    size_t i = 0, n = w->njobs;

    mf_err rc;

    w->njobs = 0;
    for (size_t k = 0; k < n; k++)
        emails[k] = w->jobs[k].email;
    rc = mf_batch_mailbox_cfg_get_many(w->c->redis, w->batch, emails, n, mbs,
                                       &err);
    for (; rc == MF_E_OK && i < n; i++) {
        rc = produce_built(w->c, w->cfg, w->c->topics->jobs, mbs[i],
                           &w->jobs[i], NULL, &err);
        if (rc == MF_E_OK)
            w->n++;
    }
    if (rc == MF_E_OK)
        rc = mf_kafka_producer_wait_room(w->c->producer, JOBS_IN_FLIGHT,
                                         w->flush_ms, &err);
    if (rc) {
        const struct mf_batch_job *bj = &w->jobs[i < n ? i : 0];
        struct mf_log_ctx lc = {w->batch, bj->email, bj->job_id, bj->attempt};
        mf_log_error(&lc, "job.produce", &err);
        if (w->err.code == MF_E_OK)
            w->err = err;
    }
    for (size_t k = 0; k < n; k++)
        mf_batch_mailbox_free(&mbs[k]);
    return rc;
}

static mf_err
on_job(void *ud, const struct mf_batch_job *bj) {
    struct walk *w = ud;

    w->jobs[w->njobs++] = *bj;
    return w->njobs == JOBS_AT_ONCE ? produce_gathered(w) : MF_E_OK;
}

/* Produces what on_job() still holds after a walk that ended with rc. */
static mf_err
walk_end(struct walk *w, mf_err rc) {
    mf_err prc = w->njobs ? produce_gathered(w) : MF_E_OK;
    return rc ? rc : prc;
}

/* Walks batch's mailboxes with walker (a pass, or the Queued ones),
 * producing each job it hands out, then flushes. */
static mf_err
produce_walk(const struct mf_jobs_ctx *c, const char *batch,
             enum mf_batch_op op, bool queued_only, int flush_ms, uint64_t *n_r,
             enum mf_batch_state *state_r, struct mf_error *err) {
    struct walk *w;
    enum mf_batch_state st = MF_BATCH_CREATED;
    struct mf_batch_config *cfg = NULL;
    struct mf_error ferr = {0};
    mf_err rc, frc;

    if ((rc = mf_batch_get(c->redis, batch, &cfg, err)))
        return rc;
    w = mf_xcalloc(1, sizeof(*w));
    *w = (struct walk){.c = c,
                       .cfg = cfg,
                       .batch = batch,
                       .flush_ms = flush_ms > 0 ? flush_ms : MF_JOBS_FLUSH_MS};
    if (queued_only)
        rc = mf_batch_foreach_queued(c->redis, batch, on_job, w, err);
    else
        rc = mf_batch_begin_pass(c->redis, batch, op, on_job, w, &st, err);
    rc = walk_end(w, rc);
    if (rc && w->err.code)
        *err = w->err;
    /* Flush what was queued even when the walk failed: those jobs are
     * real and their mailboxes wait for them. */
    frc = mf_kafka_producer_flush(c->producer, w->flush_ms, &ferr);
    if (!rc && frc) {
        rc = frc;
        *err = ferr;
    }
    if (n_r)
        *n_r = w->n;
    if (!rc && state_r)
        *state_r = st;
    free(w);
    mf_batch_config_free(&cfg);
    return rc;
}

mf_err
mf_jobs_begin_pass(const struct mf_jobs_ctx *c, const char *batch,
                   enum mf_batch_op op, int flush_ms, uint64_t *n_r,
                   enum mf_batch_state *state_r, struct mf_error *err) {
    return produce_walk(c, batch, op, false, flush_ms, n_r, state_r, err);
}

mf_err
mf_jobs_reissue(const struct mf_jobs_ctx *c, const char *batch, int flush_ms,
                uint64_t *n_r, struct mf_error *err) {
    return produce_walk(c, batch, MF_BATCH_OP_START, true, flush_ms, n_r, NULL,
                        err);
}
