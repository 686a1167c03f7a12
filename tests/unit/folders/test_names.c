/*
 * Tests for the names a target accepts (core/src/folders/folderplan_names.c):
 * the one mapping rule (delimiter, refused characters, controls, level
 * length), the whole-name fit with a collision suffix, the strict rules
 * of the conservative fallback name, and properties over random levels
 * (nothing refused survives, lengths hold, mapping twice changes
 * nothing, the same input always gives the same name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "folders/folderplan_int.h"
#include "mailferry/folderplan.h"
#include "mailferry/util.h"

/* The Cyrus profile's rules (profile.c), written out here so that the
 * test says what they are. */
static const struct mf_folder_name_rules cyrus = {
    .forbidden = "!\"%/;<>\\`{|}",
    .controls = true,
    .max_name_bytes = 490,
};

static const struct mf_folder_name_rules exchange = {
    .max_level_chars = 256,
    .case_insensitive = true,
};

/* Maps level and checks the result and what changed. */
static void
expect(const struct mf_folder_name_rules *r, const char *level, char delim,
       const char *repl, unsigned reserve, const char *want,
       unsigned want_what) {
    unsigned what = 99;
    char *got = mf_folder_name_map_level(r, level, delim, repl, reserve, &what);

    assert_string_equal(got, want);
    assert_int_equal(what, want_what);
    free(got);
}

static void
test_map_level_table(void **state) {
    (void)state;
    /* Without rules only the delimiter goes (the old rule). */
    expect(NULL, "A/B", '/', NULL, 0, "A_B", MF_FOLDER_MAP_DELIM);
    expect(NULL, "A|B", '/', NULL, 0, "A|B", 0);
    expect(NULL, "plain", 0, NULL, 0, "plain", 0);
    /* Cyrus: every refused character, by the same replacement. */
    expect(&cyrus, "a!b;c|d\\e", '.', NULL, 0, "a_b_c_d_e", MF_FOLDER_MAP_CHAR);
    expect(&cyrus, "<x>{y}`z`\"%", '.', NULL, 0, "_x__y__z___",
           MF_FOLDER_MAP_CHAR);
    expect(&cyrus, "Reports 2024/25", '.', "-", 0, "Reports 2024-25",
           MF_FOLDER_MAP_CHAR);
    expect(&cyrus, "a.b|c", '.', "+", 0, "a+b+c",
           MF_FOLDER_MAP_DELIM | MF_FOLDER_MAP_CHAR);
    /* What Cyrus takes stays: space # $ ' ( ) * + , - : = ? @ [ ] ^ _ ~
     * and 8-bit text (modified UTF-7 on the wire). */
    expect(&cyrus, "Ann's #1 (2024) [x] ~a @b ü日本", '.', NULL, 0,
           "Ann's #1 (2024) [x] ~a @b ü日本", 0);
    /* A multi-character replacement. */
    expect(&cyrus, "a|b", '.', "--", 0, "a--b", MF_FOLDER_MAP_CHAR);
    /* Controls: refused where the rules say so. */
    expect(&cyrus, "tab\there", '.', NULL, 0, "tab_here", MF_FOLDER_MAP_CHAR);
    expect(&exchange, "tab\there", '/', NULL, 0, "tab\there", 0);
    /* The delimiter is never "refused": it is replaced as the delimiter. */
    expect(&cyrus, "x/y", '/', NULL, 0, "x_y", MF_FOLDER_MAP_DELIM);
}

static void
test_map_level_length(void **state) {
    const struct mf_folder_name_rules five = {.max_level_chars = 5};
    const struct mf_folder_name_rules three = {.max_level_chars = 3,
                                               .forbidden = "|"};

    (void)state;
    expect(&five, "abcde", '/', NULL, 0, "abcde", 0);
    expect(&five, "abcdefgh", '/', NULL, 0, "abcde", MF_FOLDER_MAP_LENGTH);
    /* Characters, not bytes: never cut inside one. */
    expect(&three, "ééééé", '/', NULL, 0, "ééé", MF_FOLDER_MAP_LENGTH);
    expect(&three, "日本語です", '/', NULL, 0, "日本語", MF_FOLDER_MAP_LENGTH);
    /* Replacements count after replacing; reserve leaves room. */
    expect(&three, "a|b|c", '/', "__", 0, "a__",
           MF_FOLDER_MAP_CHAR | MF_FOLDER_MAP_LENGTH);
    expect(&five, "abcdefgh", '/', NULL, 2, "abc", MF_FOLDER_MAP_LENGTH);
    /* A reserve as large as the limit still leaves one character. */
    expect(&five, "abcdefgh", '/', NULL, 9, "a", MF_FOLDER_MAP_LENGTH);
    /* Exchange: 256 characters per level. */
    {
        char lvl[301];
        char *got;
        unsigned what;
        memset(lvl, 'x', 300);
        lvl[300] = '\0';
        got = mf_folder_name_map_level(&exchange, lvl, '/', NULL, 0, &what);
        assert_int_equal(strlen(got), 256);
        assert_int_equal(what, MF_FOLDER_MAP_LENGTH);
        free(got);
    }
}

