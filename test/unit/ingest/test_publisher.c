/* publisher against librdkafka's in-process mock cluster: requests go through the real
 * splitter, batcher and producer on an ev loop, then a real consumer reads back what
 * landed. Every wait is the loop running until a condition holds, bounded by a guard. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../../../ingest/conf.h"
#include "../../../ingest/publisher.h"
#include "kt_buf.h"
#include "kt_codec.h"
#include "kt_config.h"
#include "kt_err.h"
#include "kt_log.h"
#include "kt_otlp_wire.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define TOPIC "otlp_spans"
#define PARTITIONS 4
#define MAX_DONE 256
#define MAX_SPANS 4096

/* ---- requests ---- */

static void trace_id(int t, uint8_t out[16])
{
    for (int b = 0; b < 16; b++)
        out[b] = (uint8_t)(t * 31 + b * 7 + 1);
}

/* A TracesData of n_res resources; each holds spans_per_trace spans of every one of
 * n_traces traces, interleaved so the splitter has to regroup them. Span IDs count up from
 * *next_span. Span names are `pad` bytes long. */
static void make_request(int n_res, int n_traces, int spans_per_trace, size_t pad,
                         uint64_t *next_span, struct kt_buf *out)
{
    int per_res = n_traces * spans_per_trace;
    int total = n_res * per_res;
    Span *spans = calloc((size_t)total, sizeof(*spans));
    Span **sp = calloc((size_t)total, sizeof(*sp));
    uint8_t *ids = calloc((size_t)total, 24);
    char *name = malloc(pad + 1);
    memset(name, 'x', pad);
    name[pad] = '\0';
    ScopeSpans *ss = calloc((size_t)n_res, sizeof(*ss));
    ScopeSpans **ssp = calloc((size_t)n_res, sizeof(*ssp));
    ResourceSpans *rs = calloc((size_t)n_res, sizeof(*rs));
    ResourceSpans **rsp = calloc((size_t)n_res, sizeof(*rsp));
    Resource *res = calloc((size_t)n_res, sizeof(*res));
    KeyValue *kv = calloc((size_t)n_res, sizeof(*kv));
    KeyValue **kvp = calloc((size_t)n_res, sizeof(*kvp));
    AnyValue *av = calloc((size_t)n_res, sizeof(*av));
    char(*svc)[16] = calloc((size_t)n_res, 16);
    int i = 0;
    for (int r = 0; r < n_res; r++) {
        for (int s = 0; s < spans_per_trace; s++)
            for (int t = 0; t < n_traces; t++, i++) {
                Span x = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
                uint8_t *id = ids + 24 * i;
                trace_id(t, id);
                uint64_t sid = (*next_span)++;
                memcpy(id + 16, &sid, 8);
                x.trace_id.data = id;
                x.trace_id.len = 16;
                x.span_id.data = id + 16;
                x.span_id.len = 8;
                x.name = name;
                x.start_time_unix_nano = 1700000000000000000ULL;
                x.end_time_unix_nano = 1700000000000001000ULL;
                spans[i] = x;
                sp[i] = &spans[i];
            }
        ScopeSpans s0 = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
        s0.n_spans = (size_t)per_res;
        s0.spans = sp + r * per_res;
        ss[r] = s0;
        ssp[r] = &ss[r];
        AnyValue a0 = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        snprintf(svc[r], 16, "svc-%d", r);
        a0.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a0.string_value = svc[r];
        av[r] = a0;
        KeyValue k0 = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        k0.key = "service.name";
        k0.value = &av[r];
        kv[r] = k0;
        kvp[r] = &kv[r];
        Resource re = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
        re.n_attributes = 1;
        re.attributes = &kvp[r];
        res[r] = re;
        ResourceSpans r0 = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
        r0.resource = &res[r];
        r0.n_scope_spans = 1;
        r0.scope_spans = &ssp[r];
        rs[r] = r0;
        rsp[r] = &rs[r];
    }
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.n_resource_spans = (size_t)n_res;
    td.resource_spans = rsp;
    size_t len = opentelemetry__proto__trace__v1__traces_data__get_packed_size(&td);
    kt_buf_reset(out);
    assert_int_equal(kt_buf_reserve(out, len), 0);
    out->len = opentelemetry__proto__trace__v1__traces_data__pack(&td, out->p);
    free(spans);
    free(sp);
    free(ids);
    free(name);
    free(ss);
    free(ssp);
    free(rs);
    free(rsp);
    free(res);
    free(kv);
    free(kvp);
    free(av);
    free(svc);
}

/* ---- fixture: mock cluster, conf, loop ---- */

struct done_rec {
    int status;
    size_t n_rejected;
    char msg[KT_ERR_MSG_MAX];
};

struct fx {
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
    struct ingest_conf conf;
    struct ev_loop *loop;
    struct publisher *p;

    ev_prepare prep;
    ev_timer guard;
    bool (*until)(struct fx *);
    bool timed_out;
    ev_timer tick;
    void (*on_tick)(struct fx *);

    struct done_rec done[MAX_DONE];
    size_t n_done;
    bool in_submit;
    size_t n_submitted, n_refused;
    char refused_msg[KT_ERR_MSG_MAX];
    int phase;
};

static void done_cb(void *ctx, const struct publisher_result *r)
{
    struct fx *f = ctx;
    /* The contract: never from inside publisher_submit. */
    assert_false(f->in_submit);
    assert_true(f->n_done < MAX_DONE);
    struct done_rec *d = &f->done[f->n_done++];
    d->status = r->status;
    d->n_rejected = r->n_rejected;
    assert_non_null(r->message);
    snprintf(d->msg, sizeof(d->msg), "%s", r->message);
}

static void prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    struct fx *f = w->data;
    /* Checked right before the loop would block, so a condition that became true in any
     * callback ends the run without waiting for another event. */
    if (f->until(f))
        ev_break(loop, EVBREAK_ONE);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct fx *f = w->data;
    f->timed_out = true;
    ev_break(loop, EVBREAK_ONE);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct fx *f = w->data;
    if (f->on_tick)
        f->on_tick(f);
}

static bool run_until(struct fx *f, bool (*until)(struct fx *), double timeout)
{
    f->until = until;
    f->timed_out = false;
    ev_timer_set(&f->guard, timeout, 0.);
    ev_timer_start(f->loop, &f->guard);
    ev_prepare_start(f->loop, &f->prep);
    if (f->on_tick)
        ev_timer_start(f->loop, &f->tick);
    ev_run(f->loop, 0);
    ev_timer_stop(f->loop, &f->tick);
    ev_prepare_stop(f->loop, &f->prep);
    ev_timer_stop(f->loop, &f->guard);
    return !f->timed_out || until(f);
}

