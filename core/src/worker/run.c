/*
 * mf_worker_run(): the worker's main loop (see mailferry/worker.h).
 *
 * One thread, the caller's, owns the Kafka consumer and a Redis
 * connection for claims. Each turn it reaps finished slot threads,
 * starts waiting jobs on free slots (retrying one that waits for Redis),
 * pauses the consumer once PREFETCH jobs wait (or one waits for Redis)
 * and resumes it when fewer do,
 * polls the consumer for at most poll_ms and handles what came: unpack,
 * batch configuration, claim, commit, start a slot thread. Polling never
 * stops, so the member stays in the group however long jobs take, and a
 * slot thread that finishes wakes the poll (mf_kafka_consumer_wake) so
 * that its slot takes the next job at once rather than at the next turn.
 * About once a second the loop measures the consumer lag (the jobs that
 * wait in this member's partitions, asked of the brokers while the
 * consumer is paused since nothing is fetched then) for /metrics.
 *
 * A message that cannot be handled for a transient reason (Redis away,
 * the dead-letter topic unreachable) is kept, uncommitted, in a small
 * queue and tried again every RETRY_MS; if its partition is revoked
 * meanwhile it is dropped, since the partition's new owner receives it.
 */
#include "worker/worker_int.h"

#include "mailferry/caps.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 200
#define RETRY_MS 1000
#define PING_MS 5000
#define WARN_EVERY_MS 30000
#define DLQ_WAIT_MS 10000L
#define PENDING_MAX 256
#define FLUSH_MIN_MS 2000
#define KAFKA_QUIET_MS 10000
#define LAG_MS 1000
#define LAG_ASK_MS 500 /* per request to the brokers */

/* A received message and the token of its claim: made once, kept while
 * the message waits, so a claim retried after a lost Redis reply is
 * recognised as ours (mf_batch_claim()). A redelivery of the message is
 * a new delivery with a new token: it never takes over a running job. */
struct delivery {
    struct mf_kafka_message *m; /* owned */
    char token[MF_BATCH_TOKEN_LEN + 1];
};

struct loop {
    struct mf__worker *w;
    struct delivery pending[PENDING_MAX];
    size_t npending;
    uint64_t retry_at;
    bool paused;
    uint64_t next_ping, warned_kafka, warned_redis;
    uint64_t kafka_error_at; /* last consumer error, monotonic ms */
    uint64_t next_lag;
    struct mf_error fatal; /* the consumer's fatal error: the loop ends */
};

enum handled { HANDLED, TRY_LATER };

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

static mf_err
setup(struct mf__worker *w, const struct mf_worker_options *o,
      struct mf_error *err) {
    w->o = *o;
    if (!o->config || !o->redis_url || !o->keyring)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "the worker needs a Kafka configuration, a Redis "
                            "URL and a master key ring");
    if (!w->o.slots)
        w->o.slots = MF_WORKER_DEFAULT_SLOTS;
    if (w->o.slots > MF_WORKER_MAX_SLOTS)
        return mf_error_set(err, MF_E_CONFIG, "at most %d slots",
                            MF_WORKER_MAX_SLOTS);
    if (!w->o.group_id || !*w->o.group_id)
        w->o.group_id = MF_WORKER_DEFAULT_GROUP;
    if (w->o.claim_ttl_ms <= 0)
        w->o.claim_ttl_ms = MF_WORKER_DEFAULT_CLAIM_TTL_MS;
    if (w->o.claim_ttl_ms < 1500)
        return mf_error_set(err, MF_E_CONFIG,
                            "the claim TTL must be at least 1.5 s");
    if (w->o.progress_interval_ms <= 0)
        w->o.progress_interval_ms = MF_WORKER_DEFAULT_PROGRESS_MS;
    if (w->o.shutdown_timeout_ms <= 0)
        w->o.shutdown_timeout_ms = MF_WORKER_DEFAULT_SHUTDOWN_MS;
    if (w->o.lease_ttl_ms <= 0)
        w->o.lease_ttl_ms = MF_CAPS_DEFAULT_TTL_MS;
    if (w->o.batch_cache_ms <= 0)
        w->o.batch_cache_ms = 30000;
    if (w->o.poll_ms <= 0)
        w->o.poll_ms = POLL_MS;
    if (o->worker_id && *o->worker_id) {
        if (strlen(o->worker_id) >= sizeof(w->id))
            return mf_error_set(err, MF_E_CONFIG, "worker id too long");
        snprintf(w->id, sizeof(w->id), "%s", o->worker_id);
    } else {
        char host[128] = "host";
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "host");
        host[sizeof(host) - 1] = '\0';
        snprintf(w->id, sizeof(w->id), "%s/%ld", host, (long)getpid());
    }
    snprintf(w->sender, sizeof(w->sender), "mailferry-worker/%s %s",
             MF_WORKER_VERSION, w->id);
    if (o->topic_prefix)
        return mf_kafka_topics_init(&w->topics, o->topic_prefix, err);
    return mf_kafka_topics_from_config(o->config, &w->topics, err);
}

