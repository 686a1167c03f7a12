/*
 * Creating a batch (docs/design.md §4), streamed: the mailbox records go
 * to Redis as they come, MF__BATCH_CHUNK rows per script call, so that a
 * CSV of any length costs `batch create` the same memory, and no single
 * Redis command grows with it (one transaction over 50,000 rows outlived
 * the client's timeout on a loaded machine).
 *
 *   begin   checks the name, takes its "creating" key (SET NX, expiring
 *           after CREATING_TTL_MS: a second create of the same name is
 *           refused while one runs), refuses a name whose batch hash
 *           exists (MF_E_EXISTS), removes what an interrupted create left
 *           (a mailbox list without a batch hash), and adds the name to
 *           the global index, which is in another hash slot.
 *   add     writes mailbox records; the script refuses an address whose
 *           record exists already (a duplicate, MF_E_INVALID_ARGUMENT).
 *   commit  WATCH the batch hash, check it still does not exist, then
 *           MULTI: the batch hash (with the number of mailboxes), the
 *           folder-rule lists, and DEL of the creating key; EXEC. EXEC
 *           answering nil means another coordinator created the name
 *           meanwhile (MF_E_EXISTS).
 *   abort   removes what begin and add wrote, the index entry included.
 *
 * All or nothing still holds for readers: every reader starts from the
 * batch hash (mf_batch_get(), and mf_batch_list() skips and forgets a
 * name without one), which only commit writes.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a create may hold its name before another may take it over
 * (and clear what it left). */
#define CREATING_TTL_MS 600000

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static mf_err
check_rows(const struct mf_batch_mailbox_cfg *mbs, size_t n,
           struct mf_error *err) {
    const char **v;
    mf_err rc = MF_E_OK;

    if (n == 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "a batch needs at "
                            "least one mailbox");
    v = mf_xcalloc(n, sizeof(*v));
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = mbs[i].email ? strlen(mbs[i].email) : 0;
        if (len == 0 || len > MF_BATCH_EMAIL_MAX)
            rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                              "mailbox %zu: EmailAddress empty or longer "
                              "than %d bytes",
                              i + 1, MF_BATCH_EMAIL_MAX);
        v[i] = mbs[i].email;
    }
    if (!rc) {
        qsort(v, n, sizeof(*v), cmp_str);
        for (size_t i = 1; i < n && !rc; i++)
            if (strcmp(v[i - 1], v[i]) == 0)
                rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                                  "duplicate EmailAddress %.200s", v[i]);
    }
    free(v);
    return rc;
}

static void
add_field(struct mf__batch_argv *a, const char *name, const char *value) {
    mf__batch_argv_adds(a, name);
    mf__batch_argv_adds(a, value);
}

static void
add_field_u(struct mf__batch_argv *a, const char *name, uint64_t v) {
    mf__batch_argv_adds(a, name);
    mf__batch_argv_addu(a, v);
}

/* One cap of a side's, under its field name with the side's prefix
 * ("s_" or "t_"). */
static void
add_cap(struct mf__batch_argv *a, const char *pfx, const char *name,
        uint64_t v) {
    char field[64];

    snprintf(field, sizeof(field), "%s%s", pfx, name);
    add_field_u(a, field, v);
}

static void
add_caps(struct mf__batch_argv *a, const char *pfx,
         const struct mf_batch_caps *c) {
#define ADD_CAP(option, field, max) add_cap(a, pfx, #field, c->field);
    MF_BATCH_CAPS(ADD_CAP)
#undef ADD_CAP
}

/* Runs a command expected inside MULTI: QUEUED or an error. */
static mf_err
queue(struct mf_redis *r, struct mf__batch_argv *a, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = mf__batch_argv_run(r, a, &reply, err);

    if (rc)
        return rc;
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "QUEUED"))
        rc = mf_error_set(err, MF_E_REDIS, "%s: not queued in MULTI", a->v[0]);
    freeReplyObject(reply);
    return rc;
}

/* A batch's generation (see struct mf_batch_config): 64 random bits,
 * never 0 (0 means "created before generations were random"). */
