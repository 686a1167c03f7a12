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

static const struct cli_option set_options[] = {
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
    BATCH_CAPS_OPTIONS,
    /* A comma list replaces the batch's list; "" empties it. */
    BATCH_RULE_OPTIONS,
    /* 0 gives a rule back to the profile. */
    MF_THROTTLE_FLAGS(CLI_THROTTLE_OPTION)
        MF_QUOTA_FLAGS(CLI_QUOTA_OPTION){NULL, false, NULL},
};

/* The unit each settable option is read with. */
static enum mf_config_unit
unit_of(const char *option) {
    static const struct {
        const char *option;
        enum mf_config_unit unit;
    } units[] = {{"max-message-size", MF_UNIT_BYTES},
                 {"incremental-every", MF_UNIT_SECONDS},
                 {"max-bytes-per-second", MF_UNIT_BYTES},
                 {"target-max-bytes-per-second", MF_UNIT_BYTES},
#define QUOTA_UNIT(option, field, min, max, unit, help) {option, unit},
                 MF_QUOTA_FLAGS(QUOTA_UNIT)
#undef QUOTA_UNIT
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(units[i].option, option) == 0)
            return units[i].unit;
    return MF_UNIT_NONE;
}

/* Reads option's value into *v_r and its text into text. */
static mf_err
read_value(struct cli *cli, const char *option, uint64_t *v_r, char *text,
           size_t n, struct mf_error *err) {
    mf_err rc;

    if (strcmp(option, "flag-conflict") == 0) {
        enum mf_flag_conflict c;
        if ((rc = mf_flag_conflict_parse(
                 mf_config_get(cli->config, option, NULL), &c, err)))
            return rc;
        *v_r = c;
        snprintf(text, n, "%s", mf_flag_conflict_name(c));
        return MF_E_OK;
    }
    if (strcmp(option, "since") == 0 || strcmp(option, "before") == 0) {
        uint32_t day;
        if ((rc = mf_window_date_parse(mf_config_get(cli->config, option, NULL),
                                       &day, err)))
            return rc;
        *v_r = day;
        mf_window_date_format(day, text, n);
        return MF_E_OK;
    }
    if (strcmp(option, "sync-deletes") == 0) {
        bool on;
        if ((rc = mf_config_get_bool(cli->config, option, false, &on, err)))
            return rc;
        *v_r = on;
        snprintf(text, n, "%d", on);
        return MF_E_OK;
    }
    if ((rc = mf_config_get_u64(cli->config, option, 0, 0, UINT64_MAX,
                                unit_of(option), v_r, err)))
        return rc;
    snprintf(text, n, "%llu", (unsigned long long)*v_r);
    return MF_E_OK;
}

/* The window the batch will have with the --since and --before given,
 * refused (MF_E_USAGE) when no day would be inside. */
static mf_err
check_window(struct cli *cli, struct mf_redis *r, const char *name,
             struct mf_error *err) {
    const char *since = mf_config_get(cli->config, "since", NULL);
    const char *before = mf_config_get(cli->config, "before", NULL);
    struct mf_batch_config *cfg = NULL;
    struct mf_window w;
    mf_err rc;

    if (!since && !before)
        return MF_E_OK;
    if ((rc = mf_batch_get(r, name, &cfg, err)))
        return rc;
    w = cfg->window;
    mf_batch_config_free(&cfg);
    if ((since && (rc = mf_window_date_parse(since, &w.since, err))) ||
        (before && (rc = mf_window_date_parse(before, &w.before, err))))
        return rc;
    return mf_window_check(&w, err);
}

int
batch_def_apply_settings(struct cli *cli, const char *command,
                         struct mf_redis *r, const char *name, int *changed_r) {
    struct mf_error err = {0};
    mf_err crc;

    *changed_r = 0;
    if ((crc = check_window(cli, r, name, &err))) {
        batch_print_error(command, name, &err);
        return crc == MF_E_USAGE ? MF_EXIT_USAGE : batch_exit_code(crc);
    }
    for (const struct cli_option *o = set_options; o->name; o++) {
        uint64_t v;
        char text[MF_WINDOW_TEXT_MAX];
        mf_err rc;
        const char *given = mf_config_get(cli->config, o->name, NULL);
        bool rules = mf_batch_rules_setting_known(o->name);
        if ((!rules && !mf_batch_setting_known(o->name)) || !given)
            continue;
        if (rules)
            rc = mf_batch_set_rules(r, name, o->name, given, &err);
        else if ((rc = read_value(cli, o->name, &v, text, sizeof(text),
                                  &err)) == MF_E_OK)
            rc = mf_batch_set(r, name, o->name, v, &err);
        if (rc) {
            batch_print_error(command, name, &err);
            return rc == MF_E_USAGE || rc == MF_E_CONFIG ? MF_EXIT_USAGE
                                                         : batch_exit_code(rc);
        }
        if (!cli->json)
            printf("batch %s: %s = %s (from the next pass on)\n", name, o->name,
                   rules ? (*given ? given : "none") : text);
        (*changed_r)++;
    }
    return -1;
}

int
cmd_batch_set(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *redis = NULL;
    const char *name;
    int exit_code = MF_EXIT_USAGE, changed = 0;

    if (!cli_parse(&cli, "batch set", set_usage, set_options, argc, argv))
        goto out;
    exit_code = MF_EXIT_OK;
    if (cli.help)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (cli.npositional != 1 || !mf_batch_name_valid(cli.positional[0])) {
        fprintf(stderr,
                "mailferry batch set: expected one batch NAME\n"
                "usage: mailferry batch set %s\n",
                set_usage);
        goto out;
    }
    name = cli.positional[0];
    exit_code = MF_EXIT_ERROR;
    if (!batch_cli_redis(&cli, &redis))
        goto out;
    if ((exit_code = batch_def_apply_settings(&cli, "batch set", redis, name,
                                              &changed)) >= 0)
        goto out;
    if (changed == 0) {
        fprintf(stderr,
                "mailferry batch set: nothing to change\n"
                "usage: mailferry batch set %s\n",
                set_usage);
        exit_code = MF_EXIT_USAGE;
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
