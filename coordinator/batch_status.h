/*
 * The batch commands' shared pieces (cmd_batch.c): connecting to Redis
 * from the command line, parsing a batch command's line, mapping errors
 * to exit codes. The status display is core's (mailferry/status.h).
 */
#ifndef MF_BATCH_STATUS_H
#define MF_BATCH_STATUS_H

#include "cli.h"
#include "mailferry/batch.h"
#include "mailferry/jobs.h"
#include "mailferry/redis.h"
#include "mailferry/status.h"

#include <stdatomic.h>
#include <stdbool.h>

/* Connects to the Redis named by --redis / MAILFERRY_REDIS / the config
 * file. Prints the problem and returns false if there is none or it does
 * not answer. */
bool batch_cli_redis(struct cli *cli, struct mf_redis **r_r);

/* The exit code for an error of a batch command: 1 for what the admin
 * can fix by choosing another batch or state (MF_E_NOT_FOUND, MF_E_STATE,
 * MF_E_EXISTS, input errors), 3 for what kept the command from running
 * (Redis, Kafka, I/O, crypto). */
int batch_exit_code(mf_err rc);
/* The key ring and Kafka producer of a command that produces jobs
 * (mf_jobs_link_open()), then Redis; l->jc borrows *redis_r. Returns -1
 * when both are open, else the exit code, the reason printed. Close l
 * and free *redis_r in any case. */
int batch_link_open(struct cli *cli, struct mf_redis **redis_r,
                    struct mf_jobs_link *l);

/* The exit code of a core call's rc for command: 0, or err printed
 * (batch_print_error()) and batch_exit_code(rc). */
int batch_status_result(const char *command, const char *batch, mf_err rc,
                        const struct mf_error *err);

/* Parses a batch command's line, handles --help and a wrong number of
 * names (min_pos..max_pos positionals; the first a valid batch name when
 * min_pos >= 1). Returns -1 to go on, else the exit code. */
int batch_cli_parse(struct cli *cli, const char *command, const char *usage,
                    const struct mf_option *options, int argc, char **argv,
                    int min_pos, int max_pos);
/* Parses the line of a command on one batch (`batch set`, `add`,
 * `update`, `drop`, per-mailbox actions): "expected one batch NAME" for
 * a missing, extra or malformed name. Returns -1 to go on, else the exit
 * code. */
int batch_cli_parse_one(struct cli *cli, const char *command, const char *usage,
                        const struct mf_option *options, int argc, char **argv);

/* Prints err for command on stderr, with a hint for common cases. */
void batch_print_error(const char *command, const char *batch,
                       const struct mf_error *err);

#endif
