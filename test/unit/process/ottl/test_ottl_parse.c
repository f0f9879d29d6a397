/* ottl parser: what parses, the context inferred, and the exact error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../../process/ottl/ottl.h"

static enum ottl_context cond_ctx(const char *src)
{
    struct ottl_condition *c;
    struct kt_err err = {0};
    if (ottl_condition_parse(src, &c, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    assert_string_equal(ottl_condition_source(c), src);
    enum ottl_context ctx = ottl_condition_context(c);
    ottl_condition_free(c);
    return ctx;
}

static enum ottl_context stmt_ctx(const char *src)
{
    struct ottl_statement *s;
    struct kt_err err = {0};
    if (ottl_statement_parse(src, &s, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    assert_string_equal(ottl_statement_source(s), src);
    enum ottl_context ctx = ottl_statement_context(s);
    ottl_statement_free(s);
    return ctx;
}

static ottl_fields cond_fields(const char *src)
{
    struct ottl_condition *c;
    struct kt_err err = {0};
    if (ottl_condition_parse(src, &c, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    ottl_fields f = ottl_condition_fields(c);
    ottl_condition_free(c);
    return f;
}

static ottl_fields stmt_fields(const char *src)
{
    struct ottl_statement *s;
    struct kt_err err = {0};
    if (ottl_statement_parse(src, &s, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    ottl_fields f = ottl_statement_fields(s);
    ottl_statement_free(s);
    return f;
}

#define F(id) OTTL_FIELD(OTTL_P_##id)

static const char *cond_err(const char *src)
{
    static struct kt_err err;
    struct ottl_condition *c = (struct ottl_condition *)&err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(ottl_condition_parse(src, &c, &err), KT_EINVAL);
    assert_null(c);
    return err.msg;
}

static const char *stmt_err(const char *src)
{
    static struct kt_err err;
    struct ottl_statement *s = (struct ottl_statement *)&err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(ottl_statement_parse(src, &s, &err), KT_EINVAL);
    assert_null(s);
    return err.msg;
}

static void test_contexts(void **state)
{
    (void)state;
    assert_int_equal(cond_ctx("resource.attributes[\"a\"] == \"b\""), OTTL_CTX_RESOURCE);
    assert_int_equal(cond_ctx("scope.name == \"x\" and resource.attributes[\"a\"] == nil"),
                     OTTL_CTX_SCOPE);
    assert_int_equal(cond_ctx("span.name == \"x\" and resource.attributes[\"a\"] == \"b\""),
                     OTTL_CTX_SPAN);
    assert_int_equal(cond_ctx("spanevent.name == \"x\" and span.name == \"y\""),
                     OTTL_CTX_SPANEVENT);
    assert_int_equal(cond_ctx("metric.name == \"x\""), OTTL_CTX_METRIC);
    assert_int_equal(cond_ctx("datapoint.value_int > 1 and metric.type == 1"), OTTL_CTX_DATAPOINT);
    assert_int_equal(cond_ctx("log.severity_number < 9"), OTTL_CTX_LOG);
    assert_int_equal(cond_ctx("IsRootSpan()"), OTTL_CTX_SPAN);
    assert_int_equal(cond_ctx("true"), OTTL_CTX_RESOURCE);
    assert_int_equal(stmt_ctx("set(log.body, \"x\") where resource.attributes[\"a\"] == nil"),
                     OTTL_CTX_LOG);
    assert_int_equal(stmt_ctx("set(resource.attributes[\"a\"], span.name)"), OTTL_CTX_SPAN);
    assert_int_equal(stmt_ctx("delete_key(resource.attributes, \"x\")"), OTTL_CTX_RESOURCE);
}

static void test_valid_forms(void **state)
{
    (void)state;
    cond_ctx("(span.name == \"a\") or not (span.kind != 1 and span.kind >= 0)");
    cond_ctx("span.attributes[\"x\"] == -3 or span.attributes[\"y\"] <= -0.5e1");
    cond_ctx("IsMatch(Concat([span.name, String(span.kind)], \"-\"), \"^a\")");
    cond_ctx("Len(span.attributes) > 3 and Int(\"1\") == 1 and SHA256(span.name) != \"\"");
    cond_ctx("  span.name\t==\n\"x\"  ");
    stmt_ctx("keep_keys(span.attributes, [\"a\", \"b\"])");
    stmt_ctx("keep_matching_keys(span.attributes, \"^a\")");
    stmt_ctx("delete_matching_keys(span.attributes, \"(?i).*password.*\")");
    stmt_ctx("replace_pattern(span.name, \"a(b)\", \"$1\")");
    stmt_ctx("replace_all_patterns(span.attributes, \"value\", \"a\", \"b\")");
    stmt_ctx("replace_all_patterns(span.attributes, \"key\", \"a\", \"b\")");
    stmt_ctx("truncate_all(log.attributes, 100)");
    stmt_ctx("limit(resource.attributes, 2, [\"a\", \"b\"])");
    stmt_ctx("limit(resource.attributes, 0, [])");
    stmt_ctx("delete_key(span.attributes[\"nested\"], \"x\")");
    stmt_ctx("set(log.body[\"k\"], 1)");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_string_equal(cond_err("span.name == "),
                        "column 14: expected a value after '==', got end of input in "
                        "'span.name == '");
    assert_string_equal(cond_err("span.name == \"a\" \"b\""),
                        "column 18: expected 'and', 'or' or end of input, got string \"b\" in "
                        "'span.name == \"a\" \"b\"'");
    assert_string_equal(cond_err("(span.name == \"a\""),
                        "column 18: expected ')', got end of input in '(span.name == \"a\"'");
    assert_string_equal(cond_err(""), "column 1: expected an expression, got end of input in ''");
    assert_string_equal(cond_err("span.name = \"a\""),
                        "column 11: expected a comparison operator, got '=' (equality is "
                        "written '==') in 'span.name = \"a\"'");
    assert_string_equal(cond_err("span.name"),
                        "column 1: expected a condition (a comparison, true, false or a "
                        "converter such as IsMatch), got a path alone in 'span.name'");
    assert_string_equal(cond_err("1 < 2 < 3"),
                        "column 7: comparisons do not chain; join them with 'and' in "
                        "'1 < 2 < 3'");
    assert_string_equal(cond_err("span.name == and"),
                        "column 14: expected a value, got identifier 'and' in "
                        "'span.name == and'");
    assert_string_equal(cond_err("span.kind == SPAN_KIND_SERVERR"),
                        "column 14: unknown enum 'SPAN_KIND_SERVERR' in "
                        "'span.kind == SPAN_KIND_SERVERR'");
    assert_string_equal(cond_err("span.name == \"a\" where true"),
                        "column 18: 'where' belongs in statements, not conditions in "
                        "'span.name == \"a\" where true'");
    assert_string_equal(cond_err("span.name == [1, 2"),
                        "column 19: expected ',' or ']', got end of input in "
                        "'span.name == [1, 2'");
    assert_string_equal(cond_err("- == 1"), "column 3: expected a value, got '==' in '- == 1'");
    char deep[400];
    memset(deep, '(', 100);
    strcpy(deep + 100, "true");
    assert_non_null(strstr(cond_err(deep), "nested deeper than 64"));
    char nots[600] = "";
    for (int i = 0; i < 100; i++)
        strcat(nots, "not ");
    strcat(nots, "true");
    assert_non_null(strstr(cond_err(nots), "nested deeper than 64"));
}

static void test_parse_in_context(void **state)
{
    (void)state;
    struct ottl_statement *s;
    struct ottl_condition *c;
    struct kt_err err = {0};
    assert_int_equal(ottl_statement_parse_in("set(attributes[\"a\"], name) where kind == 2",
                                             OTTL_CTX_SPAN, &s, &err),
                     0);
    assert_int_equal(ottl_statement_context(s), OTTL_CTX_SPAN);
    assert_int_equal(ottl_statement_fields(s), F(SPAN_ATTRS) | F(SPAN_NAME) | F(SPAN_KIND));
    ottl_statement_free(s);
    /* prefixed paths keep their own context */
    assert_int_equal(
        ottl_condition_parse_in("resource.attributes[\"a\"] == body", OTTL_CTX_LOG, &c, &err), 0);
    assert_int_equal(ottl_condition_fields(c), F(RESOURCE_ATTRS) | F(LOG_BODY));
    ottl_condition_free(c);
    /* outside a context a bare path is unknown */
    assert_string_equal(cond_err("name == \"a\""),
                        "column 1: unknown path 'name' (paths start with resource., scope., "
                        "span., spanevent., metric., datapoint. or log.) in 'name == \"a\"'");
}

