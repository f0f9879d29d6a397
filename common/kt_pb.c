#include "kt_pb.h"

#include "kt_endian.h"

/* A tag or a length: a varint of at most KT_PB_MAX_VARINT32_BYTES bytes, read byte by byte
 * without kt_pb_varint's 64-bit checks (this is the path of every two-byte tag and every
 * length past 127). */
static inline int varint32(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned i = 0; i < KT_PB_MAX_VARINT32_BYTES; i++) {
        if (p + i >= end)
            return KT_PB_TRUNCATED;
        uint8_t b = p[i];
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80) {
            *v = r;
            *pp = p + i + 1;
            return 0;
        }
    }
    /* Longer: cut short (TRUNCATED) or padded past 5 bytes (OVERLONG), as kt_pb_varint
     * sees it. */
    int rc = kt_pb_varint(&p, end, &r);
    return rc != 0 ? rc : KT_PB_OVERLONG;
}

int kt_pb_field_any(const uint8_t **pp, const uint8_t *end, struct kt_pb_field *f)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return 0;
    uint64_t tag, v;
    int rc = varint32(&p, end, &tag);
    if (rc != 0)
        return rc;
    if (tag > UINT32_MAX || tag >> 3 == 0)
        return KT_PB_BAD_TAG;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    f->val = p;
    switch (f->wt) {
    case KT_PB_VARINT:
        if ((rc = kt_pb_varint(&p, end, &v)) != 0)
            return rc;
        f->v = v;
        break;
    case KT_PB_FIXED64:
        if (end - p < 8)
            return KT_PB_TRUNCATED;
        f->v = kt_pb_le64(p);
        p += 8;
        break;
    case KT_PB_LEN:
        if ((rc = varint32(&p, end, &v)) != 0)
            return rc;
        if (v > (uint64_t)(end - p))
            return KT_PB_TRUNCATED;
        f->bytes = (struct kt_slice){p, (size_t)v};
        p += v;
        break;
    case KT_PB_FIXED32:
        if (end - p < 4)
            return KT_PB_TRUNCATED;
        f->v = kt_get_le32(p);
        p += 4;
        break;
    default: return KT_PB_BAD_WIRE_TYPE;
    }
    *pp = p;
    return 1;
}
