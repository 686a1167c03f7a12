/*
 * mailferry-devbroker: a Kafka dev broker for tests and laptops.
 *
 * Runs librdkafka's mock cluster (rdkafka_mock.h) in its own process so that
 * several programs (coordinator, workers, tests) can share one "cluster" on
 * loopback. The mock listens on random 127.0.0.1 ports; once the topics
 * exist and the cluster answers a Metadata request, the bootstrap list is
 * written atomically (tmp + rename) to --bootstrap-file, which is the
 * readiness signal for scripts.
 *
 * The mock does not implement CreateTopics, so the topics the system needs
 * are created here, inside the mock. Partition leaders are assigned
 * round-robin over the brokers (the mock would pick them at random) and
 * tracked in a table, because the mock never moves leaders by itself: when
 * a broker is taken down through the control FIFO, its partitions fail over
 * to the brokers that are still up, the way a replicated cluster would
 * behave (turn that off with `failover off`).
 *
 * Control: --control PATH makes a FIFO that takes one command per line
 * (see usage()). The main loop polls a signalfd (SIGTERM, SIGINT) and the
 * FIFO; the FIFO is opened read-write so that writers closing it never
 * produce EOF. Everything is owned by main() and the struct devbroker
 * below; there are no other threads of ours (librdkafka runs its own).
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_MAX_TOPICS 32
#define DB_MAX_BROKERS 16
#define DB_MAX_PARTITIONS 1024
#define DB_LINE_MAX 512

struct db_topic {
    char name[250];
    int partitions;
    int32_t leader[DB_MAX_PARTITIONS]; /* broker id per partition */
};

struct devbroker {
    rd_kafka_t *rk;                    /* owned: hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster; /* borrowed from rk */
    int brokers;
    bool up[DB_MAX_BROKERS + 1]; /* indexed by broker id (1-based) */
    bool failover;
    struct db_topic topics[DB_MAX_TOPICS];
    int ntopics;
    const char *bootstrap_file; /* borrowed: argv */
    const char *control_path;   /* borrowed: argv, may be NULL */
    bool made_fifo;
    bool wrote_bootstrap;
    bool quit;
    char line[DB_LINE_MAX]; /* partial control line */
    size_t line_len;
    bool line_overflow;
};

