/*
 * Incremental flag sync (docs/design.md section 8, "Incremental passes") as a
 * three-way merge, so that a pass never undoes what users do on the new
 * server (issue 11 section 4). Messages are paired by fingerprint
 * (Message-ID, size, INTERNALDATE); among equal fingerprints, in UID
 * order on both sides, so true duplicates pair one for one.
 *
 * The flags last synced ("flagbase", flagbase.c: kept beside the
 * checkpoints a UID window at a time) hold per source UID the source's flags
 * and the target's flags as they were when mailferry last made them agree (at
 * the copy, or at the last flag sync). For each flag of a pair:
 *   - changed on the source only: the source's value is applied;
 *   - changed on the target only, or on neither: the target's is kept;
 *   - changed on both sides to different values: --flag-conflict decides
 *     (default: the target, where users read mail after the MX switch).
 * A pair without a flagbase line (copied by a version that kept none,
 * or recognised on the target) follows --flag-conflict for every flag
 * that differs, the default there being the source (what every pass did
 * before). Only pairs whose result differs from the target's flags get a
 * UID STORE, pipelined; the result becomes the pair's new flagbase line.
 *
 * Pairs that want the same flags share one UID STORE of a UID set (issue
 * 14 item 5): a server may pay for each command in the size of the
 * folder (Dovecot's maildir rescans it at every command that changed it,
 * near a second a command at 1,000,000 messages), so a sync that sets
 * \Flagged on 100,000 messages sends about 100 commands, not 100,000. A
 * group of pairs (struct group) goes out once it holds GROUP_UIDS of them
 * (a UID set of at most about 11 KB; Dovecot takes command lines up to
 * 64 KB), when a pair wants flags that no group has and every group is
 * taken (the fullest goes), and at the end of the folder.
 *
 * A STORE the target refuses (a NO or BAD about that message: Cyrus's "NO
 * Too many user flags in mailbox" when a folder would pass its keyword
 * limit) is that message's alone: a refused set is sent again one UID at
 * a time (FLAGS replaces, so a set the server changed in part is set
 * again the same), and a message refused alone is listed as failed (source UID,
 * size, date, the flags wanted and the answer), its flagbase line stays what it
 * was so that the next pass tries again, and the other pairs go on. Only
 * MF__MAX_CONSECUTIVE_REJECTS refusals before the target took any STORE of this
 * sync (a read-only folder, say: once one was taken, refusals are the messages'
 * own, which with pairs grouped by flags come in a row) or a session in trouble
 * end the sync with that error; what was not sent by then is not sent.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

bool
mf__flags_same(const char *a, const char *b) {
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

/* ------------------------------------------------------------------ */
/* The merge                                                           */
/* ------------------------------------------------------------------ */

#define MAX_WORDS 256

/* Whether flag w is in the sorted word list v. */
static bool
has_word(char *const *v, size_t n, const char *w) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], w) == 0)
            return true;
    return false;
}

const char *
mf_flag_conflict_name(enum mf_flag_conflict c) {
    return c == MF_FLAG_CONFLICT_SOURCE ? "source" : "target";
}

mf_err
mf_flag_conflict_parse(const char *s, enum mf_flag_conflict *c_r,
                       struct mf_error *err) {
    if (s && strcmp(s, "source") == 0)
        *c_r = MF_FLAG_CONFLICT_SOURCE;
    else if (s && strcmp(s, "target") == 0)
        *c_r = MF_FLAG_CONFLICT_TARGET;
    else
        return mf_error_set(err, MF_E_USAGE,
                            "--flag-conflict %s: expected source or target",
                            s ? s : "");
    return MF_E_OK;
}

