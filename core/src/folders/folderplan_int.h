/*
 * Internals shared by the folder plan files (folderplan.c builds the plan,
 * folderplan_rules.c parses rules and matches patterns). Tests may use
 * them too.
 */
#ifndef MAILFERRY_FOLDERPLAN_INT_H
#define MAILFERRY_FOLDERPLAN_INT_H

#include "mailferry/folderplan.h"

/* Pattern tokens: bytes 0-255 stand for themselves. */
#define MF__FOLDER_TOK_SEP 256  /* a level boundary ("/" in a pattern) */
#define MF__FOLDER_TOK_STAR 257 /* "*": anything */
#define MF__FOLDER_TOK_PCT 258  /* "%": anything within one level */

/* A compiled include/exclude pattern. */
struct mf__folder_pat {
    int *tok; /* owned */
    size_t n;
    const char *text; /* borrowed: the rule as the admin wrote it */
};

/* A new string: s with ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic capitals folded to small letters. Folding keeps every
 * character's UTF-8 length, so folded strings match byte for byte where
 * the originals match case-insensitively. Invalid bytes are kept. */
char *mf__folder_fold(const char *s);

/* Compiles pattern (folded first when fold) into *pat_r. The pattern was
 * checked when the rule was parsed, so this cannot fail. */
void mf__folder_pat_compile(const char *pattern, bool fold,
                            struct mf__folder_pat *pat_r);
void mf__folder_pat_clear(struct mf__folder_pat *pat);

/* True when pat matches the path comps[0..n) or one of its ancestors
 * (comps[0..k) for k >= 1). comps must already be folded when the rules
 * are case-insensitive. */
bool mf__folder_pat_match(const struct mf__folder_pat *pat, char *const *comps,
                          size_t n);

/* Splits a "/"-separated rule path into unescaped levels. Returns false
 * (and sets *why_r to a static reason) for an empty path, an empty level,
 * a trailing "\" or, unless wild, an unescaped "*" or "%". On success the
 * caller owns *comps_r (free with mf__folder_strv_free). */
bool mf__folder_path_split(const char *path, bool wild, char ***comps_r,
                           size_t *n_r, const char **why_r);
void mf__folder_strv_free(char **v, size_t n);

/* name (levels joined; the server's last level starts at byte level_at,
 * the part mailferry may cut at byte from: equal on a hierarchical
 * target; 0 and the last joined level on a flat one) with suffix
 * (" (2)", or "") at the end, the part from `from` cut at character
 * boundaries (never below one character) so that the server's level
 * holds at most rules->max_level_chars characters with the suffix and
 * the whole name at most rules->max_name_bytes bytes on the wire (UTF-8
 * when utf8, else modified UTF-7). rules may be NULL. New string; *cut_r
 * says whether anything was cut (folderplan_names.c). */
char *mf__folder_fit_name(const struct mf_folder_name_rules *rules,
                          const char *name, size_t level_at, size_t from,
                          const char *suffix, bool utf8, bool *cut_r);
/* Characters (UTF-8) in s. */
size_t mf__folder_chars(const char *s);

/* ------------------------------------------------------------------ */
/* Plan building, shared by folderplan.c and folderplan_target.c       */
/* ------------------------------------------------------------------ */

/* A string-keyed (bytes + length) open-addressing hash map to indexes. */
struct mf__folder_smap_slot {
    char *k; /* owned; NULL for an empty slot */
    size_t klen;
    size_t v;
};

struct mf__folder_smap {
    struct mf__folder_smap_slot *s; /* owned */
    size_t cap, n;
};

bool mf__folder_smap_get(const struct mf__folder_smap *m, const char *k,
                         size_t n, size_t *v_r);
/* Inserts k -> v unless k is present. Returns true when inserted. */
bool mf__folder_smap_add(struct mf__folder_smap *m, const char *k, size_t n,
                         size_t v);
void mf__folder_smap_free(struct mf__folder_smap *m);

/* Special uses that are mapped (Sent, Drafts, Trash, Junk, Archive). */
#define MF__FOLDER_N_SU 5

