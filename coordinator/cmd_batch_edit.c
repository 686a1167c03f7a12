/*
 * Batches that change (issue 16 section 1; core: mailferry/batch_edit.h):
 *
 *   batch add NAME --csv F        more mailboxes, also while it runs
 *   batch update NAME --csv F     new logins and passwords; a mailbox
 *                                 that failed with AUTH is retried at once
 *   batch drop NAME --mailbox E   mailboxes out of the batch
 *   batch retry NAME [--mailbox E] [--failed]   the failed ones again
 *   batch sync|start|stop NAME --mailbox E[,...]   (batch_mailbox_action,
 *                                 called by cmd_batch.c's commands)
 *
 * The CSV of add and update is read and checked as create reads it
 * (batch_def_read_rows(): every error with its line, passwords sealed as
 * each row is read); nothing is stored if a row is wrong, and a mailbox
 * already in the batch (add) or not in it (update) is refused with its
 * line. Exit codes as cmd_batch.c's.
 */
#include "batch_def.h"
#include "batch_status.h"
#include "cli.h"
#include "commands.h"

#include "mailferry/batch_edit.h"
#include "mailferry/crypto.h"
#include "mailferry/jobs.h"
#include "mailferry/json.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EDIT_FLUSH_MS 60000

static const char kafka_usage[] =
    "--redis URL --kafka HOST:PORT[,...] --master-key-file F "
    "[--topic-prefix P] [--json]";

/* What a command that produces jobs holds. */
struct edit {
    struct cli cli;
    const char *command, *name;
    struct mf_redis *redis;
    struct mf_jobs_link link;       /* with jobs only */
    struct mf_batch_edit_show show; /* per-mailbox outcomes */
};

static void
edit_free(struct edit *e) {
    mf_jobs_link_close(&e->link);
    mf_redis_free(&e->redis);
    mf_batch_edit_show_free(&e->show);
    cli_free(&e->cli);
}

/* Parses the command line (exactly one batch name). Returns -1 to go on,
 * else the exit code. */
static int
edit_parse(struct edit *e, const char *command, const char *usage,
           const struct mf_option *options, int argc, char **argv) {
    int exit_code;

    memset(e, 0, sizeof(*e));
    e->command = command;
    if ((exit_code = batch_cli_parse_one(&e->cli, command, usage, options, argc,
                                         argv)) >= 0)
        return exit_code;
    e->name = e->cli.positional[0];
    e->show = (struct mf_batch_edit_show){.command = command,
                                          .batch = e->name,
                                          .json = e->cli.json,
                                          .out = stdout,
                                          .err = stderr};
    return -1;
}

/* Connects what the command needs: Redis always; with jobs also the key
 * file and Kafka. Returns -1 to go on, else the exit code. */
static int
edit_connect(struct edit *e, bool jobs) {
    if (jobs)
        return batch_link_open(&e->cli, &e->redis, &e->link);
    return batch_cli_redis(&e->cli, &e->redis) ? -1 : MF_EXIT_ERROR;
}

/* The topic the command's jobs went to, or NULL without jobs. */
static const char *
jobs_topic(const struct edit *e) {
    return e->link.producer ? e->link.topics.jobs : NULL;
}

/* ------------------------------------------------------------------ */
/* batch add, batch update                                            */
/* ------------------------------------------------------------------ */

static const struct mf_option csv_options[] = {
    {"csv", true, "rows as `batch create` takes them"},
    {"allow-unknown-columns", false, "ignore CSV columns mailferry ignores"},
    {NULL, false, NULL},
};

/* Reads and checks the CSV against the stored batch. Returns -1 with d
 * filled, else the exit code. */
static int
read_rows(struct edit *e, const char *csv, struct mf_json *issues,
          struct mf_batchdef *d) {
    struct mf_batch_config *cfg = NULL;
    struct mf_error err = {0};
    int exit_code;

    memset(d, 0, sizeof(*d));
    if ((exit_code = batch_status_result(
             e->command, e->name, mf_batch_get(e->redis, e->name, &cfg, &err),
             &err)))
        return exit_code;
    exit_code = batch_def_read_rows(&e->cli, e->command, e->name, csv, cfg,
                                    e->link.kr, issues, d);
    mf_batch_config_free(&cfg);
    return exit_code;
}

/* Sends the rows of d to the batch (add: new mailboxes; update: new
 * logins and passwords), naming the CSV lines of refused rows. Returns -1
 * when done (*jobs_r, *st_r: what it queued and the state), else the
 * exit code. */
