/*
 * What the report writers share: the buffered output, UTF-8 checking,
 * time and number formats, HTML escaping and the state colours.
 */
#include "report_int.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------ */

void
mf__report_out_init(struct mf__report_out *o, FILE *f) {
    memset(o, 0, sizeof(*o));
    o->f = f;
}

static void
out_write(struct mf__report_out *o) {
    if (!o->failed && o->buf.len > 0 &&
        fwrite(o->buf.data, 1, o->buf.len, o->f) != o->buf.len)
        o->failed = true;
    mf_buf_reset(&o->buf);
}

void
mf__report_out_maybe_flush(struct mf__report_out *o) {
    if (o->buf.len >= MF__REPORT_FLUSH_AT)
        out_write(o);
}

mf_err
mf__report_out_finish(struct mf__report_out *o) {
    out_write(o);
    mf_buf_free(&o->buf);
    if (fflush(o->f) != 0 || ferror(o->f))
        o->failed = true;
    return o->failed ? MF_E_IO : MF_E_OK;
}

/* ---------------------------------------------------------------------
 * Text
 * ------------------------------------------------------------------ */

void
mf__report_html_escape(struct mf_buf *out, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0;

    while (i < n) {
        size_t run = i, len;

        /* Copy runs of harmless bytes in one go. */
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '&' &&
               s[run] != '<' && s[run] != '>' && s[run] != '"' &&
               s[run] != '\'')
            run++;
        if (run > i) {
            mf_buf_append(out, s + i, run - i);
            i = run;
            continue;
        }
        switch (s[i]) {
        case '&':
            mf_buf_append_str(out, "&amp;");
            break;
        case '<':
            mf_buf_append_str(out, "&lt;");
            break;
        case '>':
            mf_buf_append_str(out, "&gt;");
            break;
        case '"':
            mf_buf_append_str(out, "&quot;");
            break;
        case '\'':
            mf_buf_append_str(out, "&#39;");
            break;
        case '\t':
        case '\n':
        case '\r':
            mf_buf_append(out, " ", 1);
            break;
        default:
            /* Controls are not allowed in HTML text; invalid UTF-8 would
             * make the browser guess. Both become U+FFFD. */
            if (s[i] >= 0x80 && (len = mf_utf8_next(s + i, n - i, NULL))) {
                mf_buf_append(out, s + i, len);
                i += len;
                continue;
            }
            mf_buf_append_str(out, "\xef\xbf\xbd");
            break;
        }
        i++;
    }
}

/* ---------------------------------------------------------------------
 * Times and numbers
 * ------------------------------------------------------------------ */

void
mf__report_time_iso(int64_t t, char out[MF__REPORT_TIME_LEN]) {
    time_t tt = (time_t)t;
    struct tm tm;

    out[0] = '\0';
    if (t == 0 || !gmtime_r(&tt, &tm))
        return;
    strftime(out, MF__REPORT_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
mf__report_fmt_count(uint64_t v, char out[32]) {
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t k = 0;

    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
}

void
mf__report_fmt_bytes(double v, char out[32]) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;

    if (!(v > 0)) {
        snprintf(out, 32, "0 B");
        return;
    }
    while (v >= 1024 && u + 1 < MF_ARRAY_LEN(units))
        v /= 1024, u++;
    if (u == 0)
        snprintf(out, 32, "%.0f B", v);
    else
        snprintf(out, 32,
                 v < 10    ? "%.2f %s"
                 : v < 100 ? "%.1f %s"
                           : "%.0f %s",
                 v, units[u]);
}

void
mf__report_fmt_duration(double seconds, char out[32]) {
    uint64_t s, h, m;

    if (!(seconds > 0)) {
        snprintf(out, 32, "0s");
        return;
    }
    if (seconds < 10) {
        snprintf(out, 32, "%.1fs", seconds);
        return;
    }
    s = (uint64_t)llround(seconds);
    h = s / 3600, m = s / 60 % 60, s %= 60;
    if (h >= 48)
        snprintf(out, 32, "%" PRIu64 "d %02" PRIu64 "h", h / 24, h % 24);
    else if (h > 0)
        snprintf(out, 32, "%" PRIu64 "h %02" PRIu64 "m", h, m);
    else if (m > 0)
        snprintf(out, 32, "%" PRIu64 "m %02" PRIu64 "s", m, s);
    else
        snprintf(out, 32, "%" PRIu64 "s", s);
}

/* ---------------------------------------------------------------------
 * HTML pieces
 * ------------------------------------------------------------------ */

void
mf__report_html_time(struct mf_buf *out, int64_t t, bool seconds) {
    char s[40];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || !gmtime_r(&tt, &tm)) {
        mf_buf_append_str(out, "<span class=\"muted\">&mdash;</span>");
        return;
    }
    strftime(s, sizeof(s), seconds ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M",
             &tm);
    mf_buf_append_str(out, s);
}

void
mf__report_html_count(struct mf_buf *out, uint64_t v) {
    char s[32];

    mf__report_fmt_count(v, s);
    mf_buf_append_str(out, s);
}

void
mf__report_html_bytes(struct mf_buf *out, double v) {
    char s[32];

    mf__report_fmt_bytes(v, s);
    mf_buf_append_str(out, s);
}

const char *
mf__report_state_color(enum mf_report_state s) {
    switch (s) {
    case MF_REPORT_QUEUED:
        return "#94a3b8";
    case MF_REPORT_SYNCING:
        return "#3b82f6";
    case MF_REPORT_SYNCED:
        return "#14b8a6";
    case MF_REPORT_INCREMENTAL_SYNCING:
        return "#6366f1";
    case MF_REPORT_STOPPED:
        return "#f59e0b";
    case MF_REPORT_FAILED:
        return "#dc2626";
    case MF_REPORT_COMPLETED:
        return "#16a34a";
    case MF_REPORT_STATE_COUNT:
        break;
    }
    return "#64748b";
}
