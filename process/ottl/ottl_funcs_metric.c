/* OTTL metric functions (issue 14): the transform processor's editors that change a metric's
 * type (convert_sum_to_gauge, convert_gauge_to_sum), rewrite its data points (scale_metric,
 * aggregate_on_attributes) or add metrics made from it to its scope (extract_sum_metric,
 * extract_count_metric, copy_metric, convert_summary_*_val_to_sum), with the Collector's
 * semantics, quirks included. Everything new comes from the tctx arena, which lives until the
 * data is packed; the data's own arrays are arena memory too, so replacing one needs no free. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_int.h"

typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDP;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpDP;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDP;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;

#define DATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define TEMP(x)                                                                                    \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_##x
#define NUM_DOUBLE OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
#define NUM_INT OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
#define HIST_SUM OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM
#define HIST_NO_SUM OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET
#define HIST_MIN OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN
#define HIST_MAX OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX
#define EXP_SUM OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM
#define EXP_NO_SUM                                                                                 \
    OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM__NOT_SET
#define EXP_MIN OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN
#define EXP_MAX OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX
#define EX_DOUBLE OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE
#define EX_INT OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT

/* ---- helpers ---- */

static int oom(struct ottl_eval *ev)
{
    return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
}

/* A copy of init (a protobuf-c *__INIT value) in a; NULL when out of memory. */
static void *obj_new(struct kt_arena *a, const void *init, size_t size)
{
    void *p = kt_arena_alloc(a, size);
    if (p != NULL)
        memcpy(p, init, size);
    return p;
}

#define NEW(a, T, INIT) ((T *)obj_new((a), &(T)INIT, sizeof(T)))

/* The metric the statement runs on, and the tctx arena. */
static int want_metric(struct ottl_eval *ev, Metric **m, struct kt_arena **a)
{
    if ((*a = ottl_eval_arena(ev)) == NULL)
        return KT_EINVAL;
    if ((*m = ev->t->metric) == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "no metric here");
    return 0;
}

/* pmetric's names of the metric types, which the Collector's messages use. */
static const char *type_name(const Metric *m)
{
    switch (m->data_case) {
    case DATA(GAUGE): return "Gauge";
    case DATA(SUM): return "Sum";
    case DATA(HISTOGRAM): return "Histogram";
    case DATA(EXPONENTIAL_HISTOGRAM): return "ExponentialHistogram";
    case DATA(SUMMARY): return "Summary";
    default: return "Empty";
    }
}

/* Go's int64(f) on amd64, where the Collector runs: a value out of range (or NaN) becomes the
 * smallest int64. In C that conversion is undefined, hence the range check. */
static int64_t go_int64(double f)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)f;
}

/* Appends m to the scope's metrics: a new array one longer (the walk reads it again after
 * each metric, so m is visited by the statements still to run, as in the Collector). */
static int append_metric(struct ottl_eval *ev, struct kt_arena *a, Metric *m)
{
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = ev->t->scope_metrics;
    if (sm == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "no scope to add a metric to");
    Metric **v = kt_arena_alloc(a, (sm->n_metrics + 1) * sizeof(*v));
    if (v == NULL)
        return oom(ev);
    if (sm->n_metrics > 0)
        memcpy(v, sm->metrics, sm->n_metrics * sizeof(*v));
    v[sm->n_metrics] = m;
    sm->metrics = v;
    sm->n_metrics++;
    return 0;
}

/* A copy of the attributes (*kv)[0..n) into *out, *out_n, nothing shared with them. */
static int copy_attrs(struct ottl_eval *ev, struct kt_arena *a, ottl_kv **kv, size_t n,
                      ottl_kv ***out, size_t *out_n)
{
    size_t n_copy = n;
    struct ottl_value v = {.t = OTTL_MAP, .m = {&kv, &n_copy}};
    ottl_any any = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    int rc = ottl_value_to_any(ev, a, &v, &any, 0);
    if (rc != 0)
        return rc;
    *out = any.kvlist_value->values;
    *out_n = any.kvlist_value->n_values;
    return 0;
}

/* A metric named name + suffix with the description and unit (NULL: the original's) of m,
 * without data. */
