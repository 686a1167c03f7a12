/*
 * A batch's cap options (core/src/batch/def.c, mf_batchdef_caps_read())
 * and both sides' caps as the engine takes them (core/src/jobs/
 * servers.c, mf_jobs_migrate_caps()): the one reading `batch create`,
 * the embedded `migrate` and `migrate --direct` share, every flag of a
 * side landing in its field, and "any cap" only when one is set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/batchdef.h"
#include "mailferry/caps.h"
#include "mailferry/config.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"

#include <string.h>

static void
test_read_and_convert(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_batch_caps src, dst;
    struct mf_migrate_caps caps;
    struct mf_error err = {0};

    (void)state;
    mf_config_set_flag(c, "max-connections", "4");
    mf_config_set_flag(c, "max-connections-per-ip", "2");
    mf_config_set_flag(c, "target-max-concurrent-mailboxes", "3");
    mf_config_set_flag(c, "target-max-bytes-per-second", "1000");
    assert_true(mf_batchdef_caps_read(c, "", &src, &err));
    assert_true(mf_batchdef_caps_read(c, "target-", &dst, &err));
    memset(&caps, 0, sizeof(caps));
    assert_true(mf_jobs_migrate_caps(&src, &dst, &caps));
    assert_int_equal(caps.source.max_connections, 4);
    assert_int_equal(caps.source.max_connections_per_ip, 2);
    assert_int_equal(caps.source.max_connections_per_user, 0);
    assert_int_equal(caps.target.max_concurrent_mailboxes, 3);
    assert_int_equal(caps.target_bytes_per_second, 1000);
    assert_int_equal(caps.source_bytes_per_second, 0);
    mf_config_free(&c);
}

static void
test_none_and_junk(void **state) {
    struct mf_config *c = mf_config_new();
    struct mf_batch_caps src, dst;
    struct mf_migrate_caps caps;
    struct mf_error err = {0};

    (void)state;
    assert_true(mf_batchdef_caps_read(c, "", &src, &err));
    assert_true(mf_batchdef_caps_read(c, "target-", &dst, &err));
    memset(&caps, 0, sizeof(caps));
    assert_false(mf_jobs_migrate_caps(&src, &dst, &caps));
    mf_config_set_flag(c, "max-connections-per-user", "many");
    assert_false(mf_batchdef_caps_read(c, "", &src, &err));
    assert_non_null(strstr(err.detail, "max-connections-per-user"));
    mf_config_free(&c);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_and_convert),
        cmocka_unit_test(test_none_and_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
