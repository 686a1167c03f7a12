/*
 * The plan's outward faces (mailferry/plan.h): a readable table per
 * mailbox and a batch summary, and one JSON document. The JSON folder
 * objects use the member names of mf_folder_plan_to_json() (folderplan.h)
 * plus the measured sizes, so a script reading either finds the same
 * words. Exact byte counts appear in both forms; the text adds rounded
 * sizes for the eye.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"
#include "mailferry/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COL_SOURCE 28
#define COL_TARGET 28

void
mf_plan_format_bytes(char *out, size_t n, uint64_t bytes) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    size_t u = 0;

    while (v >= 1000 && u + 1 < MF_ARRAY_LEN(units)) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, n, "%.1f %s", v, units[u]);
}

void
mf_plan_format_duration(char *out, size_t n, double seconds) {
    unsigned long long s;

    if (!(seconds >= 0))
        seconds = 0;
    if (seconds < 10) {
        snprintf(out, n, "%.1fs", seconds);
        return;
    }
    s = (unsigned long long)(seconds + 0.5);
    if (s < 60)
        snprintf(out, n, "%llus", s);
    else if (s < 3600)
        snprintf(out, n, "%llum %02llus", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%lluh %02llum", s / 3600, s / 60 % 60);
    else
        snprintf(out, n, "%llud %02lluh", s / 86400, s / 3600 % 24);
}

void
mf__plan_pad(FILE *out, const char *s, size_t width) {
    size_t n = strlen(s) + 4, cols;
    char *buf = mf_xmalloc(n);

    cols = mf_utf8_fit(buf, n, s, width);
    fputs(buf, out);
    free(buf);
    for (; cols < width; cols++)
        fputc(' ', out);
}

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

static const char *
source_label(const struct mf_folder_entry *e) {
    if (e->src_path)
        return e->src_path;
    if (e->src_raw)
        return (const char *)e->src_raw;
    return e->tgt_name ? e->tgt_name : "?";
}

static void
note(FILE *out, const struct mf_folder_entry *e,
     const struct mf_plan_folder *f) {
    const char *sep = "";

    if (e->action != MF_FOLDER_COPY) {
        fprintf(out, "%s%s", mf_folder_action_name(e->action),
                e->reason != MF_FOLDER_REASON_NONE ? ": " : "");
        fputs(mf_folder_reason_name(e->reason), out);
        if (e->reason_detail)
            fprintf(out, " (%s)", e->reason_detail);
        sep = "; ";
    }
    if (e->flags & MF_FOLDER_F_SPECIAL_USE) {
        fprintf(out, "%sspecial-use %s%s", sep,
                mf_folder_special_use_name(e->special_use),
                e->flags & MF_FOLDER_F_GUESSED_USE ? " (by name)" : "");
        sep = "; ";
    }
    if (e->flags & MF_FOLDER_F_RENAMED) {
        fprintf(out, "%srenamed", sep);
        sep = "; ";
    }
    if (e->flags & MF_FOLDER_F_DELIM_REPLACED) {
        fprintf(out, "%sseparator replaced: \"%s\" -> \"%s\"", sep,
                e->repl_from ? e->repl_from : "", e->repl_to ? e->repl_to : "");
        sep = "; ";
    }
    if (e->flags & MF_FOLDER_F_NAME_MAPPED) {
        /* The target would refuse the name as it is (its profile's
         * characters or lengths): issue 13 section 2's warning. */
        fprintf(out, "%sWARNING: the target refuses \"%s\": mapped to \"%s\"",
                sep, e->repl_from ? e->repl_from : "",
                e->repl_to ? e->repl_to : "");
        sep = "; ";
    }
    if (e->flags & MF_FOLDER_F_NAME_REFUSED) {
        /* An earlier run's fallback, on the target already. */
        fprintf(out, "%sthe target refused \"%s\" (an earlier run's fallback)",
                sep, e->wanted_name ? e->wanted_name : "");
        sep = "; ";
    }
    if ((e->flags & MF_FOLDER_F_COLLISION) &&
        !(e->flags & MF_FOLDER_F_NAME_REFUSED)) {
        fprintf(out, "%scollision with \"%s\"", sep,
                e->wanted_name ? e->wanted_name : "");
        sep = "; ";
    }
    if (e->encoding_error) {
        fprintf(out, "%sname: %s", sep, e->encoding_error);
        sep = "; ";
    }
    if (f && f->error.code != MF_E_OK)
        fprintf(out, "%serror: %s [%s]", sep, f->error.detail,
                mf_err_name(f->error.code));
}

