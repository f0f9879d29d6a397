/* OTLP messages built with protobuf-c for the unit tests of the wire-level code (the
 * validator in common/, the splitter in ingest/): shapes of traces, metrics and logs, and
 * raw field writers for malformed input. Everything a builder allocates is freed by
 * teardown(). */
#ifndef TEST_UNIT_OTLP_FIXTURE_H
#define TEST_UNIT_OTLP_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_buf.h"
#include "kt_otlp_wire.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Metrics__V1__MetricsData MetricsData;
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
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets Buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDP;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__LogsData LogsData;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

/* ---- an arena, so builders can allocate freely and each test frees once ---- */

static void **arena;
static size_t arena_n, arena_cap;

static inline void *A(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 256;
        arena = realloc(arena, arena_cap * sizeof(*arena));
        assert_non_null(arena);
    }
    arena[arena_n++] = p;
    return p;
}

static inline char *S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *S(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = A((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static inline int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < arena_n; i++)
        free(arena[i]);
    free(arena);
    arena = NULL;
    arena_n = arena_cap = 0;
    return 0;
}

/* new_T(): a zeroed, initialized message from the arena. */
#define DEFINE_NEW(T, init)                                                                        \
    static inline T *new_##T(void)                                                                 \
    {                                                                                              \
        T *x = A(sizeof(T));                                                                       \
        init(x);                                                                                   \
        return x;                                                                                  \
    }
DEFINE_NEW(AnyValue, opentelemetry__proto__common__v1__any_value__init)
DEFINE_NEW(ArrayValue, opentelemetry__proto__common__v1__array_value__init)
DEFINE_NEW(Buckets,
           opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init)
DEFINE_NEW(Event, opentelemetry__proto__trace__v1__span__event__init)
DEFINE_NEW(Exemplar, opentelemetry__proto__metrics__v1__exemplar__init)
DEFINE_NEW(ExpHistogram, opentelemetry__proto__metrics__v1__exponential_histogram__init)
DEFINE_NEW(ExpHistogramDP,
           opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init)
DEFINE_NEW(Gauge, opentelemetry__proto__metrics__v1__gauge__init)
DEFINE_NEW(Histogram, opentelemetry__proto__metrics__v1__histogram__init)
DEFINE_NEW(HistogramDP, opentelemetry__proto__metrics__v1__histogram_data_point__init)
DEFINE_NEW(KeyValue, opentelemetry__proto__common__v1__key_value__init)
DEFINE_NEW(KeyValueList, opentelemetry__proto__common__v1__key_value_list__init)
DEFINE_NEW(Link, opentelemetry__proto__trace__v1__span__link__init)
DEFINE_NEW(LogRecord, opentelemetry__proto__logs__v1__log_record__init)
DEFINE_NEW(LogsData, opentelemetry__proto__logs__v1__logs_data__init)
DEFINE_NEW(Metric, opentelemetry__proto__metrics__v1__metric__init)
DEFINE_NEW(MetricsData, opentelemetry__proto__metrics__v1__metrics_data__init)
DEFINE_NEW(NumberDP, opentelemetry__proto__metrics__v1__number_data_point__init)
DEFINE_NEW(Quantile, opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init)
DEFINE_NEW(Resource, opentelemetry__proto__resource__v1__resource__init)
DEFINE_NEW(ResourceLogs, opentelemetry__proto__logs__v1__resource_logs__init)
DEFINE_NEW(ResourceMetrics, opentelemetry__proto__metrics__v1__resource_metrics__init)
DEFINE_NEW(ResourceSpans, opentelemetry__proto__trace__v1__resource_spans__init)
DEFINE_NEW(Scope, opentelemetry__proto__common__v1__instrumentation_scope__init)
DEFINE_NEW(ScopeLogs, opentelemetry__proto__logs__v1__scope_logs__init)
DEFINE_NEW(ScopeMetrics, opentelemetry__proto__metrics__v1__scope_metrics__init)
DEFINE_NEW(ScopeSpans, opentelemetry__proto__trace__v1__scope_spans__init)
DEFINE_NEW(Span, opentelemetry__proto__trace__v1__span__init)
DEFINE_NEW(Status, opentelemetry__proto__trace__v1__status__init)
DEFINE_NEW(Sum, opentelemetry__proto__metrics__v1__sum__init)
DEFINE_NEW(Summary, opentelemetry__proto__metrics__v1__summary__init)
DEFINE_NEW(SummaryDP, opentelemetry__proto__metrics__v1__summary_data_point__init)
DEFINE_NEW(TracesData, opentelemetry__proto__trace__v1__traces_data__init)
#define ARR(T, n) ((T **)A(sizeof(T *) * (size_t)(n)))

/* ---- builders ---- */

static inline AnyValue *av_str(const char *v)
{
    AnyValue *a = new_AnyValue();
    a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    a->string_value = (char *)v;
    return a;
}

static inline KeyValue *kv_str(const char *k, const char *v)
{
    KeyValue *kv = new_KeyValue();
    kv->key = (char *)k;
    kv->value = av_str(v);
    return kv;
}

static inline KeyValue *kv_int(const char *k, int64_t v)
{
    KeyValue *kv = new_KeyValue();
    kv->key = (char *)k;
    kv->value = new_AnyValue();
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    kv->value->int_value = v;
    return kv;
}

static inline const AnyValue *find_attr(KeyValue **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i]->value;
    return NULL;
}

