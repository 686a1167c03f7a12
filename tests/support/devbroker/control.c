/*
 * Control commands of mailferry-devbroker (see usage() in devbroker.c), and
 * the partition leader table they act on.
 *
 * Lines come from the control FIFO through mf__devbroker_feed_control();
 * each is split into words and run against the mock cluster at once. The
 * mock never moves partition leaders by itself, so `broker down` moves
 * them here (fail_over) when failover is on, the way a replicated cluster
 * would elect new leaders. Everything runs on the main thread.
 */
#include "devbroker.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Parsing helpers                                                    */
/* ------------------------------------------------------------------ */

bool
mf__devbroker_parse_long(const char *s, long min, long max, long *v_r) {
    char *end;
    long v;

    if (!s || !*s)
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *v_r = v;
    return true;
}

/* Kafka protocol ApiKeys by name, for the `error` command. */
static const struct {
    const char *name;
    int16_t key;
} apikeys[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static bool
parse_apikey(const char *s, int16_t *key_r) {
    long v;

    for (size_t i = 0; i < sizeof(apikeys) / sizeof(apikeys[0]); i++) {
        if (strcasecmp(s, apikeys[i].name) == 0) {
            *key_r = apikeys[i].key;
            return true;
        }
    }
    if (!mf__devbroker_parse_long(s, 0, INT16_MAX, &v))
        return false;
    *key_r = (int16_t)v;
    return true;
}

/* Error codes by number or by rd_kafka_err2name() name (with or without
 * the RD_KAFKA_RESP_ERR_ prefix), e.g. NOT_LEADER_FOR_PARTITION, _TRANSPORT.
 */
static bool
parse_errcode(const char *s, rd_kafka_resp_err_t *err_r) {
    const struct rd_kafka_err_desc *descs;
    size_t n;
    long v;

    if (strncmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    if (mf__devbroker_parse_long(s, -200, 1000, &v)) {
        *err_r = (rd_kafka_resp_err_t)v;
        return true;
    }
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
            *err_r = descs[i].code;
            return true;
        }
    }
    return false;
}

/* Broker id 1..brokers, or "all" (-1). */
static bool
parse_broker(const struct mf_devbroker *db, const char *s, bool allow_all,
             int32_t *id_r) {
    long v;

    if (allow_all && strcmp(s, "all") == 0) {
        *id_r = -1;
        return true;
    }
    if (!mf__devbroker_parse_long(s, 1, db->brokers, &v))
        return false;
    *id_r = (int32_t)v;
    return true;
}

/* ------------------------------------------------------------------ */
/* Leaders                                                            */
/* ------------------------------------------------------------------ */

struct mf_devbroker_topic *
mf__devbroker_find_topic(struct mf_devbroker *db, const char *name) {
    for (int i = 0; i < db->ntopics; i++)
        if (strcmp(db->topics[i].name, name) == 0)
            return &db->topics[i];
    return NULL;
}

bool
mf__devbroker_set_leader(struct mf_devbroker *db, struct mf_devbroker_topic *t,
                         int p, int32_t id) {
    rd_kafka_resp_err_t err;

    err = rd_kafka_mock_partition_set_leader(db->mcluster, t->name, p, id);
    if (err) {
        mf__devbroker_log("set leader %s [%d] -> %d failed: %s", t->name, p,
                          (int)id, rd_kafka_err2name(err));
        return false;
    }
    t->leader[p] = id;
    return true;
}

/* Moves every partition led by a down broker to the brokers that are up,
 * spreading them round-robin. The mock keeps one log per partition, not
 * one per replica, so nothing is lost by the move. */
static void
fail_over(struct mf_devbroker *db) {
    int32_t up_ids[MF_DEVBROKER_MAX_BROKERS];
    int nup = 0, next = 0, moved = 0;

    for (int32_t id = 1; id <= db->brokers; id++)
        if (db->up[id])
            up_ids[nup++] = id;
    if (nup == 0) {
        mf__devbroker_log(
            "failover: no broker is up, leaders stay where they are");
        return;
    }
    for (int i = 0; i < db->ntopics; i++) {
        struct mf_devbroker_topic *t = &db->topics[i];
        for (int p = 0; p < t->partitions; p++) {
            if (db->up[t->leader[p]])
                continue;
            mf__devbroker_set_leader(db, t, p, up_ids[next++ % nup]);
            moved++;
        }
    }
    mf__devbroker_log("failover: moved %d partition leader(s)", moved);
}

