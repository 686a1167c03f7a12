/*
 * `mailferry csv validate FILE`: checks a batch CSV and lists every
 * problem as FILE:LINE:COLUMN, the form editors and admins' tools jump to.
 * Exit 0 valid, 1 invalid, 2 usage, 3 unreadable file.
 */
#include "cli.h"
#include "commands.h"

#include "mailferry/csv.h"

#include <stdio.h>

static const char usage[] = "FILE [--allow-unknown-columns] "
                            "[--password-optional] [--json]";

static const struct mf_option options[] = {
    MF_CSV_VALIDATE_OPTIONS{NULL, false, NULL},
};

int
cmd_csv_validate(int argc, char **argv) {
    struct mf_csv_options opt = {0};
    struct mf_error err = {0};
    struct cli cli;
    mf_err rc;
    int exit_code = MF_EXIT_USAGE;

    if ((exit_code = cli_parse_one(&cli, "csv validate", usage, options, argc,
                                   argv, "FILE")) >= 0)
        goto out;
    if (mf_csv_validate_options_read(cli.config, &opt, &err)) {
        fprintf(stderr, "mailferry csv validate: %s\n", err.detail);
        exit_code = MF_EXIT_USAGE;
        goto out;
    }
    rc = mf_csv_validate(cli.positional[0], &opt, cli.json, stdout, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry csv validate: %s\n", err.detail);
        exit_code = MF_EXIT_ERROR;
        goto out;
    }
    exit_code = rc == MF_E_OK ? MF_EXIT_OK : MF_EXIT_FAIL;
out:
    cli_free(&cli);
    return exit_code;
}
