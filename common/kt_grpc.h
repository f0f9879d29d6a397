/* kt_grpc: gRPC over HTTP/2 message framing and status codes.
 *
 * A gRPC message on the wire is a 5-byte prefix (1 byte compressed flag, 4 bytes
 * big-endian length) followed by the message bytes. Unary calls carry exactly one. */
#ifndef KT_GRPC_H
#define KT_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"

enum kt_grpc_status {
    KT_GRPC_OK = 0,
    KT_GRPC_CANCELLED = 1,
    KT_GRPC_UNKNOWN = 2,
    KT_GRPC_INVALID_ARGUMENT = 3,
    KT_GRPC_DEADLINE_EXCEEDED = 4,
    KT_GRPC_NOT_FOUND = 5,
    KT_GRPC_RESOURCE_EXHAUSTED = 8,
    KT_GRPC_FAILED_PRECONDITION = 9,
    KT_GRPC_ABORTED = 10,
    KT_GRPC_UNIMPLEMENTED = 12,
    KT_GRPC_INTERNAL = 13,
    KT_GRPC_UNAVAILABLE = 14,
    KT_GRPC_DATA_LOSS = 15,
    KT_GRPC_UNAUTHENTICATED = 16,
};

#define KT_GRPC_PREFIX_LEN 5

/* Parses the single message of a unary call from body (the whole request DATA).
 * *msg borrows from body; *compressed is the prefix's flag. Errors (KT_EINVAL, message
 * for grpc-message): body shorter than the prefix, length past the end ("truncated gRPC
 * frame: prefix says 100 bytes, 10 present"), bytes after the message, more than
 * max_len bytes (KT_ETOOBIG). */
int kt_grpc_frame_parse(struct kt_slice body, size_t max_len, struct kt_slice *msg,
                        bool *compressed, struct kt_err *err);

/* Appends the 5-byte prefix for an uncompressed message of len bytes. */
int kt_grpc_frame_prefix(struct kt_buf *out, size_t len);

/* Percent-encodes a grpc-message value as the gRPC spec requires (bytes outside
 * 0x20..0x7E and '%' become %XX). Writes at most cap-1 chars plus NUL. */
void kt_grpc_message_encode(const char *msg, char *out, size_t cap);

const char *kt_grpc_status_name(int code);

#endif
