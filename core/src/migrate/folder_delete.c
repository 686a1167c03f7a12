/*
 * --sync-deletes in a folder's pass (folder.c step 1b): what the source
 * expunged since the last pass goes from the target too, if mailferry
 * put it there. The rule and the UID map are in deletes.c; this file
 * reads and writes the map and talks to the stores.
 *
 *   1. Load the folder's UID map (kept beside the flags last synced,
 *      under "\tuidmap\t<folder>": a TAB cannot be in a mailbox name,
 *      RFC 3501 5.1.3, so it never meets a folder's own field). A map of
 *      another target UIDVALIDITY is dropped: its UIDs name nothing now.
 *   2. With a checkpoint (last_uid > 0), learn which source UIDs up to
 *      last_uid are gone: with QRESYNC (enabled at login, RFC 7162) and a
 *      HIGHESTMODSEQ in a checkpoint written with --sync-deletes, from
 *      "UID FETCH 1:last_uid (UID)
 *      (CHANGEDSINCE m VANISHED)" and its VANISHED (EARLIER) answer
 *      (section 3.2.6), without listing anything; otherwise by UID
 *      comparison, listing the source's UIDs up to last_uid. Take the
 *      map's pairs whose source UID is gone.
 *   3. Note their size, date and subject from the target (the report
 *      lists every message removed), then remove exactly those target
 *      UIDs: UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE (RFC 4315
 *      2.1, mailferry/store.h expunge_uids). The map without them is saved at
 * once, so a retried folder does not count them twice.
 *   4. At the end of the pass the copies confirmed with APPENDUID join
 *      the map (mf__folder_uidmap_save()).
 *
 * A message moved between folders on the source is expunged from one and
 * new in the other. Where the target has MOVE, the mailbox's pass moved
 * its copy before any folder was visited (moves.c): the old folder's map
 * no longer holds it, so it is not removed here. Otherwise its old copy
 * is removed here and the new one copied by the new folder's pass.
 */
#include "migrate/folder_int.h"

#include "mailferry/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
map_field(const struct mf__folder *fr) {
    return mf_xasprintf("\tuidmap\t%s", fr->src_name);
}

struct uids {
    uint32_t *v;
    size_t n, cap;
};

/* VANISHED (EARLIER) ranges, as [lo, hi] pairs. */
struct ranges {
    struct mf__uidpair *v; /* src = lo, tgt = hi */
    size_t n;
};

static void
on_range(void *ud, uint32_t lo, uint32_t hi) {
    struct ranges *r = ud;
    r->v = mf_xreallocarray(r->v, r->n + 1, sizeof(*r->v));
    r->v[r->n++] = (struct mf__uidpair){lo, hi};
}

/* The map's source UIDs up to base_uid that are not expunged by the
 * ranges: the source UIDs still there, as far as the map asks. */
static void
present_from_ranges(const struct mf__folder *fr, const struct ranges *r,
                    struct uids *present) {
    for (size_t i = 0; i < fr->uidmap.n; i++) {
        uint32_t uid = fr->uidmap.pairs[i].src;
        bool gone = false;
        for (size_t k = 0; k < r->n && !gone; k++)
            gone = uid >= r->v[k].src && uid <= r->v[k].tgt;
        if (gone || uid > fr->base_uid)
            continue;
        if (present->n == present->cap) {
            present->cap = present->cap ? 2 * present->cap : 256;
            present->v =
                mf_xreallocarray(present->v, present->cap, sizeof(uint32_t));
        }
        present->v[present->n++] = uid;
    }
}

static mf_err
on_uid(void *ud, const struct mf_store_meta *m) {
    struct uids *u = ud;
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 256;
        u->v = mf_xreallocarray(u->v, u->cap, sizeof(*u->v));
    }
    u->v[u->n++] = m->uid;
    return MF_E_OK;
}

/* What the target says of a message about to be removed (the report
 * lists it): found false when the target did not list it (already gone
 * there, or not asked: see remove_gone()). */
