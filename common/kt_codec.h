/* kt_codec: the digit values of hex and base64 text, shared by every decoder that reads
 * them (OTLP/JSON IDs and bytes, OTTL string escapes and span IDs, grpc-status-details). */
#ifndef KT_CODEC_H
#define KT_CODEC_H

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
