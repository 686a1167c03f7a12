/*
 * --sync-deletes: a message moved between folders on the source is moved
 * on the target (issue 16 section 3), not removed and copied again.
 *
 * The source shows a move as an expunge in one folder and a new message
 * in another; folder by folder, the folder passes would remove the old
 * copy (folder_delete.c) and upload the message again, a new message on
 * the target. So before any folder is visited, the mailbox's pass:
 *
 *   1. per folder with a clean checkpoint whose source STATUS changed
 *      since (unchanged.c's test, the source half), finds the UID map's
 *      pairs whose source message is gone (folder_delete.c's rule,
 *      mf__uidmap_gone()), and reads their copies' metadata on the
 *      target (fingerprint, flags, size, date, subject);
 *   2. only if something is gone: per folder with new source messages,
 *      lists them (UIDs above the checkpoint, inside the date window and
 *      the size cap) with fingerprints; a folder whose target holds
 *      messages above the checkpoint's mark takes no move (recognition
 *      has work to do there, and a moved copy could meet a copy already
 *      there: it is left to remove + copy);
 *   3. matches them (mf__move_match(), movematch.c: same fingerprint,
 *      Message-ID required, another folder; equal fingerprints paired in
 *      a fixed order);
 *   4. per old target folder, SELECT it and per new folder send
 *      "UID MOVE <target UIDs> <new folder>" (RFC 6851 section 3.1) and
 *      read COPYUID (RFC 6851 section 4.3, RFC 4315 section 3) for the
 *      new target UIDs; the pairs leave the old folder's UID map and join
 *      the new folder's (new source UID, new target UID); each move is
 *      listed (MESSAGE_MOVED) with the folder it left;
 *   5. the new folder's pass (mf__folder_take_moved()) then finds the
 *      message in its UID map: present, not appended, and its flags
 *      merged three-way against the old folder's flags last synced, as a
 *      flag sync would.
 *
 * Without MOVE or UIDPLUS on the target nothing happens here, and the
 * folder passes remove and copy as before. A target that answers UID
 * MOVE without COPYUID has moved the message all the same (it is listed
 * as moved, and the new folder's pass recognises it by fingerprint above
 * the checkpoint's mark), but no more moves are made this run: without
 * the new UID the map cannot name the copy. A UID MOVE answered NO is
 * left alone: each message is then moved or unaffected (RFC 6851 section
 * 3.1), the old folder's pass removes what is still there and the new
 * one recognises what arrived. Never lost, never doubled; at worst
 * copied again.
 *
 * Ownership: struct mfolder holds one folder's state for this step (its
 * struct mf__folder borrows run and the plan entry); gone and fresh hold
 * owned copies of what the servers said.
 */
#include "migrate/folder_int.h"

#include "mailferry/log.h"
#include "mailferry/util.h"
#include "mailferry/window.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mfolder {
    struct mf__folder fr;     /* ck, uidmap, names, base_uid = ck.last_uid */
    bool clean;               /* a clean checkpoint of both sides */
    bool changed;             /* the source's STATUS moved since */
    bool has_new;             /* the source may have messages above last_uid */
    bool map_dirty;           /* the map changed: save it */
    struct mf__uidpair *gone; /* owned: pairs whose source message left */
    bool *moved;              /* owned: per gone pair, moved */
    size_t ngone;
};

/* A vanished message, as its target copy is. */
struct gone_msg {
    size_t f, k; /* folder, index in its gone pairs */
    uint64_t size;
    char date[40];
    char *subject, *flags; /* owned */
};

struct mpass {
    struct mf__run *run;
    struct mfolder *f;
    size_t nf;
    struct mf__move_cand *gc, *fc; /* gone and fresh candidates */
    struct gone_msg *gm;           /* beside gc */
    size_t ng, nfresh;
    size_t cur; /* the folder being read */
};

