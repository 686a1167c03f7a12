/*
 * One folder's copy (DESIGN.md section 8).
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
 *   2. Skip (and list, with the subject) messages over the size cap.
 *   3. Copy: a reader thread fetches bodies (store.h fetch_bodies) into a
 *      bounded pipe (pipe.h); this thread appends them in MULTIAPPEND
 *      batches, several in flight, or streams a big one as a single
 *      APPEND while its bytes still arrive (its last bytes wait until the
 *      source confirmed its UID). A body whose length is not the listed
 *      RFC822.SIZE is fetched once more, then fails alone
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
 * Message states move TODO -> QUEUED -> DONE, or to PRESENT, SKIPPED,
 * FAILED, VANISHED. A batch the target refuses as a whole is retried one
 * message at a time so that a bad message fails alone; a full target
 * ([OVERQUOTA]) fails the whole batch at once and stops the folder.
 *
 * A folder copied with a refusal (the target folder cannot be created or
 * selected, or the target stopped taking mail earlier in the mailbox) is
 * only listed: every message that would have been copied is failed with
 * that refusal, so the report counts the source as it is.
 */
#include "migrate/leases.h"
#include "migrate/migrate_int.h"
#include "migrate/pipe.h"

#include "imap/parser.h"
#include "mailferry/fence.h"
#include "mailferry/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    M_TODO = 0,
    M_QUEUED,
    M_DONE,
    M_PRESENT,
    M_SKIPPED,
    M_FAILED,
    M_VANISHED,
};

/* Checkpoint at least this often while copying. */
#define CKPT_EVERY_MESSAGES 500
#define CKPT_EVERY_SECONDS 2.0

struct outmsg {
    struct folder_run *fr;
    size_t idx;    /* into fr->list.m */
    uint8_t *data; /* owned, whole messages */
    size_t len, off;
    bool streamed;
    struct mf_pipe_item *cur; /* streamed: the piece being sent */
};

struct batch {
    struct folder_run *fr;
    struct outmsg **msgs; /* owned */
    size_t n, cap, bytes;
};

