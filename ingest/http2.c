/* HTTP/2 (h2c) on a connection, with nghttp2. Each stream is one request; gRPC answers
 * carry their status in trailers, or in a trailers-only HEADERS frame for errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_grpc.h"
#include "kt_log.h"
#include "server_int.h"

#define H2_MAX_STREAMS 256
/* Large windows let a 16MiB request arrive without a round trip per 64KiB. */
#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW (16 << 20)

static struct srv_req *stream_req(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static void unlink_req(struct srv_conn *c, struct srv_req *r)
{
    for (struct srv_req **pp = &c->h2_reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct srv_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct srv_req *r = srv_req_new(c);
    if (r == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    r->stream_id = f->hd.stream_id;
    r->next = c->h2_reqs;
    c->h2_reqs = r;
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

static void request_complete(struct srv_conn *c, struct srv_req *r)
{
    (void)c;
    if (r->complete)
        return;
    r->complete = true;
    if (!r->responded)
        otlp_service_handle(r);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct srv_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct srv_req *r = stream_req(s, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !r->headers_done) {
        r->headers_done = true;
        otlp_service_headers(r, -1);
        if (r->responded) {
            h2_req_respond(r);
            return 0;
        }
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        request_complete(c, r);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    struct srv_conn *c = ud;
    struct srv_req *r = stream_req(s, id);
    if (r == NULL || r->responded)
        return 0;
    size_t total = r->body.len + len;
    if (total > c->srv->conf->receiver.max_request_bytes) {
        srv_req_release_body(r);
        otlp_service_headers(r, (int64_t)total);
        if (r->responded)
            h2_req_respond(r);
        return 0;
    }
    if (r->body.len == 0) {
        uint64_t n = len;
        if (len >= KT_GRPC_PREFIX_LEN && strncasecmp(r->content_type, "application/grpc", 16) == 0)
            n = KT_GRPC_PREFIX_LEN + ((uint64_t)data[1] << 24 | (uint64_t)data[2] << 16 |
                                      (uint64_t)data[3] << 8 | data[4]);
        srv_req_expect_body(r, n);
    }
    if (kt_buf_append(&r->body, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct srv_conn *c = ud;
    struct srv_req *r = stream_req(s, id);
    if (r == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    unlink_req(c, r);
    /* The answer, if not sent yet, can no longer be: the ticket is abandoned and the data
     * still goes to Kafka. */
    srv_req_free(r);
    return 0;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct srv_conn *c = ud;
    if (srv_conn_write(c, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

int h2_conn_init(struct srv_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    int rc = nghttp2_session_server_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        return -1;
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    return 0;
}

int h2_conn_feed(struct srv_conn *c, const uint8_t *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(c->h2, p, n);
    if (rc < 0) {
        kt_info("connection from %s: HTTP/2 error: %s", c->peer, nghttp2_strerror((int)rc));
        return -1;
    }
    return 0;
}

int h2_conn_flush(struct srv_conn *c)
{
    if (c->h2 == NULL)
        return 0;
    int rc = nghttp2_session_send(c->h2);
    if (rc != 0) {
        kt_info("connection from %s: HTTP/2 send: %s", c->peer, nghttp2_strerror(rc));
        return -1;
    }
    return 0;
}

bool h2_conn_done(struct srv_conn *c)
{
    return c->h2 && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2);
}

void h2_conn_goaway(struct srv_conn *c)
{
    if (c->h2)
        nghttp2_submit_shutdown_notice(c->h2);
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

void h2_req_respond(struct srv_req *r)
{
    struct srv_conn *c = r->conn;
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
        nghttp2_submit_response(c->h2, r->stream_id, hdrs, n, NULL);
    } else {
        if (r->resp.retry_after)
            hdrs[n++] = (nghttp2_nv)NV("retry-after", retry);
        if (r->resp.http_status == 405)
            hdrs[n++] = (nghttp2_nv)NV("allow", "POST");
        nghttp2_data_provider prd = {.source = {.ptr = r}, .read_callback = body_read};
        nghttp2_submit_response(c->h2, r->stream_id, hdrs, n, &prd);
    }
    /* Inside nghttp2's receive callbacks sending must wait: the read path flushes when
     * nghttp2_session_mem_recv returns. */
    if (c->depth == 0)
        srv_conn_want_write(c);
}

void h2_conn_free(struct srv_conn *c)
{
    struct srv_req *r = c->h2_reqs;
    while (r) {
        struct srv_req *next = r->next;
        if (c->h2)
            nghttp2_session_set_stream_user_data(c->h2, r->stream_id, NULL);
        srv_req_free(r);
        r = next;
    }
    c->h2_reqs = NULL;
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}
