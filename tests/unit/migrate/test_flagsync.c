/*
 * Unit tests of the incremental flag sync (core/src/migrate/flagsync.c),
 * called directly with a hand-built struct mf__run over two in-memory
 * stores with their folders selected, as folder.c does on a folder with a
 * clean checkpoint.
 *
 * What they prove: the target's flags become the source's (\Recent left
 * out, case ignored when comparing), only pairs that differ get a UID
 * STORE and are counted, pairing is by fingerprint and in UID order among
 * duplicates, messages above last_uid and target-only messages are left
 * alone; a STORE the target refuses (Cyrus's keyword limit) is that
 * message's alone: listed, its flagbase line kept as it was, the other
 * pairs synced; refusals before any STORE was taken (a read-only folder)
 * or a broken session end the sync with that error. Pairs that want the
 * same flags share one UID STORE of up to 1,000 UIDs (a maildir target
 * rescans the folder at each command); a set the target refuses is sent
 * again one UID at a time, so that only the message it will not change
 * fails, also when many messages want a keyword it refuses. And the flags last
 * synced (flagbase.c): kept under new lines, neither read nor written by a pass
 * that adds none (shown by a broken fence, which refuses every write), stored a
 * UID window at a time and written during a long sync, and the form before
 * windows read, rewritten as windows and removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

#include "mailferry/fence.h"

struct t {
    struct mf_mem_server *src, *dst;
    struct mf_migrate_options o;
    struct mf_migrate_result res;
    struct mf__run run;
    struct mf_mem_folder *sf, *df;
    uint32_t tgt_last; /* the target's last UID when selected */
};

static int
setup(void **state) {
    struct t *t = calloc(1, sizeof(*t));

    t->src = mf_mem_server_new('.');
    t->dst = mf_mem_server_new('/');
    t->sf = mf_mem_folder_find(t->src, "INBOX");
    t->df = mf_mem_folder_find(t->dst, "INBOX");
    t->run.o = &t->o;
    t->run.res = &t->res;
    t->run.mailbox = "user@example.org";
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    mf_store_close(&t->run.src);
    mf_store_close(&t->run.dst);
    mf__ckpt_mem_free(&t->run.mem);
    mf_migrate_result_clear(&t->res);
    mf_mem_server_free(&t->src);
    mf_mem_server_free(&t->dst);
    free(t);
    return 0;
}

/* The flag sync of INBOX, with no flags last synced (the flagbase it
 * produces is dropped). */
static mf_err
flag_sync(struct t *t, uint32_t last_uid) {
    struct mf__flagbase *fb = mf__flagbase_new(&t->run, "INBOX");
    struct mf_buf base = {0};
    mf_err rc = mf__migrate_flag_sync(&t->run, "INBOX", fb, last_uid,
                                      t->tgt_last, &base);
    mf_buf_free(&base);
    mf__flagbase_free(&fb);
    return rc;
}

/* The same with the flagbase it produces, into *base_r (owned). */
static mf_err
flag_sync_base(struct t *t, uint32_t last_uid, char **base_r) {
    struct mf__flagbase *fb = mf__flagbase_new(&t->run, "INBOX");
    struct mf_buf base = {0};
    mf_err rc = mf__migrate_flag_sync(&t->run, "INBOX", fb, last_uid,
                                      t->tgt_last, &base);
    mf_buf_append(&base, "", 1);
    *base_r = (char *)base.data;
    mf__flagbase_free(&fb);
    return rc;
}

/* Writes base into INBOX's flags last synced (emptied). */
static mf_err
save(struct t *t, struct mf_buf *base) {
    struct mf__flagbase *fb = mf__flagbase_new(&t->run, "INBOX");
    mf_err rc = mf__flagbase_write(fb, base);

    mf__flagbase_free(&fb);
    return rc;
}

/* Window k of INBOX's flags last synced as stored (owned, NULL: none). */
static char *
stored_window(struct t *t, uint32_t k) {
    char *field = mf__flagbase_field("INBOX", k), *v = NULL;

    assert_int_equal(mf__flagbase_get(&t->run, field, &v), MF_E_OK);
    free(field);
    return v;
}

