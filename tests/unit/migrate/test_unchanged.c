/*
 * Unit tests of the incremental pass's folder skip: the decision
 * (core/src/migrate/unchanged.c) on its own, field by field, and the
 * engine over two in-memory servers (whose STATUS gives a HIGHESTMODSEQ
 * that moves with every change, as CONDSTORE's does).
 *
 * What they prove: a folder is skipped only when its clean checkpoint
 * recorded both folders' STATUS, nothing is pending, and UIDVALIDITY,
 * UIDNEXT, MESSAGES and HIGHESTMODSEQ are the same on both sides; each of
 * these fields alone forces the full path, and so does a side without
 * HIGHESTMODSEQ. Through the engine: a pass over an unchanged mailbox
 * selects and lists nothing; a flag change, a new message, an expunge,
 * a UIDVALIDITY change on either side, a change on the target, a pending
 * message each make the pass visit that folder (and only that one), with
 * the result the full path gives; without CONDSTORE every folder is
 * visited. A folder subscribed on the target is not subscribed again.
 * An empty source folder is settled by STATUS on the first pass (not
 * selected, yet created on the target) and copied from once mail comes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

/* ------------------------------------------------------------------ */
/* The decision                                                        */
/* ------------------------------------------------------------------ */

struct case_ {
    struct mf_checkpoint ck;
    struct mf_store_status src, dst;
};

static void
unchanged_case(struct case_ *c) {
    memset(c, 0, sizeof(*c));
    c->ck.uidvalidity = 100;
    c->ck.last_uid = 41;
    c->ck.tgt_uidvalidity = 200;
    c->ck.tgt_mark = 60;
    c->ck.has_status = true;
    c->ck.src_status.uidnext = 42;
    c->ck.src_status.messages = 30;
    c->ck.src_status.highestmodseq = 9000;
    c->ck.tgt_status.uidnext = 61;
    c->ck.tgt_status.messages = 30;
    c->ck.tgt_status.highestmodseq = 77;
    c->src = (struct mf_store_status){.uidvalidity = 100,
                                      .uidnext = 42,
                                      .messages = 30,
                                      .highestmodseq = 9000};
    c->dst = (struct mf_store_status){
        .uidvalidity = 200, .uidnext = 61, .messages = 30, .highestmodseq = 77};
}

static const char *
decide(const struct case_ *c) {
    return mf__folder_changed(&c->ck, true, &c->src, &c->dst);
}

static void
test_decision_unchanged(void **state) {
    struct case_ c;
    uint32_t pend[1] = {7};

    (void)state;
    unchanged_case(&c);
    assert_null(decide(&c));
    assert_string_equal(mf__folder_changed(&c.ck, false, &c.src, &c.dst),
                        "no checkpoint");
    c.ck.dirty = true;
    assert_string_equal(decide(&c), "the last pass stopped in it");
    unchanged_case(&c);
    c.ck.has_status = false;
    assert_string_equal(decide(&c), "the checkpoint has no STATUS");
    unchanged_case(&c);
    c.ck.pending = pend;
    c.ck.n_pending = 1;
    assert_string_equal(decide(&c), "messages are pending");
}

/* Every STATUS field on either side, moved alone, forces the full path
 * with its own reason. */
