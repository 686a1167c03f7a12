/*
 * The target side of the folder plan (see folderplan.c for the order of
 * work): target keys, the target name of every source folder (rename
 * rules, special use, delimiter replacement, the parent's name), claims
 * and collision suffixes, the containers that copied folders need, and
 * the final order of the plan.
 *
 * Children follow their parent: the target name computed for each source
 * path prefix is remembered in the memo (source prefix key -> target
 * name), so that whatever the parent became (renamed, mapped, suffixed),
 * its children are placed under it. Levels are processed parents first.
 *
 * Also the small string-keyed hash map the plan uses for its lookups.
 */
#include "folderplan_int.h"

#include "mailferry/mutf7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* A small string-keyed hash map                                       */
/* ------------------------------------------------------------------ */

static uint64_t
hash_bytes(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct mf__folder_smap_slot *
smap_find(const struct mf__folder_smap *m, const char *k, size_t n) {
    size_t i;

    if (m->cap == 0)
        return NULL;
    i = (size_t)hash_bytes(k, n) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        struct mf__folder_smap_slot *s = &m->s[i];
        if (!s->k || (s->klen == n && memcmp(s->k, k, n) == 0))
            return s;
    }
}

bool
mf__folder_smap_get(const struct mf__folder_smap *m, const char *k, size_t n,
                    size_t *v_r) {
    struct mf__folder_smap_slot *s = smap_find(m, k, n);

    if (!s || !s->k)
        return false;
    *v_r = s->v;
    return true;
}

/* Inserts k -> v unless k is present. Returns true when inserted. */
bool
mf__folder_smap_add(struct mf__folder_smap *m, const char *k, size_t n,
                    size_t v) {
    struct mf__folder_smap_slot *s;

    if ((m->n + 1) * 2 > m->cap) {
        struct mf__folder_smap old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        m->s = mf_xcalloc(m->cap, sizeof(*m->s));
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++) {
            if (old.s[i].k) {
                *smap_find(m, old.s[i].k, old.s[i].klen) = old.s[i];
                m->n++;
            }
        }
        free(old.s);
    }
    s = smap_find(m, k, n);
    if (s->k)
        return false;
    s->k = mf_xmalloc(n + 1);
    memcpy(s->k, k, n);
    s->k[n] = '\0';
    s->klen = n;
    s->v = v;
    m->n++;
    return true;
}

void
mf__folder_smap_free(struct mf__folder_smap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].k);
    free(m->s);
    m->s = NULL;
    m->cap = m->n = 0;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* If the first level of s (up to delim) is any case of INBOX, writes it
 * as "INBOX". RFC 3501 5.1: "INBOX" is case-insensitive. */
void
mf__folder_canon_inbox(char *s, char delim) {
    size_t l = delim ? strcspn(s, (char[]){delim, '\0'}) : strlen(s);

    if (l == 5 && strncasecmp(s, "INBOX", 5) == 0)
        memcpy(s, "INBOX", 5);
}

/* The target key of target name t (new string). */
char *
mf__folder_tkey(const struct mf__folder_ctx *c, const char *t) {
    char *k = c->in->tgt_case_insensitive ? mf__folder_fold(t) : mf_xstrdup(t);
    mf__folder_canon_inbox(k, c->delim);
    return k;
}

/* INBOX or one of its children (which, on a Cyrus-style target, is every
 * personal folder). */
static bool
key_under_inbox(const char *k, char delim) {
    return strncmp(k, "INBOX", 5) == 0 &&
           (k[5] == '\0' || (delim && k[5] == delim));
}

/* The component comp as the target takes it (new string): its
 * delimiter and what its profile refuses replaced, its length cut
 * (folderplan_names.c). */
static char *
xform(const struct mf__folder_ctx *c, const char *comp, unsigned *what_r) {
    return mf_folder_name_map_level(c->in->tgt_names, comp, c->delim, c->repl,
                                    0, what_r);
}

/* Encodes a decoded target name for the wire; NULL if impossible. */
static char *
encode_target(const struct mf__folder_ctx *c, const char *t) {
    struct mf_buf b = {0};

    if (c->in->tgt_utf8)
        return mf_xstrdup(t);
    if (mf_mutf7_encode(t, &b, NULL) != MF_E_OK) {
        mf_buf_free(&b);
        return NULL;
    }
    mf_buf_append(&b, "", 0);
    return (char *)b.data;
}

