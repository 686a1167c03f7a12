/*
 * `mailferry verify` (issue 11 section 6): an independent answer to "is
 * everything there?" before the MX switch. It trusts none of mailferry's
 * own records (no checkpoint, no result): per folder of the folder plan
 * (the same source-to-target mapping the migration uses) it lists both
 * sides read-only (EXAMINE; UID, FLAGS, INTERNALDATE, RFC822.SIZE and
 * BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]) and compares them.
 *
 * Matching (compare.c, no I/O): a message's key is its fingerprint
 * (mailferry/fingerprint.h) over the Message-ID alone when it has one,
 * else the strict fingerprint (size and INTERNALDATE). Messages with one
 * key pair up in UID order on both sides, so a message that is twice in
 * the source must be twice on the target. Then:
 *   - a source message without a partner is MISSING;
 *   - a target message without a partner is EXTRA, or DUPLICATE when the
 *     source has its key (one copy too many);
 *   - a pair whose flag sets differ (system flags and keywords, ignoring
 *     case and \Recent) is FLAGS;
 *   - a pair whose INTERNALDATE instants differ is DATE;
 *   - a pair whose RFC822.SIZE differs, or whose bodies (BODY.PEEK[],
 *     SHA-256) differ when they were fetched (--deep, --sample N), is
 *     BYTES.
 * Bodies are never fetched unless asked, and no difference carries any of
 * a body: folder, UIDs, INTERNALDATE, Subject and the two values compared.
 *
 * verify.c drives it against two servers under the migration's options:
 * the same logins, folder rules and fleet caps. run.c verifies many
 * mailboxes N at a time in this process (`verify`, `batch verify`);
 * fleet.c sends them to the workers as verify jobs (`batch verify
 * --kafka`).
 */
#ifndef MAILFERRY_VERIFY_H
#define MAILFERRY_VERIFY_H

#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/err.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"
#include "mailferry/util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One message as listed. Strings are owned by whoever built the list
 * (compare.c only reads them). */
struct mf_verify_msg {
    uint32_t uid;
    uint64_t size;
    int64_t when;           /* INTERNALDATE, Unix seconds UTC */
    const char *date;       /* INTERNALDATE as sent, or NULL */
    const char *flags;      /* space separated; \Recent is ignored */
    const char *message_id; /* NULL or "": none */
    const char *subject;    /* decoded, or NULL */
    bool hashed;            /* body hash below was computed */
    uint8_t hash[32];       /* SHA-256 of BODY[] */
};

enum mf_verify_kind {
    MF_VERIFY_MISSING = 0, /* on the source, not on the target */
    MF_VERIFY_EXTRA,       /* on the target, not on the source */
    MF_VERIFY_DUPLICATE,   /* on the target once more than on the source */
    MF_VERIFY_FLAGS,       /* flags or keywords differ */
    MF_VERIFY_DATE,        /* INTERNALDATE differs */
    MF_VERIFY_BYTES,       /* size or body differs */
    MF_VERIFY_FOLDER,      /* the folder could not be compared */
    MF_VERIFY_KIND_COUNT
};

/* "missing", "extra", "duplicate", "flags", "date", "bytes", "folder". */
const char *mf_verify_kind_name(enum mf_verify_kind k);

/* One difference. Everything owned by the result. */
struct mf_verify_diff {
    enum mf_verify_kind kind;
    char *folder;     /* the source folder's name (the target's for EXTRA
                         and DUPLICATE when the source has no such folder) */
    uint32_t src_uid; /* 0 when none */
    uint32_t tgt_uid; /* 0 when none */
    char *date;       /* INTERNALDATE text of the message, or NULL */
    int64_t when;     /* the same as Unix seconds UTC; 0 unknown */
    char *subject;    /* or NULL */
    char *detail;     /* what differs: "source (\Seen) target ()" */
};

