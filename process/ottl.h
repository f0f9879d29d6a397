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
/* The text the condition was parsed from, for messages. */
const char *ottl_condition_source(const struct ottl_condition *c);

/* Parses "editor(args) [where condition]"; errors as for conditions. */
int ottl_statement_parse(const char *src, struct ottl_statement **out, struct kt_err *err);
enum ottl_context ottl_statement_context(const struct ottl_statement *s);
/* Runs the editor when the where clause (if any) holds. Setting nil does nothing, as in the
 * Collector; a wrong type (a string into span.kind) is KT_EINVAL and changes nothing. */
int ottl_statement_exec(const struct ottl_statement *s, struct ottl_tctx *t, struct kt_err *err);
void ottl_statement_free(struct ottl_statement *s);
const char *ottl_statement_source(const struct ottl_statement *s);

#endif
