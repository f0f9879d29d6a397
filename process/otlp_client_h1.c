/* otlp_client over HTTP/1.1 (OTLP/HTTP): one request at a time on a keep-alive connection,
 * the answer parsed with http_parser. */
#include <stdio.h>
#include <string.h>

#include "otlp_client_int.h"

/* Longest header value kept; the ones the exporter reads are far shorter. */
#define H1_VALUE_MAX 4096

static void h1_header_done(struct otlp_client *c)
{
    if (c->h1.field[0])
        otlp_response_header(&c->r, (const uint8_t *)c->h1.field, strlen(c->h1.field),
                             c->h1.value.p, c->h1.value.len);
    c->h1.field[0] = '\0';
    kt_buf_reset(&c->h1.value);
    c->h1.in_value = false;
}

static int h1_on_header_field(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    if (c->h1.in_value)
        h1_header_done(c);
    size_t have = strlen(c->h1.field);
    if (have + n < sizeof(c->h1.field)) {
        memcpy(c->h1.field + have, at, n);
        c->h1.field[have + n] = '\0';
    }
    return 0;
}

static int h1_on_header_value(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    c->h1.in_value = true;
    if (c->h1.value.len + n <= H1_VALUE_MAX)
        kt_buf_append(&c->h1.value, at, n);
    return 0;
}

static int h1_on_headers_complete(http_parser *p)
{
    struct otlp_client *c = p->data;
    if (c->h1.in_value)
        h1_header_done(c);
    c->r.http_status = (int)p->status_code;
    return 0;
}

static int h1_on_body(http_parser *p, const char *at, size_t n)
{
    struct otlp_client *c = p->data;
    otlp_response_body(&c->r, (const uint8_t *)at, n);
    return 0;
}

static int h1_on_message_complete(http_parser *p)
{
    struct otlp_client *c = p->data;
    /* Interim 1xx answers (100 Continue) precede the real one. */
    if (p->status_code >= 100 && p->status_code < 200)
        return 0;
    c->r.close_after = !http_should_keep_alive(p);
    c->r.complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_header_field = h1_on_header_field,
    .on_header_value = h1_on_header_value,
    .on_headers_complete = h1_on_headers_complete,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_message_complete,
};

static int h1_start(struct otlp_client *c, struct kt_err *err)
{
    kt_buf_reset(&c->wbuf);
    c->wpos = 0;
    char line[512];
    int n = snprintf(line, sizeof(line), "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n",
                     c->req.path, c->authority, c->req.body.n);
    int rc = kt_buf_append(&c->wbuf, line, (size_t)n);
    for (size_t i = 0; i < c->req.n_headers && rc == 0; i++) {
        const struct otlp_client_header *h = &c->req.headers[i];
        rc |= kt_buf_append(&c->wbuf, h->name, strlen(h->name));
        rc |= kt_buf_append(&c->wbuf, ": ", 2);
        rc |= kt_buf_append(&c->wbuf, h->value, strlen(h->value));
        rc |= kt_buf_append(&c->wbuf, "\r\n", 2);
    }
    rc |= kt_buf_append(&c->wbuf, "\r\n", 2);
    /* The body goes out from the caller's buffer: no copy of a multi-megabyte batch. */
    if (rc == 0)
        rc = otlp_client_lend(c, c->req.body);
    if (rc != 0)
        return kt_err_set(err, KT_EIO, "out of memory");
    http_parser_init(&c->h1.parser, HTTP_RESPONSE);
    c->h1.parser.data = c;
    c->h1.field[0] = '\0';
    kt_buf_reset(&c->h1.value);
    c->h1.in_value = false;
    return 0;
}

static int h1_feed(struct otlp_client *c, const uint8_t *p, size_t n, struct kt_err *err)
{
    if (!c->busy || c->r.complete)
        return kt_err_set(err, KT_EPROTO, "backend sent data with no request outstanding");
    c->r.got_bytes = true;
    size_t used = http_parser_execute(&c->h1.parser, &h1_settings, (const char *)p, n);
    enum http_errno he = HTTP_PARSER_ERRNO(&c->h1.parser);
    if (he == HPE_PAUSED) {
        /* One answer per request: bytes after it would be an unrequested response. */
        if (used < n)
            c->r.close_after = true;
        return 0;
    }
    if (he != HPE_OK || used != n)
        return kt_err_set(err, KT_EPROTO, "bad HTTP response: %s", http_errno_description(he));
    return 0;
}

/* An HTTP/1.1 answer without a length ends with the connection. */
static void h1_eof(struct otlp_client *c)
{
    if (c->busy && !c->r.complete && c->r.got_bytes)
        http_parser_execute(&c->h1.parser, &h1_settings, NULL, 0);
}

static void h1_close(struct otlp_client *c)
{
    kt_buf_free(&c->h1.value);
}

const struct otlp_client_proto_ops otlp_client_h1_ops = {
    .start = h1_start,
    .feed = h1_feed,
    .eof = h1_eof,
    .close = h1_close,
};
