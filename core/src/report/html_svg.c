/*
 * The two inline SVG charts of the HTML report: the mailbox states as a
 * donut, and the batch's throughput over time as a line chart.
 *
 * Both are plain SVG markup with presentation attributes (no scripts, no
 * fonts or images from elsewhere). The throughput chart draws at most
 * CHART_POINTS points whatever the number of samples: the samples are
 * cumulative counters, so the rate between any two kept samples is the
 * exact average over everything between them.
 */
#include "report_int.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define CHART_POINTS 240

/* ---------------------------------------------------------------------
 * Status donut
 * ------------------------------------------------------------------ */

/* The order of the donut and its legend: done, running, waiting, bad. */
static const enum mf_report_state donut_order[] = {
    MF_REPORT_COMPLETED, MF_REPORT_SYNCED, MF_REPORT_INCREMENTAL_SYNCING,
    MF_REPORT_SYNCING,   MF_REPORT_QUEUED, MF_REPORT_STOPPED,
    MF_REPORT_FAILED,
};

void
mf__report_svg_status(struct mf_buf *out, const struct mf_report_totals *t) {
    const double r = 70, c = 2 * M_PI * r;
    char n[32];
    double offset = 0;
    int shown = 0;

    mf_buf_append_str(out, "<div class=\"donut\"><svg width=\"184\" "
                           "height=\"184\" viewBox=\"0 0 184 184\" "
                           "role=\"img\" aria-label=\"Mailbox states\">");
    mf_buf_appendf(out,
                   "<circle cx=\"92\" cy=\"92\" r=\"%.0f\" fill=\"none\" "
                   "stroke=\"#e2e8f0\" stroke-width=\"24\"/>",
                   r);
    for (size_t i = 0; i < MF_ARRAY_LEN(donut_order); i++) {
        uint64_t v = t->by_state[donut_order[i]];
        double len, gap;

        if (v == 0 || t->mailboxes == 0)
            continue;
        len = c * (double)v / (double)t->mailboxes;
        /* A hairline of white between segments, unless it is alone. */
        gap = v == t->mailboxes ? 0 : (len > 4 ? 2 : len / 3);
        mf_buf_appendf(out,
                       "<circle cx=\"92\" cy=\"92\" r=\"%.0f\" fill=\"none\" "
                       "stroke=\"%s\" stroke-width=\"24\" "
                       "stroke-dasharray=\"%.2f %.2f\" "
                       "stroke-dashoffset=\"%.2f\" "
                       "transform=\"rotate(-90 92 92)\"/>",
                       r, mf__report_state_color(donut_order[i]), len - gap,
                       c - len + gap, -offset);
        offset += len;
    }
    mf__report_fmt_count(t->mailboxes, n);
    mf_buf_appendf(out,
                   "<text x=\"92\" y=\"90\" text-anchor=\"middle\" "
                   "class=\"dn\">%s</text><text x=\"92\" y=\"112\" "
                   "text-anchor=\"middle\" class=\"dl\">mailboxes</text>"
                   "</svg><ul class=\"legend\">",
                   n);
    for (size_t i = 0; i < MF_ARRAY_LEN(donut_order); i++) {
        enum mf_report_state s = donut_order[i];
        uint64_t v = t->by_state[s];
        double pct =
            t->mailboxes ? 100.0 * (double)v / (double)t->mailboxes : 0;

        /* Failed always shows, as "0", so its absence is visible. */
        if (v == 0 && s != MF_REPORT_FAILED)
            continue;
        mf__report_fmt_count(v, n);
        mf_buf_appendf(out,
                       "<li><span class=\"sw\" style=\"background:%s\">"
                       "</span>%s<span class=\"n\">%s</span>"
                       "<span class=\"p\">%.0f%%</span></li>",
                       mf__report_state_color(s), mf_report_state_name(s), n,
                       pct);
        shown++;
    }
    if (shown == 0)
        mf_buf_append_str(out, "<li class=\"muted\">No mailboxes</li>");
    mf_buf_append_str(out, "</ul></div>");
}

/* ---------------------------------------------------------------------
 * Throughput over time
 * ------------------------------------------------------------------ */

/* A round step (1, 2, 2.5 or 5 times a power of ten) that cuts [0, max]
 * into about `ticks` parts. */
static double
nice_step(double max, int ticks) {
    double raw, mag, f;

    if (!(max > 0))
        max = 1;
    raw = max / ticks;
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    if (f <= 1)
        return mag;
    if (f <= 2)
        return 2 * mag;
    if (f <= 2.5)
        return 2.5 * mag;
    if (f <= 5)
        return 5 * mag;
    return 10 * mag;
}

