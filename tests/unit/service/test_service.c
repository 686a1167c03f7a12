/*
 * The coordinator service (core/src/service/service.c) on its own, in this
 * process: mf_service_run() on a thread against librdkafka's mock cluster
 * and a private redis-server child (the embedded default's servers,
 * mailferry/embedded.h), the test standing in for the workers. The
 * end-to-end view of the same rules is integration.coordinator.retry and
 * .lifecycle; here each rule is one case with its exact effect:
 *
 *   - retries: a RETRY result requeues the mailbox with the next attempt
 *     and produces exactly that job to <prefix>.jobs;
 *   - dead letters: a RETRY of the last attempt fails the mailbox and
 *     produces the job to <prefix>.jobs.dlq, not to the jobs topic;
 *   - duplicates: the same result again changes nothing and produces
 *     nothing (results_ignored counts it), while a duplicate RETRY whose
 *     next job may have been lost (mailbox still Queued for it) produces
 *     that job again;
 *   - requeue: a claim whose worker died (its TTL runs out) is requeued
 *     by the scan with the next attempt, its job produced.
 */
#include "testredis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/embedded.h"
#include "mailferry/envelope.h"
#include "mailferry/jobs.h"
#include "mailferry/service.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "svctest"
#define WAIT_MS 15000 /* for anything the service does, under load */

struct t {
    struct mf_testredis redis;
    struct mf_kafka_mock *mock;
    struct mf_kafka_topics topics;
    struct mf_config *cfg;
    struct mf_crypto_keyring *kr; /* borrowed: redis.kr */
    struct mf_redis *r;           /* borrowed: redis.r */
    struct mf_kafka_producer *producer;
    struct mf_kafka_consumer *jobs, *dlq;
    struct mf_service_options o;
    struct mf_service_metrics m;
    atomic_bool stop;
    pthread_t thread;
    mf_err run_rc;
};

static void *
service(void *ud) {
    struct t *t = ud;
    struct mf_error err = {0};

    t->run_rc = mf_service_run(&t->o, &t->stop, &err);
    if (t->run_rc)
        fprintf(stderr, "service: %s\n", err.detail);
    return NULL;
}

static struct mf_kafka_consumer *
consumer(struct t *t, const char *topic) {
    const char *topics[] = {topic};
    struct mf_kafka_consumer_params cp = {.client_id = "test",
                                          .group_id = "svctest-observer",
                                          .topics = topics,
                                          .ntopics = 1};
    struct mf_kafka_consumer *c = NULL;
    struct mf_error err = {0};

    assert_int_equal(mf_kafka_consumer_new(t->cfg, &cp, &c, &err), MF_E_OK);
    return c;
}

