/*
 * The command-line pieces that say how to reach and log in to a server,
 * shared by the commands that connect themselves (`migrate --direct`,
 * `plan`): the endpoint with its TLS options, the admin credentials, and
 * one mailbox's login built from them (the same login names the jobs use,
 * mf_jobs_admin_login()).
 */
#ifndef MF_CLI_LOGIN_H
#define MF_CLI_LOGIN_H

#include "cli.h"
#include "mailferry/migrate.h"

#include <stdbool.h>

/* --admin USER --admin-password-file F --admin-login-format FMT (or the
 * target- variants). */
struct cli_admin {
    const char *user;   /* NULL: no admin */
    char *password;     /* owned secret: free with cli_admin_clear() */
    const char *format; /* "sasl" (or NULL) or a template */
};

/* Reads the admin options with prefix "" or "target-". False with err
 * set when --admin is given without a readable password file. */
bool cli_admin_read(struct cli *cli, const char *prefix, struct cli_admin *ad,
                    struct mf_error *err);
/* Wipes and frees the password. */
void cli_admin_clear(struct cli_admin *ad);

/* Reads --<key> URL with --ca-file, --insecure and --bind-address into s.
 * *given_r (may be NULL) says whether the URL was there; a missing one is
 * an error only when required. */
bool cli_server_read(struct cli *cli, const char *key, bool required,
                     struct mf_migrate_server *s, bool *given_r,
                     struct mf_error *err);

/* One side's login for the mailbox email whose own login is user and
 * password: the admin's on its behalf when ad has a user. owned[2]
 * receives strings to free afterwards (NULL when none). */
void cli_login_make(const struct cli_admin *ad, const char *user,
                    const char *password, const char *email,
                    struct mf_migrate_login *lg, char *owned[2]);

#endif
