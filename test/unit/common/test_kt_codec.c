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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_digits_of_both_cases_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
