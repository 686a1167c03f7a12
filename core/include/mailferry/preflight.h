/*
 * Preflight checks (docs/design.md §1 items 1-2 and 5): what an admin runs
 * before a batch or before the MX switch.
 *
 *  - MX records and their TTLs (`mailferry endpoint dns`): glibc's
 *    resolver (libresolv) asks the one server the admin names
 *    (--server IP:PORT) through a res_state of our own: res_nmkquery,
 *    res_nsend (UDP with retries, TCP when truncated), no cache. The
 *    answer is read with ns_initparse/ns_parserr/dn_expand (dnsmx.c, no
 *    I/O: unit tests and a fuzz target feed it bytes); dnsquery.c sends.
 *
 *  - IMAP capability verdicts (caps.c, pure): the capabilities mailferry
 *    uses, how much it needs each, and what it loses without it.
 *
 *  - The endpoint test (endpoint_test.c, probe.c): TCP connect, TLS with
 *    the certificate's subject, expiry and verification result, greeting
 *    and capabilities, logins through the same libcurl path the workers
 *    use (admin, impersonated user, plain user), NAMESPACE and the
 *    hierarchy separator, and a probe of how many concurrent logged-in
 *    connections the server accepts. The outcome is a list of steps with
 *    a verdict each plus the facts found, for the CLI to print as text or
 *    JSON.
 *
 * Ownership: results are plain structs with fixed-size text fields, owned
 * by the caller. Passwords are borrowed, never copied or printed.
 */
#ifndef MAILFERRY_PREFLIGHT_H
#define MAILFERRY_PREFLIGHT_H

#include "mailferry/endpoint.h"
#include "mailferry/err.h"
#include "mailferry/oauth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* DNS MX (dnsmx.c: pure; dnsquery.c: I/O; both on libresolv)         */
/* ------------------------------------------------------------------ */

/* Above this TTL (seconds) the MX switch may take long to be seen: lower
 * it to about an hour well before the switch (docs/design.md §1 item 5). */
#define MF_DNS_TTL_ADVICE 3600u

/* A domain name as text (RFC 1035 section 2.3.4: 255 octets on the wire;
 * escapes "\DDD" may make the text longer). */
#define MF_DNS_NAME_TEXT_MAX 1024
/* MX records kept from one answer; more are counted in `dropped`. */
#define MF_DNS_MX_MAX 32
/* The largest DNS message we accept (TCP length prefix limit). */
#define MF_DNS_MSG_MAX 65535

/* RCODE values (RFC 1035 section 4.1.1). */
#define MF_DNS_RCODE_NOERROR 0
#define MF_DNS_RCODE_SERVFAIL 2
#define MF_DNS_RCODE_NXDOMAIN 3
#define MF_DNS_RCODE_REFUSED 5

struct mf_dns_mx {
    uint16_t preference;
    uint32_t ttl; /* seconds; a TTL with the top bit set counts as 0
                     (RFC 2181 section 8) */
    char exchange[MF_DNS_NAME_TEXT_MAX]; /* "mx1.example.com", "." */
};

struct mf_dns_mx_answer {
    uint8_t rcode;      /* MF_DNS_RCODE_* */
    bool truncated;     /* TC: ask again over TCP */
    bool authoritative; /* AA */
    /* The name the MX records belong to, after CNAMEs (the query name
     * when there were none). */
    char owner[MF_DNS_NAME_TEXT_MAX];
    unsigned cnames; /* CNAME records followed */
    size_t count;    /* records in mx[] */
    size_t dropped;  /* MX records beyond MF_DNS_MX_MAX */
    struct mf_dns_mx mx[MF_DNS_MX_MAX];
};

/* Parses the response msg (len bytes) to an MX query for qname sent
 * with id, with libresolv's ns_initparse/ns_parserr/dn_expand. Checks
 * the header (QR set, the id, opcode QUERY, one question equal to
 * qname/MX/IN), then collects the MX records of qname in the answer
 * section, following CNAME records; other records are skipped. A
 * non-zero RCODE is not an error here: it is reported in ans_r->rcode
 * with no records. A qname that is not a domain name fails with
 * MF_E_INVALID_ARGUMENT; malformed or mismatched messages fail with
 * MF_E_DNS and a detail saying why; *ans_r is untouched on error.
 * Exchanges are text as libresolv writes it (RFC 1035 section 5.1
 * escapes), the root as ".". */
