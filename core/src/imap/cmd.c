/*
 * The pure parts of the command layer (mailferry/imap_session.h): building
 * command specs, mapping status responses to mf_err codes, reading a
 * server-suggested backoff out of free text, and parsing capability lists. No
 * I/O and no session state here, so all of it is unit-testable on its own.
 *
 * The status mapping, in one place (RFC 5530 response codes):
 *   OK, PREAUTH                         MF_E_OK
 *   BAD (otherwise)                     MF_E_IMAP_BAD
 *   NO [UNAVAILABLE] [THROTTLED]        MF_E_THROTTLED (retry later)
 *   NO [INUSE] [LIMIT]                  MF_E_THROTTLED: Gmail and Yahoo use
 *                                       [LIMIT] for bandwidth and command
 *                                       quotas that pass with time
 *   NO/BYE "too many ... connections",  MF_E_TOO_MANY_CONNECTIONS
 *     "maximum number of connections"   (any code)
 *   NO "too many ..." (other), or a     MF_E_THROTTLED
 *     suggested backoff without a code
 *   NO/BAD "Request is throttled"       MF_E_THROTTLED: Exchange Online
 *     (any code)                        ("Suggested Backoff Time: N
 *                                       milliseconds"), sometimes as BAD
 *   NO [OVERQUOTA] "Account exceeded    MF_E_BANDWIDTH_QUOTA: Gmail's daily
 *     command or bandwidth limits"      bandwidth quota is used up (its
 *                                       users see it on FETCH); the
 *                                       mailbox waits for the next window
 *   NO "Account exceeded command or     MF_E_THROTTLED: Gmail, with
 *     bandwidth limits" (other code)    [THROTTLED] or [ALERT]
 *   NO [TRYCREATE] [NONEXISTENT]        MF_E_MAILBOX_MISSING
 *   NO "Mailbox doesn't exist" (no      MF_E_MAILBOX_MISSING (Dovecot 2.3
 *     code), "no such mailbox"          SELECT)
 *   NO [AUTHENTICATIONFAILED]           MF_E_AUTH
 *     [AUTHORIZATIONFAILED] [EXPIRED]
 *   NO [TOOBIG] (RFC 7889)              MF_E_MESSAGE_TOO_LARGE
 *   NO [ALREADYEXISTS], or "already     MF_E_EXISTS (servers without RFC
 *     exists" in the text               5530 say so in words)
 *   NO [OVERQUOTA]                      MF_E_OVERQUOTA: a full target does
 *                                       not empty itself; the engine stops
 *                                       appending to that mailbox and lists
 *                                       what is left until an admin acts
 *   NO anything else                    MF_E_IMAP_NO
 *   BYE [UNAVAILABLE]                   MF_E_THROTTLED
 *   BYE [OVERQUOTA] "Account exceeded   MF_E_BANDWIDTH_QUOTA: Gmail ends the
 *     command or bandwidth limits"      session this way on FETCH once the
 *                                       download quota is used up (what
 *                                       mbsync's and imapsync's users
 *                                       report); a reconnect meets the
 *                                       same lock until the next window
 *   BYE otherwise                       MF_E_IMAP_BYE
 */
#include "mailferry/imap_session.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================== */
/* Command specs                                                       */
/* ================================================================== */

static struct mf_imap_seg *
add_seg(struct mf_imap_cmd_spec *c, enum mf_imap_seg_kind kind) {
    if (c->nsegs == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->segs = mf_xrealloc(c->segs, c->cap * sizeof(*c->segs));
    }
    struct mf_imap_seg *sg = &c->segs[c->nsegs++];
    memset(sg, 0, sizeof(*sg));
    sg->kind = kind;
    sg->off = c->bytes.len;
    return sg;
}

static void
add_text(struct mf_imap_cmd_spec *c, const char *s, size_t n) {
    struct mf_imap_seg *sg;

    for (size_t i = 0; i < n; i++)
        MF_ASSERT(s[i] != '\r' && s[i] != '\n' && s[i] != '\0');
    /* Merge with a preceding text segment: fewer parts to send. */
    if (c->nsegs > 0 && c->segs[c->nsegs - 1].kind == MF_IMAP_SEG_TEXT &&
        c->segs[c->nsegs - 1].off + c->segs[c->nsegs - 1].len == c->bytes.len) {
        sg = &c->segs[c->nsegs - 1];
    } else {
        sg = add_seg(c, MF_IMAP_SEG_TEXT);
    }
    mf_buf_append(&c->bytes, s, n);
    sg->len += n;
}

