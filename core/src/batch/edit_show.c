/*
 * What the batch edit commands print (mailferry/batch_edit.h): each
 * mailbox's outcome as a line or a JSON object, the jobs queued and the
 * state after, the CSV lines of rows the store refused, and (for create
 * as well) the JSON answer to a CSV with problems. Pure output:
 * the commands choose the streams and the exit code.
 */
#include "batch/batch_int.h"

#include "mailferry/batch_edit.h"
#include "mailferry/batchdef.h"
#include "mailferry/json.h"

#include <stdio.h>
#include <string.h>

void
mf_batch_edit_show_begin(struct mf_batch_edit_show *s) {
    if (!s->json)
        return;
    mf_json_init(&s->j, &s->buf);
    mf_json_object_begin(&s->j);
    mf_json_key(&s->j, "batch"), mf_json_string(&s->j, s->batch);
    mf_json_key(&s->j, "mailboxes");
    mf_json_array_begin(&s->j);
}

mf_err
mf_batch_edit_show_outcome(void *ud, const struct mf_batch_mb_outcome *o) {
    struct mf_batch_edit_show *s = ud;
    bool unknown = strcmp(o->outcome, "unknown") == 0;

    s->unknown += unknown;
    if (s->json) {
        mf_json_object_begin(&s->j);
        mf_json_key(&s->j, "email"), mf_json_string(&s->j, o->email);
        mf_json_key(&s->j, "outcome"), mf_json_string(&s->j, o->outcome);
        mf_json_key(&s->j, "was"), mf_json_string(&s->j, o->state);
        mf_json_key(&s->j, "job"),
            mf_json_string(&s->j, o->job ? o->job->job_id : NULL);
        mf_json_object_end(&s->j);
    } else if (unknown) {
        fprintf(s->err, "mailferry %s: %s: not in batch %s [%s]\n", s->command,
                o->email, s->batch, mf_err_name(MF_E_CSV_MAILBOX_NOT_IN_BATCH));
    } else {
        fprintf(s->out, "  %s: %s%s%s%s\n", o->email, o->outcome,
                *o->state ? " (was " : "", o->state, *o->state ? ")" : "");
    }
    return MF_E_OK;
}

void
mf_batch_edit_show_end(struct mf_batch_edit_show *s, uint64_t jobs,
                       const char *topic, enum mf_batch_state st) {
    if (s->json) {
        mf_json_array_end(&s->j);
        mf_json_key(&s->j, "jobs"), mf_json_u64(&s->j, jobs);
        mf_json_key(&s->j, "topic"), mf_json_string(&s->j, topic);
        mf_json_key(&s->j, "state"),
            mf_json_string(&s->j, mf_batch_state_name(st));
        mf_json_object_end(&s->j);
        fprintf(s->out, "%s\n", (char *)s->buf.data);
        return;
    }
    fprintf(s->out, "batch %s: %llu job%s queued; state %s\n", s->batch,
            (unsigned long long)jobs, jobs == 1 ? "" : "s",
            mf_batch_state_name(st));
}

void
mf_batch_edit_show_free(struct mf_batch_edit_show *s) {
    mf_buf_free(&s->buf);
}

void
mf_batch_edit_show_rows_end(struct mf_batch_edit_show *s, bool add, size_t n,
                            uint64_t jobs, const char *topic,
                            enum mf_batch_state st) {
    if (!s->json)
        fprintf(s->out, "batch %s: %s %zu mailbox%s\n", s->batch,
                add ? "added" : "new logins and passwords for", n,
                n == 1 ? "" : "es");
    mf_batch_edit_show_end(s, jobs, topic, st);
    if (add && !jobs && !s->json)
        fprintf(s->out, "(they wait for `mailferry batch start %s`)\n",
                s->batch);
}

void
mf_batch_edit_show_dropped(struct mf_batch_edit_show *s,
                           const char *const *emails, size_t n,
                           enum mf_batch_state st) {
    if (!s->json) {
        fprintf(s->out,
                "batch %s: dropped %zu mailbox%s (their copied mail stays on "
                "the target); state %s\n",
                s->batch, n, n == 1 ? "" : "es", mf_batch_state_name(st));
        return;
    }
    mf_batch_edit_show_begin(s);
    for (size_t i = 0; i < n; i++) {
        const struct mf_batch_mb_outcome o = {emails[i], "dropped", "", NULL};
        (void)mf_batch_edit_show_outcome(s, &o);
    }
    mf_batch_edit_show_end(s, 0, NULL, st);
}

void
mf_batch_edit_show_refused(FILE *err, const char *csv,
                           const struct mf_batchdef *d, const size_t *idx,
                           size_t n, mf_err code, const char *what,
                           struct mf_json *j) {
    for (size_t i = 0; i < n && j; i++) {
        mf_json_object_begin(j);
        mf_json_key(j, "line"), mf_json_u64(j, d->lines[idx[i]]);
        mf_json_key(j, "code"), mf_json_string(j, mf_err_name(code));
        mf_json_key(j, "number"), mf_json_u64(j, code);
        mf_json_key(j, "message"), mf_json_string(j, mf_strerror(code));
        mf_json_key(j, "email"), mf_json_string(j, d->mbs[idx[i]].email);
        mf_json_object_end(j);
    }
    for (size_t i = 0; i < n && !j; i++)
        fprintf(err, "%s:%llu: error: %s: %s [%s]\n", csv,
                (unsigned long long)d->lines[idx[i]], mf_strerror(code),
                d->mbs[idx[i]].email, mf_err_name(code));
    fprintf(err, "(%s)\n", what);
}

struct mf_json *
mf_batchdef_issues_begin(struct mf_json_doc *doc, const char *name,
                         const char *csv_path) {
    struct mf_json *j = mf_json_doc_begin(doc);

    mf_json_object_begin(j);
    mf_json_member(j, "batch", name);
    mf_json_member(j, "file", csv_path);
    mf_json_key(j, "errors"), mf_json_array_begin(j);
    return j;
}

void
mf_batchdef_issues_end(struct mf_json_doc *doc, const char *done_key,
                       uint64_t count, FILE *out) {
    mf_json_array_end(&doc->j);
    mf_json_member(&doc->j, done_key, (bool)false);
    mf_json_member(&doc->j, "error_count", count);
    mf_json_object_end(&doc->j);
    mf_json_doc_print(doc, out);
}
