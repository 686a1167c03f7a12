/*
 * Unit tests of how the engine lists a folder and reads its bodies, over
 * two in-memory servers (store_mem.h) with faults (issue 11 sections 2
 * and 4): nothing the source has is silently left behind.
 *
 * What they prove: a message the source lists without its size is
 * reported (MESSAGE_UNLISTABLE), stays pending and is copied once the
 * source lists it; a listing that came back short is listed again, and
 * when it is short twice the folder is reported (FOLDER_INCOMPLETE) with
 * its messages, nothing of it checkpointed, and the next pass copies it
 * whole; a body shorter than its listed size is fetched again, and when
 * it is short twice that message fails (MESSAGE_SIZE_MISMATCH), whole or
 * streamed, instead of being copied cut; a message without INTERNALDATE
 * is copied without one; a folder whose last UID is 4294967295 does not
 * wrap to 0 and copy everything again on the next pass; on a dirty resume
 * whose target mark is low, a message that is twice in the source is
 * still copied twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

/* Both servers with "." as the delimiter. */
static int
setup(void **state) {
    struct memrun *r;

    memrun_setup(state);
    r = *state;
    mf_mem_server_free(&r->env.dst);
    r->env.dst = mf_mem_server_new('.');
    return 0;
}

static mf_err
pass(struct memrun *t) {
    return memrun_pass(t, NULL, NULL);
}

static void
pass_ok(struct memrun *t) {
    memrun_pass_ok(t);
}

static void
same(struct memrun *t, const char *name) {
    memrun_expect_same(t, name, name);
}

static struct mf_mem_folder *
inbox_of(struct memrun *t, unsigned n, size_t size) {
    struct mf_mem_folder *f = mf_mem_folder_find(t->env.src, "INBOX");
    for (unsigned i = 0; i < n; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "m%u", i);
        add_msg(f, tag, size, i % 2 ? "\\Seen" : "", i);
    }
    return f;
}

/* The one failed item with this code (fails the test when there is not
 * exactly one). */
static const struct mf_migrate_item *
failed_with(struct memrun *t, mf_err code) {
    const struct mf_migrate_item *found = NULL;
    unsigned n = 0;

    for (size_t i = 0; i < t->res.n_failed; i++)
        if (t->res.failed[i].error.code == code) {
            found = &t->res.failed[i];
            n++;
        }
    if (n != 1)
        fail_msg("%u failed items with %s (of %zu)", n, mf_err_name(code),
                 t->res.n_failed);
    return found;
}

/* Whether a failed item has this code and UID. */
static bool
has_failed(struct memrun *t, mf_err code, uint32_t uid) {
    for (size_t i = 0; i < t->res.n_failed; i++)
        if (t->res.failed[i].error.code == code && t->res.failed[i].uid == uid)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

static void
test_unlistable_reported_and_retried(void **state) {
    struct memrun *t = *state;

    inbox_of(t, 6, 400);
    t->env.src->faults.meta_missing_uid = 3;
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    assert_int_equal(failed_with(t, MF_E_MESSAGE_UNLISTABLE)->uid, 3);
    assert_non_null(strstr(t->res.failed[0].error.detail, "RFC822.SIZE"));
    assert_int_equal(t->res.stats.messages_copied, 5);
    /* Still not listable: still reported. */
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    assert_int_equal(failed_with(t, MF_E_MESSAGE_UNLISTABLE)->uid, 3);
    /* Listable again: copied. */
    t->env.src->faults.meta_missing_uid = 0;
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 1);
    assert_int_equal(t->res.n_failed, 0);
    same(t, "INBOX");
}

static void
test_short_listing_listed_again(void **state) {
    struct memrun *t = *state;

    inbox_of(t, 8, 300);
    t->env.src->faults.meta_drop_uid = 5;
    t->env.src->faults.meta_drop_times = 1;
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 8);
    same(t, "INBOX");
}

static void
test_short_listing_fails_folder(void **state) {
    struct memrun *t = *state;

    inbox_of(t, 8, 300);
    t->env.src->faults.meta_drop_uid = 5;
    t->env.src->faults.meta_drop_times = 2;
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    /* The folder's own line (UID 0), and its messages with its error. */
    assert_true(has_failed(t, MF_E_FOLDER_INCOMPLETE, 0));
    assert_true(has_failed(t, MF_E_FOLDER_INCOMPLETE, 8));
    assert_int_equal(t->res.stats.messages_copied, 0);
    assert_int_equal(t->res.stats.failed, 7);
    assert_int_equal(mf_mem_folder_find(t->env.dst, "INBOX")->n, 0);
    /* The next pass, with an honest listing, copies it whole. */
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 8);
    same(t, "INBOX");
}

/* A message dropped from an incremental listing (a checkpoint below it)
 * is found by the count from a UID up. */
static void
test_short_incremental_listing(void **state) {
    struct memrun *t = *state;
    struct mf_mem_folder *in = inbox_of(t, 4, 300);

    pass_ok(t);
    add_msg(in, "new1", 300, "", 10);
    add_msg(in, "new2", 300, "", 11);
    t->env.src->faults.meta_drop_uid = 6;
    t->env.src->faults.meta_drop_times = 5;
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    assert_true(has_failed(t, MF_E_FOLDER_INCOMPLETE, 0));
    assert_int_equal(t->res.stats.messages_copied, 0);
    t->env.src->faults.meta_drop_times = 0;
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 2);
    same(t, "INBOX");
}

