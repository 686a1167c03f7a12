/*
 * The target quota in the plan (core/src/plan/quota.c): QUOTA responses
 * (RFC 9208 section 7.1) as a real parser delivers them, STORAGE in KiB,
 * the tightest of several roots, and whether a plan fits what is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plan/plan_int.h"

#include <string.h>

struct got {
    struct mf_plan_quota q;
    unsigned taken, refused;
};

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct got *g = ud;

    if (mf__plan_quota_parse(r, &g->q))
        g->taken++;
    else
        g->refused++;
    return MF_E_OK;
}

/* Feeds text (one or more responses) to a parser and each response to
 * mf__plan_quota_parse(). */
static struct got
feed(const char *text) {
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct got g;
    struct mf_imap_parser *p;
    size_t used;

    memset(&g, 0, sizeof(g));
    p = mf_imap_parser_new(NULL, &cb, &g);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)text, strlen(text), &used),
        MF_E_OK);
    mf_imap_parser_free(&p);
    return g;
}

static void
test_storage_and_messages(void **state) {
    (void)state;
    struct got g = feed("* QUOTA \"User quota\" (STORAGE 10 512 "
                        "MESSAGE 3 1000)\r\n");

    assert_int_equal(g.taken, 1);
    assert_true(g.q.checked);
    assert_true(g.q.has_storage);
    assert_true(g.q.has_messages);
    /* RFC 9208 5.1: STORAGE counts 1024-octet units. */
    assert_int_equal(g.q.storage_used, 10 * 1024);
    assert_int_equal(g.q.storage_limit, 512 * 1024);
    assert_int_equal(g.q.messages_used, 3);
    assert_int_equal(g.q.messages_limit, 1000);
}

static void
test_tightest_root_wins(void **state) {
    (void)state;
    /* A user root with 400 KiB left, a domain root with 100 KiB left. */
    struct got g = feed("* QUOTAROOT INBOX user domain\r\n"
                        "* QUOTA user (STORAGE 100 500)\r\n"
                        "* QUOTA domain (STORAGE 9900 10000)\r\n"
                        "* QUOTA user2 (STORAGE 0 100000)\r\n");

    assert_int_equal(g.taken, 3);
    assert_int_equal(g.refused, 1); /* QUOTAROOT is not a QUOTA */
    assert_int_equal(g.q.storage_used, 9900 * 1024);
    assert_int_equal(g.q.storage_limit, 10000 * 1024);
    assert_false(g.q.has_messages);
}

static void
test_not_quota(void **state) {
    (void)state;
    struct got g = feed("* QUOTA root STORAGE\r\n"
                        "* 3 EXISTS\r\n"
                        "* QUOTA root (STORAGE x 5)\r\n");

    assert_int_equal(g.taken, 0);
    assert_false(g.q.has_storage);
}

static void
test_fit(void **state) {
    (void)state;
    struct mf_plan_quota q = {.checked = true,
                              .has_storage = true,
                              .storage_used = 1000,
                              .storage_limit = 5000,
                              .has_messages = true,
                              .messages_used = 10,
                              .messages_limit = 20};
    struct mf_plan_counts copy = {.messages = 10, .bytes = 4000};

    mf__plan_quota_fit(&q, &copy);
    assert_int_equal(q.bytes_short, 0);
    assert_int_equal(q.messages_short, 0);
    copy = (struct mf_plan_counts){.messages = 15, .bytes = 4500};
    mf__plan_quota_fit(&q, &copy);
    assert_int_equal(q.bytes_short, 500);
    assert_int_equal(q.messages_short, 5);
    /* Already over its limit: everything is short. */
    q.storage_used = 6000;
    mf__plan_quota_fit(&q, &copy);
    assert_int_equal(q.bytes_short, 4500);
    /* No STORAGE limit reported: bytes always fit. */
    q.has_storage = false;
    mf__plan_quota_fit(&q, &copy);
    assert_int_equal(q.bytes_short, 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage_and_messages),
        cmocka_unit_test(test_tightest_root_wins),
        cmocka_unit_test(test_not_quota),
        cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
