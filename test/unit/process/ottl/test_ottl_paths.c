/* The paths of process/ottl/ottl_paths.c (raw IDs, trace_state, flags, dropped counts, kind
 * names, log, metric and data point fields) and the per-item cache, on a span, a log record,
 * a metric and its data points rebuilt for every test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"
#include "ottl_eval_fixture.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpDataPoint;

static const uint8_t trace_id[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                     0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
static const uint8_t span_id[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};

static Span span;
static Event event;
static LogRecord logrec;
static Metric metric;
static Sum sum;
static NumberDataPoint number;
static HistogramDataPoint hist;
static ExpDataPoint exph;
static uint64_t buckets[3] = {1, 2, 3};
static double bounds[2] = {1, 5};
static struct ottl_cache cache;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    span = sp;
    span.name = "GET /x";
    span.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    span.trace_id = (ProtobufCBinaryData){16, (uint8_t *)trace_id};
    span.span_id = (ProtobufCBinaryData){8, (uint8_t *)span_id};
    span.trace_state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    span.flags = 257;
    span.dropped_attributes_count = 4;
    span.dropped_events_count = 5;
    span.dropped_links_count = 6;
    Event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    event = ev;
    event.name = "exception";
    event.dropped_attributes_count = 7;
    LogRecord l = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    logrec = l;
    logrec.time_unix_nano = 1700000000000000000u;
    logrec.observed_time_unix_nano = 1700000000500000000u;
    logrec.flags = 1;
    logrec.event_name = "user.login";
    logrec.span_id = (ProtobufCBinaryData){8, (uint8_t *)span_id};
    Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    metric = m;
    metric.name = "m";
    Sum s = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum = s;
    sum.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    sum.is_monotonic = 1;
    metric.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    metric.sum = &sum;
    NumberDataPoint n = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    number = n;
    number.time_unix_nano = 10;
    number.flags = 1;
    HistogramDataPoint h = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    hist = h;
    hist.count = 6;
    hist._sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    hist.sum = 12.5;
    hist.bucket_counts = buckets;
    hist.n_bucket_counts = 3;
    hist.explicit_bounds = bounds;
    hist.n_explicit_bounds = 2;
    ExpDataPoint e = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    exph = e;
    exph.scale = 3;
    exph.zero_count = 1;
    struct ottl_cache c = {.map = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT};
    cache = c;
    struct ottl_tctx t = {.arena = &arena,
                          .span = &span,
                          .spanevent = &event,
                          .metric = &metric,
                          .datapoint = &number.base,
                          .log = &logrec};
    tc = t;
    return 0;
}

/* The string attribute key of the span, "" when it is no string. */
static const char *span_str(const char *key)
{
    for (size_t i = 0; i < span.n_attributes; i++)
        if (strcmp(span.attributes[i]->key, key) == 0 &&
            span.attributes[i]->value->value_case ==
                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return span.attributes[i]->value->string_value;
    return "";
}

static void test_raw_ids_equal_only_ids_of_their_kind(void **state)
{
    (void)state;
    assert_true(cond("span.trace_id == TraceID(\"5b8efff798038103d269b633813fc60c\")"));
    assert_true(cond("span.span_id == SpanID(\"eee19b7ec3c1b174\")"));
    assert_false(cond("span.trace_id == \"5b8efff798038103d269b633813fc60c\""));
    assert_true(cond("span.trace_id != span.span_id"));
    assert_false(cond("span.span_id < SpanID(\"ffffffffffffffff\")"));
    /* an absent parent is the zero ID, as pdata reads it */
    assert_true(cond("span.parent_span_id == SpanID(\"0000000000000000\")"));
    assert_true(cond("span.parent_span_id.string == \"0000000000000000\""));
    assert_true(cond("log.trace_id.string == \"00000000000000000000000000000000\""));
    assert_true(cond("log.span_id == SpanID(\"eee19b7ec3c1b174\")"));
}

static void test_raw_ids_set_from_ids_only(void **state)
{
    (void)state;
    stmt("set(span.trace_id, TraceID(\"0102030405060708090a0b0c0d0e0f10\"))");
    assert_int_equal(span.trace_id.len, 16);
    assert_int_equal(span.trace_id.data[15], 0x10);
    stmt("set(span.parent_span_id, span.span_id)");
    assert_memory_equal(span.parent_span_id.data, span_id, 8);
    stmt("set(span.span_id, SpanID(\"0000000000000000\"))");
    assert_int_equal(span.span_id.len, 0);
    assert_non_null(
        strstr(stmt_err("set(span.trace_id, SpanID(\"0102030405060708\"))"), "want a TraceID"));
    assert_non_null(strstr(stmt_err("set(span.span_id, \"0102030405060708\")"), "got string"));
    /* an ID is no attribute value: the key is left empty, as the Collector leaves it */
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], span.trace_id)"), "ID"));
    assert_int_equal(span.n_attributes, 1);
    assert_int_equal(span.attributes[0]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    stmt("set(log.trace_id.string, \"0102030405060708090a0b0c0d0e0f10\")");
    assert_int_equal(logrec.trace_id.len, 16);
    stmt("set(log.span_id, SpanID(\"0102030405060708\"))");
    assert_int_equal(logrec.span_id.data[7], 8);
    stmt_err("set(log.span_id.string, \"zz02030405060708\")");
}

