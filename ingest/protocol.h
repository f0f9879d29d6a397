/* protocol: the operations table of an HTTP version on a connection.
 *
 * server.c detects the protocol from TLS ALPN or a connection's first bytes and picks its
 * table once (h1_ops or h2_ops, or its own sniffing table before that); from then on the
 * connection layer (conn.c) and the request layer (request.c) call through the table and
 * know nothing of HTTP/1.1 or HTTP/2. A new protocol beside these is one more table.
 *
 * `p` is what init returned: the protocol's own state for one connection. */
#ifndef INGEST_PROTOCOL_H
#define INGEST_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct conn;
struct conn_timeouts;
struct srv_req;
struct srv_reqs;

struct srv_proto_ops {
    /* Starts the protocol on c, whose first bytes are still to be fed; its requests are
     * made from reqs (borrowed; it outlives every connection). NULL on failure. */
    void *(*init)(struct conn *c, struct srv_reqs *reqs);
    /* Bytes read from the client. Returns -1 when the connection must close (what was
     * written to it so far is sent first). */
    int (*feed)(void *p, const uint8_t *b, size_t n);
    /* r->resp is filled in: send it, now or (HTTP/1.1) after the requests before it. */
    void (*respond)(void *p, struct srv_req *r);
    /* Moves what the protocol holds back (HTTP/2 frames) into the connection's write
     * buffer. Returns -1 when the connection must close. */
    int (*flush)(void *p);
    /* Tells the client to start no new request here (HTTP/2 GOAWAY). */
    void (*goaway)(void *p);
    /* Nothing more is to be read or sent: close once the write buffer is empty. */
    bool (*done)(void *p);
    /* Requests on it wait for their answers: the connection is not idle. */
    bool (*busy)(void *p);
    /* Whether reading may resume once the write buffer has drained; false while the
     * protocol holds reading paused itself (HTTP/1.1: too many pipelined requests). */
    bool (*may_read)(void *p);
    /* When the first of the requests still arriving runs out of time (t->header until its
     * headers are in, then t->body), in ev_now's clock; 0 when none is arriving. */
    ev_tstamp (*deadline)(void *p, const struct conn_timeouts *t);
    /* Deals with requests that did not arrive in time by `now`, counting them in the
     * server's srv_stats. Returns -1 when the connection must close (what was written to it
     * so far is sent first). */
    int (*expire)(void *p, ev_tstamp now, const struct conn_timeouts *t);
    /* Frees the state and every request on it (the service abandons those unanswered). */
    void (*free)(void *p);
};

/* http1.c: HTTP/1.1 with http-parser. */
extern const struct srv_proto_ops h1_ops;
/* http2.c: HTTP/2 (h2c) with nghttp2. */
extern const struct srv_proto_ops h2_ops;

#endif
