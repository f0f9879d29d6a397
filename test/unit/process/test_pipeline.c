/* pipeline between a fake consumer and a fake exporter: what each kind of message leads to
 * (exported, filtered out, dead-lettered, offered to the tail sampler), and that a message's
 * offset is finished only once everything made of it is.
 *
 * The fakes are link-time: this file defines every consumer_* and exporter_* function the
 * pipeline calls, so the linker never takes consumer.o or exporter.o from libkt_process.a
 * (a call to one more of their functions would pull one in and fail the link with duplicate
 * symbols). The fake consumer hands messages to the pipeline when a test says so and records
 * what the pipeline reports back; the fake exporter keeps every submission for the test to
 * complete, fail or refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>

#include "../../../process/conf.h"
#include "../../../process/consumer.h"
#include "../../../process/exporter.h"
#include "../../../process/pipeline.h"
#include "kt_buf.h"
#include "kt_config.h"
#include "kt_err.h"
#include "kt_log.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

#define TRACES_TOPIC "otlp_spans"
#define MAX_EVENTS 64
#define ENDPOINT "http://backend:4317"

/* ---- the fakes ---- */

struct submission {
    enum kt_signal sig;
    struct kt_buf data;
    size_t n_items;
    void *token;
    bool reported; /* done or refused was called for it */
};

struct data_letter {
    char source[160];
    char reason[512];
    size_t len;
    void (*acked)(void *arg, bool delivered);
    void *arg;
};

static struct fakes {
    /* consumer */
    consumer_msg_fn on_msg;
    consumer_revoke_fn on_revoke;
    void *consumer_ctx;
    uint64_t done[MAX_EVENTS]; /* consumer_msg_done, in order */
    size_t n_done;
    uint64_t dead[MAX_EVENTS]; /* consumer_dead_letter_msg: handles */
    char dead_reason[MAX_EVENTS][512];
    size_t n_dead;
    struct data_letter data_dead[MAX_EVENTS]; /* consumer_dead_letter_data */
    size_t n_data_dead;
    size_t delivered;
    bool paused;
    bool closed;
    const char *not_ready; /* consumer_not_ready's answer */
    /* exporter */
    exporter_done_fn exp_done;
    exporter_refused_fn exp_refused;
    exporter_origin_fn exp_origin;
    void *exp_ctx;
    struct submission sub[MAX_EVENTS];
    size_t n_sub;
    bool exp_freed;
    const char *unreachable; /* exporter_unreachable's answer */
} F;

int consumer_new(const struct process_conf *conf, struct ev_loop *loop, consumer_msg_fn on_msg,
                 consumer_revoke_fn on_revoke, void *ctx, struct consumer **out, struct kt_err *err)
{
    (void)conf;
    (void)loop;
    (void)err;
    F.on_msg = on_msg;
    F.on_revoke = on_revoke;
    F.consumer_ctx = ctx;
    *out = (struct consumer *)&F;
    return 0;
}

void consumer_msg_done(struct consumer *c, uint64_t handle)
{
    assert_ptr_equal(c, &F);
    assert_true(F.n_done < MAX_EVENTS);
    F.done[F.n_done++] = handle;
}

/* Like the real consumer without a dead-letter topic: the handle is finished at once. */
int consumer_dead_letter_msg(struct consumer *c, const struct consumer_msg *m, const char *reason)
{
    assert_true(F.n_dead < MAX_EVENTS);
    snprintf(F.dead_reason[F.n_dead], sizeof(F.dead_reason[0]), "%s", reason);
    F.dead[F.n_dead++] = m->handle;
    consumer_msg_done(c, m->handle);
    return 0;
}

/* Kept for the test to acknowledge (or give up) later. */
int consumer_dead_letter_data(struct consumer *c, const char *source, struct kt_slice value,
                              const char *reason, void (*acked)(void *arg, bool delivered),
                              void *arg)
{
    assert_ptr_equal(c, &F);
    assert_true(F.n_data_dead < MAX_EVENTS);
    struct data_letter *d = &F.data_dead[F.n_data_dead++];
    snprintf(d->source, sizeof(d->source), "%s", source);
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    d->len = value.n;
    d->acked = acked;
    d->arg = arg;
    return 0;
}

void consumer_set_paused(struct consumer *c, bool paused)
{
    (void)c;
    F.paused = paused;
}

void consumer_set_signal_paused(struct consumer *c, enum kt_signal sig, bool paused)
{
    (void)c;
    (void)sig;
    (void)paused;
}

bool consumer_signal_paused(const struct consumer *c, enum kt_signal sig)
{
    (void)c;
    (void)sig;
    return false;
}

size_t consumer_pending(const struct consumer *c)
{
    (void)c;
    return F.delivered - F.n_done;
}

void consumer_begin_shutdown(struct consumer *c)
{
    (void)c;
}

void consumer_write_metrics(const struct consumer *c, struct kt_buf *b)
{
    (void)c;
    kt_buf_printf(b, "consumer families\n");
}

void consumer_backlog(const struct consumer *c, struct backlog_view *out)
{
    (void)c;
    memset(out, 0, sizeof(*out));
}

void consumer_replica(const struct consumer *c, struct replica_view *out)
{
    (void)c;
    memset(out, 0, sizeof(*out));
}

const char *consumer_not_ready(struct consumer *c, char *buf, size_t cap)
{
    (void)c;
    if (F.not_ready == NULL)
        return NULL;
    snprintf(buf, cap, "%s", F.not_ready);
    return buf;
}