static struct fx *fx_new(const char *const *extra, size_t n_extra)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char errstr[256];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(mconf, "log_level", "3", errstr, sizeof(errstr)), 0);
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 1);
    assert_non_null(f->mc);
    snprintf(f->bootstraps, sizeof(f->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(f->mc));
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, TOPIC, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "otlp_metrics", PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "otlp_logs", PARTITIONS, 1), 0);

    char brokers[300];
    snprintf(brokers, sizeof(brokers), "kafka.brokers=%s", f->bootstraps);
    const char *sets[16] = {brokers, "batch.timeout=50ms", "kafka.timeout=5s"};
    size_t n = 3;
    for (size_t i = 0; i < n_extra; i++)
        sets[n++] = extra[i];
    struct kt_err err = {0};
    int rc = kt_config_load(&ingest_conf_schema, &f->conf, NULL, sets, n, &err);
    if (rc != 0)
        fail_msg("config: %s", err.msg);

    f->loop = ev_loop_new(EVFLAG_AUTO);
    ev_prepare_init(&f->prep, prep_cb);
    f->prep.data = f;
    ev_timer_init(&f->guard, guard_cb, 1., 0.);
    f->guard.data = f;
    ev_timer_init(&f->tick, tick_cb, 0.1, 0.1);
    f->tick.data = f;
    return f;
}

static void fx_start(struct fx *f)
{
    struct kt_err err = {0};
    int rc = publisher_new(&f->conf, f->loop, &f->p, &err);
    if (rc != 0)
        fail_msg("publisher_new: %s", err.msg);
}

static void fx_free(struct fx *f)
{
    publisher_free(f->p);
    ev_loop_destroy(f->loop);
    kt_config_free(&ingest_conf_schema, &f->conf);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
    free(f);
}

/* Submits one request of the shape make_request builds with meta (borrowed; NULL: none);
 * returns submit's code. */
static int submit_with(struct fx *f, const struct publisher_meta *meta, int n_res, int n_traces,
                       int spans_per_trace, size_t pad, uint64_t *next_span, bool with_done,
                       struct publisher_ticket **ticket)
{
    struct kt_buf body = KT_BUF_INIT;
    make_request(n_res, n_traces, spans_per_trace, pad, next_span, &body);
    size_t n_items = 0;
    struct kt_err err = {0};
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&body), &n_items, &err), 0);
    assert_int_equal(n_items, (size_t)(n_res * n_traces * spans_per_trace));
    f->in_submit = true;
    int rc = publisher_submit(f->p, KT_SIGNAL_TRACES, kt_buf_slice(&body), n_items, meta,
                              with_done ? done_cb : NULL, f, ticket, &err);
    f->in_submit = false;
    kt_buf_free(&body);
    f->n_submitted++;
    if (rc != 0) {
        f->n_refused++;
        snprintf(f->refused_msg, sizeof(f->refused_msg), "%s", err.msg);
    }
    return rc;
}

/* submit_with for tenant (NULL: none). */
static int submit_as(struct fx *f, const char *tenant, int n_res, int n_traces, int spans_per_trace,
                     size_t pad, uint64_t *next_span, bool with_done,
                     struct publisher_ticket **ticket)
{
    const struct publisher_meta meta = {.tenant = tenant};
    return submit_with(f, &meta, n_res, n_traces, spans_per_trace, pad, next_span, with_done,
                       ticket);
}

/* submit_with of n_res resources of n_traces one-span traces, waiting for the answer. */
static int submit_meta(struct fx *f, const struct publisher_meta *meta, int n_res, int n_traces,
                       uint64_t *next_span)
{
    return submit_with(f, meta, n_res, n_traces, 1, 5, next_span, true, NULL);
}

static int submit(struct fx *f, int n_res, int n_traces, int spans_per_trace, size_t pad,
                  uint64_t *next_span, bool with_done, struct publisher_ticket **ticket)
{
    return submit_as(f, NULL, n_res, n_traces, spans_per_trace, pad, next_span, with_done, ticket);
}

/* ---- consuming what landed ---- */

struct got {
    int32_t partition;
    char key[64];
    size_t key_len;
    uint8_t *val;
    size_t len;
    size_t n_headers;
    char hdr_name[64], hdr_value[64]; /* the first record header, when there is one */
    char hdrs[256];                   /* every record header, "name=value;" each */
};

static size_t consume_topic(struct fx *f, const char *topic, struct got *out, size_t want,
                            int timeout_ms);

static size_t consume(struct fx *f, struct got *out, size_t want, int timeout_ms)
{
    return consume_topic(f, TOPIC, out, want, timeout_ms);
}

static size_t consume_topic(struct fx *f, const char *topic, struct got *out, size_t want,
                            int timeout_ms)
{
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(c, "bootstrap.servers", f->bootstraps, errstr, sizeof(errstr)), 0);
    assert_int_equal(rd_kafka_conf_set(c, "group.id", "test", errstr, sizeof(errstr)), 0);
    assert_int_equal(rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof(errstr)),
                     0);
    assert_int_equal(rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr)), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int i = 0; i < PARTITIONS; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t n = 0;
    int waited = 0;
    while (n < want && waited < timeout_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            waited += 100;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            struct got *g = &out[n++];
            g->partition = m->partition;
            assert_true(m->key_len < sizeof(g->key));
            memcpy(g->key, m->key, m->key_len);
            g->key[m->key_len] = '\0';
            g->key_len = m->key_len;
            g->val = malloc(m->len);
            memcpy(g->val, m->payload, m->len);
            g->len = m->len;
            rd_kafka_headers_t *hdrs = NULL;
            const char *name;
            const void *value;
            size_t value_n;
            g->n_headers = 0;
            if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                g->n_headers = rd_kafka_header_cnt(hdrs);
                assert_int_equal(rd_kafka_header_get_all(hdrs, 0, &name, &value, &value_n),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
                assert_true(value_n < sizeof(g->hdr_value));
                snprintf(g->hdr_name, sizeof(g->hdr_name), "%s", name);
                memcpy(g->hdr_value, value, value_n);
                g->hdr_value[value_n] = '\0';
                g->hdrs[0] = '\0';
                for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &value, &value_n) ==
                                   RD_KAFKA_RESP_ERR_NO_ERROR;
                     h++) {
                    size_t l = strlen(g->hdrs);
                    snprintf(g->hdrs + l, sizeof(g->hdrs) - l, "%s=%.*s;", name, (int)value_n,
                             (const char *)value);
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    /* Nothing more than expected should be there. */
    rd_kafka_message_t *extra = rd_kafka_consumer_poll(rk, 300);
    if (extra != NULL) {
        bool is_msg = extra->err == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_message_destroy(extra);
        assert_false(is_msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static void got_free(struct got *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(g[i].val);
}

/* Decodes a value, checks every span's trace ID is the key, counts span IDs. */
static size_t check_value(const struct got *g, unsigned *span_seen)
{
    TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, g->len, g->val);
    assert_non_null(td);
    size_t n = 0;
    for (size_t i = 0; i < td->n_resource_spans; i++) {
        ResourceSpans *rs = td->resource_spans[i];
        assert_non_null(rs->resource);
        for (size_t j = 0; j < rs->n_scope_spans; j++)
            for (size_t k = 0; k < rs->scope_spans[j]->n_spans; k++) {
                Span *s = rs->scope_spans[j]->spans[k];
                char hex[33];
                kt_hex_encode(s->trace_id.data, 16, hex);
                assert_string_equal(hex, g->key);
                uint64_t sid;
                memcpy(&sid, s->span_id.data, 8);
                assert_true(sid < MAX_SPANS);
                span_seen[sid]++;
                n++;
            }
    }
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    return n;
}

/* ---- conditions ---- */

static size_t want_done;
static bool done_reached(struct fx *f)
{
    return f->n_done >= want_done;
}
static bool idle(struct fx *f)
{
    return publisher_idle(f->p);
}

/* ---- tests ---- */

/* Several requests, several traces each, two rounds: one message per trace per round,
 * keyed by the hex trace ID, each trace in a single partition, every span exactly once. */
static void test_traces_keyed_by_trace_id(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL, 0);
    fx_start(f);
    uint64_t span = 0;
    for (int round = 0; round < 2; round++) {
        for (int r = 0; r < 4; r++)
            assert_int_equal(submit(f, 2, 5, 3, 20, &span, true, NULL), 0);
        want_done = (size_t)(round + 1) * 4;
        assert_true(run_until(f, done_reached, 10.));
    }
    for (size_t i = 0; i < f->n_done; i++) {
        assert_int_equal(f->done[i].status, 0);
        assert_int_equal(f->done[i].n_rejected, 0);
        assert_string_equal(f->done[i].msg, "");
    }
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.requests_accepted, 8);
    assert_int_equal(st.items_accepted, span);
    /* All four requests of a round share one batch: one message per trace. */
    assert_int_equal(st.messages_produced, 10);
    assert_int_equal(st.messages_delivered, 10);
    assert_int_equal(st.messages_failed, 0);

    struct got got[32];
    size_t n = consume(f, got, 10, 10000);
    assert_int_equal(n, 10);
    static unsigned seen[MAX_SPANS];
    memset(seen, 0, sizeof(seen));
    size_t spans = 0;
    char keys[5][33];
    int32_t part_of[5];
    for (int t = 0; t < 5; t++) {
        uint8_t id[16];
        trace_id(t, id);
        kt_hex_encode(id, 16, keys[t]);
        part_of[t] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        int t = 0;
        while (t < 5 && strcmp(keys[t], got[i].key) != 0)
            t++;
        assert_true(t < 5);
        if (part_of[t] < 0)
            part_of[t] = got[i].partition;
        assert_int_equal(part_of[t], got[i].partition);
        spans += check_value(&got[i], seen);
    }
    assert_int_equal(spans, span);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(seen[i], 1);
    got_free(got, n);
    fx_free(f);
}

