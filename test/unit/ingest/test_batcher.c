/* batcher: grouping by key, cutting at max_message_bytes, batch size triggers. Chunks are
 * real serialized TracesData so every emitted value is checked to decode as one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../ingest/batcher.h"
#include "kt_buf.h"
#include "kt_codec.h"
#include "kt_err.h"
#include "kt_otlp_wire.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

/* Serializes a TracesData of one resource holding n spans of trace `trace`; span IDs are
 * first_span, first_span + 1, ...; each span name is `pad` bytes long. */
static void make_chunk(uint8_t trace, uint64_t first_span, size_t n, size_t pad, struct kt_buf *out)
{
    uint8_t tid[16], sid[8 * 64];
    Span spans[64], *sp[64];
    assert_true(n <= 64);
    memset(tid, trace, sizeof(tid));
    char *name = malloc(pad + 1);
    memset(name, 'n', pad);
    name[pad] = '\0';
    for (size_t i = 0; i < n; i++) {
        Span s = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
        uint64_t id = first_span + i;
        memcpy(sid + 8 * i, &id, 8);
        s.trace_id.data = tid;
        s.trace_id.len = 16;
        s.span_id.data = sid + 8 * i;
        s.span_id.len = 8;
        s.name = name;
        spans[i] = s;
        sp[i] = &spans[i];
    }
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.n_spans = n;
    ss.spans = sp;
    ScopeSpans *ssp = &ss;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    ResourceSpans *rsp = &rs;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.n_resource_spans = 1;
    td.resource_spans = &rsp;
    kt_buf_reset(out);
    size_t len = opentelemetry__proto__trace__v1__traces_data__get_packed_size(&td);
    assert_int_equal(kt_buf_reserve(out, len), 0);
    out->len = opentelemetry__proto__trace__v1__traces_data__pack(&td, out->p);
    free(name);
}

static void key_of(uint8_t trace, char key[33])
{
    uint8_t tid[16];
    memset(tid, trace, sizeof(tid));
    kt_hex_encode(tid, 16, key);
}

/* ---- what the emit callback saw ---- */

#define MAX_MSGS 512
#define MAX_SPANS 4096

struct seen_msg {
    char key[BATCHER_KEY_MAX + 1];
    size_t len;
    uint64_t n_items;
    size_t n_chunks, n_parts;
    uint64_t part_items;
    void *first_tag;
};

struct seen {
    struct seen_msg m[MAX_MSGS];
    size_t n;
    /* span id -> how many messages carried it */
    unsigned span_count[MAX_SPANS];
    int split_first; /* answer BATCHER_SPLIT to this many multi-chunk messages */
    int any_keys;    /* keys are not trace IDs: skip that check */
    size_t splits;
};

/* Decodes the value, checks every span belongs to the key, counts span IDs. */
static void record(struct seen *s, const struct batcher_msg *m)
{
    assert_non_null(m->value.p);
    assert_true(s->n < MAX_MSGS);
    struct seen_msg *r = &s->m[s->n++];
    memcpy(r->key, m->key, m->key_len + 1);
    assert_int_equal(strlen(m->key), m->key_len);
    r->len = m->value.n;
    r->n_items = m->n_items;
    r->n_chunks = m->n_chunks;
    r->n_parts = m->n_parts;
    r->first_tag = m->n_parts ? m->parts[0].tag : NULL;
    size_t chunks = 0;
    for (size_t i = 0; i < m->n_parts; i++) {
        r->part_items += m->parts[i].n_items;
        chunks += m->parts[i].n_chunks;
        if (i > 0)
            assert_ptr_not_equal(m->parts[i].tag, m->parts[i - 1].tag);
    }
    assert_int_equal(chunks, m->n_chunks);
    assert_int_equal(r->part_items, m->n_items);

    TracesData *td =
        opentelemetry__proto__trace__v1__traces_data__unpack(NULL, m->value.n, m->value.p);
    assert_non_null(td);
    uint64_t spans = 0;
    for (size_t i = 0; i < td->n_resource_spans; i++)
        for (size_t j = 0; j < td->resource_spans[i]->n_scope_spans; j++) {
            ScopeSpans *ss = td->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                char hex[33];
                assert_int_equal(ss->spans[k]->trace_id.len, 16);
                kt_hex_encode(ss->spans[k]->trace_id.data, 16, hex);
                if (m->key_len > 0 && !s->any_keys)
                    assert_string_equal(hex, m->key);
                uint64_t id;
                memcpy(&id, ss->spans[k]->span_id.data, 8);
                assert_true(id < MAX_SPANS);
                s->span_count[id]++;
                spans++;
            }
        }
    assert_int_equal(spans, m->n_items);
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
}

