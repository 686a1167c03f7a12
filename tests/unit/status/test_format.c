/*
 * The pure parts of `batch status` (core/src/status/pending.c, format.c,
 * mbjson.c): what is pending for a mailbox in each state (the command it
 * names, waiting on quota or a throttling server, the next scheduled
 * pass), the --state filter (states in any case, the groups, unknown
 * words refused), error tallies, times, a running mailbox's rate and ETA
 * by the progress module's rule, the detail block and one-line form word
 * for word, and the JSON object's new fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/json.h"
#include "mailferry/util.h"
#include "status/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-12-06 10:00:00 UTC */
#define NOW INT64_C(1796551200)

static struct mf_batch_config cfg;
static struct mf_batch_mailbox mb;

static void
reset(void) {
    memset(&cfg, 0, sizeof(cfg));
    memset(&mb, 0, sizeof(mb));
    cfg.name = "wave1";
    cfg.state = MF_BATCH_SYNCED_WITH_ERRORS;
    cfg.max_attempts = 3;
    mb.cfg.email = "ann@example.test";
    mb.pass = 2;
    mb.attempt = 1;
    mb.kind = MF_JOB_KIND_INCREMENTAL;
}

static void
test_pending_states(void **state) {
    struct mf__status_pending p;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_QUEUED;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_QUEUED);
    assert_false(p.waiting);
    assert_string_equal(p.text,
                        "pass 2 (incremental) queued, waiting for a worker");

    mb.attempt = 2;
    mb.error_code = MF_E_THROTTLED;
    snprintf(mb.error_name, sizeof(mb.error_name), "THROTTLED");
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_THROTTLE);
    assert_true(p.waiting);
    assert_string_equal(p.text, "attempt 2 of 3 queued again after THROTTLED "
                                "(the server asked to slow down), waiting "
                                "for a worker");

    mb.error_code = MF_E_CONNECT;
    mb.error_name[0] = '\0';
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_RETRY);
    assert_false(p.waiting);
    assert_non_null(strstr(p.text, "after CONNECT,"));

    mb.state = MF_MAILBOX_STOPPED;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_RESUME);
    assert_string_equal(p.text, "stopped: `mailferry batch start wave1 "
                                "--mailbox ann@example.test` resumes it "
                                "where it stopped");

    mb.state = MF_MAILBOX_COMPLETED;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_NONE);
    assert_string_equal(mf__status_next_name(p.next), "none");
}

/* A running job that waits for a user's next daily bandwidth quota
 * window: Waiting, why and until when, in the waiting group; running
 * again once the wait is gone. */
static void
test_pending_bandwidth(void **state) {
    struct mf__status_pending p;
    struct mf__status_filter f;
    struct mf_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *out;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_SYNCING;
    mb.wait_until = NOW + 3600;
    snprintf(mb.wait_why, sizeof(mb.wait_why),
             "the upload quota of ann is used up");
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_BANDWIDTH);
    assert_string_equal(mf__status_next_name(p.next), "waiting_bandwidth");
    assert_true(p.waiting);
    assert_true(p.at == NOW + 3600);
    assert_non_null(strstr(p.text, "the upload quota of ann is used up"));
    assert_true(mf__status_filter_parse("waiting", &f, &err));
    assert_true(mf__status_filter_match(&f, &mb, &p));
    out = open_memstream(&buf, &len);
    mf__status_mailbox_text(out, &mb, &p, NULL, NOW);
    fclose(out);
    assert_non_null(strstr(buf, "ann@example.test: Syncing, Waiting\n"));
    assert_non_null(strstr(buf, "  resumes     2026-12-06 11:00:00 UTC"));
    free(buf);

    mb.wait_until = 0;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_RUNNING);
    assert_false(p.waiting);
}

