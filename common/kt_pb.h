/* kt_pb: the protobuf wire reader of kotel. Every place that reads protobuf bytes by hand
 * (the OTLP validator and splitter, the span decoder, gRPC status details) steps through
 * fields with kt_pb_field and reads varints with kt_pb_varint, so there is one set of rules
 * for what counts as well-formed.
 *
 * Bounds-checked on every step, so it is safe on untrusted bytes. The rules are protobuf's,
 * narrowed to what protobuf-c (and so every consumer downstream) decodes: tags and lengths
 * in at most 5 bytes, varints in at most 10 bytes without bits past 64, field number 0 and
 * group wire types refused. It does not check that fields match any schema
 * (kt_otlp_validate does that for OTLP data). */
#ifndef KT_PB_H
#define KT_PB_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kt_buf.h"

enum {
    KT_PB_VARINT = 0,
    KT_PB_FIXED64 = 1,
    KT_PB_LEN = 2,
    KT_PB_SGROUP = 3,
    KT_PB_EGROUP = 4,
    KT_PB_FIXED32 = 5,
};

/* Tags and lengths are 32-bit varints: protobuf-c refuses them in more than 5 bytes,
 * however they are padded. */
#define KT_PB_MAX_VARINT32_BYTES 5

/* Why bytes are not protobuf (negative, so they never pass for a field). */
enum kt_pb_bad {
    KT_PB_TRUNCATED = -1,     /* a tag, value or length runs past the end */
    KT_PB_OVERLONG = -2,      /* a varint over 10 bytes or 64 bits, a tag or length over 5 */
    KT_PB_BAD_TAG = -3,       /* field number 0 or past 2^29 - 1 */
    KT_PB_BAD_WIRE_TYPE = -4, /* a group (3, 4) or an undefined wire type (6, 7) */
};

/* Reads a varint at *pp. Returns 0 with *pp past it, KT_PB_TRUNCATED or KT_PB_OVERLONG. */
static inline int kt_pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return KT_PB_TRUNCATED;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return KT_PB_OVERLONG;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return KT_PB_OVERLONG;
}

/* The little-endian 8 bytes at p (a fixed64 value), in one load where the machine is
 * little-endian: a byte-by-byte loop cost about 30 instructions per value. */
static inline uint64_t kt_pb_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* One field as found on the wire. */
struct kt_pb_field {
    uint32_t num;
    uint32_t wt;
    const uint8_t *val;    /* first byte after the tag (unknown fields are kept from here) */
    uint64_t v;            /* a varint or fixed value (not set for length-delimited ones) */
    struct kt_slice bytes; /* a length-delimited field's payload (not set for others) */
};

/* Every shape of field; kt_pb_field's out-of-line half. */
int kt_pb_field_any(const uint8_t **pp, const uint8_t *end, struct kt_pb_field *f);

/* Steps over the field at *pp. Returns 1 with *f filled and *pp past the field, 0 at end,
 * or a negative enum kt_pb_bad with *pp unchanged. Inline for the shapes most fields
 * have: a one-byte tag with a one-byte varint, a fixed value, or a length in one or two
 * bytes (payloads up to 16 KiB). */
static inline __attribute__((always_inline)) int kt_pb_field(const uint8_t **pp, const uint8_t *end,
                                                             struct kt_pb_field *f)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return 0;
    if (end - p >= 2 && p[0] >= 8 && p[0] < 0x80) {
        f->num = p[0] >> 3;
        f->wt = p[0] & 7;
        f->val = p + 1;
        if (f->wt == KT_PB_LEN) {
            const uint8_t *q;
            size_t len;
            if (p[1] < 0x80) {
                len = p[1];
                q = p + 2;
            } else if (end - p >= 3 && p[2] < 0x80) {
                len = (size_t)(p[1] & 0x7f) | (size_t)p[2] << 7;
                q = p + 3;
            } else {
                return kt_pb_field_any(pp, end, f);
            }
            if (len > (size_t)(end - q))
                return KT_PB_TRUNCATED;
            f->bytes = (struct kt_slice){q, len};
            *pp = q + len;
            return 1;
        }
        if (f->wt == KT_PB_VARINT && p[1] < 0x80) {
            f->v = p[1];
            *pp = p + 2;
            return 1;
        }
        if (f->wt == KT_PB_FIXED64 && end - p >= 9) {
            f->v = kt_pb_le64(p + 1);
            *pp = p + 9;
            return 1;
        }
    }
    return kt_pb_field_any(pp, end, f);
}

/* A cursor over a message's fields, for code that picks a few fields out of small messages
 * (gRPC status details). */
struct kt_pb {
    const uint8_t *p, *end;
};

