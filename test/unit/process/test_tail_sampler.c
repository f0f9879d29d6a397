/* tail_sampler: decision_wait timing with explicit clocks, offers of one trace merged by
 * concatenation, late spans following cached decisions both ways, num_traces overflow,
 * forget() on partition revocation, memory accounting, and that every offer gets exactly one
 * callback. Every exported buffer is decoded again and its spans counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/conf.h"
#include "../../../process/tail_sampler.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "policy_conf.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;

#define MAX_SPANS 32
#define MAX_TOKENS 4096

/* ---- inputs ---- */

/* The parent span ID of the spans make_offer makes; NULL: they are root spans. */
static const uint8_t *offer_parent;

/* Encodes one offer: n spans of trace `trace` (the ID is 16 times that byte, or `id` when
 * given), each with status `code` (-1: none) and name padding of `pad` bytes. */
static void make_offer(const uint8_t id[16], size_t n, int code, size_t pad, TracesData **out_td,
                       struct kt_buf *enc)
{
    assert_true(n <= MAX_SPANS);
    struct holder {
        TracesData td;
        ResourceSpans rs, *rsp;
        ScopeSpans ss, *ssp;
        Span spans[MAX_SPANS], *sp[MAX_SPANS];
        Status st;
        uint8_t tid[16];
        uint8_t sid[MAX_SPANS][8];
        char name[256];
    } *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    h->td = td;
    h->rs = rs;
    h->ss = ss;
    h->st = st;
    h->st.code = code < 0 ? 0 : code;
    memcpy(h->tid, id, 16);
    assert_true(pad < sizeof(h->name));
    memset(h->name, 'n', pad);
    for (size_t i = 0; i < n; i++) {
        Span s = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
        h->spans[i] = s;
        h->spans[i].trace_id.data = h->tid;
        h->spans[i].trace_id.len = 16;
        h->sid[i][0] = (uint8_t)(i + 1);
        h->spans[i].span_id.data = h->sid[i];
        h->spans[i].span_id.len = 8;
        h->spans[i].name = h->name;
        if (offer_parent != NULL) {
            h->spans[i].parent_span_id.data = (uint8_t *)offer_parent;
            h->spans[i].parent_span_id.len = 8;
        }
        h->spans[i].start_time_unix_nano = 1000000000;
        h->spans[i].end_time_unix_nano = 1000000000 + i;
        if (code >= 0)
            h->spans[i].status = &h->st;
        h->sp[i] = &h->spans[i];
    }
    h->ss.n_spans = n;
    h->ss.spans = h->sp;
    h->ssp = &h->ss;
    h->rs.n_scope_spans = 1;
    h->rs.scope_spans = &h->ssp;
    h->rsp = &h->rs;
    h->td.n_resource_spans = 1;
    h->td.resource_spans = &h->rsp;
    kt_buf_reset(enc);
    size_t len = opentelemetry__proto__trace__v1__traces_data__get_packed_size(&h->td);
    assert_int_equal(kt_buf_reserve(enc, len), 0);
    enc->len = opentelemetry__proto__trace__v1__traces_data__pack(&h->td, enc->p);
    assert_int_equal(enc->len, len);
    *out_td = &h->td; /* first member: freeing it frees the holder */
}

/* ---- callbacks ---- */

struct rec {
    int tok[MAX_TOKENS]; /* tokens are &tok[i] */
    unsigned calls[MAX_TOKENS];
    unsigned exported[MAX_TOKENS];
    unsigned released[MAX_TOKENS];
    size_t n_exports, n_releases;
    size_t spans_exported;
    size_t last_n_spans, last_n_tokens;
    struct kt_buf last;
};

static size_t tok_index(const struct rec *r, const void *token)
{
    ptrdiff_t i = (const int *)token - r->tok;
    assert_true(i >= 0 && i < MAX_TOKENS);
    return (size_t)i;
}

