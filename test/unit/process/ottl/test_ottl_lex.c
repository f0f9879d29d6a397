/* ottl lexer: token kinds and positions, string escapes, numbers, and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl_int.h"

static struct kt_arena arena;

static int setup(void **state)
{
    (void)state;
    kt_arena_init(&arena, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_arena_free(&arena);
    return 0;
}

static void test_tokens(void **state)
{
    (void)state;
    struct ottl_token *t;
    size_t n;
    struct kt_err err = {0};
    const char *src = "span.attributes[\"k\"] == 12 and x != -1.5 (a, b) <= < >= > = e";
    assert_int_equal(ottl_lex(src, &arena, &t, &n, &err), 0);
    enum ottl_tok want[] = {
        OTTL_T_IDENT,  OTTL_T_DOT,   OTTL_T_IDENT,  OTTL_T_LBRACK, OTTL_T_STRING,
        OTTL_T_RBRACK, OTTL_T_EQ,    OTTL_T_INT,    OTTL_T_IDENT,  OTTL_T_IDENT,
        OTTL_T_NE,     OTTL_T_MINUS, OTTL_T_FLOAT,  OTTL_T_LPAREN, OTTL_T_IDENT,
        OTTL_T_COMMA,  OTTL_T_IDENT, OTTL_T_RPAREN, OTTL_T_LE,     OTTL_T_LT,
        OTTL_T_GE,     OTTL_T_GT,    OTTL_T_ASSIGN, OTTL_T_IDENT,  OTTL_T_EOF};
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i].kind, want[i]);
    assert_int_equal(t[2].pos, 5);
    assert_int_equal(t[2].n, 10);
    assert_memory_equal(t[2].s, "attributes", 10);
    assert_string_equal(t[4].s, "k");
    assert_int_equal(t[7].i, 12);
    assert_true(t[12].d == 1.5);
    assert_int_equal(t[n - 1].pos, strlen(src));
}

static void test_strings(void **state)
{
    (void)state;
    struct ottl_token *t;
    size_t n;
    struct kt_err err = {0};
    assert_int_equal(ottl_lex("\"a\\\"b\\\\c\\n\\t\\x41\\u00e9\\U0001F600\"", &arena, &t, &n, &err),
                     0);
    assert_int_equal(t[0].kind, OTTL_T_STRING);
    assert_string_equal(t[0].s, "a\"b\\c\n\tA\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(ottl_lex("\"\"", &arena, &t, &n, &err), 0);
    assert_int_equal(t[0].n, 0);
    assert_int_equal(ottl_lex("\"^\\\\d+$\"", &arena, &t, &n, &err), 0);
    assert_string_equal(t[0].s, "^\\d+$");
}

static void test_numbers(void **state)
{
    (void)state;
    struct ottl_token *t;
    size_t n;
    struct kt_err err = {0};
    assert_int_equal(ottl_lex("0 9223372036854775807 1e3 2.5E-1 3.", &arena, &t, &n, &err), 0);
    assert_int_equal(t[0].kind, OTTL_T_INT);
    assert_int_equal(t[1].i, INT64_MAX);
    assert_int_equal(t[2].kind, OTTL_T_FLOAT);
    assert_true(t[2].d == 1000.0);
    assert_true(t[3].d == 0.25);
    assert_int_equal(t[4].kind, OTTL_T_INT); /* "3." is 3 then '.' */
    assert_int_equal(t[5].kind, OTTL_T_DOT);
    assert_int_equal(ottl_lex("99999999999999999999", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 1: integer 99999999999999999999 out of range in "
                                 "'99999999999999999999'");
}

static void test_errors(void **state)
{
    (void)state;
    struct ottl_token *t;
    size_t n;
    struct kt_err err = {0};
    assert_int_equal(ottl_lex("span.name == \"abc", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 14: unterminated string in 'span.name == \"abc'");
    assert_int_equal(ottl_lex("\"\\d\"", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 2: unknown escape '\\d' in string (a regex backslash "
                                 "is written \\\\) in '\"\\d\"'");
    assert_int_equal(ottl_lex("a ! b", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 3: unexpected '!' (negation is written 'not') in 'a ! b'");
    assert_int_equal(ottl_lex("a # b", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 3: unexpected character '#' in 'a # b'");
    assert_int_equal(ottl_lex("\xff", &arena, &t, &n, &err), KT_EINVAL);
    assert_string_equal(err.msg, "column 1: unexpected byte 0xff in '\xff'");
    assert_int_equal(ottl_lex("\"\\x4\"", &arena, &t, &n, &err), KT_EINVAL);
    assert_int_equal(ottl_lex("\"\\ud800\"", &arena, &t, &n, &err), KT_EINVAL);
    assert_int_equal(ottl_lex("\"abc\\", &arena, &t, &n, &err), KT_EINVAL);
}

static void test_describe(void **state)
{
    (void)state;
    struct ottl_token *t;
    size_t n;
    struct kt_err err = {0};
    char buf[128];
    assert_int_equal(ottl_lex("foo \"bar\" 42 ==", &arena, &t, &n, &err), 0);
    ottl_tok_describe(&t[0], buf, sizeof(buf));
    assert_string_equal(buf, "identifier 'foo'");
    ottl_tok_describe(&t[1], buf, sizeof(buf));
    assert_string_equal(buf, "string \"bar\"");
    ottl_tok_describe(&t[2], buf, sizeof(buf));
    assert_string_equal(buf, "number 42");
    ottl_tok_describe(&t[3], buf, sizeof(buf));
    assert_string_equal(buf, "'=='");
    ottl_tok_describe(&t[4], buf, sizeof(buf));
    assert_string_equal(buf, "end of input");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tokens), T(test_strings), T(test_numbers), T(test_errors), T(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
