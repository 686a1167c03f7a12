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
 *   - times and samples: a pass's start, a claim, a result and the
 *     settled batch write each time in seconds and its *_ms twin (Redis
 *     TIME), the two agreeing; throughput samples are "<ms>ms m b", one
 *     at the pass's start, at most one per 100 ms while the batch is
 *     young and per a longer step as it ages, after the seconds samples
 *     an older version left;
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
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* assert_word(), then frees the reply. */
static void
reply_says(redisReply *reply, const char *word) {
    assert_word(reply, word);
    freeReplyObject(reply);
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
    struct mf_redis *r = mf_itest_redis();
    struct mf_error err = {0};
    redisReply *reply = NULL;
    const char *argv[] = {"x"};
    char key[128];

    (void)state;
    /* Forget every script: the next call must load it itself. */
    cmd(r, "SCRIPT FLUSH", NULL, NULL);
    snprintf(key, sizeof(key), "mf:{%s}:batch", mf_itest_prefix());
    reply_says(
        call(r, settle, (const char *[]){key, NULL}, (const char *[]){NULL}),
        "OK");
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

/* The keys of a batch "mf:{<prefix>}:<name>:..." with one mailbox m@x.org,
 * set up by batch_setup(), its results and samples gone. */
struct bkeys {
    char b[128], m[128], c[128], res[128], smp[128], sk[160], fl[160];
};

static void
bkeys_setup(struct mf_redis *r, struct bkeys *k, const char *name) {
    snprintf(k->b, sizeof(k->b), "mf:{%s}:%s:batch", mf_itest_prefix(), name);
    snprintf(k->m, sizeof(k->m), "mf:{%s}:%s:mb:m@x.org", mf_itest_prefix(),
             name);
    snprintf(k->c, sizeof(k->c), "mf:{%s}:%s:claims", mf_itest_prefix(), name);
    snprintf(k->res, sizeof(k->res), "mf:{%s}:%s:results", mf_itest_prefix(),
             name);
    snprintf(k->smp, sizeof(k->smp), "mf:{%s}:%s:samples", mf_itest_prefix(),
             name);
    snprintf(k->sk, sizeof(k->sk), "%s:skipped", k->m);
    snprintf(k->fl, sizeof(k->fl), "%s:failed", k->m);
    batch_setup(r, k->b, k->m);
    cmd(r, "DEL %s %s", k->res, k->smp);
}

/* The arguments of a synced result of job J attempt 1 (result.lua) into
 * args[40], NULL-terminated: its stats 1 but messages and bytes copied. */
static void
result_args(const char **args, const char *copied, const char *bytes) {
    size_t n = 0;

    /* job, attempt, worker, outcome, email, error code, name, detail, */
    args[n++] = "J", args[n++] = "1", args[n++] = "w1";
    args[n++] = "synced", args[n++] = "m@x.org";
    args[n++] = "0", args[n++] = "", args[n++] = "";
    /* the 20 stats of results.c's add_stats() (messages_copied is the
     * 7th, bytes_copied the 8th), */
    for (int i = 0; i < 20; i++)
        args[n++] = i == 6 ? copied : i == 7 ? bytes : "1";
    /* skipped and failed totals and how many are listed (none). */
    args[n++] = "0", args[n++] = "0", args[n++] = "0", args[n++] = "0";
    args[n] = NULL;
}

static void
test_claim(void **state) {
    const struct mf_redis_script *claim = mf__batch_script(MF__BS_CLAIM);
    struct mf_redis *r = mf_itest_redis();
    char b[128], m[128], c[128];
    redisReply *one, *two, *reply;
    static const char *const others[][3] = {
        {"w1", "1", "T2"}, {"w1", "1", ""}, {"w2", "1", "T1"}};

    (void)state;
    snprintf(b, sizeof(b), "mf:{%s}:claim:batch", mf_itest_prefix());
    snprintf(m, sizeof(m), "mf:{%s}:claim:mb:m@x.org", mf_itest_prefix());
    snprintf(c, sizeof(c), "mf:{%s}:claim:claims", mf_itest_prefix());
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
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        reply_says(CLAIM(others[i][0], others[i][1], others[i][2]), "CLAIMED");
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
    reply_says(CLAIM("w1", "1", "T1"), "STATE");
    /* Another attempt is stale. */
    reply_says(CLAIM("w1", "2", "T3"), "STALE");
#undef CLAIM
    mf_redis_free(&r);
}

static void
test_result_settle(void **state) {
    const struct mf_redis_script *claim = mf__batch_script(MF__BS_CLAIM);
    const struct mf_redis_script *result = mf__batch_script(MF__BS_RESULT);
    const struct mf_redis_script *settle = mf__batch_script(MF__BS_SETTLE);
    struct mf_redis *r = mf_itest_redis();
    struct bkeys k;
    const char *args[40];
    redisReply *reply;

    (void)state;
    bkeys_setup(r, &k, "res");
    const char *b = k.b, *m = k.m, *c = k.c, *res = k.res;
    const char *ckeys[] = {b, m, c, NULL};
    const char *rkeys[] = {b, m, c, res, k.smp, k.sk, k.fl, NULL};
    reply_says(
        call(r, claim, ckeys,
             (const char *[]){"J", "1", "w1", "60000", "m@x.org", "T", NULL}),
        "OK");

    result_args(args, "5", "1");
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
    reply_says(call(r, result, rkeys, args), "DUP");
    assert_int_equal(hget_ll(r, m, "messages_copied"), 5);
    reply = call(r, settle, (const char *[]){b, NULL}, (const char *[]){NULL});
    assert_word(reply, "OK");
    assert_string_equal(mf__batch_reply_str(reply, 1, NULL), "Synced");
    freeReplyObject(reply);

    /* An incomplete pass: Failed, yet synced once (the next pass is
     * incremental) and its counters replace the old ones. */
    batch_setup(r, b, m);
    cmd(r, "DEL %s %s", res, c);
    reply_says(
        call(r, claim, ckeys,
             (const char *[]){"J", "1", "w1", "60000", "m@x.org", "T", NULL}),
        "OK");
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
    struct mf_redis *r = mf_itest_redis();
    struct mf_error err = {0};
    redisReply *reply = NULL;
    char b[128];

    (void)state;
    snprintf(b, sizeof(b), "mf:{%s}:settle:batch", mf_itest_prefix());
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

/* The samples list parsed; fails on an element that does not parse. */
static size_t
samples(struct mf_redis *r, const char *key, struct mf_batch_sample *v,
        size_t max) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    size_t n = 0;

    assert_int_equal(mf_redis_command(r, &reply, &err, "LRANGE %s 0 -1", key),
                     MF_E_OK);
    for (size_t i = 0; i < reply->elements && n < max; i++)
        if (!mf__batch_sample_parse(reply->element[i]->str, &v[n++]))
            fail_msg("sample \"%s\"", reply->element[i]->str);
    freeReplyObject(reply);
    return n;
}

static int64_t
redis_ms(struct mf_redis *r) {
    struct mf_error err = {0};
    int64_t ms = 0;

    assert_int_equal(mf_redis_time_ms(r, &ms, &err), MF_E_OK);
    return ms;
}

/* field_ms is set, within [lo, hi], and field holds its seconds. */
static int64_t
assert_time(struct mf_redis *r, const char *key, const char *field, int64_t lo,
            int64_t hi) {
    char twin[64];
    long long ms;

    snprintf(twin, sizeof(twin), "%s_ms", field);
    ms = hget_ll(r, key, twin);
    if (ms < lo || ms > hi)
        fail_msg("%s %lld not in [%lld, %lld]", twin, ms, (long long)lo,
                 (long long)hi);
    assert_int_equal(hget_ll(r, key, field), ms / 1000);
    return ms;
}

static void
test_times_samples(void **state) {
    const struct mf_redis_script *begin = mf__batch_script(MF__BS_PASS_BEGIN);
    const struct mf_redis_script *claim = mf__batch_script(MF__BS_CLAIM);
    const struct mf_redis_script *progress = mf__batch_script(MF__BS_PROGRESS);
    const struct mf_redis_script *result = mf__batch_script(MF__BS_RESULT);
    struct mf_redis *r = mf_itest_redis();
    struct bkeys k;
    char old[64], seq[8], done[8], at[32];
    const struct timespec pause = {.tv_nsec = 150 * 1000000L};
    struct mf_batch_sample v[16];
    const char *args[40];
    redisReply *reply;
    int64_t t0, started, n;

    (void)state;
    bkeys_setup(r, &k, "tm");
    const char *b = k.b, *m = k.m, *c = k.c, *smp = k.smp;
    cmd(r, "HSET %s state %s", b, "Created");
    /* A sample in seconds, as a version from before ms left it. */
    t0 = redis_ms(r);
    snprintf(old, sizeof(old), "%lld 0 0", (long long)(t0 / 1000 - 60));
    cmd(r, "RPUSH %s %s", smp, old);

    /* The pass begins: started in s and ms, the first sample. */
    reply_says(call(r, begin, (const char *[]){b, smp, NULL},
                    (const char *[]){"start", NULL}),
               "OK");
    started = assert_time(r, b, "started", t0, redis_ms(r));
    assert_int_equal(hget_ll(r, b, "finished_ms"), 0);
    assert_int_equal(samples(r, smp, v, 16), 2);
    assert_int_equal(v[0].time_ms, (t0 / 1000 - 60) * 1000);
    assert_true(v[1].time_ms >= started && v[1].messages == 0);
    cmd(r, "HDEL %s %s", b, "enqueuing"); /* as the pass's end does */

    /* The claim: first and last pass in s and ms. */
    reply_says(
        call(r, claim, (const char *[]){b, m, c, NULL},
             (const char *[]){"J", "1", "w1", "60000", "m@x.org", "T", NULL}),
        "OK");
    assert_time(r, m, "first_sync", started, redis_ms(r));
    assert_time(r, m, "last_sync", started, redis_ms(r));

    /* Progress 150 ms apart: a sample each; two at once: one. */
    for (int i = 1; i <= 3; i++) {
        if (i < 3)
            nanosleep(&pause, NULL);
        snprintf(seq, sizeof(seq), "%d", i);
        snprintf(done, sizeof(done), "%d", 10 * i);
        reply =
            call(r, progress, (const char *[]){b, m, smp, NULL},
                 (const char *[]){"J", "1", seq, "100", done, done, "1", "0",
                                  "1000", "1", "1", "", "", "0", NULL});
        assert_word(reply, "OK");
        freeReplyObject(reply);
    }
    n = (int64_t)samples(r, smp, v, 16);
    /* The last two were 0-2 ms apart: the same 100 ms step but for the
     * rare call that crosses a step's end. */
    assert_true(n == 4 || n == 5);
    assert_int_equal(v[n - 1].messages, 30);
    assert_int_equal(v[n - 1].bytes, 30);

    /* The result: the mailbox's end, the batch settles with its end. */
    nanosleep(&pause, NULL);
    result_args(args, "40", "4000");
    reply = call(r, result,
                 (const char *[]){b, m, c, k.res, smp, k.sk, k.fl, NULL}, args);
    assert_word(reply, "OK");
    assert_string_equal(mf__batch_reply_str(reply, 5, NULL), "Synced");
    freeReplyObject(reply);
    assert_time(r, m, "finished", started, redis_ms(r));
    assert_time(r, b, "finished", started, redis_ms(r));
    assert_time(r, b, "last_pass_finished", started, redis_ms(r));
    assert_int_equal((int64_t)samples(r, smp, v, 16), n + 1);
    assert_int_equal(v[n].messages, 40);
    assert_int_equal(v[n].bytes, 4000);
    for (int64_t i = 1; i <= n; i++)
        assert_true(v[i].time_ms > v[i - 1].time_ms);

    /* A batch that has run for 2000 steps of 102.4 s: the step is that
     * long, and a sample within it replaces the last one. */
    t0 = redis_ms(r);
    snprintf(at, sizeof(at), "%lld", (long long)(t0 - 2000LL * 102400000));
    cmd(r, "HSET %s started_ms %s", b, at);
    cmd(r, "HSET %s state %s", b, "Syncing");
    cmd(r, "HSET %s state %s", m, "Syncing");
    snprintf(old, sizeof(old), "%lldms 40 4000", (long long)t0);
    cmd(r, "RPUSH %s %s", smp, old);
    reply_says(call(r, progress, (const char *[]){b, m, smp, NULL},
                    (const char *[]){"J", "1", "4", "100", "5", "5", "1", "0",
                                     "1000", "1", "1", "", "", "0", NULL}),
               "OK");
    assert_int_equal((int64_t)samples(r, smp, v, 16), n + 2);
    assert_int_equal(v[n + 1].messages, 45);
    mf_redis_free(&r);
}

static void
test_caps_lease(void **state) {
    struct mf_redis *r = mf_itest_redis();
    char q[128], qexp[128], qinfo[128], qseq[128], cap[128], wake[128];
    redisReply *one, *two, *reply;
    struct mf_error err = {0};

    (void)state;
    snprintf(q, sizeof(q), "mf:{%s}:q", mf_itest_prefix());
    snprintf(qexp, sizeof(qexp), "mf:{%s}:qexp", mf_itest_prefix());
    snprintf(qinfo, sizeof(qinfo), "mf:{%s}:qinfo", mf_itest_prefix());
    snprintf(qseq, sizeof(qseq), "mf:{%s}:qseq", mf_itest_prefix());
    snprintf(cap, sizeof(cap), "mf:{%s}:cap:total", mf_itest_prefix());
    snprintf(wake, sizeof(wake), "mf:{%s}:wake:", mf_itest_prefix());
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
        cmocka_unit_test(test_times_samples),
        cmocka_unit_test(test_caps_lease),
    };

    return MF_ITEST_REDIS_RUN(tests, MF_ITEST_DB_DEFAULT, "t:scripts-");
}
