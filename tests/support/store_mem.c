/*
 * The in-memory server and store (see store_mem.h): what the engine's unit
 * tests copy from and to.
 *
 * The store keeps a queue of appends and flag changes; flush() carries
 * them out oldest first, reading each append's bodies through their body
 * sources (as the IMAP session does while it sends a literal, so a
 * streamed body is consumed while flush() runs), and then runs the
 * callback. Callbacks may queue more (the engine splits a refused
 * MULTIAPPEND into single appends from inside one), so an operation is
 * taken off the queue before it is carried out.
 *
 * Once broken (a fault of class RECONNECT, a body source that failed) the
 * store fails every call with the error that broke it, and every queued
 * command's callback runs with it, as with a dropped IMAP session.
 */
#include "store_mem.h"

#include "mailferry/fingerprint.h"
#include "mailferry/folderplan.h"
#include "mailferry/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct mf_mem_server *
mf_mem_server_new(char delim) {
    struct mf_mem_server *srv = mf_xcalloc(1, sizeof(*srv));

    srv->caps.uidplus = true;
    srv->caps.multiappend = true;
    srv->caps.condstore = true;
    srv->caps.delim = delim;
    srv->chunk = 1000;
    srv->next_uidvalidity = 1000;
    /* Every real server has an INBOX. */
    (void)mf_mem_folder_add(srv, "INBOX", 0, false);
    return srv;
}

static void
msg_clear(struct mf_mem_msg *m) {
    free(m->flags);
    free(m->date);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

void
mf_mem_server_free(struct mf_mem_server **srvp) {
    struct mf_mem_server *srv = *srvp;

    if (!srv)
        return;
    for (size_t i = 0; i < srv->nfolders; i++) {
        struct mf_mem_folder *f = srv->folders[i];
        for (size_t k = 0; k < f->n; k++)
            msg_clear(&f->msgs[k]);
        free(f->msgs);
        free(f->name);
        free(f);
    }
    free(srv->folders);
    free(srv);
    *srvp = NULL;
}

struct mf_mem_folder *
mf_mem_folder_find(struct mf_mem_server *srv, const char *name) {
    bool inbox = strcasecmp(name, "INBOX") == 0;

    for (size_t i = 0; i < srv->nfolders; i++) {
        const char *fn = srv->folders[i]->name;
        if (inbox ? strcasecmp(fn, name) == 0 : strcmp(fn, name) == 0)
            return srv->folders[i];
    }
    return NULL;
}

struct mf_mem_folder *
mf_mem_folder_add(struct mf_mem_server *srv, const char *name, unsigned attrs,
                  bool subscribed) {
    struct mf_mem_folder *f = mf_mem_folder_find(srv, name);

    if (f)
        return f;
    f = mf_xcalloc(1, sizeof(*f));
    f->name = mf_xstrdup(name);
    f->attrs = attrs;
    f->subscribed = subscribed;
    f->uidvalidity = srv->next_uidvalidity++;
    f->uidnext = 1;
    srv->folders = mf_xreallocarray(srv->folders, srv->nfolders + 1,
                                    sizeof(*srv->folders));
    srv->folders[srv->nfolders++] = f;
    return f;
}

/* The mod-sequence counter of every in-memory server (RFC 7162: each
 * change takes a higher one). Atomic: a test's two servers are changed
 * from the engine's two threads. */
static _Atomic uint64_t last_modseq;

static uint64_t
next_modseq(void) {
    return atomic_fetch_add(&last_modseq, 1) + 1;
}

uint32_t
mf_mem_msg_add(struct mf_mem_folder *f, const char *flags, const char *date,
               const void *body, size_t len) {
    struct mf_mem_msg *m;

    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->msgs = mf_xreallocarray(f->msgs, f->cap, sizeof(*f->msgs));
    }
    m = &f->msgs[f->n++];
    m->uid = f->uidnext++;
    m->flags = mf_xstrdup(flags ? flags : "");
    m->date = date ? mf_xstrdup(date) : NULL;
    m->body = mf_xmemdup(len ? body : "", len ? len : 1);
    m->len = len;
    m->modseq = next_modseq();
    return m->uid;
}

