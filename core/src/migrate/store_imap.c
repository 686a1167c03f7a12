/*
 * The IMAP store: the store interface (mailferry/store.h) over one
 * mf_imap_session.
 *
 * Its work is split by job (store_imap_int.h names the files): folders,
 * reading (SELECT, metadata, bodies), and appending; this file opens and
 * closes the store and holds the vtable.
 *
 * Opening learns the capabilities the engine cares about (UIDPLUS,
 * MULTIAPPEND, APPENDLIMIT), the personal namespace (RFC 2342) or the
 * hierarchy delimiter, and, for a source with a UserRoot, which folders
 * are the user's. The connection's send gate follows the store's fence, so
 * a job that lost its claim sends nothing more.
 */
#include "migrate/store_imap_int.h"

#include "mailferry/fence.h"
#include "mailferry/folderplan.h"
#include "mailferry/migrate.h"
#include "mailferry/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mf_err
mf__store_imap_fail(struct imap_store *is, mf_err rc) {
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
mf_err
mf__store_imap_run(struct imap_store *is, struct mf_imap_cmd_spec *c) {
    struct sync_res sr = {0};
    uint32_t id;
    mf_err rc;

    rc = mf_imap_session_submit(is->s, c, sync_done, &sr, &id);
    mf_imap_cmd_clear(c);
    if (rc != MF_E_OK)
        return mf__store_imap_fail(is, rc);
    rc = mf_imap_session_wait(is->s, id, -1);
    if (rc != MF_E_OK || !sr.done)
        return mf__store_imap_fail(is, rc != MF_E_OK ? rc : MF_E_INTERNAL);
    if (sr.res.error.code != MF_E_OK) {
        is->base.error = sr.res.error;
        is->base.retry_after_ms = sr.res.retry_after_ms;
        return sr.res.error.code;
    }
    return MF_E_OK;
}

/* Appends a compact UID set ("3:7,9,12:13") of uids[0..n) to c. */
void
mf__store_imap_add_uid_set(struct mf_imap_cmd_spec *c, const uint32_t *uids,
                           size_t n) {
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

/* RFC 4315 section 3: uid-set = (uniqueid / uid-range) *("," uid-set);
 * a range may be written high:low. Expanded in the order written. */
bool
mf__store_imap_uid_set_parse(const char *s, uint32_t *out, size_t max,
                             size_t *n_r) {
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
            if (k == max)
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
    *n_r = k;
    return true;
}

/* Every queued callback runs now (CANCELLED) and no body source is read
 * again: the caller is about to free them (mailferry/imap_session.h, abort). */
static void
imap_cancel(struct mf_store *st) {
    struct imap_store *is = mf__store_imap(st);

    mf_imap_session_abort(is->s, "cancelled: the folder copy ended");
    mf__store_imap_queue_drop(is, false);
}

static void
imap_close(struct mf_store *st) {
    struct imap_store *is = mf__store_imap(st);

    /* LOGOUT must not send what is still queued: the body sources of
     * queued appends may be gone with their folder. */
    mf_imap_session_abort(is->s, "store closed");
    if (mf_imap_session_state(is->s) != MF_IMAP_STATE_BROKEN) {
        /* A polite LOGOUT, bounded: the session's own timeout applies. */
        mf_err rc = mf_imap_session_logout(is->s);
        (void)rc;
    }
    mf_imap_session_free(&is->s); /* runs pending callbacks (CANCELLED) */
    mf__store_imap_queue_drop(is, true);
    free(is->q);
    mf__store_imap_fetch_free(is);
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

/* From another thread (mf_imap_session_interrupt()). */
static void
imap_abort(struct mf_store *st) {
    mf_imap_session_interrupt(mf__store_imap(st)->s);
}

static const struct mf_store_ops imap_ops = {
    .list = mf__store_imap_list,
    .create = mf__store_imap_create,
    .subscribe = mf__store_imap_subscribe,
    .folders = mf__store_imap_folders,
    .status = mf__store_imap_status,
    .statuses = mf__store_imap_statuses,
    .select = mf__store_imap_select,
    .select_ahead = mf__store_imap_select_ahead,
    .fetch_meta = mf__store_imap_fetch_meta,
    .count = mf__store_imap_count,
    .changed_since = mf__store_imap_changed_since,
    .fetch_bodies = mf__store_imap_fetch_bodies,
    .append = mf__store_imap_append,
    .expunge_uids = mf__store_imap_expunge_uids,
    .move_uids = mf__store_imap_move_uids,
    .vanished = mf__store_imap_vanished,
    .set_flags = mf__store_imap_set_flags,
    .flush = mf__store_imap_flush,
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
    unsigned a = mf__store_imap_attrs(e->raw, e->nraw);

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
        return mf__store_imap_fail(is, rc);
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
    is->base.caps.gmail_ext = mf_imap_session_has(s, MF_IMAP_CAP_GMAIL_EXT);
    is->base.caps.move = mf_imap_session_has(s, MF_IMAP_CAP_MOVE);
    mf_imap_session_on_untagged(s, "EXPUNGE", mf__store_imap_on_expunge, is);
    mf_imap_session_on_untagged(s, "VANISHED", mf__store_imap_on_vanished, is);
    mf_imap_session_on_untagged(s, "EXISTS", mf__store_imap_on_exists, is);
    mf_imap_session_set_send_gate(s, imap_gate, is);
    if (mf_imap_session_has(s, MF_IMAP_CAP_NAMESPACE)) {
        struct mf_imap_cmd_spec c = {0};
        struct mf_imap_untagged_prev prev;
        mf_imap_session_push_untagged(s, "NAMESPACE", on_namespace, is, &prev);
        mf_imap_cmd_text(&c, "NAMESPACE");
        rc = mf__store_imap_run(is, &c);
        mf_imap_session_pop_untagged(s, &prev);
    } else {
        /* RFC 3501 6.3.8: LIST "" "" gives the delimiter. */
        rc = mf_imap_session_list(s, "", "", NULL, on_delim, is);
        if (rc != MF_E_OK)
            rc = mf__store_imap_fail(is, rc);
    }
    if (rc == MF_E_OK && o->user_root && o->user_root[0])
        rc = user_root(is, o->user_root);
    if (rc == MF_E_OK && o->enable_qresync &&
        mf_imap_session_has(s, MF_IMAP_CAP_QRESYNC) &&
        mf_imap_session_has(s, MF_IMAP_CAP_ENABLE)) {
        /* RFC 7162 3.2.3: before any SELECT. From here on the server
         * reports expunges as VANISHED, not EXPUNGE (3.2.10). */
        struct mf_imap_cmd_spec c = {0};
        mf_imap_cmd_text(&c, "ENABLE QRESYNC");
        rc = mf__store_imap_run(is, &c);
        is->base.caps.qresync = rc == MF_E_OK;
    }
    if (rc != MF_E_OK) {
        *err = is->base.error;
        imap_close(&is->base);
        return rc;
    }
    *st_r = &is->base;
    return MF_E_OK;
}

void
mf_store_imap_side(const struct mf_migrate_server *srv,
                   const struct mf_migrate_login *login,
                   const struct mf_profile *profile,
                   struct mf_imap_conn_options *co, struct mf_imap_login *il) {
    memset(co, 0, sizeof(*co));
    memset(il, 0, sizeof(*il));
    co->endpoint = srv->endpoint;
    co->ca_file = srv->ca_file;
    co->insecure = srv->insecure;
    co->bind_address = srv->bind_address;
    co->connect_timeout_ms = srv->connect_timeout_ms;
    co->io_timeout_ms = srv->io_timeout_ms;
    il->user = login->user;
    il->password = login->password;
    il->authzid = login->authzid;
    il->oauth_token = login->oauth_token;
    il->oauth = login->oauth;
    il->oauth_mailbox = login->oauth_mailbox;
    il->sasl_plain = profile && profile->sasl_plain;
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
