/*
 * Folder sizes over IMAP for the plan (mf__plan_measure(), plan_int.h).
 *
 * Two ways, both read-only and both pipelined:
 *
 *  - STATUS (RFC 8438, STATUS=SIZE): one "STATUS name (MESSAGES SIZE)"
 *    per folder, all submitted at once (the session keeps its window in
 *    flight). The server answers from its index, without reading a
 *    message. Folders whose total is above the size cap are then opened
 *    with EXAMINE and asked "UID SEARCH LARGER cap" (RFC 3501 6.4.4:
 *    RFC822.SIZE larger than cap, the same test the copy engine applies),
 *    and the UIDs found are fetched in chunks for their sizes.
 *
 *  - FETCH: "EXAMINE name" and "UID FETCH 1:* (UID RFC822.SIZE)" per
 *    folder (with INTERNALDATE under a date window: each message is
 *    then counted inside or outside it by window.c, as the copy does), every
 * pair submitted at once. Answers come back in command order, so the EXAMINE's
 * completion tells which folder the FETCH responses that follow belong to. Each
 * response is summed as it arrives: memory does not grow with the number of
 * messages.
 *
 * STATUS answers are matched to folders by name (RFC 3501 7.2.4 echoes
 * the mailbox name), looking first at the oldest outstanding command.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"
#include "mailferry/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)

struct measure {
    struct mf_imap_session *s;
    struct mf_plan_mailbox *res;
    uint64_t cap;
    /* FETCH: the entry the FETCH responses now belong to, and whether
     * they count toward its total or only its oversize part. */
    size_t cur;
    bool full;
    uint32_t last_exists;
    uint32_t *exists; /* per entry, from EXAMINE */
    /* STATUS: measured entries in submission order, the oldest not yet
     * answered, and per entry whether its STATUS came. */
    size_t *order;
    size_t n_order, next;
    bool *got;
    /* SEARCH results. */
    uint32_t *uids;
    size_t n_uids, cap_uids;
};

/* One command's context for its done callback. */
struct cmd_ud {
    struct measure *m;
    size_t entry;
};

static const char *
folder_name(const struct mf_folder_entry *e) {
    return e->src_path ? e->src_path : (const char *)e->src_raw;
}

bool
mf__plan_measurable(const struct mf_folder_entry *e) {
    if (!e->src_raw ||
        (e->src_attrs & (MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT)))
        return false;
    switch (e->reason) {
    case MF_FOLDER_REASON_NONE:
    case MF_FOLDER_REASON_RULE:
    case MF_FOLDER_REASON_NOT_INCLUDED:
    case MF_FOLDER_REASON_PRESET:
    case MF_FOLDER_REASON_LIMIT:
        return true;
    case MF_FOLDER_REASON_NOSELECT:
    case MF_FOLDER_REASON_NONEXISTENT:
    case MF_FOLDER_REASON_EMPTY_NAME:
    case MF_FOLDER_REASON_NAMESPACE:
    case MF_FOLDER_REASON_BAD_NAME:
    case MF_FOLDER_REASON_IMPLIED:
        return false;
    }
    return false;
}

/* Records a folder's failure; the first one also becomes the mailbox's. */
static void
folder_error(struct measure *m, size_t i, const struct mf_error *e) {
    struct mf_plan_folder *f = &m->res->folders[i];
    const struct mf_folder_entry *fe = mf_folder_plan_entry(m->res->plan, i);

    f->measured = false;
    if (f->error.code != MF_E_OK)
        return;
    f->error = *e;
    if (f->error.code == MF_E_OK)
        f->error.code = MF_E_INTERNAL;
    if (m->res->error.code == MF_E_OK)
        mf_error_set(&m->res->error, f->error.code, "folder %.60s: %.180s",
                     folder_name(fe), f->error.detail);
}

static bool
copied(const struct measure *m, size_t i) {
    return mf_folder_plan_entry(m->res->plan, i)->action == MF_FOLDER_COPY;
}

static void
add_oversize(struct measure *m, size_t i, uint32_t uid, uint64_t size) {
    struct mf_plan_mailbox *res = m->res;
    struct mf_plan_oversize *o;

    res->folders[i].oversize.messages++;
    res->folders[i].oversize.bytes += size;
    if (res->n_oversize >= MF_PLAN_OVERSIZE_MAX)
        return;
    res->oversize = mf_xreallocarray(res->oversize, res->n_oversize + 1,
                                     sizeof(*res->oversize));
    o = &res->oversize[res->n_oversize++];
    o->folder = mf_xstrdup(folder_name(mf_folder_plan_entry(res->plan, i)));
    o->uid = uid;
    o->size = size;
}

/* Submits c (cleared) with cb(ud); on failure the folder fails and the
 * callback never runs. */
