/*
 * The flags last synced of a folder ("flagbase", read by the three-way
 * merge of flagsync.c), stored a UID window at a time (issue 14 item 5: a
 * folder of 1,000,000 messages flag-synced in bounded memory).
 *
 * A line is "<source uid>\t<source flags>\t<target flags>\n": the flags
 * each side had when mailferry last made them agree. The lines of source
 * UIDs k*W+1 .. (k+1)*W (W = MF__FLAGBASE_WINDOW) are one value, sorted
 * by UID, one line per UID, stored as the field "\tfw\t<k>\t<folder>" of
 * the mailbox's flags hash (mf_checkpoint_flags_key(), so batch removal
 * and a full resync still drop them with one DEL), or in the run's memory
 * without Redis. A write merges lines into the windows they fall in (a
 * line for a UID replaces the one stored); a lookup reads one window and
 * keeps it until another one is needed. Memory is then one window read
 * and the lines a caller buffers (it writes them once they pass
 * MF__FLAGBASE_FLUSH_BYTES), not the folder.
 *
 * Lines are never dropped by a pass: those of messages gone from either
 * side stay until the hash is removed. A source UID is not reused within
 * a UIDVALIDITY, so such a line is only read again for that same message,
 * and then says what the two sides last agreed on.
 *
 * The form before windows, one field "<folder>" with every line, is read
 * on the first use of a folder's flagbase in a pass: its lines are
 * written into the windows (over what they hold: a worker of an older
 * version in the same fleet writes only that form, so it is the newer),
 * then the field is deleted. A crash between the two writes the same
 * lines again at the next pass. That pass reads the old value whole,
 * once.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct baseline {
    uint32_t uid;
    const char *src, *tgt; /* into the parsed text */
};

struct mf__flagbase {
    struct mf__run *run; /* borrowed */
    char *folder;        /* owned: the raw source name */
    bool legacy_done;    /* the form before windows looked for */
    /* The window last read, for lookups. */
    bool cached;
    uint32_t k;
    char *text;         /* owned: parsed in place */
    struct baseline *v; /* owned: into text */
    size_t n;
};

void
mf__flagbase_add(struct mf_buf *base, uint32_t uid, const char *src,
                 const char *tgt) {
    mf_buf_appendf(base, "%u\t%s\t%s\n", uid, src ? src : "", tgt ? tgt : "");
}

char *
mf__flagbase_field(const char *folder, uint32_t k) {
    return mf_xasprintf("\tfw\t%u\t%s", k, folder);
}

static uint32_t
window_of(uint32_t uid) {
    return (uid - 1) / MF__FLAGBASE_WINDOW;
}

static int
by_uid_stable(const void *a, const void *b) {
    const struct baseline *x = a, *y = b;
    if (x->uid != y->uid)
        return x->uid < y->uid ? -1 : 1;
    /* Later lines (higher addresses in the one text) win. */
    return x->src < y->src ? -1 : x->src > y->src;
}

/* Parses flagbase text (modified in place) into lines sorted by UID, the
 * last line of a UID kept; malformed lines are left out. */
static struct baseline *
parse_base(char *text, size_t *n_r) {
    struct baseline *v = NULL;
    size_t n = 0, cap = 0, k = 0;

    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n'), *t1, *t2;
        uint64_t uid;
        if (nl)
            *nl = '\0';
        t1 = strchr(p, '\t');
        t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (t2) {
            *t1 = *t2 = '\0';
            if (mf_parse_u64(p, 1, UINT32_MAX, &uid)) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 256;
                    v = mf_xreallocarray(v, cap, sizeof(*v));
                }
                v[n++] = (struct baseline){(uint32_t)uid, t1 + 1, t2 + 1};
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    if (n)
        qsort(v, n, sizeof(*v), by_uid_stable);
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || v[i + 1].uid != v[i].uid)
            v[k++] = v[i];
    *n_r = k;
    return v;
}

struct mf__flagbase *
mf__flagbase_new(struct mf__run *run, const char *folder) {
    struct mf__flagbase *fb = mf_xcalloc(1, sizeof(*fb));

    fb->run = run;
    fb->folder = mf_xstrdup(folder);
    return fb;
}

static void
uncache(struct mf__flagbase *fb) {
    free(fb->v);
    free(fb->text);
    fb->v = NULL;
    fb->text = NULL;
    fb->n = 0;
    fb->cached = false;
}

void
mf__flagbase_free(struct mf__flagbase **fb) {
    if (!*fb)
        return;
    uncache(*fb);
    free((*fb)->folder);
    free(*fb);
    *fb = NULL;
}

