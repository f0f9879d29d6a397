/* Unit tests for kt_pb's kt_pb_short_pair: it takes exactly field 1 then at most field 2,
 * both length-delimited with a one-byte length, and gives what the field walk gives for
 * them; every other shape is left to the walk (false). Its halves, kt_pb_short_first and
 * kt_pb_short_second, take the key alone and then the rest; kt_pb_at_short, the one-byte
 * tag and length test under them, takes a field only inside its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_pb.h"

/* The payloads of fields 1 and 2 as the field walk finds them (the last of each). */
static void walk_pair(struct kt_slice s, struct kt_slice *a, struct kt_slice *b)
{
    struct kt_pb pb = kt_pb_of(s);
    struct kt_pb_field f;
    *a = *b = (struct kt_slice){NULL, 0};
    while (kt_pb_next(&pb, &f)) {
        if (f.num == 1 && f.wt == KT_PB_LEN)
            *a = f.bytes;
        if (f.num == 2 && f.wt == KT_PB_LEN)
            *b = f.bytes;
    }
    assert_ptr_equal(pb.p, pb.end);
}

static void test_short_pair_takes_key_and_value(void **state)
{
    (void)state;
    static const uint8_t both[] = {0x0a, 0x01, 'k', 0x12, 0x03, 0x0a, 0x01, 'v'};
    static const uint8_t key_only[] = {0x0a, 0x02, 'k', 'k'};
    static const uint8_t empty_both[] = {0x0a, 0x00, 0x12, 0x00};
    const struct kt_slice cases[] = {
        {both, sizeof(both)}, {key_only, sizeof(key_only)}, {empty_both, sizeof(empty_both)}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kt_slice a, b, wa, wb;
        if (!kt_pb_short_pair(cases[i], &a, &b))
            fail_msg("case %zu: refused", i);
        walk_pair(cases[i], &wa, &wb);
        assert_ptr_equal(a.p, wa.p);
        assert_int_equal(a.n, wa.n);
        assert_ptr_equal(b.p, wb.p);
        assert_int_equal(b.n, wb.n);
    }
}

