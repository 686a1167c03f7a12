/*
 * The Kafka consumer: one consumer-group member that never auto-commits.
 *
 * The caller polls for a message, claims the job it carries (in Redis),
 * then commits that message's offset synchronously (claim, then commit:
 * docs/design.md §6). Rebalances are handled here, inside poll: the callback
 * assigns or unassigns (eagerly or incrementally, whichever protocol the
 * assignor speaks) and tells the caller through mf_kafka_rebalance_cb.
 * A paused consumer pauses new partitions as they arrive, so pausing
 * holds across rebalances.
 *
 * Everything runs on the caller's thread: librdkafka calls the rebalance
 * callback from rd_kafka_consumer_poll() and rd_kafka_consumer_close(),
 * because the main queue is forwarded to the consumer queue. The one
 * exception is mf_kafka_consumer_wake(), which any thread may call to end
 * a poll early (rd_kafka_queue_yield() on that queue).
 *
 * Static membership (KIP-345): with an instance id the member keeps its
 * partitions across a restart within the session timeout, and does not
 * leave the group when it closes. A second member with the same id fences
 * the first: librdkafka raises a fatal error, after which the consumer is
 * useless; mf_kafka_consumer_fatal() says so and poll fails for good.
 *
 * With the setting kafka-assign=all the consumer joins no group: at its
 * first poll it assigns itself every partition of its topics (from their
 * committed offsets, else the earliest) and tells the caller as if a
 * rebalance had assigned them. For a process that is the topic's only
 * consumer (the embedded default, docs/design.md §9): a group join costs the
 * broker's initial rebalance delay (3 s) and would bring nothing. Pausing
 * such a consumer only stops handing out messages (they wait in
 * librdkafka's queue, bounded by queued.max.messages.kbytes): with no
 * other member to take them there is nothing to give back, and a real
 * pause costs up to a second at each resume, before librdkafka fetches
 * again.
 */
#include "kafka_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

struct mf_kafka_consumer {
    rd_kafka_t *rk;          /* owned */
    rd_kafka_queue_t *queue; /* owned reference: the consumer queue */
    mf_kafka_rebalance_cb on_rebalance;
    void *ud;
    bool paused;
    bool closed;
    size_t assigned;        /* partitions assigned now */
    struct mf_error rb_err; /* the last failure inside the callback */
    /* kafka-assign=all: the topics, owned, until the first poll assigned
     * their partitions. */
    char **assign_topics;
    size_t n_assign_topics;
    bool hold; /* kafka-assign=all: pausing holds messages back */
    /* What a held poll waits on; mf_kafka_consumer_wake() ends it. */
    pthread_mutex_t hold_mu;
    pthread_cond_t hold_cv;
    bool woken;
};

/* A held poll (kafka-assign=all, paused): waits up to timeout_ms or
 * until mf_kafka_consumer_wake(). */
static void
hold_wait(struct mf_kafka_consumer *c, int timeout_ms) {
    struct timespec ts = mf_deadline_after_ms(
        CLOCK_MONOTONIC, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);

    pthread_mutex_lock(&c->hold_mu);
    while (!c->woken && timeout_ms > 0)
        if (pthread_cond_timedwait(&c->hold_cv, &c->hold_mu, &ts) != 0)
            break;
    c->woken = false;
    pthread_mutex_unlock(&c->hold_mu);
}

/* ------------------------------------------------------------------ */
/* Rebalances                                                         */
/* ------------------------------------------------------------------ */

static void
notify(struct mf_kafka_consumer *c, enum mf_kafka_rebalance ev,
       const rd_kafka_topic_partition_list_t *parts) {
    struct mf_kafka_partition *p;

    if (!c->on_rebalance)
        return;
    p = mf_xcalloc(parts->cnt ? (size_t)parts->cnt : 1, sizeof(*p));
    for (int i = 0; i < parts->cnt; i++) {
        p[i].topic = parts->elems[i].topic;
        p[i].partition = parts->elems[i].partition;
    }
    c->on_rebalance(c->ud, ev, p, (size_t)parts->cnt);
    free(p);
}

