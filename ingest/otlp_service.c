/* The OTLP service (otlp_service.h): routes a request, decodes its body (gRPC framing,
 * gzip, JSON), checks it, hands it to the publisher and answers once Kafka acknowledged it.
 * It reads and answers requests through request.h only, and knows nothing of connections
 * or HTTP versions beyond r->http2.
 *
 * Answers follow the OTLP specification: gRPC status codes with grpc-message; HTTP 400
 * with a google.rpc.Status body for bad data, 503 with Retry-After under backpressure,
 * and partial_success when some items were refused. */
#include "otlp_service.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_grpc.h"
#include "kt_gzip.h"
#include "kt_log.h"
#include "kt_otlp_json.h"
#include "kt_otlp_wire.h"
#include "kt_prom.h"

/* An OTLP/JSON body larger than this is converted a slice of about this many bytes per
 * loop turn, so the loop serves other connections in between instead of stalling for the
 * whole body (a slice takes 1.5 to 3 ms on one core here, 16 MiB at once 60 to 100 ms).
 * Smaller bodies are converted at once. Slices on the loop rather than a worker thread:
 * requests stay the loop's alone (no locks, no handing back, an abandoned request is simply
 * dropped from the queue), and one conversion at a time bounds the memory it takes. */
#define JSON_SLICE (256 * 1024)

/* A large OTLP/JSON body being converted. */
struct json_job {
    struct srv_req *r;
    enum kt_signal sig;
    struct kt_buf inflated; /* the body gunzipped; empty when the JSON is r->body itself */
    struct kt_buf pb;       /* the protobuf written so far */
    struct kt_otlp_json_dec *dec;
    struct json_job *next;
};

/* How a request arrived, for the metrics. */
enum proto { PROTO_GRPC, PROTO_HTTP_PROTOBUF, PROTO_HTTP_JSON, PROTO_COUNT };
static const char *const proto_names[PROTO_COUNT] = {"grpc", "http/protobuf", "http/json"};

/* The statuses answered, as OTLP/HTTP would say them (gRPC answers are counted by the
 * status they stand for); the last slot holds any other. */
static const int status_slots[] = {200, 400, 401, 404, 405, 413, 415, 500, 503};
#define N_STATUS (sizeof(status_slots) / sizeof(status_slots[0]))

/* Counted on the loop, written out by otlp_service_metrics. Signal slot KT_SIGNAL_COUNT
 * holds requests for no signal's path. */
struct svc_metrics {
    uint64_t requests[KT_SIGNAL_COUNT + 1][PROTO_COUNT][N_STATUS + 1];
    uint64_t items_received[KT_SIGNAL_COUNT][PROTO_COUNT];
    uint64_t items_accepted[KT_SIGNAL_COUNT][PROTO_COUNT];
    uint64_t items_refused[KT_SIGNAL_COUNT][PROTO_COUNT];
    struct kt_hist latency[KT_SIGNAL_COUNT][PROTO_COUNT];
};

struct otlp_service {
    const struct ingest_conf *conf;
    struct publisher *pub;
    struct auth *auth;
    unsigned validate_flags; /* kt_otlp_validate_flags: what the Kafka encoding needs */
    struct kt_otlp_limits limits;
    struct kt_otlp_vcache vcache; /* the resources and scopes of requests lately found valid */
    struct otlp_service_stats stats;
    struct svc_metrics m;
    /* Large JSON bodies, converted one at a time in arrival order (one output buffer
     * growing at a time, not one per client). */
    struct json_job *jobs, **jobs_tail;
    struct ev_loop *loop; /* the requests' loop, known from the first job */
    ev_check slice;       /* converts a slice after each poll */
    ev_idle awake;        /* keeps the poll from sleeping while jobs wait */
    /* The srv_req meta key of [kafka] topic_from_metadata_key (UINT_MAX: none): its place
     * in include_metadata_keys when listed there too (request.c matches those first). */
    unsigned topic_key;
};

/* Header values of include_metadata_keys one request may carry. */
#define META_VALUES_MAX 64

enum body_type { BODY_PROTO, BODY_JSON };

struct route {
    enum kt_signal sig;
    bool grpc;
};

/* Refusals are logged, but a misbehaving client must not flood the log: at most a burst of
 * 20 lines, refilled at one per second. Requests are refused on the loop thread only. */
static struct kt_log_limit refusal_log = KT_LOG_LIMIT(1.0, 20);

