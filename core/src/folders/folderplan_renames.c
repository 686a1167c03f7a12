/*
 * Which --rename rules name a folder of the mailbox (issue 13 section 2):
 * a rule that names none is most likely a mistake (a typo, a '/' inside
 * a source level not written "\/"), and the programs warn about a rule
 * that matches no folder of any mailbox instead of ignoring it.
 *
 * A rule matches when its source path is a source folder's path or the
 * path of one of its parents (a rule for "Archive" renames the tree under
 * it even when the source does not list "Archive" itself), compared as
 * the plan compares them (folded when the rules are case-insensitive):
 * the same test rename_target() makes. The rules' paths go into a hash
 * map keyed by their levels, each followed by a NUL byte (a level holds
 * no NUL), so each folder costs one lookup per level.
 */
#include "folderplan_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mf__folder_renames_match(const struct mf__folder_ctx *c,
                         struct mf_folder_plan *plan) {
    struct mf__folder_smap rules = {0};
    struct mf_buf key = {0};
    size_t n = c->rules->n_rename;
    bool *matched = mf_xcalloc(n ? n : 1, sizeof(bool));

    for (size_t r = 0; r < c->n_ren; r++) {
        key.len = 0;
        for (size_t i = 0; i < c->ren[r].nfrom; i++)
            mf_buf_append(&key, c->ren[r].from[i],
                          strlen(c->ren[r].from[i]) + 1);
        /* Two rules for one path: the first wins in the plan; the later
         * one has no effect, so it stays "not matched" and is warned
         * about. */
        (void)mf__folder_smap_add(&rules, (const char *)key.data, key.len, r);
    }
    for (size_t i = 0; c->n_ren && i < c->n; i++) {
        const struct mf__folder_work *w = &c->w[i];
        char *const *f = mf__folder_fcomps(w);
        size_t r;

        key.len = 0;
        for (size_t d = 0; d < w->e.n_components; d++) {
            mf_buf_append(&key, f[d], strlen(f[d]) + 1);
            if (mf__folder_smap_get(&rules, (const char *)key.data, key.len,
                                    &r))
                matched[c->ren[r].rule] = true;
        }
    }
    mf_buf_free(&key);
    mf__folder_smap_free(&rules);
    plan->n_ren_rules = n;
    plan->ren_unmatched = mf_xcalloc(n ? n : 1, sizeof(bool));
    for (size_t i = 0; i < n; i++)
        plan->ren_unmatched[i] = !matched[i] && !c->rules->rename[i].profile;
    free(matched);
}

bool
mf_folder_plan_rename_unmatched(const struct mf_folder_plan *plan, size_t i) {
    return i < plan->n_ren_rules && plan->ren_unmatched[i];
}

void
mf_folder_rename_unmatched_why(const struct mf_folder_rename *r, char *out,
                               size_t n) {
    snprintf(out, n,
             "--rename \"%s=%s\" matches no folder of any mailbox (is the "
             "name right? a '/' inside a folder's name is written \\/)",
             r->from, r->to);
}
