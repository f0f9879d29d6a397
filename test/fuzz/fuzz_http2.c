/* libFuzzer target: bytes from a client on an h2c connection of kotel-ingest (the preface
 * included, as the server's detection hands them over), through the server's own connection
 * layer, http2.c with its nghttp2 session and limits (max_concurrent_streams, header list
 * size, CONTINUATION and reset floods), and the request layer (srv_harness.h). */
#include <stddef.h>
#include <stdint.h>

#include "../../ingest/protocol.h"
#include "srv_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_harness_run(&h2_ops, data, size);
    return 0;
}
