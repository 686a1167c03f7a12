/*
 * Batch options that may change over a batch's life (mf_batch_set()):
 * the size cap, the attempts per pass, the incremental interval, the
 * flag conflict rule (kept as its word, "source" or "target"), the date
 * window's bounds (kept as "YYYY-MM-DD"; "none" clears one), the
 * connection caps of both sides, the throttle and quota rules, and
 * (mf_batch_set_rules()) the include, exclude and rename folder rule
 * lists, which replace the batch's list of that name. A change
 * is one field of the batch hash (or one rule list) plus one line in the
 * batch's history list ("<unix time> <option> <old> <new>"), written together
 * in one MULTI/EXEC under WATCH, so that status never shows a change that did
 * not happen; setting the value an option already holds changes nothing.
 * Workers read the configuration at each job (their cache lives a few
 * seconds), so the next pass uses the new value. A connection cap is
 * also recorded beside each side's leases (mf_caps_configured_set()),
 * where the jobs already running read it: a lowered one closes their
 * connections above it within a fraction of a second
 * (core/src/caps/throttle.c).
 */
#include "batch/batch_int.h"

#include "mailferry/caps.h"
#include "mailferry/endpoint.h"
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
/* The connection caps of each side (MF_BATCH_CAPS), as `batch create`
 * takes them. */
#define SETTABLE_SOURCE_CAP(option, field, max)                                \
    {option, "s_" #field, 0, max, NUMBER},
#define SETTABLE_TARGET_CAP(option, field, max)                                \
    {"target-" option, "t_" #field, 0, max, NUMBER},
    MF_BATCH_CAPS(SETTABLE_SOURCE_CAP) MF_BATCH_CAPS(SETTABLE_TARGET_CAP)
#undef SETTABLE_SOURCE_CAP
#undef SETTABLE_TARGET_CAP
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

/* The folder rule list that may change by this option (its index in
 * mf__batch_rule_lists[] and mf__batch_keys' list[]), or -1. Its value
 * is a comma list, like `batch create --include` takes it. */
static int
rule_index(const char *option) {
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++)
        if (mf__batch_rule_lists[l].settable &&
            strcmp(mf__batch_rule_lists[l].option, option) == 0)
            return (int)l;
    return -1;
}

/* A value as the history keeps it: one word (space, '%' and control
 * bytes as %XX), decoded by mf_batch_changes(). */
static char *
history_word(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = mf_xmalloc(3 * strlen(s) + 1), *p = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '%' || c == 0x7f) {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return out;
}

static void
history_unword(char *s) {
    char *w = s;

    for (; *s; s++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
            *w++ = (char)v;
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/* The new value of one change: a field of the batch hash, or (list not
 * NULL) the n items of a folder rule list, value their comma list. */
struct change {
    const char *option, *field, *value, *absent;
    const char *list;
    char *const *items;
    size_t n;
};

/* The current value of ch in the batch; NULL when absent. new string. */
static mf_err
current(struct mf_redis *r, const struct mf__batch_keys *k,
        const struct change *ch, char **old_r, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    *old_r = NULL;
    if (!ch->list) {
        if ((rc = mf_redis_command(r, &reply, err, "HGET %s %s", k->batch,
                                   ch->field)))
            return rc;
        if (reply->type == REDIS_REPLY_STRING)
            *old_r = mf_xstrndup(reply->str, reply->len);
        freeReplyObject(reply);
        return MF_E_OK;
    }
    if ((rc = mf_redis_command(r, &reply, err, "LRANGE %s 0 -1", ch->list)))
        return rc;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
         i++) {
        char *joined = mf_xasprintf("%s%s%s", *old_r ? *old_r : "",
                                    *old_r ? "," : "", reply->element[i]->str);
        free(*old_r);
        *old_r = joined;
    }
    freeReplyObject(reply);
    return MF_E_OK;
}

/* Queues (inside MULTI) the write of ch's new value. */
static mf_err
write_value(struct mf_redis *r, const struct mf__batch_keys *k,
            const struct change *ch, struct mf_error *err) {
    struct mf__batch_argv a = {0};
    mf_err rc;

    if (!ch->list) {
        mf__batch_argv_adds(&a, "HSET");
        mf__batch_argv_adds(&a, k->batch);
        mf__batch_argv_adds(&a, ch->field);
        mf__batch_argv_adds(&a, ch->value);
        rc = mf__batch_simple(r, &a, NULL, err);
        mf__batch_argv_free(&a);
        return rc;
    }
    mf__batch_argv_adds(&a, "DEL");
    mf__batch_argv_adds(&a, ch->list);
    rc = mf__batch_simple(r, &a, NULL, err);
    mf__batch_argv_reset(&a);
    if (rc == MF_E_OK && ch->n > 0) {
        mf__batch_argv_adds(&a, "RPUSH");
        mf__batch_argv_adds(&a, ch->list);
        for (size_t i = 0; i < ch->n; i++)
            mf__batch_argv_adds(&a, ch->items[i]);
        rc = mf__batch_simple(r, &a, NULL, err);
    }
    mf__batch_argv_free(&a);
    return rc;
}

/* One attempt under WATCH; *raced_r when another client changed the
 * batch between the read and EXEC. */
static mf_err
set_once(struct mf_redis *r, const char *batch, const struct change *ch,
         bool *raced_r, struct mf_error *err) {
    struct mf__batch_keys k;
    char changes[MF__BATCH_KEY_MAX];
    redisReply *reply = NULL;
    char *old = NULL, *old_word = NULL, *new_word = NULL, *line = NULL;
    mf_err rc;

    *raced_r = false;
    mf__batch_keys(&k, batch);
    changes_key(changes, sizeof(changes), batch);
    if ((rc = mf_redis_command(r, &reply, err, "WATCH %s %s", k.batch,
                               ch->list ? ch->list : k.batch)))
        return rc;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "HGET %s state", k.batch)))
        goto unwatch;
    if (reply->type != REDIS_REPLY_STRING) {
        rc =
            mf_error_set(err, MF_E_NOT_FOUND, "batch %s does not exist", batch);
        goto unwatch;
    }
    if (strcmp(reply->str, "Removing") == 0) {
        rc = mf_error_set(err, MF_E_STATE, "batch %s is being removed", batch);
        goto unwatch;
    }
    freeReplyObject(reply);
    reply = NULL;
    if ((rc = current(r, &k, ch, &old, err)))
        goto unwatch;
    if ((old || ch->list) && strcmp(old ? old : "", ch->value) == 0)
        goto unwatch; /* nothing changes, nothing to list */
    old_word = history_word(old && *old ? old : ch->absent);
    new_word = history_word(*ch->value ? ch->value : ch->absent);
    line = mf_xasprintf("%lld %s %s %s", (long long)time(NULL), ch->option,
                        old_word, new_word);
    if ((rc = mf_redis_command(r, &reply, err, "MULTI")))
        goto unwatch;
    freeReplyObject(reply);
    reply = NULL;
    if ((rc = write_value(r, &k, ch, err)))
        goto unwatch;
    if ((rc = mf_redis_command(r, &reply, err, "RPUSH %s %s", changes, line)))
        goto unwatch;
    freeReplyObject(reply);
    if ((rc = mf_redis_command(r, &reply, err, "EXEC")))
        goto out;
    *raced_r = reply->type == REDIS_REPLY_NIL;
    freeReplyObject(reply);
    goto out;
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
out:
    free(old);
    free(old_word);
    free(new_word);
    free(line);
    return rc;
}

