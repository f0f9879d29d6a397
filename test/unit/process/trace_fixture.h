/* A TracesData with everything in it, for the trace_decode and trace_encode tests: every
 * field of every message under TracesData, every AnyValue case (zero values included, which a
 * oneof still carries), arrays and kvlists nested in each other, entity refs, events and links
 * with attributes, and fields no schema version has at every level. Built with protobuf-c
 * types from an arena; include after cmocka.h. */
#ifndef TEST_UNIT_PROCESS_TRACE_FIXTURE_H
#define TEST_UNIT_PROCESS_TRACE_FIXTURE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kt_arena.h"
#include "kt_buf.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

static inline void *fx_alloc(struct kt_arena *a, size_t n)
{
    void *p = kt_arena_alloc(a, n);
    assert_non_null(p);
    memset(p, 0, n);
    return p;
}

__attribute__((format(printf, 2, 3))) static inline char *fx_str(struct kt_arena *a,
                                                                 const char *fmt, ...)
{
    char *s = fx_alloc(a, 32);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, 32, fmt, ap);
    va_end(ap);
    return s;
}

/* m's serialization, in a. */
static inline struct kt_slice fx_pack(struct kt_arena *a, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = fx_alloc(a, n + 1);
    assert_int_equal(protobuf_c_message_pack(m, p), n);
    return (struct kt_slice){p, n};
}

/* Unknown fields of each wire type, numbered from num; protobuf-c keeps a length-delimited
 * one's length prefix in data. */
