/*
 * Comparing one folder's source and target listings (mailferry/verify.h
 * says what counts as a difference). No I/O: verify.c lists the servers,
 * the unit tests hand-build the listings.
 *
 * Pairing sorts the indexes of both sides by (key, UID) and walks them
 * together like a merge: equal keys pair one for one in UID order, the
 * rest of either side stays unpaired. O((ns + nt) log(ns + nt)).
 */
#include "mailferry/fingerprint.h"
#include "mailferry/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
mf_verify_kind_name(enum mf_verify_kind k) {
    switch (k) {
    case MF_VERIFY_MISSING:
        return "missing";
    case MF_VERIFY_EXTRA:
        return "extra";
    case MF_VERIFY_DUPLICATE:
        return "duplicate";
    case MF_VERIFY_FLAGS:
        return "flags";
    case MF_VERIFY_DATE:
        return "date";
    case MF_VERIFY_BYTES:
        return "bytes";
    case MF_VERIFY_FOLDER:
        return "folder";
    case MF_VERIFY_KIND_COUNT:
        break;
    }
    return "?";
}

/* ------------------------------------------------------------------ */
/* Pairing                                                             */
/* ------------------------------------------------------------------ */

/* The key: the fingerprint of the Message-ID alone when there is one
 * (size 0 and date 0 stand for "not part of the key"), else the strict
 * fingerprint, whose size and date keep unrelated messages apart. */
static void
key_of(const struct mf_verify_msg *m, struct mf_fingerprint *fp_r) {
    if (m->message_id && *m->message_id)
        mf_fingerprint_compute(m->message_id, 0, 0, MF_FINGERPRINT_STRICT,
                               fp_r);
    else
        mf_fingerprint_compute(NULL, m->size, m->when, MF_FINGERPRINT_STRICT,
                               fp_r);
}

struct keyed {
    struct mf_fingerprint fp;
    uint32_t uid;
    size_t index;
};

