#include "trace_decode.h"

#include <stdlib.h>
#include <string.h>

#include "kt_err.h"
#include "kt_otlp_wire.h"
#include "kt_pb.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;

#define SCOPE_FIELDS                                                                               \
    (OTTL_FIELD(OTTL_P_SCOPE_NAME) | OTTL_FIELD(OTTL_P_SCOPE_VERSION) |                            \
     OTTL_FIELD(OTTL_P_SCOPE_ATTRS) | OTTL_FIELD(OTTL_P_SCOPE_DROPPED))

bool trace_decode_needs_full(ottl_fields fields)
{
    return (fields & (OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_SPANEVENT_NAME) |
                      OTTL_FIELD(OTTL_P_SPANEVENT_TIME) | OTTL_FIELD(OTTL_P_SPANEVENT_TIME_T) |
                      OTTL_FIELD(OTTL_P_SPANEVENT_ATTRS) | OTTL_FIELD(OTTL_P_SPANEVENT_DROPPED))) !=
           0;
}

/* ---- decoding ----
 *
 * Hand-written for the messages under TracesData, to give what protobuf-c 1.4.1's
 * protobuf_c_message_unpack gives (packing either yields the same bytes) without its
 * descriptor-driven scan, slab and per-object allocation. protobuf-c's rules: a scalar or
 * string given again replaces the earlier one; a repeated field appends; a oneof keeps the
 * last member set, a message member of it replaced whole; unknown fields are kept in
 * order, each with its value bytes after the tag (a length-delimited one's length prefix
 * included) so that packing puts them back. What is not reproduced here returns KT_EUNSUPP
 * and trace_decode falls back to protobuf-c: a singular message given again (merged), a
 * known field with another wire type than its own (protobuf-c reads a bool from any),
 * AnyValues nested past kt_otlp_validate's bound. Fields are read with kt_pb_field, under
 * the rules kt_otlp_validate applied to the same bytes.
 *
 * A shallow decode runs the same code and skips what the caller does not read: a span's
 * attributes, events and links, resources and scopes unless their fields are read, and
 * unknown fields (shallow objects are never encoded). */

/* AnyValue depth past which protobuf-c decides (kt_otlp_validate accepts 32). */
#define MAX_ANY_DEPTH 64

/* The next field (kt_pb_field) with kotel's error codes: 1, 0 at end, KT_EINVAL on bytes
 * protobuf-c refuses too (cut short, a group), KT_EUNSUPP on what it may read (field number
 * 0, a varint past 64 bits): kt_otlp_validate refuses those, and for other callers
 * protobuf-c decides. */
static inline __attribute__((always_inline)) int wf_next(const uint8_t **pp, const uint8_t *end,
                                                         struct kt_pb_field *f)
{
    int rc = kt_pb_field(pp, end, f);
    if (rc >= 0)
        return rc;
    return rc == KT_PB_TRUNCATED || rc == KT_PB_BAD_WIRE_TYPE ? KT_EINVAL : KT_EUNSUPP;
}

/* Known field numbers lo..hi of a message, as a bit mask (all below 32). */
#define FIELDS(lo, hi) ((2u << (hi)) - (1u << (lo)))

static inline bool is_known(uint32_t known, uint32_t num)
{
    return num < 32 && (known >> num & 1);
}

/* Occurrences of fields a and b in [p, end), whatever their wire type (protobuf-c sizes its
 * arrays so). Returns 0 or what wf_next fails with. */
static int count2(const uint8_t *p, const uint8_t *end, uint32_t a, uint32_t b, size_t *na,
                  size_t *nb)
{
    struct kt_pb_field f;
    int rc;
    *na = *nb = 0;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        *na += f.num == a;
        *nb += f.num == b;
    }
    return rc;
}

static int count1(const uint8_t *p, const uint8_t *end, uint32_t a, size_t *na)
{
    size_t ignored;
    return count2(p, end, a, 0, na, &ignored);
}

/* n pointers followed by the n objects of size sz they will point to (NULL for none, as
 * protobuf-c leaves an empty repeated field). */
static int vec(struct kt_arena *a, size_t n, size_t sz, void *out)
{
    void **v = NULL;
    if (n > 0 && (v = kt_arena_alloc(a, n * (sizeof(*v) + sz))) == NULL)
        return KT_ENOMEM;
    memcpy(out, &v, sizeof(v));
    return 0;
}

/* Where the objects of a vec() start. */
static inline void *vec_objs(void *v, size_t n)
{
    return v == NULL ? NULL : (char *)v + n * sizeof(void *);
}

/* Keeps f (ending at fend) in m's unknown fields. The array is sized on the first one by a
 * count over the whole message [start, end): unknown fields are rare. */
static int keep_unknown(struct kt_arena *a, ProtobufCMessage *m, const struct kt_pb_field *f,
                        const uint8_t *fend, const uint8_t *start, const uint8_t *end,
                        uint32_t known)
{
    if (m->unknown_fields == NULL) {
        struct kt_pb_field g;
        size_t n = 0;
        while (wf_next(&start, end, &g) == 1)
            n += !is_known(known, g.num);
        m->unknown_fields = kt_arena_alloc(a, n * sizeof(*m->unknown_fields));
        if (m->unknown_fields == NULL)
            return KT_ENOMEM;
    }
    ProtobufCMessageUnknownField *u = &m->unknown_fields[m->n_unknown_fields++];
    u->tag = f->num;
    u->wire_type = (ProtobufCWireType)f->wt;
    u->len = (size_t)(fend - f->val);
    u->data = kt_arena_memdup(a, f->val, u->len);
    return u->data == NULL ? KT_ENOMEM : 0;
}

static inline int str_of(struct kt_arena *a, const struct kt_pb_field *f, char **out)
{
    if (f->wt != KT_PB_LEN)
        return KT_EUNSUPP;
    *out = kt_arena_strndup(a, (const char *)f->bytes.p, f->bytes.n);
    return *out == NULL ? KT_ENOMEM : 0;
}

