/* libFuzzer target: a spool segment file as a crash or a bad disk may leave it, read the way
 * the spool's reader reads it: the header, then records until the first one that fails.
 * A record that parses must lie within the input and encode back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/spool_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SPOOL_MAGIC_LEN || memcmp(data, SPOOL_MAGIC, SPOOL_MAGIC_LEN) != 0)
        return 0;
    size_t off = SPOOL_MAGIC_LEN;
    for (;;) {
        struct spool_msg m;
        struct kt_err err;
        size_t used = 0;
        uint64_t total = 0;
        const uint8_t *p = data + off;
        size_t n = size - off;
        int rc = spool_record_parse(p, n, &m, &used, &err);
        if (rc != 0) {
            /* The header check the reader makes before allocating agrees with the parser. */
            if (n >= SPOOL_RECORD_HDR && spool_record_total(p, &total, &err) == 0 && total <= n &&
                rc == KT_EAGAIN)
                __builtin_trap();
            return 0;
        }
        if (used < SPOOL_RECORD_HDR + SPOOL_BODY_HDR || used > n || m.key.p < p ||
            m.value.p + m.value.n != p + used || (unsigned)m.sig >= KT_SIGNAL_COUNT)
            __builtin_trap();
        if (spool_record_size(&m) != used)
            __builtin_trap();
        uint8_t *again = malloc(used);
        if (again == NULL)
            return 0;
        if (spool_record_encode(&m, again, &err) != 0 || memcmp(again, p, used) != 0)
            __builtin_trap();
        free(again);
        off += used;
    }
}