static unsigned
meta_what(const struct mf__run *run) {
    return MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT |
           (mf__run_lenient(run) ? MF_STORE_META_FROM : 0);
}

static mf_err
fail_store(struct mf__run *run, struct mf_store *st, const char *what) {
    return mf__run_store_error(run, st, what);
}

/* A store error that fails only this step's use of the folder (the
 * folder's own pass meets it again) is not the attempt's. */
static bool
retryable(mf_err rc) {
    mf_err_class c = mf_err_class_of(rc);
    return c == MF_ERRCLASS_RETRY || c == MF_ERRCLASS_RECONNECT;
}

/* Reads the folder's checkpoint and the source's STATUS. */
static mf_err
prepare(struct mpass *p, struct mfolder *f, const struct mf_folder_entry *e) {
    struct mf__run *run = p->run;
    struct mf_store_status st;
    bool found = false;
    mf_err rc;

    f->fr.run = run;
    f->fr.e = e;
    f->fr.src_name = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
    f->fr.dst_name = e->tgt_wire;
    f->fr.label = e->src_path ? e->src_path : f->fr.src_name;
    if ((rc = mf__ckpt_get(run, f->fr.src_name, &f->fr.ck, &found)))
        return rc;
    /* A folder empty at the last pass (last_uid 0) may receive moves;
     * only one with a last_uid has pairs that can be gone. */
    f->clean = found && !f->fr.ck.dirty && f->fr.ck.uidvalidity &&
               f->fr.ck.tgt_uidvalidity;
    if (!f->clean)
        return MF_E_OK;
    f->fr.base_uid = f->fr.ck.last_uid;
    f->changed = f->has_new = true;
    if (!run->src->ops->status)
        return MF_E_OK;
    if ((rc = run->src->ops->status(run->src, f->fr.src_name, &st))) {
        rc = fail_store(run, run->src, f->fr.label);
        f->clean = false;
        return retryable(rc) ? rc : MF_E_OK;
    }
    f->changed = !f->fr.ck.has_status ||
                 st.uidnext != f->fr.ck.src_status.uidnext ||
                 st.messages != f->fr.ck.src_status.messages ||
                 st.uidvalidity != f->fr.ck.uidvalidity;
    f->has_new = st.uidnext == 0 || st.uidnext - 1 > f->fr.ck.last_uid;
    return MF_E_OK;
}

/* EXAMINE the folder's source side; false (rc MF_E_OK) when it is not
 * the folder the checkpoint knew. */
static mf_err
examine(struct mpass *p, struct mfolder *f, bool *ok_r) {
    struct mf__run *run = p->run;
    struct mf_store_select sel;
    mf_err rc;

    *ok_r = false;
    if ((rc = run->src->ops->select(run->src, f->fr.src_name, true, &sel))) {
        rc = fail_store(run, run->src, f->fr.label);
        return retryable(rc) ? rc : MF_E_OK;
    }
    *ok_r = sel.uidvalidity == f->fr.ck.uidvalidity;
    return MF_E_OK;
}

/* Step 1, source side: the map's pairs whose source message is gone. */
static mf_err
find_gone(struct mpass *p, struct mfolder *f) {
    bool ok;
    mf_err rc;

    if (!f->clean || !f->changed)
        return MF_E_OK;
    if ((rc = mf__folder_uidmap_load(&f->fr, f->fr.ck.tgt_uidvalidity)) ||
        f->fr.uidmap.n == 0)
        return rc;
    if ((rc = examine(p, f, &ok)) != MF_E_OK || !ok)
        return rc;
    if ((rc = mf__folder_find_gone(&f->fr, &f->gone, &f->ngone)) != MF_E_OK) {
        f->gone = NULL;
        f->ngone = 0;
        return retryable(rc) ? rc : MF_E_OK;
    }
    f->moved = mf_xcalloc(f->ngone + 1, sizeof(*f->moved));
    return MF_E_OK;
}

