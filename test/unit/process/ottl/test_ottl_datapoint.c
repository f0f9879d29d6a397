/* The data point's message paths of process/ottl/ottl_paths.c: datapoint.exemplars,
 * quantile_values, positive and negative (compared, counted, typed and set as whole
 * messages) and the exponential histogram's positive/negative.offset and .bucket_counts, on
 * points rebuilt for every test; and the parser's refusal of a message anywhere else. */
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

typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets Buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;

static Metric metric;
static NumberDataPoint number;
static HistogramDataPoint hist;
static ExpDataPoint exph;
static SummaryDataPoint summary;
static Exemplar ex[2];
static Exemplar *exs[2];
static Quantile q[2];
static Quantile *qs[2];
static Buckets positive;
static uint64_t pos_counts[2];

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    metric = m;
    metric.name = "m";
    for (int i = 0; i < 2; i++) {
        Exemplar e = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
        ex[i] = e;
        exs[i] = &ex[i];
        Quantile qv =
            OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
        q[i] = qv;
        q[i].quantile = i ? 0.99 : 0.5;
        qs[i] = &q[i];
    }
    ex[0].value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    ex[0].as_double = 1.5;
    ex[1].value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
    ex[1].as_int = 7;
    NumberDataPoint n = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    number = n;
    number.exemplars = exs;
    number.n_exemplars = 2;
    HistogramDataPoint h = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    hist = h;
    ExpDataPoint e = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    exph = e;
    Buckets b = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    positive = b;
    pos_counts[0] = 1;
    pos_counts[1] = 2;
    positive.offset = 1;
    positive.bucket_counts = pos_counts;
    positive.n_bucket_counts = 2;
    exph.positive = &positive; /* negative stays NULL: absent, read as empty buckets */
    SummaryDataPoint s = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    summary = s;
    summary.quantile_values = qs;
    summary.n_quantile_values = 2;
    struct ottl_tctx t = {.arena = &arena, .metric = &metric, .datapoint = &number.base};
    tc = t;
    return 0;
}

static void test_exemplars_read_as_their_points_slice(void **state)
{
    (void)state;
    assert_true(cond("Len(datapoint.exemplars) == 2 and datapoint.exemplars != nil"));
    assert_true(cond("datapoint.exemplars == datapoint.exemplars"));
    assert_false(cond("datapoint.exemplars < datapoint.exemplars"));
    assert_false(cond("datapoint.exemplars == \"x\""));
    assert_true(cond("datapoint.exemplars != datapoint.quantile_values"));
    assert_true(cond("IsList(datapoint.exemplars) and not IsMap(datapoint.exemplars)"));
    assert_false(cond("IsString(datapoint.exemplars)"));
    /* reading one costs no allocation: it is the point's own field */
    assert_null(arena.blocks);
    tc.datapoint = &hist.base;
    assert_true(cond("Len(datapoint.exemplars) == 0"));
    tc.datapoint = &summary.base;
    assert_true(cond("datapoint.exemplars == nil"));
    assert_non_null(strstr(cond_err("Len(datapoint.exemplars) > 0"), "got nil"));
}

static void test_exemplars_set_from_themselves_or_nil(void **state)
{
    (void)state;
    stmt("set(datapoint.exemplars, datapoint.exemplars)");
    assert_ptr_equal(number.exemplars, exs);
    assert_int_equal(number.n_exemplars, 2);
    assert_non_null(strstr(stmt_err("set(datapoint.exemplars, \"x\")"),
                           "set datapoint.exemplars: want an ExemplarSlice, got string"));
    assert_int_equal(number.n_exemplars, 2);
    /* a number point's quantile_values are nil, which empties them */
    stmt("set(datapoint.exemplars, datapoint.quantile_values)");
    assert_int_equal(number.n_exemplars, 0);
    tc.datapoint = &summary.base;
    assert_non_null(strstr(stmt_err("set(datapoint.exemplars, nil)"), "not on this type"));
}

static void test_exemplars_cannot_be_set_into_an_attribute(void **state)
{
    (void)state;
    assert_non_null(
        strstr(stmt_err("set(datapoint.attributes[\"e\"], datapoint.exemplars)"), "message"));
}

static void test_quantile_values_of_a_summary_only(void **state)
{
    (void)state;
    assert_true(cond("datapoint.quantile_values == nil"));
    assert_non_null(strstr(stmt_err("set(datapoint.quantile_values, nil)"), "not on this type"));
    tc.datapoint = &summary.base;
    assert_true(cond("Len(datapoint.quantile_values) == 2"));
    assert_true(cond("IsList(datapoint.quantile_values)"));
    assert_non_null(strstr(stmt_err("set(datapoint.quantile_values, [1])"),
                           "want a SummaryDataPointValueAtQuantileSlice, got list"));
    stmt("set(datapoint.quantile_values, datapoint.quantile_values)");
    assert_int_equal(summary.n_quantile_values, 2);
    stmt("set(datapoint.quantile_values, nil)");
    assert_int_equal(summary.n_quantile_values, 0);
}

