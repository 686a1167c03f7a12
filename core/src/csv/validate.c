/*
 * `mailferry csv validate` (mf_csv_validate(), mailferry/csv.h): the
 * parser run over a file for its problems only, each shown as it is
 * found, then what the file holds, as text or one JSON object.
 */
#include "csv/csv_int.h"

#include "mailferry/json.h"

#include <stdio.h>

struct validate {
    const char *path;
    FILE *out;
    struct mf_json *j; /* NULL: text */
};

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct validate *v = ud;

    if (v->j)
        mf_csv_issue_json(v->j, is);
    else
        mf_csv_issue_print(v->out, v->path, is);
}

static void
summary_json(struct mf_json *j, mf_err rc, const struct mf_csv_stats *st) {
    mf_json_array_end(j);
    mf_json_key(j, "valid"), mf_json_bool(j, rc == MF_E_OK);
    mf_json_key(j, "rows"), mf_json_u64(j, st->rows);
    mf_json_key(j, "mailboxes"), mf_json_u64(j, st->mailboxes);
    mf_json_key(j, "error_count"), mf_json_u64(j, st->issues);
    mf_json_key(j, "bytes"), mf_json_u64(j, st->bytes);
    mf_json_object_end(j);
}

mf_err
mf_csv_validate(const char *path, const struct mf_csv_options *o, bool json,
                FILE *out, struct mf_error *err) {
    struct mf_csv_callbacks cb = {.on_issue = on_issue};
    struct mf_csv_stats st = {0};
    struct mf_buf buf = {0};
    struct mf_json j;
    struct validate v = {path, out, json ? &j : NULL};
    mf_err rc;

    if (json) {
        mf_json_init(&j, &buf);
        mf_json_object_begin(&j);
        mf_json_key(&j, "file"), mf_json_string(&j, path);
        mf_json_key(&j, "errors"), mf_json_array_begin(&j);
    }
    rc = mf_csv_parse_file(path, o, &cb, &v, &st, err);
    if (rc == MF_E_IO)
        goto out;
    if (json) {
        summary_json(&j, rc, &st);
        fprintf(out, "%s\n", (char *)buf.data);
    } else {
        fprintf(out, "%s: %llu rows, %llu mailboxes, %llu errors: %s\n", path,
                (unsigned long long)st.rows, (unsigned long long)st.mailboxes,
                (unsigned long long)st.issues,
                rc == MF_E_OK ? "valid" : "INVALID");
    }
out:
    mf_buf_free(&buf);
    return rc;
}