static int emit(void *ctx, const struct batcher_msg *m)
{
    struct seen *s = ctx;
    if (s->split_first > 0 && m->n_chunks > 1) {
        s->split_first--;
        s->splits++;
        return BATCHER_SPLIT;
    }
    record(s, m);
    return 0;
}

static struct seen *seen_new(void)
{
    return calloc(1, sizeof(struct seen));
}

static struct batcher *mk(size_t max_bytes, uint64_t size, uint64_t max_size)
{
    struct batcher_opts o = {
        .max_message_bytes = max_bytes, .send_batch_size = size, .send_batch_max_size = max_size};
    struct batcher *b = NULL;
    assert_int_equal(batcher_new(&o, &b), 0);
    return b;
}

static void add(struct batcher *b, uint8_t trace, uint64_t first_span, size_t n, size_t pad,
                void *tag)
{
    struct kt_buf c = KT_BUF_INIT;
    char key[33];
    make_chunk(trace, first_span, n, pad, &c);
    key_of(trace, key);
    assert_int_equal(batcher_add(b, key, strlen(key), c.p, c.len, (uint32_t)n, tag), 0);
    kt_buf_free(&c);
}

/* ---- tests ---- */

/* Three requests each carrying traces A and B: one message per trace ID, holding every
 * request's spans of that trace, with one part per request. */
static void test_same_trace_merges_across_requests(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 1000, 0);
    int tags[3];
    uint64_t span = 0;
    for (int r = 0; r < 3; r++) {
        add(b, 0xaa, span, 2, 10, &tags[r]);
        span += 2;
        add(b, 0xbb, span, 3, 10, &tags[r]);
        span += 3;
    }
    assert_int_equal(batcher_items(b), 15);
    assert_int_equal(batcher_chunks(b), 6);
    struct seen *s = seen_new();
    batcher_flush(b, emit, s);
    assert_int_equal(s->n, 2);
    char ka[33], kb[33];
    key_of(0xaa, ka);
    key_of(0xbb, kb);
    assert_string_equal(s->m[0].key, ka);
    assert_int_equal(s->m[0].n_items, 6);
    assert_int_equal(s->m[0].n_parts, 3);
    assert_ptr_equal(s->m[0].first_tag, &tags[0]);
    assert_string_equal(s->m[1].key, kb);
    assert_int_equal(s->m[1].n_items, 9);
    assert_int_equal(s->m[1].n_parts, 3);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(s->span_count[i], 1);
    assert_int_equal(batcher_items(b), 0);
    assert_int_equal(batcher_chunks(b), 0);
    assert_int_equal(batcher_bytes(b), 0);
    free(s);
    batcher_free(b);
}

/* Chunks of one key over the bound become several messages of that key, each within it. */
static void test_max_message_bytes_splits_same_key(void **state)
{
    (void)state;
    struct kt_buf c = KT_BUF_INIT;
    make_chunk(0x11, 0, 4, 200, &c);
    size_t chunk_len = c.len;
    kt_buf_free(&c);
    size_t max = 3 * chunk_len + chunk_len / 2;
    struct batcher *b = mk(max, 100000, 0);
    for (int i = 0; i < 10; i++)
        add(b, 0x11, (uint64_t)i * 4, 4, 200, NULL);
    struct seen *s = seen_new();
    batcher_flush(b, emit, s);
    assert_int_equal(s->n, 4);
    char k[33];
    key_of(0x11, k);
    size_t chunks = 0;
    for (size_t i = 0; i < s->n; i++) {
        assert_string_equal(s->m[i].key, k);
        assert_true(s->m[i].len <= max);
        chunks += s->m[i].n_chunks;
    }
    assert_int_equal(chunks, 10);
    assert_int_equal(s->m[0].n_chunks, 3);
    assert_int_equal(s->m[3].n_chunks, 1);
    for (int i = 0; i < 40; i++)
        assert_int_equal(s->span_count[i], 1);
    free(s);
    batcher_free(b);
}

/* A chunk bigger than the bound is not dropped: it goes out alone. */
static void test_oversized_chunk_goes_alone(void **state)
{
    (void)state;
    struct kt_buf c = KT_BUF_INIT;
    make_chunk(0x22, 0, 2, 600, &c);
    size_t big = c.len;
    kt_buf_free(&c);
    struct batcher *b = mk(big / 2, 100000, 0);
    add(b, 0x22, 0, 1, 5, NULL);
    add(b, 0x22, 1, 2, 600, NULL);
    add(b, 0x22, 3, 1, 5, NULL);
    struct seen *s = seen_new();
    batcher_flush(b, emit, s);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->m[1].n_chunks, 1);
    assert_int_equal(s->m[1].len, big);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s->span_count[i], 1);
    free(s);
    batcher_free(b);
}

