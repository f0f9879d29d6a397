/* The non-cryptographic hashes of the OTTL converters FNV and Murmur3Hash, written
 * from their specifications (the cryptographic ones come from mbedTLS, XXH3 from libxxhash). */
#include "kt_endian.h"
#include "ottl_int.h"

/* FNV-1a, 64 bits (draft-eastlake-fnv): xor the byte in, then multiply by the prime. */
uint64_t ottl_hash_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* One 32-bit input word scrambled before it is mixed into the state. */
static uint32_t murmur3_scramble(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = rotl32(k, 15);
    return k * 0x1b873593u;
}

/* MurmurHash3 x86_32: 4-byte little-endian blocks, then the 1-3 tail bytes, then the
 * length and the final avalanche (fmix32). */
uint32_t ottl_hash_murmur3_32(const void *data, size_t n, uint32_t seed)
{
    const unsigned char *p = data;
    uint32_t h = seed;
    size_t blocks = n / 4;
    for (size_t i = 0; i < blocks; i++, p += 4) {
        uint32_t k = kt_get_le32(p);
        h ^= murmur3_scramble(k);
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    uint32_t k = 0;
    switch (n & 3) {
    case 3: k ^= (uint32_t)p[2] << 16; /* fall through */
    case 2: k ^= (uint32_t)p[1] << 8;  /* fall through */
    case 1:
        k ^= p[0];
        h ^= murmur3_scramble(k);
        break;
    default: break;
    }
    h ^= (uint32_t)n;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}
