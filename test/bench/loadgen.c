/* kotel-loadgen: an OTLP trace load generator for `make bench`.
 *
 * Requests are encoded once at startup (a pool of distinct requests, each with its own
 * random trace IDs so Kafka keys vary) and then replayed, so the generator spends its CPU
 * on I/O, not on protobuf: on a 2-core machine it shares the cores with what it measures.
 * One thread, one libev loop, non-blocking sockets. gRPC runs several concurrent unary
 * Export streams per HTTP/2 connection; HTTP/1.1 keeps one request in flight per keep-alive
 * connection. With --tls-ca every connection first does a TLS handshake (kt_tls, driven by
 * the same loop), so `make bench` can price TLS against plaintext.
 *
 * stdout gets exactly one JSON line at the end; stderr a human summary. Exit status is 0
 * when at least one span was acknowledged, 1 otherwise, 2 for bad arguments. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <http_parser.h>
#include <nghttp2/nghttp2.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_grpc.h"
#include "kt_gzip.h"
#include "kt_signal.h"
#include "kt_tls.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define LG_SPANS_PER_TRACE 10
#define LG_MAX_STREAMS 256
#define LG_MAX_CONNECTIONS 4096
#define LG_CONNECT_WINDOW_S 5.0 /* how long to keep retrying before any connection opened */
#define LG_RETRY_S 0.1
#define LG_DRAIN_S 10.0 /* how long in-flight requests may take after the run ends */
#define LG_READ_CHUNK (64 * 1024)
#define LG_MAX_FAIL_KINDS 32

enum lg_proto { LG_GRPC, LG_HTTP };

struct lg_opts {
    enum lg_proto proto;
    char host[256];
    char port[16];
    int connections;
    int streams;
    double duration;
    double rate;       /* spans per second, 0 = as fast as the target answers */
    uint64_t requests; /* requests to send before stopping early, 0 = no limit */
    bool gzip;
    int pool;
    int traces; /* per request */
    uint64_t seed;
    const char *tls_ca;          /* set: TLS trusting this PEM bundle; borrows argv */
    const char *tls_server_name; /* SNI and the name to verify; NULL: host; borrows argv */
};

/* One pre-encoded request. grpc holds the 5-byte prefix and the message; http the whole
 * HTTP/1.1 request, head and body, so sending is one buffer either way. */
struct lg_entry {
    uint8_t *wire;
    size_t wire_len;
    size_t body_len; /* serialized request before compression */
    uint32_t spans;
};

/* One request in flight. */
struct lg_stream {
    bool used;
    uint64_t t0_ns;
    const struct lg_entry *e;
    size_t sent;
    int http_status;
    int grpc_status; /* -1 until seen */
};

enum lg_cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_OPEN };

struct lg_conn {
    struct lg *g;
    int fd;
    struct kt_tls_conn *tls; /* NULL: plaintext */
    enum lg_cstate state;
    ev_io io;
    int io_events;
    ev_timer retry;
    bool wblocked;
    int inflight;
    struct lg_stream *streams; /* opts.streams slots for gRPC, one for HTTP */
    nghttp2_session *h2;
    http_parser hp;
    bool h1_done;
    bool h1_close;
};

struct lg_fail {
    char kind[24];
    uint64_t n;
};

/* Log-linear latency histogram in microseconds: exact below 32 µs, then 16 buckets per
 * power of two (at most 6% error), so percentiles cost a fixed 8 KB however long the run. */
#define H_LINEAR 32
#define H_SUB 16
#define H_BUCKETS (H_LINEAR + (64 - 5) * H_SUB)

struct lg {
    struct lg_opts o;
    struct ev_loop *loop;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char authority[300];
    struct kt_tls_ctx *tls; /* NULL: plaintext */
    struct lg_entry *pool;
    size_t next_entry;
    struct lg_conn *conns;
    size_t rr;

    double t_prog;
    double t_start; /* first connection open: the run's clock starts here */
    double t_end;
    bool started;
    bool running;
    bool finished;
    uint64_t owed;      /* fixed-rate mode: requests due but not yet sent */
    uint64_t scheduled; /* fixed-rate mode: requests due since t_start */
    ev_timer end_timer;
    ev_timer rate_timer;
    ev_timer drain_timer;
    ev_timer giveup_timer;
    ev_signal sigint;
    ev_signal sigterm;

    uint64_t inflight;
    uint64_t sent, ok, failed, spans_acked, connects, connect_errors;
    struct lg_fail fails[LG_MAX_FAIL_KINDS];
    uint64_t hist[H_BUCKETS];
    uint64_t lat_n, lat_max_us;
    char last_connect_err[KT_ERR_MSG_MAX]; /* a kt_err message (TLS failures) fits */
};

static struct lg G;

/* ---- small helpers ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*: fast, and reproducible with --seed */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void rng_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng_next();
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(p + i, &v, k);
    }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t hist_index(uint64_t us)
{
    if (us < H_LINEAR)
        return (size_t)us;
    int e = 63 - __builtin_clzll(us);
    return H_LINEAR + (size_t)(e - 5) * H_SUB + (size_t)((us >> (e - 4)) & (H_SUB - 1));
}

static uint64_t hist_upper(size_t i)
{
    if (i < H_LINEAR)
        return i;
    size_t e = (i - H_LINEAR) / H_SUB + 5, sub = (i - H_LINEAR) % H_SUB;
    return (((uint64_t)H_SUB + sub + 1) << (e - 4)) - 1;
}

static double hist_quantile_ms(const struct lg *g, double q)
{
    if (g->lat_n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)g->lat_n), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < H_BUCKETS; i++) {
        seen += g->hist[i];
        if (seen >= want) {
            uint64_t up = hist_upper(i);
            return (double)(up < g->lat_max_us ? up : g->lat_max_us) / 1000.0;
        }
    }
    return (double)g->lat_max_us / 1000.0;
}

