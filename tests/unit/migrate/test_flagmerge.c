/*
 * Unit tests of the three-way flag merge of incremental passes
 * (core/src/migrate/flagsync.c, issue 11 section 4 "flag sync must not
 * undo the user"), whole passes over two in-memory servers with the
 * flags last synced kept beside the in-memory checkpoints.
 *
 * What they prove: between passes users change flags on both sides; a
 * change on the source only is applied, a change on the target only is
 * kept (a pass no longer reverts \Seen, \Flagged or \Deleted set on the
 * new server), changes of different flags of one message on both sides
 * both survive, a flag changed both ways follows --flag-conflict (target
 * by default, source when asked), and a pass with no new change stores
 * nothing (the target's own changes do not look like source changes
 * later on).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtest.h"

struct t {
    struct memrun r; /* first: memrun_teardown() frees the state */
    struct mf_mem_folder *sf, *df;
};

static int
setup(void **state) {
    struct t *t = memrun_state_new(sizeof(*t));
    static const char *flags[] = {"", "\\Flagged",        "\\Seen", "\\Seen",
                                  "", "\\Seen \\Flagged", "$Later"};

    t->sf = mf_mem_folder_add(t->r.env.src, "INBOX", 0, 0);
    for (unsigned i = 0; i < 7; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "fm%u", i);
        add_msg(t->sf, tag, 300 + i, flags[i], i);
    }
    *state = t;
    return 0;
}

static void
pass_ok(struct t *t) {
    memrun_pass_ok(&t->r);
    t->df = mf_mem_folder_find(t->r.env.dst, "INBOX");
}

static void
set_flags(struct mf_mem_folder *f, size_t i, const char *flags) {
    mf_mem_msg_set_flags(&f->msgs[i], flags);
}

static void
expect_flags(struct t *t, size_t i, const char *want) {
    char a[256], b[256];

    norm_flags(t->df->msgs[i].flags, a, sizeof(a));
    norm_flags(want, b, sizeof(b));
    if (strcmp(a, b) != 0)
        fail_msg("target message %zu: flags \"%s\", want \"%s\"", i, a, b);
}

/* Flags changed on either side, and on both, between passes. */
static void
test_both_sides(void **state) {
    struct t *t = *state;

    pass_ok(t);
    assert_int_equal(t->df->n, 7);
    /* Users read and flag on the new server... */
    set_flags(t->df, 0, "\\Seen");           /* was "" */
    set_flags(t->df, 1, "");                 /* \Flagged removed */
    set_flags(t->df, 4, "\\Flagged");        /* same message as below */
    set_flags(t->df, 6, "$Later \\Deleted"); /* deleted on the target */
    /* ...while the old one still changes too. */
    set_flags(t->sf, 2, "\\Seen \\Answered");
    set_flags(t->sf, 3, "");
    set_flags(t->sf, 4, "$Work");

    pass_ok(t);
    expect_flags(t, 0, "\\Seen");
    expect_flags(t, 1, "");
    expect_flags(t, 2, "\\Seen \\Answered");
    expect_flags(t, 3, "");
    expect_flags(t, 4, "$Work \\Flagged");
    expect_flags(t, 5, "\\Seen \\Flagged");
    expect_flags(t, 6, "$Later \\Deleted");
    assert_int_equal(t->r.res.stats.flags_updated, 3);

    /* Nothing new: nothing stored, the users' changes stay. */
    pass_ok(t);
    assert_int_equal(t->r.res.stats.flags_updated, 0);
    expect_flags(t, 0, "\\Seen");
    expect_flags(t, 1, "");
    expect_flags(t, 6, "$Later \\Deleted");
}

/* One flag changed both ways: the target had dropped \Flagged (kept),
 * now the source drops it and the target sets it again. */
static void
conflict(struct t *t, enum mf_flag_conflict rule, const char *want) {
    pass_ok(t);
    set_flags(t->df, 1, "");
    pass_ok(t);
    expect_flags(t, 1, "");
    set_flags(t->sf, 1, "");
    set_flags(t->df, 1, "\\Flagged");
    t->r.o.flag_conflict = rule;
    pass_ok(t);
    expect_flags(t, 1, want);
}

static void
test_conflict_default_target(void **state) {
    conflict(*state, MF_FLAG_CONFLICT_DEFAULT, "\\Flagged");
}

static void
test_conflict_source(void **state) {
    conflict(*state, MF_FLAG_CONFLICT_SOURCE, "");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, memrun_teardown)
        T(test_both_sides),
        T(test_conflict_default_target),
        T(test_conflict_source),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