static void
delim_text(char *out, size_t n, char d) {
    if (d)
        snprintf(out, n, "\"%c\"", d);
    else
        snprintf(out, n, "NIL");
}

static void
counts_text(char *out, size_t n, const struct mf_plan_counts *c) {
    char b[32];

    mf_plan_format_bytes(b, sizeof(b), c->bytes);
    snprintf(out, n, "%llu messages, %s (%llu bytes)",
             (unsigned long long)c->messages, b, (unsigned long long)c->bytes);
}

/* "  target quota: 1.2 MB used of 2.0 MB; 3.4 MB to copy does not fit
 * (1.4 MB short)" */
static void
quota_text(FILE *out, const struct mf_plan_quota *q) {
    char used[32], limit[32], ms[32];

    if (q->error.code != MF_E_OK) {
        fprintf(out, "  target quota: unknown: %s\n", q->error.detail);
        return;
    }
    if (!q->checked || (!q->has_storage && !q->has_messages))
        return;
    fputs("  target quota:", out);
    if (q->has_storage) {
        mf_plan_format_bytes(used, sizeof(used), q->storage_used);
        mf_plan_format_bytes(limit, sizeof(limit), q->storage_limit);
        fprintf(out, " %s used of %s", used, limit);
    }
    if (q->has_messages)
        fprintf(out, "%s %llu of %llu messages", q->has_storage ? ";" : "",
                (unsigned long long)q->messages_used,
                (unsigned long long)q->messages_limit);
    if (q->bytes_short || q->messages_short) {
        mf_plan_format_bytes(ms, sizeof(ms), q->bytes_short);
        fprintf(out,
                "\n  WARNING: the plan does not fit the target quota "
                "(%s and %llu messages short): raise the quota first",
                ms, (unsigned long long)q->messages_short);
    }
    fputc('\n', out);
}

/* "  outside the window (since 2026-03-01): 120 messages, 1.2 GB, left
 * for a later pass"; nothing without a window. */
static void
window_text(FILE *out, const struct mf_window *w,
            const struct mf_plan_counts *outside) {
    char tmp[96], win[MF_WINDOW_TEXT_MAX];

    if (mf_window_empty(w))
        return;
    mf_window_format(w, win, sizeof(win));
    counts_text(tmp, sizeof(tmp), outside);
    fprintf(out, "  outside the window (%s): %s, left for a later pass\n", win,
            tmp);
}

/* The totals' lines that a mailbox and the batch both print: what is
 * copied, what is over the message size cap, outside the window, and in
 * folders not copied. */
static void
totals_text(FILE *out, const struct mf_plan_totals *t, uint64_t max_size,
            const struct mf_window *w) {
    char tmp[96], cap[32];

    mf_plan_format_bytes(cap, sizeof(cap), max_size);
    counts_text(tmp, sizeof(tmp), &t->copy);
    fprintf(out, "  to copy: %s\n", tmp);
    counts_text(tmp, sizeof(tmp), &t->oversize);
    fprintf(out, "  over the %s cap (skipped): %s\n", cap, tmp);
    window_text(out, w, &t->outside);
    counts_text(tmp, sizeof(tmp), &t->excluded);
    fprintf(out, "  in folders not copied: %s\n", tmp);
}

