/* Tests for kt_otlp_wire: requests are built with the generated protobuf-c structs,
 * validated and split by the wire-level code, and the chunks are unpacked again with
 * protobuf-c to check what arrived where.
 *
 * With KT_OTLP_WIRE_SEED_DIR set, the binary runs no tests and writes fuzzing seeds (requests
 * built like the tests') into that directory instead: that is how
 * test/fuzz/corpus/otlp_wire was made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_codec.h"
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

static void *A(size_t n)
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

static char *S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *S(const char *fmt, ...)
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

static int teardown(void **state)
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
    static T *new_##T(void)                                                                        \
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

static AnyValue *av_str(const char *v)
{
    AnyValue *a = new_AnyValue();
    a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    a->string_value = (char *)v;
    return a;
}

static KeyValue *kv_str(const char *k, const char *v)
{
    KeyValue *kv = new_KeyValue();
    kv->key = (char *)k;
    kv->value = av_str(v);
    return kv;
}

static KeyValue *kv_int(const char *k, int64_t v)
{
    KeyValue *kv = new_KeyValue();
    kv->key = (char *)k;
    kv->value = new_AnyValue();
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    kv->value->int_value = v;
    return kv;
}

static const AnyValue *find_attr(KeyValue **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i]->value;
    return NULL;
}

static int64_t int_attr(KeyValue **kv, size_t n, const char *key)
{
    const AnyValue *v = find_attr(kv, n, key);
    assert_non_null(v);
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    return v->int_value;
}

static const char *str_attr(KeyValue **kv, size_t n, const char *key)
{
    const AnyValue *v = find_attr(kv, n, key);
    assert_non_null(v);
    assert_int_equal(v->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    return v->string_value;
}

static Resource *resource(int r)
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

static Scope *scope(int r, int s)
{
    Scope *sc = new_Scope();
    sc->name = S("scope-%d-%d", r, s);
    sc->version = "1.2.3";
    sc->n_attributes = 1;
    sc->attributes = ARR(KeyValue, 1);
    sc->attributes[0] = kv_str("lib", "kotel-test");
    return sc;
}

static void trace_id_of(int t, uint8_t id[16])
{
    memset(id, 0x11, 16);
    id[0] = 0x5b;
    id[1] = (uint8_t)(t >> 16);
    id[2] = (uint8_t)(t >> 8);
    id[3] = (uint8_t)t;
}

static void span_id_of(int g, uint8_t id[8])
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

static Span *span(int r, int s, int g, const struct tshape *sh)
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
    sp->start_time_unix_nano = 1700000000000000000ULL + (uint64_t)g;
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

static TracesData *build_traces(const struct tshape *sh)
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

static struct kt_slice pack_traces(const TracesData *td)
{
    size_t n = opentelemetry__proto__trace__v1__traces_data__get_packed_size(td);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__trace__v1__traces_data__pack(td, p), n);
    return (struct kt_slice){p, n};
}

static int trace_by_tens(int g)
{
    return g / 10;
}
static int trace_mod3(int g)
{
    return g % 3;
}
static int trace_zero(int g)
{
    return g * 0;
}
static int trace_mixed_empty(int g)
{
    return g % 4 == 1 ? -1 : g % 2;
}

/* ---- chunk checks ---- */

struct result {
    struct kt_buf out;
    struct kt_otlp_chunks chunks;
    size_t n_rejected;
    struct kt_err err;
    int rc;
};

static void result_free(struct result *r)
{
    kt_buf_free(&r->out);
    kt_otlp_chunks_free(&r->chunks);
}

static void split(enum kt_signal sig, struct kt_slice msg, enum kt_otlp_key_mode mode, size_t max,
                  struct result *r)
{
    memset(r, 0, sizeof(*r));
    size_t n = 0;
    struct kt_err verr = {0, ""};
    int vrc = kt_otlp_validate(sig, msg, &n, &verr);
    if (vrc != 0)
        fail_msg("input does not validate: %s", verr.msg);
    struct kt_otlp_split_opts o = {mode, max};
    r->rc = kt_otlp_split(sig, msg, &o, &r->out, &r->chunks, &r->n_rejected, &r->err);
}

static struct kt_slice chunk_bytes(const struct result *r, size_t i)
{
    return (struct kt_slice){r->out.p + r->chunks.v[i].off, r->chunks.v[i].len};
}

/* Every chunk unpacks and validates, stays within max, and all chunks concatenated form one
 * valid message holding want_items items. */
static void check_chunks_common(enum kt_signal sig, const struct result *r, size_t max,
                                size_t want_items)
{
    struct kt_buf cat = KT_BUF_INIT;
    size_t total = 0;
    for (size_t i = 0; i < r->chunks.n; i++) {
        struct kt_slice b = chunk_bytes(r, i);
        if (max > 0 && b.n > max)
            fail_msg("chunk %zu is %zu bytes, over %zu", i, b.n, max);
        size_t n = 0;
        struct kt_err err = {0, ""};
        if (kt_otlp_validate(sig, b, &n, &err) != 0)
            fail_msg("chunk %zu does not validate: %s", i, err.msg);
        assert_int_equal(n, r->chunks.v[i].n_items);
        assert_true(n > 0);
        total += n;
        assert_int_equal(kt_buf_append(&cat, b.p, b.n), 0);
    }
    assert_int_equal(total, want_items);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(sig, kt_buf_slice(&cat), &n, NULL), 0);
    assert_int_equal(n, want_items);
    if (sig == KT_SIGNAL_TRACES) {
        TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, cat.len, cat.p);
        assert_non_null(td);
        opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    } else if (sig == KT_SIGNAL_METRICS) {
        MetricsData *md =
            opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, cat.len, cat.p);
        assert_non_null(md);
        opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    } else {
        LogsData *ld = opentelemetry__proto__logs__v1__logs_data__unpack(NULL, cat.len, cat.p);
        assert_non_null(ld);
        opentelemetry__proto__logs__v1__logs_data__free_unpacked(ld, NULL);
    }
    kt_buf_free(&cat);
}

/* Unpacks every trace chunk and checks each span arrived once, under its own resource and
 * scope, and (keyed) in a chunk whose key is its trace ID. */