static void
test_refuses(void **state) {
    (void)state;
    assert_true(mf_folder_name_refuses(&cyrus, '|', '.'));
    assert_false(mf_folder_name_refuses(&cyrus, '.', '.'));
    assert_false(mf_folder_name_refuses(&cyrus, 'a', '.'));
    assert_false(mf_folder_name_refuses(&cyrus, 0xc3, '.')); /* 8-bit */
    assert_true(mf_folder_name_refuses(&cyrus, 0x7f, '.'));
    assert_false(mf_folder_name_refuses(NULL, '|', '.'));
    assert_false(mf_folder_name_refuses(&exchange, '\n', '/'));
    /* The strict rules hold every profile's refused characters. */
    for (const char *p = cyrus.forbidden; *p; p++)
        assert_true(mf_folder_name_refuses(mf_folder_name_rules_strict(),
                                           (unsigned char)*p, 0));
    assert_true(mf_folder_name_refuses(mf_folder_name_rules_strict(), '\t', 0));
}

static void
test_conservative_name_strict(void **state) {
    char *n;

    (void)state;
    n = mf_folder_conservative_name("a<b>c`d{e}f", '/', NULL);
    assert_string_equal(n, "a_b_c_d_e_f");
    free(n);
    /* The delimiter of the name itself stays (a full name). */
    n = mf_folder_conservative_name("Top/a|b", '/', "-");
    assert_string_equal(n, "Top/a-b");
    free(n);
    assert_null(mf_folder_conservative_name("Fine name (1)", '/', NULL));
}

static void
test_fit_name(void **state) {
    const struct mf_folder_name_rules lv = {.max_level_chars = 8};
    const struct mf_folder_name_rules nb = {.max_name_bytes = 12};
    bool cut;
    char *n;

    (void)state;
    /* A collision suffix within the level limit. */
    n = mf__folder_fit_name(&lv, "Top/abcdefgh", 4, 4, " (2)", false, &cut);
    assert_string_equal(n, "Top/abcd (2)");
    assert_true(cut);
    free(n);
    n = mf__folder_fit_name(&lv, "Top/abc", 4, 4, " (2)", false, &cut);
    assert_string_equal(n, "Top/abc (2)");
    assert_false(cut);
    free(n);
    /* The whole name on the wire: the last level gives way. */
    n = mf__folder_fit_name(&nb, "INBOX.abcdefghij", 6, 6, "", false, &cut);
    assert_string_equal(n, "INBOX.abcdef");
    assert_true(cut);
    free(n);
    /* Counted as modified UTF-7: "é" is "&AOk-" (5 bytes). */
    n = mf__folder_fit_name(&nb, "INBOX.éé", 6, 6, "", false, &cut);
    assert_string_equal(n, "INBOX.é");
    assert_true(cut);
    free(n);
    n = mf__folder_fit_name(&nb, "INBOX.éé", 6, 6, "", true, &cut);
    assert_string_equal(n, "INBOX.éé");
    assert_false(cut);
    free(n);
    /* Never below one character: the plan then excludes it (LIMIT). */
    n = mf__folder_fit_name(&nb, "a-very-long-parent/x", 19, 19, "", false,
                            &cut);
    assert_string_equal(n, "a-very-long-parent/x");
    free(n);
    /* No rules: the suffix only. */
    n = mf__folder_fit_name(NULL, "a/b", 2, 2, " (3)", false, &cut);
    assert_string_equal(n, "a/b (3)");
    assert_false(cut);
    free(n);
}

/* Random levels: what comes out never holds a refused character or the
 * delimiter, respects the length, is valid UTF-8 when the input was,
 * maps to itself again, and is the same on every call. */
static void
test_map_level_properties(void **state) {
    static const char alphabet[] = "ab /.|!;\\\"%<>`{}~*?#^\t\x7f";
    static const char *const multi[] = {"é", "日", "😀"};
    const struct mf_folder_name_rules r = {
        .forbidden = "!\"%/;<>\\`{|}", .controls = true, .max_level_chars = 7};
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 5000; round++) {
        char lvl[64] = "";
        size_t len = 0, n;
        char *a, *b, *again;
        unsigned what;

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 12;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 5 == 0) {
                const char *m = multi[(seed >> 8) % 3];
                memcpy(lvl + len, m, strlen(m));
                len += strlen(m);
            } else {
                lvl[len++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
            }
        }
        lvl[len] = '\0';
        a = mf_folder_name_map_level(&r, lvl, '.', "_", 0, &what);
        b = mf_folder_name_map_level(&r, lvl, '.', "_", 0, NULL);
        assert_string_equal(a, b);
        for (const char *p = a; *p; p++) {
            assert_false(mf_folder_name_refuses(&r, (unsigned char)*p, '.'));
            assert_int_not_equal(*p, '.');
        }
        assert_true(mf_utf8_valid((const uint8_t *)a, strlen(a)));
        {
            size_t chars = 0;
            for (const char *p = a; *p; p++)
                chars += ((unsigned char)*p & 0xc0) != 0x80;
            assert_true(chars <= 7);
        }
        assert_int_equal(what == 0, strcmp(a, lvl) == 0);
        again = mf_folder_name_map_level(&r, a, '.', "_", 0, &what);
        assert_string_equal(again, a);
        assert_int_equal(what, 0);
        free(a);
        free(b);
        free(again);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_level_table),
        cmocka_unit_test(test_map_level_length),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_conservative_name_strict),
        cmocka_unit_test(test_fit_name),
        cmocka_unit_test(test_map_level_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