static void log_refusal(struct srv_req *r, int status, const char *why)
{
    kt_log_limited(&refusal_log, KT_LOG_INFO, "request %llu from %s %s %s: %d: %s",
                   (unsigned long long)r->id, r->peer, r->method, r->path, status, why);
}

static bool route_lookup(const char *path, struct route *out)
{
    return kt_signal_route(path, strlen(path), &out->sig, &out->grpc);
}

static bool media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool is_grpc_request(const struct srv_req *r)
{
    return strncasecmp(r->content_type, "application/grpc", 16) == 0;
}

static enum proto proto_of(const struct srv_req *r)
{
    if (is_grpc_request(r))
        return PROTO_GRPC;
    return media_is(r->content_type, "application/json") ? PROTO_HTTP_JSON : PROTO_HTTP_PROTOBUF;
}

/* The signal slot of r's path (KT_SIGNAL_COUNT: none). */
static int sig_of(const struct srv_req *r)
{
    struct route rt;
    return route_lookup(r->path, &rt) ? (int)rt.sig : KT_SIGNAL_COUNT;
}

/* Counts r's answer (the status OTLP/HTTP gives it) and how long r took. */
static void count_answer(struct srv_req *r, int http_status)
{
    struct otlp_service *s = srv_req_service(r);
    int sig = sig_of(r);
    enum proto pr = proto_of(r);
    size_t slot = 0;
    while (slot < N_STATUS && status_slots[slot] != http_status)
        slot++;
    s->m.requests[sig][pr][slot]++;
    if (sig < KT_SIGNAL_COUNT)
        kt_hist_observe(&s->m.latency[sig][pr], ev_now(r->loop) - r->started);
}

/* Counts items of r (a signal's request) that Kafka took and that were refused. */
static void count_items(struct srv_req *r, uint64_t accepted, uint64_t refused)
{
    struct otlp_service *s = srv_req_service(r);
    int sig = sig_of(r);
    if (sig == KT_SIGNAL_COUNT)
        return;
    s->m.items_accepted[sig][proto_of(r)] += accepted;
    s->m.items_refused[sig][proto_of(r)] += refused;
}

static void put_varint_field(struct kt_buf *b, unsigned field, uint64_t v)
{
    kt_buf_append_varint(b, (uint64_t)field << 3);
    kt_buf_append_varint(b, v);
}

static void put_bytes_field(struct kt_buf *b, unsigned field, const void *p, size_t n)
{
    kt_buf_append_varint(b, ((uint64_t)field << 3) | 2);
    kt_buf_append_varint(b, n);
    kt_buf_append(b, p, n);
}

/* google.rpc.Status { int32 code = 1; string message = 2; } */
static void encode_status_proto(struct kt_buf *b, int code, const char *msg)
{
    if (code)
        put_varint_field(b, 1, (uint64_t)code);
    if (msg[0])
        put_bytes_field(b, 2, msg, strlen(msg));
}

/* Export*ServiceResponse { Export*PartialSuccess partial_success = 1 { int64 rejected = 1;
 * string error_message = 2; } } */
static void encode_export_response_proto(struct kt_buf *b, uint64_t rejected, const char *msg)
{
    if (rejected == 0 && msg[0] == '\0')
        return;
    struct kt_buf ps = KT_BUF_INIT;
    if (rejected)
        put_varint_field(&ps, 1, rejected);
    if (msg[0])
        put_bytes_field(&ps, 2, msg, strlen(msg));
    put_bytes_field(b, 1, ps.p, ps.len);
    kt_buf_free(&ps);
}

static int http_to_rpc_code(int http)
{
    switch (http) {
    case 400: return KT_GRPC_INVALID_ARGUMENT;
    case 401: return KT_GRPC_UNAUTHENTICATED;
    case 404: return KT_GRPC_NOT_FOUND;
    case 405:
    case 415: return KT_GRPC_UNIMPLEMENTED;
    case 413: return KT_GRPC_RESOURCE_EXHAUSTED;
    case 503: return KT_GRPC_UNAVAILABLE;
    default: return KT_GRPC_INTERNAL;
    }
}

static int http_to_grpc(int http)
{
    switch (http) {
    case 400: return KT_GRPC_INVALID_ARGUMENT;
    case 401: return KT_GRPC_UNAUTHENTICATED;
    case 404:
    case 405:
    case 415: return KT_GRPC_UNIMPLEMENTED;
    case 413: return KT_GRPC_RESOURCE_EXHAUSTED;
    case 503: return KT_GRPC_UNAVAILABLE;
    default: return KT_GRPC_INTERNAL;
    }
}

