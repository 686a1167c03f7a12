/*
 * One folder's copy (docs/design.md section 8). The steps are split over
 * folder_list.c (1-2), folder_read.c and folder_write.c (3) and
 * folder_ckpt.c (4); folder_int.h says who owns what.
 *
 *   1. SELECT the target, EXAMINE the source (read-only: nothing changes
 *      there), read the checkpoint and decide where to start:
 *        - clean checkpoint, same UIDVALIDITY: only UIDs above last_uid;
 *        - dirty checkpoint: the same, but messages above last_uid may be
 *          on the target already: recognise them by fingerprint among the
 *          target messages above the checkpoint's tgt_mark;
 *        - no checkpoint, or a UIDVALIDITY change on either side: every
 *          message, recognised by fingerprint against the whole target
 *          folder when it is not empty.
 *      Recognition is a multiset: a message that is twice in the source
 *      and once on the target is copied once more (listing.c counts the
 *      twins below the checkpoint too, for a target mark that is low).
 *      The listing is checked against the server's count (listing.c): a
 *      short one fails the folder (FOLDER_INCOMPLETE) with nothing
 *      written; a message listed without size, date or flags fails alone
 *      (MESSAGE_UNLISTABLE) and stays pending.
 *   2. Leave on the source the messages outside the date window
 *      (--since/--before, window.c): settled, not pending, counted as
 *      outside_window and in the checkpoint, which remembers the window.
 *      A later pass whose window reaches further lists the folder whole
 *      and recognises what is on the target, as in step 1 without a
 *      checkpoint, so the rest is copied once.
 *      Skip (and list, with the subject) messages over the size cap.
 *   3. Copy: a reader thread fetches bodies (mailferry/store.h fetch_bodies)
 * into a bounded pipe (pipe.h); this thread appends them in batches, several in
 * flight (one MULTIAPPEND each, or, on a target without MULTIAPPEND, single
 * APPENDs pipelined by the store, each message settled by its own answer), or
 * streams a big one as a single APPEND while its bytes still arrive (its last
 * bytes wait until the source confirmed its UID). A body whose length is not
 * the listed RFC822.SIZE is fetched once more, then fails alone
 *      (MESSAGE_SIZE_MISMATCH).
 *   4. Checkpoint as confirmations come in: last_uid is the UID of the
 *      last message of the longest finished prefix (copied, present,
 *      skipped, failed or vanished), so nothing above it is unconfirmed;
 *      dirty until the folder is done, then clean. The messages at or
 *      below last_uid that are not on the target (skipped, failed, or
 *      retried and not finished yet) are the checkpoint's pending UIDs:
 *      every later pass lists them again with the new ones and retries
 *      them, so a message is never dropped by moving the checkpoint on.
 *
 * Steps 1-4 go a UID window at a time (issue 14 item 5: a folder of
 * 1,000,000 messages in bounded memory): UIDs [a, a + width - 1] are
 * listed (the last window "a:*", which takes in what arrived since
 * SELECT), checked against the server's count of that window, decided,
 * copied and confirmed before the next window is listed; then
 * mf__folder_compact() drops the settled messages from the list, keeping
 * what the checkpoint needs of them (bytes, the date window's count,
 * flagbase lines, UID map pairs). Pending messages stay listed, so every
 * checkpoint still names them. Recognition lists the target above the
 * mark into a fingerprint set once and takes from it window by window;
 * the flag sync pairs both folders in windows (pairing.c); the flags last
 * synced are read and written a UID window at a time (flagbase.c). What
 * memory still grows with the folder: that set (the target above the
 * mark: after a crash, what was in flight), and with --sync-deletes the
 * UID map.
 *
 * Message states move LISTED -> QUEUED -> DONE, or to PRESENT, SKIPPED,
 * FAILED, VANISHED. A batch the target refuses as a whole is retried one
 * message at a time so that a bad message fails alone; a full target
 * ([OVERQUOTA]) fails the whole batch at once and stops the folder.
 *
 * A folder copied with a refusal (the target folder cannot be created or
 * selected, or the target stopped taking mail earlier in the mailbox) is
 * only listed: every message that would have been copied is failed with
 * that refusal, so the report counts the source as it is.
 */
