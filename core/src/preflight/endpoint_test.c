/*
 * The endpoint test (see mailferry/preflight.h): a fixed sequence of
 * steps against one IMAP endpoint, each with a verdict and one readable
 * line, plus the facts found on the way.
 *
 *   tcp -> [tls] -> greeting -> [starttls + tls] -> capabilities.prelogin
 *       -> login.* (through the session, as workers log in)
 *       -> capabilities -> namespace -> separator -> probe
 *
 * A failed connection, TLS or greeting step ends the test (the later
 * steps are SKIPped); a failed login skips what needs that login. The
 * bare connection (probe.c) is closed before the logins so that it never
 * counts against a connection limit.
 */
#include "preflight/preflight_int.h"

#include "mailferry/imap_session.h"
#include "mailferry/config.h"
#include "mailferry/oauth.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 15000L
/* A certificate this close to expiry is worth a warning. */
#define EXPIRY_WARN_DAYS 30

struct run {
    const struct mf_preflight_options *o;
    struct mf_preflight_result *res;
    struct mf_imap_conn_options conn;
    mf_err first_fail;
    uint64_t t0; /* start of the current step (mf_monotonic_ms) */
};

struct mf_preflight_step *
mf__pf_step_new(struct mf_preflight_result *res, const char *name,
                enum mf_preflight_verdict v, mf_err code, uint64_t elapsed) {
    struct mf_preflight_step *s;

    if (res->nsteps == MF_PREFLIGHT_STEP_MAX)
        return NULL;
    s = &res->steps[res->nsteps++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->verdict = v;
    s->code = code;
    s->elapsed_ms = elapsed;
    return s;
}

static void
step_start(struct run *r) {
    r->t0 = mf_monotonic_ms();
}

static uint64_t
elapsed_ms(const struct run *r) {
    return mf_monotonic_ms() - r->t0;
}

static void step_add(struct run *r, const char *name,
                     enum mf_preflight_verdict v, mf_err code, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));

static void
step_add(struct run *r, const char *name, enum mf_preflight_verdict v,
         mf_err code, const char *fmt, ...) {
    struct mf_preflight_step *s;
    va_list ap;

    if (!(s = mf__pf_step_new(r->res, name, v, code, elapsed_ms(r))))
        return;
    va_start(ap, fmt);
    vsnprintf(s->text, sizeof(s->text), fmt, ap);
    va_end(ap);
    if (v == MF_PREFLIGHT_FAIL && r->first_fail == MF_E_OK)
        r->first_fail = code;
}

static void
skip(struct run *r, const char *name, const char *why) {
    step_start(r);
    step_add(r, name, MF_PREFLIGHT_SKIP, MF_E_OK, "%s", why);
}

/* ------------------------------------------------------------------ */
/* Bare connection: TCP, TLS, greeting, capabilities before login        */
/* ------------------------------------------------------------------ */

static bool
tls_step(struct run *r, struct mf__pf_conn *c) {
    struct mf_preflight_tls_info *t = &r->res->tls;
    struct mf_error err = {0};

    step_start(r);
    if (mf__pf_tls(c, r->o, t, &err) != MF_E_OK) {
        step_add(r, "tls", MF_PREFLIGHT_FAIL, err.code, "%s", err.detail);
        return false;
    }
    if (!t->verified && r->o->insecure) {
        step_add(r, "tls", MF_PREFLIGHT_WARN, MF_E_TLS_VERIFY,
                 "%s, certificate \"%s\" issued by \"%s\" NOT verified (%s): "
                 "--insecure accepts it",
                 t->version, t->subject, t->issuer, t->verify_result);
    } else if (!t->verified) {
        step_add(r, "tls", MF_PREFLIGHT_FAIL, MF_E_TLS_VERIFY,
                 "certificate not trusted: %s (subject \"%s\", issuer "
                 "\"%s\", expires %s); give its CA with --ca-file, or "
                 "--insecure for a lab server",
                 t->verify_result, t->subject, t->issuer, t->not_after);
        return false;
    } else if (t->days_left < EXPIRY_WARN_DAYS) {
        step_add(r, "tls", MF_PREFLIGHT_WARN, MF_E_OK,
                 "%s %s, certificate \"%s\" verified but expires in %lld "
                 "days (%s)",
                 t->version, t->cipher, t->subject, (long long)t->days_left,
                 t->not_after);
    } else {
        step_add(r, "tls", MF_PREFLIGHT_OK, MF_E_OK,
                 "%s %s, certificate \"%s\" issued by \"%s\", expires %s "
                 "(%lld days), verified",
                 t->version, t->cipher, t->subject, t->issuer, t->not_after,
                 (long long)t->days_left);
    }
    return true;
}

