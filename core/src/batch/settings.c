/*
 * Batch options that may change over a batch's life (mf_batch_set()):
 * the size cap, the attempts per pass, the incremental interval, the
 * flag conflict rule (kept as its word, "source" or "target"), the date
 * window's bounds (kept as "YYYY-MM-DD"; "none" clears one). A change
 * is one field of the batch hash plus one line in the batch's history
 * list ("<unix time> <option> <old> <new>"), written together in one
 * MULTI/EXEC under WATCH, so that status never shows a change that did
 * not happen; setting the value an option already holds changes nothing.
 * Workers read the configuration at each job (their cache lives a few
 * seconds), so the next pass uses the new value.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The options that may change, by their command-line names. */
static const struct {
    const char *option; /* as on the command line, without "--" */
    const char *field;  /* in the batch hash */
    uint64_t min, max;
    enum {
        NUMBER,
        FLAG_CONFLICT, /* an enum mf_flag_conflict, stored as its word */
        DAY,           /* yyyymmdd stored as "YYYY-MM-DD", 0 as "none" */
    } kind;
} settable[] = {
    {"max-message-size", "max_message_size", 0, (uint64_t)1 << 40, NUMBER},
    {"max-attempts", "max_attempts", 1, 100, NUMBER},
    {"incremental-every", "incremental_every", 0, (uint64_t)366 * 86400,
     NUMBER},
    {"flag-conflict", "flag_conflict", MF_FLAG_CONFLICT_SOURCE,
     MF_FLAG_CONFLICT_TARGET, FLAG_CONFLICT},
    {"since", "since", 0, 99991231, DAY},
    {"before", "before", 0, 99991231, DAY},
    {"sync-deletes", "sync_deletes", 0, 1, NUMBER},
/* The --throttle-* rules; 0: the profile's again. */
#define SETTABLE_THROTTLE(option, field, min, max, help)                       \
    {option, "thr_" #field, 0, max, NUMBER},
    MF_THROTTLE_FLAGS(SETTABLE_THROTTLE)
#undef SETTABLE_THROTTLE
/* The --quota-* rules; 0: the profiles' again. */
#define SETTABLE_QUOTA(option, field, min, max, unit, help)                    \
    {option, "quo_" #field, 0, max, NUMBER},
        MF_QUOTA_FLAGS(SETTABLE_QUOTA)
#undef SETTABLE_QUOTA
};

const char *
mf_batch_setting_at(size_t i) {
    return i < MF_ARRAY_LEN(settable) ? settable[i].option : NULL;
}

bool
mf_batch_setting_known(const char *option) {
    for (size_t i = 0; i < MF_ARRAY_LEN(settable); i++)
        if (strcmp(settable[i].option, option) == 0)
            return true;
    return false;
}

static void
changes_key(char *out, size_t n, const char *batch) {
    struct mf__batch_keys k;

    mf__batch_keys(&k, batch);
    snprintf(out, n, "%s", k.changes);
}

/* One attempt under WATCH; *raced_r when another client changed the
 * batch between the read and EXEC. */
static mf_err
set_once(struct mf_redis *r, const char *batch, const char *option,
         const char *field, const char *value, const char *absent,
         bool *raced_r, struct mf_error *err) {
    struct mf__batch_keys k;
    char changes[MF__BATCH_KEY_MAX], line[160];
    redisReply *reply = NULL;
    const char *old;
    mf_err rc;

    *raced_r = false;
    mf__batch_keys(&k, batch);
    changes_key(changes, sizeof(changes), batch);
    if ((rc = mf_redis_command(r, &reply, err, "WATCH %s", k.batch)))
        return rc;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "HMGET %s state %s", k.batch,
                               field)))
        goto unwatch;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        rc =
            mf_error_set(err, MF_E_NOT_FOUND, "batch %s does not exist", batch);
        goto unwatch;
    }
    if (strcmp(reply->element[0]->str, "Removing") == 0) {
        rc = mf_error_set(err, MF_E_STATE, "batch %s is being removed", batch);
        goto unwatch;
    }
    old = reply->element[1]->type == REDIS_REPLY_STRING ? reply->element[1]->str
                                                        : absent;
    if (reply->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(old, value) == 0)
        goto unwatch; /* nothing changes, nothing to list */
    snprintf(line, sizeof(line), "%lld %s %s %s", (long long)time(NULL), option,
             old, value);
    freeReplyObject(reply);
    reply = NULL;
    if ((rc = mf_redis_command(r, &reply, err, "MULTI")))
        goto unwatch;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "HSET %s %s %s", k.batch, field,
                               value)))
        goto unwatch;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "RPUSH %s %s", changes, line)))
        goto unwatch;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "EXEC")))
        return rc;
    *raced_r = reply->type == REDIS_REPLY_NIL;
    freeReplyObject(reply);
    return MF_E_OK;
