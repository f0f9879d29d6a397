/* kt_endian: fixed-width integers read from and written to byte buffers in a stated byte
 * order, whatever the host's; the one place the shifts live (gzip and snappy trailers, the
 * spool's records and protobuf's fixed32 are little-endian; gRPC's message prefix and Kafka's
 * protocol are big-endian). */
#ifndef KT_ENDIAN_H
#define KT_ENDIAN_H

#include <stdint.h>

static inline uint32_t kt_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void kt_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t kt_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#endif
