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
#include "cli_login.h"
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

static const struct cli_option create_options[] = {
    {"csv", true, "the batch CSV (see `mailferry csv validate`)"},
    BATCH_DEF_OPTIONS CLI_OAUTH_OPTIONS,
    {"dry-run", false, "check everything and print what would be created"},
    {NULL, false, NULL},
};

/* `batch create --dry-run`: what would be created, and the plan of every
 * mailbox (folders, counts, sizes, messages over the cap) measured on the
 * servers (docs/design.md §3), as `mailferry plan` does
 * (mf_plan_batchdef()). */
static int
dry_run_plan(struct cli *cli, const struct mf_batchdef *d) {
    const struct mf_batch_config *cfg = &d->cfg;
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
    if (cli->json) {
        struct mf_buf b = {0};
        struct mf_json j;
        batch_json_begin(&j, &b, cfg->name);
        mf_json_key(&j, "dry_run"), mf_json_bool(&j, true);
        mf_json_key(&j, "source"), mf_json_string(&j, cfg->source);
        mf_json_key(&j, "target"), mf_json_string(&j, cfg->target);
        mf_json_key(&j, "mailboxes"), mf_json_u64(&j, d->n);
        mf_batch_mailbox_list_json(&j, d->mbs, d->n);
        mf_json_key(&j, "plan");
        mf_plan_batch_to_json(pb, &j);
        mf_json_object_end(&j);
        batch_print_json(&b);
    } else {
        mf_batch_config_print(stdout, cfg, d->mbs, d->n, true);
        printf("\n");
        mf_plan_batch_print(stdout, pb);
    }
    exit_code = pb->n_failed ? MF_EXIT_FAIL : MF_EXIT_OK;
out:
    mf_plan_batch_free(&pb);
    return exit_code;
}

/* The JSON answer of a CSV with problems (j: NULL without --json). */
static void
print_issues_json(struct mf_json *j, struct mf_buf *out,
                  const struct mf_batchdef *d) {
    if (!j || !d->issues)
        return;
    mf_json_array_end(j);
    mf_json_key(j, "created"), mf_json_bool(j, false);
    mf_json_key(j, "error_count"), mf_json_u64(j, d->issues);
    mf_json_object_end(j);
    batch_print_json(out);
}

/* What was created, as text or JSON (core batch/show.c). */
static void
print_created(const struct mf_batchdef *d, bool json) {
    struct mf_buf b = {0};
    struct mf_json j;

    if (!json) {
        mf_batch_config_print(stdout, &d->cfg, d->mbs, d->n, false);
        return;
    }
    mf_json_init(&j, &b);
    mf_batch_config_json(&j, &d->cfg, d->mbs, d->n, false);
    batch_print_json(&b);
}

/* Streamed rows into the batch being created. */
static mf_err
add_rows(void *ud, const struct mf_batch_mailbox_cfg *mbs, size_t n,
         struct mf_error *err) {
    return mf_batch_create_add(ud, mbs, n, err);
}

int
cmd_batch_create(int argc, char **argv) {
    struct cli cli;
    struct mf_batchdef d;
    struct mf_crypto_keyring *kr = NULL;
    struct mf_redis *redis = NULL;
    struct mf_batch_creator *creator = NULL;
    struct mf_json j;
    struct mf_buf jout = {0};
    struct mf_error err = {0};
    const char *keyfile, *csv;
    bool dry_run = false;
    int exit_code;
    mf_err rc;

    memset(&d, 0, sizeof(d));
    exit_code = batch_cli_parse(&cli, "batch create", create_usage,
                                create_options, argc, argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    csv = mf_config_get(cli.config, "csv", NULL);
    keyfile = mf_config_get(cli.config, "master-key-file", NULL);
    if (mf_config_get_bool(cli.config, "dry-run", false, &dry_run, &err)) {
        fprintf(stderr, "mailferry batch create: %s\n", err.detail);
        goto out;
    }
    if (!csv) {
        fprintf(stderr,
                "mailferry batch create: --csv FILE is required\n"
                "usage: mailferry batch create %s\n",
                create_usage);
        goto out;
    }
    if (!keyfile && !dry_run) {
        fprintf(stderr,
                "mailferry batch create: --master-key-file F is required: "
                "passwords are stored sealed (`mailferry key generate F` "
                "makes one)\n");
        goto out;
    }
    if (keyfile && (rc = mf_crypto_keyring_load(keyfile, &kr, &err))) {
        fprintf(stderr, "mailferry batch create: key file %s: %s\n", keyfile,
                err.detail);
        exit_code = MF_EXIT_ERROR;
        goto out;
    }
    if (cli.json) {
        batch_json_begin(&j, &jout, cli.positional[0]);
        mf_json_key(&j, "file"), mf_json_string(&j, csv);
        mf_json_key(&j, "errors"), mf_json_array_begin(&j);
    }
    /* A dry run seals nothing: it keeps the clear passwords to log in
     * and plan (batch_def.h), and wipes them. */
    exit_code =
        batch_def_read(&cli, "batch create", cli.positional[0], csv,
                       dry_run ? NULL : kr, !dry_run, cli.json ? &j : NULL, &d);
    if (exit_code >= 0) {
        print_issues_json(cli.json ? &j : NULL, &jout, &d);
        goto out;
    }
    if (dry_run) {
        exit_code = dry_run_plan(&cli, &d);
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((rc = mf_batch_create_begin(redis, &d.cfg, &creator, &err))) {
        batch_print_error("batch create", d.cfg.name, &err);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    /* The CSV again, its rows sealed and stored a chunk at a time. */
    exit_code = batch_def_stream_rows("batch create", csv, kr, add_rows,
                                      creator, cli.json ? &j : NULL, &d);
    if (exit_code >= 0) {
        mf_batch_create_abort(&creator);
        print_issues_json(cli.json ? &j : NULL, &jout, &d);
        goto out;
    }
    if ((rc = mf_batch_create_commit(&creator, &err))) {
        batch_print_error("batch create", d.cfg.name, &err);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    print_created(&d, cli.json);
    exit_code = MF_EXIT_OK;
out:
    mf_batchdef_free(&d);
    mf_buf_free(&jout);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