static void
record(struct mf_kafka_consumer *c, rd_kafka_resp_err_t e, const char *what) {
    if (e)
        mf__kafka_error(&c->rb_err, e, what, NULL);
}

static void
record_error(struct mf_kafka_consumer *c, rd_kafka_error_t *e,
             const char *what) {
    if (!e)
        return;
    mf__kafka_error(&c->rb_err, rd_kafka_error_code(e), what,
                    rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
             rd_kafka_topic_partition_list_t *parts, void *opaque) {
    struct mf_kafka_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            record_error(c, rd_kafka_incremental_assign(rk, parts),
                         "incremental assign");
            c->assigned += (size_t)parts->cnt;
        } else {
            record(c, rd_kafka_assign(rk, parts), "assign");
            c->assigned = (size_t)parts->cnt;
        }
        /* librdkafka keeps a partition's pause flag across an unassign and
         * the next assign: a partition paused before a rebalance comes
         * back paused even if the consumer was resumed meanwhile (with
         * nothing assigned, the resume touched nothing). So state it. */
        if (c->paused)
            record(c, rd_kafka_pause_partitions(rk, parts), "pause");
        else
            record(c, rd_kafka_resume_partitions(rk, parts), "resume");
        notify(c, MF_KAFKA_ASSIGNED, parts);
        return;
    }
    /* Revoked (or an error: drop everything, as librdkafka advises). */
    notify(c, rd_kafka_assignment_lost(rk) ? MF_KAFKA_LOST : MF_KAFKA_REVOKED,
           parts);
    if (coop && e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        record_error(c, rd_kafka_incremental_unassign(rk, parts),
                     "incremental unassign");
        c->assigned -= (size_t)parts->cnt <= c->assigned ? (size_t)parts->cnt
                                                         : c->assigned;
    } else {
        if (e != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            record(c, e, "rebalance");
        record(c, rd_kafka_assign(rk, NULL), "unassign");
        c->assigned = 0;
    }
}

/* Frees c itself (its handles are gone already). */
static void
consumer_dealloc(struct mf_kafka_consumer *c) {
    pthread_cond_destroy(&c->hold_cv);
    pthread_mutex_destroy(&c->hold_mu);
    free(c);
}

static void
free_assign_topics(struct mf_kafka_consumer *c) {
    for (size_t i = 0; i < c->n_assign_topics; i++)
        free(c->assign_topics[i]);
    free(c->assign_topics);
    c->assign_topics = NULL;
    c->n_assign_topics = 0;
}

/* The start offsets of an assign_all(): the group's committed offsets,
 * asked for here, and BEGINNING (auto.offset.reset=earliest) where there
 * is none. Left to librdkafka (RD_KAFKA_OFFSET_STORED), a partition with
 * nothing committed, as every partition of the embedded default's fresh
 * in-process cluster, starts fetching only after a 100 ms backoff that
 * librdkafka puts before the offset lookup of such a reset: the first
 * job of every embedded run waited for it (docs/benchmarks.md, "A no-op
 * incremental pass"). When the committed offsets cannot be had, STORED
 * as before. */
static void
start_offsets(struct mf_kafka_consumer *c,
              rd_kafka_topic_partition_list_t *parts, int timeout_ms) {
    if (rd_kafka_committed(c->rk, parts, timeout_ms) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            if (p->err)
                p->offset = RD_KAFKA_OFFSET_STORED;
            else if (p->offset < 0)
                p->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        return;
    }
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_STORED;
}

/* kafka-assign=all: every partition of every topic, assigned at once.
 * The committed offsets of the group still apply (start_offsets()), and
 * commits still go to it. */
