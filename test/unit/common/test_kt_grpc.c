#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_grpc.h"

static struct kt_slice sl(const uint8_t *p, size_t n)
{
    struct kt_slice s = {p, n};
    return s;
}

static void test_frame_parse_returns_the_message(void **state)
{
    (void)state;
    struct kt_buf b = KT_BUF_INIT;
    assert_int_equal(kt_grpc_frame_prefix(&b, 3), 0);
    kt_buf_append(&b, "abc", 3);
    struct kt_slice msg;
    bool compressed = true;
    struct kt_err err = {0};
    assert_int_equal(kt_grpc_frame_parse(kt_buf_slice(&b), 100, &msg, &compressed, &err), 0);
    assert_false(compressed);
    assert_int_equal(msg.n, 3);
    assert_memory_equal(msg.p, "abc", 3);
    kt_buf_free(&b);
}

static void test_frame_parse_accepts_an_empty_message(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 0, 0, 0};
    struct kt_slice msg;
    bool c;
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 10, &msg, &c, NULL), 0);
    assert_int_equal(msg.n, 0);
}

static void test_frame_parse_reports_the_compressed_flag(void **state)
{
    (void)state;
    const uint8_t in[] = {1, 0, 0, 0, 1, 'x'};
    struct kt_slice msg;
    bool c = false;
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 10, &msg, &c, NULL), 0);
    assert_true(c);
}

static void test_truncated_frame_says_how_many_bytes_are_missing(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct kt_slice msg;
    bool c;
    struct kt_err err = {0};
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 1000, &msg, &c, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "prefix says 100 bytes, 10 present"));
}

static void test_short_prefix_is_invalid(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 0};
    struct kt_slice msg;
    bool c;
    struct kt_err err = {0};
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 1000, &msg, &c, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "truncated gRPC frame"));
}

static void test_message_over_limit_is_too_big(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 1, 0, 0};
    struct kt_slice msg;
    bool c;
    struct kt_err err = {0};
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 1000, &msg, &c, &err), KT_ETOOBIG);
    assert_non_null(strstr(err.msg, "65536"));
}

static void test_trailing_bytes_after_the_message_are_invalid(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 0, 0, 1, 'a', 0, 0};
    struct kt_slice msg;
    bool c;
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 1000, &msg, &c, NULL), KT_EINVAL);
}

static void test_bad_compressed_flag_is_invalid(void **state)
{
    (void)state;
    const uint8_t in[] = {7, 0, 0, 0, 0};
    struct kt_slice msg;
    bool c;
    assert_int_equal(kt_grpc_frame_parse(sl(in, sizeof(in)), 1000, &msg, &c, NULL), KT_EINVAL);
}

static void test_grpc_message_is_percent_encoded(void **state)
{
    (void)state;
    char out[64];
    kt_grpc_message_encode("bad 100% \xc3\xa9\n", out, sizeof(out));
    assert_string_equal(out, "bad 100%25 %C3%A9%0A");
}

static void test_grpc_message_encoding_truncates_safely(void **state)
{
    (void)state;
    /* An escape is never cut in half: with room for 4 characters "%25" does not fit. */
    char out[5];
    kt_grpc_message_encode("ab%cd", out, sizeof(out));
    assert_string_equal(out, "ab");
    char out6[6];
    kt_grpc_message_encode("ab%cd", out6, sizeof(out6));
    assert_string_equal(out6, "ab%25");
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(kt_grpc_status_name(KT_GRPC_UNAVAILABLE), "UNAVAILABLE");
    assert_string_equal(kt_grpc_status_name(KT_GRPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_parse_returns_the_message),
        cmocka_unit_test(test_frame_parse_accepts_an_empty_message),
        cmocka_unit_test(test_frame_parse_reports_the_compressed_flag),
        cmocka_unit_test(test_truncated_frame_says_how_many_bytes_are_missing),
        cmocka_unit_test(test_short_prefix_is_invalid),
        cmocka_unit_test(test_message_over_limit_is_too_big),
        cmocka_unit_test(test_trailing_bytes_after_the_message_are_invalid),
        cmocka_unit_test(test_bad_compressed_flag_is_invalid),
        cmocka_unit_test(test_grpc_message_is_percent_encoded),
        cmocka_unit_test(test_grpc_message_encoding_truncates_safely),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
