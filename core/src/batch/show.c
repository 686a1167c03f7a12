/*
 * What `batch create` stores (or, with --dry-run, would store), shown
 * without secrets: the batch's definition as text or JSON, and its
 * mailboxes' logins. Pure output over a struct mf_batch_config.
 */
#include "batch/batch_int.h"
#include "mailferry/json.h"
#include "mailferry/migrate.h"
#include "mailferry/profile.h"
#include "mailferry/status.h"
#include "mailferry/window.h"

#include <stdio.h>

/* Every folder rule list of cfg as an array of its items. */
static void
json_rule_lists(struct mf_json *j, const struct mf_batch_config *cfg) {
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t n;
        char *const *v = mf__batch_rule_view(cfg, l, &n);
        mf_json_key(j, mf__batch_rule_lists[l].json);
        mf_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
            mf_json_string(j, v[i]);
        mf_json_array_end(j);
    }
}

/* The folder rule lists that the text shows, a line per item. */
static void
text_rule_lists(FILE *out, const struct mf_batch_config *cfg) {
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t n;
        char *const *v = mf__batch_rule_view(cfg, l, &n);
        for (size_t i = 0; mf__batch_rule_lists[l].shown && i < n; i++)
            fprintf(out, "  %s %s\n", mf__batch_rule_lists[l].option, v[i]);
    }
}

static void
json_caps(struct mf_json *j, const char *key, const struct mf_batch_caps *c) {
    mf_json_key(j, key);
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, c, max_connections, max_connections_per_user,
                   max_connections_per_ip, max_concurrent_mailboxes,
                   max_bytes_per_second);
    mf_json_object_end(j);
}

void
mf_batch_mailbox_list_json(struct mf_json *j,
                           const struct mf_batch_mailbox_cfg *mbs, size_t n) {
    mf_json_key(j, "mailbox_list");
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &mbs[i], email, user, target_user);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
}

void
mf_batch_config_json(struct mf_json *j, const struct mf_batch_config *cfg,
                     const struct mf_batch_mailbox_cfg *mbs, size_t n,
                     bool dry_run) {
    mf_json_object_begin(j);
    mf_json_member(j, "batch", cfg->name);
    mf_json_member(j, "dry_run", dry_run);
    mf_json_member(j, "state", dry_run ? NULL : "Created");
    MF_JSON_FIELDS(j, cfg, source, target);
    mf_json_member(j, "admin", cfg->admin_user);
    mf_json_member(j, "target_admin", cfg->target_admin_user);
    mf_status_oauth_json(j, cfg);
    json_rule_lists(j, cfg);
    MF_JSON_FIELDS(j, cfg, max_message_size);
    mf_json_member(j, "source_profile",
                   mf_profile_or_generic(cfg->source_profile)->name);
    mf_json_member(j, "target_profile",
                   mf_profile_or_generic(cfg->target_profile)->name);
    json_caps(j, "source_caps", &cfg->source_caps);
    json_caps(j, "target_caps", &cfg->target_caps);
    MF_JSON_FIELDS(j, cfg, max_attempts, incremental_every);
    mf_json_member(j, "flag_conflict",
                   mf_flag_conflict_name(cfg->flag_conflict));
    mf_window_to_json(j, &cfg->window);
    MF_JSON_FIELDS(j, cfg, sync_deletes);
    mf_json_member(j, "mailboxes", n);
    if (dry_run)
        mf_batch_mailbox_list_json(j, mbs, n);
    mf_json_object_end(j);
}

void
mf_batch_config_print(FILE *out, bool json, const struct mf_batch_config *cfg,
                      const struct mf_batch_mailbox_cfg *mbs, size_t n,
                      bool dry_run) {
    if (json) {
        struct mf_json_doc doc;
        mf_batch_config_json(mf_json_doc_begin(&doc), cfg, mbs, n, dry_run);
        mf_json_doc_print(&doc, out);
        return;
    }
    fprintf(out, "%s batch %s: %zu mailboxes, %s -> %s\n",
            dry_run ? "would create" : "created", cfg->name, n, cfg->source,
            cfg->target);
    if (cfg->admin_user)
        fprintf(out, "  source admin %s (%s)\n", cfg->admin_user,
                cfg->admin_login_format ? cfg->admin_login_format : "sasl");
    if (cfg->target_admin_user)
        fprintf(out, "  target admin %s (%s)\n", cfg->target_admin_user,
                cfg->target_admin_login_format ? cfg->target_admin_login_format
                                               : "sasl");
    mf_status_oauth_text(out, cfg);
    text_rule_lists(out, cfg);
    fprintf(out, "  max attempts %u, incremental passes %s%llus\n",
            cfg->max_attempts ? cfg->max_attempts : MF_BATCH_DEFAULT_ATTEMPTS,
            cfg->incremental_every ? "every " : "never: ",
            (unsigned long long)cfg->incremental_every);
    if (dry_run)
        for (size_t i = 0; i < n; i++)
            fprintf(out, "  mailbox %s (login %s%s%s)\n", mbs[i].email,
                    mbs[i].user, mbs[i].target_user ? ", target login " : "",
                    mbs[i].target_user ? mbs[i].target_user : "");
    else
        fprintf(out, "state Created; `mailferry batch start %s` enqueues it\n",
                cfg->name);
}
