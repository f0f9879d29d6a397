/* ottl: the subset of the OpenTelemetry Transformation Language that kotel-process runs:
 * conditions (filter, sampling policies, `where` clauses) and editor statements
 * (transform), evaluated directly on decoded protobuf-c objects.
 *
 * The context of a condition or statement (span, resource, log, ...) is inferred from the
 * path prefixes it uses, as the Collector does for flat trace_conditions/trace_statements:
 * the most specific context any path names wins ("span.name == x and resource...": span). */
#ifndef PROCESS_OTTL_H
#define PROCESS_OTTL_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_arena.h"
#include "kt_err.h"
#include "kt_signal.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

enum ottl_context {
    OTTL_CTX_RESOURCE,
    OTTL_CTX_SCOPE,
    OTTL_CTX_SPAN,
    OTTL_CTX_SPANEVENT,
    OTTL_CTX_METRIC,
    OTTL_CTX_DATAPOINT,
    OTTL_CTX_LOG,
};

/* What a condition or statement runs against. Pointers the context does not have are NULL
 * (a span condition has no log). New values written by statements are allocated from
 * arena, which must live as long as the objects are used (until they are packed). */
struct ottl_tctx {
    struct kt_arena *arena;
    Opentelemetry__Proto__Resource__V1__Resource *resource;
    Opentelemetry__Proto__Common__V1__InstrumentationScope *scope;
    Opentelemetry__Proto__Trace__V1__Span *span;
    Opentelemetry__Proto__Trace__V1__Span__Event *spanevent;
    Opentelemetry__Proto__Metrics__V1__Metric *metric;
    /* One of NumberDataPoint, HistogramDataPoint, ExponentialHistogramDataPoint,
     * SummaryDataPoint; its descriptor tells which. */
    ProtobufCMessage *datapoint;
    Opentelemetry__Proto__Logs__V1__LogRecord *log;
};

/* The fields OTTL paths name (resource.attributes, span.name, ...). */
enum ottl_path_id {
    OTTL_P_RESOURCE_ATTRS,
    OTTL_P_SCOPE_NAME,
    OTTL_P_SCOPE_VERSION,
    OTTL_P_SCOPE_ATTRS,
    OTTL_P_SPAN_NAME,
    OTTL_P_SPAN_KIND,
    OTTL_P_SPAN_STATUS_CODE,
    OTTL_P_SPAN_STATUS_MESSAGE,
    OTTL_P_SPAN_ATTRS,
    OTTL_P_SPAN_TRACE_ID,
    OTTL_P_SPAN_SPAN_ID,
    OTTL_P_SPAN_PARENT_ID,
    OTTL_P_SPAN_START,
    OTTL_P_SPAN_END,
    OTTL_P_SPANEVENT_NAME,
    OTTL_P_SPANEVENT_TIME,
    OTTL_P_SPANEVENT_ATTRS,
    OTTL_P_METRIC_NAME,
    OTTL_P_METRIC_UNIT,
    OTTL_P_METRIC_DESCRIPTION,
    OTTL_P_METRIC_TYPE,
    OTTL_P_DATAPOINT_ATTRS,
    OTTL_P_DATAPOINT_VALUE_DOUBLE,
    OTTL_P_DATAPOINT_VALUE_INT,
    OTTL_P_LOG_BODY,
    OTTL_P_LOG_SEVERITY_NUMBER,
    OTTL_P_LOG_SEVERITY_TEXT,
    OTTL_P_LOG_ATTRS,
};

/* A set of path ids: bit OTTL_FIELD(id) per field. */
typedef uint64_t ottl_fields;
#define OTTL_FIELD(id) ((ottl_fields)1 << (id))

/* "resource", "scope", "span", "spanevent", "metric", "datapoint", "log". */
const char *ottl_context_name(enum ottl_context c);
/* Whether a context belongs to a signal: resource and scope to all, span and spanevent to
 * traces, metric and datapoint to metrics, log to logs. */
bool ottl_context_valid(enum ottl_context c, enum kt_signal sig);

struct ottl_condition;
struct ottl_statement;

/* Parses a boolean expression. Errors (KT_EINVAL) quote the source and say where and what
 * was expected: "column 14: expected a value after '==', got end of input in
 * 'span.name == '". */
int ottl_condition_parse(const char *src, struct ottl_condition **out, struct kt_err *err);
enum ottl_context ottl_condition_context(const struct ottl_condition *c);
/* Evaluates; an error (KT_EINVAL: wrong types, failed converter) leaves *match false.
 * Converters that build strings (Concat, String, SHA256) allocate from t->arena. A condition
 * or statement keeps regex match data of its own: evaluate one from one thread at a time. */
int ottl_condition_eval(const struct ottl_condition *c, const struct ottl_tctx *t, bool *match,
                        struct kt_err *err);
void ottl_condition_free(struct ottl_condition *c);
/* Every field the condition reads: the paths it names and what its converters read
 * implicitly (IsRootSpan: span.parent_span_id). */
ottl_fields ottl_condition_fields(const struct ottl_condition *c);
/* The text the condition was parsed from, for messages. */
const char *ottl_condition_source(const struct ottl_condition *c);

/* Parses "editor(args) [where condition]"; errors as for conditions. */
int ottl_statement_parse(const char *src, struct ottl_statement **out, struct kt_err *err);
enum ottl_context ottl_statement_context(const struct ottl_statement *s);
/* Runs the editor when the where clause (if any) holds. Setting nil does nothing, as in the
 * Collector; a wrong type (a string into span.kind) is KT_EINVAL and changes nothing. */
int ottl_statement_exec(const struct ottl_statement *s, struct ottl_tctx *t, struct kt_err *err);
void ottl_statement_free(struct ottl_statement *s);
/* Every field the statement may read or write: the paths its editor, arguments and where
 * clause name, and what its converters read implicitly. */
ottl_fields ottl_statement_fields(const struct ottl_statement *s);
const char *ottl_statement_source(const struct ottl_statement *s);

#endif
