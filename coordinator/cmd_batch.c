/*
 * `mailferry batch ...` (DESIGN.md §3, §4): create, start, stop, sync,
 * complete, status, report, list and remove a batch whose records live
 * in Redis (core batch.h) and whose jobs go to Kafka (core jobs.h).
 *
 * create validates everything first (the CSV with every error listed,
 * endpoints, folder rules, login formats, password files) and stores
 * nothing unless all of it is right. Passwords are sealed as each CSV
 * row is read (jobs.h says for which purpose), so the clear text of a
 * row lives only inside the parser's callback; the admin passwords are
 * read from files, sealed and wiped.
 *
 * Exit codes: 0 done; 1 refused (CSV errors, unknown batch, name taken,
 * not allowed in the batch's current state); 2 wrong command line; 3
 * could not run (Redis, Kafka, key file, I/O).
 */
#include "batch_status.h"
#include "cli.h"
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/csv.h"
#include "mailferry/endpoint.h"
#include "mailferry/folderplan.h"
#include "mailferry/jobs.h"
#include "mailferry/json.h"
#include "mailferry/kafka.h"
#include "mailferry/log.h"
#include "mailferry/migrate.h"
#include "mailferry/report.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Shared                                                             */
/* ------------------------------------------------------------------ */

bool
batch_cli_redis(struct cli *cli, struct mf_redis **r_r) {
    const char *url = mf_config_get(cli->config, "redis", NULL);
    struct mf_error err = {0};

    if (!url) {
        fprintf(stderr,
                "mailferry %s: give --redis URL (or MAILFERRY_REDIS): the "
                "batches live in Redis\n",
                cli->command);
        return false;
    }
    if (mf_redis_connect(url, 5000, r_r, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry %s: Redis %s: %s\n", cli->command, url,
                err.detail);
        return false;
    }
    return true;
}

int
batch_exit_code(mf_err rc) {
    switch (mf_err_class_of(rc)) {
    case MF_ERRCLASS_NONE:
        return rc == MF_E_OK ? MF_EXIT_OK : MF_EXIT_FAIL;
    case MF_ERRCLASS_INPUT:
        return rc == MF_E_SECRET_FILE ? MF_EXIT_ERROR : MF_EXIT_FAIL;
    default:
        return MF_EXIT_ERROR;
    }
}

void
batch_print_error(const char *command, const char *batch,
                  const struct mf_error *err) {
    /* The store's details name the batch already. */
    fprintf(stderr, "mailferry %s: %s [%s]\n", command,
            err->detail[0] ? err->detail : mf_strerror(err->code),
            mf_err_name(err->code));
    if (err->code == MF_E_NOT_FOUND && batch)
        fprintf(stderr, "(`mailferry batch list` shows the batches)\n");
}

/* Parses, handles --help and a wrong number of names. Returns -1 to go
 * on, else the exit code. */
