/*
 * Batch records: create (all or nothing), read, list, remove, and the
 * mailbox records (read one, walk all, set a state by the table).
 *
 * Creation is one Redis transaction: WATCH the batch hash, check it does
 * not exist, then MULTI with the batch hash, the folder-rule lists and
 * the mailbox hashes (a Lua script per MF__BATCH_CHUNK rows, so 50,000 rows
 * cost a few hundred round trips), then EXEC. EXEC answering nil means
 * another coordinator created the name meanwhile (MF_E_EXISTS). The
 * global index of names is in another hash slot, so it is updated outside
 * the transaction: added before, removed again when creation fails;
 * mf_batch_list skips (and forgets) names whose batch hash does not exist.
 *
 * Removal marks the batch Removing (only from a non-running state), then
 * deletes the mailbox keys (records, item lists, checkpoints) chunk by
 * chunk, trimming the mailbox list as it goes so an interrupted removal
 * resumes where it stopped, then the batch-level keys and the index entry.
 */
#include "batch/batch_int.h"

#include "mailferry/checkpoint.h"
#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The stored --flag-conflict word; absent (or unknown): the default. */
static enum mf_flag_conflict
get_flag_conflict(const redisReply *h) {
    const redisReply *v = mf__batch_hget(h, "flag_conflict");
    enum mf_flag_conflict c = MF_FLAG_CONFLICT_DEFAULT;
    struct mf_error ignored;

    if (v && v->type == REDIS_REPLY_STRING &&
        mf_flag_conflict_parse(v->str, &c, &ignored) != MF_E_OK)
        c = MF_FLAG_CONFLICT_DEFAULT;
    return c;
}

static void
add_field_u(struct mf__batch_argv *a, const char *name, uint64_t v) {
    mf__batch_argv_adds(a, name);
    mf__batch_argv_addu(a, v);
}

static void
add_blob(struct mf__batch_argv *a, const struct mf_batch_blob *b) {
    mf__batch_argv_add(a, b->data ? b->data : (const uint8_t *)"",
                       b->data ? b->len : 0);
}

