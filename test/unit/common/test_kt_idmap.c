/* Unit tests for kt_idmap: the map against a plain array searched linearly, through growth,
 * removal in every order the runs allow, reset and generation wrap, with IDs that differ
 * only in a few bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_err.h"
#include "kt_idmap.h"

/* A record as the users keep them: the ID first, other fields after it. */
struct rec {
    uint8_t id[16];
    uint32_t payload;
    int live;
};

#define STRIDE sizeof(struct rec)

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rng_next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dULL;
}

/* IDs that differ only in bits 40..63 of their last eight bytes: the low bits of every
 * word are the same, so a hash that looked at low bits alone would put them all in one run. */
static void id_of(uint32_t n, uint8_t id[16])
{
    uint64_t a = 0x0102030405060708ULL, b = (uint64_t)n << 40;
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}

/* Every live record is found at its index, and IDs not in the map are not. */
static void check_all(const struct kt_idmap *m, const struct rec *r, uint32_t n)
{
    size_t live = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t got = kt_idmap_find(m, r, STRIDE, r[i].id);
        if (r[i].live) {
            live++;
            assert_int_equal(got, i);
        } else {
            assert_int_equal(got, KT_IDMAP_NONE);
        }
    }
    assert_int_equal(m->count, live);
}

static size_t longest_run(const struct kt_idmap *m)
{
    size_t best = 0, run = 0;
    for (size_t i = 0; i <= 2 * m->mask + 1; i++) {
        if (m->slot[i & m->mask].gen == m->gen) {
            if (++run > best)
                best = run;
        } else {
            run = 0;
        }
    }
    return best;
}

static void test_insert_find_remove(void **state)
{
    (void)state;
    struct kt_idmap m;
    kt_idmap_init(&m);
    struct rec r[3] = {0};
    for (uint32_t i = 0; i < 3; i++)
        id_of(i, r[i].id);
    assert_int_equal(kt_idmap_find(&m, r, STRIDE, r[0].id), KT_IDMAP_NONE);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(kt_idmap_reserve(&m, r, STRIDE, 1), 0);
        kt_idmap_put(&m, r, STRIDE, i);
        r[i].live = 1;
    }
    check_all(&m, r, 3);
    kt_idmap_remove(&m, r, STRIDE, 1);
    r[1].live = 0;
    check_all(&m, r, 3);
    kt_idmap_free(&m);
    assert_null(m.slot);
    assert_int_equal(m.count, 0);
}

static void test_growth_keeps_every_entry_while_records_move(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct kt_idmap m;
    kt_idmap_init(&m);
    struct rec *r = NULL;
    for (uint32_t i = 0; i < N; i++) {
        /* The records move as they grow: the map reads IDs only through the base it is given. */
        if ((i & (i - 1)) == 0) {
            struct rec *nr = realloc(r, (size_t)(i ? 2 * i : 1) * sizeof(*r));
            assert_non_null(nr);
            r = nr;
        }
        memset(&r[i], 0, sizeof(r[i]));
        id_of(i, r[i].id);
        assert_int_equal(kt_idmap_reserve(&m, r, STRIDE, 1), 0);
        kt_idmap_put(&m, r, STRIDE, i);
        r[i].live = 1;
        assert_true(m.count * 4 <= (m.mask + 1) * 3);
    }
    check_all(&m, r, N);
    /* The IDs differ only in high bits, yet they spread: no run anywhere near N long. */
    assert_true(longest_run(&m) < 1000);
    kt_idmap_free(&m);
    free(r);
}

/* A table kept at 16 slots and 3/4 full while IDs come and go at random, checked after each
 * step: the backward shift of kt_idmap_remove meets wrapped runs and runs of every length. */
