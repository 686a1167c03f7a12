/* Folder checkpoints in Redis (see mailferry/checkpoint.h). */
#include "mailferry/checkpoint.h"
#include "redis_lua.h"

#include "mailferry/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
batch_key(char *out, size_t n, const char *batch, const char *what,
          const char *mailbox) {
    char tag[512], rest[512];

    snprintf(tag, sizeof(tag), "b:%s", batch);
    snprintf(rest, sizeof(rest), "%s:%s", what, mailbox);
    mf_redis_key(out, n, tag, rest);
}

static void
hash_key(char *out, size_t n, const char *batch, const char *mailbox) {
    batch_key(out, n, batch, "ckpt", mailbox);
}

void
mf_checkpoint_flags_key(char *out, size_t n, const char *batch,
                        const char *mailbox) {
    batch_key(out, n, batch, "flags", mailbox);
}

/* Runs a command of up to 8 NUL-terminated words (argv NULL-ended). */
static mf_err
words(struct mf_redis *r, const char *const *argv, redisReply **reply_r,
      struct mf_error *err) {
    size_t argvlen[8];
    int argc = 0;

    while (argv[argc]) {
        MF_ASSERT(argc < 8);
        argvlen[argc] = strlen(argv[argc]);
        argc++;
    }
    return mf_redis_command_argv(r, argc, (const char **)argv, argvlen, reply_r,
                                 err);
}

/* verb (HGET, HSET, HDEL) on field of a mailbox's flags hash, with value
 * for HSET. */
static mf_err
flags_cmd(struct mf_redis *r, const char *batch, const char *mailbox,
          const char *verb, const char *field, const char *value,
          redisReply **reply_r, struct mf_error *err) {
    char key[1100];

    mf_checkpoint_flags_key(key, sizeof(key), batch, mailbox);
    return words(r, (const char *[]){verb, key, field, value, NULL}, reply_r,
                 err);
}

