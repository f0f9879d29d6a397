/* Tests for kt_otlp_json: OTLP/JSON <-> protobuf. Results are checked by unpacking with
 * protobuf-c, and messages built with protobuf-c must survive proto -> JSON -> proto with
 * identical bytes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kt_otlp_json.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link SpanLink;
typedef Opentelemetry__Proto__Trace__V1__Status SpanStatus;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary Summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDP;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDP;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

#define TRACE_DESC                                                                                 \
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
#define METRICS_DESC                                                                               \
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor
#define LOGS_DESC opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor

#define EXAMPLE_REQUEST                                                                            \
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"     \
    "\"stringValue\":\"my-test-service\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":"            \
    "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"test-"        \
    "operation\",\"kind\":1,\"startTimeUnixNano\":\"1609459200000000000\",\"endTimeUnixNano\":"    \
    "\"1609459200500000000\"}]}]}]}"

static const uint8_t TRACE_ID[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                     0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
static const uint8_t SPAN_ID[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};

/* ---- helpers -------------------------------------------------------------------------- */

static const ProtobufCMessageDescriptor *desc_of(enum kt_signal sig)
{
    switch (sig) {
    case KT_SIGNAL_TRACES: return &TRACE_DESC;
    case KT_SIGNAL_METRICS: return &METRICS_DESC;
    case KT_SIGNAL_LOGS: return &LOGS_DESC;
    }
    return NULL;
}

/* Converts JSON that must be accepted and returns the unpacked request (free with
 * protobuf_c_message_free_unpacked). */
static ProtobufCMessage *to_msg(enum kt_signal sig, const char *json)
{
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    int rc = kt_otlp_json_to_proto(sig, json, strlen(json), &pb, &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc_of(sig), NULL, pb.len, pb.p);
    assert_non_null(m);
    kt_buf_free(&pb);
    return m;
}

static TraceReq *to_traces(const char *json)
{
    return (TraceReq *)to_msg(KT_SIGNAL_TRACES, json);
}

static MetricsReq *to_metrics(const char *json)
{
    return (MetricsReq *)to_msg(KT_SIGNAL_METRICS, json);
}

static LogsReq *to_logs(const char *json)
{
    return (LogsReq *)to_msg(KT_SIGNAL_LOGS, json);
}

static void free_msg(void *m)
{
    protobuf_c_message_free_unpacked(m, NULL);
}

/* The one span of a single-span request. */
static Span *only_span(TraceReq *r)
{
    assert_int_equal(r->n_resource_spans, 1);
    assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, 1);
    return r->resource_spans[0]->scope_spans[0]->spans[0];
}

static void expect_einval(enum kt_signal sig, const char *json, const char *want)
{
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    int rc = kt_otlp_json_to_proto(sig, json, strlen(json), &pb, &err);
    assert_int_equal(rc, KT_EINVAL);
    if (strstr(err.msg, want) == NULL)
        print_error("error \"%s\" does not contain \"%s\"\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(pb.len, 0);
    kt_buf_free(&pb);
}

/* Wraps one span's JSON members in a full request. */
static char *span_json(const char *members)
{
    static const char pre[] = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{";
    static const char post[] = "}]}]}]}";
    size_t n = strlen(pre) + strlen(members) + strlen(post) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s", pre, members, post);
    return s;
}

static Span *span_from(const char *members, TraceReq **req)
{
    char *json = span_json(members);
    *req = to_traces(json);
    free(json);
    return only_span(*req);
}

static void expect_span_einval(const char *members, const char *want)
{
    char *json = span_json(members);
    expect_einval(KT_SIGNAL_TRACES, json, want);
    free(json);
}

static char *proto_to_json_str(enum kt_signal sig, const uint8_t *p, size_t n)
{
    struct kt_buf js = KT_BUF_INIT;
    struct kt_err err = {0};
    struct kt_slice sl = {p, n};
    int rc = kt_otlp_proto_to_json(sig, sl, &js, &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(kt_buf_append_byte(&js, 0), 0);
    return (char *)kt_buf_take(&js, NULL);
}

/* proto -> JSON -> proto must reproduce the packed bytes exactly. */
static void assert_round_trip(enum kt_signal sig, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n + 1);
    assert_non_null(a);
    protobuf_c_message_pack(m, a);

    char *json = proto_to_json_str(sig, a, n);
    struct kt_buf b = KT_BUF_INIT;
    struct kt_err err = {0};
    int rc = kt_otlp_json_to_proto(sig, json, strlen(json), &b, &err);
    if (rc != 0)
        print_error("reparse failed: %s\njson: %s\n", err.msg, json);
    assert_int_equal(rc, 0);
    if (b.len != n || memcmp(a, b.p, n) != 0)
        print_error("bytes differ after round trip (%zu vs %zu)\njson: %s\n", n, b.len, json);
    assert_int_equal(b.len, n);
    assert_memory_equal(a, b.p, n);
    free(json);
    free(a);
    kt_buf_free(&b);
}

static AnyValue *any_string(AnyValue *v, const char *s)
{
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)s;
    return v;
}

static KeyValue *kv(KeyValue *k, const char *key, AnyValue *v)
{
    opentelemetry__proto__common__v1__key_value__init(k);
    k->key = (char *)key;
    k->value = v;
    return k;
}

/* ---- JSON -> protobuf ----------------------------------------------------------------- */

static void test_json_example_request_converts_to_span(void **state)
{
    (void)state;
    TraceReq *r = to_traces(EXAMPLE_REQUEST);
    Span *sp = only_span(r);
    assert_int_equal(sp->trace_id.len, 16);
    assert_memory_equal(sp->trace_id.data, TRACE_ID, 16);
    assert_int_equal(sp->span_id.len, 8);
    assert_memory_equal(sp->span_id.data, SPAN_ID, 8);
    assert_string_equal(sp->name, "test-operation");
    assert_int_equal(sp->kind, 1);
    assert_true(sp->start_time_unix_nano == 1609459200000000000ull);
    assert_true(sp->end_time_unix_nano == 1609459200500000000ull);
    Resource *res = r->resource_spans[0]->resource;
    assert_non_null(res);
    assert_int_equal(res->n_attributes, 1);
    assert_string_equal(res->attributes[0]->key, "service.name");
    assert_int_equal(res->attributes[0]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    assert_string_equal(res->attributes[0]->value->string_value, "my-test-service");
    free_msg(r);
}

static void test_json_hex_trace_id_becomes_16_bytes(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"traceId\":\"5B8EFFF798038103D269B633813FC60C\","
                         "\"spanId\":\"EEE19b7ec3c1b174\",\"parentSpanId\":\"\"",
                         &r);
    assert_int_equal(sp->trace_id.len, 16);
    assert_memory_equal(sp->trace_id.data, TRACE_ID, 16);
    assert_int_equal(sp->span_id.len, 8);
    assert_memory_equal(sp->span_id.data, SPAN_ID, 8);
    assert_int_equal(sp->parent_span_id.len, 0);
    free_msg(r);
}

static void test_json_snake_case_names_accepted(void **state)
{
    (void)state;
    TraceReq *r = to_traces("{\"resource_spans\":[{\"scope_spans\":[{\"spans\":[{"
                            "\"trace_id\":\"5b8efff798038103d269b633813fc60c\","
                            "\"parent_span_id\":\"eee19b7ec3c1b174\","
                            "\"start_time_unix_nano\":\"7\",\"dropped_attributes_count\":3,"
                            "\"attributes\":[{\"key\":\"k\",\"value\":{\"int_value\":\"5\"}}]"
                            "}]}],\"schema_url\":\"https://x\"}]}");
    Span *sp = only_span(r);
    assert_memory_equal(sp->trace_id.data, TRACE_ID, 16);
    assert_memory_equal(sp->parent_span_id.data, SPAN_ID, 8);
    assert_true(sp->start_time_unix_nano == 7);
    assert_int_equal(sp->dropped_attributes_count, 3);
    assert_int_equal(sp->attributes[0]->value->int_value, 5);
    assert_string_equal(r->resource_spans[0]->schema_url, "https://x");
    free_msg(r);
}

static void test_json_int64_accepted_as_number_and_string(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"startTimeUnixNano\":1609459200000000000,"
                         "\"endTimeUnixNano\":\"1609459200500000000\","
                         "\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":-42}},"
                         "{\"key\":\"b\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
                         "{\"key\":\"c\",\"value\":{\"intValue\":1e3}}]",
                         &r);
    assert_true(sp->start_time_unix_nano == 1609459200000000000ull);
    assert_true(sp->end_time_unix_nano == 1609459200500000000ull);
    assert_true(sp->attributes[0]->value->int_value == -42);
    assert_true(sp->attributes[1]->value->int_value == INT64_MIN);
    assert_true(sp->attributes[2]->value->int_value == 1000);
    free_msg(r);
}