static void check_trace_chunks(const struct result *r, const struct tshape *sh, size_t max,
                               bool keyed, int skip_span)
{
    int n_spans = sh->n_res * sh->n_scope * sh->n_span;
    check_chunks_common(KT_SIGNAL_TRACES, r, max, (size_t)(n_spans - (skip_span >= 0)));
    int *seen = A(sizeof(int) * (size_t)n_spans);
    for (size_t i = 0; i < r->chunks.n; i++) {
        struct kt_slice b = chunk_bytes(r, i);
        TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, b.n, b.p);
        assert_non_null(td);
        const char *key = r->chunks.v[i].key;
        for (size_t a = 0; a < td->n_resource_spans; a++) {
            ResourceSpans *rs = td->resource_spans[a];
            assert_non_null(rs->resource);
            assert_true(rs->n_scope_spans > 0);
            int rr = (int)int_attr(rs->resource->attributes, rs->resource->n_attributes, "r");
            assert_string_equal(
                str_attr(rs->resource->attributes, rs->resource->n_attributes, "service.name"),
                S("svc-%d", rr));
            assert_int_equal(rs->resource->dropped_attributes_count, rr);
            assert_string_equal(rs->schema_url, S("https://opentelemetry.io/schemas/1.%d.0", rr));
            for (size_t b2 = 0; b2 < rs->n_scope_spans; b2++) {
                ScopeSpans *ss = rs->scope_spans[b2];
                assert_non_null(ss->scope);
                assert_true(ss->n_spans > 0);
                for (size_t c = 0; c < ss->n_spans; c++) {
                    Span *sp = ss->spans[c];
                    int g = (int)int_attr(sp->attributes, sp->n_attributes, "g");
                    int s = (int)int_attr(sp->attributes, sp->n_attributes, "s");
                    assert_int_equal(int_attr(sp->attributes, sp->n_attributes, "r"), rr);
                    assert_string_equal(ss->scope->name, S("scope-%d-%d", rr, s));
                    assert_string_equal(ss->scope->version, "1.2.3");
                    assert_string_equal(
                        str_attr(ss->scope->attributes, ss->scope->n_attributes, "lib"),
                        "kotel-test");
                    assert_string_equal(ss->schema_url, S("scope-schema-%d-%d", rr, s));
                    assert_true(g >= 0 && g < n_spans);
                    seen[g]++;
                    if (keyed) {
                        char hex[33] = "";
                        if (sp->trace_id.len == 16)
                            kt_hex_encode(sp->trace_id.data, 16, hex);
                        assert_string_equal(key, hex);
                    } else {
                        assert_string_equal(key, "");
                    }
                }
            }
        }
        opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    }
    for (int g = 0; g < n_spans; g++)
        assert_int_equal(seen[g], g == skip_span ? 0 : 1);
}

/* Full chunks: each chunk but a key's last had no room for the next chunk's first span. */
static void check_trace_chunks_full(const struct result *r, size_t max)
{
    for (size_t i = 0; i + 1 < r->chunks.n; i++) {
        for (size_t j = i + 1; j < r->chunks.n; j++) {
            if (strcmp(r->chunks.v[i].key, r->chunks.v[j].key) != 0)
                continue;
            struct kt_slice b = chunk_bytes(r, j);
            TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, b.n, b.p);
            Span *first = td->resource_spans[0]->scope_spans[0]->spans[0];
            size_t sz = opentelemetry__proto__trace__v1__span__get_packed_size(first);
            sz += 1 + (sz >= 128) + (sz >= 16384);
            if (r->chunks.v[i].len + sz <= max)
                fail_msg("chunk %zu (%zu bytes) had room for a %zu-byte span", i,
                         r->chunks.v[i].len, sz);
            opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
            break;
        }
    }
}

/* ---- hand-written protobuf for inputs protobuf-c would not produce ---- */

static void put_varint(struct kt_buf *b, uint32_t num, uint64_t v)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3), 0);
    assert_int_equal(kt_buf_append_varint(b, v), 0);
}

static void put_fixed64(struct kt_buf *b, uint32_t num, uint64_t v)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3 | 1), 0);
    assert_int_equal(kt_buf_append(b, &v, 8), 0);
}

static void put_bytes(struct kt_buf *b, uint32_t num, const void *p, size_t n)
{
    assert_int_equal(kt_buf_append_varint(b, (uint64_t)num << 3 | 2), 0);
    assert_int_equal(kt_buf_append_varint(b, n), 0);
    assert_int_equal(kt_buf_append(b, p, n), 0);
}

/* Wraps inner as field num of a new message, consuming inner. */
static struct kt_buf wrap(uint32_t num, struct kt_buf inner)
{
    struct kt_buf b = KT_BUF_INIT;
    put_bytes(&b, num, inner.p, inner.len);
    kt_buf_free(&inner);
    return b;
}

/* TracesData { resource_spans { scope_spans { spans { <span payload> } } } } */
static struct kt_buf traces_around_span(struct kt_buf span_payload)
{
    return wrap(1, wrap(2, wrap(2, span_payload)));
}

static struct kt_buf valid_span_payload(void)
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

static void expect_invalid(enum kt_signal sig, struct kt_slice msg, const char *want_substr)
{
    struct kt_err err = {0, ""};
    size_t n = 12345;
    int rc = kt_otlp_validate(sig, msg, &n, &err);
    if (rc != KT_EINVAL)
        fail_msg("want KT_EINVAL, got %d (%s)", rc, err.msg);
    assert_int_equal(err.code, KT_EINVAL);
    if (strstr(err.msg, want_substr) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, want_substr);
    assert_int_equal(n, 12345);
    /* The NULL-err form must fail the same way. */
    assert_int_equal(kt_otlp_validate(sig, msg, NULL, NULL), KT_EINVAL);
}

/* ---- metrics and logs builders ---- */

static NumberDP *number_dp(int p)
{
    NumberDP *dp = new_NumberDP();
    dp->n_attributes = 2;
    dp->attributes = ARR(KeyValue, 2);
    dp->attributes[0] = kv_int("p", p);
    dp->attributes[1] = kv_str("http.route", S("/api/items/%d", p));
    dp->time_unix_nano = 1700000000000000000ULL + (uint64_t)p;
    dp->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    dp->as_double = p * 1.5;
    return dp;
}

static Metric *metric(const char *name)
{
    Metric *m = new_Metric();
    m->name = (char *)name;
    m->description = S("description of %s", name);
    m->unit = "ms";
    return m;
}

/* One metric of each of the five kinds, n points each; point attributes "p" number all
 * points 0..5n-1. */
static MetricsData *build_metrics(int n, int n_res)
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

static struct kt_slice pack_metrics(const MetricsData *md)
{
    size_t n = opentelemetry__proto__metrics__v1__metrics_data__get_packed_size(md);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__metrics__v1__metrics_data__pack(md, p), n);
    return (struct kt_slice){p, n};
}

/* Point attribute "p" of any kind of data point of m, appended to seen[]. */
static void mark_points(const Metric *m, int *seen, int n_points)
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

static LogsData *build_logs(int n_res, int n_logs, bool with_trace)
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
            lr->time_unix_nano = 1700000000000000000ULL + (uint64_t)g;
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

static struct kt_slice pack_logs(const LogsData *ld)
{
    size_t n = opentelemetry__proto__logs__v1__logs_data__get_packed_size(ld);
    uint8_t *p = A(n);
    assert_int_equal(opentelemetry__proto__logs__v1__logs_data__pack(ld, p), n);
    return (struct kt_slice){p, n};
}

/* ==========================================================================================
 * Validation
 * ========================================================================================== */

static void test_validate_counts_spans_in_valid_traces(void **state)
{
    (void)state;
    struct tshape sh = {3, 2, 7, 4, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, msg, &n, &err), 0);
    assert_int_equal(n, 3 * 2 * 7);
}

static void test_validate_accepts_links_events_and_status(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    sp->n_links = 1;
    sp->links = ARR(Link, 1);
    Link *l = new_Link();
    l->trace_id = sp->trace_id;
    l->span_id = sp->span_id;
    l->flags = 0x301;
    l->n_attributes = 1;
    l->attributes = ARR(KeyValue, 1);
    l->attributes[0] = kv_str("link", "yes");
    sp->links[0] = l;
    sp->n_events = 1;
    sp->events = ARR(Event, 1);
    sp->events[0] = new_Event();
    sp->events[0]->name = "exception";
    sp->events[0]->time_unix_nano = 5;
    sp->status = new_Status();
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status->message = "boom \xe2\x9c\x93";
    sp->parent_span_id = sp->span_id;
    sp->flags = 0x100;
    sp->trace_state = "rojo=00f067aa0ba902b7";
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, NULL), 0);
    assert_int_equal(n, 1);

    /* A link's span_id must be 8 bytes too. */
    l->span_id.len = 7;
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[0].links[0].span_id: length 7, "
                   "want 8");
}

