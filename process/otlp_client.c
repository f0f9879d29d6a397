#include "otlp_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <nghttp2/nghttp2.h>

#include "kt_codec.h"
#include "kt_log.h"
#include "kt_tls.h"

/* A backend's answer is a small status message; anything larger is cut (and flagged) so a
 * misbehaving backend cannot make us buffer without bound. */
#define RESP_BODY_MAX (1u << 20)
/* nghttp2 frames go into wbuf; beyond this much unsent, it waits for the socket. */
#define H2_WBUF_HIGH (1u << 20)
#define H2_LOCAL_WINDOW (1 << 20)
#define READ_CHUNK (64 * 1024)

enum cstate { CS_CLOSED, CS_RESOLVING, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN };

/* A name lookup running on its own thread (getaddrinfo blocks). The thread and the client
 * each hold a reference; the thread reports through a socketpair the loop watches, so the
 * client may go away first: the thread's write then fails harmlessly. */
struct resolve_job {
    atomic_int refs;
    char host[256];
    char port[16];
    int rc;
    struct addrinfo *res;
    int notify_fd;
};

struct resp_state {
    bool complete;
    bool got_bytes; /* anything of the answer arrived (a resend would not be safe) */
    bool close_after;
    bool resend; /* lost before any answer on a reused connection: try a fresh one once */
    int err;
    char errmsg[KT_ERR_MSG_MAX];
    int http_status;
    int grpc_status;
    char grpc_message[512];
    struct kt_buf details;
    int64_t retry_after_s;
    char content_type[128];
    char content_encoding[32];
    struct kt_buf body;
    /* HTTP/1.1 header being assembled from http_parser's pieces */
    char hfield[48];
    struct kt_buf hvalue;
    bool in_value;
};

struct otlp_client {
    struct ev_loop *loop;
    otlp_client_done_fn done;
    void *ctx;
    char host[256];
    char port[16];
    char authority[300];
    enum otlp_client_proto proto;
    bool tls;
    uint64_t timeout_ms;
    struct kt_tls_ctx *tls_ctx;
    struct kt_tls_conn *tls_conn;
    bool tls_want_write;

    enum cstate state;
    int fd;
    struct addrinfo *addrs;
    struct addrinfo *ai; /* next address to try */
    struct resolve_job *job;
    int job_fd;
    char connect_err[160];
    bool reused; /* this connection already carried a request */

    ev_io io;
    int io_fd;
    int io_events;
    ev_timer timeout;
    ev_timer later;

    nghttp2_session *h2;
    int32_t stream_id;
    http_parser hp;

    struct kt_buf wbuf;
    size_t wpos;
    struct kt_slice wbody;
    size_t wbody_pos;

    bool busy;
    bool resent;
    struct otlp_client_req req;
    size_t body_sent;
    struct resp_state r;
};

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void connect_start(struct otlp_client *c);
static void start_request(struct otlp_client *c);

/* ---- small decoders ---- */

/* grpc-status-details-bin is base64, usually unpadded; both alphabets are accepted. */
static int b64_decode(const uint8_t *s, size_t n, struct kt_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = kt_base64_digit(s[i]);
        if (v < 0)
            return KT_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (kt_buf_append_byte(out, (uint8_t)(acc >> bits)) != 0)
                return KT_ENOMEM;
        }
    }
    return 0;
}

static void percent_decode(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = kt_hex_digit(s[i + 1])) >= 0 &&
            (lo = kt_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)s[i];
        }
    }
    out[o] = '\0';
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
static int64_t parse_retry_after(const uint8_t *v, size_t n)
{
    char s[64];
    copy_value(s, sizeof(s), v, n);
    char *end;
    errno = 0;
    long long secs = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0 && secs >= 0)
        return secs;
    struct tm tm = {0};
    const char *rest = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (rest == NULL || *rest != '\0')
        return -1;
    time_t when = timegm(&tm);
    time_t now = time(NULL);
    return when > now ? (int64_t)(when - now) : 0;
}

