/*
 * The IMAP store's writing side (store_imap_int.h): appends and flag
 * changes, queued without waiting so that many are in flight, and the
 * removal of given UIDs (UID EXPUNGE, for --sync-deletes).
 *
 * append() of n messages is one MULTIAPPEND command (RFC 3502) when the
 * target has it. Without it (Exchange Online, Gmail) the same batch goes
 * out as n single-message APPENDs, submitted together: the session keeps
 * up to its window of commands in flight and writes each literal
 * non-synchronising, {n+}, where LITERAL+ allows, or LITERAL- for literals
 * of at most 4096 bytes (RFC 7888 sections 4 and 5; mailferry/imap_session.h).
 * A larger literal under LITERAL- alone is synchronising: the session then
 * sends nothing more until the server's "+" (RFC 3501 section 7.5), which is
 * slower but correct.
 *
 * Answers are matched to commands by tag, so they may come in any order.
 * A tagged OK [APPENDUID uidvalidity uid-set] (RFC 4315 section 3) gives
 * the target UIDs. A batch sent as single APPENDs has its done callback
 * run once, when its last command is answered, with each message's own
 * outcome (mailferry/store.h, mf_store_done.msgs): a NO fails its message
 * alone, and a dropped connection fails the commands not answered yet with the
 * session's error (the session runs their callbacks), so the engine
 * records exactly the messages whose OK came and nothing else.
 *
 * The queue: one entry (struct mf__store_pending) per append() or
 * set_flags() call, oldest first, holding its commands. flush() waits for
 * entries from the oldest until at most max_pending are unfinished, so
 * the engine's count of appends in flight means the same thing with and
 * without MULTIAPPEND: batches.
 */
#include "migrate/store_imap_int.h"

#include <stdlib.h>
#include <string.h>

/* One submitted command of a queue entry. */
struct pending_cmd {
    struct mf__store_pending *p;
    size_t i;    /* message index, for single APPENDs of a batch */
    uint32_t id; /* the session's, for mf_imap_session_wait() */
    bool done;
};

struct mf__store_pending {
    mf_store_done_cb cb; /* NULL once it ran: flush() drops the entry */
    void *ud;
    size_t n;                 /* messages; 0 for a flag change */
    size_t ncmds;             /* commands submitted */
    size_t left;              /* of those, not answered yet */
    struct pending_cmd *cmds; /* owned, ncmds (up to n) of them */
    /* Owned: per message, for a batch sent as single APPENDs; NULL when
     * the entry is one command. */
    struct mf_store_msg_done *res;
};

/* resp-code-apnd = "APPENDUID" SP nz-number SP append-uid   (RFC 4315)
 * The n UIDs of an answered APPEND into uids, and its UIDVALIDITY; false
 * when the answer has none (no UIDPLUS) or a malformed one. */
static bool
appenduid(const struct mf_imap_result *res, size_t n, uint32_t *uids,
          uint32_t *uidvalidity_r) {
    const struct mf_imap_response *t = res->tagged;
    const char *set;
    uint32_t uv;
    size_t got;

    if (res->error.code != MF_E_OK || !t || !t->code.name ||
        strcmp(t->code.name, "APPENDUID") != 0 || t->code.nargs != 2 ||
        !mf_imap_arg_as_u32(&t->code.args[0], &uv) ||
        !mf_imap_arg_as_astring(&t->code.args[1], &set) ||
        !mf__store_imap_uid_set_parse(set, uids, n, &got) || got != n)
        return false;
    *uidvalidity_r = uv;
    return true;
}

/* The whole entry is answered: its callback runs, once. */
static void
finish(struct mf__store_pending *p, const struct mf_store_done *d) {
    mf_store_done_cb cb = p->cb;

    p->cb = NULL;
    cb(p->ud, d);
}

