/*
 * Step 4 of a folder's copy (folder.c): checkpoints as confirmations come
 * in. last_uid is the UID of the last message of the longest finished
 * prefix of the listing, so nothing above it is unconfirmed; the messages
 * at or below it that are not on the target are the pending UIDs. The
 * checkpoint stays dirty while the copy runs and is written clean once
 * the folder is done (folder.c).
 */
#include "migrate/folder_int.h"

#include "mailferry/util.h"

#include <stdlib.h>

/* Checkpoint at least this often while copying. */
#define CKPT_EVERY_MESSAGES 500
#define CKPT_EVERY_SECONDS 2.0

static bool
finished(uint8_t st) {
    return st >= M_DONE;
}

/* Whether a message is on the target (or gone from the source): what
 * is not is pending once the checkpoint is past it. */
static bool
settled(uint8_t st) {
    return st == M_DONE || st == M_PRESENT || st == M_VANISHED ||
           st == M_OUTSIDE;
}

/* Fills ck's pending UIDs (borrowed from fr's scratch array) and source
 * bytes for a checkpoint at ck->last_uid. More pending UIDs than a
 * checkpoint keeps hold ck->last_uid back below the first one left out
 * (never below base_uid: the base's own pending UIDs always fit). Returns
 * whether it was held back. */
static bool
ckpt_pending(struct mf__folder *fr, struct mf_checkpoint *ck,
             uint32_t **scratch) {
    bool held = false;
    size_t n = 0;

    ck->src_bytes = fr->base_bytes + fr->acc_bytes;
    ck->window = fr->run->o->window;
    ck->sync_deletes = fr->run->o->sync_deletes;
    ck->out_messages = fr->base_out + fr->acc_out;
    ck->out_bytes = fr->base_out_bytes + fr->acc_out_bytes;
    *scratch = mf_xreallocarray(*scratch, fr->list.n + 1, sizeof(**scratch));
    for (size_t i = 0; i < fr->list.n; i++) {
        const struct mf__msg *m = &fr->list.m[i];
        if (m->uid > ck->last_uid)
            break;
        if (m->state == M_OUTSIDE) {
            ck->out_messages++;
            ck->out_bytes += m->size;
        }
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
ckpt_lower_mark(const struct mf__folder *fr, struct mf_checkpoint *ck) {
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

/* mf__folder_ckpt_write(), or mf__folder_ckpt_write_later() (later). */
static bool
ckpt_write(struct mf__folder *fr, struct mf_checkpoint ck, bool dirty,
           bool later) {
    uint32_t *scratch = NULL;
    bool ok;

    if (ckpt_pending(fr, &ck, &scratch))
        dirty = true;
    ck.dirty = dirty;
    /* Only a clean checkpoint vouches for the folders' STATUS. */
    if (dirty)
        ck.has_status = false;
    if (dirty)
        ckpt_lower_mark(fr, &ck);
    ok = (later ? mf__ckpt_put_later(fr->run, fr->src_name, &ck)
                : mf__ckpt_put(fr->run, fr->src_name, &ck)) == MF_E_OK;
    free(scratch);
    return ok;
}

/* Writes the checkpoint ck (dirty: messages above last_uid may be on the
 * target) with fr's pending UIDs. Returns false (error in run->err) when
 * the write failed. */
bool
mf__folder_ckpt_write(struct mf__folder *fr, struct mf_checkpoint ck,
                      bool dirty) {
    return ckpt_write(fr, ck, dirty, false);
}

bool
mf__folder_ckpt_write_later(struct mf__folder *fr, struct mf_checkpoint ck) {
    return ckpt_write(fr, ck, false, true);
}

/* Moves the finished prefix on and writes a dirty checkpoint when it has
 * moved enough (or force). */
void
mf__folder_advance(struct mf__folder *fr, bool force) {
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
        mf_monotonic_s() - fr->ck_time < CKPT_EVERY_SECONDS)
        return;
    ck = fr->ck;
    ck.last_uid = fr->last_uid;
    if (!mf__folder_ckpt_write(fr, ck, true)) {
        mf__folder_set_werr(fr, &fr->run->err, 0);
        return;
    }
    fr->ck_prefix = fr->prefix;
    fr->ck_time = mf_monotonic_s();
}

void
mf__folder_compact(struct mf__folder *fr) {
    size_t k = 0, keep = 0;

    MF_ASSERT(fr->prefix == fr->list.n);
    /* So many pending that a checkpoint may be held back below the
     * messages dropped here (ckpt_pending()): keep them all, so that the
     * target mark stays under their copies (ckpt_lower_mark()). */
    for (size_t i = 0; i < fr->list.n; i++)
        keep += !settled(fr->list.m[i].state);
    if (keep >= MF_CHECKPOINT_PENDING_MAX / 2)
        return;
    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        if (!settled(m->state)) {
            fr->list.m[k++] = *m; /* pending: every checkpoint lists it */
            continue;
        }
        if (m->state == M_DONE) {
            mf__flagbase_add(&fr->newbase, m->uid, m->flags, m->flags);
            if (fr->uidmap_on && m->tgt_uid) {
                mf__uidmap_add(&fr->uidmap, m->uid, m->tgt_uid);
                fr->uidmap_added = true;
            }
        }
        if (m->state == M_OUTSIDE) {
            fr->acc_out++;
            fr->acc_out_bytes += m->size;
        }
        if (m->uid > fr->base_uid)
            fr->acc_bytes += m->size;
        free(m->flags);
    }
    fr->list.n = fr->prefix = fr->ck_prefix = k;
}
