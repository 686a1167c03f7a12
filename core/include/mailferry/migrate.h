/*
 * The migration engine: copies one mailbox from a source IMAP server to a
 * target IMAP server completely, exactly once, and fast (docs/design.md section
 * 8). The programs call mf_migrate_mailbox() once per mailbox (per job);
 * it connects, plans the folders, creates them, copies every folder and
 * returns the statistics and the per-message lists the report shows.
 *
 * Per folder: the source is read by a second thread (pipelined UID FETCH
 * of BODY.PEEK[]) while this thread appends to the target (MULTIAPPEND
 * batches or one streamed APPEND per big message), with a bounded queue
 * between them. A checkpoint per folder (Redis, or memory when no Redis is
 * given) makes re-runs copy only new messages; after an interrupted run
 * the messages already on the target are recognised by fingerprint
 * (Message-ID, size, INTERNALDATE), only among the target UIDs the
 * checkpoint says can be new (APPENDUID keeps that window small). An
 * incremental pass (a folder with a clean checkpoint) also carries flag
 * changes over.
 *
 * Errors of class RETRY and RECONNECT (throttling, dropped connections,
 * Redis away) are retried with exponential backoff and jitter, honouring
 * a server's suggested wait, up to max_attempts; others end the mailbox
 * (authentication, TLS, a missing mailbox). One bad message fails only
 * itself and is listed in the result.
 */
#ifndef MAILFERRY_MIGRATE_H
#define MAILFERRY_MIGRATE_H

#include "mailferry/caps.h"
#include "mailferry/endpoint.h"
#include "mailferry/err.h"
#include "mailferry/folderplan.h"
#include "mailferry/profile.h"
#include "mailferry/redis.h"
#include "mailferry/window.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default cap on a message's size: Exchange Online's 35 MB. */
#define MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE ((uint64_t)35 * 1000 * 1000)
/* Tries per mailbox when it is migrated in this process (migrate
 * --direct); a batch's jobs have MF_BATCH_DEFAULT_ATTEMPTS per pass. */
#define MF_MIGRATE_DEFAULT_ATTEMPTS 5
/* UIDs listed at a time (mf_migrate_options.uid_window): about 1.5 MB
 * of metadata per side for a window of small messages. */
#define MF_MIGRATE_UID_WINDOW 10000
/* Mailboxes one process migrates, plans or verifies at the same time. */
#define MF_MIGRATE_DEFAULT_CONCURRENCY 4
/* Seconds a server may take to answer one command (--command-timeout). */
#define MF_MIGRATE_DEFAULT_COMMAND_TIMEOUT_S 300

/* One server as the admin described it. Borrowed. */
struct mf_migrate_server {
    struct mf_endpoint endpoint;
    const char *ca_file;      /* NULL: the system store */
    bool insecure;            /* no certificate verification */
    const char *bind_address; /* local address, or NULL */
    long connect_timeout_ms;  /* 0: 30 s */
    long io_timeout_ms;       /* 0: 120 s */
    /* A command unanswered this long (plus time for its bytes) breaks
     * the connection with SERVER_TOO_SLOW; 0: 300 s. */
    long command_timeout_ms;
};

/* How to log in to one side for one mailbox. Borrowed; the engine never
 * keeps or logs the password. */
struct mf_oauth;
struct mf_migrate_login {
    const char *user;     /* login name (the admin's with authzid) */
    const char *password; /* NULL with oauth_token */
    const char *authzid;  /* SASL PLAIN impersonation, or NULL */
    const char *oauth_token;
    /* Source only: the CSV's UserRoot, the folder whose children are the
     * user's folders when the login sees many users' (a shared
     * namespace); NULL: the login's own mailbox. */
    const char *user_root;
    /* Or a token per connection from here (mailferry/oauth.h). */
    struct mf_oauth *oauth;    /* borrowed, or NULL */
    const char *oauth_mailbox; /* whose token; NULL: user */
};

