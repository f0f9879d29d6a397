/* Unit tests for kt_codec: hex digits both ways and the hex encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kt_codec.h"

static void test_hex_encode(void **state)
{
    (void)state;
    uint8_t b[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    kt_hex_encode(b, 4, out);
    assert_string_equal(out, "000fa5ff");
    kt_hex_encode(b, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_digits_of_both_cases_read_back(void **state)
{
    (void)state;
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    for (unsigned v = 0; v < 16; v++) {
        assert_int_equal(kt_hex_lower(v), lower[v]);
        assert_int_equal(kt_hex_upper(v), upper[v]);
        assert_int_equal(kt_hex_digit(kt_hex_lower(v)), v);
        assert_int_equal(kt_hex_digit(kt_hex_upper(v)), v);
        /* Only the low four bits count. */
        assert_int_equal(kt_hex_lower(0xf0 | v), lower[v]);
    }
    assert_int_equal(kt_hex_digit('g'), -1);
}

/* The test vectors of RFC 4648 section 10, and bytes that use the last two digits. */
static void test_base64_encode_matches_rfc4648(void **state)
{
    (void)state;
    static const char *const want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];
    for (size_t n = 0; n < sizeof(want) / sizeof(want[0]); n++) {
        assert_int_equal(kt_base64_len(n), strlen(want[n]));
        kt_base64_encode((const uint8_t *)"foobar", n, out);
        assert_string_equal(out, want[n]);
    }
    kt_base64_encode((const uint8_t *)"\xfb\xff\x01", 3, out);
    assert_string_equal(out, "+/8B");
}

static void test_escape_text_keeps_printable_text_and_escapes_the_rest(void **state)
{
    (void)state;
    char out[64];
    const char in[] = "a\x1b[1m\\ \xc3\xa9\xc2\x85\xff\x7f\n";
    assert_int_equal(kt_escape_text(in, sizeof(in) - 1, out, sizeof(out)), sizeof(in) - 1);
    assert_string_equal(out, "a\\x1b[1m\\ \xc3\xa9\\xc2\\x85\\xff\\x7f\\x0a");
    /* A cut never splits an escape or a character: "ab" fits in 4 bytes, "\x01" does not. */
    assert_int_equal(kt_escape_text("ab\x01", 3, out, 4), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(kt_escape_text("a\xc3\xa9", 3, out, 3), 1);
    assert_string_equal(out, "a");
    assert_int_equal(kt_escape_text("x", 1, out, 1), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_base64_encode_matches_rfc4648),
        cmocka_unit_test(test_hex_digits_of_both_cases_read_back),
        cmocka_unit_test(test_escape_text_keeps_printable_text_and_escapes_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