static void
test_pending_failed(void **state) {
    struct mf__status_pending p;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_FAILED;
    mb.error_code = MF_E_OVERQUOTA;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_QUOTA);
    assert_true(p.waiting);
    assert_string_equal(mf__status_next_name(p.next), "waiting_quota");
    assert_string_equal(p.text,
                        "the target mailbox is over quota: raise its quota "
                        "or make room, then `mailferry batch retry wave1 "
                        "--mailbox ann@example.test` runs it again");

    mb.error_code = MF_E_TOO_MANY_CONNECTIONS;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_THROTTLE);
    assert_true(p.waiting);

    mb.error_code = MF_E_AUTH;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_FIX);
    assert_false(p.waiting);
    assert_string_equal(p.text, "the login failed: `mailferry batch update "
                                "wave1 --csv F` with the new password "
                                "retries it at once");

    mb.error_code = MF_E_MAILBOX_MISSING;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_FIX);
    assert_non_null(strstr(p.text, "`mailferry batch retry wave1 --mailbox "
                                   "ann@example.test`"));
}

static void
test_pending_synced(void **state) {
    struct mf__status_pending p;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_SYNCED;
    mb.stats.failed = 4;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_SYNC);
    assert_int_equal(p.at, 0);
    assert_string_equal(p.text, "next pass when asked: `mailferry batch sync "
                                "wave1` (new mail) or `batch complete wave1` "
                                "(the final pass); 4 failed messages are "
                                "tried again");

    /* Scheduled by serve: due one interval after the last pass ended. */
    cfg.incremental_every = 3600;
    cfg.last_pass_finished = NOW - 600;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_SCHEDULED);
    assert_int_equal(p.at, NOW + 3000);
    /* While other mailboxes of the pass run, the time is not known. */
    cfg.state = MF_BATCH_INCREMENTAL_SYNCING;
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.at, 0);
    assert_non_null(strstr(p.text, "when the batch's current pass ends"));
}

static void
test_filter(void **state) {
    struct mf__status_filter f;
    struct mf__status_pending p;
    struct mf_error err = {0};

    (void)state;
    reset();
    assert_true(mf__status_filter_parse("failed", &f, &err));
    mb.state = MF_MAILBOX_FAILED;
    mb.error_code = MF_E_AUTH;
    mf__status_pending(&cfg, &mb, &p);
    assert_true(mf__status_filter_match(&f, &mb, &p));
    mb.state = MF_MAILBOX_SYNCED;
    mf__status_pending(&cfg, &mb, &p);
    assert_false(mf__status_filter_match(&f, &mb, &p));

    assert_true(mf__status_filter_parse("running, Waiting", &f, &err));
    mb.state = MF_MAILBOX_INCREMENTAL_SYNCING;
    mf__status_pending(&cfg, &mb, &p);
    assert_true(mf__status_filter_match(&f, &mb, &p));
    mb.state = MF_MAILBOX_FAILED;
    mb.error_code = MF_E_OVERQUOTA;
    mf__status_pending(&cfg, &mb, &p);
    assert_true(mf__status_filter_match(&f, &mb, &p));
    mb.error_code = MF_E_AUTH;
    mf__status_pending(&cfg, &mb, &p);
    assert_false(mf__status_filter_match(&f, &mb, &p));

    assert_true(mf__status_filter_parse("pending,done", &f, &err));
    mb.state = MF_MAILBOX_QUEUED;
    assert_true(mf__status_filter_match(&f, &mb, &p));
    mb.state = MF_MAILBOX_COMPLETED;
    assert_true(mf__status_filter_match(&f, &mb, &p));
    mb.state = MF_MAILBOX_STOPPED;
    assert_false(mf__status_filter_match(&f, &mb, &p));

    assert_false(mf__status_filter_parse("failed,bogus", &f, &err));
    assert_int_equal(err.code, MF_E_USAGE);
    assert_non_null(strstr(err.detail, "\"bogus\" is not a mailbox state"));
    assert_false(mf__status_filter_parse(",", &f, &err));
}

static void
test_codes(void **state) {
    struct mf__status_codes t = {0};
    char out[512];

    (void)state;
    mf__status_codes_add(&t, MF_E_AUTH, NULL);
    mf__status_codes_add(&t, MF_E_OVERQUOTA, "OVERQUOTA");
    mf__status_codes_add(&t, MF_E_AUTH, "");
    mf__status_codes_format(&t, out, sizeof(out));
    assert_string_equal(out, "AUTH (305) 2, OVERQUOTA (310) 1");
    for (int c = 1000; c < 1000 + MF__STATUS_CODES_MAX; c++)
        mf__status_codes_add(&t, c, "X");
    assert_int_equal(t.n, MF__STATUS_CODES_MAX);
    assert_int_equal(t.other, 2);
    mf__status_codes_format(&t, out, sizeof(out));
    assert_non_null(strstr(out, ", other 2"));
}

