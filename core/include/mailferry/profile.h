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
#include "mailferry/util.h"

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
    /* The provider documents throttling answers (Exchange's "Request is
     * throttled", Gmail's [THROTTLED]): its runs take connection leases
     * so that the lowered limit holds (mf_profile_takes_leases()). */
    bool throttles;
    /* Daily IMAP bandwidth quotas per user (Gmail: 2500 MB downloaded
     * from it, 500 MB uploaded to it; mf_profile_quota_rules()): bytes
     * per window, 0: none. */
    uint64_t quota_download, quota_upload;
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

/* Throttling rules (core/src/migrate/throttle.c), the profile's defaults
 * that the admin's --throttle-* flags override. */
struct mf_throttle_rules {
    uint32_t pause_ms;        /* when a throttling answer names no time */
    uint32_t pause_max_ms;    /* the longest pause honoured from an answer */
    unsigned min_connections; /* floor of the adaptive connection limit */
    uint32_t window_ms;       /* the lowered limit lasts at least this long */
};

/* The defaults of the rules no profile sets, in ms. */
#define MF_THROTTLE_DEFAULT_PAUSE_MAX_MS 900000
#define MF_THROTTLE_DEFAULT_WINDOW_MS 60000

/* The one table of the --throttle-* flags: option, field of struct
 * mf_throttle_rules (also the batch hash field "thr_<field>"), least
 * and greatest value, help with the default. The programs' option
 * tables, `batch set`, the batch record and the docs all follow it. */
#define MF_THROTTLE_FLAGS(XX)                                                  \
    XX("throttle-pause", pause_ms, 1, 3600000,                                 \
       "ms to pause an endpoint after a throttling answer that names no "      \
       "time (default: the profile's, 30000 or 60000; docs/profiles.md)")      \
    XX("throttle-pause-max", pause_max_ms, 1, 3600000,                         \
       "the longest pause honoured from one throttling answer, ms "            \
       "(default " MF_STR(MF_THROTTLE_DEFAULT_PAUSE_MAX_MS) ")")               \
    XX("throttle-min-connections", min_connections, 1, 10000,                  \
       "floor of the connection limit lowered after throttling (default: "     \
       "the profile's, 1)")                                                    \
    XX("throttle-window", window_ms, 1, 3600000,                               \
       "ms the lowered connection limit lasts at least after the last "        \
       "throttling answer (default " MF_STR(                                   \
           MF_THROTTLE_DEFAULT_WINDOW_MS) "; 5 times the pause if longer)")

/* The rules a run uses: each of given (the admin's flags; NULL or 0:
 * unset) else p's (NULL: generic) else the defaults above. */
void mf_profile_throttle_rules(const struct mf_profile *p,
                               const struct mf_throttle_rules *given,
                               struct mf_throttle_rules *rules_r);

/* Reads the --throttle-* flags of MF_THROTTLE_FLAGS from conf into
 * *given (0 for a flag not given). MF_E_USAGE for a value out of range. */
struct mf_config;
MF_WARN_UNUSED mf_err mf_profile_throttle_read(const struct mf_config *conf,
                                               struct mf_throttle_rules *given,
                                               struct mf_error *err);

/* Daily IMAP bandwidth quotas per user (issue 13 section 1; the caps'
 * mf_caps_quota_take()), the profile's defaults that the admin's
 * --quota-* flags override: what may be downloaded from one user of a
 * source and uploaded to one user of a target in one window, counted
 * fleet-wide. A mailbox that reaches one waits for the next window
 * (reported as waiting, not failed) and goes on where it stopped. */
struct mf_quota_rules {
    uint64_t download_bytes; /* from a source user per window; 0: none */
    uint64_t upload_bytes;   /* to a target user per window; 0: none */
    uint64_t window_s;       /* the window's length */
};

#define MF_QUOTA_DEFAULT_WINDOW_S 86400

