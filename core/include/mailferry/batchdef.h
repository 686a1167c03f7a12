/*
 * A batch's definition: its configuration read from the options (a
 * struct mf_config: the command line, a config file, the environment)
 * and its mailboxes from the CSV, with every password sealed as it is
 * read. The one mailbox configuration every path consumes: `batch
 * create` stores it, `batch add` and `batch update` read more rows for
 * an existing batch, and the embedded `migrate` creates its batch from it
 * before it runs it (core/src/batch/def.c explains the sealing).
 *
 * This module owns what the options mean and, at the end of this file,
 * their option table entries (name and help, MF_BATCHDEF_OPTIONS), so
 * that a name is written once, beside its reader; the programs choose
 * which entries each command takes and how a problem is shown.
 */
#ifndef MAILFERRY_BATCHDEF_H
#define MAILFERRY_BATCHDEF_H

#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/csv.h"
#include "mailferry/err.h"
#include "mailferry/folderplan.h"
#include "mailferry/migrate.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mf_config;
struct mf_json_doc;
struct mf_oauth;

struct mf_batchdef {
    /* Strings borrowed from the options; lists, blobs and the OAuth2
     * settings (cfg.source_oauth, cfg.target_oauth) owned. */
    struct mf_batch_config cfg;
    /* Each side's OAuth2 token source, or NULL (owned): the key files
     * are read and checked at create time, and a dry run logs in with
     * them. */
    struct mf_oauth *oauth[2];        /* source, target */
    struct mf_batch_mailbox_cfg *mbs; /* owned, n */
    size_t n;
    uint64_t *lines; /* owned, n: the CSV line of each row */
    uint64_t issues; /* CSV problems, each passed to the issue callback */
    bool allow_unknown_columns; /* as the options said */
};

/* Rows of a streamed read: MF_BATCHDEF_ROWS_AT_ONCE at a time (the last
 * call fewer), sealed, borrowed for the call. A non-OK return stops the
 * stream: no more calls, and the read returns it with err. */
#define MF_BATCHDEF_ROWS_AT_ONCE 1000
typedef mf_err (*mf_batchdef_rows_cb)(void *ud,
                                      const struct mf_batch_mailbox_cfg *mbs,
                                      size_t n, struct mf_error *err);

/* Receives each problem of the CSV (the parser's, and a row's that has
 * no password for the target) as it is found; is is borrowed. */
typedef void (*mf_batchdef_issue_cb)(void *ud, const struct mf_csv_issue *is);

/* Reads the definition of batch name from conf and the CSV at csv_path,
 * sealing every password with kr (NULL: a dry run, nothing sealed: the
 * password blobs hold the clear text instead, NUL-terminated, so that a
 * dry run can log in to plan). Every CSV problem goes to on_issue (may be
 * NULL). d is overwritten; free it with mf_batchdef_free() in any case.
 * Errors: MF_E_USAGE (an option is missing or does not read: err says
 * which), the code of the first CSV problem when d->issues is not 0,
 * MF_E_IO (the CSV or a password file is unreadable), the OAuth2 key's
 * (MF_E_OAUTH_BAD_KEY, ...) and sealing's. */
MF_WARN_UNUSED mf_err mf_batchdef_read(const struct mf_config *conf,
                                       const char *name, const char *csv_path,
                                       const struct mf_crypto_keyring *kr,
                                       mf_batchdef_issue_cb on_issue, void *ud,
                                       struct mf_batchdef *d,
                                       struct mf_error *err);
/* The CSV part of mf_batchdef_read() alone, for rows added to or changed
 * in an existing batch (`batch add`, `batch update`): cfg, the batch's
 * configuration, says which passwords a row needs (none for a side with
 * an admin or OAuth2 settings, mf_jobs_oauth_side()); conf gives
 * --allow-unknown-columns. Fills d->mbs, d->lines and d->issues only.
 * Same errors. */
MF_WARN_UNUSED mf_err mf_batchdef_read_rows(
    const struct mf_config *conf, const char *name, const char *csv_path,
    const struct mf_batch_config *cfg, const struct mf_crypto_keyring *kr,
    mf_batchdef_issue_cb on_issue, void *ud, struct mf_batchdef *d,
    struct mf_error *err);
