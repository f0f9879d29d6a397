/* trace_decode: a shallow decode gives exactly what the full decode (protobuf-c) gives for
 * every field it decodes, decodes resources and scopes only when they are read, refuses the
 * repeated singular messages it cannot merge, and fails cleanly on bytes that are not a
 * TracesData. Messages are built with protobuf-c and packed; the malformed and merging ones
 * are crafted by cutting and concatenating packed bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/trace_decode.h"
#include "kt_otlp_wire.h"
#include "trace_fixture.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__Status Status;

#define F(id) OTTL_FIELD(OTTL_P_##id)
#define SCOPE_FIELDS (F(SCOPE_NAME) | F(SCOPE_VERSION) | F(SCOPE_ATTRS) | F(SCOPE_DROPPED))
#define N_PATH_IDS (OTTL_P_CACHE + 1) /* the last path id, enum ottl_path_id */

static struct kt_arena B; /* messages built and bytes packed */
static struct kt_arena D; /* decodes */

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&B, NULL, 0);
    kt_arena_init(&D, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_arena_free(&B);
    kt_arena_free(&D);
    return 0;
}

static void *zalloc(size_t n)
{
    void *p = kt_arena_alloc(&B, n);
    assert_non_null(p);
    memset(p, 0, n);
    return p;
}

/* Every field set that a shallow decode may decode (the most a configuration without
 * attribute, event or link reads can ask for). */
static ottl_fields shallow_all(void)
{
    ottl_fields f = 0;
    for (int id = 0; id < N_PATH_IDS; id++)
        if (!trace_decode_needs_full(OTTL_FIELD(id)) && id != OTTL_P_SPAN_ATTRS_KEYED)
            f |= OTTL_FIELD(id);
    return f;
}

/* ---- bytes ---- */

static struct kt_slice pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = zalloc(n);
    assert_int_equal(protobuf_c_message_pack(m, p), n);
    return (struct kt_slice){p, n};
}

static struct kt_slice cat(struct kt_slice a, struct kt_slice b)
{
    uint8_t *p = zalloc(a.n + b.n);
    memcpy(p, a.p, a.n);
    memcpy(p + a.n, b.p, b.n);
    return (struct kt_slice){p, a.n + b.n};
}

/* b as the payload of length-delimited field num (below 16: a one-byte tag). */
static struct kt_slice field(uint32_t num, struct kt_slice b)
{
    uint8_t *p = zalloc(b.n + 11);
    size_t n = 0;
    p[n++] = (uint8_t)(num << 3 | 2);
    size_t v = b.n;
    for (; v >= 0x80; v >>= 7)
        p[n++] = (uint8_t)(v | 0x80);
    p[n++] = (uint8_t)v;
    memcpy(p + n, b.p, b.n);
    return (struct kt_slice){p, n + b.n};
}

static void assert_valid(struct kt_slice msg, size_t n_spans)
{
    size_t n = 0;
    struct kt_err err = {0};
    if (kt_otlp_validate(KT_SIGNAL_TRACES, msg, &n, &err) != 0)
        fail_msg("kt_otlp_validate: %s", err.msg);
    assert_int_equal(n, n_spans);
}

static TracesData *decode_ok(struct kt_slice msg, ottl_fields need)
{
    TracesData *td = NULL;
    assert_int_equal(trace_decode(msg, need, &D, &td), 0);
    assert_non_null(td);
    return td;
}

static void assert_full_like_protobuf_c(struct kt_slice msg);

/* ---- building ---- */

static void **ptrs(size_t n, ...)
{
    void **v = zalloc((n ? n : 1) * sizeof(*v));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v[i] = va_arg(ap, void *);
    va_end(ap);
    return v;
}

static ProtobufCBinaryData bin(uint8_t fill, size_t n)
{
    uint8_t *p = zalloc(n);
    memset(p, fill, n);
    return (ProtobufCBinaryData){n, p};
}

static KeyValue **attrs(size_t n)
{
    static const char *const keys[] = {"http.method", "http.route", "net.peer.name"};
    KeyValue **v = zalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        KeyValue kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        AnyValue av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        v[i] = zalloc(sizeof(*v[i]));
        *v[i] = kv;
        v[i]->key = (char *)keys[i % 3];
        v[i]->value = zalloc(sizeof(*v[i]->value));
        *v[i]->value = av;
        v[i]->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v[i]->value->int_value = (int64_t)i - 1;
    }
    return v;
}

/* Fields no version of the schema has, as a newer sender might add them. protobuf-c keeps
 * a length-delimited one's length prefix in data. */
static void add_unknown(ProtobufCMessage *m)
{
    static uint8_t len_payload[] = {5, 'n', 'e', 'w', 'e', 'r'};
    static uint8_t varint[] = {0x96, 0x01};
    static uint8_t fixed32[] = {1, 2, 3, 4};
    ProtobufCMessageUnknownField *u = zalloc(3 * sizeof(*u));
    u[0].tag = 1000;
    u[0].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    u[0].len = sizeof(len_payload);
    u[0].data = len_payload;
    u[1].tag = 1001;
    u[1].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    u[1].len = sizeof(varint);
    u[1].data = varint;
    u[2].tag = 90;
    u[2].wire_type = PROTOBUF_C_WIRE_TYPE_32BIT;
    u[2].len = sizeof(fixed32);
    u[2].data = fixed32;
    m->n_unknown_fields = 3;
    m->unknown_fields = u;
}

static Status *status(const char *message, int code)
{
    Status init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    Status *st = zalloc(sizeof(*st));
    *st = init;
    st->message = (char *)message;
    st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    return st;
}

static Span *span_new(void)
{
    Span init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    Span *s = zalloc(sizeof(*s));
    *s = init;
    return s;
}

static Span *span_named(const char *name)
{
    Span *s = span_new();
    s->trace_id = bin(0x11, 16);
    s->span_id = bin(0x22, 8);
    s->name = (char *)name;
    return s;
}

