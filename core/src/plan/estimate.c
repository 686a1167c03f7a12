/*
 * Estimates from test batches (mailferry/plan.h): pure arithmetic, no
 * I/O, so that every figure `plan --from-batch` prints can be checked by
 * hand and by the table-driven unit tests.
 *
 * The model. A mailbox is copied over one source connection at a time
 * (the engine's reader; the target side keeps pace), so a test batch
 * measures what one mailbox connection achieves: the copied bytes and
 * messages of its Synced mailboxes divided by the sum of their
 * durations. A planned mailbox then takes the larger of its bytes and its
 * messages at those rates; N connections run N mailboxes side by side, so
 * the batch takes work / N, but never less than its longest mailbox,
 * which no number of connections splits.
 */
#include "mailferry/plan.h"

#include "mailferry/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Past the suggestion, more connections buy less than this. */
#define GAIN_THRESHOLD 1.10
#define MAX_CONNECTION_COUNTS 64
#define MAX_CONNECTIONS 100000

static void
rate_update(struct mf_estimate_rate *r) {
    r->bytes_per_second = r->seconds > 0 ? (double)r->bytes / r->seconds : 0;
    r->messages_per_second =
        r->seconds > 0 ? (double)r->messages / r->seconds : 0;
}

void
mf_estimate_rate_add(struct mf_estimate_rate *r, bool synced, uint64_t bytes,
                     uint64_t messages, double seconds) {
    /* A mailbox without a duration (or one that did not finish) says
     * nothing about speed; counting its bytes would make it infinite. */
    if (!synced || !(seconds > 0)) {
        r->ignored++;
        return;
    }
    r->mailboxes++;
    r->bytes += bytes;
    r->messages += messages;
    r->seconds += seconds;
    rate_update(r);
}

void
mf_estimate_rate_merge(struct mf_estimate_rate *a,
                       const struct mf_estimate_rate *b) {
    a->mailboxes += b->mailboxes;
    a->ignored += b->ignored;
    a->bytes += b->bytes;
    a->messages += b->messages;
    a->seconds += b->seconds;
    if (b->peak_concurrency > a->peak_concurrency)
        a->peak_concurrency = b->peak_concurrency;
    rate_update(a);
}

double
mf_estimate_mailbox_seconds(const struct mf_estimate_rate *r, uint64_t bytes,
                            uint64_t messages) {
    double t = 0;

    if (r->bytes_per_second > 0)
        t = (double)bytes / r->bytes_per_second;
    if (r->messages_per_second > 0) {
        double tm = (double)messages / r->messages_per_second;
        if (tm > t)
            t = tm;
    }
    return t;
}

/* ------------------------------------------------------------------ */
/* Peak concurrency                                                    */
/* ------------------------------------------------------------------ */

struct event {
    int64_t t;
    int delta; /* +1 start, -1 end */
};

static int
event_cmp(const void *a, const void *b) {
    const struct event *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    /* [start, end): an end at t frees its slot before a start at t. */
    return x->delta - y->delta;
}

uint32_t
mf_estimate_peak_overlap(const struct mf_estimate_interval *v, size_t n) {
    struct event *ev;
    size_t m = 0;
    int cur = 0, peak = 0;
    bool any = false;

    if (n == 0)
        return 0;
    ev = mf_xcalloc(2 * n, sizeof(*ev));
    for (size_t i = 0; i < n; i++) {
        if (v[i].start <= 0)
            continue; /* never started */
        any = true;
        /* Records have whole seconds: a mailbox that started and ended
         * within one second has an empty interval and overlaps nothing
         * we can see. */
        if (v[i].end <= v[i].start)
            continue;
        ev[m++] = (struct event){v[i].start, +1};
        ev[m++] = (struct event){v[i].end, -1};
    }
    if (m)
        qsort(ev, m, sizeof(*ev), event_cmp);
    for (size_t i = 0; i < m; i++) {
        cur += ev[i].delta;
        if (cur > peak)
            peak = cur;
    }
    free(ev);
    if (peak == 0 && any)
        peak = 1;
    return (uint32_t)peak;
}

/* ------------------------------------------------------------------ */
/* The estimate                                                        */
/* ------------------------------------------------------------------ */