static void test_json_uint64_above_int64_max_accepted_as_string(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"startTimeUnixNano\":\"18446744073709551615\"", &r);
    assert_true(sp->start_time_unix_nano == UINT64_MAX);
    free_msg(r);
}

static void test_json_enum_by_name_or_number(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"kind\":\"SPAN_KIND_CLIENT\",\"status\":{\"code\":\"STATUS_CODE_ERROR\","
                         "\"message\":\"boom\"}",
                         &r);
    assert_int_equal(sp->kind, 3);
    assert_non_null(sp->status);
    assert_int_equal(sp->status->code, 2);
    assert_string_equal(sp->status->message, "boom");
    free_msg(r);

    sp = span_from("\"kind\":5", &r);
    assert_int_equal(sp->kind, 5);
    free_msg(r);
    expect_span_einval("\"kind\":\"SPAN_KIND_NOPE\"", "kind: unknown SpanKind value");
}

static void test_json_nested_kvlist_and_array_any_values(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp =
        span_from("\"attributes\":[{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":["
                  "{\"stringValue\":\"x\"},{\"boolValue\":true},{\"doubleValue\":1.5},"
                  "{\"kvlistValue\":{\"values\":[{\"key\":\"inner\",\"value\":{\"arrayValue\":{"
                  "\"values\":[{\"intValue\":\"9\"}]}}}]}}]}}},"
                  "{\"key\":\"bin\",\"value\":{\"bytesValue\":\"aGVsbG8=\"}}]",
                  &r);
    assert_int_equal(sp->n_attributes, 2);
    AnyValue *v = sp->attributes[0]->value;
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    ArrayValue *a = v->array_value;
    assert_int_equal(a->n_values, 4);
    assert_string_equal(a->values[0]->string_value, "x");
    assert_true(a->values[1]->bool_value);
    assert_true(a->values[2]->double_value == 1.5);
    KeyValueList *kl = a->values[3]->kvlist_value;
    assert_non_null(kl);
    assert_int_equal(kl->n_values, 1);
    assert_string_equal(kl->values[0]->key, "inner");
    assert_true(kl->values[0]->value->array_value->values[0]->int_value == 9);
    AnyValue *bin = sp->attributes[1]->value;
    assert_int_equal(bin->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    assert_int_equal(bin->bytes_value.len, 5);
    assert_memory_equal(bin->bytes_value.data, "hello", 5);
    free_msg(r);
}

static void test_json_base64_accepts_url_safe_and_unpadded(void **state)
{
    (void)state;
    TraceReq *r;
    /* 0xfb 0xff 0xfe is "+//+" in the standard alphabet, "-__-" in the URL-safe one. */
    Span *sp = span_from("\"attributes\":[{\"key\":\"a\",\"value\":{\"bytesValue\":\"-__-\"}},"
                         "{\"key\":\"b\",\"value\":{\"bytesValue\":\"aGk\"}},"
                         "{\"key\":\"c\",\"value\":{\"bytesValue\":\"\"}}]",
                         &r);
    static const uint8_t want[] = {0xfb, 0xff, 0xfe};
    assert_int_equal(sp->attributes[0]->value->bytes_value.len, 3);
    assert_memory_equal(sp->attributes[0]->value->bytes_value.data, want, 3);
    assert_int_equal(sp->attributes[1]->value->bytes_value.len, 2);
    assert_memory_equal(sp->attributes[1]->value->bytes_value.data, "hi", 2);
    assert_int_equal(sp->attributes[2]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    assert_int_equal(sp->attributes[2]->value->bytes_value.len, 0);
    free_msg(r);
}

static void test_json_gauge_and_sum_metrics(void **state)
{
    (void)state;
    MetricsReq *r = to_metrics(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1\"},"
        "\"metrics\":[{\"name\":\"g\",\"unit\":\"By\",\"gauge\":{\"dataPoints\":["
        "{\"timeUnixNano\":\"10\",\"asDouble\":2.5},{\"asInt\":\"-7\",\"flags\":1,"
        "\"exemplars\":[{\"asInt\":3,\"traceId\":\"5b8efff798038103d269b633813fc60c\","
        "\"spanId\":\"eee19b7ec3c1b174\"}]}]}},"
        "{\"name\":\"s\",\"sum\":{\"dataPoints\":[{\"asDouble\":0}],"
        "\"aggregationTemporality\":2,\"isMonotonic\":true}}]}]}]}");
    ScopeMetrics *sm = r->resource_metrics[0]->scope_metrics[0];
    assert_string_equal(sm->scope->name, "lib");
    assert_int_equal(sm->n_metrics, 2);
    Metric *g = sm->metrics[0];
    assert_int_equal(g->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_string_equal(g->unit, "By");
    assert_int_equal(g->gauge->n_data_points, 2);
    NumberDP *p0 = g->gauge->data_points[0];
    assert_true(p0->time_unix_nano == 10);
    assert_int_equal(p0->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    assert_true(p0->as_double == 2.5);
    NumberDP *p1 = g->gauge->data_points[1];
    assert_int_equal(p1->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    assert_true(p1->as_int == -7);
    assert_int_equal(p1->flags, 1);
    assert_memory_equal(p1->exemplars[0]->trace_id.data, TRACE_ID, 16);
    assert_memory_equal(p1->exemplars[0]->span_id.data, SPAN_ID, 8);
    Metric *s = sm->metrics[1];
    assert_int_equal(s->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_int_equal(s->sum->aggregation_temporality, 2);
    assert_true(s->sum->is_monotonic);
    /* A zero as_double is still the chosen member of the oneof. */
    assert_int_equal(s->sum->data_points[0]->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    free_msg(r);
}

static void test_json_histogram_zero_sum_min_max_keep_presence(void **state)
{
    (void)state;
    MetricsReq *r = to_metrics(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"h\",\"histogram\":{"
        "\"aggregationTemporality\":1,\"dataPoints\":[{\"count\":\"3\",\"sum\":0,\"min\":0,"
        "\"max\":0,\"bucketCounts\":[\"1\",2,\"0\"],\"explicitBounds\":[0.5,\"Infinity\"]},"
        "{\"count\":1}]}}]}]}]}");
    Histogram *h = r->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram;
    assert_non_null(h);
    assert_int_equal(h->aggregation_temporality, 1);
    HistogramDP *p = h->data_points[0];
    assert_true(p->count == 3);
    assert_int_equal(p->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_int_equal(p->_min_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);
    assert_int_equal(p->_max_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX);
    assert_true(p->sum == 0 && p->min == 0 && p->max == 0);
    assert_int_equal(p->n_bucket_counts, 3);
    assert_true(p->bucket_counts[0] == 1 && p->bucket_counts[1] == 2 && p->bucket_counts[2] == 0);
    assert_int_equal(p->n_explicit_bounds, 2);
    assert_true(p->explicit_bounds[0] == 0.5);
    assert_true(isinf(p->explicit_bounds[1]) && p->explicit_bounds[1] > 0);
    HistogramDP *q = h->data_points[1];
    assert_int_equal(q->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_int_equal(q->_min_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN__NOT_SET);

    /* And the JSON written back keeps the zeros. */
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *pb = malloc(n);
    protobuf_c_message_pack(&r->base, pb);
    char *json = proto_to_json_str(KT_SIGNAL_METRICS, pb, n);
    assert_non_null(strstr(json, "\"sum\":0,"));
    assert_non_null(strstr(json, "\"min\":0,\"max\":0"));
    free(json);
    free(pb);
    free_msg(r);
}

static void test_json_exponential_histogram(void **state)
{
    (void)state;
    MetricsReq *r = to_metrics(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"e\","
        "\"exponentialHistogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{\"count\":\"6\","
        "\"sum\":12.5,\"scale\":-3,\"zeroCount\":\"1\",\"zeroThreshold\":1e-9,"
        "\"positive\":{\"offset\":-2,\"bucketCounts\":[\"3\",\"2\"]},\"negative\":{},"
        "\"min\":-1,\"max\":8}]}}]}]}]}");
    Metric *m = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_int_equal(m->data_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
    ExpHistogramDP *p = m->exponential_histogram->data_points[0];
    assert_true(p->count == 6);
    assert_true(p->sum == 12.5);
    assert_int_equal(p->scale, -3);
    assert_true(p->zero_count == 1);
    assert_true(p->zero_threshold == 1e-9);
    assert_int_equal(p->positive->offset, -2);
    assert_int_equal(p->positive->n_bucket_counts, 2);
    assert_true(p->positive->bucket_counts[0] == 3);
    assert_non_null(p->negative);
    assert_int_equal(p->negative->n_bucket_counts, 0);
    assert_true(p->min == -1 && p->max == 8);
    free_msg(r);
}

static void test_json_summary(void **state)
{
    (void)state;
    MetricsReq *r = to_metrics(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"q\",\"summary\":{"
        "\"dataPoints\":[{\"count\":\"4\",\"sum\":10,\"quantileValues\":[{\"quantile\":0.5,"
        "\"value\":2},{\"quantile\":1,\"value\":\"NaN\"}]}]}}]}]}]}");
    Metric *m = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    SummaryDP *p = m->summary->data_points[0];
    assert_true(p->count == 4);
    assert_true(p->sum == 10);
    assert_int_equal(p->n_quantile_values, 2);
    assert_true(p->quantile_values[0]->quantile == 0.5);
    assert_true(p->quantile_values[0]->value == 2);
    assert_true(isnan(p->quantile_values[1]->value));
    free_msg(r);
}

static void test_json_logs_with_body(void **state)
{
    (void)state;
    LogsReq *r =
        to_logs("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"5\","
                "\"observedTimeUnixNano\":6,\"severityNumber\":\"SEVERITY_NUMBER_WARN\","
                "\"severityText\":\"WARN\",\"body\":{\"kvlistValue\":{\"values\":[{\"key\":\"msg\","
                "\"value\":{\"stringValue\":\"disk full\"}}]}},\"flags\":1,"
                "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
                "\"eventName\":\"disk.full\"},{\"body\":{\"stringValue\":\"plain\"}}]}]}]}");
    ScopeLogs *sl = r->resource_logs[0]->scope_logs[0];
    assert_int_equal(sl->n_log_records, 2);
    LogRecord *l = sl->log_records[0];
    assert_true(l->time_unix_nano == 5 && l->observed_time_unix_nano == 6);
    assert_int_equal(l->severity_number, 13);
    assert_string_equal(l->severity_text, "WARN");
    assert_string_equal(l->body->kvlist_value->values[0]->key, "msg");
    assert_string_equal(l->body->kvlist_value->values[0]->value->string_value, "disk full");
    assert_int_equal(l->flags, 1);
    assert_memory_equal(l->trace_id.data, TRACE_ID, 16);
    assert_memory_equal(l->span_id.data, SPAN_ID, 8);
    assert_string_equal(l->event_name, "disk.full");
    assert_string_equal(sl->log_records[1]->body->string_value, "plain");
    free_msg(r);
}

static void test_json_double_special_values(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"attributes\":[{\"key\":\"a\",\"value\":{\"doubleValue\":\"NaN\"}},"
                         "{\"key\":\"b\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
                         "{\"key\":\"c\",\"value\":{\"doubleValue\":\"2.5e3\"}},"
                         "{\"key\":\"d\",\"value\":{\"doubleValue\":7}}]",
                         &r);
    assert_true(isnan(sp->attributes[0]->value->double_value));
    assert_true(isinf(sp->attributes[1]->value->double_value));
    assert_true(sp->attributes[1]->value->double_value < 0);
    assert_true(sp->attributes[2]->value->double_value == 2500);
    assert_true(sp->attributes[3]->value->double_value == 7);
    free_msg(r);
    expect_span_einval("\"attributes\":[{\"key\":\"a\",\"value\":{\"doubleValue\":\"inf\"}}]",
                       "attributes[0].value.doubleValue: want a number");
}

static void test_json_null_means_absent(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"traceId\":null,\"name\":null,\"status\":null,\"attributes\":null,"
                         "\"kind\":null",
                         &r);
    assert_int_equal(sp->trace_id.len, 0);
    assert_string_equal(sp->name, "");
    assert_null(sp->status);
    assert_int_equal(sp->n_attributes, 0);
    free_msg(r);
}

static void test_json_unknown_members_ignored(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"futureField\":{\"deep\":[1,2,{\"x\":null}]},\"name\":\"n\","
                         "\"Name\":5,\"NAME\":[]",
                         &r);
    assert_string_equal(sp->name, "n");
    free_msg(r);
}

static void test_json_empty_object_is_empty_request(void **state)
{
    (void)state;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        struct kt_buf pb = KT_BUF_INIT;
        struct kt_err err = {0};
        assert_int_equal(kt_otlp_json_to_proto((enum kt_signal)s, " {} \n", 5, &pb, &err), 0);
        assert_int_equal(pb.len, 0);
        kt_buf_free(&pb);
    }
    /* Empty resource lists too. */
    struct kt_buf pb = KT_BUF_INIT;
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_LOGS, "{\"resourceLogs\":[]}", 19, &pb, NULL),
                     0);
    assert_int_equal(pb.len, 0);
    kt_buf_free(&pb);
}

static void test_json_empty_body_rejected(void **state)
{
    (void)state;
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, "", 0, &pb, &err), KT_EINVAL);
    assert_string_equal(err.msg, "empty body");
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, NULL, 0, &pb, &err), KT_EINVAL);
    assert_string_equal(err.msg, "empty body");
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, " \r\n\t", 4, &pb, &err), KT_EINVAL);
    assert_string_equal(err.msg, "empty body");
    kt_buf_free(&pb);
}

