/*
 * One job in a slot thread: the claim is already held (run.c took it
 * before committing the offset). The thread
 *
 *   1. starts the keeper (claim renewal, progress, batch stop);
 *   2. opens the sealed source and target passwords (or OAuth2 tokens)
 *      right before the engine logs in, and wipes them as soon as it
 *      returns (docs/design.md §10); nothing here logs a secret;
 *   3. runs mf_migrate_mailbox() with the batch's options and the job's
 *      stop flag (a verify job: mf_verify_mailbox(), its verdict stored
 *      in the batch by verify_report() instead of step 4);
 *   4. decides the outcome and reports it:
 *        finished                      SYNCED
 *        stopped, batch stop           STOPPED
 *        stopped, worker shutdown      hand back: release the claim,
 *                                      requeue, re-produce the job
 *        stopped, claim lost           nothing (the coordinator requeues)
 *        error of class retry/reconnect  RETRY (the coordinator requeues)
 *        any other error               FAILED
 *      then publishes the result, waits until Kafka has it, and releases
 *      the claim as finished (or, if the result could not be delivered,
 *      as not finished, so the job is requeued at once).
 *
 * The thread owns its Redis connection (checkpoints, release, requeue);
 * the job struct stays owned by the main loop, which joins and frees it.
 */
#include "worker/worker_int.h"

#include "mailferry/jobs.h"
#include "mailferry/profile.h"
#include "mailferry/report.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESULT_WAIT_MS 30000L
#define SHUTDOWN_WAIT_MIN_MS 2000L

/* ------------------------------------------------------------------ */
/* Credentials                                                        */
/* ------------------------------------------------------------------ */

static const char *
nonempty(const char *s) {
    return s && *s ? s : NULL;
}

/* Both sides' logins of a job and what they hold: opened secrets, or
 * OAuth2 token sources from the worker's registry (oauthreg.c). */
struct logins {
    struct mf_migrate_login src, dst;
    struct mf_crypto_secret *secret[2]; /* owned, wiped */
    struct mf_oauth *oauth[2];          /* held from the registry */
};

/* Opens one side's secret and points lg at it: a password, or for an
 * OAuth2 side the token source made from the key it holds. */
static mf_err
open_login(struct mf__worker_job *j, const char *purpose,
           const struct mf_job_credentials *c, struct mf_crypto_secret **s_r,
           struct mf_oauth **o_r, struct mf_migrate_login *lg,
           struct mf_error *err) {
    mf_err rc;

    memset(lg, 0, sizeof(*lg));
    lg->user = nonempty(c->login);
    lg->authzid = nonempty(c->authorization_id);
    if (!lg->user)
        return mf_error_set(err, MF_E_CONFIG, "the job has no %s login",
                            purpose);
    if (!c->has_password)
        return mf_error_set(err, MF_E_CONFIG, "the job has no %s password",
                            purpose);
    /* Bound to the login, authzid, OAuth flag, generation and endpoints:
     * an envelope changed after sealing does not open (mf_jobs_build()). */
    rc = mf_jobs_open_secret(j->w->o.keyring, j->batch->cfg, &j->env.job,
                             purpose, s_r, err);
    if (rc != MF_E_OK)
        return rc;
    if (!c->oauth) {
        lg->password = (const char *)(*s_r)->data;
        return MF_E_OK;
    }
    /* The key stays only in the token source's parsed form. */
    rc = mf__worker_oauth_get(j->w, j->batch->cfg, &j->env.job, purpose, *s_r,
                              o_r, err);
    mf_crypto_secret_free(s_r);
    if (rc != MF_E_OK)
        return rc;
    lg->oauth = *o_r;
    lg->oauth_mailbox = lg->user;
    return MF_E_OK;
}

/* Wipes the secrets and gives the token sources back. */
static void
close_logins(struct mf__worker_job *j, struct logins *l) {
    for (int i = 0; i < 2; i++) {
        mf_crypto_secret_free(&l->secret[i]);
        mf__worker_oauth_put(j->w, &l->oauth[i]);
    }
}

