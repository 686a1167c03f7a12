/*
 * The HTML report: one self-contained page (docs/design.md §11) an admin can
 * mail around or open years later. Inline CSS and inline SVG only: no
 * scripts, no fonts, images or styles from anywhere else, and a
 * Content-Security-Policy that forbids them, so a page built from hostile
 * folder names and subjects stays inert even if escaping were wrong.
 *
 * Layout, top to bottom: a header with the batch and its endpoints, five
 * figure cards, the status donut beside the throughput chart
 * (html_svg.c), the mailbox table with failed mailboxes first (an error
 * row under each mailbox that has an error), then the failed and the
 * skipped items, each cut at MF_REPORT_HTML_ITEMS_MAX rows (the JSON
 * report lists them all).
 *
 * Every string that came from a CSV, a server or a message goes through
 * mf__report_html_escape(). The page is written to the file as it is
 * built, a mailbox at a time.
 */
#include "report_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char css[] =
    ":root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc;"
    "--bg:#f1f5f9;--bad:#b91c1c}"
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue','Noto Sans','Liberation Sans',Arial,sans-serif}"
    ".mono,code{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,"
    "'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12.5px}"
    "header.top{background:linear-gradient(120deg,#0b1220 0%,#172554 55%,"
    "#1e3a8a 100%);color:#fff}"
    ".wrap{max-width:1320px;margin:0 auto;padding:0 24px}"
    "header.top .wrap{padding-top:26px;padding-bottom:64px}"
    ".brand{font-size:12px;letter-spacing:.14em;text-transform:uppercase;"
    "color:#93c5fd;font-weight:600}"
    "h1{margin:6px 0 16px;font-size:28px;line-height:1.2;font-weight:700;"
    "display:flex;align-items:center;gap:14px;flex-wrap:wrap;"
    "word-break:break-word}"
    ".bstate{font-size:12px;font-weight:600;padding:4px 11px;"
    "border-radius:999px;background:rgba(255,255,255,.14);"
    "border:1px solid rgba(255,255,255,.28);letter-spacing:.02em}"
    ".bstate.good{background:rgba(34,197,94,.22);border-color:"
    "rgba(134,239,172,.55)}"
    ".bstate.bad{background:rgba(239,68,68,.25);border-color:"
    "rgba(252,165,165,.6)}"
    "dl.meta{display:flex;flex-wrap:wrap;gap:10px 36px;margin:0}"
    "dl.meta dt{color:#93c5fd;font-size:11px;text-transform:uppercase;"
    "letter-spacing:.08em;font-weight:600}"
    "dl.meta dd{margin:2px 0 0;font-size:13.5px;color:#e2e8f0;"
    "word-break:break-all}"
    "main.wrap{margin-top:-44px;padding-bottom:36px}"
    ".cards{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));"
    "gap:16px}"
    ".card,.panel{background:#fff;border:1px solid var(--line);"
    "border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.06),"
    "0 1px 2px rgba(15,23,42,.04)}"
    ".card{padding:16px 18px}"
    ".label{font-size:11.5px;color:var(--muted);text-transform:uppercase;"
    "letter-spacing:.07em;font-weight:600}"
    ".value{font-size:26px;font-weight:700;margin-top:4px;"
    "font-variant-numeric:tabular-nums;letter-spacing:-.01em}"
    ".sub{font-size:12.5px;color:var(--muted);margin-top:3px}"
    ".sub b{color:var(--fg);font-weight:600}"
    ".sub .bad,.bad{color:var(--bad)}"
    ".card .bar{margin-top:10px}"
    ".panel{padding:18px 16px;margin-top:16px}"
    ".panel h2{font-size:15px;margin:0 0 14px;font-weight:650;"
    "display:flex;align-items:baseline;gap:10px}"
    ".panel h2 .hint{font-size:12.5px;font-weight:400;color:var(--muted)}"
    ".charts{display:grid;grid-template-columns:minmax(0,2fr) "
    "minmax(0,3fr);gap:16px}"
    ".donut{display:flex;align-items:center;gap:22px}"
    ".donut svg{flex:none}"
    ".dn{font-size:30px;font-weight:700;fill:var(--fg)}"
    ".dl{font-size:12px;fill:var(--muted)}"
    ".legend{list-style:none;margin:0;padding:0;font-size:13px;flex:1}"
    ".legend li{display:flex;align-items:center;gap:8px;padding:4px 0;"
    "border-bottom:1px dashed var(--line)}"
    ".legend li:last-child{border-bottom:0}"
    ".sw{width:10px;height:10px;border-radius:3px;flex:none}"
    ".legend .n{margin-left:auto;font-weight:650;"
    "font-variant-numeric:tabular-nums}"
    ".legend .p{width:42px;text-align:right;color:var(--muted);"
    "font-variant-numeric:tabular-nums}"
    ".keys{display:flex;gap:18px;font-size:12.5px;color:var(--muted);"
    "margin:-6px 0 6px}"
    ".keys i{display:inline-block;width:18px;height:0;vertical-align:middle;"
    "margin-right:6px;border-top:2px solid #2563eb}"
    ".keys i.b{border-top:2px dashed #a855f7}"
    "svg.tp{width:100%;height:auto;display:block}"
    ".ax{font-size:11px;fill:#64748b;font-variant-numeric:tabular-nums}"
    ".axt{font-size:11px;fill:#94a3b8}"
    ".ax2{fill:#9333ea}"
    ".empty{color:var(--muted);padding:40px 0;text-align:center}"
    "table{width:100%;border-collapse:collapse;font-size:13px}"
    "th{text-align:left;font-weight:600;color:var(--muted);font-size:11px;"
    "text-transform:uppercase;letter-spacing:.05em;padding:9px 6px;"
    "background:var(--soft);border-bottom:1px solid var(--line);"
    "white-space:nowrap}"
    "td{padding:8px 6px;border-bottom:1px solid #eef2f7;"
    "vertical-align:middle}"
    "tbody tr:hover td{background:#f8fafc}"
    ".num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".small{font-size:11.5px;color:var(--muted)}"
    ".tw{overflow-x:auto}"
    ".em{font-weight:600;white-space:nowrap}"
    ".wk{font-size:11.5px;color:var(--muted);max-width:200px;"
    "overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
    "tr.failed td{background:#fff7f7}"
    "tr.failed td:first-child{box-shadow:inset 3px 0 0 #dc2626}"
    "tr.errrow td{background:#fff7f7;padding-top:0;color:#7f1d1d;"
    "font-size:12.5px}"
    "tr.errrow td:first-child{box-shadow:inset 3px 0 0 #dc2626}"
    "tr.warnrow td{background:#fffbeb;padding-top:0;color:#78350f;"
    "font-size:12.5px}"
    ".code{display:inline-block;font-family:ui-monospace,Menlo,Consolas,"
    "'DejaVu Sans Mono',monospace;font-size:11.5px;font-weight:600;"
    "padding:1px 7px;border-radius:5px;background:#fee2e2;color:#991b1b;"
    "margin-right:8px}"
    ".warnrow .code{background:#fef3c7;color:#92400e}"
    ".pill{display:inline-block;padding:2px 8px;border-radius:999px;"
    "font-size:11.5px;font-weight:600;white-space:nowrap}"
    ".pill:before{content:'';display:inline-block;width:6px;height:6px;"
    "border-radius:50%;background:currentColor;margin-right:6px;"
    "vertical-align:1px}"
    ".bar{height:6px;background:#e2e8f0;border-radius:3px;overflow:hidden;"
    "min-width:96px}"
    ".bar span{display:block;height:100%;border-radius:3px}"
    ".prog{min-width:150px}"
    ".prog .small{display:flex;justify-content:space-between;gap:8px;"
    "margin-top:3px}"
    ".reason{font-size:11.5px;font-weight:600;padding:1px 8px;"
    "border-radius:5px;background:#f1f5f9;color:#334155;white-space:nowrap}"
    ".reason.too_large{background:#fef3c7;color:#92400e}"
    ".reason.failed{background:#fee2e2;color:#991b1b}"
    ".reason.ok{background:#dcfce7;color:#166534}"
    ".subj{max-width:420px;overflow-wrap:anywhere}"
    ".muted{color:var(--muted)}"
    ".note{margin-top:10px;font-size:12.5px;color:var(--muted)}"
    "footer{color:var(--muted);font-size:12px;text-align:center;"
    "padding:8px 0 28px}"
    "@media (max-width:1000px){.cards{grid-template-columns:repeat(2,1fr)}"
    ".charts{grid-template-columns:1fr}}"
    "@media print{body{background:#fff}header.top{background:#0b1220;"
    "-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".card,.panel{box-shadow:none}tr{break-inside:avoid}}";

