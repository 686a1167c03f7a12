/* The report model: names, copying and bounds, totals, and a 10,000
 * mailbox batch written in every format within a time bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_test.h"

#include "mailferry/util.h"

#include <math.h>
#include <string.h>
#include <time.h>

static void
test_names(void **state) {
    enum mf_report_state s;
    enum mf_report_format f;

    (void)state;
    for (int i = 0; i < MF_REPORT_STATE_COUNT; i++) {
        assert_int_equal(mf_report_state_parse(mf_report_state_name(i), &s),
                         MF_E_OK);
        assert_int_equal(s, i);
    }
    assert_string_equal(mf_report_state_name(MF_REPORT_INCREMENTAL_SYNCING),
                        "IncrementalSyncing");
    assert_int_equal(mf_report_state_parse("failed", &s), MF_E_OK);
    assert_int_equal(s, MF_REPORT_FAILED);
    assert_int_equal(mf_report_state_parse("Done", &s), MF_E_NOT_FOUND);
    assert_string_equal(mf_report_state_name(99), "Unknown");
    assert_string_equal(mf_report_skip_reason_name(MF_REPORT_SKIP_TOO_LARGE),
                        "too_large");

    assert_int_equal(mf_report_format_parse("csv", &f), MF_E_OK);
    assert_int_equal(f, MF_REPORT_CSV);
    assert_int_equal(mf_report_format_parse("JSON", &f), MF_E_OK);
    assert_int_equal(f, MF_REPORT_JSON);
    assert_int_equal(mf_report_format_parse("html", &f), MF_E_OK);
    assert_int_equal(f, MF_REPORT_HTML);
    f = MF_REPORT_CSV;
    assert_int_equal(mf_report_format_parse("pdf", &f), MF_E_USAGE);
    assert_int_equal(mf_report_format_parse("", &f), MF_E_USAGE);
    assert_int_equal(f, MF_REPORT_CSV); /* untouched on error */
    assert_string_equal(mf_report_format_name(MF_REPORT_HTML), "html");
    assert_int_equal(mf_report_write(NULL, MF_REPORT_FORMAT_COUNT, stdout),
                     MF_E_INVALID_ARGUMENT);
}

static void
test_endpoint_credentials_dropped(void **state) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"imaps://user:pw@host:993", "imaps://host:993"},
        {"imaps://user@host", "imaps://host"},
        {"imap://a:b@c@host/?tls=off", "imap://host/?tls=off"},
        {"imaps://host:993/path@x", "imaps://host:993/path@x"},
        {"imaps://host?u=a@b", "imaps://host?u=a@b"},
        {"user:pw@host", "host"},
        {"imaps://host", "imaps://host"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct mf_report_batch_info info = {.source = cases[i].in,
                                            .target = cases[i].in};
        struct mf_report_batch *b = mf_report_new(&info);

        assert_string_equal(b->source, cases[i].out);
        assert_string_equal(b->target, cases[i].out);
        mf_report_free(&b);
    }
}