/* send_batch_size reached: published without waiting for the batch timeout. */
static void test_send_batch_size_flushes_now(void **state)
{
    (void)state;
    const char *sets[] = {"batch.send_batch_size=10", "batch.timeout=1h"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 2, 5, 5, &span, true, NULL), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);
    fx_free(f);
}

/* A request that would take the open batch past send_batch_max_size: the batch is
 * published between two of its chunks (the chunks of a request that fits are written into
 * the batch directly; these go through a staging buffer). Every span lands once. */
static void test_send_batch_max_size_flushes_between_chunks(void **state)
{
    (void)state;
    const char *sets[] = {"batch.send_batch_max_size=8", "batch.timeout=200ms"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 2, 3, 5, &span, true, NULL), 0);
    assert_int_equal(submit(f, 1, 3, 2, 5, &span, true, NULL), 0);
    want_done = 2;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);
    assert_int_equal(f->done[1].status, 0);
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    /* Flushed when the second request's second trace came: traces 0 and 1 of the first
     * request with trace 0 of the second; then its traces 1 and 2. */
    assert_int_equal(st.messages_produced, 4);

    struct got got[8];
    size_t n = consume(f, got, 4, 10000);
    assert_int_equal(n, 4);
    static unsigned seen[MAX_SPANS];
    memset(seen, 0, sizeof(seen));
    size_t spans = 0;
    for (size_t i = 0; i < n; i++)
        spans += check_value(&got[i], seen);
    assert_int_equal(spans, span);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(seen[i], 1);
    got_free(got, n);
    fx_free(f);
}

static bool down_seen(struct fx *f)
{
    if (f->n_refused > 0)
        return true;
    for (size_t i = 0; i < f->n_done; i++)
        if (f->done[i].status == KT_EAGAIN)
            return true;
    return false;
}

static bool ok_after_up(struct fx *f)
{
    for (size_t i = 0; i < f->n_done; i++)
        if (f->done[i].status == 0 && f->phase == 2 && i >= want_done)
            return true;
    return false;
}

static uint64_t tick_span;
static void submit_on_tick(struct fx *f)
{
    if (f->n_submitted > 200)
        return;
    submit(f, 1, 1, 1, 5, &tick_span, true, NULL);
}

/* The broker goes away: requests fail as retryable (refused, or not acknowledged within
 * [kafka] timeout); it comes back: requests succeed again. */
static void test_broker_down_then_up(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.timeout=1s", "batch.timeout=10ms"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    tick_span = 0;
    assert_int_equal(submit(f, 1, 2, 2, 5, &tick_span, true, NULL), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);

    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    f->phase = 1;
    f->on_tick = submit_on_tick;
    assert_true(run_until(f, down_seen, 10.));
    if (f->n_refused > 0) {
        assert_true(strcmp(f->refused_msg, "kafka: all brokers down") == 0 ||
                    strncmp(f->refused_msg, "kafka: producer queue full", 26) == 0);
        assert_non_null(publisher_refusing(f->p));
    } else {
        bool found = false;
        for (size_t i = 0; i < f->n_done; i++)
            if (f->done[i].status == KT_EAGAIN) {
                assert_non_null(strstr(f->done[i].msg, "kafka: delivery to " TOPIC " failed: "));
                found = true;
            }
        assert_true(found);
    }
    /* Everything accepted while down fails within the timeout (plus slack), none hang. */
    f->on_tick = NULL;
    want_done = f->n_submitted - f->n_refused;
    assert_true(run_until(f, done_reached, 10.));
    for (size_t i = 1; i < f->n_done; i++)
        assert_int_equal(f->done[i].status, KT_EAGAIN);

    assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
    f->phase = 2;
    want_done = f->n_done; /* ok_after_up looks at callbacks from here on */
    f->on_tick = submit_on_tick;
    assert_true(run_until(f, ok_after_up, 15.));
    assert_null(publisher_refusing(f->p));
    f->on_tick = NULL;
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_true(st.messages_failed > 0 || st.requests_refused > 0);
    assert_int_equal(st.requests_refused, f->n_refused);
    fx_free(f);
}

/* Without statistics nothing could tell that a broker is back, so brokers being down does
 * not refuse: requests are accepted and fail once [kafka] timeout passes unacknowledged. */
