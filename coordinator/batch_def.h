/*
 * A batch's definition from the command line and the CSV: what `batch
 * create` stores and what `migrate` (the embedded default) creates before
 * it runs the batch itself. One option table (core's MF_BATCHDEF_OPTIONS),
 * read by the core's one reader (mailferry/batchdef.h), so the two
 * commands take the same options the same way; this file only shows its
 * problems.
 */
#ifndef MF_BATCH_DEF_H
#define MF_BATCH_DEF_H

#include "cli.h"
#include "mailferry/batch.h"
#include "mailferry/batchdef.h"
#include "mailferry/crypto.h"
#include "mailferry/json.h"
#include "mailferry/migrate.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
int batch_def_read_rows(struct cli *cli, const char *command, const char *name,
                        const char *csv_path, const struct mf_batch_config *cfg,
                        const struct mf_crypto_keyring *kr,
                        struct mf_json *issues_json, struct mf_batchdef *d);

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