static mf_err
on_gone_meta(void *ud, const struct mf_store_meta *m) {
    struct mpass *p = ud;
    struct mfolder *f = &p->f[p->cur];

    for (size_t k = 0; k < f->ngone && !m->missing; k++) {
        struct mf__move_cand *c;
        struct gone_msg *g;
        if (f->gone[k].tgt != m->uid)
            continue;
        p->gc = mf_xreallocarray(p->gc, p->ng + 1, sizeof(*p->gc));
        p->gm = mf_xreallocarray(p->gm, p->ng + 1, sizeof(*p->gm));
        c = &p->gc[p->ng];
        g = &p->gm[p->ng++];
        *c = (struct mf__move_cand){.folder = p->cur, .uid = m->uid};
        c->has_id = m->message_id && m->message_id[0];
        mf__meta_fingerprint(m, mf__run_lenient(p->run), &c->fp);
        *g = (struct gone_msg){.f = p->cur, .k = k, .size = m->size};
        snprintf(g->date, sizeof(g->date), "%s", m->date ? m->date : "");
        g->subject = m->subject ? mf_xstrdup(m->subject) : NULL;
        g->flags = mf_xstrdup(m->flags ? m->flags : "");
        break;
    }
    return MF_E_OK;
}

/* Step 1, target side: what the target holds of the gone pairs. Their
 * UIDs are fetched over their span when close together, else one by one
 * (up to a limit: the rest are removed and copied as before). */
static mf_err
read_gone(struct mpass *p, size_t i) {
    struct mf__run *run = p->run;
    struct mfolder *f = &p->f[i];
    struct mf_store *dst = run->dst;
    struct mf_store_select sel;
    uint32_t lo = UINT32_MAX, hi = 0;
    mf_err rc = MF_E_OK;

    if (f->ngone == 0)
        return MF_E_OK;
    if ((rc = dst->ops->select(dst, f->fr.dst_name, false, &sel)) != MF_E_OK) {
        rc = fail_store(run, dst, f->fr.e->tgt_name);
        f->ngone = 0; /* left to the folder's pass */
        return retryable(rc) ? rc : MF_E_OK;
    }
    if (sel.uidvalidity != f->fr.ck.tgt_uidvalidity) {
        f->ngone = 0;
        return MF_E_OK;
    }
    p->cur = i;
    for (size_t k = 0; k < f->ngone; k++) {
        lo = f->gone[k].tgt < lo ? f->gone[k].tgt : lo;
        hi = f->gone[k].tgt > hi ? f->gone[k].tgt : hi;
    }
    if ((uint64_t)hi - lo + 1 <= 4 * (uint64_t)f->ngone)
        rc = dst->ops->fetch_meta(dst, lo, hi, meta_what(run), on_gone_meta, p);
    for (size_t k = 0; (uint64_t)hi - lo + 1 > 4 * (uint64_t)f->ngone &&
                       k < f->ngone && k < 200 && rc == MF_E_OK;
         k++)
        rc = dst->ops->fetch_meta(dst, f->gone[k].tgt, f->gone[k].tgt,
                                  meta_what(run), on_gone_meta, p);
    if (rc != MF_E_OK) {
        rc = fail_store(run, dst, f->fr.e->tgt_name);
        return retryable(rc) ? rc : MF_E_OK;
    }
    return MF_E_OK;
}

static mf_err
on_fresh_meta(void *ud, const struct mf_store_meta *m) {
    struct mpass *p = ud;
    const struct mf_window *w = &p->run->o->window;
    struct mf__move_cand *c;

    if (m->missing || m->size > p->run->max_size ||
        (!mf_window_empty(w) &&
         mf_window_place(w, m->date) == MF_WINDOW_OUTSIDE) ||
        m->uid <= p->f[p->cur].fr.base_uid)
        return MF_E_OK; /* not something the folder's pass would copy */
    p->fc = mf_xreallocarray(p->fc, p->nfresh + 1, sizeof(*p->fc));
    c = &p->fc[p->nfresh++];
    *c = (struct mf__move_cand){.folder = p->cur, .uid = m->uid};
    c->has_id = m->message_id && m->message_id[0];
    mf__meta_fingerprint(m, mf__run_lenient(p->run), &c->fp);
    return MF_E_OK;
}

