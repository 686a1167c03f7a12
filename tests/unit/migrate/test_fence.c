/*
 * Unit tests of the engine under a fence (mailferry/fence.h, issue 11
 * section 4 "zombie workers"), over two in-memory servers with in-memory
 * checkpoints. The target store is wrapped so that the fence breaks
 * after a chosen number of append commands, as when the claim keeper
 * finds the claim gone in the middle of a folder.
 *
 * What they prove: a job whose fence is broken (or whose deadline passed)
 * before it starts connects to nothing and writes nothing; a fence that
 * breaks mid-folder stops the appends at once (nothing submitted after
 * it), moves no checkpoint after it, and ends the run with MF_E_FENCED
 * (not retried); the next owner then finishes the mailbox with nothing
 * missing or duplicated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

#include "mailferry/fence.h"

struct t {
    struct memrun r;
    struct mf_fence fence;
    /* The wrapped target: after break_after append commands the fence
     * breaks (0: never). */
    struct mf_store_ops ops;
    const struct mf_store_ops *inner;
    unsigned appends, break_after;
};

static struct t *cur; /* the wrapper's context (one test at a time) */

static mf_err
wrapped_append(struct mf_store *st, const char *folder,
               const struct mf_store_append_msg *msgs, size_t n,
               mf_store_done_cb cb, void *ud) {
    mf_err rc = cur->inner->append(st, folder, msgs, n, cb, ud);

    if (++cur->appends == cur->break_after)
        mf_fence_break(&cur->fence);
    return rc;
}

static mf_err
open_wrapped(void *ud, bool target, const struct mf_migrate_login *login,
             struct mf_store **st_r, struct mf_error *err, uint32_t *retry_r) {
    struct t *t = ud;
    mf_err rc = memenv_open(&t->r.env, target, login, st_r, err, retry_r);

    if (rc == MF_E_OK && target) {
        t->inner = (*st_r)->ops;
        t->ops = *t->inner;
        t->ops.append = wrapped_append;
        (*st_r)->ops = &t->ops;
    }
    return rc;
}

static int
setup(void **state) {
    struct t *t = calloc(1, sizeof(*t));
    struct mf_checkpoint_claim claim = {
        .record_key = "rec", .job_id = "j", .attempt = 1, .worker = "w"};

    memrun_init(&t->r);
    t->r.o.batch_messages = 10;
    t->r.o.appends_in_flight = 1;
    mf_fence_init(&t->fence, &claim, mf_fence_now_ms() + 60000);
    t->r.o.fence = &t->fence;
    cur = t;
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    memrun_clear(&t->r);
    mf_fence_destroy(&t->fence);
    free(t);
    return 0;
}

static mf_err
pass(struct t *t) {
    return memrun_pass(&t->r, open_wrapped, t);
}

static void
fill_inbox(struct t *t, unsigned n) {
    struct mf_mem_folder *in = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);

    for (unsigned i = 0; i < n; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "z%u", i);
        add_msg(in, tag, 300 + i, i % 2 ? "\\Seen" : "", i);
    }
}

static bool
checkpoint(struct t *t, struct mf_checkpoint *ck_r) {
    return memrun_checkpoint(&t->r, "INBOX", ck_r);
}

/* The deadline passed before the job started (the process was stopped
 * past its claim): not one connection, not one write. */
static void
test_expired_before_start(void **state) {
    struct t *t = *state;
    struct mf_checkpoint ck;

    fill_inbox(t, 20);
    atomic_store(&t->fence.valid_until_ms, mf_fence_now_ms() - 1);
    assert_int_equal(pass(t), MF_E_FENCED);
    assert_int_equal(t->r.env.src_opens + t->r.env.dst_opens, 0);
    assert_int_equal(t->r.env.dst->stats.appended, 0);
    assert_false(checkpoint(t, &ck));
    assert_int_equal(t->r.res.stats.attempts, 1);
}

/* The claim is lost after the third append command: nothing is appended
 * after it, the checkpoint stays where it was, and a new owner finishes
 * the mailbox without a duplicate. */
static void
test_breaks_mid_folder(void **state) {
    struct t *t = *state;
    struct mf_checkpoint ck;
    struct mf_checkpoint_claim claim = {
        .record_key = "rec", .job_id = "j", .attempt = 2, .worker = "w2"};
    const char *why;
    uint64_t appended;

    fill_inbox(t, 100);
    t->break_after = 3;
    assert_int_equal(pass(t), MF_E_FENCED);
    assert_int_equal(t->appends, 3);
    assert_int_equal(t->r.env.dst->stats.append_cmds, 3);
    appended = t->r.env.dst->stats.appended;
    assert_true(appended >= 3 && appended <= 30);
    /* A dirty checkpoint, never moved past what the zombie appended. */
    if (checkpoint(t, &ck)) {
        assert_true(ck.dirty);
        assert_true(ck.last_uid <= appended);
        mf_checkpoint_pending_free(&ck);
    }
    /* The next attempt, by another worker, with a fence of its own. */
    mf_fence_destroy(&t->fence);
    mf_fence_init(&t->fence, &claim, mf_fence_now_ms() + 60000);
    t->break_after = 0;
    assert_int_equal(pass(t), MF_E_OK);
    why = folders_differ(mf_mem_folder_find(t->r.env.src, "INBOX"),
                         mf_mem_folder_find(t->r.env.dst, "INBOX"), true);
    if (why)
        fail_msg("%s", why);
    assert_int_equal(t->r.env.dst->stats.appended, 100);
    assert_int_equal(t->r.res.stats.messages_present, appended);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_expired_before_start),
        T(test_breaks_mid_folder),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
