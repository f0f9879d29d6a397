/* The map, list and parsing functions of process/ottl/ottl_funcs_map.c, run on a span and a
 * log record rebuilt for every test. Results are read back as JSON through String(), which
 * renders maps and lists in their order. */
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
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

static Span span;
static LogRecord logrec;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    span = sp;
    span.name = "GET /x";
    LogRecord l = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    logrec = l;
    logrec.body = any_str("hello");
    /* attributes[0], "doc": the JSON the ParseJSON tests read */
    KeyValue **kv = kt_arena_alloc(&arena, sizeof(*kv));
    kv[0] = kt_arena_alloc(&arena, sizeof(**kv));
    KeyValue kvi = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *kv[0] = kvi;
    kv[0]->key = "doc";
    kv[0]->value = any_str("{\"a\": 1, \"b\": [true, null, \"s\"], \"c\": {\"d\": -2.5}}");
    span.attributes = kv;
    span.n_attributes = 1;
    struct ottl_tctx t = {.arena = &arena, .span = &span, .log = &logrec};
    tc = t;
    return 0;
}

/* The JSON of the value expr gives, read back through a span attribute. */
static const char *json(const char *expr)
{
    char src[512];
    snprintf(src, sizeof(src), "set(span.attributes[\"__json\"], String(%s))", expr);
    stmt(src);
    for (size_t i = 0; i < span.n_attributes; i++)
        if (strcmp(span.attributes[i]->key, "__json") == 0)
            return span.attributes[i]->value->string_value;
    fail_msg("no result for %s", expr);
    return NULL;
}

static void test_parse_json_converts_every_type(void **state)
{
    (void)state;
    assert_string_equal(json("ParseJSON(span.attributes[\"doc\"])"),
                        "{\"a\":1,\"b\":[true,null,\"s\"],\"c\":{\"d\":-2.5}}");
    stmt("set(span.attributes[\"p\"], ParseJSON(span.attributes[\"doc\"]))");
    /* numbers are doubles, as in Go */
    assert_string_equal(json("IsDouble(span.attributes[\"p\"][\"a\"])"), "true");
    assert_string_equal(json("ParseJSON(\"[1, {\\\"k\\\": []}]\")"), "[1,{\"k\":[]}]");
    assert_string_equal(json("ParseJSON(\"{}\")"), "{}");
    assert_string_equal(json("ParseJSON(\"{\\\"a\\\": 1, \\\"a\\\": 2}\")"), "{\"a\":2}");
}

static void test_parse_json_refuses_what_is_no_object_or_array(void **state)
{
    (void)state;
    assert_non_null(
        strstr(stmt_err("set(span.attributes[\"p\"], ParseJSON(\"{\\\"a\\\":\"))"), "ParseJSON: "));
    stmt_err("set(span.attributes[\"p\"], ParseJSON(\"42\"))");
    stmt_err("set(span.attributes[\"p\"], ParseJSON(\"{} x\"))");
    assert_string_equal(stmt_err("set(span.attributes[\"p\"], ParseJSON(1))"),
                        "ParseJSON: expected a string, got int");
    assert_string_equal(stmt_err("set(span.attributes[\"p\"], ParseJSON(span.attributes[\"no\"]))"),
                        "ParseJSON: expected a string, got nil");
    assert_int_equal(span.n_attributes, 1); /* doc alone */
}

static void test_parse_json_limits_nesting(void **state)
{
    (void)state;
    char src[600], doc[300];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        doc[n++] = '[';
    for (int i = 0; i < 100; i++)
        doc[n++] = ']';
    doc[n] = '\0';
    span.attributes[0]->value = any_str(doc);
    snprintf(src, sizeof(src), "set(span.attributes[\"p\"], ParseJSON(span.attributes[\"doc\"]))");
    assert_non_null(strstr(stmt_err(src), "nested deeper than"));
}

static void test_merge_maps_strategies(void **state)
{
    (void)state;
    stmt("set(span.attributes[\"a\"], \"old\")");
    stmt("merge_maps(span.attributes, {\"a\": \"new\", \"b\": 1}, \"insert\")");
    assert_string_equal(json("span.attributes[\"a\"]"), "old");
    stmt("merge_maps(span.attributes, {\"a\": \"new\", \"c\": 1}, \"update\")");
    assert_string_equal(json("span.attributes[\"a\"]"), "new");
    assert_string_equal(json("IsInt(span.attributes[\"c\"])"), "false");
    stmt("merge_maps(span.attributes, ParseJSON(span.attributes[\"doc\"]), \"upsert\")");
    assert_string_equal(json("span.attributes[\"c\"]"), "{\"d\":-2.5}");
    /* the copy is deep: changing the source leaves the target */
    stmt("set(span.attributes[\"m\"], {\"k\": {\"x\": 1}})");
    stmt("merge_maps(span.attributes, span.attributes[\"m\"], \"upsert\")");
    stmt("set(span.attributes[\"m\"][\"k\"][\"x\"], 2)");
    assert_string_equal(json("span.attributes[\"k\"]"), "{\"x\":1}");
}

