/*
 * Passes, stop and claims (docs/design.md §4, §6).
 *
 * A pass (start, sync, complete) is begun by one script that moves the
 * batch to its running state and sets the batch's "enqueuing" mark, then
 * one script per MF__BATCH_CHUNK mailboxes that gives each chosen mailbox
 * a new job (Queued, pass + 1, attempt 1), then one that clears the mark
 * and settles. While the mark is set the batch never settles, so a batch
 * whose first mailboxes finish before the last are queued does not end
 * early; an interrupted walk is resumed by repeating the operation.
 *
 * Claims are leases on (job id, attempt) kept in the mailbox hash and in
 * a ZSET of expiries per batch, both by Redis TIME; see lua/claim.lua and
 * its neighbours for the exact checks. A claim carries the caller's token
 * so that a retry after a lost reply finds its own claim instead of
 * CLAIMED. Nothing here reads the host clock.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
    [MF_BATCH_OP_START] = "start",
    [MF_BATCH_OP_SYNC] = "sync",
    [MF_BATCH_OP_COMPLETE] = "complete",
};

/* Runs a script; a first word other than "OK" becomes an error through
 * mf__batch_refused(). On success the reply is the caller's. */
static mf_err
run_ok(struct mf_redis *r, struct mf__batch_argv *a, const char *batch,
       const char *email, const char *what, redisReply **reply_r,
       struct mf_error *err) {
    redisReply *reply = NULL;
    const char *w;
    mf_err rc = mf__batch_script_run(r, a, &reply, err);

    mf__batch_argv_free(a);
    if (rc)
        return rc;
    w = mf__batch_reply_word(reply);
    if (!w || strcmp(w, "OK")) {
        rc = mf__batch_refused(err, reply, batch, email, what);
        freeReplyObject(reply);
        return rc;
    }
    *reply_r = reply;
    return MF_E_OK;
}

static enum mf_batch_state
parse_state(const char *s) {
    enum mf_batch_state st = MF_BATCH_CREATED;

    if (s && mf_batch_state_parse(s, &st) == MF_E_OK)
        return st;
    return MF_BATCH_CREATED;
}

static void
fill_job(struct mf_batch_job *j, const char *email, const char *job_id,
         const char *pass, const char *attempt, const char *kind) {
    memset(j, 0, sizeof(*j));
    snprintf(j->job_id, sizeof(j->job_id), "%s", job_id ? job_id : "");
    snprintf(j->email, sizeof(j->email), "%s", email ? email : "");
    j->pass = pass ? strtoull(pass, NULL, 10) : 0;
    j->attempt = attempt ? (uint32_t)strtoul(attempt, NULL, 10) : 0;
    j->kind = mf__batch_kind_parse(kind ? kind : "");
}

struct walk_ctx {
    struct mf_redis *r;
    const char *batch, *op;
    uint64_t bpass;
    mf_batch_job_cb cb;
    void *ud;
};

/* The chunk script for one chunk of mailboxes; cb (if any) for each job
 * it returns. */
static mf_err
pass_chunk(void *ud, const char *const *emails, size_t n,
           struct mf_error *err) {
    struct walk_ctx *c = ud;
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX];
    struct mf_batch_job job;
    mf_err rc;

    mf__batch_keys(&k, c->batch);
    mf__batch_script_argv(&a, MF__BS_PASS_CHUNK, (int)n + 1);
    mf__batch_argv_adds(&a, k.batch);
    for (size_t i = 0; i < n; i++) {
        mf__batch_mb_key(key, sizeof(key), c->batch, emails[i], "");
        mf__batch_argv_adds(&a, key);
    }
    mf__batch_argv_adds(&a, c->op);
    mf__batch_argv_addu(&a, c->bpass);
    mf__batch_argv_adds(&a, c->batch);
    /* run_ok() frees the argv. */
    if ((rc = run_ok(c->r, &a, c->batch, NULL, "queue jobs", &reply, err)))
        return rc;
    for (size_t i = 1; i + 4 < reply->elements && c->cb && !rc; i += 5) {
        fill_job(&job, mf__batch_reply_str(reply, i, NULL),
                 mf__batch_reply_str(reply, i + 1, NULL),
                 mf__batch_reply_str(reply, i + 2, NULL),
                 mf__batch_reply_str(reply, i + 3, NULL),
                 mf__batch_reply_str(reply, i + 4, NULL));
        rc = c->cb(c->ud, &job);
    }
    freeReplyObject(reply);
    return rc;
}

