#include "otlp_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kt_log.h"
#include "kt_tls.h"
#include "otlp_client_int.h"

#define READ_CHUNK (64 * 1024)

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

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void out_reset(struct otlp_client *c);
static void connect_start(struct otlp_client *c);
static void start_request(struct otlp_client *c);

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
        if (otlp_client_queued(c) > 0)
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
    if (c->ops->close)
        c->ops->close(c);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    out_reset(c);
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
        otlp_response_fail(&c->r, code, "%s", why);
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
        if (kt_tls_conn_new(c->tls_ctx, c->fd, c->server_name, &c->tls_conn, &err) != 0) {
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

static void out_reset(struct otlp_client *c)
{
    kt_buf_reset(&c->wbuf);
    c->wpos = 0;
    c->n_lent = c->lent_head = c->lent_pos = c->lent_bytes = 0;
}

/* The request ends (its body may be freed) with output still queued: what is left of the
 * borrowed slices is copied, in order, so the connection's framing stays whole. Rare: a
 * backend answering before it read the whole body. */
static int out_own(struct otlp_client *c)
{
    if (c->lent_head == c->n_lent)
        return 0;
    struct kt_buf b = KT_BUF_INIT;
    size_t off = c->wpos;
    int rc = 0;
    for (size_t i = c->lent_head; i < c->n_lent && rc == 0; i++) {
        const struct otlp_client_lent *l = &c->lent[i];
        size_t skip = i == c->lent_head ? c->lent_pos : 0;
        rc = kt_buf_append(&b, c->wbuf.p + off, l->at - off);
        if (rc == 0)
            rc = kt_buf_append(&b, l->s.p + skip, l->s.n - skip);
        off = l->at;
    }
    if (rc == 0)
        rc = kt_buf_append(&b, c->wbuf.p + off, c->wbuf.len - off);
    if (rc != 0) {
        kt_buf_free(&b);
        return KT_ENOMEM;
    }
    kt_buf_free(&c->wbuf);
    c->wbuf = b;
    c->wpos = 0;
    c->n_lent = c->lent_head = c->lent_pos = c->lent_bytes = 0;
    return 0;
}

/* At most this many pieces per sendmsg (wbuf's bytes and slices alternate). */
#define OUT_IOV 64

/* The queued output from where writing stands, as pieces in order; returns how many. */
static int out_iov(const struct otlp_client *c, struct iovec *iov)
{
    int n = 0;
    size_t off = c->wpos;
    size_t i = c->lent_head;
    for (; i < c->n_lent && n + 2 <= OUT_IOV; i++) {
        const struct otlp_client_lent *l = &c->lent[i];
        size_t skip = i == c->lent_head ? c->lent_pos : 0;
        if (l->at > off)
            iov[n++] = (struct iovec){c->wbuf.p + off, l->at - off};
        off = l->at;
        iov[n++] = (struct iovec){(void *)(uintptr_t)(l->s.p + skip), l->s.n - skip};
    }
    if (i == c->n_lent && off < c->wbuf.len && n < OUT_IOV)
        iov[n++] = (struct iovec){c->wbuf.p + off, c->wbuf.len - off};
    return n;
}

/* w bytes of the queued output were written. */
static void out_advance(struct otlp_client *c, size_t w)
{
    while (w > 0 && c->lent_head < c->n_lent) {
        const struct otlp_client_lent *l = &c->lent[c->lent_head];
        size_t k = l->at - c->wpos;
        if (k > 0) {
            k = w < k ? w : k;
            c->wpos += k;
            w -= k;
            continue;
        }
        k = l->s.n - c->lent_pos;
        k = w < k ? w : k;
        c->lent_pos += k;
        c->lent_bytes -= k;
        w -= k;
        if (c->lent_pos == l->s.n) {
            c->lent_head++;
            c->lent_pos = 0;
        }
    }
    c->wpos += w;
}

static int raw_write(struct otlp_client *c, const struct iovec *iov, int n, size_t *w, char *why,
                     size_t wcap)
{
    if (c->tls_conn) {
        /* One piece per call: TLS copies into its records anyway. */
        struct kt_err err = {0};
        int rc = kt_tls_write(c->tls_conn, iov[0].iov_base, iov[0].iov_len, w, &err);
        if (rc != 0 && rc != KT_EAGAIN)
            snprintf(why, wcap, "%s", err.msg);
        return rc;
    }
    struct msghdr mh = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = (size_t)n};
    for (;;) {
        ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
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

/* Writes what is queued. 0 when all is out. */
static int flush_out(struct otlp_client *c, char *why, size_t wcap)
{
    struct iovec iov[OUT_IOV];
    int n;
    while ((n = out_iov(c, iov)) > 0) {
        size_t w = 0;
        int rc = raw_write(c, iov, n, &w, why, wcap);
        if (rc != 0)
            return rc;
        out_advance(c, w);
    }
    out_reset(c);
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
        if (c->ops->fill == NULL)
            return 0;
        struct kt_err err = {0};
        rc = c->ops->fill(c, &err);
        if (rc != 0) {
            conn_lost(c, rc, err.msg);
            return -1;
        }
        if (otlp_client_queued(c) == 0)
            return 0;
    }
}

/* ---- requests ---- */

static void start_request(struct otlp_client *c)
{
    struct kt_err err = {0};
    int rc = c->ops->start(c, &err);
    if (rc != 0) {
        conn_lost(c, rc, err.msg);
        return;
    }
    pump_out(c);
}

/* ---- input ---- */

static void feed(struct otlp_client *c, const uint8_t *p, size_t n)
{
    struct kt_err err = {0};
    int rc = c->ops->feed(c, p, n, &err);
    if (rc != 0)
        conn_lost(c, rc, err.msg);
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
            if (c->ops->eof)
                c->ops->eof(c);
            conn_lost(c, KT_EIO, "connection closed by the backend");
            return;
        }
        feed(c, buf, n);
    }
    /* What was read may call for an answer (HTTP/2: SETTINGS acks, WINDOW_UPDATE, body the
     * window now lets through), or have ended the protocol's session. */
    if (c->ops->fill && c->state == CS_OPEN && pump_out(c) != 0)
        return;
    struct kt_err err = {0};
    int rc;
    if (c->ops->ended && c->state == CS_OPEN && (rc = c->ops->ended(c, &err)) != 0)
        conn_lost(c, rc, err.msg);
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
    ev_timer_stop(c->loop, &c->timeout);
    ev_timer_stop(c->loop, &c->later);
    c->busy = false;
    /* The callback may free the body: what is still queued of it is copied first. */
    if (c->state == CS_OPEN && out_own(c) != 0)
        conn_close(c);
    if (c->r.err == 0 && c->state == CS_OPEN) {
        c->reused = true;
        if (c->r.close_after)
            conn_close(c);
    }
    struct otlp_client_resp resp;
    otlp_response_view(&c->r, &resp);
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
    enum otlp_client_state before = c->state;
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
    otlp_response_fail(&c->r, KT_ETIMEDOUT, "%s", why);
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
    snprintf(c->server_name, sizeof(c->server_name), "%s",
             opts->server_name && opts->server_name[0] ? opts->server_name : opts->host);
    snprintf(c->port, sizeof(c->port), "%s", opts->port);
    snprintf(c->authority, sizeof(c->authority), strchr(c->host, ':') ? "[%s]:%s" : "%s:%s",
             c->host, c->port);
    c->proto = opts->proto;
    c->ops = c->proto == OTLP_CLIENT_H2 ? &otlp_client_h2_ops : &otlp_client_h1_ops;
    c->tls = opts->tls;
    c->timeout_ms = opts->timeout_ms;
    c->fd = -1;
    c->job_fd = -1;
    c->io_fd = -1;
    if (c->tls) {
        struct kt_tls_client_opts to = {0};
        if (opts->tls_opts)
            to = *opts->tls_opts;
        to.alpn = c->proto == OTLP_CLIENT_H2 ? "h2" : "http/1.1";
        int rc = kt_tls_ctx_new(&to, &c->tls_ctx, err);
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
    otlp_response_reset(&c->r);
    if (c->timeout_ms > 0) {
        ev_timer_set(&c->timeout, (double)c->timeout_ms / 1000.0, 0.);
        ev_timer_start(c->loop, &c->timeout);
    }
    if (c->state == CS_OPEN && c->ops->accepts && !c->ops->accepts(c))
        conn_close(c); /* e.g. the backend said GOAWAY: new streams go to a new connection */
    if (c->state == CS_OPEN)
        start_request(c);
    else if (c->state == CS_CLOSED)
        connect_start(c);
    io_update(c);
    /* Whatever happened, the answer is reported from the loop, never from in here. */
    if (c->r.complete || c->r.resend) {
        ev_timer_set(&c->later, 0., 0.);
        ev_timer_start(c->loop, &c->later);
    }
    return 0;
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
    free(c->lent);
    otlp_response_free(&c->r);
    free(c);
}