/* Returns false when the test cannot go on. */
static bool
bare_steps(struct run *r) {
    const struct mf_preflight_options *o = r->o;
    struct mf_preflight_result *res = r->res;
    struct mf__pf_conn *c = NULL;
    struct mf_error err = {0};
    bool ok = false;

    step_start(r);
    if (mf__pf_connect(o, &c, res->peer, sizeof(res->peer), &err) != MF_E_OK) {
        step_add(r, "tcp", MF_PREFLIGHT_FAIL, err.code, "%s", err.detail);
        goto out;
    }
    step_add(r, "tcp", MF_PREFLIGHT_OK, MF_E_OK, "connected to %s", res->peer);
    if (o->endpoint.tls == MF_TLS_IMPLICIT && !tls_step(r, c))
        goto out;
    step_start(r);
    if (mf__pf_greeting(c, res->greeting, sizeof(res->greeting), &err) !=
        MF_E_OK) {
        step_add(r, "greeting", MF_PREFLIGHT_FAIL, err.code, "%s%s", err.detail,
                 o->endpoint.tls != MF_TLS_IMPLICIT && err.code == MF_E_TIMEOUT
                     ? " (a TLS port? try imaps://)"
                     : "");
        goto out;
    }
    step_add(r, "greeting", MF_PREFLIGHT_OK, MF_E_OK, "%s", res->greeting);
    if (o->endpoint.tls == MF_TLS_STARTTLS) {
        step_start(r);
        if (!mf__pf_caps(c)[0] && mf__pf_capability(c, &err) != MF_E_OK) {
            step_add(r, "starttls", MF_PREFLIGHT_FAIL, err.code, "%s",
                     err.detail);
            goto out;
        }
        if (!mf_preflight_caps_have(mf__pf_caps(c), "STARTTLS")) {
            step_add(r, "starttls", MF_PREFLIGHT_FAIL, MF_E_TLS,
                     "the server does not offer STARTTLS, which imap:// "
                     "requires: use imaps://, or ?tls=off for a lab server");
            goto out;
        }
        if (mf__pf_starttls(c, &err) != MF_E_OK) {
            step_add(r, "starttls", MF_PREFLIGHT_FAIL, err.code, "%s",
                     err.detail);
            goto out;
        }
        step_add(r, "starttls", MF_PREFLIGHT_OK, MF_E_OK, "STARTTLS accepted");
        if (!tls_step(r, c))
            goto out;
    } else if (o->endpoint.tls == MF_TLS_OFF) {
        step_start(r);
        step_add(r, "tls", MF_PREFLIGHT_WARN, MF_E_OK,
                 "tls=off: passwords and mail cross the network in plain "
                 "text (for lab servers only)");
    }
    step_start(r);
    if (!mf__pf_caps(c)[0] && mf__pf_capability(c, &err) != MF_E_OK) {
        step_add(r, "capabilities.prelogin", MF_PREFLIGHT_FAIL, err.code, "%s",
                 err.detail);
        goto out;
    }
    snprintf(res->caps_prelogin, sizeof(res->caps_prelogin), "%s",
             mf__pf_caps(c));
    if (mf_preflight_caps_have(res->caps_prelogin, "LOGINDISABLED"))
        step_add(r, "capabilities.prelogin", MF_PREFLIGHT_WARN, MF_E_OK,
                 "%s (LOGINDISABLED: only SASL logins)", res->caps_prelogin);
    else
        step_add(r, "capabilities.prelogin", MF_PREFLIGHT_OK, MF_E_OK, "%s",
                 res->caps_prelogin);
    /* Who the server says it is, for the profile guess (a failure here
     * changes nothing: ID is optional). */
    if (mf_preflight_caps_have(res->caps_prelogin, "ID") &&
        mf__pf_id(c, res->server_id, sizeof(res->server_id), &err) != MF_E_OK)
        res->server_id[0] = '\0';
    ok = true;
out:
    mf__pf_close(&c);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Logins through the session                                           */
/* ------------------------------------------------------------------ */

struct login {
    const char *step;
    const char *user, *password, *authzid;
    const char *who;        /* "admin as user01@example.test" */
    struct mf_oauth *oauth; /* tokens instead of the password, or NULL */
};

static mf_err
open_session(struct run *r, const struct login *l, struct mf_imap_session **s_r,
             struct mf_error *err) {
    struct mf_imap_login login = {.user = l->user,
                                  .password = l->password,
                                  .authzid = l->authzid,
                                  .oauth = l->oauth,
                                  .oauth_mailbox = l->oauth ? l->user : NULL};
    struct mf_imap_session_options so = {.timeout_ms = r->conn.io_timeout_ms};

    return mf_imap_session_open(&r->conn, &login, &so, s_r, err, NULL);
}

/* Adds a FAIL step for a refused login, with the server's own words. */
static void
login_failed(struct run *r, const struct login *l, const struct mf_error *err) {
    char why[MF_ERROR_DETAIL_MAX] = "";

    if (err->code == MF_E_AUTH) {
        mf__pf_explain_login(r->o, l->user, l->password, l->authzid, why,
                             sizeof(why));
        step_add(r, l->step, MF_PREFLIGHT_FAIL, err->code,
                 "login as %s refused: %s", l->who, why[0] ? why : err->detail);
    } else {
        step_add(r, l->step, MF_PREFLIGHT_FAIL, err->code,
                 "login as %s failed: %s", l->who, err->detail);
    }
}

static mf_err
on_capability(void *ud, const struct mf_imap_response *resp) {
    struct mf_preflight_result *res = ud;
    size_t pos = 0;

    res->caps[0] = '\0';
    for (size_t i = 0; i < resp->nargs && pos < sizeof(res->caps); i++) {
        const char *s;
        if (mf_imap_arg_as_astring(&resp->args[i], &s))
            pos += (size_t)snprintf(res->caps + pos, sizeof(res->caps) - pos,
                                    "%s%s", pos ? " " : "", s);
    }
    return MF_E_OK;
}

/* NAMESPACE (RFC 2342 section 5):
 *   Namespace = nil / "(" 1*( "(" string SP (<"> QUOTED_CHAR <"> / nil)
 *               *(Namespace_Response_Extension) ")" ) ")" */
static mf_err
on_namespace(void *ud, const struct mf_imap_response *resp) {
    struct mf_preflight_result *res = ud;
    const struct mf_imap_arg *list, *first;
    size_t n, nf;

    if (resp->nargs < 3)
        return MF_E_OK;
    res->has_namespace = true;
    if (mf_imap_arg_as_list(&resp->args[0], &list, &n) && n > 0 &&
        mf_imap_arg_as_list(&list[0], &first, &nf) && nf >= 2) {
        const char *prefix, *sep;
        if (mf_imap_arg_as_astring(&first[0], &prefix))
            snprintf(res->ns_personal_prefix, sizeof(res->ns_personal_prefix),
                     "%s", prefix);
        if (!mf_imap_arg_is_nil(&first[1]) &&
            mf_imap_arg_as_astring(&first[1], &sep))
            snprintf(res->ns_personal_sep, sizeof(res->ns_personal_sep), "%s",
                     sep);
    }
    if (mf_imap_arg_as_list(&resp->args[1], &list, &n))
        res->ns_other = (unsigned)n;
    if (mf_imap_arg_as_list(&resp->args[2], &list, &n))
        res->ns_shared = (unsigned)n;
    return MF_E_OK;
}

static mf_err
on_list(void *ud, const struct mf_imap_list_entry *e) {
    struct mf_preflight_result *res = ud;

    if (e->delimiter)
        snprintf(res->separator, sizeof(res->separator), "%c", e->delimiter);
    return MF_E_OK;
}

static void
caps_step(struct run *r, struct mf_imap_session *s) {
    struct mf_preflight_result *res = r->res;
    const struct mf_preflight_cap *t;
    char missing[768] = "";
    size_t n, pos = 0;
    bool required_missing = false, recommended_missing = false;
    struct mf_imap_untagged_prev prev_capability;
    mf_err rc;

    step_start(r);
    mf_imap_session_push_untagged(s, "CAPABILITY", on_capability, res,
                                  &prev_capability);
    rc = mf_imap_session_capability(s);
    mf_imap_session_pop_untagged(s, &prev_capability);
    if (rc != MF_E_OK) {
        const struct mf_imap_result *last = mf_imap_session_last(s);
        step_add(r, "capabilities", MF_PREFLIGHT_FAIL, last->error.code,
                 "CAPABILITY after login failed: %s", last->error.detail);
        return;
    }
    res->appendlimit = mf_imap_session_appendlimit(s);
    t = mf_preflight_caps_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (mf_preflight_caps_have(res->caps, t[i].name))
            continue;
        /* LITERAL- does the job of LITERAL+ for small literals. */
        if (strcmp(t[i].name, "LITERAL+") == 0 &&
            mf_preflight_caps_have(res->caps, "LITERAL-"))
            continue;
        if (t[i].need == MF_PREFLIGHT_REQUIRED)
            required_missing = true;
        if (t[i].need == MF_PREFLIGHT_RECOMMENDED)
            recommended_missing = true;
        if (pos < sizeof(missing))
            pos += (size_t)snprintf(missing + pos, sizeof(missing) - pos,
                                    "%s%s (%s)", pos ? ", " : "", t[i].name,
                                    mf_preflight_need_name(t[i].need));
    }
    if (required_missing)
        step_add(r, "capabilities", MF_PREFLIGHT_FAIL, MF_E_IMAP_CAPABILITY,
                 "missing: %s", missing);
    else if (recommended_missing)
        step_add(r, "capabilities", MF_PREFLIGHT_WARN, MF_E_OK,
                 "works, but missing: %s", missing);
    else
        step_add(r, "capabilities", MF_PREFLIGHT_OK, MF_E_OK, "%s%s",
                 missing[0] ? "all needed; not offered: "
                            : "everything "
                              "mailferry uses",
                 missing);
}

