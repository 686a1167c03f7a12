/*
 * A batch's progress snapshot from Redis (mailferry/progress.h): the
 * batch record, one walk over the mailbox records in chunks
 * (mf_batch_foreach_mailbox: a 50,000-mailbox batch costs one pass over
 * Redis per snapshot and memory in the mailboxes kept in flight), and
 * the caps' lease counts of the batch's two endpoints.
 *
 * The running jobs' figures are what their workers last published
 * (every few seconds: the records' p_* fields, mf_batch_apply_progress),
 * so a snapshot is never more recent than that.
 */
#include "mailferry/progress.h"

#include "mailferry/batch.h"
#include "mailferry/caps.h"
#include "mailferry/endpoint.h"
#include "mailferry/util.h"

#include <string.h>
#include <time.h>

struct walk {
    struct mf_progress_snapshot *s;
    mf_progress_mailbox_cb cb;
    void *ud;
    int64_t now; /* Unix seconds, for the mailboxes' time in their pass */
};

static bool
running_state(enum mf_mailbox_state st) {
    return st == MF_MAILBOX_SYNCING || st == MF_MAILBOX_INCREMENTAL_SYNCING;
}

static void
add_running(struct walk *w, const struct mf_batch_mailbox *mb) {
    struct mf_progress_mailbox m = {
        .email = mb->cfg.email,
        .messages_done = mb->messages_done,
        .messages_total = mb->messages_total,
        .bytes_done = mb->bytes_done,
        .bytes_total = mb->bytes_total,
        .folders_done = mb->folders_done,
        .folders_total = mb->folders_total,
        .attempt = mb->attempt,
        .seconds = mb->last_sync > 0 && w->now > mb->last_sync
                       ? (double)(w->now - mb->last_sync)
                       : 0,
        .conns = mb->conns,
    };

    mf_progress_snapshot_add_running(w->s, &m);
}

/* A queued mailbox's next pass: nothing known ahead for an incremental
 * one (new mail is listed when it runs); what an unfinished first pass
 * left, when one measured the mailbox; else unknown (the average). */
static void
add_queued(struct mf_progress_snapshot *s, const struct mf_batch_mailbox *mb) {
    const struct mf_migrate_stats *st = &mb->stats;

    s->queued++;
    if (mb->synced_once) {
        s->queued_sized++;
    } else if (mb->finished > 0) {
        s->queued_sized++;
        s->queued_messages += st->messages_source > st->messages_copied
                                  ? st->messages_source - st->messages_copied
                                  : 0;
        s->queued_bytes += st->bytes_source > st->bytes_copied
                               ? st->bytes_source - st->bytes_copied
                               : 0;
    }
}

static mf_err
on_mailbox(void *ud, const struct mf_batch_mailbox *mb) {
    struct walk *w = ud;
    struct mf_progress_snapshot *s = w->s;

    /* Copied by finished jobs, of every pass. */
    s->messages_done += mb->stats.messages_copied;
    s->bytes_done += mb->stats.bytes_copied;
    s->lease_wait_ms += mb->stats.lease_wait_ms;
    if (mb->finished > 0) {
        s->sized++;
        s->sized_messages += mb->stats.messages_source;
        s->sized_bytes += mb->stats.bytes_source;
    }
    if (running_state(mb->state)) {
        add_running(w, mb);
    } else if (mb->state == MF_MAILBOX_QUEUED) {
        add_queued(s, mb);
    } else {
        s->finished++;
        if (mb->state == MF_MAILBOX_FAILED)
            s->failed++;
    }
    return w->cb ? w->cb(w->ud, mb) : MF_E_OK;
}

/* One side's leases. Without caps nothing takes a lease, so nothing is
 * counted; a query that fails leaves the side uncounted too. */
static void
read_side(struct mf_redis *r, const char *url, bool target,
          struct mf_progress_side *side) {
    struct mf_endpoint ep;
    struct mf_caps_usage u;
    struct mf_error err = {0};
    char id[MF_CAPS_ENDPOINT_MAX + 16];

    if (!url || mf_endpoint_parse(url, &ep, &err) != MF_E_OK)
        return;
    mf_caps_endpoint_id(ep.host, ep.port, target, id, sizeof(id));
    if (mf_caps_usage_get(r, id, &u, &err) != MF_E_OK)
        return;
    side->counted = true;
    side->held = u.connections;
    side->waiting = u.waiters;
}

mf_err
mf_progress_read(struct mf_redis *r, const char *batch,
                 mf_progress_mailbox_cb cb, void *ud,
                 struct mf_progress_snapshot *s, struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct walk w = {.s = s, .cb = cb, .ud = ud, .now = (int64_t)time(NULL)};
    mf_err rc;

    mf_progress_snapshot_clear(s);
    if ((rc = mf_batch_get(r, batch, &cfg, err)))
        return rc;
    snprintf(s->batch, sizeof(s->batch), "%s", cfg->name);
    snprintf(s->state, sizeof(s->state), "%s", mf_batch_state_name(cfg->state));
    s->running = mf_batch_state_running(cfg->state);
    s->stopping = cfg->state == MF_BATCH_STOPPING;
    s->mailboxes = cfg->n_mailboxes;
    if ((rc = mf_batch_foreach_mailbox(r, batch, on_mailbox, &w, err)))
        goto out;
    if (mf_batch_caps_any(&cfg->source_caps) ||
        mf_batch_caps_any(&cfg->target_caps)) {
        read_side(r, cfg->source, false, &s->source);
        read_side(r, cfg->target, true, &s->target);
    }
    s->at = mf_monotonic_s();
out:
    mf_batch_config_free(&cfg);
    return rc;
}
