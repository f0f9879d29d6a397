#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt_log.h"
#include "server_int.h"

/* The HTTP/2 client connection preface (RFC 9113 section 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

/* Stop reading from a connection whose unsent output grows past this (slow reader). */
#define WBUF_HIGH_WATER (4u << 20)

struct srv_listener {
    struct server *srv;
    int fd;
    int port;
    char name[128];
    ev_io io;
};

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static int split_endpoint(const char *ep, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon;
    if (ep[0] == '[') {
        const char *end = strchr(ep, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        snprintf(host, hcap, "%.*s", (int)(end - ep - 1), ep + 1);
        colon = end + 1;
    } else {
        colon = strrchr(ep, ':');
        if (colon == NULL)
            return -1;
        snprintf(host, hcap, "%.*s", (int)(colon - ep), ep);
    }
    if (colon[1] == '\0')
        return -1;
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

static int listener_open(struct server *s, struct srv_listener *l, const char *ep,
                         struct kt_err *err)
{
    char host[128], port[16];
    if (split_endpoint(ep, host, sizeof(host), port, sizeof(port)) != 0)
        return kt_err_set(err, KT_EINVAL, "endpoint '%s': want host:port", ep);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gr != 0)
        return kt_err_set(err, KT_EINVAL, "endpoint '%s': %s", ep, gai_strerror(gr));
    int fd = -1, rc = 0;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': socket: %s", ep, strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': bind: %s", ep, strerror(errno));
        goto out;
    }
    if (listen(fd, 1024) != 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': listen: %s", ep, strerror(errno));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    l->fd = fd;
    l->srv = s;
    snprintf(l->name, sizeof(l->name), "%s", ep);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static void conn_touch(struct srv_conn *c)
{
    c->last_activity = ev_now(c->srv->loop);
}

/* When the oldest request still arriving started (0 = none): HTTP/1.1 has at most one,
 * HTTP/2 one per open stream. */
static ev_tstamp oldest_arriving(const struct srv_conn *c)
{
    if (c->proto != SRV_PROTO_H2)
        return c->req_started;
    ev_tstamp oldest = 0;
    for (const struct srv_req *r = c->h2_reqs; r; r = r->next)
        if (!r->complete && !r->responded && (oldest == 0 || r->started < oldest))
            oldest = r->started;
    return oldest;
}

static void conn_arm_timer(struct srv_conn *c)
{
    const struct ingest_conf *cf = c->srv->conf;
    ev_tstamp now = ev_now(c->srv->loop);
    ev_tstamp due = c->last_activity + (double)cf->receiver.idle_timeout_ms / 1000.0;
    ev_tstamp started = oldest_arriving(c);
    if (started > 0) {
        ev_tstamp hdue = started + (double)cf->receiver.header_timeout_ms / 1000.0;
        if (hdue < due)
            due = hdue;
    }
    ev_timer_stop(c->srv->loop, &c->timer);
    ev_timer_set(&c->timer, due > now ? due - now : 0.001, 0.);
    ev_timer_start(c->srv->loop, &c->timer);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct srv_listener *l = w->data;
    struct server *s = l->srv;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                kt_warn("accept on %s: %s", l->name, strerror(errno));
            return;
        }
        if (s->n_conns >= s->conf->receiver.max_connections) {
            kt_warn("accept on %s: %llu connections open, at [receiver] max_connections; "
                    "closing the new one",
                    l->name, (unsigned long long)s->n_conns);
            close(fd);
            continue;
        }
        struct srv_conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->srv = s;
        c->fd = fd;
        char host[48] = "?", port[8] = "?";
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
        ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
        ev_init(&c->timer, conn_timer_cb);
        c->rio.data = c->wio.data = c->timer.data = c;
        ev_io_start(loop, &c->rio);
        conn_touch(c);
        conn_arm_timer(c);
    }
}

