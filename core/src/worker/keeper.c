/*
 * The keeper of a running job: a thread beside the engine that
 *
 *   - renews the job's claim every claim_ttl / 3 (mf_batch_renew); when
 *     the claim is lost, or cannot be renewed before it would expire
 *     (Redis away), it stops the engine and the job publishes nothing:
 *     without a claim another worker may already run the mailbox;
 *   - stops the engine when the batch or this mailbox is being stopped
 *     (the renewal says so, and every progress tick asks with
 *     mf_batch_stop_requested() and mf_batch_mailbox_stop_requested());
 *   - publishes a progress envelope every progress_interval, with an
 *     increasing sequence number (the counters, and the connections the
 *     job holds or waits for under the caps);
 *   - adds what the job copied to the worker's counters every second, so
 *     that /metrics shows a job's copying while it runs.
 *
 * It has its own Redis connection (one per thread, redis.h) and sleeps on
 * a condition variable (CLOCK_MONOTONIC) so the job can end it at once.
 */
#include "worker/worker_int.h"

#include "mailferry/batch_edit.h"
#include "mailferry/util.h"

#include <string.h>
#include <time.h>

void
mf__worker_job_stop(struct mf__worker_job *j, enum mf__worker_stop why) {
    int expected = MF__STOP_NONE;

    atomic_compare_exchange_strong(&j->stop_reason, &expected, (int)why);
    atomic_store(&j->stop, true);
}

void
mf__worker_progress_counters(struct mf__worker_job *j, struct mf_counters *c) {
    memset(c, 0, sizeof(*c));
    c->folders_total = atomic_load(&j->progress.folders_total);
    c->folders_done = atomic_load(&j->progress.folders_done);
    c->messages_source = atomic_load(&j->progress.messages_total);
    c->bytes_source = atomic_load(&j->progress.bytes_total);
    /* "done" counts copied, present, skipped and failed together; the
     * result folding adds those fields up, so done goes into one. */
    c->messages_copied = atomic_load(&j->progress.messages_done);
    c->bytes_copied = atomic_load(&j->progress.bytes_done);
}

_Static_assert(MF_ENVELOPE_WAIT_MAX == MF_MIGRATE_WAIT_COUNT,
               "Progress.waiting_for carries enum mf_migrate_wait");
_Static_assert(MF_ENVELOPE_CAP_MAX == MF_CAPS_CAP_MAILBOXES + 1,
               "Progress.waiting_cap carries enum mf_caps_cap");

static void
publish_progress(struct mf__worker_job *j) {
    struct mf__worker *w = j->w;
    struct mf_envelope env;
    struct mf_migrate_conns c;
    struct mf_error err = {0};

    mf_envelope_init(&env, MF_ENVELOPE_PROGRESS, w->sender);
    env.progress.batch = mf_xstrdup(j->env.job.batch);
    env.progress.mailbox = mf_xstrdup(j->env.job.mailbox);
    env.progress.job_id = mf_xstrdup(j->env.job.job_id);
    env.progress.attempt = j->env.job.attempt;
    env.progress.worker = mf_xstrdup(w->id);
    env.progress.sequence = ++j->progress_seq;
    mf__worker_progress_counters(j, &env.progress.counters);
    /* Held and waited for under the caps: a job blocked on a full cap
     * says so here until the slot is granted. */
    mf_migrate_progress_conns(&j->progress, &c);
    env.progress.source_connections = c.source_held;
    env.progress.target_connections = c.target_held;
    env.progress.waiting_for = (uint32_t)c.waiting;
    env.progress.waiting_cap = (uint32_t)c.cap;
    env.progress.waiting_ms = c.waiting_ms;
    if (mf__worker_publish(w, w->topics.results, j->env.job.batch,
                           j->env.job.mailbox, &env, 0, &err) != MF_E_OK) {
        mf__worker_count_error(w, err.code);
        mf_log(MF_LOG_DEBUG, &j->log, "job.progress", "not published: %s",
               err.detail);
    }
    mf_envelope_clear(&env);
}

bool
mf__worker_job_redis(struct mf__worker_job *j, struct mf_redis **r,
                     bool quiet) {
    struct mf_error err = {0};

    if (*r)
        return true;
    if (mf_redis_connect(j->w->o.redis_url, 0, r, &err) == MF_E_OK)
        return true;
    *r = NULL;
    if (quiet)
        mf__worker_count_error(j->w, err.code);
    else
        mf_log_error(&j->log, "job.redis", &err);
    return false;
}

