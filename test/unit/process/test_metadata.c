/* metadata: the kafkareceiver's header_extraction, done on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/metadata.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;

static const char *str_attr(const Resource *r, const char *key, size_t *count)
{
    const char *v = NULL;
    *count = 0;
    for (size_t i = 0; r && i < r->n_attributes; i++)
        if (strcmp(r->attributes[i]->key, key) == 0) {
            if (*count == 0)
                v = r->attributes[i]->value->string_value;
            (*count)++;
        }
    return v;
}

/* Two ResourceSpans: one whose resource has service.name and an old kafka.header.tenant, one
 * with no resource at all. */
static void two_resources(struct kt_buf *out)
{
    AnyValue sv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT, old = sv;
    sv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    sv.string_value = (char *)"checkout";
    old.value_case = sv.value_case;
    old.string_value = (char *)"stale";
    KeyValue kv1 = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT, kv2 = kv1;
    kv1.key = (char *)"service.name";
    kv1.value = &sv;
    kv2.key = (char *)"kafka.header.tenant";
    kv2.value = &old;
    KeyValue *kvs[] = {&kv1, &kv2};
    Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.attributes = kvs;
    res.n_attributes = 2;
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.name = (char *)"GET /";
    Opentelemetry__Proto__Trace__V1__Span *sps[] = {&sp};
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.spans = sps;
    ss.n_spans = 1;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *sss[] = {&ss};
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs1 =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs2 = rs1;
    rs1.resource = &res;
    rs1.scope_spans = sss;
    rs1.n_scope_spans = 1;
    rs2.scope_spans = sss;
    rs2.n_scope_spans = 1;
    rs2.schema_url = (char *)"https://example/schema";
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rss[] = {&rs1, &rs2};
    Opentelemetry__Proto__Trace__V1__TracesData td =
        OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.resource_spans = rss;
    td.n_resource_spans = 2;
    size_t n = protobuf_c_message_get_packed_size(&td.base);
    assert_int_equal(kt_buf_reserve(out, n), 0);
    protobuf_c_message_pack(&td.base, out->p);
    out->len = n;
}

static void test_header_attributes_reach_every_resource_and_replace_in_place(void **state)
{
    (void)state;
    struct kt_buf in = KT_BUF_INIT, out = KT_BUF_INIT;
    two_resources(&in);
    struct metadata_attr attrs[] = {
        {{(const uint8_t *)"kafka.header.tenant", 19}, {(const uint8_t *)"acme", 4}},
        {{(const uint8_t *)"kafka.header.team", 17}, {(const uint8_t *)"", 0}},
    };
    struct metadata_scratch s = {KT_BUF_INIT, KT_BUF_INIT};
    assert_int_equal(metadata_set_resource_attrs(kt_buf_slice(&in), attrs, 2, &s, &out), 0);
    Opentelemetry__Proto__Trace__V1__TracesData *td =
        opentelemetry__proto__trace__v1__traces_data__unpack(NULL, out.len, out.p);
    assert_non_null(td);
    assert_int_equal(td->n_resource_spans, 2);
    size_t c;
    const Resource *r0 = td->resource_spans[0]->resource;
    assert_string_equal(str_attr(r0, "service.name", &c), "checkout");
    /* pdata's PutStr: the existing key keeps its place and gets the value, once. */
    assert_string_equal(str_attr(r0, "kafka.header.tenant", &c), "acme");
    assert_int_equal(c, 1);
    assert_string_equal(r0->attributes[1]->key, "kafka.header.tenant");
    assert_string_equal(str_attr(r0, "kafka.header.team", &c), "");
    assert_int_equal(r0->n_attributes, 3);
    const Resource *r1 = td->resource_spans[1]->resource;
    assert_non_null(r1);
    assert_string_equal(str_attr(r1, "kafka.header.tenant", &c), "acme");
    assert_int_equal(r1->n_attributes, 2);
    /* What is not the resource is kept. */
    assert_string_equal(td->resource_spans[1]->schema_url, "https://example/schema");
    assert_int_equal(td->resource_spans[0]->n_scope_spans, 1);
    assert_string_equal(td->resource_spans[0]->scope_spans[0]->spans[0]->name, "GET /");
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    kt_buf_free(&in);
    kt_buf_free(&out);
    metadata_scratch_free(&s);
}

static void test_malformed_input_is_refused(void **state)
{
    (void)state;
    struct kt_buf out = KT_BUF_INIT;
    struct metadata_scratch s = {KT_BUF_INIT, KT_BUF_INIT};
    struct metadata_attr a = {{(const uint8_t *)"k", 1}, {(const uint8_t *)"v", 1}};
    /* ResourceSpans of length 5 with 2 bytes present. */
    static const uint8_t bad[] = {0x0a, 0x05, 0x0a, 0x00};
    assert_int_equal(
        metadata_set_resource_attrs((struct kt_slice){bad, sizeof(bad)}, &a, 1, &s, &out),
        KT_EINVAL);
    kt_buf_free(&out);
    metadata_scratch_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_attributes_reach_every_resource_and_replace_in_place),
        cmocka_unit_test(test_malformed_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
