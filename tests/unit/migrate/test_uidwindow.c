/*
 * Unit tests of the copy in UID windows (core/src/migrate/folder.c,
 * folder_ckpt.c's mf__folder_compact(), listing.c's mf__list_each()):
 * whole passes over two in-memory servers with a window of 4 UIDs, so
 * that a folder of a few dozen messages spans many windows.
 *
 * What they prove: window boundaries lose and repeat nothing, a window
 * with no message at all and one with UIDs missing inside it are copied
 * as the rest; a copy cut in the middle resumes from the checkpoint of
 * the windows before and recognises what the cut window left on the
 * target, twins in windows far apart included, with no duplicate; a
 * message that fails in an early window stays pending after its window
 * is dropped from memory and is copied by the next pass, whose flag sync
 * pairs every window; and the checkpoint's byte count is the folder's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

#define WINDOW 4

static int
setup(void **state) {
    int rc = memrun_setup(state);
    struct memrun *r = *state;

    r->o.uid_window = WINDOW;
    return rc;
}

static struct mf_mem_folder *
inbox(struct mf_mem_server *srv) {
    return mf_mem_folder_add(srv, "INBOX", 0, true);
}

/* n messages of about 300 bytes, flags varying; the tag of message i is
 * "twin" for i in twins (a, b), else "m<i>". */
static void
fill(struct mf_mem_folder *f, unsigned n, unsigned twin_a, unsigned twin_b) {
    static const char *flags[] = {"\\Seen", "", "\\Flagged $Work",
                                  "\\Answered \\Seen"};
    for (unsigned i = 0; i < n; i++) {
        bool twin = i == twin_a || i == twin_b;
        char tag[32];
        snprintf(tag, sizeof(tag), twin ? "twin" : "m%u", i);
        add_msg(f, tag, 300, flags[i % 4], twin ? 7 : i);
    }
}

static void
expect_same(struct memrun *r) {
    const char *why =
        folders_differ(inbox(r->env.src), inbox(r->env.dst), true);
    if (why)
        fail_msg("%s", why);
}

static uint64_t
bytes_of(struct mf_mem_folder *f) {
    uint64_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->msgs[i].len;
    return n;
}

/* UIDs 1-30 with 9-12 expunged (a window with nothing in it) and 14 (a
 * UID missing inside a window): everything once, listed window by
 * window, and a clean checkpoint at the last UID with the folder's bytes. */
static void
test_boundaries_and_gaps(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = inbox(r->env.src);
    struct mf_checkpoint ck;

    fill(in, 30, 100, 100);
    for (uint32_t uid = 9; uid <= 12; uid++)
        assert_true(mf_mem_msg_remove(in, uid));
    assert_true(mf_mem_msg_remove(in, 14));
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_OK);
    expect_same(r);
    assert_int_equal(r->res.stats.messages_copied, 25);
    /* About one listing per window (30 UIDs / 4), not one for all. */
    assert_true(r->env.src->stats.meta_fetches >= 6);
    assert_true(memrun_checkpoint(r, "INBOX", &ck));
    assert_false(ck.dirty);
    assert_int_equal(ck.last_uid, 30);
    assert_int_equal(ck.n_pending, 0);
    assert_int_equal(ck.src_bytes, bytes_of(in));
    mf_checkpoint_pending_free(&ck);

    /* New mail in the last window and the next: copied once more. */
    fill(in, 3, 100, 100);
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_OK);
    assert_int_equal(r->res.stats.messages_copied, 3);
    expect_same(r);
}

/* The connection drops in the middle of the folder with the cut batch
 * stored (a crash after the server took it): the next attempt starts at
 * the checkpoint of the windows before, recognises what is on the
 * target, and the twin (UIDs 3 and 35, windows apart) is there twice. */
static void
test_resume_in_the_middle(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = inbox(r->env.src);

    fill(in, 40, 2, 34);
    inbox(r->env.dst);
    r->o.batch_messages = 3;
    r->env.dst->faults.append_fail_at = 19;
    r->env.dst->faults.append_fail_code = MF_E_DISCONNECTED;
    r->env.dst->faults.append_fail_commit = true;
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_OK);
    assert_true(r->res.stats.attempts >= 2);
    assert_true(r->res.stats.messages_present >= 1);
    assert_int_equal(inbox(r->env.dst)->n, 40);
    expect_same(r);
}

/* UID 2 fails in the first window (the target refuses it): the windows
 * after it are dropped from memory, yet it stays pending in every
 * checkpoint; the next pass copies it and carries a source flag change
 * made in a later window. */
static void
test_pending_across_windows(void **state) {
    struct memrun *r = *state;
    struct mf_mem_folder *in = inbox(r->env.src);
    struct mf_checkpoint ck;

    add_msg(in, "POISON", 300, "", 1);
    fill(in, 20, 100, 100);
    r->env.dst->faults.reject_marker = "POISON";
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_NOT_ALL_COPIED);
    assert_int_equal(r->res.n_failed, 1);
    assert_int_equal(r->res.failed[0].uid, 1);
    assert_true(memrun_checkpoint(r, "INBOX", &ck));
    assert_int_equal(ck.last_uid, 21);
    assert_int_equal(ck.n_pending, 1);
    assert_int_equal(ck.pending[0], 1);
    mf_checkpoint_pending_free(&ck);

    r->env.dst->faults.reject_marker = NULL;
    mf_mem_msg_set_flags(mf_mem_msg_find(in, 18), "\\Seen \\Flagged");
    assert_int_equal(memrun_pass(r, NULL, NULL), MF_E_OK);
    assert_int_equal(r->res.stats.messages_copied, 1);
    assert_int_equal(r->res.stats.flags_updated, 1);
    expect_same(r);
    assert_true(memrun_checkpoint(r, "INBOX", &ck));
    assert_int_equal(ck.n_pending, 0);
    mf_checkpoint_pending_free(&ck);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, memrun_teardown)
        T(test_boundaries_and_gaps),
        T(test_resume_in_the_middle),
        T(test_pending_across_windows),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
