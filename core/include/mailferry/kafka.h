/*
 * The Kafka transport (docs/design.md §6): a producer and a consumer-group
 * member over librdkafka, configured from struct mf_config.
 *
 * Configuration keys (mailferry/config.h: flags, MAILFERRY_* environment,
 * config file):
 *
 *   kafka           bootstrap servers, "host:port[,host:port...]" (the
 *                   --kafka flag); kafka.bootstrap.servers works as well
 *   kafka.<prop>    any librdkafka property, passed to rd_kafka_conf_set()
 *                   unchanged: kafka.security.protocol=SASL_SSL,
 *                   kafka.sasl.mechanism=SCRAM-SHA-512, kafka.ssl.ca.location
 *                   ... so a real cluster needs no code change
 *   kafka.<prop>-file   the value of <prop> read from a file (secrets such
 *                   as kafka.sasl.password-file, Kubernetes Secrets)
 *   topic-prefix    topic name prefix, default "mailferry": topics
 *                   <prefix>.jobs, <prefix>.results, <prefix>.jobs.dlq
 *
 * What mailferry's correctness depends on is pinned, and setting it
 * otherwise through kafka.* is a configuration error (MF_E_CONFIG):
 * producers are idempotent with acks=all (a retry after a broker outage
 * never duplicates or reorders), consumers never auto-commit (offsets are
 * committed explicitly: claim, then commit). Defaults that kafka.* may
 * override: client.id, group.id, auto.offset.reset=earliest (a new fleet
 * takes the jobs enqueued before it started), and the consumer group's
 * timing: session.timeout.ms=6000, heartbeat.interval.ms=1000,
 * max.poll.interval.ms=30000, partition.assignment.strategy=
 * range,roundrobin (docs/operations.md, "Scaling the fleet").
 *
 * Errors: MF_E_KAFKA_UNAVAILABLE when brokers cannot be reached or a
 * delivery timed out (class retry), MF_E_KAFKA for anything else Kafka
 * refuses, with rd_kafka_err2name() and librdkafka's text in the detail.
 *
 * Threads: a producer may be shared by threads (produce, poll and flush
 * are thread-safe). A consumer belongs to one thread: poll, commit, pause
 * and close run there, and the rebalance callback runs inside poll and
 * close on that thread; only mf_kafka_consumer_wake() may come from
 * another.
 */
#ifndef MAILFERRY_KAFKA_H
#define MAILFERRY_KAFKA_H

#include "mailferry/config.h"
#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_KAFKA_TOPIC_PREFIX_DEFAULT "mailferry"
/* Kafka's limit on topic names. */
#define MF_KAFKA_TOPIC_MAX 249

/* ------------------------------------------------------------------ */
/* Topics                                                             */
/* ------------------------------------------------------------------ */

struct mf_kafka_topics {
    char jobs[MF_KAFKA_TOPIC_MAX + 1];    /* <prefix>.jobs */
    char results[MF_KAFKA_TOPIC_MAX + 1]; /* <prefix>.results */
    char dlq[MF_KAFKA_TOPIC_MAX + 1];     /* <prefix>.jobs.dlq */
};

/* Fills *t from prefix (NULL or "": MF_KAFKA_TOPIC_PREFIX_DEFAULT).
 * MF_E_CONFIG if the names would not be legal Kafka topic names
 * ([A-Za-z0-9._-], at most MF_KAFKA_TOPIC_MAX characters). */
MF_WARN_UNUSED mf_err mf_kafka_topics_init(struct mf_kafka_topics *t,
                                           const char *prefix,
                                           struct mf_error *err);
/* The same with the prefix from config key "topic-prefix" (cfg may be
 * NULL). */
