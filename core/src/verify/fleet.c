/*
 * `mailferry batch verify NAME --kafka ...`: one verify job per mailbox
 * through the fleet (issue 11 section 6). Each job is the mailbox's job
 * envelope (sealed credentials, endpoints and generation bound as for a
 * pass, mf_jobs_build()) with kind MF_JOB_KIND_VERIFY, a job id of its
 * own ("<batch>/<email>/verify/<run>") and the body sample; a worker
 * claims it beside the mailbox's migration claim, runs mf_verify_mailbox()
 * under the batch's caps and stores the verdict with the job id in the
 * batch (worker/job.c verify_report()). The mailbox record is never
 * touched: a verify changes no state.
 *
 * Without --wait the command returns once Kafka has the jobs. With
 * --wait it polls each mailbox's verdict until the one of this run is
 * there (or --timeout), prints them, and exits as `verify` does.
 */
#include "mailferry/verify.h"

#include "mailferry/jobs.h"
#include "mailferry/json.h"
#include "mailferry/kafka.h"
#include "mailferry/report.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 500

static void
sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *
verdict_name(const struct mf_batch_verdict *v, bool arrived) {
    if (!arrived)
        return "not verified";
    return mf_report_verify_name(v->status);
}

/* Waits for every verdict of this run; false when time ran out or Redis
 * failed (*err says which). */
static bool
wait_verdicts(struct mf_redis *redis, const char *batch,
              const struct mf_job *jobs, size_t n, uint64_t timeout_s,
              const atomic_bool *stop, struct mf_batch_verdict *v,
              bool *arrived, struct mf_error *err) {
    uint64_t t0 = (uint64_t)time(NULL);
    size_t left = n;

    for (;;) {
        for (size_t i = 0; i < n; i++) {
            if (arrived[i])
                continue;
            if (mf_batch_verify_get(redis, batch, jobs[i].mailbox, &v[i],
                                    err) != MF_E_OK)
                return false;
            if (strcmp(v[i].job_id, jobs[i].job_id) == 0) {
                arrived[i] = true;
                left--;
            }
        }
        if (left == 0)
            return true;
        if ((stop && atomic_load(stop)) ||
            (uint64_t)time(NULL) - t0 >= timeout_s) {
            mf_error_set(err, MF_E_TIMEOUT,
                         "%zu of %zu verdicts not in after %llu s", left, n,
                         (unsigned long long)((uint64_t)time(NULL) - t0));
            return false;
        }
        sleep_ms(POLL_MS);
    }
}

static void
print_verdicts(bool json, const char *batch, const struct mf_job *jobs,
               size_t n, const struct mf_batch_verdict *v,
               const bool *arrived) {
    size_t equal = 0, differ = 0, failed = 0;
    struct mf_buf buf = {0};
    struct mf_json j;

    mf_json_init(&j, &buf);
    mf_json_object_begin(&j);
    mf_json_member(&j, "batch", batch);
    mf_json_key(&j, "mailboxes");
    mf_json_array_begin(&j);
    for (size_t i = 0; i < n; i++) {
        bool ok = arrived[i] && v[i].status != MF_REPORT_VERIFY_FAILED &&
                  v[i].status != MF_REPORT_NOT_VERIFIED;
        if (!ok)
            failed++;
        else if (v[i].differences)
            differ++;
        else
            equal++;
        mf_json_object_begin(&j);
        mf_json_member(&j, "email", jobs[i].mailbox);
        mf_json_member(&j, "verification", verdict_name(&v[i], arrived[i]));
        mf_json_member(&j, "differences", arrived[i] ? v[i].differences : 0);
        mf_json_member(&j, "error",
                       !arrived[i] ? "no verdict yet"
                       : ok        ? ""
                                   : v[i].error_detail);
        mf_json_object_end(&j);
        if (json)
            continue;
        printf("%s: ", jobs[i].mailbox);
        if (!arrived[i])
            printf("not verified: no verdict yet\n");
        else if (!ok)
            printf("not verified: %s\n", v[i].error_detail);
        else if (v[i].differences)
            printf("%llu differences\n", (unsigned long long)v[i].differences);
        else
            printf("verified equal\n");
    }
    mf_json_array_end(&j);
    mf_json_object_end(&j);
    if (json) {
        fwrite(buf.data, 1, buf.len, stdout);
        fputc('\n', stdout);
    } else {
        printf("Verified: %zu mailboxes, %zu equal, %zu with differences, "
               "%zu not verified (the differences: `mailferry batch report "
               "%s`)\n",
               n, equal, differ, failed, batch);
    }
    mf_buf_free(&buf);
}

