/*
 * The Kafka producer: an idempotent librdkafka producer (acks=all) with a
 * delivery callback per message and a flush that sums up what failed.
 *
 * librdkafka retries failed sends by itself until message.timeout.ms; a
 * delivery report is final. Reports run on the thread that polls
 * (mf_kafka_producer_poll, _flush, and every _produce serves the ready
 * ones), so the counters and the first failure's detail sit behind a
 * mutex. A fatal error of the idempotent producer (it can no longer
 * guarantee order) is recorded by the error callback and makes every
 * later produce fail: the program restarts the producer or exits.
 */
#include "kafka_int.h"

#include "mailferry/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mf_kafka_producer {
    rd_kafka_t *rk; /* owned */
    mf_kafka_delivery_cb on_delivery;
    void *ud;
    int message_timeout_ms;
    pthread_mutex_t lock;    /* guards what follows */
    uint64_t failed;         /* failed deliveries since the last flush */
    struct mf_error first;   /* the first of them */
    struct mf_error fatal;   /* a fatal producer error, once set */
    struct mf_error lasterr; /* the last error callback (for context) */
};

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    struct mf_kafka_producer *p = opaque;
    struct mf_error result = {0};

    (void)rk;
    if (m->err) {
        char what[300];
        snprintf(what, sizeof(what), "delivery to %s [%d]",
                 rd_kafka_topic_name(m->rkt), (int)m->partition);
        mf__kafka_error(&result, m->err, what, NULL);
        pthread_mutex_lock(&p->lock);
        if (p->failed++ == 0)
            p->first = result;
        pthread_mutex_unlock(&p->lock);
    }
    if (p->on_delivery)
        p->on_delivery(p->ud, m->_private, &result);
}

static void
error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque) {
    struct mf_kafka_producer *p = opaque;
    char buf[256];

    pthread_mutex_lock(&p->lock);
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        if (p->fatal.code == MF_E_OK)
            mf_error_set(&p->fatal, MF_E_KAFKA, "fatal producer error: %s: %s",
                         rd_kafka_err2name(orig), buf);
    } else {
        mf__kafka_error(&p->lasterr, (rd_kafka_resp_err_t)e, "producer",
                        reason);
    }
    pthread_mutex_unlock(&p->lock);
}

mf_err
mf_kafka_producer_new(const struct mf_config *cfg, const char *client_id,
                      mf_kafka_delivery_cb on_delivery, void *ud,
                      struct mf_kafka_producer **p_r, struct mf_error *err) {
    struct mf_kafka_producer *p;
    rd_kafka_conf_t *conf = NULL;
    char errstr[512], val[32];
    size_t n = sizeof(val);
    uint64_t timeout;
    mf_err rc;

    rc = mf__kafka_conf_new(cfg, MF__KAFKA_PRODUCER, client_id, NULL, NULL,
                            &conf, err);
    if (rc != MF_E_OK)
        return rc;
    p = mf_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->on_delivery = on_delivery;
    p->ud = ud;
    p->message_timeout_ms = 300000; /* librdkafka's default */
    if (rd_kafka_conf_get(conf, "message.timeout.ms", val, &n) ==
            RD_KAFKA_CONF_OK &&
        mf_parse_u64(val, 1, 3600000, &timeout))
        p->message_timeout_ms = (int)timeout;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return mf_error_set(err, MF_E_CONFIG, "Kafka producer: %s", errstr);
    }
    *p_r = p;
    return MF_E_OK;
}

