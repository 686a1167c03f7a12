/*
 * IMAP connection (layer 4 of the engine, STYLE.md), its public part: how
 * a connection is reached (struct mf_imap_conn_options) and whose login it
 * uses (struct mf_imap_login), which the store, the plan and preflight fill
 * in for mf_imap_session_open() (mailferry/imap_session.h). The connection
 * itself is opaque here: its byte I/O (mf__imap_conn_*) is internal to
 * core/src/imap (conn.h there) and driven by the session only.
 *
 * Ownership: both structs borrow every string and object they point to;
 * the connection keeps none of them past mf_imap_session_open() (its
 * credentials are borrowed for the login only and never kept).
 */
#ifndef MAILFERRY_IMAP_CONN_H
#define MAILFERRY_IMAP_CONN_H

#include "mailferry/endpoint.h"

#include <stdbool.h>

struct mf_imap_conn;
struct mf_oauth;

struct mf_imap_login {
    const char *user;        /* login name, or the admin's for impersonation */
    const char *password;    /* borrowed; NULL with oauth_token */
    const char *authzid;     /* SASL PLAIN authorization identity, or NULL */
    const char *oauth_token; /* XOAUTH2 / OAUTHBEARER bearer token, or NULL */
    /* Or tokens from here, asked for at each connection (conn_oauth.c). */
    struct mf_oauth *oauth;    /* borrowed, or NULL */
    const char *oauth_mailbox; /* whose token; NULL: user */
    /* The password only as SASL PLAIN, never another mechanism the
     * server offers (mf_profile.sasl_plain: Exchange Server). */
    bool sasl_plain;
};

struct mf_imap_conn_options {
    struct mf_endpoint endpoint;
    const char *ca_file;      /* extra CA bundle, or NULL: system store */
    bool insecure;            /* skip certificate verification */
    const char *bind_address; /* local address for outgoing connections */
    long connect_timeout_ms;  /* covers connect, TLS and login; 0: 30 s */
    long io_timeout_ms; /* one read or write may wait this long; 0: 120 s */
};

#endif
