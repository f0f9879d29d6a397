/* libFuzzer target: a gRPC request body as it arrives from the network, unframed and, when
 * flagged compressed, inflated under a small bound. */
#include <stddef.h>
#include <stdint.h>

#include "kt_grpc.h"
#include "kt_gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kt_slice body = {data, size}, msg;
    bool compressed = false;
    struct kt_err err;
    if (kt_grpc_frame_parse(body, 1 << 20, &msg, &compressed, &err) != 0)
        return 0;
    if (msg.p < data || msg.p + msg.n > data + size)
        __builtin_trap();
    if (compressed) {
        struct kt_buf out = KT_BUF_INIT;
        if (kt_gunzip(msg, 1 << 16, &out, &err) == 0 && out.len > (1 << 16))
            __builtin_trap();
        kt_buf_free(&out);
    }
    return 0;
}
