/* exporter against a real backend on a loopback socket: a small scripted OTLP server (h2c
 * for gRPC, HTTP/1.1 for OTLP/HTTP) runs on the same ev loop. Every wait is the loop running
 * until a condition holds, bounded by a guard timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <http_parser.h>
#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <nghttp2/nghttp2.h>

#include "../../../process/conf.h"
#include "../../../process/exporter.h"
#include "../../../process/offsets.h"
#include "../test_tmpfile.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_grpc.h"
#include "kt_compress.h"
#include "kt_log.h"

/* ---- the scripted backend ---- */

struct answer {
    int http_status;          /* 0: 200 */
    int grpc_status;          /* gRPC only */
    const char *grpc_message; /* gRPC only */
    const char *details_b64;  /* grpc-status-details-bin */
    const char *retry_after;
    const char *content_type; /* HTTP/1.1 only; default application/x-protobuf */
    const uint8_t *body;      /* HTTP body, or the gRPC message (framed by the server) */
    size_t body_len;
    bool trailers_only; /* gRPC: status in the one HEADERS frame */
};

#define MAX_SCRIPT 64
#define MAX_SEEN 64

struct seen {
    char path[256];
    char content_type[64];
    char encoding[32]; /* content-encoding or grpc-encoding */
    char te[32];
    char api_key[64];
    char tenant[64]; /* x-scope-orgid, "" when absent */
    bool h2;
    bool grpc_compressed;
    int conn;
    double at;          /* ev_now when the request began */
    struct kt_buf body; /* decoded: unframed, inflated */
};

struct tconn;

struct tsrv {
    struct ev_loop *loop;
    int fd;
    int port;
    ev_io lio;
    struct tconn *conns;
    int n_accepted;
    struct answer script[MAX_SCRIPT];
    int n_script;
    int next_answer;
    struct answer fallback; /* once the script is used up */
    struct seen seen[MAX_SEEN];
    int n_seen;
    mbedtls_ssl_config *tls; /* NULL: plain TCP */
};

struct tstream {
    struct seen *rec;
    struct kt_buf in;
    struct kt_buf out;
    size_t sent;
    struct answer a;
};

struct tconn {
    struct tsrv *s;
    struct tconn *next;
    int id;
    int fd;
    ev_io rio;
    ev_io wio;
    int proto; /* 0 unknown, 1 HTTP/1.1, 2 h2 */
    struct kt_buf sniff;
    struct kt_buf out;
    size_t opos;
    nghttp2_session *h2;
    http_parser hp;
    struct tstream h1;
    char hfield[64];
    bool in_value;
    struct kt_buf hvalue;
    mbedtls_ssl_context *ssl;
    mbedtls_net_context net;
    bool handshake_done;
};

static struct seen *seen_new(struct tconn *c, bool h2)
{
    struct tsrv *s = c->s;
    assert_true(s->n_seen < MAX_SEEN);
    struct seen *r = &s->seen[s->n_seen++];
    memset(r, 0, sizeof(*r));
    r->h2 = h2;
    r->conn = c->id;
    r->at = ev_now(s->loop);
    return r;
}

static struct answer next_answer(struct tsrv *s)
{
    if (s->next_answer < s->n_script)
        return s->script[s->next_answer++];
    return s->fallback;
}

static void record_header(struct seen *r, const char *name, size_t nlen, const char *v, size_t vlen)
{
    char *dst = NULL;
    size_t cap = 0;
#define IS(lit) (nlen == strlen(lit) && strncasecmp(name, lit, nlen) == 0)
    if (IS(":path"))
        dst = r->path, cap = sizeof(r->path);
    else if (IS("content-type"))
        dst = r->content_type, cap = sizeof(r->content_type);
    else if (IS("content-encoding") || IS("grpc-encoding"))
        dst = r->encoding, cap = sizeof(r->encoding);
    else if (IS("te"))
        dst = r->te, cap = sizeof(r->te);
    else if (IS("x-api-key") || IS("X-Api-Key"))
        dst = r->api_key, cap = sizeof(r->api_key);
    else if (IS("x-scope-orgid"))
        dst = r->tenant, cap = sizeof(r->tenant);
#undef IS
    if (dst) {
        if (vlen >= cap)
            vlen = cap - 1;
        memcpy(dst, v, vlen);
        dst[vlen] = '\0';
    }
}

static void conn_flush(struct tconn *c)
{
    while (c->opos < c->out.len) {
        ssize_t n = c->ssl ? mbedtls_ssl_write(c->ssl, c->out.p + c->opos, c->out.len - c->opos)
                           : send(c->fd, c->out.p + c->opos, c->out.len - c->opos, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        c->opos += (size_t)n;
    }
    if (c->opos == c->out.len) {
        kt_buf_reset(&c->out);
        c->opos = 0;
        ev_io_stop(c->s->loop, &c->wio);
    } else {
        ev_io_start(c->s->loop, &c->wio);
    }
}

static void conn_free(struct tconn *c)
{
    struct tsrv *s = c->s;
    for (struct tconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    if (c->h2)
        nghttp2_session_del(c->h2);
    if (c->ssl) {
        mbedtls_ssl_free(c->ssl);
        free(c->ssl);
    }
    close(c->fd);
    kt_buf_free(&c->sniff);
    kt_buf_free(&c->out);
    kt_buf_free(&c->hvalue);
    kt_buf_free(&c->h1.in);
    kt_buf_free(&c->h1.out);
    free(c);
}

/* --- h2 --- */

static ssize_t h2_send(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *ud)
{
    (void)s;
    (void)f;
    struct tconn *c = ud;
    kt_buf_append(&c->out, d, n);
    return (ssize_t)n;
}

static int h2_begin(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct tconn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct tstream *st = calloc(1, sizeof(*st));
    st->rec = seen_new(c, true);
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static int h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *v, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    struct tstream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st)
        record_header(st->rec, (const char *)name, nl, (const char *)v, vl);
    return 0;
}

static int h2_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                   void *ud)
{
    (void)flags;
    (void)ud;
    struct tstream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st)
        kt_buf_append(&st->in, d, n);
    return 0;
}

static ssize_t h2_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *ud)
{
    (void)ud;
    struct tstream *st = src->ptr;
    size_t left = st->out.len - st->sent;
    if (len > left)
        len = left;
    memcpy(buf, st->out.p + st->sent, len);
    st->sent += len;
    if (st->sent == st->out.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        char status[12];
        snprintf(status, sizeof(status), "%d", st->a.grpc_status);
        nghttp2_nv tr[3];
        size_t n = 0;
        tr[n++] = (nghttp2_nv){(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status), 0};
        if (st->a.grpc_message)
            tr[n++] = (nghttp2_nv){(uint8_t *)"grpc-message", (uint8_t *)st->a.grpc_message, 12,
                                   strlen(st->a.grpc_message), 0};
        if (st->a.details_b64)
            tr[n++] = (nghttp2_nv){(uint8_t *)"grpc-status-details-bin",
                                   (uint8_t *)st->a.details_b64, 23, strlen(st->a.details_b64), 0};
        if (nghttp2_submit_trailer(s, id, tr, n) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return (ssize_t)len;
}

static void h2_answer(struct tconn *c, int32_t id, struct tstream *st)
{
    struct seen *rec = st->rec;
    struct kt_slice msg;
    bool compressed = false;
    struct kt_err err = {0};
    if (kt_grpc_frame_parse(kt_buf_slice(&st->in), 64 << 20, &msg, &compressed, &err) == 0) {
        rec->grpc_compressed = compressed;
        /* grpc-encoding names the message's encoding (snappy: the framing format). */
        if (compressed)
            assert_int_equal(
                kt_decompress((enum kt_compression)kt_compression_of(rec->encoding, true), msg,
                              64 << 20, &rec->body, &err),
                0);
        else
            kt_buf_append(&rec->body, msg.p, msg.n);
    }
    st->a = next_answer(c->s);
    char status[8];
    snprintf(status, sizeof(status), "%d", st->a.http_status ? st->a.http_status : 200);
    nghttp2_nv h[6];
    size_t n = 0;
    h[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0};
    h[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0};
    if (st->a.trailers_only) {
        char gs[12];
        snprintf(gs, sizeof(gs), "%d", st->a.grpc_status);
        h[n++] = (nghttp2_nv){(uint8_t *)"grpc-status", (uint8_t *)gs, 11, strlen(gs), 0};
        if (st->a.grpc_message)
            h[n++] = (nghttp2_nv){(uint8_t *)"grpc-message", (uint8_t *)st->a.grpc_message, 12,
                                  strlen(st->a.grpc_message), 0};
        if (st->a.details_b64)
            h[n++] = (nghttp2_nv){(uint8_t *)"grpc-status-details-bin",
                                  (uint8_t *)st->a.details_b64, 23, strlen(st->a.details_b64), 0};
        nghttp2_submit_response(c->h2, id, h, n, NULL);
        return;
    }
    kt_grpc_frame_prefix(&st->out, st->a.body_len);
    if (st->a.body_len)
        kt_buf_append(&st->out, st->a.body, st->a.body_len);
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = h2_body};
    nghttp2_submit_response(c->h2, id, h, n, &prd);
}

static int h2_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct tconn *c = ud;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct tstream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
        if (st)
            h2_answer(c, f->hd.stream_id, st);
    }
    return 0;
}