static void
namespace_steps(struct run *r, struct mf_imap_session *s) {
    struct mf_preflight_result *res = r->res;
    struct mf_imap_cmd_spec spec = {0};
    const struct mf_imap_result *last;
    struct mf_imap_untagged_prev prev_namespace;
    uint32_t id;
    mf_err rc;

    step_start(r);
    if (!mf_imap_session_has(s, MF_IMAP_CAP_NAMESPACE)) {
        step_add(r, "namespace", MF_PREFLIGHT_WARN, MF_E_OK,
                 "no NAMESPACE: folders are taken to have no prefix");
    } else {
        mf_imap_session_push_untagged(s, "NAMESPACE", on_namespace, res,
                                      &prev_namespace);
        mf_imap_cmd_text(&spec, "NAMESPACE");
        rc = mf_imap_session_submit(s, &spec, NULL, NULL, &id);
        mf_imap_cmd_clear(&spec);
        if (rc == MF_E_OK)
            rc = mf_imap_session_wait(s, id, -1);
        mf_imap_session_pop_untagged(s, &prev_namespace);
        if (rc != MF_E_OK || !res->has_namespace)
            step_add(r, "namespace", MF_PREFLIGHT_WARN, rc,
                     "NAMESPACE gave no answer%s%s", rc ? ": " : "",
                     rc ? mf_imap_session_error(s)->detail : "");
        else
            step_add(r, "namespace", MF_PREFLIGHT_OK, MF_E_OK,
                     "personal prefix \"%s\", separator \"%s\"; %u other "
                     "users' and %u shared namespaces",
                     res->ns_personal_prefix, res->ns_personal_sep,
                     res->ns_other, res->ns_shared);
    }
    step_start(r);
    rc = mf_imap_session_list(s, "", "", NULL, on_list, res);
    last = mf_imap_session_last(s);
    if (rc != MF_E_OK)
        step_add(r, "separator", MF_PREFLIGHT_FAIL, rc,
                 "LIST \"\" \"\" failed: %s", last->error.detail);
    else if (res->separator[0])
        step_add(r, "separator", MF_PREFLIGHT_OK, MF_E_OK,
                 "hierarchy separator \"%s\"", res->separator);
    else
        step_add(r, "separator", MF_PREFLIGHT_OK, MF_E_OK,
                 "flat: no hierarchy separator (NIL)");
}

