/*
 * mailferry-report-sample: builds a realistic 30-mailbox batch report
 * (an incremental pass in progress, three failed mailboxes, one stopped,
 * skipped and failed messages, three hours of throughput samples) and
 * writes it in every format:
 *
 *   mailferry-report-sample DIR   ->  DIR/report.csv, .json, .html
 *
 * The data is made up but deterministic (a fixed-seed generator), so the
 * integration test can check exact totals. Some subjects and folder names
 * are hostile on purpose: markup, a formula, invalid UTF-8.
 */
#include "mailferry/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 0x6d61696c66657272ULL;

/* xorshift64*: small, deterministic, good enough for sample data. */
static uint64_t
rnd(void) {
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return seed * 0x2545f4914f6cdd1dULL;
}

static double
uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static const char *const people[30] = {
    "amelia.hughes",    "benjamin.okafor",  "chloe.martin",    "daniel.novak",
    "elena.rossi",      "farid.haddad",     "grace.lindqvist", "hiro.tanaka",
    "isabel.fernandez", "jonas.weber",      "kavya.iyer",      "liam.obrien",
    "maria.kowalska",   "noah.fischer",     "olivia.dubois",   "pavel.horak",
    "quinn.murphy",     "rania.saleh",      "samuel.mensah",   "tessa.vandijk",
    "uma.krishnan",     "victor.almeida",   "wen.zhang",       "ximena.lopez",
    "yusuf.demir",      "zoe.papadopoulos", "finance",         "helpdesk",
    "sales.emea",       "ceo.office",
};

/* Which mailboxes end how (the rest are Synced). */
enum { WRONG_PASSWORD = 4, TOO_MANY = 11, TIMEOUT = 23, STOPPED = 17 };
static const int incremental[] = {2, 8, 14, 20};
static const int queued[] = {26, 28, 29};
/* A Synced mailbox where some messages failed on the target. */
enum { PARTIAL = 9 };

static enum mf_report_state
state_of(int i) {
    if (i == WRONG_PASSWORD || i == TOO_MANY || i == TIMEOUT)
        return MF_REPORT_FAILED;
    if (i == STOPPED)
        return MF_REPORT_STOPPED;
    for (size_t k = 0; k < sizeof(incremental) / sizeof(*incremental); k++)
        if (incremental[k] == i)
            return MF_REPORT_INCREMENTAL_SYNCING;
    for (size_t k = 0; k < sizeof(queued) / sizeof(*queued); k++)
        if (queued[k] == i)
            return MF_REPORT_QUEUED;
    return MF_REPORT_SYNCED;
}

static const char *const workers[] = {
    "mailferry-worker-6c9d7b5f4-x2k8p",
    "mailferry-worker-6c9d7b5f4-qm7vn",
    "mailferry-worker-6c9d7b5f4-b4t9z",
};

#define T0 1715587200 /* 2024-05-13 08:00:00 UTC: batch created */
#define STARTED (T0 + 300)
#define NOW (T0 + 3 * 3600 + 1200) /* report generated at 11:20 */

/* Adds mailbox idx's skipped and failed messages, and counts them in the
 * report's copy of the mailbox (m). */