static void test_json_syntax_error_reports_line_and_column(void **state)
{
    (void)state;
    expect_einval(KT_SIGNAL_TRACES, "{\n  \"resourceSpans\": [}\n",
                  "invalid JSON at line 2, column");
    expect_einval(KT_SIGNAL_TRACES, "{} trailing", "invalid JSON at line 1");
    expect_einval(KT_SIGNAL_TRACES, "[1,2]", "want a JSON object at top level, got array");
    expect_einval(KT_SIGNAL_TRACES, "42", "want a JSON object at top level, got number");
}

static void test_json_wrong_types_report_path(void **state)
{
    (void)state;
    expect_einval(KT_SIGNAL_TRACES, "{\"resourceSpans\":{}}",
                  "resourceSpans: want an array, got object");
    expect_einval(KT_SIGNAL_TRACES, "{\"resourceSpans\":[{\"resource\":[]}]}",
                  "resourceSpans[0].resource: want an object, got array");
    expect_span_einval("\"name\":5", "resourceSpans[0].scopeSpans[0].spans[0].name: want a string, "
                                     "got number");
    expect_span_einval("\"startTimeUnixNano\":\"12x\"",
                       "spans[0].startTimeUnixNano: want a decimal integer, got \"12x\"");
    expect_span_einval("\"startTimeUnixNano\":-1", "startTimeUnixNano: -1 is out of range");
    expect_span_einval("\"startTimeUnixNano\":1.5", "startTimeUnixNano: want an integer, got 1.5");
    expect_span_einval("\"startTimeUnixNano\":1e300", "too large to be exact");
    expect_span_einval("\"droppedAttributesCount\":4294967296",
                       "droppedAttributesCount: 4294967296 is out of range");
    expect_span_einval("\"attributes\":[{\"key\":\"k\",\"value\":{\"boolValue\":\"true\"}}]",
                       "attributes[0].value.boolValue: want true or false, got string");
    expect_span_einval("\"attributes\":[null]", "attributes[0]: null is not a valid array element");
    /* The path names the member as the sender spelled it. */
    expect_span_einval("\"dropped_links_count\":true", "spans[0].dropped_links_count: want an "
                                                       "integer, got boolean");
}

static void test_json_bad_hex_reports_path(void **state)
{
    (void)state;
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    const char *json = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
                       "{\"traceId\":\"5b8efff798038103d269b633813fc60c\"},{},"
                       "{\"traceId\":\"5b8efff798038103d269b633813fc60\"}]}]}]}";
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, json, strlen(json), &pb, &err),
                     KT_EINVAL);
    assert_string_equal(err.msg, "resourceSpans[0].scopeSpans[0].spans[2].traceId: want 32 hex "
                                 "characters, got 31");
    kt_buf_free(&pb);
    expect_span_einval("\"spanId\":\"eee19b7ec3c1b17g\"",
                       "spans[0].spanId: invalid hex character 'g' at offset 15");
    expect_span_einval("\"links\":[{\"spanId\":\"eee1\"}]",
                       "spans[0].links[0].spanId: want 16 hex characters, got 4");
    expect_span_einval("\"parentSpanId\":7", "parentSpanId: want a string, got number");
}

static void test_json_invalid_base64_reports_path(void **state)
{
    (void)state;
    expect_span_einval("\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"ab!d\"}}]",
                       "attributes[0].value.bytesValue: invalid base64 character '!' at offset 2");
    expect_span_einval("\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"abcde\"}}]",
                       "attributes[0].value.bytesValue: invalid base64: length 5");
    expect_span_einval("\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"ab=\"}}]",
                       "invalid base64: padded length 3");
}

static void test_json_two_oneof_members_rejected(void **state)
{
    (void)state;
    expect_span_einval("\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"a\","
                       "\"intValue\":1}}]",
                       "attributes[0].value.intValue: conflicts with stringValue");
    /* A null member does not count as set. */
    TraceReq *r;
    Span *sp = span_from("\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":null,"
                         "\"intValue\":1}}]",
                         &r);
    assert_true(sp->attributes[0]->value->int_value == 1);
    free_msg(r);
}

