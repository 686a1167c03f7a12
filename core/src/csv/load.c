/*
 * The CSV as the commands use it (csv.h, "Loading and reporting"): the
 * one loader that keeps every valid row (owned copies; the passwords are
 * secrets, wiped when the rows are freed), and the one way a problem is
 * shown, as a JSON object or as a compiler-style line
 * (mf_csv_issue_show() picks one for a command), so that `csv validate`,
 * `batch create`, `migrate`, `plan` and `verify` all say the same thing
 * about the same file; and the rows of a command that connects itself
 * (mf_csv_rows_load()), its option read and its problems shown.
 */
#include "csv/csv_int.h"

#include "mailferry/config.h"
#include "mailferry/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct load {
    struct mf_csv_mailbox *rows;
    size_t n;
    void (*on_issue)(void *ud, const struct mf_csv_issue *issue);
    void *ud;
};

static char *
dup_or_null(const char *s) {
    return s && *s ? mf_xstrdup(s) : NULL;
}

static void
on_row(void *ud, const struct mf_csv_row *r) {
    struct load *l = ud;
    struct mf_csv_mailbox *m;

    l->rows = mf_xreallocarray(l->rows, l->n + 1, sizeof(*l->rows));
    m = &l->rows[l->n++];
    memset(m, 0, sizeof(*m));
    m->line = r->line;
    m->email = mf_xstrdup(r->email);
    m->username = mf_xstrdup(r->username);
    m->password = dup_or_null(r->password);
    m->target_username = dup_or_null(r->target_username);
    m->target_password = dup_or_null(r->target_password);
    m->user_root = dup_or_null(r->user_root);
}

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct load *l = ud;

    if (l->on_issue)
        l->on_issue(l->ud, is);
}

mf_err
mf_csv_load(const char *path, const struct mf_csv_options *options,
            void (*issue_cb)(void *ud, const struct mf_csv_issue *issue),
            void *ud, struct mf_csv_mailbox **rows_r, size_t *n_r,
            struct mf_csv_stats *stats_r, struct mf_error *err) {
    struct mf_csv_callbacks cb = {.on_row = on_row, .on_issue = on_issue};
    struct load l = {.on_issue = issue_cb, .ud = ud};
    mf_err rc = mf_csv_parse_file(path, options, &cb, &l, stats_r, err);

    if (rc == MF_E_IO) {
        mf_csv_mailboxes_free(&l.rows, l.n);
        return rc;
    }
    *rows_r = l.rows;
    *n_r = l.n;
    return rc;
}

void
mf_csv_mailboxes_free(struct mf_csv_mailbox **rows, size_t n) {
    struct mf_csv_mailbox *v = *rows;

    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        mf_secret_free(&v[i].password);
        mf_secret_free(&v[i].target_password);
        free(v[i].email);
        free(v[i].username);
        free(v[i].target_username);
        free(v[i].user_root);
    }
    free(v);
    *rows = NULL;
}

void
mf_csv_issue_json(struct mf_json *j, const struct mf_csv_issue *is) {
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, is, line, column, column_name);
    mf_json_member(j, "code", mf_err_name(is->code));
    mf_json_member(j, "number", is->code);
    mf_json_member(j, "message", mf_strerror(is->code));
    mf_json_member(j, "detail", is->detail);
    mf_json_object_end(j);
}

void
mf_csv_issue_print(FILE *f, const char *path, const struct mf_csv_issue *is) {
    fprintf(f, "%s:%llu:%u: error: %s", path, (unsigned long long)is->line,
            is->column, mf_strerror(is->code));
    if (is->column_name)
        fprintf(f, " in %s", is->column_name);
    fprintf(f, ": %s [%s]\n", is->detail, mf_err_name(is->code));
}

void
mf_csv_issue_show(void *shown, const struct mf_csv_issue *is) {
    struct mf_csv_shown *s = shown;

    s->n++;
    if (s->j)
        mf_csv_issue_json(s->j, is);
    else
        mf_csv_issue_print(s->f, s->path, is);
}

mf_err
mf_csv_rows_load(const struct mf_config *conf, const char *path,
                 bool password_optional, struct mf_csv_rows *l,
                 struct mf_error *err) {
    struct mf_csv_options copt = {.password_optional = password_optional};
    struct mf_csv_stats cstats;
    mf_err rc;

    memset(l, 0, sizeof(*l));
    l->shown = (struct mf_csv_shown){.path = path, .f = stderr};
    if (mf_config_get_bool(conf, "allow-unknown-columns", false,
                           &copt.allow_unknown_columns, err)) {
        err->code = MF_E_USAGE;
        return MF_E_USAGE;
    }
    rc = mf_csv_load(path, &copt, mf_csv_issue_show, &l->shown, &l->rows, &l->n,
                     &cstats, err);
    if (rc == MF_E_OK || rc == MF_E_IO)
        return rc;
    return mf_error_set(err, rc,
                        "%s has %llu errors; nothing done (see `mailferry "
                        "csv validate`)",
                        path, (unsigned long long)l->shown.n);
}

void
mf_csv_rows_free(struct mf_csv_rows *l) {
    mf_csv_mailboxes_free(&l->rows, l->n);
    memset(l, 0, sizeof(*l));
}
