/* kotel-sink: a discarding OTLP backend that counts, for `make bench`.
 *
 * It must cost as little CPU as possible, since it shares the machine with what is being
 * measured: requests are not decoded into objects, only walked at the wire level far
 * enough to count spans, data points and log records. Every well-formed request is
 * answered with success at once.
 *
 * Serves, on one listener, OTLP/gRPC over h2c (the Export method of the trace, metrics and
 * logs services) and OTLP/HTTP protobuf over HTTP/1.1 or h2c (POST /v1/traces, /v1/metrics,
 * /v1/logs); the protocol is told from the first bytes of each connection. gzip bodies
 * (grpc-encoding / Content-Encoding) are inflated to be counted.
 *
 * stdout: the first line is the listening address "HOST:PORT" (the readiness signal; with
 * port 0 it tells the port the kernel chose). Then one JSON line of counters for every
 * SIGUSR1 or "stats" line on stdin, and a last one on SIGTERM or SIGINT, after which it
 * exits 0. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <http_parser.h>
#include <nghttp2/nghttp2.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_grpc.h"
#include "kt_gzip.h"
#include "kt_signal.h"

#define SK_MAX_BODY (64u << 20) /* a request body (also once inflated) above this is refused */
#define SK_READ_CHUNK (64 * 1024)
/* Stream and connection windows as large as gRPC servers with BDP estimation reach: with
 * one request in flight per exporter, a smaller window costs a WINDOW_UPDATE trip per window
 * of every request, which the bench would measure instead of kotel. */
#define SK_H2_WINDOW (16 << 20)

struct sk_stats {
    uint64_t requests;
    uint64_t items[KT_SIGNAL_COUNT];
    uint64_t bad_requests;
    uint64_t bytes; /* request bodies as received (compressed when they were) */
    uint64_t connections;
};

struct sk {
    struct ev_loop *loop;
    int lfd;
    ev_io accept_io;
    ev_io stdin_io;
    ev_signal sigusr1, sigterm, sigint;
    char line[256];
    size_t line_len;
    struct sk_stats st;
    struct kt_buf scratch; /* inflated bodies; reused across requests */
};

/* One request: an HTTP/2 stream, or the current HTTP/1.1 message. */
struct sk_req {
    struct sk_req *next;
    int32_t stream_id;
    bool grpc;
    bool gzip;
    bool path_ok;
    enum kt_signal sig;
    struct kt_buf body;
    bool too_big;
    int grpc_status;  /* of the answer */
    int http_status;  /* of the answer */
    size_t resp_sent; /* bytes of the empty gRPC message sent */
};

enum sk_proto { P_UNKNOWN, P_H1, P_H2 };

struct sk_conn {
    struct sk *s;
    int fd;
    ev_io io;
    int io_events;
    enum sk_proto proto;
    uint8_t peek[4];
    size_t npeek;
    bool wblocked;
    bool closing;
    nghttp2_session *h2;
    struct sk_req *reqs; /* open h2 streams, freed with the connection */
    http_parser hp;
    struct sk_req h1;
    char hfield[32];
    size_t hfield_len;
    bool in_value;
    char cenc[32];
    size_t cenc_len;
    char url[256];
    size_t url_len;
    struct kt_buf out;
    size_t out_pos;
};

static struct sk S;

/* ---- counting without decoding ---- */

static int pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return KT_EINVAL;
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return KT_EINVAL;
}

/* The path from the top-level message to the items, as one bit mask of the wanted
 * length-delimited field numbers per level; items are counted at the last level. */
struct sk_walk {
    int levels;
    uint32_t fields[5];
};

static const struct sk_walk walks[KT_SIGNAL_COUNT] = {
    /* resource_spans(1) > scope_spans(2) > spans(2) */
    [KT_SIGNAL_TRACES] = {3, {1u << 1, 1u << 2, 1u << 2}},
    /* resource_metrics(1) > scope_metrics(2) > metrics(2) > gauge(5) | sum(7) |
     * histogram(9) | exponential_histogram(10) | summary(11) > data_points(1) */
    [KT_SIGNAL_METRICS] = {5,
                           {1u << 1, 1u << 2, 1u << 2,
                            1u << 5 | 1u << 7 | 1u << 9 | 1u << 10 | 1u << 11, 1u << 1}},
    /* resource_logs(1) > scope_logs(2) > log_records(2) */
    [KT_SIGNAL_LOGS] = {3, {1u << 1, 1u << 2, 1u << 2}},
};

