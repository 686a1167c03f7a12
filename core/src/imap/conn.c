/*
 * IMAP connections over libcurl CONNECT_ONLY, or over a plain fd in tests
 * (see conn.h).
 *
 * Facts this relies on (libcurl 7.88, Debian 12): curl_easy_perform()
 * returns after the greeting, CAPABILITY, STARTTLS where asked and a
 * successful login, and curl's tags look like "A001", so ours must not;
 * a refused login is CURLE_LOGIN_DENIED; SASL PLAIN with
 * CURLOPT_SASL_AUTHZID does admin impersonation; the connect timeout
 * covers the login. TLS may buffer decrypted bytes, so recv is always
 * drained until CURLE_AGAIN before we poll the socket: rx_drained
 * remembers whether the last receive ended that way, and
 * mf__imap_conn_wait() does not poll for input until it did.
 *
 * curl_easy_send() is a bare SSL_write(): after SSL_ERROR_WANT_WRITE
 * (CURLE_AGAIN) OpenSSL insists on a retry with the same buffer address
 * and at least the same length (curl does not set
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). Callers' buffers move (they grow
 * and compact), so curl connections send from their own fixed `tx`
 * buffer: a piece of at most TX_MAX bytes is copied there and retried from
 * there until curl takes it. Callers only have to offer the same bytes
 * first again (conn.h), which a byte stream does anyway.
 */
#include "conn.h"

#include "mailferry/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One TLS record's worth of plaintext (RFC 8446 section 5.1). */
#define TX_MAX ((size_t)16 * 1024)

struct mf_imap_conn {
    CURL *curl; /* owned; NULL for an fd connection */
    int fd;     /* the socket (owned only when curl is NULL) */
    long io_timeout_ms;
    char local_ip[64];
    uint8_t *tx;     /* owned, TX_MAX, curl only: bytes of a pending send */
    size_t txlen;    /* > 0 while curl has not taken tx yet */
    bool rx_drained; /* the last receive found nothing: poll may wait */
    bool (*gate)(void *ud); /* NULL, or asked before every send */
    void *gate_ud;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Maps a curl error to ours; the detail keeps curl's words. */
static mf_err
curl_error(CURLcode cc, const char *errbuf, const char *what,
           struct mf_error *err) {
    mf_err code;

    switch (cc) {
    case CURLE_LOGIN_DENIED:
        code = MF_E_AUTH;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        code = MF_E_DNS;
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_INTERFACE_FAILED:
        code = MF_E_CONNECT;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        code = MF_E_TIMEOUT;
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        code = MF_E_TLS_VERIFY;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
        code = MF_E_TLS;
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        code = MF_E_DISCONNECTED;
        break;
    case CURLE_WEIRD_SERVER_REPLY:
        code = MF_E_IMAP_UNEXPECTED;
        break;
    default:
        code = MF_E_CONNECT;
        break;
    }
    return mf_error_set(err, code, "%s: %s (curl %d: %s)", what,
                        errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc),
                        (int)cc, curl_easy_strerror(cc));
}

/* Records the server's SASL continuations ("+ <base64>") while an OAuth2
 * login runs: the error JSON of RFC 7628 section 3.2.2 comes in one. Only
 * what the server sends is looked at (never our side: it has the token).
 */
static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
    struct mf__imap_sasl_answer *a = ud;

    (void)h;
    if (type == CURLINFO_HEADER_IN && size > 2 && data[0] == '+' &&
        data[1] == ' ') {
        size_t n = size - 2;
        while (n > 0 && (data[2 + n - 1] == '\n' || data[2 + n - 1] == '\r'))
            n--;
        if (n > 0 && n < sizeof(a->b64)) {
            memcpy(a->b64, data + 2, n);
            a->b64[n] = '\0';
        }
    }
    return 0;
}

