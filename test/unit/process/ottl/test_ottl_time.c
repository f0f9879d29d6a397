/* ottl_funcs_time.c and the time and duration values of ottl_eval.c: arithmetic and
 * comparisons, the time-typed paths, and the time converters, run as conditions and
 * statements on one span and one log record rebuilt for every test. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"
#include "ottl_eval_fixture.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;

static Span span;
static Event event;
static LogRecord rec;
static NumberDataPoint dp;

#define START 1700000000000000000ULL /* 2023-11-14T22:13:20Z, a Tuesday */

static const AnyValue *attr(const char *key)
{
    const KeyValue *kv = kv_find(span.attributes, span.n_attributes, key);
    if (kv == NULL)
        fail_msg("no attribute %s", key);
    return kv->value;
}

static const char *attr_str(const char *key)
{
    const AnyValue *v = attr(key);
    if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
        fail_msg("attribute %s is no string", key);
    return v->string_value;
}

static int64_t attr_int(const char *key)
{
    const AnyValue *v = attr(key);
    if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
        fail_msg("attribute %s is no int", key);
    return v->int_value;
}

/* Runs set(span.attributes["v"], expr) and gives the int or string it set. */
static int64_t int_of(const char *expr)
{
    char src[512];
    snprintf(src, sizeof(src), "set(span.attributes[\"v\"], %s)", expr);
    stmt(src);
    return attr_int("v");
}

static const char *str_of(const char *expr)
{
    char src[512];
    snprintf(src, sizeof(src), "set(span.attributes[\"v\"], %s)", expr);
    stmt(src);
    return attr_str("v");
}

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    span = sp;
    span.name = "GET /api/orders";
    span.start_time_unix_nano = START;
    span.end_time_unix_nano = START + 250000000;
    Event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    event = ev;
    event.time_unix_nano = START + 100000000;
    LogRecord lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    rec = lr;
    rec.time_unix_nano = START;
    NumberDataPoint p = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    dp = p;
    dp.time_unix_nano = START;
    dp.start_time_unix_nano = START - 10000000000ULL;
    struct ottl_tctx t = {
        .arena = &arena, .span = &span, .spanevent = &event, .datapoint = &dp.base, .log = &rec};
    tc = t;
    return 0;
}

static void test_time_minus_time_is_a_duration(void **state)
{
    (void)state;
    assert_int_equal(int_of("Nanoseconds(span.end_time - span.start_time)"), 250000000);
    assert_int_equal(int_of("Nanoseconds(span.start_time - span.end_time)"), -250000000);
    assert_true(cond("span.end_time - span.start_time == Duration(\"250ms\")"));
    assert_true(cond("span.end_time - span.start_time > Duration(\"100ms\")"));
    /* Go's Sub saturates where the difference overflows. */
    span.start_time_unix_nano = (uint64_t)INT64_MAX;
    span.end_time_unix_nano = (uint64_t)INT64_MIN;
    assert_int_equal(int_of("Nanoseconds(span.start_time - span.end_time)"), INT64_MAX);
    assert_int_equal(int_of("Nanoseconds(span.end_time - span.start_time)"), INT64_MIN);
}

static void test_time_and_duration_sums(void **state)
{
    (void)state;
    assert_int_equal(int_of("UnixNano(span.start_time + Duration(\"1h\"))"),
                     (int64_t)START + 3600000000000LL);
    assert_int_equal(int_of("UnixNano(Duration(\"1s\") + span.start_time)"),
                     (int64_t)START + 1000000000LL);
    assert_int_equal(int_of("UnixNano(span.start_time - Duration(\"1ms\"))"),
                     (int64_t)START - 1000000LL);
    assert_int_equal(int_of("Nanoseconds(Duration(\"1h\") - Duration(\"30m\"))"), 1800000000000LL);
    assert_int_equal(int_of("Nanoseconds(Duration(\"1s\") + Duration(\"1ns\"))"), 1000000001);
    /* A time keeps its zone through arithmetic. */
    assert_int_equal(int_of("Hour(Time(\"2024-01-01 10:00\", \"%Y-%m-%d %H:%M\", "
                            "\"Asia/Tokyo\") + Duration(\"1h\"))"),
                     11);
}