/* Step 2: the folder's new source messages, when its target holds
 * nothing above the checkpoint's mark. */
static mf_err
read_fresh(struct mpass *p, size_t i) {
    struct mf__run *run = p->run;
    struct mfolder *f = &p->f[i];
    struct mf_store_status st;
    bool ok;
    mf_err rc;

    if (!f->clean || !f->has_new || f->fr.ck.last_uid == UINT32_MAX ||
        !run->dst->ops->status)
        return MF_E_OK;
    if ((rc = run->dst->ops->status(run->dst, f->fr.dst_name, &st))) {
        rc = fail_store(run, run->dst, f->fr.e->tgt_name);
        return retryable(rc) ? rc : MF_E_OK;
    }
    if (st.uidvalidity != f->fr.ck.tgt_uidvalidity || st.uidnext == 0 ||
        st.uidnext - 1 > f->fr.ck.tgt_mark)
        return MF_E_OK;
    if ((rc = examine(p, f, &ok)) != MF_E_OK || !ok)
        return rc;
    p->cur = i;
    rc = run->src->ops->fetch_meta(run->src, f->fr.ck.last_uid + 1, 0,
                                   meta_what(run), on_fresh_meta, p);
    if (rc != MF_E_OK) {
        rc = fail_store(run, run->src, f->fr.label);
        return retryable(rc) ? rc : MF_E_OK;
    }
    return MF_E_OK;
}

/* Notes a moved message for its new folder's pass (flag merge) and
 * lists it. */
static mf_err
note_moved(struct mpass *p, const struct gone_msg *g, size_t to,
           uint32_t src_uid, uint32_t tgt_uid) {
    struct mf__run *run = p->run;
    struct mfolder *a = &p->f[g->f], *b = &p->f[to];
    struct mf__moved *m;
    mf_err rc;

    run->moved =
        mf_xreallocarray(run->moved, run->n_moved + 1, sizeof(*run->moved));
    m = &run->moved[run->n_moved++];
    *m = (struct mf__moved){.folder = mf_xstrdup(b->fr.src_name),
                            .src_uid = src_uid,
                            .tgt_uid = tgt_uid,
                            .tgt_flags = mf_xstrdup(g->flags)};
    rc = mf__flagbase_line(run, a->fr.src_name, a->gone[g->k].src, &m->base_src,
                           &m->base_tgt);
    mf__run_moved(run, b->fr.label, src_uid, g->size, g->date, g->subject,
                  a->fr.label);
    return rc;
}

/* Step 4 for one (old folder, new folder): UID MOVE of the matched
 * copies, the maps told where they went. pairs[0..n) all go from
 * p->f[from] to p->f[to]; the old folder is selected. */