static void test_validate_counts_all_five_metric_kinds(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(3, 2);
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, pack_metrics(md), &n, &err), 0);
    assert_int_equal(n, 2 * 5 * 3);

    /* Each kind alone counts too. */
    for (size_t k = 0; k < 5; k++) {
        ScopeMetrics *sm = md->resource_metrics[0]->scope_metrics[0];
        Metric **all = sm->metrics;
        sm->metrics = &all[k];
        sm->n_metrics = 1;
        MetricsData one = *md;
        one.n_resource_metrics = 1;
        n = 0;
        assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, pack_metrics(&one), &n, &err), 0);
        assert_int_equal(n, 3);
        sm->metrics = all;
        sm->n_metrics = 5;
    }
}

static void test_validate_counts_log_records(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, pack_logs(build_logs(3, 5, true)), &n, NULL),
                     0);
    assert_int_equal(n, 15);
}

static void test_validate_accepts_empty_message(void **state)
{
    (void)state;
    for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++) {
        size_t n = 99;
        assert_int_equal(kt_otlp_validate(sig, (struct kt_slice){NULL, 0}, &n, NULL), 0);
        assert_int_equal(n, 0);
    }
}

static void test_validate_accepts_packed_and_unpacked_repeated_scalars(void **state)
{
    (void)state;
    /* HistogramDataPoint with bucket_counts and explicit_bounds one element per field. */
    struct kt_buf dp = KT_BUF_INIT;
    put_fixed64(&dp, 4, 3);
    put_fixed64(&dp, 6, 1);
    put_fixed64(&dp, 6, 1);
    put_fixed64(&dp, 6, 1);
    double b1 = 1.0, b2 = 2.0;
    uint64_t u;
    memcpy(&u, &b1, 8);
    put_fixed64(&dp, 7, u);
    memcpy(&u, &b2, 8);
    put_fixed64(&dp, 7, u);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, wrap(9, wrap(1, dp)))));
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);
    MetricsData *md = opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(md);
    HistogramDP *h =
        md->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    assert_int_equal(h->n_bucket_counts, 3);
    assert_int_equal(h->n_explicit_bounds, 2);
    opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    kt_buf_free(&msg);

    /* Exponential histogram buckets: uint64 varints, unpacked then packed. */
    struct kt_buf bk = KT_BUF_INIT;
    put_varint(&bk, 2, 7);
    put_varint(&bk, 2, 300);
    uint8_t packed[] = {0x05, 0xac, 0x02, 0x01};
    put_bytes(&bk, 2, packed, sizeof(packed));
    msg = wrap(1, wrap(2, wrap(2, wrap(10, wrap(1, wrap(8, bk))))));
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);
    md = opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(md);
    ExpHistogramDP *e = md->resource_metrics[0]
                            ->scope_metrics[0]
                            ->metrics[0]
                            ->exponential_histogram->data_points[0];
    assert_int_equal(e->positive->n_bucket_counts, 5);
    opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    kt_buf_free(&msg);
}

static void test_validate_skips_unknown_fields(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    put_varint(&sp, 100, 5);
    put_fixed64(&sp, 101, 5);
    put_bytes(&sp, 102, "\xff\xfe", 2); /* unknown: not checked as UTF-8 */
    assert_int_equal(kt_buf_append_varint(&sp, 103 << 3 | 5), 0);
    assert_int_equal(kt_buf_append(&sp, "abcd", 4), 0);
    struct kt_buf msg = traces_around_span(sp);
    put_varint(&msg, 77, 1); /* and at the top level */
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);

    /* They survive splitting, since spans are copied verbatim. */
    struct result r;
    split(KT_SIGNAL_TRACES, kt_buf_slice(&msg), KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 1);
    assert_non_null(memmem(r.out.p, r.out.len, "abcd", 4));
    result_free(&r);
    kt_buf_free(&msg);
}

static void test_validate_rejects_truncated_varint(void **state)
{
    (void)state;
    uint8_t top[] = {0x0a, 0x80};
    expect_invalid(KT_SIGNAL_TRACES, (struct kt_slice){top, sizeof(top)},
                   "resource_spans: truncated length varint (offset 0)");

    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_byte(&sp, 0x30), 0); /* kind, varint ... */
    assert_int_equal(kt_buf_append_byte(&sp, 0x81), 0); /* ... that never ends */
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0].kind: truncated varint (offset ");
    kt_buf_free(&msg);

    uint8_t tag[] = {0x0a, 0x01, 0x80};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){tag, sizeof(tag)},
                   "resource_logs[0]: truncated tag varint (offset 2)");
}

static void test_validate_rejects_overlong_varint(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_byte(&sp, 0x30), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(kt_buf_append_byte(&sp, 0xff), 0);
    assert_int_equal(kt_buf_append_byte(&sp, 0x01), 0);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].kind: over-long varint");
    kt_buf_free(&msg);

    /* Tags and lengths are 32-bit: padded past 5 bytes they are refused (protobuf-c would),
     * at 5 bytes they pass. */
    uint8_t tag6[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, tag6, sizeof(tag6)), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0]: over-long tag varint");
    kt_buf_free(&msg);
    uint8_t len6[] = {0x2a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'a'};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, len6, sizeof(len6)), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].name: over-long length varint");
    kt_buf_free(&msg);
    uint8_t len5[] = {0x2a, 0x81, 0x80, 0x80, 0x80, 0x00, 'a'};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, len5, sizeof(len5)), 0);
    msg = traces_around_span(sp);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), NULL, NULL), 0);
    kt_buf_free(&msg);
}

static void test_validate_rejects_length_past_end(void **state)
{
    (void)state;
    uint8_t top[] = {0x0a, 0x05, 0x12, 0x00};
    expect_invalid(KT_SIGNAL_METRICS, (struct kt_slice){top, sizeof(top)},
                   "resource_metrics: length 5 past the end of the enclosing message (2 bytes "
                   "left) (offset 0)");

    /* A span name longer than its span, though the request has the bytes. */
    struct kt_buf sp = KT_BUF_INIT;
    put_bytes(&sp, 5, "ab", 2);
    sp.p[1] = 40;
    struct kt_buf msg = traces_around_span(sp);
    for (int i = 0; i < 50; i++)
        put_varint(&msg, 9, 1);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].name: length 40 past the end");
    kt_buf_free(&msg);
}

static void test_validate_rejects_wrong_wire_type_for_known_field(void **state)
{
    (void)state;
    struct kt_buf sp = KT_BUF_INIT;
    put_varint(&sp, 1, 16);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0].trace_id: wire type 0 (varint), "
                   "want 2 (length-delimited)");
    kt_buf_free(&msg);

    /* start_time_unix_nano is fixed64, not varint. */
    sp = valid_span_payload();
    put_varint(&sp, 7, 1);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "start_time_unix_nano: wire type 0");
    kt_buf_free(&msg);
}

/* A span with every field the fast span check handles: errors in any of them, past many
 * valid ones, are reported as the generic walker reports them. */