static int
parse(struct cli *cli, const char *command, const char *usage,
      const struct cli_option *options, int argc, char **argv, int min_pos,
      int max_pos) {
    if (!cli_parse(cli, command, usage, options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    if (cli->npositional < min_pos || cli->npositional > max_pos) {
        fprintf(stderr, "mailferry %s: expected %s\nusage: mailferry %s %s\n",
                command,
                min_pos == max_pos && min_pos == 1 ? "one batch NAME"
                                                   : "other arguments",
                command, usage);
        return MF_EXIT_USAGE;
    }
    if (cli->npositional >= 1 && min_pos >= 1 &&
        !mf_batch_name_valid(cli->positional[0])) {
        fprintf(stderr,
                "mailferry %s: \"%s\" is not a batch name: 1 to %d of "
                "A-Z a-z 0-9 . _ -\n",
                command, cli->positional[0], MF_BATCH_NAME_MAX);
        return MF_EXIT_USAGE;
    }
    return -1;
}

static void
print_json(struct mf_buf *b) {
    printf("%s\n", b->data ? (char *)b->data : "{}");
    mf_buf_free(b);
}

/* ------------------------------------------------------------------ */
/* batch create                                                       */
/* ------------------------------------------------------------------ */

static const char create_usage[] =
    "NAME --csv FILE --source URL --target URL --redis URL "
    "--master-key-file F [--admin USER --admin-password-file F] "
    "[--target-admin USER --target-admin-password-file F] [--include L] "
    "[--exclude L] [--rename OLD=NEW[,...]] [caps] [--max-attempts N] "
    "[--incremental-every 24h] [--dry-run] [--json]";

static const struct cli_option create_options[] = {
    {"csv", true, "the batch CSV (see `mailferry csv validate`)"},
    {"source", true,
     "source server: imaps://host[:port], imap://host[:port] "
     "(STARTTLS) or imap://host:port/?tls=off"},
    {"target", true, "target server, same forms"},
    {"redis", true, "Redis holding the batches"},
    {"master-key-file", true,
     "key file sealing the passwords (`mailferry key generate`)"},
    {"admin", true, "source admin who logs in on behalf of each user"},
    {"admin-password-file", true, "file holding the source admin's password"},
    {"admin-login-format", true,
     "sasl (default: SASL PLAIN with authzid) or a template such as "
     "{user}*{admin} or {domain}/{admin}/{user}"},
    {"target-admin", true, "target admin who logs in on behalf of each user"},
    {"target-admin-password-file", true,
     "file holding the target admin's password"},
    {"target-admin-login-format", true, "as --admin-login-format"},
    {"ca-file", true, "trust this CA bundle as well (PEM)"},
    {"insecure", false, "do not verify certificates (lab servers only)"},
    {"include", true, "copy only folders matching these patterns (comma list)"},
    {"exclude", true, "do not copy folders matching these patterns"},
    {"rename", true, "OLD=NEW folder renames (comma list)"},
    {"preset", true, "folder presets (comma list), e.g. gmail-virtual"},
    {"target-root", true, "put every folder under this target folder"},
    {"separator-replacement", true,
     "replaces the target's hierarchy separator inside folder names (_)"},
    {"max-message-size", true, "skip messages larger than this (35M)"},
    {"max-connections", true, "connections to the source, fleet-wide"},
    {"max-connections-per-user", true,
     "connections to the source per login name"},
    {"max-connections-per-ip", true, "connections to the source per egress IP"},
    {"max-concurrent-mailboxes", true, "mailboxes in progress, fleet-wide"},
    {"max-bytes-per-second", true, "bytes per second read from the source"},
    {"target-max-connections", true, "as --max-connections, for the target"},
    {"target-max-connections-per-user", true, "for the target"},
    {"target-max-connections-per-ip", true, "for the target"},
    {"target-max-concurrent-mailboxes", true, "for the target"},
    {"target-max-bytes-per-second", true, "bytes per second to the target"},
    {"max-attempts", true, "tries per job before the mailbox fails (3)"},
    {"incremental-every", true,
     "`mailferry serve` runs an incremental pass this long after the last "
     "one ended (e.g. 24h; default: never)"},
    {"allow-unknown-columns", false, "ignore CSV columns mailferry ignores"},
    {"dry-run", false, "check everything and print what would be created"},
    {NULL, false, NULL},
};

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
    bool json;
    struct mf_batch_mailbox_cfg *mbs; /* owned, n */
    size_t n;
    uint64_t issues;
    struct mf_error seal_err; /* the first sealing failure */
    struct mf_json j;         /* JSON issues */
    struct mf_buf jout;
};

static void
create_issue(struct create *c, uint64_t line, unsigned column,
             const char *column_name, mf_err code, const char *detail) {
    c->issues++;
    if (c->json) {
        mf_json_object_begin(&c->j);
        mf_json_key(&c->j, "line"), mf_json_u64(&c->j, line);
        mf_json_key(&c->j, "column"), mf_json_u64(&c->j, column);
        mf_json_key(&c->j, "column_name"), mf_json_string(&c->j, column_name);
        mf_json_key(&c->j, "code"), mf_json_string(&c->j, mf_err_name(code));
        mf_json_key(&c->j, "number"), mf_json_u64(&c->j, code);
        mf_json_key(&c->j, "message"), mf_json_string(&c->j, mf_strerror(code));
        mf_json_key(&c->j, "detail"), mf_json_string(&c->j, detail);
        mf_json_object_end(&c->j);
        return;
    }
    fprintf(stderr, "%s:%llu:%u: error: %s", c->path, (unsigned long long)line,
            column, mf_strerror(code));
    if (column_name)
        fprintf(stderr, " in %s", column_name);
    fprintf(stderr, ": %s [%s]\n", detail, mf_err_name(code));
}

static void
on_csv_issue(void *ud, const struct mf_csv_issue *is) {
    create_issue(ud, is->line, is->column, is->column_name, is->code,
                 is->detail);
}

static char *
dup_or_null(const char *s) {
    return s && *s ? mf_xstrdup(s) : NULL;
}

static void
seal(struct create *c, const char *email, const char *purpose,
     const char *secret, struct mf_batch_blob *b) {
    struct mf_error err = {0};

    if (!c->kr || c->seal_err.code)
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
    tpass = r->target_password && *r->target_password ? r->target_password
            : r->password && *r->password             ? r->password
                                                      : NULL;
    if (!c->target_admin && !tpass) {
        create_issue(c, r->line, 0, NULL, MF_E_CSV_EMPTY_FIELD,
                     "no password for the target: fill Password or "
                     "TargetPassword, or give --target-admin");
        return;
    }
    c->mbs = mf_xreallocarray(c->mbs, c->n + 1, sizeof(*c->mbs));
    m = &c->mbs[c->n++];
    memset(m, 0, sizeof(*m));
    m->email = mf_xstrdup(r->email);
    m->user = mf_xstrdup(r->username);
    m->user_root = dup_or_null(r->user_root);
    m->target_user = dup_or_null(r->target_username);
    /* Sealed at once: the clear text is the parser's and lives only
     * during this call. With a source admin the row's own password is
     * not needed, so it is not kept at all. */
    if (!c->source_admin && r->password && *r->password)
        seal(c, r->email, MF_JOBS_PURPOSE_SOURCE, r->password, &m->password);
    if (!c->target_admin)
        seal(c, r->email, MF_JOBS_PURPOSE_TARGET, tpass, &m->target_password);
}

static void
mbs_free(struct mf_batch_mailbox_cfg *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].email);
        free(v[i].user);
        free(v[i].user_root);
        free(v[i].target_user);
        mf_jobs_blob_free(&v[i].password);
        mf_jobs_blob_free(&v[i].target_password);
    }
    free(v);
}