void
mf_imap_cmd_text(struct mf_imap_cmd_spec *c, const char *text) {
    add_text(c, text, strlen(text));
}

void
mf_imap_cmd_textf(struct mf_imap_cmd_spec *c, const char *fmt, ...) {
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = mf_xvasprintf(fmt, ap);
    va_end(ap);
    add_text(c, s, strlen(s));
    free(s);
}

void
mf_imap_cmd_astring(struct mf_imap_cmd_spec *c, const uint8_t *s, size_t n) {
    struct mf_buf tmp = {0};

    /* Let the formatter choose; a literal is re-made as a literal segment
     * so that the session picks {n+} or {n} from the capabilities. */
    if (mf_imap_quote_astring(&tmp, s, n, true, NULL) ==
        MF_IMAP_QUOTE_LITERAL_PLUS)
        mf_imap_cmd_literal(c, s, n);
    else
        add_text(c, (const char *)tmp.data, tmp.len);
    mf_buf_free(&tmp);
}

void
mf_imap_cmd_literal(struct mf_imap_cmd_spec *c, const uint8_t *data, size_t n) {
    struct mf_imap_seg *sg = add_seg(c, MF_IMAP_SEG_LITERAL);

    mf_buf_append(&c->bytes, data, n);
    sg->len = n;
}

void
mf_imap_cmd_source(struct mf_imap_cmd_spec *c,
                   const struct mf_imap_body_source *src) {
    struct mf_imap_seg *sg = add_seg(c, MF_IMAP_SEG_SOURCE);

    MF_ASSERT(src->read != NULL);
    sg->source = *src;
}

void
mf_imap_cmd_clear(struct mf_imap_cmd_spec *c) {
    mf_buf_free(&c->bytes);
    free(c->segs);
    memset(c, 0, sizeof(*c));
}

/* ================================================================== */
/* Backoff hints                                                       */
/* ================================================================== */

#define RETRY_AFTER_MAX_MS 86400000u

static bool
contains_ci(const char *text, size_t len, const char *word) {
    size_t wl = strlen(word);

    for (size_t i = 0; i + wl <= len; i++)
        if (strncasecmp(text + i, word, wl) == 0)
            return true;
    return false;
}

static uint64_t
unit_ms(const char *u, size_t n) {
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {
        {"ms", 1},          {"msec", 1},         {"msecs", 1},
        {"millisecond", 1}, {"milliseconds", 1}, {"s", 1000},
        {"sec", 1000},      {"secs", 1000},      {"second", 1000},
        {"seconds", 1000},  {"m", 60000},        {"min", 60000},
        {"mins", 60000},    {"minute", 60000},   {"minutes", 60000},
        {"h", 3600000},     {"hr", 3600000},     {"hrs", 3600000},
        {"hour", 3600000},  {"hours", 3600000},
    };
    for (size_t i = 0; i < MF_ARRAY_LEN(units); i++)
        if (strlen(units[i].name) == n && strncasecmp(u, units[i].name, n) == 0)
            return units[i].ms;
    return 0;
}

