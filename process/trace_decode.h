/* trace_decode: serialized TracesData to protobuf-c objects, in full or shallow.
 *
 * Decoding is most of what filtering and tail sampling cost per span, and most of a span's
 * bytes and objects are its attributes, events and links, which many configurations never
 * look at (span.name filters; status_code, latency, probabilistic policies). A shallow
 * decode gives the caller the fields it says it reads (ottl_fields, from ottl_*_fields):
 * spans with every field except attributes, events and links (n_attributes, n_events,
 * n_links are 0; the dropped_* counts are as sent), resources only when resource
 * attributes are read and scopes only when scope fields are (NULL otherwise). With
 * OTTL_P_SPAN_ATTRS_KEYED (and not OTTL_P_SPAN_ATTRS), each span keeps its bytes for
 * trace_decode_span_attr, which reads one attribute from them. Such objects
 * describe the data but are not the data: never encode or change them, and keep the bytes
 * they came from while they live (a span's trace_id, span_id and parent_span_id point into
 * them instead of being copied).
 * The full decode is hand-written and gives what protobuf-c's unpack gives; the few inputs it
 * leaves to protobuf-c (a singular message repeated, which protobuf merges) are decoded by
 * protobuf-c inside trace_decode. */
#ifndef PROCESS_TRACE_DECODE_H
#define PROCESS_TRACE_DECODE_H

#include <stdbool.h>

#include "kt_arena.h"
#include "kt_buf.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"
#include "ottl/ottl.h"

/* Whether reading these fields needs the full decode (attributes, events or links). */
bool trace_decode_needs_full(ottl_fields fields);

/* Every field: the full decode. */
#define TRACE_DECODE_ALL (~(ottl_fields)0)

/* Decodes msg (a TracesData that passed kt_otlp_validate) into objects allocated from a,
 * shallow unless need calls for the full decode. Returns 0, KT_ENOMEM, KT_EINVAL (msg is
 * not a TracesData), or for a shallow decode, KT_EUNSUPP when it cannot give protobuf-c's
 * answer: a singular message field it decodes given twice (resource, scope, status: protobuf
 * merges those), a field of an unexpected wire type; decode in full then. */
int trace_decode(struct kt_slice msg, ottl_fields need, struct kt_arena *a,
                 Opentelemetry__Proto__Trace__V1__TracesData **out);

/* Resources decoded by earlier shallow decodes, kept for later ones, and the attribute keys
 * trace_decode_span_attr was asked for on spans decoded through it, which later decodes find
 * while they step over each span's attributes (trace_decode.c). */
struct trace_decode_cache;
struct trace_decode_cache *trace_decode_cache_new(void); /* NULL when out of memory */
void trace_decode_cache_free(struct trace_decode_cache *c);

/* trace_decode, with a shallow decode that reads resource attributes taking a Resource
 * decoded lately from cache when its bytes are the same (cache NULL: none; a full decode
 * never uses it). Such a Resource is shared: read it only, and only until the next call
 * with the same cache, which may recycle the memory of earlier ones (the pipeline drops a
 * message's objects before it decodes the next). found: the KT_OTLP_FOUND_* bits
 * kt_otlp_validate_cached gave msg (0 when not known); with KT_OTLP_FOUND_SPAN_KV_SHORT the
 * learned keys are found without testing each attribute's shape. */
int trace_decode_with(struct kt_slice msg, ottl_fields need, unsigned found, struct kt_arena *a,
                      struct trace_decode_cache *cache,
                      Opentelemetry__Proto__Trace__V1__TracesData **out);

/* Reads span.attributes["key"] of a span decoded shallow with OTTL_P_SPAN_ATTRS_KEYED in
 * need: the first attribute whose key (up to a NUL, as the decoded string) is key, its value
 * decoded into a (NULL when the KeyValue has none). The span borrows the message's bytes
 * and the cache it was decoded through, which learns key: call only while both live.
 * Returns 0 for a span with decoded attributes (read those), 1 with *found and *value,
 * KT_ENOMEM, or KT_EINVAL when protobuf-c cannot decode the value. Fits ottl_tctx's
 * span_attr. */
int trace_decode_span_attr(struct kt_arena *a, const Opentelemetry__Proto__Trace__V1__Span *span,
                           const char *key, size_t keylen, bool *found,
                           Opentelemetry__Proto__Common__V1__AnyValue **value);

#endif
