/*
 * The HTTP server (see mailferry/http.h): one thread, one poll() loop.
 *
 * The thread owns the listening socket and an array of connections. Each
 * connection goes through three states:
 *
 *   READING    recv() into the request parser (http_int.h) until a whole
 *              head arrived or it is malformed; then the response is built
 *              at once (the handler is called here) into an output buffer
 *   WRITING    send() the buffer as the socket accepts it
 *   LINGERING  the response is out and our side shut down; read and drop
 *              whatever the client still sends until it closes. Closing
 *              with unread bytes would make the kernel send a reset that
 *              can destroy the response before the client reads it (e.g.
 *              a 431 to a client still sending headers).
 *
 * Every state has a deadline (timeout_ms from when it began; lingering at
 * most a second); a connection past it is closed, which is what keeps
 * slow or silent clients from holding slots. When max_conns connections
 * and the probe_reserve slots are open the listening socket is left out
 * of poll(), so new clients wait in the kernel's backlog instead of being
 * refused. A connection accepted while the max_conns are taken sits in a
 * probe slot: it gets a short deadline and an answer only for /healthz
 * and /readyz (503 otherwise). A client address that already holds
 * max_per_client connections has its next one closed at once (counted
 * over the open connections: a linear scan, at most a few thousand).
 *
 * Stopping: mf_http_server_stop() writes a byte into a self-pipe whose
 * read end is always polled, then joins the thread. The thread runs with
 * all signals blocked, so SIGTERM and friends reach the program's threads.
 */
#include "http/http_int.h"
#include "mailferry/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MAX_MS 1000
#define ACCEPT_PAUSE_MS 100 /* after EMFILE and the like */
#define MAX_CONNS_LIMIT 4096

enum conn_state { READING, WRITING, LINGERING };

struct conn {
    int fd; /* owned */
    enum conn_state state;
    bool reserved;    /* in a probe slot: /healthz and /readyz only */
    uint8_t peer[16]; /* client address (IPv4 mapped into IPv6) */
    int64_t deadline; /* monotonic ms */
    struct mf__http_req req;
    struct mf_buf out; /* owned: status line, headers and body */
    size_t off;        /* bytes of out already sent */
};

struct mf_http_server {
    int lfd;     /* owned: listening socket */
    int wake[2]; /* owned: self-pipe, [0] polled by the thread */
    uint16_t port;
    pthread_t thread;
    mf_http_handler handler;
    void *ud;
    unsigned timeout_ms, max_conns, max_per_client, probe_reserve;
    /* Everything below belongs to the server thread. */
    struct conn **conns; /* owned: nconns entries of max_conns */
    size_t nconns;
    int64_t accept_paused_until;
};

/* ---- connections ------------------------------------------------------- */

static void
conn_close(struct conn *c) {
    close(c->fd);
    c->fd = -1;
    mf_buf_free(&c->out);
}

/* Closes at once with a reset (SO_LINGER 0): for connections past their
 * deadline, so that a client that does not read cannot keep kernel buffers
 * of an orphaned socket busy either. */
static void
conn_abort(struct conn *c) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

/* Moves c from a probe slot to a regular one if one has freed up since
 * it was accepted. */
static bool
promote(const struct mf_http_server *s, struct conn *c) {
    size_t regular = 0;
    for (size_t i = 0; i < s->nconns; i++)
        regular += s->conns[i]->fd >= 0 && !s->conns[i]->reserved;
    if (regular >= s->max_conns)
        return false;
    c->reserved = false;
    return true;
}

