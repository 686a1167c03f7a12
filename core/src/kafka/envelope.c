/*
 * Envelopes: the only module that calls protobuf-c's pack and unpack
 * (STYLE.md "Memory"). It converts between the typed structs of
 * mailferry/envelope.h and the generated Mailferry__V1__* structs.
 *
 * Packing builds the generated structs on the stack (and a few small heap
 * arrays for repeated fields) pointing at the caller's strings, so nothing
 * is copied before protobuf-c serialises. Unpacking runs protobuf-c with
 * an allocator that stops at a budget proportional to the input size, so
 * a hostile message cannot make the process grow (protobuf-c turns a
 * failed allocation into a failed unpack), then copies the fields into
 * the typed structs, checks them and frees protobuf-c's tree. The typed
 * structs own everything they hold.
 */
#include "mailferry/envelope.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include "mailferry/v1/envelope.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Mailferry__V1__Envelope PbEnvelope;
typedef Mailferry__V1__Job PbJob;
typedef Mailferry__V1__Credentials PbCredentials;
typedef Mailferry__V1__SealedSecret PbSealed;
typedef Mailferry__V1__Counters PbCounters;
typedef Mailferry__V1__Progress PbProgress;
typedef Mailferry__V1__Result PbResult;
typedef Mailferry__V1__Item PbItem;
typedef Mailferry__V1__DateWindow PbWindow;

/* ------------------------------------------------------------------ */
/* Fields                                                             */
/* ------------------------------------------------------------------ */

/* The fields that travel as they are, each listed once for packing,
 * unpacking and clearing: T(name) is text (an owned char * in the typed
 * struct, "" on the wire for NULL), N(name) a number or bool copied as it
 * is. The typed and the generated structs use the same names. Fields
 * that need more (an enum cast, a check, a nested message) are handled
 * by hand beside the expansions. */
#define JOB_FIELDS(T, N)                                                       \
    T(batch)                                                                   \
    T(mailbox)                                                                 \
    T(job_id)                                                                  \
    N(attempt)                                                                 \
    N(pass)                                                                    \
    T(user_root)                                                               \
    N(batch_generation)                                                        \
    N(verify_sample)                                                           \
    T(source_profile)                                                          \
    T(target_profile)                                                          \
    T(fingerprint)

#define PROGRESS_FIELDS(T, N)                                                  \
    T(batch)                                                                   \
    T(mailbox)                                                                 \
    T(job_id)                                                                  \
    N(attempt)                                                                 \
    T(worker)                                                                  \
    T(current_folder)                                                          \
    N(sequence)                                                                \
    N(source_connections)                                                      \
    N(target_connections)

#define RESULT_FIELDS(T, N)                                                    \
    T(batch)                                                                   \
    T(mailbox)                                                                 \
    T(job_id)                                                                  \
    N(attempt)                                                                 \
    T(worker)                                                                  \
    N(error_code)                                                              \
    T(error_name)                                                              \
    T(error_detail)                                                            \
    N(started_at_ms)                                                           \
    N(finished_at_ms)

#define ITEM_FIELDS(T, N)                                                      \
    T(folder)                                                                  \
    N(uid)                                                                     \
    N(size)                                                                    \
    T(internal_date)                                                           \
    T(subject)                                                                 \
    T(message_id)                                                              \
    N(error_code)                                                              \
    T(error_name)                                                              \
    T(error_detail)

#define COUNTERS_FIELDS(N)                                                     \
    N(folders_total)                                                           \
    N(folders_done)                                                            \
    N(folders_excluded)                                                        \
    N(messages_source)                                                         \
    N(bytes_source)                                                            \
    N(messages_copied)                                                         \
    N(bytes_copied)                                                            \
    N(messages_skipped_too_large)                                              \
    N(messages_skipped_excluded)                                               \
    N(messages_failed)                                                         \
    N(flags_updated)                                                           \
    N(messages_already_present)                                                \
    N(lease_wait_ms)                                                           \
    N(throttles)                                                               \
    N(throttle_wait_ms)                                                        \
    N(bytes_failed)                                                            \
    N(pass_complete)                                                           \
    N(messages_outside_window)                                                 \
    N(bytes_outside_window)                                                    \
    N(messages_deleted_on_target)                                              \
    N(messages_moved_on_target)

