#include "conf.h"

#include "kt_admin.h"
#include "kt_log.h"
#include "ottl/ottl.h"
#include "pipeline.h"
#include "sampling_policy.h"
#include "topics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct process_conf, f)

static const struct kt_option process_options[] = {
    KT_KAFKA_BROKERS_OPTION(struct process_conf),
    {"kafka", "group_id", KT_OPT_STRING, "otel-collector", OFF(kafka.group_id), NULL, 0,
     "Consumer group shared by every replica."},
    KT_KAFKA_CLIENT_OPTIONS(struct process_conf, "kotel-process"),
    {"kafka", "initial_offset", KT_OPT_ENUM, "latest", OFF(kafka.initial_offset), "latest|earliest",
     0,
     "Where a group with no committed offset starts.\n"
     "latest: at the end of each partition; earliest: at its start, draining the backlog."},
    KT_KAFKA_TOPIC_OPTIONS(
        struct process_conf,
        "Topics for traces: one, a comma-separated list, or one ^regex; empty turns traces off.\n"
        "A ^regex (PCRE2, as the Collector's kafka receiver) is matched against the cluster's "
        "topics, looked for again every 10s: a matching topic created later is consumed too "
        "(logged). Names starting with __ never match. A topic may belong to one signal only. "
        "For example:\n"
        " traces_topic = otlp_spans, otlp_spans_legacy\n"
        " traces_topic = ^otlp_spans_.*",
        "Topics for metrics: one, a list, or one ^regex; empty turns metrics off.",
        "Topics for logs: one, a list, or one ^regex; empty turns logs off."),
    {"kafka", "traces_exclude_topics", KT_OPT_LIST, NULL, OFF(kafka.traces_exclude_topics), NULL, 0,
     "Topics a ^regex traces_topic does not read: names, or ^regexes.\n"
     "Only beside a ^regex traces_topic. Items are split at commas, so a ^regex here holds "
     "none. For example:\n"
     " traces_exclude_topics = otlp_spans_test, ^otlp_spans_dev_"},
    {"kafka", "metrics_exclude_topics", KT_OPT_LIST, NULL, OFF(kafka.metrics_exclude_topics), NULL,
     0, "Topics a ^regex metrics_topic does not read: names, or ^regexes."},
    {"kafka", "logs_exclude_topics", KT_OPT_LIST, NULL, OFF(kafka.logs_exclude_topics), NULL, 0,
     "Topics a ^regex logs_topic does not read: names, or ^regexes."},
    {"kafka", "session_timeout", KT_OPT_DURATION, "10s", OFF(kafka.session_timeout_ms), "1ms..1h",
     0, "Group session timeout."},
    {"kafka", "heartbeat_interval", KT_OPT_DURATION, "3s", OFF(kafka.heartbeat_interval_ms),
     "1ms..1h", 0, "Group heartbeat interval."},
    {"kafka", "group_rebalance_strategy", KT_OPT_ENUM, "cooperative-sticky",
     OFF(kafka.group_rebalance_strategy), "cooperative-sticky|range|roundrobin", 0,
     "Partition assignment strategy."},
    {"kafka", "dead_letter_topic", KT_OPT_STRING, "", OFF(kafka.dead_letter_topic), NULL, 0,
     "Undecodable messages and permanently refused data are copied here (empty = none).\n"
     "Each copy carries kotel.error and kotel.source headers; the message is then skipped."},
    {"kafka", "max_pending_messages", KT_OPT_UINT, "10000", OFF(kafka.max_pending_messages), "1..",
     0,
     "Messages fetched but not finished before consumption pauses (not counting those the tail "
     "sampler holds: num_traces bounds those); it resumes a quarter of this below."},
    {"kafka", "lag_report_threshold", KT_OPT_UINT, "10000", OFF(kafka.lag_report_threshold), NULL,
     0,
     "Total lag (messages behind, over this replica's partitions) above which progress is logged "
     "(0 = off).\n"
     "Every 5 s while over it: messages behind, drain rate, ETA; once when it falls back under "
     "it: the backlog is drained. 10000 is a few seconds of a busy topic: a replica that keeps "
     "up stays under it, one that starts on a backlog (initial_offset = earliest, an outage) "
     "reports. Needs librdkafka's statistics, which are then on also without [admin] endpoint."},
    KT_KAFKA_PASSTHROUGH_OPTIONS(struct process_conf),
    {"kafka.header_extraction", "extract_headers", KT_OPT_BOOL, "false",
     OFF(kafka.header_extraction.extract_headers), NULL, 0,
     "Add the record headers named in headers to the resource attributes of the data in each "
     "message, as kafka.header.<name> (the kafkareceiver's header_extraction)."},
    {"kafka.header_extraction", "headers", KT_OPT_LIST, NULL, OFF(kafka.header_extraction.headers),
     NULL, 0,
     "Record header names to extract (exact match; the first header of a name counts). For "
     "example:\n"
     " headers = X-Scope-OrgID, team"},

    {"filter", "trace_conditions", KT_OPT_LIST, NULL, OFF(filter.trace_conditions), NULL,
     KT_OPT_WHOLE,
     "OTTL condition (repeatable, OR'ed); a matching span, span event or resource is dropped.\n"
     "The context comes from the path prefix. For example:\n"
     " trace_conditions = span.name == \"/healthz\"\n"
     " trace_conditions = resource.attributes[\"service.name\"] == \"noisy\""},
    {"filter", "metric_conditions", KT_OPT_LIST, NULL, OFF(filter.metric_conditions), NULL,
     KT_OPT_WHOLE,
     "OTTL condition (repeatable, OR'ed); a matching metric or data point is dropped."},
    {"filter", "log_conditions", KT_OPT_LIST, NULL, OFF(filter.log_conditions), NULL, KT_OPT_WHOLE,
     "OTTL condition (repeatable, OR'ed); a matching log record is dropped.\n"
     "For example:\n"
     " log_conditions = log.severity_number < SEVERITY_NUMBER_INFO"},
    {"filter", "error_mode", KT_OPT_ENUM, "propagate", OFF(filter.error_mode), OTTL_ERROR_MODES, 0,
     "What a condition that fails to evaluate does."},

    {"transform", "trace_statements", KT_OPT_LIST, NULL, OFF(transform.trace_statements), NULL,
     KT_OPT_WHOLE,
     "OTTL statement (repeatable, applied in order).\n"
     "Each applies to every item of its context (from the path prefix). For example:\n"
     " trace_statements = set(span.attributes[\"env\"], \"prod\") where "
     "resource.attributes[\"k8s.cluster\"] == \"c1\"\n"
     " trace_statements = delete_key(span.attributes, \"http.request.header.authorization\")"},
    {"transform", "metric_statements", KT_OPT_LIST, NULL, OFF(transform.metric_statements), NULL,
     KT_OPT_WHOLE, "OTTL statement (repeatable, applied in order)."},
    {"transform", "log_statements", KT_OPT_LIST, NULL, OFF(transform.log_statements), NULL,
     KT_OPT_WHOLE,
     "OTTL statement (repeatable, applied in order).\n"
     "For example:\n"
     " log_statements = replace_pattern(log.body, \"password=\\\\S+\", \"password=***\")"},
    {"transform", "error_mode", KT_OPT_ENUM, "ignore", OFF(transform.error_mode), OTTL_ERROR_MODES,
     0, "What a statement that fails to execute does."},

    {"tail_sampling", "enabled", KT_OPT_ENUM, "auto", OFF(tail_sampling.enabled), "auto|true|false",
     0,
     "auto: on when at least one policy is configured.\n"
     "A policy is a [tail_sampling.policy.NAME] section."},
    {"tail_sampling", "decision_wait", KT_OPT_DURATION, "30s", OFF(tail_sampling.decision_wait_ms),
     NULL, 0, "Time after a trace's first span before it is decided."},
    {"tail_sampling", "decision_wait_after_root_received", KT_OPT_DURATION, "0s",
     OFF(tail_sampling.decision_wait_after_root_received_ms), NULL, 0,
     "Time after a trace's root span (one without a parent) before it is decided, when that "
     "is sooner than decision_wait; 0s = off."},
    {"tail_sampling", "num_traces", KT_OPT_UINT, "50000", OFF(tail_sampling.num_traces),
     "1..4294967294", 0, "Traces held at once; when full the oldest is decided early."},
    {"tail_sampling", "sampled_cache_size", KT_OPT_UINT, "100000",
     OFF(tail_sampling.sampled_cache_size), "..4294967294", 0,
     "Trace IDs remembered as sampled, so late spans follow their trace."},
    {"tail_sampling", "non_sampled_cache_size", KT_OPT_UINT, "100000",
     OFF(tail_sampling.non_sampled_cache_size), "..4294967294", 0,
     "Trace IDs remembered as not sampled, so late spans are dropped too."},
    {"tail_sampling", "maximum_trace_size_bytes", KT_OPT_SIZE, "0",
     OFF(tail_sampling.maximum_trace_size_bytes), NULL, 0,
     "A trace whose spans' encoded size grows over this is not sampled, at once and without "
     "asking the policies (its later spans are dropped too); 0 = no bound."},
    {"tail_sampling", "drop_pending_traces_on_shutdown", KT_OPT_BOOL, "false",
     OFF(tail_sampling.drop_pending_traces_on_shutdown), NULL, 0,
     "false: at shutdown the traces still waiting for their decision are handed over: their "
     "Kafka messages stay uncommitted and the partition's next owner decides them on whole "
     "traces (nothing is lost; spans of those messages already exported may be exported "
     "again). true: they are dropped, as the Collector drops them, and their messages "
     "committed: a quicker hand-over without re-reads, at the cost of those traces."},
    {"tail_sampling", "sample_on_first_match", KT_OPT_BOOL, "false",
     OFF(tail_sampling.sample_on_first_match), NULL, 0,
     "Stop at the first policy (in file order, after the drop policies) that samples a trace: "
     "later ones, a rate_limiting one too, do not see it."},

    {"exporter", "endpoint", KT_OPT_STRING, "http://localhost:4317", OFF(exporter.endpoint), NULL,
     0, "OTLP backend: http://host:port or https://host:port (a path is allowed for HTTP)."},
    {"exporter", "traces_endpoint", KT_OPT_STRING, "",
     OFF(exporter.signal_endpoints[KT_SIGNAL_TRACES]), NULL, 0,
     "HTTP protocols: the whole URL traces are sent to; empty: endpoint + /v1/traces.\n"
     "It may name another origin than endpoint: each origin (scheme, host, port) gets its own "
     "connections, queue and retries."},
    {"exporter", "metrics_endpoint", KT_OPT_STRING, "",
     OFF(exporter.signal_endpoints[KT_SIGNAL_METRICS]), NULL, 0,
     "HTTP protocols: the whole URL metrics are sent to; empty: endpoint + /v1/metrics."},
    {"exporter", "logs_endpoint", KT_OPT_STRING, "", OFF(exporter.signal_endpoints[KT_SIGNAL_LOGS]),
     NULL, 0, "HTTP protocols: the whole URL logs are sent to; empty: endpoint + /v1/logs."},
    {"exporter", "protocol", KT_OPT_ENUM, "grpc", OFF(exporter.protocol),
     "grpc|http/protobuf|http/json", 0, "OTLP transport."},
    {"exporter", "compression", KT_OPT_ENUM, "gzip", OFF(exporter.compression),
     "gzip|none|zstd|snappy", 0,
     "Request compression, with the Collector's wire forms.\n"
     "HTTP: Content-Encoding gzip, zstd or snappy (a snappy block); gRPC: grpc-encoding gzip, "
     "zstd or snappy (the snappy framing format)."},
    {"exporter", "timeout", KT_OPT_DURATION, "5s", OFF(exporter.timeout_ms), NULL, 0,
     "Time allowed for one export request."},
    {"exporter", "headers", KT_OPT_LIST, NULL, OFF(exporter.headers), NULL,
     KT_OPT_SECRET | KT_OPT_WHOLE,
     "Key=Value sent with every request (repeatable).\n"
     "Values may use ${ENV}; Key=@FILE reads the value from FILE, again on SIGHUP. For example:\n"
     " headers = Authorization=Bearer ${BACKEND_TOKEN}\n"
     " headers = X-Api-Key=@/run/secrets/backend-key"},
    {"exporter", "send_batch_size", KT_OPT_UINT, "8192", OFF(exporter.send_batch_size), NULL, 0,
     "Items that trigger an export request."},
    {"exporter", "send_batch_timeout", KT_OPT_DURATION, "200ms",
     OFF(exporter.send_batch_timeout_ms), NULL, 0,
     "Longest time an item waits before its export request is sent."},
    {"exporter", "max_in_flight", KT_OPT_UINT, "1", OFF(exporter.max_in_flight), "1..64", 0,
     "Export requests in flight at once (the Collector's sending_queue num_consumers), each on "
     "a connection of its own.\n"
     "1 sends in order, one request at a time; more lets a slow or retried request not hold "
     "back the others. Offsets are still committed in order: only once everything at or "
     "below one is exported or dropped."},
    {"exporter", "headers_from_metadata", KT_OPT_LIST, NULL, OFF(exporter.headers_from_metadata),
     NULL, KT_OPT_TOKENS,
     "Request metadata keys sent as request headers (repeatable; names without case).\n"
     "A message's metadata are its Kafka record headers (kotel-ingest writes the tenant as "
     "[receiver.auth] tenant_header). Data of different values is never batched into one "
     "request (the Collector's batch metadata_keys), and each request carries the values as "
     "headers of the same names, e.g.:\n"
     " headers_from_metadata = X-Scope-OrgID"},
    {"exporter", "metadata_cardinality_limit", KT_OPT_UINT, "1000",
     OFF(exporter.metadata_cardinality_limit), "1..1000000", 0,
     "Distinct value sets of headers_from_metadata batched at once per signal; data of one "
     "more is refused (dead-lettered) and counted in "
     "kotel_process_export_metadata_refused_items_total."},

    {"exporter.tls", "ca_file", KT_OPT_STRING, "", OFF(exporter_tls.ca_file), NULL, 0,
     "https: CA bundle (PEM) the backend's certificate must chain to; empty: the system store."},
    {"exporter.tls", "cert_file", KT_OPT_STRING, "", OFF(exporter_tls.cert_file), NULL, 0,
     "https: client certificate (PEM) presented to the backend (mTLS); needs key_file."},
    {"exporter.tls", "key_file", KT_OPT_STRING, "", OFF(exporter_tls.key_file), NULL, 0,
     "https: private key of cert_file (PEM or DER, not encrypted)."},
    {"exporter.tls", "server_name_override", KT_OPT_STRING, "",
     OFF(exporter_tls.server_name_override), NULL, 0,
     "https: name sent as SNI and required in the backend's certificate; empty: the "
     "endpoint's host."},
    {"exporter.tls", "min_version", KT_OPT_ENUM, "1.2", OFF(exporter_tls.min_version), "1.2|1.3", 0,
     "https: oldest TLS version accepted."},
    {"exporter.tls", "insecure_skip_verify", KT_OPT_BOOL, "false",
     OFF(exporter_tls.insecure_skip_verify), NULL, 0,
     "https: do not verify the backend's certificate (warned about at every start).\n"
     "Never in production: the backend is not authenticated."},

    {"exporter.retry", "initial_interval", KT_OPT_DURATION, "5s", OFF(retry.initial_interval_ms),
     "1ms..", 0, "First wait before retrying a refused export."},
    {"exporter.retry", "max_interval", KT_OPT_DURATION, "30s", OFF(retry.max_interval_ms), NULL, 0,
     "Longest wait between retries."},
    {"exporter.retry", "multiplier", KT_OPT_DOUBLE, "1.5", OFF(retry.multiplier), NULL, 0,
     "Each backoff interval is the previous one times this (1 or more)."},
    {"exporter.retry", "randomization_factor", KT_OPT_DOUBLE, "0.5",
     OFF(retry.randomization_factor), NULL, 0,
     "A wait is the interval times a random factor in 1 +- this (0 to 1), so that replicas "
     "refused together do not retry together."},
    {"exporter.retry", "max_elapsed_time", KT_OPT_DURATION, "0", OFF(retry.max_elapsed_time_ms),
     NULL, 0,
     "Give up after this long (0 = retry until the backend is back).\n"
     "Meanwhile consumption pauses and nothing is committed."},

    {"limits", "memory", KT_OPT_SIZE, "0", OFF(limits.memory), NULL, 0,
     "Memory budget for held telemetry (0 = none): sampler, fetch queue, export queue; "
     "over it the oldest trace is decided early or consumption pauses.\n"
     "A quarter goes to the traces the tail sampler holds (over it the oldest trace is decided "
     "early, as when num_traces is reached), a sixteenth each to librdkafka's fetch queue and to "
     "requests waiting at the exporter (over it consumption pauses). The rest covers what is not "
     "accounted (code, libraries, buffers on the way out). Peak RSS stays under it: measured by "
     "test/integration/process-memory.test.js."},

    KT_ADMIN_OPTION(struct process_conf, "127.0.0.1:13134"),

    KT_LOG_OPTIONS(struct process_conf),

    {"service", "shutdown_timeout", KT_OPT_DURATION, "30s", OFF(service.shutdown_timeout_ms), NULL,
     0, "On SIGTERM, time allowed to export decided data and commit offsets."},
};

