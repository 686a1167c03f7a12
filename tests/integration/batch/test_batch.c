/*
 * Batch and mailbox records against a real redis-server (fixture
 * "redis"): create/get/list/remove, every batch and mailbox transition
 * (table-driven, refusals included), claim exclusivity between threads,
 * claim expiry and requeue up to the attempt limit, stale attempts,
 * progress ordering, results applied once, the derived batch state over
 * full/incremental/final passes and a stop/resume, the report built from
 * the records, hash tags on every key, and no plaintext password at rest.
 *
 * Each test uses batch names with a per-run prefix, so runs against a
 * shared redis-server never collide. MF_TEST_REDIS_FIXTURE names another
 * fixture (redis_auth: the server that requires AUTH).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"
#include "mailferry/checkpoint.h"
#include "mailferry/jobs.h"
#include "mailferry/util.h"
#include "itest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PLAINTEXT "Plain-Text-Secret-42"

/* Stands in for the crypto module: "SEALED:" + random bytes (with NULs). */
static void
sealed(uint8_t *buf, size_t n) {
    memcpy(buf, "SEALED:", 7);
    for (size_t i = 7; i < n; i++)
        buf[i] = (uint8_t)(rand() & 0xff);
    buf[9] = 0;
}

static uint8_t blob_a[40], blob_b[40], blob_admin[48];

/* Creates batch name with n mailboxes m<i>@x.org. */
static void
create(struct mf_redis *r, const char *name, size_t n, uint32_t max_attempts) {
    static char *inc[] = {"INBOX", "Archive/*"}, *exc[] = {"Junk"},
                *ren[] = {"Sent Items=Sent"};
    struct mf_batch_config c = {
        .name = (char *)name,
        .source = "imaps://src.example:993",
        .target = "imap://tgt.example:143",
        .admin_user = "admin",
        .admin_password = {blob_admin, sizeof(blob_admin)},
        .include = inc,
        .n_include = 2,
        .exclude = exc,
        .n_exclude = 1,
        .rename = ren,
        .n_rename = 1,
        .separator_replacement = "_",
        .max_message_size = 1000,
        .source_caps = {.max_connections = 10, .max_bytes_per_second = 99},
        .target_caps = {.max_connections_per_user = 2},
        .max_attempts = max_attempts,
        .incremental_every = 86400,
    };
    struct mf_batch_mailbox_cfg *mbs = mf_xcalloc(n, sizeof(*mbs));
    char **emails = mf_xcalloc(n, sizeof(*emails));
    struct mf_error err = {0};

    for (size_t i = 0; i < n; i++) {
        emails[i] = mf_xasprintf("m%zu@x.org", i);
        mbs[i].email = emails[i];
        mbs[i].user = emails[i];
        mbs[i].password = (struct mf_batch_blob){blob_a, sizeof(blob_a)};
        mbs[i].target_password =
            (struct mf_batch_blob){blob_b, i % 2 ? sizeof(blob_b) : 0};
    }
    if (mf_batch_create(r, &c, mbs, n, &err) != MF_E_OK)
        fail_msg("create %s: %s", name, err.detail);
    for (size_t i = 0; i < n; i++)
        free(emails[i]);
    free(emails);
    free(mbs);
}

static mf_err
count_job(void *ud, const struct mf_batch_job *job) {
    struct mf_batch_job *last = ud;

    last[0].pass++; /* counter in slot 0 */
    last[1] = *job;
    return MF_E_OK;
}

/* Begins a pass and returns how many jobs it queued; *last the last. */
static int
begin(struct mf_redis *r, const char *name, enum mf_batch_op op,
      struct mf_batch_job *last, enum mf_batch_state *st) {
    struct mf_batch_job j[2] = {0};
    struct mf_error err = {0};

    if (mf_batch_begin_pass(r, name, op, count_job, j, st, &err) != MF_E_OK)
        fail_msg("begin pass %s: %s", name, err.detail);
    if (last)
        *last = j[1];
    return (int)j[0].pass;
}

/* Batch "<prefix>-<what>" (into name) made by create() with its first
 * pass begun: begin()'s count. */
static int
started(struct mf_redis *r, char *name, size_t size, const char *what, size_t n,
        uint32_t max_attempts) {
    mf_itest_name(name, size, what);
    create(r, name, n, max_attempts);
    return begin(r, name, MF_BATCH_OP_START, NULL, NULL);
}

static struct mf_batch_mailbox *
mb_get(struct mf_redis *r, const char *name, const char *email) {
    struct mf_batch_mailbox *mb = NULL;
    struct mf_error err = {0};

    if (mf_batch_mailbox_get(r, name, email, &mb, &err) != MF_E_OK)
        fail_msg("mailbox %s: %s", email, err.detail);
    return mb;
}

static enum mf_batch_state
bstate(struct mf_redis *r, const char *name) {
    struct mf_batch_config *c = NULL;
    struct mf_error err = {0};
    enum mf_batch_state s;

    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_OK);
    s = c->state;
    mf_batch_config_free(&c);
    return s;
}

static void
claim_job(struct mf_redis *r, const char *name, const char *email,
          const char *worker, int64_t ttl, struct mf_batch_lease *l) {
    struct mf_batch_mailbox *mb = mb_get(r, name, email);
    struct mf_error err = {0};

    if (mf_batch_claim(r, name, email, mb->job_id, mb->attempt, worker, NULL,
                       ttl, l, &err) != MF_E_OK)
        fail_msg("claim %s: %s", email, err.detail);
    mf_batch_mailbox_free(&mb);
}