static void
add_items(struct mf_report_batch *b, size_t idx, int i,
          struct mf_report_mailbox *m) {
    static const char *const big[] = {
        "Q3 board deck (final).pptx", "Site survey photos - all 214",
        "RE: CAD drawings rev. F", "Backup of laptop archive",
        "Video: onboarding session recording"};
    static const char *const excluded[] = {"Junk", "Trash", "Deleted Items"};
    int n_big = (int)(rnd() % 3);

    if (i == 0 || i == PARTIAL)
        n_big = 2;
    for (int k = 0; k < n_big; k++) {
        struct mf_report_skipped s = {
            .folder = k ? "Sent" : "INBOX",
            .uid = (uint32_t)(100 + rnd() % 9000),
            .size = (uint64_t)uniform(36e6, 120e6),
            .internal_date = T0 - (int64_t)(rnd() % (3 * 365 * 86400)),
            .subject = big[rnd() % 5],
            .reason = MF_REPORT_SKIP_TOO_LARGE,
        };
        mf_report_add_skipped(b, idx, &s);
        m->skipped[MF_REPORT_SKIP_TOO_LARGE]++;
    }
    if (i % 7 == 3) {
        struct mf_report_skipped s = {
            .folder = excluded[rnd() % 3],
            .uid = (uint32_t)(1 + rnd() % 500),
            .size = (uint64_t)uniform(2e3, 80e3),
            .internal_date = T0 - (int64_t)(rnd() % (90 * 86400)),
            .subject = "Your mailbox is almost full",
            .reason = MF_REPORT_SKIP_EXCLUDED,
        };
        mf_report_add_skipped(b, idx, &s);
        m->skipped[MF_REPORT_SKIP_EXCLUDED] += 1 + rnd() % 400;
    }
    if (i == 0) {
        /* Hostile input: markup in a subject and a folder, a formula, a
         * subject that is not valid UTF-8. */
        struct mf_report_skipped s[] = {
            {"INBOX", 4711, 52428800, T0 - 86400 * 12,
             "<script>alert('pwned')</script> Invoice #4711",
             MF_REPORT_SKIP_TOO_LARGE, 0, NULL},
            {"Projects/<img src=x onerror=alert(1)>", 88, 41000000,
             T0 - 86400 * 40, "=HYPERLINK(\"http://evil.test\",\"Open\")",
             MF_REPORT_SKIP_TOO_LARGE, 0, NULL},
            {"Archive/2019", 17, 39500000, T0 - 86400 * 1800,
             "Re: Angebot f\xfcr \"Gr\xc3\xb6\xc3\x9f"
             "e L\" & Co",
             MF_REPORT_SKIP_TOO_LARGE, 0, NULL},
        };
        for (size_t k = 0; k < 3; k++)
            mf_report_add_skipped(b, idx, &s[k]);
        m->skipped[MF_REPORT_SKIP_TOO_LARGE] += 3;
    }
    if (i == PARTIAL) {
        static const char *const why[] = {
            "[LIMIT] Message has too many recipients for the target (512)",
            "[PARSE] Message header line too long",
            "[SERVERBUG] Internal error occurred. Refer to server log for "
            "more information. [2024-05-13 09:41:07]"};
        static const char *const subject[] = {
            "All hands: Q2 planning (everyone)", "Fwd: scanned invoice 4471",
            "<script>alert(1)</script> Status \"Acme\" & Sons"};
        for (int k = 0; k < 3; k++) {
            char mid[64];
            struct mf_report_failed f = {
                .folder = k == 2 ? "Clients/Acme & Sons" : "INBOX",
                .uid = (uint32_t)(2000 + 37 * k),
                .size = (uint64_t)(18000 + 91000 * k),
                .internal_date = T0 - 86400 * (3 + 200 * k),
                .subject = subject[k],
                .message_id = mid,
                .error_code = MF_E_MESSAGE_REJECTED,
                .error_text = why[k],
            };
            snprintf(mid, sizeof(mid), "<%d.sample%d@mail.example.com>",
                     2000 + 37 * k, k);
            mf_report_add_failed(b, idx, &f);
        }
        m->skipped[MF_REPORT_SKIP_FAILED] = 3;
    }
}

