/* Folder checkpoints in Redis (see mailferry/checkpoint.h). */
#include "mailferry/checkpoint.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
hash_key(char *out, size_t n, const char *batch, const char *mailbox) {
    char tag[512], rest[512];

    snprintf(tag, sizeof(tag), "b:%s", batch);
    snprintf(rest, sizeof(rest), "ckpt:%s", mailbox);
    mf_redis_key(out, n, tag, rest);
}

void
mf_checkpoint_format(const struct mf_checkpoint *c, char *out, size_t n) {
    snprintf(out, n, "%u %u %s %u %u", c->uidvalidity, c->last_uid,
             c->dirty ? "dirty" : "clean", c->tgt_uidvalidity, c->tgt_mark);
}

bool
mf_checkpoint_parse(const char *s, size_t len, struct mf_checkpoint *c_r) {
    char buf[96], *a, *b, *state, *tuv = NULL, *tmark = NULL;
    uint64_t uv, uid, tv = 0, tm = 0;

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    a = buf;
    if (!(b = strchr(a, ' ')))
        return false;
    *b++ = '\0';
    if (!(state = strchr(b, ' ')))
        return false;
    *state++ = '\0';
    if ((tuv = strchr(state, ' '))) {
        *tuv++ = '\0';
        if (!(tmark = strchr(tuv, ' ')))
            return false;
        *tmark++ = '\0';
        if (!mf_parse_u64(tuv, 0, UINT32_MAX, &tv) ||
            !mf_parse_u64(tmark, 0, UINT32_MAX, &tm))
            return false;
    }
    if (!mf_parse_u64(a, 1, UINT32_MAX, &uv) ||
        !mf_parse_u64(b, 0, UINT32_MAX, &uid))
        return false;
    if (strcmp(state, "clean") != 0 && strcmp(state, "dirty") != 0)
        return false;
    c_r->uidvalidity = (uint32_t)uv;
    c_r->last_uid = (uint32_t)uid;
    c_r->dirty = state[0] == 'd';
    c_r->tgt_uidvalidity = (uint32_t)tv;
    c_r->tgt_mark = (uint32_t)tm;
    return true;
}

mf_err
mf_checkpoint_get(struct mf_redis *r, const char *batch, const char *mailbox,
                  const char *folder, struct mf_checkpoint *ckpt_r,
                  bool *found_r, struct mf_error *err) {
    char key[1100];
    const char *argv[3];
    size_t argvlen[3];
    redisReply *reply = NULL;
    mf_err rc;

    hash_key(key, sizeof(key), batch, mailbox);
    argv[0] = "HGET", argv[1] = key, argv[2] = folder;
    for (int i = 0; i < 3; i++)
        argvlen[i] = strlen(argv[i]);
    if ((rc = mf_redis_command_argv(r, 3, argv, argvlen, &reply, err)))
        return rc;
    if (reply->type == REDIS_REPLY_NIL) {
        memset(ckpt_r, 0, sizeof(*ckpt_r));
        *found_r = false;
    } else if (reply->type == REDIS_REPLY_STRING &&
               mf_checkpoint_parse(reply->str, reply->len, ckpt_r)) {
        *found_r = true;
    } else {
        rc = mf_error_set(err, MF_E_REDIS,
                          "checkpoint of %s folder %s is corrupt", mailbox,
                          folder);
    }
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_checkpoint_put(struct mf_redis *r, const char *batch, const char *mailbox,
                  const char *folder, const struct mf_checkpoint *ckpt,
                  struct mf_error *err) {
    char key[1100], value[96];
    const char *argv[4];
    size_t argvlen[4];
    redisReply *reply = NULL;
    mf_err rc;

    MF_ASSERT(ckpt->uidvalidity != 0);
    hash_key(key, sizeof(key), batch, mailbox);
    mf_checkpoint_format(ckpt, value, sizeof(value));
    argv[0] = "HSET", argv[1] = key, argv[2] = folder, argv[3] = value;
    for (int i = 0; i < 4; i++)
        argvlen[i] = strlen(argv[i]);
    if ((rc = mf_redis_command_argv(r, 4, argv, argvlen, &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_checkpoint_clear(struct mf_redis *r, const char *batch, const char *mailbox,
                    struct mf_error *err) {
    char key[1100];
    const char *argv[2];
    size_t argvlen[2];
    redisReply *reply = NULL;
    mf_err rc;

    hash_key(key, sizeof(key), batch, mailbox);
    argv[0] = "DEL", argv[1] = key;
    argvlen[0] = 3, argvlen[1] = strlen(key);
    if ((rc = mf_redis_command_argv(r, 2, argv, argvlen, &reply, err)))
        return rc;
    freeReplyObject(reply);
    return MF_E_OK;
}
