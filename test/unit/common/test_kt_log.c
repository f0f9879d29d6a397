/* Unit tests for kt_log's rate limiter: the token bucket on a clock the test drives, and the
 * lines kt_log_limited writes to stderr; and the ring of recent warnings behind
 * kt_log_recent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_log.h"
#include "../test_capture.h"

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* The i-th line (from 0) of s, without the newline, into buf. */
static void nth_line(const char *s, size_t i, char *buf, size_t cap)
{
    for (; i > 0; i--) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    size_t n = strcspn(s, "\n");
    assert_true(n < cap);
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static void test_burst_goes_out_at_once_then_one_per_interval(void **state)
{
    (void)state;
    struct kt_log_limit l = KT_LOG_LIMIT(10.0, 3);
    uint64_t held = 99;
    for (int i = 0; i < 3; i++) {
        assert_true(kt_log_limit_take(&l, 1000.0, &held));
        assert_int_equal(held, 0);
    }
    assert_false(kt_log_limit_take(&l, 1000.0, &held));
    assert_false(kt_log_limit_take(&l, 1007.5, &held));
    /* One interval after the burst refills one token, not more. */
    assert_true(kt_log_limit_take(&l, 1010.0, &held));
    assert_int_equal(held, 2);
    assert_false(kt_log_limit_take(&l, 1010.0, &held));
    /* A long quiet time refills to the burst and no further. */
    for (int i = 0; i < 3; i++)
        assert_true(kt_log_limit_take(&l, 5000.0, &held));
    assert_false(kt_log_limit_take(&l, 5000.0, &held));
}

static void test_held_back_count_goes_to_the_next_line_only(void **state)
{
    (void)state;
    struct kt_log_limit l = KT_LOG_LIMIT(1.0, 1);
    uint64_t held = 0;
    assert_true(kt_log_limit_take(&l, 50.0, &held));
    for (int i = 0; i < 7; i++)
        assert_false(kt_log_limit_take(&l, 50.5, &held));
    assert_true(kt_log_limit_take(&l, 51.0, &held));
    assert_int_equal(held, 7);
    assert_true(kt_log_limit_take(&l, 52.0, &held));
    assert_int_equal(held, 0);
}

static void test_clock_going_back_refills_nothing(void **state)
{
    (void)state;
    struct kt_log_limit l = KT_LOG_LIMIT(1.0, 1);
    uint64_t held = 0;
    assert_true(kt_log_limit_take(&l, 100.0, &held));
    assert_false(kt_log_limit_take(&l, 10.0, &held));
    assert_false(kt_log_limit_take(&l, 100.5, &held));
    assert_true(kt_log_limit_take(&l, 101.0, &held));
    assert_int_equal(held, 2);
}

static void test_limited_lines_say_how_many_were_not_logged(void **state)
{
    (void)state;
    /* An hour per token: nothing refills while the test runs. */
    struct kt_log_limit l = KT_LOG_LIMIT(3600.0, 2);
    struct test_capture cap;
    test_capture_start(&cap);
    bool out[5];
    for (int i = 0; i < 5; i++)
        out[i] = kt_log_limited(&l, KT_LOG_WARN, "kafka: delivery failed: attempt %d", i);
    l.tokens = 1; /* as if an interval had passed */
    bool last = kt_log_limited(&l, KT_LOG_ERROR, "kafka: delivery failed: attempt %d", 5);
    test_capture_stop(&cap);

    assert_true(out[0] && out[1]);
    assert_false(out[2] || out[3] || out[4]);
    assert_true(last);
    assert_int_equal(count_lines(cap.err), 3);
    char line[512];
    nth_line(cap.err, 0, line, sizeof(line));
    assert_non_null(strstr(line, " WARN kafka: delivery failed: attempt 0"));
    assert_true(ends_with(line, "attempt 0"));
    nth_line(cap.err, 1, line, sizeof(line));
    assert_true(ends_with(line, " WARN kafka: delivery failed: attempt 1"));
    nth_line(cap.err, 2, line, sizeof(line));
    assert_true(ends_with(line, " ERROR kafka: delivery failed: attempt 5 (3 similar not logged)"));
    assert_string_equal(cap.out, "");
    test_capture_free(&cap);
}

static void test_level_below_minimum_leaves_limiter_alone(void **state)
{
    (void)state;
    struct kt_log_limit l = KT_LOG_LIMIT(3600.0, 1);
    struct test_capture cap;
    test_capture_start(&cap);
    bool dbg = kt_log_limited(&l, KT_LOG_DEBUG, "not at this level");
    bool warn = kt_log_limited(&l, KT_LOG_WARN, "first warning");
    test_capture_stop(&cap);
    assert_false(dbg);
    assert_true(warn);
    assert_int_equal(l.suppressed, 0);
    assert_int_equal(count_lines(cap.err), 1);
    assert_true(strstr(cap.err, "first warning\n") != NULL);
    test_capture_free(&cap);
}

/* The ring keeps warnings and errors only, as written (a rate-limited line once, with its
 * note), the newest KT_LOG_RECENT of them, oldest first. */
static void test_recent_keeps_the_newest_warnings_and_errors_as_written(void **state)
{
    (void)state;
    struct test_capture cap;
    test_capture_start(&cap);
    struct kt_log_limit l = KT_LOG_LIMIT(3600.0, 1);
    kt_info("an info line is not kept");
    for (int i = 0; i < KT_LOG_RECENT + 5; i++)
        kt_warn("warning %d", i);
    kt_log_limited(&l, KT_LOG_ERROR, "backend down");
    kt_log_limited(&l, KT_LOG_ERROR, "backend down"); /* held back: not kept */
    l.tokens = 1;
    kt_log_limited(&l, KT_LOG_ERROR, "backend down");
    test_capture_stop(&cap);
    test_capture_free(&cap);

    struct kt_log_line *lines = calloc(KT_LOG_RECENT + 1, sizeof(*lines));
    assert_non_null(lines);
    size_t n = kt_log_recent(lines, KT_LOG_RECENT + 1);
    assert_int_equal(n, KT_LOG_RECENT);
    /* 55 warnings and 2 errors written: the last 48 warnings, then the errors. */
    assert_string_equal(lines[0].text, "warning 7");
    assert_int_equal(lines[0].level, KT_LOG_WARN);
    assert_string_equal(lines[n - 3].text, "warning 54");
    assert_string_equal(lines[n - 2].text, "backend down");
    assert_int_equal(lines[n - 2].level, KT_LOG_ERROR);
    assert_string_equal(lines[n - 1].text, "backend down (1 similar not logged)");
    assert_int_equal(strlen(lines[0].at), strlen("2026-11-22T11:35:03.123Z"));
    assert_int_equal(lines[0].at[strlen(lines[0].at) - 1], 'Z');
    /* A smaller buffer gets the newest. */
    assert_int_equal(kt_log_recent(lines, 1), 1);
    assert_string_equal(lines[0].text, "backend down (1 similar not logged)");
    free(lines);
}

/* A long line is cut before a character that would not fit, and a line that is not UTF-8
 * is kept with '?' for its high bytes, so /status.json can carry every line. */
static void test_recent_lines_are_cut_whole_and_utf8(void **state)
{
    (void)state;
    char big[KT_LOG_RECENT_TEXT + 8];
    memset(big, 'a', KT_LOG_RECENT_TEXT - 2);
    /* "é" (2 bytes) straddles the end of the room: it is dropped whole. */
    memcpy(big + KT_LOG_RECENT_TEXT - 2, "\xc3\xa9tail", 7);
    struct test_capture cap;
    test_capture_start(&cap);
    kt_warn("%s", big);
    kt_warn("bad \xff byte");
    test_capture_stop(&cap);
    test_capture_free(&cap);
    struct kt_log_line lines[2];
    assert_int_equal(kt_log_recent(lines, 2), 2);
    assert_int_equal(strlen(lines[0].text), KT_LOG_RECENT_TEXT - 2);
    assert_int_equal(lines[0].text[KT_LOG_RECENT_TEXT - 3], 'a');
    assert_string_equal(lines[1].text, "bad ? byte");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_goes_out_at_once_then_one_per_interval),
        cmocka_unit_test(test_held_back_count_goes_to_the_next_line_only),
        cmocka_unit_test(test_clock_going_back_refills_nothing),
        cmocka_unit_test(test_limited_lines_say_how_many_were_not_logged),
        cmocka_unit_test(test_level_below_minimum_leaves_limiter_alone),
        cmocka_unit_test(test_recent_keeps_the_newest_warnings_and_errors_as_written),
        cmocka_unit_test(test_recent_lines_are_cut_whole_and_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
