/*
 * The Kafka transport (core/src/kafka) against the dev broker fixture
 * (ctest integration.kafka.transport; fixture "kafka": KAFKA_BOOTSTRAP,
 * KAFKA_CONTROL).
 *
 * Jobs are real envelopes keyed "<batch>/<mailbox>" on <prefix>.jobs.
 * Other tests share the fixture and its topics, so every test uses a
 * batch name unique to this run and skips (but commits) messages of
 * other batches. Group coordinators are pinned to broker 2, which no
 * test takes down (the mock places coordinators without looking at which
 * brokers are up).
 *
 *   group:   two consumers in one group share 100 jobs, each consumed and
 *            committed exactly once; the rebalance hooks see the
 *            partitions come and go; after both leave, a new member gets
 *            only what was produced later.
 *   outage:  broker 1 goes down while jobs are in flight and comes back;
 *            the idempotent producer loses and duplicates nothing.
 *   pause:   a paused member receives nothing and keeps its partitions;
 *            after resuming it receives what came meanwhile.
 *   room:    mf_kafka_producer_wait_room() returns once at most the given
 *            number of messages wait, and times out when that never
 *            happens (what bounds `batch start`'s memory, produce.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/envelope.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PARTITIONS 12 /* of mailferry.jobs in the dev broker */
#define MAXJOBS 200

struct env {
    char *bootstrap; /* owned */
    char *control;   /* owned */
    char run[64];    /* unique per run */
    struct mf_config *cfg;
    struct mf_kafka_topics topics;
};

static struct env E;

