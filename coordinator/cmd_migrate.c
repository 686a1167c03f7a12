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
#include "cli_direct.h"
#include "commands.h"
#include "mailferry/csv.h"
#include "mailferry/jobs.h"
#include "mailferry/json.h"
#include "mailferry/log.h"
#include "mailferry/migrate.h"
#include "mailferry/util.h"
#include "migrate_output.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "FILE --source URL --target URL [--concurrency N] "
    "[--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--redis URL] "
    "[--json]";

static const struct cli_option options[] = {
    BATCH_DEF_OPTIONS{"concurrency", true,
                      "mailboxes migrated at the same time (default " MF_STR(
                          MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},
    {"redis", true,
     "a shared Redis for the batch records and checkpoints (redis://host:"
     "port, unix:///path); default: a private redis-server for this run"},
    {"batch", true,
     "batch name (default migrate-<time>); with --redis and "
     "--master-key-file a second run of the same batch is an incremental "
     "pass"},
    {"master-key-file", true,
     "key sealing the passwords (default: a key for this run only)"},
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
    CLI_OAUTH_OPTIONS,
    {"direct", false,
     "run the copy engine alone, without the batch pipeline (no Kafka; "
     "checkpoints in --redis or in memory): for debugging and benchmarks"},
    {NULL, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static atomic_bool stop_flag;

static void
on_signal(int sig) {
    (void)sig;
    atomic_store(&stop_flag, true);
}

struct run {
    struct cli_direct d;
    struct mf_csv_mailbox *rows;
    size_t n;
    atomic_size_t next;
    struct mailbox_outcome *out; /* n */
    pthread_mutex_t mu;
    bool json;
    size_t finished;
};

static void *
worker(void *arg) {
    struct run *r = arg;
    struct mf_migrate_options o = r->d.opts;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};

    if (r->d.redis_url &&
        mf_redis_connect(r->d.redis_url, 0, &redis, &err) != MF_E_OK) {
        mf_log_error(NULL, "redis.connect", &err);
        redis = NULL;
    }
    o.redis = redis;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        struct mf_csv_mailbox *row;
        struct mailbox_outcome *out;
        struct mf_migrate_login src, dst;
        char *owned[4];

        if (i >= r->n || atomic_load(&stop_flag))
            break;
        row = &r->rows[i];
        out = &r->out[i];
        out->email = row->email;
        cli_direct_logins(&r->d, row, &src, &dst, owned);
        out->progress = mf_xcalloc(1, sizeof(*out->progress));
        o.progress = out->progress;
        atomic_store(&out->started, true);
        if (r->d.redis_url && !redis) {
            out->result.error = err;
        } else {
            mf_err rc =
                mf_migrate_mailbox(&o, row->email, &src, &dst, &out->result);
            (void)rc; /* the result holds the outcome */
        }
        for (int k = 0; k < 4; k++)
            free(owned[k]);
        pthread_mutex_lock(&r->mu);
        atomic_store(&out->done, true);
        r->finished++;
        if (!r->json)
            migrate_print_mailbox(stdout, out);
        pthread_mutex_unlock(&r->mu);
    }
    mf_redis_free(&redis);
    return NULL;
}

int
cmd_migrate(int argc, char **argv) {
    struct cli cli;
    struct run r = {0};
    struct cli_csv load = {0};
    struct mf_error err = {0};
    pthread_t *threads = NULL;
    uint64_t concurrency;
    size_t nthreads = 0;
    struct sigaction sa;
    double t0;
    struct watch_samples samples = {0};
    int64_t started;
    int exit_code = MF_EXIT_USAGE;

    pthread_mutex_init(&r.mu, NULL);
    if (!cli_parse(&cli, "migrate", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (cli.npositional != 1) {
        fprintf(stderr,
                "mailferry migrate: expected one FILE\nusage: "
                "mailferry migrate %s\n",
                usage);
        goto out;
    }
    {
        bool direct = false;
        uint64_t conc;
        const char *dir = mf_config_get(cli.config, "report-dir", NULL);
        struct sigaction sa2;
        if (mf_config_get_bool(cli.config, "direct", false, &direct, &err) ||
            mf_config_get_u64(cli.config, "concurrency",
                              MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 256,
                              MF_UNIT_NONE, &conc, &err)) {
            fprintf(stderr, "mailferry migrate: %s\n", err.detail);
            goto out;
        }
        if (!direct) {
            memset(&sa2, 0, sizeof(sa2));
            sa2.sa_handler = on_signal;
            sigaction(SIGINT, &sa2, NULL);
            sigaction(SIGTERM, &sa2, NULL);
            signal(SIGPIPE, SIG_IGN);
            exit_code =
                migrate_embedded(&cli, cli.positional[0], (unsigned)conc,
                                 dir ? dir : "mailferry-report", &stop_flag);
            goto out;
        }
    }
    if ((exit_code = cli_direct_read(&cli, "migrate", &r.d)) != -1)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_u64(cli.config, "concurrency",
                          MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 256, MF_UNIT_NONE,
                          &concurrency, &err)) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        goto out;
    }
    r.d.opts.stop = &stop_flag;
    r.json = cli.json;
    if ((exit_code = cli_csv_load(&cli, "migrate", cli.positional[0],
                                  r.d.src_admin.user != NULL || r.d.src_oauth,
                                  &load)) != -1)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (r.d.redis_url) {
        struct mf_redis *probe = NULL;
        if (mf_redis_connect(r.d.redis_url, 0, &probe, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry migrate: Redis: %s\n", err.detail);
            goto out;
        }
        mf_redis_free(&probe);
    }
    r.rows = load.rows;
    r.n = load.n;
    r.out = mf_xcalloc(r.n ? r.n : 1, sizeof(*r.out));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    t0 = mf_monotonic_s();
    started = (int64_t)time(NULL);
    nthreads = concurrency < r.n ? concurrency : r.n;
    threads = mf_xcalloc(nthreads ? nthreads : 1, sizeof(*threads));
    for (size_t i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker, &r) != 0) {
            fprintf(stderr, "mailferry migrate: cannot start a thread\n");
            nthreads = i;
            atomic_store(&stop_flag, true);
            break;
        }
    migrate_watch(&r.mu, r.out, r.n, &r.finished, &stop_flag,
                  !r.json && isatty(STDERR_FILENO), &samples);
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    {
        double secs = mf_monotonic_s() - t0;

        exit_code = migrate_print_summary(stdout, r.out, r.n, secs, r.json,
                                          atomic_load(&stop_flag))
                        ? MF_EXIT_OK
                        : MF_EXIT_FAIL;
    }
    {
        const char *dir = mf_config_get(cli.config, "report-dir", NULL);
        if (!migrate_write_reports(
                dir ? dir : "mailferry-report", r.d.opts.batch,
                mf_config_get(cli.config, "source", NULL),
                mf_config_get(cli.config, "target", NULL), started, r.out, r.n,
                &samples, r.json ? stderr : stdout))
            exit_code = MF_EXIT_ERROR;
    }
out:
    if (r.out)
        for (size_t i = 0; i < r.n; i++) {
            mf_migrate_result_clear(&r.out[i].result);
            free(r.out[i].progress);
        }
    free(r.out);
    free(threads);
    free(samples.v);
    cli_csv_free(&load);
    cli_direct_free(&r.d);
    pthread_mutex_destroy(&r.mu);
    cli_free(&cli);
    return exit_code;
}
