/*
 * The job runner (docs/design.md §2, §3, §6, §7, §10): a consumer-group member
 * on <prefix>.jobs that migrates one mailbox per job in M concurrent job
 * slots, as a library function so that both the `mailferry-worker`
 * program and the embedded `mailferry migrate` run the same code.
 *
 * Per job, mf_worker_run():
 *
 *   1. unpacks the envelope; one that does not unpack (or is not a job)
 *      goes to <prefix>.jobs.dlq unchanged, and its offset is committed;
 *   2. loads the batch configuration from Redis (cached per batch for a
 *      short while) and builds the engine's options from it: endpoints,
 *      folder rules (re-parsed with the mf_folder_rules_parse_*() helpers),
 *      maximum message size, connection and bandwidth caps;
 *   3. claims the job in Redis (mf_batch_claim), THEN commits the offset:
 *      a stale or duplicate delivery (MF_E_CLAIMED, MF_E_STATE,
 *      MF_E_NOT_FOUND) is committed and skipped; if Redis is away, the
 *      message waits (the consumer paused) and is tried again;
 *   4. runs the job in a slot thread: opens the sealed credentials right
 *      before the engine logs in and wipes them when it returns; a keeper
 *      thread renews the claim every claim_ttl / 3 and publishes progress
 *      every progress_interval on <prefix>.results, and stops the engine
 *      (at a message boundary, with a checkpoint) when the claim is lost
 *      or the batch is being stopped;
 *   5. publishes the final result (SYNCED, FAILED, STOPPED, or RETRY for
 *      an error of class retry or reconnect that outlived the engine's
 *      own retries) keyed "<batch>/<mailbox>", waits until Kafka has it,
 *      then releases the claim. A job whose claim was lost publishes
 *      nothing: the coordinator requeues it.
 *
 * While every slot is busy the worker holds the next jobs ready (up to
 * 128, received but not yet claimed or committed: a slot that frees up
 * starts one at once), then pauses the consumer but keeps polling, so the
 * member never exceeds max.poll.interval.ms and never holds up the group.
 * A rebalance drops the held jobs of the partitions that move; their new
 * owner receives them.
 *
 * Shutdown (*stop set, e.g. by SIGTERM): no new jobs; every running job is
 * stopped at a message boundary, and the member leaves the group at once
 * (its partitions go to the others while its jobs stop; a static member
 * keeps them until its session times out); within shutdown_timeout each
 * job gives its claim back (mf_batch_release, not finished), requeues itself
 * at once (mf_batch_requeue: the next attempt of the same job id, not
 * counted as a lost worker) and re-produces that job on <prefix>.jobs so
 * another worker continues right away; a STOPPED result with the detail
 * "worker shutdown" is published for the record (it belongs to the
 * attempt that was stopped, so folding it changes nothing). Then the
 * function returns. A job that has not
 * stopped by the deadline is abandoned: its claim is no longer renewed
 * and expires after claim_ttl; the caller must then exit the process.
 *
 * Threads: mf_worker_run() blocks its caller; it starts two threads per
 * running job (the engine's own come on top). It installs no signal
 * handlers and does not set up logging: the program does. Several
 * mf_worker_run() calls may run at once in one process (the embedded
 * default), each with its own options and stats.
 */
#ifndef MAILFERRY_WORKER_H
#define MAILFERRY_WORKER_H

#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MF_WORKER_DEFAULT_SLOTS 4
#define MF_WORKER_DEFAULT_GROUP "mailferry-workers"
#define MF_WORKER_DEFAULT_CLAIM_TTL_MS 30000L
#define MF_WORKER_DEFAULT_PROGRESS_MS 2000L
#define MF_WORKER_DEFAULT_SHUTDOWN_MS 25000L
#define MF_WORKER_MAX_SLOTS 256
/* Distinct error codes counted one by one in struct mf_worker_stats. */
#define MF_WORKER_ERROR_CODES 64

