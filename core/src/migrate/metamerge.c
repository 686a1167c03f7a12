/*
 * Per-UID merging of FETCH metadata (see metamerge.h).
 */
#include "migrate/metamerge.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

/* An incomplete message: the items so far, as mf__meta_items, but with
 * m's strings owned (NULL: NIL or not yet known). */
struct part {
    struct mf__meta_items it;
};

struct mf__meta_merge {
    unsigned need;
    struct part *p; /* owned: the incomplete messages, arrival order */
    size_t np, capp;
    uint32_t *done; /* owned: delivered UIDs */
    size_t ndone, capdone;
    bool sorted; /* done is ascending */
};

struct mf__meta_merge *
mf__meta_merge_new(unsigned need) {
    struct mf__meta_merge *mm = mf_xcalloc(1, sizeof(*mm));
    mm->need = need;
    mm->sorted = true;
    return mm;
}

static void
part_clear(struct part *p) {
    free((char *)p->it.m.date);
    free((char *)p->it.m.flags);
    free((char *)p->it.m.message_id);
    free((char *)p->it.m.subject);
    free((char *)p->it.m.from);
    memset(p, 0, sizeof(*p));
}

void
mf__meta_merge_free(struct mf__meta_merge **mmp) {
    struct mf__meta_merge *mm = *mmp;

    if (!mm)
        return;
    for (size_t i = 0; i < mm->np; i++)
        part_clear(&mm->p[i]);
    free(mm->p);
    free(mm->done);
    free(mm);
    *mmp = NULL;
}

static bool
delivered(struct mf__meta_merge *mm, uint32_t uid) {
    size_t lo;

    if (mm->ndone == 0 || (mm->sorted && mm->done[mm->ndone - 1] < uid))
        return false;
    if (!mm->sorted) {
        qsort(mm->done, mm->ndone, sizeof(*mm->done), mf_u32_cmp);
        mm->sorted = true;
    }
    lo = mf_u32_lower_bound(mm->done, mm->ndone, uid);
    return lo < mm->ndone && mm->done[lo] == uid;
}

static mf_err
deliver(struct mf__meta_merge *mm, const struct mf__meta_items *it,
        mf_store_meta_cb cb, void *ud) {
    const unsigned items = MF__META_SIZE | MF__META_DATE | MF__META_FLAGS;
    struct mf_store_meta m = it->m;

    if (mm->ndone == mm->capdone) {
        mm->capdone = mm->capdone ? mm->capdone * 2 : 256;
        mm->done = mf_xreallocarray(mm->done, mm->capdone, sizeof(*mm->done));
    }
    if (mm->ndone && mm->done[mm->ndone - 1] > m.uid)
        mm->sorted = false;
    mm->done[mm->ndone++] = m.uid;
    m.missing = 0;
    if ((it->have & items) != items) {
        /* Incomplete: the uid and what it lacks, nothing half known. */
        m = (struct mf_store_meta){
            .uid = m.uid,
            .missing =
                (it->have & MF__META_SIZE ? 0 : MF_STORE_MISSING_SIZE) |
                (it->have & MF__META_DATE ? 0 : MF_STORE_MISSING_DATE) |
                (it->have & MF__META_FLAGS ? 0 : MF_STORE_MISSING_FLAGS)};
    }
    return cb(ud, &m);
}

/* A part's strings are owned (struct part): replaced by a copy. */
static void
set_str(const char **dst, const char *src) {
    free((char *)*dst);
    *dst = src ? mf_xstrdup(src) : NULL;
}

/* Merges it into p (later items win). */
static void
part_merge(struct part *p, const struct mf__meta_items *it) {
    struct mf_store_meta *m = &p->it.m;

    if (it->have & MF__META_SIZE)
        m->size = it->m.size;
    if (it->have & MF__META_DATE)
        set_str(&m->date, it->m.date);
    if (it->have & MF__META_FLAGS)
        set_str(&m->flags, it->m.flags);
    if (it->have & MF__META_HEADER) {
        set_str(&m->message_id, it->m.message_id);
        set_str(&m->subject, it->m.subject);
        set_str(&m->from, it->m.from);
    }
    if (it->have & MF__META_GMID)
        m->gm_msgid = it->m.gm_msgid;
    p->it.have |= it->have;
}

static void
part_remove(struct mf__meta_merge *mm, size_t i) {
    part_clear(&mm->p[i]);
    memmove(&mm->p[i], &mm->p[i + 1], (mm->np - i - 1) * sizeof(*mm->p));
    mm->np--;
}

mf_err
mf__meta_merge_add(struct mf__meta_merge *mm, const struct mf__meta_items *it,
                   mf_store_meta_cb cb, void *ud) {
    size_t i = mm->np;
    struct part *p;
    mf_err rc;

    while (i > 0 && mm->p[i - 1].it.m.uid != it->m.uid)
        i--;
    if (i == 0) {
        if (delivered(mm, it->m.uid))
            return MF_E_OK; /* a late unsolicited FETCH */
        if ((it->have & mm->need) == mm->need)
            return deliver(mm, it, cb, ud); /* the usual case */
        if (mm->np == mm->capp) {
            mm->capp = mm->capp ? mm->capp * 2 : 16;
            mm->p = mf_xreallocarray(mm->p, mm->capp, sizeof(*mm->p));
        }
        p = &mm->p[mm->np++];
        memset(p, 0, sizeof(*p));
        p->it.m.uid = it->m.uid;
        i = mm->np;
    }
    p = &mm->p[i - 1];
    part_merge(p, it);
    if ((p->it.have & mm->need) != mm->need)
        return MF_E_OK;
    rc = deliver(mm, &p->it, cb, ud);
    part_remove(mm, i - 1);
    return rc;
}

static int
by_uid(const void *a, const void *b) {
    const struct part *x = a, *y = b;
    return x->it.m.uid < y->it.m.uid ? -1 : x->it.m.uid > y->it.m.uid;
}

mf_err
mf__meta_merge_finish(struct mf__meta_merge *mm, mf_store_meta_cb cb,
                      void *ud) {
    mf_err rc = MF_E_OK;

    if (mm->np)
        qsort(mm->p, mm->np, sizeof(*mm->p), by_uid);
    for (size_t i = 0; i < mm->np && rc == MF_E_OK; i++) {
        rc = deliver(mm, &mm->p[i].it, cb, ud);
    }
    while (mm->np)
        part_remove(mm, mm->np - 1);
    return rc;
}