/* The expansions, between a typed struct *x and a generated one *pb. */
#define FREE_T(f) free(x->f);
#define PACK_T(f) pb->f = s(x->f);
#define UNPACK_T(f) x->f = dup(pb->f);
#define PACK_N(f) pb->f = x->f;
#define UNPACK_N(f) x->f = pb->f;
#define SKIP_N(f)

/* ------------------------------------------------------------------ */
/* Clearing                                                           */
/* ------------------------------------------------------------------ */

static void
clear_credentials(struct mf_job_credentials *c) {
    free(c->login);
    free(c->authorization_id);
    mf_sealed_secret_clear(&c->password);
}

static void
clear_items(struct mf_result_item *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct mf_result_item *x = &items[i];
        ITEM_FIELDS(FREE_T, SKIP_N)
    }
    free(items);
}

static void
clear_job(struct mf_job *x) {
    JOB_FIELDS(FREE_T, SKIP_N)
    clear_credentials(&x->source);
    clear_credentials(&x->target);
}

static void
clear_progress(struct mf_progress *x) {
    PROGRESS_FIELDS(FREE_T, SKIP_N)
}

static void
clear_result(struct mf_result *x) {
    RESULT_FIELDS(FREE_T, SKIP_N)
    clear_items(x->skipped, x->nskipped);
    clear_items(x->failed, x->nfailed);
}

void
mf_envelope_clear(struct mf_envelope *env) {
    if (!env)
        return;
    free(env->message_id);
    free(env->sender);
    clear_job(&env->job);
    clear_progress(&env->progress);
    clear_result(&env->result);
    memset(env, 0, sizeof(*env));
}

/* ------------------------------------------------------------------ */
/* Packing                                                            */
/* ------------------------------------------------------------------ */

/* protobuf-c takes char * but only reads while packing. */
static char *
s(const char *p) {
    return (char *)(p ? p : "");
}

static ProtobufCBinaryData
bin(const uint8_t *p, size_t n) {
    ProtobufCBinaryData b = {n, (uint8_t *)p};
    return b;
}

static void
pb_sealed(PbSealed *pb, const struct mf_sealed_secret *x) {
    mailferry__v1__sealed_secret__init(pb);
    pb->master_key_id = s(x->master_key_id);
    pb->wrapped_data_key =
        bin(x->wrapped_data_key, sizeof(x->wrapped_data_key));
    pb->wrap_iv = bin(x->wrap_iv, sizeof(x->wrap_iv));
    pb->wrap_tag = bin(x->wrap_tag, sizeof(x->wrap_tag));
    pb->iv = bin(x->iv, sizeof(x->iv));
    pb->ciphertext = bin(x->ciphertext, x->ciphertext_len);
    pb->tag = bin(x->tag, sizeof(x->tag));
}

static void
pb_credentials(PbCredentials *pb, PbSealed *sealed,
               const struct mf_job_credentials *x) {
    mailferry__v1__credentials__init(pb);
    pb->login = s(x->login);
    pb->authorization_id = s(x->authorization_id);
    pb->oauth = x->oauth;
    if (x->has_password) {
        pb_sealed(sealed, &x->password);
        pb->password = sealed;
    }
}

static void
pb_counters(PbCounters *pb, const struct mf_counters *x) {
    mailferry__v1__counters__init(pb);
    COUNTERS_FIELDS(PACK_N)
}

/* A Job and the messages it points at, all on the packer's stack. */
struct pb_job {
    PbJob job;
    PbCredentials source, target;
    PbSealed source_pw, target_pw;
    PbWindow window;
};

