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

/* True when s[0..n) is valid UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
bool mf__folder_utf8_valid(const uint8_t *s, size_t n);

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

#endif