static void
renew(struct mf__worker_job *j, struct mf_redis **r, uint64_t now,
      uint64_t *next_r, uint64_t *valid_until) {
    struct mf__worker *w = j->w;
    struct mf_error err = {0};
    long ttl = w->o.claim_ttl_ms;
    mf_err rc;

    if (!mf__worker_job_redis(j, r, true)) {
        rc = MF_E_REDIS_UNAVAILABLE;
        mf_error_set(&err, rc, "cannot connect to Redis");
    } else {
        rc = mf_batch_renew(*r, &j->lease, ttl, &err);
    }
    if (rc == MF_E_OK) {
        *valid_until = now + (uint64_t)ttl;
        mf_fence_extend(&j->fence, *valid_until);
        *next_r = now + (uint64_t)ttl / 3;
        if (j->lease.stop_requested &&
            atomic_load(&j->stop_reason) == MF__STOP_NONE) {
            mf_log(MF_LOG_INFO, &j->log, "job.stopping",
                   "the batch is being stopped");
            mf__worker_job_stop(j, MF__STOP_BATCH);
        }
        return;
    }
    mf__worker_count_error(w, rc);
    if (rc == MF_E_LEASE_LOST) {
        mf_log_error(&j->log, "job.claim_lost", &err);
        mf__worker_job_stop(j, MF__STOP_LOST);
        mf_fence_break(&j->fence);
        *next_r = UINT64_MAX;
        return;
    }
    /* Redis away: try again soon; give up once the claim may have
     * expired, since another worker may then hold the mailbox. */
    *next_r = now + 1000;
    if (*next_r + 500 >= *valid_until) {
        mf_log_error(&j->log, "job.claim_unrenewable", &err);
        mf__worker_job_stop(j, MF__STOP_LOST);
        mf_fence_break(&j->fence);
        *next_r = UINT64_MAX;
    }
}

static void
check_stop(struct mf__worker_job *j, struct mf_redis **r) {
    struct mf_error err = {0};
    bool stop = false;

    if (atomic_load(&j->stop_reason) != MF__STOP_NONE ||
        !mf__worker_job_redis(j, r, true))
        return;
    if (mf_batch_stop_requested(*r, j->env.job.batch, &stop, &err) != MF_E_OK)
        return; /* the next renewal says it too */
    if (stop) {
        mf_log(MF_LOG_INFO, &j->log, "job.stopping",
               "the batch is being stopped");
        mf__worker_job_stop(j, MF__STOP_BATCH);
        return;
    }
    /* `batch stop NAME --mailbox` (batch_edit.h): this mailbox alone. */
    if (mf_batch_mailbox_stop_requested(*r, j->env.job.batch,
                                        j->env.job.mailbox, j->env.job.job_id,
                                        &stop, &err) == MF_E_OK &&
        stop) {
        mf_log(MF_LOG_INFO, &j->log, "job.stopping",
               "the mailbox is being stopped");
        mf__worker_job_stop(j, MF__STOP_BATCH);
    }
}

/* The claim expired without a renewal (the process was stopped, or
 * Redis was away): the fence breaks, which aborts the engine's
 * connections. Checked on every wake-up, so within a second. */
static void
fence_watch(struct mf__worker_job *j) {
    if (mf_fence_holds(&j->fence) ||
        atomic_load(&j->stop_reason) == MF__STOP_LOST)
        return;
    mf_log(MF_LOG_WARN, &j->log, "job.claim_expired",
           "the claim expired before it was renewed: connections aborted");
    mf__worker_job_stop(j, MF__STOP_LOST);
}

static void *
keeper_main(void *arg) {
    struct mf__worker_job *j = arg;
    struct mf__worker *w = j->w;
    struct mf_redis *r = NULL;
    uint64_t now = mf__worker_now_ms();
    uint64_t next_renew = now + (uint64_t)w->o.claim_ttl_ms / 3;
    uint64_t next_progress = now + (uint64_t)w->o.progress_interval_ms;
    uint64_t valid_until = now + (uint64_t)w->o.claim_ttl_ms;

    pthread_mutex_lock(&j->mu);
    while (!j->keeper_quit) {
        uint64_t wake = next_renew < next_progress ? next_renew : next_progress;

        now = mf__worker_now_ms();
        fence_watch(j);
        mf__worker_count_progress(j, NULL, NULL);
        if (now < wake) {
            uint64_t ms = wake - now;
            if (ms > 1000)
                ms = 1000;
            struct timespec ts = mf_deadline_after_ms(CLOCK_MONOTONIC, ms);
            pthread_cond_timedwait(&j->cv, &j->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&j->mu);
        if (now >= next_renew) {
            if (atomic_load(&j->abandoned))
                next_renew = UINT64_MAX; /* let the claim expire */
            else
                renew(j, &r, now, &next_renew, &valid_until);
        }
        if (now >= next_progress) {
            /* A verify job has no copy progress to show. */
            if (j->env.job.kind != MF_JOB_KIND_VERIFY)
                publish_progress(j);
            check_stop(j, &r);
            next_progress = now + (uint64_t)w->o.progress_interval_ms;
        }
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    mf_redis_free(&r);
    return NULL;
}

bool
mf__worker_keeper_start(struct mf__worker_job *j) {
    return mf__runner_start(j->keeper, keeper_main, j);
}

void
mf__worker_keeper_stop(struct mf__worker_job *j) {
    pthread_mutex_lock(&j->mu);
    j->keeper_quit = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    mf__runner_join(j->keeper);
}
