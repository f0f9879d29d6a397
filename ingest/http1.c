/* HTTP/1.1 on a connection, parsed with http-parser: the h1_ops protocol table.
 *
 * Requests may be pipelined: they are queued in arrival order and answered in that order,
 * whatever order Kafka acknowledges them in. Bytes come from and go to the connection
 * layer (conn.h); requests go to the service through the request layer (request.h). */
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "kt_err.h"
#include "kt_log.h"
#include "protocol.h"
#include "request.h"

/* Pipelined requests in flight on one connection before reading pauses. */
#define H1_MAX_INFLIGHT 8

struct h1_conn {
    struct conn *c;
    struct srv_reqs *reqs;
    http_parser parser;
    struct srv_req *head, *tail; /* in arrival order, until answered */
    struct srv_req *cur;         /* the one arriving */
    /* When header_timeout started for the request in progress: its first byte, or for the
     * first request the accept, so that bytes which never make a request (CRLFs) cannot
     * hold the connection; 0 = none arriving. */
    ev_tstamp req_started;
    uint64_t header_bytes; /* of the request arriving: target, names, values (max_header_bytes) */
    bool header_overflow;  /* past max_header_bytes: the parser was stopped for a 431 */
    char field[64];
    size_t field_len;
    bool in_field;
    unsigned inflight;
    bool closing; /* close once the answers queued are written */
};

static struct h1_conn *conn_of(http_parser *p)
{
    return p->data;
}

