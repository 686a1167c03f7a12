/*
 * What `migrate --direct` prints (core/src/direct/output.c): a finished
 * mailbox's line with a skipped message or its error, and the --json
 * summary word for word: every key in its place and every value with its
 * JSON type (a count a number, "stopped" false, an error an object or
 * null, a mailbox that never ran NotStarted). The expected document is
 * what output.c wrote before its members went through MF_JSON_FIELDS().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "direct/direct_int.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mf_migrate_item skipped = {
    .folder = "INBOX",
    .uid = 7,
    .size = 52428800,
    .date = "05-Mar-2024 15:07:09 +0100",
    .subject = "big",
    .error = {MF_E_MESSAGE_TOO_LARGE, "52428800 bytes over the limit"},
};

/* A message the target refused: listed with what finds it, its subject
 * as reports show it (the line end and the escape character go). */
static struct mf_migrate_item refused = {
    .folder = "Sent",
    .uid = 12,
    .size = 4096,
    .date = "06-Mar-2024 09:00:00 +0000",
    .subject = "Minutes\r\n \x1b[2Jmarch",
    .message_id = "<m12@example.test>",
    .error = {MF_E_MESSAGE_MALFORMED,
              "BAD Command Argument Error. 11; the message has bare LF"},
};

/* ann synced, bob failed, cid never started. */
static void
outcomes(struct mf__direct_outcome v[3]) {
    memset(v, 0, 3 * sizeof(*v));
    v[0].email = "ann@example.test";
    atomic_store(&v[0].done, true);
    v[0].result.stats = (struct mf_migrate_stats){
        .folders_copied = 3,
        .messages_source = 10,
        .bytes_source = 2000000,
        .messages_copied = 9,
        .bytes_copied = 1500000,
        .messages_present = 1,
        .skipped_too_large = 1,
        .failed = 1,
        .attempts = 1,
        .throttles = 2,
        .throttle_wait_ms = 1500,
        .seconds = 2.5,
    };
    v[0].result.skipped = &skipped;
    v[0].result.n_skipped = 1;
    v[0].result.failed = &refused;
    v[0].result.n_failed = 1;
    v[1].email = "bob@example.test";
    atomic_store(&v[1].done, true);
    v[1].result.stats.attempts = 3;
    mf_error_set(&v[1].result.error, MF_E_AUTH, "LOGIN refused");
    v[2].email = "cid@example.test";
}

/* What print() writes about outcomes(), as a string to free. */
static char *
printed(void (*print)(FILE *, struct mf__direct_outcome *)) {
    struct mf__direct_outcome v[3];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    outcomes(v);
    print(f, v);
    fclose(f);
    return buf;
}

static void
lines(FILE *f, struct mf__direct_outcome *v) {
    mf__direct_print_mailbox(f, &v[0]);
    mf__direct_print_mailbox(f, &v[1]);
}

static bool summary_ok;

static void
summary(FILE *f, struct mf__direct_outcome *v) {
    summary_ok = mf__direct_print_summary(f, v, 3, 4.0, true, false);
}

static void
test_mailbox_line(void **state) {
    char *buf = printed(lines);

    (void)state;
    assert_string_equal(
        buf,
        "ok     ann@example.test: folders 3, messages 10, copied 9 (1.5 MB), "
        "already there 1, skipped 1 (too large 1, vanished 0), failed 1, "
        "flags updated 0, 2.5 s, 4 msgs/s\n"
        "       skipped INBOX UID 7 (52428800 bytes, 05-Mar-2024 15:07:09 "
        "+0100, \"big\"): 52428800 bytes over the limit\n"
        "       failed Sent UID 12 (4096 bytes, 06-Mar-2024 09:00:00 +0000, "
        "\"Minutes [2Jmarch\", <m12@example.test>): MESSAGE_MALFORMED: BAD "
        "Command Argument Error. 11; the message has bare LF\n"
        "FAIL   bob@example.test: folders 0, messages 0, copied 0 (0.0 MB), "
        "already there 0, skipped 0 (too large 0, vanished 0), failed 0, "
        "flags updated 0, 0.0 s, 0 msgs/s, 3 attempts\n"
        "       error 305 AUTH: authentication failed: LOGIN refused\n");
    free(buf);
}