static void test_trace_state_reads_w3c_members(void **state)
{
    (void)state;
    assert_true(cond("span.trace_state == \"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\""));
    assert_true(cond("span.trace_state[\"rojo\"] == \"00f067aa0ba902b7\""));
    assert_true(cond("span.trace_state[\"missing\"] == \"\""));
    span.trace_state = " a=1 ,,\tb=x y\t,";
    assert_true(cond("span.trace_state[\"a\"] == \"1\""));
    assert_true(cond("span.trace_state[\"b\"] == \"x y\""));
    /* an invalid list (a key twice, an upper-case key, no '=') reads nil by key */
    const char *bad[] = {"a=1,a=2", "A=1", "a", "a=1,b=", "a=x,y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        span.trace_state = (char *)bad[i];
        assert_true(cond("span.trace_state[\"a\"] == nil"));
    }
    span.trace_state = "t@sys=1";
    assert_true(cond("span.trace_state[\"t@sys\"] == \"1\""));
}

static void test_trace_state_set_moves_the_member_first(void **state)
{
    (void)state;
    stmt("set(span.trace_state[\"rojo\"], \"new\")");
    assert_string_equal(span.trace_state, "rojo=new,congo=t61rcWkgMzE");
    stmt("set(span.trace_state[\"k\"], \"v\")");
    assert_string_equal(span.trace_state, "k=v,rojo=new,congo=t61rcWkgMzE");
    /* invalid keys and values change nothing and are no error */
    stmt("set(span.trace_state[\"Bad\"], \"v\")");
    stmt("set(span.trace_state[\"k\"], \"a,b\")");
    stmt("set(span.trace_state[\"k\"], \"ends \")");
    assert_string_equal(span.trace_state, "k=v,rojo=new,congo=t61rcWkgMzE");
    span.trace_state = "a=1,a=2";
    stmt("set(span.trace_state[\"k\"], \"v\")");
    assert_string_equal(span.trace_state, "a=1,a=2");
    /* a 33rd member pushes the last one out */
    char full[400];
    size_t o = 0;
    for (int i = 0; i < 32; i++)
        o += (size_t)snprintf(full + o, sizeof(full) - o, "%sk%d=%d", i ? "," : "", i, i);
    span.trace_state = full;
    stmt("set(span.trace_state[\"new\"], \"1\")");
    assert_non_null(strstr(span.trace_state, "new=1,k0=0,"));
    assert_non_null(strstr(span.trace_state, "k30=30"));
    assert_null(strstr(span.trace_state, "k31"));
    stmt("set(span.trace_state, \"anything\")");
    assert_string_equal(span.trace_state, "anything");
    stmt_err("set(span.trace_state[\"k\"], 1)");
    assert_non_null(
        strstr(parse_err("set(span.name, span.trace_state[\"a\"][\"b\"])"), "exactly one"));
    assert_non_null(strstr(parse_err("set(span.name, span.flags[\"a\"])"), "not a map"));
}