static void count_fail(struct lg *g, const char *kind)
{
    g->failed++;
    for (int i = 0; i < LG_MAX_FAIL_KINDS; i++) {
        if (g->fails[i].kind[0] == '\0')
            snprintf(g->fails[i].kind, sizeof(g->fails[i].kind), "%s", kind);
        if (strcmp(g->fails[i].kind, kind) == 0) {
            g->fails[i].n++;
            return;
        }
    }
}

/* ---- the requests ---- */

enum av_type { AV_STR, AV_INT, AV_BOOL, AV_DBL };

struct attr_tpl {
    const char *key;
    enum av_type t;
    const char *s;
    int64_t i;
    double d;
};

#define S(k, v)                                                                                    \
    {                                                                                              \
        .key = (k), .t = AV_STR, .s = (v)                                                          \
    }
#define I(k, v)                                                                                    \
    {                                                                                              \
        .key = (k), .t = AV_INT, .i = (v)                                                          \
    }
#define B(k, v)                                                                                    \
    {                                                                                              \
        .key = (k), .t = AV_BOOL, .i = (v)                                                         \
    }
#define D(k, v)                                                                                    \
    {                                                                                              \
        .key = (k), .t = AV_DBL, .d = (v)                                                          \
    }

/* Attribute sets modelled on the semantic conventions real instrumentations emit, so the
 * encoded size and the mix of value types resemble production traffic. */
enum span_type { ST_SERVER, ST_INTERNAL, ST_DB, ST_CLIENT, ST_COUNT };

static const struct attr_tpl attr_tpls[ST_COUNT][10] = {
    [ST_SERVER] = {S("http.method", "GET"), S("http.route", "/api/orders/{id}"),
                   S("http.target", "/api/orders/83412"), I("http.status_code", 200),
                   S("http.scheme", "https"), S("net.host.name", "checkout"),
                   S("net.peer.name", "10.42.7.19"), I("net.peer.port", 51544),
                   S("http.flavor", "1.1"), D("http.duration_ms", 42.7)},
    [ST_INTERNAL] = {S("code.function", "computeTotals"), S("code.namespace", "OrderService"),
                     I("code.lineno", 214), I("thread.id", 87), S("thread.name", "exec-7"),
                     B("cache.hit", 1), D("cache.ratio", 0.83), I("app.items", 3),
                     S("app.currency", "EUR"), B("app.promo", 0)},
    [ST_DB] = {S("db.system", "postgresql"), S("db.name", "orders"), S("db.user", "app"),
               S("db.operation", "SELECT"), S("db.sql.table", "order_items"),
               S("db.statement", "SELECT * FROM order_items WHERE id=$1"),
               S("net.peer.name", "pg-primary"), I("net.peer.port", 5432), I("db.rows", 12),
               B("db.cached", 0)},
    [ST_CLIENT] = {S("rpc.system", "grpc"), S("rpc.service", "Inventory"),
                   S("rpc.method", "Reserve"), S("net.peer.name", "inventory"),
                   I("net.peer.port", 50051), I("rpc.grpc.status_code", 0), I("message.size", 312),
                   B("rpc.retried", 0), D("rpc.timeout_s", 2.5), S("peer.service", "inventory")},
};

/* Per span, one integer attribute gets a random value (as durations, row counts and ports
 * vary in real data), so gzip meets a realistic amount of entropy, not a repeated block. */
static const int varied_attr[ST_COUNT] = {
    [ST_SERVER] = 7, [ST_INTERNAL] = 3, [ST_DB] = 8, [ST_CLIENT] = 6};

static const char *const span_names[ST_COUNT] = {
    [ST_SERVER] = "GET /api/orders/{id}",
    [ST_INTERNAL] = "computeTotals",
    [ST_DB] = "SELECT order_items",
    [ST_CLIENT] = "Inventory/Reserve",
};

static const enum span_type trace_shape[LG_SPANS_PER_TRACE] = {
    ST_SERVER,   ST_INTERNAL, ST_DB,     ST_DB,       ST_CLIENT,
    ST_INTERNAL, ST_DB,       ST_CLIENT, ST_INTERNAL, ST_DB,
};

static const struct attr_tpl resource_tpl[8] = {
    S("service.name", "checkout"),
    S("service.version", "2.14.1"),
    S("service.instance.id", "checkout-6c9f7d5b8-x2k4p"),
    S("host.name", "ip-10-0-12-34.ec2.internal"),
    S("deployment.environment", "production"),
    S("telemetry.sdk.language", "java"),
    S("telemetry.sdk.name", "opentelemetry"),
    S("telemetry.sdk.version", "1.32.0"),
};

static const struct attr_tpl event_tpl[2] = {
    S("cache.key", "order:83412:items"),
    I("cache.ttl_s", 300),
};

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;

/* protobuf-c packs from pointers, so attributes every span shares are built once and the
 * same KeyValue objects are referenced by every span of that type. */
struct attr_set {
    KeyValue kv[10];
    AnyValue av[10];
    KeyValue *ptr[10];
};

static void attr_set_build(struct attr_set *s, const struct attr_tpl *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        KeyValue kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        AnyValue av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        switch (t[i].t) {
        case AV_STR:
            av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            av.string_value = (char *)t[i].s;
            break;
        case AV_INT:
            av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            av.int_value = t[i].i;
            break;
        case AV_BOOL:
            av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            av.bool_value = t[i].i != 0;
            break;
        case AV_DBL:
            av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            av.double_value = t[i].d;
            break;
        }
        s->av[i] = av;
        s->kv[i] = kv;
        s->kv[i].key = (char *)t[i].key;
        s->kv[i].value = &s->av[i];
        s->ptr[i] = &s->kv[i];
    }
}

