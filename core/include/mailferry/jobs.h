/*
 * Jobs (docs/design.md §3, §4, §6, §10): the code
 * between the batch records in Redis (batch.h) and the Kafka topics
 * (kafka.h, envelope.h), kept in the library so that `mailferry serve`,
 * the `mailferry batch ...` commands and the embedded `mailferry migrate`
 * share it.
 *
 * Credentials (docs/design.md §10). The store only holds sealed secrets
 * (crypto.h), serialised with mf_sealed_secret_pack():
 *
 *   mailbox password          sealed for (batch, email, "source")
 *   mailbox target password   sealed for (batch, email, "target"); also
 *                             the source password re-sealed for the
 *                             target when the target logs in as the user
 *   source admin password     sealed for (batch, "", "source-admin")
 *   target admin password     sealed for (batch, "", "target-admin")
 *
 * Every job secret (the mailbox's own password or the admin's) is opened
 * and sealed again for the job, with a fresh data key, bound to the
 * batch, the mailbox, the side ("source" or "target") and to what the
 * job says about its use: the login, the authzid, the OAuth flag, the
 * batch generation, and the batch's endpoints, CA file and insecure flag.
 * So whoever can produce to the jobs topic cannot send a real secret to
 * another user, mailbox or server: the worker's mf_jobs_open_secret()
 * fails (MF_E_DECRYPT). Workers never see an admin secret that would
 * open for another mailbox. Clear text exists
 * only inside mf_jobs_build() and mf_jobs_seal_blob() and is wiped there.
 *
 * Logins: mf_jobs_side_login() (core/src/jobs/login.c) is the one rule
 * for which login and which secret each side of a mailbox uses.
 *
 * The coordinator service that consumes the results is service.h.
 */
#ifndef MAILFERRY_JOBS_H
#define MAILFERRY_JOBS_H

#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/err.h"
#include "mailferry/kafka.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_JOBS_PURPOSE_SOURCE "source"
#define MF_JOBS_PURPOSE_TARGET "target"
#define MF_JOBS_PURPOSE_SOURCE_ADMIN "source-admin"
#define MF_JOBS_PURPOSE_TARGET_ADMIN "target-admin"
#define MF_JOBS_LOGIN_FORMAT_SASL "sasl"
#define MF_JOBS_GROUP_DEFAULT "mailferry-coordinator"

/* ------------------------------------------------------------------ */
/* Credentials and jobs                                               */
/* ------------------------------------------------------------------ */

/* Seals secret (len bytes) for (batch, mailbox, purpose) and serialises
 * it into *blob_r, a new blob to release with mf_batch_blob_free(). Use ""
 * as mailbox for an admin secret. Errors as mf_crypto_seal(). */
MF_WARN_UNUSED mf_err mf_jobs_seal_blob(const struct mf_crypto_keyring *kr,
                                        const char *batch, const char *mailbox,
                                        const char *purpose, const void *secret,
                                        size_t len,
                                        struct mf_batch_blob *blob_r,
                                        struct mf_error *err);

/* Whether fmt is a valid admin login format: NULL, "sasl", or a template
 * that names {user} and uses no placeholder but {user}, {admin} and
 * {domain}. On false, err says why (MF_E_USAGE). */
bool mf_jobs_login_format_valid(const char *fmt, struct mf_error *err);

/* How one side of a mailbox is configured to log in (borrowed strings). */
struct mf_jobs_side {
    const char *admin;        /* NULL or "": no admin */
    const char *admin_format; /* NULL: "sasl" */
    bool oauth;               /* OAuth2 tokens instead of passwords */
};

/* A mailbox's names as its CSV row gives them (borrowed; the optional
 * ones NULL or "" when absent). */
struct mf_jobs_names {
    const char *email;       /* EmailAddress */
    const char *user;        /* UserName */
    const char *target_user; /* TargetUserName */
};

/* Which secret a login uses. */
enum mf_jobs_secret {
    MF_JOBS_SECRET_OWN,   /* the mailbox's own password on that side */
    MF_JOBS_SECRET_ADMIN, /* the side's admin password */
    MF_JOBS_SECRET_OAUTH, /* an OAuth2 token for the mailbox */
};