static int h2_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    (void)ud;
    struct tstream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st) {
        kt_buf_free(&st->in);
        kt_buf_free(&st->out);
        free(st);
    }
    return 0;
}

static void h2_init(struct tconn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, h2_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_close);
    nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* --- HTTP/1.1 --- */

static void h1_hdr_done(struct tconn *c)
{
    if (c->hfield[0] && c->h1.rec)
        record_header(c->h1.rec, c->hfield, strlen(c->hfield), (const char *)c->hvalue.p,
                      c->hvalue.len);
    c->hfield[0] = '\0';
    kt_buf_reset(&c->hvalue);
    c->in_value = false;
}

static int h1_begin(http_parser *p)
{
    struct tconn *c = p->data;
    c->h1.rec = seen_new(c, false);
    kt_buf_reset(&c->h1.in);
    return 0;
}

static int h1_url(http_parser *p, const char *at, size_t n)
{
    struct tconn *c = p->data;
    size_t have = strlen(c->h1.rec->path);
    if (have + n < sizeof(c->h1.rec->path)) {
        memcpy(c->h1.rec->path + have, at, n);
        c->h1.rec->path[have + n] = '\0';
    }
    return 0;
}

static int h1_field(http_parser *p, const char *at, size_t n)
{
    struct tconn *c = p->data;
    if (c->in_value)
        h1_hdr_done(c);
    size_t have = strlen(c->hfield);
    if (have + n < sizeof(c->hfield)) {
        memcpy(c->hfield + have, at, n);
        c->hfield[have + n] = '\0';
    }
    return 0;
}

static int h1_value(http_parser *p, const char *at, size_t n)
{
    struct tconn *c = p->data;
    c->in_value = true;
    kt_buf_append(&c->hvalue, at, n);
    return 0;
}

static int h1_headers_done(http_parser *p)
{
    struct tconn *c = p->data;
    if (c->in_value)
        h1_hdr_done(c);
    return 0;
}

static int h1_body(http_parser *p, const char *at, size_t n)
{
    struct tconn *c = p->data;
    kt_buf_append(&c->h1.in, at, n);
    return 0;
}

static int h1_done(http_parser *p)
{
    struct tconn *c = p->data;
    struct seen *rec = c->h1.rec;
    struct kt_err err = {0};
    /* Content-Encoding: snappy is one block on HTTP. */
    if (rec->encoding[0] != '\0')
        assert_int_equal(kt_decompress((enum kt_compression)kt_compression_of(rec->encoding, false),
                                       kt_buf_slice(&c->h1.in), 64 << 20, &rec->body, &err),
                         0);
    else
        kt_buf_append(&rec->body, c->h1.in.p, c->h1.in.len);
    struct answer a = next_answer(c->s);
    char head[512];
    int st = a.http_status ? a.http_status : 200;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s\r\n", st,
                     a.content_type ? a.content_type : "application/x-protobuf", a.body_len,
                     a.retry_after ? "Retry-After: " : "", a.retry_after ? a.retry_after : "",
                     a.retry_after ? "\r\n" : "");
    kt_buf_append(&c->out, head, (size_t)n);
    if (a.body_len)
        kt_buf_append(&c->out, a.body, a.body_len);
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_message_begin = h1_begin,
    .on_url = h1_url,
    .on_header_field = h1_field,
    .on_header_value = h1_value,
    .on_headers_complete = h1_headers_done,
    .on_body = h1_body,
    .on_message_complete = h1_done,
};

/* Returns false when the connection was freed. */
static bool conn_feed(struct tconn *c, const uint8_t *buf, size_t n)
{
    const uint8_t *p = buf;
    size_t len = n;
    if (c->proto == 0) {
        kt_buf_append(&c->sniff, buf, len);
        static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        size_t k = c->sniff.len < 24 ? c->sniff.len : 24;
        if (memcmp(c->sniff.p, preface, k) == 0) {
            if (k < 24)
                return true;
            c->proto = 2;
            h2_init(c);
        } else {
            c->proto = 1;
            http_parser_init(&c->hp, HTTP_REQUEST);
            c->hp.data = c;
        }
        p = c->sniff.p;
        len = c->sniff.len;
    }
    if (c->proto == 2) {
        if (nghttp2_session_mem_recv(c->h2, p, len) < 0) {
            conn_free(c);
            return false;
        }
        nghttp2_session_send(c->h2);
    } else {
        http_parser_execute(&c->hp, &h1_settings, (const char *)p, len);
    }
    kt_buf_reset(&c->sniff);
    conn_flush(c);
    return true;
}

static void conn_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct tconn *c = w->data;
    uint8_t buf[65536];
    if (c->ssl) {
        if (!c->handshake_done) {
            int rc = mbedtls_ssl_handshake(c->ssl);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
                return;
            if (rc != 0) {
                conn_free(c); /* e.g. the client refused our certificate */
                return;
            }
            c->handshake_done = true;
        }
        for (;;) {
            int n = mbedtls_ssl_read(c->ssl, buf, sizeof(buf));
            if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
                return;
            if (n <= 0) {
                conn_free(c);
                return;
            }
            if (!conn_feed(c, buf, (size_t)n))
                return;
        }
    }
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        conn_free(c);
        return;
    }
    if (n > 0)
        conn_feed(c, buf, (size_t)n);
}

static void conn_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_flush(w->data);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct tsrv *s = w->data;
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct tconn *c = calloc(1, sizeof(*c));
    c->s = s;
    c->fd = fd;
    c->id = ++s->n_accepted;
    c->next = s->conns;
    s->conns = c;
    ev_io_init(&c->rio, conn_read, fd, EV_READ);
    ev_io_init(&c->wio, conn_write, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    if (s->tls) {
        c->ssl = calloc(1, sizeof(*c->ssl));
        mbedtls_ssl_init(c->ssl);
        assert_int_equal(mbedtls_ssl_setup(c->ssl, s->tls), 0);
        c->net.fd = fd;
        mbedtls_ssl_set_bio(c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    }
    ev_io_start(loop, &c->rio);
}

/* port 0: any free port. */
static void tsrv_start(struct tsrv *s, struct ev_loop *loop, int port)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t sl = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &sl);
    s->port = ntohs(a.sin_port);
    ev_io_init(&s->lio, accept_cb, s->fd, EV_READ);
    s->lio.data = s;
    ev_io_start(loop, &s->lio);
}

static void tsrv_stop(struct tsrv *s)
{
    while (s->conns)
        conn_free(s->conns);
    ev_io_stop(s->loop, &s->lio);
    close(s->fd);
    for (int i = 0; i < s->n_seen; i++)
        kt_buf_free(&s->seen[i].body);
}

static void tsrv_script(struct tsrv *s, struct answer a)
{
    assert_true(s->n_script < MAX_SCRIPT);
    s->script[s->n_script++] = a;
}

/* A port nothing listens on (for the moment). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- TLS: a key and self-signed certificate made at test time ---- */

struct tls_material {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509_crt crt;
    mbedtls_ssl_config conf;
    char ca_path[64]; /* the certificate as a PEM file, to trust it */
};

static const char *alpn_list[] = {"h2", "http/1.1", NULL};