/* Pill colours (text, background) by state. */
static void
pill_css(struct mf_buf *out) {
    static const char *const bg[MF_REPORT_STATE_COUNT] = {
        [MF_REPORT_QUEUED] = "#f1f5f9",
        [MF_REPORT_SYNCING] = "#dbeafe",
        [MF_REPORT_SYNCED] = "#ccfbf1",
        [MF_REPORT_INCREMENTAL_SYNCING] = "#e0e7ff",
        [MF_REPORT_STOPPED] = "#fef3c7",
        [MF_REPORT_FAILED] = "#fee2e2",
        [MF_REPORT_COMPLETED] = "#dcfce7",
    };
    static const char *const fg[MF_REPORT_STATE_COUNT] = {
        [MF_REPORT_QUEUED] = "#475569",
        [MF_REPORT_SYNCING] = "#1d4ed8",
        [MF_REPORT_SYNCED] = "#0f766e",
        [MF_REPORT_INCREMENTAL_SYNCING] = "#4338ca",
        [MF_REPORT_STOPPED] = "#b45309",
        [MF_REPORT_FAILED] = "#b91c1c",
        [MF_REPORT_COMPLETED] = "#15803d",
    };

    for (int s = 0; s < MF_REPORT_STATE_COUNT; s++)
        mf_buf_appendf(out,
                       ".s-%s{color:%s;background:%s}"
                       ".b-%s{background:%s}",
                       mf_report_state_name(s), fg[s], bg[s],
                       mf_report_state_name(s), mf__report_state_color(s));
}

