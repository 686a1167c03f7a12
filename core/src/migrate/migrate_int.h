/*
 * Internals of the migration engine shared by mailbox.c (connections,
 * folder plan, retries), folder*.c (one folder's copy, folder_int.h),
 * flagsync.c (incremental flag changes) and run.c (checkpoints in Redis or
 * memory, result items, metadata lists).
 */
#ifndef MF_MIGRATE_INT_H
#define MF_MIGRATE_INT_H

#include "mailferry/checkpoint.h"
#include "mailferry/fingerprint.h"
#include "mailferry/migrate.h"
#include "mailferry/store.h"

#include <stdbool.h>
#include <stdint.h>

struct mf__ckpt_mem;     /* run.c */
struct mf__leases;       /* leases.c */
struct mf__status_ahead; /* statuses.c */

/* mf_migrate_mailbox() with the stores opened by open (tests). */
MF_WARN_UNUSED mf_err mf__migrate_mailbox_with(
    const struct mf_migrate_options *o, const char *mailbox,
    const struct mf_migrate_login *src, const struct mf_migrate_login *dst,
    mf_migrate_open_fn open, void *open_ud, struct mf_migrate_result *res);
/* The same with the in-memory checkpoints (no Redis) kept in *mem across
 * calls, as Redis keeps them across passes (tests of later passes). */
MF_WARN_UNUSED mf_err mf__migrate_mailbox_mem(
    const struct mf_migrate_options *o, const char *mailbox,
    const struct mf_migrate_login *src, const struct mf_migrate_login *dst,
    mf_migrate_open_fn open, void *open_ud, struct mf__ckpt_mem **mem,
    struct mf_migrate_result *res);

/* After this many messages refused in a row the target is not refusing a
 * message but everything (over quota, read-only): the folder stops, and
 * the mailbox fails instead of trying every other folder the same way. */
#define MF__MAX_CONSECUTIVE_REJECTS 10

/* Messages per append batch when the options leave it to the engine
 * (batch_bytes caps it too). A MULTIAPPEND is one transaction on the
 * target, and a server may pay for each in the size of the folder:
 * Dovecot's maildir rescans the folder (readdir of cur/, its uidlist
 * against the index) at every command that changed it, so a folder of
 * 1,000,000 tiny messages copied 50 a command cost about a second a
 * command near its end (issue 14 item 5; docs/benchmarks.md). Batches
 * only grow to the cap while the target is slower than the source (the
 * writer sends what it has once the pipe is empty), so a fast target
 * sees the small batches it always did. Without MULTIAPPEND a batch is
 * that many single APPENDs queued at once: those keep the smaller
 * count, as tuned for Exchange Online and Gmail (issue 14 item 2). */
#define MF__BATCH_MESSAGES_MULTIAPPEND 1000u
#define MF__BATCH_MESSAGES_SINGLES 50u

/* Clean checkpoints of settled empty folders waiting to be written in
 * one claimed call (mf__ckpt_put_later()); at most this many wait. */
#define MF__CKPT_LATER_MAX 32
struct mf__ckpt_later {
    char *folders[MF__CKPT_LATER_MAX];
    struct mf_checkpoint ck[MF__CKPT_LATER_MAX]; /* no pending UIDs */
    size_t n;
};

