/* ottl_funcs_str.c: the string, conversion and ID converters and the glob editors, run as
 * conditions on literals and as statements on one span rebuilt for every test. */
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

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

static Span span;

static void add_str(const char *key, const char *s)
{
    kv_add(&span.attributes, &span.n_attributes, key, any_str(s));
}

static void add_int(const char *key, int64_t i)
{
    kv_add(&span.attributes, &span.n_attributes, key, any_int(i));
}

static const AnyValue *attr(const char *key)
{
    const KeyValue *kv = kv_find(span.attributes, span.n_attributes, key);
    return kv != NULL ? kv->value : NULL;
}

static const char *attr_str(const char *key)
{
    const AnyValue *v = attr(key);
    if (v == NULL ||
        v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
        fail_msg("attribute %s is no string", key);
    return v->string_value;
}

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    span = sp;
    span.name = "GET /api/Orders";
    add_str("u", "ÉCOLE straße");
    add_str("secret", "my secret");
    add_str("public", "public");
    add_int("n", 42);
    struct ottl_tctx t = {.arena = &arena, .span = &span};
    tc = t;
    return 0;
}

static void test_lower_upper_map_unicode(void **state)
{
    (void)state;
    assert_true(cond("ToLowerCase(span.attributes[\"u\"]) == \"école straße\""));
    assert_true(cond("ToUpperCase(span.attributes[\"u\"]) == \"ÉCOLE STRAßE\""));
    assert_true(cond("ToUpperCase(target = span.name) == \"GET /API/ORDERS\""));
    assert_true(cond("ToLowerCase(\"\") == \"\""));
    assert_true(cond("ConvertCase(\"AbC\", \"lower\") == \"abc\""));
    assert_true(cond("ConvertCase(\"AbC\", \"upper\") == \"ABC\""));
}

static void test_snake_and_camel_follow_strcase(void **state)
{
    (void)state;
    assert_true(cond("ToSnakeCase(\"someHTTPName\") == \"some_http_name\""));
    assert_true(cond("ToSnakeCase(\" Hello World-x.y \") == \"hello_world_x_y\""));
    assert_true(cond("ToSnakeCase(\"v2Alpha1\") == \"v_2_alpha_1\""));
    assert_true(cond("ToSnakeCase(\"ID\") == \"id\""));
    assert_true(cond("ToCamelCase(\"some_http_name\") == \"SomeHttpName\""));
    assert_true(cond("ToCamelCase(\"ABC_def9ghi\") == \"AbcDef9Ghi\""));
    /* bytes that are no ASCII letter or digit are dropped, as strcase does */
    assert_true(cond("ToCamelCase(\"héllo wörld\") == \"HlloWrld\""));
    assert_true(cond("ConvertCase(\"fooBar\", \"snake\") == \"foo_bar\""));
    assert_true(cond("ConvertCase(\"foo_bar\", \"camel\") == \"FooBar\""));
}

static void test_trim_and_affixes(void **state)
{
    (void)state;
    assert_true(cond("Trim(\"  x y  \") == \"x y\""));
    assert_true(cond("Trim(\"\\t x \") == \"\\t x\""));
    assert_true(cond("Trim(\"--==x==--\", \"-=\") == \"x\""));
    assert_true(cond("Trim(target = \"ééxé\", replacement = \"é\") == \"x\""));
    assert_true(cond("Trim(\"abc\", \"\") == \"abc\""));
    assert_true(cond("TrimPrefix(span.name, \"GET \") == \"/api/Orders\""));
    assert_true(cond("TrimPrefix(span.name, \"POST\") == span.name"));
    assert_true(cond("TrimSuffix(span.name, \"Orders\") == \"GET /api/\""));
    assert_true(cond("TrimSuffix(\"xx\", \"xxx\") == \"xx\""));
    assert_string_equal(cond_err("Trim(span.attributes[\"n\"]) == \"\""),
                        "Trim: argument 1 must be a string, got int");
    assert_string_equal(cond_err("TrimPrefix(span.name, span.attributes[\"none\"]) == \"\""),
                        "TrimPrefix: argument 2 must be a string, got nil");
}