/* A reason when t's last level (its whole name on a flat target) is
 * longer than the target takes and t is not already there; else NULL.
 * Names the plan makes are cut to fit (fit()): this is what cannot be. */
static char *
level_too_long(const struct mf__folder_ctx *c, const char *t) {
    const struct mf_folder_name_rules *r = c->in->tgt_names;
    const char *last = c->delim ? strrchr(t, c->delim) : NULL;
    size_t n, v;
    char *k;
    bool exists;

    if (!r || !r->max_level_chars)
        return NULL;
    n = mf__folder_chars(last ? last + 1 : t);
    if (n <= r->max_level_chars)
        return NULL;
    k = mf__folder_tkey(c, t);
    exists = mf__folder_smap_get(&c->existing, k, strlen(k), &v);
    free(k);
    return exists ? NULL
                  : mf_xasprintf("target name has a level of %zu characters "
                                 "(the target takes %u)",
                                 n, r->max_level_chars);
}

/* Checks the target limits; returns NULL if t fits, else a new reason. */
static char *
target_limit(const struct mf__folder_ctx *c, const char *t) {
    size_t depth = 1;
    char *wire, *why;

    if (c->delim)
        for (const char *p = t; *p; p++)
            depth += *p == c->delim;
    if (depth > MF_FOLDER_DEPTH_MAX)
        return mf_xasprintf("target name has %zu levels (limit %d)", depth,
                            MF_FOLDER_DEPTH_MAX);
    wire = encode_target(c, t);
    if (!wire)
        return mf_xstrdup("target name cannot be encoded");
    if (!(why = level_too_long(c, t)) && c->in->tgt_names &&
        c->in->tgt_names->max_name_bytes &&
        strlen(wire) > c->in->tgt_names->max_name_bytes)
        why = mf_xasprintf("target name is %zu bytes (the target takes %u)",
                           strlen(wire), c->in->tgt_names->max_name_bytes);
    if (!why && strlen(wire) > MF_FOLDER_NAME_MAX)
        why = mf_xasprintf("target name is %zu bytes (limit %d)", strlen(wire),
                           MF_FOLDER_NAME_MAX);
    free(wire);
    return why;
}

/* ------------------------------------------------------------------ */
/* Target names                                                        */
/* ------------------------------------------------------------------ */

/* The memo key of source path prefix comps[0..d). Levels hold no NUL, so
 * NUL separates them unambiguously. */
static char *
src_key(bool inbox_root, char *const *comps, size_t d, size_t *len_r) {
    struct mf_buf b = {0};

    mf_buf_append(&b, inbox_root ? "I" : "P", 1);
    for (size_t i = 0; i < d; i++) {
        mf_buf_append(&b, "", 1);
        mf_buf_append_str(&b, comps[i]);
    }
    *len_r = b.len;
    return (char *)b.data;
}

static void
memo_put(struct mf__folder_ctx *c, bool inbox_root, char *const *comps,
         size_t d, const char *t) {
    size_t len;
    char *k = src_key(inbox_root, comps, d, &len);

    if (mf__folder_smap_add(&c->memo, k, len, c->n_memo)) {
        c->memo_v = mf_xrealloc(c->memo_v, (c->n_memo + 1) * sizeof(char *));
        c->memo_v[c->n_memo++] = mf_xstrdup(t);
    }
    free(k);
}

/* The target of an exact rename rule for fcomps[0..d), or NULL. */
static char *
rename_target(const struct mf__folder_ctx *c, char *const *fcomps, size_t d) {
    for (size_t r = 0; r < c->n_ren; r++) {
        const struct mf__folder_rename *x = &c->ren[r];
        struct mf_buf b = {0};
        bool same = x->nfrom == d;
        size_t first = 0;

        for (size_t i = 0; same && i < d; i++)
            same = strcmp(x->from[i], fcomps[i]) == 0;
        if (!same)
            continue;
        if (strcasecmp(x->to[0], "INBOX") == 0) {
            mf_buf_append_str(&b, c->inbox);
            first = 1;
        } else {
            mf_buf_append_str(&b, c->tbase);
        }
        for (size_t i = first; i < x->nto; i++) {
            char *t = xform(c, x->to[i], NULL);
            if (i)
                mf_buf_append(&b, &c->joiner, 1);
            mf_buf_append_str(&b, t);
            free(t);
        }
        mf_buf_append(&b, "", 0);
        return (char *)b.data;
    }
    return NULL;
}