struct folder_run {
    struct mf__run *run;
    const struct mf_folder_entry *e;
    /* The checkpoint's last_uid and src_bytes when the folder started
     * (0 without a usable checkpoint): pending UIDs are at or below it. */
    uint32_t base_uid;
    uint64_t base_bytes;
    char *src_name; /* NUL-terminated raw source name */
    const char *dst_name;
    const char *label; /* for reports: the decoded source path */
    struct mf__msglist list;
    size_t prefix;     /* messages in the finished prefix */
    uint32_t last_uid; /* checkpointed */
    struct mf_checkpoint ck;
    /* Recognition looked at the target messages above rec_from and saw
     * none above rec_seen (both 0 when it did not run). */
    uint32_t rec_from, rec_seen;
    size_t ck_prefix; /* prefix at the last checkpoint */
    double ck_time;
    /* Writer. */
    struct mf_pipe *pipe;
    struct batch *cur;
    size_t inflight;
    struct mf_error werr;
    uint32_t werr_retry_ms;
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

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mf__msg *
find_msg(struct folder_run *fr, uint32_t uid, size_t *idx_r) {
    size_t lo = 0, hi = fr->list.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fr->list.m[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < fr->list.n && fr->list.m[lo].uid == uid) {
        if (idx_r)
            *idx_r = lo;
        return &fr->list.m[lo];
    }
    return NULL;
}

static void
set_werr(struct folder_run *fr, const struct mf_error *e, uint32_t retry_ms) {
    if (fr->werr.code == MF_E_OK) {
        fr->werr = *e;
        fr->werr_retry_ms = retry_ms;
    }
}

static void
set_werr_code(struct folder_run *fr, mf_err code, const char *detail) {
    struct mf_error e = {.code = code};
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    set_werr(fr, &e, 0);
}

static void
progress_done(struct folder_run *fr, uint64_t bytes) {
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

/* ------------------------------------------------------------------ */
/* Checkpoints                                                         */
/* ------------------------------------------------------------------ */

static bool
finished(uint8_t st) {
    return st >= M_DONE;
}

/* Whether a message is on the target (or gone from the source): what
 * is not is pending once the checkpoint is past it. */
static bool
settled(uint8_t st) {
    return st == M_DONE || st == M_PRESENT || st == M_VANISHED;
}

/* Fills ck's pending UIDs (borrowed from fr's scratch array) and source
 * bytes for a checkpoint at ck->last_uid. More pending UIDs than a
 * checkpoint keeps hold ck->last_uid back below the first one left out
 * (never below base_uid: the base's own pending UIDs always fit). Returns
 * whether it was held back. */
static bool
ckpt_pending(struct folder_run *fr, struct mf_checkpoint *ck,
             uint32_t **scratch) {
    bool held = false;
    size_t n = 0;

    ck->src_bytes = fr->base_bytes;
    *scratch = mf_xreallocarray(*scratch, fr->list.n + 1, sizeof(**scratch));
    for (size_t i = 0; i < fr->list.n; i++) {
        const struct mf__msg *m = &fr->list.m[i];
        if (m->uid > ck->last_uid)
            break;
        if (!settled(m->state)) {
            if (n == MF_CHECKPOINT_PENDING_MAX) {
                MF_ASSERT(m->uid > fr->base_uid);
                ck->last_uid = m->uid - 1;
                held = true;
                break;
            }
            (*scratch)[n++] = m->uid;
        }
        if (m->uid > fr->base_uid)
            ck->src_bytes += m->size;
    }
    ck->pending = *scratch;
    ck->n_pending = n;
    return held;
}

/* Keeps ck->tgt_mark under the target UIDs of messages copied above
 * ck->last_uid or after the finished prefix (a batch split into single
 * appends finishes after later batches), and under the messages
 * recognised on the target above ck->last_uid: a resume must look for
 * them, or it would copy them twice. */
static void
ckpt_lower_mark(const struct folder_run *fr, struct mf_checkpoint *ck) {
    for (size_t i = 0; i < fr->list.n; i++) {
        const struct mf__msg *m = &fr->list.m[i];
        bool ahead = i >= fr->prefix || m->uid > ck->last_uid;
        if (ahead && m->state == M_DONE && m->tgt_uid &&
            m->tgt_uid <= ck->tgt_mark)
            ck->tgt_mark = m->tgt_uid - 1;
        /* Its target UID is not known, only that it is above rec_from. */
        if (ahead && m->state == M_PRESENT && fr->rec_from < ck->tgt_mark)
            ck->tgt_mark = fr->rec_from;
    }
}

/* Writes the checkpoint ck (dirty: messages above last_uid may be on the
 * target) with fr's pending UIDs. Returns false (error in run->err) when
 * the write failed. */
static bool
ckpt_write(struct folder_run *fr, struct mf_checkpoint ck, bool dirty) {
    uint32_t *scratch = NULL;
    bool ok;

    if (ckpt_pending(fr, &ck, &scratch))
        dirty = true;
    ck.dirty = dirty;
    if (dirty)
        ckpt_lower_mark(fr, &ck);
    ok = mf__ckpt_put(fr->run, fr->src_name, &ck) == MF_E_OK;
    free(scratch);
    return ok;
}

/* Moves the finished prefix on and writes a dirty checkpoint when it has
 * moved enough (or force). */
static void
advance(struct folder_run *fr, bool force) {
    struct mf_checkpoint ck;

    while (fr->prefix < fr->list.n && finished(fr->list.m[fr->prefix].state)) {
        const struct mf__msg *m = &fr->list.m[fr->prefix];
        if (m->uid > fr->last_uid)
            fr->last_uid = m->uid;
        /* Target UIDs up to a copied message's own are accounted for. */
        if (m->state == M_DONE && m->tgt_uid > fr->ck.tgt_mark &&
            fr->ck.tgt_uidvalidity != 0)
            fr->ck.tgt_mark = m->tgt_uid;
        fr->prefix++;
    }
    if (fr->prefix == fr->ck_prefix && !force)
        return;
    if (!force && fr->prefix - fr->ck_prefix < CKPT_EVERY_MESSAGES &&
        now_s() - fr->ck_time < CKPT_EVERY_SECONDS)
        return;
    ck = fr->ck;
    ck.last_uid = fr->last_uid;
    if (!ckpt_write(fr, ck, true)) {
        set_werr(fr, &fr->run->err, 0);
        return;
    }
    fr->ck_prefix = fr->prefix;
    fr->ck_time = now_s();
}

/* ------------------------------------------------------------------ */
/* Reader thread                                                       */
/* ------------------------------------------------------------------ */

static mf_err
push(struct folder_run *fr, enum mf_pipe_kind kind, uint32_t uid, uint64_t size,
     uint8_t *data, size_t len) {
    struct mf_pipe_item *it = mf__pipe_item_new(kind);
    it->uid = uid;
    it->size = size;
    it->data = data;
    it->len = len;
    return mf__pipe_push(fr->pipe, it);
}

/* The size fr->todo listed for uid (0 when not asked for). */
static uint64_t
listed_size(const struct folder_run *fr, uint32_t uid) {
    size_t lo = mf_u32_lower_bound(fr->todo, fr->ntodo, uid);
    return lo < fr->ntodo && fr->todo[lo] == uid ? fr->todo_size[lo] : 0;
}

/* A body whose length is not the RFC822.SIZE the listing gave (a server
 * that cut it, or sent BODY[] NIL) is not copied: it is fetched once more
 * after the others, and if it is still different it fails on its own
 * (MESSAGE_SIZE_MISMATCH), pending for the next pass. */
static mf_err
size_differs(struct folder_run *fr, uint32_t uid, uint64_t size,
             uint64_t want) {
    struct mf_pipe_item *it;

    fr->rd_skip = true;
    if (!fr->rd_last_try) {
        fr->refetch = mf_xreallocarray(fr->refetch, fr->nrefetch + 1,
                                       sizeof(*fr->refetch));
        fr->refetch[fr->nrefetch++] = uid;
        return MF_E_OK;
    }
    it = mf__pipe_item_new(MF_PIPE_FAILED);
    it->uid = uid;
    it->error.code = MF_E_MESSAGE_SIZE_MISMATCH;
    snprintf(it->error.detail, sizeof(it->error.detail),
             "the source sent a body of %llu bytes where its listing said "
             "%llu (RFC822.SIZE), twice",
             (unsigned long long)size, (unsigned long long)want);
    return mf__pipe_push(fr->pipe, it);
}

static mf_err
rd_begin(void *ud, uint32_t uid, uint64_t size) {
    struct folder_run *fr = ud;
    uint64_t want = listed_size(fr, uid);

    fr->rd_skip = false;
    if (size != want)
        return size_differs(fr, uid, size, want);
    fr->rd_uid = uid;
    fr->rd_size = size;
    fr->rd_len = 0;
    fr->rd_whole = size <= fr->run->stream_threshold;
    if (fr->rd_whole) {
        fr->rd_buf = mf_xmalloc(size ? size : 1);
        return MF_E_OK;
    }
    return push(fr, MF_PIPE_BEGIN, uid, size, NULL, 0);
}

static mf_err
rd_data(void *ud, const uint8_t *p, size_t n) {
    struct folder_run *fr = ud;

    if (fr->rd_skip)
        return MF_E_OK;
    if (fr->rd_len + n > fr->rd_size)
        return MF_E_IMAP_UNEXPECTED;
    mf__leases_bandwidth(fr->run->leases, false, n);
    if (fr->rd_whole) {
        memcpy(fr->rd_buf + fr->rd_len, p, n);
        fr->rd_len += n;
        return MF_E_OK;
    }
    fr->rd_len += n;
    if (fr->rd_len == fr->rd_size) {
        /* The last bytes wait for end(): the store has not confirmed yet
         * that the body is this UID's, and once they are sent the target
         * commits the message. */
        fr->rd_tail = mf_xmemdup(p, n);
        fr->rd_tail_len = n;
        return MF_E_OK;
    }
    return push(fr, MF_PIPE_DATA, fr->rd_uid, 0, mf_xmemdup(p, n), n);
}

static mf_err
rd_end(void *ud) {
    struct folder_run *fr = ud;
    uint8_t *buf = fr->rd_buf;
    mf_err rc;

    if (fr->rd_skip)
        return MF_E_OK;
    if (fr->rd_len != fr->rd_size)
        return MF_E_IMAP_UNEXPECTED;
    if (!fr->rd_whole) {
        uint8_t *tail = fr->rd_tail;
        fr->rd_tail = NULL;
        if (tail && (rc = push(fr, MF_PIPE_DATA, fr->rd_uid, 0, tail,
                               fr->rd_tail_len)) != MF_E_OK)
            return rc;
        return push(fr, MF_PIPE_END, fr->rd_uid, 0, NULL, 0);
    }
    fr->rd_buf = NULL;
    return push(fr, MF_PIPE_WHOLE, fr->rd_uid, fr->rd_size, buf, fr->rd_len);
}

static mf_err
rd_vanished(void *ud, uint32_t uid) {
    struct folder_run *fr = ud;
    return push(fr, MF_PIPE_VANISHED, uid, 0, NULL, 0);
}

static const struct mf_store_body_cb reader_cb = {
    .begin = rd_begin,
    .data = rd_data,
    .end = rd_end,
    .vanished = rd_vanished,
};

static void *
reader_main(void *arg) {
    struct folder_run *fr = arg;
    struct mf_store *src = fr->run->src;
    struct mf_pipe_item *it;
    mf_err rc;

    rc = src->ops->fetch_bodies(src, fr->todo, fr->ntodo, &reader_cb, fr);
    if (rc == MF_E_OK && fr->nrefetch) {
        uint32_t *again = fr->refetch;
        size_t n = fr->nrefetch;
        fr->refetch = NULL;
        fr->nrefetch = 0;
        fr->rd_last_try = true;
        rc = src->ops->fetch_bodies(src, again, n, &reader_cb, fr);
        free(again);
    }
    fr->reader_rc = rc;
    free(fr->rd_buf);
    fr->rd_buf = NULL;
    free(fr->rd_tail);
    fr->rd_tail = NULL;
    it = mf__pipe_item_new(rc == MF_E_OK ? MF_PIPE_DONE : MF_PIPE_ERROR);
    if (rc != MF_E_OK) {
        it->error = src->error;
        it->retry_after_ms = src->retry_after_ms;
    }
    if (mf__pipe_push(fr->pipe, it) != MF_E_OK) {
        /* Cancelled: the writer has stopped and does not need to know. */
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Writer: batches of appends                                          */
/* ------------------------------------------------------------------ */

static void
outmsg_free(struct outmsg *om) {
    if (om) {
        free(om->data);
        mf__pipe_item_free(&om->cur);
        free(om);
    }
}

static void
batch_free(struct batch *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        outmsg_free(b->msgs[i]);
    free(b->msgs);
    free(b);
}

static mf_err
read_whole(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct outmsg *om = ud;
    size_t n = om->len - om->off < cap ? om->len - om->off : cap;

    memcpy(buf, om->data + om->off, n);
    om->off += n;
    *n_r = n;
    return MF_E_OK;
}

/* Body source of a streamed message: the pieces the reader pushes. */
static mf_err
read_streamed(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct outmsg *om = ud;
    size_t n;

    while (!om->cur || om->off == om->cur->len) {
        mf__pipe_item_free(&om->cur);
        om->off = 0;
        om->cur = mf__pipe_pop(om->fr->pipe, true);
        if (!om->cur)
            return MF_E_CANCELLED;
        if (om->cur->kind == MF_PIPE_ERROR) {
            set_werr(om->fr, &om->cur->error, om->cur->retry_after_ms);
            return om->cur->error.code;
        }
        if (om->cur->kind != MF_PIPE_DATA)
            return MF_E_IMAP_UNEXPECTED; /* the source sent too few bytes */
    }
    n = om->cur->len - om->off < cap ? om->cur->len - om->off : cap;
    mf__leases_bandwidth(om->fr->run->leases, true, n);
    memcpy(buf, om->cur->data + om->off, n);
    om->off += n;
    *n_r = n;
    return MF_E_OK;
}

static void batch_done(void *ud, const struct mf_store_done *d);

static mf_err
submit(struct folder_run *fr, struct batch *b) {
    struct mf_store *dst = fr->run->dst;
    struct mf_store_append_msg stack[64] = {{0}}, *am;
    mf_err rc;

    /* A job that lost its claim appends nothing more (fence.h). */
    if (!mf_fence_holds(fr->run->o->fence)) {
        set_werr_code(fr, MF_E_FENCED, "the claim on this job is gone");
        batch_free(b);
        return MF_E_FENCED;
    }
    if (!b->msgs[0]->streamed)
        mf__leases_bandwidth(fr->run->leases, true, b->bytes);
    am = b->n <= MF_ARRAY_LEN(stack) ? stack : mf_xcalloc(b->n, sizeof(*am));
    for (size_t i = 0; i < b->n; i++) {
        struct outmsg *om = b->msgs[i];
        const struct mf__msg *m = &fr->list.m[om->idx];
        am[i].flags = m->flags;
        am[i].date = m->date[0] ? m->date : NULL;
        am[i].body.size = om->streamed ? m->size : om->len;
        am[i].body.read = om->streamed ? read_streamed : read_whole;
        am[i].body.release = NULL;
        am[i].body.ud = om;
        om->off = om->streamed ? om->off : 0; /* a resubmit starts over */
        fr->list.m[om->idx].state = M_QUEUED;
    }
    rc = dst->ops->append(dst, fr->dst_name, am, b->n, batch_done, b);
    if (am != stack)
        free(am);
    if (rc != MF_E_OK) {
        set_werr(fr, &dst->error, dst->retry_after_ms);
        batch_free(b);
        return rc;
    }
    fr->inflight++;
    return MF_E_OK;
}

static mf_err
submit_current(struct folder_run *fr) {
    struct batch *b = fr->cur;

    fr->cur = NULL;
    if (!b || b->n == 0) {
        batch_free(b);
        return MF_E_OK;
    }
    return submit(fr, b);
}

static struct batch *
batch_new(struct folder_run *fr) {
    struct batch *b = mf_xcalloc(1, sizeof(*b));
    b->fr = fr;
    return b;
}

static void
batch_add(struct batch *b, struct outmsg *om) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->msgs = mf_xreallocarray(b->msgs, b->cap, sizeof(*b->msgs));
    }
    b->msgs[b->n++] = om;
    b->bytes += om->len;
}

/* Whether an answered APPEND's error means the target refused it (so the
 * message is not there): a NO, as opposed to a dropped connection or a
 * cancel, after which the message may or may not be on the target. */
static bool
refused(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return code != MF_E_MAILBOX_MISSING &&
           (cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX);
}

/* Marks a message the target refused (or that was never tried because of
 * error e) as failed, and lists it. */
static void
fail_message(struct folder_run *fr, struct mf__msg *m,
             const struct mf_error *e) {
    struct mf__run *run = fr->run;

    m->state = M_FAILED;
    run->res->stats.failed++;
    run->res->stats.bytes_failed += m->size;
    mf__run_item(run, true, fr->label, m->uid, m->size, m->date, NULL, e);
    progress_done(fr, 0);
}

static void
message_failed(struct folder_run *fr, struct outmsg *om,
               const struct mf_store_done *d) {
    struct mf__run *run = fr->run;
    struct mf_error e = d->error;

    /* A plain NO to one APPEND is about this message. */
    if (mf_err_class_of(e.code) == MF_ERRCLASS_FAIL_MAILBOX)
        e.code = MF_E_MESSAGE_REJECTED;
    fail_message(fr, &fr->list.m[om->idx], &e);
    if (++run->consecutive_rejects >= MF__MAX_CONSECUTIVE_REJECTS) {
        struct mf_error stop = d->error;
        snprintf(stop.detail, sizeof(stop.detail),
                 "the target refused %u messages in a row, the last: %.180s",
                 run->consecutive_rejects, d->error.detail);
        set_werr(fr, &stop, d->retry_after_ms);
    }
}

/* Fails every message of batch b with the answer d (a refusal). */
static void
batch_refused(struct batch *b, const struct mf_store_done *d) {
    for (size_t i = 0; i < b->n; i++)
        fail_message(b->fr, &b->fr->list.m[b->msgs[i]->idx], &d->error);
}

static void
batch_done(void *ud, const struct mf_store_done *d) {
    struct batch *b = ud;
    struct folder_run *fr = b->fr;
    struct mf__run *run = fr->run;
    mf_err code = d->error.code;
    mf_err_class cls = mf_err_class_of(code);

    fr->inflight--;
    if (code == MF_E_OK) {
        if (d->uidvalidity && d->uidvalidity == fr->ck.tgt_uidvalidity &&
            d->n == b->n)
            for (size_t i = 0; i < b->n; i++)
                fr->list.m[b->msgs[i]->idx].tgt_uid = d->uids[i];
        for (size_t i = 0; i < b->n; i++) {
            struct mf__msg *m = &fr->list.m[b->msgs[i]->idx];
            uint64_t len = b->msgs[i]->streamed ? m->size : b->msgs[i]->len;
            m->state = M_DONE;
            run->res->stats.messages_copied++;
            run->res->stats.bytes_copied += len;
            progress_done(fr, len);
        }
        run->consecutive_rejects = 0;
    } else if (code == MF_E_OVERQUOTA) {
        /* RFC 5530 OVERQUOTA: nothing more fits, whichever message it is.
         * Not retried one by one: the folder stops, the rest is listed. */
        batch_refused(b, d);
        set_werr(fr, &d->error, d->retry_after_ms);
    } else if (fr->werr.code != MF_E_OK && refused(code)) {
        /* Answered after the folder already stopped: not on the target. */
        batch_refused(b, d);
    } else if (code == MF_E_CANCELLED || code == MF_E_FENCED ||
               cls == MF_ERRCLASS_RETRY || cls == MF_ERRCLASS_RECONNECT ||
               code == MF_E_MAILBOX_MISSING || fr->werr.code != MF_E_OK) {
        /* The session or the folder is in trouble: these messages stay
         * unconfirmed and the next attempt resumes before them. */
        set_werr(fr, &d->error, d->retry_after_ms);
    } else if (b->n > 1) {
        /* MULTIAPPEND is all or nothing (RFC 3502): find the bad one. */
        for (size_t i = 0; i < b->n; i++) {
            struct batch *one = batch_new(fr);
            batch_add(one, b->msgs[i]);
            b->msgs[i] = NULL;
            if (submit(fr, one) != MF_E_OK)
                break;
        }
    } else {
        message_failed(fr, b->msgs[0], d);
    }
    {
        /* Free what was not handed on to single batches. */
        size_t k = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->msgs[i])
                b->msgs[k++] = b->msgs[i];
        b->n = k;
    }
    batch_free(b);
    advance(fr, false);
}

static void
take_whole(struct folder_run *fr, struct mf_pipe_item *it) {
    struct mf__run *run = fr->run;
    struct outmsg *om;
    size_t idx;

    if (!find_msg(fr, it->uid, &idx) || fr->list.m[idx].state != M_TODO)
        return; /* not asked for (cannot happen with a sane server) */
    om = mf_xcalloc(1, sizeof(*om));
    om->fr = fr;
    om->idx = idx;
    om->data = it->data;
    om->len = it->len;
    it->data = NULL;
    it->len = 0;
    if (!fr->cur)
        fr->cur = batch_new(fr);
    batch_add(fr->cur, om);
    if (fr->cur->n >= run->batch_messages ||
        fr->cur->bytes >= run->batch_bytes || !run->dst->caps.multiappend)
        (void)submit_current(fr);
}

static void
take_streamed(struct folder_run *fr, struct mf_pipe_item *it) {
    struct mf_store *dst = fr->run->dst;
    struct outmsg *om;
    struct batch *b;
    size_t idx;
    struct mf__msg *m = find_msg(fr, it->uid, &idx);

    if (!m || m->state != M_TODO) {
        set_werr_code(fr, MF_E_IMAP_UNEXPECTED,
                      "the source sent a message body that was not asked for");
        return;
    }
    if (submit_current(fr) != MF_E_OK)
        return;
    m->size = it->size; /* the literal's real size */
    om = mf_xcalloc(1, sizeof(*om));
    om->fr = fr;
    om->idx = idx;
    om->streamed = true;
    b = batch_new(fr);
    batch_add(b, om);
    if (submit(fr, b) != MF_E_OK)
        return;
    /* The APPEND reads the pieces from the pipe while it is sent. */
    if (dst->ops->flush(dst, 0) != MF_E_OK) {
        set_werr(fr, &dst->error, dst->retry_after_ms);
        return;
    }
    {
        /* The END that closes the streamed body. */
        struct mf_pipe_item *end = mf__pipe_pop(fr->pipe, true);
        if (!end || end->kind != MF_PIPE_END) {
            if (end && end->kind == MF_PIPE_ERROR)
                set_werr(fr, &end->error, end->retry_after_ms);
            else
                set_werr_code(fr, MF_E_IMAP_UNEXPECTED,
                              "the source sent more bytes than it announced");
        }
        mf__pipe_item_free(&end);
    }
}

static void
take_vanished(struct folder_run *fr, uint32_t uid) {
    struct mf__msg *m = find_msg(fr, uid, NULL);
    struct mf_error e = {.code = MF_E_MESSAGE_GONE};

    if (!m || m->state != M_TODO)
        return;
    m->state = M_VANISHED;
    fr->run->res->stats.skipped_vanished++;
    snprintf(e.detail, sizeof(e.detail),
             "expunged on the source while the folder was copied");
    mf__run_item(fr->run, false, fr->label, uid, m->size, m->date, NULL, &e);
    progress_done(fr, 0);
}

static void
take_failed(struct folder_run *fr, const struct mf_pipe_item *it) {
    struct mf__msg *m = find_msg(fr, it->uid, NULL);

    if (m && m->state == M_TODO)
        fail_message(fr, m, &it->error);
}

static bool
stop_requested(const struct folder_run *fr) {
    const atomic_bool *stop = fr->run->o->stop;
    return stop && atomic_load(stop);
}

/* The writer loop: runs until the reader is done and every append is
 * confirmed, or until an error or a stop request. */
static void
write_all(struct folder_run *fr) {
    struct mf__run *run = fr->run;
    struct mf_store *dst = run->dst;
    bool reader_done = false;

    while (fr->werr.code == MF_E_OK && !reader_done) {
        struct mf_pipe_item *it = NULL;
        bool idle = fr->inflight == 0 && (!fr->cur || fr->cur->n == 0);

        if (stop_requested(fr)) {
            set_werr_code(fr, MF_E_CANCELLED, "stopped at a message boundary");
            break;
        }
        if (fr->inflight < run->appends_in_flight)
            it = mf__pipe_pop(fr->pipe, idle);
        if (!it) {
            if (fr->cur && fr->cur->n)
                (void)submit_current(fr);
            else if (fr->inflight > 0 &&
                     dst->ops->flush(dst, fr->inflight - 1) != MF_E_OK)
                set_werr(fr, &dst->error, dst->retry_after_ms);
            else if (idle)
                break; /* cancelled pipe */
            continue;
        }
        switch (it->kind) {
        case MF_PIPE_WHOLE:
            take_whole(fr, it);
            break;
        case MF_PIPE_BEGIN:
            take_streamed(fr, it);
            break;
        case MF_PIPE_VANISHED:
            take_vanished(fr, it->uid);
            advance(fr, false);
            break;
        case MF_PIPE_FAILED:
            take_failed(fr, it);
            advance(fr, false);
            break;
        case MF_PIPE_DONE:
            reader_done = true;
            break;
        case MF_PIPE_ERROR:
            set_werr(fr, &it->error, it->retry_after_ms);
            break;
        default:
            set_werr_code(fr, MF_E_INTERNAL, "unexpected item in the pipe");
            break;
        }
        mf__pipe_item_free(&it);
    }
    /* Whatever ended the loop, every append in flight must finish here:
     * their callbacks use this frame. */
    if (fr->werr.code == MF_E_OK)
        (void)submit_current(fr);
    if (dst->ops->flush(dst, 0) != MF_E_OK)
        set_werr(fr, &dst->error, dst->retry_after_ms);
    /* However the folder ended (a refusal, a stop, a lost lease, BYE, a
     * deadline), nothing queued may outlive it: its callbacks and body
     * sources use this frame and the batches. Normally nothing is left. */
    mf_store_cancel(dst);
    batch_free(fr->cur);
    fr->cur = NULL;
}

/* ------------------------------------------------------------------ */
/* Planning the folder                                                 */
/* ------------------------------------------------------------------ */

/* Whether recognition must run on a folder whose checkpoint says that
 * every target message up to mark is accounted for: only when the target
 * has messages above it. This is the test that makes a clean checkpoint
 * safe to resume from even when it is older than the target (Redis lost
 * its last writes: an AOF fsync'd every second, a failover to a replica
 * that lagged, a restore from backup): what the lost writes recorded is
 * above the mark and is recognised, not copied twice. Normally nothing is
 * above it and this costs nothing; a server that did not send UIDNEXT
 * (RFC 3501 section 6.3.1 makes it optional) is asked. */
static bool
target_has_above(const struct mf_store_select *dsel, uint32_t mark) {
    if (dsel->exists == 0)
        return false;
    return dsel->uidnext == 0 || dsel->uidnext - 1 > mark;
}

/* Marks as PRESENT the source messages whose fingerprint is among the
 * target's messages above tgt_from, one for one. Pending UIDs take part:
 * a message the checkpoint still lists as pending may have been copied by
 * a pass whose checkpoint writes were lost. Only messages that reached
 * the target after the checkpoint's mark are above it, so nothing else
 * can match. */
static mf_err
recognise(struct folder_run *fr, uint32_t tgt_from) {
    struct mf__run *run = fr->run;
    struct mf__msglist tgt = {0};
    struct mf_fingerprint_set *set = NULL;
    mf_err rc;

    rc = mf__msglist_fetch(run, run->dst, tgt_from + 1, 0, true, &tgt);
    if (rc != MF_E_OK)
        goto out;
    fr->rec_from = fr->rec_seen = tgt_from;
    set = mf_fingerprint_set_new(tgt.n + 1);
    for (size_t i = 0; i < tgt.n; i++) {
        if (tgt.m[i].uid <= tgt_from)
            continue; /* "n:*" names the last message when none is above */
        if ((rc = mf_fingerprint_set_add(set, &tgt.m[i].fp)) != MF_E_OK)
            goto out;
        if (tgt.m[i].uid > fr->rec_seen)
            fr->rec_seen = tgt.m[i].uid;
    }
    if ((rc = mf__recognise_twins(run, &fr->list, set, fr->base_uid,
                                  fr->ck.pending, fr->ck.n_pending,
                                  tgt_from)) != MF_E_OK)
        goto out;
    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        if (m->state == M_TODO && mf_fingerprint_set_take(set, &m->fp)) {
            m->state = M_PRESENT;
            run->res->stats.messages_present++;
        }
    }
out:
    mf_fingerprint_set_free(&set);
    mf__msglist_clear(&tgt);
    return rc;
}

