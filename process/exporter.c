#include "exporter.h"

#include <ctype.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kt_grpc.h"
#include "kt_compress.h"
#include "kt_log.h"
#include "kt_otlp_json.h"
#include "kt_pb.h"
#include "kt_prom.h"
#include "kt_secret.h"
#include "otlp_client.h"

#ifndef KT_VERSION
#define KT_VERSION "0.0.0"
#endif

/* Bound on an inflated answer: answers are status messages. */
#define RESP_INFLATE_MAX (1u << 20)
#define GRPC_OUT_OF_RANGE 11
#define MAX_HEADERS 64
/* Largest header value read from a file ("Key=@/path"). */
#define HEADER_FILE_MAX 16384

struct exp_req {
    struct exp_req *next;
    struct exp_req *next_open; /* the signal's other open batches */
    struct exporter *owner;    /* for the batch timer */
    ev_timer batch_timer;
    enum kt_signal sig;
    /* The metadata values, for each key of headers_from_metadata: a byte 0 (absent) or 1, then
     * a present value and a NUL (values hold no NUL). Batches are told apart by it. */
    struct kt_buf meta;
    char *refuse;       /* not sendable: refused for good with this message, when its turn comes */
    struct kt_buf raw;  /* concatenated *Data messages, from raw_at */
    size_t raw_at;      /* KT_GRPC_PREFIX_LEN when raw keeps room for the gRPC message prefix
                         * in front (uncompressed gRPC: raw then becomes the body, no copy) */
    struct kt_buf wire; /* the request body as sent, built once for all attempts */
    bool encoded;
    size_t bytes; /* accounted in queued_bytes */
    size_t n_items;
    void **tokens;
    size_t *ends; /* where each token's data ends in raw, counted from raw_at */
    size_t n_tokens;
    size_t cap_tokens;
    ev_tstamp first_try; /* 0: not sent yet */
    unsigned attempts;
    double interval_ms; /* the next backoff interval before jitter; 0: not retried yet */
};

/* One lane of [exporter] max_in_flight: a connection and the request on it, in flight or
 * waiting to be retried (a request keeps its lane until it is finished, as a sending queue
 * consumer of the Collector retries its request before it takes the next). */
struct slot {
    struct exporter *e;
    struct backend *b;
    struct otlp_client *client;
    struct exp_req *req; /* NULL: free */
    bool waiting_retry;
    ev_timer retry_timer;
    ev_tstamp sent_at;
    /* The request's headers, borrowed by the client until its answer. */
    struct otlp_client_header headers[MAX_HEADERS + EXPORTER_META_MAX];
};

/* One origin (scheme, host, port) of the signals' endpoints: its own max_in_flight lanes and
 * queue, so a backend that is down holds back only the signals sent to it. */
struct backend {
    /* "scheme://host:port", for log lines and the backend_up label. */
    char origin[300];
    /* The configured URL that named it first (endpoint, else a signal's), for /readyz; borrowed
     * from the configuration. */
    const char *url;
    struct slot *slots; /* [exporter] max_in_flight of them */
    size_t n_slots;
    struct exp_req *head; /* sealed requests waiting for a free slot, in order */
    struct exp_req *tail;
    /* The last attempt got no answer (connection refused or lost, timeout, TLS or protocol
     * failure): why, for /readyz; cleared by the next answer. */
    bool unreachable;
    char unreachable_msg[KT_ERR_MSG_MAX];
    /* At most one line a second per kind, so a dead backend does not flood the log (nor
     * silence another's). */
    struct kt_log_limit rl_retry, rl_fail, rl_partial;
};

/* Counters of one signal's requests; exporter_get_stats sums them. */
struct sig_stats {
    uint64_t requests_ok, requests_retried, requests_refused, requests_gave_up;
    uint64_t items_exported;
    uint64_t items_rejected; /* partial_success */
    uint64_t items_refused;  /* in requests refused for good */
    uint64_t items_gave_up;  /* in requests given up after max_elapsed_time */
    uint64_t items_metadata; /* refused: metadata not sendable or past the cardinality limit */
    struct kt_hist duration; /* seconds from sending an attempt to its answer or failure */
};

struct exporter {
    const struct process_conf *conf;
    struct ev_loop *loop;
    exporter_done_fn done;
    exporter_refused_fn refused; /* NULL: refusals go to done */
    exporter_origin_fn origin;   /* NULL: log lines do not name the messages */
    void *ctx;
    /* The distinct origins of the signals' endpoints, and each signal's. */
    struct backend backends[KT_SIGNAL_COUNT];
    size_t n_backends;
    struct backend *backend_of[KT_SIGNAL_COUNT];
    int protocol;
    enum kt_compression comp;
    /* [exporter] headers_from_metadata as header names (lowercase for gRPC). */
    char meta_names[EXPORTER_META_MAX][128];
    size_t n_meta;
    char *paths[KT_SIGNAL_COUNT];
    struct otlp_client_header headers[MAX_HEADERS];
    size_t n_headers;
    struct kt_buf header_store; /* owns the strings headers point to */
    char grpc_timeout[24];

    struct exp_req *open[KT_SIGNAL_COUNT]; /* open batches, one per metadata value set */
    size_t n_open[KT_SIGNAL_COUNT];
    /* Bytes of the signal's last batch sealed: a new batch reserves that much at once
     * instead of growing by doubling, which copied each batch once more (3 MiB of a full
     * 8192-span batch). Not with headers_from_metadata, whose many small batches would
     * each reserve what the largest needed. */
    size_t raw_hint[KT_SIGNAL_COUNT];
    ev_timer kick;
    size_t queued_bytes;
    size_t congested_bytes; /* queued_bytes over this pause consumption */
    uint64_t rng;
    struct sig_stats stats[KT_SIGNAL_COUNT];
    bool closing; /* exporter_free is reporting tokens: no new work */
};

