/*
 * The folder plan: which source folders are copied, and to which target
 * folder each one goes (docs/design.md section 8, "Fidelity"). Pure: no I/O.
 * The engine feeds it the two servers' LIST results, their namespace prefixes
 * and the admin's rules, and gets back a list of entries in an order in
 * which the target folders can be CREATEd (parents before children).
 *
 * The steps, for each source folder:
 *   1. decode the raw name (modified UTF-7, or UTF-8 when the server
 *      enabled UTF8=ACCEPT); a name that does not decode is still copied,
 *      under its bytes read as UTF-8 or else Latin-1, and reported;
 *   2. recognise INBOX (case-insensitive), strip the personal namespace
 *      prefix ("INBOX." on Cyrus/Courier, "" on Dovecot/Exchange) and split
 *      the rest at the folder's delimiter into components. The admin sees
 *      this as a "source path" written with "/" ("Archive/2019");
 *   3. apply the rules to the source path: presets, exclude patterns,
 *      include patterns. A pattern that matches a folder also matches
 *      everything below it; exclusion wins over inclusion;
 *   4. compute the target name: the target prefix (or "INBOX" + delimiter
 *      for INBOX and its children), the optional target root, then the
 *      components joined by the target delimiter. A component that contains
 *      the target delimiter gets it replaced (default "_"), and that is
 *      reported. Overrides, most specific first: a collision suffix, a
 *      rename rule (prefix-aware: children follow their parent), the
 *      special-use mapping (the source's \Sent folder goes to the target's
 *      \Sent folder); a folder without an override is its parent's target
 *      name plus its own component;
 *   5. detect collisions: two source folders that would land in the same
 *      target folder (compared case-insensitively when the target is, and
 *      always for INBOX) are never merged; the later one gets " (2)",
 *      " (3)"... on its last component, deterministically, and is reported;
 *   6. make sure every parent of a copied folder exists: an excluded or
 *      \Noselect source folder that is a needed parent becomes a CONTAINER
 *      (created on the target, no messages copied), and a parent that the
 *      source did not list at all is added as an implied CONTAINER.
 *
 * Ownership: the plan owns copies of everything it reports; it borrows
 * nothing from the input after mf_folder_plan_build() returns.
 */
#ifndef MAILFERRY_FOLDERPLAN_H
#define MAILFERRY_FOLDERPLAN_H

#include "mailferry/err.h"
#include "mailferry/json.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits. A target name longer than MF_FOLDER_NAME_MAX bytes on the wire,
 * or a folder deeper than MF_FOLDER_DEPTH_MAX levels (on either side), is
 * excluded with reason MF_FOLDER_REASON_LIMIT. */
#define MF_FOLDER_NAME_MAX 1000
#define MF_FOLDER_DEPTH_MAX 64
/* A source name longer than this (raw bytes) is not even decoded. */
#define MF_FOLDER_SRC_NAME_MAX 8000
/* More folders than this on either side: mf_folder_plan_build() fails. */
#define MF_FOLDER_COUNT_MAX 200000
/* Rules: pattern or path length, number of rules of each kind. */
#define MF_FOLDER_RULE_LEN_MAX 1000
#define MF_FOLDER_RULES_MAX 1000
/* Separator replacement: 1..this many bytes of UTF-8. */
#define MF_FOLDER_REPLACEMENT_MAX 16

/* ------------------------------------------------------------------ */
/* Mailbox attributes (LIST responses)                                 */
/* ------------------------------------------------------------------ */

/* RFC 3501 7.2.2, RFC 3348 (children), RFC 5258 (LIST-EXTENDED),
 * RFC 6154 (special-use) and the Gmail/RFC 8457 \Important. */
#define MF_FOLDER_ATTR_NOSELECT (1u << 0)
#define MF_FOLDER_ATTR_NONEXISTENT (1u << 1)
#define MF_FOLDER_ATTR_NOINFERIORS (1u << 2)
#define MF_FOLDER_ATTR_HASCHILDREN (1u << 3)
#define MF_FOLDER_ATTR_HASNOCHILDREN (1u << 4)
#define MF_FOLDER_ATTR_MARKED (1u << 5)
#define MF_FOLDER_ATTR_UNMARKED (1u << 6)
#define MF_FOLDER_ATTR_SUBSCRIBED (1u << 7)
#define MF_FOLDER_ATTR_ALL (1u << 8)
#define MF_FOLDER_ATTR_ARCHIVE (1u << 9)
#define MF_FOLDER_ATTR_DRAFTS (1u << 10)
#define MF_FOLDER_ATTR_FLAGGED (1u << 11)
#define MF_FOLDER_ATTR_JUNK (1u << 12)
#define MF_FOLDER_ATTR_SENT (1u << 13)
#define MF_FOLDER_ATTR_TRASH (1u << 14)
#define MF_FOLDER_ATTR_IMPORTANT (1u << 15)
#define MF_FOLDER_ATTR_SPECIAL_USE_MASK (0xffu << 8)
/* Not a LIST attribute: the folder is the CSV's UserRoot itself, listed
 * selectable (Cyrus's "user.ann", a UW or Courier tree): the user's
 * INBOX. */
