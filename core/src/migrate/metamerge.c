/*
 * Per-UID merging of FETCH metadata (see metamerge.h).
 */
#include "migrate/metamerge.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

struct part {
    uint32_t uid;
    unsigned have;
    uint64_t size;
    char *date; /* owned; NULL: NIL or not yet known */
    char *flags, *message_id, *subject, *from; /* owned */
    uint64_t gm_msgid;
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
    free(p->date);
    free(p->flags);
    free(p->message_id);
    free(p->subject);
    free(p->from);
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
    struct mf_store_meta m = {0};

    if (mm->ndone == mm->capdone) {
        mm->capdone = mm->capdone ? mm->capdone * 2 : 256;
        mm->done = mf_xreallocarray(mm->done, mm->capdone, sizeof(*mm->done));
    }
    if (mm->ndone && mm->done[mm->ndone - 1] > it->uid)
        mm->sorted = false;
    mm->done[mm->ndone++] = it->uid;
    m.uid = it->uid;
    if ((it->have & items) != items) {
        m.missing = (it->have & MF__META_SIZE ? 0 : MF_STORE_MISSING_SIZE) |
                    (it->have & MF__META_DATE ? 0 : MF_STORE_MISSING_DATE) |
                    (it->have & MF__META_FLAGS ? 0 : MF_STORE_MISSING_FLAGS);
        return cb(ud, &m);
    }
    m.size = it->size;
    m.date = it->date;
    m.flags = it->flags;
    m.message_id = it->message_id;
    m.subject = it->subject;
    m.from = it->from;
    m.gm_msgid = it->gm_msgid;
    return cb(ud, &m);
}

static void
set_str(char **dst, const char *src) {
    free(*dst);
    *dst = src ? mf_xstrdup(src) : NULL;
}

/* Merges it into p (later items win). */
static void
part_merge(struct part *p, const struct mf__meta_items *it) {
    if (it->have & MF__META_SIZE)
        p->size = it->size;
    if (it->have & MF__META_DATE)
        set_str(&p->date, it->date);
    if (it->have & MF__META_FLAGS)
        set_str(&p->flags, it->flags);
    if (it->have & MF__META_HEADER) {
        set_str(&p->message_id, it->message_id);
        set_str(&p->subject, it->subject);
        set_str(&p->from, it->from);
    }
    if (it->have & MF__META_GMID)
        p->gm_msgid = it->gm_msgid;
    p->have |= it->have;
}

static struct mf__meta_items
part_items(const struct part *p) {
    struct mf__meta_items it = {.uid = p->uid,
                                .have = p->have,
                                .size = p->size,
                                .date = p->date,
                                .flags = p->flags,
                                .message_id = p->message_id,
                                .subject = p->subject,
                                .from = p->from,
                                .gm_msgid = p->gm_msgid};
    return it;
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
    struct mf__meta_items all;
    mf_err rc;

    while (i > 0 && mm->p[i - 1].uid != it->uid)
        i--;
    if (i == 0) {
        if (delivered(mm, it->uid))
            return MF_E_OK; /* a late unsolicited FETCH */
        if ((it->have & mm->need) == mm->need)
            return deliver(mm, it, cb, ud); /* the usual case */
        if (mm->np == mm->capp) {
            mm->capp = mm->capp ? mm->capp * 2 : 16;
            mm->p = mf_xreallocarray(mm->p, mm->capp, sizeof(*mm->p));
        }
        p = &mm->p[mm->np++];
        memset(p, 0, sizeof(*p));
        p->uid = it->uid;
        i = mm->np;
    }
    p = &mm->p[i - 1];
    part_merge(p, it);
    if ((p->have & mm->need) != mm->need)
        return MF_E_OK;
    all = part_items(p);
    rc = deliver(mm, &all, cb, ud);
    part_remove(mm, i - 1);
    return rc;
}

static int
by_uid(const void *a, const void *b) {
    const struct part *x = a, *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

mf_err
mf__meta_merge_finish(struct mf__meta_merge *mm, mf_store_meta_cb cb,
                      void *ud) {
    mf_err rc = MF_E_OK;

    if (mm->np)
        qsort(mm->p, mm->np, sizeof(*mm->p), by_uid);
    for (size_t i = 0; i < mm->np && rc == MF_E_OK; i++) {
        struct mf__meta_items it = part_items(&mm->p[i]);
        rc = deliver(mm, &it, cb, ud);
    }
    while (mm->np)
        part_remove(mm, mm->np - 1);
    return rc;
}