static Metric *new_metric_from(struct kt_arena *a, const Metric *m, const char *suffix,
                               const char *unit)
{
    Metric *out = NEW(a, Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
    const char *name = m->name != NULL ? m->name : "";
    size_t nn = strlen(name), sn = strlen(suffix);
    char *full = kt_arena_alloc(a, nn + sn + 1);
    if (out == NULL || full == NULL)
        return NULL;
    memcpy(full, name, nn);
    memcpy(full + nn, suffix, sn + 1);
    /* Strings are never changed in place (set() puts a new one), so sharing them is safe. */
    out->name = full;
    out->description = m->description;
    out->unit = unit != NULL ? (char *)unit : m->unit;
    return out;
}

/* The same with an empty Sum of the temporality and monotonicity given. */
static Metric *new_sum_metric(struct kt_arena *a, const Metric *m, const char *suffix,
                              const char *unit, int temporality, bool monotonic)
{
    Metric *out = new_metric_from(a, m, suffix, unit);
    Sum *sum = NEW(a, Sum, OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT);
    if (out == NULL || sum == NULL)
        return NULL;
    sum->aggregation_temporality = temporality;
    sum->is_monotonic = monotonic;
    out->data_case = DATA(SUM);
    out->sum = sum;
    return out;
}

/* Adds to sum a point with a copy of attrs, the times given and the value: as_double when
 * is_double, else as_int. */
static int add_number_point(struct ottl_eval *ev, struct kt_arena *a, Sum *sum, size_t cap,
                            ottl_kv **attrs, size_t n_attrs, uint64_t start, uint64_t time,
                            bool is_double, double d, int64_t i)
{
    if (sum->data_points == NULL &&
        (sum->data_points = kt_arena_alloc(a, (cap ? cap : 1) * sizeof(NumberDP *))) == NULL)
        return oom(ev);
    NumberDP *dp = NEW(a, NumberDP, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
    if (dp == NULL)
        return oom(ev);
    int rc = copy_attrs(ev, a, attrs, n_attrs, &dp->attributes, &dp->n_attributes);
    if (rc != 0)
        return rc;
    dp->start_time_unix_nano = start;
    dp->time_unix_nano = time;
    if (is_double) {
        dp->value_case = NUM_DOUBLE;
        dp->as_double = d;
    } else {
        dp->value_case = NUM_INT;
        dp->as_int = i;
    }
    sum->data_points[sum->n_data_points++] = dp;
    return 0;
}

/* The bool literal of argument i (checked at parse time). */
static bool bool_arg(const struct ottl_node *call, size_t i)
{
    return call->call.args[i]->lit.b;
}

/* The string literal of optional argument i, or dflt when it is left out. */
static const char *str_arg(const struct ottl_node *call, size_t i, const char *dflt)
{
    const struct ottl_node *n = call->call.n_args > i ? call->call.args[i] : NULL;
    return n != NULL ? n->lit.s.p : dflt;
}

static int temporality_arg(const struct ottl_node *call)
{
    return strcmp(call->call.args[0]->lit.s.p, "delta") == 0 ? TEMP(DELTA) : TEMP(CUMULATIVE);
}

/* ---- parse-time checks ---- */

static int want_lit(const struct ottl_node *call, size_t i, enum ottl_vtype t, const char *what,
                    const char *src, struct kt_err *err)
{
    const struct ottl_node *a = call->call.n_args > i ? call->call.args[i] : NULL;
    if (a == NULL || (a->kind == OTTL_N_LIT && a->lit.t == t))
        return 0;
    return ottl_syntax_error(err, src, a->pos, "%s: argument %zu must be %s", call->call.fn->name,
                             i + 1, what);
}

/* A temporality string literal, as convert_gauge_to_sum and the summary functions take. */
int ottl_check_temporality(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *a = call->call.args[0];
    if (strcmp(a->lit.s.p, "delta") != 0 && strcmp(a->lit.s.p, "cumulative") != 0)
        return ottl_syntax_error(err, src, a->pos,
                                 "%s: unknown aggregation temporality '%s' (want delta or "
                                 "cumulative)",
                                 call->call.fn->name, a->lit.s.p);
    return want_lit(call, 1, OTTL_BOOL, "true or false", src, err);
}

/* The Collector's bool parameters take a literal only. */
int ottl_check_bool_first(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    return want_lit(call, 0, OTTL_BOOL, "true or false", src, err);
}

/* A string parameter evaluated at run time (a StringGetter) refuses any other literal when
 * the statement is parsed, as the Collector does: copy_metric(name = 1), unit = nil. */
static int check_string_getters(const struct ottl_node *call, size_t from, const char *src,
                                struct kt_err *err)
{
    for (size_t i = from; i < call->call.n_args; i++) {
        const struct ottl_node *a = call->call.args[i];
        if (a != NULL && a->kind == OTTL_N_LIT && a->lit.t != OTTL_STR)
            return ottl_syntax_error(err, src, a->pos, "%s: argument %zu must be a string, got %s",
                                     call->call.fn->name, i + 1, ottl_vtype_name(a->lit.t));
    }
    return 0;
}

/* Its float64 parameter takes a float literal only: 10 is refused, 10.0 is not, and so is
 * -0.5, which the Collector's grammar reads as arithmetic (the parser here folds the sign
 * into the literal, which starts at the '-'). */
int ottl_check_scale(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *f = call->call.args[0];
    int rc = want_lit(call, 0, OTTL_DOUBLE, "a float literal such as 1000.0", src, err);
    if (rc == 0 && src[f->pos] == '-')
        rc = ottl_syntax_error(err, src, f->pos,
                               "scale_metric: argument 1 must be a float literal without a sign "
                               "(the Collector reads -x as arithmetic, which it refuses here)");
    return rc != 0 ? rc : check_string_getters(call, 1, src, err);
}

int ottl_check_copy_metric(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    return check_string_getters(call, 0, src, err);
}

/* The Collector's aggregation function names. */
static const char *const agg_names[] = {"sum", "mean", "min", "max", "median", "count"};
enum agg { AGG_SUM, AGG_MEAN, AGG_MIN, AGG_MAX, AGG_MEDIAN, AGG_COUNT, AGG_N };

static int agg_of(const char *s)
{
    for (int i = 0; i < AGG_N; i++)
        if (strcmp(s, agg_names[i]) == 0)
            return i;
    return -1;
}

int ottl_check_aggregate(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *a = call->call.args[0];
    if (agg_of(a->lit.s.p) < 0)
        return ottl_syntax_error(err, src, a->pos,
                                 "%s: invalid aggregation function '%s' (valid: sum, mean, min, "
                                 "max, median, count)",
                                 call->call.fn->name, a->lit.s.p);
    return 0;
}

/* ---- type conversions ---- */

int ottl_fn_convert_sum_to_gauge(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out)
{
    (void)call;
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0 || m->data_case != DATA(SUM))
        return rc;
    Gauge *g = NEW(a, Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
    if (g == NULL)
        return oom(ev);
    if (m->sum != NULL) {
        g->data_points = m->sum->data_points;
        g->n_data_points = m->sum->n_data_points;
    }
    m->data_case = DATA(GAUGE);
    m->gauge = g;
    return 0;
}

int ottl_fn_convert_gauge_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0 || m->data_case != DATA(GAUGE))
        return rc;
    Sum *s = NEW(a, Sum, OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT);
    if (s == NULL)
        return oom(ev);
    if (m->gauge != NULL) {
        s->data_points = m->gauge->data_points;
        s->n_data_points = m->gauge->n_data_points;
    }
    s->aggregation_temporality = temporality_arg(call);
    s->is_monotonic = bool_arg(call, 1);
    m->data_case = DATA(SUM);
    m->sum = s;
    return 0;
}