static Span *span_every_field(void)
{
    Span *s = span_named("GET /users/{id}");
    s->trace_state = "vendor=a:1,other=b";
    s->parent_span_id = bin(0x33, 8);
    s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    s->start_time_unix_nano = 1700000000123456789ull;
    s->end_time_unix_nano = 1700000000987654321ull;
    s->n_attributes = 3;
    s->attributes = attrs(3);
    s->dropped_attributes_count = 4;
    s->n_events = 2;
    s->events = zalloc(2 * sizeof(*s->events));
    for (size_t i = 0; i < 2; i++) {
        Event init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
        Event *e = zalloc(sizeof(*e));
        *e = init;
        e->name = i ? "retry" : "exception";
        e->time_unix_nano = 1700000000200000000ull + i;
        e->n_attributes = 2;
        e->attributes = attrs(2);
        e->dropped_attributes_count = 1;
        s->events[i] = e;
    }
    s->dropped_events_count = 5;
    Link init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
    Link *l = zalloc(sizeof(*l));
    *l = init;
    l->trace_id = bin(0x44, 16);
    l->span_id = bin(0x55, 8);
    l->trace_state = "linked=1";
    l->n_attributes = 1;
    l->attributes = attrs(1);
    l->dropped_attributes_count = 2;
    l->flags = 0x100;
    s->n_links = 1;
    s->links = (Link **)ptrs(1, l);
    s->dropped_links_count = 6;
    s->status = status("deadline exceeded", 2);
    s->flags = 0x301;
    add_unknown(&s->base);
    return s;
}

/* Values at the edges of their types: a kind no version defines, a negative status code
 * (a ten-byte varint), all-ones counts, flags and times, multi-byte UTF-8. */
static Span *span_edges(void)
{
    Span *s = span_named("na\xc3\xafve \xe2\x9c\x93");
    s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)99;
    s->start_time_unix_nano = UINT64_MAX;
    s->dropped_attributes_count = UINT32_MAX;
    s->dropped_events_count = UINT32_MAX;
    s->dropped_links_count = UINT32_MAX;
    s->flags = UINT32_MAX;
    s->status = status("", -3);
    add_unknown(&s->status->base);
    return s;
}

static Scope *scope_new(const char *name, const char *version)
{
    Scope init = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    Scope *sc = zalloc(sizeof(*sc));
    *sc = init;
    sc->name = (char *)name;
    sc->version = (char *)version;
    return sc;
}

static ScopeSpans *scope_spans(Scope *scope, const char *schema_url, size_t n, Span **spans)
{
    ScopeSpans init = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ScopeSpans *ss = zalloc(sizeof(*ss));
    *ss = init;
    ss->scope = scope;
    ss->schema_url = (char *)schema_url;
    ss->n_spans = n;
    ss->spans = spans;
    return ss;
}

static Resource *resource_new(size_t n_attrs)
{
    Resource init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Resource *r = zalloc(sizeof(*r));
    *r = init;
    r->n_attributes = n_attrs;
    r->attributes = attrs(n_attrs);
    return r;
}

static ResourceSpans *resource_spans(Resource *res, size_t n, ScopeSpans **ss)
{
    ResourceSpans init = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ResourceSpans *rs = zalloc(sizeof(*rs));
    *rs = init;
    rs->resource = res;
    rs->n_scope_spans = n;
    rs->scope_spans = ss;
    return rs;
}

#define RICH_SPANS 5

/* Three resources: one with everything (attributes, a schema URL, unknown fields, a scope
 * with every field, a scope entry without scope or spans); one without resource whose
 * scope is present but empty; one with nothing at all. Spans: one with every field, one
 * without status, one empty, one with edge values, one with an empty status. */
static struct kt_slice rich(void)
{
    Resource *res = resource_new(2);
    res->dropped_attributes_count = 3;
    add_unknown(&res->base);
    Scope *scope = scope_new("io.opentelemetry.http", "1.2.0");
    scope->n_attributes = 1;
    scope->attributes = attrs(1);
    scope->dropped_attributes_count = 1;
    add_unknown(&scope->base);
    ScopeSpans *ss0 = scope_spans(
        scope, "https://opentelemetry.io/schemas/1.24.0", 4,
        (Span **)ptrs(4, span_every_field(), span_named("no status"), span_new(), span_edges()));
    add_unknown(&ss0->base);
    ScopeSpans *ss1 = scope_spans(NULL, "", 0, NULL);
    ResourceSpans *rs0 = resource_spans(res, 2, (ScopeSpans **)ptrs(2, ss0, ss1));
    rs0->schema_url = "https://opentelemetry.io/schemas/1.21.0";
    add_unknown(&rs0->base);

    Span *unset = span_named("empty status");
    unset->status = status("", 0);
    ScopeSpans *ss2 = scope_spans(scope_new("", ""), "", 1, (Span **)ptrs(1, unset));
    ResourceSpans *rs1 = resource_spans(NULL, 1, (ScopeSpans **)ptrs(1, ss2));
    ResourceSpans *rs2 = resource_spans(NULL, 0, NULL);

    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.n_resource_spans = 3;
    td.resource_spans = (ResourceSpans **)ptrs(3, rs0, rs1, rs2);
    add_unknown(&td.base);
    return pack(&td.base);
}

/* ---- comparing ---- */

static void assert_packed_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    struct kt_slice pa = pack(a), pb = pack(b);
    assert_int_equal(pa.n, pb.n);
    assert_memory_equal(pa.p, pb.p, pa.n);
}

static void assert_bin_equal(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.data, b.data, a.len);
}

static void assert_span_same(const Span *f, const Span *s)
{
    assert_int_equal(s->n_attributes, 0);
    assert_int_equal(s->n_events, 0);
    assert_int_equal(s->n_links, 0);
    assert_bin_equal(f->trace_id, s->trace_id);
    assert_bin_equal(f->span_id, s->span_id);
    assert_string_equal(f->trace_state, s->trace_state);
    assert_bin_equal(f->parent_span_id, s->parent_span_id);
    assert_string_equal(f->name, s->name);
    assert_int_equal(f->kind, s->kind);
    assert_int_equal(f->start_time_unix_nano, s->start_time_unix_nano);
    assert_int_equal(f->end_time_unix_nano, s->end_time_unix_nano);
    assert_int_equal(f->dropped_attributes_count, s->dropped_attributes_count);
    assert_int_equal(f->dropped_events_count, s->dropped_events_count);
    assert_int_equal(f->dropped_links_count, s->dropped_links_count);
    assert_int_equal(f->flags, s->flags);
    if (f->status == NULL) {
        assert_null(s->status);
    } else {
        assert_non_null(s->status);
        assert_int_equal(f->status->code, s->status->code);
        assert_string_equal(f->status->message, s->status->message);
    }
    /* A field the list above misses: the full span without what a shallow one leaves out
     * (attributes, events, links, its unknown fields) must pack the same. */
    Span bare = *f;
    bare.base.n_unknown_fields = 0;
    bare.base.unknown_fields = NULL;
    bare.n_attributes = bare.n_events = bare.n_links = 0;
    assert_packed_equal(&bare.base, &s->base);
}

