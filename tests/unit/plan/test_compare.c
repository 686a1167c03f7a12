/*
 * `batch compare`'s table and JSON (core/src/plan/compare.c): a column
 * per batch, a row per mailbox state only when a batch has one, "-" for
 * a rate that cannot be known, caps as "none" when not set, a note for a
 * batch still running; the JSON lists every digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/plan.h"
#include "unittest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
digests(struct mf_plan_digest d[2]) {
    memset(d, 0, 2 * sizeof(*d));
    snprintf(d[0].name, sizeof(d[0].name), "pilot1");
    snprintf(d[0].state, sizeof(d[0].state), "Completed");
    d[0].mailboxes = 3;
    d[0].counts[MF_MAILBOX_SYNCED] = 3;
    d[0].bytes_copied = 3000;
    d[0].messages_copied = 30;
    d[0].first_start = 1000;
    d[0].last_finish = 1010;
    d[0].cap_connections = 8;
    snprintf(d[1].name, sizeof(d[1].name), "pilot2");
    snprintf(d[1].state, sizeof(d[1].state), "Running");
    d[1].running = true;
}

static void
test_table(void **state) {
    struct mf_plan_digest d[2];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    digests(d);
    mf_plan_compare_print(f, false, d, 2);
    fclose(f);
    mf_test_assert_has_all(
        text,
        (const char *const[]){
            "batch", "pilot1", "pilot2", "  Synced", "3000 (3.0 KB)",
            "cap: connections", "none",
            "note: pilot2 is Running; its figures may still change", NULL});
    mf_test_assert_has_none(
        text, (const char *const[]){"  Failed", "note: pilot1", NULL});
    free(text);
}

static void
test_json(void **state) {
    struct mf_plan_digest d[2];
    struct mf_buf b = {0};
    struct mf_json j;

    (void)state;
    digests(d);
    mf_json_init(&j, &b);
    mf_plan_compare_to_json(d, 2, &j);
    mf_buf_append(&b, "", 1);
    assert_int_equal(strncmp((char *)b.data, "{\"batches\":[{", 13), 0);
    assert_non_null(strstr((char *)b.data, "\"pilot2\""));
    /* print with json: that object and a newline (`batch compare --json`). */
    {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        mf_plan_compare_print(f, true, d, 2);
        fclose(f);
        assert_int_equal(len, b.len); /* b.len counts the NUL appended */
        assert_memory_equal(text, b.data, b.len - 1);
        assert_int_equal(text[len - 1], '\n');
        free(text);
    }
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