/* One entry under construction. */
struct mf__folder_work {
    struct mf_folder_entry e; /* the public part; moved into the plan */
    size_t idx;               /* input index; SIZE_MAX for implied */
    bool inbox_root;          /* components[0] is the real INBOX */
    char **fcomps;            /* owned: folded components, or NULL */
    size_t n_fcomps;
    unsigned attrs;  /* with guessed special uses */
    bool guessed;    /* a special use in attrs was guessed */
    int su_slot;     /* the special use slot it maps to, or -1 */
    unsigned su_bit; /* the MF_FOLDER_ATTR_ bit of su_slot */
    char *tgt;       /* owned: decoded target name, or NULL */
    char *key;       /* owned: target key of tgt */
    char *sortkey;   /* owned */
};

struct mf__folder_rename {
    char **from; /* owned; folded when case-insensitive */
    size_t nfrom;
    char **to; /* owned */
    size_t nto;
    size_t rule; /* its index in rules->rename */
};

/* Everything one mf_folder_plan_build() call works with. */
struct mf__folder_ctx {
    const struct mf_folder_plan_input *in; /* borrowed */
    const struct mf_folder_rules *rules;   /* borrowed */
    struct mf_error *err;                  /* borrowed, may be NULL */
    char delim;                            /* target delimiter, 0 for NIL */
    char joiner;                           /* delim, or "/" on a flat target */
    bool ci;                               /* rules are case-insensitive */
    const char *repl;                      /* borrowed: separator replacement */
    char *tprefix;                         /* owned: decoded target prefix */
    char *tbase;   /* owned: tprefix + root levels + joiner */
    char *inbox;   /* owned: the target name of INBOX */
    char *sprefix; /* owned: decoded source prefix, INBOX canonical */

    struct mf__folder_pat *incl, *excl, *preset; /* owned */
    size_t n_incl, n_excl, n_preset;
    struct mf__folder_rename *ren; /* owned */
    size_t n_ren;

    char **tnames;                   /* owned: decoded target names */
    struct mf__folder_smap existing; /* target key -> target index */
    long su_tgt[MF__FOLDER_N_SU];    /* target index per use, or -1 */
    bool su_tgt_guessed[MF__FOLDER_N_SU];

    struct mf__folder_work *w; /* owned */
    size_t n, cap;
    struct mf__folder_smap memo; /* source prefix key -> memo_v index */
    char **memo_v;               /* owned target names */
    size_t n_memo;
    struct mf__folder_smap claims; /* target key -> work index (COPY) */
};

struct mf_folder_plan {
    struct mf_folder_entry *e; /* owned */
    size_t n;
    /* Per rename rule of the rules (rules->rename[i]): an admin's rule
     * that names no source folder nor a parent of one
     * (folderplan_renames.c). Owned. */
    bool *ren_unmatched;
    size_t n_ren_rules;
};

/* The components rules compare: folded ones when case-insensitive. */
static inline char **
mf__folder_fcomps(const struct mf__folder_work *w) {
    return w->fcomps ? w->fcomps : w->e.src_components;
}

/* If the first level of s (up to delim) is any case of INBOX, writes it
 * as "INBOX" (RFC 3501 5.1: INBOX is case-insensitive). */
void mf__folder_canon_inbox(char *s, char delim);
/* The target key of target name t, as a new string: how the target
 * compares names (INBOX canonical; folded if case-insensitive). */
char *mf__folder_tkey(const struct mf__folder_ctx *c, const char *t);
/* True when a rename rule names the source path fcomps[0..d) exactly. */
bool mf__folder_has_rename(const struct mf__folder_ctx *c, char *const *fcomps,
                           size_t d);
/* Marks w excluded for reason r; takes detail (may be NULL). */
void mf__folder_exclude(struct mf__folder_work *w, enum mf_folder_reason r,
                        char *detail);
/* Fills plan->ren_unmatched from the source folders of c (before
 * mf__folder_place() moves them into the plan). */
void mf__folder_renames_match(const struct mf__folder_ctx *c,
                              struct mf_folder_plan *plan);
/* Computes every target name, claims, containers and the final order,
 * and moves the entries into plan. */
void mf__folder_place(struct mf__folder_ctx *c, struct mf_folder_plan *plan);

#endif
