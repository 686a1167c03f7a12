/*
 * Internals of `batch status` (mailferry/status.h), shared by the files
 * of core/src/status/ and the unit tests:
 *
 *   pending.c  pure: what is next for a mailbox (its pending work, or
 *              what it waits for) and the --state filter;
 *   format.c   pure: sizes, durations and times for a person, a
 *              mailbox's detail block and its one-line form, the error
 *              tallies;
 *   mbjson.c   pure: a mailbox as a JSON object;
 *   doc.c      the batch's JSON header, the filter, the option changes;
 *   status.c   the reads from Redis and the commands.
 *
 * Everything here takes records and times in and writes text or JSON
 * out: no I/O but the FILE it is given, no clock.
 */
#ifndef MF_STATUS_INT_H
#define MF_STATUS_INT_H

#include "mailferry/batch.h"
#include "mailferry/json.h"
#include "mailferry/progress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ */
/* What is next for a mailbox (pending.c)                             */
/* ------------------------------------------------------------------ */

enum mf__status_next {
    MF__STATUS_NEXT_NONE,      /* Completed: nothing left */
    MF__STATUS_NEXT_RUNNING,   /* its pass runs now */
    MF__STATUS_NEXT_QUEUED,    /* its job waits for a worker */
    MF__STATUS_NEXT_RETRY,     /* queued again after a transient error */
    MF__STATUS_NEXT_QUOTA,     /* the target is over quota: the admin */
    MF__STATUS_NEXT_THROTTLE,  /* a server throttled or refused sessions */
    MF__STATUS_NEXT_BANDWIDTH, /* running, waits for a user's next daily
                                  bandwidth quota window (Gmail) */
    MF__STATUS_NEXT_SCHEDULED, /* Synced; serve runs the next pass */
    MF__STATUS_NEXT_SYNC,      /* Synced; the admin runs sync/complete */
    MF__STATUS_NEXT_RESUME,    /* Stopped: batch start resumes it */
    MF__STATUS_NEXT_FIX,       /* Failed: fix, then retry */
    MF__STATUS_NEXT_COUNT
};

/* "none", "running", "queued", "retry", "waiting_quota",
 * "waiting_throttle", "waiting_bandwidth", "scheduled", "sync", "resume",
 * "fix". */
const char *mf__status_next_name(enum mf__status_next n);

struct mf__status_pending {
    enum mf__status_next next;
    /* Held by something outside mailferry (quota, a throttling server):
     * the --state waiting group. */
    bool waiting;
    /* SCHEDULED: when the next incremental pass is due (Unix seconds,
     * Redis time); 0 while other mailboxes of the pass still run (serve
     * schedules a batch's pass once the last one settled). BANDWIDTH:
     * when the next quota window opens and the job goes on. */
    int64_t at;
    char text[512]; /* one sentence for a person, with the command */
};

/* What is pending for mb in batch cfg: the rule, in one place, for the
 * text and the JSON. Pure. */
void mf__status_pending(const struct mf_batch_config *cfg,
                        const struct mf_batch_mailbox *mb,
                        struct mf__status_pending *p_r);

/* The --state filter: mailbox state names (any case), and the groups
 * running (Syncing, IncrementalSyncing), pending (Queued), done (Synced,
 * Completed) and waiting (mf__status_pending()'s waiting), as a
 * comma-separated list; a mailbox matches any of them. */
struct mf__status_filter {
    uint32_t states; /* bit (1 << enum mf_mailbox_state) */
    bool waiting;
};
/* false, with the word that is not known in err (MF_E_USAGE). An empty
 * list matches nothing and is refused too. */
MF_WARN_UNUSED bool mf__status_filter_parse(const char *list,
                                            struct mf__status_filter *f_r,
                                            struct mf_error *err);
bool mf__status_filter_match(const struct mf__status_filter *f,
                             const struct mf_batch_mailbox *mb,
                             const struct mf__status_pending *p);

/* ------------------------------------------------------------------ */
/* Tallies of error codes (format.c)                                  */
/* ------------------------------------------------------------------ */

#define MF__STATUS_CODES_MAX 16
/* Counts by error code, in order of first appearance; codes past the
 * MF__STATUS_CODES_MAX first are counted in other. */
