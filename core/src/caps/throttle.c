/*
 * The limits in force on an endpoint's connections beyond each job's own
 * caps, shared by the fleet through Redis (issue 13; mailferry/caps.h):
 * a server's throttling, and the caps an admin lowered (`batch set`)
 * while jobs opened under the old ones still run. Keys per endpoint,
 * beside its caps (same hash tag, so one script touches them and the
 * caps together in a Redis Cluster):
 *
 *   mf:{c:EP}:pause    exists while the endpoint is paused; its PTTL is
 *                      the time left. Every worker reads it before it
 *                      connects to the endpoint and between APPENDs, and
 *                      waits that long.
 *   mf:{c:EP}:tlimit   the lowered connection limit while it lives
 *                      (window_ms after the last throttling answer).
 *   mf:{c:EP}:conf:<batch>  HASH total, user, ip: the batch's connection
 *                      caps on that endpoint as `batch set` last left them
 *                      (mf_caps_configured_set(); gone when none was set
 *                      since the batch was created). A job takes its caps
 *                      from the batch when it starts; this is how the
 *                      ones already running learn of a change.
 *
 * The rule, once, in lua/throttle.lua: the total limit in force is the
 * lower of tlimit and the configured total cap; the per-user and per-IP
 * ones are the configured ones. Connection leases take the lower of
 * those and the job's own caps (mf_caps_throttle_get() before each
 * acquire), and the connections open above them give their leases up
 * (mf_caps_throttle_over(): the live leases of each cap ranked by
 * expiry, those from rank limit on), so a limit lowered while they are
 * open holds for them too.
 *
 * A throttling answer that comes while the endpoint is already paused
 * (the other workers' commands in flight when the first answer came)
 * extends the pause if it asks for longer but does not lower the limit
 * again: one episode, one halving. The limit comes back to the cap when
 * the window passes without throttling (the key expires). Time is Redis'
 * (PX), never a worker's clock.
 */
#include "caps/caps_int.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An integer of the reply, clamped to a connection count. */
static bool
reply_count(const redisReply *reply, size_t i, unsigned *v_r) {
    long long v;

    if (!mf__caps_reply_int(reply, i, &v) || v < 0)
        return false;
    *v_r = v > 1000000 ? 1000000 : (unsigned)v;
    return true;
}

/* One run of the script. op "note": 3 keys, *limit_r; "get" and "over"
 * (member: the lease asked about): 6 keys, *f_r. */
static mf_err
run(struct mf_redis *r, const char *endpoint, const char *op, uint32_t pause_ms,
    unsigned cap, unsigned floor, uint32_t window_ms,
    const struct mf_caps_asker *who, const char *member, uint32_t *left_r,
    unsigned *limit_r, struct mf_caps_in_force *f_r, struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    static const struct mf_caps_asker nobody = {0};
    char a[4][24];
    const char *keys[6], *args[6];
    int nkeys = f_r ? 6 : 3;
    redisReply *reply = NULL;
    long long left;
    bool ok;
    mf_err rc;

    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    if (!who)
        who = &nobody;
    snprintf(a[0], sizeof(a[0]), "%lu", (unsigned long)pause_ms);
    snprintf(a[1], sizeof(a[1]), "%u", cap);
    snprintf(a[2], sizeof(a[2]), "%u", floor ? floor : 1);
    snprintf(
        a[3], sizeof(a[3]), "%lu",
        (unsigned long)(window_ms ? window_ms : MF_THROTTLE_DEFAULT_WINDOW_MS));
    args[0] = op, args[1] = a[0], args[2] = a[1], args[3] = a[2];
    args[4] = a[3];
    args[5] = member ? member : "";
    keys[0] = mf__caps_key(endpoint, "pause");
    keys[1] = mf__caps_key(endpoint, "tlimit");
    keys[2] = mf__caps_key(endpoint, "cap:total");
    if (f_r) {
        keys[3] = mf__caps_named_key(endpoint, "conf", who->batch);
        keys[4] = mf__caps_named_key(endpoint, "cap:user", who->user);
        keys[5] = mf__caps_named_key(endpoint, "cap:ip", who->ip);
    }
    rc = mf__caps_script_run(r, mf__caps_throttle_script, nkeys, keys, 6, args,
                             &reply, err);
    for (int i = 0; i < nkeys; i++)
        free((char *)keys[i]);
    if (rc != MF_E_OK)
        return rc;
    ok = mf__caps_reply_int(reply, 0, &left) && left >= 0;
    if (ok && !f_r)
        ok = reply_count(reply, 1, limit_r);
    if (ok && f_r) {
        struct mf_caps_in_force f = {0};
        unsigned thr = 0, over = 0;
        ok = reply_count(reply, 1, &f.total) &&
             reply_count(reply, 2, &f.per_user) &&
             reply_count(reply, 3, &f.per_ip) && reply_count(reply, 4, &thr);
        if (ok && member)
            ok = reply_count(reply, 5, &over) &&
                 reply_count(reply, 6, &f.over_limit) && over <= 3;
        /* The script's 1, 2, 3: total, per user, per IP. */
        f.over = over ? (enum mf_caps_cap)(MF_CAPS_CAP_TOTAL + over - 1)
                      : MF_CAPS_CAP_NONE;
        f.throttled = thr == 1;
        f.pause_ms = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
        if (ok)
            *f_r = f;
    }
    freeReplyObject(reply);
    if (!ok)
        return mf_error_set(err, MF_E_REDIS,
                            "caps: unexpected reply to the throttle script");
    *left_r = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    return MF_E_OK;
}

mf_err
mf_caps_throttle_note(struct mf_redis *r, const char *endpoint,
                      uint32_t pause_ms, unsigned cap, unsigned floor,
                      uint32_t window_ms, uint32_t *pause_r, unsigned *limit_r,
                      struct mf_error *err) {
    return run(r, endpoint, "note", pause_ms, cap, floor, window_ms, NULL, NULL,
               pause_r, limit_r, NULL, err);
}

mf_err
mf_caps_throttle_get(struct mf_redis *r, const char *endpoint,
                     const struct mf_caps_asker *who,
                     struct mf_caps_in_force *f_r, struct mf_error *err) {
    uint32_t left;

    return run(r, endpoint, "get", 0, 0, 0, 0, who, NULL, &left, NULL, f_r,
               err);
}

mf_err
mf_caps_throttle_over(struct mf_redis *r, const char *endpoint,
                      const struct mf_caps_asker *who, const char *lease_id,
                      struct mf_caps_in_force *f_r, struct mf_error *err) {
    uint32_t left;

    return run(r, endpoint, "over", 0, 0, 0, 0, who, lease_id, &left, NULL, f_r,
               err);
}

mf_err
mf_caps_configured_set(struct mf_redis *r, const char *endpoint,
                       const char *batch, const struct mf_caps_limits *lim,
                       struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    redisReply *reply = NULL;
    char *key;
    mf_err rc;

    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    if (!batch || !*batch)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "caps: configured caps need a batch name");
    key = mf__caps_named_key(endpoint, "conf", batch);
    if (!lim || (!lim->max_connections && !lim->max_connections_per_user &&
                 !lim->max_connections_per_ip))
        rc = mf_redis_command(r, &reply, err, "DEL %s", key);
    else
        rc = mf_redis_command(r, &reply, err, "HSET %s total %u user %u ip %u",
                              key, lim->max_connections,
                              lim->max_connections_per_user,
                              lim->max_connections_per_ip);
    free(key);
    if (rc == MF_E_OK)
        freeReplyObject(reply);
    return rc;
}