#include "migrate/folder_int.h"

#include "mailferry/log.h"
#include "mailferry/util.h"
#include "mailferry/window.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
set_werr(struct mf__folder *fr, const struct mf_error *e, uint32_t retry_ms,
         bool target) {
    if (e->code == MF_E_THROTTLED)
        mf__run_throttled(fr->run, target, retry_ms);
    if (e->code == MF_E_BANDWIDTH_QUOTA)
        mf__run_quota_said(fr->run, target);
    if (fr->werr.code == MF_E_OK) {
        fr->werr = *e;
        fr->werr_retry_ms = retry_ms;
    }
}

void
mf__folder_set_werr(struct mf__folder *fr, const struct mf_error *e,
                    uint32_t retry_ms) {
    set_werr(fr, e, retry_ms, true);
}

void
mf__folder_set_werr_source(struct mf__folder *fr, const struct mf_error *e,
                           uint32_t retry_ms) {
    set_werr(fr, e, retry_ms, false);
}

void
mf__folder_set_werr_code(struct mf__folder *fr, mf_err code,
                         const char *detail) {
    struct mf_error e = {.code = code};
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    mf__folder_set_werr(fr, &e, 0);
}

void
mf__folder_progress(struct mf__folder *fr, uint64_t bytes) {
    struct mf_migrate_progress *p = fr->run->o->progress;
    if (p) {
        atomic_fetch_add(&p->messages_done, 1);
        /* Only a copied message brings bytes (a message is never empty:
         * RFC 5322 needs header fields). */
        if (bytes)
            atomic_fetch_add(&p->messages_copied, 1);
        atomic_fetch_add(&p->bytes_done, bytes);
    }
}

static void
finish(struct mf__folder *fr) {
    if (fr->reader_started) {
        mf__pipe_cancel(fr->pipe);
        pthread_join(fr->reader, NULL);
        fr->reader_started = false;
    }
    mf__pipe_free(&fr->pipe);
    free(fr->todo);
    free(fr->todo_size);
    free(fr->refetch);
    free(fr->rd_buf);
    free(fr->src_name);
    mf_checkpoint_pending_free(&fr->ck);
    mf__msglist_clear(&fr->list);
    mf__uidmap_clear(&fr->uidmap);
    mf_buf_free(&fr->newbase);
    mf_buf_free(&fr->moved_base);
    mf__flagbase_free(&fr->fb);
    mf_fingerprint_set_free(&fr->rec_set);
    mf_strv_free(fr->kw, fr->nkw);
    fr->kw = NULL;
    fr->nkw = fr->kw_cap = 0;
}

/* Whether an error stops this folder for good (the messages not copied
 * are failed and listed) rather than for this attempt. */
static bool
definitive(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX;
}

/* A Gmail source copied by labels (gmail.c): a message an earlier label
 * folder has is placed there, not copied again here. */
static void
gmail_copies(struct mf__folder *fr, size_t from) {
    struct mf__run *run = fr->run;

    if (!run->gmail)
        return;
    for (size_t i = from; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct mf_fingerprint k;
        mf__gmail_key(m, &k);
        if (m->state == M_LISTED && !m->missing &&
            mf__gmail_placed_before(run->gmail, run->gmail_folder, &k)) {
            m->state = M_PRESENT;
            run->res->stats.gmail_label_copies++;
        }
    }
}

/* Copies the window's listed messages in state M_LISTED (reader thread +
 * writer). Returns false with fr->werr set when the copy stopped early. */