static void expect_code(enum kt_signal sig, const struct kt_otlp_limits *lim, const char *json,
                        size_t len, int code, const char *want)
{
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    int rc = kt_otlp_json_to_proto_limits(sig, json, len, lim, &pb, &err);
    if (rc != code || strstr(err.msg, want) == NULL)
        print_error("got %d \"%s\", want %d with \"%s\"\n", rc, err.msg, code, want);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(pb.len, 0);
    kt_buf_free(&pb);
}

/* A request whose unknown member "x" holds levels nested arrays (or objects). */
static char *ignored_nesting(size_t levels, bool objects)
{
    size_t cap = levels * 6 + 64;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = (size_t)snprintf(json, cap, "{\"x\":");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, objects ? "{\"a\":" : "[");
    n += (size_t)snprintf(json + n, cap - n, "1");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, objects ? "}" : "]");
    snprintf(json + n, cap - n, ",\"resourceSpans\":[]}");
    return json;
}

static void test_json_ignored_members_nest_at_most_64_levels(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        char *json = ignored_nesting(KT_OTLP_JSON_MAX_DEPTH, objects);
        TraceReq *r = to_traces(json);
        assert_int_equal(r->n_resource_spans, 0);
        free_msg(r);
        free(json);
        json = ignored_nesting(KT_OTLP_JSON_MAX_DEPTH + 1, objects);
        expect_code(KT_SIGNAL_TRACES, NULL, json, strlen(json), KT_ETOOBIG,
                    "JSON nested deeper than 64 levels inside a member kotel ignores");
        free(json);
    }
    /* Far deeper: refused as early, nothing recurses. */
    char *json = ignored_nesting(1000000, false);
    expect_code(KT_SIGNAL_TRACES, NULL, json, strlen(json), KT_ETOOBIG, "x[0][0][0]");
    free(json);
}

static void test_json_string_escapes_and_surrogate_pairs(void **state)
{
    (void)state;
    TraceReq *r;
    /* The member name is matched once decoded: n\u0061me is name. */
    Span *sp = span_from("\"n\\u0061me\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00"
                         "\xc3\xa9\xf0\x9f\x98\x80\"",
                         &r);
    assert_string_equal(sp->name, "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                  "\xc3\xa9\xf0\x9f\x98\x80");
    free_msg(r);
    /* An escaped string long enough to need the scratch buffer to grow. */
    size_t n = 70000;
    char *members = malloc(n * 6 + 32);
    assert_non_null(members);
    size_t k = (size_t)sprintf(members, "\"name\":\"");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(members + k, "\\u0041");
    sprintf(members + k, "\"");
    sp = span_from(members, &r);
    assert_int_equal(strlen(sp->name), n);
    assert_int_equal(sp->name[n - 1], 'A');
    free_msg(r);
    free(members);
}

static void test_json_string_errors_report_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"{\"resourceSpans\":[],\"x\":\"\\udc00\"}", "column 26: invalid Unicode '\\uDC00'"},
        {"{\"x\":\"\\ud83d\"}", "a high surrogate without its low surrogate"},
        {"{\"x\":\"\\ud83d\\u0041\"}", "a high surrogate without its low surrogate"},
        {"{\"x\":\"a\\u0000b\"}", "\\u0000 is not allowed"},
        {"{\"x\":\"a\x01\"}", "column 8: control character 0x01 in a string"},
        {"{\"x\":\"\xff\"}", "column 7: invalid UTF-8 in a string"},
        {"{\"x\":\"\xed\xa0\x80\"}", "invalid UTF-8 in a string"},
        {"{\"x\":\"abc", "string without its closing quote"},
        {"{\"x\":\"\\x\"}", "invalid escape \\'x'"},
        {"{\"x\":\"\\u12\"}", "invalid \\u escape"},
        {"{\n\"x\":\n 01}", "line 3, column 3: want ',' or '}', got a number"},
        {"{\"x\":1.}", "invalid number"},
        {"{\"x\":-}", "invalid number"},
        {"{\"x\":.5}", "unexpected '.'"},
        {"{\"x\":1e}", "invalid number"},
        {"{\"x\":+1}", "unexpected '+'"},
        {"{\"x\":tru}", "invalid literal"},
        {"{\"x\":nul", "invalid literal"},
        {"{\"x\" 1}", "want ':' after a member name, got a number"},
        {"{\"x\":1,}", "want a member name, got '}'"},
        {"{\"x\":[1,]}", "want a value, got ']'"},
        {"{\"x\":[,1]}", "want a value or ']', got ','"},
        {"{1:2}", "want a member name or '}', got a number"},
        {"{\"x\":1", "unexpected end of input"},
        {"{}{}", "end of input expected after the request object"},
        {"}", "want a value, got '}'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_code(KT_SIGNAL_TRACES, NULL, cases[i].json, strlen(cases[i].json), KT_EINVAL,
                    "invalid JSON at line ");
        expect_code(KT_SIGNAL_TRACES, NULL, cases[i].json, strlen(cases[i].json), KT_EINVAL,
                    cases[i].want);
    }
}

static void test_json_numbers_as_integers_and_doubles(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"startTimeUnixNano\":1E3,\"endTimeUnixNano\":18446744073709551615,"
                         "\"droppedAttributesCount\":-0,\"attributes\":[{\"key\":\"d\",\"value\":{"
                         "\"doubleValue\":-2.5e-3}},{\"key\":\"i\",\"value\":{\"intValue\":"
                         "-9223372036854775808}}]",
                         &r);
    assert_true(sp->start_time_unix_nano == 1000);
    assert_true(sp->end_time_unix_nano == UINT64_MAX);
    assert_true(sp->attributes[0]->value->double_value == -2.5e-3);
    assert_true(sp->attributes[1]->value->int_value == INT64_MIN);
    free_msg(r);
    expect_span_einval("\"endTimeUnixNano\":18446744073709551616",
                       "endTimeUnixNano: 18446744073709551616 is out of range");
    expect_span_einval("\"attributes\":[{\"key\":\"d\",\"value\":{\"doubleValue\":1e999}}]",
                       "doubleValue: number 1e999 is out of range");
}

static void test_json_members_in_any_order_give_protobuf_c_bytes(void **state)
{
    (void)state;
    const char *ordered =
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{"
        "\"stringValue\":\"v\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"s\"},\"spans\":[{"
        "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"name\":\"op\",\"kind\":2,"
        "\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":\"7\"}}],\"status\":{"
        "\"message\":\"m\",\"code\":2}}]}],\"schemaUrl\":\"u\"}]}";
    const char *shuffled =
        "{\"resourceSpans\":[{\"schemaUrl\":\"u\",\"scopeSpans\":[{\"spans\":[{\"status\":{"
        "\"code\":2,\"message\":\"m\"},\"attributes\":[{\"value\":{\"intValue\":\"7\"},\"key\":"
        "\"a\"}],\"kind\":2,\"name\":\"op\",\"traceId\":\"5b8efff798038103d269b633813fc60c\"}],"
        "\"scope\":{\"name\":\"s\"}}],\"resource\":{\"attributes\":[{\"value\":{\"stringValue\":"
        "\"v\"},\"key\":\"k\"}]}}]}";
    struct kt_buf a = KT_BUF_INIT, b = KT_BUF_INIT;
    struct kt_err err = {0};
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, ordered, strlen(ordered), &a, &err),
                     0);
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, shuffled, strlen(shuffled), &b, &err),
                     0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    /* ... and the bytes are protobuf-c's own packing of what they hold. */
    ProtobufCMessage *m = protobuf_c_message_unpack(&TRACE_DESC, NULL, b.len, b.p);
    assert_non_null(m);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *packed = malloc(n);
    assert_non_null(packed);
    protobuf_c_message_pack(m, packed);
    assert_int_equal(n, b.len);
    assert_memory_equal(packed, b.p, n);
    free(packed);
    free_msg(m);
    kt_buf_free(&a);
    kt_buf_free(&b);
}

static void test_json_member_given_twice_rejected(void **state)
{
    (void)state;
    expect_span_einval("\"name\":\"a\",\"kind\":1,\"name\":\"b\"",
                       "resourceSpans[0].scopeSpans[0].spans[0].name: given twice");
    expect_span_einval("\"traceId\":\"5b8efff798038103d269b633813fc60c\","
                       "\"trace_id\":\"5b8efff798038103d269b633813fc60c\"",
                       "spans[0].trace_id: given twice");
    /* null is absent: it does not count. */
    TraceReq *r;
    Span *sp = span_from("\"name\":null,\"name\":\"b\"", &r);
    assert_string_equal(sp->name, "b");
    free_msg(r);
}

