/*
 * Progress and results of jobs (docs/design.md §6: "idempotent, keyed by job
 * and attempt"). Both are one Lua script each (script.c), so a result is
 * applied whole or not at all:
 *
 *   progress  ignored unless it is for the mailbox's current job and
 *             attempt and its sequence number is above the last applied;
 *   result    recorded in the batch's results SET first; SADD answering 0
 *             means a duplicate delivery and nothing changes.
 *
 * Items travel as list elements in the length-prefixed form of
 * mf__batch_item_encode(); at most MF_BATCH_ITEMS_MAX of each kind are
 * sent, the rest only counted.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts the vector a for script s on one mailbox, its first keys the batch
 * and the mailbox (then nkeys - 2 more from the caller). */
static mf_err
mb_script(struct mf__batch_argv *a, enum mf__batch_script s, int nkeys,
          const char *batch, const char *email, struct mf__batch_keys *k,
          struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_keys(k, batch);
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    mf__batch_script_argv(a, s, nkeys);
    mf__batch_argv_adds(a, k->batch);
    mf__batch_argv_adds(a, key);
    return MF_E_OK;
}

mf_err
mf_batch_mailbox_wait(struct mf_redis *r, const char *batch, const char *email,
                      int64_t until, const char *why, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mb_script(&a, MF__BS_MB_WAIT, 2, batch, email, &k, err)))
        return rc;
    mf__batch_argv_addi(&a, until > 0 ? until : 0);
    mf__batch_argv_adds(&a, why ? why : "");
    rc = mf__batch_script_run(r, &a, &reply, err);
    mf__batch_argv_free(&a);
    if (rc == MF_E_OK)
        freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_apply_progress(struct mf_redis *r, const char *batch,
                        const char *email, const struct mf_batch_progress *p,
                        bool *applied_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mb_script(&a, MF__BS_PROGRESS, 3, batch, email, &k, err)))
        return rc;
    mf__batch_argv_adds(&a, k.samples);
    mf__batch_argv_adds(&a, p->job_id);
    mf__batch_argv_addu(&a, p->attempt);
    mf__batch_argv_addu(&a, p->seq);
    mf__batch_argv_addu(&a, p->messages_total);
    mf__batch_argv_addu(&a, p->messages_done);
    mf__batch_argv_addu(&a, p->bytes_done);
    mf__batch_argv_addu(&a, p->folders_total);
    mf__batch_argv_addu(&a, p->folders_done);
    mf__batch_argv_addu(&a, p->bytes_total);
    mf__batch_argv_addu(&a, p->conns.source_held);
    mf__batch_argv_addu(&a, p->conns.target_held);
    mf__batch_argv_adds(&a, p->conns.waiting == MF_MIGRATE_WAIT_NONE
                                ? ""
                                : mf_migrate_wait_name(p->conns.waiting));
    mf__batch_argv_adds(&a, p->conns.waiting == MF_MIGRATE_WAIT_NONE
                                ? ""
                                : mf_caps_cap_name(p->conns.cap));
    mf__batch_argv_addu(&a, p->conns.waiting_ms);
    rc = mf__batch_script_run(r, &a, &reply, err);
    mf__batch_argv_free(&a);
    if (rc)
        return rc;
    if (applied_r)
        *applied_r = mf__batch_reply_ll(reply, 1) == 1;
    freeReplyObject(reply);
    return MF_E_OK;
}

/* The result script's word for an outcome. A failed pass that visited
 * every folder ("incomplete": messages are missing, and listed) replaces
 * the mailbox's lists and counters like a synced one, since its lists are
 * the mailbox's whole state. */
static const char *
outcome_word(enum mf_outcome o, bool pass_complete) {
    switch (o) {
    case MF_OUTCOME_SYNCED:
        return "synced";
    case MF_OUTCOME_FAILED:
        return pass_complete ? "incomplete" : "failed";
    case MF_OUTCOME_STOPPED:
        return "stopped";
    case MF_OUTCOME_RETRY:
        return "retry";
    case MF_OUTCOME_UNSPECIFIED:
        break;
    }
    return NULL;
}

static void
add_stats(struct mf__batch_argv *a, const struct mf_batch_result *res) {
    const struct mf_migrate_stats *s = &res->stats;
    char secs[32];

    mf__batch_argv_addu(a, s->folders_copied);
    mf__batch_argv_addu(a, s->folders_excluded);
    mf__batch_argv_addu(a, s->folders_created);
    mf__batch_argv_addu(a, s->folders_renamed);
    mf__batch_argv_addu(a, s->messages_source);
    mf__batch_argv_addu(a, s->bytes_source);
    mf__batch_argv_addu(a, s->messages_copied);
    mf__batch_argv_addu(a, s->bytes_copied);
    mf__batch_argv_addu(a, s->messages_present);
    mf__batch_argv_addu(a, s->skipped_too_large);
    mf__batch_argv_addu(a, s->skipped_vanished);
    mf__batch_argv_addu(a, res->skipped_excluded);
    mf__batch_argv_addu(a, s->failed);
    mf__batch_argv_addu(a, s->flags_updated);
    mf__batch_argv_addu(a, s->uidvalidity_changes);
    snprintf(secs, sizeof(secs), "%.3f", s->seconds >= 0 ? s->seconds : 0.0);
    mf__batch_argv_adds(a, secs);
    mf__batch_argv_addu(a, s->outside_window);
    mf__batch_argv_addu(a, s->bytes_outside_window);
    mf__batch_argv_addu(a, s->deleted_on_target);
    mf__batch_argv_addu(a, s->moved_on_target);
}