/* What a run waits for under the fleet-wide caps (mailferry/caps.h). */
enum mf_migrate_wait {
    MF_MIGRATE_WAIT_NONE,    /* nothing: it holds what it needs */
    MF_MIGRATE_WAIT_SOURCE,  /* a source connection slot */
    MF_MIGRATE_WAIT_TARGET,  /* a target connection slot */
    MF_MIGRATE_WAIT_MAILBOX, /* a slot in the source's mailbox cap */
};
#define MF_MIGRATE_WAIT_COUNT 4
/* "none", "source", "target", "mailbox". */
const char *mf_migrate_wait_name(enum mf_migrate_wait w);

/* A run's connections under the caps at one moment: the connection
 * leases it holds on each side and what it waits for, the cap that was
 * full when it last tried and how long it has waited so far. All 0
 * without caps: no lease is taken, nothing is waited for. */
struct mf_migrate_conns {
    uint32_t source_held, target_held;
    enum mf_migrate_wait waiting;
    enum mf_caps_cap cap; /* MF_CAPS_CAP_NONE: Redis away, or no wait */
    uint64_t waiting_ms;
};

/* Live counters of a running mailbox: updated by the engine, read by a
 * progress display in another thread. */
struct mf_migrate_progress {
    _Atomic uint64_t messages_total;  /* to copy, known so far */
    _Atomic uint64_t messages_done;   /* copied, present, skipped, failed */
    _Atomic uint64_t messages_copied; /* of those, copied */
    _Atomic uint64_t bytes_done;      /* bytes copied */
    _Atomic uint64_t bytes_total;     /* bytes of messages_total */
    _Atomic uint32_t folders_done;
    _Atomic uint32_t folders_total;
    /* The caps (mf_migrate_progress_conns() reads them): connection
     * leases held per side, what it waits for now (enum
     * mf_migrate_wait), the cap found full (enum mf_caps_cap) and since
     * when (mf_caps_now_ms()). */
    _Atomic uint32_t source_held, target_held;
    _Atomic uint32_t waiting, waiting_cap;
    _Atomic uint64_t waiting_since_ms;
};

/* The connections of p now (a run in another thread may change them
 * meanwhile: each field is read once). */
void mf_migrate_progress_conns(const struct mf_migrate_progress *p,
                               struct mf_migrate_conns *c_r);

/* Fleet-wide caps (docs/design.md §7), shared through Redis by every process
 * that migrates from the same servers. Borrowed. */
struct mf_migrate_caps {
    const char *redis_url; /* where leases and buckets live */
    struct mf_caps_limits source, target;
    uint64_t source_bytes_per_second, target_bytes_per_second; /* 0: none */
    const char *egress_ip; /* per-IP identity; NULL: the local address
                              toward each server (--bind-address if set) */
    const char *holder;    /* "host/pid", shown in Redis */
    long ttl_ms;           /* lease TTL; 0: 30 s */
};

struct mf_fence;   /* mailferry/fence.h */
struct mf_profile; /* mailferry/profile.h */