static double rand01(struct exporter *e)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return (double)((e->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ---- configuration ---- */

/* key: the option's name, for messages ("endpoint", "traces_endpoint", ...). */
static int parse_endpoint(const char *key, const char *ep, int protocol, char *host, size_t hcap,
                          char *port, size_t pcap, bool *tls, const char **path, struct kt_err *err)
{
#define BAD(why)                                                                                   \
    kt_err_set(err, KT_EINVAL,                                                                     \
               "[exporter] %s: want http://host:port[/path] or https://host:port[/path], "         \
               "got '%s' (%s)",                                                                    \
               key, ep, why)
    const char *p;
    if (strncasecmp(ep, "http://", 7) == 0) {
        *tls = false;
        p = ep + 7;
    } else if (strncasecmp(ep, "https://", 8) == 0) {
        *tls = true;
        p = ep + 8;
    } else {
        return BAD("scheme must be http or https");
    }
    size_t alen = strcspn(p, "/?#");
    if (p[alen] == '?' || p[alen] == '#')
        return BAD("no query or fragment allowed");
    if (memchr(p, '@', alen))
        return BAD("no user info allowed");
    const char *hs = p, *he;
    const char *colon;
    if (*p == '[') {
        he = memchr(p, ']', alen);
        if (he == NULL)
            return BAD("unclosed [");
        hs = p + 1;
        colon = he + 1 < p + alen && he[1] == ':' ? he + 1 : NULL;
        if (he + 1 < p + alen && colon == NULL)
            return BAD("junk after ]");
    } else {
        colon = memchr(p, ':', alen);
        he = colon ? colon : p + alen;
    }
    if (he == hs)
        return BAD("no host");
    if ((size_t)(he - hs) >= hcap)
        return BAD("host too long");
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (colon) {
        const char *ps = colon + 1, *pe = p + alen;
        if (ps == pe || (size_t)(pe - ps) > 5)
            return BAD("bad port");
        unsigned v = 0;
        for (const char *q = ps; q < pe; q++) {
            if (!isdigit((unsigned char)*q))
                return BAD("bad port");
            v = v * 10 + (unsigned)(*q - '0');
        }
        if (v == 0 || v > 65535)
            return BAD("port out of range");
        snprintf(port, pcap, "%u", v);
    } else {
        snprintf(port, pcap, "%s", *tls ? "443" : "80");
    }
    *path = p + alen;
    if (protocol == PROCESS_PROTO_GRPC && (*path)[0] && strcmp(*path, "/") != 0)
        return BAD("a path is not allowed with protocol grpc");
    return 0;
#undef BAD
}

static bool is_tchar(int ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool reserved_header(const char *k)
{
    static const char *const names[] = {
        "content-type", "content-length",    "content-encoding", "host",
        "te",           "transfer-encoding", "connection",       "grpc-encoding",
        "grpc-timeout", "keep-alive",        "upgrade"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(k, names[i]) == 0)
            return true;
    return false;
}

/* A header list being built: entries point into store (grown as values are added, so
 * entries hold offsets until hdrs_finish turns them into pointers). */
struct hdrs {
    struct otlp_client_header h[MAX_HEADERS];
    size_t name_off[MAX_HEADERS], value_off[MAX_HEADERS];
    bool fixed[MAX_HEADERS]; /* name and value are string literals, not in store */
    size_t n;
    struct kt_buf store;
};

static int hdrs_add_fixed(struct hdrs *l, const char *name, const char *value)
{
    if (l->n >= MAX_HEADERS)
        return KT_EINVAL;
    l->h[l->n].name = name;
    l->h[l->n].value = value;
    l->fixed[l->n++] = true;
    return 0;
}

static int hdrs_add(struct hdrs *l, const char *name, size_t nl, const char *value, size_t vl)
{
    if (l->n >= MAX_HEADERS)
        return KT_EINVAL;
    size_t at = l->store.len;
    if (kt_buf_reserve(&l->store, nl + vl + 2) != 0)
        return KT_ENOMEM;
    kt_buf_append(&l->store, name, nl);
    kt_buf_append(&l->store, "", 1);
    kt_buf_append(&l->store, value, vl);
    kt_buf_append(&l->store, "", 1);
    l->name_off[l->n] = at;
    l->value_off[l->n] = at + nl + 1;
    l->fixed[l->n++] = false;
    return 0;
}

static void hdrs_finish(struct hdrs *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->fixed[i]) {
            l->h[i].name = (const char *)l->store.p + l->name_off[i];
            l->h[i].value = (const char *)l->store.p + l->value_off[i];
        }
}

/* A value "@/path": the file's contents without trailing whitespace (an API key kept out of
 * the configuration, replaced on disk and re-read on SIGHUP). Errors name the header and
 * the file, never the contents. A file others may read is warned about (once per load). */
static int read_value_file(const char *key, const char *path, struct kt_buf *out,
                           struct kt_err *err)
{
    char what[192];
    snprintf(what, sizeof(what), "[exporter] headers: '%s'", key);
    int rc = kt_secret_read_file(what, path, HEADER_FILE_MAX, out, err);
    while (rc == 0 && out->len > 0 && isspace(out->p[out->len - 1]))
        out->len--;
    return rc;
}

/* The content-coding of each encoding, as the Collector's exporters name it: gRPC's snappy is
 * the framing format and HTTP's a block, both called "snappy". */
static const char *const comp_names[] = {
    [KT_COMPRESS_GZIP] = "gzip",
    [KT_COMPRESS_ZSTD] = "zstd",
    [KT_COMPRESS_SNAPPY] = "snappy",
    [KT_COMPRESS_SNAPPY_FRAMED] = "snappy",
};

/* Builds the header list every request carries into l: protocol headers, then the user's
 * ("Key=Value", or "Key=@/path" for a value read from a file). */
static int build_headers(struct exporter *e, struct hdrs *l, struct kt_err *err)
{
    const struct kt_strlist *hl = &e->conf->exporter.headers;
    bool grpc = e->protocol == PROCESS_PROTO_GRPC;
    if (grpc) {
        hdrs_add_fixed(l, "content-type", "application/grpc");
        hdrs_add_fixed(l, "te", "trailers");
        if (e->comp != KT_COMPRESS_NONE)
            hdrs_add_fixed(l, "grpc-encoding", comp_names[e->comp]);
        uint64_t t = e->conf->exporter.timeout_ms;
        if (t > 0 && t < 100000000) {
            snprintf(e->grpc_timeout, sizeof(e->grpc_timeout), "%llum", (unsigned long long)t);
            hdrs_add_fixed(l, "grpc-timeout", e->grpc_timeout);
        }
        hdrs_add_fixed(l, "user-agent", "kotel-process/" KT_VERSION);
    } else {
        hdrs_add_fixed(l, "Content-Type",
                       e->protocol == PROCESS_PROTO_HTTP_JSON ? "application/json"
                                                              : "application/x-protobuf");
        if (e->comp != KT_COMPRESS_NONE)
            hdrs_add_fixed(l, "Content-Encoding", comp_names[e->comp]);
        hdrs_add_fixed(l, "User-Agent", "kotel-process/" KT_VERSION);
    }
    struct kt_buf file = KT_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < hl->n; i++) {
        const char *ent = hl->v[i];
        const char *eq = strchr(ent, '=');
        if (eq == NULL) {
            rc = kt_err_set(err, KT_EINVAL,
                            "[exporter] headers: entry %zu: want Key=Value (no '=')", i + 1);
            goto out;
        }
        const char *ks = ent, *ke = eq;
        while (ks < ke && isspace((unsigned char)*ks))
            ks++;
        while (ke > ks && isspace((unsigned char)ke[-1]))
            ke--;
        const char *vs = eq + 1;
        while (isspace((unsigned char)*vs))
            vs++;
        size_t vl = strlen(vs);
        while (vl > 0 && isspace((unsigned char)vs[vl - 1]))
            vl--;
        if (ke == ks) {
            rc = kt_err_set(err, KT_EINVAL, "[exporter] headers: entry %zu: empty key", i + 1);
            goto out;
        }
        char key[128];
        size_t kl = (size_t)(ke - ks);
        if (kl >= sizeof(key)) {
            rc = kt_err_set(err, KT_EINVAL, "[exporter] headers: entry %zu: key over %zu bytes",
                            i + 1, sizeof(key) - 1);
            goto out;
        }
        for (size_t q = 0; q < kl; q++) {
            if (!is_tchar((unsigned char)ks[q])) {
                rc = kt_err_set(err, KT_EINVAL,
                                "[exporter] headers: '%.*s': invalid character in the key", (int)kl,
                                ks);
                goto out;
            }
            key[q] = grpc ? (char)tolower((unsigned char)ks[q]) : ks[q];
        }
        key[kl] = '\0';
        if (reserved_header(key) || strcasecmp(key, "user-agent") == 0) {
            rc = kt_err_set(err, KT_EINVAL, "[exporter] headers: '%s': set by the exporter itself",
                            key);
            goto out;
        }
        if (vl > 1 && vs[0] == '@') {
            char path[1024];
            snprintf(path, sizeof(path), "%.*s", (int)(vl - 1), vs + 1);
            if ((rc = read_value_file(key, path, &file, err)) != 0)
                goto out;
            vs = (const char *)file.p;
            vl = file.len;
        }
        /* The value is a secret (KT_OPT_SECRET): errors never echo it. */
        for (size_t k = 0; k < vl; k++)
            if ((unsigned char)vs[k] < 0x20 ? vs[k] != '\t' : vs[k] == 0x7f) {
                rc = kt_err_set(err, KT_EINVAL,
                                "[exporter] headers: '%s': control character in the value", key);
                goto out;
            }
        rc = hdrs_add(l, key, kl, vs, vl);
        if (rc == KT_ENOMEM) {
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            goto out;
        }
        if (rc != 0) {
            rc = kt_err_set(err, KT_EINVAL, "[exporter] headers: more than %d headers",
                            MAX_HEADERS - 8);
            goto out;
        }
    }
    hdrs_finish(l);
out:
    kt_buf_free(&file);
    return rc;
}

/* Makes l the exporter's header list (takes its store). Requests not sent yet carry the
 * new values; one being written has its header bytes copied already. */
static void use_headers(struct exporter *e, struct hdrs *l)
{
    memcpy(e->headers, l->h, l->n * sizeof(l->h[0]));
    e->n_headers = l->n;
    kt_buf_free(&e->header_store);
    e->header_store = l->store;
    l->store = (struct kt_buf)KT_BUF_INIT;
}

/* ---- requests ---- */

static void account(struct exporter *e, struct exp_req *r)
{
    size_t now = r->raw.cap + r->wire.cap;
    e->queued_bytes = e->queued_bytes - r->bytes + now;
    r->bytes = now;
}

static void req_free(struct exporter *e, struct exp_req *r)
{
    e->queued_bytes -= r->bytes;
    ev_timer_stop(e->loop, &r->batch_timer);
    kt_buf_free(&r->raw);
    kt_buf_free(&r->wire);
    kt_buf_free(&r->meta);
    free(r->refuse);
    free(r->tokens);
    free(r->ends);
    free(r);
}

/* The request's *Data bytes again, from the wire body once encode() released them: a
 * refused request is rare, so its data is rebuilt rather than kept twice. */
static int recover_raw(const struct exporter *e, const struct exp_req *r, struct kt_buf *out)
{
    if (!r->encoded)
        return kt_buf_append(out, r->raw.p + r->raw_at, r->raw.len - r->raw_at);
    struct kt_slice w = kt_buf_slice(&r->wire);
    if (e->protocol == PROCESS_PROTO_GRPC) {
        w.p += KT_GRPC_PREFIX_LEN;
        w.n -= KT_GRPC_PREFIX_LEN;
    }
    struct kt_buf tmp = KT_BUF_INIT;
    int rc = 0;
    if (e->comp != KT_COMPRESS_NONE) {
        rc = kt_decompress(e->comp, w, (size_t)1 << 31, &tmp, NULL);
        w = kt_buf_slice(&tmp);
    }
    if (rc == 0)
        rc = e->protocol == PROCESS_PROTO_HTTP_JSON
                 ? kt_otlp_json_to_proto(r->sig, (const char *)w.p, w.n, out, NULL)
                 : kt_buf_append(out, w.p, w.n);
    kt_buf_free(&tmp);
    return rc;
}

/* Reports every token of r and frees it; r is already off every list. */
static void req_finish(struct exporter *e, struct exp_req *r, int status, const char *msg)
{
    if (status == KT_EINVAL && e->refused != NULL) {
        struct kt_buf data = KT_BUF_INIT;
        if (recover_raw(e, r, &data) == 0) {
            void **toks = r->tokens;
            size_t *ends = r->ends;
            size_t nt = r->n_tokens;
            enum kt_signal sig = r->sig;
            r->tokens = NULL;
            r->ends = NULL;
            req_free(e, r);
            /* OTLP/JSON recovered is converted, so its pieces are not where they were. */
            e->refused(e->ctx, sig, kt_buf_slice(&data), toks,
                       e->protocol == PROCESS_PROTO_HTTP_JSON ? NULL : ends, nt, msg);
            kt_buf_free(&data);
            free(toks);
            free(ends);
            return;
        }
        kt_buf_free(&data);
    }
    void **tokens = r->tokens;
    size_t n = r->n_tokens;
    r->tokens = NULL;
    req_free(e, r);
    for (size_t i = 0; i < n; i++)
        e->done(e->ctx, tokens[i], status, msg);
    free(tokens);
}

static struct exp_req *queue_pop(struct backend *b)
{
    struct exp_req *r = b->head;
    b->head = r->next;
    if (b->head == NULL)
        b->tail = NULL;
    r->next = NULL;
    return r;
}

static void kick(struct exporter *e)
{
    if (!ev_is_active(&e->kick)) {
        ev_timer_set(&e->kick, 0., 0.);
        ev_timer_start(e->loop, &e->kick);
    }
}

/* Queues r on its signal's backend. */
static void enqueue(struct exporter *e, struct exp_req *r)
{
    struct backend *b = e->backend_of[r->sig];
    if (b->tail)
        b->tail->next = r;
    else
        b->head = r;
    b->tail = r;
    kick(e);
}

/* Closes the open batch r and queues it. */
static void seal(struct exporter *e, struct exp_req *r)
{
    ev_timer_stop(e->loop, &r->batch_timer);
    if (e->n_meta == 0)
        e->raw_hint[r->sig] = r->raw.len;
    struct exp_req **pp = &e->open[r->sig];
    while (*pp != r)
        pp = &(*pp)->next_open;
    *pp = r->next_open;
    r->next_open = NULL;
    e->n_open[r->sig]--;
    enqueue(e, r);
}

static void seal_all(struct exporter *e, enum kt_signal sig)
{
    while (e->open[sig])
        seal(e, e->open[sig]);
}

/* Builds the body as it goes on the wire: gRPC frame and/or compression, or OTLP/JSON. */
static int encode(struct exporter *e, struct exp_req *r, struct kt_err *err)
{
    struct kt_buf json = KT_BUF_INIT;
    struct kt_slice src = {r->raw.p + r->raw_at, r->raw.len - r->raw_at};
    int rc = 0;
    bool in_place = r->raw_at == KT_GRPC_PREFIX_LEN && e->protocol == PROCESS_PROTO_GRPC &&
                    e->comp == KT_COMPRESS_NONE;
    if (e->protocol == PROCESS_PROTO_HTTP_JSON) {
        rc = kt_otlp_proto_to_json(r->sig, src, &json, err);
        if (rc != 0) {
            kt_err_prefix(err, "cannot write the batch as OTLP/JSON: ");
            goto out;
        }
        src = kt_buf_slice(&json);
    }
    if (in_place) {
        r->wire = r->raw; /* the prefix is written into the room kept for it */
        r->raw = (struct kt_buf)KT_BUF_INIT;
    } else if (e->protocol == PROCESS_PROTO_GRPC) {
        rc = kt_grpc_frame_prefix(&r->wire, 0);
        if (rc == 0)
            rc = kt_compress(e->comp, src, &r->wire, err);
    }
    if (e->protocol == PROCESS_PROTO_GRPC) {
        if (rc == 0) {
            size_t len = r->wire.len - KT_GRPC_PREFIX_LEN;
            if (len > UINT32_MAX) {
                rc = kt_err_set(err, KT_ETOOBIG, "batch of %zu bytes is too large for gRPC", len);
                goto out;
            }
            r->wire.p[0] = e->comp != KT_COMPRESS_NONE ? 1 : 0;
            r->wire.p[1] = (uint8_t)(len >> 24);
            r->wire.p[2] = (uint8_t)(len >> 16);
            r->wire.p[3] = (uint8_t)(len >> 8);
            r->wire.p[4] = (uint8_t)len;
        }
    } else if (e->comp != KT_COMPRESS_NONE) {
        rc = kt_compress(e->comp, src, &r->wire, err);
    } else if (json.p) {
        r->wire = json; /* hand over, no copy */
        json = (struct kt_buf)KT_BUF_INIT;
    } else if (r->raw_at != 0) { /* kept room for a prefix, and a reload left gRPC since */
        rc = kt_buf_append(&r->wire, src.p, src.n);
    } else {
        r->wire = r->raw;
        r->raw = (struct kt_buf)KT_BUF_INIT;
    }
    if (rc != 0 && err->msg[0] == '\0')
        kt_err_set(err, rc, "out of memory encoding the batch");
out:
    kt_buf_free(&json);
    kt_buf_free(&r->raw);
    r->encoded = rc == 0;
    account(e, r);
    return rc;
}

/* Where r's data came from, for its log lines: "from TOPIC [P] offsets A..B, ..." or "". */
static const char *origin_of(const struct exporter *e, const struct exp_req *r, char *buf,
                             size_t cap)
{
    buf[0] = '\0';
    if (e->origin == NULL || r->n_tokens == 0)
        return buf;
    memcpy(buf, " from ", 7);
    e->origin(e->ctx, r->tokens, r->n_tokens, buf + 6, cap - 6);
    return buf;
}

/* Fills h for r: the exporter's headers, then r's metadata values (borrowed from r). */
static size_t request_headers(struct exporter *e, const struct exp_req *r,
                              struct otlp_client_header *h)
{
    memcpy(h, e->headers, e->n_headers * sizeof(e->headers[0]));
    size_t n = e->n_headers;
    const char *m = (const char *)r->meta.p;
    for (size_t i = 0; i < e->n_meta && m != NULL; i++) {
        if (*m++ == 0)
            continue;
        h[n++] = (struct otlp_client_header){e->meta_names[i], m};
        m += strlen(m) + 1;
    }
    return n;
}

/* Sends the slot's request (again). */
static void slot_send(struct slot *s)
{
    struct exporter *e = s->e;
    struct exp_req *r = s->req;
    struct otlp_client_req cr = {
        .path = e->paths[r->sig],
        .headers = s->headers,
        .n_headers = request_headers(e, r, s->headers),
        .body = kt_buf_slice(&r->wire),
    };
    if (r->first_try == 0)
        r->first_try = ev_now(e->loop);
    /* The slot's client is idle: its request was answered or is yet to be sent. */
    otlp_client_send(s->client, &cr);
    s->sent_at = ev_time();
}

static struct slot *free_slot(struct backend *b)
{
    for (size_t i = 0; i < b->n_slots; i++)
        if (b->slots[i].req == NULL)
            return &b->slots[i];
    return NULL;
}

static void pump_backend(struct exporter *e, struct backend *b)
{
    while (b->head) {
        struct exp_req *r = b->head;
        if (r->refuse != NULL) {
            char msg[KT_ERR_MSG_MAX], from[EXPORTER_ORIGIN_MAX];
            snprintf(msg, sizeof(msg), "%s", r->refuse);
            kt_log_limited(&b->rl_fail, KT_LOG_ERROR, "export of %zu %s%s refused: %s", r->n_items,
                           kt_signal_item_name(r->sig), origin_of(e, r, from, sizeof(from)), msg);
            e->stats[r->sig].items_metadata += r->n_items;
            req_finish(e, queue_pop(b), KT_EINVAL, msg);
            continue;
        }
        if (!r->encoded) {
            struct kt_err err = {0};
            if (encode(e, r, &err) != 0) {
                char from[EXPORTER_ORIGIN_MAX];
                kt_error("export of %zu %s%s dropped: %s", r->n_items, kt_signal_item_name(r->sig),
                         origin_of(e, r, from, sizeof(from)), err.msg);
                e->stats[r->sig].requests_refused++;
                e->stats[r->sig].items_refused += r->n_items;
                req_finish(e, queue_pop(b), KT_EINVAL, err.msg);
                continue;
            }
        }
        struct slot *s = free_slot(b);
        if (s == NULL)
            return; /* an answer pumps again */
        s->req = queue_pop(b);
        slot_send(s);
    }
}

static void pump(struct exporter *e)
{
    for (size_t i = 0; i < e->n_backends; i++)
        pump_backend(e, &e->backends[i]);
}

/* ---- answers ---- */

static void copy_text(char *dst, size_t cap, struct kt_slice s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (s.p[i] >= 0x20 && s.p[i] != 0x7f) || s.p[i] >= 0x80 ? (char)s.p[i] : ' ';
    dst[n] = '\0';
}

/* google.rpc.Status.details: the delay of a google.rpc.RetryInfo, in ms, or -1. */
static int64_t retry_info_ms(struct kt_slice status)
{
    static const char want[] = "type.googleapis.com/google.rpc.RetryInfo";
    struct kt_pb b = kt_pb_of(status);
    struct kt_pb_field f;
    while (kt_pb_next(&b, &f)) {
        if (f.num != 3 || f.wt != KT_PB_LEN)
            continue;
        struct kt_pb any = kt_pb_of(f.bytes);
        struct kt_slice type = {NULL, 0}, value = {NULL, 0};
        while (kt_pb_next(&any, &f)) {
            if (f.num == 1 && f.wt == KT_PB_LEN)
                type = f.bytes;
            else if (f.num == 2 && f.wt == KT_PB_LEN)
                value = f.bytes;
        }
        if (type.n != sizeof(want) - 1 || memcmp(type.p, want, type.n) != 0)
            continue;
        /* RetryInfo{retry_delay = 1: Duration{seconds = 1, nanos = 2}} */
        int64_t secs = 0, nanos = 0;
        struct kt_pb ri = kt_pb_of(value);
        while (kt_pb_next(&ri, &f)) {
            if (f.num != 1 || f.wt != KT_PB_LEN)
                continue;
            struct kt_pb d = kt_pb_of(f.bytes);
            while (kt_pb_next(&d, &f)) {
                if (f.num == 1 && f.wt == KT_PB_VARINT)
                    secs = (int64_t)f.v;
                else if (f.num == 2 && f.wt == KT_PB_VARINT)
                    nanos = (int32_t)f.v;
            }
        }
        if (secs < 0 || nanos < 0)
            return 0;
        if (secs > 86400 * 365)
            secs = 86400 * 365;
        return secs * 1000 + nanos / 1000000;
    }
    return -1;
}

/* Export*ServiceResponse.partial_success (field 1): rejected count (1) and message (2). */
static void parse_partial_pb(struct kt_slice body, uint64_t *rejected, char *msg, size_t cap)
{
    struct kt_pb b = kt_pb_of(body);
    struct kt_pb_field f;
    while (kt_pb_next(&b, &f)) {
        if (f.num != 1 || f.wt != KT_PB_LEN)
            continue;
        struct kt_pb ps = kt_pb_of(f.bytes);
        while (kt_pb_next(&ps, &f)) {
            if (f.num == 1 && f.wt == KT_PB_VARINT)
                *rejected = f.v;
            else if (f.num == 2 && f.wt == KT_PB_LEN)
                copy_text(msg, cap, f.bytes);
        }
    }
}

static void parse_partial_json(enum kt_signal sig, struct kt_slice body, uint64_t *rejected,
                               char *msg, size_t cap)
{
    static const char *const counts[KT_SIGNAL_COUNT] = {"rejectedSpans", "rejectedDataPoints",
                                                        "rejectedLogRecords"};
    json_t *root = json_loadb((const char *)body.p, body.n, 0, NULL);
    if (root == NULL)
        return;
    json_t *ps = json_object_get(root, "partialSuccess");
    if (ps == NULL)
        ps = json_object_get(root, "partial_success");
    if (json_is_object(ps)) {
        json_t *n = json_object_get(ps, counts[sig]);
        if (json_is_integer(n) && json_integer_value(n) > 0)
            *rejected = (uint64_t)json_integer_value(n);
        else if (json_is_string(n))
            *rejected = strtoull(json_string_value(n), NULL, 10);
        json_t *m = json_object_get(ps, "errorMessage");
        if (json_is_string(m))
            snprintf(msg, cap, "%s", json_string_value(m));
    }
    json_decref(root);
}

/* The message of a google.rpc.Status answer (protobuf or JSON), else the body as text. */
static void http_error_message(const struct otlp_client_resp *rs, struct kt_slice body, char *msg,
                               size_t cap)
{
    msg[0] = '\0';
    if (strncasecmp(rs->content_type, "application/json", 16) == 0) {
        json_t *root = json_loadb((const char *)body.p, body.n, 0, NULL);
        json_t *m = root ? json_object_get(root, "message") : NULL;
        if (json_is_string(m))
            snprintf(msg, cap, "%s", json_string_value(m));
        json_decref(root);
    } else if (strncasecmp(rs->content_type, "application/x-protobuf", 22) == 0 ||
               strncasecmp(rs->content_type, "application/protobuf", 20) == 0) {
        struct kt_pb b = kt_pb_of(body);
        struct kt_pb_field f;
        while (kt_pb_next(&b, &f))
            if (f.num == 2 && f.wt == KT_PB_LEN)
                copy_text(msg, cap, f.bytes);
    }
    if (msg[0] == '\0' && body.n > 0) {
        struct kt_slice t = {body.p, body.n > 200 ? 200 : body.n};
        copy_text(msg, cap, t);
    }
}

enum verdict { V_OK, V_RETRY, V_PERMANENT };

struct outcome {
    enum verdict v;
    int64_t delay_ms; /* server-given, -1: none */
    char msg[KT_ERR_MSG_MAX];
    uint64_t rejected;
    char partial_msg[256];
};

static bool grpc_retryable(int code)
{
    return code == KT_GRPC_CANCELLED || code == KT_GRPC_DEADLINE_EXCEEDED ||
           code == KT_GRPC_ABORTED || code == GRPC_OUT_OF_RANGE || code == KT_GRPC_UNAVAILABLE ||
           code == KT_GRPC_DATA_LOSS;
}

static bool http_retryable(int status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static void classify(struct exporter *e, const struct exp_req *r, const struct otlp_client_resp *rs,
                     struct outcome *o)
{
    o->delay_ms = -1;
    o->rejected = 0;
    o->msg[0] = o->partial_msg[0] = '\0';
    if (rs->error) {
        o->v = V_RETRY;
        snprintf(o->msg, sizeof(o->msg), "%s", rs->error_msg);
        return;
    }
    struct kt_slice body = rs->body;
    struct kt_buf inflated = KT_BUF_INIT;
    struct kt_err err = {0};
    bool grpc = e->protocol == PROCESS_PROTO_GRPC;
    if (grpc) {
        int code = rs->grpc_status;
        if (code < 0) {
            /* No gRPC status: an HTTP intermediary answered (gRPC's HTTP-to-status map). */
            o->v = http_retryable(rs->http_status) ? V_RETRY : V_PERMANENT;
            if (o->v == V_RETRY && rs->retry_after_s >= 0)
                o->delay_ms = rs->retry_after_s * 1000;
            snprintf(o->msg, sizeof(o->msg), "HTTP %d without grpc-status", rs->http_status);
            return;
        }
        if (code == KT_GRPC_OK) {
            o->v = V_OK;
            struct kt_slice msg;
            bool compressed;
            if (body.n >= KT_GRPC_PREFIX_LEN &&
                kt_grpc_frame_parse(body, RESP_INFLATE_MAX, &msg, &compressed, &err) == 0) {
                int c = kt_compression_of(rs->content_encoding, true);
                if (compressed && c > 0 &&
                    kt_decompress((enum kt_compression)c, msg, RESP_INFLATE_MAX, &inflated, &err) ==
                        0)
                    msg = kt_buf_slice(&inflated);
                else if (compressed)
                    msg.n = 0;
                parse_partial_pb(msg, &o->rejected, o->partial_msg, sizeof(o->partial_msg));
            }
            kt_buf_free(&inflated);
            return;
        }
        int64_t ri = rs->grpc_details.n ? retry_info_ms(rs->grpc_details) : -1;
        if (grpc_retryable(code) || (code == KT_GRPC_RESOURCE_EXHAUSTED && ri >= 0)) {
            o->v = V_RETRY;
            o->delay_ms = ri;
        } else {
            o->v = V_PERMANENT;
        }
        snprintf(o->msg, sizeof(o->msg), "%s%s%s", kt_grpc_status_name(code),
                 rs->grpc_message[0] ? ": " : "", rs->grpc_message);
        return;
    }
    int coding = kt_compression_of(rs->content_encoding, false);
    if (coding > 0 && body.n > 0) {
        if (kt_decompress((enum kt_compression)coding, body, RESP_INFLATE_MAX, &inflated, &err) ==
            0)
            body = kt_buf_slice(&inflated);
        else
            body.n = 0;
    }
    int st = rs->http_status;
    if (st >= 200 && st < 300) {
        o->v = V_OK;
        if (strncasecmp(rs->content_type, "application/json", 16) == 0)
            parse_partial_json(r->sig, body, &o->rejected, o->partial_msg, sizeof(o->partial_msg));
        else
            parse_partial_pb(body, &o->rejected, o->partial_msg, sizeof(o->partial_msg));
    } else {
        char m[400];
        http_error_message(rs, body, m, sizeof(m));
        snprintf(o->msg, sizeof(o->msg), "HTTP %d%s%s", st, m[0] ? ": " : "", m);
        o->v = http_retryable(st) ? V_RETRY : V_PERMANENT;
        if (o->v == V_RETRY && rs->retry_after_s >= 0)
            o->delay_ms = rs->retry_after_s * 1000;
    }
    kt_buf_free(&inflated);
}

/* The slot's request is finished: the slot takes the next. */
static void slot_finish(struct slot *s, int status, const char *msg)
{
    struct exp_req *r = s->req;
    s->req = NULL;
    req_finish(s->e, r, status, msg);
    pump_backend(s->e, s->b);
}

static void on_answer(void *ctx, const struct otlp_client_resp *rs)
{
    struct slot *sl = ctx;
    struct exporter *e = sl->e;
    struct exp_req *r = sl->req;
    if (r == NULL)
        return;
    struct sig_stats *st = &e->stats[r->sig];
    kt_hist_observe(&st->duration, ev_time() - sl->sent_at);
    struct backend *b = sl->b;
    b->unreachable = rs->error != 0;
    if (b->unreachable)
        snprintf(b->unreachable_msg, sizeof(b->unreachable_msg), "%s", rs->error_msg);
    struct outcome o;
    classify(e, r, rs, &o);
    const char *sig = kt_signal_name(r->sig);
    const char *item = kt_signal_item_name(r->sig);
    char from[EXPORTER_ORIGIN_MAX];
    if (o.v == V_OK) {
        uint64_t rej = o.rejected > r->n_items ? r->n_items : o.rejected;
        st->requests_ok++;
        st->items_exported += r->n_items - rej;
        st->items_rejected += rej;
        if (rej || o.partial_msg[0])
            kt_log_limited(&b->rl_partial, KT_LOG_WARN,
                           "export of %zu %s%s: backend accepted the request but rejected "
                           "%llu: %s",
                           r->n_items, item, origin_of(e, r, from, sizeof(from)),
                           (unsigned long long)o.rejected,
                           o.partial_msg[0] ? o.partial_msg : "no message");
        slot_finish(sl, 0, NULL);
        return;
    }
    if (o.v == V_RETRY) {
        const struct process_conf *c = e->conf;
        uint64_t delay;
        if (o.delay_ms >= 0) {
            delay = (uint64_t)o.delay_ms;
        } else {
            if (r->interval_ms == 0)
                r->interval_ms = (double)c->retry.initial_interval_ms;
            double f = c->retry.randomization_factor;
            delay = (uint64_t)(r->interval_ms * (1.0 - f + 2.0 * f * rand01(e)));
            /* max_interval 0 bounds nothing: the interval grows (to a day at most). */
            double max = c->retry.max_interval_ms > 0 ? (double)c->retry.max_interval_ms : 86400e3;
            r->interval_ms *= c->retry.multiplier;
            if (r->interval_ms > max)
                r->interval_ms = max;
            if (delay > c->retry.max_interval_ms && c->retry.max_interval_ms > 0)
                delay = c->retry.max_interval_ms;
        }
        double elapsed = ev_now(e->loop) - r->first_try;
        if (c->retry.max_elapsed_time_ms > 0 &&
            elapsed * 1000.0 + (double)delay > (double)c->retry.max_elapsed_time_ms) {
            char msg[KT_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof(msg), "gave up after %.1fs and %u attempts: %s", elapsed,
                     r->attempts + 1, o.msg);
            st->requests_gave_up++;
            st->items_gave_up += r->n_items;
            kt_log_limited(&b->rl_fail, KT_LOG_ERROR,
                           "export of %zu %s (%s)%s to %s%s %s ([exporter.retry] "
                           "max_elapsed_time %llums)",
                           r->n_items, item, sig, origin_of(e, r, from, sizeof(from)), b->origin,
                           e->paths[r->sig], msg, (unsigned long long)c->retry.max_elapsed_time_ms);
            slot_finish(sl, KT_EINVAL, msg);
            return;
        }
        r->attempts++;
        st->requests_retried++;
        kt_log_limited(&b->rl_retry, KT_LOG_WARN,
                       "export of %zu %s (%s)%s to %s%s failed: %s; retry %u in %.3fs%s",
                       r->n_items, item, sig, origin_of(e, r, from, sizeof(from)), b->origin,
                       e->paths[r->sig], o.msg, r->attempts, (double)delay / 1000.0,
                       o.delay_ms >= 0 ? " as the backend asked" : "");
        sl->waiting_retry = true;
        ev_timer_set(&sl->retry_timer, (double)delay / 1000.0, 0.);
        ev_timer_start(e->loop, &sl->retry_timer);
        return;
    }
    st->requests_refused++;
    st->items_refused += r->n_items;
    kt_log_limited(&b->rl_fail, KT_LOG_ERROR,
                   "export of %zu %s (%s)%s to %s%s refused by the backend, not retried: %s",
                   r->n_items, item, sig, origin_of(e, r, from, sizeof(from)), b->origin,
                   e->paths[r->sig], o.msg);
    slot_finish(sl, KT_EINVAL, o.msg);
}

/* ---- timers ---- */

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pump(w->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct slot *s = w->data;
    s->waiting_retry = false;
    slot_send(s);
}

static void batch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct exp_req *r = w->data;
    seal(r->owner, r);
}

/* ---- public ---- */

static struct kt_tls_client_opts tls_opts_of(const struct process_conf *conf)
{
    return (struct kt_tls_client_opts){
        .ca_file = conf->exporter_tls.ca_file,
        .cert_file = conf->exporter_tls.cert_file,
        .key_file = conf->exporter_tls.key_file,
        .min_version = conf->exporter_tls.min_version == 1 ? "1.3" : "1.2",
        .insecure = conf->exporter_tls.insecure_skip_verify,
        .section = "[exporter.tls]",
    };
}

int exporter_reload(struct exporter *e, struct kt_err *err)
{
    struct hdrs *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    int rc = build_headers(e, l, err);
    if (rc == 0)
        use_headers(e, l);
    kt_buf_free(&l->store);
    free(l);
    return rc;
}

/* One origin of the configured endpoints. */
struct origin {
    char host[256], port[8];
    bool tls;
    const char *url; /* the configured URL that named it first */
};

/* [exporter] endpoint and the per-signal endpoints, taken apart and grouped by origin. */
struct endpoint {
    struct origin origin[KT_SIGNAL_COUNT]; /* the distinct origins the signals use */
    size_t n_origins;
    int origin_of[KT_SIGNAL_COUNT];           /* index into origin */
    const char *path;                         /* endpoint's, into the configuration's string */
    const char *signal_path[KT_SIGNAL_COUNT]; /* NULL: path + /v1/<signal>; else the whole path */
};

static const char *const signal_endpoint_keys[KT_SIGNAL_COUNT] = {
    "traces_endpoint", "metrics_endpoint", "logs_endpoint"};

/* The index of o in ep's origins, added when new. Hosts have no case (RFC 3986 3.2.2). */
static int origin_index(struct endpoint *ep, const struct origin *o)
{
    for (size_t i = 0; i < ep->n_origins; i++) {
        const struct origin *x = &ep->origin[i];
        if (x->tls == o->tls && strcasecmp(x->host, o->host) == 0 && strcmp(x->port, o->port) == 0)
            return (int)i;
    }
    ep->origin[ep->n_origins] = *o;
    return (int)ep->n_origins++;
}

static int conf_endpoint(const struct process_conf *conf, struct endpoint *ep, struct kt_err *err)
{
    memset(ep, 0, sizeof(*ep));
    ep->path = "";
    struct origin main = {.url = conf->exporter.endpoint ? conf->exporter.endpoint : ""};
    int rc =
        parse_endpoint("endpoint", main.url, conf->exporter.protocol, main.host, sizeof(main.host),
                       main.port, sizeof(main.port), &main.tls, &ep->path, err);
    for (int s = 0; rc == 0 && s < KT_SIGNAL_COUNT; s++) {
        const char *v = conf->exporter.signal_endpoints[s];
        const char *key = signal_endpoint_keys[s];
        if (v == NULL || v[0] == '\0') {
            ep->origin_of[s] = origin_index(ep, &main);
            continue;
        }
        /* The Collector's otlp (gRPC) exporter has no per-signal endpoints either: a gRPC
         * service is reached at its method's path on the one endpoint. */
        if (conf->exporter.protocol == PROCESS_PROTO_GRPC)
            return kt_err_set(err, KT_EINVAL,
                              "[exporter] %s: only for the HTTP protocols (http/protobuf, "
                              "http/json); with protocol grpc every signal goes to endpoint, to "
                              "its service's method",
                              key);
        struct origin o = {.url = v};
        const char *path = "";
        rc = parse_endpoint(key, v, conf->exporter.protocol, o.host, sizeof(o.host), o.port,
                            sizeof(o.port), &o.tls, &path, err);
        ep->origin_of[s] = origin_index(ep, &o);
        ep->signal_path[s] = path[0] != '\0' ? path : "/";
    }
    return rc;
}

/* [exporter] headers_from_metadata: header names the exporter does not set itself, each once. */
static int check_meta_keys(const struct process_conf *conf, struct kt_err *err)
{
    const struct kt_strlist *mk = &conf->exporter.headers_from_metadata;
    if (mk->n > EXPORTER_META_MAX)
        return kt_err_set(err, KT_EINVAL,
                          "[exporter] headers_from_metadata: %zu keys, want at most %d", mk->n,
                          EXPORTER_META_MAX);
    for (size_t i = 0; i < mk->n; i++) {
        const char *k = mk->v[i];
        size_t n = strlen(k);
        if (n == 0 || n >= sizeof(((struct exporter *)NULL)->meta_names[0]))
            return kt_err_set(err, KT_EINVAL,
                              "[exporter] headers_from_metadata: '%s': want 1 to 127 characters",
                              k);
        for (size_t q = 0; q < n; q++)
            if (!is_tchar((unsigned char)k[q]))
                return kt_err_set(err, KT_EINVAL,
                                  "[exporter] headers_from_metadata: '%s': invalid character in a "
                                  "header name",
                                  k);
        if (reserved_header(k) || strcasecmp(k, "user-agent") == 0)
            return kt_err_set(err, KT_EINVAL,
                              "[exporter] headers_from_metadata: '%s': set by the exporter itself",
                              k);
        /* One value per header: a static one beside would send the name twice. */
        const struct kt_strlist *hl = &conf->exporter.headers;
        for (size_t j = 0; j < hl->n; j++) {
            const char *h = hl->v[j];
            while (isspace((unsigned char)*h))
                h++;
            if (strncasecmp(h, k, n) == 0 && (h[n] == '=' || isspace((unsigned char)h[n])))
                return kt_err_set(err, KT_EINVAL,
                                  "[exporter] headers_from_metadata: '%s': also set in [exporter] "
                                  "headers; a request carries one value",
                                  k);
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(k, mk->v[j]) == 0)
                return kt_err_set(err, KT_EINVAL,
                                  "[exporter] headers_from_metadata: '%s': listed twice (names "
                                  "have no case)",
                                  k);
    }
    return 0;
}

int exporter_check(const struct process_conf *conf, struct kt_err *err)
{
    struct endpoint ep;
    int rc = check_meta_keys(conf, err);
    if (rc == 0)
        rc = conf_endpoint(conf, &ep, err);
    bool tls = false;
    for (size_t i = 0; rc == 0 && i < ep.n_origins; i++)
        tls |= ep.origin[i].tls;
    if (rc != 0 || !tls)
        return rc;
    struct kt_tls_client_opts o = tls_opts_of(conf);
    struct kt_tls_ctx *ctx = NULL;
    rc = kt_tls_ctx_new(&o, &ctx, err);
    kt_tls_ctx_free(ctx);
    return rc;
}

int exporter_new(const struct process_conf *conf, struct ev_loop *loop, exporter_done_fn done,
                 void *ctx, struct exporter **out, struct kt_err *err)
{
    struct endpoint ep;
    int rc = check_meta_keys(conf, err);
    if (rc == 0)
        rc = conf_endpoint(conf, &ep, err);
    if (rc != 0)
        return rc;
    const char *path = ep.path;
    struct exporter *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    e->conf = conf;
    e->loop = loop;
    e->done = done;
    e->ctx = ctx;
    e->protocol = conf->exporter.protocol;
    static const enum kt_compression comp_of[] = {
        [PROCESS_COMP_GZIP] = KT_COMPRESS_GZIP,
        [PROCESS_COMP_NONE] = KT_COMPRESS_NONE,
        [PROCESS_COMP_ZSTD] = KT_COMPRESS_ZSTD,
        [PROCESS_COMP_SNAPPY] = KT_COMPRESS_SNAPPY,
    };
    e->comp = comp_of[conf->exporter.compression];
    /* gRPC's snappy compressor writes the framing format (grpc-go-compression's, the
     * Collector's); HTTP's Content-Encoding snappy is one block (confighttp). */
    if (e->comp == KT_COMPRESS_SNAPPY && e->protocol == PROCESS_PROTO_GRPC)
        e->comp = KT_COMPRESS_SNAPPY_FRAMED;
    const struct kt_strlist *mk = &conf->exporter.headers_from_metadata;
    e->n_meta = mk->n;
    for (size_t i = 0; i < mk->n; i++) {
        snprintf(e->meta_names[i], sizeof(e->meta_names[i]), "%s", mk->v[i]);
        for (char *c = e->meta_names[i]; *c && e->protocol == PROCESS_PROTO_GRPC; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    e->congested_bytes = EXPORTER_CONGESTED_BYTES;
    if (conf->limits.memory > 0 && process_limit_export_bytes(conf) < e->congested_bytes)
        e->congested_bytes = (size_t)process_limit_export_bytes(conf);
    e->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)e;
    if (e->rng == 0)
        e->rng = 1;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        kt_hist_init(&e->stats[s].duration, kt_hist_latency_bounds, kt_hist_latency_n);
    if ((rc = exporter_reload(e, err)) != 0)
        goto fail;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        if (e->protocol == PROCESS_PROTO_GRPC) {
            e->paths[s] = strdup(kt_signal_grpc_path((enum kt_signal)s));
        } else if (ep.signal_path[s] != NULL) {
            e->paths[s] = strdup(ep.signal_path[s]);
        } else {
            const char *suffix = kt_signal_http_path((enum kt_signal)s);
            size_t n = plen + strlen(suffix) + 1;
            e->paths[s] = malloc(n);
            if (e->paths[s])
                snprintf(e->paths[s], n, "%.*s%s", (int)plen, path, suffix);
        }
        if (e->paths[s] == NULL) {
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            goto fail;
        }
    }
    const struct kt_tls_client_opts tls_opts = tls_opts_of(conf);
    /* max_in_flight lanes per origin, a connection each (opened on their first request). */
    size_t n_slots = conf->exporter.max_in_flight > 0 ? (size_t)conf->exporter.max_in_flight : 1;
    for (size_t k = 0; k < ep.n_origins; k++) {
        const struct origin *og = &ep.origin[k];
        struct backend *b = &e->backends[e->n_backends++];
        bool v6 = strchr(og->host, ':') != NULL;
        snprintf(b->origin, sizeof(b->origin), "%s://%s%s%s:%s", og->tls ? "https" : "http",
                 v6 ? "[" : "", og->host, v6 ? "]" : "", og->port);
        b->url = og->url;
        b->rl_retry = b->rl_fail = b->rl_partial = (struct kt_log_limit)KT_LOG_LIMIT(1.0, 1);
        struct otlp_client_opts o = {
            .host = og->host,
            .port = og->port,
            .tls = og->tls,
            .tls_opts = &tls_opts,
            .server_name = conf->exporter_tls.server_name_override,
            .proto = e->protocol == PROCESS_PROTO_GRPC ? OTLP_CLIENT_H2 : OTLP_CLIENT_H1,
            .timeout_ms = conf->exporter.timeout_ms,
        };
        if ((b->slots = calloc(n_slots, sizeof(*b->slots))) == NULL) {
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            goto fail;
        }
        b->n_slots = n_slots;
        for (size_t i = 0; i < n_slots; i++) {
            struct slot *s = &b->slots[i];
            s->e = e;
            s->b = b;
            ev_init(&s->retry_timer, retry_cb);
            s->retry_timer.data = s;
            if ((rc = otlp_client_new(loop, &o, on_answer, s, &s->client, err)) != 0)
                goto fail;
        }
        if (!og->tls && ((conf->exporter_tls.ca_file && conf->exporter_tls.ca_file[0]) ||
                         (conf->exporter_tls.cert_file && conf->exporter_tls.cert_file[0])))
            kt_warn("[exporter.tls] is set but %s is plaintext (http://): nothing sent there is "
                    "encrypted; use https:// for TLS",
                    og->url);
        if (og->tls && conf->exporter_tls.insecure_skip_verify)
            kt_warn("[exporter.tls] insecure_skip_verify = true: the backend at %s is not "
                    "authenticated; anyone on the path can read and alter the telemetry",
                    og->url);
    }
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        e->backend_of[s] = &e->backends[ep.origin_of[s]];
    ev_init(&e->kick, kick_cb);
    e->kick.data = e;
    *out = e;
    return 0;
fail:
    for (size_t k = 0; k < e->n_backends; k++) {
        for (size_t i = 0; e->backends[k].slots != NULL && i < e->backends[k].n_slots; i++)
            otlp_client_free(e->backends[k].slots[i].client);
        free(e->backends[k].slots);
    }
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        free(e->paths[s]);
    kt_buf_free(&e->header_store);
    free(e);
    return rc;
}

/* meta as a batch key (struct exp_req's meta) into out; the reason the data cannot carry it
 * into why (and KT_EINVAL) when a value is not sendable as a header. */
static int meta_key(const struct exporter *e, const struct exporter_meta *meta, struct kt_buf *out,
                    char *why, size_t cap)
{
    for (size_t i = 0; i < e->n_meta; i++) {
        struct kt_slice v = meta ? meta->v[i] : (struct kt_slice){NULL, 0};
        uint8_t present = v.p != NULL;
        if (kt_buf_append(out, &present, 1) != 0)
            return KT_ENOMEM;
        if (!present)
            continue;
        if (v.n > EXPORTER_META_VALUE_MAX) {
            snprintf(why, cap, "metadata %s: %zu bytes, a header value holds at most %d",
                     e->meta_names[i], v.n, EXPORTER_META_VALUE_MAX);
            return KT_EINVAL;
        }
        for (size_t k = 0; k < v.n; k++)
            if ((v.p[k] < 0x20 && v.p[k] != '\t') || v.p[k] == 0x7f) {
                snprintf(why, cap,
                         "metadata %s: control character in the value, not sendable as a header",
                         e->meta_names[i]);
                return KT_EINVAL;
            }
        if ((v.n > 0 && kt_buf_append(out, v.p, v.n) != 0) || kt_buf_append(out, "", 1) != 0)
            return KT_ENOMEM;
    }
    return 0;
}

/* The open batch of sig for key, or NULL. */
static struct exp_req *open_batch(struct exporter *e, enum kt_signal sig, const struct kt_buf *key)
{
    for (struct exp_req *r = e->open[sig]; r != NULL; r = r->next_open)
        if (r->meta.len == key->len && (key->len == 0 || memcmp(r->meta.p, key->p, key->len) == 0))
            return r;
    return NULL;
}

int exporter_submit(struct exporter *e, enum kt_signal sig, struct kt_slice data, size_t n_items,
                    const struct exporter_meta *meta, void *token)
{
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return KT_EINVAL;
    if (e->closing)
        return KT_EAGAIN;
    struct kt_buf key = KT_BUF_INIT;
    char why[KT_ERR_MSG_MAX];
    why[0] = '\0';
    int krc = meta_key(e, meta, &key, why, sizeof(why));
    if (krc == KT_ENOMEM) {
        kt_buf_free(&key);
        return KT_ENOMEM;
    }
    struct exp_req *r = krc == 0 ? open_batch(e, sig, &key) : NULL;
    if (r && r->raw.len > r->raw_at && r->raw.len - r->raw_at + data.n > EXPORTER_MAX_BATCH_BYTES) {
        seal(e, r);
        r = NULL;
    }
    if (krc == 0 && r == NULL && e->n_meta > 0 &&
        e->n_open[sig] >= e->conf->exporter.metadata_cardinality_limit) {
        snprintf(why, sizeof(why),
                 "[exporter] metadata_cardinality_limit: %llu distinct headers_from_metadata "
                 "value sets are being batched already",
                 (unsigned long long)e->conf->exporter.metadata_cardinality_limit);
        krc = KT_EINVAL;
    }
    bool fresh = r == NULL;
    if (fresh) {
        r = calloc(1, sizeof(*r));
        if (r == NULL || (krc != 0 && (r->refuse = strdup(why)) == NULL)) {
            free(r);
            kt_buf_free(&key);
            return KT_ENOMEM;
        }
        r->sig = sig;
        r->owner = e;
        r->meta = key;
        key = (struct kt_buf)KT_BUF_INIT;
        ev_init(&r->batch_timer, batch_cb);
        r->batch_timer.data = r;
    }
    kt_buf_free(&key);
    if (r->n_tokens == r->cap_tokens) {
        size_t cap = r->cap_tokens ? r->cap_tokens * 2 : 16;
        void **t = realloc(r->tokens, cap * sizeof(*t));
        if (t == NULL)
            goto nomem;
        r->tokens = t;
        size_t *ends = realloc(r->ends, cap * sizeof(*ends));
        if (ends == NULL)
            goto nomem;
        r->ends = ends;
        r->cap_tokens = cap;
    }
    if (fresh && e->protocol == PROCESS_PROTO_GRPC && e->comp == KT_COMPRESS_NONE) {
        static const uint8_t room[KT_GRPC_PREFIX_LEN];
        if (kt_buf_append(&r->raw, room, sizeof(room)) != 0)
            goto nomem;
        r->raw_at = sizeof(room);
    }
    if (fresh &&
        kt_buf_reserve(&r->raw, e->raw_hint[sig] > data.n ? e->raw_hint[sig] : data.n) != 0)
        goto nomem;
    if (kt_buf_append(&r->raw, data.p, data.n) != 0)
        goto nomem;
    r->tokens[r->n_tokens] = token;
    r->ends[r->n_tokens++] = r->raw.len - r->raw_at;
    r->n_items += n_items;
    account(e, r);
    if (r->refuse != NULL) {
        /* Reported from the loop, in the queue's order, never inside this call. */
        enqueue(e, r);
        return 0;
    }
    if (fresh) {
        r->next_open = e->open[sig];
        e->open[sig] = r;
        e->n_open[sig]++;
        uint64_t t = e->conf->exporter.send_batch_timeout_ms;
        ev_timer_set(&r->batch_timer, (double)t / 1000.0, 0.);
        ev_timer_start(e->loop, &r->batch_timer);
    }
    if (r->n_items >= e->conf->exporter.send_batch_size ||
        r->raw.len - r->raw_at >= EXPORTER_MAX_BATCH_BYTES)
        seal(e, r);
    return 0;
nomem:
    if (fresh)
        req_free(e, r);
    return KT_ENOMEM;
}

void exporter_set_refused(struct exporter *e, exporter_refused_fn fn)
{
    e->refused = fn;
}

void exporter_set_origin(struct exporter *e, exporter_origin_fn fn)
{
    e->origin = fn;
}

/* A request to b is being retried. */
static bool backend_retrying(const struct backend *b)
{
    for (size_t i = 0; i < b->n_slots; i++)
        if (b->slots[i].waiting_retry || (b->slots[i].req && b->slots[i].req->attempts > 0))
            return true;
    return false;
}

bool exporter_congested(const struct exporter *e)
{
    /* One failing origin of several pauses only its own signals
     * (exporter_signal_congested); all of them failing pause everything. */
    bool all_retrying = e->n_backends > 0;
    for (size_t k = 0; k < e->n_backends; k++)
        all_retrying &= backend_retrying(&e->backends[k]);
    return all_retrying || e->queued_bytes > e->congested_bytes;
}

bool exporter_signal_congested(const struct exporter *e, enum kt_signal sig)
{
    return e->backend_of[sig] != NULL && backend_retrying(e->backend_of[sig]);
}

void exporter_flush(struct exporter *e)
{
    if (e->closing)
        return;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        seal_all(e, (enum kt_signal)s);
}

bool exporter_idle(const struct exporter *e)
{
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        if (e->open[s])
            return false;
    for (size_t k = 0; k < e->n_backends; k++) {
        const struct backend *b = &e->backends[k];
        for (size_t i = 0; i < b->n_slots; i++)
            if (b->slots[i].req != NULL)
                return false;
        if (b->head != NULL)
            return false;
    }
    return true;
}

void exporter_get_stats(const struct exporter *e, struct exporter_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        const struct sig_stats *st = &e->stats[i];
        out->requests_ok += st->requests_ok;
        out->requests_retried += st->requests_retried;
        out->requests_failed += st->requests_refused + st->requests_gave_up;
        out->items_exported += st->items_exported;
        out->items_refused +=
            st->items_rejected + st->items_refused + st->items_gave_up + st->items_metadata;
    }
}