static bool
copy_listed(struct mf__folder *fr) {
    struct mf__run *run = fr->run;

    /* The reader's state of the window before. */
    free(fr->todo);
    free(fr->todo_size);
    free(fr->refetch);
    fr->refetch = NULL;
    fr->ntodo = fr->nrefetch = 0;
    fr->rd_last_try = fr->rd_skip = false;
    fr->reader_rc = MF_E_OK;
    mf__pipe_free(&fr->pipe);
    fr->todo = mf_xcalloc(fr->list.n + 1, sizeof(*fr->todo));
    fr->todo_size = mf_xcalloc(fr->list.n + 1, sizeof(*fr->todo_size));
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_LISTED) {
            fr->todo_size[fr->ntodo] = fr->list.m[i].size;
            fr->todo[fr->ntodo++] = fr->list.m[i].uid;
        }
    if (fr->ntodo == 0)
        return true;
    /* Dirty before the first byte goes out. */
    mf__folder_advance(fr, true);
    if (fr->werr.code != MF_E_OK)
        return false;
    fr->pipe = mf__pipe_new(run->pipe_bytes);
    atomic_store(&fr->src_pause_until,
                 mf__run_throttle_until(run, false, true));
    if (pthread_create(&fr->reader, NULL, mf__folder_reader_main, fr) != 0) {
        mf__folder_set_werr_code(fr, MF_E_INTERNAL,
                                 "cannot start the reader thread");
        return false;
    }
    fr->reader_started = true;
    mf__folder_write_all(fr);
    mf__pipe_cancel(fr->pipe);
    pthread_join(fr->reader, NULL);
    fr->reader_started = false;
    /* A FETCH cut off in the middle leaves the source session in the
     * middle of a response: the next folder needs a new connection. */
    if (fr->reader_rc != MF_E_OK)
        run->reopen_source = true;
    if (fr->werr.code == MF_E_OK)
        return true;
    if (definitive(fr->werr.code))
        mf__folder_fail_unattempted(fr, &fr->werr);
    mf__folder_advance(fr, true); /* keep what was confirmed */
    return false;
}

/* Whether the flags of the messages up to the checkpoint are still what
 * the last pass's flag sync left on both sides (CONDSTORE, RFC 7162): the
 * target's HIGHESTMODSEQ when this pass began is the one recorded when
 * the last pass ended, and no source message up to last_uid changed
 * after the source's recorded one (CHANGEDSINCE, section 3.1.4.1). Then
 * a flag sync would change nothing, flagbase included, and is not run: a
 * folder visited for its new mail lists only that. Both folders
 * selected. A server refusing the question means "not known". */
static mf_err
flags_unchanged(struct mf__folder *fr, bool *same_r) {
    struct mf__run *run = fr->run;
    const struct mf_checkpoint *ck = &fr->ck;
    bool changed = true;
    mf_err rc;

    *same_r = false;
    if (!ck->has_status || !ck->src_status.highestmodseq ||
        !ck->tgt_status.highestmodseq || !fr->have_dst_status ||
        fr->dst_status.highestmodseq != ck->tgt_status.highestmodseq ||
        fr->dst_status.uidvalidity != ck->tgt_uidvalidity ||
        !run->src->caps.condstore || !run->src->ops->changed_since)
        return MF_E_OK;
    rc = run->src->ops->changed_since(run->src, 1, ck->last_uid,
                                      ck->src_status.highestmodseq, &changed);
    if (rc != MF_E_OK) {
        rc = mf__run_store_error(run, run->src, fr->label);
        return definitive(rc) ? MF_E_OK : rc;
    }
    *same_r = !changed;
    return MF_E_OK;
}

/* The flag sync of an incremental pass (flagsync.c), and the flags last
 * synced: those it made agree, and those of the messages copied now.
 * Without a flag sync the lines saved before stay, the new ones added. */
