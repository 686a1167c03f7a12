/*
 * Daily IMAP bandwidth quotas (mailferry/profile.h): what a profile sets
 * for the bytes one user may download from a source and upload to a
 * target in one window (Gmail: Google's 2500 MB and 500 MB a day, see
 * profile.c), each overridden by the admin's --quota-* flags. The flags,
 * their ranges, units and help come from one table, MF_QUOTA_FLAGS; the
 * engine (core/src/migrate/quota.c) asks mf_profile_quota_rules() and
 * nothing else.
 */
#include "mailferry/config.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <string.h>

void
mf_profile_quota_rules(const struct mf_profile *src,
                       const struct mf_profile *tgt,
                       const struct mf_quota_rules *given,
                       struct mf_quota_rules *rules_r) {
    if (!src)
        src = mf_profile_generic();
    if (!tgt)
        tgt = mf_profile_generic();
    rules_r->download_bytes = given && given->download_bytes
                                  ? given->download_bytes
                                  : src->quota_download;
    rules_r->upload_bytes =
        given && given->upload_bytes ? given->upload_bytes : tgt->quota_upload;
    rules_r->window_s =
        given && given->window_s ? given->window_s : MF_QUOTA_DEFAULT_WINDOW_S;
}

mf_err
mf_profile_quota_read(const struct mf_config *conf,
                      struct mf_quota_rules *given, struct mf_error *err) {
    uint64_t v;
    mf_err rc;

    memset(given, 0, sizeof(*given));
#define READ(option, field, min, max, unit, help)                              \
    if ((rc = mf_config_get_u64(conf, option, 0, 0, max, unit, &v, err)) !=    \
        MF_E_OK)                                                               \
        return rc;                                                             \
    if (v && v < (min))                                                        \
        return mf_error_set(err, MF_E_USAGE, "--%s: at least %llu", option,    \
                            (unsigned long long)(min));                        \
    given->field = v;
    MF_QUOTA_FLAGS(READ)
#undef READ
    return MF_E_OK;
}
