/* libFuzzer target for trace_decode and trace_encode. Input that kt_otlp_validate accepts as
 * traces must decode in full to what protobuf-c decodes (compared by packing both), and
 * trace_encode must give protobuf_c_message_pack's bytes for what was decoded; it must also
 * decode shallow (asked for spans only, and for resources and scopes too)
 * either succeed or refuse with KT_EUNSUPP; when it succeeds, every value it decodes must
 * equal the full decode's (protobuf-c, the oracle), compared by packing both, and what it
 * was not asked for must be absent. Spans decoded shallow keeping their attributes as bytes
 * (OTTL_P_SPAN_ATTRS_KEYED) must give, for each key of the full span's attributes and for a
 * key it lacks, what the full span holds (trace_decode_span_attr), also when decoded through
 * a cache that learns the keys looked up (and then finds them as it decodes). The shallow decode
 * with resources, through a resource cache kept from input to input as the pipeline keeps it from
 * message to message, must give what it gives without one, twice in a row (the second time from the
 * cache). Any other input must not crash either decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/trace_decode.h"
#include "../../process/trace_encode.h"
#include "kt_otlp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define NEED_SPANS (OTTL_FIELD(OTTL_P_SPAN_NAME) | OTTL_FIELD(OTTL_P_SPAN_STATUS_CODE))
#define NEED_ALL (NEED_SPANS | OTTL_FIELD(OTTL_P_RESOURCE_ATTRS) | OTTL_FIELD(OTTL_P_SCOPE_NAME))

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_trace_decode: %s\n", what);
    abort();
}

static bool packs_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    size_t n = protobuf_c_message_get_packed_size(a);
    if (n != protobuf_c_message_get_packed_size(b))
        return false;
    uint8_t *pa = malloc(n + 1), *pb = malloc(n + 1);
    check(pa != NULL && pb != NULL, "out of memory");
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    bool eq = memcmp(pa, pb, n) == 0;
    free(pa);
    free(pb);
    return eq;
}

/* The full span without what a shallow one leaves out packs like the shallow one. */
static bool span_same(const Span *full, const Span *sh)
{
    if (sh->n_attributes || sh->n_events || sh->n_links || sh->base.n_unknown_fields)
        return false;
    Span bare = *full;
    bare.base.n_unknown_fields = 0;
    bare.n_attributes = bare.n_events = bare.n_links = 0;
    return packs_equal(&bare.base, &sh->base);
}

/* parts: resources and scopes were asked for (else they must be NULL). */
static void compare(const TracesData *full, const TracesData *sh, bool parts)
{
    check(full->n_resource_spans == sh->n_resource_spans, "resource_spans count differs");
    for (size_t r = 0; r < full->n_resource_spans; r++) {
        const ResourceSpans *rf = full->resource_spans[r], *rs = sh->resource_spans[r];
        check(strcmp(rf->schema_url, rs->schema_url) == 0, "resource schema_url differs");
        check(packs_equal(parts ? (const ProtobufCMessage *)rf->resource : NULL,
                          (const ProtobufCMessage *)rs->resource),
              "resource differs");
        check(rf->n_scope_spans == rs->n_scope_spans, "scope_spans count differs");
        for (size_t s = 0; s < rf->n_scope_spans; s++) {
            const ScopeSpans *sf = rf->scope_spans[s], *ss = rs->scope_spans[s];
            check(strcmp(sf->schema_url, ss->schema_url) == 0, "scope schema_url differs");
            check(packs_equal(parts ? (const ProtobufCMessage *)sf->scope : NULL,
                              (const ProtobufCMessage *)ss->scope),
                  "scope differs");
            check(sf->n_spans == ss->n_spans, "span count differs");
            for (size_t i = 0; i < sf->n_spans; i++)
                check(span_same(sf->spans[i], ss->spans[i]), "span differs");
        }
    }
}

/* One key of a shallow span against the first attribute of the full span with that key. */
static void check_attr(const Span *full, const Span *sh, const char *key, struct kt_arena *a)
{
    const ProtobufCMessage *want = NULL;
    bool want_found = false;
    for (size_t i = 0; i < full->n_attributes && !want_found; i++) {
        if (strcmp(full->attributes[i]->key, key) == 0) {
            want_found = true;
            want = (const ProtobufCMessage *)full->attributes[i]->value;
        }
    }
    bool found;
    AnyValue *got;
    int rc = trace_decode_span_attr(a, sh, key, strlen(key), &found, &got);
    check(rc == 1, "trace_decode_span_attr failed on a valid message");
    check(found == want_found, "attribute found on one decode only");
    check(packs_equal(want, (const ProtobufCMessage *)got), "attribute value differs");
}

