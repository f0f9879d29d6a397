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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "kt_file_stamp.h"
#include "kt_log.h"
#include "kt_net.h"
#include "kt_tls.h"
#include "protocol.h"

/* The HTTP/2 client connection preface (RFC 9113 section 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

/* Connections taken per readiness of a listener, so that a burst of them cannot hold the
 * loop away from the connections already open. */
#define ACCEPT_BATCH 64

/* Seconds a listener rests after the process ran out of descriptors (or memory) on accept:
 * the pending connection stays ready, so watching the listener at once would spin. */
#define ACCEPT_BACKOFF 0.1

/* Descriptors the process needs besides its connections: stdio, the listeners, the spare,
 * libev's, and librdkafka's (sockets and wake-up descriptors per broker and queue). */
#define NOFILE_MARGIN 64

struct srv_listener {
    struct server *srv;
    int fd;
    int port;
    char name[128];
    ev_io io;
    ev_timer backoff; /* ACCEPT_BACKOFF: restarts io */
    bool tls;         /* its connections speak TLS with the server's current context */
};

#define TLS_FILES 3 /* cert_file, key_file, client_ca_file */

struct server {
    const struct ingest_conf *conf;
    struct ev_loop *loop;
    struct srv_listener *listeners;
    int n_listeners;
    struct srv_reqs *reqs;
    struct conn_list *conns;
    /* /dev/null, held so that at EMFILE it can be given up for a moment to accept a pending
     * connection and close it: the client is refused instead of left waiting. -1 if lost. */
    int spare_fd;
    /* [receiver.tls]: the context new connections get (each holds a reference, so the
     * previous one lives on with its connections after a reload), NULL without TLS. */
    struct kt_tls_ctx *tls;
    ev_timer tls_check;                         /* reload_check_interval */
    struct kt_file_stamp tls_stamps[TLS_FILES]; /* as last (re)loaded */
    /* One line per refused connection would let a flood of them flood the log too. */
    struct kt_log_limit refused_log, peer_log, evict_log, starved_log, accept_log;
};

/* ---- protocol detection ---- */

/* Decides HTTP/1.1 or HTTP/2 from ALPN or the first bytes, and switches the connection to that
 * protocol's table for good: a client that starts with the HTTP/2 preface is speaking h2c
 * with prior knowledge (as every gRPC client does). */
static int sniff_feed(void *p, const uint8_t *b, size_t n)
{
    struct conn *c = p;
    const struct srv_proto_ops *ops = &h1_ops;
    size_t m = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
    /* Over TLS, ALPN settled it (RFC 9113 section 3.2: "h2" means the preface follows, and
     * nghttp2 checks that it does); a TLS client that offered no ALPN is sniffed as in
     * plaintext. */
    const char *alpn = conn_alpn(c);
    if (alpn != NULL) {
        ops = strcmp(alpn, "h2") == 0 ? &h2_ops : &h1_ops;
    } else if (memcmp(b, h2_preface, m) == 0) {
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

/* A client's first request must arrive within header_timeout of the accept, whatever
 * bytes come before it: a partial HTTP/2 preface does not hold the connection. */
static ev_tstamp sniff_deadline(void *p, const struct conn_timeouts *t)
{
    return conn_accepted(p) + t->header;
}

static int sniff_expire(void *p, ev_tstamp now, const struct conn_timeouts *t)
{
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 1);
    struct conn *c = p;
    if (now < sniff_deadline(p, t))
        return 0;
    kt_log_limited(&log_limit, KT_LOG_INFO,
                   "connection from %s: no request within [receiver] header_timeout (%gs) of "
                   "connecting; closing",
                   conn_peer(c), t->header);
    conn_stats(c)->header_timeouts++;
    return -1;
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
    .deadline = sniff_deadline,
    .expire = sniff_expire,
    .free = sniff_free,
};

/* ---- listeners ---- */

static int listener_open(struct server *s, struct srv_listener *l, const char *ep,
                         struct kt_err *err)
{
    int rc = kt_net_listen(ep, 1024, &l->fd, &l->port, err);
    if (rc != 0)
        return rc;
    l->srv = s;
    snprintf(l->name, sizeof(l->name), "%s", ep);
    return 0;
}

/* Makes room for max_connections descriptors, raising the soft RLIMIT_NOFILE up to the
 * hard one. A limit still too low is warned about, not fatal: the default max_connections
 * (10000) is above the hard limit of many systems (4096, even 1024), and running out is
 * handled (accept_starved): connections beyond it are refused like those beyond
 * max_connections, while those open go on. */
static void fit_nofile(uint64_t max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    rlim_t want = max_connections < (uint64_t)INT32_MAX ? (rlim_t)max_connections + NOFILE_MARGIN
                                                        : (rlim_t)INT32_MAX;
    if (rl.rlim_cur >= want)
        return;
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        kt_info("raised the open files limit from %llu to %llu for [receiver] max_connections",
                (unsigned long long)rl.rlim_cur, (unsigned long long)raised.rlim_cur);
        rl = raised;
    }
    if (rl.rlim_cur >= want)
        return;
    kt_warn("the open files limit is %llu (hard limit %llu), below [receiver] max_connections "
            "(%llu) + %d for listeners and Kafka: new connections will be refused while the "
            "process has no descriptor left; raise the limit (ulimit -n, systemd LimitNOFILE=) "
            "or lower max_connections",
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
            (unsigned long long)max_connections, NOFILE_MARGIN);
}

