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
 * (see usage(); the commands live in control.c). The main loop polls a
 * signalfd (SIGTERM, SIGINT) and the FIFO; the FIFO is opened read-write
 * so that writers closing it never produce EOF. Everything is owned by
 * main() and its struct mf_devbroker (devbroker.h); there are no other
 * threads of ours (librdkafka runs its own).
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

#include "devbroker.h"

/* ------------------------------------------------------------------ */
/* Logging                                                            */
/* ------------------------------------------------------------------ */

void
mf__devbroker_log(const char *fmt, ...) {
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
    mf__devbroker_log("rdkafka %d %s: %s", level, fac, buf);
}

static void
usage(FILE *f) {
    fputs("usage: mailferry-devbroker --bootstrap-file FILE [--brokers N]\n"
          "         [--topic NAME:PARTITIONS ...] [--topic-prefix P]\n"
          "         [--control FIFO]\n"
          "\n"
          "Runs librdkafka's mock Kafka cluster on 127.0.0.1 (random ports)\n"
          "and writes its bootstrap list to FILE once it is ready.\n"
          "Topics: Pjobs:12 Presults:6 Pjobs.dlq:1 (P: --topic-prefix,\n"
          "default mailferry.) plus each --topic, its name taken as is (a\n"
          "default topic of the same name gets that partition count).\n"
          "--brokers defaults to 3; replication factor min(3, brokers).\n"
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
/* Setup                                                              */
/* ------------------------------------------------------------------ */

static bool
add_topic(struct mf_devbroker *db, const char *prefix, const char *name,
          long partitions) {
    struct mf_devbroker_topic *t;
    int n;

    if (db->ntopics == MF_DEVBROKER_MAX_TOPICS) {
        mf__devbroker_log("too many topics (max %d)", MF_DEVBROKER_MAX_TOPICS);
        return false;
    }
    t = &db->topics[db->ntopics];
    n = snprintf(t->name, sizeof(t->name), "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof(t->name) || partitions < 1 ||
        partitions > MF_DEVBROKER_MAX_PARTITIONS) {
        mf__devbroker_log("bad topic %s%s:%ld", prefix, name, partitions);
        return false;
    }
    t->partitions = (int)partitions;
    db->ntopics++;
    return true;
}

static bool
create_cluster(struct mf_devbroker *db) {
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
        mf__devbroker_log("config: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    db->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!db->rk) {
        mf__devbroker_log("rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    db->mcluster = rd_kafka_handle_mock_cluster(db->rk);
    if (!db->mcluster) {
        mf__devbroker_log("no mock cluster on the handle");
        return false;
    }

    for (int i = 0; i < db->ntopics; i++) {
        struct mf_devbroker_topic *t = &db->topics[i];
        rd_kafka_resp_err_t err;

        err = rd_kafka_mock_topic_create(db->mcluster, t->name, t->partitions,
                                         rf);
        if (err) {
            mf__devbroker_log("create topic %s: %s", t->name,
                              rd_kafka_err2name(err));
            return false;
        }
        /* Offset by topic so that the single-partition topics do not all
         * land on broker 1. */
        for (int p = 0; p < t->partitions; p++)
            mf__devbroker_set_leader(db, t, p,
                                     (int32_t)((p + i) % db->brokers + 1));
    }
    for (int32_t id = 1; id <= db->brokers; id++)
        db->up[id] = true;
    return true;
}

/* Ready means every topic is in the metadata with a leader on every
 * partition, as seen by a client connected to the bootstrap list. */
static bool
wait_ready(struct mf_devbroker *db) {
    for (int attempt = 0; attempt < 50; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int found = 0;

        err = rd_kafka_metadata(db->rk, 1, NULL, &md, 2000);
        if (!err) {
            for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *mt = &md->topics[i];
                struct mf_devbroker_topic *t =
                    mf__devbroker_find_topic(db, mt->topic);
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
    mf__devbroker_log("cluster did not become ready");
    return false;
}

static bool
write_bootstrap(struct mf_devbroker *db) {
    const char *bs = rd_kafka_mock_cluster_bootstraps(db->mcluster);
    char tmp[PATH_MAX];
    FILE *f;
    int n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", db->bootstrap_file,
                 (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        mf__devbroker_log("bootstrap file path too long");
        return false;
    }
    f = fopen(tmp, "w");
    if (!f) {
        mf__devbroker_log("open %s: %s", tmp, strerror(errno));
        return false;
    }
    fprintf(f, "%s\n", bs);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        mf__devbroker_log("write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return false;
    }
    fclose(f);
    if (rename(tmp, db->bootstrap_file) != 0) {
        mf__devbroker_log("rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    db->wrote_bootstrap = true;
    mf__devbroker_log("ready: bootstrap %s (%d brokers) written to %s", bs,
                      db->brokers, db->bootstrap_file);
    return true;
}

static int
open_control(struct mf_devbroker *db) {
    struct stat st;
    int fd;

    if (mkfifo(db->control_path, 0600) == 0)
        db->made_fifo = true;
    else if (errno != EEXIST) {
        mf__devbroker_log("mkfifo %s: %s", db->control_path, strerror(errno));
        return -1;
    }
    if (stat(db->control_path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        mf__devbroker_log("%s exists and is not a FIFO", db->control_path);
        return -1;
    }
    /* O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF
     * when a client closes it and poll() does not spin on POLLHUP. */
    fd = open(db->control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        mf__devbroker_log("open %s: %s", db->control_path, strerror(errno));
    return fd;
}

static int
parse_args(struct mf_devbroker *db, int argc, char **argv) {
    const char *prefix = "mailferry.";
    const char *topics[MF_DEVBROKER_MAX_TOPICS];
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
            mf__devbroker_log("%s needs a value", a);
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
            if (!mf__devbroker_parse_long(val, 1, MF_DEVBROKER_MAX_BROKERS,
                                          &v)) {
                mf__devbroker_log("--brokers: 1..%d", MF_DEVBROKER_MAX_BROKERS);
                return -1;
            }
            db->brokers = (int)v;
        } else if (strcmp(a, "--topic") == 0) {
            if (ntopics == MF_DEVBROKER_MAX_TOPICS) {
                mf__devbroker_log("too many --topic");
                return -1;
            }
            topics[ntopics++] = val;
        } else {
            mf__devbroker_log("unknown option %s", a);
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
        struct mf_devbroker_topic *t;
        char name[250];

        if (!colon || colon == topics[i] ||
            (size_t)(colon - topics[i]) >= sizeof(name) ||
            !mf__devbroker_parse_long(colon + 1, 1, MF_DEVBROKER_MAX_PARTITIONS,
                                      &v)) {
            mf__devbroker_log("--topic %s: want NAME:PARTITIONS", topics[i]);
            return -1;
        }
        memcpy(name, topics[i], (size_t)(colon - topics[i]));
        name[colon - topics[i]] = '\0';
        if ((t = mf__devbroker_find_topic(db, name)))
            t->partitions = (int)v;
        else if (!add_topic(db, "", name, v))
            return -1;
    }
    return 0;
}

int
main(int argc, char **argv) {
    static struct mf_devbroker db; /* large: keep it off the stack */
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
        mf__devbroker_log("sigprocmask: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        mf__devbroker_log("signalfd: %s", strerror(errno));
        return 1;
    }
    if (db.control_path && (cfd = open_control(&db)) < 0)
        goto out;
    if (!create_cluster(&db) || !wait_ready(&db))
        goto out;
    mf__devbroker_log_leaders(&db);
    if (!write_bootstrap(&db))
        goto out;

    while (!db.quit) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                                {.fd = cfd, .events = POLLIN}};
        int n = poll(pfd, cfd >= 0 ? 2 : 1, 1000);

        if (n < 0 && errno != EINTR) {
            mf__devbroker_log("poll: %s", strerror(errno));
            goto out;
        }
        /* Serve the handle's own queue (errors, stats) so it stays empty. */
        rd_kafka_poll(db.rk, 0);
        if (n <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                mf__devbroker_log("signal %u, exiting", si.ssi_signo);
                db.quit = true;
            }
        }
        if (cfd >= 0 && (pfd[1].revents & POLLIN)) {
            char buf[1024];
            ssize_t r;
            while ((r = read(cfd, buf, sizeof(buf))) > 0)
                mf__devbroker_feed_control(&db, buf, (size_t)r);
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
    mf__devbroker_log("stopped (exit %d)", rc);
    return rc;
}