static mf_err
sync_flags(struct mf__folder *fr, bool incremental) {
    struct mf_buf base = {0};
    bool same = false;
    mf_err rc = MF_E_OK;

    if (incremental && (rc = flags_unchanged(fr, &same)) == MF_E_OK && !same) {
        size_t listed = fr->run->res->n_failed;
        rc = mf__migrate_flag_sync(fr->run, fr->label, fr->fb, fr->ck.last_uid,
                                   fr->tgt_last, &base);
        fr->flags_refused = fr->run->res->n_failed > listed;
    }
    for (size_t i = 0; rc == MF_E_OK && i < fr->list.n; i++)
        if (fr->list.m[i].state == M_DONE)
            mf__flagbase_add(&base, fr->list.m[i].uid, fr->list.m[i].flags,
                             fr->list.m[i].flags);
    /* Those of the windows before (mf__folder_compact()). */
    if (rc == MF_E_OK && fr->newbase.len)
        mf_buf_append(&base, fr->newbase.data, fr->newbase.len);
    if (rc == MF_E_OK && fr->moved_base.len) /* moved here (moves.c) */
        mf_buf_append(&base, fr->moved_base.data, fr->moved_base.len);
    if (rc == MF_E_OK)
        rc = mf__flagbase_write(fr->fb, &base);
    mf_buf_free(&base);
    return rc;
}

/* STATUS of one side's folder into *st_r. false when the store has no
 * STATUS or the server refused it (the folder is then visited, and its
 * SELECT tells the story); a broken connection is an error (*rc_r, also
 * in run->err). */
static bool
status_of(struct mf__run *run, struct mf_store *st, const char *name,
          const char *label, struct mf_store_status *st_r, mf_err *rc_r) {
    mf_err rc;

    *rc_r = MF_E_OK;
    memset(st_r, 0, sizeof(*st_r));
    if (!st->ops->status)
        return false;
    if ((rc = st->ops->status(st, name, st_r)) == MF_E_OK)
        return true;
    rc = mf__run_store_error(run, st, label);
    if (!definitive(rc))
        *rc_r = rc;
    return false;
}

/* Step 0b: a folder the source says is empty, with nothing of it
 * recorded (unchanged.c, mf__folder_empty_new()), is settled by the two
 * STATUS answers: the checkpoint the full path would write after listing
 * nothing, with no SELECT, EXAMINE or FETCH on either side. Not with
 * --sync-deletes, whose UID map and moves the full path keeps. */
static mf_err
settle_empty(struct mf__folder *fr) {
    struct mf_checkpoint ck = fr->ck;

    ck.uidvalidity = fr->src_status.uidvalidity;
    ck.tgt_uidvalidity = fr->dst_status.uidvalidity;
    ck.last_uid = 0;
    /* Every target message there now is accounted for (the full path
     * recognises them all, and none matches an empty source). */
    ck.tgt_mark = fr->dst_status.uidnext ? fr->dst_status.uidnext - 1 : 0;
    ck.has_status = true;
    ck.src_status.uidnext = fr->src_status.uidnext;
    ck.src_status.messages = 0;
    ck.src_status.highestmodseq = fr->src_status.highestmodseq;
    ck.tgt_status.uidnext = fr->dst_status.uidnext;
    ck.tgt_status.messages = fr->dst_status.messages;
    ck.tgt_status.highestmodseq = fr->dst_status.highestmodseq;
    mf__folder_leave_outside(fr, 0, mf__folder_stats_source(fr, 0, 0));
    mf_log(MF_LOG_DEBUG, &(struct mf_log_ctx){.mailbox = fr->run->mailbox},
           "folder.empty", "%s", fr->label);
    /* Nothing to redo if it is lost: written with the next ones. */
    return mf__folder_ckpt_write_later(fr, ck) ? MF_E_OK : fr->run->err.code;
}

/* Step 0: a folder whose STATUS on both sides is what the checkpoint
 * recorded is skipped without SELECT (unchanged.c), and so is a new one
 * the source says is empty (settle_empty()). Sets *skip_r, and
 * fr->src_status to the source's STATUS, asked before anything is listed
 * (ahead of the mailbox's first folder, statuses.c, or now) so that
 * whatever arrives later is seen as a change by the next pass. */