/* The line of uid as "src|tgt" into out ("-" when there is none). */
static void
line_of(struct mf__flagbase *fb, uint32_t uid, char *out, size_t n) {
    const char *src, *tgt;

    assert_int_equal(mf__flagbase_find(fb, uid, &src, &tgt), MF_E_OK);
    if (src)
        snprintf(out, n, "%s|%s", src, tgt);
    else
        snprintf(out, n, "-");
}

/* Opens both stores and selects INBOX (the target read-only if asked). */
static void
open_both(struct t *t, bool dst_readonly) {
    struct mf_error err = {0};
    struct mf_store_select sel;

    assert_int_equal(mf_store_mem_open(t->src, &t->run.src, &err, NULL),
                     MF_E_OK);
    assert_int_equal(mf_store_mem_open(t->dst, &t->run.dst, &err, NULL),
                     MF_E_OK);
    assert_int_equal(t->run.src->ops->select(t->run.src, "INBOX", true, &sel),
                     MF_E_OK);
    assert_int_equal(
        t->run.dst->ops->select(t->run.dst, "INBOX", dst_readonly, &sel),
        MF_E_OK);
    t->tgt_last = sel.uidnext ? sel.uidnext - 1 : 0;
}

/* The same message on both sides with different flags. */
static void
pair(struct t *t, const char *tag, unsigned date_no, const char *sflags,
     const char *dflags) {
    add_msg(t->sf, tag, 400, sflags, date_no);
    add_msg(t->df, tag, 400, dflags, date_no);
}

static void
expect_flags(struct mf_mem_folder *f, size_t i, const char *want) {
    char a[256], b[256];

    norm_flags(f->msgs[i].flags, a, sizeof(a));
    norm_flags(want, b, sizeof(b));
    if (strcmp(a, b) != 0)
        fail_msg("message %zu (uid %u): flags \"%s\", want \"%s\"", i,
                 f->msgs[i].uid, f->msgs[i].flags, want);
}

static void
test_flags_follow_source(void **state) {
    struct t *t = *state;

    pair(t, "a", 1, "\\Seen", "");                         /* differs */
    pair(t, "b", 2, "\\Seen $Work", "\\Seen $Work");       /* same */
    pair(t, "c", 3, "", "\\Seen \\Flagged");               /* differs */
    pair(t, "d", 4, "\\Seen \\Recent", "\\Seen");          /* same: \Recent */
    pair(t, "e", 5, "\\SEEN $work", "\\Seen $Work");       /* same: case */
    pair(t, "f", 6, "\\Answered \\Seen", "\\Seen");        /* differs */
    pair(t, "g", 7, "$Label1 $Label2", "$Label2 $Label1"); /* same: order */
    /* Only on the target: untouched. */
    add_msg(t->df, "extra", 400, "\\Deleted", 8);
    open_both(t, false);

    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 3);
    assert_int_equal(t->dst->stats.flag_changes, 3);
    expect_flags(t->df, 0, "\\Seen");
    expect_flags(t->df, 2, "");
    expect_flags(t->df, 5, "\\Answered \\Seen");
    expect_flags(t->df, 7, "\\Deleted");
    /* Nothing changed on the source. */
    assert_int_equal(t->src->stats.flag_changes, 0);

    /* Again: nothing left to do. */
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 3);
}

static void
test_last_uid_bounds(void **state) {
    struct t *t = *state;

    pair(t, "a", 1, "\\Seen", "");
    pair(t, "b", 2, "\\Seen", "");
    pair(t, "c", 3, "\\Seen", ""); /* above last_uid: a later copy's job */
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 2);
    expect_flags(t->df, 0, "\\Seen");
    expect_flags(t->df, 1, "\\Seen");
    expect_flags(t->df, 2, "");
    /* last_uid 0: nothing at all. */
    assert_int_equal(flag_sync(t, 0), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 2);
}

static void
test_duplicates_pair_in_order(void **state) {
    struct t *t = *state;

    /* The same message three times on each side; the flags of the n-th
     * source copy go to the n-th target copy. */
    pair(t, "twin", 1, "\\Seen", "");
    pair(t, "twin", 1, "", "");
    pair(t, "twin", 1, "\\Flagged", "");
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 2);
    expect_flags(t->df, 0, "\\Seen");
    expect_flags(t->df, 1, "");
    expect_flags(t->df, 2, "\\Flagged");
}

