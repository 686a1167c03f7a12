/* HTML report: hostile strings stay text, nothing external, failed
 * mailboxes first, bounded item lists, the empty cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_test.h"

#include <ctype.h>
#include <string.h>

static void
assert_contains(const char *text, const char *needle) {
    if (!strstr(text, needle))
        fail_msg("missing %s", needle);
}

/* Case-insensitive: "<SCRIPT" counts too. */
static bool
contains_ci(const char *text, const char *needle) {
    return strcasestr(text, needle) != NULL;
}

static size_t
count_of(const char *text, const char *needle) {
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void
test_escaping(void **state) {
    struct mf_report_batch_info info = {
        .name = "<b>batch</b>",
        .state = "Syncing\"><script>x()</script>",
        .generated = T_2024,
        .source = "imaps://<x>@host",
    };
    struct mf_report_batch *b = mf_report_new(&info);
    struct mf_report_mailbox m = {
        .email = "\"><script>alert(1)</script>@example.test",
        .state = MF_REPORT_FAILED,
        .error_code = MF_E_IMAP_NO,
        .error_text = "NO <script>alert('e')</script> & more",
        .worker = "<SCRIPT>w</SCRIPT>",
        .skipped[MF_REPORT_SKIP_MOVED] = 1,
    };
    char *html;
    size_t i;

    (void)state;
    i = mf_report_add_mailbox(b, &m);
    mf_report_add_skipped(
        b, i,
        &(struct mf_report_skipped){"<script>folder()</script>", 1, 10, 0,
                                    "<script>alert('s')</script>\x01\xff",
                                    MF_REPORT_SKIP_TOO_LARGE, 0, NULL});
    mf_report_add_skipped(b, i,
                          &(struct mf_report_skipped){
                              "INBOX", 3, 10, 0, "moved", MF_REPORT_SKIP_MOVED,
                              MF_E_MESSAGE_MOVED, "moved from <i>x</i>"});
    mf_report_add_failed(
        b, i,
        &(struct mf_report_failed){
            .folder = "Inbox/<img src=x onerror=alert(1)>",
            .uid = 2,
            .size = 61440,
            .internal_date = 1715590000, /* 2024-05-13 08:46:40 UTC */
            .subject = "Re: <script>alert('f')</script> & \"q\"\r\n\tnext",
            .message_id = "<a&b@<svg/onload=x>>",
            .error_code = MF_E_MESSAGE_REJECTED,
            .error_text = "<script>f()</script>"});
    html = render(b, MF_REPORT_HTML);
    assert_false(contains_ci(html, "<script"));
    assert_false(contains_ci(html, "<img"));
    assert_contains(html, "&lt;b&gt;batch&lt;/b&gt;");
    assert_contains(html, "Syncing&quot;&gt;&lt;script&gt;x()&lt;/script&gt;");
    assert_contains(html, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
                          "@example.test");
    assert_contains(html, "NO &lt;script&gt;alert(&#39;e&#39;)&lt;/script&gt;"
                          " &amp; more");
    assert_contains(html, "&lt;SCRIPT&gt;w&lt;/SCRIPT&gt;");
    assert_contains(html, "&lt;script&gt;folder()&lt;/script&gt;");
    /* In a subject, a control character becomes a blank (folded with
     * the next) and an invalid byte U+FFFD (mf_report_subject_dup()). */
    assert_contains(html, "&lt;script&gt;alert(&#39;s&#39;)&lt;/script&gt;"
                          " \xef\xbf\xbd</td>");
    assert_contains(html, "Inbox/&lt;img src=x onerror=alert(1)&gt;");
    assert_contains(html, "&lt;script&gt;f()&lt;/script&gt;");
    /* A failed message is listed with what finds it: size, date, the
     * subject (escaped; its line ends and tab one space) and Message-ID
     * (escaped). */
    assert_contains(html, "<th class=\"num\">UID</th><th class=\"num\">"
                          "Size</th><th class=\"num\">Date</th><th>Subject"
                          "</th><th>Error</th>");
    assert_contains(html, "<td class=\"num\">2</td><td class=\"num\">60.0 "
                          "KiB</td><td class=\"num\">2024-05-13 08:46</td>"
                          "<td class=\"subj\">Re: &lt;script&gt;alert(&#39;"
                          "f&#39;)&lt;/script&gt; &amp; &quot;q&quot; next"
                          "<div class=\"small mono\">&lt;a&amp;b@&lt;svg/"
                          "onload=x&gt;&gt;</div></td><td><span class=\"code"
                          "\">MESSAGE_REJECTED 401</span>");
    /* A moved message: counted in the card and the row by its reason's
     * words, listed with where it came from (escaped). */
    assert_contains(html, " &middot; 1 moved on the target</div>");
    assert_contains(html, "<div class=\"small\">1 moved on the target</div>");
    assert_contains(html, "moved_on_target</span><div class=\"small\">moved "
                          "from &lt;i&gt;x&lt;/i&gt;</div>");
    /* The userinfo of the URL is gone, markup or not. */
    assert_contains(html, "imaps://host");
    free(html);
    mf_report_free(&b);
}

static void
test_self_contained(void **state) {
    struct mf_report_batch *b = small_batch();
    char *html;

    (void)state;
    for (int k = 0; k <= 10; k++)
        mf_report_add_sample(
            b, &(struct mf_report_sample){(T_2024 + 60 * k) * 1000LL,
                                          10 * (uint64_t)k * k,
                                          1000 * (uint64_t)k * k});
    html = render(b, MF_REPORT_HTML);
    assert_memory_equal(html, "<!DOCTYPE html>", 15);
    assert_string_equal(html + strlen(html) - 8, "</html>\n");
    assert_contains(html, "<meta charset=\"utf-8\">");
    assert_contains(html, "Content-Security-Policy\" content=\"default-src "
                          "'none'; style-src 'unsafe-inline'; img-src data:");
    assert_false(contains_ci(html, "<script"));
    assert_false(contains_ci(html, "<link"));
    assert_false(contains_ci(html, " src="));
    assert_false(contains_ci(html, " href="));
    assert_false(contains_ci(html, "@import"));
    assert_false(contains_ci(html, "http://"));
    assert_false(contains_ci(html, "https://"));
    assert_int_equal(count_of(html, "<svg"), 2);
    assert_contains(html, "class=\"tp\""); /* the throughput chart */
    assert_false(contains_ci(html, "No throughput samples"));
    assert_null(strstr(html, "hunter2"));
    free(html);
    mf_report_free(&b);
}

static void
test_failed_first(void **state) {
    struct mf_report_batch_info info = {.name = "order", .generated = 1};
    struct mf_report_batch *b = mf_report_new(&info);
    static const struct {
        const char *email;
        enum mf_report_state state;
    } in[] = {
        {"a-done@x.test", MF_REPORT_COMPLETED},
        {"b-failed@x.test", MF_REPORT_FAILED},
        {"c-queued@x.test", MF_REPORT_QUEUED},
        {"d-stopped@x.test", MF_REPORT_STOPPED},
        {"e-failed@x.test", MF_REPORT_FAILED},
        {"f-synced@x.test", MF_REPORT_SYNCED},
    };
    static const char *const want[] = {
        "b-failed", "e-failed", "d-stopped", "c-queued", "f-synced", "a-done",
    };
    char *html;
    const char *p;

    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++)
        mf_report_add_mailbox(
            b, &(struct mf_report_mailbox){
                   .email = in[i].email,
                   .state = in[i].state,
                   .error_code =
                       in[i].state == MF_REPORT_FAILED ? MF_E_TIMEOUT : 0,
               });
    html = render(b, MF_REPORT_HTML);
    p = strstr(html, "<tbody>");
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        const char *q = strstr(p, want[i]);

        if (!q)
            fail_msg("%s missing or out of order", want[i]);
        p = q;
    }
    assert_int_equal(count_of(html, "<tr class=\"failed\">"), 2);
    assert_int_equal(count_of(html, "<tr class=\"errrow\">"), 2);
    assert_contains(html, "<span class=\"code\">TIMEOUT 303</span>timed out");
    free(html);
    mf_report_free(&b);
}

