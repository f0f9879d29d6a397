/* The metric functions (ottl_funcs_metric.c) on gauge, sum, histogram, exponential histogram
 * and summary inputs, run through the walk as the transform runs them (so the metrics they
 * append are visited), and the parse-time checks that keep them to their context. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"
#include "../pb_build.h"

typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__Summary Summary;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDP;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;

#define DATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define DELTA                                                                                      \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define CUMULATIVE                                                                                 \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define AS_INT OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
#define AS_DOUBLE OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
#define HIST_SUM OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM
#define HIST_MIN OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN
#define HIST_MAX OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX
#define EXP_SUM OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM

static MetricsData md;
static ScopeMetrics *sm;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&A, NULL, 0);
    md = (MetricsData)OPENTELEMETRY__PROTO__METRICS__V1__METRICS_DATA__INIT;
    ResourceMetrics *rm =
        NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
    PUSH(md.resource_metrics, md.n_resource_metrics, rm);
    sm = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
    PUSH(rm->scope_metrics, rm->n_scope_metrics, sm);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_arena_free(&A);
    return 0;
}

/* ---- data ---- */

static KeyValue **attr(const char *k, const char *v, size_t *n)
{
    KeyValue **kv = NULL;
    *n = 0;
    if (k == NULL)
        return NULL;
    KeyValue *e = NEW(KeyValue, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT);
    e->key = (char *)k;
    e->value = NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
    e->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    e->value->string_value = (char *)v;
    PUSH(kv, *n, e);
    return kv;
}

static const char *attr_of(KeyValue **kv, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, k) == 0)
            return kv[i]->value->string_value;
    return NULL;
}

