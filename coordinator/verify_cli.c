/*
 * The command-line side of `verify` and `batch verify` (verify_run.h):
 * their shared options. The runs are core's
 * (mailferry/verify.h).
 */
#include "verify_run.h"

#include <stdio.h>

bool
verify_read_options(struct cli *cli, const char *command,
                    uint64_t *concurrency_r, struct mf_verify_options *vo) {
    struct mf_error err = {0};
    uint64_t sample;
    bool deep = false;

    if (mf_config_get_u64(cli->config, "concurrency",
                          MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 256, MF_UNIT_NONE,
                          concurrency_r, &err) ||
        mf_config_get_u64(cli->config, "sample", 0, 0, UINT32_MAX, MF_UNIT_NONE,
                          &sample, &err) ||
        mf_config_get_bool(cli->config, "deep", false, &deep, &err)) {
        fprintf(stderr, "mailferry %s: %s\n", command, err.detail);
        return false;
    }
    vo->sample = deep ? SIZE_MAX : (size_t)sample;
    return true;
}
