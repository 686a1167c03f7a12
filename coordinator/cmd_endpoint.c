/*
 * `mailferry endpoint test` and `mailferry endpoint dns`: the preflight
 * checks an admin runs before a batch and before the MX switch
 * (docs/design.md §1, §3; docs/preflight.md). The checks live in core
 * (mailferry/preflight.h); this file reads the options and secrets,
 * runs them and prints verdict lines or one JSON document.
 *
 * Exit codes (besides cli.h's 0 OK, 1 FAIL, 2 USAGE, 3 ERROR):
 *   endpoint test: 4 cannot connect (DNS, refused, timeout),
 *                  5 TLS (handshake, STARTTLS, certificate not trusted),
 *                  6 authentication (admin, impersonation or user login);
 *                  1 anything else that failed (a required capability).
 *   endpoint dns:  4 an MX TTL is above 3600 s (the records were found;
 *                  not 2, which means a usage error for every command);
 *                  1 the lookup failed or found no MX record.
 */
#include "cli.h"
#include "cli_login.h"
#include "commands.h"

#include "mailferry/json.h"
#include "mailferry/oauth.h"
#include "mailferry/preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    EXIT_CONNECT = 4,
    EXIT_TLS = 5,
    EXIT_AUTH = 6,
    EXIT_DNS_TTL = 4,
};

/* ------------------------------------------------------------------ */
/* endpoint test                                                       */
/* ------------------------------------------------------------------ */

static const char test_usage[] =
    "--source URL [--target URL] [--admin USER --admin-password-file F] "
    "[--as USER] [--user USER --password-file F] [--ca-file F] [--insecure] "
    "[--probe-connections N] [--source-oauth-... / --target-oauth-... "
    "with --user MAILBOX] [--json]";

static const struct cli_option test_options[] = {
    {"source", true,
     "source endpoint: imaps://host:port, imap://host:port "
     "(STARTTLS) or imap://host:port/?tls=off"},
    {"target", true, "target endpoint, checked the same way"},
    {"admin", true, "source admin account (impersonates users)"},
    {"admin-password-file", true, "file holding the source admin's password"},
    {"as", true, "log in as this user through the admin (SASL PLAIN authzid)"},
    {"user", true, "also log in as this user with its own password"},
    {"password-file", true, "file holding --user's password"},
    {"target-admin", true, "target admin account"},
    {"target-admin-password-file", true,
     "file holding the target admin's password"},
    {"ca-file", true, "trust this CA bundle instead of the system store"},
    {"insecure", false, "accept any certificate (with a warning)"},
    {"probe-connections", true,
     "open up to N concurrent logins on the source to find its limit"},
    {"timeout", true, "seconds per connection, login included (default 15)"},
    CLI_OAUTH_OPTIONS,
    {NULL, false, NULL},
};

static int
exit_for(mf_err code) {
    switch (code) {
    case MF_E_OK:
        return MF_EXIT_OK;
    case MF_E_DNS:
    case MF_E_CONNECT:
    case MF_E_TIMEOUT:
    case MF_E_DISCONNECTED:
        return EXIT_CONNECT;
    case MF_E_TLS:
    case MF_E_TLS_VERIFY:
        return EXIT_TLS;
    case MF_E_AUTH:
        return EXIT_AUTH;
    default:
        return MF_EXIT_FAIL;
    }
}

static const char *
badge(enum mf_preflight_verdict v) {
    switch (v) {
    case MF_PREFLIGHT_OK:
        return "[ ok ]";
    case MF_PREFLIGHT_WARN:
        return "[warn]";
    case MF_PREFLIGHT_FAIL:
        return "[FAIL]";
    case MF_PREFLIGHT_SKIP:
        return "[skip]";
    }
    return "[ ?? ]";
}

/* Prints the capability atoms, "*" before those mailferry uses. */
static void
print_caps(const char *label, const char *caps) {
    const char *p = caps;

    if (!caps[0])
        return;
    printf("  %s:", label);
    while (*p) {
        char atom[128];
        size_t n;
        p += strspn(p, " ");
        n = strcspn(p, " ");
        if (n == 0)
            break;
        snprintf(atom, sizeof(atom), "%.*s", (int)n, p);
        printf(" %s%s", mf_preflight_cap_used(atom) ? "*" : "", atom);
        p += n;
    }
    printf("\n");
}

