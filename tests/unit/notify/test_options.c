/*
 * The notifier from `serve`'s options (core/src/notify/options.c): none
 * without --notify-url; the signing secret read as every secret file
 * (one that others can write is refused, an empty one too), both errors
 * MF_E_SECRET_FILE naming the option; a good secret makes a notifier.
 */
#include "testenv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/notify.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[300];

static void
write_secret(const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static mf_err
from(const char *url, struct mf_notifier **n_r, struct mf_error *err) {
    struct mf_config *c = mf_config_new();
    struct mf_notify_metrics m;
    mf_err rc;

    memset(&m, 0, sizeof(m));
    if (url) {
        mf_config_set_flag(c, "notify-url", url);
        mf_config_set_flag(c, "notify-secret-file", path);
    }
    rc = mf_notifier_from_config(c, &m, n_r, err);
    mf_config_free(&c);
    return rc;
}

static void
test_options(void **state) {
    struct mf_notifier *n = NULL;
    struct mf_error err = {0};

    (void)state;
    assert_true(mf_testenv_mkdtemp(dir, sizeof(dir), "mf_test_notifyopt"));
    snprintf(path, sizeof(path), "%s/secret", dir);

    assert_int_equal(from(NULL, &n, &err), MF_E_OK);
    assert_null(n);

    write_secret("s3cret\n", 0620);
    assert_int_equal(from("http://127.0.0.1:1/", &n, &err), MF_E_SECRET_FILE);
    assert_null(n);
    assert_non_null(strstr(err.detail, "--notify-secret-file"));

    write_secret("\n", 0600);
    assert_int_equal(from("http://127.0.0.1:1/", &n, &err), MF_E_SECRET_FILE);
    assert_non_null(strstr(err.detail, "empty"));

    write_secret("s3cret\n", 0600);
    assert_int_equal(from("http://127.0.0.1:1/", &n, &err), MF_E_OK);
    assert_non_null(n);
    mf_notifier_free(&n, 0);
    assert_null(n);
    unlink(path);
    rmdir(dir);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