/* Streaming, for a CSV of any length in the same memory: first
 * mf_batchdef_read_config(), which is mf_batchdef_read() with the rows
 * checked (every problem to on_issue, the same errors) and counted in
 * d->n but neither sealed nor kept (d->mbs stays NULL); then, when it
 * found no problem, mf_batchdef_stream_rows() reads the CSV again and
 * hands the sealed rows to cb in chunks, d->n counting them. A problem
 * the second read finds (the file changed in between) is reported as in
 * the first, and cb is not called again after it. */
MF_WARN_UNUSED mf_err mf_batchdef_read_config(
    const struct mf_config *conf, const char *name, const char *csv_path,
    const struct mf_crypto_keyring *kr, mf_batchdef_issue_cb on_issue, void *ud,
    struct mf_batchdef *d, struct mf_error *err);
MF_WARN_UNUSED mf_err mf_batchdef_stream_rows(
    struct mf_batchdef *d, const char *csv_path,
    const struct mf_crypto_keyring *kr, mf_batchdef_rows_cb cb, void *cb_ud,
    mf_batchdef_issue_cb on_issue, void *ud, struct mf_error *err);
/* Wipes and frees everything d owns and zeroes it. */
void mf_batchdef_free(struct mf_batchdef *d);

/* With --json, `batch create`, `add` and `update` answer a CSV with
 * problems as {"batch", "file", "errors": [...], done_key: false,
 * "error_count"}: begin opens it in doc up to the list and returns the
 * writer for the problems (struct mf_csv_shown's j); end closes it with
 * count and prints it on out (core/src/batch/edit_show.c). */
struct mf_json *mf_batchdef_issues_begin(struct mf_json_doc *doc,
                                         const char *name,
                                         const char *csv_path);
void mf_batchdef_issues_end(struct mf_json_doc *doc, const char *done_key,
                            uint64_t count, FILE *out);

/* Two option groups the direct commands (migrate --direct, plan, verify)
 * read as a batch does. The server profiles (source-profile,
 * target-profile; generic when absent): */
struct mf_profile;
bool mf_batchdef_profiles_read(const struct mf_config *conf,
                               const struct mf_profile **src_r,
                               const struct mf_profile **dst_r,
                               struct mf_error *err);
/* the date window (since, before: YYYY-MM-DD), checked. */
struct mf_window;
bool mf_batchdef_window_read(const struct mf_config *conf, struct mf_window *w,
                             struct mf_error *err);
/* One side's caps (--max-connections, --max-connections-per-user,
 * --max-connections-per-ip, --max-concurrent-mailboxes,
 * --max-bytes-per-second, each after prefix: "" for the source,
 * "target-" for the target), 0 when not given; false with err set when
 * one does not read. */
bool mf_batchdef_caps_read(const struct mf_config *conf, const char *prefix,
                           struct mf_batch_caps *caps, struct mf_error *err);

/* The programs' option table entries (struct mf_option,
 * mailferry/args.h) for the options mf_batchdef_read() and
 * mf_batch_setting_apply() read: each name is read here and described
 * here, once. The connection caps of both sides (`batch create`, `batch
 * set`; mf_batchdef_caps_read()): */
#define MF_BATCHDEF_CAPS_OPTIONS                                               \
    {"max-connections", true, "connections to the source, fleet-wide"},        \
        {"max-connections-per-user", true,                                     \
         "connections to the source per login name"},                          \
        {"max-connections-per-ip", true,                                       \
         "connections to the source per egress IP"},                           \
        {"max-concurrent-mailboxes", true,                                     \
         "mailboxes in progress, fleet-wide"},                                 \
        {"max-bytes-per-second", true,                                         \
         "bytes per second read from the source (k/M/G)"},                     \
        {"target-max-connections", true,                                       \
         "as --max-connections, for the target"},                              \
        {"target-max-connections-per-user", true, "for the target"},           \
        {"target-max-connections-per-ip", true, "for the target"},             \
        {"target-max-concurrent-mailboxes", true, "for the target"}, {         \
        "target-max-bytes-per-second", true,                                   \
            "bytes per second to the target (k/M/G)"                           \
    }

/* The folder rule lists (`batch create`, `batch set`;
 * core/src/batch/helpers.c's table; `--preset` is in MF_BATCHDEF_OPTIONS,
 * create only). */
#define MF_BATCHDEF_RULE_OPTIONS                                               \
    {"include", true,                                                          \
     "copy only folders matching these patterns (comma list)"},                \
        {"exclude", true, "do not copy folders matching these patterns"}, {    \
        "rename", true, MF_FOLDER_RENAME_HELP                                  \
    }