struct subject_ctx {
    char *subject;
};

static mf_err
on_subject(void *ud, const struct mf_store_meta *m) {
    struct subject_ctx *c = ud;
    if (m->subject && !c->subject)
        c->subject = mf_xstrdup(m->subject);
    return MF_E_OK;
}

static mf_err
skip_too_large(struct folder_run *fr) {
    struct mf__run *run = fr->run;

    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct subject_ctx sc = {0};
        struct mf_error e = {.code = MF_E_MESSAGE_TOO_LARGE};
        mf_err rc;

        if (m->state != M_TODO || m->size <= run->max_size)
            continue;
        m->state = M_SKIPPED;
        run->res->stats.skipped_too_large++;
        rc = run->src->ops->fetch_meta(run->src, m->uid, m->uid,
                                       MF_STORE_META_SUBJECT, on_subject, &sc);
        if (rc != MF_E_OK) {
            free(sc.subject);
            return mf__run_store_error(run, run->src, "subject of a message");
        }
        snprintf(e.detail, sizeof(e.detail),
                 "%llu bytes, over the limit of %llu bytes",
                 (unsigned long long)m->size,
                 (unsigned long long)run->max_size);
        mf__run_item(run, false, fr->label, m->uid, m->size, m->date,
                     sc.subject, &e);
        free(sc.subject);
        progress_done(fr, 0);
    }
    return MF_E_OK;
}

