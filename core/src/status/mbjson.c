/*
 * One mailbox of `batch status --json` (status_int.h): the record's
 * fields as they always were, and what the text views show beside them:
 * the skipped messages by reason (the report's mapping), the pending
 * work or wait (pending.c's rule), the connections a running one holds
 * or waits for under the caps, and for a named mailbox its failed
 * messages by error code. The rate and ETA of a running mailbox come
 * from the progress module's figures (mf__status_mailbox_figures()).
 */
#include "status/status_int.h"

#include "mailferry/report.h"

static void
progress_json(struct mf_json *j, const struct mf_batch_mailbox *mb,
              int64_t now) {
    struct mf_progress_figures f = {0};
    bool run = mb->state == MF_MAILBOX_SYNCING ||
               mb->state == MF_MAILBOX_INCREMENTAL_SYNCING;

    if (run)
        mf__status_mailbox_figures(mb, now, &f);
    mf_json_key(j, "progress");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, mb, messages_total, messages_done, bytes_done,
                   folders_total, folders_done);
    mf_json_member(j, "messages_per_second",
                   f.rate_known ? f.messages_per_s : 0.0);
    mf_json_member_or_null(j, "eta_seconds", run && f.eta_known, f.eta_s);
    mf_json_object_end(j);
}

/* The caps as its last progress said: held, and what it waits for. */
static void
connections_json(struct mf_json *j, const struct mf_batch_mailbox *mb) {
    const struct mf_migrate_conns *c = &mb->conns;
    bool run = mb->state == MF_MAILBOX_SYNCING ||
               mb->state == MF_MAILBOX_INCREMENTAL_SYNCING;
    bool waiting = run && c->waiting != MF_MIGRATE_WAIT_NONE;

    mf_json_key(j, "connections");
    mf_json_object_begin(j);
    mf_json_member(j, "source_held", run ? c->source_held : 0u);
    mf_json_member(j, "target_held", run ? c->target_held : 0u);
    mf_json_member(j, "waiting", waiting);
    mf_json_member(j, "waiting_for",
                   waiting ? mf_migrate_wait_name(c->waiting) : NULL);
    mf_json_member(j, "cap",
                   waiting && c->cap != MF_CAPS_CAP_NONE
                       ? mf_caps_cap_name(c->cap)
                       : NULL);
    mf_json_member(j, "waiting_ms", waiting ? c->waiting_ms : UINT64_C(0));
    mf_json_object_end(j);
}

static void
skipped_json(struct mf_json *j, const struct mf_batch_mailbox *mb) {
    struct mf_report_mailbox m = {0};

    mf_report_mailbox_stats(&m, &mb->stats);
    m.skipped[MF_REPORT_SKIP_EXCLUDED] = mb->skipped_excluded;
    mf_json_key(j, "skipped");
    mf_json_object_begin(j);
    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++) {
        if (r == MF_REPORT_SKIP_FAILED)
            continue; /* "failed" below */
        mf_json_member(
            j, mf_report_skip_reason_name((enum mf_report_skip_reason)r),
            m.skipped[r]);
    }
    mf_json_member(j, "unlisted", mb->skipped_unlisted);
    mf_json_object_end(j);
    MF_JSON_FIELDS(j, &mb->stats, failed);
    MF_JSON_FIELDS(j, mb, failed_unlisted);
}

static void
pending_json(struct mf_json *j, const struct mf__status_pending *p) {
    mf_json_key(j, "pending");
    mf_json_object_begin(j);
    mf_json_member(j, "next", mf__status_next_name(p->next));
    MF_JSON_FIELDS(j, p, waiting);
    mf_json_member_or_null(j, "due", p->at, p->at);
    MF_JSON_FIELDS(j, p, text);
    mf_json_object_end(j);
}

static void
error_json(struct mf_json *j, const struct mf_batch_mailbox *mb) {
    mf_json_key(j, "error");
    if (!mb->error_code) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "code", (int64_t)mb->error_code);
    mf_json_member(j, "name", mb->error_name);
    mf_json_member(j, "detail", mb->error_detail);
    mf_json_object_end(j);
}

void
mf__status_mailbox_json(struct mf_json *j, const struct mf_batch_mailbox *mb,
                        const struct mf__status_pending *p,
                        const struct mf__status_codes *failed, int64_t now) {
    const struct mf_migrate_stats *st = &mb->stats;

    mf_json_object_begin(j);
    mf_json_member(j, "email", mb->cfg.email);
    mf_json_member(j, "state", mf_mailbox_state_name(mb->state));
    MF_JSON_FIELDS(j, mb, job_id, pass);
    mf_json_member(j, "kind", mf_job_kind_name(mb->kind));
    MF_JSON_FIELDS(j, mb, attempt, attempts_total);
    MF_JSON_FIELDS(j, st, lease_wait_ms, throttles, throttle_wait_ms);
    MF_JSON_FIELDS(j, mb, worker);
    mf_json_member(j, "claimed_by",
                   mb->claim_worker[0] ? mb->claim_worker : NULL);
    MF_JSON_FIELDS(j, mb, first_sync, last_sync, finished, first_sync_ms,
                   last_sync_ms, finished_ms);
    MF_JSON_FIELDS(j, st, messages_source, bytes_source, messages_copied,
                   bytes_copied, messages_present, outside_window,
                   bytes_outside_window, deleted_on_target, moved_on_target);
    skipped_json(j, mb);
    if (failed) {
        mf_json_key(j, "failed_by_error");
        mf__status_codes_json(j, failed);
    }
    progress_json(j, mb, now);
    connections_json(j, mb);
    pending_json(j, p);
    error_json(j, mb);
    mf_json_object_end(j);
}