static bool name_is(const uint8_t *name, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp((const char *)name, lit, n) == 0;
}

/* A response header or trailer, HTTP/2 or HTTP/1.1 alike. */
static void on_resp_header(struct otlp_client *c, const uint8_t *name, size_t nlen,
                           const uint8_t *value, size_t vlen)
{
    struct resp_state *r = &c->r;
    if (name_is(name, nlen, ":status")) {
        char s[8];
        copy_value(s, sizeof(s), value, vlen);
        r->http_status = atoi(s);
    } else if (name_is(name, nlen, "grpc-status")) {
        char s[12];
        copy_value(s, sizeof(s), value, vlen);
        r->grpc_status = atoi(s);
    } else if (name_is(name, nlen, "grpc-message")) {
        percent_decode(value, vlen, r->grpc_message, sizeof(r->grpc_message));
    } else if (name_is(name, nlen, "grpc-status-details-bin")) {
        kt_buf_reset(&r->details);
        if (b64_decode(value, vlen, &r->details) != 0)
            kt_buf_reset(&r->details);
    } else if (name_is(name, nlen, "retry-after")) {
        r->retry_after_s = parse_retry_after(value, vlen);
    } else if (name_is(name, nlen, "content-type")) {
        copy_value(r->content_type, sizeof(r->content_type), value, vlen);
    } else if (name_is(name, nlen, "content-encoding") || name_is(name, nlen, "grpc-encoding")) {
        copy_value(r->content_encoding, sizeof(r->content_encoding), value, vlen);
    }
}

static void on_resp_body(struct otlp_client *c, const uint8_t *p, size_t n)
{
    struct resp_state *r = &c->r;
    if (r->body.len >= RESP_BODY_MAX)
        return;
    if (n > RESP_BODY_MAX - r->body.len)
        n = RESP_BODY_MAX - r->body.len;
    if (kt_buf_append(&r->body, p, n) != 0 && r->err == 0) {
        r->err = KT_EIO;
        snprintf(r->errmsg, sizeof(r->errmsg), "out of memory buffering the response");
    }
}

static void set_error(struct otlp_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct otlp_client *c, int code, const char *fmt, ...)
{
    if (c->r.complete)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->r.errmsg, sizeof(c->r.errmsg), fmt, ap);
    va_end(ap);
    c->r.err = code;
    c->r.complete = true;
}

/* ---- connection ---- */

static void io_update(struct otlp_client *c)
{
    int fd = -1, ev = 0;
    switch (c->state) {
    case CS_RESOLVING:
        fd = c->job_fd;
        ev = EV_READ;
        break;
    case CS_CONNECTING:
        fd = c->fd;
        ev = EV_WRITE;
        break;
    case CS_HANDSHAKE:
        fd = c->fd;
        ev = c->tls_want_write ? EV_WRITE : EV_READ;
        break;
    case CS_OPEN:
        fd = c->fd;
        ev = EV_READ;
        if (c->wpos < c->wbuf.len || c->wbody_pos < c->wbody.n)
            ev |= EV_WRITE;
        break;
    case CS_CLOSED: break;
    }
    if (fd == c->io_fd && ev == c->io_events)
        return;
    ev_io_stop(c->loop, &c->io);
    c->io_fd = fd;
    c->io_events = ev;
    if (fd >= 0 && ev) {
        ev_io_set(&c->io, fd, ev);
        ev_io_start(c->loop, &c->io);
    }
}

static void job_release(struct resolve_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        if (j->res)
            freeaddrinfo(j->res);
        free(j);
    }
}