static inline int64_t int_attr(KeyValue **kv, size_t n, const char *key)
{
    const AnyValue *v = find_attr(kv, n, key);
    assert_non_null(v);
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    return v->int_value;
}

static inline const char *str_attr(KeyValue **kv, size_t n, const char *key)
{
    const AnyValue *v = find_attr(kv, n, key);
    assert_non_null(v);
    assert_int_equal(v->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    return v->string_value;
}

static inline Resource *resource(int r)
{
    Resource *res = new_Resource();
    res->n_attributes = 3;
    res->attributes = ARR(KeyValue, 3);
    res->attributes[0] = kv_str("service.name", S("svc-%d", r));
    res->attributes[1] = kv_str("host.name", "node-1");
    res->attributes[2] = kv_int("r", r);
    res->dropped_attributes_count = (uint32_t)r;
    return res;
}

static inline Scope *scope(int r, int s)
{
    Scope *sc = new_Scope();
    sc->name = S("scope-%d-%d", r, s);
    sc->version = "1.2.3";
    sc->n_attributes = 1;
    sc->attributes = ARR(KeyValue, 1);
    sc->attributes[0] = kv_str("lib", "kotel-test");
    return sc;
}

static inline void trace_id_of(int t, uint8_t id[16])
{
    memset(id, 0x11, 16);
    id[0] = 0x5b;
    id[1] = (uint8_t)(t >> 16);
    id[2] = (uint8_t)(t >> 8);
    id[3] = (uint8_t)t;
}

static inline void span_id_of(int g, uint8_t id[8])
{
    memset(id, 0xaa, 8);
    id[5] = (uint8_t)(g >> 16);
    id[6] = (uint8_t)(g >> 8);
    id[7] = (uint8_t)g;
}

struct tshape {
    int n_res, n_scope, n_span; /* per request / resource / scope */
    int n_attrs;                /* filler attributes per span */
    int (*trace_of)(int g);     /* trace of global span index g; -1: empty trace_id */
    int big_span;               /* this span gets a large attribute (-1: none) */
    size_t big_bytes;
};

static inline Span *span(int r, int s, int g, const struct tshape *sh)
{
    Span *sp = new_Span();
    int t = sh->trace_of(g);
    if (t >= 0) {
        sp->trace_id.len = 16;
        sp->trace_id.data = A(16);
        trace_id_of(t, sp->trace_id.data);
    }
    sp->span_id.len = 8;
    sp->span_id.data = A(8);
    span_id_of(g, sp->span_id.data);
    sp->name = S("GET /api/v1/items/%d", g);
    sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    sp->start_time_unix_nano = UINT64_C(1700000000000000000) + (uint64_t)g;
    sp->end_time_unix_nano = sp->start_time_unix_nano + 1000;
    size_t n = 3 + (size_t)sh->n_attrs + (g == sh->big_span);
    sp->n_attributes = n;
    sp->attributes = ARR(KeyValue, n);
    sp->attributes[0] = kv_int("g", g);
    sp->attributes[1] = kv_int("r", r);
    sp->attributes[2] = kv_int("s", s);
    for (int i = 0; i < sh->n_attrs; i++)
        sp->attributes[3 + i] = kv_str(S("http.attr.%d", i), S("value-%d-%d", g, i));
    if (g == sh->big_span) {
        char *big = A(sh->big_bytes + 1);
        memset(big, 'x', sh->big_bytes);
        sp->attributes[n - 1] = kv_str("big", big);
    }
    return sp;
}

static inline TracesData *build_traces(const struct tshape *sh)
{
    TracesData *td = new_TracesData();
    td->n_resource_spans = (size_t)sh->n_res;
    td->resource_spans = ARR(ResourceSpans, sh->n_res);
    int g = 0;
    for (int r = 0; r < sh->n_res; r++) {
        ResourceSpans *rs = new_ResourceSpans();
        td->resource_spans[r] = rs;
        rs->resource = resource(r);
        rs->schema_url = S("https://opentelemetry.io/schemas/1.%d.0", r);
        rs->n_scope_spans = (size_t)sh->n_scope;
        rs->scope_spans = ARR(ScopeSpans, sh->n_scope);
        for (int s = 0; s < sh->n_scope; s++) {
            ScopeSpans *ss = new_ScopeSpans();
            rs->scope_spans[s] = ss;
            ss->scope = scope(r, s);
            ss->schema_url = S("scope-schema-%d-%d", r, s);
            ss->n_spans = (size_t)sh->n_span;
            ss->spans = ARR(Span, sh->n_span);
            for (int i = 0; i < sh->n_span; i++)
                ss->spans[i] = span(r, s, g++, sh);
        }
    }
    return td;
}

static inline struct kt_slice pack_traces(const TracesData *td)
{
    size_t n = opentelemetry__proto__trace__v1__traces_data__get_packed_size(td);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__trace__v1__traces_data__pack(td, p), n);
    return (struct kt_slice){p, n};
}

