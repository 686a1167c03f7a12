/*
 * Internals of the job runner (mailferry/worker.h), shared by its files:
 *
 *   run.c      the main loop: consumer, claims, commits, pause, shutdown
 *   job.c      one job in a slot thread: credentials, engine, outcome
 *   keeper.c   the claim renewal and progress thread of a running job
 *   runner.c   the threads a slot keeps from one job to the next
 *   publish.c  envelopes to Kafka and waiting for their delivery
 *   bcache.c   batch configurations from Redis, cached, turned into the
 *              engine's options
 *   stats.c    the metrics counters
 *   oauthreg.c OAuth2 token sources, kept across jobs so that minted
 *              tokens are reused until shortly before they expire
 *
 * Ownership: struct mf__worker belongs to mf_worker_run() and outlives
 * every job; a struct mf__worker_job belongs to the main loop, which frees
 * it after joining its slot's runner; a struct mf__worker_batch is reference
 * counted (the cache holds one reference, each job another).
 */
#ifndef MF_WORKER_INT_H
#define MF_WORKER_INT_H

#include "mailferry/batch.h"
#include "mailferry/envelope.h"
#include "mailferry/fence.h"
#include "mailferry/kafka.h"
#include "mailferry/log.h"
#include "mailferry/migrate.h"
#include "mailferry/version.h"
#include "mailferry/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MF_WORKER_VERSION MF_VERSION
#define MF__WORKER_ID_MAX MF_BATCH_WORKER_MAX
#define MF__WORKER_CACHE_MAX 64 /* batches cached at once */
/* Item lists in a result: bytes of text at most, so that the message
 * stays well under Kafka's 1 MB default. */
#define MF__WORKER_ITEMS_BYTES (512 * 1024)
#define MF__WORKER_SUBJECT_MAX 200 /* bytes of a listed subject */

/* A batch's configuration as the engine needs it. */
struct mf__worker_batch {
    atomic_uint refs;
    char *name;                  /* owned */
    struct mf_batch_config *cfg; /* owned */
    struct mf_folder_rules *rules;
    struct mf_migrate_server source, target;
    struct mf_migrate_caps caps;
    bool has_caps;
    /* Not MF_E_OK: the configuration cannot run (bad URL, bad rule);
     * jobs of this batch fail with this error. */
    struct mf_error error;
    int64_t loaded_ms; /* monotonic */
    uint64_t changes;  /* mf_batch_changes_count() before it was read */
};

enum mf__worker_stop {
    MF__STOP_NONE,
    MF__STOP_BATCH,    /* `batch stop`: STOPPED result */
    MF__STOP_SHUTDOWN, /* the worker shuts down: hand the job back */
    MF__STOP_LOST,     /* the claim is gone: publish nothing */
};

struct mf__worker;
struct mf__worker_oauth_entry;

/* OAuth2 token sources by what they were made from (oauthreg.c); shared
 * by the slot threads under mu. */
struct mf__worker_oauth {
    pthread_mutex_t mu;
    struct mf__worker_oauth_entry *v; /* owned, n */
    size_t n;
};

/* A thread that runs one function at a time, kept from one job to the
 * next (runner.c). Zeroed: not started yet. */
struct mf__runner {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *(*fn)(void *); /* under mu */
    void *arg;           /* under mu */
    bool busy, quit;     /* under mu */
};

struct mf__worker_job {
    struct mf__worker *w;           /* borrowed */
    struct mf_envelope env;         /* owned: the job as received */
    struct mf__worker_batch *batch; /* one reference */
    struct mf_batch_lease lease;
    /* The engine's fence on the claim (keeper.c extends and breaks it);
     * its claim borrows record_key, env and lease. */
    struct mf_fence fence;
    char record_key[MF_BATCH_NAME_MAX + MF_BATCH_EMAIL_MAX + 32];
    struct mf_log_ctx log;   /* borrows from env */
    atomic_bool stop;        /* the engine's stop flag */
    _Atomic int stop_reason; /* enum mf__worker_stop, the first one wins */
    atomic_bool done;        /* the slot thread has finished */
    atomic_bool abandoned;   /* shutdown deadline passed: stop renewing */
    struct mf_migrate_progress progress;
    /* What of progress is in the worker's stats already: the keeper adds
     * the rest each second, the slot thread the last of it once the
     * keeper has ended (mf__worker_count_progress). */
    uint64_t counted_messages, counted_bytes;
    uint64_t started_at_ms;    /* wall clock */
    struct mf__runner *runner; /* the slot's, running mf__worker_job_main */
    /* The keeper (the slot's other runner) and how to wake it. */
    struct mf__runner *keeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool keeper_quit; /* under mu */
    uint64_t progress_seq;
};

struct mf__worker_slot {
    struct mf__worker_job *job;  /* NULL: free */
    struct mf__runner run, keep; /* the job's thread and its keeper's */
};

struct mf__worker {
    struct mf_worker_options o; /* defaults filled in */
    struct mf_worker_stats *stats;
    struct mf_worker_stats *own_stats; /* owned: when the caller gave none */
    char id[MF__WORKER_ID_MAX];
    char sender[MF__WORKER_ID_MAX + 64];
    struct mf_kafka_topics topics;
    struct mf_kafka_producer *producer;
    struct mf_kafka_consumer *consumer;
    struct mf_redis *redis; /* main thread only */
    const atomic_bool *stop;
    atomic_bool shutting_down;
    /* Monotonic ms by which a shutdown must be over; 0 while running. */
    _Atomic uint64_t shutdown_deadline_ms;
    struct mf__worker_slot *slots; /* o.slots */
    /* Batch cache, main thread only. */
    struct mf__worker_batch *cache[MF__WORKER_CACHE_MAX];
    size_t ncache;
    struct mf__worker_oauth oauth;
    /* The consumer slot threads may wake (NULL once it is gone). */
    pthread_mutex_t wake_mu;
    struct mf_kafka_consumer *wake_consumer; /* borrowed, under wake_mu */
};

