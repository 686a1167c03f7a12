/*
 * `plan`'s options (mailferry/plan.h, struct mf_plan_settings): the
 * servers and logins as every command that connects itself reads them
 * (mf_direct_connect_read()), the folder rules, the plan's own options,
 * and the estimate from test batches with the rules that tie its
 * options together. The program collects the repeated --from-batch
 * values and shows the error.
 */
#include "mailferry/batchdef.h"
#include "mailferry/config.h"
#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

void
mf_plan_settings_add_batches(struct mf_plan_settings *s, const char *list) {
    size_t n;
    char **v = mf_strv_split(list, &n);

    s->batches =
        mf_xreallocarray(s->batches, s->n_batches + n + 1, sizeof(*s->batches));
    for (size_t i = 0; i < n; i++)
        s->batches[s->n_batches++] = v[i];
    free(v);
}

/* Servers, logins and profiles, the folder rules, concurrency, the size
 * cap into the plan's options. */
static mf_err
plan_read(const struct mf_config *conf, struct mf_plan_settings *s,
          struct mf_error *err) {
    uint64_t u;
    mf_err rc;

    s->rules = mf_folder_rules_new();
    if ((rc = mf_direct_connect_read(conf, false, s->rules, &s->c, err)) ||
        (rc = mf_config_get_u64(conf, "concurrency",
                                MF_MIGRATE_DEFAULT_CONCURRENCY, 1, 256,
                                MF_UNIT_NONE, &u, err)) ||
        (rc = mf_config_get_u64(conf, "max-message-size", 0, 0,
                                (uint64_t)1 << 40, MF_UNIT_BYTES,
                                &s->po.max_message_size, err)) ||
        (rc = mf_direct_rules_read(conf, false, s->rules, err)))
        return rc;
    s->po.concurrency = (unsigned)u;
    s->po.max_message_size =
        mf_profile_max_message_size(s->c.profile[1], s->po.max_message_size);
    s->po.target_profile = s->c.profile[1];
    s->po.source_profile = s->c.profile[0];
    s->po.source = &s->c.server[0];
    s->po.target = s->c.has_target ? &s->c.server[1] : NULL;
    s->po.rules = s->rules;
    return MF_E_OK;
}

/* --size-method, the date window, and what the estimate from test
 * batches takes: --from-batch with --redis, --connections,
 * --max-connections, --window. */
static mf_err
estimate_read(const struct mf_config *conf, struct mf_plan_settings *s,
              struct mf_error *err) {
    const char *v;
    mf_err rc;

    if ((rc = mf_config_get_u64(conf, "max-connections", 0, 0, 100000,
                                MF_UNIT_NONE, &s->max_connections, err)) ||
        (rc = mf_config_get_u64(conf, "window", 0, 0, 365 * 86400,
                                MF_UNIT_SECONDS, &s->window_s, err)))
        return rc;
    if (!mf_batchdef_window_read(conf, &s->po.window, err))
        return err->code ? err->code : MF_E_USAGE;
    if ((v = mf_config_get(conf, "size-method", NULL)) &&
        !mf_plan_size_method_parse(v, &s->po.size_method))
        return mf_error_set(err, MF_E_USAGE,
                            "--size-method is auto, status or fetch, not "
                            "\"%s\"",
                            v);
    if ((v = mf_config_get(conf, "connections", NULL)) &&
        (rc = mf_estimate_parse_connections(v, &s->conns, &s->n_conns, err)))
        return rc;
    s->redis = mf_config_get(conf, "redis", NULL);
    if (s->n_batches == 0 && (v = mf_config_get(conf, "from-batch", NULL)))
        mf_plan_settings_add_batches(s, v); /* from the environment or file */
    if (s->n_batches && !s->redis)
        return mf_error_set(err, MF_E_USAGE, "--from-batch needs --redis URL");
    if (!s->n_batches && (mf_config_get(conf, "connections", NULL) ||
                          mf_config_get(conf, "window", NULL) ||
                          mf_config_get(conf, "max-connections", NULL)))
        return mf_error_set(err, MF_E_USAGE,
                            "--connections, --max-connections and --window "
                            "estimate from a test batch: give --from-batch "
                            "NAME");
    return MF_E_OK;
}

mf_err
mf_plan_settings_read(const struct mf_config *conf, struct mf_plan_settings *s,
                      struct mf_error *err) {
    mf_err rc = plan_read(conf, s, err);

    return rc ? rc : estimate_read(conf, s, err);
}

void
mf_plan_settings_free(struct mf_plan_settings *s) {
    mf_direct_connect_clear(&s->c);
    mf_folder_rules_free(&s->rules);
    mf_strv_free(s->batches, s->n_batches);
    free(s->conns);
    memset(s, 0, sizeof(*s));
}
