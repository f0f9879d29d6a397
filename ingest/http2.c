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
#include "kt_endian.h"
#include "kt_log.h"
#include "protocol.h"
#include "request.h"

/* CONTINUATION frames after a HEADERS frame before the connection is closed: nghttp2's
 * default, set here so as not to depend on the version (older ones had no bound at all). A
 * header section within max_header_bytes (64 KiB at most) fits in HEADERS and four
 * CONTINUATIONs of the default 16 KiB frame size. */
#define H2_MAX_CONTINUATIONS 8
/* Streams the client may reset (RST_STREAM) in a burst, and per second after it, before the
 * connection is closed with GOAWAY ENHANCE_YOUR_CALM (the "rapid reset" attack,
 * CVE-2023-44487: each stream opened and reset at once costs the server its setup while
 * never counting against max_concurrent_streams). gRPC clients reset a stream per cancelled
 * call, rarely dozens a second. nghttp2's own limiter (default 1000 and 33/s; its GOAWAY
 * says INTERNAL_ERROR) is set to twice these as a backstop; ours comes first so that the
 * client hears why. */
#define H2_RESET_BURST 100.0
#define H2_RESET_RATE 33.0
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
    bool calm;               /* GOAWAY ENHANCE_YOUR_CALM submitted: close once it is sent */
    double reset_tokens;     /* RST_STREAM frames the client may still send (H2_RESET_*) */
    ev_tstamp reset_at;      /* when reset_tokens was last refilled */
};

/* One line per connection would let a crowd of hostile clients flood the log. */
static struct kt_log_limit flood_log = KT_LOG_LIMIT(1.0, 5);

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
    struct h2_conn *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct srv_req *r = stream_req(s, f->hd.stream_id);
    if (r == NULL || r->headers_done)
        return 0; /* trailers from the client carry nothing we use */
    /* RFC 9113 section 6.5.2: a field counts its name, its value and 32 bytes. Past the
     * bound the rest is dropped and the stream answered 431 once the block ends. */
    r->header_bytes += namelen + valuelen + 32;
    if (r->header_bytes > srv_reqs_limits(h->reqs)->max_header_bytes)
        return 0;
    if (namelen > 0 && name[0] != ':')
        srv_req_header(r, (const char *)name, namelen, value, valuelen, false);
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
    else if (IS("authorization")) {
        /* Of two Authorization fields neither counts (which one would be ambiguous): the
         * value is emptied, which no token matches. */
        if (r->has_authorization)
            copy_value(r->authorization, sizeof(r->authorization), (const uint8_t *)"", 0);
        else
            copy_value(r->authorization, sizeof(r->authorization), value, valuelen);
        r->has_authorization = true;
    }
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

/* Tells the client of h to calm down: GOAWAY ENHANCE_YOUR_CALM, then the connection closes
 * (h2_feed). */
static void calm_down(struct h2_conn *h, const char *why)
{
    kt_log_limited(&flood_log, KT_LOG_WARN, "connection from %s: %s; closing with GOAWAY",
                   conn_peer(h->c), why);
    nghttp2_session_terminate_session(h->session, NGHTTP2_ENHANCE_YOUR_CALM);
    h->calm = true;
}

/* A token bucket of the client's stream resets (H2_RESET_*). */
static void count_reset(struct h2_conn *h)
{
    ev_tstamp now = conn_now(h->c);
    h->reset_tokens += (now - h->reset_at) * H2_RESET_RATE;
    if (h->reset_tokens > H2_RESET_BURST)
        h->reset_tokens = H2_RESET_BURST;
    h->reset_at = now;
    h->reset_tokens -= 1;
    if (h->reset_tokens >= 0 || h->calm)
        return;
    conn_stats(h->c)->h2_reset_floods++;
    char why[96];
    snprintf(why, sizeof(why), "streams reset faster than %g a second after %g (rapid reset)",
             H2_RESET_RATE, H2_RESET_BURST);
    calm_down(h, why);
}

