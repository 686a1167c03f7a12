/*
 * `mailferry batch compare A B [...] --redis URL [--json]`: test batches
 * side by side (docs/design.md §1 item 2): mailboxes and their states, what
 * was copied, how long it took from the first start to the last finish,
 * the throughput of the batch and of one connection, attempts, errors,
 * and the connections used (the batch's caps and the most mailboxes that
 * ran at once). The figures come from mf_plan_batch_digest()
 * (mailferry/plan.h), the same that `plan --from-batch` estimates from,
 * and the table or JSON from mf_plan_compare_print().
 *
 * Exit: 0 printed; 2 a wrong command line; 3 Redis unreachable or a batch
 * missing.
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/json.h"
#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "A B [C ...] --redis URL [--json]";

static const struct mf_option options[] = {
    {NULL, false, NULL},
};

int
cmd_batch_compare(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *r = NULL;
    struct mf_plan_digest *d = NULL;
    struct mf_error err = {0};
    const char *url;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "batch compare", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    url = mf_config_get(cli.config, "redis", NULL);
    if (cli.npositional < 2 || !url) {
        cli_usage("batch compare", usage, "%s",
                  !url ? "--redis URL is required"
                       : "give two batches or more");
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (mf_redis_connect(url, 0, &r, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry batch compare: Redis: %s\n", err.detail);
        goto out;
    }
    d = mf_xcalloc((size_t)cli.npositional, sizeof(*d));
    for (int i = 0; i < cli.npositional; i++)
        if (mf_plan_batch_digest(r, cli.positional[i], &d[i], &err) !=
            MF_E_OK) {
            fprintf(stderr, "mailferry batch compare: %s: %s\n",
                    cli.positional[i], err.detail);
            goto out;
        }
    mf_plan_compare_print(stdout, cli.json, d, (size_t)cli.npositional);
    exit_code = MF_EXIT_OK;
out:
    free(d);
    mf_redis_free(&r);
    cli_free(&cli);
    return exit_code;
}
