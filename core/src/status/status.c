/*
 * The status display of `mailferry batch status` and `batch list`.
 *
 * One snapshot is read per draw: the batch record (state and counts by
 * mailbox state) and every mailbox record, walked in chunks
 * (mf_batch_foreach_mailbox), of which only the running ones and the
 * failed ones are kept for printing; the rest are summed. So a 50,000
 * mailbox batch costs one pass over Redis per draw and memory in the
 * number of running mailboxes.
 *
 * Rates: a running mailbox's msgs/s is its messages done in this pass
 * over the time since the pass began (its record's last_sync, Redis
 * time). ETAs divide what is left by those rates; for mailboxes not
 * started yet, "what is left" is estimated from the finished ones'
 * average size. They are estimates and say so ("~").
 *
 * --watch is the progress display of core/src/progress/ (the one
 * `migrate` draws): redrawn in place on a terminal, a summary line an
 * interval otherwise, until the batch stops running.
 */
#include "mailferry/status.h"

#include "mailferry/progress.h"
#include "mailferry/json.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define FAILED_SHOWN 20

struct running {
    char *email;
    enum mf_mailbox_state state;
    uint32_t attempt;
    char worker[MF_BATCH_WORKER_MAX];
    uint64_t total, done, bytes;
    uint32_t folders_total, folders_done;
    double rate; /* msgs/s, 0 unknown */
};

struct failed {
    char *email;
    char name[64];
    char detail[MF_ERROR_DETAIL_MAX];
};

struct snapshot {
    int64_t now;
    struct running *run;
    size_t nrun;
    struct failed *fail;
    size_t nfail, nfail_total;
    uint64_t finished;        /* mailboxes in a final state */
    uint64_t finished_source; /* their source messages (for estimates) */
    uint64_t messages_copied; /* all passes, finished mailboxes */
    uint64_t bytes_copied;
    uint64_t running_done; /* messages done by running jobs */
    uint64_t running_left; /* messages left in running jobs */
    uint64_t queued;
    uint64_t lease_wait_ms; /* waited for connection slots, finished jobs */
    /* Left on the source by the date window, as the last passes found. */
    uint64_t outside_window, bytes_outside_window;
    uint64_t deleted_on_target; /* --sync-deletes, all passes */
    double rate;                /* msgs/s of the batch, 0 unknown */
    /* JSON: every mailbox. */
    struct mf_json *j;
};

static void
snapshot_free(struct snapshot *s) {
    for (size_t i = 0; i < s->nrun; i++)
        free(s->run[i].email);
    for (size_t i = 0; i < s->nfail; i++)
        free(s->fail[i].email);
    free(s->run);
    free(s->fail);
    memset(s, 0, sizeof(*s));
}

static bool
running_state(enum mf_mailbox_state st) {
    return st == MF_MAILBOX_SYNCING || st == MF_MAILBOX_INCREMENTAL_SYNCING;
}

static double
mailbox_rate(const struct mf_batch_mailbox *mb, int64_t now) {
    int64_t el = now - mb->last_sync;

    if (!running_state(mb->state) || mb->last_sync <= 0 || !mb->messages_done)
        return 0;
    return (double)mb->messages_done / (double)(el > 0 ? el : 1);
}

