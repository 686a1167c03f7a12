/*
 * The HTTP server over real loopback sockets: the server runs on
 * 127.0.0.1:0 (a free port) with the probe handler, and the tests talk to
 * it as plain TCP clients. Covers the status codes, HEAD, the header
 * limit, slow and silent clients, the connection limit, 100 concurrent
 * requests, big responses, prompt stop, and bad listen addresses.
 * Threaded: run it under -DMF_SANITIZE=ON too.
 */
#include "mailferry/http.h"
#include "mailferry/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the program under test ------------------------------------------- */

struct app {
    atomic_bool alive, ready;
    atomic_int collects;
    atomic_bool sigterm_blocked; /* seen on the server thread */
    struct mf_metrics *metrics;
    struct mf_http_health health;
    struct mf_http_server *srv;
};

static bool
app_alive(void *ud) {
    struct app *a = ud;
    return a->alive;
}

static bool
app_ready(void *ud, char *why, size_t n) {
    struct app *a = ud;
    if (!a->ready)
        snprintf(why, n, "kafka unreachable");
    return a->ready;
}

static void
app_collect(void *ud, struct mf_metrics *m) {
    struct app *a = ud;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    a->sigterm_blocked = sigismember(&cur, SIGTERM) == 1;
    mf_metrics_set(m, "test_collects", ++a->collects, NULL);
}

/* Wraps the probe handler with one extra path serving a big body. */
static void
app_handler(void *ud, const char *method, const char *path,
            struct mf_http_response *resp) {
    struct app *a = ud;
    bool huge = strcmp(path, "/huge") == 0;
    if (strcmp(path, "/big") == 0 || huge) {
        resp->status = 200;
        for (int i = 0; i < (huge ? 2000000 : 200000); i++)
            mf_buf_append_str(&resp->body, "0123456789");
        return;
    }
    mf_http_health_handler(&a->health, method, path, resp);
}

static int
setup_opts(void **state, unsigned timeout_ms, unsigned max_conns) {
    struct app *a = calloc(1, sizeof(*a));
    a->alive = true;
    a->ready = true;
    a->metrics = mf_metrics_new();
    mf_metrics_declare(a->metrics, "test_collects", "gauge", "Scrapes.");
    mf_metrics_declare(a->metrics, "test_total", "counter", "A counter.");
    mf_metrics_add(a->metrics, "test_total", 5, "kind", "x", NULL);
    a->health = (struct mf_http_health){.alive = app_alive,
                                        .ready = app_ready,
                                        .collect = app_collect,
                                        .ud = a,
                                        .metrics = a->metrics};
    struct mf_http_options o = {.timeout_ms = timeout_ms,
                                .max_conns = max_conns};
    struct mf_error err = {0};
    mf_err rc = mf_http_server_start_opts("127.0.0.1:0", &o, app_handler, a,
                                          &a->srv, &err);
    if (rc != MF_E_OK) {
        fprintf(stderr, "start: %s\n", err.detail);
        return -1;
    }
    assert_true(mf_http_server_port(a->srv) != 0);
    *state = a;
    return 0;
}

static int
setup(void **state) {
    return setup_opts(state, 0, 0);
}

static int
setup_short(void **state) {
    return setup_opts(state, 300, 0);
}

static int
setup_two_conns(void **state) {
    return setup_opts(state, 300, 2);
}

static int
teardown(void **state) {
    struct app *a = *state;
    mf_http_server_stop(&a->srv);
    assert_null(a->srv);
    mf_metrics_free(&a->metrics);
    free(a);
    return 0;
}

/* ---- a tiny client ----------------------------------------------------- */

/* A connected client socket; rcvbuf > 0 shrinks its receive buffer (set
 * before connecting, so the TCP window starts small). */
