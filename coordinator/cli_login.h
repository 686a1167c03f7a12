/*
 * The option table entries that say how to log in to a server and what
 * kind of server it is, shared by the commands that take them (OAuth2,
 * profiles). Core reads them: mf_oauth_from_config() (mailferry/oauth.h),
 * mf_batchdef_profiles_read() (mailferry/batchdef.h) and, for the
 * commands that connect themselves, mf_direct_connect_read()
 * (mailferry/direct.h).
 */
#ifndef MF_CLI_LOGIN_H
#define MF_CLI_LOGIN_H

#include "cli.h"

/* OAuth2 for one side ("source" or "target"): --<side>-oauth-token-file F,
 * or --<side>-oauth-provider entra|google with the provider's options
 * (mf_oauth_from_config() reads them). */
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

#endif
