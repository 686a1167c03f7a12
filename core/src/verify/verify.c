/*
 * Verifying one mailbox against its two servers (mailferry/verify.h):
 * both sides opened as the migration opens them (the same logins, under
 * the same fleet caps: mailferry/migrate.h's mf_migrate_sides_open()), the
 * same folder plan (mf_migrate_sides_plan()), then per planned folder:
 *
 *   EXAMINE on both sides (RFC 3501 6.3.2: read-only, so nothing of the
 *   admin's check touches \Recent or \Seen);
 *   UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE
 *       BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]) on both sides;
 *   with --sample N or --deep only: UID FETCH BODY.PEEK[] of the paired
 *   messages picked, hashed with SHA-256 as they stream, never kept;
 *   then compare.c.
 *
 * A folder the target does not have (or cannot open) lists every source
 * message of it as missing, with the server's answer. An error of any
 * other kind (a dropped connection, a failed login) stops the mailbox:
 * it is "not verified", never "equal". Nothing is retried: run it again.
 */
#include "mailferry/fingerprint.h"
#include "mailferry/store.h"
#include "mailferry/verify.h"
#include "verify/verify_int.h"

#include "mailferry/imap_parser.h"
#include "mailferry/util.h"

#include <stddef.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One side's listing of a folder; the strings of m[] are owned. */
struct listing {
    struct mf_verify_msg *m;
    size_t n, cap;
};

static mf_err
on_meta(void *ud, const struct mf_store_meta *sm) {
    struct listing *l = ud;
    struct mf_verify_msg *m;
    struct mf_imap_datetime dt;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->m = mf_xreallocarray(l->m, l->cap, sizeof(*l->m));
    }
    m = &l->m[l->n++];
    memset(m, 0, sizeof(*m));
    m->uid = sm->uid;
    m->size = sm->size;
    if (sm->date &&
        mf_imap_datetime_parse(sm->date, strlen(sm->date), &dt) == MF_E_OK)
        m->when = mf_imap_datetime_to_unix(&dt);
    m->date = sm->date ? mf_xstrdup(sm->date) : NULL;
    m->flags = mf_xstrdup(sm->flags ? sm->flags : "");
    m->message_id = sm->message_id ? mf_xstrdup(sm->message_id) : NULL;
    m->subject = sm->subject ? mf_xstrdup(sm->subject) : NULL;
    return MF_E_OK;
}

static int
by_uid(const void *a, const void *b) {
    const struct mf_verify_msg *x = a, *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Servers answer in sequence order, which is UID order; find_uid()
 * relies on it, so be sure. */
static void
listing_sort(struct listing *l) {
    if (l->n)
        qsort(l->m, l->n, sizeof(*l->m), by_uid);
}

static void
listing_clear(struct listing *l) {
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->m[i].date);
        free((char *)l->m[i].flags);
        free((char *)l->m[i].message_id);
        free((char *)l->m[i].subject);
    }
    free(l->m);
    memset(l, 0, sizeof(*l));
}

/* Keeps the messages inside the date window (pre-staging,
 * mailferry/window.h), on either side: what a windowed pass left on the
 * source is not missing, and is compared once a pass without the window
 * copied it. The rule is the copy's (window.c). */
static void
listing_window(struct listing *l, const struct mf_window *w) {
    size_t k = 0;

    if (mf_window_empty(w))
        return;
    for (size_t i = 0; i < l->n; i++) {
        struct mf_verify_msg *m = &l->m[i];
        if (mf_window_place(w, m->date) != MF_WINDOW_OUTSIDE) {
            l->m[k++] = *m;
            continue;
        }
        free((char *)m->date);
        free((char *)m->flags);
        free((char *)m->message_id);
        free((char *)m->subject);
    }
    l->n = k;
}

/* ------------------------------------------------------------------ */
/* Body hashes                                                         */
/* ------------------------------------------------------------------ */

struct hashing {
    struct listing *l;
    struct mf_migrate_sides *sd;
    bool target;
    EVP_MD_CTX *ctx;
    struct mf_verify_msg *cur; /* the message being received, or NULL */
};

static struct mf_verify_msg *
find_uid(struct listing *l, uint32_t uid) {
    size_t i = mf_u32_lower_bound_by(l->m, l->n, sizeof(*l->m),
                                     offsetof(struct mf_verify_msg, uid), uid);

    return i < l->n && l->m[i].uid == uid ? &l->m[i] : NULL;
}

static mf_err
h_begin(void *ud, uint32_t uid, uint64_t size) {
    struct hashing *h = ud;
    int ok;

    (void)size;
    h->cur = find_uid(h->l, uid);
    ok = EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
    MF_ASSERT(ok == 1);
    return MF_E_OK;
}

