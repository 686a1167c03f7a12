/*
 * Internals of the batch module (see mailferry/batch.h): key names, a
 * growable argument vector for binary-safe commands, the Lua scripts and
 * their runner, and small reply helpers shared by the files of the module:
 *
 *   state.c    state names, transition tables (pure)
 *   script.c   names the Lua scripts (lua/<name>.lua, embedded at build time)
 *   store.c    create, get, list, remove, mailbox records
 *   jobs.c     passes, stop, settle, claims, requeue
 *   results.c  progress, results, the item codec
 *   report.c   the report model built from the records
 */
#ifndef MF_BATCH_INT_H
#define MF_BATCH_INT_H

#include "mailferry/batch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mailboxes per script call when walking a batch. */
#define MF__BATCH_CHUNK 200

/* One chunk of a batch's mailbox list: the EmailAddresses (borrowed for
 * the call), in list order. */
typedef mf_err (*mf__batch_chunk_cb)(void *ud, const char *const *emails,
                                     size_t n, struct mf_error *err);
/* The one walk over a batch's mailbox list (mailbox.c): LRANGE
 * MF__BATCH_CHUNK names at a time, cb for each chunk, until cb fails or
 * the list ends. A list that changes meanwhile is walked as it is at
 * each step (a pass or a listing is resumable, see jobs.c). */
MF_WARN_UNUSED mf_err mf__batch_walk(struct mf_redis *r, const char *batch,
                                     mf__batch_chunk_cb cb, void *ud,
                                     struct mf_error *err);

/* Key buffer size: "mf:{b:<64>}:mb:<320>:skipped" fits easily. */
#define MF__BATCH_KEY_MAX 512

/* The batch's folder rule lists, each described once (helpers.c's
 * mf__batch_rule_lists[]), and every path walks this table: `batch
 * create` reads each from its option (def.c) and RPUSHes it (create.c),
 * mf_batch_get() reads it back and mf_batch_config_free() frees it
 * (store.c), the workers parse it (mf_batch_config_rules()), `batch
 * create` shows it (show.c) and `batch set` replaces the settable ones
 * (settings.c). Index l of the table is list[l] of struct mf__batch_keys.
 * The items are the admin's words, one per LIST element, in order. */
#define MF__BATCH_RULE_LISTS 4
struct mf_folder_rules;
struct mf__batch_rule_list {
    const char *option;  /* --<option> and the definition file's key */
    const char *key;     /* the LIST "mf:{b:N}:<key>" */
    const char *json;    /* the key of `batch create --json`'s array */
    size_t items, count; /* offsetof(struct mf_batch_config, ...) of the
                          * char ** and of its size_t length */
    /* Adds one item to rules, as a worker reads it. */
    mf_err (*parse)(struct mf_folder_rules *rules, const char *item,
                    struct mf_error *err);
    bool settable; /* `batch set --<option>` replaces the list */
    bool shown;    /* `batch create` lists it as "  <option> ITEM" */
};
extern const struct mf__batch_rule_list
    mf__batch_rule_lists[MF__BATCH_RULE_LISTS];
/* List l of c: its items (*n_r of them; NULL when none). The pointers
 * are c's own, so that a caller may replace or free them. */
char ***mf__batch_rule_items(struct mf_batch_config *c, size_t l, size_t **n_r);
/* List l of c, read only: its items, *n_r of them. */
char *const *mf__batch_rule_view(const struct mf_batch_config *c, size_t l,
                                 size_t *n_r);
/* Frees every rule list of c and empties it. */
void mf__batch_rule_lists_free(struct mf_batch_config *c);

/* The batch-level keys. */
struct mf__batch_keys {
    char batch[MF__BATCH_KEY_MAX];     /* HASH */
    char mailboxes[MF__BATCH_KEY_MAX]; /* LIST */
    char claims[MF__BATCH_KEY_MAX];    /* ZSET */
    char results[MF__BATCH_KEY_MAX];   /* SET */
    char samples[MF__BATCH_KEY_MAX];   /* LIST */
    char changes[MF__BATCH_KEY_MAX];   /* LIST: mf_batch_set() history */
    char mb_prefix[MF__BATCH_KEY_MAX]; /* "mf:{b:N}:mb:" */
    char list[MF__BATCH_RULE_LISTS][MF__BATCH_KEY_MAX]; /* LIST: the rules */
};
void mf__batch_keys(struct mf__batch_keys *k, const char *batch);
/* "mf:{b:N}:mb:<email><suffix>" (suffix "" / ":skipped" / ":failed"). */
void mf__batch_mb_key(char *out, size_t n, const char *batch, const char *email,
                      const char *suffix);
