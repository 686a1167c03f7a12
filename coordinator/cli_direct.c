/*
 * The CSV loader and option reader of the commands that connect
 * themselves (cli_direct.h): `migrate --direct` and `verify`.
 */
#include "cli_direct.h"

#include "mailferry/batchdef.h"
#include "mailferry/csv.h"
#include "mailferry/oauth.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Mailboxes from the CSV                                              */
/* ------------------------------------------------------------------ */

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct cli_csv *l = ud;

    l->issues++;
    mf_csv_issue_print(stderr, l->path, is);
}

int
cli_csv_load(struct cli *cli, const char *command, const char *path,
             bool password_optional, struct cli_csv *l) {
    struct mf_csv_options copt = {0};
    struct mf_csv_stats cstats;
    struct mf_error err = {0};
    mf_err rc;

    memset(l, 0, sizeof(*l));
    if (mf_config_get_bool(cli->config, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, &err)) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_USAGE;
    }
    copt.password_optional = password_optional;
    l->path = path;
    rc = mf_csv_load(path, &copt, on_issue, l, &l->rows, &l->n, &cstats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_ERROR;
    }
    if (rc != MF_E_OK) {
        fprintf(stderr,
                "mailferry %s: %s has %llu errors; nothing done "
                "(see `mailferry csv validate`)\n",
                command, path, (unsigned long long)l->issues);
        return MF_EXIT_FAIL;
    }
    return -1;
}

void
cli_csv_free(struct cli_csv *l) {
    mf_csv_mailboxes_free(&l->rows, l->n);
    memset(l, 0, sizeof(*l));
}

/* ------------------------------------------------------------------ */
/* Migration options                                                   */
/* ------------------------------------------------------------------ */

mf_err
cli_rules_add_list(struct mf_folder_rules *rules, const char *list,
                   mf_err (*parse)(struct mf_folder_rules *, const char *,
                                   struct mf_error *),
                   struct mf_error *err) {
    size_t n;
    char **v = mf_strv_split(list, &n);
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n && rc == MF_E_OK; i++)
        rc = parse(rules, v[i], err);
    mf_strv_free(v, n);
    return rc;
}

/* The fleet caps (the flags of a batch, mf_batchdef_caps_read()) and
 * the lease options; *any_r says whether a cap was given. */
static bool
read_caps(struct cli *cli, struct mf_migrate_caps *caps, bool *any_r,
          struct mf_error *err) {
    struct mf_batch_caps src, dst;
    uint64_t ttl;

    if (!mf_batchdef_caps_read(cli->config, "", &src, err) ||
        !mf_batchdef_caps_read(cli->config, "target-", &dst, err) ||
        mf_config_get_u64(cli->config, "lease-ttl", 30, 1, 3600,
                          MF_UNIT_SECONDS, &ttl, err))
        return false;
    *any_r = mf_jobs_migrate_caps(&src, &dst, caps);
    caps->egress_ip = mf_config_get(cli->config, "egress-ip", NULL);
    caps->ttl_ms = (long)ttl * 1000;
    return true;
}

/* Profiles, both servers, admins and OAuth2. */
static bool
read_logins(struct cli *cli, struct cli_direct *d, struct mf_error *err) {
    return mf_batchdef_profiles_read(cli->config, &d->opts.source_profile,
                                     &d->opts.target_profile, err) &&
           !mf_profile_folder_rules(
               d->opts.source_profile,
               mf_config_get(cli->config, "gmail-archive-folder", NULL),
               d->rules, err) &&
           cli_server_read(cli, "source", true, &d->src, NULL, err) &&
           cli_server_read(cli, "target", true, &d->dst, NULL, err) &&
           cli_admin_read(cli, "", &d->src_admin, err) &&
           cli_admin_read(cli, "target-", &d->dst_admin, err) &&
           cli_oauth_read(cli, "source", &d->src_oauth, err) &&
           cli_oauth_read(cli, "target", &d->dst_oauth, err);
}

/* --include, --exclude, --rename, --preset, --target-root and
 * --separator-replacement into d->rules. */
static bool
read_rules(struct cli *cli, struct cli_direct *d, struct mf_error *err) {
    const char *root = mf_config_get(cli->config, "target-root", NULL);
    const char *sep = mf_config_get(cli->config, "separator-replacement", NULL);

    return !cli_rules_add_list(d->rules,
                               mf_config_get(cli->config, "include", NULL),
                               mf_folder_rules_parse_include, err) &&
           !cli_rules_add_list(d->rules,
                               mf_config_get(cli->config, "exclude", NULL),
                               mf_folder_rules_parse_exclude, err) &&
           !cli_rules_add_list(d->rules,
                               mf_config_get(cli->config, "rename", NULL),
                               mf_folder_rules_parse_rename, err) &&
           !cli_rules_add_list(d->rules,
                               mf_config_get(cli->config, "preset", NULL),
                               mf_folder_rules_parse_preset, err) &&
           !(root && mf_folder_rules_parse_target_root(d->rules, root, err)) &&
           !(sep &&
             mf_folder_rules_parse_separator_replacement(d->rules, sep, err));
}