static void on_export(void *ctx, struct kt_slice encoded, size_t n_spans, void *const *tokens,
                      size_t n_tokens)
{
    struct rec *r = ctx;
    /* The buffer must be one valid TracesData holding exactly n_spans spans. */
    TracesData *td =
        opentelemetry__proto__trace__v1__traces_data__unpack(NULL, encoded.n, encoded.p);
    assert_non_null(td);
    size_t n = 0;
    for (size_t i = 0; i < td->n_resource_spans; i++)
        for (size_t j = 0; j < td->resource_spans[i]->n_scope_spans; j++)
            n += td->resource_spans[i]->scope_spans[j]->n_spans;
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    assert_int_equal(n, n_spans);
    r->n_exports++;
    r->spans_exported += n_spans;
    r->last_n_spans = n_spans;
    r->last_n_tokens = n_tokens;
    kt_buf_reset(&r->last);
    assert_int_equal(kt_buf_append(&r->last, encoded.p, encoded.n), 0);
    for (size_t i = 0; i < n_tokens; i++) {
        size_t k = tok_index(r, tokens[i]);
        r->calls[k]++;
        r->exported[k]++;
    }
}

static void on_release(void *ctx, void *token)
{
    struct rec *r = ctx;
    size_t k = tok_index(r, token);
    r->calls[k]++;
    r->released[k]++;
    r->n_releases++;
}

/* ---- fixture ---- */

struct fx {
    struct process_conf conf;
    struct tail_sampler *s;
    struct rec *r;
    struct kt_buf enc;
    size_t encoded_total; /* bytes offered */
};

static void default_conf(struct process_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->tail_sampling.enabled = PROCESS_AUTO;
    c->tail_sampling.decision_wait_ms = 1000;
    c->tail_sampling.num_traces = 100;
    c->tail_sampling.sampled_cache_size = 100;
    c->tail_sampling.non_sampled_cache_size = 100;
}

/* Errors are sampled; everything else is not. */
static struct fx *fx_new_conf(struct process_conf *c)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->r = calloc(1, sizeof(*f->r));
    assert_non_null(f->r);
    f->conf = *c;
    if (f->conf.tail_sampling.n_policies == 0)
        add_policy(&f->conf, "errors", "type", "status_code", "status_codes", "ERROR", END);
    struct kt_err err = {0};
    if (tail_sampler_new(&f->conf, on_export, on_release, f->r, &f->s, &err) != 0)
        fail_msg("tail_sampler_new: %s", err.msg);
    return f;
}

static struct fx *fx_new(uint64_t wait_ms, uint64_t num_traces, uint64_t cache)
{
    struct process_conf c;
    default_conf(&c);
    c.tail_sampling.decision_wait_ms = wait_ms;
    c.tail_sampling.num_traces = num_traces;
    c.tail_sampling.sampled_cache_size = cache;
    c.tail_sampling.non_sampled_cache_size = cache;
    return fx_new_conf(&c);
}

static void fx_free(struct fx *f)
{
    tail_sampler_free(f->s);
    process_conf_free(&f->conf);
    kt_buf_free(&f->r->last);
    kt_buf_free(&f->enc);
    free(f->r);
    free(f);
}

static void id_of(uint32_t trace, uint8_t id[16])
{
    memset(id, 0xab, 16);
    memcpy(id, &trace, sizeof(trace));
}

/* Offers n spans of trace `trace` with status code (2 = ERROR: sampled) under token `tok`. */
static void offer_pad(struct fx *f, uint32_t trace, size_t n, int code, size_t tok, uint64_t now,
                      size_t pad)
{
    uint8_t id[16];
    id_of(trace, id);
    TracesData *td;
    make_offer(id, n, code, pad, &td, &f->enc);
    f->encoded_total += f->enc.len;
    assert_int_equal(
        tail_sampler_offer(f->s, id, td, kt_buf_slice(&f->enc), n, &f->r->tok[tok], now), 0);
    /* Nothing of the offer may be kept: scribble over it before freeing. */
    memset(f->enc.p, 0xee, f->enc.len);
    free(td);
}

static void offer(struct fx *f, uint32_t trace, size_t n, int code, size_t tok, uint64_t now)
{
    offer_pad(f, trace, n, code, tok, now, 8);
}

static struct tail_sampler_stats stats(const struct fx *f)
{
    struct tail_sampler_stats st;
    tail_sampler_get_stats(f->s, &st);
    return st;
}

/* ---- tests ---- */