static void
pb_job(struct pb_job *p, const struct mf_job *x) {
    PbJob *pb = &p->job;

    mailferry__v1__job__init(pb);
    JOB_FIELDS(PACK_T, PACK_N)
    pb->kind = (Mailferry__V1__JobKind)x->kind;
    pb_credentials(&p->source, &p->source_pw, &x->source);
    pb_credentials(&p->target, &p->target_pw, &x->target);
    pb->source = &p->source;
    pb->target = &p->target;
    if (x->has_window) {
        mailferry__v1__date_window__init(&p->window);
        p->window.since = x->window.since;
        p->window.before = x->window.before;
        pb->window = &p->window;
    }
}

static void
pb_progress(PbProgress *pb, PbCounters *counters, const struct mf_progress *x) {
    mailferry__v1__progress__init(pb);
    PROGRESS_FIELDS(PACK_T, PACK_N)
    pb_counters(counters, &x->counters);
    pb->counters = counters;
    pb->waiting_for = x->waiting_for;
    pb->waiting_cap = x->waiting_cap;
    pb->waiting_ms = x->waiting_ms;
}

/* A new array of n Items and one of n pointers to them (freed by the
 * caller: *items_r and the return value). */
static PbItem **
pb_items(const struct mf_result_item *v, size_t n, PbItem **items_r) {
    PbItem *items = mf_xcalloc(n ? n : 1, sizeof(*items));
    PbItem **ptrs = mf_xcalloc(n ? n : 1, sizeof(*ptrs));

    for (size_t i = 0; i < n; i++) {
        const struct mf_result_item *x = &v[i];
        PbItem *pb = &items[i];
        mailferry__v1__item__init(pb);
        ITEM_FIELDS(PACK_T, PACK_N)
        ptrs[i] = pb;
    }
    *items_r = items;
    return ptrs;
}

mf_err
mf_envelope_pack(const struct mf_envelope *env, uint8_t **buf_r, size_t *len_r,
                 struct mf_error *err) {
    PbEnvelope pe;
    struct pb_job pj;
    PbCounters pc;
    PbProgress pp;
    PbResult pr;
    PbItem *skipped = NULL, *failed = NULL;
    uint8_t *buf;
    size_t len;

    if (env->schema_version != MF_ENVELOPE_SCHEMA_VERSION)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "envelope schema version %u, expected %d",
                            env->schema_version, MF_ENVELOPE_SCHEMA_VERSION);
    mailferry__v1__envelope__init(&pe);
    pe.schema_version = env->schema_version;
    pe.message_id = s(env->message_id);
    pe.sent_at_ms = env->sent_at_ms;
    pe.sender = s(env->sender);

    switch (env->body) {
    case MF_ENVELOPE_JOB:
        pb_job(&pj, &env->job);
        pe.body_case = MAILFERRY__V1__ENVELOPE__BODY_JOB;
        pe.job = &pj.job;
        break;
    case MF_ENVELOPE_PROGRESS:
        pb_progress(&pp, &pc, &env->progress);
        pe.body_case = MAILFERRY__V1__ENVELOPE__BODY_PROGRESS;
        pe.progress = &pp;
        break;
    case MF_ENVELOPE_RESULT: {
        const struct mf_result *x = &env->result;
        PbResult *pb = &pr;
        mailferry__v1__result__init(pb);
        RESULT_FIELDS(PACK_T, PACK_N)
        pb->outcome = (Mailferry__V1__Outcome)x->outcome;
        pb_counters(&pc, &x->counters);
        pb->counters = &pc;
        pb->n_skipped = x->nskipped;
        pb->skipped = pb_items(x->skipped, x->nskipped, &skipped);
        pb->n_failed = x->nfailed;
        pb->failed = pb_items(x->failed, x->nfailed, &failed);
        pe.body_case = MAILFERRY__V1__ENVELOPE__BODY_RESULT;
        pe.result = &pr;
        break;
    }
    case MF_ENVELOPE_NONE:
    default:
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "envelope has no body");
    }

    len = mailferry__v1__envelope__get_packed_size(&pe);
    buf = mf_xmalloc(len ? len : 1);
    MF_ASSERT(mailferry__v1__envelope__pack(&pe, buf) == len);
    if (env->body == MF_ENVELOPE_RESULT) {
        free(pr.skipped);
        free(pr.failed);
        free(skipped);
        free(failed);
    }
    *buf_r = buf;
    *len_r = len;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Unpacking                                                          */
