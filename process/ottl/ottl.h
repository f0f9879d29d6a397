/* ottl: the subset of the OpenTelemetry Transformation Language that kotel-process runs:
 * conditions (filter, sampling policies, `where` clauses) and editor statements
 * (transform), evaluated directly on decoded protobuf-c objects; the error_mode that says
 * what a failure does; and the walk over a signal's data that runs them at every item of
 * their context.
 *
 * The context of a condition or statement (span, resource, log, ...) is inferred from the
 * path prefixes it uses, as the Collector does for flat trace_conditions/trace_statements:
 * the most specific context any path names wins ("span.name == x and resource...": span).
 *
 * This is the library's one public header; process/ottl/ottl_int.h is for its own files. */
#ifndef PROCESS_OTTL_OTTL_H
#define PROCESS_OTTL_OTTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_arena.h"
#include "kt_err.h"
#include "kt_log.h"
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

/* A set of contexts: bit OTTL_CTX_BIT(c) per context. */
#define OTTL_CTX_BIT(c) (1u << (unsigned)(c))

/* The `cache` map of one transform context (span.cache, ...). map holds the entries; the
 * rest is storage kept from item to item, so that the statements filling it again for the
 * next item allocate nothing but what their values need. Zero-initialise it, then
 * ottl_cache_reset it before each item. Its storage comes from the tctx arena. */
struct ottl_cache_entry {
    Opentelemetry__Proto__Common__V1__KeyValue kv;
    Opentelemetry__Proto__Common__V1__AnyValue value; /* kv.value's own, whatever editors did */
};

struct ottl_cache {
    Opentelemetry__Proto__Common__V1__KeyValueList map;
    Opentelemetry__Proto__Common__V1__KeyValue **values; /* the entry array, cap long */
    size_t cap;
    /* every entry made so far; the first `used` are this item's */
    struct ottl_cache_entry **pool;
    size_t n_pool, cap_pool, used;
};

static inline void ottl_cache_reset(struct ottl_cache *c)
{
    c->map.n_values = 0;
    c->map.values = c->values;
    c->used = 0;
}

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
    /* The metric's container, where metric functions append the metrics they make
     * (extract_sum_metric, copy_metric); the walk visits them after the others. */
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *scope_metrics;
    /* The `cache` map of the statements run on this item, which ottl_walk empties before
     * each visit (the Collector's cache lives in a transform context, one per item); NULL
     * reads as an empty map and cannot be set. */
    struct ottl_cache *cache;
    /* The schema_url fields of the resource's and the scope's containers (ResourceSpans,
     * ScopeLogs, ...), which ottl_walk sets; NULL reads as "" and cannot be set. */
    char **resource_schema_url, **scope_schema_url;
    /* Traces: reads span.attributes["key"] of a span decoded without its attributes
     * (trace_decode_span_attr) from the span's bytes. Returns 0 when the span's attributes
     * are decoded (read the objects), 1 with *found and *value (NULL: the KeyValue has no
     * value) when served from the bytes, or a negative KT_E*. NULL: always the objects. */
    int (*span_attr)(struct kt_arena *a, const Opentelemetry__Proto__Trace__V1__Span *span,
                     const char *key, size_t keylen, bool *found,
                     Opentelemetry__Proto__Common__V1__AnyValue **value);
};

