/*
 * Unit tests of the folder comparison of `mailferry verify`
 * (core/src/verify/compare.c) with hand-built listings.
 *
 * What they prove: equal folders give no difference (flag order, case and
 * \Recent ignored); each kind is reported once, exactly, with the UIDs,
 * date and subject of the message: missing, extra, duplicate, flags,
 * date, bytes by size and by body hash; pairing is by Message-ID (so an
 * altered copy is a BYTES difference, not missing plus extra), by size and
 * date without one, and one for one in UID order among equal keys; the
 * sample picks exactly N paired messages, evenly spread, the first always.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailferry/verify.h"

#include <string.h>

static struct mf_verify_msg
msg(uint32_t uid, const char *mid, uint64_t size, int64_t when,
    const char *flags) {
    struct mf_verify_msg m = {0};
    m.uid = uid;
    m.message_id = mid;
    m.size = size;
    m.when = when;
    m.date = when == 1000 ? "01-Jan-2020 00:00:00 +0000"
                          : "02-Jan-2020 00:00:00 +0000";
    m.flags = flags;
    m.subject = "hello";
    return m;
}

static void
equal_folders(void **state) {
    struct mf_verify_msg s[] = {msg(1, "<a@x>", 100, 1000, "\\Seen $Work"),
                                msg(2, NULL, 200, 1000, ""),
                                msg(3, "<c@x>", 300, 1000, "\\Flagged")};
    struct mf_verify_msg t[] = {msg(7, NULL, 200, 1000, "\\Recent"),
                                msg(8, "<a@x>", 100, 1000, "$work \\SEEN"),
                                msg(9, "<c@x>", 300, 1000, "\\Flagged")};
    struct mf_verify_result r = {0};

    (void)state;
    mf_verify_compare("INBOX", s, 3, t, 3, &r);
    assert_int_equal(r.n_diffs, 0);
    assert_int_equal(r.folders, 1);
    assert_int_equal(r.src_messages, 3);
    assert_int_equal(r.tgt_messages, 3);
    mf_verify_result_clear(&r);
}

static void
each_kind_once(void **state) {
    struct mf_verify_msg s[] = {
        msg(1, "<gone@x>", 100, 1000, ""),       /* deleted on the target */
        msg(2, "<flag@x>", 100, 1000, "\\Seen"), /* flag changed */
        msg(3, "<alt@x>", 100, 1000, ""),        /* altered copy */
        msg(4, "<date@x>", 100, 1000, ""),       /* other INTERNALDATE */
        msg(5, "<ok@x>", 100, 1000, ""),
    };
    struct mf_verify_msg t[] = {
        msg(10, "<flag@x>", 100, 1000, "\\Seen \\Flagged"),
        msg(11, "<date@x>", 100, 2000, ""),
        msg(12, "<ok@x>", 100, 1000, ""),
        msg(13, "<ok@x>", 100, 1000, ""),  /* one copy too many */
        msg(14, "<new@x>", 100, 1000, ""), /* not from the source */
        msg(15, "<alt@x>", 120, 1000, ""),
    };
    struct mf_verify_result r = {0};
    const struct mf_verify_diff *d;

    (void)state;
    mf_verify_compare("Work", s, 5, t, 6, &r);
    assert_int_equal(r.n_diffs, 6);
    d = r.diffs;
    assert_int_equal(d[0].kind, MF_VERIFY_MISSING);
    assert_int_equal(d[0].src_uid, 1);
    assert_int_equal(d[0].tgt_uid, 0);
    assert_string_equal(d[0].folder, "Work");
    assert_string_equal(d[0].subject, "hello");
    assert_string_equal(d[0].date, "01-Jan-2020 00:00:00 +0000");
    assert_int_equal(d[1].kind, MF_VERIFY_FLAGS);
    assert_int_equal(d[1].src_uid, 2);
    assert_int_equal(d[1].tgt_uid, 10);
    assert_string_equal(d[1].detail,
                        "source (\\Seen) target (\\Flagged \\Seen)");
    assert_int_equal(d[2].kind, MF_VERIFY_BYTES);
    assert_int_equal(d[2].src_uid, 3);
    assert_int_equal(d[2].tgt_uid, 15);
    assert_string_equal(d[2].detail, "source 100 bytes target 120 bytes");
    assert_int_equal(d[3].kind, MF_VERIFY_DATE);
    assert_int_equal(d[3].src_uid, 4);
    assert_int_equal(d[3].tgt_uid, 11);
    /* Target-only messages come after, in target order; the second <ok>
     * is the duplicate (UID order pairs 5 with 12). */
    assert_int_equal(d[4].kind, MF_VERIFY_DUPLICATE);
    assert_int_equal(d[4].tgt_uid, 13);
    assert_int_equal(d[4].src_uid, 0);
    assert_int_equal(d[5].kind, MF_VERIFY_EXTRA);
    assert_int_equal(d[5].tgt_uid, 14);
    assert_string_equal(mf_verify_kind_name(d[5].kind), "extra");
    mf_verify_result_clear(&r);
    assert_null(r.diffs);
}

