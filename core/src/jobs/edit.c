/*
 * Producing the jobs of batch edits (mailferry/batch_edit.h): the batch
 * module changes the records and hands over each new job; here each is
 * built with its sealed credentials (build.c) and produced on the jobs
 * topic, and the producer is flushed once at the end, as a pass does
 * (produce.c). A job that cannot be built or produced stops the walk;
 * its mailbox stays Queued, and `batch start NAME --reissue` produces it
 * again.
 */
#include "jobs/jobs_int.h"

#include "mailferry/batch_edit.h"
#include "mailferry/log.h"
#include "mailferry/util.h"

#include <string.h>

struct edit_walk {
    const struct mf_jobs_ctx *c;
    struct mf_batch_config *cfg;
    const char *batch;
    uint64_t n;
    mf_batch_mb_outcome_cb cb;
    void *ud;
    bool quiet_skips; /* update: only what was done is news */
};

static mf_err
produce_one(struct edit_walk *w, const struct mf_batch_job *bj) {
    struct mf_error err = {0};
    mf_err rc = mf_jobs_produce_job(w->c, w->cfg, w->batch, w->c->topics->jobs,
                                    bj, NULL, &err);

    if (rc) {
        struct mf_log_ctx lc = {w->batch, bj->email, bj->job_id, bj->attempt};
        mf_log_error(&lc, "job.produce", &err);
        return rc;
    }
    w->n++;
    return MF_E_OK;
}

static mf_err
on_job(void *ud, const struct mf_batch_job *bj) {
    return produce_one(ud, bj);
}

static mf_err
on_outcome(void *ud, const struct mf_batch_mb_outcome *o) {
    struct edit_walk *w = ud;
    mf_err rc;

    if (o->job && (rc = produce_one(w, o->job)))
        return rc;
    if (w->quiet_skips && strcmp(o->outcome, "skipped") == 0)
        return MF_E_OK;
    return w->cb ? w->cb(w->ud, o) : MF_E_OK;
}

/* Reads the configuration the jobs are built with. */
static mf_err
begin(struct edit_walk *w, const struct mf_jobs_ctx *c, const char *batch,
      mf_batch_mb_outcome_cb cb, void *ud, struct mf_error *err) {
    memset(w, 0, sizeof(*w));
    w->c = c;
    w->batch = batch;
    w->cb = cb;
    w->ud = ud;
    return mf_batch_get(c->redis, batch, &w->cfg, err);
}

/* Flushes what was produced even after a failure (those jobs are real
 * and their mailboxes wait for them); rc is the first error. */
static mf_err
end(struct edit_walk *w, mf_err rc, int flush_ms, uint64_t *n_jobs_r,
    struct mf_error *err) {
    struct mf_error ferr = {0};
    mf_err frc = mf_kafka_producer_flush(
        w->c->producer, flush_ms > 0 ? flush_ms : MF_JOBS_FLUSH_MS, &ferr);

    if (!rc && frc) {
        rc = frc;
        *err = ferr;
    }
    mf_batch_config_free(&w->cfg);
    if (n_jobs_r)
        *n_jobs_r = w->n;
    return rc;
}

mf_err
mf_jobs_add_mailboxes(const struct mf_jobs_ctx *c, const char *batch,
                      const struct mf_batch_mailbox_cfg *mbs, size_t n,
                      int flush_ms, size_t **dups_r, size_t *n_dups_r,
                      uint64_t *n_jobs_r, enum mf_batch_state *state_r,
                      struct mf_error *err) {
    struct edit_walk w;
    mf_err rc;

    if ((rc = begin(&w, c, batch, NULL, NULL, err)))
        return rc;
    rc = mf_batch_add_mailboxes(c->redis, batch, mbs, n, on_job, &w, dups_r,
                                n_dups_r, state_r, err);
    return end(&w, rc, flush_ms, n_jobs_r, err);
}

mf_err
mf_jobs_mailboxes_op(const struct mf_jobs_ctx *c, const char *batch,
                     enum mf_batch_mb_op op, const char *const *emails,
                     size_t n, int flush_ms, mf_batch_mb_outcome_cb cb,
                     void *ud, uint64_t *n_jobs_r, enum mf_batch_state *state_r,
                     struct mf_error *err) {
    struct edit_walk w;
    mf_err rc;

    if ((rc = begin(&w, c, batch, cb, ud, err)))
        return rc;
    rc = mf_batch_mailboxes_op(c->redis, batch, op, emails, n, on_outcome, &w,
                               state_r, err);
    return end(&w, rc, flush_ms, n_jobs_r, err);
}

mf_err
mf_jobs_update_mailboxes(const struct mf_jobs_ctx *c, const char *batch,
                         const struct mf_batch_mailbox_cfg *mbs, size_t n,
                         int flush_ms, size_t **unknown_r, size_t *n_unknown_r,
                         mf_batch_mb_outcome_cb cb, void *ud,
                         uint64_t *n_jobs_r, struct mf_error *err) {
    struct edit_walk w;
    const char **emails;
    mf_err rc;

    if ((rc = mf_batch_update_mailboxes(c->redis, batch, mbs, n, unknown_r,
                                        n_unknown_r, err)))
        return rc;
    if ((rc = begin(&w, c, batch, cb, ud, err)))
        return rc;
    w.quiet_skips = true;
    emails = mf_xcalloc(n, sizeof(*emails));
    for (size_t i = 0; i < n; i++)
        emails[i] = mbs[i].email;
    /* A job already on Kafka was sealed with the old secret: its next
     * attempt, built now, replaces it (the old one's claim is stale). */
    rc = mf_batch_mailboxes_op(c->redis, batch, MF_BATCH_MB_REISSUE, emails, n,
                               on_outcome, &w, NULL, err);
    if (!rc) {
        struct mf_error e = {0};
        mf_err arc =
            mf_batch_mailboxes_op(c->redis, batch, MF_BATCH_MB_RETRY_AUTH,
                                  emails, n, on_outcome, &w, NULL, &e);
        /* A batch that cannot run now (Created, stopping, completed)
         * keeps its AUTH failures for `batch retry`; anything else is an
         * error. */
        if (arc && arc != MF_E_STATE) {
            rc = arc;
            *err = e;
        }
    }
    free(emails);
    return end(&w, rc, flush_ms, n_jobs_r, err);
}
