#include "kt_signal.h"

#include <string.h>

static const struct {
    const char *name, *item, *grpc_path, *http_path;
} signals[KT_SIGNAL_COUNT] = {
    [KT_SIGNAL_TRACES] = {"traces", "spans",
                          "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                          "/v1/traces"},
    [KT_SIGNAL_METRICS] = {"metrics", "data points",
                           "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                           "/v1/metrics"},
    [KT_SIGNAL_LOGS] = {"logs", "log records",
                        "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/v1/logs"},
};

static bool known(enum kt_signal s)
{
    return (unsigned)s < KT_SIGNAL_COUNT;
}

const char *kt_signal_name(enum kt_signal s)
{
    return known(s) ? signals[s].name : "unknown";
}

const char *kt_signal_item_name(enum kt_signal s)
{
    return known(s) ? signals[s].item : "items";
}

const char *kt_signal_grpc_path(enum kt_signal s)
{
    return known(s) ? signals[s].grpc_path : "";
}

const char *kt_signal_http_path(enum kt_signal s)
{
    return known(s) ? signals[s].http_path : "";
}

static bool path_is(const char *path, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(path, want, n) == 0;
}

bool kt_signal_route(const char *path, size_t n, enum kt_signal *sig, bool *grpc)
{
    const char *q = memchr(path, '?', n);
    if (q != NULL)
        n = (size_t)(q - path);
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        bool g = path_is(path, n, signals[s].grpc_path);
        if (g || path_is(path, n, signals[s].http_path)) {
            *sig = (enum kt_signal)s;
            *grpc = g;
            return true;
        }
    }
    return false;
}