static int
send_rows(struct edit *e, const char *csv, bool add,
          const struct mf_batchdef *d, struct mf_json *issues,
          struct mf_json_doc *doc, uint64_t *jobs_r,
          enum mf_batch_state *st_r) {
    struct mf_error err = {0};
    size_t *idx = NULL, n_idx = 0;
    mf_err rc;

    if (add)
        rc = mf_jobs_add_mailboxes(&e->link.jc, e->name, d->mbs, d->n,
                                   EDIT_FLUSH_MS, &idx, &n_idx, jobs_r, st_r,
                                   &err);
    else
        rc = mf_jobs_update_mailboxes(
            &e->link.jc, e->name, d->mbs, d->n, EDIT_FLUSH_MS, &idx, &n_idx,
            mf_batch_edit_show_outcome, &e->show, jobs_r, &err);
    if (rc == MF_E_CSV_MAILBOX_IN_BATCH ||
        rc == MF_E_CSV_MAILBOX_NOT_IN_BATCH) {
        mf_batch_edit_show_refused(
            stderr, csv, d, idx, n_idx, rc,
            add ? "nothing added: `batch update` changes the logins "
                  "of mailboxes in the batch"
                : "nothing changed: `batch add` adds mailboxes",
            issues);
        if (issues)
            mf_batchdef_issues_end(doc, "changed", n_idx, stdout);
    } else if (rc) {
        batch_print_error(e->command, e->name, &err);
    }
    free(idx);
    if (rc)
        return batch_exit_code(rc);
    if (!add) {
        struct mf_batch_config *cfg = NULL;
        if (mf_batch_get(e->redis, e->name, &cfg, &err) == MF_E_OK)
            *st_r = cfg->state;
        mf_batch_config_free(&cfg);
    }
    return -1;
}

static int
csv_command(int argc, char **argv, const char *command, bool add) {
    struct edit e;
    struct mf_batchdef d = {0};
    struct mf_json_doc doc = {0};
    struct mf_json *issues = NULL;
    enum mf_batch_state st = MF_BATCH_CREATED;
    uint64_t jobs = 0;
    const char *csv;
    char usage[256];
    int exit_code;

    snprintf(usage, sizeof(usage), "NAME --csv FILE %s", kafka_usage);
    if ((exit_code = edit_parse(&e, command, usage, csv_options, argc, argv)) >=
        0)
        goto out;
    if (!(csv = mf_config_get(e.cli.config, "csv", NULL))) {
        fprintf(stderr, "mailferry %s: --csv FILE is required\n", command);
        exit_code = MF_EXIT_USAGE;
        goto out;
    }
    if ((exit_code = edit_connect(&e, true)) >= 0)
        goto out;
    if (e.cli.json) /* CSV problems as `batch create --json` lists them. */
        issues = mf_batchdef_issues_begin(&doc, e.name, csv);
    if ((exit_code = read_rows(&e, csv, issues, &d)) >= 0) {
        if (issues && d.issues)
            mf_batchdef_issues_end(&doc, "changed", d.issues, stdout);
        goto out;
    }
    mf_batch_edit_show_begin(&e.show);
    if ((exit_code = send_rows(&e, csv, add, &d, issues, &doc, &jobs, &st)) >=
        0)
        goto out;
    mf_batch_edit_show_rows_end(&e.show, add, d.n, jobs, jobs_topic(&e), st);
    exit_code = MF_EXIT_OK;
out:
    mf_buf_free(&doc.buf);
    mf_batchdef_free(&d);
    edit_free(&e);
    return exit_code;
}

int
cmd_batch_add(int argc, char **argv) {
    return csv_command(argc, argv, "batch add", true);
}

int
cmd_batch_update(int argc, char **argv) {
    return csv_command(argc, argv, "batch update", false);
}

/* ------------------------------------------------------------------ */
/* batch drop                                                         */
/* ------------------------------------------------------------------ */

static const struct mf_option drop_options[] = {
    {"mailbox", true, "EmailAddress[,...] of the mailboxes to take out"},
    {NULL, false, NULL},
};

