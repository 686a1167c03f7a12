/*
 * The command line into a struct mf_config (mailferry/args.h): one
 * parser for both programs, so an option is spelled, found and refused
 * the same way everywhere.
 */
#include "mailferry/args.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

static const struct mf_option *
find(const struct mf_option *const *tables, const char *name, size_t len) {
    for (; *tables; tables++)
        for (const struct mf_option *o = *tables; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

/* One option, argv[*i] ("--name", "--name=VALUE" or "--name VALUE",
 * which moves *i past the value), into c. */
static mf_err
parse_option(struct mf_config *c, const struct mf_option *const *tables,
             int argc, char **argv, int *i, struct mf_error *err) {
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const struct mf_option *o = find(tables, a, len);
    char *name;

    if (!o && !mf_config_passthrough(a, len))
        return mf_error_set(err, MF_E_USAGE, "unknown option: %s", argv[*i]);
    if (o && !o->takes_value) {
        if (eq)
            return mf_error_set(err, MF_E_USAGE, "option takes no value: %s",
                                argv[*i]);
        mf_config_set_flag(c, o->name, "true");
        return MF_E_OK;
    }
    if (!eq && *i + 1 >= argc)
        return mf_error_set(err, MF_E_USAGE, "option needs a value: %s",
                            argv[*i]);
    /* A table's name, or --kafka.<property> for the programs that talk
     * to Kafka (SASL, TLS). */
    name = mf_xstrndup(a, len);
    mf_config_set_flag(c, name, eq ? eq + 1 : argv[++*i]);
    free(name);
    return MF_E_OK;
}

static mf_err
add_positional(const char **positional, int max, int *n, const char *a,
               struct mf_error *err) {
    if (*n == max)
        return mf_error_set(err, MF_E_USAGE, "%s: %s",
                            max ? "too many arguments" : "unexpected argument",
                            a);
    positional[(*n)++] = a;
    return MF_E_OK;
}

mf_err
mf_config_parse_args(struct mf_config *c, const struct mf_option *const *tables,
                     int argc, char **argv, const char **positional,
                     int max_positional, int *n_r, struct mf_error *err) {
    mf_err rc = MF_E_OK;

    *n_r = 0;
    for (int i = 0; i < argc && rc == MF_E_OK; i++) {
        const char *a = argv[i];

        if (max_positional > 0 && strcmp(a, "--") == 0) {
            for (i++; i < argc && rc == MF_E_OK; i++)
                rc = add_positional(positional, max_positional, n_r, argv[i],
                                    err);
            break;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            rc = add_positional(positional, max_positional, n_r, a, err);
        else
            rc = parse_option(c, tables, argc, argv, &i, err);
    }
    return rc;
}

void
mf_config_print_options(FILE *out, const struct mf_option *table, int width) {
    for (const struct mf_option *o = table; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", o->name,
                 o->takes_value ? " VALUE" : "");
        fprintf(out, "  %-*s %s\n", width, left, o->help);
    }
}
