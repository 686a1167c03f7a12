/*
 * `mailferry csv validate FILE`: checks a batch CSV and lists every
 * problem as FILE:LINE:COLUMN, the form editors and admins' tools jump to.
 * Exit 0 valid, 1 invalid, 2 usage, 3 unreadable file.
 */
#include "cli.h"
#include "commands.h"

#include "mailferry/csv.h"
#include "mailferry/json.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "FILE [--allow-unknown-columns] "
                            "[--password-optional] [--json]";

static const struct cli_option options[] = {
    {"allow-unknown-columns", false, "ignore columns mailferry does not use"},
    {"password-optional", false,
     "the Password column may be empty (admin credentials will be used)"},
    {"max-rows", true, "most mailbox rows accepted (default 50000)"},
    {"max-bytes", true, "largest file accepted (default 10000000)"},
    {NULL, false, NULL},
};

struct validate {
    const char *path;
    bool json;
    struct mf_json j;
    struct mf_buf out;
};

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct validate *v = ud;

    if (v->json)
        mf_csv_issue_json(&v->j, is);
    else
        mf_csv_issue_print(stdout, v->path, is);
}

int
cmd_csv_validate(int argc, char **argv) {
    struct mf_csv_options opt = {0};
    struct mf_csv_callbacks cb = {.on_issue = on_issue};
    struct mf_csv_stats stats = {0};
    struct validate v = {0};
    struct mf_error err = {0};
    struct cli cli;
    uint64_t n;
    mf_err rc;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "csv validate", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (cli.npositional != 1) {
        fprintf(stderr,
                "mailferry csv validate: expected one FILE\n"
                "usage: mailferry csv validate %s\n",
                usage);
        goto out;
    }
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
    v.path = cli.positional[0];
    v.json = cli.json;
    if (v.json) {
        mf_json_init(&v.j, &v.out);
        mf_json_object_begin(&v.j);
        mf_json_key(&v.j, "file"), mf_json_string(&v.j, v.path);
        mf_json_key(&v.j, "errors"), mf_json_array_begin(&v.j);
    }
    rc = mf_csv_parse_file(v.path, &opt, &cb, &v, &stats, &err);
    if (rc == MF_E_IO) {
        fprintf(stderr, "mailferry csv validate: %s\n", err.detail);
        exit_code = MF_EXIT_ERROR;
        goto out;
    }
    exit_code = rc == MF_E_OK ? MF_EXIT_OK : MF_EXIT_FAIL;
    if (v.json) {
        mf_json_array_end(&v.j);
        mf_json_key(&v.j, "valid"), mf_json_bool(&v.j, rc == MF_E_OK);
        mf_json_key(&v.j, "rows"), mf_json_u64(&v.j, stats.rows);
        mf_json_key(&v.j, "mailboxes"), mf_json_u64(&v.j, stats.mailboxes);
        mf_json_key(&v.j, "error_count"), mf_json_u64(&v.j, stats.issues);
        mf_json_key(&v.j, "bytes"), mf_json_u64(&v.j, stats.bytes);
        mf_json_object_end(&v.j);
        printf("%s\n", (char *)v.out.data);
    } else {
        printf("%s: %llu rows, %llu mailboxes, %llu errors: %s\n", v.path,
               (unsigned long long)stats.rows,
               (unsigned long long)stats.mailboxes,
               (unsigned long long)stats.issues,
               rc == MF_E_OK ? "valid" : "INVALID");
    }
out:
    mf_buf_free(&v.out);
    cli_free(&cli);
    return exit_code;
}