static void test_enabled(void **state)
{
    (void)state;
    struct process_conf c;
    default_conf(&c);
    assert_false(tail_sampler_enabled(&c));
    c.tail_sampling.enabled = PROCESS_ON;
    assert_true(tail_sampler_enabled(&c));
    c.tail_sampling.enabled = PROCESS_AUTO;
    add_policy(&c, "all", "type", "always_sample", END);
    assert_true(tail_sampler_enabled(&c));
    c.tail_sampling.enabled = PROCESS_OFF;
    assert_false(tail_sampler_enabled(&c));
    process_conf_free(&c);
}

static void test_new_errors(void **state)
{
    (void)state;
    struct process_conf c;
    struct tail_sampler *s = (struct tail_sampler *)&c;
    struct kt_err err = {0};

    default_conf(&c);
    c.tail_sampling.enabled = PROCESS_ON;
    assert_int_equal(tail_sampler_new(&c, on_export, on_release, NULL, &s, &err), KT_EINVAL);
    assert_null(s);
    assert_string_equal(err.msg, "[tail_sampling] enabled: true, but no "
                                 "[tail_sampling.policy.NAME] section is configured");

    default_conf(&c);
    add_policy(&c, "errors", "type", "status_code", "status_codes", "EROR", END);
    assert_int_equal(tail_sampler_new(&c, on_export, on_release, NULL, &s, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[tail_sampling.policy.errors] status_codes: 'EROR' is not a "
                                 "status code (want OK, ERROR, UNSET)");
    process_conf_free(&c);

    default_conf(&c);
    add_policy(&c, "slow", "type", "latency", "threshold_ms", "10", "thresold", "5", END);
    assert_int_equal(tail_sampler_new(&c, on_export, on_release, NULL, &s, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[tail_sampling.policy.slow] thresold: unknown key for type "
                                 "latency (valid keys: type, threshold_ms, upper_threshold_ms)");
    process_conf_free(&c);

    default_conf(&c);
    c.tail_sampling.num_traces = 0;
    add_policy(&c, "all", "type", "always_sample", END);
    assert_int_equal(tail_sampler_new(&c, on_export, on_release, NULL, &s, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[tail_sampling] num_traces: want 1 to 4294967294, got 0");
    process_conf_free(&c);
}

static void test_decision_wait(void **state)
{
    (void)state;
    struct fx *f = fx_new(500, 100, 100);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), UINT64_MAX);
    offer(f, 1, 2, 2, 0, 1000);
    offer(f, 2, 1, 1, 1, 1200);
    offer(f, 1, 1, 1, 2, 1300); /* a later offer does not move trace 1's deadline */
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 1500);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.traces_held, 2);
    assert_int_equal(st.spans_held, 4);

    tail_sampler_tick(f->s, 1499);
    assert_int_equal(f->r->n_exports + f->r->n_releases, 0);

    tail_sampler_tick(f->s, 1500);
    assert_int_equal(f->r->n_exports, 1);
    assert_int_equal(f->r->last_n_spans, 3);
    assert_int_equal(f->r->last_n_tokens, 2);
    assert_int_equal(f->r->exported[0], 1);
    assert_int_equal(f->r->exported[2], 1);
    assert_int_equal(f->r->n_releases, 0);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 1700);

    tail_sampler_tick(f->s, 1699);
    assert_int_equal(f->r->n_releases, 0);
    tail_sampler_tick(f->s, 5000);
    assert_int_equal(f->r->n_releases, 1);
    assert_int_equal(f->r->released[1], 1);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), UINT64_MAX);

    st = stats(f);
    assert_int_equal(st.sampled, 1);
    assert_int_equal(st.not_sampled, 1);
    assert_int_equal(st.traces_held, 0);
    assert_int_equal(st.spans_held, 0);
    assert_int_equal(st.bytes_held, 0);
    assert_int_equal(st.decided_early, 0);
    fx_free(f);
}

