/*
 * Planning a batch before it runs (docs/design.md §1 items 1 and 2, §3 "plan"):
 * what would be copied, how much of it, and how long it would take.
 *
 * The plan (mf_plan_mailbox(), mf_plan_batch()): per mailbox, log in to
 * the source (and the target when one is given, for its delimiter,
 * special-use folders and APPENDLIMIT; without a target the plan assumes
 * "/" and no special-use folders), build the folder plan (folderplan.h)
 * and measure every folder whose messages matter: the folders that would
 * be copied and the selectable ones that would not (excluded by a rule,
 * a preset or a limit). Sizes come from STATUS (MESSAGES SIZE) when the
 * server offers STATUS=SIZE (RFC 8438), with UID SEARCH LARGER for the
 * messages over the size cap; otherwise from EXAMINE plus a pipelined
 * UID FETCH 1:* (UID RFC822.SIZE), summed as the answers stream in, so
 * memory does not grow with the mailbox. Nothing is ever written: every
 * folder is opened read-only.
 *
 * Estimates (mf_estimate_*(), pure): from finished (test) batches, the
 * throughput one mailbox connection achieved (bytes and messages per
 * second, summed over Synced mailboxes); from it, the time the planned
 * mailboxes would take at several connection counts, the longest single
 * mailbox being a floor no number of connections beats, and batch sizes
 * that fit a time window.
 *
 * History (mf_plan_batch_digest()): reads a batch's records from Redis
 * (batch.h) into the figures above and the ones `batch compare` shows.
 *
 * Ownership: requests and options are borrowed during the call; results
 * own everything they point to and are freed with their _free()/_clear().
 */
#ifndef MAILFERRY_PLAN_H
#define MAILFERRY_PLAN_H

#include "mailferry/batch.h"
#include "mailferry/batchdef.h"
#include "mailferry/direct.h"
#include "mailferry/err.h"
#include "mailferry/folderplan.h"
#include "mailferry/json.h"
#include "mailferry/migrate.h"
#include "mailferry/oauth.h"
#include "mailferry/profile.h"
#include "mailferry/window.h"
#include "mailferry/redis.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Messages over the cap listed per mailbox; the rest are counted. */
#define MF_PLAN_OVERSIZE_MAX 10000

/* ------------------------------------------------------------------ */
/* The plan                                                            */
/* ------------------------------------------------------------------ */

enum mf_plan_size_method {
    MF_PLAN_SIZE_AUTO,   /* STATUS when the server has STATUS=SIZE */
    MF_PLAN_SIZE_STATUS, /* STATUS (MESSAGES SIZE); fails without it */
    MF_PLAN_SIZE_FETCH,  /* EXAMINE + UID FETCH 1:* (RFC822.SIZE) */
};
/* "auto", "status", "fetch"; parse returns false for anything else. */
const char *mf_plan_size_method_name(enum mf_plan_size_method m);
bool mf_plan_size_method_parse(const char *s, enum mf_plan_size_method *m_r);

/* Called when a mailbox has been planned, from the thread that planned
 * it, one call at a time (under a lock). mb is borrowed for the call. */
struct mf_plan_mailbox;
typedef void (*mf_plan_mailbox_cb)(void *ud, size_t index,
                                   const struct mf_plan_mailbox *mb);

struct mf_plan_options {
    const struct mf_migrate_server *source; /* required */
    const struct mf_migrate_server *target; /* NULL: no target */
    const struct mf_folder_rules *rules;    /* NULL: defaults */
    /* The target's profile (NULL: generic): its folder-name rules map
     * the plan's names as the copy will (mailferry/profile.h). */
    const struct mf_profile *target_profile;
    /* The source's profile (NULL: generic): how to log in there (SASL
     * PLAIN on Exchange Server), as the copy does. */
    const struct mf_profile *source_profile;
    /* Messages above this would be skipped (0: 35 MB); the target's
     * APPENDLIMIT lowers it, as in the copy engine. */
    uint64_t max_message_size;
    enum mf_plan_size_method size_method;
    /* The date window (mailferry/window.h): messages outside it are
     * counted apart (outside), not as to copy. A window needs each
     * message's INTERNALDATE: sizes are then measured by FETCH. */
    struct mf_window window;
    unsigned concurrency;    /* mf_plan_batch(): mailboxes at a time (0: 4) */
    const atomic_bool *stop; /* set: mailboxes not begun fail CANCELLED */
    mf_plan_mailbox_cb on_mailbox; /* optional */
    void *ud;
};

