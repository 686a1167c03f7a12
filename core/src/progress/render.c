/*
 * The figures as text (mailferry/progress.h): the display's lines, each
 * no wider than the terminal, and the one-line summary that logs and
 * pipes get. Pure: no I/O.
 *
 * Widths are terminal columns as mf_utf8_fit() counts them (an
 * internationalised address, RFC 6531, may hold wide characters); a line
 * is never cut inside a UTF-8 sequence, so a terminal never sees half a
 * character. Sizes and durations are written by plan's formatters, as
 * `plan` prints them.
 */
#include "mailferry/progress.h"

#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BAR 10
#define EMAIL_COLS 32

/* Appends to a fixed buffer, as snprintf would, never past its end. */
struct text {
    char *p;
    size_t n, len;
};

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...) {
    va_list ap;
    int w;

    if (t->len >= t->n)
        return;
    va_start(ap, fmt);
    w = vsnprintf(t->p + t->len, t->n - t->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        t->len += (size_t)w < t->n - t->len ? (size_t)w : t->n - t->len - 1;
}

static const char *
bytes(char *out, size_t n, uint64_t v) {
    mf_plan_format_bytes(out, n, v);
    return out;
}

/* "120/~400 (30%)", "120/?" */
static void
messages_figure(struct text *t, const struct mf_progress_total *m) {
    put(t, "%llu/", (unsigned long long)m->done);
    if (!m->known) {
        put(t, "?");
        return;
    }
    put(t, "%s%llu (%d%%)", m->estimated ? "~" : "",
        (unsigned long long)m->planned, (int)m->percent);
}

static void
bytes_figure(struct text *t, const struct mf_progress_total *b) {
    char a[32], p[32];

    put(t, "%s/", bytes(a, sizeof(a), b->done));
    if (b->known)
        put(t, "%s%s", b->estimated ? "~" : "",
            bytes(p, sizeof(p), b->planned));
    else
        put(t, "?");
}

static void
rate_eta(struct text *t, const struct mf_progress_figures *f, bool estimated,
         const char *sep) {
    char a[32];

    if (f->rate_known)
        put(t, "%.1f msgs/s, %s/s", f->messages_per_s,
            bytes(a, sizeof(a), (uint64_t)f->bytes_per_s));
    else
        put(t, "rate -");
    put(t, "%sETA ", sep);
    if (f->eta_known) {
        mf_plan_format_duration(a, sizeof(a), f->eta_s);
        put(t, "%s%s", estimated ? "~" : "", a);
    } else {
        put(t, "-");
    }
}

static void
mailboxes_figure(struct text *t, const struct mf_progress_figures *f) {
    put(t, "mailboxes %llu/%llu done", (unsigned long long)f->finished,
        (unsigned long long)f->mailboxes);
    if (f->failed)
        put(t, " (%llu failed)", (unsigned long long)f->failed);
    put(t, ", %llu running, %llu queued", (unsigned long long)f->running,
        (unsigned long long)f->queued);
}

static void
connections(struct text *t, const struct mf_progress_snapshot *s,
            const char *sep) {
    char w[32];

    if (s->source.counted || s->target.counted)
        put(t,
            "connections source %u held, %u waiting%starget %u held, %u "
            "waiting",
            s->source.held, s->source.waiting, sep, s->target.held,
            s->target.waiting);
    else
        put(t, "connections not counted (no caps)");
    if (s->run_waiting)
        put(t, "%s%llu mailbox%s waiting for a slot", sep,
            (unsigned long long)s->run_waiting,
            s->run_waiting == 1 ? "" : "es");
    mf_plan_format_duration(w, sizeof(w), (double)s->lease_wait_ms / 1000.0);
    put(t, "%swaited %s", sep, w);
}

void
mf_progress_wait_text(const struct mf_migrate_conns *c, char *out, size_t n) {
    struct text t = {out, n, 0};
    char d[32];

    MF_ASSERT(n > 0);
    out[0] = '\0';
    if (c->waiting == MF_MIGRATE_WAIT_NONE)
        return;
    mf_plan_format_duration(d, sizeof(d), (double)c->waiting_ms / 1000.0);
    put(&t, "waiting for a %s %s", mf_migrate_wait_name(c->waiting),
        c->waiting == MF_MIGRATE_WAIT_MAILBOX ? "slot" : "connection slot");
    if (c->cap != MF_CAPS_CAP_NONE)
        put(&t, " (%s cap full)", mf_caps_cap_name(c->cap));
    put(&t, " %s", d);
}

static bool
estimated(const struct mf_progress_figures *f) {
    return f->messages.estimated || f->bytes.estimated;
}

void
mf_progress_summary(const struct mf_progress_snapshot *s,
                    const struct mf_progress_figures *f, char *out, size_t n) {
    struct text t = {out, n, 0};

    MF_ASSERT(n > 0);
    out[0] = '\0';
    put(&t, "progress: ");
    mailboxes_figure(&t, f);
    put(&t, "; messages ");
    messages_figure(&t, &f->messages);
    put(&t, "; bytes ");
    bytes_figure(&t, &f->bytes);
    put(&t, "; ");
    rate_eta(&t, f, estimated(f), "; ");
    put(&t, "; ");
    connections(&t, s, ", ");
}

/* ------------------------------------------------------------------ */
/* The display                                                         */
/* ------------------------------------------------------------------ */

struct lines {
    struct mf_progress_lines *out;
    unsigned width;
};

static void
emit(struct lines *l, const char *text) {
    struct mf_progress_lines *o = l->out;

    if (o->n >= MF_PROGRESS_LINES_MAX)
        return;
    (void)mf_utf8_fit(o->line[o->n], sizeof(o->line[o->n]), text, l->width);
    o->n++;
}

static void
inflight_line(struct lines *l, const struct mf_progress_mailbox *m) {
    char buf[MF_PROGRESS_WIDTH_MAX * 4 + 1], email[EMAIL_COLS * 4 + 1];
    char a[128], b[32];
    struct text t = {buf, sizeof(buf), 0};
    unsigned cols = l->width / 3 < EMAIL_COLS ? l->width / 3 : EMAIL_COLS;
    int fill =
        m->messages_total
            ? (int)((double)m->messages_done * BAR / (double)m->messages_total)
            : 0;
    size_t cps = mf_utf8_fit(email, sizeof(email), m->email, cols);

    fill = fill > BAR ? BAR : fill;
    put(&t, "  %s%*s [%.*s%.*s] ", email, (int)(cols > cps ? cols - cps : 0),
        "", fill, "##########", BAR - fill, "..........");
    /* A wait first: it is what a person looks for, and the end of a
     * line may be cut at the terminal's width. */
    if (m->conns.waiting != MF_MIGRATE_WAIT_NONE) {
        mf_progress_wait_text(&m->conns, a, sizeof(a));
        put(&t, "%s, ", a);
    }
    put(&t, "%llu/%llu msgs, %s", (unsigned long long)m->messages_done,
        (unsigned long long)m->messages_total,
        bytes(a, sizeof(a), m->bytes_done));
    if (m->bytes_total)
        put(&t, "/%s", bytes(b, sizeof(b), m->bytes_total));
    put(&t, ", folders %u/%u", m->folders_done, m->folders_total);
    if (m->seconds > 0 && m->messages_done)
        put(&t, ", %.1f msgs/s", (double)m->messages_done / m->seconds);
    if (m->attempt > 1)
        put(&t, ", attempt %u", m->attempt);
    if (m->conns.source_held || m->conns.target_held)
        put(&t, ", holds %u source + %u target connection%s",
            m->conns.source_held, m->conns.target_held,
            m->conns.source_held + m->conns.target_held == 1 ? "" : "s");
    emit(l, buf);
}

void
mf_progress_render(const struct mf_progress_snapshot *s,
                   const struct mf_progress_figures *f, unsigned width,
                   unsigned height, struct mf_progress_lines *out) {
    char buf[MF_PROGRESS_WIDTH_MAX * 4 + 1], d[32];
    struct text t;
    struct lines l = {out, width};
    size_t room, shown;

    l.width = width < 20                      ? 20
              : width > MF_PROGRESS_WIDTH_MAX ? MF_PROGRESS_WIDTH_MAX
                                              : width;
    height = height < 4                       ? 4
             : height > MF_PROGRESS_LINES_MAX ? MF_PROGRESS_LINES_MAX
                                              : height;
    out->n = 0;

    t = (struct text){buf, sizeof(buf), 0};
    mf_plan_format_duration(d, sizeof(d), f->elapsed_s);
    put(&t, "batch %s: %s%s, ", s->batch, s->state,
        s->stopping ? " (stopping at a message boundary)" : "");
    mailboxes_figure(&t, f);
    put(&t, ", %s", d);
    emit(&l, buf);

    t = (struct text){buf, sizeof(buf), 0};
    put(&t, "messages ");
    messages_figure(&t, &f->messages);
    put(&t, ", bytes ");
    bytes_figure(&t, &f->bytes);
    put(&t, ", ");
    rate_eta(&t, f, estimated(f), ", ");
    emit(&l, buf);

    t = (struct text){buf, sizeof(buf), 0};
    connections(&t, s, "; ");
    emit(&l, buf);

    /* The mailboxes in flight, as many as the height leaves room for;
     * the last line counts the rest when not all fit. */
    room = height - out->n;
    shown = s->n_inflight <= room && s->running_n <= room
                ? s->n_inflight
                : (room > 1 ? room - 1 : 0);
    if (shown > s->n_inflight)
        shown = s->n_inflight;
    for (size_t i = 0; i < shown; i++)
        inflight_line(&l, &s->inflight[i]);
    if (s->running_n > shown) {
        t = (struct text){buf, sizeof(buf), 0};
        put(&t, "  ... %llu more in flight",
            (unsigned long long)(s->running_n - shown));
        emit(&l, buf);
    }
}
