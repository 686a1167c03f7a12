/*
 * `mailferry verify FILE --source URL --target URL`: proof before the MX
 * switch (issue 11 section 6). For every mailbox of the CSV, compares the
 * source with the target folder by folder, after the same folder plan
 * and with the same logins, folder options and fleet caps as `migrate`
 * (cli_direct.h), trusting none of mailferry's own records
 * (mailferry/verify.h says how). It only reads: EXAMINE, and bodies
 * (BODY.PEEK[]) only with --sample N or --deep.
 *
 * Prints a line per mailbox ("verified equal", "N differences", "not
 * verified: why") with its differences below (kind, folder, UIDs,
 * INTERNALDATE, Subject, what differs; never a body), then a summary;
 * --json prints one document instead.
 *
 * With --redis URL --batch NAME the result of each mailbox is stored in
 * that batch too (mf_batch_verify_put()), so that `batch report` shows
 * its verification column and differences.
 *
 * Exit: 0 every mailbox verified equal; 1 a difference somewhere; 2 a
 * wrong command line; 3 nothing differs but a mailbox could not be
 * verified (or the CSV could not be read).
 */
#include "cli.h"
#include "batch_def.h"
#include "cli_direct.h"
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/json.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "FILE --source URL --target URL [--sample N | --deep] [--concurrency N] "
    "[--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--json]";

static const struct cli_option options[] = {
    BATCH_DEF_OPTIONS{"concurrency", true,
                      "mailboxes verified at the same time (default 4)"},
    {"sample", true,
     "also compare the bodies (SHA-256 of BODY.PEEK[]) of N messages per "
     "folder, spread over it (default 0: sizes only)"},
    {"deep", false, "compare the bodies of every message"},
    {"redis", true,
     "the Redis holding the fleet caps (with the cap options) and, with "
     "--batch, the batch"},
    {"batch", true,
     "store each mailbox's result in this batch (with --redis): `batch "
     "report` then shows it"},
    {"bind-address", true, "local address for outgoing connections"},
    {"egress-ip", true, "this process's address for the per-IP caps"},
    {"lease-ttl", true, "lifetime of a connection lease (30s)"},
    {NULL, false, NULL},
};

static atomic_bool stop_flag;

static void
on_signal(int sig) {
    (void)sig;
    atomic_store(&stop_flag, true);
}

struct run {
    struct cli_direct d;
    struct mf_verify_options vo;
    struct csv_mailbox *rows;
    size_t n;
    struct mf_verify_result *res; /* n */
    bool *ran;                    /* n */
    atomic_size_t next;
};

