/*
 * mailferry-http-demo: a tiny program serving /healthz, /readyz and
 * /metrics with the core's HTTP server and registry, for
 * test_http_scrape.py to fetch with urllib and parse.
 *
 *   mailferry-http-demo [ADDR]        (default 127.0.0.1:0)
 *
 * Prints "port N" on stdout once listening, then obeys one command per
 * line on stdin, answering "ok" to each:
 *   ready | notready REASON | alive | dead | add N | quit
 * EOF on stdin also quits. Every scrape of /metrics counts itself
 * (demo_scrapes_total), so a test can see the metrics move.
 */
#include "mailferry/http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct demo {
    atomic_bool alive;
    pthread_mutex_t mu; /* guards why */
    char why[256];      /* empty: ready */
};

static bool
demo_alive(void *ud) {
    struct demo *d = ud;
    return d->alive;
}

static bool
demo_ready(void *ud, char *why, size_t n) {
    struct demo *d = ud;
    pthread_mutex_lock(&d->mu);
    bool ready = d->why[0] == '\0';
    snprintf(why, n, "%s", d->why);
    pthread_mutex_unlock(&d->mu);
    return ready;
}

static void
demo_collect(void *ud, struct mf_metrics *m) {
    (void)ud;
    mf_metrics_add(m, "demo_scrapes_total", 1, NULL);
}

/* Families that exercise every rendering rule the parser must handle. */
static void
fill(struct mf_metrics *m) {
    mf_metrics_declare(m, "demo_scrapes_total", "counter",
                       "Scrapes of /metrics so far.");
    mf_metrics_declare(m, "mailferry_jobs_total", "counter",
                       "Jobs finished, by outcome.");
    mf_metrics_add(m, "mailferry_jobs_total", 3, "outcome", "synced", NULL);
    mf_metrics_add(m, "mailferry_jobs_total", 1, "outcome", "failed", NULL);
    mf_metrics_declare(m, "mailferry_mailboxes", "gauge",
                       "Mailboxes by state.\nSecond line with a \\ too.");
    mf_metrics_set(m, "mailferry_mailboxes", 12, "state", "running", NULL);
    mf_metrics_set(m, "mailferry_mailboxes", 0.25, "state", "paused", NULL);
    mf_metrics_declare(m, "mailferry_errors_total", "counter",
                       "Errors by code.");
    mf_metrics_add(m, "mailferry_errors_total", 2, "code", "IMAP_NO", "detail",
                   "quote \" backslash \\ newline \n end", NULL);
    mf_metrics_add(m, "mailferry_errors_total", 1, "code", "TIMEOUT", "detail",
                   "\xc3\xa9t\xc3\xa9, {braces}=x", NULL);
    mf_metrics_declare(m, "mailferry_lag", "gauge", "Consumer lag.");
    mf_metrics_set(m, "mailferry_lag", -1.0 / 0.0, "partition", "0", NULL);
    mf_metrics_set(m, "mailferry_lag", 1e21, "partition", "1", NULL);
    const double bounds[] = {0.1, 1, 10};
    mf_metrics_declare_histogram(m, "mailferry_append_seconds",
                                 "APPEND latency.", bounds, 3);
    const double obs[] = {0.05, 0.5, 0.5, 3, 30};
    for (size_t i = 0; i < MF_ARRAY_LEN(obs); i++)
        mf_metrics_observe(m, "mailferry_append_seconds", obs[i], "server",
                           "target", NULL);
}

int
main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    struct demo d = {.alive = true, .mu = PTHREAD_MUTEX_INITIALIZER};
    struct mf_metrics *m = mf_metrics_new();
    fill(m);
    struct mf_http_health h = {.alive = demo_alive,
                               .ready = demo_ready,
                               .collect = demo_collect,
                               .ud = &d,
                               .metrics = m};
    struct mf_http_server *s = NULL;
    struct mf_error err = {0};
    if (mf_http_server_start(addr, mf_http_health_handler, &h, &s, &err) !=
        MF_E_OK) {
        fprintf(stderr, "mailferry-http-demo: %s\n", err.detail);
        return 1;
    }
    printf("port %u\n", (unsigned)mf_http_server_port(s));
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "quit") == 0)
            break;
        if (strcmp(line, "alive") == 0 || strcmp(line, "dead") == 0) {
            d.alive = line[0] == 'a';
        } else if (strcmp(line, "ready") == 0 ||
                   strncmp(line, "notready ", 9) == 0) {
            pthread_mutex_lock(&d.mu);
            snprintf(d.why, sizeof(d.why), "%s",
                     line[0] == 'r' ? "" : line + 9);
            pthread_mutex_unlock(&d.mu);
        } else if (strncmp(line, "add ", 4) == 0) {
            mf_metrics_add(m, "mailferry_jobs_total", strtod(line + 4, NULL),
                           "outcome", "synced", NULL);
        } else {
            printf("unknown command\n");
            fflush(stdout);
            continue;
        }
        printf("ok\n");
        fflush(stdout);
    }
    mf_http_server_stop(&s);
    mf_metrics_free(&m);
    return 0;
}
