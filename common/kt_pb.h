/* kt_pb: a minimal protobuf wire reader for the few places that pick single fields out of a
 * message without decoding it into objects (gRPC status details, the lazy span decoder).
 *
 * Bounds-checked on every step, so it is safe on untrusted bytes; it does not check that
 * fields match any schema (kt_otlp_validate does that for OTLP data). */
#ifndef KT_PB_H
#define KT_PB_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_buf.h"

enum { KT_PB_VARINT = 0, KT_PB_FIXED64 = 1, KT_PB_LEN = 2, KT_PB_FIXED32 = 5 };

struct kt_pb {
    const uint8_t *p, *end;
};

static inline struct kt_pb kt_pb_of(struct kt_slice s)
{
    return (struct kt_pb){s.p, s.p + s.n};
}

/* One field: its number, wire type and value (varint and fixed values in v; for
 * length-delimited ones, the payload in bytes and its length in v). */
struct kt_pb_field {
    uint32_t num;
    uint32_t wt;
    uint64_t v;
    struct kt_slice bytes;
};

static inline bool kt_pb_varint(struct kt_pb *b, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && b->p < b->end; shift += 7) {
        uint8_t c = *b->p++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* One field at b->p; on failure b->p is anywhere up to b->end. */
static inline bool kt_pb_read(struct kt_pb *b, struct kt_pb_field *f)
{
    uint64_t tag;
    if (!kt_pb_varint(b, &tag) || tag >> 3 > UINT32_MAX)
        return false;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    f->bytes = (struct kt_slice){NULL, 0};
    switch (f->wt) {
    case KT_PB_VARINT: return kt_pb_varint(b, &f->v);
    case KT_PB_FIXED64:
        if (b->end - b->p < 8)
            return false;
        f->v = 0;
        for (int i = 7; i >= 0; i--)
            f->v = f->v << 8 | b->p[i];
        b->p += 8;
        return true;
    case KT_PB_LEN:
        if (!kt_pb_varint(b, &f->v) || f->v > (uint64_t)(b->end - b->p))
            return false;
        f->bytes = (struct kt_slice){b->p, (size_t)f->v};
        b->p += f->v;
        return true;
    case KT_PB_FIXED32:
        if (b->end - b->p < 4)
            return false;
        f->v = (uint64_t)b->p[0] | (uint64_t)b->p[1] << 8 | (uint64_t)b->p[2] << 16 |
               (uint64_t)b->p[3] << 24;
        b->p += 4;
        return true;
    default: return false;
    }
}

/* Reads the next field. false at the end of the bytes, or on bytes that are not protobuf
 * (a truncated value, a group or unknown wire type): callers that need to tell the two apart
 * compare b->p with b->end afterwards. */
static inline bool kt_pb_next(struct kt_pb *b, struct kt_pb_field *f)
{
    const uint8_t *start = b->p;
    if (b->p >= b->end)
        return false;
    if (kt_pb_read(b, f))
        return true;
    /* A field cut off at the very end ("\x0a", a length with no payload) would otherwise
     * leave b->p == b->end and pass for the end of the bytes. */
    b->p = start;
    return false;
}

#endif