/* Opens both sides' logins into l (closed with close_logins() in any
 * case). */
static mf_err
open_logins(struct mf__worker_job *j, struct logins *l, struct mf_error *err) {
    mf_err rc;

    memset(l, 0, sizeof(*l));
    rc = open_login(j, "source", &j->env.job.source, &l->secret[0],
                    &l->oauth[0], &l->src, err);
    if (rc == MF_E_OK)
        rc = open_login(j, "target", &j->env.job.target, &l->secret[1],
                        &l->oauth[1], &l->dst, err);
    l->src.user_root = nonempty(j->env.job.user_root);
    return rc;
}

/* A side's profile: the job's, else (a job made before jobs carried
 * them) the batch's. */
static const struct mf_profile *
job_profile(const char *from_job, const char *from_batch) {
    return mf_profile_or_generic(from_job && *from_job ? from_job : from_batch);
}

/* The batch's options for either engine, with the job's stop flag. */
static void
engine_options(struct mf__worker_job *j, struct mf_redis *r,
               struct mf_migrate_options *o) {
    const struct mf__worker_batch *b = j->batch;
    struct mf_error fp_err;

    memset(o, 0, sizeof(*o));
    o->source = &b->source;
    o->target = &b->target;
    o->rules = b->rules;
    o->max_message_size = b->cfg->max_message_size;
    o->flag_conflict = b->cfg->flag_conflict;
    o->repair = b->cfg->repair;
    o->gmail_labels_as_keywords = b->cfg->gmail_labels_as_keywords;
    /* The job's window (the batch's when its pass was made); a job made
     * before jobs carried one: the batch's. */
    o->window = j->env.job.has_window ? j->env.job.window : b->cfg->window;
    o->sync_deletes = b->cfg->sync_deletes;
    o->source_profile =
        job_profile(j->env.job.source_profile, b->cfg->source_profile);
    o->target_profile =
        job_profile(j->env.job.target_profile, b->cfg->target_profile);
    /* The job's mode (the batch's when the job was made); a job made
     * before jobs carried one: the batch's --fingerprint, checked when it
     * was stored, else the target profile's (mf__run_lenient()). */
    if (mf_profile_fingerprint_parse(
            nonempty(j->env.job.fingerprint) ? j->env.job.fingerprint
                                             : b->cfg->fingerprint,
            &o->fingerprint, &o->fingerprint_set, &fp_err) != MF_E_OK)
        o->fingerprint_set = false;
    o->throttle = b->cfg->throttle;
    o->quota = b->cfg->quota;
    o->redis = r;
    o->batch = j->env.job.batch;
    o->stop = &j->stop;
    o->progress = &j->progress;
    o->caps = b->has_caps ? &b->caps : NULL;
    o->fence = &j->fence;
}

/* Runs the engine; res is filled when the engine ran (*ran_r). */
static mf_err
run_engine(struct mf__worker_job *j, struct mf_redis *r,
           struct mf_migrate_result *res, bool *ran_r, struct mf_error *err) {
    struct logins l;
    struct mf_migrate_options o;
    mf_err rc;

    *ran_r = false;
    rc = open_logins(j, &l, err);
    if (rc != MF_E_OK)
        goto out;
    engine_options(j, r, &o);
    rc = mf_migrate_mailbox(&o, j->env.job.mailbox, &l.src, &l.dst, res);
    *ran_r = true;
    if (rc != MF_E_OK)
        *err = res->error;
out:
    /* The engine keeps no copy: wipe the secrets now. */
    close_logins(j, &l);
    return rc;
}

/* A verify job: the verify engine, read only, under the same caps;
 * res->error says why when it could not compare. */
