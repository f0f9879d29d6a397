#include "kt_grpc.h"

#include <stdio.h>

#include "kt_codec.h"
#include "kt_endian.h"

int kt_grpc_frame_parse(struct kt_slice body, size_t max_len, struct kt_slice *msg,
                        bool *compressed, struct kt_err *err)
{
    if (body.n < KT_GRPC_PREFIX_LEN)
        return kt_err_set(err, KT_EINVAL,
                          "truncated gRPC frame: %zu bytes, a message prefix needs 5", body.n);
    if (body.p[0] > 1)
        return kt_err_set(err, KT_EINVAL, "bad gRPC frame: compressed flag is %u, want 0 or 1",
                          body.p[0]);
    size_t len = kt_get_be32(body.p + 1);
    if (len > max_len)
        return kt_err_set(err, KT_ETOOBIG, "gRPC message of %zu bytes exceeds the limit of %zu",
                          len, max_len);
    size_t have = body.n - KT_GRPC_PREFIX_LEN;
    if (len > have)
        return kt_err_set(err, KT_EINVAL,
                          "truncated gRPC frame: prefix says %zu bytes, %zu present", len, have);
    if (len < have)
        return kt_err_set(err, KT_EINVAL,
                          "unary call carries %zu bytes after its message; one message expected",
                          have - len);
    *compressed = body.p[0] == 1;
    msg->p = body.p + KT_GRPC_PREFIX_LEN;
    msg->n = len;
    return 0;
}

int kt_grpc_frame_prefix(struct kt_buf *out, size_t len)
{
    uint8_t p[KT_GRPC_PREFIX_LEN] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                                     (uint8_t)(len >> 8), (uint8_t)len};
    return kt_buf_append(out, p, sizeof(p));
}

void kt_grpc_message_encode(const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
        if (*s >= 0x20 && *s <= 0x7e && *s != '%') {
            if (o + 1 >= cap)
                break;
            out[o++] = (char)*s;
        } else {
            if (o + 3 >= cap)
                break;
            out[o++] = '%';
            out[o++] = kt_hex_upper(*s >> 4);
            out[o++] = kt_hex_upper(*s);
        }
    }
    out[o] = '\0';
}

const char *kt_grpc_status_name(int code)
{
    switch (code) {
    case KT_GRPC_OK: return "OK";
    case KT_GRPC_CANCELLED: return "CANCELLED";
    case KT_GRPC_UNKNOWN: return "UNKNOWN";
    case KT_GRPC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case KT_GRPC_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case KT_GRPC_NOT_FOUND: return "NOT_FOUND";
    case KT_GRPC_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case KT_GRPC_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case KT_GRPC_ABORTED: return "ABORTED";
    case KT_GRPC_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case KT_GRPC_INTERNAL: return "INTERNAL";
    case KT_GRPC_UNAVAILABLE: return "UNAVAILABLE";
    case KT_GRPC_DATA_LOSS: return "DATA_LOSS";
    }
    return "UNKNOWN";
}
