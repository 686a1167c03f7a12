/*
 * One mailbox's plan (mf_plan_mailbox(), mailferry/plan.h): log in to
 * the source and, when given, the target; list both; build the folder
 * plan exactly as the copy engine does (core/src/migrate/mailbox.c), so
 * that what the plan shows is what a batch would do; then measure.
 *
 * The IMAP store (core/include/mailferry/store.h) provides LIST (with the LSUB
 * fallback and special-use attributes), the namespace prefix and the
 * delimiter; the plan keeps a borrowed pointer to the store's session for
 * the STATUS and FETCH commands the store has no operation for. The
 * session is opened here with a longer line limit than the default, for
 * "* SEARCH" answers listing many UIDs (parser.h).
 */
#include "plan/plan_int.h"

#include "mailferry/store.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room for about a million UIDs in one "* SEARCH" line. */
#define SEARCH_MAX_LINE ((size_t)8 * 1024 * 1024)
#define SEARCH_MAX_ARGS ((size_t)1200000)

/* Opens one side; *s_r is the store's session (borrowed). */
static mf_err
open_side(const struct mf_migrate_server *srv,
          const struct mf_migrate_login *lg, const struct mf_profile *profile,
          const char *side, struct mf_store **st_r,
          struct mf_imap_session **s_r, struct mf_error *err) {
    struct mf_imap_conn_options co = {0};
    struct mf_imap_login il = {0};
    struct mf_imap_parser_limits lim;
    struct mf_imap_session_options so = {0};
    struct mf_store_imap_options sto = {0};
    struct mf_imap_session *s = NULL;
    struct mf_error e = {0};
    mf_err rc;

    mf_store_imap_side(srv, lg, profile, &co, &il);
    mf_imap_parser_limits_init(&lim);
    lim.max_line = SEARCH_MAX_LINE;
    lim.max_args = SEARCH_MAX_ARGS;
    so.limits = &lim;
    so.timeout_ms = srv->io_timeout_ms;
    rc = mf_imap_session_open(&co, &il, &so, &s, &e, NULL);
    if (rc == MF_E_OK) {
        sto.conn = &co;
        sto.login = &il;
        sto.user_root = lg->user_root;
        /* Takes the session over, also on failure. */
        rc = mf_store_imap_wrap(s, &sto, st_r, &e);
    }
    if (rc != MF_E_OK) {
        err->code = rc;
        snprintf(err->detail, sizeof(err->detail), "%s: %.240s", side,
                 e.detail);
        return rc;
    }
    *s_r = s;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Folder lists                                                        */
/* ------------------------------------------------------------------ */

static mf_err
store_error(struct mf_store *st, const char *what, struct mf_error *err) {
    mf_err code = st->error.code != MF_E_OK ? st->error.code : MF_E_INTERNAL;

    return mf_error_set(err, code, "%s: %.220s", what, st->error.detail);
}

/* ------------------------------------------------------------------ */
/* One mailbox                                                         */
/* ------------------------------------------------------------------ */

/* The size method for res (o->size_method against the window and the
 * source's STATUS=SIZE); an error in res->error when it cannot be. */
static mf_err
choose_method(const struct mf_plan_options *o, struct mf_imap_session *ss,
              struct mf_plan_mailbox *res) {
    switch (o->size_method) {
    case MF_PLAN_SIZE_AUTO:
        if (!mf_window_empty(&o->window)) {
            res->method = MF_PLAN_SIZE_FETCH; /* dates, per message */
            break;
        }
        res->method = mf_imap_session_has(ss, MF_IMAP_CAP_STATUS_SIZE)
                          ? MF_PLAN_SIZE_STATUS
                          : MF_PLAN_SIZE_FETCH;
        break;
    case MF_PLAN_SIZE_STATUS:
        if (!mf_window_empty(&o->window))
            return mf_error_set(&res->error, MF_E_USAGE,
                                "a date window needs each message's "
                                "INTERNALDATE: use --size-method fetch");
        if (!mf_imap_session_has(ss, MF_IMAP_CAP_STATUS_SIZE))
            return mf_error_set(&res->error, MF_E_IMAP_CAPABILITY,
                                "source: no STATUS=SIZE (RFC 8438); use "
                                "--size-method fetch");
        res->method = MF_PLAN_SIZE_STATUS;
        break;
    case MF_PLAN_SIZE_FETCH:
        res->method = MF_PLAN_SIZE_FETCH;
        break;
    }
    return MF_E_OK;
}

/* Logs in, lists both sides and builds res->plan as the copy engine
 * does; with measure, also chooses the size method and reads the
 * target's quota. On success the source stays open in *src_r (its
 * session, borrowed, in *ss_r) for measuring; the caller closes it. */
static mf_err
build(const struct mf_plan_options *o, const struct mf_plan_request *req,
      struct mf_plan_mailbox *res, bool measure, struct mf_store **src_r,
      struct mf_imap_session **ss_r) {
    struct mf_store *src = NULL, *dst = NULL;
    struct mf_imap_session *ss = NULL, *ts = NULL; /* borrowed */
    struct mf_store_lists l = {0};
    struct mf_folder_plan_input in = {0};
    char tgt_prefix[sizeof(((struct mf_store_caps *)0)->prefix)] = "";
    uint64_t cap = res->max_message_size;
    mf_err rc;

    if ((rc = open_side(o->source, &req->source, o->source_profile, "source",
                        &src, &ss, &res->error)))
        goto out;
    if (o->target) {
        if ((rc = open_side(o->target, &req->target, o->target_profile,
                            "target", &dst, &ts, &res->error)))
            goto out;
        res->target_checked = true;
        res->appendlimit = dst->caps.appendlimit;
        if (res->appendlimit && res->appendlimit < cap)
            cap = res->appendlimit;
        res->max_message_size = cap;
    }
    res->window = o->window;
    if (measure && (rc = choose_method(o, ss, res)))
        goto out;
    if ((rc = mf_store_list_source(src, &l))) {
        rc = store_error(src, "source LIST", &res->error);
        goto out;
    }
    if (dst && (rc = mf_store_list_target(dst, &l))) {
        rc = store_error(dst, "target LIST", &res->error);
        goto out;
    }
    if (ts && measure)
        mf__plan_quota_read(ts, res);
    /* No target to ask: the common case ("/", no prefix). */
    res->tgt_delim = dst ? dst->caps.delim : '/';
    if (dst)
        snprintf(tgt_prefix, sizeof(tgt_prefix), "%s", dst->caps.prefix);
    mf_store_close(&dst); /* everything else is on the source */
    res->src_delim = src->caps.delim;
    for (size_t i = 0; !res->src_delim && i < l.nsrc; i++)
        res->src_delim = l.src[i].delim;
    in.src = l.src;
    in.n_src = l.nsrc;
    in.src_prefix = src->caps.prefix;
    in.tgt = l.tgt;
    in.n_tgt = l.ntgt;
    in.tgt_delim = res->tgt_delim;
    in.tgt_prefix = tgt_prefix;
    in.rules = o->rules;
    in.tgt_names = o->target_profile ? o->target_profile->names : NULL;
    in.tgt_case_insensitive = in.tgt_names && in.tgt_names->case_insensitive;
    if ((rc = mf_folder_plan_build(&in, &res->plan, &res->error)))
        goto out;
    /* The name a run will really use where an earlier run's fallback is
     * on the target (the engine's rule, folderplan_fallback.c). */
    if (res->target_checked)
        mf_folder_plan_adopt_fallbacks(res->plan, l.tgt, l.ntgt, res->tgt_delim,
                                       in.tgt_utf8,
                                       mf_folder_rules_replacement(o->rules));
    *src_r = src;
    *ss_r = ss;
    src = NULL;
out:
    mf_store_lists_free(&l);
    mf_store_close(&src);
    mf_store_close(&dst);
    return rc;
}

/* res made empty for req, with the size cap before any APPENDLIMIT. */
static void
res_init(const struct mf_plan_options *o, const struct mf_plan_request *req,
         struct mf_plan_mailbox *res) {
    memset(res, 0, sizeof(*res));
    res->email = mf_xstrdup(req->email ? req->email : "");
    res->max_message_size = o->max_message_size
                                ? o->max_message_size
                                : MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE;
}

/* mf_plan_mailbox() (measure: sizes, totals and quota too) and
 * mf_plan_folders() (the folder plan only). */
static mf_err
plan(const struct mf_plan_options *o, const struct mf_plan_request *req,
     struct mf_plan_mailbox *res, bool measure) {
    struct mf_store *src = NULL;
    struct mf_imap_session *ss = NULL; /* borrowed */
    double t0 = mf_monotonic_s();
    mf_err rc;

    res_init(o, req, res);
    if (measure && o->stop && atomic_load(o->stop)) {
        rc = mf_error_set(&res->error, MF_E_CANCELLED, "stopped");
        goto out;
    }
    if ((rc = build(o, req, res, measure, &src, &ss)) || !measure)
        goto out;
    rc = mf__plan_measure(ss, res);
    mf__plan_totals(res);
    if (res->quota.checked) {
        mf__plan_quota_fit(&res->quota, &res->totals.copy);
        if (res->quota.bytes_short || res->quota.messages_short)
            res->totals.over_quota = 1;
    }
out:
    mf_store_close(&src);
    res->seconds = mf_monotonic_s() - t0;
    return rc;
}

mf_err
mf_plan_mailbox(const struct mf_plan_options *o,
                const struct mf_plan_request *req,
                struct mf_plan_mailbox *res) {
    return plan(o, req, res, true);
}

mf_err
mf_plan_folders(const struct mf_plan_options *o,
                const struct mf_plan_request *req,
                struct mf_plan_mailbox *res) {
    return plan(o, req, res, false);
}
