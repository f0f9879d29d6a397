/* The connection layer (conn.h): sockets, write buffers, backpressure and timeouts of the
 * server's connections, under the protocols. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_log.h"
#include "protocol.h"

/* Stop reading from a connection whose unsent output grows past this (slow reader). */
#define WBUF_HIGH_WATER (4u << 20)

struct conn_list {
    struct ev_loop *loop;
    uint64_t idle_timeout_ms;
    uint64_t header_timeout_ms;
    void *owner;
    struct conn *head; /* doubly linked */
    uint64_t n;
    bool stopping;
};

struct conn {
    struct conn_list *list;
    struct conn *prev, *next;
    int fd;
    char peer[64];
    ev_io rio, wio;
    ev_timer timer;
    ev_tstamp accepted;
    ev_tstamp last_activity; /* the last progress (conn_progress): idle_timeout counts from it */
    const struct srv_proto_ops *ops;
    void *proto;        /* the state of ops for this connection */
    struct kt_buf rbuf; /* input the protocol handed back (conn_keep_input) */
    struct kt_buf wbuf; /* bytes waiting for the socket */
    size_t wpos;
    bool reading_paused;
    int depth; /* nesting of this connection's callbacks on the stack */
    bool dead; /* closed while depth > 0: freed when the outermost callback returns */
};

/* ---- The transport seam ----
 * Every byte between a client and the protocols passes through these, plain TCP today,
 * with recv(2)/send(2)/close(2) semantics. TLS (mbedTLS) goes here: a transport table
 * (recv, send, close) in struct conn, chosen per listener at accept, whose handshake runs
 * from the read and write callbacks before the protocol sees a byte; ALPN may then pick
 * the protocol table instead of the HTTP/2 preface. The protocols do not change: they
 * see plaintext only, through ops->feed and conn_write. */

static ssize_t transport_recv(struct conn *c, void *buf, size_t n)
{
    return recv(c->fd, buf, n, 0);
}