static mf_err
move_batch(struct mpass *p, const struct mf__move_pair *pairs, size_t n,
           size_t from, size_t to) {
    struct mf__run *run = p->run;
    struct mfolder *a = &p->f[from], *b = &p->f[to];
    uint32_t *tuids = mf_xcalloc(n, sizeof(*tuids));
    uint32_t *got = mf_xcalloc(n, sizeof(*got)), uv = 0;
    mf_err rc;

    for (size_t i = 0; i < n; i++) /* pairs come sorted by target UID */
        tuids[i] = p->gc[pairs[i].from].uid;
    rc = run->dst->ops->move_uids(run->dst, tuids, n, b->fr.dst_name, &uv, got);
    if (rc != MF_E_OK) {
        rc = fail_store(run, run->dst, b->fr.e->tgt_name);
        mf_log(MF_LOG_INFO, &(struct mf_log_ctx){.mailbox = run->mailbox},
               "moves.refused", "%s -> %s: %s: removed and copied instead",
               a->fr.label, b->fr.label, run->err.detail);
        goto out;
    }
    /* RFC 6851 section 4.3: COPYUID SHOULD come; without it the copies
     * moved, but the map cannot name them: no more moves this run. */
    if (uv == 0)
        run->moves_off = true;
    if (uv != 0 && b->fr.uidmap.tgt_uidvalidity == 0 &&
        (rc = mf__folder_uidmap_load(&b->fr, b->fr.ck.tgt_uidvalidity)))
        goto out;
    for (size_t i = 0; i < n && rc == MF_E_OK; i++) {
        const struct gone_msg *g = &p->gm[pairs[i].from];
        uint32_t src_uid = p->fc[pairs[i].to].uid;
        a->moved[g->k] = true;
        a->map_dirty = true;
        if (got[i] && uv == b->fr.ck.tgt_uidvalidity) {
            mf__uidmap_add(&b->fr.uidmap, src_uid, got[i]);
            b->map_dirty = true;
        }
        rc = note_moved(p, g, to, src_uid, got[i]);
    }
out:
    free(tuids);
    free(got);
    return retryable(rc) ? rc : MF_E_OK;
}

/* Saves the maps this step changed; the gone pairs not moved go back in,
 * for the folder's pass to remove. */
static mf_err
save_maps(struct mpass *p) {
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < p->nf && rc == MF_E_OK; i++) {
        struct mfolder *f = &p->f[i];
        if (!f->map_dirty)
            continue;
        for (size_t k = 0; k < f->ngone; k++)
            if (!f->moved[k])
                mf__uidmap_add(&f->fr.uidmap, f->gone[k].src, f->gone[k].tgt);
        rc = mf__folder_uidmap_put(&f->fr);
        f->map_dirty = false;
        free(f->gone);
        f->gone = NULL;
        f->ngone = 0;
    }
    return rc;
}

/* A match with where it goes, to send one UID MOVE per (old folder, new
 * folder) with its target UIDs ascending. */
struct route {
    size_t from_f, to_f;
    uint32_t tuid;
    struct mf__move_pair pair;
};

static int
by_route(const void *x, const void *y) {
    const struct route *a = x, *b = y;

    if (a->from_f != b->from_f)
        return a->from_f < b->from_f ? -1 : 1;
    if (a->to_f != b->to_f)
        return a->to_f < b->to_f ? -1 : 1;
    return a->tuid < b->tuid ? -1 : a->tuid > b->tuid;
}

/* Step 4: per old folder, SELECT it and move its matched copies, one
 * UID MOVE per new folder; the maps are saved after each old folder. */
static mf_err
do_moves(struct mpass *p, const struct mf__move_pair *pairs, size_t n) {
    struct mf__run *run = p->run;
    struct route *r = mf_xcalloc(n + 1, sizeof(*r));
    struct mf__move_pair *batch = mf_xcalloc(n + 1, sizeof(*batch));
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n; i++)
        r[i] = (struct route){p->gm[pairs[i].from].f, p->fc[pairs[i].to].folder,
                              p->gc[pairs[i].from].uid, pairs[i]};
    qsort(r, n, sizeof(*r), by_route);
    for (size_t i = 0; i < n && rc == MF_E_OK && !run->moves_off;) {
        struct mfolder *a = &p->f[r[i].from_f];
        struct mf_store_select sel;
        size_t j = i;

        if ((rc = run->dst->ops->select(run->dst, a->fr.dst_name, false,
                                        &sel)) != MF_E_OK) {
            rc = fail_store(run, run->dst, a->fr.e->tgt_name);
            rc = retryable(rc) ? rc : MF_E_OK;
            while (i < n && r[i].from_f == r[j].from_f)
                i++;
            continue;
        }
        while (j < n && r[j].from_f == r[i].from_f && rc == MF_E_OK &&
               !run->moves_off) {
            size_t k = j, nb = 0;
            while (k < n && r[k].from_f == r[j].from_f &&
                   r[k].to_f == r[j].to_f)
                batch[nb++] = r[k++].pair;
            rc = move_batch(p, batch, nb, r[j].from_f, r[j].to_f);
            j = k;
        }
        if (rc == MF_E_OK)
            rc = save_maps(p);
        while (i < n && r[i].from_f == r[j - 1].from_f)
            i++;
    }
    if (rc == MF_E_OK)
        rc = save_maps(p);
    free(r);
    free(batch);
    return rc;
}

