/* Option parsing for the coordinator's commands (see cli.h). */
#include "cli.h"

#include "mailferry/log.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cli_option cli_common_options[] = {
    {"json", false, "print one machine-readable JSON document on stdout"},
    {"config", true, "read settings from FILE (flags and MAILFERRY_* win)"},
    {"log-format", true, "log lines as text (default) or json"},
    {"log-level", true, "debug, info (default), warn or error"},
    {"help", false, "show this help"},
    {NULL, false, NULL},
};

/* The connection settings one shell alias or config file gives every
 * command (issue 16 section 7). They are declared here only, never in a
 * command's own table: every command accepts all four, in every form
 * (flag, MAILFERRY_* variable, config file key), reads the ones it needs
 * and leaves the others unused. */
const struct cli_option cli_connection_options[] = {
    {"redis", true,
     "Redis URL: redis://[user@]host:port[/db], unix:///path "
     "(MAILFERRY_REDIS)"},
    {"kafka", true,
     "Kafka bootstrap servers HOST:PORT[,...]; kafka.* settings pass "
     "through (MAILFERRY_KAFKA)"},
    {"master-key-file", true,
     "key file that seals the passwords, from `mailferry key generate` "
     "(MAILFERRY_MASTER_KEY_FILE)"},
    {"topic-prefix", true,
     "Kafka topic name prefix, default mailferry (MAILFERRY_TOPIC_PREFIX)"},
    {NULL, false, NULL},
};

static const struct cli_option *
find(const struct cli_option *opts, const char *name, size_t len) {
    for (; opts && opts->name; opts++)
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static void
print_options(FILE *out, const struct cli_option *opts) {
    for (; opts && opts->name; opts++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", opts->name,
                 opts->takes_value ? " VALUE" : "");
        fprintf(out, "  %-32s %s\n", left, opts->help);
    }
}

void
cli_print_help(const char *command, const char *usage,
               const struct cli_option *options) {
    printf("usage: mailferry %s %s\n\noptions:\n", command, usage);
    print_options(stdout, options);
    print_options(stdout, cli_common_options);
    printf("\nconnection options (every command takes them, from flags, "
           "MAILFERRY_*\nor --config, and ignores those it does not use):\n");
    print_options(stdout, cli_connection_options);
    printf("  %-32s %s\n", "--kafka.PROPERTY VALUE",
           "a librdkafka property (SASL, TLS), for the commands that use "
           "Kafka");
}

static bool
usage_error(const char *command, const char *usage, const char *msg,
            const char *arg) {
    fprintf(stderr,
            "mailferry %s: %s%s%s\nusage: mailferry %s %s\n"
            "(mailferry %s --help lists the options)\n",
            command, msg, arg ? ": " : "", arg ? arg : "", command, usage,
            command);
    return false;
}

static bool
add_positional(struct cli *cli, const char *usage, const char *a) {
    if (cli->npositional == CLI_MAX_POSITIONAL)
        return usage_error(cli->command, usage, "too many arguments", a);
    cli->positional[cli->npositional++] = a;
    return true;
}

/* One option, argv[*i] ("--name", "--name=VALUE" or "--name VALUE", which
 * moves *i past the value) into cli->config. */
static bool
parse_option(struct cli *cli, const char *usage,
             const struct cli_option *options, int argc, char **argv, int *i) {
    const char *command = cli->command;
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const struct cli_option *o = find(options, a, len);

    if (!o)
        o = find(cli_common_options, a, len);
    if (!o)
        o = find(cli_connection_options, a, len);
    if (!o && mf_config_passthrough(a, len)) {
        /* --kafka.<property> VALUE: with the connection settings, for
         * the commands that talk to Kafka (SASL, TLS). */
        char *name;
        if (!eq && *i + 1 >= argc)
            return usage_error(command, usage, "option needs a value",
                               argv[*i]);
        name = mf_xstrndup(a, len);
        mf_config_set_flag(cli->config, name, eq ? eq + 1 : argv[++*i]);
        free(name);
        return true;
    }
    if (!o)
        return usage_error(command, usage, "unknown option", argv[*i]);
    if (!o->takes_value) {
        if (eq)
            return usage_error(command, usage, "option takes no value",
                               argv[*i]);
        mf_config_set_flag(cli->config, o->name, "true");
    } else if (eq) {
        mf_config_set_flag(cli->config, o->name, eq + 1);
    } else if (*i + 1 < argc) {
        mf_config_set_flag(cli->config, o->name, argv[++*i]);
    } else {
        return usage_error(command, usage, "option needs a value", argv[*i]);
    }
    return true;
}

/* After the options: --help, --config, --json and the log settings. */
static bool
finish(struct cli *cli, const char *usage, const struct cli_option *options) {
    const char *command = cli->command;
    enum mf_log_format fmt = MF_LOG_TEXT;
    enum mf_log_level lvl = MF_LOG_INFO;
    struct mf_error err = {0};
    const char *v;

    if (mf_config_get(cli->config, "help", NULL)) {
        cli_print_help(command, usage, options);
        cli->help = true;
        return true;
    }
    if ((v = mf_config_get(cli->config, "config", NULL)) != NULL &&
        mf_config_load_file(cli->config, v, &err) != MF_E_OK)
        return usage_error(command, usage, "cannot read config", err.detail);
    if (mf_config_get_bool(cli->config, "json", false, &cli->json, &err) !=
        MF_E_OK)
        return usage_error(command, usage, err.detail, NULL);
    if ((v = mf_config_get(cli->config, "log-format", NULL)) &&
        !mf_log_format_parse(v, &fmt))
        return usage_error(command, usage, "--log-format is text or json", v);
    if ((v = mf_config_get(cli->config, "log-level", NULL)) &&
        !mf_log_level_parse(v, &lvl))
        return usage_error(command, usage,
                           "--log-level is debug, info, warn or error", v);
    mf_log_setup(fmt, lvl, stderr);
    return true;
}

bool
cli_parse(struct cli *cli, const char *command, const char *usage,
          const struct cli_option *options, int argc, char **argv) {
    memset(cli, 0, sizeof(*cli));
    cli->command = command;
    cli->config = mf_config_new();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                if (!add_positional(cli, usage, argv[i]))
                    return false;
            break;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (!add_positional(cli, usage, a))
                return false;
            continue;
        }
        if (!parse_option(cli, usage, options, argc, argv, &i))
            return false;
    }
    return finish(cli, usage, options);
}

int
cli_parse_one(struct cli *cli, const char *command, const char *usage,
              const struct cli_option *options, int argc, char **argv,
              const char *what) {
    if (!cli_parse(cli, command, usage, options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    if (cli->npositional != 1) {
        fprintf(stderr,
                "mailferry %s: expected one %s\nusage: mailferry %s %s\n",
                command, what, command, usage);
        return MF_EXIT_USAGE;
    }
    return -1;
}

static atomic_bool *signal_stop;

static void
on_signal(int sig) {
    (void)sig;
    if (signal_stop)
        atomic_store(signal_stop, true);
}

void
cli_catch_signals(atomic_bool *stop) {
    struct sigaction sa;

    signal_stop = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void
cli_free(struct cli *cli) {
    mf_config_free(&cli->config);
}
