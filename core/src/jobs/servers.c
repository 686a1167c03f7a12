/*
 * A batch's servers and caps as the engine takes them (jobs.h): the one
 * translation from a struct mf_batch_config to struct mf_migrate_server
 * and struct mf_caps_limits, used by the worker's batch cache, `batch
 * verify` in process and `batch create --dry-run`.
 */
#include "jobs/jobs_int.h"

#include "mailferry/caps.h"
#include "mailferry/endpoint.h"
#include "mailferry/migrate.h"

#include <stdio.h>
#include <string.h>

mf_err
mf_jobs_batch_server(const struct mf_batch_config *cfg, bool target,
                     const char *bind_address, struct mf_migrate_server *s,
                     struct mf_error *err) {
    const char *which = target ? "target" : "source";
    const char *url = target ? cfg->target : cfg->source;

    memset(s, 0, sizeof(*s));
    if (!url || !*url)
        return mf_error_set(err, MF_E_CONFIG, "the batch has no %s server",
                            which);
    if (mf_endpoint_parse(url, &s->endpoint, err) != MF_E_OK) {
        char detail[MF_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof(detail), "%s", err->detail);
        return mf_error_set(err, MF_E_CONFIG, "%s server: %s", which, detail);
    }
    s->ca_file = cfg->ca_file && *cfg->ca_file ? cfg->ca_file : NULL;
    s->insecure = cfg->insecure;
    s->bind_address = bind_address;
    return MF_E_OK;
}

void
mf_jobs_batch_caps(const struct mf_batch_caps *bc, struct mf_caps_limits *l) {
    l->max_connections = bc->max_connections;
    l->max_connections_per_user = bc->max_connections_per_user;
    l->max_connections_per_ip = bc->max_connections_per_ip;
    l->max_concurrent_mailboxes = bc->max_concurrent_mailboxes;
}

bool
mf_jobs_migrate_caps(const struct mf_batch_caps *src,
                     const struct mf_batch_caps *dst,
                     struct mf_migrate_caps *caps) {
    mf_jobs_batch_caps(src, &caps->source);
    mf_jobs_batch_caps(dst, &caps->target);
    caps->source_bytes_per_second = src->max_bytes_per_second;
    caps->target_bytes_per_second = dst->max_bytes_per_second;
    return mf_batch_caps_any(src) || mf_batch_caps_any(dst);
}
