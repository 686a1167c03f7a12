/*
 * `mailferry batch ...` (docs/design.md §3, §4): create, start, stop, sync,
 * complete, status, report, list and remove a batch whose records live
 * in Redis (core batch.h) and whose jobs go to Kafka (core jobs.h).
 *
 * create is in cmd_batch_create.c; add, update, drop and the per-mailbox
 * actions in cmd_batch_edit.c; verify in cmd_batch_verify.c.
 *
 * Exit codes: 0 done; 1 refused (CSV errors, unknown batch, name taken,
 * not allowed in the batch's current state); 2 wrong command line; 3
 * could not run (Redis, Kafka, key file, I/O).
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
#include "mailferry/util.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Shared                                                             */
/* ------------------------------------------------------------------ */

bool
batch_cli_redis(struct cli *cli, struct mf_redis **r_r) {
    const char *url = mf_config_get(cli->config, "redis", NULL);
    struct mf_error err = {0};

    if (!url) {
        fprintf(stderr,
                "mailferry %s: give --redis URL (or MAILFERRY_REDIS): the "
                "batches live in Redis\n",
                cli->command);
        return false;
    }
    if (mf_redis_connect(url, 0, r_r, &err) != MF_E_OK) {
        /* Not the URL itself: err names the host, and the URL is the
         * operator's to show (it may hold a user name). */
        fprintf(stderr, "mailferry %s: Redis: %s\n", cli->command, err.detail);
        return false;
    }
    return true;
}

int
batch_link_open(struct cli *cli, struct mf_redis **redis_r,
                struct mf_jobs_link *l) {
    struct mf_error err = {0};
    mf_err rc;

    if ((rc = mf_jobs_link_open(cli->config, NULL, l, &err))) {
        fprintf(stderr, "mailferry %s: %s\n", cli->command, err.detail);
        return rc == MF_E_USAGE ? MF_EXIT_USAGE : MF_EXIT_ERROR;
    }
    if (!batch_cli_redis(cli, redis_r))
        return MF_EXIT_ERROR;
    l->jc.redis = *redis_r;
    return -1;
}

int
batch_exit_code(mf_err rc) {
    switch (mf_err_class_of(rc)) {
    case MF_ERRCLASS_NONE:
        return rc == MF_E_OK ? MF_EXIT_OK : MF_EXIT_FAIL;
    case MF_ERRCLASS_INPUT:
        return rc == MF_E_SECRET_FILE ? MF_EXIT_ERROR : MF_EXIT_FAIL;
    default:
        return MF_EXIT_ERROR;
    }
}

void
batch_print_error(const char *command, const char *batch,
                  const struct mf_error *err) {
    /* The store's details name the batch already. */
    fprintf(stderr, "mailferry %s: %s [%s]\n", command,
            err->detail[0] ? err->detail : mf_strerror(err->code),
            mf_err_name(err->code));
    if (err->code == MF_E_NOT_FOUND && batch)
        fprintf(stderr, "(`mailferry batch list` shows the batches)\n");
}

int
batch_status_result(const char *command, const char *batch, mf_err rc,
                    const struct mf_error *err) {
    if (rc == MF_E_OK)
        return MF_EXIT_OK;
    batch_print_error(command, batch, err);
    return batch_exit_code(rc);
}

