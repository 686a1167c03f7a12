/* The worker's /healthz, /readyz and /metrics (see worker_http.h). */
#include "worker_http.h"

#include "mailferry/caps.h"
#include "mailferry/envelope.h"
#include "mailferry/http.h"
#include "mailferry/log.h"
#include "mailferry/metrics.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The main loop turns every few hundred ms; a Redis or Kafka call may
 * hold it for seconds, never for a minute. */
#define ALIVE_MS 60000

struct worker_http {
    struct mf_worker_stats *stats; /* borrowed */
    struct mf_metrics *metrics;    /* owned */
    struct mf_http_health health;
    struct mf_http_server *server; /* owned */
};

static bool
alive(void *ud) {
    struct worker_http *h = ud;
    int64_t beat = atomic_load(&h->stats->heartbeat_ms);

    /* Before the first turn (waiting for Redis at start) count as alive. */
    return beat == 0 || (int64_t)mf_monotonic_ms() - beat < ALIVE_MS;
}

static bool
ready(void *ud, char *why, size_t n) {
    struct worker_http *h = ud;
    bool k = atomic_load(&h->stats->kafka_ready);
    bool r = atomic_load(&h->stats->redis_ready);

    if (!k || !r)
        snprintf(why, n, "%s%s%s", k ? "" : "Kafka unreachable",
                 !k && !r ? ", " : "", r ? "" : "Redis unreachable");
    return k && r;
}

static void
collect(void *ud, struct mf_metrics *m) {
    struct worker_http *h = ud;
    struct mf_worker_stats *s = h->stats;
    struct mf_caps_metrics cm;
    static const char *const outcomes[] = {"lost", "synced", "failed",
                                           "stopped", "retry"};

    mf_metrics_set(m, "mailferry_worker_slots", atomic_load(&s->slots), NULL);
    mf_metrics_set(m, "mailferry_worker_slots_busy",
                   atomic_load(&s->slots_busy), NULL);
    mf_metrics_set(m, "mailferry_worker_jobs_received_total",
                   (double)atomic_load(&s->jobs_received), NULL);
    mf_metrics_set(m, "mailferry_worker_jobs_started_total",
                   (double)atomic_load(&s->jobs_started), NULL);
    mf_metrics_set(m, "mailferry_worker_jobs_skipped_total",
                   (double)atomic_load(&s->jobs_skipped), NULL);
    mf_metrics_set(m, "mailferry_worker_jobs_dead_lettered_total",
                   (double)atomic_load(&s->jobs_dead_lettered), NULL);
    mf_metrics_set(m, "mailferry_worker_jobs_requeued_total",
                   (double)atomic_load(&s->jobs_requeued), NULL);
    for (size_t i = 0; i < MF_ARRAY_LEN(outcomes); i++)
        mf_metrics_set(m, "mailferry_worker_jobs_finished_total",
                       (double)atomic_load(&s->jobs_finished[i]), "outcome",
                       outcomes[i], NULL);
    mf_metrics_set(m, "mailferry_worker_messages_copied_total",
                   (double)atomic_load(&s->messages_copied), NULL);
    mf_metrics_set(m, "mailferry_worker_bytes_copied_total",
                   (double)atomic_load(&s->bytes_copied), NULL);
    mf_metrics_set(m, "mailferry_worker_lease_waits_total",
                   (double)atomic_load(&s->leases_waited), NULL);
    mf_metrics_set(m, "mailferry_worker_lease_wait_seconds_total",
                   (double)atomic_load(&s->lease_wait_ms) / 1000.0, NULL);
    for (size_t i = 0; i < MF_WORKER_ERROR_CODES; i++) {
        int code = atomic_load(&s->errors[i].code);
        if (code)
            mf_metrics_set(m, "mailferry_worker_errors_total",
                           (double)atomic_load(&s->errors[i].count), "code",
                           mf_err_name((mf_err)code), NULL);
    }
    mf_metrics_set(m, "mailferry_worker_errors_other_total",
                   (double)atomic_load(&s->errors_other), NULL);
    mf_caps_metrics_get(&cm);
    mf_metrics_set(
        m, "mailferry_connection_leases_held",
        (double)(cm.leases_acquired - cm.leases_released - cm.leases_lost),
        NULL);
    mf_metrics_set(m, "mailferry_connection_leases_acquired_total",
                   (double)cm.leases_acquired, NULL);
    mf_metrics_set(m, "mailferry_connection_lease_waits_total",
                   (double)cm.waits, NULL);
    mf_metrics_set(m, "mailferry_connection_lease_wait_seconds_total",
                   (double)cm.wait_ms_total / 1000.0, NULL);
    mf_metrics_set(m, "mailferry_worker_kafka_ready",
                   atomic_load(&s->kafka_ready) ? 1 : 0, NULL);
    mf_metrics_set(m, "mailferry_worker_redis_ready",
                   atomic_load(&s->redis_ready) ? 1 : 0, NULL);
    mf_metrics_set(m, "mailferry_worker_consumer_lag",
                   (double)atomic_load(&s->consumer_lag), NULL);
    mf_metrics_set(m, "mailferry_worker_partitions",
                   (double)atomic_load(&s->partitions), NULL);
}