static void conn_close(struct otlp_client *c)
{
    ev_io_stop(c->loop, &c->io);
    c->io_fd = -1;
    c->io_events = 0;
    if (c->job) {
        close(c->job_fd);
        job_release(c->job);
        c->job = NULL;
        c->job_fd = -1;
    }
    if (c->addrs) {
        freeaddrinfo(c->addrs);
        c->addrs = NULL;
        c->ai = NULL;
    }
    kt_tls_conn_free(c->tls_conn);
    c->tls_conn = NULL;
    if (c->h2) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    c->stream_id = 0;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    kt_buf_reset(&c->wbuf);
    c->wpos = 0;
    c->wbody = (struct kt_slice){NULL, 0};
    c->wbody_pos = 0;
    c->state = CS_CLOSED;
    c->reused = false;
}

/* The connection is gone: the request in flight (if any) failed, unless nothing of its
 * answer arrived on a connection that had served earlier requests, where the likely story is
 * that the backend closed an idle connection as we wrote: one resend on a fresh connection
 * (OTLP export is at-least-once, so a duplicate is acceptable). */
static void conn_lost(struct otlp_client *c, int code, const char *why)
{
    bool had_req = c->busy && !c->r.complete;
    if (had_req && c->reused && !c->r.got_bytes && !c->resent) {
        kt_debug("OTLP backend %s: %s on a reused connection; resending on a new one", c->authority,
                 why);
        c->r.resend = true;
    } else if (had_req) {
        set_error(c, code, "%s", why);
    } else {
        kt_debug("OTLP backend %s: idle connection ended: %s", c->authority, why);
    }
    conn_close(c);
}

static void *resolve_thread(void *arg)
{
    struct resolve_job *j = arg;
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    j->rc = getaddrinfo(j->host, j->port, &hints, &j->res);
    /* The byte publishes rc and res to the loop thread (send/recv order the memory). */
    (void)!send(j->notify_fd, "r", 1, MSG_NOSIGNAL);
    close(j->notify_fd);
    job_release(j);
    return NULL;
}

static void connect_next(struct otlp_client *c);

static void connected(struct otlp_client *c)
{
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->addrs) {
        freeaddrinfo(c->addrs);
        c->addrs = NULL;
        c->ai = NULL;
    }
    if (c->tls) {
        struct kt_err err = {0};
        if (kt_tls_conn_new(c->tls_ctx, c->fd, c->host, &c->tls_conn, &err) != 0) {
            conn_lost(c, KT_EIO, err.msg);
            return;
        }
        c->state = CS_HANDSHAKE;
        c->tls_want_write = true;
        return;
    }
    c->state = CS_OPEN;
    if (c->busy)
        start_request(c);
}

static void connect_next(struct otlp_client *c)
{
    while (c->ai) {
        struct addrinfo *ai = c->ai;
        c->ai = ai->ai_next;
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            snprintf(c->connect_err, sizeof(c->connect_err), "socket: %s", strerror(errno));
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            connected(c);
            return;
        }
        if (errno == EINPROGRESS) {
            c->state = CS_CONNECTING;
            return;
        }
        snprintf(c->connect_err, sizeof(c->connect_err), "%s", strerror(errno));
        close(c->fd);
        c->fd = -1;
    }
    char why[512];
    snprintf(why, sizeof(why), "connect to %s: %s", c->authority, c->connect_err);
    c->resent = true; /* a failed connect is not the idle-close race */
    conn_lost(c, KT_EIO, why);
}

static void resolved(struct otlp_client *c, int rc, struct addrinfo *res)
{
    if (rc != 0) {
        char why[512];
        snprintf(why, sizeof(why), "resolve %s: %s", c->host, gai_strerror(rc));
        c->resent = true;
        conn_lost(c, KT_EIO, why);
        return;
    }
    c->addrs = res;
    c->ai = res;
    snprintf(c->connect_err, sizeof(c->connect_err), "no address");
    connect_next(c);
}

