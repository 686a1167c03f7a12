/*
 * The IMAP store: the store interface (store.h) over one mf_imap_session.
 *
 * Folders come from LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE) where the
 * server has LIST-EXTENDED (RFC 5258, RFC 6154), else from LIST and LSUB.
 * Metadata and bodies come from pipelined UID FETCH commands; bodies with
 * BODY.PEEK[] so nothing is marked \Seen (RFC 3501 section 6.4.5). Bodies
 * above the stream threshold arrive through the session's literal sink in
 * chunks and go straight to the caller's body callbacks, so a 40 MB
 * message never sits in memory whole.
 *
 * The literal sink learns a literal's message sequence number, not its
 * UID (the UID item may come after the body in the FETCH response), so the
 * store keeps a sequence-number-to-UID map of the selected folder, filled
 * by fetch_meta() and kept right by EXPUNGE responses (RFC 3501 section
 * 7.4.1: they may arrive during UID FETCH).
 *
 * Appends are MULTIAPPEND (RFC 3502) commands when the server has it,
 * queued without waiting so that several are in flight; their tagged OK
 * carries APPENDUID (RFC 4315) when the server has UIDPLUS.
 */
#include "migrate/store.h"

#include "imap/session_int.h"
#include "mailferry/fence.h"
#include "mailferry/fingerprint.h"
#include "mailferry/folderplan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* UIDs per body FETCH command: small enough that a vanished message is
 * found soon, large enough that command overhead does not matter. */
#define BODY_UIDS_PER_CMD 50
/* Appends whose answers are awaited before more are sent: the session's
 * own window bounds what is on the wire. */
#define SEQMAP_MIN 64

struct seqent {
    uint32_t seq, uid;
};

struct pending {
    uint32_t id;
    mf_store_done_cb cb;
    void *ud;
    size_t n; /* messages in an append, 0 for a flag change */
    struct imap_store *owner;
};

struct imap_store {
    struct mf_store base; /* first */
    struct mf_imap_session *s;
    /* Sequence map of the selected folder, sorted by seq. */
    struct seqent *map;
    size_t nmap, capmap;
    /* Queued appends and flag changes, oldest first. */
    struct pending **q;
    size_t qhead, qlen, qcap;
    /* fetch_bodies() state. */
    const struct mf_store_body_cb *bcb;
    void *bud;
    uint32_t lit_uid; /* uid of the literal being streamed, 0: none */
    uint8_t *got;     /* per asked uid: delivered */
    const uint32_t *asked;
    size_t nasked;
    /* fetch_meta() state. */
    mf_store_meta_cb mcb;
    void *mud;
    uint32_t mfirst, mlast;
    struct mf_header_scan *scan;
    mf_err cb_error; /* a callback's own failure, kept for the caller */
};

static struct imap_store *
IS(struct mf_store *st) {
    return (struct imap_store *)st;
}

static mf_err
fail_from_session(struct imap_store *is, mf_err rc) {
    const struct mf_imap_result *last = mf_imap_session_last(is->s);

    if (is->cb_error != MF_E_OK && rc != MF_E_OK) {
        /* Our callback broke the session; its code is the real story. */
        rc = is->cb_error;
        is->cb_error = MF_E_OK;
        if (is->base.error.code != rc)
            return mf_store_fail(&is->base, rc, "%s", mf_strerror(rc));
        return rc;
    }
    if (mf_imap_session_state(is->s) == MF_IMAP_STATE_BROKEN) {
        is->base.error = *mf_imap_session_error(is->s);
        is->base.retry_after_ms = mf_imap_session_retry_after_ms(is->s);
    } else {
        is->base.error = last->error;
        is->base.retry_after_ms = last->retry_after_ms;
    }
    if (is->base.error.code == MF_E_OK)
        is->base.error.code = rc;
    return rc;
}

/* ------------------------------------------------------------------ */
/* One command, waited for                                             */
/* ------------------------------------------------------------------ */

struct sync_res {
    struct mf_imap_result res;
    bool done;
};

static void
sync_done(void *ud, const struct mf_imap_result *res) {
    struct sync_res *sr = ud;
    sr->res = *res;
    sr->res.tagged = NULL;
    sr->done = true;
}

