/*
 * Batches that change over their life (issue 16, section 1): mailboxes
 * added to a batch, also while it runs; new logins and passwords for
 * mailboxes; mailboxes taken out; and operations on chosen mailboxes
 * (sync, start, stop, retry) instead of the whole batch.
 *
 * The mf_batch_* functions change the records in Redis, each in one Lua
 * script (core/src/batch/lua/edit_*.lua) that checks the batch's and the
 * mailboxes' states, so that a concurrent pass, worker or coordinator
 * never sees half an edit; they hand the jobs they create to a callback,
 * as mf_batch_begin_pass() does. The mf_jobs_* functions around them
 * build and produce those jobs (jobs.h) and flush the producer.
 *
 * Passwords stay sealed as batch create seals them (jobs.h): for (batch,
 * email, "source") and (batch, email, "target"). A job is sealed again
 * for its login and endpoints when it is built, so new passwords or a
 * new target login need nothing else to keep the job's binding.
 *
 * A dropped mailbox leaves the batch: its record, item lists, verify
 * results and checkpoints are deleted, the batch's counts, status and
 * report no longer include it, and the batch's history of changes
 * (mf_batch_changes(): "drop-mailboxes <before> <after>") says how many
 * left. What was copied stays on the target.
 */
#ifndef MAILFERRY_BATCH_EDIT_H
#define MAILFERRY_BATCH_EDIT_H

#include "mailferry/batch.h"
#include "mailferry/jobs.h"
#include "mailferry/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The operations on chosen mailboxes (see lua/edit_op.lua). */
enum mf_batch_mb_op {
    MF_BATCH_MB_SYNC,       /* a new pass for any not running or Completed */
    MF_BATCH_MB_START,      /* Stopped, Failed, or Queued without a job */
    MF_BATCH_MB_STOP,       /* Queued: Stopped now; running: asked to stop */
    MF_BATCH_MB_RETRY,      /* Failed */
    MF_BATCH_MB_RETRY_AUTH, /* Failed with AUTH */
    MF_BATCH_MB_REISSUE,    /* Queued with a job: its next attempt again */
};

/* What an operation did to one mailbox. Strings borrowed for the
 * callback. job is NULL unless a job is to be produced. */
struct mf_batch_mb_outcome {
    const char *email;
    /* "queued", "reissued", "stopped", "stopping", "skipped" (state says
     * why: the op does not apply to it) or "unknown" (not in the batch). */
    const char *outcome;
    const char *state; /* the mailbox's state before */
    const struct mf_batch_job *job;
};
typedef mf_err (*mf_batch_mb_outcome_cb)(void *ud,
                                         const struct mf_batch_mb_outcome *o);

/* Adds n mailboxes (rows as mf_batch_create() takes them) to batch, all
 * or none. In a Syncing, IncrementalSyncing, Synced or SyncedWithErrors
 * batch each gets its full job at once (cb is called with it; a synced
 * batch becomes IncrementalSyncing); in a Created or Stopped one they
 * wait, Queued, for `batch start`. MF_E_STATE while a pass is being
 * queued or the batch is stopping, completing, completed or removed;
 * MF_E_INVALID_ARGUMENT for an empty or duplicate email among the rows;
 * MF_E_CSV_MAILBOX_IN_BATCH when some are in the batch already: *dups_r
 * (new array, may be NULL) then holds their indexes in mbs, *n_dups_r
 * how many; nothing is added. *state_r (may be NULL) is the batch state
 * afterwards. */
MF_WARN_UNUSED mf_err mf_batch_add_mailboxes(
    struct mf_redis *r, const char *batch,
    const struct mf_batch_mailbox_cfg *mbs, size_t n, mf_batch_job_cb cb,
    void *ud, size_t **dups_r, size_t *n_dups_r, enum mf_batch_state *state_r,
    struct mf_error *err);

/* Replaces the login, passwords, UserRoot and target login of n
 * mailboxes of batch (rows as mf_batch_create() takes them), all or
 * none. The next job of each uses them. MF_E_CSV_MAILBOX_NOT_IN_BATCH
 * when some are not in the batch: *unknown_r (new array, may be NULL)
 * holds their indexes in mbs; nothing changes. */
MF_WARN_UNUSED mf_err mf_batch_update_mailboxes(
    struct mf_redis *r, const char *batch,
    const struct mf_batch_mailbox_cfg *mbs, size_t n, size_t **unknown_r,
    size_t *n_unknown_r, struct mf_error *err);

/* Takes n mailboxes out of batch, all or none (see the top of this
 * file), then settles the batch (*state_r, may be NULL).
 * MF_E_CSV_MAILBOX_NOT_IN_BATCH for one not in the batch, MF_E_STATE
 * for one a worker is copying (stop it first) or while a pass is being
 * queued, MF_E_INVALID_ARGUMENT for all of the batch's mailboxes (`batch
 * remove` removes a batch). */
MF_WARN_UNUSED mf_err mf_batch_drop_mailboxes(
    struct mf_redis *r, const char *batch, const char *const *emails, size_t n,
    enum mf_batch_state *state_r, struct mf_error *err);