static void test_json_limits_refuse_with_path_and_bound(void **state)
{
    (void)state;
    const struct kt_otlp_limits lim = {2, 16};
    char *json = span_json("\"attributes\":[{\"key\":\"a\"},{\"key\":\"b\"}],\"name\":"
                           "\"0123456789abcdef\"");
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_err err = {0};
    assert_int_equal(
        kt_otlp_json_to_proto_limits(KT_SIGNAL_TRACES, json, strlen(json), &lim, &pb, &err), 0);
    kt_buf_free(&pb);
    free(json);
    json = span_json("\"attributes\":[{\"key\":\"a\"},{\"key\":\"b\"},{\"key\":\"c\"}]");
    expect_code(KT_SIGNAL_TRACES, &lim, json, strlen(json), KT_ETOOBIG,
                "resourceSpans[0].scopeSpans[0].spans[0].attributes[2]: more than 2 key-value "
                "pairs in one list ([receiver] max_attributes)");
    /* Without limits: accepted. */
    TraceReq *r = to_traces(json);
    free_msg(r);
    free(json);
    json = span_json("\"attributes\":[{\"key\":\"k\",\"value\":{\"kvlistValue\":{\"values\":["
                     "{\"key\":\"a\"},{\"key\":\"b\"},{\"key\":\"c\"}]}}}]");
    expect_code(KT_SIGNAL_TRACES, &lim, json, strlen(json), KT_ETOOBIG,
                "attributes[0].value.kvlistValue.values[2]: more than 2 key-value pairs");
    free(json);
    json = span_json("\"name\":\"0123456789abcdefg\"");
    expect_code(KT_SIGNAL_TRACES, &lim, json, strlen(json), KT_ETOOBIG,
                "spans[0].name: a string of more than 16 bytes ([receiver] max_string_bytes)");
    free(json);
    /* Counted as decoded, escapes or not, member names and ignored members too. */
    json = span_json("\"name\":\"\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041"
                     "\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\"");
    expect_code(KT_SIGNAL_TRACES, &lim, json, strlen(json), KT_ETOOBIG,
                "spans[0].name: a string of more than 16 bytes");
    free(json);
    json = span_json("\"unknownButLongMemberName\":1");
    expect_code(KT_SIGNAL_TRACES, &lim, json, strlen(json), KT_ETOOBIG,
                "spans[0]: a string of more than 16 bytes");
    free(json);
}

/* A traces request of about size bytes: spans of the shape SDKs send, with ten attributes
 * and an event each. resource_last puts the resource after the spans, so the writer has to
 * put the members of a large message in order. */
static char *big_traces_json(size_t size, bool resource_last)
{
    struct kt_buf b = KT_BUF_INIT;
    const char *res = "\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
                      "\"stringValue\":\"checkout\"}}]}";
    char tmp[4096];
    snprintf(tmp, sizeof(tmp),
             "{\"resourceSpans\":[{%s%s\"scopeSpans\":[{\"scope\":{\"name\":"
             "\"lib\"},\"spans\":[",
             resource_last ? "" : res, resource_last ? "" : ",");
    assert_int_equal(kt_buf_append(&b, tmp, strlen(tmp)), 0);
    for (unsigned i = 0; b.len < size; i++) {
        int n = snprintf(tmp, sizeof(tmp),
                         "%s{\"traceId\":\"%032x\",\"spanId\":\"%016x\",\"parentSpanId\":"
                         "\"%016x\",\"name\":\"GET /api/v1/items/{id}\",\"kind\":2,"
                         "\"startTimeUnixNano\":\"1700000000000000%03u\",\"endTimeUnixNano\":"
                         "\"1700000000100000%03u\",\"attributes\":[",
                         i ? "," : "", i / 8 + 1, i + 1, i + 7, i % 1000, i % 1000);
        assert_int_equal(kt_buf_append(&b, tmp, (size_t)n), 0);
        for (int a = 0; a < 10; a++) {
            n = snprintf(tmp, sizeof(tmp),
                         "%s{\"key\":\"http.attribute.%d\",\"value\":{\"stringValue\":"
                         "\"value %u of attribute %d\"}}",
                         a ? "," : "", a, i, a);
            assert_int_equal(kt_buf_append(&b, tmp, (size_t)n), 0);
        }
        n = snprintf(tmp, sizeof(tmp),
                     "],\"events\":[{\"timeUnixNano\":\"1700000000050000000\",\"name\":\"retry\","
                     "\"attributes\":[{\"key\":\"attempt\",\"value\":{\"intValue\":\"%u\"}}]}],"
                     "\"status\":{\"code\":1}}",
                     i % 5);
        assert_int_equal(kt_buf_append(&b, tmp, (size_t)n), 0);
    }
    snprintf(tmp, sizeof(tmp), "]}]%s%s}]}", resource_last ? "," : "", resource_last ? res : "");
    assert_int_equal(kt_buf_append(&b, tmp, strlen(tmp) + 1), 0);
    return (char *)kt_buf_take(&b, NULL);
}

static void test_json_slices_give_the_same_bytes(void **state)
{
    (void)state;
    char *json = big_traces_json(300 * 1024, true);
    size_t len = strlen(json);
    struct kt_buf whole = KT_BUF_INIT;
    struct kt_err err = {0};
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, json, len, &whole, &err), 0);
    static const size_t slices[] = {1, 100, 64 * 1024};
    for (size_t k = 0; k < sizeof(slices) / sizeof(slices[0]); k++) {
        struct kt_buf out = KT_BUF_INIT;
        struct kt_otlp_json_dec *d;
        assert_int_equal(kt_otlp_json_dec_new(KT_SIGNAL_TRACES, json, len, NULL, &out, &d, &err),
                         0);
        size_t steps = 0;
        int rc;
        while ((rc = kt_otlp_json_dec_step(d, slices[k], &err)) == KT_EAGAIN)
            steps++;
        assert_int_equal(rc, 0);
        /* Each step read about its slice: a whole token past it at most. */
        assert_true(steps >= len / (slices[k] + 256));
        assert_int_equal(out.len, whole.len);
        assert_memory_equal(out.p, whole.p, out.len);
        kt_otlp_json_dec_free(d);
        kt_buf_free(&out);
    }
    /* An error found in a later slice leaves the output as it was, and sticks. */
    char *bad = strstr(json + len / 2, "\"kind\":2");
    assert_non_null(bad);
    bad[7] = 'x';
    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&out, "prefix", 6), 0);
    struct kt_otlp_json_dec *d;
    assert_int_equal(kt_otlp_json_dec_new(KT_SIGNAL_TRACES, json, len, NULL, &out, &d, &err), 0);
    int rc;
    size_t steps = 0;
    while ((rc = kt_otlp_json_dec_step(d, 4096, &err)) == KT_EAGAIN)
        steps++;
    assert_true(steps > 10);
    assert_int_equal(rc, KT_EINVAL);
    assert_non_null(strstr(err.msg, "invalid JSON at line 1"));
    assert_int_equal(out.len, 6);
    assert_int_equal(kt_otlp_json_dec_step(d, 4096, &err), KT_EINVAL);
    kt_otlp_json_dec_free(d);
    kt_buf_free(&out);
    kt_buf_free(&whole);
    free(json);
}

/* The memory a conversion takes besides the body: the output buffer as allocated and what
 * the decoder holds (its stack, string scratch, the copy that puts members in order). */
static void test_json_memory_within_four_times_the_body(void **state)
{
    (void)state;
    for (int resource_last = 0; resource_last <= 1; resource_last++) {
        char *json = big_traces_json(8 * 1024 * 1024, resource_last);
        size_t len = strlen(json);
        struct kt_buf out = KT_BUF_INIT;
        struct kt_err err = {0};
        struct kt_otlp_json_dec *d;
        assert_int_equal(kt_otlp_json_dec_new(KT_SIGNAL_TRACES, json, len, NULL, &out, &d, &err),
                         0);
        int rc;
        while ((rc = kt_otlp_json_dec_step(d, 1 << 20, &err)) == KT_EAGAIN)
            ;
        assert_int_equal(rc, 0);
        size_t mem = out.cap + kt_otlp_json_dec_mem(d);
        print_message("%zu bytes of JSON (resource %s): %zu bytes of protobuf, %zu bytes held "
                      "(%.2fx the body)\n",
                      len, resource_last ? "last" : "first", out.len, mem,
                      (double)mem / (double)len);
        assert_true(mem <= 4 * len);
        /* The output is a fraction of the body for data of this shape. */
        assert_true(out.len < len);
        kt_otlp_json_dec_free(d);
        kt_buf_free(&out);
        free(json);
    }
}

static void test_json_nesting_deeper_than_limit_rejected(void **state)
{
    (void)state;
    /* The attribute's value is the first AnyValue; each arrayValue level adds one. */
    size_t levels = KT_OTLP_MAX_ANY_DEPTH;
    size_t cap = levels * 40 + 256;
    char *json = malloc(cap);
    size_t n = (size_t)snprintf(json, cap,
                                "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
                                "\"attributes\":[{\"key\":\"k\",\"value\":");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, "{\"arrayValue\":{\"values\":[");
    n += (size_t)snprintf(json + n, cap - n, "{}");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, "]}}");
    snprintf(json + n, cap - n, "}]}]}]}]}");
    expect_code(KT_SIGNAL_TRACES, NULL, json, strlen(json), KT_ETOOBIG,
                "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.arrayValue.values[0]"
                ".arrayValue.values[0]");
    expect_code(KT_SIGNAL_TRACES, NULL, json, strlen(json), KT_ETOOBIG,
                "arrayValue.[...].values[0].arrayValue.values[0].arrayValue.values[0].arrayValue."
                "values[0].arrayValue.values[0]: AnyValue nested deeper than 32 levels");
    free(json);
}