static int count_items(const uint8_t *p, const uint8_t *end, const struct sk_walk *w, int depth,
                       uint64_t *n)
{
    while (p < end) {
        uint64_t key, v;
        if (pb_varint(&p, end, &key) != 0)
            return KT_EINVAL;
        uint64_t field = key >> 3;
        switch (key & 7) {
        case 0:
            if (pb_varint(&p, end, &v) != 0)
                return KT_EINVAL;
            break;
        case 1:
            if (end - p < 8)
                return KT_EINVAL;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return KT_EINVAL;
            p += 4;
            break;
        case 2:
            if (pb_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return KT_EINVAL;
            if (field < 32 && (w->fields[depth] >> field & 1)) {
                if (depth == w->levels - 1)
                    (*n)++;
                else if (count_items(p, p + v, w, depth + 1, n) != 0)
                    return KT_EINVAL;
            }
            p += v;
            break;
        default: return KT_EINVAL;
        }
    }
    return 0;
}

/* Counts a complete request; returns the gRPC status to answer with. */
static int sk_account(struct sk *s, struct sk_req *r)
{
    struct kt_slice body = kt_buf_slice(&r->body);
    struct kt_slice msg = body;
    bool compressed = r->gzip;
    struct kt_err err = {0};
    s->st.bytes += body.n;
    if (r->too_big)
        return KT_GRPC_RESOURCE_EXHAUSTED;
    if (r->grpc) {
        if (kt_grpc_frame_parse(body, SK_MAX_BODY, &msg, &compressed, &err) != 0)
            return KT_GRPC_INVALID_ARGUMENT;
        if (compressed && !r->gzip)
            return KT_GRPC_INVALID_ARGUMENT; /* compressed flag without grpc-encoding */
    }
    if (compressed) {
        kt_buf_reset(&s->scratch);
        int rc = kt_gunzip(msg, SK_MAX_BODY, &s->scratch, &err);
        if (rc != 0)
            return rc == KT_ETOOBIG ? KT_GRPC_RESOURCE_EXHAUSTED : KT_GRPC_INVALID_ARGUMENT;
        msg = kt_buf_slice(&s->scratch);
    }
    uint64_t n = 0;
    if (count_items(msg.p, msg.p + msg.n, &walks[r->sig], 0, &n) != 0)
        return KT_GRPC_INVALID_ARGUMENT;
    s->st.requests++;
    s->st.items[r->sig] += n;
    return KT_GRPC_OK;
}

static void sk_finish(struct sk *s, struct sk_req *r)
{
    if (!r->path_ok) {
        r->grpc_status = KT_GRPC_UNIMPLEMENTED;
        r->http_status = 404;
    } else {
        r->grpc_status = sk_account(s, r);
        r->http_status = r->grpc_status == KT_GRPC_OK                   ? 200
                         : r->grpc_status == KT_GRPC_RESOURCE_EXHAUSTED ? 413
                                                                        : 400;
    }
    if (r->grpc_status != KT_GRPC_OK)
        s->st.bad_requests++;
    kt_buf_free(&r->body);
}

static void route(struct sk_req *r, const char *path, size_t n)
{
    if (kt_signal_route(path, n, &r->sig, &r->grpc))
        r->path_ok = true;
}

static void body_append(struct sk_req *r, const uint8_t *p, size_t n)
{
    if (r->too_big)
        return;
    if (r->body.len + n > SK_MAX_BODY || kt_buf_append(&r->body, p, n) != 0) {
        r->too_big = true;
        kt_buf_free(&r->body);
    }
}

/* ---- connections ---- */

static void conn_close(struct sk_conn *c)
{
    ev_io_stop(c->s->loop, &c->io);
    close(c->fd);
    struct sk_req *r = c->reqs;
    while (r) {
        struct sk_req *next = r->next;
        kt_buf_free(&r->body);
        free(r);
        r = next;
    }
    nghttp2_session_del(c->h2);
    kt_buf_free(&c->h1.body);
    kt_buf_free(&c->out);
    free(c);
}

static void conn_set_events(struct sk_conn *c, int ev)
{
    if (c->io_events == ev)
        return;
    ev_io_stop(c->s->loop, &c->io);
    ev_io_set(&c->io, c->fd, ev);
    ev_io_start(c->s->loop, &c->io);
    c->io_events = ev;
}

/* Sends what is pending; returns -1 when the connection was closed. */
static int conn_flush(struct sk_conn *c)
{
    if (c->proto == P_H2) {
        if (nghttp2_session_send(c->h2) != 0 ||
            (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))) {
            conn_close(c);
            return -1;
        }
    } else {
        while (c->out_pos < c->out.len) {
            ssize_t n = send(c->fd, c->out.p + c->out_pos, c->out.len - c->out_pos, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->wblocked = true;
                break;
            }
            if (n < 0) {
                conn_close(c);
                return -1;
            }
            c->out_pos += (size_t)n;
        }
        if (c->out_pos == c->out.len) {
            kt_buf_reset(&c->out);
            c->out_pos = 0;
            if (c->closing) {
                conn_close(c);
                return -1;
            }
        }
    }
    conn_set_events(c, EV_READ | (c->wblocked ? EV_WRITE : 0));
    return 0;
}