static void
test_times(void **state) {
    char out[96];

    (void)state;
    mf__status_time(out, sizeof(out), NOW - 185, NOW);
    assert_string_equal(out, "2026-12-06 09:56:55 UTC (3m05s ago)");
    mf__status_time(out, sizeof(out), NOW + 7200, NOW);
    assert_string_equal(out, "2026-12-06 12:00:00 UTC (in 2h00m)");
    mf__status_time(out, sizeof(out), 0, NOW);
    assert_string_equal(out, "-");
    mf__status_bytes(out, sizeof(out), 3 * 1024 * 1024 + 512 * 1024);
    assert_string_equal(out, "3.5 MiB");
    mf__status_secs(out, sizeof(out), 93600);
    assert_string_equal(out, "1d02h");
}

/* The summary's head: how long a finished batch ran, from its ms (a
 * batch of 1.32 s says so, not "0s"; ten seconds and more as the other
 * durations), nothing while it runs or when its times disagree. */
static void
test_head(void **state) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    reset();
    cfg.pass = 2;
    cfg.n_mailboxes = 3;
    cfg.counts[MF_MAILBOX_SYNCED] = 2;
    cfg.counts[MF_MAILBOX_FAILED] = 1;
    cfg.started = NOW - 185;
    cfg.started_ms = cfg.started * 1000 + 250;
    cfg.finished_ms = cfg.started_ms + 1320;
    mf__status_head(f, &cfg, NOW);
    cfg.finished_ms = cfg.started_ms + 754400;
    mf__status_head(f, &cfg, NOW);
    cfg.finished_ms = cfg.started_ms - 1;
    mf__status_head(f, &cfg, NOW);
    cfg.finished_ms = 0;
    cfg.state = MF_BATCH_SYNCING;
    mf__status_head(f, &cfg, NOW);
    fclose(f);
    assert_string_equal(text,
                        "batch wave1: SyncedWithErrors, pass 2, 3 mailboxes, "
                        "started 2026-12-06 09:56:55 UTC (3m05s ago), "
                        "ran 1.32s\n"
                        "  Synced 2 Failed 1\n"
                        "batch wave1: SyncedWithErrors, pass 2, 3 mailboxes, "
                        "started 2026-12-06 09:56:55 UTC (3m05s ago), "
                        "ran 12m34s\n"
                        "  Synced 2 Failed 1\n"
                        "batch wave1: SyncedWithErrors, pass 2, 3 mailboxes, "
                        "started 2026-12-06 09:56:55 UTC (3m05s ago)\n"
                        "  Synced 2 Failed 1\n"
                        "batch wave1: Syncing, pass 2, 3 mailboxes, "
                        "started 2026-12-06 09:56:55 UTC (3m05s ago)\n"
                        "  Synced 2 Failed 1\n");
    free(text);
}

/* A running mailbox: 40 of 100 messages in 20 s, 4 of 10 MB: 2 msgs/s,
 * and by the progress rule the slower of messages (30 s) and bytes
 * (6 MB at 200 KB/s: 30 s) decides. */
static void
running_mailbox(void) {
    reset();
    mb.state = MF_MAILBOX_SYNCING;
    mb.last_sync = NOW - 20;
    mb.messages_total = 100;
    mb.messages_done = 40;
    mb.bytes_total = 10000000;
    mb.bytes_done = 4000000;
    mb.folders_total = 5;
    mb.folders_done = 4;
}

static void
test_mailbox_figures(void **state) {
    struct mf_progress_figures f;

    (void)state;
    running_mailbox();
    mf__status_mailbox_figures(&mb, NOW, &f);
    assert_true(f.rate_known);
    assert_true(f.messages_per_s > 1.999 && f.messages_per_s < 2.001);
    assert_true(f.eta_known);
    assert_true(f.eta_s > 29.9 && f.eta_s < 30.1);
    /* Bytes take longer: the ETA is theirs. */
    mb.bytes_total = 20000000;
    mf__status_mailbox_figures(&mb, NOW, &f);
    assert_true(f.eta_s > 79.9 && f.eta_s < 80.1);
    /* Just claimed: no rate yet. */
    mb.last_sync = NOW;
    mf__status_mailbox_figures(&mb, NOW, &f);
    assert_false(f.rate_known);
    assert_false(f.eta_known);
}