/* Submits c (cleared afterwards) and waits; fills st->error on failure. */
static mf_err
run_cmd(struct imap_store *is, struct mf_imap_cmd_spec *c) {
    struct sync_res sr = {0};
    uint32_t id;
    mf_err rc;

    rc = mf_imap_session_submit(is->s, c, sync_done, &sr, &id);
    mf_imap_cmd_clear(c);
    if (rc != MF_E_OK)
        return fail_from_session(is, rc);
    rc = mf_imap_session_wait(is->s, id, -1);
    if (rc != MF_E_OK || !sr.done)
        return fail_from_session(is, rc != MF_E_OK ? rc : MF_E_INTERNAL);
    if (sr.res.error.code != MF_E_OK) {
        is->base.error = sr.res.error;
        is->base.retry_after_ms = sr.res.retry_after_ms;
        return sr.res.error.code;
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Folders                                                             */
/* ------------------------------------------------------------------ */

struct folder_copy {
    uint8_t *name;
    size_t len;
    char delim;
    unsigned attrs;
    bool subscribed;
};

struct list_acc {
    struct folder_copy *f;
    size_t n, cap;
};

static unsigned
attrs_of(const struct mf_imap_arg *raw, size_t n) {
    unsigned attrs = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a;
        if (mf_imap_arg_as_astring(&raw[i], &a))
            attrs |= mf_folder_attr_parse(a, strlen(a));
    }
    return attrs;
}

static mf_err
on_list_entry(void *ud, const struct mf_imap_list_entry *e) {
    struct list_acc *acc = ud;
    struct folder_copy *f;

    if (acc->n >= MF_FOLDER_COUNT_MAX)
        return MF_E_LIMIT;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 32;
        acc->f = mf_xreallocarray(acc->f, acc->cap, sizeof(*acc->f));
    }
    f = &acc->f[acc->n++];
    f->name = mf_xmemdup(e->name, e->name_len);
    f->len = e->name_len;
    f->delim = e->delimiter;
    f->attrs = attrs_of(e->raw, e->nraw);
    f->subscribed = (f->attrs & MF_FOLDER_ATTR_SUBSCRIBED) != 0;
    return MF_E_OK;
}

/* "* LSUB (attrs) delim name": marks the named folder subscribed. */
static mf_err
on_lsub(void *ud, const struct mf_imap_response *r) {
    struct list_acc *acc = ud;
    const uint8_t *name;
    size_t len;

    if (r->nargs < 3 || !mf_imap_arg_as_string(&r->args[2], &name, &len))
        return MF_E_OK;
    for (size_t i = 0; i < acc->n; i++)
        if (acc->f[i].len == len && memcmp(acc->f[i].name, name, len) == 0)
            acc->f[i].subscribed = true;
    return MF_E_OK;
}

static mf_err
imap_list(struct mf_store *st, mf_store_folder_cb cb, void *ud) {
    struct imap_store *is = IS(st);
    struct list_acc acc = {0};
    bool extended = mf_imap_session_has(is->s, MF_IMAP_CAP_LIST_EXTENDED);
    mf_err rc;

    rc = mf_imap_session_list(is->s, "", "*",
                              extended ? "SUBSCRIBED SPECIAL-USE" : NULL,
                              on_list_entry, &acc);
    if (rc != MF_E_OK) {
        rc = fail_from_session(is, rc);
        goto out;
    }
    if (!extended) {
        struct mf_imap_cmd_spec c = {0};
        mf_imap_session_on_untagged(is->s, "LSUB", on_lsub, &acc);
        mf_imap_cmd_text(&c, "LSUB \"\" *");
        rc = run_cmd(is, &c);
        mf_imap_session_on_untagged(is->s, "LSUB", NULL, NULL);
        if (rc != MF_E_OK)
            goto out;
    }
    for (size_t i = 0; i < acc.n && rc == MF_E_OK; i++) {
        struct mf_store_folder f = {.name = acc.f[i].name,
                                    .len = acc.f[i].len,
                                    .delim = acc.f[i].delim,
                                    .attrs = acc.f[i].attrs,
                                    .subscribed = acc.f[i].subscribed};
        rc = cb(ud, &f);
    }
out:
    for (size_t i = 0; i < acc.n; i++)
        free(acc.f[i].name);
    free(acc.f);
    return rc;
}

