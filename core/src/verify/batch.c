/*
 * `batch verify` in this process (mailferry/verify.h,
 * mf_verify_batch_load()): a stored batch read back into what the
 * verification needs. Each mailbox gets the job a worker would get
 * (mf_jobs_build(): logins and secrets sealed for it); right before a
 * mailbox is verified its secrets are opened (mf_jobs_open_secret(), or
 * an OAuth2 token source made from the key they hold) and wiped after
 * it, as worker/job.c does. The batch's servers, folder rules, size cap,
 * window, profiles and fleet caps become the engine's options.
 */
#include "verify/verify_int.h"

#include "mailferry/envelope.h"
#include "mailferry/jobs.h"
#include "mailferry/oauth.h"
#include "mailferry/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

struct collect {
    struct mf_verify_batch *b;
    struct mf_error err; /* the first mailbox that could not be read */
};

static mf_err
collect(void *ud, const struct mf_batch_mailbox *mb) {
    struct collect *c = ud;
    struct mf_verify_batch *b = c->b;
    struct mf_batch_job bj = {0};
    struct mf_job job;

    snprintf(bj.email, sizeof(bj.email), "%s", mb->cfg.email);
    snprintf(bj.job_id, sizeof(bj.job_id), "%s/%s/verify", b->batch,
             mb->cfg.email);
    bj.kind = MF_JOB_KIND_INITIAL;
    if (mf_jobs_build(b->kr, b->cfg, &mb->cfg, &bj, &job, &c->err) != MF_E_OK)
        return c->err.code;
    b->jobs = mf_xreallocarray(b->jobs, b->n + 1, sizeof(*b->jobs));
    b->emails = mf_xreallocarray(b->emails, b->n + 1, sizeof(*b->emails));
    b->jobs[b->n] = job;
    b->emails[b->n++] = mf_xstrdup(mb->cfg.email);
    return MF_E_OK;
}

/* The batch's fleet caps, when it has any: leases held as this process. */
static void
set_caps(struct mf_verify_batch *b) {
    const struct mf_batch_config *cfg = b->cfg;
    char host[64] = "host";

    if (!mf_jobs_migrate_caps(&cfg->source_caps, &cfg->target_caps, &b->caps))
        return;
    gethostname(host, sizeof(host) - 1);
    snprintf(b->holder, sizeof(b->holder), "%s/%ld", host, (long)getpid());
    b->caps.redis_url = b->redis_url;
    b->caps.holder = b->holder;
    b->caps.egress_ip = b->egress_ip;
    b->caps.ttl_ms = b->lease_ttl_ms;
    b->mo.caps = &b->caps;
}

static void
set_options(struct mf_verify_batch *b) {
    const struct mf_batch_config *cfg = b->cfg;
    struct mf_migrate_options *mo = &b->mo;
    struct mf_error ignored = {0};

    mo->source = &b->src;
    mo->target = &b->dst;
    mo->rules = b->rules;
    mo->max_message_size = cfg->max_message_size;
    mo->window = cfg->window;
    mo->source_profile = mf_profile_or_generic(cfg->source_profile);
    mo->target_profile = mf_profile_or_generic(cfg->target_profile);
    if (mf_profile_fingerprint_parse(cfg->fingerprint, &mo->fingerprint,
                                     &mo->fingerprint_set, &ignored) != MF_E_OK)
        mo->fingerprint_set = false;
    mo->batch = b->batch;
    mo->stop = b->stop;
    set_caps(b);
}

mf_err
mf_verify_batch_load(struct mf_verify_batch *b, struct mf_error *err) {
    struct collect c = {b, {0}};
    mf_err rc;

    if ((rc = mf_batch_get(b->redis, b->batch, &b->cfg, err)) ||
        (rc = mf_jobs_batch_server(b->cfg, false, b->bind_address, &b->src,
                                   err)) ||
        (rc = mf_jobs_batch_server(b->cfg, true, b->bind_address, &b->dst,
                                   err)) ||
        (rc = mf_batch_config_rules(b->cfg, &b->rules, err)))
        return rc;
    if ((rc = mf_batch_foreach_mailbox(b->redis, b->batch, collect, &c, err))) {
        if (c.err.code)
            *err = c.err;
        return rc;
    }
    set_options(b);
    return MF_E_OK;
}