/* stats.c */
uint64_t mf__worker_now_ms(void);  /* CLOCK_MONOTONIC */
uint64_t mf__worker_wall_ms(void); /* Unix time */
void mf__worker_count_error(struct mf__worker *w, mf_err code);
/* Adds to the stats what the job copied since the last call (messages
 * and bytes: the counters move while the job runs), up to the totals
 * given, or the job's progress counters when they are NULL. Called by one
 * thread at a time: the keeper, then the slot thread after it. */
void mf__worker_count_progress(struct mf__worker_job *j,
                               const uint64_t *messages, const uint64_t *bytes);

/* bcache.c */
/* The configuration of generation `generation` of the batch (a job's
 * batch_generation), from the cache or Redis; *b_r holds a new
 * reference. A cached configuration of another generation is dropped
 * and read again. MF_E_NOT_FOUND when the batch is gone; MF_E_JOB_STALE
 * when it is another generation (removed and created again since the job
 * was built: the job is not this batch's); Redis errors as
 * mf_batch_get() returns them. A configuration that cannot run is
 * returned with b->error set. */
MF_WARN_UNUSED mf_err mf__worker_batch_get(struct mf__worker *w,
                                           const char *name,
                                           uint64_t generation,
                                           struct mf__worker_batch **b_r,
                                           struct mf_error *err);
void mf__worker_batch_unref(struct mf__worker_batch **b);
void mf__worker_cache_clear(struct mf__worker *w);

/* oauthreg.c */
/* The token source for one OAuth2 side (purpose) of job under batch
 * configuration cfg, secret being that side's opened job secret: the one
 * made before from the same batch generation, settings and key, or a
 * new one. *o_r is borrowed until mf__worker_oauth_put(). Errors as
 * mf_jobs_oauth_new(). */
MF_WARN_UNUSED mf_err
mf__worker_oauth_get(struct mf__worker *w, const struct mf_batch_config *cfg,
                     const struct mf_job *job, const char *purpose,
                     const struct mf_crypto_secret *secret,
                     struct mf_oauth **o_r, struct mf_error *err);
void mf__worker_oauth_put(struct mf__worker *w, struct mf_oauth **o);
void mf__worker_oauth_init(struct mf__worker *w);
void mf__worker_oauth_clear(struct mf__worker *w);

/* publish.c */
/* Produces value on topic with key and waits up to timeout_ms for Kafka
 * to acknowledge it (serving delivery reports meanwhile). */
MF_WARN_UNUSED mf_err mf__worker_produce_wait(
    struct mf__worker *w, const char *topic, const char *key, const void *value,
    size_t len, long timeout_ms, struct mf_error *err);
/* Packs env and produces it keyed "<batch>/<mailbox>"; waits when
 * timeout_ms > 0, otherwise only queues it. */
MF_WARN_UNUSED mf_err mf__worker_publish(struct mf__worker *w,
                                         const char *topic, const char *batch,
                                         const char *mailbox,
                                         const struct mf_envelope *env,
                                         long timeout_ms, struct mf_error *err);
/* The delivery callback given to the producer. */
void mf__worker_on_delivery(void *ud, void *msg_opaque,
                            const struct mf_error *result);

/* keeper.c */
MF_WARN_UNUSED bool mf__worker_keeper_start(struct mf__worker_job *j);
void mf__worker_keeper_stop(struct mf__worker_job *j);
/* Sets the job's stop flag, recording why (the first reason wins). */
void mf__worker_job_stop(struct mf__worker_job *j, enum mf__worker_stop why);
/* The progress counters of j as envelope counters. */
void mf__worker_progress_counters(struct mf__worker_job *j,
                                  struct mf_counters *c);
/* Whether the job thread's own Redis connection *r is there, connecting
 * it (*r NULL before and after a failure). A failure is logged as
 * job.redis, or when quiet (the keeper, every renewal) only counted. */
bool mf__worker_job_redis(struct mf__worker_job *j, struct mf_redis **r,
                          bool quiet);

/* runner.c */
/* Runs fn(arg) on t's thread, starting the thread the first time; t must
 * not be busy. false: no thread could be started. */
MF_WARN_UNUSED bool mf__runner_start(struct mf__runner *t, void *(*fn)(void *),
                                     void *arg);
/* Waits until the function started last has returned. */
void mf__runner_join(struct mf__runner *t);
/* Ends t's thread (not busy), if it was started. */
void mf__runner_end(struct mf__runner *t);

/* run.c */
/* Ends the main loop's wait for Kafka now (any thread): a slot is free. */
void mf__worker_wake(struct mf__worker *w);
/* The consumer that mf__worker_wake() wakes; NULL before it is freed. */
void mf__worker_wake_set(struct mf__worker *w, struct mf_kafka_consumer *c);

/* job.c */
/* The slot thread's body (pthread start routine). */
void *mf__worker_job_main(void *arg);
void mf__worker_job_free(struct mf__worker_job **j);

#endif