static mf_err
imap_create(struct mf_store *st, const char *name) {
    struct imap_store *is = IS(st);
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    mf_imap_cmd_text(&c, "CREATE ");
    mf_imap_cmd_astring(&c, (const uint8_t *)name, strlen(name));
    rc = run_cmd(is, &c);
    /* RFC 5530 ALREADYEXISTS; servers without it say so in words. */
    if (rc != MF_E_OK && mf_imap_session_state(is->s) != MF_IMAP_STATE_BROKEN &&
        (strstr(is->base.error.detail, "ALREADYEXISTS") ||
         strstr(is->base.error.detail, "already exists") ||
         strstr(is->base.error.detail, "Already exists"))) {
        is->base.error.code = MF_E_OK;
        rc = MF_E_OK;
    }
    return rc;
}

static mf_err
imap_subscribe(struct mf_store *st, const char *name) {
    struct imap_store *is = IS(st);
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "SUBSCRIBE ");
    mf_imap_cmd_astring(&c, (const uint8_t *)name, strlen(name));
    return run_cmd(is, &c);
}

/* ------------------------------------------------------------------ */
/* Sequence map                                                        */
/* ------------------------------------------------------------------ */

static size_t
map_find(const struct imap_store *is, uint32_t seq) {
    size_t lo = 0, hi = is->nmap;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (is->map[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
map_put(struct imap_store *is, uint32_t seq, uint32_t uid) {
    size_t i = map_find(is, seq);

    if (i < is->nmap && is->map[i].seq == seq) {
        is->map[i].uid = uid;
        return;
    }
    if (is->nmap == is->capmap) {
        is->capmap = is->capmap ? is->capmap * 2 : SEQMAP_MIN;
        is->map = mf_xreallocarray(is->map, is->capmap, sizeof(*is->map));
    }
    memmove(&is->map[i + 1], &is->map[i], (is->nmap - i) * sizeof(*is->map));
    is->map[i].seq = seq;
    is->map[i].uid = uid;
    is->nmap++;
}

static uint32_t
map_uid(const struct imap_store *is, uint32_t seq) {
    size_t i = map_find(is, seq);
    return i < is->nmap && is->map[i].seq == seq ? is->map[i].uid : 0;
}

/* RFC 3501 7.4.1: "* n EXPUNGE" removes message n; later ones move down. */
static mf_err
on_expunge(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    size_t i;

    if (!r->has_number)
        return MF_E_OK;
    i = map_find(is, r->number);
    if (i < is->nmap && is->map[i].seq == r->number) {
        memmove(&is->map[i], &is->map[i + 1],
                (is->nmap - i - 1) * sizeof(*is->map));
        is->nmap--;
    }
    for (; i < is->nmap; i++)
        is->map[i].seq--;
    return MF_E_OK;
}

static mf_err
imap_select(struct mf_store *st, const char *name, bool readonly,
            struct mf_store_select *sel_r) {
    struct imap_store *is = IS(st);
    struct mf_imap_mailbox_info info;
    mf_err rc;

    is->nmap = 0;
    rc = mf_imap_session_select(is->s, name, readonly, &info);
    if (rc != MF_E_OK)
        return fail_from_session(is, rc);
    if (info.uidvalidity == 0)
        return mf_store_fail(st, MF_E_IMAP_UNEXPECTED,
                             "SELECT %s: the server sent no UIDVALIDITY", name);
    sel_r->uidvalidity = info.uidvalidity;
    sel_r->uidnext = info.uidnext;
    sel_r->exists = info.exists;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Metadata                                                            */
/* ------------------------------------------------------------------ */

/* Renders a FLAGS list as "\Seen $Work", leaving out \Recent (a session
 * flag that APPEND cannot set, RFC 3501 section 2.3.2). */
static bool
render_flags(const struct mf_imap_arg *a, char *out, size_t cap) {
    const struct mf_imap_arg *f;
    size_t n, len = 0;

    out[0] = '\0';
    if (!mf_imap_arg_as_list(a, &f, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t sl;
        if (!mf_imap_arg_is_atom(&f[i]) || !mf_imap_arg_as_astring(&f[i], &s))
            return false;
        if (strcasecmp(s, "\\Recent") == 0)
            continue;
        sl = strlen(s);
        if (len + sl + 2 > cap)
            return false;
        if (len)
            out[len++] = ' ';
        memcpy(out + len, s, sl + 1);
        len += sl;
    }
    return true;
}

/* Message-ID and Subject from a BODY[HEADER.FIELDS (...)] literal. */
static void
scan_header(struct imap_store *is, const struct mf_imap_arg *a,
            struct mf_buf *subject, const char **msgid_r) {
    const uint8_t *d;
    size_t n;

    *msgid_r = NULL;
    if (!a || !mf_imap_arg_as_string(a, &d, &n))
        return;
    if (!is->scan)
        is->scan = mf_header_scan_new(MF_HEADER_SCAN_MAX);
    mf_header_scan_reset(is->scan);
    mf_header_scan_feed(is->scan, d, n);
    mf_header_scan_finish(is->scan);
    *msgid_r = mf_header_scan_message_id(is->scan);
    if (mf_header_scan_subject(is->scan))
        mf_header_decode_2047(mf_header_scan_subject(is->scan), subject);
}

static const struct mf_imap_arg *
find_header_item(const struct mf_imap_arg *items, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *name;
        if (mf_imap_arg_as_astring(&items[i], &name) &&
            strncasecmp(name, "BODY[HEADER.FIELDS", 18) == 0)
            return &items[i + 1];
    }
    return NULL;
}

static mf_err
on_meta_fetch(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    const struct mf_imap_arg *items, *a;
    size_t n;
    struct mf_store_meta m = {0};
    char flags[2048];
    const char *date = NULL;
    struct mf_buf subject = {0};
    mf_err rc;

    if (!r->has_number || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "UID")) ||
        !mf_imap_arg_as_u32(a, &m.uid))
        return MF_E_OK;
    map_put(is, r->number, m.uid);
    /* Unsolicited FETCH (a flag changed elsewhere) has fewer items; and
     * "n:*" always includes the last message (RFC 3501 6.4.8). */
    if (m.uid < is->mfirst || (is->mlast && m.uid > is->mlast))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "RFC822.SIZE")) ||
        !mf_imap_arg_as_u64(a, &m.size))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "INTERNALDATE")) ||
        !mf_imap_arg_as_astring(a, &date))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "FLAGS")) ||
        !render_flags(a, flags, sizeof(flags)))
        return MF_E_OK;
    m.date = date;
    m.flags = flags;
    scan_header(is, find_header_item(items, n), &subject, &m.message_id);
    if (subject.len) {
        mf_buf_append(&subject, "", 1);
        m.subject = (const char *)subject.data;
    }
    rc = is->mcb(is->mud, &m);
    mf_buf_free(&subject);
    if (rc != MF_E_OK)
        is->cb_error = rc;
    return rc;
}

