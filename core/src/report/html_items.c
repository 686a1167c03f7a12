/*
 * The HTML report's item tables: the messages that failed, those
 * --repair changed before the target took them, the folders the target
 * got under another name, and the skipped messages. Each message row
 * carries what finds it in the source mailbox (UID, size, INTERNALDATE,
 * the Subject as mf_report_subject_dup() cleaned it, the Message-ID when
 * known); every string is HTML-escaped. At most MF_REPORT_HTML_ITEMS_MAX
 * rows a table: the JSON report lists every item.
 */
#include "report_int.h"

#include <inttypes.h>
#include <string.h>

static void
esc(struct mf_buf *out, const char *s) {
    if (s)
        mf__report_html_escape(out, s);
}

static void
more_note(struct mf_buf *out, uint64_t shown, uint64_t total) {
    if (total <= shown)
        return;
    mf_buf_append_str(out, "<div class=\"note\">Showing the first ");
    mf__report_html_count(out, shown);
    mf_buf_append_str(out, " of ");
    mf__report_html_count(out, total);
    mf_buf_append_str(out, "; the JSON report lists every item.</div>");
}

/* The three per-item tables of the failed list's kind: messages that
 * failed, messages --repair changed before the target took them, and
 * folders the target got under another name (issue 13; the last two
 * only when there are some). */
enum item_kind { ITEMS_FAILED, ITEMS_REPAIRED, ITEMS_RENAMED };

static const struct {
    const char *title, *hint, *column;
} item_kinds[] = {
    [ITEMS_FAILED] = {"Failed messages", "", "Error"},
    [ITEMS_REPAIRED] = {"Repaired messages",
                        " copied after --repair changed them", "Changes"},
    [ITEMS_RENAMED] = {"Renamed folders", " on the target under another name",
                       "Names and why"},
};

static const struct mf_report_item_list *
items_of(const struct mf_report_mailbox *m, enum item_kind k) {
    switch (k) {
    case ITEMS_REPAIRED:
        return &m->repaired;
    case ITEMS_RENAMED:
        return &m->renamed;
    case ITEMS_FAILED:
        break;
    }
    return &m->failed;
}

/* A row's first cells: the mailbox and the folder. */
static void
row_start(struct mf_buf *out, const char *email, const char *folder) {
    mf_buf_append_str(out, "<tr><td class=\"em\">");
    esc(out, email);
    mf_buf_append_str(out, "</td><td class=\"mono\">");
    esc(out, folder);
    mf_buf_append_str(out, "</td>");
}

/* The cells that find a message in the source mailbox: UID, size, date
 * and subject (its Message-ID under it, when known). */
static void
message_cells(struct mf_buf *out, uint32_t uid, uint64_t size, int64_t date,
              const char *subject, const char *message_id) {
    mf_buf_append_str(out, "<td class=\"num\">");
    if (uid)
        mf_buf_appendf(out, "%" PRIu32, uid);
    mf_buf_append_str(out, "</td><td class=\"num\">");
    if (size)
        mf__report_html_bytes(out, (double)size);
    else
        mf_buf_append_str(out, "<span class=\"muted\">&mdash;</span>");
    mf_buf_append_str(out, "</td><td class=\"num\">");
    mf__report_html_time(out, date, false);
    mf_buf_append_str(out, "</td><td class=\"subj\">");
    if (subject && subject[0])
        esc(out, subject);
    else
        mf_buf_append_str(out, "<span class=\"muted\">(no subject)</span>");
    if (message_id && message_id[0]) {
        mf_buf_append_str(out, "<div class=\"small mono\">");
        esc(out, message_id);
        mf_buf_append_str(out, "</div>");
    }
    mf_buf_append_str(out, "</td>");
}

/* One table of mailbox, folder and the message (failed and repaired:
 * UID, size, date, subject; renamed folders: none), then the error, the
 * changes or the names. */
