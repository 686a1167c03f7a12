/* JSON report: the document's parts, escaping of hostile strings, nulls
 * for unknown times and absent errors. (The integration test parses a
 * whole report with Python's json module.) */
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
        fail_msg("missing %s", needle);
}

static void
test_document(void **state) {
    struct mf_report_batch *b = small_batch();
    char *json;

    (void)state;
    mf_report_add_sample(b, &(struct mf_report_sample){T_2024 * 1000LL, 0, 0});
    mf_report_add_sample(
        b, &(struct mf_report_sample){(T_2024 + 60) * 1000LL, 98, 490000});
    json = render(b, MF_REPORT_JSON);
    assert_memory_equal(json, "{\"report_version\":1,\"batch\":{", 29);
    assert_contains(json,
                    "\"batch\":{\"name\":\"wave 1\",\"state\":"
                    "\"SyncedWithErrors\",\"created\":\"2024-05-01T09:50:00Z\","
                    "\"started\":\"2024-05-01T10:00:00Z\",\"finished\":"
                    "\"2024-05-01T11:00:00Z\",\"started_ms\":1714557600000,"
                    "\"finished_ms\":1714561200000,\"generated\":"
                    "\"2024-05-01T11:01:40Z\",\"source\":"
                    "\"imaps://src.example.test:993\",\"target\":"
                    "\"imap://dst.example.test/?tls=off\"}");
    assert_contains(json, "\"totals\":{\"mailboxes\":2,\"states\":{"
                          "\"Queued\":0,\"Syncing\":0,\"Synced\":1,"
                          "\"IncrementalSyncing\":0,\"Stopped\":0,"
                          "\"Failed\":1,\"Completed\":0}");
    assert_contains(json, "\"source_messages\":110,\"source_bytes\":501000,"
                          "\"copied_messages\":98,\"copied_bytes\":490000,"
                          "\"skipped\":{\"too_large\":1,\"excluded\":1,"
                          "\"failed\":0,\"vanished\":0,\"outside_window\":0,"
                          "\"deleted_on_target\":0,\"moved_on_target\":0},"
                          "\"mailboxes_with_errors\":1,"
                          "\"failed_items\":0,\"attempts\":4,"
                          "\"elapsed_ms\":3600000,\"elapsed_seconds\":3600,");
    assert_contains(json, "\"throughput\":[{\"time\":\"2024-05-01T10:00:00Z\","
                          "\"time_ms\":1714557600000,\"messages\":0,"
                          "\"bytes\":0},{\"time\":\"2024-05-01T10:01:00Z\","
                          "\"time_ms\":1714557660000,\"messages\":98,"
                          "\"bytes\":490000}]");
    assert_contains(json, "{\"email\":\"alice@example.test\",\"state\":"
                          "\"Synced\",\"folders_copied\":5,");
    assert_contains(json, "\"error\":null,\"first_sync\":"
                          "\"2024-05-01T10:00:10Z\",\"last_sync\":"
                          "\"2024-05-01T10:01:00Z\",\"duration_seconds\":50,"
                          "\"messages_per_second\":1.96,\"bytes_per_second\":"
                          "9800,\"attempts\":1,\"worker\":\"w1\"");
    assert_contains(json, "\"skipped_items\":[{\"folder\":\"INBOX\",\"uid\":7,"
                          "\"size\":60000000,\"internal_date\":"
                          "\"2024-04-30T10:00:00Z\",\"subject\":\"Huge\","
                          "\"reason\":\"too_large\"}],\"skipped_unlisted\":0,"
                          "\"failed_items\":[],\"failed_unlisted\":0,"
                          "\"verification\":{\"status\":\"not verified\","
                          "\"verified_at\":null,\"differences\":0,"
                          "\"error\":null,\"items\":[],\"unlisted\":0}}");
    assert_contains(json, "\"error\":{\"code\":305,\"name\":\"AUTH\",\"text\":"
                          "\"LOGIN failed: \\\"bad\\\", try again\"},"
                          "\"first_sync\":null,\"last_sync\":null,");
    assert_contains(json, "\"worker\":null,");
    assert_string_equal(json + strlen(json) - 3, "]}\n");
    assert_null(strstr(json, "hunter2"));
    free(json);
    mf_report_free(&b);
}

