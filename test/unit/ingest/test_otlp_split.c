/* Unit tests of otlp_split: chunks by key and size, re-assembled from the request's bytes. */
#include "../../../ingest/otlp_split.h"
#include "../otlp_fixture.h"
#include "kt_codec.h"
#include "kt_attrhash.h"

static struct otlp_splitter *splitter;

/* ---- chunk checks ---- */

struct result {
    struct kt_buf out;
    struct otlp_chunks chunks;
    size_t n_rejected;
    struct kt_err err;
    int rc;
};

static void result_free(struct result *r)
{
    kt_buf_free(&r->out);
    otlp_chunks_free(&r->chunks);
}

static void split(enum kt_signal sig, struct kt_slice msg, enum otlp_key_mode mode, size_t max,
                  struct result *r)
{
    memset(r, 0, sizeof(*r));
    size_t n = 0;
    struct kt_err verr = {0, ""};
    int vrc = kt_otlp_validate(sig, msg, &n, &verr);
    if (vrc != 0)
        fail_msg("input does not validate: %s", verr.msg);
    struct otlp_split_opts o = {mode, max, NULL};
    r->rc =
        otlp_splitter_split(splitter, sig, msg, &o, &r->out, &r->chunks, &r->n_rejected, &r->err);
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
        assert_int_equal(r->chunks.v[i].key_len, strlen(key));
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
            sz += (size_t)(1 + (sz >= 128) + (sz >= 16384));
            if (r->chunks.v[i].len + sz <= max)
                fail_msg("chunk %zu (%zu bytes) had room for a %zu-byte span", i,
                         r->chunks.v[i].len, sz);
            opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
            break;
        }
    }
}

/* ---- hand-written protobuf for inputs protobuf-c would not produce ---- */
/* Unknown fields of a span survive splitting, since spans are copied verbatim. */
static void test_split_keeps_unknown_fields_of_items(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    put_varint(&sp, 100, 5);
    assert_int_equal(kt_buf_append_varint(&sp, 103 << 3 | 5), 0);
    assert_int_equal(kt_buf_append(&sp, "abcd", 4), 0);
    struct kt_buf msg = traces_around_span(sp);
    struct result r;
    split(KT_SIGNAL_TRACES, kt_buf_slice(&msg), OTLP_KEY_TRACE_ID, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 1);
    assert_non_null(memmem(r.out.p, r.out.len, "abcd", 4));
    result_free(&r);
    kt_buf_free(&msg);
}

static void test_split_keeps_each_trace_in_one_chunk(void **state)
{
    (void)state;
    struct tshape sh = {2, 2, 15, 3, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    struct result r;
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 0, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 0, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 0, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, max, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    assert_true(r.chunks.n > 6);
    check_trace_chunks(&r, &sh, max, true, -1);
    check_trace_chunks_full(&r, max);
    result_free(&r);

    struct tshape big = {1, 1, 20, 1, trace_by_tens, 13, 5000};
    msg = pack_traces(build_traces(&big));
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, max, &r);
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
    split(KT_SIGNAL_TRACES, kt_buf_slice(&msg), OTLP_KEY_TRACE_ID, 0, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 2000, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_NONE, 2000, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 40, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 1500, &r);
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
    struct otlp_chunks chunks = {0};
    assert_int_equal(kt_buf_append(&out, "previous", 8), 0);
    struct otlp_split_opts o = {OTLP_KEY_TRACE_ID, 0, NULL};
    size_t rej = 0;
    assert_int_equal(
        otlp_splitter_split(splitter, KT_SIGNAL_TRACES, msg, &o, &out, &chunks, &rej, NULL), 0);
    assert_int_equal(chunks.n, 3);
    assert_int_equal(chunks.v[0].off, 8);
    assert_memory_equal(out.p, "previous", 8);
    /* A second call appends after the first. */
    assert_int_equal(
        otlp_splitter_split(splitter, KT_SIGNAL_TRACES, msg, &o, &out, &chunks, &rej, NULL), 0);
    assert_int_equal(chunks.n, 6);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(chunks.v[i].len, chunks.v[i + 3].len);
        assert_memory_equal(out.p + chunks.v[i].off, out.p + chunks.v[i + 3].off, chunks.v[i].len);
        assert_string_equal(chunks.v[i].key, chunks.v[i + 3].key);
    }
    assert_int_equal(chunks.v[5].off + chunks.v[5].len, out.len);
    kt_buf_free(&out);
    otlp_chunks_free(&chunks);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_TRACE_ID, 0, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_NONE, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 1);
    assert_string_equal(r.chunks.v[0].key, "");
    assert_int_equal(r.chunks.v[0].n_items, 20);
    assert_int_equal(r.chunks.v[0].len, msg.n);
    assert_memory_equal(r.out.p, msg.p, msg.n);
    result_free(&r);

    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_NONE, msg.n, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_NONE, max, &r);
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
    split(KT_SIGNAL_TRACES, msg, OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 2);
    assert_int_equal(r.chunks.v[0].n_items, 8);
    assert_int_equal(r.chunks.v[1].n_items, 4);
    assert_int_equal(r.chunks.v[0].key_len, KT_ATTRHASH_LEN);
    assert_memory_not_equal(r.chunks.v[0].key, r.chunks.v[1].key, KT_ATTRHASH_LEN);
    result_free(&r);
}