/* ------------------------------------------------------------------ */

/* protobuf-c's allocations for one unpack, capped. Each block carries its
 * size in front so that free can give the budget back. */
struct budget {
    size_t used, max;
};

static void *
budget_alloc(void *ud, size_t n) {
    struct budget *b = ud;
    size_t *p;

    if (n > b->max - b->used || n > b->max)
        return NULL;
    p = malloc(sizeof(size_t) + n);
    if (!p)
        return NULL;
    b->used += n;
    *p = n;
    return p + 1;
}

static void
budget_free(void *ud, void *ptr) {
    struct budget *b = ud;
    size_t *p = ptr;

    if (!p)
        return;
    b->used -= p[-1];
    free(p - 1);
}

static char *
dup(const char *p) {
    return mf_xstrdup(p ? p : "");
}

/* "" (a job made before jobs carried a mode), "strict" or "lenient". */
static bool
fingerprint_known(const char *word) {
    enum mf_profile_fingerprint mode;
    bool set = false;
    struct mf_error ignored;

    return mf_profile_fingerprint_parse(word, &mode, &set, &ignored) == MF_E_OK;
}

static mf_err
un_sealed(const PbSealed *pb, struct mf_sealed_secret *x, const char *which,
          struct mf_error *err) {
    static const struct {
        const char *name;
        size_t off, want;
    } f[] = {
        {"wrapped_data_key", offsetof(PbSealed, wrapped_data_key),
         MF_CRYPTO_KEY_LEN},
        {"wrap_iv", offsetof(PbSealed, wrap_iv), MF_CRYPTO_IV_LEN},
        {"wrap_tag", offsetof(PbSealed, wrap_tag), MF_CRYPTO_TAG_LEN},
        {"iv", offsetof(PbSealed, iv), MF_CRYPTO_IV_LEN},
        {"tag", offsetof(PbSealed, tag), MF_CRYPTO_TAG_LEN},
    };

    for (size_t i = 0; i < MF_ARRAY_LEN(f); i++) {
        const ProtobufCBinaryData *b =
            (const ProtobufCBinaryData *)((const char *)pb + f[i].off);
        if (b->len != f[i].want)
            return mf_error_set(err, MF_E_ENVELOPE,
                                "%s password: %s is %zu bytes, not %zu", which,
                                f[i].name, b->len, f[i].want);
    }
    if (!mf_crypto_key_id_valid(pb->master_key_id))
        return mf_error_set(err, MF_E_ENVELOPE,
                            "%s password: invalid master key id", which);
    if (pb->ciphertext.len > MF_CRYPTO_SECRET_MAX)
        return mf_error_set(err, MF_E_ENVELOPE,
                            "%s password: %zu bytes of ciphertext (max %d)",
                            which, pb->ciphertext.len, MF_CRYPTO_SECRET_MAX);
    memset(x, 0, sizeof(*x));
    snprintf(x->master_key_id, sizeof(x->master_key_id), "%s",
             pb->master_key_id);
    memcpy(x->wrapped_data_key, pb->wrapped_data_key.data, MF_CRYPTO_KEY_LEN);
    memcpy(x->wrap_iv, pb->wrap_iv.data, MF_CRYPTO_IV_LEN);
    memcpy(x->wrap_tag, pb->wrap_tag.data, MF_CRYPTO_TAG_LEN);
    memcpy(x->iv, pb->iv.data, MF_CRYPTO_IV_LEN);
    memcpy(x->tag, pb->tag.data, MF_CRYPTO_TAG_LEN);
    x->ciphertext_len = pb->ciphertext.len;
    x->ciphertext = mf_xmalloc(x->ciphertext_len ? x->ciphertext_len : 1);
    if (x->ciphertext_len)
        memcpy(x->ciphertext, pb->ciphertext.data, x->ciphertext_len);
    return MF_E_OK;
}

