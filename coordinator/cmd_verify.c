/*
 * `mailferry verify FILE --source URL --target URL`: proof before the MX
 * switch (issue 11 section 6). For every mailbox of the CSV, compares the
 * source with the target folder by folder, after the same folder plan
 * and with the same logins, folder options and fleet caps as `migrate`
 * (mailferry/direct.h), trusting none of mailferry's own records
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
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "FILE --source URL --target URL [--sample N | --deep] [--concurrency N] "
    "[--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--json]";

static const struct mf_option options[] = {
    MF_BATCHDEF_OPTIONS MF_VERIFY_RUN_OPTIONS MF_OAUTH_OPTIONS,
    {"batch", true,
     "store each mailbox's result in this batch (with --redis): `batch "
     "report` then shows it"},
    {"bind-address", true, "local address for outgoing connections"},
    {"egress-ip", true, "this process's address for the per-IP caps"},
    {"lease-ttl", true, "lifetime of a connection lease (30s)"},
    {NULL, false, NULL},
};

static atomic_bool stop_flag;

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int
cmd_verify(int argc, char **argv) {
    struct cli cli;
    struct mf_direct_settings d = {0};
    struct mf_verify_csv vc = {0};
    struct mf_verify_run r = {0};
    struct mf_csv_rows load = {0};
    struct mf_error err = {0};
    uint64_t concurrency;
    struct mf_redis *redis = NULL;
    const char *batch;
    int exit_code;

    if ((exit_code = cli_parse_one(&cli, "verify", usage, options, argc, argv,
                                   "FILE")) >= 0)
        goto out;
    if ((exit_code = cli_direct_read(&cli, "verify", &d)) != -1)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_verify_options_read(cli.config, &concurrency, &r.vo, &err)) {
        fprintf(stderr, "mailferry verify: %s\n", err.detail);
        goto out;
    }
    batch = mf_config_get(cli.config, "batch", NULL);
    if (batch && !d.redis_url) {
        fprintf(stderr, "mailferry verify: --batch needs --redis URL\n");
        goto out;
    }
    if (batch) {
        struct mf_batch_config *bc = NULL;
        exit_code = MF_EXIT_ERROR;
        if (mf_redis_connect(d.redis_url, 0, &redis, &err) != MF_E_OK ||
            mf_batch_get(redis, batch, &bc, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry verify: %s\n", err.detail);
            goto out;
        }
        mf_batch_config_free(&bc);
    }
    if ((exit_code = cli_csv_load(&cli, "verify", cli.positional[0],
                                  mf_direct_connect_password_optional(&d.c),
                                  &load)) != -1) {
        if (exit_code == MF_EXIT_FAIL)
            exit_code = MF_EXIT_ERROR; /* 1 means "differs" here */
        goto out;
    }
    mf_direct_connect_sides(&d.c, vc.sides);
    vc.rows = load.rows;
    vc.n = load.n;
    d.opts.stop = &stop_flag;
    r.vo.migrate = &d.opts;
    r.stop = &stop_flag;
    mf_verify_csv_run(&vc, &r);
    cli_catch_signals(&stop_flag);
    exit_code = (int)mf_verify_run_go(&r, (unsigned)concurrency, redis, batch,
                                      cli.json);
out:
    mf_verify_run_free(&r);
    mf_verify_csv_free(&vc);
    mf_csv_rows_free(&load);
    mf_direct_settings_free(&d);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
