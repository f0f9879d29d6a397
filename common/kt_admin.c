#include "kt_admin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>

#include "kt_log.h"
#include "kt_net.h"

#define ROUTES_MAX 16

struct route {
    char *path;
    kt_admin_fn fn;
    void *ctx;
};

struct admin_conn {
    struct kt_admin *a;
    struct admin_conn *prev, *next;
    int fd;
    ev_io io;
    ev_timer timer;
    http_parser parser;
    char url[1024];
    size_t url_len;
    bool url_long, head, done;
    size_t read;
    struct kt_buf out; /* the response */
    size_t sent;
};

struct kt_admin {
    struct ev_loop *loop;
    int fd, port;
    ev_io io;
    struct route routes[ROUTES_MAX];
    size_t n_routes;
    struct admin_conn *conns;
    size_t n_conns;
    struct kt_log_limit refused_log;
};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void conn_free(struct admin_conn *c)
{
    struct kt_admin *a = c->a;
    ev_io_stop(a->loop, &c->io);
    ev_timer_stop(a->loop, &c->timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->n_conns--;
    kt_buf_free(&c->out);
    free(c);
}

/* Writes what is left of the response; the connection closes once all of it is out. */
static void conn_write(struct admin_conn *c)
{
    while (c->sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_stop(c->a->loop, &c->io);
            ev_io_set(&c->io, c->fd, EV_WRITE);
            ev_io_start(c->a->loop, &c->io);
            return;
        }
        if (n <= 0)
            break;
        c->sent += (size_t)n;
    }
    conn_free(c);
}

static void respond(struct admin_conn *c, int status, const char *ctype, const struct kt_buf *body)
{
    c->done = true;
    kt_buf_printf(&c->out,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                  status, reason(status), ctype, body ? body->len : 0,
                  status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (body != NULL && !c->head)
        kt_buf_append(&c->out, body->p, body->len);
    conn_write(c);
}

static void respond_text(struct admin_conn *c, int status, const char *text)
{
    struct kt_buf b = KT_BUF_INIT;
    kt_buf_printf(&b, "%s\n", text);
    respond(c, status, "text/plain; charset=utf-8", &b);
    kt_buf_free(&b);
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct admin_conn *c = p->data;
    if (c->url_len + n >= sizeof(c->url)) {
        c->url_long = true;
        return 0;
    }
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

static void dispatch(struct admin_conn *c)
{
    struct kt_admin *a = c->a;
    if (c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD) {
        respond_text(c, 405, "only GET and HEAD are served here");
        return;
    }
    c->head = c->parser.method == HTTP_HEAD;
    if (c->url_long) {
        respond_text(c, 431, "request target too long");
        return;
    }
    char *q = strchr(c->url, '?');
    const char *query = "";
    if (q != NULL) {
        *q = '\0';
        query = q + 1;
    }
    for (size_t i = 0; i < a->n_routes; i++) {
        if (strcmp(a->routes[i].path, c->url) != 0)
            continue;
        struct kt_admin_req req = {.path = c->url, .query = query};
        struct kt_admin_resp resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
        a->routes[i].fn(a->routes[i].ctx, &req, &resp);
        respond(c, resp.status, resp.content_type, &resp.body);
        kt_buf_free(&resp.body);
        return;
    }
    struct kt_buf b = KT_BUF_INIT;
    kt_buf_printf(&b, "no such page; this endpoint serves");
    for (size_t i = 0; i < a->n_routes; i++)
        kt_buf_printf(&b, " %s", a->routes[i].path);
    kt_buf_printf(&b, "\n");
    respond(c, 404, "text/plain; charset=utf-8", &b);
    kt_buf_free(&b);
}

static int on_headers_complete(http_parser *p)
{
    struct admin_conn *c = p->data;
    http_parser_pause(p, 1);
    c->done = true;
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
};

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct admin_conn *c = w->data;
    if (revents & EV_WRITE) {
        conn_write(c);
        return;
    }
    char buf[2048];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->read += (size_t)n;
    size_t used = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
    if (c->done) {
        ev_io_stop(c->a->loop, &c->io);
        dispatch(c);
        return;
    }
    if (used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        ev_io_stop(c->a->loop, &c->io);
        respond_text(c, 400, http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
        return;
    }
    if (c->read > KT_ADMIN_REQUEST_MAX) {
        ev_io_stop(c->a->loop, &c->io);
        respond_text(c, 431, "request head too large");
    }
}

static void conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_free(w->data);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct kt_admin *a = w->data;
    for (;;) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                kt_log_limited(&a->refused_log, KT_LOG_WARN, "admin: accept: %s", strerror(errno));
            return;
        }
        struct admin_conn *c = a->n_conns < KT_ADMIN_CONNECTIONS ? calloc(1, sizeof(*c)) : NULL;
        if (c == NULL) {
            kt_log_limited(&a->refused_log, KT_LOG_WARN,
                           "admin: %d connections open; closing a new one", KT_ADMIN_CONNECTIONS);
            close(fd);
            continue;
        }
        c->a = a;
        c->fd = fd;
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        ev_io_init(&c->io, conn_cb, fd, EV_READ);
        c->io.data = c;
        ev_io_start(loop, &c->io);
        ev_timer_init(&c->timer, conn_timeout_cb, KT_ADMIN_TIMEOUT_S, 0.);
        c->timer.data = c;
        ev_timer_start(loop, &c->timer);
        c->next = a->conns;
        if (a->conns)
            a->conns->prev = c;
        a->conns = c;
        a->n_conns++;
    }
}

