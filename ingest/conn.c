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
#include "kt_idmap.h"
#include "kt_log.h"
#include "kt_tls.h"
#include "protocol.h"

/* Stop reading from a connection whose unsent output grows past this (slow reader). */
#define WBUF_HIGH_WATER (4u << 20)

/* Seconds a connection closed after its last answer (400, 408, 431, GOAWAY) keeps reading
 * and dropping what its client still sends (conn_linger). */
#define LINGER_SECONDS 2.0

/* The connections of one client address. */
struct peer {
    uint8_t addr[16]; /* first: the key kt_idmap reads */
    uint64_t n;
};

struct conn_list {
    struct ev_loop *loop;
    struct conn_timeouts t;
    uint64_t max_per_peer; /* 0 = no bound */
    void *owner;
    /* Doubly linked, in the order of the last progress (conn_progress): the most recent at
     * head, the one idle the longest at tail. */
    struct conn *head, *tail;
    uint64_t n;
    bool stopping;
    struct srv_stats stats;
    /* Every address with a connection, found by kt_idmap; removal moves the last record
     * into the freed place. */
    struct peer *peers;
    size_t n_peers, cap_peers;
    struct kt_idmap peer_map;
};

struct conn {
    struct conn_list *list;
    struct conn *prev, *next;
    int fd;
    char peer[64];
    uint8_t addr[16]; /* the client's address, the key of its struct peer */
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
    int depth;               /* nesting of this connection's callbacks on the stack */
    bool dead;               /* closed while depth > 0: freed when the outermost callback returns */
    bool lingering;          /* done: sending the last bytes, dropping input (conn_linger) */
    struct kt_tls_conn *tls; /* NULL: plaintext */
    bool handshaking;        /* TLS: no byte reaches the protocol before the handshake ends */
};

/* ---- The transport seam ----
 * Every byte between a client and the protocols passes through these, with
 * recv(2)/send(2) semantics: plain TCP, or TLS (kt_tls) on a connection accepted by a TLS
 * listener. A TLS connection's handshake runs from the read and write callbacks
 * (conn_handshake) before the protocol sees a byte; its ALPN choice (conn_alpn) then tells
 * the server the protocol. The protocols do not change: they see plaintext only, through
 * ops->feed and conn_write. */

/* A kt_tls_read/kt_tls_write result as recv/send would give it: n, or -1 with errno EAGAIN
 * (wait) or EIO (the session failed; why goes to the debug log). */
static ssize_t tls_io_result(const struct conn *c, int rc, size_t n, const struct kt_err *err)
{
    if (rc == 0)
        return (ssize_t)n;
    if (rc == KT_EAGAIN) {
        errno = EAGAIN;
    } else {
        kt_debug("connection from %s: %s", c->peer, err->msg);
        errno = EIO;
    }
    return -1;
}

static ssize_t transport_recv(struct conn *c, void *buf, size_t n)
{
    if (c->tls == NULL)
        return recv(c->fd, buf, n, 0);
    struct kt_err err = {0};
    size_t got = 0;
    int rc = kt_tls_read(c->tls, buf, n, &got, &err);
    return tls_io_result(c, rc, got, &err);
}

static ssize_t transport_send(struct conn *c, const void *p, size_t n)
{
    if (c->tls == NULL)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    struct kt_err err = {0};
    size_t put = 0;
    int rc = kt_tls_write(c->tls, p, n, &put, &err);
    return tls_io_result(c, rc, put, &err);
}

/* Nothing more goes to the client: TLS says so (close_notify) before TCP does. */
static void transport_shutdown(struct conn *c)
{
    if (c->tls != NULL && !c->handshaking)
        kt_tls_close_notify(c->tls);
    shutdown(c->fd, SHUT_WR);
}

static void transport_close(struct conn *c)
{
    kt_tls_conn_free(c->tls);
    close(c->fd);
}

/* Decrypted bytes are waiting in the TLS session, where the socket's readiness does not
 * see them: the read callback is run again for them. */
static void transport_feed_pending(struct conn *c)
{
    if (c->tls != NULL && !c->handshaking && !c->reading_paused && kt_tls_pending(c->tls))
        ev_feed_event(c->list->loop, &c->rio, EV_READ);
}

/* ---- connections ---- */

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_close(struct conn *c);

int conn_list_new(struct ev_loop *loop, const struct conn_timeouts *t, uint64_t max_per_peer,
                  void *owner, struct conn_list **out)
{
    struct conn_list *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return KT_ENOMEM;
    l->loop = loop;
    l->t = *t;
    l->max_per_peer = max_per_peer;
    l->owner = owner;
    kt_idmap_init(&l->peer_map);
    *out = l;
    return 0;
}

/* ---- connections per address ---- */

static struct peer *peer_find(const struct conn_list *l, const uint8_t addr[16])
{
    uint32_t i = kt_idmap_find(&l->peer_map, l->peers, sizeof(*l->peers), addr);
    return i == KT_IDMAP_NONE ? NULL : &l->peers[i];
}

