/* span_edit: edits made on the bytes give what the transform gives on the decoded data (both
 * decoded and encoded again to compare), on rich messages and on duplicate keys, keys with a
 * NUL and attributes without a value; which statements are edits and which are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/span_edit.h"
#include "../../../process/trace_decode.h"
#include "../../../process/trace_encode.h"
#include "../../../process/transform.h"
#include "kt_otlp_wire.h"
#include "pb_build.h"
#include "trace_fixture.h"

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

/* Loads sets as kotel-process loads --set, then compiles the transform. */
static struct transform *load(struct process_conf *c, const char *const *sets)
{
    size_t n = 0;
    while (sets[n] != NULL)
        n++;
    memset(c, 0, sizeof(*c));
    struct kt_err err = {0};
    struct transform *t = NULL;
    if (kt_config_load(&process_conf_schema, c, NULL, sets, n, &err) != 0 ||
        transform_new(c, &t, &err) != 0)
        fail_msg("load: %s", err.msg);
    return t;
}

/* A missing resource or scope as the empty one, which OTLP takes it for: the transform
 * creates them (as the Collector's data model always has them), the edits leave them out. */
static void fill_empty(TracesData *td)
{
    for (size_t r = 0; r < td->n_resource_spans; r++) {
        ResourceSpans *rs = td->resource_spans[r];
        if (rs->resource == NULL)
            rs->resource = NEW(Resource, OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT);
        for (size_t s = 0; s < rs->n_scope_spans; s++)
            if (rs->scope_spans[s]->scope == NULL)
                rs->scope_spans[s]->scope =
                    NEW(Scope, OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT);
    }
}

/* The decoded data of msg, encoded again: what both ways are compared on. */
static struct kt_slice normal(struct kt_slice msg, struct kt_buf *out)
{
    TracesData *td;
    assert_int_equal(trace_decode(msg, TRACE_DECODE_ALL, &A, &td), 0);
    fill_empty(td);
    kt_buf_reset(out);
    assert_int_equal(trace_encode(td, out), 0);
    return kt_buf_slice(out);
}

/* The statements in sets are edits, and on td they give what transform_traces gives.
 * Returns the edited bytes (in A). */
static struct kt_slice assert_edits_like_transform(const char *const *sets, const TracesData *td)
{
    struct process_conf c;
    struct transform *t = load(&c, sets);
    struct span_edits *se = NULL;
    assert_int_equal(transform_span_edits(t, &se), 0);
    assert_non_null(se);
    struct kt_slice in = fx_pack(&A, &td->base);
    struct kt_buf edited = KT_BUF_INIT, want = KT_BUF_INIT, got = KT_BUF_INIT;
    assert_int_equal(span_edits_apply(se, in, &edited), 0);

    TracesData *decoded;
    struct kt_err err = {0};
    assert_int_equal(trace_decode(in, TRACE_DECODE_ALL, &A, &decoded), 0);
    assert_int_equal(transform_traces(t, decoded, &A, &err), 0);
    fill_empty(decoded);
    assert_int_equal(trace_encode(decoded, &want), 0);
    struct kt_slice g = normal(kt_buf_slice(&edited), &got);
    assert_int_equal(g.n, want.len);
    assert_memory_equal(g.p, want.p, want.len);

    uint8_t *copy = fx_alloc(&A, edited.len + 1);
    memcpy(copy, edited.p, edited.len);
    struct kt_slice out = {copy, edited.len};
    kt_buf_free(&edited);
    kt_buf_free(&want);
    kt_buf_free(&got);
    span_edits_free(se);
    transform_free(t);
    process_conf_free(&c);
    return out;
}

static const char *attr_key(const Span *s, size_t i)
{
    return s->attributes[i]->key;
}

