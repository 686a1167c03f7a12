/* Redis URLs and checkpoint values (pure parts of the redis module). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/checkpoint.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <string.h>

static void
test_urls(void **state) {
    struct mf_redis_address a;
    struct mf_error err = {0};
    static const char *const bad[] = {
        "http://x",     "redis://",    "redis://h:0",     "redis://h:99999",
        "redis://h/16", "redis://h/x", "unix://relative", "redis://h:1x",
    };

    (void)state;
    assert_int_equal(mf_redis_address_parse("redis://127.0.0.1:7000", &a, &err),
                     MF_E_OK);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 0);
    assert_string_equal(a.path, "");
    assert_int_equal(mf_redis_address_parse("redis://redis/3", &a, &err),
                     MF_E_OK);
    assert_int_equal(a.port, 6379);
    assert_int_equal(a.db, 3);
    assert_int_equal(
        mf_redis_address_parse("unix:///run/mf/redis.sock", &a, &err), MF_E_OK);
    assert_string_equal(a.path, "/run/mf/redis.sock");
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++)
        if (mf_redis_address_parse(bad[i], &a, &err) != MF_E_CONFIG)
            fail_msg("accepted %s", bad[i]);
}

static void
test_checkpoint_codec(void **state) {
    struct mf_checkpoint c = {.uidvalidity = 4294967295u,
                              .last_uid = 17,
                              .dirty = true,
                              .tgt_uidvalidity = 9,
                              .tgt_mark = 88};
    struct mf_checkpoint d;
    char buf[96];
    static const char *const bad[] = {"",
                                      "1",
                                      "1 2",
                                      "0 2 clean",
                                      "1 2 maybe",
                                      "1 -2 clean",
                                      "4294967296 1 clean",
                                      "1 2 clean x",
                                      "1 2 clean 3",
                                      "1 2 clean 3 x",
                                      "1 2 clean 3 4 5"};
    struct mf_checkpoint old;

    (void)state;
    mf_checkpoint_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "4294967295 17 dirty 9 88");
    assert_true(mf_checkpoint_parse(buf, strlen(buf), &d));
    assert_int_equal(c.uidvalidity, d.uidvalidity);
    assert_int_equal(c.last_uid, d.last_uid);
    assert_int_equal(c.dirty, d.dirty);
    assert_int_equal(d.tgt_uidvalidity, 9);
    assert_int_equal(d.tgt_mark, 88);
    /* Values written before the target fields existed still parse. */
    assert_true(mf_checkpoint_parse("5 6 clean", 9, &old));
    assert_int_equal(old.last_uid, 6);
    assert_int_equal(old.tgt_uidvalidity, 0);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++)
        if (mf_checkpoint_parse(bad[i], strlen(bad[i]), &d))
            fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_checkpoint_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