/* Adds the folder to the mailbox's source totals: the messages the
 * server says it has now, and the bytes of those listed so far (the
 * checkpoint's share plus the new ones). A folder retried after a dropped
 * connection was counted by the attempt that first listed it. */
static void
stats_source(struct folder_run *fr, uint32_t exists) {
    struct mf__run *run = fr->run;
    struct mf_migrate_stats *s = &run->res->stats;
    struct mf_migrate_progress *p = run->o->progress;

    for (size_t i = 0; i < run->n_counted; i++)
        if (strcmp(run->counted[i], fr->src_name) == 0)
            return;
    run->counted = mf_xreallocarray(run->counted, run->n_counted + 1,
                                    sizeof(*run->counted));
    run->counted[run->n_counted++] = mf_xstrdup(fr->src_name);

    s->messages_source += exists > fr->list.n ? exists : fr->list.n;
    s->bytes_source += fr->base_bytes;
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].uid > fr->base_uid)
            s->bytes_source += fr->list.m[i].size;
    if (p)
        atomic_fetch_add(&p->messages_total, fr->list.n);
}

/* Lists the checkpoint's pending UIDs (metadata, as for new messages)
 * into fr->list. A UID the source no longer has is gone: it is dropped
 * from the pending list by the next checkpoint. Runs of consecutive UIDs
 * are fetched as one range; past a few dozen ranges one range over all
 * of them is cheaper than the round trips, and what is not pending is
 * left out. */