static int http_head(char *out, size_t cap, size_t body_len, bool gz)
{
    return snprintf(out, cap,
                    "POST %s HTTP/1.1\r\nHost: %s\r\n"
                    "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n%s\r\n",
                    kt_signal_http_path(KT_SIGNAL_TRACES), G.authority, body_len,
                    gz ? "Content-Encoding: gzip\r\n" : "");
}

/* Encodes opts.pool requests of opts.traces traces each. */
static int pool_build(struct lg *g, struct kt_err *err)
{
    static struct attr_set sets[ST_COUNT], res_set, ev_set;
    for (int t = 0; t < ST_COUNT; t++)
        attr_set_build(&sets[t], attr_tpls[t], 10);
    attr_set_build(&res_set, resource_tpl, 8);
    attr_set_build(&ev_set, event_tpl, 2);

    size_t n = (size_t)g->o.traces * LG_SPANS_PER_TRACE;
    Span *spans = calloc(n, sizeof(*spans));
    Span **sp = calloc(n, sizeof(*sp));
    uint8_t *ids = calloc(n, 32);
    KeyValue **kvp = calloc(n * 10, sizeof(*kvp));
    KeyValue *vkv = calloc(n, sizeof(*vkv));
    AnyValue *vav = calloc(n, sizeof(*vav));
    g->pool = calloc((size_t)g->o.pool, sizeof(*g->pool));
    if (spans == NULL || sp == NULL || ids == NULL || kvp == NULL || vkv == NULL || vav == NULL ||
        g->pool == NULL) {
        free(spans);
        free(sp);
        free(ids);
        free(kvp);
        free(vkv);
        free(vav);
        return kt_err_set(err, KT_ENOMEM, "out of memory building the request pool");
    }

    Opentelemetry__Proto__Trace__V1__Status st_ok = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st_ok.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
    Opentelemetry__Proto__Trace__V1__Status st_err = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st_err.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    st_err.message = "deadline exceeded";
    Event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    ev.name = "cache.miss";
    ev.n_attributes = 2;
    ev.attributes = ev_set.ptr;
    Event *evp = &ev; /* one event object shared by every span that has one */

    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 8;
    res.attributes = res_set.ptr;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = "io.opentelemetry.spring-webmvc-6.0";
    scope.version = "1.32.0-alpha";
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.scope = &scope;
    ss.n_spans = n;
    ss.spans = sp;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    rs.schema_url = "https://opentelemetry.io/schemas/1.21.0";
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 1;
    req.resource_spans = &rsp;

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t base_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    ev.time_unix_nano = base_ns - 30000000000ull;
    struct kt_buf gz = KT_BUF_INIT;
    int rc = 0;
    for (int p = 0; p < g->o.pool && rc == 0; p++) {
        for (size_t i = 0; i < n; i++) {
            size_t s = i % LG_SPANS_PER_TRACE;
            uint8_t *id = ids + i * 32;
            if (s == 0)
                rng_fill(id, 16); /* a new trace: new trace ID */
            else
                memcpy(id, ids + (i - s) * 32, 16);
            rng_fill(id + 16, 8);
            if (s != 0) /* children hang off the trace's root span */
                memcpy(id + 24, ids + (i - s) * 32 + 16, 8);
            enum span_type t = trace_shape[s];
            Span sp0 = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
            spans[i] = sp0;
            Span *x = &spans[i];
            x->trace_id = (ProtobufCBinaryData){16, id};
            x->span_id = (ProtobufCBinaryData){8, id + 16};
            if (s != 0)
                x->parent_span_id = (ProtobufCBinaryData){8, id + 24};
            x->flags = 0x101;
            x->name = (char *)span_names[t];
            x->kind = t == ST_SERVER
                          ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                      : t == ST_INTERNAL
                          ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL
                          : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
            uint64_t start = base_ns - 60000000000ull + (uint64_t)p * 1000000000u +
                             (i / LG_SPANS_PER_TRACE) * 20000000u + s * 1000000u;
            x->start_time_unix_nano = start;
            x->end_time_unix_nano = start + 800000u + (rng_next() % 4000000u);
            size_t vi = (size_t)varied_attr[t];
            memcpy(&kvp[i * 10], sets[t].ptr, 10 * sizeof(*kvp));
            vkv[i] = sets[t].kv[vi];
            vav[i] = sets[t].av[vi];
            vav[i].int_value = (int64_t)(rng_next() % 60000u);
            vkv[i].value = &vav[i];
            kvp[i * 10 + vi] = &vkv[i];
            x->n_attributes = 10;
            x->attributes = &kvp[i * 10];
            if (s % 3 == 2) {
                x->n_events = 1;
                x->events = &evp;
            }
            x->status = (i % 97 == 13) ? &st_err : &st_ok;
            sp[i] = x;
        }
        size_t len =
            opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
                &req);
        uint8_t *msg = malloc(len);
        if (msg == NULL) {
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            break;
        }
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, msg);
        struct kt_slice body = {msg, len};
        if (g->o.gzip) {
            kt_buf_reset(&gz);
            rc = kt_gzip(body, 6, &gz, err);
            if (rc != 0) {
                free(msg);
                break;
            }
            body = kt_buf_slice(&gz);
        }
        struct lg_entry *e = &g->pool[p];
        e->body_len = len;
        e->spans = (uint32_t)n;
        char head[512];
        size_t hl = 0;
        if (g->o.proto == LG_HTTP)
            hl = (size_t)http_head(head, sizeof(head), body.n, g->o.gzip);
        else
            hl = KT_GRPC_PREFIX_LEN;
        e->wire = malloc(hl + body.n);
        if (e->wire == NULL) {
            free(msg);
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            break;
        }
        if (g->o.proto == LG_HTTP) {
            memcpy(e->wire, head, hl);
        } else {
            e->wire[0] = g->o.gzip ? 1 : 0;
            e->wire[1] = (uint8_t)(body.n >> 24);
            e->wire[2] = (uint8_t)(body.n >> 16);
            e->wire[3] = (uint8_t)(body.n >> 8);
            e->wire[4] = (uint8_t)body.n;
        }
        memcpy(e->wire + hl, body.p, body.n);
        e->wire_len = hl + body.n;
        free(msg);
    }
    kt_buf_free(&gz);
    free(spans);
    free(sp);
    free(ids);
    free(kvp);
    free(vkv);
    free(vav);
    return rc;
}