#define MF_FOLDER_ATTR_USER_ROOT (1u << 16)

/* Returns the MF_FOLDER_ATTR_ bit for one LIST attribute as the server
 * sent it ("\Noselect", "\HasChildren", "\Sent"...), compared
 * case-insensitively, or 0 for an attribute this module does not use. A
 * "\Subscribed" from LIST-EXTENDED gives MF_FOLDER_ATTR_SUBSCRIBED. */
unsigned mf_folder_attr_parse(const char *name, size_t len);

/* The RFC 6154 name ("\Sent") of one special-use bit, or NULL when attr
 * is not exactly one special-use bit. */
const char *mf_folder_special_use_name(unsigned attr);

/* ------------------------------------------------------------------ */
/* Rules (from the batch options)                                      */
/* ------------------------------------------------------------------ */

/* Folders that servers present as views of other folders; copying them
 * would copy every message again. gmail-virtual excludes folders marked
 * \All, \Flagged or \Important, and "[Gmail]/All Mail", "[Gmail]/Important"
 * and "[Gmail]/Starred" (also under "[Google Mail]/") by name, since the
 * names are localised and the attributes are the reliable signal. */
#define MF_FOLDER_PRESET_GMAIL_VIRTUAL (1u << 0)
/* A Gmail source migrated by its labels (issue 13, the gmail profile):
 * as gmail-virtual, but "[Gmail]/All Mail" (\All) is copied, last, so
 * that the mail only there (archived) arrives too; the engine copies a
 * message once, from the first label folder that has it. */
#define MF_FOLDER_PRESET_GMAIL_LABELS (1u << 1)

struct mf_folder_rename {
    char *from; /* owned: source path, "/"-separated, as the admin wrote it */
    char *to;   /* owned: target path relative to the target prefix */
    /* Added by a source profile (mf_profile_folder_rules(): Gmail's All
     * Mail), not by the admin: never warned about when it matches no
     * folder, since most mailboxes lack one of its names. */
    bool profile;
};

/* The folder rules of one batch. Plain data, so that it can travel in a
 * job. Fill it with mf_folder_rules_new() and the parse helpers; the
 * booleans may be set directly. Patterns and paths are UTF-8 source paths
 * written with "/" between levels; "*" matches anything, "%" anything but
 * "/", and "\" makes the next character literal ("Reports 2024\/25" is one
 * level whose name contains "/"). */
struct mf_folder_rules {
    char **include; /* owned: patterns; none means "everything" */
    size_t n_include;
    char **exclude; /* owned: patterns */
    size_t n_exclude;
    struct mf_folder_rename *rename; /* owned */
    size_t n_rename;
    char *separator_replacement; /* owned: default "_" */
    char *target_root;           /* owned: "/"-separated path or NULL */
    unsigned presets;            /* MF_FOLDER_PRESET_ bits */
    /* Patterns and rename sources compare case-insensitively (ASCII and
     * the Latin, Greek and Cyrillic letters). Default false. */
    bool case_insensitive;
    /* Map special-use folders to the target's (default true). Ignored for
     * folders placed under target_root, which stays a separate tree. */
    bool special_use;
    /* When a server marks none of its folders with a special use, guess
     * from well-known top-level names ("Sent", "Sent Items", "Deleted
     * Items", "Junk E-mail"...). Default true: old Cyrus, Courier and
     * Exchange versions have no SPECIAL-USE. */
    bool special_use_by_name;
};

/* A new rule set with the defaults above. Never returns NULL. */
struct mf_folder_rules *mf_folder_rules_new(void);
/* Frees *rules and everything it owns, sets *rules to NULL; NULL is ok. */
void mf_folder_rules_free(struct mf_folder_rules **rules);
/* A deep copy of rules. */
struct mf_folder_rules *mf_folder_rules_dup(const struct mf_folder_rules *r);

