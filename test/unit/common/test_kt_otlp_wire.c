/* Tests for kt_otlp_wire: requests are built with the generated protobuf-c structs (or
 * field by field, for malformed ones) and validated; errors must name the path and offset.
 *
 * With KT_OTLP_WIRE_SEED_DIR set, the binary runs no tests and writes fuzzing seeds (requests
 * built like the tests') into that directory instead: that is how
 * test/fuzz/corpus/otlp_wire was made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_otlp_schema.h"
#include "kt_otlp_wire.h"
#include "../otlp_fixture.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

static void test_validate_counts_spans_in_valid_traces(void **state)
{
    (void)state;
    struct tshape sh = {3, 2, 7, 4, trace_mod3, -1, 0};
    struct kt_slice msg = pack_traces(build_traces(&sh));
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, msg, &n, &err), 0);
    assert_int_equal(n, 3 * 2 * 7);
}

static void test_validate_accepts_links_events_and_status(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    sp->n_links = 1;
    sp->links = ARR(Link, 1);
    Link *l = new_Link();
    l->trace_id = sp->trace_id;
    l->span_id = sp->span_id;
    l->flags = 0x301;
    l->n_attributes = 1;
    l->attributes = ARR(KeyValue, 1);
    l->attributes[0] = kv_str("link", "yes");
    sp->links[0] = l;
    sp->n_events = 1;
    sp->events = ARR(Event, 1);
    sp->events[0] = new_Event();
    sp->events[0]->name = "exception";
    sp->events[0]->time_unix_nano = 5;
    sp->status = new_Status();
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status->message = "boom \xe2\x9c\x93";
    sp->parent_span_id = sp->span_id;
    sp->flags = 0x100;
    sp->trace_state = "rojo=00f067aa0ba902b7";
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, NULL), 0);
    assert_int_equal(n, 1);

    /* A link's span_id must be 8 bytes too. */
    l->span_id.len = 7;
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[0].links[0].span_id: length 7, "
                   "want 8");
}

/* A scope's spans are checked in one run; a span the fast path leaves partway (a link) is
 * walked on from there, with the attributes already passed still counted, and an error
 * names the span it is in. */
static void test_validate_spans_in_a_run_resume_and_name_the_span(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 4, 2, trace_zero, -1, 0}; /* 5 attributes per span */
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[1];
    sp->n_links = 1;
    sp->links = ARR(Link, 1);
    sp->links[0] = new_Link();
    sp->links[0]->span_id = sp->span_id;
    sp->links[0]->n_attributes = 1;
    sp->links[0]->attributes = ARR(KeyValue, 1);
    sp->links[0]->attributes[0] = kv_str("peer", "a");
    size_t n = 0;
    struct kt_err err = {0, ""};
    if (kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, &err) != 0)
        fail_msg("valid spans refused: %s", err.msg);
    assert_int_equal(n, 4);

    /* The span's list is bounded as one, across where the fast path stopped: a sixth
     * attribute, and the fourth of another shape (an array), which the walker takes. Its
     * link's attribute is a list of its own. */
    KeyValue **six = ARR(KeyValue, 6);
    memcpy(six, sp->attributes, 5 * sizeof(*six));
    six[5] = kv_str("sixth", "6");
    sp->attributes = six;
    sp->n_attributes = 6;
    AnyValue *arr = new_AnyValue();
    arr->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    arr->array_value = new_ArrayValue();
    sp->attributes[3]->value = arr;
    const struct kt_otlp_limits six_kv = {6, 0}, five_kv = {5, 0};
    assert_int_equal(
        kt_otlp_validate_limits(KT_SIGNAL_TRACES, pack_traces(td), 0, &six_kv, &n, NULL), 0);
    assert_int_equal(n, 4);
    expect_refused(KT_SIGNAL_TRACES, pack_traces(td), &five_kv, KT_ETOOBIG,
                   "resource_spans[0].scope_spans[0].spans[1].attributes: more than 5 key-value "
                   "pairs");

    /* Errors past where the fast path stopped (in the link), in a later span's attribute
     * and in another span's name. */
    sp->links[0]->span_id.len = 7;
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[1].links[0].span_id: length 7, want 8");
    sp->links[0]->span_id.len = 8;
    td->resource_spans[0]->scope_spans[0]->spans[3]->attributes[4]->key = "\xc3";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[3].attributes[4].key: invalid UTF-8");
    td->resource_spans[0]->scope_spans[0]->spans[3]->attributes[4]->key = "k";
    td->resource_spans[0]->scope_spans[0]->spans[2]->name = "\xff";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].scope_spans[0].spans[2].name: invalid UTF-8");
}

static void test_validate_counts_all_five_metric_kinds(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(3, 2);
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, pack_metrics(md), &n, &err), 0);
    assert_int_equal(n, 2 * 5 * 3);

    /* Each kind alone counts too. */
    for (size_t k = 0; k < 5; k++) {
        ScopeMetrics *sm = md->resource_metrics[0]->scope_metrics[0];
        Metric **all = sm->metrics;
        sm->metrics = &all[k];
        sm->n_metrics = 1;
        MetricsData one = *md;
        one.n_resource_metrics = 1;
        n = 0;
        assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, pack_metrics(&one), &n, &err), 0);
        assert_int_equal(n, 3);
        sm->metrics = all;
        sm->n_metrics = 5;
    }
}

static void test_validate_counts_log_records(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, pack_logs(build_logs(3, 5, true)), &n, NULL),
                     0);
    assert_int_equal(n, 15);
}

static void test_validate_accepts_empty_message(void **state)
{
    (void)state;
    for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++) {
        size_t n = 99;
        assert_int_equal(kt_otlp_validate(sig, (struct kt_slice){NULL, 0}, &n, NULL), 0);
        assert_int_equal(n, 0);
    }
}

