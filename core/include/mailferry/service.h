/*
 * The coordinator service (docs/design.md §3, §6; core/src/service/):
 * mf_service_run() is one consumer-group member on <prefix>.results
 * (group "mailferry-coordinator") and one producer for <prefix>.jobs and
 * <prefix>.jobs.dlq. It applies progress and results to the records
 * (idempotent per job and attempt), produces the next attempt of a job
 * whose result says RETRY or dead-letters it when attempts are exhausted,
 * commits each result's offset only after it is applied and what it
 * caused is delivered (at least once), and every scan interval requeues
 * jobs whose claim expired (the worker died) and begins the incremental
 * passes that batches with an interval are due for. Several services may
 * run against the same batches: every change is a checked Redis script,
 * so the second one to try finds nothing to do.
 *
 * `mailferry serve` runs it with its HTTP endpoints (mf_service_http_*);
 * the embedded `mailferry migrate` runs it in a thread.
 */
#ifndef MAILFERRY_SERVICE_H
#define MAILFERRY_SERVICE_H

#include "mailferry/jobs.h"
#include "mailferry/metrics.h"
#include "mailferry/notify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Counters for /metrics, updated by the service thread and read by any
 * other (an HTTP thread) without locks. */
struct mf_service_metrics {
    atomic_uint_fast64_t results_applied;  /* results folded in */
    atomic_uint_fast64_t results_ignored;  /* duplicates and stale ones */
    atomic_uint_fast64_t progress_applied; /* progress messages folded in */
    atomic_uint_fast64_t progress_ignored;
    atomic_uint_fast64_t messages_invalid; /* not an envelope we read */
    atomic_uint_fast64_t jobs_produced;    /* requeued and scheduled jobs */
    atomic_uint_fast64_t jobs_requeued;    /* RETRY results and lost workers */
    atomic_uint_fast64_t jobs_dead_lettered;
    atomic_uint_fast64_t claims_expired; /* lost workers found */
    atomic_uint_fast64_t results_lost;   /* finished jobs requeued unheard */
    atomic_uint_fast64_t passes_scheduled;
    atomic_uint_fast64_t messages_copied; /* from applied results */
    atomic_uint_fast64_t bytes_copied;
    atomic_uint_fast64_t errors;   /* Redis or Kafka errors met */
    atomic_int_fast64_t last_scan; /* Unix time of the last full scan */
    atomic_int_fast64_t heartbeat; /* Unix time the loop last turned */
    atomic_int_fast64_t started;   /* Unix time the service started */
    atomic_bool redis_ok;          /* the last Redis command worked */
    /* Mailboxes by state over every batch, as of the last scan. */
    atomic_uint_fast64_t mailboxes[MF_MAILBOX_STATE_COUNT];
    atomic_bool kafka_ok; /* the consumer has partitions / no error */
    struct mf_notify_metrics notify; /* notifications (notify.h) */
};

/* Zeroes m. */
void mf_service_metrics_init(struct mf_service_metrics *m);
/* How often the service scans the batches when its options say 0: the
 * one default of `serve --scan-interval`, whose help prints it in seconds
 * (MF_STR(MF_SERVICE_DEFAULT_SCAN_S)). */
#define MF_SERVICE_DEFAULT_SCAN_S 5
#define MF_SERVICE_DEFAULT_SCAN_MS (MF_SERVICE_DEFAULT_SCAN_S * 1000)

/* Declares the service's metric families in reg and sets them from m
 * (names mailferry_coordinator_...); the collect step of /metrics. */
void mf_service_metrics_collect(const struct mf_service_metrics *m,
                                struct mf_metrics *reg);
/* Alive (/healthz): the service loop turned within the last 3 scan
 * intervals or 60 s, whichever is longer (waiting out an outage turns it
 * too). Ready (/readyz): Redis answers and the results consumer works;
 * why (n bytes) says which is missing. */
bool mf_service_metrics_alive(const struct mf_service_metrics *m, int64_t now,
                              uint32_t scan_interval_ms);
bool mf_service_metrics_ready(const struct mf_service_metrics *m, char *why,
                              size_t n);

/* /healthz, /readyz and /metrics of the service on listen (health.c): the
 * probes of m (alive within the scan interval, ready) and its figures in
 * a registry of their own. Stop with mf_service_http_stop() (accepts
 * NULL, sets *h to NULL). Errors: mf_http_server_start()'s. */
struct mf_service_http;
MF_WARN_UNUSED mf_err mf_service_http_start(const char *listen,
                                            struct mf_service_metrics *m,
                                            uint32_t scan_interval_ms,
                                            struct mf_service_http **h_r,
                                            struct mf_error *err);
/* The port it listens on (the one picked for port 0). */
uint16_t mf_service_http_port(const struct mf_service_http *h);
void mf_service_http_stop(struct mf_service_http **h);

struct mf_service_options {
    /* Keys "kafka", "kafka.*", "topic-prefix" (kafka.h). Borrowed. */
    const struct mf_config *config;
    const char *redis_url;                   /* borrowed */
    const struct mf_crypto_keyring *keyring; /* borrowed */
    const char *group_id;                    /* NULL: MF_JOBS_GROUP_DEFAULT */
    const char *client_id;                   /* NULL: "mailferry-coordinator" */
    /* Expired claims and due incremental passes are looked for this
     * often (0: MF_SERVICE_DEFAULT_SCAN_MS). */
    uint32_t scan_interval_ms;
    struct mf_service_metrics *metrics; /* may be NULL */
    /* Notifications (notify.h); NULL: none. Borrowed. A running batch
     * idle for stuck_after_s (0: 3600) is announced as stuck. */
    struct mf_notifier *notifier;
    uint32_t stuck_after_s;
    /* Only this batch's claims and passes (NULL: every batch). The
     * embedded `migrate` sets it: its jobs live in an in-process Kafka,
     * so a job it produced for another run's batch would never reach
     * that run's worker. */
    const char *only_batch;
    /* How long one poll of the results waits when none comes (0: 100
     * ms): how soon a stop is noticed. */
    uint32_t poll_ms;
};

/* Runs the coordinator service until *stop becomes true, then leaves the
 * consumer group, flushes the producer and returns MF_E_OK. Returns an
 * error only when it cannot start (configuration, the first connection
 * to Redis); afterwards Redis and Kafka outages are waited out: a result
 * that cannot be applied is retried (its partition paused) until Redis
 * answers, and its offset is not committed before. Logs one line per
 * event (mailferry/log.h). */
MF_WARN_UNUSED mf_err mf_service_run(const struct mf_service_options *o,
                                     const atomic_bool *stop,
                                     struct mf_error *err);

#endif