/* Present in the shallow decode exactly when need reads it, and then equal to the full. */
static void assert_part_same(const ProtobufCMessage *f, const ProtobufCMessage *s, bool read)
{
    if (!read || f == NULL) {
        assert_null(s);
        return;
    }
    assert_non_null(s);
    assert_packed_equal(f, s);
}

static void assert_same(const TracesData *full, const TracesData *sh, ottl_fields need)
{
    assert_int_equal(sh->n_resource_spans, full->n_resource_spans);
    for (size_t r = 0; r < full->n_resource_spans; r++) {
        const ResourceSpans *rf = full->resource_spans[r], *rsh = sh->resource_spans[r];
        assert_string_equal(rf->schema_url, rsh->schema_url);
        assert_part_same((const ProtobufCMessage *)rf->resource,
                         (const ProtobufCMessage *)rsh->resource,
                         (need & (F(RESOURCE_ATTRS) | F(RESOURCE_DROPPED))) != 0);
        assert_int_equal(rsh->n_scope_spans, rf->n_scope_spans);
        for (size_t s = 0; s < rf->n_scope_spans; s++) {
            const ScopeSpans *sf = rf->scope_spans[s], *ssh = rsh->scope_spans[s];
            assert_string_equal(sf->schema_url, ssh->schema_url);
            assert_part_same((const ProtobufCMessage *)sf->scope,
                             (const ProtobufCMessage *)ssh->scope, (need & SCOPE_FIELDS) != 0);
            assert_int_equal(ssh->n_spans, sf->n_spans);
            for (size_t i = 0; i < sf->n_spans; i++)
                assert_span_same(sf->spans[i], ssh->spans[i]);
        }
    }
}

/* ---- tests ---- */

static void test_needs_full_exactly_for_attributes_and_events(void **state)
{
    (void)state;
    for (int id = 0; id < N_PATH_IDS; id++) {
        bool want = id == OTTL_P_SPAN_ATTRS || id == OTTL_P_SPANEVENT_NAME ||
                    id == OTTL_P_SPANEVENT_TIME || id == OTTL_P_SPANEVENT_TIME_T ||
                    id == OTTL_P_SPANEVENT_ATTRS || id == OTTL_P_SPANEVENT_DROPPED;
        if (trace_decode_needs_full(OTTL_FIELD(id)) != want)
            fail_msg("path id %d: needs_full %s", id, want ? "false" : "true");
    }
    assert_false(trace_decode_needs_full(0));
    assert_true(trace_decode_needs_full(F(SPAN_NAME) | F(SPANEVENT_TIME)));
    assert_true(trace_decode_needs_full(TRACE_DECODE_ALL));
}

static void test_shallow_equals_full(void **state)
{
    (void)state;
    struct kt_slice msg = rich();
    assert_valid(msg, RICH_SPANS);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    /* The fixture has what a shallow decode must skip. */
    const Span *every = full->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(every->n_attributes, 3);
    assert_int_equal(every->n_events, 2);
    assert_int_equal(every->n_links, 1);
    assert_int_equal(every->base.n_unknown_fields, 3);
    const ottl_fields needs[] = {
        0,
        F(SPAN_NAME) | F(SPAN_STATUS_CODE),
        F(RESOURCE_ATTRS),
        F(SCOPE_NAME),
        F(SCOPE_VERSION),
        F(SCOPE_ATTRS) | F(SPAN_PARENT_ID),
        F(RESOURCE_ATTRS) | F(SCOPE_NAME) | F(LOG_ATTRS) | F(METRIC_NAME),
        shallow_all(),
    };
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
        TracesData *sh = decode_ok(msg, needs[i]);
        assert_same(full, sh, needs[i]);
    }
}

static bool inside(struct kt_slice msg, const ProtobufCBinaryData *b)
{
    return b->data >= msg.p && b->data + b->len <= msg.p + msg.n;
}

/* A shallow span's IDs point into the message (no copy per span); the full decode copies
 * them, as its objects may be changed (a transform may set an ID). */
static void test_shallow_ids_borrow_the_message(void **state)
{
    (void)state;
    struct kt_slice msg = rich();
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    TracesData *sh = decode_ok(msg, shallow_all());
    size_t n_ids = 0;
    for (size_t r = 0; r < sh->n_resource_spans; r++)
        for (size_t k = 0; k < sh->resource_spans[r]->n_scope_spans; k++) {
            const ScopeSpans *ss = sh->resource_spans[r]->scope_spans[k];
            const ScopeSpans *fs = full->resource_spans[r]->scope_spans[k];
            for (size_t j = 0; j < ss->n_spans; j++) {
                const ProtobufCBinaryData *ids[] = {&ss->spans[j]->trace_id, &ss->spans[j]->span_id,
                                                    &ss->spans[j]->parent_span_id};
                const ProtobufCBinaryData *fids[] = {
                    &fs->spans[j]->trace_id, &fs->spans[j]->span_id, &fs->spans[j]->parent_span_id};
                for (int i = 0; i < 3; i++) {
                    if (ids[i]->len == 0) {
                        assert_null(ids[i]->data);
                        continue;
                    }
                    if (!inside(msg, ids[i]) || inside(msg, fids[i]))
                        fail_msg("span %zu.%zu.%zu id %d: shallow %s the message, full %s", r, k, j,
                                 i, inside(msg, ids[i]) ? "in" : "not in",
                                 inside(msg, fids[i]) ? "in" : "not in");
                    n_ids++;
                }
            }
        }
    assert_true(n_ids >= 3); /* the fixture has IDs of each kind: not passed vacuously */
}

static void test_full_fields_decode_everything(void **state)
{
    (void)state;
    struct kt_slice msg = rich();
    for (int id = 0; id < N_PATH_IDS; id++) {
        if (!trace_decode_needs_full(OTTL_FIELD(id)))
            continue;
        TracesData *td = decode_ok(msg, OTTL_FIELD(id) | F(SPAN_NAME));
        const ResourceSpans *rs = td->resource_spans[0];
        assert_non_null(rs->resource);
        assert_int_equal(rs->resource->n_attributes, 2);
        assert_non_null(rs->scope_spans[0]->scope);
        const Span *sp = rs->scope_spans[0]->spans[0];
        assert_int_equal(sp->n_attributes, 3);
        assert_int_equal(sp->n_events, 2);
        assert_int_equal(sp->n_links, 1);
        assert_packed_equal(&td->base, &decode_ok(msg, TRACE_DECODE_ALL)->base);
    }
}

/* Two TracesData back to back are one holding both (what the batcher sends). */
static void test_concatenated_messages(void **state)
{
    (void)state;
    struct kt_slice one = rich(), msg = cat(one, one);
    assert_valid(msg, 2 * RICH_SPANS);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    assert_int_equal(full->n_resource_spans, 6);
    assert_same(full, decode_ok(msg, shallow_all()), shallow_all());
}

