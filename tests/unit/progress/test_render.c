/*
 * The progress text (core/src/progress/render.c) and its output
 * (view.c): the display's lines at several widths (none wider, nothing
 * cut inside a UTF-8 sequence, the figures whole when there is room),
 * the height limit with its "more in flight" line, unknown figures as
 * "?" and "-", the one-line summary word for word, and the view's
 * in-place redraw (cursor up over what it drew, erase below) on a
 * "terminal" and its summary lines every interval elsewhere, both
 * written to a temporary file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/progress.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch of 10: 3 done (1 failed), 2 running, 5 queued (all measured);
 * 450 of 600 messages, 45 of 60 MB; 10 msgs/s, 1 MB/s over the window;
 * caps counted. */
static void
sample(struct mf_progress_snapshot *s, struct mf_progress_meter *m,
       struct mf_progress_figures *f) {
    static const struct mf_progress_mailbox run[2] = {
        {.email = "alice@example.test",
         .messages_done = 40,
         .messages_total = 100,
         .bytes_done = 4000000,
         .bytes_total = 10000000,
         .folders_done = 2,
         .folders_total = 5,
         .attempt = 1,
         .seconds = 4},
        {.email = "bob@example.test",
         .messages_done = 10,
         .messages_total = 100,
         .bytes_done = 1000000,
         .bytes_total = 10000000,
         .folders_done = 4,
         .folders_total = 5,
         .attempt = 2,
         .seconds = 0},
    };

    memset(s, 0, sizeof(*s));
    s->at = 100;
    snprintf(s->batch, sizeof(s->batch), "b1");
    snprintf(s->state, sizeof(s->state), "Syncing");
    s->running = true;
    s->mailboxes = 10;
    s->finished = 3;
    s->failed = 1;
    s->running_n = 2;
    s->queued = 5;
    s->queued_sized = 5;
    s->messages_done = 450;
    s->bytes_done = 45000000;
    s->run_messages_left = 150;
    s->run_bytes_left = 15000000;
    s->source = (struct mf_progress_side){true, 2, 1};
    s->target = (struct mf_progress_side){true, 2, 0};
    s->lease_wait_ms = 12000;
    for (int i = 0; i < 2; i++)
        mf_progress_snapshot_add_inflight(s, &run[i]);
    mf_progress_meter_init(m, 10);
    mf_progress_meter_add(m, 90, 350, 35000000);
    mf_progress_meter_add(m, 100, 450, 45000000);
    mf_progress_figures_compute(s, m, f);
}

/* Takes the sample's mailboxes in flight out of s. */
static void
drop_inflight(struct mf_progress_snapshot *s) {
    for (size_t i = 0; i < s->n_inflight; i++)
        free(s->inflight[i].email);
    s->n_inflight = 0;
}

/* A test's state: the sample batch and the lines it renders into. */
struct fix {
    struct mf_progress_snapshot s;
    struct mf_progress_meter m;
    struct mf_progress_figures f;
    struct mf_progress_lines l;
};

static int
setup(void **state) {
    struct fix *fx = malloc(sizeof(*fx));

    sample(&fx->s, &fx->m, &fx->f);
    *state = fx;
    return 0;
}

static int
teardown(void **state) {
    struct fix *fx = *state;

    mf_progress_snapshot_clear(&fx->s);
    free(fx);
    return 0;
}

/* Terminal columns as mf_utf8_fit() counts them: here code points
 * (the tests use no wide characters except where said). */