/* Counts one more connection of addr. Returns 0 or KT_ENOMEM. */
static int peer_add(struct conn_list *l, const uint8_t addr[16])
{
    struct peer *p = peer_find(l, addr);
    if (p != NULL) {
        p->n++;
        return 0;
    }
    if (l->n_peers >= KT_IDMAP_NONE || KT_GROW(l->peers, l->n_peers + 1, l->cap_peers) != 0 ||
        kt_idmap_reserve(&l->peer_map, l->peers, sizeof(*l->peers), 1) != 0)
        return KT_ENOMEM;
    p = &l->peers[l->n_peers];
    memcpy(p->addr, addr, 16);
    p->n = 1;
    kt_idmap_put(&l->peer_map, l->peers, sizeof(*l->peers), (uint32_t)l->n_peers);
    l->n_peers++;
    return 0;
}

static void peer_remove(struct conn_list *l, const uint8_t addr[16])
{
    uint32_t i = kt_idmap_find(&l->peer_map, l->peers, sizeof(*l->peers), addr);
    if (i == KT_IDMAP_NONE || --l->peers[i].n > 0)
        return;
    kt_idmap_remove(&l->peer_map, l->peers, sizeof(*l->peers), i);
    uint32_t last = (uint32_t)(l->n_peers - 1);
    if (i != last) {
        kt_idmap_remove(&l->peer_map, l->peers, sizeof(*l->peers), last);
        l->peers[i] = l->peers[last];
        kt_idmap_put(&l->peer_map, l->peers, sizeof(*l->peers), i);
    }
    l->n_peers--;
}

bool conn_list_peer_full(const struct conn_list *l, const uint8_t addr[16])
{
    const struct peer *p = peer_find(l, addr);
    return l->max_per_peer > 0 && p != NULL && p->n >= l->max_per_peer;
}

struct srv_stats *conn_list_stats(struct conn_list *l)
{
    return &l->stats;
}

struct srv_stats *conn_stats(struct conn *c)
{
    return &c->list->stats;
}

