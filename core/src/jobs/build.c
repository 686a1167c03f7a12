/*
 * Building jobs (docs/design.md §10): logins and sealed passwords for one job
 * of one mailbox, from the batch configuration and the mailbox record,
 * ready for the jobs topic.
 *
 * The only clear text here is a password (the admin's or the mailbox's
 * own), opened from its stored blob and sealed again at once for the
 * job: bound to the batch, the mailbox, the side, and the login,
 * authzid, OAuth flag, batch generation and endpoints the job carries
 * (mf__jobs_bound_purpose()), so that an envelope changed on its way to a
 * worker does not open. It lives in a struct mf_crypto_secret that wipes
 * itself. Everything a struct mf_job holds is owned
 * by it and released by mf_jobs_job_clear().
 */
#include "jobs/jobs_int.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Blobs                                                              */
/* ------------------------------------------------------------------ */

mf_err
mf_jobs_seal_blob(const struct mf_crypto_keyring *kr, const char *batch,
                  const char *mailbox, const char *purpose, const void *secret,
                  size_t len, struct mf_batch_blob *blob_r,
                  struct mf_error *err) {
    struct mf_sealed_secret s;
    uint8_t *buf;
    size_t n;
    mf_err rc;

    if ((rc =
             mf_crypto_seal(kr, batch, mailbox, purpose, secret, len, &s, err)))
        return rc;
    rc = mf_sealed_secret_pack(&s, &buf, &n, err);
    mf_sealed_secret_clear(&s);
    if (rc)
        return rc;
    blob_r->data = buf;
    blob_r->len = n;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Jobs                                                               */
/* ------------------------------------------------------------------ */

void
mf_jobs_job_clear(struct mf_job *j) {
    struct mf_envelope env;

    /* The envelope owns a job exactly as we do: let it free one. */
    memset(&env, 0, sizeof(env));
    env.body = MF_ENVELOPE_JOB;
    env.job = *j;
    mf_envelope_clear(&env);
    memset(j, 0, sizeof(*j));
}

static mf_err
unpack_blob(const struct mf_batch_blob *b, struct mf_sealed_secret *s_r,
            const char *what, struct mf_error *err) {
    mf_err rc = mf_sealed_secret_unpack(b->data, b->len, s_r, err);
    if (rc) {
        struct mf_error e = *err;
        mf_error_set(err, rc, "stored %s: %s", what, e.detail);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* What a job's secret is bound to                                    */
/* ------------------------------------------------------------------ */

void
mf__jobs_bind_put(struct mf_buf *b, const char *name, const char *v) {
    if (!v)
        v = "";
    mf_buf_appendf(b, ";%s=%zu:", name, strlen(v));
    mf_buf_append_str(b, v);
}

/* The purpose a job's secret is sealed for: the side ("source",
 * "target") followed by everything of the job that says where and as
 * whom the secret is used. Each value is length-prefixed, so no two
 * different jobs give the same text. The crypto module binds this text
 * as associated data (with batch and mailbox), so an envelope whose
 * login, authzid, OAuth flag, generation, endpoints, window or fingerprint
 * mode were changed after sealing fails to open (MF_E_DECRYPT). One function
 * for the coordinator that seals and the worker that opens: the rule exists
 * once. */
char *
mf__jobs_bound_purpose(const struct mf_batch_config *cfg,
                       const struct mf_job *j,
                       const struct mf_job_credentials *c,
                       const char *purpose) {
    struct mf_buf b = {0};

    mf_buf_append_str(&b, purpose);
    mf_buf_append_str(&b, "/job.v2");
    mf__jobs_bind_put(&b, "login", c->login);
    mf__jobs_bind_put(&b, "authzid", c->authorization_id);
    mf__jobs_bind_put(&b, "oauth", c->oauth ? "1" : "0");
    mf_buf_appendf(&b, ";generation=%" PRIu64, j->batch_generation);
    mf__jobs_bind_put(&b, "source", cfg->source);
    mf__jobs_bind_put(&b, "target", cfg->target);
    mf__jobs_bind_put(&b, "ca", cfg->ca_file);
    mf__jobs_bind_put(&b, "insecure", cfg->insecure ? "1" : "0");
    /* The UserRoot picks whose folders an admin login reads. */
    mf__jobs_bind_put(&b, "root", j->user_root);
    /* The window decides which mail a pass leaves behind. Jobs made
     * before jobs carried one were sealed without it. */
    if (j->has_window)
        mf_buf_appendf(&b, ";window=%" PRIu32 "-%" PRIu32, j->window.since,
                       j->window.before);
    /* The fingerprint mode decides what a retry takes as already copied
     * (a duplicate or a loss if forged). Jobs made before jobs carried
     * one were sealed without it. */
    if (j->fingerprint && *j->fingerprint)
        mf__jobs_bind_put(&b, "fp", j->fingerprint);
    /* An OAuth2 side: also where its tokens come from (oauth.c). */
    if (c->oauth)
        mf__jobs_oauth_bind(&b, mf_jobs_oauth_side(cfg, purpose));
    mf_buf_append(&b, "", 1);
    return (char *)b.data;
}

mf_err
mf_jobs_open_secret(const struct mf_crypto_keyring *kr,
                    const struct mf_batch_config *cfg, const struct mf_job *j,
                    const char *purpose, struct mf_crypto_secret **secret_r,
                    struct mf_error *err) {
    const struct mf_job_credentials *c =
        strcmp(purpose, MF_JOBS_PURPOSE_SOURCE) == 0 ? &j->source : &j->target;
    char *bound = mf__jobs_bound_purpose(cfg, j, c, purpose);
    mf_err rc = mf_crypto_open(kr, j->batch, j->mailbox, bound, &c->password,
                               secret_r, err);

    free(bound);
    return rc;
}

/* Opens a stored blob sealed for (batch, mailbox, stored_purpose). */
mf_err
mf__jobs_open_stored(const struct mf_crypto_keyring *kr, const char *batch,
                     const char *mailbox, const struct mf_batch_blob *blob,
                     const char *stored_purpose,
                     struct mf_crypto_secret **clear_r, struct mf_error *err) {
    struct mf_sealed_secret stored;
    mf_err rc;

    if ((rc = unpack_blob(blob, &stored, stored_purpose, err)))
        return rc;
    rc = mf_crypto_open(kr, batch, mailbox, stored_purpose, &stored, clear_r,
                        err);
    mf_sealed_secret_clear(&stored);
    return rc;
}

mf_err
mf__jobs_seal_for_job(const struct mf_crypto_keyring *kr,
                      const struct mf_batch_config *cfg, const struct mf_job *j,
                      const char *purpose, struct mf_job_credentials *c,
                      struct mf_crypto_secret **clear, struct mf_error *err) {
    char *bound = mf__jobs_bound_purpose(cfg, j, c, purpose);
    mf_err rc = mf_crypto_seal(kr, j->batch, j->mailbox, bound, (*clear)->data,
                               (*clear)->len, &c->password, err);

    free(bound);
    mf_crypto_secret_free(clear);
    if (rc)
        return rc;
    c->has_password = true;
    return MF_E_OK;
}

/* One side's credentials: the login by mf_jobs_side_login(), and its
 * secret (the admin's password, the mailbox's own, or the OAuth2 key)
 * opened and sealed again, bound to the job (mf__jobs_bound_purpose()). */
static mf_err
side(const struct mf_crypto_keyring *kr, const struct mf_batch_config *cfg,
     const struct mf_job *j, const struct mf_batch_mailbox_cfg *mb, bool target,
     struct mf_job_credentials *c, struct mf_error *err) {
    const char *purpose =
        target ? MF_JOBS_PURPOSE_TARGET : MF_JOBS_PURPOSE_SOURCE;
    const char *admin_purpose =
        target ? MF_JOBS_PURPOSE_TARGET_ADMIN : MF_JOBS_PURPOSE_SOURCE_ADMIN;
    const struct mf_batch_blob *admin_pw =
        target ? &cfg->target_admin_password : &cfg->admin_password;
    const struct mf_batch_blob *own_pw =
        target ? &mb->target_password : &mb->password;
    struct mf_jobs_side sd = {
        .admin = target ? cfg->target_admin_user : cfg->admin_user,
        .admin_format =
            target ? cfg->target_admin_login_format : cfg->admin_login_format,
        .oauth = mf_jobs_oauth_side(cfg, purpose) != NULL,
    };
    struct mf_jobs_names names = {mb->email, mb->user, mb->target_user};
    struct mf_crypto_secret *clear = NULL;
    struct mf_jobs_login lg;
    mf_err rc = MF_E_OK;

    mf_jobs_side_login(&sd, target, &names, &lg);
    c->login = lg.login;
    c->authorization_id = lg.authzid;
    switch (lg.secret) {
    case MF_JOBS_SECRET_OAUTH:
        return mf__jobs_oauth_credentials(kr, cfg, j, purpose, c, err);
    case MF_JOBS_SECRET_ADMIN:
        if (!admin_pw->len)
            return mf_error_set(err, MF_E_STATE,
                                "batch %s has no %s password stored", j->batch,
                                admin_purpose);
        rc = mf__jobs_open_stored(kr, j->batch, "", admin_pw, admin_purpose,
                                  &clear, err);
        break;
    case MF_JOBS_SECRET_OWN:
        if (!own_pw->len)
            return mf_error_set(err, MF_E_STATE,
                                "mailbox %s has no %s password stored",
                                j->mailbox, purpose);
        rc = mf__jobs_open_stored(kr, j->batch, j->mailbox, own_pw, purpose,
                                  &clear, err);
        break;
    }
    if (rc)
        return rc;
    return mf__jobs_seal_for_job(kr, cfg, j, purpose, c, &clear, err);
}

uint64_t
mf_jobs_batch_generation(const struct mf_batch_config *cfg) {
    /* Batches created before generations were random have none: their
     * creation second stays their generation, so the jobs already sealed
     * for them still open and claim. */
    if (cfg->generation)
        return cfg->generation;
    return (uint64_t)(cfg->created > 0 ? cfg->created : 0);
}

/* The batch's fingerprint mode: its --fingerprint (checked when it was
 * stored), else its target profile's. */
static const char *
job_fingerprint(const struct mf_batch_config *cfg) {
    enum mf_profile_fingerprint mode = MF_PROFILE_FP_STRICT;
    bool set = false;
    struct mf_error ignored;

    if (mf_profile_fingerprint_parse(cfg->fingerprint, &mode, &set, &ignored) !=
        MF_E_OK)
        set = false;
    return mf_profile_fingerprint_name(mf_profile_fingerprint_mode(
        mf_profile_or_generic(cfg->target_profile), set, mode));
}

mf_err
mf_jobs_build(const struct mf_crypto_keyring *kr,
              const struct mf_batch_config *cfg,
              const struct mf_batch_mailbox_cfg *mb,
              const struct mf_batch_job *job, struct mf_job *job_r,
              struct mf_error *err) {
    struct mf_job j;
    mf_err rc;

    memset(&j, 0, sizeof(j));
    j.batch = mf_xstrdup(cfg->name);
    j.mailbox = mf_xstrdup(mb->email);
    j.job_id = mf_xstrdup(job->job_id);
    j.attempt = job->attempt;
    j.kind = job->kind;
    j.pass = job->pass;
    j.user_root = mf_xstrdup(mb->user_root ? mb->user_root : "");
    /* A batch removed and created again under the same name is a new
     * generation: a worker can tell its jobs from stale ones. */
    j.batch_generation = mf_jobs_batch_generation(cfg);
    j.source_profile =
        mf_xstrdup(cfg->source_profile ? cfg->source_profile : "");
    j.target_profile =
        mf_xstrdup(cfg->target_profile ? cfg->target_profile : "");
    /* The window as the batch has it now: `batch set --since` reaches
     * the next pass through its jobs, and a worker's cached batch record
     * cannot hold an older one. */
    j.has_window = true;
    j.window = cfg->window;
    /* The mode too, so that every worker recognises messages as the
     * batch chose, whatever batch record it has cached. */
    j.fingerprint = mf_xstrdup(job_fingerprint(cfg));

    rc = side(kr, cfg, &j, mb, false, &j.source, err);
    if (rc == MF_E_OK)
        rc = side(kr, cfg, &j, mb, true, &j.target, err);
    if (rc) {
        mf_jobs_job_clear(&j);
        return rc;
    }
    *job_r = j;
    return MF_E_OK;
}
