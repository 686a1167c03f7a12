/*
 * coord_helper: the Kafka and Redis side of the coordinator tests, driven
 * by coordinator_test.py (Python has no Kafka client in Debian's stdlib).
 *
 *   coord_helper COMMON jobs N [--dlq] [--open KEYFILE]
 *       consumes N job envelopes from <prefix>.jobs (or .jobs.dlq) in a
 *       private group and prints one JSON line per job: ids, logins, the
 *       raw message in hex (so the test can look for clear passwords) and,
 *       with --open, whether each sealed password opens for its mailbox
 *       and purpose and what it holds (the test compares it).
 *   coord_helper COMMON worker N [--outcome O] [--die-after-claim]
 *                [--lose-result] [--ttl-ms T] [--messages M] [--worker ID]
 *       a fake worker: consumes jobs (group "<prefix>-workers"),
 *       claims each (mf_batch_claim), commits, publishes a progress and a
 *       result with outcome O (synced) and releases the claim; with
 *       --die-after-claim it claims and exits without a result (a worker
 *       killed mid-job); with --lose-result it releases the claim as
 *       finished without publishing the result (a result lost on its
 *       way to the service). Stops after N jobs it claimed.
 *   coord_helper COMMON result BATCH MAILBOX JOB_ID ATTEMPT OUTCOME [--dup]
 *       publishes one result (twice with --dup).
 *   coord_helper COMMON produce KEY HEX
 *       produces the raw message HEX (a captured job's raw_hex) with KEY
 *       to <prefix>.jobs, as anyone who can write to the topic could.
 *
 * COMMON: --kafka BOOTSTRAP --redis URL --topic-prefix P [--timeout S].
 * Exit 0 on success, 1 when fewer messages came than asked for within the
 * timeout, 2 on a usage error.
 */
#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/json.h"
#include "mailferry/kafka.h"
#include "mailferry/jobs.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
    const char *kafka, *redis, *prefix, *open_key, *outcome, *worker;
    int timeout;
    bool dlq, die_after_claim, lose_result, dup;
    long ttl_ms;
    uint64_t messages;
    const char *pos[8];
    int npos;
};

static struct mf_config *
kafka_config(const struct opts *o) {
    struct mf_config *c = mf_config_new();
    mf_config_set_flag(c, "kafka", o->kafka);
    mf_config_set_flag(c, "topic-prefix", o->prefix);
    mf_config_set_flag(c, "kafka.session.timeout.ms", "6000");
    mf_config_set_flag(c, "kafka.allow.auto.create.topics", "true");
    /* Every partition at once, from the group's committed offsets, as the
     * embedded default's worker takes them: no group to join, so no 3 s
     * of the dev broker's initial rebalance delay per command. The fake
     * workers of a case run one after another, so nobody shares the
     * partitions; the real worker's group is mailferry-worker's to test
     * (integration.worker.*, integration.e2e.*). */
    mf_config_set_flag(c, "kafka-assign", "all");
    return c;
}

static void
hex(struct mf_buf *b, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        mf_buf_appendf(b, "%02x", p[i]);
}

static bool
opens(const struct mf_crypto_keyring *kr, const struct mf_batch_config *cfg,
      const struct mf_job *job, const char *purpose) {
    struct mf_crypto_secret *s = NULL;
    struct mf_error err = {0};
    bool ok = mf_jobs_open_secret(kr, cfg, job, purpose, &s, &err) == MF_E_OK;

    mf_crypto_secret_free(&s);
    return ok;
}

/* Issue 17 item 2: each field of the envelope that says where and as whom
 * the secret is used is changed in turn (as anyone who can produce to the
 * jobs topic could) and the secret must no longer open. */
