/*
 * Unit tests of --sync-deletes: the UID map and the rule that picks what
 * to remove (core/src/migrate/deletes.c), and incremental passes over two
 * in-memory servers (folder_delete.c).
 *
 * What they prove: the map's value round-trips, refuses malformed text
 * and keeps the later pair of a source UID; the rule takes only pairs at
 * or below last_uid that the source no longer lists; a message expunged
 * on the source is removed from the target and listed (folder, source
 * UID, size, date, subject), while a message someone else put on the
 * target, a message recognised there (not copied by mailferry) and
 * everything without --sync-deletes stay; a message moved between
 * folders on the source ends in the new folder once, not in both: on a
 * target without MOVE removed and copied again, on one with MOVE moved
 * (UID MOVE, nothing appended, the source's new flags merged in, listed
 * as moved, the copy in the new folder's UID map), and of two copies of
 * one message one moved and one removed; a target without UIDPLUS is
 * refused before anything is copied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

static void
test_map(void **state) {
    struct mf__uidmap m = {0}, back = {0};
    struct mf__uidpair *gone = NULL;
    const uint32_t present[] = {1, 3, 7, 12};
    char *s;
    size_t n;
    static const char *const bad[] = {
        "", "0\n", "5", "5\n1\n", "5\n1 x\n", "5\n0 3\n", "5\n1 2\nx"};

    (void)state;
    m.tgt_uidvalidity = 77;
    mf__uidmap_add(&m, 7, 70);
    mf__uidmap_add(&m, 1, 10);
    mf__uidmap_add(&m, 3, 30);
    mf__uidmap_add(&m, 5, 50);
    mf__uidmap_add(&m, 12, 120);
    mf__uidmap_add(&m, 3, 31); /* copied again: the later pair wins */
    s = mf__uidmap_format(&m);
    assert_string_equal(s, "77\n1 10\n3 31\n5 50\n7 70\n12 120\n");
    assert_true(mf__uidmap_parse(s, &back));
    free(s);
    assert_int_equal(back.tgt_uidvalidity, 77);
    assert_int_equal(back.n, 5);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++)
        if (mf__uidmap_parse(bad[i], &m))
            fail_msg("accepted \"%s\"", bad[i]);

    /* Source UIDs 1, 3, 7, 12 remain, 5 is gone; 12 is above last_uid
     * (new to the last pass's checkpoint) and never judged. */
    n = mf__uidmap_gone(&back, 10, present, MF_ARRAY_LEN(present), &gone);
    assert_int_equal(n, 1);
    assert_int_equal(gone[0].src, 5);
    assert_int_equal(gone[0].tgt, 50);
    assert_int_equal(back.n, 4);
    free(gone);
    n = mf__uidmap_gone(&back, 20, NULL, 0, &gone);
    assert_int_equal(n, 4); /* the folder emptied */
    assert_int_equal(back.n, 0);
    free(gone);
    mf__uidmap_clear(&back);
    mf__uidmap_clear(&m);
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */
/* ------------------------------------------------------------------ */

static int
setup(void **state) {
    memrun_setup(state);
    ((struct memrun *)*state)->o.sync_deletes = true;
    return 0;
}

static void
expect_pass_ok(struct memrun *r) {
    memrun_pass_ok(r);
    assert_int_equal(r->res.stats.failed, 0);
}

static void
expect_same(struct memrun *r, const char *folder) {
    memrun_expect_same(r, folder, folder);
}

