/* Internal interface of the jobs module (core/src/jobs). */
#ifndef MF_JOBS_INT_H
#define MF_JOBS_INT_H

#include "mailferry/jobs.h"
#include "mailferry/notify.h"

/* mf_jobs_produce_job() with an opaque pointer for the producer's
 * delivery callback (the service uses it to retry failed deliveries). */
MF_WARN_UNUSED mf_err mf__jobs_produce_job(const struct mf_jobs_ctx *c,
                                           const struct mf_batch_config *cfg,
                                           const char *batch, const char *topic,
                                           const struct mf_batch_job *job,
                                           void *msg_opaque,
                                           struct mf_error *err);

/* The batches the service has seen, for notifications (watch.c). Times
 * are monotonic seconds. mf__watch_state() announces a change of a batch
 * it knew (not its first sighting); mf__watch_stuck() announces, once
 * until it moves again, a running batch idle for stuck_after_s (0: never). */
struct mf__watch;
struct mf__watch *mf__watch_new(void);
void mf__watch_free(struct mf__watch **w);
void mf__watch_state(struct mf__watch *w, struct mf_notifier *n,
                     const char *batch, enum mf_batch_state state, int64_t now);
void mf__watch_activity(struct mf__watch *w, const char *batch, int64_t now);
void mf__watch_stuck(struct mf__watch *w, struct mf_notifier *n, int64_t now,
                     uint32_t stuck_after_s);
/* "mailbox.failed" or "mailbox.synced" for result r. */
void mf__notify_mailbox(struct mf_notifier *n, const char *event,
                        const struct mf_result *r);

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