static void
add_caps(struct mf__batch_argv *a, const char *pfx,
         const struct mf_batch_caps *c) {
    char name[64];

    snprintf(name, sizeof(name), "%smax_connections", pfx);
    add_field_u(a, name, c->max_connections);
    snprintf(name, sizeof(name), "%smax_connections_per_user", pfx);
    add_field_u(a, name, c->max_connections_per_user);
    snprintf(name, sizeof(name), "%smax_connections_per_ip", pfx);
    add_field_u(a, name, c->max_connections_per_ip);
    snprintf(name, sizeof(name), "%smax_concurrent_mailboxes", pfx);
    add_field_u(a, name, c->max_concurrent_mailboxes);
    snprintf(name, sizeof(name), "%smax_bytes_per_second", pfx);
    add_field_u(a, name, c->max_bytes_per_second);
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

static mf_err
simple(struct mf_redis *r, struct mf__batch_argv *a, long long *int_r,
       struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = mf__batch_argv_run(r, a, &reply, err);

    if (rc)
        return rc;
    if (int_r)
        *int_r = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    freeReplyObject(reply);
    return MF_E_OK;
}

static mf_err
redis_now(struct mf_redis *r, int64_t *now_r, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = mf_redis_command(r, &reply, err, "TIME");

    if (rc)
        return rc;
    *now_r = reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
                 ? strtoll(reply->element[0]->str, NULL, 10)
                 : 0;
    freeReplyObject(reply);
    return MF_E_OK;
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

/* One side's OAuth2 settings (absent when the side has none). */
static const char *const oauth_fields[] = {"provider",  "tenant", "client_id",
                                           "token_url", "scope",  "token_file",
                                           "key_kind"};

static char **
oauth_field(struct mf_batch_oauth *o, size_t i) {
    char **f[] = {&o->provider, &o->tenant,     &o->client_id, &o->token_url,
                  &o->scope,    &o->token_file, &o->key_kind};
    return f[i];
}

static void
add_oauth(struct mf__batch_argv *a, const char *prefix,
          const struct mf_batch_oauth *o) {
    char key[64];

    if (!o->provider)
        return;
    for (size_t i = 0; i < MF_ARRAY_LEN(oauth_fields); i++) {
        const char *v = *oauth_field((struct mf_batch_oauth *)o, i);
        if (!v)
            continue;
        snprintf(key, sizeof(key), "%s%s", prefix, oauth_fields[i]);
        add_field(a, key, v);
    }
    snprintf(key, sizeof(key), "%skey", prefix);
    mf__batch_argv_adds(a, key);
    add_blob(a, &o->key);
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

/* A day stored by add_day() or mf_batch_set(); absent, "none" or one
 * that does not parse: no bound. */
static uint32_t
get_day(const redisReply *h, const char *field) {
    const redisReply *v = mf__batch_hget(h, field);
    struct mf_error ignored;
    uint32_t day = 0;

    if (!v || v->type != REDIS_REPLY_STRING ||
        mf_window_date_parse(v->str, &day, &ignored) != MF_E_OK)
        return 0;
    return day;
}

static void
queue_batch_hash(struct mf__batch_argv *a, const struct mf__batch_keys *k,
                 const struct mf_batch_config *c, size_t n, int64_t now) {
    mf__batch_argv_reset(a);
    mf__batch_argv_adds(a, "HSET");
    mf__batch_argv_adds(a, k->batch);
    add_field(a, "name", c->name);
    add_field(a, "state", "Created");
    add_field(a, "source", c->source);
    add_field(a, "target", c->target);
    add_field(a, "ca_file", c->ca_file);
    add_field_u(a, "insecure", c->insecure);
    add_field(a, "admin_user", c->admin_user);
    add_field(a, "admin_login_format", c->admin_login_format);
    mf__batch_argv_adds(a, "admin_password");
    add_blob(a, &c->admin_password);
    add_field(a, "target_admin_user", c->target_admin_user);
    add_field(a, "target_admin_login_format", c->target_admin_login_format);
    mf__batch_argv_adds(a, "target_admin_password");
    add_blob(a, &c->target_admin_password);
    add_field(a, "separator_replacement", c->separator_replacement);
    add_field(a, "target_root", c->target_root);
    add_field(a, "s_profile", c->source_profile);
    add_field(a, "t_profile", c->target_profile);
    add_field_u(a, "repair", c->repair);
    add_field(a, "gmail_archive", c->gmail_archive_folder);
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
    char *const *v[4] = {c->include, c->exclude, c->rename, c->presets};
    size_t nv[4] = {c->n_include, c->n_exclude, c->n_rename, c->n_presets};
    mf_err rc;

    for (int l = 0; l < 4; l++) {
        if (nv[l] == 0)
            continue;
        mf__batch_argv_reset(a);
        mf__batch_argv_adds(a, "RPUSH");
        mf__batch_argv_adds(a, k->list[l]);
        for (size_t i = 0; i < nv[l]; i++)
            mf__batch_argv_adds(a, v[l][i]);
        if ((rc = queue(r, a, err)))
            return rc;
    }
    return MF_E_OK;
}

static mf_err
queue_mailboxes(struct mf_redis *r, struct mf__batch_argv *a,
                const struct mf__batch_keys *k, const char *batch,
                const struct mf_batch_mailbox_cfg *mbs, size_t n,
                struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    mf_err rc;

    for (size_t i = 0; i < n; i += MF__BATCH_CHUNK) {
        size_t m = n - i < MF__BATCH_CHUNK ? n - i : MF__BATCH_CHUNK;
        mf__batch_argv_reset(a);
        /* Inside MULTI an unknown SHA would only fail at EXEC: send the
         * text. */
        mf__batch_argv_adds(a, "EVAL");
        mf__batch_argv_add(a, mf__batch_script(MF__BS_CREATE_MB)->text,
                           mf__batch_script(MF__BS_CREATE_MB)->len);
        mf__batch_argv_addu(a, m + 2);
        mf__batch_argv_adds(a, k->batch);
        mf__batch_argv_adds(a, k->mailboxes);
        for (size_t j = 0; j < m; j++) {
            mf__batch_mb_key(key, sizeof(key), batch, mbs[i + j].email, "");
            mf__batch_argv_adds(a, key);
        }
        for (size_t j = 0; j < m; j++) {
            const struct mf_batch_mailbox_cfg *mb = &mbs[i + j];
            mf__batch_argv_adds(a, mb->email);
            mf__batch_argv_adds(a, mb->user);
            add_blob(a, &mb->password);
            mf__batch_argv_adds(a, mb->user_root);
            mf__batch_argv_adds(a, mb->target_user);
            add_blob(a, &mb->target_password);
        }
        if ((rc = queue(r, a, err)))
            return rc;
    }
    return MF_E_OK;
}

static mf_err
exists(struct mf_redis *r, const char *key, bool *yes_r, struct mf_error *err) {
    struct mf__batch_argv a = {0};
    long long v = 0;
    mf_err rc;

    mf__batch_argv_adds(&a, "EXISTS");
    mf__batch_argv_adds(&a, key);
    rc = simple(r, &a, &v, err);
    mf__batch_argv_free(&a);
    *yes_r = v == 1;
    return rc;
}

static void
index_op(struct mf_redis *r, const char *op, const char *name) {
    struct mf__batch_argv a = {0};
    struct mf_error e = {0};
    char key[MF__BATCH_KEY_MAX];

    mf__batch_index_key(key, sizeof(key));
    mf__batch_argv_adds(&a, op);
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, name);
    (void)simple(r, &a, NULL, &e);
    mf__batch_argv_free(&a);
}

/* Removes what a failed EXEC applied (best effort: the batch is left
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

mf_err
mf_batch_create(struct mf_redis *r, const struct mf_batch_config *cfg,
                const struct mf_batch_mailbox_cfg *mbs, size_t n,
                struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    bool in_multi = false, taken = false, there = false;
    int64_t now = 0;
    mf_err rc;

    if ((rc = mf__batch_check_name(cfg->name, err)) ||
        (rc = check_rows(mbs, n, err)))
        return rc;
    mf__batch_keys(&k, cfg->name);
    if ((rc = redis_now(r, &now, err)))
        return rc;
    index_op(r, "SADD", cfg->name);
    if ((rc = mf_redis_command(r, &reply, err, "WATCH %s", k.batch)))
        goto out;
    freeReplyObject(reply);
    reply = NULL;
    if ((rc = exists(r, k.batch, &taken, err)))
        goto out;
    if (taken) {
        rc = mf_error_set(err, MF_E_EXISTS, "batch %s already exists",
                          cfg->name);
        goto out;
    }
    if ((rc = mf_redis_command(r, &reply, err, "MULTI")))
        goto out;
    freeReplyObject(reply);
    reply = NULL;
    in_multi = true;
    queue_batch_hash(&a, &k, cfg, n, now);
    if ((rc = queue(r, &a, err)) || (rc = queue_lists(r, &a, &k, cfg, err)) ||
        (rc = queue_mailboxes(r, &a, &k, cfg->name, mbs, n, err)))
        goto out;
    in_multi = false;
    if ((rc = mf_redis_command(r, &reply, err, "EXEC")))
        goto out;
    if (reply->type == REDIS_REPLY_NIL) {
        rc = mf_error_set(err, MF_E_EXISTS, "batch %s was created concurrently",
                          cfg->name);
        taken = true;
        goto out;
    }
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_ERROR) {
            /* Redis does not roll back: undo what was applied. */
            rc = mf_error_set(err, MF_E_REDIS, "batch %s: EXEC: %s", cfg->name,
                              reply->element[i]->str);
            freeReplyObject(reply);
            reply = NULL;
            undo(r, &k, cfg->name);
            goto out;
        }
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
    if (rc && !taken &&
        (exists(r, k.batch, &there, &(struct mf_error){0}) || !there))
        index_op(r, "SREM", cfg->name);
    mf__batch_argv_free(&a);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

static void
get_blob(const redisReply *h, const char *field, struct mf_batch_blob *b) {
    const redisReply *v = mf__batch_hget(h, field);

    if (v && v->type == REDIS_REPLY_STRING && v->len > 0) {
        b->data = mf_xmemdup(v->str, v->len);
        b->len = v->len;
    }
}

static void
get_oauth(const redisReply *h, const char *prefix, struct mf_batch_oauth *o) {
    char key[64];

    for (size_t i = 0; i < MF_ARRAY_LEN(oauth_fields); i++) {
        snprintf(key, sizeof(key), "%s%s", prefix, oauth_fields[i]);
        *oauth_field(o, i) = mf__batch_hget_strdup(h, key);
    }
    snprintf(key, sizeof(key), "%skey", prefix);
    get_blob(h, key, &o->key);
}

static void
get_caps(const redisReply *h, const char *pfx, struct mf_batch_caps *c) {
    char name[64];

    snprintf(name, sizeof(name), "%smax_connections", pfx);
    c->max_connections = (uint32_t)mf__batch_hget_u64(h, name);
    snprintf(name, sizeof(name), "%smax_connections_per_user", pfx);
    c->max_connections_per_user = (uint32_t)mf__batch_hget_u64(h, name);
    snprintf(name, sizeof(name), "%smax_connections_per_ip", pfx);
    c->max_connections_per_ip = (uint32_t)mf__batch_hget_u64(h, name);
    snprintf(name, sizeof(name), "%smax_concurrent_mailboxes", pfx);
    c->max_concurrent_mailboxes = (uint32_t)mf__batch_hget_u64(h, name);
    snprintf(name, sizeof(name), "%smax_bytes_per_second", pfx);
    c->max_bytes_per_second = mf__batch_hget_u64(h, name);
}

static void
get_counts(const redisReply *h, uint64_t counts[MF_MAILBOX_STATE_COUNT]) {
    char name[64];

    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++) {
        snprintf(name, sizeof(name), "n:%s",
                 mf_mailbox_state_name((enum mf_mailbox_state)i));
        counts[i] = mf__batch_hget_u64(h, name);
    }
}