static void
test_item_rows_bounded(void **state) {
    struct mf_report_batch_info info = {.name = "many", .generated = 1};
    struct mf_report_batch *b = mf_report_new(&info);
    size_t i;
    char *html;

    (void)state;
    i = mf_report_add_mailbox(b, &(struct mf_report_mailbox){.email = "m@x"});
    for (uint32_t k = 0; k < 2 * MF_REPORT_HTML_ITEMS_MAX; k++)
        mf_report_add_skipped(
            b, i,
            &(struct mf_report_skipped){"INBOX", k, 1, 0, "subject-row",
                                        MF_REPORT_SKIP_TOO_LARGE, 0, NULL});
    html = render(b, MF_REPORT_HTML);
    assert_int_equal(count_of(html, "subject-row"), MF_REPORT_HTML_ITEMS_MAX);
    assert_contains(html, "Showing the first 500 of 1,000; the JSON report "
                          "lists every item.");
    free(html);
    mf_report_free(&b);
}

/* A batch of a second, with samples a few hundred ms apart: an elapsed
 * time, a chart whose ticks count tenths of a second, no "no samples". */
static void
test_short_batch_chart(void **state) {
    struct mf_report_batch_info info = {.name = "demo",
                                        .started = T_2024,
                                        .finished = T_2024 + 1,
                                        .started_ms = T_2024 * 1000LL,
                                        .finished_ms = T_2024 * 1000LL + 1200,
                                        .generated = T_2024 + 5};
    struct mf_report_batch *b = mf_report_new(&info);
    static const int64_t at[] = {0, 250, 600, 1200};
    static const uint64_t done[] = {0, 100, 300, 500};
    char *html;

    (void)state;
    mf_report_add_mailbox(
        b, &(struct mf_report_mailbox){.email = "a@x", .copied_messages = 500});
    for (size_t k = 0; k < 4; k++)
        mf_report_add_sample(
            b, &(struct mf_report_sample){T_2024 * 1000LL + at[k], done[k],
                                          done[k] << 20});
    html = render(b, MF_REPORT_HTML);
    assert_null(strstr(html, "No throughput samples"));
    assert_contains(html, "aria-label=\"Throughput over time\"");
    assert_contains(html, "Elapsed</div><div class=\"value\">1.2s<");
    /* 500 msg / 1.2 s */
    assert_contains(html, "<b>417</b> msg/s");
    assert_contains(html, ">0.0s</text>");
    assert_contains(html, ">0.6s</text>");
    assert_contains(html, ">1.2s</text>");
    /* The messages/s line, drawn. */
    assert_contains(html, "stroke=\"#2563eb\"");
    free(html);
    mf_report_free(&b);
}

static void
test_empty(void **state) {
    struct mf_report_batch_info info = {0};
    struct mf_report_batch *b = mf_report_new(&info);
    char *html;

    (void)state;
    html = render(b, MF_REPORT_HTML);
    assert_contains(html, "No mailboxes in this batch.");
    assert_contains(html, "No throughput samples");
    assert_contains(html, "No message failed to copy.");
    assert_contains(html, "No message was skipped.");
    assert_false(contains_ci(html, "nan"));
    assert_false(contains_ci(html, "inf%"));
    free(html);
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_self_contained),
        cmocka_unit_test(test_failed_first),
        cmocka_unit_test(test_item_rows_bounded),
        cmocka_unit_test(test_short_batch_chart),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