static size_t
msg_index(const struct mf_mem_folder *f, uint32_t uid) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->msgs[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct mf_mem_msg *
mf_mem_msg_find(struct mf_mem_folder *f, uint32_t uid) {
    size_t i = msg_index(f, uid);
    return i < f->n && f->msgs[i].uid == uid ? &f->msgs[i] : NULL;
}

bool
mf_mem_msg_remove(struct mf_mem_folder *f, uint32_t uid) {
    size_t i = msg_index(f, uid);

    if (i >= f->n || f->msgs[i].uid != uid)
        return false;
    msg_clear(&f->msgs[i]);
    memmove(&f->msgs[i], &f->msgs[i + 1], (f->n - i - 1) * sizeof(*f->msgs));
    f->n--;
    f->expunged_modseq = next_modseq();
    return true;
}

void
mf_mem_msg_set_flags(struct mf_mem_msg *m, const char *flags) {
    free(m->flags);
    m->flags = mf_xstrdup(flags ? flags : "");
    m->modseq = next_modseq();
}

/* ------------------------------------------------------------------ */
/* Store                                                               */
/* ------------------------------------------------------------------ */

struct op {
    bool append;
    char *folder;                     /* owned: append */
    struct mf_store_append_msg *msgs; /* owned array; flags, date owned */
    size_t n;
    uint32_t *uids; /* owned: set_flags, nuids of them */
    size_t nuids;
    char *flags; /* owned: set_flags */
    mf_store_done_cb cb;
    void *ud;
};

struct mem_store {
    struct mf_store base; /* first */
    struct mf_mem_server *srv;
    struct mf_mem_folder *sel; /* borrowed from srv, or NULL */
    bool readonly;
    bool broken;
    bool faulted; /* append_fail_at fired on this connection */
    struct mf_error broke;
    struct op *q; /* owned: q[qhead..qlen) are queued */
    size_t qhead, qlen, qcap;
    struct mf_header_scan *scan; /* owned */
};

static struct mem_store *
MS(struct mf_store *st) {
    return (struct mem_store *)st;
}

static mf_err
broken_error(struct mem_store *ms) {
    ms->base.error = ms->broke;
    ms->base.retry_after_ms = 0;
    return ms->broke.code;
}

static mf_err
break_store(struct mem_store *ms, mf_err code, const char *detail) {
    if (!ms->broken) {
        ms->broken = true;
        ms->broke.code = code;
        snprintf(ms->broke.detail, sizeof(ms->broke.detail), "%s", detail);
    }
    return broken_error(ms);
}

static void
op_clear(struct op *o) {
    for (size_t i = 0; i < o->n; i++) {
        free((char *)o->msgs[i].flags);
        free((char *)o->msgs[i].date);
    }
    free(o->msgs);
    free(o->folder);
    free(o->flags);
    free(o->uids);
    memset(o, 0, sizeof(*o));
}

static void
done_with_retry(struct op *o, mf_err code, const char *detail,
                uint32_t retry_after_ms) {
    struct mf_store_done d = {0};

    d.error.code = code;
    d.retry_after_ms = retry_after_ms;
    snprintf(d.error.detail, sizeof(d.error.detail), "%s", detail);
    o->cb(o->ud, &d);
}

static void
done_with(struct op *o, mf_err code, const char *detail) {
    done_with_retry(o, code, detail, 0);
}

static mf_err
mem_list(struct mf_store *st, mf_store_folder_cb cb, void *ud) {
    struct mem_store *ms = MS(st);
    mf_err rc = MF_E_OK;

    if (ms->broken)
        return broken_error(ms);
    for (size_t i = 0;
         i < ms->srv->nfolders && rc == MF_E_OK && !ms->srv->faults.no_mailbox;
         i++) {
        const struct mf_mem_folder *f = ms->srv->folders[i];
        struct mf_store_folder sf = {.name = (const uint8_t *)f->name,
                                     .len = strlen(f->name),
                                     .delim = ms->srv->caps.delim,
                                     .attrs = f->attrs,
                                     .subscribed = f->subscribed};
        rc = cb(ud, &sf);
    }
    if (rc != MF_E_OK)
        return mf_store_fail(st, rc, "LIST: the callback failed");
    return MF_E_OK;
}

static mf_err
mem_create(struct mf_store *st, const char *name) {
    struct mem_store *ms = MS(st);

    if (ms->broken)
        return broken_error(ms);
    if (ms->srv->faults.no_mailbox)
        return mf_store_fail(st, MF_E_IMAP_NO, "NO Permission denied");
    if (ms->srv->faults.create_refuse_marker &&
        strstr(name, ms->srv->faults.create_refuse_marker)) {
        ms->srv->stats.creates_refused++;
        return mf_store_fail(st, MF_E_IMAP_NO,
                             "NO [CANNOT] Invalid mailbox name: %s", name);
    }
    ms->srv->stats.creates++;
    (void)mf_mem_folder_add(ms->srv, name, 0, false);
    return MF_E_OK;
}

static mf_err
mem_subscribe(struct mf_store *st, const char *name) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f;

    if (ms->broken)
        return broken_error(ms);
    ms->srv->stats.subscribes++;
    if ((f = mf_mem_folder_find(ms->srv, name)))
        f->subscribed = true;
    return MF_E_OK;
}

