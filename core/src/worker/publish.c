/*
 * Envelopes to Kafka. Progress is only queued (a lost progress message
 * costs nothing: the next one carries the same counters); results,
 * re-produced jobs and dead letters are waited for, because what the
 * worker does next (release a claim, commit an offset) is only right once
 * Kafka has them.
 *
 * Waiting: each waited-for message carries a small reference-counted
 * struct delivery as its opaque; the producer's delivery callback (run by
 * whichever thread polls the producer) fills it in. The waiter polls the
 * producer itself, so it needs no other thread, and may give up at its
 * deadline: the callback then frees the struct, which is why both hold a
 * reference.
 */
#include "worker/worker_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct delivery {
    atomic_int refs;
    atomic_bool done;
    struct mf_error result; /* valid once done */
};

static void
delivery_unref(struct delivery *d) {
    if (atomic_fetch_sub(&d->refs, 1) == 1)
        free(d);
}

void
mf__worker_on_delivery(void *ud, void *msg_opaque,
                       const struct mf_error *result) {
    struct delivery *d = msg_opaque;
    struct mf__worker *w = ud;

    if (result->code != MF_E_OK)
        mf__worker_count_error(w, result->code);
    if (!d)
        return; /* progress: nobody waits */
    d->result = *result;
    atomic_store(&d->done, true);
    delivery_unref(d);
}

mf_err
mf__worker_produce_wait(struct mf__worker *w, const char *topic,
                        const char *key, const void *value, size_t len,
                        long timeout_ms, struct mf_error *err) {
    struct delivery *d;
    uint64_t deadline;
    mf_err rc;

    if (timeout_ms <= 0)
        return mf_kafka_produce(w->producer, topic, key, key ? strlen(key) : 0,
                                value, len, NULL, err);
    d = mf_xcalloc(1, sizeof(*d));
    atomic_init(&d->refs, 2);
    rc = mf_kafka_produce(w->producer, topic, key, key ? strlen(key) : 0, value,
                          len, d, err);
    if (rc != MF_E_OK) {
        free(d); /* the callback never runs for a refused message */
        return rc;
    }
    deadline = mf__worker_now_ms() + (uint64_t)timeout_ms;
    /* Other threads poll the producer too and may serve this delivery
     * report: wake often to see it (a job's result waits here). */
    while (!atomic_load(&d->done) && mf__worker_now_ms() < deadline)
        mf_kafka_producer_poll(w->producer, 5);
    if (!atomic_load(&d->done)) {
        rc = mf_error_set(err, MF_E_KAFKA_UNAVAILABLE,
                          "%s: not acknowledged within %ld ms", topic,
                          timeout_ms);
    } else if (d->result.code != MF_E_OK) {
        *err = d->result;
        rc = d->result.code;
    }
    delivery_unref(d);
    return rc;
}

mf_err
mf__worker_publish(struct mf__worker *w, const char *topic, const char *batch,
                   const char *mailbox, const struct mf_envelope *env,
                   long timeout_ms, struct mf_error *err) {
    uint8_t *buf = NULL;
    size_t len = 0;
    char *key;
    mf_err rc;

    rc = mf_envelope_pack(env, &buf, &len, err);
    if (rc != MF_E_OK)
        return rc;
    key = mf_envelope_key(batch, mailbox);
    rc = mf__worker_produce_wait(w, topic, key, buf, len, timeout_ms, err);
    free(key);
    free(buf);
    return rc;
}