static mf_err
list_pending(struct folder_run *fr, const uint32_t *uids, size_t n,
             bool with_fp) {
    struct mf__run *run = fr->run;
    struct mf__msglist got = {.keep_unlistable = true};
    size_t ranges = 0;
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n; i++)
        if (i == 0 || uids[i] != uids[i - 1] + 1)
            ranges++;
    if (ranges > 32) {
        rc = mf__msglist_fetch(run, run->src, uids[0], uids[n - 1], with_fp,
                               &got);
    } else {
        for (size_t i = 0; i < n && rc == MF_E_OK;) {
            size_t j = i;
            while (j + 1 < n && uids[j + 1] == uids[j] + 1)
                j++;
            rc = mf__msglist_fetch(run, run->src, uids[i], uids[j], with_fp,
                                   &got);
            i = j + 1;
        }
    }
    for (size_t i = 0, k = 0; rc == MF_E_OK && i < got.n; i++) {
        struct mf__msg *m = &got.m[i];
        while (k < n && uids[k] < m->uid)
            k++;
        if (k == n || uids[k] != m->uid)
            continue;
        if (fr->list.n == fr->list.cap) {
            fr->list.cap = fr->list.cap ? 2 * fr->list.cap : 64;
            fr->list.m =
                mf_xreallocarray(fr->list.m, fr->list.cap, sizeof(*fr->list.m));
        }
        fr->list.m[fr->list.n++] = *m;
        m->flags = NULL; /* moved */
    }
    fr->list.with_fp = with_fp;
    mf__msglist_clear(&got);
    return rc;
}

