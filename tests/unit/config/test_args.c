/*
 * The programs' command line (core/src/config/args.c): the three forms
 * of an option, switches, --kafka.* pass-through, positional words and
 * "--", each problem worded as the programs print it, and the help
 * lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/args.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mf_option first[] = {
    {"size", true, "a size"},
    {"dry-run", false, "a switch"},
    {NULL, false, NULL},
};
static const struct mf_option second[] = {
    {"size", false, "never found: the first table's wins"},
    {"json", false, "print JSON"},
    {NULL, false, NULL},
};
static const struct mf_option *const tables[] = {first, second, NULL};

/* Parses the words of argv (NULL-terminated) with max positional words. */
static mf_err
parse(struct mf_config *c, int max, const char **pos, int *n,
      struct mf_error *err, char **argv) {
    int argc = 0;

    while (argv[argc])
        argc++;
    memset(err, 0, sizeof(*err));
    return mf_config_parse_args(c, tables, argc, argv, pos, max, n, err);
}

static void
test_forms(void **state) {
    char *argv[] = {"a",
                    "--size",
                    "3M",
                    "--dry-run",
                    "--json",
                    "b",
                    "--kafka.sasl.mechanism=PLAIN",
                    "--",
                    "--size",
                    NULL};
    struct mf_config *c = mf_config_new();
    const char *pos[4];
    struct mf_error err;
    int n = -1;

    (void)state;
    assert_int_equal(parse(c, 4, pos, &n, &err, argv), MF_E_OK);
    assert_string_equal(mf_config_get(c, "size", NULL), "3M");
    assert_string_equal(mf_config_get(c, "dry-run", NULL), "true");
    assert_string_equal(mf_config_get(c, "json", NULL), "true");
    assert_string_equal(mf_config_get(c, "kafka.sasl.mechanism", NULL),
                        "PLAIN");
    assert_int_equal(n, 3); /* a, b, and --size after "--" */
    assert_string_equal(pos[0], "a");
    assert_string_equal(pos[1], "b");
    assert_string_equal(pos[2], "--size");
    mf_config_free(&c);

    /* --name=VALUE, and a later flag replaces an earlier one. */
    char *argv2[] = {"--size=1", "--size", "2", "--kafka.acks", "all", NULL};
    c = mf_config_new();
    assert_int_equal(parse(c, 0, NULL, &n, &err, argv2), MF_E_OK);
    assert_string_equal(mf_config_get(c, "size", NULL), "2");
    assert_string_equal(mf_config_get(c, "kafka.acks", NULL), "all");
    assert_int_equal(n, 0);
    mf_config_free(&c);
}

/* Each problem as the programs print it after their own prefix. */
static void
test_problems(void **state) {
    static const struct {
        int max;
        const char *argv[4];
        const char *want;
    } cases[] = {
        {2, {"--frob", NULL}, "unknown option: --frob"},
        {2, {"--frob=1", NULL}, "unknown option: --frob=1"},
        {2, {"--dry-run=yes", NULL}, "option takes no value: --dry-run=yes"},
        {2, {"--size", NULL}, "option needs a value: --size"},
        {2, {"--kafka.acks", NULL}, "option needs a value: --kafka.acks"},
        {2, {"a", "b", "c", NULL}, "too many arguments: c"},
        {1, {"--", "a", "b", NULL}, "too many arguments: b"},
        {0, {"x", NULL}, "unexpected argument: x"},
        {0, {"--", NULL}, "unexpected argument: --"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mf_config *c = mf_config_new();
        const char *pos[2];
        struct mf_error err;
        int n;

        assert_int_equal(parse(c, cases[i].max, cases[i].max ? pos : NULL, &n,
                               &err, (char **)cases[i].argv),
                         MF_E_USAGE);
        assert_string_equal(err.detail, cases[i].want);
        mf_config_free(&c);
    }
}

static void
test_print(void **state) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    mf_config_print_options(f, first, 12);
    mf_config_print_options(f, NULL, 12);
    fclose(f);
    assert_string_equal(text, "  --size VALUE a size\n"
                              "  --dry-run    a switch\n");
    free(text);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_problems),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
