/* What every store implementation shares (see store.h). */
#include "migrate/store.h"

#include <stdarg.h>
#include <stdio.h>

void
mf_store_close(struct mf_store **st) {
    if (*st) {
        (*st)->ops->close(*st);
        *st = NULL;
    }
}

mf_err
mf_store_fail(struct mf_store *st, mf_err code, const char *fmt, ...) {
    va_list ap;

    st->error.code = code;
    va_start(ap, fmt);
    vsnprintf(st->error.detail, sizeof(st->error.detail), fmt, ap);
    va_end(ap);
    st->retry_after_ms = 0;
    return code;
}
