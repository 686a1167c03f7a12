/*
 * The Lua scripts themselves against a real redis-server (fixture
 * "redis"), called through the one runner with hand-made records, so a
 * script is checked apart from the C code that usually calls it:
 *
 *   - a script Redis has never seen runs (EVALSHA, NOSCRIPT, EVAL) and is
 *     cached afterwards; an error a script raises names the script;
 *   - batch claim: a retry with the same token gets the same answer and
 *     counts once; another token, another worker or no token is CLAIMED;
 *     an expired own claim is extended; a stale attempt is STALE;
 *   - batch result and settle: a synced result moves the mailbox and
 *     settles the batch, a repeat is DUP, an incomplete pass is Failed
 *     but marks the mailbox synced once;
 *   - settle, the batch state rule, over a table of states and mailbox
 *     counts (its only implementation: there is no C copy to test);
 *   - caps lease: acquire, a retried acquire with the same member (no
 *     second entry), another member finds the cap full, release frees it.
 *
 * Keys carry a per-run prefix, so runs against a shared redis-server
 * never collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"
#include "caps/caps_int.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tag[48];
static char *url;

static struct mf_redis *
conn(void) {
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    assert_int_equal(mf_redis_connect(url, 0, &r, &err), MF_E_OK);
    return r;
}

/* Runs s with the NULL-terminated keys and args; fails on an error. */
static redisReply *
call(struct mf_redis *r, const struct mf_redis_script *s,
     const char *const *keys, const char *const *args) {
    const char *argv[64];
    size_t nk = 0, na = 0;
    struct mf_error err = {0};
    redisReply *reply = NULL;

    while (keys[nk])
        argv[nk] = keys[nk], nk++;
    while (args[na])
        argv[nk + na] = args[na], na++;
    if (mf_redis_script_run(r, s, nk, na, argv, NULL, &reply, &err))
        fail_msg("%s: %s", s->name, err.detail);
    return reply;
}

static void
cmd(struct mf_redis *r, const char *fmt, const char *a, const char *b) {
    struct mf_error err = {0};
    redisReply *reply = NULL;

    if (mf_redis_command(r, &reply, &err, fmt, a, b))
        fail_msg("%s: %s", fmt, err.detail);
    freeReplyObject(reply);
}

static long long
hget_ll(struct mf_redis *r, const char *key, const char *field) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    long long v;

    assert_int_equal(
        mf_redis_command(r, &reply, &err, "HGET %s %s", key, field), MF_E_OK);
    v = reply->type == REDIS_REPLY_STRING ? strtoll(reply->str, NULL, 10) : 0;
    freeReplyObject(reply);
    return v;
}

static void
assert_word(const redisReply *reply, const char *word) {
    const char *w = mf__batch_reply_word(reply);

    if (!w || strcmp(w, word))
        fail_msg("expected %s, got %s", word, w ? w : "(no word)");
}

/* ------------------------------------------------------------------ */

static void
test_runner(void **state) {
    static const char boom_text[] =
        "return redis.error_reply('boom ' .. ARGV[1])\n";
    /* A digest Redis never saw: the runner falls back to EVAL. */
    static const struct mf_redis_script boom = {
        "test/boom.lua", boom_text, sizeof(boom_text) - 1,
        "0000000000000000000000000000000000000000"};
    const struct mf_redis_script *settle = mf__batch_script(MF__BS_SETTLE);
    struct mf_redis *r = conn();
    struct mf_error err = {0};
    redisReply *reply = NULL;
    const char *argv[] = {"x"};
    char key[128];

    (void)state;
    /* Forget every script: the next call must load it itself. */
    cmd(r, "SCRIPT FLUSH", NULL, NULL);
    snprintf(key, sizeof(key), "mf:{%s}:batch", tag);
    reply =
        call(r, settle, (const char *[]){key, NULL}, (const char *[]){NULL});
    assert_word(reply, "OK");
    freeReplyObject(reply);
    assert_int_equal(
        mf_redis_command(r, &reply, &err, "SCRIPT EXISTS %s", settle->sha1),
        MF_E_OK);
    assert_int_equal(reply->element[0]->integer, 1);
    freeReplyObject(reply);
    /* The embedded digest is the one Redis computes. */
    assert_int_equal(mf_redis_command(r, &reply, &err, "SCRIPT LOAD %b",
                                      settle->text, settle->len),
                     MF_E_OK);
    assert_string_equal(reply->str, settle->sha1);
    freeReplyObject(reply);
    /* An error the script raises is MF_E_REDIS and names the script. */
    assert_int_equal(
        mf_redis_script_run(r, &boom, 0, 1, argv, NULL, &reply, &err),
        MF_E_REDIS);
    assert_non_null(strstr(err.detail, "test/boom.lua: boom x"));
    mf_redis_free(&r);
}

