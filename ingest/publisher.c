#include "publisher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "batcher.h"
#include "kt_kafka.h"
#include "kt_log.h"
#include "kt_prom.h"
#include "kt_otlp_json.h"
#include "otlp_split.h"
#include "spool.h"

/* librdkafka refuses a message whose key + value + record framing exceeds
 * message.max.bytes; the framing of one record is well under this. */
#define MSG_OVERHEAD 512
/* Smallest max_message_bytes that still leaves room for a resource and one item. */
#define MIN_MESSAGE_BYTES 1024
/* JSON spells IDs in hex, 64-bit numbers as strings, and every field name: a chunk cut at
 * a third of the bound nearly always encodes under it (and is halved when not). */
#define JSON_GROWTH 3
/* Refuse new requests once the producer queue is this full, before librdkafka itself
 * starts failing produce calls. */
#define QUEUE_HIGH_PCT 90
/* At most one failure log line (and one librdkafka error line) per this many seconds; the
 * rest are counted. */
#define FAIL_LOG_INTERVAL 10.0
/* publisher_free: how long in-flight messages may still be acknowledged. */
#define FREE_FLUSH_MS 1000
/* Delivery-report rounds served per wakeup before the loop gets a turn. */
#define POLL_BUDGET 64
#define STATS_INTERVAL_MS "500"
#define LINGER_MS 5
/* Queued bytes below which Kafka is not judged too slow (see kafka_busy). */
#define SLOW_BACKLOG (1u << 20)
/* Spooled messages produced and not yet acknowledged, at most: the drain keeps Kafka busy
 * without crowding new traffic out of the producer queue (it also stops at half of
 * QUEUE_HIGH_PCT), and new traffic goes around the spool, so neither starves. */
#define DRAIN_INFLIGHT 16
/* How often the drain looks for work when nothing else woke it (a broker back, room in the
 * producer queue). */
#define DRAIN_INTERVAL_S 1.0
/* With routes on (tenant_header, include_metadata_keys, topic_from_*), every batcher key
 * starts with the chunk's route number (u16be; 0 = the signal's topic, no headers) so that
 * data of different routes never shares a message; emit_cb cuts it off again. Slots of the
 * route table: a power of two, twice the routes at most. */
#define ROUTE_IDX_BYTES 2
#define ROUTE_SLOTS (2 * PUBLISHER_ROUTES_MAX)
_Static_assert(ROUTE_IDX_BYTES + OTLP_KEY_MAX <= BATCHER_KEY_MAX,
               "a route number and a Kafka key must fit a batcher key");
_Static_assert(PUBLISHER_ROUTES_MAX <= UINT16_MAX, "a route number is a u16");

/* Why request metadata was refused, for kotel_ingest_metadata_refused_total. */
enum meta_refusal { META_TOO_LONG, META_BAD_TOPIC, META_ROUTES_FULL, META_TOPICS_FULL, META_N };
static const char *const meta_refusal_names[META_N] = {"too_long", "bad_topic", "routes_full",
                                                       "topics_full"};

/* A topic and record headers (route_key's layout: u8 topic length, topic, header pairs as
 * spool_record.h writes them). */
struct route {
    uint8_t *key; /* owned */
    size_t key_n;
    const char *topic; /* in publisher topics; NULL: the signal's */
    struct kt_slice hdrs;
};

struct publisher_ticket {
    struct publisher_ticket *prev, *next; /* live list */
    struct publisher_ticket *deferred_next;
    publisher_done_fn done;
    void *ctx;
    /* Chunks still batched + produced messages awaiting a delivery report carrying this
     * ticket's items + 1 while publisher_submit runs. */
    size_t refs;
    size_t n_items, n_rejected;
    int status; /* 0, or KT_EAGAIN once something failed */
    bool cancelled;
    char fail_msg[KT_ERR_MSG_MAX];
    char reject_msg[KT_ERR_MSG_MAX];
};

/* The opaque of one produced (or spooled) message: the tickets of its parts (one entry per
 * part, so a ticket may appear twice; each entry holds one reference), or, for a message
 * drained from the spool, its record (held until the delivery report). */
struct pub_msg {
    struct spool_rec *rec;
    struct pub_msg *next_free; /* in publisher.pm_pool */
    size_t n, cap;
    struct publisher_ticket *t[];
};

/* Freed pub_msgs of PM_POOL_TICKETS entries (nearly all: a message mostly carries the spans
 * of one request) are kept for the next ones, up to PM_POOL_MAX: a busy ingest makes and
 * frees one per Kafka message, in bursts past what malloc's per-thread cache holds. */
#define PM_POOL_TICKETS 4
#define PM_POOL_MAX 4096

/* Errors of failed deliveries by librdkafka code: the first ERR_CODES distinct codes seen,
 * then "other" (there are far fewer than that in practice). */
#define ERR_CODES 16

/* For /metrics (publisher_metrics): counted on the loop. */
struct pub_metrics {
    struct kt_hist delivery_latency; /* seconds from produce to delivery report */
    struct kt_hist message_items;    /* items per Kafka message */
    uint64_t bytes;                  /* key + value bytes produced */
    int err_code[ERR_CODES];
    uint64_t err_count[ERR_CODES + 1];
    size_t n_err;
};

/* Items per Kafka message: the batch sizes. */
static const double message_items_bounds[] = {1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000};

struct sigpipe {
    enum kt_signal sig;
    struct publisher *p;
    struct batcher *b;
    rd_kafka_topic_t *rkt;
    const char *topic;
    struct otlp_split_opts split;
    ev_timer timer;
};

struct publisher {
    const struct ingest_conf *conf;
    struct ev_loop *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int pipe_rd, pipe_wr;
    ev_io io;
    ev_timer defer_timer;
    struct sigpipe sp[KT_SIGNAL_COUNT];

    struct otlp_splitter *splitter;
    struct kt_buf split_out; /* reused by every submit */
    struct otlp_chunks chunks;
    struct kt_buf json;

    struct publisher_ticket *live; /* every ticket not yet finished */
    size_t n_live;
    struct publisher_ticket *deferred_head, *deferred_tail;
    /* > 0 while a public entry point runs: tickets that finish then are completed from the
     * loop instead, so no caller sees its own done callback re-entered. */
    int api_depth;
    bool freeing;

    bool shutting_down, brokers_down, queue_full, fatal;
    bool stats_on; /* broker-up detection needs statistics; without it, never refuse for
                    * brokers being down (nothing would lift the refusal) */
    bool probing;  /* brokers down, but a bootstrap entry is up: one spooled message is
                    * sent to learn whether Kafka takes data again (bootstrap_up) */
    uint64_t queue_high;
    /* Key + value bytes handed to librdkafka and not yet reported, and the share of its
     * queue.buffering.max.kbytes past which requests are refused up front: a request let in
     * must find room for all its messages, or its client hears 503 while the messages that
     * did fit still take Kafka's capacity. */
    uint64_t queued_bytes, queue_high_bytes;
    /* How long messages wait for their delivery report, smoothed over recent reports (µs),
     * and the wait past which Kafka counts as too slow to let requests in: a message that
     * waits out [kafka] timeout fails its request, after it may have taken Kafka's
     * capacity anyway. 0: no bound ([kafka] timeout 0). */
    int64_t latency_us, slow_us;
    char fatal_msg[256];

    /* Routes seen (routes_on; all NULL when off): number i + 1 is routes[i]; route_slots
     * is an open-addressing table of those numbers (0 = empty). Only added. */
    bool routes_on;
    const char *tenant_header; /* NULL: off */
    struct route *routes;
    size_t n_routes, cap_routes;
    uint16_t *route_slots;
    char *topics[PUBLISHER_TOPICS_MAX];
    size_t n_topics;
    struct kt_buf route_hdrs, route_key; /* submit's scratch */
    struct kt_buf respool_hdrs;          /* respool's scratch */
    uint16_t *chunk_route;               /* per chunk with topic_from_attribute */
    size_t cap_chunk_route;
    uint64_t meta_refused[META_N];
    struct kt_log_limit meta_rl;

    struct pub_msg *pm_pool; /* freed pub_msgs of PM_POOL_TICKETS, n_pm_pool of them */
    size_t n_pm_pool;

    struct spool *spool; /* NULL without [spool] dir */
    size_t drain_inflight;
    ev_timer drain_timer;

    struct kt_log_limit fail_rl, error_rl, drain_rl, probe_rl;
    struct publisher_stats st;
    struct pub_metrics m;
};

/* ---- tickets ---- */