mf_err
mf__imap_conn_open_once(const struct mf_imap_conn_options *o,
                        const struct mf_imap_login *login,
                        struct mf__imap_sasl_answer *sasl,
                        struct mf_imap_conn **conn_r, struct mf_error *err) {
    char errbuf[CURL_ERROR_SIZE] = "";
    char url[MF_ENDPOINT_HOST_MAX + 32];
    char iface[128];
    struct mf_imap_conn *c = NULL;
    curl_socket_t sock;
    char *local_ip = NULL;
    mf_err rc = MF_E_OK;
    CURLcode cc;
    CURL *h;

    pthread_once(&curl_once, curl_init_once);
    h = curl_easy_init();
    if (!h)
        return mf_error_set(err, MF_E_INTERNAL, "curl_easy_init failed");
    {
        bool v6 = strchr(o->endpoint.host, ':') != NULL;
        snprintf(url, sizeof(url), "%s://%s%s%s:%u/",
                 o->endpoint.tls == MF_TLS_IMPLICIT ? "imaps" : "imap",
                 v6 ? "[" : "", o->endpoint.host, v6 ? "]" : "",
                 o->endpoint.port);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms ? o->connect_timeout_ms : 30000L);
    if (o->endpoint.tls == MF_TLS_STARTTLS)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->bind_address) {
        snprintf(iface, sizeof(iface), "host!%s", o->bind_address);
        curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
    }
    curl_easy_setopt(h, CURLOPT_USERNAME, login->user);
    if (login->oauth_token) {
        /* curl picks OAUTHBEARER (RFC 7628) when the server offers it,
         * else XOAUTH2. */
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, login->oauth_token);
        if (sasl) {
            curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
            curl_easy_setopt(h, CURLOPT_DEBUGDATA, sasl);
            curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        }
    } else {
        curl_easy_setopt(h, CURLOPT_PASSWORD, login->password);
        /* Where the profile says so, only SASL PLAIN (RFC 4616): curl
         * would otherwise prefer a mechanism from the server's list, and
         * Exchange Server lists AUTH=NTLM and AUTH=GSSAPI first, which
         * cannot carry an impersonation login ("domain/admin/user":
         * Microsoft's Exchange Server documentation, "IMAP4 Account
         * Name", on Windows NT Challenge/Response). Not for every
         * server: curl 7.88 does not fall back to LOGIN from it. */
        if (login->sasl_plain)
            curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
    }
    if (login->authzid) {
        /* Impersonation needs SASL PLAIN: LOGIN has no authzid. */
        curl_easy_setopt(h, CURLOPT_SASL_AUTHZID, login->authzid);
        curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
    }
    cc = curl_easy_perform(h);
    /* curl copied the credentials; drop its copies of the password. */
    curl_easy_setopt(h, CURLOPT_PASSWORD, "");
    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, "");
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, NULL);
    if (cc != CURLE_OK) {
        char what[300];
        char ep[MF_ENDPOINT_HOST_MAX + 32];
        mf_endpoint_format(&o->endpoint, ep, sizeof(ep));
        snprintf(what, sizeof(what), "%s as %s", ep, login->user);
        rc = curl_error(cc, errbuf, what, err);
        goto out;
    }
    cc = curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock);
    if (cc != CURLE_OK || sock == CURL_SOCKET_BAD) {
        rc = mf_error_set(err, MF_E_INTERNAL, "no socket after login");
        goto out;
    }
    c = mf_xcalloc(1, sizeof(*c));
    c->curl = h;
    c->tx = mf_xmalloc(TX_MAX);
    c->fd = sock;
    c->io_timeout_ms = o->io_timeout_ms ? o->io_timeout_ms : 120000L;
    if (curl_easy_getinfo(h, CURLINFO_LOCAL_IP, &local_ip) == CURLE_OK &&
        local_ip)
        snprintf(c->local_ip, sizeof(c->local_ip), "%s", local_ip);
    h = NULL;
    *conn_r = c;
out:
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

struct mf_imap_conn *
mf__imap_conn_from_fd(int fd, long io_timeout_ms) {
    struct mf_imap_conn *c = mf_xcalloc(1, sizeof(*c));

    c->fd = fd;
    c->io_timeout_ms = io_timeout_ms ? io_timeout_ms : 120000L;
    snprintf(c->local_ip, sizeof(c->local_ip), "local");
    return c;
}

void
mf__imap_conn_free(struct mf_imap_conn **cp) {
    struct mf_imap_conn *c = *cp;

    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    else if (c->fd >= 0)
        close(c->fd);
    free(c->tx);
    free(c);
    *cp = NULL;
}

void
mf__imap_conn_set_gate(struct mf_imap_conn *c, bool (*gate)(void *ud),
                       void *ud) {
    c->gate = gate;
    c->gate_ud = ud;
}

int
mf__imap_conn_fd(const struct mf_imap_conn *c) {
    return c->fd;
}

const char *
mf__imap_conn_local_ip(const struct mf_imap_conn *c) {
    return c->local_ip;
}

long
mf__imap_now_ms(void) {
    return (long)mf_monotonic_ms();
}

mf_err
mf__imap_conn_wait(struct mf_imap_conn *c, bool want_read, bool want_write,
                   long timeout_ms, bool *readable_r, bool *writable_r,
                   struct mf_error *err) {
    struct pollfd pfd = {.fd = c->fd};
    bool r = false, w = false;
    long deadline, asked;
    int n;

    MF_ASSERT(want_read || want_write);
    if (timeout_ms < 0)
        timeout_ms = c->io_timeout_ms;
    asked = timeout_ms;
    if (want_read && !c->rx_drained) {
        /* TLS may hold decrypted bytes the socket no longer signals. */
        r = true;
        timeout_ms = 0;
    }
    pfd.events =
        (short)((want_read && !r ? POLLIN : 0) | (want_write ? POLLOUT : 0));
    if (pfd.events) {
        deadline = mf__imap_now_ms() + timeout_ms;
        for (;;) {
            n = poll(&pfd, 1, (int)timeout_ms);
            if (n >= 0 || errno != EINTR)
                break;
            timeout_ms = deadline - mf__imap_now_ms();
            if (timeout_ms < 0)
                timeout_ms = 0;
        }
        if (n < 0)
            return mf_error_set(err, MF_E_IO, "poll: %s", strerror(errno));
        if (pfd.revents & POLLNVAL)
            return mf_error_set(err, MF_E_INTERNAL, "poll: invalid socket");
        /* A hang-up or error: let recv/send report it in their words. */
        if (pfd.revents & (POLLERR | POLLHUP)) {
            r = r || want_read;
            w = want_write;
        }
        r = r || (pfd.revents & POLLIN);
        w = w || (pfd.revents & POLLOUT);
    }
    if (!r && !w)
        return mf_error_set(err, MF_E_TIMEOUT,
                            "no progress on the connection for %ld ms", asked);
    if (readable_r)
        *readable_r = r;
    if (writable_r)
        *writable_r = w;
    return MF_E_OK;
}

