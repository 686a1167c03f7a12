/*
 * `mailferry verify --redis URL --batch NAME` results in the batch
 * (mailferry/verify.h), so that `batch report` shows a verification per
 * mailbox and the differences. Per mailbox two keys beside its record:
 *
 *   mf:{b:N}:mb:<email>:verify        HASH  status (verify name), at,
 *                                           differences, error_code,
 *                                           error_detail
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

mf_err
mf__batch_verify_load(struct mf_redis *r, const char *batch, const char *email,
                      struct mf_report_batch *rep, size_t i,
                      struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX], field[64];
    struct mf_report_mailbox *m = &rep->mailboxes[i];
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_mb_key(key, sizeof(key), batch, email, ":verify");
    if ((rc = mf_redis_command(r, &reply, err, "HGETALL %s", key)))
        return rc;
    mf__batch_hget_copy(reply, "status", field, sizeof(field));
    for (int v = 0; v < MF_REPORT_VERIFY_COUNT; v++)
        if (field[0] && strcmp(field, mf_report_verify_name(v)) == 0)
            m->verification = (enum mf_report_verify)v;
    mf__batch_hget_copy(reply, "at", field, sizeof(field));
    m->verified_at = strtoll(field, NULL, 10);
    mf__batch_hget_copy(reply, "differences", field, sizeof(field));
    m->verify_differences = strtoull(field, NULL, 10);
    if (m->verification == MF_REPORT_VERIFY_FAILED) {
        char detail[sizeof(((struct mf_error *)0)->detail)];
        mf__batch_hget_copy(reply, "error_detail", detail, sizeof(detail));
        free((char *)m->verify_error_text);
        m->verify_error_text = mf_xstrdup(detail);
    }
    freeReplyObject(reply);
    reply = NULL;
    if (m->verify_differences == 0)
        return MF_E_OK;
    mf__batch_mb_key(key, sizeof(key), batch, email, ":verify_items");
    if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 %d", key,
                               MF_BATCH_ITEMS_MAX - 1)))
        return rc;
    for (size_t j = 0; reply->type == REDIS_REPLY_ARRAY && j < reply->elements;
         j++) {
        struct mf_batch_item it;
        struct mf_report_difference d;
        char *store = NULL;
        if (!mf__batch_item_decode(reply->element[j]->str,
                                   reply->element[j]->len, &store, &it))
            continue; /* a corrupt item costs only itself */
        d.kind = it.name;
        d.folder = it.folder;
        d.source_uid = it.uid;
        d.target_uid = (uint32_t)it.size;
        d.internal_date = it.internal_date;
        d.subject = it.subject;
        d.detail = it.detail;
        mf_report_add_difference(rep, i, &d);
        free(store);
    }
    /* Listed beyond the stored ones: only counted. */
    if (m->verify_differences > m->n_diff_items + m->diff_unlisted)
        m->diff_unlisted = m->verify_differences - m->n_diff_items;
    freeReplyObject(reply);
    return MF_E_OK;
}
