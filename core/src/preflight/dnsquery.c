/*
 * MX lookups through glibc's resolver (see mailferry/preflight.h): the
 * query from res_nmkquery, sent by res_nsend to the one server the admin
 * named, over UDP with retries and over TCP when the answer is truncated;
 * the answer read by dnsmx.c. Our own res_state, so nothing is shared
 * with getaddrinfo or other threads, and no cache stands between us and
 * the server's TTLs.
 *
 * res_nsend retries SERVFAIL, NOTIMP and REFUSED answers like timeouts
 * and then fails (ETIMEDOUT); the last answer it received is still in
 * our buffer, and its header (our id, QR set) says what the server said.
 *
 * glibc bounds UDP tries by retrans but reads TCP answers without a
 * timeout: a server that sends a truncated answer and then stalls on TCP
 * would hold us forever. A watchdog thread shuts the TCP socket down
 * (res_state's _vcsock, the field res_nsend keeps it in) once the
 * lookup's time is spent; the blocked read then ends and res_nsend fails.
 */
#include "mailferry/preflight.h"

#include "mailferry/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TRIES 3

/* Points st at srv only. IPv6 servers go where res_ninit puts those of
 * resolv.conf: a malloc'd sockaddr_in6 that res_nclose frees, with the
 * IPv4 slot's family 0. */
static bool
set_server(res_state st, const struct mf_dns_server *srv) {
    struct sockaddr_in a4 = {.sin_family = AF_INET,
                             .sin_port = htons(srv->port)};

    /* Only the first slot is ours: free the IPv6 servers of resolv.conf
     * beyond it, which res_nclose would no longer see. */
    for (int i = 1; i < MAXNS; i++) {
        free(st->_u._ext.nsaddrs[i]);
        st->_u._ext.nsaddrs[i] = NULL;
    }
    st->nscount = 1;
    st->options &= ~(unsigned long)RES_ROTATE;
    if (inet_pton(AF_INET, srv->ip, &a4.sin_addr) == 1) {
        st->nsaddr_list[0] = a4;
        return true;
    }
    struct sockaddr_in6 *a6 = st->_u._ext.nsaddrs[0];
    if (!a6)
        a6 = st->_u._ext.nsaddrs[0] = mf_xmalloc(sizeof(*a6));
    memset(a6, 0, sizeof(*a6));
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(srv->port);
    memset(&st->nsaddr_list[0], 0, sizeof(st->nsaddr_list[0]));
    return inet_pton(AF_INET6, srv->ip, &a6->sin6_addr) == 1;
}

/* The watchdog of one lookup (see the top). */
struct watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;  /* res_nsend returned */
    bool fired; /* the watchdog shut the TCP socket down */
    res_state st;
    uint64_t deadline_ms; /* on mf_monotonic_ms() */
};