/* The fields OTTL paths name (resource.attributes, span.name, ...). The paths of trace data
 * (resource, scope, span, spanevent) come first: their ids are below 63, so each has a bit
 * of its own in ottl_fields, which trace_decode reads to decode no more than is used. */
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
    OTTL_P_RESOURCE_DROPPED,
    OTTL_P_SCOPE_DROPPED,
    OTTL_P_SPAN_TRACE_ID_RAW,
    OTTL_P_SPAN_SPAN_ID_RAW,
    OTTL_P_SPAN_PARENT_ID_RAW,
    OTTL_P_SPAN_TRACE_STATE, /* the whole string, or with ["key"] one W3C list member */
    OTTL_P_SPAN_FLAGS,
    OTTL_P_SPAN_DROPPED_ATTRS,
    OTTL_P_SPAN_DROPPED_EVENTS,
    OTTL_P_SPAN_DROPPED_LINKS,
    OTTL_P_SPAN_KIND_STRING,
    OTTL_P_SPAN_KIND_DEPRECATED_STRING,
    OTTL_P_SPANEVENT_DROPPED,
    OTTL_P_RESOURCE_SCHEMA_URL,
    OTTL_P_SCOPE_SCHEMA_URL,
    /* The same instants as times (span.start_time ...; issue 14). */
    OTTL_P_SPAN_START_TIME,
    OTTL_P_SPAN_END_TIME,
    OTTL_P_SPANEVENT_TIME_T,
    /* Not a path: span.attributes read only as span.attributes["literal key"] (see
     * ottl_condition_keyed_span_attrs), which a shallow decode serves from each span's
     * bytes (trace_decode.h) instead of decoding its attributes. */
    OTTL_P_SPAN_ATTRS_KEYED,
    /* Paths of metrics and logs from here on: they share bit 63 once past it. */
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
    OTTL_P_METRIC_AGG_TEMPORALITY,
    OTTL_P_METRIC_IS_MONOTONIC,
    OTTL_P_DATAPOINT_START,
    OTTL_P_DATAPOINT_TIME,
    OTTL_P_DATAPOINT_FLAGS,
    OTTL_P_DATAPOINT_COUNT,
    OTTL_P_DATAPOINT_SUM,
    OTTL_P_DATAPOINT_BUCKET_COUNTS,
    OTTL_P_DATAPOINT_EXPLICIT_BOUNDS,
    OTTL_P_DATAPOINT_SCALE,
    OTTL_P_DATAPOINT_ZERO_COUNT,
    OTTL_P_LOG_TIME,
    OTTL_P_LOG_OBSERVED_TIME,
    OTTL_P_LOG_TRACE_ID_RAW,
    OTTL_P_LOG_SPAN_ID_RAW,
    OTTL_P_LOG_TRACE_ID,
    OTTL_P_LOG_SPAN_ID,
    OTTL_P_LOG_FLAGS,
    OTTL_P_LOG_DROPPED,
    OTTL_P_LOG_EVENT_NAME,
    OTTL_P_LOG_BODY_STRING,
    OTTL_P_CACHE, /* span.cache, log.cache, ...: the statements' scratch map */
    OTTL_P_LOG_TIME_T,
    OTTL_P_LOG_OBSERVED_TIME_T,
    OTTL_P_DATAPOINT_TIME_T,
    OTTL_P_DATAPOINT_START_TIME_T,
    /* A data point's messages and the exponential histogram's buckets (issue 14). */
    OTTL_P_DATAPOINT_EXEMPLARS,
    OTTL_P_DATAPOINT_QUANTILE_VALUES,
    OTTL_P_DATAPOINT_POSITIVE,
    OTTL_P_DATAPOINT_POSITIVE_OFFSET,
    OTTL_P_DATAPOINT_POSITIVE_BUCKET_COUNTS,
    OTTL_P_DATAPOINT_NEGATIVE,
    OTTL_P_DATAPOINT_NEGATIVE_OFFSET,
    OTTL_P_DATAPOINT_NEGATIVE_BUCKET_COUNTS,
};

/* A set of path ids: bit OTTL_FIELD(id) per field; ids from 63 on share bit 63 (only trace
 * decoding reads the set, and it reads no metric or log path). */
typedef uint64_t ottl_fields;
#define OTTL_FIELD(id) ((ottl_fields)1 << ((unsigned)(id) < 63u ? (unsigned)(id) : 63u))
_Static_assert(OTTL_P_METRIC_NAME < 63, "every trace path id has a bit of its own in ottl_fields");