/* HIGHESTMODSEQ: the highest mod-sequence of a message there or of the
 * last expunge (RFC 7162 section 3.1.1); 1 for a folder never changed. */
static uint64_t
modseq_of(const struct mf_mem_folder *f) {
    uint64_t h = f->expunged_modseq > 1 ? f->expunged_modseq : 1;

    for (size_t i = 0; i < f->n; i++)
        if (f->msgs[i].modseq > h)
            h = f->msgs[i].modseq;
    return h;
}

static mf_err
mem_status(struct mf_store *st, const char *name,
           struct mf_store_status *status_r) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f;

    if (ms->broken)
        return broken_error(ms);
    ms->srv->stats.statuses++;
    f = ms->srv->faults.no_mailbox ? NULL : mf_mem_folder_find(ms->srv, name);
    if (!f)
        return mf_store_fail(st, MF_E_MAILBOX_MISSING,
                             "NO [NONEXISTENT] %s does not exist", name);
    status_r->uidvalidity = f->uidvalidity;
    status_r->uidnext = f->uidnext;
    status_r->messages = (uint32_t)f->n;
    status_r->highestmodseq = ms->srv->caps.condstore ? modseq_of(f) : 0;
    return MF_E_OK;
}

/* Every folder's STATUS in one call, as a pipelined round would give
 * them: a missing folder is refused alone. */
static mf_err
mem_statuses(struct mf_store *st, const char *const *names, size_t n,
             struct mf_store_status *status_r, bool *ok_r) {
    struct mem_store *ms = MS(st);

    if (ms->broken)
        return broken_error(ms);
    ms->srv->stats.status_rounds++;
    for (size_t i = 0; i < n; i++) {
        memset(&status_r[i], 0, sizeof(status_r[i]));
        ok_r[i] = mem_status(st, names[i], &status_r[i]) == MF_E_OK;
        if (ms->broken)
            return broken_error(ms);
    }
    memset(&st->error, 0, sizeof(st->error));
    return MF_E_OK;
}

static mf_err
mem_changed_since(struct mf_store *st, uint32_t first, uint32_t last,
                  uint64_t modseq, bool *changed_r) {
    struct mem_store *ms = MS(st);

    if (ms->broken)
        return broken_error(ms);
    if (!ms->sel)
        return mf_store_fail(st, MF_E_STATE, "no folder selected");
    if (!ms->srv->caps.condstore)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD CONDSTORE not enabled");
    ms->srv->stats.changed_since++;
    *changed_r = false;
    for (size_t i = 0; i < ms->sel->n; i++) {
        const struct mf_mem_msg *m = &ms->sel->msgs[i];
        if (m->uid >= first && m->uid <= last && m->modseq > modseq)
            *changed_r = true;
    }
    return MF_E_OK;
}

static mf_err
mem_select(struct mf_store *st, const char *name, bool readonly,
           struct mf_store_select *sel_r) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f;

    if (ms->broken)
        return broken_error(ms);
    ms->srv->stats.selects++;
    ms->sel = NULL;
    f = ms->srv->faults.no_mailbox ? NULL : mf_mem_folder_find(ms->srv, name);
    if (!f)
        return mf_store_fail(st, MF_E_MAILBOX_MISSING,
                             "NO [NONEXISTENT] %s does not exist", name);
    if (f->attrs & MF_FOLDER_ATTR_NOSELECT)
        return mf_store_fail(st, MF_E_IMAP_NO, "NO %s is not selectable", name);
    ms->sel = f;
    ms->readonly = readonly;
    sel_r->uidvalidity = f->uidvalidity;
    sel_r->uidnext = f->uidnext;
    sel_r->exists = (uint32_t)f->n;
    return MF_E_OK;
}

/* Copies flags leaving out \Recent (a session flag, RFC 3501 2.3.2). */
static void
flags_without_recent(const char *in, struct mf_buf *out) {
    const char *p = in;

    mf_buf_reset(out);
    while (*p) {
        const char *w;
        size_t n;
        while (*p == ' ')
            p++;
        w = p;
        while (*p && *p != ' ')
            p++;
        n = (size_t)(p - w);
        if (n == 0 || (n == 7 && strncasecmp(w, "\\Recent", 7) == 0))
            continue;
        if (out->len)
            mf_buf_append(out, " ", 1);
        mf_buf_append(out, w, n);
    }
    mf_buf_append(out, "", 1);
}

static bool
has_recent(const char *flags) {
    for (const char *p = flags; *p;) {
        const char *w;
        while (*p == ' ')
            p++;
        w = p;
        while (*p && *p != ' ')
            p++;
        if (p - w == 7 && strncasecmp(w, "\\Recent", 7) == 0)
            return true;
    }
    return false;
}

