/*
 * The folder plan builder, source side (see mailferry/folderplan.h for
 * what the plan means; folderplan_target.c computes the target names).
 * Pure: no I/O, no globals, so worker threads may build plans
 * concurrently.
 *
 * Data structures (folderplan_int.h):
 *   - struct mf__folder_ctx: one build: the input, the compiled rules, the
 *     decoded target folders, and the entries under construction;
 *   - struct mf__folder_work: one entry under construction (the public
 *     entry plus the folded components, the effective attributes and the
 *     target name);
 *   - struct mf__folder_smap: a small hash map from byte strings to
 *     indexes, used for the target's existing folders (by target key),
 *     claimed target names (by key), the target name computed for every
 *     source path prefix (the "memo", so that children follow whatever
 *     their parent became), and the containers made so far.
 *
 * A target key is a target name as the target compares it: the first
 * level canonicalised to "INBOX" when it is any case of INBOX, and the
 * whole name folded when the target is case-insensitive.
 *
 * Order of work: decode and split every source name; apply the rules;
 * choose which source folder each special use maps; then (target side),
 * level by level, parents before children, compute each folder's target
 * name and claim it, suffixing collisions; add the containers copied
 * folders need; encode, sort and mark what must be created. Everything
 * the plan reports is owned by the plan.
 */
#include "folderplan_int.h"

#include "mailferry/mutf7.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* The special uses that are mapped. \All, \Flagged and \Important are
 * not: on targets they are views (Gmail, Dovecot virtual folders) that
 * refuse APPEND or would hold every message a second time. */
static const unsigned su_bits[] = {
    MF_FOLDER_ATTR_SENT, MF_FOLDER_ATTR_DRAFTS,  MF_FOLDER_ATTR_TRASH,
    MF_FOLDER_ATTR_JUNK, MF_FOLDER_ATTR_ARCHIVE,
};
_Static_assert(MF_ARRAY_LEN(su_bits) == MF__FOLDER_N_SU, "special uses");
#define N_SU MF_ARRAY_LEN(su_bits)

/* Well-known top-level names, for servers without SPECIAL-USE: those of
 * Exchange in English, German, French and Spanish ("Sent Items",
 * "Gesendete Elemente", "Elements envoyes" accented, "Elementos
 * enviados": the special folders of MS-OXOSFLD 2.2.1,
 * learn.microsoft.com/en-us/openspecs/exchange_server_protocols/
 * ms-oxosfld, as Outlook names them per language), Apple Mail,
 * Thunderbird and Gmail. Compared case-insensitively ("Junk E-Mail"). */
static const char *const su_names[N_SU][12] = {
    {"Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet",
     "Gesendete Elemente", "Gesendete Objekte",
     "\xc3\x89l\xc3\xa9ments envoy\xc3\xa9s", "Elementos enviados", NULL},
    {"Drafts", "Entw\xc3\xbcrfe", "Brouillons", "Borradores", NULL},
    {"Trash", "Deleted Items", "Deleted Messages", "Papierkorb",
     "Gel\xc3\xb6schte Elemente", "\xc3\x89l\xc3\xa9ments supprim\xc3\xa9s",
     "Elementos eliminados", NULL},
    {"Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail",
     "Junk-E-Mail", "Courrier ind\xc3\xa9sirable", "Correo no deseado", NULL},
    {"Archive", "Archives", "Archiv", NULL},
};

static const char *const gmail_virtual[] = {
    "[Gmail]/All Mail",        "[Gmail]/Important",
    "[Gmail]/Starred",         "[Google Mail]/All Mail",
    "[Google Mail]/Important", "[Google Mail]/Starred",
};

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static char *
latin1_to_utf8(const uint8_t *s, size_t n) {
    struct mf_buf b = {0};

    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            mf_buf_append(&b, &s[i], 1);
        } else {
            uint8_t u[2] = {(uint8_t)(0xc0 | (s[i] >> 6)),
                            (uint8_t)(0x80 | (s[i] & 0x3f))};
            mf_buf_append(&b, u, 2);
        }
    }
    mf_buf_append(&b, "", 0);
    return (char *)b.data;
}