static uint64_t
new_generation(void) {
    char hex[17];
    uint64_t g = 0;

    do {
        mf_random_hex(hex, 16);
        for (int i = 0; i < 16; i++)
            g = g << 4 |
                (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    } while (g == 0);
    return g;
}

static void
add_oauth(struct mf__batch_argv *a, const char *prefix,
          const struct mf_batch_oauth *o) {
    char key[64];

    if (!o->provider)
        return;
    for (size_t i = 0; i < MF__BATCH_OAUTH_FIELDS; i++) {
        const char *v = *mf__batch_oauth_field((struct mf_batch_oauth *)o, i);
        if (!v)
            continue;
        snprintf(key, sizeof(key), "%s%s", prefix, mf__batch_oauth_fields[i]);
        add_field(a, key, v);
    }
    snprintf(key, sizeof(key), "%skey", prefix);
    mf__batch_argv_adds(a, key);
    mf__batch_argv_add_blob(a, &o->key);
}

/* A window's bound, "YYYY-MM-DD"; none is no field. */
static void
add_day(struct mf__batch_argv *a, const char *field, uint32_t day) {
    char text[MF_WINDOW_TEXT_MAX];

    if (!day)
        return;
    mf_window_date_format(day, text, sizeof(text));
    add_field(a, field, text);
}

static void
queue_batch_hash(struct mf__batch_argv *a, const struct mf__batch_keys *k,
                 const struct mf_batch_config *c, size_t n, int64_t now) {
    mf__batch_argv_reset(a);
    mf__batch_argv_adds(a, "HSET");
    mf__batch_argv_adds(a, k->batch);
    add_field(a, "name", c->name);
    add_field(a, "state", "Created");
#define ADD_TEXT(member, field) add_field(a, field, c->member);
    MF__BATCH_TEXT_FIELDS(ADD_TEXT)
#undef ADD_TEXT
#define ADD_SECRET(member, field)                                              \
    mf__batch_argv_adds(a, field);                                             \
    mf__batch_argv_add_blob(a, &c->member);
    MF__BATCH_SECRET_FIELDS(ADD_SECRET)
#undef ADD_SECRET
    add_field_u(a, "insecure", c->insecure);
#define ADD_THROTTLE(option, field, min, max, help)                            \
    if (c->throttle.field)                                                     \
        add_field_u(a, "thr_" #field, c->throttle.field);
    MF_THROTTLE_FLAGS(ADD_THROTTLE)
#undef ADD_THROTTLE
#define ADD_QUOTA(option, field, min, max, unit, help)                         \
    if (c->quota.field)                                                        \
        add_field_u(a, "quo_" #field, c->quota.field);
    MF_QUOTA_FLAGS(ADD_QUOTA)
#undef ADD_QUOTA
    add_field_u(a, "repair", c->repair);
    add_field_u(a, "gmail_keywords", c->gmail_labels_as_keywords);
    add_field_u(a, "max_message_size", c->max_message_size);
    add_caps(a, "s_", &c->source_caps);
    add_caps(a, "t_", &c->target_caps);
    add_field_u(a, "max_attempts",
                c->max_attempts ? c->max_attempts : MF_BATCH_DEFAULT_ATTEMPTS);
    add_field_u(a, "incremental_every", c->incremental_every);
    if (c->flag_conflict != MF_FLAG_CONFLICT_DEFAULT)
        add_field(a, "flag_conflict", mf_flag_conflict_name(c->flag_conflict));
    add_day(a, "since", c->window.since);
    add_day(a, "before", c->window.before);
    if (c->sync_deletes)
        add_field_u(a, "sync_deletes", 1);
    add_oauth(a, "s_oauth_", &c->source_oauth);
    add_oauth(a, "t_oauth_", &c->target_oauth);
    add_field_u(a, "created", (uint64_t)now);
    add_field_u(a, "generation", new_generation());
    add_field_u(a, "n_mailboxes", n);
    add_field_u(a, "n:Queued", n);
    add_field_u(a, "pass", 0);
}

static mf_err
queue_lists(struct mf_redis *r, struct mf__batch_argv *a,
            const struct mf__batch_keys *k, const struct mf_batch_config *c,
            struct mf_error *err) {
    mf_err rc;

    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t n;
        char *const *v = mf__batch_rule_view(c, l, &n);
        if (n == 0)
            continue;
        mf__batch_argv_reset(a);
        mf__batch_argv_adds(a, "RPUSH");
        mf__batch_argv_adds(a, k->list[l]);
        for (size_t i = 0; i < n; i++)
            mf__batch_argv_adds(a, v[i]);
        if ((rc = queue(r, a, err)))
            return rc;
    }
    return MF_E_OK;
}

struct mf_batch_creator {
    struct mf_redis *r;                /* borrowed */
    const struct mf_batch_config *cfg; /* borrowed until commit or abort */
    struct mf__batch_keys k;
    char creating[MF__BATCH_KEY_MAX];
    char token[33];
    struct mf__batch_argv a;
    size_t n; /* mailboxes written */
};

/* Removes what a failed create applied (best effort: the batch is left
 * Removing, which mf_batch_remove() finishes). */
static void
undo(struct mf_redis *r, const struct mf__batch_keys *k, const char *name) {
    struct mf_error e = {0};
    redisReply *reply = NULL;

    if (mf_redis_command(r, &reply, &e, "HSET %s state Removing", k->batch) ==
        MF_E_OK)
        freeReplyObject(reply);
    if (mf_batch_remove(r, name, &e) != MF_E_OK)
        return;
}

/* Takes the name's creating key; MF_E_EXISTS when another create holds
 * it. */
static mf_err
take_name(struct mf_batch_creator *c, struct mf_error *err) {
    redisReply *reply = NULL;
    bool taken;
    mf_err rc;

    rc = mf_redis_command(c->r, &reply, err, "SET %s %s NX PX %d", c->creating,
                          c->token, CREATING_TTL_MS);
    if (rc)
        return rc;
    taken = reply->type == REDIS_REPLY_NIL;
    freeReplyObject(reply);
    if (taken)
        return mf_error_set(err, MF_E_EXISTS,
                            "batch %s is being created by another command",
                            c->cfg->name);
    return MF_E_OK;
}

static void
release_name(struct mf_batch_creator *c) {
    redisReply *reply = NULL;

    if (mf_redis_command(c->r, &reply, &(struct mf_error){0}, "DEL %s",
                         c->creating) == MF_E_OK)
        freeReplyObject(reply);
}

mf_err
mf_batch_create_begin(struct mf_redis *r, const struct mf_batch_config *cfg,
                      struct mf_batch_creator **c_r, struct mf_error *err) {
    struct mf_batch_creator *c;
    bool there = false;
    mf_err rc;

    if ((rc = mf__batch_check_name(cfg->name, err)))
        return rc;
    c = mf_xcalloc(1, sizeof(*c));
    c->r = r;
    c->cfg = cfg;
    mf__batch_keys(&c->k, cfg->name);
    snprintf(c->creating, sizeof(c->creating), "%.*screating",
             (int)(strlen(c->k.batch) - strlen("batch")), c->k.batch);
    mf_random_hex(c->token, 32);
    if ((rc = take_name(c, err)))
        goto fail;
    if ((rc = mf__batch_exists(r, c->k.batch, &there, err)) || there) {
        if (!rc)
            rc = mf_error_set(err, MF_E_EXISTS, "batch %s already exists",
                              cfg->name);
        release_name(c);
        goto fail;
    }
    /* A mailbox list without a batch hash: an interrupted create's. */
    if ((rc = mf__batch_exists(r, c->k.mailboxes, &there, err)) == MF_E_OK &&
        there)
        undo(r, &c->k, cfg->name);
    if (rc) {
        release_name(c);
        goto fail;
    }
    mf__batch_index_op(r, "SADD", cfg->name);
    *c_r = c;
    return MF_E_OK;
fail:
    free(c);
    return rc;
}

mf_err
mf_batch_create_add(struct mf_batch_creator *c,
                    const struct mf_batch_mailbox_cfg *mbs, size_t n,
                    struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    const char *w;
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n && !rc; i += MF__BATCH_CHUNK) {
        size_t m = n - i < MF__BATCH_CHUNK ? n - i : MF__BATCH_CHUNK;
        struct mf__batch_argv *a = &c->a;
        mf__batch_script_argv(a, MF__BS_CREATE_MB, (int)m + 2);
        mf__batch_argv_adds(a, c->k.batch);
        mf__batch_argv_adds(a, c->k.mailboxes);
        for (size_t j = 0; j < m; j++) {
            mf__batch_mb_key(key, sizeof(key), c->cfg->name, mbs[i + j].email,
                             "");
            mf__batch_argv_adds(a, key);
        }
        for (size_t j = 0; j < m; j++) {
            const struct mf_batch_mailbox_cfg *mb = &mbs[i + j];
            mf__batch_argv_adds(a, mb->email);
            mf__batch_argv_adds(a, mb->user);
            mf__batch_argv_add_blob(a, &mb->password);
            mf__batch_argv_adds(a, mb->user_root);
            mf__batch_argv_adds(a, mb->target_user);
            mf__batch_argv_add_blob(a, &mb->target_password);
        }
        if ((rc = mf__batch_script_run(c->r, a, &reply, err)))
            break;
        w = mf__batch_reply_word(reply);
        if (w && strcmp(w, "DUPLICATE") == 0)
            rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                              "duplicate EmailAddress %.200s",
                              mf__batch_reply_str(reply, 1, NULL));
        else if (!w || strcmp(w, "OK"))
            rc = mf_error_set(err, MF_E_REDIS, "batch %s: %s: unexpected reply",
                              c->cfg->name,
                              mf__batch_script(MF__BS_CREATE_MB)->name);
        else
            c->n += m;
        freeReplyObject(reply);
        reply = NULL;
    }
    return rc;
}

