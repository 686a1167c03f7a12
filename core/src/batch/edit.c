/*
 * Editing a batch's mailboxes (mailferry/batch_edit.h): add, update,
 * drop, and operations on chosen mailboxes. Each is one Lua script
 * (lua/edit_*.lua) over the batch hash and the records it touches, so it
 * is all or nothing and checked against the states a concurrent pass,
 * worker or coordinator may be changing; add, update and drop also
 * record a line in the batch's history of changes (settings.c's list).
 *
 * Add and update send every row in one script call: a refusal (a
 * mailbox already there, one not there) must leave nothing half done.
 * Operations over a whole batch walk its mailbox list in chunks of
 * MF__BATCH_CHUNK, as a pass does.
 */
#include "batch/batch_int.h"

#include "batch_lua.h"
#include "mailferry/batch_edit.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_words[] = {
    [MF_BATCH_MB_SYNC] = "sync",
    [MF_BATCH_MB_START] = "start",
    [MF_BATCH_MB_STOP] = "stop",
    [MF_BATCH_MB_RETRY] = "retry",
    [MF_BATCH_MB_RETRY_AUTH] = "retry-auth",
    [MF_BATCH_MB_REISSUE] = "reissue",
};

/* Starts a call of one of the edit scripts (not in script.c's table:
 * they are this file's alone). */
static void
script_argv(struct mf__batch_argv *a, const struct mf_redis_script *s,
            size_t nkeys) {
    mf__batch_argv_reset(a);
    a->script = s;
    a->nkeys = nkeys;
}

static enum mf_batch_state
state_of(const char *s) {
    enum mf_batch_state st = MF_BATCH_CREATED;

    if (s && mf_batch_state_parse(s, &st) == MF_E_OK)
        return st;
    return MF_BATCH_CREATED;
}

/* The keys of the rows' mailbox records. */
static void
add_mailbox_keys(struct mf__batch_argv *a, const char *batch,
                 const struct mf_batch_mailbox_cfg *mbs, size_t n) {
    char key[MF__BATCH_KEY_MAX];

    for (size_t i = 0; i < n; i++) {
        mf__batch_mb_key(key, sizeof(key), batch, mbs[i].email, "");
        mf__batch_argv_adds(a, key);
    }
}

/* A row's logins as the edit scripts take them: user, password,
 * UserRoot, target user, target password. */
static void
add_logins(struct mf__batch_argv *a, const struct mf_batch_mailbox_cfg *m) {
    mf__batch_argv_adds(a, m->user);
    mf__batch_argv_add_blob(a, &m->password);
    mf__batch_argv_adds(a, m->user_root);
    mf__batch_argv_adds(a, m->target_user);
    mf__batch_argv_add_blob(a, &m->target_password);
}

static mf_err
check_rows(const char *batch, const struct mf_batch_mailbox_cfg *mbs, size_t n,
           struct mf_error *err) {
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    if (n == 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "no mailbox given");
    for (size_t i = 0; i < n; i++) {
        size_t len = mbs[i].email ? strlen(mbs[i].email) : 0;
        if (len == 0 || len > MF_BATCH_EMAIL_MAX)
            return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                                "mailbox %zu: EmailAddress empty or longer "
                                "than %d bytes",
                                i + 1, MF_BATCH_EMAIL_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(mbs[i].email, mbs[j].email) == 0)
                return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                                    "duplicate EmailAddress %.200s",
                                    mbs[i].email);
    }
    return MF_E_OK;
}

/* Ends the call in a with the mailboxes emails[0..n) as its last ARGV,
 * runs it and frees a: the tail of the drop and op scripts' calls. */
static mf_err
run_on_emails(struct mf_redis *r, struct mf__batch_argv *a,
              const char *const *emails, size_t n, redisReply **reply_r,
              struct mf_error *err) {
    mf_err rc;

    for (size_t i = 0; i < n; i++)
        mf__batch_argv_adds(a, emails[i]);
    rc = mf__batch_script_run(r, a, reply_r, err);
    mf__batch_argv_free(a);
    return rc;
}

/* Runs a script whose refusal lists indexes ({word, i, ...}): those go to
 * *idx_r (1-based in the reply, 0-based out) with code. */