/* One mailbox's run: what every folder copy needs. */
struct mf__run {
    const struct mf_migrate_options *o;
    const char *mailbox;
    mf_migrate_open_fn open; /* NULL: the IMAP store */
    void *open_ud;
    struct mf_store *src, *dst; /* open while copying */
    struct mf_migrate_result *res;
    struct mf__ckpt_mem *mem; /* checkpoints when there is no Redis */
    struct mf__ckpt_later later;
    struct mf__leases *leases; /* caps; NULL: none */
    /* Raw names of the folders whose source messages were counted in
     * res->stats (a retried folder is not counted twice). */
    char **counted;
    size_t n_counted;
    /* Resolved tuning. */
    uint64_t max_size;
    unsigned batch_messages; /* 0: mf__run_batch_messages() decides */
    size_t batch_bytes;
    unsigned appends_in_flight;
    size_t pipe_bytes;
    uint64_t stream_threshold;
    unsigned consecutive_rejects;
    /* Set when the target stopped taking this mailbox's mail (over quota,
     * refusing everything): the remaining folders are only listed, each
     * message failed with this error. */
    struct mf_error refusal;
    /* The source connection stopped in the middle of a FETCH (the folder
     * stopped early): it is replaced before the next folder. */
    bool reopen_source;
    /* Why the current folder or mailbox failed. */
    struct mf_error err;
    uint32_t retry_after_ms;
    /* Throttling (throttle.c), per side (0 source, 1 target): this run's
     * pause (monotonic ms), and when the fleet's pause was last read. */
    uint64_t pause_until_ms[2], pause_checked_ms[2];
    /* The last read of the limits in force found this side's connection
     * above one of them (throttle.c): which, until the attempt ends. */
    struct mf_caps_in_force over[2];
    bool throttled; /* the server throttled during this attempt */
    /* This attempt gave its connection up to a lowered limit. */
    bool yielded;
    /* A Gmail source copied by labels (gmail.c): the first folder of each
     * message, and the processing position of the folder being copied. */
    struct mf__gmail *gmail;
    size_t gmail_folder;
    /* --sync-deletes' moves (moves.c): the messages moved on the target
     * this run, for their new folder's pass; moves_off once the target
     * answered a UID MOVE without COPYUID (no more moves this run). */
    struct mf__moved *moved;
    size_t n_moved;
    bool moves_off;
    /* Daily bandwidth quotas (quota.c), per side (0: downloads from the
     * source, 1: uploads to the target): the rules, the logins counted,
     * this run's own counts (a run without Redis), whether the server
     * said the quota is used up, which side's server said so last since
     * the last wait (0: none, 1: source, 2: target); and once one was
     * reached, the end of the wait (monotonic ms, 0: none). */
    struct mf_quota_rules quota;
    const char *quota_user[2];
    struct mf_caps_quota quota_own[2];
    bool quota_said[2];
    int quota_said_last;
    uint64_t quota_until_ms;
    /* The STATUS of this attempt's folders, asked of both sides at once
     * before the first folder (statuses.c); NULL: not asked. */
    struct mf__status_ahead *ahead;
    size_t n_ahead;
};

/* A message moved on the target (moves.c), until its new folder's pass
 * takes it: its flags are merged there as a flag sync merges them. */
struct mf__moved {
    char *folder; /* owned: the new folder's raw source name */
    uint32_t src_uid, tgt_uid;
    char *base_src, *base_tgt; /* owned: the old flagbase line, or NULL */
    char *tgt_flags;           /* owned: the target's flags when it moved */
    bool taken;
};

/* Gmail labels (gmail.c). */
struct mf__gmail;
struct mf__msg;
/* Whether run's source is copied by labels (the gmail profile). */
bool mf__gmail_mode(const struct mf__run *run);
/* Whether e is Gmail's All Mail (\All, or its name). */
bool mf__gmail_all_mail(const struct mf_folder_entry *e);
/* Lists the n source folders in processing order and notes each message's
 * first folder. MF_E_OK with *g_r (mf__gmail_free()), else the error (in
 * run->err). */
MF_WARN_UNUSED mf_err
mf__gmail_index(struct mf__run *run, const struct mf_folder_entry *const *order,
                size_t n, struct mf__gmail **g_r);
/* Whether the message fp is in a folder processed before position
 * folder (a label copy: not copied again). */
bool mf__gmail_placed_before(const struct mf__gmail *g, size_t folder,
                             const struct mf_fingerprint *fp);
/* The message's identity among labels: its X-GM-MSGID, else its
 * fingerprint. */
void mf__gmail_key(const struct mf__msg *m, struct mf_fingerprint *k_r);
/* Appends to out flags (the message's own) and, as keywords, the labels
 * of the message fp other than folder's (All Mail has none), then a NUL
 * (--gmail-labels-as-keywords). */