static void ticket_finish(struct publisher *p, struct publisher_ticket *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        p->live = t->next;
    if (t->next)
        t->next->prev = t->prev;
    p->n_live--;
    if (!t->cancelled && t->done != NULL) {
        struct publisher_result r = {.status = 0, .n_rejected = t->n_rejected, .message = ""};
        if (t->status != 0) {
            r.status = t->status;
            r.message = t->fail_msg;
        } else if (t->n_rejected > 0) {
            if (t->n_rejected >= t->n_items)
                r.status = KT_ETOOBIG;
            r.message = t->reject_msg;
        }
        t->done(t->ctx, &r);
    }
    free(t);
}

static void defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct publisher *p = w->data;
    while (p->deferred_head != NULL) {
        struct publisher_ticket *t = p->deferred_head;
        p->deferred_head = t->deferred_next;
        if (p->deferred_head == NULL)
            p->deferred_tail = NULL;
        ticket_finish(p, t);
    }
}

static void ticket_unref(struct publisher *p, struct publisher_ticket *t, size_t n)
{
    t->refs -= n;
    if (t->refs > 0)
        return;
    if (p->api_depth == 0 || p->freeing) {
        ticket_finish(p, t);
        return;
    }
    t->deferred_next = NULL;
    if (p->deferred_tail)
        p->deferred_tail->deferred_next = t;
    else
        p->deferred_head = t;
    p->deferred_tail = t;
    if (!ev_is_active(&p->defer_timer)) {
        ev_timer_set(&p->defer_timer, 0., 0.);
        ev_timer_start(p->loop, &p->defer_timer);
    }
}

static void ticket_fail(struct publisher_ticket *t, const char *msg)
{
    if (t->status != 0)
        return;
    t->status = KT_EAGAIN;
    snprintf(t->fail_msg, sizeof(t->fail_msg), "%s", msg);
}

/* The message's chunks will never be sent: each part's ticket fails. */
static void fail_parts(struct publisher *p, const struct batcher_msg *m, const char *msg)
{
    for (size_t i = 0; i < m->n_parts; i++) {
        struct publisher_ticket *t = m->parts[i].tag;
        if (t == NULL)
            continue;
        ticket_fail(t, msg);
        ticket_unref(p, t, m->parts[i].n_chunks);
    }
}

/* The message's items are refused for good (they cannot be encoded within the bound). */
static void reject_parts(struct publisher *p, const struct batcher_msg *m, const char *msg)
{
    p->st.items_rejected += m->n_items;
    for (size_t i = 0; i < m->n_parts; i++) {
        struct publisher_ticket *t = m->parts[i].tag;
        if (t == NULL)
            continue;
        t->n_rejected += m->parts[i].n_items;
        if (t->reject_msg[0] == '\0')
            snprintf(t->reject_msg, sizeof(t->reject_msg), "%s", msg);
        ticket_unref(p, t, m->parts[i].n_chunks);
    }
}

/* ---- routes ---- */

/* FNV-1a. Routes hold client header values, but there are at most PUBLISHER_ROUTES_MAX of
 * them, so colliding values on purpose cost a client a few thousand compares at worst. */
static size_t route_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* Counts a refusal; the operator's own (no room) are logged too, the client's are the
 * client's to hear. */
static int meta_refuse(struct publisher *p, enum meta_refusal why, struct kt_err *err)
{
    p->meta_refused[why]++;
    if (why == META_ROUTES_FULL || why == META_TOPICS_FULL)
        kt_log_limited(&p->meta_rl, KT_LOG_WARN, "%s", err->msg);
    return err->code;
}

void publisher_meta_too_long(struct publisher *p)
{
    p->meta_refused[META_TOO_LONG]++;
}

/* The record headers of meta into p->route_hdrs: the tenant's, then each include key's
 * values. */
static int route_headers(struct publisher *p, const struct publisher_meta *meta, struct kt_err *err)
{
    struct kt_buf *b = &p->route_hdrs;
    kt_buf_reset(b);
    if (meta == NULL)
        return 0;
    const char *tenant = meta->tenant;
    if (p->tenant_header != NULL && tenant != NULL && tenant[0] != '\0') {
        size_t len = strlen(tenant);
        if (len > PUBLISHER_TENANT_MAX) {
            kt_err_set(err, KT_EINVAL, "publisher: a tenant name of %zu bytes is over %d", len,
                       PUBLISHER_TENANT_MAX);
            return meta_refuse(p, META_TOO_LONG, err);
        }
        if (spool_hdrs_add(
                b, (struct kt_slice){(const uint8_t *)p->tenant_header, strlen(p->tenant_header)},
                (struct kt_slice){(const uint8_t *)tenant, len}) != 0)
            return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    }
    const struct kt_strlist *keys = &p->conf->kafka.include_metadata_keys;
    for (size_t k = 0; k < keys->n; k++) {
        for (size_t i = 0; i < meta->n; i++) {
            if (meta->v[i].key != k)
                continue;
            struct kt_slice v = meta->v[i].value;
            if (v.n > INGEST_META_VALUE_MAX) {
                kt_err_set(err, KT_EINVAL,
                           "[kafka] include_metadata_keys: header %s: a value of %zu bytes is "
                           "over %d",
                           keys->v[k], v.n, INGEST_META_VALUE_MAX);
                return meta_refuse(p, META_TOO_LONG, err);
            }
            if (spool_hdrs_add(
                    b, (struct kt_slice){(const uint8_t *)keys->v[k], strlen(keys->v[k])}, v) != 0)
                return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
        }
    }
    if (b->len > PUBLISHER_HDRS_MAX) {
        kt_err_set(err, KT_EINVAL,
                   "[kafka] include_metadata_keys: the request's record headers take %zu bytes, "
                   "over %d",
                   b->len, PUBLISHER_HDRS_MAX);
        return meta_refuse(p, META_TOO_LONG, err);
    }
    return 0;
}

/* The interned copy of topic (checked already), added when new. */
static int intern_topic(struct publisher *p, struct kt_slice topic, const char **out,
                        struct kt_err *err)
{
    for (size_t i = 0; i < p->n_topics; i++) {
        if (strlen(p->topics[i]) == topic.n && memcmp(p->topics[i], topic.p, topic.n) == 0) {
            *out = p->topics[i];
            return 0;
        }
    }
    if (p->n_topics == PUBLISHER_TOPICS_MAX) {
        kt_err_set(err, KT_ETOOBIG,
                   "[kafka] topic_from_*: %d topics used since start, no room for '%.*s' "
                   "(restart kotel-ingest to forget them)",
                   PUBLISHER_TOPICS_MAX, (int)topic.n, (const char *)topic.p);
        return meta_refuse(p, META_TOPICS_FULL, err);
    }
    char *t = strndup((const char *)topic.p, topic.n);
    if (t == NULL)
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    p->topics[p->n_topics++] = t;
    *out = t;
    return 0;
}

/* The number of the route of topic (n 0: the signal's; where names which option gave it)
 * with the headers in p->route_hdrs, added when new. */
static int route_number(struct publisher *p, struct kt_slice topic, const char *where,
                        uint16_t *out, struct kt_err *err)
{
    *out = 0;
    if (topic.n == 0 && p->route_hdrs.len == 0)
        return 0;
    if (topic.n > 0 && kt_kafka_topic_check((const char *)topic.p, topic.n, err) != 0) {
        kt_err_prefix(err, "[kafka] %s: ", where);
        return meta_refuse(p, META_BAD_TOPIC, err);
    }
    struct kt_buf *k = &p->route_key;
    kt_buf_reset(k);
    uint8_t tn = (uint8_t)topic.n;
    if (kt_buf_append(k, &tn, 1) != 0 || kt_buf_append(k, topic.p, topic.n) != 0 ||
        kt_buf_append(k, p->route_hdrs.p, p->route_hdrs.len) != 0)
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    size_t mask = ROUTE_SLOTS - 1, i = route_hash(k->p, k->len) & mask;
    for (; p->route_slots[i] != 0; i = (i + 1) & mask) {
        const struct route *r = &p->routes[p->route_slots[i] - 1];
        if (r->key_n == k->len && memcmp(r->key, k->p, k->len) == 0) {
            *out = p->route_slots[i];
            return 0;
        }
    }
    if (p->n_routes == PUBLISHER_ROUTES_MAX) {
        kt_err_set(err, KT_ETOOBIG,
                   "publisher: %d combinations of topic and record headers (tenant_header, "
                   "include_metadata_keys) seen since start, no room for another (restart "
                   "kotel-ingest to forget them)",
                   PUBLISHER_ROUTES_MAX);
        return meta_refuse(p, META_ROUTES_FULL, err);
    }
    const char *t = NULL;
    int rc;
    if (topic.n > 0 && (rc = intern_topic(p, topic, &t, err)) != 0)
        return rc;
    if (KT_GROW(p->routes, p->n_routes + 1, p->cap_routes) != 0)
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    uint8_t *key = malloc(k->len);
    if (key == NULL)
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    memcpy(key, k->p, k->len);
    p->routes[p->n_routes++] =
        (struct route){key, k->len, t, {key + 1 + topic.n, k->len - 1 - topic.n}};
    p->route_slots[i] = (uint16_t)p->n_routes;
    *out = (uint16_t)p->n_routes;
    return 0;
}

