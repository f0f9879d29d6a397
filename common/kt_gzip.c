#include "kt_gzip.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdbool.h>
#include <zlib.h>

#include "kt_endian.h"

/* The smallest gzip member: a 10-byte header, an empty deflate block, an 8-byte trailer. */
#define GZIP_MIN 18
/* RFC 1952: the header's flag byte, and its bit for a CRC16 of the header. */
#define GZIP_FLG 3
#define GZIP_FHCRC 0x02
#define DEFLATE_MAX_RATIO 1032

/* A gzip member inflated in one call by libdeflate, which takes about half of zlib's
 * instructions for the same bytes (whole buffers, no window copy). The trailer's ISIZE (the
 * size mod 2^32) sizes the output; the member must fill it exactly and take all of in.
 * Returns false, having appended nothing, for anything else (no gzip magic, a size past
 * max_out or none, a wrong size, trailing data, corrupt or truncated data, no memory): zlib
 * then inflates the body again, with the bound checked as it goes, and says what is wrong.
 * A header with a checksum (FHCRC) goes to zlib too: libdeflate skips that checksum, zlib
 * checks it. Only valid bodies within the bound pass here, so errors, and what a body
 * inflates to, are zlib's. */
static bool gunzip_whole(struct kt_slice in, size_t max_out, struct kt_buf *out)
{
    if (in.n < GZIP_MIN || in.p[0] != 0x1f || in.p[1] != 0x8b || (in.p[GZIP_FLG] & GZIP_FHCRC))
        return false;
    size_t isize = kt_get_le32(in.p + in.n - 4);
    /* DEFLATE expands at most 1032 times (a 258-byte match per bit or so): a larger ISIZE is
     * a lie, and is not reserved. */
    if (isize == 0 || isize > max_out || isize / DEFLATE_MAX_RATIO > in.n ||
        kt_buf_reserve(out, isize) != 0)
        return false;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (d == NULL)
        return false;
    size_t used = 0, got = 0;
    enum libdeflate_result r =
        libdeflate_gzip_decompress_ex(d, in.p, in.n, out->p + out->len, isize, &used, &got);
    libdeflate_free_decompressor(d);
    if (r != LIBDEFLATE_SUCCESS || used != in.n || got != isize)
        return false;
    out->len += got;
    return true;
}

int kt_gunzip(struct kt_slice in, size_t max_out, struct kt_buf *out, struct kt_err *err)
{
    if (gunzip_whole(in, max_out, out))
        return 0;
    z_stream zs = {0};
    /* 32+15: detect gzip or zlib headers automatically. */
    if (inflateInit2(&zs, 32 + 15) != Z_OK)
        return kt_err_set(err, KT_ENOMEM, "gzip: cannot initialise inflater");
    int rc = 0;
    size_t start = out->len;
    zs.next_in = (Bytef *)in.p;
    zs.avail_in = in.n > UINT_MAX ? UINT_MAX : (uInt)in.n;
    for (;;) {
        size_t produced = out->len - start;
        if (produced > max_out) {
            rc = kt_err_set(err, KT_ETOOBIG, "gzip body inflates past the limit of %zu bytes",
                            max_out);
            break;
        }
        /* Room for at most one byte past the bound so an exact fit is told apart from
         * an overflow. */
        size_t room = max_out - produced + 1;
        if (room > 256 * 1024)
            room = 256 * 1024;
        if ((rc = kt_buf_reserve(out, room)) != 0) {
            kt_err_set(err, rc, "gzip: out of memory");
            break;
        }
        zs.next_out = out->p + out->len;
        zs.avail_out = (uInt)room;
        int zr = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (out->len - start > max_out)
                rc = kt_err_set(err, KT_ETOOBIG, "gzip body inflates past the limit of %zu bytes",
                                max_out);
            else if (zs.avail_in != 0)
                rc = kt_err_set(err, KT_EINVAL, "gzip: %u bytes of trailing data after the stream",
                                zs.avail_in);
            break;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
            rc = kt_err_set(err, KT_EINVAL, "gzip: truncated stream");
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = kt_err_set(err, KT_EINVAL, "gzip: corrupt data (%s)", zs.msg ? zs.msg : "?");
            break;
        }
    }
    inflateEnd(&zs);
    if (rc != 0)
        out->len = start;
    return rc;
}

/* libdeflate: whole buffers in one call, at about half of zlib's CPU for the same level and
 * a slightly smaller output; [exporter] compression = gzip (the default) runs this per
 * export. */
int kt_gzip(struct kt_slice in, int level, struct kt_buf *out, struct kt_err *err)
{
    static const uint8_t none[1];
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    if (c == NULL)
        return kt_err_set(err, KT_ENOMEM, "gzip: cannot allocate a compressor of level %d", level);
    size_t bound = libdeflate_gzip_compress_bound(c, in.n);
    int rc = kt_buf_reserve(out, bound);
    if (rc != 0) {
        kt_err_set(err, rc, "gzip: out of memory");
    } else {
        size_t n =
            libdeflate_gzip_compress(c, in.n > 0 ? in.p : none, in.n, out->p + out->len, bound);
        if (n == 0)
            rc = kt_err_set(err, KT_EIO, "gzip: the output did not fit its bound");
        else
            out->len += n;
    }
    libdeflate_free_compressor(c);
    return rc;
}