/* protobuf-c leaves data NULL for empty bytes. */
static inline int bytes_of(struct kt_arena *a, const struct kt_pb_field *f,
                           ProtobufCBinaryData *out)
{
    if (f->wt != KT_PB_LEN)
        return KT_EUNSUPP;
    out->len = f->bytes.n;
    out->data = NULL;
    if (f->bytes.n > 0 && (out->data = kt_arena_memdup(a, f->bytes.p, f->bytes.n)) == NULL)
        return KT_ENOMEM;
    return 0;
}

/* int32, uint32 and enums keep the low 32 bits of the varint; int64 all of it. */
static inline int varint_of(const struct kt_pb_field *f, uint64_t *v)
{
    if (f->wt != KT_PB_VARINT)
        return KT_EUNSUPP;
    *v = f->v;
    return 0;
}

static inline int u32_of(const struct kt_pb_field *f, uint32_t *out)
{
    if (f->wt != KT_PB_VARINT)
        return KT_EUNSUPP;
    *out = (uint32_t)f->v;
    return 0;
}

static inline int i32_of(const struct kt_pb_field *f, int32_t *out)
{
    if (f->wt != KT_PB_VARINT)
        return KT_EUNSUPP;
    *out = (int32_t)(uint32_t)f->v;
    return 0;
}

static inline int fixed64_of(const struct kt_pb_field *f, uint64_t *out)
{
    if (f->wt != KT_PB_FIXED64)
        return KT_EUNSUPP;
    *out = f->v;
    return 0;
}

static inline int fixed32_of(const struct kt_pb_field *f, uint32_t *out)
{
    if (f->wt != KT_PB_FIXED32)
        return KT_EUNSUPP;
    *out = (uint32_t)f->v;
    return 0;
}

/* A singular message field's payload, for the first time (a second would be merged). */
static inline int once(const struct kt_pb_field *f, const void *cur)
{
    if (f->wt != KT_PB_LEN || cur != NULL)
        return KT_EUNSUPP;
    return 0;
}

static const AnyValue any_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const ArrayValue array_init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
static const KeyValueList kvlist_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
static const KeyValue kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const Scope scope_init = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
static const EntityRef entity_ref_init = OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
static const Resource resource_init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
static const Status status_init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const Event event_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
static const Link link_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
static const Span span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const ScopeSpans scope_spans_init = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
static const ResourceSpans resource_spans_init =
    OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
static const TracesData traces_data_init = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;

static int d_key_value(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth,
                       KeyValue *m);
static int d_any(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth, AnyValue *m);

static int d_array(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth,
                   ArrayValue *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 1);
    size_t n;
    int rc = count1(p, end, 1, &n);
    *m = array_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(AnyValue), &m->values)) != 0)
        return rc;
    AnyValue *objs = vec_objs(m->values, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (f.num == 1) {
            AnyValue *v = m->values[m->n_values] = &objs[m->n_values];
            m->n_values++;
            rc = f.wt == KT_PB_LEN ? d_any(a, f.bytes.p, f.bytes.p + f.bytes.n, depth, v)
                                   : KT_EUNSUPP;
        } else {
            rc = keep_unknown(a, &m->base, &f, p, start, end, known);
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_kvlist(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth,
                    KeyValueList *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 1);
    size_t n;
    int rc = count1(p, end, 1, &n);
    *m = kvlist_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(KeyValue), &m->values)) != 0)
        return rc;
    KeyValue *objs = vec_objs(m->values, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (f.num == 1) {
            KeyValue *kv = m->values[m->n_values] = &objs[m->n_values];
            m->n_values++;
            rc = f.wt == KT_PB_LEN ? d_key_value(a, f.bytes.p, f.bytes.p + f.bytes.n, depth, kv)
                                   : KT_EUNSUPP;
        } else {
            rc = keep_unknown(a, &m->base, &f, p, start, end, known);
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* The oneof: each member replaces the one before (protobuf-c zeroes the union between). */
static int d_any(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth, AnyValue *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 8);
    *m = any_init;
    if (++depth > MAX_ANY_DEPTH)
        return KT_EUNSUPP;
    struct kt_pb_field f;
    int rc;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (!is_known(known, f.num)) {
            if ((rc = keep_unknown(a, &m->base, &f, p, start, end, known)) != 0)
                return rc;
            continue;
        }
        memset(&m->bytes_value, 0, sizeof(m->bytes_value)); /* the union's widest member */
        uint64_t v = 0;
        switch (f.num) {
        case 1: rc = str_of(a, &f, &m->string_value); break;
        case 2:
            /* protobuf-c: true when any of the varint's bytes has a value bit set. */
            if ((rc = varint_of(&f, &v)) == 0)
                for (const uint8_t *q = f.val; q < p; q++)
                    m->bool_value |= (*q & 0x7f) != 0;
            break;
        case 3:
            if ((rc = varint_of(&f, &v)) == 0)
                m->int_value = (int64_t)v;
            break;
        case 4:
            if ((rc = fixed64_of(&f, &v)) == 0)
                memcpy(&m->double_value, &v, sizeof(v));
            break;
        case 5:
            if (f.wt != KT_PB_LEN)
                rc = KT_EUNSUPP;
            else if ((m->array_value = kt_arena_alloc(a, sizeof(ArrayValue))) == NULL)
                rc = KT_ENOMEM;
            else
                rc = d_array(a, f.bytes.p, f.bytes.p + f.bytes.n, depth, m->array_value);
            break;
        case 6:
            if (f.wt != KT_PB_LEN)
                rc = KT_EUNSUPP;
            else if ((m->kvlist_value = kt_arena_alloc(a, sizeof(KeyValueList))) == NULL)
                rc = KT_ENOMEM;
            else
                rc = d_kvlist(a, f.bytes.p, f.bytes.p + f.bytes.n, depth, m->kvlist_value);
            break;
        case 7: rc = bytes_of(a, &f, &m->bytes_value); break;
        default: rc = i32_of(&f, &m->string_value_strindex); break;
        }
        if (rc != 0)
            return rc;
        m->value_case = (Opentelemetry__Proto__Common__V1__AnyValue__ValueCase)f.num;
    }
    return rc;
}