/* Fails (and lists) the messages the source listed without the size,
 * date or flags a copy needs: they stay pending, and every later pass
 * lists them again. */
static void
fail_unlistable(struct folder_run *fr) {
    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct mf_error e = {.code = MF_E_MESSAGE_UNLISTABLE};
        if (m->state != M_TODO || !m->missing)
            continue;
        snprintf(e.detail, sizeof(e.detail),
                 "the source's FETCH gave no usable%s%s%s",
                 m->missing & MF_STORE_MISSING_SIZE ? " RFC822.SIZE" : "",
                 m->missing & MF_STORE_MISSING_DATE ? " INTERNALDATE" : "",
                 m->missing & MF_STORE_MISSING_FLAGS ? " FLAGS" : "");
        fail_message(fr, m, &e);
    }
}

/* Fails (and lists) every message not tried yet, with e: the folder
 * cannot take them (a refusal) or stopped for good. */
static void
fail_unattempted(struct folder_run *fr, const struct mf_error *e) {
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_TODO)
            fail_message(fr, &fr->list.m[i], e);
}

static void
finish(struct folder_run *fr) {
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
}

/* Whether an error stops this folder for good (the messages not copied
 * are failed and listed) rather than for this attempt. */
static bool
definitive(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX;
}

/* Copies the listed TODO messages (reader thread + writer). Returns
 * false with fr->werr set when the copy stopped early. */