/* Sends one line to the devbroker's control FIFO. */
static void
control(const char *fmt, ...) {
    char line[256];
    va_list ap;
    int fd, n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(line) - 1);
    line[n++] = '\n';
    fd = open(E.control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open %s: %s", E.control, strerror(errno));
    assert_int_equal(write(fd, line, (size_t)n), n);
    close(fd);
    printf("control: %.*s", n, line);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                               */
/* ------------------------------------------------------------------ */

struct batch {
    char name[96];
    int n;             /* jobs produced */
    int seen[MAXJOBS]; /* times each was consumed */
    int by[MAXJOBS];   /* which consumer took it (1-based) */
    int total;         /* ours consumed */
    /* Its commit failed because the group was rebalancing: Kafka may
     * deliver it once more (at least once); the worker's claim in Redis
     * is what keeps it from running twice. */
    bool uncommitted[MAXJOBS];
};

static void
produce_jobs(struct mf_kafka_producer *p, struct batch *b, int from, int to) {
    struct mf_error err = {0};

    for (int i = from; i < to; i++) {
        struct mf_envelope env;
        uint8_t *buf;
        size_t len;
        char *key;

        mf_envelope_init(&env, MF_ENVELOPE_JOB, "test_transport");
        env.job.batch = mf_xstrdup(b->name);
        env.job.mailbox = mf_xasprintf("m%d@example.org", i);
        env.job.job_id = mf_xasprintf("%s/%d", b->name, i);
        env.job.attempt = 1;
        env.job.kind = MF_JOB_KIND_INITIAL;
        assert_int_equal(mf_envelope_pack(&env, &buf, &len, &err), MF_E_OK);
        key = mf_envelope_key(env.job.batch, env.job.mailbox);
        if (mf_kafka_produce(p, E.topics.jobs, key, strlen(key), buf, len, NULL,
                             &err) != MF_E_OK)
            fail_msg("produce %d: %s", i, err.detail);
        free(key);
        free(buf);
        mf_envelope_clear(&env);
    }
    if (to > b->n)
        b->n = to;
}

/* Decodes m; returns the job index if it belongs to b, else -1. Checks
 * that the key matches the envelope. */
static int
job_index(const struct batch *b, const struct mf_kafka_message *m) {
    struct mf_envelope env;
    struct mf_error err = {0};
    char *key;
    int idx = -1;

    if (mf_envelope_unpack(m->value, m->value_len, 0, &env, &err) != MF_E_OK)
        return -1; /* another test's payload */
    if (env.body == MF_ENVELOPE_JOB && strcmp(env.job.batch, b->name) == 0) {
        key = mf_envelope_key(env.job.batch, env.job.mailbox);
        assert_int_equal(m->key_len, strlen(key));
        assert_memory_equal(m->key, key, m->key_len);
        free(key);
        if (sscanf(env.job.mailbox, "m%d@", &idx) != 1 || idx < 0 ||
            idx >= MAXJOBS)
            fail_msg("bad mailbox %s", env.job.mailbox);
    }
    mf_envelope_clear(&env);
    return idx;
}

/* Polls c once: a job of b is counted (and must be new), every message
 * is committed. Returns the job index or -1. */
static int
poll_one(struct mf_kafka_consumer *c, int who, struct batch *b,
         int timeout_ms) {
    struct mf_kafka_message *m = NULL;
    struct mf_error err = {0};
    int idx;

    if (mf_kafka_consumer_poll(c, timeout_ms, &m, &err) != MF_E_OK) {
        printf("consumer %d: %s: %s\n", who, mf_err_name(err.code), err.detail);
        return -1;
    }
    if (!m)
        return -1;
    idx = job_index(b, m);
    if (idx >= 0) {
        if (b->seen[idx] == 0) {
            b->seen[idx] = 1;
            b->total++;
        } else if (!b->uncommitted[idx]) {
            fail_msg("job %d consumed twice (consumers %d and %d)", idx,
                     b->by[idx], who);
        } /* else: the redelivery of a job whose commit was refused */
        b->uncommitted[idx] = false;
        b->by[idx] = who;
    }
    /* Claim, then commit: here the claim is the seen[] entry. A commit
     * refused while the group rebalances is normal (the offset goes back
     * to the last committed one); anything else is an error. */
    if (mf_kafka_consumer_commit(c, m, &err) != MF_E_OK) {
        if (!strstr(err.detail, "REBALANCE_IN_PROGRESS") &&
            !strstr(err.detail, "ILLEGAL_GENERATION"))
            fail_msg("consumer %d: %s", who, err.detail);
        printf("consumer %d: commit refused during a rebalance: %s\n", who,
               err.detail);
        if (idx >= 0)
            b->uncommitted[idx] = true;
    }
    mf_kafka_message_free(&m);
    return idx;
}

/* ------------------------------------------------------------------ */
/* Consumers                                                          */
/* ------------------------------------------------------------------ */

struct member {
    int id;
    int assigned_events, revoked_events, lost_events;
    int partitions; /* per the callback */
};

static void
on_rebalance(void *ud, enum mf_kafka_rebalance ev,
             const struct mf_kafka_partition *parts, size_t n) {
    struct member *mb = ud;

    for (size_t i = 0; i < n; i++)
        assert_string_equal(parts[i].topic, E.topics.jobs);
    switch (ev) {
    case MF_KAFKA_ASSIGNED:
        mb->assigned_events++;
        mb->partitions = (int)n; /* eager protocol: the whole assignment */
        break;
    case MF_KAFKA_REVOKED:
        mb->revoked_events++;
        mb->partitions = 0;
        break;
    case MF_KAFKA_LOST:
        mb->lost_events++;
        mb->partitions = 0;
        break;
    }
    printf("consumer %d: %s %zu partitions\n", mb->id,
           ev == MF_KAFKA_ASSIGNED ? "assigned" : "revoked/lost", n);
}

static struct mf_kafka_consumer *
new_consumer(const char *group, struct member *mb) {
    const char *topics[] = {E.topics.jobs};
    struct mf_kafka_consumer_params params = {
        .client_id = "test_transport",
        .group_id = group,
        .topics = topics,
        .ntopics = 1,
        .on_rebalance = on_rebalance,
        .ud = mb,
    };
    struct mf_kafka_consumer *c = NULL;
    struct mf_error err = {0};

    if (mf_kafka_consumer_new(E.cfg, &params, &c, &err) != MF_E_OK)
        fail_msg("consumer: %s", err.detail);
    return c;
}

static struct mf_kafka_producer *
new_producer(void) {
    struct mf_kafka_producer *p = NULL;
    struct mf_error err = {0};

    if (mf_kafka_producer_new(E.cfg, "test_transport", NULL, NULL, &p, &err) !=
        MF_E_OK)
        fail_msg("producer: %s", err.detail);
    return p;
}

static void
flush(struct mf_kafka_producer *p, int timeout_ms) {
    struct mf_error err = {0};

    if (mf_kafka_producer_flush(p, timeout_ms, &err) != MF_E_OK)
        fail_msg("flush: %s: %s", mf_err_name(err.code), err.detail);
}

/* Polls the members in turn until all PARTITIONS are assigned and each
 * member has some. Messages that arrive meanwhile are handled. */
static void
wait_assigned(struct mf_kafka_consumer **cs, int n, struct batch *b) {
    double deadline = mf_monotonic_s() + 40;

    for (;;) {
        size_t sum = 0;
        bool each = true;
        for (int i = 0; i < n; i++) {
            poll_one(cs[i], i + 1, b, 100);
            sum += mf_kafka_consumer_assigned(cs[i]);
            each = each && mf_kafka_consumer_assigned(cs[i]) > 0;
        }
        if (sum == PARTITIONS && each)
            return;
        if (mf_monotonic_s() > deadline)
            fail_msg("group did not settle: %zu partitions assigned", sum);
    }
}

/* Polls the members in turn until b->total reaches want. */
static void
consume_until(struct mf_kafka_consumer **cs, int n, struct batch *b, int want,
              double seconds) {
    double deadline = mf_monotonic_s() + seconds;

    while (b->total < want) {
        for (int i = 0; i < n; i++)
            poll_one(cs[i], i + 1, b, 50);
        if (mf_monotonic_s() > deadline)
            fail_msg("consumed %d of %d jobs of %s", b->total, want, b->name);
    }
}

static void
close_consumer(struct mf_kafka_consumer **c) {
    struct mf_error err = {0};

    if (mf_kafka_consumer_close(*c, &err) != MF_E_OK)
        fail_msg("close: %s", err.detail);
    assert_int_equal(mf_kafka_consumer_close(*c, &err), MF_E_OK);
    mf_kafka_consumer_free(c);
    assert_null(*c);
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

static void
test_group(void **state) {
    static struct batch b;
    struct member m1 = {.id = 1}, m2 = {.id = 2}, m3 = {.id = 3};
    struct mf_kafka_consumer *cs[2];
    struct mf_kafka_producer *p = new_producer();
    char group[128];
    int by1 = 0, by2 = 0;
    double t0 = mf_monotonic_s();

    (void)state;
    snprintf(b.name, sizeof(b.name), "%s-group", E.run);
    snprintf(group, sizeof(group), "%s-g1", E.run);
    control("coordinator group %s 2", group);
    cs[0] = new_consumer(group, &m1);
    cs[1] = new_consumer(group, &m2);
    wait_assigned(cs, 2, &b);
    printf("group settled in %.1fs\n", mf_monotonic_s() - t0);
    assert_true(m1.assigned_events > 0 && m2.assigned_events > 0);
    assert_int_equal(m1.partitions + m2.partitions, PARTITIONS);

    produce_jobs(p, &b, 0, 100);
    flush(p, 30000);
    consume_until(cs, 2, &b, 100, 60);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(b.seen[i], 1);
        by1 += b.by[i] == 1;
        by2 += b.by[i] == 2;
    }
    printf("consumer 1 took %d jobs, consumer 2 took %d\n", by1, by2);
    assert_true(by1 > 0 && by2 > 0);
    /* Nothing more of ours comes. */
    for (int i = 0; i < 10; i++) {
        poll_one(cs[0], 1, &b, 50);
        poll_one(cs[1], 2, &b, 50);
    }
    assert_int_equal(b.total, 100);

    close_consumer(&cs[1]);
    assert_true(m2.revoked_events > 0);
    close_consumer(&cs[0]);
    assert_true(m1.revoked_events > 0);

    /* A new member resumes from the committed offsets: it never sees the
     * first 100 again, only the 20 produced now. */
    cs[0] = new_consumer(group, &m3);
    wait_assigned(cs, 1, &b);
    produce_jobs(p, &b, 100, 120);
    flush(p, 30000);
    consume_until(cs, 1, &b, 120, 60);
    for (int i = 0; i < 40; i++)
        poll_one(cs[0], 3, &b, 50);
    assert_int_equal(b.total, 120);
    for (int i = 0; i < 120; i++)
        assert_int_equal(b.seen[i], 1);
    close_consumer(&cs[0]);
    mf_kafka_producer_free(&p);
    printf("group test %.1fs\n", mf_monotonic_s() - t0);
}

/* Waits until broker id leads at least one partition of the jobs topic
 * (want true) or none (false), per the cluster's metadata. */
static void
wait_leadership(int32_t id, bool want) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *rk;
    double deadline = mf_monotonic_s() + 20;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", E.bootstrap,
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    for (;;) {
        const struct rd_kafka_metadata *md;
        int led = -1;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) == 0) {
            led = 0;
            for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, E.topics.jobs) == 0)
                    for (int p = 0; p < md->topics[i].partition_cnt; p++)
                        led += md->topics[i].partitions[p].leader == id;
            rd_kafka_metadata_destroy(md);
        }
        if (led >= 0 && (led > 0) == want)
            break;
        if (mf_monotonic_s() > deadline)
            fail_msg("broker %d %s", (int)id,
                     want ? "never led a partition" : "kept its partitions");
        usleep(200 * 1000);
    }
    rd_kafka_destroy(rk);
}