static void
tampered(struct mf_json *j, const struct mf_crypto_keyring *kr,
         const struct mf_batch_config *cfg, const struct mf_job *job,
         const char *purpose) {
    static const char *const fields[] = {
        "login",  "authzid", "oauth",    "generation", "source_url",
        "target", "ca_file", "insecure", "user_root"};
    bool src = strcmp(purpose, "source") == 0;

    mf_json_key(j, "opens_tampered");
    mf_json_object_begin(j);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        struct mf_job t = *job; /* shallow: nothing here is freed */
        struct mf_batch_config c = *cfg;
        struct mf_job_credentials *cr = src ? &t.source : &t.target;
        switch (i) {
        case 0:
            cr->login = "admin@example.test";
            break;
        case 1:
            cr->authorization_id = "ceo@example.test";
            break;
        case 2:
            cr->oauth = !cr->oauth;
            break;
        case 3:
            t.batch_generation++;
            break;
        case 4:
            c.source = "imaps://evil.example:993";
            break;
        case 5:
            c.target = "imaps://evil.example:993";
            break;
        case 6:
            c.ca_file = "/tmp/evil-ca.pem";
            break;
        case 7:
            c.insecure = !c.insecure;
            break;
        case 8:
            t.user_root = "shared/ceo@example.test";
            break;
        }
        mf_json_key(j, fields[i]);
        mf_json_bool(j, opens(kr, &c, &t, purpose));
    }
    mf_json_object_end(j);
}

static void
open_one(struct mf_json *j, const struct mf_crypto_keyring *kr,
         const struct mf_batch_config *cfg, const struct mf_job *job,
         const char *purpose, const char *key) {
    const struct mf_job_credentials *c =
        strcmp(purpose, "source") == 0 ? &job->source : &job->target;
    struct mf_crypto_secret *s = NULL;
    struct mf_error err = {0};

    mf_json_key(j, key);
    if (!c->has_password || !cfg) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    if (mf_jobs_open_secret(kr, cfg, job, purpose, &s, &err) == MF_E_OK) {
        mf_json_key(j, "opens"), mf_json_bool(j, true);
        char *copy = mf_xstrndup((const char *)s->data, s->len);
        mf_json_key(j, "secret"), mf_json_string(j, copy);
        free(copy);
        mf_crypto_secret_free(&s);
    } else {
        mf_json_key(j, "opens"), mf_json_bool(j, false);
        mf_json_key(j, "error"), mf_json_string(j, err.detail);
    }
    /* Bound to the purpose: it must not open as the other side's. */
    {
        struct mf_job t = *job;
        bool src = strcmp(purpose, "source") == 0;
        if (src)
            t.target = job->source;
        else
            t.source = job->target;
        mf_json_key(j, "opens_as_other_purpose");
        mf_json_bool(j, opens(kr, cfg, &t, src ? "target" : "source"));
        t = *job;
        t.mailbox = "other@example.test";
        mf_json_key(j, "opens_for_other_mailbox");
        mf_json_bool(j, opens(kr, cfg, &t, purpose));
    }
    tampered(j, kr, cfg, job, purpose);
    mf_json_object_end(j);
}

static void
print_job(const struct mf_job *job, const struct mf_kafka_message *m,
          const struct mf_crypto_keyring *kr, struct mf_redis *r) {
    struct mf_buf b = {0};
    struct mf_json j;

    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_key(&j, "batch"), mf_json_string(&j, job->batch);
    mf_json_key(&j, "mailbox"), mf_json_string(&j, job->mailbox);
    mf_json_key(&j, "job_id"), mf_json_string(&j, job->job_id);
    mf_json_key(&j, "attempt"), mf_json_u64(&j, job->attempt);
    mf_json_key(&j, "pass"), mf_json_u64(&j, job->pass);
    mf_json_key(&j, "kind"), mf_json_string(&j, mf_job_kind_name(job->kind));
    mf_json_key(&j, "source_login"), mf_json_string(&j, job->source.login);
    mf_json_key(&j, "source_authzid"),
        mf_json_string(&j, job->source.authorization_id);
    mf_json_key(&j, "target_login"), mf_json_string(&j, job->target.login);
    mf_json_key(&j, "target_authzid"),
        mf_json_string(&j, job->target.authorization_id);
    {
        char *key = mf_xstrndup(m->key ? (const char *)m->key : "",
                                m->key ? m->key_len : 0);
        mf_json_key(&j, "key"), mf_json_string(&j, key);
        free(key);
    }
    if (kr) {
        /* The configuration a worker would run the job with. */
        struct mf_batch_config *cfg = NULL;
        struct mf_error err = {0};
        if (mf_batch_get(r, job->batch, &cfg, &err) != MF_E_OK)
            fprintf(stderr, "coord_helper: batch %s: %s\n", job->batch,
                    err.detail);
        open_one(&j, kr, cfg, job, "source", "source_password");
        open_one(&j, kr, cfg, job, "target", "target_password");
        mf_batch_config_free(&cfg);
    }
    mf_json_key(&j, "raw_hex");
    {
        struct mf_buf h = {0};
        hex(&h, m->value, m->value_len);
        mf_json_string(&j, h.data ? (char *)h.data : "");
        mf_buf_free(&h);
    }
    mf_json_object_end(&j);
    printf("%s\n", (char *)b.data);
    fflush(stdout);
    mf_buf_free(&b);
}

