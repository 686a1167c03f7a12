/*
 * Batch options given on a command line applied to a stored batch
 * (mf_batch_setting_apply(), mailferry/batch.h): `batch set`, and the
 * embedded `migrate` running a batch again with, e.g., a raised
 * --max-message-size. Each option is read as the command line writes
 * it (its unit, a day or "none", on/off, source/target), the window the
 * batch would have is checked first, and each value goes to
 * mf_batch_set() or mf_batch_set_rules() (settings.c), which record the
 * change.
 */
#include "batch/batch_int.h"

#include "mailferry/config.h"
#include "mailferry/profile.h"
#include "mailferry/window.h"

#include <stdio.h>
#include <string.h>

/* The unit each settable option is read with: a cap's is the one
 * `batch create` reads it with (def.c), so --max-bytes-per-second takes
 * 512k or 10M in both. */
static enum mf_config_unit
unit_of(const char *option) {
    static const struct {
        const char *option;
        enum mf_config_unit unit;
    } units[] = {{"max-message-size", MF_UNIT_BYTES},
                 {"incremental-every", MF_UNIT_SECONDS},
#define QUOTA_UNIT(option, field, min, max, unit, help) {option, unit},
                 MF_QUOTA_FLAGS(QUOTA_UNIT)
#undef QUOTA_UNIT
    };
    enum mf_config_unit unit;

    if (mf__batch_cap_unit(option, &unit))
        return unit;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(units[i].option, option) == 0)
            return units[i].unit;
    return MF_UNIT_NONE;
}

/* Reads option's value into *v_r and its text into text. */
static mf_err
read_value(const struct mf_config *conf, const char *option, uint64_t *v_r,
           char *text, size_t n, struct mf_error *err) {
    mf_err rc;

    if (strcmp(option, "flag-conflict") == 0) {
        enum mf_flag_conflict c;
        if ((rc = mf_flag_conflict_parse(mf_config_get(conf, option, NULL), &c,
                                         err)))
            return rc;
        *v_r = c;
        snprintf(text, n, "%s", mf_flag_conflict_name(c));
        return MF_E_OK;
    }
    if (strcmp(option, "since") == 0 || strcmp(option, "before") == 0) {
        uint32_t day;
        if ((rc = mf_window_date_parse(mf_config_get(conf, option, NULL), &day,
                                       err)))
            return rc;
        *v_r = day;
        mf_window_date_format(day, text, n);
        return MF_E_OK;
    }
    if (strcmp(option, "sync-deletes") == 0) {
        bool on;
        if ((rc = mf_config_get_bool(conf, option, false, &on, err)))
            return rc;
        *v_r = on;
        snprintf(text, n, "%d", on);
        return MF_E_OK;
    }
    if ((rc = mf_config_get_u64(conf, option, 0, 0, UINT64_MAX, unit_of(option),
                                v_r, err)))
        return rc;
    snprintf(text, n, "%llu", (unsigned long long)*v_r);
    return MF_E_OK;
}

/* The window the batch will have with the --since and --before given,
 * refused (MF_E_USAGE) when no day would be inside. */
mf_err
mf_batch_settings_check_window(struct mf_redis *r, const char *name,
                               const struct mf_config *conf,
                               struct mf_error *err) {
    const char *since = mf_config_get(conf, "since", NULL);
    const char *before = mf_config_get(conf, "before", NULL);
    struct mf_batch_config *cfg = NULL;
    struct mf_window w;
    mf_err rc;

    if (!since && !before)
        return MF_E_OK;
    if ((rc = mf_batch_get(r, name, &cfg, err)))
        return rc;
    w = cfg->window;
    mf_batch_config_free(&cfg);
    if ((since && (rc = mf_window_date_parse(since, &w.since, err))) ||
        (before && (rc = mf_window_date_parse(before, &w.before, err))))
        return rc;
    return mf_window_check(&w, err);
}

mf_err
mf_batch_setting_apply(struct mf_redis *r, const char *batch,
                       const struct mf_config *conf, const char *option,
                       bool *set_r, const char **text_r, char *buf, size_t n,
                       struct mf_error *err) {
    const char *given = mf_config_get(conf, option, NULL);
    uint64_t v;
    mf_err rc;

    *set_r = false;
    if (!given)
        return MF_E_OK;
    if (mf_batch_rules_setting_known(option)) {
        if ((rc = mf_batch_set_rules(r, batch, option, given, err)))
            return rc;
        *text_r = *given ? given : "none";
    } else if (mf_batch_setting_known(option)) {
        if ((rc = read_value(conf, option, &v, buf, n, err)) ||
            (rc = mf_batch_set(r, batch, option, v, err)))
            return rc;
        *text_r = buf;
    } else {
        return MF_E_OK;
    }
    *set_r = true;
    return MF_E_OK;
}