static size_t
columns(const char *s) {
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void
test_wide_terminal(void **state) {
    struct fix *fx = *state;

    mf_progress_render(&fx->s, &fx->f, 200, 24, &fx->l);
    assert_int_equal(fx->l.n, 5);
    assert_string_equal(fx->l.line[0], "batch b1: Syncing, mailboxes 3/10 done "
                                       "(1 failed), 2 running, 5 queued, 10s");
    /* 450 + 150 = 600, every queued mailbox measured, no job listing:
     * exact. Left 150 at 10/s: 15 s; 15 MB at 1 MB/s: 15 s. */
    assert_string_equal(fx->l.line[1],
                        "messages 450/600 (75%), bytes 45.0 MB/60.0 MB, "
                        "10.0 msgs/s, 1.0 MB/s, ETA 15s");
    assert_string_equal(fx->l.line[2], "connections source 2 held, 1 waiting; "
                                       "target 2 held, 0 waiting; waited 12s");
    assert_non_null(strstr(fx->l.line[3], "alice@example.test"));
    assert_non_null(strstr(fx->l.line[3],
                           "[####......] 40/100 msgs, 4.0 "
                           "MB/10.0 MB, folders 2/5, 10.0 msgs/s"));
    assert_null(strstr(fx->l.line[3], "attempt"));
    assert_non_null(strstr(fx->l.line[4], "[#.........] 10/100 msgs"));
    assert_non_null(strstr(fx->l.line[4], "attempt 2"));
    assert_null(strstr(fx->l.line[4], "msgs/s"));
}

static void
test_widths(void **state) {
    static const unsigned widths[] = {1, 20, 33, 40, 61, 80, 1000};
    struct fix *fx = *state;

    for (size_t w = 0; w < MF_ARRAY_LEN(widths); w++) {
        unsigned want = widths[w] < 20 ? 20
                        : widths[w] > MF_PROGRESS_WIDTH_MAX
                            ? MF_PROGRESS_WIDTH_MAX
                            : widths[w];
        mf_progress_render(&fx->s, &fx->f, widths[w], 24, &fx->l);
        assert_int_equal(fx->l.n, 5);
        for (size_t i = 0; i < fx->l.n; i++) {
            if (columns(fx->l.line[i]) > want)
                fail_msg("width %u line %zu has %zu columns: %s", widths[w], i,
                         columns(fx->l.line[i]), fx->l.line[i]);
            assert_true(mf_utf8_valid((const uint8_t *)fx->l.line[i],
                                      strlen(fx->l.line[i])));
        }
        /* Cut lines end with the ellipsis. */
        if (want < 60)
            assert_non_null(strstr(fx->l.line[1], "\u2026"));
    }
}

static void
test_utf8_address_cut(void **state) {
    struct fix *fx = *state;
    /* An internationalised address (RFC 6531): two-byte Latin letters
     * and three-byte wide CJK ones, longer than its column. */
    struct mf_progress_mailbox eai = {
        .email = "j\u00f6rg.m\u00fcller.\u65e5\u672c\u8a9e\u65e5\u672c@"
                 "\u00e9xample-with-a-long-domain.test",
        .messages_done = 1,
        .messages_total = 2};

    drop_inflight(&fx->s);
    fx->s.running_n = 1;
    mf_progress_snapshot_add_inflight(&fx->s, &eai);
    for (unsigned w = 20; w < 120; w += 7) {
        mf_progress_render(&fx->s, &fx->f, w, 24, &fx->l);
        assert_int_equal(fx->l.n, 4);
        assert_true(mf_utf8_valid((const uint8_t *)fx->l.line[3],
                                  strlen(fx->l.line[3])));
        /* The address column is a third of the width (at most 32): cut,
         * and the figures after it still there when the line has room. */
        assert_non_null(strstr(fx->l.line[3], "  j\u00f6rg"));
        if (w >= 70)
            assert_non_null(strstr(fx->l.line[3], "\u2026 [#####.....] 1/2"));
    }
}

static void
test_height(void **state) {
    struct fix *fx = *state;

    /* 10 running, 8 of them kept in the snapshot. */
    fx->s.running_n = 10;
    for (int i = 0; i < 6; i++) {
        struct mf_progress_mailbox x = {.email = "x@example.test"};
        mf_progress_snapshot_add_inflight(&fx->s, &x);
    }
    /* Height 6: 3 lines of figures, 2 mailboxes, the rest counted. */
    mf_progress_render(&fx->s, &fx->f, 80, 6, &fx->l);
    assert_int_equal(fx->l.n, 6);
    assert_non_null(strstr(fx->l.line[3], "alice@"));
    assert_non_null(strstr(fx->l.line[4], "bob@"));
    assert_string_equal(fx->l.line[5], "  ... 8 more in flight");
    /* Room for all 8 kept but not the 10 running: 7 shown + 3 more. */
    mf_progress_render(&fx->s, &fx->f, 80, 11, &fx->l);
    assert_int_equal(fx->l.n, 11);
    assert_string_equal(fx->l.line[10], "  ... 3 more in flight");
    /* Room for all: 3 + 10 lines, but only 8 are known, then 2 more. */
    mf_progress_render(&fx->s, &fx->f, 80, 30, &fx->l);
    assert_int_equal(fx->l.n, 12);
    assert_string_equal(fx->l.line[11], "  ... 2 more in flight");
    /* A height below 4 is taken as 4. */
    mf_progress_render(&fx->s, &fx->f, 80, 1, &fx->l);
    assert_int_equal(fx->l.n, 4);
    assert_string_equal(fx->l.line[3], "  ... 10 more in flight");
}

static void
test_summary_and_unknowns(void **state) {
    struct fix *fx = *state;
    char line[1024];

    mf_progress_summary(&fx->s, &fx->f, line, sizeof(line));
    assert_string_equal(
        line, "progress: mailboxes 3/10 done (1 failed), 2 running, 5 "
              "queued; messages 450/600 (75%); bytes 45.0 MB/60.0 MB; 10.0 "
              "msgs/s, 1.0 MB/s; ETA 15s; connections source 2 held, 1 "
              "waiting, target 2 held, 0 waiting, waited 12s");
    /* Unmeasured queued mailboxes, one rate sample, no caps. */
    fx->s.queued_sized = 0;
    fx->s.source.counted = fx->s.target.counted = false;
    fx->s.lease_wait_ms = 0;
    fx->s.failed = 0;
    mf_progress_meter_init(&fx->m, 10);
    mf_progress_meter_add(&fx->m, 100, 450, 45000000);
    mf_progress_figures_compute(&fx->s, &fx->m, &fx->f);
    mf_progress_summary(&fx->s, &fx->f, line, sizeof(line));
    assert_string_equal(line, "progress: mailboxes 3/10 done, 2 running, 5 "
                              "queued; messages 450/?; bytes 45.0 MB/?; rate "
                              "-; ETA -; connections not counted (no caps), "
                              "waited 0.0s");
    /* An estimate is marked. */
    fx->s.sized = 2;
    fx->s.sized_messages = 100;
    fx->s.sized_bytes = 1000;
    mf_progress_meter_add(&fx->m, 101, 460, 45000100);
    fx->s.messages_done = 460;
    fx->s.bytes_done = 45000100;
    mf_progress_figures_compute(&fx->s, &fx->m, &fx->f);
    mf_progress_summary(&fx->s, &fx->f, line, sizeof(line));
    assert_non_null(strstr(line, "messages 460/~860 (53%)"));
    assert_non_null(strstr(line, "ETA ~"));
    /* A small buffer is cut, not overrun. */
    mf_progress_summary(&fx->s, &fx->f, line, 16);
    assert_string_equal(line, "progress: mailb");
}

/* Everything written to f since it was opened. */
static char *
slurp(FILE *f) {
    long n;
    char *buf;

    fflush(f);
    n = ftell(f);
    buf = calloc(1, (size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static size_t
count(const char *hay, const char *needle) {
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A mailbox blocked on a full cap: its display line says what it waits
 * for first (before the figures a narrow terminal cuts), the one
 * holding a slot says how many; the summary and the connections line
 * count the mailboxes waiting. */
static void
test_waiting_for_a_slot(void **state) {
    struct fix *fx = *state;
    struct mf_progress_mailbox held = {
        .email = "held@example.test",
        .messages_done = 5,
        .messages_total = 10,
        .folders_total = 1,
        .conns = {.source_held = 1, .target_held = 1},
    };
    struct mf_progress_mailbox waits = {
        .email = "waits@example.test",
        .conns = {.waiting = MF_MIGRATE_WAIT_SOURCE,
                  .cap = MF_CAPS_CAP_USER,
                  .waiting_ms = 4200},
    };
    char line[2048], w[128];

    drop_inflight(&fx->s);
    fx->s.running_n = 0;
    mf_progress_snapshot_add_running(&fx->s, &held);
    mf_progress_snapshot_add_running(&fx->s, &waits);
    assert_int_equal(fx->s.running_n, 2);
    assert_int_equal(fx->s.run_waiting, 1);
    mf_progress_render(&fx->s, &fx->f, 200, 24, &fx->l);
    assert_int_equal(fx->l.n, 5);
    assert_string_equal(fx->l.line[2],
                        "connections source 2 held, 1 waiting; target 2 "
                        "held, 0 waiting; 1 mailbox waiting for a slot; "
                        "waited 12s");
    assert_non_null(strstr(fx->l.line[3], "5/10 msgs"));
    assert_non_null(
        strstr(fx->l.line[3], ", holds 1 source + 1 target connections"));
    assert_null(strstr(fx->l.line[3], "waiting"));
    assert_non_null(strstr(fx->l.line[4],
                           "[..........] waiting for a source "
                           "connection slot (user cap full) 4.2s, "
                           "0/0 msgs"));
    assert_null(strstr(fx->l.line[4], "holds"));
    mf_progress_summary(&fx->s, &fx->f, line, sizeof(line));
    assert_non_null(strstr(line, "target 2 held, 0 waiting, 1 mailbox "
                                 "waiting for a slot, waited 12s"));

    /* The mailbox cap, a cap not known (Redis away), no wait at all. */
    waits.conns = (struct mf_migrate_conns){.waiting = MF_MIGRATE_WAIT_MAILBOX,
                                            .cap = MF_CAPS_CAP_MAILBOXES,
                                            .waiting_ms = 61000};
    mf_progress_wait_text(&waits.conns, w, sizeof(w));
    assert_string_equal(w, "waiting for a mailbox slot (mailboxes cap "
                           "full) 1m 01s");
    waits.conns.waiting = MF_MIGRATE_WAIT_TARGET;
    waits.conns.cap = MF_CAPS_CAP_NONE;
    waits.conns.waiting_ms = 0;
    mf_progress_wait_text(&waits.conns, w, sizeof(w));
    assert_string_equal(w, "waiting for a target connection slot 0.0s");
    waits.conns.waiting = MF_MIGRATE_WAIT_NONE;
    mf_progress_wait_text(&waits.conns, w, sizeof(w));
    assert_string_equal(w, "");
}

static void
test_view_tty(void **state) {
    struct fix *fx = *state;
    struct mf_progress_view v;
    FILE *out = tmpfile();
    char *text;

    setenv("COLUMNS", "100", 1);
    setenv("LINES", "40", 1);
    mf_progress_view_init(&v, out, true, 0);
    mf_progress_view_update(&v, &fx->s, false);
    assert_int_equal(v.drawn, 5);
    /* A line printed above the display: cleared first. */
    mf_progress_view_clear(&v);
    assert_int_equal(v.drawn, 0);
    fputs("ok     alice@example.test\n", out);
    fx->s.at = 101;
    mf_progress_view_update(&v, &fx->s, false);
    fx->s.at = 102;
    mf_progress_view_update(&v, &fx->s, true);
    text = slurp(out);
    /* Three draws of five lines, each line erased before it is written;
     * the clear and the last redraw go up over the five lines drawn. */
    assert_int_equal(count(text, "\033[2Kbatch b1: Syncing"), 3);
    assert_int_equal(count(text, "\033[2K"), 15);
    assert_int_equal(count(text, "\r\033[5A"), 2);
    assert_int_equal(count(text, "\r\033[5A\033[J"), 1);
    /* The finished line comes between the first and second draw. */
    assert_true(strstr(text, "ok     alice") > strstr(text, "batch b1"));
    /* The final state stays: the text ends with the last draw. */
    assert_non_null(strstr(text, "waited 12s\n\033[2K  alice"));
    assert_int_equal(strcmp(text + strlen(text) - 3, "\033[J"), 0);
    free(text);
    fclose(out);
}

static void
test_view_lines(void **state) {
    struct fix *fx = *state;
    struct mf_progress_view v;
    FILE *out = tmpfile();
    char *text;

    /* Every 10 s: updates at 100, 105, 110, 115, 121 and a final one at
     * 122 print at 100 (the first), 110, 121 and 122 (the last). */
    mf_progress_view_init(&v, out, false, 10);
    for (double t = 100; t <= 115; t += 5) {
        fx->s.at = t;
        mf_progress_view_update(&v, &fx->s, false);
    }
    fx->s.at = 121;
    mf_progress_view_update(&v, &fx->s, false);
    fx->s.at = 122;
    mf_progress_view_update(&v, &fx->s, true);
    text = slurp(out);
    assert_int_equal(count(text, "progress: mailboxes 3/10 done"), 4);
    assert_int_equal(count(text, "\n"), 4);
    assert_null(strchr(text, '\033'));
    free(text);
    fclose(out);
    /* Interval 0: nothing at all, not even the final line. */
    out = tmpfile();
    mf_progress_view_init(&v, out, false, 0);
    mf_progress_view_update(&v, &fx->s, false);
    mf_progress_view_update(&v, &fx->s, true);
    fflush(out);
    assert_int_equal(ftell(out), 0);
    fclose(out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void) {
    const struct CMUnitTest tests[] = {
        T(test_wide_terminal),
        T(test_widths),
        T(test_utf8_address_cut),
        T(test_height),
        T(test_summary_and_unknowns),
        T(test_waiting_for_a_slot),
        T(test_view_tty),
        T(test_view_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