bool
mf__folder_has_rename(const struct mf__folder_ctx *c, char *const *fcomps,
                      size_t d) {
    char *t = rename_target(c, fcomps, d);
    bool has = t != NULL;

    free(t);
    return has;
}

/* The target name of source path prefix comps[0..d): a rename rule
 * there, or the parent's target plus this level. Remembered. */
static const char *
prefix_target(struct mf__folder_ctx *c, bool inbox_root, char *const *comps,
              char *const *fcomps, size_t d) {
    size_t len, v;
    char *k = src_key(inbox_root, comps, d, &len), *t;
    bool found = mf__folder_smap_get(&c->memo, k, len, &v);

    free(k);
    if (found)
        return c->memo_v[v];
    t = rename_target(c, fcomps, d);
    if (!t && d == 1 && inbox_root) {
        t = mf_xstrdup(c->inbox);
    } else if (!t) {
        char *x = xform(c, comps[d - 1], NULL);
        t = d == 1 ? mf_xasprintf("%s%s", c->tbase, x)
                   : mf_xasprintf(
                         "%s%c%s",
                         prefix_target(c, inbox_root, comps, fcomps, d - 1),
                         c->joiner, x);
        free(x);
    }
    memo_put(c, inbox_root, comps, d, t);
    free(t);
    return prefix_target(c, inbox_root, comps, fcomps, d);
}

/* Computes w's tentative target name and the flags that explain it. */
static void
entry_target(struct mf__folder_ctx *c, struct mf__folder_work *w) {
    char **comps = w->e.src_components, **f = mf__folder_fcomps(w);
    size_t d = w->e.n_components;
    char *t = NULL;

    /* The admin's rename wins over the automatic special-use mapping
     * (choose_special_uses() skips renamed folders). */
    if ((t = rename_target(c, f, d)) != NULL) {
        w->e.flags |= MF_FOLDER_F_RENAMED;
    } else if (w->su_slot >= 0) {
        t = mf_xstrdup(c->tnames[c->su_tgt[w->su_slot]]);
        w->e.flags |= MF_FOLDER_F_SPECIAL_USE;
        w->e.special_use = w->su_bit;
        if (w->guessed || c->su_tgt_guessed[w->su_slot])
            w->e.flags |= MF_FOLDER_F_GUESSED_USE;
    } else if (d == 1 && w->inbox_root) {
        t = mf_xstrdup(c->inbox);
    } else {
        unsigned what;
        char *x = xform(c, comps[d - 1], &what);
        if (what) {
            if (what & MF_FOLDER_MAP_DELIM)
                w->e.flags |= MF_FOLDER_F_DELIM_REPLACED;
            if (what & (MF_FOLDER_MAP_CHAR | MF_FOLDER_MAP_LENGTH))
                w->e.flags |= MF_FOLDER_F_NAME_MAPPED;
            w->e.repl_from = mf_xstrdup(comps[d - 1]);
            w->e.repl_to = mf_xstrdup(x);
        }
        t = d == 1
                ? mf_xasprintf("%s%s", c->tbase, x)
                : mf_xasprintf("%s%c%s",
                               prefix_target(c, w->inbox_root, comps, f, d - 1),
                               c->joiner, x);
        free(x);
    }
    /* On a re-run the folder exists: use the target's own spelling, so
     * that children land under it on a case-insensitive target too. */
    {
        char *k = mf__folder_tkey(c, t);
        size_t v;
        if (mf__folder_smap_get(&c->existing, k, strlen(k), &v) &&
            c->tnames[v]) {
            free(t);
            t = mf_xstrdup(c->tnames[v]);
        }
        free(k);
    }
    w->tgt = t;
}

static int
priority(const struct mf__folder_work *w) {
    if (w->e.flags & MF_FOLDER_F_INBOX)
        return 0;
    if (w->e.flags & MF_FOLDER_F_SPECIAL_USE)
        return 1;
    if (w->e.flags & (MF_FOLDER_F_DELIM_REPLACED | MF_FOLDER_F_NAME_MAPPED))
        return 4;
    if (w->e.flags & MF_FOLDER_F_RENAMED)
        return 3;
    return 2;
}