static inline void fx_unknown(struct kt_arena *a, ProtobufCMessage *m, uint32_t num)
{
    static uint8_t len_payload[] = {3, 'n', 'e', 'w'};
    static uint8_t varint[] = {0xff, 0x01};
    static uint8_t fixed64[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static uint8_t fixed32[] = {9, 8, 7, 6};
    ProtobufCMessageUnknownField *u = fx_alloc(a, 4 * sizeof(*u));
    u[0] = (ProtobufCMessageUnknownField){num, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                          sizeof(len_payload), len_payload};
    u[1] = (ProtobufCMessageUnknownField){num + 1000, PROTOBUF_C_WIRE_TYPE_VARINT, sizeof(varint),
                                          varint};
    u[2] =
        (ProtobufCMessageUnknownField){num, PROTOBUF_C_WIRE_TYPE_64BIT, sizeof(fixed64), fixed64};
    u[3] = (ProtobufCMessageUnknownField){num + 1, PROTOBUF_C_WIRE_TYPE_32BIT, sizeof(fixed32),
                                          fixed32};
    m->n_unknown_fields = 4;
    m->unknown_fields = u;
}

static inline ProtobufCBinaryData fx_bin(struct kt_arena *a, uint8_t fill, size_t n)
{
    uint8_t *p = fx_alloc(a, n ? n : 1);
    memset(p, fill, n);
    return (ProtobufCBinaryData){n, n ? p : NULL};
}

static Opentelemetry__Proto__Common__V1__KeyValue **fx_kvs(struct kt_arena *a, size_t n, int seed,
                                                           int depth);

#define FX_ANY_CASES 15

/* Value number i (0..FX_ANY_CASES-1), nested containers up to depth 3. */
static inline Opentelemetry__Proto__Common__V1__AnyValue *fx_value(struct kt_arena *a, int i,
                                                                   int depth)
{
    Opentelemetry__Proto__Common__V1__AnyValue init =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    Opentelemetry__Proto__Common__V1__AnyValue *v = fx_alloc(a, sizeof(*v));
    *v = init;
    switch (i % FX_ANY_CASES) {
    case 0: break; /* no value */
    case 1:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v->string_value = fx_str(a, "value %d \xc3\xa9", i);
        break;
    case 2:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v->string_value = fx_alloc(a, 1); /* "" */
        break;
    case 3:
    case 4:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        v->bool_value = i % FX_ANY_CASES == 3;
        break;
    case 5:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v->int_value = -42 - i;
        break;
    case 6:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v->int_value = 0;
        break;
    case 7:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        v->double_value = 3.25 * i;
        break;
    case 8:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        v->double_value = -0.0;
        break;
    case 9:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        v->bytes_value = fx_bin(a, (uint8_t)i, 5);
        break;
    case 10:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        v->bytes_value = fx_bin(a, 0, 0);
        break;
    case 11:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE_STRINDEX;
        v->string_value_strindex = i % 2 ? -7 : 7;
        break;
    case 12:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v->int_value = INT64_MAX;
        break;
    default:
        if (depth >= 3) {
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            v->int_value = depth;
        } else if (i % FX_ANY_CASES == 13) {
            Opentelemetry__Proto__Common__V1__ArrayValue init_arr =
                OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
            Opentelemetry__Proto__Common__V1__ArrayValue *arr = fx_alloc(a, sizeof(*arr));
            *arr = init_arr;
            arr->n_values = FX_ANY_CASES;
            arr->values = fx_alloc(a, FX_ANY_CASES * sizeof(*arr->values));
            for (int k = 0; k < FX_ANY_CASES; k++)
                arr->values[k] = fx_value(a, k, depth + 1);
            if (depth == 0)
                fx_unknown(a, &arr->base, 77);
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
            v->array_value = arr;
        } else {
            Opentelemetry__Proto__Common__V1__KeyValueList init_kvl =
                OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
            Opentelemetry__Proto__Common__V1__KeyValueList *kvl = fx_alloc(a, sizeof(*kvl));
            *kvl = init_kvl;
            kvl->n_values = FX_ANY_CASES;
            kvl->values = fx_kvs(a, FX_ANY_CASES, i, depth + 1);
            if (depth == 0)
                fx_unknown(a, &kvl->base, 78);
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
            v->kvlist_value = kvl;
        }
        break;
    }
    if (i % 6 == 1)
        fx_unknown(a, &v->base, 20);
    return v;
}

/* n attributes with values seed, seed+1, ...; one without a value, some with key_strindex. */
static Opentelemetry__Proto__Common__V1__KeyValue **fx_kvs(struct kt_arena *a, size_t n, int seed,
                                                           int depth)
{
    Opentelemetry__Proto__Common__V1__KeyValue **v = fx_alloc(a, (n ? n : 1) * sizeof(*v));
    for (size_t k = 0; k < n; k++) {
        Opentelemetry__Proto__Common__V1__KeyValue init =
            OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        int i = seed + (int)k;
        v[k] = fx_alloc(a, sizeof(*v[k]));
        *v[k] = init;
        v[k]->key = fx_str(a, "attr.%d", i);
        v[k]->value = k == 1 ? NULL : fx_value(a, i, depth);
        v[k]->key_strindex = i % 5 == 0 ? -i - 1 : 0;
        if (i % 7 == 3)
            fx_unknown(a, &v[k]->base, 30);
    }
    return v;
}

static inline Opentelemetry__Proto__Trace__V1__Span *fx_span(struct kt_arena *a, int i)
{
    Opentelemetry__Proto__Trace__V1__Span init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    Opentelemetry__Proto__Trace__V1__Span *s = fx_alloc(a, sizeof(*s));
    *s = init;
    s->trace_id = fx_bin(a, 0x11, 16);
    s->span_id = fx_bin(a, (uint8_t)(0x20 + i), 8);
    s->trace_state = i % 2 ? "vendor=a:1" : "";
    s->parent_span_id = i % 3 ? fx_bin(a, 0x33, 8) : fx_bin(a, 0, 0);
    s->name = fx_str(a, "operation %d", i);
    s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)(i % 3 == 2 ? -1 : i % 6);
    s->start_time_unix_nano = UINT64_C(1700000000000000000) + (uint64_t)i;
    s->end_time_unix_nano = i % 4 ? 1700000000500000000ull : 0;
    s->n_attributes = (size_t)(FX_ANY_CASES + i % 3);
    s->attributes = fx_kvs(a, s->n_attributes, i, 0);
    s->dropped_attributes_count = (uint32_t)i;
    s->n_events = (size_t)(i % 3);
    s->events = fx_alloc(a, 3 * sizeof(*s->events));
    for (size_t k = 0; k < s->n_events; k++) {
        Opentelemetry__Proto__Trace__V1__Span__Event einit =
            OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
        Opentelemetry__Proto__Trace__V1__Span__Event *e = fx_alloc(a, sizeof(*e));
        *e = einit;
        e->time_unix_nano = k ? 1700000000200000000ull : 0;
        e->name = k ? "exception" : "";
        e->n_attributes = 3 + k;
        e->attributes = fx_kvs(a, e->n_attributes, i + 5 * (int)k, 0);
        e->dropped_attributes_count = (uint32_t)k;
        if (k == 1)
            fx_unknown(a, &e->base, 40);
        s->events[k] = e;
    }
    s->dropped_events_count = i % 2 ? UINT32_MAX : 0;
    s->n_links = (size_t)(i % 2 + 1);
    s->links = fx_alloc(a, 2 * sizeof(*s->links));
    for (size_t k = 0; k < s->n_links; k++) {
        Opentelemetry__Proto__Trace__V1__Span__Link linit =
            OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
        Opentelemetry__Proto__Trace__V1__Span__Link *l = fx_alloc(a, sizeof(*l));
        *l = linit;
        l->trace_id = fx_bin(a, 0x44, k ? 16 : 0);
        l->span_id = fx_bin(a, 0x55, 8);
        l->trace_state = k ? "linked=1" : "";
        l->n_attributes = 2 * k;
        l->attributes = fx_kvs(a, l->n_attributes, i + 9, 0);
        l->dropped_attributes_count = (uint32_t)(2 * k);
        l->flags = k ? 0x301 : 0;
        if (k == 0)
            fx_unknown(a, &l->base, 50);
        s->links[k] = l;
    }
    s->dropped_links_count = (uint32_t)(i % 2);
    if (i % 4 != 3) {
        Opentelemetry__Proto__Trace__V1__Status sinit =
            OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
        s->status = fx_alloc(a, sizeof(*s->status));
        *s->status = sinit;
        s->status->message = i % 4 == 1 ? "deadline exceeded" : "";
        s->status->code =
            (Opentelemetry__Proto__Trace__V1__Status__StatusCode)(i % 4 == 2 ? -3 : i % 4);
        if (i % 4 == 0)
            fx_unknown(a, &s->status->base, 60);
    }
    s->flags = i % 2 ? 0x100 : 0;
    if (i % 3 == 0)
        fx_unknown(a, &s->base, 17);
    return s;
}

