/*
 * Internal header of the Kafka module: building librdkafka configurations
 * from struct mf_config (conf.c) and turning librdkafka error codes into
 * mf_err with their names (conf.c), shared by producer.c and consumer.c.
 */
#ifndef MF_KAFKA_INT_H
#define MF_KAFKA_INT_H

#include "mailferry/kafka.h"

#include <librdkafka/rdkafka.h>

enum mf__kafka_role { MF__KAFKA_PRODUCER, MF__KAFKA_CONSUMER };

/* A new librdkafka configuration for role: our defaults, then every
 * kafka.* setting of cfg (may be NULL) unchanged, then the pinned
 * properties (see mailferry/kafka.h). group_id and instance_id (static
 * membership, NULL or "": none) only for consumers. The
 * caller owns *conf_r (rd_kafka_new() takes it over). MF_E_CONFIG with
 * librdkafka's words for a property it refuses. */
mf_err mf__kafka_conf_new(const struct mf_config *cfg, enum mf__kafka_role role,
                          const char *client_id, const char *group_id,
                          const char *instance_id, rd_kafka_conf_t **conf_r,
                          struct mf_error *err);

/* The mf_err for a librdkafka error: MF_E_KAFKA_UNAVAILABLE for brokers
 * that cannot be reached and timeouts, MF_E_KAFKA otherwise. */
mf_err mf__kafka_code(rd_kafka_resp_err_t e);

/* Sets err to mf__kafka_code(e) with "<what>: <NAME>: <text>" (text may be
 * NULL for rd_kafka_err2str(e)) and returns the code. */
mf_err mf__kafka_error(struct mf_error *err, rd_kafka_resp_err_t e,
                       const char *what, const char *text);

#endif