static void
item_table(struct mf__report_out *o, const struct mf_report_batch *b,
           const size_t *order, enum item_kind kind) {
    struct mf_buf *out = &o->buf;
    uint64_t total = 0, shown = 0;

    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_item_list *l = items_of(&b->mailboxes[i], kind);
        total += l->n + l->unlisted;
    }
    if (kind != ITEMS_FAILED && total == 0)
        return;
    mf_buf_appendf(out, "<section class=\"panel\"><h2>%s <span class=\"hint\">",
                   item_kinds[kind].title);
    mf__report_html_count(out, total);
    mf_buf_append_str(out, item_kinds[kind].hint);
    mf_buf_append_str(out, "</span></h2>");
    if (total == 0) {
        mf_buf_append_str(out, "<div class=\"muted\">No message failed to "
                               "copy.</div></section>\n");
        return;
    }
    mf_buf_appendf(out,
                   "<div class=\"tw\"><table><thead><tr><th>Mailbox</th>"
                   "<th>Folder</th>%s<th>%s</th></tr></thead><tbody>\n",
                   kind == ITEMS_RENAMED ? ""
                                         : "<th class=\"num\">UID</th>"
                                           "<th class=\"num\">Size</th>"
                                           "<th class=\"num\">Date</th>"
                                           "<th>Subject</th>",
                   item_kinds[kind].column);
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &b->mailboxes[order[i]];
        const struct mf_report_item_list *l = items_of(m, kind);

        for (size_t k = 0; k < l->n; k++) {
            const struct mf_report_failed *f = &l->items[k];

            if (shown == MF_REPORT_HTML_ITEMS_MAX)
                break;
            shown++;
            row_start(out, m->email, f->folder);
            if (kind != ITEMS_RENAMED)
                message_cells(out, f->uid, f->size, f->internal_date,
                              f->subject, f->message_id);
            mf_buf_append_str(out, "<td>");
            if (kind == ITEMS_FAILED)
                mf_buf_appendf(out, "<span class=\"code\">%s %d</span>",
                               mf_err_name((mf_err)f->error_code),
                               f->error_code);
            esc(out, f->error_text          ? f->error_text
                     : kind == ITEMS_FAILED ? mf_strerror((mf_err)f->error_code)
                                            : "");
            mf_buf_append_str(out, "</td></tr>\n");
        }
        mf__report_out_maybe_flush(o);
    }
    mf_buf_append_str(out, "</tbody></table></div>");
    more_note(out, shown, total);
    mf_buf_append_str(out, "</section>\n");
}

static void
skipped_items(struct mf__report_out *o, const struct mf_report_batch *b,
              const size_t *order, const struct mf_report_totals *t) {
    struct mf_buf *out = &o->buf;
    uint64_t total = 0, shown = 0, counted = 0;

    for (size_t i = 0; i < b->n_mailboxes; i++)
        total +=
            b->mailboxes[i].n_skipped_items + b->mailboxes[i].skipped_unlisted;
    mf_buf_append_str(out, "<section class=\"panel\"><h2>Skipped messages "
                           "<span class=\"hint\">");
    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
        counted += t->skipped[r];
    mf__report_html_count(out, total);
    mf_buf_append_str(out, " listed &middot; ");
    mf__report_html_count(out, counted);
    mf_buf_append_str(out, " skipped in all</span></h2>");
    if (total == 0) {
        mf_buf_append_str(out, "<div class=\"muted\">No message was "
                               "skipped.</div></section>\n");
        return;
    }
    mf_buf_append_str(
        out,
        "<div class=\"tw\"><table><thead><tr><th>Mailbox</th><th>Folder</th>"
        "<th class=\"num\">UID</th><th class=\"num\">Size"
        "</th><th class=\"num\">Date</th><th>Subject</th>"
        "<th>Reason</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &b->mailboxes[order[i]];

        for (size_t k = 0; k < m->n_skipped_items; k++) {
            const struct mf_report_skipped *s = &m->skipped_items[k];
            const char *reason = mf_report_skip_reason_name(s->reason);

            if (shown == MF_REPORT_HTML_ITEMS_MAX)
                break;
            shown++;
            row_start(out, m->email, s->folder);
            message_cells(out, s->uid, s->size, s->internal_date, s->subject,
                          NULL);
            mf_buf_appendf(out, "<td><span class=\"reason %s\">", reason);
            mf_buf_append_str(
                out, strcmp(reason, "too_large") == 0 ? "too large" : reason);
            mf_buf_append_str(out, "</span>");
            if (s->error_text) { /* moved: from which folder */
                mf_buf_append_str(out, "<div class=\"small\">");
                esc(out, s->error_text);
                mf_buf_append_str(out, "</div>");
            }
            mf_buf_append_str(out, "</td></tr>\n");
        }
        mf__report_out_maybe_flush(o);
    }
    mf_buf_append_str(out, "</tbody></table></div>");
    more_note(out, shown, total);
    mf_buf_append_str(out, "</section>\n");
}

void
mf__report_html_items(struct mf__report_out *o, const struct mf_report_batch *b,
                      const size_t *order, const struct mf_report_totals *t) {
    item_table(o, b, order, ITEMS_FAILED);
    item_table(o, b, order, ITEMS_REPAIRED);
    item_table(o, b, order, ITEMS_RENAMED);
    skipped_items(o, b, order, t);
}
