/* kt_codec: hex and base64 digits, shared by every encoder and decoder that writes or reads
 * them (OTLP/JSON IDs, bytes and \u00XX escapes, Kafka message keys, OTTL string escapes and
 * span IDs, grpc-message percent-encoding, grpc-status-details), and the \xNN escaping of
 * untrusted text in messages. */
#ifndef KT_CODEC_H
#define KT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "kt_utf8.h"

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

/* The length of the base64 text of n bytes, padding included. */
static inline size_t kt_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Standard base64 with '=' padding (RFC 4648 section 4) of n bytes into out
 * (kt_base64_len(n) chars + NUL). */
static inline void kt_base64_encode(const uint8_t *p, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* s[0..n) made safe for a terminal: printable ASCII and valid UTF-8 from U+00A0 up are
 * copied; every other byte (C0 and C1 controls, DEL, bytes that break UTF-8) becomes \xNN,
 * so text quoted from a hostile file cannot move the cursor, recolour or retitle the
 * terminal. A backslash is copied as is: the escapes are for a reader, not a parser. Writes
 * at most cap - 1 bytes and a NUL (cap > 0), never cutting an escape or a character in two.
 * Returns how many bytes of s were written out, n when all of it. */
static inline size_t kt_escape_text(const char *s, size_t n, char *out, size_t cap)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t len = p[i] >= 0x20 && p[i] < 0x7f ? 1 : 0;
        /* U+0080..U+009F, the C1 controls, are C2 80..C2 9F. */
        if (p[i] >= 0x80 && !(p[i] == 0xc2 && i + 1 < n && p[i + 1] < 0xa0))
            len = kt_utf8_seq_len(p + i, n - i);
        size_t need = len > 0 ? len : 4;
        if (o + need >= cap)
            break;
        if (len > 0) {
            for (size_t k = 0; k < len; k++)
                out[o++] = (char)p[i + k];
            i += len;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = kt_hex_lower(p[i] >> 4);
        out[o++] = kt_hex_lower(p[i]);
        i++;
    }
    out[o] = '\0';
    return i;
}

#endif
