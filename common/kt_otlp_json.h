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
#include "kt_otlp_wire.h"
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
 * lowerCamelCase or snake_case, enums integers or value names, null means absent; a member
 * given twice (in either spelling) is refused, as proto3 JSON parsers do. The bytes are
 * those protobuf-c packs (fields in number order, defaults left out), whatever the order
 * of the members. Strings must be valid UTF-8 without \u0000. On failure out is left as
 * it was.
 *
 * Nothing recurses on the input and no tree is built: the memory besides the body is the
 * output (about the size of the body or less; at most a few times it for a body of tiny
 * numbers in arrays of doubles), a stack of the objects open and one copy of the largest
 * string with escapes (kt_otlp_json_dec_mem). The depth is bounded: an AnyValue may nest
 * KT_OTLP_MAX_ANY_DEPTH levels, which bounds the OTLP structure, and a member kotel does
 * not know (skipped) at most KT_OTLP_JSON_MAX_DEPTH levels of objects and arrays; past
 * either the call fails with KT_ETOOBIG. */
#define KT_OTLP_JSON_MAX_DEPTH 64

/* kt_otlp_json_to_proto that also enforces lim (borrowed; NULL: no bounds but the depth):
 * past a bound it fails with KT_ETOOBIG and a message naming the bound, the value and the
 * JSON path, e.g. "resourceSpans[0].scopeSpans[0].spans[3].attributes[1024]: more than
 * 1024 key-value pairs in one list ([receiver] max_attributes)". */
int kt_otlp_json_to_proto_limits(enum kt_signal sig, const char *json, size_t len,
                                 const struct kt_otlp_limits *lim, struct kt_buf *out,
                                 struct kt_err *err);

/* The same conversion a slice at a time, so a large body does not hold an event loop: */
struct kt_otlp_json_dec;
/* Starts converting json (borrowed: unchanged and alive until the decoder is freed) into
 * out (borrowed, appended to), with lim (copied; NULL: none). Fails at once for an unknown
 * signal or an empty body, as kt_otlp_json_to_proto. *dec is freed with
 * kt_otlp_json_dec_free. Returns 0, KT_EINVAL or KT_ENOMEM. */
int kt_otlp_json_dec_new(enum kt_signal sig, const char *json, size_t len,
                         const struct kt_otlp_limits *lim, struct kt_buf *out,
                         struct kt_otlp_json_dec **dec, struct kt_err *err);
/* Reads about max_bytes more of the body (whole tokens: a string longer than that is read
 * at once). Returns KT_EAGAIN when some is left, 0 once all of it is converted, or fails
 * as kt_otlp_json_to_proto_limits (out left as it was before kt_otlp_json_dec_new). */
int kt_otlp_json_dec_step(struct kt_otlp_json_dec *d, size_t max_bytes, struct kt_err *err);
/* Bytes the decoder holds or held at most besides the body and out (its stack, the string
 * scratch buffer, the largest copy made to put members in order). */
size_t kt_otlp_json_dec_mem(const struct kt_otlp_json_dec *d);
/* NULL is ignored. */
void kt_otlp_json_dec_free(struct kt_otlp_json_dec *d);

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
