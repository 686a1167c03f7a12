/*
 * A batch's definition read by the core (mailferry/batchdef.h) for a
 * command: its CSV problems and its error shown the way the commands show
 * them, and the error turned into the command's exit code.
 */
#include "batch_def.h"

#include "mailferry/csv.h"

#include <stdio.h>

/* The exit code for rc, its reason printed. */
static int
exit_for(const char *command, mf_err rc, const struct mf_batchdef *d,
         const struct mf_error *err) {
    if (rc == MF_E_OK)
        return -1;
    if (rc == MF_E_USAGE) {
        fprintf(stderr, "mailferry %s: %s\n", command, err->detail);
        return MF_EXIT_USAGE;
    }
    if (d->issues) {
        fprintf(stderr, "mailferry %s: %s\n", command, err->detail);
        return MF_EXIT_FAIL;
    }
    fprintf(stderr, "mailferry %s: %s [%s]\n", command, err->detail,
            mf_err_name(rc));
    return MF_EXIT_ERROR;
}

int
batch_def_read(struct cli *cli, const char *command, const char *name,
               const char *csv_path, const struct mf_crypto_keyring *kr,
               bool rows_later, struct mf_json *issues_json,
               struct mf_batchdef *d) {
    struct mf_csv_shown s = {csv_path, issues_json, stderr, 0};
    struct mf_error err = {0};
    mf_err rc = (rows_later ? mf_batchdef_read_config : mf_batchdef_read)(
        cli->config, name, csv_path, kr, mf_csv_issue_show, &s, d, &err);

    if (d->cfg.incremental_every && d->cfg.incremental_every < 60)
        fprintf(stderr,
                "mailferry %s: warning: --incremental-every below a minute "
                "begins a pass as soon as the last one ends\n",
                command);
    return exit_for(command, rc, d, &err);
}

int
batch_def_read_rows(struct cli *cli, const char *command, const char *name,
                    const char *csv_path, const struct mf_batch_config *cfg,
                    const struct mf_crypto_keyring *kr,
                    struct mf_json *issues_json, struct mf_batchdef *d) {
    struct mf_csv_shown s = {csv_path, issues_json, stderr, 0};
    struct mf_error err = {0};
    mf_err rc = mf_batchdef_read_rows(cli->config, name, csv_path, cfg, kr,
                                      mf_csv_issue_show, &s, d, &err);

    return exit_for(command, rc, d, &err);
}

int
batch_def_stream_rows(const char *command, const char *csv_path,
                      const struct mf_crypto_keyring *kr,
                      mf_batchdef_rows_cb cb, void *cb_ud,
                      struct mf_json *issues_json, struct mf_batchdef *d) {
    struct mf_csv_shown s = {csv_path, issues_json, stderr, 0};
    struct mf_error err = {0};
    mf_err rc = mf_batchdef_stream_rows(d, csv_path, kr, cb, cb_ud,
                                        mf_csv_issue_show, &s, &err);

    return exit_for(command, rc, d, &err);
}