static bool
copy_listed(struct folder_run *fr) {
    struct mf__run *run = fr->run;

    fr->todo = mf_xcalloc(fr->list.n + 1, sizeof(*fr->todo));
    fr->todo_size = mf_xcalloc(fr->list.n + 1, sizeof(*fr->todo_size));
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_TODO) {
            fr->todo_size[fr->ntodo] = fr->list.m[i].size;
            fr->todo[fr->ntodo++] = fr->list.m[i].uid;
        }
    if (fr->ntodo == 0)
        return true;
    /* Dirty before the first byte goes out. */
    advance(fr, true);
    if (fr->werr.code != MF_E_OK)
        return false;
    fr->pipe = mf__pipe_new(run->pipe_bytes);
    if (pthread_create(&fr->reader, NULL, reader_main, fr) != 0) {
        set_werr_code(fr, MF_E_INTERNAL, "cannot start the reader thread");
        return false;
    }
    fr->reader_started = true;
    write_all(fr);
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
        fail_unattempted(fr, &fr->werr);
    advance(fr, true); /* keep what was confirmed */
    return false;
}

/* The flag sync of an incremental pass (flagsync.c), and the flags last
 * synced: those it made agree, and those of the messages copied now. */
static mf_err
sync_flags(struct folder_run *fr, bool incremental) {
    struct mf_buf base = {0};
    mf_err rc = MF_E_OK;

    if (incremental)
        rc = mf__migrate_flag_sync(fr->run, fr->label, fr->src_name,
                                   fr->ck.last_uid, &base);
    for (size_t i = 0; rc == MF_E_OK && i < fr->list.n; i++)
        if (fr->list.m[i].state == M_DONE)
            mf__flagbase_add(&base, fr->list.m[i].uid, fr->list.m[i].flags,
                             fr->list.m[i].flags);
    if (rc == MF_E_OK)
        rc = mf__flagbase_save(fr->run, fr->src_name, &base, !incremental);
    mf_buf_free(&base);
    return rc;
}

