/* otlp_service: the OTLP Export service behind the server.
 *
 * Routes a request, decodes its body (gRPC framing, gzip, JSON), checks it, hands it to
 * the publisher and answers once Kafka acknowledged it. It sees requests only through
 * request.h, and is called through the srv_service callbacks it gives server_new. */
#ifndef INGEST_OTLP_SERVICE_H
#define INGEST_OTLP_SERVICE_H

#include "conf.h"
#include "kt_err.h"
#include "publisher.h"
#include "request.h"

struct otlp_service;

/* conf and pub are borrowed and must outlive the service. Returns 0 or KT_ENOMEM. */
int otlp_service_new(const struct ingest_conf *conf, struct publisher *pub,
                     struct otlp_service **out, struct kt_err *err);
/* After the server is freed (it abandons its requests through the service). */
void otlp_service_free(struct otlp_service *s);
/* The callbacks for server_new; s must outlive the server. */
struct srv_service otlp_service_callbacks(struct otlp_service *s);

#endif
