/* conn: the connection layer, under the protocols.
 *
 * A connection owns its socket, its read and write watchers, its write buffer and its
 * timer (idle_timeout, header_timeout, body_timeout). The list of connections counts them
 * per client address (max_connections_per_peer) and keeps them in the order of their last
 * progress, so that the one idle the longest can make room for a newcomer. It reads bytes and feeds
 * them to the protocol table it was given (protocol.h), and sends what the protocol queued: the
 * protocols never touch the socket. conn.c calls nothing above it but through that table, so every
 * other file of the server may call it (server.h has the whole picture). TLS (kt_tls) sits
 * in here, under the protocols: see the transport seam in conn.c. */
#ifndef INGEST_CONN_H
#define INGEST_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct conn;
struct conn_list;
struct kt_tls_ctx;
struct srv_proto_ops;
struct srv_req;

/* What the server counts of the connections it refused or cut short, one field per kind
 * (logged at exit, server_get_stats). */
struct srv_stats {
    uint64_t connections_accepted;
    uint64_t connections_open;        /* a gauge: filled in by server_get_stats */
    uint64_t refused_max_connections; /* at max_connections with none idle to close */
    uint64_t refused_per_peer;        /* at max_connections_per_peer */
    uint64_t refused_no_descriptor;   /* out of file descriptors (or memory) on accept */
    uint64_t evicted_idle;            /* closed, idle the longest, to make room for a new one */
    uint64_t idle_timeouts;
    uint64_t header_timeouts; /* requests (or first requests) not in within header_timeout */
    uint64_t body_timeouts;
    uint64_t header_too_large; /* over max_header_bytes */
    uint64_t h2_reset_floods;  /* GOAWAY ENHANCE_YOUR_CALM: streams reset too fast */
    uint64_t h2_continuation_floods;
    uint64_t h2_protocol_errors;     /* other HTTP/2 errors, streams over max_concurrent_streams */
    uint64_t tls_handshake_failures; /* no certificate under mTLS, an old version, garbage */
};

/* Timeouts of the connections, in seconds. */
struct conn_timeouts {
    double idle;   /* no request in flight and no answer sent */
    double header; /* a request's headers, counted for the first one from the accept */
    double body;   /* a request's body, counted from the end of its headers */
};

/* ---- for the server ---- */

/* The connections of one server. loop is borrowed; t is copied; owner is the server's,
 * handed back by conn_owner. max_per_peer bounds the connections of one address (0 = no
 * bound, conn_list_peer_full). Returns 0 or KT_ENOMEM. */
int conn_list_new(struct ev_loop *loop, const struct conn_timeouts *t, uint64_t max_per_peer,
                  void *owner, struct conn_list **out);
/* Closes every connection (their protocols free their requests), then the list. */
void conn_list_free(struct conn_list *l);
uint64_t conn_list_count(const struct conn_list *l);
/* The server is stopping: every connection is told to take no new request (HTTP/2
 * GOAWAY), and HTTP/1.1 answers close their connection from now on. */
void conn_list_stop(struct conn_list *l);
/* The counters, written by every layer through conn_stats. */
struct srv_stats *conn_list_stats(struct conn_list *l);
/* Whether the address addr (16 bytes: IPv6, or IPv4 mapped into it) holds
 * max_connections_per_peer connections already. */
bool conn_list_peer_full(const struct conn_list *l, const uint8_t addr[16]);
/* Closes the connection that has been idle the longest (no request arriving or waiting for
 * its answer), to make room for a new one. Returns false when every connection is busy. */
bool conn_list_evict_idlest(struct conn_list *l);

/* A connection on fd (taken: closed with the connection), from peer ("host:port", for
 * logs) at addr (16 bytes, as conn_list_peer_full's). With tls (borrowed; the connection
 * holds a reference of its own, kt_tls.h), it speaks TLS: the handshake, bounded by the
 * protocol's deadline (the first table's: header_timeout from the accept), comes before
 * any byte is fed. Nothing happens on it until conn_start. NULL when out of memory (fd is
 * closed). */
struct conn *conn_new(struct conn_list *l, int fd, const char *peer, const uint8_t addr[16],
                      struct kt_tls_ctx *tls);
/* Starts reading with ops and its state p (taken: freed by ops->free at close). */
void conn_start(struct conn *c, const struct srv_proto_ops *ops, void *p);
/* Switches c, from within ops->feed, to the protocol detected: the previous table is
 * dropped without a call to its free. */
void conn_set_protocol(struct conn *c, const struct srv_proto_ops *ops, void *p);
/* Bytes the protocol could not use yet (a partial HTTP/2 preface): fed again, in front of
 * the next ones read. Returns 0 or KT_ENOMEM. */
int conn_keep_input(struct conn *c, const uint8_t *p, size_t n);
void *conn_owner(const struct conn *c);
/* The protocol the client and the server agreed on by TLS ALPN ("h2", "http/1.1"), or NULL
 * (plaintext, or a client that offered none). Valid from the first feed. */
const char *conn_alpn(const struct conn *c);

/* ---- for the protocols ---- */

/* Queues bytes for the client; they go out at the next conn_want_write or when the read
 * callback returns. Returns 0 or KT_ENOMEM. */
int conn_write(struct conn *c, const void *p, size_t n);
/* Sends what is queued (after ops->flush), and closes the connection when the protocol
 * is done. Outside the connection's own callbacks, c may be freed on return. */
void conn_want_write(struct conn *c);
/* Stops or resumes reading from the client (backpressure). */
void conn_pause_reading(struct conn *c, bool paused);
const char *conn_peer(const struct conn *c);
ev_tstamp conn_now(const struct conn *c);
/* When c was accepted: a client's first request must arrive within header_timeout of it. */
ev_tstamp conn_accepted(const struct conn *c);
/* The server's counters (struct srv_stats), for the protocols to count what they refuse. */
struct srv_stats *conn_stats(struct conn *c);
/* A request was answered: idle_timeout counts again from now. Only this (and requests in
 * flight, ops->busy) keeps a connection from being idle; bytes read are not enough. */
void conn_progress(struct conn *c);
/* conn_list_stop was called. */
bool conn_stopping(const struct conn *c);

/* ---- for the request layer ---- */

/* Sends r's answer through c's protocol. */
void conn_respond(struct conn *c, struct srv_req *r);

#endif
