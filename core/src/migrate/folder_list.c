/*
 * Steps 1 and 2 of a folder's copy (folder.c): what is to be copied. The
 * checkpoint's pending UIDs are listed again beside the new messages,
 * messages already on the target are recognised by fingerprint (a
 * multiset, above the checkpoint's target mark), messages over the size
 * cap are skipped and listed with their subject, and the folder's share
 * of the mailbox's source totals is counted once.
 */
#include "migrate/folder_int.h"

#include "mailferry/util.h"
#include "mailferry/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether recognition must run on a folder whose checkpoint says that
 * every target message up to mark is accounted for: only when the target
 * has messages above it. This is the test that makes a clean checkpoint
 * safe to resume from even when it is older than the target (Redis lost
 * its last writes: an AOF fsync'd every second, a failover to a replica
 * that lagged, a restore from backup): what the lost writes recorded is
 * above the mark and is recognised, not copied twice. Normally nothing is
 * above it and this costs nothing; a server that did not send UIDNEXT
 * (RFC 3501 section 6.3.1 makes it optional) is asked. */
bool
mf__folder_target_has_above(const struct mf_store_select *dsel, uint32_t mark) {
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
/* The target UIDs of the messages already PRESENT by the UID map
 * (mf__folder_take_moved()), ascending (malloc'd): recognition must not
 * take those copies for other messages. */
static uint32_t *
claimed_uids(const struct mf__folder *fr, size_t *n_r) {
    uint32_t *v = mf_xcalloc(fr->list.n + 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_PRESENT && fr->list.m[i].tgt_uid)
            v[n++] = fr->list.m[i].tgt_uid;
    if (n)
        qsort(v, n, sizeof(*v), mf_u32_cmp);
    *n_r = n;
    return v;
}

mf_err
mf__folder_recognise(struct mf__folder *fr, uint32_t tgt_from) {
    struct mf__run *run = fr->run;
    struct mf__msglist tgt = {0};
    struct mf_fingerprint_set *set = NULL;
    uint32_t *claimed = NULL;
    size_t nclaimed = 0;
    mf_err rc;

    rc = mf__msglist_fetch(run, run->dst, tgt_from + 1, 0, true, &tgt);
    if (rc != MF_E_OK)
        goto out;
    fr->rec_from = fr->rec_seen = tgt_from;
    set = mf_fingerprint_set_new(tgt.n + 1);
    claimed = claimed_uids(fr, &nclaimed);
    for (size_t i = 0; i < tgt.n; i++) {
        size_t k;
        if (tgt.m[i].uid <= tgt_from)
            continue; /* "n:*" names the last message when none is above */
        if (tgt.m[i].uid > fr->rec_seen)
            fr->rec_seen = tgt.m[i].uid;
        k = mf_u32_lower_bound(claimed, nclaimed, tgt.m[i].uid);
        if (k < nclaimed && claimed[k] == tgt.m[i].uid)
            continue; /* the copy of a message the UID map placed */
        if ((rc = mf_fingerprint_set_add(set, &tgt.m[i].fp)) != MF_E_OK)
            goto out;
    }
    if ((rc = mf__recognise_twins(run, &fr->list, set, fr->base_uid,
                                  fr->ck.pending, fr->ck.n_pending,
                                  tgt_from)) != MF_E_OK)
        goto out;
    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        if (m->state == M_LISTED && mf_fingerprint_set_take(set, &m->fp)) {
            m->state = M_PRESENT;
            run->res->stats.messages_present++;
        }
    }
out:
    free(claimed);
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

mf_err
mf__folder_skip_too_large(struct mf__folder *fr) {
    struct mf__run *run = fr->run;

    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct subject_ctx sc = {0};
        struct mf_error e = {.code = MF_E_MESSAGE_TOO_LARGE};
        mf_err rc;

        if (m->state != M_LISTED || m->size <= run->max_size)
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
        mf__folder_progress(fr, 0);
    }
    return MF_E_OK;
}