/* HTTP/2 */

static ssize_t h2_send_cb(nghttp2_session *h, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)h;
    (void)flags;
    struct sk_conn *c = ud;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->wblocked = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2_on_begin_headers(nghttp2_session *h, const nghttp2_frame *f, void *ud)
{
    struct sk_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct sk_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    r->stream_id = f->hd.stream_id;
    r->next = c->reqs;
    c->reqs = r;
    nghttp2_session_set_stream_user_data(h, f->hd.stream_id, r);
    return 0;
}

static bool is_gzip(const uint8_t *v, size_t n)
{
    return n == 4 && strncasecmp((const char *)v, "gzip", 4) == 0;
}

static int h2_on_header(nghttp2_session *h, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct sk_req *r = nghttp2_session_get_stream_user_data(h, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        route(r, (const char *)value, valuelen);
    else if ((namelen == 13 && memcmp(name, "grpc-encoding", 13) == 0) ||
             (namelen == 16 && memcmp(name, "content-encoding", 16) == 0))
        r->gzip = r->gzip || is_gzip(value, valuelen);
    return 0;
}

static int h2_on_data(nghttp2_session *h, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    struct sk_req *r = nghttp2_session_get_stream_user_data(h, id);
    if (r)
        body_append(r, data, len);
    return 0;
}

/* The body of a gRPC answer: one empty Export*ServiceResponse, i.e. a bare prefix. */
static ssize_t h2_grpc_body(nghttp2_session *h, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    struct sk_req *r = src->ptr;
    static const uint8_t empty_msg[KT_GRPC_PREFIX_LEN] = {0};
    size_t left = sizeof(empty_msg) - r->resp_sent;
    if (len > left)
        len = left;
    memcpy(buf, empty_msg + r->resp_sent, len);
    r->resp_sent += len;
    if (r->resp_sent == sizeof(empty_msg)) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        nghttp2_nv tr[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
                            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE}};
        if (nghttp2_submit_trailer(h, id, tr, 1) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return (ssize_t)len;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME     \
    }

static void h2_respond(struct sk_conn *c, struct sk_req *r)
{
    char status[8], gstatus[8];
    snprintf(status, sizeof(status), "%d", r->grpc ? 200 : r->http_status);
    snprintf(gstatus, sizeof(gstatus), "%d", r->grpc_status);
    if (r->grpc && r->grpc_status == KT_GRPC_OK) {
        nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        nghttp2_data_provider prd = {.source = {.ptr = r}, .read_callback = h2_grpc_body};
        nghttp2_submit_response(c->h2, r->stream_id, hd, 2, &prd);
    } else if (r->grpc) {
        /* Trailers-only: the error status rides in the single HEADERS frame. */
        nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                           NV("grpc-status", gstatus),
                           NV("grpc-message", "kotel-sink: request refused")};
        nghttp2_submit_response(c->h2, r->stream_id, hd, 4, NULL);
    } else {
        nghttp2_nv hd[] = {NV(":status", status), NV("content-type", "application/x-protobuf"),
                           NV("content-length", "0")};
        nghttp2_submit_response(c->h2, r->stream_id, hd, 3, NULL);
    }
}

static int h2_on_frame_recv(nghttp2_session *h, const nghttp2_frame *f, void *ud)
{
    struct sk_conn *c = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct sk_req *r = nghttp2_session_get_stream_user_data(h, f->hd.stream_id);
    if (r == NULL)
        return 0;
    sk_finish(c->s, r);
    h2_respond(c, r);
    return 0;
}

static int h2_on_close(nghttp2_session *h, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct sk_conn *c = ud;
    struct sk_req *r = nghttp2_session_get_stream_user_data(h, id);
    if (r == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(h, id, NULL);
    for (struct sk_req **pp = &c->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    kt_buf_free(&r->body);
    free(r);
    return 0;
}

static int h2_init(struct sk_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return KT_ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_close);
    int rc = nghttp2_session_server_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return KT_ENOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, SK_H2_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0)
        return KT_EIO;
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, SK_H2_WINDOW);
    return 0;
}

/* HTTP/1.1 */

