/*
 * The status display of `mailferry batch status` and `batch list`.
 *
 * One snapshot is read per draw: the batch record (state and counts by
 * mailbox state) and every mailbox record, walked in chunks by the
 * progress module's read (mf_progress_read(), the figures `migrate` and
 * --watch show), with a callback that keeps what only this display
 * prints: the first running and failed mailboxes, the failed ones
 * tallied by error, the mailboxes that wait on something outside
 * mailferry (pending.c). So a 50,000 mailbox batch costs one pass over
 * Redis per draw and memory in the few mailboxes shown.
 *
 * Views, for an admin of thousands of mailboxes:
 *   - the summary (no option): state, counts by state, done of planned,
 *     rate and ETA, the failed mailboxes by error, the first running and
 *     failed ones and how to see the rest;
 *   - --state STATE[,...]: one line per mailbox in those states or
 *     groups (running, pending, waiting, done), what it did and what is
 *     next;
 *   - --mailbox EMAIL[,...]: each named mailbox in detail, its failed
 *     messages tallied by error code from their list.
 * --json carries the same, as one document.
 *
 * Rate and ETA: the batch's come from mf_progress_figures_compute(), the
 * one rule of core/src/progress/figures.c, with the meter fed by the
 * batch's throughput samples (Redis time) and, while it runs, the
 * counters now: the rate of the last window, 0 when nothing moved in
 * it. A running mailbox's come from the same rule over its pass
 * (mf__status_mailbox_figures()). Times are Redis's (mf_redis_time()).
 *
 * --watch is the progress display of core/src/progress/ (the one
 * `migrate` draws): redrawn in place on a terminal, a summary line an
 * interval otherwise, until the batch stops running.
 */
#include "mailferry/status.h"

#include "mailferry/json.h"
#include "mailferry/progress.h"
#include "mailferry/report.h"
#include "mailferry/util.h"
#include "status/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define FAILED_SHOWN 20
#define RUNNING_SHOWN 20

struct running {
    char *email;
    enum mf_mailbox_state state;
    uint32_t attempt;
    char worker[MF_BATCH_WORKER_MAX];
    uint64_t total, done, bytes;
    uint32_t folders_total, folders_done;
    struct mf_progress_figures f;
    struct mf_migrate_conns conns;
};

struct failed {
    char *email;
    char name[64];
    char detail[MF_ERROR_DETAIL_MAX];
};

struct snapshot {
    int64_t now, now_ms; /* Redis time: s, ms */
    const struct mf_batch_config *cfg;
    const struct mf__status_filter *filter; /* NULL: the summary */
    struct running *run;
    size_t nrun;
    struct failed *fail;
    size_t nfail;
    uint64_t waiting, matched;
    struct mf__status_codes failed_by_error; /* Failed, by last error */
    /* Left on the source by the date window, as the last passes found. */
    uint64_t outside_window, bytes_outside_window;
    uint64_t deleted_on_target; /* --sync-deletes, all passes */
    uint64_t moved_on_target;   /* the same, moved (UID MOVE) */
    struct mf_json *j;          /* JSON: the mailboxes shown */
    FILE *out;                  /* text */
    struct mf_progress_snapshot ps;
    struct mf_progress_figures f;
};

static void
snapshot_free(struct snapshot *s) {
    for (size_t i = 0; i < s->nrun; i++)
        free(s->run[i].email);
    for (size_t i = 0; i < s->nfail; i++)
        free(s->fail[i].email);
    free(s->run);
    free(s->fail);
    mf_progress_snapshot_clear(&s->ps);
    memset(s, 0, sizeof(*s));
}

static bool
running_state(enum mf_mailbox_state st) {
    return st == MF_MAILBOX_SYNCING || st == MF_MAILBOX_INCREMENTAL_SYNCING;
}

static void
keep_running(struct snapshot *s, const struct mf_batch_mailbox *mb) {
    struct running *r;

    if (s->nrun >= RUNNING_SHOWN)
        return;
    s->run = mf_xreallocarray(s->run, s->nrun + 1, sizeof(*s->run));
    r = &s->run[s->nrun++];
    memset(r, 0, sizeof(*r));
    r->email = mf_xstrdup(mb->cfg.email);
    r->state = mb->state;
    r->attempt = mb->attempt;
    snprintf(r->worker, sizeof(r->worker), "%s",
             mb->claim_worker[0] ? mb->claim_worker : mb->worker);
    r->total = mb->messages_total;
    r->done = mb->messages_done;
    r->bytes = mb->bytes_done;
    r->folders_total = mb->folders_total;
    r->folders_done = mb->folders_done;
    r->conns = mb->conns;
    mf__status_mailbox_figures(mb, s->now, &r->f);
}

