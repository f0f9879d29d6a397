/* Unit tests for kt_config: a small schema of its own covers every option type, a secret, a
 * required key, a dotted section, a prefix option and a section handler. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt_config.h"
#include "../test_tmpfile.h"

#define MAX_POLICIES 8

struct policy_kv {
    char name[16];
    char key[16];
    char value[32];
};

struct tconf {
    char *name;
    uint64_t count;
    double ratio;
    bool enabled;
    uint64_t timeout_ms;
    uint64_t max_bytes;
    int color;
    struct kt_strlist hosts;
    char *password;
    char *token;
    uint64_t max_attempts;
    uint64_t backoff_ms;
    char *client_id;
    struct kt_strlist props;
    /* Filled by the [policy.NAME] handler; fixed storage, so nothing for kt_config_free. */
    struct policy_kv pol[MAX_POLICIES];
    size_t n_pol;
};

#define OFF(f) offsetof(struct tconf, f)

static const struct kt_option test_options[] = {
    {"main", "name", KT_OPT_STRING, "kotel", OFF(name), NULL, 0, "A name."},
    {"main", "count", KT_OPT_UINT, "8192", OFF(count), NULL, 0, "A count."},
    {"main", "ratio", KT_OPT_DOUBLE, "0.25", OFF(ratio), NULL, 0, "A ratio."},
    {"main", "enabled", KT_OPT_BOOL, "true", OFF(enabled), NULL, 0, "A switch."},
    {"main", "timeout", KT_OPT_DURATION, "200ms", OFF(timeout_ms), NULL, 0, "A duration."},
    {"main", "max_bytes", KT_OPT_SIZE, "16MiB", OFF(max_bytes), NULL, 0, "A size."},
    {"main", "color", KT_OPT_ENUM, "red", OFF(color), "red|green|blue", 0, "A choice."},
    {"main", "hosts", KT_OPT_LIST, "localhost:9092", OFF(hosts), NULL, 0, "A list."},
    {"auth", "password", KT_OPT_STRING, NULL, OFF(password), NULL, KT_OPT_SECRET, "A secret."},
    {"auth", "token", KT_OPT_STRING, NULL, OFF(token), NULL, KT_OPT_REQUIRED, "Must be set."},
    {"exporter.retry", "max_attempts", KT_OPT_UINT, "5", OFF(max_attempts), NULL, 0,
     "Dotted section."},
    {"exporter.retry", "backoff", KT_OPT_DURATION, "1s", OFF(backoff_ms), NULL, 0, "Backoff."},
    {"kafka", "client_id", KT_OPT_STRING, "kotel-test", OFF(client_id), NULL, 0, "Client."},
    {"kafka", "rdkafka", KT_OPT_PREFIX, NULL, OFF(props), NULL, 0, "Passthrough."},
};

static int policy_load(void *conf, const char *name, const char *key, const char *value,
                       struct kt_err *err)
{
    struct tconf *c = conf;
    if (strcmp(key, "threshold") == 0) {
        char *end = NULL;
        strtod(value, &end);
        if (*value == '\0' || *end != '\0')
            return kt_err_set(err, KT_EINVAL, "[policy.%s] %s: want a number", name, key);
    } else if (strcmp(key, "kind") != 0) {
        return kt_err_set(err, KT_EINVAL, "[policy.%s] %s: unknown key", name, key);
    }
    if (c->n_pol == MAX_POLICIES)
        return kt_err_set(err, KT_ETOOBIG, "too many policies");
    struct policy_kv *p = &c->pol[c->n_pol++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->key, sizeof(p->key), "%s", key);
    snprintf(p->value, sizeof(p->value), "%s", value);
    return 0;
}

static const struct kt_section_handler test_handlers[] = {
    {"policy.", policy_load},
};

static const struct kt_config_schema schema = {
    .program = "kotel-test",
    .version = "9.9.9",
    .summary = "kt_config unit test schema",
    .opts = test_options,
    .n_opts = sizeof(test_options) / sizeof(test_options[0]),
    .handlers = test_handlers,
    .n_handlers = 1,
};

/* ---- helpers ---- */

/* Writes text to a new temporary file; its name goes to path (at least 64 bytes). */
static void write_tmp(char *path, const char *text)
{
    test_tmpfile_write(path, 64, "kt_config_test", text, strlen(text));
}

/* Loads with the required token supplied first, so tests need not repeat it. */
static int load(struct tconf *c, const char *path, const char *const *sets, size_t n_sets,
                struct kt_err *err)
{
    const char *all[16];
    assert_true(n_sets < 16);
    all[0] = "auth.token=tok";
    for (size_t i = 0; i < n_sets; i++)
        all[i + 1] = sets[i];
    return kt_config_load(&schema, c, path, all, n_sets + 1, err);
}

