/* pb_build: protobuf-c objects built in the file's arena A, and short names for their
 * types, for the filter, transform and OTTL walk tests. */
#ifndef TEST_UNIT_PROCESS_PB_BUILD_H
#define TEST_UNIT_PROCESS_PB_BUILD_H

#include <string.h>

#include "kt_arena.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Logs__V1__LogsData LogsData;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__MetricsData MetricsData;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;

static struct kt_arena A;

/* A new T in A, set to INIT. */
#define NEW(T, INIT)                                                                               \
    ({                                                                                             \
        T *p_ = kt_arena_alloc(&A, sizeof(T));                                                     \
        T i_ = INIT;                                                                               \
        *p_ = i_;                                                                                  \
        p_;                                                                                        \
    })

/* Appends p to the pointer array *arr of length *n. */
static void push(void ***arr, size_t *n, void *p)
{
    void **na = kt_arena_alloc(&A, (*n + 1) * sizeof(*na));
    if (*n)
        memcpy(na, *arr, *n * sizeof(*na));
    na[(*n)++] = p;
    *arr = na;
}
#define PUSH(arr, n, p) push((void ***)(void *)&(arr), &(n), (p))

/* LogsData holding one resource with one scope, both absent; *sl is the scope's container. */
static inline LogsData *pb_logs(ScopeLogs **sl)
{
    LogsData *ld = NEW(LogsData, OPENTELEMETRY__PROTO__LOGS__V1__LOGS_DATA__INIT);
    ResourceLogs *rl = NEW(ResourceLogs, OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT);
    PUSH(ld->resource_logs, ld->n_resource_logs, rl);
    *sl = NEW(ScopeLogs, OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT);
    PUSH(rl->scope_logs, rl->n_scope_logs, *sl);
    return ld;
}

/* Appends to sl a log record whose body is the string body. */
static inline LogRecord *pb_add_log(ScopeLogs *sl, const char *body)
{
    LogRecord *r = NEW(LogRecord, OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT);
    r->body = NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
    r->body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    r->body->string_value = (char *)body;
    PUSH(sl->log_records, sl->n_log_records, r);
    return r;
}

#endif