static int
cmp_raw(const struct mf__folder_work *a, const struct mf__folder_work *b) {
    size_t n = a->e.src_raw_len < b->e.src_raw_len ? a->e.src_raw_len
                                                   : b->e.src_raw_len;
    int d = n ? memcmp(a->e.src_raw, b->e.src_raw, n) : 0;

    if (d)
        return d;
    if (a->e.src_raw_len != b->e.src_raw_len)
        return a->e.src_raw_len < b->e.src_raw_len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Claim order within one level: INBOX, special-use folders, names that
 * need no change, renamed ones, then names that lost a delimiter; then
 * by path. So a folder literally named "A_B" keeps its name when "A/B"
 * also becomes "A_B". */
static int
cmp_claim(const void *pa, const void *pb) {
    const struct mf__folder_work *a = *(struct mf__folder_work *const *)pa;
    const struct mf__folder_work *b = *(struct mf__folder_work *const *)pb;
    int d = priority(a) - priority(b);

    if (d)
        return d;
    if ((d = strcmp(a->e.src_path, b->e.src_path)) != 0)
        return d;
    return cmp_raw(a, b);
}

/* Where the last level of target name t starts. */
static size_t
last_level_at(const struct mf__folder_ctx *c, const char *t) {
    const char *p = strrchr(t, c->joiner);

    return p ? (size_t)(p + 1 - t) : 0;
}

/* Cuts w's last level to the target's length limits (its profile's);
 * INBOX and a folder the target already has are left as they are. */
static void
fit(struct mf__folder_ctx *c, struct mf__folder_work *w) {
    const struct mf_folder_name_rules *r = c->in->tgt_names;
    size_t at, v;
    char *k, *out;
    bool cut, exists;

    if (!r || (!r->max_level_chars && !r->max_name_bytes) ||
        (w->e.flags & MF_FOLDER_F_INBOX))
        return;
    k = mf__folder_tkey(c, w->tgt);
    exists = mf__folder_smap_get(&c->existing, k, strlen(k), &v);
    free(k);
    if (exists)
        return;
    at = last_level_at(c, w->tgt);
    out = mf__folder_fit_name(r, w->tgt, c->delim ? at : 0, at, "",
                              c->in->tgt_utf8, &cut);
    if (!cut) {
        free(out);
        return;
    }
    w->e.flags |= MF_FOLDER_F_NAME_MAPPED;
    if (!w->e.repl_from)
        w->e.repl_from = mf_xstrdup(w->tgt + at);
    free(w->e.repl_to);
    w->e.repl_to = mf_xstrdup(out + at);
    free(w->tgt);
    w->tgt = out;
}

/* wanted with " (n)" after its last level, within the target's
 * limits. */
static char *
suffixed(const struct mf__folder_ctx *c, const char *wanted, unsigned n) {
    size_t at = last_level_at(c, wanted);
    char sfx[16];
    bool cut;

    snprintf(sfx, sizeof(sfx), " (%u)", n);
    return mf__folder_fit_name(c->in->tgt_names, wanted, c->delim ? at : 0, at,
                               sfx, c->in->tgt_utf8, &cut);
}

/* Claims w's target name, suffixing " (2)", " (3)"... on a collision. */
static void
claim(struct mf__folder_ctx *c, struct mf__folder_work *w) {
    char *why, *k;

    fit(c, w);
    if (!(why = target_limit(c, w->tgt))) {
        k = mf__folder_tkey(c, w->tgt);
        for (unsigned n = 2;
             !mf__folder_smap_add(&c->claims, k, strlen(k), (size_t)(w - c->w));
             n++) {
            if (!w->e.wanted_name)
                w->e.wanted_name = mf_xstrdup(w->tgt);
            free(w->tgt);
            free(k);
            w->tgt = suffixed(c, w->e.wanted_name, n);
            w->e.flags |= MF_FOLDER_F_COLLISION;
            k = mf__folder_tkey(c, w->tgt);
        }
        free(k);
        if (w->e.flags & MF_FOLDER_F_COLLISION)
            why = target_limit(c, w->tgt);
    }
    if (why) {
        mf__folder_exclude(w, MF_FOLDER_REASON_LIMIT, why);
        free(w->tgt);
        w->tgt = NULL;
    }
}

static void
compute_targets(struct mf__folder_ctx *c, struct mf__folder_work **order,
                size_t *n_order_r) {
    size_t maxd = 0, n_order = 0;

    for (size_t i = 0; i < c->n; i++)
        if (c->w[i].e.n_components > maxd)
            maxd = c->w[i].e.n_components;
    for (size_t d = 1; d <= maxd; d++) {
        size_t first = n_order;
        for (size_t i = 0; i < c->n; i++) {
            struct mf__folder_work *w = &c->w[i];
            if (w->e.n_components == d) {
                entry_target(c, w);
                order[n_order++] = w;
            }
        }
        qsort(order + first, n_order - first, sizeof(*order), cmp_claim);
        for (size_t i = first; i < n_order; i++) {
            struct mf__folder_work *w = order[i];
            if (w->e.action == MF_FOLDER_COPY) {
                claim(c, w);
            } else {
                char *why = target_limit(c, w->tgt);
                if (why) {
                    free(w->tgt);
                    w->tgt = NULL;
                    free(why);
                }
            }
            /* Children follow whatever this folder became. */
            if (w->tgt)
                memo_put(c, w->inbox_root, w->e.src_components, d, w->tgt);
        }
    }
    *n_order_r = n_order;
}

/* ------------------------------------------------------------------ */
/* Containers                                                          */
/* ------------------------------------------------------------------ */

static struct mf__folder_work *
new_work(struct mf__folder_ctx *c) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->w = mf_xrealloc(c->w, c->cap * sizeof(*c->w));
    }
    memset(&c->w[c->n], 0, sizeof(c->w[c->n]));
    c->w[c->n].su_slot = -1;
    return &c->w[c->n++];
}