static mf_err
check_unchanged(struct mf__folder *fr, bool found, bool *skip_r) {
    struct mf__run *run = fr->run;
    const char *why;
    bool ahead;
    mf_err rc = MF_E_OK;

    *skip_r = false;
    fr->have_src_status =
        mf__run_status_take(run, fr->e, false, &fr->src_status) ||
        status_of(run, run->src, fr->src_name, fr->label, &fr->src_status, &rc);
    if (rc != MF_E_OK || !fr->have_src_status ||
        (!found && fr->src_status.messages != 0))
        return rc;
    ahead = mf__run_status_take(run, fr->e, true, &fr->dst_status);
    fr->have_dst_status =
        ahead || status_of(run, run->dst, fr->dst_name, fr->e->tgt_name,
                           &fr->dst_status, &rc);
    if (!fr->have_dst_status)
        return rc;
    if (!run->o->sync_deletes &&
        mf__folder_empty_new(&fr->ck, found, &fr->src_status,
                             &fr->dst_status)) {
        *skip_r = true;
        return settle_empty(fr);
    }
    if (!found)
        return MF_E_OK;
    why = mf__folder_changed(&fr->ck, found, &fr->src_status, &fr->dst_status);
    /* A new date window may take in what the last one left out. */
    if (!why && !mf_window_equal(&fr->ck.window, &run->o->window))
        why = "the date window changed";
    if (!why && run->o->sync_deletes && !fr->ck.sync_deletes)
        why = "--sync-deletes is on, and was off in the last pass";
    mf_log(MF_LOG_DEBUG, &(struct mf_log_ctx){.mailbox = run->mailbox},
           why ? "folder.changed" : "folder.unchanged", "%s%s%s", fr->label,
           why ? ": " : "", why ? why : "");
    if (why) {
        /* The visit's flags_unchanged() takes the target's STATUS for its
         * state as the visit begins: an answer from before the mailbox's
         * first folder is too old for that. Asked again where it can
         * count (a clean checkpoint past UID 0 with its STATUS). */
        if (ahead)
            fr->have_dst_status =
                fr->ck.has_status && !fr->ck.dirty && fr->ck.last_uid > 0 &&
                status_of(run, run->dst, fr->dst_name, fr->e->tgt_name,
                          &fr->dst_status, &rc);
        return rc;
    }
    /* Counted as the full path counts it: the checkpoint's share. */
    fr->base_uid = fr->ck.last_uid;
    fr->base_bytes = fr->ck.src_bytes;
    fr->base_out = fr->ck.out_messages;
    fr->base_out_bytes = fr->ck.out_bytes;
    mf__folder_leave_outside(
        fr, 0, mf__folder_stats_source(fr, fr->src_status.messages, 0));
    *skip_r = true;
    return MF_E_OK;
}

/* The STATUS a clean checkpoint records (unchanged.c): the source's from
 * before the listing, the target's now that this pass's appends and flag
 * changes are in. Without both, nothing is recorded and the next pass
 * visits the folder; so too after the target refused flags (the two
 * sides' flags do not agree). */
static mf_err
record_status(struct mf__folder *fr, struct mf_checkpoint *ck) {
    struct mf__run *run = fr->run;
    struct mf_store_status dst;
    mf_err rc;

    ck->has_status = false;
    if (fr->flags_refused)
        return MF_E_OK;
    if (!fr->have_src_status ||
        !status_of(run, run->dst, fr->dst_name, fr->e->tgt_name, &dst, &rc))
        return fr->have_src_status ? rc : MF_E_OK;
    ck->has_status = true;
    ck->src_status.uidnext = fr->src_status.uidnext;
    ck->src_status.messages = fr->src_status.messages;
    ck->src_status.highestmodseq = fr->src_status.highestmodseq;
    ck->tgt_status.uidnext = dst.uidnext;
    ck->tgt_status.messages = dst.messages;
    ck->tgt_status.highestmodseq = dst.highestmodseq;
    return MF_E_OK;
}

