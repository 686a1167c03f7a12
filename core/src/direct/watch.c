/*
 * The --direct run's watcher (direct_int.h): every 100 ms it prints the
 * lines of the mailboxes that finished; once a second it records a
 * throughput sample for the report and feeds the progress view `migrate`
 * shows (mf_progress_view_open(): the display redrawn in place on a
 * terminal, else a `progress:` summary line every interval on stdout;
 * the same snapshot fields, figures and renderer), so both paths show
 * one picture. The snapshot is made from the threads' live counters
 * (struct mf_migrate_progress) the way progress/read.c makes it from the
 * batch records: done is what finished mailboxes copied plus what running
 * ones handled so far, left is what running ones listed and have not
 * handled; mailboxes not started are estimated from the finished ones'
 * source sizes. Connections are counted when the run has caps (without
 * them nothing takes a lease): this run's, from its threads' live
 * progress (held, and the mailboxes waiting for a slot on each side),
 * not the fleet's that `migrate` reads from Redis.
 *
 * The lines are printed here, by this one thread, rather than by the
 * copying threads: a line printed between two draws would be overdrawn
 * by the next one unless the display is erased first.
 */
#include "direct_int.h"

#include "mailferry/progress.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
add_running(struct mf_progress_snapshot *s, const struct mf__direct_outcome *o,
            double now, double *since) {
    const struct mf_migrate_progress *p = o->progress;
    struct mf_progress_mailbox m = {
        .email = (char *)o->email,
        .messages_done = atomic_load(&p->messages_done),
        .messages_total = atomic_load(&p->messages_total),
        .bytes_done = atomic_load(&p->bytes_done),
        .bytes_total = atomic_load(&p->bytes_total),
        .folders_done = atomic_load(&p->folders_done),
        .folders_total = atomic_load(&p->folders_total),
        .attempt = 1,
    };

    if (*since <= 0)
        *since = now;
    m.seconds = now - *since;
    mf_migrate_progress_conns(p, &m.conns);
    mf_progress_snapshot_add_running(s, &m);
    s->source.held += m.conns.source_held;
    s->target.held += m.conns.target_held;
    s->source.waiting += m.conns.waiting == MF_MIGRATE_WAIT_SOURCE;
    s->target.waiting += m.conns.waiting == MF_MIGRATE_WAIT_TARGET;
}

static void
add_finished(struct mf_progress_snapshot *s,
             const struct mf__direct_outcome *o) {
    const struct mf_migrate_stats *st = &o->result.stats;

    s->finished++;
    if (o->result.error.code != MF_E_OK)
        s->failed++;
    s->messages_done += st->messages_copied;
    s->bytes_done += st->bytes_copied;
    s->sized++;
    s->sized_messages += st->messages_source;
    s->sized_bytes += st->bytes_source;
    s->lease_wait_ms += st->lease_wait_ms;
}

/* The snapshot of the run now; under w->mu. since[i]: when mailbox i was
 * first seen running, for its rate. */
static void
snapshot(const struct mf__direct_watch *w, bool stopping, double *since,
         struct mf_progress_snapshot *s) {
    double now = mf_monotonic_s();

    mf_progress_snapshot_clear(s);
    s->at = now;
    snprintf(s->batch, sizeof(s->batch), "%s", w->batch ? w->batch : "direct");
    s->mailboxes = w->n;
    s->source.counted = s->target.counted = w->caps;
    for (size_t i = 0; i < w->n; i++) {
        const struct mf__direct_outcome *o = &w->v[i];
        if (atomic_load(&o->done))
            add_finished(s, o);
        else if (atomic_load(&o->started) && o->progress)
            add_running(s, o, now, &since[i]);
        else
            s->queued++;
    }
    s->running = s->finished < s->mailboxes && !(stopping && !s->running_n);
    s->stopping = stopping && s->running;
    snprintf(s->state, sizeof(s->state), "%s",
             s->running  ? (stopping ? "Stopping" : "Syncing")
             : stopping  ? "Stopped"
             : s->failed ? "SyncedWithErrors"
                         : "Synced");
}

/* Prints the lines of the mailboxes that finished since the last call;
 * under w->mu. */
static void
print_finished(const struct mf__direct_watch *w,
               struct mf_progress_view *view) {
    for (size_t i = 0; i < w->n; i++) {
        struct mf__direct_outcome *o = &w->v[i];
        if (o->printed || !atomic_load(&o->done))
            continue;
        o->printed = true;
        if (w->json)
            continue;
        if (view)
            mf_progress_view_clear(view);
        mf__direct_print_mailbox(stdout, o);
    }
}

static void
sample(struct mf__direct_samples *samples,
       const struct mf_progress_snapshot *s) {
    samples->v =
        mf_xreallocarray(samples->v, samples->n + 1, sizeof(*samples->v));
    samples->v[samples->n].time_ms = mf_wall_ms();
    samples->v[samples->n].messages = s->messages_done;
    samples->v[samples->n].bytes = s->bytes_done;
    samples->n++;
}

void
mf__direct_watch(const struct mf__direct_watch *w,
                 struct mf__direct_samples *samples) {
    struct mf_progress_view view, *vp = NULL;
    struct mf_progress_snapshot s = {0};
    double *since = mf_xcalloc(w->n ? w->n : 1, sizeof(*since));
    bool end = false;

    if (!w->json && mf_progress_view_open(&view, w->progress_interval_s))
        vp = &view;
    /* Nothing done yet: the chart's first rate starts here. */
    sample(samples, &s);
    while (!end) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000L};
        bool stopping = atomic_load(w->stop);

        /* Wake often for the lines and the end; sample and draw once a
         * second. */
        for (int k = 0; k < 10 && !end; k++) {
            pthread_mutex_lock(w->mu);
            print_finished(w, vp);
            end = *w->finished == w->n;
            pthread_mutex_unlock(w->mu);
            if (!end)
                nanosleep(&tick, NULL);
        }
        pthread_mutex_lock(w->mu);
        print_finished(w, vp);
        snapshot(w, stopping, since, &s);
        end = end || *w->finished == w->n || (stopping && !s.running_n);
        pthread_mutex_unlock(w->mu);
        sample(samples, &s);
        if (vp)
            mf_progress_view_update(vp, &s, end);
    }
    mf_progress_snapshot_clear(&s);
    free(since);
}