/* ---- connections ---- */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_connect(struct lg_conn *c);
static void conn_flush(struct lg_conn *c);
static void run_check_done(struct lg *g);
static void run_stop(struct lg *g);

static void conn_set_events(struct lg_conn *c, int ev)
{
    if (c->io_events == ev)
        return;
    ev_io_stop(c->g->loop, &c->io);
    ev_io_set(&c->io, c->fd, ev);
    if (ev)
        ev_io_start(c->g->loop, &c->io);
    c->io_events = ev;
}

static void stream_done(struct lg_conn *c, struct lg_stream *s, const char *fail_kind)
{
    struct lg *g = c->g;
    if (!s->used)
        return;
    s->used = false;
    c->inflight--;
    g->inflight--;
    char kind[24];
    if (fail_kind == NULL) {
        if (s->http_status != 200)
            snprintf(kind, sizeof(kind), "http_%d", s->http_status);
        else if (g->o.proto == LG_GRPC && s->grpc_status != 0)
            snprintf(kind, sizeof(kind), s->grpc_status < 0 ? "grpc_no_status" : "grpc_%d",
                     s->grpc_status);
        else
            kind[0] = '\0';
        fail_kind = kind[0] ? kind : NULL;
    }
    if (fail_kind) {
        count_fail(g, fail_kind);
        return;
    }
    uint64_t us = (mono_ns() - s->t0_ns) / 1000u;
    g->ok++;
    g->spans_acked += s->e->spans;
    g->hist[hist_index(us)]++;
    g->lat_n++;
    if (us > g->lat_max_us)
        g->lat_max_us = us;
}

/* Loses the connection: what was in flight failed; a new one is tried shortly. */
static void conn_lost(struct lg_conn *c, const char *why)
{
    struct lg *g = c->g;
    int n = g->o.proto == LG_GRPC ? g->o.streams : 1;
    for (int i = 0; i < n; i++)
        stream_done(c, &c->streams[i], why ? why : "connection");
    if (c->h2) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    conn_set_events(c, 0);
    kt_tls_conn_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_IDLE;
    c->wblocked = false;
    if (g->running || !g->started) {
        ev_timer_set(&c->retry, LG_RETRY_S, 0);
        ev_timer_start(g->loop, &c->retry);
    }
    run_check_done(g);
}

static const struct lg_entry *next_entry(struct lg *g)
{
    const struct lg_entry *e = &g->pool[g->next_entry];
    g->next_entry = (g->next_entry + 1) % (size_t)g->o.pool;
    return e;
}

/* The connection's bytes, through TLS when it has a session: as send/recv give them, n or
 * -1 with errno EAGAIN (wait; a TLS write is retried with the same bytes, which both callers
 * do) or EIO (the session failed). */
static ssize_t conn_send(struct lg_conn *c, const void *p, size_t n)
{
    if (c->tls == NULL)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    struct kt_err err = {0};
    size_t put = 0;
    int rc = kt_tls_write(c->tls, p, n, &put, &err);
    if (rc == 0)
        return (ssize_t)put;
    errno = rc == KT_EAGAIN ? EAGAIN : EIO;
    return -1;
}

static ssize_t conn_recv(struct lg_conn *c, void *buf, size_t n)
{
    if (c->tls == NULL)
        return recv(c->fd, buf, n, 0);
    struct kt_err err = {0};
    size_t got = 0;
    int rc = kt_tls_read(c->tls, buf, n, &got, &err);
    if (rc == 0)
        return (ssize_t)got;
    errno = rc == KT_EAGAIN ? EAGAIN : EIO;
    return -1;
}

/* gRPC over HTTP/2 (h2c, or h2 with TLS). */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct lg_conn *c = ud;
    ssize_t n = conn_send(c, data, len);
    if (n >= 0)
        return n; /* nghttp2 keeps what a short write left over */
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->wblocked = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct lg_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st == NULL)
        return 0;
    char v[16];
    size_t n = valuelen < sizeof(v) - 1 ? valuelen : sizeof(v) - 1;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        memcpy(v, value, n);
        v[n] = '\0';
        st->http_status = atoi(v);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        memcpy(v, value, n);
        v[n] = '\0';
        st->grpc_status = atoi(v);
    }
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    struct lg_conn *c = ud;
    struct lg_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st == NULL)
        return 0;
    if (code != NGHTTP2_NO_ERROR && st->grpc_status < 0)
        stream_done(c, st, code == NGHTTP2_REFUSED_STREAM ? "refused_stream" : "stream_reset");
    else
        stream_done(c, st, NULL);
    return 0;
}

static ssize_t h2_body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    struct lg_stream *st = src->ptr;
    size_t left = st->e->wire_len - st->sent;
    if (len > left)
        len = left;
    memcpy(buf, st->e->wire + st->sent, len);
    st->sent += len;
    if (st->sent == st->e->wire_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

static int h2_open(struct lg_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return KT_ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_close);
    int rc = nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return KT_ENOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0)
        return KT_EIO;
    return 0;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                                  \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                           \
    }

static int h2_submit(struct lg_conn *c, struct lg_stream *st)
{
    struct lg *g = c->g;
    nghttp2_nv nv[] = {
        NV(":method", "POST"),
        NV(":scheme", g->tls ? "https" : "http"),
        NV(":authority", g->authority),
        NV(":path", kt_signal_grpc_path(KT_SIGNAL_TRACES)),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("grpc-encoding", "gzip"),
    };
    size_t n = sizeof(nv) / sizeof(nv[0]) - (g->o.gzip ? 0 : 1);
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = h2_body_read};
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, &prd, st);
    return id < 0 ? KT_EIO : 0;
}