static void test_bucket_offsets_and_counts(void **state)
{
    (void)state;
    tc.datapoint = &exph.base;
    assert_true(
        cond("datapoint.positive.offset == 1 and Len(datapoint.positive.bucket_counts) == 2"));
    assert_true(
        cond("datapoint.negative.offset == 0 and Len(datapoint.negative.bucket_counts) == 0"));
    stmt("set(datapoint.positive.offset, 4294967297)"); /* kept as an int32, as pdata does */
    assert_int_equal(positive.offset, 1);
    stmt("set(datapoint.negative.offset, -9)");
    assert_non_null(exph.negative);
    assert_int_equal(exph.negative->offset, -9);
    stmt("set(datapoint.negative.bucket_counts, [3, 4, 5])");
    assert_int_equal(exph.negative->n_bucket_counts, 3);
    assert_int_equal(exph.negative->bucket_counts[2], 5);
    stmt("set(datapoint.negative.bucket_counts, nil)");
    assert_int_equal(exph.negative->n_bucket_counts, 0);
    assert_non_null(strstr(stmt_err("set(datapoint.positive.offset, \"5\")"), "want a int"));
    assert_non_null(strstr(stmt_err("set(datapoint.positive.bucket_counts, [1, 2.5])"), "item 1"));
    tc.datapoint = &number.base;
    assert_true(
        cond("datapoint.positive.offset == nil and datapoint.negative.bucket_counts == nil"));
    assert_non_null(strstr(stmt_err("set(datapoint.positive.offset, 1)"), "not on this type"));
}

static void test_buckets_are_copied_whole(void **state)
{
    (void)state;
    tc.datapoint = &exph.base;
    stmt("set(datapoint.negative, datapoint.positive)");
    assert_non_null(exph.negative);
    assert_int_equal(exph.negative->offset, 1);
    assert_int_equal(exph.negative->n_bucket_counts, 2);
    /* a copy: changing positive afterwards leaves negative as it was */
    assert_ptr_not_equal(exph.negative->bucket_counts, pos_counts);
    pos_counts[0] = 99;
    assert_int_equal(exph.negative->bucket_counts[0], 1);
    assert_false(cond("datapoint.positive == datapoint.negative"));
    assert_true(cond("datapoint.positive == datapoint.positive"));
    assert_false(cond("datapoint.positive <= datapoint.positive"));
    assert_false(cond("IsList(datapoint.positive)"));
    assert_non_null(strstr(stmt_err("set(datapoint.positive, nil)"),
                           "want an ExponentialHistogramDataPointBuckets, got nil"));
    assert_non_null(
        strstr(stmt_err("set(datapoint.positive, datapoint.exemplars)"), "got ExemplarSlice"));
    assert_non_null(strstr(cond_err("Len(datapoint.positive) > 0"),
                           "got ExponentialHistogramDataPointBuckets"));
}

static void test_absent_buckets_copy_as_empty(void **state)
{
    (void)state;
    tc.datapoint = &exph.base;
    stmt("set(datapoint.positive, datapoint.negative)");
    assert_int_equal(positive.offset, 0);
    assert_int_equal(positive.n_bucket_counts, 0);
    tc.datapoint = &number.base;
    assert_true(cond("datapoint.positive == datapoint.negative")); /* nil == nil */
    assert_non_null(
        strstr(stmt_err("set(datapoint.positive, datapoint.negative)"), "not on this type"));
}

static void test_a_message_goes_only_where_the_collector_takes_one(void **state)
{
    (void)state;
    assert_non_null(
        strstr(parse_err("set(datapoint.attributes[\"x\"], String(datapoint.exemplars))"),
               "datapoint.exemplars is a message"));
    assert_non_null(strstr(parse_err("set(datapoint.attributes[\"x\"], "
                                     "Concat([datapoint.quantile_values], \"\"))"),
                           "datapoint.quantile_values is a message"));
    assert_non_null(strstr(parse_err("set(datapoint.attributes[\"x\"], true) where "
                                     "datapoint.positive + 1 > 0"),
                           "datapoint.positive is a message"));
    struct ottl_condition *c = NULL;
    struct kt_err err = {0};
    assert_int_equal(ottl_condition_parse("IsMatch(datapoint.negative, \"x\")", &c, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "datapoint.negative is a message"));
    /* offsets and bucket counts are plain values */
    stmt("set(datapoint.attributes[\"o\"], String(datapoint.positive.offset))");
    assert_non_null(
        strstr(parse_err("set(datapoint.attributes[\"x\"], datapoint.exemplars[0])"), "not a map"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_exemplars_read_as_their_points_slice),
        T(test_exemplars_set_from_themselves_or_nil),
        T(test_exemplars_cannot_be_set_into_an_attribute),
        T(test_quantile_values_of_a_summary_only),
        T(test_bucket_offsets_and_counts),
        T(test_buckets_are_copied_whole),
        T(test_absent_buckets_copy_as_empty),
        T(test_a_message_goes_only_where_the_collector_takes_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