/* set_once() until no other client raced it (5 tries). */
static mf_err
set_change(struct mf_redis *r, const char *batch, const struct change *ch,
           struct mf_error *err) {
    bool raced = true;
    mf_err rc;

    for (int tries = 0; raced && tries < 5; tries++)
        if ((rc = set_once(r, batch, ch, &raced, err)))
            return rc;
    if (raced)
        return mf_error_set(err, MF_E_REDIS,
                            "batch %s kept changing; try again", batch);
    return MF_E_OK;
}

mf_err
mf__batch_caps_record(struct mf_redis *r, const struct mf_batch_config *cfg,
                      bool none, struct mf_error *err) {
    for (int side = 0; side < 2; side++) {
        const struct mf_batch_caps *c =
            side ? &cfg->target_caps : &cfg->source_caps;
        struct mf_caps_limits lim = {0};
        struct mf_endpoint ep;
        char id[MF_CAPS_ENDPOINT_MAX];
        mf_err rc;

        if ((rc =
                 mf_endpoint_parse(side ? cfg->target : cfg->source, &ep, err)))
            return rc;
        if (!none) {
            lim.max_connections = c->max_connections;
            lim.max_connections_per_user = c->max_connections_per_user;
            lim.max_connections_per_ip = c->max_connections_per_ip;
        }
        mf_caps_endpoint_id(ep.host, ep.port, side == 1, id, sizeof(id));
        if ((rc = mf_caps_configured_set(r, id, cfg->name, &lim, err)))
            return rc;
    }
    return MF_E_OK;
}

/* After a connection cap changed: the batch's caps for its running jobs. */
static mf_err
record_caps(struct mf_redis *r, const char *batch, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    mf_err rc;

    if ((rc = mf_batch_get(r, batch, &cfg, err)))
        return rc;
    rc = mf__batch_caps_record(r, cfg, false, err);
    mf_batch_config_free(&cfg);
    return rc;
}

