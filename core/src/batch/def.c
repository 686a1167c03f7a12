/*
 * A batch's definition (mailferry/batchdef.h): the configuration from
 * the options and the mailboxes from the CSV, the one mailbox
 * configuration that `batch create` stores, `batch add`/`update` change
 * and the embedded `migrate` creates before it runs the batch itself.
 *
 * Passwords are sealed as each CSV row is read (jobs.h says for which
 * purpose), so the clear text of a row lives only inside the parser's
 * callback; the admin passwords are read from files, sealed and wiped.
 * OAuth2 options (source-oauth-..., target-oauth-...) give a side that
 * logs in with tokens instead: its key file is read, checked and sealed
 * (mf_jobs_oauth_define()), and the CSV needs no password for it.
 */
#include "mailferry/batchdef.h"

#include "batch/batch_int.h"
#include "mailferry/config.h"
#include "mailferry/csv.h"
#include "mailferry/profile.h"
#include "mailferry/endpoint.h"
#include "mailferry/folderplan.h"
#include "mailferry/jobs.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"
#include "mailferry/window.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cap_flag {
    const char *key;
    size_t offset; /* in struct mf_batch_caps */
    bool u64;
    uint64_t max;
};

#define CAPF(option, field, greatest)                                          \
    {option, offsetof(struct mf_batch_caps, field),                            \
     sizeof(((struct mf_batch_caps *)0)->field) == sizeof(uint64_t),           \
     greatest},
static const struct cap_flag cap_flags[] = {MF_BATCH_CAPS(CAPF)};
#undef CAPF

/* A rate is bytes (k/M/G), a count a plain number. */
static enum mf_config_unit
cap_unit(const struct cap_flag *f) {
    return f->u64 ? MF_UNIT_BYTES : MF_UNIT_NONE;
}

bool
mf__batch_cap_unit(const char *option, enum mf_config_unit *unit_r) {
    if (strncmp(option, "target-", 7) == 0)
        option += 7;
    for (size_t i = 0; i < MF_ARRAY_LEN(cap_flags); i++)
        if (strcmp(cap_flags[i].key, option) == 0) {
            *unit_r = cap_unit(&cap_flags[i]);
            return true;
        }
    return false;
}

bool
mf_batchdef_caps_read(const struct mf_config *conf, const char *prefix,
                      struct mf_batch_caps *caps, struct mf_error *err) {
    memset(caps, 0, sizeof(*caps));
    for (size_t i = 0; i < MF_ARRAY_LEN(cap_flags); i++) {
        char key[64];
        uint64_t v;
        char *field = (char *)caps + cap_flags[i].offset;

        snprintf(key, sizeof(key), "%s%s", prefix, cap_flags[i].key);
        if (mf_config_get_u64(conf, key, 0, 0, cap_flags[i].max,
                              cap_unit(&cap_flags[i]), &v, err))
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
    struct mf_batchdef *d;
    struct mf_error seal_err; /* the first sealing failure */
    mf_batchdef_issue_cb on_issue;
    void *ud;
    mf_err first_issue; /* the code of the first CSV problem */
    /* Checking only: rows are counted in d->n, nothing kept or sealed. */
    bool check_only;
    /* Streaming: every MF_BATCHDEF_ROWS_AT_ONCE rows kept go to rows_cb,
     * then are freed; d->n counts them all. */
    mf_batchdef_rows_cb rows_cb;
    void *rows_ud;
    size_t held;    /* rows in d->mbs not passed on yet */
    mf_err rows_rc; /* the first refusal of rows_cb (then nothing more) */
    struct mf_error rows_err;
};

static void
on_csv_issue(void *ud, const struct mf_csv_issue *is) {
    struct create *c = ud;

    if (!c->d->issues++)
        c->first_issue = is->code;
    if (c->on_issue)
        c->on_issue(c->ud, is);
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
 * that it can log in; mf_batchdef_free() wipes it. */
static void
keep_clear(const char *secret, struct mf_batch_blob *b) {
    b->len = strlen(secret);
    b->data = mf_xmemdup(secret, b->len + 1);
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
mbs_free(struct mf_batch_mailbox_cfg *v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].email);
        free(v[i].user);
        free(v[i].user_root);
        free(v[i].target_user);
        mf_batch_blob_free(&v[i].password);
        mf_batch_blob_free(&v[i].target_password);
    }
    free(v);
}

/* A new row in d->mbs (held with the ones not passed on yet). */
static struct mf_batch_mailbox_cfg *
keep_row(struct create *c, uint64_t line) {
    struct mf_batchdef *d = c->d;
    size_t i = c->rows_cb ? c->held : d->n;

    d->mbs = mf_xreallocarray(d->mbs, i + 1, sizeof(*d->mbs));
    d->lines = mf_xreallocarray(d->lines, i + 1, sizeof(*d->lines));
    d->lines[i] = line;
    d->n++;
    c->held = i + 1;
    memset(&d->mbs[i], 0, sizeof(d->mbs[i]));
    return &d->mbs[i];
}