/* ---- metrics made from a metric ---- */

/* extract_sum_metric and extract_count_metric: a Sum of each histogram, exponential
 * histogram or summary point's sum (a double; histogram points without a sum are left out)
 * or count (an int, unit "1"), appended when it has any point. */
static int extract(struct ottl_eval *ev, const struct ottl_node *call, bool count)
{
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0)
        return rc;
    int temporality = TEMP(UNSPECIFIED);
    size_t n = 0;
    if (m->data_case == DATA(HISTOGRAM) && m->histogram != NULL) {
        temporality = m->histogram->aggregation_temporality;
        n = m->histogram->n_data_points;
    } else if (m->data_case == DATA(EXPONENTIAL_HISTOGRAM) && m->exponential_histogram != NULL) {
        temporality = m->exponential_histogram->aggregation_temporality;
        n = m->exponential_histogram->n_data_points;
    } else if (m->data_case == DATA(SUMMARY)) {
        /* Summaries have none; OpenMetrics says they are cumulative. */
        temporality = TEMP(CUMULATIVE);
        n = m->summary != NULL ? m->summary->n_data_points : 0;
    }
    if (temporality == TEMP(UNSPECIFIED))
        return kt_err_set(ev->err, KT_EINVAL,
                          "%s requires an input metric of type Histogram, ExponentialHistogram "
                          "or Summary, got %s",
                          call->call.fn->name, type_name(m));
    Metric *nm = new_sum_metric(a, m, str_arg(call, 1, count ? "_count" : "_sum"),
                                count ? "1" : NULL, temporality, bool_arg(call, 0));
    if (nm == NULL)
        return oom(ev);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (m->data_case == DATA(HISTOGRAM)) {
            HistDP *p = m->histogram->data_points[i];
            if (count || p->_sum_case == HIST_SUM)
                rc = add_number_point(ev, a, nm->sum, n, p->attributes, p->n_attributes,
                                      p->start_time_unix_nano, p->time_unix_nano, !count, p->sum,
                                      (int64_t)p->count);
        } else if (m->data_case == DATA(EXPONENTIAL_HISTOGRAM)) {
            ExpDP *p = m->exponential_histogram->data_points[i];
            if (count || p->_sum_case == EXP_SUM)
                rc = add_number_point(ev, a, nm->sum, n, p->attributes, p->n_attributes,
                                      p->start_time_unix_nano, p->time_unix_nano, !count, p->sum,
                                      (int64_t)p->count);
        } else {
            SummaryDP *p = m->summary->data_points[i];
            rc = add_number_point(ev, a, nm->sum, n, p->attributes, p->n_attributes,
                                  p->start_time_unix_nano, p->time_unix_nano, !count, p->sum,
                                  (int64_t)p->count);
        }
    }
    if (rc != 0 || nm->sum->n_data_points == 0)
        return rc;
    return append_metric(ev, a, nm);
}

int ottl_fn_extract_sum_metric(struct ottl_eval *ev, const struct ottl_node *call,
                               struct ottl_value *out)
{
    (void)out;
    return extract(ev, call, false);
}

int ottl_fn_extract_count_metric(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out)
{
    (void)out;
    return extract(ev, call, true);
}

/* convert_summary_sum_val_to_sum and convert_summary_count_val_to_sum, data point functions:
 * at each point of a summary, a Sum of all the summary's points' sums (counts) is appended,
 * so a summary of two points gives two metrics of two points, as in the Collector. */
static int summary_to_sum(struct ottl_eval *ev, const struct ottl_node *call, bool count)
{
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0 || m->data_case != DATA(SUMMARY))
        return rc;
    size_t n = m->summary != NULL ? m->summary->n_data_points : 0;
    Metric *nm = new_sum_metric(a, m, str_arg(call, 2, count ? "_count" : "_sum"), NULL,
                                temporality_arg(call), bool_arg(call, 1));
    if (nm == NULL)
        return oom(ev);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        SummaryDP *p = m->summary->data_points[i];
        rc = add_number_point(ev, a, nm->sum, n, p->attributes, p->n_attributes,
                              p->start_time_unix_nano, p->time_unix_nano, !count, p->sum,
                              (int64_t)p->count);
    }
    return rc != 0 ? rc : append_metric(ev, a, nm);
}

int ottl_fn_convert_summary_sum_val_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                           struct ottl_value *out)
{
    (void)out;
    return summary_to_sum(ev, call, false);
}

int ottl_fn_convert_summary_count_val_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                             struct ottl_value *out)
{
    (void)out;
    return summary_to_sum(ev, call, true);
}

/* A Gauge named name + suffix (".quantiles") with a point per quantile of each summary point:
 * its value, the point's attributes and times, and the quantile under attribute_key
 * ("quantile", replacing one of that name). Appended whenever the metric is a summary, as in
 * the Collector, even without points. */