void conn_list_free(struct conn_list *l)
{
    if (l == NULL)
        return;
    while (l->head)
        conn_close(l->head);
    kt_idmap_free(&l->peer_map);
    free(l->peers);
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

static void list_unlink(struct conn_list *l, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_push_head(struct conn_list *l, struct conn *c)
{
    c->next = l->head;
    if (l->head)
        l->head->prev = c;
    else
        l->tail = c;
    l->head = c;
}

void conn_progress(struct conn *c)
{
    struct conn_list *l = c->list;
    c->last_activity = ev_now(l->loop);
    if (l->head != c) {
        list_unlink(l, c);
        list_push_head(l, c);
    }
}

static void conn_arm_timer(struct conn *c)
{
    const struct conn_list *l = c->list;
    ev_tstamp now = ev_now(l->loop);
    ev_tstamp due = c->last_activity + l->t.idle;
    ev_tstamp arriving = c->ops->deadline(c->proto, &l->t);
    if (arriving > 0 && arriving < due)
        due = arriving;
    ev_timer_stop(l->loop, &c->timer);
    ev_timer_set(&c->timer, due > now ? due - now : 0.001, 0.);
    ev_timer_start(l->loop, &c->timer);
}

struct conn *conn_new(struct conn_list *l, int fd, const char *peer, const uint8_t addr[16],
                      struct kt_tls_ctx *tls)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct kt_err err = {0};
    if (c != NULL && tls != NULL) {
        if (kt_tls_conn_new(tls, fd, NULL, &c->tls, &err) != 0) {
            kt_warn("connection from %s: %s", peer, err.msg);
            free(c);
            c = NULL;
        } else {
            c->handshaking = true;
        }
    }
    if (c == NULL || peer_add(l, addr) != 0) {
        if (c != NULL)
            kt_tls_conn_free(c->tls);
        free(c);
        close(fd);
        return NULL;
    }
    c->list = l;
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    memcpy(c->addr, addr, 16);
    list_push_head(l, c);
    l->n++;
    l->stats.connections_accepted++;
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

const char *conn_alpn(const struct conn *c)
{
    return c->tls != NULL ? kt_tls_alpn(c->tls) : NULL;
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
    list_unlink(l, c);
    peer_remove(l, c->addr);
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

/* Sends what goes out without waiting, then closes at once: for a connection closed to make
 * room, whose client is silent. */
static void conn_finish_now(struct conn *c)
{
    c->ops->flush(c->proto);
    conn_send(c);
    conn_close(c);
}

/* The last words on a connection: sends what is queued, then closes. Closing a socket with
 * unread input makes the kernel answer with a reset, which can destroy
 * the last answer (a 408, a GOAWAY) before the client reads it (RFC 9112 section 9.6): a
 * client flooding frames or trickling a request would never learn why it was cut off. So
 * the last bytes are sent, the write side shut once they are, and what the client still
 * sends is read and dropped until it closes too, or LINGER_SECONDS pass. The protocol is
 * fed nothing more. */
static void conn_finish(struct conn *c)
{
    struct conn_list *l = c->list;
    if (c->lingering)
        return;
    /* Nothing was said yet, and TLS has no way to say it before its handshake. */
    if (c->handshaking) {
        conn_close(c);
        return;
    }
    c->ops->flush(c->proto);
    if (conn_send(c) != 0) {
        conn_close(c);
        return;
    }
    /* The protocol's last words are out (or queued): no more through conn_want_write. */
    c->lingering = true;
    if (c->wbuf.len == 0)
        transport_shutdown(c);
    c->reading_paused = false;
    ev_io_start(l->loop, &c->rio);
    ev_timer_stop(l->loop, &c->timer);
    ev_timer_set(&c->timer, LINGER_SECONDS, 0.);
    ev_timer_start(l->loop, &c->timer);
}

/* A lingering connection (conn_finish) is readable: drop what came, close at the client's
 * end. */
static void linger_read(struct conn *c)
{
    uint8_t buf[16 * 1024];
    ssize_t n = transport_recv(c, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
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
    if (c->dead || c->lingering)
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
    if (paused) {
        ev_io_stop(c->list->loop, &c->rio);
    } else {
        ev_io_start(c->list->loop, &c->rio);
        transport_feed_pending(c);
    }
}

/* Advances c's TLS handshake, waiting for the socket as it asks. Returns 0 once complete
 * (reading may begin), 1 while it goes on, -1 when it failed (c is closed). */
static int conn_handshake(struct conn *c)
{
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 1);
    struct ev_loop *loop = c->list->loop;
    struct kt_err err = {0};
    bool want_write = false;
    int rc = kt_tls_handshake(c->tls, &want_write, &err);
    if (rc == KT_EAGAIN) {
        if (want_write)
            ev_io_start(loop, &c->wio);
        else
            ev_io_stop(loop, &c->wio);
        return 1;
    }
    if (rc != 0) {
        kt_log_limited(&log_limit, KT_LOG_INFO, "connection from %s: %s; closing", c->peer,
                       err.msg);
        c->list->stats.tls_handshake_failures++;
        conn_close(c);
        return -1;
    }
    c->handshaking = false;
    ev_io_stop(loop, &c->wio);
    return 0;
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
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if (c->handshaking && conn_handshake(c) != 0)
        return;
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
    if (c->lingering)
        return;
    if (c->wbuf.len > WBUF_HIGH_WATER)
        conn_pause_reading(c, true);
    transport_feed_pending(c);
    conn_arm_timer(c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = w->data;
    if (c->lingering) {
        /* The last bytes going out; the write side is shut once they are. */
        if (conn_send(c) != 0)
            conn_close(c);
        else if (c->wbuf.len == 0)
            transport_shutdown(c);
        return;
    }
    if (c->handshaking) {
        /* Bytes of the client's may be waiting already, read by mbedTLS or not. */
        if (conn_handshake(c) == 0)
            ev_feed_event(loop, &c->rio, EV_READ);
        return;
    }
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
    struct conn_list *l = c->list;
    ev_tstamp now = ev_now(loop);
    if (c->lingering) {
        conn_close(c);
        return;
    }
    c->depth++;
    int rc = c->ops->expire(c->proto, now, &l->t);
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
    if (!busy && now - c->last_activity >= l->t.idle) {
        kt_debug("connection from %s idle for [receiver] idle_timeout; closing", c->peer);
        l->stats.idle_timeouts++;
        c->ops->goaway(c->proto);
        conn_finish(c);
        return;
    }
    if (busy)
        conn_progress(c);
    conn_arm_timer(c);
}

bool conn_list_evict_idlest(struct conn_list *l)
{
    /* The tail is the connection whose last progress is the oldest. A busy one passed on the
     * way moves to the head, as its timer would move it (conn_timer_cb), so that the next
     * walk does not pass it again; the walk stops after as many steps as there are
     * connections, before it would meet those moved. */
    struct conn *prev;
    uint64_t steps = 0;
    for (struct conn *c = l->tail; c && steps < l->n; c = prev, steps++) {
        prev = c->prev;
        if (c->dead)
            continue;
        if (c->lingering) {
            /* Closing already: now. */
            conn_close(c);
            return true;
        }
        if (c->ops->busy(c->proto)) {
            conn_progress(c);
            continue;
        }
        kt_debug("connection from %s: idle the longest at [receiver] max_connections; closing "
                 "it for a new one",
                 c->peer);
        l->stats.evicted_idle++;
        c->ops->goaway(c->proto);
        conn_finish_now(c);
        return true;
    }
    return false;
}