/* Renders status line, headers and (unless HEAD) body into c->out. */
static void
build_response(struct mf_http_server *s, struct conn *c) {
    struct mf_http_response resp = {
        .status = 404, .content_type = "text/plain; charset=utf-8"};
    const char *allow = NULL;
    bool head = false;
    if (c->req.state == MF__HTTP_ERROR) {
        resp.status = c->req.status;
    } else if (strcmp(c->req.method, "GET") != 0 &&
               strcmp(c->req.method, "HEAD") != 0) {
        resp.status = 405;
        allow = "GET, HEAD"; /* RFC 9110 §15.5.6: a 405 must say */
    } else if (c->reserved && strcmp(c->req.path, "/healthz") != 0 &&
               strcmp(c->req.path, "/readyz") != 0 && !promote(s, c)) {
        /* A probe slot, and every other slot is still taken. */
        resp.status = 503;
    } else {
        head = c->req.method[0] == 'H';
        s->handler(s->ud, c->req.method, c->req.path, &resp);
        MF_ASSERT(resp.status >= 200 && resp.status <= 599);
        MF_ASSERT(resp.content_type != NULL);
    }
    if (resp.body.len == 0 && resp.status >= 400)
        mf_buf_appendf(&resp.body, "%s\n", mf__http_reason(resp.status));

    mf_buf_appendf(&c->out,
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   "Cache-Control: no-store\r\n"
                   "Connection: close\r\n",
                   resp.status, mf__http_reason(resp.status), resp.content_type,
                   resp.body.len);
    if (allow)
        mf_buf_appendf(&c->out, "Allow: %s\r\n", allow);
    mf_buf_append_str(&c->out, "\r\n");
    /* RFC 9110 §9.3.2: HEAD gets the same headers and no content. */
    if (!head)
        mf_buf_append(&c->out, resp.body.data, resp.body.len);
    mf_buf_free(&resp.body);
}

/* Sends what the socket takes; moves on to lingering once all is out. */
static void
conn_write(struct mf_http_server *s, struct conn *c, int64_t now) {
    while (c->off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->off, c->out.len - c->off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* wait for POLLOUT */
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->off += (size_t)n;
    }
    mf_buf_free(&c->out);
    shutdown(c->fd, SHUT_WR);
    c->state = LINGERING;
    c->deadline =
        now + (s->timeout_ms < LINGER_MAX_MS ? s->timeout_ms : LINGER_MAX_MS);
}

static void
conn_read(struct mf_http_server *s, struct conn *c, int64_t now) {
    char buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* EOF or error: before the head is complete nobody waits for an
         * answer; while lingering it is the normal end. */
        conn_close(c);
        return;
    }
    if (c->state == LINGERING)
        return; /* dropped; the loop keeps reading until EOF or deadline */
    if (mf__http_req_feed(&c->req, buf, (size_t)n, NULL) == MF__HTTP_MORE)
        return;
    build_response(s, c);
    c->state = WRITING;
    c->deadline = now + s->timeout_ms;
    conn_write(s, c, now);
}

/* ---- the loop ---------------------------------------------------------- */

/* The client's address as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static void
peer_key(const struct sockaddr_storage *ss, uint8_t key[16]) {
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else if (ss->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

static size_t
peer_count(const struct mf_http_server *s, const uint8_t key[16]) {
    size_t n = 0;
    for (size_t i = 0; i < s->nconns; i++)
        n += memcmp(s->conns[i]->peer, key, 16) == 0;
    return n;
}

static void
accept_some(struct mf_http_server *s, int64_t now) {
    while (s->nconns < s->max_conns + s->probe_reserve) {
        struct sockaddr_storage ss = {0};
        socklen_t sslen = sizeof(ss);
        uint8_t key[16];
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sslen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                /* Out of descriptors or memory: the pending client stays
                 * queued and poll would wake us at once again. */
                s->accept_paused_until = now + ACCEPT_PAUSE_MS;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or an error that only concerns one client */
        }
        struct conn *c = mf_xcalloc(1, sizeof(*c));
        peer_key(&ss, key);
        c->fd = fd;
        if (peer_count(s, key) >= s->max_per_client) {
            /* Its share is taken: closed at once, not queued, so that it
             * cannot crowd out the others (the kubelet, Prometheus). */
            conn_abort(c);
            free(c);
            continue;
        }
        memcpy(c->peer, key, 16);
        c->state = READING;
        c->reserved = s->nconns >= s->max_conns;
        c->deadline =
            now + (c->reserved && s->timeout_ms > MF_HTTP_PROBE_TIMEOUT_MS
                       ? MF_HTTP_PROBE_TIMEOUT_MS
                       : s->timeout_ms);
        mf__http_req_init(&c->req);
        s->conns[s->nconns++] = c;
    }
}