static void
json_mailbox(struct mf_json *j, const struct mf_batch_mailbox *mb,
             double rate) {
    uint64_t left = mb->messages_total > mb->messages_done
                        ? mb->messages_total - mb->messages_done
                        : 0;

    mf_json_object_begin(j);
    mf_json_key(j, "email"), mf_json_string(j, mb->cfg.email);
    mf_json_key(j, "state"),
        mf_json_string(j, mf_mailbox_state_name(mb->state));
    mf_json_key(j, "job_id"), mf_json_string(j, mb->job_id);
    mf_json_key(j, "pass"), mf_json_u64(j, mb->pass);
    mf_json_key(j, "kind"), mf_json_string(j, mf_job_kind_name(mb->kind));
    mf_json_key(j, "attempt"), mf_json_u64(j, mb->attempt);
    mf_json_key(j, "attempts_total"), mf_json_u64(j, mb->attempts_total);
    mf_json_key(j, "lease_wait_ms"), mf_json_u64(j, mb->stats.lease_wait_ms);
    mf_json_key(j, "throttles"), mf_json_u64(j, mb->stats.throttles);
    mf_json_key(j, "throttle_wait_ms"),
        mf_json_u64(j, mb->stats.throttle_wait_ms);
    mf_json_key(j, "worker"), mf_json_string(j, mb->worker);
    mf_json_key(j, "claimed_by"),
        mf_json_string(j, mb->claim_worker[0] ? mb->claim_worker : NULL);
    mf_json_key(j, "first_sync"), mf_json_i64(j, mb->first_sync);
    mf_json_key(j, "last_sync"), mf_json_i64(j, mb->last_sync);
    mf_json_key(j, "finished"), mf_json_i64(j, mb->finished);
    mf_json_key(j, "messages_source"),
        mf_json_u64(j, mb->stats.messages_source);
    mf_json_key(j, "messages_copied"),
        mf_json_u64(j, mb->stats.messages_copied);
    mf_json_key(j, "bytes_copied"), mf_json_u64(j, mb->stats.bytes_copied);
    mf_json_key(j, "outside_window"), mf_json_u64(j, mb->stats.outside_window);
    mf_json_key(j, "bytes_outside_window"),
        mf_json_u64(j, mb->stats.bytes_outside_window);
    mf_json_key(j, "deleted_on_target"),
        mf_json_u64(j, mb->stats.deleted_on_target);
    mf_json_key(j, "progress");
    mf_json_object_begin(j);
    mf_json_key(j, "messages_total"), mf_json_u64(j, mb->messages_total);
    mf_json_key(j, "messages_done"), mf_json_u64(j, mb->messages_done);
    mf_json_key(j, "bytes_done"), mf_json_u64(j, mb->bytes_done);
    mf_json_key(j, "folders_total"), mf_json_u64(j, mb->folders_total);
    mf_json_key(j, "folders_done"), mf_json_u64(j, mb->folders_done);
    mf_json_key(j, "messages_per_second"), mf_json_double(j, rate);
    mf_json_key(j, "eta_seconds");
    if (rate > 0)
        mf_json_double(j, (double)left / rate);
    else
        mf_json_null(j);
    mf_json_object_end(j);
    mf_json_key(j, "error");
    if (mb->error_code) {
        mf_json_object_begin(j);
        mf_json_key(j, "code"), mf_json_i64(j, mb->error_code);
        mf_json_key(j, "name"), mf_json_string(j, mb->error_name);
        mf_json_key(j, "detail"), mf_json_string(j, mb->error_detail);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_object_end(j);
}

static mf_err
on_mailbox(void *ud, const struct mf_batch_mailbox *mb) {
    struct snapshot *s = ud;
    double rate = mailbox_rate(mb, s->now);

    if (s->j)
        json_mailbox(s->j, mb, rate);
    s->lease_wait_ms += mb->stats.lease_wait_ms;
    s->outside_window += mb->stats.outside_window;
    s->bytes_outside_window += mb->stats.bytes_outside_window;
    s->deleted_on_target += mb->stats.deleted_on_target;
    if (running_state(mb->state)) {
        struct running *r;
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
        r->rate = rate;
        s->running_done += r->done;
        s->bytes_copied += r->bytes; /* this pass's, not yet in stats */
        s->running_left += r->total > r->done ? r->total - r->done : 0;
        s->rate += rate;
    } else if (mb->state == MF_MAILBOX_QUEUED) {
        s->queued++;
    } else {
        s->finished++;
        s->finished_source += mb->stats.messages_source;
    }
    s->messages_copied += mb->stats.messages_copied;
    s->bytes_copied += mb->stats.bytes_copied;
    if (mb->state == MF_MAILBOX_FAILED) {
        s->nfail_total++;
        if (s->nfail < FAILED_SHOWN) {
            struct failed *f;
            s->fail = mf_xreallocarray(s->fail, s->nfail + 1, sizeof(*s->fail));
            f = &s->fail[s->nfail++];
            f->email = mf_xstrdup(mb->cfg.email);
            snprintf(f->name, sizeof(f->name), "%s",
                     mb->error_name[0] ? mb->error_name : "error");
            snprintf(f->detail, sizeof(f->detail), "%s", mb->error_detail);
        }
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                         */
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
human_bytes(char *out, size_t n, uint64_t v) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    size_t u = 0;

    while (d >= 1024 && u + 1 < MF_ARRAY_LEN(units)) {
        d /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", d, units[u]);
}

static void
human_secs(char *out, size_t n, double secs) {
    long s = (long)(secs + 0.5);

    if (s >= 86400)
        snprintf(out, n, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, n, "%lds", s);
}

static void
human_time(char *out, size_t n, int64_t t, int64_t now) {
    struct tm tm;
    time_t tt = (time_t)t;
    char ago[32];

    if (!t) {
        snprintf(out, n, "-");
        return;
    }
    gmtime_r(&tt, &tm);
    human_secs(ago, sizeof(ago), (double)(now > t ? now - t : 0));
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d UTC (%s ago)",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ago);
}

/* The batch's messages still to copy: running jobs' remainders plus an
 * estimate for the queued mailboxes. */
static double
messages_left(const struct snapshot *s) {
    double avg =
        s->finished ? (double)s->finished_source / (double)s->finished : 0;
    return (double)s->running_left + avg * (double)s->queued;
}

static void
print_text(FILE *out, const struct mf_batch_config *cfg,
           const struct snapshot *s) {
    char b1[128], b2[64], b3[64];
    double left = messages_left(s);

    human_time(b1, sizeof(b1), cfg->started ? cfg->started : cfg->created,
               s->now);
    fprintf(out, "batch %s: %s, pass %llu, %llu mailboxes, %s %s\n", cfg->name,
            mf_batch_state_name(cfg->state), (unsigned long long)cfg->pass,
            (unsigned long long)cfg->n_mailboxes,
            cfg->started ? "started" : "created", b1);
    fprintf(out, " ");
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++)
        if (cfg->counts[i])
            fprintf(out, " %s %llu",
                    mf_mailbox_state_name((enum mf_mailbox_state)i),
                    (unsigned long long)cfg->counts[i]);
    fprintf(out, "\n");
    bar(b1, sizeof(b1),
        cfg->n_mailboxes ? (double)s->finished / (double)cfg->n_mailboxes : 0);
    fprintf(out, "  mailboxes %s  %llu/%llu done\n", b1,
            (unsigned long long)s->finished,
            (unsigned long long)cfg->n_mailboxes);
    human_bytes(b2, sizeof(b2), s->bytes_copied);
    fprintf(out, "  messages  copied %llu (%s)",
            (unsigned long long)(s->messages_copied + s->running_done), b2);
    if (s->nrun || s->queued) {
        fprintf(out, ", %.1f msgs/s", s->rate);
        if (s->rate > 0 && left > 0) {
            human_secs(b3, sizeof(b3), left / s->rate);
            fprintf(out, ", ETA ~%s", b3);
        }
    }
    fprintf(out, "\n");
    if (!mf_window_empty(&cfg->window) || s->outside_window) {
        mf_window_format(&cfg->window, b1, sizeof(b1));
        human_bytes(b2, sizeof(b2), s->bytes_outside_window);
        fprintf(out,
                "  window    %s: %llu messages (%s) outside it, left on "
                "the source\n",
                b1, (unsigned long long)s->outside_window, b2);
    }
    if (cfg->sync_deletes || s->deleted_on_target)
        fprintf(out,
                "  deletes   %llu removed from the target (expunged on the "
                "source)%s\n",
                (unsigned long long)s->deleted_on_target,
                cfg->sync_deletes ? "" : "; --sync-deletes is off now");
    if (s->lease_wait_ms) {
        human_secs(b3, sizeof(b3), (double)s->lease_wait_ms / 1000.0);
        fprintf(out,
                "  waited    %s for connection slots (the batch's "
                "caps)\n",
                b3);
    }
    if (s->nrun)
        fprintf(out, "  running:\n");
    for (size_t i = 0; i < s->nrun; i++) {
        const struct running *r = &s->run[i];
        bar(b1, sizeof(b1),
            r->total ? (double)r->done / (double)r->total : 0.0);
        human_bytes(b2, sizeof(b2), r->bytes);
        fprintf(out, "    %-32s %s %llu/%llu msgs %s folders %u/%u", r->email,
                b1, (unsigned long long)r->done, (unsigned long long)r->total,
                b2, r->folders_done, r->folders_total);
        if (r->rate > 0) {
            fprintf(out, " %.1f msgs/s", r->rate);
            if (r->total > r->done) {
                human_secs(b3, sizeof(b3),
                           (double)(r->total - r->done) / r->rate);
                fprintf(out, " ETA %s", b3);
            }
        }
        fprintf(out, "  [%s, attempt %u%s%s]\n",
                mf_mailbox_state_name(r->state), r->attempt,
                r->worker[0] ? ", " : "", r->worker);
    }
    if (s->nfail_total)
        fprintf(out, "  failed (%llu):\n", (unsigned long long)s->nfail_total);
    for (size_t i = 0; i < s->nfail; i++)
        fprintf(out, "    %-32s %s: %s\n", s->fail[i].email, s->fail[i].name,
                s->fail[i].detail);
    if (s->nfail_total > s->nfail)
        fprintf(out, "    ... (`mailferry batch report %s` lists all)\n",
                cfg->name);
}

static void
print_json_doc(const struct mf_batch_config *cfg, const struct snapshot *s,
               struct mf_json *j) {
    double left = messages_left(s);

    mf_json_key(j, "totals");
    mf_json_object_begin(j);
    mf_json_key(j, "mailboxes_finished"), mf_json_u64(j, s->finished);
    mf_json_key(j, "mailboxes_running"), mf_json_u64(j, s->nrun);
    mf_json_key(j, "mailboxes_queued"), mf_json_u64(j, s->queued);
    mf_json_key(j, "mailboxes_failed"), mf_json_u64(j, s->nfail_total);
    mf_json_key(j, "messages_copied"),
        mf_json_u64(j, s->messages_copied + s->running_done);
    mf_json_key(j, "bytes_copied"), mf_json_u64(j, s->bytes_copied);
    mf_json_key(j, "messages_per_second"), mf_json_double(j, s->rate);
    mf_json_key(j, "lease_wait_ms"), mf_json_u64(j, s->lease_wait_ms);
    mf_json_key(j, "outside_window"), mf_json_u64(j, s->outside_window);
    mf_json_key(j, "bytes_outside_window"),
        mf_json_u64(j, s->bytes_outside_window);
    mf_json_key(j, "deleted_on_target"), mf_json_u64(j, s->deleted_on_target);
    mf_json_key(j, "eta_seconds");
    if (s->rate > 0 && (s->nrun || s->queued))
        mf_json_double(j, left / s->rate);
    else
        mf_json_null(j);
    mf_json_object_end(j);
    (void)cfg;
}

static void
json_header(struct mf_json *j, const struct mf_batch_config *cfg) {
    mf_json_key(j, "batch"), mf_json_string(j, cfg->name);
    mf_json_key(j, "state"), mf_json_string(j, mf_batch_state_name(cfg->state));
    mf_json_key(j, "pass"), mf_json_u64(j, cfg->pass);
    mf_json_key(j, "source"), mf_json_string(j, cfg->source);
    mf_json_key(j, "target"), mf_json_string(j, cfg->target);
    mf_json_key(j, "created"), mf_json_i64(j, cfg->created);
    mf_json_key(j, "started"), mf_json_i64(j, cfg->started);
    mf_json_key(j, "finished"), mf_json_i64(j, cfg->finished);
    mf_json_key(j, "max_attempts"), mf_json_u64(j, cfg->max_attempts);
    mf_json_key(j, "max_message_size"), mf_json_u64(j, cfg->max_message_size);
    mf_json_key(j, "repair"), mf_json_bool(j, cfg->repair);
    mf_json_key(j, "source_profile"),
        mf_json_string(j, mf_profile_or_generic(cfg->source_profile)->name);
    mf_json_key(j, "target_profile"),
        mf_json_string(j, mf_profile_or_generic(cfg->target_profile)->name);
    mf_json_key(j, "incremental_every"), mf_json_u64(j, cfg->incremental_every);
    mf_json_key(j, "flag_conflict"),
        mf_json_string(j, mf_flag_conflict_name(cfg->flag_conflict));
    mf_window_to_json(j, &cfg->window);
    mf_json_key(j, "sync_deletes"), mf_json_bool(j, cfg->sync_deletes);
    mf_json_key(j, "n_mailboxes"), mf_json_u64(j, cfg->n_mailboxes);
    mf_json_key(j, "counts");
    mf_json_object_begin(j);
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++) {
        mf_json_key(j, mf_mailbox_state_name((enum mf_mailbox_state)i));
        mf_json_u64(j, cfg->counts[i]);
    }
    mf_json_object_end(j);
}

/* The batch's option changes (`batch set`), as text lines or a JSON
 * array. */
struct changes {
    FILE *out;
    struct mf_json *j;
    unsigned n;
};

static mf_err
on_change(void *ud, const struct mf_batch_change *c) {
    struct changes *ch = ud;

    if (ch->j) {
        mf_json_object_begin(ch->j);
        mf_json_key(ch->j, "when"), mf_json_i64(ch->j, c->when);
        mf_json_key(ch->j, "option"), mf_json_string(ch->j, c->option);
        mf_json_key(ch->j, "old"), mf_json_string(ch->j, c->old_value);
        mf_json_key(ch->j, "new"), mf_json_string(ch->j, c->new_value);
        mf_json_object_end(ch->j);
    } else {
        char when[64];
        time_t t = (time_t)c->when;
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
        fprintf(ch->out, "%s    %s UTC  --%s %s -> %s\n",
                ch->n++ ? "" : "  changes:\n", when, c->option, c->old_value,
                c->new_value);
    }
    return MF_E_OK;
}

static void
show_changes(struct mf_redis *r, const char *name, FILE *out,
             struct mf_json *j) {
    struct changes ch = {.out = out, .j = j};
    struct mf_error err = {0};

    if (j) {
        mf_json_key(j, "changes");
        mf_json_array_begin(j);
    }
    if (mf_batch_changes(r, name, on_change, &ch, &err) != MF_E_OK && !j)
        fprintf(out, "  changes: cannot read them: %s\n", err.detail);
    if (j)
        mf_json_array_end(j);
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

mf_err
mf_status_show(struct mf_redis *r, const char *name, bool json, bool watch,
               unsigned interval_ms, const atomic_bool *stop,
               struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct snapshot s = {0};
    struct mf_buf b = {0};
    struct mf_json j;
    mf_err rc;

    if (watch && !json)
        return watch_progress(r, name, interval_ms, stop, err);
    if ((rc = mf_batch_get(r, name, &cfg, err)))
        return rc;
    s.now = (int64_t)time(NULL);
    if (json) {
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        json_header(&j, cfg);
        mf_json_key(&j, "mailboxes");
        mf_json_array_begin(&j);
        s.j = &j;
    }
    if ((rc = mf_batch_foreach_mailbox(r, name, on_mailbox, &s, err))) {
        /* the caller prints err */
    } else if (json) {
        mf_json_array_end(&j);
        print_json_doc(cfg, &s, &j);
        show_changes(r, name, NULL, &j);
        mf_json_object_end(&j);
        printf("%s\n", (char *)b.data);
    } else {
        print_text(stdout, cfg, &s);
        show_changes(r, name, stdout, NULL);
    }
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
        mf_json_key(&l->j, "batch"), mf_json_string(&l->j, b->name);
        mf_json_key(&l->j, "state"),
            mf_json_string(&l->j, mf_batch_state_name(b->state));
        mf_json_key(&l->j, "n_mailboxes"), mf_json_u64(&l->j, b->n_mailboxes);
        mf_json_key(&l->j, "counts");
        mf_json_object_begin(&l->j);
        for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++) {
            mf_json_key(&l->j, mf_mailbox_state_name((enum mf_mailbox_state)i));
            mf_json_u64(&l->j, b->counts[i]);
        }
        mf_json_object_end(&l->j);
        mf_json_key(&l->j, "created"), mf_json_i64(&l->j, b->created);
        mf_json_key(&l->j, "started"), mf_json_i64(&l->j, b->started);
        mf_json_key(&l->j, "finished"), mf_json_i64(&l->j, b->finished);
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
