#include "kt_compress.h"

#include <pthread.h>
#include <snappy-c.h>
#include <string.h>
#include <strings.h>
#include <zstd.h>

#include "kt_endian.h"
#include "kt_gzip.h"

/* Speed over ratio: compression runs on the hot path, and the backend is usually near. */
#define GZIP_LEVEL 1
#define ZSTD_LEVEL 1
/* The largest window a zstd answer may ask for (8 MiB, the default encoders' window). */
#define ZSTD_WINDOW_LOG_MAX 23
/* framing_format.txt: a chunk holds at most 65536 bytes of uncompressed data. */
#define SNAPPY_CHUNK 65536
#define SNAPPY_CHUNK_COMPRESSED 0x00
#define SNAPPY_CHUNK_UNCOMPRESSED 0x01
#define SNAPPY_CHUNK_PADDING 0xfe
#define SNAPPY_CHUNK_STREAM_ID 0xff

static const uint8_t snappy_stream_id[] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

int kt_compression_of(const char *coding, bool grpc)
{
    if (coding == NULL || coding[0] == '\0' || strcasecmp(coding, "identity") == 0)
        return KT_COMPRESS_NONE;
    if (strcasecmp(coding, "gzip") == 0)
        return KT_COMPRESS_GZIP;
    if (strcasecmp(coding, "zstd") == 0)
        return KT_COMPRESS_ZSTD;
    if (strcasecmp(coding, "snappy") == 0)
        return grpc ? KT_COMPRESS_SNAPPY_FRAMED : KT_COMPRESS_SNAPPY;
    if (strcasecmp(coding, "x-snappy-framed") == 0)
        return KT_COMPRESS_SNAPPY_FRAMED;
    return -1;
}

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1; /* reflected Castagnoli polynomial */
        crc_table[i] = c;
    }
}