static Metric *add_metric(const char *name, const char *unit)
{
    Metric *m = NEW(Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
    m->name = (char *)name;
    m->unit = (char *)unit;
    m->description = "d";
    PUSH(sm->metrics, sm->n_metrics, m);
    return m;
}

/* A number point: an int when is_int, else a double; attribute k=v when k is given. */
static NumberDataPoint *number(bool is_int, double v, const char *k, const char *kv)
{
    NumberDataPoint *p =
        NEW(NumberDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
    p->time_unix_nano = 100;
    p->start_time_unix_nano = 10;
    p->value_case = is_int ? AS_INT : AS_DOUBLE;
    if (is_int)
        p->as_int = (int64_t)v;
    else
        p->as_double = v;
    p->attributes = attr(k, kv, &p->n_attributes);
    return p;
}

static Metric *add_gauge(const char *name, size_t n, NumberDataPoint **pts)
{
    Metric *m = add_metric(name, "ms");
    m->data_case = DATA(GAUGE);
    m->gauge = NEW(Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
    for (size_t i = 0; i < n; i++)
        PUSH(m->gauge->data_points, m->gauge->n_data_points, pts[i]);
    return m;
}

static Metric *add_sum(const char *name, int temporality, size_t n, NumberDataPoint **pts)
{
    Metric *m = add_metric(name, "By");
    m->data_case = DATA(SUM);
    m->sum = NEW(Sum, OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT);
    m->sum->aggregation_temporality = temporality;
    m->sum->is_monotonic = 1;
    for (size_t i = 0; i < n; i++)
        PUSH(m->sum->data_points, m->sum->n_data_points, pts[i]);
    return m;
}

static uint64_t *u64s(size_t n, const uint64_t *v)
{
    return kt_arena_memdup(&A, v, n * sizeof(*v));
}

/* A histogram point over bounds {1, 10}, with a sum when has_sum. */
static HistDP *hist_point(uint64_t count, bool has_sum, double sum, const uint64_t buckets[3],
                          const char *k, const char *v)
{
    HistDP *p = NEW(HistDP, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT);
    static const double bounds[] = {1, 10};
    p->time_unix_nano = 100;
    p->start_time_unix_nano = 10;
    p->count = count;
    if (has_sum) {
        p->_sum_case = HIST_SUM;
        p->sum = sum;
    }
    p->explicit_bounds = kt_arena_memdup(&A, bounds, sizeof(bounds));
    p->n_explicit_bounds = 2;
    p->bucket_counts = u64s(3, buckets);
    p->n_bucket_counts = 3;
    p->attributes = attr(k, v, &p->n_attributes);
    return p;
}

static Metric *add_histogram(const char *name, int temporality, size_t n, HistDP **pts)
{
    Metric *m = add_metric(name, "ms");
    m->data_case = DATA(HISTOGRAM);
    m->histogram = NEW(Histogram, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT);
    m->histogram->aggregation_temporality = temporality;
    for (size_t i = 0; i < n; i++)
        PUSH(m->histogram->data_points, m->histogram->n_data_points, pts[i]);
    return m;
}

static ExpBuckets *buckets(int32_t offset, size_t n, const uint64_t *counts)
{
    ExpBuckets *b =
        NEW(ExpBuckets,
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT);
    b->offset = offset;
    b->bucket_counts = u64s(n, counts);
    b->n_bucket_counts = n;
    return b;
}

static ExpDP *exp_point(uint64_t count, double sum, ExpBuckets *pos)
{
    ExpDP *p =
        NEW(ExpDP, OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT);
    p->time_unix_nano = 100;
    p->count = count;
    p->_sum_case = EXP_SUM;
    p->sum = sum;
    p->positive = pos;
    return p;
}

static Metric *add_exp(const char *name, size_t n, ExpDP **pts)
{
    Metric *m = add_metric(name, "s");
    m->data_case = DATA(EXPONENTIAL_HISTOGRAM);
    m->exponential_histogram =
        NEW(ExpHistogram, OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT);
    m->exponential_histogram->aggregation_temporality = DELTA;
    for (size_t i = 0; i < n; i++)
        PUSH(m->exponential_histogram->data_points, m->exponential_histogram->n_data_points,
             pts[i]);
    return m;
}

static SummaryDP *summary_point(uint64_t count, double sum, double q50)
{
    SummaryDP *p = NEW(SummaryDP, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT);
    p->time_unix_nano = 100;
    p->count = count;
    p->sum = sum;
    Quantile *q = NEW(
        Quantile, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT);
    q->quantile = 0.5;
    q->value = q50;
    PUSH(p->quantile_values, p->n_quantile_values, q);
    return p;
}

static Metric *add_summary(const char *name, size_t n, SummaryDP **pts)
{
    Metric *m = add_metric(name, "ms");
    m->data_case = DATA(SUMMARY);
    m->summary = NEW(Summary, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT);
    for (size_t i = 0; i < n; i++)
        PUSH(m->summary->data_points, m->summary->n_data_points, pts[i]);
    return m;
}

/* ---- running statements as a transform group does ---- */

struct group {
    struct ottl_statement *s[4];
    size_t n;
    size_t failed;
    char msg[512];
};

static int visit(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *drop,
                 struct kt_err *err)
{
    (void)ctx;
    (void)drop;
    (void)err;
    struct group *g = arg;
    for (size_t i = 0; i < g->n; i++) {
        struct kt_err why = {0};
        if (ottl_statement_exec(g->s[i], t, &why) != 0) {
            g->failed++;
            snprintf(g->msg, sizeof(g->msg), "%s", why.msg);
        }
    }
    return 0;
}

/* Runs the statements (NULL-terminated) as one group of context ctx over md, each failure
 * counted (error_mode ignore); returns how many failed, the last message in msg. */
static size_t run_msg(enum ottl_context ctx, char *msg, const char *const *src)
{
    struct group g = {.n = 0};
    struct kt_err err = {0};
    for (; *src != NULL; src++) {
        if (ottl_statement_parse_in(*src, ctx, &g.s[g.n], &err) != 0)
            fail_msg("parse '%s': %s", *src, err.msg);
        g.n++;
    }
    struct ottl_walk w = {.mode = OTTL_WALK_EDIT,
                          .contexts = OTTL_CTX_BIT(ctx),
                          .arena = &A,
                          .visit = visit,
                          .arg = &g};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_METRICS, &md.base, &err), 0);
    for (size_t i = 0; i < g.n; i++)
        ottl_statement_free(g.s[i]);
    if (msg != NULL)
        snprintf(msg, 512, "%s", g.msg);
    return g.failed;
}

#define RUN(ctx, ...) run_msg((ctx), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define METRIC OTTL_CTX_METRIC

static const char *parse_err_in(enum ottl_context ctx, const char *src)
{
    static struct kt_err err;
    struct ottl_statement *s = NULL;
    memset(&err, 0, sizeof(err));
    if (ottl_statement_parse_in(src, ctx, &s, &err) == 0) {
        ottl_statement_free(s);
        fail_msg("'%s' parsed", src);
    }
    return err.msg;
}

/* ---- type conversions ---- */

static void test_convert_sum_to_gauge_keeps_points(void **state)
{
    (void)state;
    NumberDataPoint *p[] = {number(true, 5, NULL, NULL), number(false, 1.5, NULL, NULL)};
    Metric *s = add_sum("s", CUMULATIVE, 2, p);
    Metric *g = add_gauge("g", 1, p);
    assert_int_equal(RUN(METRIC, "convert_sum_to_gauge()"), 0);
    assert_int_equal(s->data_case, DATA(GAUGE));
    assert_int_equal(s->gauge->n_data_points, 2);
    assert_ptr_equal(s->gauge->data_points[1], p[1]);
    assert_int_equal(g->data_case, DATA(GAUGE));
    assert_int_equal(g->gauge->n_data_points, 1);
}

static void test_convert_gauge_to_sum_sets_temporality(void **state)
{
    (void)state;
    NumberDataPoint *p[] = {number(true, 5, NULL, NULL)};
    Metric *g = add_gauge("g", 1, p);
    Metric *h = add_gauge("h", 1, p);
    assert_int_equal(RUN(METRIC, "convert_gauge_to_sum(\"delta\", true) where name == \"g\"",
                         "convert_gauge_to_sum(monotonic = false, string_agg_temp = "
                         "\"cumulative\") where name == \"h\""),
                     0);
    assert_int_equal(g->data_case, DATA(SUM));
    assert_int_equal(g->sum->aggregation_temporality, DELTA);
    assert_true(g->sum->is_monotonic);
    assert_ptr_equal(g->sum->data_points[0], p[0]);
    assert_int_equal(h->sum->aggregation_temporality, CUMULATIVE);
    assert_false(h->sum->is_monotonic);
}

/* ---- metrics made from a metric ---- */

static void test_extract_sum_of_histogram_skips_points_without_sum(void **state)
{
    (void)state;
    HistDP *p[] = {hist_point(3, true, 42.5, (uint64_t[]){1, 2, 0}, "route", "/a"),
                   hist_point(2, false, 0, (uint64_t[]){0, 1, 1}, "route", "/b")};
    add_histogram("latency", DELTA, 2, p);
    assert_int_equal(RUN(METRIC, "extract_sum_metric(true) where name == \"latency\""), 0);
    assert_int_equal(sm->n_metrics, 2);
    Metric *s = sm->metrics[1];
    assert_string_equal(s->name, "latency_sum");
    assert_string_equal(s->unit, "ms");
    assert_string_equal(s->description, "d");
    assert_int_equal(s->data_case, DATA(SUM));
    assert_int_equal(s->sum->aggregation_temporality, DELTA);
    assert_true(s->sum->is_monotonic);
    assert_int_equal(s->sum->n_data_points, 1);
    NumberDataPoint *q = s->sum->data_points[0];
    assert_int_equal(q->value_case, AS_DOUBLE);
    assert_true(q->as_double == 42.5);
    assert_int_equal(q->start_time_unix_nano, 10);
    assert_int_equal(q->time_unix_nano, 100);
    /* the attributes are a copy: changing them leaves the histogram's alone */
    assert_string_equal(attr_of(q->attributes, q->n_attributes, "route"), "/a");
    assert_ptr_not_equal(q->attributes[0], p[0]->attributes[0]);
}

static void test_extract_count_of_exponential_histogram(void **state)
{
    (void)state;
    ExpDP *p[] = {exp_point(4, 10, buckets(0, 1, (uint64_t[]){4})),
                  exp_point(7, 1, buckets(0, 1, (uint64_t[]){7}))};
    add_exp("size", 2, p);
    assert_int_equal(RUN(METRIC, "extract_count_metric(false, \".n\") where name == \"size\""), 0);
    Metric *c = sm->metrics[1];
    assert_string_equal(c->name, "size.n");
    assert_string_equal(c->unit, "1");
    assert_int_equal(c->sum->aggregation_temporality, DELTA);
    assert_false(c->sum->is_monotonic);
    assert_int_equal(c->sum->n_data_points, 2);
    assert_int_equal(c->sum->data_points[1]->value_case, AS_INT);
    assert_int_equal(c->sum->data_points[1]->as_int, 7);
}

static void test_extract_of_summary_is_cumulative(void **state)
{
    (void)state;
    SummaryDP *p[] = {summary_point(5, 12.5, 2)};
    add_summary("rpc", 1, p);
    assert_int_equal(RUN(METRIC, "extract_sum_metric(false) where name == \"rpc\"",
                         "extract_count_metric(true) where name == \"rpc\""),
                     0);
    assert_int_equal(sm->n_metrics, 3);
    assert_string_equal(sm->metrics[1]->name, "rpc_sum");
    assert_int_equal(sm->metrics[1]->sum->aggregation_temporality, CUMULATIVE);
    assert_true(sm->metrics[1]->sum->data_points[0]->as_double == 12.5);
    assert_string_equal(sm->metrics[2]->name, "rpc_count");
    assert_int_equal(sm->metrics[2]->sum->data_points[0]->as_int, 5);
}

static void test_extract_of_gauge_fails_and_histogram_without_sums_adds_nothing(void **state)
{
    (void)state;
    NumberDataPoint *n[] = {number(true, 1, NULL, NULL)};
    HistDP *h[] = {hist_point(1, false, 0, (uint64_t[]){1, 0, 0}, NULL, NULL)};
    add_gauge("g", 1, n);
    add_histogram("h", CUMULATIVE, 1, h);
    char msg[512];
    assert_int_equal(run_msg(METRIC, msg, (const char *const[]){"extract_sum_metric(true)", NULL}),
                     1);
    assert_string_equal(msg, "extract_sum_metric requires an input metric of type Histogram, "
                             "ExponentialHistogram or Summary, got Gauge");
    assert_int_equal(sm->n_metrics, 2);
}

/* The walk visits the metrics a statement appends: the statements after it run on them,
 * and so does the statement itself (extract_count_metric of a Sum then fails). */
static void test_appended_metrics_are_visited(void **state)
{
    (void)state;
    HistDP *h[] = {hist_point(3, true, 1, (uint64_t[]){1, 2, 0}, NULL, NULL)};
    add_histogram("h", CUMULATIVE, 1, h);
    char msg[512];
    size_t failed =
        run_msg(METRIC, msg,
                (const char *const[]){"extract_count_metric(true)",
                                      "set(description, Concat([name, \"seen\"], \" \"))", NULL});
    assert_int_equal(failed, 1);
    assert_int_equal(sm->n_metrics, 2);
    assert_string_equal(sm->metrics[0]->description, "h seen");
    assert_string_equal(sm->metrics[1]->description, "h_count seen");
    assert_non_null(strstr(msg, "got Sum"));
}

static void test_copy_metric_is_deep(void **state)
{
    (void)state;
    NumberDataPoint *p[] = {number(true, 1, "k", "v")};
    Metric *g = add_gauge("g", 1, p);
    assert_int_equal(RUN(METRIC, "copy_metric(name = \"g2\", unit = \"s\") where name == \"g\""),
                     0);
    assert_int_equal(sm->n_metrics, 2);
    Metric *c = sm->metrics[1];
    assert_string_equal(c->name, "g2");
    assert_string_equal(c->unit, "s");
    assert_string_equal(c->description, "d");
    assert_int_equal(
        RUN(OTTL_CTX_DATAPOINT, "set(attributes[\"k\"], \"changed\") where metric.name == \"g2\""),
        0);
    NumberDataPoint *cp = c->gauge->data_points[0];
    assert_string_equal(attr_of(cp->attributes, cp->n_attributes, "k"), "changed");
    assert_string_equal(attr_of(g->gauge->data_points[0]->attributes, 1, "k"), "v");
    assert_int_equal(cp->as_int, 1);
}

/* A data point function: each point of a summary adds a metric of all its points. */
static void test_convert_summary_val_to_sum_per_point(void **state)
{
    (void)state;
    SummaryDP *p[] = {summary_point(5, 12.5, 2), summary_point(1, 3, 3)};
    add_summary("rpc", 2, p);
    NumberDataPoint *n[] = {number(true, 1, NULL, NULL)};
    add_gauge("g", 1, n);
    assert_int_equal(RUN(OTTL_CTX_DATAPOINT, "convert_summary_sum_val_to_sum(\"delta\", true)",
                         "convert_summary_count_val_to_sum(\"cumulative\", false, \"_n\")"),
                     0);
    assert_int_equal(sm->n_metrics, 6);
    assert_string_equal(sm->metrics[2]->name, "rpc_sum");
    assert_string_equal(sm->metrics[3]->name, "rpc_n");
    assert_string_equal(sm->metrics[4]->name, "rpc_sum");
    assert_int_equal(sm->metrics[2]->sum->aggregation_temporality, DELTA);
    assert_int_equal(sm->metrics[2]->sum->n_data_points, 2);
    assert_true(sm->metrics[2]->sum->data_points[1]->as_double == 3);
    assert_int_equal(sm->metrics[3]->sum->data_points[0]->as_int, 5);
    assert_string_equal(sm->metrics[3]->unit, "ms");
}

static void test_convert_summary_quantile_val_to_gauge(void **state)
{
    (void)state;
    SummaryDP *p[] = {summary_point(5, 12.5, 2), summary_point(1, 3, 3)};
    p[1]->attributes = attr("q", "old", &p[1]->n_attributes);
    add_summary("rpc", 2, p);
    assert_int_equal(RUN(METRIC, "convert_summary_quantile_val_to_gauge(\"q\") where name == "
                                 "\"rpc\""),
                     0);
    assert_int_equal(sm->n_metrics, 2);
    Metric *g = sm->metrics[1];
    assert_string_equal(g->name, "rpc.quantiles");
    assert_int_equal(g->data_case, DATA(GAUGE));
    assert_int_equal(g->gauge->n_data_points, 2);
    NumberDataPoint *q = g->gauge->data_points[1];
    assert_true(q->as_double == 3);
    assert_int_equal(q->n_attributes, 1); /* replaced, not added */
    assert_int_equal(q->attributes[0]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
    assert_true(q->attributes[0]->value->double_value == 0.5);
    /* the summary's own attribute is untouched */
    assert_string_equal(attr_of(p[1]->attributes, 1, "q"), "old");
}

/* ---- scale_metric ---- */

static void test_scale_numbers_truncate_ints_as_go(void **state)
{
    (void)state;
    NumberDataPoint *p[] = {number(true, 5, NULL, NULL), number(false, 1.25, NULL, NULL),
                            number(true, -5, NULL, NULL), number(true, 9e18, NULL, NULL)};
    Metric *g = add_gauge("g", 4, p);
    assert_int_equal(RUN(METRIC, "scale_metric(0.5, \"s\")"), 0);
    assert_int_equal(p[0]->as_int, 2);
    assert_true(p[1]->as_double == 0.625);
    assert_int_equal(p[2]->as_int, -2);
    assert_int_equal(p[3]->as_int, 4500000000000000000);
    assert_string_equal(g->unit, "s");
    /* out of int64's range: Go on amd64 gives the smallest int64 */
    assert_int_equal(RUN(METRIC, "scale_metric(10.0)"), 0);
    assert_int_equal(p[3]->as_int, INT64_MIN);
    assert_int_equal(p[0]->as_int, 20);
}

static void test_scale_histogram_summary_and_exponential(void **state)
{
    (void)state;
    HistDP *h[] = {hist_point(3, true, 42, (uint64_t[]){1, 2, 0}, NULL, NULL),
                   hist_point(1, false, 0, (uint64_t[]){0, 1, 0}, NULL, NULL)};
    h[0]->_min_case = HIST_MIN;
    h[0]->min = 1;
    h[0]->_max_case = HIST_MAX;
    h[0]->max = 30;
    Exemplar *x = NEW(Exemplar, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT);
    x->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
    x->as_int = 7;
    PUSH(h[0]->exemplars, h[0]->n_exemplars, x);
    add_histogram("h", CUMULATIVE, 2, h);
    SummaryDP *s[] = {summary_point(5, 12.5, 2)};
    add_summary("s", 1, s);
    ExpDP *e[] = {exp_point(1, 1, NULL)};
    add_exp("e", 1, e);
    char msg[512];
    assert_int_equal(run_msg(METRIC, msg, (const char *const[]){"scale_metric(2.0)", NULL}), 1);
    assert_string_equal(msg,
                        "exponential histograms are not supported by the 'scale_metric' function");
    assert_true(h[0]->sum == 84 && h[0]->min == 2 && h[0]->max == 60);
    assert_true(h[0]->explicit_bounds[0] == 2 && h[0]->explicit_bounds[1] == 20);
    assert_int_equal(x->as_int, 14);
    assert_int_equal(h[1]->_sum_case, 0);
    assert_true(h[1]->explicit_bounds[1] == 20);
    assert_true(s[0]->sum == 25 && s[0]->quantile_values[0]->value == 4);
    assert_int_equal(s[0]->count, 5);
}

/* ---- aggregate_on_attributes ---- */

static void test_aggregate_numbers(void **state)
{
    (void)state;
    NumberDataPoint *a[] = {number(true, 2, "k", "a"), number(true, 5, "k", "b"),
                            number(false, 9.5, "k", "a")};
    a[1]->start_time_unix_nano = 3;
    Metric *sum = add_sum("sum", CUMULATIVE, 3, a);
    NumberDataPoint *b[] = {number(false, 1, NULL, NULL), number(false, 4, NULL, NULL),
                            number(false, 2, "x", "y"), number(false, 10, NULL, NULL)};
    Metric *median = add_gauge("median", 4, b);
    NumberDataPoint *c[] = {number(true, 42, NULL, NULL)};
    Metric *count = add_gauge("count", 1, c);
    NumberDataPoint *d[] = {number(true, 7, "k", "a"), number(true, 1, "k", "b")};
    Metric *keep = add_gauge("keep", 2, d);
    assert_int_equal(RUN(METRIC, "aggregate_on_attributes(\"sum\", []) where name == \"sum\"",
                         "aggregate_on_attributes(\"median\", []) where name == \"median\"",
                         "aggregate_on_attributes(\"count\", []) where name == \"count\"",
                         "aggregate_on_attributes(\"max\") where name == \"keep\""),
                     0);
    /* an int first: the double adds 0 (its int value), as in the Collector; the earliest
     * start stays */
    assert_int_equal(sum->sum->n_data_points, 1);
    assert_int_equal(sum->sum->data_points[0]->as_int, 7);
    assert_int_equal(sum->sum->data_points[0]->n_attributes, 0);
    assert_int_equal(sum->sum->data_points[0]->start_time_unix_nano, 3);
    assert_int_equal(sum->sum->aggregation_temporality, CUMULATIVE);
    assert_true(median->gauge->data_points[0]->as_double == 3);
    /* count writes the size only when there is more than one point */
    assert_int_equal(count->gauge->data_points[0]->as_int, 42);
    /* no attribute list: only equal attributes merge */
    assert_int_equal(keep->gauge->n_data_points, 2);
}

/* max and min as Go's math.Max and math.Min: a NaN wins over numbers, an infinity over NaN */
static void test_aggregate_max_min_as_go(void **state)
{
    (void)state;
    NumberDataPoint *a[] = {number(false, 1, NULL, NULL), number(false, NAN, NULL, NULL),
                            number(false, 3, NULL, NULL)};
    Metric *mx = add_gauge("max", 3, a);
    NumberDataPoint *b[] = {number(false, NAN, NULL, NULL), number(false, -INFINITY, NULL, NULL)};
    Metric *mn = add_gauge("min", 2, b);
    assert_int_equal(RUN(METRIC, "aggregate_on_attributes(\"max\") where name == \"max\"",
                         "aggregate_on_attributes(\"min\") where name == \"min\""),
                     0);
    assert_true(isnan(mx->gauge->data_points[0]->as_double));
    assert_true(isinf(mn->gauge->data_points[0]->as_double));
}

static void test_aggregate_histograms(void **state)
{
    (void)state;
    HistDP *h[] = {hist_point(3, true, 6, (uint64_t[]){1, 2, 0}, "pod", "1"),
                   hist_point(0, true, 100, (uint64_t[]){0, 0, 0}, "pod", "2"),
                   hist_point(2, false, 0, (uint64_t[]){1, 0, 1}, "pod", "3")};
    Metric *m = add_histogram("h", CUMULATIVE, 3, h);
    SummaryDP *s[] = {summary_point(1, 1, 1)};
    add_summary("s", 1, s);
    char msg[512];
    assert_int_equal(
        run_msg(METRIC, msg, (const char *const[]){"aggregate_on_attributes(\"sum\", [])", NULL}),
        1);
    assert_string_equal(msg, "aggregate_on_attributes does not support aggregating Summary "
                             "metrics");
    assert_int_equal(m->histogram->n_data_points, 1);
    HistDP *p = m->histogram->data_points[0];
    assert_int_equal(p->count, 5);
    assert_int_equal(p->_sum_case, 0); /* one point had no sum */
    assert_int_equal(p->bucket_counts[0], 2);
    assert_int_equal(p->bucket_counts[2], 1);
}

static void test_aggregate_exponential_offsets(void **state)
{
    (void)state;
    /* a source above the target lands at its place; one below is put in front */
    ExpDP *hi[] = {exp_point(2, 1, buckets(1, 2, (uint64_t[]){1, 1})),
                   exp_point(3, 1, buckets(3, 3, (uint64_t[]){1, 0, 2}))};
    Metric *m1 = add_exp("hi", 2, hi);
    ExpDP *lo[] = {exp_point(2, 1, buckets(3, 2, (uint64_t[]){1, 1})),
                   exp_point(3, 1, buckets(1, 3, (uint64_t[]){2, 0, 1}))};
    Metric *m2 = add_exp("lo", 2, lo);
    assert_int_equal(RUN(METRIC, "aggregate_on_attributes(\"sum\")"), 0);
    ExpBuckets *b = m1->exponential_histogram->data_points[0]->positive;
    assert_int_equal(b->offset, 1);
    assert_int_equal(b->n_bucket_counts, 5);
    uint64_t want1[] = {1, 1, 1, 0, 2};
    assert_memory_equal(b->bucket_counts, want1, sizeof(want1));
    b = m2->exponential_histogram->data_points[0]->positive;
    assert_int_equal(b->offset, 1);
    uint64_t want2[] = {2, 1, 1, 1};
    assert_int_equal(b->n_bucket_counts, 4);
    assert_memory_equal(b->bucket_counts, want2, sizeof(want2));
    assert_int_equal(m2->exponential_histogram->data_points[0]->count, 5);
    assert_true(m2->exponential_histogram->data_points[0]->sum == 2);
}

static void test_aggregate_on_attribute_value(void **state)
{
    (void)state;
    NumberDataPoint *p[] = {number(true, 2, "pod", "a"), number(true, 5, "pod", "b"),
                            number(true, 1, "pod", "c"), number(true, 4, "x", "a")};
    Metric *g = add_gauge("g", 4, p);
    SummaryDP *s[] = {summary_point(1, 1, 1)};
    Metric *sum = add_summary("s", 1, s);
    assert_int_equal(RUN(METRIC, "aggregate_on_attribute_value(\"sum\", \"pod\", [\"a\", \"b\"], "
                                 "\"ab\")"),
                     0);
    assert_int_equal(g->gauge->n_data_points, 3);
    NumberDataPoint *ab = g->gauge->data_points[0];
    assert_string_equal(attr_of(ab->attributes, ab->n_attributes, "pod"), "ab");
    assert_int_equal(ab->as_int, 7);
    assert_string_equal(attr_of(g->gauge->data_points[1]->attributes, 1, "pod"), "c");
    assert_string_equal(attr_of(g->gauge->data_points[2]->attributes, 1, "x"), "a");
    /* the Collector does not group summaries: their points go */
    assert_int_equal(sum->summary->n_data_points, 0);
}

/* ---- where they may run ---- */

static void test_parse_checks(void **state)
{
    (void)state;
    assert_string_equal(parse_err_in(OTTL_CTX_DATAPOINT, "scale_metric(2.0)"),
                        "scale_metric is a metric function: it cannot run in a datapoint "
                        "statement in 'scale_metric(2.0)'");
    assert_non_null(strstr(parse_err_in(METRIC, "convert_summary_sum_val_to_sum(\"delta\", true)"),
                           "convert_summary_sum_val_to_sum is a datapoint function"));
    assert_non_null(strstr(parse_err_in(METRIC, "convert_gauge_to_sum(\"monthly\", true)"),
                           "unknown aggregation temporality 'monthly'"));
    assert_non_null(strstr(parse_err_in(METRIC, "convert_gauge_to_sum(\"delta\", 1)"),
                           "argument 2 must be true or false"));
    assert_non_null(strstr(parse_err_in(METRIC, "scale_metric(10)"), "must be a float literal"));
    assert_non_null(strstr(parse_err_in(METRIC, "scale_metric(-1.0)"), "without a sign"));
    assert_non_null(
        strstr(parse_err_in(METRIC, "scale_metric(1.0, 7)"), "argument 2 must be a string"));
    assert_non_null(strstr(parse_err_in(METRIC, "aggregate_on_attributes(\"avg\")"),
                           "invalid aggregation function 'avg'"));
    assert_non_null(
        strstr(parse_err_in(METRIC, "copy_metric(name = 1)"), "argument 1 must be a string"));
    assert_non_null(strstr(parse_err_in(METRIC, "extract_sum_metric(true, 1)"),
                           "argument 2 must be a string literal"));
    /* the function decides the context of a statement with no path */
    struct ottl_statement *s;
    struct kt_err err = {0};
    assert_int_equal(ottl_statement_parse("convert_sum_to_gauge()", &s, &err), 0);
    assert_int_equal(ottl_statement_context(s), OTTL_CTX_METRIC);
    assert_false(ottl_statement_path_context(s));
    enum ottl_context fc;
    assert_string_equal(ottl_statement_context_func(s, &fc), "convert_sum_to_gauge");
    assert_int_equal(fc, OTTL_CTX_METRIC);
    ottl_statement_free(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_convert_sum_to_gauge_keeps_points),
        T(test_convert_gauge_to_sum_sets_temporality),
        T(test_extract_sum_of_histogram_skips_points_without_sum),
        T(test_extract_count_of_exponential_histogram),
        T(test_extract_of_summary_is_cumulative),
        T(test_extract_of_gauge_fails_and_histogram_without_sums_adds_nothing),
        T(test_appended_metrics_are_visited),
        T(test_copy_metric_is_deep),
        T(test_convert_summary_val_to_sum_per_point),
        T(test_convert_summary_quantile_val_to_gauge),
        T(test_scale_numbers_truncate_ints_as_go),
        T(test_scale_histogram_summary_and_exponential),
        T(test_aggregate_numbers),
        T(test_aggregate_max_min_as_go),
        T(test_aggregate_histograms),
        T(test_aggregate_exponential_offsets),
        T(test_aggregate_on_attribute_value),
        T(test_parse_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
