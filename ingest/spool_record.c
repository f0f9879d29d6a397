#include "spool_record.h"

#include <stdbool.h>
#include <string.h>

#include <zlib.h>

#include "kt_endian.h"

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

bool spool_hdrs_next(struct kt_slice *rest, struct kt_slice *name, struct kt_slice *value)
{
    const uint8_t *p = rest->p, *end = rest->p + rest->n;
    if (rest->n == 0 || !take_field(&p, end, name) || name->n == 0 || !take_field(&p, end, value))
        return false;
    rest->n -= (size_t)(p - rest->p);
    rest->p = p;
    return true;
}

int spool_hdrs_add(struct kt_buf *b, struct kt_slice name, struct kt_slice value)
{
    uint8_t n[2], v[2];
    put_u16(n, name.n);
    put_u16(v, value.n);
    if (kt_buf_append(b, n, 2) != 0 || kt_buf_append(b, name.p, name.n) != 0 ||
        kt_buf_append(b, v, 2) != 0 || kt_buf_append(b, value.p, value.n) != 0)
        return KT_ENOMEM;
    return 0;
}

/* True when hdrs is exactly one pair: written as the old one-header form. */
static bool one_pair(struct kt_slice hdrs)
{
    struct kt_slice name, value;
    return spool_hdrs_next(&hdrs, &name, &value) && hdrs.n == 0;
}

/* Bytes of the header and topic parts of the body. */
static size_t extra_size(const struct spool_msg *m)
{
    size_t n = 0;
    if (m->hdrs.n > 0)
        n += m->hdrs.n + (one_pair(m->hdrs) ? 0 : 2);
    if (m->topic.n > 0)
        n += 2 + m->topic.n;
    return n;
}

size_t spool_record_size(const struct spool_msg *m)
{
    return SPOOL_RECORD_HDR + SPOOL_BODY_HDR + m->key.n + extra_size(m) + m->value.n;
}

int spool_record_encode(const struct spool_msg *m, uint8_t *out, struct kt_err *err)
{
    if (m->key.n > UINT16_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a key of %zu bytes is over %u", m->key.n,
                          UINT16_MAX);
    if (m->hdrs.n > UINT16_MAX || m->topic.n > UINT16_MAX)
        return kt_err_set(err, KT_ETOOBIG,
                          "spool: record headers of %zu bytes or a topic of %zu bytes over %u",
                          m->hdrs.n, m->topic.n, UINT16_MAX);
    bool one = m->hdrs.n > 0 && one_pair(m->hdrs);
    size_t body = SPOOL_BODY_HDR + m->key.n + extra_size(m) + m->value.n;
    if (body > SPOOL_RECORD_MAX)
        return kt_err_set(err, KT_ETOOBIG, "spool: a message of %zu bytes is over %u", body,
                          SPOOL_RECORD_MAX);
    uint8_t *h = out, *b = out + SPOOL_RECORD_HDR;
    kt_put_le32(h, (uint32_t)body);
    b[0] = (uint8_t)m->sig;
    b[1] =
        (uint8_t)((one ? SPOOL_FLAG_HEADER : 0) | (m->hdrs.n > 0 && !one ? SPOOL_FLAG_HEADERS : 0) |
                  (m->topic.n > 0 ? SPOOL_FLAG_TOPIC : 0));
    uint8_t *w = put_bytes(put_u16(b + 2, m->key.n), m->key);
    if (one)
        w = put_bytes(w, m->hdrs);
    else if (m->hdrs.n > 0)
        w = put_bytes(put_u16(w, m->hdrs.n), m->hdrs);
    if (m->topic.n > 0)
        w = put_bytes(put_u16(w, m->topic.n), m->topic);
    put_bytes(w, m->value);
    kt_put_le32(h + 4, record_crc(h, b, body));
    return 0;
}

int spool_record_total(const uint8_t *p, uint64_t *total, struct kt_err *err)
{
    uint32_t body = kt_get_le32(p);
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
    if (record_crc(p, b, body) != kt_get_le32(p + 4))
        return kt_err_set(err, KT_EPROTO, "checksum mismatch");
    const unsigned known = SPOOL_FLAG_HEADER | SPOOL_FLAG_HEADERS | SPOOL_FLAG_TOPIC;
    if (b[0] >= KT_SIGNAL_COUNT || (b[1] & ~known) != 0 ||
        (b[1] & (SPOOL_FLAG_HEADER | SPOOL_FLAG_HEADERS)) ==
            (SPOOL_FLAG_HEADER | SPOOL_FLAG_HEADERS))
        return kt_err_set(err, KT_EPROTO, "unknown signal %u or flags %u", b[0], b[1]);
    const uint8_t *r = b + 2, *end = b + body;
    struct kt_slice key, hdrs = {NULL, 0}, topic = {NULL, 0}, name, value;
    if (!take_field(&r, end, &key))
        return kt_err_set(err, KT_EPROTO, "key longer than the record");
    if (b[1] & SPOOL_FLAG_HEADER) {
        const uint8_t *h0 = r;
        /* An empty name means no header: the flag would not round-trip. */
        if (!take_field(&r, end, &name) || !take_field(&r, end, &value))
            return kt_err_set(err, KT_EPROTO, "record header longer than the record");
        if (name.n == 0)
            return kt_err_set(err, KT_EPROTO, "record header with an empty name");
        hdrs = (struct kt_slice){h0, (size_t)(r - h0)};
    } else if (b[1] & SPOOL_FLAG_HEADERS) {
        if (!take_field(&r, end, &hdrs) || hdrs.n == 0)
            return kt_err_set(err, KT_EPROTO, "record headers longer than the record, or none");
        struct kt_slice rest = hdrs;
        while (spool_hdrs_next(&rest, &name, &value))
            ;
        if (rest.n != 0)
            return kt_err_set(err, KT_EPROTO, "record headers cut short or with an empty name");
        /* One pair has its own form: the encoder never writes it this way. */
        if (one_pair(hdrs))
            return kt_err_set(err, KT_EPROTO, "one record header in the form for several");
    }
    if (b[1] & SPOOL_FLAG_TOPIC) {
        if (!take_field(&r, end, &topic) || topic.n == 0)
            return kt_err_set(err, KT_EPROTO, "topic longer than the record, or empty");
    }
    m->sig = (enum kt_signal)b[0];
    m->key = key;
    m->hdrs = hdrs;
    m->topic = topic;
    m->value = (struct kt_slice){r, (size_t)(end - r)};
    *used = (size_t)total;
    return 0;
}