static Span *full_span(TracesData **td)
{
    struct tshape sh = {1, 1, 1, 2, trace_zero, -1, 0};
    *td = build_traces(&sh);
    Span *sp = (*td)->resource_spans[0]->scope_spans[0]->spans[0];
    sp->trace_state = "rojo=00f067aa0ba902b7";
    sp->parent_span_id = sp->span_id;
    sp->dropped_attributes_count = 3;
    sp->n_events = 2;
    sp->events = ARR(Event, 2);
    for (int i = 0; i < 2; i++) {
        sp->events[i] = new_Event();
        sp->events[i]->name = "cache.miss";
        sp->events[i]->time_unix_nano = 5;
        sp->events[i]->dropped_attributes_count = 1;
        sp->events[i]->n_attributes = 2;
        sp->events[i]->attributes = ARR(KeyValue, 2);
        sp->events[i]->attributes[0] = kv_str("cache.key", "order:83412");
        sp->events[i]->attributes[1] = kv_int("cache.ttl_s", 300);
    }
    sp->dropped_events_count = 4;
    sp->dropped_links_count = 5;
    sp->status = new_Status();
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status->message = "deadline exceeded";
    sp->flags = 0x101;
    return sp;
}

static void test_validate_reports_errors_in_every_span_field(void **state)
{
    (void)state;
    TracesData *td;
    Span *sp = full_span(&td);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, NULL), 0);
    assert_int_equal(n, 1);

    const char *path = "resource_spans[0].scope_spans[0].spans[0].";
    sp->status->message = "bad \xc3\x28";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%sstatus.message: invalid UTF-8", path));
    sp = full_span(&td);
    sp->events[1]->attributes[0]->value->string_value = "\xff";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sevents[1].attributes[0].value.string_value: invalid UTF-8", path));
    sp = full_span(&td);
    sp->events[0]->name = "\xc0\xaf";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%sevents[0].name: invalid UTF-8", path));
    sp = full_span(&td);
    sp->attributes[4]->key = "\xed\xa0\x80";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sattributes[4].key: invalid UTF-8", path));
    sp = full_span(&td);
    sp->parent_span_id.len = 7;
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sparent_span_id: length 7, want 8", path));
    sp = full_span(&td);
    sp->trace_state = "\xf8\x88";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%strace_state: invalid UTF-8", path));
}

/* Fields in any order, and fields the fast check leaves to the walker, are still valid;
 * bad bytes right after a run of fast fields are still found. */
static void test_validate_span_fields_in_any_order(void **state)
{
    (void)state;
    uint8_t tid[16], sid[8];
    trace_id_of(3, tid);
    span_id_of(3, sid);
    struct kt_buf kv = KT_BUF_INIT, sp = KT_BUF_INIT;
    put_bytes(&kv, 1, "k", 1);
    put_bytes(&sp, 5, "op", 2);
    put_bytes(&sp, 9, kv.p, kv.len);
    put_bytes(&sp, 1, tid, 16);
    put_varint(&sp, 6, 2);
    put_fixed64(&sp, 7, 1);
    put_bytes(&sp, 2, sid, 8);
    put_bytes(&sp, 9, kv.p, kv.len);
    kt_buf_free(&kv);
    struct kt_buf msg = traces_around_span(sp);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), &n, NULL), 0);
    assert_int_equal(n, 1);
    kt_buf_free(&msg);

    /* flags (field 16, fixed32) cut short at the end of the span. */
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, "\x85\x01\x01\x01", 4), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "truncated fixed32");
    kt_buf_free(&msg);

    /* kind as a length-delimited field. */
    sp = valid_span_payload();
    put_bytes(&sp, 6, "x", 1);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].kind: wire type 2");
    kt_buf_free(&msg);
}

static void test_validate_rejects_15_byte_trace_id(void **state)
{
    (void)state;
    struct tshape sh = {1, 2, 3, 1, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    td->resource_spans[0]->scope_spans[1]->spans[2]->trace_id.len = 15;
    struct kt_slice msg = pack_traces(td);
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, msg, NULL, &err), KT_EINVAL);
    const char *want = "resource_spans[0].scope_spans[1].spans[2].trace_id: length 15, want 16 "
                       "(offset ";
    assert_memory_equal(err.msg, want, strlen(want));
    /* The offset points at the field: tag 0x0a, length 15. */
    size_t off = strtoul(err.msg + strlen(want), NULL, 10);
    assert_true(off + 2 < msg.n);
    assert_int_equal(msg.p[off], 0x0a);
    assert_int_equal(msg.p[off + 1], 15);
}

static void test_validate_allows_empty_ids_and_rejects_short_log_ids(void **state)
{
    (void)state;
    LogsData *ld = build_logs(1, 3, false);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, pack_logs(ld), &n, NULL), 0);
    assert_int_equal(n, 3);
    LogRecord *lr = ld->resource_logs[0]->scope_logs[0]->log_records[1];
    lr->span_id.len = 4;
    lr->span_id.data = A(4);
    expect_invalid(KT_SIGNAL_LOGS, pack_logs(ld),
                   "resource_logs[0].scope_logs[0].log_records[1].span_id: length 4, want 8");
}

static void test_validate_rejects_bad_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc3\x28",             /* bad continuation */
        "ab\x80",               /* stray continuation */
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xed\xa0\x80",         /* UTF-16 surrogate */
        "\xf4\x90\x80\x80",     /* past U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "abcdefghijkl\xe2\x82", /* truncated after an ASCII run */
    };
    static const char *good[] = {
        "plain",        "caf\xc3\xa9",      "\xe2\x82\xac euro",           "\xf0\x9f\x98\x80 smile",
        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "0123456789abcdef0123\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
        TracesData *td = build_traces(&sh);
        td->resource_spans[0]->scope_spans[0]->spans[0]->name = (char *)bad[i];
        expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                       "resource_spans[0].scope_spans[0].spans[0].name: invalid UTF-8 at byte");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
        TracesData *td = build_traces(&sh);
        td->resource_spans[0]->scope_spans[0]->spans[0]->name = (char *)good[i];
        struct kt_err err = {0, ""};
        if (kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), NULL, &err) != 0)
            fail_msg("good string %zu rejected: %s", i, err.msg);
    }
    /* Attribute keys in a resource are strings too. */
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    td->resource_spans[0]->resource->attributes[1]->key = "\xff";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].resource.attributes[1].key: invalid UTF-8 at byte 0 of 1");
}

static AnyValue *nested_array(int depth)
{
    AnyValue *v = av_str("leaf");
    for (int i = 1; i < depth; i++) {
        AnyValue *outer = new_AnyValue();
        outer->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        outer->array_value = new_ArrayValue();
        outer->array_value->n_values = 1;
        outer->array_value->values = ARR(AnyValue, 1);
        outer->array_value->values[0] = v;
        v = outer;
    }
    return v;
}

static void test_validate_rejects_deep_anyvalue_nesting(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    sp->attributes[2]->value = nested_array(32);
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, &err), 0);
    sp->attributes[2]->value = nested_array(33);
    /* The path keeps its outer and inner ends and the reason. */
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[0].attributes[2].value.array_value."
                   "values[0].array_value.[...].array_value.values[0].array_value.values[0]: "
                   "AnyValue nested deeper than 32 levels (offset ");

    /* Deep nesting through kvlists too, far past the limit: no stack trouble. */
    AnyValue *v = av_str("leaf");
    for (int i = 0; i < 1000; i++) {
        AnyValue *outer = new_AnyValue();
        outer->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        outer->kvlist_value = new_KeyValueList();
        outer->kvlist_value->n_values = 1;
        outer->kvlist_value->values = ARR(KeyValue, 1);
        outer->kvlist_value->values[0] = kv_str("k", "v");
        outer->kvlist_value->values[0]->value = v;
        v = outer;
    }
    LogsData *ld = build_logs(1, 1, false);
    ld->resource_logs[0]->scope_logs[0]->log_records[0]->body = v;
    expect_invalid(KT_SIGNAL_LOGS, pack_logs(ld), "log_records[0].body.kvlist_value.values[0]");
}