int consumer_close(struct consumer *c)
{
    (void)c;
    F.closed = true;
    return 0;
}

/* pipeline_check's look at the endpoints: the fake takes any. */
int exporter_check(const struct process_conf *conf, struct kt_err *err)
{
    (void)conf;
    (void)err;
    return 0;
}

int exporter_new(const struct process_conf *conf, struct ev_loop *loop, exporter_done_fn done,
                 void *ctx, struct exporter **out, struct kt_err *err)
{
    (void)conf;
    (void)loop;
    (void)err;
    F.exp_done = done;
    F.exp_ctx = ctx;
    *out = (struct exporter *)&F;
    return 0;
}

int exporter_submit(struct exporter *e, enum kt_signal sig, struct kt_slice data, size_t n_items,
                    const struct exporter_meta *meta, void *token)
{
    (void)meta;
    assert_ptr_equal(e, &F);
    assert_true(F.n_sub < MAX_EVENTS);
    struct submission *s = &F.sub[F.n_sub++];
    memset(s, 0, sizeof(*s));
    s->sig = sig;
    s->n_items = n_items;
    s->token = token;
    assert_int_equal(kt_buf_append(&s->data, data.p, data.n), 0);
    return 0;
}

bool exporter_congested(const struct exporter *e)
{
    (void)e;
    return false;
}

bool exporter_signal_congested(const struct exporter *e, enum kt_signal sig)
{
    (void)e;
    (void)sig;
    return false;
}

void exporter_set_refused(struct exporter *e, exporter_refused_fn fn)
{
    (void)e;
    F.exp_refused = fn;
}

void exporter_set_origin(struct exporter *e, exporter_origin_fn fn)
{
    (void)e;
    F.exp_origin = fn;
}

void exporter_flush(struct exporter *e)
{
    (void)e;
}

bool exporter_idle(const struct exporter *e)
{
    (void)e;
    for (size_t i = 0; i < F.n_sub; i++)
        if (!F.sub[i].reported)
            return false;
    return true;
}

int exporter_reload(struct exporter *e, struct kt_err *err)
{
    (void)e;
    (void)err;
    return 0;
}

void exporter_write_metrics(const struct exporter *e, struct kt_buf *b)
{
    (void)e;
    kt_buf_printf(b, "exporter families\n");
}

const char *exporter_unreachable(const struct exporter *e, const char **url)
{
    (void)e;
    (void)url;
    return F.unreachable;
}

/* As the real one: every token not reported yet is, as not exported. */
void exporter_free(struct exporter *e)
{
    (void)e;
    for (size_t i = 0; i < F.n_sub; i++)
        if (!F.sub[i].reported) {
            F.sub[i].reported = true;
            F.exp_done(F.exp_ctx, F.sub[i].token, KT_EAGAIN, "shutting down");
        }
    F.exp_freed = true;
}

/* ---- fixture ---- */

struct fx {
    struct process_conf conf;
    struct ev_loop *loop;
    struct pipeline *p;
};

static struct fx *fx_new(const char *const *sets, size_t n)
{
    kt_log_set_level(getenv("KT_TEST_DEBUG") ? KT_LOG_DEBUG : KT_LOG_ERROR);
    memset(&F, 0, sizeof(F));
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    const char *all[16] = {"exporter.endpoint=" ENDPOINT};
    assert_true(n < 16);
    if (n > 0)
        memcpy(all + 1, sets, n * sizeof(*sets));
    struct kt_err err = {0};
    if (kt_config_load(&process_conf_schema, &fx->conf, NULL, all, n + 1, &err) != 0)
        fail_msg("config: %s", err.msg);
    fx->loop = ev_loop_new(EVFLAG_AUTO);
    if (pipeline_new(&fx->conf, fx->loop, &fx->p, &err) != 0)
        fail_msg("pipeline_new: %s", err.msg);
    assert_non_null(F.on_msg);
    assert_non_null(F.exp_refused);
    return fx;
}

static void fx_free(struct fx *fx)
{
    pipeline_free(fx->p);
    assert_true(F.exp_freed);
    assert_true(F.closed);
    for (size_t i = 0; i < F.n_sub; i++)
        kt_buf_free(&F.sub[i].data);
    ev_loop_destroy(fx->loop);
    process_conf_free(&fx->conf);
    free(fx);
}

/* Hands the pipeline a message of sig at partition/offset; its handle is 1000 + offset. */
static uint64_t deliver(enum kt_signal sig, int32_t partition, int64_t offset,
                        const struct kt_buf *value)
{
    static const char *const topics[KT_SIGNAL_COUNT] = {TRACES_TOPIC, "otlp_metrics", "otlp_logs"};
    struct consumer_msg m = {
        .sig = sig,
        .topic = topics[sig],
        .partition = partition,
        .offset = offset,
        .value = kt_buf_slice(value),
        .handle = 1000 + (uint64_t)offset,
    };
    F.delivered++;
    F.on_msg(F.consumer_ctx, &m);
    return m.handle;
}

static size_t times_done(uint64_t handle)
{
    size_t n = 0;
    for (size_t i = 0; i < F.n_done; i++)
        n += F.done[i] == handle;
    return n;
}

/* The exporter reports submission i. */
static void complete(size_t i, int status)
{
    assert_true(i < F.n_sub);
    assert_false(F.sub[i].reported);
    F.sub[i].reported = true;
    F.exp_done(F.exp_ctx, F.sub[i].token, status, status == 0 ? "" : "failed");
}

