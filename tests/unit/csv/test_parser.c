/*
 * Batch CSV parser: table-driven vectors. Every vector is parsed whole,
 * byte at a time, and in random chunks (seeded), and all three must give
 * the same rows and the same issues.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/csv.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a parse produced, rendered as text so runs compare with strcmp. */
struct outcome {
    struct mf_buf text;
    mf_err rc;
};

static void
on_row(void *ud, const struct mf_csv_row *r) {
    struct outcome *o = ud;
    mf_buf_appendf(&o->text, "row %llu: %s|%s|%s|%s|%s|%s\n",
                   (unsigned long long)r->line, r->email, r->username,
                   r->password ? r->password : "-",
                   r->user_root ? r->user_root : "-",
                   r->target_username ? r->target_username : "-",
                   r->target_password ? r->target_password : "-");
}

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct outcome *o = ud;
    mf_buf_appendf(&o->text, "issue %llu:%u %s\n", (unsigned long long)is->line,
                   is->column, mf_err_name(is->code));
}

static const struct mf_csv_callbacks cbs = {on_row, on_issue};

/* chunk 0: whole; 1: byte at a time; -1: random chunk sizes. */
static void
parse(const char *in, size_t len, const struct mf_csv_options *opt, int chunk,
      struct outcome *o) {
    struct mf_csv_parser *p = mf_csv_parser_new(opt, &cbs, o);
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    srand(42);
    while (off < len) {
        size_t n = chunk == 0   ? len - off
                   : chunk == 1 ? 1
                                : 1 + (size_t)rand() % 7;
        if (n > len - off)
            n = len - off;
        if (mf_csv_parser_feed(p, (const uint8_t *)in + off, n) != MF_E_OK)
            break;
        off += n;
    }
    o->rc = mf_csv_parser_finish(p);
    mf_csv_parser_free(&p);
    assert_null(p);
}

struct vector {
    const char *name;
    const char *in;
    const char *want; /* rendered outcome */
    mf_err rc;
};

static const struct vector vectors[] = {
    {"minimal valid",
     "EmailAddress,UserName,Password\r\na@example.com,a,pw\r\n",
     "row 2: a@example.com|a|pw|-|-|-\n", MF_E_OK},
    {"LF only, no final newline",
     "EmailAddress,UserName,Password\nb@example.com,b,pw",
     "row 2: b@example.com|b|pw|-|-|-\n", MF_E_OK},
    {"lone CR line ends",
     "EmailAddress,UserName,Password\rc@example.com,c,pw\r",
     "row 2: c@example.com|c|pw|-|-|-\n", MF_E_OK},
    {"BOM, any column order and case",
     "\xef\xbb\xbfpassword,EMAILADDRESS,username\na b,d@example.com,d\n",
     "row 2: d@example.com|d|a b|-|-|-\n", MF_E_OK},
    {"quoted fields with comma, doubled quote and newline",
     "EmailAddress,UserName,Password\n"
     "\"e@example.com\",\"e,1\",\"p\"\"w\"\n",
     "row 2: e@example.com|e,1|p\"w|-|-|-\n", MF_E_OK},
    {"optional columns",
     "EmailAddress,UserName,Password,UserRoot,TargetUserName,TargetPassword\n"
     "f@example.com,f,pw,/users/f,f@new.example,tpw\n",
     "row 2: f@example.com|f|pw|/users/f|f@new.example|tpw\n", MF_E_OK},
    {"blank lines are skipped, trimming of address and user",
     "EmailAddress,UserName,Password\n\n  g@example.com , g ,  pw \n\n",
     "row 3: g@example.com|g|  pw |-|-|-\n", MF_E_OK},
    {"UTF-8 address",
     "EmailAddress,UserName,Password\nj\xc3\xbcrgen@b\xc3\xbc"
     "ro.de,j,pw\n",
     "row 2: j\xc3\xbcrgen@b\xc3\xbcro.de|j|pw|-|-|-\n", MF_E_OK},
    {"empty file", "", "issue 1:0 CSV_NO_HEADER\n", MF_E_CSV_NO_HEADER},
    {"header only", "EmailAddress,UserName,Password\n",
     "issue 2:0 CSV_NO_ROWS\n", MF_E_CSV_NO_ROWS},
    {"missing column", "EmailAddress,Password\na@example.com,pw\n",
     "issue 1:0 CSV_MISSING_COLUMN\n", MF_E_CSV_MISSING_COLUMN},
    {"unknown and duplicate column",
     "EmailAddress,UserName,Password,Color,username\na@x.com,a,p,red,a\n",
     "issue 1:4 CSV_UNKNOWN_COLUMN\nissue 1:5 CSV_DUPLICATE_COLUMN\n"
     "row 2: a@x.com|a|p|-|-|-\n",
     MF_E_CSV_UNKNOWN_COLUMN},
    {"every row error is reported",
     "EmailAddress,UserName,Password\n"
     "not-an-address,u,p\n"
     "a@example.com,,p\n"
     "b@example.com,b,\n"
     "c@example.com,c\n"
     "d@example.com,d,p,extra\n"
     "ok@example.com,ok,p\n"
     "OK@Example.com,ok2,p\n",
     "issue 2:1 CSV_BAD_ADDRESS\nissue 3:2 CSV_EMPTY_FIELD\n"
     "issue 4:3 CSV_EMPTY_FIELD\nissue 5:0 CSV_COLUMN_COUNT\n"
     "issue 6:0 CSV_COLUMN_COUNT\nrow 7: ok@example.com|ok|p|-|-|-\n"
     "issue 8:1 CSV_DUPLICATE_ADDRESS\n",
     MF_E_CSV_BAD_ADDRESS},
    {"unterminated quote reports where it opened",
     "EmailAddress,UserName,Password\na@example.com,a,\"pw\nmore\n",
     "issue 2:3 CSV_UNTERMINATED_QUOTE\n", MF_E_CSV_UNTERMINATED_QUOTE},
    {"quote inside unquoted field",
     "EmailAddress,UserName,Password\na@example.com,a\"b,pw\n",
     "issue 2:2 CSV_BAD_QUOTE\n", MF_E_CSV_BAD_QUOTE},
    {"text after closing quote",
     "EmailAddress,UserName,Password\na@example.com,\"a\"b,pw\n",
     "issue 2:2 CSV_BAD_QUOTE\n", MF_E_CSV_BAD_QUOTE},
    {"invalid UTF-8 (overlong, surrogate, stray continuation)",
     "EmailAddress,UserName,Password\n"
     "a@example.com,\xc0\xaf,pw\n"
     "b@example.com,\xed\xa0\x80,pw\n"
     "c@example.com,\x80,pw\n"
     "d@example.com,\xe2\x82,pw\n",
     "issue 2:2 CSV_BAD_UTF8\nissue 3:2 CSV_BAD_UTF8\n"
     "issue 4:2 CSV_BAD_UTF8\nissue 5:2 CSV_BAD_UTF8\n",
     MF_E_CSV_BAD_UTF8},
    {"control character",
     "EmailAddress,UserName,Password\na@example.com,a,\"p\nw\"\n",
     "issue 2:3 CSV_BAD_CHARACTER\n", MF_E_CSV_BAD_CHARACTER},
    {"quoted newline keeps line numbers right",
     "EmailAddress,UserName,Password\n\"a@example.com\",\"x\ny\",p\n"
     "bad,b,p\n",
     "issue 2:2 CSV_BAD_CHARACTER\nissue 4:1 CSV_BAD_ADDRESS\n",
     MF_E_CSV_BAD_CHARACTER},
    {"target pair must be complete",
     "EmailAddress,UserName,Password,TargetUserName,TargetPassword\n"
     "a@example.com,a,p,t,\n",
     "issue 2:0 CSV_EMPTY_FIELD\n", MF_E_CSV_EMPTY_FIELD},
};

