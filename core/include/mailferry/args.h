/*
 * The command line of both programs (`mailferry` and `mailferry-worker`):
 * argv read against the program's option tables into the flags of a
 * struct mf_config (mailferry/config.h), which then win over the
 * environment and the config file. Each program words its own usage
 * messages and help around what this returns and prints.
 */
#ifndef MAILFERRY_ARGS_H
#define MAILFERRY_ARGS_H

#include "mailferry/config.h"
#include "mailferry/err.h"

#include <stdbool.h>
#include <stdio.h>

/* One option of a program's table: its name without "--" (also its
 * config key), whether it takes a value, and its help line. A table ends
 * with {NULL, false, NULL}. */
struct mf_option {
    const char *name;
    bool takes_value;
    const char *help;
};

/* Reads argv (the words after the program's and command's names) into
 * flags of c: "--name VALUE", "--name=VALUE" and, for a switch,
 * "--name", each named in one of tables (a NULL-terminated list of
 * tables, searched in order), and "--kafka.PROPERTY VALUE"
 * (mf_config_passthrough()). Any other word is positional: up to
 * max_positional of them go to positional[] (borrowed from argv; *n_r
 * counts them), and with max_positional above 0 every word after "--"
 * is one. MF_E_USAGE (the problem and the word in err's detail, e.g.
 * "unknown option: --frob"; "unexpected argument: x" when max_positional
 * is 0, "too many arguments: x" past it) stops at the first problem. */
MF_WARN_UNUSED mf_err
mf_config_parse_args(struct mf_config *c, const struct mf_option *const *tables,
                     int argc, char **argv, const char **positional,
                     int max_positional, int *n_r, struct mf_error *err);

/* Prints each option of table on its own line, "  --name VALUE" (or
 * "  --name" for a switch) padded to width columns, a space and its
 * help. */
void mf_config_print_options(FILE *out, const struct mf_option *table,
                             int width);

#endif
