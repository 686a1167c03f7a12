/*
 * The coordinator service (`mailferry serve`, docs/design.md §3, §6): one loop
 * on one thread that
 *
 *   1. polls <prefix>.results and folds each progress and result message
 *      into the records (mf_batch_apply_progress / _apply_result, both
 *      idempotent per job and attempt), produces what a result asks for
 *      (the next attempt of a RETRY, or the job on the dead-letter topic),
 *      flushes, and only then commits the message's offset;
 *   2. every scan interval walks the batches: requeues the jobs of
 *      expired claims (the worker died) or dead-letters them, and begins
 *      the incremental pass of every settled batch whose interval is due.
 *
 * Outages: a message that cannot be applied because Redis (or Kafka, for
 * what it produces) is away is held, the consumer paused, and retried
 * once a second until it goes through or the service stops; its offset
 * is committed only then, so a restart applies it again (harmlessly).
 * Jobs whose delivery fails come back through the producer's delivery
 * callback (each produced job carries a struct pending as its opaque) and
 * are produced again on the next turn, unless the mailbox has moved on.
 * A result delivered again after a crash between "applied" and "produced"
 * is a duplicate, so for a RETRY we look at the mailbox: still Queued
 * with the next attempt of that job means its job was never produced,
 * and we produce it.
 *
 * Everything here is owned by struct svc on mf_service_run()'s stack.
 */
#include "service/service_int.h"

#include "mailferry/log.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_MS MF_JOBS_LOOP_FLUSH_MS
#define RETRY_WAIT_MS 1000
#define POLL_MS 100 /* default of mf_service_options.poll_ms */
#define MAX_EXPIRED 1000
#define LAG_TIMEOUT_MS 2000 /* results_current(): one broker round */

/* A job on its way to Kafka; the delivery callback frees it, or keeps it
 * on the retry list when Kafka gave up on it. */
struct pending {
    struct pending *next;
    char batch[MF_BATCH_NAME_MAX + 1];
    struct mf_batch_job job;
    bool dlq;
};

/* A batch whose scheduled pass could not be fully produced. */
struct reissue {
    struct reissue *next;
    char batch[MF_BATCH_NAME_MAX + 1];
};

struct svc {
    const struct mf_service_options *o;
    struct mf_service_metrics *m;
    const atomic_bool *stop;
    struct mf_redis *redis;
    struct mf_kafka_producer *producer;
    struct mf_kafka_consumer *consumer;
    struct mf_kafka_topics topics;
    struct mf_jobs_ctx jc;
    char sender[128];
    struct pending *retry;    /* deliveries that failed, to produce again */
    struct reissue *reissues; /* batches to reissue Queued jobs of */
    uint32_t scan_ms;
    struct mf__service_watch *watch; /* for notifications */
};

static bool
retryable(mf_err rc) {
    return mf_err_class_of(rc) == MF_ERRCLASS_RETRY;
}

static void
note(struct svc *s, mf_err rc) {
    if (rc == MF_E_REDIS || rc == MF_E_REDIS_UNAVAILABLE)
        atomic_store(&s->m->redis_ok, false);
    if (rc)
        atomic_fetch_add(&s->m->errors, 1);
}

/* Sleeps up to ms, in slices, returning early when asked to stop. */
static void
nap(struct svc *s, int ms) {
    atomic_store(&s->m->heartbeat, (int_fast64_t)time(NULL));
    while (ms > 0 && !atomic_load(s->stop)) {
        int slice = ms < 100 ? ms : 100;
        usleep((useconds_t)slice * 1000);
        ms -= slice;
    }
}

/* ------------------------------------------------------------------ */
/* Producing                                                          */
/* ------------------------------------------------------------------ */

static void
on_delivery(void *ud, void *msg_opaque, const struct mf_error *result) {
    struct svc *s = ud;
    struct pending *p = msg_opaque;

    if (!p)
        return;
    if (result->code == MF_E_OK) {
        free(p);
        return;
    }
    {
        struct mf_log_ctx lc = {p->batch, p->job.email, p->job.job_id,
                                p->job.attempt};
        mf_log_error(&lc, "job.delivery", result);
    }
    atomic_fetch_add(&s->m->errors, 1);
    p->next = s->retry;
    s->retry = p;
}

