/*
 * The service's HTTP endpoints (mf_service_http_start(), mailferry/
 * jobs.h): /healthz and /readyz answered from the service's own figures
 * (mf_service_metrics_alive() and _ready(), metrics.c) and /metrics from
 * a registry they are collected into at each scrape, on the HTTP server
 * of core/src/http.
 */
#include "service/service_int.h"

#include "mailferry/http.h"
#include "mailferry/metrics.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <time.h>

struct mf_service_http {
    struct mf_service_metrics *m; /* borrowed */
    uint32_t scan_ms;
    struct mf_metrics *reg; /* owned */
    struct mf_http_health health;
    struct mf_http_server *server; /* owned */
};

static bool
probe_alive(void *ud) {
    struct mf_service_http *h = ud;
    return mf_service_metrics_alive(h->m, (int64_t)time(NULL), h->scan_ms);
}

static bool
probe_ready(void *ud, char *why, size_t n) {
    struct mf_service_http *h = ud;
    return mf_service_metrics_ready(h->m, why, n);
}

static void
probe_collect(void *ud, struct mf_metrics *reg) {
    struct mf_service_http *h = ud;
    mf_service_metrics_collect(h->m, reg);
}

mf_err
mf_service_http_start(const char *listen, struct mf_service_metrics *m,
                      uint32_t scan_interval_ms, struct mf_service_http **h_r,
                      struct mf_error *err) {
    struct mf_service_http *h = mf_xcalloc(1, sizeof(*h));
    mf_err rc;

    h->m = m;
    h->scan_ms = scan_interval_ms;
    h->reg = mf_metrics_new();
    h->health = (struct mf_http_health){probe_alive, probe_ready, probe_collect,
                                        h, h->reg};
    if ((rc = mf_http_server_start(listen, mf_http_health_handler, &h->health,
                                   &h->server, err))) {
        mf_service_http_stop(&h);
        return rc;
    }
    *h_r = h;
    return MF_E_OK;
}

uint16_t
mf_service_http_port(const struct mf_service_http *h) {
    return mf_http_server_port(h->server);
}

void
mf_service_http_stop(struct mf_service_http **hp) {
    struct mf_service_http *h = *hp;

    if (!h)
        return;
    *hp = NULL;
    mf_http_server_stop(&h->server);
    mf_metrics_free(&h->reg);
    free(h);
}
