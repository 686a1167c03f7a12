/*
 * OAuth2 bearer tokens for IMAP logins (core/src/oauth).
 *
 * A struct mf_oauth hands out one access token per mailbox, from one of:
 *   - a token file: one bearer token, or lines "EmailAddress TOKEN"; the
 *     file is read again at every call, so an outside refresher may
 *     rotate tokens during a long run;
 *   - Microsoft Entra ID, app-only: the client credentials grant
 *     (RFC 6749 section 4.4) with a client secret or a client assertion
 *     (RFC 7523 section 2.2, a JWT signed RS256 with the certificate's
 *     key); one token serves every mailbox;
 *   - a Google service account with domain-wide delegation: the JWT
 *     bearer grant (RFC 7523 section 2.1), sub = the mailbox; one token
 *     per mailbox.
 * Minted tokens are cached per mailbox until MF_OAUTH_EARLY_S seconds
 * before they expire. Client secrets and private keys come only from
 * files and are wiped when the struct is freed; no token, secret or key
 * is ever put into an error detail.
 *
 * Thread-safe: the workers' mailbox threads share one struct mf_oauth.
 */
#ifndef MAILFERRY_OAUTH_H
#define MAILFERRY_OAUTH_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stdint.h>

/* A cached token is renewed this many seconds before it expires. */
#define MF_OAUTH_EARLY_S 120

enum mf_oauth_provider {
    MF_OAUTH_NONE = 0,
    MF_OAUTH_TOKEN_FILE,
    MF_OAUTH_ENTRA,
    MF_OAUTH_GOOGLE,
};

/* What mf_oauth_new() needs; borrowed, copied by mf_oauth_new(). */
struct mf_oauth_config {
    enum mf_oauth_provider provider;
    const char *token_file;           /* MF_OAUTH_TOKEN_FILE */
    const char *tenant;               /* entra */
    const char *client_id;            /* entra */
    const char *client_secret_file;   /* entra: a secret, or ... */
    const char *certificate_file;     /* entra: PEM key + certificate */
    const char *service_account_file; /* google: the JSON key */
    /* Or the content of those files (a worker gets it sealed in its
     * job, core/src/jobs/oauth.c): used when the matching file is NULL. */
    const char *client_secret;        /* entra */
    const char *certificate_pem;      /* entra */
    const char *service_account_json; /* google */
    const char *token_url;            /* NULL: the provider's endpoint */
    const char *scope;                /* NULL: the provider's IMAP scope */
    const char *ca_file;              /* NULL: the system store */
    bool insecure;                    /* no certificate verification */
    long timeout_ms;                  /* 0: 30 s */
};

struct mf_config;
struct mf_oauth;
/* Reads one side's options from c ("<side>-oauth-provider",
 * "-token-file", "-tenant", "-client-id", "-client-secret-file",
 * "-certificate-file", "-service-account-file", "-token-url", and the
 * shared "ca-file" and "insecure") and makes *o_r; it stays NULL when
 * the side has no OAuth2 option. side is "source" or "target". */
MF_WARN_UNUSED mf_err mf_oauth_from_config(const struct mf_config *c,
                                           const char *side,
                                           struct mf_oauth **o_r,
                                           struct mf_error *err);
/* Fills *oc from one side's options as mf_oauth_from_config() reads
 * them, without reading any file; oc's strings are borrowed from c.
 * *given_r says whether the side has any OAuth2 option (oc is zeroed
 * when not). */
MF_WARN_UNUSED mf_err mf_oauth_config_read(const struct mf_config *c,
                                           const char *side,
                                           struct mf_oauth_config *oc,
                                           bool *given_r, struct mf_error *err);
/* The file that holds oc's secret material (client secret, certificate
 * and key, service-account key), or NULL (a token file has none). */
const char *mf_oauth_config_key_file(const struct mf_oauth_config *oc);
/* The provider that side's options name ("entra", "google",
 * "token-file"), or NULL when none: what a batch stores. */