/* Fills r->resp with a refusal saying msg; the caller sends it (or the protocol layer
 * does). */
static void set_error_quiet(struct srv_req *r, int http_status, const char *msg)
{
    struct srv_resp *rs = &r->resp;
    count_answer(r, http_status);
    kt_buf_reset(&rs->body);
    rs->http_status = http_status;
    rs->retry_after = http_status == 503 ? 1 : 0;
    if (r->http2 && is_grpc_request(r)) {
        rs->grpc = true;
        rs->http_status = 200; /* gRPC carries the failure in grpc-status */
        rs->grpc_status = http_to_grpc(http_status);
        rs->content_type = "application/grpc";
        kt_grpc_message_encode(msg, rs->grpc_message, sizeof(rs->grpc_message));
    } else if (media_is(r->content_type, "application/x-protobuf")) {
        rs->content_type = "application/x-protobuf";
        encode_status_proto(&rs->body, http_to_rpc_code(http_status), msg);
    } else {
        rs->content_type = "application/json";
        kt_otlp_json_status(http_to_rpc_code(http_status), msg, &rs->body);
    }
    r->responded = true;
}

/* A refusal of the client's request, for something in it: logged as it is told. */
static void set_error(struct srv_req *r, int http_status, const char *msg)
{
    log_refusal(r, http_status, msg);
    set_error_quiet(r, http_status, msg);
}

/* What a client is told of a failure on kotel-ingest's side (Kafka, the spool): the first
 * clause of the reason ("kafka: all brokers down", "spool: full"), never what follows it,
 * which may name files, brokers or topics of the site, and never a path. The whole reason
 * goes to the log under the request's number, which the client's message gives. */
static void client_reason(const struct srv_req *r, const char *why, char *out, size_t cap)
{
    const char *colon = strchr(why, ':');
    size_t n = colon != NULL && (colon = strchr(colon + 1, ':')) != NULL ? (size_t)(colon - why)
                                                                         : strlen(why);
    const char *slash = memchr(why, '/', n);
    if (slash != NULL) {
        while (slash > why && slash[-1] != ' ')
            slash--;
        n = (size_t)(slash - why);
        while (n > 0 && (why[n - 1] == ' ' || why[n - 1] == ':'))
            n--;
    }
    snprintf(out, cap, "%.*s; retry later (kotel-ingest request %llu: its log has the details)",
             (int)n, why, (unsigned long long)r->id);
}

/* A failure on kotel-ingest's side: the client gets client_reason, the log all of why. */
static void set_failure(struct srv_req *r, int http_status, const char *why)
{
    char msg[256];
    log_refusal(r, http_status, why);
    client_reason(r, why, msg, sizeof(msg));
    set_error_quiet(r, http_status, msg);
}

static void set_success(struct srv_req *r, enum kt_signal sig, uint64_t rejected, const char *msg)
{
    struct srv_resp *rs = &r->resp;
    count_answer(r, 200);
    kt_buf_reset(&rs->body);
    rs->http_status = 200;
    if (is_grpc_request(r)) {
        struct kt_buf m = KT_BUF_INIT;
        encode_export_response_proto(&m, rejected, msg);
        kt_grpc_frame_prefix(&rs->body, m.len);
        kt_buf_append(&rs->body, m.p, m.len);
        kt_buf_free(&m);
        rs->grpc = true;
        rs->grpc_status = KT_GRPC_OK;
        rs->content_type = "application/grpc";
    } else if (media_is(r->content_type, "application/json")) {
        rs->content_type = "application/json";
        kt_otlp_json_export_response(sig, rejected, msg, &rs->body);
    } else {
        rs->content_type = "application/x-protobuf";
        encode_export_response_proto(&rs->body, rejected, msg);
    }
    r->responded = true;
}

/* Before anything else about the request is looked at: a client that is not let in learns
 * nothing of the paths or media types served. */
static bool authenticate(struct otlp_service *s, struct srv_req *r)
{
    if (s->auth == NULL)
        return true;
    const char *name;
    enum auth_result ar = auth_check(s->auth, r->has_authorization ? r->authorization : NULL,
                                     strlen(r->authorization), &name);
    if (ar == AUTH_OK) {
        r->tenant = name;
        return true;
    }
    s->stats.refused_unauthenticated++;
    set_error(r, 401, auth_result_message(s->auth, ar));
    if (!r->resp.grpc)
        r->resp.www_authenticate = s->conf->receiver_auth.scheme;
    return false;
}

