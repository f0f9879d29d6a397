/* sampling_policy: the tail-sampling policies of [tail_sampling.policy.NAME], compiled once
 * and evaluated in two steps so that spans never have to stay decoded:
 *
 *   observe: for each offer (the spans of one trace from one Kafka message, decoded and only
 *            borrowed) fold what any policy will need into a small per-trace summary (time
 *            range, status codes seen, span count) and a bitmap with one "some span or
 *            resource matched" bit per attribute, OTTL, trace_flags, trace_state and
 *            bounded latency policy;
 *   decide:  once per trace, from the summary and bitmap alone.
 *
 * "Some span matched" is the question every attribute-style policy of the Collector asks, so
 * folding offer by offer gives the same answer as looking at the whole trace at the end.
 *
 * Policy types and keys (the Collector's names; lists are comma-separated or repeated):
 *   always_sample
 *   latency            threshold_ms, upper_threshold_ms
 *   status_code        status_codes (OK, ERROR, UNSET)
 *   probabilistic      sampling_percentage (0..100), hash_salt
 *   string_attribute   key, values, enabled_regex_matching, invert_match
 *   numeric_attribute  key, min_value, max_value, invert_match
 *   boolean_attribute  key, value, invert_match
 *   span_count         min_spans, max_spans
 *   rate_limiting      spans_per_second
 *   bytes_limiting     bytes_per_second, burst_capacity (default 2 * bytes_per_second)
 *   ottl_condition     span, spanevent (one condition per occurrence, OR'ed), error_mode
 *   trace_flags        (none: a span has the W3C sampled flag)
 *   trace_state        key, values (a span's valid W3C tracestate has key with one of values)
 *   and                and_sub_policy (names of other sections; all must sample)
 *   drop               drop_sub_policy (names of other sections; all matching drops the trace)
 *   not                not_sub_policy (the name of one other section; samples what it does not)
 *   composite          composite_sub_policy (names, in order), max_total_spans_per_second,
 *                      rate_allocation (NAME=PERCENT), policy_order (checked, not used: the
 *                      Collector evaluates in composite_sub_policy's order too)
 * ottl_condition's error_mode: propagate (default) makes a trace whose evaluation fails before
 * any condition matched not sampled by the policy (spans are looked at in arrival order and
 * the policy stops at the first match or failure, as the Collector's does); ignore and silent
 * skip the failed evaluation (ignore logs it, rate-limited).
 * A section named by and_sub_policy / drop_sub_policy / not_sub_policy / composite_sub_policy
 * is only a sub-policy,
 * never a top-level one. As in the Collector, and / drop may name a not policy but no and,
 * drop or composite; not none of the four; composite an and but no drop, not or composite.
 * invert_match flips the policy's own result (the Collector's behaviour with invert decisions
 * disabled); a drop policy is the way to veto a trace.
 *
 * Decision: a top-level drop policy whose sub-policies all match wins (not sampled);
 * otherwise the trace is sampled when any other top-level policy samples it. Every top-level
 * policy is evaluated, as in the Collector, so a rate_limiting policy also spends its budget on
 * traces another policy sampled; with sample_on_first_match, evaluation stops (in file order)
 * at the first policy that samples the trace. */
#ifndef PROCESS_SAMPLING_POLICY_H
#define PROCESS_SAMPLING_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"
#include "ottl/ottl.h"

struct sampling_policies;

/* Per-trace facts folded from every offer. Zero-initialise before the first observe. */
struct sampling_summary {
    uint64_t min_start_ns; /* 0 = no span with a start time yet */
    uint64_t max_end_ns;
    uint32_t n_spans;
    uint64_t n_bytes;    /* encoded size of the spans, for bytes_limiting: the caller adds it */
    uint8_t status_mask; /* bit (1 << status code) for each code seen; UNSET when no status */
};

/* Compiles the sections (in file order). Errors (KT_EINVAL) name the section and key:
 * "[tail_sampling.policy.errors] status_codes: 'EROR' is not a status code (want OK, ERROR,
 * UNSET)". first_match is [tail_sampling] sample_on_first_match. *out is NULL on failure. */
int sampling_policy_compile(const struct process_policy_conf *confs, size_t n, bool first_match,
                            struct sampling_policies **out, struct kt_err *err);
/* The syntax of one value of a [tail_sampling.policy.NAME] section, checked as the file is
 * read so that the error can name its line: the type, booleans, numbers, status codes,
 * error_mode. What needs the whole section (required keys, keys of another type, sub-policy
 * names, regular expressions, OTTL) is left to sampling_policy_compile. */
int sampling_policy_check_value(const char *section, const char *key, const char *value,
                                struct kt_err *err);
void sampling_policy_free(struct sampling_policies *ps);

/* Policies that decide traces on their own (not sub-policies). */
size_t sampling_policy_count_top_level(const struct sampling_policies *ps);

/* The fields of spans and resources the policies read (see ottl_condition_fields). */
ottl_fields sampling_policy_fields(const struct sampling_policies *ps);
/* Whether a policy (bytes_limiting, also as a sub-policy) measures traces by their encoded
 * size, which a transform changes. */
bool sampling_policy_counts_bytes(const struct sampling_policies *ps);
/* Whether the policies read span attributes only by literal keys (attribute policies, OTTL
 * conditions as ottl_condition_keyed_span_attrs): spans decoded without attributes serve
 * them (trace_decode_span_attr). */
bool sampling_policy_keyed_span_attrs(const struct sampling_policies *ps);
/* The keys of the span and resource attributes the policies read, at most cap of them, in
 * keys (owned by ps); SIZE_MAX when more or when an OTTL condition may read any. */
size_t sampling_policy_span_attr_keys(const struct sampling_policies *ps, const char **keys,
                                      size_t cap);

/* Number of uint64_t words of the per-trace match bitmap (0 when no policy needs one). The
 * caller zeroes them before the first observe. */
size_t sampling_policy_match_words(const struct sampling_policies *ps);

/* Folds the spans of `decoded` (borrowed for the call only) into sum and match. Never fails:
 * an OTTL condition that cannot be evaluated is handled by its policy's error_mode. */
void sampling_policy_observe(struct sampling_policies *ps,
                             const Opentelemetry__Proto__Trace__V1__TracesData *decoded,
                             struct sampling_summary *sum, uint64_t *match);

/* The decision for a trace. now_ms is the decision time (rate_limiting budgets by second of
 * it), which is why this takes ps mutable. */
bool sampling_policy_decide(struct sampling_policies *ps, const uint8_t trace_id[16],
                            const struct sampling_summary *sum, const uint64_t *match,
                            uint64_t now_ms);

/* The kotel_process_tail_sampling_policy_decisions_total family: each top-level policy's own
 * results (Prometheus text, see kt_prom.h) appended to b. */
void sampling_policy_write_metrics(const struct sampling_policies *ps, struct kt_buf *b);

#endif