static void
print_text(const char *role, const struct mf_preflight_result *res) {
    printf("%s %s\n", role, res->url);
    for (size_t i = 0; i < res->nsteps; i++) {
        const struct mf_preflight_step *s = &res->steps[i];
        printf("  %s %-22s %s", badge(s->verdict), s->name, s->text);
        if (s->verdict != MF_PREFLIGHT_SKIP)
            printf(" (%llu ms)", (unsigned long long)s->elapsed_ms);
        printf("\n");
    }
    print_caps("capabilities after login (* used by mailferry)", res->caps);
    if (!res->caps[0])
        print_caps("capabilities before login (* used by mailferry)",
                   res->caps_prelogin);
    if (res->probe_asked && res->probe_opened)
        printf("  connection limit: %s%u\n",
               res->probe_refused ? "" : ">= ", res->probe_opened);
}

static void
json_caps(struct mf_json *j, const char *caps) {
    const char *p = caps;

    mf_json_array_begin(j);
    while (*p) {
        size_t n;
        p += strspn(p, " ");
        n = strcspn(p, " ");
        if (n == 0)
            break;
        {
            char atom[128];
            snprintf(atom, sizeof(atom), "%.*s", (int)n, p);
            mf_json_string(j, atom);
        }
        p += n;
    }
    mf_json_array_end(j);
}

static void
json_error(struct mf_json *j, mf_err code) {
    if (code == MF_E_OK) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_key(j, "code"), mf_json_string(j, mf_err_name(code));
    mf_json_key(j, "number"), mf_json_u64(j, code);
    mf_json_key(j, "message"), mf_json_string(j, mf_strerror(code));
    mf_json_object_end(j);
}

