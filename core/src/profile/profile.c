/*
 * The provider profiles (mailferry/profile.h): one table, and the guess
 * of a server's profile from its own words. Each row cites the page its
 * numbers come from; docs/profiles.md explains every rule.
 *
 * Detection, strongest evidence first:
 *   1. the ID answer (RFC 2971) names the server: "GImap" (Gmail),
 *      "Cyrus", "Dovecot";
 *   2. X-GM-EXT-1 in the capabilities is Gmail's own extension flag
 *      (developers.google.com/gmail/imap/imap-extensions);
 *   3. the greeting: "Gimap ready" (Gmail), "Microsoft Exchange"
 *      (Exchange: Online when it also offers AUTH=XOAUTH2, which
 *      outlook.office365.com does and an on-premises server usually does
 *      not), "Dovecot", "Cyrus IMAP".
 * An Exchange guess is never "certain": on-premises servers with modern
 * authentication also offer XOAUTH2.
 */
#include "mailferry/profile.h"

#include "mailferry/folderplan.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Gmail's own folders that are not mail to copy by default: Spam and
 * Trash (the rule; --include brings them back). */
static const char *const gmail_exclude[] = {"[Gmail]/Spam", "[Gmail]/Trash",
                                            "[Google Mail]/Spam",
                                            "[Google Mail]/Trash", NULL};

/* Folder names each target refuses (issue 13 section 2). Where the
 * provider documents nothing, nothing is invented: a CREATE refused by
 * its name still falls back to a conservative name (docs/profiles.md,
 * "Folder names"). */

/* Exchange (Online and on-premises): Microsoft documents no folder-name
 * rule for IMAP. Its protocol specification for the same store over
 * ActiveSync says a folder's display name "MUST be between 1 and 256
 * characters in length" (MS-ASCMD, DisplayName of FolderCreate:
 * https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/
 * ms-ascmd/ed219381-895c-488c-8492-58954a50ac1b); no whole-path limit is
 * documented. Folder names are compared without case, as Outlook shows. */
static const struct mf_folder_name_rules exchange_names = {
    .max_level_chars = 256,
    .case_insensitive = true,
};

/* Gmail: labels are folders and "/" nests them; Google documents no
 * refused character and no length for IMAP folder names
 * (https://developers.google.com/gmail/imap/imap-extensions). Label
 * names are compared without case. */
static const struct mf_folder_name_rules gmail_names = {
    .case_insensitive = true,
};

/* Cyrus IMAP 3.x: mboxname_policycheck() in imap/mboxname.c (the source
 * is its documentation: https://github.com/cyrusimap/cyrus-imapd/blob/
 * master/imap/mboxname.c) accepts the printable ASCII characters but
 * ! " % & / ; < > \ ` { | } ("&" only as modified UTF-7's shift, which
 * the encoder writes), refuses tab, CR and LF, and a name over
 * MAX_MAILBOX_NAME, 490 bytes (imap/mailbox.h). That counts Cyrus's
 * internal name ("user.<login>." before the folder), so a name close to
 * 490 on the wire can still be refused: the fallback reports it. */
static const struct mf_folder_name_rules cyrus_names = {
    .forbidden = "!\"%/;<>\\`{|}",
    .controls = true,
    .max_name_bytes = 490,
};

/* Dovecot 2.3: each level at most 255 characters ("restricting
 * individual component names to 255 characters", lib-storage,
 * https://github.com/dovecot/core/commit/ad082a8bfd74393367ee5968741340f686ae0a73);
 * with a filesystem layout "/" and a leading "~" are refused unless the
 * listescape plugin is loaded
 * (https://doc.dovecot.org/2.3/configuration_manual/plugins/listescape_plugin/),
 * which is a server setting mailferry cannot see: the fallback covers
 * it. */
static const struct mf_folder_name_rules dovecot_names = {
    .max_level_chars = 255,
};

/* Exchange's folders that hold no mail (MS-OXOSFLD 2.2.1: container
 * classes IPF.Appointment, IPF.Contact, IPF.Task, IPF.StickyNote,
 * IPF.Journal). Its IMAP service lists them but serves only e-mail
 * items, so they would arrive as empty folders (docs/profiles.md), in
 * English, German and French mailboxes. */