static void
mpass_free(struct mpass *p) {
    for (size_t i = 0; i < p->nf; i++) {
        struct mfolder *f = &p->f[i];
        free(f->fr.src_name);
        mf_checkpoint_pending_free(&f->fr.ck);
        mf__uidmap_clear(&f->fr.uidmap);
        free(f->gone);
        free(f->moved);
    }
    for (size_t i = 0; i < p->ng; i++) {
        free(p->gm[i].subject);
        free(p->gm[i].flags);
    }
    free(p->f);
    free(p->gc);
    free(p->gm);
    free(p->fc);
}

/* Steps 1 and 2 over every folder; false when nothing can move. */
static mf_err
gather(struct mpass *p, const struct mf_folder_entry *const *order,
       bool *any_r) {
    bool any_id = false;
    mf_err rc = MF_E_OK;

    *any_r = false;
    for (size_t i = 0; i < p->nf && rc == MF_E_OK; i++)
        if ((rc = prepare(p, &p->f[i], order[i])) == MF_E_OK)
            rc = find_gone(p, &p->f[i]);
    for (size_t i = 0; i < p->nf && rc == MF_E_OK; i++)
        rc = read_gone(p, i);
    for (size_t i = 0; i < p->ng; i++)
        any_id = any_id || p->gc[i].has_id;
    for (size_t i = 0; any_id && i < p->nf && rc == MF_E_OK; i++)
        rc = read_fresh(p, i);
    *any_r = any_id && p->nfresh > 0;
    return rc;
}

