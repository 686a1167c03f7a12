/*
 * `mailferry serve`: the coordinator service (core service.h,
 * mf_service_run) in the foreground until SIGTERM or SIGINT, with
 * /healthz, /readyz and /metrics on --http-listen (core http.h).
 *
 * Exit codes: 0 stopped on a signal; 2 wrong command line; 3 could not
 * start (configuration, key file, Redis, Kafka, HTTP port).
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/crypto.h"
#include "mailferry/log.h"
#include "mailferry/notify.h"
#include "mailferry/service.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* serve                                                              */
/* ------------------------------------------------------------------ */

static const char serve_usage[] =
    "--kafka HOST:PORT[,...] --redis URL --master-key-file F "
    "[--http-listen ADDR] [--topic-prefix P] "
    "[--scan-interval " MF_STR(
        MF_SERVICE_DEFAULT_SCAN_S) "s] "
                                   "[--notify-url URL [--notify-secret-file F] "
                                   "[--notify-stuck-after 1h]]";

static const struct mf_option serve_options[] = {
    {"http-listen", true,
     "serve /healthz, /readyz and /metrics here (e.g. :9090, "
     "127.0.0.1:9090)"},
    {"scan-interval", true,
     "how often to look for expired claims and due incremental passes "
     "(" MF_STR(MF_SERVICE_DEFAULT_SCAN_S) "s)"},
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

static atomic_bool serve_stop;

/* The service's options and what they need, held while it runs. */
struct serve {
    struct mf_service_options o;
    struct mf_service_metrics metrics;
    struct mf_crypto_keyring *kr;
    struct mf_notifier *notifier;
    struct mf_service_http *http;
};

/* The command line; -1 to go on, else the exit code. */
static int
read_options(struct cli *cli, int argc, char **argv, struct serve *sv) {
    struct mf_error err = {0};
    uint64_t scan, stuck;

    if (!cli_parse(cli, "serve", serve_usage, serve_options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    sv->o.redis_url = mf_config_get(cli->config, "redis", NULL);
    if (cli->npositional ||
        !mf_config_get(cli->config, "master-key-file", NULL) ||
        !sv->o.redis_url || !mf_config_get(cli->config, "kafka", NULL))
        return cli_usage("serve", serve_usage,
                         "--kafka, --redis and --master-key-file are required");
    if (mf_config_get_u64(cli->config, "scan-interval",
                          MF_SERVICE_DEFAULT_SCAN_S, 1, 3600, MF_UNIT_SECONDS,
                          &scan, &err) ||
        mf_config_get_u64(cli->config, "notify-stuck-after", 3600, 1,
                          30 * 86400, MF_UNIT_SECONDS, &stuck, &err)) {
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    sv->o.config = cli->config;
    sv->o.group_id = mf_config_get(cli->config, "group-id", NULL);
    sv->o.scan_interval_ms = (uint32_t)scan * 1000;
    sv->o.stuck_after_s = (uint32_t)stuck;
    sv->o.metrics = &sv->metrics;
    mf_service_metrics_init(&sv->metrics);
    return -1;
}

/* The key (no core file from here on), the notifier and the HTTP
 * endpoints; -1 when all are there, else the exit code. */
static int
start(struct cli *cli, struct serve *sv) {
    const char *keyfile = mf_config_get(cli->config, "master-key-file", NULL);
    const char *listen = mf_config_get(cli->config, "http-listen", NULL);
    struct mf_error err = {0};
    mf_err rc;

    /* Before the key is read: no core file, no ptrace by the same user. */
    if (mf_process_no_core_dumps(&err)) {
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        return MF_EXIT_ERROR;
    }
    if (mf_crypto_keyring_load(keyfile, &sv->kr, &err)) {
        fprintf(stderr, "mailferry serve: key file %s: %s\n", keyfile,
                err.detail);
        return MF_EXIT_ERROR;
    }
    sv->o.keyring = sv->kr;
    if ((rc = mf_notifier_from_config(cli->config, &sv->metrics.notify,
                                      &sv->notifier, &err))) {
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        return rc == MF_E_SECRET_FILE ? MF_EXIT_ERROR : MF_EXIT_USAGE;
    }
    sv->o.notifier = sv->notifier;
    if (!listen)
        return -1;
    if (mf_service_http_start(listen, &sv->metrics, sv->o.scan_interval_ms,
                              &sv->http, &err)) {
        fprintf(stderr, "mailferry serve: --http-listen %s: %s\n", listen,
                err.detail);
        return MF_EXIT_ERROR;
    }
    mf_log(MF_LOG_INFO, NULL, "http.listen",
           "/healthz, /readyz and /metrics on %s (port %u)", listen,
           (unsigned)mf_service_http_port(sv->http));
    return -1;
}

int
cmd_serve(int argc, char **argv) {
    struct cli cli;
    struct serve sv = {0};
    struct mf_error err = {0};
    int exit_code;

    if ((exit_code = read_options(&cli, argc, argv, &sv)) >= 0 ||
        (exit_code = start(&cli, &sv)) >= 0)
        goto out;
    exit_code = MF_EXIT_ERROR;
    cli_catch_signals(&serve_stop);
    if (mf_service_run(&sv.o, &serve_stop, &err)) {
        mf_log_error(NULL, "service.start", &err);
        fprintf(stderr, "mailferry serve: %s\n", err.detail);
        goto out;
    }
    exit_code = MF_EXIT_OK;
out:
    /* What is queued gets a few seconds to go out. */
    mf_notifier_free(&sv.notifier, 5000);
    mf_service_http_stop(&sv.http);
    mf_crypto_keyring_free(&sv.kr);
    cli_free(&cli);
    return exit_code;
}
