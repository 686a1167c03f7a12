/*
 * Mailbox records: reading one (HGETALL), walking all of a batch in CSV
 * order (one script call returns the records of MF__BATCH_CHUNK mailboxes),
 * and the table-checked state setters for batches and mailboxes (the
 * allowed "from" states come from state.c's tables, so C and Lua agree).
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The caps as the job's last progress said (progress.lua): names as
 * mf_migrate_wait_name() and mf_caps_cap_name() write them; a name not
 * known reads as no wait. */
static void
read_conns(const redisReply *h, struct mf_migrate_conns *c) {
    char what[32], cap[32];

    c->source_held = (uint32_t)mf__batch_hget_u64(h, "p_shold");
    c->target_held = (uint32_t)mf__batch_hget_u64(h, "p_thold");
    mf__batch_hget_copy(h, "p_wait", what, sizeof(what));
    mf__batch_hget_copy(h, "p_wcap", cap, sizeof(cap));
    for (int w = 1; w < MF_MIGRATE_WAIT_COUNT; w++)
        if (!strcmp(what, mf_migrate_wait_name((enum mf_migrate_wait)w)))
            c->waiting = (enum mf_migrate_wait)w;
    if (c->waiting == MF_MIGRATE_WAIT_NONE)
        return;
    for (int k = 0; k <= MF_CAPS_CAP_MAILBOXES; k++)
        if (!strcmp(cap, mf_caps_cap_name((enum mf_caps_cap)k)))
            c->cap = (enum mf_caps_cap)k;
    c->waiting_ms = mf__batch_hget_u64(h, "p_wms");
}

/* The live progress fields, when they are the current job attempt's
 * (p_key, progress.lua): a result clears p_key but leaves the totals, so
 * without this check a new job would show its predecessor's. */
static void
read_progress(const redisReply *h, struct mf_batch_mailbox *mb) {
    char key[MF_BATCH_JOB_ID_MAX + 16], want[MF_BATCH_JOB_ID_MAX + 16];

    mf__batch_hget_copy(h, "p_key", key, sizeof(key));
    snprintf(want, sizeof(want), "%s#%u", mb->job_id, mb->attempt);
    if (!key[0] || strcmp(key, want) != 0)
        return;
    mb->progress_seq = mf__batch_hget_u64(h, "p_seq");
    mb->messages_total = mf__batch_hget_u64(h, "p_total");
    mb->messages_done = mf__batch_hget_u64(h, "p_messages");
    mb->bytes_done = mf__batch_hget_u64(h, "p_bytes");
    mb->bytes_total = mf__batch_hget_u64(h, "p_btotal");
    mb->folders_total = (uint32_t)mf__batch_hget_u64(h, "p_ftotal");
    mb->folders_done = (uint32_t)mf__batch_hget_u64(h, "p_fdone");
    read_conns(h, &mb->conns);
}