static void test_short_pair_leaves_other_shapes(void **state)
{
    (void)state;
    static const uint8_t value_first[] = {0x12, 0x00, 0x0a, 0x01, 'k'};
    static const uint8_t value_twice[] = {0x0a, 0x01, 'k', 0x12, 0x00, 0x12, 0x00};
    static const uint8_t third_field[] = {0x0a, 0x01, 'k', 0x18, 0x01};
    static const uint8_t long_value[] = {0x0a, 0x01, 'k', 0x12, 0x80, 0x00};
    static const uint8_t value_short[] = {0x0a, 0x01, 'k', 0x12, 0x02, 'v'};
    static const uint8_t value_long[] = {0x0a, 0x01, 'k', 0x12, 0x00, 'v'};
    static const uint8_t key_cut[] = {0x0a, 0x03, 'k'};
    static const uint8_t key_varint[] = {0x08, 0x01};
    static const uint8_t one_byte[] = {0x0a};
    const struct kt_slice cases[] = {
        {value_first, sizeof(value_first)}, {value_twice, sizeof(value_twice)},
        {third_field, sizeof(third_field)}, {long_value, sizeof(long_value)},
        {value_short, sizeof(value_short)}, {value_long, sizeof(value_long)},
        {key_cut, sizeof(key_cut)},         {key_varint, sizeof(key_varint)},
        {one_byte, sizeof(one_byte)},       {one_byte, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kt_slice a, b;
        if (kt_pb_short_pair(cases[i], &a, &b))
            fail_msg("case %zu: taken", i);
    }
}

static void test_short_first_reads_the_key_alone(void **state)
{
    (void)state;
    /* A usual key with anything after it: the first half takes the key, the second refuses. */
    static const uint8_t value_twice[] = {0x0a, 0x01, 'k', 0x12, 0x00, 0x12, 0x00};
    static const uint8_t third_field[] = {0x0a, 0x01, 'k', 0x18, 0x01};
    static const uint8_t long_value[] = {0x0a, 0x01, 'k', 0x12, 0x80, 0x00};
    static const uint8_t value_short[] = {0x0a, 0x01, 'k', 0x12, 0x02, 'v'};
    static const uint8_t value_long[] = {0x0a, 0x01, 'k', 0x12, 0x00, 'v'};
    static const uint8_t half_tag[] = {0x0a, 0x01, 'k', 0x12};
    const struct kt_slice rest_refused[] = {
        {value_twice, sizeof(value_twice)}, {third_field, sizeof(third_field)},
        {long_value, sizeof(long_value)},   {value_short, sizeof(value_short)},
        {value_long, sizeof(value_long)},   {half_tag, sizeof(half_tag)},
    };
    for (size_t i = 0; i < sizeof(rest_refused) / sizeof(rest_refused[0]); i++) {
        struct kt_slice a = {NULL, 0}, b;
        if (!kt_pb_short_first(rest_refused[i], &a))
            fail_msg("case %zu: key refused", i);
        assert_ptr_equal(a.p, rest_refused[i].p + 2);
        assert_int_equal(a.n, 1);
        if (kt_pb_short_second(rest_refused[i], a, &b))
            fail_msg("case %zu: rest taken", i);
    }
    /* No usual key first: refused before the rest is looked at. */
    static const uint8_t value_first[] = {0x12, 0x00, 0x0a, 0x01, 'k'};
    static const uint8_t key_cut[] = {0x0a, 0x03, 'k'};
    static const uint8_t key_long[] = {0x0a, 0x80, 0x01, 'k'};
    static const uint8_t one_byte[] = {0x0a};
    const struct kt_slice key_refused[] = {
        {value_first, sizeof(value_first)},
        {key_cut, sizeof(key_cut)},
        {key_long, sizeof(key_long)},
        {one_byte, sizeof(one_byte)},
        {one_byte, 0},
    };
    for (size_t i = 0; i < sizeof(key_refused) / sizeof(key_refused[0]); i++) {
        struct kt_slice a;
        if (kt_pb_short_first(key_refused[i], &a))
            fail_msg("case %zu: key taken", i);
    }
    /* The key alone, or an empty value: the second half gives the value or none. */
    static const uint8_t key_only[] = {0x0a, 0x01, 'k'};
    static const uint8_t empty_value[] = {0x0a, 0x01, 'k', 0x12, 0x00};
    struct kt_slice a = {NULL, 0}, b;
    assert_true(kt_pb_short_first((struct kt_slice){key_only, sizeof(key_only)}, &a));
    assert_true(kt_pb_short_second((struct kt_slice){key_only, sizeof(key_only)}, a, &b));
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    assert_true(kt_pb_short_first((struct kt_slice){empty_value, sizeof(empty_value)}, &a));
    assert_true(kt_pb_short_second((struct kt_slice){empty_value, sizeof(empty_value)}, a, &b));
    assert_ptr_equal(b.p, empty_value + 5);
    assert_int_equal(b.n, 0);
}

/* kt_pb_at_short takes a field of the tag asked with a one-byte length whose payload ends
 * by end, exactly up to end included, and nothing else. */
static void test_at_short_only_inside_end(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x4a, 3, 'a', 'b', 'c', 0x4a, 0x80, 0x01};
    assert_true(kt_pb_at_short(b, b + 5, 0x4a));      /* the payload ends at end */
    assert_true(kt_pb_at_short(b, b + 8, 0x4a));      /* and before it */
    assert_false(kt_pb_at_short(b, b + 4, 0x4a));     /* one byte of it past end */
    assert_false(kt_pb_at_short(b, b + 5, 0x2a));     /* another tag */
    assert_false(kt_pb_at_short(b, b + 1, 0x4a));     /* no room for the length */
    assert_false(kt_pb_at_short(b + 5, b + 8, 0x4a)); /* a two-byte length */
    assert_false(kt_pb_at_short(b + 8, b + 8, 0x4a)); /* nothing left */
}

/* A key's bytes may decode to key when they are key, or key then a NUL (protobuf-c cuts the C
 * string there); the length and the first byte alone rule the others out. */
static void test_key_may_be_by_length_and_first_byte(void **state)
{
    (void)state;
    static const uint8_t route[] = "http.route";
    static const uint8_t cut[] = {'h', 't', 't', 'p', '.', 'r', 'o', 'u', 't', 'e', 0, 'x'};
    static const uint8_t other[] = "xttp.route";
    assert_true(kt_pb_key_may_be((struct kt_slice){route, 10}, "http.route", 10));
    assert_true(kt_pb_key_may_be((struct kt_slice){cut, sizeof(cut)}, "http.route", 10));
    assert_false(kt_pb_key_may_be((struct kt_slice){other, 10}, "http.route", 10));
    assert_false(kt_pb_key_may_be((struct kt_slice){route, 9}, "http.route", 10));
    assert_false(kt_pb_key_may_be((struct kt_slice){route, 10}, "http.rout", 9));
    /* The empty key: any bytes that are empty or start with a NUL. */
    assert_true(kt_pb_key_may_be((struct kt_slice){route, 0}, "", 0));
    assert_true(kt_pb_key_may_be((struct kt_slice){cut + 10, 2}, "", 0));
    assert_false(kt_pb_key_may_be((struct kt_slice){route, 1}, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_pair_takes_key_and_value),
        cmocka_unit_test(test_short_pair_leaves_other_shapes),
        cmocka_unit_test(test_short_first_reads_the_key_alone),
        cmocka_unit_test(test_key_may_be_by_length_and_first_byte),
        cmocka_unit_test(test_at_short_only_inside_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