static void
test_decision_each_field(void **state) {
    static const struct {
        const char *why;
        size_t off; /* into struct case_ */
        int size;   /* 4 or 8 */
        uint64_t value;
    } v[] = {
#define F(why, field, value)                                                   \
    {why, offsetof(struct case_, field), sizeof(((struct case_ *)0)->field),   \
     value}
        F("source UIDVALIDITY", src.uidvalidity, 101),
        F("source UIDVALIDITY", ck.uidvalidity, 0),
        F("target UIDVALIDITY", dst.uidvalidity, 201),
        F("target UIDVALIDITY", ck.tgt_uidvalidity, 0),
        F("source UIDNEXT", src.uidnext, 43),
        F("source UIDNEXT", src.uidnext, 0),
        F("source MESSAGES", src.messages, 29),
        F("source MESSAGES", src.messages, 31),
        F("target UIDNEXT", dst.uidnext, 62),
        F("target UIDNEXT", dst.uidnext, 0),
        F("target MESSAGES", dst.messages, 31),
        F("source HIGHESTMODSEQ", src.highestmodseq, 9001),
        F("no source HIGHESTMODSEQ", src.highestmodseq, 0),
        F("no source HIGHESTMODSEQ", ck.src_status.highestmodseq, 0),
        F("target HIGHESTMODSEQ", dst.highestmodseq, 78),
        F("no target HIGHESTMODSEQ", dst.highestmodseq, 0),
        F("no target HIGHESTMODSEQ", ck.tgt_status.highestmodseq, 0),
#undef F
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        struct case_ c;
        unsigned char *p;
        const char *why;

        unchanged_case(&c);
        p = (unsigned char *)&c + v[i].off;
        if (v[i].size == 4) {
            uint32_t x = (uint32_t)v[i].value;
            memcpy(p, &x, 4);
        } else {
            memcpy(p, &v[i].value, 8);
        }
        why = decide(&c);
        if (!why || strcmp(why, v[i].why) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, why ? why : "(skip)",
                     v[i].why);
    }
}

/* A folder never copied from, settled by STATUS when its source is
 * empty: with no checkpoint, or one that never got past UID 0 under the
 * same UIDVALIDITY on both sides. */
static void
test_decision_empty_new(void **state) {
    struct mf_checkpoint ck = {0};
    struct mf_store_status src = {.uidvalidity = 100, .uidnext = 1};
    struct mf_store_status dst = {
        .uidvalidity = 200, .uidnext = 7, .messages = 3};
    uint32_t pend[1] = {7};

    (void)state;
    assert_true(mf__folder_empty_new(&ck, false, &src, &dst));
    src.messages = 1;
    assert_false(mf__folder_empty_new(&ck, false, &src, &dst));
    src.messages = 0;
    src.uidvalidity = 0; /* no UIDVALIDITY: not a STATUS to build on */
    assert_false(mf__folder_empty_new(&ck, false, &src, &dst));
    src.uidvalidity = 100;
    dst.uidvalidity = 0;
    assert_false(mf__folder_empty_new(&ck, false, &src, &dst));
    dst.uidvalidity = 200;
    /* A checkpoint written by a pass over the empty folder. */
    ck.uidvalidity = 100;
    ck.tgt_uidvalidity = 200;
    assert_true(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.last_uid = 5; /* copied from once: copies and flags to account for */
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.last_uid = 0;
    ck.uidvalidity = 99;
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.uidvalidity = 100;
    ck.tgt_uidvalidity = 199;
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.tgt_uidvalidity = 200;
    ck.dirty = true;
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.dirty = false;
    ck.pending = pend;
    ck.n_pending = 1;
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
    ck.pending = NULL;
    ck.n_pending = 0;
    ck.out_messages = 2;
    assert_false(mf__folder_empty_new(&ck, true, &src, &dst));
}

/* ------------------------------------------------------------------ */
/* Through the engine                                                  */
/* ------------------------------------------------------------------ */

struct t {
    struct memrun r; /* first: memrun_teardown() frees the state */
    struct mf_mem_folder *in, *work; /* on the source */
};

static int
setup(void **state) {
    struct t *t = memrun_state_new(sizeof(*t));
    char tag[32];

    t->in = mf_mem_folder_find(t->r.env.src, "INBOX");
    t->work = mf_mem_folder_add(t->r.env.src, "Work", 0, true);
    for (unsigned i = 0; i < 12; i++) {
        snprintf(tag, sizeof(tag), "in%u", i);
        add_msg(t->in, tag, 300 + 40 * i, i % 3 ? "\\Seen" : "", i);
    }
    for (unsigned i = 0; i < 5; i++) {
        snprintf(tag, sizeof(tag), "work%u", i);
        add_msg(t->work, tag, 500, "", 100 + i);
    }
    *state = t;
    return 0;
}

/* The first pass, then a pass that must find nothing to do. */
static void
first_passes(struct t *t) {
    memrun_expect_complete(&t->r);
    assert_int_equal(t->r.res.stats.messages_copied, 17);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    memrun_expect_same(&t->r, "Work", "Work");
}

/* The folders a pass selected on the source (EXAMINE) and on the target,
 * and the listings it made. */
struct visits {
    uint64_t src_selects, dst_selects, src_fetches, dst_fetches;
};

static struct visits
visits_now(const struct t *t) {
    return (struct visits){
        t->r.env.src->stats.selects, t->r.env.dst->stats.selects,
        t->r.env.src->stats.meta_fetches, t->r.env.dst->stats.meta_fetches};
}

/* Runs a pass and checks that it selected `folders` folders on each side
 * (0: listed nothing at all either). */
static void
pass_visiting(struct t *t, uint64_t folders) {
    struct visits a = visits_now(t), b;

    memrun_expect_complete(&t->r);
    b = visits_now(t);
    if (b.src_selects - a.src_selects != folders ||
        b.dst_selects - a.dst_selects != folders)
        fail_msg("selected %llu source and %llu target folders, want %llu",
                 (unsigned long long)(b.src_selects - a.src_selects),
                 (unsigned long long)(b.dst_selects - a.dst_selects),
                 (unsigned long long)folders);
    if (folders == 0) {
        assert_int_equal(b.src_fetches, a.src_fetches);
        assert_int_equal(b.dst_fetches, a.dst_fetches);
    }
    /* A skipped folder still counts in the mailbox's totals. */
    assert_int_equal(t->r.res.stats.folders_copied, 2);
    assert_int_equal(t->r.res.stats.messages_source, t->in->n + t->work->n);
}

static void
test_noop_pass_lists_nothing(void **state) {
    struct t *t = *state;
    uint64_t statuses = t->r.env.src->stats.statuses;

    first_passes(t);
    pass_visiting(t, 0);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_true(t->r.env.src->stats.statuses > statuses);
    pass_visiting(t, 0);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    memrun_expect_same(&t->r, "Work", "Work");
}

static void
test_flag_change_on_source(void **state) {
    struct t *t = *state;

    first_passes(t);
    mf_mem_msg_set_flags(&t->work->msgs[2], "\\Flagged \\Seen");
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.flags_updated, 1);
    memrun_expect_same(&t->r, "Work", "Work");
    pass_visiting(t, 0);
}

