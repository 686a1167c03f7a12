/*
 * The report `mailferry migrate` leaves behind: the same consolidated
 * report a batch gets (core/include/mailferry/report.h), in CSV, JSON and
 * HTML, built from the mailboxes' results and the throughput samples.
 */
#include "direct_int.h"

#include "mailferry/report.h"
#include "mailferry/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static enum mf_report_state
state_of(const struct mf__direct_outcome *o) {
    if (!atomic_load(&o->done))
        return atomic_load(&o->started) ? MF_REPORT_STOPPED : MF_REPORT_QUEUED;
    if (o->result.error.code == MF_E_OK)
        return MF_REPORT_SYNCED;
    if (o->result.error.code == MF_E_CANCELLED)
        return MF_REPORT_STOPPED;
    return MF_REPORT_FAILED;
}

/* The i-th item of three lists taken one after another. */
static const struct mf_migrate_item *
nth3(const struct mf_migrate_item *a, size_t na,
     const struct mf_migrate_item *b, size_t nb,
     const struct mf_migrate_item *c, size_t i) {
    if (i < na)
        return &a[i];
    return i - na < nb ? &b[i - na] : &c[i - na - nb];
}

/* v[0..n) to mailbox idx with mf_report_add_failed(). */
static void
add_failed(struct mf_report_batch *b, size_t idx,
           const struct mf_migrate_item *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct mf_report_failed f = {.folder = v[i].folder,
                                     .uid = v[i].uid,
                                     .size = v[i].size,
                                     .internal_date = v[i].internal_date,
                                     .subject = v[i].subject,
                                     .message_id = v[i].message_id,
                                     .error_code = (int)v[i].error.code,
                                     .error_text = v[i].error.detail};
        mf_report_add_failed(b, idx, &f);
    }
}

static void
add_mailbox(struct mf_report_batch *b, const struct mf__direct_outcome *o,
            int64_t started) {
    const struct mf_migrate_result *r = &o->result;
    const struct mf_migrate_stats *s = &r->stats;
    struct mf_report_mailbox m = {0};
    size_t idx;

    m.email = o->email;
    m.state = state_of(o);
    mf_report_mailbox_stats(&m, s);
    m.error_code = (int)r->error.code;
    m.error_text = r->error.code ? r->error.detail : NULL;
    if (atomic_load(&o->done)) {
        m.first_sync = started;
        m.last_sync = started + (int64_t)s->seconds;
    }
    m.attempts = s->attempts;
    m.worker = "mailferry migrate";
    idx = mf_report_add_mailbox(b, &m);
    for (size_t i = 0; i < r->n_skipped + r->n_deleted + r->n_moved; i++) {
        /* Removed (MESSAGE_DELETED) and moved ones (MESSAGE_MOVED) are
         * listed under their reasons. */
        const struct mf_migrate_item *it = nth3(
            r->skipped, r->n_skipped, r->deleted, r->n_deleted, r->moved, i);
        struct mf_report_skipped k = {
            .folder = it->folder,
            .uid = it->uid,
            .size = it->size,
            .internal_date = it->internal_date,
            .subject = it->subject,
            .reason = mf_report_skip_reason_of((int)it->error.code),
            .error_code = (int)it->error.code,
            .error_text = it->error.detail,
        };
        mf_report_add_skipped(b, idx, &k);
    }
    /* Repaired messages (MESSAGE_REPAIRED), renamed folders
     * (FOLDER_RENAMED) and --rename rules that matched no folder
     * (RENAME_UNMATCHED) get their own lists there. */
    add_failed(b, idx, r->failed, r->n_failed);
    add_failed(b, idx, r->repaired, r->n_repaired);
    add_failed(b, idx, r->renamed, r->n_renamed);
    add_failed(b, idx, r->unmatched_renames, r->n_unmatched_renames);
}

bool
mf__direct_write_reports(const char *dir, const char *batch, const char *source,
                         const char *target, int64_t started_ms,
                         const struct mf__direct_outcome *v, size_t n,
                         const struct mf__direct_samples *samples, FILE *out) {
    struct mf_report_batch_info info = {0};
    struct mf_report_batch *b;
    struct mf_error err = {0};
    bool ok = true, any_failed = false;

    for (size_t i = 0; i < n; i++)
        any_failed |= state_of(&v[i]) != MF_REPORT_SYNCED;
    info.name = batch;
    info.state = any_failed ? "SyncedWithErrors" : "Synced";
    info.created = info.started = started_ms / 1000;
    info.started_ms = started_ms;
    info.finished_ms = mf_wall_ms();
    info.finished = info.finished_ms / 1000;
    info.source = source;
    info.target = target;
    b = mf_report_new(&info);
    for (size_t i = 0; i < n; i++)
        add_mailbox(b, &v[i], started_ms / 1000);
    for (size_t i = 0; i < samples->n; i++) {
        struct mf_report_sample s = {.time_ms = samples->v[i].time_ms,
                                     .messages = samples->v[i].messages,
                                     .bytes = samples->v[i].bytes};
        mf_report_add_sample(b, &s);
    }
    mf_report_print_warnings(b, out);
    if (mf_report_write_dir(b, dir, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        ok = false;
    }
    if (ok)
        fprintf(out, "report: %s/report.html (also .csv and .json)\n", dir);
    mf_report_free(&b);
    return ok;
}