struct mf_jobs_login {
    char *login;   /* owned */
    char *authzid; /* owned; "" when none */
    enum mf_jobs_secret secret;
};

/* The login of one side (the source, or the target when target is true)
 * of the mailbox names, by the one rule every path uses (login.c
 * explains it). *lg_r is overwritten; release it with
 * mf_jobs_login_clear(). */
void mf_jobs_side_login(const struct mf_jobs_side *side, bool target,
                        const struct mf_jobs_names *names,
                        struct mf_jobs_login *lg_r);
/* Frees lg's strings and zeroes it. */
void mf_jobs_login_clear(struct mf_jobs_login *lg);
/* The target's own password: TargetPassword, else Password, else NULL
 * (borrowed from the arguments). */
const char *mf_jobs_target_password(const char *target_password,
                                    const char *password);

/* One side as a process that connects to the servers itself holds it
 * (`migrate --direct`, `verify`, `plan`, `batch create --dry-run`): the
 * admin with its clear password, and the OAuth2 token source. Borrowed. */
struct mf_oauth;
struct mf_migrate_login;
struct mf_csv_mailbox;
struct mf_jobs_direct_side {
    const char *admin;          /* NULL: no admin */
    const char *admin_password; /* clear, or NULL */
    const char *admin_format;   /* NULL: "sasl" */
    struct mf_oauth *oauth;     /* NULL: passwords */
};

/* A mailbox's names and clear passwords, as its CSV row gives them
 * (borrowed). */
struct mf_jobs_direct_mailbox {
    struct mf_jobs_names names;
    const char *user_root;       /* source only; NULL: none */
    const char *password;        /* Password */
    const char *target_password; /* TargetPassword; NULL: Password */
};

/* The mailbox of a CSV row (borrowing the row's strings). */
void mf_jobs_direct_mailbox_csv(const struct mf_csv_mailbox *row,
                                struct mf_jobs_direct_mailbox *mb_r);

/* Both logins of mailbox mb, connected from this process, by the rule of
 * mf_jobs_side_login() with sides[0] for the source and sides[1] for the
 * target (core/src/jobs/connect_login.c). *src and *dst are overwritten
 * and borrow from sides, mb and owned[4], which receives the strings to
 * free afterwards (free() each). */
void mf_jobs_direct_logins(const struct mf_jobs_direct_side sides[2],
                           const struct mf_jobs_direct_mailbox *mb,
                           struct mf_migrate_login *src,
                           struct mf_migrate_login *dst, char *owned[4]);

/* Builds the job envelope body for one job of a mailbox: ids from job,
 * logins and sealed passwords from the batch configuration and the
 * mailbox record as described at the top of this file. *job_r is
 * overwritten; on success the caller releases it (as the job of an
 * envelope: mf_envelope_clear(), or mf_jobs_job_clear()). Errors:
 * MF_E_ENVELOPE (a stored blob does not parse), MF_E_STATE (a needed
 * password is missing), and those of mf_crypto_open()/_seal(). */
MF_WARN_UNUSED mf_err mf_jobs_build(const struct mf_crypto_keyring *kr,
                                    const struct mf_batch_config *cfg,
                                    const struct mf_batch_mailbox_cfg *mb,
                                    const struct mf_batch_job *job,
                                    struct mf_job *job_r, struct mf_error *err);
/* The batch's generation, as its jobs carry it (batch_generation): a
 * batch removed and created again under the same name is another. */
uint64_t mf_jobs_batch_generation(const struct mf_batch_config *cfg);

/* One side's server of a batch as the engine takes it (the target's when
 * target is true): its URL parsed, the batch's CA file and insecure flag,
 * bind_address (borrowed, may be NULL). MF_E_CONFIG, naming the side,
 * when the batch has no such server or its URL does not parse. */
struct mf_migrate_server;
MF_WARN_UNUSED mf_err mf_jobs_batch_server(const struct mf_batch_config *cfg,
                                           bool target,
                                           const char *bind_address,
                                           struct mf_migrate_server *s,
                                           struct mf_error *err);
