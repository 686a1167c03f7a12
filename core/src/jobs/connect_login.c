/*
 * The logins of a process that connects to the servers itself (`migrate
 * --direct`, `verify`, `plan`, `batch create --dry-run`): the one rule
 * of login.c (mf_jobs_side_login()) turned into the engine's struct
 * mf_migrate_login, with the clear password, the admin's or an OAuth2
 * token source in place of the sealed secrets a job carries.
 */
#include "jobs/jobs_int.h"

#include "mailferry/csv.h"
#include "mailferry/migrate.h"

#include <string.h>

void
mf_jobs_direct_mailbox_csv(const struct mf_csv_mailbox *row,
                           struct mf_jobs_direct_mailbox *mb_r) {
    memset(mb_r, 0, sizeof(*mb_r));
    mb_r->names.email = row->email;
    mb_r->names.user = row->username;
    mb_r->names.target_user = row->target_username;
    mb_r->user_root = row->user_root;
    mb_r->password = row->password;
    mb_r->target_password = row->target_password;
}

/* One side's login; owned[2] receives the login and the authzid. */
static void
side_login(const struct mf_jobs_direct_side *sd, bool target,
           const struct mf_jobs_names *names, const char *password,
           struct mf_migrate_login *lg, char *owned[2]) {
    const struct mf_jobs_side side = {sd->admin, sd->admin_format,
                                      sd->oauth != NULL};
    struct mf_jobs_login jl;

    memset(lg, 0, sizeof(*lg));
    mf_jobs_side_login(&side, target, names, &jl);
    owned[0] = jl.login;
    owned[1] = jl.authzid;
    lg->user = jl.login;
    lg->authzid = *jl.authzid ? jl.authzid : NULL;
    switch (jl.secret) {
    case MF_JOBS_SECRET_OWN:
        lg->password = password;
        break;
    case MF_JOBS_SECRET_ADMIN:
        lg->password = sd->admin_password;
        break;
    case MF_JOBS_SECRET_OAUTH:
        lg->oauth = sd->oauth;
        lg->oauth_mailbox = names->email;
        break;
    }
}

void
mf_jobs_direct_logins(const struct mf_jobs_direct_side sides[2],
                      const struct mf_jobs_direct_mailbox *mb,
                      struct mf_migrate_login *src,
                      struct mf_migrate_login *dst, char *owned[4]) {
    side_login(&sides[0], false, &mb->names, mb->password, src, owned);
    src->user_root = mb->user_root;
    side_login(&sides[1], true, &mb->names,
               mf_jobs_target_password(mb->target_password, mb->password), dst,
               owned + 2);
}
