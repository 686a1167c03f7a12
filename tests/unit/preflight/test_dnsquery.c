/*
 * MX lookups through glibc's resolver (core/src/preflight/dnsquery.c)
 * against a scripted server on a loopback port (UDP and TCP on the same
 * port): a truncated UDP answer is asked again over TCP, SERVFAIL and
 * REFUSED answers are reported as such (res_nsend rejects them), a
 * silent server times out within --timeout, a server that stalls on TCP
 * is cut off by the watchdog, a closed port is "refused".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { FAKE_TC, FAKE_SERVFAIL, FAKE_REFUSED, FAKE_SILENT, FAKE_TC_STALL };

struct fake {
    enum mode mode;
    int udp, tcp, stop[2];
    uint16_t port;
    unsigned udp_queries, tcp_queries;
    pthread_t thread;
};

/* The answer to query q (qlen bytes: header and one question): rcode
 * and FAKE_TC as given, n MX records "mxI.<qname>" with TTL 100 + I. */
static size_t
answer(const uint8_t *q, size_t qlen, unsigned rcode, bool tc, unsigned n,
       uint8_t *out) {
    size_t len = qlen;

    memcpy(out, q, qlen);
    out[2] = (uint8_t)(0x81 | (tc ? 0x02 : 0)); /* QR RD (FAKE_TC) */
    out[3] = (uint8_t)(0x80 | rcode);           /* RA RCODE */
    out[6] = 0, out[7] = (uint8_t)n;            /* ANCOUNT */
    for (unsigned i = 0; i < n; i++) {
        uint8_t rr[] = {0xc0, 12,
                        0,    15,
                        0,    1,
                        0,    0,
                        0,    (uint8_t)(100 + i),
                        0,    8,
                        0,    (uint8_t)i,
                        3,    'm',
                        'x',  (uint8_t)('0' + i),
                        0xc0, 12};
        memcpy(out + len, rr, sizeof(rr));
        len += sizeof(rr);
    }
    return len;
}

static void
serve_tcp(struct fake *f) {
    uint8_t q[512], a[2048];
    int c = accept(f->tcp, NULL, NULL);
    ssize_t k;
    size_t n;

    if (c < 0)
        return;
    f->tcp_queries++;
    k = recv(c, q, sizeof(q), 0);
    if (k > 2 && f->mode != FAKE_TC_STALL) {
        n = answer(q + 2, (size_t)k - 2, 0, false, 3, a + 2);
        a[0] = (uint8_t)(n >> 8), a[1] = (uint8_t)n;
        (void)!send(c, a, n + 2, MSG_NOSIGNAL); /* the client checks */
    }
    if (f->mode == FAKE_TC_STALL) { /* hold the connection until the end */
        struct pollfd p = {.fd = f->stop[0], .events = POLLIN};
        poll(&p, 1, 10000);
    }
    close(c);
}

