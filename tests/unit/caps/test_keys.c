/* Key names and spec checks of the caps module (no Redis needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "caps/caps_int.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

static void
test_encode(void **state) {
    static const struct {
        const char *in, *out;
    } v[] = {
        {"alice@example.com", "alice@example.com"},
        {"10.0.0.1", "10.0.0.1"},
        {"fe80::1", "fe80%3A%3A1"},
        {"a b\tc\n", "a%20b%09c%0A"},
        {"{tag}", "%7Btag%7D"},
        {"%", "%25"},
        {"\xc3\xa9", "%C3%A9"},
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        char *got = mf__caps_encode(v[i].in);
        assert_string_equal(got, v[i].out);
        free(got);
    }
}

static void
test_keys(void **state) {
    struct mf_caps_spec s = {.endpoint = "src:imap.example.com:993",
                             .kind = MF_CAPS_CONNECTION,
                             .user = "bob smith",
                             .ip = "10.0.0.7",
                             .limits = {.max_connections = 5,
                                        .max_connections_per_user = 3,
                                        .max_connections_per_ip = 2}};
    struct mf__caps_keys k, c;

    (void)state;
    mf__caps_keys_init(&k, &s);
    assert_string_equal(k.q, "mf:{c:src:imap.example.com:993}:q");
    assert_string_equal(k.wake_prefix, "mf:{c:src:imap.example.com:993}:wake:");
    assert_int_equal(k.ncaps, 3);
    assert_string_equal(k.cap[0], "mf:{c:src:imap.example.com:993}:cap:total");
    assert_int_equal(k.limit[0], 5);
    assert_int_equal(k.which[0], MF_CAPS_CAP_TOTAL);
    assert_string_equal(k.cap[1],
                        "mf:{c:src:imap.example.com:993}:cap:user:bob%20smith");
    assert_int_equal(k.which[1], MF_CAPS_CAP_USER);
    assert_string_equal(k.cap[2],
                        "mf:{c:src:imap.example.com:993}:cap:ip:10.0.0.7");
    assert_int_equal(k.limit[2], 2);
    mf__caps_keys_copy(&c, &k);
    mf__caps_keys_fini(&k);
    assert_string_equal(c.cap[2],
                        "mf:{c:src:imap.example.com:993}:cap:ip:10.0.0.7");
    mf__caps_keys_fini(&c);

    /* Unlimited per-user and per-IP caps are not entered at all; the
     * total always is (for usage counts), even when unlimited. */
    s.limits = (struct mf_caps_limits){0};
    s.user = s.ip = NULL;
    assert_int_equal(mf_caps_spec_check(&s, &(struct mf_error){0}), MF_E_OK);
    mf__caps_keys_init(&k, &s);
    assert_int_equal(k.ncaps, 1);
    assert_int_equal(k.limit[0], 0);
    mf__caps_keys_fini(&k);

    s.kind = MF_CAPS_MAILBOX;
    s.limits.max_concurrent_mailboxes = 4;
    mf__caps_keys_init(&k, &s);
    assert_int_equal(k.ncaps, 1);
    assert_string_equal(k.cap[0],
                        "mf:{c:src:imap.example.com:993}:cap:mailboxes");
    assert_int_equal(k.which[0], MF_CAPS_CAP_MAILBOXES);
    mf__caps_keys_fini(&k);
}

static void
test_spec_check(void **state) {
    struct mf_caps_spec ok = {.endpoint = "dst:x:143",
                              .kind = MF_CAPS_CONNECTION,
                              .user = "u",
                              .ip = "1.2.3.4",
                              .limits = {1, 1, 1, 1}};
    struct mf_caps_spec s;
    struct mf_error err = {0};
    char long_ep[MF_CAPS_ENDPOINT_MAX + 2];

    (void)state;
    assert_int_equal(mf_caps_spec_check(&ok, &err), MF_E_OK);
    static const char *const bad_ep[] = {"", "a{b", "a}b", "a\nb", "a\x7f"};
    for (size_t i = 0; i < MF_ARRAY_LEN(bad_ep); i++) {
        s = ok;
        s.endpoint = bad_ep[i];
        assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    }
    memset(long_ep, 'x', sizeof(long_ep) - 1);
    long_ep[sizeof(long_ep) - 1] = '\0';
    s = ok;
    s.endpoint = long_ep;
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    s = ok;
    s.user = "";
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "per-user"));
    s = ok;
    s.ip = NULL;
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    s = ok;
    s.ttl_ms = -1;
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    /* A mailbox lease needs neither user nor IP. */
    s = ok;
    s.kind = MF_CAPS_MAILBOX;
    s.user = s.ip = NULL;
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_OK);
}

static void
test_names_and_ids(void **state) {
    char a[MF__CAPS_ID_LEN + 1], b[MF__CAPS_ID_LEN + 1];

    (void)state;
    assert_string_equal(mf_caps_cap_name(MF_CAPS_CAP_TOTAL), "total");
    assert_string_equal(mf_caps_cap_name(MF_CAPS_CAP_USER), "user");
    assert_string_equal(mf_caps_cap_name(MF_CAPS_CAP_IP), "ip");
    assert_string_equal(mf_caps_cap_name(MF_CAPS_CAP_MAILBOXES), "mailboxes");
    assert_string_equal(mf_caps_cap_name(MF_CAPS_CAP_NONE), "none");
    mf__caps_random_id(a);
    mf__caps_random_id(b);
    assert_int_equal(strlen(a), MF__CAPS_ID_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), MF__CAPS_ID_LEN);
    assert_string_not_equal(a, b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_spec_check),
        cmocka_unit_test(test_names_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