static void
probe_step(struct run *r, const struct login *l) {
    struct mf_preflight_result *res = r->res;
    unsigned n = r->o->probe_connections;
    struct mf_imap_session **open = mf_xcalloc(n, sizeof(*open));
    struct mf_error err = {0};
    char why[MF_ERROR_DETAIL_MAX] = "";
    bool failed = false;

    step_start(r);
    res->probe_asked = n;
    for (unsigned i = 0; i < n; i++) {
        if (open_session(r, l, &open[i], &err) != MF_E_OK) {
            /* Only the server's own refusal of a login ("NO [LIMIT]",
             * BYE) is a connection limit; a certificate that fails to
             * verify, a reset or a timeout is reported as what it is. */
            failed = err.code != MF_E_AUTH && err.code != MF_E_IMAP_NO &&
                     err.code != MF_E_IMAP_BYE;
            res->probe_refused = !failed;
            /* Ask again on a bare connection while the others are still
             * open, for the server's words ("NO [LIMIT] ..."). */
            if (err.code == MF_E_AUTH)
                mf__pf_explain_login(r->o, l->user, l->password, l->authzid,
                                     why, sizeof(why));
            snprintf(res->probe_refusal, sizeof(res->probe_refusal), "%s",
                     why[0] ? why : err.detail);
            break;
        }
        res->probe_opened++;
    }
    for (unsigned i = 0; i < n; i++) {
        if (open[i] && mf_imap_session_logout(open[i]) != MF_E_OK) {
            /* closing anyway */
        }
        mf_imap_session_free(&open[i]);
    }
    free(open);
    if (res->probe_opened == 0)
        step_add(r, "probe", MF_PREFLIGHT_FAIL, err.code,
                 "not even one connection as %s: %s", l->who,
                 res->probe_refusal);
    else if (failed)
        step_add(r, "probe", MF_PREFLIGHT_WARN, err.code,
                 "%u concurrent connections as %s accepted, number %u "
                 "failed (not a refusal by the server, so no connection "
                 "limit is known): %s",
                 res->probe_opened, l->who, res->probe_opened + 1,
                 res->probe_refusal);
    else if (res->probe_refused)
        step_add(r, "probe", MF_PREFLIGHT_OK, MF_E_OK,
                 "%u concurrent connections as %s accepted, number %u "
                 "refused: %s; connection limit %u",
                 res->probe_opened, l->who, res->probe_opened + 1,
                 res->probe_refusal, res->probe_opened);
    else
        step_add(r, "probe", MF_PREFLIGHT_OK, MF_E_OK,
                 "all %u concurrent connections as %s accepted: any limit "
                 "is higher",
                 n, l->who);
}

