/*
 * The IMAP capabilities mailferry looks for, how much it needs each and
 * why (see mailferry/preflight.h). Pure functions over capability atoms
 * as the server sent them; the endpoint test turns them into verdicts.
 */
#include "mailferry/preflight.h"

#include "mailferry/util.h"

#include <string.h>
#include <strings.h>

static const struct mf_preflight_cap table[] = {
    {"IMAP4rev1", MF_PREFLIGHT_REQUIRED, "the protocol mailferry speaks"},
    {"LITERAL+", MF_PREFLIGHT_RECOMMENDED,
     "APPEND without a round trip per message (RFC 7888)"},
    {"MULTIAPPEND", MF_PREFLIGHT_USEFUL,
     "several messages per APPEND (RFC 3502)"},
    {"UIDPLUS", MF_PREFLIGHT_RECOMMENDED,
     "APPENDUID tells the copied message's UID without a SEARCH "
     "(RFC 4315)"},
    {"SPECIAL-USE", MF_PREFLIGHT_RECOMMENDED,
     "finds Sent, Drafts, Trash, Junk by role, not by name (RFC 6154)"},
    {"APPENDLIMIT", MF_PREFLIGHT_USEFUL,
     "the largest message the server accepts (RFC 7889)"},
    {"NAMESPACE", MF_PREFLIGHT_RECOMMENDED,
     "the personal folder prefix and separator (RFC 2342)"},
    {"STATUS=SIZE", MF_PREFLIGHT_USEFUL,
     "folder sizes for `plan` without fetching every message size "
     "(RFC 8438)"},
    {"CONDSTORE", MF_PREFLIGHT_USEFUL,
     "incremental passes find changed flags quickly (RFC 7162)"},
    {"ID", MF_PREFLIGHT_USEFUL,
     "mailferry names itself in the server's logs (RFC 2971)"},
};

const struct mf_preflight_cap *
mf_preflight_caps_table(size_t *n_r) {
    *n_r = MF_ARRAY_LEN(table);
    return table;
}

const char *
mf_preflight_need_name(enum mf_preflight_need n) {
    switch (n) {
    case MF_PREFLIGHT_REQUIRED:
        return "required";
    case MF_PREFLIGHT_RECOMMENDED:
        return "recommended";
    case MF_PREFLIGHT_USEFUL:
        return "useful";
    }
    return "?";
}

const char *
mf_preflight_verdict_name(enum mf_preflight_verdict v) {
    switch (v) {
    case MF_PREFLIGHT_OK:
        return "ok";
    case MF_PREFLIGHT_WARN:
        return "warn";
    case MF_PREFLIGHT_FAIL:
        return "fail";
    case MF_PREFLIGHT_SKIP:
        return "skip";
    }
    return "?";
}

/* atom is n bytes (not NUL-terminated). */
static bool
matches_n(const char *atom, size_t n, const char *name) {
    size_t ln = strlen(name);

    if (n < ln || strncasecmp(atom, name, ln) != 0)
        return false;
    if (n == ln)
        return true;
    /* "APPENDLIMIT=35651584" is APPENDLIMIT (a number after "="), but
     * "AUTH=PLAIN" is not "AUTH" nor "STATUS=SIZE" "STATUS". */
    if (atom[ln] != '=' || ln + 1 == n)
        return false;
    for (size_t i = ln + 1; i < n; i++)
        if (atom[i] < '0' || atom[i] > '9')
            return false;
    return true;
}

bool
mf_preflight_cap_matches(const char *atom, const char *name) {
    return matches_n(atom, strlen(atom), name);
}

bool
mf_preflight_caps_have(const char *caps, const char *name) {
    const char *p = caps;

    while (*p) {
        size_t n;
        p += strspn(p, " ");
        n = strcspn(p, " ");
        if (n > 0 && matches_n(p, n, name))
            return true;
        p += n;
    }
    return false;
}

bool
mf_preflight_cap_used(const char *atom) {
    for (size_t i = 0; i < MF_ARRAY_LEN(table); i++)
        if (mf_preflight_cap_matches(atom, table[i].name))
            return true;
    /* LITERAL- is the fallback for LITERAL+ (small literals only). */
    return strcasecmp(atom, "LITERAL-") == 0;
}