static int d_key_value(struct kt_arena *a, const uint8_t *p, const uint8_t *end, int depth,
                       KeyValue *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 3);
    *m = kv_init;
    struct kt_pb_field f;
    int rc;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = str_of(a, &f, &m->key); break;
        case 2:
            if ((rc = once(&f, m->value)) != 0)
                break;
            if ((m->value = kt_arena_alloc(a, sizeof(AnyValue))) == NULL)
                return KT_ENOMEM;
            rc = d_any(a, f.bytes.p, f.bytes.p + f.bytes.n, depth, m->value);
            break;
        case 3: rc = i32_of(&f, &m->key_strindex); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* One attribute into the array the caller sized by its count (AnyValue nesting starts over). */
static inline int d_attr(struct kt_arena *a, const struct kt_pb_field *f, KeyValue *objs, size_t *n,
                         KeyValue **v)
{
    if (f->wt != KT_PB_LEN)
        return KT_EUNSUPP;
    KeyValue *kv = v[*n] = &objs[*n];
    ++*n;
    return d_key_value(a, f->bytes.p, f->bytes.p + f->bytes.n, 0, kv);
}

static int d_scope(struct kt_arena *a, const uint8_t *p, const uint8_t *end, Scope *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 4);
    size_t n;
    int rc = count1(p, end, 3, &n);
    *m = scope_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(KeyValue), &m->attributes)) != 0)
        return rc;
    KeyValue *objs = vec_objs(m->attributes, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = str_of(a, &f, &m->name); break;
        case 2: rc = str_of(a, &f, &m->version); break;
        case 3: rc = d_attr(a, &f, objs, &m->n_attributes, m->attributes); break;
        case 4: rc = u32_of(&f, &m->dropped_attributes_count); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_entity_ref(struct kt_arena *a, const uint8_t *p, const uint8_t *end, EntityRef *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 4);
    size_t n_id, n_desc;
    int rc = count2(p, end, 3, 4, &n_id, &n_desc);
    *m = entity_ref_init;
    if (rc != 0 || (rc = vec(a, n_id, 0, &m->id_keys)) != 0 ||
        (rc = vec(a, n_desc, 0, &m->description_keys)) != 0)
        return rc;
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = str_of(a, &f, &m->schema_url); break;
        case 2: rc = str_of(a, &f, &m->type); break;
        case 3: rc = str_of(a, &f, &m->id_keys[m->n_id_keys++]); break;
        case 4: rc = str_of(a, &f, &m->description_keys[m->n_description_keys++]); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_resource(struct kt_arena *a, const uint8_t *p, const uint8_t *end, Resource *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 3);
    size_t n_attrs, n_refs;
    int rc = count2(p, end, 1, 3, &n_attrs, &n_refs);
    *m = resource_init;
    if (rc != 0 || (rc = vec(a, n_attrs, sizeof(KeyValue), &m->attributes)) != 0 ||
        (rc = vec(a, n_refs, sizeof(EntityRef), &m->entity_refs)) != 0)
        return rc;
    KeyValue *attrs = vec_objs(m->attributes, n_attrs);
    EntityRef *refs = vec_objs(m->entity_refs, n_refs);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = d_attr(a, &f, attrs, &m->n_attributes, m->attributes); break;
        case 2: rc = u32_of(&f, &m->dropped_attributes_count); break;
        case 3:
            if (f.wt != KT_PB_LEN) {
                rc = KT_EUNSUPP;
                break;
            }
            m->entity_refs[m->n_entity_refs] = &refs[m->n_entity_refs];
            rc = d_entity_ref(a, f.bytes.p, f.bytes.p + f.bytes.n,
                              m->entity_refs[m->n_entity_refs++]);
            break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* Steps over consecutive fields of one-byte tag `tag` with a one-byte length, the shape of
 * nearly every attribute: what kt_pb_field would read one at a time, without the field's
 * decoding and the caller's dispatch on it. Returns p when none is there. */
static inline const uint8_t *skip_short_run(const uint8_t *p, const uint8_t *end, uint8_t tag)
{
    while (kt_pb_at_short(p, end, tag))
        p += 2 + p[1];
    return p;
}

/* ---- attribute keys looked up, found as spans are decoded ----
 *
 * A configuration reads span attributes by a few literal keys (a filter's
 * span.attributes["http.route"], a string_attribute policy's key), each looked up on nearly
 * every span: make bench-instr's process-realistic walked each span's attributes twice, a
 * fifth of its instructions. A key looked up on a span decoded through a cache is learned
 * by the cache (up to SPAN_KEYS_MAX keys of up to SPAN_KEY_MAX_LEN bytes); the decodes
 * after that note where each learned key's first KeyValue is while they step over a span's
 * attributes, which they do anyway, so lookups are reads. A key that is not learned, or was
 * learned after the span was decoded, is walked for on each lookup. */
#define SPAN_KEYS_MAX 4 /* at most 8: span_keys's masks are bytes */
#define SPAN_KEY_MAX_LEN 64

struct span_keys {
    unsigned n;
    struct kt_pb_key_firsts firsts; /* bit j: key j */
    /* For the decode under way: its message's span KeyValues are all of the usual shape
     * (KT_OTLP_FOUND_SPAN_KV_SHORT), so scan_attr_run need not test each one's. */
    bool kv_short;
    struct {
        size_t len;
        char key[SPAN_KEY_MAX_LEN];
    } v[SPAN_KEYS_MAX];
};

/* Where a span decoded with keep_bytes keeps its attribute bytes: its one unknown field of
 * tag 0, first, so the span's unknown_fields points at the whole. */
struct keyed_span {
    ProtobufCMessageUnknownField u;
    struct span_keys *keys; /* borrowed from the cache (NULL: decoded without one) */
    const uint8_t *start;   /* the span's bytes, which at[] counts from */
    unsigned noted;         /* keys->v[0..noted) were learned before the decode: see at[] */
    unsigned todo;          /* bit j: key j's place not found yet (during the decode) */
    struct {
        uint32_t off, len; /* the key's first KeyValue in the span; off UINT32_MAX: none */
    } at[SPAN_KEYS_MAX];
};

/* Whether the key bytes k[0..n) read as key: the decoded key is a C string, cut at a NUL. */
static inline bool key_is(const uint8_t *k, size_t n, const char *key, size_t keylen)
{
    return kt_pb_cstr_len_may_be((struct kt_slice){k, n}, keylen) && memcmp(k, key, keylen) == 0;
}

/* The value of KeyValue kv (its bytes) when its key is key: 1 with *v (its bytes; v->p NULL
 * for none), 0 for another key, KT_EUNSUPP when the value is given more than once (protobuf
 * merges those). Nearly every KeyValue is its key then at most one value, each with a
 * one-byte length, which is read without the general field walk. */
static int kv_value(struct kt_slice kv, const char *key, size_t keylen, struct kt_slice *v)
{
    const uint8_t *p = kv.p, *end = kv.p + kv.n;
    struct kt_slice k;
    if (kt_pb_short_pair(kv, &k, v))
        return key_is(k.p, k.n, key, keylen) ? 1 : 0;
    /* Any other shape: the last key counts, as for protobuf-c. */
    struct kt_pb_field f;
    k = (struct kt_slice){(const uint8_t *)"", 0};
    v->p = NULL;
    v->n = 0;
    int values = 0;
    while (wf_next(&p, end, &f) == 1) {
        if (f.num == 1 && f.wt == KT_PB_LEN) {
            k = f.bytes;
        } else if (f.num == 2 && f.wt == KT_PB_LEN) {
            *v = f.bytes;
            values++;
        }
    }
    if (!key_is(k.p, k.n, key, keylen))
        return 0;
    return values > 1 ? KT_EUNSUPP : 1;
}

/* Notes KeyValue kv (its bytes, inside the span's) as the place of each key of todo (bit j:
 * key j has no place yet) that it is, and returns the keys still without one. usual: kv has
 * kt_pb_short_pair's shape, k its key, its only one: only keys of its first byte may match.
 * Any other shape goes through kv_value for each key. */
static __attribute__((noinline)) unsigned note_kv(struct keyed_span *ks, unsigned todo,
                                                  struct kt_slice kv, bool usual, struct kt_slice k)
{
    const struct span_keys *t = ks->keys;
    unsigned cand = todo;
    struct kt_slice v;
    if (usual)
        cand &= kt_pb_key_firsts_of(&t->firsts, k);
    for (unsigned j = 0; cand != 0; j++, cand >>= 1) {
        const char *key = t->v[j].key;
        size_t keylen = t->v[j].len;
        if (!(cand & 1) ||
            (usual ? !key_is(k.p, k.n, key, keylen) : kv_value(kv, key, keylen, &v) == 0))
            continue;
        ks->at[j].off = (uint32_t)(kv.p - ks->start);
        ks->at[j].len = (uint32_t)kv.n;
        todo &= ~(1u << j);
    }
    return todo;
}

/* skip_short_run over attributes (field 9), noting each (note_kv) while a key has no place.
 * Nearly every attribute holds a key then at most one value, each of a one-byte length
 * (kt_pb_short_pair's shape; no length byte inside can start a longer varint, as each is
 * under 0x80): tested on the bytes in one go unless the validator found every one is
 * (kv_short), and passed over when no key starts with the key's first byte. Not inlined: in
 * the decode around it the loop's registers spill (a fifth more instructions per
 * attribute); note_kv is out of line for the same reason. */
static __attribute__((noinline)) const uint8_t *scan_attr_run(struct keyed_span *ks,
                                                              const uint8_t *p, const uint8_t *end)
{
    const struct span_keys *t = ks->keys;
    const bool kv_short = t->kv_short;
    unsigned len, klen, rest, todo = ks->todo;
    /* With kv_short the message passed the validator: an attribute's tag has its length
     * byte and its bytes inside the span, so only where the run ends is tested. */
    while (todo != 0 && p < end && p[0] == 0x4a && (kv_short || end - p >= 2) &&
           (len = p[1]) < 0x80 && (kv_short || len <= end - p - 2)) {
        const uint8_t *kv = p + 2;
        p += 2 + len;
        bool usual = kv_short
                         ? (klen = kv[1], true)
                         : len >= 2 && kv[0] == 0x0a && (klen = kv[1]) <= len - 2 &&
                               ((rest = len - 2 - klen) == 0 ||
                                (rest >= 2 && kv[2 + klen] == 0x12 && kv[3 + klen] == rest - 2));
        struct kt_slice k = {NULL, 0};
        if (usual) {
            /* Keys of its first byte (attribute keys share a few: "http.", "service."),
             * then of a length its bytes may decode to (kt_pb_cstr_len_may_be). */
            k = (struct kt_slice){kv + 2, klen};
            unsigned cand = todo & kt_pb_key_firsts_of(&t->firsts, k), may = 0;
            for (unsigned j = 0; cand != 0; j++, cand >>= 1)
                if ((cand & 1) && kt_pb_cstr_len_may_be(k, t->v[j].len))
                    may |= 1u << j;
            if (may == 0)
                continue;
        }
        todo = note_kv(ks, todo, (struct kt_slice){kv, len}, usual, k);
    }
    ks->todo = todo;
    return skip_short_run(p, end, 0x4a);
}

/* ---- decoded resources kept across messages ----
 *
 * A resource is decoded in full whenever a shallow decode reads resource attributes, and
 * ingest sends the sender's resource with every trace, so a Kafka message of ten spans
 * paid for the same eight or so attributes again (about 500 instructions per span in
 * make bench-instr's process-realistic). Resources up to RCACHE_MAX_BYTES encoded are kept,
 * with their bytes, in the cache's own arena. That arena is only recycled when a call
 * starts, after RCACHE_RECYCLE insertions, so a Resource handed out stays valid for the
 * whole call that handed it out (trace_decode.h: and no longer). */
#define RCACHE_SLOTS 8
#define RCACHE_MAX_BYTES 4096
#define RCACHE_RECYCLE 64

struct trace_decode_cache {
    struct span_keys keys; /* learned by lookups, kept for good */
    struct kt_arena arena; /* the slots' bytes and objects */
    unsigned next;         /* the slot the next insertion takes */
    unsigned inserted;     /* since the arena was last recycled */
    struct {
        const uint8_t *bytes; /* NULL: an empty slot */
        size_t len;
        Resource *obj;
    } slot[RCACHE_SLOTS];
};

struct trace_decode_cache *trace_decode_cache_new(void)
{
    struct trace_decode_cache *c = calloc(1, sizeof(*c));
    if (c != NULL)
        kt_arena_init(&c->arena, NULL, 0);
    return c;
}

void trace_decode_cache_free(struct trace_decode_cache *c)
{
    if (c == NULL)
        return;
    kt_arena_free(&c->arena);
    free(c);
}

/* At the start of a call: what earlier calls handed out is no longer used. */
static void rcache_begin(struct trace_decode_cache *c)
{
    if (c->inserted < RCACHE_RECYCLE)
        return;
    kt_arena_reset(&c->arena);
    memset(c->slot, 0, sizeof(c->slot));
    c->inserted = 0;
    c->next = 0;
}

/* The Resource of the bytes [p, end): from the cache, or decoded (into it when it has room
 * this call, else into a). */
static int cached_resource(struct trace_decode_cache *c, struct kt_arena *a, const uint8_t *p,
                           const uint8_t *end, Resource **out)
{
    size_t n = (size_t)(end - p);
    for (unsigned i = 0; i < RCACHE_SLOTS; i++) {
        if (c->slot[i].bytes != NULL && c->slot[i].len == n &&
            memcmp(c->slot[i].bytes, p, n) == 0) {
            *out = c->slot[i].obj;
            return 0;
        }
    }
    /* Past twice the recycling count in one call (a message of many distinct resources),
     * the rest go to the message's arena: the cache's stays bounded. */
    bool keep = n <= RCACHE_MAX_BYTES && c->inserted < 2 * RCACHE_RECYCLE;
    struct kt_arena *into = keep ? &c->arena : a;
    /* Counted before decoding: a decode that fails has taken the cache's memory too, and
     * only the count gives it back (rcache_begin). */
    c->inserted += keep;
    Resource *m = kt_arena_alloc(into, sizeof(*m));
    if (m == NULL)
        return KT_ENOMEM;
    int rc = d_resource(into, p, end, m);
    if (rc != 0)
        return rc;
    if (keep) {
        const uint8_t *bytes = kt_arena_memdup(&c->arena, p, n);
        if (bytes == NULL)
            return KT_ENOMEM;
        c->slot[c->next].bytes = bytes;
        c->slot[c->next].len = n;
        c->slot[c->next].obj = m;
        c->next = (c->next + 1) % RCACHE_SLOTS;
    }
    *out = m;
    return 0;
}

static int d_status(struct kt_arena *a, const uint8_t *p, const uint8_t *end, Status *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(2, 3);
    *m = status_init;
    struct kt_pb_field f;
    int rc;
    int32_t code;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 2: rc = str_of(a, &f, &m->message); break;
        case 3:
            if ((rc = i32_of(&f, &code)) == 0)
                m->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
            break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_event(struct kt_arena *a, const uint8_t *p, const uint8_t *end, Event *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 4);
    size_t n;
    int rc = count1(p, end, 3, &n);
    *m = event_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(KeyValue), &m->attributes)) != 0)
        return rc;
    KeyValue *objs = vec_objs(m->attributes, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = fixed64_of(&f, &m->time_unix_nano); break;
        case 2: rc = str_of(a, &f, &m->name); break;
        case 3: rc = d_attr(a, &f, objs, &m->n_attributes, m->attributes); break;
        case 4: rc = u32_of(&f, &m->dropped_attributes_count); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_link(struct kt_arena *a, const uint8_t *p, const uint8_t *end, Link *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 6);
    size_t n;
    int rc = count1(p, end, 4, &n);
    *m = link_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(KeyValue), &m->attributes)) != 0)
        return rc;
    KeyValue *objs = vec_objs(m->attributes, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        switch (f.num) {
        case 1: rc = bytes_of(a, &f, &m->trace_id); break;
        case 2: rc = bytes_of(a, &f, &m->span_id); break;
        case 3: rc = str_of(a, &f, &m->trace_state); break;
        case 4: rc = d_attr(a, &f, objs, &m->n_attributes, m->attributes); break;
        case 5: rc = u32_of(&f, &m->dropped_attributes_count); break;
        case 6: rc = fixed32_of(&f, &m->flags); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* Events and links share one count pass with the attributes. */
static int span_counts(const uint8_t *p, const uint8_t *end, size_t n[3])
{
    struct kt_pb_field f;
    int rc;
    n[0] = n[1] = n[2] = 0;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        n[0] += f.num == 9;
        n[1] += f.num == 11;
        n[2] += f.num == 13;
    }
    return rc;
}

/* A span's ID of n bytes at p: copied for a full span, borrowed by a shallow one, whose
 * objects are only read and are dropped before the message (trace_decode.h). Empty: NULL,
 * as bytes_of. */
static inline int id_at(struct kt_arena *a, const uint8_t *p, size_t n, bool shallow,
                        ProtobufCBinaryData *out)
{
    out->len = n;
    out->data = NULL;
    if (n == 0)
        return 0;
    out->data = shallow ? (uint8_t *)(uintptr_t)p : kt_arena_memdup(a, p, n);
    return out->data == NULL ? KT_ENOMEM : 0;
}

static inline int id_of(struct kt_arena *a, const struct kt_pb_field *f, bool shallow,
                        ProtobufCBinaryData *out)
{
    if (f->wt != KT_PB_LEN)
        return KT_EUNSUPP;
    return id_at(a, f->bytes.p, f->bytes.n, shallow, out);
}

/* The fields exporters write first, in field-number order: trace_id, span_id,
 * parent_span_id, name, kind and the two times, each taken by its tag byte when it has
 * its common shape (an ID of its own size, a name shorter than 128 bytes, a kind below
 * 128), where the general loop would read and dispatch each field. Stops at the first
 * field that is not the next of these or not of that shape; the loop reads from there,
 * and a later copy of any of these fields has the last word there, as in protobuf.
 * Returns where it stopped, or NULL when out of memory. */
static inline const uint8_t *span_head(struct kt_arena *a, const uint8_t *p, const uint8_t *end,
                                       bool shallow, Span *m)
{
    if (end - p >= 18 && p[0] == 0x0a && p[1] == 16) {
        if (id_at(a, p + 2, 16, shallow, &m->trace_id) != 0)
            return NULL;
        p += 18;
    }
    if (end - p >= 10 && p[0] == 0x12 && p[1] == 8) {
        if (id_at(a, p + 2, 8, shallow, &m->span_id) != 0)
            return NULL;
        p += 10;
    }
    if (end - p >= 10 && p[0] == 0x22 && p[1] == 8) {
        if (id_at(a, p + 2, 8, shallow, &m->parent_span_id) != 0)
            return NULL;
        p += 10;
    }
    if (kt_pb_at_short(p, end, 0x2a)) {
        if ((m->name = kt_arena_strndup(a, (const char *)p + 2, p[1])) == NULL)
            return NULL;
        p += 2 + p[1];
    }
    if (end - p >= 2 && p[0] == 0x30 && p[1] < 0x80) {
        m->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)p[1];
        p += 2;
    }
    if (end - p >= 9 && p[0] == 0x39) {
        m->start_time_unix_nano = kt_pb_le64(p + 1);
        p += 9;
    }
    if (end - p >= 9 && p[0] == 0x41) {
        m->end_time_unix_nano = kt_pb_le64(p + 1);
        p += 9;
    }
    return p;
}