static mf_err
un_credentials(const PbCredentials *pb, struct mf_job_credentials *x,
               const char *which, struct mf_error *err) {
    x->login = dup(pb ? pb->login : NULL);
    x->authorization_id = dup(pb ? pb->authorization_id : NULL);
    x->oauth = pb && pb->oauth;
    if (pb && pb->password) {
        mf_err rc = un_sealed(pb->password, &x->password, which, err);
        if (rc != MF_E_OK)
            return rc;
        x->has_password = true;
    }
    return MF_E_OK;
}

static void
un_counters(const PbCounters *pb, struct mf_counters *x) {
    memset(x, 0, sizeof(*x));
    if (!pb)
        return;
    COUNTERS_FIELDS(UNPACK_N)
}

static struct mf_result_item *
un_items(PbItem *const *v, size_t n) {
    struct mf_result_item *items = mf_xcalloc(n ? n : 1, sizeof(*items));

    for (size_t i = 0; i < n; i++) {
        const PbItem *pb = v[i];
        struct mf_result_item *x = &items[i];
        ITEM_FIELDS(UNPACK_T, UNPACK_N)
    }
    return items;
}

/* Batch and mailbox must be there: they key every record. */
static mf_err
need_names(const char *what, const char *batch, const char *mailbox,
           struct mf_error *err) {
    if (!batch || !*batch)
        return mf_error_set(err, MF_E_ENVELOPE, "%s without a batch", what);
    if (!mailbox || !*mailbox)
        return mf_error_set(err, MF_E_ENVELOPE, "%s without a mailbox", what);
    return MF_E_OK;
}

static mf_err
un_job(const PbJob *pb, struct mf_job *x, struct mf_error *err) {
    mf_err rc = need_names("job", pb->batch, pb->mailbox, err);

    if (rc != MF_E_OK)
        return rc;
    if (!pb->job_id || !*pb->job_id)
        return mf_error_set(err, MF_E_ENVELOPE, "job without a job id");
    if (pb->kind < MAILFERRY__V1__JOB_KIND__JOB_KIND_UNSPECIFIED ||
        pb->kind > MAILFERRY__V1__JOB_KIND__JOB_KIND_VERIFY)
        return mf_error_set(err, MF_E_ENVELOPE, "unknown job kind %d",
                            (int)pb->kind);
    JOB_FIELDS(UNPACK_T, UNPACK_N)
    x->kind = (enum mf_job_kind)pb->kind;
    /* A mode the worker would not know: refused here, not guessed. */
    if (!fingerprint_known(x->fingerprint))
        return mf_error_set(err, MF_E_ENVELOPE,
                            "job fingerprint mode \"%.40s\" is neither "
                            "strict nor lenient",
                            x->fingerprint);
    if (pb->window) {
        /* Days from outside: a bound that is no calendar day, or a
         * window with no day inside, would make the worker skip mail. */
        struct mf_window w = {pb->window->since, pb->window->before};
        struct mf_error ignored;
        if (!mf_window_day_valid(w.since) || !mf_window_day_valid(w.before) ||
            mf_window_check(&w, &ignored) != MF_E_OK)
            return mf_error_set(err, MF_E_ENVELOPE,
                                "job window %u..%u is not a date window",
                                w.since, w.before);
        x->has_window = true;
        x->window = w;
    }
    rc = un_credentials(pb->source, &x->source, "source", err);
    if (rc == MF_E_OK)
        rc = un_credentials(pb->target, &x->target, "target", err);
    return rc;
}