static void test_send_batch_size_triggers(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 10, 0);
    assert_false(batcher_ready(b));
    for (int i = 0; i < 3; i++) {
        add(b, (uint8_t)(i + 1), (uint64_t)i * 3, 3, 1, NULL);
        assert_false(batcher_ready(b));
    }
    add(b, 9, 9, 3, 1, NULL);
    assert_true(batcher_ready(b));
    struct seen *s = seen_new();
    batcher_flush(b, emit, s);
    assert_false(batcher_ready(b));
    assert_int_equal(s->n, 4);
    free(s);
    batcher_free(b);
}

static void test_send_batch_max_size(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 100, 8);
    /* An empty batch takes anything: a request bigger than the bound is not refused. */
    assert_false(batcher_would_overflow(b, 100));
    add(b, 1, 0, 6, 1, NULL);
    assert_false(batcher_would_overflow(b, 2));
    assert_true(batcher_would_overflow(b, 3));
    batcher_free(b);

    struct batcher *unbounded = mk(1000000, 100, 0);
    add(unbounded, 1, 0, 6, 1, NULL);
    assert_false(batcher_would_overflow(unbounded, 1000000));
    batcher_free(unbounded);
}

/* Many keys (and no key), mixed sizes, several flushes reusing the table: every span is in
 * exactly one message, under its key, and no message exceeds the bound. */
static void test_every_item_in_exactly_one_message(void **state)
{
    (void)state;
    size_t max = 4000;
    struct batcher *b = mk(max, 1000000, 0);
    struct seen *s = seen_new();
    uint64_t span = 0;
    unsigned rnd = 12345;
    int tags[40];
    for (int round = 0; round < 5; round++) {
        for (int r = 0; r < 40; r++) {
            rnd = rnd * 1103515245u + 12345u;
            uint8_t trace = (uint8_t)((unsigned)round * 50u + (rnd >> 16) % 9);
            size_t n = 1 + (rnd >> 8) % 5;
            size_t pad = (rnd >> 4) % 300;
            if ((rnd >> 20) % 7 == 0) {
                /* No key: librdkafka will pick the partition. */
                struct kt_buf c = KT_BUF_INIT;
                make_chunk(trace, span, n, pad, &c);
                assert_int_equal(batcher_add(b, "", 0, c.p, c.len, (uint32_t)n, &tags[r]), 0);
                kt_buf_free(&c);
            } else {
                add(b, trace, span, n, pad, &tags[r]);
            }
            span += n;
        }
        batcher_flush(b, emit, s);
        assert_int_equal(batcher_chunks(b), 0);
    }
    assert_true(span < MAX_SPANS);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(s->span_count[i], 1);
    for (size_t i = 0; i < s->n; i++) {
        assert_true(s->m[i].len <= max);
        /* Within one flush a key appears in consecutive messages only (trace IDs differ
         * between rounds; "" recurs in every round). */
        if (s->m[i].key[0] == '\0')
            continue;
        for (size_t j = i + 2; j < s->n && j < i + 20; j++)
            if (strcmp(s->m[i].key, s->m[j].key) == 0)
                for (size_t k = i + 1; k < j; k++)
                    assert_string_equal(s->m[k].key, s->m[i].key);
    }
    free(s);
    batcher_free(b);
}

/* The emit callback asks for halves (an encoding grew past the bound): the same items come
 * out again, in two messages, once each. */
static void test_split_on_request(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 1000, 0);
    int tags[8];
    for (int i = 0; i < 8; i++)
        add(b, 0x33, (uint64_t)i * 2, 2, 30, &tags[i]);
    struct seen *s = seen_new();
    s->split_first = 3; /* 8 -> (4 -> (2 -> 1 + 1) + 2) + 4 */
    batcher_flush(b, emit, s);
    assert_int_equal(s->splits, 3);
    assert_int_equal(s->n, 4);
    assert_int_equal(s->m[0].n_chunks, 1);
    assert_int_equal(s->m[1].n_chunks, 1);
    assert_int_equal(s->m[2].n_chunks, 2);
    assert_int_equal(s->m[3].n_chunks, 4);
    assert_int_equal(s->m[3].n_parts, 4);
    for (int i = 0; i < 16; i++)
        assert_int_equal(s->span_count[i], 1);
    free(s);
    batcher_free(b);
}