/* Produces every job of this run with its own id, then flushes; false
 * (said on stderr) when one could not go out. */
static bool
produce(const struct mf_verify_fleet *f, struct mf_kafka_producer *producer,
        const struct mf_kafka_topics *topics) {
    struct mf_jobs_ctx jc;
    struct mf_error err = {0};
    char sender[128], run[40];
    size_t produced = 0;

    mf_jobs_sender_name(sender, sizeof(sender));
    jc = (struct mf_jobs_ctx){f->redis, producer, topics, f->kr, sender};
    /* One id for this run's jobs: a verdict carrying it is this run's. */
    snprintf(run, sizeof(run), "%lld-", (long long)time(NULL));
    mf_random_hex(run + strlen(run), 8);
    for (size_t i = 0; i < f->n; i++) {
        struct mf_job *job = &f->jobs[i];
        free(job->job_id);
        job->job_id =
            mf_xasprintf("%s/%s/verify/%s", f->batch, job->mailbox, run);
        job->kind = MF_JOB_KIND_VERIFY;
        job->attempt = 1;
        job->verify_sample = f->sample;
        if (mf_jobs_produce(&jc, topics->jobs, job, &err) != MF_E_OK) {
            fprintf(stderr, "mailferry batch verify: %s: %s\n", job->mailbox,
                    err.detail);
            break;
        }
        produced++;
    }
    if (mf_kafka_producer_flush(producer, MF_JOBS_FLUSH_MS, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry batch verify: Kafka: %s\n", err.detail);
        return false;
    }
    return produced == f->n;
}

/* Without --wait: what was queued where. */
static void
print_queued(const struct mf_verify_fleet *f, const char *topic) {
    if (f->json) {
        struct mf_buf b = {0};
        struct mf_json j;
        mf_json_init(&j, &b);
        mf_json_object_begin(&j);
        mf_json_member(&j, "batch", f->batch);
        mf_json_member(&j, "jobs", f->n);
        mf_json_member(&j, "topic", topic);
        mf_json_object_end(&j);
        printf("%.*s\n", (int)b.len, (const char *)b.data);
        mf_buf_free(&b);
    } else {
        printf("batch %s: %zu verify job%s queued on %s; the verdicts go "
               "to `mailferry batch report %s`\n",
               f->batch, f->n, f->n == 1 ? "" : "s", topic, f->batch);
    }
}

/* With --wait: the verdicts of this run, printed, and the outcome. */
static enum mf_verify_outcome
await(const struct mf_verify_fleet *f) {
    struct mf_batch_verdict *v = mf_xcalloc(f->n ? f->n : 1, sizeof(*v));
    bool *arrived = mf_xcalloc(f->n ? f->n : 1, sizeof(*arrived));
    enum mf_verify_outcome out = MF_VERIFY_EQUAL;
    struct mf_error err = {0};

    if (!wait_verdicts(f->redis, f->batch, f->jobs, f->n, f->timeout_s, f->stop,
                       v, arrived, &err))
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
    print_verdicts(f->json, f->batch, f->jobs, f->n, v, arrived);
    for (size_t i = 0; i < f->n; i++) {
        if (!arrived[i] || v[i].status == MF_REPORT_VERIFY_FAILED ||
            v[i].status == MF_REPORT_NOT_VERIFIED)
            out = out == MF_VERIFY_DIFFER ? out : MF_VERIFY_INCOMPLETE;
        else if (v[i].differences)
            out = MF_VERIFY_DIFFER;
    }
    free(v);
    free(arrived);
    return out;
}

enum mf_verify_outcome
mf_verify_fleet_go(const struct mf_verify_fleet *f) {
    struct mf_kafka_producer *producer = NULL;
    struct mf_kafka_topics topics;
    struct mf_error err = {0};
    enum mf_verify_outcome out = MF_VERIFY_INCOMPLETE;

    if (mf_kafka_topics_from_config(f->config, &topics, &err) ||
        mf_kafka_producer_new(f->config, "mailferry", NULL, NULL, &producer,
                              &err)) {
        fprintf(stderr, "mailferry batch verify: Kafka: %s\n", err.detail);
        goto out;
    }
    if (!produce(f, producer, &topics))
        goto out;
    if (f->wait) {
        out = await(f);
    } else {
        print_queued(f, topics.jobs);
        out = MF_VERIFY_EQUAL;
    }
out:
    mf_kafka_producer_free(&producer);
    return out;
}
