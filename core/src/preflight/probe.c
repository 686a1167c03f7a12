/*
 * A bare IMAP connection for the endpoint test (see preflight_int.h):
 * TCP, TLS with OpenSSL, greeting, CAPABILITY, STARTTLS and a login whose
 * answer we keep word for word.
 *
 * Why not the session (mailferry/imap_session.h)? libcurl does the connect, TLS
 * and login there and keeps the certificate, the greeting and the server's
 * refusal text to itself. The endpoint test must show exactly those.
 * The logins that count (admin, impersonation, the probe) still go
 * through the session, the path the workers use; this one only explains.
 *
 * TLS verification runs with SSL_VERIFY_NONE so that the handshake
 * finishes and the certificate can be shown; the verification result
 * (chain, expiry and host name, checked by OpenSSL all the same) is read
 * afterwards with SSL_get_verify_result() and decides the verdict.
 */
#include "preflight/preflight_int.h"

#include "mailferry/imap_parser.h"
#include "mailferry/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct mf__pf_conn {
    int fd;
    SSL_CTX *ctx; /* owned, NULL before TLS */
    SSL *ssl;     /* owned, NULL before TLS */
    long timeout_ms;
    struct mf_imap_parser *parser; /* owned */
    unsigned tagno;
    char tag[16]; /* the command in flight */
    /* What the responses said (set by on_response). */
    bool got_tagged, got_continuation, got_bye, got_greeting;
    enum mf_imap_status status;
    char text[MF_PREFLIGHT_TEXT_MAX]; /* tagged or greeting response text */
    char caps[2048];
    char id[512]; /* the ID answer's pairs as text, "" when none */
    /* Set by mf__pf_tls(): whether the certificate verified, and whether
     * --insecure accepts one that did not. mf__pf_login() sends nothing
     * unless the connection is plain by configuration, verified, or
     * insecure by the operator's choice. */
    bool tls_verified, tls_insecure;
};

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void
set_caps_from_args(struct mf__pf_conn *c, const struct mf_imap_arg *args,
                   size_t n) {
    size_t pos = 0;

    c->caps[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *s;
        if (!mf_imap_arg_as_astring(&args[i], &s))
            continue;
        pos += (size_t)snprintf(
            c->caps + pos, pos < sizeof(c->caps) ? sizeof(c->caps) - pos : 0,
            "%s%s", pos ? " " : "", s);
        if (pos >= sizeof(c->caps))
            break;
    }
}