static void test_validate_rejects_group_wire_type(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_varint(&sp, 17 << 3 | 3), 0);
    assert_int_equal(kt_buf_append_varint(&sp, 17 << 3 | 4), 0);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0]: field 17: wire type 3 (start "
                   "group): groups are not supported");
    kt_buf_free(&msg);

    uint8_t top[] = {0x0c};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){top, 1}, "resource_logs: wire type 4");
    uint8_t bad[] = {0x0f};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){bad, 1}, "invalid wire type 7");
    uint8_t zero[] = {0x02, 0x00};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){zero, 2}, "invalid field number 0");
}

static void test_validate_rejects_repeated_anyvalue_without_value(void **state)
{
    (void)state;
    /* LogRecord { body {} body {} }: valid protobuf that protobuf-c, which consumers use,
     * refuses to decode; a repeated body that sets a value is fine. */
    uint8_t empty_twice[] = {0x2a, 0x00, 0x2a, 0x00};
    uint8_t then_set[] = {0x2a, 0x00, 0x2a, 0x03, 0x0a, 0x01, 'a'};
    struct kt_buf rec = KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&rec, empty_twice, sizeof(empty_twice)), 0);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, rec)));
    assert_null(opentelemetry__proto__logs__v1__logs_data__unpack(NULL, msg.len, msg.p));
    expect_invalid(KT_SIGNAL_LOGS, kt_buf_slice(&msg),
                   "resource_logs[0].scope_logs[0].log_records[0].body: given again without a "
                   "value");
    kt_buf_free(&msg);

    rec = (struct kt_buf)KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&rec, then_set, sizeof(then_set)), 0);
    msg = wrap(1, wrap(2, wrap(2, rec)));
    LogsData *ld = opentelemetry__proto__logs__v1__logs_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(ld);
    opentelemetry__proto__logs__v1__logs_data__free_unpacked(ld, NULL);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, kt_buf_slice(&msg), NULL, NULL), 0);
    kt_buf_free(&msg);

    /* The same for an attribute's value. */
    uint8_t kv[] = {0x0a, 0x01, 'k', 0x12, 0x00, 0x12, 0x00};
    struct kt_buf sp = valid_span_payload();
    put_bytes(&sp, 9, kv, sizeof(kv));
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "spans[0].attributes[0].value: given again without a value");
    kt_buf_free(&msg);
}

static void test_validate_rejects_misaligned_packed_doubles(void **state)
{
    (void)state;
    struct kt_buf dp = KT_BUF_INIT;
    put_bytes(&dp, 7, "0123456789ab", 12);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, wrap(9, wrap(1, dp)))));
    expect_invalid(KT_SIGNAL_METRICS, kt_buf_slice(&msg),
                   "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0]."
                   "explicit_bounds: packed length 12 is not a multiple of 8");
    kt_buf_free(&msg);
}

static void test_validate_error_names_the_metric_path(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(2, 1);
    md->resource_metrics[0]
        ->scope_metrics[0]
        ->metrics[4]
        ->summary->data_points[1]
        ->attributes[0]
        ->key = "\xc3";
    expect_invalid(KT_SIGNAL_METRICS, pack_metrics(md),
                   "resource_metrics[0].scope_metrics[0].metrics[4].summary.data_points[1]."
                   "attributes[0].key: invalid UTF-8");
}

/* ==========================================================================================
 * Splitting traces
 * ========================================================================================== */

static void test_split_keeps_each_trace_in_one_chunk(void **state)
{
    (void)state;
    struct tshape sh = {2, 2, 15, 3, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    assert_int_equal(r.chunks.n, 3);
    for (size_t i = 0; i < 3; i++) {
        uint8_t id[16];
        char hex[33];
        trace_id_of((int)i, id);
        kt_hex_encode(id, 16, hex);
        /* Chunks come in order of first appearance: trace 0, 1, 2. */
        assert_string_equal(r.chunks.v[i].key, hex);
        assert_int_equal(r.chunks.v[i].n_items, 20);
    }
    check_trace_chunks(&r, &sh, 0, true, -1);
    result_free(&r);
}

static void test_split_copies_only_the_resources_and_scopes_of_each_trace(void **state)
{
    (void)state;
    /* Trace g/10: each trace lives in one scope of one resource. */
    struct tshape sh = {3, 2, 10, 1, trace_by_tens, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 6);
    for (size_t i = 0; i < r.chunks.n; i++) {
        struct kt_slice b = chunk_bytes(&r, i);
        TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, b.n, b.p);
        assert_non_null(td);
        assert_int_equal(td->n_resource_spans, 1);
        assert_int_equal(td->resource_spans[0]->n_scope_spans, 1);
        assert_int_equal(td->resource_spans[0]->scope_spans[0]->n_spans, 10);
        opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    }
    check_trace_chunks(&r, &sh, 0, true, -1);
    result_free(&r);
}

static void test_split_gives_spans_without_trace_id_an_empty_key(void **state)
{
    (void)state;
    struct tshape sh = {1, 2, 8, 0, trace_mixed_empty, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 3);
    /* Span 0 is trace 0, span 1 has none, span 2 ... trace 0, span 3 trace 1. */
    assert_int_equal(strlen(r.chunks.v[0].key), 32);
    assert_string_equal(r.chunks.v[1].key, "");
    assert_int_equal(strlen(r.chunks.v[2].key), 32);
    check_trace_chunks(&r, &sh, 0, true, -1);
    result_free(&r);
}

static void test_split_respects_max_chunk_bytes(void **state)
{
    (void)state;
    struct tshape sh = {2, 2, 12, 5, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    const size_t max = 2000;
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    assert_true(r.chunks.n > 3);
    check_trace_chunks(&r, &sh, max, true, -1);
    check_trace_chunks_full(&r, max);
    result_free(&r);
}

/* A trace's spans side by side travel as one run, cut item by item where a chunk is full;
 * a span too big even alone is rejected out of the middle of its run. */
static void test_split_cuts_runs_of_one_trace_at_the_bound(void **state)
{
    (void)state;
    struct tshape sh = {1, 2, 30, 5, trace_by_tens, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    const size_t max = 2000;
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    assert_true(r.chunks.n > 6);
    check_trace_chunks(&r, &sh, max, true, -1);
    check_trace_chunks_full(&r, max);
    result_free(&r);

    struct tshape big = {1, 1, 20, 1, trace_by_tens, 13, 5000};
    msg = pack_traces(build_traces(&big));
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 1);
    check_trace_chunks(&r, &big, max, true, 13);
    result_free(&r);
}

/* Spans of one trace with another field between them are not one run: the field is not
 * copied along with them (it is part of the scope entry's header, written once). */
static void test_split_run_stops_at_a_field_between_spans(void **state)
{
    (void)state;
    struct kt_buf a = valid_span_payload(), b = valid_span_payload(), scope = KT_BUF_INIT;
    put_bytes(&scope, 2, a.p, a.len);
    put_bytes(&scope, 3, "https://example.com/s", 21);
    put_bytes(&scope, 2, b.p, b.len);
    kt_buf_free(&a);
    kt_buf_free(&b);
    struct kt_buf msg = wrap(1, wrap(2, scope));
    struct result r;
    split(KT_SIGNAL_TRACES, kt_buf_slice(&msg), KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 1);
    assert_int_equal(r.chunks.v[0].n_items, 2);
    /* The same fields, the schema_url moved ahead of the spans: the same size. */
    assert_int_equal(r.chunks.v[0].len, msg.len);
    check_chunks_common(KT_SIGNAL_TRACES, &r, 0, 2);
    result_free(&r);
    kt_buf_free(&msg);
}

static void test_single_oversized_span_is_rejected(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 6, 1, trace_mod3, 4, 5000};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 2000, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 1);
    uint8_t tid[16], sid[8];
    char th[33], sh_[17];
    trace_id_of(1, tid);
    span_id_of(4, sid);
    kt_hex_encode(tid, 16, th);
    kt_hex_encode(sid, 8, sh_);
    char want[128];
    snprintf(want, sizeof(want), "span %s/%s: ", th, sh_);
    if (strstr(r.err.msg, want) == NULL || strstr(r.err.msg, "over max_chunk_bytes 2000") == NULL)
        fail_msg("unexpected reject reason: %s", r.err.msg);
    check_trace_chunks(&r, &sh, 2000, true, 4);
    result_free(&r);

    /* Without a key the same span is rejected too, and everything else still goes out. */
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_NONE, 2000, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 1);
    check_trace_chunks(&r, &sh, 2000, false, 4);
    result_free(&r);
}

