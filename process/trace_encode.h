/* trace_encode: protobuf-c TracesData objects to their serialization, in one pass.
 *
 * protobuf-c sizes a message (get_packed_size) and then packs it, walking every object and
 * measuring every string twice. This writes back to front, children before the length
 * prefix that announces them, so each object and string is visited once. The bytes are
 * exactly protobuf_c_message_pack's (1.4.1): fields in field-number order, zero proto3
 * scalars, empty strings and bytes and NULL messages left out, unknown fields appended as
 * kept. A NULL element of a repeated message or string field, which protobuf-c cannot size,
 * is written as an empty one. */
#ifndef PROCESS_TRACE_ENCODE_H
#define PROCESS_TRACE_ENCODE_H

#include "kt_buf.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

/* Appends the serialization of td (borrowed) to out. Returns 0 or KT_ENOMEM (out then
 * holds what it held before, possibly with more capacity). */
int trace_encode(const Opentelemetry__Proto__Trace__V1__TracesData *td, struct kt_buf *out);

#endif