void
mf__flags_merge(const char *s, const char *sb, const char *t, const char *tb,
                enum mf_flag_conflict rule, struct mf_buf *out) {
    char *cs = mf_xstrdup(s), *csb = mf_xstrdup(sb ? sb : ""),
         *ct = mf_xstrdup(t), *ctb = mf_xstrdup(tb ? tb : "");
    char *ws[MAX_WORDS], *wsb[MAX_WORDS], *wt[MAX_WORDS], *wtb[MAX_WORDS];
    size_t ns = split_sorted(cs, ws, MAX_WORDS);
    size_t nsb = split_sorted(csb, wsb, MAX_WORDS);
    size_t nt = split_sorted(ct, wt, MAX_WORDS);
    size_t ntb = split_sorted(ctb, wtb, MAX_WORDS);
    bool source_wins = rule == MF_FLAG_CONFLICT_SOURCE ||
                       (rule == MF_FLAG_CONFLICT_DEFAULT && !sb);
    char **all[2] = {wt, ws};
    size_t nall[2] = {nt, ns};

    mf_buf_reset(out);
    /* Every flag either side has now; one that both dropped stays off. */
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < nall[side]; i++) {
            const char *f = all[side][i];
            bool in_s = has_word(ws, ns, f), in_t = has_word(wt, nt, f);
            bool keep;

            if (side == 1 && in_t)
                continue; /* seen with the target's */
            if (strcasecmp(f, "\\Recent") == 0)
                continue; /* session state, never stored */
            if (!sb) {
                keep = source_wins ? in_s : in_t;
            } else {
                bool s_moved = in_s != has_word(wsb, nsb, f);
                bool t_moved = in_t != has_word(wtb, ntb, f);
                if (s_moved && !t_moved)
                    keep = in_s;
                else if (s_moved && in_s != in_t)
                    keep = rule == MF_FLAG_CONFLICT_SOURCE ? in_s : in_t;
                else
                    keep = in_t;
            }
            if (keep)
                mf_buf_appendf(out, "%s%s", out->len ? " " : "", f);
        }
    mf_buf_append(out, "", 1);
    out->len--;
    free(cs);
    free(csb);
    free(ct);
    free(ctb);
}

/* Pairs wanting the same flags, sent as one UID STORE (header). */
#define GROUPS 8
#define GROUP_UIDS 1000

struct store_ctx {
    struct mf_error err;
    uint32_t retry_ms;
    uint64_t updated;
    unsigned refused; /* while none was taken */
};

struct pending;

/* Pairs that want flags, not sent yet; flags NULL: a free group. */
struct group {
    char *flags;         /* owned */
    struct pending **ps; /* owned array of GROUP_UIDS, n of them taken */
    size_t n;
};

/* One pair's merge and, when the target's flags are not the result, its
 * place in a group of pairs wanting the same flags (64 STOREs in
 * flight). */
struct sync_ctx {
    struct mf__run *run;
    const char *label;
    struct mf_store *st;
    struct mf__flagbase *fb; /* borrowed */
    struct mf_buf *base, want;
    struct store_ctx stored;
    struct group groups[GROUPS];
    /* Pairs of a refused set, to send again alone. */
    struct pending **retry; /* owned array, with the pairs */
    size_t n_retry, cap_retry;
};

/* A pair whose flags are to be set: what the STORE's answer settles. */
struct pending {
    struct sync_ctx *c;
    uint32_t uid;     /* the source's */
    uint32_t tgt_uid; /* the target's: the one the STORE names */
    uint64_t size;
    char date[40];
    char *src, *want;        /* owned: the flagbase line once stored */
    char *old_src, *old_tgt; /* owned: the line before, or NULL */
};

/* A UID STORE in flight: the pairs its answer settles. */
struct sent {
    struct sync_ctx *c;
    struct pending **ps; /* owned array, with the pairs */
    size_t n;
};

/* Whether the target's answer to one STORE is about that message (it
 * will not take those flags), not about the session or the folder. */
static bool
store_refused(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return code == MF_E_IMAP_BAD ||
           (code != MF_E_MAILBOX_MISSING && (cls == MF_ERRCLASS_FAIL_MESSAGE ||
                                             cls == MF_ERRCLASS_FAIL_MAILBOX));
}

static void
refused(struct pending *p, const struct mf_store_done *d) {
    struct sync_ctx *c = p->c;
    struct mf_error e = d->error;

    snprintf(e.detail, sizeof(e.detail),
             "flags not set (wanted \"%.80s\"): %.140s", p->want,
             d->error.detail);
    mf__run_item(c->run, true, c->label, p->uid, p->size, p->date, NULL, &e);
}

static void
pending_free(struct pending *p) {
    free(p->src);
    free(p->want);
    free(p->old_src);
    free(p->old_tgt);
    free(p);
}

