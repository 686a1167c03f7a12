/*
 * A batch's definition: its configuration read from the options (a
 * struct mf_config: the command line, a config file, the environment)
 * and its mailboxes from the CSV, with every password sealed as it is
 * read. The one mailbox configuration every path consumes: `batch
 * create` stores it, `batch add` and `batch update` read more rows for
 * an existing batch, and the embedded `migrate` creates its batch from it
 * before it runs it (core/src/batch/def.c explains the sealing).
 *
 * The programs own the option table (which options exist and their help
 * text) and how a problem is shown; this module owns what the options
 * mean.
 */
#ifndef MAILFERRY_BATCHDEF_H
#define MAILFERRY_BATCHDEF_H

#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/csv.h"
#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_config;
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
 * an admin or OAuth2 settings, mf_jobs_oauth_side()). Fills d->mbs,
 * d->lines and d->issues only. Same errors. */
MF_WARN_UNUSED mf_err mf_batchdef_read_rows(
    const char *name, const char *csv_path, const struct mf_batch_config *cfg,
    bool allow_unknown_columns, const struct mf_crypto_keyring *kr,
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

#endif