/* The backend refused submission i for good. */
static void refuse(size_t i, const char *message)
{
    assert_true(i < F.n_sub);
    assert_false(F.sub[i].reported);
    F.sub[i].reported = true;
    size_t end = F.sub[i].data.len;
    F.exp_refused(F.exp_ctx, F.sub[i].sig, kt_buf_slice(&F.sub[i].data), &F.sub[i].token, &end, 1,
                  message);
}

/* ---- messages ---- */

/* A TracesData of n spans named names[i]; span i is of trace trace + step * i (its ID 16
 * times that byte). */
static void traces(struct kt_buf *out, const char *const *names, size_t n, uint8_t trace,
                   uint8_t step)
{
    uint8_t ids[8][16], sids[8][8];
    Span spans[8], *sp[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        Span s = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
        memset(ids[i], (uint8_t)(trace + step * i), 16);
        memset(sids[i], (uint8_t)(i + 1), 8);
        s.trace_id = (ProtobufCBinaryData){16, ids[i]};
        s.span_id = (ProtobufCBinaryData){8, sids[i]};
        s.name = (char *)names[i];
        s.start_time_unix_nano = 1000;
        s.end_time_unix_nano = 2000;
        spans[i] = s;
        sp[i] = &spans[i];
    }
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.spans = sp;
    ss.n_spans = n;
    ScopeSpans *ssp = &ss;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.scope_spans = &ssp;
    rs.n_scope_spans = 1;
    ResourceSpans *rsp = &rs;
    TracesData td = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    td.resource_spans = &rsp;
    td.n_resource_spans = 1;
    kt_buf_reset(out);
    assert_int_equal(kt_buf_reserve(out, protobuf_c_message_get_packed_size(&td.base)), 0);
    out->len = protobuf_c_message_pack(&td.base, out->p);
}

/* A LogsData of n records. */
static void logs(struct kt_buf *out, size_t n)
{
    Opentelemetry__Proto__Logs__V1__LogRecord recs[8], *rp[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        Opentelemetry__Proto__Logs__V1__LogRecord r =
            OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
        r.time_unix_nano = 1000 + i;
        r.severity_number = 9;
        recs[i] = r;
        rp[i] = &recs[i];
    }
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.log_records = rp;
    sl.n_log_records = n;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *slp = &sl;
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.scope_logs = &slp;
    rl.n_scope_logs = 1;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rlp = &rl;
    Opentelemetry__Proto__Logs__V1__LogsData ld = OPENTELEMETRY__PROTO__LOGS__V1__LOGS_DATA__INIT;
    ld.resource_logs = &rlp;
    ld.n_resource_logs = 1;
    kt_buf_reset(out);
    assert_int_equal(kt_buf_reserve(out, protobuf_c_message_get_packed_size(&ld.base)), 0);
    out->len = protobuf_c_message_pack(&ld.base, out->p);
}

/* A MetricsData of one gauge named name with n data points. */
static void metrics(struct kt_buf *out, const char *name, size_t n)
{
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint dps[8], *dpp[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint d =
            OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
        d.time_unix_nano = 1000 + i;
        d.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        d.as_int = (int64_t)i;
        dps[i] = d;
        dpp[i] = &dps[i];
    }
    Opentelemetry__Proto__Metrics__V1__Gauge g = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    g.data_points = dpp;
    g.n_data_points = n;
    Opentelemetry__Proto__Metrics__V1__Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m.name = (char *)name;
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m.gauge = &g;
    Opentelemetry__Proto__Metrics__V1__Metric *mp = &m;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.metrics = &mp;
    sm.n_metrics = 1;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp = &sm;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.scope_metrics = &smp;
    rm.n_scope_metrics = 1;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp = &rm;
    Opentelemetry__Proto__Metrics__V1__MetricsData md =
        OPENTELEMETRY__PROTO__METRICS__V1__METRICS_DATA__INIT;
    md.resource_metrics = &rmp;
    md.n_resource_metrics = 1;
    kt_buf_reset(out);
    assert_int_equal(kt_buf_reserve(out, protobuf_c_message_get_packed_size(&md.base)), 0);
    out->len = protobuf_c_message_pack(&md.base, out->p);
}

/* The span names of an exported TracesData, comma-separated, in order. */
static void span_names(const struct kt_buf *data, char *out, size_t cap)
{
    TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, data->len, data->p);
    assert_non_null(td);
    out[0] = '\0';
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++) {
            const ScopeSpans *ss = td->resource_spans[r]->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++) {
                size_t have = strlen(out);
                snprintf(out + have, cap - have, "%s%s", have ? "," : "", ss->spans[i]->name);
            }
        }
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
}

static void assert_stats(const struct fx *fx, uint64_t messages, uint64_t poison, uint64_t items_in,
                         uint64_t filtered, uint64_t exported)
{
    struct pipeline_stats st;
    pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.messages, messages);
    assert_int_equal(st.poison, poison);
    assert_int_equal(st.items_in, items_in);
    assert_int_equal(st.items_filtered, filtered);
    assert_int_equal(st.items_exported, exported);
}

/* ---- tests ---- */

/* Valid traces go to the exporter as they arrived; the offset is finished only when the
 * exporter reports the data exported, never before. Both ways through: as bytes (nothing
 * configured) and through decoded objects (a filter that keeps everything). */
