/* kt_codec: hex and base64 digits, shared by every encoder and decoder that writes or reads
 * them (OTLP/JSON IDs, bytes and \u00XX escapes, Kafka message keys, OTTL string escapes and
 * span IDs, grpc-message percent-encoding, grpc-status-details). */
#ifndef KT_CODEC_H
#define KT_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The hex digit of v's low four bits, lowercase / uppercase. */
static inline char kt_hex_lower(unsigned v)
{
    return "0123456789abcdef"[v & 15];
}

static inline char kt_hex_upper(unsigned v)
{
    return "0123456789ABCDEF"[v & 15];
}

/* Lowercase hex of n bytes into out (2n chars + NUL). */
static inline void kt_hex_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = kt_hex_lower(p[i] >> 4);
        out[2 * i + 1] = kt_hex_lower(p[i]);
    }
    out[2 * n] = '\0';
}

/* 0..15, or -1 when ch is not a hex digit (either case). */
static inline int kt_hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* 0..63 in the standard or the URL-safe alphabet (both are accepted wherever kotel reads
 * base64), or -1. */
static inline int kt_base64_digit(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

#endif