static enum mf_batch_state
get_state(const redisReply *h) {
    enum mf_batch_state s = MF_BATCH_CREATED;
    const redisReply *v = mf__batch_hget(h, "state");

    if (v && v->type == REDIS_REPLY_STRING &&
        mf_batch_state_parse(v->str, &s) == MF_E_OK)
        return s;
    return MF_BATCH_CREATED;
}

static mf_err
get_list(struct mf_redis *r, const char *key, char ***v_r, size_t *n_r,
         struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 -1", key);

    if (rc)
        return rc;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        *v_r = mf_xcalloc(reply->elements, sizeof(**v_r));
        for (size_t i = 0; i < reply->elements; i++)
            (*v_r)[i] =
                mf_xstrndup(reply->element[i]->str, reply->element[i]->len);
        *n_r = reply->elements;
    }
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_get(struct mf_redis *r, const char *name,
             struct mf_batch_config **cfg_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf_batch_config *c;
    redisReply *h = NULL;
    char ***lists[4];
    size_t *nlists[4];
    mf_err rc;

    if ((rc = mf__batch_check_name(name, err)))
        return rc;
    mf__batch_keys(&k, name);
    if ((rc = mf_redis_command(r, &h, err, "HGETALL %s", k.batch)))
        return rc;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        freeReplyObject(h);
        return mf_error_set(err, MF_E_NOT_FOUND, "batch %s does not exist",
                            name);
    }
    c = mf_xcalloc(1, sizeof(*c));
    c->name = mf_xstrdup(name);
    c->source = mf__batch_hget_strdup(h, "source");
    c->target = mf__batch_hget_strdup(h, "target");
    c->ca_file = mf__batch_hget_strdup(h, "ca_file");
    c->insecure = mf__batch_hget_u64(h, "insecure") != 0;
    c->admin_user = mf__batch_hget_strdup(h, "admin_user");
    c->admin_login_format = mf__batch_hget_strdup(h, "admin_login_format");
    get_blob(h, "admin_password", &c->admin_password);
    c->target_admin_user = mf__batch_hget_strdup(h, "target_admin_user");
    c->target_admin_login_format =
        mf__batch_hget_strdup(h, "target_admin_login_format");
    get_blob(h, "target_admin_password", &c->target_admin_password);
    c->separator_replacement =
        mf__batch_hget_strdup(h, "separator_replacement");
    c->target_root = mf__batch_hget_strdup(h, "target_root");
    c->source_profile = mf__batch_hget_strdup(h, "s_profile");
    c->target_profile = mf__batch_hget_strdup(h, "t_profile");
    c->repair = mf__batch_hget_u64(h, "repair") != 0;
    c->gmail_archive_folder = mf__batch_hget_strdup(h, "gmail_archive");
    c->gmail_labels_as_keywords = mf__batch_hget_u64(h, "gmail_keywords") != 0;
    c->max_message_size = mf__batch_hget_u64(h, "max_message_size");
    get_caps(h, "s_", &c->source_caps);
    get_caps(h, "t_", &c->target_caps);
    c->max_attempts = (uint32_t)mf__batch_hget_u64(h, "max_attempts");
    c->incremental_every = mf__batch_hget_u64(h, "incremental_every");
    c->flag_conflict = get_flag_conflict(h);
    c->window.since = get_day(h, "since");
    c->window.before = get_day(h, "before");
    c->sync_deletes = mf__batch_hget_u64(h, "sync_deletes") != 0;
    get_oauth(h, "s_oauth_", &c->source_oauth);
    get_oauth(h, "t_oauth_", &c->target_oauth);
    c->state = get_state(h);
    c->created = mf__batch_hget_i64(h, "created");
    c->generation = mf__batch_hget_u64(h, "generation");
    c->started = mf__batch_hget_i64(h, "started");
    c->finished = mf__batch_hget_i64(h, "finished");
    c->last_pass_finished = mf__batch_hget_i64(h, "last_pass_finished");
    c->n_mailboxes = mf__batch_hget_u64(h, "n_mailboxes");
    c->pass = mf__batch_hget_u64(h, "pass");
    get_counts(h, c->counts);
    freeReplyObject(h);
    lists[0] = &c->include, nlists[0] = &c->n_include;
    lists[1] = &c->exclude, nlists[1] = &c->n_exclude;
    lists[2] = &c->rename, nlists[2] = &c->n_rename;
    lists[3] = &c->presets, nlists[3] = &c->n_presets;
    for (int l = 0; l < 4; l++)
        if ((rc = get_list(r, k.list[l], lists[l], nlists[l], err))) {
            mf_batch_config_free(&c);
            return rc;
        }
    *cfg_r = c;
    return MF_E_OK;
}