static void test_time_arithmetic_errors(void **state)
{
    (void)state;
    assert_non_null(strstr(cond_err("span.start_time + span.end_time == nil"), "time + time"));
    assert_non_null(strstr(cond_err("span.start_time * Duration(\"1s\") == nil"), "only '+'"));
    assert_non_null(
        strstr(cond_err("Duration(\"1s\") / Duration(\"1s\") == nil"), "only '+' and '-'"));
    assert_non_null(
        strstr(cond_err("Duration(\"1s\") - span.start_time == nil"), "duration - time"));
    assert_non_null(strstr(cond_err("span.start_time + 1 == nil"), "time + int"));
    assert_non_null(strstr(cond_err("1 + span.start_time == nil"), "int + time"));
    assert_non_null(strstr(cond_err("-span.start_time == nil"), "time"));
}

static void test_comparisons(void **state)
{
    (void)state;
    assert_true(cond("span.start_time < span.end_time"));
    assert_true(cond("span.start_time <= span.start_time"));
    assert_false(cond("span.start_time > span.end_time"));
    assert_true(cond("span.end_time >= span.start_time"));
    assert_true(cond("span.start_time == Unix(1700000000)"));
    assert_true(cond("span.start_time != span.end_time"));
    /* The same instant in another zone is equal. */
    assert_true(cond("Time(\"2023-11-14 17:13:20\", \"%Y-%m-%d %H:%M:%S\", "
                     "\"America/New_York\") == span.start_time"));
    assert_true(cond("Duration(\"1h\") == Duration(\"60m\")"));
    assert_true(cond("Duration(\"1s\") < Duration(\"2s\")"));
    /* Against other types: unequal and unordered. */
    assert_false(cond("span.start_time == 1700000000000000000"));
    assert_true(cond("span.start_time != 1700000000000000000"));
    assert_false(cond("span.start_time < 5"));
    assert_false(cond("Duration(\"1s\") == 1000000000"));
    assert_false(cond("span.start_time == Duration(\"1s\")"));
    assert_true(cond("Duration(\"1s\") != nil"));
}

static void test_time_paths_read_and_set(void **state)
{
    (void)state;
    assert_true(cond("UnixNano(span.start_time) == span.start_time_unix_nano"));
    assert_true(cond("UnixMilli(spanevent.time) == 1700000000100"));
    assert_true(cond("UnixNano(log.time) == 1700000000000000000"));
    assert_true(cond("UnixNano(log.observed_time) == 0"));
    assert_true(cond("datapoint.time - datapoint.start_time == Duration(\"10s\")"));
    stmt("set(span.start_time, Unix(1600000000, 123))");
    assert_int_equal(span.start_time_unix_nano, 1600000000000000123ULL);
    stmt("set(span.end_time, span.start_time + Duration(\"2s\"))");
    assert_int_equal(span.end_time_unix_nano, 1600000002000000123ULL);
    stmt("set(spanevent.time, spanevent.time + Duration(\"5ms\"))");
    assert_int_equal(event.time_unix_nano, START + 105000000);
    stmt("set(log.observed_time, log.time + Duration(\"1ms\"))");
    assert_int_equal(rec.observed_time_unix_nano, START + 1000000);
    stmt("set(log.time, Time(\"2024-02-29 12:00:00\", \"%Y-%m-%d %H:%M:%S\"))");
    assert_int_equal(rec.time_unix_nano, 1709208000000000000ULL);
    stmt("set(datapoint.start_time, datapoint.time - Duration(\"1s\"))");
    assert_int_equal(dp.start_time_unix_nano, START - 1000000000ULL);
    stmt("set(datapoint.time, Unix(1))");
    assert_int_equal(dp.time_unix_nano, 1000000000ULL);
    /* pdata's NewTimestampFromTime: before 1970 wraps into the uint64. */
    stmt("set(span.start_time, Unix(0, -1))");
    assert_int_equal(span.start_time_unix_nano, UINT64_MAX);
}