/* "NO [AUTHENTICATIONFAILED] Authentication failed." */
static void
describe(char *out, size_t n, const struct mf_imap_response *r) {
    if (r->code.name)
        snprintf(out, n, "%s [%s%s%s] %.*s", mf_imap_status_name(r->status),
                 r->code.name, r->code.raw[0] ? " " : "", r->code.raw,
                 (int)r->text_len, r->text);
    else
        snprintf(out, n, "%s %.*s", mf_imap_status_name(r->status),
                 (int)r->text_len, r->text);
}

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct mf__pf_conn *c = ud;

    if (r->code.name && strcmp(r->code.name, "CAPABILITY") == 0 &&
        r->code.args_ok)
        set_caps_from_args(c, r->code.args, r->code.nargs);
    switch (r->kind) {
    case MF_IMAP_RESP_CONTINUATION:
        c->got_continuation = true;
        break;
    case MF_IMAP_RESP_TAGGED:
        if (strcmp(r->tag, c->tag) == 0) {
            c->got_tagged = true;
            c->status = r->status;
            describe(c->text, sizeof(c->text), r);
        }
        break;
    case MF_IMAP_RESP_UNTAGGED:
        if (r->keyword && strcmp(r->keyword, "CAPABILITY") == 0) {
            set_caps_from_args(c, r->args, r->nargs);
        } else if (r->keyword && strcmp(r->keyword, "ID") == 0) {
            /* RFC 2971 3.2: "* ID" SP id-params-list, a parenthesised
             * list of string pairs, or NIL. */
            const struct mf_imap_arg *l;
            size_t n;
            if (r->nargs == 1 && mf_imap_arg_as_list(&r->args[0], &l, &n)) {
                char save[sizeof(c->caps)];
                memcpy(save, c->caps, sizeof(save));
                set_caps_from_args(c, l, n);
                snprintf(c->id, sizeof(c->id), "%.*s", (int)sizeof(c->id) - 1,
                         c->caps);
                memcpy(c->caps, save, sizeof(save));
            }
        } else if (r->status == MF_IMAP_STATUS_BYE) {
            c->got_bye = true;
            describe(c->text, sizeof(c->text), r);
        } else if (!c->got_greeting && (r->status == MF_IMAP_STATUS_OK ||
                                        r->status == MF_IMAP_STATUS_PREAUTH)) {
            c->got_greeting = true;
            c->status = r->status;
            describe(c->text, sizeof(c->text), r);
        }
        break;
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* I/O                                                                 */
/* ------------------------------------------------------------------ */

static const char *
ssl_error_text(void) {
    static __thread char buf[256];
    unsigned long e = ERR_get_error();

    if (e == 0)
        return "no OpenSSL error queued";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

static mf_err
send_all(struct mf__pf_conn *c, const void *buf, size_t n,
         struct mf_error *err) {
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t k;
        if (c->ssl) {
            int w = SSL_write(c->ssl, p, (int)n);
            if (w <= 0)
                return mf_error_set(err, MF_E_DISCONNECTED, "TLS write: %s",
                                    ssl_error_text());
            k = w;
        } else {
            k = send(c->fd, p, n, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return mf_error_set(
                    err, errno == EAGAIN ? MF_E_TIMEOUT : MF_E_DISCONNECTED,
                    "send: %s", strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return MF_E_OK;
}

/* Reads and parses until done() says so. */
static mf_err
read_until(struct mf__pf_conn *c, bool (*done)(const struct mf__pf_conn *),
           struct mf_error *err) {
    uint8_t buf[4096];

    while (!done(c) && !c->got_bye) {
        ssize_t k;
        mf_err rc;
        if (c->ssl) {
            int r = SSL_read(c->ssl, buf, sizeof(buf));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_ZERO_RETURN)
                    return mf_error_set(err, MF_E_DISCONNECTED,
                                        "the server closed the connection");
                if (e == SSL_ERROR_SYSCALL &&
                    (errno == EAGAIN || errno == EWOULDBLOCK))
                    return mf_error_set(err, MF_E_TIMEOUT,
                                        "no answer in %ld ms", c->timeout_ms);
                return mf_error_set(err, MF_E_DISCONNECTED, "TLS read: %s",
                                    e == SSL_ERROR_SYSCALL && errno
                                        ? strerror(errno)
                                        : ssl_error_text());
            }
            k = r;
        } else {
            k = recv(c->fd, buf, sizeof(buf), 0);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return mf_error_set(err, MF_E_TIMEOUT, "no answer in %ld ms",
                                    c->timeout_ms);
            if (k < 0)
                return mf_error_set(err, MF_E_DISCONNECTED, "recv: %s",
                                    strerror(errno));
            if (k == 0)
                return mf_error_set(err, MF_E_DISCONNECTED,
                                    "the server closed the connection");
        }
        rc = mf_imap_parser_feed(c->parser, buf, (size_t)k, NULL);
        if (rc != MF_E_OK)
            return mf_error_set(err, rc, "%s",
                                mf_imap_parser_error(c->parser)->detail);
    }
    if (c->got_bye && !done(c))
        return mf_error_set(err, MF_E_IMAP_BYE, "the server said: %s", c->text);
    return MF_E_OK;
}

static bool
have_greeting(const struct mf__pf_conn *c) {
    return c->got_greeting;
}

static bool
have_tagged(const struct mf__pf_conn *c) {
    return c->got_tagged;
}

static bool
have_tagged_or_cont(const struct mf__pf_conn *c) {
    return c->got_tagged || c->got_continuation;
}

/* Sends "<tag> <line>\r\n" (line borrowed) and waits for its answer or,
 * with want_cont, a continuation request. */
static mf_err
command(struct mf__pf_conn *c, const char *line, size_t len, bool want_cont,
        struct mf_error *err) {
    struct mf_buf b = {0};
    mf_err rc;

    snprintf(c->tag, sizeof(c->tag), "pf%u", ++c->tagno);
    c->got_tagged = c->got_continuation = false;
    mf_buf_appendf(&b, "%s ", c->tag);
    mf_buf_append(&b, line, len);
    mf_buf_append(&b, "\r\n", 2);
    rc = send_all(c, b.data, b.len, err);
    mf_wipe(b.data, b.len); /* may hold credentials */
    mf_buf_free(&b);
    if (rc != MF_E_OK)
        return rc;
    return read_until(c, want_cont ? have_tagged_or_cont : have_tagged, err);
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */
/* ------------------------------------------------------------------ */

static void
set_timeouts(int fd, long ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connects fd to ai within ms; returns 0 or an errno value. */
static int
connect_timed(int fd, const struct addrinfo *ai, long ms) {
    int flags = fcntl(fd, F_GETFL), soerr = 0;
    socklen_t len = sizeof(soerr);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;

    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS)
            return errno;
        do
            n = poll(&pfd, 1, (int)ms);
        while (n < 0 && errno == EINTR);
        if (n == 0)
            return ETIMEDOUT;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            return errno;
        if (soerr)
            return soerr;
    }
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return 0;
}

mf_err
mf__pf_connect(const struct mf_preflight_options *o, struct mf__pf_conn **c_r,
               char *peer, size_t peer_n, struct mf_error *err) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    long timeout = o->timeout_ms > 0 ? o->timeout_ms : 15000;
    char port[8], ip[64] = "";
    int gai, fd = -1, last = 0;
    struct mf__pf_conn *c;

    snprintf(port, sizeof(port), "%u", o->endpoint.port);
    gai = getaddrinfo(o->endpoint.host, port, &hints, &res);
    if (gai != 0)
        return mf_error_set(err, MF_E_DNS, "cannot resolve %s: %s",
                            o->endpoint.host, gai_strerror(gai));
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        last = connect_timed(fd, ai, timeout);
        if (last == 0) {
            void *a =
                ai->ai_family == AF_INET6
                    ? (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                    : (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
            inet_ntop(ai->ai_family, a, ip, sizeof(ip));
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return mf_error_set(err,
                            last == ETIMEDOUT ? MF_E_TIMEOUT : MF_E_CONNECT,
                            "cannot connect to %s port %u: %s",
                            o->endpoint.host, o->endpoint.port, strerror(last));
    set_timeouts(fd, timeout);
    c = mf_xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->timeout_ms = timeout;
    c->parser = mf_imap_parser_new(NULL, &cb, c);
    if (peer)
        snprintf(peer, peer_n, "%s%s%s:%u", strchr(ip, ':') ? "[" : "", ip,
                 strchr(ip, ':') ? "]" : "", o->endpoint.port);
    *c_r = c;
    return MF_E_OK;
}

mf_err
mf__pf_greeting(struct mf__pf_conn *c, char *out, size_t n,
                struct mf_error *err) {
    mf_err rc = read_until(c, have_greeting, err);

    if (rc == MF_E_IMAP_BYE)
        return mf_error_set(err, MF_E_IMAP_BYE,
                            "the server refused the connection: %s", c->text);
    if (rc != MF_E_OK)
        return rc;
    snprintf(out, n, "%s", c->text);
    return MF_E_OK;
}

mf_err
mf__pf_capability(struct mf__pf_conn *c, struct mf_error *err) {
    mf_err rc = command(c, "CAPABILITY", 10, false, err);

    if (rc == MF_E_OK && c->status != MF_IMAP_STATUS_OK)
        return mf_error_set(err, MF_E_IMAP_NO, "CAPABILITY: %s", c->text);
    return rc;
}

const char *
mf__pf_caps(const struct mf__pf_conn *c) {
    return c->caps;
}

mf_err
mf__pf_id(struct mf__pf_conn *c, char *out, size_t n, struct mf_error *err) {
    /* RFC 2971 3.1: the client names itself; any state is fine. */
    static const char line[] = "ID (\"name\" \"mailferry\")";
    mf_err rc;

    c->id[0] = '\0';
    rc = command(c, line, sizeof(line) - 1, false, err);
    snprintf(out, n, "%s", c->id);
    return rc;
}

mf_err
mf__pf_starttls(struct mf__pf_conn *c, struct mf_error *err) {
    mf_err rc = command(c, "STARTTLS", 8, false, err);

    if (rc == MF_E_OK && c->status != MF_IMAP_STATUS_OK)
        return mf_error_set(err, MF_E_TLS, "STARTTLS refused: %s", c->text);
    /* RFC 3501 6.2.1: capabilities must be asked again after TLS. */
    c->caps[0] = '\0';
    return rc;
}

static void
x509_name(X509_NAME *name, char *out, size_t n) {
    BIO *b = BIO_new(BIO_s_mem());
    int len;

    out[0] = '\0';
    if (!b)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    len = BIO_read(b, out, (int)n - 1);
    out[len > 0 ? len : 0] = '\0';
    BIO_free(b);
}

static void
x509_san(X509 *cert, char *out, size_t n) {
    GENERAL_NAMES *names =
        X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t pos = 0;

    out[0] = '\0';
    if (!names)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && pos < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char ip[64] = "";
        const char *sep = pos ? ", " : "";
        if (g->type == GEN_DNS) {
            const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
            pos += (size_t)snprintf(out + pos, n - pos, "%sDNS:%.*s", sep,
                                    ASN1_STRING_length(g->d.dNSName),
                                    (const char *)d);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
            pos += (size_t)snprintf(out + pos, n - pos, "%sIP:%s", sep, ip);
        }
    }
    GENERAL_NAMES_free(names);
}

static void
cert_info(X509 *cert, struct mf_preflight_tls_info *tls) {
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    struct tm tm;
    int days = 0, secs = 0;

    x509_name(X509_get_subject_name(cert), tls->subject, sizeof(tls->subject));
    x509_name(X509_get_issuer_name(cert), tls->issuer, sizeof(tls->issuer));
    x509_san(cert, tls->san, sizeof(tls->san));
    if (na && ASN1_TIME_to_tm(na, &tm) == 1)
        strftime(tls->not_after, sizeof(tls->not_after), "%Y-%m-%dT%H:%M:%SZ",
                 &tm);
    if (na && ASN1_TIME_diff(&days, &secs, NULL, na) == 1)
        tls->days_left = days - (days <= 0 && secs < 0 ? 1 : 0);
}

mf_err
mf__pf_tls(struct mf__pf_conn *c, const struct mf_preflight_options *o,
           struct mf_preflight_tls_info *tls, struct mf_error *err) {
    const char *host = o->endpoint.host;
    uint8_t addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 ||
                 inet_pton(AF_INET6, host, addr) == 1;
    X509 *cert;
    long vr;

    memset(tls, 0, sizeof(*tls));
    c->tls_verified = false;
    c->tls_insecure = o->insecure;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return mf_error_set(err, MF_E_TLS, "SSL_CTX_new: %s", ssl_error_text());
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    /* Like curl with CURLOPT_CAINFO: the file replaces the system store. */
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1)
            return mf_error_set(err, MF_E_TLS_VERIFY,
                                "cannot load CA file %s: %s", o->ca_file,
                                ssl_error_text());
    } else {
        SSL_CTX_set_default_verify_paths(c->ctx);
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl)
        return mf_error_set(err, MF_E_TLS, "SSL_new: %s", ssl_error_text());
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, host);
        SSL_set1_host(c->ssl, host);
    }
    SSL_set_fd(c->ssl, c->fd);
    ERR_clear_error();
    if (SSL_connect(c->ssl) != 1) {
        const char *why = ssl_error_text();
        SSL_free(c->ssl);
        c->ssl = NULL;
        return mf_error_set(err, MF_E_TLS,
                            "TLS handshake with %s port %u failed: %s", host,
                            o->endpoint.port, why);
    }
    tls->done = true;
    snprintf(tls->version, sizeof(tls->version), "%s", SSL_get_version(c->ssl));
    snprintf(tls->cipher, sizeof(tls->cipher), "%s",
             SSL_get_cipher_name(c->ssl));
    cert = SSL_get1_peer_certificate(c->ssl);
    if (cert) {
        cert_info(cert, tls);
        X509_free(cert);
        vr = SSL_get_verify_result(c->ssl);
        tls->verified = vr == X509_V_OK;
        c->tls_verified = tls->verified;
        snprintf(tls->verify_result, sizeof(tls->verify_result), "%s",
                 X509_verify_cert_error_string(vr));
    } else {
        snprintf(tls->verify_result, sizeof(tls->verify_result),
                 "the server sent no certificate");
    }
    return MF_E_OK;
}

