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
#include "cli_login.h"
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
                      "mailboxes migrated at the same time (default 4)"},
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
     "per 64 KiB it moves (default 300); past it: SERVER_TOO_SLOW"},
    {"egress-ip", true,
     "this process's address for the per-IP caps (default: the local "
     "address toward each server)"},
    {"lease-ttl", true,
     "lifetime of a connection lease that is not renewed (30s); a dead "
     "process's slots come back after it"},
    {"report-dir", true,
     "write report.csv, report.json and report.html "
     "here (default ./mailferry-report)"},
    {"direct", false,
     "run the copy engine alone, without the batch pipeline (no Kafka; "
     "checkpoints in --redis or in memory): for debugging and benchmarks"},
    {NULL, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Mailboxes from the CSV                                              */
/* ------------------------------------------------------------------ */

struct csv_load {
    struct csv_mailbox *rows;
    size_t n;
    uint64_t issues;
    const char *path;
};

static char *
dup_or_null(const char *s) {
    return s ? mf_xstrdup(s) : NULL;
}

static void
on_row(void *ud, const struct mf_csv_row *r) {
    struct csv_load *l = ud;
    struct csv_mailbox *row;

    l->rows = mf_xreallocarray(l->rows, l->n + 1, sizeof(*l->rows));
    row = &l->rows[l->n++];
    memset(row, 0, sizeof(*row));
    row->email = mf_xstrdup(r->email);
    row->username = mf_xstrdup(r->username);
    row->password = dup_or_null(r->password);
    row->target_username = dup_or_null(r->target_username);
    row->target_password = dup_or_null(r->target_password);
}

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct csv_load *l = ud;
    l->issues++;
    fprintf(stderr, "%s:%llu:%u: error: %s: %s [%s]\n", l->path,
            (unsigned long long)is->line, is->column, mf_strerror(is->code),
            is->detail, mf_err_name(is->code));
}

static void
rows_free(struct csv_mailbox *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        mf_secret_free(&rows[i].password);
        mf_secret_free(&rows[i].target_password);
        free(rows[i].email);
        free(rows[i].username);
        free(rows[i].target_username);
    }
    free(rows);
}

/* ------------------------------------------------------------------ */
/* Logins                                                              */
/* ------------------------------------------------------------------ */

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
    struct mf_migrate_options opts;
    struct csv_mailbox *rows;
    size_t n;
    struct cli_admin src_admin, dst_admin;
    const char *redis_url;
    atomic_size_t next;
    struct mailbox_outcome *out; /* n */
    pthread_mutex_t mu;
    bool json;
    size_t finished;
};

static void *
worker(void *arg) {
    struct run *r = arg;
    struct mf_migrate_options o = r->opts;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};

    if (r->redis_url &&
        mf_redis_connect(r->redis_url, 5000, &redis, &err) != MF_E_OK) {
        mf_log_error(NULL, "redis.connect", &err);
        redis = NULL;
    }
    o.redis = redis;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        struct csv_mailbox *row;
        struct mailbox_outcome *out;
        struct mf_migrate_login src, dst;
        char *src_owned[2], *dst_owned[2];
        const char *tuser, *tpass;

        if (i >= r->n || atomic_load(&stop_flag))
            break;
        row = &r->rows[i];
        out = &r->out[i];
        out->email = row->email;
        cli_login_make(&r->src_admin, row->username, row->password, row->email,
                       &src, src_owned);
        tuser = row->target_username ? row->target_username : row->username;
        tpass = row->target_password ? row->target_password : row->password;
        if (r->dst_admin.user)
            tuser = row->target_username ? row->target_username : row->email;
        cli_login_make(&r->dst_admin, tuser, tpass, row->email, &dst,
                       dst_owned);
        out->progress = mf_xcalloc(1, sizeof(*out->progress));
        o.progress = out->progress;
        atomic_store(&out->started, true);
        if (r->redis_url && !redis) {
            out->result.error = err;
        } else {
            mf_err rc =
                mf_migrate_mailbox(&o, row->email, &src, &dst, &out->result);
            (void)rc; /* the result holds the outcome */
        }
        for (int k = 0; k < 2; k++) {
            free(src_owned[k]);
            free(dst_owned[k]);
        }
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

