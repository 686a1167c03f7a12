/*
 * Internals of one folder's copy, shared by the files that do it:
 *
 *   folder.c        the algorithm (its header has the numbered steps), the
 *                   entry point mf__migrate_folder() and the flag sync
 *   folder_list.c   step 1-2: what to copy (pending and new messages,
 *                   recognition on the target, the size cap, source totals)
 *   folder_read.c   step 3, the reader thread: bodies into the pipe
 *   folder_write.c  step 3, the writer: MULTIAPPEND batches, confirmations
 *   folder_keywords.c  the keywords the target folder took (the writer's)
 *   folder_ckpt.c   step 4: checkpoints as confirmations come in
 *
 * struct mf__folder lives on mf__migrate_folder()'s stack for the whole
 * copy; the reader thread uses only its rd_ fields, todo and refetch, the
 * writer the rest.
 */
#ifndef MF_MIGRATE_FOLDER_INT_H
#define MF_MIGRATE_FOLDER_INT_H

#include "migrate/migrate_int.h"
#include "migrate/pipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* States of a listed message (struct mf__msg.state). */
enum {
    M_LISTED = 0, /* listed, nothing decided or sent yet */
    M_QUEUED,
    M_DONE,
    M_PRESENT,
    M_SKIPPED,
    M_FAILED,
    M_VANISHED,
    M_OUTSIDE, /* outside the date window: left on the source */
};

struct mf__folder {
    struct mf__run *run;
    const struct mf_folder_entry *e;
    /* res->n_failed when the folder started, and whether its source
     * folder was selected: mf__folder_fill_failed() at its end. */
    size_t failed_from;
    bool src_selected;
    /* The checkpoint's last_uid and src_bytes when the folder started
     * (0 without a usable checkpoint): pending UIDs are at or below it. */
    uint32_t base_uid;
    uint64_t base_bytes;
    /* Messages at or below base_uid left out by the date window and not
     * in list (the checkpoint's out_messages and out_bytes). */
    uint64_t base_out, base_out_bytes;
    /* --sync-deletes: the folder's UID map (folder_delete.c), loaded when
     * uidmap_on. */
    struct mf__uidmap uidmap;
    bool uidmap_on;
    /* Flagbase lines of the messages moved into this folder (moves.c). */
    struct mf_buf moved_base;
    char *src_name; /* NUL-terminated raw source name */
    const char *dst_name;
    const char *label; /* for reports: the decoded source path */
    struct mf__msglist list;
    size_t prefix;     /* messages in the finished prefix */
    uint32_t last_uid; /* checkpointed */
    struct mf_checkpoint ck;
    /* The source folder's STATUS before anything was listed (step 0). */
    struct mf_store_status src_status;
    bool have_src_status;
    /* The flag sync listed STOREs the target refused: the flags do not
     * agree, so no STATUS is recorded (the next pass visits the folder
     * and its flag sync runs again). */
    bool flags_refused;
    /* The target folder's STATUS then (have_dst_status: asked). */
    struct mf_store_status dst_status;
    bool have_dst_status;
    /* The target's last UID and EXISTS when selected (0: not known). */
    uint32_t tgt_last, tgt_exists;
    /* The copy goes a UID window at a time (folder.c): the source's last
     * UID when selected (0: not known, one window to the end), and the
     * window's width, wider where UIDs are sparse. */
    uint32_t src_last, width;
    /* Messages of finished windows dropped from list (settled): their
     * source bytes above base_uid, those left outside the date window,
     * the flagbase lines of those copied (folder_ckpt.c), written to fb
     * a window's worth at a time (folder.c). */
    uint64_t acc_bytes, acc_out, acc_out_bytes;
    struct mf_buf newbase;
    struct mf__flagbase *fb; /* owned: the folder's flags last synced */
    bool uidmap_added;       /* pairs went into uidmap */
    bool counted; /* this attempt counted the folder's source totals */
    bool base_out_counted;
    /* Recognition (folder_list.c): the target's fingerprints above the
     * mark, taken as windows match them; rec_twins once the twins of
     * older messages are out of it. */
    struct mf_fingerprint_set *rec_set;
    uint32_t rec_tgt_from;
    bool rec_twins;
    /* Recognition looked at the target messages above rec_from and saw
     * none above rec_seen (both 0 when it did not run). */
    uint32_t rec_from, rec_seen;
    size_t ck_prefix; /* prefix at the last checkpoint */
    double ck_time;
    /* Writer. */
    struct mf_pipe *pipe;
    struct mf__batch *cur; /* owned: the batch being filled */
    size_t inflight;
    /* Commands of one message to send again (a MULTIAPPEND refused as a
     * whole, split; a message --repair changed), in the order they were
     * refused; owned until submitted: the writer loop sends them first,
     * within appends_in_flight (folder_write.c). */
    struct mf__batch *resend, *resend_tail;
    /* The keywords the target took in this folder (an APPEND that carried
     * them answered OK), sorted, compared without case; owned: a message
     * with another goes alone (folder_keywords.c). */
    char **kw;
    size_t nkw, kw_cap;
    struct mf_error werr;
    uint32_t werr_retry_ms;
    /* The source's pause (monotonic ms, throttle.c): written by the
     * writer, which may read Redis, and honoured by the reader between
     * FETCH batches. */
    _Atomic uint64_t src_pause_until;
    /* Reader (its own thread). */
    pthread_t reader;
    bool reader_started;
    mf_err reader_rc; /* what fetch_bodies() returned */
    uint32_t *todo;
    uint64_t *todo_size; /* the listed sizes of todo */
    size_t ntodo;
    /* Bodies whose length differed from the listed size: fetched once
     * more after the rest, then failed (rd_last_try). */
    uint32_t *refetch;
    size_t nrefetch;
    bool rd_last_try, rd_skip;
    uint8_t *rd_tail; /* streamed: its last bytes, until end() */
    size_t rd_tail_len;
    uint8_t *rd_buf;
    size_t rd_len;
    uint64_t rd_size;
    uint32_t rd_uid;
    bool rd_whole;
};
struct mf__batch; /* folder_write.c */

