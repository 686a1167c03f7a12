/*
 * Kafka configuration (core/src/kafka/conf.c) and the parts of the
 * producer that need no broker: topic names, kafka.* pass-through from
 * flags, environment and secret files, pinned properties, error mapping,
 * and delivery failures reported when nothing listens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kafka/kafka_int.h"
#include "mailferry/config.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
get(rd_kafka_conf_t *conf, const char *name) {
    static char val[512];
    size_t n = sizeof(val);

    if (rd_kafka_conf_get(conf, name, val, &n) != RD_KAFKA_CONF_OK)
        return NULL;
    return val;
}

static mf_err
build(struct mf_config *cfg, enum mf__kafka_role role, rd_kafka_conf_t **conf_r,
      struct mf_error *err) {
    *conf_r = NULL;
    return mf__kafka_conf_new(cfg, role, "test", "g1", NULL, conf_r, err);
}

static void
test_topics(void **state) {
    struct mf_kafka_topics t;
    struct mf_error err = {0};
    struct mf_config *cfg = mf_config_new();
    char longp[300];

    (void)state;
    assert_int_equal(mf_kafka_topics_init(&t, NULL, &err), MF_E_OK);
    assert_string_equal(t.jobs, "mailferry.jobs");
    assert_string_equal(t.results, "mailferry.results");
    assert_string_equal(t.dlq, "mailferry.jobs.dlq");
    assert_int_equal(mf_kafka_topics_from_config(cfg, &t, &err), MF_E_OK);
    assert_string_equal(t.jobs, "mailferry.jobs");
    mf_config_set_flag(cfg, "topic-prefix", "acme-prod");
    assert_int_equal(mf_kafka_topics_from_config(cfg, &t, &err), MF_E_OK);
    assert_string_equal(t.results, "acme-prod.results");
    assert_string_equal(t.dlq, "acme-prod.jobs.dlq");
    assert_int_equal(mf_kafka_topics_init(&t, "a b", &err), MF_E_CONFIG);
    assert_int_equal(mf_kafka_topics_init(&t, "a/b", &err), MF_E_CONFIG);
    memset(longp, 'x', 241);
    longp[241] = '\0';
    assert_int_equal(mf_kafka_topics_init(&t, longp, &err), MF_E_CONFIG);
    longp[240] = '\0'; /* 240 + ".jobs.dlq" = 249 */
    assert_int_equal(mf_kafka_topics_init(&t, longp, &err), MF_E_OK);
    mf_config_free(&cfg);
}

static void
test_pass_through(void **state) {
    struct mf_config *cfg = mf_config_new();
    struct mf_error err = {0};
    rd_kafka_conf_t *conf;
    char path[] = "/tmp/mf-kafka-secret.XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pa55word\n", 9), 9);
    close(fd);

    /* No brokers at all. */
    assert_int_equal(build(cfg, MF__KAFKA_PRODUCER, &conf, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "--kafka"));

    mf_config_set_flag(cfg, "kafka", "127.0.0.1:9092,127.0.0.1:9093");
    mf_config_set_flag(cfg, "kafka.linger.ms", "7");
    mf_config_set_flag(cfg, "kafka.acks", "-1");
    mf_config_set_flag(cfg, "kafka.sasl.password-file", path);
    setenv("MAILFERRY_KAFKA_SOCKET_KEEPALIVE_ENABLE", "true", 1);
    assert_int_equal(build(cfg, MF__KAFKA_PRODUCER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "bootstrap.servers"),
                        "127.0.0.1:9092,127.0.0.1:9093");
    assert_string_equal(get(conf, "client.id"), "test");
    assert_string_equal(get(conf, "linger.ms"), "7");
    assert_string_equal(get(conf, "enable.idempotence"), "true");
    assert_string_equal(get(conf, "socket.keepalive.enable"), "true");
    assert_string_equal(get(conf, "sasl.password"), "pa55word");
    rd_kafka_conf_destroy(conf);
    unsetenv("MAILFERRY_KAFKA_SOCKET_KEEPALIVE_ENABLE");

    /* Consumer defaults, and kafka.* overriding them. */
    assert_int_equal(build(cfg, MF__KAFKA_CONSUMER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "group.id"), "g1");
    /* librdkafka spells earliest "smallest". */
    assert_string_equal(get(conf, "auto.offset.reset"), "smallest");
    assert_string_equal(get(conf, "enable.auto.commit"), "false");
    rd_kafka_conf_destroy(conf);
    mf_config_set_flag(cfg, "kafka.group.id", "fleet-2");
    mf_config_set_flag(cfg, "kafka.auto.offset.reset", "latest");
    mf_config_set_flag(cfg, "kafka.bootstrap.servers", "10.0.0.1:9092");
    assert_int_equal(build(cfg, MF__KAFKA_CONSUMER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "group.id"), "fleet-2");
    assert_string_equal(get(conf, "auto.offset.reset"), "largest");
    assert_string_equal(get(conf, "bootstrap.servers"), "10.0.0.1:9092");
    rd_kafka_conf_destroy(conf);

    /* A secret file that is missing. */
    unlink(path);
    assert_int_equal(build(cfg, MF__KAFKA_PRODUCER, &conf, &err),
                     MF_E_SECRET_FILE);
    mf_config_free(&cfg);
}

