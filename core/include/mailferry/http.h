/*
 * A small HTTP/1.x server for probes and metrics (docs/design.md §11, §12).
 *
 * Workers and the coordinator service answer /healthz, /readyz and
 * /metrics to Kubernetes and Prometheus. Nothing else is served, so the
 * server is deliberately tiny: POSIX sockets, one background thread running
 * a poll() loop, GET and HEAD only, no request bodies, no keep-alive
 * (every response carries "Connection: close").
 *
 * Limits (a metrics port must never hurt the process it observes):
 *   - the request line and headers together are at most
 *     MF_HTTP_HEADER_MAX bytes (431 beyond, 400 when malformed);
 *   - a connection that has not sent a whole request (or not read its
 *     response) within the timeout is closed (slowloris);
 *   - at most max_conns connections are open at once, and at most
 *     max_per_client of them from one client address: a client past its
 *     share is closed at once, so one client cannot take every slot;
 *   - probes are served first (issue 17 item 5): probe_reserve more
 *     slots open once the max_conns are taken, and serve only /healthz
 *     and /readyz (anything else there gets 503), with a deadline of at
 *     most MF_HTTP_PROBE_TIMEOUT_MS, so a crowd of slow /metrics clients
 *     cannot keep the kubelet waiting until it restarts the process;
 *     past them, clients wait in the kernel's listen backlog;
 *   - the server listens only where --http-listen says (no flag, no
 *     server); ":PORT" is every interface, "127.0.0.1:PORT" loopback;
 *   - the handler runs on the server thread, never on a caller's thread,
 *     and nothing here blocks the caller except mf_http_server_stop(),
 *     which returns promptly (a self-pipe wakes poll).
 *
 * Methods other than GET and HEAD get 405 without calling the handler;
 * for HEAD the server drops the body the handler produced.
 */
#ifndef MAILFERRY_HTTP_H
#define MAILFERRY_HTTP_H

#include "mailferry/err.h"
#include "mailferry/metrics.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_HTTP_HEADER_MAX 8192         /* request line + headers */
#define MF_HTTP_DEFAULT_TIMEOUT_MS 5000 /* per-connection read/write */
#define MF_HTTP_DEFAULT_MAX_CONNS 64    /* open at once */
#define MF_HTTP_DEFAULT_PER_CLIENT 8    /* open at once from one address */
#define MF_HTTP_DEFAULT_PROBE_RESERVE 4 /* slots for /healthz and /readyz */
#define MF_HTTP_PROBE_TIMEOUT_MS 1000   /* a reserved slot's deadline */

struct mf_http_server;

/* What the handler answers. Before the call the server sets status 404,
 * content_type "text/plain; charset=utf-8" and an empty body. */
struct mf_http_response {
    int status;               /* 200, 404, 503, ... */
    const char *content_type; /* borrowed: must be a static string */
    struct mf_buf body;       /* filled by the handler; owned by the server */
};

/* Called on the server thread for every GET/HEAD request; path is the
 * request target without the query string ("/metrics"), method "GET" or
 * "HEAD". Must be quick and thread-safe against the rest of the program. */
typedef void (*mf_http_handler)(void *ud, const char *method, const char *path,
                                struct mf_http_response *resp);

/* Tunables; zero fields take the defaults above. */
struct mf_http_options {
    unsigned timeout_ms;     /* per connection: whole request, then response */
    unsigned max_conns;      /* open connections at once */
    unsigned max_per_client; /* of those, from one client address */
    unsigned probe_reserve;  /* extra slots that serve only the probes */
};

/* Starts listening on addr and serving on a new thread. addr is
 * "127.0.0.1:9090", "0.0.0.0:9090", ":9090" (all IPv4 and IPv6 addresses)
 * or "[::1]:9090"; port 0 picks a free port (see mf_http_server_port).
 * The socket uses SO_REUSEADDR. On success *s_r owns the server; on error
 * (MF_E_CONFIG for a bad address, MF_E_IO for bind/listen/thread failures,
 * detail in *err) nothing is left running and *s_r is untouched. */
MF_WARN_UNUSED mf_err mf_http_server_start(const char *addr,
                                           mf_http_handler handler, void *ud,
                                           struct mf_http_server **s_r,
                                           struct mf_error *err);
/* The same with options (opts may be NULL). */
MF_WARN_UNUSED mf_err
mf_http_server_start_opts(const char *addr, const struct mf_http_options *opts,
                          mf_http_handler handler, void *ud,
                          struct mf_http_server **s_r, struct mf_error *err);

/* The port actually bound (useful after asking for port 0). */
uint16_t mf_http_server_port(const struct mf_http_server *s);

/* Stops the thread (joins it), closes every connection and the listening
 * socket, frees the server and sets *s to NULL. NULL and *s == NULL are
 * fine. The handler is not called after this returns. */
void mf_http_server_stop(struct mf_http_server **s);

/* A ready-made handler for the probe endpoints, built on callbacks that
 * all run on the server thread:
 *   /healthz  200 "ok\n" when alive() is true (or alive is NULL), else
 *             503 "not alive\n";
 *   /readyz   200 "ready\n" when ready() is true (or ready is NULL), else
 *             503 "not ready: <why>\n" with the reason ready() wrote into
 *             why (n bytes; truncate, always NUL-terminate);
 *   /metrics  collect() refreshes gauges (may be NULL), then the registry
 *             is rendered with Content-Type MF_METRICS_CONTENT_TYPE
 *             (404 when metrics is NULL);
 *   anything else 404.
 * Plain-text bodies are "text/plain; charset=utf-8". Every response also
 * carries Content-Length, "Cache-Control: no-store" and
 * "Connection: close"; HEAD gets the same headers without the body. */
struct mf_http_health {
    bool (*alive)(void *ud);
    bool (*ready)(void *ud, char *why, size_t n);
    void (*collect)(void *ud, struct mf_metrics *m);
    void *ud;                   /* passed to the three callbacks */
    struct mf_metrics *metrics; /* borrowed: outlives the server */
};
void mf_http_health_handler(void *ud /* struct mf_http_health * */,
                            const char *method, const char *path,
                            struct mf_http_response *resp);

#endif
