/*
 * A thread kept for one kind of work in a slot (worker_int.h): the slot
 * thread and the keeper of each job ran on threads started and joined
 * per job, and on the 2-CPU machine that cost about a tenth of the
 * worker's CPU for short jobs (clone, the exited thread's stack handed
 * back to the kernel with madvise and faulted in again by the next one,
 * the malloc arena's caches flushed). A runner runs one function at a
 * time: mf__runner_start() hands it over, mf__runner_join() waits for it
 * to return, as pthread_create() and pthread_join() did.
 */
#include "worker/worker_int.h"

#include "mailferry/util.h"

#include <openssl/err.h>

static void *
runner_main(void *arg) {
    struct mf__runner *t = arg;

    pthread_mutex_lock(&t->mu);
    for (;;) {
        void *(*fn)(void *);
        void *fn_arg;

        while (!t->busy && !t->quit)
            pthread_cond_wait(&t->cv, &t->mu);
        if (!t->busy)
            break; /* quit */
        fn = t->fn;
        fn_arg = t->arg;
        pthread_mutex_unlock(&t->mu);
        fn(fn_arg);
        /* The next function starts as on a new thread: no OpenSSL
         * errors left over to be reported as its own. */
        ERR_clear_error();
        pthread_mutex_lock(&t->mu);
        t->busy = false;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

bool
mf__runner_start(struct mf__runner *t, void *(*fn)(void *), void *arg) {
    if (!t->started) {
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        t->busy = t->quit = false;
        if (pthread_create(&t->thread, NULL, runner_main, t) != 0) {
            pthread_cond_destroy(&t->cv);
            pthread_mutex_destroy(&t->mu);
            return false;
        }
        t->started = true;
    }
    pthread_mutex_lock(&t->mu);
    MF_ASSERT(!t->busy);
    t->fn = fn;
    t->arg = arg;
    t->busy = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return true;
}

void
mf__runner_join(struct mf__runner *t) {
    pthread_mutex_lock(&t->mu);
    while (t->busy)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

void
mf__runner_end(struct mf__runner *t) {
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->quit = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->started = false;
}
