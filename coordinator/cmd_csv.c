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
    {"allow-unknown-columns", false, "ignore columns mailferry does not use"},
    {"password-optional", false,
     "the Password column may be empty (admin credentials will be used)"},
    {"max-rows", true, "most mailbox rows accepted (default 50000)"},
    {"max-bytes", true, "largest file accepted (default 10000000)"},
    {NULL, false, NULL},
};

int
cmd_csv_validate(int argc, char **argv) {
    struct mf_csv_options opt = {0};
    struct mf_error err = {0};
    struct cli cli;
    uint64_t n;
    mf_err rc;
    int exit_code = MF_EXIT_USAGE;

    if ((exit_code = cli_parse_one(&cli, "csv validate", usage, options, argc,
                                   argv, "FILE")) >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(cli.config, "allow-unknown-columns", false,
                           &opt.allow_unknown_columns, &err) ||
        mf_config_get_bool(cli.config, "password-optional", false,
                           &opt.password_optional, &err) ||
        mf_config_get_u64(cli.config, "max-rows", MF_CSV_DEFAULT_MAX_ROWS, 1,
                          UINT32_MAX, MF_UNIT_NONE, &n, &err)) {
        fprintf(stderr, "mailferry csv validate: %s\n", err.detail);
        goto out;
    }
    opt.max_rows = n;
    if (mf_config_get_u64(cli.config, "max-bytes", MF_CSV_DEFAULT_MAX_BYTES, 1,
                          UINT64_MAX / 2, MF_UNIT_BYTES, &n, &err)) {
        fprintf(stderr, "mailferry csv validate: %s\n", err.detail);
        goto out;
    }
    opt.max_bytes = n;
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
