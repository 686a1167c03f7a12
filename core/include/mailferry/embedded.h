/*
 * The servers of the embedded default (docs/design.md §9), started inside or
 * beside one `mailferry migrate` process so that nothing has to be set up:
 *
 *   - a Kafka cluster: librdkafka's mock cluster, in this process, with
 *     the jobs, results and dead-letter topics created;
 *   - a private redis-server child on a unix socket in a temporary
 *     directory, without persistence; it dies with its parent (also on
 *     kill -9 of the parent: PR_SET_PDEATHSIG) and is stopped on exit.
 *
 * The rest of the program talks to them through the same client code as
 * to a real cluster and a real Redis: only the addresses differ.
 */
#ifndef MAILFERRY_EMBEDDED_H
#define MAILFERRY_EMBEDDED_H

#include "mailferry/err.h"

#include <stdint.h>

struct mf_kafka_mock;

/* Starts a mock cluster of `brokers` brokers with the topics of prefix
 * (jobs with job_partitions partitions) and waits until their metadata
 * is complete. */
MF_WARN_UNUSED mf_err mf_kafka_mock_start(int brokers, const char *prefix,
                                          int job_partitions,
                                          struct mf_kafka_mock **m_r,
                                          struct mf_error *err);
/* "127.0.0.1:PORT,..." for the `kafka` configuration key. */
const char *mf_kafka_mock_bootstrap(const struct mf_kafka_mock *m);
/* Stops the cluster; NULL ok. */
void mf_kafka_mock_stop(struct mf_kafka_mock **m);

struct mf_redis_child;

/* Starts redis-server (found on PATH, or at redis_server when not NULL)
 * in a new private directory under tmpdir (NULL: $TMPDIR or /tmp),
 * listening only on a unix socket there, and waits until it answers. */
MF_WARN_UNUSED mf_err mf_redis_child_start(const char *redis_server,
                                           const char *tmpdir,
                                           struct mf_redis_child **c_r,
                                           struct mf_error *err);
/* "unix:///tmp/mailferry-redis.XXXXXX/redis.sock" */
const char *mf_redis_child_url(const struct mf_redis_child *c);
/* Stops the server (SIGTERM, then SIGKILL after 5 s), removes its
 * directory; NULL ok. */
void mf_redis_child_stop(struct mf_redis_child **c);

#endif
