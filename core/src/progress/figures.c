/*
 * From a snapshot of a batch's counters to the figures a person watches
 * (mailferry/progress.h): no I/O, no clock (times come in).
 *
 * The rate is taken over a sliding window: the meter keeps the done
 * counters of the last MF_PROGRESS_SAMPLES snapshots in a ring, and the
 * rate is the difference between the newest sample and the oldest one
 * still inside the window, over the time between them. A window rather
 * than the average since the start, because a batch's speed changes
 * (caps fill, a big mailbox ends, a server throttles) and an ETA from
 * the whole run's average would lag behind; a window rather than the
 * last two samples, because workers publish progress every few seconds
 * and two samples one second apart often see no change at all.
 */
#include "mailferry/progress.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

void
mf_progress_snapshot_clear(struct mf_progress_snapshot *s) {
    for (size_t i = 0; i < s->n_inflight; i++)
        free(s->inflight[i].email);
    free(s->inflight);
    memset(s, 0, sizeof(*s));
}

void
mf_progress_snapshot_add_running(struct mf_progress_snapshot *s,
                                 const struct mf_progress_mailbox *m) {
    s->running_n++;
    s->messages_done += m->messages_done;
    s->bytes_done += m->bytes_done;
    s->run_messages_left += m->messages_total > m->messages_done
                                ? m->messages_total - m->messages_done
                                : 0;
    if (m->bytes_total)
        s->run_bytes_left +=
            m->bytes_total > m->bytes_done ? m->bytes_total - m->bytes_done : 0;
    else if (m->messages_total > m->messages_done)
        s->run_unsized_left += m->messages_total - m->messages_done;
    /* Folders are listed one by one as the job reaches them: until the
     * last is, the job's total still grows. Before its first progress a
     * job has no plan at all: its size is as unknown as a queued one's. */
    if (!m->folders_total && !m->messages_total)
        s->run_unplanned++;
    else if (m->folders_done + 1 < m->folders_total)
        s->listing = true;
    if (m->conns.waiting != MF_MIGRATE_WAIT_NONE)
        s->run_waiting++;
    mf_progress_snapshot_add_inflight(s, m);
}

void
mf_progress_snapshot_add_inflight(struct mf_progress_snapshot *s,
                                  const struct mf_progress_mailbox *m) {
    struct mf_progress_mailbox *c;

    if (s->n_inflight >= MF_PROGRESS_INFLIGHT_MAX)
        return;
    s->inflight =
        mf_xreallocarray(s->inflight, s->n_inflight + 1, sizeof(*s->inflight));
    c = &s->inflight[s->n_inflight++];
    *c = *m;
    c->email = mf_xstrdup(m->email ? m->email : "");
}

/* ------------------------------------------------------------------ */
/* Meter                                                               */
/* ------------------------------------------------------------------ */

void
mf_progress_meter_init(struct mf_progress_meter *m, double window_s) {
    memset(m, 0, sizeof(*m));
    m->window_s = window_s > 0 ? window_s : MF_PROGRESS_WINDOW_S;
    m->first = -1;
}

/* The i-th sample, oldest first. */
static size_t
at(const struct mf_progress_meter *m, size_t i) {
    return (m->head + MF_PROGRESS_SAMPLES - m->n + i) % MF_PROGRESS_SAMPLES;
}

void
mf_progress_meter_add(struct mf_progress_meter *m, double t, uint64_t messages,
                      uint64_t bytes) {
    if (m->first < 0)
        m->first = t;
    if (m->n) {
        size_t last = at(m, m->n - 1);
        if (messages < m->s[last].messages || bytes < m->s[last].bytes)
            m->n = 0; /* went back: start the window again */
    }
    m->s[m->head].t = t;
    m->s[m->head].messages = messages;
    m->s[m->head].bytes = bytes;
    m->head = (m->head + 1) % MF_PROGRESS_SAMPLES;
    if (m->n < MF_PROGRESS_SAMPLES)
        m->n++;
}

/* Rate between the newest sample and the oldest one inside the window;
 * false with fewer than two samples or less than half a second apart. */
static bool
meter_rate(const struct mf_progress_meter *m, double *mps_r, double *bps_r) {
    size_t newest, oldest;
    double dt;

    if (m->n < 2)
        return false;
    newest = at(m, m->n - 1);
    oldest = at(m, 0);
    for (size_t i = 0; i + 1 < m->n; i++) {
        size_t k = at(m, i);
        if (m->s[newest].t - m->s[k].t <= m->window_s) {
            oldest = k;
            break;
        }
        oldest = at(m, i + 1);
    }
    dt = m->s[newest].t - m->s[oldest].t;
    if (dt < 0.5)
        return false;
    *mps_r = (double)(m->s[newest].messages - m->s[oldest].messages) / dt;
    *bps_r = (double)(m->s[newest].bytes - m->s[oldest].bytes) / dt;
    return true;
}