/* One mailbox to plan. Borrowed. target is ignored without a target
 * server. */
struct mf_plan_request {
    const char *email;
    struct mf_migrate_login source, target;
};

struct mf_plan_counts {
    uint64_t messages, bytes;
};

/* The measurements of one folder plan entry (same index). */
struct mf_plan_folder {
    bool measured;                  /* false: not looked at (see below) */
    struct mf_plan_counts total;    /* what the folder holds */
    struct mf_plan_counts oversize; /* of which over the cap (inside) */
    struct mf_plan_counts outside;  /* of which outside the window */
    struct mf_error error;          /* why it could not be measured */
};

/* A message over the size cap. */
struct mf_plan_oversize {
    char *folder; /* owned: the decoded source path */
    uint32_t uid;
    uint64_t size;
};

struct mf_plan_totals {
    uint32_t mailboxes;    /* planned (batch totals only) */
    uint32_t folders_copy; /* COPY entries */
    uint32_t folders_container;
    uint32_t folders_excluded; /* EXCLUDED entries with a source folder */
    uint32_t folders_renamed;  /* delimiter replaced or collision */
    uint32_t folders_special_use;
    uint32_t over_quota;            /* mailboxes whose plan does not fit */
    struct mf_plan_counts source;   /* every measured folder */
    struct mf_plan_counts copy;     /* COPY folders, under the cap and
                                       inside the window */
    struct mf_plan_counts oversize; /* COPY folders, over the cap */
    struct mf_plan_counts outside;  /* COPY folders, outside the window */
    struct mf_plan_counts excluded; /* excluded and container folders */
};

/* The target's quota on INBOX (GETQUOTAROOT, RFC 9208), when the target
 * advertises QUOTA: the tightest root for storage and for messages, and
 * whether what the plan would copy fits in what is left. */
struct mf_plan_quota {
    bool checked;                         /* asked and answered */
    bool has_storage;                     /* a STORAGE limit was reported */
    bool has_messages;                    /* a MESSAGE limit was reported */
    uint64_t storage_used, storage_limit; /* bytes (RFC 9208: KiB units) */
    uint64_t messages_used, messages_limit;
    uint64_t bytes_short;    /* planned bytes that do not fit (0: fit) */
    uint64_t messages_short; /* planned messages that do not fit */
    struct mf_error error;   /* why it could not be read (not fatal) */
};

struct mf_plan_mailbox {
    char *email;           /* owned */
    struct mf_error error; /* MF_E_OK: planned completely */
    /* The folder plan (NULL when login or LIST failed) and one
     * measurement per entry. Owned. */
    struct mf_folder_plan *plan;
    struct mf_plan_folder *folders;
    enum mf_plan_size_method method; /* STATUS or FETCH, as used */
    bool target_checked;             /* the target was logged in to */
    char src_delim, tgt_delim;
    uint64_t appendlimit;              /* the target's, 0: none */
    uint64_t max_message_size;         /* the cap applied */
    struct mf_window window;           /* the window applied */
    struct mf_plan_quota quota;        /* the target's (target given) */
    struct mf_plan_oversize *oversize; /* owned; at most OVERSIZE_MAX */
    size_t n_oversize;
    struct mf_plan_totals totals;
    double seconds;
};

/* Plans one mailbox (connects, lists, measures, logs out). Returns
 * MF_E_OK when everything was measured; otherwise the first error, also
 * in res->error (a folder that could not be measured names itself in the
 * detail; the others are still measured). res is always filled; clear it
 * with mf_plan_mailbox_clear(). */
