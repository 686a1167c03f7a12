/*
 * Envelopes (core/src/kafka/envelope.c): round trips of every body,
 * sealed secrets that still open after the trip, and the refusals:
 * truncated and garbage input, size limit, missing or future schema
 * version, no body, bad sealed-secret sizes, unknown enum values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/util.h"
#include "unittest.h"

#include <stdlib.h>
#include <string.h>

#define KEYS "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define PASSWORD "s3cret-Passw0rd!"

static struct mf_crypto_keyring *
ring(void) {
    return mf_test_keyring(KEYS);
}

static void
make_job(struct mf_envelope *env, struct mf_crypto_keyring *kr) {
    struct mf_error err = {0};
    struct mf_job *j = &env->job;

    mf_envelope_init(env, MF_ENVELOPE_JOB, "test/1 host");
    j->batch = mf_xstrdup("batch-1");
    j->mailbox = mf_xstrdup("alice@example.org");
    j->job_id = mf_xstrdup("batch-1/alice@example.org/0");
    j->attempt = 2;
    j->kind = MF_JOB_KIND_INCREMENTAL;
    j->pass = 7;
    j->source.login = mf_xstrdup("admin");
    j->source.authorization_id = mf_xstrdup("alice");
    j->source.has_password = true;
    assert_int_equal(mf_crypto_seal(kr, j->batch, j->mailbox, "source",
                                    PASSWORD, strlen(PASSWORD),
                                    &j->source.password, &err),
                     MF_E_OK);
    j->target.login = mf_xstrdup("alice@example.org");
    j->target.oauth = true;
    j->target.has_password = true;
    assert_int_equal(mf_crypto_seal(kr, j->batch, j->mailbox, "target", "tok",
                                    3, &j->target.password, &err),
                     MF_E_OK);
    j->user_root = mf_xstrdup("INBOX");
    j->batch_generation = 42;
    j->verify_sample = 5;
    j->has_window = true;
    j->window = (struct mf_window){20260301, 0};
    j->fingerprint = mf_xstrdup("lenient");
}

static void
pack(const struct mf_envelope *env, uint8_t **buf, size_t *len) {
    struct mf_error err = {0};

    if (mf_envelope_pack(env, buf, len, &err) != MF_E_OK)
        fail_msg("pack: %s", err.detail);
}

static mf_err
unpack(const uint8_t *buf, size_t len, struct mf_envelope *out,
       struct mf_error *err) {
    return mf_envelope_unpack(buf, len, 0, out, err);
}

/* ------------------------------------------------------------------ */

static void
test_job_round_trip(void **state) {
    struct mf_crypto_keyring *kr = ring();
    struct mf_envelope in, out;
    struct mf_crypto_secret *pw = NULL;
    struct mf_error err = {0};
    uint8_t *buf;
    size_t len;

    (void)state;
    make_job(&in, kr);
    pack(&in, &buf, &len);
    assert_false(mf_test_contains(buf, len, PASSWORD));
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
    assert_int_equal(out.schema_version, MF_ENVELOPE_SCHEMA_VERSION);
    assert_int_equal(strlen(out.message_id), 32);
    assert_string_equal(out.message_id, in.message_id);
    assert_string_equal(out.sender, "test/1 host");
    assert_true(out.sent_at_ms > 1600000000000ull);
    assert_int_equal(out.body, MF_ENVELOPE_JOB);
    assert_string_equal(out.job.batch, "batch-1");
    assert_string_equal(out.job.mailbox, "alice@example.org");
    assert_string_equal(out.job.job_id, "batch-1/alice@example.org/0");
    assert_int_equal(out.job.attempt, 2);
    assert_int_equal(out.job.kind, MF_JOB_KIND_INCREMENTAL);
    assert_int_equal(out.job.pass, 7);
    assert_string_equal(out.job.source.login, "admin");
    assert_string_equal(out.job.source.authorization_id, "alice");
    assert_false(out.job.source.oauth);
    assert_true(out.job.target.oauth);
    assert_string_equal(out.job.target.authorization_id, "");
    assert_string_equal(out.job.user_root, "INBOX");
    assert_int_equal(out.job.batch_generation, 42);
    assert_int_equal(out.job.verify_sample, 5);
    assert_true(out.job.has_window);
    assert_int_equal(out.job.window.since, 20260301);
    assert_int_equal(out.job.window.before, 0);
    assert_string_equal(out.job.fingerprint, "lenient");
    assert_true(out.job.source.has_password);
    assert_int_equal(mf_crypto_open(kr, out.job.batch, out.job.mailbox,
                                    "source", &out.job.source.password, &pw,
                                    &err),
                     MF_E_OK);
    assert_string_equal((char *)pw->data, PASSWORD);
    mf_crypto_secret_free(&pw);
    assert_int_equal(mf_crypto_open(kr, out.job.batch, out.job.mailbox,
                                    "target", &out.job.target.password, &pw,
                                    &err),
                     MF_E_OK);
    assert_string_equal((char *)pw->data, "tok");
    mf_crypto_secret_free(&pw);
    /* Swapped secrets do not open. */
    assert_int_equal(mf_crypto_open(kr, out.job.batch, out.job.mailbox,
                                    "source", &out.job.target.password, &pw,
                                    &err),
                     MF_E_DECRYPT);
    mf_envelope_clear(&out);
    mf_envelope_clear(&in);
    free(buf);

    /* A job without credentials packs and unpacks too. */
    mf_envelope_init(&in, MF_ENVELOPE_JOB, NULL);
    in.job.batch = mf_xstrdup("b");
    in.job.mailbox = mf_xstrdup("m");
    in.job.job_id = mf_xstrdup("j");
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
    assert_false(out.job.source.has_password);
    assert_string_equal(out.job.source.login, "");
    /* A job made before jobs carried a window: none, the worker reads
     * the batch's. */
    assert_false(out.job.has_window);
    /* Nor a fingerprint mode: the worker resolves the batch's. */
    assert_string_equal(out.job.fingerprint, "");
    assert_string_equal(out.sender, "");
    mf_envelope_clear(&out);
    mf_envelope_clear(&in);
    mf_envelope_clear(NULL);
    free(buf);
    mf_crypto_keyring_free(&kr);
}

