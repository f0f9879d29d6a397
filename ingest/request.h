/* request: one HTTP request as the service sees it, and the service's hooks.
 *
 * The protocols (http1.c, http2.c) make a request per HTTP/1.1 message or HTTP/2 stream,
 * fill in its method, path, headers and body, and hand it to the service through the
 * srv_service callbacks the server was given. The service answers by filling r->resp and
 * calling srv_req_respond, at once or later (once Kafka acknowledged the data); the
 * request layer counts the requests handed to it and not answered yet (server_idle). */
#ifndef INGEST_REQUEST_H
#define INGEST_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "kt_buf.h"

struct conn;
struct srv_req;
struct srv_reqs;

/* The service behind the server. Every callback gets ctx first. */
struct srv_service {
    void *ctx;
    /* The request's headers are in (content_length: the announced body size, or the size
     * reached so far when it passes the limit; -1 when unknown). The service may refuse
     * it now by filling r->resp (r->responded): the protocol sends that answer itself,
     * without reading the body. */
    void (*headers)(void *ctx, struct srv_req *r, int64_t content_length);
    /* The whole body has arrived: answer through srv_req_respond, now or later. */
    void (*handle)(void *ctx, struct srv_req *r);
    /* The request is freed before its answer (its connection closed): forget it, no
     * answer may be attempted. */
    void (*abandon)(void *ctx, struct srv_req *r);
};

struct srv_resp {
    int http_status;          /* 200, 400, ... */
    const char *content_type; /* static string */
    struct kt_buf body;       /* for gRPC: the framed message; empty for errors */
    bool grpc;                /* answer with gRPC trailers */
    int grpc_status;
    char grpc_message[512];       /* already percent-encoded */
    unsigned retry_after;         /* seconds; 0 = no Retry-After header */
    const char *www_authenticate; /* a 401's challenge (WWW-Authenticate), NULL: none */
};

struct srv_req {
    /* Set by srv_req_new. */
    struct srv_reqs *reqs;
    struct conn *conn;    /* the connection it arrived on (the protocol's business) */
    struct ev_loop *loop; /* the loop it is served on */
    const char *peer;     /* the client's address, for logs; lives as long as r */
    uint64_t id;          /* for logs */
    ev_tstamp started;    /* when its first bytes arrived (header_timeout) */
    ev_tstamp headers_at; /* when its headers were in (body_timeout); set by
                           * srv_req_check_headers */
    /* Filled in by the protocol. */
    bool http2;            /* arrived over HTTP/2 (gRPC needs it) */
    int32_t stream_id;     /* HTTP/2 stream; 0 for HTTP/1.1 */
    struct srv_req *next;  /* HTTP/1.1: requests in arrival order; HTTP/2: all streams */
    uint64_t header_bytes; /* HTTP/2: of its header list so far, as SETTINGS counts them */
    char method[8];
    char path[128];
    char content_type[64];
    char content_encoding[32];
    char grpc_encoding[32];
    /* The Authorization header's value, cut at the buffer's size (longer than any scheme
     * and token [receiver.auth] accepts, so a cut value never matches one). */
    char authorization[320];
    bool has_authorization;
    bool headers_done;
    bool complete;        /* the whole body has arrived */
    bool expect_continue; /* HTTP/1.1 Expect: 100-continue */
    int early_status;     /* body refused while arriving (413: too big; 503: over the bodies'
                           * memory budget): answer without reading the rest */
    struct kt_buf body;
    /* The service's: what it keeps for the request while it is handled (its ticket), and
     * whom it authenticated the request as (NULL: no one in particular). */
    void *svc_data;
    const char *tenant;
    uint64_t svc_items; /* items in its body, once decoded */
    /* The values of the headers named by srv_req_limits meta_keys, in arrival order: per
     * value a u8 key index, a u16le length and the bytes (srv_req_meta_next reads them).
     * meta_bad: 1 + the index of a key whose value was over INGEST_META_VALUE_MAX (the
     * values are then incomplete and the request must be refused); 0: none. */
    struct kt_buf meta;
    size_t meta_last; /* offset of the last value's entry (HTTP/1.1 continues it) */
    unsigned meta_bad;
    /* The answer. */
    bool responded; /* resp is filled in */
    struct srv_resp resp;
    size_t resp_sent; /* HTTP/2: body bytes handed to nghttp2 */
    bool handed;      /* handed to the service and not answered yet */
};