static void test_arithmetic_forms(void **state)
{
    (void)state;
    cond_ctx("span.end_time_unix_nano - span.start_time_unix_nano > 1000");
    cond_ctx("(span.attributes[\"a\"] + 1) * 2 == -(3 / 1.5)");
    cond_ctx("((1 + 2)) == 3 and (span.kind == 2 or false)");
    cond_ctx("Len(span.name) * 2 + Int(\"1\") >= -span.attributes[\"n\"]");
    stmt_ctx("set(span.attributes[\"ms\"], (span.end_time_unix_nano - span.start_time_unix_nano) / "
             "1000000)");
    assert_string_equal(stmt_err("set(span.attributes[\"a\"], \"x\" + 1)"),
                        "column 31: '+' takes numbers, paths, converters or (...), not a string "
                        "in 'set(span.attributes[\"a\"], \"x\" + 1)'");
    assert_string_equal(cond_err("1 + true == 2"),
                        "column 5: '+' takes numbers, paths, converters or (...), not a bool in "
                        "'1 + true == 2'");
    assert_string_equal(cond_err("-\"a\" == 1"),
                        "column 1: '-' takes a number, a path, a converter or (...) in "
                        "'-\"a\" == 1'");
    assert_string_equal(cond_err("span.kind + 1"),
                        "column 1: expected a condition (a comparison, true, false or a "
                        "converter such as IsMatch), got arithmetic alone in 'span.kind + 1'");
    assert_string_equal(cond_err("(1 + 1) and true"),
                        "column 2: expected a condition (a comparison, true, false or a "
                        "converter such as IsMatch), got arithmetic alone in '(1 + 1) and "
                        "true'");
    assert_string_equal(cond_err("(1 == 1) + 1 == 2"),
                        "column 10: '+' takes numbers, paths, converters or (...), not a "
                        "condition in '(1 == 1) + 1 == 2'");
    /* deep parentheses are parsed once, not tried two ways at each level */
    char deep[200];
    memset(deep, '(', 60);
    strcpy(deep + 60, "1");
    memset(deep + 61, ')', 60);
    strcpy(deep + 121, " == 1");
    cond_ctx(deep);
}

