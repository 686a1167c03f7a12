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