static mf_err
imap_fetch_meta(struct mf_store *st, uint32_t first, uint32_t last,
                unsigned what, mf_store_meta_cb cb, void *ud) {
    struct imap_store *is = IS(st);
    struct mf_imap_cmd_spec c = {0};
    char range[32];
    mf_err rc;

    if (first == 0)
        first = 1;
    if (last)
        snprintf(range, sizeof(range), "%u:%u", first, last);
    else
        snprintf(range, sizeof(range), "%u:*", first);
    mf_imap_cmd_textf(&c, "UID FETCH %s (UID FLAGS INTERNALDATE RFC822.SIZE",
                      range);
    if (what & (MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT))
        mf_imap_cmd_textf(&c, " BODY.PEEK[HEADER.FIELDS (%s%s%s)]",
                          what & MF_STORE_META_MESSAGE_ID ? "MESSAGE-ID" : "",
                          (what & MF_STORE_META_MESSAGE_ID) &&
                                  (what & MF_STORE_META_SUBJECT)
                              ? " "
                              : "",
                          what & MF_STORE_META_SUBJECT ? "SUBJECT" : "");
    mf_imap_cmd_text(&c, ")");
    is->mcb = cb;
    is->mud = ud;
    is->mfirst = first;
    is->mlast = last;
    mf_imap_session_on_untagged(is->s, "FETCH", on_meta_fetch, is);
    rc = run_cmd(is, &c);
    mf_imap_session_on_untagged(is->s, "FETCH", NULL, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */
/* ------------------------------------------------------------------ */

static void
mark_got(struct imap_store *is, uint32_t uid) {
    size_t lo = 0, hi = is->nasked;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (is->asked[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < is->nasked && is->asked[lo] == uid)
        is->got[lo] = 1;
}

static bool
was_asked(const struct imap_store *is, uint32_t uid) {
    size_t lo = 0, hi = is->nasked;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (is->asked[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < is->nasked && is->asked[lo] == uid && !is->got[lo];
}

static mf_err
keep(struct imap_store *is, mf_err rc) {
    if (rc != MF_E_OK)
        is->cb_error = rc;
    return rc;
}

static mf_err
on_lit_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct imap_store *is = ud;
    uint32_t uid;

    is->lit_uid = 0;
    if (!info->has_number || strcmp(info->keyword, "FETCH") != 0 ||
        !info->item || strcasecmp(info->item, "BODY[]") != 0)
        return MF_E_OK; /* not a body: its bytes are dropped */
    uid = map_uid(is, info->number);
    if (uid == 0 || !was_asked(is, uid))
        return MF_E_OK;
    is->lit_uid = uid;
    return keep(is, is->bcb->begin(is->bud, uid, info->size));
}

static mf_err
on_lit_data(void *ud, const uint8_t *data, size_t n) {
    struct imap_store *is = ud;
    if (!is->lit_uid)
        return MF_E_OK;
    return keep(is, is->bcb->data(is->bud, data, n));
}

static mf_err
on_lit_end(void *ud) {
    struct imap_store *is = ud;
    uint32_t uid = is->lit_uid;

    if (!uid)
        return MF_E_OK;
    is->lit_uid = 0;
    mark_got(is, uid);
    return keep(is, is->bcb->end(is->bud));
}

static mf_err
on_body_fetch(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    const struct mf_imap_arg *items, *a, *body;
    const uint8_t *d;
    size_t n, len;
    uint32_t uid;
    mf_err rc;

    if (!r->has_number || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "UID")) ||
        !mf_imap_arg_as_u32(a, &uid))
        return MF_E_OK;
    map_put(is, r->number, uid);
    body = mf_imap_args_find(items, n, "BODY[]");
    if (!body || body->type == MF_IMAP_ARG_STREAMED || !was_asked(is, uid))
        return MF_E_OK; /* streamed ones were delivered already */
    if (mf_imap_arg_is_nil(body)) {
        d = (const uint8_t *)"";
        len = 0;
    } else if (!mf_imap_arg_as_string(body, &d, &len)) {
        return MF_E_OK;
    }
    mark_got(is, uid);
    if ((rc = is->bcb->begin(is->bud, uid, len)) != MF_E_OK ||
        (len && (rc = is->bcb->data(is->bud, d, len)) != MF_E_OK) ||
        (rc = is->bcb->end(is->bud)) != MF_E_OK)
        return keep(is, rc);
    return MF_E_OK;
}

/* Appends a compact UID set ("3:7,9,12:13") of uids[0..n) to c. */
static void
add_uid_set(struct mf_imap_cmd_spec *c, const uint32_t *uids, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && uids[j + 1] == uids[j] + 1)
            j++;
        if (j > i)
            mf_imap_cmd_textf(c, "%s%u:%u", i ? "," : "", uids[i], uids[j]);
        else
            mf_imap_cmd_textf(c, "%s%u", i ? "," : "", uids[i]);
        i = j + 1;
    }
}

