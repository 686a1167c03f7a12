/*
 * One mailbox's migration (mf_migrate_mailbox(), see mailferry/migrate.h):
 * attempts with backoff around "connect both sides, plan the folders,
 * create them, copy each folder". Folders finished in an earlier attempt
 * are not visited again; a folder interrupted halfway resumes from its
 * checkpoint.
 */
#include "migrate/leases.h"
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_ATTEMPTS 5
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

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

    /* No connection without a lease in every cap of that side. */
    if ((rc = mf__leases_connection(run->leases, srv == run->o->target,
                                    login->user, &err)))
        goto out;
    if (run->open) {
        rc = run->open(run->open_ud, srv == run->o->target, login, st_r, &err,
                       &retry_ms);
        goto out;
    }
    co.endpoint = srv->endpoint;
    co.ca_file = srv->ca_file;
    co.insecure = srv->insecure;
    co.bind_address = srv->bind_address;
    co.connect_timeout_ms = srv->connect_timeout_ms;
    co.io_timeout_ms = srv->io_timeout_ms;
    il.user = login->user;
    il.password = login->password;
    il.authzid = login->authzid;
    il.oauth_token = login->oauth_token;
    so.conn = &co;
    so.login = &il;
    so.timeout_ms = srv->io_timeout_ms;
    so.stream_threshold = run->stream_threshold;
    /* A literal bigger than the cap is never fetched, but one that lies
     * about its size must not make us buffer it. */
    so.max_literal = run->max_size + 1024 * 1024;
    rc = mf_store_imap_open(&so, st_r, &err, &retry_ms);
out:
    if (rc == MF_E_OK)
        mf__leases_attach(run->leases, srv == run->o->target, *st_r);
    else
        mf__leases_release_connections(run->leases, srv != run->o->target,
                                       srv == run->o->target);
    if (rc != MF_E_OK) {
        run->err.code = rc;
        snprintf(run->err.detail, sizeof(run->err.detail), "%s: %.240s", side,
                 err.detail);
        run->retry_after_ms = retry_ms;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Folder lists and the plan                                           */
/* ------------------------------------------------------------------ */

static mf_err
make_plan(struct mf__run *run, struct mf_folder_plan **plan_r) {
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
    in.src = l.src;
    in.n_src = l.nsrc;
    in.src_prefix = run->src->caps.prefix;
    in.tgt = l.tgt;
    in.n_tgt = l.ntgt;
    in.tgt_delim = run->dst->caps.delim;
    in.tgt_prefix = run->dst->caps.prefix;
    in.rules = run->o->rules;
    rc = mf_folder_plan_build(&in, plan_r, &run->err);
out:
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
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        if (e->action == MF_FOLDER_EXCLUDED && e->src_raw)
            s->folders_excluded++;
        if (e->action == MF_FOLDER_COPY)
            copy++;
        if (e->flags & (MF_FOLDER_F_DELIM_REPLACED | MF_FOLDER_F_COLLISION))
            s->folders_renamed++;
    }
    if (p)
        atomic_store(&p->folders_total, copy);
}

/* A folder-level problem that fails that folder only: listed, and the
 * mailbox goes on. */
static bool
folder_only(mf_err code) {
    return code == MF_E_IMAP_NO || code == MF_E_MAILBOX_MISSING ||
           code == MF_E_IMAP_BAD_MUTF7;
}

static void
folder_failed(struct mf__run *run, const struct mf_folder_entry *e) {
    mf__run_item(run, true, e->src_path ? e->src_path : e->tgt_name, 0, 0, NULL,
                 NULL, &run->err);
    run->res->stats.failed++;
}

/* Creates and subscribes the target folders; names that failed go into
 * broken (their folders are not copied). */
