/* HTTP/1.1 on a connection, parsed with http-parser. Requests may be pipelined: they are
 * queued in arrival order and answered in that order, whatever order Kafka acknowledges
 * them in. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_log.h"
#include "server_int.h"

/* Pipelined requests in flight on one connection before reading pauses. */
#define H1_MAX_INFLIGHT 8

static struct srv_conn *conn_of(http_parser *p)
{
    return p->data;
}

static int on_message_begin(http_parser *p)
{
    struct srv_conn *c = conn_of(p);
    struct srv_req *r = srv_req_new(c);
    if (r == NULL)
        return -1;
    c->h1_cur = r;
    c->h1_field_len = 0;
    c->h1_in_field = false;
    c->req_started = ev_now(c->srv->loop);
    if (c->h1_tail)
        c->h1_tail->next = r;
    else
        c->h1_head = r;
    c->h1_tail = r;
    c->h1_inflight++;
    return 0;
}

static void append_capped(char *dst, size_t cap, const char *at, size_t n)
{
    size_t have = strlen(dst);
    if (have + 1 >= cap)
        return;
    if (n > cap - 1 - have)
        n = cap - 1 - have;
    memcpy(dst + have, at, n);
    dst[have + n] = '\0';
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct srv_req *r = conn_of(p)->h1_cur;
    if (r == NULL)
        return 0;
    append_capped(r->path, sizeof(r->path), at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct srv_conn *c = conn_of(p);
    if (!c->h1_in_field) {
        c->h1_field_len = 0;
        c->h1_in_field = true;
    }
    size_t room = sizeof(c->h1_field) - 1 - c->h1_field_len;
    if (n > room)
        n = room;
    memcpy(c->h1_field + c->h1_field_len, at, n);
    c->h1_field_len += n;
    c->h1_field[c->h1_field_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct srv_conn *c = conn_of(p);
    struct srv_req *r = c->h1_cur;
    c->h1_in_field = false;
    if (r == NULL)
        return 0;
    const char *f = c->h1_field;
    if (strcasecmp(f, "content-type") == 0)
        append_capped(r->content_type, sizeof(r->content_type), at, n);
    else if (strcasecmp(f, "content-encoding") == 0)
        append_capped(r->content_encoding, sizeof(r->content_encoding), at, n);
    else if (strcasecmp(f, "grpc-encoding") == 0)
        append_capped(r->grpc_encoding, sizeof(r->grpc_encoding), at, n);
    else if (strcasecmp(f, "expect") == 0 && n == 12 && strncasecmp(at, "100-continue", 12) == 0)
        r->expect_continue = true;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct srv_conn *c = conn_of(p);
    struct srv_req *r = c->h1_cur;
    snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)p->method));
    r->headers_done = true;
    /* http-parser leaves content_length at ULLONG_MAX when the header is absent. */
    int64_t clen = p->content_length == ULLONG_MAX ? -1 : (int64_t)p->content_length;
    otlp_service_headers(r, clen);
    if (r->responded) {
        /* Refused from the headers alone (size, route, media type): answer now without
         * reading the body, and close since the body would have to be skipped. */
        r->complete = true;
        c->closing = true;
        c->h1_cur = NULL;
        c->req_started = 0;
        return 0;
    }
    if (clen > 0)
        srv_req_expect_body(r, (uint64_t)clen);
    if (r->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        srv_conn_write(c, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct srv_conn *c = conn_of(p);
    struct srv_req *r = c->h1_cur;
    if (r == NULL || r->early_status != 0)
        return 0;
    if (r->body.len + n > c->srv->conf->receiver.max_request_bytes) {
        /* Chunked bodies have no Content-Length to refuse up front. */
        r->early_status = 413;
        srv_req_release_body(r);
        return 0;
    }
    srv_req_expect_body(r, n);
    if (kt_buf_append(&r->body, at, n) != 0)
        return -1;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct srv_conn *c = conn_of(p);
    struct srv_req *r = c->h1_cur;
    c->h1_cur = NULL;
    c->req_started = 0;
    if (!http_should_keep_alive(p))
        c->closing = true;
    if (r == NULL)
        return 0;
    r->complete = true;
    otlp_service_handle(r);
    if (c->h1_inflight >= H1_MAX_INFLIGHT)
        srv_conn_pause_reading(c, true);
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void h1_conn_init(struct srv_conn *c)
{
    http_parser_init(&c->h1, HTTP_REQUEST);
    c->h1.data = c;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Writes every answered request at the head of the queue, in order. */
static void h1_send_ready(struct srv_conn *c)
{
    while (c->h1_head && c->h1_head->responded && c->h1_head->complete) {
        struct srv_req *r = c->h1_head;
        char head[512];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
                         r->resp.http_status, reason(r->resp.http_status), r->resp.content_type,
                         r->resp.body.len);
        if (r->resp.http_status == 405)
            n += snprintf(head + n, sizeof(head) - (size_t)n, "Allow: POST\r\n");
        if (r->resp.retry_after)
            n += snprintf(head + n, sizeof(head) - (size_t)n, "Retry-After: %u\r\n",
                          r->resp.retry_after);
        bool last = c->closing && r->next == NULL;
        if (last || c->srv->stopping)
            n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
        n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
        srv_conn_write(c, head, (size_t)n);
        srv_conn_write(c, r->resp.body.p, r->resp.body.len);
        if (c->srv->stopping)
            c->closing = true;
        c->h1_head = r->next;
        if (c->h1_tail == r)
            c->h1_tail = NULL;
        c->h1_inflight--;
        srv_req_free(r);
    }
    if (c->h1_inflight < H1_MAX_INFLIGHT && !c->closing)
        srv_conn_pause_reading(c, false);
}

void h1_req_respond(struct srv_req *r)
{
    struct srv_conn *c = r->conn;
    h1_send_ready(c);
    srv_conn_want_write(c);
}

int h1_conn_feed(struct srv_conn *c, const uint8_t *p, size_t n)
{
    if (c->closing)
        return 0; /* after a final response nothing more is read */
    size_t done = http_parser_execute(&c->h1, &h1_settings, (const char *)p, n);
    if (c->h1.http_errno != HPE_OK && !c->closing) {
        enum http_errno e = (enum http_errno)c->h1.http_errno;
        kt_info("connection from %s: malformed HTTP/1.1 at byte %zu: %s", c->peer, done,
                http_errno_description(e));
        static const char body[] = "malformed HTTP/1.1 request\n";
        char head[160];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          sizeof(body) - 1);
        srv_conn_write(c, head, (size_t)hn);
        srv_conn_write(c, body, sizeof(body) - 1);
        return -1;
    }
    /* Answers that were ready at once (errors) go out now. */
    h1_send_ready(c);
    return 0;
}

void h1_conn_free(struct srv_conn *c)
{
    struct srv_req *r = c->h1_head;
    while (r) {
        struct srv_req *next = r->next;
        srv_req_free(r);
        r = next;
    }
    c->h1_head = c->h1_tail = c->h1_cur = NULL;
}