/* Walks the mailbox list with the chunk script for op ("start", "sync",
 * "complete" or "stop"), calling cb (if any) for each job it returns. */
static mf_err
walk(struct mf_redis *r, const char *batch, const char *op, uint64_t bpass,
     mf_batch_job_cb cb, void *ud, struct mf_error *err) {
    struct walk_ctx c = {r, batch, op, bpass, cb, ud};
    return mf__batch_walk(r, batch, pass_chunk, &c, err);
}

static mf_err
simple_script(struct mf_redis *r, enum mf__batch_script s, const char *batch,
              const char *arg, const char *what, enum mf_batch_state *state_r,
              struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_keys(&k, batch);
    mf__batch_script_argv(&a, s, 1);
    mf__batch_argv_adds(&a, k.batch);
    if (arg)
        mf__batch_argv_adds(&a, arg);
    if ((rc = run_ok(r, &a, batch, NULL, what, &reply, err)))
        return rc;
    if (state_r)
        *state_r = parse_state(mf__batch_reply_str(reply, 1, NULL));
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_begin_pass(struct mf_redis *r, const char *batch, enum mf_batch_op op,
                    mf_batch_job_cb cb, void *ud, enum mf_batch_state *state_r,
                    struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    uint64_t bpass;
    mf_err rc;

    MF_ASSERT((unsigned)op < MF_ARRAY_LEN(op_names));
    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(&k, batch);
    mf__batch_script_argv(&a, MF__BS_PASS_BEGIN, 2);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_argv_adds(&a, k.samples);
    mf__batch_argv_adds(&a, op_names[op]);
    if ((rc = run_ok(r, &a, batch, NULL, op_names[op], &reply, err)))
        return rc;
    bpass = (uint64_t)mf__batch_reply_ll(reply, 2);
    freeReplyObject(reply);
    if ((rc = walk(r, batch, op_names[op], bpass, cb, ud, err)))
        return rc;
    return simple_script(r, MF__BS_PASS_END, batch, op_names[op], "end a pass",
                         state_r, err);
}

struct queued_ctx {
    mf_batch_job_cb cb;
    void *ud;
};

static mf_err
queued_one(void *ud, const struct mf_batch_mailbox *mb) {
    struct queued_ctx *q = ud;
    struct mf_batch_job job = {0};

    if (mb->state != MF_MAILBOX_QUEUED || mb->pass == 0)
        return MF_E_OK;
    snprintf(job.job_id, sizeof(job.job_id), "%s", mb->job_id);
    snprintf(job.email, sizeof(job.email), "%s", mb->cfg.email);
    job.pass = mb->pass;
    job.attempt = mb->attempt;
    job.kind = mb->kind;
    return q->cb(q->ud, &job);
}

mf_err
mf_batch_foreach_queued(struct mf_redis *r, const char *batch,
                        mf_batch_job_cb cb, void *ud, struct mf_error *err) {
    struct queued_ctx q = {cb, ud};

    return mf_batch_foreach_mailbox(r, batch, queued_one, &q, err);
}

mf_err
mf_batch_stop(struct mf_redis *r, const char *batch,
              enum mf_batch_state *state_r, struct mf_error *err) {
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)) ||
        (rc = simple_script(r, MF__BS_STOP, batch, NULL, "stop", NULL, err)) ||
        (rc = walk(r, batch, "stop", 0, NULL, NULL, err)))
        return rc;
    return mf_batch_settle(r, batch, state_r, err);
}

mf_err
mf_batch_settle(struct mf_redis *r, const char *batch,
                enum mf_batch_state *state_r, struct mf_error *err) {
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    return simple_script(r, MF__BS_SETTLE, batch, NULL, "settle", state_r, err);
}