/* ---------------------------------------------------------------------
 * Small pieces
 * ------------------------------------------------------------------ */

static void
esc(struct mf_buf *out, const char *s) {
    if (s)
        mf__report_html_escape(out, s);
}

/* "08:05" UTC. */
static void
html_clock(struct mf_buf *out, int64_t t) {
    char s[16];
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm))
        return;
    strftime(s, sizeof(s), "%H:%M", &tm);
    mf_buf_append_str(out, s);
}

static void
rate(struct mf_buf *out, double v) {
    mf_buf_appendf(out, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
}

static double
percent(uint64_t part, uint64_t whole) {
    if (whole == 0)
        return part ? 100 : 0;
    return part >= whole ? 100 : 100.0 * (double)part / (double)whole;
}

static void
pill(struct mf_buf *out, enum mf_report_state s) {
    mf_buf_appendf(out, "<span class=\"pill s-%s\">%s</span>",
                   mf_report_state_name(s), mf_report_state_name(s));
}

/* Batch states are names from docs/design.md §4; colour the obvious ones. */
static const char *
batch_state_class(const char *s) {
    if (strcasestr(s, "error") || strcasestr(s, "fail"))
        return "bad";
    if (strcasecmp(s, "Completed") == 0 || strcasecmp(s, "Synced") == 0)
        return "good";
    return "";
}

/* ---------------------------------------------------------------------
 * Sections
 * ------------------------------------------------------------------ */

static void
head(struct mf_buf *out, const struct mf_report_batch *b) {
    mf_buf_append_str(
        out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, "
             "initial-scale=1\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" "
             "content=\"default-src 'none'; style-src 'unsafe-inline'; "
             "img-src data:\">\n"
             "<meta name=\"generator\" content=\"mailferry\">\n<title>");
    esc(out, b->name);
    mf_buf_append_str(out, " &middot; mailferry migration report</title>\n"
                           "<style>");
    mf_buf_append_str(out, css);
    pill_css(out);
    mf_buf_append_str(out, "</style>\n</head>\n<body>\n");
}

static void
meta_item(struct mf_buf *out, const char *label, const char *text, int64_t t) {
    mf_buf_appendf(out, "<div><dt>%s</dt><dd>", label);
    if (text)
        esc(out, text[0] ? text : "-");
    else
        mf__report_html_time(out, t, false);
    mf_buf_append_str(out, "</dd></div>");
}

static void
header(struct mf_buf *out, const struct mf_report_batch *b) {
    mf_buf_append_str(out, "<header class=\"top\"><div class=\"wrap\">"
                           "<div class=\"brand\">mailferry &middot; "
                           "migration report</div><h1>");
    esc(out, b->name);
    if (b->state[0]) {
        mf_buf_appendf(out, "<span class=\"bstate %s\">",
                       batch_state_class(b->state));
        esc(out, b->state);
        mf_buf_append_str(out, "</span>");
    }
    mf_buf_append_str(out, "</h1><dl class=\"meta\">");
    meta_item(out, "Source", b->source ? b->source : "", 0);
    meta_item(out, "Target", b->target ? b->target : "", 0);
    meta_item(out, "Created", NULL, b->created);
    meta_item(out, "Started", NULL, b->started);
    meta_item(out, "Finished", NULL, b->finished);
    meta_item(out, "Report generated", NULL, b->generated);
    mf_buf_append_str(out, "</dl></div></header>\n<main class=\"wrap\">\n");
}

/* A skip reason in words, for the cards and the mailbox table. */
static const char *const reason_words[MF_REPORT_SKIP_REASON_COUNT] = {
    [MF_REPORT_SKIP_TOO_LARGE] = "too large",
    [MF_REPORT_SKIP_EXCLUDED] = "excluded",
    [MF_REPORT_SKIP_FAILED] = "failed",
    [MF_REPORT_SKIP_VANISHED] = "vanished",
    [MF_REPORT_SKIP_OUTSIDE_WINDOW] = "outside the date window",
    [MF_REPORT_SKIP_DELETED] = "removed from the target",
    [MF_REPORT_SKIP_MOVED] = "moved on the target",
};

static void
cards(struct mf_buf *out, const struct mf_report_totals *t) {
    uint64_t done =
        t->by_state[MF_REPORT_COMPLETED] + t->by_state[MF_REPORT_SYNCED];
    uint64_t failed = t->by_state[MF_REPORT_FAILED];
    uint64_t skipped = 0;
    double pct = percent(t->copied_messages, t->source_messages);
    char d[32];

    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
        skipped += t->skipped[r];

    mf_buf_append_str(out, "<section class=\"cards\">");
    /* Mailboxes */
    mf_buf_append_str(out, "<div class=\"card\"><div class=\"label\">"
                           "Mailboxes</div><div class=\"value\">");
    mf__report_html_count(out, t->mailboxes);
    mf_buf_append_str(out, "</div><div class=\"sub\"><b>");
    mf__report_html_count(out, done);
    mf_buf_append_str(out, "</b> finished &middot; ");
    mf_buf_append_str(out, failed ? "<b class=\"bad\">" : "<b>");
    mf__report_html_count(out, failed);
    mf_buf_append_str(out, "</b> failed</div></div>");
    /* Messages */
    mf_buf_append_str(out, "<div class=\"card\"><div class=\"label\">"
                           "Messages copied</div><div class=\"value\">");
    mf__report_html_count(out, t->copied_messages);
    mf_buf_appendf(out, "</div><div class=\"sub\"><b>%.1f%%</b> of ", pct);
    mf__report_html_count(out, t->source_messages);
    mf_buf_appendf(out,
                   "</div><div class=\"bar\"><span "
                   "style=\"width:%.1f%%;background:#2563eb\"></span>"
                   "</div></div>",
                   pct);
    /* Data */
    pct = percent(t->copied_bytes, t->source_bytes);
    mf_buf_append_str(out, "<div class=\"card\"><div class=\"label\">"
                           "Data copied</div><div class=\"value\">");
    mf__report_html_bytes(out, (double)t->copied_bytes);
    mf_buf_appendf(out, "</div><div class=\"sub\"><b>%.1f%%</b> of ", pct);
    mf__report_html_bytes(out, (double)t->source_bytes);
    mf_buf_appendf(out,
                   "</div><div class=\"bar\"><span "
                   "style=\"width:%.1f%%;background:#7c3aed\"></span>"
                   "</div></div>",
                   pct);
    /* Skipped */
    mf_buf_append_str(out, "<div class=\"card\"><div class=\"label\">"
                           "Skipped messages</div><div class=\"value\">");
    mf__report_html_count(out, skipped);
    mf_buf_append_str(out, "</div><div class=\"sub\">");
    mf__report_html_count(out, t->skipped[MF_REPORT_SKIP_TOO_LARGE]);
    mf_buf_append_str(out, " too large &middot; ");
    mf__report_html_count(out, t->skipped[MF_REPORT_SKIP_EXCLUDED]);
    mf_buf_append_str(out, " excluded &middot; ");
    mf_buf_append_str(out, t->skipped[MF_REPORT_SKIP_FAILED]
                               ? "<span class=\"bad\">"
                               : "<span>");
    mf__report_html_count(out, t->skipped[MF_REPORT_SKIP_FAILED]);
    mf_buf_append_str(out, " failed</span> &middot; ");
    mf__report_html_count(out, t->skipped[MF_REPORT_SKIP_VANISHED]);
    mf_buf_append_str(out, " vanished");
    /* The reasons after these four only when they occur. */
    for (int r = MF_REPORT_SKIP_OUTSIDE_WINDOW; r < MF_REPORT_SKIP_REASON_COUNT;
         r++) {
        if (!t->skipped[r])
            continue;
        mf_buf_append_str(out, " &middot; ");
        mf__report_html_count(out, t->skipped[r]);
        mf_buf_appendf(out, " %s", reason_words[r]);
    }
    mf_buf_append_str(out, "</div></div>");
    /* Time */
    mf__report_fmt_duration(t->elapsed_seconds, d);
    mf_buf_appendf(out,
                   "<div class=\"card\"><div class=\"label\">"
                   "Elapsed</div><div class=\"value\">%s</div>"
                   "<div class=\"sub\"><b>",
                   t->elapsed_seconds > 0 ? d : "&mdash;");
    rate(out, t->messages_per_second);
    mf_buf_append_str(out, "</b> msg/s &middot; <b>");
    mf__report_html_bytes(out, t->bytes_per_second);
    mf_buf_append_str(out, "/s</b> on average</div></div>");
    mf_buf_append_str(out, "</section>\n");
}

static void
charts(struct mf_buf *out, const struct mf_report_batch *b,
       const struct mf_report_totals *t) {
    mf_buf_append_str(out, "<section class=\"charts\"><div class=\"panel\">"
                           "<h2>Mailbox status</h2>");
    mf__report_svg_status(out, t);
    mf_buf_append_str(out, "</div><div class=\"panel\"><h2>Throughput over "
                           "time <span class=\"hint\">whole batch, UTC"
                           "</span></h2><div class=\"keys\"><span><i></i>"
                           "messages/s</span><span><i class=\"b\"></i>MiB/s"
                           "</span></div>");
    mf__report_svg_throughput(out, b);
    mf_buf_append_str(out, "</div></section>\n");
}

static void
mailbox_row(struct mf_buf *out, const struct mf_report_mailbox *m) {
    const char *ename = mf__report_error_name(m);
    double pct = percent(m->copied_messages, m->source_messages);
    uint64_t skipped = 0;
    char d[32];

    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
        skipped += m->skipped[r];
    mf_buf_appendf(out, "<tr%s><td><div class=\"em\">",
                   m->state == MF_REPORT_FAILED ? " class=\"failed\"" : "");
    esc(out, m->email);
    mf_buf_append_str(out, "</div>");
    if (m->worker && m->worker[0]) {
        mf_buf_append_str(out, "<div class=\"wk\">");
        esc(out, m->worker);
        mf_buf_append_str(out, "</div>");
    }
    mf_buf_append_str(out, "</td><td>");
    pill(out, m->state);
    mf_buf_appendf(out,
                   "</td><td class=\"prog\"><div class=\"bar\"><span "
                   "class=\"b-%s\" style=\"width:%.1f%%\"></span></div>"
                   "<div class=\"small\"><span>",
                   mf_report_state_name(m->state), pct);
    mf__report_html_count(out, m->copied_messages);
    mf_buf_append_str(out, " / ");
    mf__report_html_count(out, m->source_messages);
    mf_buf_appendf(out,
                   "</span><span>%.0f%%</span></div></td>"
                   "<td class=\"num\">",
                   pct);
    mf__report_html_bytes(out, (double)m->copied_bytes);
    mf_buf_append_str(out, "<div class=\"small\">of ");
    mf__report_html_bytes(out, (double)m->source_bytes);
    mf_buf_appendf(out, "</div></td><td class=\"num\">%" PRIu32,
                   m->folders_copied);
    if (m->folders_excluded)
        mf_buf_appendf(out, "<div class=\"small\">%" PRIu32 " excluded</div>",
                       m->folders_excluded);
    mf_buf_append_str(out, "</td><td class=\"num\">");
    if (skipped) {
        mf__report_html_count(out, skipped);
        /* Only the reasons that occur, to keep the column narrow. */
        for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++) {
            if (m->skipped[r] == 0)
                continue;
            mf_buf_append_str(out, "<div class=\"small\">");
            mf__report_html_count(out, m->skipped[r]);
            mf_buf_appendf(out, " %s</div>", reason_words[r]);
        }
    } else {
        mf_buf_append_str(out, "<span class=\"muted\">0</span>");
    }
    /* Time spent, and the rate it went at, in one column. */
    mf__report_fmt_duration(m->duration_seconds, d);
    mf_buf_appendf(out,
                   "</td><td class=\"num\">%" PRIu32 "</td>"
                   "<td class=\"num\">%s",
                   m->attempts, m->duration_seconds > 0 ? d : "&mdash;");
    if (m->messages_per_second > 0 || m->bytes_per_second > 0) {
        mf_buf_append_str(out, "<div class=\"small\">");
        rate(out, m->messages_per_second);
        mf_buf_append_str(out, " msg/s &middot; ");
        mf__report_html_bytes(out, m->bytes_per_second);
        mf_buf_append_str(out, "/s</div>");
    }
    mf_buf_append_str(out, "</td><td class=\"num\">");
    mf__report_html_time(out, m->last_sync, false);
    if (m->first_sync && m->first_sync != m->last_sync) {
        /* Only the time when it is the same day: keeps the column
         * narrow. */
        bool same_day =
            m->last_sync && m->first_sync / 86400 == m->last_sync / 86400;

        mf_buf_append_str(out, "<div class=\"small\">first ");
        if (same_day)
            html_clock(out, m->first_sync);
        else
            mf__report_html_time(out, m->first_sync, false);
        mf_buf_append_str(out, "</div>");
    }
    mf_buf_append_str(out, "</td><td>");
    mf__report_html_verify_cell(out, m);
    mf_buf_append_str(out, "</td></tr>\n");
    if (ename) {
        /* The error gets a row of its own under the mailbox: it is what
         * the admin came to read, and it is often long. */
        mf_buf_appendf(out,
                       "<tr class=\"%s\"><td colspan=\"10\">"
                       "<span class=\"code\">",
                       m->state == MF_REPORT_FAILED ? "errrow" : "warnrow");
        esc(out, ename);
        mf_buf_appendf(out, " %d</span>", m->error_code);
        esc(out, m->error_text && m->error_text[0]
                     ? m->error_text
                     : mf_strerror((mf_err)m->error_code));
        mf_buf_append_str(out, "</td></tr>\n");
    }
}