/* Produces sm to its topic (that of s when it names none). No key at all (not an empty
 * one) lets the partitioner pick a random partition. A message without a record header is
 * produced without a header list, so that path costs what it did before headers existed. */
static rd_kafka_resp_err_t produce(struct publisher *p, const struct sigpipe *s,
                                   const struct spool_msg *sm, int msgflags, void *opaque)
{
    const void *key = sm->key.n > 0 ? sm->key.p : NULL;
    void *val = (void *)sm->value.p;
    if (sm->hdrs.n == 0 && sm->topic.n == 0)
        return rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_KEY(key, sm->key.n), RD_KAFKA_V_VALUE(val, sm->value.n),
            RD_KAFKA_V_MSGFLAGS(msgflags), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    /* librdkafka wants the name NUL-terminated; a spooled one is not. */
    char topic[KT_KAFKA_TOPIC_MAX + 1];
    rd_kafka_vu_t vu[7];
    size_t n = 0;
    if (sm->topic.n > 0) {
        snprintf(topic, sizeof(topic), "%.*s", (int)sm->topic.n, (const char *)sm->topic.p);
        vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic};
    } else {
        vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = s->rkt};
    }
    vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = RD_KAFKA_PARTITION_UA};
    vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key, sm->key.n}};
    vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {val, sm->value.n}};
    vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = msgflags};
    vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque};
    /* librdkafka aborts rather than return NULL when out of memory. */
    rd_kafka_headers_t *h = NULL;
    if (sm->hdrs.n > 0) {
        h = rd_kafka_headers_new(4);
        struct kt_slice rest = sm->hdrs, name, value;
        while (spool_hdrs_next(&rest, &name, &value))
            rd_kafka_header_add(h, (const char *)name.p, (ssize_t)name.n, value.p,
                                (ssize_t)value.n);
        vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = h};
    }
    rd_kafka_error_t *err = rd_kafka_produceva(p->rk, vu, n);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err != NULL) {
        e = rd_kafka_error_code(err);
        rd_kafka_error_destroy(err);
    }
    /* Only a message librdkafka took owns its headers. */
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && h != NULL)
        rd_kafka_headers_destroy(h);
    return e;
}

/* ---- refusal ---- */

static const char queue_full_msg[] = "kafka: producer queue full";
static const char slow_msg[] = "kafka: too slow: messages wait more than half of [kafka] timeout "
                               "to be acknowledged";

/* Why Kafka cannot take a message now (NULL when it can). */
static const char *kafka_busy(const struct publisher *p)
{
    if (p->brokers_down && p->stats_on)
        return "kafka: all brokers down";
    if (p->queue_full || (uint64_t)rd_kafka_outq_len(p->rk) >= p->queue_high ||
        p->queued_bytes >= p->queue_high_bytes)
        return queue_full_msg;
    /* Only with a backlog: the smoothed wait may be stale once the queue has drained, and
     * the next messages then measure it afresh. */
    if (p->slow_us > 0 && p->latency_us > p->slow_us && p->queued_bytes > SLOW_BACKLOG)
        return slow_msg;
    return NULL;
}

static const char *refusal(const struct publisher *p)
{
    if (p->shutting_down)
        return "kafka: shutting down";
    if (p->fatal)
        return p->fatal_msg;
    const char *why = kafka_busy(p);
    /* What is batched now goes to the queue next: it counts against the room too. */
    if (why == NULL) {
        uint64_t batched = 0;
        for (int i = 0; i < KT_SIGNAL_COUNT; i++)
            if (p->sp[i].b)
                batched += batcher_bytes(p->sp[i].b);
        if (p->queued_bytes + batched >= p->queue_high_bytes)
            why = queue_full_msg;
    }
    /* With a spool, what Kafka cannot take goes there, as long as there is room. */
    if (why == NULL || p->spool == NULL)
        return why;
    return spool_refusing(p->spool);
}

const char *publisher_refusing(const struct publisher *p)
{
    return refusal(p);
}

static void drain(struct publisher *p);

static void broker_up(struct publisher *p, const char *how)
{
    if (!p->brokers_down)
        return;
    p->brokers_down = false;
    p->probing = false;
    kt_info("%s; %s", how, p->spool ? "sending to Kafka again" : "accepting requests again");
    drain(p);
}

/* ---- the spool ---- */

/* Delivery errors that no retry cures: spooling such a message would send it again forever. */
static bool retryable(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__FATAL: return false;
    default: return true;
    }
}

/* The message's chunks left the batch and the message now holds the tickets instead. refs
 * cannot reach 0 here: it still counts these chunks when the message ref is added. */
static void hold_parts(const struct batcher_msg *m)
{
    for (size_t i = 0; i < m->n_parts; i++) {
        struct publisher_ticket *t = m->parts[i].tag;
        if (t != NULL)
            t->refs = t->refs + 1 - m->parts[i].n_chunks;
    }
}

/* A pub_msg with room for n tickets, none held yet; NULL without memory. */
static struct pub_msg *pm_new(struct publisher *p, size_t n)
{
    struct pub_msg *pm;
    if (n <= PM_POOL_TICKETS && p->pm_pool != NULL) {
        pm = p->pm_pool;
        p->pm_pool = pm->next_free;
        p->n_pm_pool--;
    } else {
        size_t cap = n <= PM_POOL_TICKETS ? PM_POOL_TICKETS : n;
        pm = malloc(sizeof(*pm) + cap * sizeof(pm->t[0]));
        if (pm == NULL)
            return NULL;
        pm->cap = cap;
    }
    pm->rec = NULL;
    pm->n = 0;
    return pm;
}

/* Frees pm (NULL: nothing), its tickets already released. */
static void pm_free(struct publisher *p, struct pub_msg *pm)
{
    if (pm == NULL)
        return;
    if (pm->cap != PM_POOL_TICKETS || p->n_pm_pool >= PM_POOL_MAX) {
        free(pm);
        return;
    }
    pm->next_free = p->pm_pool;
    p->pm_pool = pm;
    p->n_pm_pool++;
}

/* Releases the tickets of pm (and pm), failing them with why when it is not NULL. */
static void release_msg(struct publisher *p, struct pub_msg *pm, const char *why)
{
    if (pm == NULL)
        return;
    if (why != NULL)
        for (size_t i = 0; i < pm->n; i++)
            ticket_fail(pm->t[i], why);
    for (size_t i = 0; i < pm->n; i++)
        ticket_unref(p, pm->t[i], 1);
    pm_free(p, pm);
}

/* An append to the spool finished: the tickets of pm count the message as done. */
static void spooled_cb(void *ctx, void *tag, int status, const char *msg)
{
    struct publisher *p = ctx;
    if (status == 0) {
        p->st.messages_spooled++;
    } else {
        p->st.messages_failed++;
        kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", msg);
    }
    release_msg(p, tag, status == 0 ? NULL : msg);
}

static void spool_ready_cb(void *ctx)
{
    drain(ctx);
}

static void drain_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    drain(w->data);
}

/* Produces spooled records, oldest first, while Kafka takes data. The record's memory is
 * the value (no copy): the spool keeps it until the delivery report. */
static void drain(struct publisher *p)
{
    if (p->spool == NULL)
        return;
    bool down = p->brokers_down && p->stats_on;
    bool on = !p->shutting_down && !p->fatal && (!down || p->probing);
    /* While probing, a single message: its delivery tells whether Kafka is back. */
    size_t inflight_max = down ? 1 : DRAIN_INFLIGHT;
    spool_drain(p->spool, on);
    while (on && p->drain_inflight < inflight_max &&
           (uint64_t)rd_kafka_outq_len(p->rk) < p->queue_high / 2) {
        struct spool_rec *r = spool_take(p->spool);
        if (r == NULL)
            break;
        struct pub_msg *pm = pm_new(p, 0);
        if (pm == NULL) {
            spool_done(p->spool, r, false);
            break;
        }
        pm->rec = r;
        struct sigpipe *s = &p->sp[r->m.sig];
        rd_kafka_resp_err_t e = produce(p, s, &r->m, 0, pm);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            pm_free(p, pm);
            spool_done(p->spool, r, false);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                p->queue_full = true;
            else
                kt_log_limited(&p->drain_rl, KT_LOG_WARN, "spool: produce to %s failed: %s",
                               s->topic, rd_kafka_err2str(e));
            break;
        }
        p->drain_inflight++;
        p->queued_bytes += r->m.key.n + r->m.value.n;
        p->st.messages_produced++;
    }
}

