/* The server's connection and protocol layers on a socketpair (srv_harness.h). */
#include "srv_harness.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "../../ingest/conn.h"
#include "../../ingest/protocol.h"
#include "../../ingest/request.h"
#include "kt_tls.h"

/* Requests the stub answers a loop turn after they complete. */
#define DEFERRED_MAX 16
/* Loop turns after the input is written before giving up on the server closing. */
#define TURNS_MAX 64

struct stub {
    struct srv_req *deferred[DEFERRED_MAX];
    int n_deferred;
};

static void answer(struct srv_req *r, int status)
{
    r->resp.http_status = status;
    if (strncmp(r->content_type, "application/grpc", 16) == 0) {
        r->resp.content_type = "application/grpc";
        r->resp.grpc = true;
        r->resp.grpc_status = status == 200 ? 0 : 3;
        if (status != 200)
            memcpy(r->resp.grpc_message, "refused", 8);
    } else {
        r->resp.content_type = "application/x-protobuf";
    }
    /* A body, so that HTTP/2 answers go through the data provider too. */
    if (status == 200)
        kt_buf_append(&r->resp.body, "\x0a\x00", 2);
    r->responded = true;
}

/* Paths starting /r are refused from their headers alone, as an unknown route is. */
static void stub_headers(void *ctx, struct srv_req *r, int64_t content_length)
{
    (void)ctx;
    (void)content_length;
    if (r->path[0] == '/' && r->path[1] == 'r')
        answer(r, 404);
}

/* Odd requests are answered at once (the early refusal and the "received" path), even ones
 * a loop turn later. A request refused while arriving (early_status) is answered so. */
static void stub_handle(void *ctx, struct srv_req *r)
{
    struct stub *st = ctx;
    if (r->early_status != 0 || r->id % 2 == 1 || st->n_deferred == DEFERRED_MAX) {
        answer(r, r->early_status != 0 ? r->early_status : 200);
        srv_req_respond(r);
        return;
    }
    st->deferred[st->n_deferred++] = r;
}

static void stub_abandon(void *ctx, struct srv_req *r)
{
    struct stub *st = ctx;
    for (int i = 0; i < st->n_deferred; i++) {
        if (st->deferred[i] == r) {
            st->deferred[i] = st->deferred[--st->n_deferred];
            return;
        }
    }
    abort(); /* the layer abandoned a request the service never held */
}

static void stub_answer_deferred(struct stub *st)
{
    while (st->n_deferred > 0) {
        struct srv_req *r = st->deferred[--st->n_deferred];
        answer(r, 200);
        srv_req_respond(r);
    }
}

/* The client's end of the socketpair: plain, or a TLS session (tls) on it. */
struct client {
    int fd;
    struct kt_tls_conn *tls;
};

/* Reads and drops what the server sent; false once it closed. */
static bool drain(const struct client *cl)
{
    char b[16384];
    for (;;) {
        if (cl->tls != NULL) {
            struct kt_err err = {0};
            size_t n = 0;
            int rc = kt_tls_read(cl->tls, b, sizeof(b), &n, &err);
            if (rc == 0 && n > 0)
                continue;
            return rc == KT_EAGAIN;
        }
        ssize_t n = recv(cl->fd, b, sizeof(b), 0);
        if (n > 0)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

/* Sends from p what the client's end takes now: the count, 0 when it takes nothing. */
static size_t client_send(const struct client *cl, const uint8_t *p, size_t n)
{
    if (cl->tls != NULL) {
        struct kt_err err = {0};
        size_t put = 0;
        return kt_tls_write(cl->tls, p, n, &put, &err) == 0 ? put : 0;
    }
    ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
    return w > 0 ? (size_t)w : 0;
}

static void run(const struct srv_proto_ops *ops, struct kt_tls_ctx *server,
                struct kt_tls_ctx *client, const uint8_t *data, size_t size)
{
    static struct ev_loop *loop;
    if (loop == NULL && (loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
        abort();
    struct stub st = {0};
    const struct srv_service svc = {&st, stub_headers, stub_handle, stub_abandon};
    /* Small bounds, so that inputs reach them: 413, 431, 503, streams refused. */
    const struct srv_req_limits lim = {
        .max_request_bytes = 64 << 10,
        .max_header_bytes = 4 << 10,
        .max_concurrent_streams = 8,
        .body_budget = 256 << 10,
    };
    const struct conn_timeouts t = {.idle = 60, .header = 60, .body = 60};
    static const uint8_t addr[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};
    struct srv_reqs *rs = NULL;
    struct conn_list *l = NULL;
    int sv[2] = {-1, -1};
    if (srv_reqs_new(loop, &lim, &svc, &rs) != 0 || conn_list_new(loop, &t, 0, NULL, &l) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    struct conn *c = conn_new(l, sv[0], "fuzz", addr, server);
    void *p = c ? ops->init(c, rs) : NULL;
    if (p == NULL)
        abort();
    conn_start(c, ops, p);
    struct client cl = {.fd = sv[1]};
    if (client != NULL) {
        struct kt_err err = {0};
        if (kt_tls_conn_new(client, sv[1], NULL, &cl.tls, &err) != 0)
            abort();
        /* Both ends are ours and agree: a handshake that does not complete is a bug. */
        int rc = KT_EAGAIN;
        for (int turn = 0; rc == KT_EAGAIN && turn < TURNS_MAX; turn++) {
            bool want_write;
            rc = kt_tls_handshake(cl.tls, &want_write, &err);
            ev_run(loop, EVRUN_NOWAIT);
        }
        if (rc != 0)
            abort();
    }
    /* In two writes, so that a request may be cut anywhere between two reads. */
    size_t half = size / 2, off = 0;
    bool open = true;
    for (int turn = 0; open && turn < TURNS_MAX; turn++) {
        size_t end = off < half ? half : size;
        while (off < end) {
            size_t n = client_send(&cl, data + off, end - off);
            if (n == 0)
                break;
            off += n;
        }
        if (off == size) {
            if (cl.tls != NULL)
                kt_tls_close_notify(cl.tls);
            shutdown(sv[1], SHUT_WR);
        }
        ev_run(loop, EVRUN_NOWAIT);
        stub_answer_deferred(&st);
        ev_run(loop, EVRUN_NOWAIT);
        open = drain(&cl) && conn_list_count(l) > 0;
    }
    conn_list_free(l);
    srv_reqs_free(rs);
    kt_tls_conn_free(cl.tls);
    close(sv[1]);
}

void srv_harness_run(const struct srv_proto_ops *ops, const uint8_t *data, size_t size)
{
    run(ops, NULL, NULL, data, size);
}

void srv_harness_run_tls(const struct srv_proto_ops *ops, struct kt_tls_ctx *server,
                         struct kt_tls_ctx *client, const uint8_t *data, size_t size)
{
    run(ops, server, client, data, size);
}
