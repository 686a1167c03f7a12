/*
 * `mailferry verify --redis URL --batch NAME` results in the batch
 * (mailferry/verify.h), so that `batch report` shows a verification per
 * mailbox and the differences. Per mailbox two keys beside its record:
 *
 *   mf:{b:N}:mb:<email>:verify        HASH  status (verify name), at,
 *                                           differences, error_code,
 *                                           error_detail, job (the
 *                                           verify job's id, "" from
 *                                           `verify --batch`)
 *   mf:{b:N}:mb:<email>:verify_items  LIST  one difference per entry, in
 *                                           the item codec (batch_int.h):
 *                                           folder, uid = source UID,
 *                                           size = target UID,
 *                                           internal_date, subject,
 *                                           code = kind, name = kind
 *                                           name, detail
 *
 * A new verify replaces the last one. At most MF_BATCH_ITEMS_MAX
 * differences are listed; the count covers them all.
 *
 * Verify jobs (`batch verify --kafka`, kind MF_JOB_KIND_VERIFY) hold a
 * claim of their own while they run, lua/verify_claim.lua:
 *
 *   mf:{b:N}:mb:<email>:verify_claim  HASH  job, attempt, worker, token;
 *                                           expires (PEXPIRE) unless
 *                                           renewed
 *
 * It never touches the mailbox record, so a verify cannot move a
 * mailbox's state, job or counters; the verdict is the job's only
 * result.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum mf_report_verify
verdict(const struct mf_verify_result *res) {
    if (res->error.code != MF_E_OK)
        return MF_REPORT_VERIFY_FAILED;
    return res->n_diffs ? MF_REPORT_VERIFY_DIFFERENCES
                        : MF_REPORT_VERIFIED_EQUAL;
}

mf_err
mf_batch_verify_put(struct mf_redis *r, const char *batch, const char *email,
                    const struct mf_verify_result *res, int64_t now,
                    struct mf_error *err) {
    return mf_batch_verify_put_job(r, batch, email, "", res, now, err);
}

mf_err
mf_batch_verify_put_job(struct mf_redis *r, const char *batch,
                        const char *email, const char *job_id,
                        const struct mf_verify_result *res, int64_t now,
                        struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX], items[MF__BATCH_KEY_MAX];
    struct mf__batch_argv a = {0};
    struct mf_buf buf = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_mb_key(key, sizeof(key), batch, email, ":verify");
    mf__batch_mb_key(items, sizeof(items), batch, email, ":verify_items");
    if ((rc = mf_redis_command(r, &reply, err, "DEL %s %s", key, items)))
        goto out;
    freeReplyObject(reply);
    reply = NULL;
    mf__batch_argv_adds(&a, "HSET");
    mf__batch_argv_adds(&a, key);
    mf__batch_argv_adds(&a, "status");
    mf__batch_argv_adds(&a, mf_report_verify_name(verdict(res)));
    mf__batch_argv_adds(&a, "at");
    mf__batch_argv_addu(&a, now > 0 ? (uint64_t)now : 0);
    mf__batch_argv_adds(&a, "differences");
    mf__batch_argv_addu(&a, res->n_diffs);
    mf__batch_argv_adds(&a, "error_code");
    mf__batch_argv_addu(&a, (uint64_t)res->error.code);
    mf__batch_argv_adds(&a, "error_detail");
    mf__batch_argv_adds(&a, res->error.detail);
    mf__batch_argv_adds(&a, "job");
    mf__batch_argv_adds(&a, job_id ? job_id : "");
    if ((rc = mf__batch_argv_run(r, &a, &reply, err)))
        goto out;
    freeReplyObject(reply);
    reply = NULL;
    for (size_t i = 0; i < res->n_diffs && i < MF_BATCH_ITEMS_MAX;) {
        mf__batch_argv_reset(&a);
        mf__batch_argv_adds(&a, "RPUSH");
        mf__batch_argv_adds(&a, items);
        for (size_t k = 0;
             k < 500 && i < res->n_diffs && i < MF_BATCH_ITEMS_MAX; k++, i++) {
            const struct mf_verify_diff *d = &res->diffs[i];
            struct mf_batch_item it = {
                .folder = d->folder,
                .uid = d->src_uid,
                .size = d->tgt_uid,
                .internal_date = d->when,
                .subject = d->subject,
                .code = (int)d->kind,
                .name = mf_verify_kind_name(d->kind),
                .detail = d->detail,
            };
            mf_buf_reset(&buf);
            mf__batch_item_encode(&buf, &it);
            mf__batch_argv_add(&a, buf.data, buf.len);
        }
        if ((rc = mf__batch_argv_run(r, &a, &reply, err)))
            goto out;
        freeReplyObject(reply);
        reply = NULL;
    }
out:
    if (reply)
        freeReplyObject(reply);
    mf_buf_free(&buf);
    mf__batch_argv_free(&a);
    return rc;
}

/* A difference item to report mailbox x->i. */
struct diffs {
    struct mf_report_batch *rep;
    size_t i;
};

static mf_err
on_diff(void *ud, const struct mf_batch_item *it) {
    struct diffs *x = ud;
    struct mf_report_difference d = {
        .kind = it->name,
        .folder = it->folder,
        .source_uid = it->uid,
        .target_uid = (uint32_t)it->size,
        .internal_date = it->internal_date,
        .subject = it->subject,
        .detail = it->detail,
    };

    mf_report_add_difference(x->rep, x->i, &d);
    return MF_E_OK;
}