static void test_split_rejects_everything_when_bound_is_below_wrappers(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 4, 0, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 40, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 4);
    assert_int_equal(r.chunks.n, 0);
    assert_int_equal(r.out.len, 0);
    result_free(&r);
}

static void test_split_concatenated_chunks_form_valid_message(void **state)
{
    (void)state;
    struct tshape sh = {3, 3, 9, 2, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 1500, &r);
    assert_int_equal(r.rc, 0);
    /* The whole output buffer is the chunks back to back. */
    TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, r.out.len, r.out.p);
    assert_non_null(td);
    size_t spans = 0;
    for (size_t i = 0; i < td->n_resource_spans; i++)
        for (size_t j = 0; j < td->resource_spans[i]->n_scope_spans; j++)
            spans += td->resource_spans[i]->scope_spans[j]->n_spans;
    assert_int_equal(spans, 81);
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    result_free(&r);
}

static void test_split_appends_after_existing_output(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 6, 0, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct kt_buf out = KT_BUF_INIT;
    struct kt_otlp_chunks chunks = {0};
    assert_int_equal(kt_buf_append(&out, "previous", 8), 0);
    struct kt_otlp_split_opts o = {KT_OTLP_KEY_TRACE_ID, 0};
    size_t rej = 0;
    assert_int_equal(kt_otlp_split(KT_SIGNAL_TRACES, msg, &o, &out, &chunks, &rej, NULL), 0);
    assert_int_equal(chunks.n, 3);
    assert_int_equal(chunks.v[0].off, 8);
    assert_memory_equal(out.p, "previous", 8);
    /* A second call appends after the first. */
    assert_int_equal(kt_otlp_split(KT_SIGNAL_TRACES, msg, &o, &out, &chunks, &rej, NULL), 0);
    assert_int_equal(chunks.n, 6);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(chunks.v[i].len, chunks.v[i + 3].len);
        assert_memory_equal(out.p + chunks.v[i].off, out.p + chunks.v[i + 3].off, chunks.v[i].len);
        assert_string_equal(chunks.v[i].key, chunks.v[i + 3].key);
    }
    assert_int_equal(chunks.v[5].off + chunks.v[5].len, out.len);
    kt_buf_free(&out);
    kt_otlp_chunks_free(&chunks);
}

static int trace_interleaved(int g)
{
    return g % 3000;
}

static void test_split_handles_thousands_of_traces_in_order(void **state)
{
    (void)state;
    struct tshape sh = {1, 2, 3000, 0, trace_interleaved, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 3000);
    for (int i = 0; i < 3000; i++) {
        uint8_t id[16];
        char hex[33];
        trace_id_of(i, id);
        kt_hex_encode(id, 16, hex);
        assert_string_equal(r.chunks.v[i].key, hex);
        assert_int_equal(r.chunks.v[i].n_items, 2);
    }
    check_trace_chunks(&r, &sh, 0, true, -1);
    result_free(&r);
}

static void test_split_none_copies_message_verbatim(void **state)
{
    (void)state;
    struct tshape sh = {2, 2, 5, 1, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_NONE, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 1);
    assert_string_equal(r.chunks.v[0].key, "");
    assert_int_equal(r.chunks.v[0].n_items, 20);
    assert_int_equal(r.chunks.v[0].len, msg.n);
    assert_memory_equal(r.out.p, msg.p, msg.n);
    result_free(&r);

    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_NONE, msg.n, &r);
    assert_int_equal(r.chunks.n, 1);
    assert_int_equal(r.chunks.v[0].len, msg.n);
    result_free(&r);
}

static void test_split_none_splits_by_size_keeping_whole_resources(void **state)
{
    (void)state;
    struct tshape sh = {4, 1, 4, 2, trace_mod3, -1, 0};
    TracesData *td = build_traces(&sh);
    struct kt_slice msg = pack_traces(td);
    size_t two = 0;
    for (int i = 0; i < 2; i++) {
        size_t n =
            opentelemetry__proto__trace__v1__resource_spans__get_packed_size(td->resource_spans[i]);
        two += 1 + kt_varint_size(n) + n;
    }
    size_t max = two + 300;
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_NONE, max, &r);
    assert_int_equal(r.rc, 0);
    assert_true(r.chunks.n >= 2);
    check_trace_chunks(&r, &sh, max, false, -1);
    /* The first two resources fit whole, so they went out as they were. */
    assert_memory_equal(r.out.p + r.chunks.v[0].off, msg.p, two);
    result_free(&r);
}

static void test_split_trace_resource_hash_groups_by_resource(void **state)
{
    (void)state;
    struct tshape sh = {3, 1, 4, 0, trace_mod3, -1, 0};
    TracesData *td = build_traces(&sh);
    /* Resource 2 gets resource 0's attributes in another order: same key. */
    Resource *r0 = td->resource_spans[0]->resource, *r2 = td->resource_spans[2]->resource;
    r2->attributes[0] = r0->attributes[2];
    r2->attributes[1] = r0->attributes[0];
    r2->attributes[2] = r0->attributes[1];
    struct kt_slice msg = pack_traces(td);
    struct result r;
    split(KT_SIGNAL_TRACES, msg, KT_OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 2);
    assert_int_equal(r.chunks.v[0].n_items, 8);
    assert_int_equal(r.chunks.v[1].n_items, 4);
    assert_int_equal(strlen(r.chunks.v[0].key), 16);
    assert_string_not_equal(r.chunks.v[0].key, r.chunks.v[1].key);
    result_free(&r);
}