/* Out of descriptors or memory on accept (EMFILE, ENFILE, ENOBUFS, ENOMEM): the pending
 * connection stays ready on the listener. For descriptors, the spare is given up for a
 * moment to accept it and close it at once, so that its client is refused rather than
 * left waiting. Returns 0 when a connection was refused so, -1 when none could be. */
static int accept_refuse_pending(struct srv_listener *l, int err)
{
    struct server *s = l->srv;
    if ((err != EMFILE && err != ENFILE) || s->spare_fd < 0)
        return -1;
    close(s->spare_fd);
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        conn_list_stats(s->conns)->refused_no_descriptor++;
    }
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? 0 : -1;
}

/* Stops watching l for ACCEPT_BACKOFF: what is still pending waits in the backlog. */
static void accept_starved(struct srv_listener *l, int err)
{
    struct server *s = l->srv;
    kt_log_limited(&s->starved_log, KT_LOG_WARN,
                   "accept on %s: %s with %llu connections open; refusing new connections "
                   "until there is room: %s",
                   l->name, strerror(err), (unsigned long long)conn_list_count(s->conns),
                   err == EMFILE || err == ENFILE
                       ? "raise the open files limit (ulimit -n, systemd LimitNOFILE=) or "
                         "lower [receiver] max_connections"
                       : "the system is short of memory");
    ev_io_stop(s->loop, &l->io);
    ev_timer_set(&l->backoff, ACCEPT_BACKOFF, 0.);
    ev_timer_start(s->loop, &l->backoff);
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct srv_listener *l = w->data;
    struct server *s = l->srv;
    /* Another thread (librdkafka's) may have taken the spare's number while it was given up. */
    if (s->spare_fd < 0)
        s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (l->fd >= 0)
        ev_io_start(loop, &l->io);
}

/* The client's address as 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d), so that one
 * table counts the connections of both families. */