static void test_time_paths_refuse_other_types(void **state)
{
    (void)state;
    assert_string_equal(stmt_err("set(span.start_time, 5)"),
                        "set span.start_time: want a time, got int");
    assert_string_equal(stmt_err("set(log.time, Duration(\"1s\"))"),
                        "set log.time: want a time, got duration");
    assert_int_equal(span.start_time_unix_nano, START);
    /* The Collector's setValue takes no time.Time or time.Duration into an attribute. */
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], span.start_time)"),
                           "a time cannot be assigned"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"d\"], Duration(\"1s\"))"),
                           "a duration cannot be assigned"));
    /* As the Collector's map setter, the key is made before the value fails: it stays empty. */
    assert_int_equal(span.n_attributes, 2);
    assert_int_equal(attr("t")->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    assert_int_equal(attr("d")->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
}

static void test_string_of_times_and_durations_is_json(void **state)
{
    (void)state;
    assert_string_equal(str_of("String(span.end_time)"), "\"2023-11-14T22:13:20.25Z\"");
    assert_string_equal(str_of("String(Duration(\"1m1s\"))"), "61000000000");
    assert_string_equal(str_of("String(Time(\"2023-01-02 03:04:05 -0730\", "
                               "\"%Y-%m-%d %H:%M:%S %z\"))"),
                        "\"2023-01-02T03:04:05-07:30\"");
}

static void test_time_parses_the_collectors_directives(void **state)
{
    (void)state;
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-01-02T03:04:05-0530\", "
                            "\"%Y-%m-%dT%H:%M:%S%z\"))"),
                     1672648445);
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-01-02T03:04:05-05:30\", "
                            "\"%Y-%m-%dT%H:%M:%S%z\"))"),
                     1672648445);
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-01-02T08:34:05Z\", "
                            "\"%Y-%m-%dT%H:%M:%S%z\"))"),
                     1672648445);
    assert_int_equal(int_of("UnixNano(Time(\"2023-01-02 03:04:05.123\", "
                            "\"%Y-%m-%d %H:%M:%S.%f\"))"),
                     1672628645123000000LL);
    /* A fraction the layout does not name is read after the seconds (Go). */
    assert_int_equal(int_of("UnixNano(Time(\"2023-01-02 03:04:05.5\", \"%Y-%m-%d %H:%M:%S\"))"),
                     1672628645500000000LL);
    assert_int_equal(int_of("UnixNano(Time(\"2023-01-02 03:04:05\", \"%Y-%m-%d %H:%M:%S.%L\"))"),
                     1672628645000000000LL);
    assert_int_equal(int_of("UnixSeconds(Time(\"10/Oct/2023:13:55:36 -0700\", "
                            "\"%d/%b/%Y:%H:%M:%S %z\"))"),
                     1696971336);
    assert_int_equal(int_of("UnixSeconds(Time(\"March 5 2023 03:04 PM\", \"%B %e %Y %I:%M %p\"))"),
                     1678028640);
    assert_int_equal(int_of("UnixSeconds(Time(\"01/02/23\", \"%D\"))"), 1672617600);
    assert_int_equal(int_of("UnixSeconds(Time(\"01/02/2023\", \"%D\"))"), 1672617600);
    assert_int_equal(int_of("UnixSeconds(Time(\"2023- 1- 2\", \"%Y-%m-%d\"))"), 1672617600);
    assert_int_equal(int_of("UnixSeconds(Time(\"Tue Jul  4 05:06:07 2023\", \"%c\"))"), 1688447167);
    /* EST is not an abbreviation of UTC: the tz database's zone of that name is used. */
    assert_int_equal(int_of("UnixSeconds(Time(\"Mon, 02 Jan 2006 15:04:05 EST\", "
                            "\"%a, %d %b %Y %H:%M:%S %Z\"))"),
                     1136232245);
    /* A year the format lacks is this year's. */
    assert_int_equal(int_of("Hour(Time(\"13:45\", \"%H:%M\"))"), 13);
    assert_true(cond("Year(Time(\"Jan 1 00:00\", \"%b %d %H:%M\")) >= 2024"));
}