struct gone_meta {
    uint32_t tgt;
    uint64_t size;
    char date[40];
    char *subject; /* owned */
    bool found;
};

struct gone_list {
    struct gone_meta *v; /* sorted by tgt */
    size_t n;
};

static mf_err
on_gone(void *ud, const struct mf_store_meta *m) {
    struct gone_list *l = ud;
    /* The one with this target UID, if asked for. */
    size_t lo = mf_u32_lower_bound_by(l->v, l->n, sizeof(*l->v),
                                      offsetof(struct gone_meta, tgt), m->uid);

    if (lo < l->n && l->v[lo].tgt == m->uid && !l->v[lo].found) {
        struct gone_meta *g = &l->v[lo];
        g->found = true;
        g->size = m->size;
        snprintf(g->date, sizeof(g->date), "%s", m->date ? m->date : "");
        g->subject = m->subject ? mf_xstrdup(m->subject) : NULL;
    }
    return MF_E_OK;
}

static mf_err
save(struct mf__folder *fr) {
    char *field = map_field(fr), *value = mf__uidmap_format(&fr->uidmap);
    mf_err rc = mf__flagbase_put(fr->run, field, value);

    free(field);
    free(value);
    return rc;
}

/* Past this many removals in a folder, the ones after it are not asked
 * about one by one (a round trip each): they are listed by UID alone. */
#define DETAILS_ONE_BY_ONE 200

static int
by_tgt(const void *a, const void *b) {
    const struct gone_meta *x = a, *y = b;
    return x->tgt < y->tgt ? -1 : x->tgt > y->tgt;
}

/* Removes the gone pairs' messages from the target folder (selected),
 * then lists them (what the target had of them: size, date, subject).
 * Their details come from one UID FETCH over their span when they lie
 * close together, else one by one for the first DETAILS_ONE_BY_ONE. */
static mf_err
remove_gone(struct mf__folder *fr, const struct mf__uidpair *gone, size_t n) {
    struct mf__run *run = fr->run;
    struct mf_store *dst = run->dst;
    struct gone_list l = {mf_xcalloc(n, sizeof(*l.v)), n};
    uint32_t *tgt = mf_xcalloc(n, sizeof(*tgt));
    uint64_t span;
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n; i++)
        l.v[i].tgt = gone[i].tgt;
    qsort(l.v, n, sizeof(*l.v), by_tgt);
    span = (uint64_t)l.v[n - 1].tgt - l.v[0].tgt + 1;
    if (span <= 4 * (uint64_t)n)
        rc = dst->ops->fetch_meta(dst, l.v[0].tgt, l.v[n - 1].tgt,
                                  MF_STORE_META_SUBJECT, on_gone, &l);
    for (size_t i = 0; span > 4 * (uint64_t)n && i < n && rc == MF_E_OK; i++) {
        if (i == DETAILS_ONE_BY_ONE) {
            for (; i < n; i++)
                l.v[i].found = true; /* listed by UID alone */
            break;
        }
        rc = dst->ops->fetch_meta(dst, l.v[i].tgt, l.v[i].tgt,
                                  MF_STORE_META_SUBJECT, on_gone, &l);
    }
    if (rc == MF_E_OK) {
        for (size_t i = 0; i < n; i++)
            tgt[i] = l.v[i].tgt;
        rc = dst->ops->expunge_uids(dst, tgt, n);
    }
    if (rc != MF_E_OK) {
        rc = mf__run_store_error(run, dst, fr->e->tgt_name);
        goto out;
    }
    /* Listed once removed, by source UID; a message the target no longer
     * had was not removed by mailferry and is not listed. */
    for (size_t i = 0; i < n; i++) {
        const struct gone_meta *g;
        struct gone_meta key = {.tgt = gone[i].tgt};
        g = bsearch(&key, l.v, n, sizeof(*l.v), by_tgt);
        if (g && g->found)
            mf__run_deleted(run, fr->label, gone[i].src, g->size, g->date,
                            g->subject);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(l.v[i].subject);
    free(l.v);
    free(tgt);
    return rc;
}