static void test_broker_down_times_out(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.timeout=1s", "batch.timeout=10ms",
                          "kafka.rdkafka.statistics.interval.ms=0"};
    struct fx *f = fx_new(sets, 3);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 2, 2, 5, &span, true, NULL), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);

    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(submit(f, 1, 2, 1, 5, &span, true, NULL), 0);
    want_done = 4;
    ev_tstamp t0 = ev_time();
    assert_true(run_until(f, done_reached, 10.));
    /* Not before the timeout, and not much after it. */
    assert_true(ev_time() - t0 >= 0.9);
    assert_true(ev_time() - t0 < 5.);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(f->done[i].status, KT_EAGAIN);
        /* The partition is named when one was picked. */
        const char *msg = f->done[i].msg;
        assert_true(
            strncmp(msg, "kafka: delivery to " TOPIC, strlen("kafka: delivery to " TOPIC)) == 0);
        assert_non_null(strstr(msg, " failed: Local: Message timed out"));
        assert_true(strstr(msg, TOPIC " failed") != NULL || strstr(msg, TOPIC " [") != NULL);
    }

    assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
    assert_null(publisher_refusing(f->p));
    f->phase = 2;
    want_done = f->n_done;
    f->on_tick = submit_on_tick;
    tick_span = span;
    assert_true(run_until(f, ok_after_up, 15.));
    f->on_tick = NULL;
    fx_free(f);
}

static bool refused_as_slow(struct fx *f)
{
    return strstr(f->refused_msg, "kafka: too slow") != NULL;
}

/* Until refused for being slow: on a loaded machine the mock's delay can also make
 * librdkafka count the broker as down for a moment, a refusal of another kind. */
static void submit_big_on_tick(struct fx *f)
{
    if (f->n_submitted < 400 && !refused_as_slow(f))
        submit(f, 1, 8, 4, 4096, &tick_span, true, NULL);
}

/* Kafka answers after 2 s while [kafka] timeout is 3 s: once a backlog builds, requests are
 * refused up front naming the wait, rather than let in to wait out the timeout (and fail
 * after their messages took Kafka's capacity). Those let in before all get their answer
 * (some of the first may time out: the mock delays every request, metadata too). */
static void test_slow_kafka_refuses_up_front(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.timeout=3s", "batch.timeout=10ms"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    assert_int_equal(rd_kafka_mock_broker_set_rtt(f->mc, 1, 2000), 0);
    tick_span = 0;
    f->on_tick = submit_big_on_tick;
    assert_true(run_until(f, refused_as_slow, 60.));
    f->on_tick = NULL;
    if (strstr(f->refused_msg, "kafka: too slow: messages wait ") == NULL ||
        strstr(f->refused_msg, "over half of [kafka] timeout (3.0 s)") == NULL)
        fail_msg("refused with '%s'", f->refused_msg);
    assert_int_equal(rd_kafka_mock_broker_set_rtt(f->mc, 1, 0), 0);
    want_done = f->n_submitted - f->n_refused;
    assert_true(run_until(f, done_reached, 30.));
    fx_free(f);
}

/* Shutdown: new work is refused, open batches go out now, and the publisher drains. */
static void test_shutdown_flushes_and_refuses(void **state)
{
    (void)state;
    const char *sets[] = {"batch.timeout=1h"};
    struct fx *f = fx_new(sets, 1);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 3, 1, 5, &span, true, NULL), 0);
    assert_false(publisher_idle(f->p));
    publisher_begin_shutdown(f->p);
    assert_string_equal(publisher_refusing(f->p), "kafka: shutting down");
    assert_int_equal(submit(f, 1, 1, 1, 5, &span, true, NULL), KT_EAGAIN);
    assert_string_equal(f->refused_msg, "kafka: shutting down");
    assert_true(run_until(f, idle, 10.));
    assert_int_equal(f->n_done, 1);
    assert_int_equal(f->done[0].status, 0);
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.requests_refused, 1);
    assert_int_equal(st.messages_delivered, 3);
    fx_free(f);
}

/* A cancelled ticket is still published but never called back; fire-and-forget too. */
static void test_cancel_and_fire_and_forget(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL, 0);
    fx_start(f);
    uint64_t span = 0;
    struct publisher_ticket *t = NULL;
    assert_int_equal(submit(f, 1, 2, 1, 5, &span, true, &t), 0);
    assert_non_null(t);
    publisher_ticket_cancel(t);
    struct publisher_ticket *t2 = (struct publisher_ticket *)1;
    assert_int_equal(submit(f, 1, 2, 1, 5, &span, false, &t2), 0);
    assert_null(t2);
    assert_true(run_until(f, idle, 10.));
    assert_int_equal(f->n_done, 0);
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.messages_delivered, 2);
    fx_free(f);
}

/* Items too big for max_message_bytes are rejected; all of them: KT_ETOOBIG, completed
 * from the loop (not inside submit); some: status 0 with n_rejected and the reason. */
static void test_too_big(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.max_message_bytes=2KiB"};
    struct fx *f = fx_new(sets, 1);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 1, 2, 4000, &span, true, NULL), 0);
    assert_int_equal(f->n_done, 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 5.));
    assert_int_equal(f->done[0].status, KT_ETOOBIG);
    assert_int_equal(f->done[0].n_rejected, 2);
    assert_true(f->done[0].msg[0] != '\0');

    /* One big span among small ones: build it by hand. */
    struct kt_buf a = KT_BUF_INIT, b = KT_BUF_INIT;
    make_request(1, 3, 1, 10, &span, &a);
    make_request(1, 1, 1, 4000, &span, &b);
    assert_int_equal(kt_buf_append(&a, b.p, b.len), 0); /* repeated-field merge */
    kt_buf_free(&b);
    struct kt_err err = {0};
    size_t n_items = 0;
    assert_int_equal(kt_otlp_validate(KT_SIGNAL_TRACES, kt_buf_slice(&a), &n_items, &err), 0);
    assert_int_equal(n_items, 4);
    f->in_submit = true;
    assert_int_equal(publisher_submit(f->p, KT_SIGNAL_TRACES, kt_buf_slice(&a), n_items, NULL,
                                      done_cb, f, NULL, &err),
                     0);
    f->in_submit = false;
    kt_buf_free(&a);
    want_done = 2;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[1].status, 0);
    assert_int_equal(f->done[1].n_rejected, 1);
    assert_true(f->done[1].msg[0] != '\0');
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.items_rejected, 3);
    fx_free(f);
}

/* max_message_bytes small enough that one trace needs several messages: same key, all in
 * one partition, none over the bound. */
static void test_large_trace_split_same_key(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.max_message_bytes=4KiB"};
    struct fx *f = fx_new(sets, 1);
    fx_start(f);
    uint64_t span = 0;
    for (int r = 0; r < 3; r++)
        assert_int_equal(submit(f, 2, 1, 10, 200, &span, true, NULL), 0);
    want_done = 3;
    assert_true(run_until(f, done_reached, 10.));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->done[i].status, 0);
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_true(st.messages_produced > 1);
    struct got got[64];
    assert_true(st.messages_produced <= 64);
    size_t n = consume(f, got, (size_t)st.messages_produced, 10000);
    assert_int_equal(n, st.messages_produced);
    static unsigned seen[MAX_SPANS];
    memset(seen, 0, sizeof(seen));
    size_t spans = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i].len <= 4096);
        assert_string_equal(got[i].key, got[0].key);
        assert_int_equal(got[i].partition, got[0].partition);
        spans += check_value(&got[i], seen);
    }
    assert_int_equal(spans, span);
    got_free(got, n);
    fx_free(f);
}