static void test_time_in_a_location(void **state)
{
    (void)state;
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-06-01 12:00:00\", \"%Y-%m-%d %H:%M:%S\", "
                            "\"America/New_York\"))"),
                     1685635200);
    assert_string_equal(str_of("FormatTime(Time(\"2023-06-01 12:00:00\", \"%Y-%m-%d %H:%M:%S\", "
                               "\"America/New_York\"), \"%H %Z %z\")"),
                        "12 EDT -0400");
    /* The fold: the first (daylight) 01:30; the gap: Go's offset lookup moves it. */
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-11-05 01:30:00\", \"%Y-%m-%d %H:%M:%S\", "
                            "\"America/New_York\"))"),
                     1699162200);
    assert_int_equal(int_of("UnixSeconds(Time(\"2023-03-12 02:30:00\", \"%Y-%m-%d %H:%M:%S\", "
                            "\"America/New_York\"))"),
                     1678602600);
    /* Past the database's last transition (2037) the file's footer rule holds, in both
     * hemispheres. */
    assert_string_equal(str_of("FormatTime(Time(\"2050-07-01 12:00\", \"%Y-%m-%d %H:%M\", "
                               "\"America/New_York\"), \"%Z %z\")"),
                        "EDT -0400");
    assert_int_equal(int_of("UnixSeconds(Time(\"2050-01-01 12:00\", \"%Y-%m-%d %H:%M\", "
                            "\"America/New_York\"))"),
                     2524669200);
    assert_int_equal(int_of("UnixSeconds(Time(\"2050-01-01 12:00\", \"%Y-%m-%d %H:%M\", "
                            "\"Australia/Sydney\"))"),
                     2524611600);
    assert_int_equal(int_of("UnixSeconds(Time(\"2050-07-01 12:00\", \"%Y-%m-%d %H:%M\", "
                            "\"Australia/Sydney\"))"),
                     2540253600);
    /* An offset that is the location's keeps the location; another is a fixed zone. */
    assert_string_equal(str_of("FormatTime(Time(\"2023-06-01 12:00:00 +0200\", \"%F %T %z\", "
                               "\"Europe/Paris\"), \"%H %Z\")"),
                        "12 CEST");
    assert_string_equal(str_of("FormatTime(Time(\"2023-06-01 12:00:00 +0300\", \"%F %T %z\", "
                               "\"Europe/Paris\"), \"%H %Z\")"),
                        "12 +0300");
}

static void test_time_failures(void **state)
{
    (void)state;
    assert_string_equal(stmt_err("set(span.attributes[\"t\"], Time(\"\", \"%Y\"))"),
                        "Time: time cannot be nil");
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], UnixSeconds(Time(\"2023/01/02\", "
                                    "\"%Y-%m-%d\")))"),
                           "cannot parse"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], UnixSeconds(Time(\"2023-02-29\", "
                                    "\"%Y-%m-%d\")))"),
                           "day out of range"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], UnixSeconds(Time(\"2023-01-02 "
                                    "03:04:05 PST\", \"%Y-%m-%d %H:%M:%S %Z\")))"),
                           "failed to load location PST"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], UnixSeconds(Time(span.name, "
                                    "\"%Y\")))"),
                           "cannot parse"));
    assert_non_null(strstr(stmt_err("set(span.attributes[\"t\"], UnixSeconds(Time(span.attributes"
                                    "[\"x\"], \"%Y\")))"),
                           "must be a string, got nil"));
    assert_int_equal(span.n_attributes, 0);
}

