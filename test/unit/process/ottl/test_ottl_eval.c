/* ottl evaluation: every path read and written, comparisons, logic, converters and
 * editors, run on one fixture holding a resource, scope, span, span event, metric with a
 * number data point, and log record. The fixture is rebuilt for every test. */
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

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

static Resource res;
static Scope scope;
static Span span;
static Status status;
static SpanEvent event;
static Metric metric;
static Gauge gauge;
static NumberDataPoint dp;
static LogRecord logrec;
static uint8_t trace_id[16], span_id[8];

static void add_str(KeyValue ***arr, size_t *n, const char *key, const char *s)
{
    kv_add(arr, n, key, any_str(s));
}

static void add_int(KeyValue ***arr, size_t *n, const char *key, int64_t i)
{
    kv_add(arr, n, key, any_int(i));
}

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Resource r = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res = r;
    add_str(&res.attributes, &res.n_attributes, "service.name", "checkout");
    add_str(&res.attributes, &res.n_attributes, "env", "prod");

    Scope s = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope = s;
    scope.name = "io.lib";
    scope.version = "1.2.0";
    add_str(&scope.attributes, &scope.n_attributes, "scope.k", "v");

    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    span = sp;
    for (int i = 0; i < 16; i++)
        trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 8; i++)
        span_id[i] = (uint8_t)(i + 1);
    span.trace_id.data = trace_id;
    span.trace_id.len = 16;
    span.span_id.data = span_id;
    span.span_id.len = 8;
    span.name = "GET /users/123";
    span.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    span.start_time_unix_nano = 1000;
    span.end_time_unix_nano = 2500;
    Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    status = st;
    status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    status.message = "boom";
    span.status = &status;
    add_str(&span.attributes, &span.n_attributes, "http.method", "GET");
    add_int(&span.attributes, &span.n_attributes, "http.status_code", 500);
    AnyValue *ratio = any();
    ratio->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    ratio->double_value = 0.5;
    kv_add(&span.attributes, &span.n_attributes, "ratio", ratio);
    AnyValue *sampled = any();
    sampled->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    sampled->bool_value = 1;
    kv_add(&span.attributes, &span.n_attributes, "sampled", sampled);
    add_str(&span.attributes, &span.n_attributes, "path", "/users/123/orders/456");
    AnyValue *nested = any();
    KeyValueList *kl = kt_arena_alloc(&arena, sizeof(*kl));
    KeyValueList kli = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    *kl = kli;
    add_str(&kl->values, &kl->n_values, "inner", "x");
    nested->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    nested->kvlist_value = kl;
    kv_add(&span.attributes, &span.n_attributes, "nested", nested);

    SpanEvent e = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    event = e;
    event.name = "exception";
    event.time_unix_nano = 1500;
    add_str(&event.attributes, &event.n_attributes, "exception.type", "IOError");

    Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    metric = m;
    metric.name = "http.duration";
    metric.unit = "ms";
    metric.description = "request time";
    Gauge g = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    gauge = g;
    metric.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    metric.gauge = &gauge;
    NumberDataPoint p = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    dp = p;
    dp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    dp.as_double = 1.5;
    add_str(&dp.attributes, &dp.n_attributes, "route", "/a");

    LogRecord l = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    logrec = l;
    logrec.body = any_str("hello world");
    logrec.severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR;
    logrec.severity_text = "ERROR";
    add_str(&logrec.attributes, &logrec.n_attributes, "user", "bob");

    struct ottl_tctx t = {.arena = &arena,
                          .resource = &res,
                          .scope = &scope,
                          .span = &span,
                          .spanevent = &event,
                          .metric = &metric,
                          .datapoint = (ProtobufCMessage *)&dp,
                          .log = &logrec};
    tc = t;
    return 0;
}

/* ---- paths ---- */

static void test_read_resource_scope(void **state)
{
    (void)state;
    assert_true(cond("resource.attributes[\"service.name\"] == \"checkout\""));
    assert_true(cond("resource.attributes[\"missing\"] == nil"));
    assert_true(cond("scope.name == \"io.lib\""));
    assert_true(cond("scope.version == \"1.2.0\""));
    assert_true(cond("scope.attributes[\"scope.k\"] == \"v\""));
    assert_true(cond("Len(resource.attributes) == 2"));
}