static inline int trace_by_tens(int g)
{
    return g / 10;
}
static inline int trace_mod3(int g)
{
    return g % 3;
}
static inline int trace_zero(int g)
{
    return g * 0;
}
static inline int trace_mixed_empty(int g)
{
    return g % 4 == 1 ? -1 : g % 2;
}

static inline void put_varint(struct kt_buf *b, uint32_t num, uint64_t v)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3), 0);
    assert_int_equal(kt_buf_append_varint(b, v), 0);
}

static inline void put_fixed64(struct kt_buf *b, uint32_t num, uint64_t v)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3 | 1), 0);
    assert_int_equal(kt_buf_append(b, &v, 8), 0);
}

static inline void put_bytes(struct kt_buf *b, uint32_t num, const void *p, size_t n)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3 | 2), 0);
    assert_int_equal(kt_buf_append_varint(b, n), 0);
    assert_int_equal(kt_buf_append(b, p, n), 0);
}

/* Wraps inner as field num of a new message, consuming inner. */
static inline struct kt_buf wrap(uint32_t num, struct kt_buf inner)
{
    struct kt_buf b = KT_BUF_INIT;
    put_bytes(&b, num, inner.p, inner.len);
    kt_buf_free(&inner);
    return b;
}

/* TracesData { resource_spans { scope_spans { spans { <span payload> } } } } */
static inline struct kt_buf traces_around_span(struct kt_buf span_payload)
{
    return wrap(1, wrap(2, wrap(2, span_payload)));
}