static void test_path_errors(void **state)
{
    (void)state;
    assert_string_equal(cond_err("span.nam == \"a\""),
                        "column 1: unknown path 'span.nam' (valid: span.name, span.kind, "
                        "span.status.code, span.status.message, span.attributes, "
                        "span.trace_id.string, span.span_id.string, "
                        "span.parent_span_id.string, span.start_time_unix_nano, "
                        "span.end_time_unix_nano, span.start_time, span.end_time, ...) in "
                        "'span.nam == \"a\"'");
    assert_string_equal(cond_err("attributes[\"a\"] == 1"),
                        "column 1: unknown path 'attributes' (paths start with resource., "
                        "scope., span., spanevent., metric., datapoint. or log.) in "
                        "'attributes[\"a\"] == 1'");
    assert_string_equal(cond_err("span.name[\"a\"] == 1"),
                        "column 10: span.name is not a map and takes no [\"key\"] in "
                        "'span.name[\"a\"] == 1'");
    assert_string_equal(cond_err("span.attributes[1] == 1"),
                        "column 17: expected a string key, got number 1 in "
                        "'span.attributes[1] == 1'");
    cond_ctx("span.attributes[\"a\"][\"b\"][0] == 1");
    stmt_ctx("set(log.body[\"a\"][2][\"c\"], 1)");
    assert_string_equal(cond_err("span.attributes[\"a\"][true] == 1"),
                        "column 22: expected a string key or an array index, got identifier "
                        "'true' in 'span.attributes[\"a\"][true] == 1'");
    assert_string_equal(cond_err("span.attributes[\"a\"][0 == 1"),
                        "column 24: expected ']', got '==' in 'span.attributes[\"a\"][0 == 1'");
    assert_string_equal(cond_err("span.name == \"a\" and log.body == \"b\""),
                        "cannot mix span and log paths in one expression in "
                        "'span.name == \"a\" and log.body == \"b\"'");
    assert_string_equal(cond_err("metric.name == \"a\" and spanevent.name == \"b\""),
                        "cannot mix spanevent and metric paths in one expression in "
                        "'metric.name == \"a\" and spanevent.name == \"b\"'");
    assert_string_equal(stmt_err("set(metric.type, 1)"),
                        "column 5: metric.type cannot be set in 'set(metric.type, 1)'");
    assert_string_equal(stmt_err("set(span.attributes, 1)"),
                        "column 5: set: a whole map cannot be set; name a key, "
                        "span.attributes[\"key\"] in 'set(span.attributes, 1)'");
}

