/* ottl_hash: FNV-1a 64 and MurmurHash3 x86_32 against the published test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl_int.h"

static uint64_t fnv(const char *s)
{
    return ottl_hash_fnv1a64(s, strlen(s));
}

/* Vectors of the FNV reference test suite (draft-eastlake-fnv, FNV-1a 64). */
static void test_fnv1a64_matches_reference_vectors(void **state)
{
    (void)state;
    assert_true(fnv("") == 0xcbf29ce484222325u);
    assert_true(fnv("a") == 0xaf63dc4c8601ec8cu);
    assert_true(fnv("foobar") == 0x85944171f73967e8u);
}

static uint32_t mm(const char *s, uint32_t seed)
{
    return ottl_hash_murmur3_32(s, strlen(s), seed);
}

/* Vectors of the MurmurHash3 x86_32 reference (SMHasher); each tail length 0-3 is covered. */
static void test_murmur3_32_matches_reference_vectors(void **state)
{
    (void)state;
    assert_int_equal(mm("", 0), 0);
    assert_int_equal(mm("", 1), 0x514e28b7u);
    assert_int_equal(mm("", 0xffffffffu), 0x81f16f39u);
    assert_int_equal(mm("test", 0), 0xba6bd213u);
    assert_int_equal(mm("Hello, world!", 0), 0xc0363e43u);
    assert_int_equal(mm("hello", 0), 0x248bfa47u);
    assert_int_equal(mm("The quick brown fox jumps over the lazy dog", 0), 0x2e4ff723u);
    assert_int_equal(mm("aaa", 0x9747b28cu), 0x283e0130u);
    assert_int_equal(mm("aa", 0x9747b28cu), 0x5d211726u);
    assert_int_equal(mm("a", 0x9747b28cu), 0x7fa09ea6u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_matches_reference_vectors),
        cmocka_unit_test(test_murmur3_32_matches_reference_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