static mf_err
assign_all(struct mf_kafka_consumer *c, int timeout_ms, struct mf_error *err) {
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(8);
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < c->n_assign_topics && rc == MF_E_OK; i++) {
        rd_kafka_topic_t *rkt =
            rd_kafka_topic_new(c->rk, c->assign_topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms);

        if (!e && (md->topic_cnt != 1 || md->topics[0].err ||
                   md->topics[0].partition_cnt == 0))
            e = md->topic_cnt == 1 && md->topics[0].err
                    ? md->topics[0].err
                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (e) {
            char what[320];
            snprintf(what, sizeof(what), "kafka-assign=all: metadata of %s",
                     c->assign_topics[i]);
            rc = mf__kafka_error(err, e, what, NULL);
        } else {
            for (int p = 0; p < md->topics[0].partition_cnt; p++)
                rd_kafka_topic_partition_list_add(
                    parts, c->assign_topics[i], md->topics[0].partitions[p].id)
                    ->offset = RD_KAFKA_OFFSET_STORED;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    if (rc == MF_E_OK) {
        rd_kafka_resp_err_t e;
        start_offsets(c, parts, timeout_ms);
        e = rd_kafka_assign(c->rk, parts);
        if (e)
            rc = mf__kafka_error(err, e, "kafka-assign=all: assign", NULL);
    }
    if (rc == MF_E_OK) {
        c->assigned = (size_t)parts->cnt;
        free_assign_topics(c);
        notify(c, MF_KAFKA_ASSIGNED, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

mf_err
mf_kafka_consumer_new(const struct mf_config *cfg,
                      const struct mf_kafka_consumer_params *params,
                      struct mf_kafka_consumer **c_r, struct mf_error *err) {
    struct mf_kafka_consumer *c;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t e;
    char errstr[512];
    const char *assign = cfg ? mf_config_get(cfg, "kafka-assign", NULL) : NULL;
    mf_err rc;

    MF_ASSERT(params && params->ntopics > 0 && params->topics);
    if (assign && strcmp(assign, "all") != 0 && strcmp(assign, "group") != 0)
        return mf_error_set(err, MF_E_CONFIG,
                            "kafka-assign %.64s: \"group\" (join the "
                            "consumer group) or \"all\" (every partition)",
                            assign);
    rc = mf__kafka_conf_new(cfg, MF__KAFKA_CONSUMER, params->client_id,
                            params->group_id, params->instance_id, &conf, err);
    if (rc != MF_E_OK)
        return rc;
    c = mf_xcalloc(1, sizeof(*c));
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->hold_cv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&c->hold_mu, NULL);
    }
    c->on_rebalance = params->on_rebalance;
    c->ud = params->ud;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        consumer_dealloc(c);
        return mf_error_set(err, MF_E_CONFIG, "Kafka consumer: %s", errstr);
    }
    /* Rebalance and error events come out of rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    if (assign && strcmp(assign, "all") == 0) {
        c->assign_topics =
            mf_xcalloc(params->ntopics, sizeof(*c->assign_topics));
        for (size_t i = 0; i < params->ntopics; i++)
            c->assign_topics[i] = mf_xstrdup(params->topics[i]);
        c->n_assign_topics = params->ntopics;
        c->hold = true;
        *c_r = c;
        return MF_E_OK;
    }
    topics = rd_kafka_topic_partition_list_new((int)params->ntopics);
    for (size_t i = 0; i < params->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, params->topics[i],
                                          RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        rc = mf__kafka_error(err, e, "subscribe", NULL);
        rd_kafka_queue_destroy(c->queue);
        rd_kafka_destroy(c->rk);
        consumer_dealloc(c);
        return rc;
    }
    *c_r = c;
    return MF_E_OK;
}

mf_err
mf_kafka_consumer_close(struct mf_kafka_consumer *c, struct mf_error *err) {
    rd_kafka_resp_err_t e;

    if (c->closed)
        return MF_E_OK;
    c->closed = true;
    e = rd_kafka_consumer_close(c->rk);
    if (e)
        return mf__kafka_error(err, e, "leave consumer group", NULL);
    return MF_E_OK;
}

void
mf_kafka_consumer_free(struct mf_kafka_consumer **c) {
    struct mf_error err = {0};

    if (!c || !*c)
        return;
    if (mf_kafka_consumer_close(*c, &err) != MF_E_OK) {
        /* Best effort: the group notices when the session times out. */
    }
    rd_kafka_queue_destroy((*c)->queue);
    /* The group was left (or tried) above. A plain rd_kafka_destroy()
     * closes the consumer again when that close failed, and that second
     * close can block: a worker whose leave timed out in the middle of a
     * rebalance hung for over 30 s after SIGTERM (integration.e2e.sigterm).
     * librdkafka's remedy for a failed close is this flag
     * (confluentinc/librdkafka#1932, rd_kafka_destroy_flags()). */
    rd_kafka_destroy_flags((*c)->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free_assign_topics(*c);
    consumer_dealloc(*c);
    *c = NULL;
}

size_t
mf_kafka_consumer_assigned(struct mf_kafka_consumer *c) {
    return c->assigned;
}

void
mf_kafka_consumer_wake(struct mf_kafka_consumer *c) {
    rd_kafka_queue_yield(c->queue);
    pthread_mutex_lock(&c->hold_mu);
    c->woken = true;
    pthread_cond_signal(&c->hold_cv);
    pthread_mutex_unlock(&c->hold_mu);
}

bool
mf_kafka_consumer_fatal(struct mf_kafka_consumer *c) {
    char why[8];

    return rd_kafka_fatal_error(c->rk, why, sizeof(why)) !=
           RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Where consumption of each partition resumes: the position (after the
 * last message delivered), or, for a partition nothing was delivered from
 * yet, its committed offset (asked of the group coordinator when allowed
 * to ask). RD_KAFKA_OFFSET_INVALID where neither is known. */
static void
resume_offsets(struct mf_kafka_consumer *c,
               rd_kafka_topic_partition_list_t *parts, int timeout_ms) {
    rd_kafka_topic_partition_list_t *unknown;

    if (rd_kafka_position(c->rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (timeout_ms <= 0)
        return;
    unknown = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset < 0)
            rd_kafka_topic_partition_list_add(unknown, parts->elems[i].topic,
                                              parts->elems[i].partition);
    if (unknown->cnt && rd_kafka_committed(c->rk, unknown, timeout_ms) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < unknown->cnt; i++) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
                parts, unknown->elems[i].topic, unknown->elems[i].partition);
            if (tp && !unknown->elems[i].err)
                tp->offset = unknown->elems[i].offset;
        }
    rd_kafka_topic_partition_list_destroy(unknown);
}

mf_err
mf_kafka_consumer_lag(struct mf_kafka_consumer *c, int timeout_ms,
                      uint64_t *lag_r, struct mf_error *err) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e;
    uint64_t lag = 0;
    mf_err rc = MF_E_OK;

    if (c->closed)
        return mf_error_set(err, MF_E_STATE, "Kafka consumer is closed");
    e = rd_kafka_assignment(c->rk, &parts);
    if (e)
        return mf__kafka_error(err, e, "assignment", NULL);
    resume_offsets(c, parts, timeout_ms);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo = 0, hi = 0, from = tp->offset;

        /* A paused partition is not fetched, so its cached high
         * watermark stands still while jobs are produced: ask. */
        if (timeout_ms > 0)
            e = rd_kafka_query_watermark_offsets(
                c->rk, tp->topic, tp->partition, &lo, &hi, timeout_ms);
        else
            e = rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition,
                                               &lo, &hi);
        if (e) {
            rc = mf__kafka_error(err, e, "watermarks", NULL);
            break;
        }
        if (from < 0 && timeout_ms > 0)
            from = lo; /* nothing committed: auto.offset.reset=earliest */
        if (from >= 0 && hi > from)
            lag += (uint64_t)(hi - from);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (rc == MF_E_OK)
        *lag_r = lag;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */
