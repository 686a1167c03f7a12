/*
 * `batch status` text for a person (status_int.h): sizes, durations and
 * times, the summary's head, error tallies, one mailbox's detail block
 * (--mailbox) and its one-line form (--state lists). Pure: records and times
 * in, text out.
 *
 * A mailbox's skipped messages are counted by reason through the
 * report's mapping (mf_report_mailbox_stats(), the one rule the report
 * and `migrate` use), so status and report never disagree on them.
 */
#include "status/status_int.h"

#include "mailferry/report.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
mf__status_bytes(char *out, size_t n, uint64_t v) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    size_t u = 0;

    while (d >= 1024 && u + 1 < MF_ARRAY_LEN(units)) {
        d /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", d, units[u]);
}

void
mf__status_secs(char *out, size_t n, double secs) {
    long s = secs > 0 ? (long)(secs + 0.5) : 0;

    if (s >= 86400)
        snprintf(out, n, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, n, "%lds", s);
}

void
mf__status_time(char *out, size_t n, int64_t t, int64_t now) {
    struct tm tm;
    time_t tt = (time_t)t;
    char rel[32];

    if (!t) {
        snprintf(out, n, "-");
        return;
    }
    gmtime_r(&tt, &tm);
    mf__status_secs(rel, sizeof(rel), (double)(now > t ? now - t : t - now));
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d UTC (%s %s)",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, now >= t ? rel : "in",
             now >= t ? "ago" : rel);
}

void
mf__status_head(FILE *out, const struct mf_batch_config *cfg, int64_t now) {
    char b1[128];

    mf__status_time(b1, sizeof(b1), cfg->started ? cfg->started : cfg->created,
                    now);
    fprintf(out, "batch %s: %s, pass %llu, %llu mailboxes, %s %s", cfg->name,
            mf_batch_state_name(cfg->state), (unsigned long long)cfg->pass,
            (unsigned long long)cfg->n_mailboxes,
            cfg->started ? "started" : "created", b1);
    /* A finished batch: how long it ran, in ms (a batch of a second is
     * not "0s"). */
    if (cfg->finished_ms && cfg->started_ms &&
        cfg->finished_ms >= cfg->started_ms) {
        double ran = (double)(cfg->finished_ms - cfg->started_ms) / 1000;
        if (ran < 10)
            snprintf(b1, sizeof(b1), "%.2fs", ran);
        else
            mf__status_secs(b1, sizeof(b1), ran);
        fprintf(out, ", ran %s", b1);
    }
    fprintf(out, "\n");
    fprintf(out, " ");
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        if (cfg->counts[i])
            fprintf(out, " %s %llu",
                    mf_mailbox_state_name((enum mf_mailbox_state)i),
                    (unsigned long long)cfg->counts[i]);
    fprintf(out, "\n");
}

/* ------------------------------------------------------------------ */
/* Error tallies                                                      */
/* ------------------------------------------------------------------ */

void
mf__status_codes_add(struct mf__status_codes *t, int code, const char *name) {
    for (size_t i = 0; i < t->n; i++)
        if (t->c[i].code == code) {
            t->c[i].n++;
            return;
        }
    if (t->n == MF__STATUS_CODES_MAX) {
        t->other++;
        return;
    }
    t->c[t->n].code = code;
    snprintf(t->c[t->n].name, sizeof(t->c[t->n].name), "%s",
             name && name[0] ? name : mf_err_name((mf_err)code));
    t->c[t->n++].n = 1;
}

