/*
 * Smoke test of the Kafka dev broker fixture (ctest integration.kafka.smoke).
 *
 * Phase 1: produce 100 keyed messages to mailferry.jobs (acks=all,
 * idempotent, every delivery report checked), then read them back with a
 * consumer in a consumer group (range assignor, manual commits) and check
 * that each arrived exactly once with the right payload.
 * Phase 2 uses the control FIFO: with broker 1 down (the devbroker moves
 * its partition leaders to the other brokers) produce 50 more and consume
 * them with a new member of the same group, which must start from the
 * committed offsets (nothing from phase 1 again); then bring broker 1 back,
 * give it a partition to lead again, produce and consume 50 more. Each
 * step waits until the metadata shows the change, since control commands
 * are applied asynchronously. The group's coordinator is pinned to broker
 * 2 first, because the mock hashes group ids onto brokers without looking
 * at whether they are up.
 */
#include "testenv.h"

#include "mailferry/util.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "mailferry.jobs"
#define TOTAL 200

struct smoke {
    char *bootstrap; /* owned */
    char *control;   /* owned */
    char group[64];
    int seen[TOTAL];     /* times each message was consumed */
    int delivered;       /* successful delivery reports */
    int delivery_failed; /* failed delivery reports */
};

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...) {
    va_list ap;

    fputs("smoke_kafka: FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void
set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[256];

    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", k, v, errstr);
}

/* Sends one command to the devbroker. O_NONBLOCK makes a missing reader
 * an error (ENXIO) instead of a hang. */
static void
control(struct smoke *s, const char *cmd) {
    char line[256];
    int fd, n;

    n = snprintf(line, sizeof(line), "%s\n", cmd);
    if (n < 0 || (size_t)n >= sizeof(line))
        die("control command too long");
    fd = open(s->control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("open %s: %s", s->control, strerror(errno));
    if (write(fd, line, (size_t)n) != n)
        die("write %s: %s", s->control, strerror(errno));
    close(fd);
    printf("control: %s\n", cmd);
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    struct smoke *s = opaque;

    (void)rk;
    if (m->err) {
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2name(m->err));
        s->delivery_failed++;
    } else {
        s->delivered++;
    }
}

static rd_kafka_t *
new_producer(struct smoke *s) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *rk;

    set(conf, "bootstrap.servers", s->bootstrap);
    set(conf, "acks", "all");
    /* Idempotence: a retry after a broker drops out must not duplicate. */
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    set(conf, "message.timeout.ms", "20000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, s);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        die("producer: %s", errstr);
    return rk;
}

static void
produce_range(struct smoke *s, int from, int to) {
    rd_kafka_t *rk = new_producer(s);
    int want = s->delivered + (to - from);
    double t0 = mf_monotonic_s();

    for (int i = from; i < to; i++) {
        char key[32], val[64];
        rd_kafka_resp_err_t err;

        snprintf(key, sizeof(key), "mbox-%d", i);
        snprintf(val, sizeof(val), "job %d payload", i);
        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, strlen(val)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
            die("produce %d: %s", i, rd_kafka_err2name(err));
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 25000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("flush timed out with %d in queue", rd_kafka_outq_len(rk));
    if (s->delivery_failed || s->delivered != want)
        die("delivered %d of %d, %d failed", s->delivered, want,
            s->delivery_failed);
    printf("produced %d..%d in %.1fs\n", from, to - 1, mf_monotonic_s() - t0);
    rd_kafka_destroy(rk);
}

/* Consumes with a fresh group member until messages [from, to) have all
 * arrived; anything outside that range or seen twice is a failure. */
static void
consume_range(struct smoke *s, int from, int to) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *topics;
    char errstr[256];
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;
    int got = 0;
    double t0 = mf_monotonic_s(), deadline = mf_monotonic_s() + 30;

    set(conf, "bootstrap.servers", s->bootstrap);
    set(conf, "group.id", s->group);
    set(conf, "partition.assignment.strategy", "range");
    set(conf, "session.timeout.ms", "6000");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk)
        die("consumer: %s", errstr);
    rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err)
        die("subscribe: %s", rd_kafka_err2name(err));

    while (got < to - from) {
        rd_kafka_message_t *m;
        char want[64];
        long idx;
        char *end;

        if (mf_monotonic_s() > deadline)
            die("consumed %d of %d (%d..%d) in 30s", got, to - from, from,
                to - 1);
        m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->key_len < 6 || m->key_len > 20 ||
            memcmp(m->key, "mbox-", 5) != 0) {
            /* Another test's message on the shared topic. */
            rd_kafka_message_destroy(m);
            continue;
        }
        {
            char key[24];
            memcpy(key, m->key, m->key_len);
            key[m->key_len] = '\0';
            errno = 0;
            idx = strtol(key + 5, &end, 10);
            if (errno || *end || idx < from || idx >= to)
                die("unexpected message %s (want %d..%d): redelivered?", key,
                    from, to - 1);
        }
        snprintf(want, sizeof(want), "job %ld payload", idx);
        if (m->len != strlen(want) || memcmp(m->payload, want, m->len) != 0)
            die("payload of message %ld differs", idx);
        if (++s->seen[idx] != 1)
            die("message %ld consumed %d times", idx, s->seen[idx]);
        got++;
        rd_kafka_message_destroy(m);
    }
    /* Commit what was read (synchronously) before leaving the group. */
    err = rd_kafka_commit(rk, NULL, 0);
    if (err)
        die("commit: %s", rd_kafka_err2name(err));
    printf("consumed %d..%d in %.1fs\n", from, to - 1, mf_monotonic_s() - t0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Waits until the cluster metadata shows broker `id` leading no partition
 * of TOPIC (want_leader false) or at least one (true): control commands
 * are applied asynchronously, and the mock can take a second per call. */
static void
wait_leadership(struct smoke *s, int32_t id, bool want_leader) {
    rd_kafka_t *rk = new_producer(s);
    double deadline = mf_monotonic_s() + 15;

    for (;;) {
        const struct rd_kafka_metadata *md;
        int led = -1;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) == 0) {
            led = 0;
            for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *t = &md->topics[i];
                if (strcmp(t->topic, TOPIC) != 0)
                    continue;
                for (int p = 0; p < t->partition_cnt; p++)
                    led += t->partitions[p].leader == id;
            }
            rd_kafka_metadata_destroy(md);
        }
        if (led >= 0 && (led > 0) == want_leader)
            break;
        if (mf_monotonic_s() > deadline)
            die("broker %d still %s partitions of %s", (int)id,
                want_leader ? "leads no" : "leads", TOPIC);
        usleep(200 * 1000);
    }
    rd_kafka_destroy(rk);
}