/* Applies parse to every item of a comma list. */
static mf_err
add_list(struct mf_folder_rules *rules, const char *list,
         mf_err (*parse)(struct mf_folder_rules *, const char *,
                         struct mf_error *),
         struct mf_error *err) {
    char *copy, *p;
    mf_err rc = MF_E_OK;

    if (!list)
        return MF_E_OK;
    copy = mf_xstrdup(list);
    for (p = copy; p && rc == MF_E_OK;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            rc = parse(rules, p, err);
        p = comma ? comma + 1 : NULL;
    }
    free(copy);
    return rc;
}

struct cap_flag {
    const char *key;
    size_t offset; /* in struct mf_migrate_caps */
    bool u64;
};

#define CAPF(k, f)                                                             \
    { k, offsetof(struct mf_migrate_caps, f), false }
#define CAPF64(k, f)                                                           \
    { k, offsetof(struct mf_migrate_caps, f), true }
static const struct cap_flag cap_flags[] = {
    CAPF("max-connections", source.max_connections),
    CAPF("max-connections-per-user", source.max_connections_per_user),
    CAPF("max-connections-per-ip", source.max_connections_per_ip),
    CAPF("max-concurrent-mailboxes", source.max_concurrent_mailboxes),
    CAPF64("max-bytes-per-second", source_bytes_per_second),
    CAPF("target-max-connections", target.max_connections),
    CAPF("target-max-connections-per-user", target.max_connections_per_user),
    CAPF("target-max-connections-per-ip", target.max_connections_per_ip),
    CAPF64("target-max-bytes-per-second", target_bytes_per_second),
};

/* Reads the cap flags into caps; *any_r says whether one was given. */
static bool
read_caps(struct cli *cli, struct mf_migrate_caps *caps, bool *any_r,
          struct mf_error *err) {
    *any_r = false;
    for (size_t i = 0; i < sizeof(cap_flags) / sizeof(cap_flags[0]); i++) {
        uint64_t v;
        char *field = (char *)caps + cap_flags[i].offset;
        if (mf_config_get_u64(cli->config, cap_flags[i].key, 0, 0,
                              cap_flags[i].u64 ? UINT64_MAX / 2 : 1000000,
                              cap_flags[i].u64 ? MF_UNIT_BYTES : MF_UNIT_NONE,
                              &v, err))
            return false;
        if (v)
            *any_r = true;
        if (cap_flags[i].u64)
            memcpy(field, &v, sizeof(v));
        else {
            unsigned u = (unsigned)v;
            memcpy(field, &u, sizeof(u));
        }
    }
    caps->egress_ip = mf_config_get(cli->config, "egress-ip", NULL);
    {
        uint64_t ttl;
        if (mf_config_get_u64(cli->config, "lease-ttl", 30, 1, 3600,
                              MF_UNIT_SECONDS, &ttl, err))
            return false;
        caps->ttl_ms = (long)ttl * 1000;
    }
    return true;
}

