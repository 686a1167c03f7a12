/* Endpoint URLs: the three forms, ports, IPv6, and clear refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/endpoint.h"
#include "mailferry/util.h"

#include <string.h>

static void
test_good(void **state) {
    static const struct {
        const char *url, *host, *canonical;
        uint16_t port;
        enum mf_tls_mode tls;
    } v[] = {
        {"imaps://mail.example.com", "mail.example.com",
         "imaps://mail.example.com:993", 993, MF_TLS_IMPLICIT},
        {"imap://127.0.0.1:1143", "127.0.0.1", "imap://127.0.0.1:1143", 1143,
         MF_TLS_STARTTLS},
        {"imap://lab:143/?tls=off", "lab", "imap://lab:143/?tls=off", 143,
         MF_TLS_OFF},
        {"imap://lab?tls=off", "lab", "imap://lab:143/?tls=off", 143,
         MF_TLS_OFF},
        {"imaps://[::1]:9993/", "::1", "imaps://[::1]:9993", 9993,
         MF_TLS_IMPLICIT},
    };
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        struct mf_endpoint ep;
        struct mf_error err = {0};
        char out[300];
        assert_int_equal(mf_endpoint_parse(v[i].url, &ep, &err), MF_E_OK);
        assert_string_equal(ep.host, v[i].host);
        assert_int_equal(ep.port, v[i].port);
        assert_int_equal(ep.tls, v[i].tls);
        mf_endpoint_format(&ep, out, sizeof(out));
        assert_string_equal(out, v[i].canonical);
    }
}

static void
test_bad(void **state) {
    static const char *const bad[] = {
        "http://x",           "imaps://",         "imaps://host:0",
        "imaps://host:65536", "imaps://host:abc", "imaps://[::1",
        "imaps://h/?tls=off", "imap://h/?tls=on", "imap://user@host",
        "imap://host/INBOX",  "imaps://ho st",
    };
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        struct mf_endpoint ep = {.port = 7};
        struct mf_error err = {0};
        if (mf_endpoint_parse(bad[i], &ep, &err) != MF_E_CONFIG)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(ep.port, 7); /* untouched */
        assert_true(strlen(err.detail) > 0);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