int ottl_fn_convert_summary_quantile_val_to_gauge(struct ottl_eval *ev,
                                                  const struct ottl_node *call,
                                                  struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0 || m->data_case != DATA(SUMMARY))
        return rc;
    const char *key = str_arg(call, 0, "quantile");
    Metric *nm = new_metric_from(a, m, str_arg(call, 1, ".quantiles"), NULL);
    Gauge *g = NEW(a, Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
    size_t n = 0, np = m->summary != NULL ? m->summary->n_data_points : 0;
    for (size_t i = 0; i < np; i++)
        n += m->summary->data_points[i]->n_quantile_values;
    if (nm == NULL || g == NULL ||
        (g->data_points = kt_arena_alloc(a, (n ? n : 1) * sizeof(NumberDP *))) == NULL)
        return oom(ev);
    nm->data_case = DATA(GAUGE);
    nm->gauge = g;
    for (size_t i = 0; i < np; i++) {
        const SummaryDP *p = m->summary->data_points[i];
        for (size_t q = 0; q < p->n_quantile_values; q++) {
            NumberDP *dp =
                NEW(a, NumberDP, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
            if (dp == NULL)
                return oom(ev);
            if ((rc = copy_attrs(ev, a, p->attributes, p->n_attributes, &dp->attributes,
                                 &dp->n_attributes)) != 0)
                return rc;
            struct ottl_map map = {&dp->attributes, &dp->n_attributes};
            ottl_kv *kv = ottl_map_find(&map, key, strlen(key));
            if (kv == NULL && (kv = ottl_map_add(a, &map, key, strlen(key))) == NULL)
                return oom(ev);
            struct ottl_value qv = {.t = OTTL_DOUBLE, .d = p->quantile_values[q]->quantile};
            if (kv->value == NULL &&
                (kv->value = NEW(a, ottl_any, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT)) ==
                    NULL)
                return oom(ev);
            if ((rc = ottl_value_to_any(ev, a, &qv, kv->value, 0)) != 0)
                return rc;
            dp->value_case = NUM_DOUBLE;
            dp->as_double = p->quantile_values[q]->value;
            dp->start_time_unix_nano = p->start_time_unix_nano;
            dp->time_unix_nano = p->time_unix_nano;
            g->data_points[g->n_data_points++] = dp;
        }
    }
    return append_metric(ev, a, nm);
}

/* An optional string argument evaluated now (copy_metric's name, scale_metric's unit), copied
 * into a; *s stays NULL when it is left out. */
static int opt_string(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_node *call,
                      size_t i, char **s)
{
    *s = NULL;
    if (call->call.n_args <= i || call->call.args[i] == NULL)
        return 0;
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, i, &v);
    if (rc != 0)
        return rc;
    if ((*s = kt_arena_strndup(a, v.s.p, v.s.n)) == NULL)
        return oom(ev);
    return 0;
}

/* A deep copy of the metric (packed and unpacked into the arena), appended; then the name,
 * description and unit given. As in the Collector the copy is appended before they are
 * evaluated, so one that fails leaves the copy with the original's. */
int ottl_fn_copy_metric(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0)
        return rc;
    size_t size = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = kt_arena_alloc(a, size ? size : 1);
    if (buf == NULL)
        return oom(ev);
    protobuf_c_message_pack(&m->base, buf);
    Metric *copy = (Metric *)protobuf_c_message_unpack(
        &opentelemetry__proto__metrics__v1__metric__descriptor, kt_arena_pb(a), size, buf);
    if (copy == NULL)
        return oom(ev);
    if ((rc = append_metric(ev, a, copy)) != 0)
        return rc;
    char *fields[3];
    for (size_t i = 0; i < 3; i++) {
        if ((rc = opt_string(ev, a, call, i, &fields[i])) != 0)
            return rc;
        if (fields[i] == NULL)
            continue;
        if (i == 0)
            copy->name = fields[i];
        else if (i == 1)
            copy->description = fields[i];
        else
            copy->unit = fields[i];
    }
    return 0;
}

/* ---- scale_metric ---- */

static void scale_numbers(NumberDP **v, size_t n, double f)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i]->value_case == NUM_INT)
            v[i]->as_int = go_int64((double)v[i]->as_int * f);
        else if (v[i]->value_case == NUM_DOUBLE)
            v[i]->as_double *= f;
    }
}

static void scale_histograms(HistDP **v, size_t n, double f)
{
    for (size_t i = 0; i < n; i++) {
        HistDP *p = v[i];
        if (p->_sum_case == HIST_SUM)
            p->sum *= f;
        if (p->_min_case == HIST_MIN)
            p->min *= f;
        if (p->_max_case == HIST_MAX)
            p->max *= f;
        for (size_t b = 0; b < p->n_explicit_bounds; b++)
            p->explicit_bounds[b] *= f;
        for (size_t e = 0; e < p->n_exemplars; e++) {
            Exemplar *x = p->exemplars[e];
            if (x->value_case == EX_INT)
                x->as_int = go_int64((double)x->as_int * f);
            else if (x->value_case == EX_DOUBLE)
                x->as_double *= f;
        }
    }
}

/* Multiplies every value of a gauge, sum, histogram (sum, min, max, bounds and exemplars) or
 * summary (sum and quantile values) by the factor, then sets the unit when one is given. The
 * number points' exemplars stay as they are, as in the Collector. */
