/*
 * The report model (see mailferry/report.h): building it, copying and
 * bounding what goes in, the totals, and choosing a writer.
 *
 * Arrays grow by doubling, so adding n mailboxes or items is O(n). Every
 * string that comes in is copied and cut at MF_REPORT_TEXT_MAX bytes; the
 * report owns all of its memory and mf_report_free() releases it.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------ */

static const char *const state_names[MF_REPORT_STATE_COUNT] = {
    [MF_REPORT_QUEUED] = "Queued",
    [MF_REPORT_SYNCING] = "Syncing",
    [MF_REPORT_SYNCED] = "Synced",
    [MF_REPORT_INCREMENTAL_SYNCING] = "IncrementalSyncing",
    [MF_REPORT_STOPPED] = "Stopped",
    [MF_REPORT_FAILED] = "Failed",
    [MF_REPORT_COMPLETED] = "Completed",
};

static const char *const verify_names[MF_REPORT_VERIFY_COUNT] = {
    [MF_REPORT_NOT_VERIFIED] = "not verified",
    [MF_REPORT_VERIFIED_EQUAL] = "verified equal",
    [MF_REPORT_VERIFY_DIFFERENCES] = "differences",
    [MF_REPORT_VERIFY_FAILED] = "verify failed",
};

const char *
mf_report_verify_name(enum mf_report_verify v) {
    if ((unsigned)v >= MF_REPORT_VERIFY_COUNT)
        return "not verified";
    return verify_names[v];
}

const char *
mf_report_state_name(enum mf_report_state s) {
    if ((unsigned)s >= MF_REPORT_STATE_COUNT)
        return "Unknown";
    return state_names[s];
}

mf_err
mf_report_state_parse(const char *s, enum mf_report_state *s_r) {
    for (int i = 0; i < MF_REPORT_STATE_COUNT; i++) {
        if (strcasecmp(s, state_names[i]) == 0) {
            *s_r = (enum mf_report_state)i;
            return MF_E_OK;
        }
    }
    return MF_E_NOT_FOUND;
}

const char *
mf_report_skip_reason_name(enum mf_report_skip_reason r) {
    switch (r) {
    case MF_REPORT_SKIP_TOO_LARGE:
        return "too_large";
    case MF_REPORT_SKIP_EXCLUDED:
        return "excluded";
    case MF_REPORT_SKIP_FAILED:
        return "failed";
    case MF_REPORT_SKIP_VANISHED:
        return "vanished";
    case MF_REPORT_SKIP_OUTSIDE_WINDOW:
        return "outside_window";
    case MF_REPORT_SKIP_DELETED:
        return "deleted_on_target";
    case MF_REPORT_SKIP_MOVED:
        return "moved_on_target";
    case MF_REPORT_SKIP_REASON_COUNT:
        break;
    }
    return "unknown";
}

int
mf__report_state_rank(enum mf_report_state s) {
    switch (s) {
    case MF_REPORT_FAILED:
        return 0;
    case MF_REPORT_STOPPED:
        return 1;
    case MF_REPORT_SYNCING:
        return 2;
    case MF_REPORT_INCREMENTAL_SYNCING:
        return 3;
    case MF_REPORT_QUEUED:
        return 4;
    case MF_REPORT_SYNCED:
        return 5;
    case MF_REPORT_COMPLETED:
        return 6;
    case MF_REPORT_STATE_COUNT:
        break;
    }
    return 7;
}

const char *
mf__report_error_name(const struct mf_report_mailbox *m) {
    if (m->error_code == 0)
        return NULL;
    return m->error_name ? m->error_name : mf_err_name((mf_err)m->error_code);
}

/* ---------------------------------------------------------------------
 * Copying in
 * ------------------------------------------------------------------ */

/* A copy of s cut at MF_REPORT_TEXT_MAX bytes, never inside a UTF-8
 * sequence; NULL stays NULL. */
