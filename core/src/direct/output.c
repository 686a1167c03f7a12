/* Output of `mailferry migrate --direct` (see direct_int.h). */
#include "direct_int.h"

#include "mailferry/json.h"
#include "mailferry/report.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
mb(uint64_t bytes) {
    return (double)bytes / (1000.0 * 1000.0);
}

static double
rate(uint64_t n, double secs) {
    return secs > 0.001 ? (double)n / secs : 0.0;
}

/* A skipped or failed message's line: what finds it (size, date, the
 * subject as reports show it: no control characters reach the terminal),
 * then why. */
static void
print_item(FILE *out, const char *verb, const struct mf_migrate_item *it) {
    char *subject = mf_report_subject_dup(it->subject);

    fprintf(out, "       %s %s UID %u (%llu bytes, %s, \"%s\"", verb,
            it->folder, it->uid, (unsigned long long)it->size,
            it->date ? it->date : "no date", subject ? subject : "");
    if (it->message_id)
        fprintf(out, ", %s", it->message_id);
    if (strcmp(verb, "failed") == 0)
        fprintf(out, "): %s: %s\n", mf_err_name(it->error.code),
                it->error.detail);
    else
        fprintf(out, "): %s\n", it->error.detail);
    free(subject);
}

void
mf__direct_print_mailbox(FILE *out, const struct mf__direct_outcome *o) {
    const struct mf_migrate_result *r = &o->result;
    const struct mf_migrate_stats *s = &r->stats;
    bool ok = r->error.code == MF_E_OK;
    char extras[256];

    fprintf(out,
            "%-6s %s: folders %u, messages %llu, copied %llu (%.1f MB), "
            "already there %llu, skipped %llu (too large %llu, vanished "
            "%llu), failed %llu, flags updated %llu, %.1f s, %.0f msgs/s",
            ok ? "ok" : (r->error.code == MF_E_CANCELLED ? "STOP" : "FAIL"),
            o->email, s->folders_copied, (unsigned long long)s->messages_source,
            (unsigned long long)s->messages_copied, mb(s->bytes_copied),
            (unsigned long long)s->messages_present,
            (unsigned long long)mf_report_stats_skipped(s),
            (unsigned long long)s->skipped_too_large,
            (unsigned long long)s->skipped_vanished,
            (unsigned long long)s->failed, (unsigned long long)s->flags_updated,
            s->seconds, rate(s->messages_copied, s->seconds));
    mf_report_stats_extras(s, extras, sizeof(extras));
    fputs(extras, out);
    if (s->attempts > 1)
        fprintf(out, ", %u attempts", s->attempts);
    fprintf(out, "\n");
    for (size_t i = 0; i < r->n_deleted; i++)
        fprintf(out, "       removed %s UID %u (%llu bytes, %s): %s\n",
                r->deleted[i].folder, r->deleted[i].uid,
                (unsigned long long)r->deleted[i].size,
                r->deleted[i].date ? r->deleted[i].date : "no date",
                r->deleted[i].subject ? r->deleted[i].subject : "");
    for (size_t i = 0; i < r->n_moved; i++)
        fprintf(out, "       moved to %s UID %u (%s): %s\n", r->moved[i].folder,
                r->moved[i].uid, r->moved[i].error.detail,
                r->moved[i].subject ? r->moved[i].subject : "");
    if (!ok)
        fprintf(out, "       error %d %s: %s: %s\n", r->error.code,
                mf_err_name(r->error.code), mf_strerror(r->error.code),
                r->error.detail);
    for (size_t i = 0; i < r->n_skipped; i++)
        print_item(out, "skipped", &r->skipped[i]);
    for (size_t i = 0; i < r->n_failed; i++)
        print_item(out, "failed", &r->failed[i]);
    fflush(out);
}

static void
json_items(struct mf_json *j, const char *key, const struct mf_migrate_item *v,
           size_t n) {
    mf_json_key(j, key);
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &v[i], folder, uid, size, date, subject, message_id);
        mf_json_member(j, "code", mf_err_name(v[i].error.code));
        mf_json_member(j, "number", (uint64_t)v[i].error.code);
        mf_json_member(j, "detail", v[i].error.detail);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
}