/* The one table of the --quota-* flags: option, field of struct
 * mf_quota_rules (also the batch hash field "quo_<field>"), least and
 * greatest value, unit (mf_config_unit), help with the default. The
 * programs' option tables, `batch set`, the batch record and the docs
 * all follow it. */
#define MF_QUOTA_FLAGS(XX)                                                     \
    XX("quota-download", download_bytes, 1, (uint64_t)1 << 50, MF_UNIT_BYTES,  \
       "bytes that may be downloaded from one source user per quota "          \
       "window, fleet-wide (k/m/g; default: the source profile's, gmail "      \
       "2500000000: Google's 2500 MB a day)")                                  \
    XX("quota-upload", upload_bytes, 1, (uint64_t)1 << 50, MF_UNIT_BYTES,      \
       "bytes that may be uploaded to one target user per quota window, "      \
       "fleet-wide (k/m/g; default: the target profile's, gmail 500000000: "   \
       "Google's 500 MB a day)")                                               \
    XX("quota-window", window_s, 1, (uint64_t)366 * 86400, MF_UNIT_SECONDS,    \
       "the length of a quota window (s/m/h/d; default 1d): a mailbox "        \
       "that used its quota waits for the next one")

/* The rules a run uses: each of given (the admin's flags; NULL or 0:
 * unset) else the profiles' (src for downloads, tgt for uploads; NULL:
 * generic, which has none) else MF_QUOTA_DEFAULT_WINDOW_S for the
 * window. */
void mf_profile_quota_rules(const struct mf_profile *src,
                            const struct mf_profile *tgt,
                            const struct mf_quota_rules *given,
                            struct mf_quota_rules *rules_r);

/* Reads the --quota-* flags of MF_QUOTA_FLAGS from conf into *given (0
 * for a flag not given). MF_E_USAGE for a value out of range. */
MF_WARN_UNUSED mf_err mf_profile_quota_read(const struct mf_config *conf,
                                            struct mf_quota_rules *given,
                                            struct mf_error *err);

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

/* True when p (NULL: generic) sets connection caps of its own (Gmail's
 * 15 per login, Exchange Server's 16): a run with a Redis takes leases
 * for them even when the admin set no --max-connections* flag. */
bool mf_profile_has_caps(const struct mf_profile *p);
/* True when a run from src to tgt (either NULL: generic) with a Redis
 * takes connection leases although the admin set no --max-connections*
 * flag: a side sets caps of its own (mf_profile_has_caps()) or throttles
 * (p->throttles). A throttling answer lowers the endpoint's connection
 * limit for a while (core/src/caps/throttle.c), and only leases enforce
 * it. The one rule of every program: the fleet worker and the embedded
 * migrate (worker/bcache.c), migrate --direct --redis (direct/options.c). */
bool mf_profile_takes_leases(const struct mf_profile *src,
                             const struct mf_profile *tgt);
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

/* The option table entries (struct mf_option, mailferry/args.h) of
 * --source-profile and --target-profile (mf_batchdef_profiles_read()),
 * for the tables of the commands that connect. */
#define MF_PROFILE_OPTIONS                                                     \
    {"source-profile", true,                                                   \
     "the source server's kind: generic (default), exchange-online, "          \
     "exchange-onprem, gmail, dovecot or cyrus (docs/profiles.md)"},           \
    {                                                                          \
        "target-profile", true, "the target server's kind, same words"         \
    }

/* An option of the --throttle-* table (MF_THROTTLE_FLAGS above):
 * MF_THROTTLE_FLAGS(MF_THROTTLE_OPTION). */
#define MF_THROTTLE_OPTION(option, field, min, max, help) {option, true, help},
/* An option of the --quota-* table (MF_QUOTA_FLAGS above):
 * MF_QUOTA_FLAGS(MF_QUOTA_OPTION). */
#define MF_QUOTA_OPTION(option, field, min, max, unit, help)                   \
    {option, true, help},

#endif