/* Tables sized for many keys keep working after many flushes with fresh keys. */
static void test_many_keys_many_flushes(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 1000000, 0);
    struct kt_buf c = KT_BUF_INIT;
    make_chunk(1, 0, 1, 0, &c);
    for (int round = 0; round < 300; round++) {
        size_t nkeys = round % 2 ? 200 : 3;
        for (size_t k = 0; k < nkeys; k++) {
            char key[33];
            snprintf(key, sizeof(key), "r%dk%zu", round, k);
            assert_int_equal(batcher_add(b, key, strlen(key), c.p, c.len, 1, NULL), 0);
            assert_int_equal(batcher_add(b, key, strlen(key), c.p, c.len, 1, NULL), 0);
        }
        struct seen *s = seen_new();
        s->any_keys = 1;
        batcher_flush(b, emit, s);
        assert_int_equal(s->n, nkeys);
        for (size_t k = 0; k < nkeys; k++)
            assert_int_equal(s->m[k].n_chunks, 2);
        free(s);
    }
    kt_buf_free(&c);
    batcher_free(b);
}

static void test_key_too_long(void **state)
{
    (void)state;
    struct batcher *b = mk(1000, 10, 0);
    char key[BATCHER_KEY_MAX + 2];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    uint8_t x = 0;
    assert_int_equal(batcher_add(b, key, strlen(key), &x, 1, 1, NULL), KT_EINVAL);
    assert_int_equal(batcher_chunks(b), 0);
    assert_int_equal(batcher_items(b), 0);
    key[BATCHER_KEY_MAX] = '\0';
    assert_int_equal(batcher_add(b, key, strlen(key), &x, 1, 1, NULL), 0);
    batcher_free(b);
}

/* Chunks written straight into the batch's storage behave as copied-in ones, and a
 * message whose chunks lie back to back there is a view into the storage, not a copy. */
static void test_stored_chunks(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 1000, 0);
    int tags[2];
    uint64_t span = 0;
    for (int r = 0; r < 2; r++) {
        struct kt_buf *st = batcher_storage(b), c = KT_BUF_INIT;
        size_t off_a = st->len;
        make_chunk(0xaa, span, 2, 10, &c);
        assert_int_equal(kt_buf_append(st, c.p, c.len), 0);
        span += 2;
        size_t off_b = st->len;
        make_chunk(0xbb, span, 3, 10, &c);
        assert_int_equal(kt_buf_append(st, c.p, c.len), 0);
        kt_buf_free(&c);
        span += 3;
        char ka[33], kb[33];
        key_of(0xaa, ka);
        key_of(0xbb, kb);
        assert_int_equal(batcher_add_stored(b, ka, strlen(ka), off_a, off_b - off_a, 2, &tags[r]),
                         0);
        assert_int_equal(batcher_add_stored(b, kb, strlen(kb), off_b, st->len - off_b, 3, &tags[r]),
                         0);
        /* Only bytes past the held chunks can be registered. */
        assert_int_equal(batcher_add_stored(b, kb, strlen(kb), off_b, 1, 1, NULL), KT_EINVAL);
        assert_int_equal(batcher_add_stored(b, kb, strlen(kb), st->len, 1, 1, NULL), KT_EINVAL);
    }
    /* A copied-in chunk of a key whose earlier chunk sits right before it. */
    add(b, 0xbb, span, 1, 10, &tags[1]);
    span++;
    assert_int_equal(batcher_chunks(b), 5);
    assert_int_equal(batcher_items(b), 11);
    struct seen *s = seen_new();
    batcher_flush(b, emit, s);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->m[0].n_items, 4);
    assert_int_equal(s->m[0].n_parts, 2);
    assert_int_equal(s->m[1].n_items, 7);
    assert_int_equal(s->m[1].n_chunks, 3);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(s->span_count[i], 1);
    assert_int_equal(batcher_bytes(b), 0);
    free(s);
    batcher_free(b);
}

static int emit_check_view(void *ctx, const struct batcher_msg *m)
{
    const struct kt_buf *st = ctx;
    bool inside = m->value.p >= st->p && m->value.p + m->value.n <= st->p + st->len;
    /* Adjacent chunks (here: one key per message, added back to back) are not copied. */
    assert_true(inside);
    return 0;
}

static void test_adjacent_chunks_are_not_copied(void **state)
{
    (void)state;
    struct batcher *b = mk(1000000, 1000, 0);
    add(b, 0x01, 0, 1, 10, NULL);
    add(b, 0x01, 1, 2, 10, NULL);
    add(b, 0x02, 3, 1, 10, NULL);
    batcher_flush(b, emit_check_view, batcher_storage(b));
    batcher_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_trace_merges_across_requests),
        cmocka_unit_test(test_max_message_bytes_splits_same_key),
        cmocka_unit_test(test_oversized_chunk_goes_alone),
        cmocka_unit_test(test_send_batch_size_triggers),
        cmocka_unit_test(test_send_batch_max_size),
        cmocka_unit_test(test_every_item_in_exactly_one_message),
        cmocka_unit_test(test_split_on_request),
        cmocka_unit_test(test_many_keys_many_flushes),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_stored_chunks),
        cmocka_unit_test(test_adjacent_chunks_are_not_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