/* HTTP/1.1 */

static int h1_on_complete(http_parser *p)
{
    struct lg_conn *c = p->data;
    c->streams[0].http_status = (int)p->status_code;
    c->h1_close = !http_should_keep_alive(p);
    c->h1_done = true;
    return 0;
}

static const http_parser_settings h1_settings = {.on_message_complete = h1_on_complete};

static void h1_write(struct lg_conn *c)
{
    struct lg_stream *st = &c->streams[0];
    while (st->used && st->sent < st->e->wire_len) {
        ssize_t n = conn_send(c, st->e->wire + st->sent, st->e->wire_len - st->sent);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->wblocked = true;
                return;
            }
            conn_lost(c, "connection");
            return;
        }
        st->sent += (size_t)n;
    }
}

/* Starts as many requests as the connection and the rate allow. */
static void conn_fill(struct lg_conn *c)
{
    struct lg *g = c->g;
    int slots = g->o.proto == LG_GRPC ? g->o.streams : 1;
    while (c->state == C_OPEN && g->running && c->inflight < slots) {
        if (g->o.rate > 0 && g->owed == 0)
            break;
        if (g->o.proto == LG_GRPC && !nghttp2_session_check_request_allowed(c->h2))
            break;
        struct lg_stream *st = NULL;
        for (int i = 0; i < slots && st == NULL; i++)
            if (!c->streams[i].used)
                st = &c->streams[i];
        if (st == NULL)
            break;
        *st = (struct lg_stream){.used = true, .e = next_entry(g), .grpc_status = -1};
        st->t0_ns = mono_ns();
        if (g->o.proto == LG_GRPC && h2_submit(c, st) != 0) {
            st->used = false;
            break;
        }
        if (g->o.proto == LG_HTTP) {
            c->h1_done = false;
            http_parser_init(&c->hp, HTTP_RESPONSE);
            c->hp.data = c;
        }
        c->inflight++;
        g->inflight++;
        g->sent++;
        if (g->o.rate > 0)
            g->owed--;
        /* A fixed amount of data (the bench's preload) whatever the target's speed. */
        if (g->sent == g->o.requests)
            run_stop(g);
    }
}

static void conn_flush(struct lg_conn *c)
{
    if (c->state != C_OPEN)
        return;
    if (c->g->o.proto == LG_GRPC) {
        int rc = nghttp2_session_send(c->h2);
        if (rc != 0) {
            conn_lost(c, "connection");
            return;
        }
        if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
            conn_lost(c, "goaway"); /* the server ended the session (GOAWAY) */
            return;
        }
    } else {
        h1_write(c);
        if (c->state != C_OPEN)
            return;
    }
    conn_set_events(c, EV_READ | (c->wblocked ? EV_WRITE : 0));
}

static void conn_opened(struct lg_conn *c)
{
    struct lg *g = c->g;
    c->state = C_OPEN;
    g->connects++;
    if (!g->started) {
        g->started = true;
        g->running = true;
        g->t_start = ev_time();
        ev_timer_stop(g->loop, &g->giveup_timer);
        ev_timer_set(&g->end_timer, g->o.duration, 0);
        ev_timer_start(g->loop, &g->end_timer);
        if (g->o.rate > 0)
            ev_timer_start(g->loop, &g->rate_timer);
    }
    if (g->o.proto == LG_GRPC && h2_open(c) != 0) {
        conn_lost(c, "connection");
        return;
    }
    conn_fill(c);
    conn_flush(c);
}

static void conn_read(struct lg_conn *c)
{
    uint8_t buf[LG_READ_CHUNK];
    for (int round = 0; round < 4 && c->state == C_OPEN; round++) {
        ssize_t n = conn_recv(c, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_lost(c, "connection");
            return;
        }
        if (c->g->o.proto == LG_GRPC) {
            if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
                conn_lost(c, "protocol");
                return;
            }
        } else {
            size_t used = http_parser_execute(&c->hp, &h1_settings, (const char *)buf, (size_t)n);
            if (!c->streams[0].used || (used != (size_t)n && !c->h1_done)) {
                conn_lost(c, "protocol");
                return;
            }
            if (c->h1_done) {
                stream_done(c, &c->streams[0], NULL);
                if (c->h1_close) {
                    /* The server ends keep-alive: not a failure, reconnect at once. */
                    conn_lost(c, NULL);
                    if (c->g->running) {
                        ev_timer_stop(c->g->loop, &c->retry);
                        conn_connect(c);
                    }
                    return;
                }
            }
        }
        /* A short plain read emptied the socket; a TLS read returns one record at most. */
        if (c->tls == NULL && (size_t)n < sizeof(buf))
            break;
    }
    /* Bytes decrypted but not yet read do not make the socket readable: run again for them. */
    if (c->state == C_OPEN && c->tls != NULL && kt_tls_pending(c->tls))
        ev_feed_event(c->g->loop, &c->io, EV_READ);
    conn_fill(c);
    conn_flush(c);
    run_check_done(c->g);
}

/* A connection that could not be set up: why is kept for the give-up message. */
static void conn_failed(struct lg_conn *c, const char *why)
{
    snprintf(c->g->last_connect_err, sizeof(c->g->last_connect_err), "%s", why);
    c->g->connect_errors++;
    conn_lost(c, NULL);
}

/* Advances the TLS handshake; once done (and ALPN agrees with the protocol) the connection
 * opens. Failures count as connect errors: the run's clock starts at the first connection
 * that can carry requests. */
