/* The reader-to-writer queue (see pipe.h): a mutex, two condition
 * variables and a singly linked list. */
#include "migrate/pipe.h"

#include "mailferry/util.h"

#include <pthread.h>
#include <stdlib.h>

struct mf_pipe {
    pthread_mutex_t mu;
    pthread_cond_t can_push, can_pop;
    struct mf_pipe_item *head, *tail;
    size_t bytes, peak, max_bytes;
    bool cancelled;
};

struct mf_pipe *
mf__pipe_new(size_t max_bytes) {
    struct mf_pipe *p = mf_xcalloc(1, sizeof(*p));

    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->can_push, NULL);
    pthread_cond_init(&p->can_pop, NULL);
    p->max_bytes = max_bytes;
    return p;
}

void
mf__pipe_free(struct mf_pipe **pp) {
    struct mf_pipe *p = *pp;

    if (!p)
        return;
    while (p->head) {
        struct mf_pipe_item *it = p->head;
        p->head = it->next;
        mf__pipe_item_free(&it);
    }
    pthread_cond_destroy(&p->can_push);
    pthread_cond_destroy(&p->can_pop);
    pthread_mutex_destroy(&p->mu);
    free(p);
    *pp = NULL;
}

struct mf_pipe_item *
mf__pipe_item_new(enum mf_pipe_kind kind) {
    struct mf_pipe_item *it = mf_xcalloc(1, sizeof(*it));
    it->kind = kind;
    return it;
}

void
mf__pipe_item_free(struct mf_pipe_item **it) {
    if (*it) {
        free((*it)->data);
        free(*it);
        *it = NULL;
    }
}

mf_err
mf__pipe_push(struct mf_pipe *p, struct mf_pipe_item *it) {
    pthread_mutex_lock(&p->mu);
    while (!p->cancelled && p->head && p->bytes + it->len > p->max_bytes)
        pthread_cond_wait(&p->can_push, &p->mu);
    if (p->cancelled) {
        pthread_mutex_unlock(&p->mu);
        mf__pipe_item_free(&it);
        return MF_E_CANCELLED;
    }
    it->next = NULL;
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->bytes += it->len;
    if (p->bytes > p->peak)
        p->peak = p->bytes;
    pthread_cond_signal(&p->can_pop);
    pthread_mutex_unlock(&p->mu);
    return MF_E_OK;
}

struct mf_pipe_item *
mf__pipe_pop(struct mf_pipe *p, bool wait) {
    struct mf_pipe_item *it;

    pthread_mutex_lock(&p->mu);
    while (wait && !p->head && !p->cancelled)
        pthread_cond_wait(&p->can_pop, &p->mu);
    it = p->head;
    if (it) {
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        p->bytes -= it->len;
        it->next = NULL;
        pthread_cond_signal(&p->can_push);
    }
    pthread_mutex_unlock(&p->mu);
    return it;
}

void
mf__pipe_cancel(struct mf_pipe *p) {
    pthread_mutex_lock(&p->mu);
    p->cancelled = true;
    pthread_cond_broadcast(&p->can_push);
    pthread_cond_broadcast(&p->can_pop);
    pthread_mutex_unlock(&p->mu);
}

bool
mf__pipe_cancelled(struct mf_pipe *p) {
    bool c;

    pthread_mutex_lock(&p->mu);
    c = p->cancelled;
    pthread_mutex_unlock(&p->mu);
    return c;
}

/* One of p's byte counts, read under its lock. */
static size_t
locked_count(struct mf_pipe *p, const size_t *count) {
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = *count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t
mf__pipe_bytes(struct mf_pipe *p) {
    return locked_count(p, &p->bytes);
}

size_t
mf__pipe_peak(struct mf_pipe *p) {
    return locked_count(p, &p->peak);
}