MF_WARN_UNUSED mf_err mf_plan_mailbox(const struct mf_plan_options *o,
                                      const struct mf_plan_request *req,
                                      struct mf_plan_mailbox *res);
void mf_plan_mailbox_clear(struct mf_plan_mailbox *res);
/* One mailbox's folder plan alone: logs in, lists both sides and builds
 * the folder plan exactly as mf_plan_mailbox() (and the copy engine) do,
 * measuring nothing. res gets the email, error, plan, target_checked and
 * the delimiters; clear it with mf_plan_mailbox_clear(). `endpoint test`
 * warns with it about every name the target refuses (one rule with
 * `plan`). */
MF_WARN_UNUSED mf_err mf_plan_folders(const struct mf_plan_options *o,
                                      const struct mf_plan_request *req,
                                      struct mf_plan_mailbox *res);

struct mf_plan_batch {
    struct mf_plan_mailbox *mailboxes; /* owned: n, in request order */
    size_t n;
    size_t n_planned, n_failed;
    struct mf_plan_totals totals; /* over the planned mailboxes */
    size_t largest;               /* index of the largest planned one */
    bool has_target;
    uint64_t max_message_size; /* as requested (0 read as 35 MB) */
    struct mf_window window;
    enum mf_plan_size_method size_method;
    /* The admin's --rename rules that match no folder of any planned
     * mailbox, each as mf_folder_rename_unmatched_why() words. Owned. */
    char **rename_warnings;
    size_t n_rename_warnings;
    double seconds;
};

/* Plans n mailboxes, o->concurrency at a time, each as
 * mf_plan_mailbox(); a mailbox that fails does not stop the others.
 * *batch_r is new (free with mf_plan_batch_free()). Returns MF_E_OK when
 * the batch could be planned at all, even if mailboxes failed (see
 * n_failed); MF_E_INVALID_ARGUMENT for a missing source. This is what
 * `mailferry plan` and `batch create --dry-run` call. */
MF_WARN_UNUSED mf_err mf_plan_batch(const struct mf_plan_options *o,
                                    const struct mf_plan_request *reqs,
                                    size_t n, struct mf_plan_batch **batch_r,
                                    struct mf_error *err);
void mf_plan_batch_free(struct mf_plan_batch **b);

/* A progress line for mf_plan_batch() (progress.c): set o->on_mailbox to
 * mf_plan_progress_cb and o->ud to a struct mf_plan_progress; with draw,
 * "planned N/M: EMAIL" is redrawn in place on out and erased after the
 * last mailbox. */
struct mf_plan_progress {
    FILE *out;
    size_t done, n;
    bool draw; /* e.g. out is a terminal */
};
void mf_plan_progress_cb(void *ud, size_t index,
                         const struct mf_plan_mailbox *mb);

/* The requests of n mailboxes with the logins a process that connects
 * itself uses (mf_jobs_direct_logins()), and the strings they own. */
struct mf_csv_mailbox;
struct mf_jobs_direct_side;
struct mf_batchdef;
struct mf_plan_requests {
    struct mf_plan_request *v; /* owned, n */
    size_t n;
    char **owned; /* owned, 4 per request */
};
/* One request per CSV row, logged in as sides[0] (source) and sides[1]
 * (target) say; the rows and sides are borrowed by *r_r, which is
 * overwritten (free with mf_plan_requests_free()). */
void mf_plan_requests_csv(const struct mf_jobs_direct_side *sides,
                          const struct mf_csv_mailbox *rows, size_t n,
                          struct mf_plan_requests *r_r);
void mf_plan_requests_free(struct mf_plan_requests *r);
/* `batch create --dry-run`: plans every mailbox of d, a definition read
 * without a keyring (its blobs hold clear passwords), on the batch's
 * servers with its folder rules, size cap and window, logged in as its
 * jobs will be; concurrency mailboxes at a time. *batch_r as
 * mf_plan_batch(). Errors: the servers' and rules' (err says which) and
 * mf_plan_batch()'s, its detail after "plan: ". */