/* Each helper takes one command-line value, checks it (valid UTF-8, no
 * control characters, length and count limits, escapes complete) and adds
 * it to rules. On error it returns MF_E_USAGE, fills err (if not NULL) and
 * leaves rules as it was. */
/* --include PATTERN */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_include(
    struct mf_folder_rules *rules, const char *pattern, struct mf_error *err);
/* --exclude PATTERN */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_exclude(
    struct mf_folder_rules *rules, const char *pattern, struct mf_error *err);
/* --rename OLD=NEW: split at the first "=" not escaped by "\". Neither
 * side may contain wildcards or an empty level. */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_rename(
    struct mf_folder_rules *rules, const char *spec, struct mf_error *err);
/* --rename's help (an option table entry's, mailferry/args.h), one
 * text for every command that takes it: the path syntax of docs/batches.md
 * ("Folder rules"). */
#define MF_FOLDER_RENAME_HELP                                                  \
    "OLD=NEW folder renames (comma list): paths with '/' between levels; a "   \
    "'/' inside a source folder's name is written \\/ "                        \
    "('Reports 2024\\/25=Reports/2024-25'), an '=' in OLD as \\=; a rule "     \
    "that matches no folder of any mailbox is warned about"
/* --separator-replacement S: one or more characters (at most
 * MF_FOLDER_REPLACEMENT_MAX bytes), no "*", "%" or controls. Whether it
 * contains the target's delimiter is checked when the plan is built. */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_separator_replacement(
    struct mf_folder_rules *rules, const char *s, struct mf_error *err);
/* --target-root PATH: "/"-separated, no wildcards; "" removes the root. */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_target_root(
    struct mf_folder_rules *rules, const char *path, struct mf_error *err);
/* --preset NAME: "gmail-virtual". */
MF_WARN_UNUSED mf_err mf_folder_rules_parse_preset(
    struct mf_folder_rules *rules, const char *name, struct mf_error *err);
/* One of the helpers above, parse, applied to each item of the comma
 * list list (NULL: none), in order; the first error is returned. */
MF_WARN_UNUSED mf_err mf_folder_rules_add_list(
    struct mf_folder_rules *rules, const char *list,
    mf_err (*parse)(struct mf_folder_rules *, const char *, struct mf_error *),
    struct mf_error *err);

/* Writes rules as one JSON object value into j (for batch records and
 * --json output). */
void mf_folder_rules_to_json(const struct mf_folder_rules *rules,
                             struct mf_json *j);

/* ------------------------------------------------------------------ */
/* Names a target accepts (issue 13 section 2)                         */
/* ------------------------------------------------------------------ */

/* What one kind of target refuses in folder names: data in its provider
 * profile (mailferry/profile.h, docs/profiles.md cites each source).
 * 0 and NULL mean "nothing known". Lengths count the target name: levels
 * in Unicode characters, the whole name in bytes on the wire (modified
 * UTF-7 unless UTF8=ACCEPT). */
struct mf_folder_name_rules {
    const char *forbidden;    /* ASCII characters refused inside a level */
    bool controls;            /* C0 controls and DEL refused too */
    unsigned max_level_chars; /* characters in one level */
    unsigned max_name_bytes;  /* the whole name, prefix included */
    bool case_insensitive;    /* names differing in case are one folder */
};

/* What mf_folder_name_map_level() changed. */
#define MF_FOLDER_MAP_DELIM (1u << 0)  /* the target delimiter */
#define MF_FOLDER_MAP_CHAR (1u << 1)   /* a character the target refuses */
#define MF_FOLDER_MAP_LENGTH (1u << 2) /* cut to max_level_chars */

/* One level of a target name made acceptable to a target: the
 * delimiter delim (0: none), every character rules->forbidden names and,
 * with rules->controls, every control character, are each replaced by
 * repl (NULL or "": "_"), the separator replacement: one rule for all of
 * them. Then a level longer than rules->max_level_chars - reserve
 * characters is cut at a character boundary (reserve leaves room for a
 * collision suffix). rules may be NULL (only the delimiter). Pure and
 * deterministic: the same level always maps to the same name, so every
 * pass and every worker agree; two levels that map to one name are told
 * apart by the plan (a collision suffix), never merged. Returns a new
 * string; *what_r (may be NULL) gets the MF_FOLDER_MAP_ bits. */
