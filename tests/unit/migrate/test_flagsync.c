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
 * pairs synced; refusals in a row (a read-only folder) or a broken session
 * end the sync with that error. And the flags last synced
 * (mf__flagbase_save()): kept under new lines, and neither read nor
 * written by a pass that adds none (shown by a broken fence, which
 * refuses every write).
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
    struct mf_buf base = {0};
    mf_err rc = mf__migrate_flag_sync(&t->run, "INBOX", "INBOX", last_uid,
                                      t->tgt_last, &base);
    mf_buf_free(&base);
    return rc;
}

/* The same with the flagbase it produces, into *base_r (owned). */
static mf_err
flag_sync_base(struct t *t, uint32_t last_uid, char **base_r) {
    struct mf_buf base = {0};
    mf_err rc = mf__migrate_flag_sync(&t->run, "INBOX", "INBOX", last_uid,
                                      t->tgt_last, &base);
    mf_buf_append(&base, "", 1);
    *base_r = (char *)base.data;
    return rc;
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
    mf_buf_append(&first, "", 1);
    assert_int_equal(mf__flagbase_save(&t->run, "INBOX", &first, false),
                     MF_E_OK);
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
    assert_int_equal(mf__flagbase_save(&t->run, "INBOX", &base, true), MF_E_OK);
    mf_buf_free(&base);
    mf__flagbase_add(&base, 3, "\\Flagged", "\\Flagged");
    assert_int_equal(mf__flagbase_save(&t->run, "INBOX", &base, true), MF_E_OK);
    mf_buf_free(&base);
    assert_int_equal(mf__flagbase_get(&t->run, "INBOX", &v), MF_E_OK);
    assert_non_null(v);
    assert_non_null(strstr(v, "7"));
    assert_true(strstr(v, "3") < strstr(v, "7")); /* sorted by UID */
    free(v);
    /* A pass that adds nothing writes nothing: no refusal by the broken
     * fence, and what was saved stays. */
    mf_fence_init(&fence, &claim, mf_fence_now_ms() + 60000);
    mf_fence_break(&fence);
    t->o.fence = &fence;
    assert_int_equal(mf__flagbase_save(&t->run, "INBOX", &base, true), MF_E_OK);
    mf__flagbase_add(&base, 9, "", "");
    assert_int_equal(mf__flagbase_save(&t->run, "INBOX", &base, true),
                     MF_E_FENCED);
    t->o.fence = NULL;
    mf_fence_destroy(&fence);
    mf_buf_free(&base);
    assert_int_equal(mf__flagbase_get(&t->run, "INBOX", &v), MF_E_OK);
    assert_non_null(strstr(v, "7"));
    assert_null(strstr(v, "9"));
    free(v);
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
        T(test_store_refused_one),
        T(test_store_refused_keeps_base),
        T(test_empty_target),
        T(test_windows),
        T(test_flagbase_kept),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
