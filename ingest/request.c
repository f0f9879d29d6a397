/* The request layer (request.h): requests' lifetime, their bodies' storage, and the
 * hand-over between the protocols and the service. It reaches a request's protocol only
 * through its connection (conn_respond), and the service only through srv_service. */
#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "kt_err.h"

/* Bounds on the body pool: buffers kept, and bytes they hold in all. */
#define BODY_POOL_MAX 32
#define BODY_POOL_BYTES (8u << 20)
/* Most a request may reserve up front from its announced length (Content-Length, gRPC). */
#define BODY_RESERVE_MAX (4u << 20)

struct srv_reqs {
    struct ev_loop *loop;
    struct srv_req_limits lim;
    uint64_t body_bytes; /* storage of the bodies of live requests (not of the pool) */
    struct srv_service svc;
    uint64_t next_id;
    uint64_t pending; /* handed to the service and not yet answered */
    /* Storage of finished request bodies, kept for the next ones: blocks of this size
     * taken fresh from the allocator cost a page fault per 4 KiB each time. */
    struct kt_buf body_pool[BODY_POOL_MAX];
    int n_body_pool;
    size_t body_pool_bytes;
};

int srv_reqs_new(struct ev_loop *loop, const struct srv_req_limits *lim,
                 const struct srv_service *svc, struct srv_reqs **out)
{
    struct srv_reqs *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return KT_ENOMEM;
    rs->loop = loop;
    rs->lim = *lim;
    rs->svc = *svc;
    *out = rs;
    return 0;
}

void srv_reqs_free(struct srv_reqs *rs)
{
    if (rs == NULL)
        return;
    for (int i = 0; i < rs->n_body_pool; i++)
        kt_buf_free(&rs->body_pool[i]);
    free(rs);
}

/* Index of the meta key named name (any case), or -1. */
static int meta_key(const struct srv_req_limits *lim, const char *name, size_t n)
{
    size_t nk = lim->meta_keys != NULL ? lim->meta_keys->n : 0;
    for (size_t i = 0; i < nk; i++) {
        const char *k = lim->meta_keys->v[i];
        if (strlen(k) == n && strncasecmp(k, name, n) == 0)
            return (int)i;
    }
    if (lim->meta_topic_key != NULL && strlen(lim->meta_topic_key) == n &&
        strncasecmp(lim->meta_topic_key, name, n) == 0)
        return (int)nk;
    return -1;
}

void srv_req_header(struct srv_req *r, const char *name, size_t namelen, const uint8_t *value,
                    size_t valuelen, bool cont)
{
    if (r->meta_bad != 0)
        return;
    struct kt_buf *b = &r->meta;
    if (cont) {
        /* Only a kept value has an entry to continue. */
        if (b->len == 0 || r->meta_last + 3 > b->len || meta_key(&r->reqs->lim, name, namelen) < 0)
            return;
        uint8_t *e = b->p + r->meta_last;
        size_t have = (size_t)e[1] | (size_t)e[2] << 8;
        if (have + valuelen > INGEST_META_VALUE_MAX) {
            r->meta_bad = 1u + e[0];
            return;
        }
        if (kt_buf_append(b, value, valuelen) != 0) {
            r->meta_bad = 1u + e[0];
            return;
        }
        e = b->p + r->meta_last;
        e[1] = (uint8_t)(have + valuelen);
        e[2] = (uint8_t)((have + valuelen) >> 8);
        return;
    }
    int k = meta_key(&r->reqs->lim, name, namelen);
    if (k < 0)
        return;
    uint8_t hdr[3] = {(uint8_t)k, (uint8_t)valuelen, (uint8_t)(valuelen >> 8)};
    r->meta_last = b->len;
    /* Out of memory counts as too long: the request is refused rather than sent without a
     * value it carried. */
    if (valuelen > INGEST_META_VALUE_MAX || kt_buf_append(b, hdr, sizeof(hdr)) != 0 ||
        kt_buf_append(b, value, valuelen) != 0)
        r->meta_bad = 1u + (unsigned)k;
}

bool srv_req_meta_next(const struct srv_req *r, size_t *pos, unsigned *key, struct kt_slice *value)
{
    const struct kt_buf *b = &r->meta;
    if (*pos + 3 > b->len)
        return false;
    const uint8_t *e = b->p + *pos;
    size_t n = (size_t)e[1] | (size_t)e[2] << 8;
    *key = e[0];
    *value = (struct kt_slice){e + 3, n};
    *pos += 3 + n;
    return true;
}

