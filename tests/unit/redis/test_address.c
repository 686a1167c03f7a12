/* Redis URLs and checkpoint values (pure parts of the redis module). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/checkpoint.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

/* The address of url, which must parse. */
static struct mf_redis_address
parse_ok(const char *url) {
    struct mf_redis_address a;
    struct mf_error err = {0};
    mf_err rc = mf_redis_address_parse(url, &a, &err);

    if (rc != MF_E_OK)
        fail_msg("%s: %s (%s)", url, mf_err_name(rc), err.detail);
    return a;
}

/* Every URL of bad[n] must be refused as MF_E_CONFIG; *err holds the
 * last refusal. */
static void
expect_refused(const char *const *bad, size_t n, struct mf_error *err) {
    struct mf_redis_address a;

    for (size_t i = 0; i < n; i++)
        if (mf_redis_address_parse(bad[i], &a, err) != MF_E_CONFIG)
            fail_msg("accepted %s", bad[i]);
}

static void
test_urls(void **state) {
    struct mf_redis_address a;
    struct mf_error err = {0};
    static const char *const bad[] = {
        "http://x",     "redis://",    "redis://h:0",     "redis://h:99999",
        "redis://h/16", "redis://h/x", "unix://relative", "redis://h:1x",
    };

    (void)state;
    a = parse_ok("redis://127.0.0.1:7000");
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 0);
    assert_string_equal(a.path, "");
    a = parse_ok("redis://redis/3");
    assert_int_equal(a.port, 6379);
    assert_int_equal(a.db, 3);
    a = parse_ok("unix:///run/mf/redis.sock");
    assert_string_equal(a.path, "/run/mf/redis.sock");
    expect_refused(bad, MF_ARRAY_LEN(bad), &err);
}

/* Issue 17 item 3: AUTH with an ACL user and a password file; never a
 * password in the URL; no TLS with hiredis 0.14. */
static void
test_auth_urls(void **state) {
    struct mf_redis_address a;
    struct mf_error err = {0};
    static const char *const bad[] = {
        "redis://alice:secret@h:6379", /* password in the URL */
        "redis://alice@h:6379",        /* a user without a password file */
        "redis://h?password=secret",   /* unknown parameter */
        "redis://h?password-file=",    /* empty */
        "rediss://h:6380",             /* TLS: hiredis 0.14 has none */
    };

    (void)state;
    unsetenv("MAILFERRY_REDIS_PASSWORD_FILE");
    a = parse_ok("redis://alice@redis:7000/2?password-file=/s/pw");
    assert_string_equal(a.user, "alice");
    assert_string_equal(a.host, "redis");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 2);
    assert_string_equal(a.password_file, "/s/pw");
    a = parse_ok("redis://h?password-file=/s/pw");
    assert_string_equal(a.user, "");
    assert_string_equal(a.password_file, "/s/pw");
    a = parse_ok("unix:///run/r.sock?user=bob&password-file=/p");
    assert_string_equal(a.path, "/run/r.sock");
    assert_string_equal(a.user, "bob");
    assert_string_equal(a.password_file, "/p");
    expect_refused(bad, MF_ARRAY_LEN(bad), &err);
    assert_null(strstr(err.detail, "secret"));
}

/* Formats c, which must read want, and parses that back into *d. */
static void
format_parse(const struct mf_checkpoint *c, const char *want,
             struct mf_checkpoint *d) {
    char *buf = mf_checkpoint_format(c);

    assert_string_equal(buf, want);
    assert_true(mf_checkpoint_parse(buf, strlen(buf), d));
    free(buf);
}