static void connect_start(struct otlp_client *c)
{
    conn_close(c);
    c->state = CS_RESOLVING;
    /* An IP literal needs no lookup, so it never costs a thread. */
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rc = getaddrinfo(c->host, c->port, &hints, &res);
    if (rc != EAI_NONAME) {
        resolved(c, rc, res);
        return;
    }
    int sv[2];
    struct resolve_job *j = calloc(1, sizeof(*j));
    if (j == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        free(j);
        conn_lost(c, KT_EIO, "cannot start a name lookup");
        return;
    }
    atomic_init(&j->refs, 2);
    snprintf(j->host, sizeof(j->host), "%s", c->host);
    snprintf(j->port, sizeof(j->port), "%s", c->port);
    j->notify_fd = sv[1];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    rc = pthread_create(&t, &attr, resolve_thread, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
        free(j);
        conn_lost(c, KT_EIO, "cannot start a name lookup thread");
        return;
    }
    c->job = j;
    c->job_fd = sv[0];
}

/* ---- output ---- */

static int raw_write(struct otlp_client *c, const uint8_t *p, size_t n, size_t *w, char *why,
                     size_t wcap)
{
    if (c->tls_conn) {
        struct kt_err err = {0};
        int rc = kt_tls_write(c->tls_conn, p, n, w, &err);
        if (rc != 0 && rc != KT_EAGAIN)
            snprintf(why, wcap, "%s", err.msg);
        return rc;
    }
    for (;;) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k >= 0) {
            *w = (size_t)k;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return KT_EAGAIN;
        snprintf(why, wcap, "send: %s", strerror(errno));
        return KT_EIO;
    }
}

/* Writes what is queued: wbuf, then the borrowed body. 0 when all is out. */
static int flush_out(struct otlp_client *c, char *why, size_t wcap)
{
    while (c->wpos < c->wbuf.len) {
        size_t w = 0;
        int rc = raw_write(c, c->wbuf.p + c->wpos, c->wbuf.len - c->wpos, &w, why, wcap);
        if (rc != 0)
            return rc;
        c->wpos += w;
    }
    kt_buf_reset(&c->wbuf);
    c->wpos = 0;
    while (c->wbody_pos < c->wbody.n) {
        size_t w = 0;
        int rc = raw_write(c, c->wbody.p + c->wbody_pos, c->wbody.n - c->wbody_pos, &w, why, wcap);
        if (rc != 0)
            return rc;
        c->wbody_pos += w;
    }
    c->wbody = (struct kt_slice){NULL, 0};
    c->wbody_pos = 0;
    return 0;
}

/* Moves bytes until the socket pushes back or nothing is left. Returns -1 when the
 * connection was lost (already handled). */
static int pump_out(struct otlp_client *c)
{
    char why[KT_ERR_MSG_MAX] = "";
    for (;;) {
        int rc = flush_out(c, why, sizeof(why));
        if (rc == KT_EAGAIN)
            return 0;
        if (rc != 0) {
            conn_lost(c, KT_EIO, why);
            return -1;
        }
        if (c->h2 == NULL || !nghttp2_session_want_write(c->h2))
            return 0;
        rc = nghttp2_session_send(c->h2);
        if (rc != 0) {
            snprintf(why, sizeof(why), "HTTP/2: %s", nghttp2_strerror(rc));
            conn_lost(c, KT_EPROTO, why);
            return -1;
        }
        if (c->wbuf.len == 0)
            return 0;
    }
}