static void *
serve(void *arg) {
    struct fake *f = arg;

    for (;;) {
        struct pollfd p[3] = {{.fd = f->udp, .events = POLLIN},
                              {.fd = f->tcp, .events = POLLIN},
                              {.fd = f->stop[0], .events = POLLIN}};
        uint8_t q[512], a[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t k;
        size_t n;

        if (poll(p, 3, 10000) <= 0 || p[2].revents)
            return NULL;
        if (p[1].revents) {
            serve_tcp(f);
            continue;
        }
        k = recvfrom(f->udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (k < 12)
            continue;
        f->udp_queries++;
        if (f->mode == FAKE_SILENT)
            continue;
        n = answer(q, (size_t)k,
                   f->mode == FAKE_SERVFAIL  ? ns_r_servfail
                   : f->mode == FAKE_REFUSED ? ns_r_refused
                                             : 0,
                   f->mode == FAKE_TC || f->mode == FAKE_TC_STALL, 0, a);
        sendto(f->udp, a, n, 0, (struct sockaddr *)&from, fl);
    }
}

static void
fake_start(struct fake *f, enum mode mode) {
    struct sockaddr_in me = {.sin_family = AF_INET};
    socklen_t ml = sizeof(me);
    int one = 1;

    memset(f, 0, sizeof(*f));
    f->mode = mode;
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A free UDP port, then TCP on the same one (tries a few). */
    for (int tries = 0; tries < 20; tries++) {
        f->udp = socket(AF_INET, SOCK_DGRAM, 0);
        me.sin_port = 0;
        assert_int_equal(bind(f->udp, (struct sockaddr *)&me, sizeof(me)), 0);
        assert_int_equal(getsockname(f->udp, (struct sockaddr *)&me, &ml), 0);
        f->tcp = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(f->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(f->tcp, (struct sockaddr *)&me, sizeof(me)) == 0)
            break;
        close(f->udp), close(f->tcp);
        f->tcp = -1;
    }
    assert_true(f->tcp >= 0);
    assert_int_equal(listen(f->tcp, 4), 0);
    f->port = ntohs(me.sin_port);
    assert_int_equal(pipe(f->stop), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void
fake_stop(struct fake *f) {
    assert_int_equal(write(f->stop[1], "x", 1), 1);
    pthread_join(f->thread, NULL);
    close(f->udp), close(f->tcp), close(f->stop[0]), close(f->stop[1]);
}

static mf_err
lookup(const struct fake *f, long timeout_ms, struct mf_dns_mx_answer *a,
       struct mf_error *err) {
    struct mf_dns_server srv = {.ip = "127.0.0.1", .port = f->port};

    return mf_dns_query_mx(&srv, "example.test", timeout_ms, a, err);
}

static void
test_truncated_then_tcp(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    struct fake f;
    (void)state;

    fake_start(&f, FAKE_TC);
    assert_int_equal(lookup(&f, 2000, a, &err), MF_E_OK);
    fake_stop(&f);
    assert_int_equal(f.udp_queries, 1);
    assert_int_equal(f.tcp_queries, 1);
    assert_false(a->truncated);
    assert_int_equal(a->count, 3);
    assert_string_equal(a->mx[2].exchange, "mx2.example.test");
    assert_int_equal(a->mx[2].preference, 2);
    assert_int_equal(a->mx[2].ttl, 102);
    free(a);
}

static void
test_rejected_rcodes(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    struct fake f;
    (void)state;

    fake_start(&f, FAKE_SERVFAIL);
    assert_int_equal(lookup(&f, 2000, a, &err), MF_E_OK);
    fake_stop(&f);
    assert_int_equal(a->rcode, ns_r_servfail);
    assert_int_equal(a->count, 0);
    /* res_nsend tries again (retry) before it gives up. */
    assert_true(f.udp_queries >= 2);

    fake_start(&f, FAKE_REFUSED);
    assert_int_equal(lookup(&f, 2000, a, &err), MF_E_OK);
    fake_stop(&f);
    assert_int_equal(a->rcode, ns_r_refused);
    free(a);
}

static void
test_timeouts(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    struct fake f;
    uint64_t t0;
    (void)state;

    /* One second: one try of a second. */
    fake_start(&f, FAKE_SILENT);
    t0 = mf_monotonic_ms();
    assert_int_equal(lookup(&f, 1000, a, &err), MF_E_TIMEOUT);
    assert_true(mf_monotonic_ms() - t0 < 2500);
    fake_stop(&f);
    assert_int_equal(f.udp_queries, 1);
    assert_non_null(strstr(err.detail, "no answer"));

    /* Truncated over UDP, then silence over TCP: the watchdog ends it
     * half a second after the second. */
    fake_start(&f, FAKE_TC_STALL);
    t0 = mf_monotonic_ms();
    assert_int_equal(lookup(&f, 1000, a, &err), MF_E_TIMEOUT);
    assert_true(mf_monotonic_ms() - t0 < 3000);
    fake_stop(&f);
    assert_int_equal(f.tcp_queries, 1);
    assert_non_null(strstr(err.detail, "no answer over TCP"));
    free(a);
}

static void
test_refused(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    struct fake f;
    (void)state;

    /* A port that was just free: ICMP port unreachable, at once. */
    fake_start(&f, FAKE_SILENT);
    fake_stop(&f);
    assert_int_equal(lookup(&f, 2000, a, &err), MF_E_CONNECT);
    assert_non_null(strstr(err.detail, "connection refused"));
    free(a);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_then_tcp),
        cmocka_unit_test(test_rejected_rcodes),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
