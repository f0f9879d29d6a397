/* sampling_policy: every policy type on its own (sampled and not sampled), and / drop
 * combinations, folding of several offers into one trace, and configuration errors that
 * name the section and key. Traces are built from protobuf-c structs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/conf.h"
#include "../../../process/sampling_policy.h"
#include "../../../process/trace_decode.h"
#include "kt_err.h"
#include "kt_log.h"
#include "policy_conf.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define MAX_SPANS 16
#define MAX_ATTRS 8

/* One resource, one scope, up to MAX_SPANS spans of one trace, all in one heap block. */
struct td {
    TracesData td;
    ResourceSpans rs, *rsp;
    Resource res;
    ScopeSpans ss, *ssp;
    Span spans[MAX_SPANS], *sp[MAX_SPANS];
    Status st[MAX_SPANS];
    KeyValue kv[MAX_SPANS][MAX_ATTRS], *kvp[MAX_SPANS][MAX_ATTRS];
    AnyValue av[MAX_SPANS][MAX_ATTRS];
    KeyValue rkv[MAX_ATTRS], *rkvp[MAX_ATTRS];
    AnyValue rav[MAX_ATTRS];
    Event ev[MAX_SPANS], *evp[MAX_SPANS];
    uint8_t tid[16];
    uint8_t sid[MAX_SPANS][8];
};

static struct td *td_new(uint8_t trace)
{
    struct td *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    t->td = td;
    t->rs = rs;
    t->res = res;
    t->ss = ss;
    memset(t->tid, trace, 16);
    t->rs.resource = &t->res;
    t->res.attributes = t->rkvp;
    t->rsp = &t->rs;
    t->ssp = &t->ss;
    t->rs.n_scope_spans = 1;
    t->rs.scope_spans = &t->ssp;
    t->ss.spans = t->sp;
    t->td.n_resource_spans = 1;
    t->td.resource_spans = &t->rsp;
    return t;
}

static Span *td_span(struct td *t, uint64_t start_ns, uint64_t end_ns)
{
    size_t i = t->ss.n_spans++;
    assert_true(i < MAX_SPANS);
    Span s = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    t->spans[i] = s;
    Span *sp = &t->spans[i];
    sp->trace_id.data = t->tid;
    sp->trace_id.len = 16;
    t->sid[i][0] = (uint8_t)(i + 1);
    sp->span_id.data = t->sid[i];
    sp->span_id.len = 8;
    sp->name = "op";
    sp->start_time_unix_nano = start_ns;
    sp->end_time_unix_nano = end_ns;
    sp->attributes = t->kvp[i];
    t->sp[i] = sp;
    return sp;
}

static void td_status(struct td *t, Span *sp, int code)
{
    size_t i = (size_t)(sp - t->spans);
    Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    t->st[i] = st;
    t->st[i].code = code;
    sp->status = &t->st[i];
}

static void td_event(struct td *t, Span *sp, const char *name)
{
    size_t i = (size_t)(sp - t->spans);
    Event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    t->ev[i] = ev;
    t->ev[i].name = (char *)name;
    t->evp[i] = &t->ev[i];
    sp->events = &t->evp[i];
    sp->n_events = 1;
}

/* Adds an attribute to sp (NULL: to the resource) and returns its value to fill. */
static AnyValue *td_attr(struct td *t, Span *sp, const char *key)
{
    KeyValue kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    AnyValue av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    KeyValue *k;
    AnyValue *v;
    if (sp == NULL) {
        size_t j = t->res.n_attributes++;
        assert_true(j < MAX_ATTRS);
        k = &t->rkv[j];
        v = &t->rav[j];
        t->rkvp[j] = k;
    } else {
        size_t i = (size_t)(sp - t->spans), j = sp->n_attributes++;
        assert_true(j < MAX_ATTRS);
        k = &t->kv[i][j];
        v = &t->av[i][j];
        t->kvp[i][j] = k;
    }
    *k = kv;
    *v = av;
    k->key = (char *)key;
    k->value = v;
    return v;
}

static void td_str(struct td *t, Span *sp, const char *key, const char *val)
{
    AnyValue *v = td_attr(t, sp, key);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)val;
}

static void td_int(struct td *t, Span *sp, const char *key, int64_t val)
{
    AnyValue *v = td_attr(t, sp, key);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = val;
}

static void td_double(struct td *t, Span *sp, const char *key, double val)
{
    AnyValue *v = td_attr(t, sp, key);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = val;
}

static void td_bool(struct td *t, Span *sp, const char *key, bool val)
{
    AnyValue *v = td_attr(t, sp, key);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = val;
}

/* ---- configuration ---- */

static struct sampling_policies *compile_ok(struct process_conf *c)
{
    struct sampling_policies *ps = NULL;
    struct kt_err err = {0};
    int rc = sampling_policy_compile(c->tail_sampling.policies, c->tail_sampling.n_policies,
                                     c->tail_sampling.sample_on_first_match, &ps, &err);
    if (rc != 0)
        fail_msg("compile: %s", err.msg);
    process_conf_free(c);
    return ps;
}

/* Compiles and expects failure with exactly `want` as the message. */
static void compile_fails(struct process_conf *c, const char *want)
{
    struct sampling_policies *ps = NULL;
    struct kt_err err = {0};
    int rc = sampling_policy_compile(c->tail_sampling.policies, c->tail_sampling.n_policies,
                                     c->tail_sampling.sample_on_first_match, &ps, &err);
    process_conf_free(c);
    memset(c, 0, sizeof(*c));
    assert_int_equal(rc, KT_EINVAL);
    assert_null(ps);
    assert_string_equal(err.msg, want);
}

/* A trace folded from the given offers and decided at now_ms. */
struct trace_state {
    struct sampling_summary sum;
    uint64_t match[4];
};

static void observe(struct sampling_policies *ps, struct trace_state *st, const struct td *t)
{
    assert_true(sampling_policy_match_words(ps) <= 4);
    sampling_policy_observe(ps, &t->td, &st->sum, st->match);
}

static bool decide_one(struct sampling_policies *ps, struct td *t, uint64_t now_ms)
{
    struct trace_state st;
    memset(&st, 0, sizeof(st));
    observe(ps, &st, t);
    return sampling_policy_decide(ps, t->tid, &st.sum, st.match, now_ms);
}

