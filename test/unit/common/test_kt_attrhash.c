/* Unit tests for kt_attrhash: the hashes the OpenTelemetry Collector gives the same maps
 * (pdata xhash.MapHash v0.165.0, printed by a Go program against that module), order
 * independence, merged wrappers, malformed and too deeply nested input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../otlp_fixture.h"
#include "kt_attrhash.h"
#include "kt_codec.h"
#include "kt_err.h"

static KeyValue *kv_of(const char *k, AnyValue *v)
{
    KeyValue *kv = new_KeyValue();
    kv->key = (char *)k;
    kv->value = v;
    return kv;
}

static AnyValue *av_case(int c)
{
    AnyValue *a = new_AnyValue();
    a->value_case = c;
    return a;
}

static AnyValue *av_int(int64_t v)
{
    AnyValue *a = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    a->int_value = v;
    return a;
}

static AnyValue *av_bool(int v)
{
    AnyValue *a = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    a->bool_value = v;
    return a;
}

/* A Resource of the given attributes, serialized. */
static struct kt_slice pack_resource(KeyValue **kvs, size_t n)
{
    Resource *r = new_Resource();
    r->attributes = kvs;
    r->n_attributes = n;
    size_t len = opentelemetry__proto__resource__v1__resource__get_packed_size(r);
    uint8_t *b = A(len ? len : 1);
    opentelemetry__proto__resource__v1__resource__pack(r, b);
    return (struct kt_slice){b, len};
}

/* The hash of a packed Resource's attributes, as 32 hex digits; the return code. */
static int hash_hex(struct kt_slice res, char hex[33])
{
    struct kt_attrhash h;
    kt_attrhash_init(&h);
    kt_attrhash_begin(&h);
    uint8_t out[KT_ATTRHASH_LEN];
    int rc = kt_attrhash_add(&h, res.p, res.p + res.n, 1);
    if (rc == 0)
        rc = kt_attrhash_end(&h, out);
    kt_attrhash_free(&h);
    if (rc == 0)
        kt_hex_encode(out, sizeof(out), hex);
    return rc;
}

/* The map the Go program built, entries in its insertion order. */
static KeyValue **mixed(size_t *n)
{
    KeyValue **kv = ARR(KeyValue, 9);
    kv[0] = kv_str("service.name", "checkout");
    kv[1] = kv_of("pid", av_int(-42));
    AnyValue *d = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
    d->double_value = 1.5;
    kv[2] = kv_of("load", d);
    kv[3] = kv_of("up", av_bool(1));
    kv[4] = kv_of("down", av_bool(0));
    AnyValue *b = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    uint8_t *raw = A(3);
    raw[0] = 0, raw[1] = 1, raw[2] = 2;
    b->bytes_value = (ProtobufCBinaryData){3, raw};
    kv[5] = kv_of("raw", b);
    kv[6] = kv_of("nothing", new_AnyValue());
    AnyValue *l = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    l->array_value = new_ArrayValue();
    l->array_value->values = ARR(AnyValue, 2);
    l->array_value->values[0] = av_str("a");
    l->array_value->values[1] = av_int(7);
    l->array_value->n_values = 2;
    kv[7] = kv_of("list", l);
    AnyValue *m = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
    m->kvlist_value = new_KeyValueList();
    m->kvlist_value->values = ARR(KeyValue, 2);
    m->kvlist_value->values[0] = kv_str("z", "last");
    m->kvlist_value->values[1] = kv_str("a", "first");
    m->kvlist_value->n_values = 2;
    kv[8] = kv_of("nested", m);
    *n = 9;
    return kv;
}

static void test_collector_hashes(void **state)
{
    (void)state;
    char hex[33];
    assert_int_equal(hash_hex(pack_resource(NULL, 0), hex), 0);
    assert_string_equal(hex, "00000000000000000000000000000000");
    KeyValue *one[] = {kv_str("service.name", "checkout")};
    assert_int_equal(hash_hex(pack_resource(one, 1), hex), 0);
    assert_string_equal(hex, "a80793a84690b939e58584caf2e3452b");
    size_t n;
    KeyValue **kv = mixed(&n);
    assert_int_equal(hash_hex(pack_resource(kv, n), hex), 0);
    assert_string_equal(hex, "93756c3dd69c911de77e6412492b3694");
}

