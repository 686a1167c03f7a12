/*
 * `mailferry batch verify NAME --redis URL --master-key-file F`: `verify`
 * for every mailbox of a stored batch, from the batch's own definition
 * (servers, admins, folder rules, size cap and caps) and its sealed
 * passwords, opened here right before each login and wiped after it, as
 * a worker does (worker/job.c). The results go into the batch, so that
 * `batch report` shows them. Without --kafka it runs in this process (N
 * mailboxes at a time); with --kafka each mailbox is one verify job
 * through the fleet (core/src/verify/fleet.c), optionally waited for
 * (--wait).
 *
 * Exit: as `verify` (0 equal, 1 a difference, 3 a mailbox not verified
 * or the batch unreadable), 2 a wrong command line.
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/jobs.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdio.h>

static const char usage[] =
    "NAME --redis URL --master-key-file F [--sample N | --deep] "
    "[--concurrency N | --kafka HOST:PORT[,...] [--wait [--timeout T]]] "
    "[--json]";

static const struct mf_option options[] = {
    MF_VERIFY_RUN_OPTIONS{"bind-address", true,
                          "local address for outgoing connections"},
    {"egress-ip", true, "this process's address for the per-IP caps"},
    {"lease-ttl", true, "lifetime of a connection lease (30s)"},
    {"wait", false, "with --kafka: wait for every verdict and print them"},
    {"timeout", true, "with --wait: give up after this long (1h)"},
    {NULL, false, NULL},
};

static atomic_bool stop_flag;

/* --kafka: verify jobs through the fleet (mf_verify_fleet_go()). */
static int
fleet(struct cli *cli, const struct mf_verify_batch *b, size_t sample) {
    struct mf_verify_fleet f = {.config = cli->config,
                                .redis = b->redis,
                                .kr = b->kr,
                                .batch = b->batch,
                                .jobs = b->jobs,
                                .n = b->n,
                                .sample = sample,
                                .json = cli->json,
                                .stop = &stop_flag};
    struct mf_error err = {0};

    if (mf_config_get_bool(cli->config, "wait", false, &f.wait, &err) ||
        mf_config_get_u64(cli->config, "timeout", 3600, 1, 7 * 86400,
                          MF_UNIT_SECONDS, &f.timeout_s, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    return (int)mf_verify_fleet_go(&f);
}

/* The command line: -1 to go on, else the exit code. */
static int
read_command(struct cli *cli, int argc, char **argv, uint64_t *concurrency_r,
             struct mf_verify_run *r, struct mf_verify_batch *b) {
    struct mf_error err = {0};
    uint64_t ttl;

    if (!cli_parse(cli, "batch verify", usage, options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    b->redis_url = mf_config_get(cli->config, "redis", NULL);
    b->bind_address = mf_config_get(cli->config, "bind-address", NULL);
    b->egress_ip = mf_config_get(cli->config, "egress-ip", NULL);
    if (cli->npositional != 1 || !b->redis_url ||
        !mf_config_get(cli->config, "master-key-file", NULL)) {
        fprintf(stderr, "usage: mailferry batch verify %s\n", usage);
        return MF_EXIT_USAGE;
    }
    if (mf_verify_options_read(cli->config, concurrency_r, &r->vo, &err) ||
        mf_config_get_u64(cli->config, "lease-ttl", 30, 1, 3600,
                          MF_UNIT_SECONDS, &ttl, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    b->lease_ttl_ms = (long)ttl * 1000;
    b->batch = cli->positional[0];
    b->stop = &stop_flag;
    return -1;
}

int
cmd_batch_verify(int argc, char **argv) {
    struct cli cli;
    struct mf_verify_batch b = {0};
    struct mf_verify_run r = {0};
    struct mf_crypto_keyring *kr = NULL;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    uint64_t concurrency;
    int exit_code;

    if ((exit_code = read_command(&cli, argc, argv, &concurrency, &r, &b)) >= 0)
        goto out;
    exit_code = MF_EXIT_ERROR;
    if (mf_crypto_keyring_load(
            mf_config_get(cli.config, "master-key-file", NULL), &kr, &err) ||
        mf_redis_connect(b.redis_url, 0, &redis, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
        goto out;
    }
    b.kr = kr;
    b.redis = redis;
    if (mf_verify_batch_load(&b, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
        goto out;
    }
    cli_catch_signals(&stop_flag);
    if (mf_config_get(cli.config, "kafka", NULL)) {
        exit_code = fleet(&cli, &b, r.vo.sample);
        goto out;
    }
    mf_verify_batch_run(&b, &r);
    exit_code = (int)mf_verify_run_go(&r, (unsigned)concurrency, redis, b.batch,
                                      cli.json);
out:
    mf_verify_run_free(&r);
    mf_verify_batch_free(&b);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