static void test_validate_accepts_packed_and_unpacked_repeated_scalars(void **state)
{
    (void)state;
    /* HistogramDataPoint with bucket_counts and explicit_bounds one element per field. */
    struct kt_buf dp = KT_BUF_INIT;
    put_fixed64(&dp, 4, 3);
    put_fixed64(&dp, 6, 1);
    put_fixed64(&dp, 6, 1);
    put_fixed64(&dp, 6, 1);
    double b1 = 1.0, b2 = 2.0;
    uint64_t u;
    memcpy(&u, &b1, 8);
    put_fixed64(&dp, 7, u);
    memcpy(&u, &b2, 8);
    put_fixed64(&dp, 7, u);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, wrap(9, wrap(1, dp)))));
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);
    MetricsData *md = opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(md);
    HistogramDP *h =
        md->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    assert_int_equal(h->n_bucket_counts, 3);
    assert_int_equal(h->n_explicit_bounds, 2);
    opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    kt_buf_free(&msg);

    /* Exponential histogram buckets: uint64 varints, unpacked then packed. */
    struct kt_buf bk = KT_BUF_INIT;
    put_varint(&bk, 2, 7);
    put_varint(&bk, 2, 300);
    uint8_t packed[] = {0x05, 0xac, 0x02, 0x01};
    put_bytes(&bk, 2, packed, sizeof(packed));
    msg = wrap(1, wrap(2, wrap(2, wrap(10, wrap(1, wrap(8, bk))))));
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_METRICS, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);
    md = opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(md);
    ExpHistogramDP *e = md->resource_metrics[0]
                            ->scope_metrics[0]
                            ->metrics[0]
                            ->exponential_histogram->data_points[0];
    assert_int_equal(e->positive->n_bucket_counts, 5);
    opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    kt_buf_free(&msg);
}

static void test_validate_skips_unknown_fields(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    put_varint(&sp, 100, 5);
    put_fixed64(&sp, 101, 5);
    put_bytes(&sp, 102, "\xff\xfe", 2); /* unknown: not checked as UTF-8 */
    assert_int_equal(kt_buf_append_varint(&sp, 103 << 3 | 5), 0);
    assert_int_equal(kt_buf_append(&sp, "abcd", 4), 0);
    struct kt_buf msg = traces_around_span(sp);
    put_varint(&msg, 77, 1); /* and at the top level */
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), &n, &err), 0);
    assert_int_equal(n, 1);
    kt_buf_free(&msg);
}

static void test_validate_rejects_truncated_varint(void **state)
{
    (void)state;
    uint8_t top[] = {0x0a, 0x80};
    expect_invalid(KT_SIGNAL_TRACES, (struct kt_slice){top, sizeof(top)},
                   "resource_spans: truncated length varint (offset 0)");

    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_byte(&sp, 0x30), 0); /* kind, varint ... */
    assert_int_equal(kt_buf_append_byte(&sp, 0x81), 0); /* ... that never ends */
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0].kind: truncated varint (offset ");
    kt_buf_free(&msg);

    uint8_t tag[] = {0x0a, 0x01, 0x80};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){tag, sizeof(tag)},
                   "resource_logs[0]: truncated tag varint (offset 2)");
}

static void test_validate_rejects_overlong_varint(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_byte(&sp, 0x30), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(kt_buf_append_byte(&sp, 0xff), 0);
    assert_int_equal(kt_buf_append_byte(&sp, 0x01), 0);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].kind: over-long varint");
    kt_buf_free(&msg);

    /* Tags and lengths are 32-bit: padded past 5 bytes they are refused (protobuf-c would),
     * at 5 bytes they pass. */
    uint8_t tag6[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, tag6, sizeof(tag6)), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0]: over-long tag varint");
    kt_buf_free(&msg);
    uint8_t len6[] = {0x2a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'a'};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, len6, sizeof(len6)), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].name: over-long length varint");
    kt_buf_free(&msg);
    uint8_t len5[] = {0x2a, 0x81, 0x80, 0x80, 0x80, 0x00, 'a'};
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, len5, sizeof(len5)), 0);
    msg = traces_around_span(sp);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), NULL, NULL), 0);
    kt_buf_free(&msg);
}

static void test_validate_rejects_length_past_end(void **state)
{
    (void)state;
    uint8_t top[] = {0x0a, 0x05, 0x12, 0x00};
    expect_invalid(KT_SIGNAL_METRICS, (struct kt_slice){top, sizeof(top)},
                   "resource_metrics: length 5 past the end of the enclosing message (2 bytes "
                   "left) (offset 0)");

    /* A span name longer than its span, though the request has the bytes. */
    struct kt_buf sp = KT_BUF_INIT;
    put_bytes(&sp, 5, "ab", 2);
    sp.p[1] = 40;
    struct kt_buf msg = traces_around_span(sp);
    for (int i = 0; i < 50; i++)
        put_varint(&msg, 9, 1);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].name: length 40 past the end");
    kt_buf_free(&msg);
}

static void test_validate_rejects_wrong_wire_type_for_known_field(void **state)
{
    (void)state;
    struct kt_buf sp = KT_BUF_INIT;
    put_varint(&sp, 1, 16);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0].trace_id: wire type 0 (varint), "
                   "want 2 (length-delimited)");
    kt_buf_free(&msg);

    /* start_time_unix_nano is fixed64, not varint. */
    sp = valid_span_payload();
    put_varint(&sp, 7, 1);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "start_time_unix_nano: wire type 0");
    kt_buf_free(&msg);
}

/* A span with every field the fast span check handles: errors in any of them, past many
 * valid ones, are reported as the generic walker reports them. */
static Span *full_span(TracesData **td)
{
    struct tshape sh = {1, 1, 1, 2, trace_zero, -1, 0};
    *td = build_traces(&sh);
    Span *sp = (*td)->resource_spans[0]->scope_spans[0]->spans[0];
    sp->trace_state = "rojo=00f067aa0ba902b7";
    sp->parent_span_id = sp->span_id;
    sp->dropped_attributes_count = 3;
    sp->n_events = 2;
    sp->events = ARR(Event, 2);
    for (int i = 0; i < 2; i++) {
        sp->events[i] = new_Event();
        sp->events[i]->name = "cache.miss";
        sp->events[i]->time_unix_nano = 5;
        sp->events[i]->dropped_attributes_count = 1;
        sp->events[i]->n_attributes = 2;
        sp->events[i]->attributes = ARR(KeyValue, 2);
        sp->events[i]->attributes[0] = kv_str("cache.key", "order:83412");
        sp->events[i]->attributes[1] = kv_int("cache.ttl_s", 300);
    }
    sp->dropped_events_count = 4;
    sp->dropped_links_count = 5;
    sp->status = new_Status();
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status->message = "deadline exceeded";
    sp->flags = 0x101;
    return sp;
}

