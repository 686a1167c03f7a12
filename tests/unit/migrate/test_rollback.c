/*
 * Unit tests of the engine against a checkpoint store that loses its last
 * writes (issue 11 section 4: Redis with AOF everysec, a failover to an
 * async replica, a restore from backup), over two in-memory servers with
 * the in-memory checkpoints of mf__migrate_mailbox_mem().
 *
 * What they prove: after a pass whose checkpoint writes are lost (the
 * checkpoints rolled back to an earlier pass's values), the next pass
 * recognises what the lost pass copied and copies nothing twice, also
 * for a message that was pending (refused) in the old checkpoint and
 * copied by the lost pass, and on a target without UIDPLUS; a pass over
 * a checkpoint whose target has nothing above the mark does not list
 * the target at all (recognition costs nothing when there is nothing to
 * recognise); a message recognised on the target and still above the
 * checkpoint when an attempt drops is recognised again by the next one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

struct t {
    struct memrun r; /* first: memrun_teardown() frees the state */
};

static int
setup(void **state) {
    *state = memrun_state_new(sizeof(struct t));
    return 0;
}

static mf_err
pass(struct t *t) {
    return memrun_pass(&t->r, NULL, NULL);
}

/* A pass that must complete; the target folder listings (meta fetches)
 * it made. */
static uint64_t
pass_listings(struct t *t) {
    uint64_t before = t->r.env.dst->stats.meta_fetches;

    memrun_expect_complete(&t->r);
    return t->r.env.dst->stats.meta_fetches - before;
}

static void
add_n(struct mf_mem_folder *f, const char *prefix, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        char tag[48];
        snprintf(tag, sizeof(tag), "%s-%u", prefix, i);
        add_msg(f, tag, 300 + 7 * i, i % 3 ? "\\Seen" : "", 40 + i);
    }
}

/* The checkpoints as they are now: a copy of the in-memory store. */
struct snap {
    char folder[64];
    struct mf_checkpoint ck; /* owns pending */
    bool found;
};

static void
snap_take(struct t *t, struct snap *s, const char *folder) {
    snprintf(s->folder, sizeof(s->folder), "%s", folder);
    s->found = memrun_checkpoint(&t->r, folder, &s->ck);
    assert_true(s->found);
}

/* Puts the snapshot back: the writes since it was taken are lost. */
static void
snap_restore(struct t *t, struct snap *s) {
    struct mf__run r = {0};

    r.o = &t->r.o;
    r.mailbox = "user@example.org";
    r.mem = t->r.mem;
    assert_int_equal(mf__ckpt_put(&r, s->folder, &s->ck), MF_E_OK);
    t->r.mem = r.mem;
    mf_checkpoint_pending_free(&s->ck);
}

/* A clean checkpoint rolled back one pass: what that pass copied is
 * recognised, nothing is copied twice; the pass after that does not even
 * list the target. */
static void
rollback(struct t *t) {
    struct mf_mem_folder *in = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);
    struct mf_mem_folder *sent = mf_mem_folder_add(t->r.env.src, "Sent", 0, 0);
    struct snap s_in, s_sent;

    add_n(in, "first", 30);
    add_n(sent, "sent", 10);
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 40);
    snap_take(t, &s_in, "INBOX");
    snap_take(t, &s_sent, "Sent");
    assert_false(s_in.ck.dirty);

    add_n(in, "second", 15);
    add_n(sent, "more", 5);
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 20);

    /* Redis lost the second pass's writes. */
    snap_restore(t, &s_in);
    snap_restore(t, &s_sent);
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_int_equal(t->r.res.stats.messages_present, 20);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    memrun_expect_same(&t->r, "Sent", "Sent");

    /* Both folders are as that pass left them: STATUS says so and the
     * next pass lists nothing (unchanged.c). */
    assert_int_equal(pass_listings(t), 0);
    assert_int_equal(t->r.res.stats.messages_copied, 0);

    /* Without CONDSTORE the folders are visited. The target mark moved
     * past what was recognised: nothing above it, so no target folder is
     * listed for recognition (the flag sync lists each one once). */
    t->r.env.src->caps.condstore = t->r.env.dst->caps.condstore = false;
    assert_int_equal(pass_listings(t), 2);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_int_equal(t->r.res.stats.messages_present, 0);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
}

static void
test_clean_rollback(void **state) {
    rollback(*state);
}

static void
test_clean_rollback_no_uidplus(void **state) {
    struct t *t = *state;

    t->r.env.dst->caps.uidplus = false;
    rollback(t);
}

/* A message pending (refused) in the old checkpoint and copied by the
 * lost pass is on the target: recognised, not copied again. */
static void
test_rollback_pending_copied(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);
    struct snap s;

    add_n(in, "ok", 12);
    add_msg(in, "POISON", 500, "\\Flagged", 7);
    add_n(in, "late", 3);
    t->r.env.dst->faults.reject_marker = "POISON";
    assert_int_equal(pass(t), MF_E_NOT_ALL_COPIED);
    snap_take(t, &s, "INBOX");
    assert_int_equal(s.ck.n_pending, 1);

    t->r.env.dst->faults.reject_marker = NULL;
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 1);
    memrun_expect_same(&t->r, "INBOX", "INBOX");

    snap_restore(t, &s);
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_int_equal(t->r.res.n_failed, 0);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
}

/* Nothing above the mark on a normal incremental pass: the new messages
 * are copied without listing the target for recognition. */
static void
test_incremental_lists_no_target(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);

    add_n(in, "a", 10);
    memrun_expect_complete(&t->r);
    add_n(in, "b", 4);
    /* No listing at all: no source flag changed since the last pass
     * (CHANGEDSINCE) and the target's HIGHESTMODSEQ is the one recorded,
     * so there is no flag sync either. */
    assert_int_equal(pass_listings(t), 0);
    assert_int_equal(t->r.res.stats.messages_copied, 4);
    assert_int_equal(t->r.res.stats.messages_present, 0);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    /* Without CONDSTORE: one listing, the flag sync's. */
    t->r.env.src->caps.condstore = t->r.env.dst->caps.condstore = false;
    add_n(in, "c", 2);
    assert_int_equal(pass_listings(t), 1);
    assert_int_equal(t->r.res.stats.messages_copied, 2);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
}

/* The target already holds a copy of the source's third message (found
 * by recognition, not checkpointed yet); one APPEND per message, and the
 * connection drops at the second: the dirty checkpoint is behind the
 * recognised message, so the next attempt must recognise it again, even
 * though a copied message's target UID is above it. */
static void
test_recognised_kept_after_drop(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *in = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);
    struct mf_mem_folder *din = mf_mem_folder_find(t->r.env.dst, "INBOX");

    add_n(in, "m", 3);
    {
        const struct mf_mem_msg *m = &in->msgs[2];
        mf_mem_msg_add(din, m->flags, m->date, m->body, m->len);
    }
    t->r.env.dst->caps.multiappend = false;
    t->r.env.dst->faults.append_fail_at = 2;
    t->r.env.dst->faults.append_fail_code = MF_E_IMAP_BYE;
    memrun_expect_complete(&t->r);
    assert_true(t->r.res.stats.attempts >= 2);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, memrun_teardown)
        T(test_clean_rollback),
        T(test_clean_rollback_no_uidplus),
        T(test_rollback_pending_copied),
        T(test_incremental_lists_no_target),
        T(test_recognised_kept_after_drop),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