/* ------------------------------------------------------------------ */
/* Logging                                                            */
/* ------------------------------------------------------------------ */

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logmsg(const char *fmt, ...) {
    va_list ap;

    fputs("mailferry-devbroker: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    logmsg("rdkafka %d %s: %s", level, fac, buf);
}

static void
usage(FILE *f) {
    fputs("usage: mailferry-devbroker --bootstrap-file FILE [--brokers N]\n"
          "         [--topic NAME:PARTITIONS ...] [--topic-prefix P]\n"
          "         [--control FIFO]\n"
          "\n"
          "Runs librdkafka's mock Kafka cluster on 127.0.0.1 (random ports)\n"
          "and writes its bootstrap list to FILE once it is ready.\n"
          "Default topics: Pjobs:12 Presults:6 Pjobs.dlq:1 (P = mailferry.);\n"
          "--topic replaces the defaults. --brokers defaults to 3.\n"
          "\n"
          "Control commands (one per line on the FIFO):\n"
          "  broker down N|all   disconnect broker N, refuse connections;\n"
          "                      its partitions fail over to brokers still up\n"
          "  broker up N|all     accept connections again (leaders stay put)\n"
          "  failover on|off     whether `broker down` moves leaders\n"
          "  leader TOPIC PARTITION N   move a partition leader\n"
          "  coordinator group|transaction KEY N   pin a coordinator\n"
          "  error APIKEY ERRCODE COUNT   next COUNT requests of APIKEY fail\n"
          "                      (names or numbers: Produce, NOT_LEADER_...)\n"
          "  broker-error N APIKEY ERRCODE COUNT [RTT_MS]  same, on broker N\n"
          "  clear APIKEY        drop pending cluster-wide errors\n"
          "  rtt N|all MS        add MS of latency to broker N\n"
          "  leaders             log the partition leader table\n"
          "  quit                exit as on SIGTERM\n",
          f);
}

/* ------------------------------------------------------------------ */
/* Parsing helpers                                                    */
/* ------------------------------------------------------------------ */

static bool
parse_long(const char *s, long min, long max, long *v_r) {
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
    if (!parse_long(s, 0, INT16_MAX, &v))
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
    if (parse_long(s, -200, 1000, &v)) {
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
parse_broker(const struct devbroker *db, const char *s, bool allow_all,
             int32_t *id_r) {
    long v;

    if (allow_all && strcmp(s, "all") == 0) {
        *id_r = -1;
        return true;
    }
    if (!parse_long(s, 1, db->brokers, &v))
        return false;
    *id_r = (int32_t)v;
    return true;
}

/* ------------------------------------------------------------------ */
/* Leaders                                                            */
/* ------------------------------------------------------------------ */

static struct db_topic *
find_topic(struct devbroker *db, const char *name) {
    for (int i = 0; i < db->ntopics; i++)
        if (strcmp(db->topics[i].name, name) == 0)
            return &db->topics[i];
    return NULL;
}

static bool
set_leader(struct devbroker *db, struct db_topic *t, int p, int32_t id) {
    rd_kafka_resp_err_t err;

    err = rd_kafka_mock_partition_set_leader(db->mcluster, t->name, p, id);
    if (err) {
        logmsg("set leader %s [%d] -> %d failed: %s", t->name, p, (int)id,
               rd_kafka_err2name(err));
        return false;
    }
    t->leader[p] = id;
    return true;
}

/* Moves every partition led by a down broker to the brokers that are up,
 * spreading them round-robin. The mock keeps one log per partition, not
 * one per replica, so nothing is lost by the move. */
static void
fail_over(struct devbroker *db) {
    int32_t up_ids[DB_MAX_BROKERS];
    int nup = 0, next = 0, moved = 0;

    for (int32_t id = 1; id <= db->brokers; id++)
        if (db->up[id])
            up_ids[nup++] = id;
    if (nup == 0) {
        logmsg("failover: no broker is up, leaders stay where they are");
        return;
    }
    for (int i = 0; i < db->ntopics; i++) {
        struct db_topic *t = &db->topics[i];
        for (int p = 0; p < t->partitions; p++) {
            if (db->up[t->leader[p]])
                continue;
            set_leader(db, t, p, up_ids[next++ % nup]);
            moved++;
        }
    }
    logmsg("failover: moved %d partition leader(s)", moved);
}

static void
log_leaders(const struct devbroker *db) {
    for (int i = 0; i < db->ntopics; i++) {
        const struct db_topic *t = &db->topics[i];
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
        logmsg("leaders %s%s", t->name, buf);
    }
    for (int32_t id = 1; id <= db->brokers; id++)
        logmsg("broker %d is %s", (int)id, db->up[id] ? "up" : "down");
}

/* ------------------------------------------------------------------ */
/* Control commands                                                   */
/* ------------------------------------------------------------------ */

static bool
cmd_broker(struct devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;
    bool down;

    if (argc != 3 || !parse_broker(db, argv[2], true, &id) ||
        (strcmp(argv[1], "down") != 0 && strcmp(argv[1], "up") != 0)) {
        logmsg("usage: broker down|up N|all");
        return false;
    }
    down = strcmp(argv[1], "down") == 0;
    err = down ? rd_kafka_mock_broker_set_down(db->mcluster, id)
               : rd_kafka_mock_broker_set_up(db->mcluster, id);
    if (err) {
        logmsg("broker %s %s failed: %s", argv[1], argv[2],
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
cmd_error(struct devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err, *errs;
    int16_t key;
    long cnt;

    if (argc != 4 || !parse_apikey(argv[1], &key) ||
        !parse_errcode(argv[2], &err) || !parse_long(argv[3], 1, 10000, &cnt)) {
        logmsg("usage: error APIKEY ERRCODE COUNT");
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
    logmsg("next %ld request(s) with ApiKey %d fail with %s", cnt, (int)key,
           rd_kafka_err2name(err));
    return true;
}

static bool
cmd_broker_error(struct devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err, ret;
    int32_t id;
    int16_t key;
    long cnt, rtt = 0;

    if ((argc != 5 && argc != 6) || !parse_broker(db, argv[1], false, &id) ||
        !parse_apikey(argv[2], &key) || !parse_errcode(argv[3], &err) ||
        !parse_long(argv[4], 1, 10000, &cnt) ||
        (argc == 6 && !parse_long(argv[5], 0, 600000, &rtt))) {
        logmsg("usage: broker-error N APIKEY ERRCODE COUNT [RTT_MS]");
        return false;
    }
    /* The varargs API takes (err, rtt) pairs: push them one at a time. */
    for (long i = 0; i < cnt; i++) {
        ret = rd_kafka_mock_broker_push_request_error_rtts(
            db->mcluster, id, key, 1, err, (int)rtt);
        if (ret) {
            logmsg("broker-error failed: %s", rd_kafka_err2name(ret));
            return false;
        }
    }
    return true;
}

static bool
cmd_rtt(struct devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;
    long ms;

    if (argc != 3 || !parse_broker(db, argv[1], true, &id) ||
        !parse_long(argv[2], 0, 600000, &ms)) {
        logmsg("usage: rtt N|all MS");
        return false;
    }
    err = rd_kafka_mock_broker_set_rtt(db->mcluster, id, (int)ms);
    if (err) {
        logmsg("rtt failed: %s", rd_kafka_err2name(err));
        return false;
    }
    return true;
}

static bool
cmd_leader(struct devbroker *db, char **argv, int argc) {
    struct db_topic *t;
    int32_t id;
    long p;

    if (argc != 4 || !(t = find_topic(db, argv[1])) ||
        !parse_long(argv[2], 0, t->partitions - 1, &p) ||
        !parse_broker(db, argv[3], false, &id)) {
        logmsg("usage: leader TOPIC PARTITION N (known topic, partition)");
        return false;
    }
    return set_leader(db, t, (int)p, id);
}

static bool
cmd_coordinator(struct devbroker *db, char **argv, int argc) {
    rd_kafka_resp_err_t err;
    int32_t id;

    if (argc != 4 ||
        (strcmp(argv[1], "group") != 0 &&
         strcmp(argv[1], "transaction") != 0) ||
        !parse_broker(db, argv[3], false, &id)) {
        logmsg("usage: coordinator group|transaction KEY N");
        return false;
    }
    err = rd_kafka_mock_coordinator_set(db->mcluster, argv[1], argv[2], id);
    if (err) {
        logmsg("coordinator failed: %s", rd_kafka_err2name(err));
        return false;
    }
    return true;
}

static void
run_command(struct devbroker *db, char *line) {
    char *argv[8], *save = NULL, *tok;
    int argc = 0;
    bool ok = true;

    logmsg("command: %s", line);
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
            logmsg("usage: clear APIKEY");
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
            logmsg("usage: failover on|off");
    } else if (strcmp(argv[0], "leaders") == 0)
        log_leaders(db);
    else if (strcmp(argv[0], "quit") == 0)
        db->quit = true;
    else {
        logmsg("unknown command %s (see --help)", argv[0]);
        ok = false;
    }
    logmsg("%s: %s", ok ? "done" : "failed", argv[0]);
}

/* Splits what the FIFO delivered into lines; a line longer than the
 * buffer is dropped whole rather than run in pieces. */
static void
feed_control(struct devbroker *db, const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];

        if (c == '\n') {
            if (db->line_overflow)
                logmsg("control line too long, ignored");
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

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

static bool
add_topic(struct devbroker *db, const char *prefix, const char *name,
          long partitions) {
    struct db_topic *t;
    int n;

    if (db->ntopics == DB_MAX_TOPICS) {
        logmsg("too many topics (max %d)", DB_MAX_TOPICS);
        return false;
    }
    t = &db->topics[db->ntopics];
    n = snprintf(t->name, sizeof(t->name), "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof(t->name) || partitions < 1 ||
        partitions > DB_MAX_PARTITIONS) {
        logmsg("bad topic %s%s:%ld", prefix, name, partitions);
        return false;
    }
    t->partitions = (int)partitions;
    db->ntopics++;
    return true;
}

static bool
create_cluster(struct devbroker *db) {
    char errstr[512], num[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rf = db->brokers < 3 ? db->brokers : 3;

    /* test.mock.num.brokers makes this handle create the mock cluster and
     * point itself at it, so it can check readiness with a Metadata call. */
    snprintf(num, sizeof(num), "%d", db->brokers);
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "mailferry-devbroker", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        logmsg("config: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    db->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!db->rk) {
        logmsg("rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    db->mcluster = rd_kafka_handle_mock_cluster(db->rk);
    if (!db->mcluster) {
        logmsg("no mock cluster on the handle");
        return false;
    }

    for (int i = 0; i < db->ntopics; i++) {
        struct db_topic *t = &db->topics[i];
        rd_kafka_resp_err_t err;

        err = rd_kafka_mock_topic_create(db->mcluster, t->name, t->partitions,
                                         rf);
        if (err) {
            logmsg("create topic %s: %s", t->name, rd_kafka_err2name(err));
            return false;
        }
        /* Offset by topic so that the single-partition topics do not all
         * land on broker 1. */
        for (int p = 0; p < t->partitions; p++)
            set_leader(db, t, p, (int32_t)((p + i) % db->brokers + 1));
    }
    for (int32_t id = 1; id <= db->brokers; id++)
        db->up[id] = true;
    return true;
}

/* Ready means every topic is in the metadata with a leader on every
 * partition, as seen by a client connected to the bootstrap list. */
static bool
wait_ready(struct devbroker *db) {
    for (int attempt = 0; attempt < 50; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int found = 0;

        err = rd_kafka_metadata(db->rk, 1, NULL, &md, 2000);
        if (!err) {
            for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *mt = &md->topics[i];
                struct db_topic *t = find_topic(db, mt->topic);
                bool ok = t && !mt->err && mt->partition_cnt == t->partitions;

                for (int p = 0; ok && p < mt->partition_cnt; p++)
                    ok = mt->partitions[p].leader > 0;
                found += ok;
            }
            rd_kafka_metadata_destroy(md);
            if (found == db->ntopics)
                return true;
        }
        usleep(100 * 1000);
    }
    logmsg("cluster did not become ready");
    return false;
}

static bool
write_bootstrap(struct devbroker *db) {
    const char *bs = rd_kafka_mock_cluster_bootstraps(db->mcluster);
    char tmp[PATH_MAX];
    FILE *f;
    int n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", db->bootstrap_file,
                 (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        logmsg("bootstrap file path too long");
        return false;
    }
    f = fopen(tmp, "w");
    if (!f) {
        logmsg("open %s: %s", tmp, strerror(errno));
        return false;
    }
    fprintf(f, "%s\n", bs);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        logmsg("write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return false;
    }
    fclose(f);
    if (rename(tmp, db->bootstrap_file) != 0) {
        logmsg("rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    db->wrote_bootstrap = true;
    logmsg("ready: bootstrap %s (%d brokers) written to %s", bs, db->brokers,
           db->bootstrap_file);
    return true;
}

static int
open_control(struct devbroker *db) {
    struct stat st;
    int fd;

    if (mkfifo(db->control_path, 0600) == 0)
        db->made_fifo = true;
    else if (errno != EEXIST) {
        logmsg("mkfifo %s: %s", db->control_path, strerror(errno));
        return -1;
    }
    if (stat(db->control_path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        logmsg("%s exists and is not a FIFO", db->control_path);
        return -1;
    }
    /* O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF
     * when a client closes it and poll() does not spin on POLLHUP. */
    fd = open(db->control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        logmsg("open %s: %s", db->control_path, strerror(errno));
    return fd;
}

static int
parse_args(struct devbroker *db, int argc, char **argv) {
    const char *prefix = "mailferry.";
    const char *topics[DB_MAX_TOPICS];
    int ntopics = 0;
    long v;

    db->brokers = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (!val) {
            logmsg("%s needs a value", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--bootstrap-file") == 0)
            db->bootstrap_file = val;
        else if (strcmp(a, "--control") == 0)
            db->control_path = val;
        else if (strcmp(a, "--topic-prefix") == 0)
            prefix = val;
        else if (strcmp(a, "--brokers") == 0) {
            if (!parse_long(val, 1, DB_MAX_BROKERS, &v)) {
                logmsg("--brokers: 1..%d", DB_MAX_BROKERS);
                return -1;
            }
            db->brokers = (int)v;
        } else if (strcmp(a, "--topic") == 0) {
            if (ntopics == DB_MAX_TOPICS) {
                logmsg("too many --topic");
                return -1;
            }
            topics[ntopics++] = val;
        } else {
            logmsg("unknown option %s", a);
            usage(stderr);
            return -1;
        }
    }
    if (!db->bootstrap_file) {
        usage(stderr);
        return -1;
    }

    if (!add_topic(db, prefix, "jobs", 12) ||
        !add_topic(db, prefix, "results", 6) ||
        !add_topic(db, prefix, "jobs.dlq", 1))
        return -1;
    for (int i = 0; i < ntopics; i++) {
        /* NAME:PARTITIONS, the name taken as is (no prefix); a default
         * topic of that name gets the new partition count. */
        const char *colon = strrchr(topics[i], ':');
        struct db_topic *t;
        char name[250];

        if (!colon || colon == topics[i] ||
            (size_t)(colon - topics[i]) >= sizeof(name) ||
            !parse_long(colon + 1, 1, DB_MAX_PARTITIONS, &v)) {
            logmsg("--topic %s: want NAME:PARTITIONS", topics[i]);
            return -1;
        }
        memcpy(name, topics[i], (size_t)(colon - topics[i]));
        name[colon - topics[i]] = '\0';
        if ((t = find_topic(db, name)))
            t->partitions = (int)v;
        else if (!add_topic(db, "", name, v))
            return -1;
    }
    return 0;
}

int
main(int argc, char **argv) {
    static struct devbroker db; /* large: keep it off the stack */
    sigset_t mask;
    int sfd = -1, cfd = -1, rc = 1;

    db.failover = true;
    if (parse_args(&db, argc, argv) != 0)
        return 2;

    /* Block the signals before librdkafka starts its threads so that they
     * inherit the mask and only the signalfd sees them. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
        logmsg("sigprocmask: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        logmsg("signalfd: %s", strerror(errno));
        return 1;
    }
    if (db.control_path && (cfd = open_control(&db)) < 0)
        goto out;
    if (!create_cluster(&db) || !wait_ready(&db))
        goto out;
    log_leaders(&db);
    if (!write_bootstrap(&db))
        goto out;

    while (!db.quit) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                                {.fd = cfd, .events = POLLIN}};
        int n = poll(pfd, cfd >= 0 ? 2 : 1, 1000);

        if (n < 0 && errno != EINTR) {
            logmsg("poll: %s", strerror(errno));
            goto out;
        }
        /* Serve the handle's own queue (errors, stats) so it stays empty. */
        rd_kafka_poll(db.rk, 0);
        if (n <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                logmsg("signal %u, exiting", si.ssi_signo);
                db.quit = true;
            }
        }
        if (cfd >= 0 && (pfd[1].revents & POLLIN)) {
            char buf[1024];
            ssize_t r;
            while ((r = read(cfd, buf, sizeof(buf))) > 0)
                feed_control(&db, buf, (size_t)r);
        }
    }
    rc = 0;

out:
    if (db.wrote_bootstrap)
        unlink(db.bootstrap_file);
    if (cfd >= 0)
        close(cfd);
    if (db.made_fifo)
        unlink(db.control_path);
    if (sfd >= 0)
        close(sfd);
    /* Destroying the handle destroys the mock cluster it created. */
    if (db.rk)
        rd_kafka_destroy(db.rk);
    logmsg("stopped (exit %d)", rc);
    return rc;
}