static void test_validate_reports_errors_in_every_span_field(void **state)
{
    (void)state;
    TracesData *td;
    Span *sp = full_span(&td);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, NULL), 0);
    assert_int_equal(n, 1);

    const char *path = "resource_spans[0].scope_spans[0].spans[0].";
    sp->status->message = "bad \xc3\x28";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%sstatus.message: invalid UTF-8", path));
    sp = full_span(&td);
    sp->events[1]->attributes[0]->value->string_value = "\xff";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sevents[1].attributes[0].value.string_value: invalid UTF-8", path));
    sp = full_span(&td);
    sp->events[0]->name = "\xc0\xaf";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%sevents[0].name: invalid UTF-8", path));
    sp = full_span(&td);
    sp->attributes[4]->key = "\xed\xa0\x80";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sattributes[4].key: invalid UTF-8", path));
    sp = full_span(&td);
    sp->parent_span_id.len = 7;
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   S("%sparent_span_id: length 7, want 8", path));
    sp = full_span(&td);
    sp->trace_state = "\xf8\x88";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td), S("%strace_state: invalid UTF-8", path));
}

/* Fields in any order, and fields the fast check leaves to the walker, are still valid;
 * bad bytes right after a run of fast fields are still found. */
static void test_validate_span_fields_in_any_order(void **state)
{
    (void)state;
    uint8_t tid[16], sid[8];
    trace_id_of(3, tid);
    span_id_of(3, sid);
    struct kt_buf kv = KT_BUF_INIT, sp = KT_BUF_INIT;
    put_bytes(&kv, 1, "k", 1);
    put_bytes(&sp, 5, "op", 2);
    put_bytes(&sp, 9, kv.p, kv.len);
    put_bytes(&sp, 1, tid, 16);
    put_varint(&sp, 6, 2);
    put_fixed64(&sp, 7, 1);
    put_bytes(&sp, 2, sid, 8);
    put_bytes(&sp, 9, kv.p, kv.len);
    kt_buf_free(&kv);
    struct kt_buf msg = traces_around_span(sp);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), &n, NULL), 0);
    assert_int_equal(n, 1);
    kt_buf_free(&msg);

    /* flags (field 16, fixed32) cut short at the end of the span. */
    sp = valid_span_payload();
    assert_int_equal(kt_buf_append(&sp, "\x85\x01\x01\x01", 4), 0);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "truncated fixed32");
    kt_buf_free(&msg);

    /* kind as a length-delimited field. */
    sp = valid_span_payload();
    put_bytes(&sp, 6, "x", 1);
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), "spans[0].kind: wire type 2");
    kt_buf_free(&msg);
}

/* A span whose only field is one attribute: key, then the value field holding val_len bytes
 * of AnyValue payload (no value field when val is NULL). */
static struct kt_buf span_with_attribute(const char *key, const void *val, size_t val_len)
{
    struct kt_buf kv = KT_BUF_INIT, sp = KT_BUF_INIT;
    put_bytes(&kv, 1, key, strlen(key));
    if (val != NULL)
        put_bytes(&kv, 2, val, val_len);
    put_bytes(&sp, 9, kv.p, kv.len);
    kt_buf_free(&kv);
    return traces_around_span(sp);
}

/* The attribute shortcut checks key and value in one pass when both are ASCII: a key or a
 * value that is not ASCII is still checked as UTF-8 on its own, and each shape of value it
 * takes (string, bool, int, double, none) is checked as the walker would. */
static void test_validate_attribute_shortcut_checks_keys_and_values(void **state)
{
    (void)state;
    static const char *bad[] = {"\xc3\x28", "ab\x80", "\xed\xa0\x80", "abcdefghijkl\xe2\x82"};
    static const char *good[] = {"caf\xc3\xa9", "\xf0\x9f\x98\x80 smile", "http.route"};
    const char *path = "resource_spans[0].scope_spans[0].spans[0].attributes[0].";
    for (int as_key = 0; as_key < 2; as_key++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]); i++) {
            bool is_bad = i < sizeof(bad) / sizeof(bad[0]);
            const char *str = is_bad ? bad[i] : good[i - sizeof(bad) / sizeof(bad[0])];
            struct kt_buf any = KT_BUF_INIT;
            put_bytes(&any, 1, as_key ? "value" : str, strlen(as_key ? "value" : str));
            struct kt_buf msg = span_with_attribute(as_key ? str : "key", any.p, any.len);
            kt_buf_free(&any);
            if (is_bad)
                expect_invalid(
                    KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                    S("%s%s: invalid UTF-8", path, as_key ? "key" : "value.string_value"));
            else
                assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), NULL, NULL),
                                 0);
            kt_buf_free(&msg);
        }
    }
    /* Values other than strings: the key is still checked. */
    static const struct {
        const char *any;
        size_t n;
    } other[] = {{"\x10\x01", 2},                             /* bool */
                 {"\x18\xac\x02", 3},                         /* int 300 */
                 {"\x21\x00\x00\x00\x00\x00\x00\xf0\x3f", 9}, /* double 1.0 */
                 {"", 0}};                                    /* no value set */
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        struct kt_buf msg = span_with_attribute("k", other[i].any, other[i].n);
        assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), NULL, NULL), 0);
        kt_buf_free(&msg);
        msg = span_with_attribute("\xc3\x28", other[i].any, other[i].n);
        expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg), S("%skey: invalid UTF-8", path));
        kt_buf_free(&msg);
    }
    struct kt_buf msg = span_with_attribute("\xc3\xa9", NULL, 0);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&msg), NULL, NULL), 0);
    kt_buf_free(&msg);
    /* A string value whose length runs past its AnyValue. */
    msg = span_with_attribute("k",
                              "\x0a\x05"
                              "abc",
                              5);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "value.string_value: length 5 past the end");
    kt_buf_free(&msg);
}

static void test_validate_rejects_15_byte_trace_id(void **state)
{
    (void)state;
    struct tshape sh = {1, 2, 3, 1, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    td->resource_spans[0]->scope_spans[1]->spans[2]->trace_id.len = 15;
    struct kt_slice msg = pack_traces(td);
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, msg, NULL, &err), KT_EINVAL);
    const char *want = "resource_spans[0].scope_spans[1].spans[2].trace_id: length 15, want 16 "
                       "(offset ";
    assert_memory_equal(err.msg, want, strlen(want));
    /* The offset points at the field: tag 0x0a, length 15. */
    size_t off = strtoul(err.msg + strlen(want), NULL, 10);
    assert_true(off + 2 < msg.n);
    assert_int_equal(msg.p[off], 0x0a);
    assert_int_equal(msg.p[off + 1], 15);
}

