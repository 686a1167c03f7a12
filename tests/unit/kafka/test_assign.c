/*
 * The consumer with kafka-assign=all and the producer's warm-up
 * (core/src/kafka/consumer.c, producer.c), against librdkafka's mock
 * cluster in this process (the embedded default's Kafka).
 *
 * What they prove: such a consumer joins no group yet has every
 * partition at its first poll, reported once as an assignment; it reads
 * what was produced before and after; pausing it holds messages back
 * (none is returned, none lost) and resuming hands them out at once;
 * committed offsets still count (a second consumer of the group starts
 * after them); a warmed producer's first message arrives within a
 * fraction of a second; an unknown kafka-assign value is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/embedded.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t {
    struct mf_kafka_mock *mock;
    struct mf_kafka_topics topics;
    struct mf_config *cfg;
    struct mf_kafka_producer *producer;
    size_t assigned_events, assigned_parts;
};

static int
setup(void **state) {
    struct t *t = calloc(1, sizeof(*t));
    struct mf_error err = {0};

    assert_int_equal(mf_kafka_mock_start(1, "assigntest", 3, &t->mock, &err),
                     MF_E_OK);
    assert_int_equal(mf_kafka_topics_init(&t->topics, "assigntest", &err),
                     MF_E_OK);
    t->cfg = mf_config_new();
    mf_config_set_flag(t->cfg, "kafka", mf_kafka_mock_bootstrap(t->mock));
    mf_config_set_flag(t->cfg, "kafka-assign", "all");
    mf_config_set_flag(t->cfg, "kafka.fetch.wait.max.ms", "5");
    assert_int_equal(
        mf_kafka_producer_new(t->cfg, "test", NULL, NULL, &t->producer, &err),
        MF_E_OK);
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    mf_kafka_producer_free(&t->producer);
    mf_config_free(&t->cfg);
    mf_kafka_mock_stop(&t->mock);
    free(t);
    return 0;
}

static void
on_rebalance(void *ud, enum mf_kafka_rebalance ev,
             const struct mf_kafka_partition *parts, size_t n) {
    struct t *t = ud;
    (void)parts;
    if (ev == MF_KAFKA_ASSIGNED) {
        t->assigned_events++;
        t->assigned_parts += n;
    }
}

static struct mf_kafka_consumer *
consumer(struct t *t) {
    const char *topics[] = {t->topics.jobs};
    struct mf_kafka_consumer_params cp = {.client_id = "test",
                                          .group_id = "assigntest-group",
                                          .topics = topics,
                                          .ntopics = 1,
                                          .on_rebalance = on_rebalance,
                                          .ud = t};
    struct mf_kafka_consumer *c = NULL;
    struct mf_error err = {0};

    assert_int_equal(mf_kafka_consumer_new(t->cfg, &cp, &c, &err), MF_E_OK);
    return c;
}

static void
produce(struct t *t, const char *key) {
    struct mf_error err = {0};
    assert_int_equal(mf_kafka_produce(t->producer, t->topics.jobs, key,
                                      strlen(key), key, strlen(key), NULL,
                                      &err),
                     MF_E_OK);
    assert_int_equal(mf_kafka_producer_flush(t->producer, 5000, &err), MF_E_OK);
}

/* Polls until a message comes (or about timeout_ms pass); NULL: none. */
static struct mf_kafka_message *
next(struct mf_kafka_consumer *c, int timeout_ms) {
    double end = mf_monotonic_s() + timeout_ms / 1000.0;
    struct mf_kafka_message *m = NULL;
    struct mf_error err = {0};

    do {
        assert_int_equal(mf_kafka_consumer_poll(c, 20, &m, &err), MF_E_OK);
    } while (!m && mf_monotonic_s() < end);
    return m;
}

static void
expect_payload(struct mf_kafka_message *m, const char *want) {
    assert_non_null(m);
    assert_int_equal(m->value_len, strlen(want));
    assert_memory_equal(m->value, want, m->value_len);
}

static void
test_assign_all(void **state) {
    struct t *t = *state;
    struct mf_kafka_consumer *c;
    struct mf_kafka_message *m;
    struct mf_error err = {0};
    double t0;

    t0 = mf_monotonic_s();
    assert_int_equal(
        mf_kafka_producer_warm(
            t->producer, (const char *const[]){t->topics.jobs}, 1, 5000, &err),
        MF_E_OK);
    produce(t, "before");
    /* A warmed producer does not wait for librdkafka's topic scan. */
    assert_true(mf_monotonic_s() - t0 < 0.5);
    c = consumer(t);
    m = next(c, 3000);
    expect_payload(m, "before");
    /* Every partition, at the first poll, reported once. */
    assert_int_equal(t->assigned_events, 1);
    assert_int_equal(t->assigned_parts, 3);
    assert_int_equal(mf_kafka_consumer_assigned(c), 3);
    assert_int_equal(mf_kafka_consumer_commit(c, m, &err), MF_E_OK);
    mf_kafka_message_free(&m);

    /* Paused: held back, not lost; resumed: at once. */
    assert_int_equal(mf_kafka_consumer_pause(c, true, &err), MF_E_OK);
    produce(t, "held");
    assert_null(next(c, 300));
    assert_int_equal(mf_kafka_consumer_pause(c, false, &err), MF_E_OK);
    t0 = mf_monotonic_s();
    m = next(c, 3000);
    expect_payload(m, "held");
    assert_true(mf_monotonic_s() - t0 < 0.5);
    mf_kafka_message_free(&m); /* not committed */
    assert_int_equal(mf_kafka_consumer_close(c, &err), MF_E_OK);
    mf_kafka_consumer_free(&c);

    /* The group's committed offsets still count: "before" was
     * committed, "held" was not. */
    c = consumer(t);
    m = next(c, 3000);
    expect_payload(m, "held");
    mf_kafka_message_free(&m);
    mf_kafka_consumer_free(&c);
}

static void
test_bad_value(void **state) {
    struct t *t = *state;
    const char *topics[] = {t->topics.jobs};
    struct mf_kafka_consumer_params cp = {
        .group_id = "g", .topics = topics, .ntopics = 1};
    struct mf_kafka_consumer *c = NULL;
    struct mf_error err = {0};

    mf_config_set_flag(t->cfg, "kafka-assign", "some");
    assert_int_equal(mf_kafka_consumer_new(t->cfg, &cp, &c, &err), MF_E_CONFIG);
    assert_null(c);
    assert_non_null(strstr(err.detail, "kafka-assign"));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assign_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_value, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