static int on_message_begin(http_parser *p)
{
    struct h1_conn *h = conn_of(p);
    struct srv_req *r = srv_req_new(h->reqs, h->c);
    if (r == NULL)
        return -1;
    h->cur = r;
    h->header_bytes = 0;
    h->field_len = 0;
    h->in_field = false;
    if (h->req_started == 0)
        h->req_started = conn_now(h->c);
    if (h->tail)
        h->tail->next = r;
    else
        h->head = r;
    h->tail = r;
    h->inflight++;
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

/* Counts n more bytes of the header section; non-zero stops the parser (h1_feed answers
 * 431). Counted are the bytes of the target, names and values: the rest of the section
 * (method, version, separators) is bounded by them, and http-parser stops at 80 KiB in all. */
static int count_header_bytes(struct h1_conn *h, size_t n)
{
    h->header_bytes += n;
    if (h->header_bytes <= srv_reqs_limits(h->reqs)->max_header_bytes)
        return 0;
    h->header_overflow = true;
    return -1;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct srv_req *r = conn_of(p)->cur;
    if (count_header_bytes(conn_of(p), n) != 0)
        return -1;
    if (r == NULL)
        return 0;
    append_capped(r->path, sizeof(r->path), at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct h1_conn *h = conn_of(p);
    if (count_header_bytes(h, n) != 0)
        return -1;
    if (!h->in_field) {
        h->field_len = 0;
        h->in_field = true;
    }
    size_t room = sizeof(h->field) - 1 - h->field_len;
    if (n > room)
        n = room;
    memcpy(h->field + h->field_len, at, n);
    h->field_len += n;
    h->field[h->field_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct h1_conn *h = conn_of(p);
    struct srv_req *r = h->cur;
    /* A value that follows a value is the rest of it, not a new field. */
    bool cont = !h->in_field;
    h->in_field = false;
    if (count_header_bytes(h, n) != 0)
        return -1;
    if (r == NULL)
        return 0;
    const char *f = h->field;
    srv_req_header(r, f, h->field_len, (const uint8_t *)at, n, cont);
    if (strcasecmp(f, "content-type") == 0)
        append_capped(r->content_type, sizeof(r->content_type), at, n);
    else if (strcasecmp(f, "content-encoding") == 0)
        append_capped(r->content_encoding, sizeof(r->content_encoding), at, n);
    else if (strcasecmp(f, "grpc-encoding") == 0)
        append_capped(r->grpc_encoding, sizeof(r->grpc_encoding), at, n);
    else if (strcasecmp(f, "authorization") == 0) {
        /* A second Authorization header is appended to the first: the result matches no
         * token, as it should. */
        append_capped(r->authorization, sizeof(r->authorization), at, n);
        r->has_authorization = true;
    } else if (strcasecmp(f, "expect") == 0 && n == 12 && strncasecmp(at, "100-continue", 12) == 0)
        r->expect_continue = true;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct h1_conn *h = conn_of(p);
    struct srv_req *r = h->cur;
    snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)p->method));
    r->headers_done = true;
    /* http-parser leaves content_length at ULLONG_MAX when the header is absent. */
    int64_t clen = p->content_length == ULLONG_MAX ? -1 : (int64_t)p->content_length;
    srv_req_check_headers(r, clen);
    if (r->responded) {
        /* Refused from the headers alone (size, route, media type): answer now without
         * reading the body, and close since the body would have to be skipped. */
        r->complete = true;
        h->closing = true;
        h->cur = NULL;
        h->req_started = 0;
        return 0;
    }
    if (clen > 0)
        srv_req_expect_body(r, (uint64_t)clen);
    if (r->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_write(h->c, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct srv_req *r = conn_of(p)->cur;
    if (r == NULL || r->early_status != 0)
        return 0;
    if (r->body.cap == 0)
        srv_req_expect_body(r, n);
    /* Refused (too big, over the budget): the rest is read and dropped, and the request
     * answered when it is complete. */
    return srv_req_body_add(r, at, n) == KT_ENOMEM ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    struct h1_conn *h = conn_of(p);
    struct srv_req *r = h->cur;
    h->cur = NULL;
    h->req_started = 0;
    if (!http_should_keep_alive(p))
        h->closing = true;
    if (r == NULL)
        return 0;
    r->complete = true;
    srv_req_handle(r);
    if (h->inflight >= H1_MAX_INFLIGHT)
        conn_pause_reading(h->c, true);
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

static void *h1_init(struct conn *c, struct srv_reqs *reqs)
{
    struct h1_conn *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->c = c;
    h->reqs = reqs;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    h->req_started = conn_accepted(c);
    return h;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Writes every answered request at the head of the queue, in order. */
static void h1_send_ready(struct h1_conn *h)
{
    bool stopping = conn_stopping(h->c);
    bool answered = false;
    while (h->head && h->head->responded && h->head->complete) {
        struct srv_req *r = h->head;
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
        if (r->resp.www_authenticate)
            n += snprintf(head + n, sizeof(head) - (size_t)n, "WWW-Authenticate: %s\r\n",
                          r->resp.www_authenticate);
        bool last = h->closing && r->next == NULL;
        if (last || stopping)
            n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
        n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
        conn_write(h->c, head, (size_t)n);
        conn_write(h->c, r->resp.body.p, r->resp.body.len);
        if (stopping)
            h->closing = true;
        h->head = r->next;
        if (h->tail == r)
            h->tail = NULL;
        h->inflight--;
        srv_req_free(r);
        answered = true;
    }
    if (answered)
        conn_progress(h->c);
    if (h->inflight < H1_MAX_INFLIGHT && !h->closing)
        conn_pause_reading(h->c, false);
}

static void h1_respond(void *p, struct srv_req *r)
{
    (void)r; /* answered in arrival order: it goes out once those before it did */
    struct h1_conn *h = p;
    h1_send_ready(h);
    conn_want_write(h->c);
}

static int h1_feed(void *p, const uint8_t *b, size_t n)
{
    struct h1_conn *h = p;
    if (h->closing)
        return 0; /* after a final response nothing more is read */
    size_t done = http_parser_execute(&h->parser, &h1_settings, (const char *)b, n);
    enum http_errno e = (enum http_errno)h->parser.http_errno;
    if (e != HPE_OK && !h->closing && (h->header_overflow || e == HPE_HEADER_OVERFLOW)) {
        static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
        uint64_t max = srv_reqs_limits(h->reqs)->max_header_bytes;
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: request header section over [receiver] "
                       "max_header_bytes (%llu); answering 431",
                       conn_peer(h->c), (unsigned long long)max);
        conn_stats(h->c)->header_too_large++;
        char body[96], head[192];
        int bn = snprintf(body, sizeof(body),
                          "request header section over [receiver] max_header_bytes (%llu)\n",
                          (unsigned long long)max);
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                          "Content-Type: text/plain\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n",
                          bn);
        conn_write(h->c, head, (size_t)hn);
        conn_write(h->c, body, (size_t)bn);
        return -1;
    }
    if (e != HPE_OK && !h->closing) {
        static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: malformed HTTP/1.1 at byte %zu: %s", conn_peer(h->c),
                       done, http_errno_description(e));
        static const char body[] = "malformed HTTP/1.1 request\n";
        char head[160];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          sizeof(body) - 1);
        conn_write(h->c, head, (size_t)hn);
        conn_write(h->c, body, sizeof(body) - 1);
        return -1;
    }
    /* Answers that were ready at once (errors) go out now. */
    h1_send_ready(h);
    return 0;
}

