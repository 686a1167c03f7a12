/*
 * Batch module, the parts without Redis: state names, the transition
 * tables (table-driven: every listed transition allowed, every other
 * refused), job ids, batch names and the item
 * codec (round trip, truncation, malformed input refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/batch_int.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

static void
test_names(void **state) {
    (void)state;
    for (int i = 0; i < MF_BATCH_STATE_COUNT; i++) {
        enum mf_batch_state s;
        assert_int_equal(mf_batch_state_parse(mf_batch_state_name(i), &s),
                         MF_E_OK);
        assert_int_equal(s, i);
    }
    for (int i = 0; i < MF_MAILBOX_STATE_COUNT; i++) {
        enum mf_mailbox_state s;
        assert_int_equal(mf_mailbox_state_parse(mf_mailbox_state_name(i), &s),
                         MF_E_OK);
        assert_int_equal(s, i);
        /* Same names as the report's states. */
        assert_string_equal(mf_mailbox_state_name(i),
                            mf_report_state_name((enum mf_report_state)i));
    }
    assert_string_equal(mf_batch_state_name(MF_BATCH_SYNCED_WITH_ERRORS),
                        "SyncedWithErrors");
    assert_string_equal(mf_batch_state_name(MF_BATCH_STATE_COUNT), "Unknown");
    enum mf_batch_state bs;
    assert_int_equal(mf_batch_state_parse("Bogus", &bs), MF_E_NOT_FOUND);
}

#define B(x) MF_BATCH_##x
static const struct {
    enum mf_batch_state from, to;
} batch_allowed[] = {
    {B(CREATED), B(SYNCING)},
    {B(CREATED), B(REMOVING)},
    {B(SYNCING), B(SYNCED)},
    {B(SYNCING), B(SYNCED_WITH_ERRORS)},
    {B(SYNCING), B(STOPPING)},
    {B(SYNCED), B(INCREMENTAL_SYNCING)},
    {B(SYNCED), B(COMPLETING)},
    {B(SYNCED), B(REMOVING)},
    {B(SYNCED_WITH_ERRORS), B(INCREMENTAL_SYNCING)},
    {B(SYNCED_WITH_ERRORS), B(COMPLETING)},
    {B(SYNCED_WITH_ERRORS), B(REMOVING)},
    {B(INCREMENTAL_SYNCING), B(SYNCED)},
    {B(INCREMENTAL_SYNCING), B(SYNCED_WITH_ERRORS)},
    {B(INCREMENTAL_SYNCING), B(STOPPING)},
    {B(COMPLETING), B(COMPLETED)},
    {B(COMPLETING), B(COMPLETED_WITH_ERRORS)},
    {B(COMPLETING), B(STOPPING)},
    {B(COMPLETED), B(REMOVING)},
    {B(COMPLETED_WITH_ERRORS), B(REMOVING)},
    {B(STOPPING), B(STOPPED)},
    {B(STOPPED), B(SYNCING)},
    {B(STOPPED), B(INCREMENTAL_SYNCING)},
    {B(STOPPED), B(COMPLETING)},
    {B(STOPPED), B(REMOVING)},
    {B(REMOVING), B(REMOVING)},
};
#undef B

#define M(x) MF_MAILBOX_##x
static const struct {
    enum mf_mailbox_state from, to;
} mailbox_allowed[] = {
    {M(QUEUED), M(SYNCING)},
    {M(QUEUED), M(INCREMENTAL_SYNCING)},
    {M(QUEUED), M(STOPPED)},
    {M(SYNCING), M(SYNCED)},
    {M(SYNCING), M(FAILED)},
    {M(SYNCING), M(STOPPED)},
    {M(SYNCING), M(COMPLETED)},
    {M(SYNCING), M(QUEUED)},
    {M(INCREMENTAL_SYNCING), M(SYNCED)},
    {M(INCREMENTAL_SYNCING), M(FAILED)},
    {M(INCREMENTAL_SYNCING), M(STOPPED)},
    {M(INCREMENTAL_SYNCING), M(COMPLETED)},
    {M(INCREMENTAL_SYNCING), M(QUEUED)},
    {M(SYNCED), M(QUEUED)},
    {M(STOPPED), M(QUEUED)},
    {M(FAILED), M(QUEUED)},
};
#undef M

static void
test_batch_table(void **state) {
    (void)state;
    for (int f = 0; f < MF_BATCH_STATE_COUNT; f++)
        for (int t = 0; t < MF_BATCH_STATE_COUNT; t++) {
            bool want = false;
            for (size_t i = 0; i < MF_ARRAY_LEN(batch_allowed); i++)
                if (batch_allowed[i].from == (enum mf_batch_state)f &&
                    batch_allowed[i].to == (enum mf_batch_state)t)
                    want = true;
            if (mf_batch_transition_allowed(f, t) != want)
                fail_msg("batch %s -> %s: expected %s", mf_batch_state_name(f),
                         mf_batch_state_name(t), want ? "allowed" : "refused");
        }
    /* Remove only from non-running states. */
    for (int f = 0; f < MF_BATCH_STATE_COUNT; f++)
        if (mf_batch_state_running(f))
            assert_false(mf_batch_transition_allowed(f, MF_BATCH_REMOVING));
}

