/*
 * `mailferry migrate --direct` (core/src/direct/): the copy engine alone,
 * without the batch pipeline. Each of `concurrency` threads takes the
 * next CSV row and runs mf_migrate_mailbox() for it (checkpoints in Redis
 * when redis_url is set, else in memory); one line per finished mailbox
 * (or one JSON document), the progress (mailferry/progress.h), a summary, and
 * the report (CSV, JSON, HTML) in report_dir.
 *
 * It stays beside the worker (core/src/worker) as the engine's bench and
 * debugging path: docs/design.md §9 says why.
 */
#ifndef MAILFERRY_DIRECT_H
#define MAILFERRY_DIRECT_H

#include "mailferry/csv.h"
#include "mailferry/migrate.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Both logins of row; owned[4] receives strings freed after the mailbox
 * (NULL where nothing was allocated). */
typedef void (*mf_direct_login_fn)(void *ud, const struct mf_csv_mailbox *row,
                                   struct mf_migrate_login *src,
                                   struct mf_migrate_login *dst,
                                   char *owned[4]);

struct mf_direct_options {
    /* Every mailbox's options (progress and stop set by the run). */
    struct mf_migrate_options opts;
    /* Set from a signal handler, stops every mailbox at a message
     * boundary; the run sets it too when a thread cannot start. */
    atomic_bool *stop;
    const char *redis_url;             /* checkpoints there; NULL: in memory */
    const struct mf_csv_mailbox *rows; /* n, borrowed */
    size_t n;
    mf_direct_login_fn login;
    void *login_ud;
    unsigned concurrency;
    bool json;
    /* Without json, the progress of mailferry/progress.h as embedded
     * `migrate` shows it (mf_progress_view_open()): on a terminal
     * (stderr) the display redrawn in place every second, else a
     * `progress:` summary line on stdout every progress_interval_s
     * seconds; 0: none (--no-progress). */
    double progress_interval_s;
    const char *report_dir;      /* created if needed */
    const char *source, *target; /* server URLs, for the report */
};

/* How a direct run ended, for the exit code. */
enum mf_direct_verdict {
    MF_DIRECT_OK,        /* every mailbox finished without error */
    MF_DIRECT_FAILED,    /* a mailbox failed, stopped or did not run */
    MF_DIRECT_NO_REPORT, /* the report could not be written (said on stderr) */
};

/* Runs every row; returns when all are done or stopped. */
enum mf_direct_verdict mf_direct_run(const struct mf_direct_options *o);

#endif