static void test_split_gives_a_string_list(void **state)
{
    (void)state;
    stmt("set(span.attributes[\"parts\"], Split(span.name, \"/\"))");
    const AnyValue *v = attr("parts");
    assert_non_null(v);
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    assert_int_equal(v->array_value->n_values, 3);
    assert_string_equal(v->array_value->values[0]->string_value, "GET ");
    assert_string_equal(v->array_value->values[2]->string_value, "Orders");
    assert_true(cond("Len(Split(\"a,,b,\", \",\")) == 4"));
    assert_true(cond("Len(Split(\"héllo\", \"\")) == 5"));
    assert_true(cond("Len(Split(\"\", \"\")) == 0"));
    assert_true(cond("Len(Split(\"\", \",\")) == 1"));
}

static void test_index_of_strings_and_lists(void **state)
{
    (void)state;
    assert_true(cond("Index(span.name, \"/\") == 4"));
    assert_true(cond("Index(span.name, \"x\") == -1"));
    assert_true(cond("Index(\"héllo\", \"l\") == 3"));
    assert_true(cond("Index(\"abc\", \"\") == 0"));
    assert_true(cond("Index([\"a\", 2, 1.5], 2.0) == 1"));
    assert_true(cond("Index([\"a\", 2, 1.5], \"b\") == -1"));
    stmt("set(span.attributes[\"l\"], [\"x\", 7, true])");
    assert_true(cond("Index(span.attributes[\"l\"], true) == 2"));
    assert_string_equal(cond_err("Index(span.name, 1) == 0"),
                        "Index: the value must be a string, got int");
    assert_string_equal(cond_err("Index(span.attributes[\"n\"], 4) == 0"),
                        "Index: the target must be a string or a list, got int");
}

static void test_double_parses_as_go(void **state)
{
    (void)state;
    assert_true(cond("Double(\"1.5\") == 1.5"));
    assert_true(cond("Double(\"-1e3\") == -1000"));
    assert_true(cond("Double(\"0x1p-2\") == 0.25"));
    assert_true(cond("Double(\"1_000.5\") == 1000.5"));
    assert_true(cond("Double(span.attributes[\"n\"]) == 42.0"));
    assert_true(cond("Double(true) == 1.0"));
    assert_true(cond("Double(span.attributes[\"none\"]) == nil"));
    stmt("set(span.attributes[\"s\"], \"1_\")");
    assert_string_equal(cond_err("Double(span.attributes[\"s\"]) == 1"),
                        "Double: \"1_\" is not a number");
    stmt("set(span.attributes[\"s\"], \"1e400\")");
    cond_err("Double(span.attributes[\"s\"]) == 1");
    stmt("set(span.attributes[\"s\"], \" 1\")");
    cond_err("Double(span.attributes[\"s\"]) == 1");
    stmt("set(span.attributes[\"s\"], \"0x10\")");
    cond_err("Double(span.attributes[\"s\"]) == 1");
}

static void test_bool_and_hex_convert(void **state)
{
    (void)state;
    assert_true(cond("Bool(\"T\")"));
    assert_false(cond("Bool(\"0\")"));
    assert_true(cond("Bool(span.attributes[\"n\"])"));
    assert_false(cond("Bool(0.0)"));
    assert_true(cond("Bool(span.attributes[\"none\"]) == nil"));
    stmt("set(span.attributes[\"s\"], \"yes\")");
    assert_string_equal(cond_err("Bool(span.attributes[\"s\"])"), "Bool: \"yes\" is not a bool");
    assert_true(cond("Hex(\"hi\") == \"6869\""));
    assert_true(cond("Hex(span.attributes[\"n\"]) == \"000000000000002a\""));
    assert_true(cond("Hex(-1) == \"ffffffffffffffff\""));
    assert_true(cond("Hex(1.0) == \"3ff0000000000000\""));
    assert_true(cond("Hex(true) == \"01\""));
    assert_true(cond("Hex(span.attributes[\"none\"]) == \"\""));
}

static void test_ids_from_bytes_or_hex(void **state)
{
    (void)state;
    /* typed IDs, equal to an ID of their kind only; Hex takes none (as the Collector's) */
    assert_true(cond("SpanID(\"abcdefgh\") == SpanID(\"6162636465666768\")"));
    assert_true(cond("TraceID(\"0102030405060708090A0B0C0D0E0F10\") == "
                     "TraceID(\"0102030405060708090a0b0c0d0e0f10\")"));
    assert_false(cond("SpanID(\"0102030405060708\") == \"0102030405060708\""));
    cond_err("Hex(SpanID(\"0102030405060708\")) == \"0102030405060708\"");
    stmt("set(span.attributes[\"s\"], \"abc\")");
    assert_string_equal(cond_err("SpanID(span.attributes[\"s\"]) == nil"),
                        "SpanID: expected 8 bytes or 16 hex digits, got 3");
}