int
cmd_migrate(int argc, char **argv) {
    struct cli cli;
    struct run r = {0};
    struct mf_migrate_server src_srv, dst_srv;
    struct mf_folder_rules *rules = NULL;
    struct mf_csv_options copt = {0};
    struct mf_csv_callbacks ccb = {.on_row = on_row, .on_issue = on_issue};
    struct csv_load load = {0};
    struct mf_csv_stats cstats;
    struct mf_error err = {0};
    pthread_t *threads = NULL;
    uint64_t concurrency, v;
    size_t nthreads = 0;
    struct sigaction sa;
    struct timespec t0;
    struct watch_samples samples = {0};
    struct mf_migrate_caps caps = {0};
    char holder[128];
    bool any_cap = false;
    int64_t started;
    int exit_code = MF_EXIT_USAGE;
    mf_err rc;

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
            mf_config_get_u64(cli.config, "concurrency", 4, 1, 256,
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
    rules = mf_folder_rules_new();
    if (!cli_server_read(&cli, "source", true, &src_srv, NULL, &err) ||
        !cli_server_read(&cli, "target", true, &dst_srv, NULL, &err) ||
        !cli_admin_read(&cli, "", &r.src_admin, &err) ||
        !cli_admin_read(&cli, "target-", &r.dst_admin, &err) ||
        mf_config_get_u64(cli.config, "concurrency", 4, 1, 256, MF_UNIT_NONE,
                          &concurrency, &err) ||
        mf_config_get_u64(cli.config, "max-message-size",
                          MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE, 1,
                          (uint64_t)1 << 40, MF_UNIT_BYTES,
                          &r.opts.max_message_size, &err) ||
        mf_config_get_u64(cli.config, "max-attempts", 5, 1, 100, MF_UNIT_NONE,
                          &v, &err) ||
        mf_config_get_bool(cli.config, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, &err) ||
        add_list(rules, mf_config_get(cli.config, "include", NULL),
                 mf_folder_rules_parse_include, &err) ||
        add_list(rules, mf_config_get(cli.config, "exclude", NULL),
                 mf_folder_rules_parse_exclude, &err) ||
        add_list(rules, mf_config_get(cli.config, "rename", NULL),
                 mf_folder_rules_parse_rename, &err) ||
        add_list(rules, mf_config_get(cli.config, "preset", NULL),
                 mf_folder_rules_parse_preset, &err) ||
        (mf_config_get(cli.config, "target-root", NULL) &&
         mf_folder_rules_parse_target_root(
             rules, mf_config_get(cli.config, "target-root", NULL), &err)) ||
        (mf_config_get(cli.config, "separator-replacement", NULL) &&
         mf_folder_rules_parse_separator_replacement(
             rules, mf_config_get(cli.config, "separator-replacement", NULL),
             &err))) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        goto out;
    }
    r.opts.max_attempts = (unsigned)v;
    r.opts.source = &src_srv;
    r.opts.target = &dst_srv;
    r.opts.rules = rules;
    r.opts.batch = mf_config_get(cli.config, "batch", NULL);
    if (!r.opts.batch)
        r.opts.batch = "default";
    r.opts.stop = &stop_flag;
    r.redis_url = mf_config_get(cli.config, "redis", NULL);
    r.json = cli.json;
    if (!read_caps(&cli, &caps, &any_cap, &err)) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        goto out;
    }
    if (any_cap && !r.redis_url) {
        fprintf(stderr, "mailferry migrate: connection and bandwidth caps "
                        "live in Redis: give --redis URL\n");
        goto out;
    }
    if (any_cap) {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(holder, sizeof(holder), "%s/%ld", host, (long)getpid());
        caps.redis_url = r.redis_url;
        caps.holder = holder;
        r.opts.caps = &caps;
    }

    exit_code = MF_EXIT_ERROR;
    copt.password_optional = r.src_admin.user != NULL;
    load.path = cli.positional[0];
    rc = mf_csv_parse_file(load.path, &copt, &ccb, &load, &cstats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        goto out;
    }
    if (rc != MF_E_OK) {
        fprintf(stderr,
                "mailferry migrate: %s has %llu errors; nothing migrated "
                "(see `mailferry csv validate`)\n",
                load.path, (unsigned long long)load.issues);
        exit_code = MF_EXIT_FAIL;
        goto out;
    }
    if (r.redis_url) {
        struct mf_redis *probe = NULL;
        if (mf_redis_connect(r.redis_url, 5000, &probe, &err) != MF_E_OK) {
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

    clock_gettime(CLOCK_MONOTONIC, &t0);
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
        struct timespec t1;
        double secs;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        exit_code = migrate_print_summary(stdout, r.out, r.n, secs, r.json,
                                          atomic_load(&stop_flag))
                        ? MF_EXIT_OK
                        : MF_EXIT_FAIL;
    }
    {
        const char *dir = mf_config_get(cli.config, "report-dir", NULL);
        if (!migrate_write_reports(dir ? dir : "mailferry-report", r.opts.batch,
                                   mf_config_get(cli.config, "source", NULL),
                                   mf_config_get(cli.config, "target", NULL),
                                   started, r.out, r.n, &samples,
                                   r.json ? stderr : stdout))
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
    rows_free(load.rows, load.n);
    cli_admin_clear(&r.src_admin);
    cli_admin_clear(&r.dst_admin);
    mf_folder_rules_free(&rules);
    pthread_mutex_destroy(&r.mu);
    cli_free(&cli);
    return exit_code;
}
