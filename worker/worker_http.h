/*
 * The worker's probe and metrics endpoints (docs/design.md §11, §12) on the
 * core HTTP server (mailferry/http.h): /healthz (the main loop turned
 * within the last minute), /readyz (Kafka and Redis answered lately) and
 * /metrics (the counters of struct mf_worker_stats and the connection
 * caps, in the Prometheus text format).
 */
#ifndef MF_WORKER_HTTP_H
#define MF_WORKER_HTTP_H

#include "mailferry/err.h"
#include "mailferry/worker.h"

#include <stdbool.h>

struct worker_http;

/* Serves on addr (":9090", "127.0.0.1:0", ...) until worker_http_stop().
 * stats is borrowed and must outlive the server. */
bool worker_http_start(const char *addr, struct mf_worker_stats *stats,
                       struct worker_http **h_r, struct mf_error *err);
/* The port bound (for tests that ask for port 0). */
unsigned worker_http_port(const struct worker_http *h);
/* Stops and frees; NULL and *h == NULL are fine. */
void worker_http_stop(struct worker_http **h);

#endif