static void
ignore_done(void *ud, const struct mf_imap_result *res) {
    mf_err *first = ud;
    if (res->error.code != MF_E_OK && *first == MF_E_OK)
        *first = res->error.code;
}

static mf_err
imap_fetch_bodies(struct mf_store *st, const uint32_t *uids, size_t n,
                  const struct mf_store_body_cb *cb, void *ud) {
    struct imap_store *is = IS(st);
    mf_err rc = MF_E_OK, cmd_rc = MF_E_OK;

    if (n == 0)
        return MF_E_OK;
    is->bcb = cb;
    is->bud = ud;
    is->asked = uids;
    is->nasked = n;
    is->got = mf_xcalloc(n, 1);
    is->lit_uid = 0;
    mf_imap_session_on_untagged(is->s, "FETCH", on_body_fetch, is);
    mf_imap_session_set_literal_sink(is->s, on_lit_begin, on_lit_data,
                                     on_lit_end, is);
    for (size_t i = 0; i < n && rc == MF_E_OK; i += BODY_UIDS_PER_CMD) {
        struct mf_imap_cmd_spec c = {0};
        size_t k = n - i < BODY_UIDS_PER_CMD ? n - i : BODY_UIDS_PER_CMD;
        mf_imap_cmd_text(&c, "UID FETCH ");
        add_uid_set(&c, uids + i, k);
        mf_imap_cmd_text(&c, " (UID BODY.PEEK[])");
        rc = mf_imap_session_submit(is->s, &c, ignore_done, &cmd_rc, NULL);
        mf_imap_cmd_clear(&c);
    }
    if (rc == MF_E_OK)
        rc = mf_imap_session_run(is->s, -1);
    mf_imap_session_on_untagged(is->s, "FETCH", NULL, NULL);
    mf_imap_session_set_literal_sink(is->s, NULL, NULL, NULL, NULL);
    if (rc != MF_E_OK) {
        rc = fail_from_session(is, rc);
    } else if (cmd_rc != MF_E_OK) {
        rc = mf_store_fail(st, cmd_rc, "UID FETCH of message bodies: %s",
                           mf_strerror(cmd_rc));
    } else {
        for (size_t i = 0; i < n && rc == MF_E_OK; i++)
            if (!is->got[i])
                rc = cb->vanished(ud, uids[i]);
    }
    free(is->got);
    is->got = NULL;
    is->asked = NULL;
    is->nasked = 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Appends and flag changes                                            */
/* ------------------------------------------------------------------ */

/* Parses an APPENDUID uid-set ("7", "7:9", "3,5:6") into n UIDs. */
static bool
parse_uid_set(const char *s, uint32_t *out, size_t n) {
    size_t k = 0;
    while (*s) {
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s || a == 0 || a > UINT32_MAX)
            return false;
        s = end;
        if (*s == ':') {
            b = strtoul(s + 1, &end, 10);
            if (end == s + 1 || b == 0 || b > UINT32_MAX)
                return false;
            s = end;
        }
        for (unsigned long u = a;; u += a <= b ? 1 : (unsigned long)-1) {
            if (k == n)
                return false;
            out[k++] = (uint32_t)u;
            if (u == b)
                break;
        }
        if (*s == ',')
            s++;
        else if (*s)
            return false;
    }
    return k == n;
}