static void test_random_insert_remove_against_reference(void **state)
{
    (void)state;
    enum { POOL = 40, STEPS = 20000, MAX_LIVE = 12 };
    struct rec r[POOL];
    memset(r, 0, sizeof(r));
    for (uint32_t i = 0; i < POOL; i++)
        id_of(i * 7919u, r[i].id);
    struct kt_idmap m;
    kt_idmap_init(&m);
    assert_int_equal(kt_idmap_reserve(&m, r, STRIDE, MAX_LIVE), 0);
    assert_int_equal(m.mask + 1, 16);
    size_t live = 0;
    for (int step = 0; step < STEPS; step++) {
        uint32_t i = (uint32_t)(rng_next() % POOL);
        if (r[i].live) {
            kt_idmap_remove(&m, r, STRIDE, i);
            r[i].live = 0;
            live--;
        } else if (live < MAX_LIVE) {
            assert_int_equal(kt_idmap_reserve(&m, r, STRIDE, 1), 0);
            kt_idmap_put(&m, r, STRIDE, i);
            r[i].live = 1;
            live++;
        }
        assert_int_equal(m.mask + 1, 16);
        check_all(&m, r, POOL);
    }
    kt_idmap_free(&m);
}

static void test_find_or_put_returns_the_first_index_of_an_id(void **state)
{
    (void)state;
    /* As a splitter groups a message's spans: records are added in order of first sight. */
    uint32_t seq[] = {5, 9, 5, 5, 2, 9, 7, 2};
    enum { N = sizeof(seq) / sizeof(seq[0]) };
    struct rec groups[N];
    uint32_t n_groups = 0;
    uint32_t want[N] = {0, 1, 0, 0, 2, 1, 3, 2};
    struct kt_idmap m;
    kt_idmap_init(&m);
    for (size_t k = 0; k < N; k++) {
        uint8_t id[16];
        id_of(seq[k], id);
        assert_int_equal(kt_idmap_reserve(&m, groups, STRIDE, 1), 0);
        uint32_t g = kt_idmap_find_or_put(&m, groups, STRIDE, id, n_groups);
        if (g == n_groups)
            memcpy(groups[n_groups++].id, id, 16);
        assert_int_equal(g, want[k]);
    }
    assert_int_equal(n_groups, 4);
    assert_int_equal(m.count, 4);
    kt_idmap_free(&m);
}

static void test_reset_empties_without_freeing_and_survives_generation_wrap(void **state)
{
    (void)state;
    enum { N = 50 };
    struct rec r[N];
    memset(r, 0, sizeof(r));
    struct kt_idmap m;
    kt_idmap_init(&m);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < N; i++) {
            id_of(i + (uint32_t)round * N, r[i].id);
            assert_int_equal(kt_idmap_reserve(&m, r, STRIDE, 1), 0);
            kt_idmap_put(&m, r, STRIDE, i);
            r[i].live = 1;
        }
        check_all(&m, r, N);
        const struct kt_idmap_slot *slots = m.slot;
        if (round == 1)
            m.gen = UINT32_MAX; /* the next reset wraps */
        kt_idmap_reset(&m);
        assert_ptr_equal(m.slot, slots);
        assert_int_not_equal(m.gen, 0);
        for (uint32_t i = 0; i < N; i++)
            r[i].live = 0;
        check_all(&m, r, N);
    }
    kt_idmap_free(&m);
}

static void test_keys_differ_between_maps(void **state)
{
    (void)state;
    struct kt_idmap a, b;
    kt_idmap_init(&a);
    kt_idmap_init(&b);
    assert_false(a.k0 == b.k0 && a.k1 == b.k1);
    assert_int_equal(kt_idmap_find(&a, NULL, STRIDE, (const uint8_t *)"0123456789abcdef"),
                     KT_IDMAP_NONE);
    kt_idmap_free(&a);
    kt_idmap_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_growth_keeps_every_entry_while_records_move),
        cmocka_unit_test(test_random_insert_remove_against_reference),
        cmocka_unit_test(test_find_or_put_returns_the_first_index_of_an_id),
        cmocka_unit_test(test_reset_empties_without_freeing_and_survives_generation_wrap),
        cmocka_unit_test(test_keys_differ_between_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