static int h1_on_begin(http_parser *p)
{
    struct sk_conn *c = p->data;
    kt_buf_free(&c->h1.body);
    c->h1 = (struct sk_req){0};
    c->url_len = 0;
    c->hfield_len = 0;
    c->cenc_len = 0;
    c->in_value = false;
    return 0;
}

static int h1_on_url(http_parser *p, const char *at, size_t n)
{
    struct sk_conn *c = p->data;
    size_t room = sizeof(c->url) - c->url_len;
    if (n > room)
        n = room;
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    return 0;
}

static int h1_on_field(http_parser *p, const char *at, size_t n)
{
    struct sk_conn *c = p->data;
    if (c->in_value) {
        c->in_value = false;
        c->hfield_len = 0;
    }
    size_t room = sizeof(c->hfield) - c->hfield_len;
    if (n > room)
        n = room;
    memcpy(c->hfield + c->hfield_len, at, n);
    c->hfield_len += n;
    return 0;
}

static int h1_on_value(http_parser *p, const char *at, size_t n)
{
    struct sk_conn *c = p->data;
    c->in_value = true;
    if (c->hfield_len != 16 || strncasecmp(c->hfield, "content-encoding", 16) != 0)
        return 0;
    size_t room = sizeof(c->cenc) - c->cenc_len;
    if (n > room)
        n = room;
    memcpy(c->cenc + c->cenc_len, at, n);
    c->cenc_len += n;
    return 0;
}

static int h1_on_headers_done(http_parser *p)
{
    struct sk_conn *c = p->data;
    route(&c->h1, c->url, c->url_len);
    if (c->h1.grpc || p->method != HTTP_POST)
        c->h1.path_ok = false; /* gRPC needs HTTP/2 */
    c->h1.gzip = is_gzip((const uint8_t *)c->cenc, c->cenc_len);
    return 0;
}

static int h1_on_body(http_parser *p, const char *at, size_t n)
{
    struct sk_conn *c = p->data;
    body_append(&c->h1, (const uint8_t *)at, n);
    return 0;
}

static int h1_on_complete(http_parser *p)
{
    struct sk_conn *c = p->data;
    sk_finish(c->s, &c->h1);
    const char *reason = c->h1.http_status == 200   ? "OK"
                         : c->h1.http_status == 404 ? "Not Found"
                         : c->h1.http_status == 413 ? "Payload Too Large"
                                                    : "Bad Request";
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n"
                     "Content-Length: 0\r\n%s\r\n",
                     c->h1.http_status, reason,
                     http_should_keep_alive(p) ? "" : "Connection: close\r\n");
    if (kt_buf_append(&c->out, head, (size_t)n) != 0)
        return -1;
    if (!http_should_keep_alive(p))
        c->closing = true;
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_message_begin = h1_on_begin,
    .on_url = h1_on_url,
    .on_header_field = h1_on_field,
    .on_header_value = h1_on_value,
    .on_headers_complete = h1_on_headers_done,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_complete,
};

/* Returns -1 when the connection must close. */
static int conn_feed(struct sk_conn *c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (c->proto == P_H2)
        return nghttp2_session_mem_recv(c->h2, p, n) < 0 ? -1 : 0;
    size_t used = http_parser_execute(&c->hp, &h1_settings, (const char *)p, n);
    return used != n || HTTP_PARSER_ERRNO(&c->hp) != HPE_OK ? -1 : 0;
}

static void conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct sk_conn *c = w->data;
    if (revents & EV_WRITE) {
        c->wblocked = false;
        if (conn_flush(c) != 0)
            return;
    }
    if (!(revents & EV_READ) || c->closing)
        return;
    uint8_t buf[SK_READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    const uint8_t *p = buf;
    size_t len = (size_t)n;
    if (c->proto == P_UNKNOWN) {
        size_t take = sizeof(c->peek) - c->npeek;
        if (take > len)
            take = len;
        memcpy(c->peek + c->npeek, p, take);
        c->npeek += take;
        p += take;
        len -= take;
        if (c->npeek < sizeof(c->peek))
            return;
        /* The HTTP/2 connection preface starts "PRI "; no HTTP/1.1 method does. */
        if (memcmp(c->peek, "PRI ", 4) == 0) {
            c->proto = P_H2;
            if (h2_init(c) != 0) {
                conn_close(c);
                return;
            }
        } else {
            c->proto = P_H1;
            http_parser_init(&c->hp, HTTP_REQUEST);
            c->hp.data = c;
        }
        if (conn_feed(c, c->peek, sizeof(c->peek)) != 0) {
            conn_close(c);
            return;
        }
    }
    if (conn_feed(c, p, len) != 0) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct sk *s = w->data;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error (EMFILE): the next readiness retries */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct sk_conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        ev_io_init(&c->io, conn_io, fd, EV_READ);
        c->io.data = c;
        c->io_events = EV_READ;
        ev_io_start(loop, &c->io);
        s->st.connections++;
    }
}

