/*
 * A Gmail source migrated by its labels (issue 13; the gmail profile,
 * preset gmail-labels).
 *
 * Gmail shows a label as a folder, so a message with three labels is in
 * three folders, and every message (archived mail too) is in "[Gmail]/All
 * Mail". Each message must land once:
 *
 *   1. The label folders are copied in plan order, All Mail last (into
 *      the archive folder: the profile renames it, --gmail-archive-folder).
 *   2. Before the first folder, every planned source folder is listed in
 *      that order (metadata only) and each message's fingerprint noted
 *      with the first folder that has it (struct mf__gmail).
 *   3. A message whose first folder comes before the one being copied is
 *      a label copy: it is not copied again (counted in
 *      stats.gmail_label_copies). So a message lands in the first label
 *      folder that has it; one that is only in All Mail lands in the
 *      archive folder.
 *
 * The index is made again at each attempt from what the source holds
 * then, never from checkpoints, so a re-run, a resume or an incremental
 * pass places every message in the same folder as the first pass did
 * (when its labels did not change meanwhile). Messages are told apart by
 * X-GM-MSGID where the source advertises X-GM-EXT-1 (Gmail's id of a
 * message, the same in every label), else by the run's fingerprint
 * (strict, or lenient for a re-encoding target): Gmail serves a message
 * with the same bytes and date in every label. Every listing of one
 * source asks for the same items, so one run never mixes the two.
 */
#include "migrate/migrate_int.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    struct mf_fingerprint fp;
    size_t folder; /* processing position of the first folder with it */
};

struct mf__gmail {
    struct entry *v; /* first folder of each message, by fingerprint */
    size_t n;
    struct entry *all; /* every (message, folder), by fingerprint, folder */
    size_t nall;
    char **labels; /* owned: the keyword of each folder; NULL: none */
    size_t nlabels;
};

bool
mf__gmail_mode(const struct mf__run *run) {
    return run->o->source_profile && run->o->source_profile->gmail_labels;
}

bool
mf__gmail_all_mail(const struct mf_folder_entry *e) {
    static const char *const names[] = {"[Gmail]/All Mail",
                                        "[Google Mail]/All Mail"};

    if (e->src_attrs & MF_FOLDER_ATTR_ALL)
        return true;
    for (size_t i = 0; e->src_path && i < MF_ARRAY_LEN(names); i++)
        if (strcmp(e->src_path, names[i]) == 0)
            return true;
    return false;
}

/* A label as an IMAP keyword: flag-keyword = atom (RFC 3501 9), so every
 * atom-special, control, 8-bit byte and the "\" of system flags becomes
 * '_' ("Travel/2024" stays, "Mes reçus" becomes "Mes_re__us"). */
static char *
keyword(const char *label) {
    char *k = mf_xstrdup(label);

    for (char *p = k; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
            *p = '_';
    }
    return k;
}

void
mf__gmail_key(const struct mf__msg *m, struct mf_fingerprint *k_r) {
    if (!m->gm_msgid) {
        *k_r = m->fp;
        return;
    }
    /* "gm" and the id: no SHA-256 begins so by design, and a collision
     * would need 2^-128 luck. */
    memset(k_r, 0, sizeof(*k_r));
    k_r->digest[0] = 'g';
    k_r->digest[1] = 'm';
    for (int i = 0; i < 8; i++)
        k_r->digest[2 + i] = (uint8_t)(m->gm_msgid >> (56 - 8 * i));
}

static int
by_fp(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    int c = memcmp(x->fp.digest, y->fp.digest, sizeof(x->fp.digest));
    return c ? c : (x->folder > y->folder) - (x->folder < y->folder);
}

mf_err
mf__gmail_index(struct mf__run *run, const struct mf_folder_entry *const *order,
                size_t n, struct mf__gmail **g_r) {
    struct mf__gmail *g = mf_xcalloc(1, sizeof(*g));
    size_t cap = 0, k = 0;
    mf_err rc = MF_E_OK;

    g->labels = mf_xcalloc(n ? n : 1, sizeof(*g->labels));
    g->nlabels = n;
    for (size_t i = 0; i < n; i++)
        if (!mf__gmail_all_mail(order[i]) && order[i]->src_path)
            g->labels[i] = keyword(order[i]->src_path);
    for (size_t i = 0; i < n && rc == MF_E_OK; i++) {
        struct mf__msglist list = {0};
        struct mf_store_select sel;
        char *name =
            mf_xstrndup((const char *)order[i]->src_raw, order[i]->src_raw_len);

        if ((rc = run->src->ops->select(run->src, name, true, &sel)))
            rc = mf__run_store_error(run, run->src, name);
        else if (sel.exists)
            rc = mf__msglist_fetch(run, run->src, 1, 0, true, &list);
        for (size_t m = 0; rc == MF_E_OK && m < list.n; m++) {
            if (list.m[m].missing)
                continue;
            if (g->n == cap) {
                cap = cap ? 2 * cap : 1024;
                g->v = mf_xreallocarray(g->v, cap, sizeof(*g->v));
            }
            mf__gmail_key(&list.m[m], &g->v[g->n].fp);
            g->v[g->n++].folder = i;
        }
        mf__msglist_clear(&list);
        free(name);
    }
    if (rc != MF_E_OK) {
        mf__gmail_free(&g);
        return rc;
    }
    /* Sorted by fingerprint, then folder: the first of each run is the
     * message's first folder; the rest go. */
    if (g->n)
        qsort(g->v, g->n, sizeof(*g->v), by_fp);
    g->all = mf_xmemdup(g->v, g->n * sizeof(*g->v));
    g->nall = g->n;
    for (size_t i = 0; i < g->n; i++)
        if (k == 0 || memcmp(g->v[k - 1].fp.digest, g->v[i].fp.digest,
                             sizeof(g->v[i].fp.digest)) != 0)
            g->v[k++] = g->v[i];
    g->n = k;
    *g_r = g;
    return MF_E_OK;
}

bool
mf__gmail_placed_before(const struct mf__gmail *g, size_t folder,
                        const struct mf_fingerprint *fp) {
    size_t lo = 0, hi = g ? g->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(g->v[mid].fp.digest, fp->digest, sizeof(fp->digest));
        if (c == 0)
            return g->v[mid].folder < folder;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void
mf__gmail_keywords(const struct mf__gmail *g, size_t folder,
                   const struct mf_fingerprint *fp, const char *flags,
                   struct mf_buf *out) {
    size_t lo = 0, hi = g->nall;

    mf_buf_append_str(out, flags ? flags : "");
    /* The first occurrence of fp among all. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(g->all[mid].fp.digest, fp->digest, sizeof(fp->digest)) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < g->nall && memcmp(g->all[i].fp.digest, fp->digest,
                                              sizeof(fp->digest)) == 0;
         i++) {
        const char *kw = g->labels[g->all[i].folder];
        if (g->all[i].folder == folder || !kw)
            continue;
        if (out->len)
            mf_buf_append(out, " ", 1);
        mf_buf_append_str(out, kw);
    }
    mf_buf_append(out, "", 1);
}

void
mf__gmail_free(struct mf__gmail **g) {
    if (!*g)
        return;
    for (size_t i = 0; i < (*g)->nlabels; i++)
        free((*g)->labels[i]);
    free((*g)->labels);
    free((*g)->all);
    free((*g)->v);
    free(*g);
    *g = NULL;
}
