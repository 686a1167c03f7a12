/*
 * The IMAP store's reading side (store_imap_int.h): SELECT (also sent
 * ahead, so that it overlaps the engine's work on the source), STATUS,
 * metadata and bodies from pipelined UID FETCH commands, and counting.
 *
 * Bodies are fetched with BODY.PEEK[] so nothing is marked \Seen (RFC
 * 3501 section 6.4.5). Bodies above the stream threshold arrive through
 * the session's literal sink in chunks and go straight to the caller's
 * body callbacks, so a 40 MB message never sits in memory whole.
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
 */
#include "migrate/metamerge.h"
#include "migrate/store_imap_int.h"

#include "mailferry/fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* UIDs per body FETCH command: small enough that a vanished message is
 * found soon, large enough that command overhead does not matter. */
#define BODY_UIDS_PER_CMD 50
/* First size of the sequence map. */
#define SEQMAP_MIN 64

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
mf_err
mf__store_imap_on_expunge(void *ud, const struct mf_imap_response *r) {
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

/* The answer to a SELECT sent ahead (select_ahead()). */
static void
ahead_done(void *ud, const struct mf_imap_result *res) {
    struct imap_store *is = ud;

    is->ahead.done = true;
    is->ahead.error = res->error;
    is->ahead.retry_after_ms = res->retry_after_ms;
    if (res->error.code == MF_E_OK)
        is->ahead.info = *mf_imap_session_mailbox(is->s);
}

/* SELECT name now, without waiting: on a WAN each SELECT is a round trip
 * the caller can spend on the other server meanwhile. A failure to send
 * is left for select() to meet. */
void
mf__store_imap_select_ahead(struct mf_store *st, const char *name) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};

    if (is->ahead.name)
        return; /* one at a time: select() takes it */
    mf_imap_cmd_text(&c, "SELECT ");
    mf_imap_cmd_astring(&c, (const uint8_t *)name, strlen(name));
    if (mf_imap_session_submit(is->s, &c, ahead_done, is, &is->ahead.id) ==
        MF_E_OK) {
        is->ahead.name = mf_xstrdup(name);
        is->ahead.done = false;
        /* On the wire now, not at the next wait. A failure broke the
         * session (select() meets it), and may have run ahead_done. */
        mf_err rc = mf_imap_session_send(is->s);
        (void)rc;
    }
    mf_imap_cmd_clear(&c);
}

/* The answer of the SELECT sent ahead for name into info_r: true when it
 * was for name and answered (rc_r its code), false when none was sent
 * for it (one for another name is waited out first, so nothing is left
 * in flight). */
static bool
take_ahead(struct imap_store *is, const char *name, bool readonly,
           struct mf_imap_mailbox_info *info_r, mf_err *rc_r) {
    bool mine;
    mf_err rc = MF_E_OK;

    if (!is->ahead.name)
        return false;
    mine = !readonly && strcmp(is->ahead.name, name) == 0;
    if (!is->ahead.done)
        rc = mf_imap_session_wait(is->s, is->ahead.id, -1);
    free(is->ahead.name);
    is->ahead.name = NULL;
    if (rc != MF_E_OK) { /* the session broke: no SELECT goes anywhere */
        *rc_r = mf__store_imap_fail(is, rc);
        return true;
    }
    /* Cancelled meanwhile (the store's cancel): select as usual. */
    if (!mine || is->ahead.error.code == MF_E_CANCELLED)
        return false;
    if ((*rc_r = is->ahead.error.code) != MF_E_OK) {
        is->base.error = is->ahead.error;
        is->base.retry_after_ms = is->ahead.retry_after_ms;
    }
    *info_r = is->ahead.info;
    return true;
}

/* The next range of a UID set, RFC 3501 section 9:
 *   sequence-set = (seq-number / seq-range) ["," sequence-set]
 *   seq-range    = seq-number ":" seq-number
 * A VANISHED response holds UIDs, so no "*". false at the end or at text
 * that is not a set. */
static bool
next_range(const char **p, uint32_t *lo_r, uint32_t *hi_r) {
    const char *s = *p;
    char *end;
    unsigned long a, b;

    if (*s == ',')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    a = strtoul(s, &end, 10);
    b = a;
    if (*end == ':') {
        s = end + 1;
        if (*s < '0' || *s > '9')
            return false;
        b = strtoul(s, &end, 10);
    }
    if (a == 0 || b == 0 || a > UINT32_MAX || b > UINT32_MAX ||
        (*end && *end != ','))
        return false;
    *lo_r = (uint32_t)(a < b ? a : b);
    *hi_r = (uint32_t)(a < b ? b : a);
    *p = end;
    return true;
}

