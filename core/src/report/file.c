/*
 * A report written to a file by path: the one way `batch report -o`,
 * `migrate`'s embedded run and `migrate --direct` put a report on disk.
 *
 * A regular file (or a new one) is written whole beside its final name
 * and renamed onto it, so a reader never sees half a report. Anything
 * else (a pipe, /dev/stdout, /dev/null) is written as it is: renaming onto
 * it would replace the device or pipe with a file.
 */
#include "mailferry/report.h"
#include "mailferry/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mf_err
mf_report_write_path(const struct mf_report_batch *b, enum mf_report_format fmt,
                     const char *path, struct mf_error *err) {
    struct stat sb;
    char *tmp = NULL;
    FILE *f;
    mf_err rc;

    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        tmp = mf_xasprintf("%s.tmp.%ld", path, (long)getpid());
    if (!(f = fopen(tmp ? tmp : path, "w"))) {
        mf_error_set(err, MF_E_IO, "cannot write %s: %s", tmp ? tmp : path,
                     strerror(errno));
        free(tmp);
        return MF_E_IO;
    }
    rc = mf_report_write(b, fmt, f);
    if (fclose(f) != 0 && rc == MF_E_OK)
        rc = MF_E_IO;
    if (rc == MF_E_OK && tmp && rename(tmp, path) != 0)
        rc = MF_E_IO;
    if (rc != MF_E_OK) {
        mf_error_set(err, rc, "cannot write %s: %s", path,
                     errno ? strerror(errno) : mf_strerror(rc));
        if (tmp)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

mf_err
mf_report_write_dir(const struct mf_report_batch *b, const char *dir,
                    struct mf_error *err) {
    if (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0) {
        mf_error_set(err, MF_E_IO, "cannot create %s: %s", dir,
                     strerror(errno));
        return MF_E_IO;
    }
    for (int f = 0; f < MF_REPORT_FORMAT_COUNT; f++) {
        char path[4096];
        mf_err rc;

        snprintf(path, sizeof(path), "%s/report.%s", dir,
                 mf_report_format_name((enum mf_report_format)f));
        if ((rc = mf_report_write_path(b, (enum mf_report_format)f, path,
                                       err)) != MF_E_OK)
            return rc;
    }
    return MF_E_OK;
}
