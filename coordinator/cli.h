/*
 * Command-line handling shared by the coordinator's commands: a small
 * option table per command (struct mf_option), parsed by core's
 * mf_config_parse_args() (mailferry/args.h) into an mf_config (flags
 * have the highest precedence), plus positional arguments.
 *
 * Options are "--name VALUE", "--name=VALUE" or, for switches, "--name".
 * Every option a command takes is listed in its table, so a typo is a
 * usage error (exit 2), never silently ignored. The one exception is the
 * shared connection settings (cli_connection_options): declared once, in
 * cli.c, taken by every command, ignored by those that do not use them.
 */
#ifndef MF_CLI_H
#define MF_CLI_H

#include "mailferry/args.h"
#include "mailferry/config.h"
#include "mailferry/csv.h"
#include "mailferry/direct.h"

#include <stdatomic.h>
#include <stdbool.h>

/* Exit codes of every mailferry command. */
enum {
    MF_EXIT_OK = 0,
    MF_EXIT_FAIL = 1,  /* the command ran and found a problem */
    MF_EXIT_USAGE = 2, /* the command line is wrong */
    MF_EXIT_ERROR = 3, /* the command could not run (I/O, server, config) */
};

#define CLI_MAX_POSITIONAL 8

struct cli {
    const char *command;      /* "csv validate", for messages */
    struct mf_config *config; /* owned */
    const char *positional[CLI_MAX_POSITIONAL]; /* borrowed from argv */
    int npositional;
    bool json;
    bool help; /* --help was given and printed: exit 0 */
};

/* Options every command takes. */
extern const struct mf_option cli_common_options[];
/* --kafka, --redis, --master-key-file, --topic-prefix: every command
 * accepts them (so one alias or config file serves all) and reads the
 * ones it uses with mf_config_get(). No command's own table lists them. */
extern const struct mf_option cli_connection_options[];

/* Parses argv (after the command words) against options and the common
 * options. On a usage error prints it with the command's usage line and
 * returns false. With --help, prints the help, sets cli->help and returns
 * true. */
bool cli_parse(struct cli *cli, const char *command, const char *usage,
               const struct mf_option *options, int argc, char **argv);
/* cli_parse() for a command that takes one positional argument, what
 * ("FILE", "DOMAIN"), named in the message when it is missing or there
 * are more. Returns -1 to go on, else the exit code (0 after --help). */
int cli_parse_one(struct cli *cli, const char *command, const char *usage,
                  const struct mf_option *options, int argc, char **argv,
                  const char *what);
void cli_free(struct cli *cli);

/* Prints "mailferry COMMAND: MESSAGE" and the command's usage line on
 * stderr; returns MF_EXIT_USAGE. */
int cli_usage(const char *command, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ctrl-C and SIGTERM set *stop (the work stops at its next boundary). */
void cli_catch_stop(atomic_bool *stop);
/* cli_catch_stop(), and SIGPIPE is ignored (a closed pipe is an error
 * where it is written). */
void cli_catch_signals(atomic_bool *stop);

/* Prints the usage line and option help of a command to stdout. */
void cli_print_help(const char *command, const char *usage,
                    const struct mf_option *options);

/* The commands that connect to the servers themselves (`migrate
 * --direct`, `verify`, `plan`): mf_csv_rows_load() of the CSV at path
 * (free l with mf_csv_rows_free() in any case) and
 * mf_direct_settings_read() (free d with mf_direct_settings_free() in any
 * case) for command. Each returns -1 when read, else the exit code, the
 * reason printed with command in front. */
int cli_csv_load(struct cli *cli, const char *command, const char *path,
                 bool password_optional, struct mf_csv_rows *l);
int cli_direct_read(struct cli *cli, const char *command,
                    struct mf_direct_settings *d);

#endif
