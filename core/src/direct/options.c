/*
 * The options of a process that connects to the servers itself, read
 * once for every command that does (mailferry/direct.h): `migrate
 * --direct` and `verify` read all of struct mf_direct_settings, `plan`
 * the servers and logins of struct mf_direct_connect. What the options
 * mean is the batch definition's where a batch has the same option
 * (mf_batchdef_profiles_read(), _caps_read(), _window_read()); the
 * programs only show the error.
 *
 * Ownership: strings are borrowed from the struct mf_config, which must
 * outlive the settings; the admin passwords, the OAuth2 token sources
 * and the folder rules are owned and freed by _clear()/_free().
 */
#include "mailferry/batchdef.h"
#include "mailferry/config.h"
#include "mailferry/direct.h"
#include "mailferry/folderplan.h"
#include "mailferry/oauth.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Servers and logins                                                  */
/* ------------------------------------------------------------------ */

/* --<key> URL with --ca-file, --insecure, --bind-address and
 * --command-timeout into s; a missing URL is an error when required. */
static mf_err
server_read(const struct mf_config *conf, const char *key, bool required,
            struct mf_migrate_server *s, bool *given_r, struct mf_error *err) {
    const char *url = mf_config_get(conf, key, NULL);
    bool insecure = false;
    uint64_t secs = 0;
    mf_err rc;

    memset(s, 0, sizeof(*s));
    *given_r = url != NULL;
    if (!url)
        return required
                   ? mf_error_set(err, MF_E_USAGE, "--%s URL is required", key)
                   : MF_E_OK;
    if ((rc = mf_endpoint_parse(url, &s->endpoint, err)) ||
        (rc = mf_config_get_bool(conf, "insecure", false, &insecure, err)) ||
        (rc = mf_config_get_u64(conf, "command-timeout",
                                MF_MIGRATE_DEFAULT_COMMAND_TIMEOUT_S, 1, 86400,
                                MF_UNIT_SECONDS, &secs, err)))
        return rc;
    s->insecure = insecure;
    s->command_timeout_ms = (long)secs * 1000L;
    s->ca_file = mf_config_get(conf, "ca-file", NULL);
    s->bind_address = mf_config_get(conf, "bind-address", NULL);
    return MF_E_OK;
}

/* The admin options with prefix "" or "target-"; a given admin needs
 * its password file. */
static mf_err
admin_read(const struct mf_config *conf, const char *prefix,
           struct mf_direct_login *l, struct mf_error *err) {
    char key[64];
    mf_err rc;

    snprintf(key, sizeof(key), "%sadmin", prefix);
    l->admin = mf_config_get(conf, key, NULL);
    snprintf(key, sizeof(key), "%sadmin-login-format", prefix);
    l->admin_format = mf_config_get(conf, key, NULL);
    if (!l->admin)
        return MF_E_OK;
    snprintf(key, sizeof(key), "%sadmin-password", prefix);
    if ((rc = mf_config_get_secret(conf, key, &l->admin_password, err)))
        return rc;
    if (!l->admin_password)
        return mf_error_set(err, MF_E_USAGE, "--%sadmin needs --%s-file",
                            prefix, key);
    return MF_E_OK;
}

mf_err
mf_direct_connect_read(const struct mf_config *conf, bool target_required,
                       struct mf_folder_rules *rules,
                       struct mf_direct_connect *c, struct mf_error *err) {
    bool has_source;
    mf_err rc;

    memset(c, 0, sizeof(*c));
    if (!mf_batchdef_profiles_read(conf, &c->profile[0], &c->profile[1], err))
        return err->code ? err->code : MF_E_USAGE;
    if ((rules &&
         (rc = mf_profile_folder_rules(
              c->profile[0], mf_config_get(conf, "gmail-archive-folder", NULL),
              rules, err))) ||
        (rc = server_read(conf, "source", true, &c->server[0], &has_source,
                          err)) ||
        (rc = server_read(conf, "target", target_required, &c->server[1],
                          &c->has_target, err)) ||
        (rc = admin_read(conf, "", &c->login[0], err)) ||
        (rc = admin_read(conf, "target-", &c->login[1], err)) ||
        (rc = mf_oauth_from_config(conf, "source", &c->login[0].oauth, err)) ||
        (rc = mf_oauth_from_config(conf, "target", &c->login[1].oauth, err)))
        return rc;
    c->login[0].admin_format =
        mf_profile_login_format(c->profile[0], c->login[0].admin_format);
    return MF_E_OK;
}

