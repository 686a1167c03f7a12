/*
 * Progress a person can watch (issue 16 §6): the figures of a running
 * batch, as `mailferry migrate` draws them on a terminal and `batch
 * status --watch` shows them.
 *
 * Four steps, one file each in core/src/progress/:
 *
 *   read.c     a snapshot of the batch's counters, read from Redis: the
 *              batch record, every mailbox record (the running jobs' live
 *              progress, which workers publish every few seconds) and the
 *              caps' lease counts (mailferry/caps.h);
 *   figures.c  pure: a meter keeps the snapshots' done counters over a
 *              sliding window; from a snapshot and the meter come the
 *              figures: mailboxes done of total, messages and bytes done
 *              of the planned total, the current rate, the ETA;
 *   render.c   pure: figures to text lines no wider than the terminal,
 *              or to one summary line;
 *   view.c     the output: redrawn in place on a terminal (ANSI cursor up
 *              and erase), a summary line every interval otherwise.
 *
 * What "planned" means. Work done is what the batch's records count:
 * messages and bytes copied by the finished jobs of every pass, plus
 * what running jobs have handled so far (the figures `batch status`
 * always showed). Work left is what running jobs listed and have not
 * handled yet, plus, for queued mailboxes, their size where a pass
 * measured it and otherwise the average of the mailboxes measured so far
 * (an estimate, marked so). Planned = done + left. A running job lists
 * folder by folder, so while it lists, its left part grows: the planned
 * total is then a lower bound and marked as an estimate too.
 *
 * Ownership: a snapshot owns its in-flight list (mf_progress_snapshot_
 * clear()); figures, meters and views are plain structs the caller owns.
 */
#ifndef MAILFERRY_PROGRESS_H
#define MAILFERRY_PROGRESS_H

#include "mailferry/err.h"
#include "mailferry/migrate.h"
#include "mailferry/redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Mailboxes in flight a snapshot keeps (the others are counted). */
#define MF_PROGRESS_INFLIGHT_MAX 64
/* Samples a meter keeps; with one a second, more than any window. */
#define MF_PROGRESS_SAMPLES 128
/* The default sliding window of the rate, in seconds. */
#define MF_PROGRESS_WINDOW_S 15.0
/* Widest line the renderer makes, whatever the terminal says. */
#define MF_PROGRESS_WIDTH_MAX 400

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/* One running mailbox. */
struct mf_progress_mailbox {
    char *email; /* owned */
    uint64_t messages_done, messages_total;
    uint64_t bytes_done, bytes_total; /* bytes_total 0: not known */
    uint32_t folders_done, folders_total;
    uint32_t attempt;
    double seconds; /* since its pass began; 0: not known */
    /* Connections held under the caps, and what it waits for. */
    struct mf_migrate_conns conns;
};

/* One endpoint's connections, from the caps in Redis. counted is false
 * when the batch has no caps on either side: then no lease is taken and
 * nothing counts the connections. */
struct mf_progress_side {
    bool counted;
    unsigned held;    /* live connection leases, fleet-wide */
    unsigned waiting; /* waiters in the endpoint's line */
};

struct mf_progress_snapshot {
    double at; /* mf_monotonic_s() when read */
    char batch[65];
    char state[32]; /* the batch state's name */
    bool running;   /* mf_batch_state_running() */
    bool stopping;  /* Stopping */

    uint64_t mailboxes; /* in the batch */
    uint64_t finished;  /* in a final state this pass */
    uint64_t failed;    /* of which Failed */
    uint64_t running_n; /* Syncing, IncrementalSyncing */
    uint64_t queued;    /* Queued */

    /* Done: copied by finished jobs (all passes) and handled so far by
     * running ones. */
    uint64_t messages_done, bytes_done;
    /* Left in running jobs: listed and not handled yet. listing: some
     * running job has folders still to list. run_unsized_left: messages
     * left in jobs whose worker did not say their bytes (not in
     * run_bytes_left; the figures estimate them by the average size). */
    uint64_t run_messages_left, run_bytes_left, run_unsized_left;
    bool listing;
    /* Running jobs that have not published a plan yet (no folder
     * total): unknown like an unmeasured queued mailbox. */
    uint64_t run_unplanned;
    /* Queued mailboxes whose size a pass measured, and that size. */
    uint64_t queued_sized, queued_messages, queued_bytes;
    /* Mailboxes with a measured source size (any state), for the
     * average that stands in for the unmeasured queued ones. */
    uint64_t sized, sized_messages, sized_bytes;