static void
json_result(struct mf_json *j, const struct mf_preflight_result *res,
            mf_err rc) {
    const struct mf_preflight_tls_info *t = &res->tls;
    const struct mf_preflight_cap *tab;
    size_t ntab;

    mf_json_object_begin(j);
    mf_json_key(j, "url"), mf_json_string(j, res->url);
    mf_json_key(j, "ok"), mf_json_bool(j, rc == MF_E_OK);
    mf_json_key(j, "error"), json_error(j, rc);
    mf_json_key(j, "peer"), mf_json_string(j, res->peer[0] ? res->peer : NULL);
    mf_json_key(j, "steps"), mf_json_array_begin(j);
    for (size_t i = 0; i < res->nsteps; i++) {
        const struct mf_preflight_step *s = &res->steps[i];
        mf_json_object_begin(j);
        mf_json_key(j, "name"), mf_json_string(j, s->name);
        mf_json_key(j, "verdict"),
            mf_json_string(j, mf_preflight_verdict_name(s->verdict));
        mf_json_key(j, "code"),
            mf_json_string(j, s->code ? mf_err_name(s->code) : NULL);
        mf_json_key(j, "text"), mf_json_string(j, s->text);
        mf_json_key(j, "elapsed_ms"), mf_json_u64(j, s->elapsed_ms);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_key(j, "tls");
    if (t->done) {
        mf_json_object_begin(j);
        mf_json_key(j, "version"), mf_json_string(j, t->version);
        mf_json_key(j, "cipher"), mf_json_string(j, t->cipher);
        mf_json_key(j, "subject"), mf_json_string(j, t->subject);
        mf_json_key(j, "issuer"), mf_json_string(j, t->issuer);
        mf_json_key(j, "subject_alt_names"), mf_json_string(j, t->san);
        mf_json_key(j, "not_after"), mf_json_string(j, t->not_after);
        mf_json_key(j, "days_left"), mf_json_i64(j, t->days_left);
        mf_json_key(j, "verified"), mf_json_bool(j, t->verified);
        mf_json_key(j, "verify_result"), mf_json_string(j, t->verify_result);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_key(j, "greeting"),
        mf_json_string(j, res->greeting[0] ? res->greeting : NULL);
    mf_json_key(j, "capabilities_prelogin"), json_caps(j, res->caps_prelogin);
    mf_json_key(j, "capabilities"), json_caps(j, res->caps);
    mf_json_key(j, "server_id"),
        mf_json_string(j, res->server_id[0] ? res->server_id : NULL);
    mf_json_key(j, "profile");
    if (res->profile[0]) {
        mf_json_object_begin(j);
        mf_json_key(j, "name"), mf_json_string(j, res->profile);
        mf_json_key(j, "certain"), mf_json_bool(j, res->profile_certain);
        mf_json_key(j, "why"), mf_json_string(j, res->profile_why);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_key(j, "capabilities_mailferry"), mf_json_array_begin(j);
    tab = mf_preflight_caps_table(&ntab);
    for (size_t i = 0; i < ntab && res->caps[0]; i++) {
        mf_json_object_begin(j);
        mf_json_key(j, "name"), mf_json_string(j, tab[i].name);
        mf_json_key(j, "need"),
            mf_json_string(j, mf_preflight_need_name(tab[i].need));
        mf_json_key(j, "present"),
            mf_json_bool(j, mf_preflight_caps_have(res->caps, tab[i].name));
        mf_json_key(j, "why"), mf_json_string(j, tab[i].why);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_key(j, "appendlimit");
    if (res->appendlimit)
        mf_json_u64(j, res->appendlimit);
    else
        mf_json_null(j);
    mf_json_key(j, "namespace");
    if (res->has_namespace) {
        mf_json_object_begin(j);
        mf_json_key(j, "personal_prefix"),
            mf_json_string(j, res->ns_personal_prefix);
        mf_json_key(j, "personal_separator"),
            mf_json_string(j, res->ns_personal_sep[0] ? res->ns_personal_sep
                                                      : NULL);
        mf_json_key(j, "other_users"), mf_json_u64(j, res->ns_other);
        mf_json_key(j, "shared"), mf_json_u64(j, res->ns_shared);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_key(j, "separator"),
        mf_json_string(j, res->separator[0] ? res->separator : NULL);
    mf_json_key(j, "probe");
    if (res->probe_asked) {
        mf_json_object_begin(j);
        mf_json_key(j, "asked"), mf_json_u64(j, res->probe_asked);
        mf_json_key(j, "opened"), mf_json_u64(j, res->probe_opened);
        mf_json_key(j, "refused"), mf_json_bool(j, res->probe_refused);
        mf_json_key(j, "refusal"),
            mf_json_string(j, res->probe_refused ? res->probe_refusal : NULL);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    /* The effective limit: known only when the server refused one. */
    mf_json_key(j, "connection_limit");
    if (res->probe_asked && res->probe_refused && res->probe_opened)
        mf_json_u64(j, res->probe_opened);
    else
        mf_json_null(j);
    mf_json_object_end(j);
}

/* Reads a secret named key ("admin-password" from --admin-password-file);
 * prints why it failed. */
static bool
secret(const struct cli *cli, const char *key, char **out) {
    struct mf_error err = {0};

    if (mf_config_get_secret(cli->config, key, out, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry endpoint test: %s\n", err.detail);
        return false;
    }
    return true;
}

static bool
parse_endpoint(const char *url, struct mf_endpoint *ep) {
    struct mf_error err = {0};

    if (mf_endpoint_parse(url, ep, &err) != MF_E_OK) {
        fprintf(stderr,
                "mailferry endpoint test: %s\nusage: mailferry "
                "endpoint test %s\n",
                err.detail, test_usage);
        return false;
    }
    return true;
}

int
cmd_endpoint_test(int argc, char **argv) {
    struct mf_preflight_options so = {0}, to = {0};
    struct mf_preflight_result *src = NULL, *tgt = NULL;
    char *admin_pw = NULL, *user_pw = NULL, *tadmin_pw = NULL;
    struct mf_oauth *src_oauth = NULL, *dst_oauth = NULL;
    const char *source, *target;
    struct mf_error err = {0};
    struct mf_buf out = {0};
    struct mf_json j;
    mf_err src_rc = MF_E_OK, tgt_rc = MF_E_OK;
    uint64_t n;
    struct cli cli;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "endpoint test", test_usage, test_options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    source = mf_config_get(cli.config, "source", NULL);
    target = mf_config_get(cli.config, "target", NULL);
    if (cli.npositional != 0 || !source) {
        fprintf(stderr,
                "mailferry endpoint test: %s\nusage: mailferry endpoint test "
                "%s\n",
                cli.npositional ? "unexpected argument" : "--source is needed",
                test_usage);
        goto out;
    }
    if (!parse_endpoint(source, &so.endpoint) ||
        (target && !parse_endpoint(target, &to.endpoint)))
        goto out;
    if (mf_config_get_bool(cli.config, "insecure", false, &so.insecure, &err) ||
        mf_config_get_u64(cli.config, "probe-connections", 0, 0, 10000,
                          MF_UNIT_NONE, &n, &err)) {
        fprintf(stderr, "mailferry endpoint test: %s\n", err.detail);
        goto out;
    }
    so.probe_connections = (unsigned)n;
    if (mf_config_get_u64(cli.config, "timeout", 15, 1, 3600, MF_UNIT_SECONDS,
                          &n, &err)) {
        fprintf(stderr, "mailferry endpoint test: %s\n", err.detail);
        goto out;
    }
    so.timeout_ms = (long)n * 1000L;
    so.ca_file = mf_config_get(cli.config, "ca-file", NULL);
    so.admin_user = mf_config_get(cli.config, "admin", NULL);
    so.as_user = mf_config_get(cli.config, "as", NULL);
    so.user = mf_config_get(cli.config, "user", NULL);
    exit_code = MF_EXIT_ERROR;
    if (!secret(&cli, "admin-password", &admin_pw) ||
        !secret(&cli, "password", &user_pw) ||
        !secret(&cli, "target-admin-password", &tadmin_pw))
        goto out;
    if (!cli_oauth_read(&cli, "source", &src_oauth, &err) ||
        !cli_oauth_read(&cli, "target", &dst_oauth, &err)) {
        fprintf(stderr, "mailferry endpoint test: %s\n", err.detail);
        goto out;
    }
    exit_code = MF_EXIT_USAGE;
    if ((src_oauth || dst_oauth) && !so.user) {
        fprintf(stderr, "mailferry endpoint test: OAuth2 needs --user "
                        "MAILBOX (whose token to ask for)\n");
        goto out;
    }
    so.oauth = src_oauth;
    so.oauth_user = src_oauth ? so.user : NULL;
    to.oauth = dst_oauth;
    to.oauth_user = dst_oauth ? so.user : NULL;
    if (so.user && (src_oauth || dst_oauth) && !user_pw)
        so.user = NULL; /* the mailbox logs in with its token only */
    if ((so.admin_user != NULL) != (admin_pw != NULL) ||
        (so.user != NULL) != (user_pw != NULL)) {
        fprintf(stderr, "mailferry endpoint test: --admin goes with "
                        "--admin-password-file, --user with "
                        "--password-file\n");
        goto out;
    }
    if (so.as_user && !so.admin_user) {
        fprintf(stderr, "mailferry endpoint test: --as needs --admin\n");
        goto out;
    }
    so.admin_password = admin_pw;
    so.password = user_pw;
    to.ca_file = so.ca_file;
    to.insecure = so.insecure;
    to.timeout_ms = so.timeout_ms;
    to.admin_user = mf_config_get(cli.config, "target-admin", NULL);
    to.admin_password = tadmin_pw;
    to.as_user = to.admin_user ? so.as_user : NULL;
    if (so.insecure)
        fprintf(stderr, "mailferry endpoint test: warning: --insecure: "
                        "certificates are not verified\n");

    src = mf_xcalloc(1, sizeof(*src));
    src_rc = mf_preflight_endpoint_test(&so, src);
    if (target) {
        tgt = mf_xcalloc(1, sizeof(*tgt));
        tgt_rc = mf_preflight_endpoint_test(&to, tgt);
    }
    exit_code = exit_for(src_rc != MF_E_OK ? src_rc : tgt_rc);
    if (cli.json) {
        mf_json_init(&j, &out);
        mf_json_object_begin(&j);
        mf_json_key(&j, "ok"), mf_json_bool(&j, exit_code == MF_EXIT_OK);
        mf_json_key(&j, "exit_code"), mf_json_u64(&j, (uint64_t)exit_code);
        mf_json_key(&j, "source"), json_result(&j, src, src_rc);
        mf_json_key(&j, "target");
        if (tgt)
            json_result(&j, tgt, tgt_rc);
        else
            mf_json_null(&j);
        mf_json_object_end(&j);
        printf("%s\n", (char *)out.data);
    } else {
        print_text("source", src);
        if (tgt)
            print_text("target", tgt);
        if (exit_code == MF_EXIT_OK)
            printf("result: ok\n");
        else
            printf("result: FAILED: %s [%s] (exit %d)\n",
                   mf_strerror(src_rc ? src_rc : tgt_rc),
                   mf_err_name(src_rc ? src_rc : tgt_rc), exit_code);
    }
out:
    mf_secret_free(&admin_pw);
    mf_secret_free(&user_pw);
    mf_secret_free(&tadmin_pw);
    mf_oauth_free(&src_oauth);
    mf_oauth_free(&dst_oauth);
    free(src);
    free(tgt);
    mf_buf_free(&out);
    cli_free(&cli);
    return exit_code;
}

/* ------------------------------------------------------------------ */
/* endpoint dns                                                        */
/* ------------------------------------------------------------------ */

static const char dns_usage[] = "DOMAIN [--server IP[:PORT]] [--json]";

static const struct cli_option dns_options[] = {
    {"server", true,
     "ask this DNS server (default: the first nameserver of "
     "/etc/resolv.conf)"},
    {"timeout", true, "seconds to wait for an answer (default 5)"},
    {NULL, false, NULL},
};

static int
mx_cmp(const void *a, const void *b) {
    const struct mf_dns_mx *x = a, *y = b;

    if (x->preference != y->preference)
        return x->preference < y->preference ? -1 : 1;
    return strcmp(x->exchange, y->exchange);
}

/* The server to ask: --server, else resolv.conf's first nameserver.
 * Returns MF_EXIT_OK, or the exit code after printing why not. */
static int
dns_server(const struct cli *cli, struct mf_dns_server *srv) {
    const char *s = mf_config_get(cli->config, "server", NULL);
    struct mf_error err = {0};
    char text[8192];
    size_t n;
    FILE *f;

    if (s) {
        if (mf_dns_server_parse(s, srv, &err) == MF_E_OK)
            return MF_EXIT_OK;
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        return MF_EXIT_USAGE;
    }
    f = fopen("/etc/resolv.conf", "r");
    n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    if (mf_dns_resolvconf_server(text, srv, &err) == MF_E_OK)
        return MF_EXIT_OK;
    fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
    return MF_EXIT_ERROR;
}

int
cmd_endpoint_dns(int argc, char **argv) {
    struct mf_dns_mx_answer *ans = NULL;
    struct mf_dns_server srv;
    struct mf_error err = {0};
    struct mf_buf out = {0};
    struct mf_json j;
    char rcbuf[16], where[96];
    const char *domain, *failure = NULL;
    uint32_t max_ttl = 0;
    uint64_t timeout;
    struct cli cli;
    mf_err rc;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "endpoint dns", dns_usage, dns_options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (cli.npositional != 1) {
        fprintf(stderr,
                "mailferry endpoint dns: expected one DOMAIN\nusage: "
                "mailferry endpoint dns %s\n",
                dns_usage);
        goto out;
    }
    domain = cli.positional[0];
    if (mf_config_get_u64(cli.config, "timeout", 5, 1, 600, MF_UNIT_SECONDS,
                          &timeout, &err)) {
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        goto out;
    }
    if ((exit_code = dns_server(&cli, &srv)) != MF_EXIT_OK)
        goto out;
    exit_code = MF_EXIT_USAGE;
    snprintf(where, sizeof(where), "%s%s%s:%u", strchr(srv.ip, ':') ? "[" : "",
             srv.ip, strchr(srv.ip, ':') ? "]" : "", srv.port);
    ans = mf_xcalloc(1, sizeof(*ans));
    rc = mf_dns_query_mx(&srv, domain, (long)timeout * 1000L, ans, &err);
    if (rc == MF_E_INVALID_ARGUMENT) {
        fprintf(stderr, "mailferry endpoint dns: %s\n", err.detail);
        goto out;
    }
    if (rc != MF_E_OK)
        failure = err.detail;
    else if (ans->rcode == MF_DNS_RCODE_NXDOMAIN)
        failure = "no such domain (NXDOMAIN)";
    else if (ans->rcode != MF_DNS_RCODE_NOERROR)
        failure = mf_dns_rcode_name(ans->rcode, rcbuf, sizeof(rcbuf));
    else if (ans->count == 0)
        failure = "the domain has no MX record (mail would go to its "
                  "address record)";
    if (!failure)
        qsort(ans->mx, ans->count, sizeof(ans->mx[0]), mx_cmp);
    for (size_t i = 0; !failure && i < ans->count; i++)
        if (ans->mx[i].ttl > max_ttl)
            max_ttl = ans->mx[i].ttl;
    exit_code = failure                       ? MF_EXIT_FAIL
                : max_ttl > MF_DNS_TTL_ADVICE ? EXIT_DNS_TTL
                                              : MF_EXIT_OK;
    if (cli.json) {
        mf_json_init(&j, &out);
        mf_json_object_begin(&j);
        mf_json_key(&j, "domain"), mf_json_string(&j, domain);
        mf_json_key(&j, "server"), mf_json_string(&j, where);
        mf_json_key(&j, "ok"), mf_json_bool(&j, exit_code == MF_EXIT_OK);
        mf_json_key(&j, "exit_code"), mf_json_u64(&j, (uint64_t)exit_code);
        mf_json_key(&j, "error"), mf_json_string(&j, failure);
        mf_json_key(&j, "rcode");
        if (rc == MF_E_OK)
            mf_json_string(&j,
                           mf_dns_rcode_name(ans->rcode, rcbuf, sizeof(rcbuf)));
        else
            mf_json_null(&j);
        mf_json_key(&j, "authoritative"),
            mf_json_bool(&j, rc == MF_E_OK && ans->authoritative);
        mf_json_key(&j, "ttl_advice"), mf_json_u64(&j, MF_DNS_TTL_ADVICE);
        mf_json_key(&j, "max_ttl");
        if (!failure)
            mf_json_u64(&j, max_ttl);
        else
            mf_json_null(&j);
        mf_json_key(&j, "mx"), mf_json_array_begin(&j);
        for (size_t i = 0; !failure && i < ans->count; i++) {
            const struct mf_dns_mx *mx = &ans->mx[i];
            mf_json_object_begin(&j);
            mf_json_key(&j, "preference"), mf_json_u64(&j, mx->preference);
            mf_json_key(&j, "exchange"), mf_json_string(&j, mx->exchange);
            mf_json_key(&j, "ttl"), mf_json_u64(&j, mx->ttl);
            mf_json_key(&j, "ttl_ok"),
                mf_json_bool(&j, mx->ttl <= MF_DNS_TTL_ADVICE);
            mf_json_object_end(&j);
        }
        mf_json_array_end(&j);
        mf_json_object_end(&j);
        printf("%s\n", (char *)out.data);
        goto out;
    }
    if (failure) {
        printf("%s MX (asked %s): lookup FAILED: %s\n", domain, where, failure);
        goto out;
    }
    printf("%s MX (asked %s%s):\n", domain, where,
           ans->authoritative ? ", authoritative answer" : "");
    for (size_t i = 0; i < ans->count; i++) {
        const struct mf_dns_mx *mx = &ans->mx[i];
        printf("  %5u %-40s TTL %6u s", mx->preference, mx->exchange, mx->ttl);
        if (mx->ttl > MF_DNS_TTL_ADVICE)
            printf("  WARNING: above %u s: lower it to about an hour, "
                   "then wait the old TTL (%u s, %.1f h) before the MX "
                   "switch\n",
                   MF_DNS_TTL_ADVICE, mx->ttl, mx->ttl / 3600.0);
        else
            printf("  ok\n");
    }
    if (ans->dropped)
        printf("  (%zu more records not shown)\n", ans->dropped);
    printf("result: %s\n",
           exit_code == MF_EXIT_OK
               ? "ok: TTLs are an hour or less"
               : "WARNING: lower the MX TTL before the switch (exit 4)");
out:
    free(ans);
    mf_buf_free(&out);
    cli_free(&cli);
    return exit_code;
}