static void *
watchdog(void *arg) {
    struct watch *w = arg;

    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        uint64_t now = mf_monotonic_ms();
        uint64_t wait = now < w->deadline_ms ? w->deadline_ms - now : 200;
        struct timespec ts = mf_deadline_after_ms(CLOCK_MONOTONIC, wait);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        /* UDP tries end by the deadline: what is left is TCP. */
        if (!w->done && mf_monotonic_ms() >= w->deadline_ms &&
            w->st->_vcsock >= 0) {
            shutdown(w->st->_vcsock, SHUT_RDWR);
            w->fired = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* res_nsend under the watchdog; its result, errno kept. */
static int
send_watched(res_state st, const uint8_t *q, int qlen, uint8_t *buf, long secs,
             bool *fired_r) {
    struct watch w = {.st = st,
                      .deadline_ms =
                          mf_monotonic_ms() + (uint64_t)secs * 1000 + 500};
    pthread_condattr_t ca;
    pthread_t t;
    int n, e;

    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((e = pthread_create(&t, NULL, watchdog, &w)) != 0) {
        n = -1; /* errno e: "DNS query to ...: Resource ..." */
    } else {
        n = res_nsend(st, q, qlen, buf, MF_DNS_MSG_MAX);
        e = errno;
        pthread_mutex_lock(&w.mu);
        w.done = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(t, NULL);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    *fired_r = w.fired;
    errno = e;
    return n;
}

/* The answer res_nsend rejected (see the top), when there is one. */
static bool
rejected_answer(const uint8_t *buf, uint16_t id, const char *domain,
                struct mf_dns_mx_answer *ans) {
    const HEADER *hp = (const HEADER *)buf;

    if (ntohs(hp->id) != id || !hp->qr)
        return false;
    memset(ans, 0, sizeof(*ans));
    ans->rcode = (uint8_t)hp->rcode;
    ans->authoritative = hp->aa;
    snprintf(ans->owner, sizeof(ans->owner), "%s", domain);
    return true;
}

static mf_err
send_failed(const struct mf_dns_server *srv, int e, long secs,
            struct mf_error *err) {
    if (e == ECONNREFUSED)
        return mf_error_set(err, MF_E_CONNECT,
                            "%s port %u: no DNS server there "
                            "(connection refused)",
                            srv->ip, srv->port);
    if (e == ETIMEDOUT)
        return mf_error_set(err, MF_E_TIMEOUT,
                            "no answer from %s port %u in %ld s", srv->ip,
                            srv->port, secs);
    return mf_error_set(err, MF_E_DNS, "DNS query to %s port %u: %s", srv->ip,
                        srv->port, strerror(e));
}

mf_err
mf_dns_query_mx(const struct mf_dns_server *srv, const char *domain,
                long timeout_ms, struct mf_dns_mx_answer *ans_r,
                struct mf_error *err) {
    struct __res_state st;
    struct mf_dns_mx_answer *ans = mf_xcalloc(1, sizeof(*ans));
    uint8_t q[NS_PACKETSZ], *buf = mf_xcalloc(1, MF_DNS_MSG_MAX);
    long secs = timeout_ms > 0 ? (timeout_ms + 999) / 1000 : 5;
    bool fired = false;
    uint16_t id;
    int qlen, n;
    mf_err rc;

    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0) {
        rc = mf_error_set(err, MF_E_DNS, "res_ninit failed");
        goto out;
    }
    if (!set_server(&st, srv)) {
        rc = mf_error_set(err, MF_E_CONFIG, "bad server address %s", srv->ip);
        goto close;
    }
    /* res_nsend waits retrans seconds per try (whole seconds): at least
     * three tries of at least a second, together within the timeout
     * (5 s: five tries of 1 s; 10 s: three of 3 s). */
    st.retrans = (int)(secs / TRIES > 0 ? secs / TRIES : 1);
    st.retry = (int)(secs / st.retrans);
    qlen = domain[0] ? res_nmkquery(&st, ns_o_query, domain, ns_c_in, ns_t_mx,
                                    NULL, 0, NULL, q, sizeof(q))
                     : -1;
    if (qlen < 0) {
        rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                          "\"%.200s\" is not a valid domain name", domain);
        goto close;
    }
    id = ns_get16(q);
    n = send_watched(&st, q, qlen, buf, (long)st.retry * st.retrans, &fired);
    if (n < 0 && fired) {
        rc = mf_error_set(err, MF_E_TIMEOUT,
                          "%s port %u sent a truncated answer and no answer "
                          "over TCP in %ld s",
                          srv->ip, srv->port, (long)st.retry * st.retrans);
    } else if (n < 0) {
        int e = errno;
        if (e == ETIMEDOUT && rejected_answer(buf, id, domain, ans))
            rc = ans->rcode == ns_r_noerror
                     ? mf_error_set(err, MF_E_DNS,
                                    "%s port %u neither answers for %s nor "
                                    "recurses (a referral)",
                                    srv->ip, srv->port, domain)
                     : MF_E_OK;
        else
            rc = send_failed(srv, e, (long)st.retry * st.retrans, err);
    } else {
        rc = mf_dns_parse_mx(buf, (size_t)n, id, domain, ans, err);
    }
    if (rc == MF_E_OK)
        *ans_r = *ans;
close:
    res_nclose(&st);
out:
    free(buf);
    free(ans);
    return rc;
}