/* Decodes a raw name that holds no NUL byte into new UTF-8. When it does
 * not decode, it is read literally (printable ASCII), as UTF-8 or as
 * Latin-1, and *why_r says what was wrong and how it was read. */
static char *
decode_name(const uint8_t *raw, size_t len, bool utf8, char **why_r) {
    char *tmp;
    struct mf_buf b = {0};
    struct mf_error e;
    bool ascii = true;

    *why_r = NULL;
    if (utf8) {
        if (mf_utf8_valid(raw, len))
            return mf_xstrndup((const char *)raw, len);
        *why_r = mf_xstrdup("invalid UTF-8; read as Latin-1");
        return latin1_to_utf8(raw, len);
    }
    tmp = mf_xstrndup((const char *)raw, len);
    mf_error_clear(&e);
    if (mf_mutf7_decode(tmp, &b, &e) == MF_E_OK) {
        free(tmp);
        mf_buf_append(&b, "", 0);
        return (char *)b.data;
    }
    mf_buf_free(&b);
    for (size_t i = 0; i < len; i++)
        if (raw[i] < 0x20 || raw[i] > 0x7e)
            ascii = false;
    if (ascii || mf_utf8_valid(raw, len)) {
        *why_r = mf_xasprintf("%s; read %s", e.detail,
                              ascii ? "literally" : "as UTF-8");
        return tmp;
    }
    free(tmp);
    *why_r = mf_xasprintf("%s; read as Latin-1", e.detail);
    return latin1_to_utf8(raw, len);
}

/* Decodes a namespace prefix; a prefix that does not decode is used as
 * sent. */
static char *
decode_prefix(const char *p, bool utf8) {
    char *why, *s;

    if (!p)
        return mf_xstrdup("");
    s = decode_name((const uint8_t *)p, strlen(p), utf8, &why);
    free(why);
    return s;
}