/* Produces job (to the DLQ when dlq) with a pending record as opaque. */
static mf_err
produce(struct svc *s, const char *batch, const struct mf_batch_job *job,
        bool dlq, struct mf_error *err) {
    struct pending *p = mf_xcalloc(1, sizeof(*p));
    mf_err rc;

    snprintf(p->batch, sizeof(p->batch), "%s", batch);
    p->job = *job;
    p->dlq = dlq;
    rc = mf_jobs_produce_job(&s->jc, NULL, batch,
                             dlq ? s->topics.dlq : s->topics.jobs, job, p, err);
    if (rc) {
        free(p);
        return rc;
    }
    atomic_fetch_add(&s->m->jobs_produced, dlq ? 0 : 1);
    return MF_E_OK;
}

/* Produces the failed deliveries again, if their mailbox still waits for
 * exactly that job (a DLQ copy always). */
static void
retry_deliveries(struct svc *s) {
    struct pending *list = s->retry;

    s->retry = NULL;
    while (list) {
        struct pending *p = list;
        struct mf_batch_mailbox *mb = NULL;
        struct mf_error err = {0};
        mf_err rc = MF_E_OK;
        bool want = p->dlq;

        list = p->next;
        if (!want) {
            rc = mf_batch_mailbox_get(s->redis, p->batch, p->job.email, &mb,
                                      &err);
            want = !rc && mb->state == MF_MAILBOX_QUEUED &&
                   strcmp(mb->job_id, p->job.job_id) == 0 &&
                   mb->attempt == p->job.attempt;
            mf_batch_mailbox_free(&mb);
        }
        if (!rc && want)
            rc = produce(s, p->batch, &p->job, p->dlq, &err);
        if (rc && retryable(rc)) {
            /* Keep it for the next turn. */
            note(s, rc);
            p->next = s->retry;
            s->retry = p;
            continue;
        }
        free(p);
    }
}