/* One pair's answer: its new flagbase line, or the refusal listed. */
static void
settle(struct pending *p, const struct mf_store_done *d) {
    struct store_ctx *c = &p->c->stored;

    if (d->error.code == MF_E_OK) {
        c->updated++;
        mf__flagbase_add(p->c->base, p->uid, p->src, p->want);
    } else {
        /* Not set: the line before stays (none: the next pass merges
         * without one), so the next pass tries again. */
        if (p->old_src)
            mf__flagbase_add(p->c->base, p->uid, p->old_src, p->old_tgt);
        if (store_refused(d->error.code) && c->err.code == MF_E_OK &&
            (c->updated > 0 || ++c->refused < MF__MAX_CONSECUTIVE_REJECTS))
            refused(p, d);
        else if (c->err.code == MF_E_OK) {
            c->err = d->error;
            c->retry_ms = d->retry_after_ms;
        }
    }
    pending_free(p);
}

static void
stored(void *ud, const struct mf_store_done *d) {
    struct sent *t = ud;
    struct sync_ctx *c = t->c;
    bool again = t->n > 1 && store_refused(d->error.code);

    for (size_t i = 0; i < t->n; i++) {
        if (!again) {
            settle(t->ps[i], d);
            continue;
        }
        if (c->n_retry == c->cap_retry) {
            c->cap_retry = c->cap_retry ? c->cap_retry * 2 : GROUP_UIDS;
            c->retry =
                mf_xreallocarray(c->retry, c->cap_retry, sizeof(*c->retry));
        }
        c->retry[c->n_retry++] = t->ps[i];
    }
    free(t->ps);
    free(t);
}

static int
cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* One UID STORE of the n pairs (they all want flags); they are its
 * callback's from here on, or freed when it cannot be queued. */
static mf_err
send_set(struct sync_ctx *c, const char *flags, struct pending **ps, size_t n) {
    struct mf_store *st = c->st;
    uint32_t *uids = mf_xreallocarray(NULL, n, sizeof(*uids));
    struct sent *t;
    mf_err rc;

    if (c->stored.err.code != MF_E_OK) { /* the sync has ended */
        for (size_t i = 0; i < n; i++)
            pending_free(ps[i]);
        free(uids);
        return MF_E_OK;
    }
    t = mf_xcalloc(1, sizeof(*t));
    for (size_t i = 0; i < n; i++)
        uids[i] = ps[i]->tgt_uid;
    qsort(uids, n, sizeof(*uids), cmp_u32);
    t->c = c;
    t->n = n;
    t->ps = mf_xmemdup(ps, n * sizeof(*ps));
    rc = st->ops->set_flags(st, uids, n, flags, stored, t);
    free(uids);
    if (rc != MF_E_OK) { /* not queued: stored() never runs */
        for (size_t i = 0; i < n; i++)
            pending_free(t->ps[i]);
        free(t->ps);
        free(t);
    } else {
        rc = st->ops->flush(st, 64);
    }
    return rc == MF_E_OK ? MF_E_OK : mf__run_store_error(c->run, st, c->label);
}

static mf_err
send_group(struct sync_ctx *c, struct group *g) {
    mf_err rc = MF_E_OK;

    if (g->n)
        rc = send_set(c, g->flags, g->ps, g->n);
    g->n = 0;
    free(g->flags);
    g->flags = NULL;
    return rc;
}

/* The pairs of refused sets, each in a STORE of its own. */
static mf_err
send_retries(struct sync_ctx *c) {
    mf_err rc = MF_E_OK;

    while (c->n_retry && rc == MF_E_OK) {
        struct pending **ps = c->retry;
        size_t n = c->n_retry, i = 0;

        /* Answers coming in meanwhile may refuse more sets. */
        c->retry = NULL;
        c->n_retry = c->cap_retry = 0;
        for (; i < n && rc == MF_E_OK; i++)
            rc = send_set(c, ps[i]->want, &ps[i], 1);
        for (; i < n; i++)
            pending_free(ps[i]);
        free(ps);
    }
    return rc;
}

/* Puts p in the group wanting its flags: a free one, or the fullest one
 * sent first to make room. */
static mf_err
group_pair(struct sync_ctx *c, struct pending *p) {
    struct group *g = NULL, *room = NULL;
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < GROUPS && !g; i++) {
        struct group *h = &c->groups[i];
        if (h->flags && strcmp(h->flags, p->want) == 0)
            g = h;
        else if (!room || (room->flags && (!h->flags || h->n > room->n)))
            room = h; /* a free one, else the fullest */
    }
    if (!g) {
        g = room;
        if (g->flags && (rc = send_group(c, g)) != MF_E_OK) {
            pending_free(p);
            return rc;
        }
        g->flags = mf_xstrdup(p->want);
        if (!g->ps)
            g->ps = mf_xreallocarray(NULL, GROUP_UIDS, sizeof(*g->ps));
    }
    g->ps[g->n++] = p;
    return g->n == GROUP_UIDS ? send_group(c, g) : MF_E_OK;
}

