/*
 * --sync-deletes, the pure part (migrate_int.h "UID map"): the UID map of
 * a folder, which says which target message mailferry put there for which
 * source message, and the rule that picks what to remove from the target.
 *
 * The map is kept beside the flags last synced (checkpoint.h), one value
 * per folder: "<target uidvalidity>\n" then "<source uid> <target uid>\n"
 * per message, ascending by source UID. Only copies mailferry confirmed
 * with APPENDUID (RFC 4315 section 3) enter it: a message recognised on
 * the target, or put there by someone else, is never in it, so it is
 * never removed. A map made under another target UIDVALIDITY names other
 * messages and is dropped whole.
 *
 * The rule (mf__uidmap_gone()): a pair whose source UID is at or below
 * the checkpoint's last_uid (so the last pass saw it) and that the source
 * no longer lists was expunged on the source since then: its target
 * message goes. Source UIDs above last_uid are new and are never judged.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mf__uidmap_clear(struct mf__uidmap *m) {
    free(m->pairs);
    memset(m, 0, sizeof(*m));
}

static int
by_src(const void *a, const void *b) {
    const struct mf__uidpair *x = a, *y = b;
    return x->src < y->src ? -1 : x->src > y->src;
}

void
mf__uidmap_add(struct mf__uidmap *m, uint32_t src, uint32_t tgt) {
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->pairs = mf_xreallocarray(m->pairs, m->cap, sizeof(*m->pairs));
    }
    m->pairs[m->n++] = (struct mf__uidpair){src, tgt};
    m->sorted = m->n == 1 || (m->sorted && m->pairs[m->n - 2].src < src);
}

/* Sorts by source UID; of two pairs with one source UID the later one
 * added wins (a message copied again after its first copy was lost). */
void
mf__uidmap_sort(struct mf__uidmap *m) {
    size_t k = 0;

    if (m->sorted) /* strictly ascending as added: nothing to do */
        return;
    qsort(m->pairs, m->n, sizeof(*m->pairs), by_src);
    for (size_t i = 0; i < m->n; i++) {
        if (k && m->pairs[k - 1].src == m->pairs[i].src)
            k--;
        m->pairs[k++] = m->pairs[i];
    }
    m->n = k;
    m->sorted = true;
}

bool
mf__uidmap_parse(const char *s, struct mf__uidmap *m_r) {
    struct mf__uidmap m = {0};
    char *end;
    unsigned long v;

    v = strtoul(s, &end, 10);
    if (end == s || *end != '\n' || v == 0 || v > UINT32_MAX)
        return false;
    m.tgt_uidvalidity = (uint32_t)v;
    s = end + 1;
    while (*s) {
        unsigned long src, tgt;
        src = strtoul(s, &end, 10);
        if (end == s || *end != ' ' || src == 0 || src > UINT32_MAX)
            goto bad;
        s = end + 1;
        tgt = strtoul(s, &end, 10);
        if (end == s || *end != '\n' || tgt == 0 || tgt > UINT32_MAX)
            goto bad;
        s = end + 1;
        mf__uidmap_add(&m, (uint32_t)src, (uint32_t)tgt);
    }
    mf__uidmap_sort(&m);
    *m_r = m;
    return true;
bad:
    mf__uidmap_clear(&m);
    return false;
}

char *
mf__uidmap_format(struct mf__uidmap *m) {
    struct mf_buf b = {0};

    mf__uidmap_sort(m);
    mf_buf_appendf(&b, "%u\n", m->tgt_uidvalidity);
    for (size_t i = 0; i < m->n; i++)
        mf_buf_appendf(&b, "%u %u\n", m->pairs[i].src, m->pairs[i].tgt);
    return (char *)b.data;
}

size_t
mf__uidmap_gone(struct mf__uidmap *m, uint32_t last_uid,
                const uint32_t *present, size_t npresent,
                struct mf__uidpair **gone_r) {
    struct mf__uidpair *gone = NULL;
    size_t n = 0, k = 0, j = 0;

    mf__uidmap_sort(m);
    for (size_t i = 0; i < m->n; i++) {
        const struct mf__uidpair *p = &m->pairs[i];
        if (p->src > last_uid) {
            m->pairs[k++] = *p;
            continue;
        }
        while (j < npresent && present[j] < p->src)
            j++;
        if (j < npresent && present[j] == p->src) {
            m->pairs[k++] = *p;
            continue;
        }
        gone = mf_xreallocarray(gone, n + 1, sizeof(*gone));
        gone[n++] = *p;
    }
    m->n = k;
    *gone_r = gone;
    return n;
}