MF_WARN_UNUSED mf_err mf_dns_parse_mx(const uint8_t *msg, size_t len,
                                      uint16_t id, const char *qname,
                                      struct mf_dns_mx_answer *ans_r,
                                      struct mf_error *err);

/* "NOERROR", "NXDOMAIN", ...; "RCODE<n>" in buf for others. */
const char *mf_dns_rcode_name(uint8_t rcode, char *buf, size_t n);

/* A DNS server address: "IPv4", "IPv4:PORT", "[IPv6]:PORT" or a bare
 * IPv6 address; the port defaults to 53. No names (they would need DNS
 * to find DNS). */
struct mf_dns_server {
    char ip[64]; /* numeric, without brackets */
    uint16_t port;
};
MF_WARN_UNUSED mf_err mf_dns_server_parse(const char *s,
                                          struct mf_dns_server *srv_r,
                                          struct mf_error *err);
/* The first "nameserver" of resolv.conf text (NUL-terminated), port 53.
 * MF_E_NOT_FOUND when there is none. */
MF_WARN_UNUSED mf_err mf_dns_resolvconf_server(const char *text,
                                               struct mf_dns_server *srv_r,
                                               struct mf_error *err);
/* The server `endpoint dns` asks: given (IP[:PORT], from --server) when
 * not NULL, else the first nameserver of /etc/resolv.conf. */
MF_WARN_UNUSED mf_err mf_dns_server_choose(const char *given,
                                           struct mf_dns_server *srv_r,
                                           struct mf_error *err);
/* "IP:PORT" ("[IPv6]:PORT") of srv into buf. */
void mf_dns_server_format(const struct mf_dns_server *srv, char *buf,
                          size_t size);

/* Asks srv for the MX records of domain with res_nsend: over UDP (up to
 * three tries of whole seconds within timeout_ms, at least a second
 * each), and again over TCP when the answer is truncated (glibc
 * sets no timeout of its own on TCP reads). A domain that is not a
 * domain name fails with MF_E_INVALID_ARGUMENT before anything is sent.
 * Lookup failures: MF_E_TIMEOUT (no answer), MF_E_CONNECT (refused),
 * MF_E_DNS (malformed answer, a referral, socket errors). A negative
 * answer (NXDOMAIN, SERVFAIL...) is MF_E_OK with its rcode and no
 * records: the caller decides. */