static char *
text_of(const struct mf__status_pending *p,
        const struct mf__status_codes *codes) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    mf__status_mailbox_text(f, &mb, p, codes, NOW);
    fclose(f);
    return buf;
}

static void
test_mailbox_text(void **state) {
    struct mf__status_pending p;
    struct mf__status_codes codes = {0};
    char *t;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_FAILED;
    mb.attempts_total = 4;
    mb.first_sync = NOW - 3600;
    mb.last_sync = NOW - 120;
    mb.finished = NOW - 60;
    snprintf(mb.worker, sizeof(mb.worker), "w1");
    mb.stats.messages_copied = 120;
    mb.stats.bytes_copied = 2 * 1024 * 1024;
    mb.stats.messages_source = 125;
    mb.stats.bytes_source = 3 * 1024 * 1024;
    mb.stats.messages_present = 1;
    mb.stats.folders_copied = 4;
    mb.stats.folders_renamed = 1;
    mb.stats.skipped_too_large = 2;
    mb.stats.outside_window = 1;
    mb.stats.failed = 2;
    mb.error_code = MF_E_OVERQUOTA;
    snprintf(mb.error_name, sizeof(mb.error_name), "OVERQUOTA");
    snprintf(mb.error_detail, sizeof(mb.error_detail), "Quota exceeded");
    mf__status_codes_add(&codes, MF_E_OVERQUOTA, "OVERQUOTA");
    mf__status_codes_add(&codes, MF_E_OVERQUOTA, "OVERQUOTA");
    mf__status_pending(&cfg, &mb, &p);
    t = text_of(&p, &codes);
    assert_string_equal(
        t, "ann@example.test: Failed\n"
           "  pass        2 (incremental), attempt 1; 4 attempts in all\n"
           "  first pass  2026-12-06 09:00:00 UTC (1h00m ago)\n"
           "  last pass   began 2026-12-06 09:58:00 UTC (2m00s ago), ended "
           "2026-12-06 09:59:00 UTC (1m00s ago), worker w1\n"
           "  copied      120 messages (2.0 MiB) in all passes; the last "
           "found 125 on the source (3.0 MiB), 1 already on the target\n"
           "  folders     4 copied, 1 renamed on the target\n"
           "  skipped     3: too_large 2, outside_window 1\n"
           "  failed      2 messages: OVERQUOTA (310) 2\n"
           "  last error  OVERQUOTA (310): Quota exceeded\n"
           "  pending     the target mailbox is over quota: raise its quota "
           "or make room, then `mailferry batch retry wave1 --mailbox "
           "ann@example.test` runs it again\n");
    free(t);

    running_mailbox();
    mf__status_pending(&cfg, &mb, &p);
    t = text_of(&p, NULL);
    assert_non_null(strstr(t, "  progress    40/100 messages, 4/5 folders, "
                              "3.8 MiB, 2.0 msgs/s, ETA 30s\n"));
    assert_non_null(strstr(t, "  pending     pass 2 (incremental), attempt "
                              "1: 60 messages and 1 folders left\n"));
    free(t);
}