void mf__gmail_keywords(const struct mf__gmail *g, size_t folder,
                        const struct mf_fingerprint *fp, const char *flags,
                        struct mf_buf *out);
void mf__gmail_free(struct mf__gmail **g);

/* The profile of one side (target false: the source), the generic one
 * when the options name none (throttle.c). */
const struct mf_profile *mf__run_profile(const struct mf__run *run,
                                         bool target);
/* The server of one side throttled (throttle.c): pauses that endpoint
 * for retry_ms (0: the side's rule, --throttle-pause or the profile's;
 * at most --throttle-pause-max), here and, with a Redis, fleet-wide,
 * where its connection limit is halved for a while. Returns the pause
 * kept, which the retry's backoff honours. */
uint32_t mf__run_throttled(struct mf__run *run, bool target, uint32_t retry_ms);
/* Sleeps while the side's endpoint is paused (here or fleet-wide; the
 * fleet's pause is read at most every 200 ms unless now). Returns early
 * on a stop request. */
void mf__run_throttle_wait(struct mf__run *run, bool target, bool now);
/* True (with the error that ends the attempt in *err_r) when the side's
 * connection is one of those above a connection limit lowered while it
 * was open (after throttling, or the admin's `batch set`): the attempt
 * ends and the next one queues for a lease under that limit. Asks Redis
 * at most every 200 ms per side (mf__run_throttle_until()'s read), and
 * only while the side holds a lease. */
bool mf__run_throttle_yield(struct mf__run *run, bool target,
                            struct mf_error *err_r);
/* Daily bandwidth quotas (quota.c). The rules of a run, and whose
 * quota each side counts against (quota.c: the impersonated user or the
 * token's owner before the login name). */
/* The account whose quota a login spends: the impersonated user (SASL
 * PLAIN authzid), the owner of the OAuth2 token, else the login name (""
 * for NULL). An admin that logs in for many users spends each user's
 * quota, not one of its own. Borrowed from lg. */
const char *mf__run_quota_user(const struct mf_migrate_login *lg);
void mf__run_quota_init(struct mf__run *run, const struct mf_migrate_login *src,
                        const struct mf_migrate_login *dst);
/* A message of bytes is about to be downloaded from the source (already
 * was: the writer counts what the reader hands it) and uploaded to the
 * target: counts it against each side's quota. false, with
 * MF_E_BANDWIDTH_QUOTA and the reason in *err and run->quota_until_ms
 * set, when a quota is used up for this window: the message is not
 * sent, the attempt ends and mf__run_quota_wait() waits. */
bool mf__run_quota_take(struct mf__run *run, uint64_t bytes,
                        struct mf_error *err);
/* The side's server said its quota is used up (MF_E_BANDWIDTH_QUOTA,
 * Gmail's "[OVERQUOTA] Account exceeded command or bandwidth limits"):
 * nothing more for this window, here and fleet-wide. */
void mf__run_quota_said(struct mf__run *run, bool target);
/* Waits until run->quota_until_ms (early on a stop request), shown in
 * the batch as the mailbox's wait with why (mf_batch_mailbox_wait()). */
void mf__run_quota_wait(struct mf__run *run, const char *why);

/* When the side's endpoint pause ends (monotonic ms; at or before now:
 * not paused), here or fleet-wide, without sleeping: for the writer,
 * which hands the source's to the reader thread. */
uint64_t mf__run_throttle_until(struct mf__run *run, bool target, bool now);

/* Copies one planned folder (action COPY). Returns MF_E_OK, or the error
 * (also in run->err) that stopped it; messages that failed alone are in
 * run->res. With refusal (the target folder cannot be created, or the
 * target takes no more mail), or when the target folder cannot be
 * selected, nothing is copied: every message that would have been is
 * listed as failed with that error, which is returned. */