static struct tls_material *tls_material_new(const char *cn)
{
    struct tls_material *m = calloc(1, sizeof(*m));
    mbedtls_entropy_init(&m->entropy);
    mbedtls_ctr_drbg_init(&m->drbg);
    mbedtls_pk_init(&m->key);
    mbedtls_x509_crt_init(&m->crt);
    mbedtls_ssl_config_init(&m->conf);
    assert_int_equal(mbedtls_ctr_drbg_seed(&m->drbg, mbedtls_entropy_func, &m->entropy, NULL, 0),
                     0);
    assert_int_equal(mbedtls_pk_setup(&m->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(m->key),
                                         mbedtls_ctr_drbg_random, &m->drbg),
                     0);
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &m->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &m->key);
    char name[64];
    snprintf(name, sizeof(name), "CN=%s", cn);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, name), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, name), 0);
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, 1);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1), 0);
    unsigned char pem[4096];
    assert_int_equal(
        mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &m->drbg), 0);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    assert_int_equal(mbedtls_x509_crt_parse(&m->crt, pem, strlen((char *)pem) + 1), 0);
    test_tmpfile_write(m->ca_path, sizeof(m->ca_path), "kotel-test-ca", pem, strlen((char *)pem));
    assert_int_equal(mbedtls_ssl_config_defaults(&m->conf, MBEDTLS_SSL_IS_SERVER,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_rng(&m->conf, mbedtls_ctr_drbg_random, &m->drbg);
    assert_int_equal(mbedtls_ssl_conf_own_cert(&m->conf, &m->crt, &m->key), 0);
    assert_int_equal(mbedtls_ssl_conf_alpn_protocols(&m->conf, alpn_list), 0);
    return m;
}

static void tls_material_free(struct tls_material *m)
{
    if (m == NULL)
        return;
    unlink(m->ca_path);
    mbedtls_ssl_config_free(&m->conf);
    mbedtls_x509_crt_free(&m->crt);
    mbedtls_pk_free(&m->key);
    mbedtls_ctr_drbg_free(&m->drbg);
    mbedtls_entropy_free(&m->entropy);
    free(m);
}

/* ---- the exporter's side ---- */

#define MAX_DONE 64

struct fixture {
    struct ev_loop *loop;
    struct tsrv srv;
    struct process_conf conf;
    char endpoint[128];
    char *header_v[2];
    struct exporter *e;
    int n_done;
    void *tokens[MAX_DONE];
    int status[MAX_DONE];
    char message[MAX_DONE][KT_ERR_MSG_MAX + 64];
    struct tls_material *tls[2]; /* freed after the backend's connections */
};

static void on_done(void *ctx, void *token, int status, const char *message)
{
    struct fixture *f = ctx;
    assert_true(f->n_done < MAX_DONE);
    f->tokens[f->n_done] = token;
    f->status[f->n_done] = status;
    snprintf(f->message[f->n_done], sizeof(f->message[0]), "%s", message ? message : "");
    f->n_done++;
}

/* What the refused callback saw (one call at most in these tests). */
static struct kt_buf refused_data;
static size_t refused_tokens;
static size_t refused_ends[4];
static bool refused_has_ends;

static void on_refused(void *ctx, enum kt_signal sig, struct kt_slice data, void *const *tokens,
                       const size_t *ends, size_t n_tokens, const char *message)
{
    struct fixture *f = ctx;
    assert_int_equal(sig, KT_SIGNAL_TRACES);
    kt_buf_append(&refused_data, data.p, data.n);
    refused_tokens = n_tokens;
    refused_has_ends = ends != NULL;
    for (size_t i = 0; ends != NULL && i < n_tokens && i < 4; i++)
        refused_ends[i] = ends[i];
    for (size_t i = 0; i < n_tokens; i++)
        on_done(f, tokens[i], KT_EINVAL, message);
}

static void base_conf(struct fixture *f, int protocol, int port, const char *path)
{
    struct process_conf *c = &f->conf;
    memset(c, 0, sizeof(*c));
    snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d%s", port, path ? path : "");
    c->exporter.endpoint = f->endpoint;
    c->exporter.protocol = protocol;
    c->exporter.compression = PROCESS_COMP_NONE;
    c->exporter.timeout_ms = 5000;
    f->header_v[0] = (char *)"X-Api-Key=s3cret";
    c->exporter.headers.v = f->header_v;
    c->exporter.headers.n = 1;
    c->exporter.send_batch_size = 1;
    c->exporter.send_batch_timeout_ms = 200;
    c->exporter_tls.ca_file = (char *)"";
    c->retry.initial_interval_ms = 10;
    c->retry.max_interval_ms = 50;
    c->retry.max_elapsed_time_ms = 0;
    c->retry.multiplier = 1.5;
    c->retry.randomization_factor = 0.5;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    /* Retries and refusals are the point of these tests: keep their log lines out. */
    kt_log_set_level(KT_LOG_ERROR);
    tsrv_start(&f->srv, f->loop, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->e)
        exporter_free(f->e);
    tsrv_stop(&f->srv);
    tls_material_free(f->tls[0]);
    tls_material_free(f->tls[1]);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

static void start_exporter(struct fixture *f)
{
    struct kt_err err = {0};
    int rc = exporter_new(&f->conf, f->loop, on_done, f, &f->e, &err);
    if (rc != 0)
        fail_msg("exporter_new: %s", err.msg);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    *(bool *)w->data = true;
}

/* Runs the loop until cond holds; fails the test after 5 s. */
static void run_until(struct fixture *f, bool (*cond)(struct fixture *))
{
    bool fired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, 5.0, 0.);
    guard.data = &fired;
    ev_timer_start(f->loop, &guard);
    while (!cond(f) && !fired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    if (fired)
        fail_msg("condition not reached within 5s (done %d, backend saw %d)", f->n_done,
                 f->srv.n_seen);
}

static bool one_done(struct fixture *f)
{
    return f->n_done >= 1;
}

static bool two_done(struct fixture *f)
{
    return f->n_done >= 2;
}

static bool three_done(struct fixture *f)
{
    return f->n_done >= 3;
}

/* A TracesData of n spans in one resource, span names "span-<seed>-<i>". */
static void traces(int seed, int n, struct kt_buf *out)
{
    struct kt_buf spans = KT_BUF_INIT, ss = KT_BUF_INIT, rs = KT_BUF_INIT;
    for (int i = 0; i < n; i++) {
        struct kt_buf sp = KT_BUF_INIT;
        uint8_t tid[16], sid[8];
        for (int b = 0; b < 16; b++)
            tid[b] = (uint8_t)(seed * 16 + b + 1);
        for (int b = 0; b < 8; b++)
            sid[b] = (uint8_t)(i * 8 + b + 1);
        char name[32];
        int nl = snprintf(name, sizeof(name), "span-%d-%d", seed, i);
        kt_buf_append_byte(&sp, 0x0a);
        kt_buf_append_varint(&sp, 16);
        kt_buf_append(&sp, tid, 16);
        kt_buf_append_byte(&sp, 0x12);
        kt_buf_append_varint(&sp, 8);
        kt_buf_append(&sp, sid, 8);
        kt_buf_append_byte(&sp, 0x2a);
        kt_buf_append_varint(&sp, (uint64_t)nl);
        kt_buf_append(&sp, name, (size_t)nl);
        kt_buf_append_byte(&spans, 0x12); /* ScopeSpans.spans */
        kt_buf_append_varint(&spans, sp.len);
        kt_buf_append(&spans, sp.p, sp.len);
        kt_buf_free(&sp);
    }
    kt_buf_append(&ss, spans.p, spans.len);
    kt_buf_append_byte(&rs, 0x12); /* ResourceSpans.scope_spans */
    kt_buf_append_varint(&rs, ss.len);
    kt_buf_append(&rs, ss.p, ss.len);
    kt_buf_append_byte(out, 0x0a); /* TracesData.resource_spans */
    kt_buf_append_varint(out, rs.len);
    kt_buf_append(out, rs.p, rs.len);
    kt_buf_free(&spans);
    kt_buf_free(&ss);
    kt_buf_free(&rs);
}

static void submit(struct fixture *f, int seed, int n, void *token, struct kt_buf *keep)
{
    struct kt_buf b = KT_BUF_INIT;
    traces(seed, n, &b);
    assert_int_equal(
        exporter_submit(f->e, KT_SIGNAL_TRACES, kt_buf_slice(&b), (size_t)n, NULL, token), 0);
    if (keep)
        kt_buf_append(keep, b.p, b.len);
    kt_buf_free(&b);
}

static void assert_body(const struct seen *s, const struct kt_buf *want)
{
    assert_int_equal(s->body.len, want->len);
    assert_memory_equal(s->body.p, want->p, want->len);
}

/* ---- tests ---- */

/* Each of want (NULL-terminated) is a line of the exporter's /metrics families. */
static void assert_metrics(const struct fixture *f, const char *const *want)
{
    struct kt_buf b = KT_BUF_INIT;
    exporter_write_metrics(f->e, &b);
    assert_int_equal(kt_buf_append(&b, "", 1), 0);
    for (size_t i = 0; want[i] != NULL; i++)
        if (strstr((const char *)b.p, want[i]) == NULL)
            fail_msg("missing %s in:\n%s", want[i], (const char *)b.p);
    kt_buf_free(&b);
}

static void test_grpc_success(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 3, (void *)0x11, &want);
    assert_int_equal(f->n_done, 0); /* never inside submit */
    assert_false(exporter_idle(f->e));
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_ptr_equal(f->tokens[0], (void *)0x11);
    assert_int_equal(f->srv.n_seen, 1);
    const struct seen *s = &f->srv.seen[0];
    assert_true(s->h2);
    assert_string_equal(s->path, "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    assert_string_equal(s->content_type, "application/grpc");
    assert_string_equal(s->te, "trailers");
    assert_string_equal(s->api_key, "s3cret");
    assert_false(s->grpc_compressed);
    assert_body(s, &want);
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    assert_int_equal(st.requests_ok, 1);
    assert_int_equal(st.items_exported, 3);
    assert_true(exporter_idle(f->e));
    assert_false(exporter_congested(f->e));
    /* A second request rides the same HTTP/2 connection. */
    submit(f, 2, 1, (void *)0x12, NULL);
    run_until(f, two_done);
    assert_int_equal(f->status[1], 0);
    assert_int_equal(f->srv.n_accepted, 1);
    kt_buf_free(&want);
}

static void test_http_protobuf_success(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, "/otlp/");
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 2, (void *)0x21, &want);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    const struct seen *s = &f->srv.seen[0];
    assert_false(s->h2);
    assert_string_equal(s->path, "/otlp/v1/traces");
    assert_string_equal(s->content_type, "application/x-protobuf");
    assert_string_equal(s->api_key, "s3cret");
    assert_string_equal(s->encoding, "");
    assert_body(s, &want);
    /* keep-alive: the next request reuses the connection */
    submit(f, 2, 1, (void *)0x22, NULL);
    run_until(f, two_done);
    assert_int_equal(f->status[1], 0);
    assert_int_equal(f->srv.n_seen, 2);
    assert_int_equal(f->srv.n_accepted, 1);
    kt_buf_free(&want);
}