static void test_rich_messages(void **state)
{
    (void)state;
    const char *const lists[][5] = {
        {"transform.trace_statements=delete_key(span.attributes, \"attr.3\")",
         "transform.trace_statements=set(span.attributes[\"attr.4\"], \"new\")",
         "transform.trace_statements=set(span.attributes[\"added\"], 42)", NULL},
        /* set, then delete: gone; delete, then set: appended; the last set wins */
        {"transform.trace_statements=set(span.attributes[\"attr.2\"], 1.5)",
         "transform.trace_statements=delete_key(span.attributes, \"attr.2\")",
         "transform.trace_statements=delete_key(span.attributes, \"attr.6\")",
         "transform.trace_statements=set(span.attributes[\"attr.6\"], true)", NULL},
        /* attr.1 has no value; int, bool false, an empty string, a negative int */
        {"transform.trace_statements=set(span.attributes[\"attr.1\"], -7)",
         "transform.trace_statements=set(span.attributes[\"attr.5\"], false)",
         "transform.trace_statements=set(span.attributes[\"attr.5\"], \"\")",
         "transform.trace_statements=set(span.attributes[\"\"], 0)", NULL},
        /* a span group without conditions runs the same edits */
        {"transform.group.g.signal=traces", "transform.group.g.context=span",
         "transform.group.g.statements=set(attributes[\"attr.0\"], \"g\")",
         "transform.group.g.statements=delete_key(attributes, \"attr.9\")", NULL},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        for (int n_spans = 0; n_spans <= 7; n_spans += 7)
            assert_edits_like_transform(lists[i], fx_traces(&A, n_spans));

    /* Replaced in place, added last, deleted gone. */
    struct kt_slice out = assert_edits_like_transform(lists[0], fx_traces(&A, 3));
    TracesData *td;
    assert_int_equal(trace_decode(out, TRACE_DECODE_ALL, &A, &td), 0);
    const Span *s = td->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(attr_key(s, 3), "attr.4");
    assert_string_equal(s->attributes[3]->value->string_value, "new");
    assert_string_equal(attr_key(s, s->n_attributes - 1), "added");
    assert_int_equal(s->attributes[s->n_attributes - 1]->value->int_value, 42);
    for (size_t i = 0; i < s->n_attributes; i++)
        assert_string_not_equal(attr_key(s, i), "attr.3");
}

static KeyValue *kv(const char *key, int64_t v)
{
    KeyValue *k = NEW(KeyValue, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT);
    AnyValue *a = NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
    a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    a->int_value = v;
    k->key = (char *)key;
    k->value = a;
    return k;
}

static TracesData *one_span(KeyValue **kvs, size_t n)
{
    TracesData *td = NEW(TracesData, OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT);
    ResourceSpans *rs = NEW(ResourceSpans, OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT);
    ScopeSpans *ss = NEW(ScopeSpans, OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT);
    Span *s = NEW(Span, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT);
    s->name = "op";
    for (size_t i = 0; i < n; i++)
        PUSH(s->attributes, s->n_attributes, kvs[i]);
    PUSH(ss->spans, ss->n_spans, s);
    PUSH(rs->scope_spans, rs->n_scope_spans, ss);
    PUSH(td->resource_spans, td->n_resource_spans, rs);
    return td;
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    KeyValue *kvs[] = {kv("dup", 1), kv("other", 2), kv("dup", 3), kv("dup", 4)};
    const char *del[] = {"transform.trace_statements=delete_key(span.attributes, \"dup\")", NULL};
    const char *set[] = {"transform.trace_statements=set(span.attributes[\"dup\"], 9)", NULL};
    TracesData *td;
    /* delete_key drops every one */
    assert_int_equal(
        trace_decode(assert_edits_like_transform(del, one_span(kvs, 4)), TRACE_DECODE_ALL, &A, &td),
        0);
    const Span *s = td->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(s->n_attributes, 1);
    /* set changes the first only */
    assert_int_equal(
        trace_decode(assert_edits_like_transform(set, one_span(kvs, 4)), TRACE_DECODE_ALL, &A, &td),
        0);
    s = td->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(s->n_attributes, 4);
    assert_int_equal(s->attributes[0]->value->int_value, 9);
    assert_int_equal(s->attributes[2]->value->int_value, 3);
}

/* Edits that take a span, and so its scope and resource, across a length's varint size:
 * the lengths are moved with what follows them. */
static void test_lengths_shrink_and_grow(void **state)
{
    (void)state;
    KeyValue *kvs[13];
    for (int i = 0; i < 12; i++)
        kvs[i] = kv("drop.this.attribute", i);
    kvs[12] = kv("keep", 1);
    const char *del[] = {"transform.trace_statements=delete_key(span.attributes, "
                         "\"drop.this.attribute\")",
                         NULL};
    TracesData *before = one_span(kvs, 13);
    assert_true(protobuf_c_message_get_packed_size(&before->base) > 300);
    struct kt_slice out = assert_edits_like_transform(del, before);
    assert_true(out.n < 100);

    char stmt[400];
    snprintf(stmt, sizeof(stmt),
             "transform.trace_statements=set(span.attributes[\"big\"], \"%0300d\")", 7);
    const char *set[] = {stmt, NULL};
    TracesData *small = one_span(&kvs[12], 1);
    assert_true(protobuf_c_message_get_packed_size(&small->base) < 100);
    out = assert_edits_like_transform(set, small);
    assert_true(out.n > 300);
}

/* One span: a name, an attribute with key "k\0x" and int value 5, a kind. */
static const uint8_t nul_key[] = {
    0x0a, 21, 0x12, 19,  0x12, 17,                        /* resource_spans, scope_spans, spans */
    0x2a, 2,  'o',  'p',                                  /* name */
    0x4a, 9,  0x0a, 3,   'k',  0,  'x', 0x12, 2, 0x18, 5, /* attributes */
    0x30, 1,                                              /* kind */
};

/* The edits the statements in sets compile to, applied to in; returns what
 * span_edits_apply returns, the edited bytes in out. */
static int edit_bytes(const char *const *sets, const uint8_t *in, size_t n, struct kt_buf *out)
{
    struct process_conf c;
    struct transform *t = load(&c, sets);
    struct span_edits *se = NULL;
    assert_int_equal(transform_span_edits(t, &se), 0);
    assert_non_null(se);
    int rc = span_edits_apply(se, (struct kt_slice){in, n}, out);
    span_edits_free(se);
    transform_free(t);
    process_conf_free(&c);
    return rc;
}

/* The statements in sets make exactly want of in. */
static void assert_edits_to(const char *const *sets, const uint8_t *in, size_t n_in,
                            const uint8_t *want, size_t n_want)
{
    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(edit_bytes(sets, in, n_in, &out), 0);
    assert_int_equal(out.len, n_want);
    assert_memory_equal(out.p, want, n_want);
    kt_buf_free(&out);
}

/* assert_edits_to on input the validator accepts, as every message the edits see is. */
static void assert_valid_edits_to(const char *const *sets, const uint8_t *in, size_t n_in,
                                  const uint8_t *want, size_t n_want)
{
    size_t n_items;
    assert_int_equal(
        kt_otlp_validate(KT_SIGNAL_TRACES, (struct kt_slice){in, n_in}, &n_items, NULL), 0);
    assert_edits_to(sets, in, n_in, want, n_want);
}

static void test_keys_compare_as_the_decoded_data_does(void **state)
{
    (void)state;
    /* The decoded key is "k": set finds it there too, and the bytes keep the key as sent;
     * the attribute keeps its place among the span's fields. */
    const char *set[] = {"transform.trace_statements=set(span.attributes[\"k\"], 6)", NULL};
    static const uint8_t want[] = {
        0x0a, 21, 0x12, 19, 0x12, 17,   0x2a, 2,    'o', 'p',  0x4a, 9,
        0x0a, 3,  'k',  0,  'x',  0x12, 2,    0x18, 6,   0x30, 1,
    };
    assert_edits_to(set, nul_key, sizeof(nul_key), want, sizeof(want));
}

/* An attribute field whose length takes more bytes than it needs (which protobuf allows) is
 * deleted whole. */
static void test_overlong_length_deleted_whole(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x0a, 20,   0x12, 18, 0x12, 16,   0x2a, 2,    'o', 'p',  0x4a,
        0x87, 0x00, 0x0a, 1,  'k',  0x12, 2,    0x18, 5,   0x30, 1,
    };
    static const uint8_t want[] = {0x0a, 10, 0x12, 8, 0x12, 6, 0x2a, 2, 'o', 'p', 0x30, 1};
    const char *del[] = {"transform.trace_statements=delete_key(span.attributes, \"k\")", NULL};
    assert_valid_edits_to(del, in, sizeof(in), want, sizeof(want));
}

