/* kt_time: RFC 3339 in and out, offsets and fractions included, non-dates refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kt_err.h"
#include "kt_time.h"

/* 2026-11-20T10:00:00Z */
#define T0 INT64_C(1795168800000)

static void test_time_parse_reads_utc_offsets_and_milliseconds(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(kt_time_parse("2026-11-20T10:00:00Z", &ms), 0);
    assert_true(ms == T0);
    assert_int_equal(kt_time_parse("2026-11-20t10:00:00z", &ms), 0);
    assert_true(ms == T0);
    assert_int_equal(kt_time_parse("2026-11-20T11:00:00+01:00", &ms), 0);
    assert_true(ms == T0);
    assert_int_equal(kt_time_parse("2026-11-20T09:30:00-00:30", &ms), 0);
    assert_true(ms == T0);
    assert_int_equal(kt_time_parse("2026-11-20T10:00:00.25Z", &ms), 0);
    assert_true(ms == T0 + 250);
    assert_int_equal(kt_time_parse("2026-11-20T10:00:00.123456Z", &ms), 0);
    assert_true(ms == T0 + 123);
}

static void test_time_parse_refuses_what_is_not_a_time(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "yesterday",
        "2026-11-20",
        "2026-11-20T10:00:00",
        "2026-11-20 10:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T10:00:00.Z",
        "2026-11-20T10:00:00+1:00",
        "2026-11-20T10:00:00Zjunk",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 7;
        assert_int_equal(kt_time_parse(bad[i], &ms), KT_EINVAL);
        assert_true(ms == 7);
    }
}

static void test_time_format_is_utc_with_milliseconds_and_reads_back(void **state)
{
    (void)state;
    char buf[KT_TIME_MAX];
    kt_time_format(T0 + 250, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-20T10:00:00.250Z");
    kt_time_format(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    int64_t ms = 0;
    assert_int_equal(kt_time_parse("2026-11-20T10:00:00.250Z", &ms), 0);
    kt_time_format(ms, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-20T10:00:00.250Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse_reads_utc_offsets_and_milliseconds),
        cmocka_unit_test(test_time_parse_refuses_what_is_not_a_time),
        cmocka_unit_test(test_time_format_is_utc_with_milliseconds_and_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
