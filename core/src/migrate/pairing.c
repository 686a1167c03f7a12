/*
 * Pairing a source folder's messages with their copies on the target by
 * fingerprint, listing both sides in UID windows (issue 14 item 5: a
 * folder of 1,000,000 messages flag-synced in bounded memory).
 *
 * The rule is flagsync.c's: among equal fingerprints, the n-th source
 * message (in UID order) pairs with the n-th target message. Each side is
 * listed a window of UIDs at a time (UID FETCH a:b); what a round could
 * not pair is carried to the next one, kept sorted by (fingerprint, UID).
 * Since each side arrives in UID order and a round pairs the oldest
 * carried message of a fingerprint first, the pairs are those of one sort
 * and merge over both whole folders: the first unpaired source message of
 * a fingerprint meets the first unpaired target message of it, window or
 * not.
 *
 * Memory is then two windows plus the carry: the messages one side has
 * and the other does not have yet. A side is listed only while it is not
 * ahead: the side with more unpaired messages waits for the other, so
 * that UID ranges of different density (expunged source messages, a
 * target with gaps) do not pile up on one side. A side whose windows come
 * back sparse widens its window (UIDs, not messages, are what a FETCH
 * names). Once the source is listed to its end, the target is listed
 * only while unpaired source messages remain, and what no later message
 * can pair is dropped at once.
 *
 * The source is listed up to src_last; the target up to the UID it had
 * when selected, its last window open-ended ("a:*", RFC 3501 section
 * 6.4.8), so that copies appended since are seen too.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

enum { SRC = 0, TGT = 1 };

struct side {
    struct mf_store *st;
    struct mf__msglist l; /* unpaired so far, then the new window */
    uint32_t next;        /* the next UID to list */
    uint32_t last;        /* the last UID of the range */
    bool open_end;        /* the window reaching last is "next:*" */
    bool done;
    uint32_t width; /* UIDs per window */
};

int
mf__msg_by_fp_uid(const void *a, const void *b) {
    const struct mf__msg *x = a, *y = b;
    int c = memcmp(x->fp.digest, y->fp.digest, sizeof(x->fp.digest));
    if (c)
        return c;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Drops l's messages from index from on that are outside [lo, hi] (hi 0:
 * no upper end): "a:*" names the last message even when a is above it. */
static void
keep_range(struct mf__msglist *l, size_t from, uint32_t lo, uint32_t hi) {
    size_t k = from;
    for (size_t i = from; i < l->n; i++) {
        if (l->m[i].uid < lo || (hi && l->m[i].uid > hi)) {
            free(l->m[i].flags);
            continue;
        }
        l->m[k++] = l->m[i];
    }
    l->n = k;
}

/* Lists the next window of a side onto its unpaired messages. */
static mf_err
list_window(struct mf__run *run, struct side *s, uint32_t window) {
    size_t before = s->l.n, got;
    uint64_t hi = (uint64_t)s->next + s->width - 1;
    bool last = hi >= s->last;
    mf_err rc;

    if (last)
        hi = s->last;
    rc = mf__msglist_fetch(run, s->st, s->next,
                           last && s->open_end ? 0 : (uint32_t)hi, true, &s->l);
    if (rc != MF_E_OK)
        return rc;
    keep_range(&s->l, before, s->next, last && s->open_end ? 0 : (uint32_t)hi);
    got = s->l.n - before;
    s->done = last || hi == UINT32_MAX;
    s->next = (uint32_t)(hi + 1);
    s->width = mf__window_width(s->width, got, window);
    return MF_E_OK;
}

static void
drop_all(struct mf__msglist *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->m[i].flags);
    l->n = 0;
}

/* Pairs what both sides hold (each sorted by fingerprint, then UID),
 * calling cb per pair, and keeps the unpaired, still sorted. */
static mf_err
pair_round(struct side *s, struct side *t, mf__pair_cb cb, void *ud) {
    size_t i = 0, k = 0, ns = 0, nt = 0;
    mf_err rc = MF_E_OK;

    while (i < s->l.n && k < t->l.n) {
        int c = memcmp(s->l.m[i].fp.digest, t->l.m[k].fp.digest,
                       sizeof(s->l.m[i].fp.digest));
        if (c < 0) {
            s->l.m[ns++] = s->l.m[i++];
        } else if (c > 0) {
            t->l.m[nt++] = t->l.m[k++];
        } else {
            if (rc == MF_E_OK)
                rc = cb(ud, &s->l.m[i], &t->l.m[k]);
            free(s->l.m[i++].flags);
            free(t->l.m[k++].flags);
        }
    }
    while (i < s->l.n)
        s->l.m[ns++] = s->l.m[i++];
    while (k < t->l.n)
        t->l.m[nt++] = t->l.m[k++];
    s->l.n = ns;
    t->l.n = nt;
    return rc;
}

static void
sort_side(struct side *s) {
    if (s->l.n > 1)
        qsort(s->l.m, s->l.n, sizeof(*s->l.m), mf__msg_by_fp_uid);
}

mf_err
mf__pair_folders(struct mf__run *run, uint32_t src_last, uint32_t tgt_last,
                 mf__pair_cb cb, void *ud) {
    uint32_t window = mf__run_uid_window(run);
    struct side sd[2] = {
        {.st = run->src, .next = 1, .last = src_last, .width = window},
        {.st = run->dst,
         .next = 1,
         .last = tgt_last,
         .open_end = true,
         .width = window},
    };
    struct side *s = &sd[SRC], *t = &sd[TGT];
    mf_err rc = MF_E_OK;

    s->done = src_last == 0;
    while (rc == MF_E_OK && !(s->done && s->l.n == 0) &&
           !(t->done && t->l.n == 0)) {
        /* The side ahead (more unpaired) waits for the other. */
        bool ls = !s->done && (t->done || t->l.n >= s->l.n);
        bool lt = !t->done && (s->done || s->l.n >= t->l.n);

        if (ls && (rc = list_window(run, s, window)) != MF_E_OK)
            break;
        if (lt && (rc = list_window(run, t, window)) != MF_E_OK)
            break;
        sort_side(s);
        sort_side(t);
        rc = pair_round(s, t, cb, ud);
        /* Nothing can pair what the other side's end left over. */
        if (s->done)
            drop_all(&t->l);
        if (t->done)
            drop_all(&s->l);
    }
    mf__msglist_clear(&s->l);
    mf__msglist_clear(&t->l);
    return rc;
}