static mf_err
run_indexed(struct mf_redis *r, struct mf__batch_argv *a, const char *batch,
            const char *word, mf_err code, const char *what,
            const struct mf_batch_mailbox_cfg *mbs, size_t **idx_r,
            size_t *n_idx_r, redisReply **reply_r, struct mf_error *err) {
    redisReply *reply = NULL;
    const char *w;
    mf_err rc = mf__batch_script_run(r, a, &reply, err);

    if (rc)
        return rc;
    w = mf__batch_reply_word(reply);
    if (w && strcmp(w, word) == 0) {
        size_t n = reply->elements - 1;
        size_t *v = mf_xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++)
            v[i] = (size_t)mf__batch_reply_ll(reply, i + 1) - 1;
        rc = mf_error_set(err, code, "batch %s: %zu mailbox%s %s, %s first",
                          batch, n, n == 1 ? "" : "es", what, mbs[v[0]].email);
        if (idx_r)
            *idx_r = v;
        else
            free(v);
        if (n_idx_r)
            *n_idx_r = n;
        freeReplyObject(reply);
        return rc;
    }
    if (!w || strcmp(w, "OK") != 0) {
        rc = mf__batch_refused(err, reply, batch, NULL, "edit its mailboxes");
        freeReplyObject(reply);
        return rc;
    }
    *reply_r = reply;
    return MF_E_OK;
}

/* Fills a job from five reply fields at i: email, job, pass, attempt,
 * kind. */
static void
job_at(const redisReply *reply, size_t i, struct mf_batch_job *j) {
    const char *s;

    memset(j, 0, sizeof(*j));
    snprintf(j->email, sizeof(j->email), "%s",
             (s = mf__batch_reply_str(reply, i, NULL)) ? s : "");
    snprintf(j->job_id, sizeof(j->job_id), "%s",
             (s = mf__batch_reply_str(reply, i + 1, NULL)) ? s : "");
    j->pass = strtoull((s = mf__batch_reply_str(reply, i + 2, NULL)) ? s : "0",
                       NULL, 10);
    j->attempt = (uint32_t)strtoul(
        (s = mf__batch_reply_str(reply, i + 3, NULL)) ? s : "0", NULL, 10);
    j->kind = mf__batch_kind_parse(
        (s = mf__batch_reply_str(reply, i + 4, NULL)) ? s : "");
}

/* Add (add) or update: the rows checked, then one call of edit_add.lua
 * (KEYS: batch, mailbox list, changes, the rows' records; ARGV: the
 * batch's name, then each row's email and logins) or edit_update.lua
 * (KEYS: batch, changes, the rows' records; ARGV: each row's logins).
 * The rows it refuses (already in the batch, not in it) go to *idx_r. */
static mf_err
edit_rows(struct mf_redis *r, bool add, const char *batch,
          const struct mf_batch_mailbox_cfg *mbs, size_t n, size_t **idx_r,
          size_t *n_idx_r, redisReply **reply_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    mf_err rc;

    if (n_idx_r)
        *n_idx_r = 0;
    if ((rc = check_rows(batch, mbs, n, err)))
        return rc;
    mf__batch_keys(&k, batch);
    script_argv(&a, add ? &mf__batch_lua_edit_add : &mf__batch_lua_edit_update,
                (add ? 3 : 2) + n);
    mf__batch_argv_adds(&a, k.batch);
    if (add)
        mf__batch_argv_adds(&a, k.mailboxes);
    mf__batch_argv_adds(&a, k.changes);
    add_mailbox_keys(&a, batch, mbs, n);
    if (add)
        mf__batch_argv_adds(&a, batch);
    for (size_t i = 0; i < n; i++) {
        if (add)
            mf__batch_argv_adds(&a, mbs[i].email);
        add_logins(&a, &mbs[i]);
    }
    if (add)
        rc = run_indexed(r, &a, batch, "DUP", MF_E_CSV_MAILBOX_IN_BATCH,
                         "already in it", mbs, idx_r, n_idx_r, reply_r, err);
    else
        rc = run_indexed(r, &a, batch, "UNKNOWN", MF_E_CSV_MAILBOX_NOT_IN_BATCH,
                         "not in it", mbs, idx_r, n_idx_r, reply_r, err);
    mf__batch_argv_free(&a);
    return rc;
}

