/*
 * Small pieces of a mailbox run shared by the folder copy and the flag
 * sync: checkpoints (Redis when configured, else a list in memory that
 * lives as long as the run), the result's item lists, error copying and
 * message metadata lists with fingerprints.
 */
#include "migrate/migrate_int.h"

#include "mailferry/imap_parser.h"
#include "mailferry/profile.h"
#include "mailferry/fence.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Checkpoints                                                         */
/* ------------------------------------------------------------------ */

struct mf__ckpt_mem {
    char *folder;
    struct mf_checkpoint ck;
    char *flags; /* owned: the flags last synced, or NULL */
    struct mf__ckpt_mem *next;
};

mf_err
mf__ckpt_get(struct mf__run *run, const char *folder,
             struct mf_checkpoint *ck_r, bool *found_r) {
    /* Read ahead with the mailbox's others (statuses.c). */
    if (mf__run_ckpt_take(run, folder, ck_r, found_r))
        return MF_E_OK;
    if (run->o->redis) {
        mf_err rc =
            mf_checkpoint_get(run->o->redis, run->o->batch ? run->o->batch : "",
                              run->mailbox, folder, ck_r, found_r, &run->err);
        return rc;
    }
    for (struct mf__ckpt_mem *m = run->mem; m; m = m->next)
        if (strcmp(m->folder, folder) == 0 && m->ck.uidvalidity) {
            *ck_r = m->ck;
            ck_r->pending = m->ck.n_pending
                                ? mf_xmemdup(m->ck.pending,
                                             m->ck.n_pending * sizeof(uint32_t))
                                : NULL;
            *found_r = true;
            return MF_E_OK;
        }
    memset(ck_r, 0, sizeof(*ck_r));
    *found_r = false;
    return MF_E_OK;
}

static struct mf__ckpt_mem *
mem_folder(struct mf__run *run, const char *folder) {
    struct mf__ckpt_mem *m;

    for (m = run->mem; m; m = m->next)
        if (strcmp(m->folder, folder) == 0)
            return m;
    m = mf_xcalloc(1, sizeof(*m));
    m->folder = mf_xstrdup(folder);
    m->next = run->mem;
    run->mem = m;
    return m;
}

mf_err
mf__flagbase_get(struct mf__run *run, const char *field, char **value_r) {
    const char *batch = run->o->batch ? run->o->batch : "";

    if (run->o->redis)
        return mf_checkpoint_flags_get(run->o->redis, batch, run->mailbox,
                                       field, value_r, &run->err);
    for (struct mf__ckpt_mem *m = run->mem; m; m = m->next)
        if (strcmp(m->folder, field) == 0) {
            *value_r = m->flags ? mf_xstrdup(m->flags) : NULL;
            return MF_E_OK;
        }
    *value_r = NULL;
    return MF_E_OK;
}

/* A write to the flags hash refused: the claim is gone. */
static mf_err
lost_claim(struct mf__run *run, const char *field) {
    return mf_error_set(&run->err, MF_E_FENCED,
                        "flags last synced (%.100s) not written: the claim "
                        "on this job is gone",
                        field);
}

mf_err
mf__flagbase_put(struct mf__run *run, const char *field, const char *value) {
    const char *batch = run->o->batch ? run->o->batch : "";
    struct mf__ckpt_mem *m;

    if (!mf_fence_holds(run->o->fence))
        return lost_claim(run, field);
    if (run->o->redis)
        return mf_checkpoint_flags_put(run->o->redis, batch, run->mailbox,
                                       field, value, &run->err);
    m = mem_folder(run, field);
    free(m->flags);
    m->flags = mf_xstrdup(value);
    return MF_E_OK;
}

mf_err
mf__flagbase_del(struct mf__run *run, const char *field) {
    const char *batch = run->o->batch ? run->o->batch : "";

    if (!mf_fence_holds(run->o->fence))
        return lost_claim(run, field);
    if (run->o->redis)
        return mf_checkpoint_flags_del(run->o->redis, batch, run->mailbox,
                                       field, &run->err);
    for (struct mf__ckpt_mem *m = run->mem; m; m = m->next)
        if (strcmp(m->folder, field) == 0) {
            free(m->flags);
            m->flags = NULL;
        }
    return MF_E_OK;
}