mf_err
mf__folder_uidmap_load(struct mf__folder *fr, uint32_t tgt_uidvalidity) {
    char *field = map_field(fr), *value = NULL;
    mf_err rc;

    fr->uidmap_on = true;
    mf__uidmap_clear(&fr->uidmap);
    rc = mf__flagbase_get(fr->run, field, &value);
    free(field);
    if (rc != MF_E_OK)
        return rc;
    if (!value || !mf__uidmap_parse(value, &fr->uidmap) ||
        fr->uidmap.tgt_uidvalidity != tgt_uidvalidity) {
        mf__uidmap_clear(&fr->uidmap); /* none, or of another target */
        fr->uidmap.tgt_uidvalidity = tgt_uidvalidity;
    }
    free(value);
    return MF_E_OK;
}

mf_err
mf__folder_find_gone(struct mf__folder *fr, struct mf__uidpair **gone_r,
                     size_t *n_r) {
    struct mf__run *run = fr->run;
    struct uids present = {0};
    mf_err rc;

    *gone_r = NULL;
    *n_r = 0;
    if (fr->base_uid == 0 || fr->uidmap.n == 0)
        return MF_E_OK;
    if (run->src->ops->vanished && run->src->caps.qresync &&
        fr->ck.sync_deletes && fr->ck.has_status &&
        fr->ck.src_status.highestmodseq) {
        /* QRESYNC: the server says what it expunged since the last pass
         * (its HIGHESTMODSEQ then, in the checkpoint), no listing. Only
         * after a pass that looked for expunges too: one without took
         * its HIGHESTMODSEQ after expunges nobody acted on. */
        struct ranges r = {0};
        rc = run->src->ops->vanished(run->src, fr->base_uid,
                                     fr->ck.src_status.highestmodseq, on_range,
                                     &r);
        if (rc == MF_E_OK)
            present_from_ranges(fr, &r, &present);
        free(r.v);
    } else {
        /* UID comparison: what the source lists now. */
        rc = run->src->ops->fetch_meta(run->src, 1, fr->base_uid, 0, on_uid,
                                       &present);
    }
    if (rc != MF_E_OK) {
        free(present.v);
        return mf__run_store_error(run, run->src, fr->label);
    }
    *n_r = mf__uidmap_gone(&fr->uidmap, fr->base_uid, present.v, present.n,
                           gone_r);
    free(present.v);
    return MF_E_OK;
}

mf_err
mf__folder_uidmap_put(struct mf__folder *fr) {
    return save(fr);
}

mf_err
mf__folder_sync_deletes(struct mf__folder *fr, uint32_t tgt_uidvalidity) {
    struct mf__uidpair *gone = NULL;
    size_t ngone;
    mf_err rc;

    if ((rc = mf__folder_uidmap_load(fr, tgt_uidvalidity)) != MF_E_OK ||
        (rc = mf__folder_find_gone(fr, &gone, &ngone)) != MF_E_OK || ngone == 0)
        return rc;
    rc = remove_gone(fr, gone, ngone);
    free(gone);
    if (rc == MF_E_OK)
        rc = save(fr);
    return rc;
}

mf_err
mf__folder_uidmap_save(struct mf__folder *fr) {
    bool added = fr->uidmap_added; /* by the windows before */

    if (!fr->uidmap_on)
        return MF_E_OK;
    for (size_t i = 0; i < fr->list.n; i++) {
        const struct mf__msg *m = &fr->list.m[i];
        if (m->state == M_DONE && m->tgt_uid) {
            mf__uidmap_add(&fr->uidmap, m->uid, m->tgt_uid);
            added = true;
        }
    }
    return added ? save(fr) : MF_E_OK;
}
