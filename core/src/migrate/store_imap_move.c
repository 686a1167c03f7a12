/*
 * UID MOVE (RFC 6851) and the UIDs its COPYUID gives, for the moves of
 * --sync-deletes (migrate/moves.c).
 *
 * RFC 6851 section 4.3: "Servers supporting UIDPLUS [RFC4315] SHOULD
 * send COPYUID in response to a UID MOVE command." Section 3.3 advises
 * sending it in an untagged OK before the EXPUNGEs (so a client learns
 * where a message went before it hears that it left); a server that
 * follows UIDPLUS alone (Gmail) puts it in the tagged OK, as for COPY.
 * Both are read here, and several untagged ones add up (a server may
 * report a big set in parts).
 *
 *   resp-code-copy = "COPYUID" SP nz-number SP uid-set SP uid-set
 *                                          (RFC 4315 section 4)
 *
 * The first uid-set names the moved messages in the source folder, the
 * second their new UIDs in the destination, "in the same order" (RFC
 * 4315 section 3): the two are paired element by element, whatever order
 * the server wrote them in. A COPYUID whose sets do not pair (different
 * lengths, a UID that was not asked for) is ignored: a message it would
 * name is then reported as moved to an unknown UID (0), never to a wrong
 * one.
 *
 * The EXPUNGE responses (or VANISHED, with QRESYNC) the move causes keep
 * the store's sequence map right through the store's own handlers.
 */
#include "migrate/store_imap_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

struct move_ctx {
    const uint32_t *uids; /* asked, ascending */
    size_t n;
    uint32_t *new_uids; /* the caller's, per asked UID */
    uint32_t uidvalidity;
    uint32_t *from, *to; /* scratch: n each */
    bool done;
    struct mf_imap_result res; /* tagged NULL: kept past the callback */
};

/* The position of uid among the asked UIDs, n when it is not one. */
static size_t
asked_at(const struct move_ctx *c, uint32_t uid) {
    size_t i = mf_u32_lower_bound(c->uids, c->n, uid);
    return i < c->n && c->uids[i] == uid ? i : c->n;
}

/* Takes one COPYUID response code into c (any other code is ignored). */
static void
take_copyuid(struct move_ctx *c, const struct mf_imap_resp_code *code) {
    const char *from, *to;
    size_t nfrom, nto;
    uint32_t uv;

    if (!code->name || strcmp(code->name, "COPYUID") != 0 || code->nargs != 3 ||
        !mf_imap_arg_as_u32(&code->args[0], &uv) || uv == 0 ||
        !mf_imap_arg_as_astring(&code->args[1], &from) ||
        !mf_imap_arg_as_astring(&code->args[2], &to) ||
        !mf__store_imap_uid_set_parse(from, c->from, c->n, &nfrom) ||
        !mf__store_imap_uid_set_parse(to, c->to, c->n, &nto) || nfrom != nto)
        return;
    for (size_t k = 0; k < nfrom; k++)
        if (asked_at(c, c->from[k]) == c->n)
            return; /* names a UID not asked for: not trusted */
    for (size_t k = 0; k < nfrom; k++)
        c->new_uids[asked_at(c, c->from[k])] = c->to[k];
    c->uidvalidity = uv;
}

static mf_err
on_ok(void *ud, const struct mf_imap_response *r) {
    take_copyuid(ud, &r->code);
    return MF_E_OK;
}

static void
on_done(void *ud, const struct mf_imap_result *res) {
    struct move_ctx *c = ud;

    if (res->error.code == MF_E_OK && res->tagged)
        take_copyuid(c, &res->tagged->code);
    c->res = *res;
    c->res.tagged = NULL;
    c->done = true;
}

mf_err
mf__store_imap_move_uids(struct mf_store *st, const uint32_t *uids, size_t n,
                         const char *dest, uint32_t *uidvalidity_r,
                         uint32_t *new_r) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev;
    struct move_ctx ctx = {.uids = uids, .n = n, .new_uids = new_r};
    uint32_t id;
    mf_err rc;

    *uidvalidity_r = 0;
    memset(new_r, 0, n * sizeof(*new_r));
    if (n == 0)
        return MF_E_OK;
    if (!st->caps.move)
        return mf_store_fail(st, MF_E_INTERNAL, "the server has no MOVE");
    ctx.from = mf_xcalloc(n, sizeof(*ctx.from));
    ctx.to = mf_xcalloc(n, sizeof(*ctx.to));
    mf_imap_cmd_text(&c, "UID MOVE ");
    mf__store_imap_add_uid_set(&c, uids, n);
    mf_imap_cmd_text(&c, " ");
    mf_imap_cmd_astring(&c, (const uint8_t *)dest, strlen(dest));
    mf_imap_session_push_untagged(is->s, "OK", on_ok, &ctx, &prev);
    rc = mf_imap_session_submit(is->s, &c, on_done, &ctx, &id);
    mf_imap_cmd_clear(&c);
    if (rc == MF_E_OK)
        rc = mf_imap_session_wait(is->s, id, -1);
    mf_imap_session_pop_untagged(is->s, &prev);
    if (rc != MF_E_OK || !ctx.done) {
        rc = mf__store_imap_fail(is, rc != MF_E_OK ? rc : MF_E_INTERNAL);
    } else if (ctx.res.error.code != MF_E_OK) {
        is->base.error = ctx.res.error;
        is->base.retry_after_ms = ctx.res.retry_after_ms;
        rc = ctx.res.error.code;
    } else {
        *uidvalidity_r = ctx.uidvalidity;
    }
    free(ctx.from);
    free(ctx.to);
    return rc;
}