/* What the windows of one folder share (mf__migrate_folder()). */
struct pass {
    const struct mf_error *refusal; /* nothing is copied, all is failed */
    struct mf_error short_err;      /* a window's listing came back short */
    bool recognising, with_fp;
    bool count; /* this attempt counts the folder's totals */
    uint32_t start, tgt_from, exists, tgt_uidvalidity;
};

/* The copy's UID window from a: sets *hi_r and returns false, or returns
 * true for the last one ("a:*", *hi_r 0), which takes in the mail that
 * arrived since SELECT. A source that did not say UIDNEXT is one window. */
static bool
window_of(const struct mf__folder *fr, uint32_t a, uint32_t *hi_r) {
    uint64_t hi = (uint64_t)a + fr->width - 1;

    *hi_r = 0;
    if (a == 0 || fr->src_last == 0 || hi >= fr->src_last)
        return true;
    *hi_r = (uint32_t)hi;
    return false;
}

/* Steps 1-2 of one window's messages, from index from of the list on:
 * the source's totals, what stays on the source, recognition, the size
 * cap. The first window also syncs deletes and lists the target for
 * recognition. */
static mf_err
decide_window(struct mf__folder *fr, struct pass *ps, size_t from, bool first) {
    struct mf__run *run = fr->run;
    bool counted = mf__folder_stats_source(fr, ps->exists, from);
    mf_err rc;

    if (first)
        ps->count = counted;
    mf__folder_fail_unlistable(fr);
    mf__folder_leave_outside(fr, from, ps->count);
    if (!ps->refusal && ps->short_err.code != MF_E_OK)
        ps->refusal = &ps->short_err; /* listed, failed, not checkpointed */
    if (ps->refusal) {
        mf__folder_fail_unattempted(fr, ps->refusal);
        return MF_E_OK;
    }
    if (first && run->o->sync_deletes &&
        (rc = mf__folder_sync_deletes(fr, ps->tgt_uidvalidity)) != MF_E_OK)
        return rc;
    /* Moved here on the target by the mailbox's pass (moves.c). */
    if (run->o->sync_deletes &&
        (rc = mf__folder_take_moved(fr, from)) != MF_E_OK)
        return rc;
    if (first && ps->recognising &&
        (rc = mf__folder_recognise_begin(fr, ps->tgt_from)) != MF_E_OK)
        return rc;
    if ((rc = mf__folder_recognise(fr, from)) != MF_E_OK ||
        (rc = mf__folder_skip_too_large(fr, from)) != MF_E_OK)
        return rc;
    gmail_copies(fr, from);
    for (size_t i = from; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_PRESENT)
            mf__folder_progress(fr, 0);
    return MF_E_OK;
}

/* Steps 1-4 for the UIDs [a, hi] (hi 0: to the end); the checkpoint's
 * pending UIDs are listed before the first window. Sets *werr_r when the
 * copy stopped with fr->werr. */
static mf_err
copy_window(struct mf__folder *fr, struct pass *ps, uint32_t a, uint32_t hi,
            bool *werr_r) {
    struct mf__run *run = fr->run;
    /* The first window's messages include the pending UIDs before it. */
    bool first = a == ps->start;
    size_t from = first ? 0 : fr->list.n, before = fr->list.n;
    uint32_t window = mf__run_uid_window(run);
    mf_err rc;

    *werr_r = false;
    rc = mf__list_new(run, fr->label, a, hi, ps->with_fp, &fr->list,
                      &ps->short_err);
    if (rc != MF_E_OK)
        return rc;
    fr->width = mf__window_width(fr->width, fr->list.n - before, window);
    if ((rc = decide_window(fr, ps, from, first)) != MF_E_OK || ps->refusal)
        return rc;
    if (!copy_listed(fr)) {
        *werr_r = true;
        return fr->werr.code;
    }
    mf__folder_advance(fr, false);
    if (fr->prefix != fr->list.n)
        return mf_error_set(&run->err, MF_E_INTERNAL,
                            "folder %s: %zu messages unconfirmed", fr->label,
                            fr->list.n - fr->prefix);
    mf__folder_compact(fr);
    return MF_E_OK;
}