/* A scalar given twice: the last one counts, in both decodes. */
static void test_repeated_scalars_last_wins(void **state)
{
    (void)state;
    Span *a = span_named("first");
    a->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    a->start_time_unix_nano = 5;
    a->flags = 1;
    Span *b = span_new();
    b->trace_id = bin(0x77, 16);
    b->name = "second";
    b->flags = 2;
    b->trace_state = "k=v";
    struct kt_slice spans = cat(pack(&a->base), pack(&b->base));
    struct kt_slice msg = field(1, field(2, field(2, spans)));
    assert_valid(msg, 1);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    const Span *f = full->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(f->name, "second");
    assert_int_equal(f->trace_id.data[0], 0x77);
    assert_int_equal(f->start_time_unix_nano, 5);
    assert_same(full, decode_ok(msg, shallow_all()), shallow_all());
}

/* protobuf merges a singular message given twice; the shallow decode refuses it where it
 * would decode it, and skips it where it would not. */
static void test_repeated_resource(void **state)
{
    (void)state;
    ScopeSpans *ss = scope_spans(NULL, "", 1, (Span **)ptrs(1, span_named("op")));
    struct kt_slice first = pack(&resource_spans(resource_new(2), 1, &ss)->base);
    struct kt_slice second = pack(&resource_spans(resource_new(1), 0, NULL)->base);
    struct kt_slice msg = field(1, cat(first, second));
    assert_valid(msg, 1);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    assert_int_equal(full->resource_spans[0]->resource->n_attributes, 3);

    TracesData *td = (TracesData *)&td;
    assert_int_equal(trace_decode(msg, F(RESOURCE_ATTRS), &D, &td), KT_EUNSUPP);
    assert_null(td);
    assert_int_equal(trace_decode(msg, shallow_all(), &D, &td), KT_EUNSUPP);
    ottl_fields need = F(SPAN_NAME) | SCOPE_FIELDS;
    td = decode_ok(msg, need);
    assert_null(td->resource_spans[0]->resource);
    assert_same(full, td, need);
}

static void test_repeated_scope(void **state)
{
    (void)state;
    struct kt_slice first =
        pack(&scope_spans(scope_new("lib", ""), "", 1, (Span **)ptrs(1, span_named("op")))->base);
    struct kt_slice second = pack(&scope_spans(scope_new("", "2.0"), "", 0, NULL)->base);
    struct kt_slice msg = field(1, field(2, cat(first, second)));
    assert_valid(msg, 1);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    const Scope *sc = full->resource_spans[0]->scope_spans[0]->scope;
    assert_string_equal(sc->name, "lib");
    assert_string_equal(sc->version, "2.0");

    const ottl_fields refused[] = {F(SCOPE_NAME), F(SCOPE_VERSION), F(SCOPE_ATTRS)};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        TracesData *td = (TracesData *)&td;
        assert_int_equal(trace_decode(msg, refused[i], &D, &td), KT_EUNSUPP);
        assert_null(td);
    }
    ottl_fields need = F(RESOURCE_ATTRS) | F(SPAN_NAME);
    TracesData *td = decode_ok(msg, need);
    assert_null(td->resource_spans[0]->scope_spans[0]->scope);
    assert_same(full, td, need);
}

static void test_repeated_status(void **state)
{
    (void)state;
    Span *a = span_named("op");
    a->status = status("", 2);
    Span *b = span_new();
    b->status = status("boom", 0);
    struct kt_slice msg = field(1, field(2, field(2, cat(pack(&a->base), pack(&b->base)))));
    assert_valid(msg, 1);
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    assert_full_like_protobuf_c(msg);
    /* Merged; the code is not checked: protobuf-c 1.4.1 merges proto3 numbers and enums
     * wrongly (the later copy's zero wins). */
    assert_string_equal(full->resource_spans[0]->scope_spans[0]->spans[0]->status->message, "boom");
    /* Every shallow decode reads spans, status included (status_code is always decoded). */
    const ottl_fields needs[] = {0, F(SPAN_STATUS_CODE), shallow_all()};
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
        TracesData *td = (TracesData *)&td;
        assert_int_equal(trace_decode(msg, needs[i], &D, &td), KT_EUNSUPP);
        assert_null(td);
    }
}

/* Every prefix of a message: those ending between resource entries are valid messages and
 * decode alike; every other one is malformed for both decodes. */
static void test_truncated_input(void **state)
{
    (void)state;
    struct kt_slice msg = rich();
    size_t n_valid = 0;
    for (size_t n = 0; n < msg.n; n++) {
        struct kt_slice cut = {msg.p, n};
        size_t items;
        bool valid = kt_otlp_validate(KT_SIGNAL_TRACES, cut, &items, NULL) == 0;
        TracesData *full = (TracesData *)&full, *sh = (TracesData *)&sh;
        int rc_full = trace_decode(cut, TRACE_DECODE_ALL, &D, &full);
        int rc_sh = trace_decode(cut, shallow_all(), &D, &sh);
        if (valid) {
            n_valid++;
            assert_int_equal(rc_full, 0);
            assert_int_equal(rc_sh, 0);
            assert_same(full, sh, shallow_all());
        } else {
            if (rc_full != KT_EINVAL || rc_sh != KT_EINVAL)
                fail_msg("prefix of %zu bytes: full %d, shallow %d, want KT_EINVAL", n, rc_full,
                         rc_sh);
            assert_null(full);
            assert_null(sh);
        }
        kt_arena_reset(&D);
    }
    assert_true(n_valid >= 2); /* the empty prefix, and at least one whole resource entry */
}