/* Every parent of a copied folder must exist on the target. RFC 3501
 * 6.3.3 says a server SHOULD create missing superiors on CREATE; not all
 * do, and the engine needs to know about them anyway. */
static void
add_containers(struct mf__folder_ctx *c, struct mf__folder_work **order,
               size_t n_order) {
    struct mf__folder_smap spare = {0}, made = {0};
    size_t plen = strlen(c->tprefix), n_copy = c->n;

    if (!c->delim)
        return; /* a flat target has no parents */
    /* Excluded folders that could serve as a parent, first one wins. */
    for (size_t i = 0; i < n_order; i++) {
        struct mf__folder_work *w = order[i];
        if (w->e.action != MF_FOLDER_COPY && w->tgt) {
            char *k = mf__folder_tkey(c, w->tgt);
            mf__folder_smap_add(&spare, k, strlen(k), (size_t)(w - c->w));
            free(k);
        }
    }
    for (size_t i = 0; i < n_copy; i++) {
        char *t;
        if (c->w[i].e.action != MF_FOLDER_COPY || !c->w[i].tgt)
            continue;
        t = mf_xstrdup(c->w[i].tgt);
        /* Cuts inside the prefix ("INBOX" of "INBOX.") are not folders
         * to create. */
        for (size_t p = strlen(t) < plen ? strlen(t) : plen; t[p]; p++) {
            char *k;
            size_t v;
            if (t[p] != c->delim || p == 0)
                continue;
            t[p] = '\0';
            k = mf__folder_tkey(c, t);
            if (strcmp(k, "INBOX") != 0 &&
                !mf__folder_smap_get(&c->claims, k, strlen(k), &v) &&
                mf__folder_smap_add(&made, k, strlen(k), 0)) {
                if (mf__folder_smap_get(&spare, k, strlen(k), &v)) {
                    c->w[v].e.action = MF_FOLDER_CONTAINER;
                } else {
                    struct mf__folder_work *w = new_work(c);
                    w->idx = SIZE_MAX;
                    w->e.action = MF_FOLDER_CONTAINER;
                    w->e.reason = MF_FOLDER_REASON_IMPLIED;
                    w->tgt = mf_xstrdup(t);
                }
            }
            free(k);
            t[p] = c->delim;
        }
        free(t);
    }
    mf__folder_smap_free(&spare);
    mf__folder_smap_free(&made);
}

