/*
 * The command-line pieces that say how to reach and log in to a server,
 * shared by the commands that connect themselves (`migrate --direct`,
 * `plan`): the endpoint with its TLS options, the admin credentials, and
 * the side they make for one mailbox's logins (mf_jobs_direct_logins(),
 * the rule the jobs use).
 */
#ifndef MF_CLI_LOGIN_H
#define MF_CLI_LOGIN_H

#include "cli.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"

#include <stdbool.h>

/* --admin USER --admin-password-file F --admin-login-format FMT (or the
 * target- variants). */
struct cli_admin {
    const char *user;   /* NULL: no admin */
    char *password;     /* owned secret: free with cli_admin_clear() */
    const char *format; /* "sasl" (or NULL) or a template */
};

/* Reads the admin options with prefix "" or "target-". False with err
 * set when --admin is given without a readable password file. */
bool cli_admin_read(struct cli *cli, const char *prefix, struct cli_admin *ad,
                    struct mf_error *err);
/* Wipes and frees the password. */
void cli_admin_clear(struct cli_admin *ad);

/* Reads --<key> URL with --ca-file, --insecure and --bind-address into s.
 * *given_r (may be NULL) says whether the URL was there; a missing one is
 * an error only when required. */
bool cli_server_read(struct cli *cli, const char *key, bool required,
                     struct mf_migrate_server *s, bool *given_r,
                     struct mf_error *err);

struct mf_oauth;

/* The side the admin ad and the OAuth2 token source o (NULL: none) make,
 * for mf_jobs_direct_logins(); borrows both. */
struct mf_jobs_direct_side cli_admin_side(const struct cli_admin *ad,
                                          struct mf_oauth *o);

/* OAuth2 for one side ("source" or "target"): --<side>-oauth-token-file F,
 * or --<side>-oauth-provider entra|google with the provider's options
 * (cli_login.c reads them into struct mf_oauth_config). */
#define CLI_OAUTH_SIDE_OPTIONS(side, who)                                      \
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
#define CLI_OAUTH_OPTIONS                                                      \
    CLI_OAUTH_SIDE_OPTIONS("source", "source"),                                \
        CLI_OAUTH_SIDE_OPTIONS("target", "target")

/* --source-profile and --target-profile (mailferry/profile.h), for the
 * option tables of the commands that connect. */
#define CLI_PROFILE_OPTIONS                                                    \
    {"source-profile", true,                                                   \
     "the source server's kind: generic (default), exchange-online, "          \
     "exchange-onprem, gmail, dovecot or cyrus (docs/profiles.md)"},           \
    {                                                                          \
        "target-profile", true, "the target server's kind, same words"         \
    }

/* Reads side's OAuth2 options; *o_r stays NULL when none is given. The
 * secret, certificate and key files are read and checked here. */
bool cli_oauth_read(struct cli *cli, const char *side, struct mf_oauth **o_r,
                    struct mf_error *err);
#endif