static void test_function_errors(void **state)
{
    (void)state;
    /* a typo gets the nearest name, of either kind and ignoring case */
    assert_string_equal(cond_err("IsMach(span.name, \"a\")"),
                        "column 1: unknown converter 'IsMach' (did you mean IsMatch?) in "
                        "'IsMach(span.name, \"a\")'");
    assert_string_equal(stmt_err("sett(span.name, \"a\")"),
                        "column 1: unknown editor 'sett' (did you mean set?) in "
                        "'sett(span.name, \"a\")'");
    assert_string_equal(cond_err("sha256(span.name) == \"a\""),
                        "column 1: unknown editor 'sha256' (did you mean SHA256?) in "
                        "'sha256(span.name) == \"a\"'");
    /* with nothing near, the list names whole functions, as many as fit, then says there are
     * more */
    const char *msg = cond_err("Frobnicate(span.name, \"a\")");
    const char *head = "column 1: unknown converter 'Frobnicate' (valid: ";
    assert_int_equal(strncmp(msg, head, strlen(head)), 0);
    assert_non_null(strstr(msg, ", IsInCIDR, "));
    assert_null(strstr(msg, "delete_key"));
    assert_non_null(strstr(msg, ", ...) in 'Frobnicate(span.name, \"a\")'"));
    assert_string_equal(stmt_err("frobnicate(span.name, \"a\")"),
                        "column 1: unknown editor 'frobnicate' (valid: append, delete_index, "
                        "delete_key, delete_matching_keys, flatten, keep_keys, keep_matching_keys, "
                        "limit, merge_maps, replace_all_matches, replace_all_patterns, "
                        "replace_match, replace_pattern, set, truncate_all, ...) in "
                        "'frobnicate(span.name, \"a\")'");
    assert_string_equal(cond_err("IsMatch(span.name)"),
                        "column 1: IsMatch takes 2 arguments (target, pattern), got 1 in "
                        "'IsMatch(span.name)'");
    assert_string_equal(cond_err("IsRootSpan(1)"),
                        "column 1: IsRootSpan takes 0 arguments (), got 1 in 'IsRootSpan(1)'");
    assert_string_equal(cond_err("IsMatch(span.name, span.name)"),
                        "column 20: IsMatch: argument 2 must be a regex string literal in "
                        "'IsMatch(span.name, span.name)'");
    assert_string_equal(cond_err("IsMatch(span.name, \"(a\")"),
                        "column 20: IsMatch: invalid regex \"(a\": missing closing parenthesis "
                        "at offset 2 in 'IsMatch(span.name, \"(a\")'");
    assert_string_equal(cond_err("IsMatch(span.name, \"a\" \"b\")"),
                        "column 24: expected ',' or ')', got string \"b\" in "
                        "'IsMatch(span.name, \"a\" \"b\")'");
    assert_string_equal(cond_err("set(span.name, \"a\")"),
                        "column 1: set is an editor; conditions use converters in "
                        "'set(span.name, \"a\")'");
    assert_string_equal(cond_err("Len(set(span.name, \"a\")) == 1"),
                        "column 5: set is an editor and cannot be used as a value in "
                        "'Len(set(span.name, \"a\")) == 1'");
    assert_string_equal(stmt_err("IsMatch(span.name, \"a\")"),
                        "column 1: IsMatch is a converter; a statement starts with an editor "
                        "(append, delete_index, delete_key, delete_matching_keys, flatten, "
                        "keep_keys, keep_matching_keys, limit, merge_maps, replace_all_matches, "
                        "replace_all_patterns, replace_match, "
                        "replace_pattern, set, truncate_all, ...) in "
                        "'IsMatch(span.name, \"a\")'");
    assert_string_equal(stmt_err("span.name == \"a\""),
                        "column 1: expected an editor call such as set(...), got identifier "
                        "'span' in 'span.name == \"a\"'");
    assert_string_equal(stmt_err("set(span.name, \"a\") when true"),
                        "column 21: expected 'where' or end of input, got identifier 'when' in "
                        "'set(span.name, \"a\") when true'");
    assert_string_equal(stmt_err("set(span.name, \"a\") where span.name"),
                        "column 27: expected a condition (a comparison, true, false or a "
                        "converter such as IsMatch), got a path alone in "
                        "'set(span.name, \"a\") where span.name'");
    assert_string_equal(stmt_err("set(\"x\", \"a\")"),
                        "column 5: set: argument 1 must be a path that can be set in "
                        "'set(\"x\", \"a\")'");
    assert_string_equal(stmt_err("delete_key(span.name, \"a\")"),
                        "column 12: delete_key: argument 1 must be a map path such as "
                        "span.attributes in 'delete_key(span.name, \"a\")'");
    assert_string_equal(stmt_err("keep_keys(span.attributes, [\"a\", 1])"),
                        "column 28: keep_keys: argument 2 must be a list of string literals in "
                        "'keep_keys(span.attributes, [\"a\", 1])'");
    assert_string_equal(stmt_err("truncate_all(span.attributes, -1)"),
                        "column 31: truncate_all: limit must not be negative in "
                        "'truncate_all(span.attributes, -1)'");
    assert_string_equal(stmt_err("truncate_all(span.attributes, \"1\")"),
                        "column 31: truncate_all: argument 2 must be an integer literal in "
                        "'truncate_all(span.attributes, \"1\")'");
    assert_string_equal(stmt_err("limit(span.attributes, 1, [\"a\", \"b\"])"),
                        "column 27: limit: 2 priority keys do not fit in a limit of 1 in "
                        "'limit(span.attributes, 1, [\"a\", \"b\"])'");
    assert_string_equal(stmt_err("replace_all_patterns(span.attributes, \"keys\", \"a\", \"b\")"),
                        "column 39: replace_all_patterns: mode must be \"key\" or \"value\", "
                        "got \"keys\" in "
                        "'replace_all_patterns(span.attributes, \"keys\", \"a\", \"b\")'");
    stmt_ctx("set(target=span.name, value=\"a\")");
    stmt_ctx("set(value=\"a\", target=span.name)");
    stmt_ctx("set(span.name, value=Concat(vals=[\"a\"], delimiter=\"\"))");
    stmt_ctx("limit(span.attributes, priority_keys=[\"a\"], limit=2)");
    assert_string_equal(stmt_err("set(target=span.name, \"a\")"),
                        "column 23: set: a positional argument after a named one in "
                        "'set(target=span.name, \"a\")'");
    assert_string_equal(stmt_err("set(span.name, valu=\"a\")"),
                        "column 16: set has no argument 'valu' (its arguments: target, value) "
                        "in 'set(span.name, valu=\"a\")'");
    assert_string_equal(stmt_err("set(target=span.name, target=span.name)"),
                        "column 23: set: argument 'target' given twice in "
                        "'set(target=span.name, target=span.name)'");
    assert_string_equal(stmt_err("set(value=\"a\")"),
                        "column 1: set takes 2 arguments (target, value), got 1 in "
                        "'set(value=\"a\")'");
    assert_string_equal(stmt_err("set(span.name, \"a\", \"b\")"),
                        "column 1: set takes 2 arguments (target, value), got 3 in "
                        "'set(span.name, \"a\", \"b\")'");
    assert_string_equal(cond_err("Concat(span.name, \"\") == \"\""),
                        "column 8: Concat: argument 1 must be a list such as [a, b] in "
                        "'Concat(span.name, \"\") == \"\"'");
}