static void peer_addr(const struct sockaddr_storage *ss, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else if (ss->ss_family == AF_INET) {
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

/* Whether the connection just accepted from ss (addr: peer_addr's) may stay: its address is under
 * max_connections_per_peer, and there is room under max_connections, if need be by closing
 * the connection idle the longest (so that a flood of idle connections cannot lock every
 * other client out). Returns 0, or -1 when it is to be closed (counted and logged). */
static int admit(struct srv_listener *l, const struct sockaddr_storage *ss, const uint8_t addr[16])
{
    struct server *s = l->srv;
    struct srv_stats *st = conn_list_stats(s->conns);
    if (conn_list_peer_full(s->conns, addr)) {
        char host[48] = "?";
        getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), NULL, 0,
                    NI_NUMERICHOST);
        kt_log_limited(&s->peer_log, KT_LOG_WARN,
                       "accept on %s: %s has [receiver] max_connections_per_peer (%llu) "
                       "connections open; closing the new one",
                       l->name, host,
                       (unsigned long long)s->conf->receiver.max_connections_per_peer);
        st->refused_per_peer++;
        return -1;
    }
    uint64_t n_conns = conn_list_count(s->conns);
    if (n_conns < s->conf->receiver.max_connections)
        return 0;
    if (conn_list_evict_idlest(s->conns)) {
        kt_log_limited(&s->evict_log, KT_LOG_WARN,
                       "accept on %s: %llu connections open, at [receiver] max_connections; "
                       "closed the one idle the longest for the new one",
                       l->name, (unsigned long long)n_conns);
        return 0;
    }
    kt_log_limited(&s->refused_log, KT_LOG_WARN,
                   "accept on %s: %llu connections open, at [receiver] max_connections, none "
                   "idle; closing the new one",
                   l->name, (unsigned long long)n_conns);
    st->refused_max_connections++;
    return -1;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct srv_listener *l = w->data;
    struct server *s = l->srv;
    int starved = 0; /* the errno that ran out, if one did */
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                starved = e;
                if (accept_refuse_pending(l, e) == 0)
                    continue;
            } else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR) {
                kt_log_limited(&s->accept_log, KT_LOG_WARN, "accept on %s: %s", l->name,
                               strerror(e));
            }
            break;
        }
        uint8_t addr[16];
        peer_addr(&ss, addr);
        if (admit(l, &ss, addr) != 0) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char host[48] = "?", port[8] = "?", peer[64];
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(peer, sizeof(peer), "%s:%s", host, port);
        struct conn *c = conn_new(s->conns, fd, peer, addr, l->tls ? s->tls : NULL);
        if (c == NULL)
            continue;
        conn_start(c, &sniff_ops, c);
    }
    if (starved)
        accept_starved(l, starved);
}

/* ---- [receiver.tls] ---- */

static bool tls_enabled(const struct ingest_conf *conf)
{
    return (conf->receiver_tls.cert_file != NULL && conf->receiver_tls.cert_file[0]) ||
           (conf->receiver_tls.key_file != NULL && conf->receiver_tls.key_file[0]);
}

static int tls_ctx_build(const struct ingest_conf *conf, struct kt_tls_ctx **out,
                         struct kt_err *err)
{
    const struct kt_tls_server_opts o = {
        .cert_file = conf->receiver_tls.cert_file,
        .key_file = conf->receiver_tls.key_file,
        .client_ca_file = conf->receiver_tls.client_ca_file,
        .min_version = conf->receiver_tls.min_version == 1 ? "1.3" : "1.2",
        .cipher_suites = (const char *const *)conf->receiver_tls.cipher_suites.v,
        .n_cipher_suites = conf->receiver_tls.cipher_suites.n,
        .section = "[receiver.tls]",
    };
    return kt_tls_server_ctx_new(&o, out, err);
}

int server_check_tls(const struct ingest_conf *conf, struct kt_err *err)
{
    if (!tls_enabled(conf))
        return conf->receiver_tls.client_ca_file != NULL && conf->receiver_tls.client_ca_file[0]
                   ? kt_err_set(err, KT_EINVAL,
                                "[receiver.tls] client_ca_file is set without cert_file and "
                                "key_file (mTLS needs TLS)")
                   : 0;
    struct kt_tls_ctx *ctx = NULL;
    int rc = tls_ctx_build(conf, &ctx, err);
    kt_tls_ctx_free(ctx);
    return rc;
}

/* Stamps the files as they are now; true if any differs from the stamp before. */
static bool tls_restamp(struct server *s)
{
    const char *paths[TLS_FILES] = {s->conf->receiver_tls.cert_file, s->conf->receiver_tls.key_file,
                                    s->conf->receiver_tls.client_ca_file};
    bool changed = false;
    for (int i = 0; i < TLS_FILES; i++)
        changed |= kt_file_stamp_update(&s->tls_stamps[i], paths[i]);
    return changed;
}

/* Builds a context from the files as they are now and makes it the one new connections
 * get; a bad one is logged and the previous one stays. */
static void tls_reload(struct server *s, const char *why)
{
    struct kt_err err = {0};
    struct kt_tls_ctx *fresh = NULL;
    if (tls_ctx_build(s->conf, &fresh, &err) != 0) {
        kt_warn("%s: reloading [receiver.tls] failed, new connections keep the previous "
                "certificate: %s",
                why, err.msg);
        return;
    }
    kt_tls_ctx_free(s->tls);
    s->tls = fresh;
    kt_info("%s: reloaded [receiver.tls] (cert_file '%s'); new connections use it", why,
            s->conf->receiver_tls.cert_file);
}