static mf_err
submit(struct measure *m, struct mf_imap_cmd_spec *c, mf_imap_done_cb cb,
       struct cmd_ud *ud) {
    mf_err rc = mf_imap_session_submit(m->s, c, cb, ud, NULL);

    mf_imap_cmd_clear(c);
    if (rc != MF_E_OK) {
        struct mf_error e = *mf_imap_session_error(m->s);
        if (e.code == MF_E_OK)
            mf_error_set(&e, rc, "cannot submit: %s", mf_strerror(rc));
        folder_error(m, ud->entry, &e);
    }
    return rc;
}

/* Drives the session until every command finished. A broken session
 * fails the mailbox (the callbacks have failed the folders). */
static mf_err
drain(struct measure *m) {
    mf_err rc = mf_imap_session_run(m->s, -1);

    if (rc != MF_E_OK) {
        const struct mf_error *e = mf_imap_session_error(m->s);
        if (e->code != MF_E_OK)
            m->res->error = *e;
        else
            mf_error_set(&m->res->error, rc, "%s", mf_strerror(rc));
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* FETCH responses                                                     */
/* ------------------------------------------------------------------ */

static mf_err
on_exists(void *ud, const struct mf_imap_response *r) {
    struct measure *m = ud;

    if (r->has_number)
        m->last_exists = r->number;
    return MF_E_OK;
}

/* "* n FETCH (UID u RFC822.SIZE s)". Unsolicited FETCH responses (a
 * flag changed by another client) carry no RFC822.SIZE and are ignored. */
static mf_err
on_fetch(void *ud, const struct mf_imap_response *r) {
    struct measure *m = ud;
    const struct mf_imap_arg *items, *a;
    size_t n;
    uint32_t uid;
    uint64_t size;

    if (m->cur == NONE || r->nargs < 1 ||
        !mf_imap_arg_as_list(&r->args[0], &items, &n))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "UID")) ||
        !mf_imap_arg_as_u32(a, &uid))
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "RFC822.SIZE")) ||
        !mf_imap_arg_as_u64(a, &size))
        return MF_E_OK;
    if (m->full) {
        m->res->folders[m->cur].total.messages++;
        m->res->folders[m->cur].total.bytes += size;
    }
    if (copied(m, m->cur) && !mf_window_empty(&m->res->window)) {
        /* Outside the window: not copied, whatever its size. The rule
         * is the copy engine's (window.c). */
        const uint8_t *d = NULL;
        size_t dlen = 0;
        char date[64] = "";
        if ((a = mf_imap_args_find(items, n, "INTERNALDATE")) &&
            mf_imap_arg_as_string(a, &d, &dlen) && dlen < sizeof(date))
            memcpy(date, d, dlen);
        if (mf_window_place(&m->res->window, date) == MF_WINDOW_OUTSIDE) {
            m->res->folders[m->cur].outside.messages++;
            m->res->folders[m->cur].outside.bytes += size;
            return MF_E_OK;
        }
    }
    if (size > m->cap && copied(m, m->cur))
        add_oversize(m, m->cur, uid, size);
    return MF_E_OK;
}

static void
examine_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ud *c = ud;
    struct measure *m = c->m;

    if (res->error.code != MF_E_OK) {
        folder_error(m, c->entry, &res->error);
        m->cur = NONE;
        return;
    }
    m->exists[c->entry] = m->last_exists;
    m->cur = c->entry;
}

static void
fetch_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ud *c = ud;
    struct measure *m = c->m;
    struct mf_plan_folder *f = &m->res->folders[c->entry];

    m->cur = NONE;
    if (f->error.code != MF_E_OK)
        return; /* its EXAMINE failed */
    /* Some servers refuse "1:*" in an empty folder; nothing is missed. */
    if (res->error.code != MF_E_OK &&
        !(m->exists[c->entry] == 0 && res->status != MF_IMAP_STATUS_NONE)) {
        folder_error(m, c->entry, &res->error);
        return;
    }
    f->measured = true;
}

static void
add_examine(struct mf_imap_cmd_spec *c, const struct mf_folder_entry *e) {
    mf_imap_cmd_text(c, "EXAMINE ");
    mf_imap_cmd_astring(c, e->src_raw, e->src_raw_len);
}

/* Submits one folder's commands (entry e, callback data ud). */
typedef mf_err (*folder_cmds_fn)(struct measure *m,
                                 const struct mf_folder_entry *e,
                                 struct cmd_ud *ud);

/* Pipelines cmds for every measurable folder of the plan, then drains the
 * session: the first error, returned after every submitted command has
 * finished. uds holds a cmd_ud a folder. */