static void test_validate_allows_empty_ids_and_rejects_short_log_ids(void **state)
{
    (void)state;
    LogsData *ld = build_logs(1, 3, false);
    size_t n = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, pack_logs(ld), &n, NULL), 0);
    assert_int_equal(n, 3);
    LogRecord *lr = ld->resource_logs[0]->scope_logs[0]->log_records[1];
    lr->span_id.len = 4;
    lr->span_id.data = A(4);
    expect_invalid(KT_SIGNAL_LOGS, pack_logs(ld),
                   "resource_logs[0].scope_logs[0].log_records[1].span_id: length 4, want 8");
}

static void test_validate_rejects_bad_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc3\x28",             /* bad continuation */
        "ab\x80",               /* stray continuation */
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xed\xa0\x80",         /* UTF-16 surrogate */
        "\xf4\x90\x80\x80",     /* past U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "abcdefghijkl\xe2\x82", /* truncated after an ASCII run */
    };
    static const char *good[] = {
        "plain",        "caf\xc3\xa9",      "\xe2\x82\xac euro",           "\xf0\x9f\x98\x80 smile",
        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "0123456789abcdef0123\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
        TracesData *td = build_traces(&sh);
        td->resource_spans[0]->scope_spans[0]->spans[0]->name = (char *)bad[i];
        expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                       "resource_spans[0].scope_spans[0].spans[0].name: invalid UTF-8 at byte");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
        TracesData *td = build_traces(&sh);
        td->resource_spans[0]->scope_spans[0]->spans[0]->name = (char *)good[i];
        struct kt_err err = {0, ""};
        if (kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), NULL, &err) != 0)
            fail_msg("good string %zu rejected: %s", i, err.msg);
    }
    /* Attribute keys in a resource are strings too. */
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    td->resource_spans[0]->resource->attributes[1]->key = "\xff";
    expect_invalid(KT_SIGNAL_TRACES, pack_traces(td),
                   "resource_spans[0].resource.attributes[1].key: invalid UTF-8 at byte 0 of 1");
}

/* KT_OTLP_VALIDATE_STRUCTURE counts the same items without looking into them, and still
 * checks every level above them. */
static void test_validate_structure_counts_items_without_reading_them(void **state)
{
    (void)state;
    struct kt_err err = {0, ""};
    size_t n = 0;
    struct tshape sh = {3, 2, 7, 4, trace_mod3, -1, 0};
    TracesData *td = build_traces(&sh);
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, pack_traces(td),
                                            KT_OTLP_VALIDATE_STRUCTURE, &n, &err),
                     0);
    assert_int_equal(n, 3 * 2 * 7);
    n = 0;
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_METRICS, pack_metrics(build_metrics(3, 2)),
                                            KT_OTLP_VALIDATE_STRUCTURE, &n, &err),
                     0);
    assert_int_equal(n, 2 * 5 * 3);
    n = 0;
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_LOGS, pack_logs(build_logs(3, 5, true)),
                                            KT_OTLP_VALIDATE_STRUCTURE, &n, &err),
                     0);
    assert_int_equal(n, 15);

    /* A span's own fields are not read: its bad name passes, the full check finds it. */
    td->resource_spans[1]->scope_spans[0]->spans[2]->name = (char *)"ab\xff";
    struct kt_slice bad = pack_traces(td);
    n = 0;
    assert_int_equal(
        kt_otlp_validate_flags(KT_SIGNAL_TRACES, bad, KT_OTLP_VALIDATE_STRUCTURE, &n, &err), 0);
    assert_int_equal(n, 3 * 2 * 7);
    expect_invalid(KT_SIGNAL_TRACES, bad,
                   "resource_spans[1].scope_spans[0].spans[2].name: invalid UTF-8 at byte 2");

    /* Above the items everything is checked: a resource's attribute key ... */
    td = build_traces(&sh);
    td->resource_spans[0]->resource->attributes[1]->key = "\xff";
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, pack_traces(td),
                                            KT_OTLP_VALIDATE_STRUCTURE, NULL, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "resource_spans[0].resource.attributes[1].key: invalid UTF-8"));
    /* ... and a span longer than its scope. */
    struct kt_buf sp = KT_BUF_INIT;
    put_bytes(&sp, 5, "ab", 2);
    struct kt_buf msg = traces_around_span(sp);
    msg.p[msg.len - 5] = 40;
    for (int i = 0; i < 50; i++)
        put_varint(&msg, 9, 1);
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                                            KT_OTLP_VALIDATE_STRUCTURE, NULL, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "spans: length 40 past the end"));
    kt_buf_free(&msg);

    /* A run of spans is counted at once: one with a two-byte length among them, and an
     * empty one; a length past the end inside the run is still reported. */
    static const uint8_t run_head[] = {0x0a, 0x8d, 0x01, 0x12, 0x8a, 0x01,
                                       0x12, 0x01, 'a',  0x12, 0x82, 0x01};
    uint8_t run[sizeof(run_head) + 130 + 2];
    memcpy(run, run_head, sizeof(run_head));
    memset(run + sizeof(run_head), 'b', 130);
    run[sizeof(run) - 2] = 0x12;
    run[sizeof(run) - 1] = 0x00;
    n = 0;
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, (struct kt_slice){run, sizeof(run)},
                                            KT_OTLP_VALIDATE_STRUCTURE, &n, &err),
                     0);
    assert_int_equal(n, 3);
    run[sizeof(run) - 1] = 0x05;
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, (struct kt_slice){run, sizeof(run)},
                                            KT_OTLP_VALIDATE_STRUCTURE, NULL, &err),
                     KT_EINVAL);
    assert_non_null(
        strstr(err.msg, "resource_spans[0].scope_spans[0].spans: length 5 past the end"));
}

/* With KT_OTLP_VALIDATE_NO_NUL (tiers that write OTLP/JSON), a string holding NUL is
 * refused where it is, since decoded strings would end there; without, it is valid UTF-8. */