/* The exported bytes are the offers' encoded bytes concatenated, in arrival order. */
static void test_offers_concatenate(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 100);
    struct kt_buf want = KT_BUF_INIT;
    uint8_t id[16];
    id_of(7, id);
    for (size_t i = 0; i < 5; i++) {
        TracesData *td;
        make_offer(id, i + 1, i == 3 ? 2 : 1, 10 * i, &td, &f->enc);
        assert_int_equal(kt_buf_append(&want, f->enc.p, f->enc.len), 0);
        assert_int_equal(
            tail_sampler_offer(f->s, id, td, kt_buf_slice(&f->enc), i + 1, &f->r->tok[i], 10 + i),
            0);
        free(td);
    }
    tail_sampler_tick(f->s, 110);
    assert_int_equal(f->r->n_exports, 1);
    assert_int_equal(f->r->last_n_spans, 15);
    assert_int_equal(f->r->last_n_tokens, 5);
    assert_int_equal(f->r->last.len, want.len);
    assert_memory_equal(f->r->last.p, want.p, want.len);
    kt_buf_free(&want);
    fx_free(f);
}

static void test_late_spans_sampled(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 100);
    offer(f, 1, 1, 2, 0, 0);
    tail_sampler_tick(f->s, 100);
    assert_int_equal(f->r->n_exports, 1);
    /* A late span (no error of its own) follows its trace at once. */
    offer(f, 1, 3, 1, 1, 5000);
    assert_int_equal(f->r->n_exports, 2);
    assert_int_equal(f->r->exported[1], 1);
    assert_int_equal(f->r->last_n_spans, 3);
    assert_int_equal(f->r->last_n_tokens, 1);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.late_sampled, 3);
    assert_int_equal(st.late_dropped, 0);
    assert_int_equal(st.traces_held, 0);
    assert_int_equal(st.sampled, 1);
    fx_free(f);
}

/* maximum_trace_size_bytes: the offer that takes a trace over the bound decides it not
 * sampled at once, whatever the policies say (an error trace here), and its later spans are
 * dropped; a trace at the bound is held as usual. */
static void test_maximum_trace_size(void **state)
{
    (void)state;
    struct process_conf c;
    default_conf(&c);
    struct fx *probe = fx_new_conf(&c);
    offer(probe, 1, 2, 2, 0, 0); /* the size of one offer of 2 spans */
    size_t one = probe->encoded_total;
    fx_free(probe);

    default_conf(&c);
    c.tail_sampling.maximum_trace_size_bytes = 2 * one;
    struct fx *f = fx_new_conf(&c);
    offer(f, 1, 2, 2, 0, 0);
    offer(f, 1, 2, 2, 1, 10);
    assert_int_equal(f->r->n_releases, 0);
    assert_int_equal(stats(f).traces_held, 1);
    offer(f, 1, 2, 2, 2, 20); /* over: all three offers released */
    assert_int_equal(f->r->n_releases, 3);
    assert_int_equal(f->r->n_exports, 0);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.too_large, 1);
    assert_int_equal(st.not_sampled, 0);
    assert_int_equal(st.traces_held, 0);
    assert_int_equal(st.bytes_held, 0);
    offer(f, 1, 1, 2, 3, 30); /* late: follows the decision */
    assert_int_equal(f->r->released[3], 1);
    assert_int_equal(stats(f).late_dropped, 1);
    /* Another error trace within the bound is sampled by the policy. */
    offer(f, 2, 2, 2, 4, 40);
    tail_sampler_tick(f->s, 2000);
    assert_int_equal(f->r->exported[4], 1);
    fx_free(f);
}

/* decision_wait_after_root_received: the offer with the root span brings the decision
 * forward to that long after it, never back; other traces keep decision_wait. */
static void test_decision_wait_after_root(void **state)
{
    (void)state;
    static const uint8_t parent[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct process_conf c;
    default_conf(&c);
    c.tail_sampling.decision_wait_ms = 1000;
    c.tail_sampling.decision_wait_after_root_received_ms = 100;
    struct fx *f = fx_new_conf(&c);
    offer_parent = parent;
    offer(f, 1, 1, 2, 0, 0);  /* trace 1: no root yet */
    offer(f, 2, 1, 2, 1, 5);  /* trace 2: never a root */
    offer(f, 3, 1, 2, 2, 10); /* trace 3: its root at 960 would not bring it forward */
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 1000);
    offer_parent = NULL;
    offer(f, 1, 1, 2, 3, 50); /* trace 1's root: due at 150 */
    offer(f, 3, 1, 2, 4, 960);
    offer_parent = parent;
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 150);
    tail_sampler_tick(f->s, 149);
    assert_int_equal(f->r->n_exports, 0);
    tail_sampler_tick(f->s, 150);
    assert_int_equal(f->r->n_exports, 1);
    assert_int_equal(f->r->exported[0] + f->r->exported[3], 2);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 1005);
    tail_sampler_tick(f->s, 1005);
    assert_int_equal(f->r->exported[1], 1);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 1010);
    tail_sampler_tick(f->s, 1010);
    assert_int_equal(f->r->exported[2] + f->r->exported[4], 2);
    assert_int_equal(stats(f).traces_held, 0);
    offer_parent = NULL;
    fx_free(f);
}