static void
json_strv(struct mf_json *j, const char *key, char **v, size_t n) {
    mf_json_key(j, key);
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        mf_json_string(j, v[i]);
    mf_json_array_end(j);
}

static void
json_caps(struct mf_json *j, const char *key, const struct mf_batch_caps *c) {
    mf_json_key(j, key);
    mf_json_object_begin(j);
    mf_json_key(j, "max_connections"), mf_json_u64(j, c->max_connections);
    mf_json_key(j, "max_connections_per_user"),
        mf_json_u64(j, c->max_connections_per_user);
    mf_json_key(j, "max_connections_per_ip"),
        mf_json_u64(j, c->max_connections_per_ip);
    mf_json_key(j, "max_concurrent_mailboxes"),
        mf_json_u64(j, c->max_concurrent_mailboxes);
    mf_json_key(j, "max_bytes_per_second"),
        mf_json_u64(j, c->max_bytes_per_second);
    mf_json_object_end(j);
}

/* What create stores (or would store), as text or JSON; no secrets. */
static void
print_created(const struct mf_batch_config *cfg,
              const struct mf_batch_mailbox_cfg *mbs, size_t n, bool json,
              bool dry_run) {
    if (json) {
        struct mf_buf b = {0};
        struct mf_json j;
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf_json_key(&j, "batch"), mf_json_string(&j, cfg->name);
        mf_json_key(&j, "dry_run"), mf_json_bool(&j, dry_run);
        mf_json_key(&j, "state"),
            mf_json_string(&j, dry_run ? NULL : "Created");
        mf_json_key(&j, "source"), mf_json_string(&j, cfg->source);
        mf_json_key(&j, "target"), mf_json_string(&j, cfg->target);
        mf_json_key(&j, "admin"), mf_json_string(&j, cfg->admin_user);
        mf_json_key(&j, "target_admin"),
            mf_json_string(&j, cfg->target_admin_user);
        json_strv(&j, "include", cfg->include, cfg->n_include);
        json_strv(&j, "exclude", cfg->exclude, cfg->n_exclude);
        json_strv(&j, "rename", cfg->rename, cfg->n_rename);
        json_strv(&j, "presets", cfg->presets, cfg->n_presets);
        mf_json_key(&j, "max_message_size"),
            mf_json_u64(&j, cfg->max_message_size);
        json_caps(&j, "source_caps", &cfg->source_caps);
        json_caps(&j, "target_caps", &cfg->target_caps);
        mf_json_key(&j, "max_attempts"), mf_json_u64(&j, cfg->max_attempts);
        mf_json_key(&j, "incremental_every"),
            mf_json_u64(&j, cfg->incremental_every);
        mf_json_key(&j, "mailboxes"), mf_json_u64(&j, n);
        if (dry_run) {
            mf_json_key(&j, "mailbox_list");
            mf_json_array_begin(&j);
            for (size_t i = 0; i < n; i++) {
                mf_json_object_begin(&j);
                mf_json_key(&j, "email"), mf_json_string(&j, mbs[i].email);
                mf_json_key(&j, "user"), mf_json_string(&j, mbs[i].user);
                mf_json_key(&j, "target_user"),
                    mf_json_string(&j, mbs[i].target_user);
                mf_json_object_end(&j);
            }
            mf_json_array_end(&j);
        }
        mf_json_object_end(&j);
        print_json(&b);
        return;
    }
    printf("%s batch %s: %zu mailboxes, %s -> %s\n",
           dry_run ? "would create" : "created", cfg->name, n, cfg->source,
           cfg->target);
    if (cfg->admin_user)
        printf("  source admin %s (%s)\n", cfg->admin_user,
               cfg->admin_login_format ? cfg->admin_login_format : "sasl");
    if (cfg->target_admin_user)
        printf("  target admin %s (%s)\n", cfg->target_admin_user,
               cfg->target_admin_login_format ? cfg->target_admin_login_format
                                              : "sasl");
    for (size_t i = 0; i < cfg->n_include; i++)
        printf("  include %s\n", cfg->include[i]);
    for (size_t i = 0; i < cfg->n_exclude; i++)
        printf("  exclude %s\n", cfg->exclude[i]);
    for (size_t i = 0; i < cfg->n_rename; i++)
        printf("  rename %s\n", cfg->rename[i]);
    printf("  max attempts %u, incremental passes %s%llus\n",
           cfg->max_attempts ? cfg->max_attempts : MF_BATCH_DEFAULT_ATTEMPTS,
           cfg->incremental_every ? "every " : "never: ",
           (unsigned long long)cfg->incremental_every);
    if (dry_run)
        for (size_t i = 0; i < n; i++)
            printf("  mailbox %s (login %s%s%s)\n", mbs[i].email, mbs[i].user,
                   mbs[i].target_user ? ", target login " : "",
                   mbs[i].target_user ? mbs[i].target_user : "");
    else
        printf("state Created; `mailferry batch start %s` enqueues it\n",
               cfg->name);
}

