#include "cfgi_translate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kt_codec.h"

/* How a Collector value becomes a kotel value. */
enum conv {
    CONV_COPY,  /* the scalar as it is (${env:X} becomes ${X}) */
    CONV_JOIN,  /* a sequence joined with commas (brokers) */
    CONV_EACH,  /* a sequence, one repeated key per item (conditions, statements) */
    CONV_OTTL,  /* CONV_EACH for OTTL conditions, bare paths prefixed with the list's context */
    CONV_MIB,   /* a number of MiB (max_recv_msg_size_mib) */
    CONV_ACKS,  /* the Collector's -1/0/1 required_acks */
    CONV_PAIRS, /* a mapping as repeated key = Name=Value (headers) */
    CONV_URL,   /* an exporter endpoint: without a scheme, http:// if tls.insecure, else https:// */
    CONV_CONSUMERS, /* sending_queue.num_consumers: requests in flight, clamped to 1..64 */
};

struct rule {
    const char *type;    /* component type: "otlp" receiver, "kafka" exporter, ... */
    const char *path;    /* dotted path inside the component's configuration */
    const char *section; /* kotel section */
    const char *key;     /* kotel key */
    enum conv conv;
};

/* Receivers, processors and exporters share this table: kinds are told apart by prefixing the
 * type ("r:", "p:", "e:"). A path ending in ".*" is a prefix. */
