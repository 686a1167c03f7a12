/*
 * The IMAP store's folders (store_imap_int.h): LIST "" "*" RETURN
 * (SUBSCRIBED SPECIAL-USE) where the server has LIST-EXTENDED (RFC 5258,
 * RFC 6154), else LIST and LSUB; CREATE and SUBSCRIBE, one at a time or
 * every folder of a mailbox pipelined (folders()), so that setting up a
 * mailbox of 15 folders costs one round trip, not 25.
 *
 * LIST entries are copied into an accumulator (a response is valid only
 * inside its callback) and handed to the caller once the command is done,
 * after LSUB has marked the subscribed ones.
 */
#include "migrate/store_imap_int.h"

#include "mailferry/folderplan.h"

#include <stdlib.h>
#include <string.h>

struct folder_copy {
    uint8_t *name;
    size_t len;
    char delim;
    unsigned attrs;
    bool subscribed;
};

struct list_acc {
    struct folder_copy *f;
    size_t n, cap;
};

unsigned
mf__store_imap_attrs(const struct mf_imap_arg *raw, size_t n) {
    unsigned attrs = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a;
        if (mf_imap_arg_as_astring(&raw[i], &a))
            attrs |= mf_folder_attr_parse(a, strlen(a));
    }
    return attrs;
}

static mf_err
on_list_entry(void *ud, const struct mf_imap_list_entry *e) {
    struct list_acc *acc = ud;
    struct folder_copy *f;

    if (acc->n >= MF_FOLDER_COUNT_MAX)
        return MF_E_LIMIT;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 32;
        acc->f = mf_xreallocarray(acc->f, acc->cap, sizeof(*acc->f));
    }
    /* A name listed twice (Dovecot's shared namespace lists a folder
     * once from its ACL list as \Noselect and once as it is): one
     * folder, selectable if any listing says so. */
    for (size_t i = 0; i < acc->n; i++) {
        unsigned a, gone = MF_FOLDER_ATTR_NOSELECT | MF_FOLDER_ATTR_NONEXISTENT;

        f = &acc->f[i];
        if (f->len != e->name_len || memcmp(f->name, e->name, f->len) != 0)
            continue;
        a = mf__store_imap_attrs(e->raw, e->nraw);
        f->attrs = ((f->attrs | a) & ~gone) | (f->attrs & a & gone);
        f->subscribed = f->subscribed || (a & MF_FOLDER_ATTR_SUBSCRIBED);
        return MF_E_OK;
    }
    f = &acc->f[acc->n++];
    f->name = mf_xmemdup(e->name, e->name_len);
    f->len = e->name_len;
    f->delim = e->delimiter;
    f->attrs = mf__store_imap_attrs(e->raw, e->nraw);
    f->subscribed = (f->attrs & MF_FOLDER_ATTR_SUBSCRIBED) != 0;
    return MF_E_OK;
}

/* "* LSUB (attrs) delim name": marks the named folder subscribed. */
static mf_err
on_lsub(void *ud, const struct mf_imap_response *r) {
    struct list_acc *acc = ud;
    const uint8_t *name;
    size_t len;

    if (r->nargs < 3 || !mf_imap_arg_as_string(&r->args[2], &name, &len))
        return MF_E_OK;
    for (size_t i = 0; i < acc->n; i++)
        if (acc->f[i].len == len && memcmp(acc->f[i].name, name, len) == 0)
            acc->f[i].subscribed = true;
    return MF_E_OK;
}

