/*
 * Secrets hygiene (issue 17 item 4): reading secret files, and keeping a
 * process that holds secrets out of core dumps.
 *
 * mf_secret_file_read() reads master key files, password files, token
 * files; every reader of a secret uses it:
 *
 *   - the file must not be writable by group or others: whoever can
 *     write a key file can make the coordinator seal every password under
 *     a key they know, and whoever can write a password file chooses the
 *     credentials used (MF_E_SECRET_FILE, refused);
 *   - a file readable by others, or by a group that is not the
 *     process's own, is logged as a warning (not refused: the operator
 *     may have reasons). The Kubernetes manifests mount Secrets owned by
 *     root with the pod's fsGroup (= runAsGroup) and defaultMode 0440,
 *     which is the process's own group and passes quietly;
 *   - the bytes go from read(2) into one heap buffer that is wiped on
 *     every path; no stdio buffer, which would keep a copy of the secret
 *     in memory that nobody wipes.
 *
 * The mode is read with fstat() on the open descriptor, so the file
 * checked is the file read (a symlink, as Kubernetes mounts use, is
 * followed to its target).
 *
 * mf_process_no_core_dumps() is for the long-running programs that hold
 * the master key and open passwords (mailferry-worker, mailferry serve):
 * RLIMIT_CORE 0 so that a crash writes no core file, and PR_SET_DUMPABLE
 * 0 so that no other process of the same user can ptrace it or read its
 * /proc/PID/mem.
 */
#include "mailferry/config.h"
#include "mailferry/log.h"
#include "mailferry/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

mf_err
mf_secret_file_read(const char *path, size_t max, char **buf_r, size_t *len_r,
                    struct mf_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    mf_err rc = MF_E_OK;

    if (fd < 0)
        return mf_error_set(err, MF_E_SECRET_FILE, "%s: %s", path,
                            strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = mf_error_set(err, MF_E_SECRET_FILE, "%s: %s", path,
                          strerror(errno));
        goto out;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        rc = mf_error_set(err, MF_E_SECRET_FILE,
                          "%s: writable by %s (mode %04o): refusing a secret "
                          "that others can change (chmod go-w, or 0400)",
                          path, (st.st_mode & S_IWOTH) ? "others" : "its group",
                          (unsigned)(st.st_mode & 07777));
        goto out;
    }
    /* Group read by our own group is how Kubernetes gives a non-root
     * container its Secret (fsGroup = runAsGroup, defaultMode 0440). */
    if ((st.st_mode & S_IROTH) ||
        ((st.st_mode & S_IRGRP) && st.st_gid != getegid()))
        mf_log(MF_LOG_WARN, NULL, "secret.file.readable",
               "%s is readable by %s (mode %04o): chmod 0400 keeps the "
               "secret to its owner",
               path, (st.st_mode & S_IROTH) ? "others" : "its group",
               (unsigned)(st.st_mode & 07777));
    buf = mf_xmalloc(max + 2);
    for (;;) {
        ssize_t r = read(fd, buf + len, max + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = mf_error_set(err, MF_E_SECRET_FILE, "%s: %s", path,
                              strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max) {
            rc = mf_error_set(err, MF_E_SECRET_FILE,
                              "%s: larger than %zu bytes", path, max);
            goto out;
        }
    }
    buf[len] = '\0';
    *buf_r = buf;
    *len_r = len;
    buf = NULL;
out:
    if (buf) {
        mf_wipe(buf, max + 2);
        free(buf);
    }
    close(fd);
    return rc;
}

mf_err
mf_process_no_core_dumps(struct mf_error *err) {
    struct rlimit rl = {0, 0};

    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        return mf_error_set(err, MF_E_INTERNAL, "setrlimit(RLIMIT_CORE): %s",
                            strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return mf_error_set(err, MF_E_INTERNAL, "prctl(PR_SET_DUMPABLE): %s",
                            strerror(errno));
    return MF_E_OK;
}
