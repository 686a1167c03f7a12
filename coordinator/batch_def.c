/* A batch's definition from the command line and the CSV (batch_def.h). */
#include "batch_def.h"

#include "mailferry/profile.h"
#include "mailferry/csv.h"
#include "mailferry/endpoint.h"
#include "mailferry/folderplan.h"
#include "mailferry/jobs.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <openssl/crypto.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits a comma list into a new array of new strings. */
static char **
split(const char *list, size_t *n_r) {
    char **v = NULL;
    size_t n = 0;
    const char *p = list;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len) {
            v = mf_xreallocarray(v, n + 1, sizeof(*v));
            v[n++] = mf_xstrndup(p, len);
        }
        p = comma ? comma + 1 : NULL;
    }
    *n_r = n;
    return v;
}

static void
strv_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

struct cap_flag {
    const char *key;
    size_t offset; /* in struct mf_batch_caps */
    bool u64;
};

#define CAPF(k, f)                                                             \
    { k, offsetof(struct mf_batch_caps, f), false }
#define CAPF64(k, f)                                                           \
    { k, offsetof(struct mf_batch_caps, f), true }
static const struct cap_flag cap_flags[] = {
    CAPF("max-connections", max_connections),
    CAPF("max-connections-per-user", max_connections_per_user),
    CAPF("max-connections-per-ip", max_connections_per_ip),
    CAPF("max-concurrent-mailboxes", max_concurrent_mailboxes),
    CAPF64("max-bytes-per-second", max_bytes_per_second),
};

static bool
read_caps(struct cli *cli, const char *prefix, struct mf_batch_caps *caps,
          struct mf_error *err) {
    memset(caps, 0, sizeof(*caps));
    for (size_t i = 0; i < MF_ARRAY_LEN(cap_flags); i++) {
        char key[64];
        uint64_t v;
        char *field = (char *)caps + cap_flags[i].offset;

        snprintf(key, sizeof(key), "%s%s", prefix, cap_flags[i].key);
        if (mf_config_get_u64(cli->config, key, 0, 0,
                              cap_flags[i].u64 ? UINT64_MAX / 2 : 1000000,
                              cap_flags[i].u64 ? MF_UNIT_BYTES : MF_UNIT_NONE,
                              &v, err))
            return false;
        if (cap_flags[i].u64) {
            memcpy(field, &v, sizeof(v));
        } else {
            uint32_t u = (uint32_t)v;
            memcpy(field, &u, sizeof(u));
        }
    }
    return true;
}

struct create {
    const char *batch;
    const char *path;
    const struct mf_crypto_keyring *kr; /* NULL in a dry run */
    bool source_admin, target_admin;
    bool source_oauth, target_oauth; /* no password needed on that side */
    struct batch_def *d;
    struct mf_error seal_err; /* the first sealing failure */
    struct mf_json *j;        /* JSON issues, or NULL */
};

static void
on_csv_issue(void *ud, const struct mf_csv_issue *is) {
    struct create *c = ud;

    c->d->issues++;
    if (c->j)
        mf_csv_issue_json(c->j, is);
    else
        mf_csv_issue_print(stderr, c->path, is);
}

/* A problem of a row the parser accepted (a missing target password). */
static void
create_issue(struct create *c, uint64_t line, mf_err code, const char *detail) {
    struct mf_csv_issue is = {.line = line, .code = code};

    snprintf(is.detail, sizeof(is.detail), "%s", detail);
    on_csv_issue(c, &is);
}

static char *
dup_or_null(const char *s) {
    return s && *s ? mf_xstrdup(s) : NULL;
}

/* A dry run has no key: it keeps the clear text (NUL-terminated) so
 * that it can log in; batch_def_free() wipes it. */
static void
keep_clear(const char *secret, struct mf_batch_blob *b) {
    b->len = strlen(secret);
    b->data = mf_xmemdup(secret, b->len + 1);
}

static void
blob_wipe_free(struct mf_batch_blob *b) {
    if (b->data)
        OPENSSL_cleanse(b->data, b->len);
    mf_jobs_blob_free(b);
}

static void
seal(struct create *c, const char *email, const char *purpose,
     const char *secret, struct mf_batch_blob *b) {
    struct mf_error err = {0};

    if (!c->kr) {
        keep_clear(secret, b);
        return;
    }
    if (c->seal_err.code)
        return;
    if (mf_jobs_seal_blob(c->kr, c->batch, email, purpose, secret,
                          strlen(secret), b, &err) != MF_E_OK)
        c->seal_err = err;
}