struct mf_migrate_options {
    const struct mf_migrate_server *source, *target;
    /* NULL: default rules. */
    const struct mf_folder_rules *rules;
    /* Messages above this are skipped and listed (0: 35 MB); the
     * target's APPENDLIMIT lowers it further. */
    uint64_t max_message_size;
    /* Checkpoints: in Redis under batch when redis is set; in memory
     * (lost at exit) otherwise. */
    struct mf_redis *redis;
    const char *batch;
    unsigned
        max_attempts; /* tries per mailbox (0: MF_MIGRATE_DEFAULT_ATTEMPTS) */
    uint32_t backoff_ms;     /* first backoff (0: 1000); doubles, +-25 % */
    uint32_t max_backoff_ms; /* (0: 60000) */
    /* Tuning (0: defaults). */
    unsigned batch_messages;    /* per MULTIAPPEND (1000; 50 without) */
    size_t batch_bytes;         /* per MULTIAPPEND (1 MiB) */
    unsigned appends_in_flight; /* MULTIAPPEND commands in flight (4) */
    size_t pipe_bytes;          /* reader-to-writer queue (2 MiB) */
    uint64_t stream_threshold;  /* bigger bodies stream (256 KiB) */
    /* UIDs a folder's listing, recognition and flag sync take at a time
     * (MF_MIGRATE_UID_WINDOW): memory follows the window, not the
     * folder (issue 14 item 5). */
    uint32_t uid_window;
    /* Set (by a signal handler, a stop command) to stop at the next
     * message boundary with a checkpoint; the result is then
     * MF_E_CANCELLED. May be NULL. */
    const atomic_bool *stop;
    /* Optional live counters. */
    struct mf_migrate_progress *progress;
    /* Connection and bandwidth caps; NULL: none. */
    const struct mf_migrate_caps *caps;
    /* The job's claim (mailferry/fence.h), NULL: none. Once it no longer
     * holds, the engine's connections are aborted, nothing more is sent,
     * and checkpoints are written as a compare-and-set on its claim. */
    struct mf_fence *fence;
    /* A flag changed on both sides since mailferry last synced it, or
     * any difference on a message whose last synced flags are unknown:
     * which side wins (three-way flag merge on incremental passes). */
    enum mf_flag_conflict {
        MF_FLAG_CONFLICT_DEFAULT = 0, /* target; source when unknown */
        MF_FLAG_CONFLICT_SOURCE,
        MF_FLAG_CONFLICT_TARGET,
    } flag_conflict;
    /* Provider profiles (mailferry/profile.h), NULL: generic. The engine
     * takes from them what the options above leave unset: the target's
     * size limit (when max_message_size is 0), one APPEND per message
     * instead of MULTIAPPEND, and the caps of each side (a cap left 0 in
     * caps). Folder rules and login templates come from them in the
     * callers (mf_profile_folder_rules()). */
    const struct mf_profile *source_profile, *target_profile;
    /* --fingerprint: when fingerprint_set, this mode instead of the
     * target profile's (docs/profiles.md). */
    bool fingerprint_set;
    enum mf_profile_fingerprint fingerprint;
    /* --throttle-*: the admin's throttling rules over the profiles'
     * (0: the profile's; mf_profile_throttle_rules()), for both sides. */
    struct mf_throttle_rules throttle;
    /* --quota-*: the admin's daily bandwidth quotas over the profiles'
     * (0: the profile's; mf_profile_quota_rules()). A side that reaches
     * its quota pauses the mailbox until the next window, then goes on
     * where it stopped (core/src/migrate/quota.c). */
    struct mf_quota_rules quota;
    /* --repair (mailferry/repair.h): a message the target refuses (BAD
     * or NO) that has defects strict servers refuse is fixed (only
     * those) and sent again once; each one is listed in
     * mf_migrate_result.repaired. Off: it fails alone with
     * MESSAGE_MALFORMED, which names its defects. */
    bool repair;
    /* A Gmail source copied by labels: a message's labels other than the
     * folder it lands in become keywords on it (labels sanitised to IMAP
     * atoms). */
    bool gmail_labels_as_keywords;
    /* Copy only the messages whose INTERNALDATE is inside (pre-staging,
     * mailferry/window.h); the others stay on the source, counted as
     * outside_window, until a pass with a wider window (or none) copies
     * them, without duplicates. Zero: everything. */
    struct mf_window window;
    /* Incremental passes also remove from the target what was expunged
     * on the source since the last pass, but only messages mailferry
     * put there (the UID map it keeps from this option's first pass on);
     * needs UIDPLUS on the target (MF_E_DELETE_NEEDS_UIDPLUS). */
    bool sync_deletes;
};

/* --flag-conflict's words: "source" or "target" (MF_FLAG_CONFLICT_DEFAULT
 * is named "target", its rule after the first pass). The parser takes
 * exactly those two words: MF_E_USAGE otherwise. */
const char *mf_flag_conflict_name(enum mf_flag_conflict c);
MF_WARN_UNUSED mf_err mf_flag_conflict_parse(const char *s,
                                             enum mf_flag_conflict *c_r,
                                             struct mf_error *err);