/* ------------------------------------------------------------------ */
/* Waking the loop                                                    */
/* ------------------------------------------------------------------ */

void
mf__worker_wake_set(struct mf__worker *w, struct mf_kafka_consumer *c) {
    pthread_mutex_lock(&w->wake_mu);
    w->wake_consumer = c;
    pthread_mutex_unlock(&w->wake_mu);
}

void
mf__worker_wake(struct mf__worker *w) {
    pthread_mutex_lock(&w->wake_mu);
    if (w->wake_consumer)
        mf_kafka_consumer_wake(w->wake_consumer);
    pthread_mutex_unlock(&w->wake_mu);
}

/* ------------------------------------------------------------------ */
/* Kafka callbacks                                                    */
/* ------------------------------------------------------------------ */

static void
drop_pending(struct loop *l, size_t i) {
    mf_kafka_message_free(&l->pending[i].m);
    memmove(&l->pending[i], &l->pending[i + 1],
            (l->npending - i - 1) * sizeof(l->pending[0]));
    l->npending--;
}

static void
on_rebalance(void *ud, enum mf_kafka_rebalance ev,
             const struct mf_kafka_partition *parts, size_t n) {
    struct loop *l = ud;

    mf_log(MF_LOG_INFO, NULL, "worker.rebalance", "%s %zu partition(s)",
           ev == MF_KAFKA_ASSIGNED  ? "assigned"
           : ev == MF_KAFKA_REVOKED ? "revoked"
                                    : "lost",
           n);
    /* At once, not at the next turn: the embedded migrate waits for the
     * first partitions before it queues its jobs. */
    atomic_store(&l->w->stats->partitions,
                 (uint32_t)mf_kafka_consumer_assigned(l->w->consumer));
    if (ev == MF_KAFKA_ASSIGNED)
        return;
    /* A waiting message of a partition that goes away is the new owner's
     * to handle now. */
    for (size_t i = 0; i < l->npending;) {
        bool gone = false;
        for (size_t k = 0; k < n && !gone; k++)
            gone = parts[k].partition == l->pending[i].m->partition &&
                   strcmp(parts[k].topic, l->pending[i].m->topic) == 0;
        if (gone)
            drop_pending(l, i);
        else
            i++;
    }
}

/* ------------------------------------------------------------------ */
/* Handling one message                                               */
/* ------------------------------------------------------------------ */

static void
commit(struct loop *l, const struct mf_kafka_message *m) {
    struct mf_error err = {0};

    if (mf_kafka_consumer_commit(l->w->consumer, m, &err) != MF_E_OK) {
        /* The partition moved: its new owner gets the message again and
         * its claim fails, so nothing runs twice. */
        mf__worker_count_error(l->w, err.code);
        mf_log(MF_LOG_WARN, NULL, "worker.commit",
               "%s [%" PRId32 "] @%" PRId64 ": %s", m->topic, m->partition,
               m->offset, err.detail);
    }
}