MF_WARN_UNUSED mf_err mf_plan_batchdef(const struct mf_batchdef *d,
                                       unsigned concurrency,
                                       struct mf_plan_batch **batch_r,
                                       struct mf_error *err);

/* What `batch create --dry-run` answers for d and its plan pb: what
 * would be created (mf_batch_config_print()) and the plan, as text, or as
 * one JSON object {"batch", "dry_run", "source", "target", "mailboxes",
 * "mailbox_list", "plan"} and a newline. */
void mf_plan_batchdef_print(FILE *out, bool json, const struct mf_batchdef *d,
                            const struct mf_plan_batch *pb);

/* Adds a mailbox's totals into sum (the batch totals). */
void mf_plan_totals_add(struct mf_plan_totals *sum,
                        const struct mf_plan_totals *t);

/* Output. The text form is a table per mailbox (source folder, target
 * folder, messages, bytes, over the cap, notes), the messages over the
 * cap, then a batch summary. The JSON form is one object value:
 * {"max_message_size", "size_method", "has_target", "mailboxes":[...],
 *  "totals":{...}, "planned", "failed", "seconds"}. */
void mf_plan_batch_print(FILE *out, const struct mf_plan_batch *b);
void mf_plan_mailbox_print(FILE *out, const struct mf_plan_mailbox *mb);
void mf_plan_batch_to_json(const struct mf_plan_batch *b, struct mf_json *j);
void mf_plan_mailbox_to_json(const struct mf_plan_mailbox *mb,
                             struct mf_json *j);
void mf_plan_totals_to_json(const struct mf_plan_totals *t, struct mf_json *j);

/* "1.5 GB", "980 KB", "12 B" (powers of 1000, one decimal). */
void mf_plan_format_bytes(char *out, size_t n, uint64_t bytes);
/* "2h 05m", "3m 07s", "42s", "1d 02h". */
void mf_plan_format_duration(char *out, size_t n, double seconds);

/* ------------------------------------------------------------------ */
/* Estimates (pure: estimate.c)                                        */
/* ------------------------------------------------------------------ */

/* The throughput of one mailbox connection, measured over finished
 * mailboxes: sum of copied bytes (messages) / sum of their durations. */
struct mf_estimate_rate {
    uint64_t mailboxes;         /* the sample it is based on */
    uint64_t ignored;           /* not Synced, or no duration */
    uint64_t bytes, messages;   /* copied, summed */
    double seconds;             /* durations, summed */
    double bytes_per_second;    /* per connection; 0: unknown */
    double messages_per_second; /* per connection */
    uint32_t peak_concurrency;  /* most mailboxes running at once */
};

/* Adds one finished mailbox (synced false, or seconds <= 0, counts it as
 * ignored) and recomputes the rates. */
void mf_estimate_rate_add(struct mf_estimate_rate *r, bool synced,
                          uint64_t bytes, uint64_t messages, double seconds);
/* Merges b into a (several test batches), peak concurrency the larger. */
void mf_estimate_rate_merge(struct mf_estimate_rate *a,
                            const struct mf_estimate_rate *b);

/* The time one mailbox takes over one connection: the larger of
 * bytes / bytes_per_second and messages / messages_per_second, so that a
 * mailbox of many small messages is not estimated by its bytes alone.
 * 0 when the rate is unknown. */
double mf_estimate_mailbox_seconds(const struct mf_estimate_rate *r,
                                   uint64_t bytes, uint64_t messages);

/* Mailbox intervals [start, end) in seconds: the most that overlap. */
struct mf_estimate_interval {
    int64_t start, end;
};
uint32_t mf_estimate_peak_overlap(const struct mf_estimate_interval *v,
                                  size_t n);

/* One connection count's estimate. */
struct mf_estimate_point {
    unsigned connections;
    double seconds;    /* max(work / connections, longest mailbox) */
    bool floor;        /* the longest mailbox decides */
    bool extrapolated; /* more connections than the test batch used */
    bool over_limit;   /* above max_connections: shown, never suggested */
};