MF_WARN_UNUSED mf_err mf_kafka_topics_from_config(const struct mf_config *cfg,
                                                  struct mf_kafka_topics *t,
                                                  struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Producer                                                           */
/* ------------------------------------------------------------------ */

struct mf_kafka_producer;

/* Called once per produced message when Kafka has it (result->code
 * MF_E_OK) or has given up on it (after librdkafka's retries, within
 * kafka.message.timeout.ms), from whichever thread runs
 * mf_kafka_producer_poll() or _flush(). msg_opaque is what was given to
 * mf_kafka_produce(). result is borrowed for the call. */
typedef void (*mf_kafka_delivery_cb)(void *ud, void *msg_opaque,
                                     const struct mf_error *result);

/* Creates an idempotent producer (acks=all) from cfg. client_id may be
 * NULL ("mailferry"); on_delivery may be NULL. Only a configuration
 * problem fails here; brokers are contacted in the background. */
MF_WARN_UNUSED mf_err mf_kafka_producer_new(const struct mf_config *cfg,
                                            const char *client_id,
                                            mf_kafka_delivery_cb on_delivery,
                                            void *ud,
                                            struct mf_kafka_producer **p_r,
                                            struct mf_error *err);

/* Destroys the producer. Messages not yet delivered are dropped (their
 * delivery callbacks run with an error): flush first. Accepts NULL; sets
 * *p to NULL. */
void mf_kafka_producer_free(struct mf_kafka_producer **p);

/* Queues one message (key and value are copied; key may be NULL). Waits
 * up to kafka.message.timeout.ms for room if the local queue is full.
 * MF_E_OK means queued, not delivered: delivery is reported to the
 * callback and summed up by mf_kafka_producer_flush(). */
MF_WARN_UNUSED mf_err mf_kafka_produce(struct mf_kafka_producer *p,
                                       const char *topic, const void *key,
                                       size_t key_len, const void *value,
                                       size_t value_len, void *msg_opaque,
                                       struct mf_error *err);

/* Learns the topics' partitions and leaders now (a metadata request each,
 * up to timeout_ms), so that the first message produced to them is sent
 * at once instead of after librdkafka's next topic scan (up to a second):
 * for a producer whose first message is awaited (a job, a result).
 * Programs that carry on without it wait MF_KAFKA_WARM_MS. */
#define MF_KAFKA_WARM_MS 2000
MF_WARN_UNUSED mf_err mf_kafka_producer_warm(struct mf_kafka_producer *p,
                                             const char *const *topics,
                                             size_t n, int timeout_ms,
                                             struct mf_error *err);

/* Serves delivery reports for up to timeout_ms (0: only what is ready). */
void mf_kafka_producer_poll(struct mf_kafka_producer *p, int timeout_ms);

/* Waits up to timeout_ms until every queued message is delivered or has
 * failed. MF_E_OK when all messages since the previous flush arrived;
 * MF_E_KAFKA or MF_E_KAFKA_UNAVAILABLE naming the number of failures and
 * the first one's error; MF_E_KAFKA_UNAVAILABLE when messages are still
 * in flight at the timeout (they stay queued). Resets the failure count. */
MF_WARN_UNUSED mf_err mf_kafka_producer_flush(struct mf_kafka_producer *p,
                                              int timeout_ms,
                                              struct mf_error *err);

/* Serves delivery reports until at most max_queued messages are queued
 * or in flight, so that a caller producing many keeps a bounded number in
 * memory. MF_E_KAFKA_UNAVAILABLE when more are still queued after
 * timeout_ms (they stay queued); failed deliveries are left for
 * mf_kafka_producer_flush() to report. */
MF_WARN_UNUSED mf_err mf_kafka_producer_wait_room(struct mf_kafka_producer *p,
                                                  int max_queued,
                                                  int timeout_ms,
                                                  struct mf_error *err);

/* Messages queued but not yet delivered or failed. */
int mf_kafka_producer_outq_len(struct mf_kafka_producer *p);

/* ------------------------------------------------------------------ */
/* Consumer                                                           */
/* ------------------------------------------------------------------ */

struct mf_kafka_consumer;

/* One consumed message. Everything is borrowed from the message and valid
 * until mf_kafka_message_free(). */
struct mf_kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const uint8_t *key; /* NULL when the message has no key */
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t timestamp_ms; /* -1 if unknown */
    void *priv;           /* owned: the librdkafka message */
};

void mf_kafka_message_free(struct mf_kafka_message **m);

enum mf_kafka_rebalance {
    MF_KAFKA_ASSIGNED, /* these partitions are now ours */
    MF_KAFKA_REVOKED,  /* these partitions go away (commit still works) */
    MF_KAFKA_LOST,     /* lost without a clean handover (session timed
                          out): commits for them will fail */
};

struct mf_kafka_partition {
    const char *topic; /* borrowed for the callback */
    int32_t partition;
};

/* Called inside mf_kafka_consumer_poll() (and _close()) when the group
 * hands partitions to this member or takes them away, after the
 * assignment (ASSIGNED) or before the unassignment (REVOKED, LOST). The
 * array is borrowed for the call. */