static void check_headers(void *ctx, struct srv_req *r, int64_t content_length)
{
    struct otlp_service *s = ctx;
    const struct ingest_conf *cf = s->conf;
    struct route rt;
    char msg[256];
    if (r->responded || !authenticate(s, r))
        return;
    if (r->meta_bad != 0) {
        const struct kt_strlist *keys = &cf->kafka.include_metadata_keys;
        unsigned k = r->meta_bad - 1;
        snprintf(msg, sizeof(msg), "[kafka] %s: header %s: a value over %d bytes",
                 k < keys->n ? "include_metadata_keys" : "topic_from_metadata_key",
                 k < keys->n ? keys->v[k] : cf->kafka.topic_from_metadata_key,
                 INGEST_META_VALUE_MAX);
        publisher_meta_too_long(s->pub);
        set_error(r, 400, msg);
        return;
    }
    bool grpc = is_grpc_request(r);
    if (!route_lookup(r->path, &rt)) {
        if (grpc)
            snprintf(msg, sizeof(msg), "unknown method %s", r->path);
        else
            snprintf(msg, sizeof(msg), "no such path %s; OTLP/HTTP serves %s, %s, %s", r->path,
                     kt_signal_http_path(KT_SIGNAL_TRACES), kt_signal_http_path(KT_SIGNAL_METRICS),
                     kt_signal_http_path(KT_SIGNAL_LOGS));
        set_error(r, grpc ? 415 : 404, msg);
        if (grpc)
            r->resp.grpc_status = KT_GRPC_UNIMPLEMENTED;
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        snprintf(msg, sizeof(msg), "method %s not allowed; use POST", r->method);
        set_error(r, 405, msg);
        return;
    }
    if (rt.grpc) {
        if (!r->http2) {
            set_error(r, 415, "OTLP/gRPC needs HTTP/2");
            return;
        }
        if (!media_is(r->content_type, "application/grpc") &&
            !media_is(r->content_type, "application/grpc+proto")) {
            snprintf(msg, sizeof(msg), "content-type %s not supported; want application/grpc",
                     r->content_type[0] ? r->content_type : "(none)");
            set_error(r, 415, msg);
            return;
        }
    } else if (!media_is(r->content_type, "application/x-protobuf") &&
               !media_is(r->content_type, "application/json")) {
        snprintf(msg, sizeof(msg),
                 "Content-Type %s not supported; want application/x-protobuf or "
                 "application/json",
                 r->content_type[0] ? r->content_type : "(none)");
        set_error(r, 415, msg);
        return;
    }
    if (content_length >= 0 && (uint64_t)content_length > cf->receiver.max_request_bytes) {
        snprintf(msg, sizeof(msg),
                 "request body of %lld bytes exceeds [receiver] max_request_bytes (%llu)",
                 (long long)content_length, (unsigned long long)cf->receiver.max_request_bytes);
        set_error(r, 413, msg);
        r->early_status = 413;
    }
}

static void publish_done(void *ctx, const struct publisher_result *res)
{
    struct srv_req *r = ctx;
    struct route rt;
    r->svc_data = NULL;
    route_lookup(r->path, &rt);
    if (res->status == 0)
        count_items(r, r->svc_items - res->n_rejected, res->n_rejected);
    else
        count_items(r, 0, r->svc_items);
    if (res->status == 0) {
        set_success(r, rt.sig, res->n_rejected, res->message);
    } else if (res->status == KT_ETOOBIG) {
        set_error(r, 400, res->message);
    } else {
        set_failure(r, 503, res->message);
    }
    srv_req_respond(r);
}

/* The answer to a payload refused by the JSON conversion or the validator. A payload limit
 * is counted: operators see how often clients pass one. */
static int refusal_status(struct otlp_service *s, int rc)
{
    if (rc == KT_ETOOBIG)
        s->stats.refused_over_limit++;
    return rc == KT_ENOMEM ? 500 : 400;
}

/* Unwraps the request body: *msg views r->body (a plain body, gRPC prefix skipped) or
 * *inflated (gunzipped, owned by the caller). *json tells the view is OTLP/JSON still to
 * convert; otherwise it is the OTLP protobuf. Returns an HTTP status (0 = ok) and the
 * reason in err. */
