/* Reports written by path (report/file.c): a regular file appears whole
 * under its name with no temporary file left, a device is written in
 * place, a directory gets all three formats, and a path that cannot be
 * written is MF_E_IO naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_test.h"
#include "testenv.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file at path (caller frees). */
static char *
slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    int c;

    assert_non_null(f);
    assert_non_null(m);
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return text;
}

static size_t
entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void
test_path(void **state) {
    struct mf_report_batch *b = small_batch();
    struct mf_error err = {0};
    char dir[512], path[600];
    char *want = render(b, MF_REPORT_JSON), *got;

    (void)state;
    assert_true(mf_testenv_mkdtemp(dir, sizeof(dir), "mf-report-file"));
    snprintf(path, sizeof(path), "%s/r.json", dir);
    /* Twice: the second replaces the first. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mf_report_write_path(b, MF_REPORT_JSON, path, &err),
                         MF_E_OK);
        got = slurp(path);
        assert_string_equal(got, want);
        free(got);
        assert_int_equal(entries(dir), 1); /* no temporary left */
    }
    /* A device is written, not replaced by a file. */
    assert_int_equal(mf_report_write_path(b, MF_REPORT_CSV, "/dev/null", &err),
                     MF_E_OK);
    {
        struct stat sb;
        assert_int_equal(stat("/dev/null", &sb), 0);
        assert_true(S_ISCHR(sb.st_mode));
    }
    /* A directory that does not exist: the error names the file. */
    snprintf(path, sizeof(path), "%s/missing/r.csv", dir);
    assert_int_equal(mf_report_write_path(b, MF_REPORT_CSV, path, &err),
                     MF_E_IO);
    assert_non_null(strstr(err.detail, "missing/r.csv"));
    assert_int_equal(entries(dir), 1);
    snprintf(path, sizeof(path), "%s/r.json", dir);
    unlink(path);
    rmdir(dir);
    free(want);
    mf_report_free(&b);
}

static void
test_dir(void **state) {
    struct mf_report_batch *b = small_batch();
    struct mf_error err = {0};
    char dir[512], sub[600], path[700];

    (void)state;
    assert_true(mf_testenv_mkdtemp(dir, sizeof(dir), "mf-report-dir"));
    snprintf(sub, sizeof(sub), "%s/reports", dir);
    assert_int_equal(mf_report_write_dir(b, sub, &err), MF_E_OK);
    assert_int_equal(entries(sub), 3);
    for (int f = 0; f < MF_REPORT_FORMAT_COUNT; f++) {
        char *want = render(b, (enum mf_report_format)f), *got;
        snprintf(path, sizeof(path), "%s/report.%s", sub,
                 mf_report_format_name((enum mf_report_format)f));
        got = slurp(path);
        assert_string_equal(got, want);
        free(got);
        free(want);
        unlink(path);
    }
    rmdir(sub);
    /* Its parent missing: nothing is made, the error names it. */
    snprintf(sub, sizeof(sub), "%s/no/reports", dir);
    assert_int_equal(mf_report_write_dir(b, sub, &err), MF_E_IO);
    assert_non_null(strstr(err.detail, "no/reports"));
    rmdir(dir);
    mf_report_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
