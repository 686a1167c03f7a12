/*
 * Batch and mailbox records in Redis (docs/design.md §3, §4, §6, §7, §10, §11):
 * the state the coordinator CLI, `mailferry serve` and the workers share.
 *
 * A batch is a configuration (endpoints, admin logins, folder rules, caps,
 * retry and incremental settings), a list of mailboxes and, per mailbox,
 * a record: state, current job (pass, kind, attempt), the claim of the
 * worker running it, counters, last error and the skipped and failed
 * items of the last pass. Everything of one batch lives under the hash tag
 * "{b:<name>}" so one Lua script can touch it all in a Redis Cluster:
 *
 *   mf:{batches}:index               SET of batch names (mf_batch_list)
 *   mf:{b:N}:batch                   HASH config, state, times, counts
 *   mf:{b:N}:list:<include|exclude|rename|preset>  LIST folder rules
 *   mf:{b:N}:mailboxes               LIST of EmailAddress, in CSV order
 *   mf:{b:N}:mb:<email>              HASH the mailbox record
 *   mf:{b:N}:mb:<email>:skipped      LIST skipped items (≤ 10,000)
 *   mf:{b:N}:mb:<email>:failed       LIST failed items (≤ 10,000)
 *   mf:{b:N}:ckpt:<email>            HASH folder checkpoints (checkpoint.h)
 *   mf:{b:N}:claims                  ZSET email -> claim expiry (ms, TIME)
 *   mf:{b:N}:results                 SET "<job_id>#<attempt>" applied
 *   mf:{b:N}:samples                 LIST throughput samples, each
 *                                    "<ms>ms <messages> <bytes>" (older
 *                                    ones "<seconds> <messages> <bytes>")
 *
 * Every state change is a Lua script that checks the current state and
 * refuses (MF_E_STATE, with the current state in the detail) when the
 * transition is not allowed, so concurrent coordinators and workers never
 * overwrite each other. Times come from Redis TIME, never a host clock.
 * A time field (started, finished, first_sync, ...) holds Unix seconds
 * and has a twin <field>_ms in milliseconds, written together; a record
 * from before the twins has only the seconds, and readers take those
 * times 1000 (also when a twin disagrees with its seconds).
 *
 * Jobs (docs/design.md §6, "claim, then commit"): each pass over a mailbox
 * (full, incremental, final) is a job with a job id
 * "<batch>/<email>/<pass>/<kind>"; each job runs as attempt 1, 2, ... A
 * worker claims (job id, attempt) before committing the Kafka offset; the
 * claim succeeds only for the mailbox's current job and attempt while the
 * mailbox is Queued, so a stale or duplicate delivery never runs. Claims
 * are leases renewed while the job runs; the coordinator finds expired
 * ones (mf_batch_expired_claims) and requeues them with the next attempt,
 * up to the batch's max_attempts, then the mailbox is Failed.
 *
 * Results and progress are idempotent per (job id, attempt): a duplicate
 * Kafka delivery changes nothing.
 *
 * Passwords: the store only ever sees SEALED bytes (crypto.h output,
 * serialised by the caller) and stores and returns them as opaque,
 * binary-safe blobs. Nothing here logs them.
 *
 * Ownership: input structs are filled with borrowed pointers (the store
 * copies what it keeps into Redis); structs returned by mf_batch_get() and
 * mf_batch_mailbox_get() own everything and are freed with their _free().
 */
#ifndef MAILFERRY_BATCH_H
#define MAILFERRY_BATCH_H

#include "mailferry/batch_settings.h" /* options that change, their history */
#include "mailferry/envelope.h"       /* enum mf_job_kind, enum mf_outcome */
#include "mailferry/err.h"
#include "mailferry/folderplan.h"
#include "mailferry/migrate.h" /* struct mf_migrate_stats */
#include "mailferry/redis.h"
#include "mailferry/report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_BATCH_NAME_MAX 64        /* [A-Za-z0-9._-]{1,64} */
#define MF_BATCH_EMAIL_MAX 320      /* bytes of an EmailAddress */
#define MF_BATCH_JOB_ID_MAX 512     /* "<batch>/<email>/<pass>/<kind>" + NUL */
#define MF_BATCH_WORKER_MAX 256     /* worker id */
#define MF_BATCH_ITEMS_MAX 10000    /* listed items per mailbox and kind */
#define MF_BATCH_SAMPLES_MAX 4096   /* throughput samples kept per batch */
#define MF_BATCH_DEFAULT_ATTEMPTS 3 /* job attempts before Failed */

/* ------------------------------------------------------------------ */
/* States (docs/design.md §4)                                              */
/* ------------------------------------------------------------------ */

enum mf_batch_state {
    MF_BATCH_CREATED,
    MF_BATCH_SYNCING,
    MF_BATCH_SYNCED,
    MF_BATCH_SYNCED_WITH_ERRORS,
    MF_BATCH_INCREMENTAL_SYNCING,
    MF_BATCH_COMPLETING,
    MF_BATCH_COMPLETED,
    MF_BATCH_COMPLETED_WITH_ERRORS,
    MF_BATCH_STOPPING,
    MF_BATCH_STOPPED,
    MF_BATCH_REMOVING,
    MF_BATCH_STATE_COUNT
};

