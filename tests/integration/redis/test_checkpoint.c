/*
 * Checkpoints against a real redis-server (fixture "redis"): round trip
 * over TCP and the unix socket, many read in one HMGET, hash-tagged keys, the
 * flags hash's fields (written, read, removed), and a server restart that the
 * client survives (the checkpoint is still there, from the AOF).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "mailferry/checkpoint.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
test_round_trip(void **state) {
    char *url = mf_testenv_redis("REDIS_URL");
    char *unix_url = mf_testenv_redis("REDIS_UNIX_URL");
    struct mf_redis *r = NULL, *u = NULL;
    struct mf_error err = {0};
    struct mf_checkpoint c = {.uidvalidity = 1700000000, .last_uid = 42};
    struct mf_checkpoint got;
    redisReply *reply = NULL;
    bool found = true;

    (void)state;
    assert_non_null(url);
    assert_non_null(unix_url);
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    assert_int_equal(mf_redis_connect(unix_url, 2000, &u, &err), MF_E_OK);
    assert_int_equal(mf_checkpoint_clear(r, "b1", "a@x.org", &err), MF_E_OK);
    assert_int_equal(
        mf_checkpoint_get(r, "b1", "a@x.org", "INBOX", &got, &found, &err),
        MF_E_OK);
    assert_false(found);
    assert_int_equal(
        mf_checkpoint_put(r, "b1", "a@x.org", "Sent.2024", &c, &err), MF_E_OK);
    /* Read back through the other connection. */
    assert_int_equal(
        mf_checkpoint_get(u, "b1", "a@x.org", "Sent.2024", &got, &found, &err),
        MF_E_OK);
    assert_true(found);
    assert_int_equal(c.uidvalidity, got.uidvalidity);
    assert_int_equal(c.last_uid, got.last_uid);
    assert_int_equal(c.dirty, got.dirty);
    /* The key is hash-tagged by batch (Redis Cluster slot). */
    assert_int_equal(mf_redis_command(r, &reply, &err, "EXISTS %s",
                                      "mf:{b:b1}:ckpt:a@x.org"),
                     MF_E_OK);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    /* A corrupt value is an error, not a silent zero. */
    assert_int_equal(mf_redis_command(r, &reply, &err, "HSET %s %s %s",
                                      "mf:{b:b1}:ckpt:a@x.org", "Bad", "x y"),
                     MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(
        mf_checkpoint_get(r, "b1", "a@x.org", "Bad", &got, &found, &err),
        MF_E_REDIS);
    /* Many folders in one HMGET: each as mf_checkpoint_get() reads it,
     * in the order asked; a corrupt one fails the lot. */
    {
        const char *names[] = {"INBOX", "Sent.2024", "Sent.2024"};
        const char *bad[] = {"Sent.2024", "Bad"};
        struct mf_checkpoint v[3];
        bool fv[3] = {true, false, false};

        assert_int_equal(
            mf_checkpoint_get_many(u, "b1", "a@x.org", names, 3, v, fv, &err),
            MF_E_OK);
        assert_false(fv[0]);
        assert_int_equal(v[0].uidvalidity, 0);
        for (int i = 1; i < 3; i++) {
            assert_true(fv[i]);
            assert_int_equal(v[i].uidvalidity, c.uidvalidity);
            assert_int_equal(v[i].last_uid, c.last_uid);
            mf_checkpoint_pending_free(&v[i]);
        }
        assert_int_equal(
            mf_checkpoint_get_many(r, "b1", "a@x.org", bad, 2, v, fv, &err),
            MF_E_REDIS);
        assert_non_null(strstr(err.detail, "Bad"));
    }
    /* A Redis error reply keeps Redis' words. */
    assert_int_equal(mf_redis_command(r, &reply, &err, "NOSUCHCOMMAND"),
                     MF_E_REDIS);
    assert_non_null(strstr(err.detail, "unknown command"));
    mf_redis_free(&r);
    mf_redis_free(&u);
    assert_null(r);
    free(url);
    free(unix_url);
}

/* The flags hash: fields written, read back, removed one at a time (a
 * folder's old whole-folder value once its windows are written), and
 * all gone with the checkpoints. */
