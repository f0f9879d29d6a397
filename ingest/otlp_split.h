/* otlp_split: cuts a validated OTLP request into Kafka-sized chunks by partitioning key.
 *
 * Two serialized *Data messages concatenated are again a valid *Data holding both sets of
 * resources (protobuf merges repeated fields by appending): chunks are re-assembled from
 * the request's bytes without decoding, and the batcher relies on the same property to
 * merge chunks cheaply. */
#ifndef INGEST_OTLP_SPLIT_H
#define INGEST_OTLP_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

/* One piece of a split request: a complete serialized *Data message whose items all share
 * one partitioning key. */
/* Longest key: a trace ID in hex. */
#define OTLP_KEY_MAX 32

struct otlp_chunk {
    char key[OTLP_KEY_MAX + 1]; /* key_len bytes, then a NUL; none = no key (librdkafka picks
                                 * the partition). A resource hash key is binary. */
    uint8_t key_len;
    size_t off; /* chunk bytes live at out->p + off */
    size_t len;
    uint32_t n_items;
    /* The topic_from_attribute value of the chunk's resources (a view into the message;
     * n 0: none or not asked for). */
    struct kt_slice topic;
};

struct otlp_chunks {
    struct otlp_chunk *v;
    size_t n;
    size_t cap;
};

enum otlp_key_mode {
    OTLP_KEY_NONE,          /* no key */
    OTLP_KEY_TRACE_ID,      /* traces: 32 lowercase hex chars of the trace ID (logs: of the
                             * log record's trace_id; not for metrics) */
    OTLP_KEY_RESOURCE_HASH, /* the 16 bytes of the Collector's hash of the resource
                             * attributes (kt_attrhash.h): the key its kafka exporter gives */
};

struct otlp_split_opts {
    enum otlp_key_mode key_mode;
    /* Upper bound on one chunk's bytes (0 = none). A group of items over it is split into
     * several chunks of the same key, by item; one item that cannot fit even alone (with
     * its resource and scope wrappers) is rejected, not emitted. */
    size_t max_chunk_bytes;
    /* Resource attribute naming a topic (NULL or "": none): set, every chunk holds the data
     * of resources with one value of it (or without it), which its topic gives. */
    const char *topic_attr;
};

/* Splits a message that passed kt_otlp_validate. Appends chunk bytes to out and descriptors
 * to chunks (both reused across calls by the caller; neither is reset here). Chunks come in
 * order of first appearance of their key. *n_rejected is set to the number of items this
 * call could not place, and the first reason is written to reject_err (e.g.
 * "span 5b8e.../00f0...: 1200345 bytes encoded with its wrappers, over max_chunk_bytes
 * 1000000"). Returns 0, KT_EINVAL (malformed input or a key mode that does not apply; the
 * reason in reject_err) or KT_ENOMEM; on failure out and chunks are as they were. Spans
 * with an empty trace_id get key "" under OTLP_KEY_TRACE_ID (a span that repeats
 * trace_id is keyed by the first one).
 *
 * OTLP_KEY_NONE with the message within max_chunk_bytes copies the message as it is.
 * Otherwise chunks are re-assembled from the request's bytes: whole resource-level entries
 * while they fit, below that scope entries, then items (spans, log records, whole metrics,
 * and for a metric too big for what is left of a chunk, its data points under copies of the
 * Metric's other fields). Every chunk except a key's last is filled until its next item
 * does not fit. Fields of the top-level message other than its resource entries are not
 * carried into re-assembled chunks, nor are resource and scope entries without items.
 * No chunk without items is emitted (an empty request yields no chunk).
 *
 * A splitter holds scratch arrays that grow to the largest request seen, so a steady
 * stream of requests allocates nothing. One splitter serves one call at a time. */
struct otlp_splitter;
struct otlp_splitter *otlp_splitter_new(void); /* NULL when out of memory */
void otlp_splitter_free(struct otlp_splitter *s);
int otlp_splitter_split(struct otlp_splitter *s, enum kt_signal sig, struct kt_slice msg,
                        const struct otlp_split_opts *o, struct kt_buf *out,
                        struct otlp_chunks *chunks, size_t *n_rejected, struct kt_err *reject_err);

void otlp_chunks_free(struct otlp_chunks *c);
static inline void otlp_chunks_reset(struct otlp_chunks *c)
{
    c->n = 0;
}

#endif