/* traces_endpoint: the whole URL of the traces' requests, on endpoint's connection; another
 * origin is accepted (test_signal_endpoints_on_two_origins), gRPC is refused naming the key. */
static void test_signal_endpoint(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, "/otlp");
    char url[128], other[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/custom/traces-in", f->srv.port);
    f->conf.exporter.signal_endpoints[KT_SIGNAL_TRACES] = url;
    struct kt_err err;
    assert_int_equal(exporter_check(&f->conf, &err), 0);
    start_exporter(f);
    submit(f, 1, 1, (void *)0x23, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_string_equal(f->srv.seen[0].path, "/custom/traces-in");

    snprintf(other, sizeof(other), "http://127.0.0.1:%d/v1/traces", f->srv.port + 1);
    f->conf.exporter.signal_endpoints[KT_SIGNAL_TRACES] = other;
    assert_int_equal(exporter_check(&f->conf, &err), 0);
    /* A bad URL names its key. */
    f->conf.exporter.signal_endpoints[KT_SIGNAL_LOGS] = (char *)"ftp://127.0.0.1/v1/logs";
    assert_int_equal(exporter_check(&f->conf, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "[exporter] logs_endpoint: "));
    f->conf.exporter.signal_endpoints[KT_SIGNAL_LOGS] = NULL;
    /* The Collector's otlp (gRPC) exporter has no per-signal endpoints. */
    f->conf.exporter.signal_endpoints[KT_SIGNAL_TRACES] = url;
    f->conf.exporter.protocol = PROCESS_PROTO_GRPC;
    f->conf.exporter.endpoint = (char *)"http://127.0.0.1:4317";
    assert_int_equal(exporter_check(&f->conf, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "[exporter] traces_endpoint: only for the HTTP protocols"));
    assert_non_null(strstr(err.msg, "protocol grpc"));
}

/* The second backend of test_signal_endpoints_on_two_origins, for its conditions. */
static struct tsrv *second;

static bool three_on_second(struct fixture *f)
{
    return f->n_done >= 3 && second->n_seen >= 2;
}

/* The traces went through while the logs' backend was away, and the logs' attempt failed. */
static bool traces_past_dead_logs(struct fixture *f)
{
    return f->n_done >= 4 && exporter_unreachable(f->e, NULL) != NULL;
}

static bool five_done(struct fixture *f)
{
    return f->n_done >= 5;
}

static void submit_sig(struct fixture *f, enum kt_signal sig, int seed, void *token)
{
    /* OTLP/HTTP protobuf sends the bytes as they are: a TracesData stands in for any signal. */
    struct kt_buf b = KT_BUF_INIT;
    traces(seed, 1, &b);
    assert_int_equal(exporter_submit(f->e, sig, kt_buf_slice(&b), 1, NULL, token), 0);
    kt_buf_free(&b);
}

/* Metrics and logs to a second origin: they share its one connection, the traces keep
 * endpoint's; with the second backend down the traces still flow (and consumption is not
 * paused for them), the logs wait in retry and arrive once it is back. */
static void test_signal_endpoints_on_two_origins(void **state)
{
    struct fixture *f = *state;
    struct tsrv other;
    tsrv_start(&other, f->loop, 0);
    second = &other;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, "/otlp");
    char murl[128], lurl[128];
    snprintf(murl, sizeof(murl), "http://127.0.0.1:%d/mimir/v1/metrics", other.port);
    snprintf(lurl, sizeof(lurl), "HTTP://127.0.0.1:%d/loki/v1/logs", other.port);
    f->conf.exporter.signal_endpoints[KT_SIGNAL_METRICS] = murl;
    f->conf.exporter.signal_endpoints[KT_SIGNAL_LOGS] = lurl;
    start_exporter(f);
    submit_sig(f, KT_SIGNAL_TRACES, 1, (void *)0x1);
    submit_sig(f, KT_SIGNAL_METRICS, 2, (void *)0x2);
    submit_sig(f, KT_SIGNAL_LOGS, 3, (void *)0x3);
    run_until(f, three_on_second);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->status[i], 0);
    assert_int_equal(f->srv.n_seen, 1);
    assert_string_equal(f->srv.seen[0].path, "/otlp/v1/traces");
    assert_int_equal(other.n_seen, 2);
    assert_string_equal(other.seen[0].path, "/mimir/v1/metrics");
    assert_string_equal(other.seen[1].path, "/loki/v1/logs");
    assert_string_equal(other.seen[1].api_key, "s3cret");
    assert_int_equal(other.n_accepted, 1);
    char up1[128], up2[128];
    snprintf(up1, sizeof(up1), "kotel_process_backend_up{endpoint=\"http://127.0.0.1:%d\"} 1\n",
             f->srv.port);
    snprintf(up2, sizeof(up2), "kotel_process_backend_up{endpoint=\"http://127.0.0.1:%d\"} 0\n",
             other.port);
    assert_metrics(f, (const char *const[]){up1, NULL});

    int port2 = other.port;
    tsrv_stop(&other);
    submit_sig(f, KT_SIGNAL_LOGS, 4, (void *)0x4);
    submit_sig(f, KT_SIGNAL_TRACES, 5, (void *)0x5);
    run_until(f, traces_past_dead_logs);
    assert_ptr_equal(f->tokens[3], (void *)0x5);
    assert_int_equal(f->status[3], 0);
    assert_false(exporter_congested(f->e));
    /* the pipeline pauses the topics of logs and metrics only */
    assert_true(exporter_signal_congested(f->e, KT_SIGNAL_LOGS));
    assert_true(exporter_signal_congested(f->e, KT_SIGNAL_METRICS));
    assert_false(exporter_signal_congested(f->e, KT_SIGNAL_TRACES));
    const char *url = NULL;
    assert_non_null(exporter_unreachable(f->e, &url));
    assert_string_equal(url, murl); /* the URL that named the origin first */
    assert_metrics(f, (const char *const[]){up1, up2, NULL});

    tsrv_start(&other, f->loop, port2);
    run_until(f, five_done);
    assert_ptr_equal(f->tokens[4], (void *)0x4);
    assert_int_equal(f->status[4], 0);
    assert_int_equal(other.n_seen, 1);
    assert_string_equal(other.seen[0].path, "/loki/v1/logs");
    assert_null(exporter_unreachable(f->e, NULL));
    assert_false(exporter_signal_congested(f->e, KT_SIGNAL_LOGS));
    exporter_free(f->e);
    f->e = NULL;
    tsrv_stop(&other);
}