/* The delivery report of a message drained from the spool. */
/* Room for report_where: a topic name (at most 249 bytes in Kafka) and " [partition]". */
#define WHERE_MAX 280

/* Where a delivery report's message went, for log lines: "TOPIC [P]", or "TOPIC" when no
 * partition was picked (no metadata yet, as with every broker down). */
static const char *report_where(const rd_kafka_message_t *m, char *buf, size_t cap)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    if (m->partition >= 0)
        snprintf(buf, cap, "%s [%" PRId32 "]", topic, m->partition);
    else
        snprintf(buf, cap, "%s", topic);
    return buf;
}

static void drained_report(struct publisher *p, const rd_kafka_message_t *m, struct pub_msg *pm)
{
    char where[WHERE_MAX];
    bool done = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    p->drain_inflight--;
    if (done) {
        p->st.messages_delivered++;
        p->st.messages_drained++;
        broker_up(p, "kafka: message delivered");
    } else if (!retryable(m->err)) {
        /* Kept, it would block nothing but come back forever. */
        p->st.messages_failed++;
        kt_log_limited(&p->drain_rl, KT_LOG_ERROR,
                       "spool: kafka refused a spooled message to %s for good (%s); dropping it",
                       report_where(m, where, sizeof(where)), rd_kafka_err2str(m->err));
        done = true;
    } else {
        kt_log_limited(&p->drain_rl, KT_LOG_WARN,
                       "spool: delivery of a spooled message to %s failed: %s; it is sent again",
                       report_where(m, where, sizeof(where)), rd_kafka_err2str(m->err));
        /* A failed probe: the next statistics that show a broker up send another. */
        p->probing = false;
    }
    spool_done(p->spool, pm->rec, done);
    pm_free(p, pm);
    if (!p->freeing)
        drain(p);
}

/* Kafka cannot take the message of batch message m now: sm (its Kafka form) is appended to
 * the spool, and its tickets are done once the append is durable (spooled_cb). Takes pm. */
static void to_spool(struct publisher *p, const struct batcher_msg *m, const struct spool_msg *sm,
                     struct pub_msg *pm)
{
    struct kt_err e = {0};
    if (spool_append(p->spool, sm, pm, &e) != 0) {
        pm_free(p, pm);
        p->st.messages_failed++;
        kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", e.msg);
        fail_parts(p, m, e.msg);
        return;
    }
    hold_parts(m);
}

/* A delivery failed for now: the message is spooled instead (its payload is librdkafka's
 * copy, still valid in the report). False when the spool refused it. */
static bool respool(struct publisher *p, const rd_kafka_message_t *m, struct pub_msg *pm, char *why,
                    size_t why_n)
{
    enum kt_signal sig = KT_SIGNAL_TRACES;
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (strcmp(p->sp[i].topic, topic) == 0)
            sig = (enum kt_signal)i;
    struct spool_msg sm = {sig, {m->key, m->key_len}, {m->payload, m->len}, {NULL, 0}, {NULL, 0}};
    /* A route's topic is kept; the signal of a topic no signal has by default does not
     * matter then (the record names its topic). */
    if (strcmp(p->sp[sig].topic, topic) != 0)
        sm.topic = (struct kt_slice){(const uint8_t *)topic, strlen(topic)};
    rd_kafka_headers_t *hdrs = NULL;
    const char *name;
    const void *value;
    size_t value_n;
    kt_buf_reset(&p->respool_hdrs);
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &value_n) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            if (spool_hdrs_add(&p->respool_hdrs,
                               (struct kt_slice){(const uint8_t *)name, strlen(name)},
                               (struct kt_slice){value, value_n}) != 0) {
                size_t n = strlen(why);
                snprintf(why + n, why_n - n, "; out of memory spooling it");
                return false;
            }
        }
        sm.hdrs = kt_buf_slice(&p->respool_hdrs);
    }
    struct kt_err e = {0};
    if (spool_append(p->spool, &sm, pm, &e) == 0)
        return true;
    size_t n = strlen(why);
    snprintf(why + n, why_n - n, "; %.200s", e.msg);
    return false;
}

/* ---- producing ---- */

static int emit_cb(void *ctx, const struct batcher_msg *m)
{
    struct sigpipe *s = ctx;
    struct publisher *p = s->p;
    char why[320];
    /* The message as Kafka gets it: the batcher key without the route number, whose
     * route gives the topic and record headers. */
    struct spool_msg sm = {
        s->sig, {(const uint8_t *)m->key, m->key_len}, m->value, {NULL, 0}, {NULL, 0}};
    if (p->routes_on) {
        unsigned ri = (unsigned)(uint8_t)m->key[0] << 8 | (uint8_t)m->key[1];
        sm.key.p += ROUTE_IDX_BYTES;
        sm.key.n -= ROUTE_IDX_BYTES;
        if (ri > 0) {
            const struct route *r = &p->routes[ri - 1];
            sm.hdrs = r->hdrs;
            if (r->topic != NULL)
                sm.topic = (struct kt_slice){(const uint8_t *)r->topic, strlen(r->topic)};
        }
    }

    if (m->value.p == NULL) {
        snprintf(why, sizeof(why), "kafka: out of memory building a %s message",
                 kt_signal_name(s->sig));
        kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", why);
        fail_parts(p, m, why);
        return 0;
    }

    if (ingest_encoding_of(p->conf, s->sig) == INGEST_ENC_OTLP_JSON) {
        struct kt_err e = {0};
        kt_buf_reset(&p->json);
        int rc = kt_otlp_proto_to_json(s->sig, m->value, &p->json, &e);
        if (rc == KT_ENOMEM) {
            snprintf(why, sizeof(why), "kafka: out of memory encoding %s as JSON",
                     kt_signal_name(s->sig));
            kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", why);
            fail_parts(p, m, why);
            return 0;
        }
        if (rc != 0) {
            snprintf(why, sizeof(why), "%s: cannot encode as JSON: %.256s",
                     kt_signal_item_name(s->sig), e.msg);
            reject_parts(p, m, why);
            return 0;
        }
        if (p->json.len > p->conf->kafka.max_message_bytes) {
            if (m->n_chunks > 1)
                return BATCHER_SPLIT;
            snprintf(why, sizeof(why),
                     "%" PRIu64 " %s: %zu bytes as JSON, over max_message_bytes %" PRIu64,
                     m->n_items, kt_signal_item_name(s->sig), p->json.len,
                     p->conf->kafka.max_message_bytes);
            reject_parts(p, m, why);
            return 0;
        }
        sm.value = kt_buf_slice(&p->json);
    }

    size_t n_t = 0;
    for (size_t i = 0; i < m->n_parts; i++)
        n_t += m->parts[i].tag != NULL;
    struct pub_msg *pm = NULL;
    if (n_t > 0) {
        pm = pm_new(p, n_t);
        if (pm == NULL) {
            snprintf(why, sizeof(why), "kafka: out of memory producing to %s", s->topic);
            kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", why);
            fail_parts(p, m, why);
            return 0;
        }
        for (size_t i = 0; i < m->n_parts; i++)
            if (m->parts[i].tag != NULL)
                pm->t[pm->n++] = m->parts[i].tag;
    }

    if (p->spool != NULL && kafka_busy(p) != NULL) {
        to_spool(p, m, &sm, pm);
        return 0;
    }
    kt_hist_observe(&p->m.message_items, (double)m->n_items);
    p->m.bytes += sm.key.n + sm.value.n;
    /* F_COPY: librdkafka allocates the message and its payload in one piece, so the value
     * (a view into the batch) costs one copy and no allocation of its own. */
    rd_kafka_resp_err_t e = produce(p, s, &sm, RD_KAFKA_MSG_F_COPY, pm);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && p->spool != NULL) {
        p->queue_full = true;
        to_spool(p, m, &sm, pm);
        return 0;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pm_free(p, pm);
        p->st.messages_failed++;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            p->queue_full = true;
            snprintf(why, sizeof(why), "kafka: producer queue full (%d messages)",
                     rd_kafka_outq_len(p->rk));
        } else {
            snprintf(why, sizeof(why), "kafka: produce to %s failed: %s", s->topic,
                     rd_kafka_err2str(e));
        }
        kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", why);
        fail_parts(p, m, why);
        return 0;
    }
    p->st.messages_produced++;
    p->queued_bytes += sm.key.n + sm.value.n;
    hold_parts(m);
    return 0;
}