static void
result(struct mf_redis *r, const char *name, const struct mf_batch_lease *l,
       enum mf_outcome o, uint64_t copied, struct mf_batch_applied *out) {
    struct mf_batch_item sk[2] = {
        {.folder = "INBOX",
         .uid = 7,
         .size = 5000,
         .internal_date = 1700000000,
         .subject = "Huge attachment",
         .code = MF_E_MESSAGE_TOO_LARGE,
         .detail = "5000 bytes, over the limit of 1000 bytes"},
        {.folder = "INBOX",
         .uid = 8,
         .size = 6000,
         .subject = "Another",
         .code = MF_E_MESSAGE_TOO_LARGE},
    };
    struct mf_batch_item fl[1] = {{.folder = "Drafts",
                                   .uid = 3,
                                   .code = MF_E_MESSAGE_REJECTED,
                                   .detail = "NO [LIMIT] too big"}};
    struct mf_batch_result res = {
        .job_id = l->job_id,
        .attempt = l->attempt,
        .worker = l->worker,
        .outcome = o,
        .stats = {.folders_copied = 3,
                  .messages_source = 100,
                  .bytes_source = 100000,
                  .messages_copied = copied,
                  .bytes_copied = copied * 1000,
                  .skipped_too_large = 2,
                  .failed = 1,
                  .seconds = 2.5},
        .error_code = o == MF_OUTCOME_SYNCED ? 0 : MF_E_AUTH,
        .error_detail = o == MF_OUTCOME_SYNCED ? NULL : "NO [AUTHFAILED] bad",
        .skipped = sk,
        .n_skipped = 2,
        .failed = fl,
        .n_failed = 1,
    };
    struct mf_error err = {0};

    if (mf_batch_apply_result(r, name, l->email, &res, out, &err) != MF_E_OK)
        fail_msg("result %s: %s", l->email, err.detail);
}

struct list_ctx {
    const char *want;
    bool found;
    uint64_t n;
    enum mf_batch_state state;
};

static mf_err
list_cb(void *ud, const struct mf_batch_summary *s) {
    struct list_ctx *lc = ud;

    if (strcmp(s->name, lc->want) == 0) {
        lc->found = true;
        lc->n = s->counts[MF_MAILBOX_QUEUED];
        lc->state = s->state;
    }
    return MF_E_OK;
}

/* Calls fn for every key whose name contains name (SCAN). */
static size_t
scan_keys(struct mf_redis *r, const char *name,
          void (*fn)(struct mf_redis *, const char *, void *), void *ud) {
    char cursor[32] = "0", pattern[128];
    size_t n = 0;
    struct mf_error err = {0};

    snprintf(pattern, sizeof(pattern), "*%s*", name);
    do {
        redisReply *reply = NULL;
        assert_int_equal(mf_redis_command(r, &reply, &err,
                                          "SCAN %s MATCH %s COUNT 1000", cursor,
                                          pattern),
                         MF_E_OK);
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        for (size_t i = 0; i < reply->element[1]->elements; i++, n++)
            if (fn)
                fn(r, reply->element[1]->element[i]->str, ud);
        freeReplyObject(reply);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

static size_t
count_keys(struct mf_redis *r, const char *name) {
    return scan_keys(r, name, NULL, NULL);
}

/* ------------------------------------------------------------------ */

static void
test_crud(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config *c = NULL;
    struct mf_batch_mailbox *mb;
    struct mf_error err = {0};
    struct mf_checkpoint ck = {.uidvalidity = 5, .last_uid = 9};
    char name[80];
    enum mf_batch_state st;
    redisReply *reply = NULL;

    (void)state;
    mf_itest_name(name, sizeof(name), "crud");
    create(r, name, 3, 0);
    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_OK);
    assert_string_equal(c->source, "imaps://src.example:993");
    assert_int_equal(c->state, MF_BATCH_CREATED);
    assert_int_equal(c->n_mailboxes, 3);
    assert_int_equal(c->counts[MF_MAILBOX_QUEUED], 3);
    assert_int_equal(c->max_attempts, 3); /* the default */
    assert_int_equal(c->n_include, 2);
    assert_string_equal(c->include[1], "Archive/*");
    assert_string_equal(c->rename[0], "Sent Items=Sent");
    assert_int_equal(c->source_caps.max_connections, 10);
    assert_int_equal(c->source_caps.max_bytes_per_second, 99);
    assert_int_equal(c->target_caps.max_connections_per_user, 2);
    assert_int_equal(c->admin_password.len, sizeof(blob_admin));
    assert_memory_equal(c->admin_password.data, blob_admin, sizeof(blob_admin));
    assert_true(c->created > 1600000000);
    mf_batch_config_free(&c);
    assert_null(c);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_QUEUED);
    assert_int_equal(mb->cfg.password.len, sizeof(blob_a));
    assert_memory_equal(mb->cfg.password.data, blob_a, sizeof(blob_a));
    assert_int_equal(mb->cfg.target_password.len, sizeof(blob_b));
    mf_batch_mailbox_free(&mb);

    /* The name is taken; bad rows are refused before anything is stored. */
    {
        struct mf_batch_config c2 = {.name = name, .source = "imaps://a"};
        struct mf_batch_mailbox_cfg rows[2] = {{.email = "d@x.org"},
                                               {.email = "d@x.org"}};
        char other[80];
        assert_int_equal(mf_batch_create(r, &c2, rows, 1, &err), MF_E_EXISTS);
        mf_itest_name(other, sizeof(other), "dup");
        c2.name = other;
        assert_int_equal(mf_batch_create(r, &c2, rows, 2, &err),
                         MF_E_INVALID_ARGUMENT);
        assert_int_equal(mf_batch_create(r, &c2, rows, 0, &err),
                         MF_E_INVALID_ARGUMENT);
        c2.name = "bad{name}";
        assert_int_equal(mf_batch_create(r, &c2, rows, 1, &err),
                         MF_E_INVALID_ARGUMENT);
        assert_int_equal(mf_batch_get(r, other, &c, &err), MF_E_NOT_FOUND);
    }
    /* Listed, with counts. */
    {
        struct list_ctx lc = {.want = name};
        assert_int_equal(mf_batch_list(r, list_cb, &lc, &err), MF_E_OK);
        assert_true(lc.found);
        assert_int_equal(lc.n, 3);
        assert_int_equal(lc.state, MF_BATCH_CREATED);
    }
    /* A checkpoint of the batch, to be removed with it. */
    assert_int_equal(mf_checkpoint_put(r, name, "m0@x.org", "INBOX", &ck, &err),
                     MF_E_OK);
    /* Remove is refused while running. */
    assert_int_equal(begin(r, name, MF_BATCH_OP_START, NULL, &st), 3);
    assert_int_equal(st, MF_BATCH_SYNCING);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_STATE);
    assert_non_null(strstr(err.detail, "Syncing"));
    /* Stopped with nothing running: straight to Stopped. */
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPED);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_OK);
    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_NOT_FOUND);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_NOT_FOUND);
    /* Not a key is left, checkpoints included, nor the index entry. */
    assert_int_equal(count_keys(r, name), 0);
    {
        struct list_ctx lc = {.want = name};
        assert_int_equal(mf_batch_list(r, list_cb, &lc, &err), MF_E_OK);
        assert_false(lc.found);
    }
    (void)reply;
    mf_redis_free(&r);
}