static int
by_key_uid(const void *a, const void *b) {
    const struct keyed *x = a, *y = b;
    int c = memcmp(x->fp.digest, y->fp.digest, sizeof(x->fp.digest));
    if (c)
        return c;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct keyed *
keyed_sorted(const struct mf_verify_msg *m, size_t n) {
    struct keyed *k = mf_xcalloc(n ? n : 1, sizeof(*k));

    for (size_t i = 0; i < n; i++) {
        key_of(&m[i], &k[i].fp);
        k[i].uid = m[i].uid;
        k[i].index = i;
    }
    if (n)
        qsort(k, n, sizeof(*k), by_key_uid);
    return k;
}

void
mf_verify_pair(const struct mf_verify_msg *src, size_t ns,
               const struct mf_verify_msg *tgt, size_t nt, size_t *src_pair_r,
               size_t *tgt_pair_r) {
    struct keyed *a = keyed_sorted(src, ns), *b = keyed_sorted(tgt, nt);
    size_t i = 0, k = 0;

    for (size_t x = 0; x < ns; x++)
        src_pair_r[x] = SIZE_MAX;
    for (size_t x = 0; x < nt; x++)
        tgt_pair_r[x] = SIZE_MAX;
    while (i < ns && k < nt) {
        int c = memcmp(a[i].fp.digest, b[k].fp.digest, sizeof(a[i].fp.digest));
        if (c < 0) {
            i++;
        } else if (c > 0) {
            k++;
        } else {
            src_pair_r[a[i].index] = b[k].index;
            tgt_pair_r[b[k].index] = a[i].index;
            i++, k++;
        }
    }
    free(a);
    free(b);
}

size_t
mf_verify_pick(const size_t *src_pair, size_t ns, size_t sample, bool *want_r) {
    size_t paired = 0, picked = 0, seen = 0;

    for (size_t i = 0; i < ns; i++) {
        want_r[i] = false;
        paired += src_pair[i] != SIZE_MAX;
    }
    if (sample == 0 || paired == 0)
        return 0;
    for (size_t i = 0; i < ns; i++) {
        if (src_pair[i] == SIZE_MAX)
            continue;
        /* The j-th paired message is taken when j * sample mod paired
         * is below sample: exactly sample of them, evenly spread, the
         * first always among them. */
        if (sample >= paired || (seen * sample) % paired < sample) {
            want_r[i] = true;
            picked++;
        }
        seen++;
    }
    return picked;
}

/* ------------------------------------------------------------------ */
/* Flags                                                               */
/* ------------------------------------------------------------------ */

static int
cmp_str_ci(const void *a, const void *b) {
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a flag list (modified in place) into up to max words, sorted
 * ignoring case, \Recent left out (RFC 3501 2.3.2: a session flag, not
 * the message's); returns the count. */
static size_t
flag_words(char *s, char **w, size_t max) {
    size_t n = 0;

    while (*s && n < max) {
        char *start;
        while (*s == ' ')
            *s++ = '\0';
        if (!*s)
            break;
        start = s;
        while (*s && *s != ' ')
            s++;
        if (*s)
            *s++ = '\0';
        if (strcasecmp(start, "\\Recent") != 0)
            w[n++] = start;
    }
    qsort(w, n, sizeof(*w), cmp_str_ci);
    return n;
}

/* Whether the flag sets differ; if so, writes "source (..) target (..)"
 * into out. */
static bool
flags_differ(const char *a, const char *b, char *out, size_t outlen) {
    char *ca = mf_xstrdup(a ? a : ""), *cb = mf_xstrdup(b ? b : "");
    char *ta[256], *tb[256];
    size_t na = flag_words(ca, ta, MF_ARRAY_LEN(ta));
    size_t nb = flag_words(cb, tb, MF_ARRAY_LEN(tb));
    bool differ = na != nb;
    struct mf_buf d = {0};

    for (size_t i = 0; !differ && i < na; i++)
        differ = strcasecmp(ta[i], tb[i]) != 0;
    if (differ) {
        mf_buf_append_str(&d, "source (");
        for (size_t i = 0; i < na; i++)
            mf_buf_appendf(&d, "%s%s", i ? " " : "", ta[i]);
        mf_buf_append_str(&d, ") target (");
        for (size_t i = 0; i < nb; i++)
            mf_buf_appendf(&d, "%s%s", i ? " " : "", tb[i]);
        mf_buf_append_str(&d, ")");
        snprintf(out, outlen, "%.*s", (int)d.len, (const char *)d.data);
        mf_buf_free(&d);
    }
    free(ca);
    free(cb);
    return differ;
}

/* ------------------------------------------------------------------ */
/* Differences                                                         */
/* ------------------------------------------------------------------ */

static char *
dup_or_null(const char *s) {
    return s ? mf_xstrdup(s) : NULL;
}

void
mf_verify_add(struct mf_verify_result *res, enum mf_verify_kind kind,
              const char *folder, uint32_t src_uid, uint32_t tgt_uid,
              const struct mf_verify_msg *m, const char *detail) {
    struct mf_verify_diff *d;

    res->diffs =
        mf_xreallocarray(res->diffs, res->n_diffs + 1, sizeof(*res->diffs));
    d = &res->diffs[res->n_diffs++];
    d->kind = kind;
    d->folder = mf_xstrdup(folder ? folder : "");
    d->src_uid = src_uid;
    d->tgt_uid = tgt_uid;
    d->date = dup_or_null(m ? m->date : NULL);
    d->when = m ? m->when : 0;
    d->subject = dup_or_null(m ? m->subject : NULL);
    d->detail = dup_or_null(detail);
}

static void
compare_pair(const char *label, const struct mf_verify_msg *s,
             const struct mf_verify_msg *t, struct mf_verify_result *res) {
    char detail[512];

    if (flags_differ(s->flags, t->flags, detail, sizeof(detail)))
        mf_verify_add(res, MF_VERIFY_FLAGS, label, s->uid, t->uid, s, detail);
    if (s->when != t->when) {
        snprintf(detail, sizeof(detail), "source %s target %s",
                 s->date ? s->date : "?", t->date ? t->date : "?");
        mf_verify_add(res, MF_VERIFY_DATE, label, s->uid, t->uid, s, detail);
    }
    if (s->size != t->size) {
        snprintf(detail, sizeof(detail), "source %llu bytes target %llu bytes",
                 (unsigned long long)s->size, (unsigned long long)t->size);
        mf_verify_add(res, MF_VERIFY_BYTES, label, s->uid, t->uid, s, detail);
    } else if (s->hashed && t->hashed) {
        res->compared_bodies++;
        if (memcmp(s->hash, t->hash, sizeof(s->hash)) != 0)
            mf_verify_add(res, MF_VERIFY_BYTES, label, s->uid, t->uid, s,
                          "same size, different content (SHA-256 of BODY[])");
    }
}

void
mf_verify_compare(const char *label, const struct mf_verify_msg *src, size_t ns,
                  const struct mf_verify_msg *tgt, size_t nt,
                  struct mf_verify_result *res) {
    size_t *sp = mf_xcalloc(ns ? ns : 1, sizeof(*sp));
    size_t *tp = mf_xcalloc(nt ? nt : 1, sizeof(*tp));
    struct mf_fingerprint *skeys = mf_xcalloc(ns ? ns : 1, sizeof(*skeys));
    struct mf_fingerprint_set *in_source = mf_fingerprint_set_new(0);

    res->folders++;
    res->src_messages += ns;
    res->tgt_messages += nt;
    mf_verify_pair(src, ns, tgt, nt, sp, tp);
    /* Source order (UID order as listed) for a readable report. */
    for (size_t i = 0; i < ns; i++) {
        key_of(&src[i], &skeys[i]);
        if (mf_fingerprint_set_add(in_source, &skeys[i]) != MF_E_OK)
            MF_ASSERT(!"no limit was set");
        if (sp[i] == SIZE_MAX)
            mf_verify_add(res, MF_VERIFY_MISSING, label, src[i].uid, 0, &src[i],
                          "not on the target");
        else
            compare_pair(label, &src[i], &tgt[sp[i]], res);
    }
    for (size_t k = 0; k < nt; k++) {
        struct mf_fingerprint fp;
        bool dup;

        if (tp[k] != SIZE_MAX)
            continue;
        key_of(&tgt[k], &fp);
        dup = mf_fingerprint_set_count(in_source, &fp) > 0;
        mf_verify_add(res, dup ? MF_VERIFY_DUPLICATE : MF_VERIFY_EXTRA, label,
                      0, tgt[k].uid, &tgt[k],
                      dup ? "one copy more than on the source"
                          : "not on the source");
    }
    mf_fingerprint_set_free(&in_source);
    free(skeys);
    free(sp);
    free(tp);
}

void
mf_verify_result_clear(struct mf_verify_result *res) {
    for (size_t i = 0; i < res->n_diffs; i++) {
        free(res->diffs[i].folder);
        free(res->diffs[i].date);
        free(res->diffs[i].subject);
        free(res->diffs[i].detail);
    }
    free(res->diffs);
    memset(res, 0, sizeof(*res));
}
