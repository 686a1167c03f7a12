/*
 * A batch's OAuth2 settings as `batch create` and `batch status` show
 * them (mailferry/status.h):
 * the non-secret ones only; the sealed key is never printed, not even
 * its size.
 */
#include "mailferry/status.h"

#include "mailferry/batch.h"
#include "mailferry/json.h"

#include <stdio.h>

void
mf_status_oauth_json(struct mf_json *j, const struct mf_batch_config *cfg) {
    const struct mf_batch_oauth *o[2] = {&cfg->source_oauth,
                                         &cfg->target_oauth};
    const char *key[2] = {"source_oauth", "target_oauth"};

    for (int i = 0; i < 2; i++) {
        mf_json_key(j, key[i]);
        if (!o[i]->provider) {
            mf_json_null(j);
            continue;
        }
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, o[i], provider, tenant, client_id, token_url,
                       token_file, key_kind);
        mf_json_object_end(j);
    }
}

void
mf_status_oauth_text(FILE *out, const struct mf_batch_config *cfg) {
    const struct mf_batch_oauth *o[2] = {&cfg->source_oauth,
                                         &cfg->target_oauth};
    const char *side[2] = {"source", "target"};

    for (int i = 0; i < 2; i++) {
        if (!o[i]->provider)
            continue;
        fprintf(out, "  %s logs in with OAuth2: %s", side[i], o[i]->provider);
        if (o[i]->client_id)
            fprintf(out, ", client id %s", o[i]->client_id);
        if (o[i]->tenant)
            fprintf(out, ", tenant %s", o[i]->tenant);
        if (o[i]->key_kind)
            fprintf(out, ", %s sealed", o[i]->key_kind);
        if (o[i]->token_file)
            fprintf(out, ", token file %s", o[i]->token_file);
        if (o[i]->token_url)
            fprintf(out, ", token URL %s", o[i]->token_url);
        fputc('\n', out);
    }
}