static void test_merge_maps_errors(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("merge_maps(span.attributes, {}, \"replace\")"),
                           "invalid strategy \"replace\""));
    stmt_err("merge_maps(span.attributes[\"none\"], {\"a\": 1}, \"upsert\")");
    assert_string_equal(stmt_err("merge_maps(span.attributes, span.name, \"upsert\")"),
                        "merge_maps: expected a map, got string");
}

static void test_flatten(void **state)
{
    (void)state;
    stmt("keep_keys(span.attributes, [])");
    stmt("set(span.attributes[\"n\"], {\"a\": {\"b\": 1}, \"l\": [1, [2, 3], {\"m\": 4}]})");
    stmt("set(span.attributes[\"s\"], \"x\")");
    stmt("flatten(span.attributes)");
    assert_string_equal(
        json("span.attributes"),
        "{\"n.a.b\":1,\"n.l.0\":1,\"n.l.10\":2,\"n.l.11\":3,\"n.l.2.m\":4,\"s\":\"x\"}");
}

static void test_flatten_prefix_depth_conflicts(void **state)
{
    (void)state;
    stmt("keep_keys(span.attributes, [])");
    stmt("set(span.attributes[\"n\"], {\"a\": {\"b\": 1}})");
    stmt("flatten(span.attributes, \"p\", 1)");
    assert_string_equal(json("span.attributes"), "{\"p.n.a\":{\"b\":1}}");
    stmt("keep_keys(span.attributes, [])");
    stmt("set(span.attributes[\"a.b\"], 1)");
    stmt("set(span.attributes[\"a\"], {\"b\": 2, \"l\": [3, 4]})");
    stmt("flatten(span.attributes, resolveConflicts = true)");
    assert_string_equal(json("span.attributes"), "{\"a.b\":1,\"a.b.0\":2,\"a.l\":3,\"a.l.0\":4}");
    assert_non_null(strstr(parse_err("flatten(span.attributes, depth = 0)"), "at least 1"));
    assert_non_null(
        strstr(parse_err("flatten(span.attributes, \"\", 2, 1)"), "must be true or false"));
    stmt_err("flatten(span.attributes[\"a.b\"])");
}

static void test_append(void **state)
{
    (void)state;
    stmt("append(span.attributes[\"l\"], \"a\")");
    stmt("append(span.attributes[\"l\"], values = [1, 2.5, [true]])");
    stmt("append(span.attributes[\"l\"], \"b\", [\"c\"])");
    assert_string_equal(json("span.attributes[\"l\"]"), "[\"a\",1,2.5,[true],\"b\",\"c\"]");
    stmt("set(span.attributes[\"s\"], \"x\")");
    stmt("append(span.attributes[\"s\"], \"y\")");
    assert_string_equal(json("span.attributes[\"s\"]"), "[\"x\",\"y\"]");
    assert_string_equal(stmt_err("append(span.attributes[\"l\"], {\"k\": 1})"),
                        "append: cannot append a map");
    assert_non_null(strstr(parse_err("append(span.attributes[\"l\"])"), "at least one of"));
}

static void test_keys_values(void **state)
{
    (void)state;
    stmt("set(span.attributes[\"m\"], {\"b\": 1, \"a\": [2]})");
    assert_string_equal(json("Keys(span.attributes[\"m\"])"), "[\"b\",\"a\"]");
    assert_string_equal(json("Values(span.attributes[\"m\"])"), "[1,[2]]");
    assert_string_equal(json("Keys({})"), "[]");
    assert_string_equal(stmt_err("set(span.attributes[\"k\"], Keys(span.name))"),
                        "Keys: expected a map, got string");
}

static void test_parse_key_value(void **state)
{
    (void)state;
    assert_string_equal(json("ParseKeyValue(\"a=1  b='x y' c=\\\"p=q\\\" d=\")"),
                        "{\"a\":\"1\",\"b\":\"x y\",\"c\":\"p=q\",\"d\":\"\"}");
    assert_string_equal(json("ParseKeyValue(\"a: 1 |b:2||a:3\", \":\", \"|\")"),
                        "{\"a\":\"3\",\"b\":\"2\"}");
    assert_non_null(
        strstr(stmt_err("set(span.attributes[\"k\"], ParseKeyValue(\"a=1 b\"))"), "cannot split"));
    assert_non_null(
        strstr(stmt_err("set(span.attributes[\"k\"], ParseKeyValue(\"a='1\"))"), "quoted value"));
    stmt_err("set(span.attributes[\"k\"], ParseKeyValue(\"\"))");
    assert_non_null(strstr(parse_err("set(span.name, ParseKeyValue(\"a\", \"=\", \"=\"))"),
                           "cannot equal delimiter"));
    assert_non_null(
        strstr(parse_err("set(span.name, ParseKeyValue(\"a\", \"\"))"), "cannot be empty"));
}