/* "mf:{b:N}:ckpt:<email>" (checkpoint.h's layout). */
void mf__batch_ckpt_key(char *out, size_t n, const char *batch,
                        const char *email);
/* "mf:{batches}:index". */
void mf__batch_index_key(char *out, size_t n);
/* Checks name (MF_E_INVALID_ARGUMENT) so keys stay in one hash tag. */
MF_WARN_UNUSED mf_err mf__batch_check_name(const char *name,
                                           struct mf_error *err);
/* A claim's arguments checked (the batch name, a worker id, mailbox and
 * job id that fit the lease, a ttl, a token of at most
 * 2 * MF_BATCH_TOKEN_LEN) and the lease *l zeroed and filled with them;
 * what ("claim", "verify claim") heads the MF_E_INVALID_ARGUMENT text.
 * Used by mf_batch_claim() and mf_batch_verify_claim(). */
MF_WARN_UNUSED mf_err mf__batch_lease_init(struct mf_batch_lease *l,
                                           const char *what, const char *batch,
                                           const char *email,
                                           const char *job_id, uint32_t attempt,
                                           const char *worker_id,
                                           const char *token, int64_t ttl_ms,
                                           struct mf_error *err);

/* A growable, binary-safe argument vector. Strings are copied. For a
 * script (mf__batch_script_argv()) it holds the keys, then the args. */
struct mf__batch_argv {
    char **v; /* owned */
    size_t *len;
    size_t n, cap;
    const struct mf_redis_script *script; /* borrowed: static; or NULL */
    size_t nkeys;
};
void mf__batch_argv_add(struct mf__batch_argv *a, const void *p, size_t len);
/* s NULL adds "". */
void mf__batch_argv_adds(struct mf__batch_argv *a, const char *s);
/* A secret's bytes (none when b->data is NULL). */
void mf__batch_argv_add_blob(struct mf__batch_argv *a,
                             const struct mf_batch_blob *b);
void mf__batch_argv_addu(struct mf__batch_argv *a, uint64_t v);
void mf__batch_argv_addi(struct mf__batch_argv *a, int64_t v);
/* Adds every key one mailbox of batch owns: its record first, then its
 * item lists, verification keys, checkpoint and flag state. The keys
 * that removing a batch unlinks and lua/edit_drop.lua deletes (its
 * KEYS_PER is MF__BATCH_MB_KEYS). */
#define MF__BATCH_MB_KEYS 8
void mf__batch_argv_add_mb_keys(struct mf__batch_argv *a, const char *batch,
                                const char *email);
void mf__batch_argv_reset(struct mf__batch_argv *a);
/* Resets and frees the vector's storage (reusable afterwards). */
void mf__batch_argv_free(struct mf__batch_argv *a);
/* Runs the vector as one command. */
MF_WARN_UNUSED mf_err mf__batch_argv_run(struct mf_redis *r,
                                         struct mf__batch_argv *a,
                                         redisReply **reply_r,
                                         struct mf_error *err);

/* store.c, shared with create.c. */
/* Runs a vector; *int_r (when given) is an integer reply, else 0. */
MF_WARN_UNUSED mf_err mf__batch_simple(struct mf_redis *r,
                                       struct mf__batch_argv *a,
                                       long long *int_r, struct mf_error *err);
MF_WARN_UNUSED mf_err mf__batch_exists(struct mf_redis *r, const char *key,
                                       bool *yes_r, struct mf_error *err);
/* SADD or SREM of name in the global index (best effort). */
void mf__batch_index_op(struct mf_redis *r, const char *op, const char *name);
/* The batch hash's text fields, XX(member of struct mf_batch_config,
 * "hash field"), and its sealed secrets (struct mf_batch_blob) likewise:
 * create.c writes them, store.c reads and frees them. "name" is written
 * too but read from the key. */