typedef void (*mf_kafka_rebalance_cb)(void *ud, enum mf_kafka_rebalance ev,
                                      const struct mf_kafka_partition *parts,
                                      size_t n);

struct mf_kafka_consumer_params {
    const char *client_id;     /* NULL: "mailferry" */
    const char *group_id;      /* required (kafka.group.id overrides) */
    const char *const *topics; /* subscribed topics */
    size_t ntopics;
    mf_kafka_rebalance_cb on_rebalance; /* may be NULL */
    void *ud;
    /* group.instance.id: a static member (KIP-345), unique in the group;
     * NULL or "": a dynamic one (kafka.group.instance.id overrides). */
    const char *instance_id;
};

/* Creates a consumer-group member subscribed to the topics. Joining the
 * group happens in the background and completes during the following
 * polls. With the setting kafka-assign=all in cfg it joins no group:
 * its first poll assigns it every partition of the topics (for the only
 * consumer of a topic: the embedded default); "group" is the default. */
MF_WARN_UNUSED mf_err mf_kafka_consumer_new(
    const struct mf_config *cfg, const struct mf_kafka_consumer_params *params,
    struct mf_kafka_consumer **c_r, struct mf_error *err);

/* Waits up to timeout_ms for the next message. MF_E_OK with *m_r NULL
 * when none came (or only an event the consumer handles itself). On a
 * consumer error (brokers down, unknown topic) returns MF_E_KAFKA_UNAVAILABLE
 * or MF_E_KAFKA with the detail; the consumer keeps working and the next
 * poll carries on. The caller frees *m_r with mf_kafka_message_free(). */
MF_WARN_UNUSED mf_err mf_kafka_consumer_poll(struct mf_kafka_consumer *c,
                                             int timeout_ms,
                                             struct mf_kafka_message **m_r,
                                             struct mf_error *err);

/* Commits m's offset (the group resumes after m on its partition),
 * synchronously. Fails with MF_E_KAFKA (e.g. ILLEGAL_GENERATION,
 * REBALANCE_IN_PROGRESS) when the partition has moved to another member:
 * that member will then receive m again. */
MF_WARN_UNUSED mf_err mf_kafka_consumer_commit(struct mf_kafka_consumer *c,
                                               const struct mf_kafka_message *m,
                                               struct mf_error *err);

/* Pauses (paused true) or resumes fetching on every partition assigned
 * now or later, while the member stays in the group: a worker with all
 * job slots busy keeps polling (so it is not thrown out of the group)
 * without taking more jobs. Messages fetched but not yet returned are
 * fetched again after resuming; none is skipped. */
MF_WARN_UNUSED mf_err mf_kafka_consumer_pause(struct mf_kafka_consumer *c,
                                              bool paused,
                                              struct mf_error *err);

/* The number of partitions assigned now. */
size_t mf_kafka_consumer_assigned(struct mf_kafka_consumer *c);

/* Messages waiting in this member's partitions: the high watermarks
 * minus where consumption resumes (after the last message returned by
 * poll, or the committed offset), summed into *lag_r. With timeout_ms 0
 * it does not block: the watermarks are those of the last fetch (they
 * stand still on paused partitions) and partitions nothing was returned
 * from yet count 0. With timeout_ms > 0 it asks the brokers (one request
 * per partition and one to the group coordinator, each waiting at most
 * timeout_ms). Errors as librdkafka reports them; *lag_r is then
 * untouched. */
MF_WARN_UNUSED mf_err mf_kafka_consumer_lag(struct mf_kafka_consumer *c,
                                            int timeout_ms, uint64_t *lag_r,
                                            struct mf_error *err);

/* Ends a mf_kafka_consumer_poll() that is waiting, now (or the next one
 * at once, if none is). The one call any thread may make. */
void mf_kafka_consumer_wake(struct mf_kafka_consumer *c);

/* True once librdkafka has raised a fatal error (this member fenced by
 * another with the same instance id): every poll then fails, and the
 * consumer must be closed. */
bool mf_kafka_consumer_fatal(struct mf_kafka_consumer *c);

/* Leaves the group (the partitions go to the other members at once) and
 * stops consuming. Runs the rebalance callback with REVOKED. Idempotent. */
MF_WARN_UNUSED mf_err mf_kafka_consumer_close(struct mf_kafka_consumer *c,
                                              struct mf_error *err);

/* Closes (if not yet closed) and destroys. Accepts NULL; sets *c NULL. */
void mf_kafka_consumer_free(struct mf_kafka_consumer **c);

#endif