static inline struct kt_pb kt_pb_of(struct kt_slice s)
{
    return (struct kt_pb){s.p, s.p + s.n};
}

/* Reads the next field. false at the end of the bytes, or on bytes that are not protobuf
 * (b->p then stays at the bad field: callers that need to tell the two apart compare b->p
 * with b->end afterwards). */
static inline bool kt_pb_next(struct kt_pb *b, struct kt_pb_field *f)
{
    return kt_pb_field(&b->p, b->end, f) == 1;
}

/* Whether p, before end, starts a field of one-byte tag `tag` with a one-byte length whose
 * payload ends by end: the shape of nearly every attribute and short string, read without
 * kt_pb_field's general walk. The payload is then p[1] bytes at p + 2. */
static inline bool kt_pb_at_short(const uint8_t *p, const uint8_t *end, uint8_t tag)
{
    return end - p >= 2 && p[0] == tag && p[1] < 0x80 && p[1] <= end - p - 2;
}

/* Whether s starts with field 1, length-delimited with a one-byte length that s holds: a
 * KeyValue's usual key. *a is its payload. Split from kt_pb_short_pair so that a caller can
 * look at the key before the rest. */
static inline bool kt_pb_short_first(struct kt_slice s, struct kt_slice *a)
{
    if (!kt_pb_at_short(s.p, s.p + s.n, 0x0a))
        return false;
    *a = (struct kt_slice){s.p + 2, s.p[1]};
    return true;
}

/* Whether what follows a (kt_pb_short_first's payload, inside s) is nothing or exactly
 * field 2, length-delimited with a one-byte length, up to the end of s. *b is its payload
 * ({NULL, 0} without field 2). */
static inline bool kt_pb_short_second(struct kt_slice s, struct kt_slice a, struct kt_slice *b)
{
    const uint8_t *q = a.p + a.n, *end = s.p + s.n;
    if (q == end) {
        *b = (struct kt_slice){NULL, 0};
        return true;
    }
    if (end - q < 2 || q[0] != 0x12 || q[1] >= 0x80 || q[1] != end - q - 2)
        return false;
    *b = (struct kt_slice){q + 2, q[1]};
    return true;
}

/* Whether the bytes s of a string field can decode to a string of len bytes by their
 * length alone: protobuf-c makes a C string of them, cut at the first NUL, so either s is
 * len bytes or it has a NUL at len. (A NUL before len is left to the caller's comparison.) */
static inline bool kt_pb_cstr_len_may_be(struct kt_slice s, size_t len)
{
    return s.n == len || (s.n > len && s.p[len] == '\0');
}

/* Whether the bytes s of a string field may decode to the C string key of keylen bytes, by
 * the length rule above and the first byte: the quick test that rules out most keys before
 * a comparison. */
static inline bool kt_pb_key_may_be(struct kt_slice s, const char *key, size_t keylen)
{
    return kt_pb_cstr_len_may_be(s, keylen) && (keylen == 0 || s.p[0] == (uint8_t)key[0]);
}

/* Which of up to 8 keys the bytes of a string field may decode to, by their first byte
 * (the second half of kt_pb_key_may_be), so most attributes are passed over on one load:
 * bit j of first[b] when key j starts with b, or is "" and b is NUL (a key cut at a NUL
 * decodes to ""); bit j of empty when key j is "", the only key empty bytes may be. Zero it
 * before the first kt_pb_key_firsts_add. */
struct kt_pb_key_firsts {
    uint8_t first[256];
    uint8_t empty;
};

/* Notes key (keylen bytes) as key number bit (0 to 7). */
static inline void kt_pb_key_firsts_add(struct kt_pb_key_firsts *f, const char *key, size_t keylen,
                                        unsigned bit)
{
    uint8_t m = (uint8_t)(1u << bit);
    f->first[keylen == 0 ? 0 : (uint8_t)key[0]] |= m;
    if (keylen == 0)
        f->empty |= m;
}

/* The keys (a mask of bits) the string field's bytes s may decode to by their first byte. */
static inline unsigned kt_pb_key_firsts_of(const struct kt_pb_key_firsts *f, struct kt_slice s)
{
    return s.n == 0 ? f->empty : f->first[s.p[0]];
}

/* Whether s is exactly field 1 then, optionally, field 2, both length-delimited with a
 * one-byte length: a KeyValue's usual shape (key, value), read without stepping field by
 * field. *a and *b are their payloads (*b {NULL, 0} without field 2). false for any other
 * shape, valid or not, which the caller reads with kt_pb_field. */
static inline bool kt_pb_short_pair(struct kt_slice s, struct kt_slice *a, struct kt_slice *b)
{
    return kt_pb_short_first(s, a) && kt_pb_short_second(s, *a, b);
}

#endif