static void
pending_done(void *ud, const struct mf_imap_result *res) {
    struct pending *p = ud;
    struct mf_store_done d = {0};
    uint32_t stack_uids[64], *uids = NULL;

    d.error = res->error;
    d.retry_after_ms = res->retry_after_ms;
    if (p->n && res->error.code == MF_E_OK && res->tagged &&
        res->tagged->code.name &&
        strcmp(res->tagged->code.name, "APPENDUID") == 0 &&
        res->tagged->code.nargs == 2) {
        uint32_t uv;
        const char *set;
        uids = p->n <= MF_ARRAY_LEN(stack_uids)
                   ? stack_uids
                   : mf_xcalloc(p->n, sizeof(*uids));
        if (mf_imap_arg_as_u32(&res->tagged->code.args[0], &uv) &&
            mf_imap_arg_as_astring(&res->tagged->code.args[1], &set) &&
            parse_uid_set(set, uids, p->n)) {
            d.uidvalidity = uv;
            d.uids = uids;
            d.n = p->n;
        }
    }
    p->cb(p->ud, &d);
    if (uids != stack_uids)
        free(uids);
    p->cb = NULL; /* done: flush() drops it */
}

static mf_err
queue_cmd(struct imap_store *is, struct mf_imap_cmd_spec *c, size_t nmsgs,
          mf_store_done_cb cb, void *ud) {
    struct pending *p = mf_xcalloc(1, sizeof(*p));
    mf_err rc;

    p->cb = cb;
    p->ud = ud;
    p->n = nmsgs;
    p->owner = is;
    rc = mf_imap_session_submit(is->s, c, pending_done, p, &p->id);
    mf_imap_cmd_clear(c);
    if (rc != MF_E_OK) {
        free(p);
        return fail_from_session(is, rc);
    }
    if (is->qlen == is->qcap) {
        size_t ncap = is->qcap ? is->qcap * 2 : 16;
        struct pending **nq = mf_xcalloc(ncap, sizeof(*nq));
        for (size_t i = 0; i < is->qlen; i++)
            nq[i] = is->q[(is->qhead + i) % is->qcap];
        free(is->q);
        is->q = nq;
        is->qcap = ncap;
        is->qhead = 0;
    }
    is->q[(is->qhead + is->qlen) % is->qcap] = p;
    is->qlen++;
    return MF_E_OK;
}

