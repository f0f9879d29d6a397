/* process configuration: the struct every kotel-process module reads, filled from the
 * option table in conf.c. Tail-sampling policies come from [tail_sampling.policy.NAME]
 * sections, collected raw here and compiled by the sampler. */
#ifndef PROCESS_CONF_H
#define PROCESS_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_config.h"
#include "kt_kafka.h"
#include "kt_signal.h"

enum process_encoding { PROCESS_ENC_OTLP_PROTO = 0, PROCESS_ENC_OTLP_JSON = 1 };
enum process_offset { PROCESS_OFFSET_LATEST = 0, PROCESS_OFFSET_EARLIEST = 1 };
enum process_rebalance {
    PROCESS_REBALANCE_COOPERATIVE_STICKY = 0,
    PROCESS_REBALANCE_RANGE = 1,
    PROCESS_REBALANCE_ROUNDROBIN = 2
};
enum process_protocol {
    PROCESS_PROTO_GRPC = 0,
    PROCESS_PROTO_HTTP_PROTOBUF = 1,
    PROCESS_PROTO_HTTP_JSON = 2
};
enum process_compression {
    PROCESS_COMP_GZIP = 0,
    PROCESS_COMP_NONE = 1,
    PROCESS_COMP_ZSTD = 2,
    PROCESS_COMP_SNAPPY = 3
};
enum process_tristate { PROCESS_AUTO = 0, PROCESS_ON = 1, PROCESS_OFF = 2 };

/* One [tail_sampling.policy.NAME] section as written: keys and values in file order. The
 * sampler validates and compiles it (errors name the section and key). */
struct process_policy_conf {
    char *name;
    struct kt_strlist keys; /* parallel to values */
    struct kt_strlist values;
};

struct consumer_replay; /* consumer.h */

/* One [transform.group.NAME] section as written: the Collector's statement group (a
 * trace_statements / metric_statements / log_statements entry with context, conditions,
 * error_mode and statements). Keys and values in file order; the transform validates and
 * compiles it (errors name the section and key). */
struct process_group_conf {
    char *name;
    struct kt_strlist keys; /* parallel to values */
    struct kt_strlist values;
};