static mf_err
create_folders(struct mf__run *run, const struct mf_folder_plan *plan,
               struct names *broken) {
    struct mf_store *dst = run->dst;

    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        mf_err rc;

        if (e->action == MF_FOLDER_EXCLUDED)
            continue;
        if (e->create_needed) {
            if ((rc = dst->ops->create(dst, e->tgt_wire)) != MF_E_OK) {
                rc = mf__run_store_error(run, dst, e->tgt_name);
                if (!folder_only(rc))
                    return rc;
                folder_failed(run, e);
                names_add(broken, e->tgt_wire);
                continue;
            }
            run->res->stats.folders_created++;
        }
        if (e->subscribed && (rc = dst->ops->subscribe(dst, e->tgt_wire))) {
            rc = mf__run_store_error(run, dst, e->tgt_name);
            if (!folder_only(rc))
                return rc;
        }
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* One attempt                                                         */
/* ------------------------------------------------------------------ */

static mf_err
attempt(struct mf__run *run, const struct mf_migrate_login *src_login,
        const struct mf_migrate_login *dst_login, struct names *done) {
    struct mf_folder_plan *plan = NULL;
    struct names broken = {0};
    uint64_t limit;
    mf_err rc;

    if ((rc = open_side(run, run->o->source, src_login, "source", &run->src)) ||
        (rc = open_side(run, run->o->target, dst_login, "target", &run->dst)))
        goto out;
    limit = run->o->max_message_size ? run->o->max_message_size
                                     : MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE;
    if (run->dst->caps.appendlimit && run->dst->caps.appendlimit < limit)
        limit = run->dst->caps.appendlimit;
    run->max_size = limit;
    if ((rc = make_plan(run, &plan)))
        goto out;
    plan_stats(run, plan);
    if ((rc = create_folders(run, plan, &broken)))
        goto out;
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        char *key;

        if (e->action != MF_FOLDER_COPY || names_has(&broken, e->tgt_wire))
            continue;
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
        rc = mf__migrate_folder(run, e);
        if (rc != MF_E_OK &&
            run->consecutive_rejects >= MF__MAX_CONSECUTIVE_REJECTS) {
            free(key);
            goto out; /* the target refuses everything: the mailbox fails */
        }
        if (rc == MF_E_OK || folder_only(rc)) {
            if (rc != MF_E_OK)
                folder_failed(run, e);
            else
                run->res->stats.folders_copied++;
            names_add(done, key);
            if (run->o->progress)
                atomic_fetch_add(&run->o->progress->folders_done, 1);
            rc = MF_E_OK;
        }
        free(key);
        if (rc != MF_E_OK)
            goto out;
    }
out:
    mf_folder_plan_free(&plan);
    names_free(&broken);
    mf__leases_attach(run->leases, false, NULL);
    mf__leases_attach(run->leases, true, NULL);
    mf_store_close(&run->src);
    mf_store_close(&run->dst);
    mf__leases_release_connections(run->leases, true, true);
    return rc;
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
                         mf__store_open_fn open, void *open_ud,
                         struct mf_migrate_result *res) {
    struct mf__run run = {0};
    struct names done = {0};
    unsigned max_attempts =
        o->max_attempts ? o->max_attempts : DEFAULT_ATTEMPTS;
    double t0 = now_s();
    mf_err rc = MF_E_OK;

    memset(res, 0, sizeof(*res));
    run.o = o;
    run.mailbox = mailbox;
    run.open = open;
    run.open_ud = open_ud;
    run.res = res;
    run.batch_messages = o->batch_messages ? o->batch_messages : 50;
    run.batch_bytes = o->batch_bytes ? o->batch_bytes : 1024 * 1024;
    run.appends_in_flight = o->appends_in_flight ? o->appends_in_flight : 4;
    run.pipe_bytes = o->pipe_bytes ? o->pipe_bytes : 2 * 1024 * 1024;
    run.stream_threshold =
        o->stream_threshold ? o->stream_threshold : 256 * 1024;
    run.max_size = o->max_message_size ? o->max_message_size
                                       : MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE;
    if ((rc = mf__leases_new(o, &run.leases, &run.err)) ||
        (rc = mf__leases_mailbox(run.leases, &run.err)))
        goto done;
    for (unsigned n = 1;; n++) {
        res->stats.attempts = n;
        run.retry_after_ms = 0;
        rc = attempt(&run, src, dst, &done);
        if (rc == MF_E_OK || rc == MF_E_CANCELLED || !retryable(rc) ||
            n >= max_attempts || stopped(&run))
            break;
        nap(&run, backoff(&run, n));
    }
done:
    res->stats.lease_wait_ms = mf__leases_waited_ms(run.leases);
    mf__leases_free(&run.leases);
    if (rc != MF_E_OK) {
        res->error = run.err;
        if (res->error.code == MF_E_OK)
            res->error.code = rc;
    }
    res->stats.seconds = now_s() - t0;
    names_free(&done);
    for (size_t i = 0; i < run.n_counted; i++)
        free(run.counted[i]);
    free(run.counted);
    mf__ckpt_mem_free(&run.mem);
    return rc;
}

static void
items_free(struct mf_migrate_item *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].folder);
        free(v[i].date);
        free(v[i].subject);
    }
    free(v);
}

void
mf_migrate_result_clear(struct mf_migrate_result *res) {
    items_free(res->skipped, res->n_skipped);
    items_free(res->failed, res->n_failed);
    memset(res, 0, sizeof(*res));
}
