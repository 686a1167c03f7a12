/*
 * Per-folder checkpoints (docs/design.md §7, §8 "Exactly once"): for each
 * (batch, mailbox, source folder), the folder's UIDVALIDITY, the highest
 * source UID known to be on the target, and whether the folder is clean
 * (every UID up to last_uid copied and confirmed) or dirty (a copy was in
 * flight when the worker stopped, so messages above last_uid may already
 * be on the target and must be recognised before copying again).
 *
 * Stored as one Redis hash per mailbox, "mf:{b:<batch>}:ckpt:<mailbox>",
 * one field per folder (the folder's raw source name), value
 * "<uidvalidity> <last_uid> <clean|dirty> <tgt_uidvalidity> <tgt_mark>
 *  <src_bytes> <pending> [st1:<status>] [win1:<window>] [sd1]", pending being
 * "-" or UIDs joined by ',', status "<uidnext>,<messages>,<highestmodseq>"
 * of the source then of the target, six numbers in all, window
 * "<since>,<before>,<out_messages>,<out_bytes>" (written only when a date
 * window was or is in use; days as yyyymmdd, 0: none), sd1 when the pass
 * that wrote it ran with --sync-deletes (fields from
 * tgt_uidvalidity on may be absent in values written by older versions;
 * a status field of a version this one does not know is ignored, as if
 * absent). One HSET per update, so a crash leaves either the old or the
 * new checkpoint, never half of one.
 *
 * The status (STATUS, RFC 3501 section 6.3.10, HIGHESTMODSEQ RFC 7162
 * section 3.1.3) is what both folders looked like when the pass that
 * wrote a clean checkpoint was done: a later pass that finds both the
 * same skips the folder without selecting it (migrate/unchanged.c).
 *
 * Pending UIDs are why "last_uid" can move past a message that is not on
 * the target: a message the target refused, one over the size cap, one
 * whose metadata could not be read. Every later pass fetches them again
 * and retries them, until they are copied or gone from the source, so a
 * checkpoint never forgets a message (issue: nothing lost silently).
 */
#ifndef MAILFERRY_CHECKPOINT_H
#define MAILFERRY_CHECKPOINT_H

#include "mailferry/redis.h"
#include "mailferry/window.h"

#include <stdbool.h>
#include <stdint.h>

struct mf_checkpoint {
    uint32_t uidvalidity;
    uint32_t last_uid;
    bool dirty;
    /* The target folder's UIDVALIDITY (0: unknown) and a target UID below
     * which every message was there before the copy in flight began: after
     * a crash only target messages above tgt_mark can be the in-flight
     * ones, so only those need to be recognised (docs/design.md section 8). */
    uint32_t tgt_uidvalidity;
    uint32_t tgt_mark;
    /* Bytes of the source messages up to last_uid when they were listed
     * (the folder's share of the mailbox's source size in reports). */
    uint64_t src_bytes;
    /* Source UIDs up to last_uid that are not on the target yet, in
     * ascending order. Owned by whoever filled the struct (parse and get
     * allocate it): free with mf_checkpoint_pending_free(). */
    uint32_t *pending;
    size_t n_pending;
    /* The folders' STATUS when this clean checkpoint was written (see
     * above); has_status false when none was recorded (an older version,
     * a dirty checkpoint, a server without STATUS). */
    bool has_status;
    struct mf_checkpoint_status {
        uint32_t uidnext, messages;
        uint64_t highestmodseq; /* 0: the server gave none */
    } src_status, tgt_status;
    /* The date window (mailferry/window.h) the messages up to last_uid
     * were copied under: those outside it were left on the source and
     * are neither copied nor pending. A pass with a window that reaches
     * further looks at them again (folder.c). out_messages and out_bytes
     * count them. */
    struct mf_window window;
    uint64_t out_messages, out_bytes;
    /* Written by a pass with --sync-deletes: expunges up to last_uid were
     * looked for. A pass with it after one without does not skip the
     * folder as unchanged (what was expunged meanwhile is to remove). */
    bool sync_deletes;
};

/* At most this many pending UIDs are kept per folder; past it the folder
 * keeps its checkpoint below the next one instead (a full target refuses
 * everything: those messages are then listed again as new). */
#define MF_CHECKPOINT_PENDING_MAX 10000

/* Reads a folder's checkpoint. *found_r false (and *ckpt_r zeroed) when
 * there is none. A stored value that does not parse is MF_E_REDIS. */
