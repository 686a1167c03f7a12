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

/* The target's messages above tgt_from, a window at a time, into the
 * recognition set (fingerprints only: no list of the target is kept). */
static mf_err
rec_add(void *ud, const struct mf__msg *m) {
    struct mf__folder *fr = ud;
    mf_err rc = MF_E_OK;

    /* A copy the UID map places (a move, moves.c) is not taken for
     * another message with its fingerprint. */
    if (!mf__folder_mapped_above(fr, m->uid))
        rc = mf_fingerprint_set_add(fr->rec_set, &m->fp);
    if (rc == MF_E_OK && m->uid > fr->rec_seen)
        fr->rec_seen = m->uid;
    return rc;
}

mf_err
mf__folder_recognise_begin(struct mf__folder *fr, uint32_t tgt_from) {
    struct mf__run *run = fr->run;

    fr->rec_from = fr->rec_seen = tgt_from;
    fr->rec_tgt_from = tgt_from;
    /* Room for what arrives on the target while it is listed. */
    fr->rec_set = mf_fingerprint_set_new((size_t)fr->tgt_exists + 65536);
    return mf__list_each(run, run->dst, tgt_from + 1, fr->tgt_last, true,
                         rec_add, fr);
}

/* Marks as PRESENT the listed messages from index from on whose
 * fingerprint is among the target's messages above the mark, one for
 * one. Pending UIDs take part: a message the checkpoint still lists as
 * pending may have been copied by a pass whose checkpoint writes were
 * lost. Only messages that reached the target after the checkpoint's
 * mark are above it, so nothing else can match. The twins of older
 * messages (listing.c) are taken out of the set before the first window
 * with a new message that matches (after a crash, the first window). */
mf_err
mf__folder_recognise(struct mf__folder *fr, size_t from) {
    struct mf__run *run = fr->run;
    mf_err rc;

    if (!fr->rec_set)
        return MF_E_OK;
    if (!fr->rec_twins) {
        struct mf__msglist win = fr->list;
        win.m += from;
        win.n -= from;
        if ((rc = mf__recognise_twins(run, &win, fr->rec_set, fr->base_uid,
                                      fr->ck.pending, fr->ck.n_pending,
                                      fr->rec_tgt_from, &fr->rec_twins)) !=
            MF_E_OK)
            return rc;
    }
    for (size_t i = from; i < fr->list.n; i++) {
        struct mf__msg *m = &fr->list.m[i];
        if (m->state == M_LISTED &&
            mf_fingerprint_set_take(fr->rec_set, &m->fp)) {
            m->state = M_PRESENT;
            run->res->stats.messages_present++;
        }
    }
    return MF_E_OK;
}

struct subject_ctx {
    char *subject;    /* owned */
    char *message_id; /* owned */
};

static mf_err
on_subject(void *ud, const struct mf_store_meta *m) {
    struct subject_ctx *c = ud;
    if (m->subject && !c->subject)
        c->subject = mf_xstrdup(m->subject);
    if (m->message_id && m->message_id[0] && !c->message_id)
        c->message_id = mf_xstrdup(m->message_id);
    return MF_E_OK;
}

void
mf__folder_fill_failed(struct mf__folder *fr, size_t from) {
    struct mf__run *run = fr->run;
    struct mf_migrate_result *res = run->res;
    unsigned asked = 0;

    if (run->reopen_source)
        return; /* the source session is in the middle of a response */
    for (size_t i = from; i < res->n_failed; i++) {
        struct mf_migrate_item *it = &res->failed[i];
        struct subject_ctx sc = {0};

        if (!it->uid || it->subject || it->message_id ||
            strcmp(it->folder, fr->label) != 0)
            continue;
        if (asked++ == MF__FILL_FAILED_MAX)
            break;
        if (run->src->ops->fetch_meta(run->src, it->uid, it->uid,
                                      MF_STORE_META_SUBJECT |
                                          MF_STORE_META_MESSAGE_ID,
                                      on_subject, &sc) != MF_E_OK) {
            free(sc.subject);
            free(sc.message_id);
            break; /* best effort: the list stands without them */
        }
        it->subject = sc.subject;       /* taken over */
        it->message_id = sc.message_id; /* taken over */
    }
}

mf_err
mf__folder_skip_too_large(struct mf__folder *fr, size_t from) {
    struct mf__run *run = fr->run;

    for (size_t i = from; i < fr->list.n; i++) {
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
 * server says it has now, and the bytes of those listed (the checkpoint's
 * share, then each window's). A folder retried after a dropped
 * connection was counted by the attempt that first listed it: false then,
 * for every window of this attempt. */
bool
mf__folder_stats_source(struct mf__folder *fr, uint32_t exists, size_t from) {
    struct mf__run *run = fr->run;
    struct mf_migrate_stats *s = &run->res->stats;
    struct mf_migrate_progress *p = run->o->progress;
    uint64_t listed = 0;

    if (from == 0 && !fr->counted) {
        for (size_t i = 0; i < run->n_counted; i++)
            if (strcmp(run->counted[i], fr->src_name) == 0)
                return false;
        run->counted = mf_xreallocarray(run->counted, run->n_counted + 1,
                                        sizeof(*run->counted));
        run->counted[run->n_counted++] = mf_xstrdup(fr->src_name);
        fr->counted = true;
        s->messages_source += exists > fr->list.n ? exists : fr->list.n;
        s->bytes_source += fr->base_bytes;
    } else if (!fr->counted) {
        return false;
    }
    for (size_t i = from; i < fr->list.n; i++) {
        if (fr->list.m[i].uid > fr->base_uid)
            s->bytes_source += fr->list.m[i].size;
        listed += fr->list.m[i].size;
    }
    if (p) {
        atomic_fetch_add(&p->messages_total, fr->list.n - from);
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
mf__folder_leave_outside(struct mf__folder *fr, size_t from, bool count) {
    struct mf_migrate_stats *s = &fr->run->res->stats;
    const struct mf_window *w = &fr->run->o->window;
    uint64_t n = 0, bytes = 0;

    if (!fr->base_out_counted) {
        n = fr->base_out;
        bytes = fr->base_out_bytes;
        fr->base_out_counted = true;
    }
    for (size_t i = from; !mf_window_empty(w) && i < fr->list.n; i++) {
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
        mf__folder_fail_message(fr, m, NULL, NULL, &e);
    }
}

/* Fails (and lists) every message not tried yet, with e: the folder
 * cannot take them (a refusal) or stopped for good. */
void
mf__folder_fail_unattempted(struct mf__folder *fr, const struct mf_error *e) {
    for (size_t i = 0; i < fr->list.n; i++)
        if (fr->list.m[i].state == M_LISTED)
            mf__folder_fail_message(fr, &fr->list.m[i], NULL, NULL, e);
}