void
mf__batch_mailbox_fill(struct mf_batch_mailbox *mb, const redisReply *h) {
    struct mf_migrate_stats *s = &mb->stats;
    const redisReply *v;
    char buf[32];

    memset(mb, 0, sizeof(*mb));
    mb->cfg.email = mf__batch_hget_strdup(h, "email");
    if (!mb->cfg.email)
        mb->cfg.email = mf_xstrdup("");
    mb->cfg.user = mf__batch_hget_strdup(h, "user");
    mf__batch_hget_blob(h, "password", &mb->cfg.password);
    mb->cfg.user_root = mf__batch_hget_strdup(h, "user_root");
    mb->cfg.target_user = mf__batch_hget_strdup(h, "target_user");
    mf__batch_hget_blob(h, "target_password", &mb->cfg.target_password);
    v = mf__batch_hget(h, "state");
    if (!v || v->type != REDIS_REPLY_STRING ||
        mf_mailbox_state_parse(v->str, &mb->state) != MF_E_OK)
        mb->state = MF_MAILBOX_QUEUED;
    mf__batch_hget_copy(h, "job", mb->job_id, sizeof(mb->job_id));
    mb->pass = mf__batch_hget_u64(h, "pass");
    mb->attempt = (uint32_t)mf__batch_hget_u64(h, "attempt");
    mf__batch_hget_copy(h, "kind", buf, sizeof(buf));
    mb->kind = mf__batch_kind_parse(buf);
    mb->attempts_total = (uint32_t)mf__batch_hget_u64(h, "attempts_total");
    mb->synced_once = mf__batch_hget_u64(h, "synced_once") != 0;
    mf__batch_hget_copy(h, "claim_worker", mb->claim_worker,
                        sizeof(mb->claim_worker));
    mb->claim_expiry_ms = mf__batch_hget_i64(h, "claim_expiry");
    mf__batch_hget_copy(h, "worker", mb->worker, sizeof(mb->worker));
    mb->first_sync = mf__batch_hget_i64(h, "first_sync");
    mb->last_sync = mf__batch_hget_i64(h, "last_sync");
    mb->finished = mf__batch_hget_i64(h, "finished");
    mb->first_sync_ms = mf__batch_hget_ms(h, "first_sync");
    mb->last_sync_ms = mf__batch_hget_ms(h, "last_sync");
    mb->finished_ms = mf__batch_hget_ms(h, "finished");
    s->folders_copied = (uint32_t)mf__batch_hget_u64(h, "folders_copied");
    s->folders_excluded = (uint32_t)mf__batch_hget_u64(h, "folders_excluded");
    s->folders_created = (uint32_t)mf__batch_hget_u64(h, "folders_created");
    s->folders_renamed = (uint32_t)mf__batch_hget_u64(h, "folders_renamed");
    s->messages_source = mf__batch_hget_u64(h, "messages_source");
    s->bytes_source = mf__batch_hget_u64(h, "bytes_source");
    s->messages_copied = mf__batch_hget_u64(h, "messages_copied");
    s->bytes_copied = mf__batch_hget_u64(h, "bytes_copied");
    s->messages_present = mf__batch_hget_u64(h, "messages_present");
    s->skipped_too_large = mf__batch_hget_u64(h, "skipped_too_large");
    s->skipped_vanished = mf__batch_hget_u64(h, "skipped_vanished");
    s->outside_window = mf__batch_hget_u64(h, "outside_window");
    s->bytes_outside_window = mf__batch_hget_u64(h, "bytes_outside_window");
    s->deleted_on_target = mf__batch_hget_u64(h, "deleted_on_target");
    s->moved_on_target = mf__batch_hget_u64(h, "moved_on_target");
    s->failed = mf__batch_hget_u64(h, "failed");
    s->flags_updated = mf__batch_hget_u64(h, "flags_updated");
    s->lease_wait_ms = mf__batch_hget_u64(h, "lease_wait_ms");
    s->throttles = mf__batch_hget_u64(h, "throttles");
    s->throttle_wait_ms = mf__batch_hget_u64(h, "throttle_wait_ms");
    s->uidvalidity_changes =
        (uint32_t)mf__batch_hget_u64(h, "uidvalidity_changes");
    s->attempts = mb->attempts_total;
    s->seconds = mf__batch_hget_double(h, "seconds");
    mb->skipped_excluded = mf__batch_hget_u64(h, "skipped_excluded");
    mb->skipped_unlisted = mf__batch_hget_u64(h, "skipped_unlisted");
    mb->failed_unlisted = mf__batch_hget_u64(h, "failed_unlisted");
    read_progress(h, mb);
    mb->error_code = (int)mf__batch_hget_i64(h, "error_code");
    mf__batch_hget_copy(h, "error_name", mb->error_name,
                        sizeof(mb->error_name));
    mf__batch_hget_copy(h, "error_detail", mb->error_detail,
                        sizeof(mb->error_detail));
    mb->wait_until = mf__batch_hget_i64(h, "wait_until");
    mf__batch_hget_copy(h, "wait_why", mb->wait_why, sizeof(mb->wait_why));
}