static int decode_body(const struct otlp_service *s, struct srv_req *r, const struct route *rt,
                       struct kt_buf *inflated, struct kt_slice *msg, bool *json,
                       struct kt_err *err)
{
    size_t max = s->conf->receiver.max_request_bytes;
    struct kt_buf tmp = KT_BUF_INIT;
    struct kt_slice in = kt_buf_slice(&r->body);
    int status = 0, rc;
    bool gz = false;
    if (rt->grpc) {
        bool compressed;
        rc = kt_grpc_frame_parse(in, max, &in, &compressed, err);
        if (rc != 0) {
            status = rc == KT_ETOOBIG ? 413 : 400;
            goto out;
        }
        if (compressed) {
            if (strcasecmp(r->grpc_encoding, "gzip") != 0 &&
                strcasecmp(r->grpc_encoding, "deflate") != 0) {
                kt_err_set(err, KT_EUNSUPP, "grpc-encoding '%s' not supported; use gzip",
                           r->grpc_encoding);
                status = 415;
                goto out;
            }
            gz = true;
        }
    } else if (r->content_encoding[0] && strcasecmp(r->content_encoding, "identity") != 0) {
        if (strcasecmp(r->content_encoding, "gzip") != 0 &&
            strcasecmp(r->content_encoding, "deflate") != 0) {
            kt_err_set(err, KT_EUNSUPP, "Content-Encoding '%s' not supported; use gzip",
                       r->content_encoding);
            status = 415;
            goto out;
        }
        gz = true;
    }
    if (gz) {
        rc = kt_gunzip(in, max, &tmp, err);
        if (rc != 0) {
            if (rc == KT_ETOOBIG)
                kt_err_prefix(err, "[receiver] max_request_bytes: ");
            status = rc == KT_ETOOBIG ? 413 : 400;
            goto out;
        }
        in = kt_buf_slice(&tmp);
    }
    *json = !rt->grpc && media_is(r->content_type, "application/json");
    *msg = in;
    if (gz) {
        *inflated = tmp;
        tmp = (struct kt_buf)KT_BUF_INIT;
    }
out:
    kt_buf_free(&tmp);
    return status;
}

/* The values of [kafka] include_metadata_keys and topic_from_metadata_key r came with, for
 * the publisher (meta->v has room for META_VALUES_MAX; it views r->meta). */
static int request_meta(const struct otlp_service *s, const struct srv_req *r,
                        struct publisher_meta *meta, struct kt_err *err)
{
    const struct kt_strlist *keys = &s->conf->kafka.include_metadata_keys;
    size_t pos = 0;
    unsigned key;
    struct kt_slice v;
    while (srv_req_meta_next(r, &pos, &key, &v)) {
        if (key == s->topic_key && meta->topic.n == 0)
            meta->topic = v;
        if (key >= keys->n)
            continue;
        if (meta->n == META_VALUES_MAX)
            return kt_err_set(err, KT_EINVAL,
                              "[kafka] include_metadata_keys: more than %d header values",
                              META_VALUES_MAX);
        struct publisher_meta_value *mv = (struct publisher_meta_value *)&meta->v[meta->n++];
        mv->key = key;
        mv->value = v;
    }
    return 0;
}

/* Checks the protobuf of r (msg views pb, r->body or nothing; pb is freed here), hands it
 * to the publisher and answers now or once Kafka acknowledged it. */
static void publish_body(struct otlp_service *s, struct srv_req *r, enum kt_signal sig,
                         struct kt_slice msg, struct kt_buf *pb)
{
    struct kt_err err = {0};
    size_t n_items = 0;
    int rc = kt_otlp_validate_cached(sig, msg, s->validate_flags, &s->limits, &s->vcache, &n_items,
                                     NULL, &err);
    if (rc != 0) {
        kt_err_prefix(&err, "malformed %s request: ", kt_signal_name(sig));
        set_error(r, refusal_status(s, rc), err.msg);
        goto respond;
    }
    if (n_items == 0) {
        set_success(r, sig, 0, "");
        goto respond;
    }
    r->svc_items = n_items;
    s->m.items_received[sig][proto_of(r)] += n_items;
    bool wait = s->conf->receiver.ack == INGEST_ACK_KAFKA;
    struct publisher_ticket *ticket = NULL;
    struct publisher_meta_value mv[META_VALUES_MAX];
    struct publisher_meta meta = {.tenant = r->tenant, .v = mv};
    rc = request_meta(s, r, &meta, &err);
    if (rc == 0)
        rc = publisher_submit(s->pub, sig, msg, n_items, &meta, wait ? publish_done : NULL, r,
                              wait ? &ticket : NULL, &err);
    if (rc != 0) {
        count_items(r, 0, n_items);
        /* The request's metadata: the client's to fix (400), or no room left for it (500,
         * the operator's: the message says what to do). */
        if (rc == KT_EINVAL || rc == KT_ETOOBIG)
            set_error(r, rc == KT_EINVAL ? 400 : 500, err.msg);
        else
            set_failure(r, rc == KT_EAGAIN ? 503 : 500, err.msg);
        goto respond;
    }
    if (wait) {
        r->svc_data = ticket;
        kt_buf_free(pb);
        srv_req_release_body(r);
        return;
    }
    count_items(r, n_items, 0);
    set_success(r, sig, 0, "");
respond:
    kt_buf_free(pb);
    srv_req_release_body(r);
    srv_req_respond(r);
}