/* Loads text from a temporary file; expects success. */
static void load_text_ok(struct tconf *c, const char *text)
{
    char path[64];
    struct kt_err err = {0, ""};
    write_tmp(path, text);
    int rc = load(c, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
}

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

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

struct cli_result {
    int rc;
    char *out;
    char *err;
};

/* Runs kt_cli_run with stdout and stderr sent to temporary files. */
static struct cli_result run_cli(struct tconf *c, int argc, const char **argv)
{
    char out_path[64], err_path[64];
    write_tmp(out_path, "");
    write_tmp(err_path, "");
    int out_fd = open(out_path, O_WRONLY), err_fd = open(err_path, O_WRONLY);
    assert_true(out_fd >= 0 && err_fd >= 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    struct cli_result r;
    r.rc = kt_cli_run(&schema, c, argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    close(out_fd);
    close(err_fd);
    r.out = read_all(out_path);
    r.err = read_all(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

static void cli_result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
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

/* ---- printing ---- */

static char *print_to_string(const struct tconf *c)
{
    char path[64];
    write_tmp(path, "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    kt_config_print(&schema, c, f);
    fclose(f);
    char *text = read_all(path);
    unlink(path);
    return text;
}

static void test_print_then_reload_round_trips(void **state)
{
    (void)state;
    struct tconf a = {0}, b = {0};
    load_text_ok(&a, "[main]\n"
                     "name = \"  lead; $HOME $${x} $$$$ \"\n"
                     "count = 18446744073709551615\n"
                     "ratio = 0.1\n"
                     "enabled = no\n"
                     "timeout = 90500ms\n"
                     "max_bytes = 1000000\n"
                     "color = blue\n"
                     "hosts = h1:1, h2:2, h3:3\n"
                     "[exporter.retry]\n"
                     "backoff = 2h\n"
                     "[kafka]\n"
                     "client_id = \"\"quoted\"\"\n"
                     "rdkafka.linger.ms = 5\n"
                     "rdkafka.debug = broker,topic\n");
    assert_string_equal(a.name, "  lead; $HOME ${x} $$ ");
    char *text = print_to_string(&a);
    char path[64];
    write_tmp(path, text);
    struct kt_err err = {0, ""};
    int rc = kt_config_load(&schema, &b, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("reload failed: %s\n%s", err.msg, text);
    assert_string_equal(b.name, a.name);
    assert_true(b.count == a.count);
    assert_true(b.ratio == a.ratio);
    assert_int_equal(b.enabled, a.enabled);
    assert_int_equal(b.timeout_ms, a.timeout_ms);
    assert_int_equal(b.max_bytes, a.max_bytes);
    assert_int_equal(b.color, a.color);
    assert_int_equal(b.hosts.n, a.hosts.n);
    for (size_t i = 0; i < a.hosts.n; i++)
        assert_string_equal(b.hosts.v[i], a.hosts.v[i]);
    assert_null(b.password);
    assert_string_equal(b.token, a.token);
    assert_int_equal(b.max_attempts, a.max_attempts);
    assert_int_equal(b.backoff_ms, a.backoff_ms);
    assert_string_equal(b.client_id, "\"quoted\"");
    assert_int_equal(b.props.n, a.props.n);
    for (size_t i = 0; i < a.props.n; i++)
        assert_string_equal(b.props.v[i], a.props.v[i]);
    /* Human units, and an unset string as a comment rather than an empty value. */
    assert_non_null(strstr(text, "timeout = 90500ms\n"));
    assert_non_null(strstr(text, "backoff = 2h\n"));
    assert_non_null(strstr(text, "max_bytes = 1MB\n"));
    assert_non_null(strstr(text, "# password = (not set)\n"));
    assert_non_null(strstr(text, "[exporter.retry]\n"));
    free(text);
    kt_config_free(&schema, &a);
    kt_config_free(&schema, &b);
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[auth]\npassword = hunter2\n"
                     "[kafka]\nrdkafka.sasl.password = s3cret\nrdkafka.linger.ms = 5\n");
    char *text = print_to_string(&c);
    assert_non_null(strstr(text, "password = ****\n"));
    assert_non_null(strstr(text, "rdkafka.sasl.password = ****\n"));
    assert_non_null(strstr(text, "rdkafka.linger.ms = 5\n"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    kt_config_free(&schema, &c);
}

static void test_secret_values_stay_out_of_error_messages(void **state)
{
    (void)state;
    static const struct kt_option opts[] = {
        {"db", "pin", KT_OPT_UINT, "0", 0, NULL, KT_OPT_SECRET, "A secret number."},
    };
    static const struct kt_config_schema s = {"p", "1", "", opts, 1, NULL, 0, NULL};
    uint64_t pin = 0;
    struct kt_err err = {0, ""};
    const char *sets[] = {"db.pin=12ab34"};
    assert_int_equal(kt_config_load(&s, &pin, NULL, sets, 1, &err), KT_EINVAL);
    assert_string_equal(err.msg, "--set db.pin: invalid value (not shown: the option is secret)");
}

/* ---- the command line ---- */

static void test_cli_check_prints_ok_and_exits_0(void **state)
{
    (void)state;
    char path[64], want[128];
    write_tmp(path, "[auth]\ntoken = t\n");
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "-c", path, "--check", NULL};
    struct cli_result r = run_cli(&c, 4, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    snprintf(want, sizeof(want), "%s: configuration OK\n", path);
    assert_string_equal(r.out, want);
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_check_reports_errors_on_stderr_and_exits_2(void **state)
{
    (void)state;
    char path[64], want[256];
    write_tmp(path, "[auth]\ntoken = t\n[main]\ncuont = 1\n");
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--config", path, "--check", NULL};
    struct cli_result r = run_cli(&c, 4, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    snprintf(want, sizeof(want),
             "kotel-test: %s:4: [main] cuont: unknown key (did you mean count?)\n", path);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_print_config_masks_secrets_and_exits_0(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test",     "--set", "auth.token=t", "--set=auth.password=pw",
                          "--print-config", NULL};
    struct cli_result r = run_cli(&c, 5, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "[auth]\npassword = ****\ntoken = t\n"));
    assert_null(strstr(r.out, "pw\n"));
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_help_lists_every_option(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--help", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "Usage: kotel-test [-c FILE]"));
    for (size_t i = 0; i < schema.n_opts; i++)
        assert_non_null(strstr(r.out, test_options[i].doc));
    assert_non_null(strstr(r.out, "[exporter.retry]\n  max_attempts = 5  (integer)\n"));
    assert_non_null(strstr(r.out, "  color = red  (one of red|green|blue)\n"));
    assert_non_null(strstr(r.out, "  token  (string, required; no default)\n"));
    assert_non_null(strstr(r.out, "  rdkafka.<name> = value  (passthrough)\n"));
    cli_result_free(&r);

    const char *argv_h[] = {"kotel-test", "-h", NULL};
    r = run_cli(&c, 2, argv_h);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    cli_result_free(&r);
}

static void test_cli_version_prints_program_and_version(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "-V", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_string_equal(r.out, "kotel-test 9.9.9\n");
    cli_result_free(&r);
    const char *argv_long[] = {"kotel-test", "--version", NULL};
    r = run_cli(&c, 2, argv_long);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_string_equal(r.out, "kotel-test 9.9.9\n");
    cli_result_free(&r);
}

static void test_cli_bad_flags_are_usage_errors(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--bogus", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: unknown option '--bogus'\n"));
    assert_non_null(strstr(r.err, "Usage: kotel-test"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);

    const char *argv_c[] = {"kotel-test", "-c", NULL};
    r = run_cli(&c, 2, argv_c);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: a FILE must follow '-c'\n"));
    cli_result_free(&r);

    const char *argv_pos[] = {"kotel-test", "stray", NULL};
    r = run_cli(&c, 2, argv_pos);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: unexpected argument 'stray'\n"));
    cli_result_free(&r);

    const char *argv_set[] = {"kotel-test", "--set", "auth.token=t", "--set", "main.cout=1", NULL};
    r = run_cli(&c, 5, argv_set);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_string_equal(r.err, "kotel-test: --set main.cout: unknown key (did you mean count?)\n");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_loads_config_and_returns_run(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, "[auth]\ntoken = t\n[main]\ncount = 1\nname = file\n");
    struct tconf c = {0};
    char carg[80];
    snprintf(carg, sizeof(carg), "--config=%s", path);
    const char *argv[] = {"kotel-test", carg, "--set", "main.count=3", "--set=main.name=z", NULL};
    struct cli_result r = run_cli(&c, 5, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.name, "z");
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);

    /* Without -c: defaults plus overrides. */
    const char *argv_def[] = {"kotel-test", "--set", "auth.token=t", NULL};
    r = run_cli(&c, 3, argv_def);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_int_equal(c.count, 8192);
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uint_accepts_decimal_and_rejects_junk),
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
        cmocka_unit_test(test_print_then_reload_round_trips),
        cmocka_unit_test(test_print_masks_secrets),
        cmocka_unit_test(test_secret_values_stay_out_of_error_messages),
        cmocka_unit_test(test_cli_check_prints_ok_and_exits_0),
        cmocka_unit_test(test_cli_check_reports_errors_on_stderr_and_exits_2),
        cmocka_unit_test(test_cli_print_config_masks_secrets_and_exits_0),
        cmocka_unit_test(test_cli_help_lists_every_option),
        cmocka_unit_test(test_cli_version_prints_program_and_version),
        cmocka_unit_test(test_cli_bad_flags_are_usage_errors),
        cmocka_unit_test(test_cli_loads_config_and_returns_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
