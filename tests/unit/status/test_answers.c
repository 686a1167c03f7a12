/*
 * The one-line answers of batch start/sync/complete/stop/remove
 * (core/src/status/answers.c), as text and as JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/status.h"

#include <stdio.h>
#include <stdlib.h>

static void
test_answers(void **state) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    mf_status_pass_print(f, false, "b1", MF_BATCH_SYNCING, 1, "mf.jobs");
    mf_status_pass_print(f, false, "b1", MF_BATCH_SYNCING, 3, "mf.jobs");
    mf_status_pass_print(f, true, "b1", MF_BATCH_SYNCING, 3, "mf.jobs");
    mf_status_word_print(f, false, "b1", "removed", "true", "removed");
    mf_status_word_print(f, true, "b1", "removed", "true", "removed");
    mf_status_stop_print(f, false, "b1", MF_BATCH_STOPPING);
    mf_status_stop_print(f, false, "b1", MF_BATCH_STOPPED);
    mf_status_stop_print(f, true, "b1", MF_BATCH_STOPPING);
    fclose(f);
    assert_string_equal(text,
                        "batch b1: 1 job queued on mf.jobs; state Syncing\n"
                        "batch b1: 3 jobs queued on mf.jobs; state Syncing\n"
                        "{\"batch\":\"b1\",\"state\":\"Syncing\",\"jobs\":3,"
                        "\"topic\":\"mf.jobs\"}\n"
                        "batch b1: removed\n"
                        "{\"batch\":\"b1\",\"removed\":\"true\"}\n"
                        "batch b1: Stopping (workers stop at the next message "
                        "boundary)\n"
                        "batch b1: Stopped\n"
                        "{\"batch\":\"b1\",\"state\":\"Stopping\"}\n");
    free(text);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
