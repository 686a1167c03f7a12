/*
 * The coordinator service's counters for /metrics (docs/design.md §11) and
 * the health rule behind /healthz. The counters are atomics in struct
 * mf_service_metrics, written by the service thread; the HTTP thread's
 * collect step copies them into the Prometheus registry (metrics.h)
 * without locks. A scrape may see one counter a little ahead of another,
 * which Prometheus tolerates.
 */
#include "mailferry/service.h"

#include <stdio.h>
#include <string.h>

void
mf_service_metrics_init(struct mf_service_metrics *m) {
    memset(m, 0, sizeof(*m));
    atomic_init(&m->results_applied, 0);
    atomic_init(&m->results_ignored, 0);
    atomic_init(&m->progress_applied, 0);
    atomic_init(&m->progress_ignored, 0);
    atomic_init(&m->messages_invalid, 0);
    atomic_init(&m->jobs_produced, 0);
    atomic_init(&m->jobs_requeued, 0);
    atomic_init(&m->jobs_dead_lettered, 0);
    atomic_init(&m->claims_expired, 0);
    atomic_init(&m->results_lost, 0);
    atomic_init(&m->passes_scheduled, 0);
    atomic_init(&m->messages_copied, 0);
    atomic_init(&m->bytes_copied, 0);
    atomic_init(&m->errors, 0);
    atomic_init(&m->last_scan, 0);
    atomic_init(&m->started, 0);
    atomic_init(&m->heartbeat, 0);
    atomic_init(&m->redis_ok, false);
    atomic_init(&m->kafka_ok, false);
    atomic_init(&m->notify.delivered, 0);
    atomic_init(&m->notify.retried, 0);
    atomic_init(&m->notify.failed, 0);
    atomic_init(&m->notify.dropped, 0);
}

static const struct {
    const char *name;
    const char *help;
    size_t offset;
} counters[] = {
#define C(n, f, h)                                                             \
    { "mailferry_coordinator_" n, h, offsetof(struct mf_service_metrics, f) }
    C("results_applied_total", results_applied,
      "Job results folded into the batch records."),
    C("results_ignored_total", results_ignored,
      "Duplicate or stale job results."),
    C("progress_applied_total", progress_applied,
      "Progress messages folded into the records."),
    C("progress_ignored_total", progress_ignored, "Stale progress messages."),
    C("messages_invalid_total", messages_invalid,
      "Messages on the results topic that could not be read."),
    C("jobs_produced_total", jobs_produced,
      "Jobs produced by the service (retries, scheduled passes)."),
    C("jobs_requeued_total", jobs_requeued,
      "Jobs queued again after a transient failure or a lost worker."),
    C("jobs_dead_lettered_total", jobs_dead_lettered,
      "Jobs sent to the dead-letter topic."),
    C("claims_expired_total", claims_expired,
      "Job claims that expired (lost workers)."),
    C("results_lost_total", results_lost,
      "Finished jobs requeued because their result never arrived."),
    C("passes_scheduled_total", passes_scheduled,
      "Incremental passes begun by the schedule."),
    C("messages_copied_total", messages_copied,
      "Messages copied, from applied results."),
    C("bytes_copied_total", bytes_copied,
      "Bytes copied, from applied results."),
    C("errors_total", errors, "Redis and Kafka errors met."),
    C("notifications_delivered_total", notify.delivered,
      "Notifications the receiver accepted (2xx)."),
    C("notifications_retried_total", notify.retried,
      "Notification attempts after a failed one."),
    C("notifications_failed_total", notify.failed,
      "Notifications given up after every attempt."),
    C("notifications_dropped_total", notify.dropped,
      "Notifications dropped: the queue was full."),
#undef C
};

void
mf_service_metrics_collect(const struct mf_service_metrics *m,
                           struct mf_metrics *reg) {
    for (size_t i = 0; i < MF_ARRAY_LEN(counters); i++) {
        const atomic_uint_fast64_t *v =
            (const atomic_uint_fast64_t *)((const char *)m +
                                           counters[i].offset);
        mf_metrics_declare(reg, counters[i].name, "counter", counters[i].help);
        mf_metrics_set(reg, counters[i].name, (double)atomic_load(v), NULL);
    }
    mf_metrics_declare(reg, "mailferry_coordinator_last_scan_timestamp_seconds",
                       "gauge", "When the service last scanned the batches.");
    mf_metrics_set(reg, "mailferry_coordinator_last_scan_timestamp_seconds",
                   (double)atomic_load(&m->last_scan), NULL);
    mf_metrics_declare(reg, "mailferry_coordinator_start_timestamp_seconds",
                       "gauge", "When the service started.");
    mf_metrics_set(reg, "mailferry_coordinator_start_timestamp_seconds",
                   (double)atomic_load(&m->started), NULL);
    mf_metrics_declare(reg, "mailferry_mailboxes", "gauge",
                       "Mailboxes by state over every batch (last scan)");
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        mf_metrics_set(reg, "mailferry_mailboxes",
                       (double)atomic_load(&m->mailboxes[i]), "state",
                       mf_mailbox_state_name((enum mf_mailbox_state)i), NULL);
    mf_metrics_declare(reg, "mailferry_coordinator_redis_up", "gauge",
                       "1 when the last Redis command worked.");
    mf_metrics_set(reg, "mailferry_coordinator_redis_up",
                   atomic_load(&m->redis_ok) ? 1 : 0, NULL);
    mf_metrics_declare(reg, "mailferry_coordinator_kafka_up", "gauge",
                       "1 when the results consumer works.");
    mf_metrics_set(reg, "mailferry_coordinator_kafka_up",
                   atomic_load(&m->kafka_ok) ? 1 : 0, NULL);
}

bool
mf_service_metrics_alive(const struct mf_service_metrics *m, int64_t now,
                         uint32_t scan_interval_ms) {
    int64_t window =
        3 * (int64_t)(scan_interval_ms ? scan_interval_ms
                                       : MF_SERVICE_DEFAULT_SCAN_MS);
    int64_t beat = (int64_t)atomic_load(&m->heartbeat);

    window = window / 1000 + 1;
    if (window < 60)
        window = 60;
    return beat && now - beat <= window;
}

bool
mf_service_metrics_ready(const struct mf_service_metrics *m, char *why,
                         size_t n) {
    if (!atomic_load(&m->redis_ok)) {
        snprintf(why, n, "Redis does not answer");
        return false;
    }
    if (!atomic_load(&m->kafka_ok)) {
        snprintf(why, n, "the results consumer has no partitions yet");
        return false;
    }
    return true;
}