static const char *const exchange_nonmail[] = {
    "Calendar", "Contacts", "Tasks",   "Notes",      "Journal",     "Kalender",
    "Kontakte", "Aufgaben", "Notizen", "Calendrier", "T\u00e2ches", NULL};

static const struct mf_profile profiles[MF_PROFILE_COUNT] = {
    [MF_PROFILE_GENERIC] =
        {
            .id = MF_PROFILE_GENERIC,
            .name = "generic",
            .title = "any IMAP server (RFC 3501)",
            .docs = "https://www.rfc-editor.org/rfc/rfc3501",
            .throttle_default_ms = 30000,
            .throttle_min_connections = 1,
        },
    [MF_PROFILE_EXCHANGE_ONLINE] =
        {
            .id = MF_PROFILE_EXCHANGE_ONLINE,
            .name = "exchange-online",
            .title = "Exchange Online (Microsoft 365)",
            /* "IMAP migration ... messages larger than 35 MB" */
            .docs = "https://learn.microsoft.com/en-us/exchange/"
                    "mailbox-migration/migrating-imap-mailboxes/"
                    "migrating-imap-mailboxes",
            .names = &exchange_names,
            .max_message_size = (uint64_t)35 * 1000 * 1000,
            /* Its CAPABILITY has no MULTIAPPEND. */
            .no_multiappend = true,
            /* Stores messages as items and renders them again. */
            .fingerprint = MF_PROFILE_FP_LENIENT,
            /* "NO Request is throttled. Suggested Backoff Time: N
             * milliseconds": the time is usually there. */
            .throttle_default_ms = 60000,
            .throttle_min_connections = 1,
            .throttles = true,
        },
    [MF_PROFILE_EXCHANGE_ONPREM] =
        {
            .id = MF_PROFILE_EXCHANGE_ONPREM,
            .name = "exchange-onprem",
            .title = "Exchange Server (on-premises)",
            .docs = "https://learn.microsoft.com/en-us/powershell/module/"
                    "exchange/set-imapsettings",
            .names = &exchange_names,
            .no_multiappend = true,
            .fingerprint = MF_PROFILE_FP_LENIENT,
            /* Set-ImapSettings: MaxConnectionsPerUser defaults to 16;
             * with impersonation every connection is the admin's. */
            .max_connections_per_user = 16,
            .throttle_default_ms = 60000,
            .throttle_min_connections = 1,
            .throttles = true,
            .admin_login_format = "{domain}/{admin}/{user}",
            .exclude = exchange_nonmail,
            .sasl_plain = true,
        },
    [MF_PROFILE_GMAIL] =
        {
            .id = MF_PROFILE_GMAIL,
            .name = "gmail",
            .title = "Gmail and Google Workspace",
            .docs = "https://support.google.com/a/answer/1071518",
            .names = &gmail_names,
            /* APPENDLIMIT=35651584 in its capabilities. */
            .max_message_size = 35651584,
            .no_multiappend = true,
            .fingerprint = MF_PROFILE_FP_LENIENT,
            /* "15 simultaneous IMAP connections per account". */
            .max_connections_per_user = 15,
            .throttle_default_ms = 60000,
            .throttle_min_connections = 1,
            .throttles = true,
            /* Google's "Gmail bandwidth limits" (support.google.com/a/
             * answer/1071518), "POP and IMAP bandwidth limits", per day:
             * "Download via IMAP 2500 MB", "Upload via IMAP 500 MB";
             * "Reaching the sync limit triggers a safeguard that
             * temporarily stops IMAP uploads for the account". MB taken
             * as 10^6 bytes, the smaller reading. */
            .quota_download = (uint64_t)2500 * 1000 * 1000,
            .quota_upload = (uint64_t)500 * 1000 * 1000,
            .exclude = gmail_exclude,
            .gmail_labels = true,
        },
    [MF_PROFILE_DOVECOT] =
        {
            .id = MF_PROFILE_DOVECOT,
            .name = "dovecot",
            .title = "Dovecot",
            .docs = "https://doc.dovecot.org/",
            .names = &dovecot_names,
            .throttle_default_ms = 30000,
            .throttle_min_connections = 1,
        },
    [MF_PROFILE_CYRUS] =
        {
            .id = MF_PROFILE_CYRUS,
            .name = "cyrus",
            .title = "Cyrus IMAP",
            .docs = "https://www.cyrusimap.org/imap/reference/admin/"
                    "locations.html",
            .names = &cyrus_names,
            .throttle_default_ms = 30000,
            .throttle_min_connections = 1,
        },
};

