/*
 * The fleet-wide bandwidth cap: a token bucket per endpoint in Redis
 * (script.c has the Lua; see mf_caps_bw_take in mailferry/caps.h).
 */
#include "caps/caps_int.h"

#include "mailferry/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

mf_err
mf_caps_bw_take(struct mf_redis *r, const char *endpoint, uint64_t bytes,
                uint64_t rate_bytes_per_s, long *wait_ms_r,
                struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    char nbytes[24], rate[24], burst[24], *key;
    const char *args[3];
    redisReply *reply = NULL;
    mf_err rc;

    if (rate_bytes_per_s == 0 || bytes == 0) {
        *wait_ms_r = 0;
        return MF_E_OK;
    }
    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    snprintf(nbytes, sizeof(nbytes), "%llu", (unsigned long long)bytes);
    snprintf(rate, sizeof(rate), "%llu", (unsigned long long)rate_bytes_per_s);
    snprintf(burst, sizeof(burst), "%d", MF_CAPS_BW_BURST_MS);
    args[0] = nbytes, args[1] = rate, args[2] = burst;
    key = mf__caps_key(endpoint, "bw");
    rc = mf__caps_script_run(r, mf__caps_bw_script, 1, (const char **)&key, 3,
                             args, &reply, err);
    free(key);
    if (rc != MF_E_OK)
        return rc;
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 0) {
        freeReplyObject(reply);
        return mf_error_set(err, MF_E_REDIS,
                            "caps: unexpected reply to the bandwidth script");
    }
    *wait_ms_r = (long)reply->integer;
    if (reply->integer > 0) {
        atomic_fetch_add(&mf__caps_bw_waits, 1);
        atomic_fetch_add(&mf__caps_bw_wait_ms, (uint64_t)reply->integer);
    }
    freeReplyObject(reply);
    return MF_E_OK;
}