static mf_err
run_verify(struct mf__worker_job *j, struct mf_redis *r,
           struct mf_verify_result *res, struct mf_error *err) {
    struct logins l;
    struct mf_migrate_options o;
    struct mf_verify_options vo = {0};
    mf_err rc;

    rc = open_logins(j, &l, err);
    if (rc != MF_E_OK) {
        res->error = *err;
        goto out;
    }
    engine_options(j, r, &o);
    vo.migrate = &o;
    vo.sample = j->env.job.verify_sample > SIZE_MAX
                    ? SIZE_MAX
                    : (size_t)j->env.job.verify_sample;
    rc = mf_verify_mailbox(&vo, j->env.job.mailbox, &l.src, &l.dst, res);
    if (rc != MF_E_OK)
        *err = res->error;
out:
    close_logins(j, &l);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Results                                                            */
/* ------------------------------------------------------------------ */

static char *
listed_text(const char *s) {
    size_t n;

    if (!s)
        return mf_xstrdup("");
    n = mf_utf8_cut(s, MF__WORKER_SUBJECT_MAX);
    return mf_xstrndup(s, n);
}

/* Copies items into *out_r, as many as fit in *budget bytes of text. */
static size_t
copy_items(const struct mf_migrate_item *v, size_t n, size_t *budget,
           struct mf_result_item **out_r) {
    struct mf_result_item *out = mf_xcalloc(n ? n : 1, sizeof(*out));
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        const struct mf_migrate_item *it = &v[i];
        struct mf_result_item *o = &out[k];
        size_t cost;

        o->folder = mf_xstrdup(it->folder ? it->folder : "");
        o->uid = it->uid;
        o->size = it->size;
        o->internal_date =
            it->internal_date
                ? mf_xasprintf("%" PRId64, (int64_t)it->internal_date)
                : mf_xstrdup("");
        o->subject = listed_text(it->subject);
        o->message_id = listed_text(it->message_id);
        o->error_code = (uint32_t)it->error.code;
        o->error_name = mf_xstrdup(mf_err_name(it->error.code));
        o->error_detail = mf_xstrdup(it->error.detail);
        cost = strlen(o->folder) + strlen(o->internal_date) +
               strlen(o->subject) + strlen(o->message_id) +
               strlen(o->error_name) + strlen(o->error_detail) + 48;
        if (cost > *budget) {
            free(o->folder);
            free(o->internal_date);
            free(o->subject);
            free(o->message_id);
            free(o->error_name);
            free(o->error_detail);
            memset(o, 0, sizeof(*o));
            break;
        }
        *budget -= cost;
        k++;
    }
    *out_r = out;
    return k;
}

/* One list of items for copy_lists(). */
struct item_list {
    const struct mf_migrate_item *v;
    size_t n;
};

/* copy_items() of the items of lists[0..n), one list after another. */
static size_t
copy_lists(const struct item_list *lists, size_t nlists, size_t *budget,
           struct mf_result_item **out_r) {
    size_t n = 0, at = 0, k;
    struct mf_migrate_item *all;

    for (size_t i = 0; i < nlists; i++)
        n += lists[i].n;
    all = mf_xcalloc(n ? n : 1, sizeof(*all));
    for (size_t i = 0; i < nlists; i++) {
        if (lists[i].n)
            memcpy(all + at, lists[i].v, lists[i].n * sizeof(*all));
        at += lists[i].n;
    }
    k = copy_items(all, n, budget, out_r);
    free(all); /* the items' strings stay the result's */
    return k;
}