const char *mf_oauth_config_provider(const struct mf_config *c,
                                     const char *side);

/* Parses a provider name ("entra", "google", "token-file"). */
bool mf_oauth_provider_parse(const char *s, enum mf_oauth_provider *p_r);
const char *mf_oauth_provider_name(enum mf_oauth_provider p);

struct mf_oauth;

/* Reads the secret, certificate or service-account files and checks
 * them; nothing goes over the network yet. */
MF_WARN_UNUSED mf_err mf_oauth_new(const struct mf_oauth_config *cfg,
                                   struct mf_oauth **o_r, struct mf_error *err);
void mf_oauth_free(struct mf_oauth **o);

/* A token for mailbox (its EmailAddress). fresh skips the cache (after
 * the server refused the cached one). *token_r is owned by the caller,
 * who frees it with mf_secret_free(). */
MF_WARN_UNUSED mf_err mf_oauth_token(struct mf_oauth *o, const char *mailbox,
                                     bool fresh, char **token_r,
                                     struct mf_error *err);
/* Whether the last token for mailbox came from the provider (a fresh
 * one may help after a refusal) rather than from a token file. */
bool mf_oauth_can_renew(const struct mf_oauth *o);
/* How many tokens were minted over HTTPS so far (tests, metrics). */
uint64_t mf_oauth_minted(struct mf_oauth *o);

/* What endpoint test shows about a token (a JWT's claims), never the
 * token itself. Fields stay empty / 0 when the token is opaque. */
struct mf_oauth_token_info {
    bool jwt;
    char audience[256];
    char scope[512]; /* "scp" or "scope", or "roles" for app-only */
    char subject[256];
    int64_t expires_at; /* "exp", seconds since the epoch, or 0 */
};
void mf_oauth_describe(const char *token, struct mf_oauth_token_info *info_r);
/* Whether the token is a JWT whose "exp" has passed (at now). */
bool mf_oauth_expired(const char *token, int64_t now);

/* The server's error in a SASL continuation (RFC 7628 section 3.2.2:
 * base64 of a JSON object with "status", "schemes", "scope"; XOAUTH2
 * servers send the same) as text for an error detail, for example
 * "status 401, schemes bearer, scope https://outlook.office.com/..."; ""
 * when b64 holds nothing readable. */
void mf_oauth_sasl_error_text(const char *b64, char *out, size_t cap);

/* The option table entries (struct mf_option, mailferry/args.h) that
 * mf_oauth_from_config() reads, for the programs' tables: OAuth2 for one
 * side ("source" or "target"), --<side>-oauth-token-file F, or
 * --<side>-oauth-provider entra|google with the provider's options. */
#define MF_OAUTH_SIDE_OPTIONS(side, who)                                       \
    {side "-oauth-token-file", true,                                           \
     who " OAuth2 bearer tokens: one token, or lines \"EmailAddress TOKEN\" "  \
         "(read again at each connection)"},                                   \
        {side "-oauth-provider", true,                                         \
         "mint " who " tokens: entra (client credentials) or google "          \
         "(service account)"},                                                 \
        {side "-oauth-tenant", true, "Entra tenant id or domain"},             \
        {side "-oauth-client-id", true, "Entra application (client) id"},      \
        {side "-oauth-client-secret-file", true,                               \
         "file holding the Entra client secret"},                              \
        {side "-oauth-certificate-file", true,                                 \
         "PEM file with the Entra app's certificate and private key"},         \
        {side "-oauth-service-account-file", true,                             \
         "Google service account JSON key (domain-wide delegation)"},          \
    {                                                                          \
        side "-oauth-token-url", true,                                         \
            "token endpoint instead of the provider's (sovereign clouds, "     \
            "tests)"                                                           \
    }
#define MF_OAUTH_OPTIONS                                                       \
    MF_OAUTH_SIDE_OPTIONS("source", "source"),                                 \
        MF_OAUTH_SIDE_OPTIONS("target", "target")

#endif
