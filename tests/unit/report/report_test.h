/* Shared by the report unit tests: a small fixed batch and a way to
 * capture a writer's output as a string. Not a test file itself (the
 * unit test glob takes test_*.c only). */
#ifndef MF_TEST_REPORT_H
#define MF_TEST_REPORT_H

#include "mailferry/report.h"

#include <stdio.h>
#include <stdlib.h>

#define T_2024 1714557600 /* 2024-05-01T10:00:00Z */

/* Runs the writer for fmt on b and returns its output (caller frees).
 * Not inlined: gcc 12 then takes the returned buffer for a pointer to the
 * local that open_memstream() was given (-Wdangling-pointer). */
__attribute__((noinline, unused)) static char *
render(const struct mf_report_batch *b, enum mf_report_format fmt) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        abort();
    if (mf_report_write(b, fmt, f) != MF_E_OK)
        abort();
    fclose(f);
    return text;
}

/* Two mailboxes: one synced cleanly, one failed with an error text that
 * needs CSV quoting. */
__attribute__((unused)) static struct mf_report_batch *
small_batch(void) {
    struct mf_report_batch_info info = {
        .name = "wave 1",
        .state = "SyncedWithErrors",
        .created = T_2024 - 600,
        .started = T_2024,
        .finished = T_2024 + 3600,
        .generated = T_2024 + 3700,
        .source = "imaps://admin:hunter2@src.example.test:993",
        .target = "imap://dst.example.test/?tls=off",
    };
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox ok = {
        .email = "alice@example.test",
        .state = MF_REPORT_SYNCED,
        .folders_copied = 5,
        .folders_excluded = 1,
        .source_messages = 100,
        .source_bytes = 500000,
        .copied_messages = 98,
        .copied_bytes = 490000,
        .skipped = {1, 1, 0},
        .first_sync = T_2024 + 10,
        .last_sync = T_2024 + 60,
        .duration_seconds = 50,
        .attempts = 1,
        .worker = "w1",
    };
    struct mf_report_mailbox bad = {
        .email = "bob@example.test",
        .state = MF_REPORT_FAILED,
        .source_messages = 10,
        .source_bytes = 1000,
        .error_code = MF_E_AUTH,
        .error_text = "LOGIN failed: \"bad\", try again",
        .attempts = 3,
    };
    size_t i;

    i = mf_report_add_mailbox(b, &ok);
    mf_report_add_skipped(
        b, i,
        &(struct mf_report_skipped){"INBOX", 7, 60000000, T_2024 - 86400,
                                    "Huge", MF_REPORT_SKIP_TOO_LARGE, 0, NULL});
    mf_report_add_mailbox(b, &bad);
    return b;
}

/* A batch with one mailbox, x@example.test, and one failed item in it
 * with every field set: INBOX, UID 7, 123456 bytes, 2024-05-13T08:46:40Z,
 * <i7@example.test>, and the subject, error code and text given.
 * mf_report_add_failed() files it by its code (failed, repaired, renamed
 * folder, unmatched rule). */
__attribute__((unused)) static struct mf_report_batch *
batch_with_failed(const char *subject, mf_err code, const char *text) {
    struct mf_report_batch_info info = {.name = "f", .generated = 1};
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox m = {.email = "x@example.test"};
    struct mf_report_failed f = {
        .folder = "INBOX",
        .uid = 7,
        .size = 123456,
        .internal_date = 1715590000,
        .subject = subject,
        .message_id = "<i7@example.test>",
        .error_code = code,
        .error_text = text,
    };

    mf_report_add_failed(b, mf_report_add_mailbox(b, &m), &f);
    return b;
}

#endif
