/*
 * The service's HTTP endpoints (core/src/service/health.c): started on a
 * free port, /metrics answers with the service's figures and /healthz
 * with the loop's liveness; a bad address fails and leaves nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* GET path over HTTP/1.0; the whole answer into buf. */
static void
get(uint16_t port, const char *path, char *buf, size_t n) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char req[128];
    size_t len = 0;
    ssize_t got;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (len + 1 < n && (got = read(fd, buf + len, n - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    close(fd);
}

static void
test_metrics_and_health(void **state) {
    struct mf_service_metrics m;
    struct mf_service_http *h = NULL;
    struct mf_error err = {0};
    static char buf[65536];

    (void)state;
    mf_service_metrics_init(&m);
    assert_int_equal(mf_service_http_start("127.0.0.1:0", &m, 1000, &h, &err),
                     MF_E_OK);
    assert_true(mf_service_http_port(h) > 0);
    get(mf_service_http_port(h), "/metrics", buf, sizeof(buf));
    assert_non_null(strstr(buf, " 200 "));
    assert_non_null(strstr(buf, "mailferry_coordinator_"));
    get(mf_service_http_port(h), "/healthz", buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1."));
    mf_service_http_stop(&h);
    assert_null(h);
    mf_service_http_stop(&h);
}

static void
test_bad_address(void **state) {
    struct mf_service_metrics m;
    struct mf_service_http *h = NULL;
    struct mf_error err = {0};

    (void)state;
    mf_service_metrics_init(&m);
    assert_int_not_equal(
        mf_service_http_start("not an address", &m, 1000, &h, &err), MF_E_OK);
    assert_null(h);
    assert_true(err.detail[0] != '\0');
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_and_health),
        cmocka_unit_test(test_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