/* HTTP/1.1 holds nothing back from the write buffer. */
static int h1_flush(void *p)
{
    (void)p;
    return 0;
}

/* HTTP/1.1 has no GOAWAY: once the server stops, each answer closes its connection. */
static void h1_goaway(void *p)
{
    (void)p;
}

static bool h1_done(void *p)
{
    const struct h1_conn *h = p;
    return h->closing && h->head == NULL;
}

static bool h1_busy(void *p)
{
    const struct h1_conn *h = p;
    return h->head != NULL;
}

static bool h1_may_read(void *p)
{
    const struct h1_conn *h = p;
    return h->inflight < H1_MAX_INFLIGHT;
}

/* HTTP/1.1 has at most one request arriving: header_timeout runs until its headers are
 * in, body_timeout from then on. */
static ev_tstamp h1_deadline(void *p, const struct conn_timeouts *t)
{
    const struct h1_conn *h = p;
    if (h->cur != NULL && h->cur->headers_done)
        return h->cur->headers_at + t->body;
    return h->req_started > 0 ? h->req_started + t->header : 0;
}

/* A request not complete in time closes the connection: its rest could not be told from
 * the next request. */
static int h1_expire(void *p, ev_tstamp now, const struct conn_timeouts *t)
{
    struct h1_conn *h = p;
    /* One line per connection would let a crowd of slow clients flood the log. */
    static struct kt_log_limit log_limit = KT_LOG_LIMIT(1.0, 5);
    ev_tstamp due = h1_deadline(h, t);
    if (due == 0 || now < due)
        return 0;
    struct srv_stats *st = conn_stats(h->c);
    if (h->cur != NULL && h->cur->headers_done) {
        st->body_timeouts++;
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: request body not complete within [receiver] "
                       "body_timeout (%gs); closing",
                       conn_peer(h->c), t->body);
    } else {
        st->header_timeouts++;
        kt_log_limited(&log_limit, KT_LOG_INFO,
                       "connection from %s: %s within [receiver] header_timeout (%gs); closing",
                       conn_peer(h->c), h->cur ? "request headers not complete" : "no request",
                       t->header);
    }
    static const char resp[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    conn_write(h->c, resp, sizeof(resp) - 1);
    return -1;
}

static void h1_free(void *p)
{
    struct h1_conn *h = p;
    struct srv_req *r = h->head;
    while (r) {
        struct srv_req *next = r->next;
        srv_req_free(r);
        r = next;
    }
    free(h);
}

const struct srv_proto_ops h1_ops = {
    .init = h1_init,
    .feed = h1_feed,
    .respond = h1_respond,
    .flush = h1_flush,
    .goaway = h1_goaway,
    .done = h1_done,
    .busy = h1_busy,
    .may_read = h1_may_read,
    .deadline = h1_deadline,
    .expire = h1_expire,
    .free = h1_free,
};