/* Attributes are passed over as untouched only when their one key cannot be the edit's: a
 * key given twice (the last counts), a key after the value, a key like the edit's up to its
 * last byte or with a NUL where the edit's ends are all looked at. */
static void test_only_other_keys_passed_over(void **state)
{
    (void)state;
    /* One span: a name, five attributes, a kind. */
    static const uint8_t in[] = {
        0x0a, 70, 0x12, 68,  0x12, 66, /* down to it */
        0x2a, 2,  'o',  'p',           /* name */
        0x4a, 13, 0x0a, 2,   'z',  'z', 0x0a, 3,    'd',  'u',  'p', 0x12, 2, 0x18, 5, /* zz, dup */
        0x4a, 9,  0x12, 2,   0x18, 5,   0x0a, 3,    'd',  'u',  'p',          /* value, dup */
        0x4a, 9,  0x0a, 3,   'd',  'u', 'n',  0x12, 2,    0x18, 5,            /* dun */
        0x4a, 11, 0x0a, 5,   'd',  'u', 'p',  0,    'x',  0x12, 2,   0x18, 5, /* dup\0x */
        0x4a, 8,  0x0a, 2,   'z',  'z', 0x12, 2,    0x18, 5,                  /* zz */
        0x30, 1,                                                              /* kind */
    };
    static const uint8_t want[] = {
        0x0a, 31, 0x12, 29,  0x12, 27,                             /* down to it */
        0x2a, 2,  'o',  'p',                                       /* name */
        0x4a, 9,  0x0a, 3,   'd',  'u', 'n',  0x12, 2,    0x18, 5, /* dun */
        0x4a, 8,  0x0a, 2,   'z',  'z', 0x12, 2,    0x18, 5,       /* zz */
        0x30, 1,                                                   /* kind */
    };
    const char *del[] = {"transform.trace_statements=delete_key(span.attributes, \"dup\")", NULL};
    assert_valid_edits_to(del, in, sizeof(in), want, sizeof(want));
}