int server_new(const struct ingest_conf *conf, struct ev_loop *loop, struct publisher *pub,
               struct server **out, struct kt_err *err)
{
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    s->conf = conf;
    s->loop = loop;
    s->pub = pub;
    s->listeners = calloc(2, sizeof(*s->listeners));
    if (s->listeners == NULL) {
        free(s);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    const char *eps[2] = {conf->receiver.grpc_endpoint, conf->receiver.http_endpoint};
    const char *keys[2] = {"grpc_endpoint", "http_endpoint"};
    for (int i = 0; i < 2; i++) {
        if (eps[i] == NULL || eps[i][0] == '\0')
            continue;
        struct srv_listener *l = &s->listeners[s->n_listeners];
        int rc = listener_open(s, l, eps[i], err);
        if (rc != 0) {
            kt_err_prefix(err, "[receiver] %s: ", keys[i]);
            server_free(s);
            return rc;
        }
        ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
        l->io.data = l;
        ev_io_start(loop, &l->io);
        s->n_listeners++;
        kt_info("listening on %s (port %d) for OTLP/gRPC and OTLP/HTTP", l->name, l->port);
    }
    if (s->n_listeners == 0) {
        server_free(s);
        return kt_err_set(err, KT_EINVAL,
                          "[receiver]: both grpc_endpoint and http_endpoint are empty");
    }
    *out = s;
    return 0;
}

int server_port(const struct server *s, int index)
{
    return index < s->n_listeners ? s->listeners[index].port : 0;
}

void server_stop_accepting(struct server *s)
{
    s->stopping = true;
    for (int i = 0; i < s->n_listeners; i++) {
        struct srv_listener *l = &s->listeners[i];
        if (l->fd >= 0) {
            ev_io_stop(s->loop, &l->io);
            close(l->fd);
            l->fd = -1;
        }
    }
    /* Tell HTTP/2 clients to go elsewhere for new streams; idle HTTP/1.1 connections
     * close after their current request. */
    for (struct srv_conn *c = s->conns; c; c = c->next)
        if (c->proto == SRV_PROTO_H2)
            h2_conn_goaway(c);
}

bool server_idle(const struct server *s)
{
    return s->reqs_pending == 0;
}

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    while (s->conns)
        srv_conn_close(s->conns);
    for (int i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].fd >= 0) {
            ev_io_stop(s->loop, &s->listeners[i].io);
            close(s->listeners[i].fd);
        }
    }
    free(s->listeners);
    for (int i = 0; i < s->n_body_pool; i++)
        kt_buf_free(&s->body_pool[i]);
    free(s);
}

struct srv_req *srv_req_new(struct srv_conn *c)
{
    struct srv_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->conn = c;
    r->id = ++c->srv->next_req_id;
    r->started = ev_now(c->srv->loop);
    return r;
}

void srv_req_expect_body(struct srv_req *r, uint64_t n)
{
    struct server *s = r->conn->srv;
    if (r->body.cap > 0 || n == 0 || n > s->conf->receiver.max_request_bytes)
        return;
    /* The most recently pooled first: its memory is the likeliest to be in cache. */
    for (int i = s->n_body_pool - 1; i >= 0; i--) {
        if (s->body_pool[i].cap < n)
            continue;
        r->body = s->body_pool[i];
        s->body_pool_bytes -= r->body.cap;
        s->body_pool[i] = s->body_pool[--s->n_body_pool];
        return;
    }
    /* What a client announces is only reserved up to a bound, so that many connections
     * announcing large bodies they never send cannot tie up memory; past it the body grows
     * as it arrives. On failure too. */
    kt_buf_reserve(&r->body, n < SRV_BODY_RESERVE_MAX ? (size_t)n : SRV_BODY_RESERVE_MAX);
}

void srv_req_release_body(struct srv_req *r)
{
    struct server *s = r->conn->srv;
    size_t cap = r->body.cap;
    if (cap > 0 && s->n_body_pool < SRV_BODY_POOL_MAX &&
        cap <= SRV_BODY_POOL_BYTES - s->body_pool_bytes) {
        r->body.len = 0;
        s->body_pool[s->n_body_pool++] = r->body;
        s->body_pool_bytes += cap;
        r->body = (struct kt_buf)KT_BUF_INIT;
        return;
    }
    kt_buf_free(&r->body);
}