static void
fill_result(struct mf__worker_job *j, enum mf_outcome outcome,
            const struct mf_migrate_result *res, const struct mf_error *error,
            struct mf_envelope *env) {
    struct mf__worker *w = j->w;
    struct mf_result *r = &env->result;
    const struct mf_migrate_stats *s = &res->stats;
    size_t budget = MF__WORKER_ITEMS_BYTES;

    mf_envelope_init(env, MF_ENVELOPE_RESULT, w->sender);
    r->batch = mf_xstrdup(j->env.job.batch);
    r->mailbox = mf_xstrdup(j->env.job.mailbox);
    r->job_id = mf_xstrdup(j->env.job.job_id);
    r->attempt = j->env.job.attempt;
    r->worker = mf_xstrdup(w->id);
    r->outcome = outcome;
    r->counters.folders_total = atomic_load(&j->progress.folders_total);
    r->counters.folders_done = s->folders_copied;
    r->counters.folders_excluded = s->folders_excluded;
    r->counters.messages_source = s->messages_source;
    r->counters.bytes_source = s->bytes_source;
    r->counters.messages_copied = s->messages_copied;
    r->counters.bytes_copied = s->bytes_copied;
    r->counters.messages_skipped_too_large = s->skipped_too_large;
    r->counters.messages_failed = s->failed;
    r->counters.flags_updated = s->flags_updated;
    r->counters.messages_already_present = s->messages_present;
    r->counters.lease_wait_ms = s->lease_wait_ms;
    r->counters.throttles = s->throttles;
    r->counters.throttle_wait_ms = s->throttle_wait_ms;
    r->counters.bytes_failed = s->bytes_failed;
    r->counters.pass_complete = s->pass_complete;
    r->counters.messages_outside_window = s->outside_window;
    r->counters.bytes_outside_window = s->bytes_outside_window;
    r->counters.messages_deleted_on_target = s->deleted_on_target;
    r->counters.messages_moved_on_target = s->moved_on_target;
    r->error_code = (uint32_t)error->code;
    r->error_name = mf_xstrdup(error->code ? mf_err_name(error->code) : "");
    r->error_detail = mf_xstrdup(error->code ? error->detail : "");
    r->started_at_ms = j->started_at_ms;
    r->finished_at_ms = mf__worker_wall_ms();
    /* Repaired messages (--repair), renamed folders and the --rename
     * rules that matched no folder (first: a few, and the batch's warning
     * needs every mailbox's) travel in the failed list with their own
     * codes, MESSAGE_REPAIRED, FOLDER_RENAMED and RENAME_UNMATCHED: the
     * report keeps them apart
     * (mf_report_add_failed()). Messages removed by --sync-deletes travel
     * in the skipped list with theirs, MESSAGE_DELETED, and so do the
     * ones it moved, MESSAGE_MOVED: the report lists them under their own
     * reasons (mf_report_skip_reason_of()). */
    r->nfailed =
        copy_lists((const struct item_list[]){{res->unmatched_renames,
                                               res->n_unmatched_renames},
                                              {res->failed, res->n_failed},
                                              {res->renamed, res->n_renamed},
                                              {res->repaired, res->n_repaired}},
                   4, &budget, &r->failed);
    r->nskipped =
        copy_lists((const struct item_list[]){{res->skipped, res->n_skipped},
                                              {res->deleted, res->n_deleted},
                                              {res->moved, res->n_moved}},
                   3, &budget, &r->skipped);
}

/* How long a publish may wait: normally RESULT_WAIT_MS; during shutdown
 * what is left before the deadline (at least SHUTDOWN_WAIT_MIN_MS). */
static long
wait_ms(struct mf__worker *w) {
    uint64_t deadline = atomic_load(&w->shutdown_deadline_ms);
    uint64_t now = mf__worker_now_ms();

    if (!deadline)
        return RESULT_WAIT_MS;
    if (deadline <= now + SHUTDOWN_WAIT_MIN_MS)
        return SHUTDOWN_WAIT_MIN_MS;
    return (long)(deadline - now);
}

/* A copy of the job envelope with another attempt, to produce again:
 * every field, through the wire form (mf_job_copy()), since most are
 * bound into the sealed secrets and a copy without one would not open
 * (DECRYPT) on the next worker. */
static mf_err
job_copy(const struct mf_job *src, uint32_t attempt, const char *sender,
         struct mf_envelope *env, struct mf_error *err) {
    mf_err rc;

    mf_envelope_init(env, MF_ENVELOPE_JOB, sender);
    rc = mf_job_copy(src, &env->job, err);
    env->job.attempt = attempt;
    return rc;
}

static void
release(struct mf__worker_job *j, struct mf_redis **r, bool finished) {
    struct mf_error err = {0};

    if (!mf__worker_job_redis(j, r, false) ||
        mf_batch_release(*r, &j->lease, finished, &err) != MF_E_OK) {
        /* The claim expires by itself after claim_ttl. */
        if (err.code)
            mf_log_error(&j->log, "job.release", &err);
        mf__worker_count_error(j->w,
                               err.code ? err.code : MF_E_REDIS_UNAVAILABLE);
    }
}