static void
test_progress_result_round_trip(void **state) {
    struct mf_envelope in, out;
    struct mf_error err = {0};
    uint8_t *buf;
    size_t len;

    (void)state;
    mf_envelope_init(&in, MF_ENVELOPE_PROGRESS, "w");
    in.progress.batch = mf_xstrdup("b");
    in.progress.mailbox = mf_xstrdup("m@x");
    in.progress.job_id = mf_xstrdup("j");
    in.progress.attempt = 1;
    in.progress.worker = mf_xstrdup("worker-1");
    in.progress.current_folder = mf_xstrdup("INBOX/Sent");
    in.progress.counters.bytes_copied = 1ull << 40;
    in.progress.counters.messages_already_present = 3;
    in.progress.sequence = 99;
    in.progress.source_connections = 1;
    in.progress.target_connections = 2;
    in.progress.waiting_for = 2; /* a target connection slot */
    in.progress.waiting_cap = 3; /* per IP */
    in.progress.waiting_ms = 4500;
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
    assert_int_equal(out.body, MF_ENVELOPE_PROGRESS);
    assert_string_equal(out.progress.current_folder, "INBOX/Sent");
    assert_string_equal(out.progress.worker, "worker-1");
    assert_int_equal(out.progress.counters.bytes_copied, 1ull << 40);
    assert_int_equal(out.progress.counters.messages_already_present, 3);
    assert_int_equal(out.progress.sequence, 99);
    assert_int_equal(out.progress.source_connections, 1);
    assert_int_equal(out.progress.target_connections, 2);
    assert_int_equal(out.progress.waiting_for, 2);
    assert_int_equal(out.progress.waiting_cap, 3);
    assert_int_equal(out.progress.waiting_ms, 4500);
    mf_envelope_clear(&out);
    free(buf);

    /* A wait or a cap a newer writer knows and this one does not: no
     * wait (and nothing about it). */
    static const struct {
        uint32_t wait, cap;           /* sent */
        uint32_t want_wait, want_cap; /* read */
        uint64_t want_ms;
    } unknown[] = {
        {MF_ENVELOPE_WAIT_MAX, 1, 0, 0, 0},
        {1, MF_ENVELOPE_CAP_MAX, 1, 0, 4500},
    };
    for (size_t i = 0; i < MF_ARRAY_LEN(unknown); i++) {
        in.progress.waiting_for = unknown[i].wait;
        in.progress.waiting_cap = unknown[i].cap;
        pack(&in, &buf, &len);
        assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
        assert_int_equal(out.progress.waiting_for, unknown[i].want_wait);
        assert_int_equal(out.progress.waiting_cap, unknown[i].want_cap);
        assert_int_equal(out.progress.waiting_ms, unknown[i].want_ms);
        assert_int_equal(out.progress.target_connections, 2);
        mf_envelope_clear(&out);
        free(buf);
    }
    mf_envelope_clear(&in);

    mf_envelope_init(&in, MF_ENVELOPE_RESULT, "w");
    in.result.batch = mf_xstrdup("b");
    in.result.mailbox = mf_xstrdup("m@x");
    in.result.outcome = MF_OUTCOME_FAILED;
    in.result.error_code = MF_E_AUTH;
    in.result.error_name = mf_xstrdup("AUTH");
    in.result.error_detail = mf_xstrdup("NO [AUTHENTICATIONFAILED]");
    in.result.started_at_ms = 1;
    in.result.finished_at_ms = 2;
    in.result.counters.messages_failed = 1000;
    in.result.counters.messages_deleted_on_target = 4;
    in.result.counters.messages_moved_on_target = 5;
    in.result.nskipped = 1000;
    in.result.skipped = mf_xcalloc(1000, sizeof(struct mf_result_item));
    for (size_t i = 0; i < 1000; i++) {
        in.result.skipped[i].folder = mf_xasprintf("F%zu", i);
        in.result.skipped[i].uid = (uint32_t)i + 1;
        in.result.skipped[i].size = 40u << 20;
    }
    in.result.nfailed = 1;
    in.result.failed = mf_xcalloc(1, sizeof(struct mf_result_item));
    in.result.failed[0].subject = mf_xstrdup("Hello");
    in.result.failed[0].error_code = MF_E_MESSAGE_REJECTED;
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
    assert_int_equal(out.body, MF_ENVELOPE_RESULT);
    assert_int_equal(out.result.outcome, MF_OUTCOME_FAILED);
    assert_int_equal(out.result.error_code, MF_E_AUTH);
    assert_string_equal(out.result.error_detail, "NO [AUTHENTICATIONFAILED]");
    assert_string_equal(out.result.job_id, "");
    assert_int_equal(out.result.nskipped, 1000);
    assert_string_equal(out.result.skipped[999].folder, "F999");
    assert_int_equal(out.result.skipped[999].uid, 1000);
    assert_int_equal(out.result.skipped[0].size, 40u << 20);
    assert_string_equal(out.result.skipped[0].subject, "");
    assert_int_equal(out.result.nfailed, 1);
    assert_string_equal(out.result.failed[0].subject, "Hello");
    assert_int_equal(out.result.failed[0].error_code, MF_E_MESSAGE_REJECTED);
    assert_int_equal(out.result.counters.messages_failed, 1000);
    assert_int_equal(out.result.counters.messages_deleted_on_target, 4);
    assert_int_equal(out.result.counters.messages_moved_on_target, 5);
    mf_envelope_clear(&out);
    mf_envelope_clear(&in);
    free(buf);

    assert_string_equal(mf_outcome_name(MF_OUTCOME_RETRY), "retry");
    assert_string_equal(mf_job_kind_name(MF_JOB_KIND_FINAL), "final");
    assert_string_equal(mf_job_kind_name(MF_JOB_KIND_VERIFY), "verify");
    {
        char *key = mf_envelope_key("batch-1", "a@b.c");
        assert_string_equal(key, "batch-1/a@b.c");
        free(key);
    }
}

