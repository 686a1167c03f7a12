/*
 * An envelope's header (mailferry/envelope.h): a fresh message id, the
 * time and the sender, the partition key, and the names of job kinds and
 * outcomes. No protobuf here: envelope.c is the codec.
 */
#include "mailferry/envelope.h"

#include "mailferry/util.h"

#include <openssl/rand.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

void
mf_envelope_init(struct mf_envelope *env, enum mf_envelope_body body,
                 const char *sender) {
    uint8_t id[16];
    char hex[2 * sizeof(id) + 1];
    struct timespec ts;

    memset(env, 0, sizeof(*env));
    env->schema_version = MF_ENVELOPE_SCHEMA_VERSION;
    env->body = body;
    /* Message ids only need to be unique, not secret; fall back to the
     * clock should the RNG fail. */
    clock_gettime(CLOCK_REALTIME, &ts);
    if (RAND_bytes(id, sizeof(id)) != 1) {
        memset(id, 0, sizeof(id));
        memcpy(id, &ts, sizeof(ts) < sizeof(id) ? sizeof(ts) : sizeof(id));
    }
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    env->message_id = mf_xstrdup(hex);
    env->sent_at_ms =
        (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    env->sender = mf_xstrdup(sender ? sender : "");
}

char *
mf_envelope_key(const char *batch, const char *mailbox) {
    return mf_xasprintf("%s/%s", batch, mailbox);
}

const char *
mf_job_kind_name(enum mf_job_kind kind) {
    switch (kind) {
    case MF_JOB_KIND_UNSPECIFIED:
        return "unspecified";
    case MF_JOB_KIND_INITIAL:
        return "initial";
    case MF_JOB_KIND_INCREMENTAL:
        return "incremental";
    case MF_JOB_KIND_FINAL:
        return "final";
    case MF_JOB_KIND_VERIFY:
        return "verify";
    }
    return "unknown";
}

const char *
mf_outcome_name(enum mf_outcome outcome) {
    switch (outcome) {
    case MF_OUTCOME_UNSPECIFIED:
        return "unspecified";
    case MF_OUTCOME_SYNCED:
        return "synced";
    case MF_OUTCOME_FAILED:
        return "failed";
    case MF_OUTCOME_STOPPED:
        return "stopped";
    case MF_OUTCOME_RETRY:
        return "retry";
    }
    return "unknown";
}