void
mf_plan_mailbox_print(FILE *out, const struct mf_plan_mailbox *mb) {
    char sd[8], td[8];
    const struct mf_plan_totals *t = &mb->totals;

    if (!mb->plan) {
        fprintf(out, "%s: NOT PLANNED: %s [%s]\n\n", mb->email,
                mb->error.detail, mf_err_name(mb->error.code));
        return;
    }
    delim_text(sd, sizeof(sd), mb->src_delim);
    delim_text(td, sizeof(td), mb->tgt_delim);
    fprintf(out, "%s: separator %s -> %s%s, sizes by %s, %.2fs\n", mb->email,
            sd, td, mb->target_checked ? "" : " (assumed: no target given)",
            mb->method == MF_PLAN_SIZE_STATUS ? "STATUS=SIZE" : "FETCH",
            mb->seconds);
    fputs("  ", out);
    mf__plan_pad(out, "SOURCE FOLDER", COL_SOURCE);
    fputc(' ', out);
    mf__plan_pad(out, "TARGET FOLDER", COL_TARGET);
    fprintf(out, " %8s %12s %9s  %s\n", "MESSAGES", "BYTES", "OVER CAP",
            "NOTE");
    for (size_t i = 0; i < mf_folder_plan_count(mb->plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(mb->plan, i);
        const struct mf_plan_folder *f = mb->folders ? &mb->folders[i] : NULL;

        fputs("  ", out);
        mf__plan_pad(out, source_label(e), COL_SOURCE);
        fputc(' ', out);
        mf__plan_pad(out, e->tgt_name ? e->tgt_name : "-", COL_TARGET);
        if (f && f->measured) {
            fprintf(out, " %8llu %12llu", (unsigned long long)f->total.messages,
                    (unsigned long long)f->total.bytes);
            if (f->oversize.messages)
                fprintf(out, " %9llu",
                        (unsigned long long)f->oversize.messages);
            else
                fprintf(out, " %9s", "");
        } else {
            fprintf(out, " %8s %12s %9s", "-", "-", "");
        }
        fputs("  ", out);
        note(out, e, f);
        fputc('\n', out);
    }
    fprintf(out,
            "  folders: %u to copy, %u containers, %u excluded, %u renamed, "
            "%u special-use\n",
            t->folders_copy, t->folders_container, t->folders_excluded,
            t->folders_renamed, t->folders_special_use);
    totals_text(out, t, mb->max_message_size, &mb->window);
    quota_text(out, &mb->quota);
    if (mb->n_oversize) {
        fprintf(out, "  messages over the cap:\n");
        for (size_t i = 0; i < mb->n_oversize; i++)
            fprintf(out, "    %s  UID %u  %llu bytes\n", mb->oversize[i].folder,
                    mb->oversize[i].uid,
                    (unsigned long long)mb->oversize[i].size);
        if (t->oversize.messages > mb->n_oversize)
            fprintf(
                out, "    ... and %llu more\n",
                (unsigned long long)(t->oversize.messages - mb->n_oversize));
    }
    if (mb->error.code != MF_E_OK)
        fprintf(out, "  INCOMPLETE: %s [%s]\n", mb->error.detail,
                mf_err_name(mb->error.code));
    fputc('\n', out);
}

void
mf_plan_batch_print(FILE *out, const struct mf_plan_batch *b) {
    const struct mf_plan_totals *t = &b->totals;
    char tmp[96];

    for (size_t i = 0; i < b->n; i++)
        mf_plan_mailbox_print(out, &b->mailboxes[i]);
    fprintf(out, "batch: %zu mailboxes planned, %zu failed (%.1fs)\n",
            b->n_planned, b->n_failed, b->seconds);
    fprintf(out, "  folders: %u to copy, %u containers, %u excluded\n",
            t->folders_copy, t->folders_container, t->folders_excluded);
    totals_text(out, t, b->max_message_size, &b->window);
    if (t->over_quota)
        fprintf(out, "  WARNING: %u mailboxes do not fit their target quota\n",
                t->over_quota);
    if (b->n_planned) {
        const struct mf_plan_mailbox *l = &b->mailboxes[b->largest];
        counts_text(tmp, sizeof(tmp), &l->totals.copy);
        fprintf(out, "  largest mailbox: %s: %s\n", l->email, tmp);
    }
    for (size_t i = 0; i < b->n_rename_warnings; i++)
        fprintf(out, "  WARNING: %s\n", b->rename_warnings[i]);
    for (size_t i = 0; i < b->n; i++)
        if (b->mailboxes[i].error.code != MF_E_OK)
            fprintf(out, "  FAILED %s: %s [%s]\n", b->mailboxes[i].email,
                    b->mailboxes[i].error.detail,
                    mf_err_name(b->mailboxes[i].error.code));
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static void
json_error(struct mf_json *j, const struct mf_error *e) {
    if (e->code == MF_E_OK) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "code", (uint64_t)e->code);
    mf_json_member(j, "name", mf_err_name(e->code));
    mf_json_member(j, "detail", e->detail);
    mf_json_object_end(j);
}

static void
json_delim(struct mf_json *j, char d) {
    char s[2] = {d, '\0'};

    if (d)
        mf_json_string(j, s);
    else
        mf_json_null(j);
}

static void
json_counts(struct mf_json *j, const char *prefix,
            const struct mf_plan_counts *c) {
    char k[64];

    snprintf(k, sizeof(k), "%s_messages", prefix);
    mf_json_member(j, k, c->messages);
    snprintf(k, sizeof(k), "%s_bytes", prefix);
    mf_json_member(j, k, c->bytes);
}

void
mf_plan_totals_to_json(const struct mf_plan_totals *t, struct mf_json *j) {
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, t, folders_copy, folders_container, folders_excluded,
                   folders_renamed, folders_special_use, over_quota);
    json_counts(j, "source", &t->source);
    json_counts(j, "copy", &t->copy);
    json_counts(j, "oversize", &t->oversize);
    json_counts(j, "outside", &t->outside);
    json_counts(j, "excluded", &t->excluded);
    mf_json_object_end(j);
}