/* The target refuses a flag change (Cyrus's keyword limit, "NO Too many
 * user flags in mailbox"): the two sides' flags do not agree, so the pass
 * records no STATUS and the next one visits the folder and tries again.
 * Before, the next pass took the folder for unchanged and said Synced. */
static void
test_flags_refused_visit_again(void **state) {
    struct t *t = *state;

    first_passes(t);
    t->r.env.dst->faults.flags_refuse_marker = "$TooMany";
    mf_mem_msg_set_flags(&t->work->msgs[2], "\\Seen $TooMany");
    for (int pass = 0; pass < 2; pass++) {
        struct visits a = visits_now(t);
        mf_err rc = memrun_pass(&t->r, NULL, NULL);
        assert_int_equal(rc, MF_E_NOT_ALL_COPIED);
        assert_int_equal(t->r.env.dst->stats.selects - a.dst_selects, 1);
        assert_int_equal(t->r.res.n_failed, 1);
        assert_int_equal(t->r.res.failed[0].uid, t->work->msgs[2].uid);
    }
    t->r.env.dst->faults.flags_refuse_marker = NULL;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.flags_updated, 1);
    memrun_expect_same(&t->r, "Work", "Work");
    pass_visiting(t, 0);
}

/* A new message: the folder is visited for it alone. No source flag
 * changed (CHANGEDSINCE) and the target is as recorded, so nothing else
 * is listed: no flag sync. */
