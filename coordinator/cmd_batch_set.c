/*
 * `mailferry batch set NAME --option VALUE ...`: changes the options that
 * may change over a batch's life (mf_batch_set()); the next pass uses
 * them, and `batch status` lists every change.
 */
#include "batch_def.h"
#include "batch_status.h"
#include "cli.h"
#include "commands.h"

#include "mailferry/batch.h"
#include "mailferry/config.h"

#include <stdio.h>
#include <string.h>

static const char set_usage[] =
    "NAME --redis URL [--max-message-size N] [--max-attempts N] "
    "[--incremental-every DURATION] [--flag-conflict source|target] "
    "[--since YYYY-MM-DD|none] [--before YYYY-MM-DD|none] "
    "[--sync-deletes on|off] [--throttle-pause MS] [--throttle-pause-max MS] "
    "[--throttle-min-connections N] [--throttle-window MS] "
    "[caps: --[target-]max-connections[-per-user|-per-ip] N ...] "
    "[--include L] [--exclude L] [--rename OLD=NEW[,...]] [--json]";

static const struct mf_option set_options[] = {
    {"max-message-size", true,
     "skip messages above N bytes (k/M/G); a later pass copies what an "
     "earlier one skipped once the cap allows it"},
    {"max-attempts", true, "job attempts per pass"},
    {"incremental-every", true,
     "begin an incremental pass this long after the last one (s/m/h/d; 0: "
     "off)"},
    {"flag-conflict", true,
     "which side wins a flag changed on both the source and the target "
     "since the last pass: source or target"},
    {"since", true,
     "copy only messages whose INTERNALDATE is on or after this day "
     "(YYYY-MM-DD; none: no lower bound); a wider window copies the rest"},
    {"before", true,
     "copy only messages whose INTERNALDATE is before this day (YYYY-MM-DD; "
     "none: no upper bound)"},
    {"sync-deletes", true,
     "on: incremental passes also remove from the target what the source "
     "expunged (only what mailferry put there); off: never"},
    /* 0 lifts a cap. */
    MF_BATCHDEF_CAPS_OPTIONS,
    /* A comma list replaces the batch's list; "" empties it. */
    MF_BATCHDEF_RULE_OPTIONS,
    /* 0 gives a rule back to the profile. */
    MF_THROTTLE_FLAGS(MF_THROTTLE_OPTION)
        MF_QUOTA_FLAGS(MF_QUOTA_OPTION){NULL, false, NULL},
};

int
batch_def_apply_settings(struct cli *cli, const char *command,
                         struct mf_redis *r, const char *name, int *changed_r) {
    struct mf_error err = {0};
    mf_err rc;

    *changed_r = 0;
    if ((rc = mf_batch_settings_check_window(r, name, cli->config, &err))) {
        batch_print_error(command, name, &err);
        return rc == MF_E_USAGE ? MF_EXIT_USAGE : batch_exit_code(rc);
    }
    for (const struct mf_option *o = set_options; o->name; o++) {
        char buf[MF_WINDOW_TEXT_MAX];
        const char *text = NULL;
        bool set = false;
        if ((rc = mf_batch_setting_apply(r, name, cli->config, o->name, &set,
                                         &text, buf, sizeof(buf), &err))) {
            batch_print_error(command, name, &err);
            return rc == MF_E_USAGE || rc == MF_E_CONFIG ? MF_EXIT_USAGE
                                                         : batch_exit_code(rc);
        }
        if (set && !cli->json)
            printf("batch %s: %s = %s (from the next pass on)\n", name, o->name,
                   text);
        *changed_r += set;
    }
    return -1;
}

int
cmd_batch_set(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    const char *name;
    int exit_code, changed = 0;

    if ((exit_code = batch_cli_parse_one(&cli, "batch set", set_usage,
                                         set_options, argc, argv)) >= 0)
        goto out;
    name = cli.positional[0];
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((exit_code = batch_def_apply_settings(&cli, "batch set", redis, name,
                                              &changed)) >= 0)
        goto out;
    if (changed == 0) {
        exit_code = cli_usage("batch set", set_usage, "nothing to change");
        goto out;
    }
    if (cli.json)
        printf("{\"batch\":\"%s\",\"changed\":%d}\n", name, changed);
    exit_code = MF_EXIT_OK;
out:
    mf_redis_free(&redis);
    cli_free(&cli);
    return exit_code;
}