mf_err
mf__pf_login(struct mf__pf_conn *c, const char *user, const char *password,
             const char *authzid, struct mf_error *err) {
    struct mf_buf raw = {0}, line = {0};
    bool plain = mf_preflight_caps_have(c->caps, "AUTH=PLAIN") || authzid;
    mf_err rc;

    /* The handshake above ran with SSL_VERIFY_NONE so that the certificate
     * can be shown; that must never let a credential through. On a TLS
     * connection whose certificate failed verification nothing of the
     * login is sent unless the operator said --insecure. */
    if (c->ssl && !c->tls_verified && !c->tls_insecure)
        return mf_error_set(err, MF_E_TLS_VERIFY,
                            "not logging in: the server's certificate did "
                            "not verify (--insecure accepts it)");
    if (plain) {
        /* RFC 4616: authzid NUL authcid NUL passwd, base64 (RFC 4648). */
        int n;
        mf_buf_append_str(&raw, authzid ? authzid : "");
        mf_buf_append(&raw, "", 1);
        mf_buf_append_str(&raw, user);
        mf_buf_append(&raw, "", 1);
        mf_buf_append_str(&raw, password);
        mf_buf_append_str(&line, "AUTHENTICATE PLAIN");
        {
            uint8_t *b64 = mf_xmalloc(4 * (raw.len / 3 + 1) + 1);
            n = EVP_EncodeBlock(b64, raw.data, (int)raw.len);
            if (mf_preflight_caps_have(c->caps, "SASL-IR")) {
                mf_buf_append(&line, " ", 1);
                mf_buf_append(&line, b64, (size_t)n);
                rc = command(c, (char *)line.data, line.len, false, err);
            } else {
                rc = command(c, (char *)line.data, line.len, true, err);
                if (rc == MF_E_OK && c->got_continuation) {
                    b64[n] = '\0';
                    c->got_continuation = false;
                    rc = send_all(c, b64, (size_t)n, err);
                    if (rc == MF_E_OK)
                        rc = send_all(c, "\r\n", 2, err);
                    if (rc == MF_E_OK)
                        rc = read_until(c, have_tagged, err);
                }
            }
            mf_wipe(b64, (size_t)n);
            free(b64);
        }
    } else {
        size_t split = 0;
        mf_buf_append_str(&line, "LOGIN ");
        if (mf_imap_quote_astring(&line, (const uint8_t *)user, strlen(user),
                                  false, &split) > MF_IMAP_QUOTE_QUOTED)
            goto cannot;
        mf_buf_append(&line, " ", 1);
        if (mf_imap_quote_astring(&line, (const uint8_t *)password,
                                  strlen(password), false,
                                  &split) > MF_IMAP_QUOTE_QUOTED)
            goto cannot;
        rc = command(c, (char *)line.data, line.len, false, err);
    }
    if (rc == MF_E_OK && c->status != MF_IMAP_STATUS_OK)
        rc = mf_error_set(err, MF_E_AUTH, "%s", c->text);
    goto out;
cannot:
    rc = mf_error_set(err, MF_E_AUTH,
                      "the server offers no AUTH=PLAIN and the credentials "
                      "need an IMAP literal");
out:
    mf_wipe(raw.data, raw.len);
    mf_wipe(line.data, line.len);
    mf_buf_free(&raw);
    mf_buf_free(&line);
    return rc;
}