static void test_uuid_is_random_v4(void **state)
{
    (void)state;
    assert_true(cond("IsMatch(UUID(), \"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                     "[0-9a-f]{12}$\")"));
    assert_true(cond("UUID() != UUID()"));
}

static void test_decode(void **state)
{
    (void)state;
    assert_true(cond("Decode(\"aGVsbG8=\", \"base64\") == \"hello\""));
    assert_true(cond("Decode(\"aGVsbG8\", \"base64-raw\") == \"hello\""));
    assert_true(cond("Decode(\"P3g_\", \"base64-url\") == \"?x?\""));
    assert_true(cond("Decode(\"P3g_\", \"base64-raw-url\") == \"?x?\""));
    assert_true(cond("Decode(\"aG\\nk=\\r\\n\", \"base64\") == \"hi\""));
    assert_true(cond("Decode(\"abcd\", \"UTF-16\") == \"扡摣\""));
    assert_true(cond("Decode(\"\\u00e9\", \"iso-8859-1\") == \"Ã©\""));
    assert_true(cond("Decode(\"x\", \"nop\") == \"x\""));
    assert_string_equal(cond_err("Decode(\"aGk\", \"base64\") == \"\""),
                        "Decode: illegal base64 data at input byte 3");
    cond_err("Decode(\"aGk=\", \"base64-raw\") == \"\"");
    cond_err("Decode(\"P3g_\", \"base64\") == \"\"");
    cond_err("Decode(\" aGk=\", \"base64\") == \"\"");
    assert_string_equal(cond_err("Decode(span.attributes[\"n\"], \"base64\") == \"\""),
                        "Decode: cannot decode a int");
}

static void test_replace_match_globs(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *subject;
        bool match;
    } cases[] = {
        {"GET /api/*", "GET /api/Orders", true},
        {"user-??", "user-42", true},
        {"user-?", "user-42", false},
        {"[a-c]*", "cat", true},
        {"[!a-c]*", "cat", false},
        {"[xyz]", "y", true},
        {"{foo,bar}.log", "bar.log", true},
        {"{a{b,c},d}z", "acz", true},
        {"{a{b,c},d}z", "adz", false},
        {"x\\\\*y", "x*y", true},
        {"x\\\\*y", "xzy", false},
        {"a*b*c", "aXbYbZc", true},
        {"a,b}", "a,b}", true},
        {"*", "", true},
        {"h?llo", "héllo", true},
        {"{a,b", "b", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char src[256];
        add_str("t", cases[i].subject);
        snprintf(src, sizeof(src), "replace_match(span.attributes[\"t\"], \"%s\", \"HIT\")",
                 cases[i].pattern);
        stmt(src);
        const char *got = attr_str("t");
        if ((strcmp(got, "HIT") == 0) != cases[i].match)
            fail_msg("glob %s on %s: got %s", cases[i].pattern, cases[i].subject, got);
        span.n_attributes--;
    }
}

