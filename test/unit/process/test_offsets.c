/* offsets: the watermark only ever covers a contiguous finished prefix, whatever the order
 * of finishing, the gaps, or the size of the pending span. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/offsets.h"
#include "kt_err.h"

static void test_empty(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    assert_int_equal(offsets_position(&t), -1);
    assert_int_equal(offsets_watermark(&t), -1);
    assert_int_equal(offsets_pending(&t), 0);
    assert_int_equal(offsets_finish(&t, 0), 0);
    assert_int_equal(offsets_finish(&t, 12345), 0);
    offsets_reset(&t);
    offsets_reset(&t);
}

static void test_in_order(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    for (int64_t o = 100; o < 110; o++)
        assert_int_equal(offsets_track(&t, o), 0);
    assert_int_equal(offsets_pending(&t), 10);
    /* The first pending offset is already worth storing: it pins a fresh group's position. */
    assert_int_equal(offsets_watermark(&t), 100);
    assert_int_equal(offsets_watermark(&t), -1);
    for (int64_t o = 100; o < 110; o++) {
        assert_int_equal(offsets_finish(&t, o), 1);
        assert_int_equal(offsets_position(&t), o + 1);
        assert_int_equal(offsets_watermark(&t), o + 1);
        assert_int_equal(offsets_watermark(&t), -1);
    }
    assert_int_equal(offsets_pending(&t), 0);
    offsets_reset(&t);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    for (int64_t o = 0; o < 8; o++)
        assert_int_equal(offsets_track(&t, o), 0);
    assert_int_equal(offsets_watermark(&t), 0);
    /* Finishing everything but the first commits nothing. */
    static const int64_t order[] = {7, 3, 5, 1, 6, 2, 4};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        assert_int_equal(offsets_finish(&t, order[i]), 1);
        assert_int_equal(offsets_position(&t), 0);
        assert_int_equal(offsets_watermark(&t), -1);
    }
    assert_int_equal(offsets_pending(&t), 1);
    assert_int_equal(offsets_finish(&t, 0), 1);
    assert_int_equal(offsets_watermark(&t), 8);
    assert_int_equal(offsets_pending(&t), 0);

    /* A hole in the middle holds the watermark at the hole. */
    for (int64_t o = 8; o < 16; o++)
        assert_int_equal(offsets_track(&t, o), 0);
    for (int64_t o = 8; o < 16; o++)
        if (o != 11)
            assert_int_equal(offsets_finish(&t, o), 1);
    assert_int_equal(offsets_watermark(&t), 11);
    assert_int_equal(offsets_finish(&t, 11), 1);
    assert_int_equal(offsets_watermark(&t), 16);
    offsets_reset(&t);
}

static void test_finish_unknown_ignored(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    assert_int_equal(offsets_track(&t, 10), 0);
    assert_int_equal(offsets_track(&t, 12), 0);
    assert_int_equal(offsets_finish(&t, 9), 0);  /* before the window */
    assert_int_equal(offsets_finish(&t, 11), 0); /* a gap */
    assert_int_equal(offsets_finish(&t, 13), 0); /* not handed out yet */
    assert_int_equal(offsets_finish(&t, -1), 0);
    assert_int_equal(offsets_finish(&t, INT64_MAX), 0);
    assert_int_equal(offsets_pending(&t), 2);
    assert_int_equal(offsets_finish(&t, 12), 1);
    assert_int_equal(offsets_finish(&t, 12), 0); /* twice */
    assert_int_equal(offsets_pending(&t), 1);
    assert_int_equal(offsets_position(&t), 10);
    assert_int_equal(offsets_finish(&t, 10), 1);
    assert_int_equal(offsets_finish(&t, 10), 0);
    assert_int_equal(offsets_position(&t), 13);
    /* 13 may be tracked later and then finished normally. */
    assert_int_equal(offsets_track(&t, 13), 0);
    assert_int_equal(offsets_finish(&t, 13), 1);
    assert_int_equal(offsets_position(&t), 14);
    offsets_reset(&t);
}

