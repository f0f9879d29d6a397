#include "trace_encode.h"

#include <string.h>

#include "kt_err.h"
#include "kt_pb.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;

#define KEY(num, wt) ((uint32_t)(num) << 3 | (wt))
#define LD(num) KEY(num, KT_PB_LEN)
/* Room for a key and a length (or a varint value), the most a field adds besides its bytes. */
#define HEAD_MAX 20

/* Output written back to front into the spare capacity of out: the bytes so far are
 * [p, out->p + out->cap), and lengths are measured from the end so that they survive the
 * buffer moving when it grows. */
struct wr {
    struct kt_buf *out;
    uint8_t *p;
    uint8_t *lo; /* out->p + out->len: nothing is written below */
};

static inline size_t written(const struct wr *w)
{
    return (size_t)(w->out->p + w->out->cap - w->p);
}

static __attribute__((noinline)) int grow(struct wr *w, size_t need)
{
    struct kt_buf *b = w->out;
    size_t n = written(w), old_cap = b->cap, spare = b->cap - b->len;
    if (need > SIZE_MAX / 4 || spare > SIZE_MAX / 4 || kt_buf_reserve(b, 2 * spare + need) != 0)
        return KT_ENOMEM;
    memmove(b->p + b->cap - n, b->p + old_cap - n, n);
    w->p = b->p + b->cap - n;
    w->lo = b->p + b->len;
    return 0;
}

static inline int room(struct wr *w, size_t n)
{
    return (size_t)(w->p - w->lo) >= n ? 0 : grow(w, n);
}

/* put_*: room must have been made. */
static inline void put_varint(struct wr *w, uint64_t v)
{
    if (v < 0x80) {
        *--w->p = (uint8_t)v;
        return;
    }
    w->p -= kt_varint_size(v);
    kt_varint_put(w->p, v);
}

static inline void put_fixed(struct wr *w, uint64_t v, int n)
{
    w->p -= n;
    for (int i = 0; i < n; i++, v >>= 8)
        w->p[i] = (uint8_t)v;
}

/* field_*: one field, making room for it. */
static inline int field_ld(struct wr *w, uint32_t key, const void *s, size_t n)
{
    if (room(w, n + HEAD_MAX) != 0)
        return KT_ENOMEM;
    w->p -= n;
    if (n > 0)
        memcpy(w->p, s, n);
    put_varint(w, n);
    put_varint(w, key);
    return 0;
}

static inline int field_varint(struct wr *w, uint32_t key, uint64_t v)
{
    if (room(w, HEAD_MAX) != 0)
        return KT_ENOMEM;
    put_varint(w, v);
    put_varint(w, key);
    return 0;
}

static inline int field_fixed(struct wr *w, uint32_t key, uint64_t v, int n)
{
    if (room(w, HEAD_MAX) != 0)
        return KT_ENOMEM;
    put_fixed(w, v, n);
    put_varint(w, key);
    return 0;
}

/* The length and key in front of a sub-message written since mark. */
static inline int field_head(struct wr *w, uint32_t key, size_t mark)
{
    return field_varint(w, key, written(w) - mark);
}

/* proto3 fields outside a oneof: left out when zero or empty, as protobuf-c does (a string
 * by strlen, so an embedded NUL ends it there too). int32 and enums: negative ones in ten
 * bytes. */
static inline int opt_str(struct wr *w, uint32_t key, const char *s)
{
    return s == NULL || *s == '\0' ? 0 : field_ld(w, key, s, strlen(s));
}

static inline int opt_bytes(struct wr *w, uint32_t key, ProtobufCBinaryData b)
{
    return b.len == 0 ? 0 : field_ld(w, key, b.data, b.len);
}

static inline int opt_uint(struct wr *w, uint32_t key, uint64_t v)
{
    return v == 0 ? 0 : field_varint(w, key, v);
}

static inline int opt_int32(struct wr *w, uint32_t key, int32_t v)
{
    return opt_uint(w, key, (uint64_t)(int64_t)v);
}

static inline int opt_fixed(struct wr *w, uint32_t key, uint64_t v, int n)
{
    return v == 0 ? 0 : field_fixed(w, key, v, n);
}

/* After the known fields, in the order kept. */
static int unknown(struct wr *w, const ProtobufCMessage *m)
{
    for (size_t i = m->n_unknown_fields; i-- > 0;) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        if (room(w, u->len + HEAD_MAX) != 0)
            return KT_ENOMEM;
        w->p -= u->len;
        if (u->len > 0)
            memcpy(w->p, u->data, u->len);
        put_varint(w, (uint64_t)u->tag << 3);
        *w->p = (uint8_t)(*w->p | u->wire_type);
    }
    return 0;
}

static int e_key_values(struct wr *w, uint32_t key, KeyValue *const *v, size_t n);

static int e_any(struct wr *w, const AnyValue *m);