static void test_late_spans_dropped(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 100);
    offer(f, 1, 1, 1, 0, 0);
    tail_sampler_tick(f->s, 100);
    assert_int_equal(f->r->released[0], 1);
    /* A late error span does not resurrect a trace already dropped. */
    offer(f, 1, 2, 2, 1, 5000);
    assert_int_equal(f->r->released[1], 1);
    assert_int_equal(f->r->n_exports, 0);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.late_dropped, 2);
    assert_int_equal(st.late_sampled, 0);
    assert_int_equal(st.traces_held, 0);
    fx_free(f);
}

/* The decision caches are LRU: a touched entry survives, the least recent one is evicted
 * and a late span of its trace starts a new trace. */
static void test_decision_cache_lru(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 2);
    offer(f, 1, 1, 2, 0, 0);
    offer(f, 2, 1, 2, 1, 0);
    tail_sampler_tick(f->s, 100);
    assert_int_equal(f->r->n_exports, 2);
    offer(f, 1, 1, 1, 2, 200); /* touches trace 1 */
    assert_int_equal(f->r->n_exports, 3);
    offer(f, 3, 1, 2, 3, 200);
    tail_sampler_tick(f->s, 300); /* trace 3 sampled: evicts trace 2 */
    assert_int_equal(f->r->n_exports, 4);
    offer(f, 1, 1, 1, 4, 400);
    assert_int_equal(f->r->exported[4], 1);
    offer(f, 2, 1, 1, 5, 400); /* forgotten: held as a new trace, then not sampled */
    assert_int_equal(f->r->calls[5], 0);
    assert_int_equal(stats(f).traces_held, 1);
    tail_sampler_tick(f->s, 500);
    assert_int_equal(f->r->released[5], 1);

    /* A cache size of 0 remembers nothing. */
    fx_free(f);
    f = fx_new(100, 100, 0);
    offer(f, 1, 1, 2, 0, 0);
    tail_sampler_tick(f->s, 100);
    offer(f, 1, 1, 1, 1, 200);
    assert_int_equal(f->r->calls[1], 0);
    tail_sampler_tick(f->s, 300);
    assert_int_equal(f->r->released[1], 1);
    fx_free(f);
}

static void test_num_traces_overflow(void **state)
{
    (void)state;
    struct fx *f = fx_new(10000, 3, 100);
    offer(f, 1, 1, 2, 0, 0);
    offer(f, 2, 1, 1, 1, 1);
    offer(f, 3, 1, 2, 2, 2);
    offer(f, 2, 1, 1, 3, 3); /* an existing trace: no overflow */
    assert_int_equal(f->r->n_exports + f->r->n_releases, 0);
    offer(f, 4, 1, 1, 4, 4); /* the oldest, trace 1, is decided early */
    assert_int_equal(f->r->exported[0], 1);
    offer(f, 5, 1, 1, 5, 5); /* then trace 2, both its offers */
    assert_int_equal(f->r->released[1], 1);
    assert_int_equal(f->r->released[3], 1);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.decided_early, 2);
    assert_int_equal(st.traces_held, 3);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 10002);
    /* Late spans of an early-decided trace follow it. */
    offer(f, 1, 1, 1, 6, 6);
    assert_int_equal(f->r->exported[6], 1);
    tail_sampler_decide_all(f->s);
    for (size_t i = 0; i <= 6; i++)
        assert_int_equal(f->r->calls[i], 1);
    fx_free(f);
}

/* [limits] memory: over the sampler's share (a quarter), the oldest traces are decided early, and
 * what is held stays within it. */