static void test_track_must_increase(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    assert_int_equal(offsets_track(&t, -1), KT_EINVAL);
    assert_int_equal(offsets_track(&t, 5), 0);
    assert_int_equal(offsets_track(&t, 5), KT_EINVAL);
    assert_int_equal(offsets_track(&t, 4), KT_EINVAL);
    assert_int_equal(offsets_track(&t, INT64_MAX), KT_EINVAL);
    assert_int_equal(offsets_pending(&t), 1);
    assert_int_equal(offsets_next(&t), 6);
    offsets_reset(&t);
}

static void test_gaps(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    /* Transaction markers: every other offset is never seen. */
    for (int64_t o = 0; o < 20; o += 2)
        assert_int_equal(offsets_track(&t, o), 0);
    for (int64_t o = 18; o > 0; o -= 2)
        assert_int_equal(offsets_finish(&t, o), 1);
    assert_int_equal(offsets_position(&t), 0);
    assert_int_equal(offsets_finish(&t, 0), 1);
    /* One past the last tracked, not past the gap after it (19 may still come). */
    assert_int_equal(offsets_position(&t), 19);

    /* Compaction: jumps far beyond one block, with something pending before the jump. */
    assert_int_equal(offsets_track(&t, 100), 0);
    assert_int_equal(offsets_track(&t, 100 + 3 * OFFSETS_BLOCK_BITS), 0);
    assert_int_equal(offsets_track(&t, INT64_C(1) << 40), 0);
    assert_int_equal(offsets_track(&t, (INT64_C(1) << 40) + 1), 0);
    assert_true(t.n <= 3);
    assert_int_equal(offsets_finish(&t, (INT64_C(1) << 40) + 1), 1);
    assert_int_equal(offsets_finish(&t, 100 + 3 * OFFSETS_BLOCK_BITS), 1);
    assert_int_equal(offsets_position(&t), 100);
    assert_int_equal(offsets_finish(&t, 100), 1);
    assert_int_equal(offsets_position(&t), INT64_C(1) << 40);
    assert_int_equal(offsets_finish(&t, INT64_C(1) << 40), 1);
    assert_int_equal(offsets_position(&t), (INT64_C(1) << 40) + 2);
    assert_int_equal(offsets_watermark(&t), (INT64_C(1) << 40) + 2);
    assert_int_equal(offsets_pending(&t), 0);
    offsets_reset(&t);
}

static void test_block_boundaries(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    /* Starting mid-way so blocks do not align to multiples of their size. */
    int64_t base = 777;
    int64_t n = 3 * OFFSETS_BLOCK_BITS + 5;
    for (int64_t o = base; o < base + n; o++)
        assert_int_equal(offsets_track(&t, o), 0);
    /* Finish every block's last and first offsets, then the rest backwards. */
    for (int64_t o = base + n - 1; o >= base; o--)
        if (o != base)
            assert_int_equal(offsets_finish(&t, o), 1);
    assert_int_equal(offsets_position(&t), base);
    assert_int_equal(offsets_finish(&t, base), 1);
    assert_int_equal(offsets_position(&t), base + n);
    assert_int_equal(t.n, 1);
    offsets_reset(&t);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_huge_pending_span(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    enum { N = 1000000 };
    int64_t *order = malloc(N * sizeof(*order));
    assert_non_null(order);
    for (int64_t i = 0; i < N; i++) {
        assert_int_equal(offsets_track(&t, i), 0);
        order[i] = i;
    }
    assert_int_equal(offsets_pending(&t), N);
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = (size_t)(next_rand() % (i + 1));
        int64_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    /* A reference watermark, computed the slow way, checked at intervals. */
    unsigned char *done = calloc(N, 1);
    assert_non_null(done);
    int64_t ref = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(offsets_finish(&t, order[i]), 1);
        done[order[i]] = 1;
        while (ref < N && done[ref])
            ref++;
        if (i % 997 == 0 || i == N - 1)
            assert_int_equal(offsets_position(&t), ref);
    }
    assert_int_equal(offsets_position(&t), N);
    assert_int_equal(offsets_pending(&t), 0);
    free(done);
    free(order);
    offsets_reset(&t);
}

