/*
 * Which login one side of a mailbox uses: the one rule every path calls
 * (the jobs of a batch, the embedded `migrate`, `migrate --direct`,
 * `plan` and `batch create --dry-run`), so that a dry run logs in as the
 * job will.
 *
 *   1. An OAuth2 side logs in as the mailbox's EmailAddress with a token
 *      minted (or read) for it; no password.
 *   2. A side with an admin logs in as the admin acting for the user, by
 *      the side's admin login format: "sasl" (the default: SASL PLAIN,
 *      login the admin, authorization identity the user) or a template
 *      with {user}, {admin} and {domain} (the EmailAddress's domain), such
 *      as "{user}*{admin}" (Dovecot master users) or
 *      "{domain}/{admin}/{user}"; the admin's password.
 *   3. Otherwise the user logs in with its own password.
 *
 * The user is the row's UserName on the source. On the target it is
 * TargetUserName; without one, the EmailAddress when a target admin
 * acts for it (the admin names target accounts by address), else the
 * source's UserName. The target's own password is TargetPassword, else
 * Password (mf_jobs_target_password()).
 */
#include "jobs/jobs_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

static bool
given(const char *s) {
    return s && *s;
}

static const char *const placeholders[] = {"{user}", "{admin}", "{domain}"};

bool
mf_jobs_login_format_valid(const char *fmt, struct mf_error *err) {
    bool has_user = false;

    if (!fmt || strcmp(fmt, MF_JOBS_LOGIN_FORMAT_SASL) == 0)
        return true;
    for (const char *p = fmt; *p; p++) {
        size_t i;
        if (*p == '}') {
            mf_error_set(err, MF_E_USAGE,
                         "login format \"%s\": a \"}\" without \"{\"", fmt);
            return false;
        }
        if (*p != '{')
            continue;
        for (i = 0; i < MF_ARRAY_LEN(placeholders); i++)
            if (strncmp(p, placeholders[i], strlen(placeholders[i])) == 0)
                break;
        if (i == MF_ARRAY_LEN(placeholders)) {
            mf_error_set(err, MF_E_USAGE,
                         "login format \"%s\": unknown placeholder (use "
                         "{user}, {admin}, {domain}, or \"sasl\")",
                         fmt);
            return false;
        }
        has_user |= i == 0;
        p += strlen(placeholders[i]) - 1;
    }
    if (!has_user) {
        mf_error_set(err, MF_E_USAGE,
                     "login format \"%s\" does not name {user}: every "
                     "mailbox would log in as the same user",
                     fmt);
        return false;
    }
    return true;
}

/* The login for user acting through admin with format fmt (see the top):
 * *login_r and *authzid_r are new strings (authzid_r "" for a template).
 * email gives {domain}. */
static void
admin_login(const char *admin, const char *fmt, const char *user,
            const char *email, char **login_r, char **authzid_r) {
    const char *at = strrchr(email, '@');
    struct mf_buf b = {0};

    if (!fmt || strcmp(fmt, MF_JOBS_LOGIN_FORMAT_SASL) == 0) {
        *login_r = mf_xstrdup(admin);
        *authzid_r = mf_xstrdup(user);
        return;
    }
    for (const char *p = fmt; *p; p++) {
        if (strncmp(p, "{user}", 6) == 0)
            mf_buf_append_str(&b, user), p += 5;
        else if (strncmp(p, "{admin}", 7) == 0)
            mf_buf_append_str(&b, admin), p += 6;
        else if (strncmp(p, "{domain}", 8) == 0)
            mf_buf_append_str(&b, at ? at + 1 : ""), p += 7;
        else
            mf_buf_append(&b, p, 1);
    }
    mf_buf_append(&b, "", 1);
    *login_r = (char *)b.data;
    *authzid_r = mf_xstrdup("");
}

void
mf_jobs_side_login(const struct mf_jobs_side *side, bool target,
                   const struct mf_jobs_names *names,
                   struct mf_jobs_login *lg_r) {
    const char *user = names->user;

    memset(lg_r, 0, sizeof(*lg_r));
    if (side->oauth) {
        lg_r->login = mf_xstrdup(names->email);
        lg_r->authzid = mf_xstrdup("");
        lg_r->secret = MF_JOBS_SECRET_OAUTH;
        return;
    }
    if (target)
        user = given(names->target_user) ? names->target_user
               : given(side->admin)      ? names->email
                                         : names->user;
    if (given(side->admin)) {
        admin_login(side->admin, side->admin_format, user, names->email,
                    &lg_r->login, &lg_r->authzid);
        lg_r->secret = MF_JOBS_SECRET_ADMIN;
        return;
    }
    lg_r->login = mf_xstrdup(user);
    lg_r->authzid = mf_xstrdup("");
    lg_r->secret = MF_JOBS_SECRET_OWN;
}

void
mf_jobs_login_clear(struct mf_jobs_login *lg) {
    free(lg->login);
    free(lg->authzid);
    memset(lg, 0, sizeof(*lg));
}

const char *
mf_jobs_target_password(const char *target_password, const char *password) {
    return given(target_password) ? target_password
           : given(password)      ? password
                                  : NULL;
}