static int
uint_cmp(const void *a, const void *b) {
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static double
time_at(double work, double longest, unsigned n) {
    double t = work / (double)n;
    return t > longest ? t : longest;
}

/* Cuts the jobs, in order, into consecutive batches that each finish
 * within the window at n connections. */
static void
cut_windows(const double *t, size_t n_jobs, unsigned conns,
            struct mf_estimate_window *w) {
    double work = 0, longest = 0;
    uint64_t cur = 0;

    for (size_t i = 0; i < n_jobs; i++) {
        double nw = work + t[i], nl = longest > t[i] ? longest : t[i];
        if (t[i] > w->seconds)
            w->too_long++;
        if (cur > 0 && time_at(nw, nl, conns) > w->seconds) {
            if (cur > w->largest_batch)
                w->largest_batch = cur;
            w->batches++;
            cur = 0;
            nw = t[i];
            nl = t[i];
        }
        work = nw;
        longest = nl;
        cur++;
    }
    if (cur > 0) {
        if (cur > w->largest_batch)
            w->largest_batch = cur;
        w->batches++;
    }
}

mf_err
mf_estimate_compute(const struct mf_estimate_rate *rate,
                    const struct mf_estimate_job *jobs, size_t n,
                    const unsigned *conns, size_t n_conns,
                    unsigned max_connections, double window_seconds,
                    struct mf_estimate *est_r, struct mf_error *err) {
    static const unsigned defaults[] = MF_ESTIMATE_DEFAULT_CONNECTIONS;
    struct mf_estimate est = {0};
    unsigned *c;
    size_t nc = 0;
    double *t = NULL, best;
    size_t best_i = 0;
    bool any_allowed = false;

    if (!(rate->bytes_per_second > 0) && !(rate->messages_per_second > 0))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "no throughput measured: the test batches have "
                            "no Synced mailbox with a duration");
    if (!conns || n_conns == 0) {
        conns = defaults;
        n_conns = MF_ARRAY_LEN(defaults);
    }
    c = mf_xcalloc(n_conns + 1, sizeof(*c));
    for (size_t i = 0; i < n_conns; i++) {
        if (conns[i] == 0 || conns[i] > MAX_CONNECTIONS) {
            free(c);
            return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                                "connection counts are 1 to %u",
                                MAX_CONNECTIONS);
        }
        c[nc++] = conns[i];
    }
    /* The admin's limit is always one of the rows: it is the answer
     * when the time keeps falling up to it. */
    if (max_connections)
        c[nc++] = max_connections;
    qsort(c, nc, sizeof(*c), uint_cmp);
    {
        size_t w = 0;
        for (size_t i = 0; i < nc; i++)
            if (w == 0 || c[w - 1] != c[i])
                c[w++] = c[i];
        nc = w;
    }

    est.n_mailboxes = n;
    t = mf_xcalloc(n ? n : 1, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        t[i] =
            mf_estimate_mailbox_seconds(rate, jobs[i].bytes, jobs[i].messages);
        est.bytes += jobs[i].bytes;
        est.messages += jobs[i].messages;
        est.work_seconds += t[i];
        if (t[i] > est.longest_seconds) {
            est.longest_seconds = t[i];
            est.longest_index = i;
        }
    }

    est.points = mf_xcalloc(nc, sizeof(*est.points));
    est.n_points = nc;
    for (size_t i = 0; i < nc; i++) {
        struct mf_estimate_point *p = &est.points[i];
        p->connections = c[i];
        p->seconds = time_at(est.work_seconds, est.longest_seconds, c[i]);
        p->floor =
            n > 0 && est.longest_seconds >= est.work_seconds / (double)c[i];
        p->extrapolated =
            rate->peak_concurrency && c[i] > rate->peak_concurrency;
        p->over_limit = max_connections && c[i] > max_connections;
        if (!p->over_limit) {
            best_i = i;
            any_allowed = true;
        }
    }
    MF_ASSERT(any_allowed);
    best = est.points[best_i].seconds;
    est.suggested_connections = est.points[best_i].connections;
    for (size_t i = 0; i <= best_i; i++)
        if (est.points[i].seconds <= best * GAIN_THRESHOLD + 1e-9) {
            est.suggested_connections = est.points[i].connections;
            break;
        }

    if (window_seconds > 0) {
        struct mf_estimate_window *w = &est.window;
        unsigned k = est.suggested_connections;
        double avg = n ? est.work_seconds / (double)n : 0;

        w->seconds = window_seconds;
        w->connections = k;
        w->bytes_per_window = window_seconds * k * rate->bytes_per_second;
        if (avg > 0)
            w->per_window = (uint64_t)floor(window_seconds * k / avg);
        else
            w->per_window = n;
        cut_windows(t, n, k, w);
    }
    free(t);
    free(c);
    *est_r = est;
    return MF_E_OK;
}

void
mf_estimate_clear(struct mf_estimate *est) {
    free(est->points);
    memset(est, 0, sizeof(*est));
}

mf_err
mf_estimate_parse_connections(const char *s, unsigned **v_r, size_t *n_r,
                              struct mf_error *err) {
    unsigned *v = mf_xcalloc(MAX_CONNECTION_COUNTS, sizeof(*v));
    size_t n = 0;
    const char *p = s;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char num[16];
        uint64_t x;

        if (len == 0 || len >= sizeof(num) || n == MAX_CONNECTION_COUNTS)
            goto bad;
        memcpy(num, p, len);
        num[len] = '\0';
        if (!mf_parse_u64(num, 1, MAX_CONNECTIONS, &x))
            goto bad;
        v[n++] = (unsigned)x;
        if (!end)
            break;
        p = end + 1;
    }
    *v_r = v;
    *n_r = n;
    return MF_E_OK;
bad:
    free(v);
    return mf_error_set(err, MF_E_USAGE,
                        "--connections wants up to %d counts from 1 to %d "
                        "separated by commas, not \"%s\"",
                        MAX_CONNECTION_COUNTS, MAX_CONNECTIONS, s);
}