static void
test_new_message(void **state) {
    struct t *t = *state;
    uint64_t asked = t->r.env.src->stats.changed_since;
    uint64_t dst_fetches;

    first_passes(t);
    add_msg(t->in, "late", 800, "", 50);
    dst_fetches = t->r.env.dst->stats.meta_fetches;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 1);
    assert_int_equal(t->r.env.src->stats.changed_since, asked + 1);
    assert_int_equal(t->r.env.dst->stats.meta_fetches, dst_fetches);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    pass_visiting(t, 0);
    /* New mail and a flag changed on an older message: the flag sync
     * runs and carries it over. */
    add_msg(t->in, "later", 800, "", 51);
    mf_mem_msg_set_flags(&t->in->msgs[1], "$Changed \\Seen");
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 1);
    assert_int_equal(t->r.res.stats.flags_updated, 1);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    /* New mail and a flag changed on the target: the flag sync runs (the
     * target's HIGHESTMODSEQ moved) and keeps the target's change. */
    add_msg(t->in, "latest", 800, "", 52);
    mf_mem_msg_set_flags(&mf_mem_folder_find(t->r.env.dst, "INBOX")->msgs[2],
                         "\\Answered");
    dst_fetches = t->r.env.dst->stats.meta_fetches;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.flags_updated, 0);
    assert_true(t->r.env.dst->stats.meta_fetches > dst_fetches);
    assert_string_equal(
        mf_mem_folder_find(t->r.env.dst, "INBOX")->msgs[2].flags, "\\Answered");
    pass_visiting(t, 0);
}

/* An expunge on the source moves MESSAGES (not UIDNEXT): the folder is
 * visited, and its copy on the target stays (a migration copies, it does
 * not delete). */
static void
test_expunge(void **state) {
    struct t *t = *state;
    size_t n;

    first_passes(t);
    n = mf_mem_folder_find(t->r.env.dst, "Work")->n;
    assert_true(mf_mem_msg_remove(t->work, t->work->msgs[1].uid));
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_int_equal(mf_mem_folder_find(t->r.env.dst, "Work")->n, n);
    pass_visiting(t, 0);
}

/* A new UIDVALIDITY on the source: every message is matched again (and
 * found on the target), the folder is visited. */
static void
test_uidvalidity_source(void **state) {
    struct t *t = *state;

    first_passes(t);
    t->in->uidvalidity++;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.uidvalidity_changes, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    assert_int_equal(t->r.res.stats.messages_present, t->in->n);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
    pass_visiting(t, 0);
}

static void
test_uidvalidity_target(void **state) {
    struct t *t = *state;

    first_passes(t);
    mf_mem_folder_find(t->r.env.dst, "Work")->uidvalidity++;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.uidvalidity_changes, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    memrun_expect_same(&t->r, "Work", "Work");
    pass_visiting(t, 0);
}

/* A change on the target alone (a flag set by a user there, a message
 * delivered there after the MX switch) makes the folder visited too:
 * the flag sync keeps the target's change, the new message stays. */
static void
test_change_on_target(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *dwork, *din;

    first_passes(t);
    dwork = mf_mem_folder_find(t->r.env.dst, "Work");
    din = mf_mem_folder_find(t->r.env.dst, "INBOX");
    mf_mem_msg_set_flags(&dwork->msgs[0], "\\Answered");
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.flags_updated, 0);
    assert_string_equal(dwork->msgs[0].flags, "\\Answered");
    add_msg(din, "delivered-to-target", 700, "", 77);
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 0);
    pass_visiting(t, 0);
}

/* A message the target refused stays pending: every pass visits its
 * folder to retry it, until it is copied. */
static void
test_pending_forces_visit(void **state) {
    struct t *t = *state;

    t->r.env.dst->faults.reject_marker = "work3 line";
    (void)memrun_pass(&t->r, NULL, NULL);
    assert_int_equal(t->r.res.stats.failed, 1);
    struct visits a = visits_now(t);
    (void)memrun_pass(&t->r, NULL, NULL);
    assert_int_equal(visits_now(t).src_selects - a.src_selects, 1);
    assert_int_equal(t->r.res.stats.failed, 1);
    t->r.env.dst->faults.reject_marker = NULL;
    pass_visiting(t, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 1);
    memrun_expect_same(&t->r, "Work", "Work");
    pass_visiting(t, 0);
}

/* Without CONDSTORE on either side flag changes cannot be seen in
 * STATUS: every folder is visited, every pass (the flag sync runs). */