static void test_memory_limit_decides_oldest_early(void **state)
{
    (void)state;
    struct process_conf c;
    default_conf(&c);
    c.tail_sampling.decision_wait_ms = 10000;
    c.tail_sampling.num_traces = 1000;
    c.limits.memory = 4 * 8 * 1024; /* the sampler gets 8 KiB */
    struct fx *f = fx_new_conf(&c);
    for (uint32_t t = 0; t < 40; t++) {
        offer_pad(f, t + 1, 2, t % 2 ? 2 : 1, t, t, 250); /* about 600 B per trace */
        struct tail_sampler_stats st = stats(f);
        assert_true(st.bytes_held <= 8 * 1024);
    }
    struct tail_sampler_stats st = stats(f);
    assert_true(st.decided_early >= 20);
    assert_true(st.traces_held >= 4);
    /* The early decisions went to the oldest traces, in order: every error trace decided
     * so far was exported, every other released. */
    for (size_t t = 0; t < st.decided_early; t++)
        assert_int_equal(t % 2 ? f->r->exported[t] : f->r->released[t], 1);
    tail_sampler_decide_all(f->s);
    for (size_t t = 0; t < 40; t++)
        assert_int_equal(f->r->calls[t], 1);
    fx_free(f);
}

static size_t tok_of(void *token, const struct rec *r)
{
    return tok_index(r, token);
}

struct forget_arg {
    struct rec *r;
    size_t lo, hi; /* tokens in [lo, hi) belong to the revoked partition */
};

static bool forget_match(void *token, void *arg)
{
    const struct forget_arg *a = arg;
    size_t k = tok_of(token, a->r);
    return k >= a->lo && k < a->hi;
}

static void test_forget(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 100);
    /* Tokens 0..9 are partition A, 10..19 partition B. */
    offer(f, 1, 2, 2, 0, 0);
    offer(f, 1, 1, 1, 1, 1);
    offer(f, 2, 3, 2, 10, 2);
    offer(f, 3, 1, 2, 2, 3);  /* trace 3: A then B then A */
    offer(f, 3, 2, 1, 11, 4); /* kept after forget */
    offer(f, 3, 4, 1, 3, 5);
    struct tail_sampler_stats before = stats(f);
    assert_int_equal(before.traces_held, 3);
    assert_int_equal(before.spans_held, 13);

    struct forget_arg a = {f->r, 0, 10};
    tail_sampler_forget(f->s, forget_match, &a);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(f->r->calls[i], 0);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.traces_held, 2);
    assert_int_equal(st.spans_held, 5);
    assert_true(st.bytes_held < before.bytes_held);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), 102);

    /* Trace 1 is gone: a new span of it is a new trace. */
    offer(f, 1, 1, 1, 12, 50);
    tail_sampler_decide_all(f->s);
    assert_int_equal(f->r->exported[10], 1);
    /* Trace 3 keeps only its B offer (the error spans were in A, but what was observed from
     * them stays in the trace's summary: sampled). */
    assert_int_equal(f->r->exported[11], 1);
    assert_int_equal(f->r->released[12], 1);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(f->r->calls[i], 0);
    assert_int_equal(stats(f).traces_held, 0);
    assert_int_equal(stats(f).bytes_held, 0);
    fx_free(f);
}

/* After forget packs a trace's buffer, the bytes exported are exactly the kept offers. */
static void test_forget_packs_bytes(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 100, 100);
    struct kt_buf want = KT_BUF_INIT;
    uint8_t id[16];
    id_of(9, id);
    for (size_t i = 0; i < 6; i++) {
        TracesData *td;
        make_offer(id, 1 + i % 3, 2, 5 + i, &td, &f->enc);
        if (i % 2 == 1)
            assert_int_equal(kt_buf_append(&want, f->enc.p, f->enc.len), 0);
        assert_int_equal(
            tail_sampler_offer(f->s, id, td, kt_buf_slice(&f->enc), 1 + i % 3, &f->r->tok[i], 0),
            0);
        free(td);
    }
    struct forget_arg a = {f->r, 0, 1};
    tail_sampler_forget(f->s, forget_match, &a);
    a.lo = 2;
    a.hi = 3;
    tail_sampler_forget(f->s, forget_match, &a);
    a.lo = 4;
    a.hi = 5;
    tail_sampler_forget(f->s, forget_match, &a);
    tail_sampler_tick(f->s, 100);
    assert_int_equal(f->r->n_exports, 1);
    assert_int_equal(f->r->last_n_tokens, 3);
    assert_int_equal(f->r->last_n_spans, 2 + 1 + 3);
    assert_int_equal(f->r->last.len, want.len);
    assert_memory_equal(f->r->last.p, want.p, want.len);
    kt_buf_free(&want);
    fx_free(f);
}