static inline struct kt_buf valid_span_payload(void)
{
    struct kt_buf b = KT_BUF_INIT;
    uint8_t tid[16], sid[8];
    trace_id_of(7, tid);
    span_id_of(7, sid);
    put_bytes(&b, 1, tid, 16);
    put_bytes(&b, 2, sid, 8);
    put_bytes(&b, 5, "op", 2);
    return b;
}

/* kt_otlp_validate_limits(lim) refuses msg with code and a message holding want_substr. */
static inline void expect_refused(enum kt_signal sig, struct kt_slice msg,
                                  const struct kt_otlp_limits *lim, int code,
                                  const char *want_substr)
{
    struct kt_err err = {0, ""};
    size_t n = 12345;
    int rc = kt_otlp_validate_limits(sig, msg, 0, lim, &n, &err);
    if (rc != code)
        fail_msg("want %s, got %d (%s)", kt_err_name(code), rc, err.msg);
    assert_int_equal(err.code, code);
    if (strstr(err.msg, want_substr) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, want_substr);
    assert_int_equal(n, 12345);
    /* The NULL-err form must fail the same way. */
    assert_int_equal(kt_otlp_validate_limits(sig, msg, 0, lim, NULL, NULL), code);
}

static inline void expect_invalid(enum kt_signal sig, struct kt_slice msg, const char *want_substr)
{
    expect_refused(sig, msg, NULL, KT_EINVAL, want_substr);
}

/* ---- metrics and logs builders ---- */

static inline NumberDP *number_dp(int p)
{
    NumberDP *dp = new_NumberDP();
    dp->n_attributes = 2;
    dp->attributes = ARR(KeyValue, 2);
    dp->attributes[0] = kv_int("p", p);
    dp->attributes[1] = kv_str("http.route", S("/api/items/%d", p));
    dp->time_unix_nano = UINT64_C(1700000000000000000) + (uint64_t)p;
    dp->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    dp->as_double = p * 1.5;
    return dp;
}

static inline Metric *metric(const char *name)
{
    Metric *m = new_Metric();
    m->name = (char *)name;
    m->description = S("description of %s", name);
    m->unit = "ms";
    return m;
}

/* One metric of each of the five kinds, n points each; point attributes "p" number all
 * points 0..5n-1. */
