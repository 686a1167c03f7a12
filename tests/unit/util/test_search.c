/*
 * The one binary search (core/src/util/util.c): mf_u32_lower_bound() over
 * plain UIDs and mf_u32_lower_bound_by() over records keyed by a UID
 * field, against a linear scan for every key around every element,
 * including the empty array, duplicates and UINT32_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/util.h"

struct rec {
    uint64_t size;
    uint32_t uid;
    const char *name;
};

static size_t
linear(const uint32_t *a, size_t n, uint32_t v) {
    size_t i = 0;
    while (i < n && a[i] < v)
        i++;
    return i;
}

static void
test_against_linear(void **state) {
    static const uint32_t a[] = {1, 3, 3, 7, 100, 4000000000u, UINT32_MAX};
    struct rec r[MF_ARRAY_LEN(a)];

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(a); i++)
        r[i] = (struct rec){.size = i, .uid = a[i], .name = "x"};
    for (size_t n = 0; n <= MF_ARRAY_LEN(a); n++)
        for (size_t i = 0; i < MF_ARRAY_LEN(a); i++)
            for (int d = -1; d <= 1; d++) {
                uint32_t v = a[i] + (uint32_t)d;
                size_t want = linear(a, n, v);
                assert_int_equal(mf_u32_lower_bound(a, n, v), want);
                assert_int_equal(
                    mf_u32_lower_bound_by(r, n, sizeof(*r),
                                          offsetof(struct rec, uid), v),
                    want);
            }
}

int
main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_linear)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