static int e_array(struct wr *w, const ArrayValue *m)
{
    int rc = unknown(w, &m->base);
    for (size_t i = m->n_values; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->values[i] == NULL || (rc = e_any(w, m->values[i])) == 0)
            rc = field_head(w, LD(1), mark);
    }
    return rc;
}

static int e_kvlist(struct wr *w, const KeyValueList *m)
{
    int rc = unknown(w, &m->base);
    return rc != 0 ? rc : e_key_values(w, LD(1), m->values, m->n_values);
}

/* A oneof member is written whatever its value, but for a NULL string or message (and a
 * string that is protobuf-c's own empty default). */
static int e_any(struct wr *w, const AnyValue *m)
{
    int rc = unknown(w, &m->base);
    if (rc != 0)
        return rc;
    size_t mark = written(w);
    uint64_t bits;
    switch (m->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        if (m->string_value == NULL || m->string_value == protobuf_c_empty_string)
            return 0;
        return field_ld(w, LD(1), m->string_value, strlen(m->string_value));
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return field_varint(w, KEY(2, KT_PB_VARINT), m->bool_value ? 1 : 0);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return field_varint(w, KEY(3, KT_PB_VARINT), (uint64_t)m->int_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        memcpy(&bits, &m->double_value, sizeof(bits));
        return field_fixed(w, KEY(4, KT_PB_FIXED64), bits, 8);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (m->array_value == NULL)
            return 0;
        rc = e_array(w, m->array_value);
        return rc != 0 ? rc : field_head(w, LD(5), mark);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (m->kvlist_value == NULL)
            return 0;
        rc = e_kvlist(w, m->kvlist_value);
        return rc != 0 ? rc : field_head(w, LD(6), mark);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return field_ld(w, LD(7), m->bytes_value.data, m->bytes_value.len);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE_STRINDEX:
        return field_varint(w, KEY(8, KT_PB_VARINT), (uint64_t)(int64_t)m->string_value_strindex);
    default: return 0;
    }
}

static int e_key_value(struct wr *w, const KeyValue *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_int32(w, KEY(3, KT_PB_VARINT), m->key_strindex);
    if (rc == 0 && m->value != NULL) {
        size_t mark = written(w);
        if ((rc = e_any(w, m->value)) == 0)
            rc = field_head(w, LD(2), mark);
    }
    return rc != 0 ? rc : opt_str(w, LD(1), m->key);
}

/* A repeated message field's NULL element is written empty, as protobuf-c does. */
static int e_key_values(struct wr *w, uint32_t key, KeyValue *const *v, size_t n)
{
    int rc = 0;
    for (size_t i = n; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (v[i] == NULL || (rc = e_key_value(w, v[i])) == 0)
            rc = field_head(w, key, mark);
    }
    return rc;
}

/* Repeated strings: a NULL one is written empty, as protobuf-c does. */
static int e_strings(struct wr *w, uint32_t key, char *const *v, size_t n)
{
    int rc = 0;
    for (size_t i = n; rc == 0 && i-- > 0;)
        rc = field_ld(w, key, v[i], v[i] == NULL ? 0 : strlen(v[i]));
    return rc;
}

static int e_entity_ref(struct wr *w, const EntityRef *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = e_strings(w, LD(4), m->description_keys, m->n_description_keys);
    if (rc == 0)
        rc = e_strings(w, LD(3), m->id_keys, m->n_id_keys);
    if (rc == 0)
        rc = opt_str(w, LD(2), m->type);
    return rc != 0 ? rc : opt_str(w, LD(1), m->schema_url);
}

static int e_resource(struct wr *w, const Resource *m)
{
    int rc = unknown(w, &m->base);
    for (size_t i = m->n_entity_refs; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->entity_refs[i] == NULL || (rc = e_entity_ref(w, m->entity_refs[i])) == 0)
            rc = field_head(w, LD(3), mark);
    }
    if (rc == 0)
        rc = opt_uint(w, KEY(2, KT_PB_VARINT), m->dropped_attributes_count);
    return rc != 0 ? rc : e_key_values(w, LD(1), m->attributes, m->n_attributes);
}

static int e_scope(struct wr *w, const Scope *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_uint(w, KEY(4, KT_PB_VARINT), m->dropped_attributes_count);
    if (rc == 0)
        rc = e_key_values(w, LD(3), m->attributes, m->n_attributes);
    if (rc == 0)
        rc = opt_str(w, LD(2), m->version);
    return rc != 0 ? rc : opt_str(w, LD(1), m->name);
}

static int e_status(struct wr *w, const Status *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_int32(w, KEY(3, KT_PB_VARINT), (int32_t)m->code);
    return rc != 0 ? rc : opt_str(w, LD(2), m->message);
}

static int e_event(struct wr *w, const Event *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_uint(w, KEY(4, KT_PB_VARINT), m->dropped_attributes_count);
    if (rc == 0)
        rc = e_key_values(w, LD(3), m->attributes, m->n_attributes);
    if (rc == 0)
        rc = opt_str(w, LD(2), m->name);
    return rc != 0 ? rc : opt_fixed(w, KEY(1, KT_PB_FIXED64), m->time_unix_nano, 8);
}