static void
test_flags_fields(void **state) {
    char *url = mf_testenv_redis("REDIS_URL");
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    char *v = NULL;

    (void)state;
    assert_non_null(url);
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    assert_int_equal(mf_checkpoint_clear(r, "b1", "f@x.org", &err), MF_E_OK);
    assert_int_equal(
        mf_checkpoint_flags_put(r, "b1", "f@x.org", "INBOX", "1\t\t\n", &err),
        MF_E_OK);
    assert_int_equal(mf_checkpoint_flags_put(r, "b1", "f@x.org",
                                             "\tfw\t0\tINBOX", "2\t\t\n", &err),
                     MF_E_OK);
    assert_int_equal(
        mf_checkpoint_flags_get(r, "b1", "f@x.org", "INBOX", &v, &err),
        MF_E_OK);
    assert_string_equal(v, "1\t\t\n");
    free(v);
    assert_int_equal(mf_checkpoint_flags_del(r, "b1", "f@x.org", "INBOX", &err),
                     MF_E_OK);
    assert_int_equal(mf_checkpoint_flags_del(r, "b1", "f@x.org", "INBOX", &err),
                     MF_E_OK); /* not there: nothing done */
    assert_int_equal(
        mf_checkpoint_flags_get(r, "b1", "f@x.org", "INBOX", &v, &err),
        MF_E_OK);
    assert_null(v);
    assert_int_equal(
        mf_checkpoint_flags_get(r, "b1", "f@x.org", "\tfw\t0\tINBOX", &v, &err),
        MF_E_OK);
    assert_string_equal(v, "2\t\t\n");
    free(v);
    assert_int_equal(mf_checkpoint_clear(r, "b1", "f@x.org", &err), MF_E_OK);
    assert_int_equal(
        mf_checkpoint_flags_get(r, "b1", "f@x.org", "\tfw\t0\tINBOX", &v, &err),
        MF_E_OK);
    assert_null(v);
    mf_redis_free(&r);
    free(url);
}

