/*
 * Listing a folder's new messages, with proof that nothing was left out
 * (issue 11, "messages dropped while listing a folder").
 *
 * The metadata listing (UID FETCH start:* with sizes, dates and flags) is
 * one answer from the server; a server that leaves messages out of it
 * (a FETCH that came back short with OK) would have them skipped for
 * good once the checkpoint moves past their UIDs. So after listing, the
 * messages listed from start up are counted against the server's own
 * count of that range (mailferry/store.h count(): EXISTS for the whole folder,
 * a UID-only FETCH of the range). The copy lists a folder a UID window at a
 * time (folder.c), so the check is per window, before anything of it is
 * copied. A short listing is listed once more; if
 * it is still short, the folder is reported incomplete and nothing of it
 * is copied or checkpointed, so the next pass tries it whole again. More
 * listed than counted is mail that arrived in between, which is fine.
 *
 * A start of 0 is the UID after 4294967295 (RFC 3501 2.3.1.1: UIDs are
 * 32-bit): nothing can follow, and nothing is listed (a wrapped start of
 * 0 would list the whole folder again).
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>

/* Messages of list at index from on with UIDs in [start, last] (last 0:
 * from start up). */
static uint32_t
listed_from(const struct mf__msglist *l, size_t from, uint32_t start,
            uint32_t last) {
    uint32_t n = 0;
    for (size_t i = from; i < l->n; i++)
        if (l->m[i].uid >= start && (!last || l->m[i].uid <= last))
            n++;
    return n;
}

static void
drop_from(struct mf__msglist *l, size_t from) {
    for (size_t i = from; i < l->n; i++)
        free(l->m[i].flags);
    l->n = from;
}

