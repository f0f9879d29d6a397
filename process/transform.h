/* transform: OTTL editor statements applied in place, as the Collector's transform
 * processor does with flat trace_statements / metric_statements / log_statements and with
 * statement groups ([transform.group.NAME]: signal, context, conditions, error_mode,
 * statements).
 *
 * Flat statements run first, in configuration order. Each runs at the level its paths
 * name: a resource statement once per resource, a span statement once per span, a
 * datapoint statement once per data point, and so on; consecutive statements of one level
 * run together on each item before the next item, as in a Collector statement group. Then
 * each group runs, in file order, at its context: on an item where any of its conditions
 * holds (or always, without conditions), its statements in order, each subject to its own
 * where clause; its error_mode, when given, replaces [transform] error_mode. */
#ifndef PROCESS_TRANSFORM_H
#define PROCESS_TRANSFORM_H

#include <stdbool.h>

#include "conf.h"
#include "kt_arena.h"
#include "kt_err.h"
#include "kt_signal.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"
#include "ottl/ottl.h"
#include "span_edit.h"

struct transform;

/* Compiles conf->transform. Errors name the section, the key and the statement:
 * "[transform] log_statements: column 5: ... in '...'", "[transform.group.errors] context:
 * want resource, scope, ... got 'spans'". */
int transform_new(const struct process_conf *conf, struct transform **out, struct kt_err *err);
bool transform_active(const struct transform *t, enum kt_signal sig);
/* The fields the signal's statements may read or write (see ottl_statement_fields). */
ottl_fields transform_fields(const struct transform *t, enum kt_signal sig);
/* transform_fields without the groups whose every statement only changes a span
 * attribute other than keys[0..n_keys) (ottl_statement_span_attr_write): what a reader of
 * those attributes and of the returned fields could see changed. */
ottl_fields transform_fields_beside(const struct transform *t, enum kt_signal sig,
                                    const char *const *keys, size_t n_keys);

/* The trace statements as span attribute edits on serialized data (span_edit.h), when that
 * is all they are: every trace group in span context without conditions, and every statement
 * one ottl_statement_span_attr_edit takes. *out is NULL when they are not (or there are
 * none), else a list the caller frees, which borrows t's statements. Returns 0 or
 * KT_ENOMEM. */
int transform_span_edits(const struct transform *t, struct span_edits **out);

/* Everything written (strings, attributes, resources that were missing) is allocated from
 * a, which must live as long as the data. A statement or group condition that fails follows
 * its error_mode: propagate returns KT_EINVAL "[transform] trace_statements: '<statement>':
 * <why>" ("[transform.group.NAME] statements: ..."), ignore logs (rate-limited) and goes
 * on, silent goes on. Not for concurrent use on one transform. */
int transform_traces(struct transform *t, Opentelemetry__Proto__Trace__V1__TracesData *td,
                     struct kt_arena *a, struct kt_err *err);
int transform_metrics(struct transform *t, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                      struct kt_arena *a, struct kt_err *err);
int transform_logs(struct transform *t, Opentelemetry__Proto__Logs__V1__LogsData *ld,
                   struct kt_arena *a, struct kt_err *err);
/* Statement executions of the signal that failed, whatever error_mode made of them. */
uint64_t transform_errors(const struct transform *t, enum kt_signal sig);
void transform_free(struct transform *t);

#endif