static mf_err
un_progress(const PbProgress *pb, struct mf_progress *x, struct mf_error *err) {
    mf_err rc = need_names("progress", pb->batch, pb->mailbox, err);

    if (rc != MF_E_OK)
        return rc;
    PROGRESS_FIELDS(UNPACK_T, UNPACK_N)
    un_counters(pb->counters, &x->counters);
    /* Values of a newer writer that this one does not know: none. */
    x->waiting_for =
        pb->waiting_for < MF_ENVELOPE_WAIT_MAX ? pb->waiting_for : 0;
    x->waiting_cap = x->waiting_for && pb->waiting_cap < MF_ENVELOPE_CAP_MAX
                         ? pb->waiting_cap
                         : 0;
    x->waiting_ms = x->waiting_for ? pb->waiting_ms : 0;
    return MF_E_OK;
}

static mf_err
un_result(const PbResult *pb, struct mf_result *x, struct mf_error *err) {
    mf_err rc = need_names("result", pb->batch, pb->mailbox, err);

    if (rc != MF_E_OK)
        return rc;
    if (pb->outcome < MAILFERRY__V1__OUTCOME__OUTCOME_UNSPECIFIED ||
        pb->outcome > MAILFERRY__V1__OUTCOME__OUTCOME_RETRY)
        return mf_error_set(err, MF_E_ENVELOPE, "unknown outcome %d",
                            (int)pb->outcome);
    RESULT_FIELDS(UNPACK_T, UNPACK_N)
    x->outcome = (enum mf_outcome)pb->outcome;
    un_counters(pb->counters, &x->counters);
    x->skipped = un_items(pb->skipped, pb->n_skipped);
    x->nskipped = pb->n_skipped;
    x->failed = un_items(pb->failed, pb->n_failed);
    x->nfailed = pb->n_failed;
    return MF_E_OK;
}