/* ------------------------------------------------------------------ */
/* Final order                                                         */
/* ------------------------------------------------------------------ */

static int
cmp_final(const void *pa, const void *pb) {
    const struct mf__folder_work *a = pa, *b = pb;
    bool xa = a->e.action == MF_FOLDER_EXCLUDED;
    bool xb = b->e.action == MF_FOLDER_EXCLUDED;
    int d;

    if (xa != xb)
        return xa ? 1 : -1;
    if (!xa) {
        if ((d = strcmp(a->sortkey, b->sortkey)) != 0)
            return d;
        if (a->e.action != b->e.action)
            return a->e.action == MF_FOLDER_COPY ? -1 : 1;
    }
    if (!a->e.src_path != !b->e.src_path)
        return a->e.src_path ? -1 : 1;
    if (a->e.src_path && (d = strcmp(a->e.src_path, b->e.src_path)) != 0)
        return d;
    if (!a->e.src_raw != !b->e.src_raw)
        return a->e.src_raw ? -1 : 1;
    return a->e.src_raw ? cmp_raw(a, b) : 0;
}

/* Sort key: INBOX and its children first; the delimiter sorts before
 * every other byte, so that a folder's children follow it directly. */
static void
make_sortkey(const struct mf__folder_ctx *c, struct mf__folder_work *w) {
    size_t n = strlen(w->key);

    w->sortkey = mf_xmalloc(n + 2);
    w->sortkey[0] = key_under_inbox(w->key, c->delim) ? '\x01' : '\x02';
    for (size_t i = 0; i < n; i++)
        w->sortkey[i + 1] =
            c->delim && w->key[i] == c->delim ? '\x01' : w->key[i];
    w->sortkey[n + 1] = '\0';
}

static void
finish(struct mf__folder_ctx *c, struct mf_folder_plan *plan) {
    struct mf__folder_smap seen = {0};

    for (size_t i = 0; i < c->n; i++) {
        struct mf__folder_work *w = &c->w[i];
        if (w->e.action == MF_FOLDER_EXCLUDED || !w->tgt) {
            if (w->e.action != MF_FOLDER_EXCLUDED)
                mf__folder_exclude(w, MF_FOLDER_REASON_LIMIT,
                                   mf_xstrdup("no target name"));
            /* Nothing lands on the target: drop what the name would have
             * become, keep what was wrong with the source name. */
            w->e.flags &= MF_FOLDER_F_INBOX | MF_FOLDER_F_BAD_ENCODING;
            w->e.special_use = 0;
            free(w->e.repl_from);
            free(w->e.repl_to);
            free(w->e.wanted_name);
            w->e.repl_from = w->e.repl_to = w->e.wanted_name = NULL;
            free(w->tgt);
            w->tgt = NULL;
            w->sortkey = mf_xstrdup("");
            continue;
        }
        w->key = mf__folder_tkey(c, w->tgt);
        make_sortkey(c, w);
        w->e.tgt_wire = encode_target(c, w->tgt);
        MF_ASSERT(w->e.tgt_wire); /* target_limit() checked it */
    }
    qsort(c->w, c->n, sizeof(*c->w), cmp_final);
    plan->e = mf_xcalloc(c->n ? c->n : 1, sizeof(*plan->e));
    plan->n = c->n;
    for (size_t i = 0; i < c->n; i++) {
        struct mf__folder_work *w = &c->w[i];
        size_t v;
        if (w->tgt) {
            w->e.tgt_name = w->tgt;
            w->tgt = NULL;
            w->e.create_needed =
                strcmp(w->key, "INBOX") != 0 &&
                !mf__folder_smap_get(&c->existing, w->key, strlen(w->key),
                                     &v) &&
                mf__folder_smap_add(&seen, w->key, strlen(w->key), i);
        }
        plan->e[i] = w->e;
        memset(&w->e, 0, sizeof(w->e));
    }
    mf__folder_smap_free(&seen);
}

void
mf__folder_place(struct mf__folder_ctx *c, struct mf_folder_plan *plan) {
    struct mf__folder_work **order = mf_xcalloc(c->n + 1, sizeof(*order));
    size_t n_order = 0;

    compute_targets(c, order, &n_order);
    add_containers(c, order, n_order);
    free(order);
    finish(c, plan);
}
