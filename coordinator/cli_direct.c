/*
 * The CSV loader and option reader of the commands that connect
 * themselves (cli_direct.h): `migrate --direct`, `verify` and `plan`.
 */
#include "cli_direct.h"

#include "mailferry/csv.h"
#include "mailferry/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Mailboxes from the CSV                                              */
/* ------------------------------------------------------------------ */

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct cli_csv *l = ud;

    l->issues++;
    mf_csv_issue_print(stderr, l->path, is);
}

int
cli_csv_load(struct cli *cli, const char *command, const char *path,
             bool password_optional, struct cli_csv *l) {
    struct mf_csv_options copt = {0};
    struct mf_csv_stats cstats;
    struct mf_error err = {0};
    mf_err rc;

    memset(l, 0, sizeof(*l));
    if (mf_config_get_bool(cli->config, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, &err)) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_USAGE;
    }
    copt.password_optional = password_optional;
    l->path = path;
    rc = mf_csv_load(path, &copt, on_issue, l, &l->rows, &l->n, &cstats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return MF_EXIT_ERROR;
    }
    if (rc != MF_E_OK) {
        fprintf(stderr,
                "mailferry %s: %s has %llu errors; nothing done "
                "(see `mailferry csv validate`)\n",
                command, path, (unsigned long long)l->issues);
        return MF_EXIT_FAIL;
    }
    return -1;
}

void
cli_csv_free(struct cli_csv *l) {
    mf_csv_mailboxes_free(&l->rows, l->n);
    memset(l, 0, sizeof(*l));
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