const struct mf_profile *
mf_profile_get(enum mf_profile_id id) {
    MF_ASSERT(id < MF_PROFILE_COUNT);
    return &profiles[id];
}

const struct mf_profile *
mf_profile_generic(void) {
    return &profiles[MF_PROFILE_GENERIC];
}

bool
mf_profile_has_caps(const struct mf_profile *p) {
    return p && (p->max_connections || p->max_connections_per_user);
}

static bool
takes_leases(const struct mf_profile *p) {
    return mf_profile_has_caps(p) || (p && p->throttles);
}

bool
mf_profile_takes_leases(const struct mf_profile *src,
                        const struct mf_profile *tgt) {
    return takes_leases(src) || takes_leases(tgt);
}

const struct mf_profile *
mf_profile_or_generic(const char *name) {
    const struct mf_profile *p = NULL;
    struct mf_error err;

    if (mf_profile_find(name, &p, &err) != MF_E_OK)
        p = mf_profile_generic();
    return p;
}

const char *
mf_profile_names(void) {
    return "generic, exchange-online, exchange-onprem, gmail, dovecot, cyrus";
}

mf_err
mf_profile_find(const char *name, const struct mf_profile **p_r,
                struct mf_error *err) {
    if (!name || !*name) {
        *p_r = mf_profile_generic();
        return MF_E_OK;
    }
    for (size_t i = 0; i < MF_PROFILE_COUNT; i++)
        if (strcasecmp(name, profiles[i].name) == 0) {
            *p_r = &profiles[i];
            return MF_E_OK;
        }
    return mf_error_set(err, MF_E_USAGE,
                        "unknown profile \"%.60s\" (known: %s)", name,
                        mf_profile_names());
}

mf_err
mf_profile_fingerprint_parse(const char *word,
                             enum mf_profile_fingerprint *mode_r, bool *set_r,
                             struct mf_error *err) {
    if (!word || !*word)
        return MF_E_OK;
    if (strcasecmp(word, "strict") == 0)
        *mode_r = MF_PROFILE_FP_STRICT;
    else if (strcasecmp(word, "lenient") == 0)
        *mode_r = MF_PROFILE_FP_LENIENT;
    else
        return mf_error_set(err, MF_E_USAGE,
                            "--fingerprint \"%.40s\": strict or lenient", word);
    *set_r = true;
    return MF_E_OK;
}

const char *
mf_profile_fingerprint_name(enum mf_profile_fingerprint mode) {
    return mode == MF_PROFILE_FP_LENIENT ? "lenient" : "strict";
}

enum mf_profile_fingerprint
mf_profile_fingerprint_mode(const struct mf_profile *tgt, bool set,
                            enum mf_profile_fingerprint given) {
    if (set)
        return given;
    return tgt ? tgt->fingerprint : MF_PROFILE_FP_STRICT;
}

uint64_t
mf_profile_max_message_size(const struct mf_profile *tgt, uint64_t given) {
    if (given)
        return given;
    if (tgt && tgt->max_message_size)
        return tgt->max_message_size;
    return MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE;
}

const char *
mf_profile_login_format(const struct mf_profile *src, const char *given) {
    if (given && *given)
        return given;
    return src ? src->admin_login_format : NULL;
}

