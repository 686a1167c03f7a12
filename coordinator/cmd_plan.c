/*
 * `mailferry plan FILE --source URL [--target URL]`: what a batch would
 * copy, before it runs (docs/design.md §1, §3). Per mailbox of the CSV, a
 * few at a time: the folder plan (source folder -> target folder, or
 * excluded and why, renamed because of separators or collisions), the
 * messages and bytes per folder, the messages over the size cap; totals
 * per mailbox and for the batch. With --from-batch NAME (repeatable) and
 * --redis URL, also the throughput one connection achieved in those
 * finished test batches and, from it, the time the planned mailboxes
 * would take at several connection counts and batch sizes that fit a
 * window. The work is in core/src/plan (mailferry/plan.h).
 *
 * Exit: 0 every mailbox planned; 1 a mailbox could not be planned (the
 * others still are) or the CSV has errors; 2 a wrong command line; 3 the
 * command could not run (CSV unreadable, Redis unreachable, a test batch
 * missing or without a Synced mailbox to measure).
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/csv.h"
#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "FILE --source URL [--target URL] [--admin USER "
    "--admin-password-file F] [--include P,...] [--exclude P,...] "
    "[--rename OLD=NEW,...] "
    "[--max-message-size 35M] [--since DAY] [--before DAY] [--concurrency N] "
    "[--from-batch NAME ... "
    "--redis URL [--connections 1,2,4] [--window 8h]] [--json]";

static const struct mf_option options[] = {
    MF_PLAN_OPTIONS{NULL, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/* --from-batch may repeat, and the option table keeps only the last
 * value of an option: collect them all from argv. */
static void
collect_batches(int argc, char **argv, struct mf_plan_settings *s) {
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--from-batch") == 0 && i + 1 < argc)
            mf_plan_settings_add_batches(s, argv[++i]);
        else if (strncmp(argv[i], "--from-batch=", 13) == 0)
            mf_plan_settings_add_batches(s, argv[i] + 13);
    }
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static atomic_bool stop_flag;

/* The test batches first: a typo there should not wait for the whole
 * plan. Running ones are said to be. */
static int
read_forecast(const struct mf_plan_settings *st, struct mf_plan_forecast *f) {
    struct mf_error err = {0};
    mf_err rc = mf_plan_forecast_read(
        f, st->redis, (const char *const *)st->batches, st->n_batches, &err);

    for (size_t i = 0; i < f->n_digests; i++)
        if (f->digests[i].running)
            fprintf(stderr,
                    "mailferry plan: warning: test batch %s is %s; its "
                    "figures may still change\n",
                    f->digests[i].name, f->digests[i].state);
    if (rc == MF_E_OK)
        return MF_EXIT_OK;
    fprintf(stderr, "mailferry plan: %s\n", err.detail);
    return MF_EXIT_ERROR;
}

int
cmd_plan(int argc, char **argv) {
    struct cli cli;
    struct mf_plan_settings st = {0};
    struct mf_csv_rows rows = {0};
    struct mf_plan_requests reqs = {0};
    struct mf_plan_batch *b = NULL;
    struct mf_plan_forecast fc = {0};
    struct mf_plan_progress prog = {0};
    struct mf_error err = {0};
    int exit_code;

    if ((exit_code = cli_parse_one(&cli, "plan", usage, options, argc, argv,
                                   "FILE")) >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    collect_batches(argc, argv, &st);
    if (mf_plan_settings_read(cli.config, &st, &err)) {
        fprintf(stderr, "mailferry plan: %s\n", err.detail);
        goto out;
    }

    if ((exit_code = cli_csv_load(&cli, "plan", cli.positional[0],
                                  mf_direct_connect_password_optional(&st.c),
                                  &rows)) != -1)
        goto out;
    if (st.n_batches && (exit_code = read_forecast(&st, &fc)) != MF_EXIT_OK)
        goto out;
    exit_code = MF_EXIT_ERROR;

    {
        struct mf_jobs_direct_side sides[2];
        mf_direct_connect_sides(&st.c, sides);
        mf_plan_requests_csv(sides, rows.rows, rows.n, &reqs);
    }

    cli_catch_signals(&stop_flag);
    st.po.stop = &stop_flag;
    prog.out = stderr;
    prog.n = rows.n;
    prog.draw = !cli.json && isatty(STDERR_FILENO);
    st.po.on_mailbox = mf_plan_progress_cb;
    st.po.ud = &prog;
    if (mf_plan_batch(&st.po, reqs.v, reqs.n, &b, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry plan: %s\n", err.detail);
        goto out;
    }

    if (st.n_batches &&
        mf_plan_forecast_estimate(&fc, b, st.conns, st.n_conns,
                                  (unsigned)st.max_connections,
                                  (double)st.window_s, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry plan: %s\n", err.detail);
        goto out;
    }
    mf_plan_forecast_print(stdout, cli.json, b, &fc,
                           mf_config_get(cli.config, "source", NULL),
                           mf_config_get(cli.config, "target", NULL));
    exit_code = b->n_failed ? MF_EXIT_FAIL : MF_EXIT_OK;
out:
    mf_plan_requests_free(&reqs);
    mf_plan_forecast_clear(&fc);
    mf_plan_batch_free(&b);
    mf_csv_rows_free(&rows);
    mf_plan_settings_free(&st);
    cli_free(&cli);
    return exit_code;
}
