/* Log lines: text and JSON, ids included, one line per event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
capture(enum mf_log_format fmt, void (*emit)(void)) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    mf_log_setup(fmt, MF_LOG_INFO, f);
    emit();
    fclose(f);
    mf_log_setup(MF_LOG_TEXT, MF_LOG_INFO, NULL);
    return text;
}

static void
emit_events(void) {
    struct mf_log_ctx ctx = {
        .batch = "b1", .mailbox = "a@example.com", .job = "j7", .attempt = 2};
    struct mf_error e;

    mf_log(MF_LOG_DEBUG, &ctx, "hidden", "below the level");
    mf_log(MF_LOG_INFO, &ctx, "mailbox.start", "two\nlines \"quoted\"");
    mf_error_set(&e, MF_E_AUTH, "NO [AUTHENTICATIONFAILED] bad");
    mf_log_error(&ctx, "mailbox.failed", &e);
}

static void
test_text(void **state) {
    char *t = capture(MF_LOG_TEXT, emit_events);

    (void)state;
    assert_null(strstr(t, "hidden"));
    assert_non_null(strstr(t, "info  mailbox.start batch=b1 "
                              "mailbox=a@example.com job=j7 attempt=2: two "
                              "lines \"quoted\"\n"));
    assert_non_null(strstr(t, "error mailbox.failed"));
    assert_non_null(strstr(t, "error=AUTH(305)"));
    assert_non_null(strstr(t, "[AUTHENTICATIONFAILED]"));
    /* exactly two lines */
    assert_non_null(strchr(t, '\n'));
    assert_null(strchr(strchr(strchr(t, '\n') + 1, '\n') + 1, '\n'));
    free(t);
}

static void
test_json(void **state) {
    char *t = capture(MF_LOG_JSON, emit_events);

    (void)state;
    assert_non_null(strstr(t, "\"level\":\"info\",\"event\":\"mailbox.start\","
                              "\"batch\":\"b1\",\"mailbox\":\"a@example.com\","
                              "\"job\":\"j7\",\"attempt\":2,"
                              "\"msg\":\"two\\nlines \\\"quoted\\\"\"}\n"));
    assert_non_null(strstr(t, "\"error\":\"AUTH\",\"error_code\":305,"
                              "\"error_class\":\"mailbox\""));
    free(t);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