/* Every batch and mailbox transition against Redis, by the tables. */
static void
test_transitions(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf__batch_keys k;
    char name[80], mkey[MF__BATCH_KEY_MAX];
    struct mf_error err = {0};
    redisReply *reply = NULL;
    int refused = 0, allowed = 0;

    (void)state;
    mf_itest_name(name, sizeof(name), "trans");
    create(r, name, 1, 0);
    mf__batch_keys(&k, name);
    mf__batch_mb_key(mkey, sizeof(mkey), name, "m0@x.org", "");
    for (int f = 0; f < MF_BATCH_STATE_COUNT; f++)
        for (int t = 0; t < MF_BATCH_STATE_COUNT; t++) {
            bool want = mf_batch_transition_allowed(f, t);
            mf_err rc;
            assert_int_equal(mf_redis_command(r, &reply, &err,
                                              "HSET %s state %s", k.batch,
                                              mf_batch_state_name(f)),
                             MF_E_OK);
            freeReplyObject(reply);
            rc = mf_batch_set_state(r, name, t, &err);
            if (rc != (want ? MF_E_OK : MF_E_STATE))
                fail_msg("batch %s -> %s: %s", mf_batch_state_name(f),
                         mf_batch_state_name(t), err.detail);
            if (!want) {
                /* The refusal names the current state. */
                assert_non_null(strstr(err.detail, mf_batch_state_name(f)));
                refused++;
            } else {
                assert_int_equal(bstate(r, name), t);
                allowed++;
            }
        }
    assert_int_equal(allowed, 25);
    /* Mailboxes: the batch stays Created, so nothing settles. */
    assert_int_equal(
        mf_redis_command(r, &reply, &err, "HSET %s state Created", k.batch),
        MF_E_OK);
    freeReplyObject(reply);
    for (int f = 0; f < MF_MAILBOX_STATE_COUNT; f++)
        for (int t = 0; t < MF_MAILBOX_STATE_COUNT; t++) {
            bool want = mf_mailbox_transition_allowed(f, t);
            struct mf_batch_mailbox *mb;
            mf_err rc;
            assert_int_equal(mf_redis_command(r, &reply, &err,
                                              "HSET %s state %s", mkey,
                                              mf_mailbox_state_name(f)),
                             MF_E_OK);
            freeReplyObject(reply);
            rc = mf_batch_mailbox_set_state(r, name, "m0@x.org", t, &err);
            if (rc != (want ? MF_E_OK : MF_E_STATE))
                fail_msg("mailbox %s -> %s: %s", mf_mailbox_state_name(f),
                         mf_mailbox_state_name(t), err.detail);
            mb = mb_get(r, name, "m0@x.org");
            assert_int_equal(mb->state, want ? t : f);
            mf_batch_mailbox_free(&mb);
        }
    assert_int_equal(mf_batch_mailbox_set_state(r, name, "nobody@x.org",
                                                MF_MAILBOX_QUEUED, &err),
                     MF_E_NOT_FOUND);
    (void)refused;
    mf_itest_batch_end(&r, name);
}

struct race {
    const char *name;
    struct mf_batch_job job;
    pthread_barrier_t *barrier;
    int id;
    mf_err rc;
};

static void *
racer(void *arg) {
    struct race *x = arg;
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    struct mf_batch_lease l;
    char worker[32];

    if (mf_redis_connect(mf_itest_redis_url(), 0, &r, &err) != MF_E_OK) {
        x->rc = MF_E_REDIS_UNAVAILABLE;
        return NULL;
    }
    snprintf(worker, sizeof(worker), "worker-%d", x->id);
    pthread_barrier_wait(x->barrier);
    x->rc = mf_batch_claim(r, x->name, x->job.email, x->job.job_id,
                           x->job.attempt, worker, NULL, 60000, &l, &err);
    mf_redis_free(&r);
    return NULL;
}

