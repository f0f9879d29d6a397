/* otlp_response: what a backend answered to one otlp_client request, assembled from the
 * pieces either protocol hands over (headers and trailers, body chunks), or why no answer
 * came. Shared by the client's core and its HTTP/1.1 and HTTP/2 halves, and calling none of
 * them. */
#ifndef PROCESS_OTLP_RESPONSE_H
#define PROCESS_OTLP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "otlp_client.h"

struct otlp_response {
    bool complete;
    bool got_bytes; /* anything of the answer arrived (a resend would not be safe) */
    bool close_after;
    bool resend; /* lost before any answer on a reused connection: try a fresh one once */
    int err;
    char errmsg[KT_ERR_MSG_MAX];
    int http_status;
    int grpc_status;
    char grpc_message[512];
    struct kt_buf details;
    int64_t retry_after_s;
    char content_type[128];
    char content_encoding[32];
    struct kt_buf body;
};

/* Empties r for a new request, keeping its buffers' storage. */
void otlp_response_reset(struct otlp_response *r);

/* A response header or trailer, HTTP/2 or HTTP/1.1 alike (":status" for HTTP/2's status). */
void otlp_response_header(struct otlp_response *r, const uint8_t *name, size_t nlen,
                          const uint8_t *value, size_t vlen);

/* A piece of the body; beyond a bound the rest is dropped. */
void otlp_response_body(struct otlp_response *r, const uint8_t *p, size_t n);

/* No answer will come: r is complete with error code and the formatted reason. Does nothing
 * when r is complete already. */
void otlp_response_fail(struct otlp_response *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The public view of r, valid while r is unchanged. */
void otlp_response_view(const struct otlp_response *r, struct otlp_client_resp *out);

void otlp_response_free(struct otlp_response *r);

#endif