static void
mailbox_table(struct mf__report_out *o, const struct mf_report_batch *b,
              const size_t *order) {
    struct mf_buf *out = &o->buf;

    mf_buf_append_str(out, "<section class=\"panel\"><h2>Mailboxes "
                           "<span class=\"hint\">");
    mf__report_html_count(out, b->n_mailboxes);
    mf_buf_append_str(
        out,
        " &middot; failed first</span></h2>"
        "<div class=\"tw\"><table><thead><tr><th>Mailbox</th><th>State</th>"
        "<th>Messages</th><th class=\"num\">Data</th>"
        "<th class=\"num\">Folders</th><th class=\"num\">Skipped</th>"
        "<th class=\"num\">Attempts</th><th class=\"num\">Duration</th>"
        "<th class=\"num\">Last sync</th><th>Verified</th>"
        "</tr></thead><tbody>\n");
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        mailbox_row(out, &b->mailboxes[order[i]]);
        mf__report_out_maybe_flush(o);
    }
    if (b->n_mailboxes == 0)
        mf_buf_append_str(out, "<tr><td colspan=\"10\" class=\"empty\">"
                               "No mailboxes in this batch.</td></tr>");
    mf_buf_append_str(out, "</tbody></table></div></section>\n");
}

/* The batch's warnings: --rename rules that matched no folder of any
 * mailbox (mf_report_rename_warnings()), when there are some. */