static enum handled
dead_letter(struct loop *l, const struct mf_kafka_message *m,
            const struct mf_error *why) {
    struct mf__worker *w = l->w;
    struct mf_error err = {0};
    char *key = m->key ? mf_xstrndup((const char *)m->key, m->key_len) : NULL;
    mf_err rc;

    mf_log(MF_LOG_ERROR, NULL, "job.invalid",
           "%s [%" PRId32 "] @%" PRId64 ": %s (%s); to %s", m->topic,
           m->partition, m->offset, why->detail, mf_err_name(why->code),
           w->topics.dlq);
    rc = mf__worker_produce_wait(w, w->topics.dlq, key, m->value, m->value_len,
                                 DLQ_WAIT_MS, &err);
    free(key);
    if (rc != MF_E_OK) {
        mf__worker_count_error(w, rc);
        mf_log_error(NULL, "job.dead_letter", &err);
        return TRY_LATER;
    }
    mf__worker_count_error(w, why->code);
    atomic_fetch_add(&w->stats->jobs_dead_lettered, 1);
    commit(l, m);
    return HANDLED;
}

static void
redis_trouble(struct loop *l, const struct mf_error *err) {
    uint64_t now = mf__worker_now_ms();

    atomic_store(&l->w->stats->redis_ready, false);
    mf__worker_count_error(l->w, err->code);
    if (now - l->warned_redis >= WARN_EVERY_MS || !l->warned_redis) {
        l->warned_redis = now;
        mf_log_error(NULL, "worker.redis", err);
    }
}

static bool
is_redis_trouble(mf_err rc) {
    return rc == MF_E_REDIS || rc == MF_E_REDIS_UNAVAILABLE;
}

static bool
start_job(struct loop *l, struct mf_envelope *env, struct mf__worker_batch *b,
          const struct mf_batch_lease *lease, uint64_t claimed_at_ms) {
    struct mf__worker *w = l->w;
    struct mf__worker_job *j;
    pthread_condattr_t ca;
    size_t slot = w->o.slots;

    for (size_t i = 0; i < w->o.slots; i++)
        if (!w->slots[i].job) {
            slot = i;
            break;
        }
    MF_ASSERT(slot < w->o.slots);
    j = mf_xcalloc(1, sizeof(*j));
    j->w = w;
    j->env = *env; /* moved */
    memset(env, 0, sizeof(*env));
    j->batch = b;
    j->lease = *lease;
    {
        /* Valid for a TTL from before the claim was asked for. */
        struct mf_checkpoint_claim c = {.record_key = j->record_key,
                                        .job_id = j->lease.job_id,
                                        .attempt = j->lease.attempt,
                                        .worker = j->lease.worker};
        mf_batch_record_key(j->record_key, sizeof(j->record_key),
                            j->lease.batch, j->lease.email);
        mf_fence_init(&j->fence, &c,
                      claimed_at_ms + (uint64_t)w->o.claim_ttl_ms);
    }
    j->log.batch = j->env.job.batch;
    j->log.mailbox = j->env.job.mailbox;
    j->log.job = j->env.job.job_id;
    j->log.attempt = j->env.job.attempt;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->runner = &w->slots[slot].run;
    j->keeper = &w->slots[slot].keep;
    if (!mf__runner_start(j->runner, mf__worker_job_main, j)) {
        mf_log(MF_LOG_ERROR, &j->log, "job.start", "cannot start a thread");
        mf__worker_job_free(&j);
        return false;
    }
    w->slots[slot].job = j;
    atomic_fetch_add(&w->stats->slots_busy, 1);
    atomic_fetch_add(&w->stats->jobs_started, 1);
    return true;
}

