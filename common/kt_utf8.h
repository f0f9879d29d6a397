/* kt_utf8: the one UTF-8 check of kotel (RFC 3629: no overlong forms, no surrogates, no
 * code points past U+10FFFF), for the OTLP validator and the OTLP/JSON writer. */
#ifndef KT_UTF8_H
#define KT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. n > 0. */
static inline size_t kt_utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    if (c < 0xe0)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
            return 0;
        return 3;
    }
    if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
        return 0;
    if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return 4;
}

/* Writes code point cp (at most U+10FFFF) as UTF-8 into o (room for 4 bytes); returns the
 * bytes written. */
static inline size_t kt_utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* The code point at p and its length, as Go reads a string rune by rune: a byte that starts
 * no valid sequence is U+FFFD of length 1. n > 0. */
static inline size_t kt_utf8_get(const uint8_t *p, size_t n, uint32_t *cp)
{
    switch (kt_utf8_seq_len(p, n)) {
    case 1: *cp = p[0]; return 1;
    case 2: *cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f); return 2;
    case 3:
        *cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        return 3;
    case 4:
        *cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
              (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        return 4;
    default: *cp = 0xfffd; return 1;
    }
}

/* Index of the first byte that breaks UTF-8, or n when s is valid. */
size_t kt_utf8_check(const uint8_t *s, size_t n);

/* True when s is all ASCII. Overlapping word loads keep short strings (most attribute keys
 * and values) free of per-byte loops; longer ones are read 16 bytes per step, two words
 * whose high bits are tested once at the end. */
static inline bool kt_utf8_is_ascii(const uint8_t *s, size_t n)
{
    const uint64_t hi = 0x8080808080808080ULL;
    uint64_t a, b;
    if (n >= 16) {
        uint64_t acc = 0;
        for (size_t i = 0; i + 16 <= n; i += 16) {
            memcpy(&a, s + i, 8);
            memcpy(&b, s + i + 8, 8);
            acc |= a | b;
        }
        memcpy(&a, s + n - 16, 8);
        memcpy(&b, s + n - 8, 8);
        return ((acc | a | b) & hi) == 0;
    }
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        return ((a | b) & hi) == 0;
    }
    if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        return ((x | y) & 0x80808080u) == 0;
    }
    if (n == 0)
        return true;
    return ((s[0] | s[n / 2] | s[n - 1]) & 0x80) == 0;
}

/* Whether s is valid UTF-8. */
static inline bool kt_utf8_valid(const uint8_t *s, size_t n)
{
    return kt_utf8_is_ascii(s, n) || kt_utf8_check(s, n) == n;
}

#endif
