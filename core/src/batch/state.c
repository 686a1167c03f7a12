/*
 * Batch and mailbox states (docs/design.md §4): names as stored in Redis and
 * the transition tables. Pure functions; the Lua scripts are given the
 * same tables (mf_batch_set_state passes the allowed "from" states). The
 * derived state of a batch whose mailboxes are all final is settle() in
 * lua/prelude.lua alone. Also whether a batch has caps (its jobs then
 * run under leases), a predicate the worker and the progress display
 * share.
 */
#include "batch/batch_int.h"

#include <string.h>

static const char *const batch_names[MF_BATCH_STATE_COUNT] = {
    [MF_BATCH_CREATED] = "Created",
    [MF_BATCH_SYNCING] = "Syncing",
    [MF_BATCH_SYNCED] = "Synced",
    [MF_BATCH_SYNCED_WITH_ERRORS] = "SyncedWithErrors",
    [MF_BATCH_INCREMENTAL_SYNCING] = "IncrementalSyncing",
    [MF_BATCH_COMPLETING] = "Completing",
    [MF_BATCH_COMPLETED] = "Completed",
    [MF_BATCH_COMPLETED_WITH_ERRORS] = "CompletedWithErrors",
    [MF_BATCH_STOPPING] = "Stopping",
    [MF_BATCH_STOPPED] = "Stopped",
    [MF_BATCH_REMOVING] = "Removing",
};

static const char *const mailbox_names[MF_MAILBOX_STATE_COUNT] = {
    [MF_MAILBOX_QUEUED] = "Queued",
    [MF_MAILBOX_SYNCING] = "Syncing",
    [MF_MAILBOX_SYNCED] = "Synced",
    [MF_MAILBOX_INCREMENTAL_SYNCING] = "IncrementalSyncing",
    [MF_MAILBOX_STOPPED] = "Stopped",
    [MF_MAILBOX_FAILED] = "Failed",
    [MF_MAILBOX_COMPLETED] = "Completed",
};

#define B(s) (1u << MF_BATCH_##s)
/* batch_next[from]: the states "from" may go to. */
static const unsigned batch_next[MF_BATCH_STATE_COUNT] = {
    [MF_BATCH_CREATED] = B(SYNCING) | B(REMOVING),
    [MF_BATCH_SYNCING] = B(SYNCED) | B(SYNCED_WITH_ERRORS) | B(STOPPING),
    [MF_BATCH_SYNCED] = B(INCREMENTAL_SYNCING) | B(COMPLETING) | B(REMOVING),
    [MF_BATCH_SYNCED_WITH_ERRORS] =
        B(INCREMENTAL_SYNCING) | B(COMPLETING) | B(REMOVING),
    [MF_BATCH_INCREMENTAL_SYNCING] =
        B(SYNCED) | B(SYNCED_WITH_ERRORS) | B(STOPPING),
    [MF_BATCH_COMPLETING] =
        B(COMPLETED) | B(COMPLETED_WITH_ERRORS) | B(STOPPING),
    [MF_BATCH_COMPLETED] = B(REMOVING),
    [MF_BATCH_COMPLETED_WITH_ERRORS] = B(REMOVING),
    [MF_BATCH_STOPPING] = B(STOPPED),
    /* Start resumes the pass that was stopped. */
    [MF_BATCH_STOPPED] =
        B(SYNCING) | B(INCREMENTAL_SYNCING) | B(COMPLETING) | B(REMOVING),
    /* An interrupted removal is repeated. */
    [MF_BATCH_REMOVING] = B(REMOVING),
};
#undef B