static enum handled
handle(struct loop *l, const struct delivery *d) {
    const struct mf_kafka_message *m = d->m;
    struct mf__worker *w = l->w;
    struct mf_envelope env;
    struct mf__worker_batch *b = NULL;
    struct mf_batch_lease lease;
    uint64_t claimed_at;
    struct mf_log_ctx ctx = {0};
    struct mf_error err = {0};
    enum handled h = HANDLED;
    mf_err rc;

    rc = mf_envelope_unpack(m->value, m->value_len, 0, &env, &err);
    if (rc != MF_E_OK)
        return dead_letter(l, m, &err);
    if (env.body != MF_ENVELOPE_JOB) {
        mf_error_set(&err, MF_E_ENVELOPE, "not a job");
        mf_envelope_clear(&env);
        return dead_letter(l, m, &err);
    }
    ctx.batch = env.job.batch;
    ctx.mailbox = env.job.mailbox;
    ctx.job = env.job.job_id;
    ctx.attempt = env.job.attempt;

    rc = mf__worker_batch_get(w, env.job.batch, env.job.batch_generation, &b,
                              &err);
    if (rc == MF_E_NOT_FOUND) {
        mf_log(MF_LOG_INFO, &ctx, "job.skip", "the batch does not exist");
        atomic_fetch_add(&w->stats->jobs_skipped, 1);
        commit(l, m);
        goto out;
    }
    if (is_redis_trouble(rc)) {
        redis_trouble(l, &err);
        h = TRY_LATER;
        goto out;
    }
    if (rc != MF_E_OK) {
        mf_log_error(&ctx, "job.skip", &err);
        atomic_fetch_add(&w->stats->jobs_skipped, 1);
        commit(l, m);
        goto out;
    }
    claimed_at = mf__worker_now_ms();
    if (env.job.kind == MF_JOB_KIND_VERIFY)
        rc = mf_batch_verify_claim(w->redis, env.job.batch, env.job.mailbox,
                                   env.job.job_id, env.job.attempt, w->id,
                                   d->token, w->o.claim_ttl_ms, &lease, &err);
    else
        rc = mf_batch_claim(w->redis, env.job.batch, env.job.mailbox,
                            env.job.job_id, env.job.attempt, w->id, d->token,
                            w->o.claim_ttl_ms, &lease, &err);
    if (rc == MF_E_VERIFY_BUSY) {
        /* The mailbox is being copied: its verdict says so, rather than
         * a comparison of a half-done copy (and `batch verify --wait`
         * hears about it). */
        struct mf_verify_result vr = {.error = err};
        struct mf_error perr = {0};
        if (mf_batch_verify_put_job(
                w->redis, env.job.batch, env.job.mailbox, env.job.job_id, &vr,
                (int64_t)(mf__worker_wall_ms() / 1000), &perr) != MF_E_OK) {
            rc = perr.code;
            err = perr;
        }
    }
    if (is_redis_trouble(rc)) {
        redis_trouble(l, &err);
        h = TRY_LATER;
        goto out;
    }
    atomic_store(&w->stats->redis_ready, true);
    if (rc != MF_E_OK) {
        /* Stale, duplicate or someone else's: drop it. */
        mf_log(MF_LOG_INFO, &ctx, "job.skip", "%s: %s", mf_err_name(rc),
               err.detail);
        atomic_fetch_add(&w->stats->jobs_skipped, 1);
        commit(l, m);
        goto out;
    }
    /* Claim, then commit (docs/design.md §6). */
    commit(l, m);
    if (start_job(l, &env, b, &lease, claimed_at))
        b = NULL; /* the job's reference now */
    else if (mf_batch_release(w->redis, &lease, false, &err) != MF_E_OK)
        mf_log_error(&ctx, "job.release", &err);
out:
    mf__worker_batch_unref(&b);
    mf_envelope_clear(&env);
    return h;
}

/* ------------------------------------------------------------------ */
/* The loop                                                           */
/* ------------------------------------------------------------------ */

static size_t
reap(struct mf__worker *w) {
    size_t busy = 0;

    for (size_t i = 0; i < w->o.slots; i++) {
        struct mf__worker_job *j = w->slots[i].job;
        if (!j)
            continue;
        if (atomic_load(&j->done)) {
            mf__runner_join(j->runner);
            mf__worker_job_free(&w->slots[i].job);
            atomic_fetch_sub(&w->stats->slots_busy, 1);
        } else {
            busy++;
        }
    }
    return busy;
}

/* Jobs held ready while the slots are busy, so that a slot that frees
 * up takes its next job at once. Many, not one per slot: with a consumer
 * group each pause and resume costs up to a second before librdkafka
 * fetches again (bench/job-overhead, docs/benchmarks.md), so the
 * consumer is paused only once this many wait, leaving room for what was
 * fetched before the pause took effect. They take no job from another
 * worker: the partitions are this worker's alone until a rebalance,
 * which drops the held jobs of the partitions that go. A job envelope is
 * a few kB. */
#define PREFETCH (PENDING_MAX / 2)