static void
test_refused(void **state) {
    static const struct {
        enum mf__kafka_role role;
        const char *key, *value, *detail;
    } bad[] = {
        {MF__KAFKA_PRODUCER, "kafka.acks", "1", "must be all"},
        {MF__KAFKA_PRODUCER, "kafka.enable.idempotence", "false", "must be"},
        {MF__KAFKA_CONSUMER, "kafka.enable.auto.commit", "true", "must be"},
        {MF__KAFKA_PRODUCER, "kafka.no.such.property", "1", "No such"},
        {MF__KAFKA_PRODUCER, "kafka.linger.ms", "soon", "kafka.linger.ms"},
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        struct mf_config *cfg = mf_config_new();
        struct mf_error err = {0};
        rd_kafka_conf_t *conf;

        mf_config_set_flag(cfg, "kafka", "127.0.0.1:9092");
        mf_config_set_flag(cfg, bad[i].key, bad[i].value);
        if (build(cfg, bad[i].role, &conf, &err) != MF_E_CONFIG)
            fail_msg("accepted %s=%s", bad[i].key, bad[i].value);
        if (!strstr(err.detail, bad[i].detail))
            fail_msg("%s: detail \"%s\" lacks \"%s\"", bad[i].key, err.detail,
                     bad[i].detail);
        mf_config_free(&cfg);
    }
}

static void
test_errors(void **state) {
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf__kafka_code(RD_KAFKA_RESP_ERR__TRANSPORT),
                     MF_E_KAFKA_UNAVAILABLE);
    assert_int_equal(mf__kafka_code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT),
                     MF_E_KAFKA_UNAVAILABLE);
    assert_int_equal(mf__kafka_code(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION),
                     MF_E_KAFKA);
    assert_int_equal(mf__kafka_code(RD_KAFKA_RESP_ERR_NO_ERROR), MF_E_OK);
    assert_int_equal(mf__kafka_error(&err, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
                                     "commit", NULL),
                     MF_E_KAFKA);
    assert_non_null(strstr(err.detail, "commit: ILLEGAL_GENERATION: "));
}

struct deliveries {
    int ok, failed;
    char detail[MF_ERROR_DETAIL_MAX];
};

static void
on_delivery(void *ud, void *opaque, const struct mf_error *result) {
    struct deliveries *d = ud;

    assert_ptr_equal(opaque, d);
    if (result->code == MF_E_OK) {
        d->ok++;
    } else {
        d->failed++;
        snprintf(d->detail, sizeof(d->detail), "%s", result->detail);
    }
}

/* Nothing listens on the bootstrap port: messages queue, flush times out,
 * then they fail with _MSG_TIMED_OUT after message.timeout.ms. */
