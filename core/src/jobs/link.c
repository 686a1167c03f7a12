/*
 * What an admin command needs to produce jobs (`batch start|sync|
 * complete`, `batch add|update|retry`, the per-mailbox actions): the key
 * ring that seals each job's secrets, the Kafka topics and producer, and
 * the envelope sender "mailferry <host>". Opened once here, so the
 * commands do not each repeat the key file, topic and producer steps.
 */
#include "jobs/jobs_int.h"

#include "mailferry/crypto.h"
#include "mailferry/kafka.h"
#include "mailferry/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Puts what and ": " before err's detail, keeping its code. */
static void
prefix(struct mf_error *err, const char *what) {
    char detail[sizeof(err->detail)];

    snprintf(detail, sizeof(detail), "%s", err->detail);
    mf_error_set(err, err->code, "%s: %s", what, detail);
}

void
mf_jobs_sender_name(char *buf, size_t size) {
    char host[64] = "host";

    gethostname(host, sizeof(host) - 1);
    snprintf(buf, size, "mailferry %s", host);
}

mf_err
mf_jobs_link_open(const struct mf_config *cfg, struct mf_redis *redis,
                  struct mf_jobs_link *l, struct mf_error *err) {
    const char *keyfile = mf_config_get(cfg, "master-key-file", NULL);
    mf_err rc;

    memset(l, 0, sizeof(*l));
    if (!keyfile || !mf_config_get(cfg, "kafka", NULL)) {
        mf_error_set(err, MF_E_USAGE,
                     "--kafka and --master-key-file are required (jobs go "
                     "to Kafka with their passwords sealed)");
        return MF_E_USAGE;
    }
    if ((rc = mf_crypto_keyring_load(keyfile, &l->kr, err))) {
        char what[300];
        snprintf(what, sizeof(what), "key file %s", keyfile);
        prefix(err, what);
        return rc;
    }
    if ((rc = mf_kafka_topics_from_config(cfg, &l->topics, err)) ||
        (rc = mf_kafka_producer_new(cfg, "mailferry", NULL, NULL, &l->producer,
                                    err))) {
        prefix(err, "Kafka");
        mf_jobs_link_close(l);
        return rc;
    }
    {
        /* Learn the topics now, so that the first jobs go out at once
         * rather than at librdkafka's next topic scan while the pass
         * waits for room (produce.c). Best effort: a Kafka still starting
         * is waited for by the produce and the flush. */
        const char *const warm[] = {l->topics.jobs, l->topics.dlq};
        struct mf_error werr = {0};
        if (mf_kafka_producer_warm(l->producer, warm, 2, MF_KAFKA_WARM_MS,
                                   &werr))
            mf_log(MF_LOG_DEBUG, NULL, "jobs.warm", "%s", werr.detail);
    }
    mf_jobs_sender_name(l->sender, sizeof(l->sender));
    l->jc =
        (struct mf_jobs_ctx){redis, l->producer, &l->topics, l->kr, l->sender};
    return MF_E_OK;
}

void
mf_jobs_link_close(struct mf_jobs_link *l) {
    mf_kafka_producer_free(&l->producer);
    mf_crypto_keyring_free(&l->kr);
}
