/*
 * Error names, messages and classes, all generated from MF_ERR_TABLE.
 * The switches have no default case so that -Wall (-Wswitch) flags a code
 * that lacks an entry.
 */
#include "mailferry/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
mf_strerror(mf_err code) {
    switch (code) {
#define XX(name, num, cls, msg)                                                \
    case MF_E_##name:                                                          \
        return msg;
        MF_ERR_TABLE(XX)
#undef XX
    }
    return "unknown error";
}

const char *
mf_err_name(mf_err code) {
    switch (code) {
#define XX(name, num, cls, msg)                                                \
    case MF_E_##name:                                                          \
        return #name;
        MF_ERR_TABLE(XX)
#undef XX
    }
    return "UNKNOWN";
}

mf_err_class
mf_err_class_of(mf_err code) {
    switch (code) {
#define XX(name, num, cls, msg)                                                \
    case MF_E_##name:                                                          \
        return MF_ERRCLASS_##cls;
        MF_ERR_TABLE(XX)
#undef XX
    }
    return MF_ERRCLASS_BUG;
}

const char *
mf_err_class_name(mf_err_class cls) {
    switch (cls) {
#define XX(name, text)                                                         \
    case MF_ERRCLASS_##name:                                                   \
        return text;
        MF_ERR_CLASS_TABLE(XX)
#undef XX
    }
    return "unknown";
}

mf_err
mf_error_set(struct mf_error *e, mf_err code, const char *fmt, ...) {
    va_list ap;

    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    return code;
}

void
mf_error_clear(struct mf_error *e) {
    e->code = MF_E_OK;
    e->detail[0] = '\0';
}