/* The admins and certificate options of the commands that log in to both
 * servers (`batch create`, `migrate`, `verify`, `plan`;
 * mf_direct_connect_read() reads them for the last three). */
#define MF_BATCHDEF_LOGIN_OPTIONS                                              \
    {"admin", true, "source admin who logs in on behalf of each user"},        \
        {"admin-password-file", true,                                          \
         "file holding the source admin's password"},                          \
        {"admin-login-format", true,                                           \
         "sasl (default: SASL PLAIN with authzid) or a template such as "      \
         "{user}*{admin} or {domain}/{admin}/{user}"},                         \
        {"target-admin", true,                                                 \
         "target admin who logs in on behalf of each user"},                   \
        {"target-admin-password-file", true,                                   \
         "file holding the target admin's password"},                          \
        {"target-admin-login-format", true, "as --admin-login-format"},        \
        {"ca-file", true, "trust this CA bundle as well (PEM)"}, {             \
        "insecure", false, "do not verify certificates (lab servers only)"     \
    }

/* The options that define a batch (mf_batchdef_read()), for a command's
 * option table: `batch create`, `migrate` and `verify` take them all. */
#define MF_BATCHDEF_OPTIONS                                                    \
    {"source", true,                                                           \
     "source server: imaps://host[:port], imap://host[:port] "                 \
     "(STARTTLS) or imap://host:port/?tls=off"},                               \
        {"target", true, "target server, same forms"},                         \
        MF_BATCHDEF_LOGIN_OPTIONS, MF_BATCHDEF_RULE_OPTIONS,                   \
        {"preset", true, "folder presets (comma list), e.g. gmail-virtual"},   \
        {"target-root", true, "put every folder under this target folder"},    \
        {"separator-replacement", true,                                        \
         "replaces the target's hierarchy separator inside folder names (_)"}, \
        {"max-message-size", true, "skip messages larger than this (35M)"},    \
        MF_BATCHDEF_CAPS_OPTIONS,                                              \
        {"max-attempts", true,                                                 \
         "tries per job before the mailbox fails (default " MF_STR(            \
             MF_BATCH_DEFAULT_ATTEMPTS) " per pass; with migrate --direct, "   \
                                        "per mailbox: " MF_STR(                \
                                            MF_MIGRATE_DEFAULT_ATTEMPTS) ")"}, \
        {"incremental-every", true,                                            \
         "`mailferry serve` runs an incremental pass this long after the "     \
         "last "                                                               \
         "one ended (e.g. 24h; default: never)"},                              \
        {"flag-conflict", true,                                                \
         "a flag changed on both the source and the target since the last "    \
         "pass: source or target wins (target)"},                              \
        {"since", true,                                                        \
         "pre-staging: copy only messages whose INTERNALDATE is on or after "  \
         "this day (YYYY-MM-DD, day granularity); a later pass with an "       \
         "earlier day or none copies the rest"},                               \
        {"sync-deletes", false,                                                \
         "incremental passes also remove from the target what was expunged "   \
         "on the source since the last pass (only what mailferry put there; "  \
         "needs UIDPLUS on the target)"},                                      \
        {"before", true,                                                       \
         "copy only messages whose INTERNALDATE is before this day "           \
         "(YYYY-MM-DD)"},                                                      \
        {"allow-unknown-columns", false,                                       \
         "ignore CSV columns mailferry ignores"},                              \
        MF_PROFILE_OPTIONS,                                                    \
        {"gmail-archive-folder", true,                                         \
         "with --source-profile gmail: the target folder of mail that is "     \
         "only in [Gmail]/All Mail (Archive)"},                                \
        {"gmail-labels-as-keywords", false,                                    \
         "with --source-profile gmail: a message's other labels become "       \
         "keywords on it"},                                                    \
        {"fingerprint", true,                                                  \
         "strict or lenient: how a message already on the target is "          \
         "recognised; default: the target profile's (docs/profiles.md)"},      \
        {"repair", false,                                                      \
         "fix what a target refuses in a message (bare LF, long lines, "       \
         "broken headers) and list it; default: the message fails alone"},     \
        MF_THROTTLE_FLAGS(MF_THROTTLE_OPTION) MF_QUOTA_FLAGS(MF_QUOTA_OPTION)  \
                                                                               \
        /* end of MF_BATCHDEF_OPTIONS */

#endif