static void
test_no_broker(void **state) {
    struct mf_config *cfg = mf_config_new();
    struct mf_kafka_producer *p = NULL;
    struct mf_error err = {0};
    struct deliveries d = {0};

    (void)state;
    mf_config_set_flag(cfg, "kafka", "127.0.0.1:1");
    mf_config_set_flag(cfg, "kafka.message.timeout.ms", "1500");
    mf_config_set_flag(cfg, "kafka.log_level", "0"); /* quiet */
    assert_int_equal(
        mf_kafka_producer_new(cfg, NULL, on_delivery, &d, &p, &err), MF_E_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            mf_kafka_produce(p, "mailferry.jobs", "k", 1, "v", 1, &d, &err),
            MF_E_OK);
    assert_int_equal(mf_kafka_producer_outq_len(p), 3);
    assert_int_equal(mf_kafka_producer_flush(p, 200, &err),
                     MF_E_KAFKA_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "still undelivered"));
    assert_int_equal(mf_kafka_producer_flush(p, 10000, &err),
                     MF_E_KAFKA_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "3 message(s) not delivered"));
    assert_non_null(strstr(err.detail, "_MSG_TIMED_OUT"));
    assert_int_equal(d.failed, 3);
    assert_int_equal(d.ok, 0);
    assert_non_null(strstr(d.detail, "mailferry.jobs"));
    /* The failure count was reset. */
    assert_int_equal(mf_kafka_producer_flush(p, 100, &err), MF_E_OK);
    /* Free drops what is still queued, with a callback for each. */
    assert_int_equal(
        mf_kafka_produce(p, "mailferry.jobs", NULL, 0, "v", 1, &d, &err),
        MF_E_OK);
    mf_kafka_producer_free(&p);
    assert_null(p);
    assert_int_equal(d.failed, 4);
    mf_kafka_producer_free(&p);
    mf_config_free(&cfg);
}

/* Consumers join with mailferry's group timing and the eager assignors
 * unless kafka.* says otherwise; an instance id makes the member
 * static (KIP-345); producers get none of it. */
static void
test_group_defaults(void **state) {
    struct mf_config *cfg = mf_config_new();
    struct mf_error err = {0};
    rd_kafka_conf_t *conf;

    (void)state;
    mf_config_set_flag(cfg, "kafka", "127.0.0.1:9092");
    assert_int_equal(build(cfg, MF__KAFKA_CONSUMER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "session.timeout.ms"), "6000");
    assert_string_equal(get(conf, "heartbeat.interval.ms"), "1000");
    assert_string_equal(get(conf, "max.poll.interval.ms"), "30000");
    assert_string_equal(get(conf, "fetch.wait.max.ms"), "100");
    assert_string_equal(get(conf, "partition.assignment.strategy"),
                        "range,roundrobin");
    {
        const char *v = get(conf, "group.instance.id");
        assert_true(!v || !*v); /* dynamic membership */
    }
    rd_kafka_conf_destroy(conf);

    assert_int_equal(mf__kafka_conf_new(cfg, MF__KAFKA_CONSUMER, "test", "g1",
                                        "mailferry-worker-0", &conf, &err),
                     MF_E_OK);
    assert_string_equal(get(conf, "group.instance.id"), "mailferry-worker-0");
    rd_kafka_conf_destroy(conf);

    mf_config_set_flag(cfg, "kafka.session.timeout.ms", "30000");
    mf_config_set_flag(cfg, "kafka.partition.assignment.strategy",
                       "cooperative-sticky");
    assert_int_equal(build(cfg, MF__KAFKA_CONSUMER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "session.timeout.ms"), "30000");
    assert_string_equal(get(conf, "partition.assignment.strategy"),
                        "cooperative-sticky");
    assert_string_equal(get(conf, "heartbeat.interval.ms"), "1000");
    rd_kafka_conf_destroy(conf);

    assert_int_equal(build(cfg, MF__KAFKA_PRODUCER, &conf, &err), MF_E_OK);
    assert_string_equal(get(conf, "heartbeat.interval.ms"), "3000");
    rd_kafka_conf_destroy(conf);
    mf_config_free(&cfg);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),    cmocka_unit_test(test_pass_through),
        cmocka_unit_test(test_refused),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_broker), cmocka_unit_test(test_group_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