/* One mailbox's verification. */
struct mf_verify_result {
    struct mf_error error; /* set when it could not be verified at all */
    uint64_t folders;      /* folders compared */
    uint64_t src_messages, tgt_messages;
    uint64_t compared_bodies; /* pairs whose bodies were hashed */
    struct mf_verify_diff *diffs;
    size_t n_diffs;
};

/* ------------------------------------------------------------------ */
/* Comparing one folder (compare.c, no I/O)                            */
/* ------------------------------------------------------------------ */

/* Pairs src with tgt (see the top of the file): src_pair_r[i] is the
 * index in tgt of src[i]'s partner, or SIZE_MAX; tgt_pair_r likewise.
 * Both arrays are allocated by the caller (ns and nt entries). */
void mf_verify_pair(const struct mf_verify_msg *src, size_t ns,
                    const struct mf_verify_msg *tgt, size_t nt,
                    size_t *src_pair_r, size_t *tgt_pair_r);

/* Which paired source messages get their bodies compared: all when
 * sample is SIZE_MAX (--deep), else up to sample of them spread evenly
 * over the folder. Sets want_r[i] for source message i (ns entries,
 * caller-allocated); returns how many. */
size_t mf_verify_pick(const size_t *src_pair, size_t ns, size_t sample,
                      bool *want_r);

/* Compares one folder (label: its name in the differences) whose
 * messages were listed, bodies hashed where wanted, and adds the counts
 * and differences to res. */
void mf_verify_compare(const char *label, const struct mf_verify_msg *src,
                       size_t ns, const struct mf_verify_msg *tgt, size_t nt,
                       struct mf_verify_result *res);

/* Adds one difference about message m (its date and subject; NULL:
 * none). Strings are copied; any may be NULL. */
void mf_verify_add(struct mf_verify_result *res, enum mf_verify_kind kind,
                   const char *folder, uint32_t src_uid, uint32_t tgt_uid,
                   const struct mf_verify_msg *m, const char *detail);

/* Frees what res owns and zeroes it. */
void mf_verify_result_clear(struct mf_verify_result *res);

/* ------------------------------------------------------------------ */
/* Verifying one mailbox against the servers (verify.c)                */
/* ------------------------------------------------------------------ */

/* Bodies compared per folder (0: none; SIZE_MAX: all, --deep). */
struct mf_verify_options {
    const struct mf_migrate_options *migrate; /* servers, rules, caps */
    size_t sample;
};

/* Verifies mailbox (its name in logs and leases) from src to dst.
 * Returns MF_E_OK when it was compared (res says whether equal), else
 * the error that stopped it (also in res->error). */
MF_WARN_UNUSED mf_err mf_verify_mailbox(const struct mf_verify_options *o,
                                        const char *mailbox,
                                        const struct mf_migrate_login *src,
                                        const struct mf_migrate_login *dst,
                                        struct mf_verify_result *res);

/* ------------------------------------------------------------------ */
/* Results in a batch (core/src/batch/verify.c)                        */
/* ------------------------------------------------------------------ */

/* Stores mailbox email's result in batch (replacing the last one), at
 * time now (Unix seconds), for `batch report`. */
MF_WARN_UNUSED mf_err mf_batch_verify_put(struct mf_redis *r, const char *batch,
                                          const char *email,
                                          const struct mf_verify_result *res,
                                          int64_t now, struct mf_error *err);
/* The same, from verify job job_id (read back by mf_batch_verify_get()). */
MF_WARN_UNUSED mf_err mf_batch_verify_put_job(
    struct mf_redis *r, const char *batch, const char *email,
    const char *job_id, const struct mf_verify_result *res, int64_t now,
    struct mf_error *err);

/* A mailbox's last stored verification, as `batch verify --wait` polls
 * it. */