/* ---- HTTP/2 ---- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct otlp_client *c = ud;
    if (c->wbuf.len - c->wpos > H2_WBUF_HIGH)
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
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != c->stream_id || c->stream_id == 0)
        return 0;
    c->r.got_bytes = true;
    on_resp_header(c, name, namelen, value, valuelen);
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)s;
    (void)flags;
    struct otlp_client *c = ud;
    if (id == c->stream_id && c->stream_id != 0) {
        c->r.got_bytes = true;
        on_resp_body(c, data, len);
    }
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    struct otlp_client *c = ud;
    if (id != c->stream_id || c->stream_id == 0)
        return 0;
    c->stream_id = 0;
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
    set_error(c, KT_EIO, "backend reset the stream: %s", nghttp2_http2_strerror(code));
    return 0;
}

static ssize_t h2_body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)src;
    struct otlp_client *c = ud;
    size_t left = c->req.body.n - c->body_sent;
    if (len > left)
        len = left;
    if (len)
        memcpy(buf, c->req.body.p + c->body_sent, len);
    c->body_sent += len;
    if (c->body_sent == c->req.body.n)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

static int h2_open(struct otlp_client *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_close);
    int rc = nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_LOCAL_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        return -1;
    return 0;
}

#define NV(n, v, vl)                                                                               \
    (nghttp2_nv)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), (vl), NGHTTP2_NV_FLAG_NONE                      \
    }

static void h2_start(struct otlp_client *c)
{
    if (c->h2 == NULL && h2_open(c) != 0) {
        conn_lost(c, KT_EIO, "HTTP/2: cannot create session");
        return;
    }
    size_t n = 0, cap = 5 + c->req.n_headers;
    nghttp2_nv *nv = malloc(cap * sizeof(*nv));
    if (nv == NULL) {
        conn_lost(c, KT_EIO, "out of memory");
        return;
    }
    const char *scheme = c->tls ? "https" : "http";
    nv[n++] = NV(":method", "POST", 4);
    nv[n++] = NV(":scheme", scheme, strlen(scheme));
    nv[n++] = NV(":authority", c->authority, strlen(c->authority));
    nv[n++] = NV(":path", c->req.path, strlen(c->req.path));
    for (size_t i = 0; i < c->req.n_headers; i++)
        nv[n++] =
            NV(c->req.headers[i].name, c->req.headers[i].value, strlen(c->req.headers[i].value));
    nghttp2_data_provider prd = {.source = {.ptr = c}, .read_callback = h2_body_read};
    c->body_sent = 0;
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, &prd, NULL);
    free(nv);
    if (id < 0) {
        char why[128];
        snprintf(why, sizeof(why), "HTTP/2: cannot submit request: %s", nghttp2_strerror(id));
        conn_lost(c, KT_EIO, why);
        return;
    }
    c->stream_id = id;
    pump_out(c);
}

/* ---- HTTP/1.1 ---- */

static void h1_header_done(struct otlp_client *c)
{
    struct resp_state *r = &c->r;
    if (r->hfield[0])
        on_resp_header(c, (const uint8_t *)r->hfield, strlen(r->hfield), r->hvalue.p,
                       r->hvalue.len);
    r->hfield[0] = '\0';
    kt_buf_reset(&r->hvalue);
    r->in_value = false;
}

static int h1_on_header_field(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    struct resp_state *r = &c->r;
    if (r->in_value)
        h1_header_done(c);
    size_t have = strlen(r->hfield);
    if (have + n < sizeof(r->hfield)) {
        memcpy(r->hfield + have, at, n);
        r->hfield[have + n] = '\0';
    }
    return 0;
}

static int h1_on_header_value(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    c->r.in_value = true;
    if (c->r.hvalue.len + n <= 4096)
        kt_buf_append(&c->r.hvalue, at, n);
    return 0;
}

static int h1_on_headers_complete(http_parser *p)
{
    struct otlp_client *c = p->data;
    if (c->r.in_value)
        h1_header_done(c);
    c->r.http_status = (int)p->status_code;
    return 0;
}

static int h1_on_body(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    on_resp_body(c, (const uint8_t *)at, n);
    return 0;
}

static int h1_on_message_complete(http_parser *p)
{
    struct otlp_client *c = p->data;
    /* Interim 1xx answers (100 Continue) precede the real one. */
    if (p->status_code >= 100 && p->status_code < 200)
        return 0;
    c->r.close_after = !http_should_keep_alive(p);
    c->r.complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_header_field = h1_on_header_field,
    .on_header_value = h1_on_header_value,
    .on_headers_complete = h1_on_headers_complete,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_message_complete,
};