/* A batch side's caps as the engine's connection limits. */
struct mf_caps_limits;
void mf_jobs_batch_caps(const struct mf_batch_caps *bc,
                        struct mf_caps_limits *l);
/* Both sides' caps (source src, target dst) as the engine's: connection
 * limits and bandwidth into caps, whose other fields are left alone.
 * Returns whether any cap is set (then leases are taken). */
struct mf_migrate_caps;
bool mf_jobs_migrate_caps(const struct mf_batch_caps *src,
                          const struct mf_batch_caps *dst,
                          struct mf_migrate_caps *caps);

/* Opens one side's secret of a job (purpose MF_JOBS_PURPOSE_SOURCE or
 * _TARGET) as the worker must: with the batch configuration the worker
 * runs the job with. The secret opens only if the job's login, authzid,
 * OAuth flag and batch generation and cfg's endpoints, CA file and
 * insecure flag are those it was sealed with (mf_jobs_build()).
 * *secret_r is freed by the caller with mf_crypto_secret_free(). Errors
 * as mf_crypto_open(): MF_E_DECRYPT for any change. */
MF_WARN_UNUSED mf_err mf_jobs_open_secret(const struct mf_crypto_keyring *kr,
                                          const struct mf_batch_config *cfg,
                                          const struct mf_job *job,
                                          const char *purpose,
                                          struct mf_crypto_secret **secret_r,
                                          struct mf_error *err);
/* ------------------------------------------------------------------ */
/* OAuth2 sides (core/src/jobs/oauth.c)                               */
/* ------------------------------------------------------------------ */

struct mf_oauth;

/* The OAuth2 settings of the side purpose names (MF_JOBS_PURPOSE_SOURCE
 * or _TARGET), or NULL when that side logs in with passwords. */
const struct mf_batch_oauth *
mf_jobs_oauth_side(const struct mf_batch_config *cfg, const char *purpose);
/* Seals material (len bytes: the client secret, the certificate PEM or
 * the service account's JSON key) into o->key for (batch, "", purpose
 * + "-oauth") and bound to o's other fields, so that a batch record whose
 * token URL, client id or tenant was changed in Redis no longer opens
 * the key (MF_E_DECRYPT) and the key is never sent elsewhere. */
MF_WARN_UNUSED mf_err mf_jobs_oauth_seal(const struct mf_crypto_keyring *kr,
                                         const char *batch, const char *purpose,
                                         struct mf_batch_oauth *o,
                                         const void *material, size_t len,
                                         struct mf_error *err);
struct mf_oauth_config;
/* Fills o (all new strings; release with mf_batch_oauth_clear()) with
 * the settings of oc as a batch stores them for the side purpose, reads
 * the key file oc names and seals it with mf_jobs_oauth_seal(); kr NULL
 * (a dry run) reads and seals nothing. A token file must be an absolute
 * path (MF_E_USAGE): the workers read it. */
MF_WARN_UNUSED mf_err mf_jobs_oauth_define(const struct mf_crypto_keyring *kr,
                                           const char *batch,
                                           const char *purpose,
                                           const struct mf_oauth_config *oc,
                                           struct mf_batch_oauth *o,
                                           struct mf_error *err);
/* A token source for one side of a job whose credentials say oauth:
 * secret is that side's secret as mf_jobs_open_secret() opened it (the
 * key material, or the token file's path); *o_r is new
 * (mf_oauth_free()). The endpoint is checked with cfg's CA file and
 * insecure flag. Errors as mf_oauth_new(). */
MF_WARN_UNUSED mf_err mf_jobs_oauth_new(const struct mf_batch_config *cfg,
                                        const char *purpose,
                                        const struct mf_crypto_secret *secret,
                                        struct mf_oauth **o_r,
                                        struct mf_error *err);

/* Frees what a struct mf_job owns and zeroes it. */
void mf_jobs_job_clear(struct mf_job *job);

/* ------------------------------------------------------------------ */
/* Producing jobs                                                     */
/* ------------------------------------------------------------------ */