void
mf_batch_create_abort(struct mf_batch_creator **cp) {
    struct mf_batch_creator *c = *cp;

    if (!c)
        return;
    undo(c->r, &c->k, c->cfg->name);
    release_name(c);
    mf__batch_argv_free(&c->a);
    free(c);
    *cp = NULL;
}

/* The batch hash and lists in one transaction; MF_E_EXISTS when another
 * coordinator wrote the batch hash meanwhile. */
static mf_err
commit_hash(struct mf_batch_creator *c, struct mf_error *err) {
    struct mf_redis *r = c->r;
    struct mf__batch_argv *a = &c->a;
    redisReply *reply = NULL;
    bool in_multi = false, taken = false;
    int64_t now = 0;
    mf_err rc;

    if ((rc = mf_redis_time(r, &now, err)) ||
        (rc = mf_redis_command(r, &reply, err, "WATCH %s", c->k.batch)))
        return rc;
    freeReplyObject(reply);
    reply = NULL;
    if ((rc = mf__batch_exists(r, c->k.batch, &taken, err)))
        goto out;
    if (taken) {
        rc = mf_error_set(err, MF_E_EXISTS, "batch %s already exists",
                          c->cfg->name);
        goto out;
    }
    if ((rc = mf_redis_command(r, &reply, err, "MULTI")))
        goto out;
    freeReplyObject(reply);
    reply = NULL;
    in_multi = true;
    queue_batch_hash(a, &c->k, c->cfg, c->n, now);
    if ((rc = queue(r, a, err)) || (rc = queue_lists(r, a, &c->k, c->cfg, err)))
        goto out;
    mf__batch_argv_reset(a);
    mf__batch_argv_adds(a, "DEL");
    mf__batch_argv_adds(a, c->creating);
    if ((rc = queue(r, a, err)))
        goto out;
    in_multi = false;
    if ((rc = mf_redis_command(r, &reply, err, "EXEC")))
        goto out;
    if (reply->type == REDIS_REPLY_NIL) {
        rc = mf_error_set(err, MF_E_EXISTS, "batch %s was created concurrently",
                          c->cfg->name);
        goto out;
    }
    for (size_t i = 0; i < reply->elements && !rc; i++)
        if (reply->element[i]->type == REDIS_REPLY_ERROR)
            rc = mf_error_set(err, MF_E_REDIS, "batch %s: EXEC: %s",
                              c->cfg->name, reply->element[i]->str);
out:
    if (reply)
        freeReplyObject(reply);
    reply = NULL;
    if (in_multi && mf_redis_command(r, &reply, &(struct mf_error){0},
                                     "DISCARD") == MF_E_OK)
        freeReplyObject(reply);
    reply = NULL;
    if (rc && !in_multi &&
        mf_redis_command(r, &reply, &(struct mf_error){0}, "UNWATCH") ==
            MF_E_OK)
        freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_create_commit(struct mf_batch_creator **cp, struct mf_error *err) {
    struct mf_batch_creator *c = *cp;
    mf_err rc;

    if (c->n == 0)
        rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                          "a batch needs at least one mailbox");
    else
        rc = commit_hash(c, err);
    if (rc == MF_E_EXISTS) {
        /* Another create wrote the batch hash (ours outlived its creating
         * key): undoing would remove that batch, so nothing is touched. */
        release_name(c);
        mf__batch_argv_free(&c->a);
        free(c);
        *cp = NULL;
        return rc;
    }
    if (rc) {
        mf_batch_create_abort(cp);
        return rc;
    }
    {
        /* Caps a removed batch of this name lowered are not this one's.
         * The batch exists now: a failure here does not undo it. */
        struct mf_error ignored;
        if (mf__batch_caps_record(c->r, c->cfg, true, &ignored) != MF_E_OK) {
            /* Redis away: the next `batch set` of a cap writes them. */
        }
    }
    mf__batch_argv_free(&c->a);
    free(c);
    *cp = NULL;
    return MF_E_OK;
}

mf_err
mf_batch_create(struct mf_redis *r, const struct mf_batch_config *cfg,
                const struct mf_batch_mailbox_cfg *mbs, size_t n,
                struct mf_error *err) {
    struct mf_batch_creator *c = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(cfg->name, err)) ||
        (rc = check_rows(mbs, n, err)) ||
        (rc = mf_batch_create_begin(r, cfg, &c, err)))
        return rc;
    if ((rc = mf_batch_create_add(c, mbs, n, err))) {
        mf_batch_create_abort(&c);
        return rc;
    }
    return mf_batch_create_commit(&c, err);
}
