/* Secrets hygiene (issue 17 item 4): secret files that group or others
 * can write are refused, for passwords and master keys alike; readable
 * ones are read (with a warning); a hardened process writes no core file
 * and is not dumpable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/config.h"
#include "mailferry/crypto.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY                                                                    \
    "k1:0000000000000000000000000000000000000000000000000000000000000000\n"

static char *
write_temp(const char *content, mode_t mode) {
    char *path = mf_xstrdup("/tmp/mf-secrets-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)),
                     (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void
test_password_modes(void **state) {
    static const struct {
        mode_t mode;
        mf_err want;
    } cases[] = {
        {0600, MF_E_OK},          {0400, MF_E_OK},
        {0640, MF_E_OK},          {0644, MF_E_OK},
        {0620, MF_E_SECRET_FILE}, {0602, MF_E_SECRET_FILE},
        {0660, MF_E_SECRET_FILE}, {0666, MF_E_SECRET_FILE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_temp("pw-secret\n", cases[i].mode);
        char *secret = NULL;
        struct mf_error err = {0};
        mf_err rc = mf_secret_read_file(path, &secret, &err);
        assert_int_equal(rc, cases[i].want);
        if (rc == MF_E_OK)
            assert_string_equal(secret, "pw-secret");
        else
            assert_non_null(strstr(err.detail, "writable"));
        mf_secret_free(&secret);
        unlink(path);
        free(path);
    }
}

static void
test_master_key_modes(void **state) {
    struct mf_crypto_keyring *kr = NULL;
    struct mf_error err = {0};
    char *ok = write_temp(KEY, 0400), *bad = write_temp(KEY, 0664);

    (void)state;
    assert_int_equal(mf_crypto_keyring_load(ok, &kr, &err), MF_E_OK);
    mf_crypto_keyring_free(&kr);
    assert_int_equal(mf_crypto_keyring_load(bad, &kr, &err), MF_E_SECRET_FILE);
    assert_null(kr);
    assert_non_null(strstr(err.detail, "writable"));
    unlink(ok);
    unlink(bad);
    free(ok);
    free(bad);
}

static void
test_no_core_dumps(void **state) {
    pid_t pid = fork();
    int status = 0;

    (void)state;
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mf_error err = {0};
        struct rlimit rl;
        if (mf_process_no_core_dumps(&err) != MF_E_OK)
            _exit(2);
        if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 ||
            rl.rlim_max != 0)
            _exit(3);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
            _exit(4);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_modes),
        cmocka_unit_test(test_master_key_modes),
        cmocka_unit_test(test_no_core_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