static void job_free(struct json_job *j)
{
    kt_otlp_json_dec_free(j->dec);
    kt_buf_free(&j->inflated);
    kt_buf_free(&j->pb);
    free(j);
}

/* Takes j off the queue; the watchers stop with the last one. */
static void job_unlink(struct otlp_service *s, struct json_job *j)
{
    struct json_job **pp = &s->jobs;
    while (*pp != j)
        pp = &(*pp)->next;
    *pp = j->next;
    if (s->jobs_tail == &j->next)
        s->jobs_tail = pp;
    if (s->jobs == NULL) {
        ev_check_stop(s->loop, &s->slice);
        ev_idle_stop(s->loop, &s->awake);
    }
}

/* After each poll: one slice of the oldest job; a finished one is published. */
static void slice_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop;
    (void)revents;
    struct otlp_service *s = w->data;
    struct json_job *j = s->jobs;
    if (j == NULL)
        return;
    struct kt_err err = {0};
    int rc = kt_otlp_json_dec_step(j->dec, JSON_SLICE, &err);
    if (rc == KT_EAGAIN)
        return;
    job_unlink(s, j);
    struct srv_req *r = j->r;
    enum kt_signal sig = j->sig;
    struct kt_buf pb = j->pb;
    j->pb = (struct kt_buf)KT_BUF_INIT;
    job_free(j);
    if (rc != 0) {
        set_error(r, refusal_status(s, rc), err.msg);
        kt_buf_free(&pb);
        srv_req_release_body(r);
        srv_req_respond(r);
        return;
    }
    publish_body(s, r, sig, kt_buf_slice(&pb), &pb);
}

static void awake_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Queues the conversion of a large JSON body (json views r->body or *inflated, which the
 * job takes). Returns 0, or fails with the reason in err (nothing queued, *inflated
 * untouched). */
static int job_start(struct otlp_service *s, struct srv_req *r, enum kt_signal sig,
                     struct kt_slice json, struct kt_buf *inflated, struct kt_err *err)
{
    struct json_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    j->r = r;
    j->sig = sig;
    int rc =
        kt_otlp_json_dec_new(sig, (const char *)json.p, json.n, &s->limits, &j->pb, &j->dec, err);
    if (rc != 0) {
        free(j);
        return rc;
    }
    j->inflated = *inflated;
    *inflated = (struct kt_buf)KT_BUF_INIT;
    if (s->jobs == NULL) {
        s->loop = r->loop;
        ev_check_start(s->loop, &s->slice);
        ev_idle_start(s->loop, &s->awake);
    }
    *s->jobs_tail = j;
    s->jobs_tail = &j->next;
    s->stats.json_sliced++;
    return 0;
}

/* The client went away before its answer: the data still goes to Kafka, unless it is still
 * being converted from JSON (then it is dropped with its conversion). */
static void abandon_request(void *ctx, struct srv_req *r)
{
    struct otlp_service *s = ctx;
    for (struct json_job *j = s->jobs; j != NULL; j = j->next) {
        if (j->r == r) {
            job_unlink(s, j);
            job_free(j);
            return;
        }
    }
    publisher_ticket_cancel(r->svc_data);
    r->svc_data = NULL;
}