uint32_t kt_crc32c(const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* framing_format.txt: the checksum stored is the CRC rotated and offset, so a CRC over data
 * that holds CRCs stays useful. */
static uint32_t snappy_masked_crc(const uint8_t *p, size_t n)
{
    uint32_t c = kt_crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void put_le24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

/* ---- compression ---- */

static int zstd_compress(struct kt_slice in, struct kt_buf *out, struct kt_err *err)
{
    size_t bound = ZSTD_compressBound(in.n);
    if (kt_buf_reserve(out, bound) != 0)
        return kt_err_set(err, KT_ENOMEM, "zstd: out of memory");
    size_t n = ZSTD_compress(out->p + out->len, bound, in.p, in.n, ZSTD_LEVEL);
    if (ZSTD_isError(n))
        return kt_err_set(err, KT_EIO, "zstd: %s", ZSTD_getErrorName(n));
    out->len += n;
    return 0;
}

static int snappy_block(struct kt_slice in, struct kt_buf *out, struct kt_err *err)
{
    size_t bound = snappy_max_compressed_length(in.n);
    if (kt_buf_reserve(out, bound) != 0)
        return kt_err_set(err, KT_ENOMEM, "snappy: out of memory");
    size_t n = bound;
    if (snappy_compress((const char *)in.p, in.n, (char *)out->p + out->len, &n) != SNAPPY_OK)
        return kt_err_set(err, KT_EIO, "snappy: compression failed");
    out->len += n;
    return 0;
}

static int snappy_framed(struct kt_slice in, struct kt_buf *out, struct kt_err *err)
{
    if (kt_buf_append(out, snappy_stream_id, sizeof(snappy_stream_id)) != 0)
        return kt_err_set(err, KT_ENOMEM, "snappy: out of memory");
    for (size_t off = 0; off < in.n; off += SNAPPY_CHUNK) {
        size_t n = in.n - off < SNAPPY_CHUNK ? in.n - off : SNAPPY_CHUNK;
        const uint8_t *src = in.p + off;
        size_t head = out->len;
        if (kt_buf_reserve(out, 8 + snappy_max_compressed_length(n)) != 0)
            return kt_err_set(err, KT_ENOMEM, "snappy: out of memory");
        uint8_t *h = out->p + head;
        size_t clen = snappy_max_compressed_length(n);
        if (snappy_compress((const char *)src, n, (char *)h + 8, &clen) != SNAPPY_OK)
            return kt_err_set(err, KT_EIO, "snappy: compression failed");
        /* Data that does not shrink goes as it is. */
        if (clen >= n) {
            memcpy(h + 8, src, n);
            clen = n;
            h[0] = SNAPPY_CHUNK_UNCOMPRESSED;
        } else {
            h[0] = SNAPPY_CHUNK_COMPRESSED;
        }
        put_le24(h + 1, clen + 4);
        kt_put_le32(h + 4, snappy_masked_crc(src, n));
        out->len = head + 8 + clen;
    }
    return 0;
}

int kt_compress(enum kt_compression c, struct kt_slice in, struct kt_buf *out, struct kt_err *err)
{
    size_t start = out->len;
    int rc;
    switch (c) {
    case KT_COMPRESS_GZIP: rc = kt_gzip(in, GZIP_LEVEL, out, err); break;
    case KT_COMPRESS_ZSTD: rc = zstd_compress(in, out, err); break;
    case KT_COMPRESS_SNAPPY: rc = snappy_block(in, out, err); break;
    case KT_COMPRESS_SNAPPY_FRAMED: rc = snappy_framed(in, out, err); break;
    default:
        rc = kt_buf_append(out, in.p, in.n) != 0 ? kt_err_set(err, KT_ENOMEM, "out of memory") : 0;
        break;
    }
    if (rc != 0)
        out->len = start;
    return rc;
}

/* ---- decompression ---- */

static int zstd_decompress(struct kt_slice in, size_t max_out, struct kt_buf *out,
                           struct kt_err *err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (d == NULL)
        return kt_err_set(err, KT_ENOMEM, "zstd: out of memory");
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
    ZSTD_inBuffer ib = {in.p, in.n, 0};
    size_t start = out->len;
    size_t left = 1; /* 0 once a frame ended with nothing more to flush */
    int rc = 0;
    while (ib.pos < ib.size || left != 0) {
        size_t produced = out->len - start;
        /* Room for one byte past the bound, so an exact fit is told from an overflow. */
        size_t room = max_out - produced + 1;
        if (room > 256 * 1024)
            room = 256 * 1024;
        if (kt_buf_reserve(out, room) != 0) {
            rc = kt_err_set(err, KT_ENOMEM, "zstd: out of memory");
            break;
        }
        ZSTD_outBuffer ob = {out->p + out->len, room, 0};
        size_t before = ib.pos;
        left = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(left)) {
            rc = kt_err_set(err, KT_EINVAL, "zstd: corrupt data (%s)", ZSTD_getErrorName(left));
            break;
        }
        out->len += ob.pos;
        if (out->len - start > max_out) {
            rc = kt_err_set(err, KT_ETOOBIG, "zstd body inflates past the limit of %zu bytes",
                            max_out);
            break;
        }
        if (left != 0 && ob.pos == 0 && ib.pos == before && ib.pos == ib.size) {
            rc = kt_err_set(err, KT_EINVAL, "zstd: truncated frame");
            break;
        }
    }
    ZSTD_freeDCtx(d);
    if (rc != 0)
        out->len = start;
    return rc;
}

static int snappy_unblock(struct kt_slice in, size_t max_out, struct kt_buf *out,
                          struct kt_err *err)
{
    size_t n = 0;
    if (snappy_uncompressed_length((const char *)in.p, in.n, &n) != SNAPPY_OK)
        return kt_err_set(err, KT_EINVAL, "snappy: corrupt block header");
    if (n > max_out)
        return kt_err_set(err, KT_ETOOBIG, "snappy body inflates past the limit of %zu bytes",
                          max_out);
    if (kt_buf_reserve(out, n) != 0)
        return kt_err_set(err, KT_ENOMEM, "snappy: out of memory");
    if (snappy_uncompress((const char *)in.p, in.n, (char *)out->p + out->len, &n) != SNAPPY_OK)
        return kt_err_set(err, KT_EINVAL, "snappy: corrupt block");
    out->len += n;
    return 0;
}

static int snappy_unframe(struct kt_slice in, size_t max_out, struct kt_buf *out,
                          struct kt_err *err)
{
    size_t start = out->len;
    size_t i = 0;
    bool seen_id = false;
    while (i < in.n) {
        if (in.n - i < 4)
            return kt_err_set(err, KT_EINVAL, "snappy: truncated chunk header");
        unsigned type = in.p[i];
        size_t len = (size_t)in.p[i + 1] | (size_t)in.p[i + 2] << 8 | (size_t)in.p[i + 3] << 16;
        i += 4;
        if (len > in.n - i)
            return kt_err_set(err, KT_EINVAL, "snappy: truncated chunk");
        const uint8_t *body = in.p + i;
        i += len;
        if (type == SNAPPY_CHUNK_STREAM_ID) {
            if (len != 6 || memcmp(body, snappy_stream_id + 4, 6) != 0)
                return kt_err_set(err, KT_EINVAL, "snappy: bad stream identifier");
            seen_id = true;
            continue;
        }
        if (!seen_id)
            return kt_err_set(err, KT_EINVAL, "snappy: no stream identifier");
        if (type >= 0x80) /* skippable, padding included */
            continue;
        if (type != SNAPPY_CHUNK_COMPRESSED && type != SNAPPY_CHUNK_UNCOMPRESSED)
            return kt_err_set(err, KT_EINVAL, "snappy: reserved chunk type 0x%02x", type);
        if (len < 4)
            return kt_err_set(err, KT_EINVAL, "snappy: chunk without checksum");
        uint32_t want = kt_get_le32(body);
        struct kt_slice data = {body + 4, len - 4};
        size_t at = out->len;
        int rc;
        if (type == SNAPPY_CHUNK_COMPRESSED) {
            rc = snappy_unblock(data, max_out - (at - start), out, err);
        } else if (data.n > max_out - (at - start)) {
            rc = kt_err_set(err, KT_ETOOBIG, "snappy body inflates past the limit of %zu bytes",
                            max_out);
        } else {
            rc = kt_buf_append(out, data.p, data.n) != 0
                     ? kt_err_set(err, KT_ENOMEM, "snappy: out of memory")
                     : 0;
        }
        if (rc == 0 && snappy_masked_crc(out->p + at, out->len - at) != want)
            rc = kt_err_set(err, KT_EINVAL, "snappy: checksum mismatch");
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kt_decompress(enum kt_compression c, struct kt_slice in, size_t max_out, struct kt_buf *out,
                  struct kt_err *err)
{
    size_t start = out->len;
    int rc;
    switch (c) {
    case KT_COMPRESS_GZIP: return kt_gunzip(in, max_out, out, err);
    case KT_COMPRESS_ZSTD: return zstd_decompress(in, max_out, out, err);
    case KT_COMPRESS_SNAPPY: rc = snappy_unblock(in, max_out, out, err); break;
    case KT_COMPRESS_SNAPPY_FRAMED: rc = snappy_unframe(in, max_out, out, err); break;
    default:
        if (in.n > max_out)
            return kt_err_set(err, KT_ETOOBIG, "body over the limit of %zu bytes", max_out);
        rc = kt_buf_append(out, in.p, in.n) != 0 ? kt_err_set(err, KT_ENOMEM, "out of memory") : 0;
        break;
    }
    if (rc != 0)
        out->len = start;
    return rc;
}