int ottl_fn_scale_metric(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    char *unit;
    int rc = want_metric(ev, &m, &a);
    if (rc == 0)
        rc = opt_string(ev, a, call, 1, &unit);
    if (rc != 0)
        return rc;
    double f = call->call.args[0]->lit.d;
    switch (m->data_case) {
    case DATA(GAUGE):
        if (m->gauge != NULL)
            scale_numbers(m->gauge->data_points, m->gauge->n_data_points, f);
        break;
    case DATA(SUM):
        if (m->sum != NULL)
            scale_numbers(m->sum->data_points, m->sum->n_data_points, f);
        break;
    case DATA(HISTOGRAM):
        if (m->histogram != NULL)
            scale_histograms(m->histogram->data_points, m->histogram->n_data_points, f);
        break;
    case DATA(SUMMARY):
        for (size_t i = 0; m->summary != NULL && i < m->summary->n_data_points; i++) {
            SummaryDP *p = m->summary->data_points[i];
            p->sum *= f;
            for (size_t q = 0; q < p->n_quantile_values; q++)
                p->quantile_values[q]->value *= f;
        }
        break;
    case DATA(EXPONENTIAL_HISTOGRAM):
        return kt_err_set(ev->err, KT_EINVAL,
                          "exponential histograms are not supported by the 'scale_metric' "
                          "function");
    default: return kt_err_set(ev->err, KT_EINVAL, "unsupported metric type: 'Empty'");
    }
    if (unit != NULL)
        m->unit = unit;
    return 0;
}

/* ---- aggregate_on_attributes ---- */

static bool any_eq(const ottl_any *x, const ottl_any *y, int depth);

static const ottl_kv *map_get(ottl_kv *const *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key != NULL ? kv[i]->key : "", key) == 0)
            return kv[i];
    return NULL;
}

static bool attrs_eq(ottl_kv *const *a, size_t na, ottl_kv *const *b, size_t nb, int depth)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        const ottl_kv *bk = map_get(b, nb, a[i]->key != NULL ? a[i]->key : "");
        if (bk == NULL || !any_eq(a[i]->value, bk->value, depth))
            return false;
    }
    return true;
}

/* Whether two attribute values group together: the Collector groups by the JSON of the
 * attributes, so an int and a double of the same number are one value, key order counts for
 * nothing and a missing value is null. */
static bool any_eq(const ottl_any *x, const ottl_any *y, int depth)
{
    struct ottl_value a, b;
    ottl_value_from_any(x, &a);
    ottl_value_from_any(y, &b);
    if (depth > OTTL_MAX_DEPTH)
        return false;
    if ((a.t == OTTL_INT || a.t == OTTL_DOUBLE) && (b.t == OTTL_INT || b.t == OTTL_DOUBLE)) {
        if (a.t == OTTL_INT && b.t == OTTL_INT)
            return a.i == b.i;
        double da = a.t == OTTL_INT ? (double)a.i : a.d, db = b.t == OTTL_INT ? (double)b.i : b.d;
        return da == db;
    }
    if (a.t != b.t)
        return false;
    switch (a.t) {
    case OTTL_NIL: return true;
    case OTTL_BOOL: return a.b == b.b;
    case OTTL_STR:
    case OTTL_BYTES: return a.s.n == b.s.n && (a.s.n == 0 || memcmp(a.s.p, b.s.p, a.s.n) == 0);
    case OTTL_MAP: return attrs_eq(*a.m.kv, *a.m.n, *b.m.kv, *b.m.n, depth + 1);
    case OTTL_ARRAY:
        if (a.arr->n_values != b.arr->n_values)
            return false;
        for (size_t i = 0; i < a.arr->n_values; i++)
            if (!any_eq(a.arr->values[i], b.arr->values[i], depth + 1))
                return false;
        return true;
    default: return false;
    }
}

/* What every data point type has, for grouping and filtering. */
struct point {
    ottl_kv ***attrs;
    size_t *n_attrs;
    uint64_t *start, time;
};

static struct point point_of(const Metric *m, size_t i)
{
    struct point p;
#define POINT_OF(dp)                                                                               \
    p = (struct point)                                                                             \
    {                                                                                              \
        &(dp)->attributes, &(dp)->n_attributes, &(dp)->start_time_unix_nano, (dp)->time_unix_nano  \
    }
    switch (m->data_case) {
    case DATA(GAUGE): POINT_OF(m->gauge->data_points[i]); break;
    case DATA(SUM): POINT_OF(m->sum->data_points[i]); break;
    case DATA(HISTOGRAM): POINT_OF(m->histogram->data_points[i]); break;
    default: POINT_OF(m->exponential_histogram->data_points[i]); break;
    }
#undef POINT_OF
    return p;
}

/* Whether points i and j of m fall in one group: same attributes and time, the same start
 * for delta temporality, and for histograms the same bounds (scale), min and max presence and
 * flags. */
