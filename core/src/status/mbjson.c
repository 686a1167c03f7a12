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
    mf_json_key(j, "messages_total"), mf_json_u64(j, mb->messages_total);
    mf_json_key(j, "messages_done"), mf_json_u64(j, mb->messages_done);
    mf_json_key(j, "bytes_done"), mf_json_u64(j, mb->bytes_done);
    mf_json_key(j, "folders_total"), mf_json_u64(j, mb->folders_total);
    mf_json_key(j, "folders_done"), mf_json_u64(j, mb->folders_done);
    mf_json_key(j, "messages_per_second"),
        mf_json_double(j, f.rate_known ? f.messages_per_s : 0);
    mf_json_key(j, "eta_seconds");
    if (run && f.eta_known)
        mf_json_double(j, f.eta_s);
    else
        mf_json_null(j);
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
    mf_json_key(j, "source_held"), mf_json_u64(j, run ? c->source_held : 0);
    mf_json_key(j, "target_held"), mf_json_u64(j, run ? c->target_held : 0);
    mf_json_key(j, "waiting"), mf_json_bool(j, waiting);
    mf_json_key(j, "waiting_for");
    if (waiting)
        mf_json_string(j, mf_migrate_wait_name(c->waiting));
    else
        mf_json_null(j);
    mf_json_key(j, "cap");
    if (waiting && c->cap != MF_CAPS_CAP_NONE)
        mf_json_string(j, mf_caps_cap_name(c->cap));
    else
        mf_json_null(j);
    mf_json_key(j, "waiting_ms"), mf_json_u64(j, waiting ? c->waiting_ms : 0);
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
        mf_json_key(j,
                    mf_report_skip_reason_name((enum mf_report_skip_reason)r));
        mf_json_u64(j, m.skipped[r]);
    }
    mf_json_key(j, "unlisted"), mf_json_u64(j, mb->skipped_unlisted);
    mf_json_object_end(j);
    mf_json_key(j, "failed"), mf_json_u64(j, mb->stats.failed);
    mf_json_key(j, "failed_unlisted"), mf_json_u64(j, mb->failed_unlisted);
}

static void
pending_json(struct mf_json *j, const struct mf__status_pending *p) {
    mf_json_key(j, "pending");
    mf_json_object_begin(j);
    mf_json_key(j, "next"), mf_json_string(j, mf__status_next_name(p->next));
    mf_json_key(j, "waiting"), mf_json_bool(j, p->waiting);
    mf_json_key(j, "due");
    if (p->at)
        mf_json_i64(j, p->at);
    else
        mf_json_null(j);
    mf_json_key(j, "text"), mf_json_string(j, p->text);
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
    mf_json_key(j, "code"), mf_json_i64(j, mb->error_code);
    mf_json_key(j, "name"), mf_json_string(j, mb->error_name);
    mf_json_key(j, "detail"), mf_json_string(j, mb->error_detail);
    mf_json_object_end(j);
}

void
mf__status_mailbox_json(struct mf_json *j, const struct mf_batch_mailbox *mb,
                        const struct mf__status_pending *p,
                        const struct mf__status_codes *failed, int64_t now) {
    const struct mf_migrate_stats *st = &mb->stats;

    mf_json_object_begin(j);
    mf_json_key(j, "email"), mf_json_string(j, mb->cfg.email);
    mf_json_key(j, "state"),
        mf_json_string(j, mf_mailbox_state_name(mb->state));
    mf_json_key(j, "job_id"), mf_json_string(j, mb->job_id);
    mf_json_key(j, "pass"), mf_json_u64(j, mb->pass);
    mf_json_key(j, "kind"), mf_json_string(j, mf_job_kind_name(mb->kind));
    mf_json_key(j, "attempt"), mf_json_u64(j, mb->attempt);
    mf_json_key(j, "attempts_total"), mf_json_u64(j, mb->attempts_total);
    mf_json_key(j, "lease_wait_ms"), mf_json_u64(j, st->lease_wait_ms);
    mf_json_key(j, "throttles"), mf_json_u64(j, st->throttles);
    mf_json_key(j, "throttle_wait_ms"), mf_json_u64(j, st->throttle_wait_ms);
    mf_json_key(j, "worker"), mf_json_string(j, mb->worker);
    mf_json_key(j, "claimed_by"),
        mf_json_string(j, mb->claim_worker[0] ? mb->claim_worker : NULL);
    mf_json_key(j, "first_sync"), mf_json_i64(j, mb->first_sync);
    mf_json_key(j, "last_sync"), mf_json_i64(j, mb->last_sync);
    mf_json_key(j, "finished"), mf_json_i64(j, mb->finished);
    mf_json_key(j, "messages_source"), mf_json_u64(j, st->messages_source);
    mf_json_key(j, "bytes_source"), mf_json_u64(j, st->bytes_source);
    mf_json_key(j, "messages_copied"), mf_json_u64(j, st->messages_copied);
    mf_json_key(j, "bytes_copied"), mf_json_u64(j, st->bytes_copied);
    mf_json_key(j, "messages_present"), mf_json_u64(j, st->messages_present);
    mf_json_key(j, "outside_window"), mf_json_u64(j, st->outside_window);
    mf_json_key(j, "bytes_outside_window"),
        mf_json_u64(j, st->bytes_outside_window);
    mf_json_key(j, "deleted_on_target"), mf_json_u64(j, st->deleted_on_target);
    mf_json_key(j, "moved_on_target"), mf_json_u64(j, st->moved_on_target);
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