static void test_garbage_input(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } cases[] = {
#define C(what, b) {what, b, sizeof(b) - 1}
        C("group wire type", "\x0b\x0c"),
        C("resource_spans as a varint", "\x08\x01"),
        C("unknown wire type 7", "\x0f"),
        C("tag varint never ends", "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"),
        C("length past the end", "\x0a\x05\x12\x00"),
        C("scope_spans past its resource entry", "\x0a\x02\x12\x05"),
        C("span past its scope entry", "\x0a\x04\x12\x02\x12\x09"),
        C("span name as a varint", "\x0a\x06\x12\x04\x12\x02\x28\x01"),
        C("span status as a varint", "\x0a\x06\x12\x04\x12\x02\x78\x01"),
        C("status code length-delimited", "\x0a\x08\x12\x06\x12\x04\x7a\x02\x1a\x00"),
        C("start time cut short", "\x0a\x07\x12\x05\x12\x03\x39\x01\x02"),
        C("schema_url as fixed32", "\x0a\x05\x1d\x01\x02\x03\x04"),
        C("all ones", "\xff\xff\xff\xff"),
#undef C
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kt_slice b = {(const uint8_t *)cases[i].bytes, cases[i].n};
        size_t items;
        if (kt_otlp_validate(KT_SIGNAL_TRACES, b, &items, NULL) == 0)
            fail_msg("%s: validates", cases[i].what);
        TracesData *full = (TracesData *)&full, *sh = (TracesData *)&sh;
        int rc_full = trace_decode(b, TRACE_DECODE_ALL, &D, &full);
        int rc_sh = trace_decode(b, shallow_all(), &D, &sh);
        /* A shallow decode may also hand the verdict to the full one. */
        if (rc_full != KT_EINVAL || (rc_sh != KT_EINVAL && rc_sh != KT_EUNSUPP) || full != NULL ||
            sh != NULL)
            fail_msg("%s: full %d, shallow %d, want KT_EINVAL", cases[i].what, rc_full, rc_sh);
    }
}

static void test_empty_message(void **state)
{
    (void)state;
    struct kt_slice empty = {(const uint8_t *)"", 0};
    assert_valid(empty, 0);
    assert_int_equal(decode_ok(empty, TRACE_DECODE_ALL)->n_resource_spans, 0);
    assert_int_equal(decode_ok(empty, shallow_all())->n_resource_spans, 0);
    assert_int_equal(decode_ok(empty, 0)->n_resource_spans, 0);
}

/* ---- the full decode against protobuf-c ---- */

static struct kt_slice str_field(uint32_t num, const char *s)
{
    return field(num, (struct kt_slice){(const uint8_t *)s, strlen(s)});
}

/* The full decode gives protobuf-c's result: both refuse msg, or both pack alike. */
static void assert_full_like_protobuf_c(struct kt_slice msg)
{
    TracesData *mine = (TracesData *)&mine;
    int rc = trace_decode(msg, TRACE_DECODE_ALL, &D, &mine);
    ProtobufCMessage *theirs = protobuf_c_message_unpack(
        &opentelemetry__proto__trace__v1__traces_data__descriptor, kt_arena_pb(&D), msg.n, msg.p);
    if (theirs == NULL) {
        assert_int_equal(rc, KT_EINVAL);
        assert_null(mine);
        return;
    }
    assert_int_equal(rc, 0);
    assert_packed_equal(&mine->base, theirs);
}

/* Whether the first span's attributes came from the hand-written decoder rather than the
 * protobuf-c fallback: it allocates an array's pointers and objects in one piece, so the
 * first object follows the last pointer, where protobuf-c's arena allocations are each
 * rounded up (n odd: the first object is 8 bytes further). */
static bool decoded_by_hand(const TracesData *td)
{
    const Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    assert_true(sp->n_attributes % 2 == 1);
    return (const void *)sp->attributes[0] == (const void *)(sp->attributes + sp->n_attributes);
}

static Span *span_with(const char *name, size_t n_attrs)
{
    Span *s = span_named(name);
    s->n_attributes = n_attrs;
    s->attributes = attrs(n_attrs);
    return s;
}

/* A TracesData around one span given as bytes. */
static struct kt_slice wrap_span(struct kt_slice span)
{
    return field(1, field(2, field(2, span)));
}

