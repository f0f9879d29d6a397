/* transform: statements per context and in order, where clauses, created resources and
 * scopes, error modes, configuration errors, and a pack/unpack round trip of the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/transform.h"
#include "pb_build.h"

static const char *attr_str(KeyValue **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i]->value->value_case ==
                           OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
                       ? kv[i]->value->string_value
                       : "(not a string)";
    return NULL;
}

struct fx {
    struct process_conf conf;
    struct transform *t;
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
    transform_free(fx->t);
    kt_strlist_free(&fx->conf.transform.trace_statements);
    kt_strlist_free(&fx->conf.transform.metric_statements);
    kt_strlist_free(&fx->conf.transform.log_statements);
    kt_arena_free(&A);
    return 0;
}

static struct transform *make(struct fx *fx, int mode, struct kt_strlist *l,
                              const char *const *stmts)
{
    fx->conf.transform.error_mode = mode;
    for (; *stmts; stmts++)
        kt_strlist_push(l, *stmts);
    struct kt_err err = {0};
    if (transform_new(&fx->conf, &fx->t, &err) != 0)
        fail_msg("transform_new: %s", err.msg);
    return fx->t;
}

static TracesData *traces(void)
{
    TracesData *td = NEW(TracesData, OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT);
    for (int r = 0; r < 2; r++) {
        ResourceSpans *rs =
            NEW(ResourceSpans, OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT);
        PUSH(td->resource_spans, td->n_resource_spans, rs);
        ScopeSpans *ss = NEW(ScopeSpans, OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT);
        PUSH(rs->scope_spans, rs->n_scope_spans, ss);
        for (int i = 0; i < 2; i++) {
            Span *s = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
            s->name = i ? "GET /users/42" : "internal";
            s->kind = i ? 2 : 1;
            SpanEvent *e = NEW(SpanEvent, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT);
            e->name = "ev";
            PUSH(s->events, s->n_events, e);
            PUSH(ss->spans, ss->n_spans, s);
        }
    }
    return td;
}

static void test_traces(void **state)
{
    struct fx *fx = *state;
    const char *st[] = {
        "set(resource.attributes[\"env\"], \"prod\")",
        "set(span.attributes[\"svc\"], resource.attributes[\"env\"])",
        "replace_pattern(span.name, \"/[0-9]+\", \"/{id}\") where span.kind == SPAN_KIND_SERVER",
        "set(span.attributes[\"renamed\"], span.name)",
        "set(spanevent.attributes[\"of\"], span.name)",
        "set(scope.name, \"tagged\")",
        NULL,
    };
    struct transform *t = make(fx, OTTL_ERR_PROPAGATE, &fx->conf.transform.trace_statements, st);
    assert_true(transform_active(t, KT_SIGNAL_TRACES));
    assert_false(transform_active(t, KT_SIGNAL_LOGS));
    TracesData *td = traces();
    struct kt_err err = {0};
    assert_int_equal(transform_traces(t, td, &A, &err), 0);
    for (size_t r = 0; r < 2; r++) {
        ResourceSpans *rs = td->resource_spans[r];
        assert_non_null(rs->resource); /* created for the statement */
        assert_string_equal(attr_str(rs->resource->attributes, rs->resource->n_attributes, "env"),
                            "prod");
        assert_string_equal(rs->scope_spans[0]->scope->name, "tagged");
        Span *internal = rs->scope_spans[0]->spans[0], *server = rs->scope_spans[0]->spans[1];
        assert_string_equal(internal->name, "internal");
        assert_string_equal(server->name, "GET /users/{id}");
        assert_string_equal(attr_str(server->attributes, server->n_attributes, "svc"), "prod");
        /* statements run in order: the rename saw the rewritten name */
        assert_string_equal(attr_str(server->attributes, server->n_attributes, "renamed"),
                            "GET /users/{id}");
        SpanEvent *e = server->events[0];
        assert_string_equal(attr_str(e->attributes, e->n_attributes, "of"), "GET /users/{id}");
    }
    /* The result packs and unpacks like any TracesData. */
    size_t len = opentelemetry__proto__trace__v1__traces_data__get_packed_size(td);
    uint8_t *buf = malloc(len);
    opentelemetry__proto__trace__v1__traces_data__pack(td, buf);
    TracesData *back = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->resource_spans[1]->scope_spans[0]->spans[1]->name, "GET /users/{id}");
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(back, NULL);
    free(buf);
}