void
mf__pf_close(struct mf__pf_conn **cp) {
    struct mf__pf_conn *c = *cp;

    if (!c)
        return;
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    close(c->fd);
    mf_imap_parser_free(&c->parser);
    free(c);
    *cp = NULL;
}

void
mf__pf_explain_login(const struct mf_preflight_options *o, const char *user,
                     const char *password, const char *authzid, char *why,
                     size_t n) {
    struct mf_preflight_tls_info tls;
    struct mf__pf_conn *c = NULL;
    struct mf_error err = {0};
    char greeting[MF_PREFLIGHT_TEXT_MAX];

    if (mf__pf_connect(o, &c, NULL, 0, &err) != MF_E_OK)
        goto out;
    if (o->endpoint.tls == MF_TLS_IMPLICIT &&
        mf__pf_tls(c, o, &tls, &err) != MF_E_OK)
        goto out;
    if (mf__pf_greeting(c, greeting, sizeof(greeting), &err) != MF_E_OK)
        goto out;
    if (o->endpoint.tls == MF_TLS_STARTTLS &&
        (mf__pf_starttls(c, &err) != MF_E_OK ||
         mf__pf_tls(c, o, &tls, &err) != MF_E_OK))
        goto out;
    if (!c->caps[0] && mf__pf_capability(c, &err) != MF_E_OK)
        goto out;
    if (mf__pf_login(c, user, password, authzid, &err) == MF_E_OK)
        snprintf(err.detail, sizeof(err.detail),
                 "a second try succeeded: the refusal was temporary");
out:
    snprintf(why, n, "%s", err.detail);
    mf__pf_close(&c);
}
