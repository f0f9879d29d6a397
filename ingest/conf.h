/* ingest configuration: the struct every ingest module reads, filled from the option
 * table in conf.c. */
#ifndef INGEST_CONF_H
#define INGEST_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_config.h"
#include "kt_kafka.h"
#include "kt_signal.h"

enum ingest_ack { INGEST_ACK_KAFKA = 0, INGEST_ACK_RECEIVED = 1 };
enum ingest_encoding { INGEST_ENC_OTLP_PROTO = 0, INGEST_ENC_OTLP_JSON = 1 };
enum ingest_compression {
    INGEST_COMP_NONE = 0,
    INGEST_COMP_GZIP,
    INGEST_COMP_SNAPPY,
    INGEST_COMP_LZ4,
    INGEST_COMP_ZSTD
};
/* Which listeners [receiver.tls] applies to (the other stays plaintext). */
enum ingest_tls_on { INGEST_TLS_BOTH = 0, INGEST_TLS_GRPC = 1, INGEST_TLS_HTTP = 2 };
enum ingest_acks { INGEST_ACKS_ALL = 0, INGEST_ACKS_ONE = 1, INGEST_ACKS_NONE = 2 };

struct ingest_conf {
    struct {
        char *grpc_endpoint; /* host:port; "" disables */
        char *http_endpoint;
        uint64_t max_request_bytes;
        uint64_t max_connections;
        uint64_t max_connections_per_peer; /* by IP address; 0 = no bound */
        uint64_t max_header_bytes;
        uint64_t max_concurrent_streams; /* HTTP/2, per connection */
        uint64_t idle_timeout_ms;
        uint64_t header_timeout_ms;
        uint64_t body_timeout_ms;
        int ack;                 /* enum ingest_ack */
        uint64_t max_attributes; /* struct kt_otlp_limits */
        uint64_t max_string_bytes;
    } receiver;
    struct {
        char *cert_file; /* "" (the default): plaintext only */
        char *key_file;
        char *client_ca_file; /* set: mTLS */
        int min_version;      /* 0: "1.2", 1: "1.3" */
        struct kt_strlist cipher_suites;
        int endpoints; /* enum ingest_tls_on */
        uint64_t reload_check_ms;
    } receiver_tls;
    struct {
        char *bearer_token; /* secret; "" with no file: no authentication */
        char *bearer_tokens_file;
        char *scheme;
        uint64_t reload_check_ms;
        char *tenant_header; /* "": no tenant record header */
    } receiver_auth;
    struct {
        uint64_t send_batch_size;
        uint64_t timeout_ms;
        uint64_t send_batch_max_size;
    } batch;
    struct {
        struct kt_strlist brokers;
        char *client_id;
        char *protocol_version;
        uint64_t connect_timeout_ms; /* the startup check's bound */
        char *traces_topic;
        char *metrics_topic;
        char *logs_topic;
        int encoding;                         /* enum ingest_encoding */
        int signal_encoding[KT_SIGNAL_COUNT]; /* 0: encoding; else enum ingest_encoding + 1 */
        int compression;                      /* enum ingest_compression */
        int required_acks;                    /* enum ingest_acks */
        uint64_t max_message_bytes;
        uint64_t timeout_ms;
        bool partition_traces_by_id;
        bool partition_metrics_by_resource_attributes;
        bool partition_logs_by_resource_attributes;
        bool partition_logs_by_trace_id;
        /* Request metadata (headers, gRPC metadata) made record headers, named as here and
         * matched in any case. */
        struct kt_strlist include_metadata_keys;
        char *topic_from_attribute;    /* "": none */
        char *topic_from_metadata_key; /* "": none */
        char *partitioner;
        uint64_t queue_max_messages;
        struct kt_strlist rdkafka; /* "name=value" passed through to librdkafka */
        struct kt_kafka_auth_conf auth;
    } kafka;
    struct {
        uint64_t memory; /* bytes, 0 = no budget */
    } limits;
    struct {
        char *dir; /* "" (the default): no spool, requests are refused while Kafka is down */
        uint64_t max_size;
        uint64_t segment_size;
        int fsync; /* enum spool_fsync (spool.h) */
    } spool;
    struct {
        char *endpoint; /* "": off */
    } admin;
    struct {
        int level;  /* enum kt_log_level */
        int format; /* enum kt_log_format */
    } log;
    struct {
        uint64_t shutdown_timeout_ms;
    } service;
};

/* How [limits] memory is shared (0 everywhere without a budget): a quarter for the bodies
 * of requests being received (past it a request is refused with 503 / UNAVAILABLE), a
 * quarter for librdkafka's producer queue (queue.buffering.max.kbytes; when it is full
 * requests are refused as when Kafka is slow). The rest is for what is not accounted:
 * decoding (OTLP/JSON about the size of its body), batches, connection buffers, the
 * code and libraries, the allocator's slack. */
static inline uint64_t ingest_limit_body_bytes(const struct ingest_conf *c)
{
    return c->limits.memory / 4;
}
static inline uint64_t ingest_limit_producer_bytes(const struct ingest_conf *c)
{
    return c->limits.memory / 4;
}

/* Bounds on request metadata ([kafka] include_metadata_keys, topic_from_metadata_key):
 * names a key may have (the HTTP/1.1 parser keeps this much of a field name), and keys. */
#define INGEST_META_NAME_MAX 62
#define INGEST_META_KEYS_MAX 16
/* Longest value of one (a tenant_header name too): Kafka record headers stay small. */
#define INGEST_META_VALUE_MAX 255

/* A string option holds a value (a conf built by hand, as tests do, may leave it NULL). */
static inline bool ingest_conf_is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

extern const struct kt_config_schema ingest_conf_schema;

/* The encoding of a signal's topic: [kafka] traces_encoding etc., else encoding. */
static inline enum ingest_encoding ingest_encoding_of(const struct ingest_conf *c,
                                                      enum kt_signal sig)
{
    int e = c->kafka.signal_encoding[sig];
    return (enum ingest_encoding)(e > 0 ? e - 1 : c->kafka.encoding);
}

#endif