/* Eight threads, eight connections, one job: exactly one claim wins. */
static void
test_claim_race(void **state) {
    enum { N = 8 };
    struct mf_redis *r = mf_itest_redis();
    struct race x[N];
    pthread_t th[N];
    pthread_barrier_t barrier;
    struct mf_batch_job job;
    struct mf_batch_mailbox *mb;
    struct mf_error err = {0};
    enum mf_batch_state st;
    char name[80];
    int won = 0, claimed = 0;

    (void)state;
    mf_itest_name(name, sizeof(name), "race");
    create(r, name, 1, 0);
    assert_int_equal(begin(r, name, MF_BATCH_OP_START, &job, NULL), 1);
    assert_int_equal(job.attempt, 1);
    assert_int_equal(job.kind, MF_JOB_KIND_INITIAL);
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        x[i] = (struct race){
            .name = name, .job = job, .barrier = &barrier, .id = i};
        pthread_create(&th[i], NULL, racer, &x[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        won += x[i].rc == MF_E_OK;
        claimed += x[i].rc == MF_E_CLAIMED;
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(won, 1);
    assert_int_equal(claimed, N - 1);
    mb = mb_get(r, name, job.email);
    assert_int_equal(mb->state, MF_MAILBOX_SYNCING);
    assert_int_equal(strncmp(mb->claim_worker, "worker-", 7), 0);
    assert_int_equal(mb->attempts_total, 1);
    mf_batch_mailbox_free(&mb);
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPING); /* the winner still runs */
    assert_int_equal(mf_batch_mailbox_set_state(r, name, job.email,
                                                MF_MAILBOX_STOPPED, &err),
                     MF_E_OK);
    assert_int_equal(bstate(r, name), MF_BATCH_STOPPED);
    mf_itest_batch_end(&r, name);
}

static mf_err
count_mb(void *ud, const struct mf_batch_mailbox *mb) {
    int *n = ud;

    (void)mb;
    (*n)++;
    return MF_E_OK;
}

static mf_err
count_q(void *ud, const struct mf_batch_job *job) {
    int *n = ud;

    assert_int_equal(job->attempt, 1);
    (*n)++;
    return MF_E_OK;
}

/* More mailboxes than one chunk: every walk crosses chunk boundaries. */
static void
test_large(void **state) {
    enum { N = 3 * MF__BATCH_CHUNK + 7 };
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config *c = NULL;
    struct mf_error err = {0};
    enum mf_batch_state st;
    char name[80];
    int n = 0;

    (void)state;
    mf_itest_name(name, sizeof(name), "large");
    create(r, name, N, 0);
    assert_int_equal(begin(r, name, MF_BATCH_OP_START, NULL, &st), N);
    assert_int_equal(st, MF_BATCH_SYNCING);
    assert_int_equal(mf_batch_foreach_mailbox(r, name, count_mb, &n, &err),
                     MF_E_OK);
    assert_int_equal(n, N);
    n = 0;
    assert_int_equal(mf_batch_foreach_queued(r, name, count_q, &n, &err),
                     MF_E_OK);
    assert_int_equal(n, N);
    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_OK);
    assert_int_equal(c->counts[MF_MAILBOX_QUEUED], N);
    mf_batch_config_free(&c);
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPED);
    assert_int_equal(mf_batch_get(r, name, &c, &err), MF_E_OK);
    assert_int_equal(c->counts[MF_MAILBOX_STOPPED], N);
    assert_int_equal(c->counts[MF_MAILBOX_QUEUED], 0);
    mf_batch_config_free(&c);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_OK);
    assert_int_equal(count_keys(r, name), 0);
    mf_redis_free(&r);
}

struct exp_ctx {
    int n;
    char email[64];
    uint32_t attempt;
    char worker[64];
    bool result_due;
};

static mf_err
exp_cb(void *ud, const struct mf_batch_expired *e) {
    struct exp_ctx *x = ud;

    x->n++;
    snprintf(x->email, sizeof(x->email), "%s", e->email);
    snprintf(x->worker, sizeof(x->worker), "%s", e->worker);
    x->attempt = e->attempt;
    x->result_due = e->result_due;
    return MF_E_OK;
}

static struct exp_ctx
expired(struct mf_redis *r, const char *name) {
    struct exp_ctx x = {0};
    struct mf_error err = {0};

    assert_int_equal(mf_batch_expired_claims(r, name, exp_cb, &x, &err),
                     MF_E_OK);
    return x;
}

/* A finished job whose result never reaches the service (lost between
 * the worker and the service): its claim outlives the release by
 * MF_BATCH_RESULT_WAIT_TTLS claim TTLs, then is requeued as a lost
 * result, but only by a caller that has read every result so far; the
 * late result is then stale. Lost results count toward max_attempts. */
static void
test_result_lost(void **state) {
    enum {
        TTL = 100,
        WAIT_US = (MF_BATCH_RESULT_WAIT_TTLS * TTL + 100) * 1000
    };
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    struct mf_batch_requeued q;
    struct mf_error err = {0};
    struct exp_ctx x;
    char name[80];

    (void)state;
    assert_int_equal(started(r, name, sizeof(name), "rlost", 1, 2), 1);
    claim_job(r, name, "m0@x.org", "w1", TTL, &l);
    assert_int_equal(mf_batch_release(r, &l, true, &err), MF_E_OK);
    usleep(3 * TTL * 1000); /* past the claim's own TTL */
    assert_int_equal(expired(r, name).n, 0);
    usleep(WAIT_US);
    x = expired(r, name);
    assert_int_equal(x.n, 1);
    assert_true(x.result_due);
    assert_string_equal(x.worker, "w1");
    /* Maybe still on its way: not for a service behind on results. */
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_CLAIMED);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_SYNCING);
    mf_batch_mailbox_free(&mb);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", true, &q, &err),
                     MF_E_OK);
    assert_true(q.result_lost);
    assert_false(q.dead);
    assert_int_equal(q.job.attempt, 2);
    /* The result comes after all: attempt 1 is no longer current. */
    result(r, name, &l, MF_OUTCOME_SYNCED, 10, &ap);
    assert_false(ap.applied);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_QUEUED);
    mf_batch_mailbox_free(&mb);
    /* Attempt 2 loses its result too: max_attempts 2, Failed. */
    claim_job(r, name, "m0@x.org", "w2", TTL, &l);
    assert_int_equal(mf_batch_release(r, &l, true, &err), MF_E_OK);
    usleep(WAIT_US);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", true, &q, &err),
                     MF_E_OK);
    assert_true(q.result_lost);
    assert_true(q.dead);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_FAILED);
    assert_int_equal(mb->error_code, MF_E_LEASE_LOST);
    assert_non_null(strstr(mb->error_detail, "w2 finished, but its result"));
    mf_batch_mailbox_free(&mb);
    assert_int_equal(bstate(r, name), MF_BATCH_SYNCED_WITH_ERRORS);
    mf_itest_batch_end(&r, name);
}

static bool progress(struct mf_redis *r, const char *name,
                     const struct mf_batch_lease *l, uint32_t attempt,
                     uint64_t seq, uint64_t done);

/* Expiry -> found -> requeued with the next attempt; stale attempts are
 * refused; after max attempts the mailbox is Failed ("worker lost"). A
 * graceful release is requeued at once and does not count. What a lost
 * attempt copied (its last progress) stays in the mailbox's counts. */
