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
#include "mailferry/util.h"
#include "mailferry/verify.h"
#include "verify_run.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "FILE --source URL --target URL [--sample N | --deep] [--concurrency N] "
    "[--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--json]";

static const struct cli_option options[] = {
    BATCH_DEF_OPTIONS VERIFY_RUN_OPTIONS CLI_OAUTH_OPTIONS,
    {"batch", true,
     "store each mailbox's result in this batch (with --redis): `batch "
     "report` then shows it"},
    {"bind-address", true, "local address for outgoing connections"},
    {"egress-ip", true, "this process's address for the per-IP caps"},
    {"lease-ttl", true, "lifetime of a connection lease (30s)"},
    {NULL, false, NULL},
};

static atomic_bool stop_flag;

/* The CSV's logins (mf_verify_run's login callback). */
struct csv_ctx {
    struct cli_direct d;
    struct mf_csv_mailbox *rows;
};

static mf_err
csv_login(void *ud, size_t i, struct mf_migrate_login *src,
          struct mf_migrate_login *dst, void **hold, struct mf_error *err) {
    struct csv_ctx *c = ud;
    char **owned = mf_xcalloc(4, sizeof(*owned));

    (void)err;
    cli_direct_logins(&c->d, &c->rows[i], src, dst, owned);
    *hold = owned;
    return MF_E_OK;
}

static void
csv_release(void *ud, void *hold) {
    char **owned = hold;

    (void)ud;
    for (int k = 0; k < 4; k++)
        free(owned[k]);
    free(owned);
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int
cmd_verify(int argc, char **argv) {
    struct cli cli;
    struct csv_ctx c = {0};
    struct mf_verify_run r = {0};
    struct cli_csv load = {0};
    struct mf_error err = {0};
    const char **emails = NULL;
    uint64_t concurrency;
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
    if ((exit_code = cli_direct_read(&cli, "verify", &c.d)) != -1)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (!verify_read_options(&cli, "verify", &concurrency, &r.vo))
        goto out;
    batch = mf_config_get(cli.config, "batch", NULL);
    if (batch && !c.d.redis_url) {
        fprintf(stderr, "mailferry verify: --batch needs --redis URL\n");
        goto out;
    }
    if (batch) {
        struct mf_batch_config *bc = NULL;
        exit_code = MF_EXIT_ERROR;
        if (mf_redis_connect(c.d.redis_url, 0, &redis, &err) != MF_E_OK ||
            mf_batch_get(redis, batch, &bc, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry verify: %s\n", err.detail);
            goto out;
        }
        mf_batch_config_free(&bc);
    }
    if ((exit_code = cli_csv_load(&cli, "verify", cli.positional[0],
                                  c.d.src_admin.user != NULL || c.d.src_oauth,
                                  &load)) != -1) {
        if (exit_code == MF_EXIT_FAIL)
            exit_code = MF_EXIT_ERROR; /* 1 means "differs" here */
        goto out;
    }
    c.rows = load.rows;
    emails = mf_xcalloc(load.n ? load.n : 1, sizeof(*emails));
    for (size_t i = 0; i < load.n; i++)
        emails[i] = load.rows[i].email;
    c.d.opts.stop = &stop_flag;
    r.vo.migrate = &c.d.opts;
    r.email = emails;
    r.n = load.n;
    r.login = csv_login;
    r.release = csv_release;
    r.ud = &c;
    r.stop = &stop_flag;
    verify_signals(&stop_flag);
    exit_code = (int)mf_verify_run_go(&r, (unsigned)concurrency, redis, batch,
                                      cli.json);
out:
    mf_verify_run_free(&r);
    free(emails);
    cli_csv_free(&load);
    cli_direct_free(&c.d);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
