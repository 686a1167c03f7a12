/*
 * Creating and subscribing one mailbox's target folders (the "create
 * them" step of mailbox.c's attempt), with the one fallback to a
 * conservative name when the target refuses a name.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lists e as a folder the target got under another name. */
void
mf__run_list_renamed(struct mf__run *run, const struct mf_folder_entry *e) {
    char why[MF_ERROR_DETAIL_MAX];

    mf_folder_entry_rename_why(e, why, sizeof(why));
    mf__run_renamed(run, e->src_path, why);
}

/* A folder-level problem that fails that folder only: its messages are
 * listed with the error, and the mailbox goes on (and ends with
 * NOT_ALL_COPIED). A dropped connection or throttling is not one: the
 * attempt ends and the next one resumes. */
bool
mf__run_folder_only(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX;
}

const struct mf_error *
mf__broken_find(const struct broken_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i].err;
    return NULL;
}

void
mf__broken_free(struct broken_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The target refused to create entry i: by its name, unless the answer
 * says otherwise (a full mailbox, a limit, a missing parent cannot be
 * helped by another name). */
static bool
name_refusal(const struct mf_error *err) {
    return err->code == MF_E_IMAP_NO && !strstr(err->detail, "[OVERQUOTA]") &&
           !strstr(err->detail, "[LIMIT]") && !strstr(err->detail, "[NOPERM]");
}

bool
mf__run_name_fallback(struct mf__run *run, struct mf_folder_plan *plan,
                      size_t i) {
    return mf_folder_plan_fallback(plan, i, run->dst->caps.delim, false,
                                   mf_folder_rules_replacement(run->o->rules));
}

/* CREATE refused by the name: once more with the conservative name
 * (folderplan_fallback.c), and the rename listed with both names. True
 * when the folder now exists. When the second name is refused too, or
 * the first refusal named the name and there is nothing to replace,
 * run->err says FOLDER_NAME_REFUSED with both answers. */
static bool
create_fallback(struct mf__run *run, struct mf_folder_plan *plan, size_t i) {
    struct mf_store *dst = run->dst;
    const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
    struct mf_error first = run->err;
    char *old = mf_xstrdup(e->tgt_name);
    bool ok = false;

    if (!name_refusal(&first))
        goto out;
    if (!mf__run_name_fallback(run, plan, i)) {
        if (strstr(first.detail, "[CANNOT]") || strstr(first.detail, "name") ||
            strstr(first.detail, "Name"))
            mf_error_set(&run->err, MF_E_FOLDER_NAME_REFUSED,
                         "the target refused \"%.60s\" (%.120s), and the "
                         "name has nothing a conservative one replaces",
                         old, first.detail);
        goto out;
    }
    e = mf_folder_plan_entry(plan, i);
    if (dst->ops->create(dst, e->tgt_wire) != MF_E_OK) {
        mf_error_set(&run->err, MF_E_FOLDER_NAME_REFUSED,
                     "the target refused \"%.50s\" (%.70s) and its "
                     "conservative name \"%.50s\" (%.70s)",
                     old, first.detail, e->tgt_name, dst->error.detail);
        goto out;
    }
    if (e->src_path)
        mf__run_list_renamed(run, e);
    ok = true;
out:
    free(old);
    return ok;
}

/* Creates and subscribes the target folders, each kind in one pipelined
 * round (mailferry/store.h folders()); folders that cannot be created go into
 * broken with the server's answer (their messages are listed as not
 * copied) and are not subscribed. A folder the target's LIST (lists)
 * shows subscribed is not subscribed again: a later pass sends nothing
 * for folders that are there already. */
mf_err
mf__run_create_folders(struct mf__run *run, struct mf_folder_plan *plan,
                       const struct mf_store_lists *lists,
                       struct broken_list *broken) {
    struct mf_store *dst = run->dst;
    size_t n = mf_folder_plan_count(plan), k = 0, ncreate = 0;
    const char **names = mf_xcalloc(n ? n : 1, sizeof(*names));
    size_t *at = mf_xcalloc(n ? n : 1, sizeof(*at));
    bool *skip = mf_xcalloc(n ? n : 1, sizeof(*skip));
    struct mf_error *errs = mf_xcalloc(n ? n : 1, sizeof(*errs));
    mf_err rc;

    /* A folder whose planned name is not on the target but whose
     * conservative name is: an earlier pass's fallback (Cyrus refuses '/'
     * in a name, so "Reports 2024/25" lives as "Reports 2024_25" there).
     * It, and those below it, move there at once: without this every
     * pass would send two CREATEs for it, the refused one and the one
     * answered [ALREADYEXISTS], and a pass over an unchanged mailbox
     * would not be the STATUS-only pass it should be. `plan` follows the
     * same rule. */
    mf_folder_plan_adopt_fallbacks(plan, lists->tgt, lists->ntgt,
                                   dst->caps.delim, false,
                                   mf_folder_rules_replacement(run->o->rules));
    for (size_t i = 0; i < n; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        skip[i] = e->action == MF_FOLDER_EXCLUDED;
        if (skip[i])
            continue;
        /* There under the name a fallback gave it (or its parent) on an
         * earlier pass: listed as renamed, as then, and not created. */
        if (!e->create_needed || mf__store_lists_tgt_has(lists, e->tgt_wire)) {
            if (e->src_path && (e->flags & MF_FOLDER_F_NAME_REFUSED))
                mf__run_list_renamed(run, e);
            continue;
        }
        names[k] = mf_xstrdup(e->tgt_wire); /* a fallback renames */
        at[k++] = i;
    }
    ncreate = k;
    if ((rc = mf_store_folders(dst, false, names, k, errs)) != MF_E_OK) {
        rc = mf__run_store_error(run, dst, "CREATE");
        goto out;
    }
    for (size_t j = 0; j < k; j++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, at[j]);
        if (errs[j].code != MF_E_OK && strcmp(names[j], e->tgt_wire) != 0) {
            /* Renamed since, with a parent the target refused by its name
             * (create_fallback() renames the folders below too): once
             * more under the new name. */
            memset(&errs[j], 0, sizeof(errs[j]));
            if (dst->ops->create(dst, e->tgt_wire) != MF_E_OK)
                errs[j] = dst->error;
            else if (e->src_path)
                mf__run_list_renamed(run, e);
        }
        if (errs[j].code == MF_E_OK) {
            run->res->stats.folders_created++;
            continue;
        }
        dst->error = errs[j];
        rc = mf__run_store_error(run, dst, e->tgt_name);
        if (!mf__run_folder_only(rc))
            goto out;
        if (create_fallback(run, plan, at[j])) {
            run->res->stats.folders_created++;
            continue;
        }
        broken->v =
            mf_xreallocarray(broken->v, broken->n + 1, sizeof(*broken->v));
        broken->v[broken->n].name = mf_xstrdup(e->tgt_wire);
        broken->v[broken->n++].err = run->err;
        skip[at[j]] = true;
    }
    for (size_t j = 0; j < ncreate; j++)
        free((char *)names[j]);
    ncreate = k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        if (!skip[i] && e->subscribed &&
            !mf__store_lists_tgt_subscribed(lists, e->tgt_wire)) {
            names[k] = e->tgt_wire;
            at[k++] = i;
        }
    }
    if ((rc = mf_store_folders(dst, true, names, k, errs)) != MF_E_OK) {
        rc = mf__run_store_error(run, dst, "SUBSCRIBE");
        goto out;
    }
    for (size_t j = 0; j < k; j++) {
        if (errs[j].code == MF_E_OK)
            continue;
        dst->error = errs[j];
        rc = mf__run_store_error(run, dst,
                                 mf_folder_plan_entry(plan, at[j])->tgt_name);
        if (!mf__run_folder_only(rc))
            goto out;
    }
    rc = MF_E_OK;
out:
    for (size_t j = 0; j < ncreate; j++)
        free((char *)names[j]);
    free(names);
    free(at);
    free(skip);
    free(errs);
    return rc;
}