struct process_conf {
    struct {
        struct kt_strlist brokers;
        char *group_id;
        char *client_id;
        char *protocol_version;
        uint64_t connect_timeout_ms; /* the startup check's bound */
        int initial_offset;          /* enum process_offset */
        char *traces_topic;          /* "" turns the signal off */
        char *metrics_topic;
        char *logs_topic;
        /* [kafka] *_exclude_topics: beside a ^regex topic (topics.h) */
        struct kt_strlist traces_exclude_topics;
        struct kt_strlist metrics_exclude_topics;
        struct kt_strlist logs_exclude_topics;
        int encoding;                         /* enum process_encoding */
        int signal_encoding[KT_SIGNAL_COUNT]; /* 0: encoding; else enum process_encoding + 1 */
        uint64_t session_timeout_ms;
        uint64_t heartbeat_interval_ms;
        int group_rebalance_strategy;  /* enum process_rebalance */
        char *dead_letter_topic;       /* "" = none */
        uint64_t max_pending_messages; /* fetched but unfinished, before consumption pauses */
        uint64_t lag_report_threshold; /* messages; 0: no backlog progress lines */
        struct kt_strlist rdkafka;
        struct kt_kafka_auth_conf auth;
        /* The kafkareceiver's header_extraction: these record headers (exact names) become
         * resource attributes kafka.header.<name> of the data in the message. */
        struct {
            bool extract_headers;
            struct kt_strlist headers;
        } header_extraction;
    } kafka;
    /* Not options: what the startup check (main.c) found, for the consumer. Zeroed (nothing
     * confirmed) when no check ran. */
    struct {
        bool reached;                        /* the cluster's metadata was read */
        bool topic_missing[KT_SIGNAL_COUNT]; /* a signal topic the cluster did not have */
    } startup;
    /* Not an option: --replay-from (replay.h) sets it, NULL otherwise. The consumer reads
     * these partition ranges instead of joining the group, and writes their progress in. */
    struct consumer_replay *replay;
    struct {
        struct kt_strlist trace_conditions;
        struct kt_strlist metric_conditions;
        struct kt_strlist log_conditions;
        int error_mode; /* enum ottl_error_mode (ottl/ottl.h) */
    } filter;
    struct {
        struct kt_strlist trace_statements;
        struct kt_strlist metric_statements;
        struct kt_strlist log_statements;
        int error_mode;                    /* enum ottl_error_mode */
        struct process_group_conf *groups; /* in file order, run after the flat statements */
        size_t n_groups;
    } transform;
    struct {
        int enabled; /* enum process_tristate: auto = on when a policy exists */
        uint64_t decision_wait_ms;
        uint64_t decision_wait_after_root_received_ms; /* 0 = off */
        uint64_t num_traces;
        uint64_t sampled_cache_size;
        uint64_t non_sampled_cache_size;
        uint64_t maximum_trace_size_bytes; /* 0 = no bound */
        bool sample_on_first_match;
        bool drop_pending_traces_on_shutdown;
        struct process_policy_conf *policies; /* in file order */
        size_t n_policies;
    } tail_sampling;
    struct {
        char *endpoint;
        /* HTTP: the whole URL of one signal's requests, by enum kt_signal; "": endpoint's
         * origin and path + /v1/<signal>. Any origin: each gets its own connections. */
        char *signal_endpoints[KT_SIGNAL_COUNT];
        int protocol;    /* enum process_protocol */
        int compression; /* enum process_compression */
        uint64_t timeout_ms;
        struct kt_strlist headers; /* "Key=Value" */
        uint64_t send_batch_size;
        uint64_t send_batch_timeout_ms;
        /* Request metadata keys (a message's Kafka record headers, names without case): each
         * request carries their values as headers, and data of different values is never
         * batched together. */
        struct kt_strlist headers_from_metadata;
        uint64_t metadata_cardinality_limit; /* distinct value sets batched at once */
        uint64_t max_in_flight;              /* export requests in flight at once */
    } exporter;
    struct {
        char *ca_file;   /* "": the system trust store */
        char *cert_file; /* client certificate for mTLS; "" none */
        char *key_file;
        char *server_name_override; /* SNI and verified name; "": the endpoint's host */
        int min_version;            /* 0: "1.2", 1: "1.3" */
        bool insecure_skip_verify;
    } exporter_tls;
    struct {
        uint64_t initial_interval_ms;
        uint64_t max_interval_ms;
        uint64_t max_elapsed_time_ms; /* 0 = retry until the backend is back */
        double multiplier;            /* each interval is the previous one times this, >= 1 */
        double randomization_factor;  /* a wait is interval * (1 +- this), 0..1 */
    } retry;
    struct {
        uint64_t memory; /* bytes, 0 = no budget */
    } limits;
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

/* How [limits] memory is shared between what holds telemetry (0 everywhere without a
 * budget): a quarter for the traces the tail sampler holds (over it, the oldest trace is
 * decided early, as when num_traces is reached), a sixteenth for librdkafka's fetch queue
 * (queued.max.messages.kbytes), a sixteenth for requests waiting at the exporter (over it,
 * consumption pauses). The rest is for what is not accounted: the code and libraries,
 * decoding scratch, a request's encoded and compressed copies on its way out, librdkafka's
 * own buffers and the allocator's slack (freed trace buffers are not all returned to the
 * system); test/integration/process-memory.test.js measures the peak RSS. */
static inline uint64_t process_limit_sampler_bytes(const struct process_conf *c)
{
    return c->limits.memory / 4;
}
static inline uint64_t process_limit_fetch_bytes(const struct process_conf *c)
{
    return c->limits.memory / 16;
}
static inline uint64_t process_limit_export_bytes(const struct process_conf *c)
{
    return c->limits.memory / 16;
}

/* The encoding of a signal's topics: [kafka] traces_encoding etc., else encoding. */
static inline enum process_encoding process_encoding_of(const struct process_conf *c,
                                                        enum kt_signal sig)
{
    int e = c->kafka.signal_encoding[sig];
    return (enum process_encoding)(e > 0 ? e - 1 : c->kafka.encoding);
}

extern const struct kt_config_schema process_conf_schema;

/* Frees what the section handler collected (kt_config_free does not know about it). */
void process_conf_free(struct process_conf *c);

#endif