static void
test_many(void **state) {
    struct t *t = *state;
    unsigned changed = 0;

    /* More differences than the sync keeps in flight (64). */
    for (unsigned i = 0; i < 500; i++) {
        char tag[32];
        bool differ = i % 3 == 0;
        snprintf(tag, sizeof(tag), "m%u", i);
        pair(t, tag, i, "\\Seen", differ ? "" : "\\Seen");
        changed += differ;
    }
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, changed);
    assert_null(folders_differ(t->sf, t->df, true));
}

/* 2,500 pairs wanting two flag sets, interleaved: one UID STORE per
 * 1,000 of a set (3 + 3), not one per message: a maildir target (Dovecot)
 * rescans the whole folder at each command that changed it, which made a
 * flag sync of 100,000 changes in a folder of 1,000,000 messages take
 * about a second a message (issue 14 item 5). */
static void
test_grouped_stores(void **state) {
    struct t *t = *state;

    for (unsigned i = 0; i < 2500; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "g%u", i);
        pair(t, tag, i, i % 2 ? "\\Seen" : "\\Flagged", "");
    }
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 2500);
    assert_int_equal(t->dst->stats.flag_changes, 2500);
    assert_int_equal(t->dst->stats.flag_cmds, 4);
    assert_int_equal(t->dst->stats.max_flag_uids, 1000);
    assert_int_equal(t->res.n_failed, 0);
    assert_null(folders_differ(t->sf, t->df, true));
}

/* A set the target refuses whole because of one message is sent again a
 * UID at a time: that one is listed, the 29 others are set. */
static void
test_grouped_refused_one(void **state) {
    struct t *t = *state;

    for (unsigned i = 0; i < 30; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "r%u", i);
        pair(t, tag, i, "\\Flagged", "");
    }
    t->dst->faults.flags_refuse_uid = t->df->msgs[7].uid;
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 29);
    /* The 29 singles taken (a refused command is not counted). */
    assert_int_equal(t->dst->stats.flag_cmds, 29);
    assert_int_equal(t->res.n_failed, 1);
    assert_int_equal(t->res.failed[0].uid, t->sf->msgs[7].uid);
    assert_int_equal(t->res.failed[0].error.code, MF_E_IMAP_NO);
    expect_flags(t->df, 7, "");
    expect_flags(t->df, 6, "\\Flagged");
    expect_flags(t->df, 8, "\\Flagged");
}

/* More messages than MF__MAX_CONSECUTIVE_REJECTS want a keyword the
 * target refuses (Cyrus's keyword limit), listed first: grouped, their
 * refusals come in a row, but the target took the other pairs' STORE, so
 * each is listed and the sync succeeds. */
static void
test_grouped_refused_many(void **state) {
    struct t *t = *state;
    unsigned n = 3 * MF__MAX_CONSECUTIVE_REJECTS;

    for (unsigned i = 0; i < n + 5; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "k%u", i);
        pair(t, tag, i, i < n ? "\\Seen $TooMany" : "\\Seen", "");
    }
    t->dst->faults.flags_refuse_marker = "$TooMany";
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 5);
    assert_int_equal(t->res.n_failed, n);
    expect_flags(t->df, n, "\\Seen");
    expect_flags(t->df, 0, "");
}

/* Nothing on the target yet (the copy found an empty folder): no
 * qsort(NULL, 0, ...), which is undefined and makes UBSan abort. */
static void
test_empty_target(void **state) {
    struct t *t = *state;

    add_msg(t->sf, "a", 400, "\\Seen", 1);
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[0].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 0);
    assert_int_equal(t->df->n, 0);
}

static void
test_refused_store(void **state) {
    struct t *t = *state;

    for (unsigned i = 0; i < MF__MAX_CONSECUTIVE_REJECTS; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "a%u", i);
        pair(t, tag, i + 1, "\\Seen", "");
    }
    open_both(t, true); /* read-only: the mem store answers NO */
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_IMAP_NO);
    assert_int_equal(t->run.err.code, MF_E_IMAP_NO);
    assert_int_equal(t->res.stats.flags_updated, 0);
    expect_flags(t->df, 0, "");
    /* Those before the one that ended it are listed. */
    assert_int_equal(t->res.n_failed, MF__MAX_CONSECUTIVE_REJECTS - 1);
}