/* key: {"from", "to"} of the entry's replacement when on, else null. */
static void
json_from_to(struct mf_json *j, const char *key, bool on,
             const struct mf_folder_entry *e) {
    mf_json_key(j, key);
    if (!on) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "from", e->repl_from);
    mf_json_member(j, "to", e->repl_to);
    mf_json_object_end(j);
}
static void
json_folder(struct mf_json *j, const struct mf_folder_entry *e,
            const struct mf_plan_folder *f) {
    mf_json_object_begin(j);
    mf_json_member(j, "source", e->src_raw ? (const char *)e->src_raw : NULL);
    mf_json_member(j, "source_path", e->src_path);
    mf_json_member(j, "action", mf_folder_action_name(e->action));
    mf_json_member(j, "reason",
                   e->reason != MF_FOLDER_REASON_NONE
                       ? mf_folder_reason_name(e->reason)
                       : NULL);
    mf_json_member(j, "reason_detail", e->reason_detail);
    mf_json_member(j, "target", e->tgt_name);
    mf_json_member(j, "target_wire", e->tgt_wire);
    mf_json_member(j, "create", e->create_needed);
    mf_json_member(j, "subscribed", e->subscribed);
    mf_json_member(j, "inbox", (bool)((e->flags & MF_FOLDER_F_INBOX) != 0));
    mf_json_member(j, "special_use",
                   e->flags & MF_FOLDER_F_SPECIAL_USE
                       ? mf_folder_special_use_name(e->special_use)
                       : NULL);
    mf_json_member(j, "renamed", (bool)((e->flags & MF_FOLDER_F_RENAMED) != 0));
    json_from_to(j, "delimiter_replaced",
                 (e->flags & MF_FOLDER_F_DELIM_REPLACED) != 0, e);
    json_from_to(j, "name_mapped", (e->flags & MF_FOLDER_F_NAME_MAPPED) != 0,
                 e);
    mf_json_key(j, "collision");
    if ((e->flags & MF_FOLDER_F_COLLISION) &&
        !(e->flags & MF_FOLDER_F_NAME_REFUSED))
        mf_json_string(j, e->wanted_name);
    else
        mf_json_null(j);
    /* The name an earlier run's fallback replaced (on the target). */
    mf_json_member(j, "name_refused",
                   e->flags & MF_FOLDER_F_NAME_REFUSED ? e->wanted_name : NULL);
    if (e->encoding_error) {
        mf_json_member(j, "encoding_error", e->encoding_error);
    }
    mf_json_member(j, "measured", (bool)(f && f->measured));
    if (f && f->measured) {
        MF_JSON_FIELDS(j, &f->total, messages, bytes);
        json_counts(j, "oversize", &f->oversize);
        json_counts(j, "outside", &f->outside);
    } else {
        mf_json_key(j, "messages");
        mf_json_null(j);
        mf_json_key(j, "bytes");
        mf_json_null(j);
    }
    mf_json_key(j, "error");
    if (f)
        json_error(j, &f->error);
    else
        mf_json_null(j);
    mf_json_object_end(j);
}

