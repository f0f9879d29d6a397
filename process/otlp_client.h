/* otlp_client: one connection to an OTLP backend, one request at a time.
 *
 * TCP (non-blocking connect; names resolved off the loop thread), optional TLS (kt_tls),
 * then HTTP/2 with prior knowledge or over ALPN "h2" for gRPC, or HTTP/1.1 with keep-alive
 * for OTLP/HTTP. The connection is opened on the first request and reopened after it is
 * lost. The exporter decides what an answer means; this layer only reports what came
 * back, or why nothing did. */
#ifndef PROCESS_OTLP_CLIENT_H
#define PROCESS_OTLP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_tls.h"

enum otlp_client_proto { OTLP_CLIENT_H2 = 0, OTLP_CLIENT_H1 = 1 };

struct otlp_client_opts {
    const char *host; /* DNS name or IP literal, without brackets */
    const char *port;
    bool tls;
    /* With tls: trust, client certificate, version (alpn is set here); borrowed for
     * otlp_client_new only. */
    const struct kt_tls_client_opts *tls_opts;
    const char *server_name; /* SNI and the name to verify; NULL or "": host */
    enum otlp_client_proto proto;
    uint64_t timeout_ms; /* connect + request + response; 0 = none */
};

struct otlp_client_header {
    const char *name; /* for HTTP/2 already lowercase */
    const char *value;
};

struct otlp_client_req {
    const char *path;
    const struct otlp_client_header *headers;
    size_t n_headers;
    struct kt_slice body; /* borrowed until the response callback */
};

/* What came back. Everything is valid only during the callback. */
struct otlp_client_resp {
    int error;             /* 0: an answer arrived; else KT_EIO / KT_ETIMEDOUT / KT_EPROTO */
    const char *error_msg; /* why no answer arrived ("" when error is 0) */
    int http_status;
    int grpc_status;              /* -1: no grpc-status header or trailer */
    const char *grpc_message;     /* percent-decoded; "" when absent */
    struct kt_slice grpc_details; /* grpc-status-details-bin, base64-decoded */
    int64_t retry_after_s;        /* Retry-After in seconds, -1 when absent */
    const char *content_type;     /* "" when absent */
    const char *content_encoding; /* Content-Encoding, or grpc-encoding for gRPC */
    struct kt_slice body;
};

typedef void (*otlp_client_done_fn)(void *ctx, const struct otlp_client_resp *resp);

struct otlp_client;

/* Nothing is connected yet. Errors: TLS trust store unreadable (names the file). */
int otlp_client_new(struct ev_loop *loop, const struct otlp_client_opts *opts,
                    otlp_client_done_fn done, void *ctx, struct otlp_client **out,
                    struct kt_err *err);

/* Starts one request (connecting first when needed). req and everything it points to are
 * borrowed until done, which is called exactly once, from the loop, never inside this call.
 * done may start the next request but must not free the client. Returns KT_EAGAIN while a
 * request is in flight. */
int otlp_client_send(struct otlp_client *c, const struct otlp_client_req *req);

/* Closes the connection; a request in flight is dropped without its callback. */
void otlp_client_free(struct otlp_client *c);

#endif