static char *
text_dup(const char *s) {
    size_t n;

    if (!s)
        return NULL;
    n = strnlen(s, MF_REPORT_TEXT_MAX + 1);
    if (n > MF_REPORT_TEXT_MAX) {
        n = MF_REPORT_TEXT_MAX;
        /* s[n] is the first byte left out: if it continues a sequence,
         * leave out that sequence's lead byte and the rest of it too. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return mf_xstrndup(s, n);
}

/* The one cleaning of a message's Subject or Message-ID for a report
 * (mailferry/report.h): controls become a blank (spaces true) or go,
 * blanks collapse, invalid UTF-8 becomes U+FFFD, and the text is cut at
 * MF_REPORT_SUBJECT_MAX bytes with U+2026. */
static char *
display_dup(const char *s, bool spaces) {
    static const char ellipsis[] = "\xe2\x80\xa6", fffd[] = "\xef\xbf\xbd";
    const uint8_t *p = (const uint8_t *)s;
    size_t n, i = 0, cut = 0;
    bool blank = false;
    struct mf_buf out = {0};

    if (!s)
        return NULL;
    n = strlen(s);
    while (i < n) {
        uint32_t cp = 0xfffd;
        size_t len = mf_utf8_next(p + i, n - i, &cp);
        const char *add = (const char *)p + i;

        if (len == 0) { /* an invalid byte */
            len = 1;
            add = fffd;
        }
        i += len;
        if (cp <= 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            blank = spaces && out.len > 0;
            continue;
        }
        if (add == fffd)
            len = 3;
        if (out.len + blank + len > MF_REPORT_SUBJECT_MAX) {
            out.len = cut; /* room for the ellipsis */
            mf_buf_append(&out, ellipsis, 3);
            break;
        }
        if (blank)
            mf_buf_append(&out, " ", 1);
        blank = false;
        mf_buf_append(&out, add, len);
        if (out.len + 3 <= MF_REPORT_SUBJECT_MAX)
            cut = out.len;
    }
    if (out.len == 0) {
        mf_buf_free(&out);
        return NULL;
    }
    mf_buf_append(&out, "", 1);
    return (char *)out.data; /* taken over from out */
}

char *
mf_report_subject_dup(const char *s) {
    return display_dup(s, true);
}

char *
mf_report_message_id_dup(const char *s) {
    return display_dup(s, false);
}

/* A copy of an endpoint URL without the userinfo ("user:pw@") of its
 * authority: reports must never carry credentials (docs/design.md §10). */
static char *
endpoint_dup(const char *url) {
    const char *start, *end, *at = NULL;
    char *out;

    if (!url)
        return NULL;
    start = strstr(url, "://");
    start = start ? start + 3 : url;
    end = start + strcspn(start, "/?#");
    for (const char *p = start; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return text_dup(url);
    out = mf_xasprintf("%.*s%s", (int)(start - url), url, at + 1);
    if (strlen(out) > MF_REPORT_TEXT_MAX) {
        char *cut = text_dup(out);
        free(out);
        out = cut;
    }
    return out;
}

/* Makes room for one more element in *arr (n used, *cap allocated). */
static void
grow(void **arr, size_t n, size_t *cap, size_t elem) {
    if (n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 8;
    MF_ASSERT(*cap <= SIZE_MAX / elem);
    *arr = mf_xrealloc(*arr, *cap * elem);
}

struct mf_report_batch *
mf_report_new(const struct mf_report_batch_info *info) {
    struct mf_report_batch *b = mf_xcalloc(1, sizeof(*b));

    b->name = text_dup(info->name ? info->name : "");
    b->state = text_dup(info->state ? info->state : "");
    b->created = info->created;
    b->started = info->started;
    b->finished = info->finished;
    b->started_ms = info->started_ms ? info->started_ms : info->started * 1000;
    b->finished_ms =
        info->finished_ms ? info->finished_ms : info->finished * 1000;
    b->generated_ms = info->generated ? info->generated * 1000 : mf_wall_ms();
    b->generated = b->generated_ms / 1000;
    b->source = endpoint_dup(info->source);
    b->target = endpoint_dup(info->target);
    return b;
}

/* The mailbox's list for items of that kind. */
static struct mf_report_item_list *
failed_list(struct mf_report_mailbox *m, enum mf_report_failed_list list) {
    switch (list) {
    case MF_REPORT_LIST_RENAMED:
        return &m->renamed;
    case MF_REPORT_LIST_REPAIRED:
        return &m->repaired;
    case MF_REPORT_LIST_UNMATCHED_RENAME:
        return &m->unmatched_renames;
    case MF_REPORT_LIST_FAILED:
    case MF_REPORT_LIST_COUNT:
        break;
    }
    return &m->failed;
}

size_t
mf_report_add_mailbox(struct mf_report_batch *b,
                      const struct mf_report_mailbox *m) {
    struct mf_report_mailbox *c;

    grow((void **)&b->mailboxes, b->n_mailboxes, &b->mailboxes_cap_,
         sizeof(*b->mailboxes));
    c = &b->mailboxes[b->n_mailboxes];
    *c = *m;
    c->email = text_dup(m->email ? m->email : "");
    c->error_name = m->error_code ? text_dup(mf__report_error_name(m)) : NULL;
    c->error_text = m->error_code ? text_dup(m->error_text) : NULL;
    c->worker = text_dup(m->worker);
    c->skipped_items = NULL;
    c->n_skipped_items = 0;
    c->skipped_unlisted = 0;
    c->skipped_cap_ = 0;
    for (int k = 0; k < MF_REPORT_LIST_COUNT; k++)
        *failed_list(c, (enum mf_report_failed_list)k) =
            (struct mf_report_item_list){0};
    c->verify_error_text = text_dup(m->verify_error_text);
    c->diff_items = NULL;
    c->n_diff_items = 0;
    c->diff_unlisted = 0;
    c->diff_cap_ = 0;
    if (!(c->duration_seconds > 0))
        c->duration_seconds = 0; /* also NaN and clock skew */
    if (c->duration_seconds > 0 && c->messages_per_second == 0 &&
        c->bytes_per_second == 0) {
        c->messages_per_second =
            (double)c->copied_messages / c->duration_seconds;
        c->bytes_per_second = (double)c->copied_bytes / c->duration_seconds;
    }
    return b->n_mailboxes++;
}

void
mf_report_add_skipped(struct mf_report_batch *b, size_t i,
                      const struct mf_report_skipped *item) {
    struct mf_report_mailbox *m;
    struct mf_report_skipped *c;

    MF_ASSERT(i < b->n_mailboxes);
    m = &b->mailboxes[i];
    if (m->n_skipped_items >= MF_REPORT_ITEMS_MAX) {
        m->skipped_unlisted++;
        return;
    }
    grow((void **)&m->skipped_items, m->n_skipped_items, &m->skipped_cap_,
         sizeof(*m->skipped_items));
    c = &m->skipped_items[m->n_skipped_items++];
    *c = *item;
    c->folder = text_dup(item->folder ? item->folder : "");
    c->subject = mf_report_subject_dup(item->subject);
    c->error_text = item->error_text && item->error_text[0]
                        ? text_dup(item->error_text)
                        : NULL;
}

void
mf_report_add_failed(struct mf_report_batch *b, size_t i,
                     const struct mf_report_failed *item) {
    struct mf_report_mailbox *m;
    struct mf_report_failed *c;
    struct mf_report_item_list *l;
    enum mf_report_failed_list list =
        mf_report_failed_list_of(item->error_code);

    MF_ASSERT(i < b->n_mailboxes);
    m = &b->mailboxes[i];
    /* A repaired message, a renamed folder and an unmatched --rename rule
     * travel as items of the failed list (results, Redis) but were no
     * failure: each kind has its own list. */
    l = failed_list(m, list);
    if (l->n >= MF_REPORT_ITEMS_MAX) {
        l->unlisted++;
        return;
    }
    grow((void **)&l->items, l->n, &l->cap_, sizeof(*l->items));
    c = &l->items[l->n++];
    *c = *item;
    c->folder = text_dup(item->folder ? item->folder : "");
    c->subject = mf_report_subject_dup(item->subject);
    c->message_id = mf_report_message_id_dup(item->message_id);
    c->error_text = text_dup(item->error_text);
}

void
mf_report_add_difference(struct mf_report_batch *b, size_t i,
                         const struct mf_report_difference *item) {
    struct mf_report_mailbox *m;
    struct mf_report_difference *c;

    MF_ASSERT(i < b->n_mailboxes);
    m = &b->mailboxes[i];
    if (m->n_diff_items >= MF_REPORT_ITEMS_MAX) {
        m->diff_unlisted++;
        return;
    }
    grow((void **)&m->diff_items, m->n_diff_items, &m->diff_cap_,
         sizeof(*m->diff_items));
    c = &m->diff_items[m->n_diff_items++];
    *c = *item;
    c->kind = text_dup(item->kind ? item->kind : "");
    c->folder = text_dup(item->folder ? item->folder : "");
    c->subject = mf_report_subject_dup(item->subject);
    c->detail = text_dup(item->detail);
}

void
mf_report_add_sample(struct mf_report_batch *b,
                     const struct mf_report_sample *s) {
    if (b->n_samples >= MF_REPORT_SAMPLES_MAX) {
        /* Samples are cumulative, so dropping every second one halves the
         * resolution and loses nothing else. */
        size_t k = 0;
        for (size_t i = 0; i < b->n_samples; i += 2)
            b->samples[k++] = b->samples[i];
        b->n_samples = k;
    }
    grow((void **)&b->samples, b->n_samples, &b->samples_cap_,
         sizeof(*b->samples));
    b->samples[b->n_samples++] = *s;
}

/* ---------------------------------------------------------------------
 * Freeing, totals
 * ------------------------------------------------------------------ */

/* The model's strings are const for its readers; the report owns them. */
static void
text_free(const char *s) {
    free((void *)s);
}

static void
mailbox_free(struct mf_report_mailbox *m) {
    text_free(m->email);
    text_free(m->error_name);
    text_free(m->error_text);
    text_free(m->worker);
    for (size_t i = 0; i < m->n_skipped_items; i++) {
        text_free(m->skipped_items[i].folder);
        text_free(m->skipped_items[i].subject);
        text_free(m->skipped_items[i].error_text);
    }
    free(m->skipped_items);
    for (int k = 0; k < MF_REPORT_LIST_COUNT; k++) {
        struct mf_report_item_list *l =
            failed_list(m, (enum mf_report_failed_list)k);
        for (size_t i = 0; i < l->n; i++) {
            text_free(l->items[i].folder);
            text_free(l->items[i].subject);
            text_free(l->items[i].message_id);
            text_free(l->items[i].error_text);
        }
        free(l->items);
    }
    text_free(m->verify_error_text);
    for (size_t i = 0; i < m->n_diff_items; i++) {
        text_free(m->diff_items[i].kind);
        text_free(m->diff_items[i].folder);
        text_free(m->diff_items[i].subject);
        text_free(m->diff_items[i].detail);
    }
    free(m->diff_items);
}

void
mf_report_free(struct mf_report_batch **bp) {
    struct mf_report_batch *b = bp ? *bp : NULL;

    if (!b)
        return;
    for (size_t i = 0; i < b->n_mailboxes; i++)
        mailbox_free(&b->mailboxes[i]);
    free(b->mailboxes);
    free(b->samples);
    free(b->name);
    free(b->state);
    free(b->source);
    free(b->target);
    free(b);
    *bp = NULL;
}

/* Whether m lists the unmatched rule with these words. */
static bool
lists_rule(const struct mf_report_mailbox *m, const char *why) {
    for (size_t k = 0; k < m->unmatched_renames.n; k++)
        if (m->unmatched_renames.items[k].error_text &&
            strcmp(m->unmatched_renames.items[k].error_text, why) == 0)
            return true;
    return false;
}

/* Whether m's folders were planned, so that its list of unmatched rules
 * says something: it lists one, copied or excluded a folder, or synced. */
static bool
planned(const struct mf_report_mailbox *m) {
    return m->unmatched_renames.n || m->folders_copied || m->folders_excluded ||
           m->state == MF_REPORT_SYNCED || m->state == MF_REPORT_COMPLETED ||
           m->state == MF_REPORT_INCREMENTAL_SYNCING;
}

size_t
mf_report_rename_warnings(const struct mf_report_batch *b, const char ***v_r) {
    const char **seen = NULL, **v = NULL;
    size_t nseen = 0, n = 0;

    /* Each rule's words once (the rules are few, the mailboxes many). */
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &b->mailboxes[i];
        for (size_t k = 0; k < m->unmatched_renames.n; k++) {
            const char *why = m->unmatched_renames.items[k].error_text;
            bool known = !why;
            for (size_t j = 0; j < nseen && !known; j++)
                known = strcmp(seen[j], why) == 0;
            if (known)
                continue;
            seen = mf_xreallocarray(seen, nseen + 1, sizeof(*seen));
            seen[nseen++] = why;
        }
    }
    for (size_t j = 0; j < nseen; j++) {
        bool everywhere = true;
        for (size_t o = 0; o < b->n_mailboxes && everywhere; o++)
            everywhere = !planned(&b->mailboxes[o]) ||
                         lists_rule(&b->mailboxes[o], seen[j]);
        if (everywhere)
            seen[n++] = seen[j]; /* kept in place, in order */
    }
    if (n)
        v = seen;
    else
        free(seen);
    *v_r = v;
    return n;
}

void
mf_report_print_warnings(const struct mf_report_batch *b, FILE *out) {
    const char **v;
    size_t n = mf_report_rename_warnings(b, &v);

    for (size_t i = 0; i < n; i++)
        fprintf(out, "WARNING: %s\n", v[i]);
    free(v);
}

void
mf_report_totals(const struct mf_report_batch *b,
                 struct mf_report_totals *t_r) {
    struct mf_report_totals t = {0};
    int64_t end;

    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &b->mailboxes[i];

        t.mailboxes++;
        if ((unsigned)m->state < MF_REPORT_STATE_COUNT)
            t.by_state[m->state]++;
        t.folders_copied += m->folders_copied;
        t.folders_excluded += m->folders_excluded;
        t.source_messages += m->source_messages;
        t.source_bytes += m->source_bytes;
        t.copied_messages += m->copied_messages;
        t.copied_bytes += m->copied_bytes;
        for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
            t.skipped[r] += m->skipped[r];
        if (m->error_code != 0)
            t.mailboxes_with_errors++;
        t.failed_items += m->failed.n + m->failed.unlisted;
        t.attempts += m->attempts;
    }
    end = b->finished_ms ? b->finished_ms : b->generated_ms;
    if (b->started_ms && end > b->started_ms) {
        t.elapsed_ms = end - b->started_ms;
        t.elapsed_seconds = (double)t.elapsed_ms / 1000;
        t.messages_per_second = (double)t.copied_messages / t.elapsed_seconds;
        t.bytes_per_second = (double)t.copied_bytes / t.elapsed_seconds;
    }
    *t_r = t;
}

/* Stable: equal ranks keep the order the mailboxes were added in. */
static int
cmp_rank(const void *pa, const void *pb, void *ud) {
    const struct mf_report_batch *b = ud;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    int ra = mf__report_state_rank(b->mailboxes[ia].state);
    int rb = mf__report_state_rank(b->mailboxes[ib].state);

    if (ra != rb)
        return ra < rb ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

size_t *
mf__report_sorted_by_rank(const struct mf_report_batch *b) {
    size_t *idx = mf_xcalloc(b->n_mailboxes ? b->n_mailboxes : 1, sizeof(*idx));

    for (size_t i = 0; i < b->n_mailboxes; i++)
        idx[i] = i;
    qsort_r(idx, b->n_mailboxes, sizeof(*idx), cmp_rank, (void *)b);
    return idx;
}

/* ---------------------------------------------------------------------
 * Formats
 * ------------------------------------------------------------------ */

static const char *const format_names[MF_REPORT_FORMAT_COUNT] = {
    [MF_REPORT_CSV] = "csv",
    [MF_REPORT_JSON] = "json",
    [MF_REPORT_HTML] = "html",
};

mf_err
mf_report_format_parse(const char *s, enum mf_report_format *fmt_r) {
    for (int i = 0; i < MF_REPORT_FORMAT_COUNT; i++) {
        if (strcasecmp(s, format_names[i]) == 0) {
            *fmt_r = (enum mf_report_format)i;
            return MF_E_OK;
        }
    }
    return MF_E_USAGE;
}

const char *
mf_report_format_name(enum mf_report_format fmt) {
    if ((unsigned)fmt >= MF_REPORT_FORMAT_COUNT)
        return "unknown";
    return format_names[fmt];
}

mf_err
mf_report_write(const struct mf_report_batch *b, enum mf_report_format fmt,
                FILE *f) {
    switch (fmt) {
    case MF_REPORT_CSV:
        return mf_report_write_csv(b, f);
    case MF_REPORT_JSON:
        return mf_report_write_json(b, f);
    case MF_REPORT_HTML:
        return mf_report_write_html(b, f);
    case MF_REPORT_FORMAT_COUNT:
        break;
    }
    return MF_E_INVALID_ARGUMENT;
}