/* ------------------------------------------------------------------ */

void
mf_kafka_message_free(struct mf_kafka_message **m) {
    if (!m || !*m)
        return;
    rd_kafka_message_destroy((*m)->priv);
    free(*m);
    *m = NULL;
}

mf_err
mf_kafka_consumer_poll(struct mf_kafka_consumer *c, int timeout_ms,
                       struct mf_kafka_message **m_r, struct mf_error *err) {
    rd_kafka_message_t *rkm;
    struct mf_kafka_message *m;

    *m_r = NULL;
    if (c->closed)
        return mf_error_set(err, MF_E_STATE, "Kafka consumer is closed");
    if (c->n_assign_topics) {
        /* Not yet assigned (kafka-assign=all): a failure is retried at
         * the next poll, as a failed group join would be. The metadata
         * may take longer than a short poll: this happens once. */
        mf_err rc = assign_all(c, timeout_ms > 2000 ? timeout_ms : 2000, err);
        if (rc != MF_E_OK)
            return rc;
    }
    if (c->paused && c->hold) {
        /* kafka-assign=all: paused is held (see the top of this file). */
        hold_wait(c, timeout_ms);
        return MF_E_OK;
    }
    rkm = rd_kafka_consumer_poll(c->rk, timeout_ms);
    {
        /* Fenced (another member has our instance id) or a broker that
         * refuses the group for good: nothing more will work. */
        char why[512];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(c->rk, why, sizeof(why));
        if (fe) {
            if (rkm)
                rd_kafka_message_destroy(rkm);
            return mf__kafka_error(err, fe, "consumer (fatal)", why);
        }
    }
    if (c->rb_err.code != MF_E_OK) {
        /* A failed (un)assign inside the rebalance callback. */
        *err = c->rb_err;
        mf_error_clear(&c->rb_err);
        if (rkm)
            rd_kafka_message_destroy(rkm);
        return err->code;
    }
    if (!rkm)
        return MF_E_OK;
    if (rkm->err) {
        mf_err rc = MF_E_OK;
        /* End of a partition is news, not an error. */
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            char what[320];
            if (rkm->rkt)
                snprintf(what, sizeof(what), "consume %s [%d]",
                         rd_kafka_topic_name(rkm->rkt), (int)rkm->partition);
            else
                snprintf(what, sizeof(what), "consume");
            rc = mf__kafka_error(err, rkm->err, what,
                                 rd_kafka_message_errstr(rkm));
        }
        rd_kafka_message_destroy(rkm);
        return rc;
    }
    m = mf_xcalloc(1, sizeof(*m));
    m->topic = rd_kafka_topic_name(rkm->rkt);
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->key = rkm->key;
    m->key_len = rkm->key ? rkm->key_len : 0;
    m->value = rkm->payload;
    m->value_len = rkm->payload ? rkm->len : 0;
    m->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
    m->priv = rkm;
    *m_r = m;
    return MF_E_OK;
}

