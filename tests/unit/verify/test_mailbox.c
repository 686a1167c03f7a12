/*
 * Unit tests of verifying a mailbox (core/src/verify/verify.c) over two
 * in-memory servers (tests/support/store_mem.h), after a migration by the
 * engine itself.
 *
 * What they prove: right after a migration it is equal, and verifying
 * changes nothing on either side (no append, no flag change, no CREATE)
 * and reads no body; a deleted message, a changed flag and a changed
 * date on the target are each reported once, with the source UID;
 * bodies are read only with a sample (--sample N) or all (--deep), and a
 * body changed at the same size is found then; a folder the target lacks
 * lists each of its source messages as missing (target folders outside
 * the plan are not compared); a login that fails makes
 * the mailbox "not verified" (an error), never equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../migrate/memtest.h"
#include "verify/verify_int.h"

struct t {
    struct memenv env;
    struct mf_migrate_options mo;
    struct mf_migrate_server s_src, s_dst; /* only told apart */
    struct mf_verify_options vo;
    struct mf_migrate_login login;
    struct mf_verify_result res;
    uint32_t inbox_uid[5];
};

static int
setup(void **state) {
    struct t *t = calloc(1, sizeof(*t));
    struct mf_mem_folder *in, *work;
    struct mf_migrate_result mres;
    char tag[16];

    t->env.src = mf_mem_server_new('/');
    t->env.dst = mf_mem_server_new('/');
    in = mf_mem_folder_find(t->env.src, "INBOX");
    work = mf_mem_folder_add(t->env.src, "Work", 0, true);
    for (unsigned i = 0; i < 5; i++) {
        snprintf(tag, sizeof(tag), "in%u", i);
        t->inbox_uid[i] = add_msg(in, tag, 300 + i, i % 2 ? "\\Seen" : "", i);
    }
    for (unsigned i = 0; i < 3; i++) {
        snprintf(tag, sizeof(tag), "w%u", i);
        add_msg(work, tag, 500, "$Work", 10 + i);
    }
    t->login.user = "u";
    t->login.password = "p";
    t->mo.source = &t->s_src;
    t->mo.target = &t->s_dst;
    t->mo.backoff_ms = 1;
    t->mo.max_backoff_ms = 5;
    t->vo.migrate = &t->mo;
    assert_int_equal(mf__migrate_mailbox_with(&t->mo, "u@example.test",
                                              &t->login, &t->login, memenv_open,
                                              &t->env, &mres),
                     MF_E_OK);
    mf_migrate_result_clear(&mres);
    *state = t;
    return 0;
}

static int
teardown(void **state) {
    struct t *t = *state;

    mf_verify_result_clear(&t->res);
    mf_mem_server_free(&t->env.src);
    mf_mem_server_free(&t->env.dst);
    free(t);
    return 0;
}

static mf_err
run(struct t *t) {
    mf_verify_result_clear(&t->res);
    return mf__verify_mailbox_with(&t->vo, "u@example.test", &t->login,
                                   &t->login, memenv_open, &t->env, &t->res);
}

/* The target message that is the copy of source INBOX message i. */
static struct mf_mem_msg *
target_copy(struct t *t, unsigned i) {
    struct mf_mem_folder *f = mf_mem_folder_find(t->env.dst, "INBOX");
    char want[64];

    snprintf(want, sizeof(want), "<in%u@test.example>", i);
    for (size_t k = 0; k < f->n; k++)
        if (memmem(f->msgs[k].body, f->msgs[k].len, want, strlen(want)))
            return &f->msgs[k];
    fail_msg("no copy of in%u", i);
    return NULL;
}

static void
equal_and_read_only(void **state) {
    struct t *t = *state;
    struct mf_mem_stats s0 = t->env.src->stats, d0 = t->env.dst->stats;

    assert_int_equal(run(t), MF_E_OK);
    assert_int_equal(t->res.n_diffs, 0);
    assert_int_equal(t->res.src_messages, 8);
    assert_int_equal(t->res.tgt_messages, 8);
    assert_int_equal(t->res.compared_bodies, 0);
    /* Nothing written, no body read. */
    assert_int_equal(t->env.dst->stats.appended, d0.appended);
    assert_int_equal(t->env.dst->stats.flag_changes, d0.flag_changes);
    assert_int_equal(t->env.dst->stats.creates, d0.creates);
    assert_int_equal(t->env.src->stats.flag_changes, s0.flag_changes);
    assert_int_equal(t->env.src->stats.body_bytes, s0.body_bytes);
    assert_int_equal(t->env.dst->stats.body_bytes, d0.body_bytes);
}

