/*
 * Daily bandwidth quotas during one mailbox run (issue 13 section 1).
 *
 * Gmail lets one account download 2500 MB and upload 500 MB a day over
 * IMAP and then stops it (the gmail profile's quotas, profile.c quotes
 * Google's page; --quota-download, --quota-upload and --quota-window
 * override them, mf_profile_quota_rules()). A mailbox that would go past
 * its user's quota is not failed: it waits for the next window and goes
 * on where it stopped.
 *
 *   - Counting: the writer calls mf__run_quota_take() for every message
 *     the reader hands it, before it is appended: its bytes count against
 *     the source user's download quota and the target user's upload
 *     quota. With a Redis (batches, the embedded migrate, --direct
 *     --redis) the counts are the fleet's, per endpoint and login
 *     (mf_caps_quota_shared(): every worker that copies a mailbox of the
 *     same user, over every pass, counts in the same window); without,
 *     the run's own (mf_caps_quota_take(), the monotonic clock). Bytes
 *     the reader fetched ahead (at most the pipe's 2 MiB) are counted
 *     when the writer takes them, so a download quota may be passed by
 *     that much.
 *   - The server's word: Gmail's "[OVERQUOTA] Account exceeded command
 *     or bandwidth limits" (MF_E_BANDWIDTH_QUOTA, core/src/imap/cmd.c)
 *     fills that side's count for the window (mf__run_quota_said()),
 *     also when no quota is configured.
 *   - Waiting: the message that did not fit is not sent; the attempt
 *     ends with MF_E_BANDWIDTH_QUOTA like a throttled one (what was not
 *     confirmed is resumed from the checkpoint, nothing is lost or sent
 *     twice); mailbox.c does not count it as an attempt, calls
 *     mf__run_quota_wait() and starts the next attempt when the window
 *     has passed. While it waits the batch shows the mailbox as waiting,
 *     why and until when (mf_batch_mailbox_wait(), `batch status`).
 *
 * Only the mailbox thread calls these (o->redis is that thread's
 * connection, as for checkpoints).
 */
#include "migrate/leases.h"
#include "migrate/migrate_int.h"

#include "mailferry/batch.h"
#include "mailferry/caps.h"
#include "mailferry/log.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <time.h>

static const char *const side_word[2] = {"download", "upload"};

const char *
mf__run_quota_user(const struct mf_migrate_login *lg) {
    if (!lg)
        return "";
    if (lg->authzid && *lg->authzid)
        return lg->authzid;
    if (lg->oauth_mailbox && *lg->oauth_mailbox)
        return lg->oauth_mailbox;
    return lg->user ? lg->user : "";
}

void
mf__run_quota_init(struct mf__run *run, const struct mf_migrate_login *src,
                   const struct mf_migrate_login *dst) {
    mf_profile_quota_rules(run->o->source_profile, run->o->target_profile,
                           &run->o->quota, &run->quota);
    run->quota_user[0] = mf__run_quota_user(src);
    run->quota_user[1] = mf__run_quota_user(dst);
}

static uint64_t
limit_of(const struct mf__run *run, int side) {
    return side ? run->quota.upload_bytes : run->quota.download_bytes;
}

static uint64_t
window_ms(const struct mf__run *run) {
    return run->quota.window_s * 1000;
}

/* The side's count in the fleet's (or, without Redis or when Redis is
 * away, the run's own) window: 0 when taken (fill false) or filled,
 * else the time left in the window. */
static uint64_t
count(struct mf__run *run, int side, bool fill, uint64_t bytes) {
    uint64_t now = mf_monotonic_ms(), wait = 0, used;
    int64_t until = 0;
    struct mf_error err;

    if (run->o->redis) {
        char ep[MF_CAPS_ENDPOINT_MAX];
        mf__leases_endpoint_id(run->o, side == 1, ep, sizeof(ep));
        if (mf_caps_quota_shared(run->o->redis, ep, run->quota_user[side],
                                 side == 1, fill, limit_of(run, side),
                                 window_ms(run), bytes, &wait, &used,
                                 &err) == MF_E_OK)
            return wait;
    }
    if (fill)
        return (uint64_t)mf_caps_quota_fill(&run->quota_own[side],
                                            window_ms(run), (int64_t)now) -
               now;
    if (mf_caps_quota_take(&run->quota_own[side], limit_of(run, side),
                           window_ms(run), bytes, (int64_t)now, &until))
        return 0;
    return (uint64_t)until > now ? (uint64_t)until - now : 1;
}