static void
test_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(vectors); i++) {
        const struct vector *v = &vectors[i];
        struct outcome whole, bytes, random;

        parse(v->in, strlen(v->in), NULL, 0, &whole);
        parse(v->in, strlen(v->in), NULL, 1, &bytes);
        parse(v->in, strlen(v->in), NULL, -1, &random);
        const char *got = whole.text.data ? (char *)whole.text.data : "";
        if (strcmp(got, v->want) != 0 || whole.rc != v->rc)
            fail_msg("%s:\nwant (%s)\n%s\ngot (%s)\n%s", v->name,
                     mf_err_name(v->rc), v->want, mf_err_name(whole.rc), got);
        assert_string_equal(got,
                            bytes.text.data ? (char *)bytes.text.data : "");
        assert_string_equal(got,
                            random.text.data ? (char *)random.text.data : "");
        assert_int_equal(whole.rc, bytes.rc);
        assert_int_equal(whole.rc, random.rc);
        mf_buf_free(&whole.text);
        mf_buf_free(&bytes.text);
        mf_buf_free(&random.text);
    }
}

static void
test_password_optional(void **state) {
    struct mf_csv_options opt = {.password_optional = true};
    struct outcome o;
    const char *in = "EmailAddress,UserName\na@example.com,a\n";

    (void)state;
    parse(in, strlen(in), &opt, 0, &o);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal((char *)o.text.data,
                        "row 2: a@example.com|a|-|-|-|-\n");
    mf_buf_free(&o.text);

    in = "EmailAddress,UserName,Password\na@example.com,a,\n";
    parse(in, strlen(in), &opt, 0, &o);
    assert_int_equal(o.rc, MF_E_OK);
    mf_buf_free(&o.text);
}

static void
test_unknown_columns_allowed(void **state) {
    struct mf_csv_options opt = {.allow_unknown_columns = true};
    struct outcome o;
    const char *in = "Dept,EmailAddress,UserName,Password\nIT,a@x.org,a,p\n";

    (void)state;
    parse(in, strlen(in), &opt, 1, &o);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal((char *)o.text.data, "row 2: a@x.org|a|p|-|-|-\n");
    mf_buf_free(&o.text);
}

