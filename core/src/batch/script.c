/*
 * The batch module's Redis scripts. Their text lives in core/src/batch/lua/
 * and is embedded at build time (cmake/MfEmbedLua.cmake); the one runner,
 * mf_redis_script_run(), sends them. This file names them.
 *
 * Every script starts with lua/prelude.lua:
 *   now_ms()      Redis TIME in ms: the fleet agrees on lease expiry
 *                 whatever the hosts' clocks say;
 *   mb_set()      sets a mailbox's state and keeps the per-state counts
 *                 ("n:<State>") in the batch hash, so list, settle and
 *                 status are O(1) in the number of mailboxes;
 *   settle()      the derived batch state once every mailbox is final:
 *                 Syncing/IncrementalSyncing -> Synced when every
 *                 mailbox is Synced or Completed, else SyncedWithErrors;
 *                 Completing -> Completed when all are Completed, else
 *                 CompletedWithErrors; Stopping -> Stopped. The only
 *                 copy of this rule (tested by integration.redis.scripts);
 *   fold_progress() keeps what an attempt that ended without a result
 *                 copied in the mailbox's counts (and the batch's
 *                 totals behind the throughput chart keep it too);
 *   sample()      appends a throughput sample (one per second at most;
 *                 thinned to half when MF_BATCH_SAMPLES_MAX is reached).
 *
 * A script answers an array whose first element is a status word ("OK",
 * "STATE", "CLAIMED", ...) that the C side turns into an mf_err with a
 * clear detail. Mailbox keys a script builds itself (expired claims) are
 * in the batch's hash tag, hence in the slot of its declared keys.
 */
#include "batch/batch_int.h"

#include "batch_lua.h"
#include "mailferry/util.h"

static const struct mf_redis_script *const scripts[MF__BS_COUNT] = {
    [MF__BS_CREATE_MB] = &mf__batch_lua_create_mb,
    [MF__BS_SET_STATE] = &mf__batch_lua_set_state,
    [MF__BS_MB_SET_STATE] = &mf__batch_lua_mb_set_state,
    [MF__BS_GETMANY] = &mf__batch_lua_getmany,
    [MF__BS_PASS_BEGIN] = &mf__batch_lua_pass_begin,
    [MF__BS_PASS_CHUNK] = &mf__batch_lua_pass_chunk,
    [MF__BS_PASS_END] = &mf__batch_lua_pass_end,
    [MF__BS_STOP] = &mf__batch_lua_stop,
    [MF__BS_SETTLE] = &mf__batch_lua_settle,
    [MF__BS_CLAIM] = &mf__batch_lua_claim,
    [MF__BS_RENEW] = &mf__batch_lua_renew,
    [MF__BS_RELEASE] = &mf__batch_lua_release,
    [MF__BS_EXPIRED] = &mf__batch_lua_expired,
    [MF__BS_REQUEUE] = &mf__batch_lua_requeue,
    [MF__BS_PROGRESS] = &mf__batch_lua_progress,
    [MF__BS_RESULT] = &mf__batch_lua_result,
    [MF__BS_VERIFY_CLAIM] = &mf__batch_lua_verify_claim,
    [MF__BS_MB_WAIT] = &mf__batch_lua_mb_wait,
};

const struct mf_redis_script *
mf__batch_script(enum mf__batch_script s) {
    MF_ASSERT((unsigned)s < MF__BS_COUNT && scripts[s]);
    return scripts[s];
}

void
mf__batch_script_argv(struct mf__batch_argv *a, enum mf__batch_script s,
                      int nkeys) {
    MF_ASSERT(nkeys >= 0);
    mf__batch_argv_reset(a);
    a->script = mf__batch_script(s);
    a->nkeys = (size_t)nkeys;
}

mf_err
mf__batch_script_run(struct mf_redis *r, struct mf__batch_argv *a,
                     redisReply **reply_r, struct mf_error *err) {
    MF_ASSERT(a->script && a->n >= a->nkeys);
    return mf_redis_script_run(r, a->script, a->nkeys, a->n - a->nkeys,
                               (const char *const *)a->v, a->len, reply_r, err);
}