/* RFC 7162 3.2.10: "* VANISHED [(EARLIER)] known-uids". With EARLIER it
 * answers vanished() (the ranges go to its callback). Without, messages
 * were expunged now, reported so instead of EXPUNGE once QRESYNC is on:
 * they leave the sequence map, and every message with a higher UID (so a
 * higher sequence number) moves down by one per expunged UID below it. */
mf_err
mf__store_imap_on_vanished(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    const struct mf_imap_arg *tag;
    const char *set, *p;
    size_t ntag, at = 0, k = 0;
    uint32_t lo, hi;
    uint64_t gone = 0;
    bool earlier = false;

    if (r->nargs >= 1 && mf_imap_arg_as_list(&r->args[0], &tag, &ntag)) {
        const char *word;
        earlier = ntag == 1 && mf_imap_arg_as_astring(&tag[0], &word) &&
                  strcasecmp(word, "EARLIER") == 0;
        at = 1;
    }
    if (at >= r->nargs || !mf_imap_arg_as_astring(&r->args[at], &set))
        return MF_E_OK;
    if (earlier) {
        for (p = set; is->vcb && next_range(&p, &lo, &hi);)
            is->vcb(is->vud, lo, hi);
        return MF_E_OK;
    }
    for (size_t i = 0; i < is->nmap; i++) {
        struct mf__store_seqent e = is->map[i];
        uint32_t below = 0;
        bool out = false;
        for (p = set; next_range(&p, &lo, &hi);) {
            if (e.uid >= lo && e.uid <= hi)
                out = true;
            else if (hi < e.uid)
                below += hi - lo + 1;
        }
        if (out)
            continue;
        e.seq = e.seq > below ? e.seq - below : 1;
        is->map[k++] = e;
    }
    is->nmap = k;
    for (p = set; next_range(&p, &lo, &hi);)
        gone += (uint64_t)(hi - lo) + 1;
    is->exists = is->exists > gone ? is->exists - (uint32_t)gone : 0;
    return MF_E_OK;
}

mf_err
mf__store_imap_vanished(struct mf_store *st, uint32_t last, uint64_t modseq,
                        void (*cb)(void *ud, uint32_t lo, uint32_t hi),
                        void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    if (!st->caps.qresync)
        return mf_store_fail(st, MF_E_INTERNAL, "QRESYNC is not enabled");
    if (last == 0)
        return MF_E_OK;
    is->vcb = cb;
    is->vud = ud;
    /* RFC 7162 3.2.6: the VANISHED modifier reports, as "VANISHED
     * (EARLIER)", the UIDs of the set expunged since the mod-sequence. */
    mf_imap_cmd_textf(&c, "UID FETCH 1:%u (UID) (CHANGEDSINCE %llu VANISHED)",
                      last, (unsigned long long)modseq);
    rc = mf__store_imap_run(is, &c);
    is->vcb = NULL;
    is->vud = NULL;
    return rc;
}