static void test_read_span(void **state)
{
    (void)state;
    assert_true(cond("span.name == \"GET /users/123\""));
    assert_true(cond("span.kind == SPAN_KIND_SERVER"));
    assert_true(cond("span.kind == 2"));
    assert_true(cond("span.status.code == STATUS_CODE_ERROR"));
    assert_true(cond("span.status.message == \"boom\""));
    assert_true(cond("span.attributes[\"http.method\"] == \"GET\""));
    assert_true(cond("span.attributes[\"http.status_code\"] == 500"));
    assert_true(cond("span.attributes[\"ratio\"] == 0.5"));
    assert_true(cond("span.attributes[\"sampled\"] == true"));
    assert_true(cond("span.attributes[\"nope\"] == nil"));
    assert_true(cond("span.trace_id.string == \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\""));
    assert_true(cond("span.span_id.string == \"0102030405060708\""));
    /* an absent ID reads as zeros, as pdata's */
    assert_true(cond("span.parent_span_id.string == \"0000000000000000\""));
    assert_true(cond("span.start_time_unix_nano == 1000"));
    assert_true(cond("span.end_time_unix_nano == 2500"));
    span.status = NULL;
    assert_true(cond("span.status.code == STATUS_CODE_UNSET"));
    assert_true(cond("span.status.message == \"\""));
}

static void test_read_spanevent_metric_datapoint_log(void **state)
{
    (void)state;
    assert_true(cond("spanevent.name == \"exception\""));
    assert_true(cond("spanevent.attributes[\"exception.type\"] == \"IOError\""));
    assert_true(cond("spanevent.time_unix_nano == 1500"));
    assert_true(cond("metric.name == \"http.duration\""));
    assert_true(cond("metric.unit == \"ms\""));
    assert_true(cond("metric.description == \"request time\""));
    assert_true(cond("metric.type == METRIC_DATA_TYPE_GAUGE"));
    assert_true(cond("datapoint.attributes[\"route\"] == \"/a\""));
    assert_true(cond("datapoint.value_double == 1.5"));
    assert_true(cond("datapoint.value_int == 0"));
    assert_true(cond("log.body == \"hello world\""));
    assert_true(cond("log.severity_number == SEVERITY_NUMBER_ERROR"));
    assert_true(cond("log.severity_number >= SEVERITY_NUMBER_WARN"));
    assert_true(cond("log.severity_text == \"ERROR\""));
    assert_true(cond("log.attributes[\"user\"] == \"bob\""));
    /* A histogram point has attributes but no number value. */
    HistogramDataPoint h = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    add_str(&h.attributes, &h.n_attributes, "le", "1");
    tc.datapoint = (ProtobufCMessage *)&h;
    assert_true(cond("datapoint.attributes[\"le\"] == \"1\""));
    assert_true(cond("datapoint.value_double == nil"));
}

static void test_enums(void **state)
{
    (void)state;
    assert_true(cond("STATUS_CODE_UNSET == 0 and STATUS_CODE_OK == 1 and STATUS_CODE_ERROR == 2"));
    assert_true(cond("SPAN_KIND_UNSPECIFIED == 0 and SPAN_KIND_INTERNAL == 1 and "
                     "SPAN_KIND_CLIENT == 3 and SPAN_KIND_PRODUCER == 4 and "
                     "SPAN_KIND_CONSUMER == 5"));
    assert_true(cond("SEVERITY_NUMBER_UNSPECIFIED == 0 and SEVERITY_NUMBER_TRACE == 1 and "
                     "SEVERITY_NUMBER_TRACE4 == 4 and SEVERITY_NUMBER_DEBUG == 5 and "
                     "SEVERITY_NUMBER_INFO == 9 and SEVERITY_NUMBER_INFO4 == 12 and "
                     "SEVERITY_NUMBER_WARN == 13 and SEVERITY_NUMBER_ERROR3 == 19 and "
                     "SEVERITY_NUMBER_FATAL == 21 and SEVERITY_NUMBER_FATAL4 == 24"));
    assert_true(cond("METRIC_DATA_TYPE_NONE == 0 and METRIC_DATA_TYPE_SUM == 2 and "
                     "METRIC_DATA_TYPE_HISTOGRAM == 3 and "
                     "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM == 4 and "
                     "METRIC_DATA_TYPE_SUMMARY == 5"));
}

/* ---- operators ---- */

static void test_comparisons(void **state)
{
    (void)state;
    assert_true(cond("1 < 2"));
    assert_true(cond("2 <= 2"));
    assert_true(cond("3 > 2.5"));
    assert_true(cond("2.0 == 2"));
    assert_true(cond("2 >= 2.0"));
    assert_true(cond("-1 < 0"));
    assert_true(cond("1 != 2"));
    assert_false(cond("1 != 1"));
    assert_true(cond("\"abc\" < \"abd\""));
    assert_true(cond("\"ab\" < \"abc\""));
    assert_true(cond("\"b\" > \"abc\""));
    assert_true(cond("\"x\" <= \"x\""));
    assert_true(cond("false < true"));
    assert_true(cond("nil == nil"));
    assert_false(cond("nil != nil"));
    assert_true(cond("span.attributes[\"none\"] != \"x\""));
    assert_false(cond("span.attributes[\"none\"] == \"x\""));
    assert_false(cond("span.attributes[\"none\"] < 1"));
    assert_false(cond("nil > 1"));
    /* Different types are unequal and unordered, never an error. */
    assert_false(cond("\"1\" == 1"));
    assert_true(cond("\"1\" != 1"));
    assert_false(cond("\"1\" < 2"));
    assert_false(cond("true == 1"));
}

