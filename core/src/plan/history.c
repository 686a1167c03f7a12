/*
 * What a batch's records in Redis say about how it ran
 * (mf_plan_batch_digest(), mailferry/plan.h): the figures `plan
 * --from-batch` turns into a throughput and `batch compare` puts side by
 * side. Read-only: one mf_batch_get() and one walk over the mailbox
 * records (batch.h); the arithmetic is in estimate.c.
 */
#include "plan/plan_int.h"

#include "mailferry/batch.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct walk {
    struct mf_plan_digest *d;
    struct mf_estimate_interval *iv;
    size_t n_iv;
};

static mf_err
on_mailbox(void *ud, const struct mf_batch_mailbox *mb) {
    struct walk *w = ud;
    struct mf_plan_digest *d = w->d;
    bool synced =
        mb->state == MF_MAILBOX_SYNCED || mb->state == MF_MAILBOX_COMPLETED;

    d->mailboxes++;
    if ((unsigned)mb->state < MF_MAILBOX_STATE_COUNT)
        d->counts[mb->state]++;
    d->bytes_copied += mb->stats.bytes_copied;
    d->messages_copied += mb->stats.messages_copied;
    d->bytes_source += mb->stats.bytes_source;
    d->messages_source += mb->stats.messages_source;
    d->skipped_too_large += mb->stats.skipped_too_large;
    d->failed_items += mb->stats.failed;
    d->attempts += mb->attempts_total;
    if (mb->error_code != 0)
        d->errors++;
    if (mb->stats.seconds > 0)
        d->sum_seconds += mb->stats.seconds;
    if (mb->first_sync > 0 &&
        (d->first_start == 0 || mb->first_sync < d->first_start))
        d->first_start = mb->first_sync;
    if (mb->finished > d->last_finish && mf_mailbox_state_final(mb->state))
        d->last_finish = mb->finished;
    mf_estimate_rate_add(&d->rate, synced, mb->stats.bytes_copied,
                         mb->stats.messages_copied, mb->stats.seconds);
    if (mb->first_sync > 0 && mb->finished >= mb->first_sync) {
        w->iv = mf_xreallocarray(w->iv, w->n_iv + 1, sizeof(*w->iv));
        w->iv[w->n_iv++] =
            (struct mf_estimate_interval){mb->first_sync, mb->finished};
    }
    return MF_E_OK;
}

mf_err
mf_plan_batch_digest(struct mf_redis *r, const char *name,
                     struct mf_plan_digest *d_r, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct mf_plan_digest d;
    struct walk w = {.d = &d};
    mf_err rc;

    memset(&d, 0, sizeof(d));
    if ((rc = mf_batch_get(r, name, &cfg, err)))
        return rc;
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.state, sizeof(d.state), "%s", mf_batch_state_name(cfg->state));
    snprintf(d.source, sizeof(d.source), "%s", cfg->source ? cfg->source : "");
    d.cap_connections = cfg->source_caps.max_connections;
    d.cap_per_user = cfg->source_caps.max_connections_per_user;
    d.cap_per_ip = cfg->source_caps.max_connections_per_ip;
    d.cap_mailboxes = cfg->source_caps.max_concurrent_mailboxes;
    d.running =
        mf_batch_state_running(cfg->state) || cfg->state == MF_BATCH_CREATED;
    mf_batch_config_free(&cfg);
    if ((rc = mf_batch_foreach_mailbox(r, name, on_mailbox, &w, err)))
        goto out;
    d.peak_concurrency = mf_estimate_peak_overlap(w.iv, w.n_iv);
    d.rate.peak_concurrency = d.peak_concurrency;
    *d_r = d;
out:
    free(w.iv);
    return rc;
}

int64_t
mf_plan_digest_duration(const struct mf_plan_digest *d) {
    if (d->first_start <= 0 || d->last_finish < d->first_start)
        return 0;
    return d->last_finish - d->first_start;
}

void
mf_plan_digest_to_json(const struct mf_plan_digest *d, struct mf_json *j) {
    int64_t dur = mf_plan_digest_duration(d);

    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, d, name, state, running, source, mailboxes);
    mf_json_key(j, "states");
    mf_json_object_begin(j);
    for (int s = 0; s < MF_MAILBOX_STATE_COUNT; s++) {
        mf_json_member(j, mf_mailbox_state_name((enum mf_mailbox_state)s),
                       d->counts[s]);
    }
    mf_json_object_end(j);
    MF_JSON_FIELDS(j, d, bytes_copied, messages_copied, bytes_source,
                   messages_source, skipped_too_large, failed_items, errors,
                   attempts, first_start, last_finish);
    mf_json_member(j, "duration_seconds", dur);
    mf_json_member(j, "mailbox_seconds", d->sum_seconds);
    /* The batch as a whole: what the admin saw on the clock. */
    mf_json_member(j, "bytes_per_second",
                   dur > 0 ? (double)d->bytes_copied / (double)dur : 0);
    mf_json_member(j, "messages_per_second",
                   dur > 0 ? (double)d->messages_copied / (double)dur : 0);
    mf_json_key(j, "per_connection");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, &d->rate, mailboxes, ignored, seconds, bytes_per_second,
                   messages_per_second);
    mf_json_object_end(j);
    mf_json_key(j, "connections");
    mf_json_object_begin(j);
    mf_json_member(j, "max_connections", d->cap_connections);
    mf_json_member(j, "max_connections_per_user", d->cap_per_user);
    mf_json_member(j, "max_connections_per_ip", d->cap_per_ip);
    mf_json_member(j, "max_concurrent_mailboxes", d->cap_mailboxes);
    mf_json_member(j, "peak_concurrent_mailboxes", d->peak_concurrency);
    mf_json_object_end(j);
    mf_json_object_end(j);
}