static struct mf_kafka_consumer *
consumer(const struct opts *o, struct mf_config *cfg, const char *topic,
         const char *group) {
    struct mf_kafka_consumer *c = NULL;
    struct mf_error err = {0};
    const char *topics[1] = {topic};
    struct mf_kafka_consumer_params p = {.client_id = "coord-helper",
                                         .group_id = group,
                                         .topics = topics,
                                         .ntopics = 1};
    (void)o;
    if (mf_kafka_consumer_new(cfg, &p, &c, &err)) {
        fprintf(stderr, "coord_helper: consumer: %s\n", err.detail);
        exit(3);
    }
    return c;
}

static int
cmd_jobs(const struct opts *o, long n) {
    struct mf_config *cfg = kafka_config(o);
    struct mf_kafka_topics t;
    struct mf_error err = {0};
    struct mf_crypto_keyring *kr = NULL;
    struct mf_redis *r = NULL;
    struct mf_kafka_consumer *c;
    char group[64];
    double end = mf_monotonic_s() + o->timeout;
    long got = 0;

    if (mf_kafka_topics_from_config(cfg, &t, &err))
        return 3;
    if (o->open_key && (mf_crypto_keyring_load(o->open_key, &kr, &err) ||
                        mf_redis_connect(o->redis, 0, &r, &err))) {
        fprintf(stderr, "coord_helper: %s\n", err.detail);
        return 3;
    }
    snprintf(group, sizeof(group), "coord-helper-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    c = consumer(o, cfg, o->dlq ? t.dlq : t.jobs, group);
    while (got < n && mf_monotonic_s() < end) {
        struct mf_kafka_message *m = NULL;
        struct mf_envelope env;
        if (mf_kafka_consumer_poll(c, 500, &m, &err) || !m)
            continue;
        if (mf_envelope_unpack(m->value, m->value_len, 0, &env, &err) ==
            MF_E_OK) {
            if (env.body == MF_ENVELOPE_JOB) {
                print_job(&env.job, m, kr, r);
                got++;
            }
            mf_envelope_clear(&env);
        }
        mf_kafka_message_free(&m);
    }
    mf_kafka_consumer_free(&c);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&r);
    mf_config_free(&cfg);
    return got == n ? 0 : 1;
}

static enum mf_outcome
outcome(const char *s) {
    if (!strcmp(s, "synced"))
        return MF_OUTCOME_SYNCED;
    if (!strcmp(s, "failed"))
        return MF_OUTCOME_FAILED;
    if (!strcmp(s, "stopped"))
        return MF_OUTCOME_STOPPED;
    if (!strcmp(s, "retry"))
        return MF_OUTCOME_RETRY;
    fprintf(stderr, "coord_helper: unknown outcome %s\n", s);
    exit(2);
}

static void
publish(struct mf_kafka_producer *p, const struct mf_kafka_topics *t,
        struct mf_envelope *env, const char *batch, const char *mailbox) {
    struct mf_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char *key = mf_envelope_key(batch, mailbox);

    if (mf_envelope_pack(env, &buf, &len, &err) ||
        mf_kafka_produce(p, t->results, key, strlen(key), buf, len, NULL,
                         &err) ||
        mf_kafka_producer_flush(p, 30000, &err)) {
        fprintf(stderr, "coord_helper: publish: %s\n", err.detail);
        exit(3);
    }
    free(buf);
    free(key);
}