static void
test_expunged_removed(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    struct mf_mem_folder *tin;
    uint32_t uids[6];

    for (unsigned i = 0; i < 6; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "m%u", i);
        uids[i] = add_msg(in, tag, 300 + i, i % 2 ? "\\Seen" : "", i);
    }
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 6);
    assert_int_equal(r->res.stats.deleted_on_target, 0);
    /* The user files a message of their own on the target. */
    tin = mf_mem_folder_find(r->env.dst, "INBOX");
    add_msg(tin, "users-own", 200, "", 90);

    assert_true(mf_mem_msg_remove(in, uids[1]));
    assert_true(mf_mem_msg_remove(in, uids[4]));
    add_msg(in, "new", 350, "", 40);
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 1);
    assert_int_equal(r->res.stats.deleted_on_target, 2);
    assert_int_equal(r->res.n_deleted, 2);
    assert_int_equal(r->res.deleted[0].uid, uids[1]);
    assert_int_equal(r->res.deleted[0].size, 301);
    assert_string_equal(r->res.deleted[0].subject, "Message m1");
    assert_string_equal(r->res.deleted[0].folder, "INBOX");
    assert_int_equal(r->res.deleted[0].error.code, MF_E_MESSAGE_DELETED);
    assert_non_null(r->res.deleted[1].date);
    assert_int_equal(r->env.dst->stats.expunged, 2);
    /* Target = source + the user's own message. */
    assert_int_equal(tin->n, in->n + 1);
    /* Nothing more to remove: the map forgot them. */
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.deleted_on_target, 0);
}

/* Removals far apart are asked about one by one (not over their span). */
static void
test_sparse(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    uint32_t uids[300];

    for (unsigned i = 0; i < 300; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "s%u", i);
        uids[i] = add_msg(in, tag, 200 + i, "", i);
    }
    expect_pass_ok(r);
    for (unsigned i = 0; i < 300; i += 30)
        assert_true(mf_mem_msg_remove(in, uids[i]));
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.deleted_on_target, 10);
    assert_int_equal(r->res.n_deleted, 10);
    assert_string_equal(r->res.deleted[9].subject, "Message s270");
    assert_int_equal(r->res.deleted[9].size, 470);
    expect_same(r, "INBOX");
}

static void
test_only_mailferrys(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    struct mf_mem_folder *tin = mf_mem_folder_add(r->env.dst, "INBOX", 0, 0);
    uint32_t a, b;

    /* a is on the target already (an earlier tool copied it): it is
     * recognised, not copied, so never in the map. */
    a = add_msg(in, "a", 300, "", 1);
    add_msg(tin, "a", 300, "", 1);
    b = add_msg(in, "b", 310, "", 2);
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.messages_copied, 1);
    assert_int_equal(r->res.stats.messages_present, 1);
    assert_true(mf_mem_msg_remove(in, a));
    assert_true(mf_mem_msg_remove(in, b));
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.deleted_on_target, 1);
    assert_int_equal(tin->n, 1);
    assert_int_equal(r->res.deleted[0].uid, b);

    /* Without --sync-deletes nothing goes. */
    r->o.sync_deletes = false;
    add_msg(in, "c", 320, "", 3);
    expect_pass_ok(r);
    assert_int_equal(tin->n, 2);
}

/* Moves a message from one source folder to another, as a mail client
 * does: a new UID there, the flags given. */
static uint32_t
move_src(struct mf_mem_folder *from, size_t i, struct mf_mem_folder *to,
         const char *flags) {
    struct mf_mem_msg *m = &from->msgs[i];
    uint32_t uid = mf_mem_msg_add(to, flags, m->date, m->body, m->len);
    assert_true(mf_mem_msg_remove(from, m->uid));
    return uid;
}

/* Where the move tests start: the source's INBOX with i0..i3 and its
 * Archive with one seen message, copied by a first pass. */
static void
inbox_and_archive(struct memrun *r, struct mf_mem_folder **in_r,
                  struct mf_mem_folder **arch_r) {
    *in_r = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    *arch_r = mf_mem_folder_add(r->env.src, "Archive", 0, 0);
    for (unsigned i = 0; i < 4; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "i%u", i);
        add_msg(*in_r, tag, 300 + i, "", i);
    }
    add_msg(*arch_r, "old", 280, "\\Seen", 9);
    expect_pass_ok(r);
}

/* What the last pass did on the target: messages removed there, moved
 * there and copied. */
static void
expect_target_did(struct memrun *r, uint64_t deleted, uint64_t moved,
                  uint64_t copied) {
    assert_int_equal(r->res.stats.deleted_on_target, deleted);
    assert_int_equal(r->res.stats.moved_on_target, moved);
    assert_int_equal(r->res.stats.messages_copied, copied);
}