static void test_http_json_success(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_JSON, f->srv.port, NULL);
    f->srv.fallback.content_type = "application/json";
    f->srv.fallback.body = (const uint8_t *)"{}";
    f->srv.fallback.body_len = 2;
    start_exporter(f);
    submit(f, 1, 2, (void *)0x31, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    const struct seen *s = &f->srv.seen[0];
    assert_string_equal(s->path, "/v1/traces");
    assert_string_equal(s->content_type, "application/json");
    json_error_t je;
    json_t *root = json_loadb((const char *)s->body.p, s->body.len, 0, &je);
    if (root == NULL)
        fail_msg("body is not JSON: %s", je.text);
    json_t *rs = json_object_get(root, "resourceSpans");
    assert_true(json_is_array(rs));
    json_t *ss = json_object_get(json_array_get(rs, 0), "scopeSpans");
    json_t *sp = json_object_get(json_array_get(ss, 0), "spans");
    assert_int_equal(json_array_size(sp), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sp, 1), "name")),
                        "span-1-1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sp, 0), "traceId")),
                        "1112131415161718191a1b1c1d1e1f20");
    json_decref(root);
}

static void test_gzip_on_the_wire(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.exporter.compression = PROCESS_COMP_GZIP;
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 5, (void *)0x41, &want);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_string_equal(f->srv.seen[0].encoding, "gzip");
    assert_true(f->srv.seen[0].grpc_compressed);
    assert_body(&f->srv.seen[0], &want);
    exporter_free(f->e);
    f->e = NULL;

    /* OTLP/HTTP: Content-Encoding */
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    f->conf.exporter.compression = PROCESS_COMP_GZIP;
    start_exporter(f);
    submit(f, 1, 5, (void *)0x42, NULL);
    run_until(f, two_done);
    assert_int_equal(f->status[1], 0);
    assert_string_equal(f->srv.seen[1].encoding, "gzip");
    assert_body(&f->srv.seen[1], &want);
    kt_buf_free(&want);
}

static void test_zstd_and_snappy_in_the_collector_wire_forms(void **state)
{
    struct fixture *f = *state;
    static const int protocols[] = {PROCESS_PROTO_GRPC, PROCESS_PROTO_HTTP_PROTOBUF};
    static const int comps[] = {PROCESS_COMP_ZSTD, PROCESS_COMP_SNAPPY};
    static const char *const names[] = {"zstd", "snappy"};
    struct kt_buf want = KT_BUF_INIT;
    int n = 0;
    for (size_t p = 0; p < 2; p++)
        for (size_t k = 0; k < 2; k++) {
            base_conf(f, protocols[p], f->srv.port, NULL);
            f->conf.exporter.compression = comps[k];
            start_exporter(f);
            kt_buf_reset(&want);
            submit(f, 3, 40, (void *)0x43, &want);
            while (f->n_done <= n)
                ev_run(f->loop, EVRUN_ONCE);
            assert_int_equal(f->status[n], 0);
            /* The test backend decodes gRPC's snappy as the framing format and HTTP's as a
             * block, so a body that decodes to what was sent is in the right form. */
            assert_string_equal(f->srv.seen[n].encoding, names[k]);
            assert_true(f->srv.seen[n].grpc_compressed == (protocols[p] == PROCESS_PROTO_GRPC));
            assert_body(&f->srv.seen[n], &want);
            exporter_free(f->e);
            f->e = NULL;
            n++;
        }
    kt_buf_free(&want);
}

static void submit_meta(struct fixture *f, int seed, const char *tenant, void *token,
                        struct kt_buf *keep)
{
    struct kt_buf b = KT_BUF_INIT;
    traces(seed, 2, &b);
    struct exporter_meta m = {{{NULL, 0}}};
    if (tenant)
        m.v[0] = (struct kt_slice){(const uint8_t *)tenant, strlen(tenant)};
    assert_int_equal(exporter_submit(f->e, KT_SIGNAL_TRACES, kt_buf_slice(&b), 2, &m, token), 0);
    if (keep)
        kt_buf_append(keep, b.p, b.len);
    kt_buf_free(&b);
}

static char *tenant_key[] = {(char *)"X-Scope-OrgID"};

static bool four_done(struct fixture *f)
{
    return f->n_done >= 4;
}

static void test_metadata_keeps_tenants_apart_and_sends_them_as_headers(void **state)
{
    struct fixture *f = *state;
    for (int proto = 0; proto < 2; proto++) {
        base_conf(f, proto == 0 ? PROCESS_PROTO_GRPC : PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port,
                  NULL);
        f->conf.exporter.send_batch_size = 1000;
        f->conf.exporter.send_batch_timeout_ms = 20;
        f->conf.exporter.metadata_cardinality_limit = 10;
        f->conf.exporter.headers_from_metadata = (struct kt_strlist){tenant_key, 1};
        start_exporter(f);
        int base = f->srv.n_seen;
        f->n_done = 0;
        struct kt_buf a = KT_BUF_INIT, b = KT_BUF_INIT, none = KT_BUF_INIT;
        submit_meta(f, 1, "tenant-a", (void *)0x1, &a);
        submit_meta(f, 2, "tenant-b", (void *)0x2, &b);
        submit_meta(f, 3, "tenant-a", (void *)0x3, &a);
        submit_meta(f, 4, NULL, (void *)0x4, &none);
        run_until(f, four_done);
        assert_int_equal(f->srv.n_seen - base, 3);
        int got = 0;
        for (int i = base; i < f->srv.n_seen; i++) {
            const struct seen *s = &f->srv.seen[i];
            assert_string_equal(s->api_key, "s3cret");
            if (strcmp(s->tenant, "tenant-a") == 0) {
                /* Both tenant-a pieces, in submission order, in one request. */
                assert_body(s, &a);
                got |= 1;
            } else if (strcmp(s->tenant, "tenant-b") == 0) {
                assert_body(s, &b);
                got |= 2;
            } else {
                assert_string_equal(s->tenant, "");
                assert_body(s, &none);
                got |= 4;
            }
        }
        assert_int_equal(got, 7);
        kt_buf_free(&a);
        kt_buf_free(&b);
        kt_buf_free(&none);
        exporter_free(f->e);
        f->e = NULL;
    }
}

static void test_metadata_past_the_cardinality_limit_is_refused(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.exporter.send_batch_size = 1000;
    f->conf.exporter.send_batch_timeout_ms = 20;
    f->conf.exporter.metadata_cardinality_limit = 1;
    f->conf.exporter.headers_from_metadata = (struct kt_strlist){tenant_key, 1};
    start_exporter(f);
    submit_meta(f, 1, "tenant-a", (void *)0x1, NULL);
    submit_meta(f, 2, "tenant-b", (void *)0x2, NULL);
    submit_meta(f, 3, "bad\r\nX-Injected: 1", (void *)0x3, NULL);
    run_until(f, three_done);
    for (int i = 0; i < 3; i++) {
        if (f->tokens[i] == (void *)0x1) {
            assert_int_equal(f->status[i], 0);
        } else {
            assert_int_equal(f->status[i], KT_EINVAL);
            assert_non_null(strstr(f->message[i], f->tokens[i] == (void *)0x2
                                                      ? "metadata_cardinality_limit"
                                                      : "control character"));
        }
    }
    assert_int_equal(f->srv.n_seen, 1);
    assert_string_equal(f->srv.seen[0].tenant, "tenant-a");
    const char *want[] = {
        "kotel_process_export_failed_items_total{signal=\"traces\",reason=\"metadata\"} 4", NULL};
    assert_metrics(f, want);
}

static void test_batching_by_size(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.exporter.send_batch_size = 4;
    f->conf.exporter.send_batch_timeout_ms = 60000;
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 2, (void *)0x51, &want);
    submit(f, 2, 2, (void *)0x52, &want);
    run_until(f, two_done);
    assert_int_equal(f->srv.n_seen, 1);
    assert_body(&f->srv.seen[0], &want); /* concatenation: one TracesData with both */
    assert_ptr_equal(f->tokens[0], (void *)0x51);
    assert_ptr_equal(f->tokens[1], (void *)0x52);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->status[1], 0);
    kt_buf_free(&want);
}

static void test_batching_by_timeout(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    f->conf.exporter.send_batch_size = 1000;
    f->conf.exporter.send_batch_timeout_ms = 30;
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 1, (void *)0x61, &want);
    submit(f, 2, 1, (void *)0x62, &want);
    ev_tstamp t0 = ev_time();
    run_until(f, two_done);
    assert_true(ev_time() - t0 >= 0.02);
    assert_int_equal(f->srv.n_seen, 1);
    assert_body(&f->srv.seen[0], &want);
    kt_buf_free(&want);
}

