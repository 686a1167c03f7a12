/*
 * Incremental flag sync (DESIGN.md section 8, "Incremental passes"): on a
 * folder copied before, the source's flags and keywords win. Messages are
 * paired by fingerprint (Message-ID, size, INTERNALDATE); among equal
 * fingerprints, in UID order on both sides, so true duplicates pair one
 * for one. Only pairs whose flag sets differ get a UID STORE, pipelined.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
by_fp_uid(const void *a, const void *b) {
    const struct mf__msg *x = a, *y = b;
    int c = memcmp(x->fp.digest, y->fp.digest, sizeof(x->fp.digest));
    if (c)
        return c;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int
cmp_str_ci(const void *a, const void *b) {
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a space-separated flag list (modified in place) into up to max
 * words, sorted ignoring case; returns the count. */
static size_t
split_sorted(char *s, char **w, size_t max) {
    size_t n = 0;

    while (*s && n < max) {
        while (*s == ' ')
            *s++ = '\0';
        if (!*s)
            break;
        w[n++] = s;
        while (*s && *s != ' ')
            s++;
    }
    qsort(w, n, sizeof(*w), cmp_str_ci);
    return n;
}

/* Flag lists are equal as sets, ignoring case (RFC 3501 section 2.3.2). */
static bool
same_flags(const char *a, const char *b) {
    char *ca = mf_xstrdup(a), *cb = mf_xstrdup(b);
    char *ta[256], *tb[256];
    size_t na = split_sorted(ca, ta, MF_ARRAY_LEN(ta));
    size_t nb = split_sorted(cb, tb, MF_ARRAY_LEN(tb));
    bool same = na == nb;

    for (size_t i = 0; same && i < na; i++)
        same = strcasecmp(ta[i], tb[i]) == 0;
    free(ca);
    free(cb);
    return same;
}

struct store_ctx {
    struct mf_error err;
    uint32_t retry_ms;
    uint64_t updated;
};

static void
stored(void *ud, const struct mf_store_done *d) {
    struct store_ctx *c = ud;
    if (d->error.code == MF_E_OK)
        c->updated++;
    else if (c->err.code == MF_E_OK) {
        c->err = d->error;
        c->retry_ms = d->retry_after_ms;
    }
}

mf_err
mf__migrate_flag_sync(struct mf__run *run, const char *label,
                      uint32_t last_uid) {
    struct mf__msglist src = {0}, dst = {0};
    struct store_ctx ctx = {0};
    struct mf_store *st = run->dst;
    size_t i = 0, k = 0;
    mf_err rc;

    if (last_uid == 0)
        return MF_E_OK;
    if ((rc = mf__msglist_fetch(run, run->src, 1, last_uid, true, &src)) ||
        (rc = mf__msglist_fetch(run, st, 1, 0, true, &dst)))
        goto out;
    if (src.n)
        qsort(src.m, src.n, sizeof(*src.m), by_fp_uid);
    if (dst.n)
        qsort(dst.m, dst.n, sizeof(*dst.m), by_fp_uid);
    while (i < src.n && k < dst.n && rc == MF_E_OK) {
        int c = memcmp(src.m[i].fp.digest, dst.m[k].fp.digest,
                       sizeof(src.m[i].fp.digest));
        if (c < 0) {
            i++;
        } else if (c > 0) {
            k++;
        } else {
            if (!same_flags(src.m[i].flags, dst.m[k].flags)) {
                rc = st->ops->set_flags(st, dst.m[k].uid, src.m[i].flags,
                                        stored, &ctx);
                if (rc == MF_E_OK)
                    rc = st->ops->flush(st, 64);
                if (rc != MF_E_OK)
                    rc = mf__run_store_error(run, st, label);
            }
            i++, k++;
        }
    }
    if (rc == MF_E_OK && (rc = st->ops->flush(st, 0)) != MF_E_OK)
        rc = mf__run_store_error(run, st, label);
    if (rc == MF_E_OK && ctx.err.code != MF_E_OK) {
        run->err = ctx.err;
        run->retry_after_ms = ctx.retry_ms;
        rc = ctx.err.code;
    }
    run->res->stats.flags_updated += ctx.updated;
out:
    mf__msglist_clear(&src);
    mf__msglist_clear(&dst);
    return rc;
}
