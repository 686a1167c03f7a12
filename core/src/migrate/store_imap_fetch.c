/*
 * The IMAP store's message bodies (store_imap_int.h): pipelined
 * UID FETCH (UID BODY.PEEK[]) commands for a list of UIDs.
 *
 * Bodies are fetched with BODY.PEEK[] so nothing is marked \Seen (RFC
 * 3501 section 6.4.5). Bodies above the stream threshold arrive through
 * the session's literal sink in chunks and go straight to the caller's
 * body callbacks, so a 40 MB message never sits in memory whole. The sink
 * learns a literal's sequence number, which the sequence map
 * (store_imap_select.c) turns into its UID. A streamed body ends only
 * when its FETCH response's UID agrees with the UID its sequence number
 * filed it under.
 */
#include "migrate/store_imap_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* UIDs per body FETCH command: small enough that a vanished message is
 * found soon, large enough that command overhead does not matter. */
#define BODY_UIDS_PER_CMD 50

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
    uid = mf__store_imap_map_uid(is, info->number);
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
            mf__store_imap_map_put(is, r->number, uid);
    } else {
        uid = mf__store_imap_map_uid(is, r->number);
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
        mf__store_imap_add_uid_set(&c, uids + i, k);
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
