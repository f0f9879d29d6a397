#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_compress.h"

static const enum kt_compression all[] = {KT_COMPRESS_GZIP, KT_COMPRESS_ZSTD, KT_COMPRESS_SNAPPY,
                                          KT_COMPRESS_SNAPPY_FRAMED};
#define N_ALL (sizeof(all) / sizeof(all[0]))

/* Compressible but not trivial: a repeated sentence with a counter in it. */
static uint8_t *sample(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((size_t) "span name http.route /api/v1/items "[i % 35] + (i / 4096) % 3);
    return p;
}

static void test_every_encoding_round_trips_across_chunk_sizes(void **state)
{
    (void)state;
    /* 0, one byte, one snappy chunk exactly, one past it, several chunks. */
    static const size_t sizes[] = {0, 1, 65536, 65537, 300000};
    for (size_t k = 0; k < N_ALL; k++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            uint8_t *src = sample(sizes[s] + 1);
            struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
            struct kt_slice in = {src, sizes[s]};
            assert_int_equal(kt_compress(all[k], in, &z, NULL), 0);
            if (sizes[s] > 1000)
                assert_true(z.len < sizes[s] / 2);
            assert_int_equal(kt_decompress(all[k], kt_buf_slice(&z), sizes[s], &out, NULL), 0);
            assert_int_equal(out.len, sizes[s]);
            if (sizes[s] > 0)
                assert_memory_equal(out.p, src, sizes[s]);
            kt_buf_free(&z);
            kt_buf_free(&out);
            free(src);
        }
}

static void test_decompression_stops_at_the_bound(void **state)
{
    (void)state;
    size_t big = 4u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (size_t k = 0; k < N_ALL; k++) {
        struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
        assert_int_equal(kt_compress(all[k], (struct kt_slice){zeros, big}, &z, NULL), 0);
        struct kt_err err = {0};
        assert_int_equal(kt_decompress(all[k], kt_buf_slice(&z), big - 1, &out, &err), KT_ETOOBIG);
        assert_int_equal(out.len, 0);
        assert_int_equal(kt_decompress(all[k], kt_buf_slice(&z), big, &out, NULL), 0);
        assert_int_equal(out.len, big);
        kt_buf_free(&z);
        kt_buf_free(&out);
    }
    free(zeros);
}

static void test_crc32c_matches_the_check_value(void **state)
{
    (void)state;
    /* The CRC-32C check value of RFC 3720 / the CRC catalogue. */
    assert_int_equal(kt_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_snappy_frames_are_checked(void **state)
{
    (void)state;
    const char text[] = "tenant-a tenant-a tenant-a tenant-a";
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    struct kt_slice in = {(const uint8_t *)text, sizeof(text)};
    assert_int_equal(kt_compress(KT_COMPRESS_SNAPPY_FRAMED, in, &z, NULL), 0);
    /* The stream identifier, then a chunk whose checksum covers the uncompressed data. */
    assert_memory_equal(z.p, "\xff\x06\x00\x00sNaPpY", 10);
    z.p[14] ^= 1;
    struct kt_err err = {0};
    assert_int_equal(kt_decompress(KT_COMPRESS_SNAPPY_FRAMED, kt_buf_slice(&z), 1024, &out, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "checksum"));
    /* A block is not a framed stream. */
    kt_buf_reset(&z);
    assert_int_equal(kt_compress(KT_COMPRESS_SNAPPY, in, &z, NULL), 0);
    assert_int_equal(kt_decompress(KT_COMPRESS_SNAPPY_FRAMED, kt_buf_slice(&z), 1024, &out, NULL),
                     KT_EINVAL);
    /* Truncated zstd. */
    kt_buf_reset(&z);
    assert_int_equal(kt_compress(KT_COMPRESS_ZSTD, in, &z, NULL), 0);
    z.len -= 3;
    assert_int_equal(kt_decompress(KT_COMPRESS_ZSTD, kt_buf_slice(&z), 1024, &out, NULL),
                     KT_EINVAL);
    assert_int_equal(out.len, 0);
    kt_buf_free(&z);
    kt_buf_free(&out);
}

static void test_content_codings_name_the_collector_wire_forms(void **state)
{
    (void)state;
    assert_int_equal(kt_compression_of("snappy", false), KT_COMPRESS_SNAPPY);
    assert_int_equal(kt_compression_of("snappy", true), KT_COMPRESS_SNAPPY_FRAMED);
    assert_int_equal(kt_compression_of("x-snappy-framed", false), KT_COMPRESS_SNAPPY_FRAMED);
    assert_int_equal(kt_compression_of("ZSTD", false), KT_COMPRESS_ZSTD);
    assert_int_equal(kt_compression_of("gzip", true), KT_COMPRESS_GZIP);
    assert_int_equal(kt_compression_of("", true), KT_COMPRESS_NONE);
    assert_int_equal(kt_compression_of("identity", false), KT_COMPRESS_NONE);
    assert_int_equal(kt_compression_of("br", false), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_encoding_round_trips_across_chunk_sizes),
        cmocka_unit_test(test_decompression_stops_at_the_bound),
        cmocka_unit_test(test_crc32c_matches_the_check_value),
        cmocka_unit_test(test_snappy_frames_are_checked),
        cmocka_unit_test(test_content_codings_name_the_collector_wire_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