static const struct rule rules[] = {
    {"r:otlp", "protocols.grpc.endpoint", "receiver", "grpc_endpoint", CONV_COPY},
    {"r:otlp", "protocols.http.endpoint", "receiver", "http_endpoint", CONV_COPY},
    {"r:otlp", "protocols.grpc.max_recv_msg_size_mib", "receiver", "max_request_bytes", CONV_MIB},
    {"r:otlp", "protocols.grpc.max_concurrent_streams", "receiver", "max_concurrent_streams",
     CONV_COPY},
    {"r:otlp", "protocols.grpc.tls.cert_file", "receiver.tls", "cert_file", CONV_COPY},
    {"r:otlp", "protocols.grpc.tls.key_file", "receiver.tls", "key_file", CONV_COPY},
    {"r:otlp", "protocols.grpc.tls.client_ca_file", "receiver.tls", "client_ca_file", CONV_COPY},
    {"r:otlp", "protocols.grpc.tls.min_version", "receiver.tls", "min_version", CONV_COPY},
    {"r:otlp", "protocols.http.tls.cert_file", "receiver.tls", "cert_file", CONV_COPY},
    {"r:otlp", "protocols.http.tls.key_file", "receiver.tls", "key_file", CONV_COPY},
    {"r:otlp", "protocols.http.tls.client_ca_file", "receiver.tls", "client_ca_file", CONV_COPY},
    {"r:otlp", "protocols.http.tls.min_version", "receiver.tls", "min_version", CONV_COPY},
    {"p:batch", "send_batch_size", "batch", "send_batch_size", CONV_COPY},
    {"p:batch", "timeout", "batch", "timeout", CONV_COPY},
    {"p:batch", "send_batch_max_size", "batch", "send_batch_max_size", CONV_COPY},
    /* The kafka exporter (ingest) and receiver (process) share [kafka]. */
    {"e:kafka", "brokers", "kafka", "brokers", CONV_JOIN},
    {"e:kafka", "topic", "kafka", "traces_topic", CONV_COPY},
    {"e:kafka", "topic", "kafka", "metrics_topic", CONV_COPY},
    {"e:kafka", "topic", "kafka", "logs_topic", CONV_COPY},
    {"e:kafka", "traces.topic", "kafka", "traces_topic", CONV_COPY},
    {"e:kafka", "metrics.topic", "kafka", "metrics_topic", CONV_COPY},
    {"e:kafka", "logs.topic", "kafka", "logs_topic", CONV_COPY},
    {"e:kafka", "encoding", "kafka", "encoding", CONV_COPY},
    {"e:kafka", "traces.encoding", "kafka", "traces_encoding", CONV_COPY},
    {"e:kafka", "metrics.encoding", "kafka", "metrics_encoding", CONV_COPY},
    {"e:kafka", "logs.encoding", "kafka", "logs_encoding", CONV_COPY},
    {"e:kafka", "client_id", "kafka", "client_id", CONV_COPY},
    {"e:kafka", "protocol_version", "kafka", "protocol_version", CONV_COPY},
    {"e:kafka", "timeout", "kafka", "timeout", CONV_COPY},
    {"e:kafka", "partition_traces_by_id", "kafka", "partition_traces_by_id", CONV_COPY},
    {"e:kafka", "partition_metrics_by_resource_attributes", "kafka",
     "partition_metrics_by_resource_attributes", CONV_COPY},
    {"e:kafka", "partition_logs_by_resource_attributes", "kafka",
     "partition_logs_by_resource_attributes", CONV_COPY},
    {"e:kafka", "partition_logs_by_trace_id", "kafka", "partition_logs_by_trace_id", CONV_COPY},
    {"e:kafka", "include_metadata_keys", "kafka", "include_metadata_keys", CONV_JOIN},
    {"e:kafka", "topic_from_attribute", "kafka", "topic_from_attribute", CONV_COPY},
    {"e:kafka", "producer.max_message_bytes", "kafka", "max_message_bytes", CONV_COPY},
    {"e:kafka", "producer.required_acks", "kafka", "required_acks", CONV_ACKS},
    {"e:kafka", "producer.compression", "kafka", "compression", CONV_COPY},
    {"r:kafka", "brokers", "kafka", "brokers", CONV_JOIN},
    {"r:kafka", "topic", "kafka", "traces_topic", CONV_COPY},
    {"r:kafka", "topic", "kafka", "metrics_topic", CONV_COPY},
    {"r:kafka", "topic", "kafka", "logs_topic", CONV_COPY},
    {"r:kafka", "traces.topic", "kafka", "traces_topic", CONV_COPY},
    {"r:kafka", "traces.topics", "kafka", "traces_topic", CONV_JOIN},
    {"r:kafka", "metrics.topics", "kafka", "metrics_topic", CONV_JOIN},
    {"r:kafka", "logs.topics", "kafka", "logs_topic", CONV_JOIN},
    {"r:kafka", "metrics.topic", "kafka", "metrics_topic", CONV_COPY},
    {"r:kafka", "logs.topic", "kafka", "logs_topic", CONV_COPY},
    {"r:kafka", "traces.exclude_topics", "kafka", "traces_exclude_topics", CONV_JOIN},
    {"r:kafka", "metrics.exclude_topics", "kafka", "metrics_exclude_topics", CONV_JOIN},
    {"r:kafka", "logs.exclude_topics", "kafka", "logs_exclude_topics", CONV_JOIN},
    {"r:kafka", "encoding", "kafka", "encoding", CONV_COPY},
    {"r:kafka", "traces.encoding", "kafka", "traces_encoding", CONV_COPY},
    {"r:kafka", "metrics.encoding", "kafka", "metrics_encoding", CONV_COPY},
    {"r:kafka", "logs.encoding", "kafka", "logs_encoding", CONV_COPY},
    {"r:kafka", "group_id", "kafka", "group_id", CONV_COPY},
    {"r:kafka", "client_id", "kafka", "client_id", CONV_COPY},
    {"r:kafka", "initial_offset", "kafka", "initial_offset", CONV_COPY},
    {"r:kafka", "protocol_version", "kafka", "protocol_version", CONV_COPY},
    {"r:kafka", "session_timeout", "kafka", "session_timeout", CONV_COPY},
    {"r:kafka", "heartbeat_interval", "kafka", "heartbeat_interval", CONV_COPY},
    {"r:kafka", "header_extraction.extract_headers", "kafka.header_extraction", "extract_headers",
     CONV_COPY},
    {"r:kafka", "header_extraction.headers", "kafka.header_extraction", "headers", CONV_JOIN},
    {"*:kafka", "auth.sasl.mechanism", "kafka.auth.sasl", "mechanism", CONV_COPY},
    {"*:kafka", "auth.sasl.username", "kafka.auth.sasl", "username", CONV_COPY},
    {"*:kafka", "auth.sasl.password", "kafka.auth.sasl", "password", CONV_COPY},
    {"*:kafka", "auth.tls.ca_file", "kafka.auth.tls", "ca_file", CONV_COPY},
    {"*:kafka", "auth.tls.cert_file", "kafka.auth.tls", "cert_file", CONV_COPY},
    {"*:kafka", "auth.tls.key_file", "kafka.auth.tls", "key_file", CONV_COPY},
    {"*:kafka", "auth.tls.insecure_skip_verify", "kafka.auth.tls", "insecure_skip_verify",
     CONV_COPY},
    {"*:kafka", "tls.ca_file", "kafka.auth.tls", "ca_file", CONV_COPY},
    {"*:kafka", "tls.cert_file", "kafka.auth.tls", "cert_file", CONV_COPY},
    {"*:kafka", "tls.key_file", "kafka.auth.tls", "key_file", CONV_COPY},
    {"*:kafka", "tls.insecure_skip_verify", "kafka.auth.tls", "insecure_skip_verify", CONV_COPY},
    {"p:filter", "error_mode", "filter", "error_mode", CONV_COPY},
    {"p:filter", "traces.span", "filter", "trace_conditions", CONV_OTTL},
    {"p:filter", "metrics.metric", "filter", "metric_conditions", CONV_OTTL},
    {"p:filter", "logs.log_record", "filter", "log_conditions", CONV_OTTL},
    {"p:transform", "error_mode", "transform", "error_mode", CONV_COPY},
    {"p:tail_sampling", "decision_wait", "tail_sampling", "decision_wait", CONV_COPY},
    {"p:tail_sampling", "num_traces", "tail_sampling", "num_traces", CONV_COPY},
    {"p:tail_sampling", "decision_wait_after_root_received", "tail_sampling",
     "decision_wait_after_root_received", CONV_COPY},
    {"p:tail_sampling", "sample_on_first_match", "tail_sampling", "sample_on_first_match",
     CONV_COPY},
    {"p:tail_sampling", "maximum_trace_size_bytes", "tail_sampling", "maximum_trace_size_bytes",
     CONV_COPY},
    {"p:tail_sampling", "drop_pending_traces_on_shutdown", "tail_sampling",
     "drop_pending_traces_on_shutdown", CONV_COPY},
    {"p:tail_sampling", "decision_cache.sampled_cache_size", "tail_sampling", "sampled_cache_size",
     CONV_COPY},
    {"p:tail_sampling", "decision_cache.non_sampled_cache_size", "tail_sampling",
     "non_sampled_cache_size", CONV_COPY},
    /* otlp and otlphttp exporters (process), otlp_grpc and otlp_http as newer Collectors name
     * them. */
    {"*:otlp*", "endpoint", "exporter", "endpoint", CONV_URL},
    {"*:otlphttp*", "traces_endpoint", "exporter", "traces_endpoint", CONV_COPY},
    {"*:otlphttp*", "metrics_endpoint", "exporter", "metrics_endpoint", CONV_COPY},
    {"*:otlphttp*", "logs_endpoint", "exporter", "logs_endpoint", CONV_COPY},
    {"*:otlp_http", "traces_endpoint", "exporter", "traces_endpoint", CONV_COPY},
    {"*:otlp_http", "metrics_endpoint", "exporter", "metrics_endpoint", CONV_COPY},
    {"*:otlp_http", "logs_endpoint", "exporter", "logs_endpoint", CONV_COPY},
    {"*:otlp*", "compression", "exporter", "compression", CONV_COPY},
    {"*:otlp*", "timeout", "exporter", "timeout", CONV_COPY},
    {"*:otlp*", "headers", "exporter", "headers", CONV_PAIRS},
    {"*:otlp*", "tls.ca_file", "exporter.tls", "ca_file", CONV_COPY},
    {"*:otlp*", "tls.cert_file", "exporter.tls", "cert_file", CONV_COPY},
    {"*:otlp*", "tls.key_file", "exporter.tls", "key_file", CONV_COPY},
    {"*:otlp*", "tls.min_version", "exporter.tls", "min_version", CONV_COPY},
    {"*:otlp*", "tls.insecure_skip_verify", "exporter.tls", "insecure_skip_verify", CONV_COPY},
    {"*:otlp*", "tls.server_name_override", "exporter.tls", "server_name_override", CONV_COPY},
    {"*:otlp*", "retry_on_failure.initial_interval", "exporter.retry", "initial_interval",
     CONV_COPY},
    {"*:otlp*", "retry_on_failure.max_interval", "exporter.retry", "max_interval", CONV_COPY},
    {"*:otlp*", "retry_on_failure.multiplier", "exporter.retry", "multiplier", CONV_COPY},
    {"*:otlp*", "retry_on_failure.randomization_factor", "exporter.retry", "randomization_factor",
     CONV_COPY},
    {"*:otlp*", "retry_on_failure.max_elapsed_time", "exporter.retry", "max_elapsed_time",
     CONV_COPY},
    /* Each of the Collector's queue consumers sends one request at a time. */
    {"*:otlp*", "sending_queue.num_consumers", "exporter", "max_in_flight", CONV_CONSUMERS},
};