static void
test_summary_json(void **state) {
    char *buf = printed(summary);

    (void)state;
    /* ann synced, bob failed, cid not run: not all well. */
    assert_false(summary_ok);
    assert_string_equal(
        buf,
        "{\"mailboxes_total\":3,\"mailboxes_ok\":1,\"mailboxes_failed\":1,"
        "\"mailboxes_not_run\":1,\"stopped\":false,\"messages_copied\":9,"
        "\"bytes_copied\":1500000,\"outside_window\":0,\"seconds\":4,"
        "\"mailboxes\":[{\"email\":\"ann@example.test\","
        "\"state\":\"Synced\",\"folders_copied\":3,\"folders_excluded\":0,"
        "\"folders_created\":0,\"folders_renamed\":0,"
        "\"messages_source\":10,\"bytes_source\":2000000,"
        "\"messages_copied\":9,\"bytes_copied\":1500000,"
        "\"messages_present\":1,\"skipped_too_large\":1,"
        "\"skipped_vanished\":0,\"outside_window\":0,"
        "\"bytes_outside_window\":0,\"deleted_on_target\":0,"
        "\"moved_on_target\":0,\"failed\":1,\"flags_updated\":0,"
        "\"uidvalidity_changes\":0,\"attempts\":1,\"throttles\":2,"
        "\"throttle_wait_ms\":1500,\"seconds\":2.5,\"error\":null,"
        "\"skipped\":[{\"folder\":\"INBOX\",\"uid\":7,\"size\":52428800,"
        "\"date\":\"05-Mar-2024 15:07:09 +0100\",\"subject\":\"big\","
        "\"message_id\":null,"
        "\"code\":\"MESSAGE_TOO_LARGE\",\"number\":400,"
        "\"detail\":\"52428800 bytes over the limit\"}],"
        "\"failed_items\":[{\"folder\":\"Sent\",\"uid\":12,\"size\":4096,"
        "\"date\":\"06-Mar-2024 09:00:00 +0000\",\"subject\":\"Minutes"
        "\\r\\n \\u001b[2Jmarch\",\"message_id\":\"<m12@example.test>\","
        "\"code\":\"MESSAGE_MALFORMED\",\"number\":314,\"detail\":\"BAD "
        "Command Argument Error. 11; the message has bare LF\"}],"
        "\"deleted\":[],\"moved\":[]},"
        "{\"email\":\"bob@example.test\",\"state\":\"Failed\","
        "\"folders_copied\":0,\"folders_excluded\":0,\"folders_created\":0,"
        "\"folders_renamed\":0,\"messages_source\":0,\"bytes_source\":0,"
        "\"messages_copied\":0,\"bytes_copied\":0,\"messages_present\":0,"
        "\"skipped_too_large\":0,\"skipped_vanished\":0,"
        "\"outside_window\":0,\"bytes_outside_window\":0,"
        "\"deleted_on_target\":0,\"moved_on_target\":0,\"failed\":0,"
        "\"flags_updated\":0,\"uidvalidity_changes\":0,\"attempts\":3,"
        "\"throttles\":0,\"throttle_wait_ms\":0,\"seconds\":0,"
        "\"error\":{\"code\":\"AUTH\",\"number\":305,\"class\":\"mailbox\","
        "\"detail\":\"LOGIN refused\"},\"skipped\":[],\"failed_items\":[],"
        "\"deleted\":[],\"moved\":[]},{\"email\":\"cid@example.test\","
        "\"state\":\"NotStarted\",\"folders_copied\":0,"
        "\"folders_excluded\":0,\"folders_created\":0,"
        "\"folders_renamed\":0,\"messages_source\":0,\"bytes_source\":0,"
        "\"messages_copied\":0,\"bytes_copied\":0,\"messages_present\":0,"
        "\"skipped_too_large\":0,\"skipped_vanished\":0,"
        "\"outside_window\":0,\"bytes_outside_window\":0,"
        "\"deleted_on_target\":0,\"moved_on_target\":0,\"failed\":0,"
        "\"flags_updated\":0,\"uidvalidity_changes\":0,\"attempts\":0,"
        "\"throttles\":0,\"throttle_wait_ms\":0,\"seconds\":0,"
        "\"error\":null,\"skipped\":[],\"failed_items\":[],\"deleted\":[],"
        "\"moved\":[]}]}\n");
    free(buf);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailbox_line),
        cmocka_unit_test(test_summary_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