static void
test_moved(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in, *arch;

    inbox_and_archive(r, &in, &arch);
    /* The user moves i2 to Archive on the source. */
    assert_true(move_src(in, 2, arch, "\\Seen") > 0);
    expect_pass_ok(r);
    /* A target without MOVE: removed from INBOX, copied to Archive. */
    expect_target_did(r, 1, 0, 1);
    assert_int_equal(r->env.dst->stats.moved, 0);
    assert_int_equal(r->env.dst->stats.appended, 6);
    expect_same(r, "INBOX");
    expect_same(r, "Archive");
}

/* With MOVE on the target: UID MOVE, nothing appended, the source's new
 * flags merged in, listed; the new folder's map knows the copy (a later
 * expunge there removes it). */
static void
test_moved_on_target(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in, *arch;
    uint32_t uid;

    r->env.dst->caps.move = true;
    inbox_and_archive(r, &in, &arch);
    uid = move_src(in, 2, arch, "\\Seen \\Flagged");
    expect_pass_ok(r);
    expect_target_did(r, 0, 1, 0);
    assert_int_equal(r->env.dst->stats.moved, 1);
    assert_int_equal(r->env.dst->stats.appended, 5);
    assert_int_equal(r->env.dst->stats.expunged, 0);
    assert_int_equal(r->res.n_moved, 1);
    assert_string_equal(r->res.moved[0].folder, "Archive");
    assert_int_equal(r->res.moved[0].uid, uid);
    assert_string_equal(r->res.moved[0].subject, "Message i2");
    assert_int_equal(r->res.moved[0].error.code, MF_E_MESSAGE_MOVED);
    assert_string_equal(r->res.moved[0].error.detail, "moved from INBOX");
    expect_same(r, "INBOX");
    expect_same(r, "Archive"); /* flags included */
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.moved_on_target, 0);
    assert_int_equal(r->res.stats.messages_copied, 0);
    assert_true(mf_mem_msg_remove(arch, uid));
    expect_pass_ok(r);
    assert_int_equal(r->res.stats.deleted_on_target, 1);
    expect_same(r, "Archive");
}

/* Two copies of one message (one fingerprint) in INBOX: one moved to
 * Archive, one expunged. One moves, one is removed: each folder ends as
 * the source has it, nothing lost or doubled. */
static void
test_moved_twins(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);
    struct mf_mem_folder *arch = mf_mem_folder_add(r->env.src, "Archive", 0, 0);

    r->env.dst->caps.move = true;
    add_msg(in, "twin", 300, "", 1);
    add_msg(in, "twin", 300, "", 1);
    add_msg(in, "other", 310, "", 2);
    expect_pass_ok(r);
    (void)move_src(in, 0, arch, "");
    assert_true(mf_mem_msg_remove(in, in->msgs[0].uid));
    expect_pass_ok(r);
    expect_target_did(r, 1, 1, 0);
    expect_same(r, "INBOX");
    expect_same(r, "Archive");
}

static void
test_no_uidplus(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(r->env.src, "INBOX", 0, 0);

    add_msg(in, "x", 300, "", 1);
    r->env.dst->caps.uidplus = false;
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_DELETE_NEEDS_UIDPLUS);
    assert_non_null(strstr(r->res.error.detail, "UIDPLUS"));
    assert_int_equal(r->res.stats.messages_copied, 0);
    assert_int_equal(r->env.dst->stats.appended, 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test_setup_teardown(test_expunged_removed, setup,
                                        memrun_teardown),
        cmocka_unit_test_setup_teardown(test_sparse, setup, memrun_teardown),
        cmocka_unit_test_setup_teardown(test_only_mailferrys, setup,
                                        memrun_teardown),
        cmocka_unit_test_setup_teardown(test_moved, setup, memrun_teardown),
        cmocka_unit_test_setup_teardown(test_moved_on_target, setup,
                                        memrun_teardown),
        cmocka_unit_test_setup_teardown(test_moved_twins, setup,
                                        memrun_teardown),
        cmocka_unit_test_setup_teardown(test_no_uidplus, setup,
                                        memrun_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