static void test_validate_no_nul_refuses_nul_in_strings(void **state)
{
    (void)state;
    /* resource_spans[0].scope_spans[0].spans[0].name = "a\0b" */
    static const uint8_t nul[] = {0x0a, 0x09, 0x12, 0x07, 0x12, 0x05, 0x2a, 0x03, 'a', 0x00, 'b'};
    struct kt_slice msg = {nul, sizeof(nul)};
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, msg, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(
        kt_otlp_validate_flags(KT_SIGNAL_TRACES, msg, KT_OTLP_VALIDATE_NO_NUL, &n, &err),
        KT_EINVAL);
    assert_non_null(strstr(err.msg, "resource_spans[0].scope_spans[0].spans[0].name: NUL byte at "
                                    "byte 1 of 3"));
    assert_non_null(strstr(err.msg, "(offset 9)"));
    /* In an attribute value too, which the fast path would otherwise pass. */
    struct kt_buf sp = valid_span_payload();
    static const uint8_t kv[] = {0x0a, 0x01, 'k', 0x12, 0x05, 0x0a, 0x03, 'x', 0x00, 'y'};
    put_bytes(&sp, 9, kv, sizeof(kv));
    struct kt_buf m2 = traces_around_span(sp);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&m2), &n, &err), 0);
    assert_int_equal(kt_otlp_validate_flags(KT_SIGNAL_TRACES, kt_buf_slice(&m2),
                                            KT_OTLP_VALIDATE_NO_NUL, &n, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "attributes[0].value.string_value: NUL byte"));
    kt_buf_free(&m2);
}

static AnyValue *nested_array(int depth)
{
    AnyValue *v = av_str("leaf");
    for (int i = 1; i < depth; i++) {
        AnyValue *outer = new_AnyValue();
        outer->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        outer->array_value = new_ArrayValue();
        outer->array_value->n_values = 1;
        outer->array_value->values = ARR(AnyValue, 1);
        outer->array_value->values[0] = v;
        v = outer;
    }
    return v;
}

static void test_validate_rejects_deep_anyvalue_nesting(void **state)
{
    (void)state;
    struct tshape sh = {1, 1, 1, 0, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    sp->attributes[2]->value = nested_array(32);
    size_t n = 0;
    struct kt_err err = {0, ""};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, &err), 0);
    sp->attributes[2]->value = nested_array(33);
    /* The path keeps its outer and inner ends and the reason. */
    expect_refused(KT_SIGNAL_TRACES, pack_traces(td), NULL, KT_ETOOBIG,
                   "resource_spans[0].scope_spans[0].spans[0].attributes[2].value.array_value."
                   "values[0].array_value.[...].array_value.values[0].array_value.values[0]: "
                   "AnyValue nested deeper than 32 levels (offset ");

    /* Deep nesting through kvlists too, far past the limit: no stack trouble. */
    AnyValue *v = av_str("leaf");
    for (int i = 0; i < 1000; i++) {
        AnyValue *outer = new_AnyValue();
        outer->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        outer->kvlist_value = new_KeyValueList();
        outer->kvlist_value->n_values = 1;
        outer->kvlist_value->values = ARR(KeyValue, 1);
        outer->kvlist_value->values[0] = kv_str("k", "v");
        outer->kvlist_value->values[0]->value = v;
        v = outer;
    }
    LogsData *ld = build_logs(1, 1, false);
    ld->resource_logs[0]->scope_logs[0]->log_records[0]->body = v;
    expect_refused(KT_SIGNAL_LOGS, pack_logs(ld), NULL, KT_ETOOBIG,
                   "log_records[0].body.kvlist_value.values[0]");
}

/* A span of n attributes, its name name_bytes long, with one event of n attributes. */
static TracesData *span_with(size_t n_attrs, size_t name_bytes)
{
    struct tshape sh = {1, 1, 1, (int)n_attrs - 3, trace_zero, -1, 0};
    TracesData *td = build_traces(&sh);
    Span *sp = td->resource_spans[0]->scope_spans[0]->spans[0];
    char *name = A(name_bytes + 1);
    memset(name, 'n', name_bytes);
    sp->name = name;
    Event *ev = new_Event();
    ev->name = "e";
    ev->n_attributes = n_attrs;
    ev->attributes = sp->attributes;
    sp->n_events = 1;
    sp->events = ARR(Event, 1);
    sp->events[0] = ev;
    return td;
}

static void test_validate_limits_attributes_per_list(void **state)
{
    (void)state;
    const struct kt_otlp_limits lim = {8, 0};
    size_t n = 0;
    /* At the bound: accepted, with or without the span's fast path (no_nul turns it off). */
    struct kt_slice at = pack_traces(span_with(8, 10));
    assert_int_equal(kt_otlp_validate_limits(KT_SIGNAL_TRACES, at, 0, &lim, &n, NULL), 0);
    assert_int_equal(
        kt_otlp_validate_limits(KT_SIGNAL_TRACES, at, KT_OTLP_VALIDATE_NO_NUL, &lim, &n, NULL), 0);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(span_with(9, 10)), &n, NULL),
                     0);
    expect_refused(KT_SIGNAL_TRACES, pack_traces(span_with(9, 10)), &lim, KT_ETOOBIG,
                   "resource_spans[0].scope_spans[0].spans[0].attributes: more than 8 key-value "
                   "pairs in one list ([receiver] max_attributes) (offset ");
    /* An event's list too, behind a span list within the bound. */
    TracesData *td = span_with(8, 10);
    Event *ev = td->resource_spans[0]->scope_spans[0]->spans[0]->events[0];
    KeyValue **more = ARR(KeyValue, 9);
    memcpy(more, ev->attributes, 8 * sizeof(*more));
    more[8] = kv_str("one", "more");
    ev->attributes = more;
    ev->n_attributes = 9;
    expect_refused(KT_SIGNAL_TRACES, pack_traces(td), &lim, KT_ETOOBIG,
                   "spans[0].events[0].attributes: more than 8 key-value pairs");
    /* Resource attributes and a kvlist in a log body. */
    LogsData *ld = build_logs(1, 1, false);
    AnyValue *body = new_AnyValue();
    body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    body->kvlist_value = new_KeyValueList();
    body->kvlist_value->n_values = 9;
    body->kvlist_value->values = more;
    ld->resource_logs[0]->scope_logs[0]->log_records[0]->body = body;
    expect_refused(KT_SIGNAL_LOGS, pack_logs(ld), &lim, KT_ETOOBIG,
                   "log_records[0].body.kvlist_value.values: more than 8 key-value pairs");
}