unwatch:
    if (reply)
        freeReplyObject(reply);
    reply = NULL;
    {
        /* DISCARD ends a MULTI (and the WATCH); UNWATCH the WATCH alone.
         * Both are harmless when there is nothing to end. */
        struct mf_error ignored;
        if (mf_redis_command(r, &reply, &ignored, "DISCARD") == MF_E_OK)
            freeReplyObject(reply);
        reply = NULL;
        if (mf_redis_command(r, &reply, &ignored, "UNWATCH") == MF_E_OK)
            freeReplyObject(reply);
    }
    return rc;
}

mf_err
mf_batch_set(struct mf_redis *r, const char *batch, const char *option,
             uint64_t value, struct mf_error *err) {
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    for (size_t i = 0; i < MF_ARRAY_LEN(settable); i++) {
        bool raced = true;
        char text[MF_WINDOW_TEXT_MAX];
        const char *absent = "0";
        if (strcmp(settable[i].option, option) != 0)
            continue;
        if (value < settable[i].min || value > settable[i].max)
            return mf_error_set(err, MF_E_USAGE,
                                "--%s must be between %llu and %llu", option,
                                (unsigned long long)settable[i].min,
                                (unsigned long long)settable[i].max);
        switch (settable[i].kind) {
        case FLAG_CONFLICT:
            snprintf(text, sizeof(text), "%s",
                     mf_flag_conflict_name((enum mf_flag_conflict)value));
            absent = mf_flag_conflict_name(MF_FLAG_CONFLICT_DEFAULT);
            break;
        case DAY:
            mf_window_date_format((uint32_t)value, text, sizeof(text));
            absent = "none";
            break;
        case NUMBER:
            snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
            absent = "0";
            break;
        }
        for (int tries = 0; raced && tries < 5; tries++)
            if ((rc = set_once(r, batch, option, settable[i].field, text,
                               absent, &raced, err)))
                return rc;
        if (raced)
            return mf_error_set(err, MF_E_REDIS,
                                "batch %s kept changing; try again", batch);
        return MF_E_OK;
    }
    return mf_error_set(err, MF_E_USAGE,
                        "--%s cannot be changed on an existing batch", option);
}

mf_err
mf_batch_changes(struct mf_redis *r, const char *batch, mf_batch_change_cb cb,
                 void *ud, struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    changes_key(key, sizeof(key), batch);
    if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 -1", key)))
        return rc;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY &&
                       i < reply->elements && rc == MF_E_OK;
         i++) {
        const redisReply *e = reply->element[i];
        char option[64], old[32], now[32];
        long long when;
        struct mf_batch_change c;

        if (e->type != REDIS_REPLY_STRING ||
            sscanf(e->str, "%lld %63s %31s %31s", &when, option, old, now) != 4)
            continue;
        c.when = when;
        c.option = option;
        c.old_value = old;
        c.new_value = now;
        rc = cb(ud, &c);
    }
    freeReplyObject(reply);
    return rc;
}