/* The key of a resource: kt_attrhash (checked against the Collector's own hashes in
 * test_kt_attrhash.c) over its attributes. */
static void expected_resource_key(const Resource *res, uint8_t out[KT_ATTRHASH_LEN])
{
    size_t n = opentelemetry__proto__resource__v1__resource__get_packed_size(res);
    uint8_t *b = A(n ? n : 1);
    opentelemetry__proto__resource__v1__resource__pack(res, b);
    struct kt_attrhash h;
    kt_attrhash_init(&h);
    kt_attrhash_begin(&h);
    assert_int_equal(kt_attrhash_add(&h, b, b + n, 1), 0);
    assert_int_equal(kt_attrhash_end(&h, out), 0);
    kt_attrhash_free(&h);
}

static void assert_key(const struct otlp_chunk *c, const uint8_t want[KT_ATTRHASH_LEN])
{
    assert_int_equal(c->key_len, KT_ATTRHASH_LEN);
    assert_memory_equal(c->key, want, KT_ATTRHASH_LEN);
}

static void test_split_resource_hash_key_is_the_collectors(void **state)
{
    (void)state;
    LogsData *ld = build_logs(4, 3, false);
    struct kt_slice msg = pack_logs(ld);
    struct result r;
    split(KT_SIGNAL_LOGS, msg, OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    /* Resources alternate between two attribute sets. */
    assert_int_equal(r.chunks.n, 2);
    uint8_t want[KT_ATTRHASH_LEN];
    expected_resource_key(ld->resource_logs[0]->resource, want);
    assert_key(&r.chunks.v[0], want);
    expected_resource_key(ld->resource_logs[1]->resource, want);
    assert_key(&r.chunks.v[1], want);
    assert_int_equal(r.chunks.v[0].n_items, 6);
    check_chunks_common(KT_SIGNAL_LOGS, &r, 0, 12);
    result_free(&r);

    /* No attributes: 16 zero bytes, a key all the same (not none). */
    ld->resource_logs[0]->resource->n_attributes = 0;
    split(KT_SIGNAL_LOGS, pack_logs(ld), OTLP_KEY_RESOURCE_HASH, 0, &r);
    memset(want, 0, sizeof(want));
    assert_key(&r.chunks.v[0], want);
    result_free(&r);
}

static void test_split_reuses_splitter_across_requests(void **state)
{
    (void)state;
    struct otlp_splitter *sp = otlp_splitter_new();
    assert_non_null(sp);
    struct tshape a = {1, 1, 30, 0, trace_mod3, -1, 0};
    struct tshape b = {2, 1, 10, 0, trace_by_tens, -1, 0};
    struct kt_slice ma = pack_traces(build_traces(&a)), mb = pack_traces(build_traces(&b));
    struct otlp_split_opts o = {OTLP_KEY_TRACE_ID, 0, NULL};
    for (int round = 0; round < 3; round++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        assert_int_equal(otlp_splitter_split(sp, KT_SIGNAL_TRACES, ma, &o, &r.out, &r.chunks,
                                             &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 3);
        check_trace_chunks(&r, &a, 0, true, -1);
        result_free(&r);
        memset(&r, 0, sizeof(r));
        assert_int_equal(otlp_splitter_split(sp, KT_SIGNAL_TRACES, mb, &o, &r.out, &r.chunks,
                                             &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 2);
        check_trace_chunks(&r, &b, 0, true, -1);
        result_free(&r);
    }
    otlp_splitter_free(sp);
}

static void test_split_empty_request_yields_no_chunks(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        struct otlp_split_opts o = {mode, 0, NULL};
        assert_int_equal(otlp_splitter_split(splitter, KT_SIGNAL_LOGS, (struct kt_slice){NULL, 0},
                                             &o, &r.out, &r.chunks, &r.n_rejected, &r.err),
                         0);
        assert_int_equal(r.chunks.n, 0);
        result_free(&r);
    }
    /* Resources without items carry nothing worth a message either. */
    LogsData *ld = build_logs(2, 0, false);
    struct result r;
    split(KT_SIGNAL_LOGS, pack_logs(ld), OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 0);
    result_free(&r);
}

static void test_split_rejects_trace_id_mode_for_metrics(void **state)
{
    (void)state;
    struct kt_slice msg = pack_metrics(build_metrics(1, 1));
    struct result r;
    split(KT_SIGNAL_METRICS, msg, OTLP_KEY_TRACE_ID, 0, &r);
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
    struct otlp_split_opts o = {OTLP_KEY_TRACE_ID, 0, NULL};
    assert_int_equal(otlp_splitter_split(splitter, KT_SIGNAL_TRACES,
                                         (struct kt_slice){bad, sizeof(bad)}, &o, &r.out, &r.chunks,
                                         &r.n_rejected, &r.err),
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
    split(KT_SIGNAL_METRICS, msg, OTLP_KEY_RESOURCE_HASH, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.chunks.n, 3);
    for (size_t i = 0; i < 3; i++) {
        uint8_t want[KT_ATTRHASH_LEN];
        expected_resource_key(md->resource_metrics[i]->resource, want);
        assert_key(&r.chunks.v[i], want);
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
    for (int mode = OTLP_KEY_NONE; mode <= OTLP_KEY_RESOURCE_HASH; mode += 2) {
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
    split(KT_SIGNAL_METRICS, msg, OTLP_KEY_RESOURCE_HASH, 1500, &r);
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
    split(KT_SIGNAL_LOGS, msg, OTLP_KEY_RESOURCE_HASH, max, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n_rejected, 0);
    check_chunks_common(KT_SIGNAL_LOGS, &r, max, 100);
    int seen[100] = {0};
    uint8_t k0[KT_ATTRHASH_LEN], k1[KT_ATTRHASH_LEN];
    expected_resource_key(ld->resource_logs[0]->resource, k0);
    expected_resource_key(ld->resource_logs[1]->resource, k1);
    for (size_t i = 0; i < r.chunks.n; i++) {
        struct kt_slice b = chunk_bytes(&r, i);
        LogsData *got = opentelemetry__proto__logs__v1__logs_data__unpack(NULL, b.n, b.p);
        assert_non_null(got);
        for (size_t a = 0; a < got->n_resource_logs; a++) {
            ResourceLogs *rl = got->resource_logs[a];
            int rr = (int)int_attr(rl->resource->attributes, rl->resource->n_attributes, "r");
            assert_key(&r.chunks.v[i], rr == 0 ? k0 : k1);
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
    split(KT_SIGNAL_LOGS, pack_logs(ld), OTLP_KEY_TRACE_ID, 0, &r);
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

/* Every resource of every chunk has attribute attr equal to the chunk's topic (none: no
 * attribute, or an empty one). */
static void check_chunk_topics(const struct result *r, const char *attr)
{
    for (size_t i = 0; i < r->chunks.n; i++) {
        struct kt_slice b = chunk_bytes(r, i);
        TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, b.n, b.p);
        assert_non_null(td);
        const struct kt_slice t = r->chunks.v[i].topic;
        for (size_t a = 0; a < td->n_resource_spans; a++) {
            const Resource *res = td->resource_spans[a]->resource;
            const AnyValue *av = find_attr(res->attributes, res->n_attributes, attr);
            const char *v = av != NULL ? av->string_value : NULL;
            if (t.n == 0) {
                assert_true(v == NULL || v[0] == '\0');
                continue;
            }
            assert_non_null(v);
            assert_int_equal(strlen(v), t.n);
            assert_memory_equal(v, t.p, t.n);
        }
        opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    }
}

/* Splits the 12 spans of msg with topic_from_attribute = attr and checks there are n_chunks
 * chunks of items_each items, each of resources of one topic; r is the caller's to free. */
static void split_topic(struct kt_slice msg, enum otlp_key_mode mode, const char *attr,
                        size_t n_chunks, uint32_t items_each, struct result *r)
{
    memset(r, 0, sizeof(*r));
    struct otlp_split_opts o = {mode, 0, attr};
    r->rc = otlp_splitter_split(splitter, KT_SIGNAL_TRACES, msg, &o, &r->out, &r->chunks,
                                &r->n_rejected, &r->err);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->chunks.n, n_chunks);
    for (size_t i = 0; i < n_chunks; i++)
        assert_int_equal(r->chunks.v[i].n_items, items_each);
    check_chunk_topics(r, attr);
    check_chunks_common(KT_SIGNAL_TRACES, r, 0, 12);
}

/* topic_from_attribute: a chunk holds resources of one attribute value, whatever the key
 * mode; a resource without the attribute (or with an empty value) has none. */
static void test_split_topic_attribute_keeps_resources_of_one_topic_together(void **state)
{
    (void)state;
    struct tshape sh = {4, 1, 3, 0, trace_mod3, -1, 0};
    TracesData *td = build_traces(&sh);
    /* svc-0, svc-1, svc-0, "": the first topic twice, apart. */
    td->resource_spans[2]->resource->attributes[0] = kv_str("service.name", "svc-0");
    td->resource_spans[3]->resource->attributes[0] = kv_str("service.name", "");
    struct kt_slice msg = pack_traces(td);
    struct result r;
    split_topic(msg, OTLP_KEY_NONE, "service.name", 4, 3, &r);
    const char *want[] = {"svc-0", "svc-1", "svc-0", ""};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(r.chunks.v[i].topic.n, strlen(want[i]));
        assert_memory_equal(r.chunks.v[i].topic.p, want[i], strlen(want[i]));
    }
    result_free(&r);
    /* By trace: each trace's spans of svc-0, svc-1, svc-0 and none in four chunks. */
    split_topic(msg, OTLP_KEY_TRACE_ID, "service.name", 12, 1, &r);
    result_free(&r);
    /* An attribute no resource has: one chunk without a topic, as without the option. */
    split_topic(msg, OTLP_KEY_NONE, "no.such.attribute", 1, 12, &r);
    result_free(&r);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    splitter = otlp_splitter_new();
    if (splitter == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        T(test_split_keeps_unknown_fields_of_items),
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
        T(test_split_resource_hash_key_is_the_collectors),
        T(test_split_reuses_splitter_across_requests),
        T(test_split_empty_request_yields_no_chunks),
        T(test_split_rejects_trace_id_mode_for_metrics),
        T(test_split_reports_malformed_input),
        T(test_split_metrics_by_resource_hash),
        T(test_split_metric_data_points_across_chunks),
        T(test_split_rejects_oversized_data_point_naming_metric),
        T(test_split_logs_by_resource_hash_respects_max),
        T(test_split_logs_by_trace_id),
        T(test_split_topic_attribute_keeps_resources_of_one_topic_together),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    otlp_splitter_free(splitter);
    return rc;
}