    struct mf_progress_side source, target;
    uint64_t lease_wait_ms; /* waited for leases, finished jobs */
    /* Running mailboxes that wait for a slot in a cap now (their conns:
     * a connection, or a place in the mailbox cap). */
    uint64_t run_waiting;

    struct mf_progress_mailbox *inflight; /* owned, CSV order */
    size_t n_inflight;                    /* <= MF_PROGRESS_INFLIGHT_MAX */
};

void mf_progress_snapshot_clear(struct mf_progress_snapshot *s);

/* Adds one running mailbox to s->inflight (copied) when there is room;
 * the counters are the caller's to add. */
void mf_progress_snapshot_add_inflight(struct mf_progress_snapshot *s,
                                       const struct mf_progress_mailbox *m);

/* Counts one running mailbox in s (the one rule for a snapshot read
 * from Redis and one made from --direct's threads): its done and left
 * figures, whether it still lists or has no plan yet, whether it waits
 * for a slot; and adds it to s->inflight (add_inflight above). */
void mf_progress_snapshot_add_running(struct mf_progress_snapshot *s,
                                      const struct mf_progress_mailbox *m);

/* Called by mf_progress_read() with every mailbox record it reads, for a
 * caller that prints something per mailbox from the same pass (migrate's
 * line per finished mailbox). A non-zero return stops the read. */
struct mf_batch_mailbox;
typedef mf_err (*mf_progress_mailbox_cb)(void *ud,
                                         const struct mf_batch_mailbox *mb);

/* Reads batch's snapshot into *s (cleared first): one mf_batch_get(),
 * one walk over the mailbox records, and with caps one usage query per
 * endpoint. A caps query that fails leaves that side uncounted rather
 * than failing the read. MF_E_NOT_FOUND without such a batch; Redis
 * errors as mf_batch_get(). */