/* A batch in Syncing with one Queued mailbox on job J attempt 1. */
static void
batch_setup(struct mf_redis *r, const char *b, const char *m) {
    struct mf_error err = {0};
    redisReply *reply = NULL;

    assert_int_equal(mf_redis_command(r, &reply, &err, "DEL %s %s", b, m),
                     MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(
        mf_redis_command(r, &reply, &err,
                         "HSET %s state Syncing n_mailboxes 1 n:Queued 1 "
                         "max_attempts 3",
                         b),
        MF_E_OK);
    freeReplyObject(reply);
    assert_int_equal(mf_redis_command(r, &reply, &err,
                                      "HSET %s email m@x.org state Queued "
                                      "job J pass 1 attempt 1 kind full",
                                      m),
                     MF_E_OK);
    freeReplyObject(reply);
}

static void
test_claim(void **state) {
    const struct mf_redis_script *claim = mf__batch_script(MF__BS_CLAIM);
    struct mf_redis *r = conn();
    char b[128], m[128], c[128];
    redisReply *one, *two, *reply;

    (void)state;
    snprintf(b, sizeof(b), "mf:{%s}:claim:batch", tag);
    snprintf(m, sizeof(m), "mf:{%s}:claim:mb:m@x.org", tag);
    snprintf(c, sizeof(c), "mf:{%s}:claim:claims", tag);
    batch_setup(r, b, m);
    const char *keys[] = {b, m, c, NULL};
#define CLAIM(worker, attempt, token)                                          \
    call(r, claim, keys,                                                       \
         (const char *[]){"J", attempt, worker, "60000", "m@x.org", token,     \
                          NULL})

    one = CLAIM("w1", "1", "T1");
    assert_word(one, "OK");
    /* The retry after a lost reply: the same answer, counted once. */
    two = CLAIM("w1", "1", "T1");
    assert_word(two, "OK");
    assert_int_equal(two->elements, 3);
    assert_int_equal(mf__batch_reply_ll(two, 1), mf__batch_reply_ll(one, 1));
    assert_int_equal(mf__batch_reply_ll(two, 2), mf__batch_reply_ll(one, 2));
    freeReplyObject(one);
    freeReplyObject(two);
    assert_int_equal(hget_ll(r, m, "attempts_total"), 1);
    assert_int_equal(hget_ll(r, b, "n:Syncing"), 1);
    assert_int_equal(hget_ll(r, b, "n:Queued"), 0);
    /* Anyone else, or no token, finds it claimed. */
    reply = CLAIM("w1", "1", "T2");
    assert_word(reply, "CLAIMED");
    freeReplyObject(reply);
    reply = CLAIM("w1", "1", "");
    assert_word(reply, "CLAIMED");
    freeReplyObject(reply);
    reply = CLAIM("w2", "1", "T1");
    assert_word(reply, "CLAIMED");
    freeReplyObject(reply);
    /* Our own claim, expired but not requeued yet, is extended. */
    cmd(r, "HSET %s claim_expiry %s", m, "1");
    reply = CLAIM("w1", "1", "T1");
    assert_word(reply, "OK");
    assert_true(mf__batch_reply_ll(reply, 1) > 1000);
    assert_int_equal(hget_ll(r, m, "claim_expiry"),
                     mf__batch_reply_ll(reply, 1));
    freeReplyObject(reply);
    assert_int_equal(hget_ll(r, m, "attempts_total"), 1);
    /* Once released, the token no longer brings the claim back. */
    cmd(r, "HSET %s claim_expiry 0 released %s", m, "1");
    reply = CLAIM("w1", "1", "T1");
    assert_word(reply, "STATE");
    freeReplyObject(reply);
    /* Another attempt is stale. */
    reply = CLAIM("w1", "2", "T3");
    assert_word(reply, "STALE");
    freeReplyObject(reply);
#undef CLAIM
    mf_redis_free(&r);
}

static void
test_result_settle(void **state) {
    const struct mf_redis_script *claim = mf__batch_script(MF__BS_CLAIM);
    const struct mf_redis_script *result = mf__batch_script(MF__BS_RESULT);
    const struct mf_redis_script *settle = mf__batch_script(MF__BS_SETTLE);
    struct mf_redis *r = conn();
    char b[128], m[128], c[128], res[128], smp[128], sk[160], fl[160];
    const char *args[40];
    redisReply *reply;
    size_t n = 0;

    (void)state;
    snprintf(b, sizeof(b), "mf:{%s}:res:batch", tag);
    snprintf(m, sizeof(m), "mf:{%s}:res:mb:m@x.org", tag);
    snprintf(c, sizeof(c), "mf:{%s}:res:claims", tag);
    snprintf(res, sizeof(res), "mf:{%s}:res:results", tag);
    snprintf(smp, sizeof(smp), "mf:{%s}:res:samples", tag);
    snprintf(sk, sizeof(sk), "%s:skipped", m);
    snprintf(fl, sizeof(fl), "%s:failed", m);
    batch_setup(r, b, m);
    cmd(r, "DEL %s %s", res, smp);
    const char *ckeys[] = {b, m, c, NULL};
    const char *rkeys[] = {b, m, c, res, smp, sk, fl, NULL};
    reply =
        call(r, claim, ckeys,
             (const char *[]){"J", "1", "w1", "60000", "m@x.org", "T", NULL});
    assert_word(reply, "OK");
    freeReplyObject(reply);

    /* job, attempt, worker, outcome, email, error code, name, detail, */
    args[n++] = "J", args[n++] = "1", args[n++] = "w1";
    args[n++] = "synced", args[n++] = "m@x.org";
    args[n++] = "0", args[n++] = "", args[n++] = "";
    /* the 20 stats of results.c's add_stats() (messages_copied is the
     * 7th), */
    for (int i = 0; i < 20; i++)
        args[n++] = i == 6 ? "5" : "1";
    /* skipped and failed totals and how many are listed (none). */
    args[n++] = "0", args[n++] = "0", args[n++] = "0", args[n++] = "0";
    args[n] = NULL;
    reply = call(r, result, rkeys, args);
    assert_word(reply, "OK");
    assert_string_equal(mf__batch_reply_str(reply, 1, NULL), "J");
    assert_string_equal(mf__batch_reply_str(reply, 4, NULL), "full");
    assert_string_equal(mf__batch_reply_str(reply, 5, NULL), "Synced");
    freeReplyObject(reply);
    assert_int_equal(hget_ll(r, m, "messages_copied"), 5);
    /* The last two: removed and moved on the target (--sync-deletes). */
    assert_int_equal(hget_ll(r, m, "deleted_on_target"), 1);
    assert_int_equal(hget_ll(r, m, "moved_on_target"), 1);
    assert_int_equal(hget_ll(r, m, "synced_once"), 1);
    assert_int_equal(hget_ll(r, b, "n:Synced"), 1);
    /* The same result again changes nothing. */
    reply = call(r, result, rkeys, args);
    assert_word(reply, "DUP");
    freeReplyObject(reply);
    assert_int_equal(hget_ll(r, m, "messages_copied"), 5);
    reply = call(r, settle, (const char *[]){b, NULL}, (const char *[]){NULL});
    assert_word(reply, "OK");
    assert_string_equal(mf__batch_reply_str(reply, 1, NULL), "Synced");
    freeReplyObject(reply);

    /* An incomplete pass: Failed, yet synced once (the next pass is
     * incremental) and its counters replace the old ones. */
    batch_setup(r, b, m);
    cmd(r, "DEL %s %s", res, c);
    reply =
        call(r, claim, ckeys,
             (const char *[]){"J", "1", "w1", "60000", "m@x.org", "T", NULL});
    assert_word(reply, "OK");
    freeReplyObject(reply);
    args[3] = "incomplete";
    args[5] = "403", args[6] = "NOT_ALL_COPIED", args[7] = "2 left";
    reply = call(r, result, rkeys, args);
    assert_word(reply, "OK");
    assert_string_equal(mf__batch_reply_str(reply, 5, NULL),
                        "SyncedWithErrors");
    freeReplyObject(reply);
    assert_int_equal(hget_ll(r, m, "synced_once"), 1);
    assert_int_equal(hget_ll(r, m, "error_code"), 403);
    assert_int_equal(hget_ll(r, b, "n:Failed"), 1);
    mf_redis_free(&r);
}

/* The batch state rule, settle() in prelude.lua, over every case that
 * matters: a batch record with its per-state mailbox counters, the state
 * settle() leaves (returned and stored), and a finish time only when a
 * pass ended. (The rule has no C copy: this is its test.) */
static void
test_settle_vectors(void **state) {
    static const struct {
        enum mf_batch_state cur;
        uint64_t counts[MF_MAILBOX_STATE_COUNT];
        enum mf_batch_state want;
    } v[] = {
        /* Q Sy Sd ISy St F C */
        {MF_BATCH_SYNCING, {1, 0, 3, 0, 0, 0, 0}, MF_BATCH_SYNCING},
        {MF_BATCH_SYNCING, {0, 1, 3, 0, 0, 0, 0}, MF_BATCH_SYNCING},
        {MF_BATCH_SYNCING, {0, 0, 4, 0, 0, 0, 0}, MF_BATCH_SYNCED},
        {MF_BATCH_SYNCING, {0, 0, 3, 0, 0, 1, 0}, MF_BATCH_SYNCED_WITH_ERRORS},
        {MF_BATCH_SYNCING, {0, 0, 3, 0, 1, 0, 0}, MF_BATCH_SYNCED_WITH_ERRORS},
        {MF_BATCH_SYNCING, {0, 0, 3, 0, 0, 0, 1}, MF_BATCH_SYNCED},
        {MF_BATCH_INCREMENTAL_SYNCING,
         {0, 0, 0, 1, 3, 0, 0},
         MF_BATCH_INCREMENTAL_SYNCING},
        {MF_BATCH_INCREMENTAL_SYNCING, {0, 0, 4, 0, 0, 0, 0}, MF_BATCH_SYNCED},
        {MF_BATCH_COMPLETING, {0, 0, 0, 0, 0, 0, 4}, MF_BATCH_COMPLETED},
        {MF_BATCH_COMPLETING,
         {0, 0, 0, 0, 0, 1, 3},
         MF_BATCH_COMPLETED_WITH_ERRORS},
        {MF_BATCH_STOPPING, {0, 1, 0, 0, 3, 0, 0}, MF_BATCH_STOPPING},
        {MF_BATCH_STOPPING, {0, 0, 1, 0, 3, 0, 0}, MF_BATCH_STOPPED},
        {MF_BATCH_CREATED, {4, 0, 0, 0, 0, 0, 0}, MF_BATCH_CREATED},
        {MF_BATCH_SYNCED, {0, 0, 4, 0, 0, 0, 0}, MF_BATCH_SYNCED},
    };
    const struct mf_redis_script *settle = mf__batch_script(MF__BS_SETTLE);
    struct mf_redis *r = conn();
    struct mf_error err = {0};
    redisReply *reply = NULL;
    char b[128];

    (void)state;
    snprintf(b, sizeof(b), "mf:{%s}:settle:batch", tag);
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        uint64_t total = 0;
        const char *got;

        cmd(r, "DEL %s", b, NULL);
        cmd(r, "HSET %s state %s", b, mf_batch_state_name(v[i].cur));
        for (int s = 0; s < MF_MAILBOX_STATE_COUNT; s++) {
            char field[64], n[24];
            snprintf(field, sizeof(field), "n:%s",
                     mf_mailbox_state_name((enum mf_mailbox_state)s));
            snprintf(n, sizeof(n), "%llu", (unsigned long long)v[i].counts[s]);
            assert_int_equal(
                mf_redis_command(r, &reply, &err, "HSET %s %s %s", b, field, n),
                MF_E_OK);
            freeReplyObject(reply);
            total += v[i].counts[s];
        }
        assert_int_equal(mf_redis_command(r, &reply, &err,
                                          "HSET %s n_mailboxes %llu", b,
                                          (unsigned long long)total),
                         MF_E_OK);
        freeReplyObject(reply);
        reply =
            call(r, settle, (const char *[]){b, NULL}, (const char *[]){NULL});
        assert_word(reply, "OK");
        got = mf__batch_reply_str(reply, 1, NULL);
        if (strcmp(got, mf_batch_state_name(v[i].want)) != 0)
            fail_msg("vector %zu: %s, want %s", i, got,
                     mf_batch_state_name(v[i].want));
        freeReplyObject(reply);
        assert_int_equal(mf_redis_command(r, &reply, &err, "HGET %s state", b),
                         MF_E_OK);
        assert_string_equal(reply->str, mf_batch_state_name(v[i].want));
        freeReplyObject(reply);
        /* A pass that ended is timed; a stop or no change is not. */
        assert_int_equal(hget_ll(r, b, "finished") != 0,
                         v[i].want != v[i].cur &&
                             v[i].want != MF_BATCH_STOPPED);
    }
    /* A batch still enqueuing its jobs does not settle. */
    cmd(r, "HSET %s state Syncing", b, NULL);
    cmd(r, "HSET %s enqueuing 1", b, NULL);
    reply = call(r, settle, (const char *[]){b, NULL}, (const char *[]){NULL});
    assert_string_equal(mf__batch_reply_str(reply, 1, NULL), "Syncing");
    freeReplyObject(reply);
    cmd(r, "DEL %s", b, NULL);
    mf_redis_free(&r);
}

