/*
 * What `mailferry verify` (cmd_verify.c: the mailboxes of a CSV) and
 * `mailferry batch verify` (cmd_batch_verify.c: the mailboxes of a batch)
 * read the same way (verify_cli.c). They run through core's
 * mf_verify_run_go() and mf_verify_fleet_go() (mailferry/verify.h).
 */
#ifndef MF_VERIFY_RUN_H
#define MF_VERIFY_RUN_H

#include "cli.h"
#include "mailferry/crypto.h"
#include "mailferry/jobs.h"
#include "mailferry/migrate.h"
#include "mailferry/redis.h"
#include "mailferry/util.h"
#include "mailferry/verify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Reads --concurrency, --sample and --deep into *concurrency_r and
 * vo->sample; false (said on stderr) on a wrong value. */
bool verify_read_options(struct cli *cli, const char *command,
                         uint64_t *concurrency_r, struct mf_verify_options *vo);

/* The options both commands take besides their own. */
#define VERIFY_RUN_OPTIONS                                                     \
    {"concurrency", true,                                                      \
     "mailboxes verified at the same time (default " MF_STR(                   \
         MF_MIGRATE_DEFAULT_CONCURRENCY) ")"},                                 \
        {"sample", true,                                                       \
         "also compare the bodies (SHA-256 of BODY.PEEK[]) of N messages per " \
         "folder, spread over it (default 0: sizes only)"},                    \
        {"deep", false, "compare the bodies of every message"},

#endif
