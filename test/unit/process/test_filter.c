/* filter: dropping at each level, removal of emptied containers, counts, error modes, and
 * configuration errors. Data is built in an arena as the pipeline's decoder would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/filter.h"
#include "../../../process/trace_decode.h"
#include "pb_build.h"

static void attr(KeyValue ***arr, size_t *n, const char *k, const char *v)
{
    KeyValue *kv = NEW(KeyValue, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT);
    kv->key = (char *)k;
    kv->value = NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    kv->value->string_value = (char *)v;
    PUSH(*arr, *n, kv);
}

static ResourceSpans *add_rs(TracesData *td, const char *service)
{
    ResourceSpans *rs = NEW(ResourceSpans, OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT);
    if (service != NULL) {
        rs->resource = NEW(Resource, OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT);
        attr(&rs->resource->attributes, &rs->resource->n_attributes, "service.name", service);
    }
    PUSH(td->resource_spans, td->n_resource_spans, rs);
    ScopeSpans *ss = NEW(ScopeSpans, OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT);
    PUSH(rs->scope_spans, rs->n_scope_spans, ss);
    return rs;
}

static Span *add_span(ResourceSpans *rs, const char *name, int n_events)
{
    ScopeSpans *ss = rs->scope_spans[0];
    Span *s = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
    s->name = (char *)name;
    for (int i = 0; i < n_events; i++) {
        SpanEvent *e = NEW(SpanEvent, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT);
        e->name = i % 2 ? "noise" : "exception";
        PUSH(s->events, s->n_events, e);
    }
    PUSH(ss->spans, ss->n_spans, s);
    return s;
}

struct fx {
    struct process_conf conf;
    struct filter *f;
};

static int setup(void **state)
{
    kt_arena_init(&A, NULL, 0);
    static struct fx fx;
    memset(&fx, 0, sizeof(fx));
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    filter_free(fx->f);
    kt_strlist_free(&fx->conf.filter.trace_conditions);
    kt_strlist_free(&fx->conf.filter.metric_conditions);
    kt_strlist_free(&fx->conf.filter.log_conditions);
    kt_arena_free(&A);
    return 0;
}

static struct filter *make(struct fx *fx, int mode, const char *const *trace,
                           const char *const *metric, const char *const *log)
{
    fx->conf.filter.error_mode = mode;
    for (; trace && *trace; trace++)
        kt_strlist_push(&fx->conf.filter.trace_conditions, *trace);
    for (; metric && *metric; metric++)
        kt_strlist_push(&fx->conf.filter.metric_conditions, *metric);
    for (; log && *log; log++)
        kt_strlist_push(&fx->conf.filter.log_conditions, *log);
    struct kt_err err = {0};
    if (filter_new(&fx->conf, &fx->f, &err) != 0)
        fail_msg("filter_new: %s", err.msg);
    return fx->f;
}

static void test_traces_levels(void **state)
{
    const char *conds[] = {"resource.attributes[\"service.name\"] == \"noisy\"",
                           "span.name == \"health\"", "spanevent.name == \"noise\"", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, conds, NULL, NULL);
    assert_true(filter_active(f, KT_SIGNAL_TRACES));
    assert_false(filter_active(f, KT_SIGNAL_METRICS));
    assert_false(filter_active(f, KT_SIGNAL_LOGS));
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *noisy = add_rs(&td, "noisy");
    add_span(noisy, "a", 0);
    add_span(noisy, "b", 0);
    ResourceSpans *keep = add_rs(&td, "shop");
    add_span(keep, "health", 0);
    Span *s = add_span(keep, "checkout", 4);
    add_span(keep, "health", 0);
    ResourceSpans *gone = add_rs(&td, NULL); /* no resource: its only span is dropped */
    add_span(gone, "health", 0);
    size_t dropped = 99;
    struct kt_err err = {0};
    assert_int_equal(filter_traces(f, &td, &A, &dropped, &err), 0);
    assert_int_equal(dropped, 5);
    assert_int_equal(td.n_resource_spans, 1);
    assert_ptr_equal(td.resource_spans[0], keep);
    assert_int_equal(keep->scope_spans[0]->n_spans, 1);
    assert_ptr_equal(keep->scope_spans[0]->spans[0], s);
    assert_int_equal(s->n_events, 2);
    assert_string_equal(s->events[0]->name, "exception");
    assert_string_equal(s->events[1]->name, "exception");
}