mf_err
mf_kafka_consumer_commit(struct mf_kafka_consumer *c,
                         const struct mf_kafka_message *m,
                         struct mf_error *err) {
    rd_kafka_topic_partition_list_t *offsets =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp;
    rd_kafka_resp_err_t e;
    char what[320];
    mf_err rc = MF_E_OK;

    snprintf(what, sizeof(what), "commit %s [%d] offset %lld", m->topic,
             (int)m->partition, (long long)m->offset);
    tp = rd_kafka_topic_partition_list_add(offsets, m->topic, m->partition);
    /* The committed offset is the next one to read. */
    tp->offset = m->offset + 1;
    e = rd_kafka_commit(c->rk, offsets, 0 /* synchronous */);
    if (!e)
        e = tp->err; /* the per-partition result */
    if (e)
        rc = mf__kafka_error(err, e, what, NULL);
    rd_kafka_topic_partition_list_destroy(offsets);
    return rc;
}

mf_err
mf_kafka_consumer_pause(struct mf_kafka_consumer *c, bool paused,
                        struct mf_error *err) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e;

    c->paused = paused;
    if (c->hold)
        return MF_E_OK; /* kafka-assign=all: poll holds messages back */
    e = rd_kafka_assignment(c->rk, &parts);
    if (!e)
        e = paused ? rd_kafka_pause_partitions(c->rk, parts)
                   : rd_kafka_resume_partitions(c->rk, parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (e)
        return mf__kafka_error(err, e, paused ? "pause" : "resume", NULL);
    return MF_E_OK;
}