/* Settings kotel knows but does differently: the reason printed instead of "no such setting";
 * a NULL reason: carried over by another rule, nothing to report. */
struct why {
    const char *type, *path, *why;
};

#define NO_QUEUE                                                                                   \
    "kotel-process has no sending queue: Kafka holds what is not yet exported (offsets are "       \
    "committed after export; [kafka] max_pending_messages bounds what is read ahead)"

static const struct why whys[] = {
    {"*:otlp*", "sending_queue.enabled", NULL}, /* read with num_consumers */
    {"*:otlp*", "sending_queue.queue_size", NO_QUEUE},
    {"*:otlp*", "sending_queue.sizer", NO_QUEUE},
    {"*:otlp*", "sending_queue.blocking", NO_QUEUE},
    {"*:otlp*", "sending_queue.block_on_overflow", NO_QUEUE},
    {"*:otlp*", "sending_queue.wait_for_result", NO_QUEUE},
    {"*:otlp*", "sending_queue.storage",
     "Kafka is kotel-process's persistent queue: what is not exported is read again after a "
     "restart"},
    {"*:otlp*", "sending_queue.batch",
     "kotel-process batches in [exporter] send_batch_size/send_batch_timeout"},
    {"*:otlp*", "sending_queue.concurrency_controller",
     "kotel has no adaptive concurrency: [exporter] max_in_flight is fixed"},
    {"*:otlp*", "tls.insecure", NULL},
    {"*:otlp*", "retry_on_failure.enabled",
     "kotel always retries (bounded by "
     "[exporter.retry] max_elapsed_time)"},
};

struct ctx {
    const char *src;
    FILE *report;
    int *dropped;
    struct cfgi_ini *ini;
    struct kt_err *err;
    const struct cfgi_node *comp; /* the component being walked */
    const struct cfgi_node *root; /* the whole configuration: extensions are looked up there */
    /* The extensions an auth block named (translated, or reported there): not reported
     * again with the unused ones. */
    const char *used_ext[8];
    size_t n_used_ext;
    const char *receiver_auth; /* the extension [receiver.auth] came from, or NULL */
};

static void drop(struct ctx *c, int line, const char *path, const char *why)
{
    fprintf(c->report, "%s:%d: %s: %s\n", c->src, line, path, why);
    (*c->dropped)++;
}

/* Does pattern ("r:otlp", "*:otlp*") match kind:type? */
static int type_match(const char *pattern, char kind, const char *type)
{
    size_t n = strlen(pattern + 2);

    if (pattern[0] != '*' && pattern[0] != kind)
        return 0;
    if (n && pattern[2 + n - 1] == '*')
        return strncmp(pattern + 2, type, n - 1) == 0;
    return strcmp(pattern + 2, type) == 0;
}

/* The Collector's ${env:X} (and ${X}) becomes kotel's ${X}; kt_config expands both forms'
 * result the same way. Returns a malloc'd string. */
static char *env_fix(const char *v)
{
    size_t len = strlen(v);
    char *out = malloc(len + 1), *o = out;

    if (!out)
        return NULL;
    while (*v) {
        if (strncmp(v, "${env:", 6) == 0) {
            *o++ = '$';
            *o++ = '{';
            v += 6;
            continue;
        }
        *o++ = *v++;
    }
    *o = '\0';
    return out;
}

static int add_kv(struct ctx *c, const char *section, const char *key, const char *value)
{
    char *v = env_fix(value);
    int rc;

    if (!v)
        return kt_err_set(c->err, KT_ENOMEM, "out of memory translating");
    rc = cfgi_ini_add(c->ini, section, key, v, c->err);
    free(v);
    return rc;
}

static int add(struct ctx *c, const struct rule *r, const char *value)
{
    return add_kv(c, r->section, r->key, value);
}

/* Does OTTL condition v start with a path in a named context (span.name, resource.attributes)? */
static int is_ident(int ch, bool first)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (!first && ch >= '0' && ch <= '9');
}

/* The Collector's filter reads bare paths (attributes["x"], name) in the context its list
 * names (traces.span: span); kotel's flat conditions name the context in every path. Copies
 * src to out with ctx and a dot before each bare path, and instrumentation_scope (the older
 * name) as scope. A path is an identifier that starts an operand: not after a dot, not a
 * function name (a '(' follows), not a named argument (a single '=' follows), not an enum
 * (upper case), not a keyword; string literals are copied as they are. Returns 0, or -1 when
 * out is too small. */