uint32_t
mf_imap_parse_retry_after(const char *text, size_t len) {
    static const char *const hints[] = {"again", "retry",   "wait",
                                        "later", "backoff", "after"};
    bool hinted = false;

    for (size_t i = 0; i < MF_ARRAY_LEN(hints); i++)
        hinted = hinted || contains_ci(text, len, hints[i]);
    if (!hinted)
        return 0;
    /* The first "<number> <unit>" (or "<number><unit>") after a word
     * boundary: "try again in 30 seconds", "wait 10s", "retry after 2
     * minutes". */
    for (size_t i = 0; i < len; i++) {
        uint64_t v = 0, mult;
        size_t j = i, k, digits = 0;

        if (!isdigit((unsigned char)text[i]) ||
            (i > 0 && isalnum((unsigned char)text[i - 1])))
            continue;
        while (j < len && isdigit((unsigned char)text[j])) {
            if (digits++ < 9)
                v = v * 10 + (uint64_t)(text[j] - '0');
            j++;
        }
        if (digits > 9)
            v = RETRY_AFTER_MAX_MS;
        while (j < len && text[j] == ' ')
            j++;
        for (k = j; k < len && isalpha((unsigned char)text[k]); k++)
            ;
        mult = unit_ms(text + j, k - j);
        if (mult == 0) {
            i = j;
            continue;
        }
        v *= mult;
        return v > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : (uint32_t)v;
    }
    return 0;
}

/* ================================================================== */
/* Status responses                                                    */
/* ================================================================== */

static bool
code_is(const struct mf_imap_response *r, const char *name) {
    return r->code.name && strcmp(r->code.name, name) == 0;
}

static bool
too_many_connections(const char *text, size_t len) {
    return contains_ci(text, len, "maximum number of connections") ||
           contains_ci(text, len, "too many connections") ||
           contains_ci(text, len, "too many simultaneous connections") ||
           contains_ci(text, len, "too many concurrent connections") ||
           (contains_ci(text, len, "too many") &&
            contains_ci(text, len, "connection"));
}

/* The providers' own throttling words, whatever the response code:
 * Exchange Online "Request is throttled. Suggested Backoff Time: 299961
 * milliseconds", Gmail "Account exceeded command or bandwidth limits". */
static bool
provider_throttled(const char *text, size_t len) {
    return contains_ci(text, len, "request is throttled") ||
           contains_ci(text, len, "exceeded command or bandwidth limits");
}

/* A "too many" that counts what the mailbox or the message holds, not
 * how fast or how often we ask: a refusal that waiting does not cure.
 * Cyrus IMAP answers an APPEND that would bring a folder's keywords past
 * its 128 "NO Too many user flags in mailbox" (imap_err.et,
 * IMAP_USERFLAG_EXHAUSTED), and one whose message is already stored too
 * often "NO Too many identical emails"; taken for throttling, the folder
 * was retried until the mailbox failed THROTTLED. */
static bool
too_many_of_content(const char *text, size_t len) {
    static const char *const what[] = {"flag",      "keyword",   "header",
                                       "identical", "mailboxes", "folders"};
    for (size_t i = 0; i < MF_ARRAY_LEN(what); i++)
        if (contains_ci(text, len, what[i]))
            return true;
    return false;
}

/* Gmail's daily bandwidth quota used up, as NO or as BYE: "[OVERQUOTA]
 * Account exceeded command or bandwidth limits". The same code with
 * other words is a full target (NO) or another BYE. */
static bool
bandwidth_quota(const struct mf_imap_response *r) {
    return code_is(r, "OVERQUOTA") &&
           contains_ci(r->text, r->text_len,
                       "exceeded command or bandwidth limits");
}

static mf_err
map_no(const struct mf_imap_response *r, uint32_t retry_after_ms) {
    const char *t = r->text;
    size_t n = r->text_len;

    if (too_many_connections(t, n))
        return MF_E_TOO_MANY_CONNECTIONS;
    if (bandwidth_quota(r))
        return MF_E_BANDWIDTH_QUOTA;
    if (provider_throttled(t, n))
        return MF_E_THROTTLED;
    if (code_is(r, "UNAVAILABLE") || code_is(r, "THROTTLED") ||
        code_is(r, "INUSE") || code_is(r, "LIMIT"))
        return MF_E_THROTTLED;
    if (code_is(r, "TRYCREATE") || code_is(r, "NONEXISTENT"))
        return MF_E_MAILBOX_MISSING;
    if (code_is(r, "AUTHENTICATIONFAILED") ||
        code_is(r, "AUTHORIZATIONFAILED") || code_is(r, "EXPIRED"))
        return MF_E_AUTH;
    if (code_is(r, "TOOBIG"))
        return MF_E_MESSAGE_TOO_LARGE;
    if (code_is(r, "ALREADYEXISTS") || contains_ci(t, n, "already exists"))
        return MF_E_EXISTS;
    if (code_is(r, "OVERQUOTA"))
        return MF_E_OVERQUOTA;
    if (!r->code.name &&
        ((contains_ci(t, n, "too many") && !too_many_of_content(t, n)) ||
         retry_after_ms > 0))
        return MF_E_THROTTLED;
    /* Dovecot 2.3 answers SELECT of a missing mailbox with a bare "NO
     * Mailbox doesn't exist: name", other servers with similar words. */
    if (!r->code.name && (contains_ci(t, n, "mailbox doesn't exist") ||
                          contains_ci(t, n, "mailbox does not exist") ||
                          contains_ci(t, n, "no such mailbox") ||
                          contains_ci(t, n, "mailbox not found") ||
                          contains_ci(t, n, "unknown mailbox")))
        return MF_E_MAILBOX_MISSING;
    return MF_E_IMAP_NO;
}

