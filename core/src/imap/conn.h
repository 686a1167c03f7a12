/*
 * IMAP connection (layer 4 of the engine, STYLE.md): libcurl connects,
 * does TLS or STARTTLS and logs in (CURLOPT_CONNECT_ONLY); after that
 * mailferry speaks IMAP itself over curl_easy_send/curl_easy_recv, with
 * poll() on the socket. curl never touches the socket again.
 *
 * A small ops table sits under the byte I/O so that tests can run the
 * upper layers over a socketpair against a scripted fake server
 * (mf__imap_conn_from_fd) instead of a real server.
 *
 * Ownership: the connection owns its curl handle (or fd). Credentials are
 * borrowed for the duration of mf__imap_conn_open() only and never kept.
 */
#ifndef MF_IMAP_CONN_H
#define MF_IMAP_CONN_H

#include "mailferry/endpoint.h"
#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_imap_login {
    const char *user;        /* login name, or the admin's for impersonation */
    const char *password;    /* borrowed; NULL with oauth_token */
    const char *authzid;     /* SASL PLAIN authorization identity, or NULL */
    const char *oauth_token; /* XOAUTH2 / OAUTHBEARER bearer token, or NULL */
};

struct mf_imap_conn_options {
    struct mf_endpoint endpoint;
    const char *ca_file;      /* extra CA bundle, or NULL: system store */
    bool insecure;            /* skip certificate verification */
    const char *bind_address; /* local address for outgoing connections */
    long connect_timeout_ms;  /* covers connect, TLS and login; 0: 30 s */
    long io_timeout_ms; /* one read or write may wait this long; 0: 120 s */
};

struct mf_imap_conn;

/* Connects, secures and logs in. On success *conn_r is a logged-in
 * connection in the authenticated state. On failure err has the code
 * (MF_E_AUTH, MF_E_CONNECT, MF_E_DNS, MF_E_TLS, MF_E_TLS_VERIFY,
 * MF_E_TIMEOUT, MF_E_DISCONNECTED, ...) and curl's own words. */
MF_WARN_UNUSED mf_err mf__imap_conn_open(const struct mf_imap_conn_options *o,
                                         const struct mf_imap_login *login,
                                         struct mf_imap_conn **conn_r,
                                         struct mf_error *err);
/* Wraps an already connected socket (tests: one end of a socketpair).
 * The connection owns fd. */
struct mf_imap_conn *mf__imap_conn_from_fd(int fd, long io_timeout_ms);
void mf__imap_conn_free(struct mf_imap_conn **conn);

/* Sends all n bytes, waiting as needed (up to the I/O timeout). */
MF_WARN_UNUSED mf_err mf__imap_conn_send(struct mf_imap_conn *c,
                                         const void *buf, size_t n,
                                         struct mf_error *err);
/* Receives at least one byte into buf, waiting up to timeout_ms (-1: the
 * connection's I/O timeout). *n_r is the count. A closed connection is
 * MF_E_DISCONNECTED; no data in time is MF_E_TIMEOUT. */
MF_WARN_UNUSED mf_err mf__imap_conn_recv(struct mf_imap_conn *c, void *buf,
                                         size_t cap, size_t *n_r,
                                         long timeout_ms, struct mf_error *err);
/* The local address of the connection ("127.0.0.2"), for the per-IP cap. */
const char *mf__imap_conn_local_ip(const struct mf_imap_conn *c);

#endif
