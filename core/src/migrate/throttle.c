/*
 * A server's throttling during one mailbox run (issue 13 section 1).
 *
 * When a server answers with throttling (MF_E_THROTTLED: Exchange's "NO
 * Request is throttled. Suggested Backoff Time: N milliseconds", Gmail's
 * [THROTTLED] or "Account exceeded command or bandwidth limits", RFC
 * 5530 [UNAVAILABLE]), mf__run_throttled() pauses that endpoint for the
 * time the server asked (or the side's profile default):
 *
 *   - in this run (a local deadline per side), always;
 *   - for the whole fleet, when the run has a Redis (o->redis: batches,
 *     the embedded migrate, --direct --redis): mf_caps_throttle_note()
 *     keeps the pause in Redis and halves the endpoint's connection limit
 *     for a while (core/src/caps/throttle.c).
 *
 * mf__run_throttle_wait() is called before a connection to the endpoint
 * is opened, before each folder on the source, and, on the target,
 * between APPENDs (the writer loop, at most every CHECK_MS): it sleeps
 * until the pause is over, so every worker stops sending to a throttled
 * server within CHECK_MS plus one command. The source's reader thread
 * may not touch o->redis: the writer reads the source's pause for it
 * (mf__run_throttle_until()) and the reader waits for it between FETCH
 * batches (folder_read.c), on the connection it has. The attempt that was
 * throttled ends as before (its messages stay unconfirmed and are resumed from
 * the checkpoint); mailbox.c does not count it against --max-attempts when it
 * made progress.
 *
 * The lowered limit holds for the connections open when it came too,
 * and so does a connection cap the admin lowered with `batch set` while
 * the job ran (the batch's caps as recorded in Redis for its running
 * jobs, core/src/caps/throttle.c): the read of the fleet's pause, for a
 * side that holds a lease, is mf_caps_throttle_over(), which also says
 * whether its connection is one of those above a limit in force (one
 * round trip per side every CHECK_MS; none without caps). If so
 * mf__run_throttle_yield() ends the attempt at once, paused or not,
 * without counting it, with a log line that says why; the next attempt
 * queues for a lease under the limit. It is asked between APPENDs by the
 * writer, for the target and for the source (the writer reads for the
 * reader; ending the attempt cancels the reader's FETCH, as any error
 * does, and the messages confirmed stay checkpointed), and before each
 * folder. Leases are taken wherever a limit can be lowered: caps, or a
 * profile that throttles (mf_profile_takes_leases()).
 *
 * Only the mailbox thread calls these (o->redis is that thread's
 * connection, as for checkpoints).
 */
#include "migrate/leases.h"
#include "migrate/migrate_int.h"

#include "mailferry/caps.h"
#include "mailferry/log.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <string.h>

/* How often the writer looks at the fleet's pause between APPENDs. */
#define CHECK_MS 200
/* The lowered limit's longest lifetime after the last throttling answer
 * (its shortest, the pause bounds and the floor are the profile's rules,
 * overridden by --throttle-*: mf_profile_throttle_rules()). */
#define WINDOW_MAX_MS (15u * 60 * 1000)

const struct mf_profile *
mf__run_profile(const struct mf__run *run, bool target) {
    const struct mf_profile *p =
        target ? run->o->target_profile : run->o->source_profile;
    return p ? p : mf_profile_generic();
}