void server_reload_tls(struct server *s, const char *why)
{
    if (s->tls == NULL)
        return;
    tls_restamp(s);
    tls_reload(s, why);
}

/* A file that changed is reloaded once per change: a failure is not retried until one of
 * them changes again (a certificate and its key replaced one after the other fail once,
 * in between, then load). */
static void tls_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct server *s = w->data;
    if (tls_restamp(s))
        tls_reload(s, "[receiver.tls] files changed");
}

int server_new(const struct ingest_conf *conf, struct ev_loop *loop, const struct srv_service *svc,
               struct server **out, struct kt_err *err)
{
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    s->conf = conf;
    s->loop = loop;
    s->refused_log = s->peer_log = s->evict_log = s->starved_log = s->accept_log =
        (struct kt_log_limit)KT_LOG_LIMIT(1.0, 1);
    const struct srv_req_limits limits = {
        .max_request_bytes = conf->receiver.max_request_bytes,
        .max_header_bytes = conf->receiver.max_header_bytes,
        .max_concurrent_streams = conf->receiver.max_concurrent_streams,
        .body_budget = ingest_limit_body_bytes(conf),
        .meta_keys = &conf->kafka.include_metadata_keys,
        .meta_topic_key = ingest_conf_is_set(conf->kafka.topic_from_metadata_key)
                              ? conf->kafka.topic_from_metadata_key
                              : NULL,
    };
    const struct conn_timeouts timeouts = {
        .idle = (double)conf->receiver.idle_timeout_ms / 1000.0,
        .header = (double)conf->receiver.header_timeout_ms / 1000.0,
        .body = (double)conf->receiver.body_timeout_ms / 1000.0,
    };
    fit_nofile(conf->receiver.max_connections);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->listeners = calloc(2, sizeof(*s->listeners));
    if (s->listeners == NULL || srv_reqs_new(loop, &limits, svc, &s->reqs) != 0 ||
        conn_list_new(loop, &timeouts, conf->receiver.max_connections_per_peer, s, &s->conns) !=
            0) {
        server_free(s);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    if (tls_enabled(conf)) {
        int rc = tls_ctx_build(conf, &s->tls, err);
        if (rc != 0) {
            server_free(s);
            return rc;
        }
        tls_restamp(s);
        ev_timer_init(&s->tls_check, tls_check_cb,
                      (double)conf->receiver_tls.reload_check_ms / 1000.0,
                      (double)conf->receiver_tls.reload_check_ms / 1000.0);
        s->tls_check.data = s;
        ev_timer_start(loop, &s->tls_check);
    }
    const char *eps[] = {conf->receiver.grpc_endpoint, conf->receiver.http_endpoint};
    const char *keys[] = {"grpc_endpoint", "http_endpoint"};
    const bool tls_on[] = {conf->receiver_tls.endpoints != INGEST_TLS_HTTP,
                           conf->receiver_tls.endpoints != INGEST_TLS_GRPC};
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
        l->tls = s->tls != NULL && tls_on[i];
        ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
        ev_init(&l->backoff, backoff_cb);
        l->io.data = l->backoff.data = l;
        ev_io_start(loop, &l->io);
        s->n_listeners++;
        kt_info("listening on %s (port %d) for OTLP/gRPC and OTLP/HTTP%s", l->name, l->port,
                l->tls ? " over TLS" : "");
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
            ev_timer_stop(s->loop, &l->backoff);
            close(l->fd);
            l->fd = -1;
        }
    }
    /* Tell HTTP/2 clients to go elsewhere for new streams; idle HTTP/1.1 connections
     * close after their current request. */
    conn_list_stop(s->conns);
}

void server_get_stats(const struct server *s, struct srv_stats *out)
{
    *out = *conn_list_stats(s->conns);
    out->connections_open = conn_list_count(s->conns);
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
    ev_timer_stop(s->loop, &s->tls_check);
    kt_tls_ctx_free(s->tls);
    for (int i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].fd >= 0) {
            ev_io_stop(s->loop, &s->listeners[i].io);
            ev_timer_stop(s->loop, &s->listeners[i].backoff);
            close(s->listeners[i].fd);
        }
    }
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free(s->listeners);
    srv_reqs_free(s->reqs);
    free(s);
}
