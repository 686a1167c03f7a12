/*
 * The Lua script runner (core/src/redis/script.c) and the mapping of
 * Redis' error words to codes (client.c), against a scripted fake Redis
 * (tests/support/fakeredis.h): each test lists the replies the fake
 * sends and checks what the client sent and which code came back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakeredis.h"
#include "mailferry/util.h"
#include "redis/redis_int.h"

#include <string.h>

static const struct mf_redis_script script = {
    "test/x.lua", "return 7\n", 9, "0123456789abcdef0123456789abcdef01234567"};

static mf_err
run(struct mf_redis *r, size_t nkeys, size_t nargs, redisReply **reply_r,
    struct mf_error *err) {
    const char *argv[40];

    for (size_t i = 0; i < nkeys + nargs; i++)
        argv[i] = i < nkeys ? "k" : "a";
    return mf_redis_script_run(r, &script, nkeys, nargs, argv, NULL, reply_r,
                               err);
}

/* A run that must succeed with the integer reply want. */
static void
expect_integer(struct mf_redis *r, size_t nkeys, size_t nargs, long long want) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    mf_err rc = run(r, nkeys, nargs, &reply, &err);

    if (rc != MF_E_OK)
        fail_msg("run: %s (%s)", mf_err_name(rc), err.detail);
    assert_int_equal(reply->integer, want);
    freeReplyObject(reply);
}

static void
test_words(void **state) {
    static const struct {
        const char *text;
        mf_err code;
    } cases[] = {
        {"NOSCRIPT No matching script. Please use EVAL.", MF_E_REDIS_NOSCRIPT},
        {"LOADING Redis is loading the dataset in memory",
         MF_E_REDIS_UNAVAILABLE},
        {"BUSY Redis is busy running a script.", MF_E_REDIS_UNAVAILABLE},
        {"MASTERDOWN Link with MASTER is down", MF_E_REDIS_UNAVAILABLE},
        {"TRYAGAIN Multiple keys request during rehashing",
         MF_E_REDIS_UNAVAILABLE},
        {"CLUSTERDOWN The cluster is down", MF_E_REDIS_UNAVAILABLE},
        {"BUSY", MF_E_REDIS_UNAVAILABLE},
        {"BUSYKEY Target key name already exists.", MF_E_REDIS},
        {"ERR user_script:1: LOADING", MF_E_REDIS},
        {"ERR Error running script", MF_E_REDIS},
        {"WRONGTYPE Operation against a key", MF_E_REDIS},
        {"", MF_E_REDIS},
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(cases); i++)
        assert_int_equal(
            mf__redis_reply_error(cases[i].text, strlen(cases[i].text)),
            cases[i].code);
    /* Only len bytes count. */
    assert_int_equal(mf__redis_reply_error("BUSYKEY", 4),
                     MF_E_REDIS_UNAVAILABLE);
}

static void
test_evalsha_then_eval(void **state) {
    static const char *const replies[] = {
        ":7\r\n",                                      /* EVALSHA */
        "-NOSCRIPT No matching script.\r\n", ":8\r\n", /* EVALSHA, EVAL */
        ":9\r\n",                                      /* EVALSHA again */
    };
    struct mf_fakeredis fk;
    struct mf_redis *r =
        mf_fakeredis_start(&fk, replies, MF_ARRAY_LEN(replies));

    (void)state;
    expect_integer(r, 1, 2, 7);
    expect_integer(r, 1, 2, 8);
    /* 35 arguments: more than the runner keeps on its stack. */
    expect_integer(r, 2, 33, 9);
    mf_fakeredis_stop(&fk, &r);
    assert_int_equal(fk.seen, 4);
    assert_string_equal(fk.arg[0][0], "EVALSHA");
    assert_string_equal(fk.arg[0][1], script.sha1);
    assert_int_equal(fk.argc[0], 3 + 1 + 2);
    assert_string_equal(fk.arg[2][0], "EVAL");
    assert_string_equal(fk.arg[2][1], script.text);
    assert_int_equal(fk.argc[2], 3 + 1 + 2);
    assert_string_equal(fk.arg[3][0], "EVALSHA");
    assert_int_equal(fk.argc[3], 3 + 2 + 33);
}

static void
test_error_mapping(void **state) {
    static const char *const replies[] = {
        "-LOADING Redis is loading the dataset in memory\r\n",
        "-BUSY Redis is busy running a script.\r\n",
        "-ERR user_script:1: Script attempted to access nonexistent global\r\n",
        NULL, /* the connection drops with the command sent */
        ":1\r\n",
    };
    struct mf_fakeredis fk;
    struct mf_redis *r =
        mf_fakeredis_start(&fk, replies, MF_ARRAY_LEN(replies));
    struct mf_error err = {0};
    redisReply *reply = NULL;

    (void)state;
    assert_int_equal(run(r, 0, 0, &reply, &err), MF_E_REDIS_UNAVAILABLE);
    assert_int_equal(err.code, MF_E_REDIS_UNAVAILABLE);
    assert_string_equal(err.detail,
                        "test/x.lua: LOADING Redis is loading the dataset "
                        "in memory");
    assert_int_equal(run(r, 0, 0, &reply, &err), MF_E_REDIS_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "test/x.lua: BUSY"));
    assert_int_equal(run(r, 0, 0, &reply, &err), MF_E_REDIS);
    assert_non_null(strstr(err.detail, "test/x.lua: ERR user_script:1:"));
    /* Unreachable: the runner does not resend (the script may have run). */
    assert_int_equal(run(r, 0, 0, &reply, &err), MF_E_REDIS_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "test/x.lua: unix://"));
    /* The next call reconnects. */
    expect_integer(r, 0, 0, 1);
    mf_fakeredis_stop(&fk, &r);
    assert_int_equal(fk.seen, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(fk.arg[i][0], "EVALSHA");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_evalsha_then_eval),
        cmocka_unit_test(test_error_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
