/*
 * plan_mkbatch: makes a finished test batch in Redis for the plan and
 * compare tests, through the same calls a coordinator and its workers
 * make (batch.h): create, begin the first pass, claim each mailbox's job
 * and apply its result with the given statistics. The estimate reads
 * only these records, so a real copy is not needed to test it.
 *
 *   plan_mkbatch REDIS_URL NAME [--group N] [--sleep-ms MS]
 *                [--max-connections N] [--max-mailboxes N]
 *                EMAIL:STATE:BYTES:MESSAGES:SECONDS[:ATTEMPTS] ...
 *
 * STATE is synced or failed. Mailboxes run in groups of --group (1):
 * a group is claimed, --sleep-ms (1100) pass so that its records get
 * distinct whole-second start and finish times, then its results are
 * applied; the next group starts after. So the batch's peak concurrency
 * is the group size. ATTEMPTS > 1 first applies that many - 1 RETRY
 * results (no statistics), as a worker that lost its connection would.
 * Exit 0 when the batch was made, 1 otherwise (with the reason).
 */
#include "mailferry/batch.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mb {
    char email[256];
    bool synced;
    uint64_t bytes, messages, attempts;
    double seconds;
    struct mf_batch_lease lease;
};

static int
die(const char *what, const struct mf_error *err) {
    fprintf(stderr, "plan_mkbatch: %s: %s\n", what, err ? err->detail : "");
    return 1;
}

static bool
parse_mb(const char *s, struct mb *m) {
    char st[16];
    unsigned long long b, n, a = 1;
    double sec;
    int got;
    const char *colon = strchr(s, ':');

    memset(m, 0, sizeof(*m));
    if (!colon || (size_t)(colon - s) >= sizeof(m->email))
        return false;
    memcpy(m->email, s, (size_t)(colon - s));
    got =
        sscanf(colon + 1, "%15[a-z]:%llu:%llu:%lf:%llu", st, &b, &n, &sec, &a);
    if (got < 4)
        return false;
    m->synced = strcmp(st, "synced") == 0;
    if (!m->synced && strcmp(st, "failed") != 0)
        return false;
    m->bytes = b;
    m->messages = n;
    m->seconds = sec;
    m->attempts = a ? a : 1;
    return true;
}

static void
nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static mf_err
claim(struct mf_redis *r, const char *batch, struct mb *m,
      struct mf_error *err) {
    struct mf_batch_mailbox *rec = NULL;
    mf_err rc;

    if ((rc = mf_batch_mailbox_get(r, batch, m->email, &rec, err)))
        return rc;
    rc = mf_batch_claim(r, batch, m->email, rec->job_id, rec->attempt,
                        "plan-test-worker", NULL, 60000, &m->lease, err);
    mf_batch_mailbox_free(&rec);
    return rc;
}

static mf_err
finish(struct mf_redis *r, const char *batch, struct mb *m, bool retry,
       struct mf_error *err) {
    struct mf_batch_result res = {
        .job_id = m->lease.job_id,
        .attempt = m->lease.attempt,
        .worker = m->lease.worker,
        .outcome = retry       ? MF_OUTCOME_RETRY
                   : m->synced ? MF_OUTCOME_SYNCED
                               : MF_OUTCOME_FAILED,
    };
    struct mf_batch_applied out;

    if (!retry) {
        res.stats.folders_copied = 5;
        res.stats.messages_source = m->messages;
        res.stats.bytes_source = m->bytes;
        res.stats.messages_copied = m->messages;
        res.stats.bytes_copied = m->bytes;
        res.stats.seconds = m->seconds;
        res.stats.attempts = (uint32_t)m->attempts;
    }
    if (retry || !m->synced) {
        res.error_code = retry ? MF_E_DISCONNECTED : MF_E_AUTH;
        res.error_name = mf_err_name(res.error_code);
        res.error_detail = retry ? "connection dropped (test)"
                                 : "NO [AUTHENTICATIONFAILED] (test)";
    }
    return mf_batch_apply_result(r, batch, m->email, &res, &out, err);
}

int
main(int argc, char **argv) {
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    struct mb *mbs;
    struct mf_batch_mailbox_cfg *cfgs;
    struct mf_batch_config cfg = {0};
    enum mf_batch_state state;
    unsigned long group = 1, sleep_ms = 1100;
    size_t n = 0;
    int i = 3;

    if (argc < 4) {
        fprintf(stderr, "usage: plan_mkbatch REDIS_URL NAME [--group N] "
                        "[--sleep-ms MS] [--max-connections N] "
                        "[--max-mailboxes N] EMAIL:STATE:BYTES:MESSAGES:"
                        "SECONDS[:ATTEMPTS] ...\n");
        return 2;
    }
    cfg.name = argv[2];
    cfg.source = "imap://127.0.0.1:1143/?tls=off";
    cfg.target = "imap://127.0.0.1:2143/?tls=off";
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        unsigned long v = strtoul(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--group") == 0)
            group = v ? v : 1;
        else if (strcmp(argv[i], "--sleep-ms") == 0)
            sleep_ms = v;
        else if (strcmp(argv[i], "--max-connections") == 0)
            cfg.source_caps.max_connections = (uint32_t)v;
        else if (strcmp(argv[i], "--max-mailboxes") == 0)
            cfg.source_caps.max_concurrent_mailboxes = (uint32_t)v;
        else
            return die(argv[i], NULL);
    }
    mbs = mf_xcalloc((size_t)argc, sizeof(*mbs));
    cfgs = mf_xcalloc((size_t)argc, sizeof(*cfgs));
    for (; i < argc; i++, n++) {
        if (!parse_mb(argv[i], &mbs[n]))
            return die(argv[i], NULL);
        cfgs[n].email = mbs[n].email;
        cfgs[n].user = mbs[n].email;
    }
    if (mf_redis_connect(argv[1], 0, &r, &err))
        return die("connect", &err);
    if (mf_batch_create(r, &cfg, cfgs, n, &err))
        return die("create", &err);
    if (mf_batch_begin_pass(r, cfg.name, MF_BATCH_OP_START, NULL, NULL, &state,
                            &err))
        return die("begin pass", &err);
    for (size_t g = 0; g < n; g += group) {
        size_t end = g + group < n ? g + group : n;
        for (size_t k = g; k < end; k++) {
            for (uint64_t a = 1; a < mbs[k].attempts; a++) {
                if (claim(r, cfg.name, &mbs[k], &err))
                    return die("claim (retry)", &err);
                if (finish(r, cfg.name, &mbs[k], true, &err))
                    return die("retry", &err);
            }
            if (claim(r, cfg.name, &mbs[k], &err))
                return die("claim", &err);
        }
        nap_ms((long)sleep_ms);
        for (size_t k = g; k < end; k++)
            if (finish(r, cfg.name, &mbs[k], false, &err))
                return die("result", &err);
    }
    if (mf_batch_settle(r, cfg.name, &state, &err))
        return die("settle", &err);
    printf("%s %s\n", cfg.name, mf_batch_state_name(state));
    mf_redis_free(&r);
    free(mbs);
    free(cfgs);
    return 0;
}