static void test_flags_and_dropped_counts(void **state)
{
    (void)state;
    assert_true(cond("span.flags == 257 and span.dropped_attributes_count == 4"));
    assert_true(cond("span.dropped_events_count == 5 and span.dropped_links_count == 6"));
    assert_true(cond("spanevent.dropped_attributes_count == 7"));
    stmt("set(span.flags, 1)");
    assert_int_equal(span.flags, 1);
    assert_non_null(strstr(stmt_err("set(span.flags, -1)"), "out of range"));
    stmt_err("set(span.flags, 4294967296)");
    assert_int_equal(span.flags, 1);
    /* counts keep the low 32 bits, as the Collector's uint32 conversion does */
    stmt("set(span.dropped_links_count, 4294967297)");
    assert_int_equal(span.dropped_links_count, 1);
    stmt("set(spanevent.dropped_attributes_count, 0)");
    assert_int_equal(event.dropped_attributes_count, 0);
    assert_non_null(strstr(stmt_err("set(span.dropped_events_count, \"3\")"), "want a int"));
    /* no resource or scope in this context */
    stmt_err("set(resource.dropped_attributes_count, 1)");
    assert_true(cond("resource.dropped_attributes_count == 0"));
}

static void test_schema_urls(void **state)
{
    (void)state;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    tc.scope = &scope;
    /* outside a walk there is no container: "" and no set */
    assert_true(cond("resource.schema_url == \"\" and scope.schema_url == \"\""));
    assert_non_null(strstr(stmt_err("set(scope.schema_url, \"x\")"), "no container"));
    char *res_url = "https://opentelemetry.io/schemas/1.21.0", *scope_url = NULL;
    tc.resource_schema_url = &res_url;
    tc.scope_schema_url = &scope_url;
    assert_true(cond("resource.schema_url == \"https://opentelemetry.io/schemas/1.21.0\""));
    stmt("set(scope.schema_url, \"https://example.com/s\")");
    assert_string_equal(scope_url, "https://example.com/s");
    stmt_err("set(resource.schema_url, 1)");
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_true(cond("span.kind.string == \"Server\""));
    assert_true(cond("span.kind.deprecated_string == \"SPAN_KIND_SERVER\""));
    stmt("set(span.kind.string, \"Client\")");
    assert_int_equal(span.kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    stmt("set(span.kind.deprecated_string, \"SPAN_KIND_CONSUMER\")");
    assert_true(cond("span.kind == SPAN_KIND_CONSUMER"));
    assert_non_null(strstr(stmt_err("set(span.kind.string, \"client\")"), "unknown span kind"));
    span.kind = 9;
    assert_true(cond("span.kind.string == \"\""));
}

static void test_log_fields(void **state)
{
    (void)state;
    assert_true(cond("log.observed_time_unix_nano - log.time_unix_nano == 500000000"));
    assert_true(cond("log.flags == 1 and log.event_name == \"user.login\""));
    assert_true(cond("log.span_id.string == \"eee19b7ec3c1b174\""));
    stmt("set(log.time_unix_nano, 5)");
    stmt("set(log.flags, 0)");
    stmt("set(log.dropped_attributes_count, 2)");
    stmt("set(log.event_name, \"e\")");
    assert_int_equal(logrec.time_unix_nano, 5);
    assert_int_equal(logrec.flags, 0);
    assert_int_equal(logrec.dropped_attributes_count, 2);
    assert_string_equal(logrec.event_name, "e");
    stmt_err("set(log.event_name, 1)");
    stmt_err("set(log.observed_time_unix_nano, 1.5)");
    /* body.string: the body as text, whatever its type */
    assert_true(cond("log.body.string == \"\""));
    stmt("set(log.body, 42)");
    assert_true(cond("log.body.string == \"42\""));
    stmt("set(log.body, true)");
    assert_true(cond("log.body.string == \"true\""));
    /* maps as Go's JSON: keys sorted, doubles in ES6 form, no HTML escaping */
    stmt("set(log.body, {\"b\": 0.000125, \"a\": \"<x\\n>\"})");
    assert_true(cond("log.body.string == \"{\\\"a\\\":\\\"<x\\\\n>\\\",\\\"b\\\":0.000125}\""));
    stmt("set(log.body, 0.00000015)");
    assert_true(cond("log.body.string == \"1.5e-7\""));
    stmt("set(log.body, 100000000000000000000.0)");
    assert_true(cond("log.body.string == \"100000000000000000000\""));
    stmt("set(log.body, -2.5)");
    assert_true(cond("log.body.string == \"-2.5\""));
    stmt("set(log.body.string, \"text\")");
    assert_string_equal(logrec.body->string_value, "text");
    stmt_err("set(log.body.string, 1)");
}

static void test_metric_temporality_and_monotonic(void **state)
{
    (void)state;
    assert_true(cond("metric.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE"));
    assert_true(cond("metric.is_monotonic == true"));
    stmt("set(metric.aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA)");
    stmt("set(metric.is_monotonic, false)");
    assert_int_equal(sum.aggregation_temporality, 1);
    assert_false(sum.is_monotonic);
    stmt_err("set(metric.is_monotonic, 1)");
    stmt_err("set(metric.aggregation_temporality, \"delta\")");
    /* a gauge has neither: nil, and setting them does nothing */
    metric.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    assert_true(cond("metric.aggregation_temporality == nil and metric.is_monotonic == nil"));
    stmt("set(metric.is_monotonic, true)");
    assert_false(sum.is_monotonic);
}

static void test_datapoint_fields(void **state)
{
    (void)state;
    assert_true(
        cond("datapoint.time_unix_nano == 10 and datapoint.flags == FLAG_NO_RECORDED_VALUE"));
    assert_true(cond("datapoint.count == nil and datapoint.sum == nil"));
    assert_true(cond("datapoint.bucket_counts == nil and datapoint.scale == nil"));
    stmt("set(datapoint.start_time_unix_nano, 3)");
    assert_int_equal(number.start_time_unix_nano, 3);
    assert_non_null(strstr(stmt_err("set(datapoint.count, 1)"), "not on this type"));
    tc.datapoint = &hist.base;
    assert_true(cond("datapoint.count == 6 and datapoint.sum == 12.5"));
    stmt("set(datapoint.sum, 13.5)");
    stmt("set(datapoint.count, 7)");
    assert_int_equal(hist.count, 7);
    assert_true(hist.sum == 13.5);
    stmt_err("set(datapoint.sum, 1)");
    assert_true(cond("Len(datapoint.bucket_counts) == 3 and Len(datapoint.explicit_bounds) == 2"));
    stmt("set(datapoint.attributes[\"b\"], datapoint.explicit_bounds)");
    stmt("set(datapoint.bucket_counts, [0, 1, 2, 3])");
    stmt_err("set(datapoint.explicit_bounds, [0.5, 1, 2.5])");
    stmt("set(datapoint.explicit_bounds, [0.5, 1.0, 2.5])");
    assert_int_equal(hist.n_bucket_counts, 4);
    assert_int_equal(hist.bucket_counts[3], 3);
    assert_int_equal(hist.n_explicit_bounds, 3);
    assert_true(hist.explicit_bounds[1] == 1.0);
    assert_non_null(strstr(stmt_err("set(datapoint.explicit_bounds, [\"a\"])"), "item 0"));
    stmt("set(datapoint.bucket_counts, nil)");
    assert_int_equal(hist.n_bucket_counts, 0);
    stmt_err("set(datapoint.scale, 1)");
    tc.datapoint = &exph.base;
    assert_true(cond("datapoint.scale == 3 and datapoint.zero_count == 1"));
    stmt("set(datapoint.scale, -2)");
    stmt("set(datapoint.sum, 0.5)");
    assert_int_equal(exph.scale, -2);
    assert_int_equal(exph._sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM);
}

static void test_cache_reads_and_writes(void **state)
{
    (void)state;
    /* without a cache (a caller outside a walk): empty, and it cannot be set */
    assert_true(cond("span.cache[\"a\"] == nil"));
    stmt_err("set(span.cache[\"a\"], 1)");
    tc.cache = &cache;
    stmt("set(span.cache[\"a\"], span.name)");
    stmt("set(span.cache[\"m\"][\"k\"], 1)");
    assert_true(cond("span.cache[\"a\"] == \"GET /x\" and span.cache[\"m\"][\"k\"] == 1"));
    stmt("set(span.attributes[\"n\"], Len(span.cache))");
    stmt("delete_key(span.cache, \"a\")");
    assert_int_equal(cache.map.n_values, 1);
    assert_non_null(strstr(parse_err("set(span.name, log.cache[\"a\"])"), "cannot mix"));
    assert_non_null(
        strstr(parse_err("set(span.name, resource.cache[\"a\"])"), "resource.cache is only in"));
    assert_non_null(strstr(parse_err("set(cache[\"a\"], 1)"), "unknown path 'cache'"));
}

/* ---- the cache through a walk: empty for each item ---- */

struct run {
    struct ottl_statement **s;
    size_t n;
};

static int run_stmts(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *drop,
                     struct kt_err *err)
{
    (void)ctx;
    (void)drop;
    const struct run *r = arg;
    for (size_t i = 0; i < r->n; i++) {
        int rc = ottl_statement_exec(r->s[i], t, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Visits each of spans (in one resource and scope) at the span context. */
static void walk_spans(Span **spans, size_t n, ottl_visit_fn visit, void *arg)
{
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.spans = spans;
    ss.n_spans = n;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.scope_spans = &ssp;
    rs.n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
    Opentelemetry__Proto__Trace__V1__TracesData td =
        OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.resource_spans = &rsp;
    td.n_resource_spans = 1;
    struct ottl_walk w = {.mode = OTTL_WALK_EDIT,
                          .contexts = OTTL_CTX_BIT(OTTL_CTX_SPAN),
                          .arena = &arena,
                          .visit = visit,
                          .arg = arg};
    struct kt_err err = {0};
    if (ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err) != 0)
        fail_msg("walk: %s", err.msg);
}

static void test_cache_is_empty_for_each_item(void **state)
{
    (void)state;
    const char *src[] = {"set(attributes[\"before\"], cache[\"seen\"])",
                         "set(cache[\"seen\"], span.name)"};
    struct ottl_statement *s[2];
    struct kt_err err = {0};
    for (size_t i = 0; i < 2; i++)
        if (ottl_statement_parse_in(src[i], OTTL_CTX_SPAN, &s[i], &err) != 0)
            fail_msg("parse '%s': %s", src[i], err.msg);
    Span two = span;
    two.name = "second";
    Span *spans[] = {&span, &two};
    struct run r = {s, 2};
    walk_spans(spans, 2, run_stmts, &r);
    for (size_t i = 0; i < 2; i++)
        ottl_statement_free(s[i]);
    /* each span saw an empty cache: "before" is there, with no value */
    assert_int_equal(span.n_attributes, 1);
    assert_int_equal(two.n_attributes, 1);
    assert_int_equal(two.attributes[0]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    assert_string_equal(span_str("before"), "");
}

/* What each visit of the reuse test saw: arena bytes its statements took, and whether the
 * cache held what they set. */
struct reuse {
    struct run r;
    struct ottl_condition *check;
    size_t grew[3];
    bool held[3];
    int item;
};

static int run_and_measure(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *drop,
                           struct kt_err *err)
{
    struct reuse *u = arg;
    unsigned char *before = arena.cur;
    int rc = run_stmts(&u->r, ctx, t, drop, err);
    if (rc == 0)
        rc = ottl_condition_eval(u->check, t, &u->held[u->item], err);
    u->grew[u->item++] = (size_t)(arena.cur - before);
    return rc;
}

static void test_cache_storage_is_reused_from_item_to_item(void **state)
{
    (void)state;
    const char *src[] = {"set(cache[\"k\"], 1)", "set(cache[\"j\"], cache[\"k\"])",
                         "delete_key(cache, \"k\")", "set(cache[\"k\"], true)"};
    struct ottl_statement *s[4];
    struct reuse u = {.r = {s, 4}};
    struct kt_err err = {0};
    for (size_t i = 0; i < 4; i++)
        if (ottl_statement_parse_in(src[i], OTTL_CTX_SPAN, &s[i], &err) != 0)
            fail_msg("parse '%s': %s", src[i], err.msg);
    if (ottl_condition_parse_in("cache[\"j\"] == 1 and cache[\"k\"] == true and Len(cache) == 2",
                                OTTL_CTX_SPAN, &u.check, &err) != 0)
        fail_msg("parse: %s", err.msg);
    Span *spans[] = {&span, &span, &span};
    walk_spans(spans, 3, run_and_measure, &u);
    for (size_t i = 0; i < 4; i++)
        ottl_statement_free(s[i]);
    ottl_condition_free(u.check);
    assert_int_equal(u.item, 3);
    for (int i = 0; i < 3; i++)
        assert_true(u.held[i]);
    assert_true(u.grew[0] > 0);
    assert_int_equal(u.grew[1], 0);
    assert_int_equal(u.grew[2], 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_raw_ids_equal_only_ids_of_their_kind),
        T(test_raw_ids_set_from_ids_only),
        T(test_trace_state_reads_w3c_members),
        T(test_trace_state_set_moves_the_member_first),
        T(test_flags_and_dropped_counts),
        T(test_schema_urls),
        T(test_kind_names),
        T(test_log_fields),
        T(test_metric_temporality_and_monotonic),
        T(test_datapoint_fields),
        T(test_cache_reads_and_writes),
        T(test_cache_is_empty_for_each_item),
        T(test_cache_storage_is_reused_from_item_to_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