/* The last single APPEND of a batch is answered. */
static void
finish_batch(struct mf__store_pending *p) {
    struct mf_store_done d = {0};

    for (size_t i = 0; i < p->n; i++) {
        const struct mf_store_msg_done *m = &p->res[i];
        if (m->error.code != MF_E_OK && d.error.code == MF_E_OK) {
            d.error = m->error;
            d.retry_after_ms = m->retry_after_ms;
        }
        if (!d.uidvalidity)
            d.uidvalidity = m->uidvalidity;
    }
    d.n = p->n;
    d.msgs = p->res;
    finish(p, &d);
}

static void
cmd_done(void *ud, const struct mf_imap_result *res) {
    struct pending_cmd *pc = ud;
    struct mf__store_pending *p = pc->p;
    struct mf_store_done d = {0};
    uint32_t stack_uids[64], *uids = stack_uids;

    pc->done = true;
    p->left--;
    if (p->res) {
        struct mf_store_msg_done *m = &p->res[pc->i];
        m->error = res->error;
        m->retry_after_ms = res->retry_after_ms;
        if (!appenduid(res, 1, &m->uid, &m->uidvalidity))
            m->uid = m->uidvalidity = 0;
        if (p->left == 0)
            finish_batch(p);
        return;
    }
    d.error = res->error;
    d.retry_after_ms = res->retry_after_ms;
    if (p->n > MF_ARRAY_LEN(stack_uids))
        uids = mf_xcalloc(p->n, sizeof(*uids));
    if (p->n && appenduid(res, p->n, uids, &d.uidvalidity)) {
        d.uids = uids;
        d.n = p->n;
    }
    finish(p, &d);
    if (uids != stack_uids)
        free(uids);
}

static void
pending_free(struct mf__store_pending *p) {
    if (p) {
        free(p->cmds);
        free(p->res);
        free(p);
    }
}

static struct mf__store_pending *
pending_new(size_t n, size_t maxcmds, mf_store_done_cb cb, void *ud) {
    struct mf__store_pending *p = mf_xcalloc(1, sizeof(*p));

    p->cb = cb;
    p->ud = ud;
    p->n = n;
    p->cmds = mf_xcalloc(maxcmds, sizeof(*p->cmds));
    return p;
}

/* Submits c (cleared afterwards) as the next command of p. */
static mf_err
submit_cmd(struct imap_store *is, struct mf__store_pending *p,
           struct mf_imap_cmd_spec *c, size_t msg) {
    struct pending_cmd *pc = &p->cmds[p->ncmds];
    mf_err rc;

    pc->p = p;
    pc->i = msg;
    rc = mf_imap_session_submit(is->s, c, cmd_done, pc, &pc->id);
    mf_imap_cmd_clear(c);
    if (rc != MF_E_OK)
        return mf__store_imap_fail(is, rc);
    p->ncmds++;
    p->left++;
    return MF_E_OK;
}

static void
queue_push(struct imap_store *is, struct mf__store_pending *p) {
    if (is->qlen == is->qcap) {
        size_t ncap = is->qcap ? is->qcap * 2 : 16;
        struct mf__store_pending **nq = mf_xcalloc(ncap, sizeof(*nq));
        for (size_t i = 0; i < is->qlen; i++)
            nq[i] = is->q[(is->qhead + i) % is->qcap];
        free(is->q);
        is->q = nq;
        is->qcap = ncap;
        is->qhead = 0;
    }
    is->q[(is->qhead + is->qlen) % is->qcap] = p;
    is->qlen++;
}

void
mf__store_imap_queue_drop(struct imap_store *is, bool all) {
    while (is->qlen > 0 && (all || is->q[is->qhead]->cb == NULL)) {
        pending_free(is->q[is->qhead]);
        is->qhead = (is->qhead + 1) % is->qcap;
        is->qlen--;
    }
}

/* "APPEND folder" of a command. */
static void
append_head(struct mf_imap_cmd_spec *c, const char *folder) {
    mf_imap_cmd_text(c, "APPEND ");
    mf_imap_cmd_astring(c, (const uint8_t *)folder, strlen(folder));
}

/* append = "APPEND" SP mailbox 1*append-message   (RFC 3502)
 * append-message = [SP flag-list] [SP date-time] SP literal
 * (RFC 3501's single APPEND is the case of one.) */
