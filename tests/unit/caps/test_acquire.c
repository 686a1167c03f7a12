/*
 * mf_caps_acquire() against a scripted fake Redis (tests/support/
 * fakeredis.h): an acquire that got no answer is retried with the same
 * lease member, so a lease its lost reply granted is found (the lease
 * script recognises the member, see integration.redis.scripts) instead
 * of a second one being taken; the next lease gets a new member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakeredis.h"
#include "mailferry/caps.h"
#include "mailferry/util.h"

#include <string.h>

/* EVALSHA, sha, nkeys, 4 queue keys + 1 cap, op, member. */
#define OP 8
#define MEMBER 9

static void
test_retry_same_member(void **state) {
    static const char *const replies[] = {
        NULL, NULL, /* the acquire and the runner's one retry: no answer */
        "*3\r\n:1\r\n:5000\r\n:100\r\n", /* the caller's retry: granted */
        "*3\r\n:1\r\n:6000\r\n:100\r\n", /* the next lease */
    };
    struct mf_caps_spec spec = {.endpoint = "imap.example:993",
                                .kind = MF_CAPS_CONNECTION,
                                .limits = {.max_connections = 1}};
    struct mf_fakeredis fk;
    struct mf_redis *r =
        mf_fakeredis_start(&fk, replies, MF_ARRAY_LEN(replies));
    struct mf_caps_waiter *w = mf_caps_waiter_new(&spec);
    struct mf_caps_lease *l = NULL, *l2 = NULL;
    enum mf_caps_cap full;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err),
                     MF_E_REDIS_UNAVAILABLE);
    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err), MF_E_OK);
    assert_non_null(l);
    assert_int_equal(mf_caps_acquire(r, w, &l2, &full, &err), MF_E_OK);
    assert_non_null(l2);
    mf_fakeredis_stop(&fk, &r);
    assert_int_equal(fk.seen, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(fk.arg[i][0], "EVALSHA");
        assert_string_equal(fk.arg[i][OP], "acquire");
    }
    assert_string_equal(fk.arg[1][MEMBER], fk.arg[0][MEMBER]);
    assert_string_equal(fk.arg[2][MEMBER], fk.arg[0][MEMBER]);
    assert_string_equal(mf_caps_lease_id(l), fk.arg[0][MEMBER]);
    assert_string_not_equal(fk.arg[3][MEMBER], fk.arg[0][MEMBER]);
    assert_string_equal(mf_caps_lease_id(l2), fk.arg[3][MEMBER]);
    mf_caps_lease_free(&l);
    mf_caps_lease_free(&l2);
    mf_caps_waiter_free(&w);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_same_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