static void
publish_result(struct mf_kafka_producer *p, const struct mf_kafka_topics *t,
               const char *batch, const char *mailbox, const char *job_id,
               uint32_t attempt, const char *worker, enum mf_outcome oc,
               uint64_t messages) {
    struct mf_envelope env;
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;

    mf_envelope_init(&env, MF_ENVELOPE_RESULT, "coord-helper");
    env.result.batch = mf_xstrdup(batch);
    env.result.mailbox = mf_xstrdup(mailbox);
    env.result.job_id = mf_xstrdup(job_id);
    env.result.attempt = attempt;
    env.result.worker = mf_xstrdup(worker);
    env.result.outcome = oc;
    env.result.counters.messages_source = messages;
    env.result.counters.bytes_source = messages * 1000;
    env.result.counters.folders_total = 3;
    env.result.counters.folders_done = 3;
    if (oc == MF_OUTCOME_SYNCED) {
        env.result.counters.messages_copied = messages;
        env.result.counters.bytes_copied = messages * 1000;
    }
    if (oc == MF_OUTCOME_FAILED || oc == MF_OUTCOME_RETRY) {
        env.result.error_code =
            oc == MF_OUTCOME_FAILED ? MF_E_AUTH : MF_E_THROTTLED;
        env.result.error_name = mf_xstrdup(mf_err_name(env.result.error_code));
        env.result.error_detail = mf_xstrdup("fake worker says so");
    }
    env.result.started_at_ms = now_ms - 2000;
    env.result.finished_at_ms = now_ms;
    publish(p, t, &env, batch, mailbox);
    mf_envelope_clear(&env);
}

static int
cmd_result(const struct opts *o) {
    struct mf_config *cfg = kafka_config(o);
    struct mf_kafka_topics t;
    struct mf_kafka_producer *p = NULL;
    struct mf_error err = {0};
    uint64_t attempt;

    if (o->npos != 6 || !mf_parse_u64(o->pos[4], 1, 1000, &attempt))
        return 2;
    if (mf_kafka_topics_from_config(cfg, &t, &err) ||
        mf_kafka_producer_new(cfg, "coord-helper", NULL, NULL, &p, &err))
        return 3;
    for (int i = 0; i < (o->dup ? 2 : 1); i++)
        publish_result(p, &t, o->pos[1], o->pos[2], o->pos[3],
                       (uint32_t)attempt, o->worker, outcome(o->pos[5]),
                       o->messages);
    mf_kafka_producer_free(&p);
    mf_config_free(&cfg);
    return 0;
}

static int
cmd_produce(const struct opts *o) {
    struct mf_config *cfg = kafka_config(o);
    struct mf_kafka_topics t;
    struct mf_kafka_producer *p = NULL;
    struct mf_error err = {0};
    const char *key = o->npos == 3 ? o->pos[1] : "", *h = o->pos[2];
    size_t n = o->npos == 3 ? strlen(h) / 2 : 0;
    uint8_t *buf = mf_xcalloc(n + 1, 1);
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        char byte[3] = {h[2 * i], h[2 * i + 1], '\0'};
        char *end = NULL;
        buf[i] = (uint8_t)strtoul(byte, &end, 16);
        if (end != byte + 2)
            n = 0;
    }
    if (n == 0)
        rc = 2;
    else if (mf_kafka_topics_from_config(cfg, &t, &err) ||
             mf_kafka_producer_new(cfg, "coord-helper", NULL, NULL, &p, &err) ||
             mf_kafka_produce(p, t.jobs, key, strlen(key), buf, n, NULL,
                              &err) ||
             mf_kafka_producer_flush(p, 30000, &err)) {
        fprintf(stderr, "coord_helper: produce: %s\n", err.detail);
        rc = 3;
    }
    mf_kafka_producer_free(&p);
    mf_config_free(&cfg);
    free(buf);
    return rc;
}