static void
test_mailbox_line_and_json(void **state) {
    struct mf__status_pending p;
    struct mf__status_codes codes = {0};
    struct mf_buf b = {0};
    struct mf_json j;
    char line[2048];

    (void)state;
    reset();
    mb.state = MF_MAILBOX_FAILED;
    mb.finished = NOW - 60;
    mb.stats.messages_copied = 7;
    mb.stats.bytes_copied = 2048;
    mb.stats.skipped_vanished = 1;
    mb.error_code = MF_E_AUTH;
    snprintf(mb.error_name, sizeof(mb.error_name), "AUTH");
    snprintf(mb.error_detail, sizeof(mb.error_detail), "NO [AUTH] denied");
    mf__status_pending(&cfg, &mb, &p);
    mf__status_mailbox_line(line, sizeof(line), &mb, &p, NOW);
    assert_string_equal(
        line, "ann@example.test                 Failed             pass 2  "
              "last 2026-12-06 09:59:00 UTC (1m00s ago)  copied 7 (2.0 KiB)"
              "  failed 0  skipped 1  AUTH: NO [AUTH] denied\n"
              "    -> the login failed: `mailferry batch update wave1 --csv "
              "F` with the new password retries it at once");

    mf__status_codes_add(&codes, MF_E_MESSAGE_REJECTED, NULL);
    mf_json_init(&j, &b);
    mf__status_mailbox_json(&j, &mb, &p, &codes, NOW);
    assert_non_null(strstr((char *)b.data, "\"skipped\":{\"too_large\":0,"
                                           "\"excluded\":0,\"vanished\":1,"));
    assert_non_null(strstr((char *)b.data,
                           "\"failed_by_error\":[{\"code\":401,\"name\":"
                           "\"MESSAGE_REJECTED\",\"count\":1}]"));
    assert_non_null(strstr((char *)b.data,
                           "\"pending\":{\"next\":\"fix\",\"waiting\":false,"
                           "\"due\":null,\"text\":\"the login failed"));
    assert_non_null(strstr((char *)b.data, "\"error\":{\"code\":305,\"name\":"
                                           "\"AUTH\",\"detail\":\"NO [AUTH] "
                                           "denied\"}"));
    mf_buf_free(&b);
}

/* mb's JSON object has want in it. */
static void
assert_json_has(const struct mf__status_pending *p, const char *want) {
    struct mf_buf b = {0};
    struct mf_json j;

    mf_json_init(&j, &b);
    mf__status_mailbox_json(&j, &mb, p, NULL, NOW);
    if (!strstr((char *)b.data, want))
        fail_msg("%s\nnot in\n%s", want, (char *)b.data);
    mf_buf_free(&b);
}

/* A running mailbox blocked on a full cap: the pending text says what it
 * waits for and holds (not "waiting" in the --state sense: mailferry's
 * own caps, it goes on by itself), the JSON's "connections" too; once
 * granted, or in another state, no wait is shown. */
static void
test_waiting_for_a_slot(void **state) {
    struct mf__status_pending p;

    (void)state;
    reset();
    mb.state = MF_MAILBOX_SYNCING;
    mb.conns = (struct mf_migrate_conns){.source_held = 1,
                                         .waiting = MF_MIGRATE_WAIT_TARGET,
                                         .cap = MF_CAPS_CAP_TOTAL,
                                         .waiting_ms = 3000};
    mf__status_pending(&cfg, &mb, &p);
    assert_int_equal(p.next, MF__STATUS_NEXT_RUNNING);
    assert_false(p.waiting);
    assert_string_equal(p.text, "pass 2 (incremental), attempt 1: waiting "
                                "for a target connection slot (total cap "
                                "full) 3.0s, holding 1 source and 0 target "
                                "connections; it goes on when one is "
                                "released");
    assert_json_has(&p, "\"connections\":{\"source_held\":1,"
                        "\"target_held\":0,\"waiting\":true,"
                        "\"waiting_for\":\"target\",\"cap\":\"total\","
                        "\"waiting_ms\":3000}");

    /* Granted: the next progress says no wait. */
    mb.conns.waiting = MF_MIGRATE_WAIT_NONE;
    mb.conns.target_held = 1;
    mf__status_pending(&cfg, &mb, &p);
    assert_null(strstr(p.text, "waiting"));
    assert_json_has(&p, "\"connections\":{\"source_held\":1,"
                        "\"target_held\":1,\"waiting\":false,"
                        "\"waiting_for\":null,\"cap\":null,"
                        "\"waiting_ms\":0}");

    /* Not running: nothing held, nothing waited for. */
    mb.state = MF_MAILBOX_SYNCED;
    mb.conns.waiting = MF_MIGRATE_WAIT_SOURCE;
    assert_json_has(&p, "\"connections\":{\"source_held\":0,"
                        "\"target_held\":0,\"waiting\":false,");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_states),
        cmocka_unit_test(test_pending_failed),
        cmocka_unit_test(test_pending_bandwidth),
        cmocka_unit_test(test_pending_synced),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_mailbox_figures),
        cmocka_unit_test(test_mailbox_text),
        cmocka_unit_test(test_mailbox_line_and_json),
        cmocka_unit_test(test_waiting_for_a_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