static void test_configuration_errors(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"2023\", \"\"), \"%Y\"))"),
                           "format cannot be nil"));
    assert_non_null(
        strstr(parse_err("set(span.name, FormatTime(span.start_time, \"%Y-01\"))"), "decimals"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(span.start_time, \"%Q\"))"),
                           "unsupported strptime directive %Q"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(span.start_time, \"%S%f\"))"),
                           "must be preceded with '.' or ','"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"x\", \"%Y\", "
                                     "\"Mars/Olympus\"), \"%Y\"))"),
                           "unknown time zone Mars/Olympus"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"x\", \"%Y\", "
                                     "\"../../etc/passwd\"), \"%Y\"))"),
                           "unknown time zone"));
    /* A directory of the database and a file of it that is no zone are no zones. */
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"x\", \"%Y\", "
                                     "\"America\"), \"%Y\"))"),
                           "unknown time zone America"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"x\", \"%Y\", "
                                     "\"zone.tab\"), \"%Y\"))"),
                           "is no TZif file"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(Time(\"x\", \"%b\", \"UTC\", "
                                     "\"de\"), \"%Y\"))"),
                           "English"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(\"2023\", \"%Y\"))"),
                           "argument 1 must be a time"));
    assert_non_null(
        strstr(parse_err("set(span.attributes[\"x\"], Seconds(5))"), "must be a duration"));
    assert_non_null(
        strstr(parse_err("set(span.attributes[\"x\"], UnixNano(Unix(\"5\")))"), "an int"));
    assert_non_null(
        strstr(parse_err("set(span.attributes[\"x\"], Nanoseconds(Duration(5)))"), "a string"));
    assert_non_null(strstr(parse_err("set(span.name, FormatTime(span.start_time, span.name))"),
                           "string literal"));
}

static void test_format_time_directives(void **state)
{
    (void)state;
    assert_string_equal(str_of("FormatTime(span.start_time, \"%Y-%m-%d %H:%M:%S %y %o %q %b %h "
                               "%B %e %g %a %A %l %I %p %P\")"),
                        "2023-11-14 22:13:20 23 _11 11 Nov Nov November 14 14 Tue Tuesday 10 10 PM "
                        "pm");
    assert_string_equal(str_of("FormatTime(span.end_time, \"%S.%L|%S.%f|%S.%s|%S,%L\")"),
                        "20.25|20.25|20.25|20,25");
    /* Go's .999: no fraction, no separator. */
    assert_string_equal(str_of("FormatTime(span.start_time, \"%T.%f %z %Z %i %j %w %k\")"),
                        "22:13:20 Z UTC +00 +00:00 +000000 +00:00:00");
    assert_string_equal(str_of("FormatTime(span.start_time, \"%D|%F|%T|%r|%R|%c|%%|%t\")"),
                        "11/14/2023|2023-11-14|22:13:20|10:13:20 pm|22:13|Tue Nov 14 22:13:20 "
                        "2023|%|\t");
    assert_string_equal(str_of("FormatTime(Time(\"2023-03-05 00:07:08\", \"%F %T\"), "
                               "\"%e|%g|%o|%l|%I|%p\")"),
                        " 5|5|_3|12|12|AM");
    assert_string_equal(str_of("FormatTime(Time(\"2023-01-02T03:04:05-0530\", "
                               "\"%Y-%m-%dT%H:%M:%S%z\"), \"%H:%M %z %Z %j\")"),
                        "03:04 -0530 -0530 -05:30");
    /* Go reads its layout words in literal text too, but not Jan or Mon before lowercase. */
    assert_string_equal(str_of("FormatTime(span.start_time, \"%Y Jan Monday MST PM Monthly\")"),
                        "2023 Nov Tuesday UTC PM Monthly");
    assert_string_equal(str_of("FormatTime(Unix(0, 1), \"%F %T.%s\")"),
                        "1970-01-01 00:00:00.000000001");
}

