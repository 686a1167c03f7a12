/*
 * The OAuth2 JSON reader (core/src/oauth/jsonread.c): token answers,
 * error answers, claims, arrays of strings, escapes, and what it refuses.
 * Every accepted text is also fed in every prefix, which must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "oauth/oauth_int.h"

#include <stdlib.h>
#include <string.h>

static struct mf__json_obj *
parse_ok(const char *text) {
    struct mf__json_obj *o = NULL;
    struct mf_error err = {0};

    if (mf__json_parse(text, strlen(text), &o, &err) != MF_E_OK)
        fail_msg("parse %s: %s", text, err.detail);
    /* Every proper prefix is incomplete and must be refused. */
    for (size_t n = 0; n < strlen(text); n++) {
        struct mf__json_obj *p = NULL;
        const char *rest = text + n;
        while (*rest == ' ' || *rest == '\n')
            rest++;
        if (!*rest)
            break;
        assert_int_equal(mf__json_parse(text, n, &p, &err),
                         MF_E_OAUTH_BAD_ANSWER);
        assert_null(p);
    }
    return o;
}

static void
token_answer(void **state) {
    (void)state;
    struct mf__json_obj *o = parse_ok(
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
        "\"ext_expires_in\":3599,\"access_token\":\"eyJ0eXAi.abc.def\"}");
    enum mf__json_type t;

    assert_string_equal(mf__json_get(o, "access_token", &t),
                        "eyJ0eXAi.abc.def");
    assert_int_equal(t, MF__JSON_STRING);
    assert_string_equal(mf__json_get(o, "expires_in", &t), "3599");
    assert_int_equal(t, MF__JSON_NUMBER);
    assert_null(mf__json_get(o, "error", NULL));
    mf__json_free(&o);
    assert_null(o);
}

static void
error_answer_and_nesting(void **state) {
    (void)state;
    struct mf__json_obj *o = parse_ok(
        "{ \"error\" : \"invalid_client\",\n \"error_description\":"
        "\"AADSTS7000215: Invalid client secret \\\"x\\\".\\nTrace\","
        "\"error_codes\":[7000215],\"timestamp\":\"2024\",\"inner\":{\"a\":"
        "[1,{\"b\":null}]},\"ok\":true,\"none\":null,\"f\":-1.5e+3}");
    enum mf__json_type t;

    assert_string_equal(mf__json_get(o, "error", NULL), "invalid_client");
    assert_string_equal(mf__json_get(o, "error_description", NULL),
                        "AADSTS7000215: Invalid client secret \"x\".\nTrace");
    assert_string_equal(mf__json_get(o, "error_codes", &t), "");
    assert_int_equal(t, MF__JSON_OTHER);
    assert_string_equal(mf__json_get(o, "inner", &t), "");
    assert_int_equal(t, MF__JSON_OTHER);
    assert_string_equal(mf__json_get(o, "ok", &t), "true");
    assert_int_equal(t, MF__JSON_BOOL);
    assert_int_equal((mf__json_get(o, "none", &t), t), MF__JSON_NULL);
    assert_string_equal(mf__json_get(o, "f", NULL), "-1.5e+3");
    mf__json_free(&o);
}

static void
string_arrays_and_escapes(void **state) {
    (void)state;
    struct mf__json_obj *o = parse_ok(
        "{\"aud\":[\"a\",\"b c\"],\"roles\":[],\"u\":\"\\u00e9\\ud83d\\ude00"
        "\\/\\t\",\"dup\":\"1\",\"dup\":\"2\"}");
    enum mf__json_type t;

    assert_string_equal(mf__json_get(o, "aud", &t), "a b c");
    assert_int_equal(t, MF__JSON_ARRAY);
    assert_string_equal(mf__json_get(o, "roles", &t), "");
    assert_int_equal(t, MF__JSON_ARRAY);
    assert_string_equal(mf__json_get(o, "u", NULL),
                        "\xc3\xa9\xf0\x9f\x98\x80/\t");
    assert_string_equal(mf__json_get(o, "dup", NULL), "2");
    mf__json_free(&o);
}

static void
refused(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{\"a\":[1 2]}",
        "<html>502 Bad Gateway</html>",
    };
    struct mf_error err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mf__json_obj *o = NULL;
        assert_int_equal(mf__json_parse(bad[i], strlen(bad[i]), &o, &err),
                         MF_E_OAUTH_BAD_ANSWER);
        assert_null(o);
        assert_non_null(strstr(err.detail, "invalid JSON at byte"));
    }
}

static void
limits(void **state) {
    (void)state;
    struct mf_buf b = {0};
    struct mf__json_obj *o = NULL;
    struct mf_error err = {0};

    /* Nesting past the limit. */
    mf_buf_append_str(&b, "{\"a\":");
    for (int i = 0; i < MF__JSON_MAX_DEPTH + 1; i++)
        mf_buf_append_str(&b, "[");
    for (int i = 0; i < MF__JSON_MAX_DEPTH + 1; i++)
        mf_buf_append_str(&b, "]");
    mf_buf_append_str(&b, "}");
    assert_int_equal(mf__json_parse((char *)b.data, b.len, &o, &err),
                     MF_E_OAUTH_BAD_ANSWER);
    assert_non_null(strstr(err.detail, "nested too deeply"));
    /* Too many members. */
    mf_buf_reset(&b);
    mf_buf_append_str(&b, "{");
    for (int i = 0; i <= MF__JSON_MAX_MEMBERS; i++)
        mf_buf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    mf_buf_append_str(&b, "}");
    assert_int_equal(mf__json_parse((char *)b.data, b.len, &o, &err),
                     MF_E_OAUTH_BAD_ANSWER);
    assert_non_null(strstr(err.detail, "too many members"));
    /* Too large. */
    assert_int_equal(mf__json_parse("{}", MF__JSON_MAX_BYTES + 1, &o, &err),
                     MF_E_OAUTH_BAD_ANSWER);
    assert_null(o);
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_answer),
        cmocka_unit_test(error_answer_and_nesting),
        cmocka_unit_test(string_arrays_and_escapes),
        cmocka_unit_test(refused),
        cmocka_unit_test(limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
