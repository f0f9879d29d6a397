/* kt_otlp_json: the OTLP/JSON mapping, to and from OTLP protobuf bytes.
 *
 * OTLP/JSON is proto3 JSON with OTLP's exceptions: trace_id/span_id/parent_span_id are
 * hex strings (not base64), enums are integers, and field names may be lowerCamelCase or
 * the original snake_case. 64-bit integers are read from strings or numbers and written as
 * strings. Other bytes fields are base64. */
#ifndef KT_OTLP_JSON_H
#define KT_OTLP_JSON_H

#include <stddef.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

/* Parses an OTLP/JSON Export*ServiceRequest (or *Data: same fields) and appends its
 * protobuf encoding to out. Unknown fields are ignored, as the OTLP spec requires of
 * receivers. Returns 0, KT_EINVAL with a message naming the JSON path
 * ("resourceSpans[0].scopeSpans[0].spans[2].traceId: want 32 hex characters, got 31"), or
 * KT_ENOMEM. */
int kt_otlp_json_to_proto(enum kt_signal sig, const char *json, size_t len, struct kt_buf *out,
                          struct kt_err *err);

/* Appends the OTLP/JSON form of a protobuf *Data / Export*ServiceRequest to out
 * (lowerCamelCase names, hex IDs, enums as integers, 64-bit integers as strings, default
 * values omitted). Returns 0, KT_EINVAL (malformed protobuf) or KT_ENOMEM. */
int kt_otlp_proto_to_json(enum kt_signal sig, struct kt_slice pb, struct kt_buf *out,
                          struct kt_err *err);

#endif