static void
test_expiry_requeue(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l, l2;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    struct mf_error err = {0};
    struct exp_ctx x;
    char name[80], job1[MF_BATCH_JOB_ID_MAX];
    struct mf_batch_requeued q;

    (void)state;
    assert_int_equal(started(r, name, sizeof(name), "expiry", 2, 3), 2);
    claim_job(r, name, "m0@x.org", "w1", 150, &l);
    snprintf(job1, sizeof(job1), "%s", l.job_id);
    assert_true(progress(r, name, &l, 1, 1, 30));
    assert_int_equal(expired(r, name).n, 0);
    usleep(300 * 1000);
    x = expired(r, name);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.email, "m0@x.org");
    assert_string_equal(x.worker, "w1");
    assert_int_equal(x.attempt, 1);
    /* The old holder finds out. */
    assert_int_equal(mf_batch_renew(r, &l, 1000, &err), MF_E_LEASE_LOST);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_OK);
    assert_false(q.dead);
    assert_int_equal(q.job.attempt, 2);
    assert_string_equal(q.job.job_id, job1);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->stats.messages_copied, 30);
    assert_int_equal(mb->stats.bytes_copied, 30000);
    assert_int_equal(mb->messages_done, 0);
    mf_batch_mailbox_free(&mb);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_STATE);
    /* The stale attempt 1 (a re-delivered Kafka message) must not run. */
    assert_int_equal(mf_batch_claim(r, name, "m0@x.org", job1, 1, "w9", NULL,
                                    1000, &l2, &err),
                     MF_E_STATE);
    assert_non_null(strstr(err.detail, "stale"));
    /* Attempt 2: live claim excludes others. */
    claim_job(r, name, "m0@x.org", "w2", 150, &l);
    assert_int_equal(l.attempt, 2);
    assert_true(progress(r, name, &l, 2, 1, 20));
    assert_int_equal(mf_batch_claim(r, name, "m0@x.org", job1, 2, "w9", NULL,
                                    1000, &l2, &err),
                     MF_E_CLAIMED);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_CLAIMED);
    usleep(300 * 1000);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_OK);
    assert_int_equal(q.job.attempt, 3);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->stats.messages_copied, 30 + 20);
    mf_batch_mailbox_free(&mb);
    claim_job(r, name, "m0@x.org", "w3", 150, &l);
    usleep(300 * 1000);
    assert_int_equal(mf_batch_requeue(r, name, "m0@x.org", false, &q, &err),
                     MF_E_OK);
    assert_true(q.dead);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_FAILED);
    assert_int_equal(mb->error_code, MF_E_LEASE_LOST);
    assert_string_equal(mb->error_name, "LEASE_LOST");
    assert_non_null(strstr(mb->error_detail, "worker lost"));
    assert_int_equal(mb->attempts_total, 3);
    mf_batch_mailbox_free(&mb);

    /* Graceful releases: requeued at once, never dead. */
    for (int i = 0; i < 5; i++) {
        claim_job(r, name, "m1@x.org", "w4", 60000, &l);
        assert_int_equal(mf_batch_release(r, &l, false, &err), MF_E_OK);
        x = expired(r, name);
        assert_int_equal(x.n, 1);
        assert_int_equal(mf_batch_requeue(r, name, "m1@x.org", false, &q, &err),
                         MF_E_OK);
        assert_false(q.dead);
        assert_int_equal(q.job.attempt, (uint32_t)i + 2);
    }
    /* A finished job's claim is not requeued while its result travels. */
    claim_job(r, name, "m1@x.org", "w4", 100, &l);
    assert_int_equal(mf_batch_release(r, &l, true, &err), MF_E_OK);
    usleep(200 * 1000);
    assert_int_equal(expired(r, name).n, 0);
    result(r, name, &l, MF_OUTCOME_SYNCED, 10, &ap);
    assert_true(ap.applied);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED_WITH_ERRORS);
    mf_itest_batch_end(&r, name);
}

static bool
progress(struct mf_redis *r, const char *name, const struct mf_batch_lease *l,
         uint32_t attempt, uint64_t seq, uint64_t done) {
    struct mf_batch_progress p = {.job_id = l->job_id,
                                  .attempt = attempt,
                                  .seq = seq,
                                  .messages_total = 100,
                                  .messages_done = done,
                                  .bytes_done = done * 1000,
                                  .folders_total = 4,
                                  .folders_done = 1};
    struct mf_error err = {0};
    bool applied = false;

    assert_int_equal(
        mf_batch_apply_progress(r, name, l->email, &p, &applied, &err),
        MF_E_OK);
    return applied;
}

/* Old progress is ignored; a result is applied once. */
static void
test_progress_and_result_once(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    char name[80];

    (void)state;
    started(r, name, sizeof(name), "once", 1, 0);
    claim_job(r, name, "m0@x.org", "w1", 60000, &l);
    assert_true(progress(r, name, &l, 1, 2, 20));
    assert_false(progress(r, name, &l, 1, 1, 10)); /* older */
    assert_false(progress(r, name, &l, 1, 2, 25)); /* same seq */
    assert_false(progress(r, name, &l, 2, 9, 90)); /* not this attempt */
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->messages_done, 20);
    assert_int_equal(mb->progress_seq, 2);
    mf_batch_mailbox_free(&mb);
    assert_true(progress(r, name, &l, 1, 3, 30));
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->messages_done, 30);
    assert_int_equal(mb->folders_total, 4);
    mf_batch_mailbox_free(&mb);

    result(r, name, &l, MF_OUTCOME_SYNCED, 40, &ap);
    assert_true(ap.applied);
    assert_false(ap.requeue);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED);
    /* The duplicate delivery changes nothing. */
    result(r, name, &l, MF_OUTCOME_SYNCED, 40, &ap);
    assert_false(ap.applied);
    result(r, name, &l, MF_OUTCOME_FAILED, 77, &ap);
    assert_false(ap.applied);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_SYNCED);
    assert_int_equal(mb->stats.messages_copied, 40);
    assert_int_equal(mb->stats.bytes_copied, 40000);
    assert_int_equal(mb->stats.messages_source, 100);
    assert_int_equal(mb->stats.skipped_too_large, 2);
    assert_int_equal(mb->error_code, 0);
    assert_true(mb->synced_once);
    assert_string_equal(mb->worker, "w1");
    assert_string_equal(mb->claim_worker, "");
    mf_batch_mailbox_free(&mb);
    /* Progress after the result is ignored too. */
    assert_false(progress(r, name, &l, 1, 10, 50));
    assert_int_equal(bstate(r, name), MF_BATCH_SYNCED);
    mf_itest_batch_end(&r, name);
}

