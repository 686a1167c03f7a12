/*
 * Internal header of mailferry-devbroker: the program state shared by
 * devbroker.c (setup, main loop) and control.c (control commands, leader
 * table). Not used outside tests/support/devbroker/.
 */
#ifndef MF_DEVBROKER_H
#define MF_DEVBROKER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_DEVBROKER_MAX_TOPICS 32
#define MF_DEVBROKER_MAX_BROKERS 16
#define MF_DEVBROKER_MAX_PARTITIONS 1024
#define MF_DEVBROKER_LINE_MAX 512

struct mf_devbroker_topic {
    char name[250];
    int partitions;
    int32_t leader[MF_DEVBROKER_MAX_PARTITIONS]; /* broker id per partition */
};

struct mf_devbroker {
    rd_kafka_t *rk;                    /* owned: hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster; /* borrowed from rk */
    int brokers;
    bool up[MF_DEVBROKER_MAX_BROKERS + 1]; /* indexed by broker id (1-based) */
    bool failover;
    struct mf_devbroker_topic topics[MF_DEVBROKER_MAX_TOPICS];
    int ntopics;
    const char *bootstrap_file; /* borrowed: argv */
    const char *control_path;   /* borrowed: argv, may be NULL */
    bool made_fifo;
    bool wrote_bootstrap;
    bool quit;
    char line[MF_DEVBROKER_LINE_MAX]; /* partial control line */
    size_t line_len;
    bool line_overflow;
};

/* Logs one line to stderr, prefixed with the program name. */
void mf__devbroker_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Parses a decimal in [min, max] that fills all of s into *v_r; false (and
 * *v_r untouched) otherwise. */
bool mf__devbroker_parse_long(const char *s, long min, long max, long *v_r);

/* The topic called name, or NULL. */
struct mf_devbroker_topic *mf__devbroker_find_topic(struct mf_devbroker *db,
                                                    const char *name);

/* Makes broker id the leader of partition p of t, in the mock and in the
 * leader table; false (logged) if the mock refuses. */
bool mf__devbroker_set_leader(struct mf_devbroker *db,
                              struct mf_devbroker_topic *t, int p, int32_t id);

/* Logs the leader table and which brokers are up. */
void mf__devbroker_log_leaders(const struct mf_devbroker *db);

/* Feeds n bytes read from the control FIFO; runs each complete line. */
void mf__devbroker_feed_control(struct mf_devbroker *db, const char *buf,
                                size_t n);

#endif
