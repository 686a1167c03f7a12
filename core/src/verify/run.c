/*
 * Running and printing verifications (mailferry/verify.h,
 * mf_verify_run_go()): `mailferry verify` and `batch verify` without
 * --kafka; and the options both read the same way
 * (mf_verify_options_read()).
 */
#include "mailferry/verify.h"

#include "mailferry/config.h"
#include "mailferry/json.h"
#include "mailferry/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

mf_err
mf_verify_options_read(const struct mf_config *c, uint64_t *concurrency_r,
                       struct mf_verify_options *vo, struct mf_error *err) {
    uint64_t concurrency, sample;
    bool deep = false;
    mf_err rc;

    if ((rc =
             mf_config_get_u64(c, "concurrency", MF_MIGRATE_DEFAULT_CONCURRENCY,
                               1, 256, MF_UNIT_NONE, &concurrency, err)) ||
        (rc = mf_config_get_u64(c, "sample", 0, 0, UINT32_MAX, MF_UNIT_NONE,
                                &sample, err)) ||
        (rc = mf_config_get_bool(c, "deep", false, &deep, err)))
        return rc;
    *concurrency_r = concurrency;
    vo->sample = deep ? SIZE_MAX : (size_t)sample;
    return MF_E_OK;
}

static void *
worker(void *arg) {
    struct mf_verify_run *r = arg;

    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        struct mf_migrate_login src, dst;
        void *hold = NULL;
        mf_err rc;

        if (i >= r->n || (r->stop && atomic_load(r->stop)))
            break;
        rc = r->login(r->ud, i, &src, &dst, &hold, &r->res[i].error);
        if (rc == MF_E_OK) {
            rc = mf_verify_mailbox(&r->vo, r->email[i], &src, &dst, &r->res[i]);
            r->release(r->ud, hold);
        }
        (void)rc; /* the result holds the outcome */
        r->ran[i] = true;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void
print_diff(FILE *out, const struct mf_verify_diff *d) {
    fprintf(out, "  %-9s %s", mf_verify_kind_name(d->kind), d->folder);
    if (d->src_uid)
        fprintf(out, " UID %u", d->src_uid);
    if (d->tgt_uid)
        fprintf(out, " (target UID %u)", d->tgt_uid);
    if (d->date)
        fprintf(out, " date \"%s\"", d->date);
    if (d->subject)
        fprintf(out, " subject \"%s\"", d->subject);
    if (d->detail)
        fprintf(out, ": %s", d->detail);
    fputc('\n', out);
}

static void
print_text(FILE *out, const struct mf_verify_run *r) {
    size_t equal = 0, differ = 0, failed = 0;

    for (size_t i = 0; i < r->n; i++) {
        const struct mf_verify_result *v = &r->res[i];
        fprintf(out, "%s: ", r->email[i]);
        if (!r->ran[i]) {
            fprintf(out, "not verified: stopped\n");
            failed++;
            continue;
        }
        if (v->error.code != MF_E_OK) {
            fprintf(out, "not verified: %s: %s\n", mf_err_name(v->error.code),
                    v->error.detail);
            failed++;
            continue;
        }
        if (v->n_diffs == 0) {
            fprintf(out, "verified equal");
            equal++;
        } else {
            fprintf(out, "%zu differences", v->n_diffs);
            differ++;
        }
        fprintf(out,
                " (%llu folders, %llu source messages, %llu target "
                "messages, %llu bodies compared)\n",
                (unsigned long long)v->folders,
                (unsigned long long)v->src_messages,
                (unsigned long long)v->tgt_messages,
                (unsigned long long)v->compared_bodies);
        for (size_t k = 0; k < v->n_diffs; k++)
            print_diff(out, &v->diffs[k]);
    }
    fprintf(out,
            "Verified: %zu mailboxes, %zu equal, %zu with differences, %zu "
            "not verified\n",
            r->n, equal, differ, failed);
}

static void
json_diff(struct mf_json *j, const struct mf_verify_diff *d) {
    mf_json_object_begin(j);
    mf_json_member(j, "kind", mf_verify_kind_name(d->kind));
    mf_json_member(j, "folder", d->folder);
    mf_json_member(j, "source_uid", d->src_uid);
    mf_json_member(j, "target_uid", d->tgt_uid);
    MF_JSON_FIELDS(j, d, date, subject, detail);
    mf_json_object_end(j);
}

static void
print_json(FILE *out, const struct mf_verify_run *r) {
    struct mf_buf buf = {0};
    struct mf_json j;

    mf_json_init(&j, &buf);
    mf_json_object_begin(&j);
    mf_json_key(&j, "mailboxes");
    mf_json_array_begin(&j);
    for (size_t i = 0; i < r->n; i++) {
        const struct mf_verify_result *v = &r->res[i];
        bool ok = r->ran[i] && v->error.code == MF_E_OK;

        mf_json_object_begin(&j);
        mf_json_member(&j, "email", r->email[i]);
        mf_json_member(&j, "verification",
                       !ok          ? "not verified"
                       : v->n_diffs ? "differences"
                                    : "verified equal");
        mf_json_member(&j, "folders", v->folders);
        mf_json_member(&j, "source_messages", v->src_messages);
        mf_json_member(&j, "target_messages", v->tgt_messages);
        mf_json_member(&j, "bodies_compared", v->compared_bodies);
        if (!ok) {
            mf_json_key(&j, "error");
            mf_json_object_begin(&j);
            mf_json_member(
                &j, "code",
                (uint64_t)(r->ran[i] ? v->error.code : MF_E_CANCELLED));
            mf_json_member(
                &j, "name",
                mf_err_name(r->ran[i] ? v->error.code : MF_E_CANCELLED));
            mf_json_member(&j, "detail",
                           r->ran[i] ? v->error.detail : "stopped");
            mf_json_object_end(&j);
        }
        mf_json_key(&j, "differences");
        mf_json_array_begin(&j);
        for (size_t k = 0; k < v->n_diffs; k++)
            json_diff(&j, &v->diffs[k]);
        mf_json_array_end(&j);
        mf_json_object_end(&j);
    }
    mf_json_array_end(&j);
    mf_json_object_end(&j);
    fwrite(buf.data, 1, buf.len, out);
    fputc('\n', out);
    mf_buf_free(&buf);
}

/* Stores every verified mailbox's result in the batch; false (said on
 * stderr) when Redis fails. */
static bool
store_results(struct mf_redis *redis, const char *batch,
              const struct mf_verify_run *r) {
    struct mf_error err = {0};
    int64_t now = (int64_t)time(NULL);

    for (size_t i = 0; i < r->n; i++) {
        if (!r->ran[i])
            continue;
        if (mf_batch_verify_put(redis, batch, r->email[i], &r->res[i], now,
                                &err) != MF_E_OK) {
            fprintf(stderr, "mailferry verify: batch %s: %s\n", batch,
                    err.detail);
            return false;
        }
    }
    return true;
}

enum mf_verify_outcome
mf_verify_run_go(struct mf_verify_run *r, unsigned concurrency,
                 struct mf_redis *redis, const char *batch, bool json) {
    pthread_t *threads;
    size_t nthreads = concurrency < r->n ? concurrency : r->n;
    bool differ = false, failed = false;

    r->res = mf_xcalloc(r->n ? r->n : 1, sizeof(*r->res));
    r->ran = mf_xcalloc(r->n ? r->n : 1, sizeof(*r->ran));
    threads = mf_xcalloc(nthreads ? nthreads : 1, sizeof(*threads));
    for (size_t i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker, r) != 0) {
            nthreads = i;
            break;
        }
    if (nthreads == 0 && r->n)
        worker(r);
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (redis && !store_results(redis, batch, r))
        failed = true;
    if (json)
        print_json(stdout, r);
    else
        print_text(stdout, r);
    for (size_t i = 0; i < r->n; i++) {
        if (!r->ran[i] || r->res[i].error.code != MF_E_OK)
            failed = true;
        else if (r->res[i].n_diffs)
            differ = true;
    }
    return differ   ? MF_VERIFY_DIFFER
           : failed ? MF_VERIFY_INCOMPLETE
                    : MF_VERIFY_EQUAL;
}

void
mf_verify_run_free(struct mf_verify_run *r) {
    if (r->res)
        for (size_t i = 0; i < r->n; i++)
            mf_verify_result_clear(&r->res[i]);
    free(r->res);
    free(r->ran);
    r->res = NULL;
    r->ran = NULL;
}