MF_WARN_UNUSED mf_err mf_progress_read(struct mf_redis *r, const char *batch,
                                       mf_progress_mailbox_cb cb, void *ud,
                                       struct mf_progress_snapshot *s,
                                       struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Figures (pure)                                                      */
/* ------------------------------------------------------------------ */

/* The done counters over time, for the rate over a sliding window. */
struct mf_progress_meter {
    double window_s; /* rate over the last window_s seconds */
    double first;    /* time of the first sample ever; < 0: none */
    struct {
        double t;
        uint64_t messages, bytes;
    } s[MF_PROGRESS_SAMPLES]; /* ring */
    size_t head, n;
};

/* An empty meter; window_s <= 0 takes MF_PROGRESS_WINDOW_S. */
void mf_progress_meter_init(struct mf_progress_meter *m, double window_s);
/* Records the done counters at time t (seconds, increasing). A counter
 * that went down (a job's attempt started over) restarts the window, so
 * a rate is never negative. */
void mf_progress_meter_add(struct mf_progress_meter *m, double t,
                           uint64_t messages, uint64_t bytes);

/* A figure that may be unknown or estimated. */
struct mf_progress_total {
    uint64_t done;
    uint64_t planned; /* done + left; meaningful when known */
    bool known;       /* false: nothing to estimate from yet */
    bool estimated;   /* partly an estimate ("~") */
    double percent;   /* done / planned, 0-100; 0 when not known */
};

struct mf_progress_figures {
    uint64_t mailboxes, finished, failed, running, queued;
    struct mf_progress_total messages, bytes;
    bool rate_known; /* two samples at least half a second apart */
    double messages_per_s, bytes_per_s;
    bool eta_known; /* a known rate above zero and a known remainder */
    double eta_s;
    double elapsed_s; /* since the meter's first sample */
};

/* The figures of snapshot s, with the rate from meter m (m may be NULL:
 * no rate, no ETA). The ETA is the larger of messages left / message
 * rate and bytes left / byte rate (of those known), as plan's estimates
 * take the larger of the two; 0 left is an ETA of 0. */
void mf_progress_figures_compute(const struct mf_progress_snapshot *s,
                                 const struct mf_progress_meter *m,
                                 struct mf_progress_figures *f_r);

/* ------------------------------------------------------------------ */
/* Rendering (pure)                                                    */
/* ------------------------------------------------------------------ */

/* Lines made by mf_progress_render(); each NUL-terminated, no newline,
 * at most width terminal columns (mf_utf8_fit()). */
#define MF_PROGRESS_LINES_MAX 40
struct mf_progress_lines {
    char line[MF_PROGRESS_LINES_MAX][MF_PROGRESS_WIDTH_MAX * 4 + 1];
    size_t n;
};

/* The display: a head line (batch, state, mailboxes), the messages and
 * bytes with rate and ETA, the connections, then one line per mailbox
 * in flight while the height allows and a line counting the rest.
 * width < 20 is taken as 20, above MF_PROGRESS_WIDTH_MAX as that;
 * height (lines) below 4 as 4, above MF_PROGRESS_LINES_MAX as that. */
void mf_progress_render(const struct mf_progress_snapshot *s,
                        const struct mf_progress_figures *f, unsigned width,
                        unsigned height, struct mf_progress_lines *out);

/* A running mailbox's wait for a slot, as the display, the summary and
 * `batch status` say it: "waiting for a source connection slot (total
 * cap full) 3s"; "" when c waits for nothing. */
void mf_progress_wait_text(const struct mf_migrate_conns *c, char *out,
                           size_t n);

/* The one-line form (no width limit): "progress: 3/10 mailboxes done
 * (1 failed), 2 running, 5 queued; messages 120/~400 (30%); bytes ...;
 * 40.0 msgs/s, 1.2 MB/s; ETA ~7s; connections source 2 held 0 waiting,
 * target 2 held 0 waiting; waited 0s". */
void mf_progress_summary(const struct mf_progress_snapshot *s,
                         const struct mf_progress_figures *f, char *out,
                         size_t n);

/* ------------------------------------------------------------------ */
/* The view (view.c): output                                           */
/* ------------------------------------------------------------------ */

struct mf_progress_view {
    FILE *out;
    bool tty;          /* redraw in place; else summary lines */
    double interval_s; /* summary lines: seconds between; 0: none */
    double last_line;  /* when the last summary line was printed */
    unsigned drawn;    /* lines of the display now on the screen */
    int fd;            /* for the terminal's size */
    struct mf_progress_meter meter;
    struct mf_progress_figures last; /* of the last update */
};

/* A view on out. tty: out is a terminal (the caller asks isatty()).
 * interval_s: without a terminal, seconds between summary lines (0:
 * none at all). */
void mf_progress_view_init(struct mf_progress_view *v, FILE *out, bool tty,
                           double interval_s);
/* The view `migrate` shows, embedded or --direct (one rule for both):
 * when stderr is a terminal, the display redrawn in place there; else a
 * summary line on stdout, among the mailboxes' lines, every interval_s
 * seconds. False (v untouched) when interval_s is 0: no progress at all
 * (--no-progress). */
bool mf_progress_view_open(struct mf_progress_view *v, double interval_s);
/* Feeds s to the meter and shows it: redrawn in place on a terminal,
 * else a summary line at the first update, then when interval_s has
 * passed since the last one, and always when final (the last figures
 * stay on the screen or in the log). */
void mf_progress_view_update(struct mf_progress_view *v,
                             const struct mf_progress_snapshot *s, bool final);
/* Erases the display from the terminal (nothing otherwise), so that a
 * line can be printed where it stood; the next update draws it again
 * below that line. */
void mf_progress_view_clear(struct mf_progress_view *v);

/* The terminal's width and height of fd (TIOCGWINSZ); from $COLUMNS
 * and $LINES, else 80 x 24, when fd is no terminal. */
void mf_progress_term_size(int fd, unsigned *width_r, unsigned *height_r);

#endif