static void test_full_decode_equals_protobuf_c(void **state)
{
    (void)state;
    const int n_spans[] = {0, 1, 7, 24};
    for (size_t i = 0; i < sizeof(n_spans) / sizeof(n_spans[0]); i++) {
        struct kt_slice msg = pack(&fx_traces(&B, n_spans[i])->base);
        assert_valid(msg, (size_t)n_spans[i]);
        assert_full_like_protobuf_c(msg);
        if (n_spans[i] > 0)
            assert_true(decoded_by_hand(decode_ok(msg, TRACE_DECODE_ALL)));
    }
    /* The fixture has what protobuf-c keeps as unknown fields, at several levels. */
    const TracesData *td = decode_ok(pack(&fx_traces(&B, 1)->base), TRACE_DECODE_ALL);
    const ResourceSpans *rs = td->resource_spans[0];
    assert_int_equal(td->base.n_unknown_fields, 4);
    assert_int_equal(rs->base.n_unknown_fields, 4);
    assert_int_equal(rs->resource->base.n_unknown_fields, 4);
    assert_int_equal(rs->resource->entity_refs[1]->base.n_unknown_fields, 4);
    assert_int_equal(rs->scope_spans[0]->scope->base.n_unknown_fields, 4);
    const Span *sp = rs->scope_spans[0]->spans[0];
    assert_int_equal(sp->base.n_unknown_fields, 4);
    assert_int_equal(sp->status->base.n_unknown_fields, 4);
    assert_int_equal(sp->links[0]->base.n_unknown_fields, 4);
    const ProtobufCMessageUnknownField *u = &sp->base.unknown_fields[0];
    assert_int_equal(u->tag, 17);
    assert_int_equal(u->wire_type, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    assert_int_equal(u->len, 4);
    assert_memory_equal(u->data, "\x03new", 4);
}

/* Every pair of AnyValue members in one AnyValue: the second replaces the first, a
 * container whole. */
static void test_full_decode_oneof_last_member_wins(void **state)
{
    (void)state;
    struct kt_slice span = pack(&span_with("oneof", 2)->base);
    for (int i = 0; i < FX_ANY_CASES; i++) {
        for (int j = 0; j < FX_ANY_CASES; j++) {
            struct kt_slice any =
                cat(pack(&fx_value(&B, i, 1)->base), pack(&fx_value(&B, j, 1)->base));
            span = cat(span, field(9, cat(str_field(1, "k"), field(2, any))));
        }
    }
    struct kt_slice msg = wrap_span(span);
    assert_valid(msg, 1);
    assert_full_like_protobuf_c(msg);
    assert_true(decoded_by_hand(decode_ok(msg, TRACE_DECODE_ALL)));
}

/* Scalars and strings given again replace, repeated fields append, in every message. */
static void test_full_decode_repeats_like_protobuf_c(void **state)
{
    (void)state;
    Span *a = fx_span(&B, 1), *b = fx_span(&B, 2);
    a->status = b->status = NULL;
    struct kt_slice span = cat(pack(&a->base), pack(&b->base));
    Event *ea = a->events[0], *eb = b->events[1];
    Link *la = a->links[0], *lb = b->links[0];
    KeyValue *ka = attrs(1)[0], *kb = attrs(2)[1];
    ka->value = NULL;
    span = cat(span, field(11, cat(pack(&ea->base), pack(&eb->base))));
    span = cat(span, field(13, cat(pack(&la->base), pack(&lb->base))));
    span = cat(span, field(9, cat(pack(&ka->base), pack(&kb->base))));
    span = cat(span, field(9, pack(&attrs(1)[0]->base)));
    Resource *ra = fx_traces(&B, 0)->resource_spans[0]->resource, *rb = resource_new(2);
    Scope *sa = fx_traces(&B, 0)->resource_spans[0]->scope_spans[0]->scope;
    Scope *sb = scope_new("other", "");
    struct kt_slice scope = field(1, cat(pack(&sa->base), pack(&sb->base)));
    struct kt_slice ss = cat(cat(scope, field(2, span)), str_field(3, "https://a"));
    ss = cat(ss, str_field(3, "https://b"));
    struct kt_slice rs = cat(field(1, cat(pack(&ra->base), pack(&rb->base))), field(2, ss));
    struct kt_slice msg = field(1, rs);
    assert_valid(msg, 1);
    assert_full_like_protobuf_c(msg);
    TracesData *td = decode_ok(msg, TRACE_DECODE_ALL);
    assert_true(decoded_by_hand(td));
    const Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(sp->name, "operation 2");
    assert_int_equal(sp->n_events, a->n_events + b->n_events + 1);
    assert_string_equal(td->resource_spans[0]->scope_spans[0]->schema_url, "https://b");
    assert_int_equal(td->resource_spans[0]->resource->n_entity_refs, 2);
}

/* What the hand-written decoder leaves to protobuf-c gives protobuf-c's result: a singular
 * message given again (merged), a known field with a wire type not its own, field number
 * 0. */
static void test_full_decode_falls_back_to_protobuf_c(void **state)
{
    (void)state;
    struct kt_slice span = pack(&span_with("fallback", 1)->base);
    struct kt_slice v1 = pack(&fx_value(&B, 1, 0)->base), v2 = pack(&fx_value(&B, 5, 0)->base);
    struct kt_slice value_twice = cat(str_field(1, "k"), cat(field(2, v1), field(2, v2)));
    struct kt_slice msg = wrap_span(cat(span, field(9, value_twice)));
    assert_valid(msg, 1);
    assert_full_like_protobuf_c(msg);
    const KeyValue *kv = decode_ok(msg, TRACE_DECODE_ALL)
                             ->resource_spans[0]
                             ->scope_spans[0]
                             ->spans[0]
                             ->attributes[1];
    assert_int_equal(kv->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);

    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } odd[] = {
#define C(what, b) {what, b, sizeof(b) - 1}
        C("bool_value as fixed32", "\x15\x01\x00\x00\x00"),
        C("bool_value length-delimited", "\x12\x02\x00\x01"),
        C("int_value as fixed64", "\x19\x01\x02\x03\x04\x05\x06\x07\x08"),
        C("field number 0", "\x80\x00\x01"),
#undef C
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        struct kt_slice any = {(const uint8_t *)odd[i].bytes, odd[i].n};
        struct kt_slice kv_bytes = cat(str_field(1, "k"), field(2, any));
        assert_full_like_protobuf_c(wrap_span(cat(span, field(9, kv_bytes))));
    }
    /* A span field with a wire type not its own: protobuf-c refuses it. */
    struct kt_slice bad = {(const uint8_t *)"\x38\x01", 2}; /* start_time_unix_nano as varint */
    assert_full_like_protobuf_c(wrap_span(cat(span, bad)));
}

/* Every prefix of a rich message: refused by both decoders or decoded alike. */
static void test_full_decode_prefixes_like_protobuf_c(void **state)
{
    (void)state;
    struct kt_slice msg = pack(&fx_traces(&B, 1)->base);
    for (size_t n = 0; n <= msg.n; n++) {
        assert_full_like_protobuf_c((struct kt_slice){msg.p, n});
        kt_arena_reset(&D);
    }
}

/* ---- resources kept across shallow decodes (trace_decode_with) ---- */

/* A message of one resource with n_attrs attributes (its last one's int value tag, to tell
 * resources apart) and one span. */
static struct kt_slice with_resource(size_t n_attrs, int64_t tag)
{
    Resource *res = resource_new(n_attrs);
    res->attributes[n_attrs - 1]->value->int_value = tag;
    ScopeSpans *ss = scope_spans(NULL, "", 1, (Span **)ptrs(1, span_named("op")));
    struct kt_slice msg = pack(&resource_spans(res, 1, &ss)->base);
    return field(1, msg);
}

static const Resource *resource_of(const TracesData *td)
{
    assert_int_equal(td->n_resource_spans, 1);
    return td->resource_spans[0]->resource;
}

/* The same resource bytes give the same shared object, equal to what a decode without the
 * cache gives; other bytes give another; a full decode never shares. */
static void test_cache_shares_a_resource_between_messages(void **state)
{
    (void)state;
    struct trace_decode_cache *c = trace_decode_cache_new();
    assert_non_null(c);
    struct kt_slice a = with_resource(3, 7), a2 = with_resource(3, 7), b = with_resource(3, 8);
    ottl_fields need = F(RESOURCE_ATTRS) | F(SPAN_NAME);
    TracesData *one, *two, *other, *full;
    assert_int_equal(trace_decode_with(a, need, 0, &D, c, &one), 0);
    assert_int_equal(trace_decode_with(a2, need, 0, &D, c, &two), 0);
    assert_int_equal(trace_decode_with(b, need, 0, &D, c, &other), 0);
    assert_ptr_equal(resource_of(one), resource_of(two));
    assert_ptr_not_equal(resource_of(one), resource_of(other));
    assert_same(decode_ok(a, need), two, need);
    assert_same(decode_ok(b, need), other, need);
    assert_int_equal(resource_of(other)->attributes[2]->value->int_value, 8);
    assert_int_equal(trace_decode_with(a, TRACE_DECODE_ALL, 0, &D, c, &full), 0);
    assert_ptr_not_equal(resource_of(full), resource_of(one));
    assert_same(decode_ok(a, TRACE_DECODE_ALL), full, TRACE_DECODE_ALL);
    /* Not read: no resource, cache or not. */
    assert_int_equal(trace_decode_with(a, F(SPAN_NAME), 0, &D, c, &two), 0);
    assert_null(resource_of(two));
    trace_decode_cache_free(c);
}

/* More resources than the cache keeps, over many calls and in one message: every decode
 * still gives each resource as a decode without the cache does, and what a call hands out
 * stays intact to the end of that call. */
