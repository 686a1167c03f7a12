/*
 * `endpoint test` as a whole (mailferry/preflight.h): which logins go
 * together (mf_preflight_logins_set()), then the source's checks, the
 * target's, and the folder names the target would refuse
 * (mf_preflight_run()). The command reads options, prints
 * (show.c) and turns the deciding code into its exit code.
 */
#include "preflight/preflight_int.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

mf_err
mf_preflight_logins_set(struct mf_preflight_options *so,
                        struct mf_preflight_options *to,
                        const struct mf_preflight_logins *lg,
                        struct mf_error *err) {
    bool oauth = lg->source_oauth || lg->target_oauth;

    if (oauth && !so->user)
        return mf_error_set(err, MF_E_USAGE,
                            "OAuth2 needs --user MAILBOX (whose token to ask "
                            "for)");
    so->oauth = lg->source_oauth;
    so->oauth_user = lg->source_oauth ? so->user : NULL;
    to->oauth = lg->target_oauth;
    to->oauth_user = lg->target_oauth ? so->user : NULL;
    if (so->user && oauth && !lg->user_password)
        so->user = NULL; /* the mailbox logs in with its token only */
    if ((so->admin_user != NULL) != (lg->admin_password != NULL) ||
        (so->user != NULL) != (lg->user_password != NULL))
        return mf_error_set(err, MF_E_USAGE,
                            "--admin goes with --admin-password-file, --user "
                            "with --password-file");
    if (so->as_user && !so->admin_user)
        return mf_error_set(err, MF_E_USAGE, "--as needs --admin");
    so->admin_password = lg->admin_password;
    so->password = lg->user_password;
    to->ca_file = so->ca_file;
    to->insecure = so->insecure;
    to->timeout_ms = so->timeout_ms;
    to->admin_user = lg->target_admin;
    to->admin_password = lg->target_admin_password;
    to->as_user = to->admin_user ? so->as_user : NULL;
    return MF_E_OK;
}

mf_err
mf_preflight_run(const struct mf_preflight_options *so,
                 const struct mf_preflight_options *to,
                 const struct mf_profile *tgt_profile,
                 struct mf_preflight_run *r) {
    memset(r, 0, sizeof(*r));
    r->src = mf_xcalloc(1, sizeof(*r->src));
    r->src_rc = mf_preflight_endpoint_test(so, r->src);
    if (to) {
        r->tgt = mf_xcalloc(1, sizeof(*r->tgt));
        r->tgt_rc = mf_preflight_endpoint_test(to, r->tgt);
    }
    /* Folder names the target refuses: for the profile given, else the
     * one the target looks like (issue 13 section 2). */
    if (r->src_rc == MF_E_OK && (tgt_profile || (r->tgt && r->tgt->profile[0])))
        mf_preflight_folder_names(
            so, to,
            tgt_profile ? tgt_profile : mf_profile_or_generic(r->tgt->profile),
            r->src);
    return r->src_rc != MF_E_OK ? r->src_rc : r->tgt_rc;
}

void
mf_preflight_run_clear(struct mf_preflight_run *r) {
    free(r->src);
    free(r->tgt);
    memset(r, 0, sizeof(*r));
}