mf_err
mf_batch_add_mailboxes(struct mf_redis *r, const char *batch,
                       const struct mf_batch_mailbox_cfg *mbs, size_t n,
                       mf_batch_job_cb cb, void *ud, size_t **dups_r,
                       size_t *n_dups_r, enum mf_batch_state *state_r,
                       struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc =
        edit_rows(r, true, batch, mbs, n, dups_r, n_dups_r, &reply, err);

    if (rc)
        return rc;
    if (state_r)
        *state_r = state_of(mf__batch_reply_str(reply, 1, NULL));
    for (size_t i = 2; i + 4 < reply->elements && cb && !rc; i += 5) {
        struct mf_batch_job j;
        job_at(reply, i, &j);
        rc = cb(ud, &j);
    }
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_update_mailboxes(struct mf_redis *r, const char *batch,
                          const struct mf_batch_mailbox_cfg *mbs, size_t n,
                          size_t **unknown_r, size_t *n_unknown_r,
                          struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc =
        edit_rows(r, false, batch, mbs, n, unknown_r, n_unknown_r, &reply, err);

    if (rc)
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_drop_mailboxes(struct mf_redis *r, const char *batch,
                        const char *const *emails, size_t n,
                        enum mf_batch_state *state_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    const char *w, *a1, *a2;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    if (n == 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "no mailbox given");
    mf__batch_keys(&k, batch);
    script_argv(&a, &mf__batch_lua_edit_drop, 4 + MF__BATCH_MB_KEYS * n);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_argv_adds(&a, k.mailboxes);
    mf__batch_argv_adds(&a, k.claims);
    mf__batch_argv_adds(&a, k.changes);
    for (size_t i = 0; i < n; i++)
        mf__batch_argv_add_mb_keys(&a, batch, emails[i]);
    if ((rc = run_on_emails(r, &a, emails, n, &reply, err)))
        return rc;
    w = mf__batch_reply_word(reply);
    a1 = mf__batch_reply_str(reply, 1, NULL);
    a2 = mf__batch_reply_str(reply, 2, NULL);
    if (w && strcmp(w, "OK") == 0) {
        if (state_r)
            *state_r = state_of(a1);
    } else if (w && strcmp(w, "UNKNOWN") == 0)
        rc = mf_error_set(err, MF_E_CSV_MAILBOX_NOT_IN_BATCH,
                          "batch %s has no mailbox %s; nothing dropped", batch,
                          a1 ? a1 : "");
    else if (w && strcmp(w, "RUNNING") == 0)
        rc = mf_error_set(err, MF_E_STATE,
                          "batch %s mailbox %s is %s: stop it first (`batch "
                          "stop %s --mailbox %s`); nothing dropped",
                          batch, a1 ? a1 : "", a2 ? a2 : "", batch,
                          a1 ? a1 : "");
    else if (w && strcmp(w, "ALL") == 0)
        rc = mf_error_set(err, MF_E_INVALID_ARGUMENT,
                          "that is every mailbox of batch %s: `batch remove "
                          "%s` removes the batch",
                          batch, batch);
    else
        rc = mf__batch_refused(err, reply, batch, NULL, "drop mailboxes");
    freeReplyObject(reply);
    return rc;
}

/* One script call of op over emails[0..n). */
static mf_err
op_chunk(struct mf_redis *r, const char *batch, enum mf_batch_mb_op op,
         const char *const *emails, size_t n, mf_batch_mb_outcome_cb cb,
         void *ud, enum mf_batch_state *state_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX];
    mf_err rc;

    mf__batch_keys(&k, batch);
    script_argv(&a, &mf__batch_lua_edit_op, 1 + n);
    mf__batch_argv_adds(&a, k.batch);
    for (size_t i = 0; i < n; i++) {
        mf__batch_mb_key(key, sizeof(key), batch, emails[i], "");
        mf__batch_argv_adds(&a, key);
    }
    mf__batch_argv_adds(&a, op_words[op]);
    mf__batch_argv_adds(&a, batch);
    if ((rc = run_on_emails(r, &a, emails, n, &reply, err)))
        return rc;
    if (!mf__batch_reply_word(reply) ||
        strcmp(mf__batch_reply_word(reply), "OK") != 0) {
        rc = mf__batch_refused(err, reply, batch, NULL, op_words[op]);
        freeReplyObject(reply);
        return rc;
    }
    if (state_r)
        *state_r = state_of(mf__batch_reply_str(reply, 1, NULL));
    for (size_t i = 2; i + 6 < reply->elements && !rc; i += 7) {
        struct mf_batch_mb_outcome o = {
            .email = mf__batch_reply_str(reply, i, NULL),
            .outcome = mf__batch_reply_str(reply, i + 1, NULL),
            .state = mf__batch_reply_str(reply, i + 2, NULL),
        };
        struct mf_batch_job j;
        const char *job = mf__batch_reply_str(reply, i + 3, NULL);
        if (job && *job) {
            memset(&j, 0, sizeof(j));
            snprintf(j.email, sizeof(j.email), "%s", o.email);
            snprintf(j.job_id, sizeof(j.job_id), "%s", job);
            j.pass =
                strtoull(mf__batch_reply_str(reply, i + 4, NULL), NULL, 10);
            j.attempt = (uint32_t)strtoul(
                mf__batch_reply_str(reply, i + 5, NULL), NULL, 10);
            j.kind =
                mf__batch_kind_parse(mf__batch_reply_str(reply, i + 6, NULL));
            o.job = &j;
        }
        if (cb)
            rc = cb(ud, &o);
    }
    freeReplyObject(reply);
    return rc;
}

/* mf_batch_mailboxes_op() over every mailbox: one script call a chunk. */
struct op_walk {
    struct mf_redis *r;
    const char *batch;
    enum mf_batch_mb_op op;
    mf_batch_mb_outcome_cb cb;
    void *ud;
    enum mf_batch_state *state_r;
    bool any;
};

static mf_err
op_walk_chunk(void *ud, const char *const *emails, size_t n,
              struct mf_error *err) {
    struct op_walk *w = ud;

    w->any = true;
    return op_chunk(w->r, w->batch, w->op, emails, n, w->cb, w->ud, w->state_r,
                    err);
}

mf_err
mf_batch_mailboxes_op(struct mf_redis *r, const char *batch,
                      enum mf_batch_mb_op op, const char *const *emails,
                      size_t n, mf_batch_mb_outcome_cb cb, void *ud,
                      enum mf_batch_state *state_r, struct mf_error *err) {
    struct op_walk w = {.r = r,
                        .batch = batch,
                        .op = op,
                        .cb = cb,
                        .ud = ud,
                        .state_r = state_r};
    mf_err rc;

    MF_ASSERT((unsigned)op < MF_ARRAY_LEN(op_words));
    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    if (emails) {
        for (size_t i = 0; i < n && !rc; i += MF__BATCH_CHUNK)
            rc = op_chunk(r, batch, op, emails + i,
                          n - i < MF__BATCH_CHUNK ? n - i : MF__BATCH_CHUNK, cb,
                          ud, state_r, err);
        return rc;
    }
    /* Every mailbox: the list walked chunk by chunk, as a pass walks it. */
    if ((rc = mf__batch_walk(r, batch, op_walk_chunk, &w, err)) || w.any)
        return rc;
    /* No mailbox: still the state check and the batch's state. */
    return op_chunk(r, batch, op, NULL, 0, cb, ud, state_r, err);
}

mf_err
mf_batch_mailbox_stop_requested(struct mf_redis *r, const char *batch,
                                const char *email, const char *job_id,
                                bool *stop_r, struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    mf_err rc;

    *stop_r = false;
    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    if ((rc = mf_redis_command(r, &reply, err, "HGET %s stop_job", key)))
        return rc;
    *stop_r = reply->type == REDIS_REPLY_STRING && job_id && *job_id &&
              strcmp(reply->str, job_id) == 0;
    freeReplyObject(reply);
    return MF_E_OK;
}