static inline MetricsData *build_metrics(int n, int n_res)
{
    MetricsData *md = new_MetricsData();
    md->n_resource_metrics = (size_t)n_res;
    md->resource_metrics = ARR(ResourceMetrics, n_res);
    int p = 0;
    for (int r = 0; r < n_res; r++) {
        ResourceMetrics *rm = new_ResourceMetrics();
        md->resource_metrics[r] = rm;
        rm->resource = resource(r);
        rm->schema_url = S("https://opentelemetry.io/schemas/1.%d.0", r);
        rm->n_scope_metrics = 1;
        rm->scope_metrics = ARR(ScopeMetrics, 1);
        ScopeMetrics *sm = new_ScopeMetrics();
        rm->scope_metrics[0] = sm;
        sm->scope = scope(r, 0);
        sm->n_metrics = 5;
        sm->metrics = ARR(Metric, 5);

        Metric *m = metric(S("gauge.%d", r));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = new_Gauge();
        m->gauge->n_data_points = (size_t)n;
        m->gauge->data_points = ARR(NumberDP, n);
        for (int i = 0; i < n; i++)
            m->gauge->data_points[i] = number_dp(p++);
        sm->metrics[0] = m;

        m = metric(S("sum.%d", r));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m->sum = new_Sum();
        m->sum->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        m->sum->is_monotonic = 1;
        m->sum->n_data_points = (size_t)n;
        m->sum->data_points = ARR(NumberDP, n);
        for (int i = 0; i < n; i++) {
            m->sum->data_points[i] = number_dp(p++);
            m->sum->data_points[i]->value_case =
                OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
            m->sum->data_points[i]->as_int = i;
        }
        sm->metrics[1] = m;

        m = metric(S("histogram.%d", r));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = new_Histogram();
        m->histogram->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        m->histogram->n_data_points = (size_t)n;
        m->histogram->data_points = ARR(HistogramDP, n);
        for (int i = 0; i < n; i++) {
            HistogramDP *dp = new_HistogramDP();
            dp->n_attributes = 1;
            dp->attributes = ARR(KeyValue, 1);
            dp->attributes[0] = kv_int("p", p++);
            dp->count = 10;
            dp->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
            dp->sum = 42.5;
            dp->n_bucket_counts = 3;
            dp->bucket_counts = A(3 * sizeof(uint64_t));
            dp->bucket_counts[0] = 5;
            dp->bucket_counts[2] = 5;
            dp->n_explicit_bounds = 2;
            dp->explicit_bounds = A(2 * sizeof(double));
            dp->explicit_bounds[0] = 1.0;
            dp->explicit_bounds[1] = 10.0;
            dp->_min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
            dp->min = 0.5;
            dp->n_exemplars = 1;
            dp->exemplars = ARR(Exemplar, 1);
            Exemplar *ex = new_Exemplar();
            ex->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
            ex->as_double = 3.0;
            ex->trace_id.len = 16;
            ex->trace_id.data = A(16);
            trace_id_of(1, ex->trace_id.data);
            ex->span_id.len = 8;
            ex->span_id.data = A(8);
            span_id_of(1, ex->span_id.data);
            dp->exemplars[0] = ex;
            m->histogram->data_points[i] = dp;
        }
        sm->metrics[2] = m;

        m = metric(S("exp_histogram.%d", r));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
        m->exponential_histogram = new_ExpHistogram();
        m->exponential_histogram->n_data_points = (size_t)n;
        m->exponential_histogram->data_points = ARR(ExpHistogramDP, n);
        for (int i = 0; i < n; i++) {
            ExpHistogramDP *dp = new_ExpHistogramDP();
            dp->n_attributes = 1;
            dp->attributes = ARR(KeyValue, 1);
            dp->attributes[0] = kv_int("p", p++);
            dp->scale = -3;
            dp->count = 4;
            dp->positive = new_Buckets();
            dp->positive->offset = -2;
            dp->positive->n_bucket_counts = 2;
            dp->positive->bucket_counts = A(2 * sizeof(uint64_t));
            dp->positive->bucket_counts[0] = 300;
            dp->positive->bucket_counts[1] = 1;
            dp->zero_threshold = 1e-9;
            m->exponential_histogram->data_points[i] = dp;
        }
        sm->metrics[3] = m;

        m = metric(S("summary.%d", r));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        m->summary = new_Summary();
        m->summary->n_data_points = (size_t)n;
        m->summary->data_points = ARR(SummaryDP, n);
        for (int i = 0; i < n; i++) {
            SummaryDP *dp = new_SummaryDP();
            dp->n_attributes = 1;
            dp->attributes = ARR(KeyValue, 1);
            dp->attributes[0] = kv_int("p", p++);
            dp->count = 3;
            dp->sum = 9;
            dp->n_quantile_values = 1;
            dp->quantile_values = ARR(Quantile, 1);
            dp->quantile_values[0] = new_Quantile();
            dp->quantile_values[0]->quantile = 0.99;
            dp->quantile_values[0]->value = 7;
            m->summary->data_points[i] = dp;
        }
        sm->metrics[4] = m;
    }
    return md;
}

