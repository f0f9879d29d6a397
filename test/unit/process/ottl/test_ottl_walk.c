/* ottl_walk: visit order and the tctx each visit gets, what OTTL_WALK_DROP removes and
 * counts (emptied scopes and resources, metrics without points left), what OTTL_WALK_EDIT
 * creates, and an error stopping the walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"
#include "../pb_build.h"

/* ---- data: every object is named, so a visit can say what it saw ---- */

static KeyValue **named(const char *name, size_t *n)
{
    KeyValue **kv = NULL;
    *n = 0;
    KeyValue *k = NEW(KeyValue, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT);
    k->key = "n";
    k->value = NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
    k->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    k->value->string_value = (char *)name;
    PUSH(kv, *n, k);
    return kv;
}

static const char *name_of(KeyValue **kv, size_t n)
{
    return n > 0 ? kv[0]->value->string_value : "-";
}

/* A resource named name (NULL: absent). */
static Resource *resource(const char *name)
{
    if (name == NULL)
        return NULL;
    Resource *r = NEW(Resource, OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT);
    r->attributes = named(name, &r->n_attributes);
    return r;
}

static Scope *scope(const char *name)
{
    if (name == NULL)
        return NULL;
    Scope *s = NEW(Scope, OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT);
    s->name = (char *)name;
    return s;
}

static ResourceSpans *add_rs(TracesData *td, const char *name)
{
    ResourceSpans *rs = NEW(ResourceSpans, OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT);
    rs->resource = resource(name);
    PUSH(td->resource_spans, td->n_resource_spans, rs);
    return rs;
}

static ScopeSpans *add_ss(ResourceSpans *rs, const char *name)
{
    ScopeSpans *ss = NEW(ScopeSpans, OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT);
    ss->scope = scope(name);
    PUSH(rs->scope_spans, rs->n_scope_spans, ss);
    return ss;
}

/* A span with one event per letter of events. */
static Span *add_span(ScopeSpans *ss, const char *name, const char *events)
{
    Span *s = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
    s->name = (char *)name;
    for (const char *e = events; *e; e++) {
        SpanEvent *ev = NEW(SpanEvent, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT);
        char *n = kt_arena_alloc(&A, 2);
        n[0] = *e;
        n[1] = '\0';
        ev->name = n;
        PUSH(s->events, s->n_events, ev);
    }
    PUSH(ss->spans, ss->n_spans, s);
    return s;
}

