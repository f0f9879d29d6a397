/* server: the OTLP listeners of kotel-ingest.
 *
 * Every listener speaks HTTP/1.1 and HTTP/2 (h2c, detected from the client preface), and
 * so serves OTLP/gRPC and OTLP/HTTP alike, on one libev loop without a thread per
 * connection. Requests are handed to the OTLP service (otlp_service.c), which answers them
 * later, once Kafka has acknowledged their data. */
#ifndef INGEST_SERVER_H
#define INGEST_SERVER_H

#include <stdbool.h>

#include <ev.h>

#include "conf.h"
#include "kt_err.h"
#include "publisher.h"

struct server;

/* conf and pub are borrowed and must outlive the server. Binds every configured endpoint;
 * errors name the endpoint and the system's reason. */
int server_new(const struct ingest_conf *conf, struct ev_loop *loop, struct publisher *pub,
               struct server **out, struct kt_err *err);

/* Closes the listeners; connections stay open until their requests are answered. */
void server_stop_accepting(struct server *s);

/* True when no request is waiting for its answer. */
bool server_idle(const struct server *s);

/* Closes every connection (cancelling their tickets) and frees the server. */
void server_free(struct server *s);

/* The port a listener got (for endpoints given with port 0); 0 if there is none. */
int server_port(const struct server *s, int index);

#endif
