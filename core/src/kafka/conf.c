/*
 * Kafka configuration and error mapping shared by the producer and the
 * consumer, and the topic names.
 *
 * A librdkafka configuration is built in three layers: mailferry's
 * defaults (client.id, group.id, group.instance.id, auto.offset.reset, the
 * group timing and assignor, bootstrap servers from the "kafka" key), then
 * every "kafka.<prop>" setting passed through unchanged ("kafka.<prop>-file"
 * read from a file first), then the properties mailferry's delivery guarantees
 * rest on, which the admin may restate but not change (see mailferry/kafka.h).
 * librdkafka's own log lines go to mf_log with event "kafka.log".
 */
#include "kafka_int.h"

#include "mailferry/log.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KAFKA_PREFIX "kafka."

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

mf_err
mf__kafka_code(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return MF_E_OK;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return MF_E_KAFKA_UNAVAILABLE;
    default:
        return MF_E_KAFKA;
    }
}

mf_err
mf__kafka_error(struct mf_error *err, rd_kafka_resp_err_t e, const char *what,
                const char *text) {
    return mf_error_set(err, mf__kafka_code(e), "%s: %s: %s", what,
                        rd_kafka_err2name(e),
                        text ? text : rd_kafka_err2str(e));
}

/* ------------------------------------------------------------------ */
/* Topics                                                             */
/* ------------------------------------------------------------------ */

