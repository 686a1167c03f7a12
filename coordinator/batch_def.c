/*
 * A batch's definition read by the core (mailferry/batchdef.h) for a
 * command: its CSV problems and its error shown the way the commands show
 * them, and the error turned into the command's exit code.
 */
#include "batch_def.h"

#include "mailferry/csv.h"
#include "mailferry/json.h"

#include <stdio.h>

struct show {
    const char *path;
    struct mf_json *j; /* JSON issues, or NULL */
};

static void
show_issue(void *ud, const struct mf_csv_issue *is) {
    struct show *s = ud;

    if (s->j)
        mf_csv_issue_json(s->j, is);
    else
        mf_csv_issue_print(stderr, s->path, is);
}

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

struct mf_json *
batch_def_issues_begin(struct mf_json_doc *doc, const char *name,
                       const char *csv_path) {
    struct mf_json *j = mf_json_doc_begin(doc);

    mf_json_object_begin(j);
    mf_json_member(j, "batch", name);
    mf_json_member(j, "file", csv_path);
    mf_json_key(j, "errors"), mf_json_array_begin(j);
    return j;
}

void
batch_def_issues_end(struct mf_json_doc *doc, const char *done_key,
                     uint64_t count) {
    mf_json_array_end(&doc->j);
    mf_json_member(&doc->j, done_key, (bool)false);
    mf_json_member(&doc->j, "error_count", count);
    mf_json_object_end(&doc->j);
    mf_json_doc_print(doc, stdout);
}

int
batch_def_read(struct cli *cli, const char *command, const char *name,
               const char *csv_path, const struct mf_crypto_keyring *kr,
               bool rows_later, struct mf_json *issues_json,
               struct mf_batchdef *d) {
    struct show s = {csv_path, issues_json};
    struct mf_error err = {0};
    mf_err rc = (rows_later ? mf_batchdef_read_config : mf_batchdef_read)(
        cli->config, name, csv_path, kr, show_issue, &s, d, &err);

    if (d->cfg.incremental_every && d->cfg.incremental_every < 60)
        fprintf(stderr,
                "mailferry %s: warning: --incremental-every below a minute "
                "begins a pass as soon as the last one ends\n",
                command);
    return exit_for(command, rc, d, &err);
}

int
batch_def_read_rows(const char *command, const char *name, const char *csv_path,
                    const struct mf_batch_config *cfg,
                    bool allow_unknown_columns,
                    const struct mf_crypto_keyring *kr,
                    struct mf_json *issues_json, struct mf_batchdef *d) {
    struct show s = {csv_path, issues_json};
    struct mf_error err = {0};
    mf_err rc =
        mf_batchdef_read_rows(name, csv_path, cfg, allow_unknown_columns, kr,
                              show_issue, &s, d, &err);

    return exit_for(command, rc, d, &err);
}

int
batch_def_stream_rows(const char *command, const char *csv_path,
                      const struct mf_crypto_keyring *kr,
                      mf_batchdef_rows_cb cb, void *cb_ud,
                      struct mf_json *issues_json, struct mf_batchdef *d) {
    struct show s = {csv_path, issues_json};
    struct mf_error err = {0};
    mf_err rc = mf_batchdef_stream_rows(d, csv_path, kr, cb, cb_ud, show_issue,
                                        &s, &err);

    return exit_for(command, rc, d, &err);
}