static void
test_hostile_strings(void **state) {
    struct mf_report_batch_info info = {.name = "n\"ame\n", .generated = 1};
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox m = {.email = "x@example.test"};
    char *json;
    size_t i;

    (void)state;
    i = mf_report_add_mailbox(b, &m);
    mf_report_add_skipped(
        b, i,
        &(struct mf_report_skipped){"F\\o\x01ld\xff", 1, 2, 0,
                                    "</script><script>alert(1)</script>",
                                    MF_REPORT_SKIP_EXCLUDED, 0, NULL});
    /* A moved message (--sync-deletes) keeps where it came from. */
    mf_report_add_skipped(b, i,
                          &(struct mf_report_skipped){
                              "Archive", 3, 4, 0, "m", MF_REPORT_SKIP_MOVED,
                              MF_E_MESSAGE_MOVED, "moved from \"Old\"\x01"});
    mf_report_add_failed(
        b, i,
        &(struct mf_report_failed){
            .folder = "INBOX", .uid = 9, .error_code = MF_E_MESSAGE_REJECTED});
    json = render(b, MF_REPORT_JSON);
    assert_contains(json, "\"name\":\"n\\\"ame\\n\"");
    assert_contains(json, "\"folder\":\"F\\\\o\\u0001ld\\ufffd\",\"uid\":1,"
                          "\"size\":2,\"internal_date\":null,\"subject\":"
                          "\"</script><script>alert(1)</script>\","
                          "\"reason\":\"excluded\"}");
    assert_contains(json, "\"subject\":\"m\",\"reason\":\"moved_on_target\","
                          "\"error\":{\"code\":409,\"name\":\"MESSAGE_MOVED\","
                          "\"text\":\"moved from \\\"Old\\\"\\u0001\"}}");
    /* Nothing known of the message but its UID: nulls and 0. */
    assert_contains(json, "\"failed_items\":[{\"folder\":\"INBOX\",\"uid\":9,"
                          "\"size\":0,\"internal_date\":null,\"subject\":"
                          "null,\"message_id\":null,\"error\":{\"code\":401,"
                          "\"name\":\"MESSAGE_REJECTED\",\"text\":null}}]");
    assert_contains(json, "\"failed_items\":1,");
    free(json);
    mf_report_free(&b);
}

/* A message --repair changed arrives as a failed item with code
 * MESSAGE_REPAIRED and is listed apart, with what was changed; it is not
 * a failure. */
static void
test_repaired(void **state) {
    struct mf_report_batch *b = batch_with_failed(
        "=?utf-8?q?stays_as_given?= Gr\xc3\xbc\xc3\x9f"
        "e",
        MF_E_MESSAGE_REPAIRED, "12 bare LF line ends made CRLF");
    char *json;

    (void)state;
    assert_int_equal(b->mailboxes[0].failed.n, 0);
    assert_int_equal(b->mailboxes[0].repaired.n, 1);
    json = render(b, MF_REPORT_JSON);
    assert_contains(json, "\"failed_items\":[],\"failed_unlisted\":0,"
                          "\"repaired_items\":[{\"folder\":\"INBOX\","
                          "\"uid\":7,\"size\":123456,\"internal_date\":"
                          "\"2024-05-13T08:46:40Z\",\"subject\":\"=?utf-8?q?"
                          "stays_as_given?= Gr\xc3\xbc\xc3\x9f"
                          "e\",\"message_id\":"
                          "\"<i7@example.test>\",\"changes\":\"12 bare LF line "
                          "ends made CRLF\"}],\"repaired_unlisted\":0");
    assert_contains(json, "\"failed_items\":0,");
    free(json);
    json = render(b, MF_REPORT_HTML);
    assert_contains(json, "Repaired messages");
    assert_contains(json, "12 bare LF line ends made CRLF");
    free(json);
    mf_report_free(&b);
}

static void
test_empty(void **state) {
    struct mf_report_batch_info info = {0};
    struct mf_report_batch *b = mf_report_new(&info);
    char *json;

    (void)state;
    json = render(b, MF_REPORT_JSON);
    assert_contains(json, "\"name\":\"\",\"state\":\"\",\"created\":null,");
    assert_contains(json, "\"source\":null,\"target\":null}");
    assert_contains(json, "\"throughput\":[],\"rename_warnings\":[],"
                          "\"mailboxes\":[]}");
    free(json);
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_repaired),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
