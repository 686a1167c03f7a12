/*
 * Adapters from the Kafka envelope bodies (mailferry/envelope.h) to the
 * batch store: a Progress or Result as the coordinator service decodes it
 * is applied with mf_batch_apply_progress() / mf_batch_apply_result().
 * Only the mapping of counters and items lives here; the item array is
 * borrowed from the envelope for the duration of the call.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

mf_err
mf_batch_apply_envelope_progress(struct mf_redis *r,
                                 const struct mf_progress *p, bool *applied_r,
                                 struct mf_error *err) {
    const struct mf_counters *c = &p->counters;
    struct mf_batch_progress bp = {
        .job_id = p->job_id,
        .attempt = p->attempt,
        .seq = p->sequence,
        .messages_total = c->messages_source,
        .messages_done = c->messages_copied + c->messages_already_present +
                         c->messages_skipped_too_large +
                         c->messages_skipped_excluded + c->messages_failed +
                         c->messages_outside_window,
        .bytes_done = c->bytes_copied,
        .bytes_total = c->bytes_source,
        .folders_total = (uint32_t)c->folders_total,
        .folders_done = (uint32_t)c->folders_done,
        .conns =
            {
                .source_held = p->source_connections,
                .target_held = p->target_connections,
                .waiting = (enum mf_migrate_wait)p->waiting_for,
                .cap = (enum mf_caps_cap)p->waiting_cap,
                .waiting_ms = p->waiting_ms,
            },
    };

    return mf_batch_apply_progress(r, p->batch, p->mailbox, &bp, applied_r,
                                   err);
}

static int64_t
unix_time(const char *s) {
    uint64_t v;

    return s && mf_parse_u64(s, 0, INT64_MAX, &v) ? (int64_t)v : 0;
}

static struct mf_batch_item *
items(const struct mf_result_item *v, size_t n) {
    struct mf_batch_item *out = mf_xcalloc(n ? n : 1, sizeof(*out));

    for (size_t i = 0; i < n; i++)
        out[i] = (struct mf_batch_item){
            .folder = v[i].folder,
            .uid = v[i].uid,
            .size = v[i].size,
            .internal_date = unix_time(v[i].internal_date),
            .subject = v[i].subject,
            .message_id = v[i].message_id,
            .code = (int)v[i].error_code,
            .name = v[i].error_name,
            .detail = v[i].error_detail,
        };
    return out;
}

mf_err
mf_batch_apply_envelope_result(struct mf_redis *r, const struct mf_result *res,
                               struct mf_batch_applied *out_r,
                               struct mf_error *err) {
    const struct mf_counters *c = &res->counters;
    size_t ns =
        res->nskipped < MF_BATCH_ITEMS_MAX ? res->nskipped : MF_BATCH_ITEMS_MAX;
    size_t nf =
        res->nfailed < MF_BATCH_ITEMS_MAX ? res->nfailed : MF_BATCH_ITEMS_MAX;
    struct mf_batch_item *sk = items(res->skipped, ns);
    struct mf_batch_item *fl = items(res->failed, nf);
    struct mf_batch_result br = {
        .job_id = res->job_id,
        .attempt = res->attempt,
        .worker = res->worker,
        .outcome = res->outcome,
        .stats =
            {
                .folders_copied = (uint32_t)c->folders_done,
                .folders_excluded = (uint32_t)c->folders_excluded,
                .messages_source = c->messages_source,
                .bytes_source = c->bytes_source,
                .messages_copied = c->messages_copied,
                .bytes_copied = c->bytes_copied,
                .messages_present = c->messages_already_present,
                .skipped_too_large = c->messages_skipped_too_large,
                .outside_window = c->messages_outside_window,
                .bytes_outside_window = c->bytes_outside_window,
                .deleted_on_target = c->messages_deleted_on_target,
                .moved_on_target = c->messages_moved_on_target,
                .failed = c->messages_failed,
                .bytes_failed = c->bytes_failed,
                .pass_complete = c->pass_complete,
                .flags_updated = c->flags_updated,
                .lease_wait_ms = c->lease_wait_ms,
                .throttles = c->throttles,
                .throttle_wait_ms = c->throttle_wait_ms,
                .seconds =
                    res->finished_at_ms > res->started_at_ms
                        ? (double)(res->finished_at_ms - res->started_at_ms) /
                              1000.0
                        : 0.0,
            },
        .skipped_excluded = c->messages_skipped_excluded,
        .error_code = (int)res->error_code,
        .error_name = res->error_name,
        .error_detail = res->error_detail,
        .skipped = sk,
        .n_skipped = res->nskipped,
        .failed = fl,
        .n_failed = res->nfailed,
    };
    mf_err rc;

    /* apply_result lists at most MF_BATCH_ITEMS_MAX and counts the rest
     * from n_skipped/n_failed; only the listed ones are converted. */
    rc = mf_batch_apply_result(r, res->batch, res->mailbox, &br, out_r, err);
    free(sk);
    free(fl);
    return rc;
}