static void
on_csv_row(void *ud, const struct mf_csv_row *r) {
    struct create *c = ud;
    struct mf_batch_mailbox_cfg *m;
    const char *tpass;

    /* The target needs a password unless an admin logs in for the user:
     * TargetPassword, else the row's Password. */
    tpass = mf_jobs_target_password(r->target_password, r->password);
    if (!c->target_admin && !c->target_oauth && !tpass) {
        create_issue(c, r->line, MF_E_CSV_EMPTY_FIELD,
                     "no password for the target: fill Password or "
                     "TargetPassword, or give --target-admin");
        return;
    }
    c->d->mbs = mf_xreallocarray(c->d->mbs, c->d->n + 1, sizeof(*c->d->mbs));
    c->d->lines =
        mf_xreallocarray(c->d->lines, c->d->n + 1, sizeof(*c->d->lines));
    c->d->lines[c->d->n] = r->line;
    m = &c->d->mbs[c->d->n++];
    memset(m, 0, sizeof(*m));
    m->email = mf_xstrdup(r->email);
    m->user = mf_xstrdup(r->username);
    m->user_root = dup_or_null(r->user_root);
    m->target_user = dup_or_null(r->target_username);
    /* Sealed at once: the clear text is the parser's and lives only
     * during this call. With a source admin the row's own password is
     * not needed, so it is not kept at all. */
    if (!c->source_admin && !c->source_oauth && r->password && *r->password)
        seal(c, r->email, MF_JOBS_PURPOSE_SOURCE, r->password, &m->password);
    if (!c->target_admin && !c->target_oauth)
        seal(c, r->email, MF_JOBS_PURPOSE_TARGET, tpass, &m->target_password);
}

static void
mbs_free(struct mf_batch_mailbox_cfg *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].email);
        free(v[i].user);
        free(v[i].user_root);
        free(v[i].target_user);
        blob_wipe_free(&v[i].password);
        blob_wipe_free(&v[i].target_password);
    }
    free(v);
}

/* Checks the folder rules the way the workers will parse them. */
static bool
check_rules(const struct mf_batch_config *cfg, struct mf_error *err) {
    struct mf_folder_rules *rules = NULL;

    if (mf_batch_config_rules(cfg, &rules, err) != MF_E_OK)
        return false;
    mf_folder_rules_free(&rules);
    return true;
}

/* Reads an admin's password file, seals it for (batch, "", purpose). */
static bool
admin_secret(struct cli *cli, const char *prefix, const char *batch,
             const struct mf_crypto_keyring *kr, const char *purpose,
             struct mf_batch_blob *b, struct mf_error *err) {
    char key[64];
    char *pw = NULL;
    bool ok;

    snprintf(key, sizeof(key), "%sadmin-password", prefix);
    if (mf_config_get_secret(cli->config, key, &pw, err))
        return false;
    if (!pw) {
        mf_error_set(err, MF_E_USAGE, "--%sadmin needs --%s-file", prefix, key);
        return false;
    }
    if (!kr)
        keep_clear(pw, b), ok = true;
    else
        ok = !mf_jobs_seal_blob(kr, batch, "", purpose, pw, strlen(pw), b, err);
    mf_secret_free(&pw);
    return ok;
}

/* Each side's OAuth2 options: its token source checked (key files read)
 * and its settings and sealed key put into the batch configuration. */
static bool
oauth_read(struct cli *cli, const char *name,
           const struct mf_crypto_keyring *kr, struct batch_def *d,
           struct mf_error *err) {
    static const char *const sides[2] = {MF_JOBS_PURPOSE_SOURCE,
                                         MF_JOBS_PURPOSE_TARGET};
    struct mf_batch_oauth *bo[2] = {&d->cfg.source_oauth, &d->cfg.target_oauth};
    const char *admin[2] = {d->cfg.admin_user, d->cfg.target_admin_user};

    for (int i = 0; i < 2; i++) {
        struct mf_oauth_config oc;
        bool given;
        if (mf_oauth_config_read(cli->config, sides[i], &oc, &given, err))
            return false;
        if (!given)
            continue;
        if (admin[i]) {
            mf_error_set(err, MF_E_USAGE,
                         "the %s logs in with OAuth2 or through an admin, "
                         "not both",
                         sides[i]);
            return false;
        }
        if (mf_oauth_new(&oc, &d->oauth[i], err) ||
            mf_jobs_oauth_define(kr, name, sides[i], &oc, bo[i], err))
            return false;
    }
    return true;
}