static void flush(struct sigpipe *s)
{
    ev_timer_stop(s->p->loop, &s->timer);
    if (batcher_chunks(s->b) == 0)
        return;
    batcher_flush(s->b, emit_cb, s);
}

static void batch_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    flush(w->data);
}

/* ---- librdkafka callbacks (served on the loop by rd_kafka_poll) ---- */

static void count_error(struct pub_metrics *pm, rd_kafka_resp_err_t e)
{
    size_t i = 0;
    while (i < pm->n_err && pm->err_code[i] != (int)e)
        i++;
    if (i == pm->n_err && pm->n_err < ERR_CODES)
        pm->err_code[pm->n_err++] = (int)e;
    pm->err_count[i]++;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct publisher *p = opaque;
    struct pub_msg *pm = m->_private;
    /* Any report, good or bad, means the queue moved. */
    p->queue_full = false;
    size_t n = m->key_len + m->len;
    p->queued_bytes -= n < p->queued_bytes ? n : p->queued_bytes;
    int64_t lat = rd_kafka_message_latency(m);
    if (lat >= 0) {
        p->latency_us = p->latency_us == 0 ? lat : (p->latency_us * 7 + lat) / 8;
        kt_hist_observe(&p->m.delivery_latency, (double)lat / 1e6);
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        count_error(&p->m, m->err);
    if (pm != NULL && pm->rec != NULL) {
        drained_report(p, m, pm);
        return;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char why[KT_ERR_MSG_MAX];
        char where[WHERE_MAX];
        snprintf(why, sizeof(why), "kafka: delivery to %s failed: %s",
                 report_where(m, where, sizeof(where)), rd_kafka_err2str(m->err));
        /* The spool takes the message (and pm with its tickets) when it can. */
        if (p->spool != NULL && retryable(m->err) && respool(p, m, pm, why, sizeof(why)))
            return;
        p->st.messages_failed++;
        kt_log_limited(&p->fail_rl, KT_LOG_WARN, "%s", why);
        release_msg(p, pm, why);
        return;
    }
    p->st.messages_delivered++;
    broker_up(p, "kafka: message delivered");
    release_msg(p, pm, NULL);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct publisher *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[200];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        snprintf(p->fatal_msg, sizeof(p->fatal_msg), "kafka: producer failed: %s: %s",
                 rd_kafka_err2name(fe), buf);
        if (!p->fatal)
            kt_error("%s; refusing every request from now on", p->fatal_msg);
        p->fatal = true;
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (!p->brokers_down)
            kt_warn("kafka: all brokers down (%s)%s%s", reason,
                    !p->stats_on ? ""
                    : p->spool   ? "; spooling to [spool] dir until one is back: "
                                 : "; refusing new requests until one is back",
                    p->stats_on && p->spool ? p->conf->spool.dir : "");
        p->brokers_down = true;
        p->probing = false;
        /* What waits in the producer queue would only time out: spool it now (messages
         * already sent stay, and are spooled if their delivery fails). */
        if (p->spool != NULL && p->stats_on && !p->freeing)
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
        return;
    }
    kt_log_limited(&p->error_rl, KT_LOG_WARN, "kafka: %s: %s",
                   rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Every broker was down and now only a bootstrap entry (node id -1) is up. That may be all
 * a client started during the outage ever sees come up: librdkafka connects to the brokers
 * the bootstrap entry names only for a message to send, and the entry stays apart from them
 * when its address is not the one they advertise (a DNS alias, a load balancer) or when the
 * broker answering had not yet registered itself. It may also be up while those brokers are
 * not reachable from here at all. So data decides: without a spool, requests are accepted
 * again (they fail after [kafka] timeout if Kafka does not take them); with one, requests
 * keep going to the spool while one spooled message is sent, and its delivery ends the
 * outage (drained_report). */
static void bootstrap_up(struct publisher *p, const char *how)
{
    if (p->spool == NULL) {
        broker_up(p, how);
        return;
    }
    if (p->probing || p->drain_inflight > 0)
        return;
    kt_log_limited(&p->probe_rl, KT_LOG_INFO,
                   "%s; sending one spooled message to learn whether Kafka takes data again", how);
    p->probing = true;
    drain(p);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    struct publisher *p = opaque;
    if (!p->brokers_down)
        return 0;
    json_t *root = json_loadb(json, json_len, 0, NULL);
    json_t *brokers = root ? json_object_get(root, "brokers") : NULL;
    const char *name;
    json_t *b;
    char up[200] = "", boot[200] = "";
    json_object_foreach(brokers, name, b)
    {
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state == NULL || strcmp(state, "UP") != 0)
            continue;
        if (json_integer_value(json_object_get(b, "nodeid")) >= 0) {
            snprintf(up, sizeof(up), "kafka: broker %s is up", name);
            break;
        }
        if (boot[0] == '\0')
            snprintf(boot, sizeof(boot), "kafka: bootstrap broker %s is up", name);
    }
    json_decref(root);
    if (up[0] != '\0')
        broker_up(p, up);
    else if (boot[0] != '\0')
        bootstrap_up(p, boot);
    return 0;
}

/* librdkafka wrote to the pipe: its main queue went from empty to non-empty. */
static void queue_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct publisher *p = w->data;
    char buf[64];
    while (read(p->pipe_rd, buf, sizeof(buf)) > 0) {
    }
    /* librdkafka writes again only after the queue was empty, so it must be drained
     * completely; past a bound, finish on the next loop iteration to let I/O run. */
    for (int i = 0; rd_kafka_poll(p->rk, 0) > 0; i++) {
        if (i == POLL_BUDGET) {
            ev_feed_event(loop, w, EV_READ);
            return;
        }
    }
}

/* ---- configuration ---- */

/* Whether messages may go elsewhere than their signal's topic, or carry record headers. */
static bool routes_wanted(const struct ingest_conf *c)
{
    const char *th = c->receiver_auth.tenant_header;
    return ingest_conf_is_set(th) || c->kafka.include_metadata_keys.n > 0 ||
           ingest_conf_is_set(c->kafka.topic_from_attribute) ||
           ingest_conf_is_set(c->kafka.topic_from_metadata_key);
}

/* The largest message librdkafka is given, framing included: for message.max.bytes. */
static uint64_t msg_max_bytes(const struct ingest_conf *c)
{
    /* Record headers take at most PUBLISHER_HDRS_MAX plus their framing, a varint pair each
     * (at most one per 4 bytes of pairs). */
    size_t hdrs = routes_wanted(c) ? 3 * PUBLISHER_HDRS_MAX : 0;
    return c->kafka.max_message_bytes + OTLP_KEY_MAX + hdrs + MSG_OVERHEAD;
}

/* The largest message librdkafka is given, in KiB, rounded up. */
static uint64_t msg_max_kb(const struct ingest_conf *c)
{
    return (msg_max_bytes(c) + 1023) / 1024;
}