/* Worker shutdown: give the job back so that another worker continues
 * it at once. */
static void
hand_back(struct mf__worker_job *j, struct mf_redis **r,
          const struct mf_migrate_result *res) {
    struct mf__worker *w = j->w;
    struct mf_batch_requeued q;
    struct mf_envelope env;
    struct mf_error err = {0};
    mf_err rc;

    release(j, r, false);
    if (!*r)
        return;
    rc = mf_batch_requeue(*r, j->env.job.batch, j->env.job.mailbox, false, &q,
                          &err);
    if (rc != MF_E_OK) {
        /* Someone requeued it already, or Redis is away: the coordinator
         * finds the released claim. */
        mf_log(MF_LOG_WARN, &j->log, "job.handback",
               "not requeued here (%s): %s", mf_err_name(rc), err.detail);
        return;
    }
    if (q.job.attempt == 0) {
        mf_log(MF_LOG_INFO, &j->log, "job.handback",
               "the batch is stopping: mailbox Stopped");
        return;
    }
    rc = job_copy(&j->env.job, q.job.attempt, w->sender, &env, &err);
    if (rc == MF_E_OK)
        rc = mf__worker_publish(w, q.dead ? w->topics.dlq : w->topics.jobs,
                                j->env.job.batch, j->env.job.mailbox, &env,
                                wait_ms(w), &err);
    mf_envelope_clear(&env);
    if (rc != MF_E_OK) {
        mf__worker_count_error(w, rc);
        mf_log_error(&j->log, "job.handback", &err);
        return;
    }
    atomic_fetch_add(&w->stats->jobs_requeued, 1);
    mf_log(MF_LOG_INFO, &j->log, "job.handback",
           "worker shutdown: %s as attempt %u",
           q.dead ? "dead-lettered" : "re-produced", q.job.attempt);
    /* For the record: a STOPPED result of the attempt that stopped. Its
     * attempt is no longer current, so folding it changes no state. */
    {
        struct mf_error why;
        struct mf_envelope renv;
        mf_error_set(&why, MF_E_CANCELLED,
                     "worker shutdown; continued as attempt %u", q.job.attempt);
        fill_result(j, MF_OUTCOME_STOPPED, res, &why, &renv);
        if (mf__worker_publish(w, w->topics.results, j->env.job.batch,
                               j->env.job.mailbox, &renv, 0, &err) != MF_E_OK)
            mf__worker_count_error(w, err.code);
        mf_envelope_clear(&renv);
    }
}

static void
count_stats(struct mf__worker_job *j, const struct mf_migrate_result *res,
            enum mf_outcome outcome, mf_err code) {
    struct mf__worker *w = j->w;
    struct mf_worker_stats *s = w->stats;

    mf__worker_count_progress(j, &res->stats.messages_copied,
                              &res->stats.bytes_copied);
    if (res->stats.lease_wait_ms) {
        atomic_fetch_add(&s->leases_waited, 1);
        atomic_fetch_add(&s->lease_wait_ms, res->stats.lease_wait_ms);
    }
    atomic_fetch_add(&s->jobs_finished[outcome], 1);
    if (code != MF_E_OK && code != MF_E_CANCELLED)
        mf__worker_count_error(w, code);
}