MF_WARN_UNUSED mf_err mf__migrate_folder(struct mf__run *run,
                                         const struct mf_folder_entry *e,
                                         const struct mf_error *refusal);

/* STATUS asked ahead (statuses.c): every folder of v on both sides,
 * pipelined, one round trip per side instead of one per folder and side,
 * kept in run until the folder's turn; with a Redis, their checkpoints
 * too, in one round trip. A store without statuses() is not asked; a
 * folder the server refused is left out (status() asks it again and
 * tells why). MF_E_OK, or the error that broke a store or the Redis
 * read (in run->err). */
MF_WARN_UNUSED mf_err mf__run_statuses_ask(struct mf__run *run,
                                           const struct mf_folder_entry **v,
                                           size_t n);
/* The STATUS of e's folder on one side (target false: the source) asked
 * ahead, into *st_r, once: true, or false when there is none. It is what
 * the folder was before this attempt's first folder began: what changes
 * after it is a change for the next pass. */
bool mf__run_status_take(struct mf__run *run, const struct mf_folder_entry *e,
                         bool target, struct mf_store_status *st_r);
/* The checkpoint of the folder (raw source name) read ahead with the
 * STATUS (with a Redis: all of them in one round trip), once: true with
 * *ck_r (the caller owns its pending UIDs) and *found_r, or false. */
bool mf__run_ckpt_take(struct mf__run *run, const char *folder,
                       struct mf_checkpoint *ck_r, bool *found_r);
void mf__run_statuses_free(struct mf__run *run);

/* Whether a folder with nothing of it recorded is settled by STATUS alone
 * (unchanged.c): its source answers MESSAGES 0 with a UIDVALIDITY, and
 * there is no checkpoint (found false) or one that never got past UID 0
 * under the same UIDVALIDITY on both sides, clean, with nothing pending
 * or left outside a date window. Pure. */
bool mf__folder_empty_new(const struct mf_checkpoint *ck, bool found,
                          const struct mf_store_status *src,
                          const struct mf_store_status *dst);

/* Whether a folder must be visited (unchanged.c): NULL when its
 * checkpoint (found false: none) and the STATUS of both sides now prove
 * it unchanged since the last pass finished it, else why not, in a few
 * words. Pure. */
const char *mf__folder_changed(const struct mf_checkpoint *ck, bool found,
                               const struct mf_store_status *src,
                               const struct mf_store_status *dst);

struct mf_buf;

/* The flags last synced of one folder, read and written a UID window at
 * a time (flagbase.c). */
struct mf__flagbase;

/* UIDs per stored window of flags last synced. */
#define MF__FLAGBASE_WINDOW 10000u
/* Lines a caller buffers before mf__flagbase_write(). */
#define MF__FLAGBASE_FLUSH_BYTES (256u * 1024u)

/* Carries flag changes for the messages with source UIDs up to last_uid,
 * pairing messages by fingerprint (both folders selected; tgt_last: the
 * target's last UID when selected, 0: not known): a three-way
 * merge against fb, the flags last synced of the folder, see
 * flagsync.c. Appends the flags now synced to base (flagbase lines),
 * writing them to fb whenever they pass MF__FLAGBASE_FLUSH_BYTES. */
MF_WARN_UNUSED mf_err mf__migrate_flag_sync(
    struct mf__run *run, const char *label, struct mf__flagbase *fb,
    uint32_t last_uid, uint32_t tgt_last, struct mf_buf *base);
/* A folder's (raw source name, copied) flags last synced, through run's
 * Redis or memory. Nothing is read before it is asked for. */
struct mf__flagbase *mf__flagbase_new(struct mf__run *run, const char *folder);
void mf__flagbase_free(struct mf__flagbase **fb);
/* Appends one flagbase line: a message whose source flags were src and
 * whose target flags were made tgt. */
void mf__flagbase_add(struct mf_buf *base, uint32_t uid, const char *src,
                      const char *tgt);
/* Writes the lines of base (mf__flagbase_add()) into their windows, each
 * replacing the line stored for its UID (the last line of a UID in base
 * wins), and empties base. An empty base reads and writes nothing. */