static int configure(const struct ingest_conf *c, rd_kafka_conf_t *kc, struct kt_err *err)
{
    static const char *const acks[] = {"-1", "1", "0"};
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    const struct kt_kafka_common common = {
        .brokers = &c->kafka.brokers,
        .client_id = c->kafka.client_id,
        .protocol_version = c->kafka.protocol_version,
        .auth = &c->kafka.auth,
    };
    int rc = kt_kafka_conf_common(kc, &common, err);
    if (rc != 0)
        return rc;
    if (c->kafka.required_acks < 0 || c->kafka.required_acks > 2)
        return kt_err_set(err, KT_EINVAL, "[kafka] required_acks: unknown value");
    if (c->kafka.compression < 0 || c->kafka.compression > 4)
        return kt_err_set(err, KT_EINVAL, "[kafka] compression: unknown value");
    bool acks_all = c->kafka.required_acks == INGEST_ACKS_ALL;
    char timeout[24], msg_max[24], qmax[24], linger[24];
    snprintf(timeout, sizeof(timeout), "%" PRIu64, c->kafka.timeout_ms);
    snprintf(msg_max, sizeof(msg_max), "%" PRIu64, msg_max_bytes(c));
    snprintf(qmax, sizeof(qmax), "%" PRIu64, c->kafka.queue_max_messages);
    /* librdkafka wants linger.ms below message.timeout.ms (0 = no timeout). */
    snprintf(linger, sizeof(linger), "%d",
             c->kafka.timeout_ms == 0 || c->kafka.timeout_ms > 10 * LINGER_MS ? LINGER_MS : 0);
    const struct {
        const char *key, *name, *value;
    } props[] = {
        {"required_acks", "acks", acks[c->kafka.required_acks]},
        {"compression", "compression.codec", codecs[c->kafka.compression]},
        {"timeout", "message.timeout.ms", timeout},
        {"max_message_bytes", "message.max.bytes", msg_max},
        {"partitioner", "partitioner", c->kafka.partitioner},
        {"queue_max_messages", "queue.buffering.max.messages", qmax},
        /* Retries must not store a message twice. */
        {"required_acks", "enable.idempotence", acks_all ? "true" : "false"},
        /* We batch ourselves; librdkafka only needs to coalesce one flush's messages. */
        {"timeout", "linger.ms", linger},
        /* Values are librdkafka's already (F_COPY): produce requests reference them
         * instead of copying each into a request buffer that is allocated, and page
         * faulted in, per request. */
        {"max_message_bytes", "message.copy.max.bytes", "0"},
        /* Come back quickly after a broker restart: requests are refused meanwhile. */
        {"brokers", "reconnect.backoff.max.ms", "1000"},
        /* The only way to see a broker come back up (stats_cb). */
        {"brokers", "statistics.interval.ms", STATS_INTERVAL_MS},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (props[i].value == NULL || props[i].value[0] == '\0')
            continue;
        rc = kt_kafka_set(kc, "kafka", props[i].key, props[i].name, props[i].value, err);
        if (rc != 0)
            return rc;
    }
    /* The producer queue's share of [limits] memory, at least a few of the largest
     * messages (a passthrough rdkafka.* setting still wins: it is applied below). */
    if (c->limits.memory > 0) {
        char kbytes[24];
        uint64_t kb = ingest_limit_producer_bytes(c) / 1024, least = 4 * msg_max_kb(c);
        snprintf(kbytes, sizeof(kbytes), "%" PRIu64, kb > least ? kb : least);
        rc = kt_kafka_set(kc, "limits", "memory", "queue.buffering.max.kbytes", kbytes, err);
        if (rc != 0)
            return rc;
    }
    return kt_kafka_conf_passthrough(kc, &c->kafka.rdkafka, err);
}

static void init_sigpipe(struct publisher *p, enum kt_signal sig)
{
    const struct ingest_conf *c = p->conf;
    struct sigpipe *s = &p->sp[sig];
    s->sig = sig;
    s->p = p;
    switch (sig) {
    case KT_SIGNAL_TRACES:
        s->topic = c->kafka.traces_topic;
        s->split.key_mode = c->kafka.partition_traces_by_id ? OTLP_KEY_TRACE_ID : OTLP_KEY_NONE;
        break;
    case KT_SIGNAL_METRICS:
        s->topic = c->kafka.metrics_topic;
        s->split.key_mode = c->kafka.partition_metrics_by_resource_attributes
                                ? OTLP_KEY_RESOURCE_HASH
                                : OTLP_KEY_NONE;
        break;
    case KT_SIGNAL_LOGS:
        s->topic = c->kafka.logs_topic;
        /* As the Collector: the resource hash wins when both are set. */
        s->split.key_mode = c->kafka.partition_logs_by_resource_attributes ? OTLP_KEY_RESOURCE_HASH
                            : c->kafka.partition_logs_by_trace_id          ? OTLP_KEY_TRACE_ID
                                                                           : OTLP_KEY_NONE;
        break;
    }
    s->split.max_chunk_bytes = ingest_encoding_of(c, s->sig) == INGEST_ENC_OTLP_JSON
                                   ? c->kafka.max_message_bytes / JSON_GROWTH
                                   : c->kafka.max_message_bytes;
    ev_timer_init(&s->timer, batch_timeout_cb, (ev_tstamp)c->batch.timeout_ms / 1000., 0.);
    s->timer.data = s;
}

int publisher_new(const struct ingest_conf *conf, struct ev_loop *loop, struct publisher **out,
                  struct kt_err *err)
{
    if (conf->kafka.max_message_bytes < MIN_MESSAGE_BYTES)
        return kt_err_set(err, KT_EINVAL,
                          "[kafka] max_message_bytes: %" PRIu64 " is too small, want at least %d",
                          conf->kafka.max_message_bytes, MIN_MESSAGE_BYTES);
    const char *topics[KT_SIGNAL_COUNT][2] = {{"traces_topic", conf->kafka.traces_topic},
                                              {"metrics_topic", conf->kafka.metrics_topic},
                                              {"logs_topic", conf->kafka.logs_topic}};
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (topics[i][1] == NULL || topics[i][1][0] == '\0')
            return kt_err_set(err, KT_EINVAL, "[kafka] %s: empty", topics[i][0]);
    const char *th = conf->receiver_auth.tenant_header;
    bool tenants_on = ingest_conf_is_set(th);
    bool routes_on = routes_wanted(conf);
    if (tenants_on && strlen(th) > PUBLISHER_TENANT_MAX)
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] tenant_header: %zu bytes, want at most %d", strlen(th),
                          PUBLISHER_TENANT_MAX);

    struct publisher *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    p->conf = conf;
    p->loop = loop;
    p->pipe_rd = p->pipe_wr = -1;
    ev_timer_init(&p->defer_timer, defer_cb, 0., 0.);
    p->defer_timer.data = p;
    uint64_t high = conf->kafka.queue_max_messages * QUEUE_HIGH_PCT / 100;
    p->queue_high = high > 0 ? high : 1;
    p->fail_rl = (struct kt_log_limit)KT_LOG_LIMIT(FAIL_LOG_INTERVAL, 1);
    kt_hist_init(&p->m.delivery_latency, kt_hist_latency_bounds, kt_hist_latency_n);
    kt_hist_init(&p->m.message_items, message_items_bounds,
                 sizeof(message_items_bounds) / sizeof(message_items_bounds[0]));
    p->error_rl = (struct kt_log_limit)KT_LOG_LIMIT(FAIL_LOG_INTERVAL, 1);
    p->drain_rl = (struct kt_log_limit)KT_LOG_LIMIT(FAIL_LOG_INTERVAL, 1);
    p->probe_rl = (struct kt_log_limit)KT_LOG_LIMIT(FAIL_LOG_INTERVAL, 1);
    ev_timer_init(&p->drain_timer, drain_timer_cb, DRAIN_INTERVAL_S, DRAIN_INTERVAL_S);
    p->drain_timer.data = p;

    p->meta_rl = (struct kt_log_limit)KT_LOG_LIMIT(FAIL_LOG_INTERVAL, 1);
    if (routes_on) {
        p->routes_on = true;
        p->tenant_header = tenants_on ? th : NULL;
        p->route_slots = calloc(ROUTE_SLOTS, sizeof(*p->route_slots));
    }
    p->splitter = otlp_splitter_new();
    if (p->splitter == NULL || (routes_on && p->route_slots == NULL)) {
        publisher_free(p);
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    }
    struct batcher_opts bo = {
        .max_message_bytes = conf->kafka.max_message_bytes,
        .send_batch_size = conf->batch.send_batch_size,
        .send_batch_max_size = conf->batch.send_batch_max_size,
    };
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        init_sigpipe(p, (enum kt_signal)i);
        if (batcher_new(&bo, &p->sp[i].b) != 0) {
            publisher_free(p);
            return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
        }
    }

    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        int e = errno;
        publisher_free(p);
        return kt_err_set(err, KT_EIO, "publisher: pipe: %s", strerror(e));
    }
    p->pipe_rd = fds[0];
    p->pipe_wr = fds[1];

    int rc;
    /* Before the producer: its first events must not wait on the spool's startup. */
    if (conf->spool.dir != NULL && conf->spool.dir[0] != '\0') {
        const struct spool_opts so = {
            .dir = conf->spool.dir,
            .max_size = conf->spool.max_size,
            .segment_size = conf->spool.segment_size,
            .fsync = conf->spool.fsync,
        };
        rc = spool_new(&so, loop, spooled_cb, spool_ready_cb, p, &p->spool, err);
        if (rc != 0) {
            publisher_free(p);
            return rc;
        }
        ev_timer_start(loop, &p->drain_timer);
    }
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rc = configure(conf, kc, err);
    if (rc != 0) {
        rd_kafka_conf_destroy(kc);
        publisher_free(p);
        return rc;
    }
    char v[32];
    size_t vn = sizeof(v);
    /* The effective bound (ours from [limits] memory, librdkafka's default, or a
     * passthrough rdkafka.* setting). */
    p->slow_us = (int64_t)(conf->kafka.timeout_ms * 1000 / 2);
    p->queue_high_bytes = UINT64_MAX;
    if (rd_kafka_conf_get(kc, "queue.buffering.max.kbytes", v, &vn) == RD_KAFKA_CONF_OK &&
        strtoull(v, NULL, 10) > 0)
        p->queue_high_bytes = strtoull(v, NULL, 10) * 1024 / 100 * QUEUE_HIGH_PCT;
    vn = sizeof(v);
    p->stats_on =
        rd_kafka_conf_get(kc, "statistics.interval.ms", v, &vn) == RD_KAFKA_CONF_OK && atoi(v) > 0;
    rd_kafka_conf_set_opaque(kc, p);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    rd_kafka_conf_set_log_cb(kc, kt_kafka_log_cb);

    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(kc);
        publisher_free(p);
        return kt_err_set(err, KT_EINVAL, "[kafka]: librdkafka: %s", errstr);
    }
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        struct sigpipe *s = &p->sp[i];
        s->rkt = rd_kafka_topic_new(p->rk, s->topic, NULL);
        if (s->rkt == NULL) {
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            publisher_free(p);
            return kt_err_set(err, KT_EINVAL, "[kafka] %s: librdkafka: %s", topics[i][0],
                              rd_kafka_err2str(e));
        }
    }
    p->mainq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->mainq, p->pipe_wr, "1", 1);
    ev_io_init(&p->io, queue_io_cb, p->pipe_rd, EV_READ);
    p->io.data = p;
    ev_io_start(loop, &p->io);
    /* librdkafka writes to the pipe only when the queue goes from empty to non-empty: what
     * it queued before the pipe was hooked up (a refused connection) is served now. */
    ev_feed_event(loop, &p->io, EV_READ);
    *out = p;
    return 0;
}