mf_err
mf__list_new(struct mf__run *run, const char *label, uint32_t start,
             uint32_t last, bool with_fp, struct mf__msglist *list,
             struct mf_error *short_r) {
    struct mf_store *src = run->src;
    size_t before = list->n;
    uint32_t listed = 0, counted = 0;
    mf_err rc;

    short_r->code = MF_E_OK;
    if (start == 0)
        return MF_E_OK;
    for (int round = 0; round < 2; round++) {
        drop_from(list, before);
        rc = mf__msglist_fetch(run, src, start, last, with_fp, list);
        if (rc != MF_E_OK)
            return rc;
        if (src->ops->count(src, start, last, &counted) != MF_E_OK)
            return mf__run_store_error(run, src, "message count");
        listed = listed_from(list, before, start, last);
        if (listed >= counted)
            return MF_E_OK;
    }
    short_r->code = MF_E_FOLDER_INCOMPLETE;
    snprintf(short_r->detail, sizeof(short_r->detail),
             "%.80s: the server holds %u messages from UID %u %s, its "
             "listing gave %u, twice",
             label, counted, start, last ? "in this window" : "up", listed);
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Twins on a dirty resume                                             */
/* ------------------------------------------------------------------ */

/* Recognition takes the target messages above the checkpoint's target
 * mark as the copies of the source messages above last_uid. A mark that
 * is too low (a checkpoint rolled back, one written by an older version)
 * lets that range also hold copies of messages at or below last_uid: if
 * one of those has a twin above last_uid (the same message twice in the
 * source, the same fingerprint), the twin would be taken as present and
 * never copied. So the target's occurrences of a fingerprint count for
 * the new messages only past the source's own occurrences at or below
 * last_uid (minus pending ones, which are not on the target) that are not
 * accounted for at or below the mark: multiplicity, not membership. The
 * source (and, with a mark, the target below it) is listed again only
 * when a new message matches a target message above the mark, which is
 * after a crash or a rollback. */
static bool
pending_has(const uint32_t *p, size_t n, uint32_t uid) {
    size_t i = mf_u32_lower_bound(p, n, uid);
    return i < n && p[i] == uid;
}

/* Whether a message of list above base_uid has a fingerprint in above. */
static bool
any_match(const struct mf__msglist *list, uint32_t base_uid,
          const struct mf_fingerprint_set *above) {
    for (size_t i = 0; i < list->n; i++)
        if (list->m[i].uid > base_uid && !list->m[i].missing &&
            mf_fingerprint_set_count(above, &list->m[i].fp) > 0)
            return true;
    return false;
}

/* Windowed lists (mf__list_each) of both folders, the source's up to
 * base_uid and the target's up to the mark: only the fingerprints found
 * among the target's above the mark are kept. */
struct twins {
    struct mf_fingerprint_set *above, *below;
    const uint32_t *pending;
    size_t npending;
    uint32_t base_uid;
    struct mf_fingerprint *added; /* what went into below, in order */
    size_t nadded, cap;
};

static mf_err
twin_src(void *ud, const struct mf__msg *m) {
    struct twins *t = ud;
    mf_err rc;

    if (m->uid > t->base_uid || pending_has(t->pending, t->npending, m->uid) ||
        mf_fingerprint_set_count(t->above, &m->fp) == 0)
        return MF_E_OK;
    if ((rc = mf_fingerprint_set_add(t->below, &m->fp)) != MF_E_OK)
        return rc;
    if (t->nadded == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->added = mf_xreallocarray(t->added, t->cap, sizeof(*t->added));
    }
    t->added[t->nadded++] = m->fp;
    return MF_E_OK;
}

static mf_err
twin_tgt(void *ud, const struct mf__msg *m) {
    struct twins *t = ud;
    (void)mf_fingerprint_set_take(t->below, &m->fp);
    return MF_E_OK;
}

mf_err
mf__recognise_twins(struct mf__run *run, const struct mf__msglist *list,
                    struct mf_fingerprint_set *above, uint32_t base_uid,
                    const uint32_t *pending, size_t npending, uint32_t tgt_from,
                    bool *done_r) {
    struct twins t = {.above = above,
                      .pending = pending,
                      .npending = npending,
                      .base_uid = base_uid};
    mf_err rc = MF_E_OK;

    /* Nothing above the mark that a new message could be taken for (new
     * mail on the target after the MX switch does not match): no cost. */
    if (base_uid == 0 || mf_fingerprint_set_total(above) == 0) {
        *done_r = true; /* and never needed later: above only shrinks */
        return MF_E_OK;
    }
    if (!any_match(list, base_uid, above))
        return MF_E_OK;
    *done_r = true;
    /* below's fingerprints are among above's. */
    t.below = mf_fingerprint_set_new(mf_fingerprint_set_total(above) + 1);
    if ((rc = mf__list_each(run, run->src, 1, base_uid, false, twin_src, &t)))
        goto out;
    if (mf_fingerprint_set_total(t.below) == 0)
        goto out;
    /* Copies at or below the mark account for source occurrences first. */
    if (tgt_from > 0 &&
        (rc = mf__list_each(run, run->dst, 1, tgt_from, false, twin_tgt, &t)))
        goto out;
    /* What is left are copies of older messages above the mark. */
    for (size_t i = 0; i < t.nadded; i++)
        if (mf_fingerprint_set_take(t.below, &t.added[i]))
            (void)mf_fingerprint_set_take(above, &t.added[i]);
out:
    mf_fingerprint_set_free(&t.below);
    free(t.added);
    return rc;
}

/* ------------------------------------------------------------------ */
/* A folder in UID windows                                             */
/* ------------------------------------------------------------------ */

mf_err
mf__list_each(struct mf__run *run, struct mf_store *st, uint32_t first,
              uint32_t last, bool open_end, mf__msg_cb cb, void *ud) {
    uint32_t window = mf__run_uid_window(run);
    struct mf__msglist l = {0};
    mf_err rc = MF_E_OK;

    if (first == 0)
        first = 1;
    if (!open_end && last < first)
        return MF_E_OK;
    for (uint64_t a = first; rc == MF_E_OK;) {
        uint64_t hi = a + window - 1;
        bool fin = hi >= last;
        uint32_t to = fin && open_end ? 0 : (uint32_t)(fin ? last : hi);

        rc = mf__msglist_fetch(run, st, (uint32_t)a, to, true, &l);
        for (size_t i = 0; rc == MF_E_OK && i < l.n; i++)
            /* "a:*" names the last message even when a is above it. */
            if (l.m[i].uid >= a && (!to || l.m[i].uid <= to))
                rc = cb(ud, &l.m[i]);
        drop_from(&l, 0);
        if (fin)
            break;
        a = hi + 1;
    }
    mf__msglist_clear(&l);
    return rc;
}
