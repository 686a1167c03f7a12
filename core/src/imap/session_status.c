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
 *
 * mf_imap_session_status_many() asks it of a mailbox's folders at once,
 * pipelined: one round trip for the lot instead of one per folder.
 */
#include "imap/session_int.h"

#include <stdlib.h>
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

/* ------------------------------------------------------------------ */
/* Many folders, pipelined                                             */
/* ------------------------------------------------------------------ */

struct many_ctx {
    const char *const *names;
    struct mf_imap_status_info *infos;
    struct mf_error *errs;
    bool *seen;
    size_t n;
    size_t next; /* the first command not answered yet */
};

/* An untagged STATUS goes to the first unanswered command about its
 * mailbox: servers answer in order, so the search normally stops at
 * once (a name asked twice gets the same answer twice). */
static mf_err
on_status_many(void *ud, const struct mf_imap_response *r) {
    struct many_ctx *c = ud;

    for (size_t k = 0; k < c->n; k++) {
        size_t i = (c->next + k) % c->n;
        if (!c->seen[i] && mf_imap_status_parse(r, c->names[i], &c->infos[i])) {
            c->seen[i] = true;
            break;
        }
    }
    return MF_E_OK;
}

struct many_ans {
    struct many_ctx *c;
    size_t i;
};

static void
many_done(void *ud, const struct mf_imap_result *res) {
    struct many_ans *a = ud;

    a->c->errs[a->i] = res->error;
    if (a->i >= a->c->next)
        a->c->next = a->i + 1;
}

mf_err
mf_imap_session_status_many(struct mf_imap_session *s, const char *const *names,
                            size_t n, struct mf_imap_status_info *infos,
                            struct mf_error *errs) {
    struct many_ctx ctx = {
        .names = names, .infos = infos, .errs = errs, .n = n};
    struct many_ans *ans = mf_xcalloc(n ? n : 1, sizeof(*ans));
    uint32_t *ids = mf_xcalloc(n ? n : 1, sizeof(*ids));
    const char *items = mf_imap_session_has(s, MF_IMAP_CAP_CONDSTORE)
                            ? " (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
                            : " (MESSAGES UIDNEXT UIDVALIDITY)";
    struct mf_imap_untagged_prev prev;
    size_t sent = 0;
    mf_err rc = MF_E_OK;

    ctx.seen = mf_xcalloc(n ? n : 1, sizeof(*ctx.seen));
    memset(infos, 0, n * sizeof(*infos));
    memset(errs, 0, n * sizeof(*errs));
    mf_imap_session_push_untagged(s, "STATUS", on_status_many, &ctx, &prev);
    for (; sent < n; sent++) {
        struct mf_imap_cmd_spec c = {0};
        ans[sent].c = &ctx;
        ans[sent].i = sent;
        mf_imap_cmd_text(&c, "STATUS ");
        mf_imap_cmd_astring(&c, (const uint8_t *)names[sent],
                            strlen(names[sent]));
        mf_imap_cmd_text(&c, items);
        rc = mf_imap_session_submit(s, &c, many_done, &ans[sent], &ids[sent]);
        mf_imap_cmd_clear(&c);
        if (rc != MF_E_OK)
            break;
    }
    /* Every submitted command's callback runs before ans goes (once the
     * session breaks, wait() returns at once, every callback run). */
    for (size_t i = 0; i < sent; i++) {
        mf_err w = mf_imap_session_wait(s, ids[i], -1);
        if (w != MF_E_OK) {
            if (rc == MF_E_OK)
                rc = w;
            break;
        }
    }
    mf_imap_session_pop_untagged(s, &prev);
    for (size_t i = 0; rc == MF_E_OK && i < n; i++)
        if (errs[i].code == MF_E_OK && !ctx.seen[i])
            mf_error_set(&errs[i], MF_E_IMAP_UNEXPECTED,
                         "STATUS %.200s: OK without a STATUS response",
                         names[i]);
    free(ctx.seen);
    free(ans);
    free(ids);
    return rc;
}