/* Adds the folder to the mailbox's source totals: the messages the
 * server says it has now, and the bytes of those listed so far (the
 * checkpoint's share plus the new ones). A folder retried after a dropped
 * connection was counted by the attempt that first listed it: false then. */
bool
mf__folder_stats_source(struct mf__folder *fr, uint32_t exists) {
    struct mf__run *run = fr->run;
    struct mf_migrate_stats *s = &run->res->stats;
    struct mf_migrate_progress *p = run->o->progress;

    for (size_t i = 0; i < run->n_counted; i++)
        if (strcmp(run->counted[i], fr->src_name) == 0)
            return false;
    run->counted = mf_xreallocarray(run->counted, run->n_counted + 1,
                                    sizeof(*run->counted));
    run->counted[run->n_counted++] = mf_xstrdup(fr->src_name);

    s->messages_source += exists > fr->list.n ? exists : fr->list.n;
    s->bytes_source += fr->base_bytes;
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].uid > fr->base_uid)
            s->bytes_source += fr->list.m[i].size;
    if (p) {
        uint64_t listed = 0;
        for (size_t i = 0; i < fr->list.n; i++)
            listed += fr->list.m[i].size;
        atomic_fetch_add(&p->messages_total, fr->list.n);
        atomic_fetch_add(&p->bytes_total, listed);
    }
    return true;
}

/* Leaves on the source the messages outside the date window (window.c
 * decides, by the INTERNALDATE listed): they are settled, not pending,
 * and the checkpoint counts them (out_messages) so that a pass with a
 * wider window looks at them again. A date that does not parse is taken
 * as inside: a window never hides a message it cannot place. */
void
mf__folder_leave_outside(struct mf__folder *fr, bool count) {
    struct mf_migrate_stats *s = &fr->run->res->stats;
    const struct mf_window *w = &fr->run->o->window;
    uint64_t n = fr->base_out, bytes = fr->base_out_bytes;

    for (size_t i = 0; !mf_window_empty(w) && i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        if (m->state != M_LISTED ||
            mf_window_place(w, m->date) != MF_WINDOW_OUTSIDE)
            continue;
        m->state = M_OUTSIDE;
        n++;
        bytes += m->size;
        mf__folder_progress(fr, 0);
    }
    if (count) { /* not again when the folder is retried */
        s->outside_window += n;
        s->bytes_outside_window += bytes;
    }
}

/* Lists the checkpoint's pending UIDs (metadata, as for new messages)
 * into fr->list. A UID the source no longer has is gone: it is dropped
 * from the pending list by the next checkpoint. Runs of consecutive UIDs
 * are fetched as one range; past a few dozen ranges one range over all
 * of them is cheaper than the round trips, and what is not pending is
 * left out. */
mf_err
mf__folder_list_pending(struct mf__folder *fr, const uint32_t *uids, size_t n,
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
void
mf__folder_fail_unlistable(struct mf__folder *fr) {
    for (size_t i = 0; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        struct mf_error e = {.code = MF_E_MESSAGE_UNLISTABLE};
        if (m->state != M_LISTED || !m->missing)
            continue;
        snprintf(e.detail, sizeof(e.detail),
                 "the source's FETCH gave no usable%s%s%s",
                 m->missing & MF_STORE_MISSING_SIZE ? " RFC822.SIZE" : "",
                 m->missing & MF_STORE_MISSING_DATE ? " INTERNALDATE" : "",
                 m->missing & MF_STORE_MISSING_FLAGS ? " FLAGS" : "");
        mf__folder_fail_message(fr, m, &e);
    }
}

/* Fails (and lists) every message not tried yet, with e: the folder
 * cannot take them (a refusal) or stopped for good. */
void
mf__folder_fail_unattempted(struct mf__folder *fr, const struct mf_error *e) {
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_LISTED)
            mf__folder_fail_message(fr, &fr->list.m[i], e);
}
