/*
 * The embedded default of `mailferry migrate` (docs/design.md §9): the
 * whole batch pipeline in one process (core/src/embedded/run.c), and the
 * servers it starts inside or beside that process so that nothing has to
 * be set up:
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

#include "mailferry/batchdef.h"
#include "mailferry/crypto.h"
#include "mailferry/err.h"
#include "mailferry/redis.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One `mailferry migrate` run without --direct. */
struct mf_embedded_options {
    const char *batch;      /* the batch's name; NULL: migrate-<time>-<pid> */
    const char *redis_url;  /* a shared Redis; NULL: a private child */
    const char *key_file;   /* the batch's key; NULL: a key for this run */
    const char *report_dir; /* the report and migrate.log go there */
    unsigned concurrency;   /* the worker's slots */
    bool json;              /* one JSON document on stdout */
    /* The progress (mailferry/progress.h), unless json: redrawn in place
     * every second when stderr is a terminal, else a summary line on
     * stdout every progress_interval_s seconds; 0: none at all. */
    double progress_interval_s;
    const char *log_format, *log_level;   /* of migrate.log; NULL: text, info */
    const char *bind_address, *egress_ip; /* the worker's; NULL: none */
    const atomic_bool *stop; /* Ctrl-C: `batch stop`, then the report */
    /* A new batch's definition (its CSV read, the passwords sealed with
     * kr) into d, the problems said on stderr. Returns -1 when d is
     * complete, else the exit code. */
    int (*define)(void *ud, const char *batch,
                  const struct mf_crypto_keyring *kr, struct mf_batchdef *d);
    /* An existing batch: applies the settings that may change (`batch
     * set`) before its next pass. Returns -1 to go on, else the exit code. */
    int (*settings)(void *ud, struct mf_redis *r, const char *batch);
    void *ud;
};

/* Runs one pass of the batch (created from the CSV when new, taken over
 * when an earlier run died in its pass), printing a line per finished
 * mailbox, then the summary, and writes the report. Returns the program's
 * exit code: 0 every mailbox synced, 1 one did not (or the batch's state
 * forbids a pass), 2 a wrong --batch name, 3 the run could not go on, or
 * what a callback returned. */
int mf_embedded_run(const struct mf_embedded_options *o);

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
