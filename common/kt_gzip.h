/* kt_gzip: gzip/zlib inflation with a hard bound on the inflated size (so a small request
 * cannot expand into gigabytes: the "gzip bomb"), and deflation for clients. libdeflate
 * does the work in one call per buffer where it can; zlib inflates what it cannot take
 * whole (see kt_gzip.c) and words every error. */
#ifndef KT_GZIP_H
#define KT_GZIP_H

#include <stddef.h>

#include "kt_buf.h"
#include "kt_err.h"

/* Appends the inflation of in (gzip, or zlib/deflate when the gzip magic is absent) to
 * out. Returns 0, KT_ETOOBIG as soon as more than max_out bytes would be produced,
 * KT_EINVAL for corrupt or truncated data, KT_ENOMEM. */
int kt_gunzip(struct kt_slice in, size_t max_out, struct kt_buf *out, struct kt_err *err);

/* Appends the gzip compression of in at level (0-12: zlib's scale, slower past 9) to out.
 * Returns 0, KT_ENOMEM (an invalid level too) or KT_EIO. */
int kt_gzip(struct kt_slice in, int level, struct kt_buf *out, struct kt_err *err);

#endif