char *mf_folder_name_map_level(const struct mf_folder_name_rules *rules,
                               const char *level, char delim, const char *repl,
                               unsigned reserve, unsigned *what_r);
/* True when rules refuse character ch inside a level (delim aside). */
bool mf_folder_name_refuses(const struct mf_folder_name_rules *rules,
                            unsigned char ch, char delim);
/* The union of what the strictest servers refuse: the conservative
 * name after a refused CREATE (mf_folder_conservative_name()). */
const struct mf_folder_name_rules *mf_folder_name_rules_strict(void);

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

/* One mailbox of the source's LIST (and LSUB) result. */
struct mf_folder_src {
    const uint8_t *name; /* borrowed: raw bytes as the server sent them */
    size_t len;
    char delim;      /* hierarchy delimiter; '\0' for NIL (a flat server);
                        one that is not punctuation is taken as NIL */
    unsigned attrs;  /* MF_FOLDER_ATTR_ bits */
    bool subscribed; /* from LSUB or LIST-EXTENDED \Subscribed */
};

/* One mailbox of the target's LIST result. */
struct mf_folder_tgt {
    const uint8_t *name; /* borrowed: raw bytes as the server sent them */
    size_t len;
    unsigned attrs; /* MF_FOLDER_ATTR_ bits */
};

struct mf_folder_plan_input {
    const struct mf_folder_src *src; /* borrowed: n_src entries */
    size_t n_src;
    /* Personal namespace prefix as NAMESPACE sent it ("INBOX.", ""); NULL
     * is "". Names outside it (other users, shared folders) are excluded
     * with reason MF_FOLDER_REASON_NAMESPACE. */
    const char *src_prefix;
    bool src_utf8; /* names are UTF-8 (UTF8=ACCEPT enabled) */

    const struct mf_folder_tgt *tgt; /* borrowed: n_tgt entries */
    size_t n_tgt;
    /* '\0' for NIL: levels are then joined by "/". Must be punctuation
     * (else MF_E_IMAP_UNEXPECTED). */
    char tgt_delim;
    const char *tgt_prefix; /* as for src_prefix */
    bool tgt_utf8;          /* encode target names as UTF-8, not mUTF-7 */
    /* Names differing only in case are the same folder (Exchange, Gmail).
     * INBOX is always case-insensitive. */
    bool tgt_case_insensitive;
    /* What the target refuses in names (its profile's rules, see
     * below); NULL: only its delimiter. Borrowed. */
    const struct mf_folder_name_rules *tgt_names;

    const struct mf_folder_rules *rules; /* borrowed; NULL: defaults */
};

/* ------------------------------------------------------------------ */
/* The plan                                                            */
/* ------------------------------------------------------------------ */

enum mf_folder_action {
    MF_FOLDER_COPY,      /* create if needed, copy the messages */
    MF_FOLDER_CONTAINER, /* create if needed (a parent), copy nothing */
    MF_FOLDER_EXCLUDED,  /* nothing on the target */
};

/* Why a folder is not copied (EXCLUDED or CONTAINER). */
enum mf_folder_reason {
    MF_FOLDER_REASON_NONE,
    MF_FOLDER_REASON_RULE,         /* an exclude pattern matched */
    MF_FOLDER_REASON_NOT_INCLUDED, /* include patterns given, none matched */
    MF_FOLDER_REASON_PRESET,       /* a virtual folder of a preset */
    MF_FOLDER_REASON_NOSELECT,     /* \Noselect: holds no messages */
    MF_FOLDER_REASON_NONEXISTENT,  /* \NonExistent (subscribed only) */
    MF_FOLDER_REASON_EMPTY_NAME,   /* empty name or empty level */
    MF_FOLDER_REASON_NAMESPACE,    /* outside the personal namespace */
    MF_FOLDER_REASON_LIMIT,        /* name too long or too deep */
    MF_FOLDER_REASON_BAD_NAME,     /* a NUL byte: cannot be named */
    MF_FOLDER_REASON_IMPLIED,      /* a parent the source did not list */
};

/* Entry flags. */
#define MF_FOLDER_F_INBOX (1u << 0)          /* the source INBOX */
#define MF_FOLDER_F_SPECIAL_USE (1u << 1)    /* renamed by special-use */
#define MF_FOLDER_F_RENAMED (1u << 2)        /* renamed by a rename rule */
#define MF_FOLDER_F_DELIM_REPLACED (1u << 3) /* see repl_from/repl_to */
#define MF_FOLDER_F_COLLISION (1u << 4)      /* suffixed; see wanted_name */
#define MF_FOLDER_F_BAD_ENCODING (1u << 5)   /* see encoding_error */
#define MF_FOLDER_F_GUESSED_USE (1u << 6)    /* special use guessed by name */
#define MF_FOLDER_F_NAME_REFUSED                                               \
    (1u << 7) /* the target refused the name;                                  \
                 see wanted_name */