static void
test_truncated_and_garbage(void **state) {
    struct mf_crypto_keyring *kr = ring();
    struct mf_envelope in, out;
    struct mf_error err = {0};
    uint8_t *buf, junk[512];
    size_t len;
    unsigned seed = 12345;

    (void)state;
    make_job(&in, kr);
    pack(&in, &buf, &len);
    /* Every prefix either fails cleanly or (at a field boundary) unpacks
     * to something that clears cleanly; one byte short always fails. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = mf_xmalloc(n ? n : 1); /* exact size for ASan */
        memcpy(copy, buf, n);
        if (unpack(copy, n, &out, &err) == MF_E_OK)
            mf_envelope_clear(&out);
        else
            assert_true(err.code == MF_E_ENVELOPE);
        free(copy);
    }
    assert_int_equal(unpack(buf, len - 1, &out, &err), MF_E_ENVELOPE);
    /* Random bytes. */
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(junk));
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand_r(&seed);
        if (unpack(junk, n, &out, &err) == MF_E_OK)
            mf_envelope_clear(&out);
    }
    /* Single-bit flips of a real job. */
    for (size_t i = 0; i < len * 8; i += 3) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (unpack(buf, len, &out, &err) == MF_E_OK)
            mf_envelope_clear(&out);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* Size limit. */
    assert_int_equal(mf_envelope_unpack(buf, len, len - 1, &out, &err),
                     MF_E_LIMIT);
    assert_int_equal(mf_envelope_unpack(buf, len, len, &out, &err), MF_E_OK);
    mf_envelope_clear(&out);
    mf_envelope_clear(&in);
    free(buf);
    mf_crypto_keyring_free(&kr);
}

