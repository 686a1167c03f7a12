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
 * All byte I/O is non-blocking underneath; the session drives it with
 * recv_some/send_some/wait (below) so that it reads and writes at the same
 * time. The blocking send/recv are thin loops over those.
 *
 * Internal to core/src/imap (and its tests): the options and login
 * structs are public (mailferry/imap_conn.h); everything else of the
 * connection is reached through the session (mailferry/imap_session.h).
 *
 * Ownership: the connection owns its curl handle (or fd). Credentials are
 * borrowed for the duration of mf__imap_conn_open() only and never kept.
 */
#ifndef MF_IMAP_CONN_H
#define MF_IMAP_CONN_H

#include "mailferry/err.h"
#include "mailferry/imap_conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The last SASL continuation the server sent during an OAuth2 login. */
struct mf__imap_sasl_answer {
    char b64[1024];
};

/* Connects, secures and logs in. On success *conn_r is a logged-in
 * connection in the authenticated state. On failure err has the code
 * (MF_E_AUTH, MF_E_CONNECT, MF_E_DNS, MF_E_TLS, MF_E_TLS_VERIFY,
 * MF_E_TIMEOUT, MF_E_DISCONNECTED, ...) and curl's own words. */
MF_WARN_UNUSED mf_err mf__imap_conn_open(const struct mf_imap_conn_options *o,
                                         const struct mf_imap_login *login,
                                         struct mf_imap_conn **conn_r,
                                         struct mf_error *err);
/* One login attempt with login->oauth_token or the password (conn.c);
 * sasl (may be NULL) gets the server's last SASL continuation. With
 * login->oauth, mf__imap_conn_open() asks for the token, calls this, and
 * after a refusal of a provider's token gets one fresh token and tries
 * once more (conn_oauth.c). */
MF_WARN_UNUSED mf_err mf__imap_conn_open_once(
    const struct mf_imap_conn_options *o, const struct mf_imap_login *login,
    struct mf__imap_sasl_answer *sasl, struct mf_imap_conn **conn_r,
    struct mf_error *err);
/* Wraps an already connected socket (tests: one end of a socketpair).
 * The connection owns fd. */
struct mf_imap_conn *mf__imap_conn_from_fd(int fd, long io_timeout_ms);
void mf__imap_conn_free(struct mf_imap_conn **conn);

/* ------------------------------------------------------------------ */
/* Non-blocking I/O, for an event loop that must never block on one      */
/* direction while the peer waits for the other (a server writing FETCH  */
/* answers that stops reading our APPEND literal until we read). The     */
/* loop is:                                                             */
/*                                                                      */
/*   1. mf__imap_conn_recv_some() until it gives 0 bytes;               */
/*   2. mf__imap_conn_send_some() until it gives 0 bytes or all is out; */
/*   3. mf__imap_conn_wait(want_read, want_write = output left), then   */
/*      back to 1.                                                      */
/*                                                                      */
/* Step 1 matters with TLS: curl may hold decrypted bytes that the      */
/* socket no longer signals. mf__imap_conn_wait() knows whether the last */
/* receive ended in "would block"; if not, it reports readable without  */
/* waiting, so a loop that stops draining early cannot hang.            */
/* ------------------------------------------------------------------ */

/* Sends what the connection takes now, without waiting: *sent_r is the
 * count, 0 when the socket would block (n must be > 0). Bytes not taken
 * must be offered again, first, on the next call (more may follow them):
 * a TLS write that would block has to be retried with the same bytes. A
 * closed or reset connection is MF_E_DISCONNECTED. */
MF_WARN_UNUSED mf_err mf__imap_conn_send_some(struct mf_imap_conn *c,
                                              const void *buf, size_t n,
                                              size_t *sent_r,
                                              struct mf_error *err);
/* Receives what is there, without waiting: *n_r is the count, 0 when
 * nothing is there yet. A closed connection is MF_E_DISCONNECTED. */
MF_WARN_UNUSED mf_err mf__imap_conn_recv_some(struct mf_imap_conn *c, void *buf,
                                              size_t cap, size_t *n_r,
                                              struct mf_error *err);
/* Waits up to timeout_ms (-1: the connection's I/O timeout; 0: just
 * look) until the connection is readable (want_read) or writable
 * (want_write); at least one must be wanted. *readable_r and
 * *writable_r (either may be NULL) say which, both may be true. Readable
 * comes at once, without polling, while the last receive did not end in
 * "would block" (buffered TLS data). Hang-ups and socket errors count as
 * both, so that the next receive or send reports them. Nothing in time is
 * MF_E_TIMEOUT. */
MF_WARN_UNUSED mf_err mf__imap_conn_wait(struct mf_imap_conn *c, bool want_read,
                                         bool want_write, long timeout_ms,
                                         bool *readable_r, bool *writable_r,
                                         struct mf_error *err);

/* Blocking forms, for simple callers (tests, one command at a time): they
 * do not read while sending, so they must not be used while the server
 * may be writing a lot. */

/* Sends all n bytes, waiting as needed (up to the I/O timeout for each
 * step of progress). */
MF_WARN_UNUSED mf_err mf__imap_conn_send(struct mf_imap_conn *c,
                                         const void *buf, size_t n,
                                         struct mf_error *err);
/* Receives at least one byte into buf, waiting up to timeout_ms (-1: the
 * connection's I/O timeout). *n_r is the count. A closed connection is
 * MF_E_DISCONNECTED; no data in time is MF_E_TIMEOUT. */
MF_WARN_UNUSED mf_err mf__imap_conn_recv(struct mf_imap_conn *c, void *buf,
                                         size_t cap, size_t *n_r,
                                         long timeout_ms, struct mf_error *err);
/* The socket, for callers that poll several connections at once and for
 * tests (socket options). Owned by the connection; never read or write
 * it directly (TLS). */
int mf__imap_conn_fd(const struct mf_imap_conn *c);
/* CLOCK_MONOTONIC in milliseconds: the clock of every I/O deadline. */
long mf__imap_now_ms(void);
/* Gates every send on gate(ud) (NULL: none): when it returns false the
 * connection is shut down and the send fails with MF_E_FENCED, so not one
 * more byte reaches the server (a job that lost its claim). */
void mf__imap_conn_set_gate(struct mf_imap_conn *c, bool (*gate)(void *ud),
                            void *ud);
/* The local address of the connection ("127.0.0.2"), for the per-IP cap. */
const char *mf__imap_conn_local_ip(const struct mf_imap_conn *c);

#endif
