/* kt_compress: the request body encodings an OTLP exporter sends (gzip through kt_gzip, zstd,
 * snappy as one block and as the snappy framing format), and their bounded decoding for the
 * answers that come back in them. */
#ifndef KT_COMPRESS_H
#define KT_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"

enum kt_compression {
    KT_COMPRESS_NONE = 0,
    KT_COMPRESS_GZIP,
    KT_COMPRESS_ZSTD,
    KT_COMPRESS_SNAPPY,        /* one raw snappy block */
    KT_COMPRESS_SNAPPY_FRAMED, /* google/snappy framing_format.txt, CRC-32C checked */
};

/* The encoding a content-coding names: HTTP Content-Encoding ("snappy" is a block) or, with
 * grpc, grpc-encoding ("snappy" is the framing format, as gRPC's snappy compressors write
 * it). "" and "identity" are KT_COMPRESS_NONE; -1 for one kotel does not read. */
int kt_compression_of(const char *coding, bool grpc);

/* Appends in, compressed, to out. Returns 0, KT_ENOMEM, KT_EIO (the library failed). */
int kt_compress(enum kt_compression c, struct kt_slice in, struct kt_buf *out, struct kt_err *err);

/* Appends the decompression of in to out. Returns 0, KT_ETOOBIG as soon as more than max_out
 * bytes would be produced, KT_EINVAL for corrupt or truncated data, KT_ENOMEM; out is left as
 * it was on an error. */
int kt_decompress(enum kt_compression c, struct kt_slice in, size_t max_out, struct kt_buf *out,
                  struct kt_err *err);

/* CRC-32C (Castagnoli) of n bytes, as the snappy framing format checks it. */
uint32_t kt_crc32c(const uint8_t *p, size_t n);

#endif
