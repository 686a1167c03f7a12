/*
 * From the engine's statistics to the report (report.h): the one place
 * that says which counter of struct mf_migrate_stats becomes which count
 * of a report row and of a printed line, so the batch report, the report
 * `mailferry migrate` leaves behind and the lines it prints agree.
 *
 * Skipped messages are those not copied on purpose or through no fault:
 * too large (the batch's cap), in an excluded folder, expunged on the
 * source while the folder was copied (vanished), outside the date window
 * (--since/--before: left on the source until a wider pass), removed or
 * moved on the target by --sync-deletes (MESSAGE_DELETED, MESSAGE_MOVED:
 * listed like the others, under their own reasons). Failed messages are
 * the ones the copy tried and could not (the failed list), counted under
 * the "failed" reason.
 */
#include "mailferry/migrate.h"
#include "mailferry/report.h"

#include <stdio.h>

void
mf_report_mailbox_stats(struct mf_report_mailbox *m,
                        const struct mf_migrate_stats *s) {
    m->folders_copied = s->folders_copied;
    m->folders_excluded = s->folders_excluded;
    m->source_messages = s->messages_source;
    m->source_bytes = s->bytes_source;
    m->copied_messages = s->messages_copied;
    m->copied_bytes = s->bytes_copied;
    m->present_messages = s->messages_present;
    m->skipped[MF_REPORT_SKIP_TOO_LARGE] = s->skipped_too_large;
    m->skipped[MF_REPORT_SKIP_FAILED] = s->failed;
    m->skipped[MF_REPORT_SKIP_VANISHED] = s->skipped_vanished;
    m->skipped[MF_REPORT_SKIP_OUTSIDE_WINDOW] = s->outside_window;
    m->skipped[MF_REPORT_SKIP_DELETED] = s->deleted_on_target;
    m->skipped[MF_REPORT_SKIP_MOVED] = s->moved_on_target;
    m->duration_seconds = s->seconds;
}

enum mf_report_failed_list
mf_report_failed_list_of(int code) {
    switch (code) {
    case MF_E_FOLDER_RENAMED:
        return MF_REPORT_LIST_RENAMED;
    case MF_E_MESSAGE_REPAIRED:
        return MF_REPORT_LIST_REPAIRED;
    case MF_E_RENAME_UNMATCHED:
        return MF_REPORT_LIST_UNMATCHED_RENAME;
    default:
        return MF_REPORT_LIST_FAILED;
    }
}

enum mf_report_skip_reason
mf_report_skip_reason_of(int code) {
    switch (code) {
    case MF_E_MESSAGE_TOO_LARGE:
        return MF_REPORT_SKIP_TOO_LARGE;
    case MF_E_MESSAGE_GONE:
        return MF_REPORT_SKIP_VANISHED;
    case MF_E_MESSAGE_DELETED:
        return MF_REPORT_SKIP_DELETED;
    case MF_E_MESSAGE_MOVED:
        return MF_REPORT_SKIP_MOVED;
    default:
        return MF_REPORT_SKIP_FAILED;
    }
}

uint64_t
mf_report_stats_skipped(const struct mf_migrate_stats *s) {
    return s->skipped_too_large + s->skipped_vanished;
}

void
mf_report_stats_extras(const struct mf_migrate_stats *s, char *out, size_t n) {
    size_t off = 0;
    int w;

    out[0] = '\0';
    if (s->outside_window) {
        w = snprintf(out, n, ", outside the date window %llu (%.1f MB)",
                     (unsigned long long)s->outside_window,
                     (double)s->bytes_outside_window / 1e6);
        off = w < 0 ? 0 : (size_t)w;
    }
    if (s->deleted_on_target && off < n) {
        w = snprintf(out + off, n - off, ", removed from the target %llu",
                     (unsigned long long)s->deleted_on_target);
        off += w < 0 ? 0 : (size_t)w;
    }
    if (s->moved_on_target && off < n)
        snprintf(out + off, n - off, ", moved on the target %llu",
                 (unsigned long long)s->moved_on_target);
}
