/*
 * `mailferry csv validate` (mf_csv_validate(), mailferry/csv.h): the
 * parser run over a file for its problems only, each shown as it is
 * found, then what the file holds, as text or one JSON object; and its
 * options.
 */
#include "csv/csv_int.h"

#include "mailferry/config.h"
#include "mailferry/json.h"

#include <stdio.h>
#include <string.h>

mf_err
mf_csv_validate_options_read(const struct mf_config *conf,
                             struct mf_csv_options *o, struct mf_error *err) {
    mf_err rc;

    memset(o, 0, sizeof(*o));
    if ((rc = mf_config_get_bool(conf, "allow-unknown-columns", false,
                                 &o->allow_unknown_columns, err)) ||
        (rc = mf_config_get_bool(conf, "password-optional", false,
                                 &o->password_optional, err)) ||
        (rc = mf_config_get_u64(conf, "max-rows", MF_CSV_DEFAULT_MAX_ROWS, 1,
                                UINT32_MAX, MF_UNIT_NONE, &o->max_rows, err)))
        return rc;
    return mf_config_get_u64(conf, "max-bytes", MF_CSV_DEFAULT_MAX_BYTES, 1,
                             UINT64_MAX / 2, MF_UNIT_BYTES, &o->max_bytes, err);
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
    struct mf_csv_callbacks cb = {.on_issue = mf_csv_issue_show};
    struct mf_csv_stats st = {0};
    struct mf_buf buf = {0};
    struct mf_json j;
    struct mf_csv_shown v = {path, json ? &j : NULL, out, 0};
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