/* ---- for the server ---- */

/* What the protocols let a request be ([receiver] and [limits] settings). */
struct srv_req_limits {
    uint64_t max_request_bytes;
    uint64_t max_header_bytes;       /* a request's header section */
    uint64_t max_concurrent_streams; /* HTTP/2 streams open at once on a connection */
    uint64_t body_budget;            /* storage of the bodies being received; 0 = none */
    /* Request headers kept for the service (names matched in any case; borrowed, they outlive the
     * server): meta_keys[i] is key i, meta_topic_key (NULL: none) key meta_keys->n. */
    const struct kt_strlist *meta_keys;
    const char *meta_topic_key;
};

/* The requests of one server: ids, the count of those not answered yet, a pool of body
 * buffers, and the memory budget of the bodies being received. loop is borrowed; lim and
 * svc are copied. Returns 0 or KT_ENOMEM. */
int srv_reqs_new(struct ev_loop *loop, const struct srv_req_limits *lim,
                 const struct srv_service *svc, struct srv_reqs **out);
/* The limits srv_reqs_new was given, for the protocols. */
const struct srv_req_limits *srv_reqs_limits(const struct srv_reqs *rs);
/* After every request is freed. */
void srv_reqs_free(struct srv_reqs *rs);
/* Requests handed to the service and not answered nor abandoned yet. */
uint64_t srv_reqs_pending(const struct srv_reqs *rs);

/* ---- for the protocols ---- */

/* A request arriving on c; NULL when out of memory. */
struct srv_req *srv_req_new(struct srv_reqs *rs, struct conn *c);
/* Frees r; the service abandons it if it was not answered. NULL is ignored. */
void srv_req_free(struct srv_req *r);
/* The service's headers and handle callbacks (struct srv_service); the first also notes
 * when the headers were in (r->headers_at). */
void srv_req_check_headers(struct srv_req *r, int64_t content_length);
void srv_req_handle(struct srv_req *r);
/* Before a request's first body bytes are stored: the body is at least n bytes (its
 * announced length when known: Content-Length, a gRPC prefix; else the first piece). Gives
 * r->body pooled storage or room for all of it at once, sparing growing it, and copying
 * it, step by step. n over max_request_bytes, or room the budget does not have, is ignored
 * (the request is refused as it arrives). */
void srv_req_expect_body(struct srv_req *r, uint64_t n);
/* Appends n bytes to r->body. Returns 0; 413 when the body would pass [receiver]
 * max_request_bytes, 503 when its storage would take the bodies being received past their
 * budget (r->early_status is set and the body let go: the caller answers without reading
 * the rest); or KT_ENOMEM. */
int srv_req_body_add(struct srv_req *r, const void *p, size_t n);
/* Empties r->body, keeping its storage in the pool when there is room (the service too,
 * once it is done with the body). */
void srv_req_release_body(struct srv_req *r);

/* Every request header the protocol does not consume itself: keeps the value when the name
 * (namelen bytes, any case) is one of the meta keys. cont: the bytes continue the value
 * of the previous call (HTTP/1.1 hands a value over in pieces). */
void srv_req_header(struct srv_req *r, const char *name, size_t namelen, const uint8_t *value,
                    size_t valuelen, bool cont);

/* ---- for the service ---- */

/* Iterates r->meta: *pos starts at 0; each call sets *key and *value (a view into r->meta)
 * and returns true, or false at the end. */
bool srv_req_meta_next(const struct srv_req *r, size_t *pos, unsigned *key, struct kt_slice *value);

/* The ctx of the service r was handed to (struct srv_service). */
void *srv_req_service(const struct srv_req *r);
/* r->resp is filled in (r->responded): sends it on the request's protocol. r may be freed
 * on return. */
void srv_req_respond(struct srv_req *r);

#endif
