/*
 * --sync-deletes' moves, the pure part (migrate_int.h "Moves"): which
 * message that vanished from one folder of the source is the same as a
 * message new in another, so that its copy on the target is moved there
 * (UID MOVE, moves.c) instead of removed and copied again.
 *
 * A vanished message is known by its copy on the target (the UID map
 * names it; the source no longer has it), a new one by the source's
 * listing, each with the fingerprint recognition uses (fingerprint.h,
 * strict or lenient as the run recognises): the one rule that already
 * says "this target message is a copy of that source message".
 *
 * The rule (mf__move_match()):
 *   - a message without a Message-ID never matches: its fingerprint is
 *     size and date alone, which different messages share too often
 *     across folders (bulk imports give many one INTERNALDATE), and a
 *     wrong move would lose one message on the target and hold another
 *     twice, where remove + copy only costs bytes;
 *   - a vanished and a new message match when their fingerprints are
 *     equal and they are in different folders (one re-added to its own
 *     folder is left to remove + copy: nothing is gained by moving a
 *     message where it already is);
 *   - several vanished with one fingerprint (and maybe several new):
 *     messages with equal fingerprints are the same message to
 *     recognition, which would take any of their copies for any of them,
 *     so any pairing is right; the pairing is made deterministic by
 *     order: the vanished ones by (folder, UID), each taking the first
 *     new one by (folder, UID) of another folder not taken yet. Each
 *     target copy moves at most once and each new message receives at
 *     most one, so per folder the target ends with as many as the
 *     source has: what is left over is removed (vanished) or copied
 *     (new) as before, never lost, never doubled.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

/* By fingerprint, then folder, then UID. */
static int
by_fp(const void *a, const void *b) {
    const struct mf__move_cand *const *x = a, *const *y = b;
    int c = memcmp((*x)->fp.digest, (*y)->fp.digest, sizeof((*x)->fp.digest));

    if (c)
        return c;
    if ((*x)->folder != (*y)->folder)
        return (*x)->folder < (*y)->folder ? -1 : 1;
    return (*x)->uid < (*y)->uid ? -1 : (*x)->uid > (*y)->uid;
}

/* Pointers to the candidates that may match, sorted by by_fp. */
static const struct mf__move_cand **
sorted(const struct mf__move_cand *v, size_t n, size_t *k_r) {
    const struct mf__move_cand **p = mf_xcalloc(n + 1, sizeof(*p));
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (v[i].has_id)
            p[k++] = &v[i];
    if (k)
        qsort(p, k, sizeof(*p), by_fp);
    *k_r = k;
    return p;
}

static bool
same_fp(const struct mf__move_cand *a, const struct mf__move_cand *b) {
    return memcmp(a->fp.digest, b->fp.digest, sizeof(a->fp.digest)) == 0;
}

size_t
mf__move_match(const struct mf__move_cand *gone, size_t ngone,
               const struct mf__move_cand *fresh, size_t nfresh,
               struct mf__move_pair **pairs_r) {
    size_t ng, nf, n = 0, g = 0, f = 0;
    const struct mf__move_cand **pg = sorted(gone, ngone, &ng);
    const struct mf__move_cand **pf = sorted(fresh, nfresh, &nf);
    bool *taken = mf_xcalloc(nf + 1, sizeof(*taken));
    struct mf__move_pair *pairs = NULL;

    while (g < ng && f < nf) {
        int c = memcmp(pg[g]->fp.digest, pf[f]->fp.digest,
                       sizeof(pg[g]->fp.digest));
        size_t g_end = g, f_end = f;

        if (c) {
            *(c < 0 ? &g : &f) += 1;
            continue;
        }
        while (g_end < ng && same_fp(pg[g_end], pg[g]))
            g_end++;
        while (f_end < nf && same_fp(pf[f_end], pf[f]))
            f_end++;
        /* One fingerprint: each vanished one, in order, takes the first
         * new one of another folder not taken yet. */
        for (size_t i = g; i < g_end; i++)
            for (size_t k = f; k < f_end; k++) {
                if (taken[k] || pf[k]->folder == pg[i]->folder)
                    continue;
                taken[k] = true;
                pairs = mf_xreallocarray(pairs, n + 1, sizeof(*pairs));
                pairs[n++] = (struct mf__move_pair){(size_t)(pg[i] - gone),
                                                    (size_t)(pf[k] - fresh)};
                break;
            }
        g = g_end;
        f = f_end;
    }
    free(pg);
    free(pf);
    free(taken);
    *pairs_r = pairs;
    return n;
}