static mf_err
h_data(void *ud, const uint8_t *p, size_t n) {
    struct hashing *h = ud;
    int ok = EVP_DigestUpdate(h->ctx, p, n);

    MF_ASSERT(ok == 1);
    mf_migrate_sides_bandwidth(h->sd, h->target, n);
    return MF_E_OK;
}

static mf_err
h_end(void *ud) {
    struct hashing *h = ud;
    unsigned int len = 0;
    uint8_t md[EVP_MAX_MD_SIZE];
    int ok = EVP_DigestFinal_ex(h->ctx, md, &len);

    MF_ASSERT(ok == 1 && len == 32);
    if (h->cur) {
        memcpy(h->cur->hash, md, 32);
        h->cur->hashed = true;
    }
    h->cur = NULL;
    return MF_E_OK;
}

static mf_err
h_vanished(void *ud, uint32_t uid) {
    (void)ud;
    (void)uid;
    return MF_E_OK; /* stays unhashed: its size still counts */
}

static int
by_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Hashes the bodies of the listed UIDs (sorted here) of one side's
 * selected folder into l; a store's error goes into *err. */
static mf_err
hash_bodies(struct mf_migrate_sides *sd, bool target, struct listing *l,
            uint32_t *uids, size_t n, struct mf_error *err) {
    static const struct mf_store_body_cb cb = {h_begin, h_data, h_end,
                                               h_vanished};
    struct mf_store *st = mf_migrate_sides_store(sd, target);
    struct hashing h = {.l = l, .sd = sd, .target = target};
    mf_err rc = MF_E_OK;

    if (n == 0)
        return MF_E_OK;
    qsort(uids, n, sizeof(*uids), by_u32);
    h.ctx = EVP_MD_CTX_new();
    MF_ASSERT(h.ctx);
    /* In slices, so that one FETCH never names thousands of UIDs. */
    for (size_t i = 0; i < n && rc == MF_E_OK; i += 100) {
        size_t k = n - i < 100 ? n - i : 100;
        if ((rc = st->ops->fetch_bodies(st, uids + i, k, &cb, &h)))
            rc = mf_migrate_sides_store_error(
                sd, target,
                target ? "target BODY.PEEK[]" : "source BODY.PEEK[]", err);
    }
    EVP_MD_CTX_free(h.ctx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One folder                                                          */
/* ------------------------------------------------------------------ */

static const unsigned META = MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT;

/* Whether an error is the folder's own (the target lacks it, refuses
 * it): the mailbox goes on. */
static bool
folder_only(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX;
}

/* Opens plan entry i's target folder. A target that refused the planned
 * name got the folder under the conservative one (migrate's fallback,
 * folderplan_fallback.c: Cyrus refuses '/' in a name), and answers NO to
 * the planned name: the entry (and those below it) then moves to that
 * name and is opened once more. */
static mf_err
select_target(struct mf_migrate_sides *sd, struct mf_folder_plan *plan,
              size_t i, struct mf_store_select *sel) {
    struct mf_store *dst = mf_migrate_sides_store(sd, true);
    mf_err rc = dst->ops->select(dst, mf_folder_plan_entry(plan, i)->tgt_wire,
                                 true, sel);

    if (rc == MF_E_OK || !mf_migrate_sides_fallback(sd, plan, i))
        return rc;
    return dst->ops->select(dst, mf_folder_plan_entry(plan, i)->tgt_wire, true,
                            sel);
}

/* Compares one planned folder into res; an error that stops the mailbox
 * is returned, its words in *err. */
static mf_err
one_folder(struct mf_migrate_sides *sd, const struct mf_verify_options *o,
           struct mf_folder_plan *plan, size_t at, struct mf_verify_result *res,
           struct mf_error *err) {
    const struct mf_folder_entry *e = mf_folder_plan_entry(plan, at);
    struct mf_store *s = mf_migrate_sides_store(sd, false);
    struct mf_store *t = mf_migrate_sides_store(sd, true);
    char *src_name = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
    char *label = e->src_path ? mf_xstrdup(e->src_path) : mf_xstrdup(src_name);
    struct listing src = {0}, tgt = {0};
    struct mf_store_select sel;
    size_t *sp = NULL, *tp = NULL;
    bool *want = NULL;
    uint32_t *su = NULL, *tu = NULL;
    size_t npick = 0;
    mf_err rc;

    if ((rc = s->ops->select(s, src_name, true, &sel)) ||
        (rc = s->ops->fetch_meta(s, 1, 0, META, on_meta, &src))) {
        rc = mf_migrate_sides_store_error(sd, false, label, err);
        if (folder_only(rc)) {
            mf_verify_add(res, MF_VERIFY_FOLDER, label, 0, 0, NULL,
                          err->detail);
            rc = MF_E_OK;
        }
        goto out;
    }
    if ((rc = select_target(sd, plan, at, &sel)) ||
        (rc = t->ops->fetch_meta(t, 1, 0, META, on_meta, &tgt))) {
        char detail[300];
        rc = mf_migrate_sides_store_error(sd, true, e->tgt_name, err);
        if (!folder_only(rc))
            goto out;
        /* The target cannot show this folder: all of it is missing. */
        snprintf(detail, sizeof(detail), "target folder: %.280s", err->detail);
        res->folders++;
        res->src_messages += src.n;
        for (size_t i = 0; i < src.n; i++)
            mf_verify_add(res, MF_VERIFY_MISSING, label, src.m[i].uid, 0,
                          &src.m[i], detail);
        if (src.n == 0)
            mf_verify_add(res, MF_VERIFY_FOLDER, label, 0, 0, NULL, detail);
        rc = MF_E_OK;
        goto out;
    }
    listing_window(&src, &o->migrate->window);
    listing_window(&tgt, &o->migrate->window);
    listing_sort(&src);
    listing_sort(&tgt);
    if (o->sample) {
        sp = mf_xcalloc(src.n ? src.n : 1, sizeof(*sp));
        tp = mf_xcalloc(tgt.n ? tgt.n : 1, sizeof(*tp));
        want = mf_xcalloc(src.n ? src.n : 1, sizeof(*want));
        mf_verify_pair(src.m, src.n, tgt.m, tgt.n, sp, tp);
        npick = mf_verify_pick(sp, src.n, o->sample, want);
        su = mf_xcalloc(npick ? npick : 1, sizeof(*su));
        tu = mf_xcalloc(npick ? npick : 1, sizeof(*tu));
        /* A pair whose sizes differ is a difference already: no need
         * to read its bodies; nor those over the size cap (never copied,
         * and the store refuses literals past it). */
        npick = 0;
        for (size_t i = 0; i < src.n; i++)
            if (want[i] && src.m[i].size == tgt.m[sp[i]].size &&
                src.m[i].size <= mf_migrate_sides_max_message_size(sd)) {
                su[npick] = src.m[i].uid;
                tu[npick++] = tgt.m[sp[i]].uid;
            }
        /* Each side's connection still has its folder open. */
        if ((rc = hash_bodies(sd, true, &tgt, tu, npick, err)) ||
            (rc = hash_bodies(sd, false, &src, su, npick, err)))
            goto out;
    }
    mf_verify_compare(label, src.m, src.n, tgt.m, tgt.n, res);
out:
    free(sp);
    free(tp);
    free(want);
    free(su);
    free(tu);
    listing_clear(&src);
    listing_clear(&tgt);
    free(src_name);
    free(label);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One mailbox                                                         */
/* ------------------------------------------------------------------ */

mf_err
mf_verify_mailbox(const struct mf_verify_options *o, const char *mailbox,
                  const struct mf_migrate_login *src_login,
                  const struct mf_migrate_login *dst_login,
                  struct mf_verify_result *res) {
    return mf__verify_mailbox_with(o, mailbox, src_login, dst_login, NULL, NULL,
                                   res);
}

mf_err
mf__verify_mailbox_with(const struct mf_verify_options *o, const char *mailbox,
                        const struct mf_migrate_login *src_login,
                        const struct mf_migrate_login *dst_login,
                        mf_migrate_open_fn open, void *open_ud,
                        struct mf_verify_result *res) {
    const struct mf_migrate_options *mo = o->migrate;
    struct mf_migrate_sides *sd = NULL;
    struct mf_folder_plan *plan = NULL;
    struct mf_error err = {0};
    mf_err rc;

    memset(res, 0, sizeof(*res));
    if ((rc = mf_migrate_sides_open(mo, mailbox, src_login, dst_login, open,
                                    open_ud, &sd, &err)) ||
        (rc = mf_migrate_sides_plan(sd, &plan, &err)))
        goto out;
    for (size_t i = 0; i < mf_folder_plan_count(plan) && rc == MF_E_OK; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        if (e->action != MF_FOLDER_COPY || !e->src_raw)
            continue;
        if (mo->stop && atomic_load(mo->stop))
            rc = mf_error_set(&err, MF_E_CANCELLED, "stopped");
        else
            rc = one_folder(sd, o, plan, i, res, &err);
    }
out:
    mf_folder_plan_free(&plan);
    mf_migrate_sides_close(&sd);
    if (rc != MF_E_OK) {
        res->error = err;
        if (res->error.code == MF_E_OK)
            res->error.code = rc;
    }
    return rc;
}