static void
test_outage(void **state) {
    static struct batch b;
    struct member m1 = {.id = 1};
    struct mf_kafka_consumer *c;
    struct mf_kafka_producer *p = new_producer();
    char group[128];
    double t0 = mf_monotonic_s();

    (void)state;
    snprintf(b.name, sizeof(b.name), "%s-outage", E.run);
    snprintf(group, sizeof(group), "%s-g2", E.run);
    control("coordinator group %s 2", group);
    control("leader %s 0 1", E.topics.jobs);
    wait_leadership(1, true);

    /* Jobs in flight while broker 1 goes away. */
    produce_jobs(p, &b, 0, 50);
    control("broker down 1");
    for (int i = 50; i < 100; i += 5) {
        produce_jobs(p, &b, i, i + 5);
        mf_kafka_producer_poll(p, 100);
    }
    flush(p, 60000);
    wait_leadership(1, false);
    produce_jobs(p, &b, 100, 130);
    flush(p, 60000);
    control("broker up 1");
    control("leader %s 0 1", E.topics.jobs);
    wait_leadership(1, true);
    produce_jobs(p, &b, 130, 150);
    flush(p, 60000);
    printf("produced 150 jobs across the outage in %.1fs\n",
           mf_monotonic_s() - t0);

    c = new_consumer(group, &m1);
    consume_until(&c, 1, &b, 150, 60);
    for (int i = 0; i < 40; i++)
        poll_one(c, 1, &b, 50);
    for (int i = 0; i < 150; i++)
        if (b.seen[i] != 1)
            fail_msg("job %d seen %d times", i, b.seen[i]);
    assert_int_equal(b.total, 150);
    close_consumer(&c);
    mf_kafka_producer_free(&p);
    printf("outage test %.1fs\n", mf_monotonic_s() - t0);
}