static void
test_mailbox_table(void **state) {
    (void)state;
    for (int f = 0; f < MF_MAILBOX_STATE_COUNT; f++)
        for (int t = 0; t < MF_MAILBOX_STATE_COUNT; t++) {
            bool want = false;
            for (size_t i = 0; i < MF_ARRAY_LEN(mailbox_allowed); i++)
                if (mailbox_allowed[i].from == (enum mf_mailbox_state)f &&
                    mailbox_allowed[i].to == (enum mf_mailbox_state)t)
                    want = true;
            if (mf_mailbox_transition_allowed(f, t) != want)
                fail_msg("mailbox %s -> %s: expected %s",
                         mf_mailbox_state_name(f), mf_mailbox_state_name(t),
                         want ? "allowed" : "refused");
        }
}

static void
test_names_and_ids(void **state) {
    char id[MF_BATCH_JOB_ID_MAX];
    char long_name[80];

    (void)state;
    assert_true(mf_batch_name_valid("wave-1.2024_a"));
    assert_false(mf_batch_name_valid(""));
    assert_false(mf_batch_name_valid("a{b}"));
    assert_false(mf_batch_name_valid("a:b"));
    assert_false(mf_batch_name_valid("a b"));
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(mf_batch_name_valid(long_name));
    long_name[MF_BATCH_NAME_MAX] = '\0';
    assert_true(mf_batch_name_valid(long_name));
    mf_batch_job_id(id, sizeof(id), "b1", "a@x.org", 3,
                    MF_JOB_KIND_INCREMENTAL);
    assert_string_equal(id, "b1/a@x.org/3/incremental");
    mf_batch_job_id(id, sizeof(id), "b1", "a@x.org", 1, MF_JOB_KIND_INITIAL);
    assert_string_equal(id, "b1/a@x.org/1/full");
}

static void
test_item_codec(void **state) {
    struct mf_batch_item in =
                             {
                                 .folder = "Sent:Items/Ünï",
                                 .uid = 4294967295u,
                                 .size = 36000000,
                                 .internal_date = 1700000000,
                                 .subject = "a:b 12:34 \n weird",
                                 .code = MF_E_MESSAGE_TOO_LARGE,
                                 .name = NULL,
                                 .detail = "36000000 bytes, over the limit",
                             },
                         out;
    struct mf_buf b = {0};
    char *store = NULL;
    char big[3000];

    (void)state;
    mf__batch_item_encode(&b, &in);
    assert_true(mf__batch_item_decode((char *)b.data, b.len, &store, &out));
    assert_string_equal(out.folder, in.folder);
    assert_int_equal(out.uid, in.uid);
    assert_int_equal(out.size, in.size);
    assert_int_equal(out.internal_date, in.internal_date);
    assert_string_equal(out.subject, in.subject);
    assert_int_equal(out.code, in.code);
    assert_string_equal(out.name, "MESSAGE_TOO_LARGE");
    assert_string_equal(out.detail, in.detail);
    free(store);
    /* Every truncation of a valid record is refused, never read past. */
    for (size_t n = 0; n < b.len; n++) {
        char *copy = mf_xmemdup(b.data, n);
        store = NULL;
        assert_false(mf__batch_item_decode(copy, n, &store, &out));
        assert_null(store);
        free(copy);
    }
    assert_false(mf__batch_item_decode("99999999:x", 10, &store, &out));
    /* Long texts are cut (on a UTF-8 boundary) to 1024 bytes. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[1023] = (char)0xC3; /* a 2-byte character across the cut */
    big[1024] = (char)0xA9;
    in.subject = big;
    mf_buf_reset(&b);
    mf__batch_item_encode(&b, &in);
    assert_true(mf__batch_item_decode((char *)b.data, b.len, &store, &out));
    assert_int_equal(strlen(out.subject), 1023);
    assert_null(out.message_id); /* none given: eight fields, as before */
    free(store);
    /* A Message-ID is a ninth field, written only when there is one. */
    in.subject = "refused";
    in.message_id = "<m1@example.test>";
    mf_buf_reset(&b);
    mf__batch_item_encode(&b, &in);
    assert_true(mf__batch_item_decode((char *)b.data, b.len, &store, &out));
    assert_string_equal(out.message_id, "<m1@example.test>");
    assert_string_equal(out.detail, in.detail);
    free(store);
    {
        /* Cut anywhere but after the eighth field: refused. Cut there, it
         * is the record without a Message-ID. */
        size_t eight = b.len - strlen("17:<m1@example.test>");
        for (size_t n = 0; n < b.len; n++) {
            char *copy = mf_xmemdup(b.data, n);
            bool ok;
            store = NULL;
            ok = mf__batch_item_decode(copy, n, &store, &out);
            assert_int_equal(ok, n == eight);
            if (ok)
                assert_null(out.message_id);
            free(store);
            free(copy);
        }
    }
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_batch_table),
        cmocka_unit_test(test_mailbox_table),
        cmocka_unit_test(test_names_and_ids),
        cmocka_unit_test(test_item_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
