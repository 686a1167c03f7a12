/*
 * `endpoint test`'s options (mailferry/preflight.h, struct
 * mf_preflight_args): the endpoints, limits and secrets read from a
 * struct mf_config, the logins checked to go together. The program only
 * words the problem and picks the exit code from its kind.
 */
#include "mailferry/config.h"
#include "mailferry/oauth.h"
#include "mailferry/preflight.h"
#include "mailferry/profile.h"

#include <string.h>

/* Both endpoints and the values; a wrong URL is a wrong command line. */
static enum mf_preflight_args_problem
values_read(const struct mf_config *conf, struct mf_preflight_args *a,
            struct mf_error *err) {
    struct mf_preflight_options *so = &a->so;
    const char *profile = mf_config_get(conf, "target-profile", NULL);
    uint64_t n, secs;

    a->source = mf_config_get(conf, "source", NULL);
    a->target = mf_config_get(conf, "target", NULL);
    if (!a->source) {
        mf_error_set(err, MF_E_USAGE, "--source is needed");
        return MF_PREFLIGHT_ARGS_USAGE_LINE;
    }
    if (mf_endpoint_parse(a->source, &so->endpoint, err) ||
        (a->target && mf_endpoint_parse(a->target, &a->to.endpoint, err)))
        return MF_PREFLIGHT_ARGS_USAGE_LINE;
    if (mf_config_get_bool(conf, "insecure", false, &so->insecure, err) ||
        mf_config_get_u64(conf, "probe-connections", 0, 0, 10000, MF_UNIT_NONE,
                          &n, err) ||
        mf_config_get_u64(conf, "timeout", 15, 1, 3600, MF_UNIT_SECONDS, &secs,
                          err) ||
        (profile && mf_profile_find(profile, &a->tgt_profile, err)))
        return MF_PREFLIGHT_ARGS_USAGE;
    so->probe_connections = (unsigned)n;
    so->timeout_ms = (long)secs * 1000L;
    so->ca_file = mf_config_get(conf, "ca-file", NULL);
    so->admin_user = mf_config_get(conf, "admin", NULL);
    so->as_user = mf_config_get(conf, "as", NULL);
    so->user = mf_config_get(conf, "user", NULL);
    return MF_PREFLIGHT_ARGS_OK;
}

enum mf_preflight_args_problem
mf_preflight_args_read(const struct mf_config *conf,
                       struct mf_preflight_args *a, struct mf_error *err) {
    enum mf_preflight_args_problem p;
    struct mf_preflight_logins lg;

    memset(a, 0, sizeof(*a));
    if ((p = values_read(conf, a, err)) != MF_PREFLIGHT_ARGS_OK)
        return p;
    if (mf_config_get_secret(conf, "admin-password", &a->admin_pw, err) ||
        mf_config_get_secret(conf, "password", &a->user_pw, err) ||
        mf_config_get_secret(conf, "target-admin-password", &a->tadmin_pw,
                             err) ||
        mf_oauth_from_config(conf, "source", &a->src_oauth, err) ||
        mf_oauth_from_config(conf, "target", &a->dst_oauth, err))
        return MF_PREFLIGHT_ARGS_UNREADABLE;
    lg = (struct mf_preflight_logins){
        a->admin_pw,  a->user_pw,   a->tadmin_pw,
        a->src_oauth, a->dst_oauth, mf_config_get(conf, "target-admin", NULL)};
    if (mf_preflight_logins_set(&a->so, &a->to, &lg, err))
        return MF_PREFLIGHT_ARGS_USAGE;
    return MF_PREFLIGHT_ARGS_OK;
}

void
mf_preflight_args_free(struct mf_preflight_args *a) {
    mf_secret_free(&a->admin_pw);
    mf_secret_free(&a->user_pw);
    mf_secret_free(&a->tadmin_pw);
    mf_oauth_free(&a->src_oauth);
    mf_oauth_free(&a->dst_oauth);
}
