/*
 * The --direct run's threads (see mailferry/direct.h): a shared index
 * over the rows, each thread taking the next one until none is left or
 * the run is stopped. A thread's own Redis connection keeps the
 * checkpoints; a connection that cannot be made fails the mailboxes that
 * thread takes, with the reason.
 */
#include "direct_int.h"
#include "mailferry/direct.h"

#include "mailferry/log.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct run {
    const struct mf_direct_options *o;
    atomic_size_t next;
    struct mf__direct_outcome *out; /* n */
    pthread_mutex_t mu;
    size_t finished;
};

static void *
worker(void *arg) {
    struct run *r = arg;
    const struct mf_direct_options *d = r->o;
    struct mf_migrate_options o = d->opts;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};

    if (d->redis_url &&
        mf_redis_connect(d->redis_url, 0, &redis, &err) != MF_E_OK) {
        mf_log_error(NULL, "redis.connect", &err);
        redis = NULL;
    }
    o.redis = redis;
    o.stop = d->stop;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        const struct mf_csv_mailbox *row;
        struct mf__direct_outcome *out;
        struct mf_migrate_login src, dst;
        char *owned[4];

        if (i >= d->n || atomic_load(d->stop))
            break;
        row = &d->rows[i];
        out = &r->out[i];
        out->email = row->email;
        d->login(d->login_ud, row, &src, &dst, owned);
        out->progress = mf_xcalloc(1, sizeof(*out->progress));
        o.progress = out->progress;
        atomic_store(&out->started, true);
        if (d->redis_url && !redis) {
            out->result.error = err;
        } else {
            mf_err rc =
                mf_migrate_mailbox(&o, row->email, &src, &dst, &out->result);
            (void)rc; /* the result holds the outcome */
        }
        for (int k = 0; k < 4; k++)
            free(owned[k]);
        pthread_mutex_lock(&r->mu);
        atomic_store(&out->done, true);
        r->finished++;
        pthread_mutex_unlock(&r->mu);
    }
    mf_redis_free(&redis);
    return NULL;
}

enum mf_direct_verdict
mf_direct_run(const struct mf_direct_options *o) {
    struct run r = {.o = o};
    struct mf__direct_samples samples = {0};
    size_t nthreads = o->concurrency < o->n ? o->concurrency : o->n;
    pthread_t *threads = mf_xcalloc(nthreads ? nthreads : 1, sizeof(*threads));
    double t0 = mf_monotonic_s();
    int64_t started_ms = mf_wall_ms();
    enum mf_direct_verdict v;

    pthread_mutex_init(&r.mu, NULL);
    r.out = mf_xcalloc(o->n ? o->n : 1, sizeof(*r.out));
    for (size_t i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker, &r) != 0) {
            fprintf(stderr, "mailferry migrate: cannot start a thread\n");
            nthreads = i;
            atomic_store(o->stop, true);
            break;
        }
    mf__direct_watch(
        &(struct mf__direct_watch){
            .mu = &r.mu,
            .v = r.out,
            .n = o->n,
            .finished = &r.finished,
            .stop = o->stop,
            .batch = o->opts.batch,
            .json = o->json,
            .caps = o->opts.caps != NULL,
            .progress_interval_s = o->progress_interval_s,
        },
        &samples);
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    v = mf__direct_print_summary(stdout, r.out, o->n, mf_monotonic_s() - t0,
                                 o->json, atomic_load(o->stop))
            ? MF_DIRECT_OK
            : MF_DIRECT_FAILED;
    if (!mf__direct_write_reports(o->report_dir, o->opts.batch, o->source,
                                  o->target, started_ms, r.out, o->n, &samples,
                                  o->json ? stderr : stdout))
        v = MF_DIRECT_NO_REPORT;
    for (size_t i = 0; i < o->n; i++) {
        mf_migrate_result_clear(&r.out[i].result);
        free(r.out[i].progress);
    }
    free(r.out);
    free(threads);
    free(samples.v);
    pthread_mutex_destroy(&r.mu);
    return v;
}