static void
set_paused(struct loop *l, bool paused) {
    struct mf_error err = {0};

    /* Enough held, or a message that waits for Redis. */
    paused = paused || l->npending >= PREFETCH ||
             (l->npending > 0 && mf__worker_now_ms() < l->retry_at);
    if (l->paused == paused)
        return;
    if (mf_kafka_consumer_pause(l->w->consumer, paused, &err) != MF_E_OK) {
        mf__worker_count_error(l->w, err.code);
        mf_log_error(NULL, "worker.pause", &err);
        return;
    }
    l->paused = paused;
}

static void
ping_redis(struct loop *l) {
    struct mf__worker *w = l->w;
    struct mf_error err = {0};
    redisReply *reply = NULL;
    uint64_t now = mf__worker_now_ms();

    if (now < l->next_ping)
        return;
    l->next_ping = now + PING_MS;
    if (mf_redis_command(w->redis, &reply, &err, "PING") != MF_E_OK) {
        redis_trouble(l, &err);
        return;
    }
    freeReplyObject(reply);
    atomic_store(&w->stats->redis_ready, true);
}

static void
poll_once(struct loop *l) {
    struct mf__worker *w = l->w;
    struct mf_kafka_message *m = NULL;
    struct delivery d;
    struct mf_error err = {0};
    uint64_t now;
    mf_err rc;

    rc = mf_kafka_consumer_poll(w->consumer, (int)w->o.poll_ms, &m, &err);
    now = mf__worker_now_ms();
    if (rc != MF_E_OK && mf_kafka_consumer_fatal(w->consumer)) {
        mf__worker_count_error(w, rc);
        if (l->fatal.code == MF_E_OK) {
            mf_log_error(NULL, "worker.kafka", &err);
            l->fatal = err;
        }
        usleep(50 * 1000); /* while the jobs stop: not a busy loop */
        return;
    }
    if (rc != MF_E_OK) {
        atomic_store(&w->stats->kafka_ready, false);
        l->kafka_error_at = now;
        mf__worker_count_error(w, rc);
        if (now - l->warned_kafka >= WARN_EVERY_MS || !l->warned_kafka) {
            l->warned_kafka = now;
            mf_log_error(NULL, "worker.kafka", &err);
        }
        usleep((useconds_t)w->o.poll_ms * 1000);
        return;
    }
    /* librdkafka reports a broker outage as an error now and then, with
     * quiet polls in between: ready only after a quiet while. */
    atomic_store(&w->stats->kafka_ready,
                 !l->kafka_error_at ||
                     now - l->kafka_error_at >= KAFKA_QUIET_MS);
    if (!m)
        return;
    atomic_fetch_add(&w->stats->jobs_received, 1);
    d.m = m;
    mf_batch_claim_token(d.token);
    if (l->npending || reap(w) == w->o.slots) {
        /* Paused consumers still return what was fetched before: keep
         * it in order behind the others. */
        if (l->npending == PENDING_MAX) {
            mf_kafka_message_free(&m); /* redelivered after a rebalance */
            return;
        }
        l->pending[l->npending++] = d;
        return;
    }
    if (handle(l, &d) == TRY_LATER) {
        l->pending[l->npending++] = d;
        l->retry_at = now + RETRY_MS;
        return;
    }
    mf_kafka_message_free(&m);
}

static void
retry_pending(struct loop *l) {
    struct mf__worker *w = l->w;

    while (l->npending && reap(w) < w->o.slots &&
           mf__worker_now_ms() >= l->retry_at) {
        if (handle(l, &l->pending[0]) == TRY_LATER) {
            l->retry_at = mf__worker_now_ms() + RETRY_MS;
            return;
        }
        drop_pending(l, 0);
    }
}

/* The stats of the consumer: partitions each turn (cheap), the lag about
 * once a second. A failed measurement keeps the last figure. */
static void
consumer_stats(struct loop *l) {
    struct mf__worker *w = l->w;
    struct mf_error err = {0};
    uint64_t now = mf__worker_now_ms(), lag;

    atomic_store(&w->stats->partitions,
                 (uint32_t)mf_kafka_consumer_assigned(w->consumer));
    if (now < l->next_lag)
        return;
    l->next_lag = now + LAG_MS;
    if (mf_kafka_consumer_lag(w->consumer, l->paused ? LAG_ASK_MS : 0, &lag,
                              &err) != MF_E_OK) {
        mf_log(MF_LOG_DEBUG, NULL, "worker.lag", "%s", err.detail);
        return;
    }
    /* Received but not yet claimed: waiting as well. */
    atomic_store(&w->stats->consumer_lag, lag + l->npending);
}

