/*
 * The folder plan builder (see mailferry/folderplan.h for what the plan
 * means). Pure: no I/O, no globals, so worker threads may build plans
 * concurrently.
 *
 * Data structures:
 *   - struct work: one entry under construction (the public entry plus the
 *     decoded components, the effective attributes and the target name);
 *   - struct smap: a small open-addressing hash map from byte strings to
 *     indexes, used for four things: the target's existing folders (by
 *     target key), claimed target names (by key), the target name computed
 *     for every source path prefix (the "memo", so that children follow
 *     whatever their parent became), and the containers made so far.
 *
 * A target key is a target name as the target compares it: the first
 * level canonicalised to "INBOX" when it is any case of INBOX, and the
 * whole name folded when the target is case-insensitive.
 *
 * Order of work: decode and split every source name; apply the rules;
 * choose which source folder each special use maps; then, level by level
 * (parents before children), compute each folder's target name and claim
 * it, suffixing collisions; then add the containers copied folders need;
 * then encode, sort and mark what must be created. Everything the plan
 * reports is owned by the plan.
 */
#include "folderplan_int.h"

#include "mailferry/mutf7.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* A small string-keyed hash map                                       */
/* ------------------------------------------------------------------ */

struct smap_slot {
    char *k; /* owned; NULL for an empty slot */
    size_t klen;
    size_t v;
};

struct smap {
    struct smap_slot *s; /* owned */
    size_t cap, n;
};

static uint64_t
hash_bytes(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct smap_slot *
smap_find(const struct smap *m, const char *k, size_t n) {
    size_t i;

    if (m->cap == 0)
        return NULL;
    i = (size_t)hash_bytes(k, n) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        struct smap_slot *s = &m->s[i];
        if (!s->k || (s->klen == n && memcmp(s->k, k, n) == 0))
            return s;
    }
}

static bool
smap_get(const struct smap *m, const char *k, size_t n, size_t *v_r) {
    struct smap_slot *s = smap_find(m, k, n);

    if (!s || !s->k)
        return false;
    *v_r = s->v;
    return true;
}

/* Inserts k -> v unless k is present. Returns true when inserted. */
static bool
smap_add(struct smap *m, const char *k, size_t n, size_t v) {
    struct smap_slot *s;

    if ((m->n + 1) * 2 > m->cap) {
        struct smap old = *m;
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

static void
smap_free(struct smap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].k);
    free(m->s);
    m->s = NULL;
    m->cap = m->n = 0;
}

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
#define N_SU MF_ARRAY_LEN(su_bits)

/* Well-known top-level names, for servers without SPECIAL-USE. */
static const char *const su_names[N_SU][8] = {
    {"Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet",
     "Gesendete Elemente", "Gesendete Objekte", NULL},
    {"Drafts", "Entw\xc3\xbcrfe", NULL},
    {"Trash", "Deleted Items", "Deleted Messages", "Papierkorb",
     "Gel\xc3\xb6schte Elemente", NULL},
    {"Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail",
     "Junk-E-Mail", NULL},
    {"Archive", "Archives", "Archiv", NULL},
};

static const char *const gmail_virtual[] = {
    "[Gmail]/All Mail",        "[Gmail]/Important",
    "[Gmail]/Starred",         "[Google Mail]/All Mail",
    "[Google Mail]/Important", "[Google Mail]/Starred",
};

struct work {
    struct mf_folder_entry e; /* the public part; moved into the plan */
    size_t idx;               /* input index; SIZE_MAX for implied */
    bool inbox_root;          /* components[0] is the real INBOX */
    char **fcomps;            /* owned: folded components, or NULL */
    size_t n_fcomps;
    unsigned attrs; /* with guessed special uses */
    bool guessed;   /* a special use in attrs was guessed */
    int su_slot;    /* index into su_bits when mapped, or -1 */
    char *tgt;      /* owned: decoded target name, or NULL */
    char *key;      /* owned: target key of tgt */
    char *sortkey;  /* owned */
};

