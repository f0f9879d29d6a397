/* libFuzzer target: bytes from a client on an HTTP/1.1 connection of kotel-ingest, through
 * the server's own connection layer, http1.c and the request layer (srv_harness.h): parsing,
 * pipelining, bodies and their limits, answers in order, refusals (400, 404, 413, 431). */
#include <stddef.h>
#include <stdint.h>

#include "../../ingest/protocol.h"
#include "srv_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_harness_run(&h1_ops, data, size);
    return 0;
}