static void
test_no_internaldate(void **state) {
    struct memrun *t = *state;
    struct mf_mem_folder *in = inbox_of(t, 2, 300);
    const char body[] = "Subject: undated\r\n\r\nno date\r\n";

    (void)mf_mem_msg_add(in, "\\Seen", NULL, body, sizeof(body) - 1);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 3);
    same(t, "INBOX");
    /* Listed (and fingerprinted) again without a date: nothing new. */
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 0);
    mf__ckpt_mem_free(&t->mem);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 0);
}

/* ------------------------------------------------------------------ */
/* Bodies that differ from their listed size                           */
/* ------------------------------------------------------------------ */

static void
short_body(struct memrun *t, size_t size, unsigned times, bool fails) {
    inbox_of(t, 5, size);
    t->o.stream_threshold = 4096;
    t->env.src->faults.body_short_uid = 2;
    t->env.src->faults.body_short_times = times;
    if (!fails) {
        pass_ok(t);
        assert_int_equal(t->res.stats.messages_copied, 5);
        same(t, "INBOX");
        return;
    }
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    assert_int_equal(failed_with(t, MF_E_MESSAGE_SIZE_MISMATCH)->uid, 2);
    assert_int_equal(t->res.stats.messages_copied, 4);
    assert_int_equal(mf_mem_folder_find(t->env.dst, "INBOX")->n, 4);
    /* Pending: the next pass copies it whole. */
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 1);
    same(t, "INBOX");
}

static void
test_short_body_fetched_again(void **state) {
    short_body(*state, 600, 1, false);
}

static void
test_short_body_fails_message(void **state) {
    short_body(*state, 600, 2, true);
}

static void
test_short_streamed_body_fails_message(void **state) {
    short_body(*state, 20000, 2, true);
}

/* ------------------------------------------------------------------ */
/* UIDs                                                                */
/* ------------------------------------------------------------------ */

static void
test_last_uid_max(void **state) {
    struct memrun *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_find(t->env.src, "INBOX");

    in->uidnext = 4294967294u;
    add_msg(in, "second-to-last", 300, "", 1);
    add_msg(in, "last", 300, "\\Seen", 2);
    assert_int_equal(in->msgs[1].uid, 4294967295u);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 2);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 0);
    same(t, "INBOX");
}

/* A checkpoint rolled back (Redis lost writes, a restore): dirty, at
 * last_uid, with the target mark lowered to mark. */
static void
roll_back(struct memrun *t, uint32_t last_uid, uint32_t mark) {
    struct mf__run r = {.o = &t->o, .mem = t->mem};
    struct mf_checkpoint ck;
    bool found = false;

    assert_int_equal(mf__ckpt_get(&r, "INBOX", &ck, &found), MF_E_OK);
    assert_true(found);
    ck.last_uid = last_uid;
    ck.dirty = true;
    ck.tgt_mark = mark;
    assert_int_equal(mf__ckpt_put(&r, "INBOX", &ck), MF_E_OK);
    mf_checkpoint_pending_free(&ck);
    t->mem = r.mem;
}

/* The same message twice in the source (same Message-ID, size, date):
 * the twin that came after the checkpoint is copied even though the
 * first one's copy is above a (too low) target mark. */
static void
test_twin_copied_despite_low_mark(void **state) {
    struct memrun *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_find(t->env.src, "INBOX");

    add_msg(in, "x", 300, "", 1);
    add_msg(in, "a", 300, "\\Seen", 2);
    pass_ok(t);
    add_msg(in, "a", 300, "\\Seen", 2); /* its twin arrives */
    add_msg(in, "c", 300, "", 3);
    roll_back(t, 2, 0);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 2);
    same(t, "INBOX");
    /* With a mark between the two old copies too. */
    add_msg(in, "a", 300, "\\Seen", 2);
    roll_back(t, 4, 1);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 1);
    same(t, "INBOX");
}

/* Both twins already copied when the checkpoint rolls back to between
 * them: recognised, not copied a third time. */
static void
test_copied_twin_not_duplicated(void **state) {
    struct memrun *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_find(t->env.src, "INBOX");

    add_msg(in, "a", 300, "", 1);
    add_msg(in, "a", 300, "", 1);
    add_msg(in, "b", 300, "", 2);
    pass_ok(t);
    roll_back(t, 1, 0);
    pass_ok(t);
    assert_int_equal(t->res.stats.messages_copied, 0);
    same(t, "INBOX");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, memrun_teardown)
        T(test_unlistable_reported_and_retried),
        T(test_short_listing_listed_again),
        T(test_short_listing_fails_folder),
        T(test_short_incremental_listing),
        T(test_no_internaldate),
        T(test_short_body_fetched_again),
        T(test_short_body_fails_message),
        T(test_short_streamed_body_fails_message),
        T(test_last_uid_max),
        T(test_twin_copied_despite_low_mark),
        T(test_copied_twin_not_duplicated),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
