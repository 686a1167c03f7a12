/*
 * OAuth2 sides of jobs (core/src/jobs/oauth.c): a job of an OAuth2 side
 * logs in as the mailbox with the side's key sealed for the job; the key
 * opens only while the job and the batch's OAuth2 settings are those it
 * was sealed with; a worker makes a token source from it; a token file's
 * path travels instead of a key. The job also carries the batch's date
 * window (issue 16), bound like the rest: changed, the key does not open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/jobs.h"
#include "mailferry/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH "ob"
#define EMAIL "alice@example.test"
#define SECRET "entra-secret-unit"

struct fx {
    struct mf_crypto_keyring *kr;
    struct mf_batch_config cfg;
    struct mf_batch_mailbox_cfg mb;
    struct mf_batch_job bj;
};

static int
setup(void **state) {
    static const char key[] =
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    struct fx *f = calloc(1, sizeof(*f));
    struct mf_error err = {0};

    assert_int_equal(mf_crypto_keyring_parse(key, strlen(key), &f->kr, &err),
                     MF_E_OK);
    f->cfg.name = BATCH;
    f->cfg.source = "imap://127.0.0.1:1/?tls=off";
    f->cfg.target = "imap://127.0.0.1:2/?tls=off";
    f->cfg.generation = 7;
    f->cfg.source_oauth.provider = strdup("entra");
    f->cfg.source_oauth.tenant = strdup("t1");
    f->cfg.source_oauth.client_id = strdup("c1");
    f->cfg.source_oauth.token_url = strdup("https://login.test/t1/token");
    f->cfg.source_oauth.key_kind = strdup("client-secret");
    assert_int_equal(mf_jobs_oauth_seal(f->kr, BATCH, MF_JOBS_PURPOSE_SOURCE,
                                        &f->cfg.source_oauth, SECRET,
                                        strlen(SECRET), &err),
                     MF_E_OK);
    f->cfg.target_oauth.provider = strdup("token-file");
    f->cfg.target_oauth.token_file = strdup("/run/secrets/tokens");
    f->mb.email = EMAIL;
    f->mb.user = "alice";
    snprintf(f->bj.job_id, sizeof(f->bj.job_id), "%s",
             BATCH "/" EMAIL "/1/initial");
    f->bj.attempt = 1;
    f->bj.kind = MF_JOB_KIND_INITIAL;
    f->bj.pass = 1;
    *state = f;
    return 0;
}

static int
teardown(void **state) {
    struct fx *f = *state;

    mf_batch_oauth_clear(&f->cfg.source_oauth);
    mf_batch_oauth_clear(&f->cfg.target_oauth);
    mf_crypto_keyring_free(&f->kr);
    free(f);
    return 0;
}

static struct mf_job
build(struct fx *f) {
    struct mf_job j;
    struct mf_error err = {0};

    if (mf_jobs_build(f->kr, &f->cfg, &f->mb, &f->bj, &j, &err) != MF_E_OK)
        fail_msg("mf_jobs_build: %s", err.detail);
    return j;
}

static mf_err
open_side(struct fx *f, const struct mf_job *j, const char *purpose, char *out,
          size_t n) {
    struct mf_crypto_secret *s = NULL;
    struct mf_error err = {0};
    mf_err rc = mf_jobs_open_secret(f->kr, &f->cfg, j, purpose, &s, &err);

    if (rc == MF_E_OK) {
        snprintf(out, n, "%.*s", (int)s->len, (const char *)s->data);
        mf_crypto_secret_free(&s);
    }
    return rc;
}

static void
test_job_carries_the_key(void **state) {
    struct fx *f = *state;
    struct mf_job j = build(f);
    struct mf_crypto_secret *s = NULL;
    struct mf_oauth *o = NULL;
    struct mf_error err = {0};
    char text[256];

    assert_true(j.source.oauth && j.target.oauth);
    assert_string_equal(j.source.login, EMAIL);
    assert_string_equal(j.target.login, EMAIL);
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)), MF_E_OK);
    assert_string_equal(text, SECRET);
    /* A token file: its path travels, the worker reads the file. */
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_TARGET, text, sizeof(text)), MF_E_OK);
    assert_string_equal(text, "/run/secrets/tokens");
    /* The worker's token source from the opened key. */
    assert_int_equal(mf_jobs_open_secret(f->kr, &f->cfg, &j,
                                         MF_JOBS_PURPOSE_SOURCE, &s, &err),
                     MF_E_OK);
    assert_int_equal(
        mf_jobs_oauth_new(&f->cfg, MF_JOBS_PURPOSE_SOURCE, s, &o, &err),
        MF_E_OK);
    assert_true(mf_oauth_can_renew(o));
    mf_oauth_free(&o);
    mf_crypto_secret_free(&s);
    mf_jobs_job_clear(&j);
}

