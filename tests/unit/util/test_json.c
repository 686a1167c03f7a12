/* JSON writer: structure, escaping, invalid UTF-8 replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/json.h"

#include <stdio.h>
#include <stdlib.h>

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

/* mf_json_member() picks the writer by type, mf_json_member_or_null()
 * writes null for what is not known; MF_JSON_FIELDS() names members
 * after the fields, in the order given, from 1 to 16 of them. */
struct sample {
    uint64_t u64;
    int64_t i64;
    uint32_t u32;
    long i; /* int is refused: a comparison is an int */
    bool yes;
    double d;
    char *text;
    const char *none;
    char arr[8];
    unsigned char small;
};

static void
test_members(void **state) {
    struct mf_buf b = {0};
    struct mf_json j;
    const struct sample s = {UINT64_MAX, INT64_MIN,   7,    -3,    true,
                             2.5,        (char *)"t", NULL, "arr", 200};
    const struct sample *p = &s;

    (void)state;
    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    MF_JSON_FIELDS(&j, p, u64, i64, u32, i, yes, d, text, none, arr, small);
    mf_json_member(&j, "renamed", p->u32 + 1);
    mf_json_member_or_null(&j, "known", p->yes, p->d);
    mf_json_member_or_null(&j, "unknown", !p->yes, p->u64);
    MF_JSON_FIELDS(&j, p, i);
    MF_JSON_FIELDS(&j, p, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32,
                   u32, u32, u32, u32, i);
    mf_json_object_end(&j);
    assert_string_equal((char *)b.data,
                        "{\"u64\":18446744073709551615,"
                        "\"i64\":-9223372036854775808,\"u32\":7,\"i\":-3,"
                        "\"yes\":true,\"d\":2.5,\"text\":\"t\",\"none\":null,"
                        "\"arr\":\"arr\",\"small\":200,\"renamed\":8,"
                        "\"known\":2.5,\"unknown\":null,\"i\":-3,"
                        "\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,"
                        "\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,"
                        "\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,\"u32\":7,"
                        "\"i\":-3}");
    mf_buf_free(&b);
}

/* A document prints whole with its newline; an empty one as {}. */
static void
test_doc(void **state) {
    struct mf_json_doc doc;
    struct mf_json *j;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_non_null(f);
    j = mf_json_doc_begin(&doc);
    mf_json_object_begin(j);
    mf_json_member(j, "a", (uint64_t)1);
    mf_json_object_end(j);
    mf_json_doc_print(&doc, f);
    assert_null(doc.buf.data);
    mf_json_doc_begin(&doc);
    mf_json_doc_print(&doc, f);
    fclose(f);
    assert_string_equal(text, "{\"a\":1}\n{}\n");
    free(text);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_doc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