/* A skipped or failed message (or folder, with uid 0). */
struct mf_migrate_item {
    char *folder; /* owned: source folder, decoded */
    uint32_t uid;
    uint64_t size;
    char *date; /* owned: INTERNALDATE as the server sent it, or NULL */
    int64_t internal_date; /* the same as Unix time; 0 unknown */
    char *subject;         /* owned: decoded, or NULL */
    /* owned: the Message-ID as in the header, or NULL; known for a
     * message the target refused (failed), from its header. */
    char *message_id;
    struct mf_error error;
};

struct mf_migrate_stats {
    uint32_t folders_copied; /* folders whose messages were copied */
    uint32_t folders_excluded;
    uint32_t folders_created;
    uint32_t folders_renamed;               /* as the renamed list (result) */
    uint64_t messages_source, bytes_source; /* considered this run */
    uint64_t messages_copied, bytes_copied;
    uint64_t messages_present; /* recognised as already on the target */
    uint64_t skipped_too_large, skipped_vanished;
    /* Left on the source because their INTERNALDATE is outside the
     * window (options.window): not copied, and not missing either. */
    uint64_t outside_window, bytes_outside_window;
    /* Removed from the target by --sync-deletes (listed in deleted). */
    uint64_t deleted_on_target;
    /* Moved on the target by --sync-deletes (UID MOVE) because the source
     * moved them between folders (listed in moved): not copied again. */
    uint64_t moved_on_target;
    uint64_t failed;        /* messages not copied, listed in failed */
    uint64_t bytes_failed;  /* their bytes: still to copy */
    uint64_t flags_updated; /* incremental pass */
    uint32_t uidvalidity_changes;
    uint32_t attempts;      /* 1 + retries */
    uint64_t lease_wait_ms; /* waiting for connection slots */
    uint64_t repaired;      /* messages repaired (--repair), copied */
    /* Gmail source by labels: label copies of a message placed from an
     * earlier label folder (not copied again). */
    uint64_t gmail_label_copies;
    uint64_t throttles;        /* throttling answers from either server */
    uint64_t throttle_wait_ms; /* paused because of them (fleet-wide) */
    double seconds;
    /* Every planned folder was visited: the skipped and failed lists are
     * the mailbox's whole state (what is not on the target and why), not
     * a part of it. */
    bool pass_complete;
};

struct mf_migrate_result {
    struct mf_migrate_stats stats;
    struct mf_error error; /* MF_E_OK when the mailbox finished */
    struct mf_migrate_item *skipped;
    size_t n_skipped;
    struct mf_migrate_item *failed;
    size_t n_failed;
    /* Removed from the target by --sync-deletes: uid is the source UID
     * that was expunged, error MF_E_MESSAGE_DELETED. */
    struct mf_migrate_item *deleted;
    size_t n_deleted;
    /* Moved on the target by --sync-deletes: folder and uid are the new
     * folder's and source UID, error MF_E_MESSAGE_MOVED with the folder
     * it left in its detail. */
    struct mf_migrate_item *moved;
    size_t n_moved;
    /* Messages copied after --repair changed them: error is
     * MESSAGE_REPAIRED, its detail says what was changed. */
    struct mf_migrate_item *repaired;
    size_t n_repaired;
    /* Folders that went to the target under another name than the
     * source's, because of the target (its delimiter, characters or
     * lengths it refuses, a collision, a refused CREATE): uid 0, error
     * FOLDER_RENAMED, its detail the names and why (issue 13 section 2).
     * Listed anew by every attempt. */
    struct mf_migrate_item *renamed;
    size_t n_renamed;
    /* The admin's --rename rules that matched no folder of this mailbox
     * (mf_folder_plan_rename_unmatched()): folder is the rule's source
     * path, error RENAME_UNMATCHED with mf_folder_rename_unmatched_why()'s
     * words in its detail, the same for the rule in every mailbox, so the
     * report warns about a rule unmatched in every mailbox of a batch
     * (issue 13 section 2). Listed anew by every attempt. */
    struct mf_migrate_item *unmatched_renames;
    size_t n_unmatched_renames;
};