mf_err
mf_batch_state_read(struct mf_redis *r, const char *batch,
                    enum mf_batch_state *state_r, struct mf_error *err) {
    struct mf__batch_keys k;
    redisReply *reply = NULL;
    enum mf_batch_state st;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(&k, batch);
    if ((rc = mf_redis_command(r, &reply, err, "HGET %s state", k.batch)))
        return rc;
    if (reply->type != REDIS_REPLY_STRING ||
        mf_batch_state_parse(reply->str, &st) != MF_E_OK)
        rc =
            mf_error_set(err, MF_E_NOT_FOUND, "batch %s does not exist", batch);
    else
        *state_r = st;
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_stop_requested(struct mf_redis *r, const char *batch, bool *stop_r,
                        struct mf_error *err) {
    enum mf_batch_state st;
    mf_err rc = mf_batch_state_read(r, batch, &st, err);

    if (rc == MF_E_NOT_FOUND) {
        *stop_r = true; /* gone: not an error here */
        memset(err, 0, sizeof(*err));
        return MF_E_OK;
    }
    if (rc == MF_E_OK)
        *stop_r = st == MF_BATCH_STOPPING || st == MF_BATCH_STOPPED ||
                  st == MF_BATCH_REMOVING;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Claims                                                             */
/* ------------------------------------------------------------------ */

/* KEYS batch, mailbox, claims; ARGV job, attempt, worker, x, email. */
static void
claim_argv(struct mf__batch_argv *a, enum mf__batch_script s, const char *batch,
           const char *email, const char *job_id, uint32_t attempt,
           const char *worker, int64_t x) {
    struct mf__batch_keys k;
    char key[MF__BATCH_KEY_MAX];

    mf__batch_keys(&k, batch);
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    mf__batch_script_argv(a, s, 3);
    mf__batch_argv_adds(a, k.batch);
    mf__batch_argv_adds(a, key);
    mf__batch_argv_adds(a, k.claims);
    mf__batch_argv_adds(a, job_id);
    mf__batch_argv_addu(a, attempt);
    mf__batch_argv_adds(a, worker);
    mf__batch_argv_addi(a, x);
    mf__batch_argv_adds(a, email);
}

void
mf_batch_claim_token(char out[MF_BATCH_TOKEN_LEN + 1]) {
    mf_random_hex(out, MF_BATCH_TOKEN_LEN);
}

mf_err
mf_batch_claim(struct mf_redis *r, const char *batch, const char *email,
               const char *job_id, uint32_t attempt, const char *worker_id,
               const char *token, int64_t ttl_ms,
               struct mf_batch_lease *lease_r, struct mf_error *err) {
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    struct mf_batch_lease l;
    mf_err rc;

    if ((rc = mf__batch_lease_init(&l, "claim", batch, email, job_id, attempt,
                                   worker_id, token, ttl_ms, err)))
        return rc;
    claim_argv(&a, MF__BS_CLAIM, batch, email, job_id, attempt, worker_id,
               ttl_ms);
    mf__batch_argv_adds(&a, token ? token : "");
    if ((rc = run_ok(r, &a, batch, email, "claim the job", &reply, err)))
        return rc;
    l.expiry_ms = mf__batch_reply_ll(reply, 1);
    l.stop_requested = mf__batch_reply_ll(reply, 2) != 0;
    freeReplyObject(reply);
    *lease_r = l;
    return MF_E_OK;
}

mf_err
mf_batch_renew(struct mf_redis *r, struct mf_batch_lease *lease, int64_t ttl_ms,
               struct mf_error *err) {
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if (lease->verify)
        return mf__batch_verify_lease(r, lease, "renew", ttl_ms, err);
    claim_argv(&a, MF__BS_RENEW, lease->batch, lease->email, lease->job_id,
               lease->attempt, lease->worker, ttl_ms);
    if ((rc = run_ok(r, &a, lease->batch, lease->email, "renew the claim",
                     &reply, err)))
        return rc;
    lease->expiry_ms = mf__batch_reply_ll(reply, 1);
    lease->stop_requested = mf__batch_reply_ll(reply, 2) != 0;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_release(struct mf_redis *r, const struct mf_batch_lease *lease,
                 bool finished, struct mf_error *err) {
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if (lease->verify) {
        struct mf_batch_lease l = *lease;
        return mf__batch_verify_lease(r, &l, "release", 1, err);
    }
    claim_argv(&a, MF__BS_RELEASE, lease->batch, lease->email, lease->job_id,
               lease->attempt, lease->worker, finished ? 1 : 0);
    mf__batch_argv_addi(&a, MF_BATCH_RESULT_WAIT_TTLS * lease->ttl_ms);
    if ((rc = run_ok(r, &a, lease->batch, lease->email, "release the claim",
                     &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_expired_claims(struct mf_redis *r, const char *batch,
                        mf_batch_expired_cb cb, void *ud,
                        struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(&k, batch);
    mf__batch_script_argv(&a, MF__BS_EXPIRED, 1);
    mf__batch_argv_adds(&a, k.claims);
    mf__batch_argv_adds(&a, k.mb_prefix);
    if ((rc = run_ok(r, &a, batch, NULL, "list expired claims", &reply, err)))
        return rc;
    for (size_t i = 1; i + 5 < reply->elements && !rc; i += 6) {
        struct mf_batch_expired e = {
            .email = mf__batch_reply_str(reply, i, NULL),
            .job_id = mf__batch_reply_str(reply, i + 1, NULL),
            .attempt = (uint32_t)mf__batch_reply_ll(reply, i + 2),
            .worker = mf__batch_reply_str(reply, i + 3, NULL),
            .expiry_ms = mf__batch_reply_ll(reply, i + 4),
            .result_due = mf__batch_reply_ll(reply, i + 5) == 2,
        };
        rc = cb(ud, &e);
    }
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_requeue(struct mf_redis *r, const char *batch, const char *email,
                 bool results_current, struct mf_batch_requeued *out,
                 struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX];
    const char *w;
    mf_err rc;

    memset(out, 0, sizeof(*out));
    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(&k, batch);
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    mf__batch_script_argv(&a, MF__BS_REQUEUE, 3);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, k.claims);
    mf__batch_argv_adds(&a, email);
    mf__batch_argv_addi(&a, results_current ? 1 : 0);
    rc = mf__batch_script_run(r, &a, &reply, err);
    mf__batch_argv_free(&a);
    if (rc)
        return rc;
    w = mf__batch_reply_word(reply);
    if (w && strcmp(w, "LIVE") == 0)
        rc = mf_error_set(err, MF_E_CLAIMED,
                          "batch %s mailbox %s: the claim is live again", batch,
                          email);
    else if (w && strcmp(w, "WAIT") == 0)
        rc = mf_error_set(err, MF_E_CLAIMED,
                          "batch %s mailbox %s: the finished job's result may "
                          "still be on its way",
                          batch, email);
    else if (w && strcmp(w, "NOCLAIM") == 0)
        rc = mf_error_set(err, MF_E_STATE,
                          "batch %s mailbox %s: no expired claim to requeue",
                          batch, email);
    else if (w && (!strcmp(w, "OK") || !strcmp(w, "DEAD") ||
                   !strcmp(w, "STOPPED"))) {
        fill_job(&out->job, email, mf__batch_reply_str(reply, 1, NULL),
                 mf__batch_reply_str(reply, 3, NULL),
                 mf__batch_reply_str(reply, 2, NULL),
                 mf__batch_reply_str(reply, 4, NULL));
        out->dead = strcmp(w, "DEAD") == 0;
        out->result_lost = mf__batch_reply_ll(reply, 6) == 1;
        if (strcmp(w, "STOPPED") == 0)
            out->job.attempt = 0; /* nothing to produce */
    } else
        rc = mf__batch_refused(err, reply, batch, email, "requeue");
    freeReplyObject(reply);
    return rc;
}
