/*
 * The IMAP store's selected folder (store_imap_int.h): SELECT (also sent
 * ahead, so that it overlaps the engine's work on the source), STATUS
 * (of one folder, or of a mailbox's folders pipelined),
 * and the state that lives as long as the selection: the message count
 * (EXISTS) and the sequence-number-to-UID map.
 *
 * The literal sink learns a literal's message sequence number, not its
 * UID (the UID item may come after the body in the FETCH response), so the
 * store keeps a sequence-number-to-UID map of the selected folder, filled
 * by every FETCH that carries a UID and kept right by EXPUNGE responses
 * (RFC 3501 section 7.4.1: they may arrive during UID FETCH) and, under
 * QRESYNC, by VANISHED responses (RFC 7162 section 3.2.10).
 */
#include "migrate/store_imap_int.h"

#include "mailferry/fingerprint.h"
#include "mailferry/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* First size of the sequence map. */
#define SEQMAP_MIN 64

/* ------------------------------------------------------------------ */
/* Sequence map                                                        */
/* ------------------------------------------------------------------ */

static size_t
map_find(const struct imap_store *is, uint32_t seq) {
    return mf_u32_lower_bound_by(is->map, is->nmap, sizeof(*is->map),
                                 offsetof(struct mf__store_seqent, seq), seq);
}

void
mf__store_imap_map_put(struct imap_store *is, uint32_t seq, uint32_t uid) {
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

uint32_t
mf__store_imap_map_uid(const struct imap_store *is, uint32_t seq) {
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

/* RFC 3501 7.3.1: "* n EXISTS" is the folder's message count, sent by
 * SELECT and whenever it changes. */
mf_err
mf__store_imap_on_exists(void *ud, const struct mf_imap_response *r) {
    struct imap_store *is = ud;
    if (r->has_number)
        is->exists = r->number;
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

mf_err
mf__store_imap_statuses(struct mf_store *st, const char *const *names, size_t n,
                        struct mf_store_status *status_r, bool *ok_r) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_status_info *info = mf_xcalloc(n ? n : 1, sizeof(*info));
    struct mf_error *errs = mf_xcalloc(n ? n : 1, sizeof(*errs));
    mf_err rc;

    rc = mf_imap_session_status_many(is->s, names, n, info, errs);
    if (rc != MF_E_OK)
        rc = mf__store_imap_fail(is, rc);
    for (size_t i = 0; rc == MF_E_OK && i < n; i++) {
        ok_r[i] = errs[i].code == MF_E_OK;
        memset(&status_r[i], 0, sizeof(status_r[i]));
        if (!ok_r[i])
            continue;
        status_r[i].uidvalidity = info[i].uidvalidity;
        status_r[i].uidnext = info[i].uidnext;
        status_r[i].messages = info[i].messages;
        status_r[i].highestmodseq =
            st->caps.condstore ? info[i].highestmodseq : 0;
    }
    free(info);
    free(errs);
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