/* A pass of the two-mailbox batch: w1 claims m0@x.org, w2 m1@x.org, and
 * their results come in, m0's first (outcome o0, copied0 messages copied),
 * then m1's; fails unless the batch is in state after0 after m0's result
 * and in after1 after m1's. */
static void
both_results(struct mf_redis *r, const char *name, enum mf_outcome o0,
             uint64_t copied0, enum mf_batch_state after0, enum mf_outcome o1,
             uint64_t copied1, enum mf_batch_state after1) {
    struct mf_batch_lease l0, l1;
    struct mf_batch_applied ap;

    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    claim_job(r, name, "m1@x.org", "w2", 60000, &l1);
    result(r, name, &l0, o0, copied0, &ap);
    assert_int_equal(ap.batch_state, after0);
    result(r, name, &l1, o1, copied1, &ap);
    assert_int_equal(ap.batch_state, after1);
}

/* Full pass with an error, incremental pass, final pass. */
static void
test_passes(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l0, l1;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    struct mf_batch_job job;
    struct mf_error err = {0};
    enum mf_batch_state st;
    char name[80];

    (void)state;
    mf_itest_name(name, sizeof(name), "passes");
    create(r, name, 2, 0);
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_SYNC, NULL, NULL, NULL, &err),
        MF_E_STATE);
    assert_non_null(strstr(err.detail, "Created"));
    begin(r, name, MF_BATCH_OP_START, NULL, &st);
    assert_int_equal(st, MF_BATCH_SYNCING);
    /* A second start while running is refused. */
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_START, NULL, NULL, NULL, &err),
        MF_E_STATE);
    both_results(r, name, MF_OUTCOME_SYNCED, 10, MF_BATCH_SYNCING,
                 MF_OUTCOME_FAILED, 1, MF_BATCH_SYNCED_WITH_ERRORS);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_FAILED);
    assert_int_equal(mb->error_code, MF_E_AUTH);
    assert_string_equal(mb->error_name, "AUTH");
    assert_string_equal(mb->error_detail, "NO [AUTHFAILED] bad");
    mf_batch_mailbox_free(&mb);

    /* Incremental: m0 incremental, m1 full again (never synced). */
    assert_int_equal(begin(r, name, MF_BATCH_OP_SYNC, &job, &st), 2);
    assert_int_equal(st, MF_BATCH_INCREMENTAL_SYNCING);
    assert_int_equal(job.kind, MF_JOB_KIND_INITIAL);
    assert_int_equal(job.pass, 2);
    assert_non_null(strstr(job.job_id, "/2/full"));
    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    claim_job(r, name, "m1@x.org", "w2", 60000, &l1);
    assert_non_null(strstr(l0.job_id, "/2/incremental"));
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_INCREMENTAL_SYNCING);
    mf_batch_mailbox_free(&mb);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_SYNCING);
    mf_batch_mailbox_free(&mb);
    result(r, name, &l0, MF_OUTCOME_SYNCED, 5, &ap);
    result(r, name, &l1, MF_OUTCOME_SYNCED, 5, &ap);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->stats.messages_copied, 15); /* accumulated */
    assert_true(mb->stats.seconds > 4.9 && mb->stats.seconds < 5.1);
    mf_batch_mailbox_free(&mb);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->error_code, 0); /* cleared by the success */
    mf_batch_mailbox_free(&mb);

    /* Final pass. */
    assert_int_equal(begin(r, name, MF_BATCH_OP_COMPLETE, &job, &st), 2);
    assert_int_equal(st, MF_BATCH_COMPLETING);
    assert_int_equal(job.kind, MF_JOB_KIND_FINAL);
    both_results(r, name, MF_OUTCOME_SYNCED, 1, MF_BATCH_COMPLETING,
                 MF_OUTCOME_SYNCED, 1, MF_BATCH_COMPLETED);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_COMPLETED);
    mf_batch_mailbox_free(&mb);
    assert_int_equal(
        mf_batch_begin_pass(r, name, MF_BATCH_OP_SYNC, NULL, NULL, NULL, &err),
        MF_E_STATE);
    mf_itest_batch_end(&r, name);
}

/* Stop with a mailbox running, resume, a transient failure (retry). */
static void
test_stop_resume(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l0, l1, l2;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    struct mf_error err = {0};
    enum mf_batch_state st;
    char name[80], old2[MF_BATCH_JOB_ID_MAX];
    bool stop = true;

    (void)state;
    started(r, name, sizeof(name), "stop", 3, 0);
    assert_int_equal(mf_batch_stop_requested(r, name, &stop, &err), MF_E_OK);
    assert_false(stop);
    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    claim_job(r, name, "m1@x.org", "w2", 60000, &l1);
    mb = mb_get(r, name, "m2@x.org");
    snprintf(old2, sizeof(old2), "%s", mb->job_id);
    mf_batch_mailbox_free(&mb);
    result(r, name, &l1, MF_OUTCOME_SYNCED, 3, &ap);
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPING);
    assert_int_equal(mf_batch_stop_requested(r, name, &stop, &err), MF_E_OK);
    assert_true(stop);
    /* The one-HGET state read that embedded migrate polls. */
    st = MF_BATCH_CREATED;
    assert_int_equal(mf_batch_state_read(r, name, &st, &err), MF_E_OK);
    assert_int_equal(st, MF_BATCH_STOPPING);
    assert_int_equal(mf_batch_state_read(r, "no-such-batch", &st, &err),
                     MF_E_NOT_FOUND);
    stop = false;
    assert_int_equal(mf_batch_stop_requested(r, "no-such-batch", &stop, &err),
                     MF_E_OK);
    assert_true(stop);
    assert_int_equal(mf_batch_renew(r, &l0, 60000, &err), MF_E_OK);
    assert_true(l0.stop_requested);
    /* m2 was Queued: Stopped now, its job may no longer run. */
    assert_int_equal(mf_batch_claim(r, name, "m2@x.org", old2, 1, "w3", NULL,
                                    1000, &l2, &err),
                     MF_E_STATE);
    result(r, name, &l0, MF_OUTCOME_STOPPED, 2, &ap);
    assert_int_equal(ap.batch_state, MF_BATCH_STOPPED);
    assert_int_equal(mf_batch_stop(r, name, &st, &err), MF_E_STATE);

    /* Resume: only m0 and m2 get a job. */
    assert_int_equal(begin(r, name, MF_BATCH_OP_START, NULL, &st), 2);
    assert_int_equal(st, MF_BATCH_SYNCING);
    mb = mb_get(r, name, "m1@x.org");
    assert_int_equal(mb->state, MF_MAILBOX_SYNCED);
    mf_batch_mailbox_free(&mb);
    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    claim_job(r, name, "m2@x.org", "w3", 60000, &l2);
    assert_int_equal(l2.attempt, 1);
    assert_non_null(strstr(l2.job_id, "/2/full"));
    /* A transient failure: the next attempt of the same job. */
    result(r, name, &l0, MF_OUTCOME_RETRY, 1, &ap);
    assert_true(ap.applied);
    assert_true(ap.requeue);
    assert_false(ap.dead);
    assert_int_equal(ap.job.attempt, 2);
    assert_string_equal(ap.job.job_id, l0.job_id);
    assert_string_equal(ap.job.email, "m0@x.org");
    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    assert_int_equal(l0.attempt, 2);
    result(r, name, &l0, MF_OUTCOME_SYNCED, 1, &ap);
    result(r, name, &l2, MF_OUTCOME_SYNCED, 1, &ap);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->stats.messages_copied, 2 + 1 + 1);
    mf_batch_mailbox_free(&mb);
    mf_itest_batch_end(&r, name);
}