int
batch_def_read(struct cli *cli, const char *command, const char *name,
               const char *csv_path, const struct mf_crypto_keyring *kr,
               struct mf_json *issues_json, struct batch_def *d) {
    struct mf_batch_config *cfg = &d->cfg;
    struct mf_csv_options copt = {0};
    struct mf_endpoint ep;
    struct mf_error err = {0};
    const struct mf_profile *src_profile, *dst_profile;
    bool insecure = false;
    uint64_t v;

    memset(d, 0, sizeof(*d));
    cfg->name = (char *)name;
    cfg->source = (char *)mf_config_get(cli->config, "source", NULL);
    cfg->target = (char *)mf_config_get(cli->config, "target", NULL);
    if (!csv_path || !cfg->source || !cfg->target) {
        mf_error_set(&err, MF_E_USAGE,
                     "a CSV, --source and --target are "
                     "required");
        goto usage_err;
    }
    if (mf_endpoint_parse(cfg->source, &ep, &err) ||
        mf_endpoint_parse(cfg->target, &ep, &err) ||
        mf_config_get_bool(cli->config, "insecure", false, &insecure, &err))
        goto usage_err;
    cfg->insecure = insecure;
    if (mf_config_get_bool(cli->config, "repair", false, &cfg->repair, &err))
        goto usage_err;
    cfg->ca_file = (char *)mf_config_get(cli->config, "ca-file", NULL);
    cfg->admin_user = (char *)mf_config_get(cli->config, "admin", NULL);
    if (!cli_profiles_read(cli, &src_profile, &dst_profile, &err))
        goto usage_err;
    /* Stored by name only when not generic: a batch without profiles
     * reads as it did before they existed. */
    if (src_profile->id != MF_PROFILE_GENERIC)
        cfg->source_profile = (char *)src_profile->name;
    if (dst_profile->id != MF_PROFILE_GENERIC)
        cfg->target_profile = (char *)dst_profile->name;
    cfg->admin_login_format = (char *)mf_profile_login_format(
        src_profile, mf_config_get(cli->config, "admin-login-format", NULL));
    cfg->target_admin_user =
        (char *)mf_config_get(cli->config, "target-admin", NULL);
    cfg->target_admin_login_format =
        (char *)mf_config_get(cli->config, "target-admin-login-format", NULL);
    if (!mf_jobs_login_format_valid(cfg->admin_login_format, &err) ||
        !mf_jobs_login_format_valid(cfg->target_admin_login_format, &err))
        goto usage_err;
    cfg->include =
        split(mf_config_get(cli->config, "include", NULL), &cfg->n_include);
    cfg->exclude =
        split(mf_config_get(cli->config, "exclude", NULL), &cfg->n_exclude);
    cfg->rename =
        split(mf_config_get(cli->config, "rename", NULL), &cfg->n_rename);
    cfg->presets =
        split(mf_config_get(cli->config, "preset", NULL), &cfg->n_presets);
    cfg->separator_replacement =
        (char *)mf_config_get(cli->config, "separator-replacement", NULL);
    cfg->target_root = (char *)mf_config_get(cli->config, "target-root", NULL);
    if (!check_rules(cfg, &err))
        goto usage_err;
    if (mf_config_get_u64(cli->config, "max-message-size", 0, 0,
                          (uint64_t)1 << 40, MF_UNIT_BYTES,
                          &cfg->max_message_size, &err) ||
        !read_caps(cli, "", &cfg->source_caps, &err) ||
        !read_caps(cli, "target-", &cfg->target_caps, &err) ||
        mf_config_get_u64(cli->config, "max-attempts",
                          MF_BATCH_DEFAULT_ATTEMPTS, 1, 100, MF_UNIT_NONE, &v,
                          &err) ||
        mf_config_get_u64(cli->config, "incremental-every", 0, 0,
                          (uint64_t)366 * 86400, MF_UNIT_SECONDS,
                          &cfg->incremental_every, &err) ||
        mf_config_get_bool(cli->config, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, &err))
        goto usage_err;
    cfg->max_attempts = (uint32_t)v;
    if (mf_config_get(cli->config, "flag-conflict", NULL) &&
        mf_flag_conflict_parse(
            mf_config_get(cli->config, "flag-conflict", NULL),
            &cfg->flag_conflict, &err))
        goto usage_err;
    if (!cli_window_read(cli, &cfg->window, &err))
        goto usage_err;
    if (cfg->incremental_every && cfg->incremental_every < 60)
        fprintf(stderr,
                "mailferry %s: warning: --incremental-every "
                "below a minute begins a pass as soon as the last "
                "one ends\n",
                command);

    if (!oauth_read(cli, name, kr, d, &err)) {
        fprintf(stderr, "mailferry %s: %s [%s]\n", command, err.detail,
                mf_err_name(err.code));
        return err.code == MF_E_USAGE ? MF_EXIT_USAGE : MF_EXIT_ERROR;
    }
    if ((cfg->admin_user &&
         !admin_secret(cli, "", name, kr, MF_JOBS_PURPOSE_SOURCE_ADMIN,
                       &cfg->admin_password, &err)) ||
        (cfg->target_admin_user &&
         !admin_secret(cli, "target-", name, kr, MF_JOBS_PURPOSE_TARGET_ADMIN,
                       &cfg->target_admin_password, &err))) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return err.code == MF_E_USAGE ? MF_EXIT_USAGE : MF_EXIT_ERROR;
    }
    return batch_def_read_rows(command, name, csv_path, cfg,
                               copt.allow_unknown_columns, kr, issues_json, d);