static void healthz_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)ctx;
    (void)req;
    resp->content_type = "application/json";
    kt_buf_printf(&resp->body, "{\"status\":\"ok\"}\n");
}

void kt_admin_readiness(struct kt_admin_resp *resp, const char *why)
{
    resp->content_type = "application/json";
    if (why == NULL) {
        kt_buf_printf(&resp->body, "{\"ready\":true}\n");
        return;
    }
    resp->status = 503;
    json_t *o = json_pack("{s:b,s:s}", "ready", 0, "reason", why);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    kt_buf_printf(&resp->body, "%s\n", text != NULL ? text : "{\"ready\":false}");
    free(text);
    json_decref(o);
}

int kt_admin_new(struct ev_loop *loop, const char *endpoint, const char *what,
                 struct kt_admin **out, struct kt_err *err)
{
    struct kt_admin *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    a->loop = loop;
    a->refused_log = (struct kt_log_limit)KT_LOG_LIMIT(10.0, 1);
    int rc = kt_net_listen(endpoint, 64, &a->fd, &a->port, err);
    if (rc != 0) {
        kt_err_prefix(err, "%s: ", what);
        free(a);
        return rc;
    }
    if (kt_admin_route(a, "/healthz", healthz_page, NULL) != 0) {
        close(a->fd);
        free(a);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    ev_io_init(&a->io, accept_cb, a->fd, EV_READ);
    a->io.data = a;
    ev_io_start(loop, &a->io);
    *out = a;
    return 0;
}

int kt_admin_serve(struct ev_loop *loop, const char *endpoint, const struct kt_admin_pages *pages,
                   void *ctx, struct kt_admin **out, struct kt_err *err)
{
    *out = NULL;
    if (endpoint == NULL || endpoint[0] == '\0')
        return 0;
    struct kt_admin *a = NULL;
    int rc = kt_admin_new(loop, endpoint, "[admin] endpoint", &a, err);
    if (rc != 0)
        return rc;
    if (kt_admin_route(a, "/metrics", pages->metrics, ctx) != 0 ||
        kt_admin_route(a, "/readyz", pages->readyz, ctx) != 0 ||
        kt_admin_route(a, "/status", pages->status, ctx) != 0 ||
        kt_admin_route(a, "/status.json", pages->status_json, ctx) != 0) {
        kt_admin_free(a);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    kt_info("admin: /metrics, /healthz, /readyz and /status on %s (port %d)", endpoint, a->port);
    *out = a;
    return 0;
}

void kt_admin_free(struct kt_admin *a)
{
    if (a == NULL)
        return;
    while (a->conns != NULL)
        conn_free(a->conns);
    ev_io_stop(a->loop, &a->io);
    close(a->fd);
    for (size_t i = 0; i < a->n_routes; i++)
        free(a->routes[i].path);
    free(a);
}

int kt_admin_port(const struct kt_admin *a)
{
    return a->port;
}

int kt_admin_route(struct kt_admin *a, const char *path, kt_admin_fn fn, void *ctx)
{
    if (a->n_routes == ROUTES_MAX)
        return KT_EINVAL;
    char *copy = strdup(path);
    if (copy == NULL)
        return KT_ENOMEM;
    a->routes[a->n_routes++] = (struct route){.path = copy, .fn = fn, .ctx = ctx};
    return 0;
}
