/*
 * The JSON report: one document with the batch, its totals, the
 * throughput samples and every mailbox with its skipped and failed item
 * lists (docs/design.md §11). Written with the streaming writer of
 * mailferry/json.h; the text is flushed to the file after each mailbox,
 * so memory stays flat whatever the size of the batch.
 *
 *   { "report_version": 1,
 *     "batch": { "name", "state", "created", "started", "finished",
 *                "started_ms", "finished_ms", "generated", "source",
 *                "target" },
 *     "totals": { "mailboxes", "states": { "<State>": n, ... }, ...,
 *                 "elapsed_ms", "elapsed_seconds", ... },
 *     "throughput": [ { "time", "time_ms", "messages", "bytes" }, ... ],
 *     "mailboxes": [ { "email", "state", ..., "error": null | { "code",
 *                      "name", "text" }, "skipped_items": [...],
 *                      "failed_items": [...], "verification": {
 *                      "status", "verified_at", "differences",
 *                      "error", "items": [...], "unlisted" } }, ... ] }
 *
 * Times are ISO 8601 UTC strings, or null when not known; the *_ms
 * twins are the same times as Unix milliseconds (numbers).
 */
#include "report_int.h"

#include "mailferry/json.h"

#include <stdlib.h>

#define REPORT_VERSION 1

static void
key_time(struct mf_json *j, const char *key, int64_t t) {
    char iso[MF__REPORT_TIME_LEN];

    mf_json_key(j, key);
    mf__report_time_iso(t, iso);
    mf_json_string(j, t ? iso : NULL);
}

static void
skipped_counts(struct mf_json *j, const uint64_t skipped[]) {
    mf_json_key(j, "skipped");
    mf_json_object_begin(j);
    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
        mf_json_member(j, mf_report_skip_reason_name(r), skipped[r]);
    mf_json_object_end(j);
}

/* "error": null, or the code, its name and the text. */
static void
error_obj(struct mf_json *j, int code, const char *name, const char *text) {
    mf_json_key(j, "error");
    if (code == 0) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "code", (int64_t)code);
    mf_json_member(j, "name", name ? name : mf_err_name((mf_err)code));
    mf_json_member(j, "text", text);
    mf_json_object_end(j);
}

static void
batch_obj(struct mf_json *j, const struct mf_report_batch *b) {
    mf_json_key(j, "batch");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, b, name, state);
    key_time(j, "created", b->created);
    key_time(j, "started", b->started);
    key_time(j, "finished", b->finished);
    mf_json_member_or_null(j, "started_ms", b->started_ms, b->started_ms);
    mf_json_member_or_null(j, "finished_ms", b->finished_ms, b->finished_ms);
    key_time(j, "generated", b->generated);
    MF_JSON_FIELDS(j, b, source, target);
    mf_json_object_end(j);
}

static void
totals_obj(struct mf_json *j, const struct mf_report_totals *t) {
    mf_json_key(j, "totals");
    mf_json_object_begin(j);
    mf_json_member(j, "mailboxes", t->mailboxes);
    mf_json_key(j, "states");
    mf_json_object_begin(j);
    for (int s = 0; s < MF_REPORT_STATE_COUNT; s++)
        mf_json_member(j, mf_report_state_name(s), t->by_state[s]);
    mf_json_object_end(j);
    MF_JSON_FIELDS(j, t, folders_copied, folders_excluded, source_messages,
                   source_bytes, copied_messages, copied_bytes);
    skipped_counts(j, t->skipped);
    MF_JSON_FIELDS(j, t, mailboxes_with_errors, failed_items, attempts,
                   elapsed_ms, elapsed_seconds, messages_per_second,
                   bytes_per_second);
    mf_json_object_end(j);
}