/* Cyrus refuses a STORE that would pass a folder's keyword limit ("NO Too
 * many user flags in mailbox"): that message is listed (source UID, what
 * was wanted, the answer), its flagbase line stays the one before (none
 * here) so that the next pass tries again; the other pairs are synced and
 * the sync succeeds. Before, the first refusal failed the folder's sync,
 * and with it the checkpoint of every pass after. */
static void
test_store_refused_one(void **state) {
    struct t *t = *state;
    char *base = NULL;

    pair(t, "a", 1, "\\Seen", "");
    pair(t, "b", 2, "\\Flagged $TooMany", "\\Flagged");
    pair(t, "c", 3, "\\Answered", "");
    t->dst->faults.flags_refuse_marker = "$TooMany";
    open_both(t, false);
    assert_int_equal(flag_sync_base(t, t->sf->msgs[t->sf->n - 1].uid, &base),
                     MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 2);
    expect_flags(t->df, 0, "\\Seen");
    expect_flags(t->df, 1, "\\Flagged");
    expect_flags(t->df, 2, "\\Answered");
    assert_int_equal(t->res.n_failed, 1);
    assert_int_equal(t->res.failed[0].uid, t->sf->msgs[1].uid);
    assert_int_equal(t->res.failed[0].size, 400);
    assert_int_equal(t->res.failed[0].error.code, MF_E_IMAP_NO);
    assert_non_null(strstr(t->res.failed[0].error.detail, "flags not set"));
    assert_non_null(strstr(t->res.failed[0].error.detail, "$TooMany"));
    assert_non_null(
        strstr(t->res.failed[0].error.detail, "Too many user flags"));
    /* Flagbase lines for the two stored, none for the refused one. */
    assert_non_null(strstr(base, "\t\\Seen\t\\Seen\n"));
    assert_non_null(strstr(base, "\t\\Answered\t\\Answered\n"));
    assert_null(strstr(base, "$TooMany"));
    free(base);
}

/* With a flagbase line before, the refused pair keeps it: the next pass
 * sees the source's change again and sends it again. */
static void
test_store_refused_keeps_base(void **state) {
    struct t *t = *state;
    struct mf_buf first = {0};
    char *base = NULL;
    char line[64];

    pair(t, "a", 1, "\\Flagged", "\\Flagged");
    open_both(t, false);
    /* The flags last synced: the copy's. */
    mf__flagbase_add(&first, t->sf->msgs[0].uid, "\\Flagged", "\\Flagged");
    assert_int_equal(save(t, &first), MF_E_OK);
    mf_buf_free(&first);
    /* The user adds a keyword the target will not take. */
    mf_mem_msg_set_flags(&t->sf->msgs[0], "\\Flagged $TooMany");
    t->dst->faults.flags_refuse_marker = "$TooMany";
    assert_int_equal(flag_sync_base(t, t->sf->msgs[t->sf->n - 1].uid, &base),
                     MF_E_OK);
    assert_int_equal(t->res.n_failed, 1);
    snprintf(line, sizeof(line), "%u\t\\Flagged\t\\Flagged\n",
             t->sf->msgs[0].uid);
    assert_string_equal(base, line);
    free(base);
}

/* Both folders listed three UIDs at a time (pairing.c): a window with no
 * message at all (UIDs 4-6 expunged), one with a UID missing inside it
 * (8), copies further up the target than their source UIDs (five
 * target-only messages first, and the copy of UID 7 last), and twins in
 * windows far apart: the same pairs as one listing of each folder gives,
 * the n-th twin's flags on the n-th copy. */