static int
dial_rcvbuf(const struct app *a, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(mf_http_server_port(a->srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* Never hang a test: every read gives up after 10 s. */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int
dial(const struct app *a) {
    return dial_rcvbuf(a, 0);
}

static void
send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF; returns the bytes (NUL-terminated), -1 length on a
 * timeout or error. */
static ssize_t
read_all(int fd, struct mf_buf *out) {
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return (ssize_t)out->len;
        if (n < 0)
            return errno == ECONNRESET ? (ssize_t)out->len : -1;
        mf_buf_append(out, buf, (size_t)n);
    }
}

/* A client with a small (32 KB) receive buffer that has asked for path
 * and not read yet; its socket. */
static int
ask_slow_reader(const struct app *a, const char *path) {
    char req[128];
    int fd = dial_rcvbuf(a, 32768);

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
    send_all(fd, req, strlen(req));
    return fd;
}

struct reply {
    int status;
    char *head; /* owned: status line and headers */
    char *body; /* owned */
    size_t body_len;
};

static void
reply_free(struct reply *r) {
    free(r->head);
    free(r->body);
}

static struct reply
roundtrip(const struct app *a, const char *req) {
    int fd = dial(a);
    send_all(fd, req, strlen(req));
    struct mf_buf b = {0};
    assert_true(read_all(fd, &b) >= 0);
    close(fd);
    struct reply r = {0};
    assert_true(b.len > 12);
    const char *text = (const char *)b.data;
    assert_memory_equal(text, "HTTP/1.1 ", 9);
    r.status = (int)strtol(text + 9, NULL, 10);
    const char *end = strstr(text, "\r\n\r\n");
    assert_non_null(end);
    r.head = mf_xstrndup(text, (size_t)(end - text) + 2);
    r.body_len = b.len - (size_t)(end + 4 - text);
    r.body = mf_xmemdup(end + 4, r.body_len + 1);
    mf_buf_free(&b);
    return r;
}

static int
get_status(const struct app *a, const char *path) {
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    struct reply r = roundtrip(a, req);
    reply_free(&r);
    return r.status;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_probes(void **state) {
    struct app *a = *state;
    struct reply r = roundtrip(a, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_non_null(strstr(r.head, "\r\nContent-Length: 3\r\n"));
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    reply_free(&r);

    a->alive = false;
    assert_int_equal(get_status(a, "/healthz"), 503);
    a->alive = true;

    a->ready = false;
    r = roundtrip(a, "GET /readyz HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: kafka unreachable\n");
    reply_free(&r);
    a->ready = true;
    r = roundtrip(a, "GET /readyz?x=1 HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ready\n");
    reply_free(&r);

    r = roundtrip(a, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "\r\nContent-Type: text/plain; "
                                   "version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(r.body, "\ntest_total{kind=\"x\"} 5\n"));
    assert_non_null(strstr(r.body, "\ntest_collects 1\n"));
    assert_true(a->sigterm_blocked);
    reply_free(&r);

    assert_int_equal(get_status(a, "/nope"), 404);
    assert_int_equal(get_status(a, "/"), 404);
}

static void
test_methods(void **state) {
    struct app *a = *state;
    struct reply r = roundtrip(a, "POST /metrics HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 5\r\n\r\nhello");
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD\r\n"));
    reply_free(&r);
    r = roundtrip(a, "get /metrics HTTP/1.1\r\n\r\n"); /* case-sensitive */
    assert_int_equal(r.status, 405);
    reply_free(&r);

    /* HEAD: the same headers, no body */
    struct reply g = roundtrip(a, "GET /metrics HTTP/1.1\r\n\r\n");
    r = roundtrip(a, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    char want[64];
    snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", g.body_len);
    assert_non_null(strstr(r.head, want));
    reply_free(&r);
    reply_free(&g);
    r = roundtrip(a, "HEAD /nope HTTP/1.1\r\n\r\n");
    assert_int_equal(r.status, 404);
    assert_int_equal(r.body_len, 0);
    reply_free(&r);

    r = roundtrip(a, "GET / HTTP/3.0\r\n\r\n");
    assert_int_equal(r.status, 505);
    reply_free(&r);
    r = roundtrip(a, "garbage\r\n\r\n");
    assert_int_equal(r.status, 400);
    reply_free(&r);
}

/* Headers past 8 KB get 431, and the client gets to read it even though it
 * was still sending (the server lingers instead of resetting). */
static void
test_oversized_headers(void **state) {
    struct app *a = *state;
    size_t n = 64 * 1024;
    char *req = malloc(n + 1);
    const char *start = "GET /metrics HTTP/1.1\r\nX-Big: ";
    memcpy(req, start, strlen(start));
    memset(req + strlen(start), 'a', n - strlen(start) - 4);
    memcpy(req + n - 4, "\r\n\r\n", 5);
    struct reply r = roundtrip(a, req);
    assert_int_equal(r.status, 431);
    reply_free(&r);
    free(req);
}

/* A silent client and a dripping client are dropped after the timeout
 * (300 ms here) while other clients are served meanwhile. */
static void
test_slow_clients_dropped(void **state) {
    struct app *a = *state;
    int64_t t0 = (int64_t)mf_monotonic_ms();
    int silent = dial(a);
    int drip = dial(a);
    /* Served while the other two hold their connections. */
    assert_int_equal(get_status(a, "/healthz"), 200);
    assert_true((int64_t)mf_monotonic_ms() - t0 < 250);

    /* One byte every 50 ms: each byte is progress, but the deadline
     * counts from the accept, so this client is dropped all the same. */
    const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    bool dropped = false;
    for (size_t i = 0; req[i] && !dropped; i++) {
        if (send(drip, req + i, 1, MSG_NOSIGNAL) != 1)
            dropped = true;
        struct pollfd p = {.fd = drip, .events = POLLIN};
        if (poll(&p, 1, 50) == 1)
            dropped = true; /* EOF arrived */
    }
    assert_true(dropped);
    int64_t t_drip = (int64_t)mf_monotonic_ms() - t0;

    struct mf_buf b = {0};
    assert_int_equal(read_all(silent, &b), 0); /* EOF, no response */
    int64_t t_silent = (int64_t)mf_monotonic_ms() - t0;
    assert_true(t_silent >= 250 && t_silent < 3000);
    assert_true(t_drip >= 250 && t_drip < 3000);
    assert_int_equal(read_all(drip, &b), 0);
    close(silent);
    close(drip);
    assert_int_equal(get_status(a, "/healthz"), 200);
}

static void
close_all(const int *fds, size_t n) {
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

/* With max_conns 2 and the probe slots held by silent clients, the next
 * waits in the backlog and is served once the timeout frees a slot. */
static void
test_connection_limit(void **state) {
    struct app *a = *state;
    int64_t t0 = (int64_t)mf_monotonic_ms();
    int held[2 + MF_HTTP_DEFAULT_PROBE_RESERVE];
    for (size_t i = 0; i < MF_ARRAY_LEN(held); i++)
        held[i] = dial(a);
    usleep(50000); /* let the server accept them */
    assert_int_equal(get_status(a, "/healthz"), 200);
    int64_t waited = (int64_t)mf_monotonic_ms() - t0;
    assert_true(waited >= 200);
    close_all(held, MF_ARRAY_LEN(held));
}

/* A client socket bound to source address src (any 127/8 address is
 * local on Linux), so that tests can play several clients. Its port is
 * chosen at connect() (IP_BIND_ADDRESS_NO_PORT), which only needs the
 * four-tuple to be unused: bind() with port 0 picks a port no socket on
 * src holds, TIME_WAIT ones included, and failed in local CI with the
 * loopback full of closed test connections. */
static int
dial_from(const struct app *a, const char *src) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in me = {.sin_family = AF_INET};
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(mf_http_server_port(a->srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 10};
    assert_true(fd >= 0);
    assert_int_equal(inet_pton(AF_INET, src, &me.sin_addr), 1);
    assert_int_equal(
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)),
        0);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int
status_from(const struct app *a, const char *src, const char *path) {
    char req[256];
    struct mf_buf b = {0};
    int fd = dial_from(a, src), status = -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_all(fd, req, strlen(req));
    if (read_all(fd, &b) > 12)
        status = (int)strtol((const char *)b.data + 9, NULL, 10);
    mf_buf_free(&b);
    close(fd);
    return status;
}

/* "At once" against starvation: a starved probe would wait for a held
 * connection's timeout (MF_HTTP_DEFAULT_TIMEOUT_MS, 5 s) to free a slot.
 * Half of it tells the two apart without failing on a loaded machine (a
 * 1 s bound failed once with other builds running). */
#define ANSWERED_AT_ONCE_MS (MF_HTTP_DEFAULT_TIMEOUT_MS / 2)

/* Another client (127.0.0.2) asks for the three endpoints: /healthz and
 * /readyz answer 200, /metrics metrics_status, all at once. */
static void
probes_answer_at_once(const struct app *a, int metrics_status) {
    int64_t t0 = (int64_t)mf_monotonic_ms();

    assert_int_equal(status_from(a, "127.0.0.2", "/healthz"), 200);
    assert_int_equal(status_from(a, "127.0.0.2", "/readyz"), 200);
    assert_int_equal(status_from(a, "127.0.0.2", "/metrics"), metrics_status);
    assert_true((int64_t)mf_monotonic_ms() - t0 < ANSWERED_AT_ONCE_MS);
}

/* Issue 17 item 5: one client holding many slow connections (the default
 * pool of 64 and more) does not stop /healthz answering another client at
 * once: it gets its share (8) and the rest of its connections are closed. */
static void
test_one_client_cannot_starve_probes(void **state) {
    struct app *a = *state;
    int held[100];
    for (size_t i = 0; i < MF_ARRAY_LEN(held); i++)
        held[i] = dial_from(a, "127.0.0.1");
    usleep(100000);
    probes_answer_at_once(a, 200);
    close_all(held, MF_ARRAY_LEN(held));
}

/* Many clients holding every regular slot: probes still answer from the
 * reserved slots; anything else there is 503, not a wait. */
static void
test_probes_served_first(void **state) {
    struct app *a = *state;
    int held[MF_HTTP_DEFAULT_MAX_CONNS];
    char src[32];
    for (size_t i = 0; i < MF_ARRAY_LEN(held); i++) {
        snprintf(src, sizeof(src), "127.0.1.%zu",
                 1 + i / MF_HTTP_DEFAULT_PER_CLIENT);
        held[i] = dial_from(a, src);
    }
    usleep(100000);
    probes_answer_at_once(a, 503);
    close_all(held, MF_ARRAY_LEN(held));
}

struct worker_arg {
    const struct app *a;
    atomic_int *ok, *seq;
};

static void *
one_request(void *p) {
    struct worker_arg *w = p;
    char src[32];
    int status;
    /* Many scrapers, from 20 addresses (within the per-client share). A
     * /metrics request that lands in a probe slot while every regular
     * slot is busy gets 503 at once, and a scraper asks again. */
    snprintf(src, sizeof(src), "127.0.3.%d",
             1 + (int)(atomic_fetch_add(w->seq, 1) % 20));
    for (int tries = 0; tries < 20; tries++) {
        status = status_from(w->a, src, "/metrics");
        if (status != 503)
            break;
        usleep(20000);
    }
    if (status == 200)
        atomic_fetch_add(w->ok, 1);
    return NULL;
}

static void
test_concurrent(void **state) {
    struct app *a = *state;
    enum { N = 100 };
    pthread_t t[N];
    atomic_int ok = 0, seq = 0;
    struct worker_arg w = {.a = a, .ok = &ok, .seq = &seq};
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, one_request, &w), 0);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(ok, N);
    assert_int_equal(a->collects, N); /* a 503 does not collect */
}

/* A 2 MB body goes out through many partial sends (the client's small
 * receive window fills up while it sleeps). */
static void
test_big_response(void **state) {
    struct app *a = *state;
    int fd = ask_slow_reader(a, "/big");
    usleep(100000);
    struct mf_buf b = {0};
    assert_true(read_all(fd, &b) > 0);
    close(fd);
    const char *end = strstr((const char *)b.data, "\r\n\r\n");
    assert_non_null(end);
    assert_int_equal(b.len - (size_t)(end + 4 - (const char *)b.data), 2000000);
    assert_non_null(strstr((const char *)b.data, "Content-Length: 2000000"));
    mf_buf_free(&b);
}

/* A client that does not read its response (20 MB, more than the kernel
 * buffers) is dropped after the timeout (300 ms here); meanwhile others are
 * served. */
static void
test_non_reader_dropped(void **state) {
    struct app *a = *state;
    int fd = ask_slow_reader(a, "/huge");
    assert_int_equal(get_status(a, "/healthz"), 200);
    usleep(800000);
    struct mf_buf b = {0};
    ssize_t n = read_all(fd, &b);
    assert_true(n >= 0 && n < 20000000);
    close(fd);
    mf_buf_free(&b);
}

/* Stop returns promptly with clients connected (the default 5 s timeout
 * must not be waited out), and the clients see the connection end. */
static void
test_stop_with_clients(void **state) {
    struct app *a = *state;
    int idle = dial(a);
    int partial = dial(a);
    send_all(partial, "GET /heal", 9);
    usleep(50000);
    int64_t t0 = (int64_t)mf_monotonic_ms();
    mf_http_server_stop(&a->srv);
    assert_true((int64_t)mf_monotonic_ms() - t0 < 500);
    struct mf_buf b = {0};
    assert_int_equal(read_all(idle, &b), 0);
    assert_int_equal(read_all(partial, &b), 0);
    close(idle);
    close(partial);
    mf_http_server_stop(&a->srv); /* NULL is fine */
    mf_http_server_stop(NULL);
}

static void
nop_handler(void *ud, const char *method, const char *path,
            struct mf_http_response *resp) {
    (void)ud, (void)method, (void)path;
    resp->status = 204;
}

static void
test_addresses(void **state) {
    (void)state;
    struct mf_http_server *s = NULL;
    struct mf_error err = {0};
    const char *bad[] = {
        "",         "9090",      "127.0.0.1", "1.2.3.4:x",    ":65536",
        "::1:9090", "[::1]9090", "[::1:9090", "127.0.0.1:-1", ":"};
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        mf_err rc = mf_http_server_start(bad[i], nop_handler, NULL, &s, &err);
        if (rc != MF_E_CONFIG)
            fail_msg("\"%s\": %d (%s)", bad[i], rc, err.detail);
        assert_null(s);
    }

    /* A port in use (listening) is an I/O error despite SO_REUSEADDR. */
    struct mf_http_server *s1 = NULL;
    assert_int_equal(
        mf_http_server_start("127.0.0.1:0", nop_handler, NULL, &s1, &err),
        MF_E_OK);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", mf_http_server_port(s1));
    assert_int_equal(mf_http_server_start(addr, nop_handler, NULL, &s, &err),
                     MF_E_IO);
    assert_non_null(strstr(err.detail, "cannot listen"));
    mf_http_server_stop(&s1);
    /* ...and free again after stop: rebinding works at once. */
    assert_int_equal(mf_http_server_start(addr, nop_handler, NULL, &s, &err),
                     MF_E_OK);
    mf_http_server_stop(&s);

    const char *good[] = {":0", "localhost:0", "0.0.0.0:0"};
    for (size_t i = 0; i < MF_ARRAY_LEN(good); i++) {
        assert_int_equal(
            mf_http_server_start(good[i], nop_handler, NULL, &s, &err),
            MF_E_OK);
        assert_true(mf_http_server_port(s) != 0);
        mf_http_server_stop(&s);
    }
    /* IPv6 loopback, where the host has it. */
    if (mf_http_server_start("[::1]:0", nop_handler, NULL, &s, &err) == MF_E_OK)
        mf_http_server_stop(&s);
    else
        assert_int_equal(err.code, MF_E_IO);
}

/* A test run against a server that setup_fn starts and teardown stops. */
#define T(f, setup_fn) cmocka_unit_test_setup_teardown(f, setup_fn, teardown)

int
main(void) {
    const struct CMUnitTest tests[] = {
        T(test_probes, setup),
        T(test_methods, setup),
        T(test_oversized_headers, setup),
        T(test_slow_clients_dropped, setup_short),
        T(test_connection_limit, setup_two_conns),
        T(test_one_client_cannot_starve_probes, setup),
        T(test_probes_served_first, setup),
        T(test_concurrent, setup),
        T(test_big_response, setup),
        T(test_non_reader_dropped, setup_short),
        T(test_stop_with_clients, setup),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