MF_WARN_UNUSED mf_err mf_checkpoint_get(struct mf_redis *r, const char *batch,
                                        const char *mailbox, const char *folder,
                                        struct mf_checkpoint *ckpt_r,
                                        bool *found_r, struct mf_error *err);
/* The checkpoints of n (> 0) folders of one mailbox in one round trip
 * (HMGET), as mf_checkpoint_get() reads each: ckpts_r[i] and found_r[i]
 * are folders[i]'s. On failure nothing is left allocated. */
MF_WARN_UNUSED mf_err mf_checkpoint_get_many(
    struct mf_redis *r, const char *batch, const char *mailbox,
    const char *const *folders, size_t n, struct mf_checkpoint *ckpts_r,
    bool *found_r, struct mf_error *err);
/* Writes a folder's checkpoint. */
MF_WARN_UNUSED mf_err mf_checkpoint_put(struct mf_redis *r, const char *batch,
                                        const char *mailbox, const char *folder,
                                        const struct mf_checkpoint *ckpt,
                                        struct mf_error *err);
/* The claim a checkpoint write is fenced by: the mailbox record (a hash
 * in the batch's hash tag, mf_batch_record_key()) whose job, attempt and
 * claim_worker fields must still be these, with a claim_expiry in the
 * future by Redis TIME. Strings are borrowed. */
struct mf_checkpoint_claim {
    const char *record_key;
    const char *job_id;
    uint32_t attempt;
    const char *worker;
};

/* mf_checkpoint_put() as a compare-and-set on the claim (one Lua script,
 * so nothing can come between the test and the write): MF_E_FENCED when
 * the claim is not (or no longer) this one, and nothing is written. A
 * worker that lost its claim can then not move the checkpoint of the
 * worker that took the mailbox over. */
MF_WARN_UNUSED mf_err mf_checkpoint_put_claimed(
    struct mf_redis *r, const char *batch, const char *mailbox,
    const char *folder, const struct mf_checkpoint *ckpt,
    const struct mf_checkpoint_claim *claim, struct mf_error *err);
/* mf_checkpoint_put_claimed() of n (> 0) folders of one mailbox in one
 * script call, under one test of the claim: all written, or none
 * (MF_E_FENCED). */
MF_WARN_UNUSED mf_err mf_checkpoint_put_claimed_many(
    struct mf_redis *r, const char *batch, const char *mailbox,
    const char *const *folders, const struct mf_checkpoint *ckpts, size_t n,
    const struct mf_checkpoint_claim *claim, struct mf_error *err);
/* Flags last synced (three-way flag merge, flagsync.c): lines
 * "<source uid>\t<source flags>\t<target flags>\n" in ascending UID
 * order, the flags each side had when mailferry last made them agree.
 * Kept beside the checkpoints, one hash per mailbox
 * ("mf:{b:<batch>}:flags:<mailbox>"), one field per UID window of a
 * folder (the field names are core/src/migrate/flagbase.c's; before, one
 * field per folder, named by it). *value_r is NULL when the field is not
 * there; free() it. */
MF_WARN_UNUSED mf_err mf_checkpoint_flags_get(struct mf_redis *r,
                                              const char *batch,
                                              const char *mailbox,
                                              const char *field, char **value_r,
                                              struct mf_error *err);
MF_WARN_UNUSED mf_err mf_checkpoint_flags_put(
    struct mf_redis *r, const char *batch, const char *mailbox,
    const char *field, const char *value, struct mf_error *err);
/* Removes one field of the flags hash (none there: nothing done). */
MF_WARN_UNUSED mf_err mf_checkpoint_flags_del(struct mf_redis *r,
                                              const char *batch,
                                              const char *mailbox,
                                              const char *field,
                                              struct mf_error *err);
/* The key of a mailbox's flags hash (batch removal deletes it). */
void mf_checkpoint_flags_key(char *out, size_t n, const char *batch,
                             const char *mailbox);

/* Forgets every checkpoint of a mailbox, and its flags last synced
 * (batch removal, full resync). */
MF_WARN_UNUSED mf_err mf_checkpoint_clear(struct mf_redis *r, const char *batch,
                                          const char *mailbox,
                                          struct mf_error *err);

/* Value codec, exposed for tests: formats a value (free() it) / parses a
 * stored value, false when malformed (then c_r owns nothing). */
char *mf_checkpoint_format(const struct mf_checkpoint *c);
bool mf_checkpoint_parse(const char *s, size_t len, struct mf_checkpoint *c_r);

/* Frees c->pending and zeroes the pending fields. */
void mf_checkpoint_pending_free(struct mf_checkpoint *c);

#endif
