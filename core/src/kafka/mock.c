/*
 * The embedded Kafka (see mailferry/embedded.h): librdkafka's mock
 * cluster, owned by a producer handle that exists only to host it. The
 * programs connect to its bootstrap address like to any cluster.
 */
#include "mailferry/embedded.h"

#include "mailferry/kafka.h"
#include "mailferry/util.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mf_kafka_mock {
    rd_kafka_t *rk; /* hosts the cluster */
    rd_kafka_mock_cluster_t *mc;
    char *bootstrap;
};

static void
quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf;
}

static bool
ready(struct mf_kafka_mock *m, int ntopics) {
    for (int attempt = 0; attempt < 100; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        int ok = 0;

        if (rd_kafka_metadata(m->rk, 1, NULL, &md, 2000) == 0) {
            for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *t = &md->topics[i];
                bool good = !t->err && t->partition_cnt > 0;
                for (int p = 0; good && p < t->partition_cnt; p++)
                    good = t->partitions[p].leader > 0;
                ok += good;
            }
            rd_kafka_metadata_destroy(md);
            if (ok >= ntopics)
                return true;
        }
        {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return false;
}

mf_err
mf_kafka_mock_start(int brokers, const char *prefix, int job_partitions,
                    struct mf_kafka_mock **m_r, struct mf_error *err) {
    struct mf_kafka_topics t;
    struct mf_kafka_mock *m;
    rd_kafka_conf_t *conf;
    char errstr[512], num[16];
    mf_err rc;

    if ((rc = mf_kafka_topics_init(&t, prefix, err)))
        return rc;
    m = mf_xcalloc(1, sizeof(*m));
    conf = rd_kafka_conf_new();
    snprintf(num, sizeof(num), "%d", brokers < 1 ? 1 : brokers);
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "mailferry-embedded", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return mf_error_set(err, MF_E_KAFKA, "mock cluster: %s", errstr);
    }
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    if (!(m->rk =
              rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return mf_error_set(err, MF_E_KAFKA, "mock cluster: %s", errstr);
    }
    m->mc = rd_kafka_handle_mock_cluster(m->rk);
    if (!m->mc ||
        rd_kafka_mock_topic_create(
            m->mc, t.jobs, job_partitions < 1 ? 1 : job_partitions, 1) ||
        rd_kafka_mock_topic_create(m->mc, t.results, 4, 1) ||
        rd_kafka_mock_topic_create(m->mc, t.dlq, 1, 1) || !ready(m, 3)) {
        mf_kafka_mock_stop(&m);
        return mf_error_set(err, MF_E_KAFKA_UNAVAILABLE,
                            "the embedded Kafka cluster did not start");
    }
    m->bootstrap = mf_xstrdup(rd_kafka_mock_cluster_bootstraps(m->mc));
    *m_r = m;
    return MF_E_OK;
}

const char *
mf_kafka_mock_bootstrap(const struct mf_kafka_mock *m) {
    return m->bootstrap;
}

void
mf_kafka_mock_stop(struct mf_kafka_mock **mp) {
    struct mf_kafka_mock *m = *mp;

    if (!m)
        return;
    if (m->rk)
        rd_kafka_destroy(m->rk);
    free(m->bootstrap);
    free(m);
    *mp = NULL;
}
