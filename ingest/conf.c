#include "conf.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "kt_admin.h"
#include "kt_log.h"

#define OFF(f) offsetof(struct ingest_conf, f)

static const struct kt_option ingest_options[] = {
    {"receiver", "grpc_endpoint", KT_OPT_STRING, "0.0.0.0:4317", OFF(receiver.grpc_endpoint), NULL,
     0,
     "OTLP/gRPC listen address (host:port); empty disables. Also serves OTLP/HTTP.\n"
     "Both listeners speak both protocols, so clients may use either port."},
    {"receiver", "http_endpoint", KT_OPT_STRING, "0.0.0.0:4318", OFF(receiver.http_endpoint), NULL,
     0, "OTLP/HTTP listen address (HTTP/1.1 and h2c); empty disables. Also serves OTLP/gRPC."},
    {"receiver", "max_request_bytes", KT_OPT_SIZE, "16MiB", OFF(receiver.max_request_bytes),
     "1KiB..", 0,
     "Largest request body accepted, after gzip inflation.\n"
     "Bigger requests are refused; the client should split its export."},
    {"receiver", "max_connections", KT_OPT_UINT, "10000", OFF(receiver.max_connections), "1..", 0,
     "Open connections at most; past it a newcomer replaces the connection idle the longest. The "
     "open files limit is raised to fit them (up to the hard limit; a warning says when it "
     "cannot).\n"
     "The connection replaced is one with no request arriving or waiting for its answer, so that a "
     "flood of idle connections cannot lock other clients out; when every one is busy, the new "
     "one is closed as soon as it is accepted. Each takes a file descriptor: at startup the open "
     "files limit is raised to max_connections + 64 "
     "(the systemd unit's LimitNOFILE is the hard limit). A process out of descriptors refuses new "
     "connections at once, and logs it rate-limited."},
    {"receiver", "max_connections_per_peer", KT_OPT_UINT, "1000",
     OFF(receiver.max_connections_per_peer), NULL, 0,
     "Connections one IP address may hold (0 = no bound); beyond it a new one is closed on "
     "accept. When max_connections is reached, the connection idle the longest is closed for "
     "the newcomer instead.\n"
     "Clients behind one NAT or proxy share an address: raise it for them. IPv6 addresses count "
     "one by one (a client with a whole /64 is many peers)."},
    {"receiver", "max_header_bytes", KT_OPT_SIZE, "64KiB", OFF(receiver.max_header_bytes),
     "1KiB..64KiB", 0,
     "Largest request header section (HTTP/1.1: 431; HTTP/2: the stream is answered 431 / "
     "RESOURCE_EXHAUSTED).\n"
     "The request line or pseudo-headers and every field count. HTTP/1.1 closes the connection "
     "after the 431; over HTTP/2 the connection goes on. Announced to "
     "HTTP/2 clients as SETTINGS_MAX_HEADER_LIST_SIZE. OTLP clients send well under 1KiB."},
    {"receiver", "max_concurrent_streams", KT_OPT_UINT, "100", OFF(receiver.max_concurrent_streams),
     "1..", 0,
     "HTTP/2 streams (gRPC calls) a connection may have open at once (SETTINGS).\n"
     "Streams beyond it are refused by the protocol. grpc-go, the Collector's server, has no bound "
     "by default; 100 is the minimum RFC 9113 recommends and plenty for an exporter."},
    {"receiver", "idle_timeout", KT_OPT_DURATION, "120s", OFF(receiver.idle_timeout_ms), "100ms..",
     0,
     "A connection with no request in flight and no answer sent for this long is closed (bytes "
     "that make no request do not count).\n"
     "Blank lines and HTTP/2 PINGs are such bytes."},
    {"receiver", "header_timeout", KT_OPT_DURATION, "10s", OFF(receiver.header_timeout_ms),
     "100ms..", 0,
     "Time allowed for a request's headers to arrive, counted for the first request from the "
     "accept.\n"
     "A client that connects and sends no request (or only the HTTP/2 preface) is closed after "
     "this long. HTTP/1.1 gets 408 and the connection is closed; an HTTP/2 stream is reset."},
    {"receiver", "body_timeout", KT_OPT_DURATION, "30s", OFF(receiver.body_timeout_ms), "100ms..",
     0,
     "Time allowed for a request's body to arrive once its headers have (HTTP/1.1: 408 and "
     "close; HTTP/2: the stream is reset).\n"
     "30s covers a 16MiB body at 4.5 Mbit/s."},
    {"receiver", "ack", KT_OPT_ENUM, "kafka", OFF(receiver.ack), "kafka|received", 0,
     "When an export request is answered: kafka (once Kafka acknowledged it) or received.\n"
     "  kafka     once Kafka acknowledged every message of the request (no loss on a crash;\n"
     "            a Kafka failure is returned to the client as retryable)\n"
     "  received  as soon as the request is decoded (lower latency; queued data is lost if the\n"
     "            process dies)"},
    {"receiver", "max_attributes", KT_OPT_UINT, "1024", OFF(receiver.max_attributes), "1..", 0,
     "Most key-value pairs in one list (the attributes of a resource, scope, span, event, link, "
     "log record or data point; a kvlist); more: 400 / INVALID_ARGUMENT. SDKs keep 128.\n"
     "A request past this or another payload limit is refused naming the limit, the value and the "
     "JSON path or protobuf field, and counted (the count is logged at exit). Fixed, not options: "
     "an AnyValue nests at most 32 levels deep, and a member of an OTLP/JSON body that kotel does "
     "not know (and drops) at most 64 levels of objects and arrays."},
    {"receiver", "max_string_bytes", KT_OPT_SIZE, "1MiB", OFF(receiver.max_string_bytes), "1KiB..",
     0,
     "Longest string or bytes value (in OTLP/JSON: one JSON string); longer: 400 / "
     "INVALID_ARGUMENT.\n"
     "The length counts as decoded."},

    {"receiver.tls", "cert_file", KT_OPT_STRING, "", OFF(receiver_tls.cert_file), NULL, 0,
     "Server certificate chain (PEM); set with key_file, the listeners of `endpoints` speak TLS "
     "(ALPN h2 and http/1.1) instead of plaintext.\n"
     "Empty cert_file and key_file: plaintext."},
    {"receiver.tls", "key_file", KT_OPT_STRING, "", OFF(receiver_tls.key_file), NULL, 0,
     "Private key of cert_file (PEM or DER, not encrypted)."},
    {"receiver.tls", "client_ca_file", KT_OPT_STRING, "", OFF(receiver_tls.client_ca_file), NULL, 0,
     "CA bundle (PEM); set: clients must present a certificate it signed (mTLS)."},
    {"receiver.tls", "min_version", KT_OPT_ENUM, "1.2", OFF(receiver_tls.min_version), "1.2|1.3", 0,
     "Oldest TLS version accepted (this build's mbedTLS 2.28 has TLS 1.2 only).\n"
     "1.3 is refused at startup."},
    {"receiver.tls", "cipher_suites", KT_OPT_LIST, "", OFF(receiver_tls.cipher_suites), NULL, 0,
     "TLS 1.2 cipher suites allowed, most preferred first, IANA or mbedTLS names; empty: "
     "mbedTLS's defaults.\n"
     "IANA names are those the Collector takes."},
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
     "set: requests without a valid token get 401 / UNAUTHENTICATED.\n"
     "Masked by --print-config; ${ENV} works: bearer_token = ${INGEST_TOKEN}."},
    {"receiver.auth", "bearer_tokens_file", KT_OPT_STRING, "",
     OFF(receiver_auth.bearer_tokens_file), NULL, 0,
     "File of tokens, one per line as `token` or `name:token`, `#` comments; reloaded on SIGHUP "
     "and when it changes (checked every reload_check_interval).\n"
     "Keep it readable by its owner only. A bad file keeps the tokens before it."},
    {"receiver.auth", "scheme", KT_OPT_STRING, "Bearer", OFF(receiver_auth.scheme), NULL, 0,
     "Authorization scheme before the token (matched without regard to case)."},
    {"receiver.auth", "reload_check_interval", KT_OPT_DURATION, "5s",
     OFF(receiver_auth.reload_check_ms), "100ms..", 0,
     "How often bearer_tokens_file is checked for changes; changed, it is reloaded as on SIGHUP "
     "(a bad one keeps the tokens before it)."},
    {"receiver.auth", "tenant_header", KT_OPT_STRING, "", OFF(receiver_auth.tenant_header), NULL, 0,
     "Set: every Kafka record made from a request carries this record header with the name of "
     "the token it came with (the file's `name:token` form); requests of different names never "
     "share a record.\n"
     "A downstream tier can so tell tenants apart."},

    {"batch", "send_batch_size", KT_OPT_UINT, "8192", OFF(batch.send_batch_size), NULL, 0,
     "Items (spans, data points, log records) that trigger a batch to be published."},
    {"batch", "timeout", KT_OPT_DURATION, "200ms", OFF(batch.timeout_ms), NULL, 0,
     "Longest time an item waits in a batch before it is published.\n"
     "The batch is published then however few items it holds."},
    {"batch", "send_batch_max_size", KT_OPT_UINT, "0", OFF(batch.send_batch_max_size), NULL, 0,
     "Upper bound on items in one batch (0 = no bound).\n"
     "Larger batches are split."},

    KT_KAFKA_BROKERS_OPTION(struct ingest_conf),
    KT_KAFKA_CLIENT_OPTIONS(struct ingest_conf, "kotel-ingest"),
    KT_KAFKA_TOPIC_OPTIONS(struct ingest_conf, "Topic for traces.", "Topic for metrics.",
                           "Topic for logs."),
    {"kafka", "compression", KT_OPT_ENUM, "none", OFF(kafka.compression),
     "none|gzip|snappy|lz4|zstd", 0, "Kafka batch compression codec."},
    {"kafka", "required_acks", KT_OPT_ENUM, "all", OFF(kafka.required_acks), "all|1|0", 0,
     "Broker acknowledgements a produce needs (all = every in-sync replica).\n"
     "1 is the leader alone; 0 is none: fastest, and data may be lost without any error."},
    {"kafka", "max_message_bytes", KT_OPT_SIZE, "1000000", OFF(kafka.max_message_bytes),
     "1KiB..999MB", 0,
     "Largest message value produced; bigger batches are split.\n"
     "Keep it at or below the topic's max.message.bytes."},
    {"kafka", "timeout", KT_OPT_DURATION, "5s", OFF(kafka.timeout_ms), NULL, 0,
     "Time Kafka has to acknowledge a message before the request fails as retryable."},
    {"kafka", "partition_traces_by_id", KT_OPT_BOOL, "true", OFF(kafka.partition_traces_by_id),
     NULL, 0,
     "Key trace messages by hex trace ID so a trace stays in one partition.\n"
     "A consumer then sees whole traces: tail sampling depends on it."},
    {"kafka", "partition_metrics_by_resource_attributes", KT_OPT_BOOL, "false",
     OFF(kafka.partition_metrics_by_resource_attributes), NULL, 0,
     "Key metric messages by the Collector's hash of their resource attributes.\n"
     "One resource's data then stays in order within a partition. The key is the Collector's (16 "
     "bytes), so kotel and Collector ingest nodes put a resource on the same partition."},
    {"kafka", "partition_logs_by_resource_attributes", KT_OPT_BOOL, "false",
     OFF(kafka.partition_logs_by_resource_attributes), NULL, 0,
     "Key log messages by the Collector's hash of their resource attributes.\n"
     "As partition_metrics_by_resource_attributes, for logs."},
    {"kafka", "partition_logs_by_trace_id", KT_OPT_BOOL, "false",
     OFF(kafka.partition_logs_by_trace_id), NULL, 0,
     "Key log messages by hex trace ID (records without one: no key), as traces are keyed.\n"
     "The Collector's option of the same name. It and partition_logs_by_resource_attributes "
     "cannot both be true."},
    {"kafka", "include_metadata_keys", KT_OPT_LIST, "", OFF(kafka.include_metadata_keys), NULL,
     KT_OPT_TOKENS,
     "Request header names (HTTP/1.1, HTTP/2, gRPC metadata; any case) whose values become Kafka "
     "record headers of every record made from the request; requests with different values "
     "never share a record.\n"
     "As the Collector: record headers are named as written here, a header sent several times "
     "gives one record header per value, in the order of the keys here; a header not sent gives "
     "none. At most 16 names of at most 62 "
     "characters, Authorization refused. A value is at most 255 bytes and a request's record "
     "headers at most 4096 bytes (longer: 400 / INVALID_ARGUMENT); at most 4096 distinct "
     "combinations of values (with topics and tenant_header's names) are kept since start, past "
     "which new ones are refused (500 / INTERNAL), logged and counted "
     "(kotel_ingest_metadata_refused_total)."},
    {"kafka", "topic_from_attribute", KT_OPT_STRING, "", OFF(kafka.topic_from_attribute), NULL, 0,
     "Resource attribute whose string value names the topic of that resource's data; a resource "
     "without it (or with an empty value) goes to the signal's topic.\n"
     "Each resource of a request goes to its own topic (the Collector picks one topic per "
     "request, from its first resource that has the attribute). The name must be a legal Kafka "
     "topic (letters, digits, '.', '_', '-'; at most 249) or the request is refused with 400; at "
     "most 256 distinct topics are used since start, past which requests naming a new one are "
     "refused (500)."},
    {"kafka", "topic_from_metadata_key", KT_OPT_STRING, "", OFF(kafka.topic_from_metadata_key),
     NULL, KT_OPT_TOKENS,
     "Request header whose value names the topic of the whole request; it wins over "
     "topic_from_attribute, and without the header the request goes where that or the signal's "
     "topic says.\n"
     "The Collector's traces::/metrics::/logs::topic_from_metadata_key, one key for every "
     "signal here. The same checks and bounds as topic_from_attribute."},
    {"kafka", "partitioner", KT_OPT_STRING, "fnv1a_random", OFF(kafka.partitioner), NULL, 0,
     "librdkafka partitioner; fnv1a_random matches the Collector (Sarama).\n"
     "Both can then feed the same topic consistently."},
    {"kafka", "queue_max_messages", KT_OPT_UINT, "100000", OFF(kafka.queue_max_messages), "1..", 0,
     "Producer queue bound; when full, new requests are refused as retryable.\n"
     "Memory then stops growing instead."},
    KT_KAFKA_PASSTHROUGH_OPTIONS(struct ingest_conf),

    {"limits", "memory", KT_OPT_SIZE, "0", OFF(limits.memory), NULL, 0,
     "Memory budget (0 = none): a quarter for request bodies being received (past it 503 / "
     "UNAVAILABLE), a quarter for the producer queue.\n"
     "Past the first quarter a request is refused; the rest of the budget covers what is not "
     "accounted (decoding, batches, connection buffers, code)."},

    {"spool", "dir", KT_OPT_STRING, "", OFF(spool.dir), NULL, 0,
     "Directory of the disk spool (created when missing); empty disables it. While Kafka cannot "
     "take messages (brokers down, queue full, delivery timing out) they are appended here and "
     "the client is acknowledged once the append is durable; they are sent once Kafka is back.\n"
     "One kotel-ingest per directory (it is locked). Records are checksummed; durable is as fsync "
     "says. Sent oldest first alongside new traffic; a segment is deleted once Kafka acknowledged "
     "every message in it. After a crash or restart the rest is sent again (duplicates possible, "
     "loss not); a record cut short by the crash is skipped with a log line. The systemd unit "
     "gives the service /var/lib/kotel-ingest (StateDirectory) for it."},
    {"spool", "max_size", KT_OPT_SIZE, "10GiB", OFF(spool.max_size), "64KiB..", 0,
     "Bytes of segment files at most; when full, requests are refused (503 / UNAVAILABLE) while "
     "Kafka is unavailable.\n"
     "Nothing is dropped. Also refused: a failed write (disk full, I/O error), for a second, with "
     "the directory and the error in the message."},
    {"spool", "segment_size", KT_OPT_SIZE, "64MiB", OFF(spool.segment_size), "64KiB..", 0,
     "Size at which a segment file is rolled; a segment is deleted once Kafka acknowledged every "
     "message in it."},
    {"spool", "fsync", KT_OPT_ENUM, "batch", OFF(spool.fsync), "batch|always|never", 0,
     "When an append to the spool counts as durable.\n"
     "  batch   one fsync for the appends that queued up meanwhile (a group commit)\n"
     "  always  one fsync per message\n"
     "  never   written to the kernel (survives kill -9, not a power loss)"},

    KT_ADMIN_OPTION(struct ingest_conf, "127.0.0.1:13133"),

    KT_LOG_OPTIONS(struct ingest_conf),

    {"service", "shutdown_timeout", KT_OPT_DURATION, "30s", OFF(service.shutdown_timeout_ms), NULL,
     0,
     "On SIGTERM, time allowed to finish in-flight requests and flush the producer.\n"
     "The process exits 0 within it. The systemd unit's TimeoutStopSec is above it."},
};