static void
test_survives_restart(void **state) {
    char *url = mf_testenv_redis("REDIS_URL");
    char *script =
        mf_xasprintf("%s/tests/support/redis/fixture", getenv("MF_SOURCE_DIR"));
    struct mf_checkpoint c = {
        .uidvalidity = 9, .last_uid = 1000, .dirty = true};
    struct mf_checkpoint got;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    bool found = false;
    int status;
    pid_t pid;

    (void)state;
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    assert_int_equal(mf_checkpoint_put(r, "b2", "m@x.org", "INBOX", &c, &err),
                     MF_E_OK);
    pid = fork();
    if (pid == 0) {
        execl(script, script, "restart", (char *)NULL);
        _exit(127);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The old connection is dead; the first command may say so, and the
     * next one reconnects. */
    mf_err rc =
        mf_checkpoint_get(r, "b2", "m@x.org", "INBOX", &got, &found, &err);
    if (rc == MF_E_REDIS_UNAVAILABLE)
        rc = mf_checkpoint_get(r, "b2", "m@x.org", "INBOX", &got, &found, &err);
    assert_int_equal(rc, MF_E_OK);
    assert_true(found);
    assert_int_equal(c.uidvalidity, got.uidvalidity);
    assert_int_equal(c.last_uid, got.last_uid);
    assert_int_equal(c.dirty, got.dirty);
    mf_redis_free(&r);
    free(url);
    free(script);
}

/* Sets the mailbox record's claim: job j1, the given attempt and worker,
 * expiring in expire_s seconds from Redis' clock (negative: expired). */
static void
set_claim(struct mf_redis *r, const char *key, const char *attempt,
          const char *worker, long expire_s) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    long long now_ms;
    char exp[32];

    assert_int_equal(mf_redis_command(r, &reply, &err, "TIME"), MF_E_OK);
    now_ms = strtoll(reply->element[0]->str, NULL, 10) * 1000 +
             strtoll(reply->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(reply);
    snprintf(exp, sizeof(exp), "%lld", now_ms + expire_s * 1000);
    assert_int_equal(mf_redis_command(r, &reply, &err,
                                      "HSET %s job j1 attempt %s claim_worker "
                                      "%s claim_expiry %s",
                                      key, attempt, worker, exp),
                     MF_E_OK);
    freeReplyObject(reply);
}

/* A claimed write lands only while the claim is (job, attempt, worker)
 * and live: a zombie (old attempt, other worker, expired claim) moves
 * nothing. */
static void
test_claimed_put(void **state) {
    char *url = mf_testenv_redis("REDIS_URL");
    const char *key = "mf:{b:b3}:mb:z@x.org";
    struct mf_checkpoint_claim claim = {
        .record_key = key, .job_id = "j1", .attempt = 2, .worker = "w1"};
    struct mf_checkpoint c = {.uidvalidity = 7, .last_uid = 50};
    struct mf_checkpoint got;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    bool found = false;

    (void)state;
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    assert_int_equal(mf_checkpoint_clear(r, "b3", "z@x.org", &err), MF_E_OK);
    set_claim(r, key, "2", "w1", 30);
    assert_int_equal(mf_checkpoint_put_claimed(r, "b3", "z@x.org", "INBOX", &c,
                                               &claim, &err),
                     MF_E_OK);
    /* Another worker holds attempt 3 now. */
    set_claim(r, key, "3", "w2", 30);
    c.last_uid = 10;
    assert_int_equal(mf_checkpoint_put_claimed(r, "b3", "z@x.org", "INBOX", &c,
                                               &claim, &err),
                     MF_E_FENCED);
    assert_non_null(strstr(err.detail, "w2"));
    /* Our attempt, but the claim expired. */
    set_claim(r, key, "2", "w1", -1);
    assert_int_equal(mf_checkpoint_put_claimed(r, "b3", "z@x.org", "INBOX", &c,
                                               &claim, &err),
                     MF_E_FENCED);
    assert_int_equal(
        mf_checkpoint_get(r, "b3", "z@x.org", "INBOX", &got, &found, &err),
        MF_E_OK);
    assert_true(found);
    assert_int_equal(got.last_uid, 50);
    mf_checkpoint_pending_free(&got);
    mf_redis_free(&r);
    free(url);
}

/* Several folders in one claimed write (the empty folders of a job):
 * all of them under a live claim, none of them under another's. */
static void
test_claimed_put_many(void **state) {
    char *url = mf_testenv_redis("REDIS_URL");
    const char *key = "mf:{b:b4}:mb:z@x.org";
    const char *folders[3] = {"INBOX", "Sent", "Trash"};
    struct mf_checkpoint_claim claim = {
        .record_key = key, .job_id = "j1", .attempt = 1, .worker = "w1"};
    struct mf_checkpoint c[3] = {{.uidvalidity = 7, .last_uid = 0},
                                 {.uidvalidity = 8, .last_uid = 0},
                                 {.uidvalidity = 9, .last_uid = 0}};
    struct mf_checkpoint got[3];
    bool found[3];
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_redis_connect(url, 2000, &r, &err), MF_E_OK);
    assert_int_equal(mf_checkpoint_clear(r, "b4", "z@x.org", &err), MF_E_OK);
    /* Another worker's claim: nothing written. */
    set_claim(r, key, "1", "w2", 30);
    assert_int_equal(mf_checkpoint_put_claimed_many(r, "b4", "z@x.org", folders,
                                                    c, 3, &claim, &err),
                     MF_E_FENCED);
    assert_non_null(strstr(err.detail, "w2"));
    assert_int_equal(mf_checkpoint_get_many(r, "b4", "z@x.org", folders, 3, got,
                                            found, &err),
                     MF_E_OK);
    for (size_t i = 0; i < 3; i++)
        assert_false(found[i]);
    /* Ours: every one, each with its own value. */
    set_claim(r, key, "1", "w1", 30);
    assert_int_equal(mf_checkpoint_put_claimed_many(r, "b4", "z@x.org", folders,
                                                    c, 3, &claim, &err),
                     MF_E_OK);
    assert_int_equal(mf_checkpoint_get_many(r, "b4", "z@x.org", folders, 3, got,
                                            found, &err),
                     MF_E_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_true(found[i]);
        assert_int_equal(got[i].uidvalidity, c[i].uidvalidity);
        assert_false(got[i].dirty);
        mf_checkpoint_pending_free(&got[i]);
    }
    mf_redis_free(&r);
    free(url);
}

static void
test_unreachable(void **state) {
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_redis_connect("redis://127.0.0.1:1", 1000, &r, &err),
                     MF_E_REDIS_UNAVAILABLE);
    assert_null(r);
    assert_non_null(strstr(err.detail, "redis://127.0.0.1:1"));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_claimed_put),
        cmocka_unit_test(test_claimed_put_many),
        cmocka_unit_test(test_flags_fields),
        cmocka_unit_test(test_survives_restart),
        cmocka_unit_test(test_unreachable),
    };
    /* Like every program of ours (see mf_redis_connect): a write to the
     * connection of a Redis that is being restarted must fail, not kill. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