static void test_validate_limits_string_bytes(void **state)
{
    (void)state;
    const struct kt_otlp_limits lim = {0, 1024};
    size_t n = 0;
    assert_int_equal(kt_otlp_validate_limits(KT_SIGNAL_TRACES, pack_traces(span_with(3, 1024)), 0,
                                             &lim, &n, NULL),
                     0);
    /* The span's name, read by the fast path when within the bound. */
    expect_refused(KT_SIGNAL_TRACES, pack_traces(span_with(3, 1025)), &lim, KT_ETOOBIG,
                   "spans[0].name: 1025 bytes, more than 1024 ([receiver] max_string_bytes)");
    /* An attribute value, and a bytes value. */
    struct tshape big = {1, 1, 1, 0, trace_zero, 0, 1025};
    expect_refused(KT_SIGNAL_TRACES, pack_traces(build_traces(&big)), &lim, KT_ETOOBIG,
                   "spans[0].attributes[3].value.string_value: 1025 bytes, more than 1024");
    TracesData *td = span_with(3, 10);
    AnyValue *v = td->resource_spans[0]->scope_spans[0]->spans[0]->attributes[0]->value;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    v->bytes_value.len = 2000;
    v->bytes_value.data = A(2000);
    expect_refused(KT_SIGNAL_TRACES, pack_traces(td), &lim, KT_ETOOBIG,
                   "attributes[0].value.bytes_value: 2000 bytes, more than 1024");
    /* Without limits only the size of the request bounds them. */
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, pack_traces(td), &n, NULL), 0);
}

static void test_validate_rejects_group_wire_type(void **state)
{
    (void)state;
    struct kt_buf sp = valid_span_payload();
    assert_int_equal(kt_buf_append_varint(&sp, 17 << 3 | 3), 0);
    assert_int_equal(kt_buf_append_varint(&sp, 17 << 3 | 4), 0);
    struct kt_buf msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "resource_spans[0].scope_spans[0].spans[0]: field 17: wire type 3 (start "
                   "group): groups are not supported");
    kt_buf_free(&msg);

    uint8_t top[] = {0x0c};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){top, 1}, "resource_logs: wire type 4");
    uint8_t bad[] = {0x0f};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){bad, 1}, "invalid wire type 7");
    uint8_t zero[] = {0x02, 0x00};
    expect_invalid(KT_SIGNAL_LOGS, (struct kt_slice){zero, 2}, "invalid field number 0");
}

static void test_validate_rejects_repeated_anyvalue_without_value(void **state)
{
    (void)state;
    /* LogRecord { body {} body {} }: valid protobuf that protobuf-c, which consumers use,
     * refuses to decode; a repeated body that sets a value is fine. */
    uint8_t empty_twice[] = {0x2a, 0x00, 0x2a, 0x00};
    uint8_t then_set[] = {0x2a, 0x00, 0x2a, 0x03, 0x0a, 0x01, 'a'};
    struct kt_buf rec = KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&rec, empty_twice, sizeof(empty_twice)), 0);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, rec)));
    assert_null(opentelemetry__proto__logs__v1__logs_data__unpack(NULL, msg.len, msg.p));
    expect_invalid(KT_SIGNAL_LOGS, kt_buf_slice(&msg),
                   "resource_logs[0].scope_logs[0].log_records[0].body: given again without a "
                   "value");
    kt_buf_free(&msg);

    rec = (struct kt_buf)KT_BUF_INIT;
    assert_int_equal(kt_buf_append(&rec, then_set, sizeof(then_set)), 0);
    msg = wrap(1, wrap(2, wrap(2, rec)));
    LogsData *ld = opentelemetry__proto__logs__v1__logs_data__unpack(NULL, msg.len, msg.p);
    assert_non_null(ld);
    opentelemetry__proto__logs__v1__logs_data__free_unpacked(ld, NULL);
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_LOGS, kt_buf_slice(&msg), NULL, NULL), 0);
    kt_buf_free(&msg);

    /* The same for an attribute's value. */
    uint8_t kv[] = {0x0a, 0x01, 'k', 0x12, 0x00, 0x12, 0x00};
    struct kt_buf sp = valid_span_payload();
    put_bytes(&sp, 9, kv, sizeof(kv));
    msg = traces_around_span(sp);
    expect_invalid(KT_SIGNAL_TRACES, kt_buf_slice(&msg),
                   "spans[0].attributes[0].value: given again without a value");
    kt_buf_free(&msg);
}

static void test_validate_rejects_misaligned_packed_doubles(void **state)
{
    (void)state;
    struct kt_buf dp = KT_BUF_INIT;
    put_bytes(&dp, 7, "0123456789ab", 12);
    struct kt_buf msg = wrap(1, wrap(2, wrap(2, wrap(9, wrap(1, dp)))));
    expect_invalid(KT_SIGNAL_METRICS, kt_buf_slice(&msg),
                   "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0]."
                   "explicit_bounds: packed length 12 is not a multiple of 8");
    kt_buf_free(&msg);
}

static void test_validate_error_names_the_metric_path(void **state)
{
    (void)state;
    MetricsData *md = build_metrics(2, 1);
    md->resource_metrics[0]
        ->scope_metrics[0]
        ->metrics[4]
        ->summary->data_points[1]
        ->attributes[0]
        ->key = "\xc3";
    expect_invalid(KT_SIGNAL_METRICS, pack_metrics(md),
                   "resource_metrics[0].scope_metrics[0].metrics[4].summary.data_points[1]."
                   "attributes[0].key: invalid UTF-8");
}

/* ---- what validation finds besides validity (KT_OTLP_FOUND_*) ---- */

static unsigned found_of(struct kt_slice msg, unsigned flags)
{
    unsigned found = 99;
    assert_int_equal(
        kt_otlp_validate_cached(KT_SIGNAL_TRACES, msg, flags, NULL, NULL, NULL, &found, NULL), 0);
    return found;
}

/* A span whose attributes are the KeyValue payloads given, in turn. */
static struct kt_buf span_with_kvs(const struct kt_buf *kvs, size_t n)
{
    struct kt_buf sp = valid_span_payload();
    for (size_t i = 0; i < n; i++)
        put_bytes(&sp, 9, kvs[i].p, kvs[i].len);
    return traces_around_span(sp);
}

/* KT_OTLP_FOUND_SPAN_KV_SHORT says every KeyValue of every span is key then at most one short
 * value; a KeyValue of another shape, in a span's attributes, events or links, or a walk that
 * does not look at them (structure only, NO_NUL) leaves it out; a resource's does not. */