static void handle_request(void *ctx, struct srv_req *r)
{
    struct otlp_service *s = ctx;
    struct route rt;
    struct kt_err err = {0};
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_slice msg = {NULL, 0};
    if (r->responded)
        return;
    if (r->early_status == 503) {
        /* The bodies being received hold their whole budget: this one was let go. */
        snprintf(err.msg, sizeof(err.msg),
                 "request bodies being received are at their share of [limits] memory "
                 "(%llu bytes); retry later",
                 (unsigned long long)ingest_limit_body_bytes(s->conf));
        set_error(r, 503, err.msg);
        goto respond;
    }
    if (r->early_status != 0) {
        /* A chunked body grew past the bound while arriving: its bytes were let go. */
        snprintf(err.msg, sizeof(err.msg),
                 "request body exceeds [receiver] max_request_bytes (%llu)",
                 (unsigned long long)s->conf->receiver.max_request_bytes);
        set_error(r, r->early_status, err.msg);
        goto respond;
    }
    if (!route_lookup(r->path, &rt)) {
        check_headers(s, r, -1);
        goto respond;
    }
    bool json = false;
    int status = decode_body(s, r, &rt, &pb, &msg, &json, &err);
    if (status != 0) {
        set_error(r, status, err.msg);
        goto respond;
    }
    if (json && msg.n > JSON_SLICE) {
        int rc = job_start(s, r, rt.sig, msg, &pb, &err);
        if (rc != 0) {
            set_error(r, refusal_status(s, rc), err.msg);
            goto respond;
        }
        return;
    }
    if (json) {
        /* pb holds the gunzipped JSON, if any: the protobuf goes to a buffer of its own. */
        struct kt_buf conv = KT_BUF_INIT;
        int rc = kt_otlp_json_to_proto_limits(rt.sig, (const char *)msg.p, msg.n, &s->limits, &conv,
                                              &err);
        kt_buf_free(&pb);
        pb = conv;
        if (rc != 0) {
            set_error(r, refusal_status(s, rc), err.msg);
            goto respond;
        }
        msg = kt_buf_slice(&pb);
    }
    publish_body(s, r, rt.sig, msg, &pb);
    return;
respond:
    kt_buf_free(&pb);
    srv_req_release_body(r);
    srv_req_respond(r);
}

int otlp_service_new(const struct ingest_conf *conf, struct publisher *pub, struct auth *auth,
                     struct otlp_service **out, struct kt_err *err)
{
    struct otlp_service *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    s->conf = conf;
    s->topic_key = UINT_MAX;
    if (ingest_conf_is_set(conf->kafka.topic_from_metadata_key)) {
        const struct kt_strlist *keys = &conf->kafka.include_metadata_keys;
        s->topic_key = (unsigned)keys->n;
        for (size_t i = 0; i < keys->n; i++)
            if (strcasecmp(keys->v[i], conf->kafka.topic_from_metadata_key) == 0)
                s->topic_key = (unsigned)i;
    }
    s->pub = pub;
    s->auth = auth;
    s->limits.max_attributes = conf->receiver.max_attributes;
    s->limits.max_string_bytes = conf->receiver.max_string_bytes;
    s->jobs_tail = &s->jobs;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        for (int j = 0; j < PROTO_COUNT; j++)
            kt_hist_init(&s->m.latency[i][j], kt_hist_latency_bounds, kt_hist_latency_n);
    ev_check_init(&s->slice, slice_cb);
    s->slice.data = s;
    ev_idle_init(&s->awake, awake_cb);
    /* The publisher writes OTLP/JSON from these bytes without checking them again. */
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (ingest_encoding_of(conf, (enum kt_signal)i) == INGEST_ENC_OTLP_JSON)
            s->validate_flags = KT_OTLP_VALIDATE_NO_NUL;
    *out = s;
    return 0;
}

void otlp_service_free(struct otlp_service *s)
{
    if (s == NULL)
        return;
    while (s->jobs != NULL) {
        struct json_job *j = s->jobs;
        job_unlink(s, j);
        job_free(j);
    }
    kt_info("service: %llu requests refused over a payload limit ([receiver] max_attributes, "
            "max_string_bytes, nesting), %llu refused unauthenticated ([receiver.auth]), %llu "
            "large OTLP/JSON bodies converted in slices",
            (unsigned long long)s->stats.refused_over_limit,
            (unsigned long long)s->stats.refused_unauthenticated,
            (unsigned long long)s->stats.json_sliced);
    free(s);
}