static void h1_start(struct otlp_client *c)
{
    kt_buf_reset(&c->wbuf);
    c->wpos = 0;
    char line[512];
    int n = snprintf(line, sizeof(line), "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n",
                     c->req.path, c->authority, c->req.body.n);
    int rc = kt_buf_append(&c->wbuf, line, (size_t)n);
    for (size_t i = 0; i < c->req.n_headers && rc == 0; i++) {
        const struct otlp_client_header *h = &c->req.headers[i];
        rc |= kt_buf_append(&c->wbuf, h->name, strlen(h->name));
        rc |= kt_buf_append(&c->wbuf, ": ", 2);
        rc |= kt_buf_append(&c->wbuf, h->value, strlen(h->value));
        rc |= kt_buf_append(&c->wbuf, "\r\n", 2);
    }
    rc |= kt_buf_append(&c->wbuf, "\r\n", 2);
    if (rc != 0) {
        conn_lost(c, KT_EIO, "out of memory");
        return;
    }
    /* The body goes out from the caller's buffer: no copy of a multi-megabyte batch. */
    c->wbody = c->req.body;
    c->wbody_pos = 0;
    http_parser_init(&c->hp, HTTP_RESPONSE);
    c->hp.data = c;
    pump_out(c);
}

static void start_request(struct otlp_client *c)
{
    if (c->proto == OTLP_CLIENT_H2)
        h2_start(c);
    else
        h1_start(c);
}

/* ---- input ---- */

static void feed(struct otlp_client *c, const uint8_t *p, size_t n)
{
    if (c->h2) {
        ssize_t rc = nghttp2_session_mem_recv(c->h2, p, n);
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof(why), "HTTP/2: %s", nghttp2_strerror((int)rc));
            conn_lost(c, KT_EPROTO, why);
        }
        return;
    }
    if (!c->busy || c->r.complete) {
        conn_lost(c, KT_EPROTO, "backend sent data with no request outstanding");
        return;
    }
    c->r.got_bytes = true;
    size_t used = http_parser_execute(&c->hp, &h1_settings, (const char *)p, n);
    enum http_errno he = HTTP_PARSER_ERRNO(&c->hp);
    if (he == HPE_PAUSED) {
        /* One answer per request: bytes after it would be an unrequested response. */
        if (used < n)
            c->r.close_after = true;
        return;
    }
    if (he != HPE_OK || used != n) {
        char why[160];
        snprintf(why, sizeof(why), "bad HTTP response: %s", http_errno_description(he));
        conn_lost(c, KT_EPROTO, why);
    }
}

static void on_readable(struct otlp_client *c)
{
    uint8_t buf[READ_CHUNK];
    /* Plain sockets: a bounded number of reads per wakeup (level-triggered, the rest comes
     * next time). TLS: until mbedTLS wants the socket, since records it already holds
     * would not make the socket readable again. */
    for (int i = 0; (i < 16 || c->tls_conn) && c->state == CS_OPEN; i++) {
        size_t n = 0;
        if (c->tls_conn) {
            struct kt_err err = {0};
            int rc = kt_tls_read(c->tls_conn, buf, sizeof(buf), &n, &err);
            if (rc == KT_EAGAIN)
                break;
            if (rc != 0) {
                conn_lost(c, KT_EIO, err.msg);
                return;
            }
        } else {
            ssize_t k = recv(c->fd, buf, sizeof(buf), 0);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                char why[128];
                snprintf(why, sizeof(why), "recv: %s", strerror(errno));
                conn_lost(c, KT_EIO, why);
                return;
            }
            n = (size_t)k;
        }
        if (n == 0) {
            /* An HTTP/1.1 answer without a length ends with the connection. */
            if (c->h2 == NULL && c->busy && !c->r.complete && c->r.got_bytes)
                http_parser_execute(&c->hp, &h1_settings, NULL, 0);
            conn_lost(c, KT_EIO, "connection closed by the backend");
            return;
        }
        feed(c, buf, n);
    }
    if (c->h2 && c->state == CS_OPEN) {
        if (pump_out(c) != 0)
            return;
        if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
            conn_lost(c, KT_EIO, "backend ended the HTTP/2 session");
    }
}