/* Asks for the OAuth2 token and shows what it says about itself: its
 * audience, scopes or roles and expiry, never the token. */
static bool
oauth_token_step(struct run *r) {
    struct mf_oauth_token_info info;
    struct mf_error err = {0};
    char *token = NULL;
    char when[64] = "";

    step_start(r);
    if (mf_oauth_token(r->o->oauth, r->o->oauth_user, false, &token, &err) !=
        MF_E_OK) {
        step_add(r, "oauth.token", MF_PREFLIGHT_FAIL, err.code, "%s",
                 err.detail);
        return false;
    }
    mf_oauth_describe(token, &info);
    mf_secret_free(&token);
    if (!info.jwt) {
        step_add(r, "oauth.token", MF_PREFLIGHT_OK, MF_E_OK,
                 "token for %s (opaque: no claims to show)", r->o->oauth_user);
        return true;
    }
    if (info.expires_at) {
        time_t t = (time_t)info.expires_at;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    step_add(r, "oauth.token",
             info.expires_at && info.expires_at <= (int64_t)time(NULL)
                 ? MF_PREFLIGHT_FAIL
                 : MF_PREFLIGHT_OK,
             info.expires_at && info.expires_at <= (int64_t)time(NULL)
                 ? MF_E_OAUTH_EXPIRED
                 : MF_E_OK,
             "token for %s: audience %s, scopes %s, subject %s, expires %s "
             "(in %lld s)",
             r->o->oauth_user, info.audience[0] ? info.audience : "-",
             info.scope[0] ? info.scope : "-",
             info.subject[0] ? info.subject : "-", when[0] ? when : "-",
             (long long)(info.expires_at - (int64_t)time(NULL)));
    return true;
}

static void
login_steps(struct run *r) {
    const struct mf_preflight_options *o = r->o;
    struct mf_imap_session *first = NULL, *s = NULL;
    struct login logins[3] = {{0}}, *probe_login = NULL;
    char admin_who[300];
    size_t nlogins = 0;

    if (o->admin_user && o->admin_password) {
        struct login *l = &logins[nlogins++];
        l->user = o->admin_user;
        l->password = o->admin_password;
        l->authzid = o->as_user;
        if (o->as_user) {
            /* A master account (Dovecot) may not log in as itself: the
             * impersonated login is what proves the admin credentials. */
            l->step = "login.impersonate";
            snprintf(admin_who, sizeof(admin_who), "%s (admin %s)", o->as_user,
                     o->admin_user);
        } else {
            l->step = "login.admin";
            snprintf(admin_who, sizeof(admin_who), "admin %s", o->admin_user);
        }
        l->who = admin_who;
    }
    if (o->user && o->password) {
        struct login *l = &logins[nlogins++];
        l->step = "login.user";
        l->user = o->user;
        l->password = o->password;
        l->authzid = NULL;
        l->who = o->user;
    }
    if (o->oauth && o->oauth_user && oauth_token_step(r)) {
        struct login *l = &logins[nlogins++];
        l->step = "login.oauth";
        l->user = o->oauth_user;
        l->password = NULL;
        l->authzid = NULL;
        l->who = o->oauth_user;
        l->oauth = o->oauth;
    }
    if (nlogins == 0) {
        skip(r, "login",
             "no credentials: give --admin with --admin-password-file "
             "(and --as USER), or --user with --password-file");
        skip(r, "capabilities", "needs a login");
        if (o->probe_connections)
            skip(r, "probe", "needs a login");
        return;
    }
    for (size_t i = 0; i < nlogins; i++) {
        struct mf_error err = {0};
        step_start(r);
        if (open_session(r, &logins[i], &s, &err) != MF_E_OK) {
            login_failed(r, &logins[i], &err);
            continue;
        }
        step_add(r, logins[i].step, MF_PREFLIGHT_OK, MF_E_OK, "logged in as %s",
                 logins[i].who);
        if (!probe_login)
            probe_login = &logins[i];
        if (!first)
            first = s;
        else
            mf_imap_session_free(&s);
        s = NULL;
    }
    if (!first) {
        skip(r, "capabilities", "no login succeeded");
        if (o->probe_connections)
            skip(r, "probe", "no login succeeded");
        return;
    }
    caps_step(r, first);
    namespace_steps(r, first);
    if (mf_imap_session_logout(first) != MF_E_OK) {
        /* closing anyway */
    }
    mf_imap_session_free(&first);
    if (o->probe_connections)
        probe_step(r, probe_login);
}

/* The provider profile the server looks like, from its greeting, its
 * capabilities before and after login and its ID answer. */
static void
profile_step(struct run *r) {
    struct mf_preflight_result *res = r->res;
    struct mf_profile_guess g;
    char caps[sizeof(res->caps_prelogin) + sizeof(res->caps) + 2];

    step_start(r);
    snprintf(caps, sizeof(caps), "%s %s", res->caps_prelogin, res->caps);
    mf_profile_detect(res->greeting, caps, res->server_id, &g);
    snprintf(res->profile, sizeof(res->profile), "%s", g.profile->name);
    res->profile_certain = g.certain;
    snprintf(res->profile_why, sizeof(res->profile_why), "%s", g.why);
    step_add(r, "profile", MF_PREFLIGHT_OK, MF_E_OK,
             "%s %s (%s): use --source-profile %s or --target-profile %s",
             g.certain ? "this is" : "this looks like", g.profile->title, g.why,
             g.profile->name, g.profile->name);
}

mf_err
mf_preflight_endpoint_test(const struct mf_preflight_options *o,
                           struct mf_preflight_result *res) {
    struct run r = {.o = o, .res = res};
    long timeout = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;

    memset(res, 0, sizeof(*res));
    mf_endpoint_format(&o->endpoint, res->url, sizeof(res->url));
    r.conn.endpoint = o->endpoint;
    r.conn.ca_file = o->ca_file;
    r.conn.insecure = o->insecure;
    r.conn.connect_timeout_ms = timeout;
    r.conn.io_timeout_ms = timeout;
    if (bare_steps(&r)) {
        login_steps(&r);
        profile_step(&r);
    }
    return r.first_fail;
}
