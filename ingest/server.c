/* The listeners (server.h): accepting connections, telling each one's protocol from its
 * first bytes and handing it to that protocol's table, and shutdown. What happens on a
 * connection after that is conn.c's and the protocol's; to a request, request.c's. */
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

#include "conn.h"
#include "kt_log.h"
#include "protocol.h"

/* The HTTP/2 client connection preface (RFC 9113 section 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

/* Connections taken per readiness of a listener, so that a burst of them cannot hold the
 * loop away from the connections already open. */
#define ACCEPT_BATCH 64

struct srv_listener {
    struct server *srv;
    int fd;
    int port;
    char name[128];
    ev_io io;
};

struct server {
    const struct ingest_conf *conf;
    struct ev_loop *loop;
    struct srv_listener *listeners;
    int n_listeners;
    struct srv_reqs *reqs;
    struct conn_list *conns;
};

/* ---- protocol detection ---- */

/* Decides HTTP/1.1 or HTTP/2 from the first bytes, and switches the connection to that
 * protocol's table for good: a client that starts with the HTTP/2 preface is speaking h2c
 * with prior knowledge (as every gRPC client does). */
static int sniff_feed(void *p, const uint8_t *b, size_t n)
{
    struct conn *c = p;
    const struct srv_proto_ops *ops = &h1_ops;
    size_t m = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
    if (memcmp(b, h2_preface, m) == 0) {
        if (m < H2_PREFACE_LEN)
            return conn_keep_input(c, b, n) == 0 ? 0 : -1; /* need more bytes to tell */
        ops = &h2_ops;
    }
    const struct server *s = conn_owner(c);
    void *state = ops->init(c, s->reqs);
    if (state == NULL)
        return -1;
    conn_set_protocol(c, ops, state);
    return ops->feed(state, b, n);
}

/* Nothing is held back, busy or done before the protocol is known. */
static int sniff_flush(void *p)
{
    (void)p;
    return 0;
}

static void sniff_goaway(void *p)
{
    (void)p;
}

static bool sniff_false(void *p)
{
    (void)p;
    return false;
}

static bool sniff_may_read(void *p)
{
    (void)p;
    return true;
}

/* No request has started: only idle_timeout applies. */
static ev_tstamp sniff_oldest_arriving(void *p)
{
    (void)p;
    return 0;
}

static int sniff_expire(void *p, ev_tstamp now, uint64_t header_timeout_ms)
{
    (void)p;
    (void)now;
    (void)header_timeout_ms;
    return 0;
}

static void sniff_free(void *p)
{
    (void)p;
}

/* Every connection's first table; its state is the connection itself. No request exists
 * before the protocol is known, so nothing is ever answered through it. */
static const struct srv_proto_ops sniff_ops = {
    .init = NULL,
    .feed = sniff_feed,
    .respond = NULL,
    .flush = sniff_flush,
    .goaway = sniff_goaway,
    .done = sniff_false,
    .busy = sniff_false,
    .may_read = sniff_may_read,
    .oldest_arriving = sniff_oldest_arriving,
    .expire = sniff_expire,
    .free = sniff_free,
};

/* ---- listeners ---- */

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

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct srv_listener *l = w->data;
    struct server *s = l->srv;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                kt_warn("accept on %s: %s", l->name, strerror(errno));
            return;
        }
        uint64_t n_conns = conn_list_count(s->conns);
        if (n_conns >= s->conf->receiver.max_connections) {
            kt_warn("accept on %s: %llu connections open, at [receiver] max_connections; "
                    "closing the new one",
                    l->name, (unsigned long long)n_conns);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char host[48] = "?", port[8] = "?", peer[64];
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(peer, sizeof(peer), "%s:%s", host, port);
        struct conn *c = conn_new(s->conns, fd, peer);
        if (c == NULL)
            continue;
        conn_start(c, &sniff_ops, c);
    }
}

int server_new(const struct ingest_conf *conf, struct ev_loop *loop, const struct srv_service *svc,
               struct server **out, struct kt_err *err)
{
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    s->conf = conf;
    s->loop = loop;
    s->listeners = calloc(2, sizeof(*s->listeners));
    if (s->listeners == NULL ||
        srv_reqs_new(loop, conf->receiver.max_request_bytes, svc, &s->reqs) != 0 ||
        conn_list_new(loop, conf->receiver.idle_timeout_ms, conf->receiver.header_timeout_ms, s,
                      &s->conns) != 0) {
        server_free(s);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    const char *eps[] = {conf->receiver.grpc_endpoint, conf->receiver.http_endpoint};
    const char *keys[] = {"grpc_endpoint", "http_endpoint"};
    for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
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
    conn_list_stop(s->conns);
}

bool server_idle(const struct server *s)
{
    return srv_reqs_pending(s->reqs) == 0;
}

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    conn_list_free(s->conns);
    for (int i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].fd >= 0) {
            ev_io_stop(s->loop, &s->listeners[i].io);
            close(s->listeners[i].fd);
        }
    }
    free(s->listeners);
    srv_reqs_free(s->reqs);
    free(s);
}
