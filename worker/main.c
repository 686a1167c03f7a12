/*
 * mailferry-worker: consumes per-mailbox jobs from Kafka and migrates them
 * (docs/design.md §3, §6). The job loop is mf_worker_run() in core
 * (mailferry/worker.h); this program reads the settings, loads the master
 * key ring, turns SIGTERM and SIGINT into a graceful shutdown, optionally
 * serves /healthz, /readyz and /metrics, and maps the outcome to an exit
 * code:
 *
 *   0  clean shutdown (every running job stopped, handed back, released)
 *   1  shutdown timeout: jobs were abandoned (their claims expire)
 *   2  wrong command line
 *   3  could not start (configuration, key file, Kafka client, HTTP port),
 *      or Kafka ended its membership for good (another worker took its
 *      --instance-id): its jobs were handed back first
 *
 * Settings (flags > MAILFERRY_* environment > --config file, config.h):
 * every option below is also a config key of the same name, and any
 * librdkafka property passes through as --kafka.<property> VALUE (or
 * kafka.<property> in the file, MAILFERRY_KAFKA_<PROPERTY> in the
 * environment; kafka.<property>-file reads a secret from a file).
 *
 * The command line is read by core's parser (mailferry/args.h), the one
 * the coordinator's commands use; this program words its own messages.
 */
#include "mailferry/args.h"
#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/log.h"
#include "mailferry/util.h"
#include "mailferry/version.h"
#include "mailferry/worker.h"
#include "worker_http.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    EXIT_OK = 0,
    EXIT_ABANDONED = 1,
    EXIT_USAGE = 2,
    EXIT_START = 3,
};

static const struct mf_option options[] = {
    {"kafka", true, "Kafka bootstrap servers HOST:PORT[,HOST:PORT...]"},
    {"redis", true, "Redis URL: redis://host:port[/db] or unix:///path"},
    {"master-key-file", true, "key file that opens the job credentials"},
    {"slots", true,
     "mailboxes migrated at the same time (default " MF_STR(
         MF_WORKER_DEFAULT_SLOTS) ")"},
    {"worker-id", true, "name in claims and results (default host/pid)"},
    {"bind-address", true, "local address for IMAP connections"},
    {"egress-ip", true,
     "this worker's address for the per-IP caps (default: the local "
     "address toward each server)"},
    {"topic-prefix", true, "Kafka topic prefix (default mailferry)"},
    {"group-id", true, "consumer group (default mailferry-workers)"},
    {"instance-id", true,
     "static group membership: this worker's unique name in the group, "
     "e.g. the pod name (default none: dynamic membership)"},
    {"claim-ttl", true,
     "claim lifetime, renewed every third (default 30s); a dead worker's "
     "jobs are requeued after it"},
    {"lease-ttl", true, "connection lease lifetime for the caps (30s)"},
    {"progress-interval", true, "progress messages this often (2s)"},
    {"shutdown-timeout", true,
     "on SIGTERM, wait this long for running jobs to stop (25s)"},
    {"http-listen", true,
     "serve /healthz, /readyz and /metrics on ADDR (e.g. :9090)"},
    {"config", true, "read settings from FILE (flags and MAILFERRY_* win)"},
    {"log-format", true, "text (default) or json"},
    {"log-level", true, "debug, info (default), warn or error"},
    {"help", false, "show this help"},
    {"version", false, "print the version"},
    {NULL, false, NULL},
};

static void
usage(FILE *out) {
    fprintf(out, "usage: mailferry-worker --kafka HOST:PORT --redis URL "
                 "--master-key-file F [options]\n\noptions:\n");
    mf_config_print_options(out, options, 28);
    fprintf(out, "  %-28s %s\n", "--kafka.PROPERTY VALUE",
            "any librdkafka property (security.protocol, sasl.*, ssl.*)");
}

static int
usage_error(const char *msg, const char *arg) {
    fprintf(stderr,
            "mailferry-worker: %s%s%s\n(mailferry-worker --help lists the "
            "options)\n",
            msg, arg ? ": " : "", arg ? arg : "");
    return EXIT_USAGE;
}

/* Parses argv into flags of cfg (no positional arguments). Returns -1
 * to go on, else an exit code. */
static int
parse_args(struct mf_config *cfg, int argc, char **argv) {
    const struct mf_option *const tables[] = {options, NULL};
    struct mf_error err = {0};
    int n;

    if (mf_config_parse_args(cfg, tables, argc - 1, argv + 1, NULL, 0, &n,
                             &err))
        return usage_error(err.detail, NULL);
    return -1;
}

static atomic_bool stop_flag;
static atomic_int signals;

static void
on_signal(int sig) {
    (void)sig;
    /* A second signal means "now": the claims expire by themselves. */
    if (atomic_fetch_add(&signals, 1) >= 1)
        _exit(EXIT_ABANDONED);
    atomic_store(&stop_flag, true);
}

/* A duration option in ms (the value in seconds, with s/m/h suffixes). */
static bool
duration_ms(const struct mf_config *cfg, const char *key, uint64_t def_s,
            long *ms_r, struct mf_error *err) {
    uint64_t v;

    if (mf_config_get_u64(cfg, key, def_s, 1, 86400, MF_UNIT_SECONDS, &v,
                          err) != MF_E_OK)
        return false;
    *ms_r = (long)v * 1000;
    return true;
}

/* --help, --version, --config and the log settings; -1 to go on, else
 * the exit code. */