static void test_json_nesting_within_limit_round_trips(void **state)
{
    (void)state;
    /* 31 array levels put the innermost AnyValue at the deepest level allowed, 32. */
    size_t levels = KT_OTLP_MAX_ANY_DEPTH - 1;
    size_t cap = levels * 40 + 256;
    char *json = malloc(cap);
    size_t n = (size_t)snprintf(json, cap,
                                "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
                                "\"attributes\":[{\"key\":\"k\",\"value\":");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, "{\"arrayValue\":{\"values\":[");
    n += (size_t)snprintf(json + n, cap - n, "{\"intValue\":\"1\"}");
    for (size_t i = 0; i < levels; i++)
        n += (size_t)snprintf(json + n, cap - n, "]}}");
    snprintf(json + n, cap - n, "}]}]}]}]}");
    ProtobufCMessage *m = to_msg(KT_SIGNAL_TRACES, json);
    assert_round_trip(KT_SIGNAL_TRACES, m);
    free_msg(m);
    free(json);
}

static void test_json_appends_and_leaves_output_alone_on_error(void **state)
{
    (void)state;
    struct kt_buf pb = KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&pb, "prefix", 6), 0);
    const char *json = EXAMPLE_REQUEST;
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, json, strlen(json), &pb, NULL), 0);
    assert_memory_equal(pb.p, "prefix", 6);
    TraceReq *r = (TraceReq *)protobuf_c_message_unpack(&TRACE_DESC, NULL, pb.len - 6, pb.p + 6);
    assert_non_null(r);
    assert_string_equal(only_span(r)->name, "test-operation");
    free_msg(r);
    size_t len = pb.len;
    assert_int_equal(
        kt_otlp_json_to_proto(KT_SIGNAL_TRACES, "{\"resourceSpans\":1}", 19, &pb, NULL), KT_EINVAL);
    assert_int_equal(pb.len, len);
    kt_buf_free(&pb);
}

/* ---- protobuf -> JSON ----------------------------------------------------------------- */

static void test_proto_to_json_writes_hex_ids_strings_and_omits_defaults(void **state)
{
    (void)state;
    AnyValue v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v.int_value = 7;
    KeyValue k;
    KeyValue *attrs[] = {kv(&k, "k", &v)};
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.trace_id.data = (uint8_t *)TRACE_ID;
    sp.trace_id.len = 16;
    sp.span_id.data = (uint8_t *)SPAN_ID;
    sp.span_id.len = 8;
    sp.name = "x\"y";
    sp.kind = 2;
    sp.start_time_unix_nano = 5;
    sp.n_attributes = 1;
    sp.attributes = attrs;
    Span *spans[] = {&sp};
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.n_spans = 1;
    ss.spans = spans;
    ScopeSpans *sss[] = {&ss};
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.n_scope_spans = 1;
    rs.scope_spans = sss;
    ResourceSpans *rss[] = {&rs};
    TraceReq req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 1;
    req.resource_spans = rss;

    size_t n = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *pb = malloc(n);
    protobuf_c_message_pack(&req.base, pb);
    char *json = proto_to_json_str(KT_SIGNAL_TRACES, pb, n);
    assert_string_equal(json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
                              "\"traceId\":\"5b8efff798038103d269b633813fc60c\","
                              "\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"x\\\"y\",\"kind\":2,"
                              "\"startTimeUnixNano\":\"5\",\"attributes\":[{\"key\":\"k\","
                              "\"value\":{\"intValue\":\"7\"}}]}]}]}]}");
    free(json);
    free(pb);

    json = proto_to_json_str(KT_SIGNAL_LOGS, NULL, 0);
    assert_string_equal(json, "{}");
    free(json);
}

static void test_proto_to_json_example_round_trips_to_same_json(void **state)
{
    (void)state;
    struct kt_buf pb = KT_BUF_INIT;
    const char *in = EXAMPLE_REQUEST;
    assert_int_equal(kt_otlp_json_to_proto(KT_SIGNAL_TRACES, in, strlen(in), &pb, NULL), 0);
    char *json = proto_to_json_str(KT_SIGNAL_TRACES, pb.p, pb.len);
    assert_string_equal(json, in);
    free(json);
    kt_buf_free(&pb);
}

static void test_proto_to_json_doubles_shortest_and_exact(void **state)
{
    (void)state;
    TraceReq *r;
    Span *sp = span_from("\"attributes\":[{\"key\":\"a\",\"value\":{\"doubleValue\":0.1}},"
                         "{\"key\":\"b\",\"value\":{\"doubleValue\":-0.0}},"
                         "{\"key\":\"c\",\"value\":{\"doubleValue\":1e300}},"
                         "{\"key\":\"d\",\"value\":{\"doubleValue\":\"Infinity\"}},"
                         "{\"key\":\"e\",\"value\":{\"doubleValue\":0.30000000000000004}}]",
                         &r);
    assert_true(signbit(sp->attributes[1]->value->double_value));
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *pb = malloc(n);
    protobuf_c_message_pack(&r->base, pb);
    char *json = proto_to_json_str(KT_SIGNAL_TRACES, pb, n);
    assert_non_null(strstr(json, "{\"doubleValue\":0.1}"));
    assert_non_null(strstr(json, "{\"doubleValue\":-0.0}"));
    assert_non_null(strstr(json, "{\"doubleValue\":1e+300}"));
    assert_non_null(strstr(json, "{\"doubleValue\":\"Infinity\"}"));
    assert_non_null(strstr(json, "{\"doubleValue\":0.30000000000000004}"));
    free(json);
    free(pb);
    free_msg(r);
}

static void test_round_trip_traces_identical_bytes(void **state)
{
    (void)state;
    AnyValue vs, vb, vi, vd, vnz, vbytes, vempty, vemptybytes, varr, vkv, va0, va1, vinner;
    any_string(&vs, "h\xc3\xa9llo \"q\" \\ \n\t\x01 \xf0\x9f\x98\x80");
    opentelemetry__proto__common__v1__any_value__init(&vb);
    vb.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    vb.bool_value = 0;
    opentelemetry__proto__common__v1__any_value__init(&vi);
    vi.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    vi.int_value = INT64_MIN;
    opentelemetry__proto__common__v1__any_value__init(&vd);
    vd.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    vd.double_value = 3.141592653589793;
    opentelemetry__proto__common__v1__any_value__init(&vnz);
    vnz.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    vnz.double_value = -0.0;
    static uint8_t raw[] = {0, 1, 2, 0xfe, 0xff};
    opentelemetry__proto__common__v1__any_value__init(&vbytes);
    vbytes.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    vbytes.bytes_value.data = raw;
    vbytes.bytes_value.len = sizeof(raw);
    any_string(&vempty, "");
    opentelemetry__proto__common__v1__any_value__init(&vemptybytes);
    vemptybytes.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    any_string(&va0, "a0");
    opentelemetry__proto__common__v1__any_value__init(&va1);
    va1.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    va1.int_value = 1;
    AnyValue *arr_vals[] = {&va0, &va1};
    ArrayValue av = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    av.n_values = 2;
    av.values = arr_vals;
    opentelemetry__proto__common__v1__any_value__init(&varr);
    varr.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    varr.array_value = &av;
    any_string(&vinner, "inner");
    KeyValue kin;
    KeyValue *kl_vals[] = {kv(&kin, "in", &vinner)};
    KeyValueList kl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    kl.n_values = 1;
    kl.values = kl_vals;
    opentelemetry__proto__common__v1__any_value__init(&vkv);
    vkv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    vkv.kvlist_value = &kl;

    KeyValue k[10];
    KeyValue *attrs[] = {kv(&k[0], "s", &vs),         kv(&k[1], "b", &vb),
                         kv(&k[2], "i", &vi),         kv(&k[3], "d", &vd),
                         kv(&k[4], "nz", &vnz),       kv(&k[5], "bytes", &vbytes),
                         kv(&k[6], "empty", &vempty), kv(&k[7], "emptybytes", &vemptybytes),
                         kv(&k[8], "arr", &varr),     kv(&k[9], "kv", &vkv)};
    KeyValue knov;
    KeyValue *novalue[] = {kv(&knov, "novalue", NULL)};

    char *id_keys[] = {"service.name", "service.namespace"};
    EntityRef er = OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
    er.type = "service";
    er.n_id_keys = 2;
    er.id_keys = id_keys;
    EntityRef *ers[] = {&er};
    Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 10;
    res.attributes = attrs;
    res.dropped_attributes_count = 4;
    res.n_entity_refs = 1;
    res.entity_refs = ers;

    Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = "io.kotel";
    scope.version = "1.0";
    scope.n_attributes = 1;
    scope.attributes = novalue;

    SpanEvent ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    ev.time_unix_nano = UINT64_MAX;
    ev.name = "exception";
    ev.n_attributes = 2;
    ev.attributes = attrs;
    ev.dropped_attributes_count = 1;
    SpanEvent *evs[] = {&ev};
    SpanLink ln = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
    ln.trace_id.data = (uint8_t *)TRACE_ID;
    ln.trace_id.len = 16;
    ln.span_id.data = (uint8_t *)SPAN_ID;
    ln.span_id.len = 8;
    ln.trace_state = "k=v";
    ln.flags = 0x301;
    SpanLink *lns[] = {&ln};
    SpanStatus st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st.code = 2;
    st.message = "failed";

    Span full = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    full.trace_id.data = (uint8_t *)TRACE_ID;
    full.trace_id.len = 16;
    full.span_id.data = (uint8_t *)SPAN_ID;
    full.span_id.len = 8;
    full.parent_span_id.data = (uint8_t *)SPAN_ID;
    full.parent_span_id.len = 8;
    full.trace_state = "a=b";
    full.flags = 0xffffffffu;
    full.name = "GET /";
    full.kind = 3;
    full.start_time_unix_nano = 1609459200000000000ull;
    full.end_time_unix_nano = 1609459200500000000ull;
    full.n_attributes = 10;
    full.attributes = attrs;
    full.dropped_attributes_count = 1;
    full.n_events = 1;
    full.events = evs;
    full.dropped_events_count = 2;
    full.n_links = 1;
    full.links = lns;
    full.dropped_links_count = 3;
    full.status = &st;
    SpanStatus empty_status = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    Span bare = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    bare.kind = -1; /* open enum: unknown values survive */
    bare.status = &empty_status;
    Span *spans[] = {&full, &bare};

    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.scope = &scope;
    ss.n_spans = 2;
    ss.spans = spans;
    ss.schema_url = "https://opentelemetry.io/schemas/1.21.0";
    ScopeSpans ss_empty = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ScopeSpans *sss[] = {&ss, &ss_empty};
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &res;
    rs.n_scope_spans = 2;
    rs.scope_spans = sss;
    rs.schema_url = "s";
    ResourceSpans *rss[] = {&rs, &rs};
    TraceReq req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 2;
    req.resource_spans = rss;
    assert_round_trip(KT_SIGNAL_TRACES, &req.base);
}