static void
test_windows(void **state) {
    struct t *t = *state;
    size_t copy_of[20];
    char tag[32];

    t->o.uid_window = 3;
    for (unsigned i = 0; i < 5; i++) {
        snprintf(tag, sizeof(tag), "target-only%u", i);
        add_msg(t->df, tag, 300, "$Mine", 100 + i);
    }
    for (unsigned i = 0; i < 20; i++) {
        bool twin = i == 2 || i == 15; /* UIDs 3 and 16 */
        snprintf(tag, sizeof(tag), "w%u", twin ? 2 : i);
        add_msg(t->sf, tag, 400, i % 2 ? "\\Seen" : "\\Flagged", twin ? 2 : i);
    }
    for (uint32_t uid = 4; uid <= 6; uid++)
        assert_true(mf_mem_msg_remove(t->sf, uid));
    assert_true(mf_mem_msg_remove(t->sf, 8));
    assert_int_equal(t->sf->n, 16);
    /* Source index 3 is UID 7: copied last. */
    for (size_t k = 0; k < t->sf->n; k++) {
        size_t i = k < 3 ? k : k + 1 < t->sf->n ? k + 1 : 3;
        const struct mf_mem_msg *m = &t->sf->msgs[i];
        mf_mem_msg_add(t->df, "", m->date, m->body, m->len);
        copy_of[i] = t->df->n - 1;
    }
    open_both(t, false);
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    assert_int_equal(t->res.stats.flags_updated, 16);
    for (size_t i = 0; i < 5; i++)
        expect_flags(t->df, i, "$Mine");
    for (size_t i = 0; i < t->sf->n; i++)
        expect_flags(t->df, copy_of[i], t->sf->msgs[i].flags);
    /* Listed in windows, not whole. */
    assert_true(t->src->stats.meta_fetches >= 4);
    assert_true(t->dst->stats.meta_fetches >= 4);
}

static void
test_flagbase_kept(void **state) {
    struct t *t = *state;
    struct mf_checkpoint_claim claim = {
        .record_key = "rec", .job_id = "j", .attempt = 1, .worker = "w"};
    struct mf_buf base = {0};
    struct mf_fence fence;
    char *v = NULL;

    mf__flagbase_add(&base, 7, "\\Seen", "\\Seen");
    assert_int_equal(save(t, &base), MF_E_OK);
    assert_int_equal(base.len, 0); /* written: emptied */
    mf__flagbase_add(&base, 3, "\\Flagged", "\\Flagged");
    assert_int_equal(save(t, &base), MF_E_OK);
    v = stored_window(t, 0);
    assert_string_equal(v, "3\t\\Flagged\t\\Flagged\n7\t\\Seen\t\\Seen\n");
    free(v);
    /* A pass that adds nothing writes nothing: no refusal by the broken
     * fence, and what was saved stays. */
    mf_fence_init(&fence, &claim, mf_fence_now_ms() + 60000);
    mf_fence_break(&fence);
    t->o.fence = &fence;
    assert_int_equal(save(t, &base), MF_E_OK);
    mf__flagbase_add(&base, 9, "", "");
    assert_int_equal(save(t, &base), MF_E_FENCED);
    t->o.fence = NULL;
    mf_fence_destroy(&fence);
    mf_buf_free(&base);
    v = stored_window(t, 0);
    assert_non_null(strstr(v, "7"));
    assert_null(strstr(v, "9"));
    free(v);
}

/* The layout: the lines of UIDs k*W+1 .. (k+1)*W in window k, sorted, one
 * per UID; a write merges into the windows its lines fall in (the last
 * line of a UID wins, within a write and over what is stored) and leaves
 * the others alone; a lookup finds a line in any window, and one written
 * after the window was read. */