static void test_flush_sends_open_batches(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.exporter.send_batch_size = 1000;
    f->conf.exporter.send_batch_timeout_ms = 60000;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x71, NULL);
    exporter_flush(f->e);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_true(exporter_idle(f->e));
}

/* Megabytes in one request: HTTP/2 flow control and partial socket writes on both paths. */
static void test_large_batches(void **state)
{
    struct fixture *f = *state;
    for (int proto = PROCESS_PROTO_GRPC; proto <= PROCESS_PROTO_HTTP_PROTOBUF; proto++) {
        base_conf(f, proto, f->srv.port, NULL);
        start_exporter(f);
        struct kt_buf want = KT_BUF_INIT;
        submit(f, 1, 60000, (void *)0x191, &want);
        run_until(f, one_done);
        assert_int_equal(f->status[0], 0);
        assert_true(want.len > (2u << 20));
        assert_body(&f->srv.seen[f->srv.n_seen - 1], &want);
        exporter_free(f->e);
        f->e = NULL;
        f->n_done = 0;
        kt_buf_free(&want);
    }
}

static bool retried_once(struct fixture *f)
{
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    return st.requests_retried >= 1;
}

static void test_http_503_retry_after_then_success(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    /* The backoff alone would wait ten minutes: only Retry-After can make this quick. */
    f->conf.retry.initial_interval_ms = 600000;
    f->conf.retry.max_interval_ms = 600000;
    tsrv_script(&f->srv, (struct answer){.http_status = 503, .retry_after = "0"});
    start_exporter(f);
    submit(f, 1, 1, (void *)0x81, NULL);
    run_until(f, retried_once);
    assert_true(exporter_congested(f->e));
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->srv.n_seen, 2);
    assert_false(exporter_congested(f->e));
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    assert_int_equal(st.requests_retried, 1);
    assert_int_equal(st.requests_ok, 1);
    /* done exactly once for the token */
    for (int i = 0; i < 10; i++)
        ev_run(f->loop, EVRUN_NOWAIT);
    assert_int_equal(f->n_done, 1);
}

static void test_retry_keeps_order(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    tsrv_script(&f->srv, (struct answer){.http_status = 503});
    start_exporter(f);
    submit(f, 1, 1, (void *)0x91, NULL);
    submit(f, 2, 1, (void *)0x92, NULL);
    run_until(f, two_done);
    assert_ptr_equal(f->tokens[0], (void *)0x91);
    assert_ptr_equal(f->tokens[1], (void *)0x92);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->status[1], 0);
    assert_int_equal(f->srv.n_seen, 3);
    /* the retried first batch went out again before the second */
    assert_memory_equal(f->srv.seen[0].body.p, f->srv.seen[1].body.p, f->srv.seen[0].body.len);
}

static bool one_seen(struct fixture *f)
{
    return f->srv.n_seen >= 1;
}

/* max_in_flight 2: a request sent later finishes first while the earlier one waits for its
 * retry, and the partition's watermark (what the consumer commits) stays at the earlier
 * one's offset until it is finished too. */
static void test_in_flight_requests_finish_out_of_order_and_commits_wait(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.exporter.max_in_flight = 2;
    f->conf.retry.initial_interval_ms = 300;
    f->conf.retry.max_interval_ms = 300;
    f->conf.retry.randomization_factor = 0;
    tsrv_script(&f->srv, (struct answer){.grpc_status = KT_GRPC_UNAVAILABLE});
    start_exporter(f);
    struct offset_tracker t;
    offsets_init(&t);
    assert_int_equal(offsets_track(&t, 10), 0);
    assert_int_equal(offsets_track(&t, 11), 0);
    submit(f, 1, 1, (void *)(intptr_t)10, NULL);
    run_until(f, one_seen); /* offset 10's request is on the wire, to be refused once */
    submit(f, 2, 1, (void *)(intptr_t)11, NULL);
    run_until(f, one_done);
    assert_ptr_equal(f->tokens[0], (void *)(intptr_t)11);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(offsets_finish(&t, 11), 1);
    assert_int_equal(offsets_position(&t), 10);
    run_until(f, two_done);
    assert_ptr_equal(f->tokens[1], (void *)(intptr_t)10);
    assert_int_equal(f->status[1], 0);
    assert_int_equal(offsets_finish(&t, 10), 1);
    assert_int_equal(offsets_position(&t), 12);
    assert_int_equal(f->srv.n_seen, 3);
    offsets_reset(&t);
}

static void test_grpc_unavailable_retried(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    tsrv_script(
        &f->srv,
        (struct answer){.grpc_status = 14, .grpc_message = "try later", .trailers_only = true});
    tsrv_script(&f->srv, (struct answer){.grpc_status = 14});
    start_exporter(f);
    submit(f, 1, 1, (void *)0xa1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->srv.n_seen, 3);
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    assert_int_equal(st.requests_retried, 2);
}

/* base64 of google.rpc.Status{code 8, details [Any{type_url RetryInfo,
 * value RetryInfo{retry_delay Duration{nanos 1ms}}}]}, encoded field by field. */
static void retry_info_b64(char *out, size_t cap)
{
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    struct kt_buf dur = KT_BUF_INIT, ri = KT_BUF_INIT, any = KT_BUF_INIT, st = KT_BUF_INIT;
    kt_buf_append_byte(&dur, 0x10); /* nanos */
    kt_buf_append_varint(&dur, 1000000);
    kt_buf_append_byte(&ri, 0x0a);
    kt_buf_append_varint(&ri, dur.len);
    kt_buf_append(&ri, dur.p, dur.len);
    kt_buf_append_byte(&any, 0x0a);
    kt_buf_append_varint(&any, sizeof(url) - 1);
    kt_buf_append(&any, url, sizeof(url) - 1);
    kt_buf_append_byte(&any, 0x12);
    kt_buf_append_varint(&any, ri.len);
    kt_buf_append(&any, ri.p, ri.len);
    kt_buf_append_byte(&st, 0x08);
    kt_buf_append_varint(&st, 8);
    kt_buf_append_byte(&st, 0x1a);
    kt_buf_append_varint(&st, any.len);
    kt_buf_append(&st, any.p, any.len);
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < st.len; i += 3) {
        uint32_t v = (uint32_t)st.p[i] << 16;
        size_t k = st.len - i;
        if (k > 1)
            v |= (uint32_t)st.p[i + 1] << 8;
        if (k > 2)
            v |= st.p[i + 2];
        assert_true(o + 5 < cap);
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (k > 1)
            out[o++] = tab[(v >> 6) & 63];
        if (k > 2)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0'; /* unpadded, as gRPC sends it */
    kt_buf_free(&dur);
    kt_buf_free(&ri);
    kt_buf_free(&any);
    kt_buf_free(&st);
}

static void test_resource_exhausted_with_retry_info_retried(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    f->conf.retry.initial_interval_ms = 600000;
    f->conf.retry.max_interval_ms = 600000;
    static char details[256];
    retry_info_b64(details, sizeof(details));
    tsrv_script(&f->srv, (struct answer){.grpc_status = 8,
                                         .grpc_message = "slow down",
                                         .details_b64 = details,
                                         .trailers_only = true});
    start_exporter(f);
    submit(f, 1, 1, (void *)0xb1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->srv.n_seen, 2);
}

