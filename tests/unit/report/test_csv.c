/* CSV report: the exact text for a small batch, RFC 4180 quoting, the
 * formula-injection guard, invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_test.h"

#include <string.h>

static const char header[] =
    "EmailAddress,State,FoldersCopied,FoldersExcluded,SourceMessages,"
    "SourceBytes,CopiedMessages,CopiedBytes,SkippedTooLarge,SkippedExcluded,"
    "SkippedFailed,SkippedVanished,OutsideWindow,DeletedOnTarget,"
    "MovedOnTarget,ErrorCode,"
    "ErrorName,ErrorText,"
    "FirstSync,"
    "LastSync,"
    "DurationSeconds,MessagesPerSecond,BytesPerSecond,Attempts,Worker,"
    "Verification,VerifyDifferences\r\n";

static void
test_exact(void **state) {
    struct mf_report_batch *b = small_batch();
    char *csv = render(b, MF_REPORT_CSV);
    char want[2048];

    (void)state;
    snprintf(
        want, sizeof(want), "%s%s%s", header,
        "alice@example.test,Synced,5,1,100,500000,98,490000,1,1,0,0,0,0,0,,,,"
        "2024-05-01T10:00:10Z,2024-05-01T10:01:00Z,50.0,1.96,9800,1,"
        "w1,not verified,0\r\n",
        "bob@example.test,Failed,0,0,10,1000,0,0,0,0,0,0,0,0,0,305,AUTH,"
        "\"LOGIN failed: \"\"bad\"\", try again\",,,0.0,0.00,0,3,,not "
        "verified,0\r\n");
    assert_string_equal(csv, want);
    /* The model has no password field and the URL lost its userinfo. */
    assert_null(strstr(csv, "hunter2"));
    free(csv);
    mf_report_free(&b);
    assert_null(b);
}

/* The CSV row of a single mailbox with the given address and worker. */
static char *
one_row(const char *email, const char *worker, const char *error_text) {
    struct mf_report_batch_info info = {.name = "x", .generated = T_2024};
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox m = {
        .email = email,
        .state = MF_REPORT_FAILED,
        .worker = worker,
        .error_code = error_text ? MF_E_IMAP_NO : 0,
        .error_text = error_text,
    };
    char *csv, *row;

    mf_report_add_mailbox(b, &m);
    csv = render(b, MF_REPORT_CSV);
    assert_memory_equal(csv, header, strlen(header));
    row = strdup(csv + strlen(header));
    free(csv);
    mf_report_free(&b);
    return row;
}

static void
test_quoting(void **state) {
    static const struct {
        const char *in, *field;
    } cases[] = {
        {"plain", "plain"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\r\nlf", "\"cr\r\nlf\""},
        {"", ""},
        /* Formula injection: a leading ' defuses the cell. */
        {"=1+2", "'=1+2"},
        {"+1", "'+1"},
        {"-2", "'-2"},
        {"@SUM(A1)", "'@SUM(A1)"},
        {"\tx", "'\tx"},
        {"\rx", "\"'\rx\""},
        {"=HYPERLINK(\"http://e\",\"x\")",
         "\"'=HYPERLINK(\"\"http://e\"\",\"\"x\"\")\""},
        {"a=b", "a=b"}, /* only a leading one matters */
        /* UTF-8 passes, invalid bytes become U+FFFD. */
        {"Gr\xc3\xb6\xc3\x9f"
         "e",
         "Gr\xc3\xb6\xc3\x9f"
         "e"},
        {"bad\xff\xc3", "bad\xef\xbf\xbd\xef\xbf\xbd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *row = one_row("u@example.test", cases[i].in, NULL);
        char want[256];

        snprintf(want, sizeof(want), ",%s,not verified,0\r\n", cases[i].field);
        /* The worker comes before the two verify columns; its text may
         * contain commas. */
        assert_true(strlen(row) >= strlen(want));
        assert_string_equal(row + strlen(row) - strlen(want), want);
        free(row);
    }
}

static void
test_injection_in_every_text_column(void **state) {
    char *row = one_row("=cmd|' /C calc'!A0", "@w", "-err, \"x\"");

    (void)state;
    assert_string_equal(row,
                        "'=cmd|' /C calc'!A0,Failed,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                        "204,IMAP_NO,\"'-err, \"\"x\"\"\",,,0.0,0.00,0,"
                        "0,'@w,not verified,0\r\n");
    free(row);
}

static void
test_write_error(void **state) {
    struct mf_report_batch *b = small_batch();
    FILE *f = fopen("/dev/null", "r"); /* every write fails */

    (void)state;
    assert_non_null(f);
    assert_int_equal(mf_report_write_csv(b, f), MF_E_IO);
    fclose(f);
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_injection_in_every_text_column),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