MF_WARN_UNUSED mf_err mf__flagbase_write(struct mf__flagbase *fb,
                                         struct mf_buf *base);
/* The line of source UID uid: *src_r and *tgt_r borrowed until the next
 * call on fb, both NULL when there is none. */
MF_WARN_UNUSED mf_err mf__flagbase_find(struct mf__flagbase *fb, uint32_t uid,
                                        const char **src_r, const char **tgt_r);
/* The name of the field holding window k of folder's lines (malloc'd;
 * for tests and mf__flagbase_get()). */
char *mf__flagbase_field(const char *folder, uint32_t k);
/* The flagbase line of source UID uid in folder: *src_r and *tgt_r
 * (malloc'd), both NULL when there is none. */
MF_WARN_UNUSED mf_err mf__flagbase_line(struct mf__run *run, const char *folder,
                                        uint32_t uid, char **src_r,
                                        char **tgt_r);
/* The three-way merge of a pair's flags (flagsync.c) into out: s and t
 * the current flags of source and target, sb and tb the flagbase line's
 * (NULL: none), rule the --flag-conflict choice. */
void mf__flags_merge(const char *s, const char *sb, const char *t,
                     const char *tb, enum mf_flag_conflict rule,
                     struct mf_buf *out);
/* Flag lists are equal as sets, ignoring case (RFC 3501 section 2.3.2). */
bool mf__flags_same(const char *a, const char *b);
/* One field of the mailbox's flags hash (Redis or memory): a window of a
 * folder's flags last synced (mf__flagbase_field()), the form before
 * windows (the folder's name), a UID map; NULL: none. */
MF_WARN_UNUSED mf_err mf__flagbase_get(struct mf__run *run, const char *field,
                                       char **value_r);
MF_WARN_UNUSED mf_err mf__flagbase_put(struct mf__run *run, const char *field,
                                       const char *value);
MF_WARN_UNUSED mf_err mf__flagbase_del(struct mf__run *run, const char *field);

/* Checkpoints of run's mailbox (Redis or memory). */
MF_WARN_UNUSED mf_err mf__ckpt_get(struct mf__run *run, const char *folder,
                                   struct mf_checkpoint *ck_r, bool *found_r);
MF_WARN_UNUSED mf_err mf__ckpt_put(struct mf__run *run, const char *folder,
                                   const struct mf_checkpoint *ck);
/* mf__ckpt_put() of a clean checkpoint without pending UIDs, which may
 * wait for the next ones: with Redis and a claim, it is written with
 * them in one claimed write (MF__CKPT_LATER_MAX at a time), at the latest
 * by mf__ckpt_flush() when the attempt ends. A job over many empty
 * folders then costs one script call, not one per folder. */
MF_WARN_UNUSED mf_err mf__ckpt_put_later(struct mf__run *run,
                                         const char *folder,
                                         const struct mf_checkpoint *ck);
/* Writes the checkpoints waiting (none: MF_E_OK); error in *err, and
 * they wait on. */
MF_WARN_UNUSED mf_err mf__ckpt_flush(struct mf__run *run, struct mf_error *err);
/* Forgets the checkpoints waiting (the mailbox's run is over). */
void mf__ckpt_later_drop(struct mf__run *run);
void mf__ckpt_mem_free(struct mf__ckpt_mem **m);

/* Adds a skipped (failed false) or failed message to the result. */
void mf__run_item(struct mf__run *run, bool failed, const char *folder,
                  uint32_t uid, uint64_t size, const char *date,
                  const char *subject, const struct mf_error *error);

/* Adds a message removed from the target by --sync-deletes (uid: the
 * source UID expunged) to the result's deleted list and statistics. */
void mf__run_deleted(struct mf__run *run, const char *folder, uint32_t uid,
                     uint64_t size, const char *date, const char *subject);
/* Adds a message moved on the target by --sync-deletes (folder, uid: its
 * new folder and source UID; from_folder: the one it left) to the
 * result's moved list and statistics. */