static void
wait_until(struct mf__run *run, uint64_t wait_ms) {
    uint64_t until = mf_monotonic_ms() + (wait_ms ? wait_ms : 1);
    if (until > run->quota_until_ms)
        run->quota_until_ms = until;
}

bool
mf__run_quota_take(struct mf__run *run, uint64_t bytes, struct mf_error *err) {
    for (int side = 0; side < 2; side++) {
        uint64_t wait;

        /* A side without a quota is counted only once its server said
         * it has one. */
        if (!limit_of(run, side) && !run->quota_said[side])
            continue;
        if ((wait = count(run, side, false, bytes)) == 0)
            continue;
        wait_until(run, wait);
        if (limit_of(run, side))
            mf_error_set(err, MF_E_BANDWIDTH_QUOTA,
                         "the %s quota of %s is used up (%llu bytes per "
                         "%llus window): waiting %llus for the next window",
                         side_word[side], run->quota_user[side],
                         (unsigned long long)limit_of(run, side),
                         (unsigned long long)run->quota.window_s,
                         (unsigned long long)(wait + 999) / 1000);
        else
            mf_error_set(err, MF_E_BANDWIDTH_QUOTA,
                         "the %s server said the quota of %s is used up: "
                         "waiting %llus for the next window",
                         side ? "target" : "source", run->quota_user[side],
                         (unsigned long long)(wait + 999) / 1000);
        return false;
    }
    return true;
}

void
mf__run_quota_said(struct mf__run *run, bool target) {
    int side = target ? 1 : 0;

    run->quota_said[side] = true;
    run->quota_said_last = side + 1;
    wait_until(run, count(run, side, true, 0));
}

/* Shows the wait (until: Unix s; 0: no longer) in the batch's record of
 * the mailbox, when the run has one; whether it was written. */
static bool
show_wait(struct mf__run *run, int64_t until, const char *why) {
    struct mf_error err;

    return run->o->redis && run->o->batch &&
           mf_batch_mailbox_wait(run->o->redis, run->o->batch, run->mailbox,
                                 until, why, &err) == MF_E_OK;
}

void
mf__run_quota_wait(struct mf__run *run, const char *why) {
    const atomic_bool *stop = run->o->stop;
    uint64_t t = mf_monotonic_ms(), until = run->quota_until_ms;
    char said[MF_ERROR_DETAIL_MAX + 160];
    bool shown;

    /* The server's own words (the attempt's error) say what it refused,
     * not whose quota: both are shown. */
    if (run->quota_said_last) {
        int side = run->quota_said_last - 1;
        snprintf(said, sizeof(said),
                 "the %s server said the %s quota of %s is used up (%s)",
                 side ? "target" : "source", side_word[side],
                 run->quota_user[side], why ? why : "");
        why = said;
        run->quota_said_last = 0;
    }

    /* An attempt that ended on the quota without saying until when
     * waits a whole window. */
    if (!until)
        until = t + window_ms(run);
    run->quota_until_ms = 0;
    if (until <= t)
        return;
    /* Said once, at the wait's start: a run without a batch (migrate
     * --direct) shows nothing else for up to a day. */
    mf_log(
        MF_LOG_INFO,
        &(struct mf_log_ctx){.batch = run->o->batch, .mailbox = run->mailbox},
        "quota.wait", "%s",
        why ? why : "a daily bandwidth quota is used up: waiting");
    shown = show_wait(
        run, (int64_t)time(NULL) + (int64_t)((until - t + 999) / 1000), why);
    while (t < until && !(stop && atomic_load(stop))) {
        mf_sleep_ms(until - t < 100 ? until - t : 100);
        t = mf_monotonic_ms();
    }
    /* Redis away: the job's end drops the wait all the same (mb_set). */
    if (shown)
        (void)show_wait(run, 0, NULL);
}
