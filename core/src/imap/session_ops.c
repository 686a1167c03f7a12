/*
 * The synchronous helpers of the session (mailferry/imap_session.h):
 * SELECT/EXAMINE, LIST, CREATE, SUBSCRIBE, NOOP, CAPABILITY, LOGOUT. Each is a
 * thin wrapper: build a spec, submit, wait, keep the result in the session's
 * "last" slot. They use the session only through mailferry/imap_session.h and
 * the few accessors of session_int.h.
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <string.h>

static void
sync_done(void *ud, const struct mf_imap_result *res) {
    struct mf_imap_result *last = mf__imap_session_last_mut(ud);

    *last = *res;
    last->tagged = NULL;
}

mf_err
mf__imap_session_sync(struct mf_imap_session *s,
                      struct mf_imap_cmd_spec *spec) {
    struct mf_imap_result *last = mf__imap_session_last_mut(s);
    uint32_t id;
    mf_err rc;

    memset(last, 0, sizeof(*last));
    rc = mf_imap_session_submit(s, spec, sync_done, s, &id);
    mf_imap_cmd_clear(spec);
    if (rc != MF_E_OK) {
        last->error.code = rc;
        snprintf(last->error.detail, sizeof(last->error.detail), "%s",
                 mf_imap_session_state(s) == MF_IMAP_STATE_BROKEN
                     ? mf_imap_session_error(s)->detail
                     : "cannot submit");
        return rc;
    }
    /* The callback has the outcome, the break's error included. */
    rc = mf_imap_session_wait(s, id, -1);
    (void)rc;
    return last->error.code;
}

static void
add_mailbox(struct mf_imap_cmd_spec *c, const char *mailbox) {
    mf_imap_cmd_astring(c, (const uint8_t *)mailbox, strlen(mailbox));
}

mf_err
mf_imap_session_select(struct mf_imap_session *s, const char *mailbox,
                       bool readonly, struct mf_imap_mailbox_info *info_r) {
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    mf_imap_cmd_text(&c, readonly ? "EXAMINE " : "SELECT ");
    add_mailbox(&c, mailbox);
    rc = mf__imap_session_sync(s, &c);
    if (rc == MF_E_OK && info_r) {
        *info_r = *mf_imap_session_mailbox(s);
        if (readonly)
            info_r->read_only = true;
    }
    return rc;
}

struct list_ctx {
    mf_imap_list_cb cb;
    void *ud;
};

/* mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE /
 *                nil) SP mailbox [SP mbox-list-extended]   (RFC 5258) */
static mf_err
on_list(void *ud, const struct mf_imap_response *r) {
    struct list_ctx *ctx = ud;
    struct mf_imap_list_entry e;
    const uint8_t *d;
    size_t dl;

    memset(&e, 0, sizeof(e));
    if (r->nargs < 3 || !mf_imap_arg_as_list(&r->args[0], &e.raw, &e.nraw))
        return MF_E_IMAP_UNEXPECTED;
    if (mf_imap_arg_is_nil(&r->args[1]))
        e.delimiter = 0;
    else if (mf_imap_arg_as_string(&r->args[1], &d, &dl) && dl == 1)
        e.delimiter = (char)d[0];
    else
        return MF_E_IMAP_UNEXPECTED;
    if (!mf_imap_arg_as_string(&r->args[2], &e.name, &e.name_len)) {
        /* A mailbox called NIL arrives as the atom NIL. */
        const char *nil;
        if (!mf_imap_arg_as_astring(&r->args[2], &nil))
            return MF_E_IMAP_UNEXPECTED;
        e.name = (const uint8_t *)nil;
        e.name_len = strlen(nil);
    }
    return ctx->cb(ctx->ud, &e);
}

mf_err
mf_imap_session_list(struct mf_imap_session *s, const char *ref,
                     const char *pattern, const char *return_opts,
                     mf_imap_list_cb cb, void *ud) {
    struct mf_imap_cmd_spec c = {0};
    struct list_ctx ctx = {.cb = cb, .ud = ud};
    struct mf_imap_untagged_prev prev;
    mf_err rc;

    /* A caller's own LIST handler is put back afterwards. */
    mf_imap_session_push_untagged(s, "LIST", on_list, &ctx, &prev);
    mf_imap_cmd_text(&c, "LIST ");
    /* The reference and pattern are list-mailbox: "%" and "*" must not be
     * quoted away, so quote only when needed. */
    add_mailbox(&c, ref);
    mf_imap_cmd_text(&c, " ");
    if (pattern[0] && strspn(pattern, "*%") == strlen(pattern))
        mf_imap_cmd_text(&c, pattern);
    else
        add_mailbox(&c, pattern);
    if (return_opts && mf_imap_session_has(s, MF_IMAP_CAP_LIST_EXTENDED))
        mf_imap_cmd_textf(&c, " RETURN (%s)", return_opts);
    rc = mf__imap_session_sync(s, &c);
    mf_imap_session_pop_untagged(s, &prev);
    return rc;
}

mf_err
mf_imap_session_create(struct mf_imap_session *s, const char *mailbox) {
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "CREATE ");
    add_mailbox(&c, mailbox);
    return mf__imap_session_sync(s, &c);
}

mf_err
mf_imap_session_subscribe(struct mf_imap_session *s, const char *mailbox) {
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "SUBSCRIBE ");
    add_mailbox(&c, mailbox);
    return mf__imap_session_sync(s, &c);
}

mf_err
mf_imap_session_noop(struct mf_imap_session *s) {
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "NOOP");
    return mf__imap_session_sync(s, &c);
}

mf_err
mf_imap_session_capability(struct mf_imap_session *s) {
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "CAPABILITY");
    return mf__imap_session_sync(s, &c);
}

mf_err
mf_imap_session_logout(struct mf_imap_session *s) {
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    if (mf_imap_session_state(s) == MF_IMAP_STATE_BROKEN) {
        mf__imap_session_set_state(s, MF_IMAP_STATE_LOGOUT);
        return MF_E_OK;
    }
    mf_imap_cmd_text(&c, "LOGOUT");
    rc = mf__imap_session_sync(s, &c);
    /* The server's BYE and closing the connection are the normal end. */
    if (rc == MF_E_IMAP_BYE || rc == MF_E_DISCONNECTED)
        rc = MF_E_OK;
    mf__imap_session_set_state(s, MF_IMAP_STATE_LOGOUT);
    return rc;
}