void *srv_req_service(const struct srv_req *r)
{
    return r->reqs->svc.ctx;
}

const struct srv_req_limits *srv_reqs_limits(const struct srv_reqs *rs)
{
    return &rs->lim;
}

uint64_t srv_reqs_pending(const struct srv_reqs *rs)
{
    return rs->pending;
}

struct srv_req *srv_req_new(struct srv_reqs *rs, struct conn *c)
{
    struct srv_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->reqs = rs;
    r->conn = c;
    r->loop = rs->loop;
    r->peer = conn_peer(c);
    r->id = ++rs->next_id;
    r->started = ev_now(rs->loop);
    return r;
}

void srv_req_check_headers(struct srv_req *r, int64_t content_length)
{
    const struct srv_service *svc = &r->reqs->svc;
    r->headers_at = ev_now(r->loop);
    svc->headers(svc->ctx, r, content_length);
}

void srv_req_handle(struct srv_req *r)
{
    const struct srv_service *svc = &r->reqs->svc;
    r->handed = true;
    r->reqs->pending++;
    svc->handle(svc->ctx, r);
}

void srv_req_respond(struct srv_req *r)
{
    /* Counted before sending: the protocol may free r on the way. */
    if (r->handed) {
        r->handed = false;
        r->reqs->pending--;
    }
    conn_respond(r->conn, r);
}

/* Whether the bodies' storage may grow by n bytes. */
static bool budget_allows(const struct srv_reqs *rs, uint64_t n)
{
    return rs->lim.body_budget == 0 || n <= rs->lim.body_budget - rs->body_bytes;
}

void srv_req_expect_body(struct srv_req *r, uint64_t n)
{
    struct srv_reqs *rs = r->reqs;
    if (r->body.cap > 0 || n == 0 || n > rs->lim.max_request_bytes)
        return;
    /* The most recently pooled first: its memory is the likeliest to be in cache. */
    for (int i = rs->n_body_pool - 1; i >= 0; i--) {
        if (rs->body_pool[i].cap < n || !budget_allows(rs, rs->body_pool[i].cap))
            continue;
        r->body = rs->body_pool[i];
        rs->body_pool_bytes -= r->body.cap;
        rs->body_bytes += r->body.cap;
        rs->body_pool[i] = rs->body_pool[--rs->n_body_pool];
        return;
    }
    /* What a client announces is only reserved up to a bound, so that many connections
     * announcing large bodies they never send cannot tie up memory; past it the body grows
     * as it arrives. On failure too. */
    size_t want = n < BODY_RESERVE_MAX ? (size_t)n : BODY_RESERVE_MAX;
    if (!budget_allows(rs, want))
        return;
    kt_buf_reserve(&r->body, want);
    rs->body_bytes += r->body.cap;
}

int srv_req_body_add(struct srv_req *r, const void *p, size_t n)
{
    struct srv_reqs *rs = r->reqs;
    if (r->body.len + n > rs->lim.max_request_bytes) {
        /* Chunked bodies, and gRPC and HTTP/2 data, have no length to refuse up front. */
        r->early_status = 413;
        srv_req_release_body(r);
        return 413;
    }
    size_t before = r->body.cap;
    if (!budget_allows(rs, kt_buf_grown_cap(&r->body, n) - before)) {
        r->early_status = 503;
        srv_req_release_body(r);
        return 503;
    }
    if (kt_buf_append(&r->body, p, n) != 0)
        return KT_ENOMEM;
    rs->body_bytes += r->body.cap - before;
    return 0;
}

void srv_req_release_body(struct srv_req *r)
{
    struct srv_reqs *rs = r->reqs;
    size_t cap = r->body.cap;
    rs->body_bytes -= cap;
    if (cap > 0 && rs->n_body_pool < BODY_POOL_MAX &&
        cap <= BODY_POOL_BYTES - rs->body_pool_bytes) {
        r->body.len = 0;
        rs->body_pool[rs->n_body_pool++] = r->body;
        rs->body_pool_bytes += cap;
        r->body = (struct kt_buf)KT_BUF_INIT;
        return;
    }
    kt_buf_free(&r->body);
}

void srv_req_free(struct srv_req *r)
{
    if (r == NULL)
        return;
    if (r->handed) {
        const struct srv_service *svc = &r->reqs->svc;
        r->handed = false;
        r->reqs->pending--;
        svc->abandon(svc->ctx, r);
    }
    srv_req_release_body(r);
    kt_buf_free(&r->resp.body);
    kt_buf_free(&r->meta);
    free(r);
}
