/*
 * The part of `mailferry verify` (cmd_verify.c: the mailboxes of a CSV)
 * and `mailferry batch verify` (cmd_batch_verify.c: the mailboxes of a
 * batch) that is the same: mf_verify_mailbox() for every mailbox, N at a
 * time, the results stored in a batch when asked, the text or JSON
 * output, and the exit code.
 */
#ifndef MF_VERIFY_RUN_H
#define MF_VERIFY_RUN_H

#include "cli.h"
#include "mailferry/crypto.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Makes mailbox i's logins; what they point to stays valid until
 * release(ud, hold) (hold: the callback's own state for mailbox i). On
 * failure err says why and release is not called. */
typedef mf_err (*verify_login_fn)(void *ud, size_t i,
                                  struct mf_migrate_login *src,
                                  struct mf_migrate_login *dst, void **hold,
                                  struct mf_error *err);
typedef void (*verify_release_fn)(void *ud, void *hold);

struct verify_run {
    /* Filled by the command. */
    struct mf_verify_options vo;
    const char *const *email; /* n, borrowed */
    size_t n;
    verify_login_fn login;
    verify_release_fn release;
    void *ud;
    const atomic_bool *stop;
    /* Results, owned (verify_run_go() allocates them). */
    struct mf_verify_result *res;
    bool *ran;
    atomic_size_t next;
};

/* Verifies every mailbox with concurrency threads, stores the results in
 * batch when redis is not NULL, prints them (text or JSON) and returns the
 * exit code: 0 all equal, 1 a difference, 3 a mailbox not verified. */
int verify_run_go(struct verify_run *r, unsigned concurrency,
                  struct mf_redis *redis, const char *batch, bool json);
void verify_run_free(struct verify_run *r);

/* Reads --concurrency, --sample and --deep into *concurrency_r and
 * vo->sample; false (said on stderr) on a wrong value. */
bool verify_read_options(struct cli *cli, const char *command,
                         uint64_t *concurrency_r, struct mf_verify_options *vo);
/* Ctrl-C and SIGTERM set *stop (no new mailbox starts). */
void verify_signals(atomic_bool *stop);

/* `batch verify --kafka` (batch_verify_fleet.c): produces jobs[] (built
 * by the caller for every mailbox; their ids, kind and sample are set
 * here) as verify jobs, and with --wait waits for their verdicts and
 * prints them. Returns the exit code: as verify_run_go() with --wait,
 * else 0 once Kafka has the jobs. */
int verify_fleet_go(struct cli *cli, struct mf_redis *redis,
                    const struct mf_crypto_keyring *kr, const char *batch,
                    struct mf_job *jobs, size_t n, size_t sample,
                    const atomic_bool *stop);

/* The options both commands take besides their own. */
#define VERIFY_RUN_OPTIONS                                                     \
    {"concurrency", true,                                                      \
     "mailboxes verified at the same time (default " MF_STR(                   \
         MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},                                 \
        {"sample", true,                                                       \
         "also compare the bodies (SHA-256 of BODY.PEEK[]) of N messages per " \
         "folder, spread over it (default 0: sizes only)"},                    \
        {"deep", false, "compare the bodies of every message"},

#endif
