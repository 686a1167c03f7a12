/*
 * The Lua script runner (core/src/redis/script.c) and the mapping of
 * Redis' error words to codes (client.c), against a scripted fake Redis
 * on a unix socket: each test lists the replies the fake sends, one per
 * command it receives (NULL: close the connection without answering),
 * and checks what the client sent and which code came back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/util.h"
#include "redis/redis_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SEEN 8

struct fake {
    char dir[32], path[64];
    int lfd;
    const char *const *replies; /* NULL-terminated by n_replies */
    size_t n_replies;
    pthread_t thread;
    /* What the client sent: command name, second argument, count. */
    char cmd[MAX_SEEN][16], arg1[MAX_SEEN][64];
    size_t argc[MAX_SEEN], seen;
};

/* Reads one RESP command array; false at EOF. */
static bool
read_command(FILE *f, struct fake *fk) {
    char line[64];
    size_t n;

    if (!fgets(line, sizeof(line), f) || line[0] != '*')
        return false;
    n = strtoul(line + 1, NULL, 10);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *buf;
        if (!fgets(line, sizeof(line), f) || line[0] != '$')
            return false;
        len = strtoul(line + 1, NULL, 10);
        buf = mf_xmalloc(len + 3);
        if (fread(buf, 1, len + 2, f) != len + 2) {
            free(buf);
            return false;
        }
        buf[len] = '\0';
        if (fk->seen < MAX_SEEN) {
            if (i == 0)
                snprintf(fk->cmd[fk->seen], sizeof(fk->cmd[0]), "%s", buf);
            if (i == 1)
                snprintf(fk->arg1[fk->seen], sizeof(fk->arg1[0]), "%s", buf);
        }
        free(buf);
    }
    if (fk->seen < MAX_SEEN)
        fk->argc[fk->seen] = n;
    fk->seen++;
    return true;
}

static void *
serve(void *ud) {
    struct fake *fk = ud;
    size_t next = 0;

    while (next < fk->n_replies) {
        int fd = accept(fk->lfd, NULL, NULL);
        FILE *f;
        if (fd < 0)
            break;
        f = fdopen(fd, "r+");
        while (next < fk->n_replies && read_command(f, fk)) {
            const char *reply = fk->replies[next++];
            if (!reply)
                break; /* hang up without answering */
            fputs(reply, f);
            fflush(f);
        }
        fclose(f);
    }
    return NULL;
}

static struct mf_redis *
fake_start(struct fake *fk, const char *const *replies, size_t n) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    char url[160];

    memset(fk, 0, sizeof(*fk));
    snprintf(fk->dir, sizeof(fk->dir), "/tmp/mf-script-XXXXXX");
    assert_non_null(mkdtemp(fk->dir));
    snprintf(fk->path, sizeof(fk->path), "%s/redis.sock", fk->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk->path);
    fk->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fk->lfd >= 0);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fk->lfd, 4), 0);
    fk->replies = replies;
    fk->n_replies = n;
    assert_int_equal(pthread_create(&fk->thread, NULL, serve, fk), 0);
    snprintf(url, sizeof(url), "unix://%s", fk->path);
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    return r;
}

static void
fake_stop(struct fake *fk, struct mf_redis **r) {
    mf_redis_free(r);
    pthread_join(fk->thread, NULL);
    close(fk->lfd);
    unlink(fk->path);
    rmdir(fk->dir);
}

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
    struct fake fk;
    struct mf_redis *r = fake_start(&fk, replies, MF_ARRAY_LEN(replies));
    struct mf_error err = {0};
    redisReply *reply = NULL;

    (void)state;
    assert_int_equal(run(r, 1, 2, &reply, &err), MF_E_OK);
    assert_int_equal(reply->integer, 7);
    freeReplyObject(reply);
    assert_int_equal(run(r, 1, 2, &reply, &err), MF_E_OK);
    assert_int_equal(reply->integer, 8);
    freeReplyObject(reply);
    /* 35 arguments: more than the runner keeps on its stack. */
    assert_int_equal(run(r, 2, 33, &reply, &err), MF_E_OK);
    assert_int_equal(reply->integer, 9);
    freeReplyObject(reply);
    fake_stop(&fk, &r);
    assert_int_equal(fk.seen, 4);
    assert_string_equal(fk.cmd[0], "EVALSHA");
    assert_string_equal(fk.arg1[0], script.sha1);
    assert_int_equal(fk.argc[0], 3 + 1 + 2);
    assert_string_equal(fk.cmd[2], "EVAL");
    assert_string_equal(fk.arg1[2], script.text);
    assert_int_equal(fk.argc[2], 3 + 1 + 2);
    assert_string_equal(fk.cmd[3], "EVALSHA");
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
    struct fake fk;
    struct mf_redis *r = fake_start(&fk, replies, MF_ARRAY_LEN(replies));
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
    assert_int_equal(run(r, 0, 0, &reply, &err), MF_E_OK);
    freeReplyObject(reply);
    fake_stop(&fk, &r);
    assert_int_equal(fk.seen, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(fk.cmd[i], "EVALSHA");
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