void otlp_service_metrics(const struct otlp_service *s, struct kt_buf *b)
{
    const struct svc_metrics *m = &s->m;
    char labels[160];
    kt_prom_family(b, "kotel_ingest_requests_total", "counter",
                   "Export requests answered, by signal (none: a path of no signal), protocol and "
                   "the status OTLP/HTTP gives the answer (gRPC answers count as the status they "
                   "stand for; other: one of no listed status).");
    for (int sig = 0; sig <= KT_SIGNAL_COUNT; sig++)
        for (int pr = 0; pr < PROTO_COUNT; pr++)
            for (size_t st = 0; st <= N_STATUS; st++) {
                if (m->requests[sig][pr][st] == 0)
                    continue;
                char code[8];
                if (st < N_STATUS)
                    snprintf(code, sizeof(code), "%d", status_slots[st]);
                else
                    snprintf(code, sizeof(code), "other");
                snprintf(labels, sizeof(labels), "signal=\"%s\",protocol=\"%s\",status=\"%s\"",
                         sig < KT_SIGNAL_COUNT ? kt_signal_name((enum kt_signal)sig) : "none",
                         proto_names[pr], code);
                kt_prom_u64(b, "kotel_ingest_requests_total", labels, m->requests[sig][pr][st]);
            }
    static const struct {
        const char *name, *help;
        size_t off;
    } items[] = {
        {"kotel_ingest_items_received_total",
         "Items (spans, metric data points, log records) in requests that decoded and passed "
         "the checks.",
         offsetof(struct svc_metrics, items_received)},
        {"kotel_ingest_items_accepted_total",
         "Items acknowledged by Kafka (with [receiver] ack = received: handed to the producer).",
         offsetof(struct svc_metrics, items_accepted)},
        {"kotel_ingest_items_refused_total",
         "Items of requests that decoded but were refused: Kafka unavailable, too slow or "
         "failing, or an item over [kafka] max_message_bytes.",
         offsetof(struct svc_metrics, items_refused)},
    };
    for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++) {
        const uint64_t(*v)[PROTO_COUNT] =
            (const uint64_t(*)[PROTO_COUNT])((const char *)m + items[k].off);
        kt_prom_family(b, items[k].name, "counter", items[k].help);
        for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++)
            for (int pr = 0; pr < PROTO_COUNT; pr++) {
                snprintf(labels, sizeof(labels), "signal=\"%s\",protocol=\"%s\"",
                         kt_signal_name((enum kt_signal)sig), proto_names[pr]);
                kt_prom_u64(b, items[k].name, labels, v[sig][pr]);
            }
    }
    kt_prom_family(b, "kotel_ingest_request_duration_seconds", "histogram",
                   "Time from a request's first bytes to its answer (for an accepted request: "
                   "until Kafka acknowledged all of it).");
    for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++)
        for (int pr = 0; pr < PROTO_COUNT; pr++) {
            snprintf(labels, sizeof(labels), "signal=\"%s\",protocol=\"%s\"",
                     kt_signal_name((enum kt_signal)sig), proto_names[pr]);
            kt_prom_hist(b, "kotel_ingest_request_duration_seconds", labels, &m->latency[sig][pr]);
        }
    kt_prom_family(b, "kotel_ingest_requests_refused_total", "counter",
                   "Requests refused by a check of the receiver, by reason: over a payload limit "
                   "([receiver] max_attributes, max_string_bytes, nesting), unauthenticated "
                   "([receiver.auth]).");
    kt_prom_u64(b, "kotel_ingest_requests_refused_total", "reason=\"over_limit\"",
                s->stats.refused_over_limit);
    kt_prom_u64(b, "kotel_ingest_requests_refused_total", "reason=\"unauthenticated\"",
                s->stats.refused_unauthenticated);
    kt_prom_family(b, "kotel_ingest_json_sliced_total", "counter",
                   "Large OTLP/JSON bodies converted a slice per loop turn.");
    kt_prom_u64(b, "kotel_ingest_json_sliced_total", NULL, s->stats.json_sliced);
}

void otlp_service_get_stats(const struct otlp_service *s, struct otlp_service_stats *out)
{
    *out = s->stats;
    const struct svc_metrics *m = &s->m;
    for (int sig = 0; sig <= KT_SIGNAL_COUNT; sig++)
        for (int pr = 0; pr < PROTO_COUNT; pr++) {
            for (size_t st = 0; st <= N_STATUS; st++)
                out->requests += m->requests[sig][pr][st];
            if (sig == KT_SIGNAL_COUNT)
                continue;
            out->items_received += m->items_received[sig][pr];
            out->items_accepted += m->items_accepted[sig][pr];
            out->items_refused += m->items_refused[sig][pr];
        }
}

struct srv_service otlp_service_callbacks(struct otlp_service *s)
{
    struct srv_service svc = {
        .ctx = s,
        .headers = check_headers,
        .handle = handle_request,
        .abandon = abandon_request,
    };
    return svc;
}