static mf_err
imap_append(struct mf_store *st, const char *folder,
            const struct mf_store_append_msg *msgs, size_t n,
            mf_store_done_cb cb, void *ud) {
    struct imap_store *is = IS(st);
    struct mf_imap_cmd_spec c = {0};

    MF_ASSERT(n >= 1 && (n == 1 || st->caps.multiappend));
    mf_imap_cmd_text(&c, "APPEND ");
    mf_imap_cmd_astring(&c, (const uint8_t *)folder, strlen(folder));
    /* append = "APPEND" SP mailbox 1*append-message   (RFC 3502)
     * append-message = [SP flag-list] [SP date-time] SP literal */
    for (size_t i = 0; i < n; i++) {
        mf_imap_cmd_textf(&c, " (%s)", msgs[i].flags ? msgs[i].flags : "");
        if (msgs[i].date)
            mf_imap_cmd_textf(&c, " \"%s\"", msgs[i].date);
        mf_imap_cmd_text(&c, " ");
        mf_imap_cmd_source(&c, &msgs[i].body);
    }
    return queue_cmd(is, &c, n, cb, ud);
}

static mf_err
imap_set_flags(struct mf_store *st, uint32_t uid, const char *flags,
               mf_store_done_cb cb, void *ud) {
    struct imap_store *is = IS(st);
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_textf(&c, "UID STORE %u FLAGS.SILENT (%s)", uid, flags);
    return queue_cmd(is, &c, 0, cb, ud);
}

static mf_err
imap_flush(struct mf_store *st, size_t max_pending) {
    struct imap_store *is = IS(st);
    mf_err rc = MF_E_OK;

    while (is->qlen > 0) {
        struct pending *p = is->q[is->qhead];
        if (p->cb == NULL) { /* finished */
            free(p);
            is->qhead = (is->qhead + 1) % is->qcap;
            is->qlen--;
            continue;
        }
        if (is->qlen <= max_pending)
            break;
        rc = mf_imap_session_wait(is->s, p->id, -1);
        if (rc != MF_E_OK) {
            /* Every pending callback has run with the session's error. */
            rc = fail_from_session(is, rc);
            break;
        }
    }
    return rc;
}

static void
imap_close(struct mf_store *st) {
    struct imap_store *is = IS(st);

    if (mf_imap_session_state(is->s) != MF_IMAP_STATE_BROKEN) {
        /* A polite LOGOUT, bounded: the session's own timeout applies. */
        mf_err rc = mf_imap_session_logout(is->s);
        (void)rc;
    }
    mf_imap_session_free(&is->s); /* runs pending callbacks (CANCELLED) */
    while (is->qlen > 0) {
        free(is->q[is->qhead]);
        is->qhead = (is->qhead + 1) % is->qcap;
        is->qlen--;
    }
    free(is->q);
    free(is->map);
    mf_header_scan_free(&is->scan);
    free(is);
}

/* The send gate of the connection: nothing goes out once the store's
 * fence (mf_fence_attach) no longer holds. */
static bool
imap_gate(void *ud) {
    struct imap_store *is = ud;
    return mf_fence_holds(is->base.fence);
}

/* shutdown(2) is safe from another thread: the owner's poll and recv
 * return at once with a hang-up, which the session reports as a dropped
 * connection. */