uint32_t
mf__run_throttled(struct mf__run *run, bool target, uint32_t retry_ms) {
    struct mf_throttle_rules rules;
    uint32_t ms;
    uint64_t until;
    char ep[MF_CAPS_ENDPOINT_MAX];
    int side = target ? 1 : 0;

    mf_profile_throttle_rules(mf__run_profile(run, target), &run->o->throttle,
                              &rules);
    ms = retry_ms ? retry_ms : rules.pause_ms;
    if (ms > rules.pause_max_ms)
        ms = rules.pause_max_ms;
    until = mf_monotonic_ms() + ms;
    if (until > run->pause_until_ms[side])
        run->pause_until_ms[side] = until;
    run->throttled = true;
    run->res->stats.throttles++;
    if (run->o->redis) {
        uint32_t window = 5 * ms, left;
        unsigned lim;
        struct mf_error err;

        if (window > WINDOW_MAX_MS)
            window = WINDOW_MAX_MS;
        if (window < rules.window_ms)
            window = rules.window_ms;
        mf__leases_endpoint_id(run->o, target, ep, sizeof(ep));
        /* Redis away: the local pause still holds. */
        if (mf_caps_throttle_note(
                run->o->redis, ep, ms, mf__leases_cap(run->leases, target),
                rules.min_connections, window, &left, &lim, &err) != MF_E_OK)
            return ms;
    }
    return ms;
}

uint64_t
mf__run_throttle_until(struct mf__run *run, bool target, bool now) {
    int side = target ? 1 : 0;
    uint64_t t = mf_monotonic_ms(), until = run->pause_until_ms[side];

    if ((run->o->redis || run->leases) &&
        (now || t >= run->pause_checked_ms[side] + CHECK_MS)) {
        char ep[MF_CAPS_ENDPOINT_MAX];
        struct mf_caps_in_force f;
        struct mf_error err;
        bool got;

        run->pause_checked_ms[side] = t;
        /* A side that holds a lease learns the pause and whether it is
         * above a limit in force in one round trip; else the pause. */
        got = mf__leases_in_force(run->leases, target, &f);
        if (!got && run->o->redis) {
            mf__leases_endpoint_id(run->o, target, ep, sizeof(ep));
            got = mf_caps_throttle_get(run->o->redis, ep, NULL, &f, &err) ==
                  MF_E_OK;
        }
        if (got) {
            if (f.over != MF_CAPS_CAP_NONE)
                run->over[side] = f;
            if (t + f.pause_ms > until)
                until = t + f.pause_ms;
        }
        /* Kept, so that the checks in between (no Redis read) see it. */
        run->pause_until_ms[side] = until;
    }
    return until;
}

void
mf__run_throttle_wait(struct mf__run *run, bool target, bool now) {
    uint64_t until = mf__run_throttle_until(run, target, now);
    uint64_t t = mf_monotonic_ms();

    if (until <= t)
        return;
    run->res->stats.throttle_wait_ms += until - t;
    while (t < until && !(run->o->stop && atomic_load(run->o->stop))) {
        uint64_t step = until - t < 100 ? until - t : 100;
        mf_sleep_ms(step);
        t = mf_monotonic_ms();
    }
}

bool
mf__run_throttle_yield(struct mf__run *run, bool target,
                       struct mf_error *err_r) {
    int side = target ? 1 : 0;
    const char *name = target ? "target" : "source";
    struct mf_caps_in_force f;

    if (!run->leases)
        return false;
    (void)mf__run_throttle_until(run, target, false); /* run->over */
    f = run->over[side];
    if (f.over == MF_CAPS_CAP_NONE)
        return false;
    memset(&run->over[side], 0, sizeof(run->over[side]));
    run->throttled = run->yielded = true;
    if (f.over == MF_CAPS_CAP_TOTAL && f.throttled)
        mf_error_set(err_r, MF_E_THROTTLED,
                     "%s connection closed: the server throttled, and its "
                     "connections are limited to %u for a while",
                     name, f.over_limit);
    else
        mf_error_set(err_r, MF_E_THROTTLED,
                     "%s connection closed: the batch's %s connection cap "
                     "is %u now, and this one was above it",
                     name,
                     f.over == MF_CAPS_CAP_TOTAL ? "total"
                                                 : mf_caps_cap_name(f.over),
                     f.over_limit);
    /* The messages copied stay checkpointed; the next attempt queues
     * for a lease under the limit and is not counted. */
    mf_log(
        MF_LOG_INFO,
        &(struct mf_log_ctx){.batch = run->o->batch, .mailbox = run->mailbox},
        "caps.lowered", "%s; it queues for a connection slot again",
        err_r->detail);
    return true;
}
