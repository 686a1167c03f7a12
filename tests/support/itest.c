/* Helpers of the C integration tests (see itest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itest.h"
#include "mailferry/batch.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char prefix[48];
static char *url; /* owned while mf_itest_redis_run() runs */

int
mf_itest_redis_run(const char *group, const struct CMUnitTest *tests, size_t n,
                   int db, const char *tag) {
    const char *fixture = mf_testenv_redis_fixture();
    char *base = mf_testenv_redis("REDIS_URL");
    int rc;

    if (!base) {
        fprintf(stderr, "no %s fixture (REDIS_URL)\n", fixture);
        return 1;
    }
    if (db == MF_ITEST_DB_DEFAULT)
        url = base;
    else {
        url = mf_xasprintf("%s/%d", base, db);
        free(base);
    }
    snprintf(prefix, sizeof(prefix), "%s%ld-%d", tag, (long)time(NULL),
             (int)getpid());
    rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    free(url);
    url = NULL;
    return rc;
}

const char *
mf_itest_redis_url(void) {
    return url;
}

const char *
mf_itest_prefix(void) {
    return prefix;
}

struct mf_redis *
mf_itest_redis(void) {
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    assert_int_equal(mf_redis_connect(url, 0, &r, &err), MF_E_OK);
    return r;
}

void
mf_itest_name(char *out, size_t n, const char *what) {
    snprintf(out, n, "%s-%s", prefix, what);
}

void
mf_itest_batch_end(struct mf_redis **r, const char *name) {
    struct mf_error err = {0};
    mf_err rc = mf_batch_remove(*r, name, &err);

    if (rc != MF_E_OK)
        fail_msg("remove %s: %s %s", name, mf_err_name(rc), err.detail);
    mf_redis_free(r);
}

char *
mf_itest_dovecot(const char *key) {
    char *v = mf_testenv_get("dovecot", key);

    if (!v)
        fail_msg("dovecot.env has no %s (is the fixture running?)", key);
    return v;
}