mf_err
mf__batch_verify_load(struct mf_redis *r, const char *batch, const char *email,
                      const redisReply *verify, struct mf_report_batch *rep,
                      size_t i, struct mf_error *err) {
    char field[64];
    struct mf_report_mailbox *m = &rep->mailboxes[i];
    struct diffs x = {.rep = rep, .i = i};
    mf_err rc;

    mf__batch_hget_copy(verify, "status", field, sizeof(field));
    for (int v = 0; v < MF_REPORT_VERIFY_COUNT; v++)
        if (field[0] && strcmp(field, mf_report_verify_name(v)) == 0)
            m->verification = (enum mf_report_verify)v;
    mf__batch_hget_copy(verify, "at", field, sizeof(field));
    m->verified_at = strtoll(field, NULL, 10);
    mf__batch_hget_copy(verify, "differences", field, sizeof(field));
    m->verify_differences = strtoull(field, NULL, 10);
    if (m->verification == MF_REPORT_VERIFY_FAILED) {
        char detail[sizeof(((struct mf_error *)0)->detail)];
        mf__batch_hget_copy(verify, "error_detail", detail, sizeof(detail));
        free((char *)m->verify_error_text);
        m->verify_error_text = mf_xstrdup(detail);
    }
    if (m->verify_differences == 0)
        return MF_E_OK;
    if ((rc = mf__batch_items(r, batch, email, ":verify_items", on_diff, &x,
                              err)))
        return rc;
    /* Listed beyond the stored ones: only counted. */
    if (m->verify_differences > m->n_diff_items + m->diff_unlisted)
        m->diff_unlisted = m->verify_differences - m->n_diff_items;
    return MF_E_OK;
}

mf_err
mf_batch_verify_get(struct mf_redis *r, const char *batch, const char *email,
                    struct mf_batch_verdict *v_r, struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX], field[64];
    struct mf_batch_verdict v = {0};
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    mf__batch_mb_key(key, sizeof(key), batch, email, ":verify");
    if ((rc = mf_redis_command(r, &reply, err, "HGETALL %s", key)))
        return rc;
    mf__batch_hget_copy(reply, "status", field, sizeof(field));
    for (int s = 0; s < MF_REPORT_VERIFY_COUNT; s++)
        if (field[0] && strcmp(field, mf_report_verify_name(s)) == 0)
            v.status = (enum mf_report_verify)s;
    mf__batch_hget_copy(reply, "job", v.job_id, sizeof(v.job_id));
    mf__batch_hget_copy(reply, "at", field, sizeof(field));
    v.at = strtoll(field, NULL, 10);
    mf__batch_hget_copy(reply, "differences", field, sizeof(field));
    v.differences = strtoull(field, NULL, 10);
    mf__batch_hget_copy(reply, "error_code", field, sizeof(field));
    v.error_code = (mf_err)strtol(field, NULL, 10);
    mf__batch_hget_copy(reply, "error_detail", v.error_detail,
                        sizeof(v.error_detail));
    freeReplyObject(reply);
    *v_r = v;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Verify claims                                                      */
/* ------------------------------------------------------------------ */

static mf_err
claim_script(struct mf_redis *r, const struct mf_batch_lease *l, const char *op,
             int64_t ttl_ms, const char *token, redisReply **reply_r,
             struct mf_error *err) {
    char rec[MF__BATCH_KEY_MAX], claim[MF__BATCH_KEY_MAX];
    struct mf__batch_argv a = {0};
    redisReply *reply = NULL;
    const char *w;
    mf_err rc;

    mf__batch_mb_key(rec, sizeof(rec), l->batch, l->email, "");
    mf__batch_mb_key(claim, sizeof(claim), l->batch, l->email, ":verify_claim");
    mf__batch_script_argv(&a, MF__BS_VERIFY_CLAIM, 2);
    mf__batch_argv_adds(&a, rec);
    mf__batch_argv_adds(&a, claim);
    mf__batch_argv_adds(&a, op);
    mf__batch_argv_adds(&a, l->job_id);
    mf__batch_argv_addu(&a, l->attempt);
    mf__batch_argv_adds(&a, l->worker);
    mf__batch_argv_addi(&a, ttl_ms > 0 ? ttl_ms : 1);
    mf__batch_argv_adds(&a, token ? token : "");
    rc = mf__batch_script_run(r, &a, &reply, err);
    mf__batch_argv_free(&a);
    if (rc)
        return rc;
    w = mf__batch_reply_word(reply);
    if (!w || strcmp(w, "OK")) {
        rc = mf__batch_refused(err, reply, l->batch, l->email,
                               "verify the mailbox");
        freeReplyObject(reply);
        return rc;
    }
    *reply_r = reply;
    return MF_E_OK;
}

mf_err
mf_batch_verify_claim(struct mf_redis *r, const char *batch, const char *email,
                      const char *job_id, uint32_t attempt,
                      const char *worker_id, const char *token, int64_t ttl_ms,
                      struct mf_batch_lease *lease_r, struct mf_error *err) {
    struct mf_batch_lease l;
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mf__batch_lease_init(&l, "verify claim", batch, email, job_id,
                                   attempt, worker_id, token, ttl_ms, err)))
        return rc;
    l.verify = true;
    if ((rc = claim_script(r, &l, "claim", ttl_ms, token, &reply, err)))
        return rc;
    l.expiry_ms = mf__batch_reply_ll(reply, 1);
    freeReplyObject(reply);
    *lease_r = l;
    return MF_E_OK;
}

mf_err
mf__batch_verify_lease(struct mf_redis *r, struct mf_batch_lease *lease,
                       const char *op, int64_t ttl_ms, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = claim_script(r, lease, op, ttl_ms, NULL, &reply, err);

    if (rc)
        return rc;
    if (strcmp(op, "renew") == 0)
        lease->expiry_ms = mf__batch_reply_ll(reply, 1);
    freeReplyObject(reply);
    return MF_E_OK;
}