/* encoding = otlp_json: values are OTLP/JSON, still keyed by trace ID. */
static void test_json_encoding(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.encoding=otlp_json"};
    struct fx *f = fx_new(sets, 1);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 2, 2, 5, &span, true, NULL), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);
    struct got got[4];
    size_t n = consume(f, got, 2, 10000);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *root = json_loadb((const char *)got[i].val, got[i].len, 0, &je);
        assert_non_null(root);
        json_t *rs = json_object_get(root, "resourceSpans");
        assert_true(json_is_array(rs));
        json_t *spans = json_object_get(
            json_array_get(json_object_get(json_array_get(rs, 0), "scopeSpans"), 0), "spans");
        assert_int_equal(json_array_size(spans), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(spans, 0), "traceId")),
                            got[i].key);
        json_decref(root);
    }
    got_free(got, n);
    fx_free(f);
}

/* traces_encoding overrides encoding for the traces topic, both ways. */
static void test_traces_encoding_overrides_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *sets[2];
        bool json;
    } cases[] = {
        {{"kafka.encoding=otlp_proto", "kafka.traces_encoding=otlp_json"}, true},
        {{"kafka.encoding=otlp_json", "kafka.traces_encoding=otlp_proto"}, false},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct fx *f = fx_new(cases[c].sets, 2);
        fx_start(f);
        uint64_t span = 0;
        assert_int_equal(submit(f, 1, 1, 1, 2, &span, true, NULL), 0);
        want_done = 1;
        assert_true(run_until(f, done_reached, 10.));
        assert_int_equal(f->done[0].status, 0);
        struct got got[2];
        size_t n = consume(f, got, 1, 10000);
        assert_int_equal(n, 1);
        json_t *root = json_loadb((const char *)got[0].val, got[0].len, 0, NULL);
        assert_int_equal(root != NULL, cases[c].json);
        json_decref(root);
        got_free(got, n);
        fx_free(f);
    }
}

/* otlp_json with a small bound: JSON is bigger than the protobuf it comes from, so merged
 * chunks get halved until they fit; every value within the bound, every span once. */
static void test_json_respects_max_message_bytes(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.encoding=otlp_json", "kafka.max_message_bytes=4KiB"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    uint64_t span = 0;
    for (int r = 0; r < 3; r++)
        assert_int_equal(submit(f, 2, 1, 10, 100, &span, true, NULL), 0);
    want_done = 3;
    assert_true(run_until(f, done_reached, 10.));
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(f->done[i].status, 0);
        assert_int_equal(f->done[i].n_rejected, 0);
    }
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    struct got got[128];
    assert_true(st.messages_produced > 3 && st.messages_produced <= 128);
    size_t n = consume(f, got, (size_t)st.messages_produced, 10000);
    assert_int_equal(n, st.messages_produced);
    size_t spans = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i].len <= 4096);
        json_t *root = json_loadb((const char *)got[i].val, got[i].len, 0, NULL);
        assert_non_null(root);
        size_t ri, si;
        json_t *rs, *ss;
        json_array_foreach(json_object_get(root, "resourceSpans"), ri, rs)
            json_array_foreach(json_object_get(rs, "scopeSpans"), si, ss) spans +=
            json_array_size(json_object_get(ss, "spans"));
        json_decref(root);
        assert_string_equal(got[i].key, got[0].key);
    }
    assert_int_equal(spans, span);
    got_free(got, n);
    fx_free(f);
}

/* publisher_free with messages that cannot be delivered: done gets KT_EAGAIN. */
static void test_free_fails_outstanding(void **state)
{
    (void)state;
    const char *sets[] = {"batch.timeout=1ms", "kafka.timeout=30s"};
    struct fx *f = fx_new(sets, 2);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit(f, 1, 2, 1, 5, &span, true, NULL), 0);
    struct publisher_ticket *t = NULL;
    assert_int_equal(submit(f, 1, 1, 1, 5, &span, true, &t), 0);
    publisher_ticket_cancel(t);
    publisher_free(f->p);
    f->p = NULL;
    assert_int_equal(f->n_done, 1);
    assert_int_equal(f->done[0].status, KT_EAGAIN);
    assert_true(f->done[0].msg[0] != '\0');
    fx_free(f);
}

/* Spans of request r (make_request numbers them from r * 2, 2 per request below) went to
 * the tenant of that request: checks every message's header against who sent its spans. */
static void check_tenants(const struct got *got, size_t n, const char *const *tenant_of_req,
                          size_t spans_per_req, uint64_t n_spans)
{
    static unsigned seen[MAX_SPANS];
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++) {
        unsigned before[MAX_SPANS];
        memcpy(before, seen, sizeof(before));
        check_value(&got[i], seen);
        for (uint64_t sid = 0; sid < n_spans; sid++) {
            if (seen[sid] == before[sid])
                continue;
            const char *want = tenant_of_req[sid / spans_per_req];
            if (want == NULL) {
                assert_int_equal(got[i].n_headers, 0);
            } else {
                assert_int_equal(got[i].n_headers, 1);
                assert_string_equal(got[i].hdr_name, "x-tenant");
                assert_string_equal(got[i].hdr_value, want);
            }
        }
    }
    for (uint64_t sid = 0; sid < n_spans; sid++)
        assert_int_equal(seen[sid], 1);
}

/* [receiver.auth] tenant_header: requests of two tenants (and one of none) for the same
 * traces, in one batch. Each tenant's spans come out in messages of their own with the
 * header naming it (none without a tenant), still keyed by the plain trace ID; the two
 * requests of one tenant share their messages as before. */