/* The empty key: an edit of it touches the attribute without a key byte and the one whose key
 * starts with a NUL (both decode to ""), and passes over the others. */
static void test_empty_key_touches_keys_cut_to_nothing(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x0a, 38, 0x12, 36,  0x12, 34,                    /* down to it */
        0x2a, 2,  'o',  'p',                              /* name */
        0x4a, 8,  0x0a, 2,   'z',  'z', 0x12, 2, 0x18, 5, /* zz */
        0x4a, 6,  0x0a, 0,   0x12, 2,   0x18, 5,          /* "" */
        0x4a, 8,  0x0a, 2,   0,    'x', 0x12, 2, 0x18, 5, /* "\0x" */
        0x30, 1,                                          /* kind */
    };
    static const uint8_t want[] = {
        0x0a, 20, 0x12, 18,  0x12, 16,                    /* down to it */
        0x2a, 2,  'o',  'p',                              /* name */
        0x4a, 8,  0x0a, 2,   'z',  'z', 0x12, 2, 0x18, 5, /* zz */
        0x30, 1,                                          /* kind */
    };
    const char *del[] = {"transform.trace_statements=delete_key(span.attributes, \"\")", NULL};
    assert_valid_edits_to(del, in, sizeof(in), want, sizeof(want));
}

static void test_what_is_not_an_edit(void **state)
{
    (void)state;
    const char *const lists[][5] = {
        {"transform.trace_statements=set(span.attributes[\"a\"], 1) where span.name == \"x\"",
         NULL},
        {"transform.trace_statements=set(span.attributes[\"a\"], span.name)", NULL},
        {"transform.trace_statements=set(span.attributes[\"a\"][\"b\"], 1)", NULL},
        {"transform.trace_statements=set(span.name, \"x\")", NULL},
        {"transform.trace_statements=set(resource.attributes[\"a\"], 1)", NULL},
        {"transform.trace_statements=set(spanevent.attributes[\"a\"], 1)", NULL},
        {"transform.trace_statements=set(span.attributes[\"a\"], nil)", NULL},
        {"transform.trace_statements=delete_key(span.attributes, \"a\")",
         "transform.trace_statements=keep_keys(span.attributes, [\"b\"])", NULL},
        /* no trace statements at all */
        {"transform.metric_statements=set(resource.attributes[\"a\"], 1)", NULL},
        {"transform.group.g.signal=traces", "transform.group.g.context=span",
         "transform.group.g.conditions=span.kind == SPAN_KIND_SERVER",
         "transform.group.g.statements=set(attributes[\"a\"], 1)", NULL},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct process_conf c;
        struct transform *t = load(&c, lists[i]);
        struct span_edits *se = (struct span_edits *)&c;
        assert_int_equal(transform_span_edits(t, &se), 0);
        if (se != NULL)
            fail_msg("list %zu: edits", i);
        transform_free(t);
        process_conf_free(&c);
    }
}

static void test_not_traces_data(void **state)
{
    (void)state;
    const char *set[] = {"transform.trace_statements=set(span.attributes[\"k\"], 6)", NULL};
    static const uint8_t truncated[] = {0x0a, 5, 0x12, 3, 0x12, 1};
    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(edit_bytes(set, truncated, sizeof(truncated), &out), KT_EINVAL);
    kt_buf_free(&out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rich_messages),
        T(test_duplicate_keys),
        T(test_lengths_shrink_and_grow),
        T(test_keys_compare_as_the_decoded_data_does),
        T(test_what_is_not_an_edit),
        T(test_not_traces_data),
        T(test_overlong_length_deleted_whole),
        T(test_only_other_keys_passed_over),
        T(test_empty_key_touches_keys_cut_to_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
