/*
 * Test-only stand-in for the coordinator, for the worker's integration
 * tests (worker_test.py). It talks to Redis and Kafka with the core
 * library, exactly as the real coordinator would, and nothing else:
 *
 *   keygen FILE            a master key file
 *   create OPTS --source URL --target URL --users 20,21,... [--bps N]
 *                          a batch of userNN@example.test mailboxes
 *                          (passwords pw-userNN, sealed per mailbox and
 *                          side), started: one job per mailbox produced
 *   start OPTS             `batch start` again (resume a Stopped batch)
 *   stop OPTS              `batch stop`
 *   garbage OPTS           a message on the jobs topic that does not unpack
 *   serve OPTS --timeout S --dump FILE
 *                          the results-folding loop: consumes results,
 *                          jobs and dead letters (raw values appended to
 *                          FILE, for the test's search for clear-text
 *                          passwords), applies progress and results to
 *                          the records, produces requeued jobs (RETRY
 *                          results, expired claims every second) and
 *                          prints one JSON line per event; exits 0 once
 *                          the batch has settled, 1 at the timeout
 *   states OPTS            one JSON line per mailbox record
 *
 * OPTS: --redis URL --kafka BOOTSTRAP --prefix P --key FILE --batch NAME
 */
#include "mailferry/batch.h"
#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/jobs.h"
#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ctx {
    const char *redis_url, *kafka, *prefix, *key, *batch;
    const char *source, *target, *users, *dump;
    uint64_t bps, timeout;
    struct mf_config *cfg;
    struct mf_redis *r;
    struct mf_crypto_keyring *kr;
    struct mf_kafka_topics topics;
    struct mf_kafka_producer *p;
};

static void
die(const char *what, const struct mf_error *err) {
    fprintf(stderr, "wtest_helper: %s: %s (%s)\n", what, err ? err->detail : "",
            err ? mf_err_name(err->code) : "");
    exit(1);
}

static const char *
arg(int argc, char **argv, const char *name) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static void
connect_all(struct ctx *c) {
    struct mf_error err = {0};

    if (!c->redis_url || !c->batch)
        die("--redis and --batch are required", NULL);
    if (mf_redis_connect(c->redis_url, 0, &c->r, &err))
        die("redis", &err);
    if (c->key && mf_crypto_keyring_load(c->key, &c->kr, &err))
        die("key", &err);
    if (!c->kafka)
        return;
    c->cfg = mf_config_new();
    mf_config_set_flag(c->cfg, "kafka", c->kafka);
    if (mf_kafka_topics_init(&c->topics, c->prefix, &err))
        die("topics", &err);
    if (mf_kafka_producer_new(c->cfg, "wtest_helper", NULL, NULL, &c->p, &err))
        die("producer", &err);
}

/* "user20@example.test" -> "pw-user20" (the dovecot fixture's rule). */
static char *
password_of(const char *email) {
    const char *at = strchr(email, '@');
    return mf_xasprintf("pw-%.*s", (int)(at ? at - email : 0), email);
}

/* A stored password blob for email and purpose, as `batch create` keeps. */
static void
seal_blob(struct ctx *c, const char *email, const char *purpose,
          struct mf_batch_blob *b) {
    struct mf_error err = {0};
    char *pw = password_of(email);

    if (mf_jobs_seal_blob(c->kr, c->batch, email, purpose, pw, strlen(pw), b,
                          &err))
        die("seal", &err);
    mf_wipe(pw, strlen(pw));
    free(pw);
}

static void
produce_job(struct ctx *c, const struct mf_batch_job *bj, const char *topic) {
    struct mf_envelope env;
    struct mf_error err = {0};
    uint8_t *buf;
    size_t len;
    char *key;

    struct mf_batch_config *cfg = NULL;
    struct mf_batch_mailbox_cfg mb = {0};

    /* Built as the coordinator builds it (mf_jobs_build()): sealed for
     * the job's logins, generation and endpoints. */
    mf_envelope_init(&env, MF_ENVELOPE_JOB, "wtest_helper");
    if (mf_batch_get(c->r, c->batch, &cfg, &err))
        die("batch get", &err);
    mb.email = (char *)bj->email;
    mb.user = (char *)bj->email;
    seal_blob(c, bj->email, "source", &mb.password);
    seal_blob(c, bj->email, "target", &mb.target_password);
    if (mf_jobs_build(c->kr, cfg, &mb, bj, &env.job, &err))
        die("build", &err);
    mf_batch_blob_free(&mb.password);
    mf_batch_blob_free(&mb.target_password);
    mf_batch_config_free(&cfg);
    if (mf_envelope_pack(&env, &buf, &len, &err))
        die("pack", &err);
    key = mf_envelope_key(c->batch, bj->email);
    if (mf_kafka_produce(c->p, topic ? topic : c->topics.jobs, key, strlen(key),
                         buf, len, NULL, &err))
        die("produce", &err);
    printf("{\"event\":\"job\",\"mailbox\":\"%s\",\"attempt\":%u,\"topic\":"
           "\"%s\"}\n",
           bj->email, bj->attempt, topic ? topic : c->topics.jobs);
    fflush(stdout);
    free(key);
    free(buf);
    mf_envelope_clear(&env);
}

