/*
 * OAuth2 sides of a batch's jobs (jobs.h, docs/design.md §10, docs/design.md
 * "OAuth2 in batches and jobs").
 *
 * A batch stores per side the non-secret OAuth2 settings (provider,
 * tenant, client id, token URL, scope, token file) in clear and the
 * secret material (a client secret, a certificate with its key, a
 * service account's JSON key) sealed, read from its file once by `batch
 * create` or `migrate`: exactly as passwords are. The stored key is
 * sealed for (batch, "", "<side>-oauth") with the settings appended to
 * the purpose (oauth_purpose()), so a batch record changed in Redis to
 * send the key to another token endpoint does not open.
 *
 * A job of an OAuth2 side carries the mailbox's EmailAddress as its
 * login, oauth set, and the key opened and sealed again for the job with
 * the binding every job secret has (mf__jobs_bound_purpose(), which for
 * an OAuth2 side adds the settings once more). A token file has no key:
 * its path is sealed instead, so the job still opens only unchanged, and
 * the worker reads the file at every new connection (an outside
 * refresher may rotate it). Tokens themselves never go into Redis or
 * Kafka: the worker mints them and keeps them in memory
 * (core/src/worker/oauthreg.c).
 */
#include "jobs/jobs_int.h"

#include "mailferry/config.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct mf_batch_oauth *
mf_jobs_oauth_side(const struct mf_batch_config *cfg, const char *purpose) {
    const struct mf_batch_oauth *o = strcmp(purpose, MF_JOBS_PURPOSE_TARGET)
                                         ? &cfg->source_oauth
                                         : &cfg->target_oauth;

    return o->provider && *o->provider ? o : NULL;
}

void
mf__jobs_oauth_bind(struct mf_buf *b, const struct mf_batch_oauth *o) {
    if (!o)
        return;
#define BIND(member) mf__jobs_bind_put(b, "oauth." #member, o->member);
    MF_BATCH_OAUTH_TEXT(BIND)
#undef BIND
}

/* What the stored key is sealed for: "<side>-oauth" and the settings. */
static char *
oauth_purpose(const char *purpose, const struct mf_batch_oauth *o) {
    struct mf_buf b = {0};

    mf_buf_appendf(&b, "%s-oauth/v1", purpose);
    mf__jobs_oauth_bind(&b, o);
    mf_buf_append(&b, "", 1);
    return (char *)b.data;
}

mf_err
mf_jobs_oauth_seal(const struct mf_crypto_keyring *kr, const char *batch,
                   const char *purpose, struct mf_batch_oauth *o,
                   const void *material, size_t len, struct mf_error *err) {
    char *p = oauth_purpose(purpose, o);
    mf_err rc =
        mf_jobs_seal_blob(kr, batch, "", p, material, len, &o->key, err);

    free(p);
    return rc;
}

mf_err
mf__jobs_oauth_credentials(const struct mf_crypto_keyring *kr,
                           const struct mf_batch_config *cfg,
                           const struct mf_job *j, const char *purpose,
                           struct mf_job_credentials *c, struct mf_error *err) {
    const struct mf_batch_oauth *o = mf_jobs_oauth_side(cfg, purpose);
    struct mf_crypto_secret *clear = NULL;
    char *p;
    mf_err rc;

    c->oauth = true;
    if (o->key.len) {
        p = oauth_purpose(purpose, o);
        rc = mf__jobs_open_stored(kr, j->batch, "", &o->key, p, &clear, err);
        free(p);
        if (rc)
            return rc;
    } else if (o->token_file && *o->token_file) {
        clear = mf_xcalloc(1, sizeof(*clear));
        clear->len = strlen(o->token_file);
        clear->data = (uint8_t *)mf_xstrdup(o->token_file);
    } else {
        return mf_error_set(err, MF_E_STATE,
                            "batch %s has no %s OAuth2 key or token file "
                            "stored",
                            j->batch, purpose);
    }
    return mf__jobs_seal_for_job(kr, cfg, j, purpose, c, &clear, err);
}

mf_err
mf_jobs_oauth_new(const struct mf_batch_config *cfg, const char *purpose,
                  const struct mf_crypto_secret *secret, struct mf_oauth **o_r,
                  struct mf_error *err) {
    const struct mf_batch_oauth *o = mf_jobs_oauth_side(cfg, purpose);
    const char *text = (const char *)secret->data;
    struct mf_oauth_config oc = {0};
    const char *kind;

    if (!o)
        return mf_error_set(err, MF_E_CONFIG,
                            "the batch has no OAuth2 settings for the %s",
                            purpose);
    if (!mf_oauth_provider_parse(o->provider, &oc.provider))
        return mf_error_set(err, MF_E_CONFIG,
                            "the batch's %s OAuth2 provider %s is unknown",
                            purpose, o->provider);
    kind = o->key_kind ? o->key_kind : "";
    oc.tenant = o->tenant;
    oc.client_id = o->client_id;
    oc.token_url = o->token_url;
    oc.scope = o->scope;
    oc.ca_file = cfg->ca_file && *cfg->ca_file ? cfg->ca_file : NULL;
    oc.insecure = cfg->insecure;
    if (oc.provider == MF_OAUTH_TOKEN_FILE)
        oc.token_file = text; /* the sealed path (see the top) */
    else if (strcmp(kind, "client-secret") == 0)
        oc.client_secret = text;
    else if (strcmp(kind, "certificate") == 0)
        oc.certificate_pem = text;
    else if (strcmp(kind, "service-account") == 0)
        oc.service_account_json = text;
    else
        return mf_error_set(err, MF_E_CONFIG,
                            "the batch's %s OAuth2 key kind \"%s\" is "
                            "unknown",
                            purpose, kind);
    return mf_oauth_new(&oc, o_r, err);
}

static char *
dup_or_null(const char *s) {
    return s && *s ? mf_xstrdup(s) : NULL;
}

mf_err
mf_jobs_oauth_define(const struct mf_crypto_keyring *kr, const char *batch,
                     const char *purpose, const struct mf_oauth_config *oc,
                     struct mf_batch_oauth *o, struct mf_error *err) {
    const char *file = mf_oauth_config_key_file(oc);
    char *material = NULL;
    mf_err rc;

    memset(o, 0, sizeof(*o));
    o->provider = mf_xstrdup(mf_oauth_provider_name(oc->provider));
    o->tenant = dup_or_null(oc->tenant);
    o->client_id = dup_or_null(oc->client_id);
    o->token_url = dup_or_null(oc->token_url);
    o->scope = dup_or_null(oc->scope);
    if (oc->provider == MF_OAUTH_TOKEN_FILE) {
        /* Read by the workers at each connection: an absolute path, so
         * that it means the same file wherever they run. */
        o->token_file = mf_xstrdup(oc->token_file);
        if (oc->token_file[0] != '/')
            return mf_error_set(err, MF_E_USAGE,
                                "--%s-oauth-token-file must be an absolute "
                                "path (workers read it): %s",
                                purpose, oc->token_file);
        return MF_E_OK;
    }
    o->key_kind = mf_xstrdup(oc->provider == MF_OAUTH_GOOGLE ? "service-account"
                             : oc->client_secret_file        ? "client-secret"
                                                             : "certificate");
    if (!kr || !file)
        return MF_E_OK;
    if ((rc = mf_secret_read_file(file, &material, err)))
        return rc;
    rc = mf_jobs_oauth_seal(kr, batch, purpose, o, material, strlen(material),
                            err);
    mf_secret_free(&material);
    return rc;
}