static void
test_pause(void **state) {
    static struct batch b;
    struct member m1 = {.id = 1};
    struct mf_kafka_consumer *c;
    struct mf_kafka_producer *p = new_producer();
    struct mf_error err = {0};
    char group[128];
    uint64_t lag0 = 0, lag1 = 0;
    double t;

    (void)state;
    snprintf(b.name, sizeof(b.name), "%s-pause", E.run);
    snprintf(group, sizeof(group), "%s-g3", E.run);
    control("coordinator group %s 2", group);
    c = new_consumer(group, &m1);
    /* Paused before the assignment: the new partitions start paused. */
    assert_int_equal(mf_kafka_consumer_pause(c, true, &err), MF_E_OK);
    wait_assigned(&c, 1, &b);
    produce_jobs(p, &b, 0, 10);
    flush(p, 30000);
    for (t = mf_monotonic_s(); mf_monotonic_s() < t + 3;)
        poll_one(c, 1, &b, 100);
    assert_int_equal(b.total, 0);
    assert_int_equal(mf_kafka_consumer_assigned(c), PARTITIONS);
    assert_int_equal(mf_kafka_consumer_pause(c, false, &err), MF_E_OK);
    consume_until(&c, 1, &b, 10, 30);
    /* Pause again mid-stream: nothing more until resumed, and the lag,
     * asked of the brokers (a paused partition's cached watermark stands
     * still), rises by the messages that wait. */
    assert_int_equal(mf_kafka_consumer_pause(c, true, &err), MF_E_OK);
    assert_int_equal(mf_kafka_consumer_lag(c, 2000, &lag0, &err), MF_E_OK);
    produce_jobs(p, &b, 10, 20);
    flush(p, 30000);
    assert_int_equal(mf_kafka_consumer_lag(c, 2000, &lag1, &err), MF_E_OK);
    assert_int_equal(lag1 - lag0, 10);
    for (t = mf_monotonic_s(); mf_monotonic_s() < t + 2;)
        poll_one(c, 1, &b, 100);
    assert_int_equal(b.total, 10);
    assert_int_equal(mf_kafka_consumer_pause(c, false, &err), MF_E_OK);
    consume_until(&c, 1, &b, 20, 30);
    close_consumer(&c);
    /* A closed consumer refuses to poll. */
    mf_kafka_producer_free(&p);
}