const char *exporter_unreachable(const struct exporter *e, const char **url)
{
    for (size_t k = 0; k < e->n_backends; k++)
        if (e->backends[k].unreachable) {
            if (url != NULL)
                *url = e->backends[k].url;
            return e->backends[k].unreachable_msg;
        }
    return NULL;
}

void exporter_write_metrics(const struct exporter *e, struct kt_buf *b)
{
    /* Samples of one family per signal: which statistic, and the extra label it carries. */
    struct sample {
        const char *label;
        size_t off;
    };
    static const struct sample requests[] = {
        {"outcome=\"ok\"", offsetof(struct sig_stats, requests_ok)},
        {"outcome=\"retried\"", offsetof(struct sig_stats, requests_retried)},
        {"outcome=\"refused\"", offsetof(struct sig_stats, requests_refused)},
        {"outcome=\"gave_up\"", offsetof(struct sig_stats, requests_gave_up)},
    };
    static const struct sample failed[] = {
        {"reason=\"rejected\"", offsetof(struct sig_stats, items_rejected)},
        {"reason=\"refused\"", offsetof(struct sig_stats, items_refused)},
        {"reason=\"gave_up\"", offsetof(struct sig_stats, items_gave_up)},
        {"reason=\"metadata\"", offsetof(struct sig_stats, items_metadata)},
    };
    static const struct {
        const char *name, *help;
        const struct sample *v;
        size_t n;
    } fams[] = {
        {"kotel_process_export_requests_total",
         "Export attempts by outcome: ok (answered OK, partial_success included), retried (failed "
         "and retried), refused (refused for good by the backend, or not encodable), gave_up "
         "(failed past [exporter.retry] max_elapsed_time).",
         requests, sizeof(requests) / sizeof(requests[0])},
        {"kotel_process_export_failed_items_total",
         "Items not exported, by reason: rejected (the backend's partial_success), refused (in a "
         "request refused for good), gave_up (in a request given up), metadata ([exporter] "
         "headers_from_metadata values not sendable as headers, or past "
         "metadata_cardinality_limit); dead-lettered when [kafka] dead_letter_topic is set.",
         failed, sizeof(failed) / sizeof(failed[0])},
    };
    char labels[320];
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        kt_prom_family(b, fams[f].name, "counter", fams[f].help);
        for (int i = 0; i < KT_SIGNAL_COUNT; i++)
            for (size_t k = 0; k < fams[f].n; k++) {
                snprintf(labels, sizeof(labels), "signal=\"%s\",%s",
                         kt_signal_name((enum kt_signal)i), fams[f].v[k].label);
                kt_prom_u64(b, fams[f].name, labels,
                            *(const uint64_t *)((const char *)&e->stats[i] + fams[f].v[k].off));
            }
    }
    kt_prom_family(b, "kotel_process_exported_items_total", "counter",
                   "Items the backend accepted (spans, data points, log records).");
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)i));
        kt_prom_u64(b, "kotel_process_exported_items_total", labels, e->stats[i].items_exported);
    }
    kt_prom_family(b, "kotel_process_export_duration_seconds", "histogram",
                   "Time from sending an export attempt to its answer, or to its failure "
                   "without one.");
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)i));
        kt_prom_hist(b, "kotel_process_export_duration_seconds", labels, &e->stats[i].duration);
    }
    kt_prom_family(b, "kotel_process_export_queue_bytes", "gauge",
                   "Bytes of batches waiting for the backend or being sent; over "
                   "the congestion bound consumption pauses.");
    kt_prom_u64(b, "kotel_process_export_queue_bytes", NULL, e->queued_bytes);
    kt_prom_family(b, "kotel_process_backend_up", "gauge",
                   "0 while the last export attempt got no answer from the backend (see /readyz), "
                   "else 1; with signals on several origins, one sample per origin.");
    for (size_t k = 0; k < e->n_backends; k++) {
        const struct backend *be = &e->backends[k];
        snprintf(labels, sizeof(labels), "endpoint=\"%s\"", be->origin);
        kt_prom_u64(b, "kotel_process_backend_up", e->n_backends > 1 ? labels : NULL,
                    !be->unreachable);
    }
}