static void test_logic_precedence(void **state)
{
    (void)state;
    assert_true(cond("true or false and false")); /* and binds tighter */
    assert_false(cond("(true or false) and false"));
    assert_false(cond("not true and false"));
    assert_true(cond("not (true and false)"));
    assert_true(cond("not false and true"));
    assert_true(cond("not 1 == 2")); /* not applies to the comparison */
    assert_true(cond("not not true"));
    assert_true(cond("span.name == \"x\" or span.kind == SPAN_KIND_SERVER and "
                     "span.status.code == STATUS_CODE_ERROR"));
    assert_false(cond("false and Len(1) == 1")); /* short circuit skips the error */
    assert_true(cond("true or Len(1) == 1"));
}

/* ---- converters ---- */

static void test_ismatch(void **state)
{
    (void)state;
    assert_true(cond("IsMatch(span.name, \"^GET /users/[0-9]+$\")"));
    assert_false(cond("IsMatch(span.name, \"^POST\")"));
    assert_true(cond("IsMatch(span.attributes[\"http.status_code\"], \"^5\\\\d\\\\d$\")"));
    assert_true(cond("IsMatch(span.attributes[\"sampled\"], \"true\")"));
    assert_false(cond("IsMatch(span.attributes[\"missing\"], \".*\")"));
    assert_true(cond("not IsMatch(log.body, \"(?i)WARN\")"));
    assert_true(cond("IsMatch(log.body, \"(?i)HELLO\")"));
    assert_true(cond("IsMatch(span.trace_id.string, \"^a0a1\")"));
    assert_string_equal(cond_err("IsMatch(resource.attributes, \"x\")"),
                        "IsMatch: want a string, got map");
}

static void test_arithmetic(void **state)
{
    (void)state;
    assert_true(cond("2 + 3 * 4 == 14"));
    assert_true(cond("(2 + 3) * 4 == 20"));
    assert_true(cond("20 - 6 / 3 - 1 == 17"));
    assert_true(cond("7 / 2 == 3 and -7 / 2 == -3 and 7 / -2 == -3"));
    assert_true(cond("1.5 + 2 == 3.5 and 3 / 2.0 == 1.5"));
    assert_true(cond("span.end_time_unix_nano - span.start_time_unix_nano == 1500"));
    assert_true(cond("span.attributes[\"http.status_code\"] / 100 == 5"));
    assert_true(cond("span.attributes[\"ratio\"] * 4 == 2"));
    assert_true(cond("-span.attributes[\"ratio\"] == -0.5"));
    assert_true(cond("-(1 + 2) == -3"));
    assert_true(cond("Len(span.name) * 2 == 28"));
    /* int64 wraps as in Go, and MinInt64 / -1 is MinInt64 */
    assert_true(cond("9223372036854775807 + 1 == -9223372036854775807 - 1"));
    assert_true(cond("(-9223372036854775807 - 1) / -1 == -9223372036854775807 - 1"));
    assert_true(cond("-(-9223372036854775807 - 1) == -9223372036854775807 - 1"));
    assert_string_equal(cond_err("1 / 0 == 1"), "division by zero");
    assert_string_equal(cond_err("1.0 / 0.0 == 1"), "division by zero");
    assert_string_equal(cond_err("span.name + 1 == 1"),
                        "'+' takes ints and doubles, got string + int");
    assert_string_equal(cond_err("span.attributes[\"none\"] * 2 == 1"),
                        "'*' takes ints and doubles, got nil * int");
    assert_string_equal(cond_err("-span.name == 1"), "'-' takes an int or a double, got string");
    stmt("set(span.attributes[\"ms\"], (span.end_time_unix_nano - span.start_time_unix_nano) * 2)");
    assert_true(cond("span.attributes[\"ms\"] == 3000"));
}