static void
imap_abort(struct mf_store *st) {
    struct imap_store *is = IS(st);
    int fd = mf__imap_conn_fd(mf__imap_session_conn(is->s));
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static const struct mf_store_ops imap_ops = {
    .list = imap_list,
    .create = imap_create,
    .subscribe = imap_subscribe,
    .select = imap_select,
    .fetch_meta = imap_fetch_meta,
    .fetch_bodies = imap_fetch_bodies,
    .append = imap_append,
    .set_flags = imap_set_flags,
    .flush = imap_flush,
    .close = imap_close,
    .abort = imap_abort,
};

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* namespace = nil / "(" 1*namespace-descr ")"   (RFC 2342)
 * namespace-descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) ")"
 * Only the first personal namespace matters here. */
static mf_err
on_namespace(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    const struct mf_imap_arg *ns, *d;
    size_t n, nd;
    const uint8_t *p, *dl;
    size_t pl, dll;

    if (r->nargs < 1 || !mf_imap_arg_as_list(&r->args[0], &ns, &n) || n < 1 ||
        !mf_imap_arg_as_list(&ns[0], &d, &nd) || nd < 2 ||
        !mf_imap_arg_as_string(&d[0], &p, &pl))
        return MF_E_OK;
    if (pl < sizeof(is->base.caps.prefix)) {
        memcpy(is->base.caps.prefix, p, pl);
        is->base.caps.prefix[pl] = '\0';
    }
    if (mf_imap_arg_as_string(&d[1], &dl, &dll) && dll == 1)
        is->base.caps.delim = (char)dl[0];
    return MF_E_OK;
}

static mf_err
on_delim(void *ud, const struct mf_imap_list_entry *e) {
    struct imap_store *is = ud;
    is->base.caps.delim = e->delimiter;
    return MF_E_OK;
}

mf_err
mf_store_imap_wrap(struct mf_imap_session *s,
                   const struct mf_store_imap_options *o,
                   struct mf_store **st_r, struct mf_error *err) {
    struct imap_store *is = mf_xcalloc(1, sizeof(*is));
    mf_err rc;

    (void)o;
    is->base.ops = &imap_ops;
    is->s = s;
    is->base.caps.uidplus = mf_imap_session_has(s, MF_IMAP_CAP_UIDPLUS);
    is->base.caps.multiappend = mf_imap_session_has(s, MF_IMAP_CAP_MULTIAPPEND);
    is->base.caps.appendlimit = mf_imap_session_appendlimit(s);
    mf_imap_session_on_untagged(s, "EXPUNGE", on_expunge, is);
    mf__imap_conn_set_gate(mf__imap_session_conn(s), imap_gate, is);
    if (mf_imap_session_has(s, MF_IMAP_CAP_NAMESPACE)) {
        struct mf_imap_cmd_spec c = {0};
        mf_imap_session_on_untagged(s, "NAMESPACE", on_namespace, is);
        mf_imap_cmd_text(&c, "NAMESPACE");
        rc = run_cmd(is, &c);
        mf_imap_session_on_untagged(s, "NAMESPACE", NULL, NULL);
    } else {
        /* RFC 3501 6.3.8: LIST "" "" gives the delimiter. */
        rc = mf_imap_session_list(s, "", "", NULL, on_delim, is);
        if (rc != MF_E_OK)
            rc = fail_from_session(is, rc);
    }
    if (rc != MF_E_OK) {
        *err = is->base.error;
        imap_close(&is->base);
        return rc;
    }
    *st_r = &is->base;
    return MF_E_OK;
}

mf_err
mf_store_imap_open(const struct mf_store_imap_options *o,
                   struct mf_store **st_r, struct mf_error *err,
                   uint32_t *retry_after_ms_r) {
    struct mf_imap_parser_limits lim;
    struct mf_imap_session_options so = {0};
    struct mf_imap_session *s = NULL;
    mf_err rc;

    mf_imap_parser_limits_init(&lim);
    if (o->stream_threshold)
        lim.stream_threshold = o->stream_threshold;
    if (o->max_literal)
        lim.max_literal = o->max_literal;
    so.window = o->window;
    so.timeout_ms = o->timeout_ms;
    so.limits = &lim;
    rc =
        mf_imap_session_open(o->conn, o->login, &so, &s, err, retry_after_ms_r);
    if (rc != MF_E_OK)
        return rc;
    return mf_store_imap_wrap(s, o, st_r, err);
}
