/* kt_kafka: the librdkafka configuration both binaries share.
 *
 * The [kafka] keys that mean the same thing to a producer and a consumer (brokers,
 * client_id, protocol_version, rdkafka.<property> passthrough) are mapped to librdkafka
 * properties here, so the two binaries accept the same values and fail with the same
 * messages. Every error names the kotel key the user wrote, not only the librdkafka
 * property it became: "[kafka] rdkafka.linger.ms: librdkafka: <librdkafka's message>". */
#ifndef KT_KAFKA_H
#define KT_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "kt_config.h"
#include "kt_err.h"

struct kt_kafka_common {
    const struct kt_strlist *brokers; /* host:port entries -> bootstrap.servers */
    const char *client_id;            /* -> client.id; NULL or "" keeps librdkafka's */
    const char *protocol_version; /* "2.1.0" -> broker.version.fallback (+ api.version.request) */
};

/* Sets one librdkafka property on behalf of [section] key. Returns 0 or KT_EINVAL with
 * "[section] key: librdkafka: <message>". */
int kt_kafka_set(rd_kafka_conf_t *c, const char *section, const char *key, const char *name,
                 const char *value, struct kt_err *err);

/* Applies brokers, client_id and protocol_version. Returns 0 or KT_EINVAL naming the key
 * ("[kafka] brokers: no broker given", "[kafka] protocol_version: ..."). */
int kt_kafka_conf_common(rd_kafka_conf_t *c, const struct kt_kafka_common *k, struct kt_err *err);

/* Applies every "name=value" of the [kafka] rdkafka.<name> passthrough, in order. Meant to
 * run last so the user's explicit librdkafka settings win over kotel's derived ones.
 * Errors: "[kafka] rdkafka.<name>: librdkafka: <message>". */
int kt_kafka_conf_passthrough(rd_kafka_conf_t *c, const struct kt_strlist *props,
                              struct kt_err *err);

/* A log_cb that forwards librdkafka's log lines to kt_log (syslog levels mapped to ours).
 * librdkafka calls it from its own threads; kt_log is safe for that. */
void kt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