/* Mailbox states; same order and names as enum mf_report_state, so a
 * cast converts. */
enum mf_mailbox_state {
    MF_MAILBOX_QUEUED,
    MF_MAILBOX_SYNCING,
    MF_MAILBOX_SYNCED,
    MF_MAILBOX_INCREMENTAL_SYNCING,
    MF_MAILBOX_STOPPED,
    MF_MAILBOX_FAILED,
    MF_MAILBOX_COMPLETED,
    MF_MAILBOX_STATE_COUNT
};

/* "Created", "Syncing", "SyncedWithErrors", ...; "Unknown" when out of
 * range. */
const char *mf_batch_state_name(enum mf_batch_state s);
const char *mf_mailbox_state_name(enum mf_mailbox_state s);
/* The reverse (case-sensitive, as stored). MF_E_NOT_FOUND if unknown. */
MF_WARN_UNUSED mf_err mf_batch_state_parse(const char *s,
                                           enum mf_batch_state *s_r);
MF_WARN_UNUSED mf_err mf_mailbox_state_parse(const char *s,
                                             enum mf_mailbox_state *s_r);

/* Whether the transition from -> to is allowed (the tables in batch.c;
 * the Lua scripts are given the same tables). */
bool mf_batch_transition_allowed(enum mf_batch_state from,
                                 enum mf_batch_state to);
bool mf_mailbox_transition_allowed(enum mf_mailbox_state from,
                                   enum mf_mailbox_state to);
/* Running: Syncing, IncrementalSyncing, Completing, Stopping (remove is
 * refused, a worker may be busy). */
bool mf_batch_state_running(enum mf_batch_state s);
/* A mailbox state in which no job is queued or running. */
bool mf_mailbox_state_final(enum mf_mailbox_state s);

/* ------------------------------------------------------------------ */
/* Configuration and creation                                         */
/* ------------------------------------------------------------------ */

/* Opaque, binary-safe bytes: a SEALED secret as the crypto module
 * serialises it. Borrowed on input; owned by a returned struct. */
struct mf_batch_blob {
    uint8_t *data;
    size_t len;
};
/* Wipes and frees a blob's bytes and zeroes it. Accepts an empty blob. */
void mf_batch_blob_free(struct mf_batch_blob *b);

/* One endpoint's connection caps (docs/design.md §7); 0 means no cap.
 * MF_BATCH_CAPS lists them, one XX(option, field, max) each: the source
 * side's option (the target's has "target-" before it), the field here
 * (also the batch hash field, after "s_" or "t_") and its greatest value.
 * The batch definition, `batch create`, `batch set` and the batch record
 * follow it. */
#define MF_BATCH_CAPS(XX)                                                      \
    XX("max-connections", max_connections, 1000000)                            \
    XX("max-connections-per-user", max_connections_per_user, 1000000)          \
    XX("max-connections-per-ip", max_connections_per_ip, 1000000)              \
    XX("max-concurrent-mailboxes", max_concurrent_mailboxes, 1000000)          \
    XX("max-bytes-per-second", max_bytes_per_second, UINT64_MAX / 2)
struct mf_batch_caps {
    uint32_t max_connections;
    uint32_t max_connections_per_user;
    uint32_t max_connections_per_ip;
    uint32_t max_concurrent_mailboxes;
    uint64_t max_bytes_per_second;
};

/* Whether any cap of c is set: then the batch's jobs take leases (and
 * connections are counted in the caps, mailferry/caps.h). */
bool mf_batch_caps_any(const struct mf_batch_caps *c);

/* One side's OAuth2 login (mailferry/oauth.h), provider NULL when the
 * side logs in with passwords. Everything but key is the non-secret
 * configuration; key is the secret material (a client secret, a PEM
 * certificate and key, or a service account's JSON key) SEALED by
 * mf_jobs_oauth_seal() (core/src/jobs/oauth.c), empty for a token file,
 * which the workers read from token_file at each connection. */
struct mf_batch_oauth {
    char *provider; /* "entra", "google", "token-file", or NULL */
    char *tenant, *client_id, *token_url, *scope, *token_file;
    char *key_kind; /* "client-secret", "certificate", "service-account" */
    struct mf_batch_blob key; /* SEALED */
};
/* The text fields of struct mf_batch_oauth, XX(member), in the order the
 * batch stores them and a sealed key's purpose binds them
 * (core/src/jobs/oauth.c): never reorder, or stored keys stop opening. */
#define MF_BATCH_OAUTH_TEXT(XX)                                                \
    XX(provider)                                                               \
    XX(tenant)                                                                 \
    XX(client_id)                                                              \
    XX(token_url)                                                              \
    XX(scope)                                                                  \
    XX(token_file)                                                             \
    XX(key_kind)