void
mf_direct_connect_clear(struct mf_direct_connect *c) {
    for (int i = 0; i < 2; i++) {
        mf_secret_free(&c->login[i].admin_password);
        mf_oauth_free(&c->login[i].oauth);
    }
}

void
mf_direct_connect_sides(const struct mf_direct_connect *c,
                        struct mf_jobs_direct_side sides[2]) {
    for (int i = 0; i < 2; i++)
        sides[i] = (struct mf_jobs_direct_side){
            c->login[i].admin, c->login[i].admin_password,
            c->login[i].admin_format, c->login[i].oauth};
}

bool
mf_direct_connect_password_optional(const struct mf_direct_connect *c) {
    return c->login[0].admin != NULL || c->login[0].oauth != NULL;
}

/* ------------------------------------------------------------------ */
/* Folder rules, caps, copying                                         */
/* ------------------------------------------------------------------ */

mf_err
mf_direct_rules_read(const struct mf_config *conf, bool placement,
                     struct mf_folder_rules *rules, struct mf_error *err) {
    const char *root = mf_config_get(conf, "target-root", NULL);
    const char *sep = mf_config_get(conf, "separator-replacement", NULL);
    mf_err rc;

    if ((rc = mf_folder_rules_add_list(rules,
                                       mf_config_get(conf, "include", NULL),
                                       mf_folder_rules_parse_include, err)) ||
        (rc = mf_folder_rules_add_list(rules,
                                       mf_config_get(conf, "exclude", NULL),
                                       mf_folder_rules_parse_exclude, err)) ||
        (rc = mf_folder_rules_add_list(rules,
                                       mf_config_get(conf, "rename", NULL),
                                       mf_folder_rules_parse_rename, err)))
        return rc;
    if (placement &&
        ((rc = mf_folder_rules_add_list(rules,
                                        mf_config_get(conf, "preset", NULL),
                                        mf_folder_rules_parse_preset, err)) ||
         (root && (rc = mf_folder_rules_parse_target_root(rules, root, err)))))
        return rc;
    return sep ? mf_folder_rules_parse_separator_replacement(rules, sep, err)
               : MF_E_OK;
}

/* The fleet caps of both sides and the lease options; *any_r says
 * whether a cap was given. */
static mf_err
caps_read(const struct mf_config *conf, struct mf_migrate_caps *caps,
          bool *any_r, struct mf_error *err) {
    struct mf_batch_caps src, dst;
    uint64_t ttl;
    mf_err rc;

    if (!mf_batchdef_caps_read(conf, "", &src, err) ||
        !mf_batchdef_caps_read(conf, "target-", &dst, err))
        return err->code ? err->code : MF_E_USAGE;
    if ((rc = mf_config_get_u64(conf, "lease-ttl", 30, 1, 3600, MF_UNIT_SECONDS,
                                &ttl, err)))
        return rc;
    *any_r = mf_jobs_migrate_caps(&src, &dst, caps);
    caps->egress_ip = mf_config_get(conf, "egress-ip", NULL);
    caps->ttl_ms = (long)ttl * 1000;
    return MF_E_OK;
}

/* How messages are copied: size cap, attempts, fingerprints, throttle,
 * repair, Gmail labels, flag conflicts, the date window, deletes. */
