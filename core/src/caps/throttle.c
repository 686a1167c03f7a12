/*
 * A server's throttling, shared by the fleet through Redis (issue 13;
 * mf_caps_throttle_note() in mailferry/caps.h). Two keys per endpoint,
 * beside its caps (same hash tag, so one script touches them and the
 * total cap together in a Redis Cluster):
 *
 *   mf:{c:EP}:pause    exists while the endpoint is paused; its PTTL is
 *                      the time left. Every worker reads it before it
 *                      connects to the endpoint and between APPENDs, and
 *                      waits that long.
 *   mf:{c:EP}:tlimit   the lowered connection limit while it lives
 *                      (window_ms after the last throttling answer);
 *                      connection leases take min(cap, tlimit).
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

static mf_err
run(struct mf_redis *r, const char *endpoint, const char *op, uint32_t pause_ms,
    unsigned cap, unsigned floor, uint32_t window_ms, uint32_t *left_r,
    unsigned *limit_r, struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    char a[4][24];
    const char *keys[3], *args[5];
    redisReply *reply = NULL;
    long long left, lim;
    mf_err rc;

    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    snprintf(a[0], sizeof(a[0]), "%lu", (unsigned long)pause_ms);
    snprintf(a[1], sizeof(a[1]), "%u", cap);
    snprintf(a[2], sizeof(a[2]), "%u", floor ? floor : 1);
    snprintf(
        a[3], sizeof(a[3]), "%lu",
        (unsigned long)(window_ms ? window_ms : MF_THROTTLE_DEFAULT_WINDOW_MS));
    args[0] = op, args[1] = a[0], args[2] = a[1], args[3] = a[2];
    args[4] = a[3];
    keys[0] = mf__caps_key(endpoint, "pause");
    keys[1] = mf__caps_key(endpoint, "tlimit");
    keys[2] = mf__caps_key(endpoint, "cap:total");
    rc = mf__caps_script_run(r, mf__caps_throttle_script, 3, keys, 5, args,
                             &reply, err);
    for (int i = 0; i < 3; i++)
        free((char *)keys[i]);
    if (rc != MF_E_OK)
        return rc;
    if (!mf__caps_reply_int(reply, 0, &left) ||
        !mf__caps_reply_int(reply, 1, &lim) || left < 0 || lim < 0) {
        freeReplyObject(reply);
        return mf_error_set(err, MF_E_REDIS,
                            "caps: unexpected reply to the throttle script");
    }
    freeReplyObject(reply);
    *left_r = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    *limit_r = lim > 1000000 ? 1000000 : (unsigned)lim;
    return MF_E_OK;
}

mf_err
mf_caps_throttle_note(struct mf_redis *r, const char *endpoint,
                      uint32_t pause_ms, unsigned cap, unsigned floor,
                      uint32_t window_ms, uint32_t *pause_r, unsigned *limit_r,
                      struct mf_error *err) {
    return run(r, endpoint, "note", pause_ms, cap, floor, window_ms, pause_r,
               limit_r, err);
}

mf_err
mf_caps_throttle_get(struct mf_redis *r, const char *endpoint,
                     uint32_t *pause_r, unsigned *limit_r,
                     struct mf_error *err) {
    return run(r, endpoint, "get", 0, 0, 0, 0, pause_r, limit_r, err);
}
