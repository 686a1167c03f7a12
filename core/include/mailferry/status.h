/*
 * What `mailferry batch status` and `batch list` show (core/src/status/):
 * a batch's state, counts, running and failed mailboxes, rates and ETAs,
 * as text for a terminal or as one JSON document; and a batch's OAuth2
 * settings (never a key) for `batch create` and `batch status`.
 *
 * Output goes to stdout; errors come back in err, for the program to
 * print once.
 */
#ifndef MAILFERRY_STATUS_H
#define MAILFERRY_STATUS_H

#include "mailferry/batch.h"
#include "mailferry/err.h"
#include "mailferry/json.h"
#include "mailferry/redis.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* `batch status NAME`: prints the batch once; with watch (and not
 * json) the progress display (mailferry/progress.h) every interval_ms,
 * in place when stdout is a terminal, as summary lines otherwise, until
 * the batch no longer runs or *stop is set. json: one JSON document (no
 * watching). */
MF_WARN_UNUSED mf_err mf_status_show(struct mf_redis *r, const char *name,
                                     bool json, bool watch,
                                     unsigned interval_ms,
                                     const atomic_bool *stop,
                                     struct mf_error *err);

/* `batch list` (and `batch status` without a name). */
MF_WARN_UNUSED mf_err mf_status_list(struct mf_redis *r, bool json,
                                     struct mf_error *err);

/* A batch's OAuth2 settings: the provider, tenant, client id, token URL
 * and token file of each side that has them, never the key (oauth.c). */
void mf_status_oauth_json(struct mf_json *j, const struct mf_batch_config *cfg);
void mf_status_oauth_text(FILE *out, const struct mf_batch_config *cfg);

#endif