mf_err
mf_envelope_unpack(const uint8_t *buf, size_t len, size_t max_len,
                   struct mf_envelope *env_r, struct mf_error *err) {
    /* The unpacked tree of a message takes a bounded multiple of its
     * size: each field costs at most a few pointers and a struct, and the
     * smallest field takes two bytes on the wire. */
    struct budget b = {0, 0};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
    struct mf_envelope env;
    PbEnvelope *pe;
    mf_err rc = MF_E_OK;

    if (max_len == 0)
        max_len = MF_ENVELOPE_MAX_DEFAULT;
    if (len > max_len)
        return mf_error_set(err, MF_E_LIMIT,
                            "message of %zu bytes exceeds the limit of %zu",
                            len, max_len);
    b.max = 128 * len + 65536;
    pe = mailferry__v1__envelope__unpack(&alloc, len, buf);
    if (!pe)
        return mf_error_set(err, MF_E_ENVELOPE,
                            "not a valid protobuf Envelope (%zu bytes)", len);

    memset(&env, 0, sizeof(env));
    if (pe->schema_version == 0) {
        rc = mf_error_set(err, MF_E_ENVELOPE, "envelope has no schema version");
        goto out;
    }
    if (pe->schema_version > MF_ENVELOPE_SCHEMA_VERSION) {
        rc = mf_error_set(err, MF_E_SCHEMA_VERSION,
                          "envelope schema version %u from \"%.64s\"; this "
                          "program reads versions up to %d: upgrade it",
                          pe->schema_version, pe->sender ? pe->sender : "",
                          MF_ENVELOPE_SCHEMA_VERSION);
        goto out;
    }
    env.schema_version = pe->schema_version;
    env.message_id = dup(pe->message_id);
    env.sent_at_ms = pe->sent_at_ms;
    env.sender = dup(pe->sender);
    switch (pe->body_case) {
    case MAILFERRY__V1__ENVELOPE__BODY_JOB:
        env.body = MF_ENVELOPE_JOB;
        rc = un_job(pe->job, &env.job, err);
        break;
    case MAILFERRY__V1__ENVELOPE__BODY_PROGRESS:
        env.body = MF_ENVELOPE_PROGRESS;
        rc = un_progress(pe->progress, &env.progress, err);
        break;
    case MAILFERRY__V1__ENVELOPE__BODY_RESULT:
        env.body = MF_ENVELOPE_RESULT;
        rc = un_result(pe->result, &env.result, err);
        break;
    case MAILFERRY__V1__ENVELOPE__BODY__NOT_SET:
    default:
        rc = mf_error_set(err, MF_E_ENVELOPE,
                          "envelope has no body this program knows");
        break;
    }
out:
    mailferry__v1__envelope__free_unpacked(pe, &alloc);
    if (rc != MF_E_OK) {
        mf_envelope_clear(&env);
        return rc;
    }
    *env_r = env;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Copying a job                                                      */
/* ------------------------------------------------------------------ */

/* Through the wire form, with the same two functions that pack and
 * unpack a job on Kafka: a field that travels is copied, and none has
 * to be remembered here. */
mf_err
mf_job_copy(const struct mf_job *src, struct mf_job *dst_r,
            struct mf_error *err) {
    struct budget b = {0, 0};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
    struct pb_job pj;
    struct mf_job x;
    PbJob *pb;
    uint8_t *buf;
    size_t len;
    mf_err rc;

    pb_job(&pj, src);
    len = mailferry__v1__job__get_packed_size(&pj.job);
    buf = mf_xmalloc(len ? len : 1);
    MF_ASSERT(mailferry__v1__job__pack(&pj.job, buf) == len);
    b.max = 128 * len + 65536;
    pb = mailferry__v1__job__unpack(&alloc, len, buf);
    free(buf);
    if (!pb)
        return mf_error_set(err, MF_E_ENVELOPE,
                            "a job of %zu bytes does not unpack", len);
    memset(&x, 0, sizeof(x));
    rc = un_job(pb, &x, err);
    mailferry__v1__job__free_unpacked(pb, &alloc);
    if (rc != MF_E_OK) {
        clear_job(&x);
        return rc;
    }
    *dst_r = x;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Sealed secrets on their own                                        */
/* ------------------------------------------------------------------ */

mf_err
mf_sealed_secret_pack(const struct mf_sealed_secret *x, uint8_t **buf_r,
                      size_t *len_r, struct mf_error *err) {
    PbSealed pb;
    uint8_t *buf;
    size_t len;

    if (!x->ciphertext && x->ciphertext_len)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "sealed secret without ciphertext");
    pb_sealed(&pb, x);
    len = mailferry__v1__sealed_secret__get_packed_size(&pb);
    buf = mf_xmalloc(len ? len : 1);
    MF_ASSERT(mailferry__v1__sealed_secret__pack(&pb, buf) == len);
    *buf_r = buf;
    *len_r = len;
    return MF_E_OK;
}

mf_err
mf_sealed_secret_unpack(const uint8_t *buf, size_t len,
                        struct mf_sealed_secret *s_r, struct mf_error *err) {
    struct budget b = {0, 0};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
    struct mf_sealed_secret x;
    PbSealed *pb;
    mf_err rc;

    if (len > 2 * MF_CRYPTO_SECRET_MAX)
        return mf_error_set(err, MF_E_LIMIT,
                            "sealed secret of %zu bytes exceeds the limit of "
                            "%d",
                            len, 2 * MF_CRYPTO_SECRET_MAX);
    b.max = 128 * len + 65536;
    pb = mailferry__v1__sealed_secret__unpack(&alloc, len, buf);
    if (!pb)
        return mf_error_set(err, MF_E_ENVELOPE,
                            "not a valid protobuf SealedSecret (%zu bytes)",
                            len);
    rc = un_sealed(pb, &x, "stored", err);
    mailferry__v1__sealed_secret__free_unpacked(pb, &alloc);
    if (rc == MF_E_OK)
        *s_r = x;
    return rc;
}