/* Batch sizes for a time window at the suggested connection count. */
struct mf_estimate_window {
    double seconds; /* the window; 0: none asked */
    unsigned connections;
    uint64_t per_window;     /* mailboxes of the average planned size */
    uint64_t batches;        /* the planned list cut in order into windows */
    uint64_t largest_batch;  /* mailboxes in the biggest of those */
    uint64_t too_long;       /* mailboxes longer than the window alone */
    double bytes_per_window; /* at the measured rate */
};

struct mf_estimate {
    size_t n_mailboxes;
    uint64_t bytes, messages;
    double work_seconds;    /* all mailboxes over one connection */
    double longest_seconds; /* the longest single mailbox */
    size_t longest_index;
    struct mf_estimate_point *points; /* owned */
    size_t n_points;
    unsigned suggested_connections;
    struct mf_estimate_window window;
};

/* One planned mailbox. */
struct mf_estimate_job {
    uint64_t bytes, messages;
};

/* Connection counts used when none are given. */
#define MF_ESTIMATE_DEFAULT_CONNECTIONS                                        \
    { 1, 2, 4, 8, 16, 32 }

/* Estimates n jobs at each of the n_conns connection counts (sorted and
 * deduplicated in the result; 0 is refused). The suggestion is the
 * fewest connections, not above max_connections (0: no limit), whose
 * time is within 10 % of the best time allowed: beyond it the longest
 * mailbox dominates and more connections only load the server. With
 * window_seconds > 0, also the batch sizes for that window at the
 * suggested count. MF_E_INVALID_ARGUMENT when the rate is unknown (no
 * usable mailbox) or a count is 0. *est_r is filled; clear it with
 * mf_estimate_clear(). */
MF_WARN_UNUSED mf_err mf_estimate_compute(
    const struct mf_estimate_rate *rate, const struct mf_estimate_job *jobs,
    size_t n, const unsigned *conns, size_t n_conns, unsigned max_connections,
    double window_seconds, struct mf_estimate *est_r, struct mf_error *err);
void mf_estimate_clear(struct mf_estimate *est);

/* Parses "1,2,4,8" into a new array (*v_r, *n_r); MF_E_USAGE on junk, 0,
 * more than 64 entries or a value above 100000. */
MF_WARN_UNUSED mf_err mf_estimate_parse_connections(const char *s,
                                                    unsigned **v_r, size_t *n_r,
                                                    struct mf_error *err);

/* Output: the rate, the table of connection counts, the suggestion and
 * the window. names[i] is the email of job i (for the longest mailbox),
 * or NULL. JSON: one object value. */
void mf_estimate_print(FILE *out, const struct mf_estimate_rate *rate,
                       const struct mf_estimate *est, const char *const *names);
void mf_estimate_to_json(const struct mf_estimate_rate *rate,
                         const struct mf_estimate *est,
                         const char *const *names, struct mf_json *j);

/* ------------------------------------------------------------------ */
/* Batch history (Redis)                                               */
/* ------------------------------------------------------------------ */

/* What a batch's records say about how it ran. */
struct mf_plan_digest {
    char name[65];
    char state[32];   /* batch state name */
    char source[256]; /* endpoint URL */
    uint64_t mailboxes;
    uint64_t counts[MF_MAILBOX_STATE_COUNT]; /* by mailbox state */
    uint64_t bytes_copied, messages_copied;
    uint64_t bytes_source, messages_source;
    uint64_t skipped_too_large, failed_items;
    uint64_t errors;                  /* mailboxes with an error recorded */
    uint64_t attempts;                /* claims over all passes */
    int64_t first_start, last_finish; /* Unix seconds; 0: none */
    double sum_seconds;               /* mailbox durations, summed */
    struct mf_estimate_rate rate;     /* per connection, Synced mailboxes */
    /* Connections: the batch's caps (0: none) and the most mailboxes
     * that ran at once. */
    uint32_t cap_connections, cap_per_user, cap_per_ip, cap_mailboxes;
    uint32_t peak_concurrency;
    bool running; /* not finished yet: figures may still change */
};

