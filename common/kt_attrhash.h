/* kt_attrhash: the OpenTelemetry Collector's hash of an attribute map, computed from the
 * serialized KeyValue messages without decoding them.
 *
 * The Collector's kafka exporter keys a message of `partition_metrics_by_resource_attributes`
 * / `partition_logs_by_resource_attributes` by this hash of the resource attributes (pdata's
 * xhash.MapHash, 16 bytes). kotel-ingest computes the same bytes, so that with the same
 * partitioner a Collector ingest node and a kotel one put a resource on the same partition.
 *
 * The map is written in a canonical byte form and hashed with XXH64 (seed 0):
 *   map      entries sorted by key (bytewise, a prefix first; equal keys keep their order),
 *            each 0xf4, uvarint(key length), key, value
 *   string   0xf7, uvarint(length), bytes      bytes   0xf6, uvarint(length), bytes
 *   bool     0xf8 true, 0xf9 false              int     0xfa, 8 bytes little-endian
 *   double   0xfb, the IEEE-754 bits, 8 bytes little-endian
 *   kvlist   0xfc, the map as above, 0xfd       array   0xfe, each value, 0xff
 *   no value 0xf5 (an AnyValue without a value, or a KeyValue without an AnyValue)
 * The hash is XXH64 of that form, little-endian, followed by XXH64 of the form with a byte
 * 0xf3 appended, little-endian. A map without entries hashes to 16 zero bytes. Of an AnyValue
 * carrying more than one value field, the last counts, as protobuf decoders read it.
 *
 * Inputs are validated OTLP (kt_otlp_validate): nesting is bounded there; here, deeper than
 * KT_ATTRHASH_MAX_DEPTH is refused rather than recursed into. */
#ifndef KT_ATTRHASH_H
#define KT_ATTRHASH_H

#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"

#define KT_ATTRHASH_LEN 16
#define KT_ATTRHASH_MAX_DEPTH 64

struct kt_attrhash_kv;

/* Scratch space reused from one hash to the next: a steady stream allocates nothing. */
struct kt_attrhash {
    struct kt_buf form;
    struct kt_attrhash_kv *kvs;
    size_t n_kvs, cap_kvs;
};

void kt_attrhash_init(struct kt_attrhash *h);
void kt_attrhash_free(struct kt_attrhash *h);

/* Starts a map. */
void kt_attrhash_begin(struct kt_attrhash *h);

/* Adds the KeyValue entries of field number `field` of the message payload [p, end) to the
 * map (called once per occurrence of a repeated wrapper, e.g. a Resource sent twice: protobuf
 * merges them). Borrows the bytes until kt_attrhash_end. Returns 0, KT_EINVAL (malformed) or
 * KT_ENOMEM. */
int kt_attrhash_add(struct kt_attrhash *h, const uint8_t *p, const uint8_t *end, uint32_t field);

/* Writes the map's hash to out. Returns 0, KT_EINVAL (malformed or too deep) or KT_ENOMEM. */
int kt_attrhash_end(struct kt_attrhash *h, uint8_t out[KT_ATTRHASH_LEN]);

#endif