mf_err
mf_batch_set(struct mf_redis *r, const char *batch, const char *option,
             uint64_t value, struct mf_error *err) {
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    for (size_t i = 0; i < MF_ARRAY_LEN(settable); i++) {
        char text[MF_WINDOW_TEXT_MAX];
        struct change ch = {.option = option,
                            .field = settable[i].field,
                            .value = text,
                            .absent = "0"};
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
            ch.absent = mf_flag_conflict_name(MF_FLAG_CONFLICT_DEFAULT);
            break;
        case DAY:
            mf_window_date_format((uint32_t)value, text, sizeof(text));
            ch.absent = "none";
            break;
        case NUMBER:
            snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
            break;
        }
        if ((rc = set_change(r, batch, &ch, err)))
            return rc;
        /* max-connections, -per-user, -per-ip, of either side. */
        if (strstr(option, "max-connections"))
            return record_caps(r, batch, err);
        return MF_E_OK;
    }
    return mf_error_set(err, MF_E_USAGE,
                        "--%s cannot be changed on an existing batch", option);
}

bool
mf_batch_rules_setting_known(const char *option) {
    return rule_index(option) >= 0;
}

mf_err
mf_batch_set_rules(struct mf_redis *r, const char *batch, const char *option,
                   const char *value, struct mf_error *err) {
    struct mf__batch_keys k;
    struct mf_batch_config *cfg = NULL;
    struct mf_folder_rules *rules = NULL;
    struct change ch = {.option = option, .absent = "none"};
    char **items, ***list;
    size_t n, *nlist;
    int l = rule_index(option);
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    if (l < 0)
        return mf_error_set(err, MF_E_USAGE, "--%s is not a folder rule list",
                            option);
    if ((rc = mf_batch_get(r, batch, &cfg, err)))
        return rc;
    /* Checked the way `batch create` checks them: the batch's other
     * rules with this list replaced, parsed as the workers will. */
    items = mf_strv_split(value, &n);
    list = mf__batch_rule_items(cfg, (size_t)l, &nlist);
    mf_strv_free(*list, *nlist);
    *list = items;
    *nlist = n;
    if ((rc = mf_batch_config_rules(cfg, &rules, err))) {
        mf_batch_config_free(&cfg);
        err->code = MF_E_USAGE;
        return MF_E_USAGE;
    }
    mf_folder_rules_free(&rules);
    mf__batch_keys(&k, batch);
    ch.list = k.list[l];
    ch.items = items;
    ch.n = n;
    {
        char *joined = mf_xstrdup("");
        for (size_t i = 0; i < n; i++) {
            char *next = mf_xasprintf("%s%s%s", joined, i ? "," : "", items[i]);
            free(joined);
            joined = next;
        }
        ch.value = joined;
        rc = set_change(r, batch, &ch, err);
        free(joined);
    }
    mf_batch_config_free(&cfg);
    return rc;
}

/* The batch's history list: its length, or (all) all of it. */
static mf_err
changes_command(struct mf_redis *r, const char *batch, bool all,
                redisReply **reply_r, struct mf_error *err) {
    char key[MF__BATCH_KEY_MAX];
    mf_err rc;

    if ((rc = mf__batch_check_name(batch, err)))
        return rc;
    changes_key(key, sizeof(key), batch);
    return all ? mf_redis_command(r, reply_r, err, "LRANGE %s 0 -1", key)
               : mf_redis_command(r, reply_r, err, "LLEN %s", key);
}

mf_err
mf_batch_changes_count(struct mf_redis *r, const char *batch, uint64_t *n_r,
                       struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    *n_r = 0;
    if ((rc = changes_command(r, batch, false, &reply, err)))
        return rc;
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        *n_r = (uint64_t)reply->integer;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_batch_changes(struct mf_redis *r, const char *batch, mf_batch_change_cb cb,
                 void *ud, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = changes_command(r, batch, true, &reply, err)))
        return rc;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY &&
                       i < reply->elements && rc == MF_E_OK;
         i++) {
        const redisReply *e = reply->element[i];
        char *line, *option, *old, *now, *save = NULL;
        long long when;
        struct mf_batch_change c;

        if (e->type != REDIS_REPLY_STRING)
            continue;
        line = mf_xstrndup(e->str, e->len);
        if (sscanf(line, "%lld", &when) != 1 || !strtok_r(line, " ", &save) ||
            !(option = strtok_r(NULL, " ", &save)) ||
            !(old = strtok_r(NULL, " ", &save)) ||
            !(now = strtok_r(NULL, " ", &save))) {
            free(line);
            continue;
        }
        history_unword(old);
        history_unword(now);
        c.when = when;
        c.option = option;
        c.old_value = old;
        c.new_value = now;
        rc = cb(ud, &c);
        free(line);
    }
    freeReplyObject(reply);
    return rc;
}