static void conn_handshake(struct lg_conn *c)
{
    struct kt_err err = {0};
    bool want_write = false;
    int rc = kt_tls_handshake(c->tls, &want_write, &err);
    if (rc == KT_EAGAIN) {
        conn_set_events(c, want_write ? EV_WRITE : EV_READ);
        return;
    }
    if (rc != 0) {
        conn_failed(c, err.msg);
        return;
    }
    /* gRPC over TLS requires h2 by ALPN (gRPC's PROTOCOL-HTTP2); a server that does no
     * ALPN serves HTTP/1.1. */
    const char *alpn = kt_tls_alpn(c->tls);
    bool grpc = c->g->o.proto == LG_GRPC;
    if (grpc ? alpn == NULL || strcmp(alpn, "h2") != 0
             : alpn != NULL && strcmp(alpn, "http/1.1") != 0) {
        char why[128];
        snprintf(why, sizeof(why), "TLS: the server chose ALPN '%s', want %s",
                 alpn ? alpn : "(none)", grpc ? "h2" : "http/1.1");
        conn_failed(c, why);
        return;
    }
    conn_opened(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct lg_conn *c = w->data;
    struct lg *g = c->g;
    if (c->state == C_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr != 0) {
            conn_failed(c, strerror(soerr));
            return;
        }
        if (g->tls == NULL) {
            conn_opened(c);
            return;
        }
        struct kt_err err = {0};
        const char *name = g->o.tls_server_name ? g->o.tls_server_name : g->o.host;
        if (kt_tls_conn_new(g->tls, c->fd, name, &c->tls, &err) != 0) {
            conn_failed(c, err.msg);
            return;
        }
        c->state = C_HANDSHAKE;
        conn_handshake(c);
        return;
    }
    if (c->state == C_HANDSHAKE) {
        conn_handshake(c);
        return;
    }
    if (revents & EV_WRITE) {
        c->wblocked = false;
        conn_flush(c);
    }
    if (c->state == C_OPEN && (revents & EV_READ))
        conn_read(c);
}

static void conn_connect(struct lg_conn *c)
{
    struct lg *g = c->g;
    c->fd = socket(g->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(g->last_connect_err, sizeof(g->last_connect_err), "socket: %s", strerror(errno));
        conn_lost(c, NULL);
        return;
    }
    int one = 1;
    /* Nagle would hold back the small HEADERS and WINDOW_UPDATE frames. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_CONNECTING;
    c->io_events = 0;
    if (connect(c->fd, (struct sockaddr *)&g->addr, g->addrlen) != 0 && errno != EINPROGRESS) {
        conn_failed(c, strerror(errno));
        return;
    }
    conn_set_events(c, EV_WRITE);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct lg_conn *c = w->data;
    if (c->g->running || !c->g->started)
        conn_connect(c);
}

/* ---- the run ---- */

static void run_check_done(struct lg *g)
{
    if (g->started && !g->running && g->inflight == 0 && !g->finished) {
        g->finished = true;
        g->t_end = ev_time();
        ev_break(g->loop, EVBREAK_ALL);
    }
}

static void run_stop(struct lg *g)
{
    if (!g->running)
        return;
    g->running = false;
    ev_timer_stop(g->loop, &g->rate_timer);
    ev_timer_stop(g->loop, &g->end_timer);
    for (int i = 0; i < g->o.connections; i++)
        ev_timer_stop(g->loop, &g->conns[i].retry);
    ev_timer_start(g->loop, &g->drain_timer);
    run_check_done(g);
}

static void end_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    run_stop(w->data);
}

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct lg *g = w->data;
    fprintf(stderr, "kotel-loadgen: %" PRIu64 " requests still unanswered after %.0f s\n",
            g->inflight, LG_DRAIN_S);
    for (int i = 0; i < g->o.connections; i++)
        if (g->conns[i].state != C_IDLE)
            conn_lost(&g->conns[i], "timeout");
    g->finished = true;
    g->t_end = ev_time();
    ev_break(loop, EVBREAK_ALL);
}

static void giveup_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct lg *g = w->data;
    fprintf(stderr, "kotel-loadgen: cannot connect to %s within %.0f s: %s\n", g->authority,
            LG_CONNECT_WINDOW_S, g->last_connect_err[0] ? g->last_connect_err : "no answer");
    g->finished = true;
    g->t_start = g->t_end = ev_time();
    ev_break(loop, EVBREAK_ALL);
}

/* Fixed-rate mode: requests fall due evenly over time; those a busy target cannot take yet
 * wait in `owed` and go out as soon as a slot frees, so the offered load is kept. */