static void
test_window_layout(void **state) {
    struct t *t = *state;
    const uint32_t w = MF__FLAGBASE_WINDOW;
    struct mf__flagbase *fb;
    struct mf_buf base = {0};
    char *v, want[256], got[64];

    mf__flagbase_add(&base, 2 * w + 5, "\\Seen", "\\Seen");
    mf__flagbase_add(&base, w, "\\Flagged", "");
    mf__flagbase_add(&base, 1, "", "$Mine");
    mf__flagbase_add(&base, w + 1, "\\Answered", "\\Answered");
    mf__flagbase_add(&base, 1, "\\Draft", "\\Draft"); /* wins */
    assert_int_equal(save(t, &base), MF_E_OK);
    v = stored_window(t, 0);
    snprintf(want, sizeof(want), "1\t\\Draft\t\\Draft\n%u\t\\Flagged\t\n", w);
    assert_string_equal(v, want);
    free(v);
    v = stored_window(t, 1);
    snprintf(want, sizeof(want), "%u\t\\Answered\t\\Answered\n", w + 1);
    assert_string_equal(v, want);
    free(v);
    assert_null(stored_window(t, 3));
    /* Merged: UID 1 replaced, 2 added; windows 1 and 2 untouched. */
    mf__flagbase_add(&base, 2, "", "");
    mf__flagbase_add(&base, 1, "\\Seen", "\\Seen $Mine");
    assert_int_equal(save(t, &base), MF_E_OK);
    v = stored_window(t, 0);
    snprintf(want, sizeof(want),
             "1\t\\Seen\t\\Seen $Mine\n2\t\t\n%u\t\\Flagged\t\n", w);
    assert_string_equal(v, want);
    free(v);
    fb = mf__flagbase_new(&t->run, "INBOX");
    line_of(fb, 1, got, sizeof(got));
    assert_string_equal(got, "\\Seen|\\Seen $Mine");
    line_of(fb, 2 * w + 5, got, sizeof(got));
    assert_string_equal(got, "\\Seen|\\Seen");
    line_of(fb, 3, got, sizeof(got));
    assert_string_equal(got, "-");
    line_of(fb, w + 1, got, sizeof(got));
    assert_string_equal(got, "\\Answered|\\Answered");
    /* A write through the handle is seen by its next lookup. */
    mf__flagbase_add(&base, w + 1, "", "");
    assert_int_equal(mf__flagbase_write(fb, &base), MF_E_OK);
    line_of(fb, w + 1, got, sizeof(got));
    assert_string_equal(got, "|");
    line_of(fb, 4 * w, got, sizeof(got));
    assert_string_equal(got, "-");
    mf__flagbase_free(&fb);
    /* Another folder's lines are apart. */
    fb = mf__flagbase_new(&t->run, "Sent");
    line_of(fb, 1, got, sizeof(got));
    assert_string_equal(got, "-");
    mf__flagbase_free(&fb);
    mf_buf_free(&base);
}

/* The form before windows (one value "<folder>" with every line, any
 * order) is read on first use, written into windows over what they hold,
 * and removed; a sync then merges against it as before. */
static void
test_legacy_migrated(void **state) {
    struct t *t = *state;
    const uint32_t w = MF__FLAGBASE_WINDOW;
    struct mf__flagbase *fb;
    struct mf_buf old = {0}, base = {0};
    char *v, want[256], got[64];

    /* A window written by this version, then an older worker's value. */
    mf__flagbase_add(&base, 3, "\\Deleted", "\\Deleted");
    mf__flagbase_add(&base, 4, "\\Draft", "\\Draft");
    assert_int_equal(save(t, &base), MF_E_OK);
    mf__flagbase_add(&old, w + 7, "\\Seen", "\\Seen");
    mf__flagbase_add(&old, 3, "\\Flagged", "\\Flagged");
    mf__flagbase_add(&old, 3, "\\Answered", ""); /* the later one wins */
    mf_buf_appendf(&old, "%u\tno\tlast newline", 2 * w + 1);
    mf_buf_append(&old, "", 1);
    assert_int_equal(mf__flagbase_put(&t->run, "INBOX", (char *)old.data),
                     MF_E_OK);
    fb = mf__flagbase_new(&t->run, "INBOX");
    line_of(fb, 3, got, sizeof(got));
    assert_string_equal(got, "\\Answered|");
    assert_int_equal(mf__flagbase_get(&t->run, "INBOX", &v), MF_E_OK);
    assert_null(v); /* gone */
    line_of(fb, 4, got, sizeof(got));
    assert_string_equal(got, "\\Draft|\\Draft");
    line_of(fb, w + 7, got, sizeof(got));
    assert_string_equal(got, "\\Seen|\\Seen");
    line_of(fb, 2 * w + 1, got, sizeof(got));
    assert_string_equal(got, "no|last newline");
    mf__flagbase_free(&fb);
    v = stored_window(t, 0);
    assert_string_equal(v, "3\t\\Answered\t\n4\t\\Draft\t\\Draft\n");
    free(v);
    v = stored_window(t, 1);
    snprintf(want, sizeof(want), "%u\t\\Seen\t\\Seen\n", w + 7);
    assert_string_equal(v, want);
    free(v);
    /* Migrated by a write as well (nothing read before). */
    mf_buf_reset(&old);
    mf__flagbase_add(&old, 9, "\\Seen", "\\Seen");
    mf_buf_append(&old, "", 1);
    assert_int_equal(mf__flagbase_put(&t->run, "INBOX", (char *)old.data),
                     MF_E_OK);
    mf__flagbase_add(&base, 10, "", "");
    assert_int_equal(save(t, &base), MF_E_OK);
    v = stored_window(t, 0);
    assert_string_equal(v, "3\t\\Answered\t\n4\t\\Draft\t\\Draft\n"
                           "9\t\\Seen\t\\Seen\n10\t\t\n");
    free(v);
    assert_int_equal(mf__flagbase_get(&t->run, "INBOX", &v), MF_E_OK);
    assert_null(v);
    mf_buf_free(&old);
    mf_buf_free(&base);
}