static int prefix_bare_paths(const char *src, const char *ctx, char *out, size_t cap)
{
    static const char *const keep[] = {"resource",  "scope", "span", "spanevent", "metric",
                                       "datapoint", "log",   "and",  "or",        "not",
                                       "true",      "false", "nil",  "cache"};
    size_t n = 0;
    char prev = ' ';
    for (const char *p = src; *p;) {
        const char *from = p;
        const char *add = NULL;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else if (is_ident((unsigned char)*p, true)) {
            while (is_ident((unsigned char)*p, false))
                p++;
            size_t len = (size_t)(p - from);
            const char *q = p;
            while (*q == ' ')
                q++;
            bool upper = true;
            for (const char *k = from; k < p; k++)
                upper = upper && !(*k >= 'a' && *k <= 'z');
            bool path = prev != '.' && *q != '(' && !(q[0] == '=' && q[1] != '=') && !upper;
            for (size_t i = 0; path && i < sizeof(keep) / sizeof(keep[0]); i++)
                path = !(strlen(keep[i]) == len && strncmp(keep[i], from, len) == 0);
            if (path && len == 21 && strncmp(from, "instrumentation_scope", len) == 0) {
                from = p; /* replaced whole */
                add = "scope";
            } else if (path) {
                add = ctx;
            }
        } else {
            p++;
        }
        if (add != NULL) {
            size_t an = strlen(add) + (from == p ? 0 : 1);
            if (n + an >= cap)
                return -1;
            memcpy(out + n, add, strlen(add));
            if (from != p)
                out[n + an - 1] = '.';
            n += an;
        }
        if (n + (size_t)(p - from) >= cap)
            return -1;
        memcpy(out + n, from, (size_t)(p - from));
        n += (size_t)(p - from);
        if (p > from)
            prev = p[-1];
        while (*p == ' ' && n + 1 < cap) {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return 0;
}

/* sending_queue.num_consumers: as many requests in flight, within kotel's 1..64 (a value
 * out of range is clamped, and reported). With the queue disabled the Collector ignores it
 * too. A non-number (${env:X}) is copied for the tier's --check to judge. */
static int apply_consumers(struct ctx *c, const struct rule *r, const struct cfgi_node *n,
                           const char *path)
{
    enum { MIN_IN_FLIGHT = 1, MAX_IN_FLIGHT = 64 };
    const struct cfgi_node *on = cfgi_node_get(cfgi_node_get(c->comp, "sending_queue"), "enabled");
    char buf[32], why[160];
    char *end = NULL;

    if (n->kind != CFGI_SCALAR) {
        drop(c, n->line, path, "expected a single value");
        return 0;
    }
    if (on && on->kind == CFGI_SCALAR && strcmp(on->value, "false") == 0) {
        drop(c, n->line, path,
             "ignored, as by the Collector: sending_queue.enabled is false ([exporter] "
             "max_in_flight keeps its default)");
        return 0;
    }
    long long v = strtoll(n->value, &end, 10);
    if (end == n->value || *end != '\0')
        return add(c, r, n->value);
    if (v >= MIN_IN_FLIGHT && v <= MAX_IN_FLIGHT)
        return add(c, r, n->value);
    v = v < MIN_IN_FLIGHT ? MIN_IN_FLIGHT : MAX_IN_FLIGHT;
    snprintf(why, sizeof(why), "%s consumers: [exporter] max_in_flight is %d..%d; set to %lld",
             n->value, MIN_IN_FLIGHT, MAX_IN_FLIGHT, v);
    drop(c, n->line, path, why);
    snprintf(buf, sizeof(buf), "%lld", v);
    return add(c, r, buf);
}

static int apply(struct ctx *c, const struct rule *r, const struct cfgi_node *n, const char *path)
{
    char buf[1024];
    size_t used = 0;
    int rc = 0;

    switch (r->conv) {
    case CONV_COPY:
    case CONV_MIB:
    case CONV_ACKS:
        if (n->kind != CFGI_SCALAR) {
            drop(c, n->line, path, "expected a single value");
            return 0;
        }
        if (r->conv == CONV_MIB) {
            snprintf(buf, sizeof(buf), "%sMiB", n->value);
            return add(c, r, buf);
        }
        if (r->conv == CONV_ACKS && strcmp(n->value, "-1") == 0)
            return add(c, r, "all");
        return add(c, r, n->value);
    case CONV_CONSUMERS: return apply_consumers(c, r, n, path);
    case CONV_URL:
        if (n->kind != CFGI_SCALAR) {
            drop(c, n->line, path, "expected a single value");
            return 0;
        }
        if (!strstr(n->value, "://")) {
            /* The Collector's gRPC endpoint is host:port; tls.insecure says plaintext. */
            const struct cfgi_node *in = cfgi_node_get(cfgi_node_get(c->comp, "tls"), "insecure");
            int plain = in && in->kind == CFGI_SCALAR && strcmp(in->value, "true") == 0;
            snprintf(buf, sizeof(buf), "%s%s", plain ? "http://" : "https://", n->value);
            return add(c, r, buf);
        }
        return add(c, r, n->value);
    case CONV_JOIN:
        if (n->kind == CFGI_SCALAR)
            return add(c, r, n->value);
        for (const struct cfgi_node *i = n->child; i; i = i->next) {
            if (i->kind != CFGI_SCALAR || used + strlen(i->value) + 2 > sizeof(buf)) {
                drop(c, i->line, path, "expected a list of host:port values");
                return 0;
            }
            used +=
                (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? "," : "", i->value);
        }
        return add(c, r, buf);
    case CONV_EACH:
    case CONV_OTTL:
        if (n->kind != CFGI_SEQ) {
            drop(c, n->line, path, "expected a list");
            return 0;
        }
        for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next) {
            if (i->kind != CFGI_SCALAR)
                drop(c, i->line, path, "expected a string");
            else if (r->conv == CONV_OTTL) {
                const char *ctx = strncmp(r->key, "trace", 5) == 0    ? "span"
                                  : strncmp(r->key, "metric", 6) == 0 ? "metric"
                                                                      : "log";
                if (prefix_bare_paths(i->value, ctx, buf, sizeof(buf)) != 0)
                    drop(c, i->line, path, "condition too long to translate");
                else
                    rc = add(c, r, buf);
            } else {
                rc = add(c, r, i->value);
            }
        }
        return rc;
    case CONV_PAIRS:
        if (n->kind != CFGI_MAP) {
            drop(c, n->line, path, "expected a mapping of header names to values");
            return 0;
        }
        for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next) {
            if (i->kind != CFGI_SCALAR) {
                drop(c, i->line, path, "expected a string value");
                continue;
            }
            snprintf(buf, sizeof(buf), "%s=%s", i->key, i->value);
            rc = add(c, r, buf);
        }
        return rc;
    }
    return 0;
}