/* The same entries in any order hash the same; a KeyValue without an AnyValue is the
 * empty value, as an AnyValue without a value is. */
static void test_order_and_empty_values(void **state)
{
    (void)state;
    size_t n;
    KeyValue **kv = mixed(&n);
    KeyValue **rev = ARR(KeyValue, n);
    for (size_t i = 0; i < n; i++)
        rev[i] = kv[n - 1 - i];
    KeyValueList *nested = rev[0]->value->kvlist_value;
    KeyValue *t = nested->values[0];
    nested->values[0] = nested->values[1];
    nested->values[1] = t;
    rev[2] = kv_of("nothing", NULL);
    char hex[33];
    assert_int_equal(hash_hex(pack_resource(rev, n), hex), 0);
    assert_string_equal(hex, "93756c3dd69c911de77e6412492b3694");

    /* Values count: a different one changes the hash. */
    rev[3] = kv_of("raw", av_str("\x00\x01\x02"));
    assert_int_equal(hash_hex(pack_resource(rev, n), hex), 0);
    assert_string_not_equal(hex, "93756c3dd69c911de77e6412492b3694");
}

/* A Resource sent as two field occurrences is one map (protobuf merges them). */
static void test_merged_wrappers(void **state)
{
    (void)state;
    size_t n;
    KeyValue **kv = mixed(&n);
    struct kt_slice a = pack_resource(kv, 4), b = pack_resource(kv + 4, n - 4);
    uint8_t *both = A(a.n + b.n);
    memcpy(both, a.p, a.n);
    memcpy(both + a.n, b.p, b.n);
    char hex[33];
    assert_int_equal(hash_hex((struct kt_slice){both, a.n + b.n}, hex), 0);
    assert_string_equal(hex, "93756c3dd69c911de77e6412492b3694");

    struct kt_attrhash h;
    kt_attrhash_init(&h);
    kt_attrhash_begin(&h);
    uint8_t out[KT_ATTRHASH_LEN];
    assert_int_equal(kt_attrhash_add(&h, a.p, a.p + a.n, 1), 0);
    assert_int_equal(kt_attrhash_add(&h, b.p, b.p + b.n, 1), 0);
    assert_int_equal(kt_attrhash_end(&h, out), 0);
    kt_hex_encode(out, sizeof(out), hex);
    assert_string_equal(hex, "93756c3dd69c911de77e6412492b3694");
    /* The scratch space is reused: the next map starts empty. */
    kt_attrhash_begin(&h);
    assert_int_equal(kt_attrhash_end(&h, out), 0);
    kt_hex_encode(out, sizeof(out), hex);
    assert_string_equal(hex, "00000000000000000000000000000000");
    kt_attrhash_free(&h);
}

static void test_malformed_and_too_deep(void **state)
{
    (void)state;
    char hex[33];
    /* Field 1, length 5, only 2 bytes there. */
    const uint8_t cut[] = {0x0a, 0x05, 0x0a, 0x01};
    assert_int_equal(hash_hex((struct kt_slice){cut, sizeof(cut)}, hex), KT_EINVAL);

    /* A list nested deeper than KT_ATTRHASH_MAX_DEPTH. */
    AnyValue *v = av_int(1);
    for (int i = 0; i < KT_ATTRHASH_MAX_DEPTH + 2; i++) {
        AnyValue *l = av_case(OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
        l->array_value = new_ArrayValue();
        l->array_value->values = ARR(AnyValue, 1);
        l->array_value->values[0] = v;
        l->array_value->n_values = 1;
        v = l;
    }
    KeyValue *deep[] = {kv_of("deep", v)};
    assert_int_equal(hash_hex(pack_resource(deep, 1), hex), KT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_collector_hashes, teardown),
        cmocka_unit_test_teardown(test_order_and_empty_values, teardown),
        cmocka_unit_test_teardown(test_merged_wrappers, teardown),
        cmocka_unit_test_teardown(test_malformed_and_too_deep, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