/* folder.c: the writer's first error wins (also from the reader's
 * pipe), with the server's backoff; the rest are consequences. */
/* As mf__folder_set_werr(), for an error of the source (the reader's);
 * mf__folder_set_werr() takes errors as the target's: throttling pauses
 * that side (throttle.c). */
void mf__folder_set_werr_source(struct mf__folder *fr, const struct mf_error *e,
                                uint32_t retry_ms);
void mf__folder_set_werr(struct mf__folder *fr, const struct mf_error *e,
                         uint32_t retry_ms);
void mf__folder_set_werr_code(struct mf__folder *fr, mf_err code,
                              const char *detail);
/* One message done (copied, present, skipped, failed) for the progress
 * counters, with the bytes it moved. */
void mf__folder_progress(struct mf__folder *fr, uint64_t bytes);

/* folder_list.c */
bool mf__folder_target_has_above(const struct mf_store_select *dsel,
                                 uint32_t mark);
/* Lists the target above tgt_from into fr->rec_set. */
MF_WARN_UNUSED mf_err mf__folder_recognise_begin(struct mf__folder *fr,
                                                 uint32_t tgt_from);
/* Recognises the listed messages from index from on (one window). */
MF_WARN_UNUSED mf_err mf__folder_recognise(struct mf__folder *fr, size_t from);
/* Skips the listed messages from index from on over the size cap. */
MF_WARN_UNUSED mf_err mf__folder_skip_too_large(struct mf__folder *fr,
                                                size_t from);
/* Counts the folder in the mailbox's source totals (first window:
 * exists; then the bytes of the messages listed from index from on);
 * false when an earlier attempt of this run did (a retried folder). */
bool mf__folder_stats_source(struct mf__folder *fr, uint32_t exists,
                             size_t from);
/* Leaves the messages from index from on outside the date window on the
 * source (settled, counted in the statistics when count, with the
 * checkpoint's share the first time). */
void mf__folder_leave_outside(struct mf__folder *fr, size_t from, bool count);
MF_WARN_UNUSED mf_err mf__folder_list_pending(struct mf__folder *fr,
                                              const uint32_t *uids, size_t n,
                                              bool with_fp);
void mf__folder_fail_unlistable(struct mf__folder *fr);
void mf__folder_fail_unattempted(struct mf__folder *fr,
                                 const struct mf_error *e);