static void
test_copies_and_bounds(void **state) {
    struct mf_report_batch_info info = {.name = "b", .generated = 1};
    struct mf_report_batch *b = mf_report_new(&info);
    char email[] = "someone@example.test";
    char big[MF_REPORT_TEXT_MAX + 10];
    struct mf_report_mailbox m = {
        .email = email,
        .copied_messages = 300,
        .copied_bytes = 3000,
        .duration_seconds = 60,
        .error_code = MF_E_TIMEOUT,
        .error_text = big,
    };
    size_t i;

    (void)state;
    /* 'a' then two-byte characters, so the cut falls inside one. */
    big[0] = 'a';
    for (size_t k = 1; k + 1 < sizeof(big) - 1; k += 2)
        big[k] = '\xc3', big[k + 1] = '\xa9';
    big[sizeof(big) - 2] = 'z';
    big[sizeof(big) - 1] = '\0';
    i = mf_report_add_mailbox(b, &m);
    email[0] = 'X'; /* the report kept its own copy */
    assert_string_equal(b->mailboxes[i].email, "someone@example.test");
    assert_string_equal(b->mailboxes[i].error_name, "TIMEOUT");
    assert_int_equal(strlen(b->mailboxes[i].error_text),
                     MF_REPORT_TEXT_MAX - 1);
    assert_true(b->mailboxes[i].messages_per_second == 5);
    assert_true(b->mailboxes[i].bytes_per_second == 50);

    for (uint32_t k = 0; k < MF_REPORT_ITEMS_MAX + 5; k++) {
        mf_report_add_skipped(b, i, &(struct mf_report_skipped){.uid = k});
        mf_report_add_failed(b, i, &(struct mf_report_failed){.uid = k});
    }
    assert_int_equal(b->mailboxes[i].n_skipped_items, MF_REPORT_ITEMS_MAX);
    assert_int_equal(b->mailboxes[i].skipped_unlisted, 5);
    assert_int_equal(b->mailboxes[i].failed.n, MF_REPORT_ITEMS_MAX);
    assert_int_equal(b->mailboxes[i].failed.unlisted, 5);
    assert_string_equal(b->mailboxes[i].skipped_items[3].folder, "");
    assert_null(b->mailboxes[i].skipped_items[3].subject);

    /* Samples past the cap halve the resolution, keeping first and
     * newest. */
    for (int64_t t = 0; t < 3 * MF_REPORT_SAMPLES_MAX; t++)
        mf_report_add_sample(
            b, &(struct mf_report_sample){1000 + t, (uint64_t)t, (uint64_t)t});
    assert_true(b->n_samples <= MF_REPORT_SAMPLES_MAX);
    assert_true(b->n_samples >= MF_REPORT_SAMPLES_MAX / 2);
    assert_int_equal(b->samples[0].time_ms, 1000);
    assert_int_equal(b->samples[b->n_samples - 1].time_ms,
                     1000 + 3 * MF_REPORT_SAMPLES_MAX - 1);
    for (size_t k = 1; k < b->n_samples; k++)
        assert_true(b->samples[k].time_ms > b->samples[k - 1].time_ms);
    mf_report_free(&b);
    mf_report_free(&b); /* NULL is fine */
    mf_report_free(NULL);
}

static void
test_totals(void **state) {
    struct mf_report_batch *b = small_batch();
    struct mf_report_totals t;

    (void)state;
    mf_report_add_failed(
        b, 1,
        &(struct mf_report_failed){
            .folder = "INBOX", .uid = 1, .error_code = 401, .error_text = "x"});
    mf_report_totals(b, &t);
    assert_int_equal(t.mailboxes, 2);
    assert_int_equal(t.by_state[MF_REPORT_SYNCED], 1);
    assert_int_equal(t.by_state[MF_REPORT_FAILED], 1);
    assert_int_equal(t.source_messages, 110);
    assert_int_equal(t.copied_bytes, 490000);
    assert_int_equal(t.skipped[MF_REPORT_SKIP_TOO_LARGE], 1);
    assert_int_equal(t.mailboxes_with_errors, 1);
    assert_int_equal(t.failed_items, 1);
    assert_int_equal(t.attempts, 4);
    assert_true(t.elapsed_seconds == 3600);
    assert_true(t.messages_per_second == 98.0 / 3600);
    mf_report_free(&b);
}

/* The batch's elapsed time in ms: from the *_ms times when given, else
 * from the seconds; a batch of a second has one to divide by. */
