/*
 * Batch records: read, list, remove (creation is create.c's). The global
 * index of names is in another hash slot than the batches, so it is
 * updated outside their transactions: mf_batch_list skips (and forgets)
 * names whose batch hash does not exist.
 *
 * Removal marks the batch Removing (only from a non-running state), then
 * deletes the mailbox keys (records, item lists, checkpoints) chunk by
 * chunk, trimming the mailbox list as it goes so an interrupted removal
 * resumes where it stopped, then the batch-level keys and the index entry.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
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

mf_err
mf__batch_simple(struct mf_redis *r, struct mf__batch_argv *a, long long *int_r,
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

/* One side's OAuth2 settings (absent when the side has none). */
#define OAUTH_NAME(member) #member,
const char *const mf__batch_oauth_fields[MF__BATCH_OAUTH_FIELDS] = {
    MF_BATCH_OAUTH_TEXT(OAUTH_NAME)};
#undef OAUTH_NAME

char **
mf__batch_oauth_field(struct mf_batch_oauth *o, size_t i) {
#define OAUTH_MEMBER(member) &o->member,
    char **f[MF__BATCH_OAUTH_FIELDS] = {MF_BATCH_OAUTH_TEXT(OAUTH_MEMBER)};
#undef OAUTH_MEMBER
    return f[i];
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

mf_err
mf__batch_exists(struct mf_redis *r, const char *key, bool *yes_r,
                 struct mf_error *err) {
    struct mf__batch_argv a = {0};
    long long v = 0;
    mf_err rc;

    mf__batch_argv_adds(&a, "EXISTS");
    mf__batch_argv_adds(&a, key);
    rc = mf__batch_simple(r, &a, &v, err);
    mf__batch_argv_free(&a);
    *yes_r = v == 1;
    return rc;
}

void
mf__batch_index_op(struct mf_redis *r, const char *op, const char *name) {
    struct mf__batch_argv a = {0};
    struct mf_error e = {0};
    char key[MF__BATCH_KEY_MAX];

    mf__batch_index_key(key, sizeof(key));
    mf__batch_argv_adds(&a, op);
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, name);
    if (mf__batch_simple(r, &a, NULL, &e) != MF_E_OK) {
        /* Best effort: mf_batch_list() forgets stale names. */
    }
    mf__batch_argv_free(&a);
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

static void
get_oauth(const redisReply *h, const char *prefix, struct mf_batch_oauth *o) {
    char key[64];

    for (size_t i = 0; i < MF__BATCH_OAUTH_FIELDS; i++) {
        snprintf(key, sizeof(key), "%s%s", prefix, mf__batch_oauth_fields[i]);
        *mf__batch_oauth_field(o, i) = mf__batch_hget_strdup(h, key);
    }
    snprintf(key, sizeof(key), "%skey", prefix);
    mf__batch_hget_blob(h, key, &o->key);
}

/* A side's caps: the hash fields "<pfx><field>" of MF_BATCH_CAPS. */
static void
get_caps(const redisReply *h, const char *pfx, struct mf_batch_caps *c) {
    char name[64];

#define GET_CAP(option, field, max)                                            \
    snprintf(name, sizeof(name), "%s%s", pfx, #field);                         \
    c->field = mf__batch_hget_u64(h, name);
    MF_BATCH_CAPS(GET_CAP)
#undef GET_CAP
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
#define GET_TEXT(member, field) c->member = mf__batch_hget_strdup(h, field);
    MF__BATCH_TEXT_FIELDS(GET_TEXT)
#undef GET_TEXT
#define GET_SECRET(member, field) mf__batch_hget_blob(h, field, &c->member);
    MF__BATCH_SECRET_FIELDS(GET_SECRET)
#undef GET_SECRET
    c->insecure = mf__batch_hget_u64(h, "insecure") != 0;
#define GET_THROTTLE(option, field, min, max, help)                            \
    c->throttle.field = (uint32_t)mf__batch_hget_u64(h, "thr_" #field);
    MF_THROTTLE_FLAGS(GET_THROTTLE)
#undef GET_THROTTLE
#define GET_QUOTA(option, field, min, max, unit, help)                         \
    c->quota.field = mf__batch_hget_u64(h, "quo_" #field);
    MF_QUOTA_FLAGS(GET_QUOTA)
#undef GET_QUOTA
    c->repair = mf__batch_hget_u64(h, "repair") != 0;
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
    c->started_ms = mf__batch_hget_ms(h, "started");
    c->finished_ms = mf__batch_hget_ms(h, "finished");
    c->last_pass_finished = mf__batch_hget_i64(h, "last_pass_finished");
    c->n_mailboxes = mf__batch_hget_u64(h, "n_mailboxes");
    c->pass = mf__batch_hget_u64(h, "pass");
    get_counts(h, c->counts);
    freeReplyObject(h);
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t *n;
        char ***v = mf__batch_rule_items(c, l, &n);
        if ((rc = get_list(r, k.list[l], v, n, err))) {
            mf_batch_config_free(&c);
            return rc;
        }
    }
    *cfg_r = c;
    return MF_E_OK;
}

void
mf_batch_blob_free(struct mf_batch_blob *b) {
    if (b->data) {
        mf_wipe(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

void
mf_batch_oauth_clear(struct mf_batch_oauth *o) {
    for (size_t i = 0; i < MF__BATCH_OAUTH_FIELDS; i++)
        free(*mf__batch_oauth_field(o, i));
    mf_batch_blob_free(&o->key);
    memset(o, 0, sizeof(*o));
}

void
mf_batch_config_free(struct mf_batch_config **cp) {
    struct mf_batch_config *c = *cp;

    if (!c)
        return;
    free(c->name);
#define FREE_TEXT(member, field) free(c->member);
    MF__BATCH_TEXT_FIELDS(FREE_TEXT)
#undef FREE_TEXT
#define FREE_SECRET(member, field) mf_batch_blob_free(&c->member);
    MF__BATCH_SECRET_FIELDS(FREE_SECRET)
#undef FREE_SECRET
    mf__batch_rule_lists_free(c);
    mf_batch_oauth_clear(&c->source_oauth);
    mf_batch_oauth_clear(&c->target_oauth);
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
            s.started_ms = mf__batch_hget_ms(h, "started");
            s.finished_ms = mf__batch_hget_ms(h, "finished");
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
    bool there = false;
    mf_err rc;

    if ((rc = mf__batch_check_name(name, err)))
        return rc;
    mf__batch_keys(&k, name);
    if ((rc = mf__batch_exists(r, k.batch, &there, err)))
        return rc;
    if (!there) {
        mf__batch_index_op(r, "SREM", name);
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
        for (size_t i = 0; i < m; i++)
            mf__batch_argv_add_mb_keys(&a, name, reply->element[i]->str);
        freeReplyObject(reply);
        reply = NULL;
        if ((rc = mf__batch_simple(r, &a, NULL, err)))
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
    if ((rc = mf__batch_simple(r, &a, NULL, err)))
        goto out;
    mf__batch_index_op(r, "SREM", name);
out:
    if (reply)
        freeReplyObject(reply);
    mf__batch_argv_free(&a);
    return rc;
}
