#include "spool_record.h"

#include <stdbool.h>
#include <string.h>

#include <zlib.h>

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* crc32 over the length field and the body, which zlib takes in pieces of at most UINT_MAX
 * bytes (a body is far below that: SPOOL_RECORD_MAX). */
static uint32_t record_crc(const uint8_t *len_field, const uint8_t *body, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, len_field, 4);
    c = crc32(c, body, (uInt)n);
    return (uint32_t)c;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint8_t *put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_bytes(uint8_t *p, struct kt_slice s)
{
    if (s.n > 0)
        memcpy(p, s.p, s.n);
    return p + s.n;
}

/* Bytes of the header part of the body (0 without a header). */
static size_t header_size(const struct spool_msg *m)
{
    return m->hdr_name.n > 0 ? 4 + m->hdr_name.n + m->hdr_value.n : 0;
}

size_t spool_record_size(const struct spool_msg *m)
{
    return SPOOL_RECORD_HDR + SPOOL_BODY_HDR + m->key.n + header_size(m) + m->value.n;
}

int spool_record_encode(const struct spool_msg *m, uint8_t *out, struct kt_err *err)
{
    if (m->key.n > UINT16_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a key of %zu bytes is over %u", m->key.n,
                          UINT16_MAX);
    bool has_hdr = m->hdr_name.n > 0;
    if (has_hdr && (m->hdr_name.n > UINT16_MAX || m->hdr_value.n > UINT16_MAX))
        return kt_err_set(err, KT_ETOOBIG,
                          "spool: a record header of %zu + %zu bytes has a field over %u",
                          m->hdr_name.n, m->hdr_value.n, UINT16_MAX);
    size_t body = SPOOL_BODY_HDR + m->key.n + header_size(m) + m->value.n;
    if (body > SPOOL_RECORD_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a message of %zu bytes is over %u", body,
                          SPOOL_RECORD_MAX);
    uint8_t *h = out, *b = out + SPOOL_RECORD_HDR;
    put_u32(h, (uint32_t)body);
    b[0] = (uint8_t)m->sig;
    b[1] = has_hdr ? SPOOL_FLAG_HEADER : 0;
    uint8_t *w = put_bytes(put_u16(b + 2, m->key.n), m->key);
    if (has_hdr) {
        w = put_bytes(put_u16(w, m->hdr_name.n), m->hdr_name);
        w = put_bytes(put_u16(w, m->hdr_value.n), m->hdr_value);
    }
    put_bytes(w, m->value);
    put_u32(h + 4, record_crc(h, b, body));
    return 0;
}

/* Takes a u16le length and that many bytes from [*p, end) into *out. False when they do not
 * fit. */
static bool take_field(const uint8_t **p, const uint8_t *end, struct kt_slice *out)
{
    if (end - *p < 2)
        return false;
    size_t n = get_u16(*p);
    if ((size_t)(end - *p) - 2 < n)
        return false;
    *out = (struct kt_slice){*p + 2, n};
    *p += 2 + n;
    return true;
}

int spool_record_total(const uint8_t *p, uint64_t *total, struct kt_err *err)
{
    uint32_t body = get_u32(p);
    if (body < SPOOL_BODY_HDR || body > SPOOL_RECORD_MAX)
        return kt_err_set(err, KT_EPROTO, "record length %u out of range", body);
    *total = SPOOL_RECORD_HDR + (uint64_t)body;
    return 0;
}

int spool_record_parse(const uint8_t *p, size_t n, struct spool_msg *m, size_t *used,
                       struct kt_err *err)
{
    if (n < SPOOL_RECORD_HDR)
        return kt_err_set(err, KT_EAGAIN, "record header cut short (%zu of %d bytes)", n,
                          SPOOL_RECORD_HDR);
    uint64_t total = 0;
    int rc = spool_record_total(p, &total, err);
    if (rc != 0)
        return rc;
    if (total > n)
        return kt_err_set(err, KT_EAGAIN, "record cut short (%zu of %llu bytes)", n,
                          (unsigned long long)total);
    const uint8_t *b = p + SPOOL_RECORD_HDR;
    size_t body = (size_t)total - SPOOL_RECORD_HDR;
    if (record_crc(p, b, body) != get_u32(p + 4))
        return kt_err_set(err, KT_EPROTO, "checksum mismatch");
    if (b[0] >= KT_SIGNAL_COUNT || (b[1] & ~SPOOL_FLAG_HEADER) != 0)
        return kt_err_set(err, KT_EPROTO, "unknown signal %u or flags %u", b[0], b[1]);
    const uint8_t *r = b + 2, *end = b + body;
    struct kt_slice key, name = {NULL, 0}, value = {NULL, 0};
    if (!take_field(&r, end, &key))
        return kt_err_set(err, KT_EPROTO, "key longer than the record");
    if (b[1] & SPOOL_FLAG_HEADER) {
        if (!take_field(&r, end, &name) || !take_field(&r, end, &value))
            return kt_err_set(err, KT_EPROTO, "record header longer than the record");
        /* An empty name means no header: the flag would not round-trip. */
        if (name.n == 0)
            return kt_err_set(err, KT_EPROTO, "record header with an empty name");
    }
    m->sig = (enum kt_signal)b[0];
    m->key = key;
    m->hdr_name = name;
    m->hdr_value = value;
    m->value = (struct kt_slice){r, (size_t)(end - r)};
    *used = (size_t)total;
    return 0;
}