static void
report(struct mf__worker_job *j, struct mf_redis **r, mf_err rc,
       const struct mf_error *error, const struct mf_migrate_result *res) {
    struct mf__worker *w = j->w;
    enum mf__worker_stop why =
        (enum mf__worker_stop)atomic_load(&j->stop_reason);
    enum mf_outcome outcome;
    struct mf_envelope env;
    struct mf_error perr = {0}, stopped;
    const struct mf_error *e = error;
    char extras[256];
    mf_err prc;

    /* Fenced: the engine found the claim gone before the keeper did. */
    if (why == MF__STOP_LOST || rc == MF_E_FENCED) {
        count_stats(j, res, MF_OUTCOME_UNSPECIFIED, rc);
        mf_log(MF_LOG_WARN, &j->log, "job.done",
               "claim lost: no result (%s); the coordinator requeues it",
               mf_err_name(rc));
        return;
    }
    if (rc == MF_E_OK) {
        outcome = MF_OUTCOME_SYNCED;
    } else if (rc == MF_E_CANCELLED && why == MF__STOP_SHUTDOWN) {
        count_stats(j, res, MF_OUTCOME_STOPPED, rc);
        hand_back(j, r, res);
        return;
    } else if (rc == MF_E_CANCELLED) {
        outcome = MF_OUTCOME_STOPPED;
        mf_error_set(&stopped, MF_E_CANCELLED, "batch stopped");
        e = &stopped;
    } else {
        mf_err_class cls = mf_err_class_of(rc);
        outcome = cls == MF_ERRCLASS_RETRY || cls == MF_ERRCLASS_RECONNECT
                      ? MF_OUTCOME_RETRY
                      : MF_OUTCOME_FAILED;
    }
    count_stats(j, res, outcome, rc);
    fill_result(j, outcome, res, e, &env);
    prc = mf__worker_publish(w, w->topics.results, j->env.job.batch,
                             j->env.job.mailbox, &env, wait_ms(w), &perr);
    mf_envelope_clear(&env);
    if (rc != MF_E_OK && rc != MF_E_CANCELLED)
        mf_log_error(&j->log, "job.error", error);
    mf_report_stats_extras(&res->stats, extras, sizeof(extras));
    mf_log(MF_LOG_INFO, &j->log, "job.done",
           "%s: %" PRIu64 " of %" PRIu64 " messages copied (%" PRIu64
           " bytes, %" PRIu64 " already there, %" PRIu64 " skipped, %" PRIu64
           " failed%s) in %.1f s",
           mf_outcome_name(outcome), res->stats.messages_copied,
           res->stats.messages_source, res->stats.bytes_copied,
           res->stats.messages_present, mf_report_stats_skipped(&res->stats),
           res->stats.failed, extras, res->stats.seconds);
    if (prc != MF_E_OK) {
        /* Without its result the job must run again: give the claim
         * back now rather than after it expires. */
        mf__worker_count_error(w, prc);
        mf_log_error(&j->log, "job.result", &perr);
        release(j, r, false);
        return;
    }
    release(j, r, true);
}

/* A verify job's end: the verdict goes into the batch (the mailbox's
 * verification), never to the results topic, so the mailbox record and
 * its state stay as they are (docs/operations.md, "batch verify"). A
 * lost claim stores nothing; a worker shutdown gives the job back as the
 * next attempt; a batch stop is stored as not verified. */