void
mf_verify_batch_free(struct mf_verify_batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        mf_jobs_job_clear(&b->jobs[i]);
        free(b->emails[i]);
    }
    free(b->jobs);
    free(b->emails);
    b->jobs = NULL;
    b->emails = NULL;
    b->n = 0;
    mf_folder_rules_free(&b->rules);
    mf_batch_config_free(&b->cfg);
}

/* ------------------------------------------------------------------ */
/* Logins, one mailbox at a time                                       */
/* ------------------------------------------------------------------ */

/* What a mailbox's logins hold while it is verified. */
struct hold {
    struct mf_crypto_secret *secret[2]; /* owned, wiped */
    struct mf_oauth *oauth[2];          /* owned */
};

/* One side's login from the job, its secret opened into h (for an OAuth2
 * side: a token source made from the key it holds, as a worker does). */
static mf_err
open_side(const struct mf_verify_batch *b, const struct mf_job *job,
          bool target, struct mf_migrate_login *lg, struct hold *h,
          struct mf_error *err) {
    const struct mf_job_credentials *cr = target ? &job->target : &job->source;
    const char *purpose =
        target ? MF_JOBS_PURPOSE_TARGET : MF_JOBS_PURPOSE_SOURCE;
    struct mf_crypto_secret **s_r = &h->secret[target];
    mf_err rc;

    memset(lg, 0, sizeof(*lg));
    lg->user = cr->login;
    lg->authzid = cr->authorization_id && *cr->authorization_id
                      ? cr->authorization_id
                      : NULL;
    if (!cr->has_password)
        return mf_error_set(err, MF_E_CONFIG, "no %s password",
                            target ? "target" : "source");
    /* Sealed for this job's login, endpoints and generation, as a
     * worker opens it (mf_jobs_build()). */
    rc = mf_jobs_open_secret(b->kr, b->cfg, job, purpose, s_r, err);
    if (!target)
        lg->user_root =
            job->user_root && *job->user_root ? job->user_root : NULL;
    if (rc != MF_E_OK)
        return rc;
    if (!cr->oauth) {
        lg->password = (const char *)(*s_r)->data;
        return MF_E_OK;
    }
    rc = mf_jobs_oauth_new(b->cfg, purpose, *s_r, &h->oauth[target], err);
    mf_crypto_secret_free(s_r);
    lg->oauth = h->oauth[target];
    lg->oauth_mailbox = cr->login;
    return rc;
}

static void
hold_free(struct hold *h) {
    for (int i = 0; i < 2; i++) {
        mf_crypto_secret_free(&h->secret[i]);
        mf_oauth_free(&h->oauth[i]);
    }
    free(h);
}

static mf_err
job_login(void *ud, size_t i, struct mf_migrate_login *src,
          struct mf_migrate_login *dst, void **hold, struct mf_error *err) {
    const struct mf_verify_batch *b = ud;
    struct hold *h = mf_xcalloc(1, sizeof(*h));
    mf_err rc;

    if ((rc = open_side(b, &b->jobs[i], false, src, h, err)) ||
        (rc = open_side(b, &b->jobs[i], true, dst, h, err))) {
        hold_free(h);
        return rc;
    }
    *hold = h;
    return MF_E_OK;
}

static void
job_release(void *ud, void *hold) {
    (void)ud;
    hold_free(hold);
}

void
mf_verify_batch_run(struct mf_verify_batch *b, struct mf_verify_run *r) {
    r->vo.migrate = &b->mo;
    r->email = (const char *const *)b->emails;
    r->n = b->n;
    r->login = job_login;
    r->release = job_release;
    r->ud = b;
    r->stop = b->stop;
}