void mf__run_moved(struct mf__run *run, const char *folder, uint32_t uid,
                   uint64_t size, const char *date, const char *subject,
                   const char *from_folder);
/* Lists a message copied after --repair changed it (what: the change;
 * subject, decoded, and message_id may be NULL). */
void mf__run_repaired(struct mf__run *run, const char *folder, uint32_t uid,
                      uint64_t size, const char *date, const char *subject,
                      const char *message_id, const char *what);

/* Lists a folder the target got under another name (folder: the
 * source path; why: the names and the reason) and counts it. */
void mf__run_renamed(struct mf__run *run, const char *folder, const char *why);
/* Lists anew the admin's --rename rules that matched no folder of plan
 * (res->unmatched_renames). */
void mf__run_unmatched_renames(struct mf__run *run,
                               const struct mf_folder_plan *plan);

/* Whether LIST showed the target folder name (raw, as sent; store.c). */
bool mf__store_lists_tgt_has(const struct mf_store_lists *l, const char *name);
/* Whether LIST said the target folder name (raw, as sent) is subscribed. */
bool mf__store_lists_tgt_subscribed(const struct mf_store_lists *l,
                                    const char *name);

/* Frees what an item owns. */
void mf__run_item_clear(struct mf_migrate_item *it);

/* A target folder that could not be created, and why. */
struct broken {
    char *name; /* owned: the target's wire name */
    struct mf_error err;
};

struct broken_list {
    struct broken *v;
    size_t n;
};

const struct mf_error *mf__broken_find(const struct broken_list *l,
                                       const char *name);
void mf__broken_free(struct broken_list *l);

/* folder_create.c: lists e as a folder the target got under another
 * name; whether an error fails its folder only; creates and subscribes
 * the plan's target folders (folders that cannot be created go into
 * broken with the server's answer). */
void mf__run_list_renamed(struct mf__run *run, const struct mf_folder_entry *e);
bool mf__run_folder_only(mf_err code);
mf_err mf__run_create_folders(struct mf__run *run, struct mf_folder_plan *plan,
                              const struct mf_store_lists *lists,
                              struct broken_list *broken);

/* Moves plan entry i (and the entries below it) to the conservative name
 * that a target refusing its name gets (folderplan_fallback.c, with the
 * batch's separator replacement): true when the entry has a new name. */
bool mf__run_name_fallback(struct mf__run *run, struct mf_folder_plan *plan,
                           size_t i);
/* The message size cap before the target's APPENDLIMIT (mailbox.c). */
uint64_t mf__run_max_message_size(const struct mf_migrate_options *o);
/* Copies a store's error into run->err and returns its code. */
mf_err mf__run_store_error(struct mf__run *run, struct mf_store *st,
                           const char *what);

/* Fingerprint of a message from its metadata: strict (Message-ID, size,
 * INTERNALDATE), or lenient (Message-ID, INTERNALDATE, Subject, From:
 * mf_fingerprint_lenient()). */
void mf__meta_fingerprint(const struct mf_store_meta *m, bool lenient,
                          struct mf_fingerprint *fp_r);
/* Whether this run recognises messages leniently: its target's profile
 * re-encodes what it stores (mailferry/profile.h). Both sides' listings
 * then use the lenient fingerprint. */
bool mf__run_lenient(const struct mf__run *run);

/* Metadata kept per message while a folder is copied. */
struct mf__msg {
    uint32_t uid;
    uint32_t tgt_uid; /* from APPENDUID, or 0 */
    uint64_t size;
    char date[40];
    char *flags; /* owned */
    struct mf_fingerprint fp;
    uint8_t state;     /* M_ enum in folder_int.h */
    uint8_t missing;   /* MF_STORE_MISSING_ bits: listed, not copyable */
    uint64_t gm_msgid; /* X-GM-MSGID of a Gmail source, 0: none */
};