/* Everything is borrowed for the duration of mf_worker_run(). */
struct mf_worker_options {
    /* Kafka settings: "kafka" (bootstrap), "kafka.*" passed through to
     * librdkafka, "topic-prefix" (mailferry/kafka.h). Required. */
    const struct mf_config *config;
    const char *redis_url;                   /* required */
    const struct mf_crypto_keyring *keyring; /* required: opens passwords */
    const char *worker_id;                   /* NULL: "<host>/<pid>" */
    unsigned slots;                          /* concurrent mailboxes; 0: 4 */
    const char *bind_address;  /* local address for IMAP, or NULL */
    const char *egress_ip;     /* identity for per-IP caps, or NULL */
    const char *group_id;      /* NULL: "mailferry-workers" */
    const char *topic_prefix;  /* NULL: config "topic-prefix" or default */
    long claim_ttl_ms;         /* 0: 30 s; renewed every third */
    long progress_interval_ms; /* 0: 2 s */
    long shutdown_timeout_ms;  /* 0: 25 s */
    long lease_ttl_ms;         /* connection leases (caps); 0: 30 s */
    long batch_cache_ms;       /* batch configs kept this long; 0: 30 s */
    /* How long one poll of the jobs waits when none comes (0: 200 ms):
     * how soon a stop is noticed while idle. */
    long poll_ms;
    /* Static group membership (KIP-345): this worker's group.instance.id,
     * unique in the group (a pod name); NULL or "": dynamic. */
    const char *instance_id;
};

/* Counters for /metrics, updated by the worker's threads and readable at
 * any time from any thread. Zero it (mf_worker_stats_init) before the
 * run; it is never reset. */
struct mf_worker_error_count {
    _Atomic int code; /* 0: free entry */
    _Atomic uint64_t count;
};

struct mf_worker_stats {
    _Atomic uint32_t slots;        /* configured */
    _Atomic uint32_t slots_busy;   /* running jobs now */
    _Atomic uint32_t partitions;   /* jobs partitions assigned to this worker */
    _Atomic uint64_t consumer_lag; /* jobs waiting in those partitions */
    _Atomic uint64_t jobs_received;
    _Atomic uint64_t jobs_started; /* claimed and run */
    /* stale, duplicate or already claimed deliveries, committed */
    _Atomic uint64_t jobs_skipped;
    _Atomic uint64_t jobs_dead_lettered; /* bad envelopes */
    /* finished jobs by enum mf_outcome (index 0: lease lost, no result) */
    _Atomic uint64_t jobs_finished[5];
    _Atomic uint64_t jobs_requeued; /* handed back at shutdown */
    _Atomic uint64_t messages_copied;
    _Atomic uint64_t bytes_copied;
    _Atomic uint64_t leases_waited; /* jobs that waited for a connection */
    _Atomic uint64_t lease_wait_ms; /* time spent waiting for them */
    /* errors that ended a job, and errors of the loop (Kafka, Redis) */
    struct mf_worker_error_count errors[MF_WORKER_ERROR_CODES];
    _Atomic uint64_t errors_other; /* codes beyond the table */
    /* Health: the main loop's last turn (CLOCK_MONOTONIC ms) and whether
     * Kafka and Redis answered lately (readiness). */
    _Atomic int64_t heartbeat_ms;
    atomic_bool kafka_ready;
    atomic_bool redis_ready;
};

void mf_worker_stats_init(struct mf_worker_stats *s);
/* Counts one error with this code (thread-safe). */
void mf_worker_stats_count_error(struct mf_worker_stats *s, mf_err code);

/* Runs the worker until *stop becomes true (then shuts down as described
 * above) or a fatal error. stats may be NULL. Returns MF_E_OK after a
 * clean shutdown, MF_E_TIMEOUT when jobs had to be abandoned at the
 * shutdown deadline, MF_E_CONFIG or MF_E_INVALID_ARGUMENT for options
 * that cannot work (err says which), MF_E_KAFKA when the consumer or
 * producer cannot be created, or after the consumer's fatal error (this
 * worker fenced by another with the same instance id: its jobs are
 * stopped and handed back first, as at a shutdown). Redis or Kafka being
 * away is not fatal: the worker waits for them. */
MF_WARN_UNUSED mf_err mf_worker_run(const struct mf_worker_options *o,
                                    const atomic_bool *stop,
                                    struct mf_worker_stats *stats,
                                    struct mf_error *err);

#endif
