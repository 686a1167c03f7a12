/*
 * A tiny DNS client for MX lookups (see mailferry/preflight.h): one UDP
 * query, retried up to three times, and the same over TCP when the UDP
 * answer is truncated (RFC 1035 section 4.2.2: a two-octet length prefix).
 * The bytes are built and parsed by dnsmx.c; this file only moves them.
 *
 * A UDP answer that does not parse as the answer to our question (a late
 * answer to an earlier try, a spoofed packet) is ignored and we keep
 * waiting, as resolvers do; only a well-formed answer ends the wait.
 */
#include "mailferry/preflight.h"

#include "mailferry/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define UDP_MAX 4096
#define TRIES 3

static socklen_t
make_addr(const struct mf_dns_server *srv, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof(*ss));
    if (strchr(srv->ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(srv->port);
        if (inet_pton(AF_INET6, srv->ip, &a->sin6_addr) != 1)
            return 0;
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(srv->port);
    if (inet_pton(AF_INET, srv->ip, &a->sin_addr) != 1)
        return 0;
    return sizeof(*a);
}

/* A random query id: not for security (we ask a server the admin
 * named), but so that a late answer to another client is not ours. */
static uint16_t
query_id(void) {
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16) ^ getpid());
}

static mf_err
query_udp(const struct mf_dns_server *srv, const char *domain, const uint8_t *q,
          size_t qlen, uint16_t id, long timeout_ms,
          struct mf_dns_mx_answer *ans_r, struct mf_error *err) {
    struct sockaddr_storage ss;
    socklen_t slen = make_addr(srv, &ss);
    uint8_t *buf = NULL;
    mf_err rc = MF_E_TIMEOUT;
    struct mf_error last = {0};
    int fd;

    if (slen == 0)
        return mf_error_set(err, MF_E_CONFIG, "bad server address %s", srv->ip);
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mf_error_set(err, MF_E_DNS, "socket: %s", strerror(errno));
    /* connect(): the kernel then drops datagrams from other addresses
     * and reports ICMP port unreachable as ECONNREFUSED. */
    if (connect(fd, (struct sockaddr *)&ss, slen) != 0) {
        rc = mf_error_set(err, MF_E_DNS, "connect to %s port %u: %s", srv->ip,
                          srv->port, strerror(errno));
        goto out;
    }
    buf = mf_xmalloc(UDP_MAX);
    for (int t = 0; t < TRIES; t++) {
        long deadline = (long)mf_monotonic_ms() + timeout_ms / TRIES;
        if (send(fd, q, qlen, 0) != (ssize_t)qlen) {
            rc = mf_error_set(err, MF_E_DNS, "send to %s port %u: %s", srv->ip,
                              srv->port, strerror(errno));
            goto out;
        }
        for (;;) {
            long left = deadline - (long)mf_monotonic_ms();
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            ssize_t n;
            if (left <= 0)
                break;
            if (poll(&pfd, 1, (int)left) <= 0)
                continue; /* EINTR or timeout: the loop checks the time */
            n = recv(fd, buf, UDP_MAX, 0);
            if (n < 0) {
                if (errno == ECONNREFUSED) {
                    rc = mf_error_set(err, MF_E_CONNECT,
                                      "%s port %u: no DNS server there "
                                      "(connection refused)",
                                      srv->ip, srv->port);
                    goto out;
                }
                continue;
            }
            if (mf_dns_parse_mx(buf, (size_t)n, id, domain, ans_r, &last) ==
                MF_E_OK) {
                rc = MF_E_OK;
                goto out;
            }
        }
    }
    if (last.code != MF_E_OK)
        rc = mf_error_set(err, last.code, "%s", last.detail);
    else
        rc = mf_error_set(err, MF_E_TIMEOUT,
                          "no answer from %s port %u in %ld ms", srv->ip,
                          srv->port, timeout_ms);
out:
    free(buf);
    close(fd);
    return rc;
}

/* Reads or writes exactly n bytes before the deadline. */
static mf_err
tcp_io(int fd, uint8_t *p, size_t n, bool writing, long deadline,
       struct mf_error *err) {
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
        long left = deadline - (long)mf_monotonic_ms();
        ssize_t k;
        if (left <= 0)
            return mf_error_set(err, MF_E_TIMEOUT, "DNS over TCP timed out");
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return mf_error_set(err, MF_E_DNS, "DNS over TCP: %s",
                                strerror(errno));
        }
        if (k == 0)
            return mf_error_set(err, MF_E_DNS,
                                "DNS over TCP: the server closed the "
                                "connection");
        p += k;
        n -= (size_t)k;
    }
    return MF_E_OK;
}

static mf_err
query_tcp(const struct mf_dns_server *srv, const char *domain, const uint8_t *q,
          size_t qlen, uint16_t id, long timeout_ms,
          struct mf_dns_mx_answer *ans_r, struct mf_error *err) {
    struct sockaddr_storage ss;
    socklen_t slen = make_addr(srv, &ss);
    long deadline = (long)mf_monotonic_ms() + timeout_ms;
    uint8_t *buf = NULL, pfx[2];
    size_t n;
    mf_err rc;
    int fd;

    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return mf_error_set(err, MF_E_DNS, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&ss, slen) != 0 &&
        errno != EINPROGRESS) {
        rc = mf_error_set(err, MF_E_CONNECT, "DNS over TCP to %s port %u: %s",
                          srv->ip, srv->port, strerror(errno));
        goto out;
    }
    buf = mf_xmalloc(MF_DNS_MSG_MAX + 2);
    buf[0] = (uint8_t)(qlen >> 8), buf[1] = (uint8_t)qlen;
    memcpy(buf + 2, q, qlen);
    if ((rc = tcp_io(fd, buf, qlen + 2, true, deadline, err)) != MF_E_OK ||
        (rc = tcp_io(fd, pfx, 2, false, deadline, err)) != MF_E_OK)
        goto out;
    n = (size_t)pfx[0] << 8 | pfx[1];
    if ((rc = tcp_io(fd, buf, n, false, deadline, err)) != MF_E_OK)
        goto out;
    rc = mf_dns_parse_mx(buf, n, id, domain, ans_r, err);
out:
    free(buf);
    close(fd);
    return rc;
}

mf_err
mf_dns_query_mx(const struct mf_dns_server *srv, const char *domain,
                long timeout_ms, struct mf_dns_mx_answer *ans_r,
                struct mf_error *err) {
    struct mf_dns_mx_answer *ans = mf_xcalloc(1, sizeof(*ans));
    uint8_t q[512];
    size_t qlen;
    uint16_t id = query_id();
    mf_err rc;

    if (timeout_ms <= 0)
        timeout_ms = 5000;
    rc = mf_dns_build_query(domain, MF_DNS_TYPE_MX, id, q, sizeof(q), &qlen,
                            err);
    if (rc != MF_E_OK)
        goto out;
    rc = query_udp(srv, domain, q, qlen, id, timeout_ms, ans, err);
    if (rc == MF_E_OK && ans->truncated) {
        id = query_id() ^ 0x5a5a;
        q[0] = (uint8_t)(id >> 8), q[1] = (uint8_t)id;
        rc = query_tcp(srv, domain, q, qlen, id, timeout_ms, ans, err);
    }
    if (rc == MF_E_OK)
        *ans_r = *ans;
out:
    free(ans);
    return rc;
}
