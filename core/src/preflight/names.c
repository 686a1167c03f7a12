/*
 * `endpoint test`'s warning about folder names the target will refuse
 * (issue 13 section 2; mf_preflight_folder_names() in preflight.h). The
 * rule is not here: the folder plan decides which names a target profile
 * refuses and what each becomes (folders/folderplan_names.c), and the
 * plan is built by mf_plan_folders(), as `plan` and `batch create
 * --dry-run` build it, so the three commands warn about the same names.
 * This file only chooses the logins, runs it and keeps the refused names
 * (the entries flagged MF_FOLDER_F_NAME_MAPPED) in the result.
 */
#include "preflight/preflight_int.h"

#include "mailferry/folderplan.h"
#include "mailferry/plan.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <string.h>

/* The login of one mailbox from o: the admin as --as, --user, or the
 * OAuth2 user; false when o names none. */
static bool
mailbox_login(const struct mf_preflight_options *o,
              struct mf_migrate_login *l) {
    memset(l, 0, sizeof(*l));
    if (o->admin_user && o->admin_password && o->as_user) {
        l->user = o->admin_user;
        l->password = o->admin_password;
        l->authzid = o->as_user;
    } else if (o->user && o->password) {
        l->user = o->user;
        l->password = o->password;
    } else if (o->oauth && o->oauth_user) {
        l->user = o->oauth_user;
        l->oauth = o->oauth;
    } else {
        return false;
    }
    return true;
}

static void
server(const struct mf_preflight_options *o, struct mf_migrate_server *s) {
    memset(s, 0, sizeof(*s));
    s->endpoint = o->endpoint;
    s->ca_file = o->ca_file;
    s->insecure = o->insecure;
    s->connect_timeout_ms = o->timeout_ms;
    s->io_timeout_ms = o->timeout_ms;
}

/* Keeps the plan's refused names in res. */
static void
keep_names(const struct mf_folder_plan *plan, struct mf_preflight_result *res) {
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        struct mf_preflight_name *n;
        if (e->action == MF_FOLDER_EXCLUDED || !e->src_path ||
            !(e->flags & MF_FOLDER_F_NAME_MAPPED))
            continue;
        if (res->names_refused++ >= MF_PREFLIGHT_NAMES_MAX)
            continue;
        n = &res->names[res->n_names++];
        snprintf(n->source, sizeof(n->source), "%s", e->src_path);
        snprintf(n->target, sizeof(n->target), "%s", e->tgt_name);
        mf_folder_entry_rename_why(e, n->why, sizeof(n->why));
    }
}

void
mf_preflight_folder_names(const struct mf_preflight_options *src,
                          const struct mf_preflight_options *tgt,
                          const struct mf_profile *tgt_profile,
                          struct mf_preflight_result *res) {
    struct mf_migrate_server ss, ts;
    struct mf_plan_options po = {0};
    struct mf_plan_request req = {0};
    struct mf_plan_mailbox mb;
    struct mf_preflight_step *s;
    const char *profile = tgt_profile ? tgt_profile->name : "generic";

    if (!mailbox_login(src, &req.source)) {
        if ((s = mf__pf_step_new(res, "folder-names", MF_PREFLIGHT_SKIP,
                                 MF_E_OK, 0)))
            snprintf(s->text, sizeof(s->text),
                     "needs a mailbox's login (--as USER with --admin, or "
                     "--user) to read its folders");
        return;
    }
    server(src, &ss);
    po.source = &ss;
    if (tgt && mailbox_login(tgt, &req.target)) {
        server(tgt, &ts);
        po.target = &ts; /* its separator, prefix and folders */
    }
    po.target_profile = tgt_profile;
    req.email = req.source.authzid ? req.source.authzid : req.source.user;
    res->names_checked = true;
    snprintf(res->names_mailbox, sizeof(res->names_mailbox), "%s", req.email);
    snprintf(res->names_profile, sizeof(res->names_profile), "%s", profile);
    if (mf_plan_folders(&po, &req, &mb) != MF_E_OK) {
        if ((s = mf__pf_step_new(res, "folder-names", MF_PREFLIGHT_WARN,
                                 mb.error.code, (uint64_t)(mb.seconds * 1e3))))
            snprintf(s->text, sizeof(s->text),
                     "could not read the folders of %s: %s", req.email,
                     mb.error.detail);
        res->names_checked = false;
        mf_plan_mailbox_clear(&mb);
        return;
    }
    keep_names(mb.plan, res);
    s = mf__pf_step_new(res, "folder-names",
                        res->names_refused ? MF_PREFLIGHT_WARN
                                           : MF_PREFLIGHT_OK,
                        MF_E_OK, (uint64_t)(mb.seconds * 1e3));
    if (s && res->names_refused)
        snprintf(s->text, sizeof(s->text),
                 "the target (profile %s) refuses %zu folder names of %s: "
                 "they will be mapped as listed below",
                 profile, res->names_refused, req.email);
    else if (s)
        snprintf(s->text, sizeof(s->text),
                 "the target (profile %s) accepts every folder name of %s",
                 profile, req.email);
    mf_plan_mailbox_clear(&mb);
}