static void
keep_failed(struct snapshot *s, const struct mf_batch_mailbox *mb) {
    struct failed *f;

    if (s->nfail >= FAILED_SHOWN)
        return;
    s->fail = mf_xreallocarray(s->fail, s->nfail + 1, sizeof(*s->fail));
    f = &s->fail[s->nfail++];
    f->email = mf_xstrdup(mb->cfg.email);
    snprintf(f->name, sizeof(f->name), "%s",
             mb->error_name[0] ? mb->error_name : "error");
    snprintf(f->detail, sizeof(f->detail), "%s", mb->error_detail);
}

/* Every mailbox of the walk (mf_progress_read() sums the figures). */
static mf_err
on_mailbox(void *ud, const struct mf_batch_mailbox *mb) {
    struct snapshot *s = ud;
    struct mf__status_pending p;

    mf__status_pending(s->cfg, mb, &p);
    s->waiting += p.waiting;
    s->outside_window += mb->stats.outside_window;
    s->bytes_outside_window += mb->stats.bytes_outside_window;
    s->deleted_on_target += mb->stats.deleted_on_target;
    s->moved_on_target += mb->stats.moved_on_target;
    if (mb->state == MF_MAILBOX_FAILED)
        mf__status_codes_add(&s->failed_by_error, mb->error_code,
                             mb->error_name);
    if (s->filter && !mf__status_filter_match(s->filter, mb, &p))
        return MF_E_OK;
    s->matched++;
    if (s->j) {
        mf__status_mailbox_json(s->j, mb, &p, NULL, s->now);
    } else if (s->filter) {
        char line[2048];
        mf__status_mailbox_line(line, sizeof(line), mb, &p, s->now);
        fprintf(s->out, "%s\n", line);
    } else if (running_state(mb->state)) {
        keep_running(s, mb);
    } else if (mb->state == MF_MAILBOX_FAILED) {
        keep_failed(s, mb);
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* The batch's figures                                                */
/* ------------------------------------------------------------------ */

struct feed {
    struct mf_progress_meter *m;
    struct mf_batch_sample last;
};

static mf_err
on_sample(void *ud, const struct mf_batch_sample *bs) {
    struct feed *fd = ud;

    mf_progress_meter_add(fd->m, (double)bs->time_ms / 1000, bs->messages,
                          bs->bytes);
    fd->last = *bs;
    return MF_E_OK;
}

/* The figures of s->ps by the one rule (progress/figures.c), the meter
 * fed by the batch's samples: the rate of their last window, and while
 * the batch runs a sample now with the last counters, so that a batch
 * that copies nothing shows no rate rather than an old one. */
static mf_err
batch_figures(struct mf_redis *r, struct snapshot *s, struct mf_error *err) {
    struct mf_progress_meter m;
    struct feed fd = {.m = &m};
    mf_err rc;

    mf_progress_meter_init(&m, 0);
    if ((rc = mf_batch_samples(r, s->cfg->name, MF_PROGRESS_SAMPLES, on_sample,
                               &fd, err)))
        return rc;
    if (s->ps.running && fd.last.time_ms && s->now_ms > fd.last.time_ms)
        mf_progress_meter_add(&m, (double)s->now_ms / 1000, fd.last.messages,
                              fd.last.bytes);
    s->ps.at = (double)s->now_ms / 1000;
    mf_progress_figures_compute(&s->ps, &m, &s->f);
    return MF_E_OK;
}

/* Whether the batch has work left, so a rate and ETA mean something. */
static bool
busy(const struct snapshot *s) {
    return s->ps.running_n || s->ps.queued;
}

/* ------------------------------------------------------------------ */
/* The summary as text                                                */
/* ------------------------------------------------------------------ */

static void
bar(char *out, size_t n, double frac) {
    int fill;

    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    fill = (int)(frac * BAR_WIDTH + 0.5);
    snprintf(out, n, "[%.*s%.*s] %3d%%", fill, "##############################",
             BAR_WIDTH - fill, "..............................",
             (int)(frac * 100));
}

static void
print_figures(FILE *out, const struct snapshot *s) {
    const struct mf_progress_figures *f = &s->f;
    char b1[128], b2[64], b3[64];

    bar(b1, sizeof(b1),
        f->mailboxes ? (double)f->finished / (double)f->mailboxes : 0);
    fprintf(out, "  mailboxes %s  %llu/%llu done\n", b1,
            (unsigned long long)f->finished, (unsigned long long)f->mailboxes);
    mf__status_bytes(b2, sizeof(b2), f->bytes.done);
    fprintf(out, "  messages  copied %llu (%s)",
            (unsigned long long)f->messages.done, b2);
    if (busy(s) && f->messages.known)
        fprintf(out, " of %s%llu planned", f->messages.estimated ? "~" : "",
                (unsigned long long)f->messages.planned);
    if (busy(s)) {
        fprintf(out, ", %.1f msgs/s", f->rate_known ? f->messages_per_s : 0.0);
        if (f->eta_known) {
            mf__status_secs(b3, sizeof(b3), f->eta_s);
            fprintf(out, ", ETA ~%s", b3);
        }
    }
    fprintf(out, "\n");
}

static void
print_extras(FILE *out, const struct mf_batch_config *cfg,
             const struct snapshot *s) {
    char b1[128], b2[64];

    if (!mf_window_empty(&cfg->window) || s->outside_window) {
        mf_window_format(&cfg->window, b1, sizeof(b1));
        mf__status_bytes(b2, sizeof(b2), s->bytes_outside_window);
        fprintf(out,
                "  window    %s: %llu messages (%s) outside it, left on "
                "the source\n",
                b1, (unsigned long long)s->outside_window, b2);
    }
    if (cfg->sync_deletes || s->deleted_on_target || s->moved_on_target)
        fprintf(out,
                "  deletes   %llu removed from the target (expunged on the "
                "source), %llu moved on the target (moved between folders "
                "on the source)%s\n",
                (unsigned long long)s->deleted_on_target,
                (unsigned long long)s->moved_on_target,
                cfg->sync_deletes ? "" : "; --sync-deletes is off now");
    if (s->ps.lease_wait_ms) {
        mf__status_secs(b2, sizeof(b2), (double)s->ps.lease_wait_ms / 1000.0);
        fprintf(out,
                "  waited    %s for connection slots (the batch's "
                "caps)\n",
                b2);
    }
    if (s->ps.source.counted || s->ps.target.counted)
        fprintf(out,
                "  conns     source %u held, %u waiting; target %u held, "
                "%u waiting\n",
                s->ps.source.held, s->ps.source.waiting, s->ps.target.held,
                s->ps.target.waiting);
    if (s->ps.run_waiting)
        fprintf(out,
                "  slots     %llu running mailboxes waiting for a slot in "
                "the caps\n",
                (unsigned long long)s->ps.run_waiting);
}

static void
print_running(FILE *out, const struct snapshot *s) {
    char b1[128], b2[64], b3[64];

    if (s->nrun)
        fprintf(out, "  running (%llu):\n",
                (unsigned long long)s->ps.running_n);
    for (size_t i = 0; i < s->nrun; i++) {
        const struct running *r = &s->run[i];
        bar(b1, sizeof(b1),
            r->total ? (double)r->done / (double)r->total : 0.0);
        mf__status_bytes(b2, sizeof(b2), r->bytes);
        fprintf(out, "    %-32s %s %llu/%llu msgs %s folders %u/%u", r->email,
                b1, (unsigned long long)r->done, (unsigned long long)r->total,
                b2, r->folders_done, r->folders_total);
        if (r->f.rate_known && r->f.messages_per_s > 0)
            fprintf(out, " %.1f msgs/s", r->f.messages_per_s);
        if (r->f.eta_known && r->total > r->done) {
            mf__status_secs(b3, sizeof(b3), r->f.eta_s);
            fprintf(out, " ETA %s", b3);
        }
        if (r->conns.waiting != MF_MIGRATE_WAIT_NONE) {
            char w[128];
            mf_progress_wait_text(&r->conns, w, sizeof(w));
            fprintf(out, " %s", w);
        }
        if (r->conns.source_held || r->conns.target_held)
            fprintf(out, " holds %u+%u conns", r->conns.source_held,
                    r->conns.target_held);
        fprintf(out, "  [%s, attempt %u%s%s]\n",
                mf_mailbox_state_name(r->state), r->attempt,
                r->worker[0] ? ", " : "", r->worker);
    }
    if (s->ps.running_n > s->nrun)
        fprintf(out, "    ... %llu more (`--state running` lists all)\n",
                (unsigned long long)(s->ps.running_n - s->nrun));
}

static void
print_failed(FILE *out, const struct mf_batch_config *cfg,
             const struct snapshot *s) {
    char codes[512];

    if (!s->ps.failed)
        return;
    mf__status_codes_format(&s->failed_by_error, codes, sizeof(codes));
    fprintf(out, "  failed (%llu): %s\n", (unsigned long long)s->ps.failed,
            codes);
    for (size_t i = 0; i < s->nfail; i++)
        fprintf(out, "    %-32s %s: %s\n", s->fail[i].email, s->fail[i].name,
                s->fail[i].detail);
    if (s->ps.failed > s->nfail)
        fprintf(out,
                "    ... %llu more (`--state failed` lists all, `mailferry "
                "batch report %s` with every message)\n",
                (unsigned long long)(s->ps.failed - s->nfail), cfg->name);
}

static void
print_text(FILE *out, const struct mf_batch_config *cfg,
           const struct snapshot *s) {
    mf__status_head(out, cfg, s->now);
    print_figures(out, s);
    print_extras(out, cfg, s);
    if (s->waiting)
        fprintf(out,
                "  waiting   %llu mailboxes on a quota or a throttling "
                "server (`--state waiting` lists them)\n",
                (unsigned long long)s->waiting);
    print_running(out, s);
    print_failed(out, cfg, s);
    fprintf(out, "  (`--mailbox EMAIL` shows one mailbox in detail, `--state "
                 "STATE` lists the mailboxes in a state)\n");
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */
/* ------------------------------------------------------------------ */

/* The caps' leases per endpoint (null when the batch has no caps: then
 * nothing counts them) and the running mailboxes waiting for a slot. */
static void
print_json_side(struct mf_json *j, const char *key,
                const struct mf_progress_side *side) {
    mf_json_key(j, key);
    if (!side->counted) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, side, held, waiting);
    mf_json_object_end(j);
}

static void
print_json_connections(const struct snapshot *s, struct mf_json *j) {
    mf_json_key(j, "connections");
    mf_json_object_begin(j);
    print_json_side(j, "source", &s->ps.source);
    print_json_side(j, "target", &s->ps.target);
    mf_json_member(j, "mailboxes_waiting", s->ps.run_waiting);
    mf_json_object_end(j);
}

static void
print_json_totals(const struct snapshot *s, struct mf_json *j) {
    const struct mf_progress_figures *f = &s->f;

    mf_json_key(j, "totals");
    mf_json_object_begin(j);
    mf_json_member(j, "mailboxes_finished", f->finished);
    mf_json_member(j, "mailboxes_running", f->running);
    mf_json_member(j, "mailboxes_queued", f->queued);
    mf_json_member(j, "mailboxes_failed", f->failed);
    mf_json_member(j, "mailboxes_waiting", s->waiting);
    mf_json_key(j, "failed_by_error");
    mf__status_codes_json(j, &s->failed_by_error);
    mf_json_member(j, "messages_copied", f->messages.done);
    mf_json_member(j, "bytes_copied", f->bytes.done);
    mf_json_member_or_null(j, "messages_planned", f->messages.known,
                           f->messages.planned);
    mf_json_member_or_null(j, "bytes_planned", f->bytes.known,
                           f->bytes.planned);
    mf_json_member(j, "planned_estimated",
                   (bool)(f->messages.estimated || f->bytes.estimated));
    mf_json_member(j, "messages_per_second",
                   busy(s) && f->rate_known ? f->messages_per_s : 0.0);
    mf_json_member(j, "bytes_per_second",
                   busy(s) && f->rate_known ? f->bytes_per_s : 0.0);
    MF_JSON_FIELDS(j, &s->ps, lease_wait_ms);
    print_json_connections(s, j);
    MF_JSON_FIELDS(j, s, outside_window, bytes_outside_window,
                   deleted_on_target, moved_on_target);
    mf_json_member_or_null(j, "eta_seconds", busy(s) && f->eta_known, f->eta_s);
    mf_json_object_end(j);
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */
/* ------------------------------------------------------------------ */

/* --watch: the progress display (mailferry/progress.h), in place on a
 * terminal, a line an interval otherwise, until the batch stops running. */
static mf_err
watch_progress(struct mf_redis *r, const char *name, unsigned interval_ms,
               const atomic_bool *stop, struct mf_error *err) {
    struct mf_progress_view v;
    struct mf_progress_snapshot s = {0};
    mf_err rc;

    mf_progress_view_init(&v, stdout, isatty(STDOUT_FILENO),
                          interval_ms / 1000.0);
    while (!(rc = mf_progress_read(r, name, NULL, NULL, &s, err))) {
        mf_progress_view_update(&v, &s, !s.running || atomic_load(stop));
        if (!s.running || atomic_load(stop))
            break;
        for (unsigned w = 0; w < interval_ms && !atomic_load(stop); w += 100)
            usleep(100 * 1000);
    }
    mf_progress_snapshot_clear(&s);
    return rc;
}

/* The summary, or with a filter the matching mailboxes: one walk. */
static mf_err
show_walk(struct mf_redis *r, const struct mf_batch_config *cfg,
          const struct mf_status_options *o,
          const struct mf__status_filter *filter, struct snapshot *s,
          struct mf_json *j, struct mf_error *err) {
    mf_err rc;

    s->filter = filter;
    s->out = stdout;
    if (j) {
        mf_json_key(j, "mailboxes");
        mf_json_array_begin(j);
        s->j = j;
    } else if (filter) {
        mf__status_head(stdout, cfg, s->now);
        fprintf(stdout, "  mailboxes in %s:\n", o->states);
    }
    if ((rc = mf_progress_read(r, cfg->name, on_mailbox, s, &s->ps, err)) ||
        (rc = batch_figures(r, s, err)))
        return rc;
    if (j) {
        mf_json_array_end(j);
        print_json_totals(s, j);
        mf__status_changes(r, cfg->name, NULL, j);
    } else if (filter) {
        fprintf(stdout, "  %llu of %llu mailboxes in %s\n",
                (unsigned long long)s->matched,
                (unsigned long long)cfg->n_mailboxes, o->states);
    } else {
        print_text(stdout, cfg, s);
        mf__status_changes(r, cfg->name, stdout, NULL);
    }
    return MF_E_OK;
}

/* Failed messages of a named mailbox, tallied by error code; the
 * renamed folders and repaired messages in the same list were copied. */
static mf_err
on_failed_item(void *ud, const struct mf_batch_item *it) {
    if (mf_report_failed_list_of(it->code) == MF_REPORT_LIST_FAILED)
        mf__status_codes_add(ud, it->code, it->name);
    return MF_E_OK;
}

static mf_err
show_one(struct mf_redis *r, const struct mf_batch_config *cfg,
         const struct mf_batch_mailbox *mb,
         const struct mf__status_filter *filter, int64_t now, struct mf_json *j,
         struct mf_error *err) {
    struct mf__status_pending p;
    struct mf__status_codes codes = {0};
    mf_err rc;

    mf__status_pending(cfg, mb, &p);
    if (filter && !mf__status_filter_match(filter, mb, &p))
        return MF_E_OK;
    if ((rc = mf_batch_mailbox_items(r, cfg->name, mb->cfg.email, true,
                                     on_failed_item, &codes, err)))
        return rc;
    if (j)
        mf__status_mailbox_json(j, mb, &p, &codes, now);
    else
        mf__status_mailbox_text(stdout, mb, &p, &codes, now);
    return MF_E_OK;
}

/* --mailbox: the named mailboxes in detail, in the order given, read
 * MF_REDIS_PIPELINE_MAX at a time. */
static mf_err
show_named(struct mf_redis *r, const struct mf_batch_config *cfg,
           const struct mf_status_options *o,
           const struct mf__status_filter *filter, int64_t now,
           struct mf_json *j, struct mf_error *err) {
    size_t n = 0;
    char **emails = mf_strv_split(o->mailboxes, &n);
    struct mf_batch_mailbox **mbs = NULL;
    mf_err rc = MF_E_OK;

    if (!n) {
        rc = mf_error_set(err, MF_E_USAGE, "--mailbox: give EMAIL[,...]");
        goto out;
    }
    mbs = mf_xcalloc(n, sizeof(*mbs));
    for (size_t off = 0; !rc && off < n; off += MF_REDIS_PIPELINE_MAX) {
        size_t k =
            n - off < MF_REDIS_PIPELINE_MAX ? n - off : MF_REDIS_PIPELINE_MAX;
        rc = mf_batch_mailbox_get_many(
            r, cfg->name, (const char *const *)emails + off, k, mbs + off, err);
    }
    if (j) {
        mf_json_key(j, "mailboxes");
        mf_json_array_begin(j);
    } else if (!rc) {
        mf__status_head(stdout, cfg, now);
    }
    for (size_t i = 0; !rc && i < n; i++)
        rc = show_one(r, cfg, mbs[i], filter, now, j, err);
    if (j)
        mf_json_array_end(j);
out:
    for (size_t i = 0; mbs && i < n; i++)
        mf_batch_mailbox_free(&mbs[i]);
    free(mbs);
    mf_strv_free(emails, n);
    return rc;
}

mf_err
mf_status_show(struct mf_redis *r, const char *name,
               const struct mf_status_options *o, const atomic_bool *stop,
               struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct mf__status_filter filter, *fp = NULL;
    struct snapshot s = {0};
    struct mf_buf b = {0};
    struct mf_json j, *jp = NULL;
    mf_err rc;

    if (o->states && !mf__status_filter_parse(o->states, &filter, err))
        return MF_E_USAGE;
    if (o->states)
        fp = &filter;
    if (o->watch && (o->json || o->states || o->mailboxes))
        return mf_error_set(err, MF_E_USAGE,
                            "--watch draws the progress display; --json, "
                            "--state and --mailbox print once");
    if (o->watch)
        return watch_progress(r, name, o->interval_ms, stop, err);
    if ((rc = mf_batch_get(r, name, &cfg, err)) ||
        (rc = mf_redis_time_ms(r, &s.now_ms, err)))
        goto out;
    s.now = s.now_ms / 1000;
    s.cfg = cfg;
    if (o->json) {
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf__status_json_header(&j, cfg);
        if (o->states || o->mailboxes)
            mf__status_json_filter(&j, o->states, o->mailboxes);
        jp = &j;
    }
    rc = o->mailboxes ? show_named(r, cfg, o, fp, s.now, jp, err)
                      : show_walk(r, cfg, o, fp, &s, jp, err);
    if (!rc && jp) {
        mf_json_object_end(&j);
        printf("%s\n", (char *)b.data);
    }
out:
    fflush(stdout);
    mf_buf_free(&b);
    snapshot_free(&s);
    mf_batch_config_free(&cfg);
    return rc;
}

struct list {
    bool json;
    struct mf_json j;
    size_t n;
    int64_t now;
};

static mf_err
on_batch(void *ud, const struct mf_batch_summary *b) {
    struct list *l = ud;

    l->n++;
    if (l->json) {
        mf_json_object_begin(&l->j);
        mf_json_member(&l->j, "batch", b->name);
        mf_json_member(&l->j, "state", mf_batch_state_name(b->state));
        MF_JSON_FIELDS(&l->j, b, n_mailboxes);
        mf__status_counts_json(&l->j, b->counts);
        MF_JSON_FIELDS(&l->j, b, created, started, finished, started_ms,
                       finished_ms);
        mf_json_object_end(&l->j);
        return MF_E_OK;
    }
    {
        char counts[256] = "";
        size_t off = 0;
        for (int i = 0; i < MF_MAILBOX_STATE_COUNT && off < sizeof(counts); i++)
            if (b->counts[i]) {
                int w =
                    snprintf(counts + off, sizeof(counts) - off, "%s%s %llu",
                             off ? ", " : "",
                             mf_mailbox_state_name((enum mf_mailbox_state)i),
                             (unsigned long long)b->counts[i]);
                if (w > 0)
                    off += (size_t)w;
            }
        if (l->n == 1)
            printf("%-24s %-20s %9s  %s\n", "BATCH", "STATE", "MAILBOXES",
                   "BY STATE");
        printf("%-24s %-20s %9llu  %s\n", b->name,
               mf_batch_state_name(b->state),
               (unsigned long long)b->n_mailboxes, counts);
    }
    return MF_E_OK;
}

mf_err
mf_status_list(struct mf_redis *r, bool json, struct mf_error *err) {
    struct list l = {0};
    struct mf_buf b = {0};
    mf_err rc;

    l.json = json;
    l.now = (int64_t)time(NULL);
    if (json) {
        mf_json_init(&l.j, &b);
        mf_json_object_begin(&l.j);
        mf_json_key(&l.j, "batches");
        mf_json_array_begin(&l.j);
    }
    if ((rc = mf_batch_list(r, on_batch, &l, err))) {
        mf_buf_free(&b);
        return rc;
    }
    if (json) {
        mf_json_array_end(&l.j);
        mf_json_object_end(&l.j);
        printf("%s\n", (char *)b.data);
        mf_buf_free(&b);
    } else if (!l.n) {
        printf("no batches (`mailferry batch create` makes one)\n");
    }
    return MF_E_OK;
}