static void
free_blob(struct mf_batch_blob *b) {
    if (b->data) {
        mf_wipe(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

static void
free_oauth(struct mf_batch_oauth *o) {
    for (size_t i = 0; i < MF_ARRAY_LEN(oauth_fields); i++)
        free(*oauth_field(o, i));
    free_blob(&o->key);
}

static void
free_strv(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
mf_batch_config_free(struct mf_batch_config **cp) {
    struct mf_batch_config *c = *cp;

    if (!c)
        return;
    free(c->name);
    free(c->source);
    free(c->target);
    free(c->ca_file);
    free(c->admin_user);
    free(c->admin_login_format);
    free_blob(&c->admin_password);
    free(c->target_admin_user);
    free(c->target_admin_login_format);
    free_blob(&c->target_admin_password);
    free_strv(c->include, c->n_include);
    free_strv(c->exclude, c->n_exclude);
    free_strv(c->rename, c->n_rename);
    free_strv(c->presets, c->n_presets);
    free(c->separator_replacement);
    free(c->target_root);
    free(c->source_profile);
    free(c->target_profile);
    free(c->gmail_archive_folder);
    free_oauth(&c->source_oauth);
    free_oauth(&c->target_oauth);
    free(c);
    *cp = NULL;
}

mf_err
mf_batch_list(struct mf_redis *r, mf_batch_list_cb cb, void *ud,
              struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *names = NULL, *h = NULL;
    const char **v = NULL;
    mf_err rc;

    mf__batch_index_key(key, sizeof(key));
    if ((rc = mf_redis_command(r, &names, err, "SMEMBERS %s", key)))
        return rc;
    if (names->type == REDIS_REPLY_ARRAY && names->elements > 0) {
        v = mf_xcalloc(names->elements, sizeof(*v));
        for (size_t i = 0; i < names->elements; i++)
            v[i] = names->element[i]->str;
        qsort(v, names->elements, sizeof(*v), cmp_str);
    }
    for (size_t i = 0; v && i < names->elements && !rc; i++) {
        struct mf__batch_keys k;
        struct mf_batch_summary s = {.name = v[i]};
        if (!mf_batch_name_valid(v[i]))
            continue;
        mf__batch_keys(&k, v[i]);
        if ((rc = mf_redis_command(r, &h, err, "HGETALL %s", k.batch)))
            break;
        if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
            s.state = get_state(h);
            s.n_mailboxes = mf__batch_hget_u64(h, "n_mailboxes");
            get_counts(h, s.counts);
            s.created = mf__batch_hget_i64(h, "created");
            s.started = mf__batch_hget_i64(h, "started");
            s.finished = mf__batch_hget_i64(h, "finished");
            rc = cb(ud, &s);
        }
        freeReplyObject(h);
        h = NULL;
    }
    free(v);
    freeReplyObject(names);
    return rc;
}

mf_err
mf_batch_remove(struct mf_redis *r, const char *name, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX];
    bool there = false;
    mf_err rc;

    if ((rc = mf__batch_check_name(name, err)))
        return rc;
    mf__batch_keys(&k, name);
    if ((rc = exists(r, k.batch, &there, err)))
        return rc;
    if (!there) {
        index_op(r, "SREM", name);
        return mf_error_set(err, MF_E_NOT_FOUND, "batch %s does not exist",
                            name);
    }
    if ((rc = mf_batch_set_state(r, name, MF_BATCH_REMOVING, err)))
        return rc;
    for (;;) {
        size_t m;
        if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 %d",
                                   k.mailboxes, MF__BATCH_CHUNK - 1)))
            goto out;
        m = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
        if (m == 0)
            break;
        mf__batch_argv_reset(&a);
        mf__batch_argv_adds(&a, "UNLINK");
        for (size_t i = 0; i < m; i++) {
            const char *e = reply->element[i]->str;
            mf__batch_mb_key(key, sizeof(key), name, e, "");
            mf__batch_argv_adds(&a, key);
            mf__batch_mb_key(key, sizeof(key), name, e, ":skipped");
            mf__batch_argv_adds(&a, key);
            mf__batch_mb_key(key, sizeof(key), name, e, ":failed");
            mf__batch_argv_adds(&a, key);
            mf__batch_mb_key(key, sizeof(key), name, e, ":verify");
            mf__batch_argv_adds(&a, key);
            mf__batch_mb_key(key, sizeof(key), name, e, ":verify_items");
            mf__batch_argv_adds(&a, key);
            mf__batch_mb_key(key, sizeof(key), name, e, ":verify_claim");
            mf__batch_argv_adds(&a, key);
            mf__batch_ckpt_key(key, sizeof(key), name, e);
            mf__batch_argv_adds(&a, key);
            mf_checkpoint_flags_key(key, sizeof(key), name, e);
            mf__batch_argv_adds(&a, key);
        }
        freeReplyObject(reply);
        reply = NULL;
        if ((rc = simple(r, &a, NULL, err)))
            goto out;
        if ((rc = mf_redis_command(r, &reply, err, "LTRIM %s %lld -1",
                                   k.mailboxes, (long long)m)))
            goto out;
        freeReplyObject(reply);
        reply = NULL;
    }
    mf__batch_argv_reset(&a);
    mf__batch_argv_adds(&a, "UNLINK");
    mf__batch_argv_adds(&a, k.mailboxes);
    mf__batch_argv_adds(&a, k.claims);
    mf__batch_argv_adds(&a, k.results);
    mf__batch_argv_adds(&a, k.samples);
    mf__batch_argv_adds(&a, k.changes);
    for (int l = 0; l < 4; l++)
        mf__batch_argv_adds(&a, k.list[l]);
    /* Last, so that a removal cut short stays visible as Removing. */
    mf__batch_argv_adds(&a, k.batch);
    if ((rc = simple(r, &a, NULL, err)))
        goto out;
    index_op(r, "SREM", name);
out:
    if (reply)
        freeReplyObject(reply);
    mf__batch_argv_free(&a);
    return rc;
}