static void test_resource_exhausted_without_retry_info_permanent(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    tsrv_script(&f->srv, (struct answer){.grpc_status = 8, .grpc_message = "quota%20gone"});
    start_exporter(f);
    submit(f, 1, 4, (void *)0xc1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_non_null(strstr(f->message[0], "RESOURCE_EXHAUSTED"));
    assert_non_null(strstr(f->message[0], "quota gone"));
    assert_int_equal(f->srv.n_seen, 1);
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    assert_int_equal(st.requests_failed, 1);
    assert_int_equal(st.items_refused, 4);
}

static void test_grpc_invalid_argument_permanent(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    tsrv_script(
        &f->srv,
        (struct answer){.grpc_status = 3, .grpc_message = "bad trace id", .trailers_only = true});
    start_exporter(f);
    submit(f, 1, 1, (void *)0xd1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_string_equal(f->message[0], "INVALID_ARGUMENT: bad trace id");
}

static void test_http_400_permanent_with_message(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    /* google.rpc.Status{code 3, message "span 2 has no name"} */
    static const uint8_t status[] = {0x08, 0x03, 0x12, 18,  's', 'p', 'a', 'n', ' ', '2', ' ',
                                     'h',  'a',  's',  ' ', 'n', 'o', ' ', 'n', 'a', 'm', 'e'};
    tsrv_script(&f->srv,
                (struct answer){.http_status = 400, .body = status, .body_len = sizeof(status)});
    start_exporter(f);
    submit(f, 1, 1, (void *)0xe1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_string_equal(f->message[0], "HTTP 400: span 2 has no name");
    assert_int_equal(f->srv.n_seen, 1);
}

/* The refused request's data comes back byte for byte whatever the wire form was: gzip'd
 * gRPC, gzip'd OTLP/JSON, plain protobuf; with where each token's piece ends, but for
 * OTLP/JSON. */
static void refused_data_round_trips(void **state, int protocol, int compression, int status)
{
    struct fixture *f = *state;
    base_conf(f, protocol, f->srv.port, NULL);
    f->conf.exporter.compression = compression;
    f->conf.exporter.send_batch_size = 11;
    if (protocol == PROCESS_PROTO_GRPC)
        tsrv_script(&f->srv, (struct answer){.grpc_status = status, .grpc_message = "bad"});
    else
        tsrv_script(&f->srv, (struct answer){.http_status = status});
    start_exporter(f);
    exporter_set_refused(f->e, on_refused);
    kt_buf_reset(&refused_data);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 7, 4, (void *)0x71, &want);
    size_t first = want.len;
    submit(f, 8, 7, (void *)0x72, &want);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_int_equal(refused_tokens, 2);
    assert_int_equal(refused_data.len, want.len);
    assert_memory_equal(refused_data.p, want.p, want.len);
    assert_int_equal(refused_has_ends, protocol != PROCESS_PROTO_HTTP_JSON);
    if (refused_has_ends) {
        assert_int_equal(refused_ends[0], first);
        assert_int_equal(refused_ends[1], want.len);
    }
    kt_buf_free(&want);
    kt_buf_free(&refused_data);
}

static void test_refused_data_comes_back_from_gzip_grpc(void **state)
{
    refused_data_round_trips(state, PROCESS_PROTO_GRPC, PROCESS_COMP_GZIP, 3);
}

static void test_refused_data_comes_back_from_gzip_json(void **state)
{
    refused_data_round_trips(state, PROCESS_PROTO_HTTP_JSON, PROCESS_COMP_GZIP, 400);
}

static void test_refused_data_comes_back_from_plain_protobuf(void **state)
{
    refused_data_round_trips(state, PROCESS_PROTO_HTTP_PROTOBUF, PROCESS_COMP_NONE, 400);
}

static void test_partial_success_is_done(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    /* ExportTraceServiceResponse{partial_success{rejected_spans 2, error_message "dup"}} */
    static const uint8_t resp[] = {0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 'd', 'u', 'p'};
    tsrv_script(&f->srv, (struct answer){.body = resp, .body_len = sizeof(resp)});
    start_exporter(f);
    submit(f, 1, 5, (void *)0xf1, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    struct exporter_stats st;
    exporter_get_stats(f->e, &st);
    assert_int_equal(st.items_exported, 3);
    assert_int_equal(st.items_refused, 2);
    assert_metrics(f, (const char *const[]){
                          "kotel_process_exported_items_total{signal=\"traces\"} 3\n",
                          "kotel_process_export_failed_items_total{signal=\"traces\",reason="
                          "\"rejected\"} 2\n",
                          "kotel_process_export_requests_total{signal=\"traces\",outcome="
                          "\"ok\"} 1\n",
                          "kotel_process_export_duration_seconds_count{signal=\"traces\"} 1\n",
                          "kotel_process_export_duration_seconds_bucket{signal=\"traces\",le="
                          "\"+Inf\"} 1\n",
                          "kotel_process_backend_up 1\n",
                          NULL,
                      });
}

static void test_max_elapsed_time_gives_up(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    f->conf.retry.initial_interval_ms = 10;
    f->conf.retry.max_interval_ms = 20;
    f->conf.retry.max_elapsed_time_ms = 150;
    f->srv.fallback.http_status = 503;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x101, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_non_null(strstr(f->message[0], "gave up after"));
    assert_non_null(strstr(f->message[0], "HTTP 503"));
    assert_true(f->srv.n_seen >= 2);
    assert_false(exporter_congested(f->e));
    /* It answered, if only with 503s: reachable. */
    assert_null(exporter_unreachable(f->e, NULL));
    assert_metrics(f, (const char *const[]){
                          "kotel_process_export_requests_total{signal=\"traces\",outcome="
                          "\"gave_up\"} 1\n",
                          "kotel_process_export_failed_items_total{signal=\"traces\",reason="
                          "\"gave_up\"} 1\n",
                          "kotel_process_exported_items_total{signal=\"traces\"} 0\n",
                          NULL,
                      });
}

static bool four_seen(struct fixture *f)
{
    return f->srv.n_seen >= 4;
}

/* [exporter.retry] multiplier: with no randomization the waits are 40, 120 and then 200 ms
 * (360 capped by max_interval). Only lower bounds are asserted: a loaded machine makes waits
 * longer, never shorter. */
static void test_backoff_multiplier_and_cap(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    f->conf.retry.initial_interval_ms = 40;
    f->conf.retry.max_interval_ms = 200;
    f->conf.retry.multiplier = 3.0;
    f->conf.retry.randomization_factor = 0.0;
    f->srv.fallback.http_status = 503;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x102, NULL);
    run_until(f, four_seen);
    const double want[] = {0.040, 0.120, 0.200};
    for (int i = 0; i < 3; i++) {
        double gap = f->srv.seen[i + 1].at - f->srv.seen[i].at;
        /* ev_now has the loop's granularity: a millisecond of slack. */
        if (gap < want[i] - 0.001)
            fail_msg("wait %d: %.3f s, want at least %.3f s", i + 1, gap, want[i]);
    }
}

static void test_connection_refused_then_backend_appears(void **state)
{
    struct fixture *f = *state;
    int port = free_port();
    base_conf(f, PROCESS_PROTO_GRPC, port, NULL);
    start_exporter(f);
    assert_null(exporter_unreachable(f->e, NULL));
    submit(f, 1, 1, (void *)0x111, NULL);
    run_until(f, retried_once);
    assert_true(exporter_congested(f->e));
    assert_int_equal(f->n_done, 0);
    /* No answer: /readyz says why. */
    assert_non_null(exporter_unreachable(f->e, NULL));
    assert_true(exporter_unreachable(f->e, NULL)[0] != '\0');
    assert_metrics(f, (const char *const[]){"kotel_process_backend_up 0\n", NULL});
    /* the backend comes up on that port */
    struct tsrv late;
    tsrv_start(&late, f->loop, port);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(late.n_seen, 1);
    assert_null(exporter_unreachable(f->e, NULL));
    exporter_free(f->e);
    f->e = NULL;
    tsrv_stop(&late);
}

static void test_backend_restart_reconnects(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_HTTP_PROTOBUF, f->srv.port, NULL);
    start_exporter(f);
    submit(f, 1, 1, (void *)0x121, NULL);
    run_until(f, one_done);
    /* the backend drops every connection; the next request opens a new one */
    while (f->srv.conns)
        conn_free(f->srv.conns);
    submit(f, 2, 1, (void *)0x122, NULL);
    run_until(f, two_done);
    assert_int_equal(f->status[1], 0);
    assert_int_equal(f->srv.n_accepted, 2);
}

static void test_timeout_is_retried(void **state)
{
    struct fixture *f = *state;
    /* a listener that accepts nothing and answers nothing */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    listen(fd, 4);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    base_conf(f, PROCESS_PROTO_GRPC, ntohs(a.sin_port), NULL);
    f->conf.exporter.timeout_ms = 30;
    f->conf.retry.max_elapsed_time_ms = 100;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x131, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    assert_non_null(strstr(f->message[0], "timeout"));
    close(fd);
}

static void test_free_reports_outstanding(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, free_port(), NULL);
    f->conf.retry.initial_interval_ms = 600000;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x141, NULL);
    run_until(f, retried_once);
    f->conf.exporter.send_batch_size = 100; /* the next one stays in an open batch */
    submit(f, 2, 1, (void *)0x142, NULL);
    assert_int_equal(f->n_done, 0);
    exporter_free(f->e);
    f->e = NULL;
    assert_int_equal(f->n_done, 2);
    assert_int_equal(f->status[0], KT_EAGAIN);
    assert_int_equal(f->status[1], KT_EAGAIN);
    assert_string_equal(f->message[0], "shutting down");
}