/* ------------------------------------------------------------------ */
/* Figures                                                             */
/* ------------------------------------------------------------------ */

/* An estimated total is a lower bound: it never reads as all done. */
static void
set_percent(struct mf_progress_total *t) {
    if (!t->known)
        t->percent = 0;
    else if (!t->planned)
        t->percent = 100.0;
    else
        t->percent = 100.0 * (double)t->done / (double)t->planned;
    if (t->estimated && t->percent > 99.0)
        t->percent = 99.0;
}

/* Planned = done + left, left being the running jobs' remainder, the
 * measured queued mailboxes' sizes and the average for the others. */
static void
total(struct mf_progress_total *t, uint64_t done, uint64_t run_left,
      bool listing, uint64_t queued_unsized, uint64_t queued_size,
      uint64_t sized, uint64_t sized_sum) {
    uint64_t left = run_left + queued_size;

    memset(t, 0, sizeof(*t));
    t->done = done;
    t->known = true;
    t->estimated = listing;
    if (queued_unsized) {
        if (!sized) {
            t->known = false;
        } else {
            /* Rounded to the nearest whole message or byte. */
            left += (uint64_t)((double)sized_sum / (double)sized *
                                   (double)queued_unsized +
                               0.5);
            t->estimated = true;
        }
    }
    t->planned = done + left;
    /* Nothing planned yet but more to come: not "0 of 0, 100 %". */
    if (t->estimated && !t->planned)
        t->known = false;
    set_percent(t);
}

/* Running jobs that did not say their bytes: their messages left at the
 * average message size measured (or copied so far), an estimate. */
static void
unsized_bytes(struct mf_progress_total *t,
              const struct mf_progress_snapshot *s) {
    double avg =
        s->sized_messages  ? (double)s->sized_bytes / (double)s->sized_messages
        : s->messages_done ? (double)s->bytes_done / (double)s->messages_done
                           : -1;

    if (avg < 0) {
        t->known = false;
        t->percent = 0;
        return;
    }
    t->planned += (uint64_t)(avg * (double)s->run_unsized_left + 0.5);
    t->estimated = true;
    set_percent(t);
}

static double
left_of(const struct mf_progress_total *t) {
    return (double)(t->planned - t->done);
}

void
mf_progress_figures_compute(const struct mf_progress_snapshot *s,
                            const struct mf_progress_meter *m,
                            struct mf_progress_figures *f) {
    uint64_t unsized =
        (s->queued > s->queued_sized ? s->queued - s->queued_sized : 0) +
        s->run_unplanned;
    double eta = 0;
    bool any = false;

    memset(f, 0, sizeof(*f));
    f->mailboxes = s->mailboxes;
    f->finished = s->finished;
    f->failed = s->failed;
    f->running = s->running_n;
    f->queued = s->queued;
    total(&f->messages, s->messages_done, s->run_messages_left, s->listing,
          unsized, s->queued_messages, s->sized, s->sized_messages);
    total(&f->bytes, s->bytes_done, s->run_bytes_left, s->listing, unsized,
          s->queued_bytes, s->sized, s->sized_bytes);
    if (s->run_unsized_left)
        unsized_bytes(&f->bytes, s);
    if (m && m->first >= 0 && s->at > m->first)
        f->elapsed_s = s->at - m->first;
    if (!m || !meter_rate(m, &f->messages_per_s, &f->bytes_per_s))
        return;
    f->rate_known = true;
    /* The slower of the two decides, as in plan's estimates: a mailbox
     * of many small messages is not done when its bytes are. */
    if (f->messages.known &&
        (f->messages_per_s > 0 || !left_of(&f->messages))) {
        eta = f->messages_per_s > 0 ? left_of(&f->messages) / f->messages_per_s
                                    : 0;
        any = true;
    }
    if (f->bytes.known && (f->bytes_per_s > 0 || !left_of(&f->bytes))) {
        double b = f->bytes_per_s > 0 ? left_of(&f->bytes) / f->bytes_per_s : 0;
        eta = any && eta > b ? eta : b;
        any = true;
    }
    f->eta_known = any;
    f->eta_s = any ? eta : 0;
}
