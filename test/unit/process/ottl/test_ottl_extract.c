/* The extraction, network and parsing converters of process/ottl/ottl_funcs_extract.c, run
 * on a log record rebuilt for every test (its body the input). Results are read back as JSON
 * through String(), which renders maps in their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"
#include "ottl_eval_fixture.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

static LogRecord logrec;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    LogRecord l = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    logrec = l;
    logrec.body = any_str("");
    struct ottl_tctx t = {.arena = &arena, .log = &logrec};
    tc = t;
    return 0;
}

/* The JSON of what expr gives with body as the log body. */
static const char *on(const char *body, const char *expr)
{
    char src[1024];
    logrec.body = any_str(body);
    snprintf(src, sizeof(src), "set(log.attributes[\"__json\"], String(%s))", expr);
    stmt(src);
    for (size_t i = 0; i < logrec.n_attributes; i++)
        if (strcmp(logrec.attributes[i]->key, "__json") == 0)
            return logrec.attributes[i]->value->string_value;
    fail_msg("no result for %s", expr);
    return NULL;
}

/* The message of the evaluation error expr gives with body as the log body. */
static const char *err_on(const char *body, const char *expr)
{
    char src[1024];
    logrec.body = any_str(body);
    snprintf(src, sizeof(src), "set(log.attributes[\"x\"], %s)", expr);
    return stmt_err(src);
}

static void test_extract_patterns_gives_named_groups(void **state)
{
    (void)state;
    assert_string_equal(
        on("user=alice id=42",
           "ExtractPatterns(log.body, \"user=(?P<user>[a-z]+) id=(?P<id>[0-9]+)\")"),
        "{\"id\":\"42\",\"user\":\"alice\"}");
    /* an unnamed group is left out, a named one that took no part is "" */
    assert_string_equal(on("ab", "ExtractPatterns(log.body, \"(a)(?P<x>z)?(?<y>b)\")"),
                        "{\"x\":\"\",\"y\":\"b\"}");
    assert_string_equal(on("nothing", "ExtractPatterns(log.body, \"(?P<d>[0-9]+)\")"), "{}");
    /* checked when run, as the Collector does */
    assert_non_null(strstr(err_on("a", "ExtractPatterns(log.body, \"(a)\")"),
                           "at least 1 named capture group"));
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractPatterns(log.body, "
                                     "\"(?P<a>\"))"),
                           "invalid regex"));
    assert_non_null(strstr(err_on("", "ExtractPatterns(log.attributes[\"no\"], \"(?P<a>.)\")"),
                           "must be a string, got nil"));
}

static void test_grok_expands_builtin_patterns(void **state)
{
    (void)state;
    const char *line = "10.1.2.3 GET /index.html?a=1 512 0.25 true";
    assert_string_equal(on(line, "ExtractGrokPatterns(log.body, \"%{IP:client} %{WORD:method} "
                                 "%{URIPATHPARAM:request} %{INT:bytes:int} %{NUMBER:secs:float} "
                                 "%{WORD:ok:bool}\", true)"),
                        "{\"bytes\":512,\"client\":\"10.1.2.3\",\"method\":\"GET\",\"ok\":true,"
                        "\"request\":\"/index.html?a=1\",\"secs\":0.25}");
    /* without namedCapturesOnly every reference captures, under its pattern's name */
    assert_string_equal(on("10.1.2.3 x", "ExtractGrokPatterns(log.body, \"%{IP:client} %{WORD}\")"),
                        "{\"IPV4\":\"10.1.2.3\",\"WORD\":\"x\",\"client\":\"10.1.2.3\"}");
    assert_string_equal(on("none", "ExtractGrokPatterns(log.body, \"%{INT:n}\")"), "{}");
    assert_string_equal(
        on("2024-05-06T07:08:09.123Z ERROR disk full",
           "ExtractGrokPatterns(log.body, \"%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} "
           "%{GREEDYDATA:msg}\", namedCapturesOnly = true)"),
        "{\"level\":\"ERROR\",\"msg\":\"disk full\",\"ts\":\"2024-05-06T07:08:09.123Z\"}");
    assert_string_equal(
        on("127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326",
           "ExtractGrokPatterns(log.body, \"%{COMMONAPACHELOG}\", true)"),
        "{\"http.request.method\":\"GET\",\"http.response.body.size\":2326,\"http.response.status_"
        "code\":200,\"http.version\":\"1.0\",\"source.address\":\"127.0.0.1\",\"timestamp\":\"10/"
        "Oct/2000:13:55:36 -0700\",\"url.original\":\"/a.gif\",\"user.name\":\"frank\"}");
}

