/*
 * A batch's definition from the command line and the CSV: what `batch
 * create` stores and what `migrate` (the embedded default) creates before
 * it runs the batch itself. One option table (BATCH_DEF_OPTIONS), read by
 * the core's one reader (mailferry/batchdef.h), so the two commands take
 * the same options the same way; this file only shows its problems.
 */
#ifndef MF_BATCH_DEF_H
#define MF_BATCH_DEF_H

#include "cli.h"
#include "cli_login.h"
#include "mailferry/batch.h"
#include "mailferry/batchdef.h"
#include "mailferry/crypto.h"
#include "mailferry/json.h"
#include "mailferry/migrate.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The connection caps of both sides (`batch create`, `batch set`). */
#define BATCH_CAPS_OPTIONS                                                     \
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

/* The folder rule lists (`batch create`, `batch set`). */
#define BATCH_RULE_OPTIONS                                                     \
    {"include", true,                                                          \
     "copy only folders matching these patterns (comma list)"},                \
        {"exclude", true, "do not copy folders matching these patterns"}, {    \
        "rename", true, CLI_RENAME_HELP                                        \
    }

/* The admins and certificate options of the commands that log in to both
 * servers (`batch create`, `migrate`, `verify`, `plan`). */
#define BATCH_LOGIN_OPTIONS                                                    \
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

/* The options that define a batch, for a command's option table. */
#define BATCH_DEF_OPTIONS                                                      \
    {"source", true,                                                           \
     "source server: imaps://host[:port], imap://host[:port] "                 \
     "(STARTTLS) or imap://host:port/?tls=off"},                               \
        {"target", true, "target server, same forms"}, BATCH_LOGIN_OPTIONS,    \
        BATCH_RULE_OPTIONS,                                                    \
        {"preset", true, "folder presets (comma list), e.g. gmail-virtual"},   \
        {"target-root", true, "put every folder under this target folder"},    \
        {"separator-replacement", true,                                        \
         "replaces the target's hierarchy separator inside folder names (_)"}, \
        {"max-message-size", true, "skip messages larger than this (35M)"},    \
        BATCH_CAPS_OPTIONS,                                                    \
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
        CLI_PROFILE_OPTIONS,                                                   \
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
        MF_THROTTLE_FLAGS(CLI_THROTTLE_OPTION)                                 \
            MF_QUOTA_FLAGS(CLI_QUOTA_OPTION)                                   \
                                                                               \
        /* end of BATCH_DEF_OPTIONS */

/* mf_batchdef_read() for command, or with rows_later
 * mf_batchdef_read_config() (the rows checked, not kept: streamed after
 * with batch_def_stream_rows()): every CSV problem is shown, as JSON
 * objects into *issues_json when it is not NULL (an array is open there),
 * else on stderr as FILE:LINE:COL. Returns -1 when d is complete, else the
 * exit code (the reason printed on stderr, prefixed with command). Free d
 * with mf_batchdef_free() in any case. */
int batch_def_read(struct cli *cli, const char *command, const char *name,
                   const char *csv_path, const struct mf_crypto_keyring *kr,
                   bool rows_later, struct mf_json *issues_json,
                   struct mf_batchdef *d);
/* mf_batchdef_stream_rows() for command, shown and returned as above. */
int batch_def_stream_rows(const char *command, const char *csv_path,
                          const struct mf_crypto_keyring *kr,
                          mf_batchdef_rows_cb cb, void *cb_ud,
                          struct mf_json *issues_json, struct mf_batchdef *d);
/* mf_batchdef_read_rows() for command (`batch add`, `batch update`), the
 * problems shown and the returns as batch_def_read(). */
int batch_def_read_rows(const char *command, const char *name,
                        const char *csv_path, const struct mf_batch_config *cfg,
                        bool allow_unknown_columns,
                        const struct mf_crypto_keyring *kr,
                        struct mf_json *issues_json, struct mf_batchdef *d);

/* With --json, `batch create`, `add` and `update` answer a CSV with
 * problems as {"batch", "file", "errors": [...], done_key: false,
 * "error_count"}: begin opens it in doc up to the list and returns the
 * writer for batch_def_read(); end closes it with count and prints it. */
struct mf_json *batch_def_issues_begin(struct mf_json_doc *doc,
                                       const char *name, const char *csv_path);
void batch_def_issues_end(struct mf_json_doc *doc, const char *done_key,
                          uint64_t count);

/* Applies to the existing batch name the options given in cli that may
 * change over a batch's life (`batch set`: mf_batch_setting_known()), so
 * that running a batch again with, e.g., a raised --max-message-size or
 * another --flag-conflict uses them; a value equal to the stored one
 * changes nothing. Each change is said on stdout unless cli->json;
 * *changed_r counts them. Returns -1 when done, else the exit code (the
 * reason printed on stderr, prefixed with command). In cmd_batch_set.c. */
int batch_def_apply_settings(struct cli *cli, const char *command,
                             struct mf_redis *r, const char *name,
                             int *changed_r);

#endif