/* Migrates one mailbox. mailbox is its EmailAddress (checkpoint key and
 * log context). Returns MF_E_OK when every folder was copied (messages may
 * still have been skipped or failed: see res); otherwise the error that
 * ended the mailbox, also in res->error. res is always filled; free it
 * with mf_migrate_result_clear(). */
MF_WARN_UNUSED mf_err mf_migrate_mailbox(const struct mf_migrate_options *o,
                                         const char *mailbox,
                                         const struct mf_migrate_login *src,
                                         const struct mf_migrate_login *dst,
                                         struct mf_migrate_result *res);
void mf_migrate_result_clear(struct mf_migrate_result *res);

/* ------------------------------------------------------------------ */
/* Both sides of a mailbox, opened as the engine opens them            */
/* ------------------------------------------------------------------ */

struct mf_store;

/* Opens one side's store (target false: the source) in place of the IMAP
 * store (mailferry/store.h): unit tests pass the in-memory one. On
 * failure err and *retry_ms_r say why. */
typedef mf_err (*mf_migrate_open_fn)(void *ud, bool target,
                                     const struct mf_migrate_login *login,
                                     struct mf_store **st_r,
                                     struct mf_error *err,
                                     uint32_t *retry_ms_r);

/* One mailbox's two servers, connected as an attempt of
 * mf_migrate_mailbox() connects (a slot in the source's mailbox cap and
 * each side's connection lease, the job's fence, the throttling pauses),
 * for a reader that must see both sides the way the migration mapped
 * them: `mailferry verify`. It copies nothing and writes no checkpoint. */
struct mf_migrate_sides;

/* Connects both sides for mailbox (src and dst: the logins, borrowed
 * until mf_migrate_sides_close(), as are o and mailbox). open NULL: the
 * IMAP store. On failure nothing stays held and err says why. */
MF_WARN_UNUSED mf_err mf_migrate_sides_open(
    const struct mf_migrate_options *o, const char *mailbox,
    const struct mf_migrate_login *src, const struct mf_migrate_login *dst,
    mf_migrate_open_fn open, void *open_ud, struct mf_migrate_sides **sd_r,
    struct mf_error *err);
/* The folder plan the engine makes of both sides (LIST of each, the
 * options' rules); *plan_r is the caller's (mf_folder_plan_free()). */
MF_WARN_UNUSED mf_err mf_migrate_sides_plan(struct mf_migrate_sides *sd,
                                            struct mf_folder_plan **plan_r,
                                            struct mf_error *err);
/* One side's store (target false: the source); borrowed from sd. */
struct mf_store *mf_migrate_sides_store(struct mf_migrate_sides *sd,
                                        bool target);
/* The largest message the engine copies (the options' cap, else the
 * target profile's). */
uint64_t mf_migrate_sides_max_message_size(const struct mf_migrate_sides *sd);
/* Moves plan entry i (and those below it) to the conservative name the
 * engine gives a folder whose name the target refused
 * (mf_folder_plan_fallback()): true when the entry has a new name. */
bool mf_migrate_sides_fallback(struct mf_migrate_sides *sd,
                               struct mf_folder_plan *plan, size_t i);
/* Takes bytes read from one side from its bandwidth cap, sleeping as the
 * cap tells (nothing without caps). */
void mf_migrate_sides_bandwidth(struct mf_migrate_sides *sd, bool target,
                                uint64_t bytes);
/* A side's store failed at what: its error into *err as the engine words
 * it ("what: the server's words"), with the engine's side effects (a
 * throttled server is paused, a used-up quota noted). Returns the code. */
mf_err mf_migrate_sides_store_error(struct mf_migrate_sides *sd, bool target,
                                    const char *what, struct mf_error *err);
/* Closes both stores, then gives the leases back; accepts NULL; sets *sd
 * to NULL. */
void mf_migrate_sides_close(struct mf_migrate_sides **sd);

#endif