static void
test_room(void **state) {
    static struct batch b;
    struct mf_kafka_producer *p = new_producer();
    struct mf_error err = {0};
    double t;

    (void)state;
    snprintf(b.name, sizeof(b.name), "%s-room", E.run);
    produce_jobs(p, &b, 0, MAXJOBS);
    assert_int_equal(mf_kafka_producer_wait_room(p, 20, 30000, &err), MF_E_OK);
    assert_true(mf_kafka_producer_outq_len(p) <= 20);
    flush(p, 30000);
    assert_int_equal(mf_kafka_producer_outq_len(p), 0);
    /* Never fewer than -1 waiting: a timeout, and the producer stays
     * usable. */
    t = mf_monotonic_s();
    assert_int_equal(mf_kafka_producer_wait_room(p, -1, 300, &err),
                     MF_E_KAFKA_UNAVAILABLE);
    assert_true(mf_monotonic_s() - t >= 0.29);
    assert_non_null(strstr(err.detail, "undelivered after 300 ms"));
    mf_kafka_producer_free(&p);
}

static int
setup(void **state) {
    struct mf_error err = {0};

    (void)state;
    E.bootstrap = mf_testenv_get("kafka", "KAFKA_BOOTSTRAP");
    E.control = mf_testenv_get("kafka", "KAFKA_CONTROL");
    if (!E.bootstrap || !E.control) {
        fprintf(stderr, "kafka.env lacks KAFKA_BOOTSTRAP/KAFKA_CONTROL\n");
        return -1;
    }
    snprintf(E.run, sizeof(E.run), "it-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    E.cfg = mf_config_new();
    mf_config_set_flag(E.cfg, "kafka", E.bootstrap);
    mf_config_set_flag(E.cfg, "kafka.session.timeout.ms", "6000");
    mf_config_set_flag(E.cfg, "kafka.message.timeout.ms", "60000");
    if (mf_kafka_topics_from_config(E.cfg, &E.topics, &err) != MF_E_OK)
        return -1;
    printf("bootstrap %s, run %s\n", E.bootstrap, E.run);
    return 0;
}

static int
teardown(void **state) {
    (void)state;
    mf_config_free(&E.cfg);
    free(E.bootstrap);
    free(E.control);
    return 0;
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_room),
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, setup, teardown);
}