#define MF__BATCH_TEXT_FIELDS(XX)                                              \
    XX(source, "source")                                                       \
    XX(target, "target")                                                       \
    XX(ca_file, "ca_file")                                                     \
    XX(admin_user, "admin_user")                                               \
    XX(admin_login_format, "admin_login_format")                               \
    XX(target_admin_user, "target_admin_user")                                 \
    XX(target_admin_login_format, "target_admin_login_format")                 \
    XX(separator_replacement, "separator_replacement")                         \
    XX(target_root, "target_root")                                             \
    XX(source_profile, "s_profile")                                            \
    XX(target_profile, "t_profile")                                            \
    XX(fingerprint, "fp_mode")                                                 \
    XX(gmail_archive_folder, "gmail_archive")
#define MF__BATCH_SECRET_FIELDS(XX)                                            \
    XX(admin_password, "admin_password")                                       \
    XX(target_admin_password, "target_admin_password")
/* One side's OAuth2 settings, field by field (absent when the side has
 * none). */
#define MF__BATCH_OAUTH_FIELDS 7 /* MF_BATCH_OAUTH_TEXT's */
extern const char *const mf__batch_oauth_fields[MF__BATCH_OAUTH_FIELDS];
char **mf__batch_oauth_field(struct mf_batch_oauth *o, size_t i);

/* The scripts (script.c). Each starts with a common prelude. */
enum mf__batch_script {
    MF__BS_CREATE_MB,
    MF__BS_SET_STATE,
    MF__BS_MB_SET_STATE,
    MF__BS_GETMANY,
    MF__BS_PASS_BEGIN,
    MF__BS_PASS_CHUNK,
    MF__BS_PASS_END,
    MF__BS_STOP,
    MF__BS_SETTLE,
    MF__BS_CLAIM,
    MF__BS_RENEW,
    MF__BS_RELEASE,
    MF__BS_EXPIRED,
    MF__BS_REQUEUE,
    MF__BS_PROGRESS,
    MF__BS_RESULT,
    MF__BS_VERIFY_CLAIM,
    MF__BS_MB_WAIT,
    MF__BS_COUNT
};
/* A script's embedded text and SHA-1 (for EVAL inside MULTI). */
const struct mf_redis_script *mf__batch_script(enum mf__batch_script s);
/* Starts a script call: resets a and records s and nkeys; add the keys,
 * then the args, and run it with mf__batch_script_run(), which is
 * mf_redis_script_run() (EVALSHA, EVAL on NOSCRIPT, Redis' errors mapped
 * to codes). */
void mf__batch_script_argv(struct mf__batch_argv *a, enum mf__batch_script s,
                           int nkeys);
MF_WARN_UNUSED mf_err mf__batch_script_run(struct mf_redis *r,
                                           struct mf__batch_argv *a,
                                           redisReply **reply_r,
                                           struct mf_error *err);
/* Makes a script's {"ERR"...}-style status replies errors: element 0 of
 * the array reply is a status word; "OK" is success. Returns the word or
 * NULL when the reply is not of that shape. */
const char *mf__batch_reply_word(const redisReply *reply);
/* Element i of an array reply as string / integer. */
const char *mf__batch_reply_str(const redisReply *reply, size_t i,
                                size_t *len_r);
long long mf__batch_reply_ll(const redisReply *reply, size_t i);

/* Hash reply (HGETALL: field, value, ...) lookup; NULL when absent. */
const redisReply *mf__batch_hget(const redisReply *h, const char *field);
uint64_t mf__batch_hget_u64(const redisReply *h, const char *field);
int64_t mf__batch_hget_i64(const redisReply *h, const char *field);
/* A time field of an HGETALL reply in ms: its twin <field>_ms when that
 * agrees with the seconds in <field>, else those seconds * 1000 (a record
 * from before the twins, or one a writer from before them changed). */
int64_t mf__batch_hget_ms(const redisReply *h, const char *field);
/* One element of the samples list ("<ms>ms <messages> <bytes>", or
 * "<seconds> <messages> <bytes>" from before ms) into *s_r; false (and
 * *s_r untouched) when it is neither. */