struct mf__msglist {
    struct mf__msg *m;
    size_t n, cap;
    bool with_fp;
    bool lenient; /* set by mf__msglist_fetch() from the run */
    /* Keep messages the source listed without size, date or flags (to
     * report them); else they are left out. */
    bool keep_unlistable;
};

/* pairing.c: calls cb for each pair of a source message with UID up to
 * src_last and its copy on the target (the same fingerprint; among
 * equals the n-th with the n-th in UID order), both folders listed in UID
 * windows; tgt_last is the target's last UID when it was selected (0: not
 * known), above which it is listed to its end. Both folders selected;
 * the messages are borrowed for the call. Returns a store's error (also
 * in run->err) or cb's. */
typedef mf_err (*mf__pair_cb)(void *ud, const struct mf__msg *src,
                              const struct mf__msg *tgt);
MF_WARN_UNUSED mf_err mf__pair_folders(struct mf__run *run, uint32_t src_last,
                                       uint32_t tgt_last, mf__pair_cb cb,
                                       void *ud);
/* qsort order of messages by fingerprint, then UID. */
int mf__msg_by_fp_uid(const void *a, const void *b);

/* The UIDs a listing takes at a time (the options' uid_window, or
 * MF_MIGRATE_UID_WINDOW). */
uint32_t mf__run_uid_window(const struct mf__run *run);
/* Messages an append batch takes at most: the options' batch_messages,
 * else MF__BATCH_MESSAGES_MULTIAPPEND or MF__BATCH_MESSAGES_SINGLES by
 * what the open target announced. */
unsigned mf__run_batch_messages(const struct mf__run *run);
/* The next width (UIDs) of a window that listed got messages: wider
 * where UIDs are sparse (a FETCH names UIDs, not messages), narrower
 * again where they are dense, so that a window holds about window
 * messages. */
uint32_t mf__window_width(uint32_t width, size_t got, uint32_t window);

/* Fetches the metadata of UIDs [first, last] (last 0: to the end) into
 * list (appended), with fingerprints when with_fp. */
MF_WARN_UNUSED mf_err mf__msglist_fetch(struct mf__run *run,
                                        struct mf_store *st, uint32_t first,
                                        uint32_t last, bool with_fp,
                                        struct mf__msglist *list);
void mf__msglist_clear(struct mf__msglist *list);

/* Lists the source messages with UIDs in [start, last] (last 0: from
 * start up; start 0: none, the UID before it was the last there can be)
 * into list (appended), and
 * checks them against the server's count (listing.c). A listing still
 * short when listed again leaves *short_r set (MF_E_FOLDER_INCOMPLETE
 * with detail), else its code is MF_E_OK. Returns a store's error (also
 * in run->err) when listing or counting failed. */
MF_WARN_UNUSED mf_err mf__list_new(struct mf__run *run, const char *label,
                                   uint32_t start, uint32_t last, bool with_fp,
                                   struct mf__msglist *list,
                                   struct mf_error *short_r);

/* Calls cb for each message (with its fingerprint; borrowed for the
 * call) of st's selected folder with a UID in [first, last], or, with
 * open_end, from first to the folder's end; listed a UID window at a time
 * (mf__run_uid_window), so memory follows the window. Returns a store's
 * error (also in run->err) or cb's. */
typedef mf_err (*mf__msg_cb)(void *ud, const struct mf__msg *m);
MF_WARN_UNUSED mf_err mf__list_each(struct mf__run *run, struct mf_store *st,
                                    uint32_t first, uint32_t last,
                                    bool open_end, mf__msg_cb cb, void *ud);

/* Takes out of above (the target's fingerprints above the mark tgt_from)
 * the occurrences that are copies of source messages at or below base_uid
 * (pending ones excepted), so that recognition of list's messages above
 * base_uid matches the source's multiplicity (listing.c). Both folders
 * selected. Sets *done_r once it ran, or once it never needs to (list,
 * one window of the folder, had no match: not yet). Returns a store's
 * error (also in run->err). */