static void
test_changed_job_does_not_open(void **state) {
    struct fx *f = *state;
    struct mf_job j = build(f);
    char text[256], *saved;

    /* Another login for the same app token: refused. */
    saved = j.source.login;
    j.source.login = "bob@example.test";
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    j.source.login = saved;
    /* A password side claimed as OAuth2 or back: refused. */
    j.source.oauth = false;
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    j.source.oauth = true;
    /* The batch's token URL changed in Redis after the job was built:
     * the key would go elsewhere; the job does not open. */
    saved = f->cfg.source_oauth.token_url;
    f->cfg.source_oauth.token_url = "https://evil.test/token";
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    f->cfg.source_oauth.token_url = saved;
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)), MF_E_OK);
    mf_jobs_job_clear(&j);
}

static void
test_job_carries_the_window(void **state) {
    struct fx *f = *state;
    struct mf_job j;
    char text[256];

    f->cfg.window = (struct mf_window){20260301, 20260601};
    j = build(f);
    assert_true(j.has_window);
    assert_int_equal(j.window.since, 20260301);
    assert_int_equal(j.window.before, 20260601);
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)), MF_E_OK);
    /* Widened on its way to the worker: refused. */
    j.window.since = 0;
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    /* Passed off as a job from before jobs carried windows: refused. */
    j.window.since = 20260301;
    j.has_window = false;
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    mf_jobs_job_clear(&j);
    /* `batch set --since none`: the next job carries no bound. */
    f->cfg.window = (struct mf_window){0, 0};
    j = build(f);
    assert_true(j.has_window);
    assert_true(mf_window_empty(&j.window));
    mf_jobs_job_clear(&j);
}

/* The fingerprint mode travels too (issue 13): the batch's --fingerprint,
 * else its target profile's; bound like the window. */
static void
test_job_carries_the_fingerprint(void **state) {
    struct fx *f = *state;
    struct mf_job j;
    char text[256];

    j = build(f); /* no profile, no --fingerprint: strict */
    assert_string_equal(j.fingerprint, "strict");
    mf_jobs_job_clear(&j);
    f->cfg.target_profile = "exchange-online";
    j = build(f);
    assert_string_equal(j.fingerprint, "lenient");
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)), MF_E_OK);
    /* Changed on its way to the worker: refused. */
    free(j.fingerprint);
    j.fingerprint = strdup("strict");
    assert_int_equal(
        open_side(f, &j, MF_JOBS_PURPOSE_SOURCE, text, sizeof(text)),
        MF_E_DECRYPT);
    mf_jobs_job_clear(&j);
    /* The admin's --fingerprint wins over the profile's. */
    f->cfg.fingerprint = "strict";
    j = build(f);
    assert_string_equal(j.fingerprint, "strict");
    mf_jobs_job_clear(&j);
    f->cfg.fingerprint = NULL;
    f->cfg.target_profile = NULL;
}

static void
test_changed_batch_does_not_build(void **state) {
    struct fx *f = *state;
    struct mf_job j;
    struct mf_error err = {0};
    char *saved = f->cfg.source_oauth.client_id;

    /* The stored key is bound to the settings as well. */
    f->cfg.source_oauth.client_id = "c2";
    assert_int_equal(mf_jobs_build(f->kr, &f->cfg, &f->mb, &f->bj, &j, &err),
                     MF_E_DECRYPT);
    f->cfg.source_oauth.client_id = saved;
}

static void
test_define(void **state) {
    struct fx *f = *state;
    struct mf_oauth_config oc = {0};
    struct mf_batch_oauth o;
    struct mf_error err = {0};

    (void)f;
    oc.provider = MF_OAUTH_TOKEN_FILE;
    oc.token_file = "tokens.txt";
    assert_int_equal(mf_jobs_oauth_define(NULL, BATCH, MF_JOBS_PURPOSE_SOURCE,
                                          &oc, &o, &err),
                     MF_E_USAGE);
    mf_batch_oauth_clear(&o);
    oc.provider = MF_OAUTH_GOOGLE;
    oc.token_file = NULL;
    oc.service_account_file = "/nonexistent/sa.json";
    /* A dry run (no keyring) reads no file. */
    assert_int_equal(mf_jobs_oauth_define(NULL, BATCH, MF_JOBS_PURPOSE_SOURCE,
                                          &oc, &o, &err),
                     MF_E_OK);
    assert_string_equal(o.provider, "google");
    assert_string_equal(o.key_kind, "service-account");
    assert_int_equal(o.key.len, 0);
    mf_batch_oauth_clear(&o);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_carries_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_job_does_not_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_job_carries_the_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_job_carries_the_fingerprint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_batch_does_not_build,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_define, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