static void *
serve(void *arg) {
    struct mf_http_server *s = arg;
    struct pollfd *pfd =
        mf_xcalloc(2 + s->max_conns + s->probe_reserve, sizeof(*pfd));
    for (;;) {
        int64_t now = (int64_t)mf_monotonic_ms();
        bool accepting = s->nconns < s->max_conns + s->probe_reserve &&
                         now >= s->accept_paused_until;
        pfd[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        /* A negative fd is ignored by poll(). */
        pfd[1] =
            (struct pollfd){.fd = accepting ? s->lfd : -1, .events = POLLIN};
        int64_t wake_at = accepting ? INT64_MAX : s->accept_paused_until;
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = s->conns[i];
            pfd[2 + i] = (struct pollfd){
                .fd = c->fd, .events = c->state == WRITING ? POLLOUT : POLLIN};
            if (c->deadline < wake_at)
                wake_at = c->deadline;
        }
        int timeout = -1;
        if (wake_at != INT64_MAX)
            timeout = wake_at <= now ? 0 : (int)(wake_at - now);
        int rc = poll(pfd, 2 + s->nconns, timeout);
        if (rc < 0) {
            if (errno != EINTR)
                /* Cannot happen with valid arguments; do not spin. */
                usleep(10000);
            continue;
        }
        if (pfd[0].revents)
            break; /* mf_http_server_stop() */

        now = (int64_t)mf_monotonic_ms();
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = s->conns[i];
            if (now >= c->deadline)
                /* Silent, slow, or not reading, even if it trickles: the
                 * deadline bounds the whole request (or response). */
                conn_abort(c);
            else if (pfd[2 + i].revents && c->state == WRITING)
                conn_write(s, c, now);
            else if (pfd[2 + i].revents)
                conn_read(s, c, now);
        }
        /* Compact the array, dropping the closed connections. */
        size_t kept = 0;
        for (size_t i = 0; i < s->nconns; i++) {
            if (s->conns[i]->fd < 0)
                free(s->conns[i]);
            else
                s->conns[kept++] = s->conns[i];
        }
        s->nconns = kept;
        if (pfd[1].revents)
            accept_some(s, now);
    }
    free(pfd);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

/* Splits "host:port", "[v6]:port" or ":port". host may come back empty
 * (all addresses). */
static mf_err
split_addr(const char *addr, char *host, size_t hostsz, uint16_t *port_r,
           struct mf_error *err) {
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            goto bad;
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        /* An IPv6 address needs brackets: "::1:9090" is ambiguous. */
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            goto bad;
        hlen = (size_t)(colon - addr);
    }
    uint64_t port;
    if (hlen >= hostsz || !mf_parse_u64(colon + 1, 0, 65535, &port))
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port_r = (uint16_t)port;
    return MF_E_OK;
bad:
    return mf_error_set(err, MF_E_CONFIG,
                        "bad listen address \"%s\" (want host:port, "
                        "[v6]:port or :port)",
                        addr);
}

/* A non-blocking listening socket on ai, or -1 with errno set. */
static int
listen_on(const struct sockaddr *sa, socklen_t salen, int family) {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    /* A restarted process must be able to bind while old connections of
     * its predecessor sit in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        /* "::" serves IPv4 too (":9090" means every address). */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, sa, salen) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static mf_err
