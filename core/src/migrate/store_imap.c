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
 * A message's metadata may come in several FETCH responses (RFC 3501
 * 7.4.2): metamerge.h gathers them per UID, and a message still missing
 * an item when the command ends is delivered as such, never dropped. A
 * streamed body ends only when its FETCH response's UID agrees with the
 * UID its sequence number filed it under.
 *
 * Appends are MULTIAPPEND (RFC 3502) commands when the server has it,
 * queued without waiting so that several are in flight; their tagged OK
 * carries APPENDUID (RFC 4315) when the server has UIDPLUS.
 */
#include "migrate/metamerge.h"
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
    uint32_t exists; /* the selected folder's message count */
    /* Queued appends and flag changes, oldest first. */
    struct pending **q;
    size_t qhead, qlen, qcap;
    /* fetch_bodies() state. */
    const struct mf_store_body_cb *bcb;
    void *bud;
    uint32_t lit_uid; /* uid of the literal being streamed, 0: none */
    /* The streamed literal that ended in the FETCH response being read:
     * its end() waits until the response's own UID confirms it. */
    uint32_t lit_ended;
    uint8_t *got; /* per asked uid: delivered */
    const uint32_t *asked;
    size_t nasked;
    /* fetch_meta() state. */
    mf_store_meta_cb mcb;
    void *mud;
    uint32_t mfirst, mlast;
    struct mf_header_scan *scan;
    struct mf__meta_merge *merge; /* owned, during fetch_meta() */
    mf_err cb_error; /* a callback's own failure, kept for the caller */
    /* LIST pattern: "*", or "<UserRoot><delim>*" (see user_root()). */
    char *list_pattern;
    bool root_inbox; /* the UserRoot is selectable: it is the INBOX */
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
    /* A name listed twice (Dovecot's shared namespace lists a folder
     * once from its ACL list as \Noselect and once as it is): one
     * folder, selectable if any listing says so. */
    for (size_t i = 0; i < acc->n; i++) {
        unsigned a, gone = MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT;

        f = &acc->f[i];
        if (f->len != e->name_len || memcmp(f->name, e->name, f->len) != 0)
            continue;
        a = attrs_of(e->raw, e->nraw);
        f->attrs = ((f->attrs | a) & ~gone) | (f->attrs & a & gone);
        f->subscribed = f->subscribed || (a & MF_FOLDER_ATTR_SUBSCRIBED);
        return MF_E_OK;
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

    rc = mf_imap_session_list(is->s, "", is->list_pattern,
                              extended ? "SUBSCRIBED SPECIAL-USE" : NULL,
                              on_list_entry, &acc);
    if (rc != MF_E_OK) {
        rc = fail_from_session(is, rc);
        goto out;
    }
    if (!extended) {
        struct mf_imap_cmd_spec c = {0};
        mf_imap_session_on_untagged(is->s, "LSUB", on_lsub, &acc);
        mf_imap_cmd_text(&c, "LSUB \"\" ");
        if (strcmp(is->list_pattern, "*") == 0)
            mf_imap_cmd_text(&c, "*");
        else
            mf_imap_cmd_astring(&c, (const uint8_t *)is->list_pattern,
                                strlen(is->list_pattern));
        rc = run_cmd(is, &c);
        mf_imap_session_on_untagged(is->s, "LSUB", NULL, NULL);
        if (rc != MF_E_OK)
            goto out;
    }
    if (rc == MF_E_OK && is->root_inbox) {
        const char *root = is->base.caps.prefix;
        struct mf_store_folder f = {.name = (const uint8_t *)root,
                                    .len = strlen(root) - 1,
                                    .delim = is->base.caps.delim,
                                    .attrs = MF_FOLDER_ATTR_USER_ROOT,
                                    .subscribed = true};
        rc = cb(ud, &f);
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
    if (is->exists)
        is->exists--;
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
    is->exists = info.exists;
    return MF_E_OK;
}

/* STATUS (imap/session_status.c): the folder is not selected. */
static mf_err
imap_status(struct mf_store *st, const char *name,
            struct mf_store_status *status_r) {
    struct imap_store *is = IS(st);
    struct mf_imap_status_info info = {0};
    mf_err rc;

    rc = mf_imap_session_status(is->s, name, &info);
    if (rc != MF_E_OK)
        return fail_from_session(is, rc);
    status_r->uidvalidity = info.uidvalidity;
    status_r->uidnext = info.uidnext;
    status_r->messages = info.messages;
    status_r->highestmodseq = st->caps.condstore ? info.highestmodseq : 0;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Metadata                                                            */
/* ------------------------------------------------------------------ */

/* flag-keyword = atom; flag-extension = "\" atom   (RFC 3501 section 9)
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials
 * What APPEND can carry back: a server that sends a flag as a quoted
 * string still has it copied when its text is an atom. */
static bool
flag_text_ok(const char *s) {
    if (*s == '\\')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
            strchr("(){%*\"\\]", *s))
            return false;
    return true;
}

/* Renders a FLAGS list as "\Seen $Work" into out, leaving out \Recent (a
 * session flag that APPEND cannot set, RFC 3501 section 2.3.2). False
 * when a flag cannot be written back in an APPEND. */
static bool
render_flags(const struct mf_imap_arg *a, struct mf_buf *out) {
    const struct mf_imap_arg *f;
    size_t n;

    mf_buf_reset(out);
    if (!mf_imap_arg_as_list(a, &f, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        if (mf_imap_arg_is_nil(&f[i]) || !mf_imap_arg_as_astring(&f[i], &s) ||
            !flag_text_ok(s))
            return false;
        if (strcasecmp(s, "\\Recent") == 0)
            continue;
        if (out->len)
            mf_buf_append(out, " ", 1);
        mf_buf_append_str(out, s);
    }
    mf_buf_append(out, "", 1);
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

/* One FETCH response during fetch_meta(): its items go to the merger
 * (metamerge.h), which delivers each message once everything about it is
 * known. A response without UID (the second half of a split one) is
 * about the UID its sequence number had. */
static mf_err
on_meta_fetch(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    const struct mf_imap_arg *items, *a;
    size_t n;
    struct mf__meta_items it = {0};
    struct mf_buf flags = {0}, subject = {0};
    mf_err rc;

    if (!r->has_number || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n))
        return MF_E_OK;
    if ((a = mf_imap_args_find(items, n, "UID"))) {
        if (!mf_imap_arg_as_u32(a, &it.uid) || it.uid == 0)
            return MF_E_OK;
        map_put(is, r->number, it.uid);
    } else if ((it.uid = map_uid(is, r->number)) == 0) {
        return MF_E_OK;
    }
    /* "n:*" always includes the last message (RFC 3501 6.4.8). */
    if (it.uid < is->mfirst || (is->mlast && it.uid > is->mlast))
        return MF_E_OK;
    if ((a = mf_imap_args_find(items, n, "RFC822.SIZE")) &&
        mf_imap_arg_as_u64(a, &it.size))
        it.have |= MF__META_SIZE;
    /* INTERNALDATE NIL: copied without a date (the target's "now"),
     * never as the text "NIL". */
    if ((a = mf_imap_args_find(items, n, "INTERNALDATE")) &&
        (mf_imap_arg_is_nil(a) || mf_imap_arg_as_astring(a, &it.date)))
        it.have |= MF__META_DATE;
    if ((a = mf_imap_args_find(items, n, "FLAGS")) && render_flags(a, &flags)) {
        it.flags = (const char *)flags.data;
        it.have |= MF__META_FLAGS;
    }
    if ((a = find_header_item(items, n))) {
        scan_header(is, a, &subject, &it.message_id);
        if (subject.len) {
            mf_buf_append(&subject, "", 1);
            it.subject = (const char *)subject.data;
        }
        it.have |= MF__META_HEADER;
    }
    rc = mf__meta_merge_add(is->merge, &it, is->mcb, is->mud);
    mf_buf_free(&flags);
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
    is->merge = mf__meta_merge_new(
        MF__META_SIZE | MF__META_DATE | MF__META_FLAGS |
        (what & (MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT)
             ? MF__META_HEADER
             : 0));
    mf_imap_session_on_untagged(is->s, "FETCH", on_meta_fetch, is);
    rc = run_cmd(is, &c);
    mf_imap_session_on_untagged(is->s, "FETCH", NULL, NULL);
    if (rc == MF_E_OK &&
        (rc = mf__meta_merge_finish(is->merge, cb, ud)) != MF_E_OK)
        rc = mf_store_fail(st, rc, "FETCH: the callback failed");
    mf__meta_merge_free(&is->merge);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Counting                                                            */
/* ------------------------------------------------------------------ */

/* RFC 3501 7.3.1: "* n EXISTS" is the folder's message count, sent by
 * SELECT and whenever it changes. */
static mf_err
on_exists(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    if (r->has_number)
        is->exists = r->number;
    return MF_E_OK;
}

struct count_ctx {
    struct imap_store *is;
    uint32_t first, last_uid, n;
};

static mf_err
on_count_fetch(void *ud, const struct mf_imap_response *r) {
    struct count_ctx *cc = ud;
    const struct mf_imap_arg *items, *a;
    size_t n;
    uint32_t uid;

    if (!r->has_number || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n) ||
        !(a = mf_imap_args_find(items, n, "UID")) ||
        !mf_imap_arg_as_u32(a, &uid))
        return MF_E_OK;
    map_put(cc->is, r->number, uid);
    if (uid >= cc->first && uid != cc->last_uid) {
        cc->n++;
        cc->last_uid = uid;
    }
    return MF_E_OK;
}

/* The whole folder: the EXISTS count the server keeps us told of. From
 * a UID on: a UID FETCH of nothing but UIDs, which a server that drops
 * messages from a listing with sizes and dates still answers in full. */
static mf_err
imap_count(struct mf_store *st, uint32_t first, uint32_t *n_r) {
    struct imap_store *is = IS(st);
    struct count_ctx cc = {.is = is, .first = first};
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    if (first <= 1) {
        *n_r = is->exists;
        return MF_E_OK;
    }
    mf_imap_cmd_textf(&c, "UID FETCH %u:* (UID)", first);
    mf_imap_session_on_untagged(is->s, "FETCH", on_count_fetch, &cc);
    rc = run_cmd(is, &c);
    mf_imap_session_on_untagged(is->s, "FETCH", NULL, NULL);
    if (rc == MF_E_OK)
        *n_r = cc.n;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */
/* ------------------------------------------------------------------ */

static void
mark_got(struct imap_store *is, uint32_t uid) {
    size_t lo = mf_u32_lower_bound(is->asked, is->nasked, uid);
    if (lo < is->nasked && is->asked[lo] == uid)
        is->got[lo] = 1;
}

static bool
was_asked(const struct imap_store *is, uint32_t uid) {
    size_t lo = mf_u32_lower_bound(is->asked, is->nasked, uid);
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
    is->lit_ended = uid;
    return MF_E_OK;
}

/* The FETCH response that carried a streamed body is complete: its UID
 * item (which may come after the body) must be the UID the body was
 * filed under by its sequence number, or the bytes belong to another
 * message. Only then does the body end (the engine holds back its last
 * bytes until then, so the target never commits a misfiled body). */
static mf_err
streamed_done(struct imap_store *is, uint32_t uid) {
    uint32_t filed = is->lit_ended;

    is->lit_ended = 0;
    if (uid != filed) {
        is->cb_error = mf_store_fail(
            &is->base, MF_E_IMAP_UNEXPECTED,
            "UID FETCH: a body filed under UID %u (by its sequence number) "
            "came in the response of UID %u",
            filed, uid);
        return is->cb_error;
    }
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
    if ((a = mf_imap_args_find(items, n, "UID"))) {
        if (!mf_imap_arg_as_u32(a, &uid))
            uid = 0;
        else
            map_put(is, r->number, uid);
    } else {
        uid = map_uid(is, r->number);
    }
    body = mf_imap_args_find(items, n, "BODY[]");
    if (body && body->type == MF_IMAP_ARG_STREAMED && is->lit_ended)
        return streamed_done(is, uid);
    if (!uid || !body || body->type == MF_IMAP_ARG_STREAMED ||
        !was_asked(is, uid))
        return MF_E_OK;
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
    is->lit_ended = 0;
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

/* Drops the finished entries at the head of the queue. */
static void
drop_finished(struct imap_store *is) {
    while (is->qlen > 0 && is->q[is->qhead]->cb == NULL) {
        free(is->q[is->qhead]);
        is->qhead = (is->qhead + 1) % is->qcap;
        is->qlen--;
    }
}

/* Every queued callback runs now (CANCELLED) and no body source is read
 * again: the caller is about to free them (session.h, abort). */
static void
imap_cancel(struct mf_store *st) {
    struct imap_store *is = IS(st);

    mf_imap_session_abort(is->s, "cancelled: the folder copy ended");
    drop_finished(is);
}

static void
imap_close(struct mf_store *st) {
    struct imap_store *is = IS(st);

    /* LOGOUT must not send what is still queued: the body sources of
     * queued appends may be gone with their folder. */
    mf_imap_session_abort(is->s, "store closed");
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
    free(is->list_pattern);
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
    .status = imap_status,
    .select = imap_select,
    .fetch_meta = imap_fetch_meta,
    .count = imap_count,
    .fetch_bodies = imap_fetch_bodies,
    .append = imap_append,
    .set_flags = imap_set_flags,
    .flush = imap_flush,
    .cancel = imap_cancel,
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

struct root_found {
    bool found, selectable;
    char delim;
};

static mf_err
on_root(void *ud, const struct mf_imap_list_entry *e) {
    struct root_found *rf = ud;
    unsigned a = attrs_of(e->raw, e->nraw);

    rf->found = true;
    rf->delim = e->delimiter;
    rf->selectable =
        !(a & (MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT));
    return MF_E_OK;
}

/* The CSV's UserRoot (Exchange Online's IMAP migration: "the location of
 * the user's mailbox on the IMAP server", for a login that sees many
 * users' mailboxes, as with Dovecot's shared namespace "shared/<user>/"
 * or a Courier or UW tree): the user's folders are the ones below root.
 * LIST lists only them, and root plus its delimiter becomes the
 * namespace prefix the folder plan takes away, so "shared/ann/Sent" is
 * copied to "Sent" and "shared/ann/INBOX" to INBOX. A root that can be
 * selected (Cyrus's "user.ann" seen by its admin, UW and Courier trees)
 * is the user's INBOX itself (MF_FOLDER_ATTR_USER_ROOT). RFC 3501 6.3.8: the
 * root must exist as a name (selectable or not); a root the server does
 * not list is the mailbox's own error. */
static mf_err
user_root(struct imap_store *is, const char *root) {
    struct root_found rf = {0};
    mf_err rc = mf_imap_session_list(is->s, "", root, NULL, on_root, &rf);

    if (rc == MF_E_OK && !rf.found && is->base.caps.delim) {
        /* Dovecot lists "shared/ann@x/..." but not "shared/ann@x" itself:
         * a root with children is a root (not selectable). */
        char *children = mf_xasprintf("%s%c%%", root, is->base.caps.delim);
        rc = mf_imap_session_list(is->s, "", children, NULL, on_root, &rf);
        free(children);
        rf.selectable = false;
    }
    if (rc != MF_E_OK)
        return fail_from_session(is, rc);
    if (!rf.found || !rf.delim)
        return mf_store_fail(&is->base, MF_E_MAILBOX_MISSING,
                             "UserRoot \"%.100s\" is not a folder the "
                             "source login can see",
                             root);
    if (strlen(root) + 2 > sizeof(is->base.caps.prefix))
        return mf_store_fail(&is->base, MF_E_CONFIG, "UserRoot is too long");
    snprintf(is->base.caps.prefix, sizeof(is->base.caps.prefix), "%s%c", root,
             rf.delim);
    is->base.caps.delim = rf.delim;
    is->root_inbox = rf.selectable;
    free(is->list_pattern);
    is->list_pattern = mf_xasprintf("%s%c*", root, rf.delim);
    return MF_E_OK;
}

mf_err
mf_store_imap_wrap(struct mf_imap_session *s,
                   const struct mf_store_imap_options *o,
                   struct mf_store **st_r, struct mf_error *err) {
    struct imap_store *is = mf_xcalloc(1, sizeof(*is));
    mf_err rc;

    is->base.ops = &imap_ops;
    is->s = s;
    is->list_pattern = mf_xstrdup("*");
    is->base.caps.uidplus = mf_imap_session_has(s, MF_IMAP_CAP_UIDPLUS);
    is->base.caps.multiappend = mf_imap_session_has(s, MF_IMAP_CAP_MULTIAPPEND);
    is->base.caps.appendlimit = mf_imap_session_appendlimit(s);
    is->base.caps.condstore = mf_imap_session_has(s, MF_IMAP_CAP_CONDSTORE);
    mf_imap_session_on_untagged(s, "EXPUNGE", on_expunge, is);
    mf_imap_session_on_untagged(s, "EXISTS", on_exists, is);
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
    if (rc == MF_E_OK && o->user_root && o->user_root[0])
        rc = user_root(is, o->user_root);
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
    so.command_timeout_ms = o->command_timeout_ms;
    so.limits = &lim;
    rc =
        mf_imap_session_open(o->conn, o->login, &so, &s, err, retry_after_ms_r);
    if (rc != MF_E_OK)
        return rc;
    return mf_store_imap_wrap(s, o, st_r, err);
}