static inline Opentelemetry__Proto__Common__V1__EntityRef *fx_entity_ref(struct kt_arena *a, int i)
{
    static char *keys[] = {"service.name", "", "service.namespace"};
    Opentelemetry__Proto__Common__V1__EntityRef init =
        OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
    Opentelemetry__Proto__Common__V1__EntityRef *r = fx_alloc(a, sizeof(*r));
    *r = init;
    r->schema_url = i ? "https://opentelemetry.io/schemas/1.26.0" : "";
    r->type = "service";
    r->n_id_keys = 3;
    r->id_keys = keys;
    r->n_description_keys = (size_t)i;
    r->description_keys = keys;
    if (i)
        fx_unknown(a, &r->base, 70);
    return r;
}

/* n_spans spans over two resources (one with everything, one bare) and three scopes. */
static inline Opentelemetry__Proto__Trace__V1__TracesData *fx_traces(struct kt_arena *a,
                                                                     int n_spans)
{
    Opentelemetry__Proto__Resource__V1__Resource rinit =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Resource__V1__Resource *res = fx_alloc(a, sizeof(*res));
    *res = rinit;
    res->n_attributes = FX_ANY_CASES;
    res->attributes = fx_kvs(a, FX_ANY_CASES, 100, 0);
    res->dropped_attributes_count = 2;
    res->n_entity_refs = 2;
    res->entity_refs = fx_alloc(a, 2 * sizeof(*res->entity_refs));
    res->entity_refs[0] = fx_entity_ref(a, 0);
    res->entity_refs[1] = fx_entity_ref(a, 2);
    fx_unknown(a, &res->base, 80);

    Opentelemetry__Proto__Common__V1__InstrumentationScope scinit =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    Opentelemetry__Proto__Common__V1__InstrumentationScope *scope = fx_alloc(a, sizeof(*scope));
    *scope = scinit;
    scope->name = "io.opentelemetry.http";
    scope->version = "1.2.0";
    scope->n_attributes = 4;
    scope->attributes = fx_kvs(a, 4, 200, 0);
    scope->dropped_attributes_count = 1;
    fx_unknown(a, &scope->base, 90);

    Opentelemetry__Proto__Trace__V1__ScopeSpans ssinit =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ScopeSpans **ss = fx_alloc(a, 3 * sizeof(*ss));
    for (int k = 0; k < 3; k++) {
        ss[k] = fx_alloc(a, sizeof(*ss[k]));
        *ss[k] = ssinit;
    }
    ss[0]->scope = scope;
    ss[0]->schema_url = "https://opentelemetry.io/schemas/1.24.0";
    ss[0]->n_spans = (size_t)(n_spans - n_spans / 3);
    ss[1]->n_spans = (size_t)(n_spans / 3);
    ss[0]->spans = fx_alloc(a, (ss[0]->n_spans + 1) * sizeof(*ss[0]->spans));
    ss[1]->spans = fx_alloc(a, (ss[1]->n_spans + 1) * sizeof(*ss[1]->spans));
    for (int i = 0; i < n_spans; i++) {
        if (i < (int)ss[0]->n_spans)
            ss[0]->spans[i] = fx_span(a, i);
        else
            ss[1]->spans[i - (int)ss[0]->n_spans] = fx_span(a, i);
    }
    fx_unknown(a, &ss[0]->base, 95);

    Opentelemetry__Proto__Trace__V1__ResourceSpans rsinit =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ResourceSpans **rs = fx_alloc(a, 2 * sizeof(*rs));
    rs[0] = fx_alloc(a, sizeof(*rs[0]));
    *rs[0] = rsinit;
    rs[0]->resource = res;
    rs[0]->schema_url = "https://opentelemetry.io/schemas/1.21.0";
    rs[0]->n_scope_spans = 2;
    rs[0]->scope_spans = ss;
    fx_unknown(a, &rs[0]->base, 99);
    rs[1] = fx_alloc(a, sizeof(*rs[1]));
    *rs[1] = rsinit;
    rs[1]->n_scope_spans = 1;
    rs[1]->scope_spans = ss + 2;

    Opentelemetry__Proto__Trace__V1__TracesData tinit =
        OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    Opentelemetry__Proto__Trace__V1__TracesData *td = fx_alloc(a, sizeof(*td));
    *td = tinit;
    td->n_resource_spans = 2;
    td->resource_spans = rs;
    fx_unknown(a, &td->base, 1000);
    return td;
}

#endif
