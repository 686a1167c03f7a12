/*
 * One side's OAuth2 options from a struct mf_config (mailferry/oauth.h):
 * the same keys for the coordinator's commands and the worker.
 */
#include "oauth_int.h"

#include "mailferry/config.h"

#include <stdio.h>
#include <string.h>

static const char *
get(const struct mf_config *c, const char *side, const char *name) {
    char key[96];

    snprintf(key, sizeof(key), "%s-oauth-%s", side, name);
    return mf_config_get(c, key, NULL);
}

const char *
mf_oauth_config_provider(const struct mf_config *c, const char *side) {
    const char *p = get(c, side, "provider");

    if (p)
        return p;
    return get(c, side, "token-file") ? "token-file" : NULL;
}

mf_err
mf_oauth_config_read(const struct mf_config *c, const char *side,
                     struct mf_oauth_config *oc, bool *given_r,
                     struct mf_error *err) {
    const char *provider = mf_oauth_config_provider(c, side);
    bool insecure = false;
    mf_err rc;

    memset(oc, 0, sizeof(*oc));
    *given_r = provider != NULL;
    if (!provider)
        return MF_E_OK;
    if (!mf_oauth_provider_parse(provider, &oc->provider) ||
        oc->provider == MF_OAUTH_NONE)
        return mf_error_set(err, MF_E_USAGE,
                            "--%s-oauth-provider: unknown provider %s "
                            "(entra, google, token-file)",
                            side, provider);
    oc->token_file = get(c, side, "token-file");
    oc->tenant = get(c, side, "tenant");
    oc->client_id = get(c, side, "client-id");
    oc->client_secret_file = get(c, side, "client-secret-file");
    oc->certificate_file = get(c, side, "certificate-file");
    oc->service_account_file = get(c, side, "service-account-file");
    oc->token_url = get(c, side, "token-url");
    if (oc->provider == MF_OAUTH_TOKEN_FILE && !oc->token_file)
        return mf_error_set(err, MF_E_USAGE,
                            "--%s-oauth-provider token-file needs "
                            "--%s-oauth-token-file",
                            side, side);
    if ((rc = mf_config_get_bool(c, "insecure", false, &insecure, err)))
        return rc;
    oc->insecure = insecure;
    oc->ca_file = mf_config_get(c, "ca-file", NULL);
    return MF_E_OK;
}

const char *
mf_oauth_config_key_file(const struct mf_oauth_config *oc) {
    switch (oc->provider) {
    case MF_OAUTH_ENTRA:
        return oc->client_secret_file ? oc->client_secret_file
                                      : oc->certificate_file;
    case MF_OAUTH_GOOGLE:
        return oc->service_account_file;
    case MF_OAUTH_NONE:
    case MF_OAUTH_TOKEN_FILE:
        break;
    }
    return NULL;
}

mf_err
mf_oauth_from_config(const struct mf_config *c, const char *side,
                     struct mf_oauth **o_r, struct mf_error *err) {
    struct mf_oauth_config oc;
    bool given;
    mf_err rc;

    *o_r = NULL;
    if ((rc = mf_oauth_config_read(c, side, &oc, &given, err)) || !given)
        return rc;
    return mf_oauth_new(&oc, o_r, err);
}