static void
without_message_id(void **state) {
    /* No Message-ID: size and date are the key, so a changed date is a
     * missing and an extra message, never a false match. */
    struct mf_verify_msg s[] = {msg(1, NULL, 100, 1000, ""),
                                msg(2, "", 100, 1000, "")};
    struct mf_verify_msg t[] = {msg(5, NULL, 100, 1000, ""),
                                msg(6, NULL, 100, 2000, "")};
    struct mf_verify_result r = {0};

    (void)state;
    mf_verify_compare("INBOX", s, 2, t, 2, &r);
    assert_int_equal(r.n_diffs, 2);
    assert_int_equal(r.diffs[0].kind, MF_VERIFY_MISSING);
    assert_int_equal(r.diffs[0].src_uid, 2); /* 1 pairs with 5 */
    assert_int_equal(r.diffs[1].kind, MF_VERIFY_EXTRA);
    assert_int_equal(r.diffs[1].tgt_uid, 6);
    mf_verify_result_clear(&r);
}

static void
twice_in_source(void **state) {
    /* Twice in the source, once on the target: one copy is missing. */
    struct mf_verify_msg s[] = {msg(1, "<d@x>", 100, 1000, ""),
                                msg(2, "<d@x>", 100, 1000, "")};
    struct mf_verify_msg t[] = {msg(9, "<d@x>", 100, 1000, "")};
    size_t sp[2], tp[1];
    struct mf_verify_result r = {0};

    (void)state;
    mf_verify_pair(s, 2, t, 1, sp, tp);
    assert_int_equal(sp[0], 0);
    assert_true(sp[1] == SIZE_MAX);
    assert_int_equal(tp[0], 0);
    mf_verify_compare("INBOX", s, 2, t, 1, &r);
    assert_int_equal(r.n_diffs, 1);
    assert_int_equal(r.diffs[0].kind, MF_VERIFY_MISSING);
    assert_int_equal(r.diffs[0].src_uid, 2);
    mf_verify_result_clear(&r);
}

static void
body_hashes(void **state) {
    struct mf_verify_msg s[] = {msg(1, "<a@x>", 100, 1000, ""),
                                msg(2, "<b@x>", 100, 1000, ""),
                                msg(3, "<c@x>", 100, 1000, "")};
    struct mf_verify_msg t[] = {msg(1, "<a@x>", 100, 1000, ""),
                                msg(2, "<b@x>", 100, 1000, ""),
                                msg(3, "<c@x>", 100, 1000, "")};
    struct mf_verify_result r = {0};

    (void)state;
    for (int i = 0; i < 3; i++) {
        memset(s[i].hash, i, 32);
        memset(t[i].hash, i, 32);
    }
    s[0].hashed = t[0].hashed = true; /* equal */
    s[1].hashed = t[1].hashed = true; /* differ */
    t[1].hash[31] ^= 1;
    s[2].hashed = true; /* target not read: not compared */
    t[2].hash[0] = 0x55;
    mf_verify_compare("INBOX", s, 3, t, 3, &r);
    assert_int_equal(r.compared_bodies, 2);
    assert_int_equal(r.n_diffs, 1);
    assert_int_equal(r.diffs[0].kind, MF_VERIFY_BYTES);
    assert_int_equal(r.diffs[0].src_uid, 2);
    assert_non_null(strstr(r.diffs[0].detail, "different content"));
    mf_verify_result_clear(&r);
}

static void
sample_spread(void **state) {
    size_t pair[10];
    bool want[10];
    size_t n;

    (void)state;
    for (size_t i = 0; i < 10; i++)
        pair[i] = i;
    pair[4] = SIZE_MAX; /* unpaired: never picked */
    assert_int_equal(mf_verify_pick(pair, 10, 0, want), 0);
    for (size_t i = 0; i < 10; i++)
        assert_false(want[i]);
    n = mf_verify_pick(pair, 10, 3, want);
    assert_int_equal(n, 3);
    assert_true(want[0]);
    assert_false(want[4]);
    n = mf_verify_pick(pair, 10, SIZE_MAX, want);
    assert_int_equal(n, 9);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(want[i], i != 4);
    n = mf_verify_pick(pair, 10, 1, want);
    assert_int_equal(n, 1);
    assert_true(want[0]);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_folders),      cmocka_unit_test(each_kind_once),
        cmocka_unit_test(without_message_id), cmocka_unit_test(twice_in_source),
        cmocka_unit_test(body_hashes),        cmocka_unit_test(sample_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