static mf_err
on_job(void *ud, const struct mf_batch_job *job) {
    produce_job(ud, job, NULL);
    return MF_E_OK;
}

static void
flush(struct ctx *c) {
    struct mf_error err = {0};

    if (mf_kafka_producer_flush(c->p, 30000, &err))
        die("flush", &err);
}

static int
cmd_create(struct ctx *c) {
    struct mf_batch_config cfg = {0};
    struct mf_batch_mailbox_cfg mbs[64];
    char *emails[64];
    struct mf_error err = {0};
    enum mf_batch_state st;
    size_t n = 0;
    const char *p = c->users;

    while (p && *p && n < 64) {
        unsigned long u = strtoul(p, (char **)&p, 10);
        emails[n] = mf_xasprintf("user%02lu@example.test", u);
        memset(&mbs[n], 0, sizeof(mbs[n]));
        mbs[n].email = emails[n];
        mbs[n].user = emails[n];
        n++;
        if (*p == ',')
            p++;
    }
    cfg.name = (char *)c->batch;
    cfg.source = (char *)c->source;
    cfg.target = (char *)c->target;
    cfg.max_attempts = 5;
    cfg.source_caps.max_bytes_per_second = c->bps;
    if (mf_batch_create(c->r, &cfg, mbs, n, &err))
        die("create", &err);
    if (mf_batch_begin_pass(c->r, c->batch, MF_BATCH_OP_START, on_job, c, &st,
                            &err))
        die("start", &err);
    flush(c);
    for (size_t i = 0; i < n; i++)
        free(emails[i]);
    return 0;
}

static int
cmd_start(struct ctx *c) {
    struct mf_error err = {0};
    enum mf_batch_state st;

    if (mf_batch_begin_pass(c->r, c->batch, MF_BATCH_OP_START, on_job, c, &st,
                            &err))
        die("start", &err);
    flush(c);
    printf("{\"event\":\"started\",\"state\":\"%s\"}\n",
           mf_batch_state_name(st));
    return 0;
}

/* A message on the jobs topic that is no envelope at all. */
static int
cmd_garbage(struct ctx *c) {
    static const char junk[] = "\x0a\xff\xff not an envelope";
    struct mf_error err = {0};

    if (mf_kafka_produce(c->p, c->topics.jobs, "junk", 4, junk,
                         sizeof(junk) - 1, NULL, &err))
        die("produce", &err);
    flush(c);
    return 0;
}

static int
cmd_stop(struct ctx *c) {
    struct mf_error err = {0};
    enum mf_batch_state st;

    if (mf_batch_stop(c->r, c->batch, &st, &err))
        die("stop", &err);
    printf("{\"event\":\"stopped\",\"state\":\"%s\"}\n",
           mf_batch_state_name(st));
    return 0;
}

static mf_err
print_mb(void *ud, const struct mf_batch_mailbox *mb) {
    (void)ud;
    printf("{\"mailbox\":\"%s\",\"state\":\"%s\",\"attempt\":%u,\"worker\":"
           "\"%s\",\"copied\":%" PRIu64 ",\"source\":%" PRIu64
           ",\"error\":\"%s\"}\n",
           mb->cfg.email, mf_mailbox_state_name(mb->state), mb->attempt,
           mb->worker, mb->stats.messages_copied, mb->stats.messages_source,
           mb->error_name);
    return MF_E_OK;
}

static int
cmd_states(struct ctx *c) {
    struct mf_error err = {0};

    if (mf_batch_foreach_mailbox(c->r, c->batch, print_mb, NULL, &err))
        die("states", &err);
    return 0;
}

/* ------------------------------------------------------------------ */
/* serve                                                              */
/* ------------------------------------------------------------------ */