mf_err
mf_checkpoint_flags_get(struct mf_redis *r, const char *batch,
                        const char *mailbox, const char *field, char **value_r,
                        struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = flags_cmd(r, batch, mailbox, "HGET", field, NULL, &reply, err)))
        return rc;
    *value_r = reply->type == REDIS_REPLY_STRING
                   ? mf_xstrndup(reply->str, reply->len)
                   : NULL;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_checkpoint_flags_put(struct mf_redis *r, const char *batch,
                        const char *mailbox, const char *field,
                        const char *value, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = flags_cmd(r, batch, mailbox, "HSET", field, value, &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_checkpoint_flags_del(struct mf_redis *r, const char *batch,
                        const char *mailbox, const char *field,
                        struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc;

    if ((rc = flags_cmd(r, batch, mailbox, "HDEL", field, NULL, &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}

/* The status field's version tag (checkpoint.h). */
#define STATUS_TAG "st1:"
#define WINDOW_TAG "win1:"
#define SYNC_DELETES_TAG "sd1"

char *
mf_checkpoint_format(const struct mf_checkpoint *c) {
    struct mf_buf b = {0};

    mf_buf_appendf(&b, "%u %u %s %u %u %llu ", c->uidvalidity, c->last_uid,
                   c->dirty ? "dirty" : "clean", c->tgt_uidvalidity,
                   c->tgt_mark, (unsigned long long)c->src_bytes);
    if (c->n_pending == 0)
        mf_buf_append_str(&b, "-");
    for (size_t i = 0; i < c->n_pending; i++)
        mf_buf_appendf(&b, "%s%u", i ? "," : "", c->pending[i]);
    if (c->has_status)
        mf_buf_appendf(&b, " " STATUS_TAG "%u,%u,%llu,%u,%u,%llu",
                       c->src_status.uidnext, c->src_status.messages,
                       (unsigned long long)c->src_status.highestmodseq,
                       c->tgt_status.uidnext, c->tgt_status.messages,
                       (unsigned long long)c->tgt_status.highestmodseq);
    /* Only with a window to say: a value without it stays readable by
     * versions that predate windows. */
    if (c->window.since || c->window.before || c->out_messages || c->out_bytes)
        mf_buf_appendf(&b, " " WINDOW_TAG "%u,%u,%llu,%llu", c->window.since,
                       c->window.before, (unsigned long long)c->out_messages,
                       (unsigned long long)c->out_bytes);
    if (c->sync_deletes)
        mf_buf_append_str(&b, " " SYNC_DELETES_TAG);
    return (char *)b.data;
}

void
mf_checkpoint_pending_free(struct mf_checkpoint *c) {
    free(c->pending);
    c->pending = NULL;
    c->n_pending = 0;
}

/* The pending list: "-" or ascending UIDs joined by ','. */
static bool
parse_pending(const char *s, struct mf_checkpoint *c) {
    size_t cap = 0;

    if (strcmp(s, "-") == 0)
        return true;
    while (*s) {
        char num[16];
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        uint64_t uid;

        if (n == 0 || n >= sizeof(num) ||
            c->n_pending >= MF_CHECKPOINT_PENDING_MAX)
            return false;
        memcpy(num, s, n);
        num[n] = '\0';
        if (!mf_parse_u64(num, 1, c->last_uid, &uid) ||
            (c->n_pending && uid <= c->pending[c->n_pending - 1]))
            return false;
        if (c->n_pending == cap) {
            cap = cap ? 2 * cap : 16;
            c->pending = mf_xreallocarray(c->pending, cap, sizeof(uint32_t));
        }
        c->pending[c->n_pending++] = (uint32_t)uid;
        s += n;
        if (*s == ',' && !*++s)
            return false;
    }
    return true;
}

/* "st1:" and six comma-separated numbers. false: not of this version
 * ("st<n>:" of another n: the field is then ignored, as a later version
 * may write one); anything else, or a field of this version that does
 * not parse, makes the checkpoint malformed (*bad_r). */
static bool
parse_status(const char *s, struct mf_checkpoint *c, bool *bad_r) {
    uint64_t v[6];
    const uint64_t max[6] = {UINT32_MAX, UINT32_MAX, UINT64_MAX,
                             UINT32_MAX, UINT32_MAX, UINT64_MAX};

    if (strncmp(s, STATUS_TAG, strlen(STATUS_TAG)) != 0) {
        size_t digits =
            strncmp(s, "st", 2) == 0 ? strspn(s + 2, "0123456789") : 0;
        *bad_r = digits == 0 || s[2 + digits] != ':';
        return false;
    }
    s += strlen(STATUS_TAG);
    for (int i = 0; i < 6; i++) {
        char num[24];
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof(num) || (i < 5) != (s[n] == ',')) {
            *bad_r = true;
            return false;
        }
        memcpy(num, s, n);
        num[n] = '\0';
        if (!mf_parse_u64(num, 0, max[i], &v[i])) {
            *bad_r = true;
            return false;
        }
        s += n + (i < 5);
    }
    c->has_status = true;
    c->src_status.uidnext = (uint32_t)v[0];
    c->src_status.messages = (uint32_t)v[1];
    c->src_status.highestmodseq = v[2];
    c->tgt_status.uidnext = (uint32_t)v[3];
    c->tgt_status.messages = (uint32_t)v[4];
    c->tgt_status.highestmodseq = v[5];
    return true;
}

/* "win1:" and four comma-separated numbers: the date window's since and
 * before (yyyymmdd, 0: none), then out_messages and out_bytes. */
static bool
parse_window(const char *s, struct mf_checkpoint *c) {
    uint64_t v[4];
    const uint64_t max[4] = {99991231, 99991231, UINT64_MAX, UINT64_MAX};

    s += strlen(WINDOW_TAG);
    for (int i = 0; i < 4; i++) {
        char num[24];
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof(num) || (i < 3) != (s[n] == ','))
            return false;
        memcpy(num, s, n);
        num[n] = '\0';
        if (!mf_parse_u64(num, 0, max[i], &v[i]))
            return false;
        s += n + (i < 3);
    }
    c->window.since = (uint32_t)v[0];
    c->window.before = (uint32_t)v[1];
    c->out_messages = v[2];
    c->out_bytes = v[3];
    return true;
}

bool
mf_checkpoint_parse(const char *s, size_t len, struct mf_checkpoint *c_r) {
    /* Whitespace-separated fields; the first three are required. */
    enum { NF = 10 };
    char *buf, *f[NF] = {0};
    uint64_t v[6] = {0};
    struct mf_checkpoint c = {0};
    size_t nf = 0;
    bool ok = false;

    if (len == 0 || len > 16 + 12 * (size_t)MF_CHECKPOINT_PENDING_MAX + 320)
        return false;
    buf = mf_xstrndup(s, len);
    for (char *p = buf; p && nf < NF;) {
        f[nf++] = p;
        if ((p = strchr(p, ' ')))
            *p++ = '\0';
        if (nf == NF && p)
            goto out; /* too many fields */
    }
    if (nf < 3 || nf == 4 || !mf_parse_u64(f[0], 1, UINT32_MAX, &v[0]) ||
        !mf_parse_u64(f[1], 0, UINT32_MAX, &v[1]))
        goto out;
    if (strcmp(f[2], "clean") != 0 && strcmp(f[2], "dirty") != 0)
        goto out;
    if (nf >= 5 && (!mf_parse_u64(f[3], 0, UINT32_MAX, &v[3]) ||
                    !mf_parse_u64(f[4], 0, UINT32_MAX, &v[4])))
        goto out;
    if (nf >= 6 && !mf_parse_u64(f[5], 0, UINT64_MAX, &v[5]))
        goto out;
    c.uidvalidity = (uint32_t)v[0];
    c.last_uid = (uint32_t)v[1];
    c.dirty = f[2][0] == 'd';
    c.tgt_uidvalidity = (uint32_t)v[3];
    c.tgt_mark = (uint32_t)v[4];
    c.src_bytes = v[5];
    if (nf >= 7 && !parse_pending(f[6], &c)) {
        mf_checkpoint_pending_free(&c);
        goto out;
    }
    for (size_t i = 7; i < nf; i++) {
        bool bad = false;
        if (strncmp(f[i], WINDOW_TAG, strlen(WINDOW_TAG)) == 0)
            bad = !parse_window(f[i], &c);
        else if (strcmp(f[i], SYNC_DELETES_TAG) == 0)
            c.sync_deletes = true;
        else if (!parse_status(f[i], &c, &bad) && !bad)
            continue;
        if (bad) {
            mf_checkpoint_pending_free(&c);
            goto out;
        }
    }
    *c_r = c;
    ok = true;
out:
    free(buf);
    return ok;
}

/* One stored value (a bulk string, or nil: none) into *ckpt_r. */
static mf_err
one_value(const redisReply *v, const char *mailbox, const char *folder,
          struct mf_checkpoint *ckpt_r, bool *found_r, struct mf_error *err) {
    memset(ckpt_r, 0, sizeof(*ckpt_r));
    *found_r = false;
    if (v->type == REDIS_REPLY_NIL)
        return MF_E_OK;
    if (v->type == REDIS_REPLY_STRING &&
        mf_checkpoint_parse(v->str, v->len, ckpt_r)) {
        *found_r = true;
        return MF_E_OK;
    }
    memset(ckpt_r, 0, sizeof(*ckpt_r));
    return mf_error_set(err, MF_E_REDIS,
                        "checkpoint of %s folder %s is corrupt", mailbox,
                        folder);
}

mf_err
mf_checkpoint_get(struct mf_redis *r, const char *batch, const char *mailbox,
                  const char *folder, struct mf_checkpoint *ckpt_r,
                  bool *found_r, struct mf_error *err) {
    char key[1100];
    redisReply *reply = NULL;
    mf_err rc;

    hash_key(key, sizeof(key), batch, mailbox);
    if ((rc = words(r, (const char *[]){"HGET", key, folder, NULL}, &reply,
                    err)))
        return rc;
    rc = one_value(reply, mailbox, folder, ckpt_r, found_r, err);
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_checkpoint_get_many(struct mf_redis *r, const char *batch,
                       const char *mailbox, const char *const *folders,
                       size_t n, struct mf_checkpoint *ckpts_r, bool *found_r,
                       struct mf_error *err) {
    char key[1100];
    const char **argv = mf_xcalloc(n + 2, sizeof(*argv));
    size_t *argvlen = mf_xcalloc(n + 2, sizeof(*argvlen));
    redisReply *reply = NULL;
    size_t got = 0;
    mf_err rc;

    MF_ASSERT(n > 0 && n < INT_MAX - 2);
    hash_key(key, sizeof(key), batch, mailbox);
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = folders[i];
    for (size_t i = 0; i < n + 2; i++)
        argvlen[i] = strlen(argv[i]);
    rc = mf_redis_command_argv(r, (int)(n + 2), argv, argvlen, &reply, err);
    if (rc == MF_E_OK &&
        (reply->type != REDIS_REPLY_ARRAY || reply->elements != n))
        rc = mf_error_set(err, MF_E_REDIS,
                          "HMGET of %s's checkpoints: not %zu values", mailbox,
                          n);
    for (; rc == MF_E_OK && got < n; got++)
        rc = one_value(reply->element[got], mailbox, folders[got],
                       &ckpts_r[got], &found_r[got], err);
    if (rc != MF_E_OK)
        for (size_t i = 0; i < got; i++)
            mf_checkpoint_pending_free(&ckpts_r[i]);
    if (reply)
        freeReplyObject(reply);
    free(argv);
    free(argvlen);
    return rc;
}

/* The FENCED answer of lua/checkpoint_put_claimed.lua as an error. */
static mf_err
fenced(const redisReply *reply, const char *mailbox, const char *folder,
       size_t n, const struct mf_checkpoint_claim *claim,
       struct mf_error *err) {
    const char *v[3] = {"", "", ""};

    for (size_t i = 1; i < reply->elements && i < 4; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            v[i - 1] = reply->element[i]->str;
    return mf_error_set(err, MF_E_FENCED,
                        "checkpoint of %.80s folder %.60s%s not written: the "
                        "claim is job %.40s attempt %.10s of worker '%.60s', "
                        "not attempt %u of ours, or expired",
                        mailbox, folder, n > 1 ? " and others" : "", v[0], v[1],
                        v[2], claim->attempt);
}

/* HSET of n checkpoints, or with claim lua/checkpoint_put_claimed.lua
 * (one call for all n). */
static mf_err
put(struct mf_redis *r, const char *batch, const char *mailbox,
    const char *const *folders, const struct mf_checkpoint *ckpts, size_t n,
    const struct mf_checkpoint_claim *claim, struct mf_error *err) {
    char key[1100], attempt[16];
    size_t argc = 0, max = 5 + 2 * n;
    const char **argv = mf_xcalloc(max, sizeof(*argv));
    size_t *argvlen = mf_xcalloc(max, sizeof(*argvlen));
    char **values = mf_xcalloc(n, sizeof(*values));
    redisReply *reply = NULL;
    mf_err rc;

    MF_ASSERT(n > 0);
    hash_key(key, sizeof(key), batch, mailbox);
    if (claim) {
        snprintf(attempt, sizeof(attempt), "%u", claim->attempt);
        argv[argc++] = key, argv[argc++] = claim->record_key;
        argv[argc++] = claim->job_id, argv[argc++] = attempt;
        argv[argc++] = claim->worker;
    } else {
        argv[argc++] = "HSET", argv[argc++] = key;
    }
    for (size_t i = 0; i < n; i++) {
        MF_ASSERT(ckpts[i].uidvalidity != 0);
        values[i] = mf_checkpoint_format(&ckpts[i]);
        argv[argc++] = folders[i], argv[argc++] = values[i];
    }
    for (size_t i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    if (claim)
        rc = mf_redis_script_run(r, &mf__redis_lua_checkpoint_put_claimed, 2,
                                 argc - 2, argv, argvlen, &reply, err);
    else
        rc = mf_redis_command_argv(r, (int)argc, argv, argvlen, &reply, err);
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
    free(argv);
    free(argvlen);
    if (rc)
        return rc;
    if (claim && (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
                  reply->element[0]->type != REDIS_REPLY_STRING))
        rc = mf_error_set(err, MF_E_REDIS, "checkpoint write: odd reply");
    else if (claim && strcmp(reply->element[0]->str, "FENCED") == 0)
        rc = fenced(reply, mailbox, folders[0], n, claim, err);
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_checkpoint_put(struct mf_redis *r, const char *batch, const char *mailbox,
                  const char *folder, const struct mf_checkpoint *ckpt,
                  struct mf_error *err) {
    return put(r, batch, mailbox, &folder, ckpt, 1, NULL, err);
}

mf_err
mf_checkpoint_put_claimed(struct mf_redis *r, const char *batch,
                          const char *mailbox, const char *folder,
                          const struct mf_checkpoint *ckpt,
                          const struct mf_checkpoint_claim *claim,
                          struct mf_error *err) {
    return put(r, batch, mailbox, &folder, ckpt, 1, claim, err);
}

mf_err
mf_checkpoint_put_claimed_many(struct mf_redis *r, const char *batch,
                               const char *mailbox, const char *const *folders,
                               const struct mf_checkpoint *ckpts, size_t n,
                               const struct mf_checkpoint_claim *claim,
                               struct mf_error *err) {
    return put(r, batch, mailbox, folders, ckpts, n, claim, err);
}

mf_err
mf_checkpoint_clear(struct mf_redis *r, const char *batch, const char *mailbox,
                    struct mf_error *err) {
    char key[1100];
    const char *argv[3];
    size_t argvlen[3];
    redisReply *reply = NULL;
    mf_err rc;
    char fkey[1100];

    hash_key(key, sizeof(key), batch, mailbox);
    mf_checkpoint_flags_key(fkey, sizeof(fkey), batch, mailbox);
    argv[0] = "DEL", argv[1] = key, argv[2] = fkey;
    argvlen[0] = 3, argvlen[1] = strlen(key), argvlen[2] = strlen(fkey);
    if ((rc = mf_redis_command_argv(r, 3, argv, argvlen, &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}
