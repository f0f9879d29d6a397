/* kt_otlp_json: the OTLP/JSON mapping, to and from OTLP protobuf bytes.
 *
 * OTLP/JSON is proto3 JSON with OTLP's exceptions: trace_id/span_id/parent_span_id are
 * hex strings (not base64), enums are integers, and field names may be lowerCamelCase or
 * the original snake_case. 64-bit integers are read from strings or numbers and written as
 * strings. Other bytes fields are base64. */
#ifndef KT_OTLP_JSON_H
#define KT_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

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
/* Details of kt_otlp_json_to_proto: a body that is empty or only whitespace is rejected
 * ("empty body"); `{}` is a valid empty request and appends nothing. Field names may be
 * lowerCamelCase or snake_case, enums integers or value names, null means absent. Messages
 * may nest at most KT_OTLP_JSON_MAX_DEPTH deep (the request itself is level 1), so the
 * parser does not recurse without bound. On failure out is left as it was. */
#define KT_OTLP_JSON_MAX_DEPTH 100

/* Appends the OTLP/JSON form of a protobuf *Data / Export*ServiceRequest to out
 * (lowerCamelCase names, hex IDs, enums as integers, 64-bit integers as strings, default
 * values omitted; unknown fields are dropped). pb must have passed kt_otlp_validate_flags
 * with KT_OTLP_VALIDATE_NO_NUL, or be protobuf-c's own packing of messages (whose strings
 * cannot hold NUL): this does not check the bytes again, and protobuf-c's unpacking bounds
 * neither nesting nor string contents. Returns 0, KT_EINVAL (bytes protobuf-c cannot
 * unpack) or KT_ENOMEM. On failure out is left as it was. */
int kt_otlp_proto_to_json(enum kt_signal sig, struct kt_slice pb, struct kt_buf *out,
                          struct kt_err *err);

/* Appends a google.rpc.Status as JSON, {"code":3,"message":"..."}, the body OTLP/HTTP
 * sends with a 4xx/5xx to a JSON client. message may be NULL (written as ""); bytes that
 * are not valid UTF-8 are written as U+FFFD. Returns 0 or KT_ENOMEM. */
int kt_otlp_json_status(int code, const char *message, struct kt_buf *out);

/* Appends the Export*ServiceResponse of the signal as JSON: `{}` when rejected is 0 and
 * error_message is NULL or empty (full success), else
 * {"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}} with rejectedDataPoints /
 * rejectedLogRecords for metrics / logs; a zero count or empty message is omitted, as
 * proto3 JSON omits defaults. Returns 0, KT_EINVAL (unknown signal) or KT_ENOMEM. */
int kt_otlp_json_export_response(enum kt_signal sig, uint64_t rejected, const char *error_message,
                                 struct kt_buf *out);

#endif
