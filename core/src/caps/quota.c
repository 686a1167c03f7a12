/*
 * Daily bandwidth quotas per user (issue 13 section 1, mailferry/caps.h):
 * Gmail lets one account download 2500 MB and upload 500 MB a day over
 * IMAP and then locks it (profile.c quotes Google's page). Several
 * workers may copy mailboxes of the same user over passes, so the count
 * is the fleet's: one Redis hash per endpoint, direction and login,
 *
 *   mf:{c:EP}:quota:dl:<user>   downloaded from a source user
 *   mf:{c:EP}:quota:ul:<user>   uploaded to a target user
 *
 * with fields used (bytes) and full (the server said the quota is used
 * up), that lives as long as the window (PEXPIRE, Redis' time): the key
 * expiring is the next window. lua/quota.lua applies the rule that
 * mf_caps_quota_take() states in C; the engine (core/src/migrate/
 * quota.c) uses the C form when it has no Redis.
 */
#include "caps/caps_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>

bool
mf_caps_quota_take(struct mf_caps_quota *q, uint64_t limit, uint64_t window_ms,
                   uint64_t bytes, int64_t now_ms, int64_t *until_ms_r) {
    if (q->start_ms && now_ms >= q->start_ms + (int64_t)window_ms)
        *q = (struct mf_caps_quota){0};
    if (!q->start_ms) {
        /* The first bytes open a window (a 0 clock is still a time). */
        q->start_ms = now_ms ? now_ms : 1;
        q->used = bytes;
        q->full = false;
        return true;
    }
    if (q->full || (limit && q->used && q->used + bytes > limit)) {
        *until_ms_r = q->start_ms + (int64_t)window_ms;
        return false;
    }
    q->used += bytes;
    return true;
}

int64_t
mf_caps_quota_fill(struct mf_caps_quota *q, uint64_t window_ms,
                   int64_t now_ms) {
    if (q->start_ms && now_ms >= q->start_ms + (int64_t)window_ms)
        *q = (struct mf_caps_quota){0};
    if (!q->start_ms)
        q->start_ms = now_ms ? now_ms : 1;
    q->full = true;
    return q->start_ms + (int64_t)window_ms;
}

mf_err
mf_caps_quota_shared(struct mf_redis *r, const char *endpoint, const char *user,
                     bool upload, bool fill, uint64_t limit, uint64_t window_ms,
                     uint64_t bytes, uint64_t *wait_ms_r, uint64_t *used_r,
                     struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    char a[3][24], *key;
    const char *args[4];
    redisReply *reply = NULL;
    long long wait, used;
    mf_err rc;

    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    snprintf(a[0], sizeof(a[0]), "%llu", (unsigned long long)bytes);
    snprintf(a[1], sizeof(a[1]), "%llu", (unsigned long long)limit);
    snprintf(a[2], sizeof(a[2]), "%llu",
             (unsigned long long)(window_ms ? window_ms : 1));
    args[0] = fill ? "fill" : "take", args[1] = a[0], args[2] = a[1];
    args[3] = a[2];
    key = mf__caps_named_key(endpoint, upload ? "quota:ul" : "quota:dl", user);
    rc = mf__caps_script_run(r, mf__caps_quota_script, 1, (const char **)&key,
                             4, args, &reply, err);
    free(key);
    if (rc != MF_E_OK)
        return rc;
    if (!mf__caps_reply_int(reply, 0, &wait) ||
        !mf__caps_reply_int(reply, 1, &used) || wait < 0 || used < 0) {
        freeReplyObject(reply);
        return mf_error_set(err, MF_E_REDIS,
                            "caps: unexpected reply to the quota script");
    }
    freeReplyObject(reply);
    *wait_ms_r = (uint64_t)wait;
    *used_r = (uint64_t)used;
    return MF_E_OK;
}