/* ---- settings that become sections of their own ---- */

/* A path for a message (or a section name); one too long is cut. */
static void pathf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* "transform/a" as a part of a section name: "transform-a". */
static void name_part(const char *comp_path, char *out, size_t cap)
{
    const char *dot = strchr(comp_path, '.');
    snprintf(out, cap, "%s", dot ? dot + 1 : comp_path);
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == '.' || *p == ']' || *p == ' ')
            *p = '-';
}

/* A sequence of scalars, one repeated key per item (a lone scalar is one item). */
static int add_each(struct ctx *c, const char *section, const char *key, const struct cfgi_node *n,
                    const char *path)
{
    int rc = 0;

    if (n->kind == CFGI_SCALAR)
        return add_kv(c, section, key, n->value);
    if (n->kind != CFGI_SEQ) {
        drop(c, n->line, path, "expected a list of values");
        return 0;
    }
    for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next) {
        if (i->kind != CFGI_SCALAR)
            drop(c, i->line, path, "expected a value");
        else
            rc = add_kv(c, section, key, i->value);
    }
    return rc;
}

/* transform's trace_statements (metric_, log_): a plain statement stays in [transform] (its
 * paths name their context, as the Collector's flat statements must); a group (context,
 * conditions, statements, error_mode) becomes [transform.group.<component>-<signal>-<n>]. */
static int translate_statements(struct ctx *c, const char *comp_path, const char *rel,
                                const struct cfgi_node *n, const char *path)
{
    const char *signal = strcmp(rel, "trace_statements") == 0    ? "traces"
                         : strcmp(rel, "metric_statements") == 0 ? "metrics"
                                                                 : "logs";
    char comp[128], section[256], sub[600];
    int idx = 0, rc = 0;

    if (n->kind != CFGI_SEQ) {
        drop(c, n->line, path, "expected a list of statements or statement groups");
        return 0;
    }
    name_part(comp_path, comp, sizeof(comp));
    for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next) {
        idx++;
        if (i->kind == CFGI_SCALAR) {
            rc = add_kv(c, "transform", rel, i->value);
            continue;
        }
        if (i->kind != CFGI_MAP) {
            drop(c, i->line, path, "expected a statement or a statement group");
            continue;
        }
        pathf(section, sizeof(section), "transform.group.%s-%s-%d", comp, signal, idx);
        rc = add_kv(c, section, "signal", signal);
        for (const struct cfgi_node *k = i->child; k && rc == 0; k = k->next) {
            pathf(sub, sizeof(sub), "%s[%d].%s", path, idx - 1, k->key);
            if (strcmp(k->key, "context") == 0 || strcmp(k->key, "error_mode") == 0) {
                if (k->kind != CFGI_SCALAR)
                    drop(c, k->line, sub, "expected a single value");
                else
                    rc = add_kv(c, section, k->key, k->value);
            } else if (strcmp(k->key, "statements") == 0 || strcmp(k->key, "conditions") == 0) {
                rc = add_each(c, section, k->key, k, sub);
            } else {
                drop(c, k->line, sub, "kotel has no such setting");
            }
        }
    }
    return rc;
}

/* Policy settings kotel does differently (type.key). */
static const struct why policy_whys[] = {
    {"rate_limiting", "burst_capacity",
     "kotel's rate_limiting budget is per second of decision time, with no burst"},
};

static int translate_policy(struct ctx *c, const char *prefix, const struct cfgi_node *p,
                            const char *path, char *name, size_t cap);

/* The sub-policies of an and / drop / not / composite (a list, or not's single one): each a
 * section of its own named "<parent>-<name>"; their names joined in *names. */
static int sub_policies(struct ctx *c, const char *parent, const struct cfgi_node *n,
                        const char *path, char *names, size_t cap)
{
    char sub[600], name[256];
    size_t used = 0;
    int idx = 0, rc = 0;

    names[0] = '\0';
    if (n->kind == CFGI_MAP)
        return translate_policy(c, parent, n, path, names, cap);
    if (n->kind != CFGI_SEQ) {
        drop(c, n->line, path, "expected a list of policies");
        return 0;
    }
    for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next, idx++) {
        pathf(sub, sizeof(sub), "%s[%d]", path, idx);
        name[0] = '\0';
        rc = translate_policy(c, parent, i, sub, name, sizeof(name));
        if (rc == 0 && name[0] && used + strlen(name) + 3 < cap)
            used += (size_t)snprintf(names + used, cap - used, "%s%s", used ? ", " : "", name);
    }
    return rc;
}

/* One policy of tail_sampling's list (name, type, and the block named by its type) as the
 * section [tail_sampling.policy.<prefix><name>]; its section name in name ("" if it could
 * not be translated, which is reported). */