/* Frees o's strings, wipes and frees its key, zeroes it. */
void mf_batch_oauth_clear(struct mf_batch_oauth *o);

/* A batch's configuration. For mf_batch_create() every pointer is
 * borrowed (NULL reads as empty) and the fields marked "store" are
 * ignored; mf_batch_get() returns one that owns everything. */
struct mf_batch_config {
    char *name;
    char *source, *target; /* endpoint URLs */
    char *ca_file;         /* or NULL */
    bool insecure;
    char *admin_user; /* source admin, or NULL */
    char *admin_login_format;
    struct mf_batch_blob admin_password; /* SEALED */
    char *target_admin_user;
    char *target_admin_login_format;
    struct mf_batch_blob target_admin_password; /* SEALED */
    /* Folder rules as the admin wrote them; workers re-parse them with
     * the mf_folder_rules_parse_*() helpers. Each list is one row of the
     * batch module's table (core/src/batch/helpers.c), which every path
     * that reads, stores, shows or frees them walks. */
    char **include;
    size_t n_include;
    char **exclude;
    size_t n_exclude;
    char **rename; /* "OLD=NEW" */
    size_t n_rename;
    char **presets;
    size_t n_presets;
    char *separator_replacement; /* or NULL */
    char *target_root;           /* or NULL */
    /* Provider profiles (mailferry/profile.h) by name; NULL: generic.
     * Fields s_profile and t_profile; the jobs carry them too. */
    char *source_profile, *target_profile;
    /* --fingerprint: "strict" or "lenient", NULL: the target profile's.
     * Field "fp_mode". */
    char *fingerprint;
    /* --throttle-*: fields "thr_<member>", 0 or absent: the profile's. */
    struct mf_throttle_rules throttle;
    /* --quota-*: fields "quo_<member>", 0 or absent: the profiles'. */
    struct mf_quota_rules quota;
    bool repair; /* --repair (mailferry/repair.h); field "repair" */
    char *gmail_archive_folder;    /* or NULL: "Archive"; "gmail_archive" */
    bool gmail_labels_as_keywords; /* field "gmail_keywords" */
    uint64_t max_message_size;     /* 0: the engine's default */
    struct mf_batch_caps source_caps, target_caps;
    uint32_t max_attempts;      /* job attempts per pass; 0: 3 */
    uint64_t incremental_every; /* seconds; 0: no scheduled passes */
    /* Flags changed on both sides between passes (migrate.h); stored as
     * its word, absent for MF_FLAG_CONFLICT_DEFAULT. */
    enum mf_flag_conflict flag_conflict;
    /* Pre-staging (mailferry/window.h): only messages whose INTERNALDATE
     * is inside are copied; fields since and before, "YYYY-MM-DD",
     * absent for no bound. */
    struct mf_window window;
    /* --sync-deletes (migrate.h); field sync_deletes "1", absent: off. */
    bool sync_deletes;
    /* OAuth2 logins per side (fields s_oauth_* and t_oauth_*). */
    struct mf_batch_oauth source_oauth, target_oauth;

    /* store: filled by mf_batch_get(), ignored by mf_batch_create(). */
    enum mf_batch_state state;
    int64_t created, started, finished; /* Unix seconds; 0: not yet */
    /* The same in ms: the fields' *_ms twins (Redis TIME), or the seconds
     * * 1000 for a batch from before them (mf__batch_hget_ms()). */
    int64_t started_ms, finished_ms;
    int64_t last_pass_finished; /* for scheduling incremental passes */
    uint64_t n_mailboxes;
    uint64_t counts[MF_MAILBOX_STATE_COUNT]; /* mailboxes by state */
    uint64_t pass;                           /* passes begun */
    /* Random 64 bits drawn at creation, so a batch removed and created
     * again under the same name, even within the same second, is another
     * generation; 0 for a batch created before the field existed (its
     * generation is `created`, see mf_jobs_batch_generation()). */
    uint64_t generation;
};

/* One CSV row. Borrowed on input; owned when returned. */
struct mf_batch_mailbox_cfg {
    char *email;
    char *user;                           /* source login */
    struct mf_batch_blob password;        /* SEALED; empty with admin creds */
    char *user_root;                      /* or NULL */
    char *target_user;                    /* or NULL */
    struct mf_batch_blob target_password; /* SEALED, or empty */
};

/* Whether name is a valid batch name ([A-Za-z0-9._-]{1,64}). */
bool mf_batch_name_valid(const char *name);

/* Stores a new batch (state Created) with its n mailboxes, all or
 * nothing for readers (core/src/batch/create.c). MF_E_EXISTS if the name is
 * taken, MF_E_INVALID_ARGUMENT for a bad name, an empty or duplicate email. */
MF_WARN_UNUSED mf_err mf_batch_create(struct mf_redis *r,
                                      const struct mf_batch_config *cfg,
                                      const struct mf_batch_mailbox_cfg *mbs,
                                      size_t n, struct mf_error *err);