/* Redis may restart under a test: retry a call for up to a minute. */
#define RETRY(call, what)                                                      \
    do {                                                                       \
        int tries_ = 0;                                                        \
        while ((call) != MF_E_OK) {                                            \
            if (++tries_ > 60 || (err.code != MF_E_REDIS_UNAVAILABLE &&        \
                                  err.code != MF_E_REDIS))                     \
                die(what, &err);                                               \
            fprintf(stderr, "wtest_helper: %s: %s; retrying\n", what,          \
                    err.detail);                                               \
            sleep(1);                                                          \
        }                                                                      \
    } while (0)

/* Folded as the coordinator service folds it (batch/apply.c). */
static void
fold_result(struct ctx *c, const struct mf_result *res) {
    const struct mf_counters *k = &res->counters;
    struct mf_batch_applied ap;
    struct mf_error err = {0};

    memset(&ap, 0, sizeof(ap));
    RETRY(mf_batch_apply_envelope_result(c->r, res, &ap, &err), "apply result");
    printf("{\"event\":\"result\",\"mailbox\":\"%s\",\"attempt\":%u,"
           "\"outcome\":\"%s\",\"worker\":\"%s\",\"copied\":%" PRIu64
           ",\"present\":%" PRIu64 ",\"source\":%" PRIu64
           ",\"error\":\"%s\",\"detail\":\"%s\",\"applied\":%s,"
           "\"requeue\":%s}\n",
           res->mailbox, res->attempt, mf_outcome_name(res->outcome),
           res->worker, k->messages_copied, k->messages_already_present,
           k->messages_source, res->error_name,
           strchr(res->error_detail, '"') ? "?" : res->error_detail,
           ap.applied ? "true" : "false", ap.requeue ? "true" : "false");
    fflush(stdout);
    if (ap.applied && ap.requeue)
        produce_job(c, &ap.job, ap.dead ? c->topics.dlq : NULL);
}

static void
fold_progress(struct ctx *c, const struct mf_progress *p) {
    const struct mf_counters *k = &p->counters;
    struct mf_error err = {0};
    bool applied = false;

    RETRY(mf_batch_apply_envelope_progress(c->r, p, &applied, &err),
          "apply progress");
    printf("{\"event\":\"progress\",\"mailbox\":\"%s\",\"attempt\":%u,"
           "\"seq\":%" PRIu64 ",\"done\":%" PRIu64 ",\"worker\":\"%s\"}\n",
           p->mailbox, p->attempt, p->sequence,
           k->messages_copied + k->messages_already_present +
               k->messages_skipped_too_large + k->messages_failed,
           p->worker);
    fflush(stdout);
}

static mf_err
on_expired(void *ud, const struct mf_batch_expired *e) {
    struct ctx *c = ud;
    struct mf_batch_requeued q;
    struct mf_error err = {0};

    /* This harness folds every result as it comes: it is current. */
    if (mf_batch_requeue(c->r, c->batch, e->email, true, &q, &err)) {
        printf("{\"event\":\"requeue_skipped\",\"mailbox\":\"%s\",\"why\":"
               "\"%s\"}\n",
               e->email, mf_err_name(err.code));
        return MF_E_OK;
    }
    printf("{\"event\":\"expired\",\"mailbox\":\"%s\",\"worker\":\"%s\","
           "\"attempt\":%u,\"next\":%u,\"dead\":%s}\n",
           e->email, e->worker, e->attempt, q.job.attempt,
           q.dead ? "true" : "false");
    if (q.job.attempt)
        produce_job(c, &q.job, q.dead ? c->topics.dlq : NULL);
    return MF_E_OK;
}

static bool
settled(struct ctx *c, enum mf_batch_state *st_r) {
    struct mf_batch_config *cfg = NULL;
    struct mf_error err = {0};
    bool done;

    RETRY(mf_batch_get(c->r, c->batch, &cfg, &err), "get");
    *st_r = cfg->state;
    done =
        !mf_batch_state_running(cfg->state) && cfg->state != MF_BATCH_CREATED;
    mf_batch_config_free(&cfg);
    return done;
}