static void
samples_arr(struct mf_json *j, const struct mf_report_batch *b) {
    mf_json_key(j, "throughput");
    mf_json_array_begin(j);
    for (size_t i = 0; i < b->n_samples; i++) {
        mf_json_object_begin(j);
        key_time(j, "time", b->samples[i].time_ms / 1000);
        MF_JSON_FIELDS(j, &b->samples[i], time_ms, messages, bytes);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
}

/* What finds a failed or repaired message in the source mailbox. */
static void
message_fields(struct mf_json *j, const struct mf_report_failed *f) {
    MF_JSON_FIELDS(j, f, folder, uid, size);
    key_time(j, "internal_date", f->internal_date);
    mf_json_member(j, "subject", f->subject);
    mf_json_member(j, "message_id", f->message_id);
}

static void
items(struct mf_json *j, const struct mf_report_mailbox *m) {
    mf_json_key(j, "skipped_items");
    mf_json_array_begin(j);
    for (size_t i = 0; i < m->n_skipped_items; i++) {
        const struct mf_report_skipped *s = &m->skipped_items[i];

        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, s, folder, uid, size);
        key_time(j, "internal_date", s->internal_date);
        mf_json_member(j, "subject", s->subject);
        mf_json_member(j, "reason", mf_report_skip_reason_name(s->reason));
        /* The code it came with, as failed items have theirs (moved:
         * MESSAGE_MOVED, "moved from FOLDER"); none when not known. */
        if (s->error_code)
            error_obj(j, s->error_code, NULL, s->error_text);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "skipped_unlisted", m->skipped_unlisted);

    mf_json_key(j, "failed_items");
    mf_json_array_begin(j);
    for (size_t i = 0; i < m->failed.n; i++) {
        const struct mf_report_failed *f = &m->failed.items[i];

        mf_json_object_begin(j);
        message_fields(j, f);
        error_obj(j, f->error_code, NULL, f->error_text);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "failed_unlisted", m->failed.unlisted);

    /* Folders under another name on the target (issue 13 section 2):
     * only when there are some. */
    if (m->renamed.n + m->renamed.unlisted) {
        mf_json_key(j, "renamed_folders");
        mf_json_array_begin(j);
        for (size_t i = 0; i < m->renamed.n; i++) {
            mf_json_object_begin(j);
            mf_json_member(j, "folder", m->renamed.items[i].folder);
            mf_json_member(j, "detail", m->renamed.items[i].error_text);
            mf_json_object_end(j);
        }
        mf_json_array_end(j);
        mf_json_member(j, "renamed_unlisted", m->renamed.unlisted);
    }
    /* --repair (issue 13): copied, with these changes; only when there
     * are some (reports without repairs read as before). */
    if (m->repaired.n + m->repaired.unlisted == 0)
        return;
    mf_json_key(j, "repaired_items");
    mf_json_array_begin(j);
    for (size_t i = 0; i < m->repaired.n; i++) {
        const struct mf_report_failed *f = &m->repaired.items[i];

        mf_json_object_begin(j);
        message_fields(j, f);
        mf_json_member(j, "changes", f->error_text);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "repaired_unlisted", m->repaired.unlisted);
}

/* What `mailferry verify` said (mailferry/verify.h). */
static void
verification_obj(struct mf_json *j, const struct mf_report_mailbox *m) {
    mf_json_key(j, "verification");
    mf_json_object_begin(j);
    mf_json_member(j, "status", mf_report_verify_name(m->verification));
    key_time(j, "verified_at", m->verified_at);
    mf_json_member(j, "differences", m->verify_differences);
    mf_json_member(j, "error", m->verify_error_text);
    mf_json_key(j, "items");
    mf_json_array_begin(j);
    for (size_t i = 0; i < m->n_diff_items; i++) {
        const struct mf_report_difference *d = &m->diff_items[i];

        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, d, kind, folder, source_uid, target_uid);
        key_time(j, "internal_date", d->internal_date);
        MF_JSON_FIELDS(j, d, subject, detail);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "unlisted", m->diff_unlisted);
    mf_json_object_end(j);
}

static void
mailbox_obj(struct mf_json *j, const struct mf_report_mailbox *m) {
    mf_json_object_begin(j);
    mf_json_member(j, "email", m->email);
    mf_json_member(j, "state", mf_report_state_name(m->state));
    MF_JSON_FIELDS(j, m, folders_copied, folders_excluded, source_messages,
                   source_bytes, copied_messages, present_messages,
                   copied_bytes);
    skipped_counts(j, m->skipped);
    error_obj(j, m->error_code, mf__report_error_name(m), m->error_text);
    key_time(j, "first_sync", m->first_sync);
    key_time(j, "last_sync", m->last_sync);
    MF_JSON_FIELDS(j, m, duration_seconds, messages_per_second,
                   bytes_per_second, attempts, worker);
    items(j, m);
    verification_obj(j, m);
    mf_json_object_end(j);
}

/* The --rename rules that matched no folder of any mailbox, in `plan`'s
 * words and under its key (mf_report_rename_warnings()); [] when none. */
static void
rename_warnings(struct mf_json *j, const struct mf_report_batch *b) {
    const char **v;
    size_t n = mf_report_rename_warnings(b, &v);

    mf_json_key(j, "rename_warnings");
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        mf_json_string(j, v[i]);
    mf_json_array_end(j);
    free(v);
}

mf_err
mf_report_write_json(const struct mf_report_batch *b, FILE *f) {
    struct mf__report_out o;
    struct mf_report_totals t;
    struct mf_json j;

    mf__report_out_init(&o, f);
    mf_report_totals(b, &t);
    mf_json_init(&j, &o.buf);
    mf_json_object_begin(&j);
    mf_json_member(&j, "report_version", (uint64_t)REPORT_VERSION);
    batch_obj(&j, b);
    totals_obj(&j, &t);
    samples_arr(&j, b);
    rename_warnings(&j, b);
    mf__report_out_maybe_flush(&o);
    mf_json_key(&j, "mailboxes");
    mf_json_array_begin(&j);
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        mailbox_obj(&j, &b->mailboxes[i]);
        /* The writer keeps its state in j, not in the text, so the text
         * can go out between values. */
        mf__report_out_maybe_flush(&o);
    }
    mf_json_array_end(&j);
    mf_json_object_end(&j);
    mf_buf_append(&o.buf, "\n", 1);
    return mf__report_out_finish(&o);
}
