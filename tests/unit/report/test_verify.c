/*
 * Unit tests of the report's verification parts (`mailferry verify`):
 * the Verification and VerifyDifferences CSV columns, the JSON
 * "verification" object with its items, and the HTML "Verified" cell and
 * differences section; differences past MF_REPORT_ITEMS_MAX are only
 * counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report_test.h"

#include <string.h>

static void
assert_contains(const char *text, const char *needle) {
    if (!strstr(text, needle))
        fail_msg("missing %s in %s", needle, text);
}

static struct mf_report_batch *
verified_batch(void) {
    struct mf_report_batch *b = small_batch();
    struct mf_report_difference d = {
        .kind = "missing",
        .folder = "INBOX",
        .source_uid = 7,
        .internal_date = T_2024,
        .subject = "Quarterly <numbers>",
        .detail = "not on the target",
    };

    b->mailboxes[0].verification = MF_REPORT_VERIFY_DIFFERENCES;
    b->mailboxes[0].verify_differences = 1;
    b->mailboxes[0].verified_at = T_2024 + 7200;
    mf_report_add_difference(b, 0, &d);
    b->mailboxes[1].verification = MF_REPORT_VERIFIED_EQUAL;
    return b;
}

static void
test_csv_json_html(void **state) {
    struct mf_report_batch *b = verified_batch();
    char *csv = render(b, MF_REPORT_CSV);
    char *json = render(b, MF_REPORT_JSON);
    char *html = render(b, MF_REPORT_HTML);

    (void)state;
    assert_contains(csv, ",Verification,VerifyDifferences\r\n");
    assert_contains(csv, "w1,differences,1\r\n");
    assert_contains(csv, ",verified equal,0\r\n");
    assert_contains(json,
                    "\"verification\":{\"status\":\"differences\","
                    "\"verified_at\":\"2024-05-01T12:00:00Z\","
                    "\"differences\":1,\"error\":null,\"items\":[{\"kind\":"
                    "\"missing\",\"folder\":\"INBOX\",\"source_uid\":7,"
                    "\"target_uid\":0,\"internal_date\":"
                    "\"2024-05-01T10:00:00Z\",\"subject\":\"Quarterly "
                    "<numbers>\",\"detail\":\"not on the target\"}],"
                    "\"unlisted\":0}");
    assert_contains(json, "\"status\":\"verified equal\"");
    assert_contains(html, "<th>Verified</th>");
    assert_contains(html, "1 difference</span>");
    assert_contains(html, ">equal</span>");
    assert_contains(html, "Verification differences");
    assert_contains(html, "Quarterly &lt;numbers&gt;");
    free(csv);
    free(json);
    free(html);
    mf_report_free(&b);
}

static void
test_not_verified_and_cap(void **state) {
    struct mf_report_batch *b = small_batch();
    struct mf_report_difference d = {.kind = "extra", .folder = "X"};
    char *html = render(b, MF_REPORT_HTML);

    (void)state;
    assert_contains(html, "No mailbox was verified");
    free(html);
    for (size_t i = 0; i < MF_REPORT_ITEMS_MAX + 3; i++)
        mf_report_add_difference(b, 1, &d);
    assert_int_equal(b->mailboxes[1].n_diff_items, MF_REPORT_ITEMS_MAX);
    assert_int_equal(b->mailboxes[1].diff_unlisted, 3);
    assert_string_equal(mf_report_verify_name(MF_REPORT_NOT_VERIFIED),
                        "not verified");
    assert_string_equal(mf_report_verify_name(MF_REPORT_VERIFY_COUNT),
                        "not verified");
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_json_html),
        cmocka_unit_test(test_not_verified_and_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