static int
read_general(struct mf_config *cfg, int argc, char **argv) {
    enum mf_log_format fmt = MF_LOG_TEXT;
    enum mf_log_level lvl = MF_LOG_INFO;
    struct mf_error err = {0};
    const char *v;
    int code = parse_args(cfg, argc, argv);

    if (code >= 0)
        return code;
    if (mf_config_get(cfg, "help", NULL)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (mf_config_get(cfg, "version", NULL)) {
        printf("mailferry-worker %s\n", MF_VERSION);
        return EXIT_OK;
    }
    if ((v = mf_config_get(cfg, "config", NULL)) &&
        mf_config_load_file(cfg, v, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry-worker: %s\n", err.detail);
        return EXIT_USAGE;
    }
    if ((v = mf_config_get(cfg, "log-format", NULL)) &&
        !mf_log_format_parse(v, &fmt))
        return usage_error("--log-format is text or json", v);
    if ((v = mf_config_get(cfg, "log-level", NULL)) &&
        !mf_log_level_parse(v, &lvl))
        return usage_error("--log-level is debug, info, warn or error", v);
    mf_log_setup(fmt, lvl, stderr);
    return -1;
}

/* The worker's options; -1 when read, else the exit code. */
static int
read_worker_options(struct mf_config *cfg, struct mf_worker_options *o) {
    struct mf_error err = {0};
    uint64_t slots;

    memset(o, 0, sizeof(*o));
    o->config = cfg;
    o->redis_url = mf_config_get(cfg, "redis", NULL);
    if (!mf_config_get(cfg, "kafka", NULL) &&
        !mf_config_get(cfg, "kafka.bootstrap.servers", NULL))
        return usage_error("--kafka HOST:PORT is required", NULL);
    if (!o->redis_url)
        return usage_error("--redis URL is required", NULL);
    if (!mf_config_get(cfg, "master-key-file", NULL))
        return usage_error("--master-key-file F is required", NULL);
    if (mf_config_get_u64(cfg, "slots", MF_WORKER_DEFAULT_SLOTS, 1,
                          MF_WORKER_MAX_SLOTS, MF_UNIT_NONE, &slots,
                          &err) != MF_E_OK ||
        !duration_ms(cfg, "claim-ttl", 30, &o->claim_ttl_ms, &err) ||
        !duration_ms(cfg, "lease-ttl", 30, &o->lease_ttl_ms, &err) ||
        !duration_ms(cfg, "progress-interval", 2, &o->progress_interval_ms,
                     &err) ||
        !duration_ms(cfg, "shutdown-timeout", 25, &o->shutdown_timeout_ms,
                     &err))
        return usage_error(err.detail, NULL);
    o->slots = (unsigned)slots;
    o->worker_id = mf_config_get(cfg, "worker-id", NULL);
    o->bind_address = mf_config_get(cfg, "bind-address", NULL);
    o->egress_ip = mf_config_get(cfg, "egress-ip", NULL);
    o->group_id = mf_config_get(cfg, "group-id", NULL);
    o->instance_id = mf_config_get(cfg, "instance-id", NULL);
    o->topic_prefix = mf_config_get(cfg, "topic-prefix", NULL);
    return -1;
}

/* No core file, then the master key; false (logged) when either fails. */
static bool
load_key(const struct mf_config *cfg, struct mf_crypto_keyring **kr_r) {
    struct mf_error err = {0};

    /* Before the key is read: no core file, no ptrace by the same user. */
    if (mf_process_no_core_dumps(&err) != MF_E_OK) {
        mf_log_error(NULL, "worker.harden", &err);
        return false;
    }
    if (mf_crypto_keyring_load(mf_config_get(cfg, "master-key-file", NULL),
                               kr_r, &err) != MF_E_OK) {
        mf_log_error(NULL, "worker.master_key", &err);
        return false;
    }
    return true;
}

static void
catch_signals(void) {
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv) {
    struct mf_config *cfg = mf_config_new();
    struct mf_crypto_keyring *kr = NULL;
    struct mf_worker_options o;
    struct mf_worker_stats stats;
    struct worker_http *http = NULL;
    struct mf_error err = {0};
    const char *listen;
    int code;
    mf_err rc;

    mf_malloc_tune();
    if ((code = read_general(cfg, argc, argv)) >= 0 ||
        (code = read_worker_options(cfg, &o)) >= 0)
        goto out;
    code = EXIT_START;
    if (!load_key(cfg, &kr))
        goto out;
    o.keyring = kr;
    catch_signals();
    mf_worker_stats_init(&stats);
    if ((listen = mf_config_get(cfg, "http-listen", NULL)) &&
        !worker_http_start(listen, &stats, &http, &err)) {
        mf_log_error(NULL, "worker.http", &err);
        goto out;
    }
    rc = mf_worker_run(&o, &stop_flag, &stats, &err);
    if (rc == MF_E_TIMEOUT) {
        /* Abandoned job threads still use the key ring and settings:
         * leave without freeing anything or running exit handlers. */
        mf_log_error(NULL, "worker.exit", &err);
        fflush(NULL);
        _exit(EXIT_ABANDONED);
    }
    if (rc == MF_E_OK) {
        code = EXIT_OK;
    } else {
        mf_log_error(NULL, "worker.exit", &err);
        code = EXIT_START;
    }
out:
    worker_http_stop(&http);
    mf_crypto_keyring_free(&kr);
    mf_config_free(&cfg);
    return code;
}