static void test_metrics(void **state)
{
    struct fx *fx = *state;
    const char *st[] = {
        "set(metric.description, \"desc\") where metric.name == \"m\"",
        "set(datapoint.attributes[\"unit\"], metric.unit)",
        "set(datapoint.value_double, 0.0) where datapoint.value_double < 0",
        NULL,
    };
    struct transform *t = make(fx, OTTL_ERR_PROPAGATE, &fx->conf.transform.metric_statements, st);
    MetricsData md = OPENTELEMETRY__PROTO__METRICS__V1__METRICS_DATA__INIT;
    ResourceMetrics *rm =
        NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
    PUSH(md.resource_metrics, md.n_resource_metrics, rm);
    ScopeMetrics *sm = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
    PUSH(rm->scope_metrics, rm->n_scope_metrics, sm);
    Metric *m = NEW(Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
    m->name = "m";
    m->unit = "ms";
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m->gauge = NEW(Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
    PUSH(sm->metrics, sm->n_metrics, m);
    double vals[] = {-2, 3};
    for (int i = 0; i < 2; i++) {
        NumberDataPoint *p =
            NEW(NumberDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        p->as_double = vals[i];
        PUSH(m->gauge->data_points, m->gauge->n_data_points, p);
    }
    struct kt_err err = {0};
    assert_int_equal(transform_metrics(t, &md, &A, &err), 0);
    assert_string_equal(m->description, "desc");
    NumberDataPoint **p = m->gauge->data_points;
    assert_true(p[0]->as_double == 0.0);
    assert_true(p[1]->as_double == 3.0);
    assert_string_equal(attr_str(p[1]->attributes, p[1]->n_attributes, "unit"), "ms");
}

static LogsData *logs(void)
{
    ScopeLogs *sl;
    LogsData *ld = pb_logs(&sl);
    pb_add_log(sl, "password=hunter2 user=bob");
    pb_add_log(sl, "ok");
    return ld;
}

static void test_logs_and_error_modes(void **state)
{
    struct fx *fx = *state;
    const char *st[] = {
        "replace_pattern(log.body, \"password=[^ ]*\", \"password=***\")",
        "set(log.severity_number, Len(log.attributes))", /* fine: 0 */
        "set(log.severity_text, Len(log.body))",         /* type error: int into a string */
        "set(log.attributes[\"seen\"], true)",
        NULL,
    };
    struct transform *t = make(fx, OTTL_ERR_IGNORE, &fx->conf.transform.log_statements, st);
    LogsData *ld = logs();
    struct kt_err err = {0};
    assert_int_equal(transform_logs(t, ld, &A, &err), 0);
    LogRecord **r = ld->resource_logs[0]->scope_logs[0]->log_records;
    assert_string_equal(r[0]->body->string_value, "password=*** user=bob");
    assert_string_equal(r[1]->body->string_value, "ok");
    assert_int_equal(r[0]->n_attributes, 1);                  /* later statements still ran */
    assert_int_equal(transform_errors(t, KT_SIGNAL_LOGS), 2); /* once per record */
    assert_int_equal(transform_errors(t, KT_SIGNAL_TRACES), 0);
    transform_free(t);
    fx->t = NULL;

    fx->conf.transform.error_mode = OTTL_ERR_PROPAGATE;
    assert_int_equal(transform_new(&fx->conf, &fx->t, &err), 0);
    ld = logs();
    assert_int_equal(transform_logs(fx->t, ld, &A, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[transform] log_statements: 'set(log.severity_text, "
                                 "Len(log.body))': set log.severity_text: want a string, got int");
    assert_int_equal(transform_errors(fx->t, KT_SIGNAL_LOGS), 1);
    transform_free(fx->t);
    fx->t = NULL;

    fx->conf.transform.error_mode = OTTL_ERR_SILENT;
    assert_int_equal(transform_new(&fx->conf, &fx->t, &err), 0);
    ld = logs();
    assert_int_equal(transform_logs(fx->t, ld, &A, &err), 0);
    assert_int_equal(transform_errors(fx->t, KT_SIGNAL_LOGS), 2);
}

static void test_fields(void **state)
{
    struct fx *fx = *state;
    const char *trace[] = {
        "set(span.attributes[\"svc\"], resource.attributes[\"env\"])",
        "replace_pattern(span.name, \"/[0-9]+\", \"/{id}\") where span.kind == SPAN_KIND_SERVER",
        "set(scope.name, \"tagged\") where IsRootSpan()",
        NULL,
    };
    const char *log[] = {"set(log.severity_text, \"WARN\") where log.severity_number == 13", NULL};
    for (size_t i = 0; trace[i] != NULL; i++)
        kt_strlist_push(&fx->conf.transform.trace_statements, trace[i]);
    struct transform *t = make(fx, OTTL_ERR_PROPAGATE, &fx->conf.transform.log_statements, log);
    /* What each statement writes counts as well as what it reads. */
    assert_int_equal(transform_fields(t, KT_SIGNAL_TRACES),
                     OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_RESOURCE_ATTRS) |
                         OTTL_FIELD(OTTL_P_SPAN_NAME) | OTTL_FIELD(OTTL_P_SPAN_KIND) |
                         OTTL_FIELD(OTTL_P_SCOPE_NAME) | OTTL_FIELD(OTTL_P_SPAN_PARENT_ID));
    assert_int_equal(transform_fields(t, KT_SIGNAL_METRICS), 0);
    assert_int_equal(transform_fields(t, KT_SIGNAL_LOGS),
                     OTTL_FIELD(OTTL_P_LOG_SEVERITY_TEXT) | OTTL_FIELD(OTTL_P_LOG_SEVERITY_NUMBER));
}

/* Statements that only delete or set span attributes named by a literal change nothing a
 * reader of other keys sees; any other statement counts whole. */
static void test_fields_beside_keys(void **state)
{
    struct fx *fx = *state;
    const char *trace[] = {"delete_key(span.attributes, \"net.peer.port\")",
                           "set(span.attributes[\"kotel.tier\"], span.name) where span.kind == 2",
                           NULL};
    struct transform *t = make(fx, OTTL_ERR_PROPAGATE, &fx->conf.transform.trace_statements, trace);
    const char *svc[] = {"service.name"}, *tier[] = {"service.name", "kotel.tier"},
               *port[] = {"net.peer.port"};
    const ottl_fields all = transform_fields(t, KT_SIGNAL_TRACES);
    assert_int_equal(all, OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_SPAN_NAME) |
                              OTTL_FIELD(OTTL_P_SPAN_KIND));
    assert_int_equal(transform_fields_beside(t, KT_SIGNAL_TRACES, svc, 1), 0);
    assert_int_equal(transform_fields_beside(t, KT_SIGNAL_TRACES, tier, 2), all);
    assert_int_equal(transform_fields_beside(t, KT_SIGNAL_TRACES, port, 1), all);
    assert_int_equal(transform_fields_beside(t, KT_SIGNAL_METRICS, svc, 1), 0);
}

static void test_fields_beside_keys_other_statements(void **state)
{
    struct fx *fx = *state;
    const char *trace[] = {"set(span.attributes[\"kotel.tier\"], \"process\")",
                           "delete_key(span.attributes, Concat([\"a\", \"b\"], \".\"))",
                           "set(span.name, \"x\")", NULL};
    const char *svc[] = {"service.name"};
    for (size_t i = 1; trace[i] != NULL; i++) {
        kt_strlist_free(&fx->conf.transform.trace_statements);
        transform_free(fx->t);
        const char *two[] = {trace[0], trace[i], NULL};
        struct transform *t =
            make(fx, OTTL_ERR_PROPAGATE, &fx->conf.transform.trace_statements, two);
        assert_int_equal(transform_fields_beside(t, KT_SIGNAL_TRACES, svc, 1),
                         transform_fields(t, KT_SIGNAL_TRACES));
    }
}

static void test_config_errors(void **state)
{
    struct fx *fx = *state;
    struct kt_err err = {0};
    struct transform *t = (struct transform *)&err;
    kt_strlist_push(&fx->conf.transform.trace_statements, "set(span.name, \"x\")");
    kt_strlist_push(&fx->conf.transform.trace_statements, "set(span.nam, \"x\")");
    assert_int_equal(transform_new(&fx->conf, &t, &err), KT_EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "[transform] trace_statements: column 5: unknown path "
                                    "'span.nam'"));
    kt_strlist_free(&fx->conf.transform.trace_statements);
    kt_strlist_push(&fx->conf.transform.log_statements, "set(metric.name, \"x\")");
    assert_int_equal(transform_new(&fx->conf, &t, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[transform] log_statements: 'set(metric.name, \"x\")' uses "
                                 "metric paths; log_statements may use resource, scope and log "
                                 "paths");
    kt_strlist_free(&fx->conf.transform.log_statements);
    assert_int_equal(transform_new(&fx->conf, &t, &err), 0);
    assert_false(transform_active(t, KT_SIGNAL_TRACES));
    TracesData *td = traces();
    assert_int_equal(transform_traces(t, td, &A, &err), 0);
    assert_null(td->resource_spans[0]->resource); /* untouched when inactive */
    transform_free(t);
}

/* Loads sets ("section.key=value") as kotel-process loads --set, then compiles them. */
static int load(struct process_conf *c, const char *const *sets, struct transform **t,
                struct kt_err *err)
{
    size_t n = 0;
    while (sets[n] != NULL)
        n++;
    memset(c, 0, sizeof(*c));
    int rc = kt_config_load(&process_conf_schema, c, NULL, sets, n, err);
    return rc != 0 ? rc : transform_new(c, t, err);
}

static void test_groups(void **state)
{
    (void)state;
    const char *sets[] = {
        "transform.trace_statements=set(span.attributes[\"flat\"], 1)",
        "transform.group.servers.signal=traces",
        "transform.group.servers.context=span",
        "transform.group.servers.conditions=span.kind == SPAN_KIND_SERVER",
        "transform.group.servers.conditions=span.name == \"nothing\"",
        "transform.group.servers.statements=set(span.attributes[\"server\"], "
        "span.attributes[\"flat\"] + 1)",
        "transform.group.servers.statements=set(resource.attributes[\"last\"], span.name) where "
        "span.name != \"x\"",
        "transform.group.bare.signal=traces",
        "transform.group.bare.context=span",
        "transform.group.bare.conditions=kind == SPAN_KIND_SERVER",
        "transform.group.bare.statements=set(attributes[\"bare\"], name)",
        "transform.group.later.signal=traces",
        "transform.group.later.statements=set(span.attributes[\"later\"], "
        "span.attributes[\"server\"])",
        NULL,
    };
    struct process_conf c;
    struct transform *t = NULL;
    struct kt_err err = {0};
    if (load(&c, sets, &t, &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_true(transform_active(t, KT_SIGNAL_TRACES));
    assert_false(transform_active(t, KT_SIGNAL_METRICS));
    assert_int_equal(transform_fields(t, KT_SIGNAL_TRACES),
                     OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_SPAN_KIND) |
                         OTTL_FIELD(OTTL_P_SPAN_NAME) | OTTL_FIELD(OTTL_P_RESOURCE_ATTRS));
    TracesData *td = traces();
    assert_int_equal(transform_traces(t, td, &A, &err), 0);
    for (size_t r = 0; r < 2; r++) {
        ResourceSpans *rs = td->resource_spans[r];
        Span *internal = rs->scope_spans[0]->spans[0], *server = rs->scope_spans[0]->spans[1];
        /* conditions: any of them; the flat statements ran first */
        assert_null(attr_str(internal->attributes, internal->n_attributes, "server"));
        assert_non_null(attr_str(server->attributes, server->n_attributes, "server"));
        /* a resource statement of a span group runs at each span that qualifies */
        assert_string_equal(attr_str(rs->resource->attributes, rs->resource->n_attributes, "last"),
                            "GET /users/42");
        /* a group with a context reads paths without a prefix in it */
        assert_string_equal(attr_str(server->attributes, server->n_attributes, "bare"),
                            "GET /users/42");
        assert_null(attr_str(internal->attributes, internal->n_attributes, "bare"));
        /* the last group, its context inferred (span), ran after the first */
        assert_non_null(attr_str(server->attributes, server->n_attributes, "later"));
        /* nil (no "server") leaves the key with an empty value, as the Collector does */
        assert_string_equal(attr_str(internal->attributes, internal->n_attributes, "later"),
                            "(not a string)");
    }
    transform_free(t);
    process_conf_free(&c);
}

static void test_group_error_modes(void **state)
{
    (void)state;
    const char *sets[] = {
        "transform.error_mode=propagate",
        "transform.group.lenient.signal=logs",
        "transform.group.lenient.error_mode=ignore",
        "transform.group.lenient.conditions=log.attributes[\"n\"] + 1 > 0",
        "transform.group.lenient.statements=set(log.attributes[\"a\"], 1)",
        "transform.group.strict.signal=logs",
        "transform.group.strict.statements=set(log.severity_text, 1)",
        NULL,
    };
    struct process_conf c;
    struct transform *t = NULL;
    struct kt_err err = {0};
    if (load(&c, sets, &t, &err) != 0)
        fail_msg("load: %s", err.msg);
    LogsData *ld = logs();
    assert_int_equal(transform_logs(t, ld, &A, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[transform.group.strict] statements: 'set(log.severity_text, "
                                 "1)': set log.severity_text: want a string, got int");
    /* the failing condition (nil + 1) was ignored and counted as not holding */
    LogRecord *r = ld->resource_logs[0]->scope_logs[0]->log_records[0];
    assert_int_equal(r->n_attributes, 0);
    assert_int_equal(transform_errors(t, KT_SIGNAL_LOGS), 3);
    transform_free(t);
    process_conf_free(&c);
}

static void test_group_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *sets[4];
        const char *msg;
    } cases[] = {
        {{"transform.group.g.statements=set(span.name, \"x\")", NULL},
         "[transform.group.g] signal: required: traces, metrics or logs"},
        {{"transform.group.g.signal=spans", "transform.group.g.statements=set(span.name, \"x\")",
          NULL},
         "[transform.group.g] signal: want traces, metrics or logs, got 'spans'"},
        {{"transform.group.g.signal=traces", "transform.group.g.context=spans",
          "transform.group.g.statements=set(span.name, \"x\")"},
         "[transform.group.g] context: want resource, scope, span, spanevent, metric, datapoint "
         "or log, got 'spans'"},
        {{"transform.group.g.signal=logs", "transform.group.g.context=span",
          "transform.group.g.statements=set(span.name, \"x\")"},
         "[transform.group.g] context: 'span' uses span paths; context may use resource, scope "
         "and log paths"},
        {{"transform.group.g.signal=traces", "transform.group.g.context=span",
          "transform.group.g.statements=set(spanevent.name, \"x\")"},
         "[transform.group.g] statements: 'set(spanevent.name, \"x\")' uses spanevent paths, "
         "which a span group cannot (its items' spanevent is above or beside it)"},
        {{"transform.group.g.signal=traces", "transform.group.g.conditions=span.name ==", NULL},
         "[transform.group.g] conditions: column 13: expected a value after '==', got end of "
         "input in 'span.name =='"},
        {{"transform.group.g.signal=traces", "transform.group.g.context=span", NULL},
         "[transform.group.g] statements: required: at least one statement"},
        {{"transform.group.g.signal=traces", "transform.group.g.error_mode=loud",
          "transform.group.g.statements=set(span.name, \"x\")"},
         "[transform.group.g] error_mode: want one of propagate|ignore|silent, got 'loud'"},
        /* the metric functions only where the Collector has them */
        {{"transform.trace_statements=convert_sum_to_gauge()", NULL},
         "[transform] trace_statements: 'convert_sum_to_gauge()': convert_sum_to_gauge is a "
         "metric function, which trace_statements cannot use"},
        {{"transform.log_statements=extract_sum_metric(true) where log.body == \"x\"", NULL},
         "[transform] log_statements: cannot use extract_sum_metric, a metric function, with log "
         "paths in 'extract_sum_metric(true) where log.body == \"x\"'"},
        {{"transform.metric_statements=convert_sum_to_gauge()", NULL},
         "[transform] metric_statements: no statement names a path, so their context is unknown "
         "('convert_sum_to_gauge()'); add a condition on one (where metric.name == \"...\") or "
         "put them in a [transform.group.NAME] with a context"},
        {{"transform.group.g.signal=metrics", "transform.group.g.statements=convert_sum_to_gauge()",
          NULL},
         "[transform.group.g] statements: no statement names a path, so their context is unknown "
         "('convert_sum_to_gauge()'); add a condition on one (where metric.name == \"...\") or "
         "give the group a context"},
        {{"transform.group.g.signal=metrics", "transform.group.g.statements=copy_metric(\"c\")",
          "transform.group.g.statements=set(datapoint.attributes[\"k\"], 1)"},
         "[transform.group.g] statements: 'copy_metric(\"c\")': copy_metric is a metric function, "
         "but these statements run at each data point (the deepest context they use); put it in a "
         "group with context = metric"},
        {{"transform.metric_statements=copy_metric(\"c\") where metric.name == \"g\"",
          "transform.metric_statements=set(datapoint.attributes[\"k\"], 1)", NULL},
         "[transform] metric_statements: 'copy_metric(\"c\") where metric.name == \"g\"': "
         "copy_metric is a metric function, but these statements run at each data point (the "
         "deepest context they use); put it in a group with context = metric"},
        {{"transform.group.g.signal=metrics", "transform.group.g.context=datapoint",
          "transform.group.g.statements=scale_metric(2.0)"},
         "[transform.group.g] statements: scale_metric is a metric function: it cannot run in a "
         "datapoint statement in 'scale_metric(2.0)'"},
        {{"transform.group.g.statement=set(span.name, \"x\")", NULL},
         "--set transform.group.g.statement: unknown key (a group has signal, context, conditions, "
         "error_mode and statements)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct process_conf c;
        struct transform *t = NULL;
        struct kt_err err = {0};
        assert_int_equal(load(&c, cases[i].sets, &t, &err), KT_EINVAL);
        assert_null(t);
        if (strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("case %zu: got \"%s\"", i, err.msg);
        process_conf_free(&c);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_traces),
        T(test_metrics),
        T(test_logs_and_error_modes),
        T(test_fields),
        T(test_fields_beside_keys),
        T(test_fields_beside_keys_other_statements),
        T(test_config_errors),
        T(test_groups),
        T(test_group_error_modes),
        T(test_group_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