static bool
topic_chars_ok(const char *s) {
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

mf_err
mf_kafka_topics_init(struct mf_kafka_topics *t, const char *prefix,
                     struct mf_error *err) {
    struct mf_kafka_topics x;
    size_t n;

    if (!prefix || !*prefix)
        prefix = MF_KAFKA_TOPIC_PREFIX_DEFAULT;
    n = strlen(prefix);
    /* ".jobs.dlq" is the longest suffix. */
    if (n + strlen(".jobs.dlq") > MF_KAFKA_TOPIC_MAX || !topic_chars_ok(prefix))
        return mf_error_set(err, MF_E_CONFIG,
                            "topic prefix \"%.64s\" does not make legal Kafka "
                            "topic names ([A-Za-z0-9._-], at most %d in all)",
                            prefix, MF_KAFKA_TOPIC_MAX);
    snprintf(x.jobs, sizeof(x.jobs), "%s.jobs", prefix);
    snprintf(x.results, sizeof(x.results), "%s.results", prefix);
    snprintf(x.dlq, sizeof(x.dlq), "%s.jobs.dlq", prefix);
    *t = x;
    return MF_E_OK;
}

mf_err
mf_kafka_topics_from_config(const struct mf_config *cfg,
                            struct mf_kafka_topics *t, struct mf_error *err) {
    return mf_kafka_topics_init(
        t, cfg ? mf_config_get(cfg, "topic-prefix", NULL) : NULL, err);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

/* Properties mailferry sets for a role and that kafka.* may only restate.
 * accept lists the values that mean the same, separated by '|'. */
static const struct pinned {
    enum mf__kafka_role role;
    const char *name;
    const char *value;
    const char *accept;
    const char *why;
} pinned[] = {
    {MF__KAFKA_PRODUCER, "enable.idempotence", "true", "true|1",
     "retries after a broker outage must not duplicate jobs"},
    {MF__KAFKA_PRODUCER, "acks", "all", "all|-1",
     "a job must survive the loss of its partition leader"},
    {MF__KAFKA_CONSUMER, "enable.auto.commit", "false", "false|0",
     "mailferry commits offsets itself after claiming a job"},
};

/* Consumer-group timing (docs/operations.md, "Scaling the fleet"), which
 * kafka.* may override. The session is the shortest a broker accepts by
 * default (group.min.session.timeout.ms): a member that dies is noticed
 * within 6 s, and the mock cluster of the dev broker waits about as long
 * for members before each rebalance round. Heartbeats every second tell
 * the members of a rebalance within a second. librdkafka's heartbeats run
 * on its own thread, so a long job never misses one; the poll interval
 * bounds how long a wedged main loop can hold up a rebalance. The eager
 * assignors (librdkafka's default, stated so that it stays ours) settle a
 * member joining in one round where the cooperative one (KIP-429) needs
 * two; mailferry's jobs run on through a revocation (they are claimed and
 * committed), so a round only pauses fetching, and one round is the
 * shorter pause: measured in docs/benchmarks.md, "Fleet scaling".
 * A fetch waits at most 100 ms for messages (librdkafka: 500): partitions
 * resumed meanwhile (a worker whose slots freed up) are fetched only when
 * the fetch in flight returns, so this bounds how long free slots wait
 * for jobs already in Kafka. */
static const struct {
    const char *name, *value;
} group_defaults[] = {
    {"session.timeout.ms", "6000"},
    {"heartbeat.interval.ms", "1000"},
    {"max.poll.interval.ms", "30000"},
    {"partition.assignment.strategy", "range,roundrobin"},
    {"fetch.wait.max.ms", "100"},
};

static bool
accepted(const char *accept, const char *value) {
    size_t n = strlen(value);

    for (const char *p = accept; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, value, n) == 0)
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

struct build {
    rd_kafka_conf_t *conf;
    enum mf__kafka_role role;
    struct mf_error *err;
    mf_err rc; /* the first failure; later settings are skipped */
};

static void
set_prop(struct build *b, const char *name, const char *value,
         const char *origin) {
    char errstr[256];

    if (b->rc != MF_E_OK)
        return;
    if (rd_kafka_conf_set(b->conf, name, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        b->rc = mf_error_set(b->err, MF_E_CONFIG, "%s: %s", origin, errstr);
}

static void
pass_through(void *ud, const char *key, const char *value) {
    struct build *b = ud;
    const char *name = key + strlen(KAFKA_PREFIX);
    size_t n = strlen(name);

    if (b->rc != MF_E_OK)
        return;
    if (n > 5 && strcmp(name + n - 5, "-file") == 0) {
        /* A secret from a file: kafka.sasl.password-file. */
        char *prop = mf_xstrndup(name, n - 5), *secret = NULL;
        b->rc = mf_secret_read_file(value, &secret, b->err);
        if (b->rc == MF_E_OK)
            set_prop(b, prop, secret, key);
        mf_secret_free(&secret);
        free(prop);
        return;
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(pinned); i++) {
        if (pinned[i].role == b->role && strcmp(pinned[i].name, name) == 0 &&
            !accepted(pinned[i].accept, value)) {
            b->rc = mf_error_set(b->err, MF_E_CONFIG, "%s must be %s: %s", key,
                                 pinned[i].value, pinned[i].why);
            return;
        }
    }
    set_prop(b, name, value, key);
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    /* syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug */
    enum mf_log_level l = level <= 3   ? MF_LOG_ERROR
                          : level == 4 ? MF_LOG_WARN
                          : level <= 6 ? MF_LOG_INFO
                                       : MF_LOG_DEBUG;

    /* Producers and consumers share the kafka.* settings, so each is
     * told about the other's properties: expected, hence debug. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by"))
        l = MF_LOG_DEBUG;
    mf_log(l, NULL, "kafka.log", "%s %s: %s", rd_kafka_name(rk), fac, buf);
}

mf_err
mf__kafka_conf_new(const struct mf_config *cfg, enum mf__kafka_role role,
                   const char *client_id, const char *group_id,
                   const char *instance_id, rd_kafka_conf_t **conf_r,
                   struct mf_error *err) {
    struct build b = {rd_kafka_conf_new(), role, err, MF_E_OK};
    const char *bootstrap = cfg ? mf_config_get(cfg, "kafka", NULL) : NULL;
    char val[512];
    size_t n;

    set_prop(&b, "client.id", client_id ? client_id : "mailferry", "client.id");
    if (bootstrap)
        set_prop(&b, "bootstrap.servers", bootstrap, "kafka");
    if (role == MF__KAFKA_CONSUMER) {
        if (group_id)
            set_prop(&b, "group.id", group_id, "group.id");
        set_prop(&b, "auto.offset.reset", "earliest", "auto.offset.reset");
        for (size_t i = 0; i < MF_ARRAY_LEN(group_defaults); i++)
            set_prop(&b, group_defaults[i].name, group_defaults[i].value,
                     group_defaults[i].name);
        if (instance_id && *instance_id)
            set_prop(&b, "group.instance.id", instance_id, "instance-id");
    }
    if (cfg)
        mf_config_each_prefixed(cfg, KAFKA_PREFIX, pass_through, &b);
    for (size_t i = 0; i < MF_ARRAY_LEN(pinned); i++)
        if (pinned[i].role == role)
            set_prop(&b, pinned[i].name, pinned[i].value, pinned[i].name);
    if (b.rc != MF_E_OK)
        goto fail;

    /* Without brokers librdkafka would wait forever; say so now. The mock
     * cluster (kafka.test.mock.num.brokers) brings its own. */
    n = sizeof(val);
    if ((rd_kafka_conf_get(b.conf, "bootstrap.servers", val, &n) !=
             RD_KAFKA_CONF_OK ||
         !*val) &&
        (n = sizeof(val), rd_kafka_conf_get(b.conf, "test.mock.num.brokers",
                                            val, &n) != RD_KAFKA_CONF_OK ||
                              strcmp(val, "0") == 0 || !*val)) {
        b.rc = mf_error_set(err, MF_E_CONFIG,
                            "no Kafka bootstrap servers: set --kafka "
                            "HOST:PORT (MAILFERRY_KAFKA)");
        goto fail;
    }
    if (role == MF__KAFKA_CONSUMER) {
        n = sizeof(val);
        if (rd_kafka_conf_get(b.conf, "group.id", val, &n) !=
                RD_KAFKA_CONF_OK ||
            !*val) {
            b.rc = mf_error_set(err, MF_E_CONFIG, "no Kafka consumer group");
            goto fail;
        }
    }
    rd_kafka_conf_set_log_cb(b.conf, log_cb);
    *conf_r = b.conf;
    return MF_E_OK;
fail:
    rd_kafka_conf_destroy(b.conf);
    return b.rc;
}