static bool same_group(const Metric *m, size_t i, size_t j)
{
    struct point a = point_of(m, i), b = point_of(m, j);
    if (a.time != b.time || !attrs_eq(*a.attrs, *a.n_attrs, *b.attrs, *b.n_attrs, 0))
        return false;
    switch (m->data_case) {
    case DATA(SUM): return m->sum->aggregation_temporality != TEMP(DELTA) || *a.start == *b.start;
    case DATA(HISTOGRAM): {
        const HistDP *x = m->histogram->data_points[i], *y = m->histogram->data_points[j];
        if (m->histogram->aggregation_temporality == TEMP(DELTA) && *a.start != *b.start)
            return false;
        if (x->n_explicit_bounds != y->n_explicit_bounds || x->_min_case != y->_min_case ||
            x->_max_case != y->_max_case || x->flags != y->flags)
            return false;
        for (size_t k = 0; k < x->n_explicit_bounds; k++)
            if (x->explicit_bounds[k] != y->explicit_bounds[k])
                return false;
        return true;
    }
    case DATA(EXPONENTIAL_HISTOGRAM): {
        const ExpDP *x = m->exponential_histogram->data_points[i],
                    *y = m->exponential_histogram->data_points[j];
        if (m->exponential_histogram->aggregation_temporality == TEMP(DELTA) &&
            *a.start != *b.start)
            return false;
        return x->scale == y->scale && x->_min_case == y->_min_case &&
               x->_max_case == y->_max_case && x->flags == y->flags;
    }
    default: return true;
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    /* Go's sort.Float64s puts NaN first. */
    if (isnan(a) || isnan(b))
        return isnan(b) - isnan(a);
    return (a > b) - (a < b);
}

static int cmp_int(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Go's math.Max and math.Min: an infinity wins over NaN, NaN over numbers (C's fmax and fmin
 * drop a NaN), and -0 is below +0. */
static double go_max(double x, double y)
{
    if (isinf(x) && x > 0)
        return x;
    if (isinf(y) && y > 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

static double go_min(double x, double y)
{
    if (isinf(x) && x < 0)
        return x;
    if (isinf(y) && y < 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

static double num_double(const NumberDP *p)
{
    return p->value_case == NUM_DOUBLE ? p->as_double
           : p->value_case == NUM_INT  ? (double)p->as_int
                                       : 0;
}

static int64_t num_int(const NumberDP *p)
{
    return p->value_case == NUM_INT      ? p->as_int
           : p->value_case == NUM_DOUBLE ? go_int64(p->as_double)
                                         : 0;
}

/* Merges v[g[0..n)] into v[g[0]] with the Collector's arithmetic: its value type decides;
 * an int sum or mean adds the others' int values (a double's is 0 there), int min, max and
 * median truncate doubles; count writes the group's size only when it has more than one
 * point; the start is the earliest. scratch holds n values. */
static void merge_numbers(NumberDP **v, const size_t *g, size_t n, enum agg agg, void *scratch)
{
    NumberDP *dp = v[g[0]];
    if (dp->value_case != NUM_DOUBLE && dp->value_case != NUM_INT)
        return;
    bool dbl = dp->value_case == NUM_DOUBLE;
    double *ds = scratch;
    int64_t *is = scratch;
    if (dbl)
        ds[0] = dp->as_double;
    else
        is[0] = dp->as_int;
    for (size_t k = 1; k < n; k++) {
        const NumberDP *o = v[g[k]];
        if (dbl) {
            double x = num_double(o);
            if (agg == AGG_SUM || agg == AGG_MEAN)
                dp->as_double += x;
            else if (agg == AGG_MAX)
                dp->as_double = go_max(dp->as_double, x);
            else if (agg == AGG_MIN)
                dp->as_double = go_min(dp->as_double, x);
            else if (agg == AGG_COUNT)
                dp->as_double = (double)n;
            ds[k] = x;
        } else {
            int64_t x = num_int(o);
            /* Go's int64 addition wraps. */
            if (agg == AGG_SUM || agg == AGG_MEAN)
                dp->as_int = (int64_t)((uint64_t)dp->as_int +
                                       (uint64_t)(o->value_case == NUM_INT ? o->as_int : 0));
            else if (agg == AGG_MAX && dp->as_int < x)
                dp->as_int = x;
            else if (agg == AGG_MIN && dp->as_int > x)
                dp->as_int = x;
            else if (agg == AGG_COUNT)
                dp->as_int = (int64_t)n;
            is[k] = x;
        }
        if (o->start_time_unix_nano < dp->start_time_unix_nano)
            dp->start_time_unix_nano = o->start_time_unix_nano;
    }
    if (agg == AGG_MEAN) {
        if (dbl)
            dp->as_double /= (double)n;
        else
            dp->as_int /= (int64_t)n;
    }
    if (agg != AGG_MEDIAN || n == 1)
        return;
    size_t mid = n / 2;
    if (dbl) {
        qsort(ds, n, sizeof(*ds), cmp_double);
        dp->as_double = n % 2 ? ds[mid] : (ds[mid - 1] + ds[mid]) / 2;
    } else {
        qsort(is, n, sizeof(*is), cmp_int);
        dp->as_int = n % 2 ? is[mid] : (int64_t)((uint64_t)is[mid - 1] + (uint64_t)is[mid]) / 2;
    }
}

/* The exemplars of o appended to dp's. */
static int move_exemplars(struct kt_arena *a, Exemplar ***dv, size_t *dn, Exemplar **ov, size_t on)
{
    if (on == 0)
        return 0;
    Exemplar **v = kt_arena_alloc(a, (*dn + on) * sizeof(*v));
    if (v == NULL)
        return KT_ENOMEM;
    if (*dn > 0)
        memcpy(v, *dv, *dn * sizeof(*v));
    memcpy(v + *dn, ov, on * sizeof(*v));
    *dv = v;
    *dn += on;
    return 0;
}

/* What both histogram kinds merge alike, K their case prefix (HIST, EXP): counts add up, the
 * sum survives only while every point has one, min and max as the Collector compares them (a
 * missing one reads 0; grouping makes both have one or not), the earliest start. */
#define MERGE_STATS(dp, o, K)                                                                      \
    do {                                                                                           \
        (dp)->count += (o)->count;                                                                 \
        if ((dp)->_sum_case == K##_SUM && (o)->_sum_case == K##_SUM)                               \
            (dp)->sum += (o)->sum;                                                                 \
        else                                                                                       \
            (dp)->_sum_case = K##_NO_SUM;                                                          \
        double omin_ = (o)->_min_case == K##_MIN ? (o)->min : 0;                                   \
        double omax_ = (o)->_max_case == K##_MAX ? (o)->max : 0;                                   \
        if ((dp)->_min_case == K##_MIN && (dp)->min > omin_)                                       \
            (dp)->min = omin_;                                                                     \
        if ((dp)->_max_case == K##_MAX && (dp)->max < omax_)                                       \
            (dp)->max = omax_;                                                                     \
        if ((o)->start_time_unix_nano < (dp)->start_time_unix_nano)                                \
            (dp)->start_time_unix_nano = (o)->start_time_unix_nano;                                \
    } while (0)

/* Histogram points merge whatever the function: MERGE_STATS, bucket counts and exemplars
 * add up; points of count 0 are skipped. */
static int merge_histograms(struct kt_arena *a, HistDP **v, const size_t *g, size_t n)
{
    HistDP *dp = v[g[0]];
    for (size_t k = 1; k < n; k++) {
        const HistDP *o = v[g[k]];
        if (o->count == 0)
            continue;
        MERGE_STATS(dp, o, HIST);
        for (size_t b = 0; b < o->n_bucket_counts && b < dp->n_bucket_counts; b++)
            dp->bucket_counts[b] += o->bucket_counts[b];
        if (move_exemplars(a, &dp->exemplars, &dp->n_exemplars, o->exemplars, o->n_exemplars) != 0)
            return KT_ENOMEM;
    }
    return 0;
}

/* Bucket counts in a growable arena array. */
struct counts {
    uint64_t *v;
    size_t n, cap;
};

static int counts_grow(struct kt_arena *a, struct counts *c, size_t n)
{
    if (n <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : 8;
    while (cap < n)
        cap *= 2;
    uint64_t *v = kt_arena_alloc(a, cap * sizeof(*v));
    if (v == NULL)
        return KT_ENOMEM;
    if (c->n > 0)
        memcpy(v, c->v, c->n * sizeof(*v));
    c->v = v;
    c->cap = cap;
    return 0;
}

/* The Collector's merge of src (offset so) into tgt (offset to), its quirks kept: a source
 * below the target has its nonzero counts put in front, whatever the gap. */
static int merge_buckets(struct kt_arena *a, struct counts *t, const uint64_t *s, size_t sn,
                         int32_t to, int32_t so)
{
    if (to == so) {
        if (counts_grow(a, t, sn) != 0)
            return KT_ENOMEM;
        for (size_t b = 0; b < sn; b++) {
            if (b < t->n)
                t->v[b] += s[b];
            else
                t->v[t->n++] = s[b];
        }
        return 0;
    }
    if (so < to) {
        size_t nz = 0;
        for (size_t b = 0; b < sn; b++)
            nz += s[b] > 0;
        if (counts_grow(a, t, t->n + nz) != 0)
            return KT_ENOMEM;
        memmove(t->v + nz, t->v, t->n * sizeof(*t->v));
        size_t j = 0;
        for (size_t b = 0; b < sn; b++)
            if (s[b] > 0)
                t->v[j++] = s[b];
        t->n += nz;
        return 0;
    }
    size_t shift = (size_t)((int64_t)so - (int64_t)to);
    for (size_t b = 0; b < sn; b++) {
        if (s[b] == 0)
            continue;
        size_t idx = b + shift;
        if (counts_grow(a, t, idx + 1) != 0)
            return KT_ENOMEM;
        while (t->n <= idx)
            t->v[t->n++] = 0;
        t->v[idx] += s[b];
    }
    return 0;
}

/* One side (positive or negative) of o merged into dp's. */
static int merge_side(struct kt_arena *a, ExpBuckets **dside, const ExpBuckets *oside)
{
    static const ExpBuckets none =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    const ExpBuckets *ob = oside != NULL ? oside : &none;
    if (*dside == NULL && (*dside = obj_new(a, &none, sizeof(none))) == NULL)
        return KT_ENOMEM;
    ExpBuckets *db = *dside;
    struct counts c = {db->bucket_counts, db->n_bucket_counts, db->n_bucket_counts};
    bool moved = db->offset != ob->offset;
    if (merge_buckets(a, &c, ob->bucket_counts, ob->n_bucket_counts, db->offset, ob->offset) != 0)
        return KT_ENOMEM;
    if (moved && ob->n_bucket_counts != 0) {
        db->offset = db->offset < ob->offset ? db->offset : ob->offset;
        /* Leading empty buckets go, the offset staying as set: the Collector's trim. */
        size_t z = 0;
        while (z < c.n && c.v[z] == 0)
            z++;
        c.v += z;
        c.n -= z;
    }
    db->bucket_counts = c.v;
    db->n_bucket_counts = c.n;
    return 0;
}

static int merge_exp_histograms(struct kt_arena *a, ExpDP **v, const size_t *g, size_t n)
{
    ExpDP *dp = v[g[0]];
    for (size_t k = 1; k < n; k++) {
        const ExpDP *o = v[g[k]];
        if (o->count == 0)
            continue;
        MERGE_STATS(dp, o, EXP);
        dp->zero_count += o->zero_count;
        if (merge_side(a, &dp->negative, o->negative) != 0 ||
            merge_side(a, &dp->positive, o->positive) != 0 ||
            move_exemplars(a, &dp->exemplars, &dp->n_exemplars, o->exemplars, o->n_exemplars) != 0)
            return KT_ENOMEM;
    }
    return 0;
}

static bool keep_listed(const ottl_kv *kv, void *arg)
{
    const struct ottl_node *keys = arg;
    const char *k = kv->key != NULL ? kv->key : "";
    for (size_t i = 0; i < keys->list.n; i++)
        if (ottl_key_eq(k, keys->list.items[i]->lit.s.p, keys->list.items[i]->lit.s.n))
            return true;
    return false;
}

/* The data point array of a gauge, sum or (exponential) histogram; false for the rest. */
static bool points(Metric *m, void ***v, size_t **n)
{
#define POINTS(x)                                                                                  \
    if (m->x == NULL)                                                                              \
        return false;                                                                              \
    *v = (void **)m->x->data_points;                                                               \
    *n = &m->x->n_data_points;                                                                     \
    return true
    switch (m->data_case) {
    case DATA(GAUGE): POINTS(gauge);
    case DATA(SUM): POINTS(sum);
    case DATA(HISTOGRAM): POINTS(histogram);
    case DATA(EXPONENTIAL_HISTOGRAM): POINTS(exponential_histogram);
    default: return false;
    }
#undef POINTS
}

/* Merges the points of m that fall in one group (same_group) into the group's first one,
 * with the function for numbers (histograms always add up). The groups stay in the order of
 * their first points; the Collector's order is its map's, which varies from run to run. The
 * metric's metadata goes, as the Collector rebuilds the metric without it; so do a summary's
 * points, which it does not group. */
static int aggregate(struct ottl_eval *ev, struct kt_arena *a, Metric *m, enum agg agg)
{
    m->n_metadata = 0;
    if (m->data_case == DATA(SUMMARY) && m->summary != NULL)
        m->summary->n_data_points = 0;
    void **v;
    size_t *n;
    if (!points(m, &v, &n) || *n == 0)
        return 0;
    /* group[i]: the first point of i's group; members: one group's indexes. Each point is
     * compared with the groups found before it: points x groups comparisons, few when the
     * function is used to cut a metric's series down to a handful. */
    size_t *group = kt_arena_alloc(a, *n * sizeof(*group));
    size_t *members = kt_arena_alloc(a, *n * sizeof(*members));
    void *scratch = kt_arena_alloc(a, *n * sizeof(double));
    if (group == NULL || members == NULL || scratch == NULL)
        return oom(ev);
    for (size_t i = 0; i < *n; i++) {
        group[i] = i;
        for (size_t h = 0; h < i; h++) {
            if (group[h] == h && same_group(m, h, i)) {
                group[i] = h;
                break;
            }
        }
    }
    size_t heads = 0;
    for (size_t h = 0; h < *n; h++) {
        if (group[h] != h)
            continue;
        size_t nm = 0;
        for (size_t i = h; i < *n; i++)
            if (group[i] == h)
                members[nm++] = i;
        int rc = 0;
        if (m->data_case == DATA(HISTOGRAM))
            rc = merge_histograms(a, (HistDP **)v, members, nm);
        else if (m->data_case == DATA(EXPONENTIAL_HISTOGRAM))
            rc = merge_exp_histograms(a, (ExpDP **)v, members, nm);
        else
            merge_numbers((NumberDP **)v, members, nm, agg, scratch);
        if (rc != 0)
            return oom(ev);
        /* heads <= h, and later groups read only points after h */
        v[heads++] = v[h];
    }
    *n = heads;
    return 0;
}

/* Keeps only the attributes listed (all of them when no list is given, none for []), then
 * aggregates. */
int ottl_fn_aggregate_on_attributes(struct ottl_eval *ev, const struct ottl_node *call,
                                    struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0)
        return rc;
    if (m->data_case == DATA(SUMMARY))
        return kt_err_set(ev->err, KT_EINVAL,
                          "aggregate_on_attributes does not support aggregating Summary metrics");
    void **v;
    size_t *n;
    const struct ottl_node *keys = call->call.n_args > 1 ? call->call.args[1] : NULL;
    for (size_t i = 0; keys != NULL && points(m, &v, &n) && i < *n; i++) {
        struct point p = point_of(m, i);
        struct ottl_map map = {p.attrs, p.n_attrs};
        ottl_map_filter(&map, keep_listed, (void *)keys);
    }
    return aggregate(ev, a, m, (enum agg)agg_of(call->call.args[0]->lit.s.p));
}

/* The attribute's value becomes new_value where it is one of values (compared as the
 * Collector's Str(), which is "" for a value of another type), then aggregates; a summary
 * loses its points, as in the Collector. */
int ottl_fn_aggregate_on_attribute_value(struct ottl_eval *ev, const struct ottl_node *call,
                                         struct ottl_value *out)
{
    (void)out;
    Metric *m;
    struct kt_arena *a;
    int rc = want_metric(ev, &m, &a);
    if (rc != 0)
        return rc;
    const char *key = call->call.args[1]->lit.s.p;
    const struct ottl_node *values = call->call.args[2];
    const struct ottl_node *nv = call->call.args[3];
    char *new_value = NULL;
    void **v;
    size_t *n;
    size_t count = points(m, &v, &n) ? *n : 0;
    if (m->data_case == DATA(SUMMARY) && m->summary != NULL)
        count = 0; /* its points go anyway */
    for (size_t i = 0; i < count; i++) {
        struct point p = point_of(m, i);
        struct ottl_map map = {p.attrs, p.n_attrs};
        ottl_kv *kv = ottl_map_find(&map, key, strlen(key));
        if (kv == NULL)
            continue;
        for (size_t j = 0; j < values->list.n; j++) {
            struct ottl_value cur;
            ottl_value_from_any(kv->value, &cur);
            const char *s = cur.t == OTTL_STR ? cur.s.p : "";
            size_t sn = cur.t == OTTL_STR ? cur.s.n : 0;
            const struct ottl_value *want = &values->list.items[j]->lit;
            if (sn != want->s.n || (sn > 0 && memcmp(s, want->s.p, sn) != 0))
                continue;
            if (new_value == NULL &&
                (new_value = kt_arena_strndup(a, nv->lit.s.p, nv->lit.s.n)) == NULL)
                return oom(ev);
            if (kv->value == NULL &&
                (kv->value = NEW(a, ottl_any, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT)) ==
                    NULL)
                return oom(ev);
            kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            kv->value->string_value = new_value;
        }
    }
    return aggregate(ev, a, m, (enum agg)agg_of(call->call.args[0]->lit.s.p));
}
