/* Unit tests for kt_config: loading, overrides, value parsing and the messages of each
 * error, on the schema of config_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_fixture.h"
#include "../test_capture.h"
#include "kt_utf8.h"

/* ---- helpers ---- */

/* Loads text, expects failure, and checks the message equals want with "@" standing for
 * the temporary file's name. */
static void expect_file_error(const char *text, const char *want)
{
    char path[64];
    char expected[KT_ERR_MSG_MAX];
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    write_tmp(path, text);
    int rc = load(&c, path, NULL, 0, &err);
    const char *at = strchr(want, '@');
    if (at != NULL)
        snprintf(expected, sizeof(expected), "%.*s%s%s", (int)(at - want), want, path, at + 1);
    else
        snprintf(expected, sizeof(expected), "%s", want);
    unlink(path);
    kt_config_free(&schema, &c);
    assert_int_equal(rc, KT_EINVAL);
    assert_string_equal(err.msg, expected);
}

static void expect_set_error(const char *set, const char *want)
{
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    const char *sets[] = {set};
    int rc = load(&c, NULL, sets, 1, &err);
    kt_config_free(&schema, &c);
    assert_int_equal(rc, KT_EINVAL);
    assert_string_equal(err.msg, want);
}

/* ---- parsers ---- */

static void test_parse_uint_accepts_decimal_and_rejects_junk(void **state)
{
    (void)state;
    struct kt_err err = {0, ""};
    uint64_t v = 1;
    assert_int_equal(kt_parse_uint("0", &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kt_parse_uint("18446744073709551615", &v, &err), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(kt_parse_uint("18446744073709551616", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'18446744073709551616' is too large");
    assert_int_equal(kt_parse_uint("12x", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "want a non-negative integer, got '12x'");
    const char *bad[] = {"", "-1", "+1", "1.5", " 1", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(kt_parse_uint(bad[i], &v, &err), KT_EINVAL);
}

static void test_parse_bool_accepts_every_spelling(void **state)
{
    (void)state;
    struct kt_err err = {0, ""};
    const char *yes[] = {"true", "TRUE", "yes", "Yes", "on", "1"};
    const char *no[] = {"false", "False", "no", "NO", "off", "0"};
    for (size_t i = 0; i < 6; i++) {
        bool b = false;
        assert_int_equal(kt_parse_bool(yes[i], &b, &err), 0);
        assert_true(b);
        assert_int_equal(kt_parse_bool(no[i], &b, &err), 0);
        assert_false(b);
    }
    bool b = false;
    assert_int_equal(kt_parse_bool("maybe", &b, &err), KT_EINVAL);
    assert_string_equal(err.msg, "want true or false (or yes/no, on/off, 1/0), got 'maybe'");
    assert_int_equal(kt_parse_bool("", &b, &err), KT_EINVAL);
}

static void test_parse_duration_units_fractions_and_compounds(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t ms;
    } cases[] = {
        {"200ms", 200},  {"10s", 10000},      {"1m", 60000}, {"1h", 3600000},  {"1.5s", 1500},
        {"0", 0},        {"0s", 0},           {"250", 250},  {"1m30s", 90000}, {"0.5m", 30000},
        {"10 s", 10000}, {"1h 30m", 5400000}, {"0.001s", 1}, {"2.50s", 2500},
    };
    struct kt_err err = {0, ""};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        if (kt_parse_duration_ms(cases[i].in, &v, &err) != 0)
            fail_msg("'%s': %s", cases[i].in, err.msg);
        assert_true(v == cases[i].ms);
    }
}

static void test_parse_duration_rejects_bad_input(void **state)
{
    (void)state;
    struct kt_err err = {0, ""};
    uint64_t v = 0;
    assert_int_equal(kt_parse_duration_ms("fast", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "want a duration like 200ms, 1.5s, 10s, 1m or 1h, got 'fast'");
    assert_int_equal(kt_parse_duration_ms("1.5ms", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'1.5ms' is not a whole number of milliseconds");
    assert_int_equal(kt_parse_duration_ms("99999999999999999999h", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'99999999999999999999h' is too large");
    /* 2^64 ms is 5124095576030.43 h: the last whole hour fits, the next does not. */
    assert_int_equal(kt_parse_duration_ms("5124095576030h", &v, &err), 0);
    assert_int_equal(kt_parse_duration_ms("5124095576031h", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'5124095576031h' is too large");
    const char *bad[] = {"", "s", "-1s", "10x", "1m30", "1.s", ".5s", "10S", "1d", "1s-"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kt_parse_duration_ms(bad[i], &v, &err) != KT_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
}

static void test_parse_size_binary_and_decimal_units(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t bytes;
    } cases[] = {
        {"1000000", 1000000}, {"1MiB", 1048576}, {"64KiB", 65536},     {"1GiB", 1073741824},
        {"1MB", 1000000},     {"1KB", 1000},     {"1.5KiB", 1536},     {"16 MiB", 16777216},
        {"1mib", 1048576},    {"0", 0},          {"2TiB", 2ULL << 40}, {"512B", 512},
        {"1GB", 1000000000},  {"0.5MB", 500000},
    };
    struct kt_err err = {0, ""};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        if (kt_parse_size(cases[i].in, &v, &err) != 0)
            fail_msg("'%s': %s", cases[i].in, err.msg);
        assert_true(v == cases[i].bytes);
    }
}

static void test_parse_size_rejects_bad_input(void **state)
{
    (void)state;
    struct kt_err err = {0, ""};
    uint64_t v = 0;
    assert_int_equal(kt_parse_size("12XB", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg,
                        "want a size like 512, 64KiB, 16MiB, 1GiB or 1MB (10^6), got '12XB'");
    assert_int_equal(kt_parse_size("1.5B", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'1.5B' is not a whole number of bytes");
    assert_int_equal(kt_parse_size("16777216TiB", &v, &err), KT_EINVAL);
    assert_string_equal(err.msg, "'16777216TiB' is too large");
    const char *bad[] = {"", "MiB", "-1", "1K", "1M", "1 MiB x", "1e6"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kt_parse_size(bad[i], &v, &err) != KT_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
}

/* ---- loading ---- */

static void test_defaults_apply_without_file(void **state)
{
    (void)state;
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    assert_int_equal(load(&c, NULL, NULL, 0, &err), 0);
    assert_string_equal(c.name, "kotel");
    assert_int_equal(c.count, 8192);
    assert_true(c.ratio == 0.25);
    assert_true(c.enabled);
    assert_int_equal(c.timeout_ms, 200);
    assert_int_equal(c.max_bytes, 16 << 20);
    assert_int_equal(c.color, 0);
    assert_int_equal(c.hosts.n, 1);
    assert_string_equal(c.hosts.v[0], "localhost:9092");
    assert_null(c.password);
    assert_string_equal(c.token, "tok");
    assert_int_equal(c.max_attempts, 5);
    assert_int_equal(c.backoff_ms, 1000);
    assert_string_equal(c.client_id, "kotel-test");
    assert_int_equal(c.props.n, 0);
    kt_config_free(&schema, &c);
    assert_null(c.name);
    assert_null(c.hosts.v);
    kt_config_free(&schema, &c); /* idempotent */
}

static void test_file_sets_every_type(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "# comment\n"
                     "[main]\n"
                     "name = edge-1\n"
                     "count = 42\n"
                     "ratio = 0.75\n"
                     "enabled = off\n"
                     "timeout = 1.5s\n"
                     "max_bytes = 64KiB\n"
                     "color = GREEN\n"
                     "hosts = a:1, b:2\n"
                     "[auth]\n"
                     "password = hunter2\n"
                     "[exporter.retry]\n"
                     "max_attempts = 9\n"
                     "backoff = 1m\n"
                     "[kafka]\n"
                     "client_id: colon-form\n"
                     "rdkafka.linger.ms = 5\n");
    assert_string_equal(c.name, "edge-1");
    assert_int_equal(c.count, 42);
    assert_true(c.ratio == 0.75);
    assert_false(c.enabled);
    assert_int_equal(c.timeout_ms, 1500);
    assert_int_equal(c.max_bytes, 65536);
    assert_int_equal(c.color, 1);
    assert_int_equal(c.hosts.n, 2);
    assert_string_equal(c.hosts.v[0], "a:1");
    assert_string_equal(c.hosts.v[1], "b:2");
    assert_string_equal(c.password, "hunter2");
    assert_int_equal(c.max_attempts, 9);
    assert_int_equal(c.backoff_ms, 60000);
    assert_string_equal(c.client_id, "colon-form");
    assert_int_equal(c.props.n, 1);
    assert_string_equal(c.props.v[0], "linger.ms=5");
    kt_config_free(&schema, &c);
}

/* A file holding a secret value is a secret file: readable by group or others, it is
 * warned about, naming the file and the line; owner-only, or without secrets, it is not. */
static void test_secret_file_readable_by_others_is_warned_about(void **state)
{
    (void)state;
    char path[64];
    struct kt_err err = {0, ""};
    const struct {
        const char *text;
        mode_t mode;
        bool warned;
    } cases[] = {
        {"[main]\nname = x\n[auth]\npassword = hunter2\n", 0644, true},
        {"[main]\nname = x\n[auth]\npassword = hunter2\n", 0600, false},
        {"[main]\nname = x\n", 0644, false},
        /* An empty secret, as in the shipped example files, is no secret. */
        {"[main]\nname = x\n[auth]\npassword =\n", 0644, false},
        {"[main]\nname = x\n[auth]\npassword = \"\"\n", 0644, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tconf c = {0};
        write_tmp(path, cases[i].text);
        assert_int_equal(chmod(path, cases[i].mode), 0);
        struct test_capture cap;
        test_capture_start(&cap);
        int rc = load(&c, path, NULL, 0, &err);
        test_capture_stop(&cap);
        assert_int_equal(rc, 0);
        char want[256];
        snprintf(want, sizeof(want),
                 "WARN %s:4: [auth] password is secret: %s is readable by everyone (mode 0644)",
                 path, path);
        if (cases[i].warned && strstr(cap.err, want) == NULL)
            fail_msg("case %zu: want '%s' in '%s'", i, want, cap.err);
        if (!cases[i].warned && strstr(cap.err, "readable") != NULL)
            fail_msg("case %zu: unexpected '%s'", i, cap.err);
        assert_null(strstr(cap.err, "hunter2"));
        test_capture_free(&cap);
        unlink(path);
        kt_config_free(&schema, &c);
    }
}

static void test_bad_value_reports_file_line_section_key(void **state)
{
    (void)state;
    expect_file_error("[main]\nname = x\n\ncount = lots\n",
                      "@:4: [main] count: want a non-negative integer, got 'lots'");
    expect_file_error("[exporter.retry]\nbackoff = soon\n",
                      "@:2: [exporter.retry] backoff: want a duration like 200ms, 1.5s, 10s, "
                      "1m or 1h, got 'soon'");
    expect_file_error("[main]\nmax_bytes = 1.5B\n",
                      "@:2: [main] max_bytes: '1.5B' is not a whole number of bytes");
    expect_file_error("[main]\nenabled = perhaps\n",
                      "@:2: [main] enabled: want true or false (or yes/no, on/off, 1/0), got "
                      "'perhaps'");
    expect_file_error("[main]\nratio = half\n", "@:2: [main] ratio: want a number, got 'half'");
    expect_file_error("[main]\nratio = nan\n", "@:2: [main] ratio: want a number, got 'nan'");
}

static void test_enum_error_lists_choices(void **state)
{
    (void)state;
    expect_file_error("[main]\ncolor = purlpe\n",
                      "@:2: [main] color: want one of red|green|blue, got 'purlpe'");
    expect_set_error("main.color=0", "--set main.color: want one of red|green|blue, got '0'");
}

static void test_set_overrides_file_in_order(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, "[main]\ncount = 1\nname = file\n");
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    const char *sets[] = {"main.count=2", "main.count = 3", "main.name=\"quoted\""};
    assert_int_equal(load(&c, path, sets, 3, &err), 0);
    unlink(path);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.name, "quoted");
    kt_config_free(&schema, &c);
}

static void test_set_resolves_dotted_section_and_dotted_key(void **state)
{
    (void)state;
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    const char *sets[] = {"exporter.retry.max_attempts=9", "kafka.rdkafka.linger.ms=5",
                          "kafka.rdkafka.batch.num.messages=100", "kafka.rdkafka.linger.ms=7"};
    assert_int_equal(load(&c, NULL, sets, 4, &err), 0);
    assert_int_equal(c.max_attempts, 9);
    assert_int_equal(c.props.n, 2);
    assert_string_equal(c.props.v[0], "linger.ms=7");
    assert_string_equal(c.props.v[1], "batch.num.messages=100");
    kt_config_free(&schema, &c);
}

static void test_set_unknown_key_suggests_nearest(void **state)
{
    (void)state;
    expect_set_error("main.nmae=x", "--set main.nmae: unknown key (did you mean name?)");
    expect_set_error("exporter.retry.max_atempts=1",
                     "--set exporter.retry.max_atempts: unknown key (did you mean "
                     "max_attempts?)");
    expect_set_error("main.client_id=x", "--set main.client_id: unknown key (it belongs in "
                                         "[kafka])");
}

static void test_set_unknown_section_suggests_nearest(void **state)
{
    (void)state;
    expect_set_error("mian.name=x", "--set mian.name: unknown section [mian] (did you mean main?)");
    expect_set_error("exporter.retyr.max_attempts=1",
                     "--set exporter.retyr.max_attempts: unknown section [exporter.retyr] (did "
                     "you mean exporter.retry?)");
    expect_set_error("kafak.rdkafka.linger.ms=1",
                     "--set kafak.rdkafka.linger.ms: unknown section [kafak] (did you mean "
                     "kafka?)");
    expect_set_error("zzz.yyy=1", "--set zzz.yyy: unknown section [zzz]");
}

static void test_set_needs_section_key_and_value(void **state)
{
    (void)state;
    expect_set_error("main.count", "--set main.count: want section.key=value");
    expect_set_error("=3", "--set =3: want section.key=value");
    expect_set_error("count=3", "--set count: want section.key=value (did you mean main.count?)");
    expect_set_error("main.timeout=fast", "--set main.timeout: want a duration like 200ms, "
                                          "1.5s, 10s, 1m or 1h, got 'fast'");
}

static void test_env_expansion_with_default_and_escape(void **state)
{
    (void)state;
    setenv("KT_TEST_NAME", "alice", 1);
    setenv("KT_TEST_HOSTS", "h1:1,h2:2", 1);
    setenv("KT_TEST_EMPTY", "", 1);
    setenv("KT_TEST_COUNT", "77", 1);
    unsetenv("KT_TEST_UNSET");
    struct tconf c = {0};
    load_text_ok(&c, "[main]\n"
                     "name = ${KT_TEST_NAME}-${KT_TEST_UNSET:-x}\n"
                     "hosts = ${KT_TEST_HOSTS}\n"
                     "count = ${KT_TEST_COUNT}\n"
                     "[auth]\n"
                     "password = pa$$w$x${KT_TEST_EMPTY:-d}${KT_TEST_EMPTY}\n"
                     "[kafka]\n"
                     "client_id = ${KT_TEST_UNSET:-a b}\n");
    assert_string_equal(c.name, "alice-x");
    assert_int_equal(c.hosts.n, 2);
    assert_string_equal(c.hosts.v[1], "h2:2");
    assert_int_equal(c.count, 77);
    assert_string_equal(c.password, "pa$w$xd");
    assert_string_equal(c.client_id, "a b");
    kt_config_free(&schema, &c);

    const char *sets[] = {"main.name=${KT_TEST_NAME:-bob}"};
    struct kt_err err = {0, ""};
    assert_int_equal(load(&c, NULL, sets, 1, &err), 0);
    assert_string_equal(c.name, "alice");
    kt_config_free(&schema, &c);
    unsetenv("KT_TEST_NAME");
    unsetenv("KT_TEST_HOSTS");
    unsetenv("KT_TEST_EMPTY");
    unsetenv("KT_TEST_COUNT");
}

static void test_env_missing_variable_is_error(void **state)
{
    (void)state;
    unsetenv("KT_TEST_NOPE");
    expect_file_error("[main]\nname = ${KT_TEST_NOPE}\n",
                      "@:2: [main] name: environment variable KT_TEST_NOPE is not set");
    expect_file_error("[main]\nname = ${KT_TEST_NOPE\n", "@:2: [main] name: unterminated "
                                                         "${KT_TEST_NOPE");
    expect_file_error("[main]\nname = ${1X}\n",
                      "@:2: [main] name: bad ${...} reference: want ${NAME} or "
                      "${NAME:-default}");
    expect_file_error("[main]\nname = ${A-b}\n",
                      "@:2: [main] name: bad ${A...} reference: want ${NAME} or "
                      "${NAME:-default}");
    expect_set_error("main.name=${KT_TEST_NOPE}",
                     "--set main.name: environment variable KT_TEST_NOPE is not set");
}

static void test_list_first_file_occurrence_replaces_default_then_appends(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[main]\nhosts = a\nname = n\nhosts = b, c\n");
    assert_int_equal(c.hosts.n, 3);
    assert_string_equal(c.hosts.v[0], "a");
    assert_string_equal(c.hosts.v[1], "b");
    assert_string_equal(c.hosts.v[2], "c");
    kt_config_free(&schema, &c);
}

static void test_list_comma_split_trims_and_drops_empty_items(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[main]\nhosts = a , b,, c ,\n");
    assert_int_equal(c.hosts.n, 3);
    assert_string_equal(c.hosts.v[0], "a");
    assert_string_equal(c.hosts.v[1], "b");
    assert_string_equal(c.hosts.v[2], "c");
    kt_config_free(&schema, &c);
    load_text_ok(&c, "[main]\nhosts =\n");
    assert_int_equal(c.hosts.n, 0);
    kt_config_free(&schema, &c);
}

static void test_set_replaces_list_then_appends(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, "[main]\nhosts = a, b\n");
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    const char *sets[] = {"main.hosts=x", "main.hosts=y,z"};
    assert_int_equal(load(&c, path, sets, 2, &err), 0);
    unlink(path);
    assert_int_equal(c.hosts.n, 3);
    assert_string_equal(c.hosts.v[0], "x");
    assert_string_equal(c.hosts.v[1], "y");
    assert_string_equal(c.hosts.v[2], "z");
    kt_config_free(&schema, &c);
}

static void test_duplicate_scalar_in_file_is_error(void **state)
{
    (void)state;
    expect_file_error("[main]\ncount = 1\nname = a\n\ncount = 2\n",
                      "@:5: [main] count: set twice (first at line 2)");
    /* Reopening a section does not make a second value legal. */
    expect_file_error("[main]\nname = a\n[kafka]\nclient_id = c\n[main]\nname = b\n",
                      "@:6: [main] name: set twice (first at line 2)");
}

static void test_prefix_collects_dotted_keys(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[kafka]\nrdkafka.linger.ms = 5\nrdkafka.debug = broker,topic\n");
    assert_int_equal(c.props.n, 2);
    assert_string_equal(c.props.v[0], "linger.ms=5");
    assert_string_equal(c.props.v[1], "debug=broker,topic");
    kt_config_free(&schema, &c);
    expect_file_error("[kafka]\nrdkafka.linger.ms = 5\nrdkafka.linger.ms = 6\n",
                      "@:3: [kafka] rdkafka.linger.ms: set twice (first at line 2)");
    expect_file_error("[kafka]\nrdkafka = 5\n",
                      "@:2: [kafka] rdkafka: want rdkafka.<name> = value");
}

static void test_unknown_key_suggests_nearest(void **state)
{
    (void)state;
    expect_file_error("[main]\nnmae = x\n", "@:2: [main] nmae: unknown key (did you mean name?)");
    expect_file_error("[main]\nName = x\n", "@:2: [main] Name: unknown key (did you mean name?)");
    expect_file_error("[kafka]\nrdkafk.linger.ms = 1\n",
                      "@:2: [kafka] rdkafk.linger.ms: unknown key (did you mean "
                      "rdkafka.linger.ms?)");
    expect_file_error("[main]\nzzzzzz = x\n", "@:2: [main] zzzzzz: unknown key");
    expect_file_error("[main]\nclient_id = x\n",
                      "@:2: [main] client_id: unknown key (it belongs in [kafka])");
    expect_file_error("[main]\nclr = x\n", "@:2: [main] clr: unknown key (did you mean color?)");
    /* Two edits in a three-letter name is no longer a plausible typo. */
    expect_file_error("[main]\nnxy = x\n", "@:2: [main] nxy: unknown key");
}

static void test_unknown_section_suggests_nearest(void **state)
{
    (void)state;
    /* Reported even when the section has no keys, which inih alone would never notice. */
    expect_file_error("[main]\nname = a\n[mian]\n",
                      "@:3: [mian]: unknown section (did you mean main?)");
    expect_file_error("[exporter.retyr]\nmax_attempts = 1\n",
                      "@:1: [exporter.retyr]: unknown section (did you mean exporter.retry?)");
    expect_file_error("[polcy.fast]\nkind = x\n",
                      "@:1: [polcy.fast]: unknown section (did you mean policy.fast?)");
    expect_file_error("[nothing]\n", "@:1: [nothing]: unknown section");
    expect_file_error("[policy.]\n", "@:1: [policy.]: unknown section");
    char longsec[64] = "[";
    memset(longsec + 1, 's', 50);
    snprintf(longsec + 51, sizeof(longsec) - 51, "]\n");
    expect_file_error(longsec, "@:1: section name is longer than 49 characters");
}

static void test_syntax_errors_report_file_line(void **state)
{
    (void)state;
    expect_file_error("[main]\nname = x\njust words\n",
                      "@:3: syntax error: 'just words' is not 'key = value', a [section] or a "
                      "comment");
    expect_file_error("\n\n[main\n", "@:3: syntax error: '[main' lacks the closing ']'");
    expect_file_error("[main]\n = x\n", "@:2: syntax error: no key before the '='");
    expect_file_error("name = x\n", "@:1: name: key outside any [section]");
    /* The first error in the file wins, whatever kind it is. */
    expect_file_error("[main]\noops\ncount = x\n",
                      "@:2: syntax error: 'oops' is not 'key = value', a [section] or a "
                      "comment");
}

static void test_overlong_line_is_error(void **state)
{
    (void)state;
    char text[400];
    int n = snprintf(text, sizeof(text), "[main]\nname = ");
    memset(text + n, 'x', 250);
    snprintf(text + n + 250, sizeof(text) - (size_t)n - 250, "\n");
    expect_file_error(text, "@:2: line is longer than 198 characters: split a list over "
                            "repeated keys, or take the value from ${VAR}");
}

static void test_indentation_comments_quotes_and_crlf(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "\xEF\xBB\xBF; a comment\r\n"
                     "[ main ]\r\n"
                     "    name = \"  padded  \"\r\n"
                     "    count = 3 ; trailing comment\r\n"
                     "\t# another comment\r\n"
                     "    hosts = a;b\r\n"
                     "[kafka]\n"
                     "client_id = \"\"\n");
    assert_string_equal(c.name, "  padded  ");
    assert_int_equal(c.count, 3);
    assert_int_equal(c.hosts.n, 1);
    assert_string_equal(c.hosts.v[0], "a;b");
    assert_string_equal(c.client_id, "");
    kt_config_free(&schema, &c);
}

static void test_required_missing_is_error(void **state)
{
    (void)state;
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    assert_int_equal(kt_config_load(&schema, &c, NULL, NULL, 0, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[auth] token: required but not set");
    kt_config_free(&schema, &c);

    char path[64];
    write_tmp(path, "[auth]\npassword = p\n");
    char want[KT_ERR_MSG_MAX];
    snprintf(want, sizeof(want), "%s: [auth] token: required but not set", path);
    assert_int_equal(kt_config_load(&schema, &c, path, NULL, 0, &err), KT_EINVAL);
    assert_string_equal(err.msg, want);
    kt_config_free(&schema, &c);

    const char *empty[] = {"auth.token="};
    assert_int_equal(kt_config_load(&schema, &c, path, empty, 1, &err), KT_EINVAL);
    assert_string_equal(err.msg, want);
    kt_config_free(&schema, &c);
    unlink(path);

    write_tmp(path, "[auth]\ntoken = from-file\n");
    assert_int_equal(kt_config_load(&schema, &c, path, NULL, 0, &err), 0);
    unlink(path);
    assert_string_equal(c.token, "from-file");
    kt_config_free(&schema, &c);
}

static void test_handler_receives_pattern_sections(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[policy.errors]\nkind = status\nthreshold = 5\n"
                     "[main]\nname = x\n"
                     "[policy.slow]\nthreshold = 2.5\n");
    assert_int_equal(c.n_pol, 3);
    assert_string_equal(c.pol[0].name, "errors");
    assert_string_equal(c.pol[0].key, "kind");
    assert_string_equal(c.pol[0].value, "status");
    assert_string_equal(c.pol[1].key, "threshold");
    assert_string_equal(c.pol[2].name, "slow");
    assert_string_equal(c.pol[2].value, "2.5");
    kt_config_free(&schema, &c);

    struct kt_err err = {0, ""};
    const char *sets[] = {"policy.errors.threshold=7"};
    memset(&c, 0, sizeof(c));
    assert_int_equal(load(&c, NULL, sets, 1, &err), 0);
    assert_int_equal(c.n_pol, 1);
    assert_string_equal(c.pol[0].name, "errors");
    assert_string_equal(c.pol[0].key, "threshold");
    assert_string_equal(c.pol[0].value, "7");
    kt_config_free(&schema, &c);
}

static void test_handler_errors_get_file_line_or_set_context(void **state)
{
    (void)state;
    expect_file_error("[policy.slow]\n\nthreshold = fast\n",
                      "@:3: [policy.slow] threshold: want a number");
    expect_file_error("[policy.slow]\ncolour = red\n", "@:2: [policy.slow] colour: unknown key");
    expect_set_error("policy.slow.threshold=fast", "--set policy.slow.threshold: want a number");
}

static void test_missing_file_is_error(void **state)
{
    (void)state;
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    assert_int_equal(load(&c, "/nonexistent/kotel.ini", NULL, 0, &err), KT_ENOTFOUND);
    assert_string_equal(err.msg, "/nonexistent/kotel.ini: No such file or directory");
    kt_config_free(&schema, &c);
}

static void test_reload_replaces_previous_values_without_leaks(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[main]\nname = first\nhosts = a, b\n[kafka]\nrdkafka.x = 1\n");
    load_text_ok(&c, "[main]\nname = second\n");
    assert_string_equal(c.name, "second");
    assert_int_equal(c.hosts.n, 1);
    assert_int_equal(c.props.n, 0);
    kt_config_free(&schema, &c);
}

static void test_secret_values_stay_out_of_error_messages(void **state)
{
    (void)state;
    static const struct kt_option opts[] = {
        {"db", "pin", KT_OPT_UINT, "0", 0, NULL, KT_OPT_SECRET, "A secret number."},
    };
    static const struct kt_config_schema s = {
        .program = "p", .version = "1", .summary = "", .opts = opts, .n_opts = 1};
    uint64_t pin = 0;
    struct kt_err err = {0, ""};
    const char *sets[] = {"db.pin=12ab34"};
    assert_int_equal(kt_config_load(&s, &pin, NULL, sets, 1, &err), KT_EINVAL);
    assert_string_equal(err.msg, "--set db.pin: invalid value (not shown: the option is secret)");
}

/* ---- hostile files ---- */

/* What a terminal would act on: C0 controls, DEL, C1 controls (U+0080..U+009F), and bytes
 * that are not UTF-8 (a terminal may read them as C1 controls). */
static void assert_terminal_safe(const char *msg)
{
    size_t n = strlen(msg);
    assert_int_equal(kt_utf8_check((const uint8_t *)msg, n), n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 && (unsigned char)msg[i + 1] < 0xa0))
            fail_msg("byte 0x%02x at %zu in: %s", ch, i, msg);
    }
}

static void test_error_messages_escape_what_a_terminal_would_act_on(void **state)
{
    (void)state;
    expect_file_error("[main]\n\x1b[2J\x1b]0;pwned\x07\n",
                      "@:2: syntax error: '\\x1b[2J\\x1b]0;pwned\\x07' is not 'key = value', a "
                      "[section] or a comment");
    expect_file_error("[main]\ncount = \x9b"
                      "31m\xc2\x9b\n",
                      "@:2: [main] count: want a non-negative integer, got '\\x9b31m\\xc2\\x9b'");
    expect_file_error("[ma\x1bin]\n", "@:1: [ma\\x1bin]: unknown section (did you mean main?)");
    /* Printable UTF-8 is text a reader wants to see as it is. */
    expect_file_error("[main]\ncount = \xc3\xa9\n",
                      "@:2: [main] count: want a non-negative integer, got '\xc3\xa9'");
    /* --set arguments and ${VAR} values reach messages too. */
    setenv("KT_TEST_HOSTILE", "\x1b[31m", 1);
    expect_set_error("main.count=${KT_TEST_HOSTILE}",
                     "--set main.count: want a non-negative integer, got '\\x1b[31m'");
    unsetenv("KT_TEST_HOSTILE");
}

static void test_binary_garbage_gives_only_printable_messages(void **state)
{
    (void)state;
    /* Random bytes without NUL (a NUL stops reading before anything is quoted), in lines
     * short enough to be quoted, behind a valid start so the garbage reaches every kind of
     * line: sections, keys, values. */
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        char text[600];
        int n = snprintf(text, sizeof(text), "[main]\n%s", round % 2 ? "count = " : "");
        for (; n < 500; n++) {
            x = x * 1103515245u + 12345u;
            char ch = (char)((x >> 16) % 255 + 1);
            text[n] = (x >> 8) % 40 == 0 ? '\n' : ch;
        }
        text[n] = '\0';
        char path[64];
        struct tconf c = {0};
        struct kt_err err = {0, ""};
        write_tmp(path, text);
        int rc = load(&c, path, NULL, 0, &err);
        unlink(path);
        kt_config_free(&schema, &c);
        assert_int_not_equal(rc, 0);
        assert_terminal_safe(err.msg);
    }
}

static void test_file_over_the_limit_is_refused(void **state)
{
    (void)state;
    /* Comment lines: only the size is wrong with the file. */
    size_t n = KT_CONFIG_FILE_MAX + 1;
    char *text = malloc(n + 1);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 64 == 63 ? '\n' : ';';
    text[n] = '\0';
    char path[64];
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    char want[KT_ERR_MSG_MAX];

    write_tmp(path, text);
    assert_int_equal(load(&c, path, NULL, 0, &err), KT_ETOOBIG);
    snprintf(want, sizeof(want), "%s: over 1048576 bytes, the most a configuration file may hold",
             path);
    assert_string_equal(err.msg, want);
    kt_config_free(&schema, &c);
    unlink(path);

    text[n - 1] = '\0';
    write_tmp(path, text);
    free(text);
    assert_int_equal(load(&c, path, NULL, 0, &err), 0);
    kt_config_free(&schema, &c);
    unlink(path);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_endless_files_are_refused_promptly(void **state)
{
    (void)state;
    struct tconf c = {0};
    struct kt_err err = {0, ""};
    double t0 = now_s();
    assert_int_equal(load(&c, "/dev/zero", NULL, 0, &err), KT_EINVAL);
    assert_string_equal(err.msg, "/dev/zero:1: contains a NUL byte");
    kt_config_free(&schema, &c);

    /* A pipe of comment lines that never ends: refused at the size limit, not read on. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        static const char line[] = "; more\n";
        while (write(fds[1], line, sizeof(line) - 1) > 0)
            ;
        _exit(0);
    }
    close(fds[1]);
    char path[32];
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    char want[KT_ERR_MSG_MAX];
    snprintf(want, sizeof(want), "%s: over 1048576 bytes, the most a configuration file may hold",
             path);
    int rc = load(&c, path, NULL, 0, &err);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    kt_config_free(&schema, &c);
    assert_int_equal(rc, KT_ETOOBIG);
    assert_string_equal(err.msg, want);
    assert_true(now_s() - t0 < 5);

    assert_int_equal(load(&c, "/", NULL, 0, &err), KT_EINVAL);
    assert_string_equal(err.msg, "/: is a directory");
    kt_config_free(&schema, &c);
}

/* --print-config writes a prefix entry as "key.name = value": a name with a blank, ':' or a
 * newline (easy through --set) would come back as another key, or not at all. Found by
 * fuzz_config. */
static void test_prefix_names_are_limited_to_what_reads_back(void **state)
{
    (void)state;
    expect_set_error("kafka.rdkafka.a:b=1", "--set kafka.rdkafka.a:b: want rdkafka.<name> with a "
                                            "name of letters, digits, '.', '_' and '-'");
    expect_set_error("kafka.rdkafka.x\n[main]\nname=1",
                     "--set kafka.rdkafka.x\\x0a[main]\\x0aname: want rdkafka.<name> with a name "
                     "of letters, digits, '.', '_' and '-'");
    expect_file_error("[kafka]\nrdkafka.a b = 1\n", "@:2: [kafka] rdkafka.a b: want rdkafka.<name> "
                                                    "with a name of letters, digits, '.', '_' and "
                                                    "'-'");
    struct tconf c = {0};
    load_text_ok(&c, "[kafka]\nrdkafka.Sasl.oauth-bearer_x.9 = 1\n");
    assert_string_equal(c.props.v[0], "Sasl.oauth-bearer_x.9=1");
    kt_config_free(&schema, &c);
}

/* ---- ranges ---- */

static void test_out_of_range_reports_where_value_and_range(void **state)
{
    (void)state;
    expect_file_error("[main]\nname = x\ncount = 0\n",
                      "@:3: [main] count: want at least 1, got '0'");
    expect_file_error("[main]\ntimeout = 0\n", "@:2: [main] timeout: want 1ms to 1h, got '0'");
    expect_set_error("main.timeout=1h1ms", "--set main.timeout: want 1ms to 1h, got '1h1ms'");
    expect_set_error("main.max_bytes=1023", "--set main.max_bytes: want 1KiB to 1GiB, got '1023'");
    /* A value read from the environment is checked like one written out. */
    setenv("KT_TEST_COUNT", "0", 1);
    expect_set_error("main.count=${KT_TEST_COUNT}", "--set main.count: want at least 1, got '0'");
    unsetenv("KT_TEST_COUNT");

    /* Both ends are allowed values. */
    struct tconf c = {0};
    load_text_ok(&c, "[main]\ncount = 1\ntimeout = 1ms\nmax_bytes = 1KiB\n");
    assert_int_equal(c.count, 1);
    assert_int_equal(c.timeout_ms, 1);
    assert_int_equal(c.max_bytes, 1024);
    load_text_ok(&c, "[main]\ntimeout = 60m\nmax_bytes = 1GiB\n");
    assert_int_equal(c.timeout_ms, 3600000);
    assert_int_equal(c.max_bytes, 1 << 30);
    kt_config_free(&schema, &c);
}

static void test_bad_range_in_the_table_fails_every_load(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "..", "1", "x..", "..1..2", "5..1"};
    static const char *const why[] = {
        "want MIN..MAX, MIN.. or ..MAX", "want MIN..MAX, MIN.. or ..MAX",
        "want MIN..MAX, MIN.. or ..MAX", "want a non-negative integer, got 'x'",
        "want MIN..MAX, MIN.. or ..MAX", "MIN is above MAX"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* No default: the range is checked even when nothing sets the option. */
        const struct kt_option opts[] = {
            {"db", "n", KT_OPT_UINT, NULL, 0, bad[i], 0, "A bounded number."},
        };
        const struct kt_config_schema s = {
            .program = "p", .version = "1", .summary = "", .opts = opts, .n_opts = 1};
        uint64_t n = 0;
        struct kt_err err = {0, ""};
        char want[KT_ERR_MSG_MAX];
        snprintf(want, sizeof(want), "option table: [db] n: range '%s': %s", bad[i], why[i]);
        assert_int_equal(kt_config_load(&s, &n, NULL, NULL, 0, &err), KT_EINVAL);
        assert_string_equal(err.msg, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uint_accepts_decimal_and_rejects_junk),
        cmocka_unit_test(test_secret_file_readable_by_others_is_warned_about),
        cmocka_unit_test(test_parse_bool_accepts_every_spelling),
        cmocka_unit_test(test_parse_duration_units_fractions_and_compounds),
        cmocka_unit_test(test_parse_duration_rejects_bad_input),
        cmocka_unit_test(test_parse_size_binary_and_decimal_units),
        cmocka_unit_test(test_parse_size_rejects_bad_input),
        cmocka_unit_test(test_defaults_apply_without_file),
        cmocka_unit_test(test_file_sets_every_type),
        cmocka_unit_test(test_bad_value_reports_file_line_section_key),
        cmocka_unit_test(test_enum_error_lists_choices),
        cmocka_unit_test(test_set_overrides_file_in_order),
        cmocka_unit_test(test_set_resolves_dotted_section_and_dotted_key),
        cmocka_unit_test(test_set_unknown_key_suggests_nearest),
        cmocka_unit_test(test_set_unknown_section_suggests_nearest),
        cmocka_unit_test(test_set_needs_section_key_and_value),
        cmocka_unit_test(test_env_expansion_with_default_and_escape),
        cmocka_unit_test(test_env_missing_variable_is_error),
        cmocka_unit_test(test_list_first_file_occurrence_replaces_default_then_appends),
        cmocka_unit_test(test_list_comma_split_trims_and_drops_empty_items),
        cmocka_unit_test(test_set_replaces_list_then_appends),
        cmocka_unit_test(test_duplicate_scalar_in_file_is_error),
        cmocka_unit_test(test_prefix_collects_dotted_keys),
        cmocka_unit_test(test_unknown_key_suggests_nearest),
        cmocka_unit_test(test_unknown_section_suggests_nearest),
        cmocka_unit_test(test_syntax_errors_report_file_line),
        cmocka_unit_test(test_overlong_line_is_error),
        cmocka_unit_test(test_indentation_comments_quotes_and_crlf),
        cmocka_unit_test(test_required_missing_is_error),
        cmocka_unit_test(test_handler_receives_pattern_sections),
        cmocka_unit_test(test_handler_errors_get_file_line_or_set_context),
        cmocka_unit_test(test_missing_file_is_error),
        cmocka_unit_test(test_reload_replaces_previous_values_without_leaks),
        cmocka_unit_test(test_secret_values_stay_out_of_error_messages),
        cmocka_unit_test(test_error_messages_escape_what_a_terminal_would_act_on),
        cmocka_unit_test(test_binary_garbage_gives_only_printable_messages),
        cmocka_unit_test(test_file_over_the_limit_is_refused),
        cmocka_unit_test(test_endless_files_are_refused_promptly),
        cmocka_unit_test(test_prefix_names_are_limited_to_what_reads_back),
        cmocka_unit_test(test_out_of_range_reports_where_value_and_range),
        cmocka_unit_test(test_bad_range_in_the_table_fails_every_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
