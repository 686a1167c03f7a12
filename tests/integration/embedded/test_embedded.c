/*
 * The embedded servers of `mailferry migrate` (mailferry/embedded.h): the
 * in-process mock Kafka cluster carries a message through our own producer
 * and consumer; the private redis-server child answers on its socket, is
 * gone after stop (process and directory), and dies with a parent that is
 * killed without stopping it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/embedded.h"
#include "mailferry/kafka.h"
#include "mailferry/redis.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
test_mock_kafka_round_trip(void **state) {
    struct mf_kafka_mock *m = NULL;
    struct mf_config *cfg = mf_config_new();
    struct mf_kafka_producer *p = NULL;
    struct mf_kafka_consumer *c = NULL;
    struct mf_kafka_message *msg = NULL;
    struct mf_error err = {0};
    const char *topics[] = {"embt.jobs"};
    struct mf_kafka_consumer_params cp = {
        .group_id = "embt", .topics = topics, .ntopics = 1};
    time_t deadline;

    (void)state;
    assert_int_equal(mf_kafka_mock_start(1, "embt", 4, &m, &err), MF_E_OK);
    assert_non_null(strstr(mf_kafka_mock_bootstrap(m), "127.0.0.1:"));
    mf_config_set_flag(cfg, "kafka", mf_kafka_mock_bootstrap(m));
    assert_int_equal(mf_kafka_producer_new(cfg, "embt", NULL, NULL, &p, &err),
                     MF_E_OK);
    assert_int_equal(
        mf_kafka_produce(p, "embt.jobs", "k", 1, "hello", 5, NULL, &err),
        MF_E_OK);
    assert_int_equal(mf_kafka_producer_flush(p, 10000, &err), MF_E_OK);
    assert_int_equal(mf_kafka_consumer_new(cfg, &cp, &c, &err), MF_E_OK);
    deadline = time(NULL) + 30;
    while (!msg && time(NULL) < deadline)
        assert_int_equal(mf_kafka_consumer_poll(c, 500, &msg, &err), MF_E_OK);
    assert_non_null(msg);
    assert_int_equal(msg->value_len, 5);
    assert_memory_equal(msg->value, "hello", 5);
    mf_kafka_message_free(&msg);
    mf_kafka_consumer_free(&c);
    mf_kafka_producer_free(&p);
    mf_kafka_mock_stop(&m);
    assert_null(m);
    mf_config_free(&cfg);
}

static void
test_redis_child(void **state) {
    struct mf_redis_child *c = NULL;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    redisReply *reply = NULL;
    char dir[4096];
    struct stat st;

    (void)state;
    assert_int_equal(mf_redis_child_start(NULL, NULL, &c, &err), MF_E_OK);
    assert_int_equal(strncmp(mf_redis_child_url(c), "unix:///", 8), 0);
    assert_int_equal(mf_redis_connect(mf_redis_child_url(c), 2000, &r, &err),
                     MF_E_OK);
    assert_int_equal(mf_redis_command(r, &reply, &err, "SET k v"), MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(mf_redis_command(r, &reply, &err, "GET k"), MF_E_OK);
    assert_string_equal(reply->str, "v");
    freeReplyObject(reply);
    mf_redis_free(&r);
    snprintf(dir, sizeof(dir), "%s", mf_redis_child_url(c) + 7);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(stat(dir, &st), 0);
    mf_redis_child_stop(&c);
    assert_null(c);
    assert_int_not_equal(stat(dir, &st), 0); /* directory removed */
}

/* A parent killed with -9 leaves no redis-server behind. */
static void
test_redis_child_dies_with_parent(void **state) {
    int fds[2];
    pid_t parent, server = 0;
    char url[4300] = "";

    (void)state;
    assert_int_equal(pipe(fds), 0);
    parent = fork();
    assert_true(parent >= 0);
    if (parent == 0) {
        struct mf_redis_child *c = NULL;
        struct mf_error err;
        close(fds[0]);
        if (mf_redis_child_start(NULL, NULL, &c, &err) != MF_E_OK)
            _exit(1);
        dprintf(fds[1], "%s\n", mf_redis_child_url(c));
        close(fds[1]);
        pause(); /* until killed */
        _exit(0);
    }
    close(fds[1]);
    {
        ssize_t n = read(fds[0], url, sizeof(url) - 1);
        assert_true(n > 0);
        url[n] = '\0';
        if (strchr(url, '\n'))
            *strchr(url, '\n') = '\0';
    }
    close(fds[0]);
    kill(parent, SIGKILL);
    waitpid(parent, NULL, 0);
    /* The server notices its parent's death and exits: its socket stops
     * answering. */
    for (int i = 0; i < 100; i++) {
        struct mf_redis *r = NULL;
        struct mf_error err;
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (mf_redis_connect(url, 500, &r, &err) != MF_E_OK) {
            server = -1;
            break;
        }
        mf_redis_free(&r);
        nanosleep(&ts, NULL);
    }
    assert_int_equal(server, -1);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mock_kafka_round_trip),
        cmocka_unit_test(test_redis_child),
        cmocka_unit_test(test_redis_child_dies_with_parent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