static void drive_handshake(struct otlp_client *c)
{
    struct kt_err err = {0};
    int rc = kt_tls_handshake(c->tls_conn, &c->tls_want_write, &err);
    if (rc == KT_EAGAIN)
        return;
    if (rc != 0) {
        c->resent = true;
        conn_lost(c, KT_EIO, err.msg);
        return;
    }
    const char *alpn = kt_tls_alpn(c->tls_conn);
    if (c->proto == OTLP_CLIENT_H2 && alpn && strcmp(alpn, "h2") != 0) {
        char why[128];
        snprintf(why, sizeof(why), "backend chose ALPN '%s', gRPC needs h2", alpn);
        c->resent = true;
        conn_lost(c, KT_EPROTO, why);
        return;
    }
    c->state = CS_OPEN;
    if (c->busy)
        start_request(c);
    /* The last handshake read may have brought application data along. */
    if (c->state == CS_OPEN)
        on_readable(c);
}

static void deliver(struct otlp_client *c)
{
    struct resp_state *r = &c->r;
    ev_timer_stop(c->loop, &c->timeout);
    ev_timer_stop(c->loop, &c->later);
    c->busy = false;
    if (r->err == 0 && c->state == CS_OPEN) {
        c->reused = true;
        if (r->close_after)
            conn_close(c);
    }
    struct otlp_client_resp resp = {
        .error = r->err,
        .error_msg = r->err ? r->errmsg : "",
        .http_status = r->http_status,
        .grpc_status = r->grpc_status,
        .grpc_message = r->grpc_message,
        .grpc_details = kt_buf_slice(&r->details),
        .retry_after_s = r->retry_after_s,
        .content_type = r->content_type,
        .content_encoding = r->content_encoding,
        .body = kt_buf_slice(&r->body),
    };
    c->done(c->ctx, &resp);
}

/* Runs after every event: the library callbacks have returned, so a resend or the answer
 * (whose callback may start the next request) is safe here. */
static void settle(struct otlp_client *c)
{
    if (c->busy && c->r.resend) {
        c->r.resend = false;
        c->r.got_bytes = false;
        c->resent = true;
        connect_start(c);
    }
    io_update(c);
    if (c->busy && c->r.complete)
        deliver(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct otlp_client *c = w->data;
    enum cstate before = c->state;
    switch (c->state) {
    case CS_RESOLVING: {
        char b;
        if (recv(c->job_fd, &b, 1, 0) != 1 && (errno == EAGAIN || errno == EINTR))
            break;
        struct resolve_job *j = c->job;
        struct addrinfo *res = j->res;
        int rc = j->rc;
        j->res = NULL;
        close(c->job_fd);
        c->job_fd = -1;
        c->job = NULL;
        job_release(j);
        resolved(c, rc, res);
        break;
    }
    case CS_CONNECTING: {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr == 0) {
            connected(c);
        } else {
            snprintf(c->connect_err, sizeof(c->connect_err), "%s", strerror(soerr));
            close(c->fd);
            c->fd = -1;
            connect_next(c);
        }
        break;
    }
    case CS_HANDSHAKE: drive_handshake(c); break;
    case CS_OPEN:
        if (revents & EV_WRITE)
            pump_out(c);
        if (c->state == CS_OPEN && (revents & EV_READ))
            on_readable(c);
        break;
    case CS_CLOSED: break;
    }
    /* Just connected: the ClientHello can go out now rather than on the next wakeup. */
    if (before != CS_HANDSHAKE && c->state == CS_HANDSHAKE)
        drive_handshake(c);
    settle(c);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct otlp_client *c = w->data;
    if (!c->busy)
        return;
    char why[128];
    snprintf(why, sizeof(why), "no answer within [exporter] timeout (%llums)",
             (unsigned long long)c->timeout_ms);
    c->resent = true;
    set_error(c, KT_ETIMEDOUT, "%s", why);
    conn_close(c);
    settle(c);
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    settle(w->data);
}