static ssize_t transport_send(struct conn *c, const void *p, size_t n)
{
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

static void transport_close(struct conn *c)
{
    close(c->fd);
}

/* ---- connections ---- */

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_close(struct conn *c);

int conn_list_new(struct ev_loop *loop, uint64_t idle_timeout_ms, uint64_t header_timeout_ms,
                  void *owner, struct conn_list **out)
{
    struct conn_list *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return KT_ENOMEM;
    l->loop = loop;
    l->idle_timeout_ms = idle_timeout_ms;
    l->header_timeout_ms = header_timeout_ms;
    l->owner = owner;
    *out = l;
    return 0;
}

void conn_list_free(struct conn_list *l)
{
    if (l == NULL)
        return;
    while (l->head)
        conn_close(l->head);
    free(l);
}

uint64_t conn_list_count(const struct conn_list *l)
{
    return l->n;
}

void conn_list_stop(struct conn_list *l)
{
    l->stopping = true;
    for (struct conn *c = l->head; c; c = c->next)
        c->ops->goaway(c->proto);
}

void conn_progress(struct conn *c)
{
    c->last_activity = ev_now(c->list->loop);
}

static void conn_arm_timer(struct conn *c)
{
    const struct conn_list *l = c->list;
    ev_tstamp now = ev_now(l->loop);
    ev_tstamp due = c->last_activity + (double)l->idle_timeout_ms / 1000.0;
    ev_tstamp started = c->ops->oldest_arriving(c->proto);
    if (started > 0) {
        ev_tstamp hdue = started + (double)l->header_timeout_ms / 1000.0;
        if (hdue < due)
            due = hdue;
    }
    ev_timer_stop(l->loop, &c->timer);
    ev_timer_set(&c->timer, due > now ? due - now : 0.001, 0.);
    ev_timer_start(l->loop, &c->timer);
}

struct conn *conn_new(struct conn_list *l, int fd, const char *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->list = l;
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->next = l->head;
    if (l->head)
        l->head->prev = c;
    l->head = c;
    l->n++;
    ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
    ev_init(&c->timer, conn_timer_cb);
    c->rio.data = c->wio.data = c->timer.data = c;
    return c;
}

void conn_start(struct conn *c, const struct srv_proto_ops *ops, void *p)
{
    conn_set_protocol(c, ops, p);
    ev_io_start(c->list->loop, &c->rio);
    c->accepted = ev_now(c->list->loop);
    conn_progress(c);
    conn_arm_timer(c);
}

void conn_set_protocol(struct conn *c, const struct srv_proto_ops *ops, void *p)
{
    c->ops = ops;
    c->proto = p;
}

int conn_keep_input(struct conn *c, const uint8_t *p, size_t n)
{
    return kt_buf_append(&c->rbuf, p, n) == 0 ? 0 : KT_ENOMEM;
}

void *conn_owner(const struct conn *c)
{
    return c->list->owner;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}

ev_tstamp conn_now(const struct conn *c)
{
    return ev_now(c->list->loop);
}

ev_tstamp conn_accepted(const struct conn *c)
{
    return c->accepted;
}

bool conn_stopping(const struct conn *c)
{
    return c->list->stopping;
}

void conn_respond(struct conn *c, struct srv_req *r)
{
    c->ops->respond(c->proto, r);
}

/* Closes c now, or, inside one of its own callbacks, when the outermost one returns. */
static void conn_close(struct conn *c)
{
    /* Inside one of this connection's callbacks the caller still holds c: free it when
     * the outermost callback returns. */
    if (c->depth > 0) {
        c->dead = true;
        return;
    }
    struct conn_list *l = c->list;
    ev_io_stop(l->loop, &c->rio);
    ev_io_stop(l->loop, &c->wio);
    ev_timer_stop(l->loop, &c->timer);
    c->ops->free(c->proto);
    transport_close(c);
    kt_buf_free(&c->rbuf);
    kt_buf_free(&c->wbuf);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->n--;
    free(c);
}

/* Writes as much of wbuf as the socket takes. Returns -1 if the connection died. */
static int conn_send(struct conn *c)
{
    while (c->wpos < c->wbuf.len) {
        ssize_t n = transport_send(c, c->wbuf.p + c->wpos, c->wbuf.len - c->wpos);
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
        ev_io_stop(c->list->loop, &c->wio);
    } else {
        ev_io_start(c->list->loop, &c->wio);
    }
    return 0;
}

/* Sends what goes out without waiting, then closes: the last words on a connection. */
static void conn_finish(struct conn *c)
{
    c->ops->flush(c->proto);
    conn_send(c);
    conn_close(c);
}

int conn_write(struct conn *c, const void *p, size_t n)
{
    if (kt_buf_append(&c->wbuf, p, n) != 0)
        return KT_ENOMEM;
    return 0;
}

void conn_want_write(struct conn *c)
{
    if (c->dead)
        return;
    if (c->ops->flush(c->proto) != 0) {
        conn_close(c);
        return;
    }
    if (conn_send(c) != 0) {
        conn_close(c);
        return;
    }
    if (c->wbuf.len == 0 && c->ops->done(c->proto))
        conn_close(c);
}

void conn_pause_reading(struct conn *c, bool paused)
{
    if (paused == c->reading_paused)
        return;
    c->reading_paused = paused;
    if (paused)
        ev_io_stop(c->list->loop, &c->rio);
    else
        ev_io_start(c->list->loop, &c->rio);
}

static void conn_feed(struct conn *c, const uint8_t *p, size_t n)
{
    int rc;
    if (c->rbuf.len > 0) {
        /* What the protocol handed back goes first, in one piece with the new bytes. */
        struct kt_buf b = c->rbuf;
        c->rbuf = (struct kt_buf)KT_BUF_INIT;
        if (kt_buf_append(&b, p, n) != 0) {
            kt_buf_free(&b);
            conn_close(c);
            return;
        }
        rc = c->ops->feed(c->proto, b.p, b.len);
        kt_buf_free(&b);
    } else {
        rc = c->ops->feed(c->proto, p, n);
    }
    if (rc < 0) {
        conn_finish(c);
        return;
    }
    conn_want_write(c);
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = w->data;
    uint8_t buf[64 * 1024];
    ssize_t n = transport_recv(c, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n < 0)
        return;
    /* Bytes read are not activity by themselves: a client sending CRLFs or HTTP/2 PINGs
     * forever must not hold its connection past idle_timeout. The protocols call
     * conn_progress when a request is answered. */
    c->depth++;
    conn_feed(c, buf, (size_t)n);
    c->depth--;
    if (c->dead) {
        conn_close(c);
        return;
    }
    if (c->wbuf.len > WBUF_HIGH_WATER)
        conn_pause_reading(c, true);
    conn_arm_timer(c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = w->data;
    c->depth++;
    conn_want_write(c);
    c->depth--;
    if (c->dead) {
        conn_close(c);
        return;
    }
    if (c->wbuf.len < WBUF_HIGH_WATER / 2 && c->ops->may_read(c->proto))
        conn_pause_reading(c, false);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct conn *c = w->data;
    const struct conn_list *l = c->list;
    ev_tstamp now = ev_now(loop);
    c->depth++;
    int rc = c->ops->expire(c->proto, now, l->header_timeout_ms);
    c->depth--;
    if (c->dead) {
        conn_close(c);
        return;
    }
    if (rc < 0) {
        conn_finish(c);
        return;
    }
    /* A connection waiting for Kafka to acknowledge its request is not idle. */
    bool busy = c->ops->busy(c->proto);
    if (!busy && now - c->last_activity >= (double)l->idle_timeout_ms / 1000.0) {
        kt_debug("connection from %s idle for [receiver] idle_timeout; closing", c->peer);
        c->ops->goaway(c->proto);
        conn_finish(c);
        return;
    }
    if (busy)
        conn_progress(c);
    conn_arm_timer(c);
}