static void test_condition_fields(void **state)
{
    (void)state;
    /* Literals, enums and converters over literals read nothing. */
    assert_int_equal(cond_fields("true"), 0);
    assert_int_equal(cond_fields("1 == 1 and not (\"a\" != nil or false)"), 0);
    assert_int_equal(cond_fields("Len(Concat([\"a\", \"b\"], \"-\")) > STATUS_CODE_ERROR"), 0);

    assert_int_equal(cond_fields("span.name == \"x\""), F(SPAN_NAME));
    assert_int_equal(cond_fields("STATUS_CODE_ERROR == span.status.code"), F(SPAN_STATUS_CODE));
    assert_int_equal(cond_fields("span.kind == 2 or not (span.start_time_unix_nano > "
                                 "span.end_time_unix_nano)"),
                     F(SPAN_KIND) | F(SPAN_START) | F(SPAN_END));
    /* Converter arguments, however deep, and list items. */
    assert_int_equal(cond_fields("IsMatch(String(Len(span.status.message)), \"^1\")"),
                     F(SPAN_STATUS_MESSAGE));
    assert_int_equal(cond_fields("Concat([span.trace_id.string, \"/\", [span.span_id.string]], "
                                 "\"\") != \"\""),
                     F(SPAN_TRACE_ID) | F(SPAN_SPAN_ID));
    /* A keyed path reads its map. */
    assert_int_equal(cond_fields("span.attributes[\"http.route\"] == nil and "
                                 "resource.attributes[\"service.name\"] == \"api\""),
                     F(SPAN_ATTRS) | F(RESOURCE_ATTRS));
    assert_int_equal(cond_fields("spanevent.name == \"exception\" and spanevent.time_unix_nano > "
                                 "0 and Len(spanevent.attributes) > 0"),
                     F(SPANEVENT_NAME) | F(SPANEVENT_TIME) | F(SPANEVENT_ATTRS));
    assert_int_equal(cond_fields("scope.name == \"a\" or scope.version == \"1\" or "
                                 "scope.attributes[\"x\"] != nil"),
                     F(SCOPE_NAME) | F(SCOPE_VERSION) | F(SCOPE_ATTRS));
    /* IsRootSpan() names no path but reads the parent span ID. */
    assert_int_equal(cond_fields("IsRootSpan()"), F(SPAN_PARENT_ID));
    assert_int_equal(cond_fields("not IsRootSpan() and span.name == \"x\""),
                     F(SPAN_PARENT_ID) | F(SPAN_NAME));
    assert_int_equal(cond_fields("datapoint.value_int > 1 and metric.type == 1"),
                     F(DATAPOINT_VALUE_INT) | F(METRIC_TYPE));
    assert_int_equal(cond_fields("log.severity_number < 9 and IsMatch(log.body, \"x\")"),
                     F(LOG_SEVERITY_NUMBER) | F(LOG_BODY));
}

