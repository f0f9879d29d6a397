#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "kt_gzip.h"

/* A gzip member of n bytes of text, level 6, appended to z. */
static void gzip_of(const void *text, size_t n, struct kt_buf *z)
{
    struct kt_slice in = {text, n};
    assert_int_equal(kt_gzip(in, 6, z, NULL), 0);
}

static void test_gzip_round_trip(void **state)
{
    (void)state;
    const char text[] = "the quick brown fox jumps over the lazy dog, again and again";
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    gzip_of(text, sizeof(text), &z);
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
    gzip_of(data, sizeof(data), &z);
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
    gzip_of(text, sizeof(text), &z);
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

/* The trailer's size (ISIZE) sizes the one-call inflation; a wrong one, either way, must
 * still be refused as zlib refuses it, and never cut or pad the output. */
static void test_wrong_size_in_trailer_is_invalid(void **state)
{
    (void)state;
    const char text[] = "a body whose gzip trailer says another size";
    for (int delta = -1; delta <= 1; delta += 2) {
        struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
        gzip_of(text, sizeof(text), &z);
        z.p[z.len - 4] = (uint8_t)(z.p[z.len - 4] + delta);
        struct kt_err err = {0};
        assert_int_equal(kt_gunzip(kt_buf_slice(&z), 1024, &out, &err), KT_EINVAL);
        assert_int_equal(out.len, 0);
        assert_non_null(strstr(err.msg, "gzip"));
        kt_buf_free(&z);
        kt_buf_free(&out);
    }
}

/* Bytes after the member (a second member, or junk) are refused, not dropped. */
static void test_data_after_the_member_is_invalid(void **state)
{
    (void)state;
    const char text[] = "first member";
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    gzip_of(text, sizeof(text), &z);
    size_t one = z.len;
    gzip_of(text, sizeof(text), &z);
    struct kt_err err = {0};
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), 1024, &out, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "trailing data"));
    assert_int_equal(out.len, 0);
    z.len = one + 1;
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), 1024, &out, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "1 bytes of trailing data"));
    kt_buf_free(&z);
    kt_buf_free(&out);
}

/* RFC 1952's optional header checksum (FHCRC: the low 16 bits of the header's CRC32) is
 * checked: a right one is read, a wrong one refused, as zlib does. */
static void test_header_checksum_is_checked(void **state)
{
    (void)state;
    const char text[] = "a member whose header carries a checksum";
    struct kt_buf z = KT_BUF_INIT;
    gzip_of(text, sizeof(text), &z);
    for (int wrong = 0; wrong <= 1; wrong++) {
        struct kt_buf h = KT_BUF_INIT, out = KT_BUF_INIT;
        assert_int_equal(kt_buf_append(&h, z.p, 10), 0);
        h.p[3] |= 0x02;
        uint32_t crc = (uint32_t)crc32(0L, h.p, 10) ^ (uint32_t)wrong;
        uint8_t crc16[2] = {(uint8_t)crc, (uint8_t)(crc >> 8)};
        assert_int_equal(kt_buf_append(&h, crc16, 2), 0);
        assert_int_equal(kt_buf_append(&h, z.p + 10, z.len - 10), 0);
        struct kt_err err = {0};
        int rc = kt_gunzip(kt_buf_slice(&h), 1024, &out, &err);
        if (wrong) {
            assert_int_equal(rc, KT_EINVAL);
            assert_non_null(strstr(err.msg, "header crc mismatch"));
            assert_int_equal(out.len, 0);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(out.len, sizeof(text));
            assert_memory_equal(out.p, text, sizeof(text));
        }
        kt_buf_free(&h);
        kt_buf_free(&out);
    }
    kt_buf_free(&z);
}

/* Appends after what out holds, and inflates bodies of every size the same way. */
static void test_appends_and_inflates_large_bodies(void **state)
{
    (void)state;
    size_t n = 3u << 20;
    char *text = malloc(n);
    assert_non_null(text);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = (char)('a' + (x >> 16) % 7);
    }
    struct kt_buf z = KT_BUF_INIT, out = KT_BUF_INIT;
    gzip_of(text, n, &z);
    assert_int_equal(kt_buf_append(&out, "head", 4), 0);
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), n, &out, NULL), 0);
    assert_int_equal(out.len, 4 + n);
    assert_memory_equal(out.p, "head", 4);
    assert_memory_equal(out.p + 4, text, n);
    free(text);
    kt_buf_free(&z);
    kt_buf_free(&out);
}

/* What kt_gzip writes is plain gzip: zlib, which every backend's HTTP stack is or reads
 * like, inflates it, at every level. */
static void test_gzip_output_is_read_by_zlib(void **state)
{
    (void)state;
    const char text[] = "resourceSpans scopeSpans spans spans spans attributes attributes";
    for (int level = 0; level <= 12; level += 3) {
        struct kt_buf z = KT_BUF_INIT;
        struct kt_slice in = {(const uint8_t *)text, sizeof(text)};
        assert_int_equal(kt_gzip(in, level, &z, NULL), 0);
        uint8_t back[sizeof(text) + 16];
        z_stream zs = {0};
        assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
        zs.next_in = z.p;
        zs.avail_in = (uInt)z.len;
        zs.next_out = back;
        zs.avail_out = sizeof(back);
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        assert_int_equal(zs.total_out, sizeof(text));
        assert_int_equal(zs.avail_in, 0);
        inflateEnd(&zs);
        assert_memory_equal(back, text, sizeof(text));
        kt_buf_free(&z);
    }
    struct kt_buf z = KT_BUF_INIT;
    struct kt_err err = {0};
    struct kt_slice empty = {NULL, 0};
    assert_int_equal(kt_gzip(empty, 13, &z, &err), KT_ENOMEM);
    assert_non_null(strstr(err.msg, "level 13"));
    assert_int_equal(kt_gzip(empty, 1, &z, NULL), 0);
    struct kt_buf out = KT_BUF_INIT;
    assert_int_equal(kt_gunzip(kt_buf_slice(&z), 16, &out, NULL), 0);
    assert_int_equal(out.len, 0);
    kt_buf_free(&z);
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
        cmocka_unit_test(test_wrong_size_in_trailer_is_invalid),
        cmocka_unit_test(test_data_after_the_member_is_invalid),
        cmocka_unit_test(test_header_checksum_is_checked),
        cmocka_unit_test(test_appends_and_inflates_large_bodies),
        cmocka_unit_test(test_gzip_output_is_read_by_zlib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