static void test_tenants_never_share_a_message(void **state)
{
    (void)state;
    const char *sets[] = {"receiver.auth.tenant_header=x-tenant", "batch.timeout=200ms"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    uint64_t span = 0;
    const char *tenant_of_req[] = {"acme", "globex", "acme", NULL, ""};
    for (size_t r = 0; r < 5; r++)
        assert_int_equal(submit_as(f, tenant_of_req[r], 1, 2, 1, 5, &span, true, NULL), 0);
    want_done = 5;
    assert_true(run_until(f, done_reached, 10.));
    for (size_t i = 0; i < f->n_done; i++)
        assert_int_equal(f->done[i].status, 0);
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    /* Two traces for each of acme, globex and nobody ("" is nobody too). */
    assert_int_equal(st.messages_produced, 6);

    struct got got[8];
    size_t n = consume(f, got, 6, 10000);
    assert_int_equal(n, 6);
    tenant_of_req[4] = NULL;
    check_tenants(got, n, tenant_of_req, 2, span);
    got_free(got, n);
    fx_free(f);
}

/* Without tenant_header, a tenant passed in changes nothing: no header, and requests of
 * different tenants share messages. */
static void test_no_tenant_header_no_header(void **state)
{
    (void)state;
    const char *sets[] = {"batch.timeout=200ms"};
    struct fx *f = fx_new(sets, 1);
    fx_start(f);
    uint64_t span = 0;
    assert_int_equal(submit_as(f, "acme", 1, 2, 1, 5, &span, true, NULL), 0);
    assert_int_equal(submit_as(f, "globex", 1, 2, 1, 5, &span, true, NULL), 0);
    want_done = 2;
    assert_true(run_until(f, done_reached, 10.));
    assert_true(run_until(f, idle, 5.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.messages_produced, 2);
    struct got got[4];
    size_t n = consume(f, got, 2, 10000);
    assert_int_equal(n, 2);
    const char *tenant_of_req[] = {NULL, NULL};
    check_tenants(got, n, tenant_of_req, 2, span);
    got_free(got, n);
    fx_free(f);
}

/* Tenant names over the bound are refused, without a callback; so is a header name over it,
 * at startup. */
static void test_tenant_name_too_long_is_refused(void **state)
{
    (void)state;
    char long_header[64 + PUBLISHER_TENANT_MAX];
    int n = snprintf(long_header, sizeof(long_header), "receiver.auth.tenant_header=");
    memset(long_header + n, 'h', PUBLISHER_TENANT_MAX + 1);
    long_header[n + PUBLISHER_TENANT_MAX + 1] = '\0';
    const char *long_sets[] = {long_header};
    struct ingest_conf c;
    memset(&c, 0, sizeof(c));
    struct kt_err err = {0};
    assert_int_equal(kt_config_load(&ingest_conf_schema, &c, NULL, long_sets, 1, &err), KT_EINVAL);
    assert_string_equal(err.msg, "--set receiver.auth.tenant_header: 256 bytes, want at most 255");
    /* A configuration built otherwise is checked again. */
    struct fx *f = fx_new(NULL, 0);
    char *own = f->conf.receiver_auth.tenant_header;
    f->conf.receiver_auth.tenant_header = c.receiver_auth.tenant_header;
    struct publisher *p = NULL;
    assert_int_equal(publisher_new(&f->conf, f->loop, &p, &err), KT_EINVAL);
    assert_null(p);
    assert_string_equal(err.msg, "[receiver.auth] tenant_header: 256 bytes, want at most 255");
    f->conf.receiver_auth.tenant_header = own;
    kt_config_free(&ingest_conf_schema, &c);
    fx_free(f);

    const char *sets[] = {"receiver.auth.tenant_header=x-tenant"};
    f = fx_new(sets, 1);
    fx_start(f);
    char name[PUBLISHER_TENANT_MAX + 2];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    uint64_t span = 0;
    assert_int_equal(submit_as(f, name, 1, 1, 1, 5, &span, true, NULL), KT_EINVAL);
    assert_non_null(strstr(f->refused_msg, "tenant name of 256 bytes is over 255"));
    name[PUBLISHER_TENANT_MAX] = '\0';
    assert_int_equal(submit_as(f, name, 1, 1, 1, 5, &span, true, NULL), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->n_done, 1);
    assert_int_equal(f->done[0].status, 0);
    fx_free(f);
}

static bool spooled_some(struct fx *f)
{
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    return st.messages_spooled >= 4;
}

static uint64_t spool_span;
static int spool_round;
/* One request of acme and one of globex per tick, while the broker is down. */
static void submit_tenants_on_tick(struct fx *f)
{
    if (spool_round >= 50)
        return;
    spool_round++;
    submit_as(f, "acme", 1, 1, 1, 5, &spool_span, true, NULL);
    submit_as(f, "globex", 1, 1, 1, 5, &spool_span, true, NULL);
}

static bool drained_all(struct fx *f)
{
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    return publisher_idle(f->p) && st.messages_drained >= st.messages_spooled;
}

/* A spool directory of one test's own, and the --set that names it. */
struct spool_dir {
    char path[48];
    char set[64];
};

static void spool_dir_init(struct spool_dir *d, const char *tag)
{
    snprintf(d->path, sizeof(d->path), "/tmp/kt-test-pub-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(d->path));
    snprintf(d->set, sizeof(d->set), "spool.dir=%s", d->path);
}

/* Removes the directory with what the spool left in it (its lock file stays after a
 * drain, as do segments not drained). */
static void spool_dir_rm(struct spool_dir *d)
{
    DIR *dir = opendir(d->path);
    assert_non_null(dir);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[sizeof(d->path) + sizeof(de->d_name) + 1];
        snprintf(path, sizeof(path), "%s/%s", d->path, de->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(dir);
    assert_int_equal(rmdir(d->path), 0);
}

/* Messages spooled while the broker is down keep their tenant header when the spool drains
 * them into Kafka: both those Kafka refused after they were produced (the first ones, in the
 * producer queue before the broker is seen down: purged, then spooled from their delivery
 * report) and those spooled straight away. */
static void test_spooled_messages_keep_the_tenant_header(void **state)
{
    (void)state;
    struct spool_dir dir;
    spool_dir_init(&dir, "spool");
    const char *sets[] = {"receiver.auth.tenant_header=x-tenant", "batch.timeout=0",
                          "kafka.timeout=30s", dir.set};
    struct fx *f = fx_new(sets, 4);
    fx_start(f);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    spool_span = 0;
    spool_round = 0;
    /* batch.timeout 0: produced before the loop runs, so before the broker is seen down. */
    submit_tenants_on_tick(f);
    submit_tenants_on_tick(f);
    f->on_tick = submit_tenants_on_tick;
    assert_true(run_until(f, spooled_some, 20.));
    f->on_tick = NULL;
    want_done = f->n_submitted - f->n_refused;
    assert_true(run_until(f, done_reached, 20.));
    assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
    assert_true(run_until(f, drained_all, 30.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_true(st.messages_drained >= 4);

    /* Request r of the run is acme when even, globex when odd, one span each. */
    size_t n_req = (size_t)spool_span;
    const char **tenant_of_req = calloc(n_req, sizeof(*tenant_of_req));
    assert_true(n_req <= MAX_SPANS);
    for (size_t r = 0; r < n_req; r++)
        tenant_of_req[r] = r % 2 == 0 ? "acme" : "globex";
    assert_int_equal(f->n_refused, 0);
    for (size_t i = 0; i < f->n_done; i++)
        assert_int_equal(f->done[i].status, 0);
    /* Every message once (a drained one counts as produced twice: into the queue, then
     * again from the spool). */
    size_t want = (size_t)(st.messages_delivered);
    struct got *got = calloc(want, sizeof(*got));
    size_t n = consume(f, got, want, 10000);
    assert_int_equal(n, want);
    check_tenants(got, n, tenant_of_req, 1, spool_span);
    got_free(got, n);
    free(got);
    free(tenant_of_req);
    fx_free(f);
    spool_dir_rm(&dir);
}

/* Configuration librdkafka refuses is reported with the [kafka] key. */
static void test_bad_rdkafka_property(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.rdkafka.linger.mss=5"};
    struct fx *f = fx_new(sets, 1);
    struct kt_err err = {0};
    struct publisher *p = NULL;
    assert_int_equal(publisher_new(&f->conf, f->loop, &p, &err), KT_EINVAL);
    assert_null(p);
    assert_int_equal(strncmp(err.msg, "[kafka] rdkafka.linger.mss: librdkafka: ", 40), 0);
    fx_free(f);
}

/* ---- request metadata: include_metadata_keys, topic_from_* ---- */

#define SL(lit) ((struct kt_slice){(const uint8_t *)(lit), sizeof(lit) - 1})

/* Values of include_metadata_keys become record headers, the tenant's first, then by key in
 * the list's order, each key's values in arrival order; requests with other values never
 * share a message, requests with the same ones do. */
static void test_include_metadata_keys_become_record_headers(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.include_metadata_keys=X-Env,x-team",
                          "receiver.auth.tenant_header=x-tenant"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    const struct publisher_meta_value a[] = {{1, SL("a")}, {0, SL("prod")}, {0, SL("eu")}};
    const struct publisher_meta_value b[] = {{0, SL("dev")}};
    const struct publisher_meta ma = {.tenant = "acme", .v = a, .n = 3};
    const struct publisher_meta mb = {.v = b, .n = 1};
    uint64_t span = 0;
    assert_int_equal(submit_meta(f, &ma, 1, 2, &span), 0);
    assert_int_equal(submit_meta(f, &mb, 1, 2, &span), 0);
    assert_int_equal(submit_meta(f, &ma, 1, 2, &span), 0);
    want_done = 3;
    assert_true(run_until(f, done_reached, 10.));
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->done[i].status, 0);
    /* Two traces per route: A's two requests share their messages. */
    struct got got[8];
    size_t n = consume(f, got, 4, 10000);
    assert_int_equal(n, 4);
    int n_a = 0, n_b = 0;
    for (size_t i = 0; i < n; i++) {
        /* Named as configured, as the Collector names them. */
        if (strcmp(got[i].hdrs, "x-tenant=acme;X-Env=prod;X-Env=eu;x-team=a;") == 0) {
            n_a++;
            assert_int_equal(got[i].n_headers, 4);
        } else if (strcmp(got[i].hdrs, "X-Env=dev;") == 0) {
            n_b++;
        } else {
            fail_msg("message %zu has headers '%s'", i, got[i].hdrs);
        }
    }
    assert_int_equal(n_a, 2);
    assert_int_equal(n_b, 2);
    got_free(got, n);
    fx_free(f);
}

/* Spans of one trace, counted across the messages of one topic. */
static size_t spans_in(struct fx *f, const char *topic, size_t want_msgs, unsigned *seen)
{
    struct got got[8];
    size_t n = consume_topic(f, topic, got, want_msgs, 10000);
    assert_int_equal(n, want_msgs);
    size_t spans = 0;
    for (size_t i = 0; i < n; i++)
        spans += check_value(&got[i], seen);
    got_free(got, n);
    return spans;
}

/* topic_from_attribute sends each resource's data to the topic its attribute names (a
 * request's resources to several topics); topic_from_metadata_key wins over it for the
 * whole request. */
static void test_topic_from_attribute_and_metadata_key(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.topic_from_attribute=service.name",
                          "kafka.topic_from_metadata_key=X-Topic"};
    struct fx *f = fx_new(sets, 2);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "svc-0", PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "svc-1", PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "custom", PARTITIONS, 1), 0);
    fx_start(f);
    uint64_t span = 0;
    /* Two resources, svc-0 and svc-1, of one trace each. */
    assert_int_equal(submit_meta(f, NULL, 2, 1, &span), 0);
    const struct publisher_meta mt = {.topic = SL("custom")};
    assert_int_equal(submit_meta(f, &mt, 2, 1, &span), 0);
    want_done = 2;
    assert_true(run_until(f, done_reached, 10.));
    assert_int_equal(f->done[0].status, 0);
    assert_int_equal(f->done[1].status, 0);
    unsigned seen[MAX_SPANS] = {0};
    assert_int_equal(spans_in(f, "svc-0", 1, seen), 1);
    assert_int_equal(spans_in(f, "svc-1", 1, seen), 1);
    assert_int_equal(spans_in(f, "custom", 1, seen), 2);
    assert_int_equal(spans_in(f, TOPIC, 0, seen), 0);
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(seen[i], 1);
    fx_free(f);
}

/* What the client sent wrong is refused with KT_EINVAL naming the key, what has no room
 * left with KT_ETOOBIG; both counted by reason, and nothing of the request is sent. */
static void test_bad_request_metadata_is_refused_and_counted(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.topic_from_metadata_key=x-topic",
                          "kafka.include_metadata_keys=x-env"};
    struct fx *f = fx_new(sets, 2);
    fx_start(f);
    uint64_t span = 0;
    const struct publisher_meta bad_topic = {.topic = SL("no spaces")};
    assert_int_equal(submit_meta(f, &bad_topic, 1, 1, &span), KT_EINVAL);
    assert_non_null(strstr(f->refused_msg, "[kafka] topic_from_metadata_key: topic name"));
    char big[INGEST_META_VALUE_MAX + 1];
    memset(big, 'v', sizeof(big));
    const struct publisher_meta_value v = {0, {(const uint8_t *)big, sizeof(big)}};
    const struct publisher_meta long_value = {.v = &v, .n = 1};
    assert_int_equal(submit_meta(f, &long_value, 1, 1, &span), KT_EINVAL);
    assert_non_null(strstr(f->refused_msg, "header x-env: a value of 256 bytes is over 255"));
    /* Headers of 17 values of 255 bytes: over PUBLISHER_HDRS_MAX. */
    struct publisher_meta_value many[17];
    for (int i = 0; i < 17; i++)
        many[i] = (struct publisher_meta_value){0, {(const uint8_t *)big, sizeof(big) - 1}};
    const struct publisher_meta too_many = {.v = many, .n = 17};
    assert_int_equal(submit_meta(f, &too_many, 1, 1, &span), KT_EINVAL);
    assert_non_null(strstr(f->refused_msg, "over 4096"));
    /* Topics: PUBLISHER_TOPICS_MAX distinct ones, then no more (the old ones still go). */
    char name[32];
    for (int i = 0; i <= PUBLISHER_TOPICS_MAX; i++) {
        int len = snprintf(name, sizeof(name), "t%d", i);
        const struct publisher_meta m = {.topic = {(const uint8_t *)name, (size_t)len}};
        struct kt_buf body = KT_BUF_INIT;
        make_request(1, 1, 1, 5, &span, &body);
        struct kt_err err = {0};
        int rc = publisher_submit(f->p, KT_SIGNAL_TRACES, kt_buf_slice(&body), 1, &m, NULL, NULL,
                                  NULL, &err);
        kt_buf_free(&body);
        if (i < PUBLISHER_TOPICS_MAX) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, KT_ETOOBIG);
        assert_non_null(strstr(err.msg, "256 topics used since start, no room for 't256'"));
    }
    const struct publisher_meta again = {.topic = SL("t7")};
    assert_int_equal(submit_meta(f, &again, 1, 1, &span), 0);
    struct kt_buf mt = KT_BUF_INIT;
    publisher_metrics(f->p, &mt);
    assert_int_equal(kt_buf_append_byte(&mt, 0), 0);
    const char *txt = (const char *)mt.p;
    assert_non_null(strstr(txt, "kotel_ingest_metadata_refused_total{reason=\"too_long\"} 2"));
    assert_non_null(strstr(txt, "kotel_ingest_metadata_refused_total{reason=\"bad_topic\"} 1"));
    assert_non_null(strstr(txt, "kotel_ingest_metadata_refused_total{reason=\"topics_full\"} 1"));
    kt_buf_free(&mt);
    fx_free(f);
}