static int
setup(void **state) {
    struct t *t = mf_xcalloc(1, sizeof(*t));
    struct mf_error err = {0};

    assert_true(mf_testredis_start(&t->redis, "mf_test_service"));
    assert_true(mf_testredis_keyring(&t->redis));
    t->kr = t->redis.kr;
    t->r = t->redis.r;
    assert_int_equal(mf_kafka_mock_start(1, PREFIX, 1, &t->mock, &err),
                     MF_E_OK);
    assert_int_equal(mf_kafka_topics_init(&t->topics, PREFIX, &err), MF_E_OK);
    t->cfg = mf_config_new();
    mf_config_set_flag(t->cfg, "kafka", mf_kafka_mock_bootstrap(t->mock));
    mf_config_set_flag(t->cfg, "topic-prefix", PREFIX);
    mf_config_set_flag(t->cfg, "kafka-assign", "all");
    mf_config_set_flag(t->cfg, "kafka.fetch.wait.max.ms", "5");
    assert_int_equal(
        mf_kafka_producer_new(t->cfg, "test", NULL, NULL, &t->producer, &err),
        MF_E_OK);
    t->jobs = consumer(t, t->topics.jobs);
    t->dlq = consumer(t, t->topics.dlq);
    mf_service_metrics_init(&t->m);
    t->o = (struct mf_service_options){
        .config = t->cfg,
        .redis_url = mf_testredis_url(&t->redis),
        .keyring = t->kr,
        .scan_interval_ms = 100,
        .metrics = &t->m,
        .poll_ms = 20,
    };
    atomic_init(&t->stop, false);
    assert_int_equal(pthread_create(&t->thread, NULL, service, t), 0);
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    atomic_store(&t->stop, true);
    pthread_join(t->thread, NULL);
    assert_int_equal(t->run_rc, MF_E_OK);
    mf_kafka_consumer_free(&t->jobs);
    mf_kafka_consumer_free(&t->dlq);
    mf_kafka_producer_free(&t->producer);
    mf_config_free(&t->cfg);
    mf_kafka_mock_stop(&t->mock);
    mf_testredis_stop(&t->redis);
    free(t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The test's side: a batch, a worker's claims and results            */
/* ------------------------------------------------------------------ */

static void
seal(struct t *t, const char *batch, const char *email, const char *purpose,
     struct mf_batch_blob *b) {
    struct mf_error err = {0};
    assert_int_equal(
        mf_jobs_seal_blob(t->kr, batch, email, purpose, "pw", 2, b, &err),
        MF_E_OK);
}

static mf_err
keep_job(void *ud, const struct mf_batch_job *job) {
    *(struct mf_batch_job *)ud = *job;
    return MF_E_OK;
}

/* Creates batch with one mailbox email (max_attempts) and starts it: the
 * mailbox is Queued with attempt 1 of its full job, *job_r. */
static void
start_batch(struct t *t, const char *batch, const char *email,
            uint32_t max_attempts, struct mf_batch_job *job_r) {
    struct mf_batch_config c = {
        .name = (char *)batch,
        .source = "imap://src.example:143",
        .target = "imap://tgt.example:143",
        .max_attempts = max_attempts,
    };
    struct mf_batch_mailbox_cfg mb = {.email = (char *)email,
                                      .user = (char *)email};
    enum mf_batch_state st;
    struct mf_error err = {0};

    seal(t, batch, email, MF_JOBS_PURPOSE_SOURCE, &mb.password);
    seal(t, batch, email, MF_JOBS_PURPOSE_TARGET, &mb.target_password);
    if (mf_batch_create(t->r, &c, &mb, 1, &err))
        fail_msg("create %s: %s", batch, err.detail);
    mf_batch_blob_free(&mb.password);
    mf_batch_blob_free(&mb.target_password);
    memset(job_r, 0, sizeof(*job_r));
    assert_int_equal(mf_batch_begin_pass(t->r, batch, MF_BATCH_OP_START,
                                         keep_job, job_r, &st, &err),
                     MF_E_OK);
    assert_int_equal(job_r->attempt, 1);
}

static void
claim(struct t *t, const char *batch, const char *email,
      const struct mf_batch_job *job, int64_t ttl_ms) {
    char token[MF_BATCH_TOKEN_LEN + 1];
    struct mf_batch_lease lease;
    struct mf_error err = {0};

    mf_batch_claim_token(token);
    if (mf_batch_claim(t->r, batch, email, job->job_id, job->attempt, "w1",
                       token, ttl_ms, &lease, &err))
        fail_msg("claim %s attempt %u: %s", email, job->attempt, err.detail);
}

static void
publish_result(struct t *t, const char *batch, const char *email,
               const struct mf_batch_job *job, enum mf_outcome oc) {
    struct mf_envelope env;
    struct mf_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char *key = mf_envelope_key(batch, email);

    mf_envelope_init(&env, MF_ENVELOPE_RESULT, "test");
    env.result.batch = mf_xstrdup(batch);
    env.result.mailbox = mf_xstrdup(email);
    env.result.job_id = mf_xstrdup(job->job_id);
    env.result.attempt = job->attempt;
    env.result.worker = mf_xstrdup("w1");
    env.result.outcome = oc;
    if (oc == MF_OUTCOME_RETRY) {
        env.result.error_code = MF_E_THROTTLED;
        env.result.error_name = mf_xstrdup(mf_err_name(MF_E_THROTTLED));
        env.result.error_detail = mf_xstrdup("the test says so");
    }
    assert_int_equal(mf_envelope_pack(&env, &buf, &len, &err), MF_E_OK);
    assert_int_equal(mf_kafka_produce(t->producer, t->topics.results, key,
                                      strlen(key), buf, len, NULL, &err),
                     MF_E_OK);
    assert_int_equal(mf_kafka_producer_flush(t->producer, 5000, &err), MF_E_OK);
    free(buf);
    free(key);
    mf_envelope_clear(&env);
}

/* The next job envelope on c within timeout_ms: its mailbox and attempt
 * into the out parameters; false when none came. */
static bool
next_job(struct mf_kafka_consumer *c, int timeout_ms, char *email,
         size_t email_n, uint32_t *attempt_r) {
    double end = mf_monotonic_s() + timeout_ms / 1000.0;
    struct mf_kafka_message *m = NULL;
    struct mf_envelope env;
    struct mf_error err = {0};

    do {
        assert_int_equal(mf_kafka_consumer_poll(c, 20, &m, &err), MF_E_OK);
    } while (!m && mf_monotonic_s() < end);
    if (!m)
        return false;
    assert_int_equal(mf_envelope_unpack(m->value, m->value_len, 0, &env, &err),
                     MF_E_OK);
    assert_int_equal(env.body, MF_ENVELOPE_JOB);
    snprintf(email, email_n, "%s", env.job.mailbox);
    *attempt_r = env.job.attempt;
    mf_envelope_clear(&env);
    mf_kafka_message_free(&m);
    return true;
}

static void
expect_job(struct mf_kafka_consumer *c, const char *email, uint32_t attempt) {
    char got[MF_BATCH_EMAIL_MAX + 1];
    uint32_t a = 0;

    if (!next_job(c, WAIT_MS, got, sizeof(got), &a))
        fail_msg("no job for %s attempt %u", email, attempt);
    assert_string_equal(got, email);
    assert_int_equal(a, attempt);
}

static void
expect_no_job(struct mf_kafka_consumer *c) {
    char got[MF_BATCH_EMAIL_MAX + 1];
    uint32_t a = 0;

    if (next_job(c, 300, got, sizeof(got), &a))
        fail_msg("unexpected job for %s attempt %u", got, a);
}

static void
wait_counter(atomic_uint_fast64_t *v, uint64_t want, const char *what) {
    double end = mf_monotonic_s() + WAIT_MS / 1000.0;
    while (atomic_load(v) < want && mf_monotonic_s() < end)
        usleep(10000);
    if (atomic_load(v) != want)
        fail_msg("%s: %llu, want %llu", what,
                 (unsigned long long)atomic_load(v), (unsigned long long)want);
}

static struct mf_batch_mailbox *
mailbox(struct t *t, const char *batch, const char *email) {
    struct mf_batch_mailbox *m = NULL;
    struct mf_error err = {0};
    assert_int_equal(mf_batch_mailbox_get(t->r, batch, email, &m, &err),
                     MF_E_OK);
    return m;
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

/* RETRY -> attempt 2 produced; RETRY of the last attempt -> the DLQ and
 * the mailbox Failed; the same result again -> nothing. */
static void
test_retry_then_dead_letter(void **state) {
    struct t *t = *state;
    struct mf_batch_job job;
    struct mf_batch_mailbox *m;
    uint64_t applied = atomic_load(&t->m.results_applied);
    uint64_t ignored = atomic_load(&t->m.results_ignored);

    start_batch(t, "retry", "a@x.org", 2, &job);
    assert_int_equal(job.attempt, 1);
    claim(t, "retry", "a@x.org", &job, 60000);
    publish_result(t, "retry", "a@x.org", &job, MF_OUTCOME_RETRY);
    expect_job(t->jobs, "a@x.org", 2);
    assert_int_equal(atomic_load(&t->m.jobs_requeued), 1);
    m = mailbox(t, "retry", "a@x.org");
    assert_int_equal(m->state, MF_MAILBOX_QUEUED);
    assert_int_equal(m->attempt, 2);
    mf_batch_mailbox_free(&m);

    job.attempt = 2;
    claim(t, "retry", "a@x.org", &job, 60000);
    publish_result(t, "retry", "a@x.org", &job, MF_OUTCOME_RETRY);
    expect_job(t->dlq, "a@x.org", 2);
    expect_no_job(t->jobs);
    assert_int_equal(atomic_load(&t->m.jobs_dead_lettered), 1);
    m = mailbox(t, "retry", "a@x.org");
    assert_int_equal(m->state, MF_MAILBOX_FAILED);
    assert_int_equal(m->error_code, MF_E_THROTTLED);
    mf_batch_mailbox_free(&m);

    /* Delivered again (a crash before the commit): nothing changes. */
    publish_result(t, "retry", "a@x.org", &job, MF_OUTCOME_RETRY);
    wait_counter(&t->m.results_ignored, ignored + 1, "results_ignored");
    expect_no_job(t->jobs);
    expect_no_job(t->dlq);
    assert_int_equal(atomic_load(&t->m.results_applied), applied + 2);
    m = mailbox(t, "retry", "a@x.org");
    assert_int_equal(m->state, MF_MAILBOX_FAILED);
    mf_batch_mailbox_free(&m);
}

/* A RETRY applied before, whose next job may never have reached Kafka
 * (the mailbox still waits Queued for it): the duplicate produces it. */
static void
test_duplicate_retry_reproduces_lost_job(void **state) {
    struct t *t = *state;
    struct mf_batch_job job;
    uint64_t ignored = atomic_load(&t->m.results_ignored);

    start_batch(t, "lost", "b@x.org", 3, &job);
    claim(t, "lost", "b@x.org", &job, 60000);
    publish_result(t, "lost", "b@x.org", &job, MF_OUTCOME_RETRY);
    expect_job(t->jobs, "b@x.org", 2);
    publish_result(t, "lost", "b@x.org", &job, MF_OUTCOME_RETRY);
    wait_counter(&t->m.results_ignored, ignored + 1, "results_ignored");
    expect_job(t->jobs, "b@x.org", 2);
    expect_no_job(t->jobs);
}

/* A worker that claimed and died: once the claim's TTL has run out, the
 * scan requeues the mailbox with the next attempt and produces it. */
static void
test_expired_claim_requeued(void **state) {
    struct t *t = *state;
    struct mf_batch_job job;
    struct mf_batch_mailbox *m;
    uint64_t expired = atomic_load(&t->m.claims_expired);

    start_batch(t, "expiry", "c@x.org", 3, &job);
    claim(t, "expiry", "c@x.org", &job, 300);
    expect_job(t->jobs, "c@x.org", 2);
    wait_counter(&t->m.claims_expired, expired + 1, "claims_expired");
    m = mailbox(t, "expiry", "c@x.org");
    assert_int_equal(m->state, MF_MAILBOX_QUEUED);
    assert_int_equal(m->attempt, 2);
    assert_string_equal(m->claim_worker, "");
    mf_batch_mailbox_free(&m);
    expect_no_job(t->jobs);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_then_dead_letter),
        cmocka_unit_test(test_duplicate_retry_reproduces_lost_job),
        cmocka_unit_test(test_expired_claim_requeued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