static mf_err
mem_fetch_meta(struct mf_store *st, uint32_t first, uint32_t last,
               unsigned what, mf_store_meta_cb cb, void *ud) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f = ms->sel;
    struct mf_buf flags = {0}, subject = {0};
    mf_err rc = MF_E_OK;

    if (ms->broken)
        return broken_error(ms);
    if (!f)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD no folder selected");
    ms->srv->stats.meta_fetches++;
    for (size_t i = msg_index(f, first); i < f->n && rc == MF_E_OK; i++) {
        const struct mf_mem_msg *m = &f->msgs[i];
        struct mf_store_meta meta = {0};

        if (last && m->uid > last)
            break;
        if (m->uid == ms->srv->faults.meta_drop_uid &&
            ms->srv->faults.meta_drop_times > 0) {
            ms->srv->faults.meta_drop_times--;
            continue;
        }
        meta.uid = m->uid;
        if (m->uid == ms->srv->faults.meta_missing_uid) {
            meta.missing = MF_STORE_MISSING_SIZE;
            rc = cb(ud, &meta);
            continue;
        }
        flags_without_recent(m->flags, &flags);
        meta.size = m->len;
        meta.date = m->date;
        meta.flags = (const char *)flags.data;
        if (what & (MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT |
                    MF_STORE_META_FROM)) {
            if (!ms->scan)
                ms->scan = mf_header_scan_new(0);
            mf_header_scan_reset(ms->scan);
            mf_header_scan_feed(ms->scan, m->body, m->len);
            mf_header_scan_finish(ms->scan);
            if (what & MF_STORE_META_MESSAGE_ID)
                meta.message_id = mf_header_scan_message_id(ms->scan);
            if (what & MF_STORE_META_FROM)
                meta.from = mf_header_scan_from(ms->scan);
            mf_buf_reset(&subject);
            if ((what & MF_STORE_META_SUBJECT) &&
                mf_header_scan_subject(ms->scan)) {
                mf_header_decode_2047(mf_header_scan_subject(ms->scan),
                                      &subject);
                mf_buf_append(&subject, "", 1);
                meta.subject = (const char *)subject.data;
            }
        }
        rc = cb(ud, &meta);
    }
    mf_buf_free(&flags);
    mf_buf_free(&subject);
    if (rc != MF_E_OK)
        return mf_store_fail(st, rc, "FETCH: the callback failed");
    return MF_E_OK;
}

static mf_err
mem_count(struct mf_store *st, uint32_t first, uint32_t last, uint32_t *n_r) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f = ms->sel;

    if (ms->broken)
        return broken_error(ms);
    if (!f)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD no folder selected");
    *n_r =
        (uint32_t)((last && last < UINT32_MAX ? msg_index(f, last + 1) : f->n) -
                   msg_index(f, first));
    return MF_E_OK;
}

/* Counts n delivered body bytes; true when the BYE fault fires. */
static bool
bye_now(struct mem_store *ms, size_t *n) {
    struct mf_mem_faults *fl = &ms->srv->faults;
    uint64_t done = ms->srv->stats.body_bytes;

    if (fl->fetch_break_after && done + *n >= fl->fetch_break_after) {
        *n = (size_t)(fl->fetch_break_after - done);
        fl->fetch_break_after = 0;
        ms->srv->stats.body_bytes += *n;
        return true;
    }
    ms->srv->stats.body_bytes += *n;
    return false;
}

static mf_err
mem_fetch_bodies(struct mf_store *st, const uint32_t *uids, size_t n,
                 const struct mf_store_body_cb *cb, void *ud) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *f = ms->sel;
    struct mf_mem_faults *fl = &ms->srv->faults;
    size_t chunk = ms->srv->chunk ? ms->srv->chunk : 1000;
    mf_err rc;

    if (ms->broken)
        return broken_error(ms);
    if (!f)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD no folder selected");
    if (fl->vanish_uid && fl->vanish_folder &&
        strcmp(fl->vanish_folder, f->name) == 0) {
        (void)mf_mem_msg_remove(f, fl->vanish_uid);
        fl->vanish_uid = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct mf_mem_msg *m = mf_mem_msg_find(f, uids[i]);
        bool bye = false;
        size_t len;

        if (i > 0)
            MF_ASSERT(uids[i] > uids[i - 1]);
        if (!m) {
            if ((rc = cb->vanished(ud, uids[i])) != MF_E_OK)
                goto cb_failed;
            continue;
        }
        len = m->len;
        if (m->uid == fl->body_short_uid && fl->body_short_times > 0 && len) {
            fl->body_short_times--;
            len--;
        }
        if ((rc = cb->begin(ud, m->uid, len)) != MF_E_OK)
            goto cb_failed;
        for (size_t off = 0; off < len && !bye; off += chunk) {
            size_t k = len - off < chunk ? len - off : chunk;
            bye = bye_now(ms, &k);
            if (k && (rc = cb->data(ud, m->body + off, k)) != MF_E_OK)
                goto cb_failed;
        }
        if (bye)
            return break_store(ms, MF_E_IMAP_BYE,
                               "BYE shutting down (injected mid-fetch)");
        if ((rc = cb->end(ud)) != MF_E_OK)
            goto cb_failed;
    }
    return MF_E_OK;