static void test_replace_match_function_and_format(void **state)
{
    (void)state;
    stmt("replace_match(span.name, \"GET*\", \"x\", SHA256, \"id=%s\")");
    assert_string_equal(span.name,
                        "id=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    stmt("replace_match(span.attributes[\"u\"], \"*\", \"x\", SHA256)");
    assert_string_equal(attr_str("u"),
                        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    struct ottl_statement *s;
    struct kt_err err = {0};
    assert_int_equal(
        ottl_statement_parse("replace_match(span.name, \"*\", \"x\", SHA256, \"%d\")", &s, &err),
        0);
    assert_int_equal(ottl_statement_exec(s, &tc, &err), KT_EINVAL);
    ottl_statement_free(s);
    assert_string_equal(err.msg, "replace_match: replacement_format must hold a %s and no other "
                                 "format specifier");
}

static void test_replace_all_matches_only_string_values(void **state)
{
    (void)state;
    stmt("replace_all_matches(span.attributes, \"*secret*\", \"***\")");
    assert_string_equal(attr_str("secret"), "***");
    assert_string_equal(attr_str("public"), "public");
    assert_int_equal(attr("n")->int_value, 42);
}

static void test_glob_backtracking_is_bounded(void **state)
{
    (void)state;
    char s[200];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    add_str("long", s);
    struct ottl_statement *st;
    struct kt_err err = {0};
    assert_int_equal(ottl_statement_parse("replace_match(span.attributes[\"long\"], "
                                          "\"*a*a*a*a*a*a*b\", \"x\")",
                                          &st, &err),
                     0);
    assert_int_equal(ottl_statement_exec(st, &tc, &err), KT_EINVAL);
    ottl_statement_free(st);
    assert_non_null(strstr(err.msg, "needs too many steps"));
}

static void test_literals_refused_at_parse_time(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("set(span.name, ToLowerCase(1))"), "must be a string"));
    assert_non_null(strstr(parse_err("set(span.name, Split([\"a\"], \",\"))"), "must be a string"));
    assert_non_null(strstr(parse_err("set(span.name, Double(\"abc\"))"), "is not a number"));
    assert_non_null(strstr(parse_err("set(span.name, Bool(\"yes\"))"), "is not a bool"));
    assert_non_null(strstr(parse_err("set(span.name, SpanID(\"0102\"))"), "expected 8 bytes"));
    assert_non_null(
        strstr(parse_err("set(span.name, ConvertCase(span.name, \"title\"))"), "invalid case"));
    assert_non_null(strstr(parse_err("set(span.name, Decode(span.name, \"windows-1252\"))"),
                           "unsupported encoding"));
    assert_non_null(
        strstr(parse_err("replace_match(span.name, \"[a\", \"x\")"), "invalid glob pattern"));
    assert_non_null(strstr(parse_err("replace_all_matches(span.attributes, \"[z-a]\", \"x\")"),
                           "should be greater"));
    assert_non_null(
        strstr(parse_err("replace_match(span.name, \"[]\", \"x\")"), "could not parse range"));
}

static void test_format_prints_as_go(void **state)
{
    (void)state;
    assert_true(cond("Format(\"%s took %d ms\", [span.name, span.attributes[\"n\"]]) == "
                     "\"GET /api/Orders took 42 ms\""));
    assert_true(cond("Format(\"%v %v %v %v\", [1000000.0, 123456.0, 0.00001, 2.5]) == "
                     "\"1e+06 123456 1e-05 2.5\""));
    assert_true(cond("Format(\"%.2f|%8.3f|%-6.1f|%e\", [3.14159, 3.14159, 2.0, 1234.5]) == "
                     "\"3.14|   3.142|2.0   |1.234500e+03\""));
    assert_true(cond("Format(\"%x %X %o %b %#x %05d %+d\", [255, 255, 8, 5, 255, -42, 7]) == "
                     "\"ff FF 10 101 0xff -0042 +7\""));
    assert_true(cond("Format(\"%q|%x|%.2s|%5s\", [\"a\\\"b\", \"hi\", \"héllo\", \"x\"]) == "
                     "\"\\\"a\\\\\\\"b\\\"|6869|hé|    x\""));
    assert_true(cond("Format(\"%t %v %d %s\", [true, nil, \"s\", 5]) == "
                     "\"true <nil> %!d(string=s) %!s(int64=5)\""));
    assert_true(cond("Format(\"%s %s\", [\"one\"]) == \"one %!s(MISSING)\""));
    assert_true(cond("Format(\"%s\", [\"one\", 2, nil]) == \"one%!(EXTRA int64=2, <nil>)\""));
    assert_true(cond("Format(\"100%% %\", []) == \"100% %!(NOVERB)\""));
    assert_string_equal(cond_err("Format(\"%v\", [span.attributes]) == \"\""),
                        "Format: cannot format a map");
    assert_non_null(strstr(parse_err("set(span.name, Format(span.name, []))"), "string literal"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lower_upper_map_unicode),
        T(test_snake_and_camel_follow_strcase),
        T(test_trim_and_affixes),
        T(test_split_gives_a_string_list),
        T(test_index_of_strings_and_lists),
        T(test_double_parses_as_go),
        T(test_bool_and_hex_convert),
        T(test_ids_from_bytes_or_hex),
        T(test_uuid_is_random_v4),
        T(test_decode),
        T(test_replace_match_globs),
        T(test_replace_match_function_and_format),
        T(test_replace_all_matches_only_string_values),
        T(test_glob_backtracking_is_bounded),
        T(test_literals_refused_at_parse_time),
        T(test_format_prints_as_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