static void
test_no_condstore(void **state) {
    struct t *t = *state;

    first_passes(t);
    t->r.env.src->caps.condstore = false;
    pass_visiting(t, 2);
    t->r.env.src->caps.condstore = true;
    t->r.env.dst->caps.condstore = false;
    pass_visiting(t, 2);
    mf_mem_msg_set_flags(&t->in->msgs[0], "$Later");
    pass_visiting(t, 2);
    assert_int_equal(t->r.res.stats.flags_updated, 1);
    memrun_expect_same(&t->r, "INBOX", "INBOX");
}

/* A checkpoint written by a version that recorded no STATUS: the first
 * pass visits every folder (and records it), the next skips them. */
static void
test_old_checkpoint(void **state) {
    struct t *t = *state;
    const char *names[] = {"INBOX", "Work"};

    first_passes(t);
    for (size_t i = 0; i < 2; i++) {
        struct mf_checkpoint ck;
        struct mf__run run = {0};
        assert_true(memrun_checkpoint(&t->r, names[i], &ck));
        assert_true(ck.has_status);
        ck.has_status = false;
        run.o = &t->r.o;
        run.mailbox = "user@example.org";
        run.mem = t->r.mem;
        assert_int_equal(mf__ckpt_put(&run, names[i], &ck), MF_E_OK);
        t->r.mem = run.mem;
        mf_checkpoint_pending_free(&ck);
    }
    pass_visiting(t, 2);
    pass_visiting(t, 0);
}

/* An empty source folder: the first pass neither selects nor lists it
 * on either side, yet the target has it (created with the others); a
 * message that arrives later is copied by the next pass, which visits
 * that folder alone; a pass after that visits none. */
static void
test_empty_folder_settled(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *empty =
        mf_mem_folder_add(t->r.env.src, "Empty", 0, true);
    struct visits a = visits_now(t), b;
    uint64_t statuses[2], rounds[2];

    memrun_expect_complete(&t->r);
    b = visits_now(t);
    assert_int_equal(b.src_selects - a.src_selects, 2);
    assert_int_equal(b.dst_selects - a.dst_selects, 2);
    assert_int_equal(t->r.res.stats.folders_copied, 3);
    assert_non_null(mf_mem_folder_find(t->r.env.dst, "Empty"));
    memrun_expect_same(&t->r, "Empty", "Empty");
    memrun_expect_same(&t->r, "Work", "Work");
    add_msg(empty, "late", 700, "\\Seen", 40);
    a = visits_now(t);
    memrun_expect_complete(&t->r);
    b = visits_now(t);
    assert_int_equal(b.src_selects - a.src_selects, 1);
    assert_int_equal(t->r.res.stats.messages_copied, 1);
    memrun_expect_same(&t->r, "Empty", "Empty");
    /* Nothing changed: each side answers STATUS of the three folders in
     * one round (statuses.c), and nothing else is asked. */
    a = visits_now(t);
    statuses[0] = t->r.env.src->stats.statuses;
    statuses[1] = t->r.env.dst->stats.statuses;
    rounds[0] = t->r.env.src->stats.status_rounds;
    rounds[1] = t->r.env.dst->stats.status_rounds;
    memrun_expect_complete(&t->r);
    b = visits_now(t);
    assert_int_equal(b.src_selects - a.src_selects, 0);
    assert_int_equal(b.dst_selects - a.dst_selects, 0);
    assert_int_equal(t->r.env.src->stats.statuses - statuses[0], 3);
    assert_int_equal(t->r.env.dst->stats.statuses - statuses[1], 3);
    assert_int_equal(t->r.env.src->stats.status_rounds - rounds[0], 1);
    assert_int_equal(t->r.env.dst->stats.status_rounds - rounds[1], 1);
    assert_int_equal(t->r.res.stats.messages_source, t->in->n + t->work->n + 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, memrun_teardown)

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_unchanged),
        cmocka_unit_test(test_decision_each_field),
        cmocka_unit_test(test_decision_empty_new),
        T(test_noop_pass_lists_nothing),
        T(test_flag_change_on_source),
        T(test_flags_refused_visit_again),
        T(test_new_message),
        T(test_expunge),
        T(test_uidvalidity_source),
        T(test_uidvalidity_target),
        T(test_change_on_target),
        T(test_pending_forces_visit),
        T(test_no_condstore),
        T(test_old_checkpoint),
        T(test_empty_folder_settled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
