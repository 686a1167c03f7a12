/*
 * The IMAP store's view of a selected folder's messages (store_imap_int.h):
 * metadata from pipelined UID FETCH commands (UID, FLAGS, RFC822.SIZE,
 * INTERNALDATE and, when asked, Message-ID, Subject and From from
 * BODY.PEEK[HEADER.FIELDS (...)]), counting a UID range, and asking
 * whether anything changed since a mod-sequence (RFC 7162 CHANGEDSINCE).
 *
 * A message's metadata may come in several FETCH responses (RFC 3501
 * 7.4.2): metamerge.h gathers them per UID, and a message still missing
 * an item when the command ends is delivered as such, never dropped.
 * Every FETCH that carries a UID also files it in the sequence map
 * (store_imap_select.c), which the streamed bodies depend on.
 */
#include "migrate/metamerge.h"
#include "migrate/store_imap_int.h"

#include "mailferry/fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The fetch_meta() items that come from BODY[HEADER.FIELDS (...)]. */
#define HEADER_FIELDS                                                          \
    (MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT | MF_STORE_META_FROM)

/* Message-ID, Subject and From from a BODY[HEADER.FIELDS (...)]
 * literal. */
static void
scan_header(struct imap_store *is, const struct mf_imap_arg *a,
            struct mf_buf *subject, const char **msgid_r, const char **from_r) {
    const uint8_t *d;
    size_t n;

    *msgid_r = NULL;
    *from_r = NULL;
    if (!a || !mf_imap_arg_as_string(a, &d, &n))
        return;
    if (!is->scan)
        is->scan = mf_header_scan_new(MF_HEADER_SCAN_MAX);
    mf_header_scan_reset(is->scan);
    mf_header_scan_feed(is->scan, d, n);
    mf_header_scan_finish(is->scan);
    *msgid_r = mf_header_scan_message_id(is->scan);
    *from_r = mf_header_scan_from(is->scan);
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
        if (!mf_imap_arg_as_u32(a, &it.m.uid) || it.m.uid == 0)
            return MF_E_OK;
        mf__store_imap_map_put(is, r->number, it.m.uid);
    } else if ((it.m.uid = mf__store_imap_map_uid(is, r->number)) == 0) {
        return MF_E_OK;
    }
    /* "n:*" always includes the last message (RFC 3501 6.4.8). */
    if (it.m.uid < is->mfirst || (is->mlast && it.m.uid > is->mlast))
        return MF_E_OK;
    if ((a = mf_imap_args_find(items, n, "RFC822.SIZE")) &&
        mf_imap_arg_as_u64(a, &it.m.size))
        it.have |= MF__META_SIZE;
    /* INTERNALDATE NIL: copied without a date (the target's "now"),
     * never as the text "NIL". */
    if ((a = mf_imap_args_find(items, n, "INTERNALDATE")) &&
        (mf_imap_arg_is_nil(a) || mf_imap_arg_as_astring(a, &it.m.date)))
        it.have |= MF__META_DATE;
    if ((a = mf_imap_args_find(items, n, "FLAGS")) && render_flags(a, &flags)) {
        it.m.flags = (const char *)flags.data;
        it.have |= MF__META_FLAGS;
    }
    /* developers.google.com/gmail/imap/imap-extensions: X-GM-MSGID is
     * a 64-bit number, the same in every label folder. */
    if ((a = mf_imap_args_find(items, n, "X-GM-MSGID")) &&
        mf_imap_arg_as_u64(a, &it.m.gm_msgid))
        it.have |= MF__META_GMID;
    if ((a = find_header_item(items, n))) {
        scan_header(is, a, &subject, &it.m.message_id, &it.m.from);
        if (subject.len) {
            mf_buf_append(&subject, "", 1);
            it.m.subject = (const char *)subject.data;
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

mf_err
mf__store_imap_fetch_meta(struct mf_store *st, uint32_t first, uint32_t last,
                          unsigned what, mf_store_meta_cb cb, void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev;
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
    if ((what & MF_STORE_META_GMAIL) && is->base.caps.gmail_ext)
        mf_imap_cmd_text(&c, " X-GM-MSGID");
    if (what & HEADER_FIELDS) {
        /* RFC 3501 6.4.5: BODY.PEEK[HEADER.FIELDS (header-list)]. */
        static const struct {
            unsigned bit;
            const char *name;
        } fields[] = {{MF_STORE_META_MESSAGE_ID, "MESSAGE-ID"},
                      {MF_STORE_META_SUBJECT, "SUBJECT"},
                      {MF_STORE_META_FROM, "FROM"}};
        const char *sep = "";
        mf_imap_cmd_text(&c, " BODY.PEEK[HEADER.FIELDS (");
        for (size_t i = 0; i < MF_ARRAY_LEN(fields); i++)
            if (what & fields[i].bit) {
                mf_imap_cmd_textf(&c, "%s%s", sep, fields[i].name);
                sep = " ";
            }
        mf_imap_cmd_text(&c, ")]");
    }
    mf_imap_cmd_text(&c, ")");
    is->mcb = cb;
    is->mud = ud;
    is->mfirst = first;
    is->mlast = last;
    is->merge = mf__meta_merge_new(
        MF__META_SIZE | MF__META_DATE | MF__META_FLAGS |
        (what & HEADER_FIELDS ? MF__META_HEADER : 0) |
        ((what & MF_STORE_META_GMAIL) && is->base.caps.gmail_ext ? MF__META_GMID
                                                                 : 0));
    mf_imap_session_push_untagged(is->s, "FETCH", on_meta_fetch, is, &prev);
    rc = mf__store_imap_run(is, &c);
    mf_imap_session_pop_untagged(is->s, &prev);
    if (rc == MF_E_OK &&
        (rc = mf__meta_merge_finish(is->merge, cb, ud)) != MF_E_OK)
        rc = mf_store_fail(st, rc, "FETCH: the callback failed");
    mf__meta_merge_free(&is->merge);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Counting                                                            */
/* ------------------------------------------------------------------ */

struct count_ctx {
    struct imap_store *is;
    uint32_t first, last, last_uid, n;
};

/* The UID of an untagged FETCH that carries one, noted in the sequence
 * number map; false for any other FETCH. */
static bool
fetch_uid(struct imap_store *is, const struct mf_imap_response *r,
          uint32_t *uid_r) {
    const struct mf_imap_arg *items, *a;
    size_t n;

    if (!r->has_number || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n) ||
        !(a = mf_imap_args_find(items, n, "UID")) ||
        !mf_imap_arg_as_u32(a, uid_r))
        return false;
    mf__store_imap_map_put(is, r->number, *uid_r);
    return true;
}

static mf_err
on_count_fetch(void *ud, const struct mf_imap_response *r) {
    struct count_ctx *cc = ud;
    uint32_t uid;

    if (!fetch_uid(cc->is, r, &uid))
        return MF_E_OK;
    if (uid >= cc->first && (!cc->last || uid <= cc->last) &&
        uid != cc->last_uid) {
        cc->n++;
        cc->last_uid = uid;
    }
    return MF_E_OK;
}

/* The whole folder: the EXISTS count the server keeps us told of. A UID
 * range: a UID FETCH of nothing but UIDs, which a server that drops
 * messages from a listing with sizes and dates still answers in full. */
mf_err
mf__store_imap_count(struct mf_store *st, uint32_t first, uint32_t last,
                     uint32_t *n_r) {
    struct imap_store *is = mf__store_imap(st);
    struct count_ctx cc = {.is = is, .first = first, .last = last};
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev;
    mf_err rc;

    if (first <= 1 && last == 0) {
        *n_r = is->exists;
        return MF_E_OK;
    }
    if (first == 0)
        first = 1;
    if (last)
        mf_imap_cmd_textf(&c, "UID FETCH %u:%u (UID)", first, last);
    else
        mf_imap_cmd_textf(&c, "UID FETCH %u:* (UID)", first);
    mf_imap_session_push_untagged(is->s, "FETCH", on_count_fetch, &cc, &prev);
    rc = mf__store_imap_run(is, &c);
    mf_imap_session_pop_untagged(is->s, &prev);
    if (rc == MF_E_OK)
        *n_r = cc.n;
    return rc;
}

struct changed_ctx {
    struct imap_store *is;
    uint32_t first, last;
    bool changed;
};

static mf_err
on_changed_fetch(void *ud, const struct mf_imap_response *r) {
    struct changed_ctx *cc = ud;
    uint32_t uid;

    if (!fetch_uid(cc->is, r, &uid))
        return MF_E_OK;
    if (uid >= cc->first && uid <= cc->last)
        cc->changed = true;
    return MF_E_OK;
}

/* RFC 7162 section 3.1.4.1, the CHANGEDSINCE FETCH modifier:
 *   fetch-modifier =/ chgsince-fetch-mod
 *   chgsince-fetch-mod = "CHANGEDSINCE" SP mod-sequence-value
 * Only messages whose mod-sequence is above it are answered (with their
 * MODSEQ); none: nothing changed. Using it enables CONDSTORE for the
 * session (section 3.1), which changes nothing we read. */
mf_err
mf__store_imap_changed_since(struct mf_store *st, uint32_t first, uint32_t last,
                             uint64_t modseq, bool *changed_r) {
    struct imap_store *is = mf__store_imap(st);
    struct changed_ctx cc = {.is = is, .first = first, .last = last};
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev;
    mf_err rc;

    if (!st->caps.condstore)
        return mf_store_fail(st, MF_E_STATE, "no CONDSTORE");
    mf_imap_cmd_textf(&c, "UID FETCH %u:%u (UID) (CHANGEDSINCE %llu)", first,
                      last, (unsigned long long)modseq);
    mf_imap_session_push_untagged(is->s, "FETCH", on_changed_fetch, &cc, &prev);
    rc = mf__store_imap_run(is, &c);
    mf_imap_session_pop_untagged(is->s, &prev);
    if (rc == MF_E_OK)
        *changed_r = cc.changed;
    return rc;
}