struct mf__status_codes {
    struct {
        int code;
        char name[64];
        uint64_t n;
    } c[MF__STATUS_CODES_MAX];
    size_t n;
    uint64_t other;
};
/* Counts one of code (name NULL or "": mf_err_name(code)). */
void mf__status_codes_add(struct mf__status_codes *t, int code,
                          const char *name);
/* "AUTH (305) 3, OVERQUOTA (310) 1" (+ ", other 2"), into out. */
void mf__status_codes_format(const struct mf__status_codes *t, char *out,
                             size_t n);
void mf__status_codes_json(struct mf_json *j, const struct mf__status_codes *t);

/* ------------------------------------------------------------------ */
/* Text (format.c)                                                    */
/* ------------------------------------------------------------------ */

/* "12 B", "3.4 KiB", ... */
void mf__status_bytes(char *out, size_t n, uint64_t v);
/* "45s", "3m05s", "2h10m", "1d03h". */
void mf__status_secs(char *out, size_t n, double secs);
/* "2026-12-06 09:30:01 UTC (3m05s ago)", "-" for 0. */
void mf__status_time(char *out, size_t n, int64_t t, int64_t now);
/* The summary's first two lines: "batch NAME: STATE, pass N, M
 * mailboxes, started TIME" and, once the batch finished, ", ran 1.32s"
 * (from started_ms and finished_ms: a batch of a second is not "0s");
 * then the counts by mailbox state. */
void mf__status_head(FILE *out, const struct mf_batch_config *cfg, int64_t now);

/* A running mailbox's figures by the one rule of progress/figures.c: its
 * counters since its pass began (mb->last_sync) as a one-mailbox
 * snapshot, the rate over the whole pass. now: Redis time. */
void mf__status_mailbox_figures(const struct mf_batch_mailbox *mb, int64_t now,
                                struct mf_progress_figures *f_r);

/* A mailbox's detail block for `batch status NAME --mailbox E`: state,
 * passes, times, what was copied, skipped (by reason) and failed (by
 * code: failed, NULL when not read), the last error and what is
 * pending. */
void mf__status_mailbox_text(FILE *out, const struct mf_batch_mailbox *mb,
                             const struct mf__status_pending *p,
                             const struct mf__status_codes *failed,
                             int64_t now);

/* One line for `--state` lists: email, state, pass, last pass, copied,
 * failed and skipped counts, the last error, what is pending. */
void mf__status_mailbox_line(char *out, size_t n,
                             const struct mf_batch_mailbox *mb,
                             const struct mf__status_pending *p, int64_t now);

/* ------------------------------------------------------------------ */
/* JSON (mbjson.c)                                                    */
/* ------------------------------------------------------------------ */

/* mb as one object: its record's fields, "progress" with the rate and
 * ETA of mf__status_mailbox_figures(), "skipped" by reason, "failed"
 * (messages), "pending" (next, waiting, due, text), "error"; with
 * failed given, "failed_by_error" too. */
void mf__status_mailbox_json(struct mf_json *j,
                             const struct mf_batch_mailbox *mb,
                             const struct mf__status_pending *p,
                             const struct mf__status_codes *failed,
                             int64_t now);

/* ------------------------------------------------------------------ */
/* The batch (doc.c)                                                  */
/* ------------------------------------------------------------------ */

/* The batch's configuration, state and counts by state, as keys of the
 * open JSON object. */
/* "counts": the mailboxes by state, a member per state name. */
void mf__status_counts_json(struct mf_json *j,
                            const uint64_t counts[MF_MAILBOX_STATE_COUNT]);
void mf__status_json_header(struct mf_json *j,
                            const struct mf_batch_config *cfg);
/* "filter": {"state": states, "mailbox": mailboxes} (NULL: null). */
void mf__status_json_filter(struct mf_json *j, const char *states,
                            const char *mailboxes);
/* The batch's option changes: "changes" lines on out, or with j a
 * "changes" array. A failed read is said on out (text) or leaves the
 * array empty. */
struct mf_redis;
void mf__status_changes(struct mf_redis *r, const char *name, FILE *out,
                        struct mf_json *j);

#endif