static void test_statement_fields(void **state)
{
    (void)state;
    /* The target counts: editors may read what they write (replace_pattern, limit). */
    assert_int_equal(stmt_fields("set(span.name, \"x\")"), F(SPAN_NAME));
    assert_int_equal(stmt_fields("set(span.name, \"x\") where 1 == 1"), F(SPAN_NAME));
    assert_int_equal(stmt_fields("keep_keys(span.attributes, [\"a\", \"b\"])"), F(SPAN_ATTRS));
    assert_int_equal(
        stmt_fields("set(span.attributes[\"svc\"], resource.attributes[\"service.name\"])"),
        F(SPAN_ATTRS) | F(RESOURCE_ATTRS));
    assert_int_equal(stmt_fields("replace_pattern(span.name, \"/[0-9]+\", \"/{id}\") where "
                                 "span.kind == SPAN_KIND_SERVER"),
                     F(SPAN_NAME) | F(SPAN_KIND));
    /* Only the where clause reads the span. */
    assert_int_equal(stmt_fields("delete_key(resource.attributes, \"x\") where IsRootSpan()"),
                     F(RESOURCE_ATTRS) | F(SPAN_PARENT_ID));
    assert_int_equal(stmt_fields("set(log.body, Concat([log.severity_text, "
                                 "String(log.severity_number)], \" \"))"),
                     F(LOG_BODY) | F(LOG_SEVERITY_TEXT) | F(LOG_SEVERITY_NUMBER));
    assert_int_equal(stmt_fields("set(spanevent.attributes[\"of\"], span.name) where "
                                 "spanevent.name == \"e\" and scope.version != nil"),
                     F(SPANEVENT_ATTRS) | F(SPAN_NAME) | F(SPANEVENT_NAME) | F(SCOPE_VERSION));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contexts),         cmocka_unit_test(test_valid_forms),
        cmocka_unit_test(test_syntax_errors),    cmocka_unit_test(test_arithmetic_forms),
        cmocka_unit_test(test_parse_in_context), cmocka_unit_test(test_path_errors),
        cmocka_unit_test(test_function_errors),  cmocka_unit_test(test_condition_fields),
        cmocka_unit_test(test_statement_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