static int e_link(struct wr *w, const Link *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_fixed(w, KEY(6, KT_PB_FIXED32), m->flags, 4);
    if (rc == 0)
        rc = opt_uint(w, KEY(5, KT_PB_VARINT), m->dropped_attributes_count);
    if (rc == 0)
        rc = e_key_values(w, LD(4), m->attributes, m->n_attributes);
    if (rc == 0)
        rc = opt_str(w, LD(3), m->trace_state);
    if (rc == 0)
        rc = opt_bytes(w, LD(2), m->span_id);
    return rc != 0 ? rc : opt_bytes(w, LD(1), m->trace_id);
}

static int e_span(struct wr *w, const Span *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_fixed(w, KEY(16, KT_PB_FIXED32), m->flags, 4);
    if (rc == 0 && m->status != NULL) {
        size_t mark = written(w);
        if ((rc = e_status(w, m->status)) == 0)
            rc = field_head(w, LD(15), mark);
    }
    if (rc == 0)
        rc = opt_uint(w, KEY(14, KT_PB_VARINT), m->dropped_links_count);
    for (size_t i = m->n_links; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->links[i] == NULL || (rc = e_link(w, m->links[i])) == 0)
            rc = field_head(w, LD(13), mark);
    }
    if (rc == 0)
        rc = opt_uint(w, KEY(12, KT_PB_VARINT), m->dropped_events_count);
    for (size_t i = m->n_events; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->events[i] == NULL || (rc = e_event(w, m->events[i])) == 0)
            rc = field_head(w, LD(11), mark);
    }
    if (rc == 0)
        rc = opt_uint(w, KEY(10, KT_PB_VARINT), m->dropped_attributes_count);
    if (rc == 0)
        rc = e_key_values(w, LD(9), m->attributes, m->n_attributes);
    if (rc == 0)
        rc = opt_fixed(w, KEY(8, KT_PB_FIXED64), m->end_time_unix_nano, 8);
    if (rc == 0)
        rc = opt_fixed(w, KEY(7, KT_PB_FIXED64), m->start_time_unix_nano, 8);
    if (rc == 0)
        rc = opt_int32(w, KEY(6, KT_PB_VARINT), (int32_t)m->kind);
    if (rc == 0)
        rc = opt_str(w, LD(5), m->name);
    if (rc == 0)
        rc = opt_bytes(w, LD(4), m->parent_span_id);
    if (rc == 0)
        rc = opt_str(w, LD(3), m->trace_state);
    if (rc == 0)
        rc = opt_bytes(w, LD(2), m->span_id);
    return rc != 0 ? rc : opt_bytes(w, LD(1), m->trace_id);
}

static int e_scope_spans(struct wr *w, const ScopeSpans *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_str(w, LD(3), m->schema_url);
    for (size_t i = m->n_spans; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->spans[i] == NULL || (rc = e_span(w, m->spans[i])) == 0)
            rc = field_head(w, LD(2), mark);
    }
    if (rc == 0 && m->scope != NULL) {
        size_t mark = written(w);
        if ((rc = e_scope(w, m->scope)) == 0)
            rc = field_head(w, LD(1), mark);
    }
    return rc;
}

static int e_resource_spans(struct wr *w, const ResourceSpans *m)
{
    int rc = unknown(w, &m->base);
    if (rc == 0)
        rc = opt_str(w, LD(3), m->schema_url);
    for (size_t i = m->n_scope_spans; rc == 0 && i-- > 0;) {
        size_t mark = written(w);
        if (m->scope_spans[i] == NULL || (rc = e_scope_spans(w, m->scope_spans[i])) == 0)
            rc = field_head(w, LD(2), mark);
    }
    if (rc == 0 && m->resource != NULL) {
        size_t mark = written(w);
        if ((rc = e_resource(w, m->resource)) == 0)
            rc = field_head(w, LD(1), mark);
    }
    return rc;
}

int trace_encode(const TracesData *td, struct kt_buf *out)
{
    /* A first guess; the buffer is usually reused and already large enough. */
    if (kt_buf_reserve(out, 1024) != 0)
        return KT_ENOMEM;
    struct wr w = {out, out->p + out->cap, out->p + out->len};
    int rc = unknown(&w, &td->base);
    for (size_t i = td->n_resource_spans; rc == 0 && i-- > 0;) {
        size_t mark = written(&w);
        if (td->resource_spans[i] == NULL ||
            (rc = e_resource_spans(&w, td->resource_spans[i])) == 0)
            rc = field_head(&w, LD(1), mark);
    }
    if (rc != 0)
        return rc;
    size_t n = written(&w);
    memmove(out->p + out->len, w.p, n);
    out->len += n;
    return 0;
}
