/*
 * `mailferry migrate FILE --source URL --target URL`: migrates the
 * mailboxes of a batch CSV in this process, N at a time, and prints one
 * line of statistics per mailbox and a summary (or one JSON document with
 * --json). Exit 0 when every mailbox finished, 1 when one failed, 2 on a
 * wrong command line, 3 when it could not start (CSV unreadable, Redis
 * unreachable). Ctrl-C stops every mailbox at a message boundary with a
 * checkpoint; the next run resumes there.
 *
 * Credentials: each row's UserName and Password log in to the source and,
 * unless TargetUserName/TargetPassword columns or --target-admin say
 * otherwise, to the target too. With --admin the admin logs in on the
 * user's behalf: SASL PLAIN with the user as authorization identity
 * (default), or a login name made from --admin-login-format, such as
 * "{user}*{admin}" (Dovecot master users) or "{domain}/{admin}/{user}".
 * Passwords come from files only and are wiped after the run.
 */
#include "batch_def.h"
#include "cli.h"
#include "commands.h"
#include "mailferry/csv.h"
#include "mailferry/direct.h"
#include "mailferry/embedded.h"
#include "mailferry/migrate.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "FILE --source URL --target URL [--concurrency N] "
    "[--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--redis URL] "
    "[--json]";

static const struct mf_option options[] = {
    MF_BATCHDEF_OPTIONS{"concurrency", true,
                        "mailboxes migrated at the same time (default " MF_STR(
                            MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},
    {"batch", true,
     "batch name (default migrate-<time>); with --redis and "
     "--master-key-file a second run of the same batch is an incremental "
     "pass"},
    {"bind-address", true, "local address for outgoing connections"},
    {"command-timeout", true,
     "seconds a server may take to answer one IMAP command, plus a second "
     "per 64 KiB it moves (default " MF_STR(
         MF_MIGRATE_DEFAULT_COMMAND_TIMEOUT_S) "); past it: SERVER_TOO_SLOW"},
    {"egress-ip", true,
     "this process's address for the per-IP caps (default: the local "
     "address toward each server)"},
    {"lease-ttl", true,
     "lifetime of a connection lease that is not renewed (30s); a dead "
     "process's slots come back after it"},
    {"progress-interval", true,
     "without a terminal, seconds between progress lines (default 10; 0: "
     "none); on a terminal the progress is redrawn in place every second"},
    {"no-progress", false, "no progress display or lines (for scripts)"},
    {"report-dir", true,
     "write report.csv, report.json and report.html "
     "here (default ./mailferry-report)"},
    MF_OAUTH_OPTIONS,
    {"direct", false,
     "run the copy engine alone, without the batch pipeline (no Kafka; "
     "checkpoints in --redis or in memory): for debugging and benchmarks"},
    {NULL, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static atomic_bool stop_flag;

static int
define(void *ud, const char *batch, const struct mf_crypto_keyring *kr,
       struct mf_batchdef *d) {
    struct cli *cli = ud;
    return batch_def_read(cli, "migrate", batch, cli->positional[0], kr, false,
                          NULL, d);
}

static int
settings(void *ud, struct mf_redis *r, const char *batch) {
    int changed = 0;
    return batch_def_apply_settings(ud, "migrate", r, batch, &changed);
}

/* The embedded default: the batch pipeline in this process. */
static int
embedded(struct cli *cli, unsigned concurrency, const char *report_dir,
         uint64_t progress_s) {
    struct mf_embedded_options o = {
        .batch = mf_config_get(cli->config, "batch", NULL),
        .redis_url = mf_config_get(cli->config, "redis", NULL),
        .key_file = mf_config_get(cli->config, "master-key-file", NULL),
        .report_dir = report_dir,
        .concurrency = concurrency,
        .json = cli->json,
        .progress_interval_s = (double)progress_s,
        .log_format = mf_config_get(cli->config, "log-format", NULL),
        .log_level = mf_config_get(cli->config, "log-level", NULL),
        .bind_address = mf_config_get(cli->config, "bind-address", NULL),
        .egress_ip = mf_config_get(cli->config, "egress-ip", NULL),
        .stop = &stop_flag,
        .define = define,
        .settings = settings,
        .ud = cli,
    };
    return mf_embedded_run(&o);
}

/* What both ways of running read. */
struct run {
    bool direct;
    uint64_t concurrency;
    uint64_t progress_s; /* 0: no progress */
    const char *report_dir;
};

/* The command line; -1 to go on, else the exit code. */
static int
read_run(struct cli *cli, int argc, char **argv, struct run *r) {
    struct mf_error err = {0};
    bool quiet = false;

    int exit_code =
        cli_parse_one(cli, "migrate", usage, options, argc, argv, "FILE");

    if (exit_code >= 0)
        return exit_code;
    if (mf_config_get_bool(cli->config, "direct", false, &r->direct, &err) ||
        mf_config_get_u64(cli->config, "concurrency",
                          MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 256, MF_UNIT_NONE,
                          &r->concurrency, &err) ||
        mf_config_get_bool(cli->config, "no-progress", false, &quiet, &err) ||
        mf_config_get_u64(cli->config, "progress-interval", 10, 0, 86400,
                          MF_UNIT_SECONDS, &r->progress_s, &err)) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    if (quiet)
        r->progress_s = 0;
    r->report_dir = mf_config_get(cli->config, "report-dir", NULL);
    if (!r->report_dir)
        r->report_dir = "mailferry-report";
    return -1;
}

/* --direct: the copy engine alone (mf_direct_run()). */
static int
direct(struct cli *cli, const struct run *r) {
    struct mf_direct_settings d = {0};
    struct mf_direct_options o = {0};
    struct mf_csv_rows load = {0};
    struct mf_error err = {0};
    int exit_code;

    if ((exit_code = cli_direct_read(cli, "migrate", &d)) != -1 ||
        (exit_code = cli_csv_load(cli, "migrate", cli->positional[0],
                                  mf_direct_connect_password_optional(&d.c),
                                  &load)) != -1)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (d.redis_url) {
        struct mf_redis *probe = NULL;
        if (mf_redis_connect(d.redis_url, 0, &probe, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry migrate: Redis: %s\n", err.detail);
            goto out;
        }
        mf_redis_free(&probe);
    }
    cli_catch_signals(&stop_flag);
    o.opts = d.opts;
    o.stop = &stop_flag;
    o.redis_url = d.redis_url;
    o.rows = load.rows;
    o.n = load.n;
    o.login = mf_direct_settings_logins;
    o.login_ud = &d;
    o.concurrency = (unsigned)r->concurrency;
    o.json = cli->json;
    o.progress_interval_s = (double)r->progress_s;
    o.report_dir = r->report_dir;
    o.source = mf_config_get(cli->config, "source", NULL);
    o.target = mf_config_get(cli->config, "target", NULL);
    switch (mf_direct_run(&o)) {
    case MF_DIRECT_OK:
        exit_code = MF_EXIT_OK;
        break;
    case MF_DIRECT_FAILED:
        exit_code = MF_EXIT_FAIL;
        break;
    case MF_DIRECT_NO_REPORT:
        exit_code = MF_EXIT_ERROR;
        break;
    }
out:
    mf_csv_rows_free(&load);
    mf_direct_settings_free(&d);
    return exit_code;
}

int
cmd_migrate(int argc, char **argv) {
    struct cli cli;
    struct run r = {0};
    int exit_code;

    if ((exit_code = read_run(&cli, argc, argv, &r)) >= 0)
        goto out;
    if (r.direct) {
        exit_code = direct(&cli, &r);
        goto out;
    }
    cli_catch_signals(&stop_flag);
    exit_code =
        embedded(&cli, (unsigned)r.concurrency, r.report_dir, r.progress_s);
out:
    cli_free(&cli);
    return exit_code;
}
