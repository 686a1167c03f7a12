/*
 * What a plan is asked for (mailferry/plan.h): one request per mailbox,
 * logged in as the jobs would be (mf_jobs_direct_logins()), from a CSV's
 * rows (`mailferry plan`) or from a batch's definition (`batch create
 * --dry-run`, mf_plan_batchdef(), which also sets the plan's options
 * from the batch).
 */
#include "plan/plan_int.h"

#include "mailferry/batchdef.h"
#include "mailferry/csv.h"
#include "mailferry/jobs.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
requests_alloc(struct mf_plan_requests *r, size_t n) {
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->v = mf_xcalloc(n ? n : 1, sizeof(*r->v));
    r->owned = mf_xcalloc(4 * (n ? n : 1), sizeof(*r->owned));
}

static void
request_set(struct mf_plan_requests *r, size_t i,
            const struct mf_jobs_direct_side sides[2],
            const struct mf_jobs_direct_mailbox *mb) {
    r->v[i].email = mb->names.email;
    mf_jobs_direct_logins(sides, mb, &r->v[i].source, &r->v[i].target,
                          &r->owned[4 * i]);
}

void
mf_plan_requests_csv(const struct mf_jobs_direct_side *sides,
                     const struct mf_csv_mailbox *rows, size_t n,
                     struct mf_plan_requests *r_r) {
    requests_alloc(r_r, n);
    for (size_t i = 0; i < n; i++) {
        struct mf_jobs_direct_mailbox mb;
        mf_jobs_direct_mailbox_csv(&rows[i], &mb);
        request_set(r_r, i, sides, &mb);
    }
}

void
mf_plan_requests_free(struct mf_plan_requests *r) {
    if (r->owned)
        for (size_t i = 0; i < 4 * r->n; i++)
            free(r->owned[i]);
    free(r->owned);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* The requests of a dry run's definition: its blobs hold the clear
 * passwords (mf_batchdef_read() without a keyring). */
static void
requests_batchdef(const struct mf_batchdef *d, struct mf_plan_requests *r) {
    const struct mf_batch_config *cfg = &d->cfg;
    const struct mf_jobs_direct_side sides[2] = {
        {cfg->admin_user, (const char *)cfg->admin_password.data,
         cfg->admin_login_format, d->oauth[0]},
        {cfg->target_admin_user, (const char *)cfg->target_admin_password.data,
         cfg->target_admin_login_format, d->oauth[1]},
    };

    requests_alloc(r, d->n);
    for (size_t i = 0; i < d->n; i++) {
        const struct mf_batch_mailbox_cfg *m = &d->mbs[i];
        const struct mf_jobs_direct_mailbox mb = {
            {m->email, m->user, m->target_user},
            m->user_root,
            (const char *)m->password.data,
            (const char *)m->target_password.data,
        };
        request_set(r, i, sides, &mb);
    }
}

void
mf_plan_batchdef_print(FILE *out, bool json, const struct mf_batchdef *d,
                       const struct mf_plan_batch *pb) {
    const struct mf_batch_config *cfg = &d->cfg;
    struct mf_json_doc doc;
    struct mf_json *j;

    if (!json) {
        mf_batch_config_print(out, false, cfg, d->mbs, d->n, true);
        fprintf(out, "\n");
        mf_plan_batch_print(out, pb);
        return;
    }
    j = mf_json_doc_begin(&doc);
    mf_json_object_begin(j);
    mf_json_member(j, "batch", cfg->name);
    mf_json_member(j, "dry_run", (bool)true);
    MF_JSON_FIELDS(j, cfg, source, target);
    mf_json_member(j, "mailboxes", d->n);
    mf_batch_mailbox_list_json(j, d->mbs, d->n);
    mf_json_key(j, "plan");
    mf_plan_batch_to_json(pb, j);
    mf_json_object_end(j);
    mf_json_doc_print(&doc, out);
}

mf_err
mf_plan_batchdef(const struct mf_batchdef *d, unsigned concurrency,
                 struct mf_plan_batch **batch_r, struct mf_error *err) {
    const struct mf_batch_config *cfg = &d->cfg;
    struct mf_migrate_server src, dst;
    struct mf_folder_rules *rules = NULL;
    struct mf_plan_options po = {0};
    struct mf_plan_requests reqs = {0};
    mf_err rc;

    if ((rc = mf_jobs_batch_server(cfg, false, NULL, &src, err)) ||
        (rc = mf_jobs_batch_server(cfg, true, NULL, &dst, err)) ||
        (rc = mf_batch_config_rules(cfg, &rules, err)))
        goto out;
    requests_batchdef(d, &reqs);
    po.source = &src;
    po.target = &dst;
    po.rules = rules;
    po.target_profile = mf_profile_or_generic(cfg->target_profile);
    po.source_profile = mf_profile_or_generic(cfg->source_profile);
    po.max_message_size =
        mf_profile_max_message_size(po.target_profile, cfg->max_message_size);
    po.window = cfg->window;
    po.concurrency = concurrency;
    if ((rc = mf_plan_batch(&po, reqs.v, reqs.n, batch_r, err))) {
        char detail[sizeof(err->detail)];
        snprintf(detail, sizeof(detail), "%s", err->detail);
        mf_error_set(err, rc, "plan: %s", detail);
    }
out:
    mf_plan_requests_free(&reqs);
    mf_folder_rules_free(&rules);
    return rc;
}
