/*
 * One mailbox's migration (mf_migrate_mailbox(), see mailferry/migrate.h):
 * attempts with backoff around "connect both sides, plan the folders,
 * create them, copy each folder". Folders finished in an earlier attempt
 * are not visited again; a folder interrupted halfway resumes from its
 * checkpoint.
 */
#include "migrate/leases.h"
#include "migrate/migrate_int.h"

#include "mailferry/fence.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BACKOFF_MS 1000
#define DEFAULT_MAX_BACKOFF_MS 60000

struct names {
    char **v;
    size_t n;
};

static bool
names_has(const struct names *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void
names_add(struct names *s, const char *name) {
    s->v = mf_xreallocarray(s->v, s->n + 1, sizeof(*s->v));
    s->v[s->n++] = mf_xstrdup(name);
}

static void
names_free(struct names *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

uint64_t
mf__run_max_message_size(const struct mf_migrate_options *o) {
    return mf_profile_max_message_size(o->target_profile, o->max_message_size);
}

static bool
stopped(const struct mf__run *run) {
    return run->o->stop && atomic_load(run->o->stop);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static mf_err
open_side(struct mf__run *run, const struct mf_migrate_server *srv,
          const struct mf_migrate_login *login, const char *side,
          struct mf_store **st_r) {
    struct mf_imap_conn_options co = {0};
    struct mf_imap_login il = {0};
    struct mf_store_imap_options so = {0};
    struct mf_error err = {0};
    uint32_t retry_ms = 0;
    mf_err rc;

    /* No connection for a job that lost its claim (mailferry/fence.h). */
    if (!mf_fence_holds(run->o->fence)) {
        rc = mf_error_set(&err, MF_E_FENCED,
                          "not connecting: the claim on "
                          "this job is gone");
        goto out;
    }
    /* Nothing to a server that throttled, here or fleet-wide, until its
     * pause is over (throttle.c). */
    mf__run_throttle_wait(run, srv == run->o->target, true);
    /* No connection without a lease in every cap of that side. */
    if ((rc = mf__leases_connection(run->leases, srv == run->o->target,
                                    login->user, &err)))
        goto out;
    if (run->open) {
        rc = run->open(run->open_ud, srv == run->o->target, login, st_r, &err,
                       &retry_ms);
        goto out;
    }
    mf_store_imap_side(srv, login, mf__run_profile(run, srv == run->o->target),
                       &co, &il);
    so.conn = &co;
    so.login = &il;
    so.user_root = login->user_root;
    so.enable_qresync = srv != run->o->target && run->o->sync_deletes;
    so.timeout_ms = srv->io_timeout_ms;
    so.command_timeout_ms = srv->command_timeout_ms;
    so.stream_threshold = run->stream_threshold;
    /* A literal bigger than the cap is never fetched, but one that lies
     * about its size must not make us buffer it. */
    so.max_literal = run->max_size + 1024 * 1024;
    rc = mf_store_imap_open(&so, st_r, &err, &retry_ms);
out:
    if (rc == MF_E_OK) {
        mf__leases_attach(run->leases, srv == run->o->target, *st_r);
        mf_fence_attach(run->o->fence, srv == run->o->target, *st_r);
    } else
        mf__leases_release_connections(run->leases, srv != run->o->target,
                                       srv == run->o->target);
    if (rc != MF_E_OK) {
        run->err.code = rc;
        snprintf(run->err.detail, sizeof(run->err.detail), "%s: %.240s", side,
                 err.detail);
        run->retry_after_ms =
            rc == MF_E_THROTTLED
                ? mf__run_throttled(run, srv == run->o->target, retry_ms)
                : retry_ms;
        if (rc == MF_E_BANDWIDTH_QUOTA)
            mf__run_quota_said(run, srv == run->o->target);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Folder lists and the plan                                           */
/* ------------------------------------------------------------------ */

/* The folder plan; with lists_r (may be NULL) the folder lists it was
 * made from are kept there (the caller frees them), else freed. */
static mf_err
make_plan(struct mf__run *run, struct mf_folder_plan **plan_r,
          struct mf_store_lists *lists_r) {
    struct mf_store_lists l = {0};
    struct mf_folder_plan_input in = {0};
    mf_err rc;

    if ((rc = mf_store_list_source(run->src, &l))) {
        rc = mf__run_store_error(run, run->src, "source LIST");
        goto out;
    }
    if ((rc = mf_store_list_target(run->dst, &l))) {
        rc = mf__run_store_error(run, run->dst, "target LIST");
        goto out;
    }
    /* A user with a mailbox has an INBOX (RFC 3501 5.1 reserves the name
     * for the user's primary mailbox) and servers list it; Cyrus lists
     * nothing for a login whose mailbox was never created. */
    if (l.ntgt == 0) {
        rc = mf_error_set(&run->err, MF_E_TARGET_MAILBOX_MISSING,
                          "the target lists no folder, not even INBOX: "
                          "create the user's mailbox on the target first");
        goto out;
    }
    in.src = l.src;
    in.n_src = l.nsrc;
    in.src_prefix = run->src->caps.prefix;
    in.tgt = l.tgt;
    in.n_tgt = l.ntgt;
    in.tgt_delim = run->dst->caps.delim;
    in.tgt_prefix = run->dst->caps.prefix;
    in.rules = run->o->rules;
    in.tgt_names =
        run->o->target_profile ? run->o->target_profile->names : NULL;
    in.tgt_case_insensitive = in.tgt_names && in.tgt_names->case_insensitive;
    rc = mf_folder_plan_build(&in, plan_r, &run->err);
out:
    if (lists_r && rc == MF_E_OK)
        *lists_r = l;
    else
        mf_store_lists_free(&l);
    return rc;
}

static void
plan_stats(struct mf__run *run, const struct mf_folder_plan *plan) {
    struct mf_migrate_stats *s = &run->res->stats;
    struct mf_migrate_progress *p = run->o->progress;
    uint32_t copy = 0;

    s->folders_excluded = 0;
    s->folders_renamed = 0;
    /* Each attempt lists the renamed folders anew. */
    for (size_t i = 0; i < run->res->n_renamed; i++)
        mf__run_item_clear(&run->res->renamed[i]);
    run->res->n_renamed = 0;
    mf__run_unmatched_renames(run, plan);
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        if (e->action == MF_FOLDER_EXCLUDED && e->src_raw)
            s->folders_excluded++;
        if (e->action == MF_FOLDER_COPY)
            copy++;
        if (e->action != MF_FOLDER_EXCLUDED && e->src_path &&
            (e->flags & MF_FOLDER_F_TARGET_RENAMED))
            mf__run_list_renamed(run, e);
    }
    if (p)
        atomic_store(&p->folders_total, copy);
}

/* The folder's name in reports (folder.c lists its messages so). Owned
 * by the caller. */
static char *
folder_label(const struct mf_folder_entry *e) {
    return e->src_path ? mf_xstrdup(e->src_path)
                       : mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
}

/* Takes back what an earlier attempt listed for a folder that is copied
 * again: the new attempt lists the same messages again if they still are
 * not copied. */
static void
forget_items(struct mf__run *run, const char *folder) {
    struct mf_migrate_result *res = run->res;
    struct mf_migrate_stats *s = &res->stats;
    size_t k = 0;

    for (size_t i = 0; i < res->n_failed; i++) {
        struct mf_migrate_item *it = &res->failed[i];
        if (strcmp(it->folder, folder) != 0) {
            res->failed[k++] = *it;
            continue;
        }
        if (it->uid) {
            s->failed--;
            s->bytes_failed -= it->size;
        }
        mf__run_item_clear(it);
    }
    res->n_failed = k;
    k = 0;
    for (size_t i = 0; i < res->n_skipped; i++) {
        struct mf_migrate_item *it = &res->skipped[i];
        if (strcmp(it->folder, folder) != 0) {
            res->skipped[k++] = *it;
            continue;
        }
        if (it->error.code == MF_E_MESSAGE_TOO_LARGE)
            s->skipped_too_large--;
        else if (it->error.code == MF_E_MESSAGE_GONE)
            s->skipped_vanished--;
        mf__run_item_clear(it);
    }
    res->n_skipped = k;
}

/* ------------------------------------------------------------------ */
/* One attempt                                                         */
/* ------------------------------------------------------------------ */

/* Copies one planned folder, or lists it when the target cannot take
 * it. Returns MF_E_OK when the folder is done for this pass (copied, or
 * its failures listed), else the error that ends the attempt. */
static mf_err
one_folder(struct mf__run *run, const struct mf_folder_entry *e,
           const struct mf_error *create_err) {
    const struct mf_error *refusal =
        create_err ? create_err
                   : (run->refusal.code != MF_E_OK ? &run->refusal : NULL);
    char *label = folder_label(e);
    mf_err rc;

    forget_items(run, label);
    rc = mf__migrate_folder(run, e, refusal);
    if (rc == MF_E_OK) {
        run->res->stats.folders_copied++;
    } else if (mf__run_folder_only(rc)) {
        /* A full target, or one refusing everything, stops taking this
         * mailbox's mail: the rest is only listed, each message with this
         * error. Otherwise the folder's own failure (it cannot be created
         * or opened) is listed once, as UID 0, beside its messages. */
        bool mailbox_wide =
            rc == MF_E_OVERQUOTA ||
            run->consecutive_rejects >= MF__MAX_CONSECUTIVE_REJECTS;
        if (mailbox_wide && run->refusal.code == MF_E_OK)
            run->refusal = run->err;
        else if (!mailbox_wide && (!refusal || refusal == create_err))
            mf__run_item(run, true, label, 0, 0, NULL, NULL,
                         create_err ? create_err : &run->err);
        rc = MF_E_OK;
    }
    free(label);
    return rc;
}

/* Replaces the source connection (see run->reopen_source). */
static mf_err
reopen_source(struct mf__run *run, const struct mf_migrate_login *login) {
    run->reopen_source = false;
    mf__leases_attach(run->leases, false, NULL);
    mf_fence_attach(run->o->fence, 0, NULL);
    mf_store_close(&run->src);
    mf__leases_release_connections(run->leases, true, false);
    return open_side(run, run->o->source, login, "source", &run->src);
}

/* The folders to copy, in the order they are copied: the plan's, except
 * that a Gmail source copied by labels has All Mail last (gmail.c).
 * Owned by the caller; the entries are the plan's. */
static const struct mf_folder_entry **
copy_order(struct mf__run *run, const struct mf_folder_plan *plan,
           size_t *n_r) {
    size_t n = mf_folder_plan_count(plan), k = 0;
    const struct mf_folder_entry **v = mf_xcalloc(n ? n : 1, sizeof(*v));
    bool gmail = mf__gmail_mode(run);

    for (int last = 0; last < 2; last++)
        for (size_t i = 0; i < n; i++) {
            const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
            if (e->action == MF_FOLDER_COPY &&
                (gmail && mf__gmail_all_mail(e)) == (last == 1))
                v[k++] = e;
        }
    *n_r = k;
    return v;
}

/* The folders still to copy in this attempt (not done by an earlier
 * one, not broken), into v (n + 1 entries); returns how many. */
static size_t
still_to_copy(const struct mf_folder_entry **order, size_t n,
              const struct names *done, const struct broken_list *broken,
              const struct mf_folder_entry **v) {
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        char *key =
            mf_xstrndup((const char *)order[i]->src_raw, order[i]->src_raw_len);
        if (!names_has(done, key) &&
            !mf__broken_find(broken, order[i]->tgt_wire))
            v[k++] = order[i];
        free(key);
    }
    return k;
}

/* What comes before the first folder's copy, over the folders still to
 * copy: --sync-deletes' moves (moves.c), then the STATUS of every one on
 * both sides at once (statuses.c), after the moves, which change target
 * folders. Not when the target refuses the mailbox's mail: those folders
 * are only listed. */
static mf_err
before_folders(struct mf__run *run, const struct mf_folder_entry **order,
               size_t n, const struct names *done,
               const struct broken_list *broken) {
    const struct mf_folder_entry **v = mf_xcalloc(n + 1, sizeof(*v));
    size_t k = still_to_copy(order, n, done, broken, v);
    mf_err rc = MF_E_OK;

    if (run->refusal.code == MF_E_OK && run->o->sync_deletes)
        rc = mf__run_moves(run, v, k);
    if (rc == MF_E_OK && run->refusal.code == MF_E_OK)
        rc = mf__run_statuses_ask(run, v, k);
    free(v);
    return rc;
}

static mf_err
attempt(struct mf__run *run, const struct mf_migrate_login *src_login,
        const struct mf_migrate_login *dst_login, struct names *done) {
    struct mf_folder_plan *plan = NULL;
    struct mf_store_lists lists = {0};
    struct broken_list broken = {0};
    const struct mf_folder_entry **order = NULL;
    size_t norder = 0;
    uint64_t limit;
    mf_err rc;

    if ((rc = open_side(run, run->o->source, src_login, "source", &run->src)) ||
        (rc = open_side(run, run->o->target, dst_login, "target", &run->dst)))
        goto out;
    limit = mf__run_max_message_size(run->o);
    /* A target whose profile takes one message per APPEND (Exchange,
     * Gmail: no MULTIAPPEND in their CAPABILITY) gets no batches, even
     * behind a proxy that would advertise it. */
    if (run->o->target_profile && run->o->target_profile->no_multiappend)
        run->dst->caps.multiappend = false;
    if (run->dst->caps.appendlimit && run->dst->caps.appendlimit < limit)
        limit = run->dst->caps.appendlimit;
    run->max_size = limit;
    if (run->o->sync_deletes && !run->dst->caps.uidplus) {
        /* RFC 4315 2.1: only UID EXPUNGE removes just the messages
         * mailferry marks; a plain EXPUNGE would take those the user
         * marked \Deleted too. Refused before anything is copied. */
        rc = mf_error_set(&run->err, MF_E_DELETE_NEEDS_UIDPLUS,
                          "--sync-deletes: the target has no UIDPLUS (RFC "
                          "4315), so it cannot remove only the messages "
                          "mailferry put there; run without --sync-deletes");
        goto out;
    }
    if ((rc = make_plan(run, &plan, &lists)))
        goto out;
    plan_stats(run, plan);
    if ((rc = mf__run_create_folders(run, plan, &lists, &broken)))
        goto out;
    order = copy_order(run, plan, &norder);
    if (mf__gmail_mode(run) &&
        (rc = mf__gmail_index(run, order, norder, &run->gmail)))
        goto out;
    if ((rc = before_folders(run, order, norder, done, &broken)) != MF_E_OK)
        goto out;
    for (size_t i = 0; i < norder; i++) {
        const struct mf_folder_entry *e = order[i];
        char *key;

        run->gmail_folder = i;
        key = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
        if (names_has(done, key)) {
            free(key);
            continue;
        }
        if (stopped(run)) {
            free(key);
            rc = mf_error_set(&run->err, MF_E_CANCELLED,
                              "stopped between folders");
            goto out;
        }
        rc = one_folder(run, e, mf__broken_find(&broken, e->tgt_wire));
        if (rc == MF_E_OK && run->reopen_source)
            rc = reopen_source(run, src_login);
        if (rc == MF_E_OK) {
            names_add(done, key);
            if (run->o->progress)
                atomic_fetch_add(&run->o->progress->folders_done, 1);
        }
        free(key);
        if (rc != MF_E_OK)
            goto out;
    }
out:
    /* The empty folders' checkpoints that wait (folder.c), whatever
     * ended the attempt: those folders are done. An earlier error
     * stands; what is not written waits for the next attempt's. */
    {
        struct mf_error ferr = {0};
        mf_err frc = mf__ckpt_flush(run, &ferr);
        if (rc == MF_E_OK && frc != MF_E_OK) {
            run->err = ferr;
            rc = frc;
        }
    }
    free(order);
    mf__run_statuses_free(run);
    mf__gmail_free(&run->gmail);
    mf_folder_plan_free(&plan);
    mf_store_lists_free(&lists);
    mf__broken_free(&broken);
    mf__leases_attach(run->leases, false, NULL);
    mf__leases_attach(run->leases, true, NULL);
    mf_fence_attach(run->o->fence, 0, NULL);
    mf_fence_attach(run->o->fence, 1, NULL);
    mf_store_close(&run->src);
    mf_store_close(&run->dst);
    mf__leases_release_connections(run->leases, true, true);
    return rc;
}

/* After a pass over every folder: MF_E_OK when every message is on the
 * target (or skipped by the size cap, which is the admin's rule);
 * otherwise the mailbox is not synced, and the error says how much is
 * missing and the first reason. */
static mf_err
pass_verdict(struct mf__run *run) {
    const struct mf_migrate_result *res = run->res;
    const struct mf_migrate_stats *s = &res->stats;
    const struct mf_migrate_item *first;
    char uid[24] = "";

    if (res->n_failed == 0)
        return MF_E_OK;
    first = &res->failed[0];
    if (first->uid)
        snprintf(uid, sizeof(uid), " UID %u", first->uid);
    if (run->refusal.code == MF_E_OVERQUOTA)
        return mf_error_set(&run->err, MF_E_OVERQUOTA,
                            "target over quota: %llu messages (%llu bytes) "
                            "still to copy: %.120s",
                            (unsigned long long)s->failed,
                            (unsigned long long)s->bytes_failed,
                            run->refusal.detail);
    if (s->failed == 0) /* all on the target; flags refused (flagsync.c) */
        return mf_error_set(&run->err, MF_E_NOT_ALL_COPIED,
                            "%zu listed: flags or folders not synced; first: "
                            "%.60s%s: %s: %.120s",
                            res->n_failed, first->folder, uid,
                            mf_err_name(first->error.code),
                            first->error.detail);
    return mf_error_set(&run->err, MF_E_NOT_ALL_COPIED,
                        "%llu messages (%llu bytes) not copied; first: "
                        "%.60s%s: %s: %.100s",
                        (unsigned long long)s->failed,
                        (unsigned long long)s->bytes_failed, first->folder, uid,
                        mf_err_name(first->error.code), first->error.detail);
}

/* Attempts a throttling server may end while the mailbox makes progress
 * (each one copied something), on top of --max-attempts. */
#define MAX_THROTTLED_RETRIES 1000

/* What a mailbox has done so far, to tell an attempt that moved. */
static uint64_t
progress_count(const struct mf_migrate_result *res) {
    const struct mf_migrate_stats *s = &res->stats;
    return s->messages_copied + s->messages_present + s->failed +
           s->skipped_too_large + s->skipped_vanished + s->folders_copied;
}

static bool
retryable(mf_err rc) {
    mf_err_class cls = mf_err_class_of(rc);
    return cls == MF_ERRCLASS_RETRY || cls == MF_ERRCLASS_RECONNECT;
}

/* Sleeps ms in slices, returning early on a stop request. */
static void
nap(const struct mf__run *run, uint32_t ms) {
    while (ms > 0 && !stopped(run)) {
        uint32_t step = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Exponential backoff with +-25 % jitter, never less than the server
 * asked for. */
static uint32_t
backoff(const struct mf__run *run, unsigned attempt_no) {
    uint64_t base =
        run->o->backoff_ms ? run->o->backoff_ms : DEFAULT_BACKOFF_MS;
    uint64_t cap = run->o->max_backoff_ms ? run->o->max_backoff_ms
                                          : DEFAULT_MAX_BACKOFF_MS;
    uint64_t ms = base << (attempt_no > 16 ? 16 : attempt_no - 1);
    uint64_t jitter;

    if (ms > cap)
        ms = cap;
    jitter = ms / 4 ? (uint64_t)rand() % (ms / 2 + 1) : 0;
    ms = ms - ms / 4 + jitter;
    if (run->retry_after_ms > ms)
        ms = run->retry_after_ms < 10 * cap ? run->retry_after_ms : 10 * cap;
    return (uint32_t)ms;
}

mf_err
mf_migrate_mailbox(const struct mf_migrate_options *o, const char *mailbox,
                   const struct mf_migrate_login *src,
                   const struct mf_migrate_login *dst,
                   struct mf_migrate_result *res) {
    return mf__migrate_mailbox_with(o, mailbox, src, dst, NULL, NULL, res);
}

mf_err
mf__migrate_mailbox_with(const struct mf_migrate_options *o,
                         const char *mailbox,
                         const struct mf_migrate_login *src,
                         const struct mf_migrate_login *dst,
                         mf_migrate_open_fn open, void *open_ud,
                         struct mf_migrate_result *res) {
    struct mf__ckpt_mem *mem = NULL;
    mf_err rc =
        mf__migrate_mailbox_mem(o, mailbox, src, dst, open, open_ud, &mem, res);
    mf__ckpt_mem_free(&mem);
    return rc;
}

mf_err
mf__migrate_mailbox_mem(const struct mf_migrate_options *o, const char *mailbox,
                        const struct mf_migrate_login *src,
                        const struct mf_migrate_login *dst,
                        mf_migrate_open_fn open, void *open_ud,
                        struct mf__ckpt_mem **mem,
                        struct mf_migrate_result *res) {
    struct mf__run run = {0};
    struct names done = {0};
    unsigned throttled_retries = 0, quota_waits = 0;
    unsigned max_attempts =
        o->max_attempts ? o->max_attempts : MF_MIGRATE_DEFAULT_ATTEMPTS;
    double t0 = mf_monotonic_s();
    mf_err rc = MF_E_OK;

    memset(res, 0, sizeof(*res));
    run.o = o;
    run.mailbox = mailbox;
    run.open = open;
    run.open_ud = open_ud;
    run.mem = *mem;
    run.res = res;
    run.batch_messages = o->batch_messages;
    run.batch_bytes = o->batch_bytes ? o->batch_bytes : 1024 * 1024;
    run.appends_in_flight = o->appends_in_flight ? o->appends_in_flight : 4;
    run.pipe_bytes = o->pipe_bytes ? o->pipe_bytes : 2 * 1024 * 1024;
    run.stream_threshold =
        o->stream_threshold ? o->stream_threshold : 256 * 1024;
    run.max_size = mf__run_max_message_size(o);
    mf__run_quota_init(&run, src, dst);
    /* --repair needs the whole message to fix it: nothing is streamed,
     * each message is held in memory (up to the size cap) instead. */
    if (o->repair && run.stream_threshold < run.max_size)
        run.stream_threshold = run.max_size;
    if ((rc = mf__leases_new(o, &run.leases, &run.err)) ||
        (rc = mf__leases_mailbox(run.leases, &run.err)))
        goto done;
    for (unsigned n = 1;; n++) {
        uint64_t before = progress_count(res);

        res->stats.attempts = n;
        run.retry_after_ms = 0;
        run.throttled = run.yielded = false;
        memset(run.over, 0, sizeof(run.over));
        rc = attempt(&run, src, dst, &done);
        /* A server that throttles a mailbox that still moves is pacing
         * it, not failing it: that attempt is not counted, and the pause
         * the server asked for (throttle.c) replaces the backoff. Nor is
         * one that gave its connection up to the lowered limit. */
        if (rc == MF_E_THROTTLED && run.throttled && !stopped(&run) &&
            (progress_count(res) > before || run.yielded) &&
            throttled_retries++ < MAX_THROTTLED_RETRIES) {
            n--;
            continue;
        }
        /* A user's daily bandwidth quota used up (quota.c): the mailbox
         * waits for the next window, not counted as an attempt, and goes
         * on where it stopped. */
        if (rc == MF_E_BANDWIDTH_QUOTA && !stopped(&run) &&
            quota_waits++ < MAX_THROTTLED_RETRIES) {
            mf__run_quota_wait(&run, run.err.detail);
            if (stopped(&run)) {
                rc = mf_error_set(&run.err, MF_E_CANCELLED,
                                  "stopped while waiting for the next "
                                  "bandwidth quota window");
                break;
            }
            n--;
            continue;
        }
        if (rc == MF_E_OK || rc == MF_E_CANCELLED || !retryable(rc) ||
            n >= max_attempts || stopped(&run))
            break;
        nap(&run, backoff(&run, n));
    }
    if (rc == MF_E_OK) {
        res->stats.pass_complete = true;
        rc = pass_verdict(&run);
    }
done:
    /* Left only when every attempt failed: that pass is not synced. */
    mf__ckpt_later_drop(&run);
    res->stats.lease_wait_ms = mf__leases_waited_ms(run.leases);
    mf__leases_free(&run.leases);
    if (rc != MF_E_OK) {
        res->error = run.err;
        if (res->error.code == MF_E_OK)
            res->error.code = rc;
    }
    res->stats.seconds = mf_monotonic_s() - t0;
    names_free(&done);
    mf__run_moved_free(&run);
    for (size_t i = 0; i < run.n_counted; i++)
        free(run.counted[i]);
    free(run.counted);
    *mem = run.mem;
    return rc;
}

static void
items_free(struct mf_migrate_item *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        mf__run_item_clear(&v[i]);
    free(v);
}

void
mf_migrate_result_clear(struct mf_migrate_result *res) {
    items_free(res->skipped, res->n_skipped);
    items_free(res->failed, res->n_failed);
    items_free(res->deleted, res->n_deleted);
    items_free(res->moved, res->n_moved);
    items_free(res->repaired, res->n_repaired);
    items_free(res->renamed, res->n_renamed);
    items_free(res->unmatched_renames, res->n_unmatched_renames);
    memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------------ */
/* For mf_migrate_sides (sides.c: `mailferry verify`)                 */
/* ------------------------------------------------------------------ */

mf_err
mf__run_open(struct mf__run *run, bool target,
             const struct mf_migrate_login *login, struct mf_store **st_r) {
    return open_side(run, target ? run->o->target : run->o->source, login,
                     target ? "target" : "source", st_r);
}

mf_err
mf__run_plan(struct mf__run *run, struct mf_folder_plan **plan_r) {
    return make_plan(run, plan_r, NULL);
}
