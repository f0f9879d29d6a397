#include "conf.h"

#include <stddef.h>

#define OFF(f) offsetof(struct ingest_conf, f)

static const struct kt_option ingest_options[] = {
    {"receiver", "grpc_endpoint", KT_OPT_STRING, "0.0.0.0:4317", OFF(receiver.grpc_endpoint), NULL,
     0, "OTLP/gRPC listen address (host:port); empty disables. Also serves OTLP/HTTP."},
    {"receiver", "http_endpoint", KT_OPT_STRING, "0.0.0.0:4318", OFF(receiver.http_endpoint), NULL,
     0, "OTLP/HTTP listen address (HTTP/1.1 and h2c); empty disables. Also serves OTLP/gRPC."},
    {"receiver", "max_request_bytes", KT_OPT_SIZE, "16MiB", OFF(receiver.max_request_bytes),
     "1KiB..", 0, "Largest request body accepted, after gzip inflation."},
    {"receiver", "max_connections", KT_OPT_UINT, "10000", OFF(receiver.max_connections), "1..", 0,
     "Connections beyond this are closed on accept. The open files limit is raised to fit them "
     "(up to the hard limit; a warning says when it cannot)."},
    {"receiver", "max_connections_per_peer", KT_OPT_UINT, "1000",
     OFF(receiver.max_connections_per_peer), NULL, 0,
     "Connections one IP address may hold (0 = no bound); beyond it a new one is closed on "
     "accept. When max_connections is reached, the connection idle the longest is closed for "
     "the newcomer instead."},
    {"receiver", "max_header_bytes", KT_OPT_SIZE, "64KiB", OFF(receiver.max_header_bytes),
     "1KiB..64KiB", 0,
     "Largest request header section (HTTP/1.1: 431; HTTP/2: the stream is answered 431 / "
     "RESOURCE_EXHAUSTED)."},
    {"receiver", "max_concurrent_streams", KT_OPT_UINT, "100", OFF(receiver.max_concurrent_streams),
     "1..", 0, "HTTP/2 streams (gRPC calls) a connection may have open at once (SETTINGS)."},
    {"receiver", "idle_timeout", KT_OPT_DURATION, "120s", OFF(receiver.idle_timeout_ms), "100ms..",
     0,
     "A connection with no request in flight and no answer sent for this long is closed (bytes "
     "that make no request do not count)."},
    {"receiver", "header_timeout", KT_OPT_DURATION, "10s", OFF(receiver.header_timeout_ms),
     "100ms..", 0,
     "Time allowed for a request's headers to arrive, counted for the first request from the "
     "accept."},
    {"receiver", "body_timeout", KT_OPT_DURATION, "30s", OFF(receiver.body_timeout_ms), "100ms..",
     0,
     "Time allowed for a request's body to arrive once its headers have (HTTP/1.1: 408 and "
     "close; HTTP/2: the stream is reset)."},
    {"receiver", "ack", KT_OPT_ENUM, "kafka", OFF(receiver.ack), "kafka|received", 0,
     "kafka: answer once Kafka acknowledged every message of the request; received: on receipt."},
    {"receiver", "max_attributes", KT_OPT_UINT, "1024", OFF(receiver.max_attributes), "1..", 0,
     "Most key-value pairs in one list (the attributes of a resource, scope, span, event, link, "
     "log record or data point; a kvlist); more: 400 / INVALID_ARGUMENT. SDKs keep 128."},
    {"receiver", "max_string_bytes", KT_OPT_SIZE, "1MiB", OFF(receiver.max_string_bytes), "1KiB..",
     0,
     "Longest string or bytes value (in OTLP/JSON: one JSON string); longer: 400 / "
     "INVALID_ARGUMENT."},

    {"receiver.tls", "cert_file", KT_OPT_STRING, "", OFF(receiver_tls.cert_file), NULL, 0,
     "Server certificate chain (PEM); set with key_file, the listeners of `endpoints` speak TLS "
     "(ALPN h2 and http/1.1) instead of plaintext."},
    {"receiver.tls", "key_file", KT_OPT_STRING, "", OFF(receiver_tls.key_file), NULL, 0,
     "Private key of cert_file (PEM or DER, not encrypted)."},
    {"receiver.tls", "client_ca_file", KT_OPT_STRING, "", OFF(receiver_tls.client_ca_file), NULL, 0,
     "CA bundle (PEM); set: clients must present a certificate it signed (mTLS)."},
    {"receiver.tls", "min_version", KT_OPT_ENUM, "1.2", OFF(receiver_tls.min_version), "1.2|1.3", 0,
     "Oldest TLS version accepted (this build's mbedTLS 2.28 has TLS 1.2 only)."},
    {"receiver.tls", "cipher_suites", KT_OPT_LIST, "", OFF(receiver_tls.cipher_suites), NULL, 0,
     "TLS 1.2 cipher suites allowed, most preferred first, IANA or mbedTLS names; empty: "
     "mbedTLS's defaults."},
    {"receiver.tls", "endpoints", KT_OPT_ENUM, "both", OFF(receiver_tls.endpoints),
     "both|grpc_endpoint|http_endpoint", 0,
     "Listeners that speak TLS; the other one stays plaintext (both serve gRPC and HTTP)."},
    {"receiver.tls", "reload_check_interval", KT_OPT_DURATION, "5s",
     OFF(receiver_tls.reload_check_ms), "100ms..", 0,
     "How often the certificate, key and client CA files are checked for changes; changed, "
     "they are reloaded as on SIGHUP (new connections use them; a bad one keeps the old)."},

    {"receiver.auth", "bearer_token", KT_OPT_STRING, "", OFF(receiver_auth.bearer_token), NULL,
     KT_OPT_SECRET,
     "The one token clients must send (Authorization: Bearer <token>); set, or bearer_tokens_file "
     "set: requests without a valid token get 401 / UNAUTHENTICATED."},
    {"receiver.auth", "bearer_tokens_file", KT_OPT_STRING, "",
     OFF(receiver_auth.bearer_tokens_file), NULL, 0,
     "File of tokens, one per line as `token` or `name:token`, `#` comments; reloaded on SIGHUP "
     "and when it changes (checked every reload_check_interval)."},
    {"receiver.auth", "scheme", KT_OPT_STRING, "Bearer", OFF(receiver_auth.scheme), NULL, 0,
     "Authorization scheme before the token (matched without regard to case)."},
    {"receiver.auth", "reload_check_interval", KT_OPT_DURATION, "5s",
     OFF(receiver_auth.reload_check_ms), "100ms..", 0,
     "How often bearer_tokens_file is checked for changes; changed, it is reloaded as on SIGHUP "
     "(a bad one keeps the tokens before it)."},
    {"receiver.auth", "tenant_header", KT_OPT_STRING, "", OFF(receiver_auth.tenant_header), NULL, 0,
     "Set: every Kafka record made from a request carries this record header with the name of "
     "the token it came with (the file's `name:token` form); requests of different names never "
     "share a record."},

    {"batch", "send_batch_size", KT_OPT_UINT, "8192", OFF(batch.send_batch_size), NULL, 0,
     "Items (spans, data points, log records) that trigger a batch to be published."},
    {"batch", "timeout", KT_OPT_DURATION, "200ms", OFF(batch.timeout_ms), NULL, 0,
     "Longest time an item waits in a batch before it is published."},
    {"batch", "send_batch_max_size", KT_OPT_UINT, "0", OFF(batch.send_batch_max_size), NULL, 0,
     "Upper bound on items in one batch (0 = no bound)."},

    KT_KAFKA_BROKERS_OPTION(struct ingest_conf),
    KT_KAFKA_CLIENT_OPTIONS(struct ingest_conf, "kotel-ingest"),
    KT_KAFKA_TOPIC_OPTIONS(struct ingest_conf, "Topic for traces.", "Topic for metrics.",
                           "Topic for logs."),
    {"kafka", "compression", KT_OPT_ENUM, "none", OFF(kafka.compression),
     "none|gzip|snappy|lz4|zstd", 0, "Kafka batch compression codec."},
    {"kafka", "required_acks", KT_OPT_ENUM, "all", OFF(kafka.required_acks), "all|1|0", 0,
     "Broker acknowledgements a produce needs (all = every in-sync replica)."},
    {"kafka", "max_message_bytes", KT_OPT_SIZE, "1000000", OFF(kafka.max_message_bytes),
     "1KiB..999MB", 0, "Largest message value produced; bigger batches are split."},
    {"kafka", "timeout", KT_OPT_DURATION, "5s", OFF(kafka.timeout_ms), NULL, 0,
     "Time Kafka has to acknowledge a message before the request fails as retryable."},
    {"kafka", "partition_traces_by_id", KT_OPT_BOOL, "true", OFF(kafka.partition_traces_by_id),
     NULL, 0, "Key trace messages by hex trace ID so a trace stays in one partition."},
    {"kafka", "partition_metrics_by_resource_attributes", KT_OPT_BOOL, "false",
     OFF(kafka.partition_metrics_by_resource_attributes), NULL, 0,
     "Key metric messages by the Collector's hash of their resource attributes."},
    {"kafka", "partition_logs_by_resource_attributes", KT_OPT_BOOL, "false",
     OFF(kafka.partition_logs_by_resource_attributes), NULL, 0,
     "Key log messages by the Collector's hash of their resource attributes."},
    {"kafka", "partition_logs_by_trace_id", KT_OPT_BOOL, "false",
     OFF(kafka.partition_logs_by_trace_id), NULL, 0,
     "Key log messages by hex trace ID (records without one: no key); "
     "partition_logs_by_resource_attributes wins when both are set."},
    {"kafka", "partitioner", KT_OPT_STRING, "fnv1a_random", OFF(kafka.partitioner), NULL, 0,
     "librdkafka partitioner; fnv1a_random matches the Collector (Sarama)."},
    {"kafka", "queue_max_messages", KT_OPT_UINT, "100000", OFF(kafka.queue_max_messages), "1..", 0,
     "Producer queue bound; when full, new requests are refused as retryable."},
    KT_KAFKA_PASSTHROUGH_OPTIONS(struct ingest_conf),

    {"limits", "memory", KT_OPT_SIZE, "0", OFF(limits.memory), NULL, 0,
     "Memory budget (0 = none): a quarter for request bodies being received (past it 503 / "
     "UNAVAILABLE), a quarter for the producer queue."},

    {"spool", "dir", KT_OPT_STRING, "", OFF(spool.dir), NULL, 0,
     "Directory of the disk spool (created when missing); empty disables it. While Kafka cannot "
     "take messages (brokers down, queue full, delivery timing out) they are appended here and "
     "the client is acknowledged once the append is durable; they are sent once Kafka is back."},
    {"spool", "max_size", KT_OPT_SIZE, "10GiB", OFF(spool.max_size), "64KiB..", 0,
     "Bytes of segment files at most; when full, requests are refused (503 / UNAVAILABLE) while "
     "Kafka is unavailable."},
    {"spool", "segment_size", KT_OPT_SIZE, "64MiB", OFF(spool.segment_size), "64KiB..", 0,
     "Size at which a segment file is rolled; a segment is deleted once Kafka acknowledged every "
     "message in it."},
    {"spool", "fsync", KT_OPT_ENUM, "batch", OFF(spool.fsync), "batch|always|never", 0,
     "batch: one fsync for the appends that queued up meanwhile (a group commit); always: one per "
     "message; never: written to the kernel only (survives a crash of the process, not of the "
     "machine)."},

    {"admin", "endpoint", KT_OPT_STRING, "127.0.0.1:13133", OFF(admin.endpoint), NULL, 0,
     "Where /metrics (Prometheus), /healthz and /readyz are served (host:port; port 0: any "
     "free one, logged at start); empty: nowhere."},

    {"service", "log_level", KT_OPT_ENUM, "info", OFF(service.log_level), "debug|info|warn|error",
     0, "Least severe log level written to stderr."},
    {"service", "shutdown_timeout", KT_OPT_DURATION, "30s", OFF(service.shutdown_timeout_ms), NULL,
     0, "On SIGTERM, time allowed to finish in-flight requests and flush the producer."},
};

static int ingest_validate(const void *conf, struct kt_err *err)
{
    const struct ingest_conf *c = conf;
    if (c->spool.dir != NULL && c->spool.dir[0] != '\0' &&
        c->spool.max_size < c->spool.segment_size)
        return kt_err_set(
            err, KT_EINVAL, "[spool] max_size: %llu bytes is below segment_size (%llu bytes)",
            (unsigned long long)c->spool.max_size, (unsigned long long)c->spool.segment_size);
    return kt_kafka_auth_check(&c->kafka.auth, err);
}

const struct kt_config_schema ingest_conf_schema = {
    .program = "kotel-ingest",
    .version = KT_VERSION,
    .summary = "OTLP gRPC/HTTP receiver that publishes batched telemetry to Kafka",
    .opts = ingest_options,
    .n_opts = sizeof(ingest_options) / sizeof(ingest_options[0]),
    .validate = ingest_validate,
};
