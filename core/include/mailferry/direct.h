/*
 * `mailferry migrate --direct` (core/src/direct/): the copy engine alone,
 * without the batch pipeline. Each of `concurrency` threads takes the
 * next CSV row and runs mf_migrate_mailbox() for it (checkpoints in Redis
 * when redis_url is set, else in memory); one line per finished mailbox
 * (or one JSON document), the progress (mailferry/progress.h), a summary, and
 * the report (CSV, JSON, HTML) in report_dir.
 *
 * It stays beside the worker (core/src/worker) as the engine's bench and
 * debugging path: docs/design.md §9 says why.
 */
#ifndef MAILFERRY_DIRECT_H
#define MAILFERRY_DIRECT_H

#include "mailferry/csv.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Both logins of row; owned[4] receives strings freed after the mailbox
 * (NULL where nothing was allocated). */
typedef void (*mf_direct_login_fn)(void *ud, const struct mf_csv_mailbox *row,
                                   struct mf_migrate_login *src,
                                   struct mf_migrate_login *dst,
                                   char *owned[4]);

struct mf_direct_options {
    /* Every mailbox's options (progress and stop set by the run). */
    struct mf_migrate_options opts;
    /* Set from a signal handler, stops every mailbox at a message
     * boundary; the run sets it too when a thread cannot start. */
    atomic_bool *stop;
    const char *redis_url;             /* checkpoints there; NULL: in memory */
    const struct mf_csv_mailbox *rows; /* n, borrowed */
    size_t n;
    mf_direct_login_fn login;
    void *login_ud;
    unsigned concurrency;
    bool json;
    /* Without json, the progress of mailferry/progress.h as embedded
     * `migrate` shows it (mf_progress_view_open()): on a terminal
     * (stderr) the display redrawn in place every second, else a
     * `progress:` summary line on stdout every progress_interval_s
     * seconds; 0: none (--no-progress). */
    double progress_interval_s;
    const char *report_dir;      /* created if needed */
    const char *source, *target; /* server URLs, for the report */
};

/* How a direct run ended, for the exit code. */
enum mf_direct_verdict {
    MF_DIRECT_OK,        /* every mailbox finished without error */
    MF_DIRECT_FAILED,    /* a mailbox failed, stopped or did not run */
    MF_DIRECT_NO_REPORT, /* the report could not be written (said on stderr) */
};

/* Runs every row; returns when all are done or stopped. */
enum mf_direct_verdict mf_direct_run(const struct mf_direct_options *o);

/* ------------------------------------------------------------------ */
/* The options of a process that connects itself (direct/options.c)    */
/* ------------------------------------------------------------------ */

struct mf_config;
struct mf_oauth;
struct mf_profile;

/* How one side logs in besides each row's own login: --admin USER
 * --admin-password-file F --admin-login-format FMT (the target's with
 * "target-" in front) and the side's OAuth2 options. */
struct mf_direct_login {
    const char *admin;        /* NULL: no admin; borrowed from the options */
    char *admin_password;     /* owned secret, or NULL */
    const char *admin_format; /* "sasl" (or NULL) or a template, borrowed */
    struct mf_oauth *oauth;   /* owned, or NULL: passwords */
};

/* Where both servers are and how to log in to them, as `migrate
 * --direct`, `verify` and `plan` read them. Index 0 is the source, 1 the
 * target. */
struct mf_direct_connect {
    const struct mf_profile *profile[2]; /* generic when not given */
    struct mf_migrate_server server[2];  /* strings borrowed from conf */
    bool has_target;                     /* --target was given */
    struct mf_direct_login login[2];
};

/* Reads c from conf, in this order, the first problem returned (err
 * set, MF_E_USAGE for a wrong value): the profiles (--source-profile,
 * --target-profile), the source profile's own folder rules into rules
 * (NULL: not wanted), --source URL (required) and --target URL (required
 * when target_required) with --ca-file, --insecure, --bind-address and
 * --command-timeout, both sides' admins (a given --admin needs its
 * password file, read here) and OAuth2 options (their files read and
 * checked here). The source admin's login format defaults to the source
 * profile's. Free c with mf_direct_connect_clear() in any case. */
MF_WARN_UNUSED mf_err mf_direct_connect_read(const struct mf_config *conf,
                                             bool target_required,
                                             struct mf_folder_rules *rules,
                                             struct mf_direct_connect *c,
                                             struct mf_error *err);
/* Wipes the passwords, frees the token sources; c may be read again. */
void mf_direct_connect_clear(struct mf_direct_connect *c);
/* The two sides c makes for mf_jobs_direct_logins() (borrowing c). */
void mf_direct_connect_sides(const struct mf_direct_connect *c,
                             struct mf_jobs_direct_side sides[2]);
/* Whether the source logs in without each row's password (an admin or
 * OAuth2): the CSV's Password column is then optional. */
bool mf_direct_connect_password_optional(const struct mf_direct_connect *c);

/* The folder rules of the options into rules: --include, --exclude,
 * --rename (comma lists), with placement also --preset and --target-root,
 * then --separator-replacement. The first problem is returned. */
MF_WARN_UNUSED mf_err mf_direct_rules_read(const struct mf_config *conf,
                                           bool placement,
                                           struct mf_folder_rules *rules,
                                           struct mf_error *err);

/* Everything `migrate --direct` and `verify` read: c, the folder rules
 * (--include, --exclude, --rename, --preset, --target-root,
 * --separator-replacement), the fleet caps (mf_batchdef_caps_read()
 * for both sides, --lease-ttl, --egress-ip: leases in --redis, which the
 * caps then need), and how messages are copied (--max-message-size,
 * --max-attempts with MF_MIGRATE_DEFAULT_ATTEMPTS, --fingerprint, the
 * --throttle-* options, --repair, --gmail-labels-as-keywords,
 * --flag-conflict, --since and --before, --sync-deletes, --batch). opts
 * points into the rest: do not copy the struct. */
struct mf_direct_settings {
    struct mf_migrate_options opts;
    struct mf_direct_connect c;
    struct mf_folder_rules *rules; /* owned */
    struct mf_migrate_caps caps;
    const char *redis_url; /* borrowed from conf, or NULL */
    char holder[128];      /* the caps' holder: host/pid */
};

/* Reads s from conf; the first problem is returned with err set. Free s
 * with mf_direct_settings_free() in any case. */
MF_WARN_UNUSED mf_err mf_direct_settings_read(const struct mf_config *conf,
                                              struct mf_direct_settings *s,
                                              struct mf_error *err);
void mf_direct_settings_free(struct mf_direct_settings *s);
/* Both logins of row for the settings ud (a struct mf_direct_settings):
 * an mf_direct_login_fn, the jobs' rule (mf_jobs_direct_logins()). */
void mf_direct_settings_logins(void *ud, const struct mf_csv_mailbox *row,
                               struct mf_migrate_login *src,
                               struct mf_migrate_login *dst, char *owned[4]);

#endif
