/* HTTP/2 (h2c) on a connection, with nghttp2: the h2_ops protocol table.
 *
 * Each stream is one request; gRPC answers carry their status in trailers, or in a
 * trailers-only HEADERS frame for errors. Bytes come from and go to the connection layer
 * (conn.h); requests go to the service through the request layer (request.h). */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "kt_grpc.h"
#include "kt_log.h"
#include "protocol.h"
#include "request.h"

#define H2_MAX_STREAMS 256
/* Large windows let a 16MiB request arrive without a round trip per 64KiB. */
#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW (16 << 20)

struct h2_conn {
    struct conn *c;
    struct srv_reqs *reqs;
    nghttp2_session *session;
    struct srv_req *streams; /* every open stream's request */
    bool receiving;          /* inside nghttp2_session_mem_recv */
    bool seen_request;       /* a stream was opened: header_timeout no longer counts from accept */
};

static struct srv_req *stream_req(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static void unlink_req(struct h2_conn *h, struct srv_req *r)
{
    for (struct srv_req **pp = &h->streams; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct srv_req *r = srv_req_new(h->reqs, h->c);
    if (r == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    r->http2 = true;
    r->stream_id = f->hd.stream_id;
    if (!h->seen_request) {
        /* The first request's header_timeout counts from the accept, as the wait for it did. */
        r->started = conn_accepted(h->c);
        h->seen_request = true;
    }
    r->next = h->streams;
    h->streams = r;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct srv_req *r = stream_req(s, f->hd.stream_id);
    if (r == NULL || r->headers_done)
        return 0; /* trailers from the client carry nothing we use */
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
    if (IS(":method"))
        copy_value(r->method, sizeof(r->method), value, valuelen);
    else if (IS(":path"))
        copy_value(r->path, sizeof(r->path), value, valuelen);
    else if (IS("content-type"))
        copy_value(r->content_type, sizeof(r->content_type), value, valuelen);
    else if (IS("content-encoding"))
        copy_value(r->content_encoding, sizeof(r->content_encoding), value, valuelen);
    else if (IS("grpc-encoding"))
        copy_value(r->grpc_encoding, sizeof(r->grpc_encoding), value, valuelen);
#undef IS
    return 0;
}

static void request_complete(struct srv_req *r)
{
    if (r->complete)
        return;
    r->complete = true;
    if (!r->responded)
        srv_req_handle(r);
}

static void h2_respond(void *p, struct srv_req *r);

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct srv_req *r = stream_req(s, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !r->headers_done) {
        r->headers_done = true;
        srv_req_check_headers(r, -1);
        if (r->responded) {
            h2_respond(ud, r);
            return 0;
        }
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        request_complete(r);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    struct srv_req *r = stream_req(s, id);
    if (r == NULL || r->responded)
        return 0;
    if (r->body.len == 0) {
        uint64_t n = len;
        if (len >= KT_GRPC_PREFIX_LEN && strncasecmp(r->content_type, "application/grpc", 16) == 0)
            n = KT_GRPC_PREFIX_LEN + ((uint64_t)data[1] << 24 | (uint64_t)data[2] << 16 |
                                      (uint64_t)data[3] << 8 | data[4]);
        srv_req_expect_body(r, n);
    }
    size_t total = r->body.len + len;
    switch (srv_req_body_add(r, data, len)) {
    case 0: return 0;
    case 413:
        /* Answered now, from the size alone; the rest of the stream is dropped. */
        r->early_status = 0;
        srv_req_check_headers(r, (int64_t)total);
        break;
    case 503:
        /* The service answers it (early_status) without a body. */
        srv_req_handle(r);
        return 0;
    default: return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (r->responded)
        h2_respond(ud, r);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct srv_req *r = stream_req(s, id);
    if (r == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    unlink_req(ud, r);
    /* The answer, if not sent yet, can no longer be: the ticket is abandoned and the data
     * still goes to Kafka. */
    srv_req_free(r);
    return 0;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct h2_conn *h = ud;
    if (conn_write(h->c, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static void h2_free(void *p)
{
    struct h2_conn *h = p;
    struct srv_req *r = h->streams;
    while (r) {
        struct srv_req *next = r->next;
        nghttp2_session_set_stream_user_data(h->session, r->stream_id, NULL);
        srv_req_free(r);
        r = next;
    }
    nghttp2_session_del(h->session);
    free(h);
}

static void *h2_init(struct conn *c, struct srv_reqs *reqs)
{
    struct h2_conn *h = calloc(1, sizeof(*h));
    nghttp2_session_callbacks *cbs;
    int rc;
    if (h == NULL)
        return NULL;
    h->c = c;
    h->reqs = reqs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        goto fail;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    rc = nghttp2_session_server_new(&h->session, cbs, h);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
    };
    if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        goto fail;
    nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    return h;
fail:
    h2_free(h);
    return NULL;
}

static int h2_feed(void *p, const uint8_t *b, size_t n)
{
    struct h2_conn *h = p;
    h->receiving = true;
    ssize_t rc = nghttp2_session_mem_recv(h->session, b, n);
    h->receiving = false;
    if (rc < 0) {
        kt_info("connection from %s: HTTP/2 error: %s", conn_peer(h->c), nghttp2_strerror((int)rc));
        return -1;
    }
    return 0;
}

static int h2_flush(void *p)
{
    struct h2_conn *h = p;
    int rc = nghttp2_session_send(h->session);
    if (rc != 0) {
        kt_info("connection from %s: HTTP/2 send: %s", conn_peer(h->c), nghttp2_strerror(rc));
        return -1;
    }
    return 0;
}

static bool h2_done(void *p)
{
    struct h2_conn *h = p;
    return !nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session);
}

static void h2_goaway(void *p)
{
    struct h2_conn *h = p;
    nghttp2_submit_shutdown_notice(h->session);
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)id;
    (void)ud;
    (void)s;
    struct srv_req *r = src->ptr;
    size_t left = r->resp.body.len - r->resp_sent;
    if (len > left)
        len = left;
    if (len > 0) /* an empty body (a full-success protobuf answer) has no buffer at all */
        memcpy(buf, r->resp.body.p + r->resp_sent, len);
    r->resp_sent += len;
    if (r->resp_sent == r->resp.body.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (r->resp.grpc) {
            char status[12];
            snprintf(status, sizeof(status), "%d", r->resp.grpc_status);
            nghttp2_nv tr[] = {
                {(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status),
                 NGHTTP2_NV_FLAG_NONE},
                {(uint8_t *)"grpc-message", (uint8_t *)r->resp.grpc_message, 12,
                 strlen(r->resp.grpc_message), NGHTTP2_NV_FLAG_NONE},
            };
            size_t ntr = r->resp.grpc_message[0] ? 2 : 1;
            if (nghttp2_submit_trailer(s, r->stream_id, tr, ntr) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    return (ssize_t)len;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

static void h2_respond(void *p, struct srv_req *r)
{
    struct h2_conn *h = p;
    char status[8], retry[12];
    snprintf(status, sizeof(status), "%d", r->resp.http_status);
    snprintf(retry, sizeof(retry), "%u", r->resp.retry_after);
    nghttp2_nv hdrs[8];
    size_t n = 0;
    hdrs[n++] = (nghttp2_nv)NV(":status", status);
    hdrs[n++] = (nghttp2_nv)NV("content-type", r->resp.content_type);
    char gstatus[12];
    if (r->resp.grpc && r->resp.grpc_status != 0) {
        /* Trailers-only: the status rides in the single HEADERS frame. */
        snprintf(gstatus, sizeof(gstatus), "%d", r->resp.grpc_status);
        hdrs[n++] = (nghttp2_nv)NV("grpc-status", gstatus);
        if (r->resp.grpc_message[0])
            hdrs[n++] = (nghttp2_nv)NV("grpc-message", r->resp.grpc_message);
        nghttp2_submit_response(h->session, r->stream_id, hdrs, n, NULL);
    } else {
        if (r->resp.retry_after)
            hdrs[n++] = (nghttp2_nv)NV("retry-after", retry);
        if (r->resp.http_status == 405)
            hdrs[n++] = (nghttp2_nv)NV("allow", "POST");
        nghttp2_data_provider prd = {.source = {.ptr = r}, .read_callback = body_read};
        nghttp2_submit_response(h->session, r->stream_id, hdrs, n, &prd);
    }
    /* Inside nghttp2's receive callbacks sending must wait: the read path flushes when
     * nghttp2_session_mem_recv returns. */
    conn_progress(h->c);
    if (!h->receiving)
        conn_want_write(h->c);
}

static bool h2_busy(void *p)
{
    const struct h2_conn *h = p;
    return h->streams != NULL;
}

/* Reading pauses for the write buffer only: flow control bounds what each stream sends. */
static bool h2_may_read(void *p)
{
    (void)p;
    return true;
}

static ev_tstamp h2_oldest_arriving(void *p)
{
    const struct h2_conn *h = p;
    if (!h->seen_request)
        return conn_accepted(h->c);
    ev_tstamp oldest = 0;
    for (const struct srv_req *r = h->streams; r; r = r->next)
        if (!r->complete && !r->responded && (oldest == 0 || r->started < oldest))
            oldest = r->started;
    return oldest;
}

/* A stream whose request never finishes arriving is reset; the connection and its other
 * streams go on. */
static int h2_expire(void *p, ev_tstamp now, uint64_t header_timeout_ms)
{
    /* One line per connection would let a crowd of slow clients flood the log. */
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
    struct h2_conn *h = p;
    double header_timeout = (double)header_timeout_ms / 1000.0;
    if (!h->seen_request) {
        /* The preface alone (with SETTINGS, PINGs...) opens no request: the connection only
         * holds a slot. GOAWAY tells the client it may connect again when it has one. */
        if (now - conn_accepted(h->c) < header_timeout)
            return 0;
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: no HTTP/2 request within [receiver] header_timeout "
                       "(%llums) of connecting; closing",
                       conn_peer(h->c), (unsigned long long)header_timeout_ms);
        nghttp2_session_terminate_session(h->session, NGHTTP2_NO_ERROR);
        return -1;
    }
    int reset = 0;
    for (struct srv_req *r = h->streams; r; r = r->next) {
        if (!r->complete && !r->responded && now - r->started >= header_timeout) {
            nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
            r->responded = true;
            reset++;
        }
    }
    if (reset > 0) {
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: %d HTTP/2 request(s) not complete within [receiver] "
                       "header_timeout (%llums); streams reset",
                       conn_peer(h->c), reset, (unsigned long long)header_timeout_ms);
        conn_want_write(h->c);
    }
    return 0;
}

const struct srv_proto_ops h2_ops = {
    .init = h2_init,
    .feed = h2_feed,
    .respond = h2_respond,
    .flush = h2_flush,
    .goaway = h2_goaway,
    .done = h2_done,
    .busy = h2_busy,
    .may_read = h2_may_read,
    .oldest_arriving = h2_oldest_arriving,
    .expire = h2_expire,
    .free = h2_free,
};