static void test_traces_scope_and_root(void **state)
{
    const char *conds[] = {"scope.name == \"drop.me\"", "IsRootSpan() and span.kind == 0", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, conds, NULL, NULL);
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "svc");
    rs->scope_spans[0]->scope = NEW(Opentelemetry__Proto__Common__V1__InstrumentationScope,
                                    OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT);
    rs->scope_spans[0]->scope->name = "drop.me";
    add_span(rs, "x", 0);
    ScopeSpans *ss2 = NEW(ScopeSpans, OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT);
    PUSH(rs->scope_spans, rs->n_scope_spans, ss2);
    Span *child = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
    uint8_t parent[8] = {1};
    child->parent_span_id.data = parent;
    child->parent_span_id.len = 8;
    Span *root = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
    PUSH(ss2->spans, ss2->n_spans, child);
    PUSH(ss2->spans, ss2->n_spans, root);
    size_t dropped;
    struct kt_err err = {0};
    assert_int_equal(filter_traces(f, &td, &A, &dropped, &err), 0);
    assert_int_equal(dropped, 2);
    assert_int_equal(rs->n_scope_spans, 1);
    assert_ptr_equal(rs->scope_spans[0], ss2);
    assert_int_equal(ss2->n_spans, 1);
    assert_ptr_equal(ss2->spans[0], child);
}

static void test_error_modes(void **state)
{
    struct fx *fx = *state;
    const char *conds[] = {"Len(span.kind) > 1", "span.name == \"b\"", NULL};
    struct filter *f = make(fx, OTTL_ERR_PROPAGATE, conds, NULL, NULL);
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "svc");
    add_span(rs, "a", 0);
    add_span(rs, "b", 0);
    size_t dropped;
    struct kt_err err = {0};
    assert_int_equal(filter_traces(f, &td, &A, &dropped, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[filter] trace_conditions: 'Len(span.kind) > 1': Len: want a "
                                 "string, map or list, got int");
    assert_int_equal(filter_errors(f, KT_SIGNAL_TRACES), 1);
    filter_free(f);
    fx->f = NULL;
    kt_strlist_free(&fx->conf.filter.trace_conditions);
    for (int mode = OTTL_ERR_IGNORE; mode <= OTTL_ERR_SILENT; mode++) {
        f = make(fx, mode, conds, NULL, NULL);
        memset(&err, 0, sizeof(err));
        assert_int_equal(filter_traces(f, &td, &A, &dropped, &err), 0);
        assert_int_equal(dropped, mode == OTTL_ERR_IGNORE ? 1 : 0);
        assert_int_equal(rs->scope_spans[0]->n_spans, 1);
        assert_string_equal(rs->scope_spans[0]->spans[0]->name, "a");
        /* Counted whatever the mode: once per span evaluated (b is gone after ignore). */
        assert_int_equal(filter_errors(f, KT_SIGNAL_TRACES), mode == OTTL_ERR_IGNORE ? 2 : 1);
        assert_int_equal(filter_errors(f, KT_SIGNAL_LOGS), 0);
        filter_free(f);
        fx->f = NULL;
        kt_strlist_free(&fx->conf.filter.trace_conditions);
    }
}