void
mf__batch_mailbox_clear(struct mf_batch_mailbox *mb) {
    free(mb->cfg.email);
    free(mb->cfg.user);
    mf_batch_blob_free(&mb->cfg.password);
    free(mb->cfg.user_root);
    free(mb->cfg.target_user);
    mf_batch_blob_free(&mb->cfg.target_password);
    memset(mb, 0, sizeof(*mb));
}

void
mf_batch_mailbox_free(struct mf_batch_mailbox **mbp) {
    if (!*mbp)
        return;
    mf__batch_mailbox_clear(*mbp);
    free(*mbp);
    *mbp = NULL;
}

static mf_err from_reply(const redisReply *h, const char *batch,
                         const char *email, struct mf_batch_mailbox **mb_r,
                         struct mf_error *err);

mf_err
mf_batch_mailbox_get(struct mf_redis *r, const char *batch, const char *email,
                     struct mf_batch_mailbox **mb_r, struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *h = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    if ((rc = mf_redis_command(r, &h, err, "HGETALL %s", key)))
        return rc;
    rc = from_reply(h, batch, email, mb_r, err);
    freeReplyObject(h);
    return rc;
}

/* The mailbox record of one HGETALL reply into *mb_r, or NOT_FOUND. */
static mf_err
from_reply(const redisReply *h, const char *batch, const char *email,
           struct mf_batch_mailbox **mb_r, struct mf_error *err) {
    if (h->type == REDIS_REPLY_ERROR)
        return mf_error_set(err, MF_E_REDIS, "HGETALL: %.*s", (int)h->len,
                            h->str);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0)
        return mf_error_set(err, MF_E_NOT_FOUND,
                            "batch %s has no mailbox %.200s", batch, email);
    *mb_r = mf_xcalloc(1, sizeof(**mb_r));
    mf__batch_mailbox_fill(*mb_r, h);
    return MF_E_OK;
}

/* The fields of a mailbox record that say how to log in (struct
 * mf_batch_mailbox_cfg), in the order cfg_from_reply() reads them. */
static const char *const cfg_fields[] = {
    "email", "user", "password", "user_root", "target_user", "target_password",
};

/* A string field of an HMGET reply: NULL when absent or empty. */
static const redisReply *
hmget_field(const redisReply *h, size_t i) {
    const redisReply *v = i < h->elements ? h->element[i] : NULL;

    return v && v->type == REDIS_REPLY_STRING && v->len > 0 ? v : NULL;
}

static char *
hmget_strdup(const redisReply *h, size_t i) {
    const redisReply *v = hmget_field(h, i);

    return v ? mf_xstrndup(v->str, v->len) : NULL;
}

static void
hmget_blob(const redisReply *h, size_t i, struct mf_batch_blob *b) {
    const redisReply *v = hmget_field(h, i);

    if (v) {
        b->data = mf_xmemdup(v->str, v->len);
        b->len = v->len;
    }
}

/* The login fields of one HMGET cfg_fields reply into *mb_r, or
 * NOT_FOUND. */
static mf_err
cfg_from_reply(const redisReply *h, const char *batch, const char *email,
               struct mf_batch_mailbox **mb_r, struct mf_error *err) {
    struct mf_batch_mailbox_cfg *c;

    if (h->type == REDIS_REPLY_ERROR)
        return mf_error_set(err, MF_E_REDIS, "HMGET: %.*s", (int)h->len,
                            h->str);
    if (h->type != REDIS_REPLY_ARRAY || !hmget_field(h, 0))
        return mf_error_set(err, MF_E_NOT_FOUND,
                            "batch %s has no mailbox %.200s", batch, email);
    *mb_r = mf_xcalloc(1, sizeof(**mb_r));
    c = &(*mb_r)->cfg;
    c->email = hmget_strdup(h, 0);
    c->user = hmget_strdup(h, 1);
    hmget_blob(h, 2, &c->password);
    c->user_root = hmget_strdup(h, 3);
    c->target_user = hmget_strdup(h, 4);
    hmget_blob(h, 5, &c->target_password);
    return MF_E_OK;
}

/* Reads n mailboxes' records in one round trip: the whole record
 * (HGETALL) or, with cfg_only, the login fields alone (HMGET). */
