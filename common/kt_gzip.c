#include "kt_gzip.h"

#include <limits.h>
#include <zlib.h>

int kt_gunzip(struct kt_slice in, size_t max_out, struct kt_buf *out, struct kt_err *err)
{
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

int kt_gzip(struct kt_slice in, int level, struct kt_buf *out, struct kt_err *err)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return kt_err_set(err, KT_ENOMEM, "gzip: cannot initialise deflater");
    size_t bound = deflateBound(&zs, (uLong)in.n);
    int rc = kt_buf_reserve(out, bound);
    if (rc == 0) {
        zs.next_in = (Bytef *)in.p;
        zs.avail_in = (uInt)in.n;
        zs.next_out = out->p + out->len;
        zs.avail_out = (uInt)bound;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
            rc = kt_err_set(err, KT_EIO, "gzip: deflate did not finish");
        else
            out->len += bound - zs.avail_out;
    }
    deflateEnd(&zs);
    return rc;
}
