/*
 * Kafka message envelopes (docs/design.md §6): the typed C form of the
 * protobuf messages in proto/mailferry/v1/, and the one place that packs
 * and unpacks them (core/src/kafka/envelope.c); nothing else includes the
 * generated *.pb-c.h headers.
 *
 * Every message on the mailferry topics is an Envelope: a schema version,
 * a message id, the sender, a send time and exactly one body: a Job (on
 * <prefix>.jobs and <prefix>.jobs.dlq), a Progress or a Result (on
 * <prefix>.results). Readers refuse a schema version newer than
 * MF_ENVELOPE_SCHEMA_VERSION with MF_E_SCHEMA_VERSION, and anything that
 * does not parse, has no body or fails the checks below with
 * MF_E_ENVELOPE; both say what was wrong in the error detail.
 *
 * Ownership: every char * and array in these structs is owned by the
 * struct that holds it. Unpacked strings are never NULL (empty when the
 * field was absent); for packing, NULL reads as "". mf_envelope_clear()
 * frees everything an envelope owns, whichever body it has.
 */
#ifndef MAILFERRY_ENVELOPE_H
#define MAILFERRY_ENVELOPE_H

#include "mailferry/crypto.h"
#include "mailferry/err.h"
#include "mailferry/window.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this program writes and the newest it reads. */
#define MF_ENVELOPE_SCHEMA_VERSION 1
/* A sensible unpack limit: Kafka's default message.max.bytes. */
#define MF_ENVELOPE_MAX_DEFAULT (1024 * 1024)
/* Progress.waiting_for and .waiting_cap are below these (the numbers of
 * enum mf_migrate_wait and enum mf_caps_cap; worker/keeper.c checks). */
#define MF_ENVELOPE_WAIT_MAX 4
#define MF_ENVELOPE_CAP_MAX 5

/* Values equal those of the protobuf enums (job.proto, result.proto). */
enum mf_job_kind {
    MF_JOB_KIND_UNSPECIFIED = 0,
    MF_JOB_KIND_INITIAL = 1,     /* first full pass */
    MF_JOB_KIND_INCREMENTAL = 2, /* new mail and flag changes */
    MF_JOB_KIND_FINAL = 3,       /* the last pass before Completed */
    MF_JOB_KIND_VERIFY = 4,      /* `batch verify`: compare, read only */
};

enum mf_outcome {
    MF_OUTCOME_UNSPECIFIED = 0,
    MF_OUTCOME_SYNCED = 1,
    MF_OUTCOME_FAILED = 2,
    MF_OUTCOME_STOPPED = 3, /* stopped at a message boundary on request */
    MF_OUTCOME_RETRY = 4,   /* transient failure: re-enqueue */
};

struct mf_job_credentials {
    char *login;            /* user, or admin when impersonating */
    char *authorization_id; /* SASL PLAIN authzid when impersonating */
    bool has_password;
    struct mf_sealed_secret password; /* or an OAuth2 token when oauth */
    bool oauth;
};

struct mf_job {
    char *batch;
    char *mailbox; /* EmailAddress from the CSV */
    char *job_id;  /* unique per (batch, mailbox, pass) */
    uint32_t attempt;
    enum mf_job_kind kind;
    uint64_t pass;
    struct mf_job_credentials source;
    struct mf_job_credentials target;
    char *user_root;
    uint64_t batch_generation;
    uint64_t verify_sample; /* verify jobs: bodies per folder, max = all */
    char *source_profile, *target_profile; /* mailferry/profile.h names */
    /* The date window (mailferry/window.h) the job copies; has_window
     * false for a job made before jobs carried it (the worker then uses
     * the batch's). Unpacking refuses a bound that is not a calendar day
     * and a window with no day inside. */
    bool has_window;
    struct mf_window window;
    /* "strict" or "lenient" (mailferry/profile.h): the mode the batch
     * chose when the job was made; "" in a job made before jobs carried
     * it (the worker then resolves the batch's). Unpacking refuses
     * another word. */
    char *fingerprint;
};

struct mf_counters {
    uint64_t folders_total;
    uint64_t folders_done;
    uint64_t folders_excluded;
    uint64_t messages_source;
    uint64_t bytes_source;
    uint64_t messages_copied;
    uint64_t bytes_copied;
    uint64_t messages_skipped_too_large;
    uint64_t messages_skipped_excluded;
    uint64_t messages_failed;
    uint64_t flags_updated;
    uint64_t messages_already_present;
    uint64_t lease_wait_ms; /* waiting for connection slots (caps) */
    uint64_t throttles, throttle_wait_ms; /* servers' throttling */
    uint64_t bytes_failed; /* bytes of messages_failed: still to copy */
    bool pass_complete;    /* the lists are the mailbox's whole state */
    /* Left on the source by the date window (migrate.h). */
    uint64_t messages_outside_window, bytes_outside_window;
    uint64_t messages_deleted_on_target; /* --sync-deletes */
    uint64_t messages_moved_on_target;   /* --sync-deletes: UID MOVE */
};

struct mf_progress {
    char *batch;
    char *mailbox;
    char *job_id;
    uint32_t attempt;
    char *worker;
    char *current_folder;
    struct mf_counters counters;
    uint64_t sequence; /* increases per job attempt */
    /* The caps now (mailferry/migrate.h, struct mf_migrate_conns):
     * connection leases held per side, what the job waits for (enum
     * mf_migrate_wait), the cap found full (enum mf_caps_cap), how long
     * so far. Unpacking leaves a value it does not know 0. */
    uint32_t source_connections, target_connections;
    uint32_t waiting_for, waiting_cap;
    uint64_t waiting_ms;
};