/* Reads batch name's records. MF_E_NOT_FOUND if there is no such
 * batch. */
MF_WARN_UNUSED mf_err mf_plan_batch_digest(struct mf_redis *r, const char *name,
                                           struct mf_plan_digest *d_r,
                                           struct mf_error *err);
/* Whole seconds from the first start to the last finish (0: unknown). */
int64_t mf_plan_digest_duration(const struct mf_plan_digest *d);
void mf_plan_digest_to_json(const struct mf_plan_digest *d, struct mf_json *j);
/* `batch compare`: n digests side by side, as a table with a column per
 * batch (and a note for each batch still running), or as one JSON object
 * {"batches": [digest...]} (compare.c); print writes the table, or with
 * json the object and a newline. */
void mf_plan_compare_print(FILE *out, bool json, const struct mf_plan_digest *d,
                           size_t n);
void mf_plan_compare_to_json(const struct mf_plan_digest *d, size_t n,
                             struct mf_json *j);

/* ------------------------------------------------------------------ */
/* The forecast: a plan with test batches (forecast.c)                 */
/* ------------------------------------------------------------------ */

/* What `mailferry plan --from-batch` adds to a plan: the test batches'
 * digests, their merged rate and the estimate of the planned mailboxes
 * from it. Owns everything; clear with mf_plan_forecast_clear(). */
struct mf_plan_forecast {
    struct mf_plan_digest *digests; /* owned: the test batches read */
    size_t n_digests;
    struct mf_estimate_rate rate; /* merged over the test batches */
    bool has_estimate;            /* est is set */
    struct mf_estimate est;
    const char **names; /* owned array: the estimated mailboxes' emails,
                           borrowed from the plan */
};

/* Reads the n test batches from the Redis at redis_url into f (zeroed
 * first), merging their rates; f->n_digests counts those read, also on
 * error (a digest's running flag says its figures may still change).
 * Errors (err's detail names what): Redis unreachable, a test batch
 * missing (MF_E_NOT_FOUND), and MF_E_NOT_FOUND when no test batch has a
 * Synced mailbox with a duration to estimate from. */
MF_WARN_UNUSED mf_err mf_plan_forecast_read(struct mf_plan_forecast *f,
                                            const char *redis_url,
                                            const char *const *batches,
                                            size_t n, struct mf_error *err);
/* Estimates the mailboxes of b that could be planned (the failed ones
 * are listed as failed) at the connection counts conns (NULL: the
 * defaults), as mf_estimate_compute(). */
MF_WARN_UNUSED mf_err mf_plan_forecast_estimate(
    struct mf_plan_forecast *f, const struct mf_plan_batch *b,
    const unsigned *conns, size_t n_conns, unsigned max_connections,
    double window_seconds, struct mf_error *err);
/* The plan b and, when f (may be NULL) has an estimate, the test batches
 * and the estimate: as text, or as one JSON object {"source", "target",
 * "plan", "from_batches", "estimate"} (source and target: the URLs as
 * given, or NULL; print with json writes it and a newline). */
void mf_plan_forecast_print(FILE *out, bool json, const struct mf_plan_batch *b,
                            const struct mf_plan_forecast *f,
                            const char *source, const char *target);
void mf_plan_forecast_to_json(const struct mf_plan_batch *b,
                              const struct mf_plan_forecast *f,
                              const char *source, const char *target,
                              struct mf_json *j);
void mf_plan_forecast_clear(struct mf_plan_forecast *f);

/* ------------------------------------------------------------------ */
/* `plan`'s options (plan/options.c)                                   */
/* ------------------------------------------------------------------ */

/* What `plan` reads from its options: the servers and logins
 * (mf_direct_connect_read(), --target optional), the folder rules
 * (--include, --exclude, --rename, --separator-replacement), the plan's
 * options (--concurrency, --max-message-size lowered by the target
 * profile's limit, --size-method, --since and --before), and the
 * estimate from test batches (--from-batch with --redis, --connections,
 * --max-connections, --window, which need --from-batch). po points into
 * the rest: do not copy the struct. */
