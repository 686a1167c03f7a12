/*
 * Inside the preflight module: a bare IMAP connection for looking at
 * what libcurl hides (probe.c). It connects over TCP, does TLS itself
 * with OpenSSL so that the certificate and the verification result can be
 * shown even when verification fails, reads the greeting, asks for
 * CAPABILITY, does STARTTLS, and can try a login to get the server's own
 * words when a login through the normal path failed (curl reports only
 * "login denied"). Responses go through the engine's parser (parser.h).
 *
 * Blocking I/O with a per-operation timeout; one command at a time.
 * Ownership: the connection owns its socket, SSL objects and parser.
 * Passwords are borrowed during mf__pf_login() only and wiped from the
 * command buffer after sending.
 */
#ifndef MF_PREFLIGHT_INT_H
#define MF_PREFLIGHT_INT_H

#include "mailferry/preflight.h"

struct mf__pf_conn;

/* A new step at the end of res's list (its text empty, for the caller),
 * or NULL when the list is full (MF_PREFLIGHT_STEP_MAX). */
struct mf_preflight_step *mf__pf_step_new(struct mf_preflight_result *res,
                                          const char *name,
                                          enum mf_preflight_verdict v,
                                          mf_err code, uint64_t elapsed);

/* Resolves and connects to o->endpoint over TCP within o->timeout_ms.
 * peer (may be NULL) gets "ip:port". MF_E_DNS when the name does not
 * resolve, MF_E_CONNECT when refused or unreachable, MF_E_TIMEOUT. */
MF_WARN_UNUSED mf_err mf__pf_connect(const struct mf_preflight_options *o,
                                     struct mf__pf_conn **c_r, char *peer,
                                     size_t peer_n, struct mf_error *err);
/* Reads the greeting into out (the text after "* OK ", "* PREAUTH ");
 * a BYE greeting is MF_E_IMAP_BYE. Capabilities in a [CAPABILITY] code
 * are kept. */
MF_WARN_UNUSED mf_err mf__pf_greeting(struct mf__pf_conn *c, char *out,
                                      size_t n, struct mf_error *err);
/* Runs CAPABILITY; the atoms are in mf__pf_caps(). */
MF_WARN_UNUSED mf_err mf__pf_capability(struct mf__pf_conn *c,
                                        struct mf_error *err);
/* The last capability list seen ("IMAP4rev1 STARTTLS ..."), "" if none. */
const char *mf__pf_caps(const struct mf__pf_conn *c);
/* Sends ID (RFC 2971) and puts the answer's name/value pairs, space
 * separated ("name GImap vendor Google, Inc."), into out ("" for NIL or
 * no answer). A NO or BAD is no error: a server may refuse it. */
MF_WARN_UNUSED mf_err mf__pf_id(struct mf__pf_conn *c, char *out, size_t n,
                                struct mf_error *err);
/* Runs STARTTLS (the caller checks that it is offered). */
MF_WARN_UNUSED mf_err mf__pf_starttls(struct mf__pf_conn *c,
                                      struct mf_error *err);
/* TLS handshake over the connection. Never fails because of the
 * certificate: the verification result is reported in *tls (which also
 * gets the subject, issuer, names and expiry). MF_E_TLS when the
 * handshake itself fails (OpenSSL's words in err). */
MF_WARN_UNUSED mf_err mf__pf_tls(struct mf__pf_conn *c,
                                 const struct mf_preflight_options *o,
                                 struct mf_preflight_tls_info *tls,
                                 struct mf_error *err);
/* Logs in: AUTHENTICATE PLAIN (with authzid when given; SASL-IR when
 * offered) if the server offers AUTH=PLAIN, else LOGIN. MF_E_OK on a
 * tagged OK; MF_E_AUTH with the server's response ("NO
 * [AUTHENTICATIONFAILED] Authentication failed.") in err otherwise. */
MF_WARN_UNUSED mf_err mf__pf_login(struct mf__pf_conn *c, const char *user,
                                   const char *password, const char *authzid,
                                   struct mf_error *err);
/* Sends LOGOUT (best effort) and frees; accepts NULL; sets *c to NULL. */
void mf__pf_close(struct mf__pf_conn **c);

/* Connects, secures (TLS or STARTTLS as the endpoint says) and tries the
 * login on a bare connection, to explain why the normal login failed:
 * writes the server's answer (or what failed before it) into why. */
void mf__pf_explain_login(const struct mf_preflight_options *o,
                          const char *user, const char *password,
                          const char *authzid, char *why, size_t n);

#endif
