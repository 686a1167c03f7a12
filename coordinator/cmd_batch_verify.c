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
#include "mailferry/profile.h"
#include "mailferry/batch.h"
#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/jobs.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"
#include "verify_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "NAME --redis URL --master-key-file F [--sample N | --deep] "
    "[--concurrency N | --kafka HOST:PORT[,...] [--wait [--timeout T]]] "
    "[--json]";

static const struct cli_option options[] = {
    VERIFY_RUN_OPTIONS{"bind-address", true,
                       "local address for outgoing connections"},
    {"egress-ip", true, "this process's address for the per-IP caps"},
    {"lease-ttl", true, "lifetime of a connection lease (30s)"},
    {"wait", false, "with --kafka: wait for every verdict and print them"},
    {"timeout", true, "with --wait: give up after this long (1h)"},
    {NULL, false, NULL},
};

static atomic_bool stop_flag;

struct ctx {
    const char *batch;
    const struct mf_crypto_keyring *kr;
    const struct mf_batch_config *cfg;
    struct mf_job *jobs; /* n, owned */
    char **emails;       /* n, owned */
    size_t n;
    struct mf_error err; /* the first mailbox that could not be read */
};

static mf_err
collect(void *ud, const struct mf_batch_mailbox *mb) {
    struct ctx *c = ud;
    struct mf_batch_job bj = {0};
    struct mf_job job;

    snprintf(bj.email, sizeof(bj.email), "%s", mb->cfg.email);
    snprintf(bj.job_id, sizeof(bj.job_id), "%s/%s/verify", c->batch,
             mb->cfg.email);
    bj.kind = MF_JOB_KIND_INITIAL;
    if (mf_jobs_build(c->kr, c->cfg, &mb->cfg, &bj, &job, &c->err) != MF_E_OK)
        return c->err.code;
    c->jobs = mf_xreallocarray(c->jobs, c->n + 1, sizeof(*c->jobs));
    c->emails = mf_xreallocarray(c->emails, c->n + 1, sizeof(*c->emails));
    c->jobs[c->n] = job;
    c->emails[c->n++] = mf_xstrdup(mb->cfg.email);
    return MF_E_OK;
}

/* What a mailbox's logins hold while it is verified. */
struct hold {
    struct mf_crypto_secret *secret[2]; /* owned, wiped */
    struct mf_oauth *oauth[2];          /* owned */
};

/* One side's login from the job, its secret opened into h (for an OAuth2
 * side: a token source made from the key it holds, as a worker does). */
static mf_err
open_side(const struct ctx *c, const struct mf_job *job, bool target,
          struct mf_migrate_login *lg, struct hold *h, struct mf_error *err) {
    const struct mf_job_credentials *cr = target ? &job->target : &job->source;
    const char *purpose =
        target ? MF_JOBS_PURPOSE_TARGET : MF_JOBS_PURPOSE_SOURCE;
    struct mf_crypto_secret **s_r = &h->secret[target];
    mf_err rc;

    memset(lg, 0, sizeof(*lg));
    lg->user = cr->login;
    lg->authzid = cr->authorization_id && *cr->authorization_id
                      ? cr->authorization_id
                      : NULL;
    if (!cr->has_password)
        return mf_error_set(err, MF_E_CONFIG, "no %s password",
                            target ? "target" : "source");
    /* Sealed for this job's login, endpoints and generation, as a
     * worker opens it (mf_jobs_build()). */
    rc = mf_jobs_open_secret(c->kr, c->cfg, job, purpose, s_r, err);
    if (!target)
        lg->user_root =
            job->user_root && *job->user_root ? job->user_root : NULL;
    if (rc != MF_E_OK)
        return rc;
    if (!cr->oauth) {
        lg->password = (const char *)(*s_r)->data;
        return MF_E_OK;
    }
    rc = mf_jobs_oauth_new(c->cfg, purpose, *s_r, &h->oauth[target], err);
    mf_crypto_secret_free(s_r);
    lg->oauth = h->oauth[target];
    lg->oauth_mailbox = cr->login;
    return rc;
}

static void
hold_free(struct hold *h) {
    for (int i = 0; i < 2; i++) {
        mf_crypto_secret_free(&h->secret[i]);
        mf_oauth_free(&h->oauth[i]);
    }
    free(h);
}

static mf_err
job_login(void *ud, size_t i, struct mf_migrate_login *src,
          struct mf_migrate_login *dst, void **hold, struct mf_error *err) {
    struct ctx *c = ud;
    struct hold *h = mf_xcalloc(1, sizeof(*h));
    mf_err rc;

    if ((rc = open_side(c, &c->jobs[i], false, src, h, err)) ||
        (rc = open_side(c, &c->jobs[i], true, dst, h, err))) {
        hold_free(h);
        return rc;
    }
    *hold = h;
    return MF_E_OK;
}

static void
job_release(void *ud, void *hold) {
    (void)ud;
    hold_free(hold);
}

