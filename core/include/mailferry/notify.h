/*
 * Notifications (`mailferry serve --notify-url`): a JSON POST to an
 * admin's URL when something a person should hear about happens:
 *
 *   batch.state        a batch changed state (Syncing -> Synced, ...)
 *   mailbox.failed     a mailbox ended Failed (its attempts are used up)
 *   mailbox.synced     a mailbox finished its first full pass
 *   batch.stuck        a running batch has applied no result and no
 *                      progress for the stuck interval
 *
 * The payload (docs/operations.md, "Notifications"; version 1):
 *   {"version":1, "id":"<sender>-<seq>", "event":"batch.state",
 *    "time":"2026-12-05T15:04:05Z", "batch":"b1", ...event fields}
 * Event fields: batch.state: "state", "previous"; mailbox.failed:
 * "mailbox", "error_code", "error_name", "error_detail", "attempt";
 * mailbox.synced: "mailbox", "messages_copied", "bytes_copied";
 * batch.stuck: "state", "idle_seconds". Passwords and tokens are never
 * in it (error details are the servers' words, which never echo them).
 *
 * Delivery never blocks the caller: events go on a bounded queue that a
 * thread of the notifier drains; each POST is retried with exponential
 * backoff (1 s, 2 s, 4 s, ... up to the attempt limit), then given up.
 * With a secret, each request carries
 *   X-Mailferry-Signature: sha256=<hex HMAC-SHA256 of the body>
 * so the receiver can check it came from us. Counters go to /metrics.
 */
#ifndef MAILFERRY_NOTIFY_H
#define MAILFERRY_NOTIFY_H

#include "mailferry/err.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MF_NOTIFY_VERSION 1
#define MF_NOTIFY_QUEUE_MAX 10000
#define MF_NOTIFY_DEFAULT_ATTEMPTS 6
#define MF_NOTIFY_TIMEOUT_MS 10000

struct mf_notify_metrics {
    atomic_uint_fast64_t delivered; /* answered 2xx */
    atomic_uint_fast64_t retried;   /* attempts after the first */
    atomic_uint_fast64_t failed;    /* given up after every attempt */
    atomic_uint_fast64_t dropped;   /* the queue was full */
};

struct mf_notify_options {
    const char *url;       /* http:// or https://; borrowed */
    const char *ca_file;   /* NULL: the system's CAs */
    const uint8_t *secret; /* NULL: unsigned; borrowed, copied */
    size_t secret_len;
    const char *sender;                /* id prefix, e.g. the host name */
    unsigned attempts;                 /* 0: MF_NOTIFY_DEFAULT_ATTEMPTS */
    unsigned backoff_ms;               /* first retry wait (0: 1000), doubles */
    struct mf_notify_metrics *metrics; /* may be NULL */
};

struct mf_notifier;

/* Starts the delivery thread. */
MF_WARN_UNUSED mf_err mf_notifier_new(const struct mf_notify_options *o,
                                      struct mf_notifier **n_r,
                                      struct mf_error *err);
/* Stops the thread after trying what is queued for at most drain_ms,
 * frees n (accepts NULL; sets *n to NULL). */
void mf_notifier_free(struct mf_notifier **n, int drain_ms);

/* The notifier the options of `mailferry serve` ask for (options.c):
 * --notify-url, signed with the secret of --notify-secret-file (read
 * whole as every secret file is, mf_secret_file_read(), at most 4 KiB,
 * one trailing newline dropped), --notify-ca-file, this host's name as
 * the sender, counting into m. *n_r stays NULL without --notify-url.
 * Errors: MF_E_SECRET_FILE (the secret file, err naming it) and
 * mf_notifier_new()'s (after "--notify-url: "). */
struct mf_config;
MF_WARN_UNUSED mf_err mf_notifier_from_config(const struct mf_config *c,
                                              struct mf_notify_metrics *m,
                                              struct mf_notifier **n_r,
                                              struct mf_error *err);

/* Queues one event; never blocks. fields_json is the inside of a JSON
 * object (`"mailbox":"a@b","attempt":3`, or "" for none), appended after
 * the common fields. NULL n is a no-op. */
void mf_notify(struct mf_notifier *n, const char *event, const char *batch,
               const char *fields_json);

/* The whole body of one notification (pure, for tests and the thread):
 * returns a malloc'd JSON object. */
char *mf_notify_body(const char *id, const char *event, int64_t unix_time,
                     const char *batch, const char *fields_json);

/* "sha256=<64 hex>" of body under key, into out (at least 72 bytes). */
void mf_notify_sign(const uint8_t *key, size_t key_len, const char *body,
                    char *out, size_t out_len);

#endif