bool mf__batch_sample_parse(const char *s, struct mf_batch_sample *s_r);
double mf__batch_hget_double(const redisReply *h, const char *field);
/* A new string copy of a field, or NULL when absent or empty. */
char *mf__batch_hget_strdup(const redisReply *h, const char *field);
/* An owned copy of a binary field into *b; *b untouched when the field
 * is absent or empty. */
void mf__batch_hget_blob(const redisReply *h, const char *field,
                         struct mf_batch_blob *b);
/* Copies a field into out (truncated; "" when absent). */
void mf__batch_hget_copy(const redisReply *h, const char *field, char *out,
                         size_t n);

/* Fills a mailbox record from its HGETALL reply (owned copies). */
void mf__batch_mailbox_fill(struct mf_batch_mailbox *mb, const redisReply *h);
void mf__batch_mailbox_clear(struct mf_batch_mailbox *mb);

/* Kind names in job ids and records: "full", "incremental", "final". */
const char *mf__batch_kind_name(enum mf_job_kind k);
enum mf_job_kind mf__batch_kind_parse(const char *s);

/* The item codec: a length-prefixed record "<len>:<bytes>" per field
 * (folder, uid, size, internal_date, subject, code, name, detail, and
 * message_id only when there is one). */
void mf__batch_item_encode(struct mf_buf *out, const struct mf_batch_item *it);
/* Decodes into *it_r, whose strings point into *store_r, a new block
 * the caller frees. false (nothing to free) when malformed. */
bool mf__batch_item_decode(const char *s, size_t len, char **store_r,
                           struct mf_batch_item *it_r);

/* The one walk over a mailbox's item list "mf:{b:N}:mb:<email><suffix>"
 * (lists.c): cb with each item that decodes, at most MF_BATCH_ITEMS_MAX,
 * until cb fails. */
MF_WARN_UNUSED mf_err mf__batch_items(struct mf_redis *r, const char *batch,
                                      const char *email, const char *suffix,
                                      mf_batch_item_cb cb, void *ud,
                                      struct mf_error *err);

/* The same walk over an LRANGE reply read elsewhere (in a pipeline). */
MF_WARN_UNUSED mf_err mf__batch_items_reply(const redisReply *reply,
                                            mf_batch_item_cb cb, void *ud);

/* The LRANGE that mf__batch_items() sends, for a pipeline. */
struct mf__batch_items_cmd {
    char key[MF__BATCH_KEY_MAX];
    char last[16];
    const char *argv[4];
    size_t len[4];
};
void mf__batch_items_command(struct mf__batch_items_cmd *c, const char *batch,
                             const char *email, const char *suffix);

/* A Redis status word turned into an error with a clear detail. */
mf_err mf__batch_refused(struct mf_error *err, const redisReply *reply,
                         const char *batch, const char *email,
                         const char *what);

/* Adds mailbox email's last `mailferry verify` result (verify.c) to
 * report mailbox i: its verdict and differences. verify is the reply of
 * HGETALL mf:{b:N}:mb:<email>:verify, read by the caller (in a pipeline
 * with the mailbox's other lists); the differences are read here, only
 * when there are some. */
MF_WARN_UNUSED mf_err mf__batch_verify_load(struct mf_redis *r,
                                            const char *batch,
                                            const char *email,
                                            const redisReply *verify,
                                            struct mf_report_batch *rep,
                                            size_t i, struct mf_error *err);

/* The unit a connection cap option (MF_BATCH_CAPS, with or without
 * "target-") is read with, the one rule for `batch create` and `batch
 * set` (def.c): bytes (k/M/G) for --max-bytes-per-second, a plain number
 * for the counts. false when option is no cap. */
enum mf_config_unit;
bool mf__batch_cap_unit(const char *option, enum mf_config_unit *unit_r);

/* Records cfg's connection caps (none: that it has none changed yet)
 * beside each side's leases for the jobs running (mf_caps_configured_set();
 * settings.c): `batch set` of a cap, and a create, which forgets what a
 * removed batch of that name left. */
MF_WARN_UNUSED mf_err mf__batch_caps_record(struct mf_redis *r,
                                            const struct mf_batch_config *cfg,
                                            bool none, struct mf_error *err);

#endif
