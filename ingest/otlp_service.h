/* otlp_service: the OTLP Export service behind the server.
 *
 * Routes a request, decodes its body (gRPC framing, gzip, JSON), checks it, hands it to
 * the publisher and answers once Kafka acknowledged it. It sees requests only through
 * request.h, and is called through the srv_service callbacks it gives server_new. */
#ifndef INGEST_OTLP_SERVICE_H
#define INGEST_OTLP_SERVICE_H

#include <stdint.h>

#include "auth.h"
#include "conf.h"
#include "kt_err.h"
#include "publisher.h"
#include "request.h"

struct otlp_service;

/* conf, pub and auth (NULL: every client is let in) are borrowed and must outlive the
 * service. Returns 0 or KT_ENOMEM. */
int otlp_service_new(const struct ingest_conf *conf, struct publisher *pub, struct auth *auth,
                     struct otlp_service **out, struct kt_err *err);
/* After the server is freed (it abandons its requests through the service). Logs the
 * counters. NULL is ignored. */
void otlp_service_free(struct otlp_service *s);

/* Counters, logged at exit. */
struct otlp_service_stats {
    /* Requests refused with 400 / INVALID_ARGUMENT for passing a payload limit: [receiver]
     * max_attributes or max_string_bytes, AnyValue or JSON nesting. */
    uint64_t refused_over_limit;
    /* OTLP/JSON bodies large enough to be converted a slice per loop turn. */
    uint64_t json_sliced;
    /* Requests refused with 401 / UNAUTHENTICATED ([receiver.auth]). */
    uint64_t refused_unauthenticated;
    /* Every signal and protocol of /metrics' kotel_ingest_requests_total and
     * kotel_ingest_items_{received,accepted,refused}_total, summed. */
    uint64_t requests, items_received, items_accepted, items_refused;
};
void otlp_service_get_stats(const struct otlp_service *s, struct otlp_service_stats *out);
/* Appends the service's metrics (requests by signal, protocol and status, items received,
 * accepted and refused, request latency) in the Prometheus text format. */
void otlp_service_metrics(const struct otlp_service *s, struct kt_buf *b);
/* The callbacks for server_new; s must outlive the server. */
struct srv_service otlp_service_callbacks(struct otlp_service *s);

#endif