static void test_delete_index(void **state)
{
    (void)state;
    stmt("set(span.attributes[\"l\"], [0, 1, 2, 3])");
    stmt("delete_index(span.attributes[\"l\"], 1)");
    assert_string_equal(json("span.attributes[\"l\"]"), "[0,2,3]");
    stmt("delete_index(span.attributes[\"l\"], 0, 2)");
    assert_string_equal(json("span.attributes[\"l\"]"), "[3]");
    stmt_err("delete_index(span.attributes[\"l\"], 1)");
    stmt_err("delete_index(span.attributes[\"l\"], -1)");
    stmt_err("delete_index(span.attributes[\"l\"], 0, 2)");
    stmt("delete_index(span.attributes[\"l\"], 0, 1)");
    assert_string_equal(json("span.attributes[\"l\"]"), "[]");
    assert_non_null(strstr(parse_err("delete_index(span.attributes[\"l\"], \"0\")"), "int"));
}

static void test_coalesce_sort_slice_to_map(void **state)
{
    (void)state;
    assert_string_equal(json("Coalesce([span.attributes[\"no\"], nil, 3, 4])"), "3");
    assert_non_null(strstr(parse_err("set(span.name, Coalesce([]))"), "at least one"));
    assert_string_equal(json("Sort([3, 1.5, 2])"), "[1.5,2,3]");
    assert_string_equal(json("Sort([\"b\", true, 10, 9], \"desc\")"), "[true,\"b\",9,10]");
    assert_string_equal(json("Sort([2, {\"a\": 1}, 1])"), "[2,{\"a\":1},1]");
    stmt_err("set(span.attributes[\"s\"], Sort(span.name))");
    assert_non_null(strstr(parse_err("set(span.name, Sort([1], \"up\"))"), "asc"));
    assert_string_equal(json("SliceToMap([{\"k\": \"a\", \"v\": 1}, {\"k\": \"a\", \"v\": 2}], "
                             "[\"k\"], [\"v\"])"),
                        "{\"a\":2}");
    assert_string_equal(json("SliceToMap([\"x\", \"y\"])"), "{\"0\":\"x\",\"1\":\"y\"}");
    stmt_err("set(span.attributes[\"m\"], SliceToMap([{\"j\": \"a\"}], [\"k\"]))");
    stmt_err("set(span.attributes[\"m\"], SliceToMap(span.name, [\"k\"]))");
}

static void test_parse_csv(void **state)
{
    (void)state;
    assert_string_equal(json("ParseCSV(\"1,\\\"x, \\\"\\\"y\\\"\\\"\\\",\", \"a,b,c\")"),
                        "{\"a\":\"1\",\"b\":\"x, \\\"y\\\"\",\"c\":\"\"}");
    /* a line break outside quotes continues the last field */
    assert_string_equal(json("ParseCSV(\"1,x\\ny,3\", \"a,b,c\")"),
                        "{\"a\":\"1\",\"b\":\"x\\ny\",\"c\":\"3\"}");
    assert_string_equal(json("ParseCSV(\"1;2\", \"a|b\", \";\", \"|\")"),
                        "{\"a\":\"1\",\"b\":\"2\"}");
    assert_string_equal(json("ParseCSV(\"x\\\"y,2\", \"a,b\", mode = \"lazyQuotes\")"),
                        "{\"a\":\"x\\\"y\",\"b\":\"2\"}");
    assert_string_equal(json("ParseCSV(\"\\\"1,2\", \"a,b\", mode = \"ignoreQuotes\")"),
                        "{\"a\":\"\\\"1\",\"b\":\"2\"}");
    assert_non_null(strstr(stmt_err("set(span.attributes[\"c\"], ParseCSV(\"x\\\"y,2\", \"a,b\"))"),
                           "bare or missing"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"c\"], ParseCSV(\"1,2,3\", \"a,b\"))"),
                           "expected 2, found 3"));
    stmt_err("set(span.attributes[\"c\"], ParseCSV(\"\", \"a\"))");
    stmt_err("set(span.attributes[\"c\"], ParseCSV(\"1\", \"\"))");
    assert_non_null(
        strstr(parse_err("set(span.name, ParseCSV(\"1\", \"a\", \";;\"))"), "single character"));
    assert_non_null(
        strstr(parse_err("set(span.name, ParseCSV(\"1\", \"a\", mode = \"loose\"))"), "mode"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parse_json_converts_every_type),
        T(test_parse_json_refuses_what_is_no_object_or_array),
        T(test_parse_json_limits_nesting),
        T(test_merge_maps_strategies),
        T(test_merge_maps_errors),
        T(test_flatten),
        T(test_flatten_prefix_depth_conflicts),
        T(test_append),
        T(test_keys_values),
        T(test_parse_key_value),
        T(test_delete_index),
        T(test_coalesce_sort_slice_to_map),
        T(test_parse_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