void srv_req_free(struct srv_req *r)
{
    if (r == NULL)
        return;
    otlp_service_abandon(r);
    srv_req_release_body(r);
    kt_buf_free(&r->resp.body);
    free(r);
}

void srv_conn_close(struct srv_conn *c)
{
    /* Inside one of this connection's callbacks the caller still holds c: free it when
     * the outermost callback returns. */
    if (c->depth > 0) {
        c->dead = true;
        return;
    }
    struct server *s = c->srv;
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    ev_timer_stop(s->loop, &c->timer);
    if (c->proto == SRV_PROTO_H1)
        h1_conn_free(c);
    else if (c->proto == SRV_PROTO_H2)
        h2_conn_free(c);
    close(c->fd);
    kt_buf_free(&c->rbuf);
    kt_buf_free(&c->wbuf);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    free(c);
}

/* Writes as much of wbuf as the socket takes. Returns -1 if the connection died. */
static int conn_flush(struct srv_conn *c)
{
    while (c->wpos < c->wbuf.len) {
        ssize_t n = send(c->fd, c->wbuf.p + c->wpos, c->wbuf.len - c->wpos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        c->wpos += (size_t)n;
    }
    if (c->wpos == c->wbuf.len) {
        c->wpos = 0;
        kt_buf_reset(&c->wbuf);
        ev_io_stop(c->srv->loop, &c->wio);
    } else {
        ev_io_start(c->srv->loop, &c->wio);
    }
    return 0;
}

int srv_conn_write(struct srv_conn *c, const void *p, size_t n)
{
    if (kt_buf_append(&c->wbuf, p, n) != 0)
        return KT_ENOMEM;
    return 0;
}

static bool conn_busy(const struct srv_conn *c)
{
    if (c->proto == SRV_PROTO_H1)
        return c->h1_head != NULL;
    if (c->proto == SRV_PROTO_H2)
        return c->h2_reqs != NULL;
    return false;
}

void srv_conn_want_write(struct srv_conn *c)
{
    if (c->dead)
        return;
    if (c->proto == SRV_PROTO_H2 && h2_conn_flush(c) != 0) {
        srv_conn_close(c);
        return;
    }
    /* An answer is activity: idle_timeout counts from the last response too, so a
     * keep-alive client is not cut off right after a slow answer. */
    if (c->wbuf.len > 0)
        conn_touch(c);
    if (conn_flush(c) != 0) {
        srv_conn_close(c);
        return;
    }
    if (c->closing && c->wbuf.len == 0 && !conn_busy(c)) {
        srv_conn_close(c);
        return;
    }
    if (c->proto == SRV_PROTO_H2 && h2_conn_done(c) && c->wbuf.len == 0)
        srv_conn_close(c);
}

void srv_conn_pause_reading(struct srv_conn *c, bool paused)
{
    if (paused == c->reading_paused)
        return;
    c->reading_paused = paused;
    if (paused)
        ev_io_stop(c->srv->loop, &c->rio);
    else
        ev_io_start(c->srv->loop, &c->rio);
}

/* Decides HTTP/1.1 or HTTP/2 from the first bytes: a client that starts with the HTTP/2
 * preface is speaking h2c with prior knowledge (as every gRPC client does). */
static int conn_sniff(struct srv_conn *c)
{
    size_t n = c->rbuf.len < H2_PREFACE_LEN ? c->rbuf.len : H2_PREFACE_LEN;
    if (memcmp(c->rbuf.p, h2_preface, n) != 0) {
        c->proto = SRV_PROTO_H1;
        h1_conn_init(c);
        return 0;
    }
    if (n < H2_PREFACE_LEN)
        return 1; /* need more bytes to tell */
    c->proto = SRV_PROTO_H2;
    return h2_conn_init(c);
}

static void conn_feed(struct srv_conn *c, const uint8_t *p, size_t n)
{
    int rc;
    if (c->proto == SRV_PROTO_UNKNOWN) {
        if (kt_buf_append(&c->rbuf, p, n) != 0) {
            srv_conn_close(c);
            return;
        }
        rc = conn_sniff(c);
        if (rc == 1)
            return;
        if (rc < 0) {
            srv_conn_close(c);
            return;
        }
        struct kt_buf b = c->rbuf;
        c->rbuf = (struct kt_buf)KT_BUF_INIT;
        rc = c->proto == SRV_PROTO_H1 ? h1_conn_feed(c, b.p, b.len) : h2_conn_feed(c, b.p, b.len);
        kt_buf_free(&b);
    } else {
        rc = c->proto == SRV_PROTO_H1 ? h1_conn_feed(c, p, n) : h2_conn_feed(c, p, n);
    }
    if (rc < 0) {
        if (c->proto == SRV_PROTO_H2)
            h2_conn_flush(c);
        conn_flush(c);
        srv_conn_close(c);
        return;
    }
    srv_conn_want_write(c);
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct srv_conn *c = w->data;
    uint8_t buf[64 * 1024];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        srv_conn_close(c);
        return;
    }
    if (n < 0)
        return;
    conn_touch(c);
    c->depth++;
    conn_feed(c, buf, (size_t)n);
    c->depth--;
    if (c->dead) {
        srv_conn_close(c);
        return;
    }
    if (c->wbuf.len > WBUF_HIGH_WATER)
        srv_conn_pause_reading(c, true);
    conn_arm_timer(c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct srv_conn *c = w->data;
    conn_touch(c);
    c->depth++;
    srv_conn_want_write(c);
    c->depth--;
    if (c->dead) {
        srv_conn_close(c);
        return;
    }
    if (c->wbuf.len < WBUF_HIGH_WATER / 2 && !(c->proto == SRV_PROTO_H1 && c->h1_inflight >= 8))
        srv_conn_pause_reading(c, false);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct srv_conn *c = w->data;
    const struct ingest_conf *cf = c->srv->conf;
    ev_tstamp now = ev_now(loop);
    double header_timeout = (double)cf->receiver.header_timeout_ms / 1000.0;
    if (c->proto == SRV_PROTO_H2) {
        /* A stream whose request never finishes arriving is reset; the connection and its
         * other streams go on. */
        int reset = 0;
        for (struct srv_req *r = c->h2_reqs; r; r = r->next) {
            if (!r->complete && !r->responded && now - r->started >= header_timeout) {
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
                r->responded = true;
                reset++;
            }
        }
        if (reset > 0) {
            kt_info("connection from %s: %d HTTP/2 request(s) not complete within [receiver] "
                    "header_timeout (%llums); streams reset",
                    c->peer, reset, (unsigned long long)cf->receiver.header_timeout_ms);
            c->depth++;
            srv_conn_want_write(c);
            c->depth--;
            if (c->dead) {
                srv_conn_close(c);
                return;
            }
        }
    }
    if (c->proto != SRV_PROTO_H2 && c->req_started > 0 && now - c->req_started >= header_timeout) {
        kt_info("connection from %s: request not complete within [receiver] header_timeout "
                "(%llums); closing",
                c->peer, (unsigned long long)cf->receiver.header_timeout_ms);
        if (c->proto == SRV_PROTO_H1) {
            static const char resp[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n";
            srv_conn_write(c, resp, sizeof(resp) - 1);
            conn_flush(c);
        }
        srv_conn_close(c);
        return;
    }
    /* A connection waiting for Kafka to acknowledge its request is not idle. */
    if (!conn_busy(c) && now - c->last_activity >= (double)cf->receiver.idle_timeout_ms / 1000.0) {
        kt_debug("connection from %s idle for [receiver] idle_timeout; closing", c->peer);
        if (c->proto == SRV_PROTO_H2) {
            h2_conn_goaway(c);
            h2_conn_flush(c);
            conn_flush(c);
        }
        srv_conn_close(c);
        return;
    }
    if (conn_busy(c))
        conn_touch(c);
    conn_arm_timer(c);
}