/* Characters the target refuses replaced, or a level (or the whole name)
 * shortened to the target's limit: see repl_from/repl_to. */
#define MF_FOLDER_F_NAME_MAPPED (1u << 8)
/* Every flag of a name the target made differ from the source's (the
 * "renamed" counts of plans, statistics and reports). */
#define MF_FOLDER_F_TARGET_RENAMED                                             \
    (MF_FOLDER_F_DELIM_REPLACED | MF_FOLDER_F_COLLISION |                      \
     MF_FOLDER_F_NAME_MAPPED | MF_FOLDER_F_NAME_REFUSED)

/* One entry. Every pointer is owned by the plan. */
struct mf_folder_entry {
    /* The source folder; src_raw is NULL for an implied container. */
    uint8_t *src_raw; /* raw name, as listed (use it to SELECT) */
    size_t src_raw_len;
    char src_delim;
    unsigned src_attrs;
    bool subscribed;
    /* Decoded source path relative to the namespace prefix, levels joined
     * by "/" (INBOX children start with "INBOX/"); NULL when the name could
     * not be split (EMPTY_NAME, NAMESPACE, BAD_NAME, some LIMIT). */
    char *src_path;
    char **src_components; /* n_components decoded levels */
    size_t n_components;

    enum mf_folder_action action;
    enum mf_folder_reason reason; /* NONE for COPY */
    char *reason_detail;          /* the pattern, preset, limit; or NULL */

    /* Target name (full: prefix and root included), decoded UTF-8 with the
     * target delimiter, and as sent on the wire (modified UTF-7 unless
     * tgt_utf8). NULL for EXCLUDED. */
    char *tgt_name;
    char *tgt_wire;
    bool create_needed; /* the target lacks it, and no earlier entry
                           creates it */

    unsigned flags;       /* MF_FOLDER_F_ bits */
    unsigned special_use; /* the MF_FOLDER_ATTR_ bit mapped, or 0 */
    char *repl_from;      /* own level before/after delimiter replacement */
    char *repl_to;
    char *wanted_name;    /* COLLISION: the target name it would have had */
    char *encoding_error; /* BAD_ENCODING: what was wrong, how it was read */
};

/* Counts over a plan. */
struct mf_folder_plan_stats {
    size_t copy, container, excluded;
    size_t create;         /* entries with create_needed */
    size_t special_use;    /* entries with MF_FOLDER_F_SPECIAL_USE */
    size_t renamed;        /* MF_FOLDER_F_RENAMED */
    size_t delim_replaced; /* MF_FOLDER_F_DELIM_REPLACED */
    size_t collisions;     /* MF_FOLDER_F_COLLISION */
    size_t bad_encoding;   /* MF_FOLDER_F_BAD_ENCODING */
    size_t name_mapped;    /* MF_FOLDER_F_NAME_MAPPED */
};

struct mf_folder_plan;

/* Builds the plan for in. On success *plan_r is a new plan (free it with
 * mf_folder_plan_free()) and MF_E_OK is returned. Folder-level problems
 * never fail the call: they become entries with a reason. The call fails
 * (*plan_r untouched, err filled) with MF_E_INVALID_ARGUMENT for a NULL
 * argument, MF_E_LIMIT for more than MF_FOLDER_COUNT_MAX folders, and
 * MF_E_CONFIG when the rules do not fit the target (the separator
 * replacement or a target root level contains the target delimiter), and
 * MF_E_IMAP_UNEXPECTED when the target delimiter is not punctuation.
 * Deterministic: the same input gives the same plan, whatever the order
 * of the folders in it. */
MF_WARN_UNUSED mf_err
mf_folder_plan_build(const struct mf_folder_plan_input *in,
                     struct mf_folder_plan **plan_r, struct mf_error *err);

/* Frees *plan, sets *plan to NULL; NULL is ok. */
void mf_folder_plan_free(struct mf_folder_plan **plan);

/* name with every character the strictest targets refuse in a folder
 * name (mf_folder_name_rules_strict(): controls and / \ ! ; | * % " #
 * ~ ^ ? < > ` { }, except delim) replaced by repl (NULL: "_"); NULL when
 * it has none. New string. */