/* A mixed workload: many traces, several offers each, ticks at irregular times, a tight
 * num_traces and small caches. Every offer ends in exactly one callback. */
static void test_every_offer_one_callback(void **state)
{
    (void)state;
    struct fx *f = fx_new(300, 50, 20);
    uint32_t rnd = 12345;
    size_t n = 3000;
    uint64_t now = 0;
    static size_t tok_spans[MAX_TOKENS];
    for (size_t i = 0; i < n; i++) {
        rnd = rnd * 1103515245u + 12345u;
        uint32_t trace = (rnd >> 8) % 200;
        size_t k = 1 + (rnd >> 20) % 4;
        int code = (rnd >> 24) % 3 == 0 ? 2 : 1;
        now += (rnd >> 16) % 7;
        offer(f, trace, k, code, i, now);
        tok_spans[i] = k;
        if (i % 17 == 0)
            tail_sampler_tick(f->s, now);
        struct tail_sampler_stats st = stats(f);
        assert_true(st.traces_held <= 50);
    }
    tail_sampler_decide_all(f->s);
    size_t exported = 0, released = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(f->r->calls[i], 1);
        exported += f->r->exported[i];
        released += f->r->released[i];
    }
    assert_int_equal(exported + released, n);
    assert_true(exported > 0 && released > 0);
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.traces_held, 0);
    assert_int_equal(st.spans_held, 0);
    assert_int_equal(st.bytes_held, 0);
    assert_true(st.decided_early > 0);
    assert_true(st.late_sampled + st.late_dropped > 0);
    /* Spans exported are exactly the spans of the exported tokens. */
    size_t want_spans = 0;
    for (size_t i = 0; i < n; i++)
        if (f->r->exported[i])
            want_spans += tok_spans[i];
    assert_int_equal(f->r->spans_exported, want_spans);
    fx_free(f);
}

/* Held memory stays within the spans' encoded size plus 64 bytes per span for traces of a
 * few offers, and returns to zero. */
static void test_memory_bound(void **state)
{
    (void)state;
    struct fx *f = fx_new(1000, 1000, 100);
    size_t spans = 0;
    for (uint32_t t = 0; t < 100; t++) {
        for (size_t k = 0; k < 3; k++) {
            offer_pad(f, t, 4, 1, t * 3 + k, t, 100);
            spans += 4;
        }
    }
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.traces_held, 100);
    assert_int_equal(st.spans_held, spans);
    assert_true(st.bytes_held >= f->encoded_total);
    assert_true(st.bytes_held <= f->encoded_total + 64 * spans);
    tail_sampler_decide_all(f->s);
    assert_int_equal(stats(f).bytes_held, 0);
    fx_free(f);
}

static void test_decide_all_in_order(void **state)
{
    (void)state;
    struct process_conf c;
    default_conf(&c);
    c.tail_sampling.decision_wait_ms = 60000;
    add_policy(&c, "all", "type", "always_sample", END);
    struct fx *f = fx_new_conf(&c);
    offer(f, 3, 1, 1, 0, 10);
    offer(f, 1, 2, 1, 1, 20);
    offer(f, 2, 3, 1, 2, 30);
    tail_sampler_tick(f->s, 40);
    assert_int_equal(f->r->n_exports, 0);
    tail_sampler_decide_all(f->s);
    assert_int_equal(f->r->n_exports, 3);
    assert_int_equal(f->r->last_n_spans, 3); /* trace 2 arrived last, decided last */
    assert_int_equal(stats(f).sampled, 3);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), UINT64_MAX);
    fx_free(f);
}

/* drop_pending_traces_on_shutdown: every held trace is released, none exported, whatever
 * the policies would say, and nothing stays held. */