cb_failed:
    /* As with the IMAP store: a body callback's failure breaks it. */
    return break_store(ms, rc, "a body callback failed");
}

static mf_err
enqueue(struct mem_store *ms, struct op *o) {
    if (ms->qlen == ms->qcap) {
        /* Compact, then grow. */
        if (ms->qhead > 0) {
            memmove(ms->q, ms->q + ms->qhead,
                    (ms->qlen - ms->qhead) * sizeof(*ms->q));
            ms->qlen -= ms->qhead;
            ms->qhead = 0;
        }
        if (ms->qlen == ms->qcap) {
            ms->qcap = ms->qcap ? ms->qcap * 2 : 16;
            ms->q = mf_xreallocarray(ms->q, ms->qcap, sizeof(*ms->q));
        }
    }
    ms->q[ms->qlen++] = *o;
    if (ms->qlen - ms->qhead > ms->srv->stats.max_queued)
        ms->srv->stats.max_queued = ms->qlen - ms->qhead;
    return MF_E_OK;
}

static mf_err
mem_append(struct mf_store *st, const char *folder,
           const struct mf_store_append_msg *msgs, size_t n,
           mf_store_done_cb cb, void *ud) {
    struct mem_store *ms = MS(st);
    struct op o = {0};

    MF_ASSERT(n >= 1);
    if (ms->broken)
        return broken_error(ms);
    o.append = true;
    o.folder = mf_xstrdup(folder);
    o.msgs = mf_xcalloc(n, sizeof(*o.msgs));
    o.n = n;
    for (size_t i = 0; i < n; i++) {
        o.msgs[i] = msgs[i];
        o.msgs[i].flags = mf_xstrdup(msgs[i].flags ? msgs[i].flags : "");
        o.msgs[i].date = msgs[i].date ? mf_xstrdup(msgs[i].date) : NULL;
    }
    o.cb = cb;
    o.ud = ud;
    return enqueue(ms, &o);
}

static mf_err
mem_set_flags(struct mf_store *st, const uint32_t *uids, size_t n,
              const char *flags, mf_store_done_cb cb, void *ud) {
    struct mem_store *ms = MS(st);
    struct op o = {0};

    MF_ASSERT(n >= 1);
    if (ms->broken)
        return broken_error(ms);
    o.uids = mf_xmemdup(uids, n * sizeof(*uids));
    o.nuids = n;
    o.flags = mf_xstrdup(flags);
    o.cb = cb;
    o.ud = ud;
    return enqueue(ms, &o);
}

/* Reads one body through its source, as a session sending the literal
 * would. A failure breaks the store (a literal cannot be abandoned). */
static mf_err
read_body(struct mem_store *ms, const struct mf_imap_body_source *src,
          uint8_t **data_r) {
    uint8_t *buf = mf_xmalloc(src->size ? src->size : 1);
    uint64_t got = 0;
    mf_err rc = MF_E_OK;

    while (got < src->size) {
        size_t k = 0, cap = src->size - got < 4096 ? src->size - got : 4096;
        rc = src->read(src->ud, buf + got, (size_t)cap, &k);
        if (rc == MF_E_OK && k == 0)
            rc = MF_E_INTERNAL;
        if (rc != MF_E_OK)
            break;
        got += k;
    }
    if (src->release)
        src->release(src->ud);
    if (rc != MF_E_OK) {
        free(buf);
        return break_store(ms, rc, "a body source failed mid-literal");
    }
    *data_r = buf;
    return MF_E_OK;
}