static void rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct lg *g = w->data;
    double per_s = g->o.rate / (double)(g->o.traces * LG_SPANS_PER_TRACE);
    uint64_t due = (uint64_t)((ev_time() - g->t_start) * per_s) + 1;
    if (due > g->scheduled) {
        g->owed += due - g->scheduled;
        g->scheduled = due;
    }
    int n = g->o.connections;
    for (int k = 0; k < n && g->owed > 0; k++) {
        struct lg_conn *c = &g->conns[(g->rr + (size_t)k) % (size_t)n];
        conn_fill(c);
        conn_flush(c);
    }
    g->rr++;
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    struct lg *g = w->data;
    if (!g->started) {
        g->finished = true;
        g->t_start = g->t_end = ev_time();
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    run_stop(g);
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kotel-loadgen [options]\n"
            "\n"
            "Sends OTLP trace Export requests (10 spans per trace, 10 attributes per span)\n"
            "and prints one JSON line with the results on stdout.\n"
            "\n"
            "  --target HOST:PORT    where to send (default 127.0.0.1:4317)\n"
            "  --protocol grpc|http  OTLP/gRPC over HTTP/2, or OTLP/HTTP/1.1 protobuf\n"
            "                        (default grpc)\n"
            "  --connections N       connections (default 4)\n"
            "  --streams N           gRPC requests in flight per connection, 1..%d (default 8);\n"
            "                        HTTP keeps one per connection\n"
            "  --duration SECONDS    how long to send (default 10)\n"
            "  --requests N          stop sending after N requests, before the duration ends\n"
            "                        (default: no limit)\n"
            "  --rate SPANS_PER_S    offered load, 0 = as fast as answers come (default 0)\n"
            "  --gzip                compress request bodies\n"
            "  --traces N            traces per request (default 52, i.e. 520 spans)\n"
            "  --pool N              distinct pre-encoded requests (default 64)\n"
            "  --seed N              random seed for trace and span IDs (default: time)\n"
            "  --tls-ca FILE         speak TLS (ALPN h2 for gRPC, http/1.1 for HTTP), trusting\n"
            "                        the CA certificates in FILE (PEM); default: plaintext\n"
            "  --tls-server-name N   name the server's certificate must carry, also sent as\n"
            "                        SNI (default: the target's host; mbedTLS 2.x matches DNS\n"
            "                        names only, so an IP address target needs one)\n"
            "  --help                this text\n",
            LG_MAX_STREAMS);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    if (s == NULL || *s == '\0')
        return KT_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
        return KT_EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct lg_opts *o, struct kt_err *err)
{
    *o = (struct lg_opts){.proto = LG_GRPC,
                          .connections = 4,
                          .streams = 8,
                          .duration = 10,
                          .pool = 64,
                          .traces = 52,
                          .seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)};
    const char *target = "127.0.0.1:4317";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--gzip") == 0) {
            o->gzip = true;
            continue;
        }
        if (v == NULL)
            return kt_err_set(err, KT_EINVAL, "%s: unknown option, or its value is missing", a);
        i++;
        if (strcmp(a, "--target") == 0) {
            target = v;
        } else if (strcmp(a, "--protocol") == 0) {
            if (strcmp(v, "grpc") == 0)
                o->proto = LG_GRPC;
            else if (strcmp(v, "http") == 0)
                o->proto = LG_HTTP;
            else
                return kt_err_set(err, KT_EINVAL, "--protocol: '%s', want grpc or http", v);
        } else if (strcmp(a, "--connections") == 0 &&
                   parse_num(v, 1, LG_MAX_CONNECTIONS, &d) == 0) {
            o->connections = (int)d;
        } else if (strcmp(a, "--streams") == 0 && parse_num(v, 1, LG_MAX_STREAMS, &d) == 0) {
            o->streams = (int)d;
        } else if (strcmp(a, "--duration") == 0 && parse_num(v, 0.001, 86400, &d) == 0) {
            o->duration = d;
        } else if (strcmp(a, "--rate") == 0 && parse_num(v, 0, 1e9, &d) == 0) {
            o->rate = d;
        } else if (strcmp(a, "--requests") == 0 && parse_num(v, 1, 1e15, &d) == 0) {
            o->requests = (uint64_t)d;
        } else if (strcmp(a, "--traces") == 0 && parse_num(v, 1, 100000, &d) == 0) {
            o->traces = (int)d;
        } else if (strcmp(a, "--pool") == 0 && parse_num(v, 1, 4096, &d) == 0) {
            o->pool = (int)d;
        } else if (strcmp(a, "--seed") == 0 && parse_num(v, 0, 1e18, &d) == 0) {
            o->seed = (uint64_t)d;
        } else if (strcmp(a, "--tls-ca") == 0 && v[0] != '\0') {
            o->tls_ca = v;
        } else if (strcmp(a, "--tls-server-name") == 0 && v[0] != '\0') {
            o->tls_server_name = v;
        } else {
            return kt_err_set(err, KT_EINVAL, "%s: unknown option or bad value '%s'", a, v);
        }
    }
    const char *colon = strrchr(target, ':');
    size_t hl = colon ? (size_t)(colon - target) : 0;
    if (colon == NULL || hl == 0 || hl >= sizeof(o->host) || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(o->port))
        return kt_err_set(err, KT_EINVAL, "--target: '%s', want HOST:PORT", target);
    if (o->tls_server_name != NULL && o->tls_ca == NULL)
        return kt_err_set(err, KT_EINVAL, "--tls-server-name: only with --tls-ca");
    memcpy(o->host, target, hl);
    o->host[hl] = '\0';
    if (o->host[0] == '[' && hl > 2 && o->host[hl - 1] == ']') {
        memmove(o->host, o->host + 1, hl - 2);
        o->host[hl - 2] = '\0';
    }
    snprintf(o->port, sizeof(o->port), "%s", colon + 1);
    if (o->seed == 0)
        o->seed = 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
    return 0;
}