void
mf__devbroker_log_leaders(const struct mf_devbroker *db) {
    for (int i = 0; i < db->ntopics; i++) {
        const struct mf_devbroker_topic *t = &db->topics[i];
        char buf[4096];
        size_t off = 0;

        buf[0] = '\0';
        for (int p = 0; p < t->partitions && off < sizeof(buf) - 16; p++) {
            int n = snprintf(buf + off, sizeof(buf) - off, " %d:%d", p,
                             (int)t->leader[p]);
            if (n < 0)
                break;
            off += (size_t)n;
        }
        mf__devbroker_log("leaders %s%s", t->name, buf);
    }
    for (int32_t id = 1; id <= db->brokers; id++)
        mf__devbroker_log("broker %d is %s", (int)id,
                          db->up[id] ? "up" : "down");
}

/* ------------------------------------------------------------------ */
/* Control commands                                                   */
/* ------------------------------------------------------------------ */

static bool
cmd_broker(struct mf_devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;
    bool down;

    if (argc != 3 || !parse_broker(db, argv[2], true, &id) ||
        (strcmp(argv[1], "down") != 0 && strcmp(argv[1], "up") != 0)) {
        mf__devbroker_log("usage: broker down|up N|all");
        return false;
    }
    down = strcmp(argv[1], "down") == 0;
    err = down ? rd_kafka_mock_broker_set_down(db->mcluster, id)
               : rd_kafka_mock_broker_set_up(db->mcluster, id);
    if (err) {
        mf__devbroker_log("broker %s %s failed: %s", argv[1], argv[2],
                          rd_kafka_err2name(err));
        return false;
    }
    for (int32_t b = 1; b <= db->brokers; b++)
        if (id == -1 || b == id)
            db->up[b] = !down;
    if (down && db->failover)
        fail_over(db);
    return true;
}

static bool
cmd_error(struct mf_devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err, *errs;
    int16_t key;
    long cnt;

    if (argc != 4 || !parse_apikey(argv[1], &key) ||
        !parse_errcode(argv[2], &err) ||
        !mf__devbroker_parse_long(argv[3], 1, 10000, &cnt)) {
        mf__devbroker_log("usage: error APIKEY ERRCODE COUNT");
        return false;
    }
    errs = calloc((size_t)cnt, sizeof(*errs));
    if (!errs)
        abort();
    for (long i = 0; i < cnt; i++)
        errs[i] = err;
    rd_kafka_mock_push_request_errors_array(db->mcluster, key, (size_t)cnt,
                                            errs);
    free(errs);
    mf__devbroker_log("next %ld request(s) with ApiKey %d fail with %s", cnt,
                      (int)key, rd_kafka_err2name(err));
    return true;
}

static bool
cmd_broker_error(struct mf_devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err, ret;
    int32_t id;
    int16_t key;
    long cnt, rtt = 0;

    if ((argc != 5 && argc != 6) || !parse_broker(db, argv[1], false, &id) ||
        !parse_apikey(argv[2], &key) || !parse_errcode(argv[3], &err) ||
        !mf__devbroker_parse_long(argv[4], 1, 10000, &cnt) ||
        (argc == 6 && !mf__devbroker_parse_long(argv[5], 0, 600000, &rtt))) {
        mf__devbroker_log(
            "usage: broker-error N APIKEY ERRCODE COUNT [RTT_MS]");
        return false;
    }
    /* The varargs API takes (err, rtt) pairs: push them one at a time. */
    for (long i = 0; i < cnt; i++) {
        ret = rd_kafka_mock_broker_push_request_error_rtts(
            db->mcluster, id, key, 1, err, (int)rtt);
        if (ret) {
            mf__devbroker_log("broker-error failed: %s",
                              rd_kafka_err2name(ret));
            return false;
        }
    }
    return true;
}

