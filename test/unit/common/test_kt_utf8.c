/* kt_utf8: the ASCII shortcut agrees with the byte-by-byte check at every length and every
 * position of a non-ASCII byte, across the shortcut's word and 16-byte steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_utf8.h"

#define MAX_LEN 72

static void test_utf8_is_ascii_finds_a_high_byte_anywhere(void **state)
{
    (void)state;
    /* A byte of 0x80 on each side: a load reaching past either end of the string sees it
     * and turns the answer to false (and ASan reports one past the buffer). */
    uint8_t buf[MAX_LEN + 2];
    for (size_t n = 0; n <= MAX_LEN; n++) {
        memset(buf, 0x80, sizeof(buf));
        memset(buf + 1, 'a', n);
        if (!kt_utf8_is_ascii(buf + 1, n))
            fail_msg("%zu ASCII bytes not found ASCII", n);
        for (size_t pos = 0; pos < n; pos++) {
            buf[1 + pos] = 0xc3;
            if (kt_utf8_is_ascii(buf + 1, n))
                fail_msg("byte 0xc3 at %zu of %zu not found", pos, n);
            buf[1 + pos] = 0x7f;
            if (!kt_utf8_is_ascii(buf + 1, n))
                fail_msg("byte 0x7f at %zu of %zu taken for non-ASCII", pos, n);
            buf[1 + pos] = 'a';
        }
    }
}

static void test_utf8_valid_agrees_with_the_check(void **state)
{
    (void)state;
    uint8_t buf[MAX_LEN];
    static const uint8_t euro[] = {0xe2, 0x82, 0xac};
    for (size_t n = 0; n <= MAX_LEN; n++) {
        for (size_t pos = 0; pos + sizeof(euro) <= n; pos++) {
            memset(buf, 'z', n);
            memcpy(buf + pos, euro, sizeof(euro));
            assert_true(kt_utf8_valid(buf, n));
            assert_int_equal(kt_utf8_check(buf, n), n);
            buf[pos + 1] = 'z'; /* a lead byte without its continuation */
            assert_false(kt_utf8_valid(buf, n));
            assert_int_equal(kt_utf8_check(buf, n), pos);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_is_ascii_finds_a_high_byte_anywhere),
        cmocka_unit_test(test_utf8_valid_agrees_with_the_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