/* The key as the header specifies it, computed here from protobuf-c objects. */
static void expected_resource_key(const Resource *res, char out[17])
{
    size_t n = res->n_attributes;
    struct kv {
        const char *key;
        uint8_t *b;
        size_t len;
    } *v = A(sizeof(*v) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        v[i].key = res->attributes[i]->key;
        v[i].len = opentelemetry__proto__common__v1__key_value__get_packed_size(res->attributes[i]);
        v[i].b = A(v[i].len);
        opentelemetry__proto__common__v1__key_value__pack(res->attributes[i], v[i].b);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(v[j].key, v[i].key) < 0) {
                struct kv t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint8_t lb[10];
        size_t ln = kt_varint_put(lb, v[i].len);
        for (size_t k = 0; k < ln; k++)
            h = (h ^ lb[k]) * 0x100000001b3ULL;
        for (size_t k = 0; k < v[i].len; k++)
            h = (h ^ v[i].b[k]) * 0x100000001b3ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void test_split_resource_hash_key_is_sorted_fnv1a(void **state)
{
    (void)state;
    LogsData *ld = build_logs(4, 3, false);
    struct kt_slice msg = pack_logs(ld);
    struct result r;
    split(KT_SIGNAL_LOGS, msg, KT_OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    /* Resources alternate between two attribute sets. */
    assert_int_equal(r.chunks.n, 2);
    char want[17];
    expected_resource_key(ld->resource_logs[0]->resource, want);
    assert_string_equal(r.chunks.v[0].key, want);
    expected_resource_key(ld->resource_logs[1]->resource, want);
    assert_string_equal(r.chunks.v[1].key, want);
    assert_int_equal(r.chunks.v[0].n_items, 6);
    check_chunks_common(KT_SIGNAL_LOGS, &r, 0, 12);
    result_free(&r);

    /* No attributes: the FNV offset basis. */
    ld->resource_logs[0]->resource->n_attributes = 0;
    split(KT_SIGNAL_LOGS, pack_logs(ld), KT_OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_string_equal(r.chunks.v[0].key, "cbf29ce484222325");
    result_free(&r);
}

static void test_split_reuses_splitter_across_requests(void **state)
{
    (void)state;
    struct kt_otlp_splitter *sp = kt_otlp_splitter_new();
    assert_non_null(sp);
    struct tshape a = {1, 1, 30, 0, trace_mod3, -1, 0};
    struct tshape b = {2, 1, 10, 0, trace_by_tens, -1, 0};
    struct kt_slice ma = pack_traces(build_traces(&a)), mb = pack_traces(build_traces(&b));
    struct kt_otlp_split_opts o = {KT_OTLP_KEY_TRACE_ID, 0};
    for (int round = 0; round < 3; round++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        assert_int_equal(kt_otlp_splitter_split(sp, KT_SIGNAL_TRACES, ma, &o, &r.out, &r.chunks,
                                                &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 3);
        check_trace_chunks(&r, &a, 0, true, -1);
        result_free(&r);
        memset(&r, 0, sizeof(r));
        assert_int_equal(kt_otlp_splitter_split(sp, KT_SIGNAL_TRACES, mb, &o, &r.out, &r.chunks,
                                                &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 2);
        check_trace_chunks(&r, &b, 0, true, -1);
        result_free(&r);
    }
    kt_otlp_splitter_free(sp);
}

static void test_split_empty_request_yields_no_chunks(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        struct kt_otlp_split_opts o = {mode, 0};
        assert_int_equal(kt_otlp_split(KT_SIGNAL_LOGS, (struct kt_slice){NULL, 0}, &o, &r.out,
                                       &r.chunks, &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 0);
        result_free(&r);
    }
    /* Resources without items carry nothing worth a message either. */
    LogsData *ld = build_logs(2, 0, false);
    struct result r;
    split(KT_SIGNAL_LOGS, pack_logs(ld), KT_OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 0);
    result_free(&r);
}

static void test_split_rejects_trace_id_mode_for_metrics(void **state)
{
    (void)state;
    struct kt_slice msg = pack_metrics(build_metrics(1, 1));
    struct result r;
    split(KT_SIGNAL_METRICS, msg, KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, KT_EINVAL);
    assert_non_null(strstr(r.err.msg, "trace_id"));
    assert_int_equal(r.chunks.n, 0);
    result_free(&r);
}

static void test_split_reports_malformed_input(void **state)
{
    (void)state;
    uint8_t bad[] = {0x0a, 0x05, 0x12, 0x03, 0x12, 0x09, 0x00};
    struct result r;
    memset(&r, 0, sizeof(r));
    struct kt_otlp_split_opts o = {KT_OTLP_KEY_TRACE_ID, 0};
    assert_int_equal(kt_otlp_split(KT_SIGNAL_TRACES, (struct kt_slice){bad, sizeof(bad)}, &o,
                                   &r.out, &r.chunks, &r.n_rejected, &r.err),
                     KT_EINVAL);
    assert_non_null(strstr(r.err.msg, "malformed traces message"));
    assert_int_equal(r.out.len, 0);
    assert_int_equal(r.chunks.n, 0);
    result_free(&r);
}

/* ==========================================================================================
 * Splitting metrics and logs
 * ========================================================================================== */

static void check_metric_chunks(const struct result *r, int n_points, size_t max, int skip)
{
    check_chunks_common(KT_SIGNAL_METRICS, r, max, (size_t)(n_points - (skip >= 0)));
    int *seen = A(sizeof(int) * (size_t)n_points);
    for (size_t i = 0; i < r->chunks.n; i++) {
        struct kt_slice b = chunk_bytes(r, i);
        MetricsData *md = opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, b.n, b.p);
        assert_non_null(md);
        for (size_t a = 0; a < md->n_resource_metrics; a++) {
            ResourceMetrics *rm = md->resource_metrics[a];
            int rr = (int)int_attr(rm->resource->attributes, rm->resource->n_attributes, "r");
            assert_string_equal(rm->schema_url, S("https://opentelemetry.io/schemas/1.%d.0", rr));
            for (size_t s = 0; s < rm->n_scope_metrics; s++) {
                ScopeMetrics *sm = rm->scope_metrics[s];
                assert_string_equal(sm->scope->name, S("scope-%d-0", rr));
                for (size_t m = 0; m < sm->n_metrics; m++) {
                    Metric *me = sm->metrics[m];
                    assert_string_equal(me->description, S("description of %s", me->name));
                    assert_string_equal(me->unit, "ms");
                    assert_non_null(strstr(me->name, S(".%d", rr)));
                    mark_points(me, seen, n_points);
                }
            }
        }
        opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    }
    for (int p = 0; p < n_points; p++)
        assert_int_equal(seen[p], p == skip ? 0 : 1);
}

static void test_split_metrics_by_resource_hash(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(4, 3);
    struct kt_slice msg = pack_metrics(md);
    struct result r;
    split(KT_SIGNAL_METRICS, msg, KT_OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 3);
    for (size_t i = 0; i < 3; i++) {
        char want[17];
        expected_resource_key(md->resource_metrics[i]->resource, want);
        assert_string_equal(r.chunks.v[i].key, want);
        assert_int_equal(r.chunks.v[i].n_items, 20);
    }
    check_metric_chunks(&r, 60, 0, -1);
    result_free(&r);
}

static void test_split_metric_data_points_across_chunks(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(40, 2);
    struct kt_slice msg = pack_metrics(md);
    const size_t max = 700;
    for (int mode = KT_OTLP_KEY_NONE; mode <= KT_OTLP_KEY_RESOURCE_HASH; mode += 2) {
        struct result r;
        split(KT_SIGNAL_METRICS, msg, mode, max, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.n_rejected, 0);
        assert_true(r.chunks.n > 10);
        check_metric_chunks(&r, 400, max, -1);
        result_free(&r);
    }
}

static void test_split_rejects_oversized_data_point_naming_metric(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(3, 1);
    HistogramDP *dp =
        md->resource_metrics[0]->scope_metrics[0]->metrics[2]->histogram->data_points[1];
    dp->n_bucket_counts = 400;
    dp->bucket_counts = A(400 * sizeof(uint64_t));
    struct kt_slice msg = pack_metrics(md);
    struct result r;
    split(KT_SIGNAL_METRICS, msg, KT_OTLP_KEY_RESOURCE_HASH, 1500, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 1);
    if (strstr(r.err.msg, "data point of metric \"histogram.0\"") == NULL ||
        strstr(r.err.msg, "over max_chunk_bytes 1500") == NULL)
        fail_msg("unexpected reject reason: %s", r.err.msg);
    /* Point 7 (the histogram's second) is the one that went. */
    check_chunks_common(KT_SIGNAL_METRICS, &r, 1500, 14);
    result_free(&r);
}

static void test_split_logs_by_resource_hash_respects_max(void **state)
{
    (void)state;
    LogsData *ld = build_logs(4, 25, true);
    struct kt_slice msg = pack_logs(ld);
    const size_t max = 900;
    struct result r;
    split(KT_SIGNAL_LOGS, msg, KT_OTLP_KEY_RESOURCE_HASH, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    check_chunks_common(KT_SIGNAL_LOGS, &r, max, 100);
    int seen[100] = {0};
    char k0[17], k1[17];
    expected_resource_key(ld->resource_logs[0]->resource, k0);
    expected_resource_key(ld->resource_logs[1]->resource, k1);
    for (size_t i = 0; i < r.chunks.n; i++) {
        struct kt_slice b = chunk_bytes(&r, i);
        LogsData *got = opentelemetry__proto__logs__v1__logs_data__unpack(NULL, b.n, b.p);
        assert_non_null(got);
        for (size_t a = 0; a < got->n_resource_logs; a++) {
            ResourceLogs *rl = got->resource_logs[a];
            int rr = (int)int_attr(rl->resource->attributes, rl->resource->n_attributes, "r");
            assert_string_equal(r.chunks.v[i].key, rr == 0 ? k0 : k1);
            for (size_t c = 0; c < rl->scope_logs[0]->n_log_records; c++) {
                LogRecord *lr = rl->scope_logs[0]->log_records[c];
                int g = (int)int_attr(lr->attributes, lr->n_attributes, "g");
                assert_int_equal((g / 25) % 2, rr);
                seen[g]++;
            }
        }
        opentelemetry__proto__logs__v1__logs_data__free_unpacked(got, NULL);
    }
    for (int g = 0; g < 100; g++)
        assert_int_equal(seen[g], 1);
    result_free(&r);
}

static void test_split_logs_by_trace_id(void **state)
{
    (void)state;
    LogsData *ld = build_logs(2, 6, true);
    struct result r;
    split(KT_SIGNAL_LOGS, pack_logs(ld), KT_OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 3);
    uint8_t id[16];
    char hex[33];
    trace_id_of(0, id);
    kt_hex_encode(id, 16, hex);
    assert_string_equal(r.chunks.v[0].key, hex);
    assert_string_equal(r.chunks.v[2].key, "");
    assert_int_equal(r.chunks.v[0].n_items, 4);
    assert_int_equal(r.chunks.v[2].n_items, 4);
    check_chunks_common(KT_SIGNAL_LOGS, &r, 0, 12);
    result_free(&r);
}

/* ---- fuzzing seeds ---- */

static void write_seed(const char *dir, const char *name, struct kt_slice s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s.p, 1, s.n, f), s.n);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    struct tshape sh = {2, 2, 3, 2, trace_mixed_empty, -1, 0};
    write_seed(dir, "traces_small.pb", pack_traces(build_traces(&sh)));
    struct tshape one = {1, 1, 1, 1, trace_zero, -1, 0};
    TracesData *td = build_traces(&one);
    td->resource_spans[0]->scope_spans[0]->spans[0]->attributes[2]->value = nested_array(4);
    write_seed(dir, "traces_nested.pb", pack_traces(td));
    TracesData *full;
    full_span(&full);
    write_seed(dir, "traces_full_span.pb", pack_traces(full));
    write_seed(dir, "metrics_all_kinds.pb", pack_metrics(build_metrics(2, 2)));
    write_seed(dir, "logs_small.pb", pack_logs(build_logs(2, 3, true)));
    struct kt_buf sp = valid_span_payload();
    put_varint(&sp, 100, 5);
    put_bytes(&sp, 102, "x", 1);
    struct kt_buf msg = traces_around_span(sp);
    write_seed(dir, "traces_unknown_fields.pb", kt_buf_slice(&msg));
    kt_buf_free(&msg);
    teardown(NULL);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const char *seed_dir = getenv("KT_OTLP_WIRE_SEED_DIR");
    if (seed_dir != NULL) {
        write_seeds(seed_dir);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        T(test_validate_counts_spans_in_valid_traces),
        T(test_validate_accepts_links_events_and_status),
        T(test_validate_counts_all_five_metric_kinds),
        T(test_validate_counts_log_records),
        T(test_validate_accepts_empty_message),
        T(test_validate_accepts_packed_and_unpacked_repeated_scalars),
        T(test_validate_skips_unknown_fields),
        T(test_validate_rejects_truncated_varint),
        T(test_validate_rejects_overlong_varint),
        T(test_validate_rejects_length_past_end),
        T(test_validate_rejects_wrong_wire_type_for_known_field),
        T(test_validate_rejects_15_byte_trace_id),
        T(test_validate_reports_errors_in_every_span_field),
        T(test_validate_span_fields_in_any_order),
        T(test_validate_allows_empty_ids_and_rejects_short_log_ids),
        T(test_validate_rejects_bad_utf8),
        T(test_validate_rejects_deep_anyvalue_nesting),
        T(test_validate_rejects_group_wire_type),
        T(test_validate_rejects_repeated_anyvalue_without_value),
        T(test_validate_rejects_misaligned_packed_doubles),
        T(test_validate_error_names_the_metric_path),
        T(test_split_keeps_each_trace_in_one_chunk),
        T(test_split_copies_only_the_resources_and_scopes_of_each_trace),
        T(test_split_gives_spans_without_trace_id_an_empty_key),
        T(test_split_respects_max_chunk_bytes),
        T(test_split_cuts_runs_of_one_trace_at_the_bound),
        T(test_split_run_stops_at_a_field_between_spans),
        T(test_single_oversized_span_is_rejected),
        T(test_split_rejects_everything_when_bound_is_below_wrappers),
        T(test_split_concatenated_chunks_form_valid_message),
        T(test_split_appends_after_existing_output),
        T(test_split_handles_thousands_of_traces_in_order),
        T(test_split_none_copies_message_verbatim),
        T(test_split_none_splits_by_size_keeping_whole_resources),
        T(test_split_trace_resource_hash_groups_by_resource),
        T(test_split_resource_hash_key_is_sorted_fnv1a),
        T(test_split_reuses_splitter_across_requests),
        T(test_split_empty_request_yields_no_chunks),
        T(test_split_rejects_trace_id_mode_for_metrics),
        T(test_split_reports_malformed_input),
        T(test_split_metrics_by_resource_hash),
        T(test_split_metric_data_points_across_chunks),
        T(test_split_rejects_oversized_data_point_naming_metric),
        T(test_split_logs_by_resource_hash_respects_max),
        T(test_split_logs_by_trace_id),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_otlp_split_thread_cleanup();
    return rc;
}
