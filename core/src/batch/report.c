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

struct items {
    struct ctx *c;
    size_t i; /* the report's mailbox */
};

static mf_err
on_skipped(void *ud, const struct mf_batch_item *it) {
    struct items *x = ud;
    struct mf_report_skipped s = {
        .folder = it->folder,
        .uid = it->uid,
        .size = it->size,
        .internal_date = it->internal_date,
        .subject = it->subject,
        .reason = mf_report_skip_reason_of(it->code),
        .error_code = it->code,
        .error_text = it->detail,
    };

    mf_report_add_skipped(x->c->rep, x->i, &s);
    return MF_E_OK;
}

static mf_err
on_failed(void *ud, const struct mf_batch_item *it) {
    struct items *x = ud;
    struct mf_report_failed f = {
        .folder = it->folder,
        .uid = it->uid,
        .size = it->size,
        .internal_date = it->internal_date,
        .subject = it->subject,
        .message_id = it->message_id,
        .error_code = it->code,
        .error_text = it->detail,
    };

    mf_report_add_failed(x->c->rep, x->i, &f);
    return MF_E_OK;
}

/* A mailbox's skipped and failed items and its verify record, in one
 * round trip instead of three (a report of 50,000 mailboxes sent 150,000
 * commands one by one). lists[] are freed with free_lists(). */
static void
free_lists(redisReply *lists[3]) {
    for (int i = 0; i < 3; i++)
        if (lists[i]) {
            freeReplyObject(lists[i]);
            lists[i] = NULL;
        }
}

static mf_err
read_lists(struct ctx *c, const char *email, redisReply *lists[3]) {
    struct mf__batch_items_cmd skipped, failed;
    char vkey[MF__BATCH_KEY_MAX];
    const char *verify[2] = {"HGETALL", vkey};
    size_t vlen[2];
    const char *const *argv[3] = {skipped.argv, failed.argv, verify};
    const size_t *lens[3] = {skipped.len, failed.len, vlen};
    const int argc[3] = {4, 4, 2};
    mf_err rc;

    mf__batch_items_command(&skipped, c->batch, email, ":skipped");
    mf__batch_items_command(&failed, c->batch, email, ":failed");
    mf__batch_mb_key(vkey, sizeof(vkey), c->batch, email, ":verify");
    vlen[0] = strlen(verify[0]);
    vlen[1] = strlen(vkey);
    rc = mf_redis_pipeline(c->r, 3, argc, argv, lens, lists, c->err);
    for (int i = 0; rc == MF_E_OK && i < 3; i++)
        if (lists[i]->type == REDIS_REPLY_ERROR)
            rc = mf_error_set(c->err, MF_E_REDIS, "report of %.200s: %.*s",
                              email, (int)lists[i]->len, lists[i]->str);
    if (rc)
        free_lists(lists);
    return rc;
}

static mf_err
one(void *ud, const struct mf_batch_mailbox *mb) {
    struct ctx *c = ud;
    const struct mf_migrate_stats *s = &mb->stats;
    struct mf_report_mailbox m = {0};
    struct items x = {.c = c};
    redisReply *lists[3] = {0};
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
    x.i = mf_report_add_mailbox(c->rep, &m);
    if ((rc = read_lists(c, mb->cfg.email, lists)))
        return rc;
    if ((rc = mf__batch_items_reply(lists[0], on_skipped, &x)) ||
        (rc = mf__batch_items_reply(lists[1], on_failed, &x)) ||
        (rc = mf__batch_verify_load(c->r, c->batch, mb->cfg.email, lists[2],
                                    c->rep, x.i, c->err))) {
        free_lists(lists);
        return rc;
    }
    free_lists(lists);
    c->rep->mailboxes[x.i].skipped_unlisted += mb->skipped_unlisted;
    c->rep->mailboxes[x.i].failed.unlisted += mb->failed_unlisted;
    return MF_E_OK;
}

static mf_err
on_sample(void *ud, const struct mf_batch_sample *bs) {
    struct ctx *c = ud;
    struct mf_report_sample s = {
        .time_ms = bs->time_ms, .messages = bs->messages, .bytes = bs->bytes};

    mf_report_add_sample(c->rep, &s);
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
    info.started_ms = cfg->started_ms;
    info.finished_ms = cfg->finished_ms;
    info.source = cfg->source;
    info.target = cfg->target;
    c.rep = mf_report_new(&info);
    mf_batch_config_free(&cfg);
    if ((rc = mf_batch_foreach_mailbox(r, batch, one, &c, err)) ||
        (rc = mf_batch_samples(r, batch, 0, on_sample, &c, err))) {
        mf_report_free(&c.rep);
        return rc;
    }
    *rep_r = c.rep;
    return MF_E_OK;
}