mf_err
mf__run_moves(struct mf__run *run, const struct mf_folder_entry *const *order,
              size_t n) {
    struct mpass p = {.run = run, .nf = n};
    struct mf__move_pair *pairs = NULL;
    size_t npairs;
    bool any;
    mf_err rc;

    /* Without MOVE (RFC 6851) and UIDPLUS (the new UIDs, RFC 4315) on the
     * target, moves are not made: the folder passes remove the old copy
     * and copy the message again (docs/batches.md, "Moves"). A Gmail
     * source copied by labels shows label changes, not moves. */
    if (!run->o->sync_deletes || !run->dst->caps.move ||
        !run->dst->caps.uidplus || !run->dst->ops->move_uids ||
        mf__gmail_mode(run) || run->moves_off || n == 0)
        return MF_E_OK;
    p.f = mf_xcalloc(n, sizeof(*p.f));
    rc = gather(&p, order, &any);
    if (rc == MF_E_OK && any &&
        (npairs = mf__move_match(p.gc, p.ng, p.fc, p.nfresh, &pairs)) > 0)
        rc = do_moves(&p, pairs, npairs);
    free(pairs);
    mpass_free(&p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* In the new folder's pass                                            */
/* ------------------------------------------------------------------ */

static struct mf__moved *
moved_find(struct mf__run *run, const char *folder, uint32_t uid) {
    for (size_t i = 0; i < run->n_moved; i++)
        if (!run->moved[i].taken && run->moved[i].src_uid == uid &&
            strcmp(run->moved[i].folder, folder) == 0)
            return &run->moved[i];
    return NULL;
}

static void
flag_done(void *ud, const struct mf_store_done *d) {
    struct mf_error *e = ud;
    if (d->error.code != MF_E_OK && e->code == MF_E_OK)
        *e = d->error;
}

/* The moved message's flags: the three-way merge a flag sync makes, with
 * the old folder's flags last synced as the base; its flagbase line goes
 * into fr->moved_base. */
static mf_err
merge_flags(struct mf__folder *fr, struct mf__msg *m, struct mf__moved *mv) {
    struct mf__run *run = fr->run;
    struct mf_store *dst = run->dst;
    struct mf_error err = {0};
    struct mf_buf want = {0};
    mf_err rc = MF_E_OK;

    mf__flags_merge(m->flags ? m->flags : "", mv->base_src, mv->tgt_flags,
                    mv->base_tgt, run->o->flag_conflict, &want);
    if (!mf__flags_same((const char *)want.data, mv->tgt_flags)) {
        rc = dst->ops->set_flags(dst, &m->tgt_uid, 1, (const char *)want.data,
                                 flag_done, &err);
        if (rc == MF_E_OK)
            rc = dst->ops->flush(dst, 0);
        if (rc != MF_E_OK)
            rc = mf__run_store_error(run, dst, fr->e->tgt_name);
        else if (err.code != MF_E_OK)
            rc = (run->err = err).code;
        else
            run->res->stats.flags_updated++;
    }
    if (rc == MF_E_OK)
        mf__flagbase_add(&fr->moved_base, m->uid, m->flags,
                         (const char *)want.data);
    mf_buf_free(&want);
    return rc;
}

mf_err
mf__folder_take_moved(struct mf__folder *fr, size_t from) {
    struct mf__uidmap *map = &fr->uidmap;
    mf_err rc = MF_E_OK;

    if (!fr->uidmap_on || map->n == 0)
        return MF_E_OK;
    mf__uidmap_sort(map); /* copies confirmed since may be added */
    for (size_t i = from; i < fr->list.n && rc == MF_E_OK; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct mf__moved *mv;
        size_t k;

        if (m->state != M_LISTED || m->uid <= fr->base_uid)
            continue;
        k = mf_u32_lower_bound_by(map->pairs, map->n, sizeof(*map->pairs),
                                  offsetof(struct mf__uidpair, src), m->uid);
        if (k == map->n || map->pairs[k].src != m->uid)
            continue;
        /* Mailferry put it there: moved this run, or copied by an
         * attempt that did not finish (APPENDUID). */
        m->state = M_PRESENT;
        m->tgt_uid = map->pairs[k].tgt;
        if ((mv = moved_find(fr->run, fr->src_name, m->uid)) != NULL) {
            mv->taken = true;
            rc = merge_flags(fr, m, mv);
        } else {
            fr->run->res->stats.messages_present++;
        }
    }
    return rc;
}

bool
mf__folder_mapped_above(struct mf__folder *fr, uint32_t uid) {
    struct mf__uidmap *map = &fr->uidmap;
    size_t k;

    if (!fr->uidmap_on || map->n == 0 || fr->base_uid == UINT32_MAX)
        return false;
    mf__uidmap_sort(map); /* copies confirmed since may be added */
    k = mf_u32_lower_bound_by(map->pairs, map->n, sizeof(*map->pairs),
                              offsetof(struct mf__uidpair, src),
                              fr->base_uid + 1);
    for (; k < map->n; k++)
        if (map->pairs[k].tgt == uid)
            return true;
    return false;
}

void
mf__run_moved_free(struct mf__run *run) {
    for (size_t i = 0; i < run->n_moved; i++) {
        free(run->moved[i].folder);
        free(run->moved[i].base_src);
        free(run->moved[i].base_tgt);
        free(run->moved[i].tgt_flags);
    }
    free(run->moved);
    run->moved = NULL;
    run->n_moved = 0;
}
