/* Unit tests for kt_arena: kt_arena_alloc hands out aligned, disjoint memory within a block
 * and across blocks; 0 bytes get a pointer, a size near SIZE_MAX gets NULL and marks the
 * arena failed; the caller's buffer is used first, and a reset starts over in the largest
 * block it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_arena.h"

static const size_t align = _Alignof(max_align_t);

static void assert_aligned(const void *p)
{
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % align, 0);
}

static void test_sizes_are_aligned_and_disjoint(void **state)
{
    (void)state;
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    /* Past the first block (16 KiB) and into the next ones: each piece filled, then checked. */
    enum { N = 3000 };
    unsigned char *p[N];
    size_t n[N];
    for (size_t i = 0; i < N; i++) {
        n[i] = 1 + (i * 7) % 40;
        p[i] = kt_arena_alloc(&a, n[i]);
        assert_aligned(p[i]);
        memset(p[i], (int)(i & 0xff), n[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < n[i]; j++)
            assert_int_equal(p[i][j], i & 0xff);
    assert_false(a.failed);
    kt_arena_free(&a);
}

static void test_zero_and_huge(void **state)
{
    (void)state;
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    void *z1 = kt_arena_alloc(&a, 0), *z2 = kt_arena_alloc(&a, 0);
    assert_aligned(z1);
    assert_aligned(z2);
    assert_ptr_not_equal(z1, z2);
    assert_false(a.failed);
    assert_null(kt_arena_alloc(&a, SIZE_MAX));
    assert_true(a.failed);
    a.failed = false;
    assert_null(kt_arena_alloc(&a, SIZE_MAX - align + 2)); /* rounds up past SIZE_MAX */
    assert_true(a.failed);
    kt_arena_free(&a);
}

static void test_callers_buffer_first_then_blocks(void **state)
{
    (void)state;
    max_align_t buf[8];
    struct kt_arena a;
    kt_arena_init(&a, buf, sizeof(buf));
    unsigned char *lo = (unsigned char *)buf, *hi = lo + sizeof(buf);
    unsigned char *first = kt_arena_alloc(&a, sizeof(buf) / 2);
    assert_true(first >= lo && first < hi);
    /* A large request (a quarter of the next block or more) gets a block of its own, and
     * what is left of the buffer is used after it. */
    unsigned char *big = kt_arena_alloc(&a, 8192);
    assert_aligned(big);
    assert_true(big + 8192 <= lo || big >= hi);
    unsigned char *after = kt_arena_alloc(&a, 1);
    assert_true(after >= first + sizeof(buf) / 2 && after < hi);
    /* A small one that does not fit what is left: the next block. */
    unsigned char *next = kt_arena_alloc(&a, sizeof(buf));
    assert_aligned(next);
    assert_true(next + sizeof(buf) <= lo || next >= hi);
    assert_false(a.failed);
    /* A reset keeps the largest block, which then serves first. */
    kt_arena_reset(&a);
    assert_ptr_equal(kt_arena_alloc(&a, 1), next);
    kt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_are_aligned_and_disjoint),
        cmocka_unit_test(test_zero_and_huge),
        cmocka_unit_test(test_callers_buffer_first_then_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
