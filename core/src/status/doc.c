/*
 * The batch-level parts of `batch status` (status_int.h): the JSON
 * header with the batch's configuration and counts, the filter a
 * selective view was asked for, and the history of option changes
 * (`batch set`), as text lines or a JSON array.
 */
#include "status/status_int.h"

#include "mailferry/profile.h"

#include <stdio.h>
#include <time.h>

void
mf__status_json_header(struct mf_json *j, const struct mf_batch_config *cfg) {
    mf_json_key(j, "batch"), mf_json_string(j, cfg->name);
    mf_json_key(j, "state"), mf_json_string(j, mf_batch_state_name(cfg->state));
    mf_json_key(j, "pass"), mf_json_u64(j, cfg->pass);
    mf_json_key(j, "source"), mf_json_string(j, cfg->source);
    mf_json_key(j, "target"), mf_json_string(j, cfg->target);
    mf_json_key(j, "created"), mf_json_i64(j, cfg->created);
    mf_json_key(j, "started"), mf_json_i64(j, cfg->started);
    mf_json_key(j, "finished"), mf_json_i64(j, cfg->finished);
    mf_json_key(j, "max_attempts"), mf_json_u64(j, cfg->max_attempts);
    mf_json_key(j, "max_message_size"), mf_json_u64(j, cfg->max_message_size);
    mf_json_key(j, "repair"), mf_json_bool(j, cfg->repair);
    mf_json_key(j, "source_profile"),
        mf_json_string(j, mf_profile_or_generic(cfg->source_profile)->name);
    mf_json_key(j, "target_profile"),
        mf_json_string(j, mf_profile_or_generic(cfg->target_profile)->name);
    mf_json_key(j, "fingerprint"),
        mf_json_string(
            j,
            cfg->fingerprint
                ? cfg->fingerprint
                : mf_profile_fingerprint_name(
                      mf_profile_or_generic(cfg->target_profile)->fingerprint));
    mf_json_key(j, "incremental_every"), mf_json_u64(j, cfg->incremental_every);
    mf_json_key(j, "flag_conflict"),
        mf_json_string(j, mf_flag_conflict_name(cfg->flag_conflict));
    mf_window_to_json(j, &cfg->window);
    mf_json_key(j, "sync_deletes"), mf_json_bool(j, cfg->sync_deletes);
    mf_json_key(j, "n_mailboxes"), mf_json_u64(j, cfg->n_mailboxes);
    mf_json_key(j, "counts");
    mf_json_object_begin(j);
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++) {
        mf_json_key(j, mf_mailbox_state_name((enum mf_mailbox_state)i));
        mf_json_u64(j, cfg->counts[i]);
    }
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
        mf_json_key(ch->j, "when"), mf_json_i64(ch->j, c->when);
        mf_json_key(ch->j, "option"), mf_json_string(ch->j, c->option);
        mf_json_key(ch->j, "old"), mf_json_string(ch->j, c->old_value);
        mf_json_key(ch->j, "new"), mf_json_string(ch->j, c->new_value);
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
    mf_json_key(j, "state"), mf_json_string(j, states);
    mf_json_key(j, "mailbox"), mf_json_string(j, mailboxes);
    mf_json_object_end(j);
}
