/* srv_harness: kotel-ingest's connection and protocol layers (ingest/conn.c, http1.c,
 * http2.c, request.c) as wired in the server, for the fuzz targets fuzz_http1,
 * fuzz_http2 and fuzz_tls_conn.
 *
 * The input is what a client sends: it is written into one end of a socketpair whose other
 * end is a connection of the server's own kind, so it is read, fed to the protocol table,
 * answered and flushed by the server's code. The service behind it is a stub that answers
 * every request: some from their headers, some as they complete, some a loop turn later
 * (as Kafka's acknowledgements come), so pipelining and the answer paths all run. */
#ifndef FUZZ_SRV_HARNESS_H
#define FUZZ_SRV_HARNESS_H

#include <stddef.h>
#include <stdint.h>

struct kt_tls_ctx;
struct srv_proto_ops;

/* Runs data through a connection speaking ops until the server closed it or the input is
 * used up, then closes the client's end and frees everything. */
void srv_harness_run(const struct srv_proto_ops *ops, const uint8_t *data, size_t size);

/* The same on a TLS connection whose server context is server (borrowed). With client NULL,
 * data is what the client writes on the socket, its handshake included; with client (a
 * kt_tls client context, borrowed), a real handshake comes first (its failure aborts) and
 * data goes as the client's application data, ended by close_notify. */
void srv_harness_run_tls(const struct srv_proto_ops *ops, struct kt_tls_ctx *server,
                         struct kt_tls_ctx *client, const uint8_t *data, size_t size);

#endif
