/*
 * Provider profiles (issue 13 section 1, docs/profiles.md): what
 * mailferry knows about one kind of IMAP server, as pure data and pure
 * functions. A profile is chosen per side (--source-profile,
 * --target-profile; "generic" by default), stored in a batch and carried
 * in its jobs, and gives defaults that the admin's flags override:
 *
 *   - the message size limit on a target (Exchange Online: 35 MB);
 *   - connection caps (Gmail: 15 connections per account);
 *   - whether APPENDs may be batched with MULTIAPPEND;
 *   - folders excluded on a source (Gmail: Spam, Trash, the virtual
 *     folders), and the source admin's login template (Exchange
 *     on-premises impersonation);
 *   - the fingerprint mode: servers that re-encode what they store
 *     (Exchange, Gmail) are recognised leniently (mailferry/fingerprint.h);
 *   - throttling: how long to pause the endpoint when the server throttles
 *     without saying for how long, and how far concurrency may drop;
 *   - the characters and lengths a target refuses in folder names.
 *
 * mf_profile_detect() guesses a server's profile from its greeting,
 * capabilities and ID answer, for `endpoint test`. Nothing here does I/O.
 */
#ifndef MAILFERRY_PROFILE_H
#define MAILFERRY_PROFILE_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_folder_name_rules;

enum mf_profile_id {
    MF_PROFILE_GENERIC = 0,
    MF_PROFILE_EXCHANGE_ONLINE,
    MF_PROFILE_EXCHANGE_ONPREM,
    MF_PROFILE_GMAIL,
    MF_PROFILE_DOVECOT,
    MF_PROFILE_CYRUS,
    MF_PROFILE_COUNT
};

/* How a retry recognises a message already on the target. */
enum mf_profile_fingerprint {
    MF_PROFILE_FP_STRICT = 0, /* Message-ID, RFC822.SIZE, INTERNALDATE */
    MF_PROFILE_FP_LENIENT,    /* no size: the target re-encodes */
};

/* One profile. Everything is static data; 0 and NULL mean "no default":
 * the engine's own default (or the flag) applies. */
struct mf_profile {
    enum mf_profile_id id;
    const char *name;  /* "exchange-online": the flag's word */
    const char *title; /* "Exchange Online (Microsoft 365)" */
    const char *docs;  /* the provider's own page that the rules cite */
    /* As a target. */
    uint64_t max_message_size; /* bytes */
    bool no_multiappend;       /* one APPEND per message */
    enum mf_profile_fingerprint fingerprint;
    /* What it refuses in folder names (issue 13 section 2): characters,
     * lengths, case; the folder plan maps names to fit. NULL: nothing
     * known beyond its delimiter (and a refused CREATE still falls back
     * to a conservative name). */
    const struct mf_folder_name_rules *names;
    /* As either side: caps per endpoint (fleet-wide, per login). */
    unsigned max_connections, max_connections_per_user;
    /* Throttling: the pause when a throttling answer names no time, and
     * the floor of the adaptive connection limit. */
    uint32_t throttle_default_ms;
    unsigned throttle_min_connections;
    /* As a source. */
    /* Folders excluded with their subfolders: patterns, NULL-terminated
     * (each also excluded with a "/" and "*" after it). */
    const char *const *exclude;
    /* Copied by labels (the gmail-labels preset): every message once,
     * from the first label folder that has it, All Mail last into the
     * archive folder (--gmail-archive-folder). */
    bool gmail_labels;
    const char *admin_login_format; /* impersonation template, or NULL */
    /* Log in with SASL PLAIN only: the server offers mechanisms (NTLM,
     * GSSAPI) that curl prefers and that cannot carry the template's
     * login. */
    bool sasl_plain;
};

/* --fingerprint: "strict" or "lenient" (case-insensitive) in *mode_r;
 * NULL or "" leaves *mode_r and *set_r alone (the target profile's mode
 * applies). MF_E_USAGE for another word. */
MF_WARN_UNUSED mf_err mf_profile_fingerprint_parse(
    const char *word, enum mf_profile_fingerprint *mode_r, bool *set_r,
    struct mf_error *err);
/* "strict" or "lenient". */
const char *mf_profile_fingerprint_name(enum mf_profile_fingerprint mode);

/* The mode a run recognises messages by: given when set (the admin's
 * --fingerprint), else the target profile's (tgt NULL: strict). One rule
 * for the engine and for the jobs that carry the mode to workers. */
enum mf_profile_fingerprint
mf_profile_fingerprint_mode(const struct mf_profile *tgt, bool set,
                            enum mf_profile_fingerprint given);

/* The profile with that id (asserts it is valid). */
const struct mf_profile *mf_profile_get(enum mf_profile_id id);
/* The generic profile, for a side without one. */
const struct mf_profile *mf_profile_generic(void);
/* The profile named name ("exchange-online", ...; case-insensitive).
 * NULL or "" is the generic profile. MF_E_USAGE, with the known names in
 * err, for another word. */
MF_WARN_UNUSED mf_err mf_profile_find(const char *name,
                                      const struct mf_profile **p_r,
                                      struct mf_error *err);
/* The profile named name, or the generic one when name is NULL, empty
 * or unknown (a stored name from a newer version): for names that were
 * checked with mf_profile_find() when they were stored. */
const struct mf_profile *mf_profile_or_generic(const char *name);
/* "generic, exchange-online, ...": every name, for help texts. */
const char *mf_profile_names(void);

/* Adds a source profile's folder rules (its excluded folders and
 * presets; for Gmail, All Mail renamed to archive, NULL or "" meaning
 * MF_PROFILE_GMAIL_ARCHIVE) to rules: every program that builds folder
 * rules calls it, so a batch's workers and `migrate --direct` treat the
 * same folders alike. src NULL adds nothing. Errors are the rule
 * parsers'. */
#define MF_PROFILE_GMAIL_ARCHIVE "Archive"
struct mf_folder_rules;
MF_WARN_UNUSED mf_err mf_profile_folder_rules(const struct mf_profile *src,
                                              const char *archive,
                                              struct mf_folder_rules *rules,
                                              struct mf_error *err);

/* The message size cap before a target's APPENDLIMIT: given (the
 * admin's --max-message-size) when not 0, else the target profile's,
 * else MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE. tgt may be NULL. */
#define MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE ((uint64_t)35 * 1000 * 1000)
uint64_t mf_profile_max_message_size(const struct mf_profile *tgt,
                                     uint64_t given);

/* The source admin's login template: given (--admin-login-format) when
 * set, else the source profile's (Exchange on-premises impersonation:
 * "{domain}/{admin}/{user}"), else NULL (SASL PLAIN with authzid). */
const char *mf_profile_login_format(const struct mf_profile *src,
                                    const char *given);

/* A guess at a server's profile (mf_profile_detect()). */
struct mf_profile_guess {
    const struct mf_profile *profile; /* generic when nothing matched */
    bool certain;  /* the server named itself (ID, X-GM-EXT-1, greeting) */
    char why[160]; /* "greeting names Microsoft Exchange, AUTH=XOAUTH2" */
};

/* Guesses the profile of a server from what it said: greeting (the text
 * of its "* OK" line), caps (capability atoms, space separated, before or
 * after login, or both), id (the ID response's parameter list as text,
 * e.g. "name GImap vendor Google, Inc."; NULL or "" when the server
 * answered none). Any argument may be NULL. Always fills *g. */
void mf_profile_detect(const char *greeting, const char *caps, const char *id,
                       struct mf_profile_guess *g);

#endif