struct rename {
    char **from; /* folded when case-insensitive */
    size_t nfrom;
    char **to;
    size_t nto;
};

struct ctx {
    const struct mf_folder_plan_input *in;
    const struct mf_folder_rules *rules;
    struct mf_error *err;
    char delim;       /* target delimiter, '\0' for NIL */
    char joiner;      /* delim, or "/" on a flat target */
    bool ci;          /* rules are case-insensitive */
    const char *repl; /* separator replacement */
    char *tprefix;    /* decoded target prefix */
    char *tbase;      /* tprefix + root levels + joiner */
    char *inbox;      /* the target name of INBOX */
    char *sprefix;    /* decoded source prefix, INBOX canonical */

    struct mf__folder_pat *incl, *excl, *preset;
    size_t n_incl, n_excl, n_preset;
    struct rename *ren;
    size_t n_ren;

    char **tnames; /* owned: decoded target names */
    struct smap existing;
    long su_tgt[N_SU]; /* target index for each special use, or -1 */
    bool su_tgt_guessed[N_SU];

    struct work *w; /* owned */
    size_t n, cap;
    struct smap memo; /* source prefix key -> index into memo_v */
    char **memo_v;    /* owned target names */
    size_t n_memo;
    struct smap claims; /* target key -> work index (COPY) */
};

