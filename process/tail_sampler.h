/* tail_sampler: holds the spans of each trace until decision_wait after its first span (or
 * decision_wait_after_root_received after its root span, when sooner), then asks the policies
 * (sampling_policy.h) whether to keep the trace; a trace over maximum_trace_size_bytes is
 * dropped at once.
 *
 * Sampling is exact per replica: ingest keys Kafka messages by trace ID, so one process
 * replica sees every span of the traces in its partitions.
 *
 * An offer is the spans of ONE trace from ONE Kafka message. Its decoded form is only
 * borrowed during tail_sampler_offer: what the policies need is folded into a compact
 * per-trace summary there, and the spans themselves are kept only as their encoded bytes.
 *
 * Every offer ends in exactly one callback: export (its token among the tokens) or release
 * (its token), except offers removed by tail_sampler_forget, which end in none. Callbacks
 * must not call back into the sampler. Decided trace IDs are remembered (LRU caches of
 * sampled_cache_size / non_sampled_cache_size), so late spans follow their trace's decision.
 *
 * Memory per held trace: its spans' encoded bytes (with at most 12.5% growth slack), one
 * header of about 100 bytes, 16 bytes per offer, and a bit per span-matching policy;
 * tail_sampler_get_stats reports the total. At most num_traces traces are held. */
#ifndef PROCESS_TAIL_SAMPLER_H
#define PROCESS_TAIL_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"
#include "ottl/ottl.h"

struct tail_sampler;

/* A trace was sampled (or a late span of a sampled trace arrived). encoded is a serialized
 * TracesData with the trace's spans (the offers' encoded bytes concatenated: protobuf merges
 * repeated fields by concatenation), valid only during the call. The callee takes
 * responsibility for the tokens. */
typedef void (*tail_sampler_export_fn)(void *ctx, struct kt_slice encoded, size_t n_spans,
                                       void *const *tokens, size_t n_tokens);
/* The spans of this token were dropped (trace not sampled, or a late span of such a trace). */
typedef void (*tail_sampler_release_fn)(void *ctx, void *token);

/* Compiles the [tail_sampling.policy.NAME] sections. Errors (KT_EINVAL) name the section
 * and key; enabled = true without any policy is an error too. conf is not kept. */
int tail_sampler_new(const struct process_conf *conf, tail_sampler_export_fn exp,
                     tail_sampler_release_fn rel, void *ctx, struct tail_sampler **out,
                     struct kt_err *err);

/* The span and resource fields the policies read from offers (see ottl_condition_fields). */
ottl_fields tail_sampler_fields(const struct tail_sampler *s);
/* Whether decisions depend on the traces' encoded sizes: a bytes_limiting policy or
 * maximum_trace_size_bytes. A transform that changes sizes must then run before sampling,
 * as the Collector's transform runs before its tail_sampling. */
bool tail_sampler_counts_bytes(const struct tail_sampler *s);

/* sampling_policy_keyed_span_attrs and sampling_policy_span_attr_keys of the policies. */
bool tail_sampler_keyed_span_attrs(const struct tail_sampler *s);
size_t tail_sampler_span_attr_keys(const struct tail_sampler *s, const char **keys, size_t cap);

/* enabled = auto: on when at least one policy section exists. */
bool tail_sampler_enabled(const struct process_conf *conf);

/* Takes the offer. Returns 0 (exactly one callback for token will follow, possibly already
 * during this call), or KT_ENOMEM / KT_ETOOBIG (a trace over 4 GiB) with nothing taken: the
 * caller still owns token. decoded must hold exactly the spans encoded holds. */
int tail_sampler_offer(struct tail_sampler *s, const uint8_t trace_id[16],
                       const Opentelemetry__Proto__Trace__V1__TracesData *decoded,
                       struct kt_slice encoded, size_t n_spans, void *token, uint64_t now_ms);

/* Decides every trace whose decision time has come. O(decided). */
void tail_sampler_tick(struct tail_sampler *s, uint64_t now_ms);

/* Partition revoked: removes every held offer whose token matches, with no callback for it.
 * A trace left with no offers is removed. What the removed spans contributed to their trace's
 * policy summary stays (spans of one trace share a partition, so partial removal does not
 * happen with tokens per message). */
void tail_sampler_forget(struct tail_sampler *s, bool (*match)(void *token, void *arg), void *arg);

/* Decides every held trace now, in the order of their decision times. */
void tail_sampler_decide_all(struct tail_sampler *s);

/* Drops every held trace without asking the policies: each offer is released (its spans are
 * dropped deliberately, so the pipeline commits them). Counted in dropped_on_shutdown. */
void tail_sampler_drop_all(struct tail_sampler *s);

struct tail_sampler_stats {
    uint64_t traces_held;
    uint64_t spans_held;
    uint64_t bytes_held;    /* memory of held traces: encoded bytes, headers, offer lists */
    uint64_t sampled;       /* traces decided sampled */
    uint64_t not_sampled;   /* traces decided not sampled */
    uint64_t decided_early; /* traces decided before decision_wait because num_traces was hit */
    uint64_t late_sampled;  /* spans exported at once: their trace was already sampled */
    uint64_t late_dropped;  /* spans released at once: their trace was already not sampled */
    uint64_t too_large;     /* traces not sampled over maximum_trace_size_bytes (not in
                               not_sampled: no policy decided them) */
    uint64_t dropped_on_shutdown; /* traces tail_sampler_drop_all dropped undecided */
};
void tail_sampler_get_stats(const struct tail_sampler *s, struct tail_sampler_stats *out);
/* The sampler's families, per-policy decisions included (Prometheus text, see kt_prom.h),
 * appended to b. */
void tail_sampler_write_metrics(const struct tail_sampler *s, struct kt_buf *b);

/* Earliest pending decision time, UINT64_MAX if none. */
uint64_t tail_sampler_next_deadline_ms(const struct tail_sampler *s);

/* Frees everything; calls no callback (the pipeline owns the tokens). */
void tail_sampler_free(struct tail_sampler *s);

#endif