static mf_err
flush(struct svc *s, struct mf_error *err) {
    mf_err rc = mf_kafka_producer_flush(s->producer, FLUSH_MS, err);
    if (rc)
        note(s, rc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Results and progress                                               */
/* ------------------------------------------------------------------ */

static mf_err
apply_progress(struct svc *s, const struct mf_progress *p,
               struct mf_error *err) {
    bool applied = false;
    mf_err rc = mf_batch_apply_envelope_progress(s->redis, p, &applied, err);

    if (rc)
        return rc;
    if (applied)
        mf__service_watch_activity(s->watch, p->batch,
                                   (int64_t)mf_monotonic_ms() / 1000);
    atomic_fetch_add(
        applied ? &s->m->progress_applied : &s->m->progress_ignored, 1);
    return MF_E_OK;
}

/* A RETRY result we had applied before (a redelivery): if the mailbox
 * still waits for the next attempt, its job may never have been produced
 * (a crash in between), so produce it; duplicates are harmless. */
static mf_err
reproduce_if_lost(struct svc *s, const struct mf_result *r,
                  struct mf_error *err) {
    struct mf_batch_mailbox *mb = NULL;
    struct mf_batch_job job;
    mf_err rc = mf_batch_mailbox_get(s->redis, r->batch, r->mailbox, &mb, err);

    if (rc)
        return rc == MF_E_NOT_FOUND ? MF_E_OK : rc;
    if (mb->state == MF_MAILBOX_QUEUED && strcmp(mb->job_id, r->job_id) == 0 &&
        mb->attempt == r->attempt + 1) {
        memset(&job, 0, sizeof(job));
        snprintf(job.job_id, sizeof(job.job_id), "%s", mb->job_id);
        snprintf(job.email, sizeof(job.email), "%s", mb->cfg.email);
        job.pass = mb->pass;
        job.attempt = mb->attempt;
        job.kind = mb->kind;
        rc = produce(s, r->batch, &job, false, err);
        if (!rc)
            rc = flush(s, err);
    }
    mf_batch_mailbox_free(&mb);
    return rc;
}

/* Whether r's mailbox had finished a full pass before r (a Redis error
 * reads as yes: no notification rather than a wrong one). */
static bool
synced_before(struct svc *s, const struct mf_result *r) {
    struct mf_batch_mailbox *mb = NULL;
    struct mf_error err = {0};
    bool yes = true;

    if (mf_batch_mailbox_get(s->redis, r->batch, r->mailbox, &mb, &err) ==
        MF_E_OK)
        yes = mb->synced_once;
    mf_batch_mailbox_free(&mb);
    return yes;
}

static mf_err
apply_result(struct svc *s, const struct mf_result *r, struct mf_error *err) {
    struct mf_batch_applied out;
    struct mf_log_ctx lc = {r->batch, r->mailbox, r->job_id, r->attempt};
    bool first_pass = r->outcome == MF_OUTCOME_SYNCED && s->o->notifier &&
                      !synced_before(s, r);
    mf_err rc = mf_batch_apply_envelope_result(s->redis, r, &out, err);

    if (rc)
        return rc;
    if (out.applied) {
        int64_t now = (int64_t)mf_monotonic_ms() / 1000;
        mf__service_watch_activity(s->watch, r->batch, now);
        if (r->outcome == MF_OUTCOME_FAILED || out.dead)
            mf__service_notify_mailbox(s->o->notifier, "mailbox.failed", r);
        else if (first_pass)
            mf__service_notify_mailbox(s->o->notifier, "mailbox.synced", r);
        mf__service_watch_state(s->watch, s->o->notifier, r->batch,
                                out.batch_state, now);
    }
    if (!out.applied) {
        atomic_fetch_add(&s->m->results_ignored, 1);
        /* A handed-back job's STOPPED record is always stale; any other
         * ignored result is worth a line (a lost result is found by
         * its claim, requeue_expired()). */
        mf_log(r->outcome == MF_OUTCOME_STOPPED ? MF_LOG_DEBUG : MF_LOG_INFO,
               &lc, "result.ignored", "duplicate or stale result (%s by %s)",
               mf_outcome_name(r->outcome), r->worker);
        if (r->outcome == MF_OUTCOME_RETRY)
            return reproduce_if_lost(s, r, err);
        return MF_E_OK;
    }
    atomic_fetch_add(&s->m->results_applied, 1);
    atomic_fetch_add(&s->m->messages_copied, r->counters.messages_copied);
    atomic_fetch_add(&s->m->bytes_copied, r->counters.bytes_copied);
    mf_log(r->outcome == MF_OUTCOME_FAILED ? MF_LOG_WARN : MF_LOG_INFO, &lc,
           "result.applied", "%s by %s: %llu messages copied%s%s%s; batch %s",
           mf_outcome_name(r->outcome), r->worker,
           (unsigned long long)r->counters.messages_copied,
           r->error_code ? " (" : "", r->error_code ? r->error_name : "",
           r->error_code ? ")" : "", mf_batch_state_name(out.batch_state));
    if (out.requeue || out.dead) {
        lc.attempt = out.job.attempt;
        if (out.requeue) {
            atomic_fetch_add(&s->m->jobs_requeued, 1);
            mf_log(MF_LOG_INFO, &lc, "job.requeue", "attempt %u after %s",
                   out.job.attempt, mf_outcome_name(r->outcome));
        } else {
            atomic_fetch_add(&s->m->jobs_dead_lettered, 1);
            mf_log(MF_LOG_WARN, &lc, "job.dead",
                   "attempts exhausted: mailbox Failed, job to %s",
                   s->topics.dlq);
        }
        if ((rc = produce(s, r->batch, &out.job, out.dead, err)))
            return rc;
        return flush(s, err);
    }
    return MF_E_OK;
}

/* Applies one message. Returns a retryable error when it should be
 * tried again (the offset is then not committed); anything else that
 * goes wrong is logged and the message skipped. */
static mf_err
handle(struct svc *s, const struct mf_kafka_message *m) {
    struct mf_envelope env;
    struct mf_error err = {0};
    mf_err rc;

    if ((rc = mf_envelope_unpack(m->value, m->value_len, 0, &env, &err))) {
        mf_log(MF_LOG_WARN, NULL, "result.invalid", "%s [%d] offset %lld: %s",
               m->topic, (int)m->partition, (long long)m->offset, err.detail);
        atomic_fetch_add(&s->m->messages_invalid, 1);
        return MF_E_OK;
    }
    switch (env.body) {
    case MF_ENVELOPE_PROGRESS:
        rc = apply_progress(s, &env.progress, &err);
        break;
    case MF_ENVELOPE_RESULT:
        rc = apply_result(s, &env.result, &err);
        break;
    case MF_ENVELOPE_JOB:
    case MF_ENVELOPE_NONE:
    default:
        atomic_fetch_add(&s->m->messages_invalid, 1);
        rc = MF_E_OK;
        break;
    }
    if (rc) {
        struct mf_log_ctx lc = {0};
        if (env.body == MF_ENVELOPE_PROGRESS)
            lc = (struct mf_log_ctx){env.progress.batch, env.progress.mailbox,
                                     env.progress.job_id, env.progress.attempt};
        else
            lc = (struct mf_log_ctx){env.result.batch, env.result.mailbox,
                                     env.result.job_id, env.result.attempt};
        note(s, rc);
        if (retryable(rc)) {
            mf_log_error(&lc, "result.retry", &err);
        } else {
            /* A batch removed meanwhile, a mailbox not in it: nothing
             * will ever apply this message. */
            mf_log_error(&lc, "result.skipped", &err);
            rc = MF_E_OK;
        }
    } else {
        atomic_store(&s->m->redis_ok, true);
    }
    mf_envelope_clear(&env);
    return retryable(rc) ? rc : MF_E_OK;
}

/* Handles m until it goes through (or we stop), then commits it. The
 * consumer is paused meanwhile so that it stays in the group. */
static void
consume_one(struct svc *s, struct mf_kafka_message *m) {
    struct mf_error err = {0};
    bool paused = false;

    while (handle(s, m) != MF_E_OK) {
        if (!paused &&
            mf_kafka_consumer_pause(s->consumer, true, &err) == MF_E_OK)
            paused = true;
        {
            struct mf_kafka_message *other = NULL;
            /* Serves rebalances and keeps the membership; a paused
             * member gets no messages. */
            if (mf_kafka_consumer_poll(s->consumer, 0, &other, &err) ==
                    MF_E_OK &&
                other)
                mf_kafka_message_free(&other);
        }
        nap(s, RETRY_WAIT_MS);
        if (atomic_load(s->stop))
            goto out;
    }
    if (mf_kafka_consumer_commit(s->consumer, m, &err) != MF_E_OK) {
        /* The partition moved to another member, which will apply the
         * message again: harmless. */
        mf_log_error(NULL, "result.commit", &err);
        note(s, err.code);
    }
out:
    if (paused && mf_kafka_consumer_pause(s->consumer, false, &err) != MF_E_OK)
        mf_log_error(NULL, "consumer.resume", &err);
}

/* ------------------------------------------------------------------ */
/* Scans: expired claims and scheduled passes                         */
/* ------------------------------------------------------------------ */

struct names {
    char (*v)[MF_BATCH_NAME_MAX + 1];
    enum mf_batch_state *state;
    size_t n;
    uint64_t mailboxes[MF_MAILBOX_STATE_COUNT]; /* over every batch */
};

static mf_err
on_batch(void *ud, const struct mf_batch_summary *b) {
    struct names *l = ud;

    l->v = mf_xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    l->state = mf_xreallocarray(l->state, l->n + 1, sizeof(*l->state));
    snprintf(l->v[l->n], sizeof(l->v[0]), "%s", b->name);
    l->state[l->n++] = b->state;
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        l->mailboxes[i] += b->counts[i];
    return MF_E_OK;
}

struct expired_list {
    char (*email)[MF_BATCH_EMAIL_MAX + 1];
    size_t n;
    bool result_due; /* one is a finished job's claim waiting for its result */
};

static mf_err
on_expired(void *ud, const struct mf_batch_expired *e) {
    struct expired_list *l = ud;

    if (l->n == MAX_EXPIRED)
        return MF_E_OK;
    l->email = mf_xreallocarray(l->email, l->n + 1, sizeof(*l->email));
    snprintf(l->email[l->n++], sizeof(l->email[0]), "%s", e->email);
    l->result_due |= e->result_due;
    return MF_E_OK;
}

/* True when this service has read every result published so far on its
 * partitions of the results topic (the brokers asked; a message being
 * held for an outage is then read but not applied, and its requeue fails
 * on the same outage). A finished job whose claim outlived its result
 * wait lost its result only then: after an outage of the service's own,
 * the results that piled up are applied first. With several services in
 * the group, each sees its own partitions: the result wait
 * (MF_BATCH_RESULT_WAIT_TTLS claim TTLs) covers the others. */
static bool
results_current(struct svc *s) {
    struct mf_error err = {0};
    uint64_t lag = 0;

    if (mf_kafka_consumer_assigned(s->consumer) == 0)
        return false;
    if (mf_kafka_consumer_lag(s->consumer, LAG_TIMEOUT_MS, &lag, &err)) {
        mf_log(MF_LOG_DEBUG, NULL, "consumer.lag", "%s", err.detail);
        return false;
    }
    return lag == 0;
}

static void
log_requeued(struct svc *s, const char *batch, const char *email,
             const struct mf_batch_requeued *q) {
    struct mf_log_ctx lc = {batch, email, q->job.job_id, q->job.attempt};
    const char *what = q->result_lost ? "a finished job's result never arrived"
                                      : "worker lost";

    atomic_fetch_add(&s->m->claims_expired, 1);
    if (q->result_lost)
        atomic_fetch_add(&s->m->results_lost, 1);
    if (q->job.attempt == 0)
        mf_log(MF_LOG_INFO, &lc, "claim.expired",
               "%s while the batch stops: mailbox Stopped", what);
    else if (q->dead) {
        atomic_fetch_add(&s->m->jobs_dead_lettered, 1);
        mf_log(MF_LOG_WARN, &lc, "job.dead",
               "%s and attempts exhausted: mailbox Failed, job to %s", what,
               s->topics.dlq);
    } else {
        atomic_fetch_add(&s->m->jobs_requeued, 1);
        mf_log(q->result_lost ? MF_LOG_WARN : MF_LOG_INFO, &lc, "claim.expired",
               "%s: attempt %u queued", what, q->job.attempt);
    }
}

static mf_err
requeue_expired(struct svc *s, const char *batch, struct mf_error *err) {
    struct expired_list l = {0};
    bool produced = false, current = false;
    mf_err rc;

    if ((rc = mf_batch_expired_claims(s->redis, batch, on_expired, &l, err)))
        goto out;
    if (l.result_due)
        current = results_current(s);
    for (size_t i = 0; i < l.n && !rc; i++) {
        struct mf_batch_requeued q;

        rc = mf_batch_requeue(s->redis, batch, l.email[i], current, &q, err);
        if (rc == MF_E_CLAIMED || rc == MF_E_STATE || rc == MF_E_NOT_FOUND) {
            /* Renewed meanwhile, another service got there first, or a
             * result that may still come. */
            rc = MF_E_OK;
            continue;
        }
        if (rc)
            break;
        log_requeued(s, batch, l.email[i], &q);
        if (q.job.attempt == 0)
            continue;
        rc = produce(s, batch, &q.job, q.dead, err);
        produced |= rc == MF_E_OK;
    }
out:
    free(l.email);
    if (produced) {
        struct mf_error ferr = {0};
        /* Failed deliveries are already on the retry list. */
        if (flush(s, &ferr))
            mf_log_error(NULL, "job.flush", &ferr);
    }
    return rc;
}

/* Redis' clock, this host's when Redis does not answer. */
static int64_t
redis_now(struct svc *s) {
    struct mf_error err = {0};
    int64_t now;

    return mf_redis_time(s->redis, &now, &err) == MF_E_OK ? now
                                                          : (int64_t)time(NULL);
}

static mf_err
schedule(struct svc *s, const char *batch, int64_t now, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    int64_t last;
    uint64_t n = 0, every;
    enum mf_batch_state st;
    struct mf_log_ctx lc = {batch, NULL, NULL, 0};
    mf_err rc;

    if ((rc = mf_batch_get(s->redis, batch, &cfg, err)))
        return rc == MF_E_NOT_FOUND ? MF_E_OK : rc;
    last = cfg->last_pass_finished ? cfg->last_pass_finished : cfg->finished;
    if (!cfg->incremental_every || !last ||
        now - last < (int64_t)cfg->incremental_every) {
        mf_batch_config_free(&cfg);
        return MF_E_OK;
    }
    every = cfg->incremental_every;
    mf_batch_config_free(&cfg);
    rc = mf_jobs_begin_pass(&s->jc, batch, MF_BATCH_OP_SYNC, FLUSH_MS, &n, &st,
                            err);
    if (rc == MF_E_STATE) /* someone began a pass meanwhile */
        return MF_E_OK;
    if (rc) {
        if (n || rc == MF_E_KAFKA || rc == MF_E_KAFKA_UNAVAILABLE) {
            struct reissue *ri = mf_xcalloc(1, sizeof(*ri));
            snprintf(ri->batch, sizeof(ri->batch), "%s", batch);
            ri->next = s->reissues;
            s->reissues = ri;
        }
        return rc;
    }
    atomic_fetch_add(&s->m->passes_scheduled, 1);
    atomic_fetch_add(&s->m->jobs_produced, n);
    mf_log(MF_LOG_INFO, &lc, "pass.scheduled",
           "incremental pass due (every %llus): %llu jobs, batch %s",
           (unsigned long long)every, (unsigned long long)n,
           mf_batch_state_name(st));
    return MF_E_OK;
}

static void
reissue_pending(struct svc *s) {
    struct reissue *list = s->reissues;

    s->reissues = NULL;
    while (list) {
        struct reissue *ri = list;
        struct mf_error err = {0};
        uint64_t n = 0;
        mf_err rc = mf_jobs_reissue(&s->jc, ri->batch, FLUSH_MS, &n, &err);

        list = ri->next;
        if (rc && retryable(rc)) {
            note(s, rc);
            ri->next = s->reissues;
            s->reissues = ri;
            continue;
        }
        if (rc) {
            struct mf_log_ctx lc = {ri->batch, NULL, NULL, 0};
            mf_log_error(&lc, "pass.reissue", &err);
        }
        atomic_fetch_add(&s->m->jobs_produced, n);
        free(ri);
    }
}

static void
scan(struct svc *s) {
    struct names l = {0};
    struct mf_error err = {0};
    int64_t now;
    mf_err rc;

    retry_deliveries(s);
    reissue_pending(s);
    if ((rc = mf_batch_list(s->redis, on_batch, &l, &err))) {
        note(s, rc);
        mf_log_error(NULL, "scan.list", &err);
        goto out;
    }
    atomic_store(&s->m->redis_ok, true);
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        atomic_store(&s->m->mailboxes[i], l.mailboxes[i]);
    now = redis_now(s);
    for (size_t i = 0; i < l.n; i++)
        mf__service_watch_state(s->watch, s->o->notifier, l.v[i], l.state[i],
                                (int64_t)mf_monotonic_ms() / 1000);
    mf__service_watch_stuck(s->watch, s->o->notifier,
                            (int64_t)mf_monotonic_ms() / 1000,
                            s->o->stuck_after_s ? s->o->stuck_after_s : 3600);
    for (size_t i = 0; i < l.n && !atomic_load(s->stop); i++) {
        struct mf_log_ctx lc = {l.v[i], NULL, NULL, 0};
        if (s->o->only_batch && strcmp(l.v[i], s->o->only_batch) != 0)
            continue;
        if (mf_batch_state_running(l.state[i]))
            rc = requeue_expired(s, l.v[i], &err);
        else if (l.state[i] == MF_BATCH_SYNCED ||
                 l.state[i] == MF_BATCH_SYNCED_WITH_ERRORS)
            rc = schedule(s, l.v[i], now, &err);
        else
            rc = MF_E_OK;
        if (rc) {
            note(s, rc);
            mf_log_error(&lc, "scan.batch", &err);
        }
    }
    atomic_store(&s->m->last_scan, (int_fast64_t)time(NULL));
out:
    free(l.v);
    free(l.state);
}

/* ------------------------------------------------------------------ */
/* The loop                                                           */
/* ------------------------------------------------------------------ */

static void
on_rebalance(void *ud, enum mf_kafka_rebalance ev,
             const struct mf_kafka_partition *parts, size_t n) {
    struct svc *s = ud;

    (void)parts;
    mf_log(MF_LOG_INFO, NULL, "consumer.rebalance", "%s %zu partition(s)",
           ev == MF_KAFKA_ASSIGNED  ? "assigned"
           : ev == MF_KAFKA_REVOKED ? "revoked"
                                    : "lost",
           n);
    atomic_store(&s->m->kafka_ok, ev == MF_KAFKA_ASSIGNED && n > 0);
}

static void
svc_free(struct svc *s) {
    struct mf_error err = {0};

    if (s->consumer && mf_kafka_consumer_close(s->consumer, &err) != MF_E_OK)
        mf_log_error(NULL, "consumer.close", &err);
    mf_kafka_consumer_free(&s->consumer);
    if (s->producer) {
        if (mf_kafka_producer_flush(s->producer, 10000, &err) != MF_E_OK)
            mf_log_error(NULL, "producer.flush", &err);
        mf_kafka_producer_free(&s->producer);
    }
    while (s->retry) {
        struct pending *p = s->retry;
        struct mf_log_ctx lc = {p->batch, p->job.email, p->job.job_id,
                                p->job.attempt};
        mf_log(MF_LOG_WARN, &lc, "job.undelivered",
               "stopping with this job undelivered; `mailferry batch start "
               "%s --reissue` produces it again",
               p->batch);
        s->retry = p->next;
        free(p);
    }
    while (s->reissues) {
        struct reissue *ri = s->reissues;
        s->reissues = ri->next;
        free(ri);
    }
    mf_redis_free(&s->redis);
    mf__service_watch_free(&s->watch);
}

mf_err
mf_service_run(const struct mf_service_options *o, const atomic_bool *stop,
               struct mf_error *err) {
    struct mf_service_metrics local;
    struct svc s;
    const char *topics[1];
    struct mf_kafka_consumer_params cp = {0};
    char host[64] = "host";
    int64_t next_scan = 0;
    int poll_ms = o->poll_ms ? (int)o->poll_ms : POLL_MS;
    mf_err rc;

    memset(&s, 0, sizeof(s));
    s.o = o;
    s.stop = stop;
    s.m = o->metrics;
    if (!s.m) {
        mf_service_metrics_init(&local);
        s.m = &local;
    }
    atomic_store(&s.m->started, (int_fast64_t)time(NULL));
    s.scan_ms =
        o->scan_interval_ms ? o->scan_interval_ms : MF_SERVICE_DEFAULT_SCAN_MS;
    s.watch = mf__service_watch_new();
    gethostname(host, sizeof(host) - 1);
    snprintf(s.sender, sizeof(s.sender), "mailferry-coordinator %s", host);

    if ((rc = mf_kafka_topics_from_config(o->config, &s.topics, err)))
        goto out;
    if ((rc = mf_redis_connect(o->redis_url, 0, &s.redis, err)))
        goto out;
    atomic_store(&s.m->redis_ok, true);
    if ((rc = mf_kafka_producer_new(
             o->config, o->client_id ? o->client_id : "mailferry-coordinator",
             on_delivery, &s, &s.producer, err)))
        goto out;
    topics[0] = s.topics.results;
    cp.client_id = o->client_id ? o->client_id : "mailferry-coordinator";
    cp.group_id = o->group_id ? o->group_id : MF_JOBS_GROUP_DEFAULT;
    cp.topics = topics;
    cp.ntopics = 1;
    cp.on_rebalance = on_rebalance;
    cp.ud = &s;
    if ((rc = mf_kafka_consumer_new(o->config, &cp, &s.consumer, err)))
        goto out;
    s.jc = (struct mf_jobs_ctx){s.redis, s.producer, &s.topics, o->keyring,
                                s.sender};
    mf_log(MF_LOG_INFO, NULL, "service.start",
           "consuming %s as group %s; jobs to %s, dead letters to %s",
           s.topics.results, cp.group_id, s.topics.jobs, s.topics.dlq);

    while (!atomic_load(stop)) {
        struct mf_kafka_message *m = NULL;
        struct mf_error perr = {0};

        atomic_store(&s.m->heartbeat, (int_fast64_t)time(NULL));
        if ((int64_t)mf_monotonic_ms() >= next_scan) {
            scan(&s);
            next_scan = (int64_t)mf_monotonic_ms() + s.scan_ms;
        }
        rc = mf_kafka_consumer_poll(s.consumer, poll_ms, &m, &perr);
        mf_kafka_producer_poll(s.producer, 0);
        if (rc) {
            /* Brokers away or the topic unknown yet: librdkafka keeps
             * trying; do not spin. */
            atomic_store(&s.m->kafka_ok, false);
            mf_log(MF_LOG_DEBUG, NULL, "consumer.error", "%s", perr.detail);
            nap(&s, poll_ms);
            continue;
        }
        if (m) {
            atomic_store(&s.m->kafka_ok, true);
            consume_one(&s, m);
            mf_kafka_message_free(&m);
        }
    }
    mf_log(MF_LOG_INFO, NULL, "service.stop", "stopping");
    rc = MF_E_OK;
out:
    svc_free(&s);
    return rc;
}
