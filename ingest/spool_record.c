#include "spool_record.h"

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

size_t spool_record_size(const struct spool_msg *m)
{
    return SPOOL_RECORD_HDR + SPOOL_BODY_HDR + m->key.n + m->value.n;
}

int spool_record_encode(const struct spool_msg *m, uint8_t *out, struct kt_err *err)
{
    if (m->key.n > UINT16_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a key of %zu bytes is over %u", m->key.n,
                          UINT16_MAX);
    size_t body = SPOOL_BODY_HDR + m->key.n + m->value.n;
    if (body > SPOOL_RECORD_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a message of %zu bytes is over %u", body,
                          SPOOL_RECORD_MAX);
    uint8_t *h = out, *b = out + SPOOL_RECORD_HDR;
    put_u32(h, (uint32_t)body);
    b[0] = (uint8_t)m->sig;
    b[1] = 0;
    b[2] = (uint8_t)m->key.n;
    b[3] = (uint8_t)(m->key.n >> 8);
    if (m->key.n > 0)
        memcpy(b + SPOOL_BODY_HDR, m->key.p, m->key.n);
    if (m->value.n > 0)
        memcpy(b + SPOOL_BODY_HDR + m->key.n, m->value.p, m->value.n);
    put_u32(h + 4, record_crc(h, b, body));
    return 0;
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
    if (b[0] >= KT_SIGNAL_COUNT || b[1] != 0)
        return kt_err_set(err, KT_EPROTO, "unknown signal %u or flags %u", b[0], b[1]);
    size_t key_n = (size_t)b[2] | (size_t)b[3] << 8;
    if (key_n > body - SPOOL_BODY_HDR)
        return kt_err_set(err, KT_EPROTO, "key of %zu bytes longer than the record", key_n);
    m->sig = (enum kt_signal)b[0];
    m->key = (struct kt_slice){b + SPOOL_BODY_HDR, key_n};
    m->value = (struct kt_slice){b + SPOOL_BODY_HDR + key_n, body - SPOOL_BODY_HDR - key_n};
    *used = (size_t)total;
    return 0;
}
