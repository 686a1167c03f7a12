/*
 * Throttling rules (mailferry/profile.h): what a profile sets for a
 * server's throttling (the pause when an answer names no time, the
 * floor of the adaptive connection limit) and the engine-wide bounds,
 * each overridden by the admin's --throttle-* flags. The flags, their
 * ranges and their help come from one table, MF_THROTTLE_FLAGS; the
 * engine (core/src/migrate/throttle.c) asks mf_profile_throttle_rules()
 * and nothing else.
 */
#include "mailferry/config.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <string.h>

/* given's value when set, else fallback's. */
#define PICK(field, fallback)                                                  \
    (given && given->field ? given->field : (fallback))

void
mf_profile_throttle_rules(const struct mf_profile *p,
                          const struct mf_throttle_rules *given,
                          struct mf_throttle_rules *rules_r) {
    if (!p)
        p = mf_profile_generic();
    rules_r->pause_ms = PICK(pause_ms, p->throttle_default_ms);
    rules_r->pause_max_ms =
        PICK(pause_max_ms, MF_THROTTLE_DEFAULT_PAUSE_MAX_MS);
    rules_r->min_connections =
        PICK(min_connections,
             p->throttle_min_connections ? p->throttle_min_connections : 1);
    rules_r->window_ms = PICK(window_ms, MF_THROTTLE_DEFAULT_WINDOW_MS);
}

mf_err
mf_profile_throttle_read(const struct mf_config *conf,
                         struct mf_throttle_rules *given,
                         struct mf_error *err) {
    uint64_t v;
    mf_err rc;

    memset(given, 0, sizeof(*given));
#define READ(option, field, min, max, help)                                    \
    if ((rc = mf_config_get_u64(conf, option, 0, 0, max, MF_UNIT_NONE, &v,     \
                                err)) != MF_E_OK)                              \
        return rc;                                                             \
    if (v && v < (min))                                                        \
        return mf_error_set(err, MF_E_USAGE, "--%s: at least %u", option,      \
                            (unsigned)(min));                                  \
    given->field = (uint32_t)v;
    MF_THROTTLE_FLAGS(READ)
#undef READ
    return MF_E_OK;
}