struct mf_plan_settings {
    struct mf_plan_options po; /* stop, on_mailbox and ud are the caller's */
    struct mf_direct_connect c;
    struct mf_folder_rules *rules; /* owned */
    char **batches;                /* owned, n_batches: the test batches */
    size_t n_batches;
    const char *redis; /* borrowed from the options, or NULL */
    unsigned *conns;   /* owned, n_conns; NULL: the defaults */
    size_t n_conns;
    uint64_t max_connections, window_s; /* 0: no limit, no window */
};

/* Adds the test batches of a comma list (one value of --from-batch, which
 * may repeat: the program collects them) to s, zeroed before the first
 * call. */
void mf_plan_settings_add_batches(struct mf_plan_settings *s, const char *list);
/* Reads the rest of s (zeroed, or with test batches added; without them
 * the "from-batch" option is read) from conf; the first problem is
 * returned with err set. Free s with mf_plan_settings_free() in any
 * case. */
MF_WARN_UNUSED mf_err mf_plan_settings_read(const struct mf_config *conf,
                                            struct mf_plan_settings *s,
                                            struct mf_error *err);
void mf_plan_settings_free(struct mf_plan_settings *s);

/* `plan`'s option table entries (struct mf_option, mailferry/args.h):
 * what mf_plan_settings_read() reads, with --allow-unknown-columns of
 * the CSV (mf_csv_rows_load()). */
#define MF_PLAN_OPTIONS                                                        \
    {"source", true,                                                           \
     "source server: imaps://host[:port], imap://host[:port] "                 \
     "(STARTTLS) or imap://host:port/?tls=off"},                               \
        {"target", true,                                                       \
         "target server (for its separator, special-use folders and "          \
         "APPENDLIMIT); without it the plan assumes \"/\" and no "             \
         "special-use"},                                                       \
        {"concurrency", true,                                                  \
         "mailboxes planned at the same time (default " MF_STR(                \
             MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},                             \
        MF_BATCHDEF_LOGIN_OPTIONS,                                             \
        {"bind-address", true, "local address for outgoing connections"},      \
        {"max-message-size", true,                                             \
         "messages larger than this would be skipped (35M; the target's "      \
         "APPENDLIMIT lowers it)"},                                            \
        {"include", true,                                                      \
         "copy only folders matching these patterns (comma separated, e.g. "   \
         "INBOX,Archive/*)"},                                                  \
        {"exclude", true, "do not copy folders matching these patterns"},      \
        {"rename", true, MF_FOLDER_RENAME_HELP},                               \
        {"separator-replacement", true,                                        \
         "replaces the target's hierarchy separator inside folder names (_)"}, \
        {"size-method", true,                                                  \
         "auto (STATUS=SIZE when offered, else FETCH), status or fetch"},      \
        {"since", true,                                                        \
         "count apart the messages whose INTERNALDATE is before this day "     \
         "(YYYY-MM-DD): what a pre-staging pass leaves for later"},            \
        {"before", true,                                                       \
         "count apart the messages whose INTERNALDATE is on or after this "    \
         "day (YYYY-MM-DD)"},                                                  \
        {"allow-unknown-columns", false,                                       \
         "ignore CSV columns mailferry ignores"},                              \
        {"from-batch", true,                                                   \
         "estimate from this finished test batch (repeatable, or comma "       \
         "separated)"},                                                        \
        {"connections", true,                                                  \
         "connection counts to estimate (default 1,2,4,8,16,32)"},             \
        {"max-connections", true,                                              \
         "connections the source tolerates: never suggest more"},              \
        {"window", true, "suggest batch sizes that finish within this (8h)"},  \
        MF_PROFILE_OPTIONS,                                                    \
        {"gmail-archive-folder", true,                                         \
         "with --source-profile gmail: where mail only in All Mail goes"},     \
        MF_OAUTH_OPTIONS,

#endif