MF_WARN_UNUSED mf_err mf_dns_query_mx(const struct mf_dns_server *srv,
                                      const char *domain, long timeout_ms,
                                      struct mf_dns_mx_answer *ans_r,
                                      struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Capabilities (caps.c: pure)                                         */
/* ------------------------------------------------------------------ */

enum mf_preflight_need {
    MF_PREFLIGHT_REQUIRED = 1, /* mailferry cannot work without it */
    MF_PREFLIGHT_RECOMMENDED,  /* works, but slower or less exact */
    MF_PREFLIGHT_USEFUL,       /* used when offered */
};
const char *mf_preflight_need_name(enum mf_preflight_need n);

/* A capability mailferry looks for. */
struct mf_preflight_cap {
    const char *name; /* "LITERAL+", "APPENDLIMIT" (matches APPENDLIMIT=n) */
    enum mf_preflight_need need;
    const char *why; /* what mailferry uses it for / loses without it */
};
/* The table, in display order; *n_r gets its length. */
const struct mf_preflight_cap *mf_preflight_caps_table(size_t *n_r);
/* True if the capability atom `atom` (as the server sent it, any case)
 * is the one named by `name`: equal, or "NAME=number" (APPENDLIMIT=
 * 35651584 is APPENDLIMIT; AUTH=PLAIN is matched by "AUTH=PLAIN" only). */
bool mf_preflight_cap_matches(const char *atom, const char *name);
/* True if the space-separated capability list has `name`. */
bool mf_preflight_caps_have(const char *caps, const char *name);
/* True if the table marks atom as used by mailferry. */
bool mf_preflight_cap_used(const char *atom);

/* ------------------------------------------------------------------ */
/* Endpoint test (endpoint_test.c, probe.c)                            */
/* ------------------------------------------------------------------ */

struct mf_oauth;
struct mf_profile;
struct mf_preflight_options {
    struct mf_endpoint endpoint;
    const char *ca_file; /* extra CA bundle, or NULL: the system store */
    bool insecure;       /* certificate problems are warnings */
    long timeout_ms;     /* per connection, login included; 0: 15 s */
    /* Admin impersonation: admin_user with admin_password; with as_user
     * the admin logs in as that user (SASL PLAIN authorization
     * identity), without it as itself. All borrowed, may be NULL. */
    const char *admin_user;
    const char *admin_password;
    const char *as_user;
    /* A plain user login, also optional. */
    const char *user;
    const char *password;
    /* > 0: open up to this many concurrent logged-in connections. */
    unsigned probe_connections;
    /* An OAuth2 login as oauth_user with a token from oauth (borrowed,
     * may be NULL): a step shows the token's audience, scopes and expiry,
     * never the token. */
    struct mf_oauth *oauth;
    const char *oauth_user;
};

enum mf_preflight_verdict {
    MF_PREFLIGHT_OK = 1,
    MF_PREFLIGHT_WARN, /* works, but the admin should know */
    MF_PREFLIGHT_FAIL, /* mailferry cannot work like this */
    MF_PREFLIGHT_SKIP, /* not checked (not asked, or an earlier step failed) */
};
const char *mf_preflight_verdict_name(enum mf_preflight_verdict v);

#define MF_PREFLIGHT_STEP_MAX 20
/* Refused folder names listed (the rest counted). */
#define MF_PREFLIGHT_NAMES_MAX 32
#define MF_PREFLIGHT_TEXT_MAX 512

/* One checked step. */
struct mf_preflight_step {
    char name[32]; /* "tcp", "tls", "greeting", "login.admin", ... */
    enum mf_preflight_verdict verdict;
    mf_err code; /* MF_E_OK unless FAIL (WARN may carry one too) */
    char text[MF_PREFLIGHT_TEXT_MAX]; /* one readable line */
    uint64_t elapsed_ms;
};

struct mf_preflight_tls_info {
    bool done;               /* a handshake completed */
    char version[16];        /* "TLSv1.3" */
    char cipher[64];         /* "TLS_AES_256_GCM_SHA384" */
    char subject[256];       /* RFC 2253: "CN=localhost,O=mailferry test" */
    char issuer[256];        /* RFC 2253 */
    char san[256];           /* "DNS:localhost, IP:127.0.0.1" */
    char not_after[32];      /* "2035-01-01T00:00:00Z" */
    int64_t days_left;       /* negative when expired */
    bool verified;           /* chain and host name check passed */
    char verify_result[128]; /* OpenSSL's words: "ok", "unable to get..." */
};

struct mf_preflight_result {
    char url[MF_ENDPOINT_HOST_MAX + 32];
    char peer[80]; /* "127.0.0.1:10993" after connect */
    struct mf_preflight_tls_info tls;
    char greeting[MF_PREFLIGHT_TEXT_MAX];
    char caps_prelogin[2048]; /* the server's capability atoms */
    char caps[2048];          /* after login; "" when no login */
    char server_id[512];      /* ID answer (RFC 2971) as "name value ..." */
    /* The provider profile the server looks like (mailferry/profile.h):
     * a name ("exchange-online"), whether the server named itself, and
     * why. */
    char profile[32];
    bool profile_certain;
    char profile_why[160];
    uint64_t appendlimit; /* 0: none announced */
    /* NAMESPACE (RFC 2342): the first personal namespace; has_namespace
     * false when the server has no NAMESPACE or it failed. */
    bool has_namespace;
    char ns_personal_prefix[128];
    char ns_personal_sep[4];      /* "" for NIL */
    unsigned ns_other, ns_shared; /* counts of other users' / shared */
    char separator[4];            /* LIST "" "": "" when flat (NIL) */
    /* Probe. */
    unsigned probe_asked;
    unsigned probe_opened; /* connections open at the same time */
    bool probe_refused;    /* the server refused connection probe_opened+1 */
    char probe_refusal[MF_PREFLIGHT_TEXT_MAX];
    /* Folder names the target refuses (mf_preflight_folder_names(), on
     * the source's result): whose folders were read, the target profile,
     * how many names it refuses, and the first MF_PREFLIGHT_NAMES_MAX
     * of them with the name each maps to and why. */
    bool names_checked;
    char names_mailbox[256];
    char names_profile[32];
    size_t names_refused;
    size_t n_names;
    struct mf_preflight_name {
        char source[256]; /* the source path ("A|B") */
        char target[256]; /* the target name it maps to ("A_B") */
        char why[MF_PREFLIGHT_TEXT_MAX];
    } names[MF_PREFLIGHT_NAMES_MAX];
    size_t nsteps;
    struct mf_preflight_step steps[MF_PREFLIGHT_STEP_MAX];
};

/* Runs every check against o->endpoint, filling *res (zeroed first).
 * Returns MF_E_OK when nothing FAILed, else the code of the first failed
 * step (MF_E_DNS, MF_E_CONNECT, MF_E_TIMEOUT, MF_E_TLS, MF_E_TLS_VERIFY,
 * MF_E_AUTH, MF_E_IMAP_CAPABILITY, ...). Steps after a failed connection
 * are SKIPped. */
mf_err mf_preflight_endpoint_test(const struct mf_preflight_options *o,
                                  struct mf_preflight_result *res);

/* Folder names the target will refuse (names.c; issue 13 section 2),
 * before anything is copied: reads the folders of the mailbox that
 * src's options log in to (--as through the admin, --user, or the OAuth2
 * user) and builds its folder plan with mf_plan_folders(), the function
 * `plan` builds it with, for the target profile tgt_profile (NULL:
 * generic) and the target tgt (NULL, or one without a login for that
 * mailbox: "/" and no prefix, as `plan` without --target). Every name
 * the profile refuses is listed in res (names_*) and in a "folder-names"
 * step: WARN when there are some, OK when there are none, SKIP without a
 * mailbox login, WARN with the reason when the folders could not be
 * read. Never changes the command's verdict beyond that step. */
void mf_preflight_folder_names(const struct mf_preflight_options *src,
                               const struct mf_preflight_options *tgt,
                               const struct mf_profile *tgt_profile,
                               struct mf_preflight_result *res);

/* ------------------------------------------------------------------ */
/* `endpoint test` as a whole (run.c)                                  */
/* ------------------------------------------------------------------ */

/* The secrets and token sources given for both sides (borrowed). */
struct mf_preflight_logins {
    const char *admin_password, *user_password, *target_admin_password;
    struct mf_oauth *source_oauth, *target_oauth;
    const char *target_admin; /* --target-admin */
};
/* Completes src (--admin, --as, --user read in) and tgt (its endpoint
 * read in) with lg: OAuth2 needs --user (whose token to ask for; a user
 * without a password then logs in with its token only), an admin goes
 * with its password and a user with theirs, --as needs --admin; the
 * target shares the source's CA file, --insecure, timeout and --as (with
 * a target admin). MF_E_USAGE with the reason when they do not go
 * together. */
MF_WARN_UNUSED mf_err mf_preflight_logins_set(
    struct mf_preflight_options *src, struct mf_preflight_options *tgt,
    const struct mf_preflight_logins *lg, struct mf_error *err);

/* What `endpoint test` found: the source's checks, the target's (NULL
 * without a target), each with its code. Owned. */
struct mf_preflight_run {
    struct mf_preflight_result *src, *tgt;
    mf_err src_rc, tgt_rc;
};
/* Checks src and, when tgt is not NULL, tgt; then, with the source fine
 * and a target profile (tgt_profile, else the one the target looks
 * like), the folder names that target refuses. *r is overwritten; clear
 * it with mf_preflight_run_clear(). Returns the code that decides: the
 * source's, else the target's. */
mf_err mf_preflight_run(const struct mf_preflight_options *src,
                        const struct mf_preflight_options *tgt,
                        const struct mf_profile *tgt_profile,
                        struct mf_preflight_run *r);
void mf_preflight_run_clear(struct mf_preflight_run *r);

/* What `endpoint test` reads from its options (args.c): both sides'
 * options, completed by mf_preflight_logins_set(), and what they
 * borrow. */
struct mf_preflight_args {
    struct mf_preflight_options so, to;     /* source, target */
    char *admin_pw, *user_pw, *tadmin_pw;   /* owned secrets, or NULL */
    struct mf_oauth *src_oauth, *dst_oauth; /* owned, or NULL */
    const char *source, *target;            /* the URLs, borrowed */
    const struct mf_profile *tgt_profile;   /* --target-profile, or NULL */
};
/* What was wrong with the options, for the program's message and exit
 * code. */
enum mf_preflight_args_problem {
    MF_PREFLIGHT_ARGS_OK,
    MF_PREFLIGHT_ARGS_USAGE_LINE, /* a wrong command line: show the usage */
    MF_PREFLIGHT_ARGS_USAGE,      /* a wrong value, or logins that do not
                                     go together */
    MF_PREFLIGHT_ARGS_UNREADABLE, /* a password or OAuth2 file */
};
struct mf_config;
/* Reads a from conf: --source URL (required) and --target URL, --insecure,
 * --probe-connections, --timeout (15 s), --target-profile, --ca-file,
 * --admin, --as, --user, the password files of --admin, --user and
 * --target-admin, both sides' OAuth2 options; then the logins are
 * checked to go together (mf_preflight_logins_set()). The first problem
 * is returned with err's detail set. Free a with mf_preflight_args_free()
 * in any case. */
enum mf_preflight_args_problem
mf_preflight_args_read(const struct mf_config *conf,
                       struct mf_preflight_args *a, struct mf_error *err);
void mf_preflight_args_free(struct mf_preflight_args *a);

/* Their option table entries (struct mf_option, mailferry/args.h), for
 * `endpoint test`. */
#define MF_PREFLIGHT_TEST_OPTIONS                                              \
    {"source", true,                                                           \
     "source endpoint: imaps://host:port, imap://host:port "                   \
     "(STARTTLS) or imap://host:port/?tls=off"},                               \
        {"target", true, "target endpoint, checked the same way"},             \
        {"admin", true, "source admin account (impersonates users)"},          \
        {"admin-password-file", true,                                          \
         "file holding the source admin's password"},                          \
        {"as", true,                                                           \
         "log in as this user through the admin (SASL PLAIN authzid)"},        \
        {"user", true, "also log in as this user with its own password"},      \
        {"password-file", true, "file holding --user's password"},             \
        {"target-admin", true, "target admin account"},                        \
        {"target-admin-password-file", true,                                   \
         "file holding the target admin's password"},                          \
        {"ca-file", true, "trust this CA bundle instead of the system store"}, \
        {"insecure", false, "accept any certificate (with a warning)"},        \
        {"probe-connections", true,                                            \
         "open up to N concurrent logins on the source to find its limit"},    \
        {"timeout", true,                                                      \
         "seconds per connection, login included (default 15)"},               \
        {"target-profile", true,                                               \
         "the target's kind (generic, exchange-online, gmail, dovecot, "       \
         "cyrus, ...; default: the one --target looks like): warn about "      \
         "every folder name of the --as/--user mailbox that the target "       \
         "refuses"},                                                           \
        MF_OAUTH_OPTIONS,

/* ------------------------------------------------------------------ */
/* What the commands print (show.c, dnsshow.c)                        */
/* ------------------------------------------------------------------ */

/* `endpoint test`: the source's result (and the target's when tgt is not
 * NULL) as text lines or one JSON document on stdout; exit_code is the
 * command's, shown in both. */
void mf_preflight_print(bool json, const struct mf_preflight_result *src,
                        mf_err src_rc, const struct mf_preflight_result *tgt,
                        mf_err tgt_rc, int exit_code);

/* `endpoint dns`: what an MX lookup found. */
struct mf_dns_mx_verdict {
    const char *failure; /* NULL: MX records found; borrowed (err, rcbuf) */
    uint32_t max_ttl;    /* the highest TTL of them */
    char rcbuf[16];
};
/* Judges the lookup's rc (err its detail) and answer, whose records it
 * sorts by preference when there are some. */
void mf_dns_mx_judge(mf_err rc, const struct mf_error *err,
                     struct mf_dns_mx_answer *ans, struct mf_dns_mx_verdict *v);
/* The records and their TTLs against the advice, as lines or one JSON
 * document on stdout; where names the DNS server asked. */
void mf_dns_mx_print(bool json, const char *domain, const char *where,
                     mf_err rc, const struct mf_dns_mx_answer *ans,
                     const struct mf_dns_mx_verdict *v, int exit_code);

#endif