static int translate_policy(struct ctx *c, const char *prefix, const struct cfgi_node *p,
                            const char *path, char *name, size_t cap)
{
    const struct cfgi_node *nn = cfgi_node_get(p, "name"), *tn = cfgi_node_get(p, "type");
    char section[300], sub[600], parent[256], names[1024];
    int rc = 0;

    name[0] = '\0';
    if (p->kind != CFGI_MAP || !nn || nn->kind != CFGI_SCALAR || !tn || tn->kind != CFGI_SCALAR) {
        drop(c, p->line, path, "expected a policy with a name and a type");
        return 0;
    }
    pathf(name, cap, "%s%s", prefix, nn->value);
    for (char *q = name; *q; q++)
        if (*q == ']' || *q == ',' || *q == '=' || *q == ' ')
            *q = '-';
    pathf(section, sizeof(section), "tail_sampling.policy.%s", name);
    snprintf(parent, sizeof(parent), "%s-", name);
    rc = add_kv(c, section, "type", tn->value);
    for (const struct cfgi_node *k = p->child; k && rc == 0; k = k->next) {
        if (strcmp(k->key, "name") == 0 || strcmp(k->key, "type") == 0)
            continue;
        pathf(sub, sizeof(sub), "%s.%s", path, k->key);
        if (strcmp(k->key, tn->value) != 0) {
            drop(c, k->line, sub, "not the block of the policy's type: kotel has no such setting");
            continue;
        }
        if (k->kind != CFGI_MAP) {
            if (!(k->kind == CFGI_SCALAR && k->value[0] == '\0'))
                drop(c, k->line, sub, "expected the policy's settings");
            continue;
        }
        for (const struct cfgi_node *s = k->child; s && rc == 0; s = s->next) {
            char ssub[700];
            size_t kl = strlen(s->key);
            int why = 0;

            pathf(ssub, sizeof(ssub), "%s.%s", sub, s->key);
            for (size_t w = 0; w < sizeof(policy_whys) / sizeof(policy_whys[0]); w++)
                if (strcmp(policy_whys[w].type, tn->value) == 0 &&
                    strcmp(policy_whys[w].path, s->key) == 0) {
                    drop(c, s->line, ssub, policy_whys[w].why);
                    why = 1;
                }
            if (why)
                continue;
            if (kl > 11 && strcmp(s->key + kl - 11, "_sub_policy") == 0) {
                rc = sub_policies(c, parent, s, ssub, names, sizeof(names));
                if (rc == 0 && names[0])
                    rc = add_kv(c, section, s->key, names);
            } else if (strcmp(s->key, "policy_order") == 0 && s->kind == CFGI_SEQ) {
                for (const struct cfgi_node *i = s->child; i && rc == 0; i = i->next) {
                    char full[300];
                    if (i->kind != CFGI_SCALAR) {
                        drop(c, i->line, ssub, "expected a policy name");
                        continue;
                    }
                    pathf(full, sizeof(full), "%s%s", parent, i->value);
                    rc = add_kv(c, section, s->key, full);
                }
            } else if (strcmp(s->key, "rate_allocation") == 0 && s->kind == CFGI_SEQ) {
                for (const struct cfgi_node *i = s->child; i && rc == 0; i = i->next) {
                    const struct cfgi_node *pol = cfgi_node_get(i, "policy"),
                                           *pct = cfgi_node_get(i, "percent");
                    char v[320];
                    if (!pol || !pct || pol->kind != CFGI_SCALAR || pct->kind != CFGI_SCALAR) {
                        drop(c, i->line, ssub, "expected a policy and a percent");
                        continue;
                    }
                    pathf(v, sizeof(v), "%s%s=%s", parent, pol->value, pct->value);
                    rc = add_kv(c, section, s->key, v);
                }
            } else {
                rc = add_each(c, section, s->key, s, ssub);
            }
        }
    }
    return rc;
}

static int translate_policies(struct ctx *c, const struct cfgi_node *n, const char *path)
{
    char sub[600], name[256];
    int idx = 0, rc = 0;

    if (n->kind != CFGI_SEQ) {
        drop(c, n->line, path, "expected a list of policies");
        return 0;
    }
    for (const struct cfgi_node *i = n->child; i && rc == 0; i = i->next, idx++) {
        pathf(sub, sizeof(sub), "%s[%d]", path, idx);
        rc = translate_policy(c, "", i, sub, name, sizeof(name));
    }
    return rc;
}

/* The scalar under key of map n, or NULL. */
static const char *scalar(const struct cfgi_node *n, const char *key)
{
    const struct cfgi_node *v = cfgi_node_get(n, key);
    return v && v->kind == CFGI_SCALAR ? v->value : NULL;
}

/* Reports every key of extension ext other than those in known (NULL-terminated). */
static void drop_other_keys(struct ctx *c, const struct cfgi_node *ext, const char *ext_path,
                            const char *const *known, const char *why)
{
    for (const struct cfgi_node *k = ext->child; k; k = k->next) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k->key, known[i]) == 0;
        if (!ok) {
            char p[400];
            pathf(p, sizeof(p), "%s.%s", ext_path, k->key);
            drop(c, k->line, p, why);
        }
    }
}

/* An `auth: {authenticator: NAME}` block of the otlp receiver (kind 'r': kotel-ingest's
 * [receiver.auth]) or of an otlp exporter ('e': [exporter] headers), from the extension NAME
 * at the top level. Translated: bearertokenauth (token, filename, scheme) both ways, basicauth's
 * client_auth with literal credentials and headers_setter's literal values for an exporter.
 * The rest is reported with what to write by hand. */