static bool
cmd_rtt(struct mf_devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;
    long ms;

    if (argc != 3 || !parse_broker(db, argv[1], true, &id) ||
        !mf__devbroker_parse_long(argv[2], 0, 600000, &ms)) {
        mf__devbroker_log("usage: rtt N|all MS");
        return false;
    }
    err = rd_kafka_mock_broker_set_rtt(db->mcluster, id, (int)ms);
    if (err) {
        mf__devbroker_log("rtt failed: %s", rd_kafka_err2name(err));
        return false;
    }
    return true;
}

static bool
cmd_leader(struct mf_devbroker *db, char **argv, int argc) {
    struct mf_devbroker_topic *t;
    int32_t id;
    long p;

    if (argc != 4 || !(t = mf__devbroker_find_topic(db, argv[1])) ||
        !mf__devbroker_parse_long(argv[2], 0, t->partitions - 1, &p) ||
        !parse_broker(db, argv[3], false, &id)) {
        mf__devbroker_log(
            "usage: leader TOPIC PARTITION N (known topic, partition)");
        return false;
    }
    return mf__devbroker_set_leader(db, t, (int)p, id);
}

static bool
cmd_coordinator(struct mf_devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;

    if (argc != 4 ||
        (strcmp(argv[1], "group") != 0 &&
         strcmp(argv[1], "transaction") != 0) ||
        !parse_broker(db, argv[3], false, &id)) {
        mf__devbroker_log("usage: coordinator group|transaction KEY N");
        return false;
    }
    err = rd_kafka_mock_coordinator_set(db->mcluster, argv[1], argv[2], id);
    if (err) {
        mf__devbroker_log("coordinator failed: %s", rd_kafka_err2name(err));
        return false;
    }
    return true;
}

static void
run_command(struct mf_devbroker *db, char *line) {
    char *argv[8], *save = NULL, *tok;
    int argc = 0;
    bool ok = true;

    mf__devbroker_log("command: %s", line);
    for (tok = strtok_r(line, " \t", &save); tok && argc < 8;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0 || argv[0][0] == '#')
        return;

    if (strcmp(argv[0], "broker") == 0)
        ok = cmd_broker(db, argv, argc);
    else if (strcmp(argv[0], "broker-error") == 0)
        ok = cmd_broker_error(db, argv, argc);
    else if (strcmp(argv[0], "error") == 0)
        ok = cmd_error(db, argv, argc);
    else if (strcmp(argv[0], "clear") == 0) {
        int16_t key;
        ok = argc == 2 && parse_apikey(argv[1], &key);
        if (ok)
            rd_kafka_mock_clear_request_errors(db->mcluster, key);
        else
            mf__devbroker_log("usage: clear APIKEY");
    } else if (strcmp(argv[0], "rtt") == 0)
        ok = cmd_rtt(db, argv, argc);
    else if (strcmp(argv[0], "leader") == 0)
        ok = cmd_leader(db, argv, argc);
    else if (strcmp(argv[0], "coordinator") == 0)
        ok = cmd_coordinator(db, argv, argc);
    else if (strcmp(argv[0], "failover") == 0) {
        ok = argc == 2 &&
             (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "off") == 0);
        if (ok)
            db->failover = strcmp(argv[1], "on") == 0;
        else
            mf__devbroker_log("usage: failover on|off");
    } else if (strcmp(argv[0], "leaders") == 0)
        mf__devbroker_log_leaders(db);
    else if (strcmp(argv[0], "quit") == 0)
        db->quit = true;
    else {
        mf__devbroker_log("unknown command %s (see --help)", argv[0]);
        ok = false;
    }
    mf__devbroker_log("%s: %s", ok ? "done" : "failed", argv[0]);
}

/* Splits what the FIFO delivered into lines; a line longer than the
 * buffer is dropped whole rather than run in pieces. */
void
mf__devbroker_feed_control(struct mf_devbroker *db, const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];

        if (c == '\n') {
            if (db->line_overflow)
                mf__devbroker_log("control line too long, ignored");
            else {
                db->line[db->line_len] = '\0';
                if (db->line_len > 0 && db->line[db->line_len - 1] == '\r')
                    db->line[db->line_len - 1] = '\0';
                run_command(db, db->line);
            }
            db->line_len = 0;
            db->line_overflow = false;
        } else if (db->line_len + 1 < sizeof(db->line)) {
            db->line[db->line_len++] = c;
        } else {
            db->line_overflow = true;
        }
    }
}