static void add_point(Sum *sum, double v, const char *route)
{
    NumberDataPoint *p =
        NEW(NumberDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
    attr(&p->attributes, &p->n_attributes, "route", route);
    PUSH(sum->data_points, sum->n_data_points, p);
}

static Metric *add_metric(ScopeMetrics *sm, const char *name)
{
    Metric *m = NEW(Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
    m->name = (char *)name;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m->sum = NEW(Sum, OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT);
    PUSH(sm->metrics, sm->n_metrics, m);
    return m;
}

static void test_metrics(void **state)
{
    const char *conds[] = {
        "metric.name == \"drop\"", "datapoint.attributes[\"route\"] == \"/health\"",
        "metric.type == METRIC_DATA_TYPE_SUM and datapoint.value_double < 0", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, NULL, conds, NULL);
    assert_true(filter_active(f, KT_SIGNAL_METRICS));
    MetricsData md = OPENTELEMETRY__PROTO__METRICS__V1__METRICS_DATA__INIT;
    ResourceMetrics *rm =
        NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
    PUSH(md.resource_metrics, md.n_resource_metrics, rm);
    ScopeMetrics *sm = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
    PUSH(rm->scope_metrics, rm->n_scope_metrics, sm);
    Metric *drop = add_metric(sm, "drop");
    add_point(drop->sum, 1, "/a");
    add_point(drop->sum, 2, "/b");
    Metric *partly = add_metric(sm, "partly");
    add_point(partly->sum, 1, "/a");
    add_point(partly->sum, 1, "/health");
    add_point(partly->sum, -1, "/b");
    Metric *emptied = add_metric(sm, "emptied");
    add_point(emptied->sum, 5, "/health");
    ResourceMetrics *rm2 =
        NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
    PUSH(md.resource_metrics, md.n_resource_metrics, rm2);
    ScopeMetrics *sm2 = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
    PUSH(rm2->scope_metrics, rm2->n_scope_metrics, sm2);
    add_point(add_metric(sm2, "m")->sum, 1, "/health");
    size_t dropped;
    struct kt_err err = {0};
    assert_int_equal(filter_metrics(f, &md, &A, &dropped, &err), 0);
    assert_int_equal(dropped, 6);
    assert_int_equal(md.n_resource_metrics, 1);
    assert_int_equal(sm->n_metrics, 1);
    assert_ptr_equal(sm->metrics[0], partly);
    assert_int_equal(partly->sum->n_data_points, 1);
    assert_true(partly->sum->data_points[0]->as_double == 1);
}

static void test_logs(void **state)
{
    const char *conds[] = {"log.severity_number < SEVERITY_NUMBER_WARN",
                           "IsMatch(log.body, \"(?i)debug\")", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, NULL, NULL, conds);
    assert_true(filter_active(f, KT_SIGNAL_LOGS));
    ScopeLogs *sl;
    LogsData *ld = pb_logs(&sl);
    ResourceLogs *rl = ld->resource_logs[0];
    ScopeLogs *empty = NEW(ScopeLogs, OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT);
    PUSH(rl->scope_logs, rl->n_scope_logs, empty);
    int sev[] = {9, 17, 21, 17};
    const char *body[] = {"info", "error", "fatal", "DEBUG dump"};
    for (int i = 0; i < 4; i++)
        pb_add_log(sl, body[i])->severity_number = sev[i];
    size_t dropped;
    struct kt_err err = {0};
    assert_int_equal(filter_logs(f, ld, &A, &dropped, &err), 0);
    assert_int_equal(dropped, 2);
    assert_int_equal(rl->n_scope_logs, 1);
    assert_int_equal(sl->n_log_records, 2);
    assert_string_equal(sl->log_records[0]->body->string_value, "error");
    assert_string_equal(sl->log_records[1]->body->string_value, "fatal");
}

static void test_inactive_noop(void **state)
{
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, NULL, NULL, NULL);
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "svc");
    (void)rs; /* an empty scope stays when nothing is configured */
    size_t dropped = 7;
    struct kt_err err = {0};
    assert_int_equal(filter_traces(f, &td, &A, &dropped, &err), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(td.n_resource_spans, 1);
}

static void test_fields(void **state)
{
    const char *trace[] = {"resource.attributes[\"service.name\"] == \"noisy\"",
                           "scope.version == \"0\"", "IsRootSpan() and span.kind == 0",
                           "spanevent.name == \"noise\"", NULL};
    const char *metric[] = {"datapoint.value_double < 0", NULL};
    const char *log[] = {"log.severity_number < 9", "true", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, trace, metric, log);
    /* Each signal's conditions only, whatever context each one runs in. */
    assert_int_equal(filter_fields(f, KT_SIGNAL_TRACES),
                     OTTL_FIELD(OTTL_P_RESOURCE_ATTRS) | OTTL_FIELD(OTTL_P_SCOPE_VERSION) |
                         OTTL_FIELD(OTTL_P_SPAN_PARENT_ID) | OTTL_FIELD(OTTL_P_SPAN_KIND) |
                         OTTL_FIELD(OTTL_P_SPANEVENT_NAME));
    assert_int_equal(filter_fields(f, KT_SIGNAL_METRICS),
                     OTTL_FIELD(OTTL_P_DATAPOINT_VALUE_DOUBLE));
    assert_int_equal(filter_fields(f, KT_SIGNAL_LOGS), OTTL_FIELD(OTTL_P_LOG_SEVERITY_NUMBER));
}

static void test_fields_none(void **state)
{
    const char *trace[] = {"span.name == \"health\"", NULL};
    struct filter *f = make(*state, OTTL_ERR_PROPAGATE, trace, NULL, NULL);
    assert_int_equal(filter_fields(f, KT_SIGNAL_TRACES), OTTL_FIELD(OTTL_P_SPAN_NAME));
    assert_int_equal(filter_fields(f, KT_SIGNAL_METRICS), 0);
    assert_int_equal(filter_fields(f, KT_SIGNAL_LOGS), 0);
}

static void int_attr(KeyValue ***arr, size_t *n, const char *k, int64_t v)
{
    attr(arr, n, k, "");
    (*arr)[*n - 1]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    (*arr)[*n - 1]->value->int_value = v;
}

/* The names of td's spans, space-separated, in order. */
static void span_names(const TracesData *td, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++) {
            const ScopeSpans *ss = td->resource_spans[r]->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++)
                n += (size_t)snprintf(out + n, cap - n, "%s ", ss->spans[i]->name);
        }
}

/* Conditions that name span attributes by key drop the same spans whether the spans were
 * decoded with their attributes or keep them as bytes (trace_decode_span_attr). */
