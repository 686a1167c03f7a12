/*
 * `mailferry serve`: the coordinator service (core jobs.h,
 * mf_service_run) in the foreground until SIGTERM or SIGINT, with
 * /healthz, /readyz and /metrics on --http-listen (core http.h).
 *
 * Exit codes: 0 stopped on a signal; 2 wrong command line; 3 could not
 * start (configuration, key file, Redis, Kafka, HTTP port).
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/crypto.h"
#include "mailferry/http.h"
#include "mailferry/jobs.h"
#include "mailferry/log.h"
#include "mailferry/metrics.h"
#include "mailferry/notify.h"
#include "mailferry/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* serve                                                              */
/* ------------------------------------------------------------------ */

static const char serve_usage[] =
    "--kafka HOST:PORT[,...] --redis URL --master-key-file F "
    "[--http-listen ADDR] [--topic-prefix P] [--scan-interval 5s] "
    "[--notify-url URL [--notify-secret-file F] [--notify-stuck-after 1h]]";

static const struct cli_option serve_options[] = {
    {"http-listen", true,
     "serve /healthz, /readyz and /metrics here (e.g. :9090, "
     "127.0.0.1:9090)"},
    {"scan-interval", true,
     "how often to look for expired claims and due incremental passes (5s)"},
    {"group-id", true,
     "consumer group on the results topic (mailferry-coordinator)"},
    {"notify-url", true,
     "POST JSON notifications here (batch state changes, failed and "
     "first-synced mailboxes, stuck batches; docs/operations.md)"},
    {"notify-secret-file", true,
     "sign notifications with this secret (X-Mailferry-Signature: "
     "sha256=HMAC)"},
    {"notify-stuck-after", true,
     "announce a running batch with no result or progress for this long "
     "(1h)"},
    {"notify-ca-file", true, "CA file for an https:// --notify-url"},
    {NULL, false, NULL},
};

/* Reads a secret file whole (at most 4 KiB, one trailing newline
 * dropped) into a buffer the caller wipes and frees. */
static bool
read_secret(const char *path, uint8_t **data_r, size_t *len_r,
            struct mf_error *err) {
    uint8_t *buf = mf_xmalloc(4097);
    size_t len = 0;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        mf_error_set(err, MF_E_IO, "%s: %s", path, strerror(errno));
        free(buf);
        return false;
    }
    while (len < 4097 && (got = read(fd, buf + len, 4097 - len)) > 0)
        len += (size_t)got;
    close(fd);
    if (len == 0 || len > 4096) {
        mf_error_set(err, MF_E_CONFIG, "%s: %s", path,
                     len ? "longer than 4 KiB" : "empty");
        OPENSSL_cleanse(buf, 4097);
        free(buf);
        return false;
    }
    if (buf[len - 1] == '\n')
        len--;
    *data_r = buf;
    *len_r = len;
    return true;
}

static atomic_bool serve_stop;

static void
on_signal(int sig) {
    (void)sig;
    atomic_store(&serve_stop, true);
}

struct probe {
    struct mf_service_metrics *m;
    uint32_t scan_ms;
};

static bool
probe_alive(void *ud) {
    struct probe *p = ud;
    return mf_service_metrics_alive(p->m, (int64_t)time(NULL), p->scan_ms);
}

static bool
probe_ready(void *ud, char *why, size_t n) {
    struct probe *p = ud;
    return mf_service_metrics_ready(p->m, why, n);
}

static void
probe_collect(void *ud, struct mf_metrics *reg) {
    struct probe *p = ud;
    mf_service_metrics_collect(p->m, reg);
}

