#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "kt_gzip.h"

static void test_gzip_round_trip(void **state)
{
    (void)state;
    const char text[] = "the quick brown fox jumps over the lazy dog, again and again";
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    struct kt_slice in = {(const uint8_t *)text, sizeof(text)};
    assert_int_equal(kt_gzip(in, 6, &z, NULL), 0);
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), 1024, &out, NULL), 0);
    assert_int_equal(out.len, sizeof(text));
    assert_memory_equal(out.p, text, sizeof(text));
    kt_buf_free(&z);
    kt_buf_free(&out);
}

static void test_gzip_bomb_stops_at_the_bound(void **state)
{
    (void)state;
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    struct kt_slice in = {zeros, big};
    assert_int_equal(kt_gzip(in, 9, &z, NULL), 0);
    free(zeros);
    assert_true(z.len < 128 * 1024);
    struct kt_err err = {0};
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), 1u << 20, &out, &err), KT_ETOOBIG);
    assert_non_null(strstr(err.msg, "1048576"));
    /* Memory use stays near the bound, not the inflated size. */
    assert_true(out.cap <= (2u << 20));
    assert_int_equal(out.len, 0);
    kt_buf_free(&z);
    kt_buf_free(&out);
}

static void test_exact_fit_is_accepted(void **state)
{
    (void)state;
    uint8_t data[4096];
    memset(data, 'a', sizeof(data));
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    struct kt_slice in = {data, sizeof(data)};
    assert_int_equal(kt_gzip(in, 6, &z, NULL), 0);
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), sizeof(data), &out, NULL), 0);
    assert_int_equal(out.len, sizeof(data));
    kt_buf_reset(&out);
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), sizeof(data) - 1, &out, NULL), KT_ETOOBIG);
    kt_buf_free(&z);
    kt_buf_free(&out);
}

static void test_corrupt_and_truncated_input_are_invalid(void **state)
{
    (void)state;
    const char text[] = "some text that compresses";
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    struct kt_slice in = {(const uint8_t *)text, sizeof(text)};
    assert_int_equal(kt_gzip(in, 6, &z, NULL), 0);
    struct kt_err err = {0};
    struct kt_slice half = {z.p, z.len / 2};
    assert_int_equal(kt_gunzip(half, 1024, &out, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "truncated"));
    const uint8_t junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    struct kt_slice j = {junk, sizeof(junk)};
    assert_int_equal(kt_gunzip(j, 1024, &out, &err), KT_EINVAL);
    kt_buf_free(&z);
    kt_buf_free(&out);
}

static void test_zlib_deflate_stream_is_accepted(void **state)
{
    (void)state;
    const char text[] = "deflate, not gzip";
    uint8_t z[128];
    uLongf zl = sizeof(z);
    assert_int_equal(compress(z, &zl, (const Bytef *)text, sizeof(text)), Z_OK);
    struct kt_buf out = KT_BUF_INIT;
    struct kt_slice in = {z, zl};
    assert_int_equal(kt_gunzip(in, 1024, &out, NULL), 0);
    assert_memory_equal(out.p, text, sizeof(text));
    kt_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gzip_bomb_stops_at_the_bound),
        cmocka_unit_test(test_exact_fit_is_accepted),
        cmocka_unit_test(test_corrupt_and_truncated_input_are_invalid),
        cmocka_unit_test(test_zlib_deflate_stream_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