static void test_grok_pattern_definitions_and_errors(void **state)
{
    (void)state;
    assert_string_equal(on("id-42", "ExtractGrokPatterns(log.body, \"%{MYID:id}\", true, "
                                    "[\"MYID=id-%{NUM}\", \"NUM=[0-9]+\"])"),
                        "{\"id\":\"id-42\"}");
    /* a definition overrides a built-in */
    assert_string_equal(
        on("abc", "ExtractGrokPatterns(log.body, \"%{WORD:w}\", true, [\"WORD=b\"])"),
        "{\"w\":\"b\"}");
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, "
                                     "\"%{NOPE:x}\"))"),
                           "pattern definition \"NOPE\" unknown"));
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, "
                                     "\"%{WORD}\", true, [\"NOEQUALS\"])"),
                           "expecting PATTERNNAME=pattern definition"));
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, "
                                     "\"%{WORD}\", true, [\"A:B=x\"])"),
                           "should not contain ':'"));
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, "
                                     "\"%{WORD}\", true)"),
                           "at least 1 named capture group"));
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, "
                                     "\"%{A:x}\", true, [\"A=%{A}\"])"),
                           "nest more than"));
    assert_non_null(
        strstr(err_on("x1", "ExtractGrokPatterns(log.body, \"%{NOTSPACE:n:int}\")"), "convert"));
}

static void test_is_in_cidr(void **state)
{
    (void)state;
    assert_string_equal(on("10.1.2.3", "IsInCIDR(log.body, [\"192.168.0.0/16\", \"10.0.0.0/8\"])"),
                        "true");
    assert_string_equal(on("11.1.2.3", "IsInCIDR(log.body, [\"10.0.0.0/8\"])"), "false");
    assert_string_equal(on("2001:db8::1", "IsInCIDR(log.body, [\"2001:db8::/32\"])"), "true");
    assert_string_equal(on("2001:db9::1", "IsInCIDR(log.body, [\"2001:db8::/32\"])"), "false");
    /* IPv4-mapped IPv6 addresses are IPv4; IPv6 networks hold no IPv4 address */
    assert_string_equal(on("::ffff:10.0.0.1", "IsInCIDR(log.body, [\"10.0.0.0/8\"])"), "true");
    assert_string_equal(on("10.0.0.1", "IsInCIDR(log.body, [\"::/0\"])"), "false");
    assert_string_equal(on("not an ip", "IsInCIDR(log.body, [\"0.0.0.0/0\"])"), "false");
    assert_string_equal(on("01.2.3.4", "IsInCIDR(log.body, [\"0.0.0.0/0\"])"), "false");
    assert_non_null(strstr(parse_err("set(log.attributes[\"x\"], IsInCIDR(log.body, "
                                     "[\"10.0.0.0/33\"]))"),
                           "invalid CIDR address"));
    assert_non_null(strstr(err_on("1.2.3.4", "IsInCIDR(log.body, [log.attributes[\"n\"]])"),
                           "must be strings"));
}

static void test_url_parts(void **state)
{
    (void)state;
    assert_string_equal(
        on("https://user:pw@Example.com:8443/a/b.tar.gz?x=1&y=2#frag", "URL(log.body)"),
        "{\"url.domain\":\"Example.com\",\"url.extension\":\"gz\",\"url.fragment\":\"frag\",\"url."
        "original\":\"https://user:pw@Example.com:8443/a/"
        "b.tar.gz?x=1\\u0026y=2#frag\",\"url.password\":\"pw\",\"url.path\":\"/a/"
        "b.tar.gz\",\"url.port\":8443,\"url.query\":\"x=1\\u0026y=2\",\"url.scheme\":\"https\","
        "\"url.user_info\":\"user:pw\",\"url.username\":\"user\"}");
    /* decoded path, re-escaped original, IPv6 host */
    assert_string_equal(on("HTTP://[::1]/a%20b c", "URL(log.body)"),
                        "{\"url.domain\":\"::1\",\"url.original\":\"http://[::1]/"
                        "a%20b%20c\",\"url.path\":\"/a b c\",\"url.scheme\":\"http\"}");
    assert_string_equal(on("mailto:joe@example.com", "URL(log.body)"),
                        "{\"url.domain\":\"\",\"url.original\":\"mailto:joe@example.com\",\"url."
                        "path\":\"\",\"url.scheme\":\"mailto\"}");
    /* a bare '?' stays in url.original, an empty fragment does not */
    assert_string_equal(on("http://h/p?#", "URL(log.body)"),
                        "{\"url.domain\":\"h\",\"url.original\":\"http://h/p?\",\"url.path\":\"/"
                        "p\",\"url.scheme\":\"http\"}");
    assert_string_equal(on("http:", "URL(log.body)"),
                        "{\"url.domain\":\"\",\"url.original\":\"http:\",\"url.path\":\"\",\"url."
                        "scheme\":\"http\"}");
    assert_string_equal(on("?a=1&b=x+y&a=2", "URL(log.body)"),
                        "{\"query\":{\"a\":[\"1\",\"2\"],\"b\":[\"x y\"]}}");
    assert_string_equal(err_on("", "URL(log.body)"), "URL: url cannot be empty");
    assert_non_null(strstr(err_on("http://x/%zz", "URL(log.body)"), "invalid URL escape"));
    assert_non_null(strstr(err_on("http://x:8a/", "URL(log.body)"), "invalid port"));
    assert_non_null(strstr(err_on("1a:b/c", "URL(log.body)"), "first path segment"));
    assert_non_null(strstr(err_on(":x", "URL(log.body)"), "missing protocol scheme"));
    assert_non_null(strstr(err_on("?a=1;b=2", "URL(log.body)"), "semicolon"));
}