void
mf_kafka_producer_free(struct mf_kafka_producer **p) {
    if (!p || !*p)
        return;
    /* Drop what is left so that destroy does not wait for it; the
     * delivery callbacks run with _PURGE_QUEUE / _PURGE_INFLIGHT. */
    rd_kafka_purge((*p)->rk,
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll((*p)->rk, 0);
    rd_kafka_destroy((*p)->rk);
    pthread_mutex_destroy(&(*p)->lock);
    free(*p);
    *p = NULL;
}

mf_err
mf_kafka_produce(struct mf_kafka_producer *p, const char *topic,
                 const void *key, size_t key_len, const void *value,
                 size_t value_len, void *msg_opaque, struct mf_error *err) {
    double deadline = mf_monotonic_s() + p->message_timeout_ms / 1000.0;
    rd_kafka_resp_err_t e;

    pthread_mutex_lock(&p->lock);
    if (p->fatal.code != MF_E_OK) {
        *err = p->fatal;
        pthread_mutex_unlock(&p->lock);
        return err->code;
    }
    pthread_mutex_unlock(&p->lock);
    for (;;) {
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_KEY(key, key ? key_len : 0),
                              RD_KAFKA_V_VALUE((void *)value, value_len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        /* Serve ready delivery reports on every call, so that a producer
         * nobody polls explicitly does not grow its report queue. */
        rd_kafka_poll(p->rk, 0);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* The local queue is full (queue.buffering.max.*): wait for
         * deliveries to make room, as long as a message may wait. */
        if (mf_monotonic_s() > deadline) {
            char what[300];
            snprintf(what, sizeof(what), "produce to %s: queue stayed full",
                     topic);
            return mf_error_set(err, MF_E_KAFKA_UNAVAILABLE,
                                "%s for %d ms (%d messages waiting)", what,
                                p->message_timeout_ms,
                                rd_kafka_outq_len(p->rk));
        }
        rd_kafka_poll(p->rk, 100);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "produce to %s", topic);
        return mf__kafka_error(err, e, what, NULL);
    }
    return MF_E_OK;
}

mf_err
mf_kafka_producer_warm(struct mf_kafka_producer *p, const char *const *topics,
                       size_t n, int timeout_ms, struct mf_error *err) {
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e;

        if (!rkt)
            return mf__kafka_error(err, rd_kafka_last_error(), "topic",
                                   topics[i]);
        e = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        if (e) {
            char what[320];
            snprintf(what, sizeof(what), "metadata of %s", topics[i]);
            return mf__kafka_error(err, e, what, NULL);
        }
    }
    return MF_E_OK;
}

void
mf_kafka_producer_poll(struct mf_kafka_producer *p, int timeout_ms) {
    rd_kafka_poll(p->rk, timeout_ms);
}

int
mf_kafka_producer_outq_len(struct mf_kafka_producer *p) {
    return rd_kafka_outq_len(p->rk);
}

mf_err
mf_kafka_producer_wait_room(struct mf_kafka_producer *p, int max_queued,
                            int timeout_ms, struct mf_error *err) {
    double deadline = mf_monotonic_s() + timeout_ms / 1000.0;
    int n;

    /* rd_kafka_poll() returns as soon as it has served a report. */
    while ((n = rd_kafka_outq_len(p->rk)) > max_queued) {
        if (mf_monotonic_s() > deadline)
            return mf_error_set(err, MF_E_KAFKA_UNAVAILABLE,
                                "%d message(s) still undelivered after %d ms",
                                n, timeout_ms);
        rd_kafka_poll(p->rk, 10);
    }
    return MF_E_OK;
}

mf_err
mf_kafka_producer_flush(struct mf_kafka_producer *p, int timeout_ms,
                        struct mf_error *err) {
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    mf_err rc = MF_E_OK;

    pthread_mutex_lock(&p->lock);
    if (p->failed > 0) {
        rc = mf_error_set(err, p->first.code,
                          "%llu message(s) not delivered; first: %s",
                          (unsigned long long)p->failed, p->first.detail);
        p->failed = 0;
        mf_error_clear(&p->first);
    } else if (p->fatal.code != MF_E_OK) {
        *err = p->fatal;
        rc = err->code;
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = mf_error_set(err, MF_E_KAFKA_UNAVAILABLE,
                          "flush: %d message(s) still undelivered after %d "
                          "ms%s%s",
                          rd_kafka_outq_len(p->rk), timeout_ms,
                          p->lasterr.code ? "; last error: " : "",
                          p->lasterr.code ? p->lasterr.detail : "");
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}