static size_t
running(struct mf__worker *w) {
    size_t n = 0;

    for (size_t i = 0; i < w->o.slots; i++)
        n += w->slots[i].job != NULL;
    return n;
}

/* Stops every job, waits for them until the deadline. Returns the
 * number abandoned. */
static size_t
shutdown_jobs(struct loop *l) {
    struct mf__worker *w = l->w;
    uint64_t deadline =
        mf__worker_now_ms() + (uint64_t)w->o.shutdown_timeout_ms;
    size_t n;

    atomic_store(&w->shutting_down, true);
    atomic_store(&w->shutdown_deadline_ms, deadline);
    set_paused(l, true);
    while (l->npending)
        drop_pending(l, 0);
    n = running(w);
    mf_log(MF_LOG_INFO, NULL, "worker.shutdown",
           "stopping %zu job(s) at a message boundary (at most %ld ms)", n,
           w->o.shutdown_timeout_ms);
    for (size_t i = 0; i < w->o.slots; i++)
        if (w->slots[i].job)
            mf__worker_job_stop(w->slots[i].job, MF__STOP_SHUTDOWN);
    /* Leave the group now, not once the jobs have stopped: the jobs are
     * claimed and committed, so they need no partition, while the jobs
     * still waiting in this worker's partitions (and those handed back to
     * them below) would wait for the slowest job's next message boundary
     * (up to the shutdown timeout) before the group gives them to the
     * other workers. A static member keeps its partitions until its
     * session times out all the same. */
    {
        struct mf_error cerr = {0};
        if (mf_kafka_consumer_close(w->consumer, &cerr) != MF_E_OK)
            mf_log_error(NULL, "worker.close", &cerr);
        mf_log(MF_LOG_INFO, NULL, "worker.stop", "%s left the group", w->id);
    }
    while (reap(w) > 0 && mf__worker_now_ms() < deadline) {
        atomic_store(&w->stats->heartbeat_ms, (int64_t)mf__worker_now_ms());
        /* Serves delivery reports; a finished job ends the wait early
         * only at the next report, hence the short step. */
        mf_kafka_producer_poll(w->producer, 50);
    }
    n = reap(w);
    for (size_t i = 0; i < w->o.slots; i++) {
        struct mf__worker_job *j = w->slots[i].job;
        if (!j)
            continue;
        /* Its claim expires by itself; the process must exit. */
        atomic_store(&j->abandoned, true);
        mf_log(MF_LOG_ERROR, &j->log, "job.abandoned",
               "did not stop within the shutdown timeout");
        /* Its runners stay busy, leaked with w (mf_worker_run()). */
        w->slots[i].job = NULL;
    }
    return n;
}