/* A message spooled while Kafka is down keeps its topic and all its record headers. */
static void test_spooled_messages_keep_topic_and_headers(void **state)
{
    (void)state;
    struct spool_dir dir;
    spool_dir_init(&dir, "meta");
    const char *sets[] = {"kafka.topic_from_metadata_key=x-topic",
                          "kafka.include_metadata_keys=x-env,x-team", dir.set};
    struct fx *f = fx_new(sets, 3);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "custom", PARTITIONS, 1), 0);
    fx_start(f);
    rd_kafka_mock_broker_set_down(f->mc, 1);
    const struct publisher_meta_value v[] = {{0, SL("prod")}, {1, SL("a")}};
    const struct publisher_meta m = {.topic = SL("custom"), .v = v, .n = 2};
    uint64_t span = 0;
    assert_int_equal(submit_meta(f, &m, 1, 1, &span), 0);
    want_done = 1;
    assert_true(run_until(f, done_reached, 15.));
    assert_int_equal(f->done[0].status, 0);
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_int_equal(st.messages_spooled, 1);
    rd_kafka_mock_broker_set_up(f->mc, 1);
    assert_true(run_until(f, drained_all, 30.));
    struct got got[2];
    size_t n = consume_topic(f, "custom", got, 1, 15000);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].hdrs, "x-env=prod;x-team=a;");
    got_free(got, n);
    fx_free(f);
    spool_dir_rm(&dir);
}

