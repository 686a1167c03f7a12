/*
 * The HTML report's verification parts (`mailferry verify`, verify.h):
 * the "Verified" cell of each mailbox row and the section listing the
 * differences (mailbox, folder, UIDs, date, subject, what differs; never
 * any of a body), at most MF_REPORT_HTML_ITEMS_MAX rows, like the other
 * item lists.
 */
#include "report_int.h"

#include <inttypes.h>
#include <time.h>

static void
uid_cell(struct mf_buf *out, uint32_t uid) {
    if (uid)
        mf_buf_appendf(out, "<td class=\"num\">%" PRIu32 "</td>", uid);
    else
        mf_buf_append_str(out, "<td class=\"num\">-</td>");
}

static void
esc(struct mf_buf *out, const char *s) {
    if (s)
        mf__report_html_escape(out, s);
}

void
mf__report_html_verify_cell(struct mf_buf *out,
                            const struct mf_report_mailbox *m) {
    char n[32];

    switch (m->verification) {
    case MF_REPORT_VERIFIED_EQUAL:
        mf_buf_append_str(out, "<span class=\"reason ok\">equal</span>");
        break;
    case MF_REPORT_VERIFY_DIFFERENCES:
        mf__report_fmt_count(m->verify_differences, n);
        mf_buf_appendf(out,
                       "<span class=\"reason failed\">%s difference%s</span>",
                       n, m->verify_differences == 1 ? "" : "s");
        break;
    case MF_REPORT_VERIFY_FAILED:
        mf_buf_append_str(out, "<span class=\"reason failed\">verify "
                               "failed</span>");
        if (m->verify_error_text) {
            mf_buf_append_str(out, "<div class=\"small\">");
            esc(out, m->verify_error_text);
            mf_buf_append_str(out, "</div>");
        }
        break;
    default:
        mf_buf_append_str(out, "<span class=\"muted\">not verified</span>");
        break;
    }
}

void
mf__report_html_verify_section(struct mf__report_out *o,
                               const struct mf_report_batch *b,
                               const size_t *order) {
    struct mf_buf *out = &o->buf;
    uint64_t total = 0, shown = 0, verified = 0;
    char n[32];

    for (size_t i = 0; i < b->n_mailboxes; i++) {
        total += b->mailboxes[i].n_diff_items + b->mailboxes[i].diff_unlisted;
        verified += b->mailboxes[i].verification != MF_REPORT_NOT_VERIFIED;
    }
    mf_buf_append_str(out, "<section class=\"panel\"><h2>Verification "
                           "differences <span class=\"hint\">");
    mf__report_fmt_count(total, n);
    mf_buf_appendf(out, "%s &middot; ", n);
    mf__report_fmt_count(verified, n);
    mf_buf_appendf(out, "%s mailboxes verified</span></h2>", n);
    if (total == 0) {
        mf_buf_append_str(out, verified ? "<div class=\"muted\">Every "
                                          "verified mailbox is equal.</div>"
                                          "</section>\n"
                                        : "<div class=\"muted\">No mailbox "
                                          "was verified (mailferry verify)."
                                          "</div></section>\n");
        return;
    }
    mf_buf_append_str(
        out, "<div class=\"tw\"><table><thead><tr><th>Mailbox</th>"
             "<th>Difference</th><th>Folder</th><th class=\"num\">UID</th>"
             "<th class=\"num\">Target UID</th><th class=\"num\">Date</th>"
             "<th>Subject</th><th>Detail</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &b->mailboxes[order[i]];

        for (size_t k = 0; k < m->n_diff_items; k++) {
            const struct mf_report_difference *d = &m->diff_items[k];
            char iso[MF__REPORT_TIME_LEN];

            if (shown == MF_REPORT_HTML_ITEMS_MAX)
                break;
            shown++;
            mf_buf_append_str(out, "<tr><td class=\"em\">");
            esc(out, m->email);
            mf_buf_append_str(out, "</td><td><span class=\"reason\">");
            esc(out, d->kind);
            mf_buf_append_str(out, "</span></td><td class=\"mono\">");
            esc(out, d->folder);
            /* UID 0: not on that side (a missing or an extra message). */
            mf_buf_append_str(out, "</td>");
            uid_cell(out, d->source_uid);
            uid_cell(out, d->target_uid);
            mf_buf_append_str(out, "<td class=\"num\">");
            mf__report_time_iso(d->internal_date, iso);
            esc(out, d->internal_date ? iso : "");
            mf_buf_append_str(out, "</td><td class=\"subj\">");
            esc(out, d->subject);
            mf_buf_append_str(out, "</td><td>");
            esc(out, d->detail);
            mf_buf_append_str(out, "</td></tr>\n");
        }
        mf__report_out_maybe_flush(o);
    }
    mf_buf_append_str(out, "</tbody></table></div>");
    if (total > shown) {
        mf__report_fmt_count(shown, n);
        mf_buf_appendf(out, "<div class=\"note\">Showing the first %s", n);
        mf__report_fmt_count(total, n);
        mf_buf_appendf(out, " of %s; the JSON report lists every item.</div>",
                       n);
    }
    mf_buf_append_str(out, "</section>\n");
}