static void
test_elapsed_ms(void **state) {
    struct mf_report_batch_info info = {
        .name = "short",
        .started = T_2024,
        .finished = T_2024 + 1,
        .started_ms = T_2024 * 1000LL + 250,
        .finished_ms = T_2024 * 1000LL + 1484,
        .generated = T_2024 + 10,
    };
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_totals t;

    (void)state;
    mf_report_add_mailbox(
        b, &(struct mf_report_mailbox){.email = "a@x", .copied_messages = 617});
    mf_report_totals(b, &t);
    assert_int_equal(t.elapsed_ms, 1234);
    assert_true(fabs(t.elapsed_seconds - 1.234) < 1e-9);
    assert_true(fabs(t.messages_per_second - 500) < 1e-9);
    mf_report_free(&b);

    /* A record from before ms: the seconds, also within one second. */
    info.started_ms = info.finished_ms = 0;
    info.finished = T_2024;
    b = mf_report_new(&info);
    assert_int_equal(b->started_ms, T_2024 * 1000LL);
    mf_report_totals(b, &t);
    assert_int_equal(t.elapsed_ms, 0);
    assert_true(t.elapsed_seconds == 0 && t.messages_per_second == 0);
    mf_report_free(&b);

    /* Still running: up to the report's generation. */
    info.finished = 0;
    b = mf_report_new(&info);
    mf_report_totals(b, &t);
    assert_int_equal(t.elapsed_ms, 10000);
    mf_report_free(&b);
}

/* Mailbox i of b lists rule why as unmatched. */
static void
unmatched(struct mf_report_batch *b, size_t i, const char *from,
          const char *why) {
    struct mf_report_failed f = {
        .folder = from, .error_code = MF_E_RENAME_UNMATCHED, .error_text = why};

    mf_report_add_failed(b, i, &f);
}

/* The batch warns about a --rename rule that matched no folder in any
 * mailbox whose folders were planned: not about one that matched in
 * one of them, nor because of mailboxes not run yet; the lists are
 * the mailboxes' own and no failure; JSON, HTML and the printed lines
 * say the same. */
static void
test_rename_warnings(void **state) {
    static const char nope[] = "--rename \"Nope=N\" matches no folder",
                      beta[] = "--rename \"Beta=B\" matches no folder";
    struct mf_report_batch_info info = {.name = "w", .state = "Synced"};
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox a = {.email = "a@example.test",
                                  .state = MF_REPORT_SYNCED,
                                  .folders_copied = 3};
    struct mf_report_mailbox c = a, queued = {.email = "q@example.test"},
                             failed = {.email = "f@example.test",
                                       .state = MF_REPORT_FAILED};
    struct mf_report_totals t;
    const char **v;
    char *text, *out = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    c.email = "c@example.test";
    assert_int_equal(mf_report_rename_warnings(b, &v), 0);
    assert_null(v);
    mf_report_add_mailbox(b, &a);
    mf_report_add_mailbox(b, &c);
    mf_report_add_mailbox(b, &queued); /* not run: does not count */
    mf_report_add_mailbox(b, &failed); /* failed before its plan: neither */
    unmatched(b, 0, "Nope", nope);
    unmatched(b, 0, "Beta", beta); /* a's only: c has a Beta */
    unmatched(b, 1, "Nope", nope);
    unmatched(b, 1, "Nope", nope); /* listed twice: warned once */
    assert_int_equal(b->mailboxes[0].unmatched_renames.n, 2);
    assert_int_equal(b->mailboxes[0].failed.n, 0);
    mf_report_totals(b, &t);
    assert_int_equal(t.failed_items, 0);
    assert_int_equal(mf_report_rename_warnings(b, &v), 1);
    assert_string_equal(v[0], nope);
    free(v);

    text = render(b, MF_REPORT_JSON);
    assert_non_null(strstr(text, "\"rename_warnings\":[\"--rename "
                                 "\\\"Nope=N\\\" matches no folder\"]"));
    assert_null(strstr(text, "Beta=B"));
    free(text);
    text = render(b, MF_REPORT_HTML);
    assert_non_null(strstr(text, "<h2>Warnings</h2><ul><li>--rename "
                                 "&quot;Nope=N&quot; matches no folder"));
    free(text);
    f = open_memstream(&out, &len);
    assert_non_null(f);
    mf_report_print_warnings(b, f);
    fclose(f);
    assert_string_equal(out, "WARNING: --rename \"Nope=N\" matches no "
                             "folder\n");
    free(out);
    mf_report_free(&b);

    /* A planned mailbox that lists no rule matched every rule. */
    b = mf_report_new(&info);
    mf_report_add_mailbox(b, &a);
    mf_report_add_mailbox(b, &c);
    unmatched(b, 0, "Nope", nope);
    assert_int_equal(mf_report_rename_warnings(b, &v), 0);
    assert_null(v);
    text = render(b, MF_REPORT_JSON);
    assert_non_null(strstr(text, "\"rename_warnings\":[]"));
    free(text);
    text = render(b, MF_REPORT_HTML);
    assert_null(strstr(text, "Warnings"));
    free(text);
    mf_report_free(&b);
}

