/*
 * What `mailferry batch status` and `batch list` show (core/src/status/):
 * a batch's state, counts, running and failed mailboxes, rates and ETAs,
 * each mailbox's history and what is pending for it, as text for a
 * terminal or as one JSON document; and a batch's OAuth2
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

/* What `batch status NAME` shows. */
struct mf_status_options {
    bool json;  /* one JSON document */
    bool watch; /* the progress display until the batch stops running */
    unsigned interval_ms; /* --watch: between redraws */
    /* --mailbox: a comma list of EmailAddresses shown in detail (their
     * failed messages tallied by error code), or NULL. */
    const char *mailboxes;
    /* --state: a comma list of mailbox states (any case) and groups
     * (running, pending, waiting, done): the mailboxes in them, one line
     * each (with mailboxes: those of the named ones), or NULL. */
    const char *states;
};

/* `batch status NAME`: prints the batch once: a summary (state, counts
 * by state, done of planned, rate and ETA by the progress module's
 * figures, failed mailboxes by error, the first running and failed
 * ones), or the mailboxes o->states or o->mailboxes select, each with
 * what it did and what is pending; as text or one JSON document. With
 * o->watch (and nothing else) the progress display (mailferry/
 * progress.h) every interval_ms, in place when stdout is a terminal, as
 * summary lines otherwise, until the batch no longer runs or *stop is
 * set. MF_E_USAGE for an unknown state or option mix, MF_E_NOT_FOUND for
 * a batch or named mailbox that does not exist. */
MF_WARN_UNUSED mf_err mf_status_show(struct mf_redis *r, const char *name,
                                     const struct mf_status_options *o,
                                     const atomic_bool *stop,
                                     struct mf_error *err);

/* `batch list` (and `batch status` without a name). */
MF_WARN_UNUSED mf_err mf_status_list(struct mf_redis *r, bool json,
                                     struct mf_error *err);

/* A batch's OAuth2 settings: the provider, tenant, client id, token URL
 * and token file of each side that has them, never the key (oauth.c). */
void mf_status_oauth_json(struct mf_json *j, const struct mf_batch_config *cfg);
void mf_status_oauth_text(FILE *out, const struct mf_batch_config *cfg);

/* The one-line answers of the batch commands (answers.c), as text or one
 * JSON object {"batch", ...} on out: what a pass queued (`batch start`,
 * `sync`, `complete`: "batch NAME: N jobs queued on TOPIC; state S", or
 * {"state", "jobs", "topic"}), and one word about the batch (`batch
 * stop`, `remove`: "batch NAME: TEXT", or {KEY: VALUE}). */
void mf_status_pass_print(FILE *out, bool json, const char *batch,
                          enum mf_batch_state st, uint64_t jobs,
                          const char *topic);
void mf_status_word_print(FILE *out, bool json, const char *batch,
                          const char *key, const char *value, const char *text);
/* `batch stop`'s answer: the state it left the batch in ("batch NAME:
 * Stopping (workers stop at the next message boundary)", or {"state"}). */
void mf_status_stop_print(FILE *out, bool json, const char *batch,
                          enum mf_batch_state st);

#endif