static void test_drop_all(void **state)
{
    (void)state;
    struct process_conf c;
    default_conf(&c);
    c.tail_sampling.decision_wait_ms = 60000;
    add_policy(&c, "all", "type", "always_sample", END);
    struct fx *f = fx_new_conf(&c);
    offer(f, 1, 2, 1, 0, 10);
    offer(f, 2, 1, 2, 1, 20);
    offer(f, 1, 1, 1, 2, 30);
    tail_sampler_drop_all(f->s);
    assert_int_equal(f->r->n_exports, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(f->r->calls[i], 1);
        assert_int_equal(f->r->released[i], 1);
    }
    struct tail_sampler_stats st = stats(f);
    assert_int_equal(st.dropped_on_shutdown, 2);
    assert_int_equal(st.sampled + st.not_sampled, 0);
    assert_int_equal(st.traces_held, 0);
    assert_int_equal(st.bytes_held, 0);
    assert_int_equal(tail_sampler_next_deadline_ms(f->s), UINT64_MAX);
    fx_free(f);
}

/* Many traces through the hash table: inserts, lookups and removals in shuffled order keep
 * every trace findable (offers of a held trace must join it, not start another). */
static void test_many_traces(void **state)
{
    (void)state;
    struct fx *f = fx_new(1000, 5000, 10);
    size_t tok = 0;
    for (uint32_t t = 0; t < 1500; t++)
        offer(f, t * 2654435761u, 1, 1, tok++ % MAX_TOKENS, t);
    for (uint32_t t = 0; t < 1500; t += 3)
        offer(f, t * 2654435761u, 1, 2, tok++ % MAX_TOKENS, 1500 + t);
    assert_int_equal(stats(f).traces_held, 1500);
    tail_sampler_tick(f->s, 1750); /* decides the first 751 */
    assert_int_equal(stats(f).traces_held, 749);
    for (uint32_t t = 751; t < 1500; t++)
        offer(f, t * 2654435761u, 1, 1, tok++ % MAX_TOKENS, 2000);
    assert_int_equal(stats(f).traces_held, 749);
    tail_sampler_decide_all(f->s);
    assert_int_equal(stats(f).sampled, 500);
    assert_int_equal(stats(f).not_sampled, 1000);
    fx_free(f);
}

static void test_fields(void **state)
{
    (void)state;
    /* Every trace's summary (times, status) and its ID, whatever the policies. */
    const ottl_fields summary = OTTL_FIELD(OTTL_P_SPAN_START) | OTTL_FIELD(OTTL_P_SPAN_END) |
                                OTTL_FIELD(OTTL_P_SPAN_STATUS_CODE) |
                                OTTL_FIELD(OTTL_P_SPAN_TRACE_ID);
    struct fx *f = fx_new(1000, 100, 100);
    assert_int_equal(tail_sampler_fields(f->s), summary);
    fx_free(f);

    struct process_conf c;
    default_conf(&c);
    add_policy(&c, "gold", "type", "string_attribute", "key", "tier", "values", "gold", END);
    add_policy(&c, "exc", "type", "ottl_condition", "span", "span.name == \"x\"", "spanevent",
               "spanevent.name == \"exception\"", END);
    f = fx_new_conf(&c);
    assert_int_equal(tail_sampler_fields(f->s),
                     summary | OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_RESOURCE_ATTRS) |
                         OTTL_FIELD(OTTL_P_SPAN_NAME) | OTTL_FIELD(OTTL_P_SPANEVENT_NAME) |
                         OTTL_FIELD(OTTL_P_SPANEVENT_ATTRS));
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enabled),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_decision_wait),
        cmocka_unit_test(test_offers_concatenate),
        cmocka_unit_test(test_late_spans_sampled),
        cmocka_unit_test(test_late_spans_dropped),
        cmocka_unit_test(test_maximum_trace_size),
        cmocka_unit_test(test_decision_wait_after_root),
        cmocka_unit_test(test_decision_cache_lru),
        cmocka_unit_test(test_num_traces_overflow),
        cmocka_unit_test(test_memory_limit_decides_oldest_early),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_forget_packs_bytes),
        cmocka_unit_test(test_every_offer_one_callback),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_decide_all_in_order),
        cmocka_unit_test(test_many_traces),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
