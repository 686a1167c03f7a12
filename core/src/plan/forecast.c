/*
 * The forecast of `mailferry plan --from-batch` (mailferry/plan.h): the
 * test batches read from Redis (mf_plan_batch_digest(), history.c) and
 * their rates merged, the planned mailboxes estimated from them
 * (mf_estimate_compute(), estimate.c), and the plan with its estimate as
 * text or JSON. The command only reads options and prints.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mf_err
mf_plan_forecast_read(struct mf_plan_forecast *f, const char *redis_url,
                      const char *const *batches, size_t n,
                      struct mf_error *err) {
    struct mf_redis *r = NULL;
    struct mf_error e = {0};
    mf_err rc;

    memset(f, 0, sizeof(*f));
    f->digests = mf_xcalloc(n ? n : 1, sizeof(*f->digests));
    if ((rc = mf_redis_connect(redis_url, 0, &r, &e)))
        return mf_error_set(err, rc, "Redis: %s", e.detail);
    for (size_t i = 0; i < n; i++) {
        if ((rc = mf_plan_batch_digest(r, batches[i], &f->digests[i], &e))) {
            mf_redis_free(&r);
            return mf_error_set(err, rc, "test batch %s: %s", batches[i],
                                e.detail);
        }
        f->n_digests++;
        mf_estimate_rate_merge(&f->rate, &f->digests[i].rate);
    }
    mf_redis_free(&r);
    if (!(f->rate.bytes_per_second > 0) && !(f->rate.messages_per_second > 0))
        return mf_error_set(err, MF_E_NOT_FOUND,
                            "the test batches have no Synced mailbox with a "
                            "duration: nothing to estimate from");
    return MF_E_OK;
}

mf_err
mf_plan_forecast_estimate(struct mf_plan_forecast *f,
                          const struct mf_plan_batch *b, const unsigned *conns,
                          size_t n_conns, unsigned max_connections,
                          double window_seconds, struct mf_error *err) {
    struct mf_estimate_job *jobs = mf_xcalloc(b->n ? b->n : 1, sizeof(*jobs));
    size_t nj = 0;
    mf_err rc;

    free(f->names);
    f->names = mf_xcalloc(b->n ? b->n : 1, sizeof(*f->names));
    /* Only what was planned can be estimated. */
    for (size_t i = 0; i < b->n; i++) {
        const struct mf_plan_mailbox *mb = &b->mailboxes[i];
        if (mb->error.code != MF_E_OK)
            continue;
        jobs[nj].bytes = mb->totals.copy.bytes;
        jobs[nj].messages = mb->totals.copy.messages;
        f->names[nj++] = mb->email;
    }
    rc = mf_estimate_compute(&f->rate, jobs, nj, conns, n_conns,
                             max_connections, window_seconds, &f->est, err);
    free(jobs);
    f->has_estimate = rc == MF_E_OK;
    return rc;
}

void
mf_plan_forecast_print(FILE *out, bool json, const struct mf_plan_batch *b,
                       const struct mf_plan_forecast *f, const char *source,
                       const char *target) {
    if (json) {
        struct mf_json_doc doc;
        mf_plan_forecast_to_json(b, f, source, target, mf_json_doc_begin(&doc));
        mf_json_doc_print(&doc, out);
        return;
    }
    mf_plan_batch_print(out, b);
    if (!f || !f->has_estimate)
        return;
    fprintf(out, "\nestimate from test batch%s", f->n_digests > 1 ? "es" : "");
    for (size_t i = 0; i < f->n_digests; i++)
        fprintf(out, "%s %s (%s)", i ? "," : "", f->digests[i].name,
                f->digests[i].state);
    fprintf(out, "\n");
    mf_estimate_print(out, &f->rate, &f->est, f->names);
}

void
mf_plan_forecast_to_json(const struct mf_plan_batch *b,
                         const struct mf_plan_forecast *f, const char *source,
                         const char *target, struct mf_json *j) {
    bool est = f && f->has_estimate;

    mf_json_object_begin(j);
    mf_json_member(j, "source", source);
    mf_json_member(j, "target", target);
    mf_json_key(j, "plan");
    mf_plan_batch_to_json(b, j);
    mf_json_key(j, "from_batches");
    mf_json_array_begin(j);
    for (size_t i = 0; est && i < f->n_digests; i++)
        mf_plan_digest_to_json(&f->digests[i], j);
    mf_json_array_end(j);
    mf_json_key(j, "estimate");
    if (est)
        mf_estimate_to_json(&f->rate, &f->est, f->names, j);
    else
        mf_json_null(j);
    mf_json_object_end(j);
}

void
mf_plan_forecast_clear(struct mf_plan_forecast *f) {
    if (f->has_estimate)
        mf_estimate_clear(&f->est);
    free(f->digests);
    free(f->names);
    memset(f, 0, sizeof(*f));
}