static void test_user_agent(void **state)
{
    (void)state;
    assert_string_equal(
        on("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.6099.130 Safari/537.36",
           "UserAgent(log.body)"),
        "{\"os.name\":\"Windows\",\"os.version\":\"10\",\"user_agent.name\":\"Chrome\",\"user_"
        "agent.original\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/120.0.6099.130 Safari/537.36\",\"user_agent.version\":\"120.0.6099\"}");
    assert_string_equal(on("curl/8.4.0", "UserAgent(log.body)"),
                        "{\"os.name\":\"Other\",\"user_agent.name\":\"curl\",\"user_agent."
                        "original\":\"curl/8.4.0\",\"user_agent.version\":\"8.4.0\"}");
    assert_string_equal(on("something", "UserAgent(log.body)"),
                        "{\"os.name\":\"Other\",\"user_agent.name\":\"Other\",\"user_agent."
                        "original\":\"something\",\"user_agent.version\":\"\"}");
}

static void test_log(void **state)
{
    (void)state;
    assert_string_equal(on("", "Log(1)"), "0");
    assert_string_equal(on("", "Log(\"1\")"), "0");
    assert_string_equal(err_on("", "Log(0)"),
                        "Log: invalid input: expected number greater than zero but got 0");
    assert_string_equal(err_on("", "Log(log.attributes[\"no\"])"), "Log: invalid input: <nil>");
    assert_non_null(strstr(err_on("", "Log(\"x\")"), "Log: "));
}

static void test_parse_severity(void **state)
{
    (void)state;
    const char *map = "{\"error\": [{\"range\": \"5xx\"}, {\"equals\": [\"ERR\", \"E\"]}], "
                      "\"info\": [{\"range\": {\"min\": 200, \"max\": 299}}]}";
    char expr[400];
    snprintf(expr, sizeof(expr), "ParseSeverity(log.attributes[\"v\"], %s)", map);
    stmt("set(log.attributes[\"v\"], 503)");
    assert_string_equal(on("", expr), "error");
    stmt("set(log.attributes[\"v\"], 204)");
    assert_string_equal(on("", expr), "info");
    stmt("set(log.attributes[\"v\"], \"E\")");
    assert_string_equal(on("", expr), "error");
    stmt("set(log.attributes[\"v\"], 404)");
    assert_non_null(strstr(err_on("", expr), "no matching log level found for value '404'"));
    stmt("set(log.attributes[\"v\"], 1.5)");
    assert_non_null(strstr(err_on("", expr), "unsupported value type"));
    assert_non_null(strstr(err_on("", "ParseSeverity(1, {\"e\": [{\"range\": \"6xx\"}]})"),
                           "unknown range placeholder"));
    assert_non_null(
        strstr(err_on("", "ParseSeverity(1, {\"e\": [1]})"), "items must be map[string]any"));
    assert_non_null(strstr(err_on("", "ParseSeverity(1, {\"e\": {}})"), "must be []any"));
    assert_non_null(strstr(err_on("", "ParseSeverity(1, log.attributes)"), "literal PMap"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_extract_patterns_gives_named_groups),
        T(test_grok_expands_builtin_patterns),
        T(test_grok_pattern_definitions_and_errors),
        T(test_is_in_cidr),
        T(test_url_parts),
        T(test_user_agent),
        T(test_log),
        T(test_parse_severity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