/* Applies op to the n mailboxes emails of batch (emails NULL: every
 * mailbox of the batch, in CSV order), calling cb once per mailbox with
 * what happened. A new job makes a settled batch run again (see
 * lua/edit_op.lua). MF_E_STATE (nothing done) when op needs a job and
 * the batch is Created, Stopping, Completed or being removed, or while a
 * pass is being queued. *state_r (may be NULL) is the batch state
 * afterwards. */
MF_WARN_UNUSED mf_err mf_batch_mailboxes_op(
    struct mf_redis *r, const char *batch, enum mf_batch_mb_op op,
    const char *const *emails, size_t n, mf_batch_mb_outcome_cb cb, void *ud,
    enum mf_batch_state *state_r, struct mf_error *err);

/* Whether `batch stop NAME --mailbox` asked the worker running job_id of
 * batch/email to stop (one HGET; the claim's renewal says it too). */
MF_WARN_UNUSED mf_err mf_batch_mailbox_stop_requested(
    struct mf_redis *r, const char *batch, const char *email,
    const char *job_id, bool *stop_r, struct mf_error *err);

/* The same with the jobs produced on the jobs topic (c) and the producer
 * flushed (up to flush_ms); *n_jobs_r (may be NULL) counts the jobs. */
MF_WARN_UNUSED mf_err mf_jobs_add_mailboxes(
    const struct mf_jobs_ctx *c, const char *batch,
    const struct mf_batch_mailbox_cfg *mbs, size_t n, int flush_ms,
    size_t **dups_r, size_t *n_dups_r, uint64_t *n_jobs_r,
    enum mf_batch_state *state_r, struct mf_error *err);
MF_WARN_UNUSED mf_err mf_jobs_mailboxes_op(
    const struct mf_jobs_ctx *c, const char *batch, enum mf_batch_mb_op op,
    const char *const *emails, size_t n, int flush_ms,
    mf_batch_mb_outcome_cb cb, void *ud, uint64_t *n_jobs_r,
    enum mf_batch_state *state_r, struct mf_error *err);

/* mf_batch_update_mailboxes(), then: a Queued mailbox's job already on
 * Kafka carries the old password, so it is reissued (REISSUE); a mailbox
 * that failed with AUTH is retried at once (RETRY_AUTH) unless the batch
 * cannot run now (then it waits for `batch retry`). cb hears what the
 * two operations did ("reissued", "queued"), not the mailboxes they
 * skipped. */
MF_WARN_UNUSED mf_err mf_jobs_update_mailboxes(
    const struct mf_jobs_ctx *c, const char *batch,
    const struct mf_batch_mailbox_cfg *mbs, size_t n, int flush_ms,
    size_t **unknown_r, size_t *n_unknown_r, mf_batch_mb_outcome_cb cb,
    void *ud, uint64_t *n_jobs_r, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* What the edit commands print (edit_show.c)                          */
/* ------------------------------------------------------------------ */

/* The per-mailbox outcomes of `batch add`, `update`, `drop`, `retry` and
 * `sync|start|stop --mailbox`: one line each on out ("  EMAIL: OUTCOME
 * (was STATE)"; a mailbox not in the batch on err), or with json one
 * object {"batch", "mailboxes": [{"email", "outcome", "was", "job"}...],
 * "jobs", "topic", "state"} printed at the end. */
struct mf_batch_edit_show {
    const char *command, *batch; /* borrowed: "batch add", its name */
    bool json;
    FILE *out, *err;
    uint64_t unknown; /* outcomes "unknown": not in the batch */
    struct mf_buf buf;
    struct mf_json j;
};
/* Before the first outcome. */
void mf_batch_edit_show_begin(struct mf_batch_edit_show *s);
/* One outcome (an mf_batch_mb_outcome_cb; ud is the show). */
mf_err mf_batch_edit_show_outcome(void *ud,
                                  const struct mf_batch_mb_outcome *o);
/* After the last: the jobs queued on topic (NULL: none produced) and the
 * batch's state, as a line or the JSON object's end. */
void mf_batch_edit_show_end(struct mf_batch_edit_show *s, uint64_t jobs,
                            const char *topic, enum mf_batch_state st);
void mf_batch_edit_show_free(struct mf_batch_edit_show *s);
/* `batch add` and `update` after their rows went in: "batch NAME: added
 * N mailboxes" (or "new logins and passwords for N mailboxes"; not with
 * json), mf_batch_edit_show_end(), and, for added mailboxes of which none
 * was queued, that they wait for `batch start`. */
void mf_batch_edit_show_rows_end(struct mf_batch_edit_show *s, bool add,
                                 size_t n, uint64_t jobs, const char *topic,
                                 enum mf_batch_state st);
/* `batch drop`: the n mailboxes taken out and the state after, as one
 * line, or with json as the outcomes ("dropped") with no jobs. */
void mf_batch_edit_show_dropped(struct mf_batch_edit_show *s,
                                const char *const *emails, size_t n,
                                enum mf_batch_state st);

/* The CSV lines of the rows at idx that the store refused with code (a
 * mailbox already in the batch, or not in it): as JSON error objects into
 * j when it is not NULL (an array is open there), else "CSV:LINE: error:"
 * lines on err; then "(what)" on err. */
struct mf_batchdef;
void mf_batch_edit_show_refused(FILE *err, const char *csv,
                                const struct mf_batchdef *d, const size_t *idx,
                                size_t n, mf_err code, const char *what,
                                struct mf_json *j);

#endif