/* A gauge with one point per letter of points. */
static Metric *add_gauge(ScopeMetrics *sm, const char *name, const char *points)
{
    Metric *m = NEW(Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
    m->name = (char *)name;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m->gauge = NEW(Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
    for (const char *p = points; *p; p++) {
        NumberDataPoint *dp =
            NEW(NumberDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
        char *n = kt_arena_alloc(&A, 2);
        n[0] = *p;
        n[1] = '\0';
        dp->attributes = named(n, &dp->n_attributes);
        PUSH(m->gauge->data_points, m->gauge->n_data_points, dp);
    }
    PUSH(sm->metrics, sm->n_metrics, m);
    return m;
}

/* ---- a visit that records what it saw and drops or fails on demand ---- */

struct rec {
    char seen[512]; /* "ctx:name ..." in visit order */
    enum ottl_context drop_ctx;
    const char *drop; /* drop items of drop_ctx with this name; NULL: none */
    int fail_at;      /* the visit (1-based) that fails; 0: none */
    int visits;
};

static const char *item_name(enum ottl_context ctx, const struct ottl_tctx *t)
{
    switch (ctx) {
    case OTTL_CTX_RESOURCE: return name_of(t->resource->attributes, t->resource->n_attributes);
    case OTTL_CTX_SCOPE: return t->scope->name;
    case OTTL_CTX_SPAN: return t->span->name;
    case OTTL_CTX_SPANEVENT: return t->spanevent->name;
    case OTTL_CTX_METRIC: return t->metric->name;
    case OTTL_CTX_DATAPOINT: {
        NumberDataPoint *dp = (NumberDataPoint *)t->datapoint;
        return name_of(dp->attributes, dp->n_attributes);
    }
    case OTTL_CTX_LOG: return t->log->body->string_value;
    }
    return "?";
}

static int record(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *drop,
                  struct kt_err *err)
{
    struct rec *r = arg;
    assert_false(*drop);
    assert_ptr_equal(t->arena, &A);
    /* Parents are always there; what is below the item is not. */
    assert_non_null(t->resource);
    assert_true(ctx == OTTL_CTX_RESOURCE ? t->scope == NULL : t->scope != NULL);
    assert_true(ctx == OTTL_CTX_SPANEVENT ? t->span != NULL : t->spanevent == NULL);
    assert_true(ctx == OTTL_CTX_DATAPOINT ? t->metric != NULL : t->datapoint == NULL);
    const char *name = item_name(ctx, t);
    size_t len = strlen(r->seen);
    snprintf(r->seen + len, sizeof(r->seen) - len, "%s%s:%s", len ? " " : "",
             ottl_context_name(ctx), name);
    if (++r->visits == r->fail_at)
        return kt_err_set(err, KT_EINVAL, "visit %d failed", r->visits);
    *drop = r->drop != NULL && ctx == r->drop_ctx && strcmp(name, r->drop) == 0;
    return 0;
}

static struct ottl_walk walker(enum ottl_walk_mode mode, unsigned contexts, struct rec *r)
{
    struct ottl_walk w = {
        .mode = mode, .contexts = contexts, .arena = &A, .visit = record, .arg = r};
    return w;
}

#define BIT(c) OTTL_CTX_BIT(OTTL_CTX_##c)

/* ---- tests ---- */

static void test_visits_parents_first_in_order(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "r1");
    add_span(add_ss(rs, "s1"), "a", "xy");
    add_span(rs->scope_spans[0], "b", "");
    add_span(add_ss(add_rs(&td, "r2"), "s2"), "c", "z");
    struct rec r = {0};
    struct ottl_walk w =
        walker(OTTL_WALK_EDIT, BIT(RESOURCE) | BIT(SCOPE) | BIT(SPAN) | BIT(SPANEVENT), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_string_equal(r.seen, "resource:r1 scope:s1 span:a spanevent:x spanevent:y span:b "
                                "resource:r2 scope:s2 span:c spanevent:z");
}

static void test_only_visited_contexts(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, "r1");
    add_span(add_ss(rs, "s1"), "a", "xy");
    add_span(add_ss(rs, "s2"), "b", "z");
    struct rec r = {0};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(SPANEVENT), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_string_equal(r.seen, "spanevent:x spanevent:y spanevent:z");
}

static void test_drop_removes_emptied_scopes_and_resources(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *r1 = add_rs(&td, "r1");
    ScopeSpans *s1 = add_ss(r1, "s1");
    add_span(s1, "drop", "");
    add_span(s1, "drop", "");
    ResourceSpans *r2 = add_rs(&td, NULL);
    ScopeSpans *s2 = add_ss(r2, NULL);
    add_span(s2, "drop", "");
    Span *kept = add_span(s2, "keep", "");
    add_ss(r2, "empty");
    struct rec r = {.drop_ctx = OTTL_CTX_SPAN, .drop = "drop"};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(RESOURCE) | BIT(SPAN), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_int_equal(w.n_dropped, 3);
    /* r1 lost its only scope, r2 its originally empty one. */
    assert_int_equal(td.n_resource_spans, 1);
    assert_ptr_equal(td.resource_spans[0], r2);
    assert_int_equal(r2->n_scope_spans, 1);
    assert_ptr_equal(r2->scope_spans[0], s2);
    assert_int_equal(s2->n_spans, 1);
    assert_ptr_equal(s2->spans[0], kept);
    /* An absent resource or scope is read as an empty one, and stays absent. */
    assert_string_equal(r.seen, "resource:r1 span:drop span:drop resource:- span:drop span:keep");
    assert_null(r2->resource);
    assert_null(s2->scope);
}

static void test_drop_counts_what_a_dropped_parent_held(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *r1 = add_rs(&td, "noisy");
    add_span(add_ss(r1, "s1"), "a", "xyz");
    add_span(r1->scope_spans[0], "b", "");
    add_span(add_ss(r1, "s2"), "c", "");
    add_span(add_ss(add_rs(&td, "r2"), "s3"), "d", "");
    struct rec r = {.drop_ctx = OTTL_CTX_RESOURCE, .drop = "noisy"};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(RESOURCE) | BIT(SPAN), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    /* Spans count, events do not; nothing under the dropped resource is visited. */
    assert_int_equal(w.n_dropped, 3);
    assert_string_equal(r.seen, "resource:noisy resource:r2 span:d");
    assert_int_equal(td.n_resource_spans, 1);
}

static void test_drop_span_events_keeps_span(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ScopeSpans *ss = add_ss(add_rs(&td, "r1"), "s1");
    Span *a = add_span(ss, "a", "xx");
    Span *b = add_span(ss, "b", "yxy");
    struct rec r = {.drop_ctx = OTTL_CTX_SPANEVENT, .drop = "x"};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(SPANEVENT), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_int_equal(w.n_dropped, 0);
    assert_int_equal(ss->n_spans, 2);
    assert_int_equal(a->n_events, 0);
    assert_int_equal(b->n_events, 2);
    assert_string_equal(b->events[0]->name, "y");
    assert_string_equal(b->events[1]->name, "y");
}

static void test_drop_metrics_and_points(void **state)
{
    (void)state;
    MetricsData md = OPENTELEMETRY__PROTO__METRICS__V1__METRICS_DATA__INIT;
    ResourceMetrics *rm =
        NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
    rm->resource = resource("r1");
    PUSH(md.resource_metrics, md.n_resource_metrics, rm);
    ScopeMetrics *sm = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
    sm->scope = scope("s1");
    PUSH(rm->scope_metrics, rm->n_scope_metrics, sm);
    add_gauge(sm, "all_dropped", "dd");
    Metric *none = add_gauge(sm, "no_points", "");
    Metric *some = add_gauge(sm, "some_dropped", "dkd");
    add_gauge(sm, "drop", "kkk");
    struct rec r[2] = {{.drop_ctx = OTTL_CTX_DATAPOINT, .drop = "d"},
                       {.drop_ctx = OTTL_CTX_METRIC, .drop = "drop"}};
    struct kt_err err = {0};
    /* Points first, then the metric level, as two walks. */
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(DATAPOINT), &r[0]);
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_METRICS, &md.base, &err), 0);
    assert_int_equal(w.n_dropped, 4);
    w = walker(OTTL_WALK_DROP, BIT(METRIC), &r[1]);
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_METRICS, &md.base, &err), 0);
    assert_int_equal(w.n_dropped, 3); /* the dropped metric's points */
    /* A metric whose every point went is removed; one that had none stays. */
    assert_int_equal(sm->n_metrics, 2);
    assert_ptr_equal(sm->metrics[0], none);
    assert_ptr_equal(sm->metrics[1], some);
    assert_int_equal(some->gauge->n_data_points, 1);
}

