/* kt_otlp_wire: OTLP protobuf checked at the wire level, without decoding into objects: the
 * one validator of OTLP bytes from outside, run once per tier (kotel-ingest on each request,
 * kotel-process on each Kafka message); what comes after relies on it instead of checking
 * again (the splitter, the span decoder, the OTLP/JSON writer).
 *
 * An Export{Trace,Metrics,Logs}ServiceRequest and the matching {Traces,Metrics,Logs}Data
 * share one wire layout (repeated field 1 of resource-level messages), so a request body
 * is already a valid Kafka message value for otlp_proto. */
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
 * are refused, and so is an AnyValue nested more than 32 levels deep (KT_ETOOBIG). So is
 * what protobuf-c (used by consumers) cannot decode although protobuf allows it: tags and
 * lengths padded past 5 bytes, and a body or attribute value given again without a value
 * set. Accepted messages decode with protobuf-c. No allocation.
 * On failure returns KT_EINVAL with a message naming the path and byte offset, e.g.
 * "resource_spans[0].scope_spans[1].spans[3].trace_id: length 15, want 16 (offset 812)". */
int kt_otlp_validate(enum kt_signal sig, struct kt_slice msg, size_t *n_items, struct kt_err *err);

/* Bounds on what one request may hold, beyond its size: they bound the work of everything
 * downstream (attribute maps are sorted, hashed, searched per item) and refuse payloads no
 * sane client sends. A field of 0 means no bound. kotel-ingest sets them from [receiver];
 * kotel-process reads what ingest (or a Collector) already let through, and sets none. */
struct kt_otlp_limits {
    uint64_t max_attributes;   /* key-value pairs in one list: attributes of a resource,
                                * scope, span, event, link, log record or data point, a
                                * metric's metadata, a kvlist */
    uint64_t max_string_bytes; /* bytes of one string or bytes value (in OTLP/JSON: of one
                                * JSON string as decoded, so base64 text for bytes) */
};

/* AnyValue trees deeper than this are refused whatever the limits say: no real attribute
 * needs them, and they bound the validator's recursion. */
#define KT_OTLP_MAX_ANY_DEPTH 32

/* Flags of kt_otlp_validate_flags. */
enum {
    /* Strings must not hold NUL either: protobuf-c decodes strings as C strings, so a NUL
     * would silently cut one short where kotel decodes messages to write OTLP/JSON
     * (kt_otlp_proto_to_json). Set by the tiers that write OTLP/JSON. */
    KT_OTLP_VALIDATE_NO_NUL = 1,
    /* Only the structure down to the items: each span, data point or log record is counted
     * and must lie inside its parent, but its own fields are not looked at (nor are the
     * exemplars, events and links inside it). For bytes forwarded as they are (kotel-process
     * pass-through), whose items nothing in the tier reads: a backend that refuses them
     * has them checked in full then (pipeline.c). Such bytes may not decode with protobuf-c;
     * the rest of the guarantees above hold for every level walked. */
    KT_OTLP_VALIDATE_STRUCTURE = 2,
};

/* kt_otlp_validate with flags (0 = kt_otlp_validate). */
int kt_otlp_validate_flags(enum kt_signal sig, struct kt_slice msg, unsigned flags, size_t *n_items,
                           struct kt_err *err);

/* kt_otlp_validate_flags that also enforces lim (borrowed; NULL = no bounds). A list or
 * string over a bound, or an AnyValue nested deeper than KT_OTLP_MAX_ANY_DEPTH, fails with
 * KT_ETOOBIG and a message naming the bound, the value and the path, e.g.
 * "resource_spans[0].scope_spans[0].spans[3].attributes: more than 1024 key-value pairs in
 * one list ([receiver] max_attributes) (offset 812)"; other faults with KT_EINVAL. */
int kt_otlp_validate_limits(enum kt_signal sig, struct kt_slice msg, unsigned flags,
                            const struct kt_otlp_limits *lim, size_t *n_items, struct kt_err *err);

/* Resources and scopes found valid lately, by their bytes: the messages of one producer
 * repeat them (every request of a service carries its resource), and a match costs one
 * comparison instead of a walk over their attributes. A result holds for the flags and
 * limits it was found under; the cache forgets everything when they change. Zero-initialise;
 * one owner at a time (not thread-safe). */
#define KT_OTLP_VCACHE_SLOTS 4
#define KT_OTLP_VCACHE_BYTES 1024 /* longer ones are walked every time */
struct kt_otlp_vcache {
    unsigned flags;
    uint64_t max_kv, max_str;
    unsigned next; /* the slot the next entry replaces */
    uint16_t len[KT_OTLP_VCACHE_SLOTS];
    uint8_t type[KT_OTLP_VCACHE_SLOTS]; /* enum kt_otlp_msg; 0 for an empty slot */
    uint8_t bytes[KT_OTLP_VCACHE_SLOTS][KT_OTLP_VCACHE_BYTES];
};

/* What a valid message was found to be, besides valid (bits of kt_otlp_validate_cached's
 * *found). */
enum {
    /* Every KeyValue of every span (attributes, events, links) is its key (field 1) then at
     * most one value (field 2), each once and with a length of one byte (under 128), and
     * nothing else: a reader may take the key from byte 2 on and the value right after it
     * without walking the fields. Never found with KT_OTLP_VALIDATE_STRUCTURE (spans are not
     * looked into) or NO_NUL (where the shortcut that finds it is off), nor for a message
     * with a KeyValue of another shape or a value of another kind than a short string, bool,
     * int or double: a message may have it without it being found. */
    KT_OTLP_FOUND_SPAN_KV_SHORT = 1,
};

/* kt_otlp_validate_limits that takes the resources and scopes in cache (borrowed, may be
 * NULL) as valid, and adds those it finds valid. found (may be NULL): KT_OTLP_FOUND_* of a
 * valid message. */
int kt_otlp_validate_cached(enum kt_signal sig, struct kt_slice msg, unsigned flags,
                            const struct kt_otlp_limits *lim, struct kt_otlp_vcache *cache,
                            size_t *n_items, unsigned *found, struct kt_err *err);

#endif