static void
deleted_flag_date(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *f = mf_mem_folder_find(t->env.dst, "INBOX");
    struct mf_mem_msg *m;

    assert_true(mf_mem_msg_remove(f, target_copy(t, 1)->uid));
    mf_mem_msg_set_flags(target_copy(t, 2), "\\Flagged");
    m = target_copy(t, 3);
    free(m->date);
    m->date = strdup("01-Jan-1999 00:00:00 +0000");
    assert_int_equal(run(t), MF_E_OK);
    assert_int_equal(t->res.n_diffs, 3);
    assert_int_equal(t->res.diffs[0].kind, MF_VERIFY_MISSING);
    assert_int_equal(t->res.diffs[0].src_uid, t->inbox_uid[1]);
    assert_string_equal(t->res.diffs[0].folder, "INBOX");
    assert_string_equal(t->res.diffs[0].subject, "Message in1");
    assert_int_equal(t->res.diffs[1].kind, MF_VERIFY_FLAGS);
    assert_int_equal(t->res.diffs[1].src_uid, t->inbox_uid[2]);
    assert_string_equal(t->res.diffs[1].detail, "source () target (\\Flagged)");
    assert_int_equal(t->res.diffs[2].kind, MF_VERIFY_DATE);
    assert_int_equal(t->res.diffs[2].src_uid, t->inbox_uid[3]);
}

static void
bodies_only_when_asked(void **state) {
    struct t *t = *state;
    struct mf_mem_msg *m = target_copy(t, 4);
    uint64_t before = t->env.dst->stats.body_bytes;

    m->body[m->len - 3] ^= 1; /* same size, other content */
    assert_int_equal(run(t), MF_E_OK);
    assert_int_equal(t->res.n_diffs, 0); /* sizes only: not seen */
    assert_int_equal(t->env.dst->stats.body_bytes, before);

    t->vo.sample = 1; /* one per folder: the first message */
    assert_int_equal(run(t), MF_E_OK);
    assert_int_equal(t->res.compared_bodies, 2);
    assert_int_equal(t->res.n_diffs, 0);
    assert_true(t->env.dst->stats.body_bytes > before);

    t->vo.sample = SIZE_MAX; /* --deep */
    assert_int_equal(run(t), MF_E_OK);
    assert_int_equal(t->res.compared_bodies, 8);
    assert_int_equal(t->res.n_diffs, 1);
    assert_int_equal(t->res.diffs[0].kind, MF_VERIFY_BYTES);
    assert_int_equal(t->res.diffs[0].src_uid, t->inbox_uid[4]);
}

static void
target_folder_missing(void **state) {
    struct t *t = *state;
    struct mf_mem_folder *f = mf_mem_folder_find(t->env.dst, "Work");

    free(f->name);
    f->name = strdup("Elsewhere"); /* Work is gone from the target */
    assert_int_equal(run(t), MF_E_OK);
    /* Only the folders of the plan are compared: Elsewhere is none. */
    assert_int_equal(t->res.n_diffs, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(t->res.diffs[i].kind, MF_VERIFY_MISSING);
        assert_string_equal(t->res.diffs[i].folder, "Work");
        assert_non_null(strstr(t->res.diffs[i].detail, "target folder"));
    }
}

static void
login_fails(void **state) {
    struct t *t = *state;

    t->env.dst->faults.open_fail_count = 1;
    t->env.dst->faults.open_fail_code = MF_E_AUTH;
    assert_int_equal(run(t), MF_E_AUTH);
    assert_int_equal(t->res.error.code, MF_E_AUTH);
    assert_int_equal(t->res.n_diffs, 0);
}

int
main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(equal_and_read_only),
        T(deleted_flag_date),
        T(bodies_only_when_asked),
        T(target_folder_missing),
        T(login_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