static char *
join(char *const *v, size_t n, char sep) {
    struct mf_buf b = {0};

    for (size_t i = 0; i < n; i++) {
        if (i)
            mf_buf_append(&b, &sep, 1);
        mf_buf_append_str(&b, v[i]);
    }
    mf_buf_append(&b, "", 0);
    return (char *)b.data;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static void
compile_rules(struct mf__folder_ctx *c) {
    const struct mf_folder_rules *r = c->rules;

    c->incl = mf_xcalloc(r->n_include + 1, sizeof(*c->incl));
    for (size_t i = 0; i < r->n_include; i++)
        mf__folder_pat_compile(r->include[i], c->ci, &c->incl[c->n_incl++]);
    c->excl = mf_xcalloc(r->n_exclude + 1, sizeof(*c->excl));
    for (size_t i = 0; i < r->n_exclude; i++)
        mf__folder_pat_compile(r->exclude[i], c->ci, &c->excl[c->n_excl++]);
    c->preset = mf_xcalloc(MF_ARRAY_LEN(gmail_virtual), sizeof(*c->preset));
    /* gmail-labels keeps All Mail (the engine copies it last). */
    for (size_t i = 0; i < MF_ARRAY_LEN(gmail_virtual); i++)
        if ((r->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL) ||
            ((r->presets & MF_FOLDER_PRESET_GMAIL_LABELS) &&
             !strstr(gmail_virtual[i], "All Mail")))
            mf__folder_pat_compile(gmail_virtual[i], c->ci,
                                   &c->preset[c->n_preset++]);
    c->ren = mf_xcalloc(r->n_rename + 1, sizeof(*c->ren));
    for (size_t i = 0; i < r->n_rename; i++) {
        struct mf__folder_rename *x = &c->ren[c->n_ren];
        const char *why;
        char *from = c->ci ? mf__folder_fold(r->rename[i].from)
                           : mf_xstrdup(r->rename[i].from);
        bool ok =
            mf__folder_path_split(from, false, &x->from, &x->nfrom, &why) &&
            mf__folder_path_split(r->rename[i].to, false, &x->to, &x->nto,
                                  &why);
        free(from);
        /* Rules built with the parse helpers always split; a hand-made
         * bad rule is dropped rather than half-applied. */
        if (ok) {
            x->rule = i;
            c->n_ren++;
        } else {
            mf__folder_strv_free(x->from, x->nfrom);
            memset(x, 0, sizeof(*x));
        }
    }
}

static mf_err
setup(struct mf__folder_ctx *c) {
    const struct mf_folder_plan_input *in = c->in;
    char **root = NULL;
    size_t n_root = 0;
    struct mf_buf b = {0};
    const char *why;
    mf_err rc = MF_E_OK;

    /* Real servers use punctuation ('.', '/', '\\'). A letter would cut
     * INBOX itself apart, so such a target is refused rather than guessed
     * at. */
    if (in->tgt_delim && !ispunct((unsigned char)in->tgt_delim))
        return mf_error_set(c->err, MF_E_IMAP_UNEXPECTED,
                            "target hierarchy delimiter 0x%02x is not "
                            "punctuation",
                            (unsigned char)in->tgt_delim);
    c->delim = in->tgt_delim;
    c->joiner = in->tgt_delim ? in->tgt_delim : '/';
    c->ci = c->rules->case_insensitive;
    c->repl = mf_folder_rules_replacement(c->rules);
    if (c->delim && strchr(c->repl, c->delim))
        return mf_error_set(c->err, MF_E_CONFIG,
                            "separator replacement \"%s\" contains the "
                            "target's delimiter '%c'",
                            c->repl, c->delim);
    if (c->repl[0] == '\0')
        return mf_error_set(c->err, MF_E_CONFIG, "empty separator replacement");
    for (const char *p = c->repl; *p; p++)
        if (mf_folder_name_refuses(in->tgt_names, (unsigned char)*p, c->delim))
            return mf_error_set(c->err, MF_E_CONFIG,
                                "separator replacement \"%s\" contains '%c', "
                                "which the target refuses in folder names",
                                c->repl, *p);
    c->tprefix = decode_prefix(in->tgt_prefix, in->tgt_utf8);
    c->sprefix = decode_prefix(in->src_prefix, in->src_utf8);
    /* "inbox." is "INBOX.": names are canonicalised the same way. */
    if (strncasecmp(c->sprefix, "INBOX", 5) == 0 &&
        (c->sprefix[5] == '\0' || !isalnum((unsigned char)c->sprefix[5])))
        memcpy(c->sprefix, "INBOX", 5);
    mf_buf_append_str(&b, c->tprefix);
    if (c->rules->target_root && c->rules->target_root[0]) {
        if (!mf__folder_path_split(c->rules->target_root, false, &root, &n_root,
                                   &why)) {
            rc = mf_error_set(c->err, MF_E_CONFIG, "target root \"%s\": %s",
                              c->rules->target_root, why);
            goto out;
        }
        for (size_t i = 0; i < n_root; i++) {
            if (c->delim && strchr(root[i], c->delim)) {
                rc = mf_error_set(c->err, MF_E_CONFIG,
                                  "target root level \"%s\" contains the "
                                  "target's delimiter '%c'",
                                  root[i], c->delim);
                goto out;
            }
            mf_buf_append_str(&b, root[i]);
            mf_buf_append(&b, &c->joiner, 1);
        }
    }
    mf_buf_append(&b, "", 0);
    c->tbase = (char *)b.data;
    b.data = NULL;
    /* INBOX stays INBOX, unless everything goes under a root. */
    c->inbox = n_root ? mf_xasprintf("%sINBOX", c->tbase) : mf_xstrdup("INBOX");
    compile_rules(c);
out:
    mf__folder_strv_free(root, n_root);
    mf_buf_free(&b);
    return rc;
}

/* True when name (already canonical) is one of the well-known names of
 * special use slot, compared case-insensitively. */
static bool
is_known_name(size_t slot, const char *name) {
    char *f = mf__folder_fold(name);
    bool hit = false;

    for (size_t i = 0; !hit && su_names[slot][i]; i++) {
        char *g = mf__folder_fold(su_names[slot][i]);
        hit = strcmp(f, g) == 0;
        free(g);
    }
    free(f);
    return hit;
}

static void
setup_target(struct mf__folder_ctx *c) {
    const struct mf_folder_plan_input *in = c->in;
    size_t plen = strlen(c->tprefix);

    c->tnames = mf_xcalloc(in->n_tgt + 1, sizeof(*c->tnames));
    for (size_t i = 0; i < in->n_tgt; i++) {
        const struct mf_folder_tgt *t = &in->tgt[i];
        char *why = NULL, *k;
        if (memchr(t->name, '\0', t->len) || t->len > MF_FOLDER_SRC_NAME_MAX)
            continue;
        c->tnames[i] = decode_name(t->name, t->len, in->tgt_utf8, &why);
        free(why);
        k = mf__folder_tkey(c, c->tnames[i]);
        mf__folder_smap_add(&c->existing, k, strlen(k), i);
        free(k);
    }
    for (size_t s = 0; s < MF__FOLDER_N_SU; s++) {
        c->su_tgt[s] = -1;
        for (size_t i = 0; i < in->n_tgt && c->su_tgt[s] < 0; i++)
            if (c->tnames[i] && (in->tgt[i].attrs & su_bits[s]) &&
                !(in->tgt[i].attrs &
                  (MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT)))
                c->su_tgt[s] = (long)i;
    }
    if (!c->rules->special_use_by_name)
        return;
    for (size_t s = 0; s < MF__FOLDER_N_SU; s++) {
        bool any = false;
        for (size_t i = 0; i < in->n_tgt; i++)
            any |= (in->tgt[i].attrs & su_bits[s]) != 0;
        for (size_t i = 0; !any && i < in->n_tgt && c->su_tgt[s] < 0; i++) {
            const char *rel = c->tnames[i];
            if (!rel || strncmp(rel, c->tprefix, plen) != 0 ||
                (in->tgt[i].attrs & MF_FOLDER_ATTR_NOSELECT))
                continue;
            rel += plen;
            if ((!c->delim || !strchr(rel, c->delim)) &&
                is_known_name(s, rel)) {
                c->su_tgt[s] = (long)i;
                c->su_tgt_guessed[s] = true;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Source folders                                                      */
/* ------------------------------------------------------------------ */

void
mf__folder_exclude(struct mf__folder_work *w, enum mf_folder_reason r,
                   char *detail) {
    w->e.action = MF_FOLDER_EXCLUDED;
    w->e.reason = r;
    free(w->e.reason_detail);
    w->e.reason_detail = detail;
}

/* Decodes and splits source folder i into c->w[c->n]. */
static void
add_source(struct mf__folder_ctx *c, size_t i) {
    const struct mf_folder_src *s = &c->in->src[i];
    struct mf__folder_work *w = &c->w[c->n++];
    char *name = NULL, *why, *rel;
    size_t plen = strlen(c->sprefix), n = 0;
    char delim;

    memset(w, 0, sizeof(*w));
    w->idx = i;
    w->su_slot = -1;
    w->attrs = s->attrs;
    w->e.src_raw = mf_xmalloc(s->len + 1);
    if (s->len)
        memcpy(w->e.src_raw, s->name, s->len);
    w->e.src_raw[s->len] = 0;
    w->e.src_raw_len = s->len;
    /* A delimiter that is not punctuation (see setup()) would cut names
     * at letters: such a folder is read as one level. */
    delim = s->delim && ispunct((unsigned char)s->delim) ? s->delim : '\0';
    w->e.src_delim = s->delim;
    w->e.src_attrs = s->attrs;
    w->e.subscribed = s->subscribed;
    w->e.action = MF_FOLDER_COPY;

    if (s->len > MF_FOLDER_SRC_NAME_MAX) {
        mf__folder_exclude(w, MF_FOLDER_REASON_LIMIT,
                           mf_xasprintf("source name is %zu bytes (limit %d)",
                                        s->len, MF_FOLDER_SRC_NAME_MAX));
        return;
    }
    if (memchr(s->name, '\0', s->len)) {
        mf__folder_exclude(w, MF_FOLDER_REASON_BAD_NAME,
                           mf_xstrdup("source name contains a NUL byte"));
        return;
    }
    name = decode_name(s->name, s->len, c->in->src_utf8, &why);
    if (why) {
        w->e.flags |= MF_FOLDER_F_BAD_ENCODING;
        w->e.encoding_error = why;
    }
    mf__folder_canon_inbox(name, delim);
    if (s->attrs & MF_FOLDER_ATTR_USER_ROOT) {
        free(name);
        name = mf_xstrdup("INBOX");
    }
    if (strcmp(name, "INBOX") == 0) {
        w->inbox_root = true;
        w->e.flags |= MF_FOLDER_F_INBOX;
        rel = name;
    } else if (plen && strncmp(name, c->sprefix, plen) != 0) {
        bool root = strlen(name) + 1 == plen &&
                    strncmp(name, c->sprefix, plen - 1) == 0;
        mf__folder_exclude(w, MF_FOLDER_REASON_NAMESPACE,
                           mf_xstrdup(root ? "the personal namespace itself"
                                           : "outside the personal namespace"));
        goto out;
    } else {
        rel = name + plen;
        /* Without a prefix, "INBOX/x" is a child of INBOX; with one
         * ("INBOX." on Cyrus), the prefix already took INBOX away. */
        w->inbox_root = plen == 0 && strncmp(rel, "INBOX", 5) == 0 && delim &&
                        rel[5] == delim;
    }
    if (rel[0] == '\0') {
        mf__folder_exclude(w, MF_FOLDER_REASON_EMPTY_NAME,
                           mf_xstrdup("empty name"));
        goto out;
    }
    /* Split at the delimiter; a NIL delimiter means one level. */
    w->e.src_components = mf_xcalloc(strlen(rel) + 1, sizeof(char *));
    for (const char *p = rel;;) {
        size_t l = delim ? strcspn(p, (char[]){delim, '\0'}) : strlen(p);
        if (l == 0) {
            mf__folder_strv_free(w->e.src_components, n);
            w->e.src_components = NULL;
            mf__folder_exclude(w, MF_FOLDER_REASON_EMPTY_NAME,
                               mf_xstrdup("empty hierarchy level"));
            goto out;
        }
        w->e.src_components[n++] = mf_xstrndup(p, l);
        if (p[l] == '\0')
            break;
        p += l + 1;
    }
    w->e.n_components = n;
    if (n > MF_FOLDER_DEPTH_MAX) {
        mf__folder_exclude(w, MF_FOLDER_REASON_LIMIT,
                           mf_xasprintf("source name has %zu levels (limit %d)",
                                        n, MF_FOLDER_DEPTH_MAX));
        mf__folder_strv_free(w->e.src_components, n);
        w->e.src_components = NULL;
        w->e.n_components = 0;
        goto out;
    }
    w->e.src_path = join(w->e.src_components, n, '/');
    if (c->ci) {
        w->fcomps = mf_xcalloc(n, sizeof(char *));
        w->n_fcomps = n;
        for (size_t k = 0; k < n; k++)
            w->fcomps[k] = mf__folder_fold(w->e.src_components[k]);
    }
out:
    free(name);
}

static void
apply_rules(struct mf__folder_ctx *c, struct mf__folder_work *w) {
    char **f = mf__folder_fcomps(w);
    size_t n = w->e.n_components;
    bool in = c->n_incl == 0;

    if (w->attrs & MF_FOLDER_ATTR_NONEXISTENT) {
        mf__folder_exclude(w, MF_FOLDER_REASON_NONEXISTENT, NULL);
        return;
    }
    if (w->attrs & MF_FOLDER_ATTR_NOSELECT) {
        mf__folder_exclude(w, MF_FOLDER_REASON_NOSELECT, NULL);
        return;
    }
    if (c->rules->presets &
        (MF_FOLDER_PRESET_GMAIL_VIRTUAL | MF_FOLDER_PRESET_GMAIL_LABELS)) {
        unsigned views = MF_FOLDER_ATTR_FLAGGED | MF_FOLDER_ATTR_IMPORTANT;
        bool hit;
        if (c->rules->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL)
            views |= MF_FOLDER_ATTR_ALL;
        hit = (w->attrs & views) != 0;
        for (size_t i = 0; !hit && i < c->n_preset; i++)
            hit = mf__folder_pat_match(&c->preset[i], f, n);
        if (hit) {
            mf__folder_exclude(
                w, MF_FOLDER_REASON_PRESET,
                mf_xstrdup(c->rules->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL
                               ? "gmail-virtual"
                               : "gmail-labels"));
            return;
        }
    }
    for (size_t i = 0; i < c->n_excl; i++) {
        if (mf__folder_pat_match(&c->excl[i], f, n)) {
            mf__folder_exclude(w, MF_FOLDER_REASON_RULE,
                               mf_xstrdup(c->excl[i].text));
            return;
        }
    }
    for (size_t i = 0; !in && i < c->n_incl; i++)
        in = mf__folder_pat_match(&c->incl[i], f, n);
    if (!in)
        mf__folder_exclude(w, MF_FOLDER_REASON_NOT_INCLUDED, NULL);
}

/* Guesses special uses of top-level source folders by name, for each use
 * that no source folder carries. */
static void
guess_source_uses(struct mf__folder_ctx *c) {
    for (size_t s = 0; s < MF__FOLDER_N_SU; s++) {
        bool any = false;
        for (size_t i = 0; i < c->n; i++)
            any |= (c->w[i].attrs & su_bits[s]) != 0;
        for (size_t i = 0; !any && i < c->n; i++) {
            struct mf__folder_work *w = &c->w[i];
            if (w->e.n_components == 1 && !w->inbox_root &&
                is_known_name(s, w->e.src_components[0])) {
                w->attrs |= su_bits[s];
                w->guessed = true;
            }
        }
    }
}

/* Compares two source folders with the same special use: shallowest,
 * then one with a well-known name ("Sent" over "Old Sent"), then by path,
 * then input order. */
static bool
su_better(const struct mf__folder_work *a, const struct mf__folder_work *b,
          size_t slot) {
    bool ka, kb;
    int d;

    if (a->e.n_components != b->e.n_components)
        return a->e.n_components < b->e.n_components;
    ka = is_known_name(slot, a->e.src_components[a->e.n_components - 1]);
    kb = is_known_name(slot, b->e.src_components[b->e.n_components - 1]);
    if (ka != kb)
        return ka;
    d = strcmp(a->e.src_path, b->e.src_path);
    return d ? d < 0 : a->idx < b->idx;
}

/* Chooses, for each special use the target has, the one source folder
 * that maps to it. Other folders with the same use keep their names. */
static void
choose_special_uses(struct mf__folder_ctx *c) {
    bool used_tgt[MF__FOLDER_N_SU] = {false};

    if (!c->rules->special_use ||
        (c->rules->target_root && c->rules->target_root[0]))
        return;
    for (size_t s = 0; s < MF__FOLDER_N_SU; s++) {
        struct mf__folder_work *best = NULL;
        bool dup = false;
        if (c->su_tgt[s] < 0)
            continue;
        /* One target folder serves one use (a folder marked \Trash and
         * \Junk takes the first). */
        for (size_t t = 0; t < s; t++)
            dup |= used_tgt[t] && c->su_tgt[t] == c->su_tgt[s];
        if (dup)
            continue;
        for (size_t i = 0; i < c->n; i++) {
            struct mf__folder_work *w = &c->w[i];
            if (w->e.action == MF_FOLDER_COPY && !w->inbox_root &&
                w->su_slot < 0 && (w->attrs & su_bits[s]) &&
                !mf__folder_has_rename(c, mf__folder_fcomps(w),
                                       w->e.n_components) &&
                (!best || su_better(w, best, s)))
                best = w;
        }
        if (best) {
            best->su_slot = (int)s;
            best->su_bit = su_bits[s];
            used_tgt[s] = true;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

static void
entry_clear(struct mf_folder_entry *e) {
    free(e->src_raw);
    free(e->src_path);
    mf__folder_strv_free(e->src_components, e->n_components);
    free(e->reason_detail);
    free(e->tgt_name);
    free(e->tgt_wire);
    free(e->repl_from);
    free(e->repl_to);
    free(e->wanted_name);
    free(e->encoding_error);
}

static void
ctx_free(struct mf__folder_ctx *c) {
    for (size_t i = 0; i < c->n; i++) {
        struct mf__folder_work *w = &c->w[i];
        entry_clear(&w->e);
        if (w->fcomps)
            mf__folder_strv_free(w->fcomps, w->n_fcomps);
        free(w->tgt);
        free(w->key);
        free(w->sortkey);
    }
    free(c->w);
    for (size_t i = 0; i < c->n_incl; i++)
        mf__folder_pat_clear(&c->incl[i]);
    for (size_t i = 0; i < c->n_excl; i++)
        mf__folder_pat_clear(&c->excl[i]);
    for (size_t i = 0; i < c->n_preset; i++)
        mf__folder_pat_clear(&c->preset[i]);
    free(c->incl);
    free(c->excl);
    free(c->preset);
    for (size_t i = 0; i < c->n_ren; i++) {
        mf__folder_strv_free(c->ren[i].from, c->ren[i].nfrom);
        mf__folder_strv_free(c->ren[i].to, c->ren[i].nto);
    }
    free(c->ren);
    if (c->tnames)
        mf__folder_strv_free(c->tnames, c->in->n_tgt);
    for (size_t i = 0; i < c->n_memo; i++)
        free(c->memo_v[i]);
    free(c->memo_v);
    mf__folder_smap_free(&c->existing);
    mf__folder_smap_free(&c->memo);
    mf__folder_smap_free(&c->claims);
    free(c->tprefix);
    free(c->tbase);
    free(c->inbox);
    free(c->sprefix);
}

mf_err
mf_folder_plan_build(const struct mf_folder_plan_input *in,
                     struct mf_folder_plan **plan_r, struct mf_error *err) {
    struct mf__folder_ctx c;
    struct mf_folder_rules *defaults = NULL;
    struct mf_folder_plan *plan;
    mf_err rc;

    if (!in || !plan_r || (in->n_src && !in->src) || (in->n_tgt && !in->tgt))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "folder plan: missing input");
    if (in->n_src > MF_FOLDER_COUNT_MAX || in->n_tgt > MF_FOLDER_COUNT_MAX)
        return mf_error_set(err, MF_E_LIMIT,
                            "folder plan: %zu source and %zu target folders "
                            "(limit %d each)",
                            in->n_src, in->n_tgt, MF_FOLDER_COUNT_MAX);
    memset(&c, 0, sizeof(c));
    c.in = in;
    c.err = err;
    if (!in->rules)
        defaults = mf_folder_rules_new();
    c.rules = in->rules ? in->rules : defaults;
    if ((rc = setup(&c)) != MF_E_OK)
        goto out;
    setup_target(&c);

    c.cap = in->n_src + 16;
    c.w = mf_xcalloc(c.cap, sizeof(*c.w));
    for (size_t i = 0; i < in->n_src; i++)
        add_source(&c, i);
    if (c.rules->special_use_by_name)
        guess_source_uses(&c);
    for (size_t i = 0; i < c.n; i++)
        if (c.w[i].e.action == MF_FOLDER_COPY)
            apply_rules(&c, &c.w[i]);
    choose_special_uses(&c);
    plan = mf_xcalloc(1, sizeof(*plan));
    mf__folder_renames_match(&c, plan);
    mf__folder_place(&c, plan);
    *plan_r = plan;
    rc = MF_E_OK;
out:
    ctx_free(&c);
    mf_folder_rules_free(&defaults);
    return rc;
}

void
mf_folder_plan_free(struct mf_folder_plan **plan) {
    struct mf_folder_plan *p = *plan;

    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        entry_clear(&p->e[i]);
    free(p->e);
    free(p->ren_unmatched);
    free(p);
    *plan = NULL;
}

size_t
mf_folder_plan_count(const struct mf_folder_plan *plan) {
    return plan->n;
}

const struct mf_folder_entry *
mf_folder_plan_entry(const struct mf_folder_plan *plan, size_t i) {
    MF_ASSERT(i < plan->n);
    return &plan->e[i];
}

const struct mf_folder_entry *
mf_folder_plan_find_src(const struct mf_folder_plan *plan, const uint8_t *raw,
                        size_t len) {
    for (size_t i = 0; i < plan->n; i++) {
        const struct mf_folder_entry *e = &plan->e[i];
        if (e->src_raw && e->src_raw_len == len &&
            (len == 0 || memcmp(e->src_raw, raw, len) == 0))
            return e;
    }
    return NULL;
}