int
cmd_serve(int argc, char **argv) {
    struct cli cli;
    struct mf_crypto_keyring *kr = NULL;
    struct mf_http_server *http = NULL;
    struct mf_metrics *reg = NULL;
    struct mf_service_metrics metrics;
    struct mf_service_options o = {0};
    struct mf_http_health health = {0};
    struct probe probe;
    struct mf_error err = {0};
    struct sigaction sa;
    struct mf_notify_options no = {0};
    struct mf_notifier *notifier = NULL;
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    char host[64] = "";
    const char *keyfile, *listen, *v;
    uint64_t scan, stuck;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "serve", serve_usage, serve_options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    keyfile = mf_config_get(cli.config, "master-key-file", NULL);
    o.redis_url = mf_config_get(cli.config, "redis", NULL);
    if (cli.npositional || !keyfile || !o.redis_url ||
        !mf_config_get(cli.config, "kafka", NULL)) {
        fprintf(stderr,
                "mailferry serve: --kafka, --redis and --master-key-file are "
                "required\nusage: mailferry serve %s\n",
                serve_usage);
        goto out;
    }
    if (mf_config_get_u64(cli.config, "scan-interval", 5, 1, 3600,
                          MF_UNIT_SECONDS, &scan, &err) ||
        mf_config_get_u64(cli.config, "notify-stuck-after", 3600, 1, 30 * 86400,
                          MF_UNIT_SECONDS, &stuck, &err)) {
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    /* Before the key is read: no core file, no ptrace by the same user. */
    if (mf_process_no_core_dumps(&err)) {
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        goto out;
    }
    if (mf_crypto_keyring_load(keyfile, &kr, &err)) {
        fprintf(stderr, "mailferry serve: key file %s: %s\n", keyfile,
                err.detail);
        goto out;
    }
    mf_service_metrics_init(&metrics);
    o.config = cli.config;
    o.keyring = kr;
    o.group_id = mf_config_get(cli.config, "group-id", NULL);
    o.scan_interval_ms = (uint32_t)scan * 1000;
    o.metrics = &metrics;
    o.stuck_after_s = (uint32_t)stuck;
    if ((no.url = mf_config_get(cli.config, "notify-url", NULL))) {
        if ((v = mf_config_get(cli.config, "notify-secret-file", NULL)) &&
            !read_secret(v, &secret, &secret_len, &err)) {
            fprintf(stderr, "mailferry serve: --notify-secret-file %s\n",
                    err.detail);
            goto out;
        }
        gethostname(host, sizeof(host) - 1);
        no.secret = secret;
        no.secret_len = secret_len;
        no.sender = host[0] ? host : "mailferry";
        no.ca_file = mf_config_get(cli.config, "notify-ca-file", NULL);
        no.metrics = &metrics.notify;
        if (mf_notifier_new(&no, &notifier, &err)) {
            fprintf(stderr, "mailferry serve: --notify-url: %s\n", err.detail);
            exit_code = MF_EXIT_USAGE;
            goto out;
        }
        o.notifier = notifier;
    }

    if ((listen = mf_config_get(cli.config, "http-listen", NULL))) {
        reg = mf_metrics_new();
        probe = (struct probe){&metrics, o.scan_interval_ms};
        health = (struct mf_http_health){probe_alive, probe_ready,
                                         probe_collect, &probe, reg};
        if (mf_http_server_start(listen, mf_http_health_handler, &health, &http,
                                 &err)) {
            fprintf(stderr, "mailferry serve: --http-listen %s: %s\n", listen,
                    err.detail);
            goto out;
        }
        mf_log(MF_LOG_INFO, NULL, "http.listen",
               "/healthz, /readyz and /metrics on %s (port %u)", listen,
               (unsigned)mf_http_server_port(http));
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mf_service_run(&o, &serve_stop, &err)) {
        mf_log_error(NULL, "service.start", &err);
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        goto out;
    }
    exit_code = MF_EXIT_OK;
out:
    /* What is queued gets a few seconds to go out. */
    mf_notifier_free(&notifier, 5000);
    if (secret) {
        OPENSSL_cleanse(secret, secret_len);
        free(secret);
    }
    mf_http_server_stop(&http);
    mf_metrics_free(&reg);
    mf_crypto_keyring_free(&kr);
    cli_free(&cli);
    return exit_code;
}