/* --kafka: verify jobs through the fleet (mf_verify_fleet_go()). */
static int
fleet(struct cli *cli, struct mf_redis *redis,
      const struct mf_crypto_keyring *kr, struct ctx *c, size_t sample) {
    struct mf_verify_fleet f = {.config = cli->config,
                                .redis = redis,
                                .kr = kr,
                                .batch = c->batch,
                                .jobs = c->jobs,
                                .n = c->n,
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

int
cmd_batch_verify(int argc, char **argv) {
    struct cli cli;
    struct ctx c = {0};
    struct mf_verify_run r = {0};
    struct mf_migrate_options mo = {0};
    struct mf_migrate_server src, dst;
    struct mf_migrate_caps caps = {0};
    struct mf_folder_rules *rules = NULL;
    struct mf_crypto_keyring *kr = NULL;
    struct mf_batch_config *cfg = NULL;
    struct mf_redis *redis = NULL;
    struct mf_error err = {0};
    const char *url, *keyfile, *bind;
    uint64_t concurrency, ttl;
    char holder[128];
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "batch verify", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    url = mf_config_get(cli.config, "redis", NULL);
    keyfile = mf_config_get(cli.config, "master-key-file", NULL);
    bind = mf_config_get(cli.config, "bind-address", NULL);
    if (cli.npositional != 1 || !url || !keyfile) {
        fprintf(stderr, "usage: mailferry batch verify %s\n", usage);
        goto out;
    }
    if (!verify_read_options(&cli, "batch verify", &concurrency, &r.vo) ||
        mf_config_get_u64(cli.config, "lease-ttl", 30, 1, 3600, MF_UNIT_SECONDS,
                          &ttl, &err))
        goto out;
    exit_code = MF_EXIT_ERROR;
    c.batch = cli.positional[0];
    if (mf_crypto_keyring_load(keyfile, &kr, &err) ||
        mf_redis_connect(url, 0, &redis, &err) ||
        mf_batch_get(redis, c.batch, &cfg, &err) ||
        mf_jobs_batch_server(cfg, false, bind, &src, &err) ||
        mf_jobs_batch_server(cfg, true, bind, &dst, &err) ||
        mf_batch_config_rules(cfg, &rules, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n", err.detail);
        goto out;
    }
    c.kr = kr;
    c.cfg = cfg;
    if (mf_batch_foreach_mailbox(redis, c.batch, collect, &c, &err)) {
        fprintf(stderr, "mailferry batch verify: %s\n",
                c.err.code ? c.err.detail : err.detail);
        goto out;
    }
    if (mf_config_get(cli.config, "kafka", NULL)) {
        verify_signals(&stop_flag);
        exit_code = fleet(&cli, redis, kr, &c, r.vo.sample);
        goto out;
    }
    mo.source = &src;
    mo.target = &dst;
    mo.rules = rules;
    mo.max_message_size = cfg->max_message_size;
    mo.window = cfg->window;
    mo.source_profile = mf_profile_or_generic(cfg->source_profile);
    mo.target_profile = mf_profile_or_generic(cfg->target_profile);
    if (mf_profile_fingerprint_parse(cfg->fingerprint, &mo.fingerprint,
                                     &mo.fingerprint_set, &err) != MF_E_OK)
        mo.fingerprint_set = false;
    mo.batch = c.batch;
    mo.stop = &stop_flag;
    mf_jobs_batch_caps(&cfg->source_caps, &caps.source);
    mf_jobs_batch_caps(&cfg->target_caps, &caps.target);
    caps.source_bytes_per_second = cfg->source_caps.max_bytes_per_second;
    caps.target_bytes_per_second = cfg->target_caps.max_bytes_per_second;
    if (caps.source.max_connections || caps.source.max_connections_per_user ||
        caps.source.max_connections_per_ip ||
        caps.source.max_concurrent_mailboxes || caps.target.max_connections ||
        caps.target.max_connections_per_user ||
        caps.target.max_connections_per_ip ||
        caps.target.max_concurrent_mailboxes || caps.source_bytes_per_second ||
        caps.target_bytes_per_second) {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(holder, sizeof(holder), "%s/%ld", host, (long)getpid());
        caps.redis_url = url;
        caps.holder = holder;
        caps.egress_ip = mf_config_get(cli.config, "egress-ip", NULL);
        caps.ttl_ms = (long)ttl * 1000;
        mo.caps = &caps;
    }
    r.vo.migrate = &mo;
    r.email = (const char *const *)c.emails;
    r.n = c.n;
    r.login = job_login;
    r.release = job_release;
    r.ud = &c;
    r.stop = &stop_flag;
    verify_signals(&stop_flag);
    exit_code = (int)mf_verify_run_go(&r, (unsigned)concurrency, redis, c.batch,
                                      cli.json);
out:
    mf_verify_run_free(&r);
    for (size_t i = 0; i < c.n; i++) {
        mf_jobs_job_clear(&c.jobs[i]);
        free(c.emails[i]);
    }
    free(c.jobs);
    free(c.emails);
    mf_folder_rules_free(&rules);
    mf_batch_config_free(&cfg);
    mf_crypto_keyring_free(&kr);
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
