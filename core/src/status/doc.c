/*
 * The batch-level parts of `batch status` (status_int.h): the JSON
 * header with the batch's configuration (its daily bandwidth quotas as
 * they apply, profiles and flags resolved) and counts, the filter a
 * selective view was asked for, and the history of option changes
 * (`batch set`), as text lines or a JSON array.
 */
#include "status/status_int.h"

#include "mailferry/profile.h"

#include <stdio.h>
#include <time.h>

void
mf__status_json_header(struct mf_json *j, const struct mf_batch_config *cfg) {
    const struct mf_profile *tprof = mf_profile_or_generic(cfg->target_profile);
    struct mf_quota_rules quota;

    mf_json_member(j, "batch", cfg->name);
    mf_json_member(j, "state", mf_batch_state_name(cfg->state));
    MF_JSON_FIELDS(j, cfg, pass, source, target, created, started, finished,
                   started_ms, finished_ms, max_attempts, max_message_size,
                   repair);
    mf_json_member(j, "source_profile",
                   mf_profile_or_generic(cfg->source_profile)->name);
    mf_json_member(j, "target_profile", tprof->name);
    mf_json_member(j, "fingerprint",
                   cfg->fingerprint
                       ? cfg->fingerprint
                       : mf_profile_fingerprint_name(tprof->fingerprint));
    /* The daily bandwidth quotas the batch's jobs count against: its
     * --quota-* over its profiles' (0: none). */
    mf_profile_quota_rules(mf_profile_or_generic(cfg->source_profile), tprof,
                           &cfg->quota, &quota);
    mf_json_key(j, "quota");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, &quota, download_bytes, upload_bytes, window_s);
    mf_json_object_end(j);
    MF_JSON_FIELDS(j, cfg, incremental_every);
    mf_json_member(j, "flag_conflict",
                   mf_flag_conflict_name(cfg->flag_conflict));
    mf_window_to_json(j, &cfg->window);
    MF_JSON_FIELDS(j, cfg, sync_deletes, n_mailboxes);
    mf__status_counts_json(j, cfg->counts);
}

void
mf__status_counts_json(struct mf_json *j,
                       const uint64_t counts[MF_MAILBOX_STATE_COUNT]) {
    mf_json_key(j, "counts");
    mf_json_object_begin(j);
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        mf_json_member(j, mf_mailbox_state_name((enum mf_mailbox_state)i),
                       counts[i]);
    mf_json_object_end(j);
}

/* The batch's option changes (`batch set`), as text lines or a JSON
 * array. */
struct changes {
    FILE *out;
    struct mf_json *j;
    unsigned n;
};

static mf_err
on_change(void *ud, const struct mf_batch_change *c) {
    struct changes *ch = ud;

    if (ch->j) {
        mf_json_object_begin(ch->j);
        MF_JSON_FIELDS(ch->j, c, when, option);
        mf_json_member(ch->j, "old", c->old_value);
        mf_json_member(ch->j, "new", c->new_value);
        mf_json_object_end(ch->j);
    } else {
        char when[64];
        time_t t = (time_t)c->when;
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
        fprintf(ch->out, "%s    %s UTC  --%s %s -> %s\n",
                ch->n++ ? "" : "  changes:\n", when, c->option, c->old_value,
                c->new_value);
    }
    return MF_E_OK;
}

void
mf__status_changes(struct mf_redis *r, const char *name, FILE *out,
                   struct mf_json *j) {
    struct changes ch = {.out = out, .j = j};
    struct mf_error err = {0};

    if (j) {
        mf_json_key(j, "changes");
        mf_json_array_begin(j);
    }
    if (mf_batch_changes(r, name, on_change, &ch, &err) != MF_E_OK && !j)
        fprintf(out, "  changes: cannot read them: %s\n", err.detail);
    if (j)
        mf_json_array_end(j);
}

void
mf__status_json_filter(struct mf_json *j, const char *states,
                       const char *mailboxes) {
    mf_json_key(j, "filter");
    mf_json_object_begin(j);
    mf_json_member(j, "state", states);
    mf_json_member(j, "mailbox", mailboxes);
    mf_json_object_end(j);
}