/* The same, streamed: begin, then add the mailboxes in as many calls as
 * suit the caller (each row borrowed for the call only), then commit,
 * which makes the batch visible; or abort, which removes what was
 * written. A failed add or commit leaves nothing behind (commit frees
 * *c either way; after a failed add, abort). add refuses an address
 * added before (MF_E_INVALID_ARGUMENT); commit refuses a batch without
 * mailboxes. cfg is borrowed until commit or abort. */
struct mf_batch_creator;
MF_WARN_UNUSED mf_err mf_batch_create_begin(struct mf_redis *r,
                                            const struct mf_batch_config *cfg,
                                            struct mf_batch_creator **c_r,
                                            struct mf_error *err);
MF_WARN_UNUSED mf_err mf_batch_create_add(
    struct mf_batch_creator *c, const struct mf_batch_mailbox_cfg *mbs,
    size_t n, struct mf_error *err);
MF_WARN_UNUSED mf_err mf_batch_create_commit(struct mf_batch_creator **c,
                                             struct mf_error *err);
void mf_batch_create_abort(struct mf_batch_creator **c);

/* The batch's folder rules, parsed from the admin's strings as the
 * workers use them. *rules_r is new (mf_folder_rules_free()); on a bad
 * rule MF_E_CONFIG (or the parser's code) with the reason in err. */
MF_WARN_UNUSED mf_err mf_batch_config_rules(const struct mf_batch_config *cfg,
                                            struct mf_folder_rules **rules_r,
                                            struct mf_error *err);

/* Reads a batch's configuration and status. MF_E_NOT_FOUND if absent.
 * *cfg_r is new; free with mf_batch_config_free(). */
MF_WARN_UNUSED mf_err mf_batch_get(struct mf_redis *r, const char *name,
                                   struct mf_batch_config **cfg_r,
                                   struct mf_error *err);
void mf_batch_config_free(struct mf_batch_config **cfg);

/* One line of mf_batch_list(). */
struct mf_batch_summary {
    const char *name; /* borrowed: valid during the callback */
    enum mf_batch_state state;
    uint64_t n_mailboxes;
    uint64_t counts[MF_MAILBOX_STATE_COUNT];
    int64_t created, started, finished;
    int64_t started_ms, finished_ms; /* as in struct mf_batch_config */
};
/* Calls cb for every batch, sorted by name. A non-zero return from cb
 * stops the walk and is returned. */
typedef mf_err (*mf_batch_list_cb)(void *ud, const struct mf_batch_summary *s);
MF_WARN_UNUSED mf_err mf_batch_list(struct mf_redis *r, mf_batch_list_cb cb,
                                    void *ud, struct mf_error *err);

/* Deletes every key of a batch, its checkpoints included. Only from a
 * non-running state (MF_E_STATE otherwise); the batch is Removing while
 * it runs, so an interrupted removal can be repeated. MF_E_NOT_FOUND. */