static void
append_message(struct mf_imap_cmd_spec *c,
               const struct mf_store_append_msg *m) {
    mf_imap_cmd_textf(c, " (%s)", m->flags ? m->flags : "");
    if (m->date)
        mf_imap_cmd_textf(c, " \"%s\"", m->date);
    mf_imap_cmd_text(c, " ");
    mf_imap_cmd_source(c, &m->body);
}

mf_err
mf__store_imap_append(struct mf_store *st, const char *folder,
                      const struct mf_store_append_msg *msgs, size_t n,
                      mf_store_done_cb cb, void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    struct mf__store_pending *p;
    bool single = n > 1 && !st->caps.multiappend;
    mf_err rc = MF_E_OK;

    MF_ASSERT(n >= 1);
    p = pending_new(n, single ? n : 1, cb, ud);
    if (!single) {
        append_head(&c, folder);
        for (size_t i = 0; i < n; i++)
            append_message(&c, &msgs[i]);
        rc = submit_cmd(is, p, &c, 0);
    } else {
        p->res = mf_xcalloc(n, sizeof(*p->res));
        for (size_t i = 0; i < n && rc == MF_E_OK; i++) {
            append_head(&c, folder);
            append_message(&c, &msgs[i]);
            rc = submit_cmd(is, p, &c, i);
        }
        /* The session broke between two submits (nothing ran yet: callbacks
         * run only from run() and wait()). The messages not submitted fail
         * with its error, unconfirmed, and the callback still runs once,
         * with the answers of those that went out. */
        for (size_t i = p->ncmds; p->ncmds > 0 && i < n; i++) {
            p->res[i].error = st->error;
            p->res[i].retry_after_ms = st->retry_after_ms;
        }
        if (p->ncmds > 0)
            rc = MF_E_OK;
    }
    if (rc != MF_E_OK) {
        pending_free(p); /* nothing went out: cb never runs */
        return rc;
    }
    queue_push(is, p);
    return MF_E_OK;
}

mf_err
mf__store_imap_set_flags(struct mf_store *st, const uint32_t *uids, size_t n,
                         const char *flags, mf_store_done_cb cb, void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    struct mf__store_pending *p;
    mf_err rc;

    MF_ASSERT(n >= 1);
    p = pending_new(0, 1, cb, ud);
    mf_imap_cmd_text(&c, "UID STORE ");
    mf__store_imap_add_uid_set(&c, uids, n);
    mf_imap_cmd_textf(&c, " FLAGS.SILENT (%s)", flags);
    if ((rc = submit_cmd(is, p, &c, 0)) != MF_E_OK) {
        pending_free(p);
        return rc;
    }
    queue_push(is, p);
    return MF_E_OK;
}

mf_err
mf__store_imap_flush(struct mf_store *st, size_t max_pending) {
    struct imap_store *is = mf__store_imap(st);
    mf_err rc = MF_E_OK;

    while (is->qlen > 0) {
        struct mf__store_pending *p = is->q[is->qhead];
        size_t k = 0;

        if (p->cb == NULL) { /* finished */
            mf__store_imap_queue_drop(is, false);
            continue;
        }
        if (is->qlen <= max_pending)
            break;
        while (k < p->ncmds && p->cmds[k].done)
            k++;
        MF_ASSERT(k < p->ncmds); /* unfinished: a command is unanswered */
        rc = mf_imap_session_wait(is->s, p->cmds[k].id, -1);
        if (rc != MF_E_OK) {
            /* Every pending callback has run with the session's error. */
            rc = mf__store_imap_fail(is, rc);
            break;
        }
    }
    return rc;
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
    mf__store_imap_add_uid_set(&c, uids, n);
    mf_imap_cmd_text(&c, " +FLAGS.SILENT (\\Deleted)");
    if ((rc = mf__store_imap_run(is, &c)) != MF_E_OK)
        return rc;
    mf_imap_cmd_text(&c, "UID EXPUNGE ");
    mf__store_imap_add_uid_set(&c, uids, n);
    return mf__store_imap_run(is, &c);
}