struct mf_batch_verdict {
    enum mf_report_verify status;     /* MF_REPORT_NOT_VERIFIED when none */
    char job_id[MF_BATCH_JOB_ID_MAX]; /* the verify job's; "" from `verify` */
    uint64_t differences;
    int64_t at;
    mf_err error_code;
    char error_detail[256];
};
MF_WARN_UNUSED mf_err mf_batch_verify_get(struct mf_redis *r, const char *batch,
                                          const char *email,
                                          struct mf_batch_verdict *v_r,
                                          struct mf_error *err);

/* The claim of a verify job (kind MF_JOB_KIND_VERIFY): a lease of its own
 * beside the mailbox record, so that verifying never changes the
 * mailbox's job, attempt or state. It is refused with MF_E_CLAIMED when
 * another verify of the mailbox holds it, and with MF_E_VERIFY_BUSY when
 * a migration of the mailbox holds its claim. token as in
 * mf_batch_claim(). The lease (lease_r->verify set) is renewed and
 * released with mf_batch_renew() and mf_batch_release(); nothing
 * requeues an expired one: a lost verify job is simply not verified. */
MF_WARN_UNUSED mf_err
mf_batch_verify_claim(struct mf_redis *r, const char *batch, const char *email,
                      const char *job_id, uint32_t attempt,
                      const char *worker_id, const char *token, int64_t ttl_ms,
                      struct mf_batch_lease *lease_r, struct mf_error *err);