/* As many decimals as the step needs: 2.5 steps show "7.5", not "8". */
static void
axis_label(char *out, size_t n, double v, double step) {
    if (fabs(step - round(step)) < 1e-9 * step)
        snprintf(out, n, "%.0f", v);
    else if (fabs(step * 10 - round(step * 10)) < 1e-9 * step * 10)
        snprintf(out, n, "%.1f", v);
    else
        snprintf(out, n, "%.2f", v);
}

/* A round time step in ms for x ticks so that a span (ms) has at most 7
 * of them: from a tenth of a second, for a batch of a second, to weeks. */
static int64_t
time_step(int64_t span) {
    static const int64_t steps[] = {
        100,      200,      500,       1000,      2000,      5000,
        10000,    30000,    60000,     120000,    300000,    600000,
        900000,   1800000,  3600000,   7200000,   10800000,  21600000,
        43200000, 86400000, 172800000, 604800000, 2419200000};

    for (size_t i = 0; i < MF_ARRAY_LEN(steps); i++)
        if (span / steps[i] <= 6)
            return steps[i];
    return span / 6 + 1;
}

/* A tick's label: the date past a day, the time of day from a minute
 * (with seconds below one), else seconds since the chart's start
 * ("0.5s"), which says more than "12:00:00" four times. */
static void
time_label(char *out, size_t n, int64_t t_ms, int64_t t0_ms, int64_t step) {
    time_t tt = (time_t)(t_ms / 1000);
    struct tm tm;

    if (step < 1000) {
        snprintf(out, n, "%.1fs", (double)(t_ms - t0_ms) / 1000);
        return;
    }
    if (!gmtime_r(&tt, &tm)) {
        snprintf(out, n, "?");
        return;
    }
    strftime(out, n,
             step >= 86400000 ? "%b %d"
             : step >= 60000  ? "%H:%M"
                              : "%H:%M:%S",
             &tm);
}

struct point {
    double t;           /* middle of the interval, Unix ms */
    double msgs, bytes; /* per second over the interval */
};

/* Rates between up to CHART_POINTS+1 evenly spread samples; returns how
 * many points went into pts. */
static size_t
rates(const struct mf_report_batch *b, struct point *pts) {
    size_t n = b->n_samples, k = 0, prev = 0;

    for (size_t j = 1; j <= CHART_POINTS && n > 1; j++) {
        size_t i = (size_t)((double)j * (double)(n - 1) / CHART_POINTS + 0.5);
        const struct mf_report_sample *a = &b->samples[prev],
                                      *z = &b->samples[i];
        double dt;

        if (i <= prev)
            continue;
        prev = i;
        dt = (double)(z->time_ms - a->time_ms) / 1000;
        if (dt <= 0)
            continue;
        pts[k].t = ((double)a->time_ms + (double)z->time_ms) / 2;
        /* Counters that went backwards (a restarted source) rate 0. */
        pts[k].msgs = z->messages > a->messages
                          ? (double)(z->messages - a->messages) / dt
                          : 0;
        pts[k].bytes =
            z->bytes > a->bytes ? (double)(z->bytes - a->bytes) / dt : 0;
        k++;
    }
    return k;
}

/* Plot area inside the SVG's 760x260 view box. */
#define W 760.0
#define H 260.0
#define PL 56.0
#define PR 64.0
#define PT 14.0
#define PB 30.0