/* Merges the sorted lines nv[0..n) (all of window k) into that window. */
static mf_err
merge_window(struct mf__flagbase *fb, uint32_t k, const struct baseline *nv,
             size_t n) {
    char *field = mf__flagbase_field(fb->folder, k), *old = NULL;
    struct baseline *ov = NULL;
    struct mf_buf out = {0};
    size_t on = 0, i = 0, j = 0;
    mf_err rc;

    if ((rc = mf__flagbase_get(fb->run, field, &old)) != MF_E_OK)
        goto out;
    if (old)
        ov = parse_base(old, &on);
    while (i < on || j < n) {
        const struct baseline *b;
        if (j == n || (i < on && ov[i].uid < nv[j].uid))
            b = &ov[i++];
        else {
            if (i < on && ov[i].uid == nv[j].uid)
                i++; /* replaced */
            b = &nv[j++];
        }
        mf__flagbase_add(&out, b->uid, b->src, b->tgt);
    }
    mf_buf_append(&out, "", 1);
    rc = mf__flagbase_put(fb->run, field, (const char *)out.data);
    if (fb->cached && fb->k == k)
        uncache(fb);
out:
    mf_buf_free(&out);
    free(ov);
    free(old);
    free(field);
    return rc;
}

/* Writes lines (text, modified in place) into their windows. */
static mf_err
write_text(struct mf__flagbase *fb, char *text) {
    size_t n;
    struct baseline *v = parse_base(text, &n);
    mf_err rc = MF_E_OK;

    for (size_t i = 0, j; rc == MF_E_OK && i < n; i = j) {
        uint32_t k = window_of(v[i].uid);
        for (j = i + 1; j < n && window_of(v[j].uid) == k; j++)
            ;
        rc = merge_window(fb, k, v + i, j - i);
    }
    free(v);
    return rc;
}

/* The form before windows, once per handle: its lines into the windows
 * (MF__FLAGBASE_FLUSH_BYTES at a time), then gone. */
static mf_err
legacy(struct mf__flagbase *fb) {
    struct mf_buf chunk = {0};
    char *old = NULL;
    mf_err rc;

    if (fb->legacy_done)
        return MF_E_OK;
    if ((rc = mf__flagbase_get(fb->run, fb->folder, &old)) != MF_E_OK || !old)
        goto out;
    for (char *p = old; rc == MF_E_OK && *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        mf_buf_append(&chunk, p, len);
        p += len;
        if (chunk.len >= MF__FLAGBASE_FLUSH_BYTES || !*p) {
            mf_buf_append(&chunk, "\n", 2); /* a last line without one */
            rc = write_text(fb, (char *)chunk.data);
            mf_buf_reset(&chunk);
        }
    }
    if (rc == MF_E_OK)
        rc = mf__flagbase_del(fb->run, fb->folder);
out:
    fb->legacy_done = rc == MF_E_OK;
    mf_buf_free(&chunk);
    free(old);
    return rc;
}

mf_err
mf__flagbase_write(struct mf__flagbase *fb, struct mf_buf *lines) {
    mf_err rc;

    /* Nothing to add: nothing read or written (a folder of a pass that
     * copied nothing and ran no flag sync: every folder of an empty
     * mailbox). */
    if (!lines->len)
        return MF_E_OK;
    if ((rc = legacy(fb)) != MF_E_OK)
        return rc;
    mf_buf_append(lines, "", 1);
    rc = write_text(fb, (char *)lines->data);
    mf_buf_reset(lines);
    return rc;
}

mf_err
mf__flagbase_find(struct mf__flagbase *fb, uint32_t uid, const char **src_r,
                  const char **tgt_r) {
    uint32_t k = window_of(uid);
    size_t lo;
    mf_err rc;

    *src_r = *tgt_r = NULL;
    if ((rc = legacy(fb)) != MF_E_OK)
        return rc;
    if (!fb->cached || fb->k != k) {
        char *field = mf__flagbase_field(fb->folder, k);
        uncache(fb);
        rc = mf__flagbase_get(fb->run, field, &fb->text);
        free(field);
        if (rc != MF_E_OK)
            return rc;
        if (fb->text)
            fb->v = parse_base(fb->text, &fb->n);
        fb->cached = true;
        fb->k = k;
    }
    lo = mf_u32_lower_bound_by(fb->v, fb->n, sizeof(*fb->v),
                               offsetof(struct baseline, uid), uid);
    if (lo < fb->n && fb->v[lo].uid == uid) {
        *src_r = fb->v[lo].src;
        *tgt_r = fb->v[lo].tgt;
    }
    return MF_E_OK;
}

mf_err
mf__flagbase_line(struct mf__run *run, const char *folder, uint32_t uid,
                  char **src_r, char **tgt_r) {
    struct mf__flagbase *fb = mf__flagbase_new(run, folder);
    const char *src, *tgt;
    mf_err rc = mf__flagbase_find(fb, uid, &src, &tgt);

    *src_r = rc == MF_E_OK && src ? mf_xstrdup(src) : NULL;
    *tgt_r = rc == MF_E_OK && src ? mf_xstrdup(tgt) : NULL;
    mf__flagbase_free(&fb);
    return rc;
}