struct dump {
    struct mf_buf all;
    const char *tag;
    int untagged;
};

static void
dump_key(struct mf_redis *r, const char *key, void *ud) {
    struct dump *d = ud;
    struct mf_error err = {0};
    redisReply *t = NULL, *v = NULL;

    if (!strstr(key, d->tag))
        d->untagged++;
    assert_int_equal(mf_redis_command(r, &t, &err, "TYPE %s", key), MF_E_OK);
    if (strcmp(t->str, "hash") == 0)
        assert_int_equal(mf_redis_command(r, &v, &err, "HGETALL %s", key),
                         MF_E_OK);
    else if (strcmp(t->str, "list") == 0)
        assert_int_equal(mf_redis_command(r, &v, &err, "LRANGE %s 0 -1", key),
                         MF_E_OK);
    else if (strcmp(t->str, "set") == 0)
        assert_int_equal(mf_redis_command(r, &v, &err, "SMEMBERS %s", key),
                         MF_E_OK);
    else if (strcmp(t->str, "zset") == 0)
        assert_int_equal(mf_redis_command(r, &v, &err, "ZRANGE %s 0 -1", key),
                         MF_E_OK);
    freeReplyObject(t);
    for (size_t i = 0; v && i < v->elements; i++)
        mf_buf_append(&d->all, v->element[i]->str, v->element[i]->len);
    if (v)
        freeReplyObject(v);
}

/* The report from the records; hash tags; nothing in the clear. */
static void
test_report_keys_secrets(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l0, l1;
    struct mf_batch_applied ap;
    struct mf_report_batch *rep = NULL;
    struct mf_checkpoint ck = {.uidvalidity = 5, .last_uid = 9};
    struct mf_error err = {0};
    struct dump d = {0};
    char name[80], tag[100], *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    started(r, name, sizeof(name), "report", 2, 0);
    claim_job(r, name, "m0@x.org", "w1", 60000, &l0);
    claim_job(r, name, "m1@x.org", "w2", 60000, &l1);
    assert_true(progress(r, name, &l0, 1, 1, 5));
    assert_int_equal(mf_checkpoint_put(r, name, "m0@x.org", "INBOX", &ck, &err),
                     MF_E_OK);
    result(r, name, &l0, MF_OUTCOME_SYNCED, 40, &ap);
    result(r, name, &l1, MF_OUTCOME_FAILED, 0, &ap);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED_WITH_ERRORS);

    assert_int_equal(mf_batch_report(r, name, &rep, &err), MF_E_OK);
    assert_string_equal(rep->name, name);
    assert_string_equal(rep->state, "SyncedWithErrors");
    assert_int_equal(rep->n_mailboxes, 2);
    assert_string_equal(rep->mailboxes[0].email, "m0@x.org");
    assert_int_equal(rep->mailboxes[0].state, MF_REPORT_SYNCED);
    assert_int_equal(rep->mailboxes[0].copied_messages, 40);
    assert_int_equal(rep->mailboxes[0].n_skipped_items, 2);
    assert_string_equal(rep->mailboxes[0].skipped_items[0].subject,
                        "Huge attachment");
    assert_int_equal(rep->mailboxes[0].skipped_items[0].reason,
                     MF_REPORT_SKIP_TOO_LARGE);
    assert_int_equal(rep->mailboxes[0].failed.n, 1);
    assert_string_equal(rep->mailboxes[0].failed.items[0].error_text,
                        "NO [LIMIT] too big");
    assert_int_equal(rep->mailboxes[1].state, MF_REPORT_FAILED);
    assert_int_equal(rep->mailboxes[1].error_code, MF_E_AUTH);
    assert_string_equal(rep->mailboxes[1].worker, "w2");
    assert_int_equal(rep->mailboxes[1].attempts, 1);
    assert_true(rep->n_samples >= 1);
    f = open_memstream(&text, &len);
    assert_int_equal(mf_report_write_json(rep, f), MF_E_OK);
    fclose(f);
    assert_non_null(strstr(text, "Huge attachment"));
    assert_null(strstr(text, "SEALED"));
    free(text);
    mf_report_free(&rep);

    /* Every key of the batch carries its hash tag; no plaintext. */
    snprintf(tag, sizeof(tag), "{b:%s}", name);
    d.tag = tag;
    assert_true(scan_keys(r, name, dump_key, &d) >= 8);
    assert_int_equal(d.untagged, 0);
    assert_non_null(memmem(d.all.data, d.all.len, blob_a, sizeof(blob_a)));
    assert_non_null(
        memmem(d.all.data, d.all.len, blob_admin, sizeof(blob_admin)));
    assert_null(memmem(d.all.data, d.all.len, PLAINTEXT, strlen(PLAINTEXT)));
    mf_buf_free(&d.all);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_OK);
    assert_int_equal(count_keys(r, name), 0);
    mf_redis_free(&r);
}

