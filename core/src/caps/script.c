/*
 * The caps module's Redis scripts: lua/lease.lua (every lease and waiter
 * operation, see lease.c for the design) and lua/bandwidth.lua (the debt
 * bucket, see bandwidth.c), embedded at build time
 * (cmake/MfEmbedLua.cmake) and sent by mf_redis_script_run().
 *
 * Both scripts read the time with redis.call('TIME'), never from the
 * worker, so the fleet agrees on when a lease expires whatever the hosts'
 * clocks say.
 */
#include "caps/caps_int.h"

#include "caps_lua.h"
#include "mailferry/util.h"

const struct mf_redis_script *const mf__caps_lease_script = &mf__caps_lua_lease;
const struct mf_redis_script *const mf__caps_bw_script =
    &mf__caps_lua_bandwidth;
const struct mf_redis_script *const mf__caps_throttle_script =
    &mf__caps_lua_throttle;
const struct mf_redis_script *const mf__caps_quota_script = &mf__caps_lua_quota;

mf_err
mf__caps_script_run(struct mf_redis *r, const struct mf_redis_script *s,
                    int nkeys, const char **keys, int nargs, const char **args,
                    redisReply **reply_r, struct mf_error *err) {
    const char *argv[4 + MF__CAPS_MAX_CAPS + 7 + MF__CAPS_MAX_CAPS];
    size_t n = 0;
    mf_err rc;

    MF_ASSERT(nkeys >= 0 && nargs >= 0 &&
              (size_t)(nkeys + nargs) <= sizeof(argv) / sizeof(argv[0]));
    for (int i = 0; i < nkeys; i++)
        argv[n++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    rc = mf_redis_script_run(r, s, (size_t)nkeys, (size_t)nargs, argv, NULL,
                             reply_r, err);
    /* The client reports a broken connection once and reconnects on the
     * next command; a restarted Redis is thus reached on the retry. Every
     * operation is safe to repeat: ids and lease members are chosen by
     * the caller, and acquire recognises a member that already holds. */
    if (rc == MF_E_REDIS_UNAVAILABLE)
        rc = mf_redis_script_run(r, s, (size_t)nkeys, (size_t)nargs, argv, NULL,
                                 reply_r, err);
    return rc;
}