/* One skipped or failed message. */
struct mf_result_item {
    char *folder;
    uint32_t uid;
    uint64_t size;
    char *internal_date;
    char *subject;
    char *message_id;    /* "" when not known */
    uint32_t error_code; /* mf_err number */
    char *error_name;
    char *error_detail;
};

struct mf_result {
    char *batch;
    char *mailbox;
    char *job_id;
    uint32_t attempt;
    char *worker;
    enum mf_outcome outcome;
    struct mf_counters counters;
    uint32_t error_code; /* mf_err number */
    char *error_name;
    char *error_detail;
    uint64_t started_at_ms;
    uint64_t finished_at_ms;
    struct mf_result_item *skipped; /* owned array of nskipped */
    size_t nskipped;
    struct mf_result_item *failed; /* owned array of nfailed */
    size_t nfailed;
};

enum mf_envelope_body {
    MF_ENVELOPE_NONE,
    MF_ENVELOPE_JOB,
    MF_ENVELOPE_PROGRESS,
    MF_ENVELOPE_RESULT,
};

struct mf_envelope {
    uint32_t schema_version;
    char *message_id;
    uint64_t sent_at_ms; /* producer wall clock, Unix ms */
    char *sender;        /* "mailferry-worker/0.1.0 host" */
    enum mf_envelope_body body;
    /* Only the member that body names is meaningful. */
    struct mf_job job;
    struct mf_progress progress;
    struct mf_result result;
};

/* Zeroes *env and fills the header: the current schema version, a new
 * random message id, the time now and a copy of sender (may be NULL).
 * The caller then fills the body it named. */
void mf_envelope_init(struct mf_envelope *env, enum mf_envelope_body body,
                      const char *sender);

/* Frees everything env owns and zeroes it. Accepts NULL. */
void mf_envelope_clear(struct mf_envelope *env);

/* Packs env into a new buffer *buf_r of *len_r bytes that the caller
 * frees with free(). MF_E_INVALID_ARGUMENT if env has no body or its
 * schema version is not MF_ENVELOPE_SCHEMA_VERSION. */
MF_WARN_UNUSED mf_err mf_envelope_pack(const struct mf_envelope *env,
                                       uint8_t **buf_r, size_t *len_r,
                                       struct mf_error *err);

/* Unpacks len bytes into *env_r (overwritten; clear it with
 * mf_envelope_clear() after a success, nothing to clear after an error).
 * max_len bounds the input (0: MF_ENVELOPE_MAX_DEFAULT) and, through it,
 * the memory used. Checks, besides protobuf's own:
 *   - schema_version is set and at most MF_ENVELOPE_SCHEMA_VERSION
 *     (MF_E_SCHEMA_VERSION for a newer one);
 *   - a body is set, with a known kind or outcome;
 *   - batch and mailbox are set (job_id too, for a job);
 *   - sealed secrets have the sizes AES-256-GCM needs, a valid key id
 *     and at most MF_CRYPTO_SECRET_MAX bytes of ciphertext.
 * Errors: MF_E_LIMIT, MF_E_ENVELOPE, MF_E_SCHEMA_VERSION. */
MF_WARN_UNUSED mf_err mf_envelope_unpack(const uint8_t *buf, size_t len,
                                         size_t max_len,
                                         struct mf_envelope *env_r,
                                         struct mf_error *err);

/* A deep copy of src into *dst_r (overwritten on success; release it
 * with mf_envelope_clear() on the envelope that holds it), made by
 * packing src and unpacking the bytes as mf_envelope_pack() and
 * mf_envelope_unpack() do: every field a job carries on Kafka is copied,
 * sealed secrets included, without a list of fields to keep up to date.
 * The worker's handback re-produces a job this way
 * (tests/unit/kafka/test_jobcopy.c fills every field of job.proto).
 * Fails, with the unpacking checks' MF_E_ENVELOPE, only for a job that
 * would not travel either (no batch, mailbox or job id, a bad window or
 * fingerprint mode, a malformed sealed secret). */
MF_WARN_UNUSED mf_err mf_job_copy(const struct mf_job *src,
                                  struct mf_job *dst_r, struct mf_error *err);

/* The Kafka key of a mailbox's messages, "<batch>/<mailbox>", as a new
 * string the caller frees. Jobs and results of one mailbox share it, so
 * they stay in order on one partition. */
char *mf_envelope_key(const char *batch, const char *mailbox);

/* A sealed secret on its own, as the bytes of a mailferry.v1.SealedSecret
 * protobuf: how the coordinator stores sealed passwords in Redis (the
 * batch store keeps them as opaque blobs). Packing gives a new buffer
 * *buf_r of *len_r bytes that the caller frees with free(); it holds only
 * sealed material, never a secret in clear. Unpacking applies the same
 * checks as a job's credentials in mf_envelope_unpack() (field sizes, key
 * id, at most MF_CRYPTO_SECRET_MAX bytes of ciphertext): MF_E_ENVELOPE
 * for anything else, MF_E_LIMIT for an input above 2 * MF_CRYPTO_SECRET_MAX
 * bytes. *s_r is overwritten on success only; release it with
 * mf_sealed_secret_clear(). */
MF_WARN_UNUSED mf_err mf_sealed_secret_pack(const struct mf_sealed_secret *s,
                                            uint8_t **buf_r, size_t *len_r,
                                            struct mf_error *err);
MF_WARN_UNUSED mf_err mf_sealed_secret_unpack(const uint8_t *buf, size_t len,
                                              struct mf_sealed_secret *s_r,
                                              struct mf_error *err);

/* Stable names for logs and reports ("initial", "synced", ...). */
const char *mf_job_kind_name(enum mf_job_kind kind);
const char *mf_outcome_name(enum mf_outcome outcome);

#endif