mf_err
mf_worker_run(const struct mf_worker_options *o, const atomic_bool *stop,
              struct mf_worker_stats *stats, struct mf_error *err) {
    struct mf__worker *w = mf_xcalloc(1, sizeof(*w));
    struct loop l;
    const char *topics[1];
    struct mf_kafka_consumer_params cp;
    size_t abandoned = 0;
    mf_err rc;

    memset(&l, 0, sizeof(l));
    l.w = w;
    w->stop = stop;
    pthread_mutex_init(&w->wake_mu, NULL);
    mf__worker_oauth_init(w);
    if (!stats) {
        /* Slot threads use it until they end: leaked with w if abandoned. */
        w->own_stats = mf_xcalloc(1, sizeof(*w->own_stats));
        stats = w->own_stats;
    }
    w->stats = stats;
    rc = setup(w, o, err);
    if (rc != MF_E_OK)
        goto out;
    atomic_store(&stats->slots, w->o.slots);
    w->slots = mf_xcalloc(w->o.slots, sizeof(*w->slots));

    rc = mf_kafka_producer_new(o->config, w->id, mf__worker_on_delivery, w,
                               &w->producer, err);
    if (rc != MF_E_OK)
        goto out;
    {
        /* Results are awaited by the jobs that produce them. Best effort:
         * a Kafka still starting is waited for where a job needs it. */
        const char *const warm[] = {w->topics.results, w->topics.jobs};
        struct mf_error werr = {0};
        if (mf_kafka_producer_warm(w->producer, warm, 2, MF_KAFKA_WARM_MS,
                                   &werr))
            mf_log(MF_LOG_DEBUG, NULL, "worker.warm", "%s", werr.detail);
    }
    /* Claims need Redis: wait for it before joining the group. */
    while (!atomic_load(stop)) {
        rc = mf_redis_connect(w->o.redis_url, 0, &w->redis, err);
        if (rc == MF_E_OK)
            break;
        w->redis = NULL;
        redis_trouble(&l, err);
        for (int i = 0; i < 10 && !atomic_load(stop); i++)
            usleep(100 * 1000);
    }
    if (!w->redis) {
        rc = MF_E_OK; /* stopped before Redis came */
        goto out;
    }
    atomic_store(&stats->redis_ready, true);
    topics[0] = w->topics.jobs;
    memset(&cp, 0, sizeof(cp));
    cp.client_id = w->id;
    cp.group_id = w->o.group_id;
    cp.topics = topics;
    cp.ntopics = 1;
    cp.on_rebalance = on_rebalance;
    cp.ud = &l;
    cp.instance_id = w->o.instance_id;
    rc = mf_kafka_consumer_new(o->config, &cp, &w->consumer, err);
    if (rc != MF_E_OK)
        goto out;
    mf__worker_wake_set(w, w->consumer);
    mf_log(MF_LOG_INFO, NULL, "worker.start",
           "%s: %u slot(s), group %s%s%s, topic %s, claim TTL %ld ms", w->id,
           w->o.slots, w->o.group_id,
           w->o.instance_id && *w->o.instance_id ? ", static member " : "",
           w->o.instance_id && *w->o.instance_id ? w->o.instance_id : "",
           w->topics.jobs, w->o.claim_ttl_ms);
    l.next_ping = mf__worker_now_ms() + PING_MS;

    while (!atomic_load(stop) && l.fatal.code == MF_E_OK) {
        atomic_store(&stats->heartbeat_ms, (int64_t)mf__worker_now_ms());
        reap(w);
        mf_kafka_producer_poll(w->producer, 0);
        retry_pending(&l);
        set_paused(&l, false);
        poll_once(&l);
        consumer_stats(&l);
        ping_redis(&l);
    }

    abandoned = shutdown_jobs(&l);
    {
        struct mf_error ferr = {0};
        uint64_t now = mf__worker_now_ms();
        uint64_t deadline = atomic_load(&w->shutdown_deadline_ms);
        long left = deadline > now + FLUSH_MIN_MS ? (long)(deadline - now)
                                                  : FLUSH_MIN_MS;
        if (mf_kafka_producer_flush(w->producer, (int)left, &ferr) != MF_E_OK)
            mf_log_error(NULL, "worker.flush", &ferr);
    }
    rc = MF_E_OK;
    if (l.fatal.code != MF_E_OK)
        rc = (*err = l.fatal).code;
    else if (abandoned)
        rc = mf_error_set(err, MF_E_TIMEOUT,
                          "%zu job(s) did not stop within %ld ms", abandoned,
                          w->o.shutdown_timeout_ms);
out:
    while (l.npending)
        drop_pending(&l, 0);
    mf__worker_wake_set(w, NULL);
    mf_kafka_consumer_free(&w->consumer);
    mf_redis_free(&w->redis);
    if (abandoned) {
        /* Abandoned slot threads still use the producer, the cache and
         * this struct: leave them to the process exit. */
        return rc;
    }
    for (size_t i = 0; w->slots && i < w->o.slots; i++) {
        mf__runner_end(&w->slots[i].run);
        mf__runner_end(&w->slots[i].keep);
    }
    mf__worker_cache_clear(w);
    mf__worker_oauth_clear(w);
    mf_kafka_producer_free(&w->producer);
    pthread_mutex_destroy(&w->wake_mu);
    free(w->slots);
    free(w->own_stats);
    free(w);
    return rc;
}