/* null when the target has no quota (or was not asked); otherwise the
 * limits that were reported and what does not fit. */
static void
json_quota(struct mf_json *j, const struct mf_plan_quota *q) {
    if (!q->checked && q->error.code == MF_E_OK) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_key(j, "error");
    json_error(j, &q->error);
    if (q->has_storage) {
        MF_JSON_FIELDS(j, q, storage_used, storage_limit);
    }
    if (q->has_messages) {
        MF_JSON_FIELDS(j, q, messages_used, messages_limit);
    }
    mf_json_member(j, "fits", (bool)(!q->bytes_short && !q->messages_short));
    MF_JSON_FIELDS(j, q, bytes_short, messages_short);
    mf_json_object_end(j);
}

void
mf_plan_mailbox_to_json(const struct mf_plan_mailbox *mb, struct mf_json *j) {
    mf_json_object_begin(j);
    mf_json_member(j, "email", mb->email);
    mf_json_member(j, "ok", (bool)(mb->error.code == MF_E_OK));
    mf_json_key(j, "error");
    json_error(j, &mb->error);
    mf_json_member(j, "seconds", mb->seconds);
    if (!mb->plan) {
        mf_json_object_end(j);
        return;
    }
    mf_json_member(j, "size_method", mf_plan_size_method_name(mb->method));
    mf_json_member(j, "target_checked", mb->target_checked);
    mf_json_key(j, "source_delimiter");
    json_delim(j, mb->src_delim);
    mf_json_key(j, "target_delimiter");
    json_delim(j, mb->tgt_delim);
    mf_json_member_or_null(j, "appendlimit", mb->appendlimit, mb->appendlimit);
    mf_json_member(j, "max_message_size", mb->max_message_size);
    mf_window_to_json(j, &mb->window);
    mf_json_key(j, "target_quota");
    json_quota(j, &mb->quota);
    mf_json_key(j, "folders");
    mf_json_array_begin(j);
    for (size_t i = 0; i < mf_folder_plan_count(mb->plan); i++)
        json_folder(j, mf_folder_plan_entry(mb->plan, i),
                    mb->folders ? &mb->folders[i] : NULL);
    mf_json_array_end(j);
    mf_json_key(j, "oversize");
    mf_json_array_begin(j);
    for (size_t i = 0; i < mb->n_oversize; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &mb->oversize[i], folder, uid, size);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "oversize_unlisted",
                   mb->totals.oversize.messages > mb->n_oversize
                       ? mb->totals.oversize.messages - mb->n_oversize
                       : 0);
    mf_json_key(j, "totals");
    mf_plan_totals_to_json(&mb->totals, j);
    mf_json_object_end(j);
}

void
mf_plan_batch_to_json(const struct mf_plan_batch *b, struct mf_json *j) {
    mf_json_object_begin(j);
    mf_json_member(j, "max_message_size", b->max_message_size);
    mf_window_to_json(j, &b->window);
    mf_json_member(j, "size_method", mf_plan_size_method_name(b->size_method));
    mf_json_member(j, "has_target", b->has_target);
    mf_json_member(j, "planned", b->n_planned);
    mf_json_member(j, "failed", b->n_failed);
    mf_json_member(j, "seconds", b->seconds);
    mf_json_member(j, "largest",
                   b->n_planned ? b->mailboxes[b->largest].email : NULL);
    mf_json_key(j, "mailboxes");
    mf_json_array_begin(j);
    for (size_t i = 0; i < b->n; i++)
        mf_plan_mailbox_to_json(&b->mailboxes[i], j);
    mf_json_array_end(j);
    mf_json_key(j, "totals");
    mf_plan_totals_to_json(&b->totals, j);
    mf_json_key(j, "rename_warnings");
    mf_json_array_begin(j);
    for (size_t i = 0; i < b->n_rename_warnings; i++)
        mf_json_string(j, b->rename_warnings[i]);
    mf_json_array_end(j);
    mf_json_object_end(j);
}
