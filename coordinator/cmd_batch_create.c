/*
 * `mailferry batch create NAME FILE` (docs/design.md §3, §4): validates
 * everything first (the CSV with every error listed, endpoints, folder
 * rules, login formats, password files; mf_batchdef_read()) and stores
 * nothing unless all of it is right; with --dry-run it stores nothing and
 * plans every mailbox on the servers instead, logged in as its jobs will
 * be (mf_jobs_side_login()).
 *
 * Exit codes as the other batch commands (cmd_batch.c).
 */
#include "batch_def.h"
#include "batch_status.h"
#include "cli.h"
#include "commands.h"
#include "mailferry/profile.h"
#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/csv.h"
#include "mailferry/endpoint.h"
#include "mailferry/folderplan.h"
#include "mailferry/jobs.h"
#include "mailferry/json.h"
#include "mailferry/kafka.h"
#include "mailferry/log.h"
#include "mailferry/migrate.h"
#include "mailferry/plan.h"
#include "mailferry/report.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* batch create                                                       */
/* ------------------------------------------------------------------ */

static const char create_usage[] =
    "NAME --csv FILE --source URL --target URL --redis URL "
    "--master-key-file F [--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] "
    "[--source-oauth-... / --target-oauth-...] [--include L] "
    "[--exclude L] [--rename OLD=NEW[,...]] [caps] [--max-attempts N] "
    "[--incremental-every 24h] [--dry-run] [--json]";

static const struct mf_option create_options[] = {
    {"csv", true, "the batch CSV (see `mailferry csv validate`)"},
    MF_BATCHDEF_OPTIONS MF_OAUTH_OPTIONS,
    {"dry-run", false, "check everything and print what would be created"},
    {NULL, false, NULL},
};

/* `batch create --dry-run`: what would be created, and the plan of every
 * mailbox (folders, counts, sizes, messages over the cap) measured on the
 * servers (docs/design.md §3), as `mailferry plan` does
 * (mf_plan_batchdef()). */
static int
dry_run_plan(struct cli *cli, const struct mf_batchdef *d) {
    struct mf_plan_batch *pb = NULL;
    struct mf_error err = {0};
    uint64_t conc;
    int exit_code = MF_EXIT_ERROR;

    if (mf_config_get_u64(cli->config, "concurrency",
                          MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 64, MF_UNIT_NONE,
                          &conc, &err) ||
        mf_plan_batchdef(d, (unsigned)conc, &pb, &err)) {
        fprintf(stderr, "mailferry batch create: %s\n", err.detail);
        goto out;
    }
    mf_plan_batchdef_print(stdout, cli->json, d, pb);
    exit_code = pb->n_failed ? MF_EXIT_FAIL : MF_EXIT_OK;
out:
    mf_plan_batch_free(&pb);
    return exit_code;
}

/* Streamed rows into the batch being created. */
static mf_err
add_rows(void *ud, const struct mf_batch_mailbox_cfg *mbs, size_t n,
         struct mf_error *err) {
    return mf_batch_create_add(ud, mbs, n, err);
}

/* What batch create holds. */
struct create {
    struct cli cli;
    struct mf_batchdef d;
    struct mf_crypto_keyring *kr;
    const char *csv;
    bool dry_run;
    /* With --json: the CSV problems, as a JSON array into doc. */
    struct mf_json_doc doc;
    struct mf_json *issues;
};

/* The command line and the key file; -1 to go on, else the exit code. */
static int
read_command(struct create *c, int argc, char **argv) {
    struct mf_error err = {0};
    const char *keyfile;
    int exit_code = batch_cli_parse(&c->cli, "batch create", create_usage,
                                    create_options, argc, argv, 1, 1);

    if (exit_code >= 0)
        return exit_code;
    c->csv = mf_config_get(c->cli.config, "csv", NULL);
    keyfile = mf_config_get(c->cli.config, "master-key-file", NULL);
    if (mf_config_get_bool(c->cli.config, "dry-run", false, &c->dry_run,
                           &err)) {
        fprintf(stderr, "mailferry batch create: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    if (!c->csv)
        return cli_usage("batch create", create_usage,
                         "--csv FILE is required");
    if (!keyfile && !c->dry_run) {
        fprintf(stderr,
                "mailferry batch create: --master-key-file F is required: "
                "passwords are stored sealed (`mailferry key generate F` "
                "makes one)\n");
        return MF_EXIT_USAGE;
    }
    if (keyfile && mf_crypto_keyring_load(keyfile, &c->kr, &err)) {
        fprintf(stderr, "mailferry batch create: key file %s: %s\n", keyfile,
                err.detail);
        return MF_EXIT_ERROR;
    }
    return -1;
}

/* Stores the batch: its configuration, then the CSV again, its rows
 * sealed and stored a chunk at a time, all or nothing. */
static int
store(struct create *c) {
    struct mf_redis *redis = NULL;
    struct mf_batch_creator *creator = NULL;
    struct mf_error err = {0};
    int exit_code = MF_EXIT_ERROR;

    if (!batch_cli_redis(&c->cli, &redis))
        goto out;
    if ((exit_code = batch_status_result(
             "batch create", c->d.cfg.name,
             mf_batch_create_begin(redis, &c->d.cfg, &creator, &err), &err)))
        goto out;
    exit_code = batch_def_stream_rows("batch create", c->csv, c->kr, add_rows,
                                      creator, c->issues, &c->d);
    if (exit_code >= 0) {
        mf_batch_create_abort(&creator);
        if (c->issues && c->d.issues)
            mf_batchdef_issues_end(&c->doc, "created", c->d.issues, stdout);
        goto out;
    }
    if ((exit_code =
             batch_status_result("batch create", c->d.cfg.name,
                                 mf_batch_create_commit(&creator, &err), &err)))
        goto out;
    mf_batch_config_print(stdout, c->cli.json, &c->d.cfg, c->d.mbs, c->d.n,
                          false);
    exit_code = MF_EXIT_OK;
out:
    mf_redis_free(&redis);
    return exit_code;
}

int
cmd_batch_create(int argc, char **argv) {
    struct create c;
    int exit_code;

    memset(&c, 0, sizeof(c));
    if ((exit_code = read_command(&c, argc, argv)) >= 0)
        goto out;
    if (c.cli.json)
        c.issues = mf_batchdef_issues_begin(&c.doc, c.cli.positional[0], c.csv);
    /* A dry run seals nothing: it keeps the clear passwords to log in
     * and plan (batch_def.h), and wipes them. */
    exit_code =
        batch_def_read(&c.cli, "batch create", c.cli.positional[0], c.csv,
                       c.dry_run ? NULL : c.kr, !c.dry_run, c.issues, &c.d);
    if (exit_code < 0)
        exit_code = c.dry_run ? dry_run_plan(&c.cli, &c.d) : store(&c);
    else if (c.issues && c.d.issues)
        mf_batchdef_issues_end(&c.doc, "created", c.d.issues, stdout);
out:
    mf_batchdef_free(&c.d);
    mf_buf_free(&c.doc.buf);
    mf_crypto_keyring_free(&c.kr);
    cli_free(&c.cli);
    return exit_code;
}