/* The header list of r passed max_header_bytes: answered here, unseen by the service. */
static void refuse_header_list(struct h2_conn *h, struct srv_req *r)
{
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
    unsigned long long max = (unsigned long long)srv_reqs_limits(h->reqs)->max_header_bytes;
    kt_log_limited(&log_limit, KT_LOG_INFO,
                   "connection from %s: HTTP/2 header list over [receiver] max_header_bytes "
                   "(%llu); answering 431",
                   conn_peer(h->c), max);
    conn_stats(h->c)->header_too_large++;
    r->resp.http_status = 431;
    if (strncasecmp(r->content_type, "application/grpc", 16) == 0) {
        r->resp.content_type = "application/grpc";
        r->resp.grpc = true;
        r->resp.grpc_status = KT_GRPC_RESOURCE_EXHAUSTED;
        snprintf(r->resp.grpc_message, sizeof(r->resp.grpc_message),
                 "header list over [receiver] max_header_bytes (%llu)", max);
    } else {
        r->resp.content_type = "text/plain";
    }
    r->responded = true;
    h2_respond(h, r);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *h = ud;
    if (f->hd.type == NGHTTP2_RST_STREAM)
        count_reset(h);
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct srv_req *r = stream_req(s, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !r->headers_done) {
        r->headers_done = true;
        if (r->header_bytes > srv_reqs_limits(h->reqs)->max_header_bytes) {
            refuse_header_list(h, r);
            return 0;
        }
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
            n = KT_GRPC_PREFIX_LEN + (uint64_t)kt_get_be32(data + 1);
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

/* nghttp2 found a frame against the protocol (a stream over max_concurrent_streams, among
 * others) and answered it with RST_STREAM or GOAWAY itself: only counted here. */
static int on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud)
{
    (void)s;
    (void)f;
    (void)lib_error;
    struct h2_conn *h = ud;
    conn_stats(h->c)->h2_protocol_errors++;
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
    nghttp2_option *opt = NULL;
    int rc;
    if (h == NULL)
        return NULL;
    h->c = c;
    h->reqs = reqs;
    h->reset_tokens = H2_RESET_BURST;
    h->reset_at = conn_now(c);
    if (nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_option_set_max_continuations(opt, H2_MAX_CONTINUATIONS);
    nghttp2_option_set_stream_reset_rate_limit(opt, (uint64_t)(2 * H2_RESET_BURST),
                                               (uint64_t)(2 * H2_RESET_RATE));
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        goto fail;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
    rc = nghttp2_session_server_new2(&h->session, cbs, h, opt);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        goto fail;
    const struct srv_req_limits *lim = srv_reqs_limits(reqs);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_concurrent_streams < UINT32_MAX
                                                      ? (uint32_t)lim->max_concurrent_streams
                                                      : UINT32_MAX},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)lim->max_header_bytes},
    };
    if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        goto fail;
    nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    nghttp2_option_del(opt);
    return h;
fail:
    nghttp2_option_del(opt);
    h2_free(h);
    return NULL;
}

static int h2_feed(void *p, const uint8_t *b, size_t n)
{
    struct h2_conn *h = p;
    h->receiving = true;
    ssize_t rc = nghttp2_session_mem_recv(h->session, b, n);
    h->receiving = false;
    if (rc == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
        conn_stats(h->c)->h2_continuation_floods++;
        char why[96];
        snprintf(why, sizeof(why), "more than %d CONTINUATION frames after a HEADERS frame",
                 H2_MAX_CONTINUATIONS);
        calm_down(h, why);
        return -1;
    }
    if (rc < 0) {
        static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
        kt_log_limited(&log_limit, KT_LOG_INFO, "connection from %s: HTTP/2 error: %s",
                       conn_peer(h->c), nghttp2_strerror((int)rc));
        conn_stats(h->c)->h2_protocol_errors++;
        return -1;
    }
    /* The GOAWAY goes out as the connection closes (conn_finish flushes first). */
    return h->calm ? -1 : 0;
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
        if (r->resp.www_authenticate)
            hdrs[n++] = (nghttp2_nv)NV("www-authenticate", r->resp.www_authenticate);
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

/* When r, still arriving, runs out of time: header_timeout until its headers are in,
 * body_timeout from then on; 0 when it is not arriving. */
static ev_tstamp stream_deadline(const struct srv_req *r, const struct conn_timeouts *t)
{
    if (r->complete || r->responded)
        return 0;
    return r->headers_done ? r->headers_at + t->body : r->started + t->header;
}

static ev_tstamp h2_deadline(void *p, const struct conn_timeouts *t)
{
    const struct h2_conn *h = p;
    if (!h->seen_request)
        return conn_accepted(h->c) + t->header;
    ev_tstamp first = 0;
    for (const struct srv_req *r = h->streams; r; r = r->next) {
        ev_tstamp due = stream_deadline(r, t);
        if (due > 0 && (first == 0 || due < first))
            first = due;
    }
    return first;
}

/* A stream whose request never finishes arriving is reset; the connection and its other
 * streams go on. */
static int h2_expire(void *p, ev_tstamp now, const struct conn_timeouts *t)
{
    /* One line per connection would let a crowd of slow clients flood the log. */
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
    struct h2_conn *h = p;
    struct srv_stats *st = conn_stats(h->c);
    if (!h->seen_request) {
        /* The preface alone (with SETTINGS, PINGs...) opens no request: the connection only
         * holds a slot. GOAWAY tells the client it may connect again when it has one. */
        if (now < conn_accepted(h->c) + t->header)
            return 0;
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: no HTTP/2 request within [receiver] header_timeout "
                       "(%gs) of connecting; closing",
                       conn_peer(h->c), t->header);
        st->header_timeouts++;
        nghttp2_session_terminate_session(h->session, NGHTTP2_NO_ERROR);
        return -1;
    }
    int headers = 0, bodies = 0;
    for (struct srv_req *r = h->streams; r; r = r->next) {
        ev_tstamp due = stream_deadline(r, t);
        if (due == 0 || now < due)
            continue;
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
        r->responded = true;
        if (r->headers_done)
            bodies++;
        else
            headers++;
    }
    st->header_timeouts += (uint64_t)headers;
    st->body_timeouts += (uint64_t)bodies;
    if (headers + bodies > 0) {
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: HTTP/2 streams reset: %d without their headers "
                       "within [receiver] header_timeout (%gs), %d without their body within "
                       "body_timeout (%gs)",
                       conn_peer(h->c), headers, t->header, bodies, t->body);
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
    .deadline = h2_deadline,
    .expire = h2_expire,
    .free = h2_free,
};