static void
declare(struct mf_metrics *m) {
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"mailferry_worker_slots", "gauge", "Job slots (--slots)."},
        {"mailferry_worker_consumer_lag", "gauge",
         "Jobs waiting in this worker's partitions of the jobs topic."},
        {"mailferry_worker_partitions", "gauge",
         "Partitions of the jobs topic assigned to this worker."},
        {"mailferry_worker_slots_busy", "gauge", "Jobs running now."},
        {"mailferry_worker_jobs_received_total", "counter",
         "Job messages received from Kafka."},
        {"mailferry_worker_jobs_started_total", "counter",
         "Jobs claimed and started."},
        {"mailferry_worker_jobs_skipped_total", "counter",
         "Stale, duplicate or already claimed job deliveries."},
        {"mailferry_worker_jobs_dead_lettered_total", "counter",
         "Job messages that did not unpack, sent to the dead-letter topic."},
        {"mailferry_worker_jobs_requeued_total", "counter",
         "Running jobs handed back at shutdown."},
        {"mailferry_worker_jobs_finished_total", "counter",
         "Finished jobs by outcome (lost: the claim was lost)."},
        {"mailferry_worker_messages_copied_total", "counter",
         "Messages copied to targets."},
        {"mailferry_worker_bytes_copied_total", "counter",
         "Message bytes copied to targets."},
        {"mailferry_worker_lease_waits_total", "counter",
         "Jobs that waited for a connection lease."},
        {"mailferry_worker_lease_wait_seconds_total", "counter",
         "Time jobs waited for connection leases."},
        {"mailferry_worker_errors_total", "counter",
         "Errors that ended jobs or hit the worker loop, by code."},
        {"mailferry_worker_errors_other_total", "counter",
         "Errors of codes beyond the per-code table."},
        {"mailferry_connection_leases_held", "gauge",
         "Connection leases this process holds now."},
        {"mailferry_connection_leases_acquired_total", "counter",
         "Connection leases acquired."},
        {"mailferry_connection_lease_waits_total", "counter",
         "Connection lease acquisitions that had to wait for a cap."},
        {"mailferry_connection_lease_wait_seconds_total", "counter",
         "Time spent waiting for connection leases."},
        {"mailferry_worker_kafka_ready", "gauge",
         "1 when the last Kafka poll worked."},
        {"mailferry_worker_redis_ready", "gauge",
         "1 when the last Redis command worked."},
    };

    for (size_t i = 0; i < MF_ARRAY_LEN(fams); i++)
        mf_metrics_declare(m, fams[i].name, fams[i].type, fams[i].help);
}

bool
worker_http_start(const char *addr, struct mf_worker_stats *stats,
                  struct worker_http **h_r, struct mf_error *err) {
    struct worker_http *h = mf_xcalloc(1, sizeof(*h));

    h->stats = stats;
    h->metrics = mf_metrics_new();
    declare(h->metrics);
    h->health.alive = alive;
    h->health.ready = ready;
    h->health.collect = collect;
    h->health.ud = h;
    h->health.metrics = h->metrics;
    if (mf_http_server_start(addr, mf_http_health_handler, &h->health,
                             &h->server, err) != MF_E_OK) {
        mf_metrics_free(&h->metrics);
        free(h);
        return false;
    }
    mf_log(MF_LOG_INFO, NULL, "worker.http",
           "serving /healthz /readyz "
           "/metrics on port %u",
           (unsigned)mf_http_server_port(h->server));
    *h_r = h;
    return true;
}

unsigned
worker_http_port(const struct worker_http *h) {
    return mf_http_server_port(h->server);
}

void
worker_http_stop(struct worker_http **hp) {
    struct worker_http *h = *hp;

    if (!h)
        return;
    *hp = NULL;
    mf_http_server_stop(&h->server);
    mf_metrics_free(&h->metrics);
    free(h);
}