/* "resource", "scope", "span", "spanevent", "metric", "datapoint", "log". */
const char *ottl_context_name(enum ottl_context c);
/* The context named name ("span"), 0; KT_EINVAL for no context's name (nothing in out). */
int ottl_context_parse(const char *name, enum ottl_context *out);
/* Whether something of context c can run at each item of context at: c is at or one of its
 * parents (a resource statement in a span group reads and writes each span's resource). */
bool ottl_context_within(enum ottl_context c, enum ottl_context at);
/* 0 when a context belongs to the signal: resource and scope to all, span and spanevent to
 * traces, metric and datapoint to metrics, log to logs. Otherwise KT_EINVAL naming where
 * src came from (a [section] key of the signal) and what that key may use:
 * "[filter] trace_conditions: 'log.body == 1' uses log paths; trace_conditions may use
 * resource, scope, span and spanevent paths". */
int ottl_context_check(enum ottl_context c, enum kt_signal sig, const char *section,
                       const char *key, const char *src, struct kt_err *err);

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
/* Whether the condition reads span attributes only through paths with a literal key
 * (span.attributes["http.route"], not span.attributes or a converter reading them whole),
 * so that tctx->span_attr can serve every read. True when it reads none. */
bool ottl_condition_keyed_span_attrs(const struct ottl_condition *c);
/* The text the condition was parsed from, for messages. */
const char *ottl_condition_source(const struct ottl_condition *c);

/* Parses "editor(args) [where condition]"; errors as for conditions. */
int ottl_statement_parse(const char *src, struct ottl_statement **out, struct kt_err *err);
/* The same in a context, as a Collector statement group with a context is read: a path
 * without a context prefix is the context's ("attributes" in a span group is
 * span.attributes); prefixed paths are as everywhere. */
int ottl_condition_parse_in(const char *src, enum ottl_context ctx, struct ottl_condition **out,
                            struct kt_err *err);
int ottl_statement_parse_in(const char *src, enum ottl_context ctx, struct ottl_statement **out,
                            struct kt_err *err);
enum ottl_context ottl_statement_context(const struct ottl_statement *s);
/* Runs the editor when the where clause (if any) holds. Setting nil into a map key leaves
 * the key with an empty value, as in the Collector; a wrong type (a string or nil into
 * span.kind) is KT_EINVAL and changes nothing. */
int ottl_statement_exec(const struct ottl_statement *s, struct ottl_tctx *t, struct kt_err *err);
void ottl_statement_free(struct ottl_statement *s);
/* Every field the statement may read or write: the paths its editor, arguments and where
 * clause name, and what its converters read implicitly. */
ottl_fields ottl_statement_fields(const struct ottl_statement *s);
const char *ottl_statement_source(const struct ottl_statement *s);
/* Whether the statement changes nothing but one span attribute, named by a literal:
 * set(span.attributes["k"][...], value) or delete_key(span.attributes, "k"); the key in
 * *key (not terminated, owned by s) and *keylen. What it reads is not considered. */
bool ottl_statement_span_attr_write(const struct ottl_statement *s, const char **key,
                                    size_t *keylen);
/* A statement that always does the same to a span's attributes, whatever the span holds:
 * delete_key(span.attributes, "k") or set(span.attributes["k"], literal) with a string (no
 * NUL), bool, int or double literal, no further index and no where clause. Strings are
 * owned by the statement and not terminated. */
enum ottl_attr_edit_kind {
    OTTL_EDIT_DELETE,
    OTTL_EDIT_SET_STR,
    OTTL_EDIT_SET_BOOL,
    OTTL_EDIT_SET_INT,
    OTTL_EDIT_SET_DOUBLE,
};
struct ottl_attr_edit {
    enum ottl_attr_edit_kind kind;
    const char *key;
    size_t keylen;
    union {
        struct {
            const char *p;
            size_t n;
        } s;
        bool b;
        int64_t i;
        double d;
    };
};
/* Whether s is such a statement; if so, what it does in *out. A key with a NUL is not: the
 * decoded data compares keys as C strings. */
