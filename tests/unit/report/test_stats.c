/*
 * From engine statistics to report rows and lines (core/src/report/
 * stats.c): every counter lands in its one place, a skipped item's code
 * picks its reason, and the "skipped" of a line is too large plus
 * vanished, not the failed ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/migrate.h"
#include "mailferry/report.h"
#include "mailferry/util.h"

/* One figure of a report row: its name, its value, the value it must
 * have. */
struct figure {
    const char *name;
    uint64_t got, want;
};

static void
expect_figures(const struct figure *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (f[i].got != f[i].want)
            fail_msg("%s: %llu, want %llu", f[i].name,
                     (unsigned long long)f[i].got,
                     (unsigned long long)f[i].want);
}

static void
test_row(void **state) {
    struct mf_migrate_stats s = {
        .folders_copied = 4,
        .folders_excluded = 2,
        .messages_source = 100,
        .bytes_source = 9000,
        .messages_copied = 80,
        .bytes_copied = 7000,
        .messages_present = 10,
        .skipped_too_large = 3,
        .skipped_vanished = 5,
        .failed = 2,
        .deleted_on_target = 6,
        .moved_on_target = 9,
        .seconds = 12.5,
    };
    struct mf_report_mailbox m = {.skipped[MF_REPORT_SKIP_EXCLUDED] = 7,
                                  .attempts = 3};

    (void)state;
    mf_report_mailbox_stats(&m, &s);
#define F(field, value)                                                        \
    { #field, m.field, value }
    const struct figure figures[] = {
        F(folders_copied, 4), F(folders_excluded, 2), F(source_messages, 100),
        F(source_bytes, 9000), F(copied_messages, 80), F(copied_bytes, 7000),
        F(present_messages, 10), F(skipped[MF_REPORT_SKIP_TOO_LARGE], 3),
        F(skipped[MF_REPORT_SKIP_FAILED], 2),
        F(skipped[MF_REPORT_SKIP_VANISHED], 5),
        /* --sync-deletes: removed and moved on the target. */
        F(skipped[MF_REPORT_SKIP_DELETED], 6),
        F(skipped[MF_REPORT_SKIP_MOVED], 9),
        /* What the batch counts itself, and the rest, stay. */
        F(skipped[MF_REPORT_SKIP_EXCLUDED], 7), F(attempts, 3)};
#undef F

    expect_figures(figures, MF_ARRAY_LEN(figures));
    assert_true(m.duration_seconds == 12.5);
    /* source = copied + present + every reason but excluded */
    assert_int_equal(m.copied_messages + m.present_messages +
                         m.skipped[MF_REPORT_SKIP_TOO_LARGE] +
                         m.skipped[MF_REPORT_SKIP_FAILED] +
                         m.skipped[MF_REPORT_SKIP_VANISHED],
                     m.source_messages);
    assert_int_equal(mf_report_stats_skipped(&s), 8);
}

static void
test_reason(void **state) {
    (void)state;
    assert_int_equal(mf_report_skip_reason_of(MF_E_MESSAGE_TOO_LARGE),
                     MF_REPORT_SKIP_TOO_LARGE);
    assert_int_equal(mf_report_skip_reason_of(MF_E_MESSAGE_GONE),
                     MF_REPORT_SKIP_VANISHED);
    assert_int_equal(mf_report_skip_reason_of(MF_E_MESSAGE_REJECTED),
                     MF_REPORT_SKIP_FAILED);
    assert_int_equal(mf_report_skip_reason_of(MF_E_MESSAGE_DELETED),
                     MF_REPORT_SKIP_DELETED);
    assert_int_equal(mf_report_skip_reason_of(MF_E_MESSAGE_MOVED),
                     MF_REPORT_SKIP_MOVED);
    assert_string_equal(mf_report_skip_reason_name(MF_REPORT_SKIP_MOVED),
                        "moved_on_target");
    assert_string_equal(mf_report_skip_reason_name(MF_REPORT_SKIP_VANISHED),
                        "vanished");
}

static void
test_extras(void **state) {
    struct mf_migrate_stats s = {0};
    char out[256], tiny[12];

    (void)state;
    mf_report_stats_extras(&s, out, sizeof(out));
    assert_string_equal(out, "");
    s.moved_on_target = 2;
    mf_report_stats_extras(&s, out, sizeof(out));
    assert_string_equal(out, ", moved on the target 2");
    s.outside_window = 3;
    s.bytes_outside_window = 1500000;
    s.deleted_on_target = 1;
    mf_report_stats_extras(&s, out, sizeof(out));
    assert_string_equal(out, ", outside the date window 3 (1.5 MB), removed "
                             "from the target 1, moved on the target 2");
    mf_report_stats_extras(&s, tiny, sizeof(tiny));
    assert_string_equal(tiny, ", outside t");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_extras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
