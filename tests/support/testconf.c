/* Test configurations (see testconf.h). */
#include "testconf.h"

#include "mailferry/config.h"
#include "mailferry/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* Unsets every MAILFERRY_* variable: the names are gathered first, since
 * unsetenv() changes environ. */
static void
clear_mailferry_env(void) {
    static const char pfx[] = "MAILFERRY_";
    char **names = NULL;
    size_t n = 0;

    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');

        if (eq && strncmp(*e, pfx, sizeof(pfx) - 1) == 0) {
            names = mf_xreallocarray(names, n + 1, sizeof(*names));
            names[n++] = mf_xstrndup(*e, (size_t)(eq - *e));
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
    free(names);
}

struct mf_config *
mf_testconf_flags(const char *first, ...) {
    struct mf_config *c = mf_config_new();
    va_list ap;

    clear_mailferry_env();
    va_start(ap, first);
    for (const char *k = first; k; k = va_arg(ap, const char *))
        mf_config_set_flag(c, k, va_arg(ap, const char *));
    va_end(ap);
    return c;
}

char *
mf_testconf_file(const char *name, const char *content) {
    const char *tmp = getenv("TMPDIR");
    char *path = mf_xasprintf("%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    size_t len = strlen(content);
    int fd;
    bool ok;

    errno = 0;
    fd = mkstemp(path);
    ok = fd >= 0 && write(fd, content, len) == (ssize_t)len;
    if (!ok) {
        fprintf(stderr, "testconf: cannot write %s: %s\n", path,
                fd >= 0 && errno == 0 ? "short write" : strerror(errno));
        abort();
    }
    close(fd);
    return path;
}