/* curl: the bytes go out from c->tx, see the top of this file. */
static mf_err
curl_send_some(struct mf_imap_conn *c, const uint8_t *p, size_t n,
               size_t *sent_r, struct mf_error *err) {
    size_t k = 0;
    CURLcode cc;

    if (c->txlen == 0) {
        c->txlen = n < TX_MAX ? n : TX_MAX;
        memcpy(c->tx, p, c->txlen);
    } else {
        /* A retry: conn.h asks for the same bytes first again. */
        MF_ASSERT(n >= c->txlen && memcmp(c->tx, p, c->txlen) == 0);
    }
    cc = curl_easy_send(c->curl, c->tx, c->txlen, &k);
    if (cc == CURLE_AGAIN) {
        *sent_r = 0;
        return MF_E_OK;
    }
    c->txlen = 0;
    if (cc != CURLE_OK)
        return mf_error_set(err, MF_E_DISCONNECTED, "send: %s",
                            curl_easy_strerror(cc));
    *sent_r = k;
    return MF_E_OK;
}

mf_err
mf__imap_conn_send_some(struct mf_imap_conn *c, const void *buf, size_t n,
                        size_t *sent_r, struct mf_error *err) {
    ssize_t k;

    MF_ASSERT(n > 0);
    if (c->gate && !c->gate(c->gate_ud)) {
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
        return mf_error_set(err, MF_E_FENCED,
                            "send refused: the claim on "
                            "this job is gone");
    }
    if (c->curl)
        return curl_send_some(c, buf, n, sent_r, err);
    k = send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            *sent_r = 0;
            return MF_E_OK;
        }
        return mf_error_set(err, MF_E_DISCONNECTED, "send: %s",
                            strerror(errno));
    }
    *sent_r = (size_t)k;
    return MF_E_OK;
}

mf_err
mf__imap_conn_send(struct mf_imap_conn *c, const void *buf, size_t n,
                   struct mf_error *err) {
    const uint8_t *p = buf;
    mf_err rc;

    while (n > 0) {
        size_t sent = 0;
        if ((rc = mf__imap_conn_send_some(c, p, n, &sent, err)) != MF_E_OK)
            return rc;
        if (sent == 0) {
            rc = mf__imap_conn_wait(c, false, true, -1, NULL, NULL, err);
            if (rc != MF_E_OK)
                return rc;
            continue;
        }
        p += sent;
        n -= sent;
    }
    return MF_E_OK;
}

mf_err
mf__imap_conn_recv_some(struct mf_imap_conn *c, void *buf, size_t cap,
                        size_t *n_r, struct mf_error *err) {
    ssize_t k;

    MF_ASSERT(cap > 0);
    if (c->curl) {
        size_t n = 0;
        CURLcode cc = curl_easy_recv(c->curl, buf, cap, &n);
        if (cc == CURLE_AGAIN) {
            c->rx_drained = true;
            *n_r = 0;
            return MF_E_OK;
        }
        if (cc != CURLE_OK)
            return mf_error_set(err, MF_E_DISCONNECTED, "recv: %s",
                                curl_easy_strerror(cc));
        if (n == 0)
            return mf_error_set(err, MF_E_DISCONNECTED,
                                "the server closed the connection");
        c->rx_drained = false;
        *n_r = n;
        return MF_E_OK;
    }
    k = recv(c->fd, buf, cap, MSG_DONTWAIT);
    if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->rx_drained = true;
            *n_r = 0;
            return MF_E_OK;
        }
        if (errno == EINTR) {
            *n_r = 0; /* not drained: wait() comes straight back */
            return MF_E_OK;
        }
        return mf_error_set(err, MF_E_DISCONNECTED, "recv: %s",
                            strerror(errno));
    }
    if (k == 0)
        return mf_error_set(err, MF_E_DISCONNECTED,
                            "the server closed the connection");
    c->rx_drained = false;
    *n_r = (size_t)k;
    return MF_E_OK;
}

mf_err
mf__imap_conn_recv(struct mf_imap_conn *c, void *buf, size_t cap, size_t *n_r,
                   long timeout_ms, struct mf_error *err) {
    mf_err rc;

    for (;;) {
        size_t n = 0;
        if ((rc = mf__imap_conn_recv_some(c, buf, cap, &n, err)) != MF_E_OK)
            return rc;
        if (n > 0) {
            *n_r = n;
            return MF_E_OK;
        }
        rc = mf__imap_conn_wait(c, true, false, timeout_ms, NULL, NULL, err);
        if (rc != MF_E_OK)
            return rc;
    }
}
