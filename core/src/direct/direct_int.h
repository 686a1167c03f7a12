/*
 * Inside core/src/direct: what `mailferry migrate --direct` prints
 * (output.c): the progress (watch.c), one line per finished
 * mailbox, and a summary (text or one JSON document); and the report it
 * leaves behind (report.c).
 */
#ifndef MF_DIRECT_INT_H
#define MF_DIRECT_INT_H

#include "mailferry/migrate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* One mailbox's run as the printer sees it. */
struct mf__direct_outcome {
    const char *email; /* borrowed */
    atomic_bool started, done;
    bool printed; /* its line is out (the watcher's alone) */
    struct mf_migrate_progress *progress; /* owned */
    struct mf_migrate_result result;
};

/* One line (or a few with skipped and failed messages) about a finished
 * mailbox. */
void mf__direct_print_mailbox(FILE *out, const struct mf__direct_outcome *o);
/* Throughput over time, for the report's chart. */
struct mf__direct_sample {
    int64_t time_ms; /* Unix ms */
    uint64_t messages, bytes;
};
struct mf__direct_samples {
    struct mf__direct_sample *v; /* owned */
    size_t n;
};

/* Until finished == n (or stop is set and nothing runs): prints each
 * finished mailbox's line (unless json), records a sample at the start
 * and then a second and,
 * unless json or progress_interval_s is 0, shows the progress of
 * mailferry/progress.h as embedded `migrate` does
 * (mf_progress_view_open()): redrawn in place on a terminal (stderr),
 * the lines printed above it, else a summary line every
 * progress_interval_s seconds on stdout (watch.c). *finished is read
 * under mu. */
struct mf__direct_watch {
    pthread_mutex_t *mu;
    struct mf__direct_outcome *v;
    size_t n;
    const size_t *finished;
    const atomic_bool *stop;
    const char *batch; /* for the display's head; NULL: "direct" */
    bool json;
    bool caps; /* the run has caps: its leases are counted */
    double progress_interval_s;
};
void mf__direct_watch(const struct mf__direct_watch *w,
                      struct mf__direct_samples *samples);

/* Writes report.csv, report.json and report.html into dir (created if
 * needed); prints where on out. False (with a message on stderr) when a
 * file cannot be written. */
bool mf__direct_write_reports(const char *dir, const char *batch,
                              const char *source, const char *target,
                              int64_t started_ms,
                              const struct mf__direct_outcome *v, size_t n,
                              const struct mf__direct_samples *samples,
                              FILE *out);
/* Prints the summary or the JSON document; true when every mailbox
 * finished without error. */
bool mf__direct_print_summary(FILE *out, const struct mf__direct_outcome *v,
                              size_t n, double seconds, bool json,
                              bool stopped);

#endif
