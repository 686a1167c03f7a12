/*
 * `mailferry endpoint test` and `mailferry endpoint dns`: the preflight
 * checks an admin runs before a batch and before the MX switch
 * (docs/design.md §1, §3; docs/preflight.md). The checks live in core
 * (mailferry/preflight.h), and so does what they print; this file reads
 * the options and secrets, runs the checks and chooses the exit code.
 *
 * Exit codes (besides cli.h's 0 OK, 1 FAIL, 2 USAGE, 3 ERROR):
 *   endpoint test: 4 cannot connect (DNS, refused, timeout),
 *                  5 TLS (handshake, STARTTLS, certificate not trusted),
 *                  6 authentication (admin, impersonation or user login);
 *                  1 anything else that failed (a required capability).
 *   endpoint dns:  4 an MX TTL is above 3600 s (the records were found;
 *                  not 2, which means a usage error for every command);
 *                  1 the lookup failed or found no MX record.
 */
#include "cli.h"
#include "commands.h"

#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    EXIT_CONNECT = 4,
    EXIT_TLS = 5,
    EXIT_AUTH = 6,
    EXIT_DNS_TTL = 4,
};

/* ------------------------------------------------------------------ */
/* endpoint test                                                       */
/* ------------------------------------------------------------------ */

static const char test_usage[] =
    "--source URL [--target URL] [--admin USER --admin-password-file F] "
    "[--as USER] [--user USER --password-file F] [--ca-file F] [--insecure] "
    "[--probe-connections N] [--target-profile NAME] "
    "[--source-oauth-... / --target-oauth-... with --user MAILBOX] [--json]";

static const struct mf_option test_options[] = {
    MF_PREFLIGHT_TEST_OPTIONS{NULL, false, NULL},
};

static int
exit_for(mf_err code) {
    switch (code) {
    case MF_E_OK:
        return MF_EXIT_OK;
    case MF_E_DNS:
    case MF_E_CONNECT:
    case MF_E_TIMEOUT:
    case MF_E_DISCONNECTED:
        return EXIT_CONNECT;
    case MF_E_TLS:
    case MF_E_TLS_VERIFY:
        return EXIT_TLS;
    case MF_E_AUTH:
        return EXIT_AUTH;
    default:
        return MF_EXIT_FAIL;
    }
}

/* The endpoints, limits, secrets and logins (mf_preflight_args_read());
 * -1 when read, else the exit code, the reason printed. */
static int
test_read(struct cli *cli, struct mf_preflight_args *a) {
    struct mf_error err = {0};
    enum mf_preflight_args_problem p = MF_PREFLIGHT_ARGS_USAGE_LINE;

    if (cli->npositional)
        mf_error_set(&err, MF_E_USAGE, "unexpected argument");
    else
        p = mf_preflight_args_read(cli->config, a, &err);
    if (p == MF_PREFLIGHT_ARGS_OK)
        return -1;
    fprintf(stderr, "mailferry endpoint test: %s\n", err.detail);
    if (p == MF_PREFLIGHT_ARGS_USAGE_LINE)
        fprintf(stderr, "usage: mailferry endpoint test %s\n", test_usage);
    return p == MF_PREFLIGHT_ARGS_UNREADABLE ? MF_EXIT_ERROR : MF_EXIT_USAGE;
}

int
cmd_endpoint_test(int argc, char **argv) {
    struct mf_preflight_args a = {0};
    struct mf_preflight_run run = {0};
    struct cli cli;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "endpoint test", test_usage, test_options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if ((exit_code = test_read(&cli, &a)) >= 0)
        goto out;
    if (a.so.insecure)
        fprintf(stderr, "mailferry endpoint test: warning: --insecure: "
                        "certificates are not verified\n");

    exit_code = exit_for(
        mf_preflight_run(&a.so, a.target ? &a.to : NULL, a.tgt_profile, &run));
    mf_preflight_print(cli.json, run.src, run.src_rc, run.tgt, run.tgt_rc,
                       exit_code);
out:
    mf_preflight_args_free(&a);
    mf_preflight_run_clear(&run);
    cli_free(&cli);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* endpoint dns                                                        */
/* ------------------------------------------------------------------ */

static const char dns_usage[] = "DOMAIN [--server IP[:PORT]] [--json]";

static const struct mf_option dns_options[] = {
    {"server", true,
     "ask this DNS server (default: the first nameserver of "
     "/etc/resolv.conf)"},
    {"timeout", true, "seconds to wait for an answer (default 5)"},
    {NULL, false, NULL},
};

int
cmd_endpoint_dns(int argc, char **argv) {
    struct mf_dns_mx_answer *ans = NULL;
    struct mf_dns_server srv;
    struct mf_dns_mx_verdict v;
    struct mf_error err = {0};
    char where[96];
    const char *domain;
    uint64_t timeout;
    struct cli cli;
    mf_err rc;
    int exit_code = MF_EXIT_USAGE;

    if ((exit_code = cli_parse_one(&cli, "endpoint dns", dns_usage, dns_options,
                                   argc, argv, "DOMAIN")) >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    domain = cli.positional[0];
    if (mf_config_get_u64(cli.config, "timeout", 5, 1, 600, MF_UNIT_SECONDS,
                          &timeout, &err)) {
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        goto out;
    }
    if (mf_dns_server_choose(mf_config_get(cli.config, "server", NULL), &srv,
                             &err) != MF_E_OK) {
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        /* A wrong --server is a usage error; resolv.conf's is not. */
        exit_code = mf_config_get(cli.config, "server", NULL) ? MF_EXIT_USAGE
                                                              : MF_EXIT_ERROR;
        goto out;
    }
    mf_dns_server_format(&srv, where, sizeof(where));
    ans = mf_xcalloc(1, sizeof(*ans));
    rc = mf_dns_query_mx(&srv, domain, (long)timeout * 1000L, ans, &err);
    if (rc == MF_E_INVALID_ARGUMENT) {
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        goto out;
    }
    mf_dns_mx_judge(rc, &err, ans, &v);
    exit_code = v.failure                       ? MF_EXIT_FAIL
                : v.max_ttl > MF_DNS_TTL_ADVICE ? EXIT_DNS_TTL
                                                : MF_EXIT_OK;
    mf_dns_mx_print(cli.json, domain, where, rc, ans, &v, exit_code);
out:
    free(ans);
    cli_free(&cli);
    return exit_code;
}