MF_WARN_UNUSED mf_err mf_batch_remove(struct mf_redis *r, const char *name,
                                      struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Mailbox records                                                    */
/* ------------------------------------------------------------------ */

struct mf_batch_mailbox {
    struct mf_batch_mailbox_cfg cfg; /* owned */
    enum mf_mailbox_state state;
    /* The current job. */
    char job_id[MF_BATCH_JOB_ID_MAX];
    uint64_t pass;
    uint32_t attempt;
    enum mf_job_kind kind;
    uint32_t attempts_total; /* claims over all passes */
    bool synced_once;        /* a full pass has finished */
    /* The live claim; claim_worker empty when there is none. */
    char claim_worker[MF_BATCH_WORKER_MAX];
    int64_t claim_expiry_ms;
    char worker[MF_BATCH_WORKER_MAX]; /* the worker that ran it last */
    int64_t first_sync, last_sync;    /* start of first / last pass */
    int64_t finished;                 /* end of the last pass */
    /* The same three in ms, as the batch's started_ms. */
    int64_t first_sync_ms, last_sync_ms, finished_ms;
    /* Totals: copied_* and duration accumulate over passes; the rest
     * come from the last pass that reported them. */
    struct mf_migrate_stats stats;
    uint64_t skipped_excluded;
    uint64_t skipped_unlisted, failed_unlisted; /* beyond the 10,000 */
    /* Live progress of the running job (all 0 until its first progress:
     * an earlier job's figures are not read). bytes_total: of
     * messages_total, 0 when the worker did not say. */
    uint64_t progress_seq;
    uint64_t messages_total, messages_done, bytes_done, bytes_total;
    uint32_t folders_total, folders_done;
    /* Its connections under the caps as its last progress said: held,
     * and what it waited for then (waiting_ms: for how long by then). */
    struct mf_migrate_conns conns;
    /* The last error; code 0 when none. */
    int error_code;
    char error_name[64];
    char error_detail[MF_ERROR_DETAIL_MAX];
    /* The running job waits for something outside mailferry until then
     * (Unix s; 0: it does not wait), for that reason: a provider's daily
     * bandwidth quota (mf_batch_mailbox_wait()). */
    int64_t wait_until;
    char wait_why[MF_ERROR_DETAIL_MAX];
};

/* The running job of mailbox email waits until until (Unix s) for why
 * (a provider's daily bandwidth quota), or, until 0, no longer: shown by
 * `batch status` until the job ends (any change of the mailbox's state
 * drops it). Nothing is written for a mailbox that does not run. */
MF_WARN_UNUSED mf_err mf_batch_mailbox_wait(struct mf_redis *r,
                                            const char *batch,
                                            const char *email, int64_t until,
                                            const char *why,
                                            struct mf_error *err);

/* Reads one mailbox's record. MF_E_NOT_FOUND if the batch or mailbox is
 * absent. Free with mf_batch_mailbox_free(). */
MF_WARN_UNUSED mf_err mf_batch_mailbox_get(struct mf_redis *r,
                                           const char *batch, const char *email,
                                           struct mf_batch_mailbox **mb_r,
                                           struct mf_error *err);
void mf_batch_mailbox_free(struct mf_batch_mailbox **mb);
/* Reads n (<= MF_REDIS_PIPELINE_MAX) mailboxes' records in one round
 * trip (pipelined HGETALLs): mbs_r[i] is emails[i]'s, each freed with
 * mf_batch_mailbox_free(). On error (MF_E_NOT_FOUND for the first absent
 * one) every mbs_r[i] is NULL. */
MF_WARN_UNUSED mf_err mf_batch_mailbox_get_many(
    struct mf_redis *r, const char *batch, const char *const *emails, size_t n,
    struct mf_batch_mailbox **mbs_r, struct mf_error *err);
/* The same with only each record's login fields (mbs_r[i]->cfg; the
 * rest zero), read with HMGET: what producing jobs needs, at a fraction
 * of the reply to parse. */
MF_WARN_UNUSED mf_err mf_batch_mailbox_cfg_get_many(
    struct mf_redis *r, const char *batch, const char *const *emails, size_t n,
    struct mf_batch_mailbox **mbs_r, struct mf_error *err);

/* Calls cb for every mailbox in CSV order (records read in chunks, one
 * round trip per chunk). mb is borrowed: valid during the call. */
typedef mf_err (*mf_batch_mailbox_cb)(void *ud,
                                      const struct mf_batch_mailbox *mb);
MF_WARN_UNUSED mf_err mf_batch_foreach_mailbox(struct mf_redis *r,
                                               const char *batch,
                                               mf_batch_mailbox_cb cb, void *ud,
                                               struct mf_error *err);

/* Sets a mailbox's state if the transition is allowed (table above),
 * atomically; MF_E_STATE with the current state otherwise. For tests and
 * repairs: the operations below change states themselves. */
MF_WARN_UNUSED mf_err mf_batch_mailbox_set_state(struct mf_redis *r,
                                                 const char *batch,
                                                 const char *email,
                                                 enum mf_mailbox_state to,
                                                 struct mf_error *err);
/* The same for the batch. */
MF_WARN_UNUSED mf_err mf_batch_set_state(struct mf_redis *r, const char *batch,
                                         enum mf_batch_state to,
                                         struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Passes and jobs                                                    */
/* ------------------------------------------------------------------ */

/* A job to put on the jobs topic. Strings borrowed (valid during a
 * callback) or fixed buffers. */
struct mf_batch_job {
    char job_id[MF_BATCH_JOB_ID_MAX];
    char email[MF_BATCH_EMAIL_MAX + 1];
    uint64_t pass;
    uint32_t attempt;
    enum mf_job_kind kind;
};

/* "<batch>/<email>/<pass>/<kind>" into out (truncated safely). */
void mf_batch_job_id(char *out, size_t n, const char *batch, const char *email,
                     uint64_t pass, enum mf_job_kind kind);

typedef mf_err (*mf_batch_job_cb)(void *ud, const struct mf_batch_job *job);

enum mf_batch_op {
    /* Created -> Syncing, every mailbox a full job; Stopped -> the state
     * it was stopped in, the Stopped, Failed and Queued mailboxes a new
     * job (Failed ones are retried). */
    MF_BATCH_OP_START,
    /* Synced|SyncedWithErrors -> IncrementalSyncing: every mailbox not
     * Completed a new job (incremental, or full if it never synced). */
    MF_BATCH_OP_SYNC,
    /* Synced|SyncedWithErrors -> Completing: every mailbox not Completed
     * a final job. */
    MF_BATCH_OP_COMPLETE,
};

/* Begins a pass: changes the batch state (MF_E_STATE if op is not
 * allowed now), sets each chosen mailbox to Queued with a new job
 * (pass + 1, attempt 1) and calls cb with it, for the caller to produce.
 * If cb fails, the walk stops and its error is returned; the remaining
 * mailboxes are still marked Queued: mf_batch_foreach_queued() re-issues
 * their jobs (duplicates are harmless: only one claim can win). A batch
 * with nothing to do settles at once (*state_r tells). */
MF_WARN_UNUSED mf_err mf_batch_begin_pass(struct mf_redis *r, const char *batch,
                                          enum mf_batch_op op,
                                          mf_batch_job_cb cb, void *ud,
                                          enum mf_batch_state *state_r,
                                          struct mf_error *err);
/* Calls cb with the current job of every Queued mailbox. */
MF_WARN_UNUSED mf_err mf_batch_foreach_queued(struct mf_redis *r,
                                              const char *batch,
                                              mf_batch_job_cb cb, void *ud,
                                              struct mf_error *err);

/* Running -> Stopping (MF_E_STATE otherwise); Queued mailboxes become
 * Stopped at once, running ones when their worker reports. Settles, so
 * *state_r is Stopped when nothing was running. */
MF_WARN_UNUSED mf_err mf_batch_stop(struct mf_redis *r, const char *batch,
                                    enum mf_batch_state *state_r,
                                    struct mf_error *err);
/* The batch's state alone, in one HGET: what a loop waiting for the
 * batch to settle polls (mf_batch_get reads the whole configuration and
 * its lists, five round trips). MF_E_NOT_FOUND when the batch is gone. */
MF_WARN_UNUSED mf_err mf_batch_state_read(struct mf_redis *r, const char *batch,
                                          enum mf_batch_state *state_r,
                                          struct mf_error *err);
/* Whether workers should stop: the batch is Stopping, Stopped, Removing
 * or gone. One HGET; workers poll it every few seconds (renew also
 * reports it). */
MF_WARN_UNUSED mf_err mf_batch_stop_requested(struct mf_redis *r,
                                              const char *batch, bool *stop_r,
                                              struct mf_error *err);
/* Derives the batch's state atomically once every mailbox is final (the
 * rule is settle() in core/src/batch/lua/prelude.lua, explained in
 * script.c); *state_r is the state afterwards (may be NULL). */
MF_WARN_UNUSED mf_err mf_batch_settle(struct mf_redis *r, const char *batch,
                                      enum mf_batch_state *state_r,
                                      struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Claims                                                             */
/* ------------------------------------------------------------------ */

/* A worker's claim on one job attempt. Filled by mf_batch_claim(). */
struct mf_batch_lease {
    char batch[MF_BATCH_NAME_MAX + 1];
    char email[MF_BATCH_EMAIL_MAX + 1];
    char job_id[MF_BATCH_JOB_ID_MAX];
    uint32_t attempt;
    char worker[MF_BATCH_WORKER_MAX];
    int64_t expiry_ms;   /* Redis TIME, ms */
    bool stop_requested; /* as of the last claim or renew */
    bool verify;         /* a verify job's claim (mf_batch_verify_claim()) */
    int64_t ttl_ms;      /* as claimed (mf_batch_release()'s result wait) */
};

/* Hex digits in a claim token (mf_batch_claim_token()). */
#define MF_BATCH_TOKEN_LEN 32

/* Writes a new random claim token (MF_BATCH_TOKEN_LEN hex digits and a
 * NUL) into out: one per claim attempt, kept for its retries. */
void mf_batch_claim_token(char out[MF_BATCH_TOKEN_LEN + 1]);

/* Claims (job_id, attempt) of batch/email for worker_id for ttl_ms.
 * Succeeds only if the mailbox is Queued with exactly this job and
 * attempt and nobody holds a live claim; then the mailbox is Syncing
 * (IncrementalSyncing for an incremental or final pass after a first
 * full one), the worker and start time are recorded. Errors:
 * MF_E_CLAIMED (a live claim by someone), MF_E_STATE (stale job or
 * attempt, or the mailbox is not Queued: drop the job), MF_E_NOT_FOUND.
 * token (NULL or "" for none) makes the claim safe to retry: pass the
 * same token when retrying after an error (a reply lost with the
 * connection may hide a claim that was made), and a live claim by
 * worker_id with this token, job and attempt is recognised as the
 * caller's own and succeeds again, with the same expiry. */
MF_WARN_UNUSED mf_err mf_batch_claim(struct mf_redis *r, const char *batch,
                                     const char *email, const char *job_id,
                                     uint32_t attempt, const char *worker_id,
                                     const char *token, int64_t ttl_ms,
                                     struct mf_batch_lease *lease_r,
                                     struct mf_error *err);
/* Writes the Redis key of a mailbox's record, where its claim lives, into
 * out: checkpoint writes are fenced on it (mf_checkpoint_claim). */
void mf_batch_record_key(char *out, size_t n, const char *batch,
                         const char *email);
/* Extends the claim to now + ttl_ms. MF_E_LEASE_LOST when it expired or
 * is no longer ours (stop the job, do not report). Updates
 * lease->expiry_ms and lease->stop_requested. */
MF_WARN_UNUSED mf_err mf_batch_renew(struct mf_redis *r,
                                     struct mf_batch_lease *lease,
                                     int64_t ttl_ms, struct mf_error *err);
/* How long a finished job's claim waits for its result, in claim TTLs
 * (mf_batch_release()). */
#define MF_BATCH_RESULT_WAIT_TTLS 10

/* Gives the claim up. finished: the worker has published the job's
 * result. The claim stays, renewed by nobody, until the result is applied
 * (mf_batch_apply_result() removes it) or MF_BATCH_RESULT_WAIT_TTLS times
 * lease->ttl_ms pass: then it is expired with result_due set, and the
 * service requeues the job as one whose result was lost, so that no
 * mailbox waits forever for a result that never comes. The mailbox stays
 * running meanwhile. !finished: the worker gives up without a result
 * (shutdown): the claim expires now, so the coordinator requeues it at
 * once without counting a lost worker. A claim that is no longer ours is
 * left alone. */
MF_WARN_UNUSED mf_err mf_batch_release(struct mf_redis *r,
                                       const struct mf_batch_lease *lease,
                                       bool finished, struct mf_error *err);

/* One expired claim. */
struct mf_batch_expired {
    const char *email;  /* borrowed: valid during the callback */
    const char *job_id; /* borrowed */
    uint32_t attempt;
    const char *worker; /* borrowed; the finished job's worker if result_due */
    int64_t expiry_ms;
    bool result_due; /* a finished job's claim: its result has not come */
};
typedef mf_err (*mf_batch_expired_cb)(void *ud,
                                      const struct mf_batch_expired *e);
/* Calls cb for every claim of the batch that expired by Redis TIME (one
 * ZRANGEBYSCORE; at most 1000 per call). */
MF_WARN_UNUSED mf_err mf_batch_expired_claims(struct mf_redis *r,
                                              const char *batch,
                                              mf_batch_expired_cb cb, void *ud,
                                              struct mf_error *err);

/* What mf_batch_requeue() did. */
struct mf_batch_requeued {
    struct mf_batch_job job; /* to produce; attempt 0: nothing to produce */
    bool dead;               /* attempts exhausted: dead-letter job */
    bool result_lost;        /* the claim was a finished job's (result_due) */
};

/* Requeues an expired claim: the next attempt of the same job, mailbox
 * Queued, out->job filled for the caller to produce. When the job already
 * had max_attempts lost workers (or lost results), the mailbox is Failed
 * (MF_E_LEASE_LOST "worker lost") instead, out->dead true: the caller
 * dead-letters the job. When the batch is Stopping, the mailbox becomes
 * Stopped instead and out->job.attempt is 0 (nothing to produce). The
 * batch then settles. A finished job's claim (result_due) is requeued only
 * when results_current says the caller has read every result published so
 * far: else MF_E_CLAIMED, as when the claim is live again (renewed
 * meanwhile). MF_E_STATE if there is no expired claim. */
MF_WARN_UNUSED mf_err mf_batch_requeue(struct mf_redis *r, const char *batch,
                                       const char *email, bool results_current,
                                       struct mf_batch_requeued *out,
                                       struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Progress and results                                               */
/* ------------------------------------------------------------------ */

struct mf_batch_progress {
    const char *job_id;
    uint32_t attempt;
    uint64_t seq; /* increases per job attempt */
    uint64_t messages_total, messages_done, bytes_done;
    uint32_t folders_total, folders_done;
    uint64_t bytes_total;          /* of messages_total; 0: not known */
    struct mf_migrate_conns conns; /* held and waited for, now */
};

/* Records progress unless it is older than what was applied for this
 * job attempt (seq not greater) or for a job or attempt that is not the
 * current one; *applied_r says which (may be NULL). Also appends a
 * throughput sample to the batch. */
MF_WARN_UNUSED mf_err mf_batch_apply_progress(
    struct mf_redis *r, const char *batch, const char *email,
    const struct mf_batch_progress *p, bool *applied_r, struct mf_error *err);

/* A skipped or failed message (uid 0: a folder). Borrowed strings. */
struct mf_batch_item {
    const char *folder;
    uint32_t uid;
    uint64_t size;
    int64_t internal_date;  /* Unix time; 0 unknown */
    const char *subject;    /* or NULL */
    const char *message_id; /* or NULL (stored since issue 13's report) */
    int code;               /* mf_err number; for skipped: why */
    const char *name;       /* or NULL: mf_err_name(code) */
    const char *detail;     /* or NULL */
};

/* A job's final result. Borrowed. */
struct mf_batch_result {
    const char *job_id;
    uint32_t attempt;
    const char *worker;
    /* SYNCED, FAILED, STOPPED, or RETRY (transient: the next attempt). */
    enum mf_outcome outcome;
    struct mf_migrate_stats stats;
    uint64_t skipped_excluded;
    int error_code; /* mf_err number, 0 for none */
    const char *error_name, *error_detail;
    /* n_skipped/n_failed are the full counts; the arrays need only the
     * first min(n, MF_BATCH_ITEMS_MAX) entries (the rest are counted). */
    const struct mf_batch_item *skipped;
    size_t n_skipped;
    const struct mf_batch_item *failed;
    size_t n_failed;
};

/* What mf_batch_apply_result() did. */
struct mf_batch_applied {
    /* false: a duplicate, or a result of a stale job or attempt. */
    bool applied;
    /* RETRY outcome: requeue is true and job is the next attempt to
     * produce; dead is true when attempts are exhausted (mailbox Failed,
     * dead-letter the job). */
    bool requeue, dead;
    struct mf_batch_job job;
    enum mf_batch_state batch_state; /* after settling */
};

/* Applies a job's result once per (job id, attempt): the mailbox becomes
 * Synced (Completed for a final pass), Failed or Stopped; copied counters
 * and duration accumulate over passes, the source counts and the item
 * lists (at most MF_BATCH_ITEMS_MAX each; the rest counted) are those of
 * this pass; the last error is kept; the claim is released; a throughput
 * sample is added; then the batch settles. */
MF_WARN_UNUSED mf_err mf_batch_apply_result(struct mf_redis *r,
                                            const char *batch,
                                            const char *email,
                                            const struct mf_batch_result *res,
                                            struct mf_batch_applied *out_r,
                                            struct mf_error *err);

/* The same two, fed straight from a decoded Progress or Result envelope
 * body (envelope.h): batch, mailbox, job and attempt come from it; its
 * counters map onto the stats (folders_done -> folders_copied,
 * messages_already_present -> messages_present, messages_failed ->
 * failed, seconds from started_at_ms/finished_at_ms); done messages for
 * progress are copied + present + skipped + failed. An item's
 * internal_date is kept when it is a decimal Unix time, else 0. */
MF_WARN_UNUSED mf_err mf_batch_apply_envelope_progress(
    struct mf_redis *r, const struct mf_progress *p, bool *applied_r,
    struct mf_error *err);
MF_WARN_UNUSED mf_err mf_batch_apply_envelope_result(
    struct mf_redis *r, const struct mf_result *res,
    struct mf_batch_applied *out_r, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* The lists: items and samples (lists.c)                             */
/* ------------------------------------------------------------------ */

/* Calls cb with each item of a mailbox's last pass that is listed (at
 * most MF_BATCH_ITEMS_MAX; the rest are counted in the record's
 * skipped_unlisted and failed_unlisted): its failed messages when failed
 * is true, else its skipped ones, in the order the pass found them. An
 * item that does not decode is passed over. it is borrowed: valid during
 * the call. A non-zero return from cb stops the walk and is returned. */
typedef mf_err (*mf_batch_item_cb)(void *ud, const struct mf_batch_item *it);
MF_WARN_UNUSED mf_err mf_batch_mailbox_items(struct mf_redis *r,
                                             const char *batch,
                                             const char *email, bool failed,
                                             mf_batch_item_cb cb, void *ud,
                                             struct mf_error *err);

/* One throughput sample: the batch's done counters (messages and bytes
 * copied by finished jobs plus those handled by running ones) at a Redis
 * time, taken when a pass began and when a progress or result was
 * applied; one per 100 ms at most (the step doubles as the batch ages:
 * sample() in lua/prelude.lua), thinned to every other one past
 * MF_BATCH_SAMPLES_MAX. */
struct mf_batch_sample {
    /* Unix ms, Redis TIME (a sample from before ms: its seconds * 1000) */
    int64_t time_ms;
    uint64_t messages, bytes;
};
typedef mf_err (*mf_batch_sample_cb)(void *ud, const struct mf_batch_sample *s);
/* Calls cb with the batch's newest `last` samples (0: all), oldest
 * first. A non-zero return from cb stops the walk and is returned. */
MF_WARN_UNUSED mf_err mf_batch_samples(struct mf_redis *r, const char *batch,
                                       size_t last, mf_batch_sample_cb cb,
                                       void *ud, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Report                                                             */
/* ------------------------------------------------------------------ */

/* Builds the consolidated report model (report.h) from the records: the
 * batch, every mailbox with its items, the throughput samples. *rep_r is
 * new; free with mf_report_free(). */
MF_WARN_UNUSED mf_err mf_batch_report(struct mf_redis *r, const char *batch,
                                      struct mf_report_batch **rep_r,
                                      struct mf_error *err);

/* ------------------------------------------------------------------ */
/* What create stores, shown (batch/show.c; no secrets)               */
/* ------------------------------------------------------------------ */

struct mf_json;
/* cfg and its n mailboxes as one JSON object (the mailboxes' logins in
 * "mailbox_list" for a dry run); everything borrowed. */
void mf_batch_config_json(struct mf_json *j, const struct mf_batch_config *cfg,
                          const struct mf_batch_mailbox_cfg *mbs, size_t n,
                          bool dry_run);
/* The same as lines of text on out, or with json as that object and a
 * newline. */
void mf_batch_config_print(FILE *out, bool json,
                           const struct mf_batch_config *cfg,
                           const struct mf_batch_mailbox_cfg *mbs, size_t n,
                           bool dry_run);
/* "mailbox_list": [{email, user, target_user}, ...] into the open object
 * of j. */
void mf_batch_mailbox_list_json(struct mf_json *j,
                                const struct mf_batch_mailbox_cfg *mbs,
                                size_t n);

#endif