/* A flag sync over a folder whose flags last synced are in the form
 * before windows merges against them (the target's own change kept,
 * the source's carried), and leaves them windowed. */
static void
test_legacy_sync(void **state) {
    struct t *t = *state;
    struct mf_buf old = {0};
    char *v;

    pair(t, "a", 1, "\\Seen", "\\Seen");
    pair(t, "b", 2, "", "\\Flagged");
    open_both(t, false);
    mf__flagbase_add(&old, t->sf->msgs[0].uid, "", "");
    mf__flagbase_add(&old, t->sf->msgs[1].uid, "", "");
    mf_buf_append(&old, "", 1);
    assert_int_equal(mf__flagbase_put(&t->run, "INBOX", (char *)old.data),
                     MF_E_OK);
    mf_buf_free(&old);
    /* Source read a; the user flagged b on the target. */
    mf_mem_msg_set_flags(&t->df->msgs[0], "");
    assert_int_equal(flag_sync(t, t->sf->msgs[t->sf->n - 1].uid), MF_E_OK);
    expect_flags(t->df, 0, "\\Seen");
    expect_flags(t->df, 1, "\\Flagged");
    assert_int_equal(mf__flagbase_get(&t->run, "INBOX", &v), MF_E_OK);
    assert_null(v);
    v = stored_window(t, 0);
    assert_non_null(v);
    free(v);
}

/* Lines past MF__FLAGBASE_FLUSH_BYTES are written during the sync, not
 * held to its end: 30,000 pairs over three windows, every line there
 * after, and the base the caller holds smaller than the whole. */
static void
test_sync_writes_as_it_goes(void **state) {
    struct t *t = *state;
    enum { N = 30000 };
    struct mf__flagbase *fb;
    struct mf_buf base = {0};
    char tag[32];
    size_t whole = 0;

    for (unsigned i = 0; i < N; i++) {
        snprintf(tag, sizeof(tag), "m%u", i);
        pair(t, tag, i % 28 + 1, i % 2 ? "\\Seen $Label1 $Label2" : "$Junk",
             i % 2 ? "\\Seen $Label1 $Label2" : "$Junk");
    }
    open_both(t, false);
    fb = mf__flagbase_new(&t->run, "INBOX");
    assert_int_equal(
        mf__migrate_flag_sync(&t->run, "INBOX", fb, N, t->tgt_last, &base),
        MF_E_OK);
    assert_true(base.len < MF__FLAGBASE_FLUSH_BYTES + 4096);
    assert_int_equal(mf__flagbase_write(fb, &base), MF_E_OK);
    for (uint32_t k = 0; k < 3; k++) {
        char *v = stored_window(t, k);
        assert_non_null(v);
        whole += strlen(v);
        free(v);
    }
    assert_true(whole > MF__FLAGBASE_FLUSH_BYTES);
    for (unsigned i = 0; i < N; i += 997) {
        const char *src, *tgt,
            *want = i % 2 ? "\\Seen $Label1 $Label2" : "$Junk";
        assert_int_equal(mf__flagbase_find(fb, t->sf->msgs[i].uid, &src, &tgt),
                         MF_E_OK);
        assert_non_null(src);
        assert_true(mf__flags_same(src, want));
        assert_true(mf__flags_same(tgt, want));
    }
    mf__flagbase_free(&fb);
    mf_buf_free(&base);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_flags_follow_source),
        T(test_last_uid_bounds),
        T(test_duplicates_pair_in_order),
        T(test_many),
        T(test_refused_store),
        T(test_grouped_stores),
        T(test_grouped_refused_one),
        T(test_grouped_refused_many),
        T(test_store_refused_one),
        T(test_store_refused_keeps_base),
        T(test_empty_target),
        T(test_windows),
        T(test_flagbase_kept),
        T(test_window_layout),
        T(test_legacy_migrated),
        T(test_legacy_sync),
        T(test_sync_writes_as_it_goes),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
