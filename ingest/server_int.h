/* Internals shared by server.c (connections), http1.c, http2.c and otlp_service.c. */
#ifndef INGEST_SERVER_INT_H
#define INGEST_SERVER_INT_H

#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "kt_buf.h"
#include "publisher.h"

struct srv_conn;

struct srv_resp {
    int http_status;          /* 200, 400, ... */
    const char *content_type; /* static string */
    struct kt_buf body;       /* for gRPC: the framed message; empty for errors */
    bool grpc;                /* answer with gRPC trailers */
    int grpc_status;
    char grpc_message[512]; /* already percent-encoded */
    unsigned retry_after;   /* seconds; 0 = no Retry-After header */
};

struct srv_req {
    struct srv_conn *conn;
    int32_t stream_id;    /* HTTP/2 stream; 0 for HTTP/1.1 */
    struct srv_req *next; /* HTTP/1.1: requests in arrival order; HTTP/2: all streams */
    uint64_t id;          /* for logs */
    ev_tstamp started;    /* when its first bytes arrived (header_timeout) */
    char method[8];
    char path[128];
    char content_type[64];
    char content_encoding[32];
    char grpc_encoding[32];
    bool headers_done;
    bool complete;        /* the whole body has arrived */
    bool expect_continue; /* HTTP/1.1 Expect: 100-continue */
    int early_status;     /* body refused while arriving (413): answer without reading it */
    struct kt_buf body;
    struct publisher_ticket *ticket;
    bool responded; /* resp is filled in */
    struct srv_resp resp;
    size_t resp_sent; /* HTTP/2: body bytes handed to nghttp2 */
};

enum srv_proto { SRV_PROTO_UNKNOWN, SRV_PROTO_H1, SRV_PROTO_H2 };

/* Bounds on the body pool: buffers kept, and bytes they hold in all. */
#define SRV_BODY_POOL_MAX 32
#define SRV_BODY_POOL_BYTES (8u << 20)
/* Most a request may reserve up front from its announced length (Content-Length, gRPC). */
#define SRV_BODY_RESERVE_MAX (4u << 20)

struct server {
    const struct ingest_conf *conf;
    struct ev_loop *loop;
    struct publisher *pub;
    struct srv_listener *listeners;
    int n_listeners;
    struct srv_conn *conns; /* doubly linked */
    uint64_t n_conns;
    uint64_t next_req_id;
    uint64_t reqs_pending; /* handed to the service and not yet answered */
    bool stopping;
    /* Storage of finished request bodies, kept for the next ones: blocks of this size
     * taken fresh from the allocator cost a page fault per 4 KiB each time. */
    struct kt_buf body_pool[SRV_BODY_POOL_MAX];
    int n_body_pool;
    size_t body_pool_bytes;
};

struct srv_conn {
    struct server *srv;
    struct srv_conn *prev, *next;
    int fd;
    char peer[64];
    ev_io rio, wio;
    ev_timer timer;
    ev_tstamp last_activity;
    ev_tstamp req_started; /* HTTP/1.1: first byte of the request in progress; 0 = none */
    enum srv_proto proto;
    struct kt_buf rbuf; /* bytes read but not yet consumed (protocol sniffing) */
    struct kt_buf wbuf; /* bytes waiting for the socket */
    size_t wpos;
    bool closing; /* close once wbuf is written */
    bool reading_paused;
    int depth; /* nesting of this connection's callbacks on the stack */
    bool dead; /* closed while depth > 0: freed when the outermost callback returns */
    /* HTTP/1.1 */
    http_parser h1;
    struct srv_req *h1_head, *h1_tail, *h1_cur;
    char h1_field[64];
    size_t h1_field_len;
    bool h1_in_field;
    unsigned h1_inflight;
    /* HTTP/2 */
    nghttp2_session *h2;
    struct srv_req *h2_reqs;
};

/* server.c */
int srv_conn_write(struct srv_conn *c, const void *p, size_t n);
void srv_conn_close(struct srv_conn *c);
void srv_conn_want_write(struct srv_conn *c);
void srv_conn_pause_reading(struct srv_conn *c, bool paused);
struct srv_req *srv_req_new(struct srv_conn *c);
void srv_req_free(struct srv_req *r);
/* Before a request's first body bytes are stored: the body is at least n bytes (its
 * announced length when known: Content-Length, a gRPC prefix; else the first piece). Gives
 * r->body pooled storage or room for all of it at once, sparing growing it, and copying
 * it, step by step. n over max_request_bytes is ignored (the request is refused as it
 * arrives). */
void srv_req_expect_body(struct srv_req *r, uint64_t n);
/* Empties r->body, keeping its storage in the pool when there is room. */
void srv_req_release_body(struct srv_req *r);

/* http1.c */
void h1_conn_init(struct srv_conn *c);
/* Feeds bytes; returns -1 when the connection must close. */
int h1_conn_feed(struct srv_conn *c, const uint8_t *p, size_t n);
void h1_req_respond(struct srv_req *r);
void h1_conn_free(struct srv_conn *c);

/* http2.c */
int h2_conn_init(struct srv_conn *c);
int h2_conn_feed(struct srv_conn *c, const uint8_t *p, size_t n);
int h2_conn_flush(struct srv_conn *c);
void h2_req_respond(struct srv_req *r);
void h2_conn_free(struct srv_conn *c);
bool h2_conn_done(struct srv_conn *c);
void h2_conn_goaway(struct srv_conn *c);

/* otlp_service.c: called once a request's headers (for early checks) / body are complete.
 * The service answers through srv_req_respond, now or later. */
void otlp_service_headers(struct srv_req *r, int64_t content_length);
void otlp_service_handle(struct srv_req *r);
/* The connection is closing: forget the request's ticket so no answer is attempted. */
void otlp_service_abandon(struct srv_req *r);
/* Fills r->resp and sends it on the request's protocol. */
void srv_req_respond(struct srv_req *r);

#endif
