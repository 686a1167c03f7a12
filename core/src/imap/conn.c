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
 * drained until CURLE_AGAIN before we poll the socket.
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
#include <unistd.h>

struct mf_imap_conn {
    CURL *curl; /* owned; NULL for an fd connection */
    int fd;     /* the socket (owned only when curl is NULL) */
    long io_timeout_ms;
    char local_ip[64];
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

mf_err
mf__imap_conn_open(const struct mf_imap_conn_options *o,
                   const struct mf_imap_login *login,
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
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, login->oauth_token);
    } else {
        curl_easy_setopt(h, CURLOPT_PASSWORD, login->password);
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
    free(c);
    *cp = NULL;
}

const char *
mf__imap_conn_local_ip(const struct mf_imap_conn *c) {
    return c->local_ip;
}

/* Waits until fd is ready for events; MF_E_TIMEOUT after timeout_ms. */
static mf_err
wait_fd(int fd, short events, long timeout_ms, struct mf_error *err) {
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;

    do
        n = poll(&pfd, 1, (int)timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return mf_error_set(err, MF_E_IO, "poll: %s", strerror(errno));
    if (n == 0)
        return mf_error_set(err, MF_E_TIMEOUT,
                            "no progress on the connection for %ld ms",
                            timeout_ms);
    return MF_E_OK;
}

/* One non-blocking send: bytes sent, 0 when it would block. */
static mf_err
send_some(struct mf_imap_conn *c, const uint8_t *p, size_t n, size_t *sent_r,
          struct mf_error *err) {
    if (c->curl) {
        CURLcode cc = curl_easy_send(c->curl, p, n, sent_r);
        if (cc == CURLE_AGAIN) {
            *sent_r = 0;
            return MF_E_OK;
        }
        if (cc != CURLE_OK)
            return mf_error_set(err, MF_E_DISCONNECTED, "send: %s",
                                curl_easy_strerror(cc));
        return MF_E_OK;
    }
    ssize_t k = send(c->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
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
        if ((rc = send_some(c, p, n, &sent, err)) != MF_E_OK)
            return rc;
        if (sent == 0) {
            if ((rc = wait_fd(c->fd, POLLOUT, c->io_timeout_ms, err)) !=
                MF_E_OK)
                return rc;
            continue;
        }
        p += sent;
        n -= sent;
    }
    return MF_E_OK;
}

/* One non-blocking receive: bytes read, 0 when nothing is there yet. */
static mf_err
recv_some(struct mf_imap_conn *c, uint8_t *p, size_t cap, size_t *n_r,
          struct mf_error *err) {
    if (c->curl) {
        CURLcode cc = curl_easy_recv(c->curl, p, cap, n_r);
        if (cc == CURLE_AGAIN) {
            *n_r = 0;
            return MF_E_OK;
        }
        if (cc != CURLE_OK)
            return mf_error_set(err, MF_E_DISCONNECTED, "recv: %s",
                                curl_easy_strerror(cc));
        if (*n_r == 0)
            return mf_error_set(err, MF_E_DISCONNECTED,
                                "the server closed the connection");
        return MF_E_OK;
    }
    ssize_t k = recv(c->fd, p, cap, MSG_DONTWAIT);
    if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            *n_r = 0;
            return MF_E_OK;
        }
        return mf_error_set(err, MF_E_DISCONNECTED, "recv: %s",
                            strerror(errno));
    }
    if (k == 0)
        return mf_error_set(err, MF_E_DISCONNECTED,
                            "the server closed the connection");
    *n_r = (size_t)k;
    return MF_E_OK;
}

mf_err
mf__imap_conn_recv(struct mf_imap_conn *c, void *buf, size_t cap, size_t *n_r,
                   long timeout_ms, struct mf_error *err) {
    mf_err rc;

    if (timeout_ms < 0)
        timeout_ms = c->io_timeout_ms;
    for (;;) {
        /* Drain first: TLS may hold decrypted bytes the socket no longer
         * signals. */
        if ((rc = recv_some(c, buf, cap, n_r, err)) != MF_E_OK)
            return rc;
        if (*n_r > 0)
            return MF_E_OK;
        if ((rc = wait_fd(c->fd, POLLIN, timeout_ms, err)) != MF_E_OK)
            return rc;
    }
}