void
mf__status_codes_format(const struct mf__status_codes *t, char *out, size_t n) {
    size_t off = 0;

    out[0] = '\0';
    for (size_t i = 0; i <= t->n && off < n; i++) {
        int w;
        if (i == t->n && !t->other)
            break;
        w = i == t->n ? snprintf(out + off, n - off, "%sother %llu",
                                 off ? ", " : "", (unsigned long long)t->other)
                      : snprintf(out + off, n - off, "%s%s (%d) %llu",
                                 off ? ", " : "", t->c[i].name, t->c[i].code,
                                 (unsigned long long)t->c[i].n);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

void
mf__status_codes_json(struct mf_json *j, const struct mf__status_codes *t) {
    mf_json_array_begin(j);
    for (size_t i = 0; i < t->n; i++) {
        mf_json_object_begin(j);
        mf_json_member(j, "code", (int64_t)t->c[i].code);
        MF_JSON_FIELDS(j, &t->c[i], name);
        mf_json_member(j, "count", t->c[i].n);
        mf_json_object_end(j);
    }
    if (t->other) {
        mf_json_object_begin(j);
        mf_json_key(j, "code"), mf_json_null(j);
        mf_json_member(j, "name", "other");
        mf_json_member(j, "count", t->other);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
}

/* ------------------------------------------------------------------ */
/* One mailbox                                                        */
/* ------------------------------------------------------------------ */

void
mf__status_mailbox_figures(const struct mf_batch_mailbox *mb, int64_t now,
                           struct mf_progress_figures *f) {
    struct mf_progress_snapshot s = {0};
    struct mf_progress_meter m;
    double el = mb->last_sync > 0 && now > mb->last_sync
                    ? (double)(now - mb->last_sync)
                    : 0;

    s.at = el;
    s.mailboxes = 1;
    s.running_n = 1;
    s.messages_done = mb->messages_done;
    s.bytes_done = mb->bytes_done;
    s.run_messages_left = mb->messages_total > mb->messages_done
                              ? mb->messages_total - mb->messages_done
                              : 0;
    if (mb->bytes_total)
        s.run_bytes_left = mb->bytes_total > mb->bytes_done
                               ? mb->bytes_total - mb->bytes_done
                               : 0;
    else
        s.run_unsized_left = s.run_messages_left;
    s.listing = mb->folders_done + 1 < mb->folders_total;
    s.run_unplanned = !mb->folders_total && !mb->messages_total;
    /* The pass's average: nothing done at its start, the counters now,
     * in a window as long as the pass. */
    mf_progress_meter_init(&m, el + 1);
    mf_progress_meter_add(&m, 0, 0, 0);
    mf_progress_meter_add(&m, el, mb->messages_done, mb->bytes_done);
    mf_progress_figures_compute(&s, &m, f);
}

static void
skipped_text(const struct mf_batch_mailbox *mb, char *out, size_t n,
             uint64_t *total_r) {
    struct mf_report_mailbox m = {0};
    size_t off = 0;

    mf_report_mailbox_stats(&m, &mb->stats);
    m.skipped[MF_REPORT_SKIP_EXCLUDED] = mb->skipped_excluded;
    *total_r = 0;
    out[0] = '\0';
    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT && off < n; r++) {
        int w;
        /* Failed messages have their own line. */
        if (!m.skipped[r] || r == MF_REPORT_SKIP_FAILED)
            continue;
        *total_r += m.skipped[r];
        w = snprintf(out + off, n - off, "%s%s %llu", off ? ", " : "",
                     mf_report_skip_reason_name((enum mf_report_skip_reason)r),
                     (unsigned long long)m.skipped[r]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static void
progress_text(FILE *out, const struct mf_batch_mailbox *mb, int64_t now) {
    struct mf_progress_figures f;
    char b1[32], b2[32];

    mf__status_mailbox_figures(mb, now, &f);
    mf__status_bytes(b1, sizeof(b1), mb->bytes_done);
    fprintf(out, "  progress    %llu/%llu messages, %u/%u folders, %s",
            (unsigned long long)mb->messages_done,
            (unsigned long long)mb->messages_total, mb->folders_done,
            mb->folders_total, b1);
    if (f.rate_known)
        fprintf(out, ", %.1f msgs/s", f.messages_per_s);
    if (f.eta_known) {
        mf__status_secs(b2, sizeof(b2), f.eta_s);
        fprintf(out, ", ETA %s%s", f.messages.estimated ? "~" : "", b2);
    }
    fprintf(out, "\n");
}

void
mf__status_mailbox_text(FILE *out, const struct mf_batch_mailbox *mb,
                        const struct mf__status_pending *p,
                        const struct mf__status_codes *failed, int64_t now) {
    const struct mf_migrate_stats *st = &mb->stats;
    char b1[96], b2[96], list[512];
    uint64_t skipped;

    fprintf(out, "%s: %s%s\n", mb->cfg.email, mf_mailbox_state_name(mb->state),
            p->next == MF__STATUS_NEXT_BANDWIDTH ? ", Waiting" : "");
    fprintf(out, "  pass        %llu (%s), attempt %u; %u attempts in all\n",
            (unsigned long long)mb->pass, mf_job_kind_name(mb->kind),
            mb->attempt, mb->attempts_total);
    mf__status_time(b1, sizeof(b1), mb->first_sync, now);
    fprintf(out, "  first pass  %s\n", b1);
    mf__status_time(b1, sizeof(b1), mb->last_sync, now);
    mf__status_time(b2, sizeof(b2), mb->finished, now);
    fprintf(out, "  last pass   began %s, ended %s%s%s\n", b1, b2,
            mb->worker[0] ? ", worker " : "", mb->worker);
    if (mb->state == MF_MAILBOX_SYNCING ||
        mb->state == MF_MAILBOX_INCREMENTAL_SYNCING)
        progress_text(out, mb, now);
    mf__status_bytes(b1, sizeof(b1), st->bytes_copied);
    mf__status_bytes(b2, sizeof(b2), st->bytes_source);
    fprintf(out,
            "  copied      %llu messages (%s) in all passes; the last "
            "found %llu on the source (%s), %llu already on the target\n",
            (unsigned long long)st->messages_copied, b1,
            (unsigned long long)st->messages_source, b2,
            (unsigned long long)st->messages_present);
    fprintf(out, "  folders     %u copied, %u renamed on the target\n",
            st->folders_copied, st->folders_renamed);
    skipped_text(mb, list, sizeof(list), &skipped);
    fprintf(out, "  skipped     %llu%s%s\n", (unsigned long long)skipped,
            skipped ? ": " : "", list);
    list[0] = '\0';
    if (failed)
        mf__status_codes_format(failed, list, sizeof(list));
    fprintf(out, "  failed      %llu messages%s%s\n",
            (unsigned long long)st->failed, list[0] ? ": " : "", list);
    if (mb->error_code)
        fprintf(out, "  last error  %s (%d): %s\n",
                mb->error_name[0] ? mb->error_name
                                  : mf_err_name((mf_err)mb->error_code),
                mb->error_code, mb->error_detail);
    fprintf(out, "  pending     %s\n", p->text);
    if (p->at) {
        mf__status_time(b1, sizeof(b1), p->at, now);
        fprintf(out, "  %-11s %s\n",
                p->next == MF__STATUS_NEXT_BANDWIDTH ? "resumes" : "next pass",
                b1);
    }
}

void
mf__status_mailbox_line(char *out, size_t n, const struct mf_batch_mailbox *mb,
                        const struct mf__status_pending *p, int64_t now) {
    char when[96], bytes[32], skipped_list[256], err[256] = "";
    uint64_t skipped;

    mf__status_time(when, sizeof(when),
                    mb->finished ? mb->finished : mb->last_sync, now);
    mf__status_bytes(bytes, sizeof(bytes), mb->stats.bytes_copied);
    skipped_text(mb, skipped_list, sizeof(skipped_list), &skipped);
    if (mb->error_code)
        snprintf(err, sizeof(err), "  %s: %.120s",
                 mb->error_name[0] ? mb->error_name
                                   : mf_err_name((mf_err)mb->error_code),
                 mb->error_detail);
    snprintf(out, n,
             "%-32s %-18s pass %llu  last %s  copied %llu (%s)  failed %llu  "
             "skipped %llu%s\n    -> %s",
             mb->cfg.email, mf_mailbox_state_name(mb->state),
             (unsigned long long)mb->pass, when,
             (unsigned long long)mb->stats.messages_copied, bytes,
             (unsigned long long)mb->stats.failed, (unsigned long long)skipped,
             err, p->text);
}