static int translate_auth(struct ctx *c, char kind, const struct cfgi_node *n, const char *path)
{
    static const char *const bearer_keys[] = {"token", "filename", "scheme", NULL};
    const char *name = scalar(n, "authenticator");
    char ext_path[300], v[1024];
    int rc = 0;

    for (const struct cfgi_node *k = n->kind == CFGI_MAP ? n->child : NULL; k; k = k->next)
        if (strcmp(k->key, "authenticator") != 0) {
            pathf(ext_path, sizeof(ext_path), "%s.%s", path, k->key);
            drop(c, k->line, ext_path, "kotel has no such setting");
        }
    if (name == NULL) {
        drop(c, n->line, path, "expected authenticator: NAME");
        return 0;
    }
    if (c->n_used_ext < sizeof(c->used_ext) / sizeof(c->used_ext[0]))
        c->used_ext[c->n_used_ext++] = name;
    if (kind == 'r' && c->receiver_auth != NULL) {
        /* grpc and http share kotel-ingest's [receiver.auth]. */
        if (strcmp(c->receiver_auth, name) != 0)
            drop(c, n->line, path,
                 "kotel-ingest has one [receiver.auth] for both protocols: the other "
                 "protocol's authenticator was translated");
        return 0;
    }
    const struct cfgi_node *ext = cfgi_node_get(cfgi_node_get(c->root, "extensions"), name);
    pathf(ext_path, sizeof(ext_path), "extensions.%s", name);
    if (ext == NULL || ext->kind != CFGI_MAP) {
        drop(c, n->line, path, "the authenticator's extension is not configured (or empty)");
        return 0;
    }
    size_t tl = strcspn(name, "/");
    bool bearer = tl == 15 && strncmp(name, "bearertokenauth", tl) == 0;
    bool basic = tl == 9 && strncmp(name, "basicauth", tl) == 0;
    bool setter = tl == 14 && strncmp(name, "headers_setter", tl) == 0;
    const char *scheme = scalar(ext, "scheme") ? scalar(ext, "scheme") : "Bearer";
    if (kind == 'r' && bearer) {
        /* The Collector's token file holds one token; kotel's file takes one per line. */
        if (scalar(ext, "token"))
            rc = add_kv(c, "receiver.auth", "bearer_token", scalar(ext, "token"));
        if (rc == 0 && scalar(ext, "filename"))
            rc = add_kv(c, "receiver.auth", "bearer_tokens_file", scalar(ext, "filename"));
        if (rc == 0 && scalar(ext, "scheme"))
            rc = add_kv(c, "receiver.auth", "scheme", scheme);
        drop_other_keys(c, ext, ext_path, bearer_keys,
                        "not translated: kotel-ingest takes one bearer_token, or a "
                        "bearer_tokens_file with one token a line");
        c->receiver_auth = name;
    } else if (kind == 'e' && bearer && scalar(ext, "token")) {
        pathf(v, sizeof(v), "Authorization=%s %s", scheme, scalar(ext, "token"));
        rc = add_kv(c, "exporter", "headers", v);
        drop_other_keys(c, ext, ext_path, bearer_keys,
                        "not translated: set [exporter] headers = Authorization=... by hand");
        if (scalar(ext, "filename"))
            drop(c, cfgi_node_get(ext, "filename")->line, ext_path,
                 "filename: the token file is not read at import; token was used");
    } else if (kind == 'e' && basic) {
        const struct cfgi_node *ca = cfgi_node_get(ext, "client_auth");
        const char *user = scalar(ca, "username"), *pass = scalar(ca, "password");
        if (user && pass && !strstr(user, "${") && !strstr(pass, "${") &&
            strlen(user) + strlen(pass) < 256) {
            char plain[258], b64[360];
            size_t pn = (size_t)snprintf(plain, sizeof(plain), "%s:%s", user, pass);
            kt_base64_encode((const uint8_t *)plain, pn, b64);
            pathf(v, sizeof(v), "Authorization=Basic %s", b64);
            rc = add_kv(c, "exporter", "headers", v);
        } else {
            drop(c, ext->line, ext_path,
                 "basicauth with credentials from the environment or a file: set [exporter] "
                 "headers = Authorization=Basic <base64 of user:password> by hand");
        }
    } else if (kind == 'e' && setter) {
        const struct cfgi_node *hs = cfgi_node_get(ext, "headers");
        for (const struct cfgi_node *h = hs ? hs->child : NULL; h && rc == 0; h = h->next) {
            const char *key = scalar(h, "key"), *value = scalar(h, "value");
            if (key && value) {
                pathf(v, sizeof(v), "%s=%s", key, value);
                rc = add_kv(c, "exporter", "headers", v);
            } else {
                drop(c, h->line, ext_path,
                     "a header from the request context or an attribute: not translated");
            }
        }
    } else {
        drop(c, ext->line, ext_path,
             kind == 'r' ? "kotel-ingest authenticates bearer tokens only ([receiver.auth])"
                         : "kotel-process sends static or file-read headers only ([exporter] "
                           "headers)");
    }
    return rc;
}

/* Walks component configuration n (path so far in path), applying every rule that names it
 * and reporting each leaf no rule names. */
static int walk(struct ctx *c, char kind, const char *type, const char *comp_path, const char *rel,
                const struct cfgi_node *n)
{
    char path[512];
    int matched = 0, rc = 0;

    snprintf(path, sizeof(path), "%s%s%s", comp_path, *rel ? "." : "", rel);
    if (kind == 'p' && strcmp(type, "tail_sampling") == 0 && strcmp(rel, "policies") == 0)
        return translate_policies(c, n, path);
    if (kind == 'p' && strcmp(type, "transform") == 0 &&
        (strcmp(rel, "trace_statements") == 0 || strcmp(rel, "metric_statements") == 0 ||
         strcmp(rel, "log_statements") == 0))
        return translate_statements(c, comp_path, rel, n, path);
    if ((kind == 'r' &&
         (strcmp(rel, "protocols.grpc.auth") == 0 || strcmp(rel, "protocols.http.auth") == 0)) ||
        (kind == 'e' && strncmp(type, "otlp", 4) == 0 && strcmp(rel, "auth") == 0))
        return translate_auth(c, kind, n, path);
    for (size_t i = 0; i < sizeof(whys) / sizeof(whys[0]); i++)
        if (type_match(whys[i].type, kind, type) && strcmp(whys[i].path, rel) == 0) {
            if (whys[i].why) /* NULL: read by another rule (tls.insecure: the endpoint's scheme) */
                drop(c, n->line, path, whys[i].why);
            return 0;
        }
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && rc == 0; i++)
        if (type_match(rules[i].type, kind, type) && strcmp(rules[i].path, rel) == 0) {
            matched = 1;
            rc = apply(c, &rules[i], n, path);
        }
    if (matched || rc < 0)
        return rc;
    if (n->kind == CFGI_MAP) {
        for (const struct cfgi_node *ch = n->child; ch && rc == 0; ch = ch->next) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "." : "", ch->key);
            rc = walk(c, kind, type, comp_path, sub, ch);
        }
        return rc;
    }
    if (n->kind == CFGI_SCALAR && n->value[0] == '\0' && *rel)
        return 0; /* `grpc:` with no value: the defaults, which kotel has too */
    drop(c, n->line, path, "kotel has no such setting");
    return 0;
}

/* Does the sequence n hold a scalar whose type (before any '/') is type? */
static int seq_has_type(const struct cfgi_node *n, const char *type)
{
    size_t tl = strlen(type);

    for (const struct cfgi_node *i = n ? n->child : NULL; i; i = i->next)
        if (i->kind == CFGI_SCALAR && strncmp(i->value, type, tl) == 0 &&
            (i->value[tl] == '\0' || i->value[tl] == '/'))
            return 1;
    return 0;
}