/* ---- the public entry points ---- */

int publisher_submit(struct publisher *p, enum kt_signal sig, struct kt_slice body, size_t n_items,
                     const struct publisher_meta *meta, publisher_done_fn done, void *ctx,
                     struct publisher_ticket **ticket, struct kt_err *err)
{
    if (ticket != NULL)
        *ticket = NULL;
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return kt_err_set(err, KT_EINVAL, "publisher: unknown signal %d", (int)sig);
    const char *why = refusal(p);
    if (why != NULL) {
        p->st.requests_refused++;
        if (why == queue_full_msg)
            return kt_err_set(err, KT_EAGAIN, "kafka: producer queue full (%d messages)",
                              rd_kafka_outq_len(p->rk));
        if (why == slow_msg)
            return kt_err_set(err, KT_EAGAIN,
                              "kafka: too slow: messages wait %.1f s to be acknowledged, over "
                              "half of [kafka] timeout (%.1f s)",
                              (double)p->latency_us / 1e6, (double)p->conf->kafka.timeout_ms / 1e3);
        return kt_err_set(err, KT_EAGAIN, "%s", why);
    }

    struct sigpipe *s = &p->sp[sig];
    /* The request's route, when its chunks all share one (no topic_from_attribute, or a
     * topic from the request's metadata); else each chunk's topic picks its own. */
    uint16_t ri = 0;
    struct otlp_split_opts split = s->split;
    struct kt_slice req_topic = meta != NULL ? meta->topic : (struct kt_slice){NULL, 0};
    if (p->routes_on) {
        int mrc = route_headers(p, meta, err);
        if (mrc == 0)
            mrc = route_number(p, req_topic, "topic_from_metadata_key", &ri, err);
        if (mrc != 0) {
            p->st.requests_refused++;
            return mrc;
        }
        if (req_topic.n == 0 && ingest_conf_is_set(p->conf->kafka.topic_from_attribute))
            split.topic_attr = p->conf->kafka.topic_from_attribute;
    }

    /* When the whole request fits the open batch, the splitter writes its chunks straight
     * into the batch's storage; otherwise the batch may have to be flushed between two
     * chunks, so they are staged in split_out and copied in one by one. */
    bool in_place = !batcher_would_overflow(s->b, n_items);
    struct kt_buf *out = in_place ? batcher_storage(s->b) : &p->split_out;
    if (!in_place)
        kt_buf_reset(out);
    size_t out_len0 = out->len;
    otlp_chunks_reset(&p->chunks);
    size_t n_rej = 0;
    struct kt_err rej = {0};
    int rc = otlp_splitter_split(p->splitter, sig, body, &split, out, &p->chunks, &n_rej, &rej);
    if (rc != 0) {
        if (rc == KT_ENOMEM)
            return kt_err_set(err, KT_ENOMEM, "publisher: out of memory splitting %s",
                              kt_signal_name(sig));
        return kt_err_set(err, rc, "%s", rej.msg[0] ? rej.msg : "malformed request");
    }

    /* Every chunk's route before anything is accepted: a bad topic refuses the request. */
    if (split.topic_attr != NULL && KT_GROW(p->chunk_route, p->chunks.n, p->cap_chunk_route) != 0) {
        out->len = out_len0;
        return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
    }
    for (size_t i = 0; split.topic_attr != NULL && i < p->chunks.n; i++) {
        const struct otlp_chunk *c = &p->chunks.v[i];
        p->chunk_route[i] = ri;
        if (c->topic.n == 0)
            continue;
        if (i > 0 && c->topic.n == p->chunks.v[i - 1].topic.n &&
            memcmp(c->topic.p, p->chunks.v[i - 1].topic.p, c->topic.n) == 0) {
            p->chunk_route[i] = p->chunk_route[i - 1];
            continue;
        }
        rc = route_number(p, c->topic, "topic_from_attribute", &p->chunk_route[i], err);
        if (rc != 0) {
            out->len = out_len0;
            p->st.requests_refused++;
            return rc;
        }
    }

    if (n_rej > 0)
        kt_err_prefix(&rej, "[kafka] max_message_bytes: ");
    struct publisher_ticket *t = NULL;
    if (done != NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            out->len = out_len0;
            return kt_err_set(err, KT_ENOMEM, "publisher: out of memory");
        }
        t->done = done;
        t->ctx = ctx;
        t->refs = 1;
        t->n_items = n_items;
        t->n_rejected = n_rej;
        if (n_rej > 0)
            snprintf(t->reject_msg, sizeof(t->reject_msg), "%s", rej.msg);
        t->next = p->live;
        if (p->live)
            p->live->prev = t;
        p->live = t;
        p->n_live++;
    }
    p->st.requests_accepted++;
    p->st.items_accepted += n_items >= n_rej ? n_items - n_rej : 0;
    p->st.items_rejected += n_rej;

    p->api_depth++;
    for (size_t i = 0; i < p->chunks.n; i++) {
        const struct otlp_chunk *c = &p->chunks.v[i];
        const char *key = c->key;
        size_t key_len = c->key_len;
        char rkey[BATCHER_KEY_MAX];
        if (p->routes_on) {
            uint16_t r = split.topic_attr != NULL ? p->chunk_route[i] : ri;
            rkey[0] = (char)(r >> 8);
            rkey[1] = (char)r;
            memcpy(rkey + ROUTE_IDX_BYTES, c->key, c->key_len);
            key = rkey;
            key_len += ROUTE_IDX_BYTES;
        }
        if (in_place) {
            rc = batcher_add_stored(s->b, key, key_len, c->off, c->len, c->n_items, t);
        } else {
            if (batcher_would_overflow(s->b, c->n_items))
                flush(s);
            rc = batcher_add(s->b, key, key_len, out->p + c->off, c->len, c->n_items, t);
        }
        if (rc != 0) {
            /* The chunks not held stay out of the batch. */
            if (in_place)
                out->len = c->off;
            if (t != NULL)
                ticket_fail(t, "kafka: out of memory batching the request");
            kt_log_limited(&p->fail_rl, KT_LOG_WARN, "kafka: out of memory batching a request");
            break;
        }
        if (t != NULL)
            t->refs++;
    }
    if (batcher_ready(s->b) || p->conf->batch.timeout_ms == 0)
        flush(s);
    else if (batcher_chunks(s->b) > 0 && !ev_is_active(&s->timer)) {
        /* A one-shot timer that fired keeps an expired due time: set it again. */
        ev_timer_set(&s->timer, (ev_tstamp)p->conf->batch.timeout_ms / 1000., 0.);
        ev_timer_start(p->loop, &s->timer);
    }
    if (t != NULL)
        ticket_unref(p, t, 1);
    p->api_depth--;
    if (ticket != NULL)
        *ticket = t;
    return 0;
}

