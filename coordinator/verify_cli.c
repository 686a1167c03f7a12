/*
 * The command-line side of `verify` and `batch verify` (verify_run.h):
 * their shared options and signals. The runs are core's
 * (mailferry/verify.h).
 */
#include "verify_run.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

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

static atomic_bool *signal_stop;

static void
on_signal(int sig) {
    (void)sig;
    if (signal_stop)
        atomic_store(signal_stop, true);
}

void
verify_signals(atomic_bool *stop) {
    struct sigaction sa;

    signal_stop = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