open_listener(struct mf_http_server *s, const char *addr,
              struct mf_error *err) {
    char host[256];
    uint16_t port = 0;
    mf_err rc = split_addr(addr, host, sizeof(host), &port, err);
    if (rc != MF_E_OK)
        return rc;
    if (host[0] == '\0') {
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                                  .sin6_addr = in6addr_any,
                                  .sin6_port = htons(port)};
        s->lfd = listen_on((struct sockaddr *)&a6, sizeof(a6), AF_INET6);
        if (s->lfd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
            /* A host or container without IPv6. */
            struct sockaddr_in a4 = {.sin_family = AF_INET,
                                     .sin_addr.s_addr = htonl(INADDR_ANY),
                                     .sin_port = htons(port)};
            s->lfd = listen_on((struct sockaddr *)&a4, sizeof(a4), AF_INET);
        }
    } else {
        char portstr[8];
        snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int gai = getaddrinfo(host, portstr, &hints, &res);
        if (gai != 0)
            return mf_error_set(err, MF_E_CONFIG, "listen address \"%s\": %s",
                                addr, gai_strerror(gai));
        errno = EADDRNOTAVAIL;
        for (struct addrinfo *ai = res; ai && s->lfd < 0; ai = ai->ai_next)
            s->lfd = listen_on(ai->ai_addr, ai->ai_addrlen, ai->ai_family);
        freeaddrinfo(res);
    }
    if (s->lfd < 0)
        return mf_error_set(err, MF_E_IO, "cannot listen on %s: %s", addr,
                            strerror(errno));

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sslen) < 0)
        return mf_error_set(err, MF_E_IO, "getsockname: %s", strerror(errno));
    s->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return MF_E_OK;
}

static void
server_free(struct mf_http_server *s) {
    for (size_t i = 0; i < s->nconns; i++) {
        conn_close(s->conns[i]);
        free(s->conns[i]);
    }
    free(s->conns);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    free(s);
}

mf_err
mf_http_server_start_opts(const char *addr, const struct mf_http_options *opts,
                          mf_http_handler handler, void *ud,
                          struct mf_http_server **s_r, struct mf_error *err) {
    MF_ASSERT(addr && handler && s_r && err);
    struct mf_http_server *s = mf_xcalloc(1, sizeof(*s));
    s->lfd = s->wake[0] = s->wake[1] = -1;
    s->handler = handler;
    s->ud = ud;
    s->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms
                                             : MF_HTTP_DEFAULT_TIMEOUT_MS;
    s->max_conns =
        opts && opts->max_conns ? opts->max_conns : MF_HTTP_DEFAULT_MAX_CONNS;
    if (s->max_conns > MAX_CONNS_LIMIT)
        s->max_conns = MAX_CONNS_LIMIT;
    s->max_per_client = opts && opts->max_per_client
                            ? opts->max_per_client
                            : MF_HTTP_DEFAULT_PER_CLIENT;
    s->probe_reserve = opts && opts->probe_reserve
                           ? opts->probe_reserve
                           : MF_HTTP_DEFAULT_PROBE_RESERVE;
    if (s->probe_reserve > MAX_CONNS_LIMIT)
        s->probe_reserve = MAX_CONNS_LIMIT;
    s->conns = mf_xcalloc(s->max_conns + s->probe_reserve, sizeof(*s->conns));

    mf_err rc = open_listener(s, addr, err);
    if (rc != MF_E_OK)
        goto out;
    if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        rc = mf_error_set(err, MF_E_IO, "pipe: %s", strerror(errno));
        goto out;
    }
    /* The thread inherits a mask with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&s->thread, NULL, serve, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rc = mf_error_set(err, MF_E_IO, "pthread_create: %s", strerror(e));
        goto out;
    }
    *s_r = s;
    s = NULL;
out:
    if (s)
        server_free(s);
    return rc;
}

mf_err
mf_http_server_start(const char *addr, mf_http_handler handler, void *ud,
                     struct mf_http_server **s_r, struct mf_error *err) {
    return mf_http_server_start_opts(addr, NULL, handler, ud, s_r, err);
}

uint16_t
mf_http_server_port(const struct mf_http_server *s) {
    return s->port;
}

void
mf_http_server_stop(struct mf_http_server **sp) {
    if (!sp || !*sp)
        return;
    struct mf_http_server *s = *sp;
    ssize_t n;
    do
        n = write(s->wake[1], "x", 1);
    while (n < 0 && errno == EINTR);
    /* EAGAIN means the pipe already holds a byte: the thread will wake. */
    MF_ASSERT(n == 1 || errno == EAGAIN);
    pthread_join(s->thread, NULL);
    server_free(s);
    *sp = NULL;
}