static mf_err
get_many(struct mf_redis *r, const char *batch, const char *const *emails,
         size_t n, bool cfg_only, struct mf_batch_mailbox **mbs_r,
         struct mf_error *err) {
    enum { FIELDS = MF_ARRAY_LEN(cfg_fields), ARGS = 2 + FIELDS };
    char(*keys)[MF__BATCH_KEY_MAX] = NULL;
    const char *(*argv)[ARGS] = NULL;
    size_t(*lens)[ARGS] = NULL;
    const char **av = NULL;
    const size_t **lv = NULL;
    int *argc = NULL;
    redisReply **replies = NULL;
    mf_err rc;

    MF_ASSERT(n <= MF_REDIS_PIPELINE_MAX);
    if ((rc = mf__batch_check_name(batch, err)) || n == 0)
        return rc;
    keys = mf_xcalloc(n, sizeof(*keys));
    argv = mf_xcalloc(n, sizeof(*argv));
    lens = mf_xcalloc(n, sizeof(*lens));
    av = mf_xcalloc(n, sizeof(*av));
    lv = mf_xcalloc(n, sizeof(*lv));
    argc = mf_xcalloc(n, sizeof(*argc));
    replies = mf_xcalloc(n, sizeof(*replies));
    for (size_t i = 0; i < n; i++) {
        mf__batch_mb_key(keys[i], sizeof(keys[i]), batch, emails[i], "");
        argv[i][0] = cfg_only ? "HMGET" : "HGETALL";
        argv[i][1] = keys[i];
        argc[i] = 2;
        for (size_t f = 0; cfg_only && f < FIELDS; f++)
            argv[i][argc[i]++] = cfg_fields[f];
        for (int a = 0; a < argc[i]; a++)
            lens[i][a] = strlen(argv[i][a]);
        av[i] = (const char *)argv[i];
        lv[i] = lens[i];
    }
    rc = mf_redis_pipeline(r, n, argc, (const char *const *const *)av, lv,
                           replies, err);
    for (size_t i = 0; rc == MF_E_OK && i < n; i++)
        rc = cfg_only
                 ? cfg_from_reply(replies[i], batch, emails[i], &mbs_r[i], err)
                 : from_reply(replies[i], batch, emails[i], &mbs_r[i], err);
    if (rc != MF_E_OK)
        for (size_t i = 0; i < n; i++)
            mf_batch_mailbox_free(&mbs_r[i]);
    for (size_t i = 0; i < n; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
    free(argc);
    free(lv);
    free(av);
    free(lens);
    free(argv);
    free(keys);
    return rc;
}

mf_err
mf_batch_mailbox_get_many(struct mf_redis *r, const char *batch,
                          const char *const *emails, size_t n,
                          struct mf_batch_mailbox **mbs_r,
                          struct mf_error *err) {
    return get_many(r, batch, emails, n, false, mbs_r, err);
}

mf_err
mf_batch_mailbox_cfg_get_many(struct mf_redis *r, const char *batch,
                              const char *const *emails, size_t n,
                              struct mf_batch_mailbox **mbs_r,
                              struct mf_error *err) {
    return get_many(r, batch, emails, n, true, mbs_r, err);
}

mf_err
mf__batch_walk(struct mf_redis *r, const char *batch, mf__batch_chunk_cb cb,
               void *ud, struct mf_error *err) {
    struct mf__batch_keys k;
    const char *emails[MF__BATCH_CHUNK];
    size_t start = 0;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(&k, batch);
    for (;;) {
        redisReply *names = NULL;
        size_t m = 0;
        if ((rc = mf_redis_command(r, &names, err, "LRANGE %s %lld %lld",
                                   k.mailboxes, (long long)start,
                                   (long long)(start + MF__BATCH_CHUNK - 1))))
            break;
        if (names->type == REDIS_REPLY_ARRAY)
            m = names->elements < MF__BATCH_CHUNK ? names->elements
                                                  : MF__BATCH_CHUNK;
        for (size_t i = 0; i < m; i++)
            emails[i] = names->element[i]->str;
        if (m)
            rc = cb(ud, emails, m, err);
        freeReplyObject(names);
        if (rc || m < MF__BATCH_CHUNK)
            break;
        start += m;
    }
    return rc;
}

struct foreach_ctx {
    struct mf_redis *r;
    const char *batch;
    mf_batch_mailbox_cb cb;
    void *ud;
};

/* The records of one chunk of mailboxes, in one script call. */
static mf_err
foreach_chunk(void *ud, const char *const *emails, size_t n,
              struct mf_error *err) {
    struct foreach_ctx *c = ud;
    struct mf__batch_argv a = {0};
    redisReply *recs = NULL;
    char key[MF__BATCH_KEY_MAX];
    struct mf_batch_mailbox mb;
    mf_err rc;

    mf__batch_script_argv(&a, MF__BS_GETMANY, (int)n);
    for (size_t i = 0; i < n; i++) {
        mf__batch_mb_key(key, sizeof(key), c->batch, emails[i], "");
        mf__batch_argv_adds(&a, key);
    }
    rc = mf__batch_script_run(c->r, &a, &recs, err);
    mf__batch_argv_free(&a);
    if (rc)
        return rc;
    for (size_t i = 0; i < recs->elements && !rc; i++) {
        if (recs->element[i]->elements == 0)
            continue; /* removed meanwhile */
        mf__batch_mailbox_fill(&mb, recs->element[i]);
        rc = c->cb(c->ud, &mb);
        mf__batch_mailbox_clear(&mb);
    }
    freeReplyObject(recs);
    return rc;
}

mf_err
mf_batch_foreach_mailbox(struct mf_redis *r, const char *batch,
                         mf_batch_mailbox_cb cb, void *ud,
                         struct mf_error *err) {
    struct foreach_ctx c = {r, batch, cb, ud};
    return mf__batch_walk(r, batch, foreach_chunk, &c, err);
}

mf_err
mf_batch_set_state(struct mf_redis *r, const char *batch,
                   enum mf_batch_state to, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char what[64];
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    MF_ASSERT((unsigned)to < MF_BATCH_STATE_COUNT);
    mf__batch_keys(&k, batch);
    mf__batch_script_argv(&a, MF__BS_SET_STATE, 1);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_argv_adds(&a, mf_batch_state_name(to));
    for (int f = 0; f < MF_BATCH_STATE_COUNT; f++)
        if (mf_batch_transition_allowed((enum mf_batch_state)f, to))
            mf__batch_argv_adds(&a, mf_batch_state_name(f));
    if (!(rc = mf__batch_script_run(r, &a, &reply, err))) {
        const char *w = mf__batch_reply_word(reply);
        snprintf(what, sizeof(what), "go to %s", mf_batch_state_name(to));
        if (!w || strcmp(w, "OK"))
            rc = mf__batch_refused(err, reply, batch, NULL, what);
        freeReplyObject(reply);
    }
    mf__batch_argv_free(&a);
    return rc;
}

mf_err
mf_batch_mailbox_set_state(struct mf_redis *r, const char *batch,
                           const char *email, enum mf_mailbox_state to,
                           struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX], what[64];
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    MF_ASSERT((unsigned)to < MF_MAILBOX_STATE_COUNT);
    mf__batch_keys(&k, batch);
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    mf__batch_script_argv(&a, MF__BS_MB_SET_STATE, 2);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, mf_mailbox_state_name(to));
    for (int f = 0; f < MF_MAILBOX_STATE_COUNT; f++)
        if (mf_mailbox_transition_allowed((enum mf_mailbox_state)f, to))
            mf__batch_argv_adds(&a, mf_mailbox_state_name(f));
    if (!(rc = mf__batch_script_run(r, &a, &reply, err))) {
        const char *w = mf__batch_reply_word(reply);
        snprintf(what, sizeof(what), "go to %s", mf_mailbox_state_name(to));
        if (!w || strcmp(w, "OK"))
            rc = mf__batch_refused(err, reply, batch, email, what);
        freeReplyObject(reply);
    }
    mf__batch_argv_free(&a);
    return rc;
}
