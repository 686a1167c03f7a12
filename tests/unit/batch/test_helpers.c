/*
 * What the batch module's files share (core/src/batch/helpers.c): a
 * claim's arguments, checked once for mf_batch_claim() and
 * mf_batch_verify_claim() (a lease filled from good ones, every bad one
 * refused with the caller's word before Redis is asked), and a binary
 * field of an HGETALL reply copied (mf__batch_hget_blob(), for the
 * sealed passwords of batch and mailbox records), time fields read in
 * ms with their seconds as the fallback, and the samples list parsed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"

#include <stdlib.h>
#include <string.h>

static void
test_fills_the_lease(void **state) {
    struct mf_batch_lease l;
    struct mf_error err = {0};

    (void)state;
    memset(&l, 0x5a, sizeof(l));
    assert_int_equal(mf__batch_lease_init(&l, "claim", "wave1", "a@x.test",
                                          "wave1/a@x.test/1/initial", 2, "w-1",
                                          NULL, 30000, &err),
                     MF_E_OK);
    assert_string_equal(l.batch, "wave1");
    assert_string_equal(l.email, "a@x.test");
    assert_string_equal(l.job_id, "wave1/a@x.test/1/initial");
    assert_string_equal(l.worker, "w-1");
    assert_int_equal(l.attempt, 2);
    assert_false(l.verify);
    assert_int_equal(l.expiry_ms, 0);
}

static void
test_refusals(void **state) {
    char long_worker[sizeof(((struct mf_batch_lease *)0)->worker) + 1];
    char long_token[2 * MF_BATCH_TOKEN_LEN + 2];
    struct mf_batch_lease l;
    struct mf_error err = {0};

    (void)state;
    memset(long_worker, 'w', sizeof(long_worker) - 1);
    long_worker[sizeof(long_worker) - 1] = '\0';
    memset(long_token, 't', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    assert_int_equal(mf__batch_lease_init(&l, "claim", "bad name", "a@x", "j",
                                          1, "w", NULL, 1000, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_int_equal(mf__batch_lease_init(&l, "claim", "b", "a@x", "j", 1, "",
                                          NULL, 1000, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_string_equal(err.detail,
                        "claim: bad worker id, mailbox, job id, token or ttl");
    assert_int_equal(mf__batch_lease_init(&l, "verify claim", "b", "a@x", "j",
                                          1, long_worker, NULL, 1000, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_string_equal(err.detail, "verify claim: bad worker id, mailbox, "
                                    "job id, token or ttl");
    assert_int_equal(mf__batch_lease_init(&l, "claim", "b", "a@x", "j", 1, "w",
                                          NULL, 0, &err),
                     MF_E_INVALID_ARGUMENT);
    assert_int_equal(mf__batch_lease_init(&l, "claim", "b", "a@x", "j", 1, "w",
                                          long_token, 1000, &err),
                     MF_E_INVALID_ARGUMENT);
}

static void
test_hget_blob(void **state) {
    redisReply k1 = {.type = REDIS_REPLY_STRING, .str = "password", .len = 8};
    redisReply v1 = {.type = REDIS_REPLY_STRING, .str = "a\0b", .len = 3};
    redisReply k2 = {.type = REDIS_REPLY_STRING, .str = "empty", .len = 5};
    redisReply v2 = {.type = REDIS_REPLY_STRING, .str = "", .len = 0};
    redisReply *els[] = {&k1, &v1, &k2, &v2};
    redisReply h = {.type = REDIS_REPLY_ARRAY, .elements = 4, .element = els};
    struct mf_batch_blob b = {0};

    (void)state;
    mf__batch_hget_blob(&h, "password", &b);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);
    free(b.data);
    b = (struct mf_batch_blob){0};
    mf__batch_hget_blob(&h, "empty", &b);
    mf__batch_hget_blob(&h, "absent", &b);
    mf__batch_hget_blob(NULL, "password", &b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* An HGETALL reply of up to 4 fields from "name", "value", ... */
struct hash {
    redisReply el[8];
    redisReply *els[8];
    redisReply h;
};

static const redisReply *
hash(struct hash *x, size_t n, const char *const *kv) {
    for (size_t i = 0; i < 2 * n; i++) {
        x->el[i] = (redisReply){.type = REDIS_REPLY_STRING,
                                .str = (char *)kv[i],
                                .len = strlen(kv[i])};
        x->els[i] = &x->el[i];
    }
    x->h = (redisReply){
        .type = REDIS_REPLY_ARRAY, .elements = 2 * n, .element = x->els};
    return &x->h;
}

/* A time field in ms: the twin when it agrees with the seconds; the
 * seconds * 1000 for a record from before the twins, or one whose
 * seconds a writer from before them changed since. */
static void
test_hget_ms(void **state) {
    struct hash x;

    (void)state;
    /* A record from before the twins. */
    assert_int_equal(
        mf__batch_hget_ms(
            hash(&x, 1, (const char *[]){"started", "1714557600"}), "started"),
        1714557600000LL);
    /* A new record. */
    assert_int_equal(
        mf__batch_hget_ms(hash(&x, 2,
                               (const char *[]){"started", "1714557600",
                                                "started_ms", "1714557600250"}),
                          "started"),
        1714557600250LL);
    /* The seconds were written again without the twin. */
    assert_int_equal(mf__batch_hget_ms(
                         hash(&x, 2,
                              (const char *[]){"finished", "1714557700",
                                               "finished_ms", "1714557600250"}),
                         "finished"),
                     1714557700000LL);
    /* Not yet, and absent. */
    assert_int_equal(
        mf__batch_hget_ms(
            hash(&x, 2, (const char *[]){"finished", "0", "finished_ms", "0"}),
            "finished"),
        0);
    assert_int_equal(
        mf__batch_hget_ms(hash(&x, 1, (const char *[]){"started", "5"}),
                          "finished"),
        0);
}

/* The samples list: "<ms>ms <messages> <bytes>", or the seconds of the
 * samples from before ms; a counter below zero reads 0; anything else
 * is refused and leaves the output alone. */
static void
test_sample_parse(void **state) {
    static const char *const bad[] = {
        "",         "x 1 2",  "1 2",     "1 2 3 4",
        "1ms2 3 4", "1 2 3 ", "-5 1 2",  "1 2 x",
        "1s 2 3",   " 1 2 3", "1 2 3\n", "99999999999999999999 1 2"};
    struct mf_batch_sample s = {0};

    (void)state;
    assert_true(mf__batch_sample_parse("1714557600250ms 10 2048", &s));
    assert_int_equal(s.time_ms, 1714557600250LL);
    assert_int_equal(s.messages, 10);
    assert_int_equal(s.bytes, 2048);
    assert_true(mf__batch_sample_parse("1714557600 7 9", &s));
    assert_int_equal(s.time_ms, 1714557600000LL);
    assert_int_equal(s.messages, 7);
    assert_int_equal(s.bytes, 9);
    assert_true(mf__batch_sample_parse("1714557600250ms -3 -1", &s));
    assert_int_equal(s.messages, 0);
    assert_int_equal(s.bytes, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = (struct mf_batch_sample){.time_ms = 42};
        if (mf__batch_sample_parse(bad[i], &s))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(s.time_ms, 42);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hget_ms),
        cmocka_unit_test(test_sample_parse),
        cmocka_unit_test(test_hget_blob),
        cmocka_unit_test(test_fills_the_lease),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