static bool
contains(const uint8_t *p, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; k && i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

/* Puts the keywords of flags (those without a leading '\\') that kw
 * lacks into it (*n of them, owned); returns how many it has then. */
static size_t
keywords_add(char ***kw, size_t *n, const char *flags) {
    for (const char *p = flags ? flags : ""; *p;) {
        size_t k = strcspn(p, " "), i = 0;
        while (k && p[0] != '\\' && i < *n &&
               !(strncasecmp((*kw)[i], p, k) == 0 && (*kw)[i][k] == '\0'))
            i++;
        if (k && p[0] != '\\' && i == *n) {
            *kw = mf_xreallocarray(*kw, *n + 1, sizeof(**kw));
            (*kw)[(*n)++] = mf_xstrndup(p, k);
        }
        p += k + (p[k] == ' ');
    }
    return *n;
}

/* keyword_limit: the code of an append of o's messages to f, 0 when they
 * fit; *crash_r when Cyrus 3.6.1 would die on it. */
static mf_err
keyword_check(const struct mf_mem_faults *fl, const struct mf_mem_folder *f,
              const struct op *o, bool *crash_r) {
    char **kw = NULL;
    size_t n = 0, i = 0;

    *crash_r = false;
    if (!fl->keyword_limit || !f)
        return MF_E_OK;
    for (size_t j = 0; j < f->n; j++)
        (void)keywords_add(&kw, &n, f->msgs[j].flags);
    while (i < o->n &&
           keywords_add(&kw, &n, o->msgs[i].flags) <= fl->keyword_limit)
        i++;
    mf_strv_free(kw, n);
    if (i == o->n)
        return MF_E_OK;
    *crash_r = fl->keyword_limit_crash && o->n > 1 && i >= 2 && f->n > 0;
    return *crash_r ? MF_E_DISCONNECTED : MF_E_IMAP_NO;
}

static void
run_append(struct mem_store *ms, struct op *o) {
    struct mf_mem_server *srv = ms->srv;
    struct mf_mem_faults *fl = &srv->faults;
    struct mf_mem_folder *f;
    uint8_t **bodies = mf_xcalloc(o->n, sizeof(*bodies));
    uint32_t *uids = mf_xcalloc(o->n, sizeof(*uids));
    struct mf_store_done d = {0};
    mf_err code = MF_E_OK;
    const char *why = "";
    uint32_t retry = 0;
    bool store = false;

    for (size_t i = 0; i < o->n; i++)
        if (read_body(ms, &o->msgs[i].body, &bodies[i]) != MF_E_OK) {
            done_with(o, ms->broke.code, ms->broke.detail);
            goto out;
        }
    srv->stats.append_cmds++;
    if (o->n > 1)
        srv->stats.multi_cmds++;
    f = mf_mem_folder_find(srv, o->folder);
    if (!f) {
        code = MF_E_MAILBOX_MISSING;
        why = "NO [TRYCREATE] no such folder";
    }
    for (size_t i = 0; i < o->n && code == MF_E_OK; i++) {
        const struct mf_store_append_msg *m = &o->msgs[i];
        if (has_recent(m->flags)) {
            code = MF_E_IMAP_BAD;
            why = "BAD \\Recent cannot be set";
        } else if (srv->caps.appendlimit &&
                   m->body.size > srv->caps.appendlimit) {
            code = MF_E_MESSAGE_TOO_LARGE;
            why = "NO [TOOBIG] over the APPENDLIMIT";
        } else if (fl->reject_marker &&
                   contains(bodies[i], m->body.size, fl->reject_marker)) {
            code = MF_E_IMAP_NO;
            why = "NO [CANNOT] message refused";
        } else if (fl->flags_refuse_marker && m->flags &&
                   strstr(m->flags, fl->flags_refuse_marker)) {
            code = MF_E_IMAP_NO;
            why = "NO Too many user flags in mailbox";
        }
    }
    if (code == MF_E_OK) {
        bool crash;
        code = keyword_check(fl, f, o, &crash);
        why = crash ? "the server closed the connection"
                    : "NO Too many user flags in mailbox";
    }
    if (code == MF_E_OK && fl->quota_messages &&
        srv->stats.appended + o->n > fl->quota_messages) {
        code = MF_E_OVERQUOTA;
        why = "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)";
        srv->stats.quota_refused++;
    }
    if (code == MF_E_OK && fl->append_fail_at &&
        fl->append_fail_at <= srv->stats.appended + o->n) {
        code = fl->append_fail_code;
        why = "injected append failure";
        retry = fl->append_retry_after_ms;
        store = fl->append_fail_commit;
        fl->append_fail_at = 0;
        ms->faulted = true;
    } else if (code == MF_E_OK && ms->faulted) {
        srv->stats.appended_after_fault += o->n;
    }
    if (code == MF_E_OK || store) {
        for (size_t i = 0; f && i < o->n; i++) {
            static const char added[] = "X-MS-Exchange-Organization-"
                                        "AuthAs: Internal\r\n";
            struct mf_buf re = {0};
            uids[i] = f->uidnext;
            if (fl->reencode) {
                mf_buf_append(&re, added, sizeof(added) - 1);
                mf_buf_append(&re, bodies[i], o->msgs[i].body.size);
            }
            (void)mf_mem_msg_add(f, o->msgs[i].flags, o->msgs[i].date,
                                 fl->reencode ? re.data : bodies[i],
                                 fl->reencode ? re.len : o->msgs[i].body.size);
            mf_buf_free(&re);
            srv->stats.appended++;
        }
    }
    if (code != MF_E_OK && mf_err_class_of(code) == MF_ERRCLASS_RECONNECT) {
        (void)break_store(ms, code, why);
        done_with_retry(o, code, why, retry);
        goto out;
    }
    if (code != MF_E_OK) {
        done_with_retry(o, code, why, retry);
        goto out;
    }
    if (srv->caps.uidplus) {
        d.uidvalidity = f->uidvalidity;
        d.uids = uids;
        d.n = o->n;
    }
    o->cb(o->ud, &d);
out:
    for (size_t i = 0; i < o->n; i++)
        free(bodies[i]);
    free(bodies);
    free(uids);
}

/* One message's answer, caught for a batch sent as single appends. */
static void
catch_one(void *ud, const struct mf_store_done *d) {
    struct mf_store_msg_done *m = ud;

    m->error = d->error;
    m->retry_after_ms = d->retry_after_ms;
    m->uidvalidity = d->uids ? d->uidvalidity : 0;
    m->uid = d->uids ? d->uids[0] : 0;
}

/* A batch to a server without MULTIAPPEND, as store_imap_append.c sends
 * it: one append command per message, each with its own answer, and one
 * callback with them all. Once the store breaks, the rest fail with its
 * error, unconfirmed. */
static void
run_append_singles(struct mem_store *ms, struct op *o) {
    struct mf_store_msg_done *res = mf_xcalloc(o->n, sizeof(*res));
    struct mf_store_done d = {0};

    for (size_t i = 0; i < o->n; i++) {
        struct op one = *o;
        one.msgs = &o->msgs[i];
        one.n = 1;
        one.cb = catch_one;
        one.ud = &res[i];
        if (ms->broken) {
            res[i].error = ms->broke;
            continue;
        }
        run_append(ms, &one);
    }
    for (size_t i = 0; i < o->n && d.error.code == MF_E_OK; i++)
        d.error = res[i].error;
    d.n = o->n;
    d.msgs = res;
    o->cb(o->ud, &d);
    free(res);
}

static void
run_set_flags(struct mem_store *ms, struct op *o) {
    struct mf_mem_msg *m;

    if (!ms->sel) {
        done_with(o, MF_E_IMAP_BAD, "BAD no folder selected");
        return;
    }
    if (ms->readonly) {
        done_with(o, MF_E_IMAP_NO, "NO folder is read-only");
        return;
    }
    if (ms->srv->faults.flags_refuse_marker &&
        strstr(o->flags, ms->srv->faults.flags_refuse_marker)) {
        done_with(o, MF_E_IMAP_NO, "NO Too many user flags in mailbox");
        return;
    }
    /* A server checks the whole set before it changes anything. */
    for (size_t i = 0; i < o->nuids; i++)
        if (o->uids[i] == ms->srv->faults.flags_refuse_uid) {
            done_with(o, MF_E_IMAP_NO, "NO Message is locked");
            return;
        }
    ms->srv->stats.flag_cmds++;
    if (o->nuids > ms->srv->stats.max_flag_uids)
        ms->srv->stats.max_flag_uids = o->nuids;
    for (size_t i = 0; i < o->nuids; i++) {
        ms->srv->stats.flag_changes++;
        if ((m = mf_mem_msg_find(ms->sel, o->uids[i])))
            mf_mem_msg_set_flags(m, o->flags);
    }
    done_with(o, MF_E_OK, "");
}

static mf_err
mem_flush(struct mf_store *st, size_t max_pending) {
    struct mem_store *ms = MS(st);

    while (ms->qlen - ms->qhead > max_pending) {
        struct op o = ms->q[ms->qhead++];
        if (o.append && ms->srv->faults.command_delay_ms)
            mf_sleep_ms(ms->srv->faults.command_delay_ms);
        if (o.append && o.n > ms->srv->stats.max_append)
            ms->srv->stats.max_append = o.n;
        if (ms->broken)
            done_with(&o, ms->broke.code, ms->broke.detail);
        else if (o.append && o.n > 1 && !ms->base.caps.multiappend)
            run_append_singles(ms, &o);
        else if (o.append)
            run_append(ms, &o);
        else
            run_set_flags(ms, &o);
        op_clear(&o);
        if (ms->qhead == ms->qlen)
            ms->qhead = ms->qlen = 0;
    }
    if (ms->broken) {
        /* Every queued callback runs with the error, as a session's do. */
        while (ms->qhead < ms->qlen) {
            struct op o = ms->q[ms->qhead++];
            done_with(&o, ms->broke.code, ms->broke.detail);
            op_clear(&o);
        }
        ms->qhead = ms->qlen = 0;
        return broken_error(ms);
    }
    return MF_E_OK;
}

/* Runs every queued callback with MF_E_CANCELLED, as a session's abort
 * does. */
static void
cancel_all(struct mem_store *ms, const char *why) {
    while (ms->qhead < ms->qlen) {
        struct op o = ms->q[ms->qhead++];
        done_with(&o, MF_E_CANCELLED, why);
        op_clear(&o);
    }
    ms->qhead = ms->qlen = 0;
}

static void
mem_cancel(struct mf_store *st) {
    cancel_all(MS(st), "cancelled: the folder copy ended");
}

static void
mem_close(struct mf_store *st) {
    struct mem_store *ms = MS(st);

    cancel_all(ms, "store closed");
    ms->srv->stats.closes++;
    free(ms->q);
    mf_header_scan_free(&ms->scan);
    free(ms);
}

static mf_err
mem_expunge_uids(struct mf_store *st, const uint32_t *uids, size_t n) {
    struct mem_store *ms = MS(st);

    if (ms->broken)
        return broken_error(ms);
    if (!ms->srv->caps.uidplus)
        return mf_store_fail(st, MF_E_DELETE_NEEDS_UIDPLUS,
                             "the target has no UIDPLUS (RFC 4315)");
    if (!ms->sel || ms->readonly)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD no folder selected");
    for (size_t i = 0; i < n; i++) {
        (void)mf_mem_msg_remove(ms->sel, uids[i]);
        ms->srv->stats.expunged++;
    }
    return MF_E_OK;
}

/* RFC 6851: each message goes to dest with the next UID there, its
 * flags and INTERNALDATE kept, and leaves the selected folder; COPYUID
 * names every one (this server always has UIDPLUS when it has MOVE). */
static mf_err
mem_move_uids(struct mf_store *st, const uint32_t *uids, size_t n,
              const char *dest, uint32_t *uidvalidity_r, uint32_t *new_r) {
    struct mem_store *ms = MS(st);
    struct mf_mem_folder *to;

    *uidvalidity_r = 0;
    memset(new_r, 0, n * sizeof(*new_r));
    if (ms->broken)
        return broken_error(ms);
    if (!ms->srv->caps.move)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD unknown command MOVE");
    if (!ms->sel || ms->readonly)
        return mf_store_fail(st, MF_E_IMAP_BAD, "BAD no folder selected");
    if (!(to = mf_mem_folder_find(ms->srv, dest)) || to == ms->sel)
        return mf_store_fail(st, MF_E_MAILBOX_MISSING,
                             "NO [TRYCREATE] no such folder");
    for (size_t i = 0; i < n; i++) {
        struct mf_mem_msg *m = mf_mem_msg_find(ms->sel, uids[i]);
        if (!m)
            continue; /* expunged meanwhile: nothing to move */
        new_r[i] = mf_mem_msg_add(to, m->flags, m->date, m->body, m->len);
        (void)mf_mem_msg_remove(ms->sel, uids[i]);
        ms->srv->stats.moved++;
    }
    if (ms->srv->caps.uidplus)
        *uidvalidity_r = to->uidvalidity;
    else
        memset(new_r, 0, n * sizeof(*new_r));
    return MF_E_OK;
}

static const struct mf_store_ops mem_ops = {
    .list = mem_list,
    .create = mem_create,
    .subscribe = mem_subscribe,
    .status = mem_status,
    .statuses = mem_statuses,
    .changed_since = mem_changed_since,
    .select = mem_select,
    .fetch_meta = mem_fetch_meta,
    .count = mem_count,
    .fetch_bodies = mem_fetch_bodies,
    .append = mem_append,
    .expunge_uids = mem_expunge_uids,
    .move_uids = mem_move_uids,
    .set_flags = mem_set_flags,
    .flush = mem_flush,
    .cancel = mem_cancel,
    .close = mem_close,
};

mf_err
mf_store_mem_open(struct mf_mem_server *srv, struct mf_store **st_r,
                  struct mf_error *err, uint32_t *retry_after_ms_r) {
    struct mf_mem_faults *fl = &srv->faults;
    struct mem_store *ms;

    if (retry_after_ms_r)
        *retry_after_ms_r = 0;
    if (fl->open_fail_count > 0) {
        fl->open_fail_count--;
        srv->stats.open_failures++;
        err->code = fl->open_fail_code;
        snprintf(err->detail, sizeof(err->detail), "NO injected: %s",
                 mf_strerror(fl->open_fail_code));
        if (retry_after_ms_r)
            *retry_after_ms_r = fl->open_retry_after_ms;
        return fl->open_fail_code;
    }
    srv->stats.opens++;
    ms = mf_xcalloc(1, sizeof(*ms));
    ms->base.ops = &mem_ops;
    ms->base.caps = srv->caps;
    ms->srv = srv;
    *st_r = &ms->base;
    return MF_E_OK;
}
