/* kt_otlp_wire: OTLP protobuf handled at the wire level, without decoding into objects.
 *
 * An Export{Trace,Metrics,Logs}ServiceRequest and the matching {Traces,Metrics,Logs}Data
 * share one wire layout (repeated field 1 of resource-level messages), so a request body
 * is already a valid Kafka message value for otlp_proto. Two serialized *Data messages
 * concatenated are again a valid *Data holding both sets of resources (protobuf merges
 * repeated fields by appending): the batcher relies on this to merge chunks cheaply. */
#ifndef KT_OTLP_WIRE_H
#define KT_OTLP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

/* Checks that msg is a well-formed *Data / Export*ServiceRequest of the signal: every
 * nested message of the OTLP schema is walked, wire types must match the schema, lengths
 * must stay inside their parent, trace_id must be 16 bytes and span_id 8 bytes when
 * present, strings must be valid UTF-8. Unknown fields are skipped (forward compatible).
 * On success *n_items is the number of spans / data points / log records.
 * Repeated scalars (bucket_counts, explicit_bounds) may be packed or not. Group wire types
 * are refused, and so is an AnyValue nested more than 32 levels deep. So is what protobuf-c
 * (used by consumers) cannot decode although protobuf allows it: tags and lengths padded
 * past 5 bytes, and a body or attribute value given again without a value set. Accepted
 * messages decode with protobuf-c. No allocation.
 * On failure returns KT_EINVAL with a message naming the path and byte offset, e.g.
 * "resource_spans[0].scope_spans[1].spans[3].trace_id: length 15, want 16 (offset 812)". */
int kt_otlp_validate(enum kt_signal sig, struct kt_slice msg, size_t *n_items, struct kt_err *err);

/* One piece of a split request: a complete serialized *Data message whose items all share
 * one partitioning key. */
struct kt_otlp_chunk {
    char key[33]; /* NUL-terminated; "" = no key (librdkafka picks the partition) */
    size_t off;   /* chunk bytes live at out->p + off */
    size_t len;
    uint32_t n_items;
};

struct kt_otlp_chunks {
    struct kt_otlp_chunk *v;
    size_t n;
    size_t cap;
};

enum kt_otlp_key_mode {
    KT_OTLP_KEY_NONE,          /* no key */
    KT_OTLP_KEY_TRACE_ID,      /* traces: 32 lowercase hex chars of the trace ID (logs: of the
                                * log record's trace_id; not for metrics) */
    KT_OTLP_KEY_RESOURCE_HASH, /* 16 lowercase hex chars of a 64-bit FNV-1a over the resource
                                * attributes sorted by key (order-independent), see below */
};

/* KT_OTLP_KEY_RESOURCE_HASH, exactly: take the serialized KeyValue messages of
 * Resource.attributes (the payloads of the field-1 entries, without their tag and length);
 * sort them by key string (bytewise), ties by the whole serialized KeyValue (bytewise,
 * shorter first); then FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
 * over, for each in order, its length as a protobuf varint followed by its bytes. The key
 * is the hash as 16 lowercase hex digits, most significant first. A resource without
 * attributes hashes to the offset basis. */

struct kt_otlp_split_opts {
    enum kt_otlp_key_mode key_mode;
    /* Upper bound on one chunk's bytes (0 = none). A group of items over it is split into
     * several chunks of the same key, by item; one item that cannot fit even alone (with
     * its resource and scope wrappers) is rejected, not emitted. */
    size_t max_chunk_bytes;
};

/* Splits a message that passed kt_otlp_validate. Appends chunk bytes to out and descriptors
 * to chunks (both reused across calls by the caller; neither is reset here). Chunks come in
 * order of first appearance of their key. *n_rejected is set to the number of items this
 * call could not place, and the first reason is written to reject_err (e.g.
 * "span 5b8e.../00f0...: 1200345 bytes encoded with its wrappers, over max_chunk_bytes
 * 1000000"). Returns 0, KT_EINVAL (malformed input or a key mode that does not apply; the
 * reason in reject_err) or KT_ENOMEM; on failure out and chunks are as they were. Spans
 * with an empty trace_id get key "" under KT_OTLP_KEY_TRACE_ID (a span that repeats
 * trace_id is keyed by the first one).
 *
 * KT_OTLP_KEY_NONE with the message within max_chunk_bytes copies the message as it is.
 * Otherwise chunks are re-assembled from the request's bytes: whole resource-level entries
 * while they fit, below that scope entries, then items (spans, log records, whole metrics,
 * and for a metric too big for what is left of a chunk, its data points under copies of the
 * Metric's other fields). Every chunk except a key's last is filled until its next item
 * does not fit. Fields of the top-level message other than its resource entries are not
 * carried into re-assembled chunks, nor are resource and scope entries without items.
 * No chunk without items is emitted (an empty request yields no chunk).
 *
 * Uses a splitter kept per thread (freed when the thread exits, or by
 * kt_otlp_split_thread_cleanup); its scratch arrays grow to the largest request seen, so a
 * steady stream of requests allocates nothing. */
int kt_otlp_split(enum kt_signal sig, struct kt_slice msg, const struct kt_otlp_split_opts *o,
                  struct kt_buf *out, struct kt_otlp_chunks *chunks, size_t *n_rejected,
                  struct kt_err *reject_err);

/* Frees the calling thread's splitter now (it is rebuilt on the next kt_otlp_split). */
void kt_otlp_split_thread_cleanup(void);

/* The same with scratch space the caller owns, for callers that prefer explicit lifetimes
 * to thread-local state. One splitter serves one call at a time. */
struct kt_otlp_splitter;
struct kt_otlp_splitter *kt_otlp_splitter_new(void); /* NULL when out of memory */
void kt_otlp_splitter_free(struct kt_otlp_splitter *s);
int kt_otlp_splitter_split(struct kt_otlp_splitter *s, enum kt_signal sig, struct kt_slice msg,
                           const struct kt_otlp_split_opts *o, struct kt_buf *out,
                           struct kt_otlp_chunks *chunks, size_t *n_rejected,
                           struct kt_err *reject_err);

void kt_otlp_chunks_free(struct kt_otlp_chunks *c);
static inline void kt_otlp_chunks_reset(struct kt_otlp_chunks *c)
{
    c->n = 0;
}

#endif