int
batch_cli_parse(struct cli *cli, const char *command, const char *usage,
                const struct mf_option *options, int argc, char **argv,
                int min_pos, int max_pos) {
    if (!cli_parse(cli, command, usage, options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    if (cli->npositional < min_pos || cli->npositional > max_pos)
        return cli_usage(command, usage, "expected %s",
                         min_pos == max_pos && min_pos == 1
                             ? "one batch NAME"
                             : "other arguments");
    if (cli->npositional >= 1 && min_pos >= 1 &&
        !mf_batch_name_valid(cli->positional[0])) {
        fprintf(stderr,
                "mailferry %s: \"%s\" is not a batch name: 1 to %d of "
                "A-Z a-z 0-9 . _ -\n",
                command, cli->positional[0], MF_BATCH_NAME_MAX);
        return MF_EXIT_USAGE;
    }
    return -1;
}

int
batch_cli_parse_one(struct cli *cli, const char *command, const char *usage,
                    const struct mf_option *options, int argc, char **argv) {
    int exit_code =
        cli_parse_one(cli, command, usage, options, argc, argv, "batch NAME");

    if (exit_code < 0 && !mf_batch_name_valid(cli->positional[0]))
        return cli_usage(command, usage, "expected one batch NAME");
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* batch start, sync, complete                                        */
/* ------------------------------------------------------------------ */

static const char pass_usage[] =
    "NAME --redis URL --kafka HOST:PORT[,...] --master-key-file F "
    "[--topic-prefix P] [--json]";

static const struct mf_option pass_options[] = {
    {"reissue", false,
     "start only: produce the jobs of Queued mailboxes again (after a crash "
     "between queueing and producing; duplicates are harmless)"},
    {"mailbox", true,
     "start, sync: only these mailboxes (EmailAddress[,...]; "
     "cmd_batch_edit.c)"},
    {NULL, false, NULL},
};

/* Produces the pass's jobs (or, with reissue, the Queued ones again). */
static int
produce_pass(struct cli *cli, struct mf_jobs_link *l, const char *command,
             enum mf_batch_op op, bool reissue) {
    const char *name = cli->positional[0];
    enum mf_batch_state st = MF_BATCH_CREATED;
    struct mf_error err = {0};
    uint64_t n = 0;
    mf_err rc;

    if (reissue)
        rc = mf_jobs_reissue(&l->jc, name, 0, &n, &err);
    else
        rc = mf_jobs_begin_pass(&l->jc, name, op, 0, &n, &st, &err);
    if (rc) {
        batch_print_error(command, name, &err);
        if (n)
            fprintf(stderr,
                    "%llu jobs were produced; the other mailboxes stay "
                    "Queued: `mailferry batch start %s --reissue` produces "
                    "them again\n",
                    (unsigned long long)n, name);
        return batch_exit_code(rc);
    }
    if (reissue) {
        struct mf_batch_config *cfg = NULL;
        if (mf_batch_get(l->jc.redis, name, &cfg, &err) == MF_E_OK) {
            st = cfg->state;
            mf_batch_config_free(&cfg);
        }
    }
    mf_status_pass_print(stdout, cli->json, name, st, n, l->topics.jobs);
    return MF_EXIT_OK;
}

static int
run_pass(int argc, char **argv, const char *command, enum mf_batch_op op) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_jobs_link link = {0};
    struct mf_error err = {0};
    bool reissue = false;
    int exit_code;

    exit_code = batch_cli_parse(&cli, command, pass_usage, pass_options, argc,
                                argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(cli.config, "reissue", false, &reissue, &err) ||
        (reissue && op != MF_BATCH_OP_START)) {
        fprintf(stderr, "mailferry %s: --reissue is for batch start\n",
                command);
        goto out;
    }
    if ((exit_code = batch_link_open(&cli, &redis, &link)) >= 0)
        goto out;
    exit_code = produce_pass(&cli, &link, command, op, reissue);
out:
    mf_jobs_link_close(&link);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

int
cmd_batch_start(int argc, char **argv) {
    if (batch_mailbox_given(argc, argv))
        return batch_mailbox_action(argc, argv, "batch start");
    return run_pass(argc, argv, "batch start", MF_BATCH_OP_START);
}

int
cmd_batch_sync(int argc, char **argv) {
    if (batch_mailbox_given(argc, argv))
        return batch_mailbox_action(argc, argv, "batch sync");
    return run_pass(argc, argv, "batch sync", MF_BATCH_OP_SYNC);
}

int
cmd_batch_complete(int argc, char **argv) {
    return run_pass(argc, argv, "batch complete", MF_BATCH_OP_COMPLETE);
}

/* ------------------------------------------------------------------ */
/* batch stop, remove, list, status                                   */
/* ------------------------------------------------------------------ */

/* stop, remove, list: nothing beyond the shared options (cli.h). */
static const struct mf_option no_options[] = {
    {NULL, false, NULL},
};

/* A batch command that needs Redis only (npos batch names): parses the
 * line, connects and returns run's exit code. */
static int
redis_command(int argc, char **argv, const char *command, const char *usage,
              const struct mf_option *options, int npos,
              int (*run)(struct cli *cli, struct mf_redis *r)) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    int exit_code =
        batch_cli_parse(&cli, command, usage, options, argc, argv, npos, npos);

    if (exit_code < 0)
        exit_code =
            batch_cli_redis(&cli, &redis) ? run(&cli, redis) : MF_EXIT_ERROR;
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

static int
stop_batch(struct cli *cli, struct mf_redis *r) {
    const char *name = cli->positional[0];
    enum mf_batch_state st = MF_BATCH_CREATED;
    struct mf_error err = {0};
    int exit_code = batch_status_result(
        "batch stop", name, mf_batch_stop(r, name, &st, &err), &err);

    if (exit_code == MF_EXIT_OK)
        mf_status_stop_print(stdout, cli->json, name, st);
    return exit_code;
}

int
cmd_batch_stop(int argc, char **argv) {
    static const struct mf_option stop_options[] = {
        {"mailbox", true, "only these mailboxes (EmailAddress[,...])"},
        {NULL, false, NULL},
    };

    if (batch_mailbox_given(argc, argv))
        return batch_mailbox_action(argc, argv, "batch stop");
    return redis_command(argc, argv, "batch stop",
                         "NAME [--mailbox EMAIL[,...]] --redis URL [--json]",
                         stop_options, 1, stop_batch);
}

static int
remove_batch(struct cli *cli, struct mf_redis *r) {
    const char *name = cli->positional[0];
    struct mf_error err = {0};
    mf_err rc = mf_batch_remove(r, name, &err);

    if (rc) {
        batch_print_error("batch remove", name, &err);
        if (rc == MF_E_STATE)
            fprintf(stderr,
                    "(a running batch cannot be removed: `mailferry "
                    "batch stop %s` first)\n",
                    name);
        return batch_exit_code(rc);
    }
    mf_status_word_print(stdout, cli->json, name, "removed", "true", "removed");
    return MF_EXIT_OK;
}

int
cmd_batch_remove(int argc, char **argv) {
    return redis_command(argc, argv, "batch remove",
                         "NAME --redis URL [--json]", no_options, 1,
                         remove_batch);
}

static int
list_batches(struct cli *cli, struct mf_redis *r) {
    struct mf_error err = {0};

    return batch_status_result("batch list", NULL,
                               mf_status_list(r, cli->json, &err), &err);
}

int
cmd_batch_list(int argc, char **argv) {
    return redis_command(argc, argv, "batch list", "--redis URL [--json]",
                         no_options, 0, list_batches);
}

static atomic_bool status_stop;

int
cmd_batch_status(int argc, char **argv) {
    static const struct mf_option options[] = {
        {"watch", false,
         "redraw every 2 s until the batch is in a final state (Ctrl-C "
         "ends)"},
        {"interval", true, "seconds between redraws with --watch (2)"},
        {"mailbox", true,
         "EmailAddress[,...]: these mailboxes in detail (what was copied, "
         "skipped, failed by error code, what is pending)"},
        {"state", true,
         "STATE[,...]: the mailboxes in these states (Queued, Syncing, "
         "Synced, IncrementalSyncing, Stopped, Failed, Completed) or "
         "groups (running, pending, waiting, done), one line each"},
        {NULL, false, NULL},
    };
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    struct mf_status_options o = {0};
    uint64_t interval;
    int exit_code;
    mf_err rc;

    exit_code = batch_cli_parse(&cli, "batch status",
                                "[NAME] --redis URL [--watch] [--mailbox "
                                "EMAIL[,...]] [--state STATE[,...]] [--json]",
                                options, argc, argv, 0, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(cli.config, "watch", false, &o.watch, &err) ||
        mf_config_get_u64(cli.config, "interval", 2, 1, 3600, MF_UNIT_SECONDS,
                          &interval, &err)) {
        fprintf(stderr, "mailferry batch status: %s\n", err.detail);
        goto out;
    }
    o.json = cli.json;
    o.interval_ms = (unsigned)interval * 1000;
    o.mailboxes = mf_config_get(cli.config, "mailbox", NULL);
    o.states = mf_config_get(cli.config, "state", NULL);
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if (cli.npositional == 0) {
        exit_code = list_batches(&cli, redis);
        goto out;
    }
    cli_catch_stop(&status_stop);
    rc = mf_status_show(redis, cli.positional[0], &o, &status_stop, &err);
    if (rc == MF_E_USAGE) {
        fprintf(stderr, "mailferry batch status: %s\n", err.detail);
        exit_code = MF_EXIT_USAGE;
        goto out;
    }
    exit_code =
        batch_status_result("batch status", cli.positional[0], rc, &err);
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* batch report                                                       */
/* ------------------------------------------------------------------ */

int
cmd_batch_report(int argc, char **argv) {
    static const struct mf_option options[] = {
        {"format", true, "csv (default), json or html"},
        {"output", true, "write to FILE instead of stdout (also -o FILE)"},
        {NULL, false, NULL},
    };
    static const char usage[] =
        "NAME --redis URL [--format csv|json|html] [-o FILE]";
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_report_batch *rep = NULL;
    enum mf_report_format fmt = MF_REPORT_CSV;
    struct mf_error err = {0};
    const char *format, *output;
    int exit_code;
    mf_err rc;

    /* "-o FILE" is the one short option: cli_parse takes only long ones,
     * so it arrives as two positionals. */
    exit_code =
        batch_cli_parse(&cli, "batch report", usage, options, argc, argv, 1, 3);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    output = mf_config_get(cli.config, "output", NULL);
    if (cli.npositional == 3 && strcmp(cli.positional[1], "-o") == 0)
        output = cli.positional[2];
    else if (cli.npositional != 1) {
        cli_usage("batch report", usage, "expected NAME [-o FILE]");
        goto out;
    }
    format = mf_config_get(cli.config, "format", NULL);
    if (format && mf_report_format_parse(format, &fmt)) {
        fprintf(stderr, "mailferry batch report: --format is csv, json or "
                        "html\n");
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((exit_code = batch_status_result(
             "batch report", cli.positional[0],
             mf_batch_report(redis, cli.positional[0], &rep, &err), &err)))
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (output && strcmp(output, "-") != 0)
        rc = mf_report_write_path(rep, fmt, output, &err);
    else if ((rc = mf_report_write(rep, fmt, stdout)))
        mf_error_set(&err, rc, "cannot write stdout");
    if (rc) {
        fprintf(stderr, "mailferry batch report: %s\n", err.detail);
        goto out;
    }
    if (output && strcmp(output, "-") != 0)
        fprintf(stderr, "mailferry batch report: %s report of %s in %s\n",
                mf_report_format_name(fmt), cli.positional[0], output);
    exit_code = MF_EXIT_OK;
out:
    mf_report_free(&rep);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
