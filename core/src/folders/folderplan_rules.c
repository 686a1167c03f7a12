/*
 * Folder rules: parsing the admin's --include, --exclude, --rename,
 * --separator-replacement, --target-root and --preset values into a
 * struct mf_folder_rules, and matching include/exclude patterns against
 * source paths (see mailferry/folderplan.h).
 *
 * Patterns are compiled into token arrays in which a level boundary is a
 * token of its own, distinct from a "/" byte inside a name: a folder named
 * "Reports 2024/25" on a '.' server is one level, and only the pattern
 * "Reports 2024\/25" names it. Matching is a dynamic program over pattern
 * positions (O(pattern x path), O(pattern) memory), so no pattern can make
 * it backtrack exponentially; one pass also answers "does an ancestor
 * match", which is what gives patterns their subtree meaning.
 *
 * The rules own all their strings.
 */
#include "folderplan_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* UTF-8 and case folding                                              */
/* ------------------------------------------------------------------ */

/* Simple case folding of the two-byte letters most mailbox names use.
 * Every mapping stays within two-byte UTF-8, so lengths never change. A
 * name in another script compares exactly; if such names collide on a
 * case-insensitive target, its CREATE fails and the engine reports it. */
static uint32_t
fold_cp(uint32_t c) {
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xc0)
        return c;
    if (c <= 0xde && c != 0xd7)
        return c + 0x20;
    if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
        (c >= 0x14a && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
        return (c & 1) ? c + 1 : c;
    if (c == 0x178)
        return 0xff;
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
        return c + 0x20;
    if (c == 0x3c2) /* final sigma */
        return 0x3c3;
    if (c >= 0x400 && c <= 0x40f)
        return c + 0x50;
    if (c >= 0x410 && c <= 0x42f)
        return c + 0x20;
    return c;
}