#define MS 1000000ull

/* ---- policies on their own ---- */

static void test_always_sample(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "all", "type", "always_sample", END);
    struct sampling_policies *ps = compile_ok(&c);
    assert_int_equal(sampling_policy_count_top_level(ps), 1);
    assert_int_equal(sampling_policy_match_words(ps), 0);
    struct td *t = td_new(1);
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_latency(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "100", END);
    struct sampling_policies *ps = compile_ok(&c);

    /* Duration is max end - min start over all spans, not one span's duration. */
    struct td *t = td_new(1);
    td_span(t, 1000 * MS, 1060 * MS);
    td_span(t, 1050 * MS, 1101 * MS);
    assert_true(decide_one(ps, t, 0)); /* 101 ms */
    free(t);

    /* Longer than the threshold, as the Collector's: exactly 100 ms is not. */
    t = td_new(2);
    td_span(t, 1000 * MS, 1100 * MS);
    assert_false(decide_one(ps, t, 0));
    free(t);

    /* Spread over two offers. */
    struct td *a = td_new(3), *b = td_new(3);
    td_span(a, 2000 * MS, 2010 * MS);
    td_span(b, 2080 * MS, 2150 * MS);
    struct trace_state st;
    memset(&st, 0, sizeof(st));
    observe(ps, &st, a);
    assert_false(sampling_policy_decide(ps, a->tid, &st.sum, st.match, 0));
    observe(ps, &st, b);
    assert_true(sampling_policy_decide(ps, a->tid, &st.sum, st.match, 0));
    free(a);
    free(b);
    sampling_policy_free(ps);
}

static void test_latency_upper(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "band", "type", "latency", "threshold_ms", "100", "upper_threshold_ms", "200",
               END);
    struct sampling_policies *ps = compile_ok(&c);
    static const struct {
        uint64_t dur_ms;
        bool want;
    } cases[] = {{50, false}, {100, false}, {101, true}, {200, true}, {201, false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct td *t = td_new((uint8_t)i);
        td_span(t, 5000 * MS, (5000 + cases[i].dur_ms) * MS);
        assert_int_equal(decide_one(ps, t, 0), cases[i].want);
        free(t);
    }
    /* As the Collector's: sampled when the spans seen so far, in arrival order, were ever
     * within the band (150 ms after the first span), though the whole trace is 250 ms. */
    struct td *t = td_new(9);
    td_span(t, 5000 * MS, 5150 * MS);
    td_span(t, 5200 * MS, 5250 * MS);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(10); /* the other order: 250 ms from the first span on */
    td_span(t, 5200 * MS, 5250 * MS);
    td_span(t, 5000 * MS, 5150 * MS);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_status_code(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR, unset", END);
    struct sampling_policies *ps = compile_ok(&c);

    struct td *t = td_new(1);
    td_status(t, td_span(t, 1, 2), 1); /* OK */
    td_status(t, td_span(t, 1, 2), 2); /* ERROR */
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(2);
    td_status(t, td_span(t, 1, 2), 1);
    assert_false(decide_one(ps, t, 0));
    free(t);

    t = td_new(3);
    td_span(t, 1, 2); /* no status: UNSET */
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static unsigned count_sampled(struct sampling_policies *ps, unsigned n)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        struct td *t = td_new(0);
        memcpy(t->tid, &i, sizeof(i));
        t->tid[15] = 0x5a;
        td_span(t, 1, 2);
        k += decide_one(ps, t, 0);
        free(t);
    }
    return k;
}

static void test_probabilistic(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "none", "type", "probabilistic", "sampling_percentage", "0", END);
    struct sampling_policies *ps = compile_ok(&c);
    assert_int_equal(count_sampled(ps, 1000), 0);
    sampling_policy_free(ps);

    add_policy(&c, "all", "type", "probabilistic", "sampling_percentage", "100", END);
    ps = compile_ok(&c);
    assert_int_equal(count_sampled(ps, 1000), 1000);
    sampling_policy_free(ps);

    add_policy(&c, "quarter", "type", "probabilistic", "sampling_percentage", "25", END);
    ps = compile_ok(&c);
    unsigned k = count_sampled(ps, 4000);
    assert_true(k > 850 && k < 1150);
    /* Deterministic: the same trace IDs give the same count. */
    assert_int_equal(count_sampled(ps, 4000), k);
    sampling_policy_free(ps);

    /* The salt changes which traces are picked, not how many. */
    add_policy(&c, "quarter", "type", "probabilistic", "sampling_percentage", "25", "hash_salt",
               "other", END);
    ps = compile_ok(&c);
    unsigned k2 = count_sampled(ps, 4000);
    assert_true(k2 > 850 && k2 < 1150);
    assert_int_not_equal(k2, k);
    sampling_policy_free(ps);
}

/* The decisions the Collector's probabilistic policy (tailsamplingprocessor v0.161.0,
 * default salt, 25 %) makes for these trace IDs, printed by a Go program using its hash and
 * threshold: kotel must make the same, so a mixed fleet keeps or drops a trace as one. */
static void test_probabilistic_matches_the_collector(void **state)
{
    (void)state;
    static const bool want[12] = {false, true,  false, false, false, false,
                                  true,  false, true,  false, true,  false};
    struct process_conf c = {0};
    add_policy(&c, "quarter", "type", "probabilistic", "sampling_percentage", "25", END);
    struct sampling_policies *ps = compile_ok(&c);
    for (int i = 0; i < 12; i++) {
        struct td *t = td_new(0);
        for (int j = 0; j < 16; j++)
            t->tid[j] = (uint8_t)(i * 16 + j * 7 + 1);
        td_span(t, 1, 2);
        if (decide_one(ps, t, 0) != want[i])
            fail_msg("trace %d: kotel %s it, the Collector does not", i,
                     want[i] ? "drops" : "keeps");
        free(t);
    }
    sampling_policy_free(ps);
}