static struct mf_report_batch *
build(void) {
    struct mf_report_batch_info info = {
        .name = "2024-05 Finance & Sales wave 2",
        .state = "IncrementalSyncing",
        .created = T0,
        .started = STARTED,
        .finished = 0,
        .generated = NOW,
        .source = "imaps://migrate-admin:S3cret!@imap.old-host.example.net:993",
        .target = "imaps://outlook.office365.com:993",
    };
    struct mf_report_batch *b = mf_report_new(&info);
    uint64_t total_copied = 0, total_bytes = 0;

    for (int i = 0; i < 30; i++) {
        char email[96];
        struct mf_report_mailbox m = {0};
        enum mf_report_state st = state_of(i);
        double avg = uniform(42e3, 140e3), share = 1;
        size_t idx;

        snprintf(email, sizeof(email), "%s@example.com", people[i]);
        m.email = email;
        m.state = st;
        m.folders_copied = (uint32_t)(6 + rnd() % 40);
        m.folders_excluded = (uint32_t)(1 + rnd() % 3);
        m.source_messages = (uint64_t)uniform(1500, 42000);
        if (i == 29)
            m.source_messages = 168420; /* the CEO's office keeps it all */
        m.source_bytes = (uint64_t)((double)m.source_messages * avg);
        m.attempts = 1;
        m.worker = workers[rnd() % 3];
        switch (st) {
        case MF_REPORT_FAILED:
            share = i == WRONG_PASSWORD ? 0 : uniform(0.2, 0.6);
            m.attempts = i == WRONG_PASSWORD ? 1 : 5;
            break;
        case MF_REPORT_STOPPED:
            share = 0.43;
            break;
        case MF_REPORT_QUEUED:
            share = 0, m.worker = NULL;
            m.folders_copied = 0, m.attempts = 0;
            break;
        default:
            share = 1;
        }
        m.copied_messages = (uint64_t)((double)m.source_messages * share);
        m.copied_bytes = (uint64_t)((double)m.source_bytes * share);
        m.duration_seconds = (double)m.copied_messages / uniform(4, 14);
        if (share > 0) {
            m.first_sync = STARTED + (int64_t)uniform(0, 2400);
            m.last_sync = st == MF_REPORT_INCREMENTAL_SYNCING
                              ? NOW - (int64_t)uniform(30, 600)
                              : m.first_sync + (int64_t)m.duration_seconds;
        }
        if (i == WRONG_PASSWORD) {
            m.error_code = MF_E_AUTH;
            m.error_text = "LOGIN failed on imap.old-host.example.net: "
                           "[AUTHENTICATIONFAILED] Authentication failed.";
            m.first_sync = m.last_sync = STARTED + 41;
            m.duration_seconds = 0.4;
        } else if (i == TOO_MANY) {
            m.error_code = MF_E_TOO_MANY_CONNECTIONS;
            m.error_text = "* BYE [UNAVAILABLE] Maximum number of "
                           "connections from user+IP exceeded "
                           "(mail_max_userip_connections=10); gave up "
                           "after 5 attempts";
        } else if (i == TIMEOUT) {
            m.error_code = MF_E_TIMEOUT;
            m.error_text = "no response to UID FETCH 18211:18410 within "
                           "120 s (folder \"Archive/2021\")";
        } else if (i == PARTIAL) {
            /* Synced, but not everything: the error stays on record. */
            m.error_code = MF_E_MESSAGE_REJECTED;
            m.error_text = "3 messages refused by the target; see the "
                           "failed messages";
        }
        idx = mf_report_add_mailbox(b, &m);
        if (share > 0) /* nothing skipped where nothing ran */
            add_items(b, idx, i, &b->mailboxes[idx]);
        total_copied += b->mailboxes[idx].copied_messages;
        total_bytes += b->mailboxes[idx].copied_bytes;
    }

    /* One sample a minute: ramp up, a plateau, throttling at 09:30, then
     * a tail as mailboxes finish; scaled so the last sample matches the
     * mailboxes' totals. */
    {
        enum { N = (NOW - STARTED) / 60 + 1 };
        double w[N], wb[N], sum = 0, sum_b = 0, acc = 0, acc_b = 0;
        double noise = 0, noise_b = 0;

        for (int k = 0; k < N; k++) {
            double min = k, r;

            r = k == 0 ? 0 : fmin(1, min / 12);
            if (min > 80 && min < 96)
                r *= 0.35; /* the source throttled */
            if (min > 130)
                r *= fmax(0.2, 1 - (min - 130) / 80);
            /* Smooth noise (an AR(1) walk) rather than white noise. */
            noise = 0.75 * noise + uniform(-0.05, 0.05);
            noise_b = 0.6 * noise_b + uniform(-0.08, 0.08);
            r *= 1 + noise;
            w[k] = r, sum += r;
            /* Message sizes vary, so bytes/s wobbles around msgs/s. */
            wb[k] = r * (1 + noise_b), sum_b += wb[k];
        }
        for (int k = 0; k < N; k++) {
            struct mf_report_sample s;

            acc += w[k] / sum;
            acc_b += wb[k] / sum_b;
            s.time_ms = (STARTED + 60 * (int64_t)k) * 1000;
            s.messages = (uint64_t)llround(fmin(1, acc) * (double)total_copied);
            s.bytes = (uint64_t)llround(fmin(1, acc_b) * (double)total_bytes);
            mf_report_add_sample(b, &s);
        }
    }
    return b;
}

int
main(int argc, char **argv) {
    struct mf_report_batch *b;
    int rc = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    b = build();
    for (int fmt = 0; fmt < MF_REPORT_FORMAT_COUNT; fmt++) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/report.%s", argv[1],
                 mf_report_format_name(fmt));
        f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            rc = 1;
            continue;
        }
        if (mf_report_write(b, fmt, f) != MF_E_OK) {
            fprintf(stderr, "%s: write failed\n", path);
            rc = 1;
        }
        if (fclose(f) != 0)
            rc = 1;
        else
            printf("%s\n", path);
    }
    mf_report_free(&b);
    return rc;
}