static void test_drop_logs(void **state)
{
    (void)state;
    ScopeLogs *sl;
    LogsData *ld = pb_logs(&sl);
    pb_add_log(sl, "debug");
    pb_add_log(sl, "error");
    pb_add_log(sl, "debug");
    struct rec r = {.drop_ctx = OTTL_CTX_LOG, .drop = "debug"};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(LOG), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_LOGS, &ld->base, &err), 0);
    assert_int_equal(w.n_dropped, 2);
    assert_int_equal(sl->n_log_records, 1);
    assert_string_equal(sl->log_records[0]->body->string_value, "error");
}

static void test_edit_creates_absent_parents_it_reaches(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans *rs = add_rs(&td, NULL);
    ScopeSpans *ss = add_ss(rs, NULL);
    add_span(ss, "drop", "");
    struct rec r = {.drop_ctx = OTTL_CTX_SPAN, .drop = "drop"};
    struct kt_err err = {0};
    /* A resource walk goes no deeper: the scope stays absent. */
    struct ottl_walk w = walker(OTTL_WALK_EDIT, BIT(RESOURCE), &r);
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_non_null(rs->resource);
    assert_int_equal(rs->resource->n_attributes, 0);
    assert_null(ss->scope);
    /* A span walk creates the scope; editing removes nothing, whatever the visit says. */
    w = walker(OTTL_WALK_EDIT, BIT(SPAN), &r);
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), 0);
    assert_non_null(ss->scope);
    assert_int_equal(w.n_dropped, 0);
    assert_int_equal(ss->n_spans, 1);
    assert_int_equal(td.n_resource_spans, 1);
    assert_string_equal(r.seen, "resource:- span:drop");
}

static void test_error_stops_the_walk(void **state)
{
    (void)state;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ScopeSpans *ss = add_ss(add_rs(&td, "r1"), "s1");
    add_span(ss, "drop", "");
    add_span(ss, "b", "");
    add_span(ss, "c", "");
    struct rec r = {.drop_ctx = OTTL_CTX_SPAN, .drop = "drop", .fail_at = 2};
    struct ottl_walk w = walker(OTTL_WALK_DROP, BIT(SPAN), &r);
    struct kt_err err = {0};
    assert_int_equal(ottl_walk(&w, KT_SIGNAL_TRACES, &td.base, &err), KT_EINVAL);
    assert_string_equal(err.msg, "visit 2 failed");
    assert_string_equal(r.seen, "span:drop span:b");
    /* What was dropped before counts; the scope's length is left as it was. */
    assert_int_equal(w.n_dropped, 1);
    assert_int_equal(ss->n_spans, 3);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_visits_parents_first_in_order),
        T(test_only_visited_contexts),
        T(test_drop_removes_emptied_scopes_and_resources),
        T(test_drop_counts_what_a_dropped_parent_held),
        T(test_drop_span_events_keeps_span),
        T(test_drop_metrics_and_points),
        T(test_drop_logs),
        T(test_edit_creates_absent_parents_it_reaches),
        T(test_error_stops_the_walk),
    };
    /* One arena for the file: each test builds a little data of its own. */
    kt_arena_init(&A, NULL, 0);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    kt_arena_free(&A);
    return failed;
}