/* Checks the folder rules the way the workers will parse them. */
static bool
check_rules(const struct mf_batch_config *cfg, struct mf_error *err) {
    struct mf_folder_rules *rules = mf_folder_rules_new();
    bool ok = true;

    for (size_t i = 0; ok && i < cfg->n_include; i++)
        ok = !mf_folder_rules_parse_include(rules, cfg->include[i], err);
    for (size_t i = 0; ok && i < cfg->n_exclude; i++)
        ok = !mf_folder_rules_parse_exclude(rules, cfg->exclude[i], err);
    for (size_t i = 0; ok && i < cfg->n_rename; i++)
        ok = !mf_folder_rules_parse_rename(rules, cfg->rename[i], err);
    for (size_t i = 0; ok && i < cfg->n_presets; i++)
        ok = !mf_folder_rules_parse_preset(rules, cfg->presets[i], err);
    if (ok && cfg->separator_replacement)
        ok = !mf_folder_rules_parse_separator_replacement(
            rules, cfg->separator_replacement, err);
    if (ok && cfg->target_root)
        ok = !mf_folder_rules_parse_target_root(rules, cfg->target_root, err);
    mf_folder_rules_free(&rules);
    return ok;
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
    ok = !kr ||
         !mf_jobs_seal_blob(kr, batch, "", purpose, pw, strlen(pw), b, err);
    mf_secret_free(&pw);
    return ok;
}