static void
test_row_limit(void **state) {
    struct mf_csv_options opt = {.max_rows = 3};
    struct mf_buf in = {0};
    struct outcome o;

    (void)state;
    mf_buf_append_str(&in, "EmailAddress,UserName,Password\n");
    for (int i = 0; i < 10; i++)
        mf_buf_appendf(&in, "u%d@example.com,u%d,p\n", i, i);
    parse((char *)in.data, in.len, &opt, 0, &o);
    assert_int_equal(o.rc, MF_E_CSV_ROW_LIMIT);
    assert_non_null(strstr((char *)o.text.data, "row 4: u2@example.com"));
    assert_non_null(strstr((char *)o.text.data, "issue 5:0 CSV_ROW_LIMIT\n"));
    assert_null(strstr((char *)o.text.data, "u3@example.com"));
    mf_buf_free(&o.text);
    mf_buf_free(&in);
}

static void
test_size_limit(void **state) {
    struct mf_csv_options opt = {.max_bytes = 40};
    struct outcome o;
    const char *in = "EmailAddress,UserName,Password\na@example.com,a,p\nb@"
                     "example.com,b,p\n";

    (void)state;
    parse(in, strlen(in), &opt, 1, &o);
    assert_int_equal(o.rc, MF_E_CSV_SIZE_LIMIT);
    assert_non_null(strstr((char *)o.text.data, "CSV_SIZE_LIMIT"));
    mf_buf_free(&o.text);
}

static void
test_field_limit(void **state) {
    struct mf_csv_options opt = {.max_field = 16};
    struct outcome o;
    const char *in = "EmailAddress,UserName,Password\n"
                     "a@example.com,a,0123456789abcdefXYZ\n";

    (void)state;
    parse(in, strlen(in), &opt, 0, &o);
    assert_int_equal(o.rc, MF_E_CSV_FIELD_TOO_LONG);
    assert_string_equal((char *)o.text.data, "issue 2:3 CSV_FIELD_TOO_LONG\n");
    mf_buf_free(&o.text);
}

static void
collect_detail(void *ud, const struct mf_csv_issue *is) {
    mf_buf_appendf(ud, "%s\n", is->detail);
}

/* A problem in a Password field is reported without the password. */
static void
test_issue_detail_never_has_password(void **state) {
    const struct mf_csv_callbacks cb = {.on_issue = collect_detail};
    struct mf_buf details = {0};
    struct mf_csv_parser *p;
    const char *in = "EmailAddress,UserName,Password\n"
                     "a@example.com,a,sec\"ret\n"
                     "b@example.com,b,\"s3cr\x01t\"\n"
                     "c@example.com,c,\"unterminated\n";

    (void)state;
    p = mf_csv_parser_new(NULL, &cb, &details);
    assert_int_equal(mf_csv_parser_feed(p, (const uint8_t *)in, strlen(in)),
                     MF_E_OK);
    assert_int_not_equal(mf_csv_parser_finish(p), MF_E_OK);
    mf_csv_parser_free(&p);
    assert_non_null(details.data);
    assert_null(strstr((char *)details.data, "ret"));
    assert_null(strstr((char *)details.data, "s3cr"));
    assert_null(strstr((char *)details.data, "unterminated"));
    mf_buf_free(&details);
}

static void
test_address_syntax(void **state) {
    static const char *const good[] = {
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "x@xn--bcher-kva.example",
    };
    static const char *const bad[] = {
        "",
        "@example.com",
        "a@",
        "a@example",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a@example..com",
    };
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(good); i++)
        if (!mf_csv_address_valid(good[i], NULL))
            fail_msg("rejected %s", good[i]);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        const char *reason = NULL;
        if (mf_csv_address_valid(bad[i], &reason))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(reason);
    }
}

static void
test_parse_file(void **state) {
    char path[] = "/tmp/mf-csv-test-XXXXXX";
    struct mf_csv_stats st;
    struct mf_error err = {0};
    struct outcome o = {0};
    int fd = mkstemp(path);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("EmailAddress,UserName,Password\n", f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "user%d@example.com,user%d,pw%d\n", i, i, i);
    fclose(f);
    assert_int_equal(mf_csv_parse_file(path, NULL, &cbs, &o, &st, &err),
                     MF_E_OK);
    assert_int_equal(st.rows, 1000);
    assert_int_equal(st.mailboxes, 1000);
    assert_int_equal(st.issues, 0);
    unlink(path);
    mf_buf_free(&o.text);
    assert_int_equal(mf_csv_parse_file(path, NULL, &cbs, &o, &st, &err),
                     MF_E_IO);
    assert_non_null(strstr(err.detail, path));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_password_optional),
        cmocka_unit_test(test_unknown_columns_allowed),
        cmocka_unit_test(test_row_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_issue_detail_never_has_password),
        cmocka_unit_test(test_address_syntax),
        cmocka_unit_test(test_parse_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
