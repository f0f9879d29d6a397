/* otlp_client over HTTP/2 (gRPC): one nghttp2 client session per connection, one stream
 * per request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_client_int.h"

/* nghttp2 frames go into wbuf; beyond this much unsent, it waits for the socket. */
#define H2_WBUF_HIGH (1u << 20)
#define H2_LOCAL_WINDOW (1 << 20)

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct otlp_client *c = ud;
    if (otlp_client_queued(c) > H2_WBUF_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (kt_buf_append(&c->wbuf, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)s;
    (void)flags;
    struct otlp_client *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != c->h2.stream_id || c->h2.stream_id == 0)
        return 0;
    c->r.got_bytes = true;
    otlp_response_header(&c->r, name, namelen, value, valuelen);
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)s;
    (void)flags;
    struct otlp_client *c = ud;
    if (id == c->h2.stream_id && c->h2.stream_id != 0) {
        c->r.got_bytes = true;
        otlp_response_body(&c->r, data, len);
    }
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    struct otlp_client *c = ud;
    if (id != c->h2.stream_id || c->h2.stream_id == 0)
        return 0;
    c->h2.stream_id = 0;
    if (!c->busy || c->r.complete)
        return 0;
    if (code == NGHTTP2_NO_ERROR || c->r.grpc_status >= 0) {
        c->r.complete = true;
        return 0;
    }
    /* REFUSED_STREAM (also what a GOAWAY does to streams it did not take) promises the
     * request was not processed: safe to send again on a new connection. */
    if (code == NGHTTP2_REFUSED_STREAM && !c->resent) {
        c->r.resend = true;
        return 0;
    }
    otlp_response_fail(&c->r, KT_EIO, "backend reset the stream: %s", nghttp2_http2_strerror(code));
    return 0;
}

static ssize_t h2_body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)src;
    struct otlp_client *c = ud;
    size_t left = c->req.body.n - c->h2.body_sent;
    if (len > left)
        len = left;
    /* In the clear, a DATA frame's payload goes out from the body itself (h2_send_data);
     * TLS copies into its records anyway, and one record per frame beats two. */
    if (!c->tls)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    else if (len)
        memcpy(buf, c->req.body.p + c->h2.body_sent, len);
    c->h2.body_sent += len;
    if (c->h2.body_sent == c->req.body.n)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

/* A DATA frame of h2_body_read's NO_COPY: its header (and padding, which kotel never asks
 * for) queued in wbuf around the body's next len bytes, lent. Frames come in the order they
 * were read, so they take the body in turn. */
static int h2_send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *hd, size_t len,
                        nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)src;
    struct otlp_client *c = ud;
    if (otlp_client_queued(c) > H2_WBUF_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    size_t pad = f->data.padlen;
    uint8_t padlen = (uint8_t)(pad - 1);
    static const uint8_t zeros[256];
    if (kt_buf_append(&c->wbuf, hd, 9) != 0 || (pad > 0 && kt_buf_append(&c->wbuf, &padlen, 1)) ||
        otlp_client_lend(c, (struct kt_slice){c->req.body.p + c->h2.body_lent, len}) != 0 ||
        (pad > 1 && kt_buf_append(&c->wbuf, zeros, pad - 1) != 0))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    c->h2.body_lent += len;
    return 0;
}

static int h2_open(struct otlp_client *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cbs, h2_send_data);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_close);
    int rc = nghttp2_session_client_new(&c->h2.session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_LOCAL_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2.session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) !=
        0)
        return -1;
    return 0;
}

#define NV(n, v, vl)                                                                               \
    (nghttp2_nv)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), (vl), NGHTTP2_NV_FLAG_NONE                      \
    }

static int h2_start(struct otlp_client *c, struct kt_err *err)
{
    if (c->h2.session == NULL && h2_open(c) != 0)
        return kt_err_set(err, KT_EIO, "HTTP/2: cannot create session");
    size_t n = 0, cap = 5 + c->req.n_headers;
    nghttp2_nv *nv = malloc(cap * sizeof(*nv));
    if (nv == NULL)
        return kt_err_set(err, KT_EIO, "out of memory");
    const char *scheme = c->tls ? "https" : "http";
    nv[n++] = NV(":method", "POST", 4);
    nv[n++] = NV(":scheme", scheme, strlen(scheme));
    nv[n++] = NV(":authority", c->authority, strlen(c->authority));
    nv[n++] = NV(":path", c->req.path, strlen(c->req.path));
    for (size_t i = 0; i < c->req.n_headers; i++)
        nv[n++] =
            NV(c->req.headers[i].name, c->req.headers[i].value, strlen(c->req.headers[i].value));
    nghttp2_data_provider prd = {.source = {.ptr = c}, .read_callback = h2_body_read};
    c->h2.body_sent = c->h2.body_lent = 0;
    int32_t id = nghttp2_submit_request(c->h2.session, NULL, nv, n, &prd, NULL);
    free(nv);
    if (id < 0)
        return kt_err_set(err, KT_EIO, "HTTP/2: cannot submit request: %s", nghttp2_strerror(id));
    c->h2.stream_id = id;
    return 0;
}

static int h2_feed(struct otlp_client *c, const uint8_t *p, size_t n, struct kt_err *err)
{
    if (c->h2.session == NULL)
        return kt_err_set(err, KT_EPROTO, "backend sent data with no request outstanding");
    ssize_t rc = nghttp2_session_mem_recv(c->h2.session, p, n);
    if (rc < 0)
        return kt_err_set(err, KT_EPROTO, "HTTP/2: %s", nghttp2_strerror((int)rc));
    return 0;
}

static int h2_fill(struct otlp_client *c, struct kt_err *err)
{
    if (c->h2.session == NULL || !nghttp2_session_want_write(c->h2.session))
        return 0;
    int rc = nghttp2_session_send(c->h2.session);
    if (rc != 0)
        return kt_err_set(err, KT_EPROTO, "HTTP/2: %s", nghttp2_strerror(rc));
    return 0;
}

static int h2_ended(const struct otlp_client *c, struct kt_err *err)
{
    if (c->h2.session != NULL && !nghttp2_session_want_read(c->h2.session) &&
        !nghttp2_session_want_write(c->h2.session))
        return kt_err_set(err, KT_EIO, "backend ended the HTTP/2 session");
    return 0;
}

/* After a GOAWAY, new streams must go to a new connection. */
static bool h2_accepts(const struct otlp_client *c)
{
    return c->h2.session == NULL || nghttp2_session_check_request_allowed(c->h2.session);
}

static void h2_close(struct otlp_client *c)
{
    if (c->h2.session) {
        nghttp2_session_del(c->h2.session);
        c->h2.session = NULL;
    }
    c->h2.stream_id = 0;
}

const struct otlp_client_proto_ops otlp_client_h2_ops = {
    .start = h2_start,
    .feed = h2_feed,
    .fill = h2_fill,
    .ended = h2_ended,
    .accepts = h2_accepts,
    .close = h2_close,
};