static int
cmd_serve(struct ctx *c) {
    struct mf_kafka_consumer *cons = NULL;
    struct mf_kafka_consumer_params cp = {0};
    const char *topics[3];
    char group[64];
    struct mf_error err = {0};
    FILE *dump = NULL;
    time_t end = time(NULL) + (time_t)c->timeout, next_scan = 0;
    enum mf_batch_state st = MF_BATCH_CREATED;
    int code = 1;

    if (c->dump && !(dump = fopen(c->dump, "ab")))
        die("dump file", NULL);
    topics[0] = c->topics.results;
    topics[1] = c->topics.jobs;
    topics[2] = c->topics.dlq;
    snprintf(group, sizeof(group), "wtest-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    cp.client_id = "wtest_helper";
    cp.group_id = group;
    cp.topics = topics;
    cp.ntopics = 3;
    if (mf_kafka_consumer_new(c->cfg, &cp, &cons, &err))
        die("consumer", &err);
    while (time(NULL) < end) {
        struct mf_kafka_message *m = NULL;
        struct mf_envelope env;

        if (time(NULL) >= next_scan) {
            next_scan = time(NULL) + 1;
            RETRY(mf_batch_expired_claims(c->r, c->batch, on_expired, c, &err),
                  "expired");
            flush(c);
            if (settled(c, &st)) {
                code = 0;
                break;
            }
        }
        if (mf_kafka_consumer_poll(cons, 200, &m, &err) != MF_E_OK || !m)
            continue;
        if (dump) {
            fwrite(m->value, 1, m->value_len, dump);
            fputc('\n', dump);
            fflush(dump);
        }
        if (strcmp(m->topic, c->topics.dlq) == 0) {
            printf("{\"event\":\"dlq\",\"bytes\":%zu}\n", m->value_len);
            fflush(stdout);
        }
        if (strcmp(m->topic, c->topics.results) == 0 &&
            mf_envelope_unpack(m->value, m->value_len, 0, &env, &err) ==
                MF_E_OK) {
            bool ours =
                strcmp(env.body == MF_ENVELOPE_RESULT ? env.result.batch
                                                      : env.progress.batch,
                       c->batch) == 0;
            if (ours && env.body == MF_ENVELOPE_RESULT)
                fold_result(c, &env.result);
            else if (ours && env.body == MF_ENVELOPE_PROGRESS)
                fold_progress(c, &env.progress);
            mf_envelope_clear(&env);
            flush(c);
        }
        mf_kafka_message_free(&m);
    }
    printf("{\"event\":\"end\",\"state\":\"%s\",\"settled\":%s}\n",
           mf_batch_state_name(st), code == 0 ? "true" : "false");
    mf_kafka_consumer_free(&cons);
    if (dump)
        fclose(dump);
    return code;
}

int
main(int argc, char **argv) {
    struct ctx c = {0};
    const char *v;
    struct mf_error err = {0};
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        die("usage: wtest_helper keygen|create|start|stop|serve|states ...",
            NULL);
    if (strcmp(argv[1], "keygen") == 0) {
        if (argc < 3 || mf_crypto_keyfile_generate(
                            argv[2], "wtest", MF_CRYPTO_KEYFILE_CREATE, &err))
            die("keygen", &err);
        return 0;
    }
    c.redis_url = arg(argc, argv, "--redis");
    c.kafka = arg(argc, argv, "--kafka");
    c.prefix = arg(argc, argv, "--prefix");
    c.key = arg(argc, argv, "--key");
    c.batch = arg(argc, argv, "--batch");
    c.source = arg(argc, argv, "--source");
    c.target = arg(argc, argv, "--target");
    c.users = arg(argc, argv, "--users");
    c.dump = arg(argc, argv, "--dump");
    c.timeout =
        (v = arg(argc, argv, "--timeout")) ? strtoull(v, NULL, 10) : 120;
    c.bps = (v = arg(argc, argv, "--bps")) ? strtoull(v, NULL, 10) : 0;
    connect_all(&c);
    if (strcmp(argv[1], "create") == 0)
        rc = cmd_create(&c);
    else if (strcmp(argv[1], "start") == 0)
        rc = cmd_start(&c);
    else if (strcmp(argv[1], "garbage") == 0)
        rc = cmd_garbage(&c);
    else if (strcmp(argv[1], "stop") == 0)
        rc = cmd_stop(&c);
    else if (strcmp(argv[1], "serve") == 0)
        rc = cmd_serve(&c);
    else if (strcmp(argv[1], "states") == 0)
        rc = cmd_states(&c);
    else
        die("unknown command", NULL);
    fflush(stdout);
    if (c.p)
        mf_kafka_producer_free(&c.p);
    mf_crypto_keyring_free(&c.kr);
    mf_config_free(&c.cfg);
    mf_redis_free(&c.r);
    return rc;
}
