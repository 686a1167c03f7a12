/*
 * The worker's pure parts: the metrics error table (lock-free, bounded,
 * safe from many threads) and the option checks mf_worker_run() makes
 * before it contacts Kafka or Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/worker.h"

#include <pthread.h>
#include <string.h>

static void
test_errors_counted(void **state) {
    struct mf_worker_stats s;

    (void)state;
    mf_worker_stats_init(&s);
    mf_worker_stats_count_error(&s, MF_E_AUTH);
    mf_worker_stats_count_error(&s, MF_E_AUTH);
    mf_worker_stats_count_error(&s, MF_E_OK); /* not an error */
    mf_worker_stats_count_error(&s, MF_E_TIMEOUT);
    assert_int_equal(s.errors[0].code, MF_E_AUTH);
    assert_int_equal(s.errors[0].count, 2);
    assert_int_equal(s.errors[1].code, MF_E_TIMEOUT);
    assert_int_equal(s.errors[1].count, 1);
    assert_int_equal(s.errors[2].code, 0);
    mf_worker_stats_count_error(NULL, MF_E_AUTH); /* no stats: ignored */
}

static void
test_errors_overflow(void **state) {
    struct mf_worker_stats s;

    (void)state;
    mf_worker_stats_init(&s);
    /* More distinct codes than the table holds: the rest are summed. */
    for (int code = 1; code <= MF_WORKER_ERROR_CODES + 5; code++)
        mf_worker_stats_count_error(&s, (mf_err)code);
    assert_int_equal(s.errors[MF_WORKER_ERROR_CODES - 1].code,
                     MF_WORKER_ERROR_CODES);
    assert_int_equal(s.errors_other, 5);
}

#define THREADS 8
#define PER_THREAD 10000

static void *
hammer(void *arg) {
    struct mf_worker_stats *s = arg;

    for (int i = 0; i < PER_THREAD; i++)
        mf_worker_stats_count_error(s, (mf_err)(300 + i % 10));
    return NULL;
}

static void
test_errors_threads(void **state) {
    static struct mf_worker_stats s;
    pthread_t t[THREADS];
    uint64_t total = 0;
    int entries = 0;

    (void)state;
    mf_worker_stats_init(&s);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &s), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < MF_WORKER_ERROR_CODES; i++) {
        if (s.errors[i].code)
            entries++;
        total += s.errors[i].count;
    }
    /* Every code exactly once in the table, no count lost. */
    assert_int_equal(entries, 10);
    assert_int_equal(total, (uint64_t)THREADS * PER_THREAD);
    assert_int_equal(s.errors_other, 0);
}

static void
test_options_checked(void **state) {
    static const char key[] =
        "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    struct mf_crypto_keyring *kr = NULL;
    struct mf_config *cfg = mf_config_new();
    struct mf_worker_options o;
    struct mf_error err = {0};
    atomic_bool stop = true;

    (void)state;
    assert_int_equal(mf_crypto_keyring_parse(key, strlen(key), &kr, &err),
                     MF_E_OK);
    memset(&o, 0, sizeof(o));
    assert_int_equal(mf_worker_run(&o, &stop, NULL, &err),
                     MF_E_INVALID_ARGUMENT);

    o.config = cfg;
    o.redis_url = "redis://127.0.0.1:1";
    o.keyring = kr;
    o.claim_ttl_ms = 1000; /* renewed every 333 ms: too tight */
    assert_int_equal(mf_worker_run(&o, &stop, NULL, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "TTL"));

    o.claim_ttl_ms = 0;
    o.slots = MF_WORKER_MAX_SLOTS + 1;
    assert_int_equal(mf_worker_run(&o, &stop, NULL, &err), MF_E_CONFIG);

    o.slots = 0;
    o.topic_prefix = "bad prefix!";
    assert_int_equal(mf_worker_run(&o, &stop, NULL, &err), MF_E_CONFIG);

    mf_crypto_keyring_free(&kr);
    mf_config_free(&cfg);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_counted),
        cmocka_unit_test(test_errors_overflow),
        cmocka_unit_test(test_errors_threads),
        cmocka_unit_test(test_options_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