mf_err
mf__migrate_folder(struct mf__run *run, const struct mf_folder_entry *e,
                   const struct mf_error *refusal) {
    struct mf__folder fr = {0};
    struct mf_store_select ssel, dsel = {0};
    struct mf_error tgt_err = {0};
    struct pass ps = {0};
    bool found, skip, recognising = false, incremental = false;
    uint32_t start = 1, tgt_from = 0;
    mf_err rc;

    fr.run = run;
    fr.failed_from = run->res->n_failed;
    fr.e = e;
    fr.src_name = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
    fr.dst_name = e->tgt_wire;
    fr.label = e->src_path ? e->src_path : fr.src_name;
    fr.fb = mf__flagbase_new(run, fr.src_name);

    if ((rc = mf__ckpt_get(run, fr.src_name, &fr.ck, &found)))
        goto out;
    /* Not a command to a source the fleet paused; and a connection
     * above a limit lowered while it was open closes here too, as
     * between APPENDs (throttle.c). */
    mf__run_throttle_wait(run, false, false);
    if (mf__run_throttle_yield(run, false, &run->err) ||
        mf__run_throttle_yield(run, true, &run->err)) {
        rc = run->err.code;
        goto out;
    }
    if (!refusal) {
        if ((rc = check_unchanged(&fr, found, &skip)) != MF_E_OK || skip)
            goto out;
    }
    /* The target's SELECT travels while the source's EXAMINE does. */
    if (!refusal && run->dst->ops->select_ahead)
        run->dst->ops->select_ahead(run->dst, fr.dst_name);
    if ((rc = run->src->ops->select(run->src, fr.src_name, true, &ssel))) {
        rc = mf__run_store_error(run, run->src, fr.label);
        goto out;
    }
    fr.src_selected = true;
    if (!refusal &&
        (rc = run->dst->ops->select(run->dst, fr.dst_name, false, &dsel))) {
        rc = mf__run_store_error(run, run->dst, e->tgt_name);
        if (!definitive(rc))
            goto out;
        /* The target folder cannot be opened: list what it would hold. */
        tgt_err = run->err;
        refusal = &tgt_err;
    }
    if (found && fr.ck.uidvalidity == ssel.uidvalidity &&
        (refusal || fr.ck.tgt_uidvalidity == 0 ||
         fr.ck.tgt_uidvalidity == dsel.uidvalidity)) {
        start = fr.ck.last_uid + 1;
        fr.base_uid = fr.ck.last_uid;
        fr.base_bytes = fr.ck.src_bytes;
        tgt_from = fr.ck.tgt_uidvalidity ? fr.ck.tgt_mark : 0;
        recognising =
            fr.ck.dirty || mf__folder_target_has_above(&dsel, tgt_from);
        incremental = !fr.ck.dirty && fr.ck.last_uid > 0;
        fr.base_out = fr.ck.out_messages;
        fr.base_out_bytes = fr.ck.out_bytes;
        if (fr.ck.out_messages &&
            mf_window_widens(&fr.ck.window, &run->o->window)) {
            /* A window that reaches further than the one the checkpoint
             * was made under: what that one left out is below last_uid.
             * The folder is listed whole again and what is on the target
             * recognised by fingerprint, as without a checkpoint; the
             * flags of the messages copied before are still synced. */
            start = 1;
            fr.base_uid = 0;
            fr.base_bytes = fr.base_out = fr.base_out_bytes = 0;
            tgt_from = 0;
            fr.ck.tgt_mark = 0;
            recognising = dsel.exists > 0;
            mf_checkpoint_pending_free(&fr.ck); /* listed with the rest */
        }
    } else {
        if (found)
            run->res->stats.uidvalidity_changes++;
        mf_checkpoint_pending_free(&fr.ck);
        recognising = dsel.exists > 0;
        tgt_from = 0;
        fr.ck.tgt_mark = 0;
    }
    if (refusal)
        recognising = incremental = false;
    fr.ck.uidvalidity = ssel.uidvalidity;
    fr.ck.tgt_uidvalidity = dsel.uidvalidity;
    fr.tgt_last = dsel.uidnext ? dsel.uidnext - 1 : 0;
    if (!recognising)
        fr.ck.tgt_mark = dsel.uidnext ? dsel.uidnext - 1 : 0;
    fr.last_uid = start - 1;

    fr.list.keep_unlistable = true;
    fr.src_last = ssel.uidnext ? ssel.uidnext - 1 : 0;
    fr.tgt_exists = dsel.exists;
    fr.width = mf__run_uid_window(run);
    ps.refusal = refusal;
    ps.recognising = recognising;
    ps.with_fp = recognising || run->gmail;
    ps.start = start;
    ps.tgt_from = tgt_from;
    ps.exists = ssel.exists;
    ps.tgt_uidvalidity = dsel.uidvalidity;
    if (fr.ck.n_pending &&
        (rc = mf__folder_list_pending(&fr, fr.ck.pending, fr.ck.n_pending,
                                      ps.with_fp)) != MF_E_OK)
        goto out;
    for (uint32_t a = start, hi;; a = hi + 1) {
        bool last = window_of(&fr, a, &hi), werr;
        rc = copy_window(&fr, &ps, a, hi, &werr);
        if (werr)
            goto werr;
        if (rc != MF_E_OK)
            goto out;
        /* The flags of the copies, a window's worth at a time. */
        if (fr.newbase.len >= MF__FLAGBASE_FLUSH_BYTES &&
            (rc = mf__flagbase_write(fr.fb, &fr.newbase)) != MF_E_OK)
            goto out;
        /* A short window stops the copy there: nothing is checkpointed
         * past what the windows before it confirmed. */
        if (last || ps.refusal == &ps.short_err)
            break;
    }
    if (ps.refusal) {
        /* Nothing more is written: the next pass lists these messages
         * again. */
        run->err = *ps.refusal;
        rc = ps.refusal->code;
        goto out;
    }
    if ((rc = sync_flags(&fr, incremental)) != MF_E_OK ||
        (rc = mf__folder_uidmap_save(&fr)) != MF_E_OK)
        goto out;
    {
        struct mf_checkpoint ck = fr.ck;
        ck.last_uid = fr.last_uid;
        if (fr.list.n && fr.list.m[fr.list.n - 1].uid > ck.last_uid)
            ck.last_uid = fr.list.m[fr.list.n - 1].uid;
        /* Every target message recognition saw is accounted for now: the
         * next pass need not look at them again. */
        if (fr.rec_seen > ck.tgt_mark)
            ck.tgt_mark = fr.rec_seen;
        if ((rc = record_status(&fr, &ck)) != MF_E_OK)
            goto out;
        rc = mf__folder_ckpt_write(&fr, ck, false) ? MF_E_OK : run->err.code;
    }
    goto out;
werr:
    /* What was confirmed is on the target: into the map, come what may. */
    if (mf__folder_uidmap_save(&fr) != MF_E_OK) {
        /* Those copies are then never removed by --sync-deletes. */
    }
    run->err = fr.werr;
    run->retry_after_ms = fr.werr_retry_ms;
    rc = fr.werr.code;
out:
    if (fr.src_selected)
        mf__folder_fill_failed(&fr, fr.failed_from);
    finish(&fr);
    return rc;
}