static int in_pipelines(const struct cfgi_node *pipelines, const char *list, const char *name)
{
    for (const struct cfgi_node *p = pipelines->child; p; p = p->next) {
        const struct cfgi_node *l = cfgi_node_get(p, list);
        for (const struct cfgi_node *i = l ? l->child : NULL; i; i = i->next)
            if (i->kind == CFGI_SCALAR && strcmp(i->value, name) == 0)
                return 1;
    }
    return 0;
}

/* The component types each tier runs; anything else is reported. */
static int tier_has(enum cfgi_tier tier, char kind, const char *type)
{
    static const char *const ingest[] = {"r:otlp", "p:batch", "e:kafka"};
    static const char *const process[] = {"r:kafka",         "p:filter",    "p:transform",
                                          "p:tail_sampling", "p:batch",     "e:otlp",
                                          "e:otlphttp",      "e:otlp_grpc", "e:otlp_http"};
    const char *const *t = tier == CFGI_TIER_INGEST ? ingest : process;
    size_t n = tier == CFGI_TIER_INGEST ? sizeof(ingest) / sizeof(ingest[0])
                                        : sizeof(process) / sizeof(process[0]);

    for (size_t i = 0; i < n; i++)
        if (t[i][0] == kind && strcmp(t[i] + 2, type) == 0)
            return 1;
    return 0;
}

static int components(struct ctx *c, enum cfgi_tier tier, const struct cfgi_node *root,
                      const struct cfgi_node *pipelines, const char *list, char kind)
{
    const struct cfgi_node *sect = cfgi_node_get(root, list);
    int rc = 0;

    if (sect && sect->kind != CFGI_MAP) {
        drop(c, sect->line, list, "expected a mapping of component names to settings");
        return 0;
    }

    for (const struct cfgi_node *comp = sect ? sect->child : NULL; comp && rc == 0;
         comp = comp->next) {
        char type[128], path[256];
        const char *slash = strchr(comp->key, '/');
        size_t tl = slash ? (size_t)(slash - comp->key) : strlen(comp->key);

        snprintf(type, sizeof(type), "%.*s", (int)tl, comp->key);
        snprintf(path, sizeof(path), "%s.%s", list, comp->key);
        if (!in_pipelines(pipelines, list, comp->key))
            drop(c, comp->line, path, "not used in any pipeline");
        else if (tier == CFGI_TIER_PROCESS && strcmp(type, "batch") == 0)
            drop(c, comp->line, path,
                 "kotel-process batches in [exporter] send_batch_size/send_batch_timeout");
        else if (!tier_has(tier, kind, type))
            drop(c, comp->line, path,
                 tier == CFGI_TIER_INGEST ? "kotel-ingest has no such component"
                                          : "kotel-process has no such component");
        else {
            if (kind == 'e' && strncmp(type, "otlp", 4) == 0)
                rc = cfgi_ini_add(c->ini, "exporter", "protocol",
                                  strcmp(type, "otlphttp") == 0 || strcmp(type, "otlp_http") == 0
                                      ? "http/protobuf"
                                      : "grpc",
                                  c->err);
            if (rc == 0) {
                c->comp = comp;
                rc = walk(c, kind, type, path, "", comp);
            }
        }
    }
    return rc;
}

int cfgi_translate(const struct cfgi_node *root, const char *src, enum cfgi_tier *tier,
                   struct cfgi_ini *ini, FILE *report, int *dropped, struct kt_err *err)
{
    struct ctx c = {src, report, dropped, ini, err, NULL, root, {NULL}, 0, NULL};
    const struct cfgi_node *service = cfgi_node_get(root, "service");
    const struct cfgi_node *pipelines = cfgi_node_get(service, "pipelines");
    int ingest = 0, process = 0, rc;

    if (!pipelines || pipelines->kind != CFGI_MAP || !pipelines->child)
        return kt_err_set(err, KT_EINVAL,
                          "%s: no service.pipelines: not a Collector "
                          "configuration kotel-config can translate",
                          src);
    for (const struct cfgi_node *p = pipelines->child; p; p = p->next) {
        ingest |= seq_has_type(cfgi_node_get(p, "exporters"), "kafka");
        process |= seq_has_type(cfgi_node_get(p, "receivers"), "kafka");
    }
    if (*tier == CFGI_TIER_AUTO) {
        if (ingest == process)
            return kt_err_set(err, KT_EINVAL, "%s: %s: pass --tier ingest or --tier process", src,
                              ingest ? "pipelines both export to and receive from Kafka"
                                     : "no pipeline exports to or receives from Kafka");
        *tier = ingest ? CFGI_TIER_INGEST : CFGI_TIER_PROCESS;
    }
    rc = components(&c, *tier, root, pipelines, "receivers", 'r');
    if (rc == 0)
        rc = components(&c, *tier, root, pipelines, "processors", 'p');
    if (rc == 0)
        rc = components(&c, *tier, root, pipelines, "exporters", 'e');
    for (const struct cfgi_node *n = root->child; n && rc == 0; n = n->next) {
        if (strcmp(n->key, "extensions") == 0 && n->kind == CFGI_MAP) {
            /* Each one an auth block did not translate. */
            for (const struct cfgi_node *e = n->child; e; e = e->next) {
                bool used = false;
                for (size_t i = 0; i < c.n_used_ext && !used; i++)
                    used = strcmp(c.used_ext[i], e->key) == 0;
                if (!used) {
                    char p[300];
                    pathf(p, sizeof(p), "extensions.%s", e->key);
                    drop(&c, e->line, p, "not translated (kotel has no extensions)");
                }
            }
        } else if (strcmp(n->key, "receivers") && strcmp(n->key, "processors") &&
                   strcmp(n->key, "exporters") && strcmp(n->key, "service")) {
            drop(&c, n->line, n->key, "not translated (kotel has no extensions or connectors)");
        }
    }
    return rc;
}