mf_err
mf__store_imap_list(struct mf_store *st, mf_store_folder_cb cb, void *ud) {
    struct imap_store *is = mf__store_imap(st);
    struct list_acc acc = {0};
    bool extended = mf_imap_session_has(is->s, MF_IMAP_CAP_LIST_EXTENDED);
    mf_err rc;

    rc = mf_imap_session_list(is->s, "", is->list_pattern,
                              extended ? "SUBSCRIBED SPECIAL-USE" : NULL,
                              on_list_entry, &acc);
    if (rc != MF_E_OK) {
        rc = mf__store_imap_fail(is, rc);
        goto out;
    }
    if (!extended) {
        struct mf_imap_cmd_spec c = {0};
        struct mf_imap_untagged_prev prev;
        mf_imap_session_push_untagged(is->s, "LSUB", on_lsub, &acc, &prev);
        mf_imap_cmd_text(&c, "LSUB \"\" ");
        if (strcmp(is->list_pattern, "*") == 0)
            mf_imap_cmd_text(&c, "*");
        else
            mf_imap_cmd_astring(&c, (const uint8_t *)is->list_pattern,
                                strlen(is->list_pattern));
        rc = mf__store_imap_run(is, &c);
        mf_imap_session_pop_untagged(is->s, &prev);
        if (rc != MF_E_OK)
            goto out;
    }
    if (rc == MF_E_OK && is->root_inbox) {
        const char *root = is->base.caps.prefix;
        struct mf_store_folder f = {.name = (const uint8_t *)root,
                                    .len = strlen(root) - 1,
                                    .delim = is->base.caps.delim,
                                    .attrs = MF_FOLDER_ATTR_USER_ROOT,
                                    .subscribed = true};
        rc = cb(ud, &f);
    }
    for (size_t i = 0; i < acc.n && rc == MF_E_OK; i++) {
        struct mf_store_folder f = {.name = acc.f[i].name,
                                    .len = acc.f[i].len,
                                    .delim = acc.f[i].delim,
                                    .attrs = acc.f[i].attrs,
                                    .subscribed = acc.f[i].subscribed};
        rc = cb(ud, &f);
    }
out:
    for (size_t i = 0; i < acc.n; i++)
        free(acc.f[i].name);
    free(acc.f);
    return rc;
}

mf_err
mf__store_imap_create(struct mf_store *st, const char *name) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    mf_imap_cmd_text(&c, "CREATE ");
    mf_imap_cmd_astring(&c, (const uint8_t *)name, strlen(name));
    rc = mf__store_imap_run(is, &c);
    /* RFC 5530 ALREADYEXISTS, or the same in words: cmd.c says which. */
    if (rc == MF_E_EXISTS) {
        is->base.error.code = MF_E_OK;
        rc = MF_E_OK;
    }
    return rc;
}

mf_err
mf__store_imap_subscribe(struct mf_store *st, const char *name) {
    struct imap_store *is = mf__store_imap(st);
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "SUBSCRIBE ");
    mf_imap_cmd_astring(&c, (const uint8_t *)name, strlen(name));
    return mf__store_imap_run(is, &c);
}

/* One answered CREATE or SUBSCRIBE of folders(). */
struct folder_ans {
    struct mf_error *err;
    uint32_t *retry_after_ms; /* the largest suggested, shared */
    bool create;
};

static void
folder_done(void *ud, const struct mf_imap_result *res) {
    struct folder_ans *a = ud;

    *a->err = res->error;
    if (res->retry_after_ms > *a->retry_after_ms)
        *a->retry_after_ms = res->retry_after_ms;
    /* RFC 5530 ALREADYEXISTS, or the same in words: cmd.c says which. */
    if (a->create && res->error.code == MF_E_EXISTS)
        memset(a->err, 0, sizeof(*a->err));
}

mf_err
mf__store_imap_folders(struct mf_store *st, bool subscribe,
                       const char *const *names, size_t n,
                       struct mf_error *errs) {
    struct imap_store *is = mf__store_imap(st);
    struct folder_ans *ans = mf_xcalloc(n ? n : 1, sizeof(*ans));
    uint32_t *ids = mf_xcalloc(n ? n : 1, sizeof(*ids));
    size_t sent = 0;
    uint32_t retry_after_ms = 0;
    mf_err rc = MF_E_OK;

    for (; sent < n; sent++) {
        struct mf_imap_cmd_spec c = {0};
        ans[sent].err = &errs[sent];
        ans[sent].retry_after_ms = &retry_after_ms;
        ans[sent].create = !subscribe;
        mf_imap_cmd_text(&c, subscribe ? "SUBSCRIBE " : "CREATE ");
        mf_imap_cmd_astring(&c, (const uint8_t *)names[sent],
                            strlen(names[sent]));
        rc = mf_imap_session_submit(is->s, &c, folder_done, &ans[sent],
                                    &ids[sent]);
        mf_imap_cmd_clear(&c);
        if (rc != MF_E_OK)
            break;
    }
    /* Every submitted command's callback must have run before ans goes:
     * wait for each (once the session breaks, wait() returns its error at
     * once, every callback having run). */
    for (size_t i = 0; i < sent; i++) {
        mf_err w = mf_imap_session_wait(is->s, ids[i], -1);
        if (w != MF_E_OK) {
            if (rc == MF_E_OK)
                rc = w;
            break;
        }
    }
    if (rc != MF_E_OK)
        rc = mf__store_imap_fail(is, rc);
    else
        st->retry_after_ms = retry_after_ms;
    free(ans);
    free(ids);
    return rc;
}