/* 10,000 mailboxes with items, in all three formats: linear work, so well
 * under a second on any machine; a quadratic step would take minutes. */
/* The one display form of a Subject (and a Message-ID) in every report:
 * no control character, blanks folded, invalid UTF-8 as U+FFFD, cut on
 * a character boundary with an ellipsis. */
static void
test_subject_display(void **state) {
    static const struct {
        const char *in, *out; /* out NULL: nothing to show */
    } v[] = {
        {"Quarterly report", "Quarterly report"},
        {"  Re:\tfolded\r\n  subject \x01\x7f ", "Re: folded subject"},
        {"bell\x07"
         "and\x1b[31mred",
         "bell and [31mred"},
        {"C1 \xc2\x85next line", "C1 next line"},
        {"bad \xff byte", "bad \xef\xbf\xbd byte"},
        {"Gr\xc3\xbc\xc3\x9f Gott", "Gr\xc3\xbc\xc3\x9f Gott"},
        {"", NULL},
        {" \t\r\n", NULL},
        {NULL, NULL},
    };
    char longer[MF_REPORT_SUBJECT_MAX * 2], *s;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        s = mf_report_subject_dup(v[i].in);
        if (v[i].out)
            assert_string_equal(s, v[i].out);
        else
            assert_null(s);
        free(s);
    }
    /* Exactly the limit: kept whole. */
    memset(longer, 'a', MF_REPORT_SUBJECT_MAX);
    longer[MF_REPORT_SUBJECT_MAX] = '\0';
    s = mf_report_subject_dup(longer);
    assert_int_equal(strlen(s), MF_REPORT_SUBJECT_MAX);
    free(s);
    /* One more: cut, ending in U+2026, within the limit. */
    longer[MF_REPORT_SUBJECT_MAX] = 'b';
    longer[MF_REPORT_SUBJECT_MAX + 1] = '\0';
    s = mf_report_subject_dup(longer);
    assert_int_equal(strlen(s), MF_REPORT_SUBJECT_MAX);
    assert_memory_equal(s + MF_REPORT_SUBJECT_MAX - 3, "\xe2\x80\xa6", 3);
    free(s);
    /* Two-byte characters are never split by the cut. */
    for (size_t i = 0; i + 2 < sizeof(longer); i += 2)
        memcpy(longer + i, "\xc3\xa9", 2);
    longer[sizeof(longer) - 1] = '\0';
    s = mf_report_subject_dup(longer);
    assert_true(strlen(s) <= MF_REPORT_SUBJECT_MAX);
    assert_true(mf_utf8_valid((const uint8_t *)s, strlen(s)));
    assert_memory_equal(s + strlen(s) - 5, "\xc3\xa9\xe2\x80\xa6", 5);
    free(s);
    /* A Message-ID keeps no blank at all. */
    s = mf_report_message_id_dup(" <a b@\r\n example.test>\x01");
    assert_string_equal(s, "<ab@example.test>");
    free(s);
    assert_null(mf_report_message_id_dup(""));
}

