/* Error table: names, messages, classes and numbers stay consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/err.h"

#include <string.h>

static const struct {
    mf_err code;
    int number;
    const char *name;
} table[] = {
#define XX(name, num, cls, msg) {MF_E_##name, num, #name},
    MF_ERR_TABLE(XX)
#undef XX
};

static void
test_every_code_has_text(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal((int)table[i].code, table[i].number);
        assert_string_equal(mf_err_name(table[i].code), table[i].name);
        assert_true(strlen(mf_strerror(table[i].code)) > 3);
        assert_string_not_equal(
            mf_err_class_name(mf_err_class_of(table[i].code)), "unknown");
        /* Numbers are unique: they go into reports. */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(table[i].number, table[j].number);
    }
}

/* Shipped numbers never change: these are in reports already. */
static void
test_numbers_are_stable(void **state) {
    (void)state;
    assert_int_equal(MF_E_OK, 0);
    assert_int_equal(MF_E_CSV_BAD_ADDRESS, 105);
    assert_int_equal(MF_E_AUTH, 305);
    assert_int_equal(MF_E_MESSAGE_TOO_LARGE, 400);
    assert_int_equal(mf_err_class_of(MF_E_THROTTLED), MF_ERRCLASS_RETRY);
    assert_int_equal(mf_err_class_of(MF_E_AUTH), MF_ERRCLASS_FAIL_MAILBOX);
    assert_string_equal(mf_err_name((mf_err)9999), "UNKNOWN");
}

static void
test_error_set_truncates(void **state) {
    struct mf_error e;
    char big[1000];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(mf_error_set(&e, MF_E_IO, "%s", big), MF_E_IO);
    assert_int_equal(e.code, MF_E_IO);
    assert_int_equal(strlen(e.detail), MF_ERROR_DETAIL_MAX - 1);
    mf_error_clear(&e);
    assert_int_equal(e.code, MF_E_OK);
    assert_string_equal(e.detail, "");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_text),
        cmocka_unit_test(test_numbers_are_stable),
        cmocka_unit_test(test_error_set_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