mf_err
mf_imap_status_to_error(const struct mf_imap_response *r,
                        struct mf_imap_result *res) {
    mf_err code;

    memset(res, 0, sizeof(*res));
    res->status = r->status;
    res->tagged = r;
    if (r->code.name)
        snprintf(res->resp_code, sizeof(res->resp_code), "%s", r->code.name);
    res->retry_after_ms = mf_imap_parse_retry_after(r->text, r->text_len);
    switch (r->status) {
    case MF_IMAP_STATUS_OK:
    case MF_IMAP_STATUS_PREAUTH:
    case MF_IMAP_STATUS_NONE:
        code = MF_E_OK;
        break;
    case MF_IMAP_STATUS_BAD:
        code = provider_throttled(r->text, r->text_len) ? MF_E_THROTTLED
                                                        : MF_E_IMAP_BAD;
        break;
    case MF_IMAP_STATUS_NO:
        code = map_no(r, res->retry_after_ms);
        break;
    case MF_IMAP_STATUS_BYE:
        if (too_many_connections(r->text, r->text_len))
            code = MF_E_TOO_MANY_CONNECTIONS;
        else if (code_is(r, "UNAVAILABLE"))
            code = MF_E_THROTTLED;
        else if (bandwidth_quota(r))
            code = MF_E_BANDWIDTH_QUOTA;
        else
            code = MF_E_IMAP_BYE;
        break;
    default:
        code = MF_E_IMAP_UNEXPECTED;
        break;
    }
    res->error.code = code;
    if (r->code.name)
        snprintf(res->error.detail, sizeof(res->error.detail), "%s [%s%s%s] %s",
                 mf_imap_status_name(r->status), r->code.name,
                 r->code.raw && r->code.raw[0] ? " " : "",
                 r->code.raw ? r->code.raw : "", r->text);
    else
        snprintf(res->error.detail, sizeof(res->error.detail), "%s %s",
                 mf_imap_status_name(r->status), r->text);
    return code;
}

/* ================================================================== */
/* Capabilities                                                        */
/* ================================================================== */

uint32_t
mf_imap_caps_parse(const struct mf_imap_arg *args, size_t n,
                   uint64_t *appendlimit_r) {
    static const char *const names[] = {
#define XX(name, str) str,
        MF_IMAP_CAP_TABLE(XX)
#undef XX
    };
    uint32_t caps = 0;

    *appendlimit_r = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a;

        if (!mf_imap_arg_is_atom(&args[i]) ||
            !mf_imap_arg_as_astring(&args[i], &a))
            continue;
        /* RFC 7889: "APPENDLIMIT=n" per server, or bare "APPENDLIMIT"
         * when the limit differs per mailbox (STATUS tells then). */
        if (strncasecmp(a, "APPENDLIMIT=", 12) == 0) {
            uint64_t v;
            caps |= MF_IMAP_CAP_APPENDLIMIT;
            if (mf_parse_u64(a + 12, 0, UINT64_MAX, &v))
                *appendlimit_r = v;
            continue;
        }
        for (size_t k = 0; k < MF_ARRAY_LEN(names); k++)
            if (strcasecmp(a, names[k]) == 0)
                caps |= 1u << k;
    }
    return caps;
}