static mf_err
each_measurable(struct measure *m, struct cmd_ud *uds, folder_cmds_fn cmds) {
    const struct mf_folder_plan *plan = m->res->plan;
    size_t n = mf_folder_plan_count(plan);
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n && rc == MF_E_OK; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);

        if (!mf__plan_measurable(e))
            continue;
        uds[i] = (struct cmd_ud){m, i};
        rc = cmds(m, e, &uds[i]);
    }
    if (rc == MF_E_OK)
        rc = drain(m);
    else
        (void)drain(m); /* let the submitted ones finish */
    return rc;
}

/* EXAMINE, then UID FETCH of every message's size (and date when a
 * window applies). */
static mf_err
fetch_cmds(struct measure *m, const struct mf_folder_entry *e,
           struct cmd_ud *ud) {
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    add_examine(&c, e);
    if ((rc = submit(m, &c, examine_done, ud)))
        return rc;
    mf_imap_cmd_text(&c, mf_window_empty(&m->res->window)
                             ? "UID FETCH 1:* (UID RFC822.SIZE)"
                             : "UID FETCH 1:* (UID RFC822.SIZE "
                               "INTERNALDATE)");
    return submit(m, &c, fetch_done, ud);
}

static mf_err
measure_fetch(struct measure *m) {
    size_t n = mf_folder_plan_count(m->res->plan);
    struct cmd_ud *uds = mf_xcalloc(n ? n : 1, sizeof(*uds));
    struct mf_imap_untagged_prev prev_exists, prev_fetch;
    mf_err rc;

    m->full = true;
    m->cur = NONE;
    mf_imap_session_push_untagged(m->s, "EXISTS", on_exists, m, &prev_exists);
    mf_imap_session_push_untagged(m->s, "FETCH", on_fetch, m, &prev_fetch);
    rc = each_measurable(m, uds, fetch_cmds);
    mf_imap_session_pop_untagged(m->s, &prev_fetch);
    mf_imap_session_pop_untagged(m->s, &prev_exists);
    free(uds);
    return rc;
}

/* ------------------------------------------------------------------ */
/* STATUS                                                              */
/* ------------------------------------------------------------------ */

static bool
same_name(const struct mf_folder_entry *e, const uint8_t *name, size_t len) {
    return e->src_raw_len == len && memcmp(e->src_raw, name, len) == 0;
}

/* "* STATUS name (MESSAGES m SIZE s)" */
static mf_err
on_status(void *ud, const struct mf_imap_response *r) {
    struct measure *m = ud;
    const struct mf_imap_arg *items, *a;
    const uint8_t *name;
    size_t len, n, at = NONE;
    uint64_t messages, size;

    if (r->nargs < 2 || !mf_imap_arg_as_string(&r->args[0], &name, &len) ||
        !mf_imap_arg_as_list(&r->args[1], &items, &n))
        return MF_E_OK;
    if (m->next < m->n_order &&
        same_name(mf_folder_plan_entry(m->res->plan, m->order[m->next]), name,
                  len))
        at = m->order[m->next];
    for (size_t k = 0; at == NONE && k < m->n_order; k++)
        if (same_name(mf_folder_plan_entry(m->res->plan, m->order[k]), name,
                      len))
            at = m->order[k];
    if (at == NONE)
        return MF_E_OK;
    if (!(a = mf_imap_args_find(items, n, "MESSAGES")) ||
        !mf_imap_arg_as_u64(a, &messages) ||
        !(a = mf_imap_args_find(items, n, "SIZE")) ||
        !mf_imap_arg_as_u64(a, &size))
        return MF_E_OK;
    m->res->folders[at].total.messages = messages;
    m->res->folders[at].total.bytes = size;
    m->got[at] = true;
    return MF_E_OK;
}

static void
status_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ud *c = ud;
    struct measure *m = c->m;

    m->next++;
    if (res->error.code != MF_E_OK) {
        folder_error(m, c->entry, &res->error);
        return;
    }
    if (!m->got[c->entry]) {
        struct mf_error e;
        mf_error_set(&e, MF_E_IMAP_UNEXPECTED,
                     "STATUS completed without MESSAGES and SIZE");
        folder_error(m, c->entry, &e);
        return;
    }
    m->res->folders[c->entry].measured = true;
}

/* "* SEARCH 4 9 17" */
static mf_err
on_search(void *ud, const struct mf_imap_response *r) {
    struct measure *m = ud;

    for (size_t i = 0; i < r->nargs; i++) {
        uint32_t uid;
        if (!mf_imap_arg_as_u32(&r->args[i], &uid))
            continue;
        if (m->n_uids == m->cap_uids) {
            m->cap_uids = m->cap_uids ? 2 * m->cap_uids : 64;
            m->uids = mf_xreallocarray(m->uids, m->cap_uids, sizeof(*m->uids));
        }
        m->uids[m->n_uids++] = uid;
    }
    return MF_E_OK;
}

static void
search_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ud *c = ud;

    if (res->error.code != MF_E_OK)
        folder_error(c->m, c->entry, &res->error);
}

