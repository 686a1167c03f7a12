/*
 * Producing jobs: one job envelope per (batch, mailbox, pass, attempt) on
 * <prefix>.jobs, or on <prefix>.jobs.dlq when its attempts are exhausted.
 *
 * A pass walks the batch with mf_batch_begin_pass(), which marks every
 * chosen mailbox Queued with a new job and hands us the job ids; for each
 * we read the mailbox record (one HGETALL), build the job with its sealed
 * credentials (build.c) and queue it on the producer. Nothing waits for
 * Kafka per message: the producer is flushed once at the end, and a
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

mf_err
mf__jobs_produce_job(const struct mf_jobs_ctx *c,
                     const struct mf_batch_config *cfg, const char *batch,
                     const char *topic, const struct mf_batch_job *bj,
                     void *msg_opaque, struct mf_error *err) {
    struct mf_batch_config *owned = NULL;
    struct mf_batch_mailbox *mb = NULL;
    struct mf_job job;
    mf_err rc;

    if (!cfg) {
        if ((rc = mf_batch_get(c->redis, batch, &owned, err)))
            return rc;
        cfg = owned;
    }
    if ((rc = mf_batch_mailbox_get(c->redis, batch, bj->email, &mb, err)))
        goto out;
    if ((rc = mf_jobs_build(c->keyring, cfg, &mb->cfg, bj, &job, err)))
        goto out;
    rc = produce(c, topic, &job, msg_opaque, err);
    mf_jobs_job_clear(&job);
out:
    mf_batch_mailbox_free(&mb);
    mf_batch_config_free(&owned);
    return rc;
}

mf_err
mf_jobs_produce_job(const struct mf_jobs_ctx *c,
                    const struct mf_batch_config *cfg, const char *batch,
                    const char *topic, const struct mf_batch_job *bj,
                    struct mf_error *err) {
    return mf__jobs_produce_job(c, cfg, batch, topic, bj, NULL, err);
}

struct walk {
    const struct mf_jobs_ctx *c;
    const struct mf_batch_config *cfg;
    const char *batch;
    uint64_t n;
};

static mf_err
on_job(void *ud, const struct mf_batch_job *bj) {
    struct walk *w = ud;
    struct mf_error err = {0};
    mf_err rc = mf_jobs_produce_job(w->c, w->cfg, w->batch, w->c->topics->jobs,
                                    bj, &err);

    if (rc) {
        struct mf_log_ctx lc = {w->batch, bj->email, bj->job_id, bj->attempt};
        mf_log_error(&lc, "job.produce", &err);
        return rc;
    }
    w->n++;
    return MF_E_OK;
}

static mf_err
flush(const struct mf_jobs_ctx *c, int flush_ms, struct mf_error *err) {
    return mf_kafka_producer_flush(c->producer, flush_ms > 0 ? flush_ms : 60000,
                                   err);
}

mf_err
mf_jobs_begin_pass(const struct mf_jobs_ctx *c, const char *batch,
                   enum mf_batch_op op, int flush_ms, uint64_t *n_r,
                   enum mf_batch_state *state_r, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct walk w = {c, NULL, batch, 0};
    enum mf_batch_state st = MF_BATCH_CREATED;
    mf_err rc, frc;
    struct mf_error ferr = {0};

    if ((rc = mf_batch_get(c->redis, batch, &cfg, err)))
        return rc;
    w.cfg = cfg;
    rc = mf_batch_begin_pass(c->redis, batch, op, on_job, &w, &st, err);
    /* Flush what was queued even when the walk failed: those jobs are
     * real and their mailboxes wait for them. */
    frc = flush(c, flush_ms, &ferr);
    if (!rc && frc) {
        rc = frc;
        *err = ferr;
    }
    mf_batch_config_free(&cfg);
    if (n_r)
        *n_r = w.n;
    if (!rc && state_r)
        *state_r = st;
    return rc;
}

mf_err
mf_jobs_reissue(const struct mf_jobs_ctx *c, const char *batch, int flush_ms,
                uint64_t *n_r, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct walk w = {c, NULL, batch, 0};
    mf_err rc, frc;
    struct mf_error ferr = {0};

    if ((rc = mf_batch_get(c->redis, batch, &cfg, err)))
        return rc;
    w.cfg = cfg;
    rc = mf_batch_foreach_queued(c->redis, batch, on_job, &w, err);
    frc = flush(c, flush_ms, &ferr);
    if (!rc && frc) {
        rc = frc;
        *err = ferr;
    }
    mf_batch_config_free(&cfg);
    if (n_r)
        *n_r = w.n;
    return rc;
}
