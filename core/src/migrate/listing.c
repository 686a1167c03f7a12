/*
 * Listing a folder's new messages, with proof that nothing was left out
 * (issue 11, "messages dropped while listing a folder").
 *
 * The metadata listing (UID FETCH start:* with sizes, dates and flags) is
 * one answer from the server; a server that leaves messages out of it
 * (a FETCH that came back short with OK) would have them skipped for
 * good once the checkpoint moves past their UIDs. So after listing, the
 * messages listed from start up are counted against the server's own
 * count of that range (store.h count(): EXISTS for the whole folder, a
 * UID-only FETCH from start up). A short listing is listed once more; if
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

/* Messages of list at index from on with UIDs from start up. */
static uint32_t
listed_from(const struct mf__msglist *l, size_t from, uint32_t start) {
    uint32_t n = 0;
    for (size_t i = from; i < l->n; i++)
        if (l->m[i].uid >= start)
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
             bool with_fp, struct mf__msglist *list, struct mf_error *short_r) {
    struct mf_store *src = run->src;
    size_t before = list->n;
    uint32_t listed = 0, counted = 0;
    mf_err rc;

    short_r->code = MF_E_OK;
    if (start == 0)
        return MF_E_OK;
    for (int round = 0; round < 2; round++) {
        drop_from(list, before);
        rc = mf__msglist_fetch(run, src, start, 0, with_fp, list);
        if (rc != MF_E_OK)
            return rc;
        if (src->ops->count(src, start, &counted) != MF_E_OK)
            return mf__run_store_error(run, src, "message count");
        listed = listed_from(list, before, start);
        if (listed >= counted)
            return MF_E_OK;
    }
    short_r->code = MF_E_FOLDER_INCOMPLETE;
    snprintf(short_r->detail, sizeof(short_r->detail),
             "%.80s: the server holds %u messages from UID %u up, its "
             "listing gave %u, twice",
             label, counted, start, listed);
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

mf_err
mf__recognise_twins(struct mf__run *run, const struct mf__msglist *list,
                    struct mf_fingerprint_set *above, uint32_t base_uid,
                    const uint32_t *pending, size_t npending,
                    uint32_t tgt_from) {
    struct mf__msglist src = {0}, tgt = {0};
    struct mf_fingerprint_set *below = NULL;
    mf_err rc = MF_E_OK;

    /* Nothing above the mark that a new message could be taken for (new
     * mail on the target after the MX switch does not match): no cost. */
    if (base_uid == 0 || mf_fingerprint_set_total(above) == 0 ||
        !any_match(list, base_uid, above))
        return MF_E_OK;
    if ((rc = mf__msglist_fetch(run, run->src, 1, base_uid, true, &src)))
        goto out;
    below = mf_fingerprint_set_new(src.n + 1);
    for (size_t i = 0; i < src.n; i++) {
        const struct mf__msg *m = &src.m[i];
        if (m->uid <= base_uid && !pending_has(pending, npending, m->uid) &&
            mf_fingerprint_set_count(above, &m->fp) > 0 &&
            (rc = mf_fingerprint_set_add(below, &m->fp)) != MF_E_OK)
            goto out;
    }
    if (mf_fingerprint_set_total(below) == 0)
        goto out;
    /* Copies at or below the mark account for source occurrences first. */
    if (tgt_from > 0 &&
        (rc = mf__msglist_fetch(run, run->dst, 1, tgt_from, true, &tgt)))
        goto out;
    for (size_t i = 0; i < tgt.n; i++)
        if (tgt.m[i].uid <= tgt_from)
            (void)mf_fingerprint_set_take(below, &tgt.m[i].fp);
    /* What is left are copies of older messages above the mark. */
    for (size_t i = 0; i < src.n; i++)
        if (mf_fingerprint_set_take(below, &src.m[i].fp))
            (void)mf_fingerprint_set_take(above, &src.m[i].fp);
out:
    mf_fingerprint_set_free(&below);
    mf__msglist_clear(&src);
    mf__msglist_clear(&tgt);
    return rc;
}
