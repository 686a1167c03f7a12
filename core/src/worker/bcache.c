/*
 * Batch configurations for the worker: read from Redis with
 * mf_batch_get() and turned into what the engine takes (servers, folder
 * rules, caps). Jobs of one batch arrive in bursts, so a configuration is
 * kept for batch_cache_ms and shared by its jobs through a reference
 * count. A change by `batch set` (mf_batch_set(), mf_batch_set_rules())
 * lengthens the batch's history, which each job reads (one LLEN), so the
 * next job after it reads the configuration again; a batch removed and
 * created again under the same name is another generation. The short
 * lifetime bounds the rest.
 *
 * The cache is a small array used by the main loop only; the reference
 * counts are atomic because slot threads drop theirs.
 */
#include "worker/worker_int.h"

#include "mailferry/jobs.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mf__worker_batch_unref(struct mf__worker_batch **bp) {
    struct mf__worker_batch *b = *bp;

    if (!b)
        return;
    *bp = NULL;
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    mf_batch_config_free(&b->cfg);
    mf_folder_rules_free(&b->rules);
    free(b->name);
    free(b);
}

/* Everything the engine needs from c; a problem lands in b->error. */
static void
prepare(const struct mf__worker *w, struct mf__worker_batch *b) {
    const struct mf_batch_config *c = b->cfg;
    struct mf_error *e = &b->error;

    if (mf_jobs_batch_server(c, false, w->o.bind_address, &b->source, e) ||
        mf_jobs_batch_server(c, true, w->o.bind_address, &b->target, e) ||
        mf_batch_config_rules(c, &b->rules, e)) {
        if (e->code == MF_E_OK)
            e->code = MF_E_CONFIG;
        return;
    }
    mf_error_clear(e);
    /* Caps the admin set, or the profiles' own (leases.c fills them in
     * where the batch sets none), or a throttling provider's lowered
     * limit to enforce (mf_profile_takes_leases()). */
    if (mf_jobs_migrate_caps(&c->source_caps, &c->target_caps, &b->caps) ||
        mf_profile_takes_leases(mf_profile_or_generic(c->source_profile),
                                mf_profile_or_generic(c->target_profile))) {
        b->has_caps = true;
        b->caps.redis_url = w->o.redis_url;
        b->caps.egress_ip = w->o.egress_ip;
        b->caps.holder = w->id;
        b->caps.ttl_ms = w->o.lease_ttl_ms;
    }
}

static void
evict(struct mf__worker *w, size_t i) {
    mf__worker_batch_unref(&w->cache[i]);
    w->cache[i] = w->cache[--w->ncache];
    w->cache[w->ncache] = NULL;
}

void
mf__worker_cache_clear(struct mf__worker *w) {
    while (w->ncache)
        evict(w, w->ncache - 1);
}

mf_err
mf__worker_batch_get(struct mf__worker *w, const char *name,
                     uint64_t generation, struct mf__worker_batch **b_r,
                     struct mf_error *err) {
    uint64_t now = mf__worker_now_ms(), changes = 0;
    struct mf__worker_batch *b;
    struct mf_batch_config *cfg = NULL;
    mf_err rc;

    if ((rc = mf_batch_changes_count(w->redis, name, &changes, err)))
        return rc;
    for (size_t i = 0; i < w->ncache; i++) {
        b = w->cache[i];
        if (now - (uint64_t)b->loaded_ms > (uint64_t)w->o.batch_cache_ms) {
            evict(w, i--);
            continue;
        }
        if (strcmp(b->name, name) == 0 &&
            (mf_jobs_batch_generation(b->cfg) != generation ||
             b->changes != changes)) {
            /* Created again or changed since it was cached, or the job
             * is stale: Redis decides. */
            evict(w, i--);
            continue;
        }
        if (strcmp(b->name, name) == 0) {
            atomic_fetch_add(&b->refs, 1);
            *b_r = b;
            return MF_E_OK;
        }
    }
    rc = mf_batch_get(w->redis, name, &cfg, err);
    if (rc != MF_E_OK)
        return rc;
    if (mf_jobs_batch_generation(cfg) != generation) {
        rc = mf_error_set(err, MF_E_JOB_STALE,
                          "the job is for generation %" PRIu64
                          " of batch %s, which is now generation %" PRIu64
                          " (removed and created again)",
                          generation, name, mf_jobs_batch_generation(cfg));
        mf_batch_config_free(&cfg);
        return rc;
    }
    b = mf_xcalloc(1, sizeof(*b));
    atomic_init(&b->refs, 2); /* the cache's and the caller's */
    b->name = mf_xstrdup(name);
    b->cfg = cfg;
    b->loaded_ms = (int64_t)now;
    b->changes = changes;
    prepare(w, b);
    if (w->ncache == MF__WORKER_CACHE_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < w->ncache; i++)
            if (w->cache[i]->loaded_ms < w->cache[oldest]->loaded_ms)
                oldest = i;
        evict(w, oldest);
    }
    w->cache[w->ncache++] = b;
    *b_r = b;
    return MF_E_OK;
}