/* How messages are copied: size cap, attempts, fingerprints, throttle,
 * repair, Gmail labels, flag conflicts, the date window, deletes. */
static bool
read_copy(struct cli *cli, struct cli_direct *d, struct mf_error *err) {
    const char *conflict = mf_config_get(cli->config, "flag-conflict", NULL);
    uint64_t v;

    /* max-message-size 0: the target profile's limit, else 35 MB. */
    if (mf_config_get_u64(cli->config, "max-message-size", 0, 0,
                          (uint64_t)1 << 40, MF_UNIT_BYTES,
                          &d->opts.max_message_size, err) ||
        mf_config_get_u64(cli->config, "max-attempts",
                          MF_MIGRATE_DEFAULT_ATTEMPTS, 1, 100, MF_UNIT_NONE, &v,
                          err))
        return false;
    d->opts.max_attempts = (unsigned)v;
    return !mf_profile_fingerprint_parse(
               mf_config_get(cli->config, "fingerprint", NULL),
               &d->opts.fingerprint, &d->opts.fingerprint_set, err) &&
           !mf_profile_throttle_read(cli->config, &d->opts.throttle, err) &&
           !mf_config_get_bool(cli->config, "repair", false, &d->opts.repair,
                               err) &&
           !mf_config_get_bool(cli->config, "gmail-labels-as-keywords", false,
                               &d->opts.gmail_labels_as_keywords, err) &&
           !(conflict &&
             mf_flag_conflict_parse(conflict, &d->opts.flag_conflict, err)) &&
           mf_batchdef_window_read(cli->config, &d->opts.window, err) &&
           !mf_config_get_bool(cli->config, "sync-deletes", false,
                               &d->opts.sync_deletes, err);
}

/* Caps are leases in Redis, held as this host and process. */
static int
use_caps(const char *command, struct cli_direct *d) {
    char host[64] = "host";

    if (!d->redis_url) {
        fprintf(stderr,
                "mailferry %s: connection and bandwidth caps live in "
                "Redis: give --redis URL\n",
                command);
        return MF_EXIT_USAGE;
    }
    gethostname(host, sizeof(host) - 1);
    snprintf(d->holder, sizeof(d->holder), "%s/%ld", host, (long)getpid());
    d->caps.redis_url = d->redis_url;
    d->caps.holder = d->holder;
    d->opts.caps = &d->caps;
    return -1;
}

int
cli_direct_read(struct cli *cli, const char *command, struct cli_direct *d) {
    struct mf_error err = {0};
    bool any_cap = false;

    memset(d, 0, sizeof(*d));
    d->rules = mf_folder_rules_new();
    if (!read_logins(cli, d, &err) || !read_rules(cli, d, &err) ||
        !read_caps(cli, &d->caps, &any_cap, &err) || !read_copy(cli, d, &err)) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_USAGE;
    }
    d->src_admin.format =
        mf_profile_login_format(d->opts.source_profile, d->src_admin.format);
    d->opts.source = &d->src;
    d->opts.target = &d->dst;
    d->opts.rules = d->rules;
    d->opts.batch = mf_config_get(cli->config, "batch", NULL);
    if (!d->opts.batch)
        d->opts.batch = "default";
    d->redis_url = mf_config_get(cli->config, "redis", NULL);
    /* A profile's own caps (leases.c fills them in) need no flag, nor a
     * throttling provider's lowered limit (mf_profile_takes_leases()). */
    if (d->redis_url &&
        mf_profile_takes_leases(d->opts.source_profile, d->opts.target_profile))
        any_cap = true;
    return any_cap ? use_caps(command, d) : -1;
}

void
cli_direct_free(struct cli_direct *d) {
    cli_admin_clear(&d->src_admin);
    cli_admin_clear(&d->dst_admin);
    mf_oauth_free(&d->src_oauth);
    mf_oauth_free(&d->dst_oauth);
    mf_folder_rules_free(&d->rules);
}

void
cli_direct_logins(const struct cli_direct *d, const struct mf_csv_mailbox *row,
                  struct mf_migrate_login *src, struct mf_migrate_login *dst,
                  char *owned[4]) {
    const struct mf_jobs_direct_side sides[2] = {
        cli_admin_side(&d->src_admin, d->src_oauth),
        cli_admin_side(&d->dst_admin, d->dst_oauth)};
    struct mf_jobs_direct_mailbox mb;

    mf_jobs_direct_mailbox_csv(row, &mb);
    mf_jobs_direct_logins(sides, &mb, src, dst, owned);
}