char *
mf__folder_fold(const char *s) {
    size_t n = strlen(s), i = 0;
    char *out = mf_xstrdup(s);
    const uint8_t *u = (const uint8_t *)s;

    while (i < n) {
        uint32_t cp;
        size_t l = mf_utf8_next(u + i, n - i, &cp);
        if (l == 0) {
            i++;
            continue;
        }
        if (l <= 2) {
            uint32_t f = fold_cp(cp);
            if (l == 1) {
                out[i] = (char)f;
            } else {
                out[i] = (char)(0xc0 | (f >> 6));
                out[i + 1] = (char)(0x80 | (f & 0x3f));
            }
        }
        i += l;
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* Paths and patterns                                                  */
/* ------------------------------------------------------------------ */

void
mf__folder_strv_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

bool
mf__folder_path_split(const char *path, bool wild, char ***comps_r, size_t *n_r,
                      const char **why_r) {
    size_t len = strlen(path), n = 0;
    char **v = mf_xcalloc(len + 1, sizeof(*v));
    struct mf_buf cur = {0};
    bool ok = false;

    if (len == 0) {
        *why_r = "empty path";
        goto out;
    }
    for (size_t i = 0;; i++) {
        if (i == len || path[i] == '/') {
            if (cur.len == 0) {
                *why_r = "empty level (\"//\", or \"/\" at an end)";
                goto out;
            }
            v[n++] = mf_xstrndup((const char *)cur.data, cur.len);
            mf_buf_reset(&cur);
            if (i == len)
                break;
            continue;
        }
        if (path[i] == '\\') {
            if (i + 1 == len) {
                *why_r = "\"\\\" at the end";
                goto out;
            }
            i++;
        } else if (!wild && (path[i] == '*' || path[i] == '%')) {
            *why_r = "wildcards are not allowed here";
            goto out;
        }
        mf_buf_append(&cur, path + i, 1);
    }
    ok = true;
out:
    mf_buf_free(&cur);
    if (!ok) {
        mf__folder_strv_free(v, n);
        return false;
    }
    *comps_r = v;
    *n_r = n;
    return true;
}

void
mf__folder_pat_compile(const char *pattern, bool fold,
                       struct mf__folder_pat *pat_r) {
    char *p = fold ? mf__folder_fold(pattern) : mf_xstrdup(pattern);
    size_t len = strlen(p), n = 0;
    int *tok = mf_xcalloc(len + 1, sizeof(*tok));

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\' && i + 1 < len)
            tok[n++] = (unsigned char)p[++i];
        else if (c == '/')
            tok[n++] = MF__FOLDER_TOK_SEP;
        else if (c == '*')
            tok[n++] = MF__FOLDER_TOK_STAR;
        else if (c == '%')
            tok[n++] = MF__FOLDER_TOK_PCT;
        else
            tok[n++] = c;
    }
    free(p);
    pat_r->tok = tok;
    pat_r->n = n;
    pat_r->text = pattern;
}

void
mf__folder_pat_clear(struct mf__folder_pat *pat) {
    free(pat->tok);
    pat->tok = NULL;
    pat->n = 0;
}

bool
mf__folder_pat_match(const struct mf__folder_pat *pat, char *const *comps,
                     size_t n) {
    size_t m = pat->n;
    bool *cur = mf_xcalloc(m + 1, sizeof(*cur));
    bool *nxt = mf_xcalloc(m + 1, sizeof(*nxt));
    bool hit = false;

    /* cur[j]: pattern tokens [0, j) match the subject consumed so far. */
    cur[0] = true;
    for (size_t j = 1; j <= m; j++)
        cur[j] = cur[j - 1] && (pat->tok[j - 1] == MF__FOLDER_TOK_STAR ||
                                pat->tok[j - 1] == MF__FOLDER_TOK_PCT);
    for (size_t k = 0; k < n && !hit; k++) {
        const unsigned char *c = (const unsigned char *)comps[k];
        size_t clen = strlen(comps[k]);
        /* A level boundary token before every level but the first, then
         * the level's bytes; after each level, a full match means this
         * ancestor (or the path itself) matches. */
        for (size_t i = (k == 0); i <= clen; i++) {
            int s = i == 0 ? MF__FOLDER_TOK_SEP : c[i - 1];
            nxt[0] = false;
            for (size_t j = 1; j <= m; j++) {
                int t = pat->tok[j - 1];
                if (t == MF__FOLDER_TOK_STAR)
                    nxt[j] = nxt[j - 1] || cur[j];
                else if (t == MF__FOLDER_TOK_PCT)
                    nxt[j] = nxt[j - 1] || (cur[j] && s != MF__FOLDER_TOK_SEP);
                else
                    nxt[j] = cur[j - 1] && t == s;
            }
            bool *tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
        hit = cur[m];
    }
    free(cur);
    free(nxt);
    return hit;
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */
/* ------------------------------------------------------------------ */

struct mf_folder_rules *
mf_folder_rules_new(void) {
    struct mf_folder_rules *r = mf_xcalloc(1, sizeof(*r));

    r->separator_replacement = mf_xstrdup("_");
    r->special_use = true;
    r->special_use_by_name = true;
    return r;
}

void
mf_folder_rules_free(struct mf_folder_rules **rules) {
    struct mf_folder_rules *r = *rules;

    if (!r)
        return;
    mf__folder_strv_free(r->include, r->n_include);
    mf__folder_strv_free(r->exclude, r->n_exclude);
    for (size_t i = 0; i < r->n_rename; i++) {
        free(r->rename[i].from);
        free(r->rename[i].to);
    }
    free(r->rename);
    free(r->separator_replacement);
    free(r->target_root);
    free(r);
    *rules = NULL;
}

static char **
strv_dup(char *const *v, size_t n) {
    char **d = mf_xcalloc(n ? n : 1, sizeof(*d));

    for (size_t i = 0; i < n; i++)
        d[i] = mf_xstrdup(v[i]);
    return d;
}

struct mf_folder_rules *
mf_folder_rules_dup(const struct mf_folder_rules *r) {
    struct mf_folder_rules *d = mf_xcalloc(1, sizeof(*d));

    *d = *r;
    d->include = strv_dup(r->include, r->n_include);
    d->exclude = strv_dup(r->exclude, r->n_exclude);
    d->rename = mf_xcalloc(r->n_rename ? r->n_rename : 1, sizeof(*d->rename));
    for (size_t i = 0; i < r->n_rename; i++) {
        d->rename[i].from = mf_xstrdup(r->rename[i].from);
        d->rename[i].to = mf_xstrdup(r->rename[i].to);
        d->rename[i].profile = r->rename[i].profile;
    }
    d->separator_replacement =
        mf_xstrdup(r->separator_replacement ? r->separator_replacement : "_");
    d->target_root = r->target_root ? mf_xstrdup(r->target_root) : NULL;
    return d;
}

/* Common checks of every rule string: length, UTF-8, no controls. */
static mf_err
check_text(const char *what, const char *s, struct mf_error *err) {
    size_t n;

    if (!s)
        return mf_error_set(err, MF_E_USAGE, "%s: missing value", what);
    n = strlen(s);
    if (n > MF_FOLDER_RULE_LEN_MAX)
        return mf_error_set(err, MF_E_USAGE, "%s: longer than %d bytes", what,
                            MF_FOLDER_RULE_LEN_MAX);
    if (!mf_utf8_valid((const uint8_t *)s, n))
        return mf_error_set(err, MF_E_USAGE, "%s \"%s\": invalid UTF-8", what,
                            s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return mf_error_set(err, MF_E_USAGE,
                                "%s: control character at byte %zu", what, i);
    return MF_E_OK;
}

static mf_err
add_pattern(const char *what, char ***v, size_t *n, const char *pattern,
            struct mf_error *err) {
    char **comps;
    size_t nc;
    const char *why;
    mf_err rc;

    if ((rc = check_text(what, pattern, err)) != MF_E_OK)
        return rc;
    if (*n >= MF_FOLDER_RULES_MAX)
        return mf_error_set(err, MF_E_USAGE, "%s: more than %d patterns", what,
                            MF_FOLDER_RULES_MAX);
    if (!mf__folder_path_split(pattern, true, &comps, &nc, &why))
        return mf_error_set(err, MF_E_USAGE, "%s \"%s\": %s", what, pattern,
                            why);
    mf__folder_strv_free(comps, nc);
    *v = mf_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = mf_xstrdup(pattern);
    return MF_E_OK;
}

mf_err
mf_folder_rules_parse_include(struct mf_folder_rules *rules,
                              const char *pattern, struct mf_error *err) {
    return add_pattern("--include", &rules->include, &rules->n_include, pattern,
                       err);
}

mf_err
mf_folder_rules_parse_exclude(struct mf_folder_rules *rules,
                              const char *pattern, struct mf_error *err) {
    return add_pattern("--exclude", &rules->exclude, &rules->n_exclude, pattern,
                       err);
}

mf_err
mf_folder_rules_add_list(struct mf_folder_rules *rules, const char *list,
                         mf_err (*parse)(struct mf_folder_rules *, const char *,
                                         struct mf_error *),
                         struct mf_error *err) {
    size_t n;
    char **v = mf_strv_split(list, &n);
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n && rc == MF_E_OK; i++)
        rc = parse(rules, v[i], err);
    mf_strv_free(v, n);
    return rc;
}

mf_err
mf_folder_rules_parse_rename(struct mf_folder_rules *rules, const char *spec,
                             struct mf_error *err) {
    const char *eq = NULL, *why;
    char *from = NULL, *to = NULL, **comps;
    size_t nc;
    mf_err rc;

    if ((rc = check_text("--rename", spec, err)) != MF_E_OK)
        return rc;
    if (rules->n_rename >= MF_FOLDER_RULES_MAX)
        return mf_error_set(err, MF_E_USAGE, "--rename: more than %d rules",
                            MF_FOLDER_RULES_MAX);
    for (const char *p = spec; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '=') {
            eq = p;
            break;
        }
    }
    if (!eq)
        return mf_error_set(err, MF_E_USAGE,
                            "--rename \"%s\": expected OLD=NEW", spec);
    from = mf_xstrndup(spec, (size_t)(eq - spec));
    to = mf_xstrdup(eq + 1);
    if (!mf__folder_path_split(from, false, &comps, &nc, &why)) {
        rc = mf_error_set(err, MF_E_USAGE, "--rename \"%s\": OLD: %s", spec,
                          why);
        goto out;
    }
    mf__folder_strv_free(comps, nc);
    if (!mf__folder_path_split(to, false, &comps, &nc, &why)) {
        rc = mf_error_set(err, MF_E_USAGE, "--rename \"%s\": NEW: %s", spec,
                          why);
        goto out;
    }
    mf__folder_strv_free(comps, nc);
    rules->rename = mf_xrealloc(rules->rename,
                                (rules->n_rename + 1) * sizeof(*rules->rename));
    rules->rename[rules->n_rename].from = from;
    rules->rename[rules->n_rename].to = to;
    rules->rename[rules->n_rename].profile = false;
    rules->n_rename++;
    from = to = NULL;
    rc = MF_E_OK;
out:
    free(from);
    free(to);
    return rc;
}

mf_err
mf_folder_rules_parse_separator_replacement(struct mf_folder_rules *rules,
                                            const char *s,
                                            struct mf_error *err) {
    mf_err rc;

    if ((rc = check_text("--separator-replacement", s, err)) != MF_E_OK)
        return rc;
    if (s[0] == '\0' || strlen(s) > MF_FOLDER_REPLACEMENT_MAX)
        return mf_error_set(err, MF_E_USAGE,
                            "--separator-replacement: 1 to %d bytes expected",
                            MF_FOLDER_REPLACEMENT_MAX);
    /* Wildcards in a name make LIST patterns on the target ambiguous. */
    if (strpbrk(s, "*%"))
        return mf_error_set(err, MF_E_USAGE,
                            "--separator-replacement \"%s\": no \"*\" or "
                            "\"%%\"",
                            s);
    free(rules->separator_replacement);
    rules->separator_replacement = mf_xstrdup(s);
    return MF_E_OK;
}

mf_err
mf_folder_rules_parse_target_root(struct mf_folder_rules *rules,
                                  const char *path, struct mf_error *err) {
    char **comps;
    size_t nc;
    const char *why;
    mf_err rc;

    if ((rc = check_text("--target-root", path, err)) != MF_E_OK)
        return rc;
    if (path[0] == '\0') {
        free(rules->target_root);
        rules->target_root = NULL;
        return MF_E_OK;
    }
    if (!mf__folder_path_split(path, false, &comps, &nc, &why))
        return mf_error_set(err, MF_E_USAGE, "--target-root \"%s\": %s", path,
                            why);
    mf__folder_strv_free(comps, nc);
    free(rules->target_root);
    rules->target_root = mf_xstrdup(path);
    return MF_E_OK;
}

mf_err
mf_folder_rules_parse_preset(struct mf_folder_rules *rules, const char *name,
                             struct mf_error *err) {
    if (name && strcmp(name, "gmail-virtual") == 0) {
        rules->presets |= MF_FOLDER_PRESET_GMAIL_VIRTUAL;
        return MF_E_OK;
    }
    if (name && strcmp(name, "gmail-labels") == 0) {
        rules->presets |= MF_FOLDER_PRESET_GMAIL_LABELS;
        return MF_E_OK;
    }
    return mf_error_set(err, MF_E_USAGE,
                        "--preset \"%s\": unknown (known: gmail-virtual, "
                        "gmail-labels)",
                        name ? name : "");
}

static void
json_strv(struct mf_json *j, const char *key, char *const *v, size_t n) {
    mf_json_key(j, key);
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        mf_json_string(j, v[i]);
    mf_json_array_end(j);
}

void
mf_folder_rules_to_json(const struct mf_folder_rules *r, struct mf_json *j) {
    mf_json_object_begin(j);
    json_strv(j, "include", r->include, r->n_include);
    json_strv(j, "exclude", r->exclude, r->n_exclude);
    mf_json_key(j, "rename");
    mf_json_array_begin(j);
    for (size_t i = 0; i < r->n_rename; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &r->rename[i], from, to);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    MF_JSON_FIELDS(j, r, separator_replacement, target_root);
    mf_json_key(j, "presets");
    mf_json_array_begin(j);
    if (r->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL)
        mf_json_string(j, "gmail-virtual");
    if (r->presets & MF_FOLDER_PRESET_GMAIL_LABELS)
        mf_json_string(j, "gmail-labels");
    mf_json_array_end(j);
    MF_JSON_FIELDS(j, r, case_insensitive, special_use, special_use_by_name);
    mf_json_object_end(j);
}
