/* Internal interface of the jobs module (core/src/jobs). */
#ifndef MF_JOBS_INT_H
#define MF_JOBS_INT_H

#include "mailferry/jobs.h"

/* ---- build.c: what a job's secret is bound to ------------------------ */

/* Appends ";name=<len>:value" (NULL reads as ""). */
void mf__jobs_bind_put(struct mf_buf *b, const char *name, const char *v);
/* The purpose a job's secret is sealed for (build.c explains); new
 * string. */
char *mf__jobs_bound_purpose(const struct mf_batch_config *cfg,
                             const struct mf_job *j,
                             const struct mf_job_credentials *c,
                             const char *purpose);
/* Opens a stored blob sealed for (batch, mailbox, stored_purpose). */
MF_WARN_UNUSED mf_err mf__jobs_open_stored(
    const struct mf_crypto_keyring *kr, const char *batch, const char *mailbox,
    const struct mf_batch_blob *blob, const char *stored_purpose,
    struct mf_crypto_secret **clear_r, struct mf_error *err);

/* Seals *clear (then wiped and freed) into c->password for job j, bound
 * to it (mf__jobs_bound_purpose()), and sets c->has_password. */
MF_WARN_UNUSED mf_err mf__jobs_seal_for_job(
    const struct mf_crypto_keyring *kr, const struct mf_batch_config *cfg,
    const struct mf_job *j, const char *purpose, struct mf_job_credentials *c,
    struct mf_crypto_secret **clear, struct mf_error *err);

/* ---- oauth.c: OAuth2 sides -------------------------------------------- */

/* Appends o's non-secret settings (provider, tenant, client id, token
 * URL, scope, token file, key kind) to a binding text. */
void mf__jobs_oauth_bind(struct mf_buf *b, const struct mf_batch_oauth *o);
/* One OAuth2 side's credentials of job j, whose login c already holds
 * (mf_jobs_side_login()): oauth set, and the side's key (or, for a token file,
 * its path) opened and sealed again bound to the job. */
MF_WARN_UNUSED mf_err mf__jobs_oauth_credentials(
    const struct mf_crypto_keyring *kr, const struct mf_batch_config *cfg,
    const struct mf_job *j, const char *purpose, struct mf_job_credentials *c,
    struct mf_error *err);

#endif