MF_WARN_UNUSED mf_err mf__recognise_twins(
    struct mf__run *run, const struct mf__msglist *list,
    struct mf_fingerprint_set *above, uint32_t base_uid,
    const uint32_t *pending, size_t npending, uint32_t tgt_from, bool *done_r);
/* One side's store opened as an attempt opens it (under the caps'
 * connection lease), and the folder plan of run->src and run->dst: for
 * mf_migrate_sides (sides.c, `mailferry verify`), which reads both sides
 * the way the migration mapped them. */
MF_WARN_UNUSED mf_err mf__run_open(struct mf__run *run, bool target,
                                   const struct mf_migrate_login *login,
                                   struct mf_store **st_r);
MF_WARN_UNUSED mf_err mf__run_plan(struct mf__run *run,
                                   struct mf_folder_plan **plan_r);

/* ------------------------------------------------------------------ */
/* UID map (--sync-deletes, deletes.c)                                 */
/* ------------------------------------------------------------------ */

/* A source UID and the target UID mailferry gave its copy. */
struct mf__uidpair {
    uint32_t src, tgt;
};

/* A folder's UID map: what mailferry put on the target. */
struct mf__uidmap {
    uint32_t tgt_uidvalidity;
    struct mf__uidpair *pairs; /* owned */
    size_t n, cap;
    bool sorted; /* by src, one pair per source UID */
};

void mf__uidmap_clear(struct mf__uidmap *m);
/* Adds (or, with an earlier pair of that source UID, replaces) a pair. */
void mf__uidmap_add(struct mf__uidmap *m, uint32_t src, uint32_t tgt);
/* Sorts m by source UID, one pair per source UID (the later added). */
void mf__uidmap_sort(struct mf__uidmap *m);
/* The stored value (deletes.c says its form); false when malformed. */
bool mf__uidmap_parse(const char *s, struct mf__uidmap *m_r);
/* The value to store (malloc'd); sorts m. */
char *mf__uidmap_format(struct mf__uidmap *m);
/* Takes out of m the pairs whose source UID is at or below last_uid and
 * not among present (the source's UIDs now, ascending) and returns them
 * (*gone_r malloc'd, NULL when none) with their count: what was expunged
 * on the source since the last pass, to be removed from the target. */
size_t mf__uidmap_gone(struct mf__uidmap *m, uint32_t last_uid,
                       const uint32_t *present, size_t npresent,
                       struct mf__uidpair **gone_r);

/* ------------------------------------------------------------------ */
/* Moves (--sync-deletes, moves.c and movematch.c)                     */
/* ------------------------------------------------------------------ */

/* Before the folders of an incremental pass with --sync-deletes are
 * visited: moves on the target the copies of the messages the source
 * moved between the n folders (those not done yet and not broken), when
 * the target has MOVE and UIDPLUS; otherwise does nothing, and the
 * folder passes remove and copy. Returns MF_E_OK, or the error (also in
 * run->err) that ends the attempt. */
MF_WARN_UNUSED mf_err mf__run_moves(struct mf__run *run,
                                    const struct mf_folder_entry *const *order,
                                    size_t n);
void mf__run_moved_free(struct mf__run *run);

/* A message a move may start from (vanished from the source: uid is its
 * copy's target UID) or end at (new on the source: its source UID). */
struct mf__move_cand {
    size_t folder; /* the folder's position in the mailbox's order */
    uint32_t uid;
    struct mf_fingerprint fp;
    bool has_id; /* it has a Message-ID: only those match */
};

/* A match: gone[from] is moved to where fresh[to] is. */
struct mf__move_pair {
    size_t from, to;
};

/* Matches vanished messages to new ones (the rule and its handling of
 * equal fingerprints: movematch.c). Returns the number of pairs, in
 * *pairs_r (malloc'd, NULL when none), each candidate in at most one.
 * Pure. */
size_t mf__move_match(const struct mf__move_cand *gone, size_t ngone,
                      const struct mf__move_cand *fresh, size_t nfresh,
                      struct mf__move_pair **pairs_r);

#endif