char *mf_folder_conservative_name(const char *name, char delim,
                                  const char *repl);
/* The target refused to create entry i by its name: moves it, and every
 * entry below it, to the conservative name of its own level
 * (MF_FOLDER_F_NAME_REFUSED, the old name in wanted_name). False when
 * the level has nothing to replace (or cannot be encoded): the refusal
 * stands. delim and utf8 are the target's (as given to the plan). */
bool mf_folder_plan_fallback(struct mf_folder_plan *plan, size_t i, char delim,
                             bool utf8, const char *repl);
/* The wire name mf_folder_plan_fallback() would move entry i to, or NULL
 * when it would not move it. New string. */
char *mf_folder_plan_fallback_wire(const struct mf_folder_plan *plan, size_t i,
                                   char delim, bool utf8, const char *repl);
/* An earlier pass's fallbacks, found on the target: every entry to be
 * created whose planned wire name the target's LIST (tgt, n_tgt: raw
 * names) lacks but whose mf_folder_plan_fallback_wire() it holds moves
 * there as mf_folder_plan_fallback() moves it (the entries below it
 * too), and entries to be created that the target then holds no longer
 * need creating (create_needed false). The one rule the copy engine and
 * `plan` follow, so the plan shows the name a run will really use.
 * Returns the number of entries moved (not counting those below them). */
size_t mf_folder_plan_adopt_fallbacks(struct mf_folder_plan *plan,
                                      const struct mf_folder_tgt *tgt,
                                      size_t n_tgt, char delim, bool utf8,
                                      const char *repl);
/* The replacement a separator replacement and a conservative name use:
 * rules' separator_replacement, "_" without rules or one. Borrowed. */
const char *mf_folder_rules_replacement(const struct mf_folder_rules *rules);

/* True when the admin's rename rule i of the rules the plan was built
 * with (rules->rename[i]) names no source folder of this mailbox nor a
 * parent of one, compared as the plan compares (folded when the rules
 * are case-insensitive); also for a second rule with the same source
 * path (the first one wins, the second does nothing). False for a rule
 * that matched, a profile's rule and i out of range. A rule unmatched in
 * every mailbox is warned about (plan, batch create --dry-run, the
 * report of a run): issue 13 section 2. */
bool mf_folder_plan_rename_unmatched(const struct mf_folder_plan *plan,
                                     size_t i);
/* The one warning about rename rule r that matched no folder of any
 * mailbox, for every program and the report; out gets at most n bytes,
 * NUL-terminated. */
void mf_folder_rename_unmatched_why(const struct mf_folder_rename *r, char *out,
                                    size_t n);

/* Number of entries. Entries are ordered: COPY and CONTAINER entries by
 * target name, INBOX first and every parent before its children, then
 * EXCLUDED entries by source path. */
size_t mf_folder_plan_count(const struct mf_folder_plan *plan);
/* Entry i (< count), borrowed: valid until the plan is freed. */
const struct mf_folder_entry *
mf_folder_plan_entry(const struct mf_folder_plan *plan, size_t i);
/* The entry for a raw source name (byte-exact), or NULL. */
const struct mf_folder_entry *
mf_folder_plan_find_src(const struct mf_folder_plan *plan, const uint8_t *raw,
                        size_t len);
/* Counts over the plan. */
void mf_folder_plan_stats(const struct mf_folder_plan *plan,
                          struct mf_folder_plan_stats *stats_r);

/* Short stable names for reports: "copy", "container", "excluded";
 * "rule", "not-included", "preset", "noselect", ... ("" for NONE). */
const char *mf_folder_action_name(enum mf_folder_action a);
const char *mf_folder_reason_name(enum mf_folder_reason r);

/* One line on why entry e's target name differs from its source path
 * (the MF_FOLDER_F_TARGET_RENAMED flags): 'Reports|2024 -> "INBOX.
 * Reports_2024": the target refuses "Reports|2024" (characters or
 * length): "Reports_2024"'. For reports and plan warnings; out gets at
 * most n bytes, NUL-terminated. */
void mf_folder_entry_rename_why(const struct mf_folder_entry *e, char *out,
                                size_t n);

/* Writes the plan as one JSON object value into j:
 * {"folders":[{...}, ...], "summary":{...}}. */
void mf_folder_plan_to_json(const struct mf_folder_plan *plan,
                            struct mf_json *j);

#endif