/* Envelope bodies as the coordinator decodes them. */
static void
test_envelope(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_lease l;
    struct mf_batch_mailbox *mb;
    struct mf_batch_applied ap;
    struct mf_error err = {0};
    char name[80];
    bool applied = false;
    struct mf_result_item sk = {.folder = "INBOX",
                                .uid = 4,
                                .size = 9000,
                                .internal_date = "1700000001",
                                .subject = "Big",
                                .error_code = MF_E_MESSAGE_TOO_LARGE};
    struct mf_progress p = {0};
    struct mf_result res = {0};

    (void)state;
    started(r, name, sizeof(name), "env", 1, 0);
    claim_job(r, name, "m0@x.org", "w1", 60000, &l);
    p.batch = name, p.mailbox = "m0@x.org", p.job_id = l.job_id;
    p.attempt = 1, p.sequence = 1, p.counters.messages_copied = 3;
    p.counters.messages_already_present = 2, p.counters.bytes_copied = 300;
    assert_int_equal(mf_batch_apply_envelope_progress(r, &p, &applied, &err),
                     MF_E_OK);
    assert_true(applied);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->messages_done, 5);
    assert_int_equal(mb->bytes_done, 300);
    mf_batch_mailbox_free(&mb);
    res.batch = name, res.mailbox = "m0@x.org", res.job_id = l.job_id;
    res.attempt = 1, res.worker = "w1", res.outcome = MF_OUTCOME_SYNCED;
    res.counters.folders_done = 2, res.counters.messages_copied = 7;
    res.counters.messages_skipped_too_large = 1;
    res.counters.messages_skipped_excluded = 4;
    res.started_at_ms = 1000, res.finished_at_ms = 4500;
    res.skipped = &sk, res.nskipped = 1;
    assert_int_equal(mf_batch_apply_envelope_result(r, &res, &ap, &err),
                     MF_E_OK);
    assert_true(ap.applied);
    assert_int_equal(ap.batch_state, MF_BATCH_SYNCED);
    assert_int_equal(mf_batch_apply_envelope_result(r, &res, &ap, &err),
                     MF_E_OK);
    assert_false(ap.applied);
    mb = mb_get(r, name, "m0@x.org");
    assert_int_equal(mb->stats.messages_copied, 7);
    assert_int_equal(mb->stats.folders_copied, 2);
    assert_int_equal(mb->skipped_excluded, 4);
    assert_true(mb->stats.seconds > 3.4 && mb->stats.seconds < 3.6);
    mf_batch_mailbox_free(&mb);
    {
        struct mf_report_batch *rep = NULL;
        assert_int_equal(mf_batch_report(r, name, &rep, &err), MF_E_OK);
        assert_int_equal(rep->mailboxes[0].n_skipped_items, 1);
        assert_int_equal(rep->mailboxes[0].skipped_items[0].internal_date,
                         1700000001);
        assert_int_equal(rep->mailboxes[0].skipped[MF_REPORT_SKIP_EXCLUDED], 4);
        mf_report_free(&rep);
    }
    mf_itest_batch_end(&r, name);
}

/* Issue 17 item 2: a batch removed and created again under the same
 * name, within the same second, is another generation (old jobs are
 * stale); a batch stored before generations were random keeps its
 * creation second as its generation. */
static void
test_generation(void **state) {
    struct mf_redis *r = mf_itest_redis();
    struct mf_batch_config *c1 = NULL, *c2 = NULL;
    struct mf_error err = {0};
    redisReply *reply = NULL;
    struct mf__batch_keys k;
    char name[64];
    uint64_t g1, g2;

    (void)state;
    mf_itest_name(name, sizeof(name), "gen");
    create(r, name, 2, 3);
    assert_int_equal(mf_batch_get(r, name, &c1, &err), MF_E_OK);
    assert_int_equal(mf_batch_remove(r, name, &err), MF_E_OK);
    create(r, name, 2, 3);
    assert_int_equal(mf_batch_get(r, name, &c2, &err), MF_E_OK);
    g1 = mf_jobs_batch_generation(c1);
    g2 = mf_jobs_batch_generation(c2);
    assert_true(c1->generation != 0 && g1 == c1->generation);
    assert_true(g1 != g2);
    /* Most likely within the same second: what the old generation
     * (the creation second) could not tell apart. */
    if (c1->created == c2->created)
        print_message("re-created within the same second: generations "
                      "%llu and %llu\n",
                      (unsigned long long)g1, (unsigned long long)g2);
    mf_batch_config_free(&c2);

    /* A batch created before the field existed: its creation second. */
    mf__batch_keys(&k, name);
    assert_int_equal(
        mf_redis_command(r, &reply, &err, "HDEL %s generation", k.batch),
        MF_E_OK);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    assert_int_equal(mf_batch_get(r, name, &c2, &err), MF_E_OK);
    assert_int_equal(c2->generation, 0);
    assert_true(c2->created > 0);
    assert_true(mf_jobs_batch_generation(c2) == (uint64_t)c2->created);
    mf_batch_config_free(&c1);
    mf_batch_config_free(&c2);
    mf_itest_batch_end(&r, name);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_claim_race),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_expiry_requeue),
        cmocka_unit_test(test_result_lost),
        cmocka_unit_test(test_progress_and_result_once),
        cmocka_unit_test(test_passes),
        cmocka_unit_test(test_stop_resume),
        cmocka_unit_test(test_report_keys_secrets),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_generation),
    };

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    sealed(blob_a, sizeof(blob_a));
    sealed(blob_b, sizeof(blob_b));
    sealed(blob_admin, sizeof(blob_admin));
    /* MF_TEST_REDIS_FIXTURE=redis_auth: the same suite against the
     * server that requires AUTH (integration.batch.records_auth). */
    return MF_ITEST_REDIS_RUN(tests, MF_ITEST_DB_DEFAULT, "t");
}