/* A failed item keeps what finds the message, its subject cleaned. */
static void
test_failed_item_fields(void **state) {
    struct mf_report_batch *b =
        batch_with_failed("Invoice\r\n 2024\x00ignored", MF_E_MESSAGE_MALFORMED,
                          "BAD Command Argument Error. 11");
    const struct mf_report_failed *f;

    (void)state;
    assert_int_equal(b->mailboxes[0].failed.n, 1);
    f = &b->mailboxes[0].failed.items[0];
    assert_int_equal(f->size, 123456);
    assert_int_equal(f->internal_date, 1715590000);
    assert_string_equal(f->subject, "Invoice 2024");
    assert_string_equal(f->message_id, "<i7@example.test>");
    mf_report_free(&b);
}

static void
test_large_batch(void **state) {
    struct mf_report_batch_info info = {
        .name = "big", .generated = T_2024, .started = T_2024 - 3600};
    struct mf_report_batch *b = mf_report_new(&info);
    double start = mf_monotonic_s(), built, elapsed;
    size_t sizes[MF_REPORT_FORMAT_COUNT];

    (void)state;
    for (int k = 0; k < 10000; k++) {
        char email[64];
        struct mf_report_mailbox m = {
            .email = email,
            .state = (enum mf_report_state)(k % MF_REPORT_STATE_COUNT),
            .source_messages = 1000 + (uint64_t)k,
            .copied_messages = 900,
            .duration_seconds = 100,
            .error_code = k % 7 == 5 ? MF_E_AUTH : 0,
            .error_text = "LOGIN failed",
            .worker = "worker-1",
        };
        size_t i;

        snprintf(email, sizeof(email), "user%05d@example.test", k);
        i = mf_report_add_mailbox(b, &m);
        for (uint32_t s = 0; s < 3; s++)
            mf_report_add_skipped(
                b, i,
                &(struct mf_report_skipped){"INBOX", s, 1 << 20, T_2024,
                                            "subject <x>",
                                            MF_REPORT_SKIP_TOO_LARGE, 0, NULL});
        mf_report_add_failed(
            b, i,
            &(struct mf_report_failed){.folder = "Sent",
                                       .uid = 9,
                                       .error_code = MF_E_MESSAGE_REJECTED,
                                       .error_text = "refused"});
        mf_report_add_sample(b, &(struct mf_report_sample){
                                    (T_2024 - 3600 + k) * 1000LL,
                                    900 * (uint64_t)k, (uint64_t)k << 20});
    }
    built = mf_monotonic_s();
    for (int fmt = 0; fmt < MF_REPORT_FORMAT_COUNT; fmt++) {
        char *text = render(b, (enum mf_report_format)fmt);

        sizes[fmt] = strlen(text);
        free(text);
    }
    elapsed = mf_monotonic_s() - start;
    print_message("10,000 mailboxes: built in %.3f s, written in %.3f s "
                  "(csv %zu, json %zu, html %zu bytes)\n",
                  built - start, mf_monotonic_s() - built, sizes[0], sizes[1],
                  sizes[2]);
    assert_true(elapsed < 10.0);
    /* Every mailbox is in every format; the HTML lists at most
     * MF_REPORT_HTML_ITEMS_MAX items of each kind. */
    assert_true(sizes[MF_REPORT_CSV] > 10000 * 50);
    assert_true(sizes[MF_REPORT_JSON] > 10000 * 500);
    assert_true(sizes[MF_REPORT_HTML] > 10000 * 500);
    assert_true(sizes[MF_REPORT_HTML] < 10000 * 3000);
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_endpoint_credentials_dropped),
        cmocka_unit_test(test_copies_and_bounds),
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_elapsed_ms),
        cmocka_unit_test(test_rename_warnings),
        cmocka_unit_test(test_subject_display),
        cmocka_unit_test(test_failed_item_fields),
        cmocka_unit_test(test_large_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