void publisher_ticket_cancel(struct publisher_ticket *t)
{
    if (t != NULL)
        t->cancelled = true;
}

void publisher_begin_shutdown(struct publisher *p)
{
    p->shutting_down = true;
    p->api_depth++;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        flush(&p->sp[i]);
    p->api_depth--;
}

bool publisher_idle(const struct publisher *p)
{
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (batcher_chunks(p->sp[i].b) > 0)
            return false;
    return p->n_live == 0 && rd_kafka_outq_len(p->rk) == 0 &&
           (p->spool == NULL || spool_idle(p->spool));
}

static int fail_emit_cb(void *ctx, const struct batcher_msg *m)
{
    struct sigpipe *s = ctx;
    fail_parts(s->p, m, "kafka: shut down before the request was published");
    return 0;
}

void publisher_free(struct publisher *p)
{
    if (p == NULL)
        return;
    p->freeing = true;
    p->shutting_down = true;
    ev_timer_stop(p->loop, &p->defer_timer);
    ev_timer_stop(p->loop, &p->drain_timer);
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        struct sigpipe *s = &p->sp[i];
        ev_timer_stop(p->loop, &s->timer);
        if (s->b != NULL && batcher_chunks(s->b) > 0)
            batcher_flush(s->b, fail_emit_cb, s);
    }
    if (p->rk != NULL) {
        if (p->mainq != NULL) {
            ev_io_stop(p->loop, &p->io);
            rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
        }
        /* Give what is in flight a last chance to be acknowledged, then fail the rest
         * through the normal delivery-report path so every opaque is released. */
        rd_kafka_flush(p->rk, FREE_FLUSH_MS);
        kt_kafka_purge_and_drain(p->rk);
    }
    while (p->deferred_head != NULL) {
        struct publisher_ticket *t = p->deferred_head;
        p->deferred_head = t->deferred_next;
        ticket_finish(p, t);
    }
    p->deferred_tail = NULL;
    /* Writes what was spooled (failed deliveries purged above included) and reports it:
     * those tickets finish here, before the rest are failed. Spooled records that were
     * sent and not acknowledged stay on disk for the next run. */
    spool_free(p->spool);
    p->spool = NULL;
    /* Anything left still waits for a report librdkafka will never serve now. */
    while (p->live != NULL) {
        ticket_fail(p->live, "kafka: shut down before delivery was confirmed");
        ticket_finish(p, p->live);
    }
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        if (p->sp[i].rkt != NULL)
            rd_kafka_topic_destroy(p->sp[i].rkt);
        batcher_free(p->sp[i].b);
    }
    if (p->mainq != NULL)
        rd_kafka_queue_destroy(p->mainq);
    if (p->rk != NULL)
        rd_kafka_destroy(p->rk);
    if (p->pipe_rd >= 0)
        close(p->pipe_rd);
    if (p->pipe_wr >= 0)
        close(p->pipe_wr);
    if (p->splitter != NULL)
        otlp_splitter_free(p->splitter);
    kt_buf_free(&p->split_out);
    otlp_chunks_free(&p->chunks);
    kt_buf_free(&p->json);
    for (size_t i = 0; i < p->n_routes; i++)
        free(p->routes[i].key);
    free(p->routes);
    free(p->route_slots);
    for (size_t i = 0; i < p->n_topics; i++)
        free(p->topics[i]);
    kt_buf_free(&p->route_hdrs);
    kt_buf_free(&p->route_key);
    kt_buf_free(&p->respool_hdrs);
    free(p->chunk_route);
    while (p->pm_pool != NULL) {
        struct pub_msg *pm = p->pm_pool;
        p->pm_pool = pm->next_free;
        free(pm);
    }
    free(p);
}

void publisher_metrics(const struct publisher *p, struct kt_buf *b)
{
    const struct publisher_stats *st = &p->st;
    const struct {
        const char *name, *help;
        uint64_t v;
    } c[] = {
        {"kotel_ingest_kafka_messages_produced_total",
         "Kafka messages handed to the producer (spooled ones once drained included).",
         st->messages_produced},
        {"kotel_ingest_kafka_messages_delivered_total", "Kafka messages Kafka acknowledged.",
         st->messages_delivered},
        {"kotel_ingest_kafka_messages_failed_total",
         "Kafka messages whose delivery failed and that were not spooled.", st->messages_failed},
        {"kotel_ingest_kafka_produced_bytes_total",
         "Key and value bytes of the messages built from requests (before compression).",
         p->m.bytes},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        kt_prom_family(b, c[i].name, "counter", c[i].help);
        kt_prom_u64(b, c[i].name, NULL, c[i].v);
    }
    kt_prom_family(b, "kotel_ingest_kafka_messages_in_flight", "gauge",
                   "Kafka messages handed to librdkafka and not yet reported on.");
    kt_prom_u64(b, "kotel_ingest_kafka_messages_in_flight", NULL,
                (uint64_t)rd_kafka_outq_len(p->rk));
    kt_prom_family(b, "kotel_ingest_kafka_delivery_errors_total", "counter",
                   "Delivery reports with an error, by librdkafka's error name (the message may "
                   "then have been spooled or failed).");
    for (size_t i = 0; i <= p->m.n_err && i <= ERR_CODES; i++) {
        if (p->m.err_count[i] == 0)
            continue;
        char labels[96];
        snprintf(labels, sizeof(labels), "code=\"%s\"",
                 i < p->m.n_err ? rd_kafka_err2name((rd_kafka_resp_err_t)p->m.err_code[i])
                                : "other");
        kt_prom_u64(b, "kotel_ingest_kafka_delivery_errors_total", labels, p->m.err_count[i]);
    }
    kt_prom_family(b, "kotel_ingest_kafka_delivery_latency_seconds", "histogram",
                   "Time from handing a message to librdkafka to its delivery report.");
    kt_prom_hist(b, "kotel_ingest_kafka_delivery_latency_seconds", NULL, &p->m.delivery_latency);
    kt_prom_family(b, "kotel_ingest_kafka_message_items", "histogram",
                   "Items (spans, data points, log records) per Kafka message: the batch sizes.");
    kt_prom_hist(b, "kotel_ingest_kafka_message_items", NULL, &p->m.message_items);
    if (p->routes_on) {
        kt_prom_family(b, "kotel_ingest_metadata_refused_total", "counter",
                       "Requests refused for their metadata: a value too long, a topic Kafka "
                       "would not take, or no room for another route or topic.");
        for (int i = 0; i < META_N; i++) {
            char labels[48];
            snprintf(labels, sizeof(labels), "reason=\"%s\"", meta_refusal_names[i]);
            kt_prom_u64(b, "kotel_ingest_metadata_refused_total", labels, p->meta_refused[i]);
        }
    }
    kt_prom_family(b, "kotel_ingest_ready", "gauge",
                   "1 when requests are let in, 0 while they are refused (see /readyz).");
    kt_prom_u64(b, "kotel_ingest_ready", NULL, refusal(p) == NULL);
    if (p->spool == NULL)
        return;
    struct spool_stats ss;
    spool_get_stats(p->spool, &ss);
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } sp[] = {
        {"kotel_ingest_spool_bytes", "gauge", "Bytes of the [spool] segment files.", ss.bytes},
        {"kotel_ingest_spool_segments", "gauge", "[spool] segment files.", ss.segments},
        {"kotel_ingest_spool_messages_written_total", "counter",
         "Kafka messages appended to the [spool] while Kafka could not take them.",
         st->messages_spooled},
        {"kotel_ingest_spool_messages_drained_total", "counter",
         "Spooled messages taken from the spool and acknowledged by Kafka.", st->messages_drained},
        {"kotel_ingest_spool_corrupt_tails_total", "counter",
         "Torn or corrupt segment tails skipped when reading the spool.", ss.corrupt},
        {"kotel_ingest_spool_write_errors_total", "counter", "Failed writes to the spool.",
         ss.write_errors},
    };
    for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++) {
        kt_prom_family(b, sp[i].name, sp[i].type, sp[i].help);
        kt_prom_u64(b, sp[i].name, NULL, sp[i].v);
    }
}

void publisher_get_stats(const struct publisher *p, struct publisher_stats *out)
{
    *out = p->st;
    out->messages_in_flight = (uint64_t)rd_kafka_outq_len(p->rk);
}