static void
json_mailbox(struct mf_json *j, const struct mf__direct_outcome *o) {
    const struct mf_migrate_result *r = &o->result;
    const struct mf_migrate_stats *s = &r->stats;

    mf_json_object_begin(j);
    mf_json_member(j, "email", o->email);
    mf_json_member(j, "state",
                   !atomic_load(&o->done)            ? "NotStarted"
                   : r->error.code == MF_E_OK        ? "Synced"
                   : r->error.code == MF_E_CANCELLED ? "Stopped"
                                                     : "Failed");
    MF_JSON_FIELDS(j, s, folders_copied, folders_excluded, folders_created,
                   folders_renamed, messages_source, bytes_source,
                   messages_copied, bytes_copied, messages_present,
                   skipped_too_large, skipped_vanished, outside_window,
                   bytes_outside_window, deleted_on_target, moved_on_target,
                   failed);
    MF_JSON_FIELDS(j, s, flags_updated, uidvalidity_changes, attempts);
    /* Throttling answers and the time paused for them, as batch status
     * shows them (status/mbjson.c). */
    MF_JSON_FIELDS(j, s, throttles, throttle_wait_ms, seconds);
    mf_json_key(j, "error");
    if (r->error.code == MF_E_OK) {
        mf_json_null(j);
    } else {
        mf_json_object_begin(j);
        mf_json_member(j, "code", mf_err_name(r->error.code));
        mf_json_member(j, "number", (uint64_t)r->error.code);
        mf_json_member(j, "class",
                       mf_err_class_name(mf_err_class_of(r->error.code)));
        mf_json_member(j, "detail", r->error.detail);
        mf_json_object_end(j);
    }
    json_items(j, "skipped", r->skipped, r->n_skipped);
    json_items(j, "failed_items", r->failed, r->n_failed);
    json_items(j, "deleted", r->deleted, r->n_deleted);
    json_items(j, "moved", r->moved, r->n_moved);
    mf_json_object_end(j);
}

bool
mf__direct_print_summary(FILE *out, const struct mf__direct_outcome *v,
                         size_t n, double seconds, bool json, bool stopped) {
    struct mf_migrate_stats t = {0};
    size_t ok = 0, failed = 0, not_run = 0;

    for (size_t i = 0; i < n; i++) {
        const struct mf_migrate_result *r = &v[i].result;
        if (!atomic_load(&v[i].done))
            not_run++;
        else if (r->error.code == MF_E_OK)
            ok++;
        else
            failed++;
        t.messages_source += r->stats.messages_source;
        t.messages_copied += r->stats.messages_copied;
        t.bytes_copied += r->stats.bytes_copied;
        t.messages_present += r->stats.messages_present;
        t.skipped_too_large += r->stats.skipped_too_large;
        t.skipped_vanished += r->stats.skipped_vanished;
        t.outside_window += r->stats.outside_window;
        t.failed += r->stats.failed;
    }
    if (json) {
        struct mf_buf b = {0};
        struct mf_json j;
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf_json_member(&j, "mailboxes_total", n);
        mf_json_member(&j, "mailboxes_ok", ok);
        mf_json_member(&j, "mailboxes_failed", failed);
        mf_json_member(&j, "mailboxes_not_run", not_run);
        mf_json_member(&j, "stopped", stopped);
        MF_JSON_FIELDS(&j, &t, messages_copied, bytes_copied, outside_window);
        mf_json_member(&j, "seconds", seconds);
        mf_json_key(&j, "mailboxes");
        mf_json_array_begin(&j);
        for (size_t i = 0; i < n; i++)
            json_mailbox(&j, &v[i]);
        mf_json_array_end(&j);
        mf_json_object_end(&j);
        fprintf(out, "%s\n", (const char *)b.data);
        mf_buf_free(&b);
    } else {
        fprintf(out,
                "\n%zu mailboxes: %zu ok, %zu failed, %zu not run%s\n"
                "messages: %llu on the source, %llu copied (%.1f MB), %llu "
                "already there, %llu skipped, %llu failed, %llu outside the "
                "date window\n"
                "time: %.1f s, %.0f msgs/s, %.1f MB/s\n",
                n, ok, failed, not_run, stopped ? " (stopped)" : "",
                (unsigned long long)t.messages_source,
                (unsigned long long)t.messages_copied, mb(t.bytes_copied),
                (unsigned long long)t.messages_present,
                (unsigned long long)mf_report_stats_skipped(&t),
                (unsigned long long)t.failed,
                (unsigned long long)t.outside_window, seconds,
                rate(t.messages_copied, seconds),
                seconds > 0 ? mb(t.bytes_copied) / seconds : 0.0);
    }
    fflush(out);
    return failed == 0 && not_run == 0;
}