static int policy_load(void *conf, const char *name, const char *key, const char *value,
                       struct kt_err *err)
{
    struct process_conf *c = conf;
    struct process_policy_conf *p = NULL;
    int rc = sampling_policy_check_value(name, key, value, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < c->tail_sampling.n_policies; i++)
        if (strcmp(c->tail_sampling.policies[i].name, name) == 0)
            p = &c->tail_sampling.policies[i];
    if (p == NULL) {
        struct process_policy_conf *v =
            realloc(c->tail_sampling.policies, (c->tail_sampling.n_policies + 1) * sizeof(*v));
        if (v == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        c->tail_sampling.policies = v;
        p = &v[c->tail_sampling.n_policies];
        memset(p, 0, sizeof(*p));
        p->name = strdup(name);
        if (p->name == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        c->tail_sampling.n_policies++;
    }
    if (kt_strlist_push(&p->keys, key) != 0 || kt_strlist_push(&p->values, value) != 0)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    return 0;
}

/* The keys of a [transform.group.NAME] section; transform.c reads them. */
static const char *const group_keys[] = {"signal", "context", "conditions", "error_mode",
                                         "statements"};

static int group_load(void *conf, const char *name, const char *key, const char *value,
                      struct kt_err *err)
{
    struct process_conf *c = conf;
    bool known = false;
    for (size_t i = 0; i < sizeof(group_keys) / sizeof(group_keys[0]); i++)
        known = known || strcmp(key, group_keys[i]) == 0;
    if (!known)
        return kt_err_set(err, KT_EINVAL,
                          "[transform.group.%s] %s: unknown key (a group has signal, context, "
                          "conditions, error_mode and statements)",
                          name, key);
    struct process_group_conf *g = NULL;
    for (size_t i = 0; i < c->transform.n_groups; i++)
        if (strcmp(c->transform.groups[i].name, name) == 0)
            g = &c->transform.groups[i];
    if (g == NULL) {
        struct process_group_conf *v =
            realloc(c->transform.groups, (c->transform.n_groups + 1) * sizeof(*v));
        if (v == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        c->transform.groups = v;
        g = &v[c->transform.n_groups];
        memset(g, 0, sizeof(*g));
        g->name = strdup(name);
        if (g->name == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        c->transform.n_groups++;
    }
    if (kt_strlist_push(&g->keys, key) != 0 || kt_strlist_push(&g->values, value) != 0)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    return 0;
}

static const struct kt_section_handler process_handlers[] = {
    {"transform.group.", group_load,
     "Statement groups, one [transform.group.NAME] section each: the Collector's groups "
     "(trace_statements: - context: span, conditions: [...], statements: [...]). signal "
     "(traces, metrics or logs) says which data the group runs on; context (resource, scope, "
     "span, spanevent, metric, datapoint or log; default: inferred from the paths) where each "
     "statement runs; every conditions line is one condition, and a statement runs on an item "
     "when any condition holds and its own where clause does; error_mode (default: [transform] "
     "error_mode) is the group's own; statements are repeated, in order. Groups run in file "
     "order after the flat [transform] statements. For example:\n"
     " [transform.group.errors]\n"
     " signal = traces\n"
     " context = span\n"
     " conditions = span.status.code == STATUS_CODE_ERROR\n"
     " error_mode = propagate\n"
     " statements = set(span.attributes[\"alert\"], true)\n"
     " statements = set(span.attributes[\"team\"], resource.attributes[\"team\"])"},
    {"tail_sampling.policy.", policy_load,
     "Tail-sampling policies, one [tail_sampling.policy.NAME] section each, with the Collector's "
     "policy types and keys (README \"Running kotel-process\" lists them). For example, keep every "
     "trace with an "
     "error, 10% of the rest, and never health checks:\n"
     " [tail_sampling.policy.errors]\n"
     " type = status_code\n"
     " status_codes = ERROR\n"
     "\n"
     " [tail_sampling.policy.some]\n"
     " type = probabilistic\n"
     " sampling_percentage = 10\n"
     "\n"
     " [tail_sampling.policy.no-health]\n"
     " type = drop\n"
     " drop_sub_policy = health\n"
     "\n"
     " [tail_sampling.policy.health]\n"
     " type = string_attribute\n"
     " key = http.route\n"
     " values = /healthz, /readyz"},
};

static const struct kt_section_doc process_sections[] = {
    KT_KAFKA_SECTION_DOCS,
    {"filter", "Items matching a condition are dropped; conditions are OR'ed."},
    {"transform", "Statements change items in place, in order."},
    {"exporter.tls",
     "https:// endpoints (the Collector's exporter tls block; http:// is plaintext)."},
};

/* The topic keys, as they are set (so that messages name the line). */
static int process_check_value(const struct kt_option *o, const void *value, struct kt_err *err)
{
    if (strcmp(o->section, "kafka") != 0)
        return 0;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        if (strcmp(o->key, topics_keys[i]) == 0)
            return topics_check_value(o->key, *(char *const *)value, err);
        if (strcmp(o->key, topics_exclude_keys[i]) == 0)
            return topics_check_exclude(value, err);
    }
    return 0;
}

/* --check compiles what startup compiles, so a bad statement or policy fails there too. */
static int process_validate(const void *conf, struct kt_err *err)
{
    const struct process_conf *c = conf;
    struct topics *t = NULL;
    int trc = topics_new(c, &t, err);
    topics_free(t);
    if (trc != 0)
        return trc;
    /* KT_OPT_DOUBLE has no range in the option table. */
    if (!(c->retry.multiplier >= 1.0))
        return kt_err_set(err, KT_EINVAL, "[exporter.retry] multiplier: want 1 or more, got %g",
                          c->retry.multiplier);
    if (!(c->retry.randomization_factor >= 0.0 && c->retry.randomization_factor <= 1.0))
        return kt_err_set(err, KT_EINVAL,
                          "[exporter.retry] randomization_factor: want 0 to 1, got %g",
                          c->retry.randomization_factor);
    int rc = kt_kafka_auth_check(&c->kafka.auth, err);
    return rc != 0 ? rc : pipeline_check(conf, err);
}

const struct kt_config_schema process_conf_schema = {
    .program = "kotel-process",
    .version = KT_VERSION,
    .summary = "Kafka consumer group -> filter -> transform -> tail sampling -> OTLP backend",
    .description =
        "kotel-process joins a Kafka consumer group (replicas share the partitions), decodes the "
        "OTLP messages kotel-ingest (or the Collector) wrote, applies filter, transform (an OTTL "
        "subset) and tail sampling, and forwards to an OTLP backend over gRPC or HTTP. It "
        "commits an offset only once everything at or below it has been exported or "
        "deliberately dropped: nothing is lost on a crash, a rebalance or a backend outage. "
        "OTTL lists (conditions, statements) and exporter headers take one item per line: "
        "repeat the key.",
    .sections = process_sections,
    .n_sections = sizeof(process_sections) / sizeof(process_sections[0]),
    .signals = "SIGHUP reads the files of [exporter] headers (Key=@FILE) again: requests sent "
               "after it carry the new values, and a file that cannot be read is logged and the "
               "previous values kept. The configuration file itself is read only at startup.\n"
               "\n"
               "SIGTERM or SIGINT drains: consumption stops, and the data already decided is "
               "exported and its offsets committed within [service] shutdown_timeout.",
    .see_also = "kotel-ingest(1), systemd.exec(5); the README of kotel.",
    .opts = process_options,
    .n_opts = sizeof(process_options) / sizeof(process_options[0]),
    .handlers = process_handlers,
    .n_handlers = sizeof(process_handlers) / sizeof(process_handlers[0]),
    .validate = process_validate,
    .check_value = process_check_value,
};

void process_conf_free(struct process_conf *c)
{
    for (size_t i = 0; i < c->tail_sampling.n_policies; i++) {
        struct process_policy_conf *p = &c->tail_sampling.policies[i];
        free(p->name);
        kt_strlist_free(&p->keys);
        kt_strlist_free(&p->values);
    }
    free(c->tail_sampling.policies);
    c->tail_sampling.policies = NULL;
    c->tail_sampling.n_policies = 0;
    for (size_t i = 0; i < c->transform.n_groups; i++) {
        struct process_group_conf *g = &c->transform.groups[i];
        free(g->name);
        kt_strlist_free(&g->keys);
        kt_strlist_free(&g->values);
    }
    free(c->transform.groups);
    c->transform.groups = NULL;
    c->transform.n_groups = 0;
    kt_config_free(&process_conf_schema, c);
}
