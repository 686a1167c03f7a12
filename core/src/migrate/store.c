/* What every store implementation shares (see mailferry/store.h). */
#include "mailferry/store.h"
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mf_store_cancel(struct mf_store *st) {
    if (st && st->ops->cancel)
        st->ops->cancel(st);
}

void
mf_store_close(struct mf_store **st) {
    if (*st) {
        (*st)->ops->close(*st);
        *st = NULL;
    }
}

mf_err
mf_store_folders(struct mf_store *st, bool subscribe, const char *const *names,
                 size_t n, struct mf_error *errs) {
    uint32_t retry_after_ms = 0;

    if (st->ops->folders)
        return st->ops->folders(st, subscribe, names, n, errs);
    for (size_t i = 0; i < n; i++) {
        mf_err rc = subscribe ? st->ops->subscribe(st, names[i])
                              : st->ops->create(st, names[i]);
        memset(&errs[i], 0, sizeof(errs[i]));
        if (rc == MF_E_OK)
            continue;
        errs[i] = st->error;
        if (mf_err_class_of(rc) == MF_ERRCLASS_RECONNECT)
            return rc;
        if (st->retry_after_ms > retry_after_ms)
            retry_after_ms = st->retry_after_ms;
    }
    st->retry_after_ms = retry_after_ms;
    return MF_E_OK;
}

mf_err
mf_store_fail(struct mf_store *st, mf_err code, const char *fmt, ...) {
    va_list ap;

    st->error.code = code;
    va_start(ap, fmt);
    vsnprintf(st->error.detail, sizeof(st->error.detail), fmt, ap);
    va_end(ap);
    st->retry_after_ms = 0;
    return code;
}

/* ------------------------------------------------------------------ */
/* Folder lists for the folder plan                                    */
/* ------------------------------------------------------------------ */

static mf_err
on_src_folder(void *ud, const struct mf_store_folder *f) {
    struct mf_store_lists *l = ud;
    struct mf_folder_src *s;

    l->src = mf_xreallocarray(l->src, l->nsrc + 1, sizeof(*l->src));
    s = &l->src[l->nsrc++];
    s->name = mf_xmemdup(f->name, f->len);
    s->len = f->len;
    s->delim = f->delim;
    s->attrs = f->attrs;
    s->subscribed = f->subscribed;
    return MF_E_OK;
}

static mf_err
on_tgt_folder(void *ud, const struct mf_store_folder *f) {
    struct mf_store_lists *l = ud;
    struct mf_folder_tgt *t;

    l->tgt = mf_xreallocarray(l->tgt, l->ntgt + 1, sizeof(*l->tgt));
    t = &l->tgt[l->ntgt++];
    t->name = mf_xmemdup(f->name, f->len);
    t->len = f->len;
    t->attrs = f->attrs;
    if (f->subscribed && !memchr(f->name, '\0', f->len)) {
        l->tgt_subscribed =
            mf_xreallocarray(l->tgt_subscribed, l->ntgt_subscribed + 1,
                             sizeof(*l->tgt_subscribed));
        l->tgt_subscribed[l->ntgt_subscribed++] =
            mf_xstrndup((const char *)f->name, f->len);
    }
    return MF_E_OK;
}

bool
mf__store_lists_tgt_has(const struct mf_store_lists *l, const char *name) {
    size_t n = strlen(name);

    for (size_t i = 0; i < l->ntgt; i++)
        if (l->tgt[i].len == n && memcmp(l->tgt[i].name, name, n) == 0)
            return true;
    return false;
}

bool
mf__store_lists_tgt_subscribed(const struct mf_store_lists *l,
                               const char *name) {
    for (size_t i = 0; i < l->ntgt_subscribed; i++)
        if (strcmp(l->tgt_subscribed[i], name) == 0)
            return true;
    return false;
}

void
mf_store_lists_free(struct mf_store_lists *l) {
    for (size_t i = 0; i < l->nsrc; i++)
        free((void *)l->src[i].name);
    for (size_t i = 0; i < l->ntgt; i++)
        free((void *)l->tgt[i].name);
    for (size_t i = 0; i < l->ntgt_subscribed; i++)
        free(l->tgt_subscribed[i]);
    free(l->tgt_subscribed);
    free(l->src);
    free(l->tgt);
    memset(l, 0, sizeof(*l));
}

mf_err
mf_store_list_source(struct mf_store *st, struct mf_store_lists *l) {
    return st->ops->list(st, on_src_folder, l);
}

mf_err
mf_store_list_target(struct mf_store *st, struct mf_store_lists *l) {
    return st->ops->list(st, on_tgt_folder, l);
}
