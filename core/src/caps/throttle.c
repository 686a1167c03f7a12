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
 *                      connection leases take min(cap, tlimit), and
 *                      the connections open above it give their leases
 *                      up (mf_caps_throttle_over(): the live leases of
 *                      cap:total ranked by expiry, those from rank
 *                      tlimit on), so the limit holds for the ones open
 *                      when it was lowered too.
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

/* One run of the script; member (op "over" only, else NULL) and over_r
 * (may be NULL) for the lease asked about. */
static mf_err
run(struct mf_redis *r, const char *endpoint, const char *op, uint32_t pause_ms,
    unsigned cap, unsigned floor, uint32_t window_ms, const char *member,
    uint32_t *left_r, unsigned *limit_r, bool *over_r, struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    char a[4][24];
    const char *keys[3], *args[6];
    redisReply *reply = NULL;
    long long left, lim, over = 0;
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
    args[5] = member ? member : "";
    keys[0] = mf__caps_key(endpoint, "pause");
    keys[1] = mf__caps_key(endpoint, "tlimit");
    keys[2] = mf__caps_key(endpoint, "cap:total");
    rc = mf__caps_script_run(r, mf__caps_throttle_script, 3, keys, 6, args,
                             &reply, err);
    for (int i = 0; i < 3; i++)
        free((char *)keys[i]);
    if (rc != MF_E_OK)
        return rc;
    if (!mf__caps_reply_int(reply, 0, &left) ||
        !mf__caps_reply_int(reply, 1, &lim) || left < 0 || lim < 0 ||
        (member && !mf__caps_reply_int(reply, 2, &over))) {
        freeReplyObject(reply);
        return mf_error_set(err, MF_E_REDIS,
                            "caps: unexpected reply to the throttle script");
    }
    freeReplyObject(reply);
    *left_r = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    *limit_r = lim > 1000000 ? 1000000 : (unsigned)lim;
    if (over_r)
        *over_r = over == 1;
    return MF_E_OK;
}

mf_err
mf_caps_throttle_note(struct mf_redis *r, const char *endpoint,
                      uint32_t pause_ms, unsigned cap, unsigned floor,
                      uint32_t window_ms, uint32_t *pause_r, unsigned *limit_r,
                      struct mf_error *err) {
    return run(r, endpoint, "note", pause_ms, cap, floor, window_ms, NULL,
               pause_r, limit_r, NULL, err);
}

mf_err
mf_caps_throttle_get(struct mf_redis *r, const char *endpoint,
                     uint32_t *pause_r, unsigned *limit_r,
                     struct mf_error *err) {
    return run(r, endpoint, "get", 0, 0, 0, 0, NULL, pause_r, limit_r, NULL,
               err);
}

mf_err
mf_caps_throttle_over(struct mf_redis *r, const char *endpoint,
                      const char *lease_id, unsigned *limit_r, bool *over_r,
                      struct mf_error *err) {
    uint32_t left;

    return run(r, endpoint, "over", 0, 0, 0, 0, lease_id, &left, limit_r,
               over_r, err);
}