/* One stuck offset while a long stream passes behind it: the watermark stays put, memory
 * is bitmap-sized, and everything is released once it finishes. */
static void test_stuck_head(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    assert_int_equal(offsets_track(&t, 0), 0);
    for (int64_t o = 1; o < 200000; o++) {
        assert_int_equal(offsets_track(&t, o), 0);
        assert_int_equal(offsets_finish(&t, o), 1);
    }
    assert_int_equal(offsets_position(&t), 0);
    assert_int_equal(offsets_pending(&t), 1);
    assert_true(t.n <= 200000 / OFFSETS_BLOCK_BITS + 1);
    assert_int_equal(offsets_finish(&t, 0), 1);
    assert_int_equal(offsets_position(&t), 200000);
    assert_int_equal(t.n, 1);
    offsets_reset(&t);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    enum { N = 20000 };
    int64_t *offs = malloc(N * sizeof(*offs));
    unsigned char *state_of = calloc(N, 1); /* 1 pending, 2 finished */
    assert_non_null(offs);
    assert_non_null(state_of);
    int64_t o = 50;
    size_t tracked = 0, lowest = 0;
    for (int round = 0; round < 4 * N; round++) {
        if (tracked < N && next_rand() % 2 == 0) {
            /* Mostly contiguous, sometimes a gap, rarely a long one. */
            uint64_t r = next_rand() % 100;
            o += r < 80 ? 1 : r < 98 ? 2 + (int64_t)(r % 5) : 5000 + (int64_t)(r * 37);
            assert_int_equal(offsets_track(&t, o), 0);
            offs[tracked] = o;
            state_of[tracked++] = 1;
        } else if (tracked > 0) {
            size_t i = (size_t)(next_rand() % tracked);
            int expect = state_of[i] == 1;
            assert_int_equal(offsets_finish(&t, offs[i]), expect);
            state_of[i] = 2;
        }
        while (lowest < tracked && state_of[lowest] == 2)
            lowest++;
        int64_t want = tracked == 0 ? -1 : lowest < tracked ? offs[lowest] : offs[tracked - 1] + 1;
        assert_int_equal(offsets_position(&t), want);
    }
    free(offs);
    free(state_of);
    offsets_reset(&t);
}

static void test_reset_on_reassign(void **state)
{
    (void)state;
    struct offset_tracker t;
    offsets_init(&t);
    for (int64_t o = 0; o < 10; o++)
        assert_int_equal(offsets_track(&t, o), 0);
    assert_int_equal(offsets_finish(&t, 1), 1);
    assert_int_equal(offsets_watermark(&t), 0);
    /* Revoked with 0 pending: the state goes; the new owner starts over from the commit. */
    offsets_reset(&t);
    assert_int_equal(offsets_position(&t), -1);
    assert_int_equal(offsets_pending(&t), 0);
    assert_int_equal(offsets_finish(&t, 0), 0);
    /* Reassigned later at an older offset: tracking restarts there. */
    assert_int_equal(offsets_track(&t, 0), 0);
    assert_int_equal(offsets_watermark(&t), 0);
    assert_int_equal(offsets_finish(&t, 0), 1);
    assert_int_equal(offsets_watermark(&t), 1);
    offsets_reset(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_finish_unknown_ignored),
        cmocka_unit_test(test_track_must_increase),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_block_boundaries),
        cmocka_unit_test(test_huge_pending_span),
        cmocka_unit_test(test_stuck_head),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_reset_on_reassign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