/* A request metadata key (the loader checked it is a header name: KT_OPT_TOKENS): short
 * enough for the HTTP/1.1 parser to keep whole. Requests match it in any case; record
 * headers are named as written here, as the Collector names them. Authorization is the
 * client's bearer token: copying it into Kafka would hand it to every consumer. */
static int check_meta_key(const char *name, struct kt_err *err)
{
    size_t n = strlen(name);
    if (n > INGEST_META_NAME_MAX)
        return kt_err_set(err, KT_EINVAL, "header name of %zu characters, want at most %d", n,
                          INGEST_META_NAME_MAX);
    if (strcasecmp(name, "authorization") == 0)
        return kt_err_set(err, KT_EINVAL,
                          "authorization carries the client's token: it is never copied to Kafka");
    return 0;
}

/* kotel-ingest writes each signal to one topic, named as Kafka allows: the list and ^regex
 * forms of the topic keys are kotel-process's (as they are the Collector's receiver's, not
 * its exporter's). */
static int check_topic(const char *v, struct kt_err *err)
{
    if (v[0] == '^' || strchr(v, ',') != NULL)
        return kt_err_set(err, KT_EINVAL,
                          "kotel-ingest produces to exactly one topic per signal; a list or a "
                          "^regex is for kotel-process, which consumes");
    return kt_kafka_topic_check(v, strlen(v), err);
}