static void
verify_report(struct mf__worker_job *j, struct mf_redis **r, mf_err rc,
              struct mf_verify_result *res) {
    struct mf__worker *w = j->w;
    enum mf__worker_stop why =
        (enum mf__worker_stop)atomic_load(&j->stop_reason);
    struct mf_error err = {0};
    bool stored;

    if (why == MF__STOP_LOST || rc == MF_E_FENCED) {
        atomic_fetch_add(&w->stats->jobs_finished[MF_OUTCOME_UNSPECIFIED], 1);
        mf_log(MF_LOG_WARN, &j->log, "job.done",
               "verify claim lost: no verdict (%s)", mf_err_name(rc));
        return;
    }
    if (rc == MF_E_CANCELLED && why == MF__STOP_SHUTDOWN) {
        struct mf_envelope env;
        release(j, r, false);
        if (job_copy(&j->env.job, j->env.job.attempt + 1, w->sender, &env,
                     &err) != MF_E_OK ||
            mf__worker_publish(w, w->topics.jobs, j->env.job.batch,
                               j->env.job.mailbox, &env, wait_ms(w),
                               &err) != MF_E_OK)
            mf_log_error(&j->log, "job.handback", &err);
        else
            mf_log(MF_LOG_INFO, &j->log, "job.handback",
                   "worker shutdown: verify re-produced as attempt %u",
                   j->env.job.attempt + 1);
        mf_envelope_clear(&env);
        atomic_fetch_add(&w->stats->jobs_finished[MF_OUTCOME_STOPPED], 1);
        return;
    }
    if (rc == MF_E_CANCELLED)
        mf_error_set(&res->error, MF_E_CANCELLED, "batch stopped");
    stored = mf__worker_job_redis(j, r, false) &&
             mf_batch_verify_put_job(
                 *r, j->env.job.batch, j->env.job.mailbox, j->env.job.job_id,
                 res, (int64_t)(mf__worker_wall_ms() / 1000), &err) == MF_E_OK;
    if (!stored && err.code) {
        mf__worker_count_error(w, err.code);
        mf_log_error(&j->log, "job.verdict", &err);
    }
    if (res->error.code != MF_E_OK && res->error.code != MF_E_CANCELLED)
        mf_log_error(&j->log, "job.error", &res->error);
    atomic_fetch_add(
        &w->stats->jobs_finished[res->error.code ? MF_OUTCOME_FAILED
                                                 : MF_OUTCOME_SYNCED],
        1);
    mf_log(MF_LOG_INFO, &j->log, "job.done",
           "verify: %s, %zu differences (%" PRIu64 " source, %" PRIu64
           " target messages, %" PRIu64 " bodies compared)%s",
           res->error.code ? "not verified"
           : res->n_diffs  ? "differences"
                           : "verified equal",
           res->n_diffs, res->src_messages, res->tgt_messages,
           (uint64_t)res->compared_bodies,
           stored ? "" : "; the verdict was not stored");
    release(j, r, true);
}

/* ------------------------------------------------------------------ */
/* The slot thread                                                    */
/* ------------------------------------------------------------------ */

void *
mf__worker_job_main(void *arg) {
    struct mf__worker_job *j = arg;
    struct mf_migrate_result res;
    struct mf_verify_result vres = {0};
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    bool keeper, ran = false;
    mf_err rc;

    memset(&res, 0, sizeof(res));
    j->started_at_ms = mf__worker_wall_ms();
    mf_log(MF_LOG_INFO, &j->log, "job.start", "%s pass %" PRIu64 " on %s",
           mf_job_kind_name(j->env.job.kind), j->env.job.pass, j->w->id);
    keeper = mf__worker_keeper_start(j);
    if (!keeper)
        rc = mf_error_set(&err, MF_E_INTERNAL, "cannot start a thread");
    else if (j->batch->error.code != MF_E_OK)
        rc = (err = j->batch->error).code;
    else if (!mf__worker_job_redis(j, &r, false))
        rc = mf_error_set(&err, MF_E_REDIS_UNAVAILABLE,
                          "cannot connect to Redis for checkpoints");
    else if (j->env.job.kind == MF_JOB_KIND_VERIFY)
        rc = run_verify(j, r, &vres, &err);
    else
        rc = run_engine(j, r, &res, &ran, &err);
    if (keeper)
        mf__worker_keeper_stop(j);
    if (j->env.job.kind == MF_JOB_KIND_VERIFY) {
        if (rc != MF_E_OK && vres.error.code == MF_E_OK)
            vres.error = err;
        verify_report(j, &r, rc, &vres);
        mf_verify_result_clear(&vres);
        goto out;
    }
    if (!ran)
        res.error = err;
    report(j, &r, rc, &err, &res);
out:
    mf_migrate_result_clear(&res);
    mf_redis_free(&r);
    atomic_store(&j->done, true);
    /* The slot is free: the main loop takes the next job now. */
    mf__worker_wake(j->w);
    return NULL;
}

void
mf__worker_job_free(struct mf__worker_job **jp) {
    struct mf__worker_job *j = *jp;

    if (!j)
        return;
    *jp = NULL;
    mf__worker_batch_unref(&j->batch);
    mf_fence_destroy(&j->fence);
    mf_envelope_clear(&j->env);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
