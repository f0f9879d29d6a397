/* publisher: batches validated OTLP requests per signal, splits them into keyed Kafka
 * messages, produces them, and tells each request's owner when every message made from it
 * was acknowledged (or failed).
 *
 * Single-threaded: every function here runs on the ingest event loop thread. librdkafka's
 * delivery reports are routed to the loop through a queue event fd, so nothing here ever
 * blocks on Kafka. */
#ifndef INGEST_PUBLISHER_H
#define INGEST_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

/* Longest tenant name (and tenant_header name). */
#define PUBLISHER_TENANT_MAX INGEST_META_VALUE_MAX
/* Routes: what sends a message somewhere other than its signal's topic without headers.
 * Distinct combinations of topic and record headers one publisher keeps (only added: a
 * batcher key refers to them by number), distinct topics among them, and the bytes of one
 * message's record headers (names and values). */
#define PUBLISHER_ROUTES_MAX 4096
#define PUBLISHER_TOPICS_MAX 256
#define PUBLISHER_HDRS_MAX 4096

/* What besides its body decides where a request's data goes (all borrowed, for the call). */
struct publisher_meta {
    const char *tenant; /* [receiver.auth] name; NULL or "": none */
    /* [kafka] topic_from_metadata_key's value (n 0: not sent): the topic of the whole
     * request, before topic_from_attribute. */
    struct kt_slice topic;
    /* The values of [kafka] include_metadata_keys, in arrival order: key indexes the list. */
    const struct publisher_meta_value {
        unsigned key;
        struct kt_slice value;
    } * v;
    size_t n;
};

struct publisher;
struct publisher_ticket;

struct publisher_result {
    /* 0: every accepted item was acknowledged by Kafka.
     * KT_EAGAIN: retryable; a message failed or was not acknowledged within [kafka] timeout.
     * KT_ETOOBIG: every item was refused as too large (n_rejected == n_items). */
    int status;
    size_t n_rejected;   /* items refused permanently (one item over max_message_bytes) */
    const char *message; /* for the client: why it failed, or the partial-success reason;
                          * valid only during the callback; "" when none */
};

/* Called exactly once per ticket that was not cancelled, always from the event loop and
 * never from inside publisher_submit. */
typedef void (*publisher_done_fn)(void *ctx, const struct publisher_result *r);

/* conf is borrowed and must outlive the publisher; so must loop (publisher_free stops its
 * watchers). Creates the librdkafka producer and hooks its delivery reports into loop.
 * Errors name the offending key ([kafka], [receiver.auth] tenant_header). */
int publisher_new(const struct ingest_conf *conf, struct ev_loop *loop, struct publisher **out,
                  struct kt_err *err);

/* Hands a request to the publisher. body (borrows: the bytes are copied before return)
 * holds a *Data / Export*ServiceRequest already checked by kt_otlp_validate, with n_items
 * items. meta (NULL: none) says who sent it and with which headers: every message made from
 * the request carries the record headers `<tenant_header>: <tenant>` ([receiver.auth]
 * tenant_header set) and one `<key>: <value>` per value of [kafka] include_metadata_keys
 * (keys in the list's order, values in arrival order), goes to the topic meta->topic names,
 * or else its resource's topic_from_attribute, or else the signal's, and holds no data of a
 * request that differs in any of these (requests alike are batched together as usual).
 * KT_EINVAL (err says which and why; nothing counted as accepted, no callback): a value over
 * INGEST_META_VALUE_MAX bytes, headers over PUBLISHER_HDRS_MAX, a topic Kafka would not
 * take. KT_ETOOBIG (likewise): a new route past PUBLISHER_ROUTES_MAX or a new topic past
 * PUBLISHER_TOPICS_MAX since publisher_new. With done == NULL the request is
 * fire-and-forget (ack = received).
 * Returns 0 and sets *ticket (when ticket is not NULL), or KT_EAGAIN with err set when the
 * pipeline cannot take more now (brokers down, producer queue full, shutting down): the
 * request was not accepted and done will not be called. KT_ENOMEM is possible too,
 * likewise without a callback.
 * *ticket is NULL for fire-and-forget; otherwise it stays valid until done was called or
 * the ticket was cancelled. */
int publisher_submit(struct publisher *p, enum kt_signal sig, struct kt_slice body, size_t n_items,
                     const struct publisher_meta *meta, publisher_done_fn done, void *ctx,
                     struct publisher_ticket **ticket, struct kt_err *err);

/* A request was refused before publisher_submit for a header value over
 * INGEST_META_VALUE_MAX: counted with the publisher's own refusals (publisher_metrics). */
void publisher_meta_too_long(struct publisher *p);

/* The client went away: done will not be called for this ticket; its data is still sent.
 * NULL is ignored. Not after done was called (the ticket is gone by then). */
void publisher_ticket_cancel(struct publisher_ticket *t);

/* Why new requests are refused right now (NULL when they are not). */
const char *publisher_refusing(const struct publisher *p);

/* Shutdown, step 1 (on the loop): refuse new requests and publish every open batch now. */
void publisher_begin_shutdown(struct publisher *p);
/* Shutdown, step 2: true once nothing is batched or awaiting a delivery report. */
bool publisher_idle(const struct publisher *p);
/* Shutdown, step 3: fails whatever is still outstanding (done gets KT_EAGAIN), frees all. */
void publisher_free(struct publisher *p);

/* Counters for logs and tests. items_rejected also counts items refused after batching
 * (an otlp_json encoding over max_message_bytes). */
struct publisher_stats {
    uint64_t requests_accepted, requests_refused;
    uint64_t items_accepted, items_rejected;
    uint64_t messages_produced, messages_delivered, messages_failed;
    uint64_t messages_spooled; /* appended to [spool] dir (durable per its fsync) */
    uint64_t messages_drained; /* taken from the spool and acknowledged by Kafka */
    /* Handed to librdkafka and not yet reported on: a gauge, read by publisher_get_stats. */
    uint64_t messages_in_flight;
};
void publisher_get_stats(const struct publisher *p, struct publisher_stats *out);
/* Appends the publisher's metrics (Kafka messages, bytes, delivery latency and errors,
 * items per message, readiness, the spool) in the Prometheus text format. */
void publisher_metrics(const struct publisher *p, struct kt_buf *b);

#endif