static int ingest_check_value(const struct kt_option *o, const void *value, struct kt_err *err)
{
    const char *key = o->key;
    if (strcmp(o->section, "receiver.auth") == 0 && strcmp(key, "tenant_header") == 0) {
        size_t n = strlen(*(char *const *)value);
        if (n > INGEST_META_VALUE_MAX)
            return kt_err_set(err, KT_EINVAL, "%zu bytes, want at most %d", n,
                              INGEST_META_VALUE_MAX);
        return 0;
    }
    if (strcmp(o->section, "kafka") != 0)
        return 0;
    if (strcmp(key, "traces_topic") == 0 || strcmp(key, "metrics_topic") == 0 ||
        strcmp(key, "logs_topic") == 0)
        return check_topic(*(char *const *)value, err);
    if (strcmp(key, "include_metadata_keys") == 0) {
        const struct kt_strlist *l = value;
        if (l->n > INGEST_META_KEYS_MAX)
            return kt_err_set(err, KT_EINVAL, "%zu names, want at most %d", l->n,
                              INGEST_META_KEYS_MAX);
        for (size_t i = 0; i < l->n; i++) {
            int rc = check_meta_key(l->v[i], err);
            if (rc != 0)
                return rc;
            for (size_t j = 0; j < i; j++)
                if (strcasecmp(l->v[j], l->v[i]) == 0)
                    return kt_err_set(err, KT_EINVAL, "'%s' listed twice", l->v[i]);
        }
        return 0;
    }
    if (strcmp(key, "topic_from_metadata_key") == 0) {
        const char *v = *(char *const *)value;
        return v[0] != '\0' ? check_meta_key(v, err) : 0;
    }
    if (strcmp(key, "partition_logs_by_trace_id") == 0 ||
        strcmp(key, "partition_logs_by_resource_attributes") == 0) {
        /* The one check of two options: the later one set names its line. */
        const struct ingest_conf *c = (const void *)((const char *)value - o->offset);
        if (c->kafka.partition_logs_by_trace_id && c->kafka.partition_logs_by_resource_attributes)
            return kt_err_set(
                err, KT_EINVAL,
                "partition_logs_by_trace_id and partition_logs_by_resource_attributes "
                "cannot both be true (a log message has one key)");
    }
    return 0;
}

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