void exporter_free(struct exporter *e)
{
    if (e == NULL)
        return;
    e->closing = true;
    /* The clients go first so no answer arrives while the tokens are being reported. */
    for (size_t k = 0; k < e->n_backends; k++)
        for (size_t i = 0; i < e->backends[k].n_slots; i++) {
            struct slot *s = &e->backends[k].slots[i];
            otlp_client_free(s->client);
            s->client = NULL;
            ev_timer_stop(e->loop, &s->retry_timer);
        }
    ev_timer_stop(e->loop, &e->kick);
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        while (e->open[s]) {
            struct exp_req *r = e->open[s];
            e->open[s] = r->next_open;
            req_finish(e, r, KT_EAGAIN, "shutting down");
        }
    /* Oldest first: the slots hold requests sealed before those still queued. */
    for (size_t k = 0; k < e->n_backends; k++) {
        struct backend *b = &e->backends[k];
        for (size_t i = 0; i < b->n_slots; i++)
            if (b->slots[i].req != NULL) {
                struct exp_req *r = b->slots[i].req;
                b->slots[i].req = NULL;
                req_finish(e, r, KT_EAGAIN, "shutting down");
            }
        while (b->head)
            req_finish(e, queue_pop(b), KT_EAGAIN, "shutting down");
        free(b->slots);
    }
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        free(e->paths[s]);
    kt_buf_free(&e->header_store);
    free(e);
}