static void
warnings(struct mf_buf *out, const struct mf_report_batch *b) {
    const char **v;
    size_t n = mf_report_rename_warnings(b, &v);

    if (!n)
        return;
    mf_buf_append_str(out, "<section class=\"panel\"><h2>Warnings</h2><ul>");
    for (size_t i = 0; i < n; i++) {
        mf_buf_append_str(out, "<li>");
        esc(out, v[i]);
        mf_buf_append_str(out, "</li>");
    }
    mf_buf_append_str(out, "</ul></section>\n");
    free(v);
}

mf_err
mf_report_write_html(const struct mf_report_batch *b, FILE *f) {
    struct mf__report_out o;
    struct mf_report_totals t;
    size_t *order = mf__report_sorted_by_rank(b);

    mf__report_out_init(&o, f);
    mf_report_totals(b, &t);
    head(&o.buf, b);
    header(&o.buf, b);
    cards(&o.buf, &t);
    warnings(&o.buf, b);
    charts(&o.buf, b, &t);
    mf__report_out_maybe_flush(&o);
    mailbox_table(&o, b, order);
    mf__report_html_items(&o, b, order, &t);
    mf__report_html_verify_section(&o, b, order);
    mf_buf_append_str(&o.buf, "</main>\n<footer>Generated by mailferry on ");
    mf__report_html_time(&o.buf, b->generated, true);
    mf_buf_append_str(&o.buf, ". Reports never contain passwords or tokens."
                              "</footer>\n</body>\n</html>\n");
    free(order);
    return mf__report_out_finish(&o);
}
