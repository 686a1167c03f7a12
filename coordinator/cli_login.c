/* Endpoint and login options (cli_login.h). */
#include "mailferry/profile.h"
#include "cli_login.h"

#include "mailferry/config.h"
#include "mailferry/jobs.h"
#include "mailferry/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
cli_admin_read(struct cli *cli, const char *prefix, struct cli_admin *ad,
               struct mf_error *err) {
    char key[64];

    memset(ad, 0, sizeof(*ad));
    snprintf(key, sizeof(key), "%sadmin", prefix);
    ad->user = mf_config_get(cli->config, key, NULL);
    snprintf(key, sizeof(key), "%sadmin-login-format", prefix);
    ad->format = mf_config_get(cli->config, key, NULL);
    if (!ad->user)
        return true;
    snprintf(key, sizeof(key), "%sadmin-password", prefix);
    if (mf_config_get_secret(cli->config, key, &ad->password, err))
        return false;
    if (!ad->password) {
        mf_error_set(err, MF_E_USAGE, "--%sadmin needs --%s-file", prefix, key);
        return false;
    }
    return true;
}

void
cli_admin_clear(struct cli_admin *ad) {
    mf_secret_free(&ad->password);
}

bool
cli_server_read(struct cli *cli, const char *key, bool required,
                struct mf_migrate_server *s, bool *given_r,
                struct mf_error *err) {
    const char *url = mf_config_get(cli->config, key, NULL);
    bool insecure = false;
    uint64_t secs = 0;

    memset(s, 0, sizeof(*s));
    if (given_r)
        *given_r = url != NULL;
    if (!url) {
        if (required)
            mf_error_set(err, MF_E_USAGE, "--%s URL is required", key);
        return !required;
    }
    if (mf_endpoint_parse(url, &s->endpoint, err) != MF_E_OK ||
        mf_config_get_bool(cli->config, "insecure", false, &insecure, err))
        return false;
    s->insecure = insecure;
    if (mf_config_get_u64(cli->config, "command-timeout",
                          MF_MIGRATE_DEFAULT_COMMAND_TIMEOUT_S, 1, 86400,
                          MF_UNIT_SECONDS, &secs, err) != MF_E_OK)
        return false;
    s->command_timeout_ms = (long)secs * 1000L;
    s->ca_file = mf_config_get(cli->config, "ca-file", NULL);
    s->bind_address = mf_config_get(cli->config, "bind-address", NULL);
    return true;
}

struct mf_jobs_direct_side
cli_admin_side(const struct cli_admin *ad, struct mf_oauth *o) {
    return (struct mf_jobs_direct_side){ad->user, ad->password, ad->format, o};
}

bool
cli_oauth_read(struct cli *cli, const char *side, struct mf_oauth **o_r,
               struct mf_error *err) {
    return mf_oauth_from_config(cli->config, side, o_r, err) == MF_E_OK;
}