int
cmd_batch_drop(int argc, char **argv) {
    struct edit e;
    struct mf_error err = {0};
    enum mf_batch_state st = MF_BATCH_CREATED;
    char **emails = NULL;
    size_t n = 0;
    int exit_code;

    if ((exit_code = edit_parse(&e, "batch drop",
                                "NAME --mailbox EMAIL[,...] --redis URL "
                                "[--json]",
                                drop_options, argc, argv)) >= 0)
        goto out;
    emails = mf_strv_split(mf_config_get(e.cli.config, "mailbox", NULL), &n);
    if (n == 0) {
        fprintf(stderr, "mailferry batch drop: --mailbox EMAIL[,...] is "
                        "required\n");
        exit_code = MF_EXIT_USAGE;
        goto out;
    }
    if ((exit_code = edit_connect(&e, false)) >= 0)
        goto out;
    if ((exit_code = batch_status_result(
             "batch drop", e.name,
             mf_batch_drop_mailboxes(e.redis, e.name,
                                     (const char *const *)emails, n, &st, &err),
             &err)))
        goto out;
    mf_batch_edit_show_dropped(&e.show, (const char *const *)emails, n, st);
    exit_code = MF_EXIT_OK;
out:
    mf_strv_free(emails, n);
    edit_free(&e);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* Per-mailbox sync, start, stop; retry                               */
/* ------------------------------------------------------------------ */

static const struct mf_option action_options[] = {
    {"mailbox", true, "EmailAddress[,...]: only these mailboxes"},
    {"failed", false, "retry: every mailbox that failed (the default)"},
    {NULL, false, NULL},
};

bool
batch_mailbox_given(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--mailbox") == 0 ||
            strncmp(argv[i], "--mailbox=", 10) == 0)
            return true;
    return false;
}

static int
action(int argc, char **argv, const char *command, enum mf_batch_mb_op op) {
    struct edit e;
    struct mf_error err = {0};
    enum mf_batch_state st = MF_BATCH_CREATED;
    char **emails = NULL;
    size_t n = 0;
    uint64_t jobs = 0;
    bool failed = false, produce = op != MF_BATCH_MB_STOP;
    char usage[256];
    int exit_code;
    mf_err rc;

    snprintf(usage, sizeof(usage), "NAME %s %s",
             op == MF_BATCH_MB_RETRY ? "[--mailbox EMAIL[,...]] [--failed]"
                                     : "--mailbox EMAIL[,...]",
             produce ? kafka_usage : "--redis URL [--json]");
    if ((exit_code =
             edit_parse(&e, command, usage, action_options, argc, argv)) >= 0)
        goto out;
    emails = mf_strv_split(mf_config_get(e.cli.config, "mailbox", NULL), &n);
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(e.cli.config, "failed", false, &failed, &err) ||
        (failed && op != MF_BATCH_MB_RETRY)) {
        fprintf(stderr, "mailferry %s: --failed is for batch retry\n", command);
        goto out;
    }
    if (n == 0 && op != MF_BATCH_MB_RETRY) {
        fprintf(stderr,
                "mailferry %s: --mailbox EMAIL[,...] names the "
                "mailboxes (without it the whole batch)\n",
                command);
        goto out;
    }
    if ((exit_code = edit_connect(&e, produce)) >= 0)
        goto out;
    mf_batch_edit_show_begin(&e.show);
    if (produce)
        rc = mf_jobs_mailboxes_op(&e.link.jc, e.name, op,
                                  n ? (const char *const *)emails : NULL, n,
                                  EDIT_FLUSH_MS, mf_batch_edit_show_outcome,
                                  &e.show, &jobs, &st, &err);
    else
        rc = mf_batch_mailboxes_op(
            e.redis, e.name, op, (const char *const *)emails, n,
            mf_batch_edit_show_outcome, &e.show, &st, &err);
    if ((exit_code = batch_status_result(command, e.name, rc, &err)))
        goto out;
    mf_batch_edit_show_end(&e.show, jobs, jobs_topic(&e), st);
    exit_code = e.show.unknown ? MF_EXIT_FAIL : MF_EXIT_OK;
out:
    mf_strv_free(emails, n);
    edit_free(&e);
    return exit_code;
}

int
batch_mailbox_action(int argc, char **argv, const char *command) {
    enum mf_batch_mb_op op =
        strcmp(command, "batch stop") == 0    ? MF_BATCH_MB_STOP
        : strcmp(command, "batch start") == 0 ? MF_BATCH_MB_START
                                              : MF_BATCH_MB_SYNC;
    return action(argc, argv, command, op);
}

int
cmd_batch_retry(int argc, char **argv) {
    return action(argc, argv, "batch retry", MF_BATCH_MB_RETRY);
}
