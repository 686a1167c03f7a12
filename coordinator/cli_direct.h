/*
 * What the commands that connect to the servers themselves (`migrate
 * --direct`, `verify`) read the same way: the CSV's mailboxes with their
 * clear passwords, and the migration options from the command line (both
 * servers, admins, folder rules, size cap, attempts and the fleet caps).
 */
#ifndef MF_CLI_DIRECT_H
#define MF_CLI_DIRECT_H

#include "cli.h"
#include "cli_login.h"
#include "mailferry/csv.h"
#include "mailferry/migrate.h"

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

/* Applies parse (mf_folder_rules_parse_include, _exclude, _rename...)
 * to every item of the comma list list (NULL: nothing); the first error
 * is returned, with err filled. */
mf_err cli_rules_add_list(struct mf_folder_rules *rules, const char *list,
                          mf_err (*parse)(struct mf_folder_rules *,
                                          const char *, struct mf_error *),
                          struct mf_error *err);

/* The migration options of a direct run; opts points into the rest. */
struct cli_direct {
    struct mf_migrate_options opts;
    struct mf_migrate_server src, dst;
    struct mf_folder_rules *rules; /* owned */
    struct mf_migrate_caps caps;
    struct cli_admin src_admin, dst_admin;
    struct mf_oauth *src_oauth, *dst_oauth; /* owned, or NULL */
    const char *redis_url;                  /* borrowed from cli, or NULL */
    char holder[128];
};

/* Reads d from cli. Returns -1 when read, else the exit code, the reason
 * printed with command in front. Free d with cli_direct_free() in any
 * case. */
int cli_direct_read(struct cli *cli, const char *command, struct cli_direct *d);
void cli_direct_free(struct cli_direct *d);

/* Both logins of one row. owned[4] receives strings to free afterwards. */
void cli_direct_logins(const struct cli_direct *d,
                       const struct mf_csv_mailbox *row,
                       struct mf_migrate_login *src,
                       struct mf_migrate_login *dst, char *owned[4]);

#endif