/* Counters that add up over the mailbox's jobs (time waited for
 * connection slots, the servers' throttling). Kept beside the script's
 * fields (a counter only: a lost increment after a crash costs a
 * statistic, not mail). */
static void
add_counter(struct mf_redis *r, const char *batch, const char *email,
            const char *field, uint64_t v) {
    char key[MF__BATCH_KEY_MAX + MF_BATCH_EMAIL_MAX];
    redisReply *reply = NULL;
    struct mf_error err;

    if (!v)
        return;
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    if (mf_redis_command(r, &reply, &err, "HINCRBY %s %s %llu", key, field,
                         (unsigned long long)v) == MF_E_OK)
        freeReplyObject(reply);
}

static void
add_items(struct mf__batch_argv *a, const struct mf_batch_item *v, size_t n) {
    struct mf_buf b = {0};

    for (size_t i = 0; i < n; i++) {
        mf_buf_reset(&b);
        mf__batch_item_encode(&b, &v[i]);
        mf__batch_argv_add(a, b.data, b.len);
    }
    mf_buf_free(&b);
}

static void
fill_job(struct mf_batch_job *j, const char *email, const redisReply *reply) {
    const char *s;

    memset(j, 0, sizeof(*j));
    snprintf(j->email, sizeof(j->email), "%s", email);
    s = mf__batch_reply_str(reply, 1, NULL);
    snprintf(j->job_id, sizeof(j->job_id), "%s", s ? s : "");
    j->attempt = (uint32_t)mf__batch_reply_ll(reply, 2);
    j->pass = (uint64_t)mf__batch_reply_ll(reply, 3);
    s = mf__batch_reply_str(reply, 4, NULL);
    j->kind = mf__batch_kind_parse(s ? s : "");
}

mf_err
mf_batch_apply_result(struct mf_redis *r, const char *batch, const char *email,
                      const struct mf_batch_result *res,
                      struct mf_batch_applied *out_r, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf__batch_argv a = {0};
    struct mf_batch_applied out = {0};
    redisReply *reply = NULL;
    char key[MF__BATCH_KEY_MAX];
    const char *outcome = outcome_word(res->outcome, res->stats.pass_complete),
               *w;
    size_t ns = res->n_skipped < MF_BATCH_ITEMS_MAX ? res->n_skipped
                                                    : MF_BATCH_ITEMS_MAX;
    size_t nf =
        res->n_failed < MF_BATCH_ITEMS_MAX ? res->n_failed : MF_BATCH_ITEMS_MAX;
    const char *ename = res->error_name;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    if (!outcome || !res->job_id)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "batch %s mailbox %s: result without outcome "
                            "or job id",
                            batch, email);
    if (res->error_code && (!ename || !*ename))
        ename = mf_err_name((mf_err)res->error_code);
    mf__batch_keys(&k, batch);
    mf__batch_script_argv(&a, MF__BS_RESULT, 7);
    mf__batch_argv_adds(&a, k.batch);
    mf__batch_mb_key(key, sizeof(key), batch, email, "");
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, k.claims);
    mf__batch_argv_adds(&a, k.results);
    mf__batch_argv_adds(&a, k.samples);
    mf__batch_mb_key(key, sizeof(key), batch, email, ":skipped");
    mf__batch_argv_adds(&a, key);
    mf__batch_mb_key(key, sizeof(key), batch, email, ":failed");
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, res->job_id);
    mf__batch_argv_addu(&a, res->attempt);
    mf__batch_argv_adds(&a, res->worker);
    mf__batch_argv_adds(&a, outcome);
    mf__batch_argv_adds(&a, email);
    mf__batch_argv_addi(&a, res->error_code);
    mf__batch_argv_adds(&a, res->error_code ? ename : "");
    mf__batch_argv_adds(&a, res->error_code ? res->error_detail : "");
    add_stats(&a, res);
    mf__batch_argv_addu(&a, res->n_skipped);
    mf__batch_argv_addu(&a, res->n_failed);
    mf__batch_argv_addu(&a, ns);
    mf__batch_argv_addu(&a, nf);
    add_items(&a, res->skipped, ns);
    add_items(&a, res->failed, nf);
    rc = mf__batch_script_run(r, &a, &reply, err);
    mf__batch_argv_free(&a);
    if (rc)
        return rc;
    w = mf__batch_reply_word(reply);
    if (w && (!strcmp(w, "DUP") || !strcmp(w, "STALE"))) {
        out.applied = false;
        if (mf_batch_settle(r, batch, &out.batch_state, err) != MF_E_OK)
            out.batch_state = MF_BATCH_STATE_COUNT;
    } else if (w && (!strcmp(w, "OK") || !strcmp(w, "REQUEUE") ||
                     !strcmp(w, "DEAD"))) {
        const char *bs = mf__batch_reply_str(reply, 5, NULL);
        out.applied = true;
        add_counter(r, batch, email, "lease_wait_ms", res->stats.lease_wait_ms);
        /* The servers' throttling (issue 13), summed the same way. */
        add_counter(r, batch, email, "throttles", res->stats.throttles);
        add_counter(r, batch, email, "throttle_wait_ms",
                    res->stats.throttle_wait_ms);
        out.requeue = strcmp(w, "REQUEUE") == 0;
        out.dead = strcmp(w, "DEAD") == 0;
        if (out.requeue || out.dead)
            fill_job(&out.job, email, reply);
        if (!bs || mf_batch_state_parse(bs, &out.batch_state) != MF_E_OK)
            out.batch_state = MF_BATCH_STATE_COUNT;
    } else {
        rc = mf__batch_refused(err, reply, batch, email, "apply a result");
    }
    freeReplyObject(reply);
    if (!rc && out_r)
        *out_r = out;
    return rc;
}