usage_err:
    fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
    return MF_EXIT_USAGE;
}

int
batch_def_read_rows(const char *command, const char *name, const char *csv_path,
                    const struct mf_batch_config *cfg,
                    bool allow_unknown_columns,
                    const struct mf_crypto_keyring *kr,
                    struct mf_json *issues_json, struct batch_def *d) {
    struct mf_csv_options copt = {0};
    struct mf_csv_callbacks ccb = {.on_row = on_csv_row,
                                   .on_issue = on_csv_issue};
    struct mf_csv_stats cstats;
    struct create c;
    struct mf_error err = {0};
    mf_err rc;

    memset(&c, 0, sizeof(c));
    c.batch = name;
    c.path = csv_path;
    c.kr = kr;
    c.d = d;
    c.j = issues_json;
    /* A side with an admin or with OAuth2 settings needs no password
     * from the rows; the stored batch says so for `batch add` and `batch
     * update` as the command line does for `batch create`. */
    c.source_admin = cfg->admin_user != NULL;
    c.target_admin = cfg->target_admin_user != NULL;
    c.source_oauth = mf_jobs_oauth_side(cfg, MF_JOBS_PURPOSE_SOURCE) != NULL;
    c.target_oauth = mf_jobs_oauth_side(cfg, MF_JOBS_PURPOSE_TARGET) != NULL;
    /* The CSV: every problem listed, nothing stored if there is one. */
    copt.allow_unknown_columns = allow_unknown_columns;
    copt.password_optional = c.source_admin || c.source_oauth;
    rc = mf_csv_parse_file(csv_path, &copt, &ccb, &c, &cstats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_ERROR;
    }
    if (d->issues) {
        fprintf(stderr,
                "mailferry %s: %s has %llu error%s; nothing "
                "stored\n",
                command, csv_path, (unsigned long long)d->issues,
                d->issues == 1 ? "" : "s");
        return MF_EXIT_FAIL;
    }
    if (c.seal_err.code) {
        fprintf(stderr, "mailferry %s: sealing passwords: %s\n", command,
                c.seal_err.detail);
        return MF_EXIT_ERROR;
    }
    return -1;
}

void
batch_def_free(struct batch_def *d) {
    strv_free(d->cfg.include, d->cfg.n_include);
    strv_free(d->cfg.exclude, d->cfg.n_exclude);
    strv_free(d->cfg.rename, d->cfg.n_rename);
    strv_free(d->cfg.presets, d->cfg.n_presets);
    blob_wipe_free(&d->cfg.admin_password);
    blob_wipe_free(&d->cfg.target_admin_password);
    mbs_free(d->mbs, d->n);
    free(d->lines);
    mf_jobs_oauth_clear(&d->cfg.source_oauth);
    mf_jobs_oauth_clear(&d->cfg.target_oauth);
    mf_oauth_free(&d->oauth[0]);
    mf_oauth_free(&d->oauth[1]);
    memset(d, 0, sizeof(*d));
}