static const struct kt_section_doc ingest_sections[] = {
    {"receiver.tls",
     "TLS on the receivers (the Collector's receivers.otlp.protocols.grpc.tls and .http.tls; "
     "README \"Security\" maps every key). Empty cert_file and key_file: plaintext. Set: the "
     "listeners named by `endpoints` speak TLS only (ALPN h2 for gRPC and HTTP/2, http/1.1), the "
     "other stays plaintext. A key that does not parse or does not match the certificate, an "
     "expired certificate or an unknown cipher suite stops startup naming the key and file. The "
     "handshake counts against header_timeout (from the accept). SIGHUP, or a change of any of "
     "the three files, reloads them: new connections get the new certificate, open ones keep "
     "theirs, and a bad replacement is logged and the previous certificate kept."},
    {"receiver.auth",
     "Bearer tokens on the receivers (the Collector's bearertokenauth extension in a receiver's "
     "auth block; README \"Security\" maps every key). Neither bearer_token nor "
     "bearer_tokens_file set: every client is let in. Set: a request without `Authorization: "
     "Bearer <token>` naming a valid token gets 401 / UNAUTHENTICATED before its body is read; "
     "tokens never appear in a log line or an error."},
    KT_KAFKA_SECTION_DOCS,
};

const struct kt_config_schema ingest_conf_schema = {
    .program = "kotel-ingest",
    .version = KT_VERSION,
    .summary = "OTLP gRPC/HTTP receiver that publishes batched telemetry to Kafka",
    .description =
        "kotel-ingest receives OTLP traces, metrics and logs over gRPC and HTTP (protobuf and "
        "JSON, "
        "HTTP/1.1 and h2c, gzip, optionally TLS and bearer tokens), batches them and publishes "
        "them to one Kafka topic per signal, trace messages keyed by trace ID so that every span "
        "of a trace lands in one partition. With [receiver] ack = kafka a client hears OK only "
        "for data Kafka has acknowledged; with a [spool] directory, data Kafka cannot take is "
        "kept on disk and sent once Kafka is back.",
    .sections = ingest_sections,
    .n_sections = sizeof(ingest_sections) / sizeof(ingest_sections[0]),
    .signals = "SIGHUP reads the TLS certificate, key and client CA files and the bearer tokens "
               "file again: new connections use them, and a file that does not load is logged "
               "and the previous one kept. The configuration file itself is read only at "
               "startup.\n"
               "\n"
               "SIGTERM or SIGINT drains: the listeners stop accepting, requests in flight are "
               "answered once Kafka acknowledged them (or, with [spool], once they are spooled), "
               "and the process exits 0 within [service] shutdown_timeout.",
    .see_also = "kotel-process(1), systemd.exec(5); the README of kotel.",
    .opts = ingest_options,
    .n_opts = sizeof(ingest_options) / sizeof(ingest_options[0]),
    .validate = ingest_validate,
    .check_value = ingest_check_value,
};