/* Streaming: hands the held rows to rows_cb and frees them. A sealing
 * failure stops the stream as a refusal would. */
static void
pass_rows(struct create *c) {
    struct mf_batchdef *d = c->d;

    if (c->held && !c->rows_rc && c->seal_err.code)
        c->rows_rc = mf_error_set(&c->rows_err, c->seal_err.code,
                                  "sealing passwords: %s", c->seal_err.detail);
    /* After a problem nothing more is stored: the read fails with it. */
    if (c->held && !c->rows_rc && !d->issues)
        c->rows_rc = c->rows_cb(c->rows_ud, d->mbs, c->held, &c->rows_err);
    mbs_free(d->mbs, c->held);
    free(d->lines);
    d->mbs = NULL;
    d->lines = NULL;
    c->held = 0;
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
    if (c->check_only || c->rows_rc || (c->rows_cb && c->d->issues)) {
        c->d->n++;
        return;
    }
    m = keep_row(c, r->line);
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
    if (c->rows_cb && c->held == MF_BATCHDEF_ROWS_AT_ONCE)
        pass_rows(c);
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
admin_secret(const struct mf_config *conf, const char *prefix,
             const char *batch, const struct mf_crypto_keyring *kr,
             const char *purpose, struct mf_batch_blob *b,
             struct mf_error *err) {
    char key[64];
    char *pw = NULL;
    bool ok;

    snprintf(key, sizeof(key), "%sadmin-password", prefix);
    if (mf_config_get_secret(conf, key, &pw, err))
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
oauth_read(const struct mf_config *conf, const char *name,
           const struct mf_crypto_keyring *kr, struct mf_batchdef *d,
           struct mf_error *err) {
    static const char *const sides[2] = {MF_JOBS_PURPOSE_SOURCE,
                                         MF_JOBS_PURPOSE_TARGET};
    struct mf_batch_oauth *bo[2] = {&d->cfg.source_oauth, &d->cfg.target_oauth};
    const char *admin[2] = {d->cfg.admin_user, d->cfg.target_admin_user};

    for (int i = 0; i < 2; i++) {
        struct mf_oauth_config oc;
        bool given;
        if (mf_oauth_config_read(conf, sides[i], &oc, &given, err))
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

bool
mf_batchdef_profiles_read(const struct mf_config *conf,
                          const struct mf_profile **src_r,
                          const struct mf_profile **dst_r,
                          struct mf_error *err) {
    return mf_profile_find(mf_config_get(conf, "source-profile", NULL), src_r,
                           err) == MF_E_OK &&
           mf_profile_find(mf_config_get(conf, "target-profile", NULL), dst_r,
                           err) == MF_E_OK;
}

bool
mf_batchdef_window_read(const struct mf_config *conf, struct mf_window *w,
                        struct mf_error *err) {
    const char *since = mf_config_get(conf, "since", NULL);
    const char *before = mf_config_get(conf, "before", NULL);

    memset(w, 0, sizeof(*w));
    return (!since || !mf_window_date_parse(since, &w->since, err)) &&
           (!before || !mf_window_date_parse(before, &w->before, err)) &&
           mf_window_check(w, err) == MF_E_OK;
}

/* An option that does not read: the command line is wrong. */
static mf_err
usage(struct mf_error *err) {
    err->code = MF_E_USAGE;
    return MF_E_USAGE;
}

static mf_err read_rows(const char *name, const char *csv_path,
                        const struct mf_batch_config *cfg,
                        const struct mf_crypto_keyring *kr, struct create *c,
                        struct mf_batchdef *d, struct mf_error *err);

/* mf_batchdef_read(), or with check_only mf_batchdef_read_config(). */
static mf_err
read_def(const struct mf_config *conf, const char *name, const char *csv_path,
         const struct mf_crypto_keyring *kr, mf_batchdef_issue_cb on_issue,
         void *ud, bool check_only, struct mf_batchdef *d,
         struct mf_error *err) {
    struct mf_batch_config *cfg = &d->cfg;
    struct mf_csv_options copt = {0};
    struct mf_endpoint ep;
    const struct mf_profile *src_profile, *dst_profile;
    bool insecure = false;
    uint64_t v;

    memset(d, 0, sizeof(*d));
    cfg->name = (char *)name;
    cfg->source = (char *)mf_config_get(conf, "source", NULL);
    cfg->target = (char *)mf_config_get(conf, "target", NULL);
    if (!csv_path || !cfg->source || !cfg->target) {
        mf_error_set(err, MF_E_USAGE,
                     "a CSV, --source and --target are "
                     "required");
        return usage(err);
    }
    if (mf_endpoint_parse(cfg->source, &ep, err) ||
        mf_endpoint_parse(cfg->target, &ep, err) ||
        mf_config_get_bool(conf, "insecure", false, &insecure, err))
        return usage(err);
    cfg->insecure = insecure;
    if (mf_config_get_bool(conf, "repair", false, &cfg->repair, err) ||
        mf_config_get_bool(conf, "gmail-labels-as-keywords", false,
                           &cfg->gmail_labels_as_keywords, err))
        return usage(err);
    cfg->gmail_archive_folder =
        (char *)mf_config_get(conf, "gmail-archive-folder", NULL);
    cfg->ca_file = (char *)mf_config_get(conf, "ca-file", NULL);
    cfg->admin_user = (char *)mf_config_get(conf, "admin", NULL);
    if (!mf_batchdef_profiles_read(conf, &src_profile, &dst_profile, err))
        return usage(err);
    /* Stored by name only when not generic: a batch without profiles
     * reads as it did before they existed. */
    if (src_profile->id != MF_PROFILE_GENERIC)
        cfg->source_profile = (char *)src_profile->name;
    if (dst_profile->id != MF_PROFILE_GENERIC)
        cfg->target_profile = (char *)dst_profile->name;
    {
        enum mf_profile_fingerprint fp;
        bool set = false;
        if (mf_profile_fingerprint_parse(
                mf_config_get(conf, "fingerprint", NULL), &fp, &set, err))
            return usage(err);
        if (set)
            cfg->fingerprint = (char *)mf_profile_fingerprint_name(fp);
    }
    if (mf_profile_throttle_read(conf, &cfg->throttle, err) ||
        mf_profile_quota_read(conf, &cfg->quota, err))
        return usage(err);
    cfg->admin_login_format = (char *)mf_profile_login_format(
        src_profile, mf_config_get(conf, "admin-login-format", NULL));
    cfg->target_admin_user = (char *)mf_config_get(conf, "target-admin", NULL);
    cfg->target_admin_login_format =
        (char *)mf_config_get(conf, "target-admin-login-format", NULL);
    if (!mf_jobs_login_format_valid(cfg->admin_login_format, err) ||
        !mf_jobs_login_format_valid(cfg->target_admin_login_format, err))
        return usage(err);
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t *n;
        char ***items = mf__batch_rule_items(cfg, l, &n);
        *items = mf_strv_split(
            mf_config_get(conf, mf__batch_rule_lists[l].option, NULL), n);
    }
    cfg->separator_replacement =
        (char *)mf_config_get(conf, "separator-replacement", NULL);
    cfg->target_root = (char *)mf_config_get(conf, "target-root", NULL);
    if (!check_rules(cfg, err))
        return usage(err);
    if (mf_config_get_u64(conf, "max-message-size", 0, 0, (uint64_t)1 << 40,
                          MF_UNIT_BYTES, &cfg->max_message_size, err) ||
        !mf_batchdef_caps_read(conf, "", &cfg->source_caps, err) ||
        !mf_batchdef_caps_read(conf, "target-", &cfg->target_caps, err) ||
        mf_config_get_u64(conf, "max-attempts", MF_BATCH_DEFAULT_ATTEMPTS, 1,
                          100, MF_UNIT_NONE, &v, err) ||
        mf_config_get_u64(conf, "incremental-every", 0, 0,
                          (uint64_t)366 * 86400, MF_UNIT_SECONDS,
                          &cfg->incremental_every, err) ||
        mf_config_get_bool(conf, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, err))
        return usage(err);
    cfg->max_attempts = (uint32_t)v;
    if (mf_config_get(conf, "flag-conflict", NULL) &&
        mf_flag_conflict_parse(mf_config_get(conf, "flag-conflict", NULL),
                               &cfg->flag_conflict, err))
        return usage(err);
    if (!mf_batchdef_window_read(conf, &cfg->window, err) ||
        mf_config_get_bool(conf, "sync-deletes", false, &cfg->sync_deletes,
                           err))
        return usage(err);
    if (!oauth_read(conf, name, kr, d, err) ||
        (cfg->admin_user &&
         !admin_secret(conf, "", name, kr, MF_JOBS_PURPOSE_SOURCE_ADMIN,
                       &cfg->admin_password, err)) ||
        (cfg->target_admin_user &&
         !admin_secret(conf, "target-", name, kr, MF_JOBS_PURPOSE_TARGET_ADMIN,
                       &cfg->target_admin_password, err)))
        return err->code;
    d->allow_unknown_columns = copt.allow_unknown_columns;
    return read_rows(name, csv_path, cfg, kr,
                     &(struct create){.on_issue = on_issue,
                                      .ud = ud,
                                      .check_only = check_only},
                     d, err);
}

mf_err
mf_batchdef_read(const struct mf_config *conf, const char *name,
                 const char *csv_path, const struct mf_crypto_keyring *kr,
                 mf_batchdef_issue_cb on_issue, void *ud, struct mf_batchdef *d,
                 struct mf_error *err) {
    return read_def(conf, name, csv_path, kr, on_issue, ud, false, d, err);
}

mf_err
mf_batchdef_read_config(const struct mf_config *conf, const char *name,
                        const char *csv_path,
                        const struct mf_crypto_keyring *kr,
                        mf_batchdef_issue_cb on_issue, void *ud,
                        struct mf_batchdef *d, struct mf_error *err) {
    return read_def(conf, name, csv_path, kr, on_issue, ud, true, d, err);
}

/* Reads the CSV's rows into d as c's mode says (c: the caller's, with
 * its mode and issue callback set; the rest is filled here). */
static mf_err
read_rows(const char *name, const char *csv_path,
          const struct mf_batch_config *cfg, const struct mf_crypto_keyring *kr,
          struct create *c, struct mf_batchdef *d, struct mf_error *err) {
    struct mf_csv_options copt = {0};
    struct mf_csv_callbacks ccb = {.on_row = on_csv_row,
                                   .on_issue = on_csv_issue};
    struct mf_csv_stats cstats;
    mf_err rc;

    c->batch = name;
    c->path = csv_path;
    c->kr = kr;
    c->d = d;
    /* A side with an admin or with OAuth2 settings needs no password
     * from the rows; the stored batch says so for `batch add` and `batch
     * update` as the command line does for `batch create`. */
    c->source_admin = cfg->admin_user != NULL;
    c->target_admin = cfg->target_admin_user != NULL;
    c->source_oauth = mf_jobs_oauth_side(cfg, MF_JOBS_PURPOSE_SOURCE) != NULL;
    c->target_oauth = mf_jobs_oauth_side(cfg, MF_JOBS_PURPOSE_TARGET) != NULL;
    /* The CSV: every problem listed, nothing stored if there is one. */
    copt.allow_unknown_columns = d->allow_unknown_columns;
    copt.password_optional = c->source_admin || c->source_oauth;
    rc = mf_csv_parse_file(csv_path, &copt, &ccb, c, &cstats, err);
    if (c->rows_cb)
        pass_rows(c); /* the last rows, or only freed after a refusal */
    if (rc == MF_E_IO)
        return rc;
    if (d->issues)
        return mf_error_set(
            err, c->first_issue, "%s has %llu error%s; nothing stored",
            csv_path, (unsigned long long)d->issues, d->issues == 1 ? "" : "s");
    if (c->rows_rc) {
        *err = c->rows_err;
        return c->rows_rc;
    }
    if (c->seal_err.code)
        return mf_error_set(err, c->seal_err.code, "sealing passwords: %s",
                            c->seal_err.detail);
    return MF_E_OK;
}

mf_err
mf_batchdef_read_rows(const struct mf_config *conf, const char *name,
                      const char *csv_path, const struct mf_batch_config *cfg,
                      const struct mf_crypto_keyring *kr,
                      mf_batchdef_issue_cb on_issue, void *ud,
                      struct mf_batchdef *d, struct mf_error *err) {
    if (mf_config_get_bool(conf, "allow-unknown-columns", false,
                           &d->allow_unknown_columns, err))
        return usage(err);
    return read_rows(name, csv_path, cfg, kr,
                     &(struct create){.on_issue = on_issue, .ud = ud}, d, err);
}

mf_err
mf_batchdef_stream_rows(struct mf_batchdef *d, const char *csv_path,
                        const struct mf_crypto_keyring *kr,
                        mf_batchdef_rows_cb cb, void *cb_ud,
                        mf_batchdef_issue_cb on_issue, void *ud,
                        struct mf_error *err) {
    MF_ASSERT(!d->mbs);
    d->n = 0;
    return read_rows(
        d->cfg.name, csv_path, &d->cfg, kr,
        &(struct create){
            .on_issue = on_issue, .ud = ud, .rows_cb = cb, .rows_ud = cb_ud},
        d, err);
}

void
mf_batchdef_free(struct mf_batchdef *d) {
    mf__batch_rule_lists_free(&d->cfg);
    mf_batch_blob_free(&d->cfg.admin_password);
    mf_batch_blob_free(&d->cfg.target_admin_password);
    mbs_free(d->mbs, d->n);
    free(d->lines);
    mf_batch_oauth_clear(&d->cfg.source_oauth);
    mf_batch_oauth_clear(&d->cfg.target_oauth);
    mf_oauth_free(&d->oauth[0]);
    mf_oauth_free(&d->oauth[1]);
    memset(d, 0, sizeof(*d));
}