static void test_validate_finds_short_span_key_values(void **state)
{
    (void)state;
    TracesData *td;
    Span *sp = full_span(&td); /* string and int attributes, events with two each */
    assert_int_equal(found_of(pack_traces(td), 0), KT_OTLP_FOUND_SPAN_KV_SHORT);
    assert_int_equal(found_of(pack_traces(td), KT_OTLP_VALIDATE_STRUCTURE), 0);
    assert_int_equal(found_of(pack_traces(td), KT_OTLP_VALIDATE_NO_NUL), 0);
    /* A value of another kind in an event, then in a link. */
    AnyValue *arr = new_AnyValue();
    arr->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    arr->array_value = new_ArrayValue();
    KeyValue *kv = sp->events[1]->attributes[1];
    AnyValue *was = kv->value;
    kv->value = arr;
    assert_int_equal(found_of(pack_traces(td), 0), 0);
    kv->value = was;
    assert_int_equal(found_of(pack_traces(td), 0), KT_OTLP_FOUND_SPAN_KV_SHORT);
    sp->n_links = 1;
    sp->links = ARR(Link, 1);
    sp->links[0] = new_Link();
    sp->links[0]->n_attributes = 1;
    sp->links[0]->attributes = ARR(KeyValue, 1);
    sp->links[0]->attributes[0] = kv_str("peer", "a");
    assert_int_equal(found_of(pack_traces(td), 0), KT_OTLP_FOUND_SPAN_KV_SHORT);
    sp->links[0]->attributes[0]->value = arr;
    assert_int_equal(found_of(pack_traces(td), 0), 0);
    sp->n_links = 0;
    /* In the resource: not a span's. */
    td->resource_spans[0]->resource = new_Resource();
    td->resource_spans[0]->resource->n_attributes = 1;
    td->resource_spans[0]->resource->attributes = ARR(KeyValue, 1);
    td->resource_spans[0]->resource->attributes[0] = kv_str("process.command_args", "");
    td->resource_spans[0]->resource->attributes[0]->value = arr;
    assert_int_equal(found_of(pack_traces(td), 0), KT_OTLP_FOUND_SPAN_KV_SHORT);

    /* Span attributes of other shapes, each valid: key given twice, value before key, no
     * key, a key of 128 bytes. */
    char long_key[129];
    memset(long_key, 'k', 128);
    long_key[128] = '\0';
    struct kt_buf kvs[2] = {KT_BUF_INIT, KT_BUF_INIT};
    put_bytes(&kvs[0], 1, "a", 1);
    put_bytes(&kvs[0], 2, "\x0a\x01x", 3);
    for (int shape = 0; shape < 5; shape++) {
        kt_buf_reset(&kvs[1]);
        switch (shape) {
        case 0: put_bytes(&kvs[1], 1, "b", 1), put_bytes(&kvs[1], 2, "\x0a\x01y", 3); break;
        case 1:
            put_bytes(&kvs[1], 1, "b", 1), put_bytes(&kvs[1], 2, "\x0a\x01y", 3);
            put_bytes(&kvs[1], 1, "c", 1);
            break;
        case 2: put_bytes(&kvs[1], 2, "\x0a\x01y", 3), put_bytes(&kvs[1], 1, "b", 1); break;
        case 3: put_bytes(&kvs[1], 2, "\x0a\x01y", 3); break;
        case 4: put_bytes(&kvs[1], 1, long_key, 128); break;
        }
        struct kt_buf msg = span_with_kvs(kvs, 2);
        assert_int_equal(found_of(kt_buf_slice(&msg), 0),
                         shape == 0 ? KT_OTLP_FOUND_SPAN_KV_SHORT : 0);
        kt_buf_free(&msg);
    }
    kt_buf_free(&kvs[0]);
    kt_buf_free(&kvs[1]);
}

/* ---- fuzzing seeds ---- */
static void write_seed(const char *dir, const char *name, struct kt_slice s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s.p, 1, s.n, f), s.n);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    struct tshape sh = {2, 2, 3, 2, trace_mixed_empty, -1, 0};
    write_seed(dir, "traces_small.pb", pack_traces(build_traces(&sh)));
    struct tshape one = {1, 1, 1, 1, trace_zero, -1, 0};
    TracesData *td = build_traces(&one);
    td->resource_spans[0]->scope_spans[0]->spans[0]->attributes[2]->value = nested_array(4);
    write_seed(dir, "traces_nested.pb", pack_traces(td));
    td->resource_spans[0]->scope_spans[0]->spans[0]->attributes[2]->value = nested_array(33);
    write_seed(dir, "traces_nested_33.pb", pack_traces(td));
    write_seed(dir, "traces_limits.pb", pack_traces(span_with(9, 200)));
    TracesData *full;
    full_span(&full);
    write_seed(dir, "traces_full_span.pb", pack_traces(full));
    write_seed(dir, "metrics_all_kinds.pb", pack_metrics(build_metrics(2, 2)));
    write_seed(dir, "logs_small.pb", pack_logs(build_logs(2, 3, true)));
    struct kt_buf sp = valid_span_payload();
    put_varint(&sp, 100, 5);
    put_bytes(&sp, 102, "x", 1);
    struct kt_buf msg = traces_around_span(sp);
    write_seed(dir, "traces_unknown_fields.pb", kt_buf_slice(&msg));
    kt_buf_free(&msg);
    teardown(NULL);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

/* ---- the cache of valid resources and scopes (kt_otlp_validate_cached) ---- */

/* A string attribute's KeyValue bytes. */
static void put_str_kv(struct kt_buf *b, uint32_t num, const char *k, const void *v, size_t vn)
{
    struct kt_buf kv = KT_BUF_INIT, any = KT_BUF_INIT;
    put_bytes(&any, 1, v, vn);
    put_bytes(&kv, 1, k, strlen(k));
    put_bytes(&kv, 2, any.p, any.len);
    put_bytes(b, num, kv.p, kv.len);
    kt_buf_free(&kv);
    kt_buf_free(&any);
}

/* TracesData { resource_spans { resource { attributes: k = v, n times }, scope_spans {
 * scope { name }, spans { a valid span } } } } */
static struct kt_buf traces_with_resource(const char *k, const void *v, size_t vn, int n)
{
    struct kt_buf res = KT_BUF_INIT, ss = KT_BUF_INIT, rs = KT_BUF_INIT, scope = KT_BUF_INIT;
    for (int i = 0; i < n; i++)
        put_str_kv(&res, 1, k, v, vn);
    put_bytes(&scope, 1, "lib", 3);
    put_bytes(&ss, 1, scope.p, scope.len);
    struct kt_buf sp = valid_span_payload();
    put_bytes(&ss, 2, sp.p, sp.len);
    put_bytes(&rs, 1, res.p, res.len);
    put_bytes(&rs, 2, ss.p, ss.len);
    kt_buf_free(&res);
    kt_buf_free(&ss);
    kt_buf_free(&scope);
    kt_buf_free(&sp);
    return wrap(1, rs);
}