/* The bootstrap list names the broker by another name than it advertises ("localhost" for
 * "127.0.0.1", as a DNS alias or a load balancer does): librdkafka keeps the bootstrap
 * entry (node id -1) apart from the broker it learns, and connects to the learned one only
 * for a message. Borrows f; replaces its kafka.brokers. */
static void fx_bootstrap_alias(struct fx *f)
{
    const char *port = strrchr(f->bootstraps, ':');
    assert_non_null(port);
    assert_int_equal(f->conf.kafka.brokers.n, 1);
    char alias[64];
    snprintf(alias, sizeof(alias), "localhost%s", port);
    free(f->conf.kafka.brokers.v[0]);
    f->conf.kafka.brokers.v[0] = strdup(alias);
    assert_non_null(f->conf.kafka.brokers.v[0]);
}

static bool refused_down(struct fx *f)
{
    return strcmp(f->refused_msg, "kafka: all brokers down") == 0;
}

/* Started while every broker is down, behind a bootstrap alias: once the broker is back,
 * only the bootstrap entry connects until something is produced. Requests must be
 * accepted again all the same. */
static void test_cold_start_behind_alias_accepts_once_up(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.timeout=2s", "batch.timeout=10ms"};
    struct fx *f = fx_new(sets, 2);
    fx_bootstrap_alias(f);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    fx_start(f);
    tick_span = 0;
    f->on_tick = submit_on_tick;
    assert_true(run_until(f, refused_down, 10.));
    f->on_tick = NULL;
    want_done = f->n_submitted - f->n_refused;
    assert_true(run_until(f, done_reached, 10.));

    assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
    f->phase = 2;
    want_done = f->n_done;
    f->on_tick = submit_on_tick;
    assert_true(run_until(f, ok_after_up, 15.));
    f->on_tick = NULL;
    assert_null(publisher_refusing(f->p));
    fx_free(f);
}

/* The same with [spool]: what was spooled while every broker was down drains once the
 * broker is back, though nothing new arrives to make librdkafka connect to it. */
static void test_cold_start_behind_alias_drains_spool(void **state)
{
    (void)state;
    struct spool_dir dir;
    spool_dir_init(&dir, "cold");
    const char *sets[] = {"kafka.timeout=2s", "batch.timeout=10ms", dir.set};
    struct fx *f = fx_new(sets, 3);
    fx_bootstrap_alias(f);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
    fx_start(f);
    spool_span = 0;
    spool_round = 0;
    f->on_tick = submit_tenants_on_tick;
    assert_true(run_until(f, spooled_some, 20.));
    f->on_tick = NULL;
    want_done = f->n_submitted - f->n_refused;
    assert_true(run_until(f, done_reached, 20.));
    assert_int_equal(f->n_refused, 0);
    for (size_t i = 0; i < f->n_done; i++)
        assert_int_equal(f->done[i].status, 0);

    assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
    assert_true(run_until(f, drained_all, 30.));
    struct publisher_stats st;
    publisher_get_stats(f->p, &st);
    assert_true(st.messages_drained >= 4);
    struct got *got = calloc((size_t)st.messages_delivered, sizeof(*got));
    size_t n = consume(f, got, (size_t)st.messages_delivered, 10000);
    assert_int_equal(n, (size_t)st.messages_delivered);
    static unsigned seen[MAX_SPANS];
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++)
        check_value(&got[i], seen);
    for (uint64_t i = 0; i < spool_span; i++)
        assert_true(seen[i] >= 1);
    got_free(got, n);
    free(got);
    fx_free(f);
    spool_dir_rm(&dir);
}

int main(void)
{
    kt_log_set_level(KT_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traces_keyed_by_trace_id),
        cmocka_unit_test(test_send_batch_size_flushes_now),
        cmocka_unit_test(test_send_batch_max_size_flushes_between_chunks),
        cmocka_unit_test(test_broker_down_then_up),
        cmocka_unit_test(test_broker_down_times_out),
        cmocka_unit_test(test_cold_start_behind_alias_accepts_once_up),
        cmocka_unit_test(test_cold_start_behind_alias_drains_spool),
        cmocka_unit_test(test_slow_kafka_refuses_up_front),
        cmocka_unit_test(test_shutdown_flushes_and_refuses),
        cmocka_unit_test(test_cancel_and_fire_and_forget),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_large_trace_split_same_key),
        cmocka_unit_test(test_json_encoding),
        cmocka_unit_test(test_traces_encoding_overrides_encoding),
        cmocka_unit_test(test_json_respects_max_message_bytes),
        cmocka_unit_test(test_free_fails_outstanding),
        cmocka_unit_test(test_bad_rdkafka_property),
        cmocka_unit_test(test_tenants_never_share_a_message),
        cmocka_unit_test(test_no_tenant_header_no_header),
        cmocka_unit_test(test_tenant_name_too_long_is_refused),
        cmocka_unit_test(test_spooled_messages_keep_the_tenant_header),
        cmocka_unit_test(test_include_metadata_keys_become_record_headers),
        cmocka_unit_test(test_topic_from_attribute_and_metadata_key),
        cmocka_unit_test(test_bad_request_metadata_is_refused_and_counted),
        cmocka_unit_test(test_spooled_messages_keep_topic_and_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
