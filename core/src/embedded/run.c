/*
 * `mailferry migrate` as the embedded default (docs/design.md §9): the whole
 * pipeline in one process, with nothing to set up. It starts
 *
 *   - a private redis-server child (unless --redis names a shared one),
 *   - librdkafka's mock cluster as the Kafka,
 *   - the coordinator service (mf_service_run) in a thread,
 *   - a worker (mf_worker_run) with --concurrency slots in a thread,
 *
 * creates the batch from the CSV exactly as `batch create` does (the same
 * options: the program's define callback), begins a pass as `batch start` does,
 * and waits until the batch settles, printing a line per mailbox as it
 * finishes. Ctrl-C is `batch stop`: every mailbox stops at a message boundary
 * with a checkpoint, and the run ends Stopped. Then it writes the report.
 *
 * Passwords are sealed with a key made for this run (or the one of
 * --master-key-file) and wiped when the run ends; with a shared --redis and
 * --batch NAME and the same key file, a second run is an incremental pass
 * of the same batch: only new messages, flag changes carried over.
 */
#include "mailferry/batch.h"
#include "mailferry/batchdef.h"
#include "mailferry/crypto.h"
#include "mailferry/embedded.h"
#include "mailferry/jobs.h"
#include "mailferry/kafka.h"
#include "mailferry/log.h"
#include "mailferry/progress.h"
#include "mailferry/report.h"
#include "mailferry/service.h"
#include "mailferry/util.h"
#include "mailferry/worker.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long the jobs' producer may take to learn its topic (run_threads()). */
#define JOBS_WARM_MS 5000

struct threads {
    struct mf_service_options so;
    struct mf_worker_options wo;
    struct mf_worker_stats wstats;
    atomic_bool svc_stop, wrk_stop;
    struct mf_error svc_err, wrk_err;
    mf_err svc_rc, wrk_rc;
    pthread_t svc, wrk;
    bool svc_started, wrk_started;
};

static void *
service_main(void *arg) {
    struct threads *t = arg;
    t->svc_rc = mf_service_run(&t->so, &t->svc_stop, &t->svc_err);
    return NULL;
}

static void *
worker_main(void *arg) {
    struct threads *t = arg;
    t->wrk_rc = mf_worker_run(&t->wo, &t->wrk_stop, &t->wstats, &t->wrk_err);
    return NULL;
}