static void test_duration_parses_as_go(void **state)
{
    (void)state;
    assert_int_equal(int_of("Nanoseconds(Duration(\"1h2m3.5s\"))"), 3723500000000LL);
    assert_int_equal(int_of("Nanoseconds(Duration(\"-1.5h\"))"), -5400000000000LL);
    assert_int_equal(int_of("Nanoseconds(Duration(\"0\"))"), 0);
    assert_int_equal(int_of("Nanoseconds(Duration(\"1\xc2\xb5s\"))"), 1000);
    assert_int_equal(int_of("Nanoseconds(Duration(\"1us2ns\"))"), 1002);
    assert_int_equal(int_of("Nanoseconds(Duration(\".5s\"))"), 500000000);
    assert_int_equal(int_of("Nanoseconds(Duration(\"9223372036854775807ns\"))"), INT64_MAX);
    assert_int_equal(int_of("Nanoseconds(Duration(\"-9223372036854775808ns\"))"), INT64_MIN);
    assert_string_equal(stmt_err("set(span.attributes[\"d\"], Nanoseconds(Duration(\"1\")))"),
                        "Duration: time: missing unit in duration \"1\"");
    assert_string_equal(stmt_err("set(span.attributes[\"d\"], Nanoseconds(Duration(\"1x\")))"),
                        "Duration: time: unknown unit \"x\" in duration \"1x\"");
    assert_string_equal(stmt_err("set(span.attributes[\"d\"], Nanoseconds(Duration(\"\")))"),
                        "Duration: time: invalid duration \"\"");
    assert_string_equal(
        stmt_err("set(span.attributes[\"d\"], Nanoseconds(Duration(\"9223372036854775808ns\")))"),
        "Duration: time: invalid duration \"9223372036854775808ns\"");
    assert_non_null(
        strstr(stmt_err("set(span.attributes[\"d\"], Nanoseconds(Duration(\".s\")))"), "invalid"));
}

static void test_truncate_time(void **state)
{
    (void)state;
    assert_int_equal(int_of("UnixNano(TruncateTime(span.start_time + Duration(\"1234ms\"), "
                            "Duration(\"1s\")))"),
                     (int64_t)START + 1000000000LL);
    assert_int_equal(int_of("UnixSeconds(TruncateTime(span.start_time, Duration(\"1h\")))"),
                     1699999200);
    /* Multiples since year 1, not 1970: 7 minutes do not divide the epoch's offset. */
    assert_int_equal(int_of("UnixSeconds(TruncateTime(span.start_time, Duration(\"7m\")))"),
                     1699999920);
    assert_int_equal(int_of("UnixNano(TruncateTime(span.end_time, Duration(\"0s\")))"),
                     (int64_t)START + 250000000);
    assert_int_equal(int_of("UnixNano(TruncateTime(span.end_time, Duration(\"-1s\")))"),
                     (int64_t)START + 250000000);
}

static void test_unix_converters_floor(void **state)
{
    (void)state;
    assert_int_equal(int_of("UnixNano(Unix(5, 2000000000))"), 7000000000LL);
    assert_int_equal(int_of("UnixMilli(Unix(-1, 500000000))"), -500);
    assert_int_equal(int_of("UnixSeconds(Unix(-1, 500000000))"), -1);
    assert_int_equal(int_of("UnixMicro(Unix(0, -1))"), -1);
    assert_int_equal(int_of("UnixMicro(span.end_time)"), 1700000000250000LL);
    assert_non_null(strstr(stmt_err("set(span.attributes[\"x\"], UnixNano(Unix(span.name)))"),
                           "must be a int, got string"));
    assert_non_null(
        strstr(stmt_err("set(span.attributes[\"x\"], UnixNano(Unix(9223372037)))"), "range"));
}