static mf_err
copy_read(const struct mf_config *conf, struct mf_migrate_options *o,
          struct mf_error *err) {
    const char *conflict = mf_config_get(conf, "flag-conflict", NULL);
    uint64_t v;
    mf_err rc;

    /* max-message-size 0: the target profile's limit, else 35 MB. */
    if ((rc = mf_config_get_u64(conf, "max-message-size", 0, 0,
                                (uint64_t)1 << 40, MF_UNIT_BYTES,
                                &o->max_message_size, err)) ||
        (rc = mf_config_get_u64(conf, "max-attempts",
                                MF_MIGRATE_DEFAULT_ATTEMPTS, 1, 100,
                                MF_UNIT_NONE, &v, err)))
        return rc;
    o->max_attempts = (unsigned)v;
    if ((rc = mf_profile_fingerprint_parse(
             mf_config_get(conf, "fingerprint", NULL), &o->fingerprint,
             &o->fingerprint_set, err)) ||
        (rc = mf_profile_throttle_read(conf, &o->throttle, err)) ||
        (rc = mf_config_get_bool(conf, "repair", false, &o->repair, err)) ||
        (rc = mf_config_get_bool(conf, "gmail-labels-as-keywords", false,
                                 &o->gmail_labels_as_keywords, err)) ||
        (conflict &&
         (rc = mf_flag_conflict_parse(conflict, &o->flag_conflict, err))))
        return rc;
    if (!mf_batchdef_window_read(conf, &o->window, err))
        return err->code ? err->code : MF_E_USAGE;
    return mf_config_get_bool(conf, "sync-deletes", false, &o->sync_deletes,
                              err);
}

/* Caps are leases in Redis, held as this host and process. */
static mf_err
use_caps(struct mf_direct_settings *s, struct mf_error *err) {
    char host[64] = "host";

    if (!s->redis_url)
        return mf_error_set(err, MF_E_USAGE,
                            "connection and bandwidth caps live in Redis: "
                            "give --redis URL");
    gethostname(host, sizeof(host) - 1);
    snprintf(s->holder, sizeof(s->holder), "%s/%ld", host, (long)getpid());
    s->caps.redis_url = s->redis_url;
    s->caps.holder = s->holder;
    s->opts.caps = &s->caps;
    return MF_E_OK;
}

mf_err
mf_direct_settings_read(const struct mf_config *conf,
                        struct mf_direct_settings *s, struct mf_error *err) {
    bool any_cap = false;
    mf_err rc;

    memset(s, 0, sizeof(*s));
    s->rules = mf_folder_rules_new();
    if ((rc = mf_direct_connect_read(conf, true, s->rules, &s->c, err)) ||
        (rc = mf_direct_rules_read(conf, true, s->rules, err)) ||
        (rc = caps_read(conf, &s->caps, &any_cap, err)) ||
        (rc = copy_read(conf, &s->opts, err)))
        return rc;
    s->opts.source_profile = s->c.profile[0];
    s->opts.target_profile = s->c.profile[1];
    s->opts.source = &s->c.server[0];
    s->opts.target = &s->c.server[1];
    s->opts.rules = s->rules;
    s->opts.batch = mf_config_get(conf, "batch", NULL);
    if (!s->opts.batch)
        s->opts.batch = "default";
    s->redis_url = mf_config_get(conf, "redis", NULL);
    /* A profile's own caps (leases.c fills them in) need no flag, nor a
     * throttling provider's lowered limit (mf_profile_takes_leases()). */
    if (s->redis_url &&
        mf_profile_takes_leases(s->c.profile[0], s->c.profile[1]))
        any_cap = true;
    return any_cap ? use_caps(s, err) : MF_E_OK;
}

void
mf_direct_settings_free(struct mf_direct_settings *s) {
    mf_direct_connect_clear(&s->c);
    mf_folder_rules_free(&s->rules);
}

void
mf_direct_settings_logins(void *ud, const struct mf_csv_mailbox *row,
                          struct mf_migrate_login *src,
                          struct mf_migrate_login *dst, char *owned[4]) {
    const struct mf_direct_settings *s = ud;
    struct mf_jobs_direct_side sides[2];
    struct mf_jobs_direct_mailbox mb;

    mf_direct_connect_sides(&s->c, sides);
    mf_jobs_direct_mailbox_csv(row, &mb);
    mf_jobs_direct_logins(sides, &mb, src, dst, owned);
}