static void
test_caps_lease(void **state) {
    struct mf_redis *r = conn();
    char q[128], qexp[128], qinfo[128], qseq[128], cap[128], wake[128];
    redisReply *one, *two, *reply;
    struct mf_error err = {0};

    (void)state;
    snprintf(q, sizeof(q), "mf:{%s}:q", tag);
    snprintf(qexp, sizeof(qexp), "mf:{%s}:qexp", tag);
    snprintf(qinfo, sizeof(qinfo), "mf:{%s}:qinfo", tag);
    snprintf(qseq, sizeof(qseq), "mf:{%s}:qseq", tag);
    snprintf(cap, sizeof(cap), "mf:{%s}:cap:total", tag);
    snprintf(wake, sizeof(wake), "mf:{%s}:wake:", tag);
    const char *keys[] = {q, qexp, qinfo, qseq, cap, NULL};
#define LEASE(op, member, waiter)                                              \
    call(r, mf__caps_lease_script, keys,                                       \
         (const char *[]){op, member, "30000", waiter, "", "3000", wake, "1",  \
                          NULL})

    one = LEASE("acquire", "A", "wa");
    assert_int_equal(one->element[0]->integer, 1);
    /* The retry of an acquire whose reply was lost: the same lease. */
    two = LEASE("acquire", "A", "wa");
    assert_int_equal(two->element[0]->integer, 1);
    assert_int_equal(two->element[1]->integer, one->element[1]->integer);
    freeReplyObject(one);
    freeReplyObject(two);
    assert_int_equal(mf_redis_command(r, &reply, &err, "ZCARD %s", cap),
                     MF_E_OK);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    /* Another member finds the cap (index 1) full and queues. */
    reply = LEASE("acquire", "B", "wb");
    assert_int_equal(reply->element[0]->integer, 0);
    assert_int_equal(reply->element[1]->integer, 1);
    freeReplyObject(reply);
    /* Releasing A frees the slot for B. */
    reply = LEASE("release", "A", "");
    assert_int_equal(reply->element[0]->integer, 1);
    freeReplyObject(reply);
    reply = LEASE("acquire", "B", "wb");
    assert_int_equal(reply->element[0]->integer, 1);
    freeReplyObject(reply);
    reply = LEASE("release", "B", "");
    assert_int_equal(reply->element[0]->integer, 1);
    freeReplyObject(reply);
#undef LEASE
    mf_redis_free(&r);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner),
        cmocka_unit_test(test_claim),
        cmocka_unit_test(test_result_settle),
        cmocka_unit_test(test_settle_vectors),
        cmocka_unit_test(test_caps_lease),
    };
    int rc;

    url = mf_testenv_get("redis", "REDIS_URL");
    if (!url) {
        fprintf(stderr, "no redis fixture\n");
        return 1;
    }
    snprintf(tag, sizeof(tag), "t:scripts-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(url);
    return rc;
}