static void test_keyed_conditions_on_span_bytes(void **state)
{
    struct fx *fx = *state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "shop");
    Span *s = add_span(rs, "health", 0);
    attr(&s->attributes, &s->n_attributes, "http.route", "/healthz");
    s = add_span(rs, "dup-first", 0);
    attr(&s->attributes, &s->n_attributes, "http.route", "/api");
    attr(&s->attributes, &s->n_attributes, "http.route", "/healthz");
    s = add_span(rs, "big", 0);
    int_attr(&s->attributes, &s->n_attributes, "n", 9);
    s = add_span(rs, "small", 0);
    int_attr(&s->attributes, &s->n_attributes, "n", 2);
    attr(&s->attributes, &s->n_attributes, "http.route", "");
    s = add_span(rs, "string-n", 0);
    attr(&s->attributes, &s->n_attributes, "n", "9");
    add_span(rs, "bare", 0);
    s = add_span(rs, "no-value", 0);
    attr(&s->attributes, &s->n_attributes, "gone", "x");
    s->attributes[0]->value = NULL;
    size_t n = opentelemetry__proto__trace__v1__traces_data__get_packed_size(&td);
    uint8_t *buf = kt_arena_alloc(&A, n);
    opentelemetry__proto__trace__v1__traces_data__pack(&td, buf);
    struct kt_slice msg = {buf, n};

    const char *conds[] = {"span.attributes[\"http.route\"] == \"/healthz\"",
                           "span.attributes[\"n\"] > 5",
                           "span.attributes[\"gone\"] == nil and "
                           "span.name == \"no-value\"",
                           NULL};
    struct filter *f = make(fx, OTTL_ERR_IGNORE, conds, NULL, NULL);
    assert_true(filter_keyed_span_attrs(f, KT_SIGNAL_TRACES));
    ottl_fields need = (filter_fields(f, KT_SIGNAL_TRACES) & ~OTTL_FIELD(OTTL_P_SPAN_ATTRS)) |
                       OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED);
    assert_false(trace_decode_needs_full(need));
    char want[256], got[256];
    TracesData *full, *sh;
    size_t dropped_full = 0, dropped_sh = 0;
    struct kt_err err = {0};
    assert_int_equal(trace_decode(msg, TRACE_DECODE_ALL, &A, &full), 0);
    assert_int_equal(trace_decode(msg, need, &A, &sh), 0);
    assert_int_equal(filter_traces(f, full, &A, &dropped_full, &err), 0);
    assert_int_equal(filter_traces(f, sh, &A, &dropped_sh, &err), 0);
    span_names(full, want, sizeof(want));
    span_names(sh, got, sizeof(got));
    assert_string_equal(want, "dup-first small string-n bare ");
    assert_string_equal(got, want);
    assert_int_equal(dropped_sh, dropped_full);
}

static void test_keyed_span_attrs_only_with_literal_keys(void **state)
{
    const char *whole[] = {"span.attributes[\"a\"] == \"x\"", "Len(span.attributes) > 2", NULL};
    assert_false(filter_keyed_span_attrs(make(*state, OTTL_ERR_PROPAGATE, whole, NULL, NULL),
                                         KT_SIGNAL_TRACES));
}

static void test_config_errors(void **state)
{
    struct fx *fx = *state;
    struct kt_err err = {0};
    struct filter *f = (struct filter *)&err;
    kt_strlist_push(&fx->conf.filter.trace_conditions, "span.kind == 1");
    kt_strlist_push(&fx->conf.filter.trace_conditions, "span.name == ");
    assert_int_equal(filter_new(&fx->conf, &f, &err), KT_EINVAL);
    assert_null(f);
    assert_string_equal(err.msg, "[filter] trace_conditions: column 14: expected a value after "
                                 "'==', got end of input in 'span.name == '");
    kt_strlist_free(&fx->conf.filter.trace_conditions);
    kt_strlist_push(&fx->conf.filter.log_conditions, "span.name == \"x\"");
    assert_int_equal(filter_new(&fx->conf, &f, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[filter] log_conditions: 'span.name == \"x\"' uses span paths; "
                                 "log_conditions may use resource, scope and log paths");
    kt_strlist_free(&fx->conf.filter.log_conditions);
    kt_strlist_push(&fx->conf.filter.metric_conditions, "log.body == \"x\"");
    assert_int_equal(filter_new(&fx->conf, &f, &err), KT_EINVAL);
    assert_string_equal(err.msg,
                        "[filter] metric_conditions: 'log.body == \"x\"' uses log paths; "
                        "metric_conditions may use resource, scope, metric and datapoint paths");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_traces_levels),
        T(test_traces_scope_and_root),
        T(test_error_modes),
        T(test_metrics),
        T(test_logs),
        T(test_inactive_noop),
        T(test_fields),
        T(test_fields_none),
        T(test_config_errors),
        T(test_keyed_conditions_on_span_bytes),
        T(test_keyed_span_attrs_only_with_literal_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