static void *
worker(void *arg) {
    struct run *r = arg;

    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        struct mf_migrate_login src, dst;
        char *owned[4];
        mf_err rc;

        if (i >= r->n || atomic_load(&stop_flag))
            break;
        cli_direct_logins(&r->d, &r->rows[i], &src, &dst, owned);
        rc =
            mf_verify_mailbox(&r->vo, r->rows[i].email, &src, &dst, &r->res[i]);
        (void)rc; /* the result holds the outcome */
        r->ran[i] = true;
        for (int k = 0; k < 4; k++)
            free(owned[k]);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void
print_diff(FILE *out, const struct mf_verify_diff *d) {
    fprintf(out, "  %-9s %s", mf_verify_kind_name(d->kind), d->folder);
    if (d->src_uid)
        fprintf(out, " UID %u", d->src_uid);
    if (d->tgt_uid)
        fprintf(out, " (target UID %u)", d->tgt_uid);
    if (d->date)
        fprintf(out, " date \"%s\"", d->date);
    if (d->subject)
        fprintf(out, " subject \"%s\"", d->subject);
    if (d->detail)
        fprintf(out, ": %s", d->detail);
    fputc('\n', out);
}

static void
print_text(FILE *out, const struct run *r) {
    size_t equal = 0, differ = 0, failed = 0;

    for (size_t i = 0; i < r->n; i++) {
        const struct mf_verify_result *v = &r->res[i];
        fprintf(out, "%s: ", r->rows[i].email);
        if (!r->ran[i]) {
            fprintf(out, "not verified: stopped\n");
            failed++;
            continue;
        }
        if (v->error.code != MF_E_OK) {
            fprintf(out, "not verified: %s: %s\n", mf_err_name(v->error.code),
                    v->error.detail);
            failed++;
            continue;
        }
        if (v->n_diffs == 0) {
            fprintf(out, "verified equal");
            equal++;
        } else {
            fprintf(out, "%zu differences", v->n_diffs);
            differ++;
        }
        fprintf(out,
                " (%llu folders, %llu source messages, %llu target "
                "messages, %llu bodies compared)\n",
                (unsigned long long)v->folders,
                (unsigned long long)v->src_messages,
                (unsigned long long)v->tgt_messages,
                (unsigned long long)v->compared_bodies);
        for (size_t k = 0; k < v->n_diffs; k++)
            print_diff(out, &v->diffs[k]);
    }
    fprintf(out,
            "Verified: %zu mailboxes, %zu equal, %zu with differences, %zu "
            "not verified\n",
            r->n, equal, differ, failed);
}

static void
json_diff(struct mf_json *j, const struct mf_verify_diff *d) {
    mf_json_object_begin(j);
    mf_json_key(j, "kind");
    mf_json_string(j, mf_verify_kind_name(d->kind));
    mf_json_key(j, "folder");
    mf_json_string(j, d->folder);
    mf_json_key(j, "source_uid");
    mf_json_u64(j, d->src_uid);
    mf_json_key(j, "target_uid");
    mf_json_u64(j, d->tgt_uid);
    mf_json_key(j, "date");
    mf_json_string(j, d->date);
    mf_json_key(j, "subject");
    mf_json_string(j, d->subject);
    mf_json_key(j, "detail");
    mf_json_string(j, d->detail);
    mf_json_object_end(j);
}

static void
print_json(FILE *out, const struct run *r) {
    struct mf_buf buf = {0};
    struct mf_json j;

    mf_json_init(&j, &buf);
    mf_json_object_begin(&j);
    mf_json_key(&j, "mailboxes");
    mf_json_array_begin(&j);
    for (size_t i = 0; i < r->n; i++) {
        const struct mf_verify_result *v = &r->res[i];
        bool ok = r->ran[i] && v->error.code == MF_E_OK;

        mf_json_object_begin(&j);
        mf_json_key(&j, "email");
        mf_json_string(&j, r->rows[i].email);
        mf_json_key(&j, "verification");
        mf_json_string(&j, !ok          ? "not verified"
                           : v->n_diffs ? "differences"
                                        : "verified equal");
        mf_json_key(&j, "folders");
        mf_json_u64(&j, v->folders);
        mf_json_key(&j, "source_messages");
        mf_json_u64(&j, v->src_messages);
        mf_json_key(&j, "target_messages");
        mf_json_u64(&j, v->tgt_messages);
        mf_json_key(&j, "bodies_compared");
        mf_json_u64(&j, v->compared_bodies);
        if (!ok) {
            mf_json_key(&j, "error");
            mf_json_object_begin(&j);
            mf_json_key(&j, "code");
            mf_json_u64(&j,
                        (uint64_t)(r->ran[i] ? v->error.code : MF_E_CANCELLED));
            mf_json_key(&j, "name");
            mf_json_string(
                &j, mf_err_name(r->ran[i] ? v->error.code : MF_E_CANCELLED));
            mf_json_key(&j, "detail");
            mf_json_string(&j, r->ran[i] ? v->error.detail : "stopped");
            mf_json_object_end(&j);
        }
        mf_json_key(&j, "differences");
        mf_json_array_begin(&j);
        for (size_t k = 0; k < v->n_diffs; k++)
            json_diff(&j, &v->diffs[k]);
        mf_json_array_end(&j);
        mf_json_object_end(&j);
    }
    mf_json_array_end(&j);
    mf_json_object_end(&j);
    fwrite(buf.data, 1, buf.len, out);
    fputc('\n', out);
    mf_buf_free(&buf);
}

/* Stores every verified mailbox's result in the batch; false (said on
 * stderr) when Redis fails. */
static bool
store_results(struct mf_redis *redis, const char *batch, const struct run *r) {
    struct mf_error err = {0};
    int64_t now = (int64_t)time(NULL);

    for (size_t i = 0; i < r->n; i++) {
        if (!r->ran[i])
            continue;
        if (mf_batch_verify_put(redis, batch, r->rows[i].email, &r->res[i], now,
                                &err) != MF_E_OK) {
            fprintf(stderr, "mailferry verify: batch %s: %s\n", batch,
                    err.detail);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int
cmd_verify(int argc, char **argv) {
    struct cli cli;
    struct run r = {0};
    struct cli_csv load = {0};
    struct mf_error err = {0};
    pthread_t *threads = NULL;
    size_t nthreads = 0;
    uint64_t concurrency, sample;
    bool deep = false, differ = false, failed = false;
    struct sigaction sa;
    struct mf_redis *redis = NULL;
    const char *batch;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "verify", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (cli.npositional != 1) {
        fprintf(stderr,
                "mailferry verify: expected one FILE\nusage: mailferry "
                "verify %s\n",
                usage);
        goto out;
    }
    if ((exit_code = cli_direct_read(&cli, "verify", &r.d)) != -1)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_u64(cli.config, "concurrency", 4, 1, 256, MF_UNIT_NONE,
                          &concurrency, &err) ||
        mf_config_get_u64(cli.config, "sample", 0, 0, UINT32_MAX, MF_UNIT_NONE,
                          &sample, &err) ||
        mf_config_get_bool(cli.config, "deep", false, &deep, &err)) {
        fprintf(stderr, "mailferry verify: %s\n", err.detail);
        goto out;
    }
    batch = mf_config_get(cli.config, "batch", NULL);
    if (batch && !r.d.redis_url) {
        fprintf(stderr, "mailferry verify: --batch needs --redis URL\n");
        goto out;
    }
    if (batch) {
        struct mf_batch_config *bc = NULL;
        exit_code = MF_EXIT_ERROR;
        if (mf_redis_connect(r.d.redis_url, 5000, &redis, &err) != MF_E_OK ||
            mf_batch_get(redis, batch, &bc, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry verify: %s\n", err.detail);
            goto out;
        }
        mf_batch_config_free(&bc);
        exit_code = MF_EXIT_USAGE;
    }
    r.d.opts.stop = &stop_flag;
    r.vo.migrate = &r.d.opts;
    r.vo.sample = deep ? SIZE_MAX : (size_t)sample;
    if ((exit_code = cli_csv_load(&cli, "verify", cli.positional[0],
                                  r.d.src_admin.user != NULL, &load)) != -1) {
        if (exit_code == MF_EXIT_FAIL)
            exit_code = MF_EXIT_ERROR; /* 1 means "differs" here */
        goto out;
    }
    r.rows = load.rows;
    r.n = load.n;
    r.res = mf_xcalloc(r.n ? r.n : 1, sizeof(*r.res));
    r.ran = mf_xcalloc(r.n ? r.n : 1, sizeof(*r.ran));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    nthreads = concurrency < r.n ? (size_t)concurrency : r.n;
    threads = mf_xcalloc(nthreads ? nthreads : 1, sizeof(*threads));
    for (size_t i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker, &r) != 0) {
            fprintf(stderr, "mailferry verify: cannot start a thread\n");
            nthreads = i;
            break;
        }
    if (nthreads == 0 && r.n)
        worker(&r);
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    if (redis && !store_results(redis, batch, &r))
        failed = true;
    if (cli.json)
        print_json(stdout, &r);
    else
        print_text(stdout, &r);
    for (size_t i = 0; i < r.n; i++) {
        if (!r.ran[i] || r.res[i].error.code != MF_E_OK)
            failed = true;
        else if (r.res[i].n_diffs)
            differ = true;
    }
    exit_code = differ ? MF_EXIT_FAIL : failed ? MF_EXIT_ERROR : MF_EXIT_OK;
out:
    if (r.res)
        for (size_t i = 0; i < r.n; i++)
            mf_verify_result_clear(&r.res[i]);
    free(r.res);
    free(r.ran);
    free(threads);
    cli_csv_free(&load);
    cli_direct_free(&r.d);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