static int resolve(struct lg *g, const char *target, struct kt_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(g->o.host, g->o.port, &hints, &res);
    if (rc != 0)
        return kt_err_set(err, KT_ENOTFOUND, "--target %s: %s", target, gai_strerror(rc));
    memcpy(&g->addr, res->ai_addr, res->ai_addrlen);
    g->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void report(struct lg *g)
{
    double secs = g->t_end - g->t_start;
    if (secs <= 0)
        secs = 1e-9;
    double bytes_per_span = 0;
    uint64_t wire_total = 0;
    for (int i = 0; i < g->o.pool; i++) {
        bytes_per_span += (double)g->pool[i].body_len / (double)g->pool[i].spans;
        wire_total += g->pool[i].wire_len;
    }
    bytes_per_span /= g->o.pool;
    double p50 = hist_quantile_ms(g, 0.50), p99 = hist_quantile_ms(g, 0.99);
    double max = (double)g->lat_max_us / 1000.0;
    printf("{\"protocol\":\"%s\",\"tls\":%s,\"connections\":%d,\"streams\":%d,\"gzip\":%s,"
           "\"rate\":%.0f,\"duration_s\":%.3f,\"requests_sent\":%" PRIu64
           ",\"requests_ok\":%" PRIu64 ",\"requests_failed\":%" PRIu64 ",\"failed_by_status\":{",
           g->o.proto == LG_GRPC ? "grpc" : "http", g->tls ? "true" : "false", g->o.connections,
           g->o.proto == LG_GRPC ? g->o.streams : 1, g->o.gzip ? "true" : "false", g->o.rate, secs,
           g->sent, g->ok, g->failed);
    for (int i = 0; i < LG_MAX_FAIL_KINDS && g->fails[i].kind[0]; i++)
        printf("%s\"%s\":%" PRIu64, i ? "," : "", g->fails[i].kind, g->fails[i].n);
    printf("},\"spans_acked\":%" PRIu64 ",\"spans_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"max_ms\":%.3f,\"bytes_per_span\":%.1f,\"wire_bytes_per_span\":%.1f,"
           "\"spans_per_request\":%d,\"requests_behind\":%" PRIu64 "}\n",
           g->spans_acked, (double)g->spans_acked / secs, p50, p99, max, bytes_per_span,
           (double)wire_total / g->o.pool / (g->o.traces * LG_SPANS_PER_TRACE),
           g->o.traces * LG_SPANS_PER_TRACE, g->owed);
    fflush(stdout);
    fprintf(stderr,
            "kotel-loadgen: %s%s%s to %s, %d connections, %.2f s: %" PRIu64 " requests ok, %" PRIu64
            " failed, %" PRIu64 " spans acknowledged = %.0f spans/s; latency p50 %.2f ms, p99 "
            "%.2f ms, max %.2f ms; %.0f bytes/span encoded\n",
            g->o.proto == LG_GRPC ? "grpc" : "http", g->tls ? "+tls" : "", g->o.gzip ? "+gzip" : "",
            g->authority, g->o.connections, secs, g->ok, g->failed, g->spans_acked,
            (double)g->spans_acked / secs, p50, p99, max, bytes_per_span);
    for (int i = 0; i < LG_MAX_FAIL_KINDS && g->fails[i].kind[0]; i++)
        fprintf(stderr, "kotel-loadgen:   failed %s: %" PRIu64 "\n", g->fails[i].kind,
                g->fails[i].n);
}

int main(int argc, char **argv)
{
    struct lg *g = &G;
    struct kt_err err = {0};
    if (parse_args(argc, argv, &g->o, &err) != 0) {
        fprintf(stderr, "kotel-loadgen: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    rng_state = g->o.seed;
    const char *target_host = g->o.host;
    if (strchr(target_host, ':'))
        snprintf(g->authority, sizeof(g->authority), "[%.255s]:%.15s", target_host, g->o.port);
    else
        snprintf(g->authority, sizeof(g->authority), "%.255s:%.15s", target_host, g->o.port);
    const struct kt_tls_client_opts tls_opts = {
        .ca_file = g->o.tls_ca,
        .alpn = g->o.proto == LG_GRPC ? "h2" : "http/1.1",
        .section = "--tls-ca",
    };
    if (resolve(g, g->authority, &err) != 0 ||
        (g->o.tls_ca != NULL && kt_tls_ctx_new(&tls_opts, &g->tls, &err) != 0) ||
        pool_build(g, &err) != 0) {
        fprintf(stderr, "kotel-loadgen: %s\n", err.msg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g->loop = EV_DEFAULT;
    g->t_prog = ev_time();
    int slots = g->o.proto == LG_GRPC ? g->o.streams : 1;
    g->conns = calloc((size_t)g->o.connections, sizeof(*g->conns));
    if (g->conns == NULL)
        return 2;
    ev_timer_init(&g->end_timer, end_cb, g->o.duration, 0);
    g->end_timer.data = g;
    double per_req_s = (double)(g->o.traces * LG_SPANS_PER_TRACE) / (g->o.rate > 0 ? g->o.rate : 1);
    double tick = per_req_s < 0.0005 ? 0.0005 : per_req_s;
    ev_timer_init(&g->rate_timer, rate_cb, 0, tick);
    g->rate_timer.data = g;
    ev_timer_init(&g->drain_timer, drain_cb, LG_DRAIN_S, 0);
    g->drain_timer.data = g;
    ev_timer_init(&g->giveup_timer, giveup_cb, LG_CONNECT_WINDOW_S, 0);
    g->giveup_timer.data = g;
    ev_timer_start(g->loop, &g->giveup_timer);
    ev_signal_init(&g->sigint, sig_cb, SIGINT);
    g->sigint.data = g;
    ev_signal_start(g->loop, &g->sigint);
    ev_signal_init(&g->sigterm, sig_cb, SIGTERM);
    g->sigterm.data = g;
    ev_signal_start(g->loop, &g->sigterm);
    for (int i = 0; i < g->o.connections; i++) {
        struct lg_conn *c = &g->conns[i];
        c->g = g;
        c->fd = -1;
        c->streams = calloc((size_t)slots, sizeof(*c->streams));
        if (c->streams == NULL)
            return 2;
        ev_io_init(&c->io, io_cb, 0, 0);
        c->io.data = c;
        ev_timer_init(&c->retry, retry_cb, LG_RETRY_S, 0);
        c->retry.data = c;
        conn_connect(c);
    }
    ev_run(g->loop, 0);

    report(g);
    for (int i = 0; i < g->o.connections; i++) {
        struct lg_conn *c = &g->conns[i];
        if (c->h2)
            nghttp2_session_del(c->h2);
        kt_tls_conn_free(c->tls);
        if (c->fd >= 0)
            close(c->fd);
        free(c->streams);
    }
    free(g->conns);
    kt_tls_ctx_free(g->tls);
    for (int i = 0; i < g->o.pool; i++)
        free(g->pool[i].wire);
    free(g->pool);
    return g->spans_acked > 0 ? 0 : 1;
}