static int cached_types(const struct kt_otlp_vcache *vc, enum kt_otlp_msg mt)
{
    int n = 0;
    for (int i = 0; i < KT_OTLP_VCACHE_SLOTS; i++)
        n += vc->type[i] == mt;
    return n;
}

/* Same answer, count and error as without the cache. */
static int validate_both(struct kt_otlp_vcache *vc, struct kt_buf *m, unsigned flags,
                         const struct kt_otlp_limits *lim, struct kt_err *err)
{
    struct kt_err plain = {0, ""};
    size_t n = 99, n_plain = 99;
    int rc_plain =
        kt_otlp_validate_limits(KT_SIGNAL_TRACES, kt_buf_slice(m), flags, lim, &n_plain, &plain);
    int rc =
        kt_otlp_validate_cached(KT_SIGNAL_TRACES, kt_buf_slice(m), flags, lim, vc, &n, NULL, err);
    assert_int_equal(rc, rc_plain);
    if (rc == 0)
        assert_int_equal(n, n_plain);
    else
        assert_string_equal(err->msg, plain.msg);
    kt_buf_free(m);
    return rc;
}

static void test_validate_cache_takes_only_the_same_bytes(void **state)
{
    (void)state;
    struct kt_otlp_vcache vc = {0};
    struct kt_err err = {0, ""};
    struct kt_buf m = traces_with_resource("service.name", "checkout", 8, 1);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), 1);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_SCOPE), 1);
    /* Found again: no new entry. */
    m = traces_with_resource("service.name", "checkout", 8, 1);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), 1);
    /* One byte other (invalid UTF-8, same length): walked, and refused as without the cache. */
    m = traces_with_resource("service.name", "checkou\xff", 8, 1);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "resource.attributes[0].value.string_value: invalid UTF-8"));
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), 1);
    /* Full slots: the oldest entry makes room (the first resource's, then the scope's, which
     * its message then puts back in the next). */
    for (int i = 0; i < KT_OTLP_VCACHE_SLOTS; i++) {
        char v[16];
        snprintf(v, sizeof(v), "svc-%d", i);
        m = traces_with_resource("service.name", v, strlen(v), 1);
        assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    }
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), KT_OTLP_VCACHE_SLOTS - 1);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_SCOPE), 1);
    m = traces_with_resource("service.name", "checkout", 8, 1);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_SCOPE), 1);
    /* Too long to keep: walked each time, never kept. */
    struct kt_otlp_vcache empty = {0};
    static char big[KT_OTLP_VCACHE_BYTES];
    memset(big, 'a', sizeof(big));
    m = traces_with_resource("k", big, sizeof(big), 1);
    assert_int_equal(validate_both(&empty, &m, 0, NULL, &err), 0);
    assert_int_equal(cached_types(&empty, KT_OTLP_M_RESOURCE), 0);
    assert_int_equal(cached_types(&empty, KT_OTLP_M_SCOPE), 1);
}

/* What was valid under other rules is checked again: NUL bytes, limits. */
static void test_validate_cache_forgets_when_the_rules_change(void **state)
{
    (void)state;
    struct kt_otlp_vcache vc = {0};
    struct kt_err err = {0, ""};
    struct kt_buf m = traces_with_resource("k", "a\0b", 3, 3);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), 1);
    /* STRUCTURE checks resources alike: the entry stays. */
    m = traces_with_resource("k", "a\0b", 3, 3);
    assert_int_equal(validate_both(&vc, &m, KT_OTLP_VALIDATE_STRUCTURE, NULL, &err), 0);
    assert_int_equal(cached_types(&vc, KT_OTLP_M_RESOURCE), 1);
    m = traces_with_resource("k", "a\0b", 3, 3);
    assert_int_equal(validate_both(&vc, &m, KT_OTLP_VALIDATE_NO_NUL, NULL, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "resource.attributes[0].value.string_value: NUL byte"));
    m = traces_with_resource("k", "ab", 2, 3);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    const struct kt_otlp_limits two = {2, 0};
    m = traces_with_resource("k", "ab", 2, 3);
    assert_int_equal(validate_both(&vc, &m, 0, &two, &err), KT_ETOOBIG);
    assert_non_null(strstr(err.msg, "resource.attributes: more than 2 key-value pairs"));
    const struct kt_otlp_limits short_str = {0, 1};
    m = traces_with_resource("k", "ab", 2, 1);
    assert_int_equal(validate_both(&vc, &m, 0, NULL, &err), 0);
    m = traces_with_resource("k", "ab", 2, 1);
    assert_int_equal(validate_both(&vc, &m, 0, &short_str, &err), KT_ETOOBIG);
}

int main(void)
{
    const char *seed_dir = getenv("KT_OTLP_WIRE_SEED_DIR");
    if (seed_dir != NULL) {
        write_seeds(seed_dir);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        T(test_validate_counts_spans_in_valid_traces),
        T(test_validate_accepts_links_events_and_status),
        T(test_validate_counts_all_five_metric_kinds),
        T(test_validate_counts_log_records),
        T(test_validate_accepts_empty_message),
        T(test_validate_accepts_packed_and_unpacked_repeated_scalars),
        T(test_validate_skips_unknown_fields),
        T(test_validate_rejects_truncated_varint),
        T(test_validate_rejects_overlong_varint),
        T(test_validate_rejects_length_past_end),
        T(test_validate_rejects_wrong_wire_type_for_known_field),
        T(test_validate_rejects_15_byte_trace_id),
        T(test_validate_reports_errors_in_every_span_field),
        T(test_validate_span_fields_in_any_order),
        T(test_validate_allows_empty_ids_and_rejects_short_log_ids),
        T(test_validate_rejects_bad_utf8),
        T(test_validate_spans_in_a_run_resume_and_name_the_span),
        T(test_validate_structure_counts_items_without_reading_them),
        T(test_validate_attribute_shortcut_checks_keys_and_values),
        T(test_validate_no_nul_refuses_nul_in_strings),
        T(test_validate_rejects_deep_anyvalue_nesting),
        T(test_validate_limits_attributes_per_list),
        T(test_validate_limits_string_bytes),
        T(test_validate_rejects_group_wire_type),
        T(test_validate_rejects_repeated_anyvalue_without_value),
        T(test_validate_rejects_misaligned_packed_doubles),
        T(test_validate_error_names_the_metric_path),
        T(test_validate_finds_short_span_key_values),
        T(test_validate_cache_takes_only_the_same_bytes),
        T(test_validate_cache_forgets_when_the_rules_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
