/* filter: drops telemetry matching OTTL conditions, as the Collector's filter processor
 * does with flat trace_conditions / metric_conditions / log_conditions.
 *
 * Conditions of one signal are OR'ed. Each applies at the level its paths name: a resource
 * condition drops a whole resource, scope a scope, span a span, spanevent a span event,
 * metric a metric, datapoint a data point, log a log record. Afterwards empty scopes and
 * resources are removed, and so is a metric whose data points were all dropped. */
#ifndef PROCESS_FILTER_H
#define PROCESS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "kt_arena.h"
#include "kt_err.h"
#include "kt_signal.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"
#include "ottl/ottl.h"

struct filter;

/* Compiles conf->filter. Errors (KT_EINVAL) name the key and the condition:
 * "[filter] trace_conditions: column 12: expected ... in 'span.name == '". */
int filter_new(const struct process_conf *conf, struct filter **out, struct kt_err *err);
/* Whether any condition exists for the signal (otherwise filtering is a no-op). */
bool filter_active(const struct filter *f, enum kt_signal sig);
/* The fields the signal's conditions read (see ottl_condition_fields). */
ottl_fields filter_fields(const struct filter *f, enum kt_signal sig);
/* Whether the signal's conditions read span attributes only by literal keys
 * (ottl_condition_keyed_span_attrs): spans decoded without attributes then serve them. */
bool filter_keyed_span_attrs(const struct filter *f, enum kt_signal sig);

/* Drop matching items in place; *n_dropped counts spans / data points / log records
 * removed. A condition that fails to evaluate follows [filter] error_mode: propagate
 * returns KT_EINVAL with "[filter] trace_conditions: '<condition>': <why>" (the data is
 * then partly filtered and should be dead-lettered), ignore logs (rate-limited) and treats
 * it as not matching, silent does the same without logging. a may be used for values
 * converters build. Not for concurrent use on one filter. */
int filter_traces(struct filter *f, Opentelemetry__Proto__Trace__V1__TracesData *td,
                  struct kt_arena *a, size_t *n_dropped, struct kt_err *err);
int filter_metrics(struct filter *f, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                   struct kt_arena *a, size_t *n_dropped, struct kt_err *err);
int filter_logs(struct filter *f, Opentelemetry__Proto__Logs__V1__LogsData *ld, struct kt_arena *a,
                size_t *n_dropped, struct kt_err *err);
/* Condition evaluations of the signal that failed, whatever error_mode made of them. */
uint64_t filter_errors(const struct filter *f, enum kt_signal sig);
void filter_free(struct filter *f);

#endif
