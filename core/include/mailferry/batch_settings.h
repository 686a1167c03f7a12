/*
 * A batch's options that change over its life (`batch set`, and the
 * embedded `migrate` run again with other options): which may change,
 * the command line's options applied to a stored batch, and the history
 * of changes the workers watch (core/src/batch/settings.c,
 * settings_apply.c). Included by mailferry/batch.h.
 */
#ifndef MAILFERRY_BATCH_SETTINGS_H
#define MAILFERRY_BATCH_SETTINGS_H

#include "mailferry/err.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether mf_batch_set() can change option (its command-line name
 * without "--": "max-message-size", "max-attempts",
 * "incremental-every", "flag-conflict", "since", "before",
 * "sync-deletes", the connection caps "[target-]max-connections",
 * "...-per-user", "...-per-ip", "[target-]max-concurrent-mailboxes",
 * "[target-]max-bytes-per-second", the --throttle-* and --quota-* rules;
 * flag-conflict's
 * value is an enum mf_flag_conflict, stored and listed as its word, and
 * since's and before's a day as yyyymmdd, 0 for none, stored and listed
 * as "YYYY-MM-DD" or "none"). */
bool mf_batch_setting_known(const char *option);
/* A command line's options applied to a stored batch (`batch set`, the
 * embedded `migrate` run again; settings_apply.c). First the date window
 * the batch would have with the --since and --before of conf, refused
 * (MF_E_USAGE) when no day would be inside: */
struct mf_config;
MF_WARN_UNUSED mf_err mf_batch_settings_check_window(
    struct mf_redis *r, const char *batch, const struct mf_config *conf,
    struct mf_error *err);
/* then each option: when conf gives option and it may change
 * (mf_batch_setting_known() or mf_batch_rules_setting_known()), reads it
 * as the command line writes it (sizes with k/M/G, durations, a day or
 * "none", on/off, source/target, a comma list) and sets it with
 * mf_batch_set() or mf_batch_set_rules(); *set_r says whether it did,
 * *text_r the value as set (in buf, or borrowed from conf). Errors:
 * MF_E_USAGE or MF_E_CONFIG for a value that does not read (err names
 * it), and those of the setters. */
MF_WARN_UNUSED mf_err mf_batch_setting_apply(struct mf_redis *r,
                                             const char *batch,
                                             const struct mf_config *conf,
                                             const char *option, bool *set_r,
                                             const char **text_r, char *buf,
                                             size_t n, struct mf_error *err);

/* Sets option (see mf_batch_setting_known()) of an existing batch to
 * value and records the change in the batch's history, together. The
 * next job of each mailbox uses it (a pass retries what an earlier one
 * skipped as too large once the cap allows it). MF_E_NOT_FOUND,
 * MF_E_STATE while the batch is being removed, MF_E_USAGE for an option
 * that cannot change or a value out of range. */
MF_WARN_UNUSED mf_err mf_batch_set(struct mf_redis *r, const char *batch,
                                   const char *option, uint64_t value,
                                   struct mf_error *err);

/* Whether option is a folder rule list that mf_batch_set_rules() can
 * change: "include", "exclude", "rename". */
bool mf_batch_rules_setting_known(const char *option);

/* Replaces the folder rule list option (see
 * mf_batch_rules_setting_known()) of an existing batch with value, a
 * comma list as `batch create --include` and the rest take it ("" clears
 * the list), and records the change in the history as mf_batch_set()
 * does (the lists as comma lists, an empty one as "none"). The rules are
 * checked first as create checks them, with the batch's other rules:
 * MF_E_USAGE and the parser's reason when the workers could not use
 * them. Workers read the rules at each job: the next pass uses them. */
MF_WARN_UNUSED mf_err mf_batch_set_rules(struct mf_redis *r, const char *batch,
                                         const char *option, const char *value,
                                         struct mf_error *err);

/* One change made by mf_batch_set() or mf_batch_set_rules(); strings
 * borrowed for the call (values with spaces or '%' are kept %XX-encoded
 * in Redis and given here decoded). */
struct mf_batch_change {
    int64_t when; /* Unix seconds */
    const char *option, *old_value, *new_value;
};
typedef mf_err (*mf_batch_change_cb)(void *ud, const struct mf_batch_change *c);
/* How many changes the batch's history holds: a reader that cached the
 * configuration (the workers) reads it again when this has moved. */
MF_WARN_UNUSED mf_err mf_batch_changes_count(struct mf_redis *r,
                                             const char *batch, uint64_t *n_r,
                                             struct mf_error *err);
/* Calls cb for each change of the batch, oldest first. A non-zero return
 * from cb stops the walk and is returned. */
MF_WARN_UNUSED mf_err mf_batch_changes(struct mf_redis *r, const char *batch,
                                       mf_batch_change_cb cb, void *ud,
                                       struct mf_error *err);

#endif