static void
test_versions_and_checks(void **state) {
    struct mf_envelope in, out;
    struct mf_error err = {0};
    uint8_t *buf;
    size_t len;
    /* Hand-made: field 1 (schema_version) = 1, nothing else. */
    static const uint8_t no_body[] = {0x08, 0x01};
    /* Field 13 (a body from the future): unknown, skipped. */
    static const uint8_t future_body[] = {0x08, 0x01, 0x6a, 0x00};

    (void)state;
    mf_envelope_init(&in, MF_ENVELOPE_PROGRESS, "w");
    in.progress.batch = mf_xstrdup("b");
    in.progress.mailbox = mf_xstrdup("m");
    pack(&in, &buf, &len);
    /* protobuf-c writes fields in number order: 08 01 is the version. */
    assert_int_equal(buf[0], 0x08);
    assert_int_equal(buf[1], 0x01);
    buf[1] = 0x02;
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_SCHEMA_VERSION);
    assert_non_null(strstr(err.detail, "version 2"));
    buf[1] = 0x00; /* encoded explicitly as 0 */
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
    assert_int_equal(unpack(buf + 2, len - 2, &out, &err), MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "schema version"));
    free(buf);
    assert_int_equal(unpack(no_body, sizeof(no_body), &out, &err),
                     MF_E_ENVELOPE);
    assert_int_equal(unpack(future_body, sizeof(future_body), &out, &err),
                     MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "no body"));

    /* Pack refuses what it cannot write. */
    in.schema_version = 2;
    assert_int_equal(mf_envelope_pack(&in, &buf, &len, &err),
                     MF_E_INVALID_ARGUMENT);
    in.schema_version = MF_ENVELOPE_SCHEMA_VERSION;
    in.body = MF_ENVELOPE_NONE;
    assert_int_equal(mf_envelope_pack(&in, &buf, &len, &err),
                     MF_E_INVALID_ARGUMENT);

    /* Progress without a mailbox. */
    in.body = MF_ENVELOPE_PROGRESS;
    free(in.progress.mailbox);
    in.progress.mailbox = NULL;
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "mailbox"));
    free(buf);
    mf_envelope_clear(&in);
}

static void
test_job_checks(void **state) {
    struct mf_crypto_keyring *kr = ring();
    struct mf_envelope in, out;
    struct mf_error err = {0};
    uint8_t *buf;
    size_t len;

    (void)state;
    /* Unknown job kind. */
    make_job(&in, kr);
    in.job.kind = (enum mf_job_kind)9;
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "kind 9"));
    free(buf);
    in.job.kind = MF_JOB_KIND_INITIAL;

    /* Sealed-secret checks. */
    {
        uint8_t *saved = in.job.target.password.ciphertext;
        size_t n;
        pack(&in, &buf, &len);
        assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
        mf_envelope_clear(&out);
        free(buf);
        /* An invalid key id. */
        memcpy(in.job.target.password.master_key_id, "a b", 4);
        pack(&in, &buf, &len);
        assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
        assert_non_null(strstr(err.detail, "target password"));
        free(buf);
        memcpy(in.job.target.password.master_key_id, "k1", 3);
        /* Too much ciphertext. */
        n = MF_CRYPTO_SECRET_MAX + 1;
        in.job.target.password.ciphertext = mf_xcalloc(1, n);
        in.job.target.password.ciphertext_len = n;
        pack(&in, &buf, &len);
        assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
        free(buf);
        free(in.job.target.password.ciphertext);
        in.job.target.password.ciphertext = saved;
        in.job.target.password.ciphertext_len = 3;
    }
    /* Windows: an empty one (both bounds 0) travels as "no bound";
     * a bound that is no day, or no day inside, is refused. */
    in.job.has_window = true;
    in.job.window = (struct mf_window){0, 0};
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_OK);
    assert_true(out.job.has_window && mf_window_empty(&out.job.window));
    mf_envelope_clear(&out);
    free(buf);
    {
        static const struct mf_window bad[] = {
            {20260230, 0},        {0, 20261301},        {19691231, 0},
            {20260301, 20260301}, {20260601, 20260301}, {0xffffffffu, 0}};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            in.job.window = bad[i];
            pack(&in, &buf, &len);
            assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
            assert_non_null(strstr(err.detail, "window"));
            free(buf);
        }
    }
    in.job.has_window = false;
    /* A fingerprint mode the worker would not know is refused. */
    free(in.job.fingerprint);
    in.job.fingerprint = mf_xstrdup("loose");
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "fingerprint"));
    free(buf);
    free(in.job.fingerprint);
    in.job.fingerprint = NULL;
    /* No job id. */
    free(in.job.job_id);
    in.job.job_id = NULL;
    pack(&in, &buf, &len);
    assert_int_equal(unpack(buf, len, &out, &err), MF_E_ENVELOPE);
    assert_non_null(strstr(err.detail, "job id"));
    free(buf);
    mf_envelope_clear(&in);
    mf_crypto_keyring_free(&kr);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_round_trip),
        cmocka_unit_test(test_progress_result_round_trip),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_versions_and_checks),
        cmocka_unit_test(test_job_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
