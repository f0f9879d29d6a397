/* server: the OTLP listeners of kotel-ingest.
 *
 * Every listener speaks HTTP/1.1 and HTTP/2 (h2c detected from the client preface, or h2
 * chosen by ALPN over TLS on the listeners [receiver.tls] applies to), and
 * so serves OTLP/gRPC and OTLP/HTTP alike, on one libev loop without a thread per
 * connection. Requests are handed to the service given to server_new (main.c gives the
 * OTLP service, otlp_service.h), which answers them later, once Kafka has acknowledged
 * their data.
 *
 * The layers, each calling only those under it; calls upward go through tables of
 * function pointers handed down (protocol.h, struct srv_service):
 *
 *   server.c         listeners, accept, protocol detection, shutdown
 *   http1.c http2.c  the protocols, one table of operations each (protocol.h)
 *   request.c        requests, their bodies' storage, the hand-over to the service
 *                    and the count of those it has not answered (request.h)
 *   conn.c           sockets, TLS (kt_tls), write buffers, backpressure, timeouts,
 *                    connections per address and eviction, the counters (struct srv_stats)
 *
 * The service (otlp_service.c) is called through its srv_service callbacks, and calls
 * only request.c (srv_req_respond, srv_req_release_body) and the publisher: it sees
 * no connection. */
#ifndef INGEST_SERVER_H
#define INGEST_SERVER_H

#include <stdbool.h>

#include <ev.h>

#include "conf.h"
#include "conn.h"
#include "kt_err.h"
#include "request.h"

struct server;

/* conf is borrowed and must outlive the server; so must the service behind svc (copied),
 * which gets every complete request. Binds every configured endpoint; errors name the
 * endpoint and the system's reason. */
int server_new(const struct ingest_conf *conf, struct ev_loop *loop, const struct srv_service *svc,
               struct server **out, struct kt_err *err);

/* Checks [receiver.tls] as server_new would (key material, cipher suites), without a
 * server: for main to stop at a bad file before it contacts Kafka. */
int server_check_tls(const struct ingest_conf *conf, struct kt_err *err);

/* Reloads [receiver.tls] (why: what asked, for the log). New connections use the new
 * certificate and those open keep theirs; a bad one is logged, naming the file and the
 * problem, and the previous one stays. Without TLS, nothing happens. */
void server_reload_tls(struct server *s, const char *why);

/* Closes the listeners; connections stay open until their requests are answered. */
void server_stop_accepting(struct server *s);

/* Copies the counters of refused and cut-short connections and requests (conn.h). */
void server_get_stats(const struct server *s, struct srv_stats *out);

/* True when no request is waiting for its answer. */
bool server_idle(const struct server *s);

/* Closes every connection (the service abandons their requests) and frees the server. */
void server_free(struct server *s);

/* The port a listener got (for endpoints given with port 0); 0 if there is none. */
int server_port(const struct server *s, int index);

#endif