static void test_traces_exported_then_done(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c"};
    const char *keep_all[] = {"filter.trace_conditions=span.name == \"none of these\""};
    for (int decoded = 0; decoded <= 1; decoded++) {
        struct fx *fx = fx_new(keep_all, (size_t)decoded);
        struct kt_buf msg = {0};
        traces(&msg, names, 3, 7, 0);
        uint64_t h = deliver(KT_SIGNAL_TRACES, 0, 5, &msg);
        assert_int_equal(F.n_sub, 1);
        assert_int_equal(F.sub[0].sig, KT_SIGNAL_TRACES);
        assert_int_equal(F.sub[0].n_items, 3);
        assert_int_equal(F.sub[0].data.len, msg.len);
        assert_memory_equal(F.sub[0].data.p, msg.p, msg.len);
        assert_int_equal(F.n_done, 0);
        complete(0, 0);
        assert_int_equal(F.n_done, 1);
        assert_int_equal(times_done(h), 1);
        assert_int_equal(F.n_dead + F.n_data_dead, 0);
        assert_stats(fx, 1, 0, 3, 0, 3);
        kt_buf_free(&msg);
        fx_free(fx);
    }
}

/* What the filter drops is not exported; a message it empties is finished at once, one it
 * thins out goes out re-encoded with what is left. */
