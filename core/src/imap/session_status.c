/*
 * STATUS (RFC 3501 section 6.3.10): a folder's counters without selecting
 * it. The incremental pass asks it of every folder on both sides and
 * skips a folder whose answers are those of the last pass
 * (migrate/unchanged.c), so a pass over an unchanged mailbox selects and
 * lists nothing.
 *
 *   status          = "STATUS" SP mailbox SP
 *                     "(" status-att *(SP status-att) ")"
 *   mailbox-data    =/ "STATUS" SP mailbox SP "(" [status-att-list] ")"
 *   status-att-list = status-att SP number *(SP status-att SP number)
 *   status-att      =/ "HIGHESTMODSEQ"            (RFC 7162 section 7)
 *
 * HIGHESTMODSEQ is asked only of a server that announces CONDSTORE; a
 * server that keeps no mod-sequences for the folder answers 0 (RFC 7162
 * section 3.1.3), which the caller takes as "not known".
 */
#include "imap/session_int.h"

#include <string.h>
#include <strings.h>

bool
mf_imap_status_parse(const struct mf_imap_response *r, const char *name,
                     struct mf_imap_status_info *info_r) {
    const struct mf_imap_arg *items;
    const uint8_t *mb;
    size_t mblen, n;
    struct mf_imap_status_info info = *info_r;

    if (r->nargs < 2 || !mf_imap_arg_as_string(&r->args[0], &mb, &mblen) ||
        !mf_imap_arg_as_list(&r->args[1], &items, &n) || n % 2)
        return false;
    /* INBOX is case-insensitive (RFC 3501 section 5.1); other names are
     * compared as the bytes we sent. */
    if (mblen != strlen(name) ||
        (strcasecmp(name, "INBOX") == 0
             ? strncasecmp((const char *)mb, name, mblen) != 0
             : memcmp(mb, name, mblen) != 0))
        return false;
    for (size_t i = 0; i < n; i += 2) {
        const struct mf_imap_arg *k = &items[i], *v = &items[i + 1];
        bool ok = true;
        if (mf_imap_arg_atom_eq(k, "MESSAGES"))
            ok = mf_imap_arg_as_u32(v, &info.messages);
        else if (mf_imap_arg_atom_eq(k, "UIDNEXT"))
            ok = mf_imap_arg_as_u32(v, &info.uidnext);
        else if (mf_imap_arg_atom_eq(k, "UIDVALIDITY"))
            ok = mf_imap_arg_as_u32(v, &info.uidvalidity);
        else if (mf_imap_arg_atom_eq(k, "HIGHESTMODSEQ"))
            ok = mf_imap_arg_as_u64(v, &info.highestmodseq);
        if (!ok)
            return false;
    }
    *info_r = info;
    return true;
}

struct status_ctx {
    const char *name;
    struct mf_imap_status_info info;
    bool seen;
};

static mf_err
on_status(void *ud, const struct mf_imap_response *r) {
    struct status_ctx *c = ud;

    if (mf_imap_status_parse(r, c->name, &c->info))
        c->seen = true;
    return MF_E_OK;
}

mf_err
mf_imap_session_status(struct mf_imap_session *s, const char *mailbox,
                       struct mf_imap_status_info *info_r) {
    struct mf_imap_cmd_spec c = {0};
    struct status_ctx ctx = {.name = mailbox};
    struct mf_imap_untagged_prev prev;
    mf_err rc;

    /* A caller's own STATUS handler is put back afterwards. */
    mf_imap_session_push_untagged(s, "STATUS", on_status, &ctx, &prev);
    mf_imap_cmd_text(&c, "STATUS ");
    mf_imap_cmd_astring(&c, (const uint8_t *)mailbox, strlen(mailbox));
    mf_imap_cmd_text(&c, mf_imap_session_has(s, MF_IMAP_CAP_CONDSTORE)
                             ? " (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
                             : " (MESSAGES UIDNEXT UIDVALIDITY)");
    rc = mf__imap_session_sync(s, &c);
    mf_imap_session_pop_untagged(s, &prev);
    if (rc == MF_E_OK && !ctx.seen) {
        struct mf_imap_result *last = mf__imap_session_last_mut(s);
        rc = mf_error_set(&last->error, MF_E_IMAP_UNEXPECTED,
                          "STATUS %.200s: OK without a STATUS response",
                          mailbox);
    }
    if (rc == MF_E_OK)
        *info_r = ctx.info;
    return rc;
}