int
main(void) {
    static struct smoke s;
    char cmd[128];
    double t0 = mf_monotonic_s();

    s.bootstrap = mf_testenv_get("kafka", "KAFKA_BOOTSTRAP");
    s.control = mf_testenv_get("kafka", "KAFKA_CONTROL");
    if (!s.bootstrap || !s.control)
        die("kafka.env lacks KAFKA_BOOTSTRAP/KAFKA_CONTROL (fixture down?)");
    snprintf(s.group, sizeof(s.group), "mf-smoke-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    printf("bootstrap %s, group %s\n", s.bootstrap, s.group);

    snprintf(cmd, sizeof(cmd), "coordinator group %s 2", s.group);
    control(&s, cmd);

    /* Phase 1: everything up. */
    produce_range(&s, 0, 100);
    consume_range(&s, 0, 100);

    /* Phase 2: broker 1 down, then up again. */
    wait_leadership(&s, 1, true);
    control(&s, "broker down 1");
    wait_leadership(&s, 1, false);
    produce_range(&s, 100, 150);
    consume_range(&s, 100, 150);
    control(&s, "broker up 1");
    /* Leaders stay where failover put them; hand one back to broker 1 so
     * that the last phase also goes through the broker that came back. */
    control(&s, "leader " TOPIC " 0 1");
    wait_leadership(&s, 1, true);
    produce_range(&s, 150, TOTAL);
    consume_range(&s, 150, TOTAL);

    for (int i = 0; i < TOTAL; i++)
        if (s.seen[i] != 1)
            die("message %d seen %d times", i, s.seen[i]);
    printf("ok: %d messages, each exactly once, %.1fs\n", TOTAL,
           mf_monotonic_s() - t0);
    free(s.bootstrap);
    free(s.control);
    return 0;
}