/* Every group sent, and every refused set again alone, all answered. */
static mf_err
send_all(struct sync_ctx *c) {
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < GROUPS && rc == MF_E_OK; i++)
        rc = send_group(c, &c->groups[i]);
    while (rc == MF_E_OK) {
        if ((rc = c->st->ops->flush(c->st, 0)) != MF_E_OK)
            return mf__run_store_error(c->run, c->st, c->label);
        if (!c->n_retry)
            break;
        rc = send_retries(c);
    }
    return rc;
}

/* What was never sent (the sync ended on an error): its lines stay. */
static void
groups_free(struct sync_ctx *c) {
    for (size_t i = 0; i < GROUPS; i++) {
        struct group *g = &c->groups[i];
        for (size_t k = 0; k < g->n; k++)
            pending_free(g->ps[k]);
        free(g->ps);
        free(g->flags);
    }
    for (size_t i = 0; i < c->n_retry; i++)
        pending_free(c->retry[i]);
    free(c->retry);
}

static mf_err
sync_pair(void *ud, const struct mf__msg *s, const struct mf__msg *t) {
    struct sync_ctx *c = ud;
    const char *want, *bsrc, *btgt;
    struct pending *p;
    mf_err rc;

    /* Written once they are a window's worth (STOREs in flight add
     * theirs as they are answered). */
    if (c->base->len >= MF__FLAGBASE_FLUSH_BYTES &&
        (rc = mf__flagbase_write(c->fb, c->base)) != MF_E_OK)
        return rc;
    if ((rc = mf__flagbase_find(c->fb, s->uid, &bsrc, &btgt)) != MF_E_OK)
        return rc;
    mf__flags_merge(s->flags, bsrc, t->flags, btgt, c->run->o->flag_conflict,
                    &c->want);
    want = (const char *)c->want.data;
    if (mf__flags_same(want, t->flags)) {
        mf__flagbase_add(c->base, s->uid, s->flags, want);
        return MF_E_OK;
    }
    /* Refused sets wait to be sent again alone until every pair before
     * them was sent and answered (a refusal counts as the target's
     * refusing everything only while it took nothing), or a group's
     * worth of them is waiting. */
    if (c->n_retry >= GROUP_UIDS && (rc = send_all(c)) != MF_E_OK)
        return rc;
    p = mf_xcalloc(1, sizeof(*p));
    p->c = c;
    p->uid = s->uid;
    p->tgt_uid = t->uid;
    p->size = s->size;
    snprintf(p->date, sizeof(p->date), "%s", s->date);
    p->src = mf_xstrdup(s->flags ? s->flags : "");
    p->want = mf_xstrdup(want);
    if (bsrc) {
        p->old_src = mf_xstrdup(bsrc);
        p->old_tgt = mf_xstrdup(btgt);
    }
    return group_pair(c, p);
}

mf_err
mf__migrate_flag_sync(struct mf__run *run, const char *label,
                      struct mf__flagbase *fb, uint32_t last_uid,
                      uint32_t tgt_last, struct mf_buf *base) {
    struct sync_ctx c = {
        .run = run, .label = label, .st = run->dst, .fb = fb, .base = base};
    mf_err rc;

    if (last_uid == 0)
        return MF_E_OK;
    /* Both folders in UID windows (pairing.c), not listed whole. */
    rc = mf__pair_folders(run, last_uid, tgt_last, sync_pair, &c);
    if (rc == MF_E_OK)
        rc = send_all(&c);
    /* STOREs still queued answer now (CANCELLED): their callbacks use c
     * and free what they hold. */
    if (rc != MF_E_OK)
        mf_store_cancel(c.st);
    groups_free(&c);
    if (rc == MF_E_OK && c.stored.err.code != MF_E_OK) {
        run->err = c.stored.err;
        run->retry_after_ms = c.stored.retry_ms;
        rc = c.stored.err.code;
    }
    run->res->stats.flags_updated += c.stored.updated;
    mf_buf_free(&c.want);
    return rc;
}