static void test_durations_in_units(void **state)
{
    (void)state;
    assert_int_equal(int_of("Microseconds(Duration(\"1h30m45.5s\"))"), 5445500000LL);
    assert_int_equal(int_of("Milliseconds(Duration(\"-1500us\"))"), -1);
    assert_true(cond("Seconds(Duration(\"1h30m45.5s\")) == 5445.5"));
    assert_true(cond("Minutes(Duration(\"-90m\")) == -90.0"));
    assert_true(cond("Hours(Duration(\"-90m\")) == -1.5"));
    assert_true(cond("Seconds(span.end_time - span.start_time) == 0.25"));
    assert_non_null(strstr(cond_err("Hours(span.start_time) == 1"), "must be a duration"));
}

static void test_calendar_fields(void **state)
{
    (void)state;
    assert_true(cond("Year(span.start_time) == 2023 and Month(span.start_time) == 11 and "
                     "Day(span.start_time) == 14"));
    assert_true(cond("Hour(span.start_time) == 22 and Minute(span.start_time) == 13 and "
                     "Second(span.start_time) == 20"));
    assert_true(cond("Nanosecond(span.end_time) == 250000000 and Weekday(span.start_time) == 2"));
    /* In the zone the time was read in. */
    assert_true(cond("Day(Time(\"2024-01-01 01:00:00 +0300\", \"%F %T %z\")) == 1"));
    assert_true(cond("Year(Time(\"2024-01-01 01:00:00 +0300\", \"%F %T %z\")) == 2024"));
    assert_true(cond("Hour(Unix(UnixSeconds(Time(\"2024-01-01 01:00:00 +0300\", "
                     "\"%F %T %z\")))) == 22"));
    assert_true(cond("Weekday(Time(\"1970-01-01\", \"%Y-%m-%d\")) == 4"));
    assert_true(cond("Weekday(Time(\"2100-03-01\", \"%Y-%m-%d\") - Duration(\"24h\")) == 0"));
    assert_non_null(strstr(cond_err("Hour(span.name) == 1"), "must be a time, got string"));
}

static int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void test_now_is_the_clock(void **state)
{
    (void)state;
    int64_t before = clock_ns();
    stmt("set(span.attributes[\"now\"], UnixNano(Now()))");
    int64_t after = clock_ns();
    assert_true(attr_int("now") >= before && attr_int("now") <= after);
    assert_true(cond("Now() - Now() <= Duration(\"0s\")"));
}

/* Reading and computing times takes nothing from the arena (only FormatTime's text does). */
static void test_no_allocation_on_evaluation(void **state)
{
    (void)state;
    assert_true(cond("UnixNano(Time(\"2023-06-01 12:00:00\", \"%Y-%m-%d %H:%M:%S\", "
                     "\"America/New_York\")) > 0")); /* the zone loaded once */
    unsigned char *cur = arena.cur;
    void *blocks = arena.blocks;
    assert_true(cond("Time(\"2023-06-01 12:00:00\", \"%Y-%m-%d %H:%M:%S\", "
                     "\"America/New_York\") < span.start_time + Duration(\"1h\") and "
                     "Hour(TruncateTime(span.start_time, Duration(\"1h\"))) == 22 and "
                     "Seconds(span.end_time - span.start_time) > 0.1 and "
                     "UnixMilli(Unix(1, 5)) == 1000"));
    assert_ptr_equal(arena.cur, cur);
    assert_ptr_equal(arena.blocks, blocks);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_time_minus_time_is_a_duration),
        T(test_time_and_duration_sums),
        T(test_time_arithmetic_errors),
        T(test_comparisons),
        T(test_time_paths_read_and_set),
        T(test_time_paths_refuse_other_types),
        T(test_string_of_times_and_durations_is_json),
        T(test_time_parses_the_collectors_directives),
        T(test_time_in_a_location),
        T(test_time_failures),
        T(test_configuration_errors),
        T(test_format_time_directives),
        T(test_duration_parses_as_go),
        T(test_truncate_time),
        T(test_unix_converters_floor),
        T(test_durations_in_units),
        T(test_calendar_fields),
        T(test_now_is_the_clock),
        T(test_no_allocation_on_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