/* ---- public ---- */

int otlp_client_new(struct ev_loop *loop, const struct otlp_client_opts *opts,
                    otlp_client_done_fn done, void *ctx, struct otlp_client **out,
                    struct kt_err *err)
{
    struct otlp_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    c->loop = loop;
    c->done = done;
    c->ctx = ctx;
    snprintf(c->host, sizeof(c->host), "%s", opts->host);
    snprintf(c->port, sizeof(c->port), "%s", opts->port);
    snprintf(c->authority, sizeof(c->authority), strchr(c->host, ':') ? "[%s]:%s" : "%s:%s",
             c->host, c->port);
    c->proto = opts->proto;
    c->tls = opts->tls;
    c->timeout_ms = opts->timeout_ms;
    c->fd = -1;
    c->job_fd = -1;
    c->io_fd = -1;
    if (c->tls) {
        int rc = kt_tls_ctx_new(opts->tls_ca_file, opts->tls_insecure_skip_verify,
                                c->proto == OTLP_CLIENT_H2 ? "h2" : "http/1.1", &c->tls_ctx, err);
        if (rc != 0) {
            free(c);
            return rc;
        }
    }
    ev_init(&c->io, io_cb);
    ev_init(&c->timeout, timeout_cb);
    ev_init(&c->later, later_cb);
    c->io.data = c->timeout.data = c->later.data = c;
    *out = c;
    return 0;
}

int otlp_client_send(struct otlp_client *c, const struct otlp_client_req *req)
{
    if (c->busy)
        return KT_EAGAIN;
    c->busy = true;
    c->resent = false;
    c->req = *req;
    struct resp_state *r = &c->r;
    struct kt_buf details = r->details, body = r->body, hvalue = r->hvalue;
    kt_buf_reset(&details);
    kt_buf_reset(&body);
    kt_buf_reset(&hvalue);
    memset(r, 0, sizeof(*r));
    r->details = details;
    r->body = body;
    r->hvalue = hvalue;
    r->grpc_status = -1;
    r->retry_after_s = -1;
    if (c->timeout_ms > 0) {
        ev_timer_set(&c->timeout, (double)c->timeout_ms / 1000.0, 0.);
        ev_timer_start(c->loop, &c->timeout);
    }
    if (c->state == CS_OPEN && c->h2 && !nghttp2_session_check_request_allowed(c->h2))
        conn_close(c); /* the backend said GOAWAY: new streams go to a new connection */
    if (c->state == CS_OPEN)
        start_request(c);
    else if (c->state == CS_CLOSED)
        connect_start(c);
    io_update(c);
    /* Whatever happened, the answer is reported from the loop, never from in here. */
    if (r->complete || r->resend) {
        ev_timer_set(&c->later, 0., 0.);
        ev_timer_start(c->loop, &c->later);
    }
    return 0;
}

bool otlp_client_busy(const struct otlp_client *c)
{
    return c->busy;
}

void otlp_client_free(struct otlp_client *c)
{
    if (c == NULL)
        return;
    conn_close(c);
    ev_timer_stop(c->loop, &c->timeout);
    ev_timer_stop(c->loop, &c->later);
    kt_tls_ctx_free(c->tls_ctx);
    kt_buf_free(&c->wbuf);
    kt_buf_free(&c->r.details);
    kt_buf_free(&c->r.body);
    kt_buf_free(&c->r.hvalue);
    free(c);
}