static void test_string_attribute(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "svc", "type", "string_attribute", "key", "service.name", "values",
               "checkout, cart", END);
    struct sampling_policies *ps = compile_ok(&c);

    struct td *t = td_new(1); /* on a span */
    td_str(t, td_span(t, 1, 2), "service.name", "cart");
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(2); /* on the resource */
    td_str(t, NULL, "service.name", "checkout");
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(3);
    td_str(t, NULL, "service.name", "checkout-v2"); /* exact match only */
    td_str(t, td_span(t, 1, 2), "other", "cart");
    td_int(t, td_span(t, 1, 2), "service.name", 7); /* not a string */
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_string_attribute_regex_invert(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "re", "type", "string_attribute", "key", "http.url", "values", "^/api/v[0-9]+/",
               "enabled_regex_matching", "true", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_str(t, td_span(t, 1, 2), "http.url", "/api/v2/orders");
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(2);
    td_str(t, td_span(t, 1, 2), "http.url", "/health");
    td_str(t, td_span(t, 1, 2), "http.url", "/x/api/v2/");
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* invert_match: sampled unless some span or resource has a matching value. */
    add_policy(&c, "not-health", "type", "string_attribute", "key", "http.route", "values",
               "/health", "invert_match", "true", END);
    ps = compile_ok(&c);
    t = td_new(3);
    td_str(t, td_span(t, 1, 2), "http.route", "/orders");
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(4);
    td_str(t, td_span(t, 1, 2), "http.route", "/orders");
    td_str(t, td_span(t, 1, 2), "http.route", "/health");
    assert_false(decide_one(ps, t, 0));
    free(t);
    t = td_new(5); /* key absent: sampled */
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_numeric_attribute(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "5xx", "type", "numeric_attribute", "key", "http.status_code", "min_value",
               "500", "max_value", "599", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_int(t, td_span(t, 1, 2), "http.status_code", 200);
    td_int(t, td_span(t, 1, 2), "http.status_code", 599);
    assert_true(decide_one(ps, t, 0));
    free(t);
    /* A double is 0 to the Collector's policy (pdata's Int() of a non-integer), so 503.0
     * is not within 500..599. */
    t = td_new(2);
    td_double(t, td_span(t, 1, 2), "http.status_code", 503.0);
    assert_false(decide_one(ps, t, 0));
    free(t);
    t = td_new(3);
    td_int(t, td_span(t, 1, 2), "http.status_code", 404);
    td_int(t, NULL, "http.status_code", 600);
    td_str(t, td_span(t, 1, 2), "http.status_code", "503");
    assert_false(decide_one(ps, t, 0));
    free(t);
    t = td_new(4); /* on the resource */
    td_int(t, NULL, "http.status_code", 500);
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* Only a minimum, inverted. */
    add_policy(&c, "small", "type", "numeric_attribute", "key", "size", "min_value", "-10",
               "invert_match", "yes", END);
    ps = compile_ok(&c);
    t = td_new(5);
    td_int(t, td_span(t, 1, 2), "size", -11);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(6);
    td_int(t, td_span(t, 1, 2), "size", 1000000);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_boolean_attribute(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "dbg", "type", "boolean_attribute", "key", "debug", "value", "true", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_bool(t, td_span(t, 1, 2), "debug", false);
    td_bool(t, td_span(t, 1, 2), "debug", true);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(2);
    td_bool(t, td_span(t, 1, 2), "debug", false);
    td_str(t, td_span(t, 1, 2), "debug", "true");
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    add_policy(&c, "nodbg", "type", "boolean_attribute", "key", "debug", "value", "true",
               "invert_match", "true", END);
    ps = compile_ok(&c);
    t = td_new(3);
    td_bool(t, NULL, "debug", true);
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* A non-bool value is false to the Collector's policy (pdata's Bool()). */
    add_policy(&c, "notdbg", "type", "boolean_attribute", "key", "debug", "value", "false", END);
    ps = compile_ok(&c);
    t = td_new(4);
    td_str(t, td_span(t, 1, 2), "debug", "true");
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_span_count(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "mid", "type", "span_count", "min_spans", "2", "max_spans", "3", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 0));
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 0));
    /* Counted across offers: 4 + 4. */
    struct trace_state st;
    memset(&st, 0, sizeof(st));
    observe(ps, &st, t);
    observe(ps, &st, t);
    assert_int_equal(st.sum.n_spans, 8);
    free(t);
    sampling_policy_free(ps);

    add_policy(&c, "big", "type", "span_count", "min_spans", "3", END);
    ps = compile_ok(&c);
    t = td_new(2);
    for (int i = 0; i < 10; i++)
        td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_rate_limiting(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "rl", "type", "rate_limiting", "spans_per_second", "10", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    for (int i = 0; i < 6; i++)
        td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 5000));  /* 6 of 10 */
    assert_false(decide_one(ps, t, 5999)); /* 12 > 10 in the same second */
    assert_true(decide_one(ps, t, 6000));  /* a new second */
    td_span(t, 1, 2);
    td_span(t, 1, 2);
    td_span(t, 1, 2);
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 6001)); /* 6 + 10 */
    assert_true(decide_one(ps, t, 7001));  /* exactly 10 */
    free(t);
    sampling_policy_free(ps);
}

/* ---- combinations ---- */