void
mf__report_svg_throughput(struct mf_buf *out, const struct mf_report_batch *b) {
    struct point pts[CHART_POINTS];
    size_t k = rates(b, pts);
    double t0, t1, max_m = 0, max_b = 0, step_m, step_b, top_m, top_b;
    double pw = W - PL - PR, ph = H - PT - PB;
    int64_t tstep;
    char lab[32];

    if (k < 1) {
        mf_buf_append_str(out, "<div class=\"empty\">No throughput samples "
                               "were recorded for this batch.</div>");
        return;
    }
    /* Samples should come in time order; the axis holds them anyway. */
    t0 = t1 = (double)b->samples[0].time_ms;
    for (size_t i = 1; i < b->n_samples; i++) {
        t0 = fmin(t0, (double)b->samples[i].time_ms);
        t1 = fmax(t1, (double)b->samples[i].time_ms);
    }
    for (size_t i = 0; i < k; i++) {
        max_m = fmax(max_m, pts[i].msgs);
        max_b = fmax(max_b, pts[i].bytes / 1048576.0);
    }
    step_m = nice_step(max_m, 4);
    top_m = step_m * fmax(1, ceil(max_m / step_m - 1e-9));
    /* The MiB/s axis uses as many steps as the messages axis, so that
     * both share the grid lines. */
    step_b = nice_step(max_b, (int)llround(top_m / step_m));
    top_b = step_b * llround(top_m / step_m);
    if (top_b < max_b) {
        step_b = nice_step(max_b * 1.01, (int)llround(top_m / step_m));
        top_b = step_b * llround(top_m / step_m);
    }

#define X(t) (PL + ((t)-t0) / (t1 - t0) * pw)
#define YM(v) (PT + ph - (v) / top_m * ph)
#define YB(v) (PT + ph - (v) / top_b * ph)

    mf_buf_appendf(out,
                   "<svg class=\"tp\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                   "aria-label=\"Throughput over time\">"
                   "<defs><linearGradient id=\"tpfill\" x1=\"0\" y1=\"0\" "
                   "x2=\"0\" y2=\"1\"><stop offset=\"0\" "
                   "stop-color=\"#3b82f6\" stop-opacity=\"0.28\"/>"
                   "<stop offset=\"1\" stop-color=\"#3b82f6\" "
                   "stop-opacity=\"0.02\"/></linearGradient></defs>",
                   W, H);
    /* Horizontal grid with both axes' labels. */
    for (long long i = 0; i <= llround(top_m / step_m); i++) {
        double y = YM(step_m * (double)i);

        mf_buf_appendf(out,
                       "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"%s\"/>",
                       PL, PL + pw, y, y, i == 0 ? "#cbd5e1" : "#eef2f7");
        axis_label(lab, sizeof(lab), step_m * (double)i, step_m);
        mf_buf_appendf(out,
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                       "class=\"ax\">%s</text>",
                       PL - 8, y + 4, lab);
        axis_label(lab, sizeof(lab), step_b * (double)i, step_b);
        mf_buf_appendf(out,
                       "<text x=\"%.1f\" y=\"%.1f\" class=\"ax ax2\">%s</text>",
                       PL + pw + 8, y + 4, lab);
    }
    mf_buf_appendf(out,
                   "<text x=\"12\" y=\"%.1f\" class=\"axt\" "
                   "transform=\"rotate(-90 12 %.1f)\" "
                   "text-anchor=\"middle\">messages/s</text>"
                   "<text x=\"%.1f\" y=\"%.1f\" class=\"axt ax2\" "
                   "transform=\"rotate(90 %.1f %.1f)\" "
                   "text-anchor=\"middle\">MiB/s</text>",
                   PT + ph / 2, PT + ph / 2, W - 10, PT + ph / 2, W - 10,
                   PT + ph / 2);

    /* Time ticks on round UTC times (ms). */
    if (t1 > t0) {
        int64_t span = (int64_t)(t1 - t0);
        int64_t first;

        tstep = time_step(span);
        /* Below a second the ticks count from the start. */
        first = tstep < 1000 ? (int64_t)t0
                             : ((int64_t)t0 + tstep - 1) / tstep * tstep;
        for (int64_t t = first; (double)t <= t1; t += tstep) {
            double x = X((double)t);

            time_label(lab, sizeof(lab), t, (int64_t)t0, tstep);
            mf_buf_appendf(out,
                           "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                           "y2=\"%.1f\" stroke=\"#cbd5e1\"/>"
                           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                           "class=\"ax\">%s</text>",
                           x, x, PT + ph, PT + ph + 4, x, PT + ph + 18, lab);
        }
    }

    /* Messages/s: a filled area under a line. */
    if (k == 1) {
        /* One interval: a flat line across it. */
        pts[1] = pts[0];
        pts[0].t = t0;
        pts[1].t = t1;
        k = 2;
    }
    mf_buf_appendf(out, "<path d=\"M%.1f,%.1f", X(pts[0].t), PT + ph);
    for (size_t i = 0; i < k; i++)
        mf_buf_appendf(out, " L%.1f,%.1f", X(pts[i].t), YM(pts[i].msgs));
    mf_buf_appendf(out, " L%.1f,%.1f Z\" fill=\"url(#tpfill)\"/>",
                   X(pts[k - 1].t), PT + ph);
    mf_buf_append_str(out, "<path d=\"");
    for (size_t i = 0; i < k; i++)
        mf_buf_appendf(out, "%s%.1f,%.1f", i ? " L" : "M", X(pts[i].t),
                       YM(pts[i].msgs));
    mf_buf_append_str(out, "\" fill=\"none\" stroke=\"#2563eb\" "
                           "stroke-width=\"2\" stroke-linejoin=\"round\"/>");
    /* MiB/s: a dashed line on the right-hand axis. */
    mf_buf_append_str(out, "<path d=\"");
    for (size_t i = 0; i < k; i++)
        mf_buf_appendf(out, "%s%.1f,%.1f", i ? " L" : "M", X(pts[i].t),
                       YB(pts[i].bytes / 1048576.0));
    mf_buf_append_str(out, "\" fill=\"none\" stroke=\"#a855f7\" "
                           "stroke-width=\"1.6\" stroke-dasharray=\"5 4\" "
                           "stroke-linejoin=\"round\"/></svg>");
#undef X
#undef YM
#undef YB
}