bool ottl_statement_span_attr_edit(const struct ottl_statement *s, struct ottl_attr_edit *out);
/* The function that ties the statement to a context (extract_sum_metric: metric, IsRootSpan:
 * span) and that context in *ctx, for messages; NULL when only its paths decide it. */
const char *ottl_statement_context_func(const struct ottl_statement *s, enum ottl_context *ctx);
/* Whether a path of the statement names a context (span.name; attributes in a span group). */
bool ottl_statement_path_context(const struct ottl_statement *s);

/* ---- error_mode ---- */

/* What a condition or statement that fails to evaluate does, as the Collector's error_mode:
 * propagate fails the data, ignore logs and goes on, silent goes on. The values are the
 * positions of the names in OTTL_ERROR_MODES, the choices of the error_mode options. */
enum ottl_error_mode { OTTL_ERR_PROPAGATE = 0, OTTL_ERR_IGNORE = 1, OTTL_ERR_SILENT = 2 };
#define OTTL_ERROR_MODES "propagate|ignore|silent"

/* ignore's logging: a burst of 5 lines, then one per 0.2 s (5 a second); the rest are
 * counted and reported with the next line. One limiter per filter or transform, on the
 * thread that runs it: initialise its struct kt_log_limit with this. */
#define OTTL_ERROR_LOG_LIMIT KT_LOG_LIMIT(0.2, 5)

/* The error_mode decision for a failed condition or statement (rc and why from its eval or
 * exec): KT_EINVAL with "[section] key: '<src>': <why>" in err for propagate, else 0 after
 * logging through rl (ignore) or not (silent). Out of memory always propagates. */
int ottl_handle_error(enum ottl_error_mode mode, struct kt_log_limit *rl, int rc,
                      const char *section, const char *key, const char *src,
                      const struct kt_err *why, struct kt_err *err);

/* ---- walking a signal's data ---- */

enum ottl_walk_mode {
    /* For conditions that decide what stays. Absent resources and scopes read as empty. An
     * item the visit drops is removed with everything under it; so are scopes and resources
     * left without items and metrics whose every data point was dropped. The walk always
     * goes down to the items (spans, metrics, log records), whatever contexts it visits. */
    OTTL_WALK_DROP,
    /* For statements that edit in place. Absent resources and scopes are created from the
     * arena, so statements can write them; nothing is removed; the walk goes no deeper than
     * the deepest context it visits. */
    OTTL_WALK_EDIT,
};

/* Called for each item of each visited context, in data order, a parent before what is
 * under it: for a resource, then each of its scopes, then each span of a scope and that
 * span's events. t holds the item and its parents (the resource, below it the scope, the
 * span of a span event, the metric of a data point), nothing under the item. *drop comes
 * in false; setting it removes the item in OTTL_WALK_DROP (ignored in OTTL_WALK_EDIT).
 * Nonzero stops the walk and is returned. */
typedef int (*ottl_visit_fn)(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *drop,
                             struct kt_err *err);

struct ottl_walk {
    enum ottl_walk_mode mode;
    unsigned contexts;      /* OTTL_CTX_BIT(c) for each context visit is called at */
    struct kt_arena *arena; /* t->arena, and where OTTL_WALK_EDIT creates resources/scopes */
    ottl_visit_fn visit;
    void *arg;        /* borrowed, passed to visit */
    size_t n_dropped; /* out, OTTL_WALK_DROP: spans, data points or log records removed */
};

/* Walks data, the signal's TracesData, MetricsData or LogsData, in place. On an error the
 * data is left partly walked (in OTTL_WALK_DROP, partly filtered) and w->n_dropped counts
 * what was removed until then. */
int ottl_walk(struct ottl_walk *w, enum kt_signal sig, ProtobufCMessage *data, struct kt_err *err);

#endif