static int
cmd_worker(const struct opts *o, long n) {
    struct mf_config *cfg = kafka_config(o);
    struct mf_kafka_topics t;
    struct mf_kafka_producer *p = NULL;
    struct mf_kafka_consumer *c;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    double end = mf_monotonic_s() + o->timeout;
    long got = 0;

    if (mf_kafka_topics_from_config(cfg, &t, &err) ||
        mf_kafka_producer_new(cfg, "coord-helper", NULL, NULL, &p, &err) ||
        mf_redis_connect(o->redis, 0, &r, &err)) {
        fprintf(stderr, "coord_helper: %s\n", err.detail);
        return 3;
    }
    {
        /* One group per topic prefix: cases running side by side must
         * not rebalance each other's fake workers. */
        char group[300];
        snprintf(group, sizeof(group), "%s-workers", o->prefix);
        c = consumer(o, cfg, t.jobs, group);
    }
    while (got < n && mf_monotonic_s() < end) {
        struct mf_kafka_message *m = NULL;
        struct mf_envelope env;
        struct mf_batch_lease lease;
        mf_err rc;

        if (mf_kafka_consumer_poll(c, 500, &m, &err) || !m)
            continue;
        if (mf_envelope_unpack(m->value, m->value_len, 0, &env, &err) ||
            env.body != MF_ENVELOPE_JOB) {
            mf_kafka_message_free(&m);
            continue;
        }
        rc = mf_batch_claim(r, env.job.batch, env.job.mailbox, env.job.job_id,
                            env.job.attempt, o->worker, NULL, o->ttl_ms, &lease,
                            &err);
        /* Claim, then commit. */
        if (mf_kafka_consumer_commit(c, m, &err))
            fprintf(stderr, "coord_helper: commit: %s\n", err.detail);
        printf("{\"job_id\":\"%s\",\"attempt\":%u,\"claimed\":%s}\n",
               env.job.job_id, env.job.attempt, rc ? "false" : "true");
        fflush(stdout);
        if (rc == MF_E_OK) {
            got++;
            if (o->lose_result) {
                /* At once: the claim's TTL is short in these tests. */
                if (mf_batch_release(r, &lease, true, &err))
                    fprintf(stderr, "coord_helper: release: %s\n", err.detail);
            } else if (!o->die_after_claim) {
                struct mf_envelope pe;
                mf_envelope_init(&pe, MF_ENVELOPE_PROGRESS, "coord-helper");
                pe.progress.batch = mf_xstrdup(env.job.batch);
                pe.progress.mailbox = mf_xstrdup(env.job.mailbox);
                pe.progress.job_id = mf_xstrdup(env.job.job_id);
                pe.progress.attempt = env.job.attempt;
                pe.progress.worker = mf_xstrdup(o->worker);
                pe.progress.current_folder = mf_xstrdup("INBOX");
                pe.progress.counters.messages_source = o->messages;
                pe.progress.counters.messages_copied = o->messages / 2;
                pe.progress.sequence = 1;
                publish(p, &t, &pe, env.job.batch, env.job.mailbox);
                mf_envelope_clear(&pe);
                publish_result(p, &t, env.job.batch, env.job.mailbox,
                               env.job.job_id, env.job.attempt, o->worker,
                               outcome(o->outcome), o->messages);
                if (mf_batch_release(r, &lease, true, &err))
                    fprintf(stderr, "coord_helper: release: %s\n", err.detail);
            }
        }
        mf_envelope_clear(&env);
        mf_kafka_message_free(&m);
    }
    mf_kafka_consumer_free(&c);
    mf_kafka_producer_free(&p);
    mf_redis_free(&r);
    mf_config_free(&cfg);
    return got == n ? 0 : 1;
}

int
main(int argc, char **argv) {
    struct opts o = {.timeout = 60,
                     .outcome = "synced",
                     .worker = "fake-worker",
                     .ttl_ms = 30000,
                     .messages = 10};
    long n = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--kafka") && v)
            o.kafka = v, i++;
        else if (!strcmp(a, "--redis") && v)
            o.redis = v, i++;
        else if (!strcmp(a, "--topic-prefix") && v)
            o.prefix = v, i++;
        else if (!strcmp(a, "--timeout") && v)
            o.timeout = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--open") && v)
            o.open_key = v, i++;
        else if (!strcmp(a, "--outcome") && v)
            o.outcome = v, i++;
        else if (!strcmp(a, "--worker") && v)
            o.worker = v, i++;
        else if (!strcmp(a, "--ttl-ms") && v)
            o.ttl_ms = strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--messages") && v)
            o.messages = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--dlq"))
            o.dlq = true;
        else if (!strcmp(a, "--dup"))
            o.dup = true;
        else if (!strcmp(a, "--die-after-claim"))
            o.die_after_claim = true;
        else if (!strcmp(a, "--lose-result"))
            o.lose_result = true;
        else if (o.npos < 8)
            o.pos[o.npos++] = a;
    }
    if (!o.kafka || !o.redis || !o.prefix || o.npos < 1) {
        fprintf(stderr, "usage: coord_helper --kafka B --redis URL "
                        "--topic-prefix P jobs|worker|result ...\n");
        return 2;
    }
    if (o.npos >= 2)
        n = strtol(o.pos[1], NULL, 10);
    if (!strcmp(o.pos[0], "jobs"))
        return cmd_jobs(&o, n);
    if (!strcmp(o.pos[0], "worker"))
        return cmd_worker(&o, n);
    if (!strcmp(o.pos[0], "result"))
        return cmd_result(&o);
    if (!strcmp(o.pos[0], "produce"))
        return cmd_produce(&o);
    return 2;
}
