/* kt_signal: the three OTLP signals, their names as they appear in logs, and their routes
 * (the gRPC method and the OTLP/HTTP path of each), for servers and clients alike. */
#ifndef KT_SIGNAL_H
#define KT_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>

enum kt_signal {
    KT_SIGNAL_TRACES = 0,
    KT_SIGNAL_METRICS = 1,
    KT_SIGNAL_LOGS = 2,
};
#define KT_SIGNAL_COUNT 3

/* "traces", "metrics", "logs" */
const char *kt_signal_name(enum kt_signal s);
/* What one item of the signal is called in OTLP partial_success: "spans", "data points",
 * "log records". */
const char *kt_signal_item_name(enum kt_signal s);

/* The gRPC method path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export", ... */
const char *kt_signal_grpc_path(enum kt_signal s);
/* The OTLP/HTTP path: "/v1/traces", "/v1/metrics", "/v1/logs". */
const char *kt_signal_http_path(enum kt_signal s);

/* The signal a request path path[0..n) is for, and whether the path is the gRPC method
 * (true) or the OTLP/HTTP one (false). A "?query" is ignored. False when it is neither. */
bool kt_signal_route(const char *path, size_t n, enum kt_signal *sig, bool *grpc);

#endif