static inline struct kt_slice pack_metrics(const MetricsData *md)
{
    size_t n = opentelemetry__proto__metrics__v1__metrics_data__get_packed_size(md);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__metrics__v1__metrics_data__pack(md, p), n);
    return (struct kt_slice){p, n};
}

/* Point attribute "p" of any kind of data point of m, appended to seen[]. */
static inline void mark_points(const Metric *m, int *seen, int n_points)
{
    size_t n = 0;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        for (n = 0; n < m->gauge->n_data_points; n++) {
            NumberDP *dp = m->gauge->data_points[n];
            seen[int_attr(dp->attributes, dp->n_attributes, "p")]++;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        assert_int_equal(m->sum->is_monotonic, 1);
        assert_int_equal(
            m->sum->aggregation_temporality,
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
        for (n = 0; n < m->sum->n_data_points; n++) {
            NumberDP *dp = m->sum->data_points[n];
            seen[int_attr(dp->attributes, dp->n_attributes, "p")]++;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        assert_int_equal(
            m->histogram->aggregation_temporality,
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
        for (n = 0; n < m->histogram->n_data_points; n++) {
            HistogramDP *dp = m->histogram->data_points[n];
            assert_int_equal(dp->n_bucket_counts, 3);
            seen[int_attr(dp->attributes, dp->n_attributes, "p")]++;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        for (n = 0; n < m->exponential_histogram->n_data_points; n++) {
            ExpHistogramDP *dp = m->exponential_histogram->data_points[n];
            assert_int_equal(dp->positive->n_bucket_counts, 2);
            seen[int_attr(dp->attributes, dp->n_attributes, "p")]++;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        for (n = 0; n < m->summary->n_data_points; n++) {
            SummaryDP *dp = m->summary->data_points[n];
            seen[int_attr(dp->attributes, dp->n_attributes, "p")]++;
        }
        break;
    default: fail_msg("metric %s has no data", m->name);
    }
    (void)n_points;
}

static inline LogsData *build_logs(int n_res, int n_logs, bool with_trace)
{
    LogsData *ld = new_LogsData();
    ld->n_resource_logs = (size_t)n_res;
    ld->resource_logs = ARR(ResourceLogs, n_res);
    int g = 0;
    for (int r = 0; r < n_res; r++) {
        ResourceLogs *rl = new_ResourceLogs();
        ld->resource_logs[r] = rl;
        rl->resource = resource(r % 2);
        rl->n_scope_logs = 1;
        rl->scope_logs = ARR(ScopeLogs, 1);
        ScopeLogs *sl = new_ScopeLogs();
        rl->scope_logs[0] = sl;
        sl->scope = scope(r, 0);
        sl->n_log_records = (size_t)n_logs;
        sl->log_records = ARR(LogRecord, n_logs);
        for (int i = 0; i < n_logs; i++) {
            LogRecord *lr = new_LogRecord();
            lr->time_unix_nano = UINT64_C(1700000000000000000) + (uint64_t)g;
            lr->severity_number =
                OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
            lr->severity_text = "INFO";
            lr->body = av_str(S("request %d handled in 12ms", g));
            lr->n_attributes = 1;
            lr->attributes = ARR(KeyValue, 1);
            lr->attributes[0] = kv_int("g", g);
            if (with_trace && g % 3 != 2) {
                lr->trace_id.len = 16;
                lr->trace_id.data = A(16);
                trace_id_of(g % 3, lr->trace_id.data);
                lr->span_id.len = 8;
                lr->span_id.data = A(8);
                span_id_of(g, lr->span_id.data);
            }
            sl->log_records[i] = lr;
            g++;
        }
    }
    return ld;
}

static inline struct kt_slice pack_logs(const LogsData *ld)
{
    size_t n = opentelemetry__proto__logs__v1__logs_data__get_packed_size(ld);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__logs__v1__logs_data__pack(ld, p), n);
    return (struct kt_slice){p, n};
}

/* ==========================================================================================
 * Validation
 * ========================================================================================== */

#endif