static void expect_new_error(struct fixture *f, const char *want)
{
    struct kt_err err = {0};
    struct exporter *e = NULL;
    assert_int_not_equal(exporter_new(&f->conf, f->loop, on_done, f, &e, &err), 0);
    assert_null(e);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error '%s' does not contain '%s'", err.msg, want);
}

static void test_config_validation(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, 4317, NULL);
    f->conf.exporter.endpoint = (char *)"localhost:4317";
    expect_new_error(f, "[exporter] endpoint");
    f->conf.exporter.endpoint = (char *)"http://:4317";
    expect_new_error(f, "no host");
    f->conf.exporter.endpoint = (char *)"http://h:99999";
    expect_new_error(f, "port");
    f->conf.exporter.endpoint = (char *)"http://h:4317/x";
    expect_new_error(f, "path is not allowed with protocol grpc");
    f->conf.exporter.endpoint = (char *)"http://[::1]:4317";
    f->header_v[0] = (char *)"NoEquals";
    expect_new_error(f, "[exporter] headers");
    f->header_v[0] = (char *)"Bad Key=v";
    expect_new_error(f, "'Bad Key'");
    f->header_v[0] = (char *)"Content-Type=text/plain";
    expect_new_error(f, "'content-type': set by the exporter");
    struct kt_err err = {0};
    struct exporter *e = NULL;
    f->header_v[0] = (char *)"Authorization=Bearer se\ncret";
    assert_int_not_equal(exporter_new(&f->conf, f->loop, on_done, f, &e, &err), 0);
    assert_null(strstr(err.msg, "secret")); /* values are never echoed */
    f->header_v[0] = (char *)"Authorization = Bearer x ";
    assert_int_equal(exporter_new(&f->conf, f->loop, on_done, f, &e, &err), 0);
    exporter_free(e);
}

/* "Key=@/path": the value comes from a file (its trailing newline dropped), is read again
 * by exporter_reload for the requests after it, and a reload that fails keeps the old one.
 * Errors name the header and the file, never the value. */
static void test_header_value_from_file_and_reload(void **state)
{
    struct fixture *f = *state;
    base_conf(f, PROCESS_PROTO_GRPC, f->srv.port, NULL);
    char path[128], entry[160];
    test_tmpfile_write(path, sizeof(path), "kotel-api-key", "first-key\n", 10);
    snprintf(entry, sizeof(entry), "X-Api-Key=@%s", path);
    f->header_v[0] = entry;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x191, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
    assert_string_equal(f->srv.seen[0].api_key, "first-key");

    unlink(path);
    struct kt_err err = {0};
    assert_int_equal(exporter_reload(f->e, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "[exporter] headers: 'x-api-key': cannot read "));
    assert_non_null(strstr(err.msg, path));
    submit(f, 2, 1, (void *)0x192, NULL);
    run_until(f, two_done);
    assert_string_equal(f->srv.seen[1].api_key, "first-key");

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "second-key", 10), 10);
    close(fd);
    assert_int_equal(exporter_reload(f->e, &err), 0);
    submit(f, 3, 1, (void *)0x193, NULL);
    run_until(f, three_done);
    assert_string_equal(f->srv.seen[2].api_key, "second-key");
    unlink(path);

    /* A missing file stops exporter_new, naming it; a control character in it too, without
     * echoing it. */
    struct exporter *e = NULL;
    assert_int_equal(exporter_new(&f->conf, f->loop, on_done, f, &e, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, path));
    test_tmpfile_write(path, sizeof(path), "kotel-api-key", "sec\x01ret", 7);
    snprintf(entry, sizeof(entry), "X-Api-Key=@%s", path);
    assert_int_equal(exporter_new(&f->conf, f->loop, on_done, f, &e, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[exporter] headers: 'x-api-key': control character in the value");
    unlink(path);
}

/* https to "localhost": the name is looked up off the loop thread, the certificate is
 * verified against the CA file, and ALPN picks h2 for gRPC. */
static void tls_conf(struct fixture *f, int protocol)
{
    f->tls[0] = tls_material_new("localhost");
    f->srv.tls = &f->tls[0]->conf;
    base_conf(f, protocol, f->srv.port, NULL);
    snprintf(f->endpoint, sizeof(f->endpoint), "https://localhost:%d", f->srv.port);
    f->conf.exporter_tls.ca_file = f->tls[0]->ca_path;
}

static void test_tls_grpc(void **state)
{
    struct fixture *f = *state;
    tls_conf(f, PROCESS_PROTO_GRPC);
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 2, (void *)0x151, &want);
    run_until(f, one_done);
    if (f->status[0] != 0)
        fail_msg("TLS gRPC export failed: %s", f->message[0]);
    assert_true(f->srv.seen[0].h2);
    assert_body(&f->srv.seen[0], &want);
    kt_buf_free(&want);
}

static void test_tls_http_protobuf(void **state)
{
    struct fixture *f = *state;
    tls_conf(f, PROCESS_PROTO_HTTP_PROTOBUF);
    f->conf.exporter.compression = PROCESS_COMP_GZIP;
    start_exporter(f);
    struct kt_buf want = KT_BUF_INIT;
    submit(f, 1, 2, (void *)0x161, &want);
    run_until(f, one_done);
    if (f->status[0] != 0)
        fail_msg("TLS HTTP export failed: %s", f->message[0]);
    submit(f, 2, 1, (void *)0x162, NULL);
    run_until(f, two_done);
    assert_int_equal(f->status[1], 0);
    assert_false(f->srv.seen[0].h2);
    assert_body(&f->srv.seen[0], &want);
    assert_int_equal(f->srv.n_accepted, 1);
    kt_buf_free(&want);
}

static void test_tls_untrusted_certificate_fails(void **state)
{
    struct fixture *f = *state;
    tls_conf(f, PROCESS_PROTO_GRPC);
    f->tls[1] = tls_material_new("localhost"); /* a different key: not the server's */
    f->conf.exporter_tls.ca_file = f->tls[1]->ca_path;
    f->conf.retry.max_elapsed_time_ms = 50;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x171, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], KT_EINVAL);
    if (strstr(f->message[0], "certificate") == NULL)
        fail_msg("want a certificate error, got '%s'", f->message[0]);
    assert_int_equal(f->srv.n_seen, 0);
}

static void test_tls_insecure_skip_verify(void **state)
{
    struct fixture *f = *state;
    tls_conf(f, PROCESS_PROTO_HTTP_PROTOBUF);
    f->conf.exporter_tls.ca_file = (char *)"";
    f->conf.exporter_tls.insecure_skip_verify = true;
    start_exporter(f);
    submit(f, 1, 1, (void *)0x181, NULL);
    run_until(f, one_done);
    assert_int_equal(f->status[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_grpc_success),
        T(test_http_protobuf_success),
        T(test_http_json_success),
        T(test_gzip_on_the_wire),
        T(test_zstd_and_snappy_in_the_collector_wire_forms),
        T(test_metadata_keeps_tenants_apart_and_sends_them_as_headers),
        T(test_metadata_past_the_cardinality_limit_is_refused),
        T(test_in_flight_requests_finish_out_of_order_and_commits_wait),
        T(test_batching_by_size),
        T(test_batching_by_timeout),
        T(test_flush_sends_open_batches),
        T(test_large_batches),
        T(test_http_503_retry_after_then_success),
        T(test_retry_keeps_order),
        T(test_grpc_unavailable_retried),
        T(test_resource_exhausted_with_retry_info_retried),
        T(test_resource_exhausted_without_retry_info_permanent),
        T(test_grpc_invalid_argument_permanent),
        T(test_http_400_permanent_with_message),
        T(test_refused_data_comes_back_from_gzip_grpc),
        T(test_refused_data_comes_back_from_gzip_json),
        T(test_refused_data_comes_back_from_plain_protobuf),
        T(test_partial_success_is_done),
        T(test_max_elapsed_time_gives_up),
        T(test_backoff_multiplier_and_cap),
        T(test_signal_endpoint),
        T(test_signal_endpoints_on_two_origins),
        T(test_connection_refused_then_backend_appears),
        T(test_backend_restart_reconnects),
        T(test_timeout_is_retried),
        T(test_free_reports_outstanding),
        T(test_config_validation),
        T(test_header_value_from_file_and_reload),
        T(test_tls_grpc),
        T(test_tls_http_protobuf),
        T(test_tls_untrusted_certificate_fails),
        T(test_tls_insecure_skip_verify),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
