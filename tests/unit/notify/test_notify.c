/*
 * Notification bodies and signatures (core/src/notify/notify.c): the
 * versioned JSON a receiver parses, the event's own members spliced in,
 * strings escaped; HMAC-SHA256 against RFC 4231's test case 2; a
 * notifier that cannot reach its receiver gives up after its attempts
 * and counts it, without blocking the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/notify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
test_body(void **state) {
    (void)state;
    char *b = mf_notify_body("host-7", "batch.state", 1796482470, "b\"1",
                             "\"state\":\"Synced\",\"previous\":\"Syncing\"");

    assert_string_equal(b, "{\"version\":1,\"id\":\"host-7\",\"event\":"
                           "\"batch.state\",\"time\":\"2026-12-05T14:54:30Z\","
                           "\"batch\":\"b\\\"1\",\"state\":\"Synced\","
                           "\"previous\":\"Syncing\"}");
    free(b);
    b = mf_notify_body("h-1", "batch.stuck", 0, "b", "");
    assert_string_equal(b, "{\"version\":1,\"id\":\"h-1\",\"event\":"
                           "\"batch.stuck\",\"time\":\"1970-01-01T00:00:00Z\","
                           "\"batch\":\"b\"}");
    free(b);
}

static void
test_sign_rfc4231(void **state) {
    (void)state;
    char sig[80];

    /* RFC 4231 4.3, test case 2. */
    mf_notify_sign((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
                   sig, sizeof(sig));
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f0"
                             "89d2739839dec58b964ec3843");
}

static void
test_unreachable_gives_up(void **state) {
    (void)state;
    struct mf_notify_metrics m;
    struct mf_notify_options o = {.url = "http://127.0.0.1:1/x",
                                  .attempts = 3,
                                  .backoff_ms = 10,
                                  .metrics = &m};
    struct mf_notifier *n = NULL;
    struct mf_error err = {0};
    time_t t0 = time(NULL);

    memset(&m, 0, sizeof(m));
    assert_int_equal(mf_notifier_new(&o, &n, &err), MF_E_OK);
    mf_notify(n, "batch.state", "b", "");
    for (int i = 0; i < 500 && atomic_load(&m.failed) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&m.failed), 1);
    assert_int_equal(atomic_load(&m.retried), 2);
    assert_int_equal(atomic_load(&m.delivered), 0);
    mf_notifier_free(&n, 0);
    assert_null(n);
    assert_true(time(NULL) - t0 < 10);
    /* Not http(s). */
    o.url = "file:///etc/passwd";
    assert_int_equal(mf_notifier_new(&o, &n, &err), MF_E_INVALID_ARGUMENT);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_sign_rfc4231),
        cmocka_unit_test(test_unreachable_gives_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