mf_err
mf__migrate_folder(struct mf__run *run, const struct mf_folder_entry *e,
                   const struct mf_error *refusal) {
    struct folder_run fr = {0};
    struct mf_store_select ssel, dsel = {0};
    struct mf_error tgt_err = {0}, short_err = {0};
    bool found, recognising = false, incremental = false;
    uint32_t start = 1, tgt_from = 0;
    mf_err rc;

    fr.run = run;
    fr.e = e;
    fr.src_name = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
    fr.dst_name = e->tgt_wire;
    fr.label = e->src_path ? e->src_path : fr.src_name;

    if ((rc = run->src->ops->select(run->src, fr.src_name, true, &ssel))) {
        rc = mf__run_store_error(run, run->src, fr.label);
        goto out;
    }
    if (!refusal &&
        (rc = run->dst->ops->select(run->dst, fr.dst_name, false, &dsel))) {
        rc = mf__run_store_error(run, run->dst, e->tgt_name);
        if (!definitive(rc))
            goto out;
        /* The target folder cannot be opened: list what it would hold. */
        tgt_err = run->err;
        refusal = &tgt_err;
    }
    if ((rc = mf__ckpt_get(run, fr.src_name, &fr.ck, &found)))
        goto out;
    if (found && fr.ck.uidvalidity == ssel.uidvalidity &&
        (refusal || fr.ck.tgt_uidvalidity == 0 ||
         fr.ck.tgt_uidvalidity == dsel.uidvalidity)) {
        start = fr.ck.last_uid + 1;
        fr.base_uid = fr.ck.last_uid;
        fr.base_bytes = fr.ck.src_bytes;
        tgt_from = fr.ck.tgt_uidvalidity ? fr.ck.tgt_mark : 0;
        recognising = fr.ck.dirty || target_has_above(&dsel, tgt_from);
        incremental = !fr.ck.dirty && fr.ck.last_uid > 0;
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
    if (!recognising)
        fr.ck.tgt_mark = dsel.uidnext ? dsel.uidnext - 1 : 0;
    fr.last_uid = start - 1;

    fr.list.keep_unlistable = true;
    if (fr.ck.n_pending &&
        (rc = list_pending(&fr, fr.ck.pending, fr.ck.n_pending, recognising)) !=
            MF_E_OK)
        goto out;
    rc = mf__list_new(run, fr.label, start, recognising, &fr.list, &short_err);
    if (rc != MF_E_OK)
        goto out;
    stats_source(&fr, ssel.exists);
    fail_unlistable(&fr);
    if (!refusal && short_err.code != MF_E_OK)
        refusal = &short_err; /* listed, failed, nothing checkpointed */
    if (refusal) {
        /* Nothing is written, the checkpoint included: the next pass
         * lists these messages again. */
        fail_unattempted(&fr, refusal);
        run->err = *refusal;
        rc = refusal->code;
        goto out;
    }
    if (recognising && (rc = recognise(&fr, tgt_from)) != MF_E_OK)
        goto out;
    if ((rc = skip_too_large(&fr)) != MF_E_OK)
        goto out;
    for (size_t i = 0; i < fr.list.n; i++)
        if (fr.list.m[i].state == M_PRESENT)
            progress_done(&fr, 0);
    if (!copy_listed(&fr))
        goto werr;
    advance(&fr, false);
    if (fr.prefix != fr.list.n) {
        rc = mf_error_set(&run->err, MF_E_INTERNAL,
                          "folder %s: %zu messages unconfirmed", fr.label,
                          fr.list.n - fr.prefix);
        goto out;
    }
    if ((rc = sync_flags(&fr, incremental)) != MF_E_OK)
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
        rc = ckpt_write(&fr, ck, false) ? MF_E_OK : run->err.code;
    }
    goto out;
werr:
    run->err = fr.werr;
    run->retry_after_ms = fr.werr_retry_ms;
    rc = fr.werr.code;
out:
    finish(&fr);
    return rc;
}