/* keep_bytes (shallow only): the span's attributes stay bytes (from the first to the last,
 * other fields between included), which the span keeps as its one unknown field of tag 0 (no field
 * has number 0, so no decoded span has it) for trace_decode_span_attr, in a keyed_span
 * borrowing keys (NULL: none). */
static int d_span(struct kt_arena *a, const uint8_t *p, const uint8_t *end, bool shallow,
                  bool keep_bytes, struct span_keys *keys, Span *m)
{
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 16);
    size_t n[3] = {0, 0, 0};
    int rc = shallow ? 0 : span_counts(p, end, n);
    *m = span_init;
    if (rc != 0 || (rc = vec(a, n[0], sizeof(KeyValue), &m->attributes)) != 0 ||
        (rc = vec(a, n[1], sizeof(Event), &m->events)) != 0 ||
        (rc = vec(a, n[2], sizeof(Link), &m->links)) != 0)
        return rc;
    ProtobufCMessageUnknownField *u = NULL;
    struct keyed_span *ks = NULL;
    if (keep_bytes) {
        if ((ks = kt_arena_alloc(a, sizeof(*ks))) == NULL)
            return KT_ENOMEM;
        ks->keys = keys;
        ks->start = start;
        /* The keys learned so far are found as the attributes are stepped over. */
        ks->noted = keys != NULL && (size_t)(end - start) < UINT32_MAX ? keys->n : 0;
        ks->todo = (1u << ks->noted) - 1;
        for (unsigned j = 0; j < ks->noted; j++)
            ks->at[j].off = UINT32_MAX;
        u = &ks->u;
        *u = (ProtobufCMessageUnknownField){.tag = 0,
                                            .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                            .data = (uint8_t *)(uintptr_t)start};
        m->base.unknown_fields = u;
        m->base.n_unknown_fields = 1;
    }
    KeyValue *attrs = vec_objs(m->attributes, n[0]);
    Event *events = vec_objs(m->events, n[1]);
    Link *links = vec_objs(m->links, n[2]);
    struct kt_pb_field f;
    int32_t kind;
    if ((p = span_head(a, p, end, shallow, m)) == NULL)
        return KT_ENOMEM;
    for (const uint8_t *at = p;; at = p) {
        /* Shallow: a run of attributes (field 9) is passed over at once (scanned for keys
         * only where one starts: the span's other fields come here too). */
        bool scan = ks != NULL && ks->todo != 0 && p < end && p[0] == 0x4a;
        if (shallow &&
            (p = scan ? scan_attr_run(ks, p, end) : skip_short_run(p, end, 0x4a)) != at) {
            if (u != NULL) {
                if (u->len == 0)
                    u->data = (uint8_t *)(uintptr_t)at;
                u->len = (size_t)(p - u->data);
            }
            continue;
        }
        if ((rc = wf_next(&p, end, &f)) != 1)
            break;
        /* Kept: the bytes from the first attribute to the last, which a lookup scans. */
        if (u != NULL && f.num == 9) {
            if (u->len == 0)
                u->data = (uint8_t *)(uintptr_t)at;
            u->len = (size_t)(p - u->data);
            struct kt_slice k = {NULL, 0}, v;
            if (ks->todo != 0 && f.wt == KT_PB_LEN)
                ks->todo = note_kv(ks, ks->todo, f.bytes, kt_pb_short_pair(f.bytes, &k, &v), k);
        }
        if (shallow && (f.num == 9 || f.num == 11 || f.num == 13 || !is_known(known, f.num)))
            continue;
        switch (f.num) {
        case 1: rc = id_of(a, &f, shallow, &m->trace_id); break;
        case 2: rc = id_of(a, &f, shallow, &m->span_id); break;
        case 3: rc = str_of(a, &f, &m->trace_state); break;
        case 4: rc = id_of(a, &f, shallow, &m->parent_span_id); break;
        case 5: rc = str_of(a, &f, &m->name); break;
        case 6:
            if ((rc = i32_of(&f, &kind)) == 0)
                m->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
            break;
        case 7: rc = fixed64_of(&f, &m->start_time_unix_nano); break;
        case 8: rc = fixed64_of(&f, &m->end_time_unix_nano); break;
        case 9: rc = d_attr(a, &f, attrs, &m->n_attributes, m->attributes); break;
        case 10: rc = u32_of(&f, &m->dropped_attributes_count); break;
        case 11:
            if (f.wt != KT_PB_LEN) {
                rc = KT_EUNSUPP;
                break;
            }
            m->events[m->n_events] = &events[m->n_events];
            rc = d_event(a, f.bytes.p, f.bytes.p + f.bytes.n, m->events[m->n_events++]);
            break;
        case 12: rc = u32_of(&f, &m->dropped_events_count); break;
        case 13:
            if (f.wt != KT_PB_LEN) {
                rc = KT_EUNSUPP;
                break;
            }
            m->links[m->n_links] = &links[m->n_links];
            rc = d_link(a, f.bytes.p, f.bytes.p + f.bytes.n, m->links[m->n_links++]);
            break;
        case 14: rc = u32_of(&f, &m->dropped_links_count); break;
        case 15:
            if ((rc = once(&f, m->status)) != 0)
                break;
            if ((m->status = kt_arena_alloc(a, sizeof(Status))) == NULL)
                return KT_ENOMEM;
            rc = d_status(a, f.bytes.p, f.bytes.p + f.bytes.n, m->status);
            break;
        case 16: rc = fixed32_of(&f, &m->flags); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* keys: borrowed for the spans (d_span), NULL: none. */
static int d_scope_spans(struct kt_arena *a, const uint8_t *p, const uint8_t *end, ottl_fields need,
                         struct span_keys *keys, ScopeSpans *m)
{
    bool shallow = !trace_decode_needs_full(need);
    bool keep_bytes = shallow && (need & OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED));
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 3);
    size_t n;
    int rc = count1(p, end, 2, &n);
    *m = scope_spans_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(Span), &m->spans)) != 0)
        return rc;
    Span *spans = vec_objs(m->spans, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (shallow && ((f.num == 1 && !(need & SCOPE_FIELDS)) || !is_known(known, f.num)))
            continue;
        switch (f.num) {
        case 1:
            if ((rc = once(&f, m->scope)) != 0)
                break;
            if ((m->scope = kt_arena_alloc(a, sizeof(Scope))) == NULL)
                return KT_ENOMEM;
            rc = d_scope(a, f.bytes.p, f.bytes.p + f.bytes.n, m->scope);
            break;
        case 2:
            if (f.wt != KT_PB_LEN) {
                rc = KT_EUNSUPP;
                break;
            }
            m->spans[m->n_spans] = &spans[m->n_spans];
            rc = d_span(a, f.bytes.p, f.bytes.p + f.bytes.n, shallow, keep_bytes, keys,
                        m->spans[m->n_spans++]);
            break;
        case 3: rc = str_of(a, &f, &m->schema_url); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int d_resource_spans(struct kt_arena *a, const uint8_t *p, const uint8_t *end,
                            ottl_fields need, struct trace_decode_cache *cache, ResourceSpans *m)
{
    bool shallow = !trace_decode_needs_full(need);
    const uint8_t *start = p;
    const uint32_t known = FIELDS(1, 3);
    size_t n;
    int rc = count1(p, end, 2, &n);
    *m = resource_spans_init;
    if (rc != 0 || (rc = vec(a, n, sizeof(ScopeSpans), &m->scope_spans)) != 0)
        return rc;
    ScopeSpans *objs = vec_objs(m->scope_spans, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (shallow && ((f.num == 1 && !(need & (OTTL_FIELD(OTTL_P_RESOURCE_ATTRS) |
                                                 OTTL_FIELD(OTTL_P_RESOURCE_DROPPED)))) ||
                        !is_known(known, f.num)))
            continue;
        switch (f.num) {
        case 1:
            if ((rc = once(&f, m->resource)) != 0)
                break;
            if (cache != NULL) {
                rc = cached_resource(cache, a, f.bytes.p, f.bytes.p + f.bytes.n, &m->resource);
                break;
            }
            if ((m->resource = kt_arena_alloc(a, sizeof(Resource))) == NULL)
                return KT_ENOMEM;
            rc = d_resource(a, f.bytes.p, f.bytes.p + f.bytes.n, m->resource);
            break;
        case 2:
            if (f.wt != KT_PB_LEN) {
                rc = KT_EUNSUPP;
                break;
            }
            m->scope_spans[m->n_scope_spans] = &objs[m->n_scope_spans];
            rc = d_scope_spans(a, f.bytes.p, f.bytes.p + f.bytes.n, need,
                               cache != NULL ? &cache->keys : NULL,
                               m->scope_spans[m->n_scope_spans++]);
            break;
        case 3: rc = str_of(a, &f, &m->schema_url); break;
        default: rc = keep_unknown(a, &m->base, &f, p, start, end, known); break;
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* KT_EUNSUPP: let protobuf-c decode msg (full) or the caller decode in full (shallow).
 * cache: NULL, or for a shallow decode. */
static int decode(struct kt_slice msg, ottl_fields need, struct kt_arena *a,
                  struct trace_decode_cache *cache, TracesData **out)
{
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    const uint32_t known = FIELDS(1, 1);
    size_t n;
    TracesData *td = kt_arena_alloc(a, sizeof(*td));
    if (td == NULL)
        return KT_ENOMEM;
    *td = traces_data_init;
    int rc = count1(p, end, 1, &n);
    if (rc != 0 || (rc = vec(a, n, sizeof(ResourceSpans), &td->resource_spans)) != 0)
        return rc;
    ResourceSpans *objs = vec_objs(td->resource_spans, n);
    struct kt_pb_field f;
    while ((rc = wf_next(&p, end, &f)) == 1) {
        if (f.num == 1 && f.wt == KT_PB_LEN) {
            td->resource_spans[td->n_resource_spans] = &objs[td->n_resource_spans];
            rc = d_resource_spans(a, f.bytes.p, f.bytes.p + f.bytes.n, need, cache,
                                  td->resource_spans[td->n_resource_spans++]);
        } else if (f.num == 1) {
            rc = KT_EUNSUPP;
        } else if (trace_decode_needs_full(need)) {
            rc = keep_unknown(a, &td->base, &f, p, msg.p, end, known);
        } else {
            rc = 0;
        }
        if (rc != 0)
            return rc;
    }
    if (rc == 0)
        *out = td;
    return rc;
}

int trace_decode(struct kt_slice msg, ottl_fields need, struct kt_arena *a, TracesData **out)
{
    return trace_decode_with(msg, need, 0, a, NULL, out);
}

int trace_decode_with(struct kt_slice msg, ottl_fields need, unsigned found, struct kt_arena *a,
                      struct trace_decode_cache *cache, TracesData **out)
{
    *out = NULL;
    /* A full decode's objects may be changed and encoded: never shared. */
    if (trace_decode_needs_full(need))
        cache = NULL;
    if (cache != NULL) {
        rcache_begin(cache);
        cache->keys.kv_short = (found & KT_OTLP_FOUND_SPAN_KV_SHORT) != 0;
    }
    int rc = decode(msg, need, a, cache, out);
    if (rc != KT_EUNSUPP || !trace_decode_needs_full(need))
        return rc;
    *out = (TracesData *)protobuf_c_message_unpack(
        &opentelemetry__proto__trace__v1__traces_data__descriptor, kt_arena_pb(a), msg.n, msg.p);
    if (*out == NULL)
        return a->failed ? KT_ENOMEM : KT_EINVAL;
    return 0;
}

/* Whether kv is a KeyValue of the usual shape (kt_pb_short_pair) whose key cannot be key, by
 * its length or its first byte (kt_pb_key_may_be). The key is read first and the value's shape
 * only for keys that cannot match, so most attributes a lookup passes over are told apart
 * before their value is looked at (a tenth fewer instructions per lookup). */
static inline bool other_key(struct kt_slice kv, const char *key, size_t keylen)
{
    struct kt_slice k, v;
    if (!kt_pb_short_first(kv, &k))
        return false;
    if (kt_pb_key_may_be(k, key, keylen))
        return false;
    return kt_pb_short_second(kv, k, &v);
}

/* The first KeyValue in the attribute bytes u whose key is key (kv->p NULL: none). */
static void first_kv(const ProtobufCMessageUnknownField *u, const char *key, size_t keylen,
                     struct kt_slice *kv)
{
    const uint8_t *p = u->data, *end = u->data + u->len;
    struct kt_pb_field f;
    struct kt_slice v;
    while (p < end) {
        /* Nearly every attribute has a one-byte length: read without the general field walk. */
        if (kt_pb_at_short(p, end, 0x4a)) {
            *kv = (struct kt_slice){p + 2, p[1]};
            p += 2 + p[1];
            if (other_key(*kv, key, keylen))
                continue;
        } else if (wf_next(&p, end, &f) != 1) {
            break;
        } else if (f.num != 9 || f.wt != KT_PB_LEN) {
            continue;
        } else {
            *kv = f.bytes;
        }
        if (kv_value(*kv, key, keylen, &v) != 0)
            return;
    }
    *kv = (struct kt_slice){NULL, 0};
}

/* The first KeyValue of key in the span (kv->p NULL: none) as its decode noted it, learning
 * key when there is room. false: not noted, walk for it (first_kv). */
static bool learned_kv(const Span *span, const char *key, size_t keylen, struct kt_slice *kv)
{
    /* The span's only unknown field is a keyed_span's (d_span): take the whole. */
    struct keyed_span *ks = (struct keyed_span *)(uintptr_t)span->base.unknown_fields;
    struct span_keys *t = ks->keys;
    if (t == NULL)
        return false;
    unsigned j = 0;
    while (j < t->n && (t->v[j].len != keylen || memcmp(t->v[j].key, key, keylen) != 0))
        j++;
    if (j == t->n) {
        if (j == SPAN_KEYS_MAX || keylen > SPAN_KEY_MAX_LEN)
            return false;
        memcpy(t->v[j].key, key, keylen);
        t->v[j].len = keylen;
        kt_pb_key_firsts_add(&t->firsts, key, keylen, j);
        t->n++;
    }
    if (j >= ks->noted)
        return false;
    *kv = ks->at[j].off == UINT32_MAX ? (struct kt_slice){NULL, 0}
                                      : (struct kt_slice){ks->start + ks->at[j].off, ks->at[j].len};
    return true;
}

int trace_decode_span_attr(struct kt_arena *a, const Span *span, const char *key, size_t keylen,
                           bool *found, AnyValue **value)
{
    const ProtobufCMessageUnknownField *u = span->base.unknown_fields;
    *found = false;
    *value = NULL;
    if (span->base.n_unknown_fields != 1 || u->tag != 0)
        return 0;
    struct kt_slice kv, v;
    if (!learned_kv(span, key, keylen, &kv))
        first_kv(u, key, keylen, &kv);
    if (kv.p == NULL)
        return 1;
    int rc = kv_value(kv, key, keylen, &v);
    *found = true;
    if (rc == 1 && v.p == NULL)
        return 1;
    AnyValue *av = NULL;
    if (rc == 1 && (av = kt_arena_alloc(a, sizeof(*av))) == NULL)
        return KT_ENOMEM;
    if (rc == 1)
        rc = d_any(a, v.p, v.p + v.n, 0, av);
    if (rc == KT_EUNSUPP) {
        /* What protobuf-c makes of the whole message holds this KeyValue as it alone
         * unpacks (a value given twice merged, an AnyValue nested past d_any). */
        KeyValue *whole =
            opentelemetry__proto__common__v1__key_value__unpack(kt_arena_pb(a), kv.n, kv.p);
        if (whole == NULL)
            return a->failed ? KT_ENOMEM : KT_EINVAL;
        av = whole->value;
        rc = 0;
    }
    if (rc != 0)
        return rc;
    *value = av;
    return 1;
}