static void
test_checkpoint_codec(void **state) {
    uint32_t pend[] = {3, 9, 17};
    struct mf_checkpoint c = {.uidvalidity = 4294967295u,
                              .last_uid = 17,
                              .dirty = true,
                              .tgt_uidvalidity = 9,
                              .tgt_mark = 88,
                              .src_bytes = 123456789012ull,
                              .pending = pend,
                              .n_pending = 3};
    struct mf_checkpoint d = {0};
    char *buf;
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
                                      "1 2 clean 3 4 x",
                                      "1 2 clean 3 4 5 x",
                                      "1 2 clean 3 4 5 3",
                                      "1 5 clean 3 4 5 2,2",
                                      "1 5 clean 3 4 5 3,2",
                                      "1 5 clean 3 4 5 0",
                                      "1 5 clean 3 4 5 1,",
                                      "1 5 clean 3 4 5 ,1",
                                      "1 5 clean 3 4 5 - 6",
                                      "1 5 clean 3 4 5 1,,2",
                                      "1 5 clean 3 4 5 - st1:",
                                      "1 5 clean 3 4 5 - st1:1,2,3,4,5",
                                      "1 5 clean 3 4 5 - st1:1,2,3,4,5,6,7",
                                      "1 5 clean 3 4 5 - st1:1,2,,4,5,6",
                                      "1 5 clean 3 4 5 - st1:4294967296,2,3,"
                                      "4,5,6",
                                      "1 5 clean 3 4 5 - st:1,2,3,4,5,6",
                                      "1 5 clean 3 4 5 - stx:1",
                                      "1 5 clean 3 4 5 - st1:1,2,3,4,5,6 x",
                                      "1 5 clean 3 4 5 - win1:1,2,3",
                                      "1 5 clean 3 4 5 - win1:1,2,3,x",
                                      "1 5 clean 3 4 5 - win1:99991232,0,0,0",
                                      "1 5 clean 3 4 5 - win1:1,2,3,4,5"};
    struct mf_checkpoint old = {0};

    (void)state;
    format_parse(&c, "4294967295 17 dirty 9 88 123456789012 3,9,17", &d);
    assert_int_equal(c.uidvalidity, d.uidvalidity);
    assert_int_equal(c.last_uid, d.last_uid);
    assert_int_equal(c.dirty, d.dirty);
    assert_int_equal(d.tgt_uidvalidity, 9);
    assert_int_equal(d.tgt_mark, 88);
    assert_true(d.src_bytes == 123456789012ull);
    assert_int_equal(d.n_pending, 3);
    assert_memory_equal(d.pending, pend, sizeof(pend));
    mf_checkpoint_pending_free(&d);
    assert_null(d.pending);
    /* No pending UIDs: "-". */
    c.n_pending = 0;
    format_parse(&c, "4294967295 17 dirty 9 88 123456789012 -", &d);
    assert_int_equal(d.n_pending, 0);
    /* Values written before the target, size and pending fields existed
     * still parse. */
    assert_true(mf_checkpoint_parse("5 6 clean", 9, &old));
    assert_int_equal(old.last_uid, 6);
    assert_int_equal(old.tgt_uidvalidity, 0);
    assert_true(mf_checkpoint_parse("5 6 clean 7 8", 13, &old));
    assert_int_equal(old.tgt_mark, 8);
    assert_int_equal(old.n_pending, 0);
    assert_false(old.has_status);
    /* The STATUS of both folders (a clean checkpoint), round trip. */
    c.has_status = true;
    c.src_status.uidnext = 18;
    c.src_status.messages = 4294967295u;
    c.src_status.highestmodseq = 18446744073709551615ull;
    c.tgt_status.uidnext = 90;
    c.tgt_status.messages = 0;
    c.tgt_status.highestmodseq = 0;
    memset(&d, 0, sizeof(d));
    format_parse(&c,
                 "4294967295 17 dirty 9 88 123456789012 - "
                 "st1:18,4294967295,18446744073709551615,90,0,0",
                 &d);
    assert_true(d.has_status);
    assert_int_equal(d.src_status.uidnext, 18);
    assert_int_equal(d.src_status.messages, 4294967295u);
    assert_true(d.src_status.highestmodseq == 18446744073709551615ull);
    assert_int_equal(d.tgt_status.uidnext, 90);
    assert_int_equal(d.tgt_status.messages, 0);
    assert_true(d.tgt_status.highestmodseq == 0);
    /* Old values load without a status; a later version's is ignored. */
    assert_true(mf_checkpoint_parse("5 6 clean 7 8 9 -", 17, &old));
    assert_false(old.has_status);
    assert_true(mf_checkpoint_parse("5 6 clean 7 8 9 - st2:a;b", 25, &old));
    assert_false(old.has_status);
    assert_int_equal(old.tgt_mark, 8);
    /* The date window and what it left out, after the status or alone. */
    c.window.since = 20260301;
    c.out_messages = 12;
    c.out_bytes = 18446744073709551615ull;
    memset(&d, 0, sizeof(d));
    format_parse(&c,
                 "4294967295 17 dirty 9 88 123456789012 - "
                 "st1:18,4294967295,18446744073709551615,90,0,0 "
                 "win1:20260301,0,12,18446744073709551615",
                 &d);
    assert_true(d.has_status);
    assert_int_equal(d.window.since, 20260301);
    assert_int_equal(d.window.before, 0);
    assert_int_equal(d.out_messages, 12);
    assert_true(d.out_bytes == 18446744073709551615ull);
    assert_true(
        mf_checkpoint_parse("5 6 clean 7 8 9 - win1:0,20260101,1,2", 37, &old));
    assert_false(old.has_status);
    assert_int_equal(old.window.before, 20260101);
    assert_int_equal(old.out_bytes, 2);
    assert_false(old.sync_deletes);
    assert_true(mf_checkpoint_parse("5 6 clean 7 8 9 - sd1", 21, &old));
    assert_true(old.sync_deletes);
    c.sync_deletes = true;
    buf = mf_checkpoint_format(&c);
    assert_non_null(strstr(buf, "win1:20260301,0,12,18446744073709551615 sd1"));
    assert_true(mf_checkpoint_parse(buf, strlen(buf), &d));
    assert_true(d.sync_deletes && d.has_status && d.out_messages == 12);
    free(buf);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++)
        if (mf_checkpoint_parse(bad[i], strlen(bad[i]), &d)) {
            mf_checkpoint_pending_free(&d);
            fail_msg("accepted \"%s\"", bad[i]);
        }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_auth_urls),
        cmocka_unit_test(test_checkpoint_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