static void test_filtered_out(void **state)
{
    (void)state;
    const char *sets[] = {"filter.trace_conditions=span.name == \"drop\""};
    struct fx *fx = fx_new(sets, 1);
    static const char *const all_dropped[] = {"drop", "drop"};
    static const char *const some_dropped[] = {"keep1", "drop", "keep2"};
    struct kt_buf msg = {0};
    traces(&msg, all_dropped, 2, 1, 0);
    uint64_t empty = deliver(KT_SIGNAL_TRACES, 0, 1, &msg);
    assert_int_equal(F.n_sub, 0);
    assert_int_equal(times_done(empty), 1);

    traces(&msg, some_dropped, 3, 2, 0);
    uint64_t thinned = deliver(KT_SIGNAL_TRACES, 0, 2, &msg);
    assert_int_equal(F.n_sub, 1);
    assert_int_equal(F.sub[0].n_items, 2);
    char got[64];
    span_names(&F.sub[0].data, got, sizeof(got));
    assert_string_equal(got, "keep1,keep2");
    assert_int_equal(times_done(thinned), 0);
    complete(0, 0);
    assert_int_equal(times_done(thinned), 1);
    assert_int_equal(F.n_dead, 0);
    assert_stats(fx, 2, 0, 5, 3, 2);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* A message that is not OTLP is dead-lettered (the consumer finishes it) and nothing of it
 * is exported; the pipeline does not finish it a second time. Whether or not a filter would
 * decode it, and for otlp_json that does not parse. */
static void test_poison_pill(void **state)
{
    (void)state;
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    struct kt_buf bad = {0};
    assert_int_equal(kt_buf_append(&bad, junk, sizeof(junk)), 0);
    const char *sets[][2] = {
        {"kafka.encoding=otlp_proto", NULL},
        {"kafka.encoding=otlp_proto", "filter.log_conditions=log.severity_number < 5"},
        {"kafka.encoding=otlp_json", NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        struct fx *fx = fx_new(sets[i], sets[i][1] ? 2 : 1);
        uint64_t h = deliver(KT_SIGNAL_LOGS, 3, 9, &bad);
        assert_int_equal(F.n_dead, 1);
        assert_int_equal(F.dead[0], h);
        assert_true(strlen(F.dead_reason[0]) > 0);
        assert_int_equal(times_done(h), 1);
        assert_int_equal(F.n_sub, 0);
        assert_stats(fx, 1, 1, 0, 0, 0);
        fx_free(fx);
        assert_int_equal(times_done(h), 1);
    }
    kt_buf_free(&bad);
}

/* [filter] error_mode = propagate: a condition that fails dead-letters the message with the
 * filter's reason; ignore: the message goes on. */
static void test_filter_error_modes(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct kt_buf msg = {0};
    traces(&msg, names, 2, 3, 0);
    const char *propagate[] = {"filter.trace_conditions=Len(span.kind) > 1"};
    struct fx *fx = fx_new(propagate, 1);
    uint64_t h = deliver(KT_SIGNAL_TRACES, 0, 4, &msg);
    assert_int_equal(F.n_dead, 1);
    assert_non_null(strstr(F.dead_reason[0], "[filter] error_mode = propagate: "));
    assert_non_null(strstr(F.dead_reason[0], "Len: want a string, map or list, got int"));
    assert_int_equal(times_done(h), 1);
    assert_int_equal(F.n_sub, 0);
    fx_free(fx);

    const char *ignore[] = {"filter.trace_conditions=Len(span.kind) > 1",
                            "filter.error_mode=ignore"};
    fx = fx_new(ignore, 2);
    h = deliver(KT_SIGNAL_TRACES, 0, 4, &msg);
    assert_int_equal(F.n_dead, 0);
    assert_int_equal(F.n_sub, 1);
    complete(0, 0);
    assert_int_equal(times_done(h), 1);
    fx_free(fx);
    kt_buf_free(&msg);
}

/* Data the backend refused for good is dead-lettered as data; its messages are finished once
 * that copy is acknowledged, and stay unfinished if it is given up. A request given up
 * (KT_EINVAL) is dropped deliberately and finishes its message; one not exported because of
 * shutdown (KT_EAGAIN) does not. */
static void test_refused_dead_letters_data(void **state)
{
    (void)state;
    struct fx *fx = fx_new(NULL, 0);
    struct kt_buf msg = {0};
    logs(&msg, 2);
    uint64_t acked = deliver(KT_SIGNAL_LOGS, 0, 1, &msg);
    uint64_t lost = deliver(KT_SIGNAL_LOGS, 0, 2, &msg);
    uint64_t dropped = deliver(KT_SIGNAL_LOGS, 0, 3, &msg);
    uint64_t shutdown = deliver(KT_SIGNAL_LOGS, 0, 4, &msg);
    assert_int_equal(F.n_sub, 4);

    refuse(0, "bad data");
    refuse(1, "bad data");
    assert_int_equal(F.n_data_dead, 2);
    assert_string_equal(F.data_dead[0].source, "logs refused by " ENDPOINT);
    assert_string_equal(F.data_dead[0].reason, "bad data");
    assert_int_equal(F.data_dead[0].len, msg.len);
    assert_int_equal(F.n_done, 0); /* not before the copy is acknowledged */
    F.data_dead[0].acked(F.data_dead[0].arg, true);
    F.data_dead[1].acked(F.data_dead[1].arg, false);
    assert_int_equal(times_done(acked), 1);
    assert_int_equal(times_done(lost), 0);

    complete(2, KT_EINVAL);
    assert_int_equal(times_done(dropped), 1);
    complete(3, KT_EAGAIN);
    assert_int_equal(times_done(shutdown), 0);
    assert_int_equal(F.n_done, 2);
    assert_int_equal(F.n_dead, 0);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* The backend refused submissions first..first+n-1 for good, sent as one request. */
static void refuse_together(size_t first, size_t n, const char *message)
{
    struct kt_buf data = {0};
    void *tokens[4];
    size_t ends[4];
    assert_true(n <= 4 && first + n <= F.n_sub);
    for (size_t i = 0; i < n; i++) {
        struct submission *s = &F.sub[first + i];
        assert_false(s->reported);
        s->reported = true;
        assert_int_equal(kt_buf_append(&data, s->data.p, s->data.len), 0);
        tokens[i] = s->token;
        ends[i] = data.len;
    }
    F.exp_refused(F.exp_ctx, F.sub[first].sig, kt_buf_slice(&data), tokens, ends, n, message);
    kt_buf_free(&data);
}

/* In a pass-through to a protobuf backend a span's own fields are not checked: a message with
 * a bad span name is exported. If the backend refuses its request, every piece is checked in
 * full: the bad one is dead-lettered alone, naming what is wrong, the good one is sent again,
 * and only a second refusal dead-letters it. A refusal of pieces that all pass the check is
 * not about them: they are dead-lettered together at once. */
static void test_refused_pass_through_is_checked_in_full(void **state)
{
    (void)state;
    static const char *const good_names[] = {"a", "b", "c"};
    static const char *const bad_names[] = {"ok", "b\377d"}; /* 0xff between b and d */
    struct kt_buf good = {0}, bad = {0};
    traces(&good, good_names, 3, 7, 0);
    traces(&bad, bad_names, 2, 9, 0);
    struct fx *fx = fx_new(NULL, 0);
    uint64_t hg = deliver(KT_SIGNAL_TRACES, 0, 1, &good);
    uint64_t hb = deliver(KT_SIGNAL_TRACES, 0, 2, &bad);
    assert_int_equal(F.n_dead, 0);
    assert_int_equal(F.n_sub, 2);
    assert_int_equal(F.sub[1].n_items, 2);

    refuse_together(0, 2, "string field contains invalid UTF-8");
    assert_int_equal(F.n_data_dead, 1);
    assert_int_equal(F.data_dead[0].len, bad.len);
    assert_string_equal(F.data_dead[0].source, "traces refused by " ENDPOINT);
    assert_non_null(strstr(F.data_dead[0].reason,
                           "resource_spans[0].scope_spans[0].spans[1].name: invalid UTF-8"));
    assert_non_null(
        strstr(F.data_dead[0].reason, "(the backend said: string field contains invalid UTF-8)"));
    assert_int_equal(F.n_sub, 3);
    assert_int_equal(F.sub[2].n_items, 3);
    assert_int_equal(F.sub[2].data.len, good.len);
    assert_memory_equal(F.sub[2].data.p, good.p, good.len);
    F.data_dead[0].acked(F.data_dead[0].arg, true);
    assert_int_equal(times_done(hb), 1);
    assert_int_equal(times_done(hg), 0);

    /* Checked now: a second refusal is final. */
    refuse(2, "still no");
    assert_int_equal(F.n_sub, 3);
    assert_int_equal(F.n_data_dead, 2);
    assert_string_equal(F.data_dead[1].reason, "still no");
    F.data_dead[1].acked(F.data_dead[1].arg, true);
    assert_int_equal(times_done(hg), 1);

    /* Two good messages refused together go together. */
    uint64_t h1 = deliver(KT_SIGNAL_TRACES, 0, 3, &good);
    uint64_t h2 = deliver(KT_SIGNAL_TRACES, 0, 4, &good);
    refuse_together(3, 2, "quota");
    assert_int_equal(F.n_sub, 5);
    assert_int_equal(F.n_data_dead, 3);
    assert_int_equal(F.data_dead[2].len, 2 * good.len);
    assert_string_equal(F.data_dead[2].reason, "quota");
    F.data_dead[2].acked(F.data_dead[2].arg, true);
    assert_int_equal(times_done(h1) + times_done(h2), 2);
    fx_free(fx);

    /* Where kotel reads the spans (a filter) or writes OTLP/JSON, all is checked at once. */
    const char *sets[][1] = {{"filter.trace_conditions=span.name == \"x\""},
                             {"exporter.protocol=http/json"}};
    for (size_t i = 0; i < 2; i++) {
        fx = fx_new(sets[i], 1);
        hb = deliver(KT_SIGNAL_TRACES, 0, 5, &bad);
        assert_int_equal(F.n_sub, 0);
        assert_int_equal(F.n_dead, 1);
        assert_int_equal(F.dead[0], hb);
        assert_non_null(strstr(F.dead_reason[0], "spans[1].name: invalid UTF-8"));
        fx_free(fx);
    }
    kt_buf_free(&good);
    kt_buf_free(&bad);
}

/* Logs and metrics go to the exporter as their own signal, with their item counts (log
 * records, data points), as bytes or re-encoded after a filter. */
static void test_logs_and_metrics(void **state)
{
    (void)state;
    const char *sets[] = {"filter.metric_conditions=metric.name == \"drop\""};
    struct fx *fx = fx_new(sets, 1);
    struct kt_buf l = {0}, m = {0}, dropped = {0};
    logs(&l, 3);
    metrics(&m, "keep", 4);
    metrics(&dropped, "drop", 2);
    uint64_t hl = deliver(KT_SIGNAL_LOGS, 0, 1, &l);
    uint64_t hm = deliver(KT_SIGNAL_METRICS, 0, 2, &m);
    uint64_t hd = deliver(KT_SIGNAL_METRICS, 0, 3, &dropped);
    assert_int_equal(F.n_sub, 2);
    assert_int_equal(F.sub[0].sig, KT_SIGNAL_LOGS);
    assert_int_equal(F.sub[0].n_items, 3);
    assert_memory_equal(F.sub[0].data.p, l.p, l.len);
    assert_int_equal(F.sub[1].sig, KT_SIGNAL_METRICS);
    assert_int_equal(F.sub[1].n_items, 4);
    Opentelemetry__Proto__Metrics__V1__MetricsData *md =
        opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, F.sub[1].data.len,
                                                                F.sub[1].data.p);
    assert_non_null(md);
    assert_string_equal(md->resource_metrics[0]->scope_metrics[0]->metrics[0]->name, "keep");
    opentelemetry__proto__metrics__v1__metrics_data__free_unpacked(md, NULL);
    assert_int_equal(times_done(hd), 1);
    complete(1, 0);
    complete(0, 0);
    assert_int_equal(times_done(hl), 1);
    assert_int_equal(times_done(hm), 1);
    assert_stats(fx, 3, 0, 9, 2, 7);
    kt_buf_free(&l);
    kt_buf_free(&m);
    kt_buf_free(&dropped);
    fx_free(fx);
}

/* A revoked partition's messages in flight are abandoned: their exports still complete, but
 * nothing of theirs is finished; other partitions are unaffected. */
static void test_revoke_abandons_pending(void **state)
{
    (void)state;
    struct fx *fx = fx_new(NULL, 0);
    static const char *const names[] = {"x"};
    struct kt_buf msg = {0};
    traces(&msg, names, 1, 9, 0);
    uint64_t p0a = deliver(KT_SIGNAL_TRACES, 0, 1, &msg);
    uint64_t p0b = deliver(KT_SIGNAL_TRACES, 0, 2, &msg);
    uint64_t p1 = deliver(KT_SIGNAL_TRACES, 1, 3, &msg);
    F.on_revoke(F.consumer_ctx, TRACES_TOPIC, 0);
    F.on_revoke(F.consumer_ctx, "not_a_signal_topic", 1);
    for (size_t i = 0; i < F.n_sub; i++)
        complete(i, 0);
    assert_int_equal(times_done(p0a), 0);
    assert_int_equal(times_done(p0b), 0);
    assert_int_equal(times_done(p1), 1);
    kt_buf_free(&msg);
    fx_free(fx);
}

struct waiter {
    struct ev_loop *loop;
    ev_timer check, guard;
    size_t want_subs;
    bool timed_out;
};

static void check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct waiter *wt = w->data;
    if (F.n_sub >= wt->want_subs)
        ev_break(loop, EVBREAK_ONE);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct waiter *wt = w->data;
    wt->timed_out = true;
    ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop (the pipeline's sampler tick) until n submissions were made. */
static void run_until_submitted(struct ev_loop *loop, size_t n)
{
    struct waiter wt = {.loop = loop, .want_subs = n};
    ev_timer_init(&wt.check, check_cb, 0.01, 0.01);
    ev_timer_init(&wt.guard, guard_cb, 10., 0.);
    wt.check.data = wt.guard.data = &wt;
    ev_timer_start(loop, &wt.check);
    ev_timer_start(loop, &wt.guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &wt.check);
    ev_timer_stop(loop, &wt.guard);
    assert_false(wt.timed_out);
}

/* Tail sampling: each trace of a message is offered on its own and exported when decided;
 * the message is finished only when every trace made of it is exported. On revocation,
 * traces the sampler still holds are forgotten and their message stays unfinished. */
static void test_tail_sampling(void **state)
{
    (void)state;
    const char *sets[] = {"tail_sampling.decision_wait=100ms",
                          "tail_sampling.policy.all.type=always_sample"};
    struct fx *fx = fx_new(sets, 2);
    static const char *const names[] = {"t1", "t2"};
    struct kt_buf msg = {0};
    traces(&msg, names, 2, 1, 1); /* two traces in one message */
    uint64_t h = deliver(KT_SIGNAL_TRACES, 0, 1, &msg);
    assert_int_equal(F.n_sub, 0); /* held until decision_wait */
    run_until_submitted(fx->loop, 2);
    assert_int_equal(F.n_sub, 2);
    char a[16], b[16];
    span_names(&F.sub[0].data, a, sizeof(a));
    span_names(&F.sub[1].data, b, sizeof(b));
    assert_true((strcmp(a, "t1") == 0 && strcmp(b, "t2") == 0) ||
                (strcmp(a, "t2") == 0 && strcmp(b, "t1") == 0));
    complete(0, 0);
    assert_int_equal(times_done(h), 0);
    complete(1, 0);
    assert_int_equal(times_done(h), 1);

    /* New traces: decisions already made would export late spans at once. */
    static const char *const held_names[] = {"h1", "h2"}, *const after_names[] = {"u1", "u2"};
    traces(&msg, held_names, 2, 0x10, 1);
    uint64_t held = deliver(KT_SIGNAL_TRACES, 0, 2, &msg);
    F.on_revoke(F.consumer_ctx, TRACES_TOPIC, 0);
    traces(&msg, after_names, 2, 0x20, 1);
    uint64_t after = deliver(KT_SIGNAL_TRACES, 1, 3, &msg);
    /* Traces are decided in the order they arrived: had the held ones not been forgotten,
     * they would be exported before or with these. */
    run_until_submitted(fx->loop, 4);
    assert_int_equal(F.n_sub, 4);
    span_names(&F.sub[2].data, a, sizeof(a));
    span_names(&F.sub[3].data, b, sizeof(b));
    assert_true((strcmp(a, "u1") == 0 && strcmp(b, "u2") == 0) ||
                (strcmp(a, "u2") == 0 && strcmp(b, "u1") == 0));
    complete(2, 0);
    complete(3, 0);
    assert_int_equal(times_done(held), 0);
    assert_int_equal(times_done(after), 1);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* Spans whose attribute "tier" is the string "process", of those in data. */
static size_t spans_edited(const struct kt_buf *data, size_t *n_spans)
{
    TracesData *td = opentelemetry__proto__trace__v1__traces_data__unpack(NULL, data->len, data->p);
    assert_non_null(td);
    size_t n = 0;
    *n_spans = 0;
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++) {
            const ScopeSpans *ss = td->resource_spans[r]->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++, (*n_spans)++)
                for (size_t k = 0; k < ss->spans[i]->n_attributes; k++) {
                    const Opentelemetry__Proto__Common__V1__KeyValue *kv =
                        ss->spans[i]->attributes[k];
                    n += strcmp(kv->key, "tier") == 0 && kv->value != NULL &&
                         kv->value->value_case ==
                             OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
                         strcmp(kv->value->string_value, "process") == 0;
                }
        }
    opentelemetry__proto__trace__v1__traces_data__free_unpacked(td, NULL);
    return n;
}

/* A transform of span attribute edits (span_edit.h) reaches the backend whether it runs on
 * every message (no filter, no sampler: on the bytes, without objects) or on sampled traces
 * (deferred), and a message it edits is finished once. */
static void test_span_attribute_edits(void **state)
{
    (void)state;
    const char *sets[] = {"transform.trace_statements=set(span.attributes[\"tier\"], \"process\")",
                          "tail_sampling.decision_wait=100ms",
                          "tail_sampling.policy.all.type=always_sample"};
    static const char *const names[] = {"a", "b", "c"};
    for (size_t n_sets = 1; n_sets <= 3; n_sets += 2) {
        struct fx *fx = fx_new(sets, n_sets);
        struct kt_buf msg = {0};
        traces(&msg, names, 3, 7, 0);
        uint64_t h = deliver(KT_SIGNAL_TRACES, 0, 5, &msg);
        if (n_sets == 3)
            run_until_submitted(fx->loop, 1);
        assert_int_equal(F.n_sub, 1);
        assert_int_equal(F.sub[0].n_items, 3);
        size_t n_spans;
        assert_int_equal(spans_edited(&F.sub[0].data, &n_spans), 3);
        assert_int_equal(n_spans, 3);
        complete(0, 0);
        assert_int_equal(times_done(h), 1);
        assert_int_equal(F.n_dead + F.n_data_dead, 0);
        kt_buf_free(&msg);
        fx_free(fx);
    }
}

/* An export's log lines name its messages: topic, partitions and offset ranges, the
 * partitions past the first few counted. */
static void test_export_origin(void **state)
{
    (void)state;
    struct fx *fx = fx_new(NULL, 0);
    assert_non_null(F.exp_origin);
    static const char *const names[] = {"a"};
    struct kt_buf msg = {0};
    traces(&msg, names, 1, 1, 0);
    const struct {
        int32_t partition;
        int64_t offset;
    } at[] = {{0, 5}, {2, 7}, {0, 9}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1}, {7, 2}};
    size_t n = sizeof(at) / sizeof(at[0]);
    for (size_t i = 0; i < n; i++)
        deliver(KT_SIGNAL_TRACES, at[i].partition, at[i].offset, &msg);
    assert_int_equal(F.n_sub, n);
    void *tokens[16];
    for (size_t i = 0; i < n; i++)
        tokens[i] = F.sub[i].token;
    char buf[EXPORTER_ORIGIN_MAX];
    F.exp_origin(F.exp_ctx, tokens, 3, buf, sizeof(buf));
    assert_string_equal(buf, TRACES_TOPIC " [0] offsets 5..9, [2] offset 7");
    F.exp_origin(F.exp_ctx, tokens, n, buf, sizeof(buf));
    assert_string_equal(buf,
                        TRACES_TOPIC " [0] offsets 5..9, [2] offset 7, [3] offset 1, [4] "
                                     "offset 1, [5] offset 1, [6] offset 1 and 2 messages of other "
                                     "partitions");
    /* Cut to the room given, never past it. */
    F.exp_origin(F.exp_ctx, tokens, 3, buf, 12);
    assert_int_equal(strlen(buf), 11);
    for (size_t i = 0; i < n; i++)
        complete(i, 0);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* max_pending_messages unfinished messages pause consumption; finishing one resumes it. */
static void test_backpressure(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.max_pending_messages=2"};
    struct fx *fx = fx_new(sets, 1);
    struct kt_buf msg = {0};
    logs(&msg, 1);
    deliver(KT_SIGNAL_LOGS, 0, 1, &msg);
    assert_false(F.paused);
    deliver(KT_SIGNAL_LOGS, 0, 2, &msg);
    assert_true(F.paused);
    complete(0, 0);
    assert_false(F.paused);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* Once paused at max_pending_messages, consumption resumes only a quarter of the limit below
 * it (each pause drops what librdkafka fetched ahead). */
static void test_backpressure_resumes_below_the_limit(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.max_pending_messages=8"};
    struct fx *fx = fx_new(sets, 1);
    struct kt_buf msg = {0};
    logs(&msg, 1);
    for (int64_t o = 1; o <= 8; o++)
        deliver(KT_SIGNAL_LOGS, 0, o, &msg);
    assert_true(F.paused);
    complete(0, 0);
    assert_true(F.paused);
    complete(1, 0);
    assert_false(F.paused);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* /metrics: each signal's counts under its label, then the consumer's and the exporter's
 * families. */
static void test_metrics_per_signal(void **state)
{
    (void)state;
    const char *sets[] = {"filter.trace_conditions=span.name == \"drop\""};
    struct fx *fx = fx_new(sets, 1);
    static const char *const names[] = {"keep", "drop", "drop"};
    struct kt_buf msg = {0};
    traces(&msg, names, 3, 1, 0);
    deliver(KT_SIGNAL_TRACES, 0, 1, &msg);
    logs(&msg, 4);
    deliver(KT_SIGNAL_LOGS, 0, 2, &msg);
    struct kt_buf out = {0};
    pipeline_write_metrics(fx->p, &out);
    assert_int_equal(kt_buf_append(&out, "", 1), 0);
    const char *t = (const char *)out.p;
    static const char *const want[] = {
        "# TYPE kotel_process_items_consumed_total counter\n",
        "kotel_process_messages_consumed_total{signal=\"traces\"} 1\n",
        "kotel_process_messages_consumed_total{signal=\"logs\"} 1\n",
        "kotel_process_items_consumed_total{signal=\"traces\"} 3\n",
        "kotel_process_items_consumed_total{signal=\"metrics\"} 0\n",
        "kotel_process_items_consumed_total{signal=\"logs\"} 4\n",
        "kotel_process_items_filtered_total{signal=\"traces\"} 2\n",
        "kotel_process_items_submitted_total{signal=\"traces\"} 1\n",
        "kotel_process_items_submitted_total{signal=\"logs\"} 4\n",
        "kotel_process_filter_errors_total{signal=\"traces\"} 0\n",
        "kotel_process_transform_errors_total{signal=\"logs\"} 0\n",
        "consumer families\nexporter families\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(t, want[i]) == NULL)
            fail_msg("missing %s in:\n%s", want[i], t);
    /* Without a sampler, no sampler families. */
    assert_null(strstr(t, "tail_sampling"));
    kt_buf_free(&out);
    kt_buf_free(&msg);
    fx_free(fx);
}

/* /readyz: the consumer's reason first, then the backend's (naming the endpoint), then
 * shutting down; NULL when neither has one. */
static void test_not_ready_reasons(void **state)
{
    (void)state;
    struct fx *fx = fx_new(NULL, 0);
    char buf[256];
    assert_null(pipeline_not_ready(fx->p, buf, sizeof(buf)));
    F.unreachable = "connect: Connection refused";
    assert_string_equal(pipeline_not_ready(fx->p, buf, sizeof(buf)),
                        "backend " ENDPOINT " not reachable: connect: Connection refused");
    F.not_ready = "no partitions assigned yet: joining consumer group \"g\"";
    assert_string_equal(pipeline_not_ready(fx->p, buf, sizeof(buf)), F.not_ready);
    F.not_ready = F.unreachable = NULL;
    pipeline_begin_shutdown(fx->p);
    assert_string_equal(pipeline_not_ready(fx->p, buf, sizeof(buf)), "shutting down");
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traces_exported_then_done),
        cmocka_unit_test(test_filtered_out),
        cmocka_unit_test(test_poison_pill),
        cmocka_unit_test(test_filter_error_modes),
        cmocka_unit_test(test_refused_dead_letters_data),
        cmocka_unit_test(test_refused_pass_through_is_checked_in_full),
        cmocka_unit_test(test_logs_and_metrics),
        cmocka_unit_test(test_revoke_abandons_pending),
        cmocka_unit_test(test_tail_sampling),
        cmocka_unit_test(test_span_attribute_edits),
        cmocka_unit_test(test_export_origin),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_backpressure_resumes_below_the_limit),
        cmocka_unit_test(test_metrics_per_signal),
        cmocka_unit_test(test_not_ready_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
