/*
 * The consolidated report (docs/design.md §11) built from the batch records:
 * the batch hash gives the header, each mailbox record a row, its item
 * lists the skipped and failed messages, the samples list the throughput
 * chart. The model (report.h) copies everything, so the Redis replies are
 * freed as soon as each row is added. No password field exists in the
 * model: the sealed blobs are never read here.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    struct mf_redis *r;
    const char *batch;
    struct mf_report_batch *rep;
    struct mf_error *err;
};

/* Adds the items of one list ("skipped" or "failed") to mailbox i. */
static mf_err
add_items(struct ctx *c, size_t i, const char *email, bool skipped) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_mb_key(key, sizeof(key), c->batch, email,
                     skipped ? ":skipped" : ":failed");
    if ((rc = mf_redis_command(c->r, &reply, c->err, "LRANGE %s 0 %d", key,
                               MF_BATCH_ITEMS_MAX - 1)))
        return rc;
    for (size_t j = 0; reply->type == REDIS_REPLY_ARRAY && j < reply->elements;
         j++) {
        struct mf_batch_item it;
        char *store = NULL;
        if (!mf__batch_item_decode(reply->element[j]->str,
                                   reply->element[j]->len, &store, &it))
            continue; /* a corrupt item costs only itself */
        if (skipped) {
            struct mf_report_skipped s = {
                .folder = it.folder,
                .uid = it.uid,
                .size = it.size,
                .internal_date = it.internal_date,
                .subject = it.subject,
                .reason = mf_report_skip_reason_of(it.code),
            };
            mf_report_add_skipped(c->rep, i, &s);
        } else {
            struct mf_report_failed f = {
                .folder = it.folder,
                .uid = it.uid,
                .error_code = it.code,
                .error_text = it.detail,
            };
            mf_report_add_failed(c->rep, i, &f);
        }
        free(store);
    }
    freeReplyObject(reply);
    return MF_E_OK;
}

static mf_err
one(void *ud, const struct mf_batch_mailbox *mb) {
    struct ctx *c = ud;
    const struct mf_migrate_stats *s = &mb->stats;
    struct mf_report_mailbox m = {0};
    size_t i;
    mf_err rc;

    m.email = mb->cfg.email;
    m.state = (enum mf_report_state)mb->state;
    mf_report_mailbox_stats(&m, s);
    m.skipped[MF_REPORT_SKIP_EXCLUDED] = mb->skipped_excluded;
    m.error_code = mb->error_code;
    m.error_name = mb->error_name[0] ? mb->error_name : NULL;
    m.error_text = mb->error_detail;
    m.first_sync = mb->first_sync;
    m.last_sync = mb->last_sync;
    m.attempts = mb->attempts_total;
    m.worker = mb->worker[0] ? mb->worker : NULL;
    i = mf_report_add_mailbox(c->rep, &m);
    if ((rc = add_items(c, i, mb->cfg.email, true)) ||
        (rc = add_items(c, i, mb->cfg.email, false)) ||
        (rc = mf__batch_verify_load(c->r, c->batch, mb->cfg.email, c->rep, i,
                                    c->err)))
        return rc;
    c->rep->mailboxes[i].skipped_unlisted += mb->skipped_unlisted;
    c->rep->mailboxes[i].failed_unlisted += mb->failed_unlisted;
    return MF_E_OK;
}

static mf_err
add_samples(struct ctx *c) {
    struct mf__batch_keys k;
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_keys(&k, c->batch);
    if ((rc = mf_redis_command(c->r, &reply, c->err, "LRANGE %s 0 -1",
                               k.samples)))
        return rc;
    for (size_t j = 0; reply->type == REDIS_REPLY_ARRAY && j < reply->elements;
         j++) {
        struct mf_report_sample s = {0};
        long long t, m, b;
        if (sscanf(reply->element[j]->str, "%lld %lld %lld", &t, &m, &b) != 3)
            continue;
        s.time = t;
        s.messages = m > 0 ? (uint64_t)m : 0;
        s.bytes = b > 0 ? (uint64_t)b : 0;
        mf_report_add_sample(c->rep, &s);
    }
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_report(struct mf_redis *r, const char *batch,
                struct mf_report_batch **rep_r, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct mf_report_batch_info info = {0};
    struct ctx c = {.r = r, .batch = batch, .err = err};
    mf_err rc;

    if ((rc = mf_batch_get(r, batch, &cfg, err)))
        return rc;
    info.name = cfg->name;
    info.state = mf_batch_state_name(cfg->state);
    info.created = cfg->created;
    info.started = cfg->started;
    info.finished = cfg->finished;
    info.source = cfg->source;
    info.target = cfg->target;
    c.rep = mf_report_new(&info);
    mf_batch_config_free(&cfg);
    if ((rc = mf_batch_foreach_mailbox(r, batch, one, &c, err)) ||
        (rc = add_samples(&c))) {
        mf_report_free(&c.rep);
        return rc;
    }
    *rep_r = c.rep;
    return MF_E_OK;
}