static void test_cache_decodes_every_resource_right(void **state)
{
    (void)state;
    struct trace_decode_cache *c = trace_decode_cache_new();
    assert_non_null(c);
    ottl_fields need = F(RESOURCE_ATTRS) | F(SPAN_NAME);
    for (int round = 0; round < 3; round++) {
        for (int64_t tag = 0; tag < 200; tag++) {
            struct kt_slice msg = with_resource(2, tag % 11);
            TracesData *td;
            assert_int_equal(trace_decode_with(msg, need, 0, &D, c, &td), 0);
            assert_int_equal(resource_of(td)->attributes[1]->value->int_value, tag % 11);
            assert_same(decode_ok(msg, need), td, need);
            kt_arena_reset(&D);
            kt_arena_reset(&B);
        }
    }
    /* One message of 300 distinct resources (past what one call keeps in the cache). */
    struct kt_slice msg = {(const uint8_t *)"", 0};
    for (int64_t tag = 0; tag < 300; tag++)
        msg = cat(msg, with_resource(2, 1000 + tag));
    TracesData *td;
    assert_int_equal(trace_decode_with(msg, need, 0, &D, c, &td), 0);
    assert_int_equal(td->n_resource_spans, 300);
    for (size_t r = 0; r < 300; r++)
        assert_int_equal(td->resource_spans[r]->resource->attributes[1]->value->int_value,
                         1000 + (int64_t)r);
    assert_same(decode_ok(msg, need), td, need);
    trace_decode_cache_free(c);
    trace_decode_cache_free(NULL);
}

/* Resources that fail to decode count toward recycling the cache as those that decode: the
 * memory their decodes took of it is given back, however many fail in a row. Seen by a mark
 * left on the cached object: a recycled cache decodes the resource again, without it. */