mf_err
mf__store_imap_select(struct mf_store *st, const char *name, bool readonly,
                      struct mf_store_select *sel_r) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_mailbox_info info;
    mf_err rc;

    is->nmap = 0;
    if (!take_ahead(is, name, readonly, &info, &rc)) {
        rc = mf_imap_session_select(is->s, name, readonly, &info);
        if (rc != MF_E_OK)
            rc = mf__store_imap_fail(is, rc);
    }
    if (rc != MF_E_OK)
        return rc;
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
mf_err
mf__store_imap_status(struct mf_store *st, const char *name,
                      struct mf_store_status *status_r) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_status_info info = {0};
    mf_err rc;

    rc = mf_imap_session_status(is->s, name, &info);
    if (rc != MF_E_OK)
        return mf__store_imap_fail(is, rc);
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
    /* developers.google.com/gmail/imap/imap-extensions: X-GM-MSGID is
     * a 64-bit number, the same in every label folder. */
    if ((a = mf_imap_args_find(items, n, "X-GM-MSGID")) &&
        mf_imap_arg_as_u64(a, &it.gm_msgid))
        it.have |= MF__META_GMID;
    if ((a = find_header_item(items, n))) {
        scan_header(is, a, &subject, &it.message_id, &it.from);
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

/* RFC 3501 7.3.1: "* n EXISTS" is the folder's message count, sent by
 * SELECT and whenever it changes. */
mf_err
mf__store_imap_on_exists(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    if (r->has_number)
        is->exists = r->number;
    return MF_E_OK;
}

struct count_ctx {
    struct imap_store *is;
    uint32_t first, last_uid, n;
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
    map_put(is, r->number, *uid_r);
    return true;
}

static mf_err
on_count_fetch(void *ud, const struct mf_imap_response *r) {
    struct count_ctx *cc = ud;
    uint32_t uid;

    if (!fetch_uid(cc->is, r, &uid))
        return MF_E_OK;
    if (uid >= cc->first && uid != cc->last_uid) {
        cc->n++;
        cc->last_uid = uid;
    }
    return MF_E_OK;
}

/* The whole folder: the EXISTS count the server keeps us told of. From
 * a UID on: a UID FETCH of nothing but UIDs, which a server that drops
 * messages from a listing with sizes and dates still answers in full. */
mf_err
mf__store_imap_count(struct mf_store *st, uint32_t first, uint32_t *n_r) {
    struct imap_store *is = mf__store_imap(st);
    struct count_ctx cc = {.is = is, .first = first};
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev;
    mf_err rc;

    if (first <= 1) {
        *n_r = is->exists;
        return MF_E_OK;
    }
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

/* RFC 4315 section 2.1: "UID EXPUNGE sequence-set" expunges only the
 * messages of the set that have \Deleted, so a message another client
 * marked \Deleted stays. The set is sent as given (ascending). */
mf_err
mf__store_imap_expunge_uids(struct mf_store *st, const uint32_t *uids,
                            size_t n) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    if (n == 0)
        return MF_E_OK;
    if (!st->caps.uidplus)
        return mf_store_fail(st, MF_E_DELETE_NEEDS_UIDPLUS,
                             "the target has no UIDPLUS (RFC 4315): a plain "
                             "EXPUNGE would remove more than mailferry's "
                             "messages, so nothing is deleted");
    mf_imap_cmd_text(&c, "UID STORE ");
    add_uid_set(&c, uids, n);
    mf_imap_cmd_text(&c, " +FLAGS.SILENT (\\Deleted)");
    if ((rc = mf__store_imap_run(is, &c)) != MF_E_OK)
        return rc;
    mf_imap_cmd_text(&c, "UID EXPUNGE ");
    add_uid_set(&c, uids, n);
    return mf__store_imap_run(is, &c);
}

/* The first UID FETCH that failed, with the server's words and its
 * suggested backoff (a source's throttling answer: "NO Request is
 * throttled. Suggested Backoff Time: N milliseconds" pauses the source
 * for N ms, not for the profile's default). */
struct first_failure {
    struct mf_error error;
    uint32_t retry_after_ms;
};

static void
note_failure(void *ud, const struct mf_imap_result *res) {
    struct first_failure *f = ud;
    if (res->error.code != MF_E_OK && f->error.code == MF_E_OK) {
        f->error = res->error;
        f->retry_after_ms = res->retry_after_ms;
    }
}

mf_err
mf__store_imap_fetch_bodies(struct mf_store *st, const uint32_t *uids, size_t n,
                            const struct mf_store_body_cb *cb, void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_untagged_prev prev;
    struct first_failure failed = {0};
    mf_err rc = MF_E_OK;

    if (n == 0)
        return MF_E_OK;
    is->bcb = cb;
    is->bud = ud;
    is->asked = uids;
    is->nasked = n;
    is->got = mf_xcalloc(n, 1);
    is->lit_uid = 0;
    is->lit_ended = 0;
    mf_imap_session_push_untagged(is->s, "FETCH", on_body_fetch, is, &prev);
    mf_imap_session_set_literal_sink(is->s, on_lit_begin, on_lit_data,
                                     on_lit_end, is);
    for (size_t i = 0; i < n && rc == MF_E_OK; i += BODY_UIDS_PER_CMD) {
        struct mf_imap_cmd_spec c = {0};
        size_t k = n - i < BODY_UIDS_PER_CMD ? n - i : BODY_UIDS_PER_CMD;
        mf_imap_cmd_text(&c, "UID FETCH ");
        add_uid_set(&c, uids + i, k);
        mf_imap_cmd_text(&c, " (UID BODY.PEEK[])");
        rc = mf_imap_session_submit(is->s, &c, note_failure, &failed, NULL);
        mf_imap_cmd_clear(&c);
    }
    if (rc == MF_E_OK)
        rc = mf_imap_session_run(is->s, -1);
    mf_imap_session_pop_untagged(is->s, &prev);
    mf_imap_session_set_literal_sink(is->s, NULL, NULL, NULL, NULL);
    if (rc != MF_E_OK) {
        rc = mf__store_imap_fail(is, rc);
    } else if (failed.error.code != MF_E_OK) {
        rc = mf_store_fail(st, failed.error.code,
                           "UID FETCH of message bodies: %s",
                           failed.error.detail);
        st->retry_after_ms = failed.retry_after_ms;
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

void
mf__store_imap_fetch_free(struct imap_store *is) {
    free(is->ahead.name);
    is->ahead.name = NULL;
    free(is->map);
    is->map = NULL;
    is->nmap = is->capmap = 0;
    mf_header_scan_free(&is->scan);
}