int
cmd_batch_create(int argc, char **argv) {
    struct cli cli;
    struct mf_batch_config cfg;
    struct mf_crypto_keyring *kr = NULL;
    struct mf_redis *redis = NULL;
    struct mf_csv_options copt = {0};
    struct mf_csv_callbacks ccb = {.on_row = on_csv_row,
                                   .on_issue = on_csv_issue};
    struct mf_csv_stats cstats;
    struct create c;
    struct mf_endpoint ep;
    struct mf_error err = {0};
    const char *keyfile;
    uint64_t v;
    bool dry_run = false, insecure = false;
    int exit_code;
    mf_err rc;

    memset(&cfg, 0, sizeof(cfg));
    memset(&c, 0, sizeof(c));
    exit_code = parse(&cli, "batch create", create_usage, create_options, argc,
                      argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    cfg.name = (char *)cli.positional[0];
    cfg.source = (char *)mf_config_get(cli.config, "source", NULL);
    cfg.target = (char *)mf_config_get(cli.config, "target", NULL);
    c.path = mf_config_get(cli.config, "csv", NULL);
    keyfile = mf_config_get(cli.config, "master-key-file", NULL);
    if (mf_config_get_bool(cli.config, "dry-run", false, &dry_run, &err))
        goto usage_err;
    if (!c.path || !cfg.source || !cfg.target) {
        mf_error_set(&err, MF_E_USAGE,
                     "--csv, --source and --target are "
                     "required");
        goto usage_err;
    }
    if (!keyfile && !dry_run) {
        mf_error_set(&err, MF_E_USAGE,
                     "--master-key-file F is required: passwords are stored "
                     "sealed (`mailferry key generate F` makes one)");
        goto usage_err;
    }
    if (mf_endpoint_parse(cfg.source, &ep, &err) ||
        mf_endpoint_parse(cfg.target, &ep, &err))
        goto usage_err;
    if (mf_config_get_bool(cli.config, "insecure", false, &insecure, &err))
        goto usage_err;
    cfg.insecure = insecure;
    cfg.ca_file = (char *)mf_config_get(cli.config, "ca-file", NULL);
    cfg.admin_user = (char *)mf_config_get(cli.config, "admin", NULL);
    cfg.admin_login_format =
        (char *)mf_config_get(cli.config, "admin-login-format", NULL);
    cfg.target_admin_user =
        (char *)mf_config_get(cli.config, "target-admin", NULL);
    cfg.target_admin_login_format =
        (char *)mf_config_get(cli.config, "target-admin-login-format", NULL);
    if (!mf_jobs_login_format_valid(cfg.admin_login_format, &err) ||
        !mf_jobs_login_format_valid(cfg.target_admin_login_format, &err))
        goto usage_err;
    cfg.include =
        split(mf_config_get(cli.config, "include", NULL), &cfg.n_include);
    cfg.exclude =
        split(mf_config_get(cli.config, "exclude", NULL), &cfg.n_exclude);
    cfg.rename =
        split(mf_config_get(cli.config, "rename", NULL), &cfg.n_rename);
    cfg.presets =
        split(mf_config_get(cli.config, "preset", NULL), &cfg.n_presets);
    cfg.separator_replacement =
        (char *)mf_config_get(cli.config, "separator-replacement", NULL);
    cfg.target_root = (char *)mf_config_get(cli.config, "target-root", NULL);
    if (!check_rules(&cfg, &err))
        goto usage_err;
    if (mf_config_get_u64(cli.config, "max-message-size", 0, 0,
                          (uint64_t)1 << 40, MF_UNIT_BYTES,
                          &cfg.max_message_size, &err) ||
        !read_caps(&cli, "", &cfg.source_caps, &err) ||
        !read_caps(&cli, "target-", &cfg.target_caps, &err) ||
        mf_config_get_u64(cli.config, "max-attempts", MF_BATCH_DEFAULT_ATTEMPTS,
                          1, 100, MF_UNIT_NONE, &v, &err) ||
        mf_config_get_u64(cli.config, "incremental-every", 0, 0,
                          (uint64_t)366 * 86400, MF_UNIT_SECONDS,
                          &cfg.incremental_every, &err) ||
        mf_config_get_bool(cli.config, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, &err))
        goto usage_err;
    cfg.max_attempts = (uint32_t)v;
    if (cfg.incremental_every && cfg.incremental_every < 60)
        fprintf(stderr, "mailferry batch create: warning: --incremental-every "
                        "below a minute begins a pass as soon as the last "
                        "one ends\n");

    exit_code = MF_EXIT_ERROR;
    if (keyfile && (rc = mf_crypto_keyring_load(keyfile, &kr, &err))) {
        fprintf(stderr, "mailferry batch create: key file %s: %s\n", keyfile,
                err.detail);
        goto out;
    }
    c.batch = cfg.name;
    c.kr = kr;
    c.json = cli.json;
    c.source_admin = cfg.admin_user != NULL;
    c.target_admin = cfg.target_admin_user != NULL;
    if ((c.source_admin &&
         !admin_secret(&cli, "", cfg.name, kr, MF_JOBS_PURPOSE_SOURCE_ADMIN,
                       &cfg.admin_password, &err)) ||
        (c.target_admin && !admin_secret(&cli, "target-", cfg.name, kr,
                                         MF_JOBS_PURPOSE_TARGET_ADMIN,
                                         &cfg.target_admin_password, &err))) {
        fprintf(stderr, "mailferry batch create: %s\n", err.detail);
        exit_code = err.code == MF_E_USAGE ? MF_EXIT_USAGE : MF_EXIT_ERROR;
        goto out;
    }

    /* The CSV: every problem listed, nothing stored if there is one. */
    copt.password_optional = c.source_admin;
    if (c.json) {
        mf_json_init(&c.j, &c.jout);
        mf_json_object_begin(&c.j);
        mf_json_key(&c.j, "batch"), mf_json_string(&c.j, cfg.name);
        mf_json_key(&c.j, "file"), mf_json_string(&c.j, c.path);
        mf_json_key(&c.j, "errors"), mf_json_array_begin(&c.j);
    }
    rc = mf_csv_parse_file(c.path, &copt, &ccb, &c, &cstats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry batch create: %s\n", err.detail);
        goto out;
    }
    if (c.issues) {
        if (c.json) {
            mf_json_array_end(&c.j);
            mf_json_key(&c.j, "created"), mf_json_bool(&c.j, false);
            mf_json_key(&c.j, "error_count"), mf_json_u64(&c.j, c.issues);
            mf_json_object_end(&c.j);
            print_json(&c.jout);
        }
        fprintf(stderr,
                "mailferry batch create: %s has %llu error%s; nothing "
                "stored\n",
                c.path, (unsigned long long)c.issues, c.issues == 1 ? "" : "s");
        exit_code = MF_EXIT_FAIL;
        goto out;
    }
    mf_buf_free(&c.jout);
    if (c.seal_err.code) {
        fprintf(stderr, "mailferry batch create: sealing passwords: %s\n",
                c.seal_err.detail);
        goto out;
    }
    if (dry_run) {
        print_created(&cfg, c.mbs, c.n, c.json, true);
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((rc = mf_batch_create(redis, &cfg, c.mbs, c.n, &err))) {
        batch_print_error("batch create", cfg.name, &err);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    print_created(&cfg, c.mbs, c.n, c.json, false);
    exit_code = MF_EXIT_OK;
    goto out;

usage_err:
    fprintf(stderr,
            "mailferry batch create: %s\nusage: mailferry batch create %s\n",
            err.detail, create_usage);
out:
    strv_free(cfg.include, cfg.n_include);
    strv_free(cfg.exclude, cfg.n_exclude);
    strv_free(cfg.rename, cfg.n_rename);
    strv_free(cfg.presets, cfg.n_presets);
    mf_jobs_blob_free(&cfg.admin_password);
    mf_jobs_blob_free(&cfg.target_admin_password);
    mbs_free(c.mbs, c.n);
    mf_buf_free(&c.jout);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* batch start, sync, complete                                        */
/* ------------------------------------------------------------------ */

static const char pass_usage[] =
    "NAME --redis URL --kafka HOST:PORT[,...] --master-key-file F "
    "[--topic-prefix P] [--json]";

static const struct cli_option pass_options[] = {
    {"redis", true, "Redis holding the batches"},
    {"kafka", true, "Kafka bootstrap servers (kafka.* settings pass through)"},
    {"topic-prefix", true, "topic name prefix (default mailferry)"},
    {"master-key-file", true, "key file the passwords were sealed with"},
    {"reissue", false,
     "start only: produce the jobs of Queued mailboxes again (after a crash "
     "between queueing and producing; duplicates are harmless)"},
    {NULL, false, NULL},
};

static int
run_pass(int argc, char **argv, const char *command, enum mf_batch_op op) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_crypto_keyring *kr = NULL;
    struct mf_kafka_producer *producer = NULL;
    struct mf_kafka_topics topics;
    struct mf_jobs_ctx jc;
    struct mf_error err = {0};
    enum mf_batch_state st = MF_BATCH_CREATED;
    const char *keyfile, *name;
    char sender[128], host[64] = "host";
    uint64_t n = 0;
    bool reissue = false;
    int exit_code;
    mf_err rc;

    exit_code =
        parse(&cli, command, pass_usage, pass_options, argc, argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    name = cli.positional[0];
    exit_code = MF_EXIT_USAGE;
    keyfile = mf_config_get(cli.config, "master-key-file", NULL);
    if (mf_config_get_bool(cli.config, "reissue", false, &reissue, &err) ||
        (reissue && op != MF_BATCH_OP_START)) {
        fprintf(stderr, "mailferry %s: --reissue is for batch start\n",
                command);
        goto out;
    }
    if (!keyfile || !mf_config_get(cli.config, "kafka", NULL)) {
        fprintf(stderr,
                "mailferry %s: --kafka and --master-key-file are required "
                "(jobs go to Kafka with their passwords sealed)\n",
                command);
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if ((rc = mf_crypto_keyring_load(keyfile, &kr, &err))) {
        fprintf(stderr, "mailferry %s: key file %s: %s\n", command, keyfile,
                err.detail);
        goto out;
    }
    if (mf_kafka_topics_from_config(cli.config, &topics, &err) ||
        mf_kafka_producer_new(cli.config, "mailferry", NULL, NULL, &producer,
                              &err)) {
        fprintf(stderr, "mailferry %s: Kafka: %s\n", command, err.detail);
        goto out;
    }
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    gethostname(host, sizeof(host) - 1);
    snprintf(sender, sizeof(sender), "mailferry %s", host);
    jc = (struct mf_jobs_ctx){redis, producer, &topics, kr, sender};
    if (reissue)
        rc = mf_jobs_reissue(&jc, name, 60000, &n, &err);
    else
        rc = mf_jobs_begin_pass(&jc, name, op, 60000, &n, &st, &err);
    if (rc) {
        batch_print_error(command, name, &err);
        if (n)
            fprintf(stderr,
                    "%llu jobs were produced; the other mailboxes stay "
                    "Queued: `mailferry batch start %s --reissue` produces "
                    "them again\n",
                    (unsigned long long)n, name);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    if (reissue) {
        struct mf_batch_config *cfg = NULL;
        if (mf_batch_get(redis, name, &cfg, &err) == MF_E_OK) {
            st = cfg->state;
            mf_batch_config_free(&cfg);
        }
    }
    if (cli.json) {
        struct mf_buf b = {0};
        struct mf_json j;
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf_json_key(&j, "batch"), mf_json_string(&j, name);
        mf_json_key(&j, "state"), mf_json_string(&j, mf_batch_state_name(st));
        mf_json_key(&j, "jobs"), mf_json_u64(&j, n);
        mf_json_key(&j, "topic"), mf_json_string(&j, topics.jobs);
        mf_json_object_end(&j);
        print_json(&b);
    } else {
        printf("batch %s: %llu job%s queued on %s; state %s\n", name,
               (unsigned long long)n, n == 1 ? "" : "s", topics.jobs,
               mf_batch_state_name(st));
    }
    exit_code = MF_EXIT_OK;
out:
    mf_kafka_producer_free(&producer);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

int
cmd_batch_start(int argc, char **argv) {
    return run_pass(argc, argv, "batch start", MF_BATCH_OP_START);
}

int
cmd_batch_sync(int argc, char **argv) {
    return run_pass(argc, argv, "batch sync", MF_BATCH_OP_SYNC);
}

int
cmd_batch_complete(int argc, char **argv) {
    return run_pass(argc, argv, "batch complete", MF_BATCH_OP_COMPLETE);
}

/* ------------------------------------------------------------------ */
/* batch stop, remove, list, status                                   */
/* ------------------------------------------------------------------ */

static const struct cli_option redis_options[] = {
    {"redis", true, "Redis holding the batches"},
    {NULL, false, NULL},
};

static void
print_state(bool json, const char *name, const char *key, const char *value,
            const char *text) {
    if (json) {
        struct mf_buf b = {0};
        struct mf_json j;
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf_json_key(&j, "batch"), mf_json_string(&j, name);
        mf_json_key(&j, key), mf_json_string(&j, value);
        mf_json_object_end(&j);
        print_json(&b);
    } else {
        printf("batch %s: %s\n", name, text);
    }
}

int
cmd_batch_stop(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    enum mf_batch_state st;
    char text[128];
    int exit_code;
    mf_err rc;

    exit_code = parse(&cli, "batch stop", "NAME --redis URL [--json]",
                      redis_options, argc, argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((rc = mf_batch_stop(redis, cli.positional[0], &st, &err))) {
        batch_print_error("batch stop", cli.positional[0], &err);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    snprintf(text, sizeof(text), "%s%s", mf_batch_state_name(st),
             st == MF_BATCH_STOPPING
                 ? " (workers stop at the next message boundary)"
                 : "");
    print_state(cli.json, cli.positional[0], "state", mf_batch_state_name(st),
                text);
    exit_code = MF_EXIT_OK;
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

int
cmd_batch_remove(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    int exit_code;
    mf_err rc;

    exit_code = parse(&cli, "batch remove", "NAME --redis URL [--json]",
                      redis_options, argc, argv, 1, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((rc = mf_batch_remove(redis, cli.positional[0], &err))) {
        batch_print_error("batch remove", cli.positional[0], &err);
        if (rc == MF_E_STATE)
            fprintf(stderr,
                    "(a running batch cannot be removed: `mailferry "
                    "batch stop %s` first)\n",
                    cli.positional[0]);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    print_state(cli.json, cli.positional[0], "removed", "true", "removed");
    exit_code = MF_EXIT_OK;
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

int
cmd_batch_list(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    int exit_code;

    exit_code = parse(&cli, "batch list", "--redis URL [--json]", redis_options,
                      argc, argv, 0, 0);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    exit_code = batch_status_list(redis, cli.json);
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

static atomic_bool status_stop;

static void
on_status_signal(int sig) {
    (void)sig;
    atomic_store(&status_stop, true);
}

int
cmd_batch_status(int argc, char **argv) {
    static const struct cli_option options[] = {
        {"redis", true, "Redis holding the batches"},
        {"watch", false,
         "redraw every 2 s until the batch is in a final state (Ctrl-C "
         "ends)"},
        {"interval", true, "seconds between redraws with --watch (2)"},
        {NULL, false, NULL},
    };
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    struct sigaction sa;
    bool watch = false;
    uint64_t interval;
    int exit_code;

    exit_code =
        parse(&cli, "batch status", "[NAME] --redis URL [--watch] [--json]",
              options, argc, argv, 0, 1);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(cli.config, "watch", false, &watch, &err) ||
        mf_config_get_u64(cli.config, "interval", 2, 1, 3600, MF_UNIT_SECONDS,
                          &interval, &err)) {
        fprintf(stderr, "mailferry batch status: %s\n", err.detail);
        goto out;
    }
    if (watch && cli.json) {
        fprintf(stderr, "mailferry batch status: --watch draws for a "
                        "terminal; --json prints one document\n");
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if (cli.npositional == 0) {
        exit_code = batch_status_list(redis, cli.json);
        goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_status_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    exit_code = batch_status_show(redis, cli.positional[0], cli.json, watch,
                                  (unsigned)interval * 1000, &status_stop);
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* batch report                                                       */
/* ------------------------------------------------------------------ */

int
cmd_batch_report(int argc, char **argv) {
    static const struct cli_option options[] = {
        {"redis", true, "Redis holding the batches"},
        {"format", true, "csv (default), json or html"},
        {"output", true, "write to FILE instead of stdout (also -o FILE)"},
        {NULL, false, NULL},
    };
    static const char usage[] =
        "NAME --redis URL [--format csv|json|html] [-o FILE]";
    struct cli cli;
    struct mf_redis *redis = NULL;
    struct mf_report_batch *rep = NULL;
    enum mf_report_format fmt = MF_REPORT_CSV;
    struct mf_error err = {0};
    const char *format, *output;
    FILE *f = NULL;
    char *tmp = NULL;
    int exit_code;
    mf_err rc;

    /* "-o FILE" is the one short option: cli_parse takes only long ones,
     * so it arrives as two positionals. */
    exit_code = parse(&cli, "batch report", usage, options, argc, argv, 1, 3);
    if (exit_code >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    output = mf_config_get(cli.config, "output", NULL);
    if (cli.npositional == 3 && strcmp(cli.positional[1], "-o") == 0)
        output = cli.positional[2];
    else if (cli.npositional != 1) {
        fprintf(stderr,
                "mailferry batch report: expected NAME [-o FILE]\n"
                "usage: mailferry batch report %s\n",
                usage);
        goto out;
    }
    format = mf_config_get(cli.config, "format", NULL);
    if (format && mf_report_format_parse(format, &fmt)) {
        fprintf(stderr, "mailferry batch report: --format is csv, json or "
                        "html\n");
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((rc = mf_batch_report(redis, cli.positional[0], &rep, &err))) {
        batch_print_error("batch report", cli.positional[0], &err);
        exit_code = batch_exit_code(rc);
        goto out;
    }
    if (output && strcmp(output, "-") != 0) {
        /* Written whole next to the target, then renamed: a reader never
         * sees half a report. */
        tmp = mf_xasprintf("%s.tmp.%ld", output, (long)getpid());
        if (!(f = fopen(tmp, "w"))) {
            perror(tmp);
            goto out;
        }
    }
    rc = mf_report_write(rep, fmt, f ? f : stdout);
    if (f) {
        if (fclose(f) != 0)
            rc = MF_E_IO;
        f = NULL;
        if (rc == MF_E_OK && rename(tmp, output) != 0) {
            perror(output);
            rc = MF_E_IO;
        }
        if (rc)
            unlink(tmp);
    }
    if (rc) {
        fprintf(stderr, "mailferry batch report: cannot write %s\n",
                output ? output : "stdout");
        goto out;
    }
    if (output && strcmp(output, "-") != 0)
        fprintf(stderr, "mailferry batch report: %s report of %s in %s\n",
                mf_report_format_name(fmt), cli.positional[0], output);
    exit_code = MF_EXIT_OK;
out:
    if (f)
        fclose(f);
    free(tmp);
    mf_report_free(&rep);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