/* Fills in the Subject and Message-ID of the messages this folder
 * listed as failed from res->failed[from] on without them (refused in a
 * command of many, never tried, or streamed), asking the source for
 * those messages alone, at most MF__FILL_FAILED_MAX of them: an admin
 * finds a refused message by them (issue 13). Best effort: a source that
 * does not answer leaves them out. The source folder is selected and the
 * reader thread is not running. */
#define MF__FILL_FAILED_MAX 100
void mf__folder_fill_failed(struct mf__folder *fr, size_t from);

/* folder_read.c: the reader thread's body (pthread_create argument fr). */
void *mf__folder_reader_main(void *arg);

/* folder_write.c */
/* Marks a message the target refused (or that was never tried because
 * of error e) as failed, and lists it (subject: its decoded Subject,
 * message_id: its Message-ID, each when known, else NULL). */
void mf__folder_fail_message(struct mf__folder *fr, struct mf__msg *m,
                             const char *subject, const char *message_id,
                             const struct mf_error *e);
/* The writer loop: runs until the reader is done and every append is
 * confirmed, or until an error or a stop request. */
void mf__folder_write_all(struct mf__folder *fr);

/* folder_keywords.c */
/* Whether flags ("\Seen $Label1") have a keyword the target has not
 * taken in fr's folder; with add, those are taken from now on. */
bool mf__folder_kw_fresh(struct mf__folder *fr, const char *flags, bool add);

/* folder_ckpt.c */
/* Writes the checkpoint ck (dirty: messages above last_uid may be on the
 * target) with fr's pending UIDs. Returns false (error in run->err) when
 * the write failed. */
bool mf__folder_ckpt_write(struct mf__folder *fr, struct mf_checkpoint ck,
                           bool dirty);
/* The clean checkpoint of a folder settled without a copy, written with
 * the next ones (mf__ckpt_put_later()); false: the write failed. */
bool mf__folder_ckpt_write_later(struct mf__folder *fr,
                                 struct mf_checkpoint ck);
/* Moves the finished prefix on and writes a dirty checkpoint when it has
 * moved enough (or force). */
void mf__folder_advance(struct mf__folder *fr, bool force);
/* A window is finished (every listed message in the prefix): drops the
 * settled messages from list, keeping what the checkpoint needs of them
 * (bytes, the date window's count, flagbase lines, UID map pairs); the
 * pending ones stay. */
void mf__folder_compact(struct mf__folder *fr);

/* folder_delete.c (--sync-deletes) */
/* Loads the UID map and removes from the target (selected) what the
 * source expunged at or below base_uid since the last pass, if mailferry
 * put it there. */
MF_WARN_UNUSED mf_err mf__folder_sync_deletes(struct mf__folder *fr,
                                              uint32_t tgt_uidvalidity);
/* The parts of it, for the moves of the mailbox's pass (moves.c): loads
 * the folder's UID map (uidmap_on), emptied when made under another
 * target UIDVALIDITY; takes out of the map the pairs whose source message
 * is gone (the source folder selected: base_uid, ck and label set) and
 * returns them (*gone_r malloc'd); saves the map as it is. */
MF_WARN_UNUSED mf_err mf__folder_uidmap_load(struct mf__folder *fr,
                                             uint32_t tgt_uidvalidity);
MF_WARN_UNUSED mf_err mf__folder_find_gone(struct mf__folder *fr,
                                           struct mf__uidpair **gone_r,
                                           size_t *n_r);
MF_WARN_UNUSED mf_err mf__folder_uidmap_put(struct mf__folder *fr);
/* Marks PRESENT the new messages from index from of the list on that the
 * UID map names (moves.c: moved here on the target this run, or copied
 * by an attempt that did not finish), merging the flags of those moved.
 * Target folder selected. */
MF_WARN_UNUSED mf_err mf__folder_take_moved(struct mf__folder *fr, size_t from);
/* Whether the UID map names target UID uid as the copy of a source
 * message above base_uid (mf__folder_take_moved() takes those):
 * recognition leaves such copies out. */
bool mf__folder_mapped_above(struct mf__folder *fr, uint32_t uid);
/* Adds this pass's confirmed copies to the UID map and saves it. */
MF_WARN_UNUSED mf_err mf__folder_uidmap_save(struct mf__folder *fr);

#endif