struct mf_folder_plan {
    struct mf_folder_entry *e; /* owned */
    size_t n;
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
        if (mf__folder_utf8_valid(raw, len))
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
    if (ascii || mf__folder_utf8_valid(raw, len)) {
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

/* If the first level of s (up to delim) is any case of INBOX, writes it
 * as "INBOX". RFC 3501 5.1: "INBOX" is case-insensitive. */
static void
canon_inbox(char *s, char delim) {
    size_t l = delim ? strcspn(s, (char[]){delim, '\0'}) : strlen(s);

    if (l == 5 && strncasecmp(s, "INBOX", 5) == 0)
        memcpy(s, "INBOX", 5);
}

/* The target key of target name t (new string). */
static char *
tkey(const struct ctx *c, const char *t) {
    char *k = c->in->tgt_case_insensitive ? mf__folder_fold(t) : mf_xstrdup(t);
    canon_inbox(k, c->delim);
    return k;
}

/* INBOX or one of its children (which, on a Cyrus-style target, is every
 * personal folder). */
static bool
key_under_inbox(const char *k, char delim) {
    return strncmp(k, "INBOX", 5) == 0 &&
           (k[5] == '\0' || (delim && k[5] == delim));
}

/* The component comp with every target delimiter replaced (new string). */
static char *
xform(const struct ctx *c, const char *comp, bool *changed_r) {
    struct mf_buf b = {0};

    *changed_r = false;
    for (const char *p = comp; *p; p++) {
        if (c->delim && *p == c->delim) {
            mf_buf_append_str(&b, c->repl);
            *changed_r = true;
        } else {
            mf_buf_append(&b, p, 1);
        }
    }
    mf_buf_append(&b, "", 0);
    return (char *)b.data;
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

/* Encodes a decoded target name for the wire; NULL if impossible. */
static char *
encode_target(const struct ctx *c, const char *t) {
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

/* Checks the target limits; returns NULL if t fits, else a new reason. */
static char *
target_limit(const struct ctx *c, const char *t) {
    size_t depth = 1;
    char *wire;

    if (c->delim)
        for (const char *p = t; *p; p++)
            depth += *p == c->delim;
    if (depth > MF_FOLDER_DEPTH_MAX)
        return mf_xasprintf("target name has %zu levels (limit %d)", depth,
                            MF_FOLDER_DEPTH_MAX);
    wire = encode_target(c, t);
    if (!wire)
        return mf_xstrdup("target name cannot be encoded");
    if (strlen(wire) > MF_FOLDER_NAME_MAX) {
        char *why = mf_xasprintf("target name is %zu bytes (limit %d)",
                                 strlen(wire), MF_FOLDER_NAME_MAX);
        free(wire);
        return why;
    }
    free(wire);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static void
compile_rules(struct ctx *c) {
    const struct mf_folder_rules *r = c->rules;

    c->incl = mf_xcalloc(r->n_include + 1, sizeof(*c->incl));
    for (size_t i = 0; i < r->n_include; i++)
        mf__folder_pat_compile(r->include[i], c->ci, &c->incl[c->n_incl++]);
    c->excl = mf_xcalloc(r->n_exclude + 1, sizeof(*c->excl));
    for (size_t i = 0; i < r->n_exclude; i++)
        mf__folder_pat_compile(r->exclude[i], c->ci, &c->excl[c->n_excl++]);
    c->preset = mf_xcalloc(MF_ARRAY_LEN(gmail_virtual), sizeof(*c->preset));
    if (r->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL)
        for (size_t i = 0; i < MF_ARRAY_LEN(gmail_virtual); i++)
            mf__folder_pat_compile(gmail_virtual[i], c->ci,
                                   &c->preset[c->n_preset++]);
    c->ren = mf_xcalloc(r->n_rename + 1, sizeof(*c->ren));
    for (size_t i = 0; i < r->n_rename; i++) {
        struct rename *x = &c->ren[c->n_ren];
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
            c->n_ren++;
        } else {
            mf__folder_strv_free(x->from, x->nfrom);
            memset(x, 0, sizeof(*x));
        }
    }
}

static mf_err
setup(struct ctx *c) {
    const struct mf_folder_plan_input *in = c->in;
    char **root = NULL;
    size_t n_root = 0;
    struct mf_buf b = {0};
    const char *why;
    mf_err rc = MF_E_OK;

    c->delim = in->tgt_delim;
    c->joiner = in->tgt_delim ? in->tgt_delim : '/';
    c->ci = c->rules->case_insensitive;
    c->repl =
        c->rules->separator_replacement ? c->rules->separator_replacement : "_";
    if (c->delim && strchr(c->repl, c->delim))
        return mf_error_set(c->err, MF_E_CONFIG,
                            "separator replacement \"%s\" contains the "
                            "target's delimiter '%c'",
                            c->repl, c->delim);
    if (c->repl[0] == '\0')
        return mf_error_set(c->err, MF_E_CONFIG, "empty separator replacement");
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
setup_target(struct ctx *c) {
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
        k = tkey(c, c->tnames[i]);
        smap_add(&c->existing, k, strlen(k), i);
        free(k);
    }
    for (size_t s = 0; s < N_SU; s++) {
        c->su_tgt[s] = -1;
        for (size_t i = 0; i < in->n_tgt && c->su_tgt[s] < 0; i++)
            if (c->tnames[i] && (in->tgt[i].attrs & su_bits[s]) &&
                !(in->tgt[i].attrs &
                  (MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT)))
                c->su_tgt[s] = (long)i;
    }
    if (!c->rules->special_use_by_name)
        return;
    for (size_t s = 0; s < N_SU; s++) {
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

static void
exclude(struct work *w, enum mf_folder_reason r, char *detail) {
    w->e.action = MF_FOLDER_EXCLUDED;
    w->e.reason = r;
    free(w->e.reason_detail);
    w->e.reason_detail = detail;
}

/* Decodes and splits source folder i into c->w[c->n]. */
static void
add_source(struct ctx *c, size_t i) {
    const struct mf_folder_src *s = &c->in->src[i];
    struct work *w = &c->w[c->n++];
    char *name = NULL, *why, *rel;
    size_t plen = strlen(c->sprefix), n = 0;

    memset(w, 0, sizeof(*w));
    w->idx = i;
    w->su_slot = -1;
    w->attrs = s->attrs;
    w->e.src_raw = mf_xmalloc(s->len + 1);
    if (s->len)
        memcpy(w->e.src_raw, s->name, s->len);
    w->e.src_raw[s->len] = 0;
    w->e.src_raw_len = s->len;
    w->e.src_delim = s->delim;
    w->e.src_attrs = s->attrs;
    w->e.subscribed = s->subscribed;
    w->e.action = MF_FOLDER_COPY;

    if (s->len > MF_FOLDER_SRC_NAME_MAX) {
        exclude(w, MF_FOLDER_REASON_LIMIT,
                mf_xasprintf("source name is %zu bytes (limit %d)", s->len,
                             MF_FOLDER_SRC_NAME_MAX));
        return;
    }
    if (memchr(s->name, '\0', s->len)) {
        exclude(w, MF_FOLDER_REASON_BAD_NAME,
                mf_xstrdup("source name contains a NUL byte"));
        return;
    }
    name = decode_name(s->name, s->len, c->in->src_utf8, &why);
    if (why) {
        w->e.flags |= MF_FOLDER_F_BAD_ENCODING;
        w->e.encoding_error = why;
    }
    canon_inbox(name, s->delim);
    if (strcmp(name, "INBOX") == 0) {
        w->inbox_root = true;
        w->e.flags |= MF_FOLDER_F_INBOX;
        rel = name;
    } else if (plen && strncmp(name, c->sprefix, plen) != 0) {
        bool root = strlen(name) + 1 == plen &&
                    strncmp(name, c->sprefix, plen - 1) == 0;
        exclude(w, MF_FOLDER_REASON_NAMESPACE,
                mf_xstrdup(root ? "the personal namespace itself"
                                : "outside the personal namespace"));
        goto out;
    } else {
        rel = name + plen;
        /* Without a prefix, "INBOX/x" is a child of INBOX; with one
         * ("INBOX." on Cyrus), the prefix already took INBOX away. */
        w->inbox_root = plen == 0 && strncmp(rel, "INBOX", 5) == 0 &&
                        s->delim && rel[5] == s->delim;
    }
    if (rel[0] == '\0') {
        exclude(w, MF_FOLDER_REASON_EMPTY_NAME, mf_xstrdup("empty name"));
        goto out;
    }
    /* Split at the delimiter; a NIL delimiter means one level. */
    w->e.src_components = mf_xcalloc(strlen(rel) + 1, sizeof(char *));
    for (const char *p = rel;;) {
        size_t l = s->delim ? strcspn(p, (char[]){s->delim, '\0'}) : strlen(p);
        if (l == 0) {
            mf__folder_strv_free(w->e.src_components, n);
            w->e.src_components = NULL;
            exclude(w, MF_FOLDER_REASON_EMPTY_NAME,
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
        exclude(w, MF_FOLDER_REASON_LIMIT,
                mf_xasprintf("source name has %zu levels (limit %d)", n,
                             MF_FOLDER_DEPTH_MAX));
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

static char **
fcomps_of(const struct work *w) {
    return w->fcomps ? w->fcomps : w->e.src_components;
}

static void
apply_rules(struct ctx *c, struct work *w) {
    char **f = fcomps_of(w);
    size_t n = w->e.n_components;
    bool in = c->n_incl == 0;

    if (w->attrs & MF_FOLDER_ATTR_NONEXISTENT) {
        exclude(w, MF_FOLDER_REASON_NONEXISTENT, NULL);
        return;
    }
    if (w->attrs & MF_FOLDER_ATTR_NOSELECT) {
        exclude(w, MF_FOLDER_REASON_NOSELECT, NULL);
        return;
    }
    if (c->rules->presets & MF_FOLDER_PRESET_GMAIL_VIRTUAL) {
        bool hit = (w->attrs & (MF_FOLDER_ATTR_ALL | MF_FOLDER_ATTR_FLAGGED |
                                MF_FOLDER_ATTR_IMPORTANT)) != 0;
        for (size_t i = 0; !hit && i < c->n_preset; i++)
            hit = mf__folder_pat_match(&c->preset[i], f, n);
        if (hit) {
            exclude(w, MF_FOLDER_REASON_PRESET, mf_xstrdup("gmail-virtual"));
            return;
        }
    }
    for (size_t i = 0; i < c->n_excl; i++) {
        if (mf__folder_pat_match(&c->excl[i], f, n)) {
            exclude(w, MF_FOLDER_REASON_RULE, mf_xstrdup(c->excl[i].text));
            return;
        }
    }
    for (size_t i = 0; !in && i < c->n_incl; i++)
        in = mf__folder_pat_match(&c->incl[i], f, n);
    if (!in)
        exclude(w, MF_FOLDER_REASON_NOT_INCLUDED, NULL);
}

/* Guesses special uses of top-level source folders by name, for each use
 * that no source folder carries. */
static void
guess_source_uses(struct ctx *c) {
    for (size_t s = 0; s < N_SU; s++) {
        bool any = false;
        for (size_t i = 0; i < c->n; i++)
            any |= (c->w[i].attrs & su_bits[s]) != 0;
        for (size_t i = 0; !any && i < c->n; i++) {
            struct work *w = &c->w[i];
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
su_better(const struct work *a, const struct work *b, size_t slot) {
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
choose_special_uses(struct ctx *c) {
    bool used_tgt[N_SU] = {false};

    if (!c->rules->special_use ||
        (c->rules->target_root && c->rules->target_root[0]))
        return;
    for (size_t s = 0; s < N_SU; s++) {
        struct work *best = NULL;
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
            struct work *w = &c->w[i];
            if (w->e.action == MF_FOLDER_COPY && !w->inbox_root &&
                w->su_slot < 0 && (w->attrs & su_bits[s]) &&
                (!best || su_better(w, best, s)))
                best = w;
        }
        if (best) {
            best->su_slot = (int)s;
            used_tgt[s] = true;
        }
    }
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
memo_put(struct ctx *c, bool inbox_root, char *const *comps, size_t d,
         const char *t) {
    size_t len;
    char *k = src_key(inbox_root, comps, d, &len);

    if (smap_add(&c->memo, k, len, c->n_memo)) {
        c->memo_v = mf_xrealloc(c->memo_v, (c->n_memo + 1) * sizeof(char *));
        c->memo_v[c->n_memo++] = mf_xstrdup(t);
    }
    free(k);
}

/* The target of an exact rename rule for fcomps[0..d), or NULL. */
static char *
rename_target(const struct ctx *c, char *const *fcomps, size_t d) {
    for (size_t r = 0; r < c->n_ren; r++) {
        const struct rename *x = &c->ren[r];
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
            bool changed;
            char *t = xform(c, x->to[i], &changed);
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

/* The target name of source path prefix comps[0..d): a rename rule
 * there, or the parent's target plus this level. Remembered. */
static const char *
prefix_target(struct ctx *c, bool inbox_root, char *const *comps,
              char *const *fcomps, size_t d) {
    size_t len, v;
    char *k = src_key(inbox_root, comps, d, &len), *t;
    bool found = smap_get(&c->memo, k, len, &v);
    bool changed;

    free(k);
    if (found)
        return c->memo_v[v];
    t = rename_target(c, fcomps, d);
    if (!t && d == 1 && inbox_root) {
        t = mf_xstrdup(c->inbox);
    } else if (!t) {
        char *x = xform(c, comps[d - 1], &changed);
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
entry_target(struct ctx *c, struct work *w) {
    char **comps = w->e.src_components, **f = fcomps_of(w);
    size_t d = w->e.n_components;
    char *t = NULL;

    if (w->su_slot >= 0) {
        t = mf_xstrdup(c->tnames[c->su_tgt[w->su_slot]]);
        w->e.flags |= MF_FOLDER_F_SPECIAL_USE;
        w->e.special_use = su_bits[w->su_slot];
        if (w->guessed || c->su_tgt_guessed[w->su_slot])
            w->e.flags |= MF_FOLDER_F_GUESSED_USE;
    } else if ((t = rename_target(c, f, d)) != NULL) {
        w->e.flags |= MF_FOLDER_F_RENAMED;
    } else if (d == 1 && w->inbox_root) {
        t = mf_xstrdup(c->inbox);
    } else {
        bool changed;
        char *x = xform(c, comps[d - 1], &changed);
        if (changed) {
            w->e.flags |= MF_FOLDER_F_DELIM_REPLACED;
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
        char *k = tkey(c, t);
        size_t v;
        if (smap_get(&c->existing, k, strlen(k), &v) && c->tnames[v]) {
            free(t);
            t = mf_xstrdup(c->tnames[v]);
        }
        free(k);
    }
    w->tgt = t;
}

static int
priority(const struct work *w) {
    if (w->e.flags & MF_FOLDER_F_INBOX)
        return 0;
    if (w->e.flags & MF_FOLDER_F_SPECIAL_USE)
        return 1;
    if (w->e.flags & MF_FOLDER_F_DELIM_REPLACED)
        return 4;
    if (w->e.flags & MF_FOLDER_F_RENAMED)
        return 3;
    return 2;
}

static int
cmp_raw(const struct work *a, const struct work *b) {
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
    const struct work *a = *(struct work *const *)pa;
    const struct work *b = *(struct work *const *)pb;
    int d = priority(a) - priority(b);

    if (d)
        return d;
    if ((d = strcmp(a->e.src_path, b->e.src_path)) != 0)
        return d;
    return cmp_raw(a, b);
}

/* Claims w's target name, suffixing " (2)", " (3)"... on a collision. */
static void
claim(struct ctx *c, struct work *w) {
    char *why = target_limit(c, w->tgt);
    char *k;

    if (!why) {
        k = tkey(c, w->tgt);
        for (unsigned n = 2;
             !smap_add(&c->claims, k, strlen(k), (size_t)(w - c->w)); n++) {
            if (!w->e.wanted_name)
                w->e.wanted_name = mf_xstrdup(w->tgt);
            free(w->tgt);
            free(k);
            w->tgt = mf_xasprintf("%s (%u)", w->e.wanted_name, n);
            w->e.flags |= MF_FOLDER_F_COLLISION;
            k = tkey(c, w->tgt);
        }
        free(k);
        if (w->e.flags & MF_FOLDER_F_COLLISION)
            why = target_limit(c, w->tgt);
    }
    if (why) {
        exclude(w, MF_FOLDER_REASON_LIMIT, why);
        free(w->tgt);
        w->tgt = NULL;
    }
}

static void
compute_targets(struct ctx *c, struct work **order, size_t *n_order_r) {
    size_t maxd = 0, n_order = 0;

    for (size_t i = 0; i < c->n; i++)
        if (c->w[i].e.n_components > maxd)
            maxd = c->w[i].e.n_components;
    for (size_t d = 1; d <= maxd; d++) {
        size_t first = n_order;
        for (size_t i = 0; i < c->n; i++) {
            struct work *w = &c->w[i];
            if (w->e.n_components == d) {
                entry_target(c, w);
                order[n_order++] = w;
            }
        }
        qsort(order + first, n_order - first, sizeof(*order), cmp_claim);
        for (size_t i = first; i < n_order; i++) {
            struct work *w = order[i];
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

static struct work *
new_work(struct ctx *c) {
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
add_containers(struct ctx *c, struct work **order, size_t n_order) {
    struct smap spare = {0}, made = {0};
    size_t plen = strlen(c->tprefix), n_copy = c->n;

    if (!c->delim)
        return; /* a flat target has no parents */
    /* Excluded folders that could serve as a parent, first one wins. */
    for (size_t i = 0; i < n_order; i++) {
        struct work *w = order[i];
        if (w->e.action != MF_FOLDER_COPY && w->tgt) {
            char *k = tkey(c, w->tgt);
            smap_add(&spare, k, strlen(k), (size_t)(w - c->w));
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
            k = tkey(c, t);
            if (strcmp(k, "INBOX") != 0 &&
                !smap_get(&c->claims, k, strlen(k), &v) &&
                smap_add(&made, k, strlen(k), 0)) {
                if (smap_get(&spare, k, strlen(k), &v)) {
                    c->w[v].e.action = MF_FOLDER_CONTAINER;
                } else {
                    struct work *w = new_work(c);
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
    smap_free(&spare);
    smap_free(&made);
}

/* ------------------------------------------------------------------ */
/* Final order                                                         */
/* ------------------------------------------------------------------ */

static int
cmp_final(const void *pa, const void *pb) {
    const struct work *a = pa, *b = pb;
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
make_sortkey(const struct ctx *c, struct work *w) {
    size_t n = strlen(w->key);

    w->sortkey = mf_xmalloc(n + 2);
    w->sortkey[0] = key_under_inbox(w->key, c->delim) ? '\x01' : '\x02';
    for (size_t i = 0; i < n; i++)
        w->sortkey[i + 1] =
            c->delim && w->key[i] == c->delim ? '\x01' : w->key[i];
    w->sortkey[n + 1] = '\0';
}

static void
finish(struct ctx *c, struct mf_folder_plan *plan) {
    struct smap seen = {0};

    for (size_t i = 0; i < c->n; i++) {
        struct work *w = &c->w[i];
        if (w->e.action == MF_FOLDER_EXCLUDED || !w->tgt) {
            if (w->e.action != MF_FOLDER_EXCLUDED)
                exclude(w, MF_FOLDER_REASON_LIMIT,
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
        w->key = tkey(c, w->tgt);
        make_sortkey(c, w);
        w->e.tgt_wire = encode_target(c, w->tgt);
        MF_ASSERT(w->e.tgt_wire); /* target_limit() checked it */
    }
    qsort(c->w, c->n, sizeof(*c->w), cmp_final);
    plan->e = mf_xcalloc(c->n ? c->n : 1, sizeof(*plan->e));
    plan->n = c->n;
    for (size_t i = 0; i < c->n; i++) {
        struct work *w = &c->w[i];
        size_t v;
        if (w->tgt) {
            w->e.tgt_name = w->tgt;
            w->tgt = NULL;
            w->e.create_needed =
                strcmp(w->key, "INBOX") != 0 &&
                !smap_get(&c->existing, w->key, strlen(w->key), &v) &&
                smap_add(&seen, w->key, strlen(w->key), i);
        }
        plan->e[i] = w->e;
        memset(&w->e, 0, sizeof(w->e));
    }
    smap_free(&seen);
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
ctx_free(struct ctx *c) {
    for (size_t i = 0; i < c->n; i++) {
        struct work *w = &c->w[i];
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
    smap_free(&c->existing);
    smap_free(&c->memo);
    smap_free(&c->claims);
    free(c->tprefix);
    free(c->tbase);
    free(c->inbox);
    free(c->sprefix);
}

mf_err
mf_folder_plan_build(const struct mf_folder_plan_input *in,
                     struct mf_folder_plan **plan_r, struct mf_error *err) {
    struct ctx c;
    struct mf_folder_rules *defaults = NULL;
    struct work **order = NULL;
    size_t n_order = 0;
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
    order = mf_xcalloc(c.n + 1, sizeof(*order));
    compute_targets(&c, order, &n_order);
    add_containers(&c, order, n_order);
    free(order);
    order = NULL;

    plan = mf_xcalloc(1, sizeof(*plan));
    finish(&c, plan);
    *plan_r = plan;
    rc = MF_E_OK;
out:
    free(order);
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