static void compare_keyed(const TracesData *full, const TracesData *sh, struct kt_arena *a)
{
    for (size_t r = 0; r < full->n_resource_spans; r++) {
        const ResourceSpans *rf = full->resource_spans[r], *rs = sh->resource_spans[r];
        for (size_t s = 0; s < rf->n_scope_spans; s++) {
            const ScopeSpans *sf = rf->scope_spans[s], *ss = rs->scope_spans[s];
            check(sf->n_spans == ss->n_spans, "span count differs");
            for (size_t i = 0; i < sf->n_spans; i++) {
                const Span *f = sf->spans[i];
                for (size_t k = 0; k < f->n_attributes && k < 8; k++)
                    check_attr(f, ss->spans[i], f->attributes[k]->key, a);
                check_attr(f, ss->spans[i], "absent.key", a);
            }
        }
    }
}

/* compare_keyed on spans decoded through a cache of their own (trace_decode_with), twice:
 * the first lookups teach the cache their keys, which the second decode then finds as it
 * steps over each span's attributes, trusting what the validator found (found). */
static void check_keyed_cached(struct kt_slice msg, unsigned found, int rc_keyed,
                               const TracesData *full, struct kt_arena *a)
{
    struct trace_decode_cache *cache = trace_decode_cache_new();
    check(cache != NULL, "out of memory");
    for (int i = 0; i < 2; i++) {
        TracesData *td = NULL;
        int rc = trace_decode_with(msg, NEED_SPANS | OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED), found, a,
                                   cache, &td);
        check(rc == rc_keyed, "a keyed decode through a cache returns another code");
        if (rc == 0)
            compare_keyed(full, td, a);
    }
    trace_decode_cache_free(cache);
}

/* full (decoded from msg by hand) against protobuf-c's decode of msg and its packing. */
static void check_full(struct kt_slice msg, const TracesData *full, struct kt_arena *a)
{
    const ProtobufCMessage *pc = protobuf_c_message_unpack(
        &opentelemetry__proto__trace__v1__traces_data__descriptor, kt_arena_pb(a), msg.n, msg.p);
    check(pc != NULL, "protobuf-c refuses what the full decode accepts");
    check(packs_equal(&full->base, pc), "full decode differs from protobuf-c's");
    size_t n = protobuf_c_message_get_packed_size(&full->base);
    uint8_t *want = malloc(n + 1);
    check(want != NULL, "out of memory");
    protobuf_c_message_pack(&full->base, want);
    struct kt_buf out = KT_BUF_INIT;
    check(trace_encode(full, &out) == 0, "trace_encode failed");
    check(out.len == n && memcmp(out.p, want, n) == 0,
          "trace_encode differs from protobuf_c_message_pack");
    kt_buf_free(&out);
    free(want);
}

static int decode(struct kt_slice msg, ottl_fields need, struct kt_arena *a, TracesData **out)
{
    int rc = trace_decode(msg, need, a, out);
    check(rc == 0 || rc == KT_EINVAL || (rc == KT_EUNSUPP && need != TRACE_DECODE_ALL),
          "unexpected return code");
    check((rc == 0) == (*out != NULL), "result and return code disagree");
    return rc;
}

/* The same decode of msg as rc_all/all gave, through the cache (twice). */
static void check_cached(struct kt_slice msg, int rc_all, const TracesData *full,
                         struct kt_arena *a, bool valid)
{
    static struct trace_decode_cache *cache;
    if (cache == NULL)
        check((cache = trace_decode_cache_new()) != NULL, "out of memory");
    for (int i = 0; i < 2; i++) {
        TracesData *td = NULL;
        int rc = trace_decode_with(msg, NEED_ALL, 0, a, cache, &td);
        check(rc == rc_all, "a decode through the cache returns another code");
        check((rc == 0) == (td != NULL), "result and return code disagree");
        if (rc == 0 && valid)
            compare(full, td, true);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kt_slice msg = {data, size};
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    TracesData *full, *spans, *all, *keyed;
    int rc_full = decode(msg, TRACE_DECODE_ALL, &a, &full);
    int rc_spans = decode(msg, NEED_SPANS, &a, &spans);
    int rc_all = decode(msg, NEED_ALL, &a, &all);
    int rc_keyed = decode(msg, NEED_SPANS | OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED), &a, &keyed);
    size_t n_items;
    unsigned found;
    bool valid =
        kt_otlp_validate_cached(KT_SIGNAL_TRACES, msg, 0, NULL, NULL, &n_items, &found, NULL) == 0;
    check_cached(msg, rc_all, full, &a, valid);
    if (valid) {
        check(rc_full == 0, "full decode failed on a valid message");
        check_full(msg, full, &a);
        check(rc_spans != KT_EINVAL && rc_all != KT_EINVAL,
              "shallow decode failed on a valid message");
        if (rc_spans == 0)
            compare(full, spans, false);
        if (rc_all == 0)
            compare(full, all, true);
        check(rc_keyed != KT_EINVAL, "shallow decode keeping attributes failed");
        if (rc_keyed == 0)
            compare_keyed(full, keyed, &a);
        check_keyed_cached(msg, found, rc_keyed, full, &a);
        if (found != 0)
            check_keyed_cached(msg, 0, rc_keyed, full, &a);
    }
    kt_arena_free(&a);
    return 0;
}