/* A key for this run only: never written anywhere. */
static mf_err
ephemeral_keyring(struct mf_crypto_keyring **kr_r, struct mf_error *err) {
    unsigned char key[32], b64[64];
    char text[96];
    int n;
    mf_err rc;

    if (RAND_bytes(key, sizeof(key)) != 1)
        return mf_error_set(err, MF_E_CRYPTO, "no random bytes for a key");
    n = EVP_EncodeBlock(b64, key, sizeof(key));
    snprintf(text, sizeof(text), "run:%.*s\n", n, (const char *)b64);
    rc = mf_crypto_keyring_parse(text, strlen(text), kr_r, err);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(b64, sizeof(b64));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

/* ------------------------------------------------------------------ */
/* Waiting and printing                                                */
/* ------------------------------------------------------------------ */

struct watch {
    bool json;
    uint8_t *printed; /* per mailbox index */
    size_t n;
    size_t idx;
    struct mf_progress_view *view; /* NULL: no progress shown */
};

static const char *
mailbox_word(enum mf_mailbox_state st) {
    switch (st) {
    case MF_MAILBOX_SYNCED:
    case MF_MAILBOX_COMPLETED:
        return "ok";
    case MF_MAILBOX_STOPPED:
        return "STOP";
    case MF_MAILBOX_FAILED:
        return "FAIL";
    default:
        return "";
    }
}

static void
print_mailbox(const struct mf_batch_mailbox *mb) {
    const struct mf_migrate_stats *s = &mb->stats;
    char extras[256];

    mf_report_stats_extras(s, extras, sizeof(extras));
    printf(
        "%-6s %s: folders %u, messages %llu, copied %llu (%.1f MB), "
        "already there %llu, skipped %llu (too large %llu), failed %llu, "
        "flags updated %llu, %.1f s, %.0f msgs/s, attempts %u%s\n",
        mailbox_word(mb->state), mb->cfg.email, s->folders_copied,
        (unsigned long long)s->messages_source,
        (unsigned long long)s->messages_copied, (double)s->bytes_copied / 1e6,
        (unsigned long long)s->messages_present,
        (unsigned long long)mf_report_stats_skipped(s),
        (unsigned long long)s->skipped_too_large, (unsigned long long)s->failed,
        (unsigned long long)s->flags_updated, s->seconds,
        s->seconds > 0.001 ? (double)s->messages_copied / s->seconds : 0.0,
        mb->attempts_total, extras);
    if (mb->error_code)
        printf("       error %d %s: %s\n", mb->error_code, mb->error_name,
               mb->error_detail);
    fflush(stdout);
}

static mf_err
on_mailbox(void *ud, const struct mf_batch_mailbox *mb) {
    struct watch *w = ud;
    size_t i = w->idx++;

    if (i >= w->n) {
        w->printed = mf_xrealloc(w->printed, i + 1);
        memset(w->printed + w->n, 0, i + 1 - w->n);
        w->n = i + 1;
    }
    if (mf_mailbox_state_final(mb->state)) {
        if (!w->printed[i] && !w->json) {
            /* Above the display, which the next update draws again. */
            if (w->view)
                mf_progress_view_clear(w->view);
            print_mailbox(mb);
        }
        w->printed[i] = 1;
    }
    return MF_E_OK;
}

static bool
batch_settled(enum mf_batch_state st) {
    return !mf_batch_state_running(st) && st != MF_BATCH_CREATED;
}

/* Waits until the batch settles; Ctrl-C (stop) stops the batch once. */
static mf_err
wait_batch(struct mf_redis *r, const char *name, const atomic_bool *stop,
           atomic_bool *worker_stop, struct watch *w,
           enum mf_batch_state *state_r, struct mf_error *err) {
    struct mf_progress_snapshot snap = {0};
    bool stopping = false;
    time_t last = 0;
    uint64_t started = mf_monotonic_ms();
    mf_err rc = MF_E_OK;

    for (;;) {
        /* The batch's state is one HGET. Read every 20 ms for the first
         * two seconds, it tells the end of a short pass (a no-op one) at
         * once; after that every 100 ms: a longer pass ends at most 80 ms
         * later, and a copy no longer pays 50 Redis round trips a second
         * for it (a fifth of those of a 20 x 500 copy). */
        long ms = mf_monotonic_ms() - started < 2000 ? 20 : 100;
        struct timespec tick = {0, ms * 1000 * 1000};
        enum mf_batch_state st;

        if (atomic_load(stop) && !stopping) {
            enum mf_batch_state s2;
            stopping = true;
            if (w->view && w->view->tty) {
                mf_progress_view_clear(w->view);
                fprintf(stderr, "stopping at the next message boundary...\n");
            }
            if ((rc = mf_batch_stop(r, name, &s2, err)) && rc != MF_E_STATE)
                break;
            /* The worker stops its jobs at a message boundary now and
             * reports them Stopped; the service folds that in. */
            atomic_store(worker_stop, true);
        }
        if ((rc = mf_batch_state_read(r, name, &st, err)))
            break;
        /* Once a second, and once more when settled: the finished
         * mailboxes' lines and the progress, from one walk. */
        if (time(NULL) != last || batch_settled(st)) {
            last = time(NULL);
            w->idx = 0;
            if ((rc = mf_progress_read(r, name, on_mailbox, w, &snap, err)))
                break;
            if (w->view)
                mf_progress_view_update(w->view, &snap, batch_settled(st));
        }
        if (batch_settled(st)) {
            *state_r = st;
            break;
        }
        nanosleep(&tick, NULL);
    }
    mf_progress_snapshot_clear(&snap);
    return rc;
}

/* Takes over the pass of an earlier run that died with the batch running
 * (issue 11, section 5). Its jobs died with its in-process Kafka and its
 * worker holds claims nobody renews: the Queued mailboxes get their
 * current job again (only one claim can win, so a job produced twice is
 * harmless), and the service requeues each claim once it expires (the
 * worker's claim TTL, 6 s), the next attempt resuming from the
 * mailbox's checkpoint. A batch the dead run was stopping first settles
 * Stopped (the service stops its expired claims), then starts again. */
static mf_err
take_over(const struct mf_jobs_ctx *ctx, const char *name,
          const atomic_bool *stop, atomic_bool *worker_stop, bool quiet,
          uint64_t *njobs_r, enum mf_batch_state *state_r,
          struct mf_error *err) {
    struct mf_batch_config *cfg = NULL;
    struct watch w = {.json = true};
    mf_err rc;

    if ((rc = mf_batch_get(ctx->redis, name, &cfg, err)))
        return rc;
    *state_r = cfg->state;
    mf_batch_config_free(&cfg);
    if (*state_r == MF_BATCH_STOPPING) {
        rc = wait_batch(ctx->redis, name, stop, worker_stop, &w, state_r, err);
        free(w.printed);
        if (rc || atomic_load(stop))
            return rc;
    }
    if (!mf_batch_state_running(*state_r))
        return mf_jobs_begin_pass(ctx, name,
                                  *state_r == MF_BATCH_STOPPED ||
                                          *state_r == MF_BATCH_CREATED
                                      ? MF_BATCH_OP_START
                                      : MF_BATCH_OP_SYNC,
                                  MF_JOBS_LOOP_FLUSH_MS, njobs_r, state_r, err);
    if (!quiet)
        printf("batch %s: %s, left so by an earlier run; taking its pass "
               "over (its claims expire within seconds)\n",
               name, mf_batch_state_name(*state_r));
    return mf_jobs_reissue(ctx, name, MF_JOBS_LOOP_FLUSH_MS, njobs_r, err);
}

static void
print_items(const struct mf_report_batch *rep) {
    size_t shown = 0;

    for (size_t i = 0; i < rep->n_mailboxes; i++) {
        const struct mf_report_mailbox *m = &rep->mailboxes[i];
        for (size_t k = 0; k < m->n_skipped_items && shown < 50; k++, shown++)
            printf(
                "       skipped %s %s UID %u (%llu bytes, \"%s\")\n", m->email,
                m->skipped_items[k].folder, m->skipped_items[k].uid,
                (unsigned long long)m->skipped_items[k].size,
                m->skipped_items[k].subject ? m->skipped_items[k].subject : "");
        for (size_t k = 0; k < m->failed.n && shown < 50; k++, shown++) {
            const struct mf_report_failed *f = &m->failed.items[k];
            printf("       failed %s %s UID %u (%llu bytes, \"%s\"): %s\n",
                   m->email, f->folder, f->uid, (unsigned long long)f->size,
                   f->subject ? f->subject : "",
                   f->error_text ? f->error_text : "");
        }
    }
    if (shown == 50)
        printf("       ... the report lists every skipped and failed "
               "message\n");
}

static bool
write_reports(const struct mf_report_batch *rep, const char *dir, bool json) {
    struct mf_error err = {0};

    if (mf_report_write_dir(rep, dir, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry migrate: %s\n", err.detail);
        return false;
    }
    fprintf(json ? stderr : stdout,
            "report: %s/report.html (also .csv and .json)\n", dir);
    return true;
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

/* Where a run's time goes, logged at its end (event migrate.timing): the
 * breakdown that shows what an incremental pass over unchanged mailboxes
 * costs besides the mailboxes themselves. */
enum phase {
    PH_SERVERS, /* Redis (child or shared) and the in-process Kafka */
    PH_BATCH,   /* the batch created or read */
    PH_START,   /* service and worker threads, and the jobs' producer
                   meanwhile, until the worker has jobs' partitions */
    PH_QUEUE,   /* the pass's jobs queued */
    PH_PASS,    /* until the batch settled */
    PH_REPORT,  /* report read and written */
    PH_STOP,    /* threads stopped, servers stopped */
    PH_COUNT
};

struct timing {
    double t0, mark, s[PH_COUNT];
};

static void
timing_mark(struct timing *tm, enum phase ph) {
    double now = mf_monotonic_s();
    tm->s[ph] += now - tm->mark;
    tm->mark = now;
}

static void
timing_log(const struct timing *tm, const char *name) {
    mf_log(MF_LOG_INFO, &(struct mf_log_ctx){.batch = name}, "migrate.timing",
           "%.3f s: servers %.3f, batch %.3f, start %.3f, queue %.3f, pass "
           "%.3f, report %.3f, stop %.3f",
           mf_monotonic_s() - tm->t0, tm->s[PH_SERVERS], tm->s[PH_BATCH],
           tm->s[PH_START], tm->s[PH_QUEUE], tm->s[PH_PASS], tm->s[PH_REPORT],
           tm->s[PH_STOP]);
}

/* The pipeline's log lines (every job, result and retry) go to a file
 * beside the report: the terminal shows one line per mailbox. */
static FILE *
open_log(const struct mf_embedded_options *o, const char *dir, char *path,
         size_t n) {
    enum mf_log_format fmt = MF_LOG_TEXT;
    enum mf_log_level lvl = MF_LOG_INFO;
    const char *v;
    FILE *f;

    if (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)
        return NULL;
    snprintf(path, n, "%s/migrate.log", dir);
    if (!(f = fopen(path, "a")))
        return NULL;
    if ((v = o->log_format))
        (void)mf_log_format_parse(v, &fmt);
    if ((v = o->log_level))
        (void)mf_log_level_parse(v, &lvl);
    mf_log_setup(fmt, lvl, f);
    return f;
}

/* The exit codes of the program (coordinator/cli.h), which
 * mf_embedded_run() returns. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };

/* One run's state, from the servers to the report; each step below
 * returns -1 to go on, else the exit code. */
struct run {
    const struct mf_embedded_options *o;
    const char *name, *redis_url;
    char gen_name[64];
    struct mf_redis_child *rchild;
    struct mf_kafka_mock *mock;
    struct mf_crypto_keyring *kr;
    struct mf_config *kcfg;
    struct mf_redis *r;
    struct mf_kafka_producer *producer;
    struct mf_kafka_topics topics;
    struct mf_batch_config *existing;
    struct mf_batchdef d;
    struct threads *t;
    struct watch w;
    struct mf_progress_view view;
    struct mf_report_batch *rep;
    struct mf_error err;
    enum mf_batch_state state;
    enum mf_batch_op op;
    bool takeover;
    uint64_t njobs;
};

/* The batch's name: --batch, or migrate-<time>-<pid>. */
static int
run_name(struct run *x) {
    x->name = x->o->batch;
    if (!x->name) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(x->gen_name, sizeof(x->gen_name),
                 "migrate-%04d%02d%02d-%02d%02d%02d-%ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)getpid());
        x->name = x->gen_name;
    }
    if (!mf_batch_name_valid(x->name)) {
        fprintf(stderr,
                "mailferry migrate: --batch %s: use letters, digits, "
                "'.', '_' and '-' (at most 64)\n",
                x->name);
        return EXIT_USAGE;
    }
    return -1;
}

/* The key, Redis (a child unless shared) and the in-process Kafka. */
static int
run_servers(struct run *x) {
    mf_err rc = x->o->key_file
                    ? mf_crypto_keyring_load(x->o->key_file, &x->kr, &x->err)
                    : ephemeral_keyring(&x->kr, &x->err);

    if (rc) {
        fprintf(stderr, "mailferry migrate: key: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    x->redis_url = x->o->redis_url;
    if (!x->redis_url) {
        if ((rc = mf_redis_child_start(NULL, NULL, &x->rchild, &x->err))) {
            fprintf(stderr, "mailferry migrate: Redis: %s\n", x->err.detail);
            return EXIT_ERROR;
        }
        x->redis_url = mf_redis_child_url(x->rchild);
    }
    if ((rc = mf_redis_connect(x->redis_url, 0, &x->r, &x->err))) {
        fprintf(stderr, "mailferry migrate: Redis: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    if ((rc = mf_kafka_mock_start(1, NULL, (int)(x->o->concurrency * 2 + 2),
                                  &x->mock, &x->err)) ||
        (rc = mf_kafka_topics_init(&x->topics, NULL, &x->err))) {
        fprintf(stderr, "mailferry migrate: Kafka: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    mf_config_set_flag(x->kcfg, "kafka", mf_kafka_mock_bootstrap(x->mock));
    /* One worker and one service, each the only consumer of its topic:
     * no consumer group to join (3 s of the mock's initial rebalance
     * delay), and fetches that come back soon in-process (the mock
     * broker holds an empty fetch for fetch.wait.max.ms, 500 by default,
     * even when a message arrives meanwhile). Not sooner than 25 ms:
     * both consumers fetch again as soon as an empty fetch returns, and
     * at 5 ms those round trips through the mock broker's threads took
     * a third of the pipeline's CPU on a 10 s copy (docs/benchmarks.md);
     * the jobs are fetched ahead, so the wait shows only at the first
     * job and the last result, up to 25 ms each. */
    mf_config_set_flag(x->kcfg, "kafka-assign", "all");
    mf_config_set_flag(x->kcfg, "kafka.fetch.wait.max.ms", "25");
    mf_config_set_flag(x->kcfg, "kafka.fetch.error.backoff.ms", "5");
    /* Producers send at once instead of lingering 5 ms for more: a slot
     * waits for its result's delivery before it takes the next job, and
     * the first job waits for its pass's messages; in-process, a request
     * more costs little. */
    mf_config_set_flag(x->kcfg, "kafka.linger.ms", "0");
    /* The worker holds jobs back in librdkafka's queue while its slots
     * are busy (kafka-assign=all): about a thousand of them, not 64 MB. */
    mf_config_set_flag(x->kcfg, "kafka.queued.max.messages.kbytes", "2048");
    return -1;
}

/* The batch: a new one, or the next pass of an existing one. */
static int
run_batch(struct run *x) {
    const struct mf_embedded_options *o = x->o;
    mf_err rc = mf_batch_get(x->r, x->name, &x->existing, &x->err);
    int exit_code;

    if (rc == MF_E_OK) {
        if (!o->key_file) {
            fprintf(stderr,
                    "mailferry migrate: batch %s exists in that Redis; to "
                    "run it again give --master-key-file (the key it was "
                    "created with), or choose another --batch\n",
                    x->name);
            return EXIT_FAIL;
        }
        /* Options that may change (`batch set`) apply from this pass. */
        if ((exit_code = o->settings(o->ud, x->r, x->name)) >= 0)
            return exit_code;
        x->op = x->existing->state == MF_BATCH_STOPPED ||
                        x->existing->state == MF_BATCH_CREATED
                    ? MF_BATCH_OP_START
                    : MF_BATCH_OP_SYNC;
        /* A run that died mid-pass (crash, kill -9, host lost) left the
         * batch running: this run takes the pass over (take_over()). */
        x->takeover = mf_batch_state_running(x->existing->state);
    } else if (rc == MF_E_NOT_FOUND) {
        if ((exit_code = o->define(o->ud, x->name, x->kr, &x->d)) >= 0)
            return exit_code;
        if ((rc =
                 mf_batch_create(x->r, &x->d.cfg, x->d.mbs, x->d.n, &x->err))) {
            fprintf(stderr, "mailferry migrate: %s\n", x->err.detail);
            return EXIT_ERROR;
        }
    } else {
        fprintf(stderr, "mailferry migrate: Redis: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    return -1;
}

/* The service and the worker, in threads of this process. */
static int
run_threads(struct run *x) {
    struct threads *t = x->t;

    t->so.config = x->kcfg;
    t->so.redis_url = x->redis_url;
    t->so.keyring = x->kr;
    t->so.scan_interval_ms = 1000;
    /* Other runs may share this Redis: their batches are theirs. */
    t->so.only_batch = x->name;
    /* Both notice the end of the run within 20 ms (in-process polls). */
    t->so.poll_ms = 20;
    t->wo.poll_ms = 20;
    /* Progress every second (in-process, cheap), as the display redraws. */
    t->wo.progress_interval_ms = 1000;
    t->wo.config = x->kcfg;
    t->wo.redis_url = x->redis_url;
    t->wo.keyring = x->kr;
    t->wo.slots = x->o->concurrency;
    t->wo.worker_id = "migrate";
    /* Renewals (which also notice a stop) every 2 s instead of 10. */
    t->wo.claim_ttl_ms = 6000;
    t->wo.bind_address = x->o->bind_address;
    t->wo.egress_ip = x->o->egress_ip;
    mf_worker_stats_init(&t->wstats);
    t->svc_started = pthread_create(&t->svc, NULL, service_main, t) == 0;
    t->wrk_started =
        t->svc_started && pthread_create(&t->wrk, NULL, worker_main, t) == 0;
    if (!t->wrk_started) {
        fprintf(stderr, "mailferry migrate: cannot start threads\n");
        return EXIT_ERROR;
    }
    /* The jobs' producer learns its topic while the worker starts. Unlike
     * the programs' best-effort warms (MF_KAFKA_WARM_MS), a failure here
     * ends the run, so the in-process cluster gets longer to answer. */
    if (mf_kafka_producer_new(x->kcfg, "mailferry-migrate", NULL, NULL,
                              &x->producer, &x->err) ||
        mf_kafka_producer_warm(x->producer,
                               (const char *const[]){x->topics.jobs}, 1,
                               JOBS_WARM_MS, &x->err)) {
        fprintf(stderr, "mailferry migrate: Kafka: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    /* The batch's clock starts when the worker can take jobs: at once,
     * as it joins no consumer group (kafka-assign=all above). */
    for (int i = 0; i < 3000 && !atomic_load(&t->wstats.partitions); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (atomic_load(x->o->stop))
            break;
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* The pass, as `batch start` (or `batch sync`) makes it. */
static int
run_queue(struct run *x) {
    struct mf_jobs_ctx ctx = {.redis = x->r,
                              .topics = &x->topics,
                              .keyring = x->kr,
                              .sender = "mailferry-migrate"};
    mf_err rc;

    ctx.producer = x->producer;
    if (x->takeover)
        rc = take_over(&ctx, x->name, x->o->stop, &x->t->wrk_stop, x->o->json,
                       &x->njobs, &x->state, &x->err);
    else
        rc = mf_jobs_begin_pass(&ctx, x->name, x->op, MF_JOBS_LOOP_FLUSH_MS,
                                &x->njobs, &x->state, &x->err);
    if (rc) {
        fprintf(stderr, "mailferry migrate: %s\n", x->err.detail);
        return rc == MF_E_STATE ? EXIT_FAIL : EXIT_ERROR;
    }
    if (!x->o->json)
        printf("batch %s: %llu mailboxes queued, %u at a time\n", x->name,
               (unsigned long long)x->njobs, x->o->concurrency);
    return -1;
}

/* The report: read from the batch, printed, written beside the log. */
static int
run_report(struct run *x) {
    mf_err rc;

    if ((rc = mf_batch_report(x->r, x->name, &x->rep, &x->err))) {
        fprintf(stderr, "mailferry migrate: report: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    if (x->o->json) {
        if (mf_report_write_json(x->rep, stdout) != MF_E_OK)
            return EXIT_ERROR;
        fputc('\n', stdout);
    } else {
        struct mf_report_totals tot;
        mf_report_totals(x->rep, &tot);
        print_items(x->rep);
        mf_report_print_warnings(x->rep, stdout);
        printf("\nbatch %s %s: %llu mailboxes, %llu synced, %llu failed, "
               "%llu stopped\nmessages: %llu copied (%.1f MB) in ",
               x->name, mf_batch_state_name(x->state),
               (unsigned long long)tot.mailboxes,
               (unsigned long long)(tot.by_state[MF_REPORT_SYNCED] +
                                    tot.by_state[MF_REPORT_COMPLETED]),
               (unsigned long long)tot.by_state[MF_REPORT_FAILED],
               (unsigned long long)tot.by_state[MF_REPORT_STOPPED],
               (unsigned long long)tot.copied_messages,
               (double)tot.copied_bytes / 1e6);
        /* The batch's times are in ms (Redis TIME), so even a batch of
         * a second has an elapsed time to divide by. */
        printf("%.2f s, %.0f msgs/s\n", tot.elapsed_seconds,
               tot.messages_per_second);
    }
    if (!write_reports(x->rep, x->o->report_dir, x->o->json))
        return EXIT_ERROR;
    return -1;
}

/* Every step of a run, in order, each timed; stops at the first that
 * ends the run. */
static int
run_steps(struct run *x, struct timing *tg) {
    int exit_code;
    mf_err rc;

    if ((exit_code = run_name(x)) >= 0 || (exit_code = run_servers(x)) >= 0)
        return exit_code;
    timing_mark(tg, PH_SERVERS);
    if ((exit_code = run_batch(x)) >= 0)
        return exit_code;
    timing_mark(tg, PH_BATCH);
    if ((exit_code = run_threads(x)) >= 0)
        return exit_code;
    timing_mark(tg, PH_START);
    if ((exit_code = run_queue(x)) >= 0)
        return exit_code;
    timing_mark(tg, PH_QUEUE);
    if ((rc = wait_batch(x->r, x->name, x->o->stop, &x->t->wrk_stop, &x->w,
                         &x->state, &x->err))) {
        fprintf(stderr, "mailferry migrate: %s\n", x->err.detail);
        return EXIT_ERROR;
    }
    timing_mark(tg, PH_PASS);
    if ((exit_code = run_report(x)) >= 0)
        return exit_code;
    timing_mark(tg, PH_REPORT);
    return x->state == MF_BATCH_SYNCED || x->state == MF_BATCH_COMPLETED
               ? EXIT_OK
               : EXIT_FAIL;
}

static void
run_free(struct run *x) {
    struct threads *t = x->t;

    /* Both at once: each notices at its next poll, and neither needs the
     * other to stop (the worker's last results were delivered before the
     * batch could settle). */
    atomic_store(&t->wrk_stop, true);
    atomic_store(&t->svc_stop, true);
    if (t->wrk_started)
        pthread_join(t->wrk, NULL);
    if (t->svc_started)
        pthread_join(t->svc, NULL);
    free(t);
    mf_report_free(&x->rep);
    free(x->w.printed);
    mf_batchdef_free(&x->d);
    mf_batch_config_free(&x->existing);
    mf_kafka_producer_free(&x->producer);
    mf_redis_free(&x->r);
    mf_kafka_mock_stop(&x->mock);
    mf_redis_child_stop(&x->rchild);
    mf_crypto_keyring_free(&x->kr);
    mf_config_free(&x->kcfg);
}

int
mf_embedded_run(const struct mf_embedded_options *o) {
    struct run x = {.o = o, .state = MF_BATCH_CREATED, .op = MF_BATCH_OP_START};
    struct timing tg = {0};
    char logpath[4200] = "";
    FILE *logf;
    int exit_code;

    tg.t0 = tg.mark = mf_monotonic_s();
    x.kcfg = mf_config_new();
    x.t = mf_xcalloc(1, sizeof(*x.t));
    logf = open_log(o, o->report_dir, logpath, sizeof(logpath));
    x.w.json = o->json;
    /* The progress: redrawn in place on stderr when it is a terminal,
     * else a summary line an interval on stdout among the mailboxes'
     * lines; none with --json or an interval of 0 (--no-progress). */
    if (!o->json && mf_progress_view_open(&x.view, o->progress_interval_s))
        x.w.view = &x.view;
    exit_code = run_steps(&x, &tg);
    run_free(&x);
    timing_mark(&tg, PH_STOP);
    timing_log(&tg, x.name);
    if (logf) {
        mf_log_setup(MF_LOG_TEXT, MF_LOG_INFO, stderr);
        fclose(logf);
        if (!o->json)
            printf("log: %s\n", logpath);
    }
    return exit_code;
}