static void test_round_trip_metrics_identical_bytes(void **state)
{
    (void)state;
    AnyValue v;
    KeyValue k;
    KeyValue *attrs[] = {kv(&k, "host", any_string(&v, "h1"))};

    Exemplar ex = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    ex.n_filtered_attributes = 1;
    ex.filtered_attributes = attrs;
    ex.time_unix_nano = 9;
    ex.value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
    ex.as_int = -3;
    ex.trace_id.data = (uint8_t *)TRACE_ID;
    ex.trace_id.len = 16;
    ex.span_id.data = (uint8_t *)SPAN_ID;
    ex.span_id.len = 8;
    Exemplar *exs[] = {&ex};

    NumberDP nd = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    nd.n_attributes = 1;
    nd.attributes = attrs;
    nd.start_time_unix_nano = 1;
    nd.time_unix_nano = 2;
    nd.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    nd.as_double = 1e-320; /* subnormal */
    nd.n_exemplars = 1;
    nd.exemplars = exs;
    nd.flags = 1;
    NumberDP ni = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    ni.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    ni.as_int = INT64_MAX;
    NumberDP nz = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    nz.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    nz.as_double = 0;
    NumberDP nnan = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    nnan.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    nnan.as_double = NAN;
    NumberDP *gauge_pts[] = {&nd, &ni, &nz, &nnan};
    Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    gauge.n_data_points = 4;
    gauge.data_points = gauge_pts;
    Metric mg = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    mg.name = "g";
    mg.description = "a gauge";
    mg.unit = "1";
    mg.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    mg.gauge = &gauge;
    mg.n_metadata = 1;
    mg.metadata = attrs;

    NumberDP *sum_pts[] = {&ni};
    Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum.n_data_points = 1;
    sum.data_points = sum_pts;
    sum.aggregation_temporality = 2;
    sum.is_monotonic = 1;
    Metric ms = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    ms.name = "s";
    ms.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    ms.sum = &sum;

    uint64_t buckets[] = {0, 5, UINT64_MAX};
    double bounds[] = {0.1, 1e300, -5e-324, INFINITY, -INFINITY};
    HistogramDP hd = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    hd.count = 5;
    hd._sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    hd.sum = 0;
    hd._min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
    hd.min = -0.0;
    hd._max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
    hd.max = 123456789012345678.0;
    hd.n_bucket_counts = 3;
    hd.bucket_counts = buckets;
    hd.n_explicit_bounds = 5;
    hd.explicit_bounds = bounds;
    hd.n_exemplars = 1;
    hd.exemplars = exs;
    HistogramDP hempty = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    HistogramDP *hpts[] = {&hd, &hempty};
    Histogram hist = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    hist.n_data_points = 2;
    hist.data_points = hpts;
    hist.aggregation_temporality = 1;
    Metric mh = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    mh.name = "h";
    mh.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    mh.histogram = &hist;

    uint64_t pos_counts[] = {1, 2, 3};
    ExpBuckets pos =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    pos.offset = -5;
    pos.n_bucket_counts = 3;
    pos.bucket_counts = pos_counts;
    ExpBuckets neg =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    ExpHistogramDP ed = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    ed.count = 7;
    ed._sum_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
    ed.sum = 2.75;
    ed.scale = -20;
    ed.zero_count = 1;
    ed.positive = &pos;
    ed.negative = &neg;
    ed.flags = 1;
    ed._min_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN;
    ed.min = 0;
    ed._max_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX;
    ed.max = 1.0 / 3.0;
    ed.zero_threshold = 1e-12;
    ExpHistogramDP *epts[] = {&ed};
    ExpHistogram eh = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    eh.n_data_points = 1;
    eh.data_points = epts;
    eh.aggregation_temporality = 2;
    Metric me = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    me.name = "e";
    me.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    me.exponential_histogram = &eh;

    Quantile q0 = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    q0.quantile = 0.5;
    q0.value = 12.25;
    Quantile q1 = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    Quantile *qs[] = {&q0, &q1};
    SummaryDP sd = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    sd.count = 3;
    sd.sum = 36.75;
    sd.n_quantile_values = 2;
    sd.quantile_values = qs;
    SummaryDP *spts[] = {&sd};
    Summary summ = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    summ.n_data_points = 1;
    summ.data_points = spts;
    Metric mq = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    mq.name = "q";
    mq.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    mq.summary = &summ;

    Metric mnone = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    mnone.name = "no data";

    Metric *metrics[] = {&mg, &ms, &mh, &me, &mq, &mnone};
    ScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.n_metrics = 6;
    sm.metrics = metrics;
    ScopeMetrics *sms[] = {&sm};
    ResourceMetrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = sms;
    ResourceMetrics *rms[] = {&rm};
    MetricsReq req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = rms;
    assert_round_trip(KT_SIGNAL_METRICS, &req.base);
}

static void test_round_trip_logs_identical_bytes(void **state)
{
    (void)state;
    AnyValue body_s, body_kv_v, body_kv, body_bytes;
    any_string(&body_s, "line one\nline two");
    KeyValue k;
    KeyValue *vals[] = {kv(&k, "msg", any_string(&body_kv_v, "structured"))};
    KeyValueList kl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    kl.n_values = 1;
    kl.values = vals;
    opentelemetry__proto__common__v1__any_value__init(&body_kv);
    body_kv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    body_kv.kvlist_value = &kl;
    static uint8_t raw[] = {0xde, 0xad, 0xbe, 0xef};
    opentelemetry__proto__common__v1__any_value__init(&body_bytes);
    body_bytes.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    body_bytes.bytes_value.data = raw;
    body_bytes.bytes_value.len = 4;

    LogRecord l0 = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    l0.time_unix_nano = 1;
    l0.observed_time_unix_nano = 2;
    l0.severity_number = 17;
    l0.severity_text = "ERROR";
    l0.body = &body_s;
    l0.n_attributes = 1;
    l0.attributes = vals;
    l0.dropped_attributes_count = 2;
    l0.flags = 1;
    l0.trace_id.data = (uint8_t *)TRACE_ID;
    l0.trace_id.len = 16;
    l0.span_id.data = (uint8_t *)SPAN_ID;
    l0.span_id.len = 8;
    l0.event_name = "ev";
    LogRecord l1 = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    l1.body = &body_kv;
    LogRecord l2 = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    l2.body = &body_bytes;
    AnyValue body_unset = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    LogRecord l3 = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    l3.body = &body_unset;
    LogRecord *recs[] = {&l0, &l1, &l2, &l3};
    ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.n_log_records = 4;
    sl.log_records = recs;
    ScopeLogs *sls[] = {&sl};
    Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    ResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.resource = &res;
    rl.n_scope_logs = 1;
    rl.scope_logs = sls;
    ResourceLogs *rls[] = {&rl};
    LogsReq req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.n_resource_logs = 1;
    req.resource_logs = rls;
    assert_round_trip(KT_SIGNAL_LOGS, &req.base);
}