static void test_nested_indexes(void **state)
{
    (void)state;
    assert_true(cond("span.attributes[\"nested\"][\"inner\"] == \"x\""));
    assert_true(cond("span.attributes[\"nested\"][\"none\"] == nil"));
    assert_true(cond("span.attributes[\"none\"][\"inner\"] == nil"));
    assert_string_equal(cond_err("span.attributes[\"path\"][\"a\"] == nil"),
                        "span.attributes: [\"a\"] indexes a string, not a map");
    assert_string_equal(cond_err("span.attributes[\"nested\"][0] == nil"),
                        "span.attributes: [0] indexes a map, not a list");
    /* set creates the maps on the way, then reads back; arrays are indexed in place */
    stmt("set(span.attributes[\"a\"][\"b\"][\"c\"], 3)");
    assert_true(cond("span.attributes[\"a\"][\"b\"][\"c\"] == 3"));
    stmt("set(span.attributes[\"nested\"][\"inner\"], \"y\")");
    assert_true(cond("span.attributes[\"nested\"][\"inner\"] == \"y\""));
    AnyValue *list = any();
    ArrayValue *av = kt_arena_alloc(&arena, sizeof(*av));
    ArrayValue avi = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *av = avi;
    AnyValue **items = kt_arena_alloc(&arena, 2 * sizeof(*items));
    items[0] = any_str("zero");
    items[1] = any_str("one");
    av->values = items;
    av->n_values = 2;
    list->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    list->array_value = av;
    kv_add(&logrec.attributes, &logrec.n_attributes, "list", list);
    assert_true(cond("log.attributes[\"list\"][1] == \"one\""));
    stmt("set(log.attributes[\"list\"][0], 7)");
    assert_true(cond("log.attributes[\"list\"][0] == 7"));
    assert_string_equal(cond_err("log.attributes[\"list\"][2] == nil"),
                        "log.attributes: index 2 out of range (length 2)");
    struct kt_err err = {0};
    assert_int_equal(stmt_rc("set(log.attributes[\"list\"][2], 1)", &err), KT_EINVAL);
    assert_int_equal(stmt_rc("set(span.attributes[\"path\"][\"x\"], 1)", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set span.attributes: [\"x\"] indexes a string, not a map");
}

static void test_literals(void **state)
{
    (void)state;
    assert_true(cond("Len([1, \"a\", [2]]) == 3 and Len({\"a\": 1, \"b\": {}}) == 2"));
    stmt("set(span.attributes[\"l\"], [\"a\", 1 + 1, [true], {\"k\": span.name}])");
    assert_true(cond("span.attributes[\"l\"][1] == 2 and span.attributes[\"l\"][2][0] == true"));
    assert_true(cond("span.attributes[\"l\"][3][\"k\"] == \"GET /users/123\""));
    stmt("set(log.body, {\"msg\": \"hi\", \"n\": [1, 2]})");
    assert_true(cond("log.body[\"msg\"] == \"hi\" and log.body[\"n\"][1] == 2"));
    /* a map read from the data is copied: changing the original leaves the copy */
    stmt("set(span.attributes[\"copy\"], span.attributes[\"nested\"])");
    stmt("set(span.attributes[\"nested\"][\"inner\"], \"changed\")");
    assert_true(cond("span.attributes[\"copy\"][\"inner\"] == \"x\""));
    stmt("set(span.attributes[\"res\"], resource.attributes)");
    assert_true(cond("span.attributes[\"res\"][\"service.name\"] == \"checkout\""));
    stmt("set(log.body, nil)");
    assert_true(cond("log.body == nil"));
    struct ottl_condition *c;
    struct kt_err err = {0};
    assert_int_equal(ottl_condition_parse("Len({1: 2}) == 1", &c, &err), KT_EINVAL);
    assert_string_equal(err.msg,
                        "column 6: expected a string key, got number 1 in 'Len({1: 2}) == 1'");
    assert_int_equal(ottl_condition_parse("Len({\"a\" 2}) == 1", &c, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 10: expected ':', got number 2 in 'Len({\"a\" 2}) == 1'");
}

static void test_concat(void **state)
{
    (void)state;
    assert_true(cond("Concat([span.attributes[\"http.method\"], span.name], \": \") == "
                     "\"GET: GET /users/123\""));
    assert_true(cond("Concat([metric.name, 1, 2.5, true], \" \") == "
                     "\"http.duration 1 2.5 true\""));
    /* nil and maps as the Collector renders them */
    assert_true(cond("Concat([\"a\", span.attributes[\"none\"], \"b\"], \"-\") == \"a-<nil>-b\""));
    assert_true(cond("Concat([], \",\") == \"\""));
    assert_true(cond(
        "Concat([span.attributes[\"nested\"], \"x\"], \"\") == \"{\\\"inner\\\":\\\"x\\\"}x\""));
}

static void test_len(void **state)
{
    (void)state;
    assert_true(cond("Len(span.name) == 14"));
    assert_true(cond("Len(\"\") == 0"));
    assert_true(cond("Len(span.attributes) == 6"));
    assert_true(cond("Len(span.attributes[\"nested\"]) == 1"));
    assert_true(cond("Len([1, 2, 3]) == 3"));
    assert_string_equal(cond_err("Len(span.kind) == 1"),
                        "Len: want a string, map or list, got int");
    cond_err("Len(span.attributes[\"none\"]) == 0");
}

static void test_int(void **state)
{
    (void)state;
    assert_true(cond("Int(\"42\") == 42"));
    assert_true(cond("Int(\"-7\") == -7"));
    /* a string that is no integer: an error, and a configuration error as a literal */
    stmt("set(span.attributes[\"s\"], \"4x\")");
    assert_string_equal(cond_err("Int(span.attributes[\"s\"]) == nil"),
                        "Int: \"4x\" is not an integer");
    assert_string_equal(cond_err("Int(span.attributes[\"nested\"]) == nil"),
                        "Int: cannot convert a map");
    struct ottl_condition *c;
    struct kt_err err = {0};
    assert_int_equal(ottl_condition_parse("Int(\"\") == nil", &c, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "Int: \"\" is not an integer"));
    assert_true(cond("Int(3.9) == 3"));
    assert_true(cond("Int(-3.9) == -3"));
    assert_true(cond("Int(true) == 1"));
    assert_true(cond("Int(false) == 0"));
    assert_true(cond("Int(span.attributes[\"http.status_code\"]) == 500"));
    assert_true(cond("Int(nil) == nil"));
    assert_true(cond("Int(1e300) == nil"));
}

static void test_string(void **state)
{
    (void)state;
    assert_true(cond("String(12) == \"12\""));
    assert_true(cond("String(-1.25) == \"-1.25\""));
    assert_true(cond("String(0.1) == \"0.1\""));
    assert_true(cond("String(true) == \"true\""));
    assert_true(cond("String(\"s\") == \"s\""));
    assert_true(cond("String(nil) == nil"));
    assert_true(cond("String(span.attributes[\"nested\"]) == \"{\\\"inner\\\":\\\"x\\\"}\""));
    assert_true(cond("String(span.attributes[\"http.status_code\"]) == \"500\""));
}

static void test_sha256(void **state)
{
    (void)state;
    assert_true(cond("SHA256(\"abc\") == "
                     "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""));
    assert_true(cond("SHA256(\"\") == "
                     "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""));
    assert_string_equal(cond_err("SHA256(1) == \"\""),
                        "SHA256: argument 1 must be a string, got int");
}

static void test_isrootspan(void **state)
{
    (void)state;
    assert_true(cond("IsRootSpan()"));
    uint8_t parent[8] = {1, 2, 3, 4, 5, 6, 7, 9};
    span.parent_span_id.data = parent;
    span.parent_span_id.len = 8;
    assert_false(cond("IsRootSpan()"));
    assert_true(cond("span.parent_span_id.string == \"0102030405060709\""));
    assert_true(cond("not IsRootSpan() and span.name != \"\""));
    tc.span = NULL;
    assert_string_equal(cond_err("IsRootSpan()"), "IsRootSpan: no span in this context");
}

static void test_eval_errors(void **state)
{
    (void)state;
    tc.log = NULL;
    assert_string_equal(cond_err("log.body == \"x\""), "log.body: no log in this context");
    assert_string_equal(cond_err("String(1) == \"1\" and Int(\"1\") == 1 and Len(2) == 1"),
                        "Len: want a string, map or list, got int");
}

/* ---- editors ---- */

static void test_set_span(void **state)
{
    (void)state;
    stmt("set(span.name, \"renamed\")");
    assert_string_equal(span.name, "renamed");
    stmt("set(span.kind, SPAN_KIND_CLIENT)");
    assert_int_equal(span.kind, 3);
    stmt("set(span.status.code, STATUS_CODE_OK)");
    assert_int_equal(status.code, 1);
    stmt("set(span.status.message, \"fine\")");
    assert_string_equal(status.message, "fine");
    span.status = NULL; /* a missing status is created */
    stmt("set(span.status.code, STATUS_CODE_ERROR)");
    assert_non_null(span.status);
    assert_int_equal(span.status->code, 2);
    stmt("set(span.start_time_unix_nano, 7)");
    stmt("set(span.end_time_unix_nano, 9)");
    assert_int_equal(span.start_time_unix_nano, 7);
    assert_int_equal(span.end_time_unix_nano, 9);
    stmt("set(span.trace_id.string, \"000102030405060708090a0b0c0d0e0f\")");
    assert_true(cond("span.trace_id.string == \"000102030405060708090a0b0c0d0e0f\""));
    stmt("set(span.span_id.string, \"ffffffffffffffff\")");
    assert_int_equal(span.span_id.data[7], 0xff);
    stmt("set(span.parent_span_id.string, \"0000000000000001\")");
    assert_false(cond("IsRootSpan()"));
    stmt("set(span.parent_span_id.string, \"\")");
    assert_true(cond("IsRootSpan()"));
    stmt("set(span.name, Concat([span.attributes[\"http.method\"], \"x\"], \"_\"))");
    assert_string_equal(span.name, "GET_x");
}

static void test_set_attributes(void **state)
{
    (void)state;
    stmt("set(span.attributes[\"http.method\"], \"POST\")");
    assert_string_equal(
        kv_find(span.attributes, span.n_attributes, "http.method")->value->string_value, "POST");
    size_t before = span.n_attributes;
    stmt("set(span.attributes[\"new.int\"], 5)");
    stmt("set(span.attributes[\"new.double\"], 2.5)");
    stmt("set(span.attributes[\"new.bool\"], false)");
    stmt("set(span.attributes[\"copy\"], resource.attributes[\"service.name\"])");
    assert_int_equal(span.n_attributes, before + 4);
    assert_true(cond("span.attributes[\"new.int\"] == 5 and span.attributes[\"new.double\"] == 2.5 "
                     "and span.attributes[\"new.bool\"] == false and "
                     "span.attributes[\"copy\"] == \"checkout\""));
    stmt("set(resource.attributes[\"region\"], \"eu\")");
    stmt("set(scope.attributes[\"s\"], 1)");
    stmt("set(spanevent.attributes[\"handled\"], true)");
    stmt("set(datapoint.attributes[\"route\"], \"/b\")");
    stmt("set(log.attributes[\"user\"], \"alice\")");
    assert_true(cond("resource.attributes[\"region\"] == \"eu\" and scope.attributes[\"s\"] == 1 "
                     "and spanevent.attributes[\"handled\"] == true"));
    assert_true(cond("datapoint.attributes[\"route\"] == \"/b\""));
    assert_true(cond("log.attributes[\"user\"] == \"alice\""));
    /* nil: the key is there with an empty value, as the Collector leaves it */
    before = span.n_attributes;
    stmt("set(span.attributes[\"ghost\"], span.attributes[\"none\"])");
    assert_int_equal(span.n_attributes, before + 1);
    assert_int_equal(kv_find(span.attributes, span.n_attributes, "ghost")->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    assert_true(cond("span.attributes[\"ghost\"] == nil"));
    /* a kvlist attribute and a kvlist body are maps with keys */
    struct kt_err err = {0};
    assert_int_equal(stmt_rc("set(log.body[\"k\"], \"v\")", &err), KT_EINVAL);
    assert_string_equal(err.msg, "log.body is not a map");
    assert_int_equal(logrec.body->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    logrec.body = NULL;
    stmt("set(log.body[\"k\"], \"v\")");
    assert_true(cond("log.body[\"k\"] == \"v\" and Len(log.body) == 1"));
}

static void test_set_other_contexts(void **state)
{
    (void)state;
    stmt("set(scope.name, \"other\")");
    stmt("set(scope.version, \"2\")");
    assert_string_equal(scope.name, "other");
    assert_string_equal(scope.version, "2");
    stmt("set(spanevent.name, \"retry\")");
    stmt("set(spanevent.time_unix_nano, 3)");
    assert_string_equal(event.name, "retry");
    assert_int_equal(event.time_unix_nano, 3);
    stmt("set(metric.name, \"latency\")");
    stmt("set(metric.unit, \"s\")");
    stmt("set(metric.description, \"desc\")");
    assert_string_equal(metric.name, "latency");
    assert_string_equal(metric.unit, "s");
    assert_string_equal(metric.description, "desc");
    stmt("set(datapoint.value_double, 2.25)");
    assert_true(dp.as_double == 2.25);
    stmt("set(datapoint.value_int, 9)");
    assert_int_equal(dp.value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    assert_true(cond("datapoint.value_int == 9 and datapoint.value_double == 0.0"));
    stmt("set(datapoint.value_double, 4)");
    assert_true(cond("datapoint.value_double == 4"));
    stmt("set(log.body, \"replaced\")");
    assert_string_equal(logrec.body->string_value, "replaced");
    stmt("set(log.body, 12)");
    assert_true(cond("log.body == 12"));
    stmt("set(log.severity_number, SEVERITY_NUMBER_WARN)");
    stmt("set(log.severity_text, \"WARN\")");
    assert_int_equal(logrec.severity_number, 13);
    assert_string_equal(logrec.severity_text, "WARN");
}

static void test_set_type_errors(void **state)
{
    (void)state;
    struct kt_err err = {0};
    assert_int_equal(stmt_rc("set(span.name, 1)", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set span.name: want a string, got int");
    assert_int_equal(stmt_rc("set(span.kind, \"SERVER\")", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set span.kind: want a int, got string");
    assert_int_equal(stmt_rc("set(span.kind, 9)", &err), KT_EINVAL);
    assert_int_equal(stmt_rc("set(span.trace_id.string, \"abc\")", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set span.trace_id.string: want 32 hex digits, got 3");
    assert_int_equal(stmt_rc("set(span.span_id.string, \"zzzzzzzzzzzzzzzz\")", &err), KT_EINVAL);
    assert_int_equal(stmt_rc("set(span.name, nil)", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set span.name: want a string, got nil");
    assert_int_equal(stmt_rc("set(log.severity_number, 2147483648)", &err), KT_EINVAL);
    assert_string_equal(span.name, "GET /users/123");
    HistogramDataPoint h = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    tc.datapoint = (ProtobufCMessage *)&h;
    assert_int_equal(stmt_rc("set(datapoint.value_int, 1)", &err), KT_EINVAL);
    assert_string_equal(err.msg, "set datapoint.value_int: not a number data point");
}

static void test_where(void **state)
{
    (void)state;
    stmt("set(span.name, \"a\") where span.kind == SPAN_KIND_CLIENT");
    assert_string_equal(span.name, "GET /users/123");
    stmt("set(span.name, \"b\") where span.kind == SPAN_KIND_SERVER and "
         "resource.attributes[\"env\"] == \"prod\"");
    assert_string_equal(span.name, "b");
}

static void test_delete_key(void **state)
{
    (void)state;
    stmt("delete_key(span.attributes, \"http.method\")");
    assert_null(kv_find(span.attributes, span.n_attributes, "http.method"));
    assert_int_equal(span.n_attributes, 5);
    assert_string_equal(span.attributes[0]->key, "http.status_code"); /* order kept */
    stmt("delete_key(span.attributes, \"absent\")");
    assert_int_equal(span.n_attributes, 5);
    stmt("set(span.attributes[\"nested\"][\"deeper\"][\"k\"], 1)");
    stmt("delete_key(span.attributes[\"nested\"][\"deeper\"], \"k\")");
    assert_true(cond("Len(span.attributes[\"nested\"][\"deeper\"]) == 0"));
    stmt("delete_key(span.attributes[\"nested\"], \"inner\")");
    stmt("delete_key(span.attributes[\"nested\"], \"deeper\")");
    assert_true(cond("Len(span.attributes[\"nested\"]) == 0"));
    stmt("delete_key(resource.attributes, \"env\")");
    assert_int_equal(res.n_attributes, 1);
}

static void test_delete_matching_keys(void **state)
{
    (void)state;
    stmt("delete_matching_keys(span.attributes, \"^http\\\\.\")");
    assert_int_equal(span.n_attributes, 4);
    assert_null(kv_find(span.attributes, span.n_attributes, "http.method"));
    assert_null(kv_find(span.attributes, span.n_attributes, "http.status_code"));
    stmt("delete_matching_keys(resource.attributes, \"(?i)ENV\")");
    assert_int_equal(res.n_attributes, 1);
}

static void test_keep_keys(void **state)
{
    (void)state;
    stmt("keep_keys(span.attributes, [\"path\", \"ratio\", \"absent\"])");
    assert_int_equal(span.n_attributes, 2);
    assert_string_equal(span.attributes[0]->key, "ratio");
    assert_string_equal(span.attributes[1]->key, "path");
    stmt("keep_keys(log.attributes, [])");
    assert_int_equal(logrec.n_attributes, 0);
}

static void test_keep_matching_keys(void **state)
{
    (void)state;
    stmt("keep_matching_keys(span.attributes, \"^(http|path)\")");
    assert_int_equal(span.n_attributes, 3);
    assert_string_equal(span.attributes[2]->key, "path");
}

static void test_replace_pattern_function(void **state)
{
    (void)state;
    /* sha256("123") and sha256("456") */
    stmt("replace_pattern(span.attributes[\"path\"], \"/([0-9]+)\", \"$1\", SHA256, \"/h:%s\")");
    assert_true(
        cond("span.attributes[\"path\"] == "
             "\"/users/h:a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"
             "/orders/h:b3a8e0e1f9ab1bfe3a36f231f676f78bb30a519d2b21e6c530c0eee8ebb4a5d0\""));
    stmt("replace_pattern(span.name, \"[0-9]+\", \"$0\", function = SHA256)");
    assert_string_equal(
        span.name, "GET /users/a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3");
    struct kt_err err = {0};
    assert_int_equal(stmt_rc("replace_pattern(span.name, \"GET\", \"x\", SHA256, \"%d %s\")", &err),
                     KT_EINVAL);
    assert_string_equal(err.msg, "replace_pattern: replacement_format must hold one %s and no "
                                 "other format specifiers");
    struct ottl_statement *st;
    assert_int_equal(
        ottl_statement_parse("replace_pattern(span.name, \"a\", \"b\", MD5)", &st, &err),
        KT_EINVAL);
    assert_string_equal(err.msg, "column 38: replace_pattern: argument 4 must be SHA256 (the hash "
                                 "function kotel has) in 'replace_pattern(span.name, \"a\", \"b\", "
                                 "MD5)'");
    assert_int_equal(ottl_statement_parse("replace_pattern(span.name, \"a\")", &st, &err),
                     KT_EINVAL);
    assert_string_equal(err.msg, "column 1: replace_pattern takes 3 to 5 arguments (target, "
                                 "regex_pattern, replacement, function, replacement_format), got 2 "
                                 "in 'replace_pattern(span.name, \"a\")'");
}

static void test_replace_pattern(void **state)
{
    (void)state;
    stmt("replace_pattern(span.name, \"/users/([0-9]+)\", \"/users/{id:$1}\")");
    assert_string_equal(span.name, "GET /users/{id:123}");
    stmt("replace_pattern(span.attributes[\"path\"], \"[0-9]+\", \"N\")");
    assert_true(cond("span.attributes[\"path\"] == \"/users/N/orders/N\""));
    stmt("replace_pattern(span.attributes[\"path\"], \"(?P<first>[a-z]+)\", \"${first}_$$\")");
    assert_true(cond("span.attributes[\"path\"] == \"/users_$/N/orders_$/N\""));
    /* Go's Expand: $1x names group "1x", which does not exist */
    stmt("replace_pattern(log.body, \"(hello)\", \"$1x ${1}x\")");
    assert_string_equal(logrec.body->string_value, " hellox world");
    /* an empty match next to a previous match is skipped, as in Go */
    stmt("replace_pattern(metric.unit, \"x*\", \"-\")");
    assert_string_equal(metric.unit, "-m-s-");
    /* non-strings are left alone; no match changes nothing */
    stmt("replace_pattern(span.attributes[\"http.status_code\"], \"5\", \"4\")");
    assert_true(cond("span.attributes[\"http.status_code\"] == 500"));
    const char *before = scope.name;
    stmt("replace_pattern(scope.name, \"zzz\", \"y\")");
    assert_ptr_equal(scope.name, before);
    stmt("replace_pattern(log.attributes[\"user\"], \"b\", log.severity_text)");
    assert_true(cond("log.attributes[\"user\"] == \"ERRORoERROR\""));
}

static void test_replace_all_patterns(void **state)
{
    (void)state;
    stmt("replace_all_patterns(span.attributes, \"value\", \"[0-9]+\", \"#\")");
    assert_true(cond("span.attributes[\"path\"] == \"/users/#/orders/#\""));
    assert_true(cond("span.attributes[\"http.status_code\"] == 500"));
    assert_true(cond("span.attributes[\"http.method\"] == \"GET\""));
    stmt("replace_all_patterns(span.attributes, \"key\", \"^http\\\\.(.*)$\", \"h.$1\")");
    assert_true(cond("span.attributes[\"h.method\"] == \"GET\" and "
                     "span.attributes[\"h.status_code\"] == 500 and "
                     "span.attributes[\"http.method\"] == nil"));
    /* renaming onto an existing key merges them: first position, last value */
    stmt("replace_all_patterns(span.attributes, \"key\", \"^(ratio|sampled)$\", \"merged\")");
    assert_int_equal(span.n_attributes, 5);
    assert_true(cond("span.attributes[\"merged\"] == true"));
    assert_string_equal(span.attributes[2]->key, "merged");
}

static void test_truncate_all(void **state)
{
    (void)state;
    stmt("truncate_all(span.attributes, 4)");
    assert_true(cond("span.attributes[\"path\"] == \"/use\""));
    assert_true(cond("span.attributes[\"http.method\"] == \"GET\""));
    assert_true(cond("span.attributes[\"http.status_code\"] == 500"));
    /* never splits a UTF-8 character */
    stmt("set(log.attributes[\"u\"], \"a\\u00e9b\")");
    stmt("truncate_all(log.attributes, 2)");
    assert_true(cond("log.attributes[\"u\"] == \"a\""));
    stmt("truncate_all(log.attributes, 0)");
    assert_true(cond("log.attributes[\"user\"] == \"\""));
}

static void test_limit(void **state)
{
    (void)state;
    stmt("limit(span.attributes, 10, [])");
    assert_int_equal(span.n_attributes, 6);
    stmt("limit(span.attributes, 3, [\"path\", \"sampled\"])");
    assert_int_equal(span.n_attributes, 3);
    assert_string_equal(span.attributes[0]->key, "http.method");
    assert_string_equal(span.attributes[1]->key, "sampled");
    assert_string_equal(span.attributes[2]->key, "path");
    stmt("limit(resource.attributes, 0, [])");
    assert_int_equal(res.n_attributes, 0);
}

static void test_no_arena(void **state)
{
    (void)state;
    tc.arena = NULL;
    assert_true(cond("span.name == \"GET /users/123\""));
    assert_string_equal(cond_err("Concat([\"a\"], \"\") == \"a\""), "no arena to hold new values");
    struct kt_err err = {0};
    assert_int_equal(stmt_rc("set(span.name, \"x\")", &err), KT_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_read_resource_scope),
        T(test_read_span),
        T(test_read_spanevent_metric_datapoint_log),
        T(test_enums),
        T(test_comparisons),
        T(test_logic_precedence),
        T(test_ismatch),
        T(test_arithmetic),
        T(test_nested_indexes),
        T(test_literals),
        T(test_concat),
        T(test_len),
        T(test_int),
        T(test_string),
        T(test_sha256),
        T(test_isrootspan),
        T(test_eval_errors),
        T(test_set_span),
        T(test_set_attributes),
        T(test_set_other_contexts),
        T(test_set_type_errors),
        T(test_where),
        T(test_delete_key),
        T(test_delete_matching_keys),
        T(test_keep_keys),
        T(test_keep_matching_keys),
        T(test_replace_pattern),
        T(test_replace_pattern_function),
        T(test_replace_all_patterns),
        T(test_truncate_all),
        T(test_limit),
        T(test_no_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
