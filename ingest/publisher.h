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

/* Longest tenant name, and how many distinct names one publisher keeps (names are only
 * added: they come from the token file, not from clients). */
#define PUBLISHER_TENANT_MAX 255
#define PUBLISHER_TENANTS_MAX 4096

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
 * items. tenant (borrowed; NULL or "" = none) names who sent it: with [receiver.auth]
 * tenant_header set, every message made from the request carries the record header
 * `<tenant_header>: <tenant>`, and holds no other tenant's data (requests of one tenant
 * are batched together as usual). A tenant name over PUBLISHER_TENANT_MAX bytes is
 * KT_EINVAL, a new one past PUBLISHER_TENANTS_MAX names seen since publisher_new is
 * KT_ETOOBIG (both without a callback). With done == NULL the request is fire-and-forget
 * (ack = received).
 * Returns 0 and sets *ticket (when ticket is not NULL), or KT_EAGAIN with err set when the
 * pipeline cannot take more now (brokers down, producer queue full, shutting down): the
 * request was not accepted and done will not be called. KT_EINVAL (body does not split)
 * and KT_ENOMEM are possible too, likewise without a callback.
 * *ticket is NULL for fire-and-forget; otherwise it stays valid until done was called or
 * the ticket was cancelled. */
int publisher_submit(struct publisher *p, enum kt_signal sig, struct kt_slice body, size_t n_items,
                     const char *tenant, publisher_done_fn done, void *ctx,
                     struct publisher_ticket **ticket, struct kt_err *err);

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