mf_err
mf_profile_folder_rules(const struct mf_profile *src, const char *archive,
                        struct mf_folder_rules *rules, struct mf_error *err) {
    static const char *const all_mail[] = {"[Gmail]/All Mail",
                                           "[Google Mail]/All Mail"};
    mf_err rc;

    if (!src)
        return MF_E_OK;
    if (src->gmail_labels) {
        if ((rc = mf_folder_rules_parse_preset(rules, "gmail-labels", err)))
            return rc;
        /* Mail only in All Mail is archived mail: it lands there. */
        for (size_t i = 0; i < MF_ARRAY_LEN(all_mail); i++) {
            char *rule = mf_xasprintf(
                "%s=%s", all_mail[i],
                archive && *archive ? archive : MF_PROFILE_GMAIL_ARCHIVE);
            rc = mf_folder_rules_parse_rename(rules, rule, err);
            free(rule);
            if (rc)
                return rc;
            rules->rename[rules->n_rename - 1].profile = true;
        }
    }
    for (size_t i = 0; src->exclude && src->exclude[i]; i++) {
        char *tree = mf_xasprintf("%s/*", src->exclude[i]);
        if ((rc = mf_folder_rules_parse_exclude(rules, src->exclude[i], err)) ==
            MF_E_OK)
            rc = mf_folder_rules_parse_exclude(rules, tree, err);
        free(tree);
        if (rc)
            return rc;
    }
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Detection                                                           */
/* ------------------------------------------------------------------ */

static bool
has(const char *text, const char *word) {
    size_t wl = strlen(word);

    if (!text)
        return false;
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, word, wl) == 0)
            return true;
    return false;
}

/* A capability atom, whole ("AUTH=XOAUTH2" is not "XOAUTH2"). */
static bool
has_cap(const char *caps, const char *atom) {
    size_t al = strlen(atom);

    if (!caps)
        return false;
    for (const char *p = caps; *p;) {
        size_t n = strcspn(p, " ");
        if (n == al && strncasecmp(p, atom, al) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

static void
guess(struct mf_profile_guess *g, enum mf_profile_id id, bool certain,
      const char *why) {
    g->profile = &profiles[id];
    g->certain = certain;
    snprintf(g->why, sizeof(g->why), "%s", why);
}

void
mf_profile_detect(const char *greeting, const char *caps, const char *id,
                  struct mf_profile_guess *g) {
    bool xoauth = has_cap(caps, "AUTH=XOAUTH2");

    memset(g, 0, sizeof(*g));
    if (has(id, "GImap")) /* 1. the ID answer names the implementation */
        guess(g, MF_PROFILE_GMAIL, true, "ID names GImap");
    else if (has(id, "Cyrus"))
        guess(g, MF_PROFILE_CYRUS, true, "ID names Cyrus");
    else if (has(id, "Dovecot"))
        guess(g, MF_PROFILE_DOVECOT, true, "ID names Dovecot");
    else if (has_cap(caps, "X-GM-EXT-1")) /* 2. Gmail's extension flag */
        guess(g, MF_PROFILE_GMAIL, true, "capabilities include X-GM-EXT-1");
    else if (has(greeting, "Gimap")) /* 3. the greeting */
        guess(g, MF_PROFILE_GMAIL, true, "greeting says Gimap");
    else if ((has(greeting, "Microsoft Exchange") || has(id, "Exchange")) &&
             xoauth)
        guess(g, MF_PROFILE_EXCHANGE_ONLINE, false,
              "greeting names Microsoft Exchange and AUTH=XOAUTH2 is "
              "offered (Exchange Online)");
    else if (has(greeting, "Microsoft Exchange") || has(id, "Exchange"))
        guess(g, MF_PROFILE_EXCHANGE_ONPREM, false,
              "greeting names Microsoft Exchange, without AUTH=XOAUTH2 (an "
              "on-premises server)");
    else if (has(greeting, "Dovecot"))
        guess(g, MF_PROFILE_DOVECOT, true, "greeting names Dovecot");
    else if (has(greeting, "Cyrus"))
        guess(g, MF_PROFILE_CYRUS, true, "greeting names Cyrus");
    else
        guess(g, MF_PROFILE_GENERIC, false,
              "nothing in the greeting, capabilities or ID names the server");
}
