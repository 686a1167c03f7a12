/* JSON writer: structure, escaping, invalid UTF-8 replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/json.h"

static void
test_structure(void **state) {
    struct mf_buf b = {0};
    struct mf_json j;

    (void)state;
    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_key(&j, "a"), mf_json_u64(&j, 1);
    mf_json_key(&j, "list"), mf_json_array_begin(&j);
    mf_json_string(&j, "x");
    mf_json_null(&j);
    mf_json_object_begin(&j);
    mf_json_object_end(&j);
    mf_json_bool(&j, false);
    mf_json_array_end(&j);
    mf_json_key(&j, "n"), mf_json_i64(&j, -5);
    mf_json_key(&j, "d"), mf_json_double(&j, 1.5);
    mf_json_key(&j, "s"), mf_json_string(&j, NULL);
    mf_json_object_end(&j);
    assert_string_equal((char *)b.data,
                        "{\"a\":1,\"list\":[\"x\",null,{},false],\"n\":-5,"
                        "\"d\":1.5,\"s\":null}");
    mf_buf_free(&b);
}

static void
test_escaping(void **state) {
    struct mf_buf b = {0};

    (void)state;
    mf_json_append_string(&b, "q\"b\\n\nt\tc\x01 \xc3\xa9 \xff\xfe end");
    assert_string_equal(
        (char *)b.data,
        "\"q\\\"b\\\\n\\nt\\tc\\u0001 \xc3\xa9 \\ufffd\\ufffd end\"");
    mf_buf_free(&b);
    mf_json_append_stringn(&b, "a\0b", 3);
    assert_string_equal((char *)b.data, "\"a\\u0000b\"");
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