/* What mf_jobs_produce() and friends need; everything borrowed. */
struct mf_jobs_ctx {
    struct mf_redis *redis;
    struct mf_kafka_producer *producer;
    const struct mf_kafka_topics *topics;
    const struct mf_crypto_keyring *keyring;
    const char *sender; /* envelope sender; NULL: "mailferry" */
};

/* "mailferry <host>": the envelope sender of an admin command's jobs. */
void mf_jobs_sender_name(char *buf, size_t size);

/* What an admin command holds to produce jobs (jobs/link.c): the key ring
 * (from --master-key-file), the topics and producer (from --kafka and
 * --topic-prefix), and jc, which borrows them and the caller's Redis. */
struct mf_jobs_link {
    struct mf_crypto_keyring *kr;       /* owned */
    struct mf_kafka_producer *producer; /* owned */
    struct mf_kafka_topics topics;
    char sender[128];
    struct mf_jobs_ctx jc; /* borrows the above and redis */
};

/* Opens l from cfg for jobs to the batches in redis (borrowed: it must
 * outlive l). MF_E_USAGE when --kafka or --master-key-file is missing;
 * otherwise the key file's or Kafka's error, err saying which ("key file
 * F: ...", "Kafka: ..."). On error l holds nothing. */
MF_WARN_UNUSED mf_err mf_jobs_link_open(const struct mf_config *cfg,
                                        struct mf_redis *redis,
                                        struct mf_jobs_link *l,
                                        struct mf_error *err);
/* Frees what l owns (the producer is not flushed here). */
void mf_jobs_link_close(struct mf_jobs_link *l);

/* Packs job into an envelope and queues it on topic (the jobs topic or
 * the dead-letter topic) with the mailbox's key. Delivery is checked by
 * the caller's mf_kafka_producer_flush(). */
MF_WARN_UNUSED mf_err mf_jobs_produce(const struct mf_jobs_ctx *c,
                                      const char *topic,
                                      const struct mf_job *job,
                                      struct mf_error *err);

/* Reads the mailbox record and configuration, builds the job and
 * produces it on topic. cfg may be NULL (read from Redis). msg_opaque
 * (may be NULL) goes to the producer's delivery callback (kafka.h): the
 * service keeps the jobs whose delivery fails to produce them again. */
MF_WARN_UNUSED mf_err mf_jobs_produce_job(const struct mf_jobs_ctx *c,
                                          const struct mf_batch_config *cfg,
                                          const char *batch, const char *topic,
                                          const struct mf_batch_job *job,
                                          void *msg_opaque,
                                          struct mf_error *err);

/* How long producing jobs waits for Kafka to take them (the flush_ms
 * below): an admin command may wait a minute (0 means this), while the
 * service and the embedded run, whose loops do other work, wait at most
 * half that per turn and try again on the next. */
#define MF_JOBS_FLUSH_MS 60000
#define MF_JOBS_LOOP_FLUSH_MS 30000

/* Begins a pass with mf_batch_begin_pass(): every job it returns is built
 * and produced on the jobs topic, then the producer is flushed (up to
 * flush_ms; 0: MF_JOBS_FLUSH_MS). *n_r (may be NULL) is the number of jobs
 * produced, *state_r (may be NULL) the batch state afterwards. A job that
 * cannot be built (a stored secret does not open) stops the walk with its
 * error; the mailboxes not yet produced stay Queued and mf_jobs_reissue()
 * produces them again. */
MF_WARN_UNUSED mf_err mf_jobs_begin_pass(const struct mf_jobs_ctx *c,
                                         const char *batch, enum mf_batch_op op,
                                         int flush_ms, uint64_t *n_r,
                                         enum mf_batch_state *state_r,
                                         struct mf_error *err);

/* Produces the current job of every Queued mailbox again (after an
 * interrupted start; duplicates are harmless, only one claim wins) and
 * flushes. *n_r (may be NULL) is the number produced. */
MF_WARN_UNUSED mf_err mf_jobs_reissue(const struct mf_jobs_ctx *c,
                                      const char *batch, int flush_ms,
                                      uint64_t *n_r, struct mf_error *err);

#endif