static void test_cache_recycles_after_failed_decodes(void **state)
{
    (void)state;
    struct trace_decode_cache *c = trace_decode_cache_new();
    assert_non_null(c);
    ottl_fields need = F(RESOURCE_ATTRS) | F(SPAN_NAME);
    struct kt_slice good = with_resource(2, 5);
    TracesData *td;
    assert_int_equal(trace_decode_with(good, need, 0, &D, c, &td), 0);
    ((Resource *)resource_of(td))->dropped_attributes_count = 4242;
    assert_int_equal(trace_decode_with(good, need, 0, &D, c, &td), 0);
    assert_int_equal(resource_of(td)->dropped_attributes_count, 4242);
    /* Two attributes, then an attribute cut short. */
    struct kt_slice cut = {(const uint8_t *)"\x0a\x05k", 3};
    struct kt_slice bad = field(1, field(1, cat(pack(&resource_new(2)->base), cut)));
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(trace_decode_with(bad, need, 0, &D, c, &td), KT_EINVAL);
        kt_arena_reset(&D);
    }
    assert_int_equal(trace_decode_with(good, need, 0, &D, c, &td), 0);
    assert_int_equal(resource_of(td)->dropped_attributes_count, 0);
    assert_same(decode_ok(good, need), td, need);
    trace_decode_cache_free(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- span attributes read from a shallow span's bytes ---- */

static struct kt_slice lit(const char *b, size_t n)
{
    return (struct kt_slice){(const uint8_t *)b, n};
}
#define LIT(s) lit(s, sizeof(s) - 1)

/* A span attribute: key (NULL: no key field) and AnyValue payload (NULL: no value field). */
static struct kt_slice attr(const struct kt_slice *key, const struct kt_slice *value)
{
    struct kt_slice kv = {(const uint8_t *)"", 0};
    if (key != NULL)
        kv = field(1, *key);
    if (value != NULL)
        kv = cat(kv, field(2, *value));
    return field(9, kv);
}

static struct kt_slice attr_s(const char *key, struct kt_slice value)
{
    struct kt_slice k = {(const uint8_t *)key, strlen(key)};
    return attr(&k, &value);
}

/* A span with one attribute of every kind, duplicated keys, keys given twice or cut by a
 * NUL, a value given twice (merged), a key after its value, an AnyValue nested deeper than the
 * hand-written decoder goes, and between them an event whose attribute must not be taken for
 * the span's. */
static struct kt_slice span_with_attrs(void)
{
    struct kt_slice sp = field(5, LIT("sp"));
    struct kt_slice deep = str_field(1, "bottom");
    for (int i = 0; i < 70; i++)
        deep = field(5, field(1, deep));
    struct kt_slice nul_key = LIT("x\0y"), k2 = LIT("k2"), nv = LIT("nv"), s = str_field(1, "v");
    const struct kt_slice parts[] = {
        attr_s("s", s),
        attr_s("i", LIT("\x18\x07")),
        attr_s("d", LIT("\x21\x00\x00\x00\x00\x00\x00\xf0\x3f")),
        attr_s("b", LIT("\x10\x01")),
        attr_s("arr", field(5, cat(field(1, str_field(1, "a")), field(1, LIT("\x18\x02"))))),
        attr_s("kvl", field(6, attr_s("in", s))),
        attr_s("empty", LIT("")),
        attr_s("bytes", field(7, LIT("\x01\x02"))),
        attr_s("two", cat(str_field(1, "a"), LIT("\x18\x05"))),
        attr_s("dup", str_field(1, "first")),
        attr_s("dup", LIT("\x18\x02")),
        field(9, cat(cat(str_field(1, "twice"), field(2, s)), field(2, LIT("\x18\x03")))),
        field(9, cat(field(2, s), str_field(1, "after"))),
        attr_s("long", str_field(1, "a string longer than one hundred and twenty-seven bytes, so "
                                    "that its length takes two bytes of varint: .............")),
        attr(&nv, NULL),
        attr(NULL, &s),
        attr(&nul_key, &s),
        field(9, cat(cat(str_field(1, "a"), field(1, k2)), field(2, s))),
        field(11, cat(str_field(2, "ev"), field(3, cat(str_field(1, "evonly"), field(2, s))))),
        attr_s("deep", deep),
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        sp = cat(sp, parts[i]);
    return sp;
}

static void assert_any_equal(const AnyValue *want, const AnyValue *got, const char *key)
{
    if (want == NULL || got == NULL) {
        if (want != got)
            fail_msg("[\"%s\"]: value %p, want %p", key, (void *)got, (void *)want);
        return;
    }
    assert_packed_equal(&want->base, &got->base);
}

static const char *const attr_keys[] = {"s",     "i",    "d",   "b",  "arr",    "kvl",     "empty",
                                        "bytes", "two",  "dup", "nv", "",       "x",       "k2",
                                        "a",     "deep", "in",  "ev", "evonly", "missing", "twice",
                                        "after", "long", "lon", "ss", "dupe",   "t"};
#define N_ATTR_KEYS (sizeof(attr_keys) / sizeof(attr_keys[0]))

/* Attributes of the usual shape only (key, then at most one short value of a kind
 * kt_otlp_validate's shortcut takes), which it finds (KT_OTLP_FOUND_SPAN_KV_SHORT). */
static struct kt_slice span_with_short_attrs(void)
{
    struct kt_slice nul_key = LIT("x\0y"), nv = LIT("nv"), s = str_field(1, "v");
    const struct kt_slice parts[] = {
        field(5, LIT("short")),
        attr_s("s", s),
        attr_s("i", LIT("\x18\x07")),
        attr_s("d", LIT("\x21\x00\x00\x00\x00\x00\x00\xf0\x3f")),
        attr_s("b", LIT("\x10\x01")),
        attr_s("empty", LIT("")),
        attr_s("dup", str_field(1, "first")),
        attr_s("dup", LIT("\x18\x02")),
        attr(&nv, NULL),
        attr_s("", s),
        attr(&nul_key, &s),
        attr_s("lon", str_field(1, "g")),
        attr_s("t", LIT("\x10\x00")),
        field(11, cat(str_field(2, "ev"), field(3, cat(str_field(1, "evonly"), field(2, s))))),
    };
    struct kt_slice sp = {(const uint8_t *)"", 0};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        sp = cat(sp, parts[i]);
    return sp;
}

/* The message of span (span_with_attrs, span_with_short_attrs), an empty span and one
 * without attributes. */
static struct kt_slice attrs_message_of(struct kt_slice span)
{
    struct kt_slice spans =
        cat(cat(field(2, span), field(2, LIT(""))), field(2, field(5, LIT("no attributes"))));
    return field(1, field(2, spans));
}

static struct kt_slice attrs_message(void)
{
    return attrs_message_of(span_with_attrs());
}

/* Every key of attr_keys, from the one at first on (wrapping), looked up on each span of sh
 * against the first attribute of the full span with that key. */
static void check_lookups(const TracesData *full, const TracesData *sh, size_t first)
{
    const ScopeSpans *fs = full->resource_spans[0]->scope_spans[0];
    const ScopeSpans *ss = sh->resource_spans[0]->scope_spans[0];
    assert_int_equal(fs->n_spans, 3);
    assert_int_equal(ss->n_spans, 3);
    for (size_t i = 0; i < 3; i++) {
        const Span *f = fs->spans[i], *s = ss->spans[i];
        assert_int_equal(s->n_attributes, 0);
        assert_string_equal(s->name, f->name);
        for (size_t n = 0; n < N_ATTR_KEYS; n++) {
            const char *key = attr_keys[(first + n) % N_ATTR_KEYS];
            const KeyValue *want = NULL;
            for (size_t j = 0; j < f->n_attributes && want == NULL; j++)
                if (strcmp(f->attributes[j]->key, key) == 0)
                    want = f->attributes[j];
            bool found = true;
            AnyValue *got = (AnyValue *)&got;
            assert_int_equal(trace_decode_span_attr(&D, f, key, strlen(key), &found, &got), 0);
            assert_int_equal(trace_decode_span_attr(&D, s, key, strlen(key), &found, &got), 1);
            if (found != (want != NULL))
                fail_msg("span %zu [\"%s\"]: found %d", i, key, found);
            assert_any_equal(want != NULL ? want->value : NULL, got, key);
        }
    }
}

static void test_span_attr_from_bytes_equals_full(void **state)
{
    (void)state;
    struct kt_slice msg = attrs_message();
    check_lookups(decode_ok(msg, TRACE_DECODE_ALL),
                  decode_ok(msg, F(SPAN_NAME) | F(SPAN_ATTRS_KEYED)), 0);
}

/* Through a cache, which learns the first keys looked up (a few) and walks each later span
 * once for all of them: the same answers. Each round a fresh cache learns the keys from
 * another place in the list on (so every key and every shape of KeyValue is learned in some
 * round), the next message's spans are read from their one walk, and the keys not learned,
 * or learned after a span's walk, by the walk for one key. */
static void lookups_through_cache(struct kt_slice msg, unsigned found)
{
    TracesData *full = decode_ok(msg, TRACE_DECODE_ALL);
    for (size_t first = 0; first < N_ATTR_KEYS; first += 2) {
        struct trace_decode_cache *c = trace_decode_cache_new();
        assert_non_null(c);
        for (int again = 0; again < 2; again++) {
            TracesData *sh = NULL;
            assert_int_equal(
                trace_decode_with(msg, F(SPAN_NAME) | F(SPAN_ATTRS_KEYED), found, &D, c, &sh), 0);
            check_lookups(full, sh, first);
        }
        trace_decode_cache_free(c);
    }
}

static void test_span_attr_through_cache_equals_full(void **state)
{
    (void)state;
    lookups_through_cache(attrs_message(), 0);
}

/* The same where validation found every span KeyValue of the usual shape, and the scan does
 * not test it. */
static void test_span_attr_through_cache_of_short_key_values(void **state)
{
    (void)state;
    unsigned found = 99;
    struct kt_slice msg = attrs_message_of(span_with_short_attrs());
    assert_int_equal(
        kt_otlp_validate_cached(KT_SIGNAL_TRACES, msg, 0, NULL, NULL, NULL, &found, NULL), 0);
    assert_int_equal(found, KT_OTLP_FOUND_SPAN_KV_SHORT);
    lookups_through_cache(msg, found);
    lookups_through_cache(msg, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_needs_full_exactly_for_attributes_and_events),
        T(test_shallow_equals_full),
        T(test_shallow_ids_borrow_the_message),
        T(test_full_fields_decode_everything),
        T(test_concatenated_messages),
        T(test_repeated_scalars_last_wins),
        T(test_repeated_resource),
        T(test_repeated_scope),
        T(test_repeated_status),
        T(test_truncated_input),
        T(test_garbage_input),
        T(test_span_attr_from_bytes_equals_full),
        T(test_span_attr_through_cache_equals_full),
        T(test_span_attr_through_cache_of_short_key_values),
        T(test_empty_message),
        T(test_full_decode_equals_protobuf_c),
        T(test_full_decode_oneof_last_member_wins),
        T(test_full_decode_repeats_like_protobuf_c),
        T(test_full_decode_falls_back_to_protobuf_c),
        T(test_full_decode_prefixes_like_protobuf_c),
        T(test_cache_shares_a_resource_between_messages),
        T(test_cache_decodes_every_resource_right),
        T(test_cache_recycles_after_failed_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