/* Used by mf_batch_renew() and mf_batch_release() for a verify lease. */
mf_err mf__batch_verify_lease(struct mf_redis *r, struct mf_batch_lease *lease,
                              const char *op, int64_t ttl_ms,
                              struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Many mailboxes: in this process (run.c) or through the fleet        */
/* ------------------------------------------------------------------ */

/* How a run of verifications ended; the values are the exit codes of
 * `verify` and `batch verify`. */
enum mf_verify_outcome {
    MF_VERIFY_EQUAL = 0,      /* every mailbox verified equal */
    MF_VERIFY_DIFFER = 1,     /* a mailbox has a difference */
    MF_VERIFY_INCOMPLETE = 3, /* a mailbox was not verified */
};

/* Makes mailbox i's logins; what they point to stays valid until
 * release(ud, hold) (hold: the callback's own state for mailbox i). On
 * failure err says why and release is not called. */
typedef mf_err (*mf_verify_login_fn)(void *ud, size_t i,
                                     struct mf_migrate_login *src,
                                     struct mf_migrate_login *dst, void **hold,
                                     struct mf_error *err);
typedef void (*mf_verify_release_fn)(void *ud, void *hold);

struct mf_verify_run {
    /* Filled by the caller. */
    struct mf_verify_options vo;
    const char *const *email; /* n, borrowed */
    size_t n;
    mf_verify_login_fn login;
    mf_verify_release_fn release;
    void *ud;
    const atomic_bool *stop;
    /* Results, owned (mf_verify_run_go() allocates them). */
    struct mf_verify_result *res;
    bool *ran;
    atomic_size_t next;
};

/* Verifies every mailbox with concurrency threads, stores the results in
 * batch when redis is not NULL, prints them (text or JSON) on stdout. */
enum mf_verify_outcome mf_verify_run_go(struct mf_verify_run *r,
                                        unsigned concurrency,
                                        struct mf_redis *redis,
                                        const char *batch, bool json);
void mf_verify_run_free(struct mf_verify_run *r);

/* `batch verify --kafka`: the mailboxes' jobs as verify jobs. */
struct mf_verify_fleet {
    const struct mf_config *config; /* Kafka and the topic prefix */
    struct mf_redis *redis;
    const struct mf_crypto_keyring *kr;
    const char *batch;
    struct mf_job *jobs; /* n, built by the caller for every mailbox */
    size_t n;
    size_t sample;      /* bodies compared per folder */
    bool wait, json;    /* --wait for the verdicts; --json */
    uint64_t timeout_s; /* of --wait */
    const atomic_bool *stop;
};

/* Produces jobs[] (their ids, kind and sample are set here) as verify
 * jobs and, with wait, waits for their verdicts and prints them. The
 * outcome as mf_verify_run_go() with wait, else MF_VERIFY_EQUAL once Kafka
 * has the jobs (MF_VERIFY_INCOMPLETE when it could not take them). */
enum mf_verify_outcome mf_verify_fleet_go(const struct mf_verify_fleet *f);

/* `batch verify`: the mailboxes of a stored batch verified from its own
 * definition (servers, admins, folder rules, size cap, window, profiles
 * and caps) and its sealed passwords, each opened right before its login
 * and wiped after it, as a worker does (batch.c). */
struct mf_verify_batch {
    /* Filled by the caller, borrowed. */
    struct mf_redis *redis;
    const struct mf_crypto_keyring *kr;
    const char *batch;
    const char *redis_url;    /* for the caps' leases */
    const char *bind_address; /* or NULL */
    const char *egress_ip;    /* or NULL */
    long lease_ttl_ms;
    const atomic_bool *stop;
    /* Read by mf_verify_batch_load(), owned. */
    struct mf_batch_config *cfg;
    struct mf_job *jobs; /* n: one per mailbox, as a job would carry */
    char **emails;       /* n */
    size_t n;
    struct mf_migrate_server src, dst;
    struct mf_folder_rules *rules;
    struct mf_migrate_caps caps;
    char holder[128];
    struct mf_migrate_options mo; /* points into the above */
};

/* Reads the batch's configuration and builds every mailbox's job. Errors:
 * the store's (MF_E_NOT_FOUND...), the servers' and rules', and the first
 * mailbox whose job could not be built, err naming it. */
MF_WARN_UNUSED mf_err mf_verify_batch_load(struct mf_verify_batch *b,
                                           struct mf_error *err);
/* Points r (filled by the caller with its verify options) at b's
 * mailboxes, migrate options and logins for mf_verify_run_go(). */
void mf_verify_batch_run(struct mf_verify_batch *b, struct mf_verify_run *r);
/* Frees what mf_verify_batch_load() read. */
void mf_verify_batch_free(struct mf_verify_batch *b);

/* `verify FILE`: the mailboxes of a CSV's rows, logged in as a process
 * that connects itself (mf_jobs_direct_logins(), csv.c). */
struct mf_csv_mailbox;
struct mf_verify_csv {
    struct mf_jobs_direct_side sides[2]; /* source, target; by the caller */
    const struct mf_csv_mailbox *rows;   /* n, borrowed, by the caller */
    size_t n;
    const char **emails; /* owned: the rows' (borrowed) addresses */
};
/* Points r (filled by the caller with its verify options, migrate
 * options and stop flag) at c's mailboxes and logins. */
void mf_verify_csv_run(struct mf_verify_csv *c, struct mf_verify_run *r);
void mf_verify_csv_free(struct mf_verify_csv *c);

/* Reads the options of MF_VERIFY_RUN_OPTIONS from c: --concurrency
 * into *concurrency_r (default MF_MIGRATE_DEFAULT_CONCURRENCY, 1 to
 * 256), --sample and --deep (every message) into vo->sample.
 * The error of mf_config_get_u64() or mf_config_get_bool() (err names
 * the option) when one does not read; nothing is changed then. */
MF_WARN_UNUSED mf_err mf_verify_options_read(const struct mf_config *c,
                                             uint64_t *concurrency_r,
                                             struct mf_verify_options *vo,
                                             struct mf_error *err);

/* Their option table entries (struct mf_option, mailferry/args.h), for
 * the tables of `verify` and `batch verify`. */
#define MF_VERIFY_RUN_OPTIONS                                                  \
    {"concurrency", true,                                                      \
     "mailboxes verified at the same time (default " MF_STR(                   \
         MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},                                 \
        {"sample", true,                                                       \
         "also compare the bodies (SHA-256 of BODY.PEEK[]) of N messages per " \
         "folder, spread over it (default 0: sizes only)"},                    \
        {"deep", false, "compare the bodies of every message"},

#endif