static void
chunk_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ud *c = ud;

    if (res->error.code != MF_E_OK)
        folder_error(c->m, c->entry, &res->error);
}

/* The messages over the cap in folder i, whose total is above it. */
static mf_err
measure_oversize(struct measure *m, size_t i) {
    const struct mf_folder_entry *e = mf_folder_plan_entry(m->res->plan, i);
    struct mf_imap_cmd_spec c = {0};
    struct cmd_ud ud = {m, i};
    mf_err rc;

    m->n_uids = 0;
    m->cur = NONE;
    add_examine(&c, e);
    if ((rc = submit(m, &c, examine_done, &ud)))
        return rc;
    mf_imap_cmd_textf(&c, "UID SEARCH LARGER %llu", (unsigned long long)m->cap);
    if ((rc = submit(m, &c, search_done, &ud)))
        return rc;
    if ((rc = drain(m)))
        return rc;
    if (m->res->folders[i].error.code != MF_E_OK)
        return MF_E_OK;
    m->cur = i;
    m->full = false;
    for (size_t k = 0; k < m->n_uids; k += MF__PLAN_FETCH_CHUNK) {
        size_t end = k + MF__PLAN_FETCH_CHUNK;
        if (end > m->n_uids)
            end = m->n_uids;
        mf_imap_cmd_text(&c, "UID FETCH ");
        for (size_t j = k; j < end; j++)
            mf_imap_cmd_textf(&c, "%s%u", j > k ? "," : "", m->uids[j]);
        mf_imap_cmd_text(&c, " (UID RFC822.SIZE)");
        if ((rc = submit(m, &c, chunk_done, &ud)))
            break;
    }
    rc = drain(m);
    m->cur = NONE;
    if (m->res->folders[i].error.code != MF_E_OK)
        m->res->folders[i].measured = false;
    return rc;
}

/* STATUS name (MESSAGES SIZE), its folder noted in the order sent. */
static mf_err
status_cmds(struct measure *m, const struct mf_folder_entry *e,
            struct cmd_ud *ud) {
    struct mf_imap_cmd_spec c = {0};

    m->order[m->n_order++] = ud->entry;
    mf_imap_cmd_text(&c, "STATUS ");
    mf_imap_cmd_astring(&c, e->src_raw, e->src_raw_len);
    mf_imap_cmd_text(&c, " (MESSAGES SIZE)");
    return submit(m, &c, status_done, ud);
}

static mf_err
measure_status(struct measure *m) {
    size_t n = mf_folder_plan_count(m->res->plan);
    struct cmd_ud *uds = mf_xcalloc(n ? n : 1, sizeof(*uds));
    struct mf_imap_untagged_prev prev_status, prev_exists, prev_search,
        prev_fetch;
    mf_err rc;

    m->order = mf_xcalloc(n ? n : 1, sizeof(*m->order));
    m->got = mf_xcalloc(n ? n : 1, sizeof(*m->got));
    mf_imap_session_push_untagged(m->s, "STATUS", on_status, m, &prev_status);
    rc = each_measurable(m, uds, status_cmds);
    mf_imap_session_pop_untagged(m->s, &prev_status);
    if (rc != MF_E_OK)
        goto out;

    /* Only a folder whose total is above the cap can hold a message
     * above it. */
    mf_imap_session_push_untagged(m->s, "EXISTS", on_exists, m, &prev_exists);
    mf_imap_session_push_untagged(m->s, "SEARCH", on_search, m, &prev_search);
    mf_imap_session_push_untagged(m->s, "FETCH", on_fetch, m, &prev_fetch);
    for (size_t i = 0; i < n && rc == MF_E_OK; i++) {
        const struct mf_plan_folder *f = &m->res->folders[i];
        if (f->measured && copied(m, i) && f->total.bytes > m->cap)
            rc = measure_oversize(m, i);
    }
    mf_imap_session_pop_untagged(m->s, &prev_fetch);
    mf_imap_session_pop_untagged(m->s, &prev_search);
    mf_imap_session_pop_untagged(m->s, &prev_exists);
out:
    free(uds);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

mf_err
mf__plan_measure(struct mf_imap_session *s, struct mf_plan_mailbox *res) {
    size_t n = mf_folder_plan_count(res->plan);
    struct measure m = {.s = s, .res = res, .cap = res->max_message_size};
    mf_err rc;

    res->folders = mf_xcalloc(n ? n : 1, sizeof(*res->folders));
    m.exists = mf_xcalloc(n ? n : 1, sizeof(*m.exists));
    m.cur = NONE;
    if (res->method == MF_PLAN_SIZE_STATUS)
        rc = measure_status(&m);
    else
        rc = measure_fetch(&m);
    free(m.exists);
    free(m.order);
    free(m.got);
    free(m.uids);
    if (rc == MF_E_OK)
        rc = res->error.code;
    return rc;
}
