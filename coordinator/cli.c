/* Option parsing for the coordinator's commands, and the CSV and
 * settings of the commands that connect themselves (see cli.h). */
#include "cli.h"

#include "mailferry/args.h"
#include "mailferry/log.h"
#include "mailferry/util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct mf_option cli_common_options[] = {
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
const struct mf_option cli_connection_options[] = {
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

void
cli_print_help(const char *command, const char *usage,
               const struct mf_option *options) {
    printf("usage: mailferry %s %s\n\noptions:\n", command, usage);
    mf_config_print_options(stdout, options, 32);
    mf_config_print_options(stdout, cli_common_options, 32);
    printf("\nconnection options (every command takes them, from flags, "
           "MAILFERRY_*\nor --config, and ignores those it does not use):\n");
    mf_config_print_options(stdout, cli_connection_options, 32);
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

/* After the options: --help, --config, --json and the log settings. */
static bool
finish(struct cli *cli, const char *usage, const struct mf_option *options) {
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
          const struct mf_option *options, int argc, char **argv) {
    const struct mf_option *const tables[] = {options, cli_common_options,
                                              cli_connection_options, NULL};
    struct mf_error err = {0};

    memset(cli, 0, sizeof(*cli));
    cli->command = command;
    cli->config = mf_config_new();
    if (mf_config_parse_args(cli->config, tables, argc, argv, cli->positional,
                             CLI_MAX_POSITIONAL, &cli->npositional, &err))
        return usage_error(command, usage, err.detail, NULL);
    return finish(cli, usage, options);
}

int
cli_parse_one(struct cli *cli, const char *command, const char *usage,
              const struct mf_option *options, int argc, char **argv,
              const char *what) {
    if (!cli_parse(cli, command, usage, options, argc, argv))
        return MF_EXIT_USAGE;
    if (cli->help)
        return MF_EXIT_OK;
    if (cli->npositional != 1)
        return cli_usage(command, usage, "expected one %s", what);
    return -1;
}

int
cli_usage(const char *command, const char *usage, const char *fmt, ...) {
    va_list ap;

    fprintf(stderr, "mailferry %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: mailferry %s %s\n", command, usage);
    return MF_EXIT_USAGE;
}

static atomic_bool *signal_stop;

static void
on_signal(int sig) {
    (void)sig;
    if (signal_stop)
        atomic_store(signal_stop, true);
}

void
cli_catch_stop(atomic_bool *stop) {
    struct sigaction sa;

    signal_stop = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void
cli_catch_signals(atomic_bool *stop) {
    cli_catch_stop(stop);
    signal(SIGPIPE, SIG_IGN);
}

void
cli_free(struct cli *cli) {
    mf_config_free(&cli->config);
}

int
cli_csv_load(struct cli *cli, const char *command, const char *path,
             bool password_optional, struct mf_csv_rows *l) {
    struct mf_error err = {0};
    mf_err rc = mf_csv_rows_load(cli->config, path, password_optional, l, &err);

    if (rc == MF_E_OK)
        return -1;
    fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
    return rc == MF_E_USAGE ? MF_EXIT_USAGE
           : rc == MF_E_IO  ? MF_EXIT_ERROR
                            : MF_EXIT_FAIL;
}

int
cli_direct_read(struct cli *cli, const char *command,
                struct mf_direct_settings *d) {
    struct mf_error err = {0};

    if (mf_direct_settings_read(cli->config, d, &err) == MF_E_OK)
        return -1;
    fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
    return MF_EXIT_USAGE;
}
