/* trace_encode: the bytes are protobuf_c_message_pack's, byte for byte, on rich messages,
 * on decoded messages changed the way transforms change them, on NULLs and defaults wherever
 * protobuf-c accepts them, and whatever the output buffer held or could hold before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/trace_decode.h"
#include "../../../process/trace_encode.h"
#include "trace_fixture.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

static struct kt_arena A;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&A, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_arena_free(&A);
    return 0;
}

/* Encoded after what out already holds, td gives exactly protobuf-c's bytes. */
static void assert_encodes_like_pack_after(const TracesData *td, struct kt_buf *out)
{
    size_t before = out->len;
    uint8_t *prefix = fx_alloc(&A, before + 1);
    if (before > 0)
        memcpy(prefix, out->p, before);
    struct kt_slice want = fx_pack(&A, &td->base);
    assert_int_equal(trace_encode(td, out), 0);
    assert_int_equal(out->len, before + want.n);
    if (before > 0)
        assert_memory_equal(out->p, prefix, before);
    if (want.n > 0)
        assert_memory_equal(out->p + before, want.p, want.n);
}

static void assert_encodes_like_pack(const TracesData *td)
{
    struct kt_buf out = KT_BUF_INIT;
    assert_encodes_like_pack_after(td, &out);
    kt_buf_free(&out);
}

static TracesData *decode(struct kt_slice msg)
{
    TracesData *td = NULL;
    assert_int_equal(trace_decode(msg, TRACE_DECODE_ALL, &A, &td), 0);
    return td;
}

static TracesData *traces_data_new(void)
{
    TracesData init = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    TracesData *td = fx_alloc(&A, sizeof(*td));
    *td = init;
    return td;
}

static void test_encode_rich_messages(void **state)
{
    (void)state;
    const int n_spans[] = {0, 1, 2, 7, 24};
    for (size_t i = 0; i < sizeof(n_spans) / sizeof(n_spans[0]); i++) {
        TracesData *td = fx_traces(&A, n_spans[i]);
        assert_encodes_like_pack(td);
        assert_encodes_like_pack(decode(fx_pack(&A, &td->base)));
    }
}

static void test_encode_empty_message(void **state)
{
    (void)state;
    TracesData *td = traces_data_new();
    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(trace_encode(td, &out), 0);
    assert_int_equal(out.len, 0);
    kt_buf_free(&out);
    /* Empty messages inside are still written, as a tag and length 0. */
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ResourceSpans *rsp = &rs;
    td->n_resource_spans = 1;
    td->resource_spans = &rsp;
    assert_encodes_like_pack(td);
}

/* Attributes added and removed with arena objects, strings replaced, a status dropped and a
 * value changed to another case, as OTTL transforms do on a decoded message. */
static void test_encode_decoded_then_modified(void **state)
{
    (void)state;
    TracesData *td = decode(fx_pack(&A, &fx_traces(&A, 5)->base));
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[1];

    KeyValue kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    AnyValue any_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    KeyValue *kv = fx_alloc(&A, sizeof(*kv));
    *kv = kv_init;
    kv->key = "added.by.transform";
    kv->value = fx_alloc(&A, sizeof(*kv->value));
    *kv->value = any_init;
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    kv->value->string_value = "yes";
    KeyValue **v = fx_alloc(&A, (sp->n_attributes + 1) * sizeof(*v));
    memcpy(v, sp->attributes, sp->n_attributes * sizeof(*v));
    v[sp->n_attributes++] = kv;
    sp->attributes = v;
    assert_encodes_like_pack(td);

    Opentelemetry__Proto__Resource__V1__Resource *res = td->resource_spans[0]->resource;
    memmove(res->attributes + 2, res->attributes + 3,
            (res->n_attributes - 3) * sizeof(*res->attributes));
    res->n_attributes--;
    sp->name = "renamed";
    sp->status = NULL;
    AnyValue *val = sp->attributes[0]->value;
    val->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    val->int_value = -1;
    td->resource_spans[0]->scope_spans[0]->spans[0]->n_attributes = 0;
    assert_encodes_like_pack(td);
}

/* protobuf-c leaves out NULL strings and messages outside repeated fields (it cannot size a
 * NULL element of a repeated one), a oneof string that is its own empty default, and a oneof
 * case that no member has. */
static void test_encode_nulls_and_defaults(void **state)
{
    (void)state;
    TracesData *td = fx_traces(&A, 4);
    ResourceSpans *rs = td->resource_spans[0];
    ScopeSpans *ss = rs->scope_spans[0];
    Span *sp = ss->spans[0];
    sp->attributes[2]->key = NULL;
    sp->attributes[3]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    sp->attributes[3]->value->string_value = (char *)protobuf_c_empty_string;
    sp->attributes[4]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    sp->attributes[4]->value->string_value = NULL;
    sp->attributes[5]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    sp->attributes[5]->value->array_value = NULL;
    sp->attributes[6]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    sp->attributes[6]->value->kvlist_value = NULL;
    sp->attributes[7]->value->value_case =
        (Opentelemetry__Proto__Common__V1__AnyValue__ValueCase)99;
    sp->attributes[8]->value->value_case =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    sp->attributes[8]->value->bytes_value = (ProtobufCBinaryData){0, NULL};
    sp->attributes[9]->value = NULL;
    sp->attributes[10]->key = (char *)protobuf_c_empty_string;
    sp->name = NULL;
    sp->trace_state = NULL;
    sp->status = NULL;
    sp->span_id = (ProtobufCBinaryData){0, NULL};
    ss->scope->name = NULL;
    ss->scope = NULL;
    ss->schema_url = NULL;
    EntityRef *ref = rs->resource->entity_refs[1];
    ref->type = NULL;
    ref->schema_url = NULL;
    rs->resource = NULL;
    td->resource_spans[1]->schema_url = NULL;
    assert_encodes_like_pack(td);
}

/* The output is appended, and moved as the buffer grows from nothing or from a little. */
static void test_encode_appends_and_grows(void **state)
{
    (void)state;
    TracesData *big = fx_traces(&A, 300);
    assert_encodes_like_pack(big);

    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&out, "prefix", 6), 0);
    assert_encodes_like_pack_after(big, &out);
    assert_encodes_like_pack_after(fx_traces(&A, 1), &out);
    assert_encodes_like_pack_after(traces_data_new(), &out);
    kt_buf_free(&out);

    /* A buffer with a few bytes to spare. */
    uint8_t filler[1000] = {0};
    assert_int_equal(kt_buf_append(&out, filler, sizeof(filler)), 0);
    assert_true(out.cap - out.len - 3 <= sizeof(filler));
    assert_int_equal(kt_buf_append(&out, filler, out.cap - out.len - 3), 0);
    assert_encodes_like_pack_after(fx_traces(&A, 3), &out);
    kt_buf_free(&out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_encode_rich_messages),         T(test_encode_empty_message),
        T(test_encode_decoded_then_modified), T(test_encode_nulls_and_defaults),
        T(test_encode_appends_and_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