/* A job that lost its claim moves no checkpoint: the local test saves a
 * round trip, the claimed write is the one that counts (another worker
 * may have taken the mailbox over while this one was away). */
static mf_err
claim_gone(const char *folder, struct mf_error *err) {
    return mf_error_set(err, MF_E_FENCED,
                        "checkpoint of folder %.100s not written: the claim "
                        "on this job is gone",
                        folder);
}

mf_err
mf__ckpt_put(struct mf__run *run, const char *folder,
             const struct mf_checkpoint *ck) {
    struct mf__ckpt_mem *m;
    const char *batch = run->o->batch ? run->o->batch : "";

    if (!mf_fence_holds(run->o->fence))
        return claim_gone(folder, &run->err);
    if (run->o->redis && run->o->fence)
        return mf_checkpoint_put_claimed(run->o->redis, batch, run->mailbox,
                                         folder, ck, &run->o->fence->claim,
                                         &run->err);
    if (run->o->redis)
        return mf_checkpoint_put(run->o->redis, batch, run->mailbox, folder, ck,
                                 &run->err);
    m = mem_folder(run, folder);
    mf_checkpoint_pending_free(&m->ck);
    m->ck = *ck;
    m->ck.pending = ck->n_pending ? mf_xmemdup(ck->pending,
                                               ck->n_pending * sizeof(uint32_t))
                                  : NULL;
    return MF_E_OK;
}

mf_err
mf__ckpt_put_later(struct mf__run *run, const char *folder,
                   const struct mf_checkpoint *ck) {
    struct mf__ckpt_later *l = &run->later;
    mf_err rc;

    if (!run->o->redis || !run->o->fence || ck->dirty || ck->n_pending)
        return mf__ckpt_put(run, folder, ck);
    if (!mf_fence_holds(run->o->fence))
        return claim_gone(folder, &run->err);
    if (l->n == MF__CKPT_LATER_MAX &&
        (rc = mf__ckpt_flush(run, &run->err)) != MF_E_OK)
        return rc;
    l->folders[l->n] = mf_xstrdup(folder);
    l->ck[l->n] = *ck;
    l->ck[l->n].pending = NULL;
    l->n++;
    return MF_E_OK;
}

/* On failure they stay: their folders are done (the next attempt skips
 * them), so the next attempt's flush writes them. */
mf_err
mf__ckpt_flush(struct mf__run *run, struct mf_error *err) {
    struct mf__ckpt_later *l = &run->later;
    const char *batch = run->o->batch ? run->o->batch : "";
    mf_err rc;

    if (!l->n)
        return MF_E_OK;
    if (!mf_fence_holds(run->o->fence))
        return claim_gone(l->folders[0], err);
    rc = mf_checkpoint_put_claimed_many(run->o->redis, batch, run->mailbox,
                                        (const char *const *)l->folders, l->ck,
                                        l->n, &run->o->fence->claim, err);
    if (rc == MF_E_OK)
        mf__ckpt_later_drop(run);
    return rc;
}

void
mf__ckpt_later_drop(struct mf__run *run) {
    struct mf__ckpt_later *l = &run->later;

    for (size_t i = 0; i < l->n; i++)
        free(l->folders[i]);
    l->n = 0;
}