static void test_and_policy(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "slow-checkout", "type", "and", "and_sub_policy", "checkout, slow", END);
    add_policy(&c, "checkout", "type", "string_attribute", "key", "service.name", "values",
               "checkout", END);
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "500", END);
    struct sampling_policies *ps = compile_ok(&c);
    /* The sub-policies only count inside the and. */
    assert_int_equal(sampling_policy_count_top_level(ps), 1);

    struct td *t = td_new(1);
    td_str(t, NULL, "service.name", "checkout");
    td_span(t, 0 + 1, 600 * MS);
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(2); /* checkout but fast */
    td_str(t, NULL, "service.name", "checkout");
    td_span(t, 1, 10 * MS);
    assert_false(decide_one(ps, t, 0));
    free(t);

    t = td_new(3); /* slow but another service */
    td_str(t, NULL, "service.name", "cart");
    td_span(t, 1, 900 * MS);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_drop_policy(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    add_policy(&c, "everything", "type", "always_sample", END);
    add_policy(&c, "no-health", "type", "drop", "drop_sub_policy", "health, prob0", END);
    add_policy(&c, "health", "type", "string_attribute", "key", "http.route", "values", "/health",
               END);
    add_policy(&c, "prob0", "type", "probabilistic", "sampling_percentage", "100", END);
    struct sampling_policies *ps = compile_ok(&c);
    assert_int_equal(sampling_policy_count_top_level(ps), 3);

    /* The drop wins over always_sample and status_code. */
    struct td *t = td_new(1);
    Span *sp = td_span(t, 1, 2);
    td_str(t, sp, "http.route", "/health");
    td_status(t, sp, 2);
    assert_false(decide_one(ps, t, 0));
    free(t);

    t = td_new(2);
    td_str(t, td_span(t, 1, 2), "http.route", "/orders");
    assert_true(decide_one(ps, t, 0));
    free(t);
    /* Each top-level policy's own results; the others were not asked about the dropped
     * trace, and sub-policies are not listed. */
    struct kt_buf b = KT_BUF_INIT;
    sampling_policy_write_metrics(ps, &b);
    assert_int_equal(kt_buf_append(&b, "", 1), 0);
#define DECISIONS "kotel_process_tail_sampling_policy_decisions_total"
    assert_string_equal((const char *)b.p,
                        "# HELP " DECISIONS " Traces each top-level policy decided on its own, by "
                        "decision: sampled or not_sampled; a drop policy: dropped or not_sampled. "
                        "Policies after a drop policy that dropped the trace are not evaluated.\n"
                        "# TYPE " DECISIONS " counter\n" DECISIONS
                        "{policy=\"errors\",decision=\"sampled\"} 0\n" DECISIONS
                        "{policy=\"errors\",decision=\"not_sampled\"} 1\n" DECISIONS
                        "{policy=\"everything\",decision=\"sampled\"} 1\n" DECISIONS
                        "{policy=\"everything\",decision=\"not_sampled\"} 0\n" DECISIONS
                        "{policy=\"no-health\",decision=\"dropped\"} 1\n" DECISIONS
                        "{policy=\"no-health\",decision=\"not_sampled\"} 1\n");
#undef DECISIONS
    kt_buf_free(&b);
    sampling_policy_free(ps);

    /* A drop whose sub-policies do not all match drops nothing. */
    add_policy(&c, "everything", "type", "always_sample", END);
    add_policy(&c, "d", "type", "drop", "drop_sub_policy", "health", "drop_sub_policy", "never",
               END);
    add_policy(&c, "health", "type", "string_attribute", "key", "http.route", "values", "/health",
               END);
    add_policy(&c, "never", "type", "probabilistic", "sampling_percentage", "0", END);
    ps = compile_ok(&c);
    t = td_new(3);
    td_str(t, td_span(t, 1, 2), "http.route", "/health");
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* Only a drop policy: nothing is ever sampled. */
    add_policy(&c, "d", "type", "drop", "drop_sub_policy", "health", END);
    add_policy(&c, "health", "type", "string_attribute", "key", "http.route", "values", "/health",
               END);
    ps = compile_ok(&c);
    t = td_new(4);
    td_str(t, td_span(t, 1, 2), "http.route", "/orders");
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_any_policy_samples(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "1000", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_status(t, td_span(t, 1, 2), 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(2);
    td_span(t, 1, 2000 * MS);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(3);
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

/* ---- OTTL ---- */

static void test_ottl_condition(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "ottl", "type", "ottl_condition", "span",
               "span.attributes[\"tier\"] == \"gold\"", "span", "span.name == \"checkout\"",
               "spanevent", "spanevent.name == \"exception\"", END);
    struct sampling_policies *ps = compile_ok(&c);

    struct td *t = td_new(1);
    td_str(t, td_span(t, 1, 2), "tier", "gold");
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(2);
    td_span(t, 1, 2)->name = "checkout";
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(3);
    td_event(t, td_span(t, 1, 2), "exception");
    assert_true(decide_one(ps, t, 0));
    free(t);

    t = td_new(4);
    Span *sp = td_span(t, 1, 2);
    td_str(t, sp, "tier", "silver");
    td_event(t, sp, "retry");
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* Resource paths are usable from a span condition. */
    add_policy(&c, "res", "type", "ottl_condition", "span",
               "resource.attributes[\"service.name\"] == \"cart\"", "error_mode", "ignore", END);
    ps = compile_ok(&c);
    t = td_new(5);
    td_str(t, NULL, "service.name", "cart");
    td_span(t, 1, 2);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

/* A condition that fails on some spans: Len() of an int attribute. propagate makes the policy
 * not sample a trace whose first evaluation fails before a match; ignore and silent skip
 * failed evaluations. */
static void test_ottl_error_mode(void **state)
{
    (void)state;
    static const char *const cond = "Len(span.attributes[\"v\"]) > 2";
    struct process_conf c = {0};
    add_policy(&c, "p", "type", "ottl_condition", "span", cond, END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *good = td_new(1), *bad = td_new(2), *none = td_new(3);
    td_str(good, td_span(good, 1, 2), "v", "long");
    td_int(good, td_span(good, 1, 2), "v", 5);
    td_int(bad, td_span(bad, 1, 2), "v", 5);
    td_str(bad, td_span(bad, 1, 2), "v", "long");
    td_str(none, td_span(none, 1, 2), "v", "a");
    td_int(none, td_span(none, 1, 2), "v", 5);
    assert_true(decide_one(ps, good, 0));  /* matched before the failure */
    assert_false(decide_one(ps, bad, 0));  /* failed before the match */
    assert_false(decide_one(ps, none, 0)); /* no match, then a failure */
    sampling_policy_free(ps);

    add_policy(&c, "i", "type", "ottl_condition", "span", cond, "error_mode", "ignore", END);
    ps = compile_ok(&c);
    assert_true(decide_one(ps, good, 0));
    assert_true(decide_one(ps, bad, 0));
    assert_false(decide_one(ps, none, 0));
    sampling_policy_free(ps);

    add_policy(&c, "s", "type", "ottl_condition", "span", cond, "error_mode", "silent", END);
    ps = compile_ok(&c);
    assert_true(decide_one(ps, bad, 0));
    assert_false(decide_one(ps, none, 0));
    sampling_policy_free(ps);
    free(good);
    free(bad);
    free(none);
}

/* ---- configuration errors ---- */

static void test_trace_flags(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "sampled", "type", "trace_flags", END);
    struct sampling_policies *ps = compile_ok(&c);
    struct td *t = td_new(1);
    td_span(t, 1, 2)->flags = 0x100; /* a flag beyond W3C's byte only */
    assert_false(decide_one(ps, t, 0));
    td_span(t, 1, 2)->flags = 0x101;
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_trace_state(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "ts", "type", "trace_state", "key", "vendor", "values", "a, b", END);
    struct sampling_policies *ps = compile_ok(&c);
    static const struct {
        const char *ts;
        bool want;
    } cases[] = {
        {"vendor=a", true},
        {"other=x, vendor=b\t", true}, /* blanks around members trimmed */
        {"vendor=c", false},
        {"vendor=a,,other=x", true},  /* empty members skipped */
        {"vendor=a,=x", false},       /* an invalid member: no members at all */
        {"vendor=a,vendor=b", false}, /* a key twice */
        {"Vendor=a", false},
        {"vendor=a,t@sys=1", true},
        {"vendor=a,t@Sys=1", false},
        {"vendor=a b", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct td *t = td_new((uint8_t)i);
        td_span(t, 1, 2)->trace_state = (char *)cases[i].ts;
        if (decide_one(ps, t, 0) != cases[i].want)
            fail_msg("tracestate '%s': want %d", cases[i].ts, cases[i].want);
        free(t);
    }
    /* More than 32 members is invalid. */
    char many[40 * 8] = "";
    for (int k = 0; k < 33; k++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=1", k ? "," : "", k);
    struct td *t = td_new(99);
    td_span(t, 1, 2)->trace_state = many;
    strcat(many, ",vendor=a");
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_not(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "not-errors", "type", "not", "not_sub_policy", "errors", END);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    struct sampling_policies *ps = compile_ok(&c);
    assert_int_equal(sampling_policy_count_top_level(ps), 1);
    struct td *t = td_new(1);
    td_status(t, td_span(t, 1, 2), 2);
    assert_false(decide_one(ps, t, 0));
    free(t);
    t = td_new(2);
    td_status(t, td_span(t, 1, 2), 1);
    assert_true(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);

    /* not under and and under drop. */
    add_policy(&c, "ok-not-health", "type", "and", "and_sub_policy", "ok, not-health", END);
    add_policy(&c, "ok", "type", "status_code", "status_codes", "OK", END);
    add_policy(&c, "not-health", "type", "not", "not_sub_policy", "health", END);
    add_policy(&c, "health", "type", "string_attribute", "key", "route", "values", "/healthz", END);
    add_policy(&c, "drop-unset", "type", "drop", "drop_sub_policy", "not-set", END);
    add_policy(&c, "not-set", "type", "not", "not_sub_policy", "set", END);
    add_policy(&c, "set", "type", "status_code", "status_codes", "OK, ERROR", END);
    ps = compile_ok(&c);
    assert_int_equal(sampling_policy_count_top_level(ps), 2);
    t = td_new(3);
    td_status(t, td_span(t, 1, 2), 1);
    assert_true(decide_one(ps, t, 0));
    free(t);
    t = td_new(4);
    Span *sp = td_span(t, 1, 2);
    td_status(t, sp, 1);
    td_str(t, sp, "route", "/healthz");
    assert_false(decide_one(ps, t, 0));
    free(t);
    t = td_new(5); /* UNSET only: dropped */
    td_span(t, 1, 2);
    assert_false(decide_one(ps, t, 0));
    free(t);
    sampling_policy_free(ps);
}

static void test_sample_on_first_match(void **state)
{
    (void)state;
    /* A rate_limiting policy after one that samples: without the option it spends its budget
     * on the trace, with it it never sees the trace. */
    for (int first = 0; first < 2; first++) {
        struct process_conf c = {0};
        c.tail_sampling.sample_on_first_match = first;
        add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
        add_policy(&c, "budget", "type", "rate_limiting", "spans_per_second", "1", END);
        struct sampling_policies *ps = compile_ok(&c);
        struct td *t = td_new(1);
        td_status(t, td_span(t, 1, 2), 2);
        assert_true(decide_one(ps, t, 1000));
        free(t);
        t = td_new(2);
        td_span(t, 1, 2);
        assert_int_equal(decide_one(ps, t, 1000), first);
        free(t);
        sampling_policy_free(ps);
    }
}

static void test_bytes_limiting(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "budget", "type", "bytes_limiting", "bytes_per_second", "1000", END);
    struct sampling_policies *ps = compile_ok(&c);
    static const uint8_t id[16] = {1};
    uint64_t match[4] = {0};
    static const struct {
        uint64_t now_ms, bytes;
        bool want;
    } steps[] = {
        {1000, 1500, true},   /* the bucket starts full: the burst, 2 s worth */
        {1000, 1500, false},  /* 500 left */
        {2000, 1500, true},   /* refilled by 1000 in a second */
        {2000, 1, false},     /* empty */
        {10000, 2001, false}, /* refilled to the burst, never beyond */
        {10000, 2000, true},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct sampling_summary sum = {.n_spans = 1, .n_bytes = steps[i].bytes};
        if (sampling_policy_decide(ps, id, &sum, match, steps[i].now_ms) != steps[i].want)
            fail_msg("step %zu: want %d", i, steps[i].want);
    }
    sampling_policy_free(ps);

    add_policy(&c, "budget", "type", "bytes_limiting", "bytes_per_second", "10", "burst_capacity",
               "5000", END);
    ps = compile_ok(&c);
    struct sampling_summary sum = {.n_spans = 1, .n_bytes = 5000};
    assert_true(sampling_policy_decide(ps, id, &sum, match, 1));
    assert_false(sampling_policy_decide(ps, id, &sum, match, 2));
    sampling_policy_free(ps);

    add_policy(&c, "budget", "type", "bytes_limiting", "bytes_per_second", "0", END);
    compile_fails(&c, "[tail_sampling.policy.budget] bytes_per_second: must be greater than 0");
}

static void test_composite(void **state)
{
    (void)state;
    /* 10 spans a second: errors 60 % (6), everything else the equal share (5). */
    struct process_conf c = {0};
    add_policy(&c, "mix", "type", "composite", "max_total_spans_per_second", "10",
               "composite_sub_policy", "errors, rest", "rate_allocation", "errors=60",
               "policy_order", "errors, rest", END);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    add_policy(&c, "rest", "type", "always_sample", END);
    struct sampling_policies *ps = compile_ok(&c);
    assert_int_equal(sampling_policy_count_top_level(ps), 1);
    static const uint8_t id[16] = {1};
    uint64_t match[4] = {0};
    struct sampling_summary err3 = {.n_spans = 3, .status_mask = 1u << 2};
    struct sampling_summary ok3 = {.n_spans = 3, .status_mask = 1u << 1};
    assert_true(sampling_policy_decide(ps, id, &err3, match, 1000));
    assert_true(sampling_policy_decide(ps, id, &err3, match, 1000)); /* 6 of 6 */
    /* The first sub-policy that samples decides: no fallback to rest's share. */
    assert_false(sampling_policy_decide(ps, id, &err3, match, 1000));
    assert_true(sampling_policy_decide(ps, id, &ok3, match, 1000));
    assert_false(sampling_policy_decide(ps, id, &ok3, match, 1000)); /* 6 > 5 */
    assert_true(sampling_policy_decide(ps, id, &err3, match, 2000)); /* a new second */
    sampling_policy_free(ps);

    add_policy(&c, "mix", "type", "composite", "max_total_spans_per_second", "10",
               "composite_sub_policy", "errors", "rate_allocation", "nope=5", END);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    compile_fails(&c, "[tail_sampling.policy.mix] rate_allocation: 'nope' is not one of "
                      "composite_sub_policy");

    add_policy(&c, "mix", "type", "composite", "max_total_spans_per_second", "10",
               "composite_sub_policy", "n", END);
    add_policy(&c, "n", "type", "not", "not_sub_policy", "errors", END);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    compile_fails(&c, "[tail_sampling.policy.mix] composite_sub_policy: 'n' is a not policy; a "
                      "sub-policy of composite cannot be drop, not or composite");

    add_policy(&c, "mix", "type", "composite", "composite_sub_policy", "errors", END);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    compile_fails(&c, "[tail_sampling.policy.mix] max_total_spans_per_second: required but not "
                      "set");
}

static void test_config_errors(void **state)
{
    (void)state;
    struct process_conf c = {0};

    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR,EROR", END);
    compile_fails(&c, "[tail_sampling.policy.errors] status_codes: 'EROR' is not a status code "
                      "(want OK, ERROR, UNSET)");

    add_policy(&c, "x", "threshold_ms", "5", END);
    compile_fails(
        &c, "[tail_sampling.policy.x] type: required but not set (want one of "
            "always_sample, latency, status_code, probabilistic, string_attribute, "
            "numeric_attribute, boolean_attribute, span_count, rate_limiting, "
            "ottl_condition, and, drop, not, trace_flags, trace_state, bytes_limiting, composite)");

    add_policy(&c, "x", "type", "latncy", END);
    compile_fails(
        &c, "[tail_sampling.policy.x] type: 'latncy' is not a policy type (want one "
            "of always_sample, latency, status_code, probabilistic, string_attribute, "
            "numeric_attribute, boolean_attribute, span_count, rate_limiting, "
            "ottl_condition, and, drop, not, trace_flags, trace_state, bytes_limiting, composite)");

    add_policy(&c, "slow", "type", "latency", "threshold", "5", END);
    compile_fails(&c, "[tail_sampling.policy.slow] threshold: unknown key for type latency "
                      "(valid keys: type, threshold_ms, upper_threshold_ms)");

    add_policy(&c, "all", "type", "always_sample", "values", "x", END);
    compile_fails(&c, "[tail_sampling.policy.all] values: unknown key for type always_sample "
                      "(valid keys: type)");

    add_policy(&c, "slow", "type", "latency", "threshold_ms", "5s", END);
    compile_fails(&c, "[tail_sampling.policy.slow] threshold_ms: want a non-negative integer, "
                      "got '5s'");

    add_policy(&c, "slow", "type", "latency", "threshold_ms", "50", "upper_threshold_ms", "50",
               END);
    compile_fails(&c, "[tail_sampling.policy.slow] upper_threshold_ms: 50 must be greater than "
                      "threshold_ms 50");

    add_policy(&c, "slow", "type", "latency", END);
    compile_fails(&c, "[tail_sampling.policy.slow] threshold_ms: required but not set (or set "
                      "upper_threshold_ms)");

    add_policy(&c, "p", "type", "probabilistic", "sampling_percentage", "101", END);
    compile_fails(&c, "[tail_sampling.policy.p] sampling_percentage: want a number from 0 to "
                      "100, got '101'");

    add_policy(&c, "s", "type", "string_attribute", "key", "k", END);
    compile_fails(&c, "[tail_sampling.policy.s] values: required but not set");

    add_policy(&c, "s", "type", "string_attribute", "values", "a", END);
    compile_fails(&c, "[tail_sampling.policy.s] key: required but not set");

    add_policy(&c, "s", "type", "string_attribute", "key", "k", "values", "a(",
               "enabled_regex_matching", "true", END);
    compile_fails(&c, "[tail_sampling.policy.s] values: 'a(' is not a valid regular expression: "
                      "missing closing parenthesis at offset 2");

    add_policy(&c, "s", "type", "string_attribute", "key", "k", "values", "a", "invert_match",
               "maybe", END);
    compile_fails(&c, "[tail_sampling.policy.s] invert_match: want true or false (or yes/no, "
                      "on/off, 1/0), got 'maybe'");

    add_policy(&c, "n", "type", "numeric_attribute", "key", "k", "min_value", "10", "max_value",
               "5", END);
    compile_fails(&c, "[tail_sampling.policy.n] max_value: 5 is less than min_value 10");

    add_policy(&c, "n", "type", "numeric_attribute", "key", "k", "min_value", "1.5", END);
    compile_fails(&c, "[tail_sampling.policy.n] min_value: want an integer, got '1.5'");

    add_policy(&c, "n", "type", "numeric_attribute", "key", "k", END);
    compile_fails(&c, "[tail_sampling.policy.n] min_value: required but not set (or set "
                      "max_value)");

    add_policy(&c, "b", "type", "boolean_attribute", "key", "k", END);
    compile_fails(&c, "[tail_sampling.policy.b] value: required but not set (want true or "
                      "false)");

    add_policy(&c, "sc", "type", "span_count", "min_spans", "5", "max_spans", "2", END);
    compile_fails(&c, "[tail_sampling.policy.sc] max_spans: 2 is less than min_spans 5");

    add_policy(&c, "rl", "type", "rate_limiting", "spans_per_second", "0", END);
    compile_fails(&c, "[tail_sampling.policy.rl] spans_per_second: must be greater than 0");

    add_policy(&c, "a", "type", "and", "and_sub_policy", "b, nope", END);
    add_policy(&c, "b", "type", "always_sample", END);
    compile_fails(&c, "[tail_sampling.policy.a] and_sub_policy: no [tail_sampling.policy.nope] "
                      "section");

    add_policy(&c, "a", "type", "and", "and_sub_policy", "d", END);
    add_policy(&c, "d", "type", "drop", "drop_sub_policy", "a", END);
    compile_fails(&c, "[tail_sampling.policy.a] and_sub_policy: 'd' is a drop policy; a "
                      "sub-policy of and cannot be and, drop or composite");

    add_policy(&c, "n", "type", "not", "not_sub_policy", "n2", END);
    add_policy(&c, "n2", "type", "not", "not_sub_policy", "b", END);
    add_policy(&c, "b", "type", "always_sample", END);
    compile_fails(&c, "[tail_sampling.policy.n] not_sub_policy: 'n2' is a not policy; a "
                      "sub-policy of not cannot be and, drop, not or composite");

    add_policy(&c, "n", "type", "not", "not_sub_policy", "b, b2", END);
    add_policy(&c, "b", "type", "always_sample", END);
    add_policy(&c, "b2", "type", "always_sample", END);
    compile_fails(&c, "[tail_sampling.policy.n] not_sub_policy: takes one policy, got 2");

    add_policy(&c, "n", "type", "not", END);
    compile_fails(&c, "[tail_sampling.policy.n] not_sub_policy: required but not set (names of "
                      "other [tail_sampling.policy.NAME] sections)");

    add_policy(&c, "ts", "type", "trace_state", "key", "vendor", END);
    compile_fails(&c, "[tail_sampling.policy.ts] values: required but not set");

    add_policy(&c, "ts", "type", "trace_state", "values", "a", END);
    compile_fails(&c, "[tail_sampling.policy.ts] key: required but not set");

    add_policy(&c, "tf", "type", "trace_flags", "key", "a", END);
    compile_fails(&c, "[tail_sampling.policy.tf] key: unknown key for type trace_flags (valid "
                      "keys: type)");

    add_policy(&c, "a", "type", "and", "and_sub_policy", "a", END);
    compile_fails(&c, "[tail_sampling.policy.a] and_sub_policy: 'a' is this section itself");

    add_policy(&c, "d", "type", "drop", END);
    compile_fails(&c, "[tail_sampling.policy.d] drop_sub_policy: required but not set (names of "
                      "other [tail_sampling.policy.NAME] sections)");

    add_policy(&c, "o", "type", "ottl_condition", "error_mode", "loud", END);
    compile_fails(&c, "[tail_sampling.policy.o] error_mode: want one of propagate|ignore|silent, "
                      "got 'loud'");

    add_policy(&c, "o", "type", "ottl_condition", END);
    compile_fails(&c, "[tail_sampling.policy.o] span: required but not set (or set spanevent)");
}

static void test_config_ottl_errors(void **state)
{
    (void)state;
    struct process_conf c = {0};
    struct sampling_policies *ps = NULL;
    struct kt_err err = {0};
    add_policy(&c, "o", "type", "ottl_condition", "span", "span.name ==", END);
    assert_int_equal(sampling_policy_compile(c.tail_sampling.policies, c.tail_sampling.n_policies,
                                             false, &ps, &err),
                     KT_EINVAL);
    process_conf_free(&c);
    assert_null(ps);
    assert_true(strncmp(err.msg, "[tail_sampling.policy.o] span: ", 31) == 0);

    memset(&c, 0, sizeof(c));
    add_policy(&c, "o", "type", "ottl_condition", "span", "span.name == \"a\"", "spanevent",
               "log.body == \"x\"", END);
    assert_int_equal(sampling_policy_compile(c.tail_sampling.policies, c.tail_sampling.n_policies,
                                             false, &ps, &err),
                     KT_EINVAL);
    process_conf_free(&c);
    assert_true(strncmp(err.msg, "[tail_sampling.policy.o] spanevent: ", 36) == 0);
}

/* ---- fields read ---- */

#define F(id) OTTL_FIELD(OTTL_P_##id)
/* Read by every configuration: each trace's summary (times, status) and its ID. */
#define SUMMARY (F(SPAN_START) | F(SPAN_END) | F(SPAN_STATUS_CODE) | F(SPAN_TRACE_ID))

static ottl_fields fields_of(struct process_conf *c)
{
    struct sampling_policies *ps = compile_ok(c);
    ottl_fields f = sampling_policy_fields(ps);
    sampling_policy_free(ps);
    return f;
}

static void test_fields(void **state)
{
    (void)state;
    struct process_conf c = {0};
    add_policy(&c, "errors", "type", "status_code", "status_codes", "ERROR", END);
    assert_int_equal(fields_of(&c), SUMMARY);
    add_policy(&c, "some", "type", "probabilistic", "sampling_percentage", "10", END);
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "100", END);
    add_policy(&c, "few", "type", "span_count", "min_spans", "2", END);
    assert_int_equal(fields_of(&c), SUMMARY);

    /* Attribute policies look in span and resource attributes alike. */
    const char *const attr_policies[][5] = {
        {"string_attribute", "key", "tier", "values", "gold"},
        {"numeric_attribute", "key", "http.status_code", "min_value", "500"},
        {"boolean_attribute", "key", "debug", "value", "true"},
    };
    for (size_t i = 0; i < 3; i++) {
        const char *const *a = attr_policies[i];
        add_policy(&c, "attr", "type", a[0], a[1], a[2], a[3], a[4], END);
        assert_int_equal(fields_of(&c), SUMMARY | F(SPAN_ATTRS) | F(RESOURCE_ATTRS));
    }

    add_policy(&c, "o", "type", "ottl_condition", "span", "span.name == \"checkout\"", "span",
               "IsRootSpan() and scope.version == \"2\"", END);
    assert_int_equal(fields_of(&c), SUMMARY | F(SPAN_NAME) | F(SPAN_PARENT_ID) | F(SCOPE_VERSION));

    /* An event condition runs once per event, so the events must be there even when it
     * names span paths only. */
    add_policy(&c, "e", "type", "ottl_condition", "spanevent", "span.kind == 2", END);
    assert_int_equal(fields_of(&c),
                     SUMMARY | F(SPAN_KIND) | F(SPANEVENT_NAME) | F(SPANEVENT_ATTRS));
    add_policy(&c, "e", "type", "ottl_condition", "span", "resource.attributes[\"a\"] == nil",
               "spanevent", "spanevent.time_unix_nano > 0", END);
    assert_int_equal(fields_of(&c), SUMMARY | F(RESOURCE_ATTRS) | F(SPANEVENT_NAME) |
                                        F(SPANEVENT_TIME) | F(SPANEVENT_ATTRS));

    /* Sub-policies read as much as top-level ones. */
    add_policy(&c, "both", "type", "and", "and_sub_policy", "dbg, slow", END);
    add_policy(&c, "dbg", "type", "boolean_attribute", "key", "debug", "value", "true", END);
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "100", END);
    assert_int_equal(fields_of(&c), SUMMARY | F(SPAN_ATTRS) | F(RESOURCE_ATTRS));
}

/* What the policies decide on a trace decoded with only the fields they say they read is
 * what they decide on the full decode. Each configuration samples the trace, so a field
 * missing from the set shows as a trace not sampled. */
static void test_fields_suffice_for_decisions(void **state)
{
    (void)state;
    static const char *const configs[][5] = {
        {"status_code", "status_codes", "ERROR"},
        {"latency", "threshold_ms", "50"},
        {"string_attribute", "key", "service.name", "values", "cart"},
        {"string_attribute", "key", "tier", "values", "gold"},
        {"ottl_condition", "span", "resource.attributes[\"service.name\"] == \"cart\""},
        {"ottl_condition", "span", "scope.name == \"lib\" and IsRootSpan()"},
        {"ottl_condition", "span", "span.attributes[\"tier\"] == \"gold\""},
        {"ottl_condition", "spanevent", "span.name == \"op\""},
        {"ottl_condition", "spanevent", "spanevent.name == \"exception\""},
    };
    struct td *t = td_new(7);
    Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = "lib";
    t->ss.scope = &scope;
    td_str(t, NULL, "service.name", "cart");
    Span *sp = td_span(t, 1000 * MS, 1060 * MS);
    td_str(t, sp, "tier", "gold");
    td_event(t, sp, "exception");
    td_status(t, sp, 2);
    td_span(t, 1000 * MS, 1010 * MS)->parent_span_id = sp->span_id;
    size_t n = opentelemetry__proto__trace__v1__traces_data__get_packed_size(&t->td);
    uint8_t *enc = malloc(n);
    assert_non_null(enc);
    assert_int_equal(opentelemetry__proto__trace__v1__traces_data__pack(&t->td, enc), n);
    struct kt_slice msg = {enc, n};
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    size_t n_keyed = 0;

    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        const char *const *k = configs[i];
        struct process_conf c = {0};
        if (k[3] != NULL)
            add_policy(&c, "p", "type", k[0], k[1], k[2], k[3], k[4], END);
        else
            add_policy(&c, "p", "type", k[0], k[1], k[2], END);
        struct sampling_policies *ps = compile_ok(&c);
        ottl_fields need = sampling_policy_fields(ps);
        TracesData *full, *decoded;
        assert_int_equal(trace_decode(msg, TRACE_DECODE_ALL, &a, &full), 0);
        assert_int_equal(trace_decode(msg, need, &a, &decoded), 0);
        struct trace_state st;
        memset(&st, 0, sizeof(st));
        sampling_policy_observe(ps, full, &st.sum, st.match);
        if (!sampling_policy_decide(ps, t->tid, &st.sum, st.match, 0))
            fail_msg("%s %s: not sampled on the full decode", k[0], k[2]);
        memset(&st, 0, sizeof(st));
        sampling_policy_observe(ps, decoded, &st.sum, st.match);
        if (!sampling_policy_decide(ps, t->tid, &st.sum, st.match, 0))
            fail_msg("%s %s: not sampled on the decode of the fields it reads", k[0], k[2]);
        /* Span attributes read by key: from the spans' bytes, as the pipeline plans it. */
        ottl_fields keyed = (need & ~F(SPAN_ATTRS)) | F(SPAN_ATTRS_KEYED);
        if ((need & F(SPAN_ATTRS)) && sampling_policy_keyed_span_attrs(ps) &&
            !trace_decode_needs_full(keyed)) {
            assert_int_equal(trace_decode(msg, keyed, &a, &decoded), 0);
            memset(&st, 0, sizeof(st));
            sampling_policy_observe(ps, decoded, &st.sum, st.match);
            if (!sampling_policy_decide(ps, t->tid, &st.sum, st.match, 0))
                fail_msg("%s %s: not sampled on spans keeping their attributes as bytes", k[0],
                         k[2]);
            n_keyed++;
        }
        sampling_policy_free(ps);
        kt_arena_reset(&a);
    }
    assert_int_equal(n_keyed, 3); /* two string_attribute, one span.attributes["tier"] */
    kt_arena_free(&a);
    free(enc);
    free(t);
}

int main(void)
{
    kt_log_set_level(KT_LOG_ERROR); /* failing OTTL conditions warn on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_sample),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_latency_upper),
        cmocka_unit_test(test_status_code),
        cmocka_unit_test(test_probabilistic),
        cmocka_unit_test(test_probabilistic_matches_the_collector),
        cmocka_unit_test(test_string_attribute),
        cmocka_unit_test(test_string_attribute_regex_invert),
        cmocka_unit_test(test_numeric_attribute),
        cmocka_unit_test(test_boolean_attribute),
        cmocka_unit_test(test_span_count),
        cmocka_unit_test(test_rate_limiting),
        cmocka_unit_test(test_and_policy),
        cmocka_unit_test(test_drop_policy),
        cmocka_unit_test(test_any_policy_samples),
        cmocka_unit_test(test_ottl_condition),
        cmocka_unit_test(test_ottl_error_mode),
        cmocka_unit_test(test_trace_flags),
        cmocka_unit_test(test_trace_state),
        cmocka_unit_test(test_not),
        cmocka_unit_test(test_sample_on_first_match),
        cmocka_unit_test(test_bytes_limiting),
        cmocka_unit_test(test_composite),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_ottl_errors),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_fields_suffice_for_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