/* ---- control ---- */

static void print_stats(const struct sk *s)
{
    printf("{\"requests\":%" PRIu64 ",\"spans\":%" PRIu64 ",\"data_points\":%" PRIu64
           ",\"log_records\":%" PRIu64 ",\"bad_requests\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"connections\":%" PRIu64 "}\n",
           s->st.requests, s->st.items[KT_SIGNAL_TRACES], s->st.items[KT_SIGNAL_METRICS],
           s->st.items[KT_SIGNAL_LOGS], s->st.bad_requests, s->st.bytes, s->st.connections);
    fflush(stdout);
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    struct sk *s = w->data;
    print_stats(s);
    if (w->signum != SIGUSR1)
        ev_break(loop, EVBREAK_ALL);
}

static void stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct sk *s = w->data;
    char buf[256];
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        ev_io_stop(loop, w); /* stdin closed: only signals control us now */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (s->line_len < sizeof(s->line) - 1)
                s->line[s->line_len++] = buf[i];
            continue;
        }
        s->line[s->line_len] = '\0';
        if (s->line_len > 0 && s->line[s->line_len - 1] == '\r')
            s->line[--s->line_len] = '\0';
        if (strcmp(s->line, "stats") == 0)
            print_stats(s);
        else if (s->line_len > 0)
            fprintf(stderr, "kotel-sink: unknown command '%s' (want 'stats')\n", s->line);
        s->line_len = 0;
    }
}

static int sk_listen(struct sk *s, const char *addr, char *bound, size_t cap, struct kt_err *err)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr)
        return kt_err_set(err, KT_EINVAL, "--listen: '%s', want HOST:PORT", addr);
    char host[256];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host))
        return kt_err_set(err, KT_EINVAL, "--listen: host too long");
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0)
        return kt_err_set(err, KT_ENOTFOUND, "--listen %s: %s", addr, gai_strerror(rc));
    s->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(s->lfd, 1024) != 0) {
        rc = kt_err_set(err, KT_EIO, "--listen %s: %s", addr, strerror(errno));
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return kt_err_set(err, KT_EIO, "--listen %s: cannot read the bound address", addr);
    snprintf(bound, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kotel-sink [--listen HOST:PORT]\n"
               "\n"
               "A discarding OTLP backend (gRPC over h2c, HTTP/1.1 and h2c protobuf, gzip) that\n"
               "counts requests and spans / data points / log records.\n"
               "\n"
               "  --listen HOST:PORT  where to listen (default 127.0.0.1:0, a free port)\n"
               "  --help              this text\n"
               "\n"
               "stdout: first line HOST:PORT as bound; then one JSON line of counters per\n"
               "SIGUSR1 or 'stats' line on stdin, and a last one on SIGTERM/SIGINT (exit 0):\n"
               "{\"requests\":N,\"spans\":N,\"data_points\":N,\"log_records\":N,"
               "\"bad_requests\":N,\"bytes\":N,\"connections\":N}\n");
}

int main(int argc, char **argv)
{
    struct sk *s = &S;
    const char *listen_addr = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_addr = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kotel-sink: %s: unknown option, or its value is missing\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct kt_err err = {0};
    char bound[300];
    if (sk_listen(s, listen_addr, bound, sizeof(bound), &err) != 0) {
        fprintf(stderr, "kotel-sink: %s\n", err.msg);
        return 2;
    }
    s->loop = EV_DEFAULT;
    ev_io_init(&s->accept_io, accept_cb, s->lfd, EV_READ);
    s->accept_io.data = s;
    ev_io_start(s->loop, &s->accept_io);
    ev_io_init(&s->stdin_io, stdin_cb, STDIN_FILENO, EV_READ);
    s->stdin_io.data = s;
    ev_io_start(s->loop, &s->stdin_io);
    ev_signal_init(&s->sigusr1, sig_cb, SIGUSR1);
    ev_signal_init(&s->sigterm, sig_cb, SIGTERM);
    ev_signal_init(&s->sigint, sig_cb, SIGINT);
    s->sigusr1.data = s->sigterm.data = s->sigint.data = s;
    ev_signal_start(s->loop, &s->sigusr1);
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    printf("%s\n", bound);
    fflush(stdout);
    ev_run(s->loop, 0);
    kt_buf_free(&s->scratch);
    close(s->lfd);
    return 0;
}
