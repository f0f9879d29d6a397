/* Internals shared by otlp_client.c (connection, name lookup, TLS, timeouts, the public API)
 * and its two protocols, otlp_client_h1.c (HTTP/1.1) and otlp_client_h2.c (HTTP/2).
 *
 * The protocol is chosen once per client and then reached only through its
 * otlp_client_proto_ops. A protocol touches the connection only through the fields below:
 * it queues bytes into wbuf (and lends parts of the request body, otlp_client_lend), records
 * what came back in r (otlp_response), and returns an error for the core to act on; it never
 * calls the core. */
#ifndef PROCESS_OTLP_CLIENT_INT_H
#define PROCESS_OTLP_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <ev.h>
#include <http_parser.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_tls.h"
#include "otlp_client.h"
#include "otlp_response.h"

struct otlp_client;

/* A protocol's operations. Those returning int give 0, or a negative KT_E* with err set:
 * the core then drops the connection with that code and message (failing the request in
 * flight). */
struct otlp_client_proto_ops {
    /* Queues the request c->req on the open connection. */
    int (*start)(struct otlp_client *c, struct kt_err *err);
    /* Bytes the backend sent. */
    int (*feed)(struct otlp_client *c, const uint8_t *p, size_t n, struct kt_err *err);
    /* Moves output the protocol produced on its own (HTTP/2: frames answering what was read,
     * more of the body as the flow-control window opens) into c->wbuf. NULL: the protocol
     * writes only what start queued. */
    int (*fill)(struct otlp_client *c, struct kt_err *err);
    /* After the reads of a wakeup: nonzero (with err set) when the protocol itself ended the
     * connection. NULL: only the socket ends it. */
    int (*ended)(const struct otlp_client *c, struct kt_err *err);
    /* The backend closed the connection: an answer that ends with it is complete now. NULL:
     * no answer ends that way. */
    void (*eof)(struct otlp_client *c);
    /* Whether the open connection takes another request. NULL: always. */
    bool (*accepts)(const struct otlp_client *c);
    /* The connection is closed: drop the protocol's state of it. NULL: none to drop. */
    void (*close)(struct otlp_client *c);
};

extern const struct otlp_client_proto_ops otlp_client_h1_ops;
extern const struct otlp_client_proto_ops otlp_client_h2_ops;

enum otlp_client_state { CS_CLOSED, CS_RESOLVING, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN };

/* A borrowed slice of output, written after the first `at` bytes of wbuf. */
struct otlp_client_lent {
    size_t at;
    struct kt_slice s;
};

struct resolve_job;

struct otlp_client {
    struct ev_loop *loop;
    otlp_client_done_fn done;
    void *ctx;
    char host[256];
    char server_name[256]; /* SNI / verified name: [exporter.tls] server_name_override or host */
    char port[16];
    char authority[300];
    enum otlp_client_proto proto;            /* what TLS negotiates (ALPN) */
    const struct otlp_client_proto_ops *ops; /* chosen from proto once */
    bool tls;
    uint64_t timeout_ms;
    struct kt_tls_ctx *tls_ctx;
    struct kt_tls_conn *tls_conn;
    bool tls_want_write;

    enum otlp_client_state state;
    int fd;
    struct addrinfo *addrs;
    struct addrinfo *ai; /* next address to try */
    struct resolve_job *job;
    int job_fd;
    char connect_err[160];
    bool reused; /* this connection already carried a request */

    ev_io io;
    int io_fd;
    int io_events;
    ev_timer timeout;
    ev_timer later;

    /* Output: wbuf's bytes with borrowed slices between them (otlp_client_lend), written in
     * order with one sendmsg per batch, so a request body goes out from the caller's
     * buffer. wpos counts the bytes of wbuf already written; lent[lent_head] is the next
     * slice (lent_pos of its bytes written); lent_bytes is what is unwritten of them. */
    struct kt_buf wbuf;
    size_t wpos;
    struct otlp_client_lent *lent;
    size_t n_lent, cap_lent, lent_head, lent_pos, lent_bytes;

    bool busy;
    bool resent;
    struct otlp_client_req req;
    struct otlp_response r;

    /* HTTP/2 (otlp_client_h2.c) */
    struct {
        nghttp2_session *session;
        int32_t stream_id;
        size_t body_sent; /* body bytes h2_body_read handed to DATA frames */
        size_t body_lent; /* of which h2_send_data queued (lent) */
    } h2;
    /* HTTP/1.1 (otlp_client_h1.c) */
    struct {
        http_parser parser;
        char field[48]; /* header being assembled from http_parser's pieces */
        struct kt_buf value;
        bool in_value;
    } h1;
};

/* Queues s (borrowed: it must stay valid until written or until the request ends, when
 * what is left of it is copied) after the bytes wbuf holds now. Returns 0 or KT_ENOMEM.
 * Inline: a protocol queues output through it without calling into the core. */
static inline int otlp_client_lend(struct otlp_client *c, struct kt_slice s)
{
    if (s.n == 0)
        return 0;
    if (c->n_lent == c->cap_lent) {
        size_t cap = c->cap_lent ? 2 * c->cap_lent : 16;
        struct otlp_client_lent *l = realloc(c->lent, cap * sizeof(*l));
        if (l == NULL)
            return KT_ENOMEM;
        c->lent = l;
        c->cap_lent = cap;
    }
    c->lent[c->n_lent++] = (struct otlp_client_lent){c->wbuf.len, s};
    c->lent_bytes += s.n;
    return 0;
}

/* Bytes queued for output and not yet written. */
static inline size_t otlp_client_queued(const struct otlp_client *c)
{
    return c->wbuf.len - c->wpos + c->lent_bytes;
}

#endif