static void expect_proto_einval(enum kt_signal sig, const uint8_t *p, size_t n, const char *want)
{
    struct kt_buf js = KT_BUF_INIT;
    struct kt_err err = {0};
    struct kt_slice sl = {p, n};
    assert_int_equal(kt_otlp_proto_to_json(sig, sl, &js, &err), KT_EINVAL);
    if (strstr(err.msg, want) == NULL)
        print_error("error \"%s\" does not contain \"%s\"\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(js.len, 0);
    kt_buf_free(&js);
}

/* What protobuf-c cannot unpack is refused; everything else about the bytes is
 * kt_otlp_validate's to check, once, before they get here. */
static void test_proto_to_json_refuses_what_protobuf_c_cannot_unpack(void **state)
{
    (void)state;
    /* resource_spans (1, LEN) claiming 5 bytes with 1 present. */
    static const uint8_t overrun[] = {0x0a, 0x05, 0x0a};
    expect_proto_einval(KT_SIGNAL_TRACES, overrun, sizeof(overrun), "malformed protobuf");
    /* A packed fixed64 run whose length is not a multiple of 8. */
    static const uint8_t bad_packed[] = {0x0a, 0x0c, 0x12, 0x0a, 0x12, 0x08, 0x4a,
                                         0x06, 0x0a, 0x04, 0x32, 0x02, 0x01, 0x02};
    expect_proto_einval(KT_SIGNAL_METRICS, bad_packed, sizeof(bad_packed), "malformed protobuf");
}

/* ---- response bodies ------------------------------------------------------------------ */

static char *take_str(struct kt_buf *b)
{
    assert_int_equal(kt_buf_append_byte(b, 0), 0);
    return (char *)kt_buf_take(b, NULL);
}

static void test_status_json_escapes_message(void **state)
{
    (void)state;
    struct kt_buf b = KT_BUF_INIT;
    assert_int_equal(kt_otlp_json_status(3, "bad \"x\"\n\\ \x01 \xff", &b), 0);
    char *s = take_str(&b);
    assert_string_equal(s, "{\"code\":3,\"message\":\"bad \\\"x\\\"\\n\\\\ \\u0001 \\ufffd\"}");
    free(s);
    assert_int_equal(kt_otlp_json_status(14, NULL, &b), 0);
    s = take_str(&b);
    assert_string_equal(s, "{\"code\":14,\"message\":\"\"}");
    free(s);
}

static void test_export_response_empty_when_all_accepted(void **state)
{
    (void)state;
    struct kt_buf b = KT_BUF_INIT;
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_TRACES, 0, NULL, &b), 0);
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_LOGS, 0, "", &b), 0);
    char *s = take_str(&b);
    assert_string_equal(s, "{}{}");
    free(s);
}

static void test_export_response_partial_success_per_signal(void **state)
{
    (void)state;
    struct kt_buf b = KT_BUF_INIT;
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_TRACES, 2, "too \"big\"", &b), 0);
    char *s = take_str(&b);
    assert_string_equal(
        s, "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"too \\\"big\\\"\"}}");
    free(s);
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_METRICS, 5, NULL, &b), 0);
    s = take_str(&b);
    assert_string_equal(s, "{\"partialSuccess\":{\"rejectedDataPoints\":\"5\"}}");
    free(s);
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_LOGS, 0, "slow down", &b), 0);
    s = take_str(&b);
    assert_string_equal(s, "{\"partialSuccess\":{\"errorMessage\":\"slow down\"}}");
    free(s);
    assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_LOGS, UINT64_MAX, "x", &b), 0);
    s = take_str(&b);
    assert_string_equal(s, "{\"partialSuccess\":{\"rejectedLogRecords\":\"9223372036854775807\","
                           "\"errorMessage\":\"x\"}}");
    free(s);
    assert_int_equal(kt_otlp_json_export_response((enum kt_signal)7, 1, "x", &b), KT_EINVAL);
    kt_buf_free(&b);
}

/* Whatever the message, the bodies must parse as JSON. */
static void test_response_bodies_are_valid_json(void **state)
{
    (void)state;
    static const char *msgs[] = {"r\xc3\xa9sum\xc3\xa9", "\xc3", "\x1f\x7f\"\\/", ""};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        struct kt_buf b = KT_BUF_INIT;
        assert_int_equal(kt_otlp_json_export_response(KT_SIGNAL_METRICS, 3, msgs[i], &b), 0);
        json_error_t jerr;
        json_t *v = json_loadb((const char *)b.p, b.len, 0, &jerr);
        assert_non_null(v);
        json_t *ps = json_object_get(v, "partialSuccess");
        assert_string_equal(json_string_value(json_object_get(ps, "rejectedDataPoints")), "3");
        json_decref(v);
        kt_buf_reset(&b);
        assert_int_equal(kt_otlp_json_status(3, msgs[i], &b), 0);
        v = json_loadb((const char *)b.p, b.len, 0, &jerr);
        assert_non_null(v);
        assert_int_equal(json_integer_value(json_object_get(v, "code")), 3);
        json_decref(v);
        kt_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_example_request_converts_to_span),
        cmocka_unit_test(test_json_ignored_members_nest_at_most_64_levels),
        cmocka_unit_test(test_json_string_escapes_and_surrogate_pairs),
        cmocka_unit_test(test_json_string_errors_report_line_and_column),
        cmocka_unit_test(test_json_numbers_as_integers_and_doubles),
        cmocka_unit_test(test_json_members_in_any_order_give_protobuf_c_bytes),
        cmocka_unit_test(test_json_member_given_twice_rejected),
        cmocka_unit_test(test_json_limits_refuse_with_path_and_bound),
        cmocka_unit_test(test_json_slices_give_the_same_bytes),
        cmocka_unit_test(test_json_memory_within_four_times_the_body),
        cmocka_unit_test(test_json_hex_trace_id_becomes_16_bytes),
        cmocka_unit_test(test_json_snake_case_names_accepted),
        cmocka_unit_test(test_json_int64_accepted_as_number_and_string),
        cmocka_unit_test(test_json_uint64_above_int64_max_accepted_as_string),
        cmocka_unit_test(test_json_enum_by_name_or_number),
        cmocka_unit_test(test_json_nested_kvlist_and_array_any_values),
        cmocka_unit_test(test_json_base64_accepts_url_safe_and_unpadded),
        cmocka_unit_test(test_json_gauge_and_sum_metrics),
        cmocka_unit_test(test_json_histogram_zero_sum_min_max_keep_presence),
        cmocka_unit_test(test_json_exponential_histogram),
        cmocka_unit_test(test_json_summary),
        cmocka_unit_test(test_json_logs_with_body),
        cmocka_unit_test(test_json_double_special_values),
        cmocka_unit_test(test_json_null_means_absent),
        cmocka_unit_test(test_json_unknown_members_ignored),
        cmocka_unit_test(test_json_empty_object_is_empty_request),
        cmocka_unit_test(test_json_empty_body_rejected),
        cmocka_unit_test(test_json_syntax_error_reports_line_and_column),
        cmocka_unit_test(test_json_wrong_types_report_path),
        cmocka_unit_test(test_json_bad_hex_reports_path),
        cmocka_unit_test(test_json_invalid_base64_reports_path),
        cmocka_unit_test(test_json_two_oneof_members_rejected),
        cmocka_unit_test(test_json_nesting_deeper_than_limit_rejected),
        cmocka_unit_test(test_json_nesting_within_limit_round_trips),
        cmocka_unit_test(test_json_appends_and_leaves_output_alone_on_error),
        cmocka_unit_test(test_proto_to_json_writes_hex_ids_strings_and_omits_defaults),
        cmocka_unit_test(test_proto_to_json_example_round_trips_to_same_json),
        cmocka_unit_test(test_proto_to_json_doubles_shortest_and_exact),
        cmocka_unit_test(test_round_trip_traces_identical_bytes),
        cmocka_unit_test(test_round_trip_metrics_identical_bytes),
        cmocka_unit_test(test_round_trip_logs_identical_bytes),
        cmocka_unit_test(test_proto_to_json_refuses_what_protobuf_c_cannot_unpack),
        cmocka_unit_test(test_status_json_escapes_message),
        cmocka_unit_test(test_export_response_empty_when_all_accepted),
        cmocka_unit_test(test_export_response_partial_success_per_signal),
        cmocka_unit_test(test_response_bodies_are_valid_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
