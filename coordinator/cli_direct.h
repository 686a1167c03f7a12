/*
 * What the commands that connect to the servers themselves (`migrate
 * --direct`, `verify`, `plan`) read the same way: the CSV's mailboxes
 * with their clear passwords, and the migration options from the command
 * line (read by core: mf_direct_settings_read() in mailferry/direct.h),
 * their problems shown.
 */
#ifndef MF_CLI_DIRECT_H
#define MF_CLI_DIRECT_H

#include "cli.h"
#include "mailferry/csv.h"
#include "mailferry/direct.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CSV's rows (owned; passwords wiped by cli_csv_free()). */
struct cli_csv {
    struct mf_csv_mailbox *rows;
    size_t n;
    uint64_t issues;
    const char *path;
};

/* Loads the CSV at path (every problem printed on stderr as
 * FILE:LINE:COL). Returns -1 when loaded, else the exit code, the reason
 * printed with command in front. */
int cli_csv_load(struct cli *cli, const char *command, const char *path,
                 bool password_optional, struct cli_csv *l);
void cli_csv_free(struct cli_csv *l);

/* mf_direct_settings_read() for command. Returns -1 when read, else the
 * exit code, the reason printed with command in front. Free d with
 * mf_direct_settings_free() in any case. */
int cli_direct_read(struct cli *cli, const char *command,
                    struct mf_direct_settings *d);

#endif
