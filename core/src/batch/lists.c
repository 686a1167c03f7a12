/*
 * Reading a batch's lists (mailferry/batch.h): a mailbox's skipped and
 * failed items (mf:{b:N}:mb:<email>:skipped|failed, at most
 * MF_BATCH_ITEMS_MAX each, written by lua/result.lua; its verify
 * differences, :verify_items, are items too) and the batch's
 * throughput samples (mf:{b:N}:samples, "<ms>ms <messages> <bytes>",
 * or "<seconds> <messages> <bytes>" from before ms, written by sample()
 * in lua/prelude.lua). The report (report.c) and
 * `batch status` (core/src/status/) read them through these two walks,
 * so the list layouts are parsed in one place.
 */
#include "batch/batch_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mf_err
mf__batch_items_reply(const redisReply *reply, mf_batch_item_cb cb, void *ud) {
    mf_err rc = MF_E_OK;

    for (size_t j = 0; reply->type == REDIS_REPLY_ARRAY && j < reply->elements;
         j++) {
        struct mf_batch_item it;
        char *store = NULL;
        if (!mf__batch_item_decode(reply->element[j]->str,
                                   reply->element[j]->len, &store, &it))
            continue; /* a corrupt item costs only itself */
        rc = cb(ud, &it);
        free(store);
        if (rc)
            break;
    }
    return rc;
}

void
mf__batch_items_command(struct mf__batch_items_cmd *c, const char *batch,
                        const char *email, const char *suffix) {
    mf__batch_mb_key(c->key, sizeof(c->key), batch, email, suffix);
    snprintf(c->last, sizeof(c->last), "%d", MF_BATCH_ITEMS_MAX - 1);
    c->argv[0] = "LRANGE";
    c->argv[1] = c->key;
    c->argv[2] = "0";
    c->argv[3] = c->last;
    for (int i = 0; i < 4; i++)
        c->len[i] = strlen(c->argv[i]);
}

mf_err
mf__batch_items(struct mf_redis *r, const char *batch, const char *email,
                const char *suffix, mf_batch_item_cb cb, void *ud,
                struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_mb_key(key, sizeof(key), batch, email, suffix);
    if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 %d", key,
                               MF_BATCH_ITEMS_MAX - 1)))
        return rc;
    rc = mf__batch_items_reply(reply, cb, ud);
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_batch_mailbox_items(struct mf_redis *r, const char *batch, const char *email,
                       bool failed, mf_batch_item_cb cb, void *ud,
                       struct mf_error *err) {
    return mf__batch_items(r, batch, email, failed ? ":failed" : ":skipped", cb,
                           ud, err);
}

bool
mf__batch_sample_parse(const char *s, struct mf_batch_sample *s_r) {
    long long v[3];
    bool ms = false;
    char *end;

    for (int i = 0; i < 3; i++) {
        /* The time is a number; a counter may have dipped below zero
         * (HINCRBY while a job starts over), read as 0. */
        if (!s || !(isdigit((unsigned char)*s) || (i > 0 && *s == '-')))
            return false;
        errno = 0;
        v[i] = strtoll(s, &end, 10);
        if (errno || end == s)
            return false;
        if (v[i] < 0)
            v[i] = 0;
        if (i == 0 && end[0] == 'm' && end[1] == 's')
            ms = true, end += 2;
        if (*end != (i < 2 ? ' ' : '\0'))
            return false;
        s = end + (i < 2);
    }
    if (!ms && v[0] > INT64_MAX / 1000)
        return false;
    s_r->time_ms = ms ? v[0] : v[0] * 1000;
    s_r->messages = (uint64_t)v[1];
    s_r->bytes = (uint64_t)v[2];
    return true;
}

mf_err
mf_batch_samples(struct mf_redis *r, const char *batch, size_t last,
                 mf_batch_sample_cb cb, void *ud, struct mf_error *err) {
    struct mf__batch_keys k;
    redisReply *reply = NULL;
    mf_err rc;

    mf__batch_keys(&k, batch);
    /* LRANGE -last -1: the newest `last`, oldest first. */
    if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s %lld -1", k.samples,
                               last ? -(long long)last : 0LL)))
        return rc;
    for (size_t j = 0; reply->type == REDIS_REPLY_ARRAY && j < reply->elements;
         j++) {
        struct mf_batch_sample s = {0};
        if (reply->element[j]->type != REDIS_REPLY_STRING ||
            !mf__batch_sample_parse(reply->element[j]->str, &s))
            continue; /* a corrupt sample costs only itself */
        if ((rc = cb(ud, &s)))
            break;
    }
    freeReplyObject(reply);
    return rc;
}