#define M(s) (1u << MF_MAILBOX_##s)
#define M_DONE (M(SYNCED) | M(FAILED) | M(STOPPED) | M(COMPLETED) | M(QUEUED))
static const unsigned mailbox_next[MF_MAILBOX_STATE_COUNT] = {
    /* Claimed by a worker, or stopped before any worker took it. */
    [MF_MAILBOX_QUEUED] = M(SYNCING) | M(INCREMENTAL_SYNCING) | M(STOPPED),
    /* A result, or a requeue after a lost worker (Queued). */
    [MF_MAILBOX_SYNCING] = M_DONE,
    [MF_MAILBOX_INCREMENTAL_SYNCING] = M_DONE,
    /* A new pass. */
    [MF_MAILBOX_SYNCED] = M(QUEUED),
    [MF_MAILBOX_STOPPED] = M(QUEUED),
    [MF_MAILBOX_FAILED] = M(QUEUED),
    [MF_MAILBOX_COMPLETED] = 0,
};
#undef M_DONE
#undef M

const char *
mf_batch_state_name(enum mf_batch_state s) {
    return (unsigned)s < MF_BATCH_STATE_COUNT ? batch_names[s] : "Unknown";
}

const char *
mf_mailbox_state_name(enum mf_mailbox_state s) {
    return (unsigned)s < MF_MAILBOX_STATE_COUNT ? mailbox_names[s] : "Unknown";
}

mf_err
mf_batch_state_parse(const char *s, enum mf_batch_state *s_r) {
    for (int i = 0; i < MF_BATCH_STATE_COUNT; i++)
        if (strcmp(s, batch_names[i]) == 0) {
            *s_r = (enum mf_batch_state)i;
            return MF_E_OK;
        }
    return MF_E_NOT_FOUND;
}

mf_err
mf_mailbox_state_parse(const char *s, enum mf_mailbox_state *s_r) {
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        if (strcmp(s, mailbox_names[i]) == 0) {
            *s_r = (enum mf_mailbox_state)i;
            return MF_E_OK;
        }
    return MF_E_NOT_FOUND;
}

bool
mf_batch_transition_allowed(enum mf_batch_state from, enum mf_batch_state to) {
    if ((unsigned)from >= MF_BATCH_STATE_COUNT ||
        (unsigned)to >= MF_BATCH_STATE_COUNT)
        return false;
    return (batch_next[from] >> to) & 1u;
}

bool
mf_mailbox_transition_allowed(enum mf_mailbox_state from,
                              enum mf_mailbox_state to) {
    if ((unsigned)from >= MF_MAILBOX_STATE_COUNT ||
        (unsigned)to >= MF_MAILBOX_STATE_COUNT)
        return false;
    return (mailbox_next[from] >> to) & 1u;
}

bool
mf_batch_state_running(enum mf_batch_state s) {
    return s == MF_BATCH_SYNCING || s == MF_BATCH_INCREMENTAL_SYNCING ||
           s == MF_BATCH_COMPLETING || s == MF_BATCH_STOPPING;
}

bool
mf_batch_caps_any(const struct mf_batch_caps *c) {
    return c->max_connections || c->max_connections_per_user ||
           c->max_connections_per_ip || c->max_concurrent_mailboxes ||
           c->max_bytes_per_second;
}

bool
mf_mailbox_state_final(enum mf_mailbox_state s) {
    return s != MF_MAILBOX_QUEUED && s != MF_MAILBOX_SYNCING &&
           s != MF_MAILBOX_INCREMENTAL_SYNCING;
}

const char *
mf__batch_kind_name(enum mf_job_kind k) {
    switch (k) {
    case MF_JOB_KIND_INCREMENTAL:
        return "incremental";
    case MF_JOB_KIND_FINAL:
        return "final";
    default:
        return "full";
    }
}

enum mf_job_kind
mf__batch_kind_parse(const char *s) {
    if (strcmp(s, "incremental") == 0)
        return MF_JOB_KIND_INCREMENTAL;
    if (strcmp(s, "final") == 0)
        return MF_JOB_KIND_FINAL;
    if (strcmp(s, "full") == 0)
        return MF_JOB_KIND_INITIAL;
    return MF_JOB_KIND_UNSPECIFIED;
}