void
mf__ckpt_mem_free(struct mf__ckpt_mem **mp) {
    while (*mp) {
        struct mf__ckpt_mem *m = *mp;
        *mp = m->next;
        mf_checkpoint_pending_free(&m->ck);
        free(m->flags);
        free(m->folder);
        free(m);
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static void add_item(struct mf_migrate_item **list, size_t *n,
                     const char *folder, uint32_t uid, uint64_t size,
                     const char *date, const char *subject,
                     const struct mf_error *error);

void
mf__run_item(struct mf__run *run, bool failed, const char *folder, uint32_t uid,
             uint64_t size, const char *date, const char *subject,
             const struct mf_error *error) {
    struct mf_migrate_result *res = run->res;

    add_item(failed ? &res->failed : &res->skipped,
             failed ? &res->n_failed : &res->n_skipped, folder, uid, size, date,
             subject, error);
}

void
mf__run_repaired(struct mf__run *run, const char *folder, uint32_t uid,
                 uint64_t size, const char *date, const char *subject,
                 const char *message_id, const char *what) {
    struct mf_migrate_result *res = run->res;
    struct mf_error e = {.code = MF_E_MESSAGE_REPAIRED};

    snprintf(e.detail, sizeof(e.detail), "%s", what);
    res->stats.repaired++;
    add_item(&res->repaired, &res->n_repaired, folder, uid, size, date, subject,
             &e);
    if (message_id)
        res->repaired[res->n_repaired - 1].message_id = mf_xstrdup(message_id);
}

void
mf__run_renamed(struct mf__run *run, const char *folder, const char *why) {
    struct mf_error e = {.code = MF_E_FOLDER_RENAMED};

    snprintf(e.detail, sizeof(e.detail), "%s", why);
    run->res->stats.folders_renamed++;
    add_item(&run->res->renamed, &run->res->n_renamed, folder, 0, 0, NULL, NULL,
             &e);
}

void
mf__run_unmatched_renames(struct mf__run *run,
                          const struct mf_folder_plan *plan) {
    const struct mf_folder_rules *rules = run->o->rules;
    struct mf_migrate_result *res = run->res;

    for (size_t i = 0; i < res->n_unmatched_renames; i++)
        mf__run_item_clear(&res->unmatched_renames[i]);
    res->n_unmatched_renames = 0;
    for (size_t i = 0; rules && i < rules->n_rename; i++) {
        struct mf_error e = {.code = MF_E_RENAME_UNMATCHED};

        if (!mf_folder_plan_rename_unmatched(plan, i))
            continue;
        mf_folder_rename_unmatched_why(&rules->rename[i], e.detail,
                                       sizeof(e.detail));
        add_item(&res->unmatched_renames, &res->n_unmatched_renames,
                 rules->rename[i].from, 0, 0, NULL, NULL, &e);
    }
}

static void
add_item(struct mf_migrate_item **list, size_t *n, const char *folder,
         uint32_t uid, uint64_t size, const char *date, const char *subject,
         const struct mf_error *error) {
    struct mf_migrate_item *it;

    *list = mf_xreallocarray(*list, *n + 1, sizeof(**list));
    it = &(*list)[(*n)++];
    memset(it, 0, sizeof(*it));
    it->folder = mf_xstrdup(folder ? folder : "");
    it->uid = uid;
    it->size = size;
    it->date = date && date[0] ? mf_xstrdup(date) : NULL;
    if (it->date) {
        struct mf_imap_datetime dt;
        if (mf_imap_datetime_parse(date, strlen(date), &dt) == MF_E_OK)
            it->internal_date = mf_imap_datetime_to_unix(&dt);
    }
    it->subject = subject ? mf_xstrdup(subject) : NULL;
    it->error = *error;
}

void
mf__run_deleted(struct mf__run *run, const char *folder, uint32_t uid,
                uint64_t size, const char *date, const char *subject) {
    struct mf_error e = {.code = MF_E_MESSAGE_DELETED};

    run->res->stats.deleted_on_target++;
    add_item(&run->res->deleted, &run->res->n_deleted, folder, uid, size, date,
             subject, &e);
}

void
mf__run_moved(struct mf__run *run, const char *folder, uint32_t uid,
              uint64_t size, const char *date, const char *subject,
              const char *from_folder) {
    struct mf_error e = {.code = MF_E_MESSAGE_MOVED};

    snprintf(e.detail, sizeof(e.detail), "moved from %s", from_folder);
    run->res->stats.moved_on_target++;
    add_item(&run->res->moved, &run->res->n_moved, folder, uid, size, date,
             subject, &e);
}

void
mf__run_item_clear(struct mf_migrate_item *it) {
    free(it->folder);
    free(it->date);
    free(it->subject);
    free(it->message_id);
    memset(it, 0, sizeof(*it));
}

mf_err
mf__run_store_error(struct mf__run *run, struct mf_store *st,
                    const char *what) {
    run->err.code = st->error.code ? st->error.code : MF_E_INTERNAL;
    run->retry_after_ms = st->retry_after_ms;
    if (run->err.code == MF_E_THROTTLED)
        run->retry_after_ms =
            mf__run_throttled(run, st == run->dst, st->retry_after_ms);
    if (run->err.code == MF_E_BANDWIDTH_QUOTA)
        mf__run_quota_said(run, st == run->dst);
    snprintf(run->err.detail, sizeof(run->err.detail), "%.60s: %.190s",
             what ? what : "", st->error.detail);
    return run->err.code;
}

/* ------------------------------------------------------------------ */
/* Metadata lists                                                      */
/* ------------------------------------------------------------------ */

bool
mf__run_lenient(const struct mf__run *run) {
    return mf_profile_fingerprint_mode(
               run->o->target_profile, run->o->fingerprint_set,
               run->o->fingerprint) == MF_PROFILE_FP_LENIENT;
}

void
mf__meta_fingerprint(const struct mf_store_meta *m, bool lenient,
                     struct mf_fingerprint *fp_r) {
    struct mf_imap_datetime dt;
    int64_t when = 0;

    if (m->date &&
        mf_imap_datetime_parse(m->date, strlen(m->date), &dt) == MF_E_OK)
        when = mf_imap_datetime_to_unix(&dt);
    if (lenient)
        mf_fingerprint_lenient(m->message_id, m->subject, m->from, when, fp_r);
    else
        mf_fingerprint_compute(m->message_id, m->size, when,
                               MF_FINGERPRINT_STRICT, fp_r);
}

static int
by_uid(const void *a, const void *b) {
    const struct mf__msg *x = a, *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static mf_err
on_meta(void *ud, const struct mf_store_meta *m) {
    struct mf__msglist *l = ud;
    struct mf__msg *x;

    if (m->missing && !l->keep_unlistable)
        return MF_E_OK; /* nothing to match or copy by */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->m = mf_xreallocarray(l->m, l->cap, sizeof(*l->m));
    }
    x = &l->m[l->n++];
    memset(x, 0, sizeof(*x));
    x->uid = m->uid;
    x->missing = (uint8_t)m->missing;
    x->size = m->size;
    snprintf(x->date, sizeof(x->date), "%s", m->date ? m->date : "");
    x->flags = mf_xstrdup(m->flags ? m->flags : "");
    x->gm_msgid = m->gm_msgid;
    if (l->with_fp && !m->missing)
        mf__meta_fingerprint(m, l->lenient, &x->fp);
    return MF_E_OK;
}

mf_err
mf__msglist_fetch(struct mf__run *run, struct mf_store *st, uint32_t first,
                  uint32_t last, bool with_fp, struct mf__msglist *list) {
    size_t before = list->n;
    unsigned what;
    mf_err rc;

    list->with_fp = with_fp;
    list->lenient = mf__run_lenient(run);
    what = !with_fp        ? 0
           : list->lenient ? MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT |
                                 MF_STORE_META_FROM
                           : MF_STORE_META_MESSAGE_ID;
    /* A Gmail source names its messages the same in every label
     * (gmail.c). */
    if (with_fp && st == run->src && mf__gmail_mode(run))
        what |= MF_STORE_META_GMAIL;
    rc = st->ops->fetch_meta(st, first, last, what, on_meta, list);
    if (rc != MF_E_OK)
        return mf__run_store_error(run, st, "message list");
    /* Servers answer in sequence order, which is UID order; be sure. */
    if (list->n > before) /* qsort(NULL, 0, ...) is undefined */
        qsort(list->m + before, list->n - before, sizeof(*list->m), by_uid);
    return MF_E_OK;
}

unsigned
mf__run_batch_messages(const struct mf__run *run) {
    if (run->batch_messages)
        return run->batch_messages;
    return run->dst && run->dst->caps.multiappend
               ? MF__BATCH_MESSAGES_MULTIAPPEND
               : MF__BATCH_MESSAGES_SINGLES;
}

uint32_t
mf__run_uid_window(const struct mf__run *run) {
    return run->o->uid_window ? run->o->uid_window : MF_MIGRATE_UID_WINDOW;
}

uint32_t
mf__window_width(uint32_t width, size_t got, uint32_t window) {
    if (got < window / 2 && width <= UINT32_MAX / 2)
        return width * 2;
    if (got > 2 * (size_t)window && width / 2 >= window)
        return width / 2;
    return width;
}

void
mf__msglist_clear(struct mf__msglist *list) {
    for (size_t i = 0; i < list->n; i++)
        free(list->m[i].flags);
    free(list->m);
    memset(list, 0, sizeof(*list));
}
